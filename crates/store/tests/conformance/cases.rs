//! The cases every store backend must pass, each generic over a
//! [`Factory`] that opens a fresh, empty, migrated store. Semantics are those
//! of the core's reference [`liftwatch_core::ledger::Ledger`].

use chrono::NaiveDate;
use liftwatch_core::protocol::{decode_message, parse_rfc3339, topic_for, Body, DeviceCode, Event, FaultCode};
use liftwatch_core::registry::{ElevatorSpec, Firm, GradeLetter, ProjectMode, ProjectSpec};
use liftwatch_core::window::Window;
use liftwatch_store::dead_letters::DeadLetterFilter;
use liftwatch_store::prelude::*;
use liftwatch_store::{Inbound, StoreError};

use crate::fixtures::*;
use crate::Factory;

pub async fn duplicates_and_reordering<F: Factory>(f: &F) {
    let (s, _g) = f.open("dup").await;
    register(&s, 4).await;
    let events = random_events(7, 3000, 4);
    // Deliver everything twice, the second time in reverse order and other batch shapes.
    let first = messages(&events, 100);
    let mut rev = events.clone();
    rev.reverse();
    let second = messages(&rev, 37);
    let mut new = 0;
    for batch in first.chunks(5).chain(second.chunks(3)) {
        new += s.ingest(batch).await.unwrap().new_events;
    }
    assert_eq!(new, 3000, "every distinct event counted exactly once");
    assert_matches_ledger(&s, &ledger_of(&events), 4).await;
}

