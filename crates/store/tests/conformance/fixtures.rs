//! Fixtures of the conformance suite: device codes, deterministic event
//! streams, registration, and the comparison with the reference ledger.

use chrono_tz::Asia::Shanghai;
use liftwatch_core::completeness::{span_sums, Completeness, SpanSums};
use liftwatch_core::kpi::{aggregate, Commitment, KpiReport, Membership, Subject};
use liftwatch_core::ledger::Ledger;
use liftwatch_core::protocol::{parse_rfc3339, Body, Cause, Event, FaultCode, Mode, Timestamp};
use liftwatch_core::window::Window;
use liftwatch_store::Store;
pub use liftwatch_testkit::{day, dev, messages, now, register};

/// Deterministic pseudo-random events (xorshift), covering every incident path.
pub fn random_events(seed: u64, n: usize, devices: u32) -> Vec<Event> {
    let mut x = seed.max(1);
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let base = parse_rfc3339("2026-06-01T00:00:00+08:00").unwrap().0 .0;
    (0..n)
        .map(|i| {
            let d = dev((next() % devices as u64) as u32);
            let ts = Timestamp(base + (next() % (150 * 86_400)) as i64 * 1_000_000);
            let id: Box<str> = format!("i{}", next() % 8).into();
            let body = match next() % 10 {
                0..=4 => Body::Run { end: Timestamp(ts.0 + 25_000_000), from: 1, to: 4, doors: None },
                5 => Body::Fault {
                    fault_id: id,
                    code: FaultCode::parse(["02", "power_failure", "E9", "brake_fault"][(next() % 4) as usize]),
                    stops_service: next() % 2 == 0,
                    cause: if next() % 3 == 0 { Some(Cause::ALL[(next() % 4) as usize]) } else { None },
                },
                6 => Body::FaultCleared { fault_id: id },
                7 => Body::Entrapment { incident_id: id, fault_id: None },
                8 => Body::RescueArrived { incident_id: id },
                _ => Body::Heartbeat { mode: Mode::Normal },
            };
            Event { device: d, seq: i as u64, ts, ts_offset: 8 * 3600, body }
        })
        .collect()
}

pub fn ledger_of(events: &[Event]) -> Ledger {
    let mut l = Ledger::new(Shanghai);
    for e in events {
        l.apply(e);
    }
    l
}

/// The ledger's completeness of the spans in `w` (of `m` when given).
pub fn ledger_completeness(l: &Ledger, w: &Window, m: Option<&[Membership]>) -> Completeness {
    let readings = l.all_readings();
    let mut t = SpanSums::default();
    for v in span_sums(w, m, readings.iter().map(|(d, r)| (*d, r))).into_values() {
        t += v;
    }
    Completeness::new(t)
}

pub async fn assert_matches_ledger<S: Store>(s: &S, l: &Ledger, devices: u32) {
    let stored = s.rollup_rows().await.unwrap();
    let expected: Vec<_> = l.rows().map(|(d, day, r)| (d, day, r.clone())).collect();
    assert_eq!(stored, expected);
    assert_eq!(s.counter_readings().await.unwrap(), l.all_readings(), "counter readings and their spans");
    for n in 0..devices {
        assert_eq!(s.device_telemetry(dev(n)).await.unwrap(), l.telemetry(dev(n)), "telemetry of {}", dev(n));
    }
    let w = Window::rolling(day("2026-11-28")).unwrap();
    let m: Vec<Membership> =
        (0..devices).map(|n| Membership { device: dev(n), since: day("2026-01-01"), until: None }).collect();
    let agg = aggregate(&w, &m, l.rows());
    let c = Some(Commitment { fault_rate_per_10k: 5.0, downtime_minutes: 60.0, rescue_minutes: 20.0 });
    let mut want = KpiReport::new(Subject::Project("haibin".into()), w, agg.elevators, &agg.totals, c);
    want.completeness = ledger_completeness(l, &w, Some(&m));
    // Ages of what is still open, straight from the ledger's records.
    want.downtime.oldest_open_since = l
        .faults
        .values()
        .filter(|f| f.is_equipment_stoppage() && f.cleared_at.is_none())
        .filter_map(|f| f.start.as_ref().map(|s| s.ts))
        .filter(|t| w.contains(t.local_day(Shanghai)))
        .min();
    want.rescue.oldest_awaiting_since = l
        .entrapments
        .values()
        .filter(|e| e.arrived_at.is_none())
        .filter_map(|e| e.alarm.as_ref().map(|a| a.ts))
        .filter(|t| w.contains(t.local_day(Shanghai)))
        .min();
    assert_eq!(want.downtime.oldest_open_since.is_some(), want.downtime.open > 0);
    assert_eq!(s.project_kpis("haibin", w).await.unwrap().unwrap(), want);
}
