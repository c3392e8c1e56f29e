//! KPI edge cases of MISSION.md ("The KPIs") and the worked examples of
//! docs/kpis.md, through the reference ledger.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::NaiveDate;
use chrono_tz::Asia::Shanghai;
use common::{dev, t, Elevator};
use liftwatch_core::kpi::{aggregate, reclassified_share, Commitment, KpiReport, Meets, Membership, Subject};
use liftwatch_core::ledger::{Applied, Ledger};
use liftwatch_core::protocol::{Cause, Event};
use liftwatch_core::window::Window;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn ledger(events: &[Event]) -> Ledger {
    let mut l = Ledger::new(Shanghai);
    for e in events {
        l.apply(e);
    }
    l
}

fn project_kpis(l: &Ledger, w: Window, members: &[Membership], c: Option<Commitment>) -> KpiReport {
    let agg = aggregate(&w, members, l.rows());
    KpiReport::new(Subject::Project("p".into()), w, agg.elevators, &agg.totals, c)
}

fn member(n: u32, since: &str, until: Option<&str>) -> Membership {
    Membership { device: dev(n), since: d(since), until: until.map(d) }
}

const COMMIT: Commitment = Commitment { fault_rate_per_10k: 5.0, downtime_minutes: 60.0, rescue_minutes: 20.0 };

/// docs/kpis.md, worked example 1: one project, two elevators, 20,000 runs,
/// three faults of which two are equipment-caused, one closed stoppage, one
/// open, two entrapments of which one has an arrival.
#[test]
fn worked_example_1() {
    let (mut a, mut b) = (Elevator::new(1), Elevator::new(2));
    let mut evs = a.runs("2026-09-01T09:00:00+08:00", 12_000);
    evs.extend(b.runs("2026-10-15T09:00:00+08:00", 8_000));
    // A: door fault stopping service 10:00, cleared 10:45 → 45 min downtime.
    evs.push(a.fault("2026-09-02T10:00:00+08:00", "f1", "door_open_fault", true));
    evs.push(a.cleared("2026-09-02T10:45:00+08:00", "f1"));
    // A: power failure (external by default): not counted.
    evs.push(a.fault("2026-09-03T11:00:00+08:00", "f2", "41", true));
    evs.push(a.cleared("2026-09-03T13:00:00+08:00", "f2"));
    // B: brake fault stopping service, still open.
    evs.push(b.fault("2026-11-20T08:00:00+08:00", "f3", "brake_fault", true));
    // B: entrapment 08:01, rescuer arrives 08:19:30 → 18.5 min; another awaiting.
    evs.push(b.entrapment("2026-11-20T08:01:00+08:00", "e1"));
    evs.push(b.arrived("2026-11-20T08:19:30+08:00", "e1"));
    evs.push(b.entrapment("2026-11-26T22:00:00+08:00", "e2"));
    let l = ledger(&evs);
    let k = project_kpis(
        &l,
        Window::rolling(d("2026-11-28")).unwrap(),
        &[member(1, "2026-01-01", None), member(2, "2026-01-01", None)],
        Some(COMMIT),
    );
    assert_eq!(k.elevators, 2);
    assert_eq!(k.runs, 20_000);
    assert_eq!(k.equipment_faults, 2);
    assert_eq!(k.fault_rate_per_10k, Some(1.0));
    assert_eq!((k.downtime.count, k.downtime.mean_minutes, k.downtime.open), (1, Some(45.0), 1));
    assert_eq!((k.rescue.count, k.rescue.mean_minutes, k.rescue.awaiting_arrival), (1, Some(18.5), 1));
    assert_eq!(k.meets_commitment, Some(Meets { fault_rate: Some(true), downtime: Some(true), rescue: Some(true) }));
    let json = serde_json::to_value(&k).unwrap();
    assert_eq!(json["project"], "p");
    assert_eq!(json["window"]["from"], "2026-05-28");
    assert_eq!(json["window"]["to"], "2026-11-27");
    assert_eq!(json["downtime"]["mean_minutes"], 45.0);
    assert_eq!(json["meets_commitment"]["rescue"], true);
}

