//! The rules of the pilot, each at its boundary with a fixed clock: fired
//! one step past it, not fired at it. Tests are named after the rule id they
//! prove (docs/rules.md links each rule to its test), then the lifecycle,
//! admission, bans and configuration.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use chrono::NaiveDate;
use common::{dev, t};
use liftwatch_core::completeness::{Completeness, DeviceTelemetry};
use liftwatch_core::incident::{Alarm, EntrapmentRecord, FaultRecord, FaultStart};
use liftwatch_core::kpi::{Commitment, KpiReport, Membership, Subject as KpiSubject};
use liftwatch_core::protocol::{Cause, DeviceCode, FaultCode, Timestamp, MICROS_PER_MINUTE};
use liftwatch_core::records::{
    Accident, Complaint, ComplaintSubject, FirmGrade, Inspection, InspectionKind, RectificationOrder, Visit, VisitKind,
};
use liftwatch_core::registry::{
    ElevatorSpec, Firm, GradeLetter, PilotForm, ProjectMode, ProjectRecord, ProjectSpec, ProjectStatus,
};
use liftwatch_core::rollup::DayRollup;
use liftwatch_core::rules::*;
use liftwatch_core::window::Window;

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;
const MIN: i64 = MICROS_PER_MINUTE;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Noon of a local day.
fn noon(day: &str) -> Timestamp {
    t(&format!("{day}T12:00:00+08:00"))
}

fn plus(ts: Timestamp, micros: i64) -> Timestamp {
    Timestamp(ts.0 + micros)
}

/// The fixed clock of most tests.
const TODAY: &str = "2026-06-15";

fn firm(id: &str) -> FirmFacts {
    FirmFacts {
        firm: Firm {
            id: id.into(),
            name: format!("{id} lifts"),
            grade: GradeLetter::A,
            self_declaration_url: Some("https://example.org/decl".into()),
        },
        grades: vec![],
    }
}

fn elevator(n: u32) -> ElevatorSpec {
    ElevatorSpec {
        device_code: dev(n),
        kind: "traction".into(),
        location: String::new(),
        insured_until: Some(d("2030-12-31")),
        since: None,
    }
}

fn project(id: &str, firm: &str, mode: ProjectMode, admitted: &str, elevators: &[u32]) -> ProjectFacts {
    let spec = ProjectSpec {
        id: id.into(),
        name: id.into(),
        firm_id: firm.into(),
        owner: String::new(),
        mode,
        admitted_on: d(admitted),
        commitment: Some(Commitment { fault_rate_per_10k: 5.0, downtime_minutes: 60.0, rescue_minutes: 20.0 }),
        elevators: elevators.iter().map(|n| elevator(*n)).collect(),
        pilot_form: PilotForm::default(),
    };
    let memberships =
        elevators.iter().map(|n| Membership { device: dev(*n), since: d(admitted), until: None }).collect();
    ProjectFacts {
        record: ProjectRecord { spec, status: ProjectStatus::Active, open_findings: 0, memberships },
        region: None,
        kpis: None,
    }
}

/// One iot project `haibin` of firm `zls`, admitted 2026-06-01 with
/// elevator 1, its box heard an hour ago: nothing is due on [`TODAY`].
fn world_at(now: Timestamp) -> Snapshot {
    let mut s = Snapshot::new(now, TZ);
    s.firms.push(firm("zls"));
    s.projects.push(project("haibin", "zls", ProjectMode::Iot, "2026-06-01", &[1]));
    s.telemetry.insert(dev(1), telemetry(plus(now, -HOUR)));
    s
}

fn world() -> Snapshot {
    world_at(noon(TODAY))
}

fn telemetry(last_seen: Timestamp) -> DeviceTelemetry {
    DeviceTelemetry { last_seen, seq_gaps: 0, events: 100, runs_by_odometer: 0, runs_reported: 0 }
}

fn eval(s: &Snapshot) -> Vec<FindingDraft> {
    evaluate(s, &RulesConfig::default())
}

/// The findings of one rule: (subject, action).
fn of(s: &Snapshot, rule: RuleId) -> Vec<(Subject, Action)> {
    eval(s).into_iter().filter(|f| f.rule == rule).map(|f| (f.subject, f.action)).collect()
}

fn actions(s: &Snapshot, rule: RuleId) -> Vec<Action> {
    of(s, rule).into_iter().map(|(_, a)| a).collect()
}

fn project_subject() -> Subject {
    Subject::Project("haibin".into())
}

fn open_finding(draft: FindingDraft, opened_at: Timestamp) -> OpenFinding {
    OpenFinding { id: format!("{}|{}", draft.rule, draft.subject), draft, opened_at, clearing: None }
}

/// Opens the finding the snapshot shows for `rule`, as the engine would, at `opened_at`.
fn with_open(mut s: Snapshot, rule: RuleId, opened_at: Timestamp) -> Snapshot {
    let f = eval(&s).into_iter().find(|f| f.rule == rule).expect("the rule fires");
    s.findings.push(open_finding(f, opened_at));
    s
}

#[test]
fn a_world_in_order_has_no_finding() {
    assert_eq!(eval(&world()), vec![]);
}

// ---- entry conditions kept (A1 §IV.(一).4) ----

#[test]
fn a1_iv_1_4_self_declaration() {
    let mut s = world();
    s.firms[0].firm.self_declaration_url = Some("  ".into());
    assert_eq!(of(&s, RuleId::SelfDeclarationLapsed), [(project_subject(), Action::Exit)]);
    let f = eval(&s).into_iter().find(|f| f.rule == RuleId::SelfDeclarationLapsed).unwrap();
    assert_eq!(
        (f.project.as_deref(), f.firm.as_deref(), f.severity),
        (Some("haibin"), Some("zls"), Severity::Critical)
    );
    assert!(f.summary.zh.contains("自我声明") && f.summary.en.contains("self-declaration"));
    s.firms[0].firm.self_declaration_url = Some("https://x/d".into());
    assert!(of(&s, RuleId::SelfDeclarationLapsed).is_empty());
}

