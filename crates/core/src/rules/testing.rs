//! Attachment 2 as findings: an elevator leaves the testing pilot when a
//! test was not done in time (A2 §IV.(一).1) or after an accident
//! (§IV.(一).3); out of it and past its inspection date, it must be stopped
//! (§VI.(一)). The conditions are [`crate::inspection`]'s functions; this
//! adds the findings.
//!
//! The findings are about the elevator and carry no project: leaving the
//! testing pilot is not leaving the on-demand maintenance pilot of A1 (an
//! `exit` finding with a project would end the project). The firm of the
//! project the elevator belongs to today is named, so that it sees them.

use chrono::NaiveDate;

use super::catalogue::{Action, RuleId, Severity};
use super::evaluate::Ctx;
use super::finding::{Evidence, FindingDraft, Subject, Summary};
use crate::inspection::{exit_grounds, stop_ground, CheckResult, EquipmentFacts, ExitGround};

fn push(ctx: &mut Ctx<'_>, f: &EquipmentFacts, rule: RuleId, action: (Action, Severity), ev: Evidence, s: Summary) {
    let firm = ctx.snap.project_of(f.device_code, ctx.today).map(|p| p.firm_id().to_owned());
    ctx.out.push(FindingDraft {
        rule,
        subject: Subject::Elevator(f.device_code),
        project: None,
        firm,
        action: action.0,
        severity: action.1,
        evidence: ev,
        summary: s,
    });
}

fn exit_finding(ctx: &mut Ctx<'_>, f: &EquipmentFacts, g: &ExitGround) {
    let dc = f.device_code;
    let ev = Evidence::new().figure("clause", g.clause).figure("since", g.since);
    let (rule, ev, summary) = match (&g.item, g.accident) {
        (Some(i), _) => (
            RuleId::TestNotDone,
            ev.figure("due_month", i.due_month).figure("window_to", i.window_to).figure("schedule_clause", i.clause),
            Summary::new(
                format!("电梯{dc}应于{}前完成的检测未按时完成，终止检测试点", i.window_to),
                format!(
                    "elevator {dc}: the test due by {} was not done in time: it leaves the testing pilot",
                    i.window_to
                ),
            ),
        ),
        (None, Some(id)) => (
            RuleId::TestingAccident,
            ev.record("accident", id),
            Summary::new(
                format!("电梯{dc}于{}发生事故，终止检测试点", g.since),
                format!("elevator {dc}: accident on {}: it leaves the testing pilot", g.since),
            ),
        ),
        (None, None) => return,
    };
    push(ctx, f, rule, (Action::Exit, Severity::Critical), ev, summary);
}

/// The day the elevator left the testing pilot: recorded, found now, or
/// by an A2 exit finding still open.
fn exited_on(ctx: &Ctx<'_>, f: &EquipmentFacts, grounds: &[ExitGround]) -> Option<NaiveDate> {
    let subject = Subject::Elevator(f.device_code);
    let open = [RuleId::TestNotDone, RuleId::TestingAccident]
        .into_iter()
        .filter_map(|r| ctx.open(r, &subject))
        .filter_map(|o| o.draft.evidence.figures.get("since").and_then(|v| v.as_str()?.parse().ok()));
    grounds.iter().map(|g| g.since).chain(open).min()
}

/// A2 §IV.(一).1, .3 and §VI.(一) for every elevator with equipment facts.
pub(crate) fn testing_pilot(ctx: &mut Ctx<'_>) {
    let snap = ctx.snap;
    for f in &snap.equipment {
        let results: Vec<CheckResult> =
            snap.check_results.iter().filter(|r| r.result.device_code == f.device_code).cloned().collect();
        let accidents: Vec<(i64, NaiveDate)> =
            snap.accidents.iter().filter(|a| a.device_code == f.device_code.as_str()).map(|a| (a.id, a.on)).collect();
        let grounds = exit_grounds(f, &results, &accidents, ctx.today);
        for g in &grounds {
            if ctx.out.iter().any(|o| o.subject == Subject::Elevator(f.device_code) && o.rule == rule_of(g)) {
                continue; // one finding per (rule, elevator): the oldest ground
            }
            exit_finding(ctx, f, g); // a recorded exit has no finding of its own
        }
        let Some(on) = exited_on(ctx, f, &grounds) else { continue };
        if let Some(s) = stop_ground(f, &results, on, ctx.today) {
            let dc = f.device_code;
            let ev = Evidence::new()
                .figure("exited_on", on)
                .figure("since", s.since)
                .figure("due_month", s.item.due_month)
                .figure("kind", s.item.kind)
                .figure("schedule_clause", s.item.clause);
            let summary = Summary::new(
                format!("电梯{dc}已退出检测试点且超期（{}起），应责令停止使用", s.since),
                format!(
                    "elevator {dc} left the testing pilot and is past its inspection date since {}: stop it",
                    s.since
                ),
            );
            push(ctx, f, RuleId::StopOverdue, (Action::Stop, Severity::Critical), ev, summary);
        }
    }
}

fn rule_of(g: &ExitGround) -> RuleId {
    if g.accident.is_some() {
        RuleId::TestingAccident
    } else {
        RuleId::TestNotDone
    }
}
