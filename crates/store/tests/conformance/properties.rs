//! The property every backend must have: any stream of events — duplicated,
//! reordered, in batches of any shape — interleaved with cause corrections
//! and arrivals reported over the API, gives the same rollups, KPIs,
//! counter readings (with the runs of each span), completeness and device
//! telemetry through the store as through the core's reference `Ledger`;
//! and, with the project's memberships changed between them (backdated
//! joins, ends, removals), the project's KPIs (read from the project sums)
//! follow the memberships as stored.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono_tz::Asia::Shanghai;
use liftwatch_core::kpi::{aggregate, KpiReport, Membership, Subject};
use liftwatch_core::ledger::Ledger;
use liftwatch_core::protocol::{parse_rfc3339, Body, Cause, DeviceCode, Event, FaultCode, Timestamp};
use liftwatch_core::registry::{ElevatorSpec, Firm, GradeLetter, ProjectMode, ProjectSpec};
use liftwatch_core::window::Window;
use liftwatch_store::prelude::*;
use liftwatch_store::StoreError;
use proptest::prelude::*;

use crate::fixtures::{day, dev, messages};
use crate::Factory;

/// One step of a stream.
#[derive(Clone, Debug)]
enum Op {
    /// Box events `(device, kind, incident, minute)`, delivered as one batch
    /// of messages of `per_msg` events.
    Events(Vec<(u8, u8, u8, u32)>, usize),
    /// Redeliver the `n`-th earlier batch, reversed (duplicates).
    Redeliver(usize),
    /// A firm corrects `(device, fault, cause)`.
    Correct(u8, u8, u8),
    /// A firm reports an arrival `(device, incident, minute)`.
    Arrive(u8, u8, u32),
    /// The project is put again on day `today` (days after 2026-09-01)
    /// with `device` listed or not, (re)joining from day `since` when given:
    /// its membership history changes (and with it the project sums).
    Member { device: u8, listed: bool, today: u32, since: Option<u32> },
}

const DEVICES: u8 = 2;
const MINUTES: u32 = 60 * 24 * 40;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (prop::collection::vec((0..DEVICES, 0u8..9, 0u8..3, 0..MINUTES), 1..30), 1usize..8)
            .prop_map(|(e, n)| Op::Events(e, n)),
        1 => (0usize..8).prop_map(Op::Redeliver),
        2 => (0..DEVICES, 0u8..3, 0u8..4).prop_map(|(d, i, c)| Op::Correct(d, i, c)),
        1 => (0..DEVICES, 0u8..3, 0..MINUTES).prop_map(|(d, i, m)| Op::Arrive(d, i, m)),
        2 => (0..DEVICES, any::<bool>(), 0u32..45, prop::option::of(0u32..45))
            .prop_map(|(device, listed, today, since)| Op::Member { device, listed, today, since }),
    ]
}

static CASE: AtomicU32 = AtomicU32::new(0);

fn at(minute: u32) -> Timestamp {
    let base = parse_rfc3339("2026-09-01T00:00:00+08:00").unwrap().0;
    Timestamp(base.0 + i64::from(minute) * 60_000_000)
}

fn event(device: DeviceCode, seq: u64, kind: u8, incident: u8, minute: u32) -> Event {
    let ts = at(minute);
    let id: Box<str> = format!("i{incident}").into();
    let body = match kind {
        0 | 1 => Body::Run { end: Timestamp(ts.0 + 20_000_000), from: 1, to: 3, doors: None },
        2 => Body::Fault { fault_id: id, code: FaultCode::parse("E9"), stops_service: incident != 2, cause: None },
        3 => Body::FaultCleared { fault_id: id },
        4 => Body::Entrapment { incident_id: id, fault_id: None },
        5 => Body::RescueArrived { incident_id: id },
        // Odometers that mostly go up with time (a few runs withheld or
        // extra), and now and then a reset to a small value.
        6 | 7 => Body::Counter { runs_total: u64::from(minute / 20) + u64::from(incident) },
        _ => Body::Counter { runs_total: u64::from(incident) },
    };
    Event { device, seq, ts, ts_offset: 8 * 3600, body }
}