#[test]
fn a1_iv_1_4_insurance() {
    let at = |until: &str| {
        let mut s = world();
        s.projects[0].record.spec.elevators[0].insured_until = Some(d(until));
        actions(&s, RuleId::InsuranceLapsed)
    };
    assert_eq!(at("2026-06-14"), [Action::Exit], "ended yesterday");
    assert_eq!(at(TODAY), [Action::Notice], "covered today, ends within 30 days");
    assert_eq!(at("2026-07-14"), [Action::Notice], "ends before the horizon");
    assert_eq!(at("2026-07-15"), [], "covered on the horizon day: 30 days ahead");
    // No cover recorded on the elevator: the project's (form A1-2) counts; none at all is not insured.
    let mut s = world();
    s.projects[0].record.spec.elevators[0].insured_until = None;
    assert_eq!(actions(&s, RuleId::InsuranceLapsed), [Action::Exit]);
    s.projects[0].record.spec.pilot_form.insured_until = Some(d("2027-01-01"));
    assert_eq!(actions(&s, RuleId::InsuranceLapsed), []);
    let f = {
        let mut s = world();
        s.projects[0].record.spec.elevators[0].insured_until = Some(d("2026-06-14"));
        eval(&s).remove(0)
    };
    assert_eq!(f.evidence.figures["elevators"][0]["insured_until"], "2026-06-14");
}

#[test]
fn a1_iv_1_4_grade() {
    let grade = |year, grade| FirmGrade {
        firm_id: "zls".into(),
        year,
        grade,
        self_declared: Some(true),
        recorded_by: "regulator".into(),
        recorded_at: Timestamp(0),
    };
    let mut s = world();
    s.firms[0].grades.push(grade(2025, GradeLetter::C));
    assert_eq!(of(&s, RuleId::GradeLapsed), [(project_subject(), Action::Exit)], "last year's record: C");
    s.firms[0].grades = vec![grade(2025, GradeLetter::B), grade(2026, GradeLetter::D)];
    assert!(of(&s, RuleId::GradeLapsed).is_empty(), "last year's B counts, not this year's");
    s.firms[0].grades.clear();
    s.firms[0].firm.grade = GradeLetter::C;
    assert_eq!(actions(&s, RuleId::GradeLapsed), [Action::Exit], "no record: the current grade");
}

// ---- the maintenance plan ----

#[test]
fn a1_i_2_1_iot_monitoring() {
    let now = noon(TODAY);
    let silent = |for_micros: i64| {
        let mut s = world();
        s.telemetry.insert(dev(1), telemetry(plus(now, -for_micros)));
        actions(&s, RuleId::IotMonitoring)
    };
    assert_eq!(silent(24 * HOUR), [], "silent exactly 24 hours");
    assert_eq!(silent(24 * HOUR + 1), [Action::Notice]);
    assert_eq!(silent(7 * DAY - 1), [Action::Notice]);
    assert_eq!(silent(7 * DAY), [Action::Rectify]);
    assert_eq!(silent(30 * DAY), [Action::Rectify], "silence before the admission counts from it (14.5 days)");
    let mut s = admitted_early(ProjectMode::Iot, now);
    s.visits.push(visit(1, dev(1), VisitKind::Onsite, noon("2026-06-01")));
    s.telemetry.insert(dev(1), telemetry(plus(now, -30 * DAY + 1)));
    assert_eq!(actions(&s, RuleId::IotMonitoring), [Action::Rectify]);
    s.telemetry.insert(dev(1), telemetry(plus(now, -30 * DAY)));
    assert_eq!(actions(&s, RuleId::IotMonitoring), [Action::Exit], "30 days");
    // Never heard: silent since the obligation began (admission day 2026-06-01, 14.5 days).
    let mut s = world();
    s.telemetry.clear();
    assert_eq!(actions(&s, RuleId::IotMonitoring), [Action::Rectify]);
    // Runs missing by the odometer.
    let missing = |reported: i64, by_odometer: i64| {
        let mut s = world();
        let c = Completeness {
            runs_reported: reported,
            runs_by_odometer: by_odometer,
            runs_share: liftwatch_core::completeness::runs_share(reported, by_odometer),
            counter_pairs: 3,
            counter_resets: 0,
        };
        s.completeness.insert(dev(1), c);
        s
    };
    assert_eq!(actions(&missing(950, 1000), RuleId::IotMonitoring), [], "exactly 5 % missing");
    assert_eq!(actions(&missing(949, 1000), RuleId::IotMonitoring), [Action::Notice]);
    assert_eq!(actions(&missing(0, 99), RuleId::IotMonitoring), [], "too few runs counted to measure");
    let s = with_open(missing(900, 1000), RuleId::IotMonitoring, plus(now, -7 * DAY));
    assert_eq!(actions(&s, RuleId::IotMonitoring), [Action::Rectify], "it persisted a week");
    // Not an iot project: no real-time monitoring to lose.
    let mut s = world();
    s.projects[0].record.spec.mode = ProjectMode::RemotePension;
    s.telemetry.clear();
    assert_eq!(actions(&s, RuleId::IotMonitoring), []);
}

fn visit(id: i64, device: DeviceCode, kind: VisitKind, at: Timestamp) -> Visit {
    Visit {
        id,
        device_code: device.as_str().to_owned(),
        kind,
        started_at: at,
        ended_at: at,
        technician: "T-1".into(),
        recorded_by: "firm:zls".into(),
        recorded_at: at,
    }
}

/// haibin admitted on 2026-01-01 (so the admission is not the latest maintenance).
fn admitted_early(mode: ProjectMode, now: Timestamp) -> Snapshot {
    let mut s = world_at(now);
    s.projects[0] = project("haibin", "zls", mode, "2026-01-01", &[1]);
    s.projects[0].record.spec.elevators[0].insured_until = Some(d("2027-12-31"));
    s
}

