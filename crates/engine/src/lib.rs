//! The rule engine: from the store's facts to findings and alerts.
//!
//! ```text
//!   store ──snapshot──► rules::evaluate (pure) ──drafts──► rules::reconcile (pure)
//!     ▲                                                        │ changes
//!     └──── apply_findings: findings + alert outbox + exits ◄──┘  (one transaction)
//!                 │
//!                 ▼ Dispatcher (liftwatch-alerts): webhooks, MQTT
//! ```
//!
//! [`run`] evaluates on a schedule and right after a kick (an event that
//! matters: an incident ingested, a record written), and only while this
//! process holds the leadership (a PostgreSQL advisory lock; another
//! process takes over when the leader dies). Evaluating is idempotent: an
//! evaluation that finds what is already open changes nothing and sends
//! nothing.

pub mod metrics;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono_tz::Tz;
use liftwatch_alerts::Dispatcher;
use liftwatch_core::protocol::{Timestamp, MICROS_PER_SEC};
use liftwatch_core::registry::ProjectStatus;
use liftwatch_core::rules::{evaluate, project_status, reconcile, FirmFacts, ProjectFacts, RulesConfig, Snapshot};
use liftwatch_core::window::Window;
use liftwatch_store::findings::Applied;
use liftwatch_store::inspections::EquipmentFilter;
use liftwatch_store::records::RecordFilter;
use liftwatch_store::registry::ProjectFilter;
use liftwatch_store::{Store, StoreError};
use tokio::sync::{watch, Notify};

pub use metrics::EngineMetrics;

/// Evaluate at least this often (and right after a kick).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// The leadership role the engine and the dispatcher share.
pub const ROLE: &str = "rule-engine";
/// Incidents older than this (and closed) are not read: the incident rules
/// look at open ones and at the recent past.
const INCIDENT_LOOKBACK_DAYS: i64 = 190;
/// Everything, for the snapshot's lists.
const ALL: i64 = i64::MAX / 2;

/// What one evaluation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Findings the rules produced.
    pub drafts: usize,
    /// What changed in the store.
    pub applied: Applied,
    /// Findings open after the evaluation.
    pub open: usize,
    /// Where the time went.
    pub phases: Phases,
}

/// Wall time of each phase of one evaluation: an evaluation runs beside
/// ingest and the HTTP API on the same cores, so an operator (and the
/// `engine` benchmark, docs/performance.md) needs to see which part grows
/// with the fleet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Phases {
    /// Reading the store's facts (`Engine::snapshot`).
    pub snapshot: Duration,
    /// The rules and the lifecycle (`evaluate` and `reconcile`, pure).
    pub rules: Duration,
    /// Writing the changes with their alerts (`apply_findings`, one transaction).
    pub apply: Duration,
    /// Reading the open findings and exits back and writing the projects' statuses.
    pub statuses: Duration,
}

impl Phases {
    /// The whole evaluation.
    pub fn total(&self) -> Duration {
        self.snapshot + self.rules + self.apply + self.statuses
    }
}

/// The engine over a store.
pub struct Engine {
    store: Arc<dyn Store>,
    rules: RulesConfig,
    tz: Tz,
}

impl Engine {
    /// An engine with these thresholds, local days in `tz`.
    pub fn new(store: Arc<dyn Store>, rules: RulesConfig, tz: Tz) -> Self {
        Engine { store, rules, tz }
    }

    /// Everything the rules read, at `now`.
    pub async fn snapshot(&self, now: Timestamp) -> Result<Snapshot, StoreError> {
        let s = &self.store;
        let mut snap = Snapshot::new(now, self.tz);
        let today = snap.today();
        let window = Window::rolling(today).map_err(|e| StoreError::Permanent(e.to_string()))?;
        for f in s.firms(None, ALL, 0).await? {
            let grades = s.firm_grades(&f.firm.id).await?.unwrap_or_default();
            snap.firms.push(FirmFacts { firm: f.firm, grades });
        }
        let projects = s.projects(&ProjectFilter { limit: ALL, ..ProjectFilter::default() }).await?;
        for record in projects {
            let id = record.spec.id.clone();
            let kpis = s.project_kpis(&id, window).await?;
            for (d, c) in s.project_elevator_completeness(&id, window).await? {
                snap.completeness.insert(d, c);
            }
            let region = record.spec.pilot_form.region.clone();
            snap.projects.push(ProjectFacts { record, region, kpis });
        }
        snap.telemetry = s.all_telemetry().await?.into_iter().collect::<BTreeMap<_, _>>();
        let since = Timestamp(now.0.saturating_sub(INCIDENT_LOOKBACK_DAYS * 86_400 * MICROS_PER_SEC));
        (snap.faults, snap.entrapments) = s.rule_incidents(since).await?;
        snap.visits = s.latest_visits().await?;
        snap.box_maintenance = s.latest_box_maintenance().await?;
        let all = RecordFilter { limit: ALL, ..RecordFilter::default() };
        snap.inspections = s.inspections(&all).await?;
        snap.complaints = s.complaints(&all).await?;
        snap.accidents = s.accidents(&all).await?;
        snap.orders = s.rectification_orders(&all).await?;
        (snap.exits, snap.disqualifications) = s.pilot_history().await?;
        snap.findings = s.open_findings().await?;
        let set = s.inspection_set(&EquipmentFilter::default()).await?;
        snap.equipment = set.equipment.into_iter().map(|e| e.facts).collect();
        snap.check_results = set.checks.into_iter().map(|c| c.result).collect();
        Ok(snap)
    }

