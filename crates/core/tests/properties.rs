//! Property tests: for random event sets, any permutation and duplication of
//! deliveries, and any partition into batches, the streaming ledger gives the
//! same rollups and KPIs as a straightforward batch recomputation written
//! independently here (no use of the core's incident or rollup code).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use chrono_tz::Asia::Shanghai;
use common::dev;
use liftwatch_core::incident::FaultRecord;
use liftwatch_core::kpi::{aggregate, KpiReport, Membership, Subject};
use liftwatch_core::ledger::Ledger;
use liftwatch_core::protocol::{Body, Cause, Event, FaultCode, Timestamp};
use liftwatch_core::rollup::DayRollup;
use liftwatch_core::window::Window;
use proptest::prelude::*;

const DAY_US: i64 = 86_400_000_000;
/// 2026-11-01T00:00:00+08:00.
const BASE: i64 = 1_793_462_400_000_000;
const CODES: [&str; 5] = ["door_open_fault", "power_failure", "brake_fault", "other", "E-77"];

/// A generated event: (device 0..3, seq, minute offset over ~10 days, kind…).
fn arb_event() -> impl Strategy<Value = Event> {
    let kind = prop_oneof![
        4 => Just(0u8), // run
        2 => Just(1u8), // fault
        2 => Just(2u8), // cleared
        1 => Just(3u8), // entrapment
        1 => Just(4u8), // arrived
        1 => Just(5u8), // heartbeat (ignored by KPIs)
    ];
    (
        0u32..3,
        0u64..40,
        0i64..(10 * 24 * 60),
        kind,
        0usize..4,
        0usize..5,
        any::<bool>(),
        proptest::option::of(0usize..4),
    )
        .prop_map(|(d, seq, minute, kind, id, code, stops, cause)| {
            let ts = Timestamp(BASE + minute * 60_000_000);
            let fid: Box<str> = format!("f{id}").into();
            let iid: Box<str> = format!("e{id}").into();
            let body = match kind {
                0 => Body::Run { end: Timestamp(ts.0 + 20_000_000), from: 0, to: 3, doors: None },
                1 => Body::Fault {
                    fault_id: fid,
                    code: FaultCode::parse(CODES[code]),
                    stops_service: stops,
                    cause: cause.map(|c| Cause::ALL[c]),
                },
                2 => Body::FaultCleared { fault_id: fid },
                3 => Body::Entrapment { incident_id: iid, fault_id: None },
                4 => Body::RescueArrived { incident_id: iid },
                _ => Body::Heartbeat { mode: liftwatch_core::protocol::Mode::Normal },
            };
            Event { device: dev(d), seq, ts, ts_offset: 8 * 3600, body }
        })
}

fn day(ts: Timestamp) -> NaiveDate {
    // Asia/Shanghai has been UTC+8 without DST since 1991.
    NaiveDate::from_ymd_opt(2026, 11, 1).unwrap() + chrono::Days::new(((ts.0 - BASE).div_euclid(DAY_US)) as u64)
}