#[test]
fn a1_iii_1_onsite_interval() {
    // Last on-site visit 2026-03-15, iot: 3 months, due by 2026-06-15.
    let at = |day: &str, mode: ProjectMode| {
        let mut s = admitted_early(mode, noon(day));
        s.visits.push(visit(7, dev(1), VisitKind::Onsite, noon("2026-03-15")));
        s.visits.push(visit(8, dev(1), VisitKind::RemoteCheck, noon(day)));
        of(&s, RuleId::OnsiteInterval)
    };
    assert_eq!(at("2026-06-15", ProjectMode::Iot), [(Subject::Elevator(dev(1)), Action::Notice)], "due today");
    assert_eq!(at("2026-06-16", ProjectMode::Iot), [(Subject::Elevator(dev(1)), Action::Rectify)], "3 months + 1 day");
    assert_eq!(at("2026-06-08", ProjectMode::Iot), [(Subject::Elevator(dev(1)), Action::Notice)], "7 days before");
    assert_eq!(at("2026-06-07", ProjectMode::Iot), [], "8 days before: no notice yet");
    assert_eq!(at("2026-06-15", ProjectMode::RemotePension).len(), 1);
    assert_eq!(at("2026-05-15", ProjectMode::RemoteFullService)[0].1, Action::Notice, "2 months: due 05-15");
    assert_eq!(at("2026-05-16", ProjectMode::RemoteFullService)[0].1, Action::Rectify);
    assert_eq!(at("2026-04-15", ProjectMode::Remote)[0].1, Action::Notice, "1 month: due 04-15");
    assert_eq!(at("2026-04-16", ProjectMode::Remote)[0].1, Action::Rectify);
    // The box's maintenance event counts like a recorded visit, and is cited.
    let mut s = admitted_early(ProjectMode::Iot, noon("2026-06-16"));
    s.box_maintenance.push(BoxMaintenance { device: dev(1), visit_id: "v-9".into(), at: noon("2026-03-16") });
    let f = eval(&s).into_iter().find(|f| f.rule == RuleId::OnsiteInterval).unwrap();
    assert_eq!(f.action, Action::Notice, "due by 06-16 after the box's visit of 03-16");
    assert_eq!(f.evidence.records[0].kind, "box_maintenance");
    assert_eq!(f.evidence.figures["due_by"], "2026-06-16");
    // No visit at all: counted from the admission (2026-01-01 + 3 months).
    let s = admitted_early(ProjectMode::Iot, noon("2026-04-02"));
    let f = eval(&s).into_iter().find(|f| f.rule == RuleId::OnsiteInterval).unwrap();
    assert_eq!((f.action, f.evidence.figures["counted_from"].as_str()), (Action::Rectify, Some("2026-01-01")));
    assert!(f.summary.en.contains("mode iot allows 3 months"), "{}", f.summary.en);
}

#[test]
fn a1_iii_1_remote_check_interval() {
    // Last remote check 2026-05-31: due by 2026-06-15 (15 days).
    let at = |day: &str, mode: ProjectMode| {
        let mut s = admitted_early(mode, noon(day));
        s.visits.push(visit(1, dev(1), VisitKind::Onsite, noon("2026-05-01")));
        s.visits.push(visit(2, dev(1), VisitKind::RemoteCheck, noon("2026-05-31")));
        actions(&s, RuleId::RemoteCheckInterval)
    };
    assert_eq!(at("2026-06-12", ProjectMode::Remote), [Action::Notice], "3 days before");
    assert_eq!(at("2026-06-11", ProjectMode::Remote), []);
    assert_eq!(at("2026-06-15", ProjectMode::Remote), [Action::Notice], "15 days: in time");
    assert_eq!(at("2026-06-16", ProjectMode::RemotePension), [Action::Rectify], "16 days");
    assert_eq!(at("2026-06-16", ProjectMode::RemoteFullService), [Action::Rectify]);
    assert_eq!(at("2026-06-16", ProjectMode::Iot), [], "iot: monitored in real time instead");
    // An on-site visit counts as a check.
    let mut s = admitted_early(ProjectMode::Remote, noon("2026-06-16"));
    s.visits.push(visit(3, dev(1), VisitKind::Onsite, noon("2026-06-10")));
    assert_eq!(actions(&s, RuleId::RemoteCheckInterval), []);
}

// ---- KPIs against the commitment ----

fn kpis(runs: i64, equipment_faults: i64, downtime_min: Option<i64>, rescue_min: Option<i64>) -> KpiReport {
    let t = DayRollup {
        runs,
        equipment_faults,
        stoppages_closed: i64::from(downtime_min.is_some()),
        downtime_us: downtime_min.unwrap_or(0) * MIN,
        rescues: i64::from(rescue_min.is_some()),
        rescue_us: rescue_min.unwrap_or(0) * MIN,
        ..Default::default()
    };
    let c = Commitment { fault_rate_per_10k: 5.0, downtime_minutes: 60.0, rescue_minutes: 20.0 };
    let w = Window::rolling(d(TODAY)).unwrap();
    KpiReport::new(KpiSubject::Project("haibin".into()), w, 1, &t, Some(c))
}

fn with_kpis(k: KpiReport) -> Snapshot {
    let mut s = world();
    s.projects[0].kpis = Some(k);
    s
}

#[test]
fn a1_ii_1_fault_rate() {
    // Committed 5 per 10,000 runs.
    assert_eq!(actions(&with_kpis(kpis(10_000, 5, None, None)), RuleId::FaultRate), [], "exactly the target");
    assert_eq!(actions(&with_kpis(kpis(10_000, 6, None, None)), RuleId::FaultRate), [Action::Notice]);
    assert_eq!(actions(&with_kpis(kpis(999, 6, None, None)), RuleId::FaultRate), [], "fewer runs than min_runs");
    // Persisting: rectify once the notice has been open 30 days.
    let now = noon(TODAY);
    let s = with_open(with_kpis(kpis(10_000, 6, None, None)), RuleId::FaultRate, plus(now, -30 * DAY + MIN));
    assert_eq!(actions(&s, RuleId::FaultRate), [Action::Notice], "open 30 days less a minute");
    let s = with_open(with_kpis(kpis(10_000, 6, None, None)), RuleId::FaultRate, plus(now, -30 * DAY));
    assert_eq!(actions(&s, RuleId::FaultRate), [Action::Rectify]);
    // Hysteresis: an open finding holds until the rate is at or below 95 % of the target.
    let mut s = with_open(with_kpis(kpis(10_000, 6, None, None)), RuleId::FaultRate, now);
    s.projects[0].kpis = Some(kpis(10_000, 5, None, None));
    assert_eq!(actions(&s, RuleId::FaultRate), [Action::Notice], "back at the target: still open");
    s.projects[0].kpis = Some(kpis(20_000, 9, None, None)); // 4.5 ≤ 4.75
    assert_eq!(actions(&s, RuleId::FaultRate), [], "below the target by the margin");
    // Incomplete telemetry: the rate is overstated, not judged.
    let mut k = kpis(10_000, 6, None, None);
    k.completeness.runs_share = Some(0.89);
    assert_eq!(actions(&with_kpis(k.clone()), RuleId::FaultRate), []);
    k.completeness.runs_share = Some(0.9);
    assert_eq!(actions(&with_kpis(k), RuleId::FaultRate), [Action::Notice]);
}

#[test]
fn a1_ii_1_downtime() {
    assert_eq!(actions(&with_kpis(kpis(0, 0, Some(60), None)), RuleId::Downtime), [], "60 minutes: the target");
    assert_eq!(actions(&with_kpis(kpis(0, 0, Some(61), None)), RuleId::Downtime), [Action::Notice]);
    let f = eval(&with_kpis(kpis(0, 0, Some(61), None))).remove(0);
    assert_eq!((f.evidence.figures["value"].as_f64(), f.evidence.figures["target"].as_f64()), (Some(61.0), Some(60.0)));
    assert_eq!(actions(&with_kpis(kpis(0, 0, None, None)), RuleId::Downtime), [], "no stoppage: undefined");
}

