//! What firms and regulators record: cause corrections and arrivals change
//! the KPIs at once (and agree with the core's ledger, also under concurrent
//! ingest), visits, the reclassification share per firm, regulator records
//! and their firm scoping: conformance cases, generic over a [`Factory`].

use chrono_tz::Asia::Shanghai;
use liftwatch_core::ledger::Ledger;
use liftwatch_core::protocol::{
    decode_message, to_array_payload, topic_for, Body, Cause, DeviceCode, Event, FaultCode, Timestamp,
};
use liftwatch_core::records::{
    Complaint, ComplaintSubject, InspectionKind, NewAccident, NewComplaint, NewFirmGrade, NewInspection,
    NewRectificationOrder, NewVisit, Visit, VisitKind,
};
use liftwatch_core::registry::GradeLetter;
use liftwatch_core::window::Window;
use liftwatch_store::prelude::*;
use liftwatch_store::records::RecordFilter;
use liftwatch_store::{EventStore, Inbound, Store, StoreError};

use crate::Factory;
use liftwatch_testkit::{day, dev, firm, now, project, t};

pub(crate) fn ev(d: DeviceCode, seq: u64, ts: &str, body: Body) -> Event {
    Event { device: d, seq, ts: t(ts), ts_offset: 8 * 3600, body }
}

pub(crate) fn fault(d: DeviceCode, seq: u64, ts: &str, id: &str, code: &str, stops: bool) -> Event {
    ev(d, seq, ts, Body::Fault { fault_id: id.into(), code: FaultCode::parse(code), stops_service: stops, cause: None })
}

pub(crate) fn cleared(d: DeviceCode, seq: u64, ts: &str, id: &str) -> Event {
    ev(d, seq, ts, Body::FaultCleared { fault_id: id.into() })
}

fn run(d: DeviceCode, seq: u64, ts: &str) -> Event {
    let start = t(ts);
    Event {
        device: d,
        seq,
        ts: start,
        ts_offset: 8 * 3600,
        body: Body::Run { end: Timestamp(start.0 + 20_000_000), from: 1, to: 3, doors: None },
    }
}

fn messages(events: &[Event]) -> Vec<Inbound> {
    let mut by_dev: std::collections::BTreeMap<DeviceCode, Vec<&Event>> = Default::default();
    for e in events {
        by_dev.entry(e.device).or_default().push(e);
    }
    let mut out = Vec::new();
    for (d, evs) in by_dev {
        for chunk in evs.chunks(50) {
            let payload = to_array_payload(chunk.iter().copied()).into_bytes();
            let topic = topic_for(&d);
            let decoded = decode_message(&topic, &payload, now());
            assert!(decoded.rejects.is_empty(), "{:?}", decoded.rejects);
            out.push(Inbound { topic, payload, received_at: now(), decoded });
        }
    }
    out
}

pub(crate) async fn ingest<S: EventStore + Store>(s: &S, l: &mut Ledger, events: &[Event]) {
    s.ingest(&messages(events)).await.unwrap();
    for e in events {
        l.apply(e);
    }
}

pub(crate) async fn assert_rollups_match<S: Store>(s: &S, l: &Ledger) {
    let stored = s.rollup_rows().await.unwrap();
    let expected: Vec<_> = l.rows().map(|(d, day, r)| (d, day, r.clone())).collect();
    assert_eq!(stored, expected);
}

fn perm<T>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Permanent(_)))
}

fn nf<T>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::NotFound(_)))
}

pub(crate) fn window() -> Window {
    Window::rolling(day("2026-11-28")).unwrap()
}