/// The batch recomputation: dedupe by identity, then compute every day's
/// figures directly from the definitions of MISSION.md.
fn batch(events: &[Event]) -> BTreeMap<(String, NaiveDate), [i64; 12]> {
    let mut uniq: BTreeMap<(String, u64, i64), &Event> = BTreeMap::new();
    for e in events {
        uniq.entry((e.device.to_string(), e.seq, e.ts.0)).or_insert(e);
    }
    let evs: Vec<&Event> = uniq.into_values().collect();
    let mut out: BTreeMap<(String, NaiveDate), [i64; 12]> = BTreeMap::new();
    // [runs, faults, eq_faults, rep_eq, reclass, closed, downtime, open, entr, rescues, rescue_us, awaiting]
    for e in &evs {
        if let Body::Run { .. } = e.body {
            out.entry((e.device.to_string(), day(e.ts))).or_default()[0] += 1;
        }
    }
    let devices: BTreeSet<String> = evs.iter().map(|e| e.device.to_string()).collect();
    for d in &devices {
        let mine: Vec<&&Event> = evs.iter().filter(|e| e.device.to_string() == *d).collect();
        let fault_ids: BTreeSet<&str> = mine
            .iter()
            .filter_map(|e| match &e.body {
                Body::Fault { fault_id, .. } => Some(&**fault_id),
                _ => None,
            })
            .collect();
        for fid in fault_ids {
            // The earliest `fault` (by ts, then seq) is the occurrence's start.
            let start = mine
                .iter()
                .filter(|e| matches!(&e.body, Body::Fault { fault_id, .. } if &**fault_id == fid))
                .min_by_key(|e| (e.ts, e.seq))
                .unwrap();
            let Body::Fault { code, cause, .. } = &start.body else { unreachable!() };
            // A fault stops service if any of its reports says so.
            let stops_service = &mine
                .iter()
                .any(|e| matches!(&e.body, Body::Fault { fault_id, stops_service: true, .. } if &**fault_id == fid));
            let cause = cause.unwrap_or(match code.as_str() {
                "power_failure" => Cause::External,
                "door_open_fault" | "brake_fault" => Cause::Equipment,
                _ => Cause::Unknown,
            });
            let clear = mine
                .iter()
                .filter(|e| matches!(&e.body, Body::FaultCleared { fault_id } if &**fault_id == fid))
                .map(|e| e.ts)
                .filter(|&c| c >= start.ts) // one before the start never counts
                .min();
            let row = out.entry((d.clone(), day(start.ts))).or_default();
            row[1] += 1;
            if cause == Cause::Equipment {
                row[2] += 1;
                row[3] += 1;
                if *stops_service {
                    match clear {
                        Some(c) => {
                            row[5] += 1;
                            row[6] += (c.0 - start.ts.0).max(0);
                        }
                        None => row[7] += 1,
                    }
                }
            }
        }
        let inc_ids: BTreeSet<&str> = mine
            .iter()
            .filter_map(|e| match &e.body {
                Body::Entrapment { incident_id, .. } => Some(&**incident_id),
                _ => None,
            })
            .collect();
        for iid in inc_ids {
            let alarm = mine
                .iter()
                .filter(|e| matches!(&e.body, Body::Entrapment { incident_id, .. } if &**incident_id == iid))
                .min_by_key(|e| (e.ts, e.seq))
                .unwrap();
            let arr = mine
                .iter()
                .filter(|e| matches!(&e.body, Body::RescueArrived { incident_id } if &**incident_id == iid))
                .map(|e| e.ts)
                .filter(|&a| a >= alarm.ts) // one before the alarm never counts
                .min();
            let row = out.entry((d.clone(), day(alarm.ts))).or_default();
            row[8] += 1;
            match arr {
                Some(a) => {
                    row[9] += 1;
                    row[10] += (a.0 - alarm.ts.0).max(0);
                }
                None => row[11] += 1,
            }
        }
    }
    out.retain(|_, v| v.iter().any(|x| *x != 0));
    out
}

fn streamed(l: &Ledger) -> BTreeMap<(String, NaiveDate), [i64; 12]> {
    l.rows().map(|(d, day, r)| ((d.to_string(), day), r.scalars())).collect()
}