#[test]
fn a1_ii_1_rescue_time() {
    assert_eq!(actions(&with_kpis(kpis(0, 0, None, Some(20))), RuleId::RescueTime), []);
    assert_eq!(actions(&with_kpis(kpis(0, 0, None, Some(21))), RuleId::RescueTime), [Action::Notice]);
    let mut s = with_kpis(kpis(0, 0, None, Some(21)));
    s.projects[0].record.spec.commitment = None;
    assert_eq!(actions(&s, RuleId::RescueTime), [], "no commitment: nothing to judge against");
}

// ---- incidents ----

fn fault(code: &str, at: Timestamp, cause: Option<Cause>) -> FaultIncident {
    FaultIncident {
        device: dev(1),
        fault_id: "f-1".into(),
        record: FaultRecord {
            start: Some(FaultStart {
                ts: at,
                seq: 1,
                code: FaultCode::parse(code),
                stops_service: true,
                reported_cause: cause,
            }),
            ..Default::default()
        },
    }
}

#[test]
fn a1_v_1_2_repair_deadline() {
    let now = noon(TODAY);
    let open_for = |code: &str, micros: i64, cause: Option<Cause>| {
        let mut s = world();
        s.faults.push(fault(code, plus(now, -micros), cause));
        actions(&s, RuleId::RepairDeadline)
    };
    assert_eq!(open_for("safety_circuit_open", 4 * HOUR, None), [], "grade 1: exactly 4 hours");
    assert_eq!(open_for("safety_circuit_open", 4 * HOUR + 1, None), [Action::Rectify]);
    assert_eq!(open_for("door_close_fault", 24 * HOUR, None), [], "grade 2: 24 hours");
    assert_eq!(open_for("door_close_fault", 24 * HOUR + 1, None), [Action::Rectify]);
    assert_eq!(open_for("leveling_fault", 72 * HOUR + 1, None), [Action::Rectify], "grade 3: 72 hours");
    assert_eq!(open_for("power_failure", 30 * DAY, None), [], "external by default: not the firm's to repair");
    assert_eq!(open_for("door_close_fault", 30 * DAY, Some(Cause::Usage)), []);
    let mut s = world();
    let mut f = fault("safety_circuit_open", plus(now, -5 * HOUR), None);
    f.record.cleared_at = Some(plus(now, -HOUR));
    s.faults.push(f);
    assert_eq!(actions(&s, RuleId::RepairDeadline), [], "cleared");
    // Configurable per grade.
    let mut s = world();
    s.faults.push(fault("safety_circuit_open", plus(now, -5 * HOUR), None));
    let mut cfg = RulesConfig::default();
    cfg.repair.grade_1_hours = 6;
    assert!(evaluate(&s, &cfg).is_empty());
    let f = eval(&s).remove(0);
    assert_eq!((f.severity, f.evidence.figures["grade"].as_u64()), (Severity::Major, Some(1)));
    assert_eq!(f.subject, Subject::Fault { device: dev(1), fault_id: "f-1".into() });
}

fn entrapment(alarm: Timestamp, arrived: Option<Timestamp>) -> EntrapmentIncident {
    EntrapmentIncident {
        device: dev(1),
        incident_id: "e-1".into(),
        record: EntrapmentRecord {
            alarm: Some(Alarm { ts: alarm, seq: 1, fault_id: None }),
            arrived_at: arrived,
            arrivals: arrived.into_iter().collect(),
            released_at: None,
        },
    }
}

#[test]
fn tsg_t5002_rescue_arrival() {
    let now = noon(TODAY);
    let alarm = plus(now, -2 * HOUR);
    let arrived_after = |micros: i64, region: Option<&str>| {
        let mut s = world();
        s.projects[0].region = region.map(Into::into);
        s.entrapments.push(entrapment(alarm, Some(plus(alarm, micros))));
        let mut cfg = RulesConfig::default();
        cfg.rescue.limit_minutes_by_region.insert("daishan".into(), 45);
        evaluate(&s, &cfg).into_iter().map(|f| f.action).collect::<Vec<_>>()
    };
    assert_eq!(arrived_after(30 * MIN, None), [], "30 minutes: in time");
    assert_eq!(arrived_after(30 * MIN + 1, None), [Action::Rectify]);
    assert_eq!(arrived_after(40 * MIN, Some("daishan")), [], "the region's own limit");
    assert_eq!(arrived_after(46 * MIN, Some("daishan")), [Action::Rectify]);
    assert_eq!(arrived_after(40 * MIN, Some("dinghai")), [Action::Rectify], "a region without one: the default");
    // No arrival yet: the clock runs from the alarm.
    let awaiting = |since: i64| {
        let mut s = world();
        s.entrapments.push(entrapment(plus(now, -since), None));
        eval(&s)
    };
    assert!(awaiting(30 * MIN).is_empty(), "trapped exactly 30 minutes");
    let f = awaiting(30 * MIN + 1).remove(0);
    assert_eq!((f.rule, f.action, f.severity), (RuleId::RescueArrival, Action::Notice, Severity::Critical));
    assert!(awaiting(31 * DAY).is_empty(), "beyond the look-back");
}

// ---- regulators' records ----

fn inspection(id: i64, kind: InspectionKind, on: &str, hazard: bool, passed: bool) -> Inspection {
    Inspection {
        id,
        project_id: "haibin".into(),
        firm_id: "zls".into(),
        device_code: Some(dev(1).as_str().to_owned()),
        kind,
        on: d(on),
        hazard_found: hazard,
        passed,
        summary: String::new(),
        recorded_by: "regulator".into(),
        recorded_at: Timestamp(0),
    }
}

fn order(
    id: i64,
    issued: &str,
    deadline: &str,
    completed: Option<&str>,
    inspection: Option<i64>,
) -> RectificationOrder {
    RectificationOrder {
        id,
        project_id: "haibin".into(),
        firm_id: "zls".into(),
        issued_on: d(issued),
        deadline: d(deadline),
        reason: "r".into(),
        inspection_id: inspection,
        finding_id: None,
        completed_on: completed.map(d),
        completed_by: None,
        recorded_by: "regulator".into(),
        recorded_at: Timestamp(0),
    }
}