/// Project `id` of firm `zls`, admitted 2026-01-01, with `devs` from the day it is put.
fn project_spec(id: &str, devs: &[DeviceCode]) -> ProjectSpec {
    ProjectSpec {
        id: id.into(),
        name: id.into(),
        firm_id: "zls".into(),
        owner: String::new(),
        mode: ProjectMode::Iot,
        admitted_on: day("2026-01-01"),
        commitment: None,
        elevators: devs
            .iter()
            .map(|d| ElevatorSpec {
                device_code: *d,
                kind: String::new(),
                location: String::new(),
                insured_until: None,
                since: None,
            })
            .collect(),
        pilot_form: Default::default(),
    }
}

/// Runs one stream through the store and the ledger and compares.
async fn run_case<S: EventStore + Store>(s: &S, ops: &[Op]) -> Result<(), TestCaseError> {
    // Each case has its own elevators and project in the shared database.
    let case = CASE.fetch_add(1, Ordering::Relaxed);
    let devs: Vec<DeviceCode> = (0..u32::from(DEVICES)).map(|n| dev(10_000 + case * 10 + n)).collect();
    let project = format!("p{case}");
    s.put_firm(&Firm { id: "zls".into(), name: "ZLS".into(), grade: GradeLetter::C, self_declaration_url: None })
        .await
        .unwrap();
    s.put_project(&project_spec(&project, &devs), day("2026-01-01")).await.unwrap();

    let mut listed = vec![true; devs.len()];
    let mut ledger = Ledger::new(Shanghai);
    let mut batches: Vec<Vec<Event>> = Vec::new();
    let mut seq = 0u64;
    for op in ops {
        match op {
            Op::Events(evs, per_msg) => {
                let evs: Vec<Event> = evs
                    .iter()
                    .map(|(d, k, i, m)| {
                        seq += 1;
                        event(devs[usize::from(*d)], seq, *k, *i, *m)
                    })
                    .collect();
                for e in &evs {
                    ledger.apply(e);
                }
                s.ingest(&messages(&evs, *per_msg)).await.unwrap();
                batches.push(evs);
            }
            Op::Redeliver(n) => {
                if let Some(b) = batches.get(*n) {
                    let mut b = b.clone();
                    b.reverse();
                    let r = s.ingest(&messages(&b, 3)).await.unwrap();
                    prop_assert_eq!(r.new_events, 0, "a redelivered batch is all duplicates");
                }
            }
            Op::Correct(d, i, c) => {
                let (device, id, cause) = (devs[usize::from(*d)], format!("i{i}"), Cause::ALL[usize::from(*c)]);
                let now = at(MINUTES + 60);
                let l = ledger.correct_cause(device, &id, cause, "firm:zls", "grid outage", now);
                let st = s.correct_fault_cause(Scope::All, device, &id, cause, "firm:zls", "grid outage", now).await;
                prop_assert_eq!(
                    l.is_ok(),
                    st.is_ok(),
                    "correction of {} {}: ledger {:?}, store {:?}",
                    device,
                    id,
                    l,
                    st
                );
            }
            Op::Arrive(d, i, m) => {
                let (device, id) = (devs[usize::from(*d)], format!("i{i}"));
                ledger.report_arrival(device, &id, at(*m));
                s.report_arrival(device, &id, at(*m)).await.unwrap();
            }
            Op::Member { device, listed: l, today, since } => {
                let sept = |n: u32| day("2026-09-01").checked_add_days(chrono::Days::new(u64::from(n))).unwrap();
                let mut next = listed.clone();
                next[usize::from(*device)] = *l;
                let spec = ProjectSpec {
                    elevators: devs
                        .iter()
                        .zip(&next)
                        .enumerate()
                        .filter(|(_, (_, on))| **on)
                        .map(|(i, (d, _))| ElevatorSpec {
                            device_code: *d,
                            kind: String::new(),
                            location: String::new(),
                            insured_until: None,
                            since: (i == usize::from(*device)).then(|| since.map(sept)).flatten(),
                        })
                        .collect(),
                    ..project_spec(&project, &[])
                };
                // Refused changes (an overlap, a moved `since`)
                // change nothing; the memberships read back are the truth.
                match s.put_project(&spec, sept(*today)).await {
                    Ok(_) => listed = next,
                    Err(StoreError::Conflict(_)) => {}
                    Err(e) => panic!("put_project: {e}"),
                }
            }
        }
    }

    // The same rollup rows …
    let mut stored: Vec<_> = s.rollup_rows().await.unwrap();
    stored.retain(|(d, _, _)| devs.contains(d));
    let expected: Vec<_> = ledger.rows().map(|(d, day, r)| (d, day, r.clone())).collect();
    prop_assert_eq!(&stored, &expected);
    // … the same counter readings, spans and telemetry …
    let mut readings = s.counter_readings().await.unwrap();
    readings.retain(|(d, _)| devs.contains(d));
    prop_assert_eq!(&readings, &ledger.all_readings());
    for d in &devs {
        prop_assert_eq!(s.device_telemetry(*d).await.unwrap(), ledger.telemetry(*d));
    }
    // … and the same KPIs (counts, means, open incidents, completeness)
    // over windows cut every way the month sums split them: the rolling
    // six months (edges at both ends), whole months, a window inside one
    // month, one across a month's end without a whole month, and one from
    // mid-month to a month's end (docs/storage.md "Project sums").
    // The project's memberships as stored: the project sums must follow them.
    let m: Vec<Membership> = s.memberships(&project).await.unwrap();
    let windows = [
        Window::rolling(day("2026-11-28")).unwrap(),
        Window { from: day("2026-09-01"), to: day("2026-10-31") },
        Window { from: day("2026-09-10"), to: day("2026-09-25") },
        Window { from: day("2026-09-12"), to: day("2026-10-09") },
        Window { from: day("2026-09-20"), to: day("2026-10-31") },
    ];
    for w in windows {
        let agg = aggregate(&w, &m, ledger.rows());
        let want = KpiReport::new(Subject::Project(project.clone()), w, agg.elevators, &agg.totals, None);
        let got = s.project_kpis(&project, w).await.unwrap().unwrap();
        prop_assert_eq!(got.elevators, want.elevators, "{}", w);
        prop_assert_eq!(
            (got.runs, got.equipment_faults, &got.downtime.count, &got.downtime.open, &got.rescue.count),
            (want.runs, want.equipment_faults, &want.downtime.count, &want.downtime.open, &want.rescue.count),
            "{}",
            w
        );
        prop_assert_eq!(got.fault_rate_per_10k, want.fault_rate_per_10k);
        prop_assert_eq!(got.downtime.mean_minutes, want.downtime.mean_minutes);
        prop_assert_eq!(got.rescue.mean_minutes, want.rescue.mean_minutes);
        prop_assert_eq!(got.rescue.awaiting_arrival, want.rescue.awaiting_arrival);
        prop_assert_eq!(got.completeness, crate::fixtures::ledger_completeness(&ledger, &w, Some(&m)), "{}", w);
        // The overview answers the same for this project.
        let all = s.projects_kpis(w).await.unwrap();
        let row = all.iter().find(|o| o.kpis.subject == Subject::Project(project.clone()));
        prop_assert_eq!(row.map(|o| &o.kpis), Some(&got), "overview of {}", w);
    }
    Ok(())
}

/// 24 random streams per backend, each in its own elevators of one database.
pub fn random_streams_match_the_ledger<F: Factory>(f: &F) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (s, _guard) = rt.block_on(f.open("prop"));
    let cfg = ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(cfg, |(ops in prop::collection::vec(op(), 1..10))| {
        rt.block_on(run_case(&s, &ops))?;
    });
}