/// docs/kpis.md, worked example 2: membership change and a correction.
/// Elevator 3 joins on 2026-10-01; its September runs and fault don't count.
/// A fault reclassified from equipment to external stops counting.
#[test]
fn worked_example_2() {
    let (mut a, mut c) = (Elevator::new(1), Elevator::new(3));
    let mut evs = a.runs("2026-10-10T09:00:00+08:00", 3_000);
    evs.extend(c.runs("2026-09-30T23:59:59+08:00", 1_000)); // day before joining
    evs.extend(c.runs("2026-10-01T00:00:00+08:00", 3_000)); // first day
    evs.push(c.fault("2026-09-30T12:00:00+08:00", "x1", "overspeed", false));
    evs.push(a.fault("2026-10-11T12:00:00+08:00", "a1", "door_close_fault", false));
    evs.push(a.fault("2026-10-12T12:00:00+08:00", "a2", "door_close_fault", false));
    evs.push(c.fault("2026-10-13T12:00:00+08:00", "c1", "controller_fault", false));
    let mut l = ledger(&evs);
    let members = [member(1, "2026-01-01", None), member(3, "2026-10-01", None)];
    let w = Window::rolling(d("2026-11-28")).unwrap();
    let k = project_kpis(&l, w, &members, Some(COMMIT));
    assert_eq!((k.runs, k.equipment_faults, k.fault_rate_per_10k), (6_000, 3, Some(5.0)));
    assert_eq!(k.meets_commitment.unwrap().fault_rate, Some(true), "5.0 ≤ 5.0 meets the commitment");
    l.correct_cause(
        dev(1),
        "a2",
        Cause::External,
        "firm:zls",
        "vandalised door, police report 17",
        t("2026-11-01T00:00:00Z"),
    )
    .unwrap();
    let k = project_kpis(&l, w, &members, Some(COMMIT));
    assert_eq!((k.equipment_faults, k.fault_rate_per_10k), (2, Some(3.3333)));
    let agg = aggregate(&w, &members, l.rows());
    assert_eq!(reclassified_share(&agg.totals), Some(1.0 / 3.0));
    assert_eq!(l.faults[&(dev(1), "a2".into())].corrections.len(), 1);
}

#[test]
fn no_runs_means_undefined_fault_rate_and_null_means() {
    let l = ledger(&[]);
    let k = project_kpis(&l, Window::rolling(d("2026-11-28")).unwrap(), &[member(1, "2026-01-01", None)], Some(COMMIT));
    assert_eq!(k.elevators, 1);
    assert_eq!(k.fault_rate_per_10k, None);
    assert_eq!(k.downtime.mean_minutes, None);
    assert_eq!(k.rescue.mean_minutes, None);
    assert_eq!(k.meets_commitment, Some(Meets { fault_rate: None, downtime: None, rescue: None }));
    let json = serde_json::to_value(&k).unwrap();
    assert!(json["fault_rate_per_10k"].is_null());
    assert!(json["downtime"]["mean_minutes"].is_null());
}

#[test]
fn window_edges_are_inclusive_and_use_local_days() {
    let mut a = Elevator::new(1);
    let evs = vec![
        a.run("2026-05-27T23:59:59.999+08:00"), // day before the window
        a.run("2026-05-27T16:00:00Z"),          // = 2026-05-28T00:00+08:00: first day
        a.run("2026-11-27T23:59:59.999+08:00"), // last day
        a.run("2026-11-27T16:00:00.000Z"),      // = 11-28 00:00 local: evaluation day, out
    ];
    let l = ledger(&evs);
    let k = project_kpis(&l, Window::rolling(d("2026-11-28")).unwrap(), &[member(1, "2020-01-01", None)], None);
    assert_eq!(k.runs, 2);
    assert_eq!(k.meets_commitment, None);
}

#[test]
fn downtime_counts_stoppages_begun_in_window_even_if_ended_after() {
    let mut a = Elevator::new(1);
    let evs = vec![
        a.fault("2026-11-27T23:00:00+08:00", "f", "safety_circuit_open", true),
        a.cleared("2026-11-28T01:30:00+08:00", "f"), // ends after the window: still counts
        a.fault("2026-05-27T23:00:00+08:00", "g", "safety_circuit_open", true), // began before: out
        a.cleared("2026-05-28T01:00:00+08:00", "g"),
    ];
    let k =
        project_kpis(&ledger(&evs), Window::rolling(d("2026-11-28")).unwrap(), &[member(1, "2020-01-01", None)], None);
    assert_eq!((k.downtime.count, k.downtime.mean_minutes), (1, Some(150.0)));
}