#[test]
fn a1_iii_2_hazard() {
    let mut s = world();
    s.inspections.push(inspection(3, InspectionKind::SpotCheck, "2026-06-10", true, false));
    s.inspections.push(inspection(4, InspectionKind::Supervision, "2026-06-11", false, true));
    s.inspections.push(inspection(5, InspectionKind::PeriodicInspection, "2026-06-11", true, true));
    assert_eq!(of(&s, RuleId::Hazard), [(Subject::Inspection(3), Action::Rectify)], "spot checks and supervision only");
    s.orders.push(order(1, "2026-06-11", "2026-06-30", None, Some(3)));
    assert_eq!(of(&s, RuleId::Hazard).len(), 1, "ordered, not completed");
    s.orders[0].completed_on = Some(d("2026-06-14"));
    assert!(of(&s, RuleId::Hazard).is_empty(), "rectified");
    let mut s = world();
    s.inspections.push(inspection(3, InspectionKind::SpotCheck, "2026-05-31", true, false));
    assert!(of(&s, RuleId::Hazard).is_empty(), "before the admission");
}

fn complaint(id: i64, on: &str, subject: ComplaintSubject, verified: bool, caused: bool) -> Complaint {
    Complaint {
        id,
        project_id: "haibin".into(),
        firm_id: "zls".into(),
        device_code: None,
        received_on: d(on),
        safety_or_quality: subject,
        verified,
        maintenance_quality_caused: caused,
        summary: "s".into(),
        recorded_by: "regulator".into(),
        recorded_at: Timestamp(0),
    }
}

fn admitted_long_ago() -> Snapshot {
    let mut s = world();
    s.projects[0].record.spec.admitted_on = d("2025-01-01");
    s.visits.push(visit(1, dev(1), VisitKind::Onsite, noon("2026-06-01")));
    s
}

#[test]
fn a1_iii_3_complaints() {
    let mut s = admitted_long_ago();
    s.complaints.push(complaint(1, "2026-06-01", ComplaintSubject::Safety, true, false));
    assert_eq!(actions(&s, RuleId::Complaints), [Action::Notice], "one verified");
    s.complaints.push(complaint(2, "2026-06-02", ComplaintSubject::Other, true, false));
    s.complaints.push(complaint(3, "2026-06-03", ComplaintSubject::Quality, false, false));
    assert_eq!(actions(&s, RuleId::Complaints), [Action::Notice], "other subjects and unverified ones do not count");
    s.complaints.push(complaint(4, "2026-06-04", ComplaintSubject::Quality, true, false));
    s.complaints.push(complaint(5, "2025-12-18", ComplaintSubject::Safety, true, false));
    assert_eq!(
        actions(&s, RuleId::Complaints),
        [Action::Rectify],
        "three within 180 days (2025-12-18 is the first day)"
    );
    s.complaints[4].received_on = d("2025-12-17");
    assert_eq!(actions(&s, RuleId::Complaints), [Action::Notice], "the 181st day back is out");
}

#[test]
fn a1_iv_1_1_rectification_overdue() {
    let at = |deadline: &str, completed: Option<&str>| {
        let mut s = world();
        s.orders.push(order(9, "2026-06-02", deadline, completed, None));
        of(&s, RuleId::RectificationOverdue)
    };
    assert_eq!(at(TODAY, None), [], "due today");
    assert_eq!(at("2026-06-14", None), [(Subject::Order(9), Action::Exit)], "due yesterday, open");
    assert_eq!(at("2026-06-10", Some("2026-06-11")), [(Subject::Order(9), Action::Exit)], "completed a day late");
    assert_eq!(at("2026-06-10", Some("2026-06-10")), [], "completed on the deadline");
}

#[test]
fn a1_iv_1_2_periodic_inspection() {
    // Failed on 2026-05-15; no order: 30 days to rectify, until 2026-06-14.
    let at = |day: &str, extra: &dyn Fn(&mut Snapshot)| {
        let mut s = admitted_long_ago();
        s.now = noon(day);
        s.telemetry.insert(dev(1), telemetry(plus(s.now, -HOUR)));
        s.inspections.push(inspection(6, InspectionKind::PeriodicInspection, "2026-05-15", false, false));
        extra(&mut s);
        of(&s, RuleId::PeriodicInspection)
    };
    let none = |_: &mut Snapshot| {};
    assert_eq!(at("2026-06-14", &none), [(Subject::Inspection(6), Action::Rectify)]);
    assert_eq!(at("2026-06-15", &none), [(Subject::Inspection(6), Action::Exit)], "past the deadline");
    let passed_in_time = |s: &mut Snapshot| {
        s.inspections.push(inspection(7, InspectionKind::PeriodicInspection, "2026-06-14", false, true))
    };
    assert_eq!(at("2026-06-20", &passed_in_time), [], "passed again on the deadline");
    let passed_late = |s: &mut Snapshot| {
        s.inspections.push(inspection(7, InspectionKind::PeriodicInspection, "2026-06-15", false, true))
    };
    assert_eq!(at("2026-06-20", &passed_late)[0].1, Action::Exit, "passed again a day late");
    // An order citing it sets the deadline; its completion rectifies it.
    let ordered = |s: &mut Snapshot| s.orders.push(order(2, "2026-05-16", "2026-06-30", None, Some(6)));
    assert_eq!(at("2026-06-30", &ordered)[0].1, Action::Rectify);
    assert_eq!(at("2026-07-01", &ordered)[0].1, Action::Exit);
    let done = |s: &mut Snapshot| s.orders.push(order(2, "2026-05-16", "2026-06-30", Some("2026-06-30"), Some(6)));
    assert_eq!(at("2026-07-01", &done), []);
    // The overdue order is this rule's, not counted again as A1 §IV.(一).1.
    let mut s = admitted_long_ago();
    s.inspections.push(inspection(6, InspectionKind::PeriodicInspection, "2026-05-15", false, false));
    s.orders.push(order(2, "2026-05-16", "2026-06-01", None, Some(6)));
    assert_eq!(actions(&s, RuleId::PeriodicInspection), [Action::Exit]);
    assert_eq!(actions(&s, RuleId::RectificationOverdue), []);
}

#[test]
fn a1_iv_1_3_complaints() {
    let mut s = admitted_long_ago();
    for i in 0..4 {
        s.complaints.push(complaint(i, "2026-06-01", ComplaintSubject::Other, true, true));
    }
    s.complaints.push(complaint(9, "2026-06-01", ComplaintSubject::Quality, false, true));
    assert_eq!(actions(&s, RuleId::FrequentComplaints), [], "four verified");
    s.complaints.push(complaint(5, "2026-06-02", ComplaintSubject::Quality, true, true));
    assert_eq!(of(&s, RuleId::FrequentComplaints), [(project_subject(), Action::Exit)], "five");
    let f = eval(&s).into_iter().find(|f| f.rule == RuleId::FrequentComplaints).unwrap();
    assert_eq!(f.evidence.records.len(), 5);
}