/// Deliveries: each event 1–3 times, shuffled by a permutation seed.
fn deliveries() -> impl Strategy<Value = (Vec<Event>, Vec<Event>)> {
    proptest::collection::vec((arb_event(), 1usize..4), 0..60).prop_flat_map(|mut evs| {
        // Identity is (device, seq, ts): two different bodies under one
        // identity are a box bug (the first stored wins), not a reordering.
        let mut ids = std::collections::HashSet::new();
        evs.retain(|(e, _)| ids.insert(e.id()));
        let base: Vec<Event> = evs.iter().map(|(e, _)| e.clone()).collect();
        let delivered: Vec<Event> = evs.iter().flat_map(|(e, n)| std::iter::repeat_n(e.clone(), *n)).collect();
        (Just(base), Just(delivered).prop_shuffle())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any permutation and duplication of deliveries gives the batch result.
    #[test]
    fn streaming_equals_batch((events, delivered) in deliveries()) {
        let mut l = Ledger::new(Shanghai);
        for e in &delivered {
            l.apply(e);
        }
        prop_assert_eq!(streamed(&l), batch(&events));
    }

    /// Two orders of the same deliveries give identical KPIs, for a project
    /// whose membership changes mid-window.
    #[test]
    fn kpis_do_not_depend_on_order((_events, delivered) in deliveries(), cut in 0usize..10) {
        let mut a = Ledger::new(Shanghai);
        let mut b = Ledger::new(Shanghai);
        for e in &delivered { a.apply(e); }
        for e in delivered.iter().rev() { b.apply(e); }
        let w = Window::range(NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(), NaiveDate::from_ymd_opt(2026, 11, 9).unwrap()).unwrap();
        let since = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap() + chrono::Days::new(cut as u64);
        let m = [
            Membership { device: dev(0), since: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), until: None },
            Membership { device: dev(1), since, until: None },
        ];
        let ka = { let g = aggregate(&w, &m, a.rows()); KpiReport::new(Subject::Project("p".into()), w, g.elevators, &g.totals, None) };
        let kb = { let g = aggregate(&w, &m, b.rows()); KpiReport::new(Subject::Project("p".into()), w, g.elevators, &g.totals, None) };
        prop_assert_eq!(ka, kb);
    }

    /// Partial incident records built by separate gateways merge into the
    /// record built from all events (join-semilattice), in any grouping.
    #[test]
    fn fault_records_merge_across_partitions((events, _) in deliveries(), parts in 1usize..4, salt in any::<u64>()) {
        let evs: Vec<&Event> = events.iter().filter(|e| e.device == dev(0) && matches!(&e.body,
            Body::Fault { fault_id, .. } | Body::FaultCleared { fault_id } if &**fault_id == "f0")).collect();
        let mut whole = FaultRecord::default();
        for e in &evs { whole.observe(e); }
        let mut partial = vec![FaultRecord::default(); parts];
        for (i, e) in evs.iter().enumerate() {
            partial[(i as u64 ^ salt) as usize % parts].observe(e);
        }
        let mut merged = FaultRecord::default();
        for p in partial.iter().rev() { merged.merge(p); }
        prop_assert_eq!(merged.start.as_ref().map(|s| (s.ts, s.seq)), whole.start.as_ref().map(|s| (s.ts, s.seq)));
        prop_assert_eq!(merged.cleared_at, whole.cleared_at);
        prop_assert_eq!(merged.contribution(Shanghai), whole.contribution(Shanghai));
    }

    /// Rollups of any partition of the runs sum to the rollups of the whole.
    #[test]
    fn run_rollups_are_additive_over_partitions((events, _) in deliveries(), parts in 1usize..5) {
        let runs: Vec<&Event> = events.iter().filter(|e| matches!(e.body, Body::Run { .. })).collect();
        let mut whole = Ledger::new(Shanghai);
        for e in &runs { whole.apply(e); }
        let mut ledgers = vec![Ledger::new(Shanghai); parts];
        let mut seen = std::collections::HashSet::new();
        for (i, e) in runs.iter().enumerate() {
            // The store's identity check happens before partitioning here.
            if seen.insert(e.id()) { ledgers[i % parts].apply(e); }
        }
        let mut sum: BTreeMap<_, DayRollup> = BTreeMap::new();
        for l in &ledgers {
            for (d, day, r) in l.rows() { *sum.entry((d, day)).or_default() += r; }
        }
        let whole_rows: BTreeMap<_, DayRollup> = whole.rows().map(|(d, day, r)| ((d, day), r.clone())).collect();
        prop_assert_eq!(sum, whole_rows);
    }
}
