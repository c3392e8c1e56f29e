//! Fixtures of the conformance suite: device codes, deterministic event
//! streams, registration, and the comparison with the reference ledger.

use chrono::NaiveDate;
use chrono_tz::Asia::Shanghai;
use liftwatch_core::kpi::{aggregate, Commitment, KpiReport, Membership, Subject};
use liftwatch_core::ledger::Ledger;
use liftwatch_core::protocol::{
    decode_message, parse_rfc3339, to_array_payload, topic_for, Body, Cause, DeviceCode, Event, FaultCode, Mode,
    Timestamp,
};
use liftwatch_core::registry::{ElevatorSpec, Firm, GradeLetter, ProjectMode, ProjectSpec};
use liftwatch_core::window::Window;
use liftwatch_store::{Inbound, Store};

pub fn dev(n: u32) -> DeviceCode {
    DeviceCode::parse(&format!("311033020020181{n:05}")).unwrap()
}

pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub fn now() -> Timestamp {
    parse_rfc3339("2026-11-28T12:00:00+08:00").unwrap().0
}

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

/// Publishes events as the gateway would hand them over: arrays per device.
pub fn messages(events: &[Event], per_msg: usize) -> Vec<Inbound> {
    let mut out = Vec::new();
    let mut by_dev: std::collections::BTreeMap<DeviceCode, Vec<&Event>> = Default::default();
    for e in events {
        by_dev.entry(e.device).or_default().push(e);
    }
    for (d, evs) in by_dev {
        for chunk in evs.chunks(per_msg) {
            let payload = to_array_payload(chunk.iter().copied()).into_bytes();
            let topic = topic_for(&d);
            let decoded = decode_message(&topic, &payload, now());
            assert!(decoded.rejects.is_empty());
            out.push(Inbound { topic, payload, received_at: now(), decoded });
        }
    }
    out
}

pub async fn register<S: Store>(s: &S, devices: u32) {
    s.put_firm(&Firm {
        id: "zls".into(),
        name: "Zhoushan Lift".into(),
        grade: GradeLetter::A,
        self_declaration_url: Some("https://example.org/decl.pdf".into()),
    })
    .await
    .unwrap();
    s.put_project(
        &ProjectSpec {
            id: "haibin".into(),
            name: "Haibin Garden".into(),
            firm_id: "zls".into(),
            owner: "Haibin Property".into(),
            mode: ProjectMode::Iot,
            admitted_on: day("2026-01-01"),
            commitment: Some(Commitment { fault_rate_per_10k: 5.0, downtime_minutes: 60.0, rescue_minutes: 20.0 }),
            elevators: (0..devices)
                .map(|n| ElevatorSpec {
                    device_code: dev(n),
                    kind: "traction".into(),
                    location: format!("Bldg {n}"),
                    insured_until: Some(day("2027-06-30")),
                    since: None,
                })
                .collect(),
            pilot_form: Default::default(),
        },
        day("2026-01-01"),
    )
    .await
    .unwrap();
}

pub fn ledger_of(events: &[Event]) -> Ledger {
    let mut l = Ledger::new(Shanghai);
    for e in events {
        l.apply(e);
    }
    l
}

pub async fn assert_matches_ledger<S: Store>(s: &S, l: &Ledger, devices: u32) {
    let stored = s.rollup_rows().await.unwrap();
    let expected: Vec<_> = l.rows().map(|(d, day, r)| (d, day, r.clone())).collect();
    assert_eq!(stored, expected);
    let w = Window::rolling(day("2026-11-28")).unwrap();
    let m: Vec<Membership> =
        (0..devices).map(|n| Membership { device: dev(n), since: day("2026-01-01"), until: None }).collect();
    let agg = aggregate(&w, &m, l.rows());
    let c = Some(Commitment { fault_rate_per_10k: 5.0, downtime_minutes: 60.0, rescue_minutes: 20.0 });
    let mut want = KpiReport::new(Subject::Project("haibin".into()), w, agg.elevators, &agg.totals, c);
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