fn accident(id: i64, project: &str, firm: &str, on: &str, caused: bool) -> Accident {
    Accident {
        id,
        project_id: project.into(),
        firm_id: firm.into(),
        device_code: dev(1).as_str().to_owned(),
        on: d(on),
        caused_by_maintenance: caused,
        summary: "s".into(),
        recorded_by: "regulator".into(),
        recorded_at: Timestamp(0),
    }
}

/// Firm zls with two projects (haibin, dongshan), firm other with one (xishan).
fn two_firms() -> Snapshot {
    let mut s = world();
    s.firms.push(firm("other"));
    s.projects.push(project("dongshan", "zls", ProjectMode::Iot, "2026-06-01", &[2]));
    s.projects.push(project("xishan", "other", ProjectMode::Iot, "2026-06-01", &[3]));
    for n in [2, 3] {
        s.telemetry.insert(dev(n), telemetry(plus(s.now, -HOUR)));
    }
    s
}

#[test]
fn a1_iv_2_4_accident() {
    let mut s = two_firms();
    s.accidents.push(accident(1, "haibin", "zls", "2026-06-10", true));
    let fs = eval(&s);
    let firm = fs.iter().find(|f| f.rule == RuleId::MaintenanceAccident).unwrap();
    assert_eq!(
        (&firm.subject, firm.action, firm.project.as_deref()),
        (&Subject::Firm("zls".into()), Action::Disqualify, None)
    );
    // Disqualification cascades: every project of the firm ends, the other firm's does not.
    let ended: Vec<_> =
        fs.iter().filter(|f| f.rule == RuleId::FirmDisqualified).map(|f| (f.subject.clone(), f.action)).collect();
    assert_eq!(
        ended,
        [(Subject::Project("dongshan".into()), Action::Exit), (Subject::Project("haibin".into()), Action::Exit)]
    );
    let mut s = two_firms();
    s.accidents.push(accident(1, "haibin", "zls", "2026-05-31", true));
    assert!(eval(&s).is_empty(), "before the admission");
}

#[test]
fn a1_iv_2_5_accident() {
    let mut s = world();
    s.accidents.push(accident(4, "haibin", "zls", "2025-12-18", false));
    s.projects[0].record.spec.admitted_on = d("2025-01-01");
    s.visits.push(visit(1, dev(1), VisitKind::Onsite, noon("2026-06-01")));
    assert_eq!(of(&s, RuleId::Accident), [(Subject::Accident(4), Action::Notice)], "179 days ago");
    s.accidents[0].on = d("2025-12-17");
    assert_eq!(of(&s, RuleId::Accident), [], "180 days ago");
    assert!(of(&s, RuleId::FirmDisqualified).is_empty(), "a notice does not disqualify");
}

#[test]
fn a1_iv_2_last_projects_end() {
    // A recorded disqualification ends the projects admitted on or before it.
    let mut s = two_firms();
    s.projects[1].record.spec.admitted_on = d("2026-06-12");
    s.disqualifications.push(Disqualification { firm_id: "zls".into(), on: d("2026-06-11"), reason: "r".into() });
    assert_eq!(of(&s, RuleId::FirmDisqualified), [(project_subject(), Action::Exit)]);
    // An open disqualify finding (sticky, from an earlier evaluation) ends them all.
    let mut s = two_firms();
    s.accidents.push(accident(1, "haibin", "zls", "2026-06-10", true));
    let s = with_open(s, RuleId::MaintenanceAccident, noon("2026-06-10"));
    let mut s2 = s.clone();
    s2.accidents.clear();
    assert_eq!(of(&s2, RuleId::FirmDisqualified).len(), 2);
    // A project that has left the pilot is not evaluated at all.
    s2.exits.push(PilotExit {
        project_id: "haibin".into(),
        firm_id: "zls".into(),
        on: d("2026-06-12"),
        devices: vec![dev(1)],
        reason: "A1-IV-2-last-projects-end".into(),
    });
    assert_eq!(of(&s2, RuleId::FirmDisqualified), [(Subject::Project("dongshan".into()), Action::Exit)]);
}

// ---- determinism ----

#[test]
fn findings_come_in_rule_then_subject_order() {
    let mut s = two_firms();
    s.telemetry.clear();
    s.firms[0].firm.self_declaration_url = None;
    let fs = eval(&s);
    assert!(fs.len() >= 4);
    assert!(fs.windows(2).all(|w| (w[0].rule, &w[0].subject) < (w[1].rule, &w[1].subject)));
    let mut shuffled = s.clone();
    shuffled.projects.reverse();
    assert_eq!(eval(&shuffled), fs, "the input order does not matter");
}

// ---- admission and bans ----

fn spec() -> ProjectSpec {
    project("haibin", "zls", ProjectMode::Iot, TODAY, &[1, 2]).record.spec
}

fn exit(project: &str, firm: &str, on: &str, devices: &[u32]) -> PilotExit {
    PilotExit {
        project_id: project.into(),
        firm_id: firm.into(),
        on: d(on),
        devices: devices.iter().map(|n| dev(*n)).collect(),
        reason: "A1-IV-1-1-rectification-overdue".into(),
    }
}

#[test]
fn admission_refuses_with_every_reason() {
    let cfg = RulesConfig::default();
    assert_eq!(admission_check(&spec(), &firm("zls"), &[], &[], d(TODAY), &cfg), []);
    let mut f = firm("zls");
    f.firm.self_declaration_url = None;
    f.firm.grade = GradeLetter::C;
    let mut p = spec();
    p.elevators[1].insured_until = Some(d("2026-06-14"));
    p.commitment = None;
    let r = admission_check(&p, &f, &[], &[], d(TODAY), &cfg);
    let conditions: Vec<_> = r.iter().map(|x| x.condition).collect();
    assert_eq!(
        conditions,
        [EntryCondition::SelfDeclaration, EntryCondition::Insurance, EntryCondition::Grade, EntryCondition::Commitment]
    );
    assert_eq!(r[1].clause, "A1 §I.(一).2");
    assert!(
        r[1].summary.en.contains(dev(2).as_str()) && !r[1].summary.en.contains(dev(1).as_str()),
        "{}",
        r[1].summary.en
    );
    assert!(r.iter().all(|x| x.possible_from.is_none()));
    p.elevators.clear();
    p.commitment = spec().commitment;
    let r = admission_check(&p, &firm("zls"), &[], &[], d(TODAY), &cfg);
    assert_eq!(r.iter().map(|x| x.condition).collect::<Vec<_>>(), [EntryCondition::Insurance], "no elevator");
}

