//! Registration fixtures and events as the gateway hands them to the store.
//!
//! The standard world of the store and end-to-end tests is firm `zls` with
//! project `haibin` ([`register`]); tests that need several firms or
//! projects put them with [`firm`] and [`project`]. All are generic over the
//! [`Registry`] port, so they serve every adapter.
#![allow(clippy::unwrap_used)]

use liftwatch_core::kpi::Commitment;
use liftwatch_core::protocol::{decode_message, to_array_payload, topic_for, DeviceCode, Event};
use liftwatch_core::registry::{ElevatorSpec, Firm, GradeLetter, ProjectMode, ProjectSpec};
use liftwatch_store::{Inbound, Registry};

use crate::codes::{day, dev, now};

/// The day every fixture project is admitted on and first put.
pub const ADMITTED: &str = "2026-01-01";

/// The commitment of project `haibin` ([`register`]): 5 faults per 10,000
/// runs, 60 minutes of downtime, 20 minutes to the rescuer.
pub const COMMITMENT: Commitment = Commitment { fault_rate_per_10k: 5.0, downtime_minutes: 60.0, rescue_minutes: 20.0 };

/// A firm named `name`, grade A with its published self-declaration (grade
/// A or B needs one, N §III.(三).2).
pub fn firm_spec(id: &str, name: &str) -> Firm {
    Firm {
        id: id.into(),
        name: name.into(),
        grade: GradeLetter::A,
        self_declaration_url: Some("https://example.org/decl.pdf".into()),
    }
}

/// A traction elevator with no location or insurance, a member from `since`
/// (or the project's admission).
pub fn elevator_spec(device_code: DeviceCode, since: Option<&str>) -> ElevatorSpec {
    ElevatorSpec {
        device_code,
        kind: "traction".into(),
        location: String::new(),
        insured_until: None,
        since: since.map(day),
    }
}

/// An IoT-mode project `Project {id}` of `firm_id`, admitted on
/// [`ADMITTED`], no owner and no commitment.
pub fn project_spec(id: &str, firm_id: &str, elevators: Vec<ElevatorSpec>) -> ProjectSpec {
    ProjectSpec {
        id: id.into(),
        name: format!("Project {id}"),
        firm_id: firm_id.into(),
        owner: String::new(),
        mode: ProjectMode::Iot,
        admitted_on: day(ADMITTED),
        commitment: None,
        elevators,
        pilot_form: Default::default(),
    }
}

/// Puts firm `id` (named `Firm {id}`, grade A).
pub async fn firm<S: Registry + ?Sized>(s: &S, id: &str) {
    s.put_firm(&firm_spec(id, &format!("Firm {id}"))).await.unwrap();
}

/// Puts project `id` of `firm_id` ([`project_spec`]) with elevators
/// `(n, since)`: `dev(n)`, a member from `since` or from [`ADMITTED`].
pub async fn project<S: Registry + ?Sized>(s: &S, id: &str, firm_id: &str, elevators: &[(u32, Option<&str>)]) {
    let elevators = elevators.iter().map(|(n, since)| elevator_spec(dev(*n), *since)).collect();
    s.put_project(&project_spec(id, firm_id, elevators), day(ADMITTED)).await.unwrap();
}

/// The standard world: firm `zls` ("Zhoushan Lift", grade A) with project
/// `haibin` ("Haibin Garden", owner "Haibin Property", [`COMMITMENT`]) of
/// elevators `dev(0..devices)` (location `Bldg n`, insured until
/// 2027-06-30), members since [`ADMITTED`]. Returns the elevators.
pub async fn register<S: Registry + ?Sized>(s: &S, devices: u32) -> Vec<DeviceCode> {
    s.put_firm(&firm_spec("zls", "Zhoushan Lift")).await.unwrap();
    let elevators = (0..devices)
        .map(|n| ElevatorSpec {
            location: format!("Bldg {n}"),
            insured_until: Some(day("2027-06-30")),
            ..elevator_spec(dev(n), None)
        })
        .collect();
    let p = ProjectSpec {
        name: "Haibin Garden".into(),
        owner: "Haibin Property".into(),
        commitment: Some(COMMITMENT),
        ..project_spec("haibin", "zls", elevators)
    };
    s.put_project(&p, day(ADMITTED)).await.unwrap();
    (0..devices).map(dev).collect()
}

/// `events` as the gateway hands them to the store: per device, arrays of
/// up to `per_msg` events, decoded at [`now`] (panics if one is rejected:
/// fixtures must be valid protocol).
pub fn messages(events: &[Event], per_msg: usize) -> Vec<Inbound> {
    let mut by_dev: std::collections::BTreeMap<DeviceCode, Vec<&Event>> = Default::default();
    for e in events {
        by_dev.entry(e.device).or_default().push(e);
    }
    let mut out = Vec::new();
    for (d, evs) in by_dev {
        for chunk in evs.chunks(per_msg) {
            out.push(inbound(&d, chunk.iter().copied()));
        }
    }
    out
}

/// One message of `events` of device `d`, decoded at [`now`].
pub fn inbound<'a>(d: &DeviceCode, events: impl IntoIterator<Item = &'a Event>) -> Inbound {
    let payload = to_array_payload(events).into_bytes();
    let topic = topic_for(d);
    let decoded = decode_message(&topic, &payload, now());
    assert!(decoded.rejects.is_empty(), "{:?}", decoded.rejects);
    Inbound { topic, payload, received_at: now(), decoded }
}
