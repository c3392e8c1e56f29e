//! The KPIs against the firm's commitment (A1 §II.(一)), over the rolling
//! window: a notice when a KPI is above its target, rectify when it
//! persists. A value hovering at the target does not flap: an open finding
//! holds until the value is back below the target by a margin.

use super::catalogue::{Action, RuleId, Severity};
use super::evaluate::Ctx;
use super::finding::{Evidence, Subject, Summary};
use super::snapshot::ProjectFacts;

/// One KPI as the rule sees it.
struct Kpi {
    rule: RuleId,
    zh: &'static str,
    en: &'static str,
    unit: &'static str,
    value: Option<f64>,
    target: f64,
    sample: i64,
    min_sample: i64,
}

pub(crate) fn against_commitment(ctx: &mut Ctx<'_>, p: &ProjectFacts) {
    let (Some(k), Some(c)) = (&p.kpis, &p.record.spec.commitment) else { return };
    let cfg = &ctx.cfg.kpi;
    let share_ok = k.completeness.runs_share.is_none_or(|s| s >= cfg.min_runs_share);
    let kpis = [
        Kpi {
            rule: RuleId::FaultRate,
            zh: "故障率",
            en: "fault rate",
            unit: "/10k runs",
            value: k.fault_rate_per_10k.filter(|_| share_ok),
            target: c.fault_rate_per_10k,
            sample: k.runs,
            min_sample: cfg.min_runs,
        },
        Kpi {
            rule: RuleId::Downtime,
            zh: "平均停梯时间",
            en: "mean downtime",
            unit: " min",
            value: k.downtime.mean_minutes,
            target: c.downtime_minutes,
            sample: k.downtime.count,
            min_sample: cfg.min_stoppages,
        },
        Kpi {
            rule: RuleId::RescueTime,
            zh: "平均救援时间",
            en: "mean rescue time",
            unit: " min",
            value: k.rescue.mean_minutes,
            target: c.rescue_minutes,
            sample: k.rescue.count,
            min_sample: cfg.min_rescues,
        },
    ];
    let subject = Subject::Project(p.id().to_owned());
    for kpi in kpis {
        let Some(value) = kpi.value.filter(|_| kpi.sample >= kpi.min_sample) else { continue };
        let open = ctx.open(kpi.rule, &subject);
        let threshold =
            if open.is_some() { kpi.target * (1.0 - cfg.resolve_margin) } else { kpi.target * (1.0 + cfg.tolerance) };
        if value <= threshold {
            continue;
        }
        let persisted =
            open.is_some_and(|o| ctx.minutes_since(o.opened_at) >= i64::from(cfg.rectify_after_days) * 24 * 60);
        let action = if persisted { (Action::Rectify, Severity::Major) } else { (Action::Notice, Severity::Minor) };
        let ev = Evidence::new()
            .figure("window", k.window)
            .figure("value", value)
            .figure("target", kpi.target)
            .figure("threshold", threshold)
            .figure("sample", kpi.sample)
            .figure("runs_share", k.completeness.runs_share);
        let w = k.window;
        let summary = Summary::new(
            format!("{}至{}{}为{value}{}，高于承诺的{}{}", w.from, w.to, kpi.zh, kpi.unit, kpi.target, kpi.unit),
            format!("{} {value}{} over {w} is above the committed {}{}", kpi.en, kpi.unit, kpi.target, kpi.unit),
        );
        ctx.project_finding(p, kpi.rule, subject.clone(), action, ev, summary);
    }
}