#[test]
fn a1_iv_1_last_exit_ban_two_years() {
    let cfg = RulesConfig::default();
    let exits = [exit("haibin", "zls", "2026-03-15", &[1, 2])];
    assert_eq!(readmission_possible_from(&spec(), &exits, 2), Some(d("2028-03-15")));
    let r = admission_check(&spec(), &firm("zls"), &exits, &[], d("2028-03-14"), &cfg);
    assert_eq!((r.len(), r[0].condition, r[0].possible_from), (1, EntryCondition::ExitBan, Some(d("2028-03-15"))));
    assert_eq!(admission_check(&spec(), &firm("zls"), &exits, &[], d("2028-03-15"), &cfg), [], "two years to the day");
    // After a change of firm the project may apply again at once.
    let mut other = spec();
    other.firm_id = "other".into();
    assert_eq!(readmission_possible_from(&other, &exits, 2), None);
    // The same firm with the same elevators under a new project id is still barred.
    let mut renamed = spec();
    renamed.id = "haibin-2".into();
    renamed.elevators.truncate(1);
    assert_eq!(readmission_possible_from(&renamed, &exits, 2), Some(d("2028-03-15")));
    // The latest exit counts.
    let exits = [exit("haibin", "zls", "2026-03-15", &[]), exit("haibin", "zls", "2029-01-10", &[])];
    assert_eq!(readmission_possible_from(&spec(), &exits, 2), Some(d("2031-01-10")));
}

#[test]
fn a1_iv_2_last_firm_ban_two_years() {
    let cfg = RulesConfig::default();
    let dq = [Disqualification { firm_id: "zls".into(), on: d("2026-02-28"), reason: "accident".into() }];
    assert_eq!(firm_ban_ends("zls", &dq, 2), Some(d("2028-02-28")));
    assert_eq!(firm_ban_ends("other", &dq, 2), None);
    let r = admission_check(&spec(), &firm("zls"), &[], &dq, d("2028-02-27"), &cfg);
    assert_eq!((r[0].condition, r[0].possible_from), (EntryCondition::FirmBan, Some(d("2028-02-28"))));
    assert_eq!(admission_check(&spec(), &firm("zls"), &[], &dq, d("2028-02-28"), &cfg), []);
}

// ---- the lifecycle ----

fn draft(rule: RuleId, action: Action, value: i64) -> FindingDraft {
    FindingDraft {
        rule,
        subject: project_subject(),
        project: Some("haibin".into()),
        firm: Some("zls".into()),
        action,
        severity: Severity::Minor,
        evidence: Evidence::new().figure("value", value),
        summary: Summary::new("zh", "en"),
    }
}

/// Applies changes as a store would.
fn apply(open: &mut Vec<OpenFinding>, changes: &[Change], now: Timestamp) {
    for c in changes {
        match c {
            Change::Open(d) => open.push(open_finding(d.clone(), now)),
            Change::Update { id, draft } | Change::Escalate { id, draft, .. } => {
                let o = open.iter_mut().find(|o| &o.id == id).unwrap();
                o.draft = draft.clone();
                o.clearing = None;
            }
            Change::Clearing { id, clearing } => {
                open.iter_mut().find(|o| &o.id == id).unwrap().clearing = Some(*clearing)
            }
            Change::Resolve { id, .. } => open.retain(|o| &o.id != id),
        }
    }
}

fn kind(c: &Change) -> &'static str {
    match c {
        Change::Open(_) => "open",
        Change::Update { .. } => "update",
        Change::Escalate { .. } => "escalate",
        Change::Clearing { .. } => "clearing",
        Change::Resolve { .. } => "resolve",
    }
}

#[test]
fn lifecycle_open_update_escalate_resolve() {
    let h = Hysteresis::default(); // 60 minutes and 2 evaluations
    let t0 = noon(TODAY);
    let mut open = Vec::new();
    let step = |open: &mut Vec<OpenFinding>, drafts: &[FindingDraft], at: i64| {
        let now = plus(t0, at);
        let ch = reconcile(open, drafts, now, &h);
        apply(open, &ch, now);
        ch.iter().map(kind).collect::<Vec<_>>()
    };
    let n = |v| draft(RuleId::FaultRate, Action::Notice, v);
    assert_eq!(step(&mut open, &[n(6)], 0), ["open"]);
    assert_eq!(step(&mut open, &[n(6)], 5 * MIN), Vec::<&str>::new(), "the same: nothing");
    assert_eq!(step(&mut open, &[n(7)], 10 * MIN), ["update"], "evidence changed");
    assert_eq!(step(&mut open, &[draft(RuleId::FaultRate, Action::Rectify, 7)], 15 * MIN), ["escalate"]);
    assert_eq!(step(&mut open, &[n(7)], 20 * MIN), Vec::<&str>::new(), "an action never falls while open");
    assert_eq!(open[0].draft.action, Action::Rectify);
    assert_eq!(step(&mut open, &[], 30 * MIN), ["clearing"]);
    assert_eq!(step(&mut open, &[], 60 * MIN), ["clearing"], "2 evaluations but 30 minutes");
    assert_eq!(step(&mut open, &[], 90 * MIN), ["resolve"], "60 minutes and 3 evaluations");
    assert!(open.is_empty());
    assert_eq!(step(&mut open, &[n(6)], 100 * MIN), ["open"], "a new finding after a resolve");
}

#[test]
fn lifecycle_flap_is_suppressed_by_hysteresis() {
    let h = Hysteresis::default();
    let t0 = noon(TODAY);
    let mut open = Vec::new();
    let mut kinds = Vec::new();
    // The condition comes and goes every 10 minutes for 4 hours.
    for i in 0..24 {
        let now = plus(t0, i * 10 * MIN);
        let drafts = if i % 2 == 0 { vec![draft(RuleId::Downtime, Action::Notice, 61)] } else { vec![] };
        let ch = reconcile(&open, &drafts, now, &h);
        apply(&mut open, &ch, now);
        kinds.extend(ch.iter().map(kind));
    }
    assert_eq!(kinds.iter().filter(|k| **k == "open").count(), 1, "{kinds:?}");
    assert!(!kinds.contains(&"resolve"), "{kinds:?}");
    assert_eq!(open.len(), 1);
    // Both conditions of the hysteresis are needed: many evaluations in a few minutes do not resolve.
    let h = Hysteresis { clear_for_minutes: 60, clear_evaluations: 2, sticky: vec![] };
    let mut open = vec![open_finding(draft(RuleId::Downtime, Action::Notice, 61), t0)];
    for i in 1..=10 {
        let ch = reconcile(&open, &[], plus(t0, i * MIN), &h);
        assert_eq!(kind(&ch[0]), "clearing");
        apply(&mut open, &ch, plus(t0, i * MIN));
    }
    let ch = reconcile(&open, &[], plus(t0, 61 * MIN), &h);
    assert!(matches!(&ch[0], Change::Resolve { clear_since, .. } if *clear_since == plus(t0, MIN)));
}