pub async fn cause_correction_changes_project_kpis_at_once_and_keeps_history<F: Factory>(f: &F) {
    let (s, _g) = f.open("rec_cause").await;
    firm(&s, "zls").await;
    project(&s, "haibin", "zls", &[(0, None)]).await;
    let d = dev(0);
    let mut l = Ledger::new(Shanghai);
    let mut events: Vec<Event> = (0..20).map(|i| run(d, i, "2026-11-01T09:00:00+08:00")).collect();
    events.push(fault(d, 100, "2026-11-01T10:00:00+08:00", "f1", "brake_fault", true));
    events.push(cleared(d, 101, "2026-11-01T10:30:00+08:00", "f1"));
    ingest(&s, &mut l, &events).await;

    let k = s.project_kpis("haibin", window()).await.unwrap().unwrap();
    assert_eq!((k.runs, k.equipment_faults, k.downtime.count), (20, 1, 1));
    assert_eq!(k.downtime.mean_minutes, Some(30.0));

    // Equipment → external: no longer an equipment fault nor an equipment stoppage.
    let t1 = t("2026-11-05T09:00:00+08:00");
    let v = s
        .correct_fault_cause(Scope::All, d, "f1", Cause::External, "firm:zls", "grid outage, utility notice", t1)
        .await
        .unwrap();
    l.correct_cause(d, "f1", Cause::External, "firm:zls", "grid outage, utility notice", t1).unwrap();
    assert_eq!((v.cause, v.original_cause, v.code.as_str()), (Cause::External, Cause::Equipment, "brake_fault"));
    assert_eq!(
        (v.started_at, v.cleared_at, v.stops_service),
        (t("2026-11-01T10:00:00+08:00"), Some(t("2026-11-01T10:30:00+08:00")), true)
    );
    let k = s.project_kpis("haibin", window()).await.unwrap().unwrap();
    assert_eq!((k.equipment_faults, k.downtime.count, k.downtime.open), (0, 0, 0));
    assert_eq!(k.downtime.mean_minutes, None);
    assert_eq!(k.fault_rate_per_10k, Some(0.0));
    assert_rollups_match(&s, &l).await;

    // Back to equipment: restored.
    let t2 = t("2026-11-06T09:00:00+08:00");
    let v = s
        .correct_fault_cause(Scope::All, d, "f1", Cause::Equipment, "regulator", "the outage was after the fault", t2)
        .await
        .unwrap();
    l.correct_cause(d, "f1", Cause::Equipment, "regulator", "the outage was after the fault", t2).unwrap();
    let k = s.project_kpis("haibin", window()).await.unwrap().unwrap();
    assert_eq!((k.equipment_faults, k.downtime.count), (1, 1));
    assert_eq!(k.downtime.mean_minutes, Some(30.0));
    assert_rollups_match(&s, &l).await;

    // The whole history, oldest first.
    let hist: Vec<_> = v.corrections.iter().map(|c| (c.at, c.by.as_str(), c.from, c.to, c.reason.as_str())).collect();
    assert_eq!(
        hist,
        vec![
            (t1, "firm:zls", Cause::Equipment, Cause::External, "grid outage, utility notice"),
            (t2, "regulator", Cause::External, Cause::Equipment, "the outage was after the fault"),
        ]
    );
    assert_eq!(s.fault(Scope::All, d, "f1").await.unwrap().unwrap(), v);

    // Repeating the latest correction is kept in the history (who confirmed
    // what, and when) and changes no KPI (pilot::decide_correction).
    // (A firm's confirmation is refused: the regulator's correction stands.)
    assert!(matches!(
        s.correct_fault_cause(Scope::All, d, "f1", Cause::Equipment, "firm:zls", "retry", now()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(l.correct_cause(d, "f1", Cause::Equipment, "firm:zls", "retry", now()).is_err());
    let again =
        s.correct_fault_cause(Scope::All, d, "f1", Cause::Equipment, "regulator", "retry", now()).await.unwrap();
    let o = l.correct_cause(d, "f1", Cause::Equipment, "regulator", "retry", now()).unwrap();
    assert!(!o.cause_changed);
    assert_eq!(again.corrections[..2], v.corrections[..]);
    let last = again.corrections.last().unwrap();
    assert_eq!(
        (again.corrections.len(), last.from, last.to, last.by.as_str()),
        (3, Cause::Equipment, Cause::Equipment, "regulator")
    );
    assert_eq!((again.cause, again.original_cause), (v.cause, v.original_cause));
    assert_rollups_match(&s, &l).await;

    // A clearing arriving after corrections keeps them.
    let mut l2 = l.clone();
    let late = vec![cleared(d, 102, "2026-11-01T10:20:00+08:00", "f1")];
    ingest(&s, &mut l2, &late).await;
    let v = s.fault(Scope::All, d, "f1").await.unwrap().unwrap();
    assert_eq!((v.corrections.len(), v.cleared_at), (3, Some(t("2026-11-01T10:20:00+08:00"))));
    assert_eq!(s.project_kpis("haibin", window()).await.unwrap().unwrap().downtime.mean_minutes, Some(20.0));
    assert_rollups_match(&s, &l2).await;

    // Listing by local day.
    let all = s.faults(Scope::All, d, Some(day("2026-11-01")), Some(day("2026-11-01")), 100, 0).await.unwrap();
    assert_eq!(all.len(), 1);
    assert!(s.faults(Scope::All, d, Some(day("2026-11-02")), None, 100, 0).await.unwrap().is_empty());
}

pub async fn correction_refusals<F: Factory>(f: &F) {
    let (s, _g) = f.open("rec_cause_err").await;
    firm(&s, "zls").await;
    project(&s, "haibin", "zls", &[(0, None)]).await;
    let d = dev(0);
    let mut l = Ledger::new(Shanghai);
    // Only the clearing of f2 has arrived: the box has not reported the fault.
    ingest(
        &s,
        &mut l,
        &[
            fault(d, 1, "2026-11-01T10:00:00+08:00", "f1", "door_open_fault", false),
            cleared(d, 2, "2026-11-01T10:05:00+08:00", "f2"),
        ],
    )
    .await;
    assert!(nf(&s.correct_fault_cause(Scope::All, d, "nope", Cause::External, "regulator", "x", now()).await));
    assert!(nf(&s.correct_fault_cause(Scope::All, d, "f2", Cause::External, "regulator", "x", now()).await));
    assert!(nf(&s.correct_fault_cause(Scope::All, dev(9), "f1", Cause::External, "regulator", "x", now()).await));
    assert!(nf(&s.fault(Scope::All, dev(9), "f1").await));
    assert_eq!(s.fault(Scope::All, d, "f2").await.unwrap(), None);
    assert_eq!(s.fault(Scope::All, d, "nope").await.unwrap(), None);
    assert!(perm(&s.correct_fault_cause(Scope::All, d, "f1", Cause::External, "regulator", "  ", now()).await));
    assert!(perm(
        &s.correct_fault_cause(Scope::All, d, &"x".repeat(65), Cause::External, "regulator", "r", now()).await
    ));
    assert!(perm(&s.correct_fault_cause(Scope::All, d, "f1", Cause::External, "regulator", "a\0b", now()).await));
    // Nothing changed.
    assert!(s.fault(Scope::All, d, "f1").await.unwrap().unwrap().corrections.is_empty());
    assert_rollups_match(&s, &l).await;
    // Confirming the box's own cause is kept (it pins the cause); so is
    // repeating it, which changes no KPI.
    let v = s
        .correct_fault_cause(Scope::All, d, "f1", Cause::Equipment, "firm:zls", "confirmed on site", now())
        .await
        .unwrap();
    l.correct_cause(d, "f1", Cause::Equipment, "firm:zls", "confirmed on site", now()).unwrap();
    assert_eq!(v.corrections.len(), 1);
    assert_eq!((v.corrections[0].from, v.corrections[0].to), (Cause::Equipment, Cause::Equipment));
    let v = s.correct_fault_cause(Scope::All, d, "f1", Cause::Equipment, "firm:zls", "again", now()).await.unwrap();
    l.correct_cause(d, "f1", Cause::Equipment, "firm:zls", "again", now()).unwrap();
    assert_eq!(v.corrections.len(), 2);
    assert_eq!((v.corrections[1].from, v.corrections[1].to), (Cause::Equipment, Cause::Equipment));
    assert_rollups_match(&s, &l).await;
}

pub async fn arrival_earliest_wins_and_pairs_with_a_later_alarm<F: Factory>(f: &F) {
    let (s, _g) = f.open("rec_arrival").await;
    firm(&s, "zls").await;
    project(&s, "haibin", "zls", &[(0, None)]).await;
    let d = dev(0);
    let mut l = Ledger::new(Shanghai);

    // Reported before the box's alarm: kept, counts nowhere yet.
    let v = s.report_arrival(d, "e1", t("2026-11-20T10:12:00+08:00")).await.unwrap();
    l.report_arrival(d, "e1", t("2026-11-20T10:12:00+08:00"));
    assert_eq!((v.alarm_at, v.arrived_at, v.rescue_minutes), (None, Some(t("2026-11-20T10:12:00+08:00")), None));
    let k = s.project_kpis("haibin", window()).await.unwrap().unwrap();
    assert_eq!((k.rescue.count, k.rescue.awaiting_arrival), (0, 0));
    assert_rollups_match(&s, &l).await;

    // The alarm pairs with it.
    ingest(
        &s,
        &mut l,
        &[ev(
            d,
            1,
            "2026-11-20T10:00:00+08:00",
            Body::Entrapment { incident_id: "e1".into(), fault_id: Some("f9".into()) },
        )],
    )
    .await;
    let k = s.project_kpis("haibin", window()).await.unwrap().unwrap();
    assert_eq!((k.rescue.count, k.rescue.mean_minutes, k.rescue.awaiting_arrival), (1, Some(12.0), 0));
    let v = s.entrapment(Scope::All, d, "e1").await.unwrap().unwrap();
    assert_eq!((v.rescue_minutes, v.fault_id.as_deref()), (Some(12.0), Some("f9")));

    // A later arrival changes nothing; an earlier one wins.
    let v = s.report_arrival(d, "e1", t("2026-11-20T10:20:00+08:00")).await.unwrap();
    assert_eq!(v.arrived_at, Some(t("2026-11-20T10:12:00+08:00")));
    let v = s.report_arrival(d, "e1", t("2026-11-20T10:05:00+08:00")).await.unwrap();
    l.report_arrival(d, "e1", t("2026-11-20T10:05:00+08:00"));
    assert_eq!(v.rescue_minutes, Some(5.0));
    assert_eq!(s.project_kpis("haibin", window()).await.unwrap().unwrap().rescue.mean_minutes, Some(5.0));
    // The box's own arrival, earlier still, wins too.
    ingest(&s, &mut l, &[ev(d, 2, "2026-11-20T10:03:00+08:00", Body::RescueArrived { incident_id: "e1".into() })])
        .await;
    assert_eq!(s.entrapment(Scope::All, d, "e1").await.unwrap().unwrap().rescue_minutes, Some(3.0));

    // An entrapment awaiting arrival, then reported.
    ingest(
        &s,
        &mut l,
        &[ev(d, 3, "2026-11-21T11:00:00+08:00", Body::Entrapment { incident_id: "e2".into(), fault_id: None })],
    )
    .await;
    let k = s.project_kpis("haibin", window()).await.unwrap().unwrap();
    assert_eq!((k.rescue.count, k.rescue.awaiting_arrival), (1, 1));
    s.report_arrival(d, "e2", t("2026-11-21T11:20:00+08:00")).await.unwrap();
    l.report_arrival(d, "e2", t("2026-11-21T11:20:00+08:00"));
    let k = s.project_kpis("haibin", window()).await.unwrap().unwrap();
    assert_eq!((k.rescue.count, k.rescue.mean_minutes, k.rescue.awaiting_arrival), (2, Some(11.5), 0));
    assert_rollups_match(&s, &l).await;

    assert!(matches!(s.report_arrival(dev(9), "e1", now()).await, Err(StoreError::NotFound(_))));
    assert!(matches!(s.report_arrival(d, "", now()).await, Err(StoreError::Permanent(_))));
    assert_eq!(s.entrapment(Scope::All, d, "never").await.unwrap(), None);
}

pub async fn visits_are_validated_and_listed_by_local_day<F: Factory>(f: &F) {
    let (s, _g) = f.open("rec_visits").await;
    firm(&s, "zls").await;
    project(&s, "haibin", "zls", &[(0, None)]).await;
    let d = dev(0);
    let v = |kind: VisitKind, a: &str, b: &str, tech: &str| NewVisit {
        kind,
        started_at: t(a),
        ended_at: t(b),
        technician: tech.into(),
    };
    assert!("teleport".parse::<VisitKind>().is_err());
    let bad = v(VisitKind::Onsite, "2026-11-01T10:00:00+08:00", "2026-11-01T09:00:00+08:00", " ");
    let msg = bad.validate().unwrap_err().to_string();
    assert!(msg.contains("ended_at") && msg.contains("technician"), "{msg}");
    assert!(matches!(s.add_visit(Scope::All, d, &bad, "firm:zls").await, Err(StoreError::Permanent(_))));
    let long = v(VisitKind::Onsite, "2026-11-01T10:00:00+08:00", "2026-11-01T11:00:00+08:00", &"T".repeat(101));
    assert!(long.validate().is_err());
    let ok = v(VisitKind::Onsite, "2026-11-01T23:30:00+08:00", "2026-11-02T00:10:00+08:00", "T-0042");
    assert!(matches!(s.add_visit(Scope::All, dev(9), &ok, "firm:zls").await, Err(StoreError::NotFound(_))));

    let a = s.add_visit(Scope::All, d, &ok, "firm:zls").await.unwrap();
    assert_eq!((a.kind.as_str(), a.technician.as_str(), a.recorded_by.as_str()), ("onsite", "T-0042", "firm:zls"));
    assert_eq!((a.started_at, a.ended_at), (ok.started_at, ok.ended_at));
    // Same start and end is a valid (instant) remote check; it is on 2026-11-02 local (2026-11-01 UTC).
    let rc = v(VisitKind::RemoteCheck, "2026-11-02T00:30:00+08:00", "2026-11-02T00:30:00+08:00", "T-7");
    let b = s.add_visit(Scope::All, d, &rc, "regulator").await.unwrap();
    assert!(b.id > a.id);

    let ids = |vs: Vec<Visit>| vs.into_iter().map(|v| v.id).collect::<Vec<_>>();
    assert_eq!(ids(s.visits(Scope::All, d, None, None, 100, 0).await.unwrap()), vec![a.id, b.id]);
    assert_eq!(
        ids(s.visits(Scope::All, d, Some(day("2026-11-02")), Some(day("2026-11-02")), 100, 0).await.unwrap()),
        vec![b.id]
    );
    assert_eq!(ids(s.visits(Scope::All, d, None, Some(day("2026-11-01")), 100, 0).await.unwrap()), vec![a.id]);
    assert_eq!(ids(s.visits(Scope::All, d, None, None, 1, 1).await.unwrap()), vec![b.id]);
    assert!(s.visits(Scope::All, d, Some(day("2026-11-03")), None, 100, 0).await.unwrap().is_empty());
}

pub async fn reclassification_share_per_firm_over_member_days<F: Factory>(f: &F) {
    let (s, _g) = f.open("rec_share").await;
    firm(&s, "zls").await;
    firm(&s, "abc").await;
    firm(&s, "idle").await;
    // dev1 belongs to haibin only from 2026-11-10.
    project(&s, "haibin", "zls", &[(0, None), (1, Some("2026-11-10"))]).await;
    project(&s, "other", "abc", &[(2, None)]).await;
    let mut l = Ledger::new(Shanghai);
    ingest(
        &s,
        &mut l,
        &[
            fault(dev(0), 1, "2026-11-01T10:00:00+08:00", "f1", "brake_fault", true),
            fault(dev(0), 2, "2026-11-02T10:00:00+08:00", "f2", "door_close_fault", false),
            fault(dev(0), 3, "2026-11-03T10:00:00+08:00", "f3", "overspeed", true),
            fault(dev(0), 4, "2026-11-04T10:00:00+08:00", "f4", "power_failure", true),
            fault(dev(1), 5, "2026-11-05T10:00:00+08:00", "f5", "brake_fault", true),
            fault(dev(2), 6, "2026-11-06T10:00:00+08:00", "g1", "brake_fault", true),
        ],
    )
    .await;
    for (d, f, c, by) in [
        (dev(0), "f1", Cause::External, "firm:zls"),
        (dev(0), "f2", Cause::Usage, "firm:zls"),
        (dev(0), "f2", Cause::Equipment, "firm:zls"),
        (dev(0), "f4", Cause::Equipment, "firm:zls"),
        (dev(1), "f5", Cause::External, "firm:zls"),
        (dev(2), "g1", Cause::External, "firm:abc"),
    ] {
        s.correct_fault_cause(Scope::All, d, f, c, by, "checked on site", now()).await.unwrap();
        l.correct_cause(d, f, c, by, "checked on site", now()).unwrap();
    }
    assert_rollups_match(&s, &l).await;
    // zls: f1, f2, f3 first equipment (f4 was external, f5 is before dev1 joined); f1 reclassified away.
    let r = s.firm_reclassification("zls", window()).await.unwrap().unwrap();
    assert_eq!((r.firm.as_str(), r.faults_first_equipment, r.reclassified_away, r.share), ("zls", 3, 1, Some(0.3333)));
    assert_eq!(r.window, window());
    let r = s.firm_reclassification("abc", window()).await.unwrap().unwrap();
    assert_eq!((r.faults_first_equipment, r.reclassified_away, r.share), (1, 1, Some(1.0)));
    let r = s.firm_reclassification("idle", window()).await.unwrap().unwrap();
    assert_eq!((r.faults_first_equipment, r.reclassified_away, r.share), (0, 0, None));
    assert_eq!(s.firm_reclassification("nope", window()).await.unwrap(), None);
    let h1 = Window::parse_half("2026H1").unwrap();
    assert_eq!(s.firm_reclassification("zls", h1).await.unwrap().unwrap().faults_first_equipment, 0);
    // The KPIs agree: f2, f3, f4 are equipment faults of haibin.
    assert_eq!(s.project_kpis("haibin", window()).await.unwrap().unwrap().equipment_faults, 3);
}

pub async fn a_regulator_correction_is_not_the_firms_reclassification_and_stands<F: Factory>(f: &F) {
    let (s, _g) = f.open("rec_reg_stands").await;
    firm(&s, "zls").await;
    project(&s, "haibin", "zls", &[(0, None)]).await;
    let d = dev(0);
    let mut l = Ledger::new(Shanghai);
    ingest(
        &s,
        &mut l,
        &[
            fault(d, 1, "2026-11-01T10:00:00+08:00", "f1", "brake_fault", true),
            fault(d, 2, "2026-11-02T10:00:00+08:00", "f2", "brake_fault", true),
            fault(d, 3, "2026-11-03T10:00:00+08:00", "f3", "brake_fault", true),
        ],
    )
    .await;
    let share = || async { s.firm_reclassification("zls", window()).await.unwrap().unwrap() };
    // A regulator reclassifies f1 away from equipment: not the firm's doing.
    s.correct_fault_cause(Scope::All, d, "f1", Cause::External, "regulator", "grid outage, utility notice", now())
        .await
        .unwrap();
    l.correct_cause(d, "f1", Cause::External, "regulator", "grid outage, utility notice", now()).unwrap();
    let r = share().await;
    assert_eq!((r.faults_first_equipment, r.reclassified_away, r.share), (3, 0, Some(0.0)));
    assert_rollups_match(&s, &l).await;
    // The firm reclassifies f2: counted.
    s.correct_fault_cause(Scope::All, d, "f2", Cause::External, "firm:zls", "vandalism", now()).await.unwrap();
    l.correct_cause(d, "f2", Cause::External, "firm:zls", "vandalism", now()).unwrap();
    assert_eq!(share().await.reclassified_away, 1);
    assert_rollups_match(&s, &l).await;
    // The firm cannot override the regulator on f1 (nor confirm it): refused, nothing recorded.
    for c in [Cause::Equipment, Cause::External, Cause::Usage] {
        let e = s.correct_fault_cause(Scope::All, d, "f1", c, "firm:zls", "we disagree", now()).await.unwrap_err();
        assert!(matches!(&e, StoreError::Conflict(m) if m.contains("regulator")), "{e:?}");
        assert!(l.correct_cause(d, "f1", c, "firm:zls", "we disagree", now()).is_err());
    }
    let v = s.fault(Scope::All, d, "f1").await.unwrap().unwrap();
    assert_eq!((v.cause, v.corrections.len(), v.corrections[0].by.as_str()), (Cause::External, 1, "regulator"));
    // A regulator confirming the firm's reclassification of f2 makes the
    // decision the regulator's: out of the firm's share, cause unchanged.
    s.correct_fault_cause(Scope::All, d, "f2", Cause::External, "regulator", "confirmed", now()).await.unwrap();
    let o = l.correct_cause(d, "f2", Cause::External, "regulator", "confirmed", now()).unwrap();
    assert!(!o.cause_changed);
    assert_eq!(share().await.reclassified_away, 0);
    assert_rollups_match(&s, &l).await;
    // The firm reclassifies f3, then a regulator moves it to another
    // non-equipment cause: the regulator's decision, not counted.
    s.correct_fault_cause(Scope::All, d, "f3", Cause::Usage, "firm:zls", "passenger", now()).await.unwrap();
    l.correct_cause(d, "f3", Cause::Usage, "firm:zls", "passenger", now()).unwrap();
    assert_eq!(share().await.reclassified_away, 1);
    s.correct_fault_cause(Scope::All, d, "f3", Cause::External, "regulator", "it was the grid", now()).await.unwrap();
    l.correct_cause(d, "f3", Cause::External, "regulator", "it was the grid", now()).unwrap();
    assert_eq!(share().await.reclassified_away, 0);
    assert_rollups_match(&s, &l).await;
    // A regulator may change its own correction; the KPIs follow.
    s.correct_fault_cause(Scope::All, d, "f1", Cause::Equipment, "regulator", "the outage came after", now())
        .await
        .unwrap();
    l.correct_cause(d, "f1", Cause::Equipment, "regulator", "the outage came after", now()).unwrap();
    assert_eq!(s.project_kpis("haibin", window()).await.unwrap().unwrap().equipment_faults, 1);
    assert_rollups_match(&s, &l).await;
}

pub async fn regulator_records_crud_and_firm_scoping<F: Factory>(f: &F) {
    let (s, _g) = f.open("rec_reg").await;
    firm(&s, "zls").await;
    firm(&s, "abc").await;
    project(&s, "haibin", "zls", &[(0, None)]).await;
    project(&s, "other", "abc", &[(1, None)]).await;
    let by = "regulator";

    // Complaints.
    let c = |project: &str, device: Option<u32>, subject: ComplaintSubject| NewComplaint {
        project_id: project.into(),
        device_code: device.map(dev),
        received_on: day("2026-11-03"),
        safety_or_quality: subject,
        verified: false,
        maintenance_quality_caused: false,
        summary: "doors close too fast".into(),
    };
    let c1 = s.add_complaint(&c("haibin", Some(0), ComplaintSubject::Safety), by).await.unwrap();
    assert_eq!(
        (c1.project_id.as_str(), c1.firm_id.as_str(), c1.device_code.as_deref(), c1.recorded_by.as_str()),
        ("haibin", "zls", Some(dev(0).as_str()), "regulator")
    );
    let c2 = s.add_complaint(&c("other", None, ComplaintSubject::Quality), by).await.unwrap();
    assert!(
        perm(&s.add_complaint(&c("haibin", Some(1), ComplaintSubject::Safety), by).await),
        "dev1 never belonged to haibin"
    );
    assert!(nf(&s.add_complaint(&c("nope", None, ComplaintSubject::Safety), by).await));
    assert!(nf(&s.add_complaint(&c("haibin", Some(9), ComplaintSubject::Safety), by).await));
    assert!("billing".parse::<ComplaintSubject>().is_err());
    let mut empty = c("haibin", None, ComplaintSubject::Safety);
    empty.summary = " ".into();
    assert!(empty.validate().is_err());
    let ids = |v: Vec<Complaint>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let zls = RecordFilter { firm: Some("zls".into()), ..Default::default() };
    assert_eq!(ids(s.complaints(&zls).await.unwrap()), vec![c1.id]);
    assert_eq!(ids(s.complaints(&RecordFilter::default()).await.unwrap()), vec![c2.id, c1.id]);
    let other = RecordFilter { project: Some("other".into()), ..Default::default() };
    assert_eq!(ids(s.complaints(&other).await.unwrap()), vec![c2.id]);
    let zls_other = RecordFilter { project: Some("other".into()), firm: Some("zls".into()), ..Default::default() };
    assert!(s.complaints(&zls_other).await.unwrap().is_empty());
    let page = RecordFilter { limit: 1, offset: 1, ..Default::default() };
    assert_eq!(ids(s.complaints(&page).await.unwrap()), vec![c1.id]);
    assert_eq!(s.complaint(c1.id).await.unwrap().unwrap(), c1);
    assert_eq!(s.complaint(9999).await.unwrap(), None);
    let v = s.verify_complaint(c1.id, true, true).await.unwrap().unwrap();
    assert!(v.verified && v.maintenance_quality_caused);
    assert_eq!(s.verify_complaint(9999, true, true).await.unwrap(), None);

    // Inspections.
    let i = |kind: InspectionKind, device: Option<u32>| NewInspection {
        project_id: "haibin".into(),
        device_code: device.map(dev),
        kind,
        on: day("2026-10-10"),
        hazard_found: true,
        passed: false,
        summary: String::new(),
    };
    let i1 = s.add_inspection(&i(InspectionKind::PeriodicInspection, Some(0)), by).await.unwrap();
    assert_eq!(
        (i1.kind.as_str(), i1.on, i1.hazard_found, i1.passed),
        ("periodic_inspection", day("2026-10-10"), true, false)
    );
    let i2 = s.add_inspection(&i(InspectionKind::SpotCheck, None), by).await.unwrap();
    assert!("audit".parse::<InspectionKind>().is_err());
    assert_eq!(s.inspections(&zls).await.unwrap().len(), 2);
    let abc = RecordFilter { firm: Some("abc".into()), ..Default::default() };
    assert!(s.inspections(&abc).await.unwrap().is_empty());
    assert_eq!(s.inspection(i2.id).await.unwrap().unwrap().firm_id, "zls");

    // Accidents.
    let a = |project: &str, n: u32| NewAccident {
        project_id: project.into(),
        device_code: dev(n),
        on: day("2026-09-01"),
        caused_by_maintenance: true,
        summary: "brake failed".into(),
    };
    let a1 = s.add_accident(&a("other", 1), by).await.unwrap();
    assert_eq!((a1.device_code.as_str(), a1.firm_id.as_str()), (dev(1).as_str(), "abc"));
    assert!(perm(&s.add_accident(&a("other", 0), by).await));
    assert!(s.accidents(&zls).await.unwrap().is_empty());
    assert_eq!(s.accidents(&abc).await.unwrap(), vec![a1.clone()]);
    assert_eq!(s.accident(a1.id).await.unwrap().unwrap(), a1);

    // Rectification orders.
    let o = |issued: &str, deadline: &str, inspection: Option<i64>| NewRectificationOrder {
        project_id: "haibin".into(),
        issued_on: day(issued),
        deadline: day(deadline),
        reason: "periodic inspection failed".into(),
        inspection_id: inspection,
        finding_id: None,
    };
    let o1 = s.add_rectification_order(&o("2026-10-11", "2026-11-10", Some(i1.id)), by).await.unwrap();
    assert_eq!((o1.inspection_id, o1.completed_on, o1.firm_id.as_str()), (Some(i1.id), None, "zls"));
    assert!(!o1.overdue(day("2026-11-10")) && o1.overdue(day("2026-11-11")));
    assert!(perm(&s.add_rectification_order(&o("2026-10-11", "2026-10-10", None), by).await));
    assert!(perm(&s.add_rectification_order(&o("2026-10-11", "2026-11-10", Some(9999)), by).await));
    let mut wrong = o("2026-10-11", "2026-11-10", None);
    wrong.project_id = "other".into();
    wrong.inspection_id = Some(i1.id);
    assert!(perm(&s.add_rectification_order(&wrong, by).await), "inspection of another project");
    wrong.inspection_id = None;
    wrong.finding_id = Some("no-such-finding".into());
    assert!(perm(&s.add_rectification_order(&wrong, by).await));
    wrong.finding_id = None;
    let o2 = s.add_rectification_order(&wrong, by).await.unwrap();
    assert!(perm(&s.complete_rectification(o1.id, day("2026-10-01"), by).await));
    let done = s.complete_rectification(o1.id, day("2026-11-12"), by).await.unwrap().unwrap();
    assert_eq!((done.completed_on, done.completed_by.as_deref()), (Some(day("2026-11-12")), Some("regulator")));
    assert!(done.overdue(day("2026-12-01")), "completed two days late");
    assert_eq!(s.complete_rectification(9999, day("2026-11-12"), by).await.unwrap(), None);
    let orders = s.rectification_orders(&zls).await.unwrap();
    assert_eq!(orders, vec![done]);
    assert_eq!(s.rectification_orders(&abc).await.unwrap(), vec![o2.clone()]);
    assert_eq!(s.rectification_order(o2.id).await.unwrap().unwrap(), o2);
}

pub async fn firm_grades_keep_history_and_the_self_declaration_rule<F: Factory>(f: &F) {
    let (s, _g) = f.open("rec_grades").await;
    firm(&s, "zls").await;
    let by = "regulator";
    let ng = |year: i32, grade: GradeLetter, self_declared: Option<bool>| NewFirmGrade { year, grade, self_declared };
    let (g, created) = s.put_firm_grade("zls", &ng(2024, GradeLetter::A, Some(true)), by).await.unwrap();
    assert!(created);
    assert_eq!((g.year, g.grade.as_str(), g.self_declared), (2024, "A", Some(true)));
    s.put_firm_grade("zls", &ng(2025, GradeLetter::B, None), by).await.unwrap();
    assert_eq!(s.firm("zls").await.unwrap().unwrap().firm.grade, GradeLetter::B);
    // Correcting a year replaces it.
    let (g, created) = s.put_firm_grade("zls", &ng(2025, GradeLetter::C, Some(false)), by).await.unwrap();
    assert!(!created);
    assert_eq!((g.grade.as_str(), g.self_declared), ("C", Some(false)));
    assert_eq!(s.firm("zls").await.unwrap().unwrap().firm.grade, GradeLetter::C);
    // An older year does not change the current grade.
    s.put_firm_grade("zls", &ng(2020, GradeLetter::A, Some(false)), by).await.unwrap();
    assert_eq!(s.firm("zls").await.unwrap().unwrap().firm.grade, GradeLetter::C);
    let years: Vec<_> = s.firm_grades("zls").await.unwrap().unwrap().into_iter().map(|g| (g.year, g.grade)).collect();
    assert_eq!(years, vec![(2020, GradeLetter::A), (2024, GradeLetter::A), (2025, GradeLetter::C)]);
    // From 2021, no self-declaration → no B or better (N §III.(三).2).
    assert!(ng(2021, GradeLetter::B, Some(false)).validate().is_err());
    assert!(ng(2021, GradeLetter::C, Some(false)).validate().is_ok());
    assert!(ng(2021, GradeLetter::A, None).validate().is_ok());
    let put = |year, grade, declared| {
        let g = ng(year, grade, declared);
        let s = &s;
        async move { s.put_firm_grade("zls", &g, by).await }
    };
    assert!(matches!(put(2026, GradeLetter::A, Some(false)).await, Err(StoreError::Permanent(_))));
    assert!("E".parse::<GradeLetter>().is_err());
    assert!(matches!(put(1990, GradeLetter::A, None).await, Err(StoreError::Permanent(_))));
    let g = ng(2025, GradeLetter::A, None);
    assert!(matches!(s.put_firm_grade("nope", &g, by).await, Err(StoreError::NotFound(_))));
    assert_eq!(s.firm_grades("nope").await.unwrap(), None);
}

/// Deterministic pseudo-random faults, clearings, entrapments, arrivals, runs.
fn random_events(seed: u64, n: usize, devices: u32, seq0: u64) -> Vec<Event> {
    let mut x = seed.max(1);
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let base = t("2026-09-01T00:00:00+08:00").0;
    (0..n)
        .map(|i| {
            let d = dev((next() % devices as u64) as u32);
            let ts = Timestamp(base + (next() % (80 * 86_400)) as i64 * 1_000_000);
            let id: Box<str> = format!("i{}", next() % 12).into();
            let body = match next() % 8 {
                0..=2 => Body::Run { end: Timestamp(ts.0 + 25_000_000), from: 1, to: 4, doors: None },
                3 | 4 => Body::Fault {
                    fault_id: id,
                    code: FaultCode::parse(
                        ["brake_fault", "power_failure", "E9", "door_close_fault"][(next() % 4) as usize],
                    ),
                    stops_service: next() % 2 == 0,
                    cause: None,
                },
                5 => Body::FaultCleared { fault_id: id },
                6 => Body::Entrapment { incident_id: id, fault_id: None },
                _ => Body::RescueArrived { incident_id: id },
            };
            Event { device: d, seq: seq0 + i as u64, ts, ts_offset: 8 * 3600, body }
        })
        .collect()
}

pub async fn corrections_and_arrivals_concurrent_with_ingest_keep_rollups_exact<F: Factory>(f: &F) {
    let (s, _g) = f.open("rec_conc").await;
    firm(&s, "zls").await;
    project(&s, "haibin", "zls", &[(0, None), (1, None)]).await;
    let mut l = Ledger::new(Shanghai);
    let first = random_events(42, 600, 2, 0);
    ingest(&s, &mut l, &first).await;
    // Faults whose start is stored: these can be corrected whatever the ingest does meanwhile.
    let started: Vec<(DeviceCode, Box<str>)> =
        l.faults.iter().filter(|(_, r)| r.start.is_some()).map(|(k, _)| k.clone()).collect();
    assert!(started.len() > 5);
    let mut plan = Vec::new();
    for (i, (d, f)) in started.iter().cycle().take(60).enumerate() {
        plan.push((*d, f.clone(), Cause::ALL[i % 4], Timestamp(now().0 + i as i64)));
    }
    let arrivals: Vec<(DeviceCode, String, Timestamp)> = (0..40)
        .map(|i| {
            (
                dev(i % 2),
                format!("i{}", i % 12),
                Timestamp(t("2026-09-01T00:00:00+08:00").0 + i as i64 * 3_600_000_000 * 40),
            )
        })
        .collect();
    let second = random_events(43, 1500, 2, 10_000);

    let s1 = s.clone();
    let msgs = messages(&second);
    let ingest_task = tokio::spawn(async move {
        for b in msgs.chunks(2) {
            loop {
                match s1.ingest(b).await {
                    Ok(_) => break,
                    Err(e) if e.is_transient() => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }
    });
    let s2 = s.clone();
    let plan2 = plan.clone();
    let correct_task = tokio::spawn(async move {
        for (d, f, c, at) in plan2 {
            loop {
                match s2.correct_fault_cause(Scope::All, d, &f, c, "firm:zls", "on-site check", at).await {
                    Ok(_) => break,
                    Err(e) if e.is_transient() => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }
    });
    let s3 = s.clone();
    let arrivals2 = arrivals.clone();
    let arrival_task = tokio::spawn(async move {
        for (d, i, at) in arrivals2 {
            loop {
                match s3.report_arrival(d, &i, at).await {
                    Ok(_) => break,
                    Err(e) if e.is_transient() => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }
    });
    ingest_task.await.unwrap();
    correct_task.await.unwrap();
    arrival_task.await.unwrap();

    // The final state does not depend on the interleaving: all events, then
    // the corrections in their order, and the arrivals (earliest wins).
    for e in &second {
        l.apply(e);
    }
    for (d, f, c, at) in &plan {
        l.correct_cause(*d, f, *c, "firm:zls", "on-site check", *at).unwrap();
    }
    for (d, i, at) in &arrivals {
        l.report_arrival(*d, i, *at);
    }
    assert_rollups_match(&s, &l).await;
    for (d, f) in &started {
        let v = s.fault(Scope::All, *d, f).await.unwrap().unwrap();
        assert_eq!(Some(v.cause), l.faults[&(*d, f.clone())].cause(), "{d} {f}");
    }
}
