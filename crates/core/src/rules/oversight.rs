//! What regulators record, read by the rules: hazards (A1 §III.(二)),
//! complaints (A1 §III.(三), §IV.(一).3), rectification orders (A1 §IV.(一).1),
//! periodic inspections (A1 §IV.(一).2), accidents (A1 §IV.(二).4–5), and the
//! end of a disqualified firm's projects (A1 §IV.(二) ¶last).

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};

use super::catalogue::{Action, RuleId, Severity};
use super::evaluate::{in_pilot, Ctx};
use super::finding::{Evidence, FindingDraft, Subject, Summary};
use super::snapshot::ProjectFacts;
use crate::records::{Inspection, InspectionKind, RectificationOrder};

fn orders_citing<'a>(ctx: &Ctx<'a>, inspection: i64) -> impl Iterator<Item = &'a RectificationOrder> {
    ctx.snap.orders.iter().filter(move |o| o.inspection_id == Some(inspection))
}

fn inspections_of<'a>(ctx: &Ctx<'a>, p: &'a ProjectFacts) -> impl Iterator<Item = &'a Inspection> {
    let admitted = p.record.spec.admitted_on;
    ctx.snap.inspections.iter().filter(move |i| i.project_id == p.id() && i.on >= admitted)
}

/// A1 §III.(二): a hazard found by supervision or a spot check asks for
/// rectification until an order citing the inspection is completed (an
/// order completed late is A1 §IV.(一).1's).
pub(crate) fn hazards(ctx: &mut Ctx<'_>, p: &ProjectFacts) {
    let found: Vec<&Inspection> = inspections_of(ctx, p)
        .filter(|i| i.hazard_found && matches!(i.kind, InspectionKind::Supervision | InspectionKind::SpotCheck))
        .collect();
    for i in found {
        let orders: Vec<&RectificationOrder> = orders_citing(ctx, i.id).collect();
        if orders.iter().any(|o| o.completed_on.is_some()) {
            continue;
        }
        let mut ev =
            Evidence::new().figure("kind", i.kind.as_str()).figure("on", i.on).figure("device_code", &i.device_code);
        ev = ev.record("inspection", i.id);
        for o in &orders {
            ev = ev.record("rectification_order", o.id);
        }
        let summary = Summary::new(
            format!("{}（{}）发现安全隐患，尚未完成整改", i.kind, i.on),
            format!("{} on {} found a safety hazard, not rectified yet", i.kind, i.on),
        );
        ctx.project_finding(
            p,
            RuleId::Hazard,
            Subject::Inspection(i.id),
            (Action::Rectify, Severity::Major),
            ev,
            summary,
        );
    }
}

/// A1 §III.(三) and §IV.(一).3: verified complaints in the window.
pub(crate) fn complaints(ctx: &mut Ctx<'_>, p: &ProjectFacts) {
    let c = &ctx.cfg.complaints;
    let from =
        ctx.today.checked_sub_days(Days::new(u64::from(c.window_days.saturating_sub(1)))).unwrap_or(NaiveDate::MIN);
    let from = from.max(p.record.spec.admitted_on);
    let in_window: Vec<_> = ctx
        .snap
        .complaints
        .iter()
        .filter(|k| k.project_id == p.id() && k.verified && k.received_on >= from && k.received_on <= ctx.today)
        .collect();
    let subject = Subject::Project(p.id().to_owned());
    let window = serde_json::json!({"from": from, "to": ctx.today});
    let safety: Vec<_> = in_window.iter().filter(|k| k.safety_or_quality.counts_for_rectification()).collect();
    let n = safety.len() as u32;
    let action = if n >= c.rectify_at.max(1) {
        Some((Action::Rectify, Severity::Major))
    } else if c.notice_at > 0 && n >= c.notice_at {
        Some((Action::Notice, Severity::Minor))
    } else {
        None
    };
    if let Some(action) = action {
        let ev = safety.iter().fold(
            Evidence::new().figure("window", &window).figure("verified", n).figure("rectify_at", c.rectify_at),
            |e, k| e.record("complaint", k.id),
        );
        let summary = Summary::new(
            format!("{from}以来经核实的电梯安全质量投诉举报{n}起"),
            format!(
                "{n} verified complaint(s) about safety or quality since {from} (rectification from {})",
                c.rectify_at
            ),
        );
        ctx.project_finding(p, RuleId::Complaints, subject.clone(), action, ev, summary);
    }
    let caused: Vec<_> = in_window.iter().filter(|k| k.maintenance_quality_caused).collect();
    let m = caused.len() as u32;
    if m >= c.exit_at.max(1) {
        let ev = caused.iter().fold(
            Evidence::new().figure("window", &window).figure("maintenance_caused", m).figure("exit_at", c.exit_at),
            |e, k| e.record("complaint", k.id),
        );
        let summary = Summary::new(
            format!("{from}以来频繁受到投诉举报，{m}起经查实为维保质量原因造成"),
            format!(
                "{m} verified complaint(s) caused by maintenance quality since {from}: frequent (exit from {})",
                c.exit_at
            ),
        );
        ctx.project_finding(p, RuleId::FrequentComplaints, subject, (Action::Exit, Severity::Critical), ev, summary);
    }
}