#[test]
fn non_stopping_and_non_equipment_faults_are_not_downtime() {
    let mut a = Elevator::new(1);
    let evs = vec![
        a.fault("2026-11-01T10:00:00+08:00", "ns", "door_open_fault", false),
        a.cleared("2026-11-01T11:00:00+08:00", "ns"),
        a.fault_with_cause("2026-11-02T10:00:00+08:00", "us", "door_open_fault", true, Cause::Usage),
        a.cleared("2026-11-02T11:00:00+08:00", "us"),
        a.fault("2026-11-03T10:00:00+08:00", "pf", "power_failure", true),
    ];
    let l = ledger(&evs);
    let k = project_kpis(&l, Window::rolling(d("2026-11-28")).unwrap(), &[member(1, "2020-01-01", None)], None);
    assert_eq!(k.equipment_faults, 1, "only the non-stopping door fault is equipment-caused");
    assert_eq!((k.downtime.count, k.downtime.open), (0, 0));
    let agg = aggregate(&Window::rolling(d("2026-11-28")).unwrap(), &[member(1, "2020-01-01", None)], l.rows());
    assert_eq!(agg.totals.faults, 3);
    assert_eq!(agg.totals.by_code["power_failure"].external, 1);
    assert_eq!(agg.totals.by_code["door_open_fault"].usage, 1);
}

#[test]
fn unknown_codes_count_only_when_corrected_to_equipment() {
    let mut a = Elevator::new(1);
    let mut l = ledger(&[a.run("2026-11-01T10:00:00+08:00"), a.fault("2026-11-01T10:00:00+08:00", "u", "E-99", true)]);
    let w = Window::rolling(d("2026-11-28")).unwrap();
    let m = [member(1, "2020-01-01", None)];
    assert_eq!(project_kpis(&l, w, &m, None).equipment_faults, 0);
    l.correct_cause(
        dev(1),
        "u",
        Cause::Equipment,
        "regulator",
        "inspection found a worn rope",
        t("2026-11-05T00:00:00Z"),
    )
    .unwrap();
    let k = project_kpis(&l, w, &m, None);
    assert_eq!((k.equipment_faults, k.downtime.open), (1, 1), "the correction makes it an open equipment stoppage");
    let agg = aggregate(&w, &m, l.rows());
    assert_eq!(agg.totals.reported_equipment_faults, 0, "reclassification *into* equipment is not gaming");
}

#[test]
fn every_correction_is_kept_and_the_latest_wins() {
    let mut a = Elevator::new(1);
    let mut l = ledger(&[a.fault("2026-11-01T10:00:00+08:00", "f", "door_open_fault", true)]);
    l.correct_cause(dev(1), "f", Cause::External, "firm:zls", "grid", t("2026-11-02T00:00:00Z")).unwrap();
    l.correct_cause(
        dev(1),
        "f",
        Cause::Equipment,
        "regulator",
        "not the grid: logs show a door motor fault",
        t("2026-11-03T00:00:00Z"),
    )
    .unwrap();
    let rec = &l.faults[&(dev(1), "f".into())];
    assert_eq!(
        rec.corrections.iter().map(|c| (c.from, c.to)).collect::<Vec<_>>(),
        vec![(Cause::Equipment, Cause::External), (Cause::External, Cause::Equipment)]
    );
    assert_eq!(rec.cause(), Some(Cause::Equipment));
    let w = Window::rolling(d("2026-11-28")).unwrap();
    assert_eq!(project_kpis(&l, w, &[member(1, "2020-01-01", None)], None).equipment_faults, 1);
    assert!(
        l.correct_cause(dev(1), "f", Cause::Usage, "firm:zls", "  ", t("2026-11-04T00:00:00Z")).is_err(),
        "reason required"
    );
    assert!(l.correct_cause(dev(1), "nope", Cause::Usage, "firm:zls", "x", t("2026-11-04T00:00:00Z")).is_err());
}

