//! The maintenance plan (A1 §I.(二), §III.(一)): the on-site gap of the
//! mode, the 15-day remote check of the `remote*` modes, and the real-time
//! monitoring an `iot` project rests on.

use chrono::{Days, NaiveDate};

use super::catalogue::{Action, RuleId, Severity};
use super::evaluate::{day_start, Ctx};
use super::finding::{Evidence, Subject, Summary};
use super::snapshot::ProjectFacts;
use crate::pilot::{max_onsite_interval_months, onsite_due_by, remote_check_interval_days};
use crate::protocol::{DeviceCode, Timestamp, MICROS_PER_MINUTE};
use crate::records::VisitKind;
use crate::registry::ProjectMode;

/// The latest maintenance of an elevator: its local day and the record.
type Last = Option<(NaiveDate, (&'static str, String))>;

fn latest(ctx: &Ctx<'_>, device: DeviceCode, onsite_only: bool) -> Last {
    let tz = ctx.snap.tz;
    let visits = ctx
        .snap
        .visits
        .iter()
        .filter(|v| v.device_code == device.as_str() && (!onsite_only || v.kind == VisitKind::Onsite))
        .map(|v| (v.started_at.local_day(tz), ("visit", v.id.to_string())));
    let boxes = ctx
        .snap
        .box_maintenance
        .iter()
        .filter(|m| m.device == device)
        .map(|m| (m.at.local_day(tz), ("box_maintenance", m.visit_id.clone())));
    visits.chain(boxes).filter(|(d, _)| *d <= ctx.today).max()
}

/// From the latest maintenance and the obligation's start: the day counted
/// from, and the evidence of the maintenance (if any counts).
fn counted_from(ctx: &Ctx<'_>, p: &ProjectFacts, device: DeviceCode, last: &Last) -> (NaiveDate, Evidence) {
    let start = ctx.obligation_start(p, device);
    let mut ev = Evidence::new().figure("device_code", device).figure("obligation_start", start);
    let mut from = start;
    if let Some((day, (kind, id))) = last {
        ev = ev.figure("last_maintenance", day).record(kind, id);
        from = from.max(*day);
    }
    (from, ev.figure("counted_from", from))
}

/// Notice when due within `warn` days, rectify when past due.
fn due_action(today: NaiveDate, due: NaiveDate, warn: u32) -> Option<(Action, Severity)> {
    if today > due {
        Some((Action::Rectify, Severity::Major))
    } else if warn > 0 && today + Days::new(u64::from(warn)) >= due {
        Some((Action::Notice, Severity::Info))
    } else {
        None
    }
}

/// A1 §III.(一), A1 §I.(二): on-site maintenance of each elevator within the
/// mode's months of the last one (recorded visit of kind `onsite` or box
/// `maintenance` event), counted from the obligation's start when there is none.
pub(crate) fn onsite(ctx: &mut Ctx<'_>, p: &ProjectFacts) {
    let mode = p.record.spec.mode;
    let months = max_onsite_interval_months(mode);
    for e in &p.record.spec.elevators {
        let d = e.device_code;
        let last = latest(ctx, d, true);
        let (from, ev) = counted_from(ctx, p, d, &last);
        let due = onsite_due_by(mode, from);
        let Some(action) = due_action(ctx.today, due, ctx.cfg.plan.onsite_warn_days) else { continue };
        let ev = ev.figure("mode", mode.as_str()).figure("limit_months", months).figure("due_by", due);
        let summary = if action.0 == Action::Rectify {
            Summary::new(
                format!(
                    "电梯{d}自{from}起未进行现场维保，超过{mode}模式最长{months}个月的现场维保间隔（应于{due}前完成）"
                ),
                format!(
                    "no on-site maintenance of {d} since {from} (due by {due}; mode {mode} allows {months} months)"
                ),
            )
        } else {
            Summary::new(
                format!("电梯{d}应于{due}前进行现场维保（{mode}模式最长{months}个月）"),
                format!("on-site maintenance of {d} is due by {due} (mode {mode} allows {months} months since {from})"),
            )
        };
        ctx.project_finding(p, RuleId::OnsiteInterval, Subject::Elevator(d), action, ev, summary);
    }
}

/// A1 §I.(二).2–4: a remote check every 15 days in the `remote*` modes. An
/// on-site visit counts as a check (the technician saw more than a photo).
pub(crate) fn remote_checks(ctx: &mut Ctx<'_>, p: &ProjectFacts) {
    let mode = p.record.spec.mode;
    let Some(days) = remote_check_interval_days(mode) else { return };
    for e in &p.record.spec.elevators {
        let d = e.device_code;
        let last = latest(ctx, d, false);
        let (from, ev) = counted_from(ctx, p, d, &last);
        let due = from + Days::new(u64::from(days));
        let Some(action) = due_action(ctx.today, due, ctx.cfg.plan.remote_check_warn_days) else { continue };
        let ev = ev.figure("mode", mode.as_str()).figure("limit_days", days).figure("due_by", due);
        let summary = if action.0 == Action::Rectify {
            Summary::new(
                format!("电梯{d}自{from}起未进行远程检查，超过每{days}天一次的要求（应于{due}前完成）"),
                format!(
                    "no remote check of {d} since {from} (due by {due}; mode {mode} requires one every {days} days)"
                ),
            )
        } else {
            Summary::new(
                format!("电梯{d}应于{due}前进行远程检查（每{days}天一次）"),
                format!("a remote check of {d} is due by {due} (every {days} days)"),
            )
        };
        ctx.project_finding(p, RuleId::RemoteCheckInterval, Subject::Elevator(d), action, ev, summary);
    }
}

const MICROS_PER_DAY: i64 = 24 * 60 * MICROS_PER_MINUTE;

/// A1 §I.(二).1, §IV.(一).4: an `iot` project is monitored in real time. An
/// elevator whose box has been silent longer than the threshold (never
/// heard: silent since its obligation began), or whose odometer counted
/// more runs than were received beyond the threshold over the rolling
/// window, is not. A notice first; rectify, then exit, as the condition
/// lasts (silence: since the box was last heard; missing runs: since the
/// finding opened).
pub(crate) fn iot_monitoring(ctx: &mut Ctx<'_>, p: &ProjectFacts) {
    if p.record.spec.mode != ProjectMode::Iot {
        return;
    }
    let c = &ctx.cfg.iot;
    let now = ctx.snap.now;
    for e in &p.record.spec.elevators {
        let d = e.device_code;
        let start = day_start(ctx.snap.tz, ctx.obligation_start(p, d));
        let last_seen = ctx.snap.telemetry.get(&d).map(|t| t.last_seen);
        let silent_since = last_seen.map_or(start, |l| l.max(start));
        let silent = now.0.saturating_sub(silent_since.0) > i64::from(c.silent_after_hours) * 60 * MICROS_PER_MINUTE;
        let comp = ctx.snap.completeness.get(&d);
        let missing = comp.is_some_and(|k| {
            k.runs_by_odometer >= c.min_odometer_runs
                && k.runs_share.is_some_and(|s| s < 1.0 - c.max_missing_runs_share)
        });
        if !silent && !missing {
            continue;
        }
        let subject = Subject::Elevator(d);
        let opened = ctx.open(RuleId::IotMonitoring, &subject).map(|f| f.opened_at);
        let since: Timestamp = match (silent, opened) {
            (true, Some(o)) => silent_since.min(o),
            (true, None) => silent_since,
            (false, o) => o.unwrap_or(now),
        };
        let days = now.0.saturating_sub(since.0) / MICROS_PER_DAY;
        let action = if days >= i64::from(c.exit_after_days) {
            (Action::Exit, Severity::Critical)
        } else if days >= i64::from(c.rectify_after_days) {
            (Action::Rectify, Severity::Major)
        } else {
            (Action::Notice, Severity::Minor)
        };
        let mut ev = Evidence::new()
            .figure("device_code", d)
            .figure("last_seen", last_seen)
            .figure("silent", silent)
            .figure("silent_after_hours", c.silent_after_hours)
            .figure("condition_since", since);
        if let Some(k) = comp {
            ev = ev
                .figure("runs_by_odometer", k.runs_by_odometer)
                .figure("runs_reported", k.runs_reported)
                .figure("runs_share", k.runs_share)
                .figure("max_missing_runs_share", c.max_missing_runs_share);
        }
        let (zh, en) = match (silent, last_seen) {
            (true, Some(l)) => (
                format!("电梯{d}的监测终端自{}起无数据", l.to_rfc3339()),
                format!("the box of {d} silent since {}", l.to_rfc3339()),
            ),
            (true, None) => (format!("电梯{d}的监测终端从未上报数据"), format!("the box of {d} never heard from")),
            (false, _) => (
                format!("电梯{d}的运行记录缺失超过{:.0}%（按计数器）", c.max_missing_runs_share * 100.0),
                format!("runs of {d} missing beyond {:.0}% by the odometer", c.max_missing_runs_share * 100.0),
            ),
        };
        let summary = Summary::new(
            format!("{zh}：物联网实时监测未落实"),
            format!("{en}: real-time monitoring of the iot mode is not in place"),
        );
        ctx.project_finding(p, RuleId::IotMonitoring, subject, action, ev, summary);
    }
}