fn failed_periodic(i: &Inspection) -> bool {
    i.kind == InspectionKind::PeriodicInspection && !i.passed
}

/// A1 §IV.(一).2: a failed periodic inspection must be rectified by its
/// deadline — the latest order citing it, else the configured days after it.
/// It is rectified by the completion of an order citing it or by a later
/// passed periodic inspection of the same elevator. Rectify until the
/// deadline; exit when not rectified by then.
pub(crate) fn periodic_inspections(ctx: &mut Ctx<'_>, p: &ProjectFacts) {
    let failed: Vec<&Inspection> = inspections_of(ctx, p).filter(|i| failed_periodic(i)).collect();
    for i in failed {
        let orders: Vec<&RectificationOrder> = orders_citing(ctx, i.id).collect();
        let latest = orders.iter().max_by_key(|o| (o.issued_on, o.id));
        let deadline = latest.map_or_else(
            || i.on.checked_add_days(Days::new(u64::from(ctx.cfg.inspections.rectify_days))).unwrap_or(NaiveDate::MAX),
            |o| o.deadline,
        );
        let passed_later = inspections_of(ctx, p)
            .filter(|j| j.kind == InspectionKind::PeriodicInspection && j.passed && j.on > i.on)
            .filter(|j| j.device_code == i.device_code)
            .map(|j| j.on);
        let rectified_on = orders.iter().filter_map(|o| o.completed_on).chain(passed_later).min();
        if rectified_on.is_some_and(|d| d <= deadline) {
            continue;
        }
        let late = ctx.today > deadline;
        let action = if late { (Action::Exit, Severity::Critical) } else { (Action::Rectify, Severity::Major) };
        let mut ev = Evidence::new()
            .figure("on", i.on)
            .figure("device_code", &i.device_code)
            .figure("deadline", deadline)
            .figure("rectified_on", rectified_on)
            .record("inspection", i.id);
        for o in &orders {
            ev = ev.record("rectification_order", o.id);
        }
        let summary = if late {
            Summary::new(
                format!("{}定期检验不合格，未在{deadline}前完成整改", i.on),
                format!("periodic inspection of {} failed and was not rectified by {deadline}", i.on),
            )
        } else {
            Summary::new(
                format!("{}定期检验不合格，应于{deadline}前完成整改", i.on),
                format!("periodic inspection of {} failed: rectify by {deadline}", i.on),
            )
        };
        ctx.project_finding(p, RuleId::PeriodicInspection, Subject::Inspection(i.id), action, ev, summary);
    }
}

/// A1 §IV.(一).1: an order not completed by its deadline (still open after
/// it, or completed later). Orders citing a failed periodic inspection are
/// A1 §IV.(一).2's ([`periodic_inspections`]), not counted twice.
pub(crate) fn overdue_orders(ctx: &mut Ctx<'_>, p: &ProjectFacts) {
    let admitted = p.record.spec.admitted_on;
    let periodic: Vec<i64> = ctx.snap.inspections.iter().filter(|i| failed_periodic(i)).map(|i| i.id).collect();
    let overdue: Vec<&RectificationOrder> = ctx
        .snap
        .orders
        .iter()
        .filter(|o| o.project_id == p.id() && o.issued_on >= admitted && o.overdue(ctx.today))
        .filter(|o| o.inspection_id.is_none_or(|i| !periodic.contains(&i)))
        .collect();
    for o in overdue {
        let ev = Evidence::new()
            .figure("issued_on", o.issued_on)
            .figure("deadline", o.deadline)
            .figure("completed_on", o.completed_on)
            .figure("reason", &o.reason)
            .record("rectification_order", o.id);
        let summary = match o.completed_on {
            Some(c) => Summary::new(
                format!("整改令（{}）要求{}前完成，{c}才完成，未在规定时间内完成整改", o.issued_on, o.deadline),
                format!("rectification order of {} was due by {} and completed late on {c}", o.issued_on, o.deadline),
            ),
            None => Summary::new(
                format!("整改令（{}）要求{}前完成，逾期未完成整改", o.issued_on, o.deadline),
                format!("rectification order of {} was due by {} and is not completed", o.issued_on, o.deadline),
            ),
        };
        ctx.project_finding(
            p,
            RuleId::RectificationOverdue,
            Subject::Order(o.id),
            (Action::Exit, Severity::Critical),
            ev,
            summary,
        );
    }
}