/// The policy of `pilot::decide_correction`, through the ledger: a request
/// that repeats the cause in force is kept in the history but moves no KPI
/// and no rollup row (the store had recorded nothing; the ledger had
/// recorded it — they now agree).
#[test]
fn a_repeated_correction_is_kept_but_changes_no_kpi() {
    let mut a = Elevator::new(1);
    let mut evs = a.runs("2026-11-01T09:00:00+08:00", 100);
    evs.push(a.fault("2026-11-01T10:00:00+08:00", "f", "brake_fault", true));
    evs.push(a.cleared("2026-11-01T10:30:00+08:00", "f"));
    let mut l = ledger(&evs);
    let o = l.correct_cause(dev(1), "f", Cause::External, "firm:zls", "grid", t("2026-11-02T00:00:00Z")).unwrap();
    assert!(o.cause_changed);
    let rows = l.rollups.clone();
    let o =
        l.correct_cause(dev(1), "f", Cause::External, "firm:zls", "grid (retry)", t("2026-11-02T00:01:00Z")).unwrap();
    assert!(!o.cause_changed);
    assert_eq!((o.entry.from, o.entry.to), (Cause::External, Cause::External));
    assert_eq!(l.rollups, rows, "no rollup row moves");
    let rec = &l.faults[&(dev(1), "f".into())];
    assert_eq!(rec.corrections.len(), 2, "both requests are in the history");
    let w = Window::rolling(d("2026-11-28")).unwrap();
    let k = project_kpis(&l, w, &[member(1, "2020-01-01", None)], None);
    assert_eq!((k.equipment_faults, k.downtime.count), (0, 0));
}

/// Back and forth: each change moves the KPIs, and returning to the first
/// cause restores exactly the rollups before the first correction.
#[test]
fn corrections_back_and_forth_restore_the_rollups() {
    let mut a = Elevator::new(1);
    let mut evs = a.runs("2026-11-01T09:00:00+08:00", 100);
    evs.push(a.fault("2026-11-01T10:00:00+08:00", "f", "brake_fault", true));
    evs.push(a.cleared("2026-11-01T10:30:00+08:00", "f"));
    let mut l = ledger(&evs);
    let before = l.rollups.clone();
    let w = Window::rolling(d("2026-11-28")).unwrap();
    let m = [member(1, "2020-01-01", None)];
    for (i, (to, equipment)) in
        [(Cause::External, 0), (Cause::Equipment, 1), (Cause::Usage, 0), (Cause::Equipment, 1)].into_iter().enumerate()
    {
        let at = t("2026-11-02T00:00:00Z").0 + i as i64;
        let o = l.correct_cause(dev(1), "f", to, "regulator", "reviewed", liftwatch_core::protocol::Timestamp(at));
        assert!(o.unwrap().cause_changed);
        assert_eq!(project_kpis(&l, w, &m, None).equipment_faults, equipment, "after {to}");
    }
    assert_eq!(l.rollups.values().map(|r| r.reclassified_from_equipment).sum::<i64>(), 0);
    assert_eq!(l.rollups, before, "the same rows as before any correction (the history differs)");
    assert_eq!(l.faults[&(dev(1), "f".into())].corrections.len(), 4);
}

#[test]
fn membership_history_counts_only_member_days() {
    let mut a = Elevator::new(1);
    let mut evs = a.runs("2026-07-31T12:00:00+08:00", 10); // last member day of the first stint
    evs.extend(a.runs("2026-08-15T12:00:00+08:00", 100)); // not a member
    evs.extend(a.runs("2026-09-01T12:00:00+08:00", 1000)); // member again
    let l = ledger(&evs);
    let m = [member(1, "2026-01-01", Some("2026-07-31")), member(1, "2026-09-01", None)];
    let k = project_kpis(&l, Window::rolling(d("2026-11-28")).unwrap(), &m, None);
    assert_eq!(k.runs, 1010);
    assert_eq!(k.elevators, 1, "one elevator, even with two stints");
    // An elevator that left before the window does not count as an elevator of it.
    let k = project_kpis(
        &l,
        Window::rolling(d("2026-11-28")).unwrap(),
        &[member(1, "2025-01-01", Some("2025-12-31"))],
        None,
    );
    assert_eq!((k.elevators, k.runs), (0, 0));
}