    /// One evaluation at `now`: snapshot, rules, lifecycle, store; then the
    /// projects' statuses.
    pub async fn evaluate_once(&self, now: Timestamp) -> Result<Evaluation, StoreError> {
        let mut phases = Phases::default();
        let t = Instant::now();
        let snap = self.snapshot(now).await?;
        phases.snapshot = t.elapsed();
        let t = Instant::now();
        let drafts = evaluate(&snap, &self.rules);
        let changes = reconcile(&snap.findings, &drafts, now, &self.rules.hysteresis);
        phases.rules = t.elapsed();
        let t = Instant::now();
        let applied =
            if changes.is_empty() { Applied::default() } else { self.store.apply_findings(&changes, now).await? };
        phases.apply = t.elapsed();
        let t = Instant::now();
        let open = self.store.open_findings().await?;
        let (exits, _) = self.store.pilot_history().await?;
        let statuses: Vec<(String, ProjectStatus)> = snap
            .projects
            .iter()
            .map(|p| {
                let st = project_status(p.id(), p.record.spec.admitted_on, &open, &snap.orders, &exits);
                (p.id().to_owned(), st)
            })
            .filter(|(id, st)| snap.projects.iter().any(|p| p.id() == id && p.record.status != *st))
            .collect();
        self.store.set_project_statuses(&statuses).await?;
        phases.statuses = t.elapsed();
        Ok(Evaluation { drafts: drafts.len(), applied, open: open.len(), phases })
    }
}

/// How [`run`] behaves.
pub struct RunConfig {
    /// Evaluate at least this often.
    pub interval: Duration,
    /// The clock.
    pub clock: Arc<dyn Fn() -> Timestamp + Send + Sync>,
    /// Where evaluations are counted and timed (`/metrics`).
    pub metrics: EngineMetrics,
}

/// Leads when it can; while leading, evaluates every `interval` and after
/// each kick, and dispatches due alerts. Returns when `shutdown` turns true.
pub async fn run(
    engine: Engine,
    dispatcher: Dispatcher,
    kick: Arc<Notify>,
    cfg: RunConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut lease = None;
    let mut last_eval: Option<tokio::time::Instant> = None;
    let tick = Duration::from_secs(1).min(cfg.interval);
    loop {
        if *shutdown.borrow() {
            return;
        }
        if lease.is_none() {
            match engine.store.try_lead(ROLE).await {
                Ok(Some(l)) => {
                    tracing::info!("this process leads the rule engine and alert delivery");
                    last_eval = None;
                    lease = Some(l);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not try for the rule engine's leadership"),
            }
        } else if let Some(l) = &lease {
            if !l.held().await {
                tracing::warn!("the rule engine's leadership was lost; standing by");
                lease = None;
            }
        }
        if lease.is_some() {
            let due = last_eval.is_none_or(|t| t.elapsed() >= cfg.interval);
            let kicked = kick_pending(&kick);
            if due || kicked {
                last_eval = Some(tokio::time::Instant::now());
                match engine.evaluate_once((cfg.clock)()).await {
                    Ok(e) => {
                        cfg.metrics.observe(&e);
                        if e.applied != Applied::default() {
                            tracing::info!(drafts = e.drafts, applied = ?e.applied, open = e.open,
                                seconds = e.phases.total().as_secs_f64(), phases = ?e.phases, "rules evaluated");
                        }
                    }
                    Err(e) => {
                        cfg.metrics.failed();
                        tracing::warn!(error = %e, "rule evaluation failed; retrying at the next tick")
                    }
                }
            }
            if let Err(e) = dispatcher.run_once((cfg.clock)()).await {
                tracing::warn!(error = %e, "alert dispatch failed; retrying at the next tick");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = kick.notified() => { kick.notify_one(); }
            _ = shutdown.changed() => {}
        }
    }
}

/// Whether a kick is pending (consumes it).
fn kick_pending(kick: &Notify) -> bool {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    let mut n = pin!(kick.notified());
    matches!(n.as_mut().poll(&mut Context::from_waker(Waker::noop())), Poll::Ready(()))
}