/// A1 §IV.(二).4: accidents caused by poor maintenance disqualify the firm
/// (one finding per firm); A1 §IV.(二).5: other accidents on pilot
/// elevators are noticed for the regulator to judge. Only accidents of
/// projects in the pilot on or after their admission count.
pub(crate) fn accidents(ctx: &mut Ctx<'_>) {
    let snap = ctx.snap;
    let mut by_firm: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for a in &snap.accidents {
        let Some(p) = snap.projects.iter().find(|p| p.id() == a.project_id) else { continue };
        if a.on < p.record.spec.admitted_on || a.on > ctx.today {
            continue;
        }
        if a.caused_by_maintenance {
            by_firm.entry(a.firm_id.as_str()).or_default().push(a.id);
            continue;
        }
        let days = (ctx.today - a.on).num_days();
        if days >= i64::from(ctx.cfg.accidents.notice_days) || snap.exited(p).is_some() {
            continue;
        }
        let ev = Evidence::new().figure("on", a.on).figure("device_code", &a.device_code).record("accident", a.id);
        let summary = Summary::new(
            format!("试点电梯{}于{}发生事故，请监管部门判断是否取消试点资格", a.device_code, a.on),
            format!(
                "accident on pilot elevator {} on {}: for the regulator to judge (A1 §IV.(二).5)",
                a.device_code, a.on
            ),
        );
        ctx.project_finding(
            p,
            RuleId::Accident,
            Subject::Accident(a.id),
            (Action::Notice, Severity::Major),
            ev,
            summary,
        );
    }
    for (firm, ids) in by_firm {
        let ev = ids.iter().fold(Evidence::new().figure("accidents", ids.len()), |e, id| e.record("accident", id));
        ctx.out.push(FindingDraft {
            rule: RuleId::MaintenanceAccident,
            subject: Subject::Firm(firm.to_owned()),
            project: None,
            firm: Some(firm.to_owned()),
            action: Action::Disqualify,
            severity: Severity::Critical,
            evidence: ev,
            summary: Summary::new(
                format!("维保单位{firm}发生因维保质量不到位造成的安全责任事故{}起，取消试点资格", ids.len()),
                format!("firm {firm}: {} safety accident(s) caused by poor maintenance: disqualified", ids.len()),
            ),
        });
    }
}

/// A1 §IV.(二) ¶last: every project in the pilot of a disqualified firm
/// ends — disqualified by a recorded disqualification (projects admitted on
/// or before it), or by a disqualify finding of this evaluation or still open.
pub(crate) fn disqualified_firms(ctx: &mut Ctx<'_>) {
    let mut grounds: BTreeMap<String, (Option<NaiveDate>, Evidence)> = BTreeMap::new();
    for d in &ctx.snap.disqualifications {
        let e = grounds.entry(d.firm_id.clone()).or_insert((Some(d.on), Evidence::new()));
        e.0 = e.0.max(Some(d.on));
        e.1 = std::mem::take(&mut e.1)
            .figure("disqualified_on", d.on)
            .record("disqualification", format!("{}/{}", d.firm_id, d.on));
    }
    let findings = ctx.out.iter().chain(ctx.snap.findings.iter().map(|f| &f.draft));
    for f in findings.filter(|f| f.action == Action::Disqualify) {
        let Some(firm) = &f.firm else { continue };
        let e = grounds.entry(firm.clone()).or_insert((None, Evidence::new()));
        e.0 = None; // a finding now: every project of the firm
        e.1 = std::mem::take(&mut e.1).record("finding", format!("{}/{}", f.rule, f.subject));
    }
    let projects: Vec<&ProjectFacts> = in_pilot(ctx.snap, ctx.today).collect();
    for p in projects {
        let Some((on, ev)) = grounds.get(p.firm_id()) else { continue };
        if on.is_some_and(|on| p.record.spec.admitted_on > on) {
            continue;
        }
        let mut ev = ev.clone();
        ev.records.sort();
        ev.records.dedup();
        let firm = p.firm_id();
        let summary = Summary::new(
            format!("维保单位{firm}的试点资格已取消，该项目按需维保试点同步终止"),
            format!("firm {firm} is disqualified: the project's on-demand maintenance pilot ends with it"),
        );
        let subject = Subject::Project(p.id().to_owned());
        ctx.project_finding(p, RuleId::FirmDisqualified, subject, (Action::Exit, Severity::Critical), ev, summary);
    }
}
