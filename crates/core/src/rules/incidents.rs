//! Incidents: faults open past their grade's repair deadline (A1 §V.(一).2)
//! and rescuers arriving later than the limit (TSG T5002). An entrapment's
//! clock starts at its alarm: one with no arrival yet is noticed as soon as
//! the limit has passed.

use super::catalogue::{Action, RuleId, Severity};
use super::evaluate::Ctx;
use super::finding::{Evidence, Subject, Summary};
use crate::pilot::{repair_due_at, repair_overdue, rescue_minutes, rescue_too_slow};
use crate::protocol::{Cause, MICROS_PER_MINUTE};

/// A1 §V.(一).2: every fault still open past its grade's deadline, unless
/// its cause in force is external or misuse (not the firm's to repair).
pub(crate) fn repair_deadlines(ctx: &mut Ctx<'_>) {
    let (snap, now) = (ctx.snap, ctx.snap.now);
    for f in &snap.faults {
        let Some(start) = &f.record.start else { continue };
        if f.record.cleared_at.is_some() || matches!(f.record.cause(), Some(Cause::External | Cause::Usage)) {
            continue;
        }
        let Some(p) = snap.project_of(f.device, start.ts.local_day(snap.tz)) else { continue };
        if snap.exited(p).is_some() {
            continue;
        }
        let grade = start.code.grade();
        let hours = ctx.cfg.repair.hours(grade);
        if !repair_overdue(start.ts, hours, now) {
            continue;
        }
        let due = repair_due_at(start.ts, hours);
        let d = f.device;
        let code = start.code.as_str().to_owned();
        let ev = Evidence::new()
            .figure("device_code", d)
            .figure("fault_id", &f.fault_id)
            .figure("code", &code)
            .figure("grade", grade)
            .figure("started_at", start.ts)
            .figure("deadline_hours", hours)
            .figure("due_at", due)
            .figure("stops_service", start.stops_service)
            .figure("cause", f.record.cause())
            .record("fault", format!("{}/{}", d.as_str(), f.fault_id));
        let summary = Summary::new(
            format!("电梯{d}的{grade}级故障{code}（{}）超过{hours}小时修复时限仍未排除", start.ts.to_rfc3339()),
            format!(
                "grade-{grade} fault {code} of {d} since {} still open past its {hours}-hour repair deadline",
                start.ts.to_rfc3339()
            ),
        );
        let severity = if grade == 1 { Severity::Major } else { Severity::Minor };
        let subject = Subject::Fault { device: d, fault_id: f.fault_id.clone() };
        ctx.project_finding(p, RuleId::RepairDeadline, subject, (Action::Rectify, severity), ev, summary);
    }
}

/// TSG T5002: the rescuer reaches trapped passengers within the region's
/// limit. Entrapments alarmed within the look-back are judged.
pub(crate) fn rescue_arrivals(ctx: &mut Ctx<'_>) {
    let (snap, now) = (ctx.snap, ctx.snap.now);
    let lookback = i64::from(ctx.cfg.rescue.lookback_days) * 24 * 60 * MICROS_PER_MINUTE;
    for e in &snap.entrapments {
        let Some(alarm) = &e.record.alarm else { continue };
        if now.0.saturating_sub(alarm.ts.0) > lookback {
            continue;
        }
        let Some(p) = snap.project_of(e.device, alarm.ts.local_day(snap.tz)) else { continue };
        if snap.exited(p).is_some() {
            continue;
        }
        let limit = ctx.cfg.rescue.limit_for(p.region.as_deref());
        let d = e.device;
        let mut ev = Evidence::new()
            .figure("device_code", d)
            .figure("incident_id", &e.incident_id)
            .figure("alarm_at", alarm.ts)
            .figure("limit_minutes", limit)
            .figure("region", &p.region)
            .record("entrapment", format!("{}/{}", d.as_str(), e.incident_id));
        let (action, summary) = match e.record.arrived_at {
            Some(a) if rescue_too_slow(alarm.ts, a, limit) => {
                let m = rescue_minutes(alarm.ts, a);
                ev = ev.figure("arrived_at", a).figure("rescue_minutes", m);
                (
                    (Action::Rectify, Severity::Major),
                    Summary::new(
                        format!("电梯{d}困人（{}）救援人员{m}分钟后到达，超过{limit}分钟", alarm.ts.to_rfc3339()),
                        format!("rescuer reached the entrapment of {d} ({}) after {m} minutes, over the {limit}-minute limit", alarm.ts.to_rfc3339()),
                    ),
                )
            }
            None if rescue_too_slow(alarm.ts, now, limit) => (
                (Action::Notice, Severity::Critical),
                Summary::new(
                    format!("电梯{d}困人（{}）已超过{limit}分钟，尚无救援人员到达记录", alarm.ts.to_rfc3339()),
                    format!(
                        "passengers trapped in {d} since {} for over {limit} minutes: no rescuer arrival recorded",
                        alarm.ts.to_rfc3339()
                    ),
                ),
            ),
            _ => continue,
        };
        let subject = Subject::Entrapment { device: d, incident_id: e.incident_id.clone() };
        ctx.project_finding(p, RuleId::RescueArrival, subject, action, ev, summary);
    }
}