#[test]
fn rescue_counts_all_causes_and_earliest_arrival() {
    let mut a = Elevator::new(1);
    let evs = vec![
        a.fault("2026-11-01T10:00:00+08:00", "pf", "power_failure", true),
        a.entrapment("2026-11-01T10:00:30+08:00", "e"),
        a.arrived("2026-11-01T10:40:30+08:00", "e"),
        a.arrived("2026-11-01T10:20:30+08:00", "e"), // earlier report wins
        a.released("2026-11-01T10:50:00+08:00", "e"),
    ];
    let mut l = ledger(&evs);
    let w = Window::rolling(d("2026-11-28")).unwrap();
    let m = [member(1, "2020-01-01", None)];
    assert_eq!(project_kpis(&l, w, &m, None).rescue.mean_minutes, Some(20.0));
    // A later API report that is later than the box's changes nothing…
    l.report_arrival(dev(1), "e", t("2026-11-01T10:30:00+08:00"));
    assert_eq!(project_kpis(&l, w, &m, None).rescue.mean_minutes, Some(20.0));
    // …an earlier one wins.
    l.report_arrival(dev(1), "e", t("2026-11-01T10:10:30+08:00"));
    assert_eq!(project_kpis(&l, w, &m, None).rescue.mean_minutes, Some(10.0));
}

#[test]
fn arrival_before_alarm_and_clear_before_fault_pair_when_the_start_comes() {
    let mut a = Elevator::new(1);
    let arr = a.arrived("2026-11-01T10:20:00+08:00", "e");
    let clr = a.cleared("2026-11-01T11:00:00+08:00", "f");
    let mut l = ledger(&[arr, clr]);
    let w = Window::rolling(d("2026-11-28")).unwrap();
    let m = [member(1, "2020-01-01", None)];
    let k = project_kpis(&l, w, &m, None);
    assert_eq!((k.rescue.count, k.downtime.count, k.equipment_faults), (0, 0, 0), "nothing counts before the start");
    l.apply(&a.entrapment("2026-11-01T10:05:00+08:00", "e"));
    l.apply(&a.fault("2026-11-01T10:00:00+08:00", "f", "brake_fault", true));
    let k = project_kpis(&l, w, &m, None);
    assert_eq!((k.rescue.count, k.rescue.mean_minutes), (1, Some(15.0)));
    assert_eq!((k.downtime.count, k.downtime.mean_minutes, k.downtime.open), (1, Some(60.0), 0));
}

#[test]
fn duplicates_change_nothing_and_late_events_land_on_their_day() {
    let mut a = Elevator::new(1);
    let r = a.run("2026-06-10T08:00:00+08:00");
    let mut l = Ledger::new(Shanghai);
    assert_eq!(l.apply(&r), Applied::New);
    assert_eq!(l.apply(&r), Applied::Duplicate);
    let same_instant_other_spelling = liftwatch_core::protocol::Event { ts_offset: 0, ..r.clone() };
    assert_eq!(l.apply(&same_instant_other_spelling), Applied::Duplicate);
    // A firmware reset restarts seq: same seq, other ts → a different event.
    let reset = liftwatch_core::protocol::Event { ts: t("2026-06-11T08:00:00+08:00"), ..r.clone() };
    assert_eq!(l.apply(&reset), Applied::New);
    assert_eq!(l.rollups[&(dev(1), d("2026-06-10"))].runs, 1);
    assert_eq!(l.rollups[&(dev(1), d("2026-06-11"))].runs, 1);
}

#[test]
fn half_year_windows() {
    let mut a = Elevator::new(1);
    let mut evs = a.runs("2026-06-30T23:00:00+08:00", 3);
    evs.extend(a.runs("2026-07-01T00:30:00+08:00", 5));
    let l = ledger(&evs);
    let m = [member(1, "2020-01-01", None)];
    assert_eq!(project_kpis(&l, Window::parse_half("2026H1").unwrap(), &m, None).runs, 3);
    assert_eq!(project_kpis(&l, Window::parse_half("2026H2").unwrap(), &m, None).runs, 5);
}

#[test]
fn commitment_breaches_are_reported() {
    let mut a = Elevator::new(1);
    let mut evs = a.runs("2026-11-01T09:00:00+08:00", 1000);
    evs.push(a.fault("2026-11-02T10:00:00+08:00", "f", "door_open_fault", true));
    evs.push(a.cleared("2026-11-02T11:30:00+08:00", "f"));
    evs.push(a.entrapment("2026-11-03T10:00:00+08:00", "e"));
    evs.push(a.arrived("2026-11-03T10:35:00+08:00", "e"));
    let k = project_kpis(
        &ledger(&evs),
        Window::rolling(d("2026-11-28")).unwrap(),
        &[member(1, "2020-01-01", None)],
        Some(COMMIT),
    );
    assert_eq!(k.fault_rate_per_10k, Some(10.0));
    assert_eq!(k.meets_commitment, Some(Meets { fault_rate: Some(false), downtime: Some(false), rescue: Some(false) }));
}