#[test]
fn lifecycle_exit_and_disqualify_are_sticky() {
    let h = Hysteresis::default();
    let t0 = noon(TODAY);
    let open = vec![open_finding(draft(RuleId::InsuranceLapsed, Action::Exit, 1), t0)];
    assert_eq!(reconcile(&open, &[], plus(t0, 30 * DAY), &h), [], "insurance renewed: the exit stands");
    let open = vec![open_finding(draft(RuleId::InsuranceLapsed, Action::Notice, 1), t0)];
    assert_eq!(kind(&reconcile(&open, &[], t0, &h)[0]), "clearing", "a notice is not sticky");
}

#[test]
fn lifecycle_one_finding_per_rule_and_subject() {
    let h = Hysteresis::default();
    let t0 = noon(TODAY);
    let twice = [draft(RuleId::Complaints, Action::Notice, 1), draft(RuleId::Complaints, Action::Rectify, 3)];
    let ch = reconcile(&[], &twice, t0, &h);
    assert!(matches!(&ch[..], [Change::Open(d)] if d.action == Action::Rectify), "{ch:?}");
    let mut other = draft(RuleId::Complaints, Action::Notice, 1);
    other.subject = Subject::Project("dongshan".into());
    assert_eq!(reconcile(&[], &[twice[0].clone(), other], t0, &h).len(), 2, "another subject is another finding");
}

#[test]
fn project_status_follows_findings_and_orders() {
    let adm = d("2026-06-01");
    let t0 = noon(TODAY);
    let status = |f: &[OpenFinding], o: &[RectificationOrder], x: &[PilotExit]| project_status("haibin", adm, f, o, x);
    assert_eq!(status(&[], &[], &[]), ProjectStatus::Active);
    let rectify = open_finding(draft(RuleId::Hazard, Action::Rectify, 1), t0);
    assert_eq!(
        status(std::slice::from_ref(&rectify), &[], &[]),
        ProjectStatus::Active,
        "a rectify finding alone orders nothing"
    );
    let open_order = order(1, "2026-06-02", "2026-06-30", None, None);
    assert_eq!(status(&[rectify], std::slice::from_ref(&open_order), &[]), ProjectStatus::Rectifying);
    let done = order(1, "2026-06-02", "2026-06-30", Some("2026-06-10"), None);
    assert_eq!(status(&[], &[done], &[]), ProjectStatus::Active);
    let old = order(1, "2026-05-02", "2026-05-30", None, None);
    assert_eq!(status(&[], &[old], &[]), ProjectStatus::Active, "an order from before the admission");
    let exit_f = open_finding(draft(RuleId::InsuranceLapsed, Action::Exit, 1), t0);
    assert_eq!(status(&[exit_f], &[open_order], &[]), ProjectStatus::Exited);
    assert_eq!(status(&[], &[], &[exit("haibin", "zls", "2026-06-10", &[])]), ProjectStatus::Exited);
    assert_eq!(
        status(&[], &[], &[exit("haibin", "zls", "2026-05-10", &[])]),
        ProjectStatus::Active,
        "readmitted since"
    );
}

// ---- configuration ----

#[test]
fn config_reads_from_toml_with_the_notices_defaults() {
    let c: RulesConfig = toml::from_str("").unwrap();
    assert_eq!(c, RulesConfig::default());
    assert_eq!((c.rescue.limit_minutes, c.bans.exit_years, c.bans.disqualification_years), (30, 2, 2));
    assert_eq!((c.repair.hours(1), c.repair.hours(2), c.repair.hours(3), c.repair.hours(7)), (4, 24, 72, 72));
    let c: RulesConfig = toml::from_str(
        r#"
        [rescue]
        limit_minutes = 30
        limit_minutes_by_region = { daishan = 45, shengsi = 60 }
        [kpi]
        rectify_after_days = 14
        [hysteresis]
        sticky = ["exit", "disqualify", "stop"]
        "#,
    )
    .unwrap();
    assert_eq!(
        (c.rescue.limit_for(Some("shengsi")), c.rescue.limit_for(Some("dinghai")), c.rescue.limit_for(None)),
        (60, 30, 30)
    );
    assert_eq!((c.kpi.rectify_after_days, c.kpi.min_runs), (14, 1000), "the rest keeps its default");
    assert_eq!(c.hysteresis.sticky, [Action::Exit, Action::Disqualify, Action::Stop]);
    let e = toml::from_str::<RulesConfig>("[kpi]\nrectify_after_dayz = 3\n").unwrap_err();
    assert!(e.to_string().contains("rectify_after_dayz"), "{e}");
    let e = toml::from_str::<RulesConfig>("[hysteresis]\nsticky = [\"ban\"]\n").unwrap_err();
    assert!(e.to_string().contains("ban"), "{e}");
    // The defaults serialise back to a file that reads the same.
    let text = toml::to_string(&RulesConfig::default()).unwrap();
    assert_eq!(toml::from_str::<RulesConfig>(&text).unwrap(), RulesConfig::default());
}

#[test]
fn every_finding_is_serialisable_with_its_clause() {
    let mut s = two_firms();
    s.telemetry.clear();
    s.accidents.push(accident(1, "haibin", "zls", "2026-06-10", true));
    for f in eval(&s) {
        let j = serde_json::to_value(&f).unwrap();
        assert_eq!(j["rule"], f.rule.as_str());
        assert!(!f.clause().is_empty() && !f.summary.zh.is_empty() && !f.summary.en.is_empty());
        assert_eq!(serde_json::from_value::<FindingDraft>(j).unwrap(), f);
    }
}

#[test]
fn the_defaults_in_docs_rules_md_are_the_defaults() {
    #[derive(serde::Deserialize)]
    struct File {
        rules: RulesConfig,
    }
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/rules.md")).unwrap();
    let block = doc.split("```toml\n").nth(1).and_then(|b| b.split("```").next()).unwrap();
    let f: File = toml::from_str(block).unwrap();
    assert_eq!(f.rules, RulesConfig::default());
}
