//! The rule engine's metrics (`liftwatch_rules_*`), for operators.
//!
//! An evaluation runs beside ingest and the HTTP API on the same cores, at
//! start, every `--rules-interval-secs` and after kicks: its duration (and
//! which phase takes it), whether it fails, and how many findings are open
//! say when a fleet has outgrown the schedule. [`EngineMetrics`] is cheap
//! to clone (the metrics share their values); `liftwatch serve` registers
//! it in the `/metrics` registry and passes it to [`crate::run`].

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::Evaluation;

/// One label, e.g. `phase="apply"`.
type Label = [(&'static str, &'static str); 1];

/// The engine's counters, gauges and histogram.
#[derive(Clone, Debug)]
pub struct EngineMetrics {
    /// Evaluations finished (successfully or not).
    pub evaluations: Counter,
    /// Evaluations that failed (a store error; retried at the next tick).
    pub failures: Counter,
    /// Seconds per successful evaluation.
    pub duration: Histogram,
    /// Seconds of each phase of the last successful evaluation.
    pub phase_seconds: Family<Label, Gauge<f64, AtomicU64>>,
    /// Findings open after the last successful evaluation.
    pub open_findings: Gauge,
    /// Findings changed by the evaluations, by change (`opened`, `escalated`, `updated`, `resolved`).
    pub changes: Family<Label, Counter>,
}

impl Default for EngineMetrics {
    fn default() -> Self {
        EngineMetrics {
            evaluations: Counter::default(),
            failures: Counter::default(),
            // 10 ms … ~160 s.
            duration: Histogram::new(exponential_buckets(0.01, 2.0, 15)),
            phase_seconds: Family::default(),
            open_findings: Gauge::default(),
            changes: Family::default(),
        }
    }
}

impl EngineMetrics {
    /// Registers the metrics (prefix `liftwatch_rules`) in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("liftwatch_rules");
        r.register("evaluations", "Rule evaluations finished (successfully or not)", self.evaluations.clone());
        r.register(
            "evaluation_failures",
            "Rule evaluations that failed (retried at the next tick)",
            self.failures.clone(),
        );
        r.register_with_unit(
            "evaluation_duration",
            "Duration of successful rule evaluations",
            Unit::Seconds,
            self.duration.clone(),
        );
        r.register_with_unit(
            "evaluation_phase",
            "Duration of each phase (snapshot, rules, apply, statuses) of the last successful rule evaluation",
            Unit::Seconds,
            self.phase_seconds.clone(),
        );
        r.register(
            "findings_open",
            "Findings open after the last successful rule evaluation",
            self.open_findings.clone(),
        );
        r.register(
            "findings_changed",
            "Findings changed by rule evaluations, by change (opened, escalated, updated, resolved)",
            self.changes.clone(),
        );
        // Every label present from the start, so a rate() has a series to work on.
        for phase in ["snapshot", "rules", "apply", "statuses"] {
            let _ = self.phase_seconds.get_or_create(&[("phase", phase)]);
        }
        for change in ["opened", "escalated", "updated", "resolved"] {
            let _ = self.changes.get_or_create(&[("change", change)]);
        }
    }

    /// Records a successful evaluation.
    pub fn observe(&self, e: &Evaluation) {
        let p = &e.phases;
        self.duration.observe(p.total().as_secs_f64());
        for (phase, d) in [("snapshot", p.snapshot), ("rules", p.rules), ("apply", p.apply), ("statuses", p.statuses)] {
            self.phase_seconds.get_or_create(&[("phase", phase)]).set(d.as_secs_f64());
        }
        self.open_findings.set(i64::try_from(e.open).unwrap_or(i64::MAX));
        let a = &e.applied;
        for (change, n) in
            [("opened", a.opened), ("escalated", a.escalated), ("updated", a.updated), ("resolved", a.resolved)]
        {
            self.changes.get_or_create(&[("change", change)]).inc_by(n as u64);
        }
        self.evaluations.inc();
    }

    /// Records a failed evaluation.
    pub fn failed(&self) {
        self.failures.inc();
        self.evaluations.inc();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use liftwatch_store::findings::Applied;

    use super::*;
    use crate::Phases;

    #[test]
    fn an_evaluation_is_exported_with_its_phases_open_findings_and_changes() {
        let m = EngineMetrics::default();
        let mut registry = Registry::default();
        m.register(&mut registry);
        let e = Evaluation {
            drafts: 3,
            applied: Applied { opened: 2, resolved: 1, alerts: 3, ..Applied::default() },
            open: 7,
            phases: Phases {
                snapshot: Duration::from_millis(250),
                rules: Duration::from_millis(5),
                apply: Duration::from_millis(1500),
                statuses: Duration::from_millis(20),
            },
        };
        m.observe(&e);
        m.failed();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "liftwatch_rules_evaluations_total 2",
            "liftwatch_rules_evaluation_failures_total 1",
            "liftwatch_rules_evaluation_duration_seconds_count 1",
            "liftwatch_rules_evaluation_duration_seconds_sum 1.775",
            "liftwatch_rules_evaluation_phase_seconds{phase=\"apply\"} 1.5",
            "liftwatch_rules_evaluation_phase_seconds{phase=\"snapshot\"} 0.25",
            "liftwatch_rules_findings_open 7",
            "liftwatch_rules_findings_changed_total{change=\"opened\"} 2",
            "liftwatch_rules_findings_changed_total{change=\"resolved\"} 1",
            "liftwatch_rules_findings_changed_total{change=\"escalated\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
        }
    }
}