pub async fn concurrent_gateways_on_overlapping_batches_count_once<F: Factory>(f: &F) {
    let (s, _g) = f.open("conc").await;
    register(&s, 3).await;
    let events = random_events(99, 4000, 3);
    let msgs = messages(&events, 50);
    // Four "gateways", each with an overlapping share of the messages.
    let mut tasks = Vec::new();
    for g in 0..4usize {
        let s = s.clone();
        let mine: Vec<Inbound> =
            msgs.iter().enumerate().filter(|(i, _)| (i + g) % 2 == 0).map(|(_, m)| m.clone()).collect();
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            for b in mine.chunks(4) {
                loop {
                    match s.ingest(b).await {
                        Ok(r) => {
                            n += r.new_events;
                            break;
                        }
                        Err(e) if e.is_transient() => continue,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 4000);
    assert_matches_ledger(&s, &ledger_of(&events), 3).await;
}

pub async fn late_events_change_past_windows<F: Factory>(f: &F) {
    let (s, _g) = f.open("late").await;
    register(&s, 1).await;
    let events = random_events(3, 500, 1);
    s.ingest(&messages(&events, 100)).await.unwrap();
    let h1 = Window::parse_half("2026H1").unwrap();
    let before = s.project_kpis("haibin", h1).await.unwrap().unwrap();
    let late: Vec<Event> = (0..10)
        .map(|i| Event {
            device: dev(0),
            seq: 100_000 + i,
            ts: parse_rfc3339("2026-03-03T10:00:00+08:00").unwrap().0,
            ts_offset: 8 * 3600,
            body: Body::Run { end: parse_rfc3339("2026-03-03T10:00:30+08:00").unwrap().0, from: 1, to: 2, doors: None },
        })
        .collect();
    s.ingest(&messages(&late, 100)).await.unwrap();
    let after = s.project_kpis("haibin", h1).await.unwrap().unwrap();
    assert_eq!(after.runs, before.runs + 10);
    let mut all = events.clone();
    all.extend(late);
    assert_matches_ledger(&s, &ledger_of(&all), 1).await;
}

pub async fn bad_events_are_dead_lettered_beside_the_good_ones<F: Factory>(f: &F) {
    let (s, _g) = f.open("dlq").await;
    register(&s, 1).await;
    let topic = topic_for(&dev(0));
    let good = random_events(5, 3, 1);
    let mut arr: Vec<serde_json::Value> = good.iter().map(liftwatch_core::protocol::to_value).collect();
    arr.insert(1, serde_json::json!({"v": 1, "device": dev(0).as_str(), "seq": 1, "type": "run"}));
    let payload = serde_json::Value::Array(arr).to_string().into_bytes();
    let decoded = decode_message(&topic, &payload, now());
    let r = s.ingest(&[Inbound { topic: topic.clone(), payload, received_at: now(), decoded }]).await.unwrap();
    assert_eq!(r.new_events, 3);
    assert_eq!(r.dead_letters, vec!["missing_field"]);
    let dl = s.dead_letters(&DeadLetterFilter::default()).await.unwrap();
    assert_eq!(dl.len(), 1);
    assert_eq!(dl[0].reason, "field `ts` is missing");
    assert!(
        dl[0].payload.starts_with('{') && dl[0].payload.contains("\"seq\":1"),
        "the bad element alone: {}",
        dl[0].payload
    );
    // Not JSON at all: the whole payload is kept.
    let junk = b"\xff\xfe not json".to_vec();
    let decoded = decode_message(&topic, &junk, now());
    s.ingest(&[Inbound { topic, payload: junk, received_at: now(), decoded }]).await.unwrap();
    let dl =
        s.dead_letters(&DeadLetterFilter { reason_code: Some("not_utf8".into()), ..Default::default() }).await.unwrap();
    assert_eq!(dl.len(), 1);
}

pub async fn unknown_device_then_registration_then_replay<F: Factory>(f: &F) {
    let (s, _g) = f.open("replay").await;
    register(&s, 1).await;
    let events = random_events(11, 200, 1).into_iter().map(|e| Event { device: dev(7), ..e }).collect::<Vec<_>>();
    let msgs = messages(&events, 50);
    let r = s.ingest(&msgs).await.unwrap();
    assert_eq!((r.new_events, r.dead_letters.len()), (0, 4));
    assert!(r.dead_letters.iter().all(|c| *c == "unknown_device"));
    // Replaying before registration changes nothing but the bookkeeping.
    let rep = s.replay_dead_letters(&DeadLetterFilter::default(), now()).await.unwrap();
    assert_eq!((rep.replayed, rep.ingest.new_events, rep.ingest.dead_letters.len()), (4, 0, 4));
    // Register the elevator into the project, then replay: all counted once.
    let mut p = ProjectSpec {
        id: "haibin".into(),
        name: "Haibin Garden".into(),
        firm_id: "zls".into(),
        owner: String::new(),
        mode: ProjectMode::Iot,
        admitted_on: day("2026-01-01"),
        commitment: None,
        elevators: vec![],
        pilot_form: Default::default(),
    };
    for n in [0, 7] {
        p.elevators.push(ElevatorSpec {
            device_code: dev(n),
            kind: String::new(),
            location: String::new(),
            insured_until: None,
            since: Some(day("2026-01-01")),
        });
    }
    s.put_project(&p, day("2026-11-28")).await.unwrap();
    let rep = s.replay_dead_letters(&DeadLetterFilter::default(), now()).await.unwrap();
    assert_eq!((rep.replayed, rep.ingest.new_events, rep.ingest.dead_letters.len()), (4, 200, 0));
    assert!(s.dead_letters(&DeadLetterFilter::default()).await.unwrap().is_empty());
    let again = s.replay_dead_letters(&DeadLetterFilter::default(), now()).await.unwrap();
    assert_eq!(again.replayed, 0);
    let stored = s.rollup_rows().await.unwrap();
    let l = ledger_of(&events);
    let expected: Vec<_> = l.rows().map(|(d, day, r)| (d, day, r.clone())).collect();
    assert_eq!(stored, expected);
}

pub async fn membership_history_and_conflicts<F: Factory>(f: &F) {
    let (s, _g) = f.open("members").await;
    register(&s, 2).await;
    // Drop elevator 1 on 2026-07-01: its membership ends 2026-06-30.
    let mut p = ProjectSpec {
        id: "haibin".into(),
        name: "Haibin Garden".into(),
        firm_id: "zls".into(),
        owner: String::new(),
        mode: ProjectMode::Iot,
        admitted_on: day("2026-01-01"),
        commitment: None,
        elevators: vec![ElevatorSpec {
            device_code: dev(0),
            kind: String::new(),
            location: String::new(),
            insured_until: None,
            since: None,
        }],
        pilot_form: Default::default(),
    };
    assert!(!s.put_project(&p, day("2026-07-01")).await.unwrap());
    let m = s.memberships("haibin").await.unwrap();
    assert_eq!(
        m.iter().map(|m| (m.device, m.since, m.until)).collect::<Vec<_>>(),
        vec![(dev(0), day("2026-01-01"), None), (dev(1), day("2026-01-01"), Some(day("2026-06-30"))),]
    );
    // Elevator 1 may join another project from 2026-07-01 …
    let mut q = p.clone();
    q.id = "other".into();
    q.admitted_on = day("2026-07-01");
    q.elevators[0].device_code = dev(1);
    assert!(s.put_project(&q, day("2026-07-01")).await.unwrap());
    // … but elevator 0 may not, while it belongs to haibin.
    q.id = "third".into();
    q.elevators[0].device_code = dev(0);
    assert!(matches!(s.put_project(&q, day("2026-07-01")).await, Err(StoreError::Conflict(_))));
    // Moving a current member's start date is refused, not ignored.
    let mut moved_since = p.clone();
    moved_since.elevators[0].since = Some(day("2026-03-01"));
    assert!(matches!(s.put_project(&moved_since, day("2026-07-01")).await, Err(StoreError::Conflict(_))));
    // A change of firm is a new project.
    let mut moved = p.clone();
    moved.firm_id = "other".into();
    s.put_firm(&Firm { id: "other".into(), name: "Other".into(), grade: GradeLetter::C, self_declaration_url: None })
        .await
        .unwrap();
    assert!(matches!(s.put_project(&moved, day("2026-07-01")).await, Err(StoreError::Conflict(_))));
    // An unknown firm and an invalid project are refused.
    p.firm_id = "nope".into();
    assert!(matches!(s.put_project(&p, day("2026-07-01")).await, Err(StoreError::NotFound(_))));
    p.firm_id = "zls".into();
    p.name = " ".into(); // a blank name: validation refuses it
    assert!(matches!(s.put_project(&p, day("2026-07-01")).await, Err(StoreError::Permanent(_))));
}

/// A project of a few thousand elevators is registered and changed whole,
/// as the set-based writes of both adapters do it: members kept, left out
/// (ended, or removed if not begun), added (from the request or an asked
/// day), re-admitted after leaving; a put with one overlapping or one
/// history-moving elevator among thousands is refused and changes nothing.
pub async fn a_large_membership_is_registered_and_changed_whole<F: Factory>(f: &F) {
    let (s, _g) = f.open("large").await;
    register(&s, 2).await;
    let spec = |n: u32, since: Option<&str>, location: &str| ElevatorSpec {
        location: location.into(),
        ..liftwatch_testkit::fixtures::elevator_spec(dev(n), since)
    };
    let mut p =
        liftwatch_testkit::fixtures::project_spec("city", "zls", (100..3100).map(|n| spec(n, None, "old")).collect());
    assert!(s.put_project(&p, day("2026-01-01")).await.unwrap());
    let first: Vec<_> = (100..3100).map(|n| (dev(n), day("2026-01-01"), None)).collect();
    assert_eq!(history(&s, "city").await, first);

    // On 2026-07-01: keep 100..2600 (moved to a new location), leave out
    // 2600..3100, add 3100..3300 and 3300..3310 from 2026-08-01.
    let mut els: Vec<_> = (100..2600).map(|n| spec(n, None, "new")).collect();
    els.extend((3100..3300).map(|n| spec(n, None, "")));
    els.extend((3300..3310).map(|n| spec(n, Some("2026-08-01"), "")));
    // Refused whole: elevator 1 belongs to haibin …
    p.elevators = els.clone();
    p.elevators.push(spec(1, None, ""));
    let err = s.put_project(&p, day("2026-07-01")).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(m) if m.contains(dev(1).as_str()) && m.contains("haibin")), "{err}");
    // … and a current member's start day cannot move.
    p.elevators = els.clone();
    p.elevators[1500].since = Some(day("2026-02-01"));
    assert!(matches!(s.put_project(&p, day("2026-07-01")).await, Err(StoreError::Conflict(_))));
    assert_eq!(history(&s, "city").await, first, "a refused put changes nothing");
    let stored = s.project("city").await.unwrap().unwrap();
    assert!(stored.spec.elevators.iter().all(|e| e.location == "old"), "a refused put changes nothing");

    p.elevators = els;
    assert!(!s.put_project(&p, day("2026-07-01")).await.unwrap());
    let mut second: Vec<_> = (100..3100)
        .map(|n| (dev(n), day("2026-01-01"), (n >= 2600).then(|| day("2026-06-30"))))
        .chain((3100..3300).map(|n| (dev(n), day("2026-07-01"), None)))
        .chain((3300..3310).map(|n| (dev(n), day("2026-08-01"), None)))
        .collect();
    assert_eq!(history(&s, "city").await, second);
    let stored = s.project("city").await.unwrap().unwrap();
    assert_eq!(stored.spec.elevators.len(), 2500 + 200 + 10);
    assert!(stored.spec.elevators.iter().filter(|e| e.device_code < dev(2600)).all(|e| e.location == "new"));

    // On 2026-07-15: 3300..3310 have not begun (removed); 2600..2610 come back.
    p.elevators.retain(|e| e.device_code < dev(3300));
    p.elevators.extend((2600..2610).map(|n| spec(n, None, "")));
    assert!(!s.put_project(&p, day("2026-07-15")).await.unwrap());
    second.retain(|m| m.0 < dev(3300));
    second.extend((2600..2610).map(|n| (dev(n), day("2026-07-15"), None)));
    second.sort();
    assert_eq!(history(&s, "city").await, second);
}

/// Every project's KPIs at once (the regulator overview) equal each
/// project's own answer: three projects, one whose elevator left and one
/// joining late, one with no rollups, open stoppages and entrapments among
/// the random events.
pub async fn every_projects_kpis_at_once_equal_each_projects_answer<F: Factory>(f: &F) {
    let (s, _g) = f.open("overview").await;
    register(&s, 3).await;
    liftwatch_testkit::project(&s, "later", "zls", &[(3, Some("2026-09-15")), (4, None)]).await;
    liftwatch_testkit::project(&s, "quiet", "zls", &[(50, None)]).await;
    // Elevator 2 leaves haibin on 2026-10-01 and joins "later".
    let mut p = s.project("haibin").await.unwrap().unwrap().spec;
    p.elevators.retain(|e| e.device_code != dev(2));
    s.put_project(&p, day("2026-10-01")).await.unwrap();
    let mut q = s.project("later").await.unwrap().unwrap().spec;
    q.elevators.push(liftwatch_testkit::fixtures::elevator_spec(dev(2), None));
    s.put_project(&q, day("2026-10-01")).await.unwrap();
    let mut events = random_events(13, 3000, 5);
    // Stoppages still open, in haibin and in "later".
    events.extend([0, 2].map(|n| Event {
        device: dev(n),
        seq: 999_999,
        ts: liftwatch_testkit::t("2026-11-20T10:00:00+08:00"),
        ts_offset: 8 * 3600,
        body: Body::Fault {
            fault_id: "still-open".into(),
            code: FaultCode::parse("brake_fault"),
            stops_service: true,
            cause: None,
        },
    }));
    s.ingest(&messages(&events, 20)).await.unwrap();
    let mut open_ages = false;
    for w in [Window::rolling(day("2026-11-28")).unwrap(), Window::range(day("2026-10-01"), day("2026-10-31")).unwrap()]
    {
        let all: Vec<_> = s.projects_kpis(w).await.unwrap().into_iter().map(|o| o.kpis).collect();
        let mut each = Vec::new();
        for id in ["haibin", "later", "quiet"] {
            each.push(s.project_kpis(id, w).await.unwrap().unwrap());
        }
        assert_eq!(all, each, "{w}");
        open_ages |=
            all.iter().any(|k| k.downtime.oldest_open_since.is_some() || k.rescue.oldest_awaiting_since.is_some());
    }
    assert!(open_ages, "the ages of open stoppages or entrapments are exercised");
}

/// The membership history of `project` as `(device, since, until)`.
async fn history<S: Registry>(s: &S, project: &str) -> Vec<(DeviceCode, NaiveDate, Option<NaiveDate>)> {
    s.memberships(project).await.unwrap().into_iter().map(|m| (m.device, m.since, m.until)).collect()
}

pub async fn very_long_unknown_codes_are_counted_under_a_cut_key<F: Factory>(f: &F) {
    let (s, _g) = f.open("longcode").await;
    register(&s, 1).await;
    let code = "好".repeat(3000);
    let events = vec![Event {
        device: dev(0),
        seq: 1,
        ts: parse_rfc3339("2026-11-01T10:00:00+08:00").unwrap().0,
        ts_offset: 8 * 3600,
        body: Body::Fault { fault_id: "f".into(), code: FaultCode::parse(&code), stops_service: true, cause: None },
    }];
    let r = s.ingest(&messages(&events, 1)).await.unwrap();
    assert_eq!((r.new_events, r.dead_letters.len()), (1, 0));
    let rows = s.rollup_rows().await.unwrap();
    assert_eq!(
        rows[0].2.by_code.keys().next().unwrap().chars().count(),
        liftwatch_core::incident::ROLLUP_CODE_MAX_CHARS
    );
    assert_eq!(rows, ledger_of(&events).rows().map(|(d, day, r)| (d, day, r.clone())).collect::<Vec<_>>());
}

/// Issue 9 item 1: a firm reporting an arrival before the box's alarm
/// reached the store must not zero its rescue time; a clearing stamped before
/// its fault start must not close the stoppage, nor block the real clearing.
pub async fn arrivals_and_clearings_before_their_start_never_count<F: Factory>(f: &F) {
    use crate::records::{assert_rollups_match, cleared, ev, fault, ingest, window};
    use liftwatch_core::ledger::Ledger;
    use liftwatch_testkit::{firm, project, t};
    let (s, _g) = f.open("early_arrival").await;
    firm(&s, "zls").await;
    project(&s, "haibin", "zls", &[(0, None)]).await;
    let d = dev(0);
    let mut l = Ledger::new(chrono_tz::Asia::Shanghai);
    let early = t("2026-11-20T09:59:59.999999+08:00");
    s.report_arrival(d, "e1", early).await.unwrap();
    l.report_arrival(d, "e1", early);
    let alarm = ev(d, 1, "2026-11-20T10:00:00+08:00", Body::Entrapment { incident_id: "e1".into(), fault_id: None });
    ingest(&s, &mut l, &[alarm]).await;
    let k = s.project_kpis("haibin", window()).await.unwrap().unwrap();
    assert_eq!((k.rescue.count, k.rescue.awaiting_arrival), (0, 1), "not a 0-minute rescue");
    let v = s.entrapment(Scope::All, d, "e1").await.unwrap().unwrap();
    assert_eq!((v.arrived_at, v.rescue_minutes), (None, None));
    assert_rollups_match(&s, &l).await;
    ingest(&s, &mut l, &[ev(d, 2, "2026-11-20T10:12:00+08:00", Body::RescueArrived { incident_id: "e1".into() })])
        .await;
    let k = s.project_kpis("haibin", window()).await.unwrap().unwrap();
    assert_eq!((k.rescue.count, k.rescue.mean_minutes, k.rescue.awaiting_arrival), (1, Some(12.0), 0));
    assert_rollups_match(&s, &l).await;

    // A clearing before the start: the stoppage stays open, the real one closes it.
    ingest(&s, &mut l, &[cleared(d, 3, "2026-11-21T09:59:00+08:00", "f1")]).await;
    ingest(&s, &mut l, &[fault(d, 4, "2026-11-21T10:00:00+08:00", "f1", "brake_fault", true)]).await;
    let k = s.project_kpis("haibin", window()).await.unwrap().unwrap();
    assert_eq!((k.downtime.count, k.downtime.open), (0, 1), "not closed at 0 minutes");
    assert_rollups_match(&s, &l).await;
    ingest(&s, &mut l, &[cleared(d, 5, "2026-11-21T10:30:00+08:00", "f1")]).await;
    let k = s.project_kpis("haibin", window()).await.unwrap().unwrap();
    assert_eq!((k.downtime.count, k.downtime.mean_minutes, k.downtime.open), (1, Some(30.0), 0));
    assert_rollups_match(&s, &l).await;
}

/// Issue 9 item 2: a fault's stoppage flag is the OR of its reports.
pub async fn a_fault_stops_service_if_any_report_says_so<F: Factory>(f: &F) {
    use crate::records::{assert_rollups_match, fault, ingest, window};
    use liftwatch_core::ledger::Ledger;
    use liftwatch_testkit::{firm, project};
    let (s, _g) = f.open("stops_or").await;
    firm(&s, "zls").await;
    project(&s, "haibin", "zls", &[(0, None)]).await;
    let d = dev(0);
    let mut l = Ledger::new(chrono_tz::Asia::Shanghai);
    ingest(&s, &mut l, &[fault(d, 1, "2026-11-21T10:00:00+08:00", "f1", "brake_fault", false)]).await;
    ingest(&s, &mut l, &[fault(d, 2, "2026-11-21T10:01:00+08:00", "f1", "brake_fault", true)]).await;
    // And the other order, on another fault.
    ingest(&s, &mut l, &[fault(d, 4, "2026-11-22T10:01:00+08:00", "f2", "brake_fault", true)]).await;
    ingest(&s, &mut l, &[fault(d, 3, "2026-11-22T10:00:00+08:00", "f2", "brake_fault", false)]).await;
    let k = s.project_kpis("haibin", window()).await.unwrap().unwrap();
    assert_eq!((k.equipment_faults, k.downtime.open), (2, 2), "both are stoppages");
    assert_rollups_match(&s, &l).await;
}

/// The gateway's probe (is the store taking data now?) stores nothing, not
/// even a dead letter; a message dead-lettered by the gateway is kept whole;
/// the health answers.
pub async fn a_probe_stores_nothing_and_health_answers<F: Factory>(f: &F) {
    let (s, _g) = f.open("probe").await;
    register(&s, 1).await;
    let mut batch = messages(&random_events(3, 40, 1), 10);
    let topic = topic_for(&dev(0));
    let junk = b"not json".to_vec();
    let decoded = decode_message(&topic, &junk, now());
    batch.push(Inbound { topic: topic.clone(), payload: junk.clone(), received_at: now(), decoded });
    s.probe(&batch).await.unwrap();
    assert!(s.rollup_rows().await.unwrap().is_empty(), "a probe is rolled back");
    assert!(s.device_telemetry(dev(0)).await.unwrap().is_none());
    assert!(s.dead_letters(&DeadLetterFilter::default()).await.unwrap().is_empty());
    assert_eq!(s.ingest(&batch).await.unwrap().new_events, 40, "the probed events are still new");
    s.dead_letter(&batch[0], "store_refused", "the database refused the data").await.unwrap();
    let dl = s
        .dead_letters(&DeadLetterFilter { reason_code: Some("store_refused".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!((dl.len(), dl[0].payload.as_bytes(), dl[0].topic.as_str()), (1, &batch[0].payload[..], topic.as_str()));
    s.ping().await.unwrap();
    s.check().await.unwrap();
    let pool = s.pool_status().unwrap();
    assert!(pool.available <= pool.size && pool.size <= pool.max_size, "{pool:?}");
}
