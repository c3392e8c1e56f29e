//! The evaluation: every rule over one snapshot, in a deterministic order.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;

use super::catalogue::{Action, RuleId, Severity};
use super::config::RulesConfig;
use super::finding::{Evidence, FindingDraft, Subject, Summary};
use super::lifecycle::OpenFinding;
use super::snapshot::{ProjectFacts, Snapshot};
use super::{entry, incidents, kpis, oversight, plan, testing};
use crate::protocol::{DeviceCode, Timestamp, MICROS_PER_MINUTE};

/// What the rule functions share during one evaluation.
pub(crate) struct Ctx<'a> {
    pub snap: &'a Snapshot,
    pub cfg: &'a RulesConfig,
    pub today: NaiveDate,
    open: BTreeMap<(RuleId, &'a Subject), &'a OpenFinding>,
    pub out: Vec<FindingDraft>,
}

impl<'a> Ctx<'a> {
    /// The open finding of (rule, subject), if any.
    pub fn open(&self, rule: RuleId, subject: &Subject) -> Option<&'a OpenFinding> {
        self.open.get(&(rule, subject)).copied()
    }

    /// Adds a finding about a project (or something in it).
    pub fn project_finding(
        &mut self,
        p: &ProjectFacts,
        rule: RuleId,
        subject: Subject,
        (action, severity): (Action, Severity),
        evidence: Evidence,
        summary: Summary,
    ) {
        self.out.push(FindingDraft {
            rule,
            subject,
            project: Some(p.id().to_owned()),
            firm: Some(p.firm_id().to_owned()),
            action,
            severity,
            evidence,
            summary,
        });
    }

    /// Minutes from `t` to now (negative when `t` is later).
    pub fn minutes_since(&self, t: Timestamp) -> i64 {
        self.snap.now.0.saturating_sub(t.0) / MICROS_PER_MINUTE
    }

    /// The first day an elevator of `p` is under the project's obligations:
    /// the later of the admission and the start of its current membership.
    pub fn obligation_start(&self, p: &ProjectFacts, device: DeviceCode) -> NaiveDate {
        let since = p
            .record
            .memberships
            .iter()
            .filter(|m| m.device == device && m.covers(self.today))
            .map(|m| m.since)
            .max()
            .or_else(|| p.record.spec.elevators.iter().find(|e| e.device_code == device).and_then(|e| e.since));
        since.map_or(p.record.spec.admitted_on, |s| s.max(p.record.spec.admitted_on))
    }
}

/// The first instant of a local day.
pub(crate) fn day_start(tz: Tz, day: NaiveDate) -> Timestamp {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&naive)
        .earliest()
        .map_or(Timestamp(naive.and_utc().timestamp_micros()), |t| Timestamp::from_datetime(&t))
}

/// Every finding the snapshot shows, in (rule, subject) order.
///
/// Projects not admitted yet (`admitted_on` after today) and projects that
/// left the pilot since their admission (a recorded [`super::PilotExit`])
/// are not evaluated. Incidents count for the project their elevator
/// belonged to on the day they began.
pub fn evaluate(snap: &Snapshot, cfg: &RulesConfig) -> Vec<FindingDraft> {
    let open = snap.findings.iter().map(|f| ((f.draft.rule, &f.draft.subject), f)).collect();
    let mut ctx = Ctx { snap, cfg, today: snap.today(), open, out: Vec::new() };
    for p in in_pilot(snap, ctx.today) {
        entry::lapses(&mut ctx, p);
        plan::onsite(&mut ctx, p);
        plan::remote_checks(&mut ctx, p);
        plan::iot_monitoring(&mut ctx, p);
        kpis::against_commitment(&mut ctx, p);
        oversight::hazards(&mut ctx, p);
        oversight::complaints(&mut ctx, p);
        oversight::periodic_inspections(&mut ctx, p);
        oversight::overdue_orders(&mut ctx, p);
    }
    incidents::repair_deadlines(&mut ctx);
    incidents::rescue_arrivals(&mut ctx);
    oversight::accidents(&mut ctx);
    oversight::disqualified_firms(&mut ctx);
    testing::testing_pilot(&mut ctx);
    let mut out = ctx.out;
    out.sort_by(|a, b| (a.rule, &a.subject).cmp(&(b.rule, &b.subject)));
    out
}

/// The projects in the pilot today: admitted, not exited.
pub(crate) fn in_pilot(snap: &Snapshot, today: NaiveDate) -> impl Iterator<Item = &ProjectFacts> {
    let mut ps: Vec<&ProjectFacts> =
        snap.projects.iter().filter(|p| p.record.spec.admitted_on <= today && snap.exited(p).is_none()).collect();
    ps.sort_by(|a, b| a.id().cmp(b.id()));
    ps.into_iter()
}
