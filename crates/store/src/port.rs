//! The store port: what the gateway, the HTTP API and the CLI need from a
//! store, one trait per capability. Adapters ([`crate::postgres`], [`crate::sqlite`])
//! implement every trait; nothing outside an adapter names its database.
//! The conformance suite (`crates/store/tests/conformance`) holds every
//! adapter to the same behaviour, with [`liftwatch_core::ledger::Ledger`] as
//! the reference model.
//!
//! The ingest trait ([`EventStore`]) is generic (static dispatch, on the hot
//! path); the others are object-safe (`async_trait`) so the API can hold an
//! `Arc<dyn Store>` whatever the backend.

use std::future::Future;

use async_trait::async_trait;
use chrono::NaiveDate;
use liftwatch_core::completeness::{Completeness, DeviceTelemetry, Reading, TelemetrySummary};
use liftwatch_core::inspection::{EquipmentFacts, NewCheckResult};
use liftwatch_core::kpi::{Commitment, KpiReport, Membership};
use liftwatch_core::protocol::{Cause, DeviceCode, Timestamp};
use liftwatch_core::records::{
    Accident, Complaint, FirmGrade, Inspection, NewAccident, NewComplaint, NewFirmGrade, NewInspection,
    NewRectificationOrder, NewVisit, RectificationOrder, Visit,
};
use liftwatch_core::registry::{Firm, FirmRecord, ProjectRecord, ProjectSpec, ProjectStatus};
use liftwatch_core::rollup::DayRollup;
use liftwatch_core::rules::{
    BoxMaintenance, Change, Disqualification, EntrapmentIncident, FaultIncident, OpenFinding, PilotExit,
};
use liftwatch_core::window::Window;

use crate::alerts::{Delivery, NewAlert, OutboxStatus, Outcome, Webhook, WebhookSpec};
use crate::dead_letters::{DeadLetterFilter, DeadLetterPolicy, DeadLetterRecord, PruneReport, ReplayReport};
use crate::findings::{Applied, Finding, FindingFilter, FindingNote};
use crate::inspections::{CheckRecord, EquipmentFilter, EquipmentRecord, InspectionSet};
use crate::overview::ProjectOverview;
use crate::records::{EntrapmentView, FaultView, Reclassification, RecordFilter, Scope};
use crate::registry::ProjectFilter;
use crate::{Inbound, IngestReport, StoreError};

/// The store as the ingest path sees it.
pub trait EventStore: Clone + Send + Sync + 'static {
    /// Stores a batch in one transaction; on error nothing of it is stored.
    fn ingest(&self, batch: &[Inbound]) -> impl Future<Output = Result<IngestReport, StoreError>> + Send;
    /// Keeps one whole message as a dead letter with a reason (used when the
    /// store refuses a message the decoder accepted).
    fn dead_letter(
        &self,
        m: &Inbound,
        reason_code: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Stores a batch in a transaction that is then rolled back: whether the
    /// store would take it now. The gateway probes with a message the store
    /// took before, to tell a store that refuses everything (a schema
    /// mismatch during a rolling upgrade) from one refused message.
    fn probe(&self, batch: &[Inbound]) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Whether the store answers (for `/readyz`).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Connection-pool figures for `/metrics` (`None` for a store without a pool).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open.
    pub size: usize,
    /// Connections open and idle (in use = `size - available`).
    pub available: usize,
    /// The most the pool will open.
    pub max_size: usize,
}

/// Liveness of the store, for `/readyz` and `/metrics`.
#[async_trait]
pub trait Health: Send + Sync {
    /// Whether the store answers.
    async fn check(&self) -> Result<(), StoreError>;
    /// The connection pool right now, if the store has one.
    fn pool_status(&self) -> Option<PoolStatus>;
}

/// Every capability the HTTP API and the CLI use; implemented by every
/// adapter (blanket impl), held as `Arc<dyn Store>`.
pub trait Store:
    Registry
    + FirmRecords
    + RegulatorRecords
    + Kpis
    + Telemetry
    + DeadLetters
    + Findings
    + RuleInputs
    + Alerts
    + Leadership
    + Inspections
    + Health
{
}

impl<
        T: Registry
            + FirmRecords
            + RegulatorRecords
            + Kpis
            + Telemetry
            + DeadLetters
            + Findings
            + RuleInputs
            + Alerts
            + Leadership
            + Inspections
            + Health,
    > Store for T
{
}

/// Firms, projects, elevators and their membership history (api-v1.md "Registry").
#[async_trait]
pub trait Registry: Send + Sync {
    /// Creates or updates a firm; returns true when it was created.
    /// `Permanent` when [`Firm::validate`] refuses it (e.g. grade A or B
    /// without a published self-declaration, N §III.(三).2).
    async fn put_firm(&self, f: &Firm) -> Result<bool, StoreError>;

    /// Creates or updates a project with its elevators, keeping membership
    /// history (api-v1.md): a new elevator belongs from its `since`, else from
    /// `admitted_on` when the project is first put, else from `today`; an
    /// elevator left out ends its membership on `today − 1`. An elevator in
    /// another project on an overlapping day is a conflict, and so is an
    /// elevator listed twice or a change of the project's firm. `Permanent`
    /// when [`ProjectSpec::validate`] refuses it. Returns true when created.
    async fn put_project(&self, p: &ProjectSpec, today: NaiveDate) -> Result<bool, StoreError>;

    /// The membership history of a project.
    async fn memberships(&self, project_id: &str) -> Result<Vec<Membership>, StoreError>;

    /// The project's commitment, if the project exists.
    async fn project_commitment(&self, project_id: &str) -> Result<Option<Option<Commitment>>, StoreError>;

    /// Stores the hash of a firm's new bearer token (rotation invalidates the old one).
    async fn set_firm_token_hash(&self, firm_id: &str, hash: &str) -> Result<(), StoreError>;

    /// The firm whose token has this hash.
    async fn firm_by_token_hash(&self, hash: &str) -> Result<Option<String>, StoreError>;

    /// One firm.
    async fn firm(&self, id: &str) -> Result<Option<FirmRecord>, StoreError>;

    /// Firms, by id (all when `id` is `None`).
    async fn firms(&self, id: Option<&str>, limit: i64, offset: i64) -> Result<Vec<FirmRecord>, StoreError>;

    /// The firm of a project, if the project exists.
    async fn project_firm(&self, project_id: &str) -> Result<Option<String>, StoreError>;

    /// Projects with filters and pagination.
    async fn projects(&self, f: &ProjectFilter) -> Result<Vec<ProjectRecord>, StoreError>;

    /// One project as stored.
    async fn project(&self, id: &str) -> Result<Option<ProjectRecord>, StoreError>;
}

/// What a maintenance firm records, and the incidents it may act on:
/// fault-cause corrections, rescue arrivals, maintenance visits. Corrections
/// and arrivals change the incident and its rollup contribution in one
/// transaction, so the KPIs follow at once.
///
/// Every call takes a [`Scope`]: a firm reaches only the days of its
/// tenures ([`liftwatch_core::tenancy::FirmAccess`]). An elevator it may not
/// see is `NotFound` with the words of an unregistered one, a record of a
/// day it may not read is as absent as one never received, and a write of a
/// day it may not write is `Forbidden` — checked in the write's transaction
/// with the elevator's membership rows locked `FOR SHARE`.
#[async_trait]
pub trait FirmRecords: Send + Sync {
    /// Corrects a fault's cause (by a firm or a regulator, with a reason), in
    /// one transaction: the fault row is locked, the correction appended, and
    /// the change of its contribution added to the rollups, so the KPIs follow
    /// at once. What a request does is the core's
    /// [`liftwatch_core::pilot::decide_correction`]: every correction with a
    /// reason is kept in the history, also one that repeats the cause in
    /// force (it documents who confirmed what, and pins the cause), and one
    /// that does not change the cause changes no KPI. `NotFound` when the
    /// elevator is not registered or the box has not reported the fault.
    // The scope, the fault, and the fields of the correction (as the core's
    // `FaultRecord::correct` takes them).
    #[allow(clippy::too_many_arguments)]
    async fn correct_fault_cause(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        fault_id: &str,
        cause: Cause,
        by: &str,
        reason: &str,
        at: Timestamp,
    ) -> Result<FaultView, StoreError>;

    /// One fault with its cause history; `NotFound` when the elevator is not
    /// registered, `None` when the box has not reported the fault.
    async fn fault(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        fault_id: &str,
    ) -> Result<Option<FaultView>, StoreError>;

    /// An elevator's faults that began on the local days `from..=to` (either
    /// bound optional), newest first.
    async fn faults(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<FaultView>, StoreError>;

    /// Records a rescuer's arrival reported through the API; the earliest
    /// arrival reported (by API or by the box) counts. Allowed before the
    /// box's alarm has arrived: the incident row is created and pairs with
    /// the alarm when it comes. One transaction, the row locked, the rollup
    /// change added. `NotFound` when the elevator is not registered. The
    /// platform's own report (every day; recorded as by `api`).
    async fn report_arrival(
        &self,
        device: DeviceCode,
        incident_id: &str,
        at: Timestamp,
    ) -> Result<EntrapmentView, StoreError>;

    /// [`FirmRecords::report_arrival`] recording who reported it (`firm:{id}`,
    /// `regulator`), kept when this report becomes the earliest.
    async fn report_arrival_by(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        incident_id: &str,
        at: Timestamp,
        by: &str,
    ) -> Result<EntrapmentView, StoreError>;

    /// One entrapment as known (`None` when nothing of it was received or reported).
    async fn entrapment(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        incident_id: &str,
    ) -> Result<Option<EntrapmentView>, StoreError>;

    /// Records a maintenance visit. `Permanent` when invalid ([`NewVisit::validate`]),
    /// `NotFound` when the elevator is not registered.
    async fn add_visit(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        v: &NewVisit,
        by: &str,
    ) -> Result<Visit, StoreError>;

    /// An elevator's visits that started on the local days `from..=to`
    /// (either bound optional), oldest first.
    async fn visits(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Visit>, StoreError>;
}

/// What regulators record: complaints, inspections and spot checks,
/// accidents, rectification orders and the firms' yearly grades.
#[async_trait]
pub trait RegulatorRecords: Send + Sync {
    /// Records a complaint. `NotFound` for an unknown project or elevator,
    /// `Permanent` when invalid or the elevator never belonged to the project.
    async fn add_complaint(&self, n: &NewComplaint, by: &str) -> Result<Complaint, StoreError>;

    /// One complaint.
    async fn complaint(&self, id: i64) -> Result<Option<Complaint>, StoreError>;

    /// Complaints, newest first.
    async fn complaints(&self, f: &RecordFilter) -> Result<Vec<Complaint>, StoreError>;

    /// Records the outcome of a complaint's verification; `None` when it does not exist.
    async fn verify_complaint(
        &self,
        id: i64,
        verified: bool,
        maintenance_quality_caused: bool,
    ) -> Result<Option<Complaint>, StoreError>;

    /// Records an inspection. Errors as [`RegulatorRecords::add_complaint`].
    async fn add_inspection(&self, n: &NewInspection, by: &str) -> Result<Inspection, StoreError>;

    /// One inspection.
    async fn inspection(&self, id: i64) -> Result<Option<Inspection>, StoreError>;

    /// Inspections, newest first.
    async fn inspections(&self, f: &RecordFilter) -> Result<Vec<Inspection>, StoreError>;

    /// Records an accident. Errors as [`RegulatorRecords::add_complaint`].
    async fn add_accident(&self, n: &NewAccident, by: &str) -> Result<Accident, StoreError>;

    /// One accident.
    async fn accident(&self, id: i64) -> Result<Option<Accident>, StoreError>;

    /// Accidents, newest first.
    async fn accidents(&self, f: &RecordFilter) -> Result<Vec<Accident>, StoreError>;

    /// Records a rectification order. `NotFound` for an unknown project,
    /// `Permanent` when invalid or when the inspection or finding it cites is
    /// unknown or of another project.
    async fn add_rectification_order(
        &self,
        n: &NewRectificationOrder,
        by: &str,
    ) -> Result<RectificationOrder, StoreError>;

    /// One rectification order.
    async fn rectification_order(&self, id: i64) -> Result<Option<RectificationOrder>, StoreError>;

    /// Rectification orders, newest first.
    async fn rectification_orders(&self, f: &RecordFilter) -> Result<Vec<RectificationOrder>, StoreError>;

    /// Records (or corrects) the day a rectification was completed. `None`
    /// when the order does not exist; `Permanent` when `on` is before the
    /// day it was issued.
    async fn complete_rectification(
        &self,
        id: i64,
        on: NaiveDate,
        by: &str,
    ) -> Result<Option<RectificationOrder>, StoreError>;

    /// Records (or corrects) a firm's grade for a year; returns it and whether
    /// it is new. The grade of the latest year on file also becomes the
    /// firm's current `grade`. `Permanent` when [`NewFirmGrade::validate`]
    /// refuses it, `NotFound` when the firm does not exist.
    async fn put_firm_grade(&self, firm_id: &str, g: &NewFirmGrade, by: &str) -> Result<(FirmGrade, bool), StoreError>;

    /// A firm's grades, oldest year first; `None` when the firm does not exist.
    async fn firm_grades(&self, firm_id: &str) -> Result<Option<Vec<FirmGrade>>, StoreError>;
}

/// KPI queries over the additive daily rollups (never a scan of raw events).
#[async_trait]
pub trait Kpis: Send + Sync {
    /// The reclassification share of a firm over a window: the rollups of the
    /// elevators of the firm's projects on the days they belonged. `None`
    /// when the firm does not exist.
    async fn firm_reclassification(&self, firm_id: &str, w: Window) -> Result<Option<Reclassification>, StoreError>;

    /// A project's KPIs over a window: rollups of its elevators on the days
    /// they belonged. `None` when the project does not exist.
    async fn project_kpis(&self, project_id: &str, w: Window) -> Result<Option<KpiReport>, StoreError>;

    /// Every project's KPIs over a window with its open findings, in
    /// project id order (the regulator overview): what `project_kpis` answers
    /// for each, read in a fixed number of queries grouped by project,
    /// whatever the number of projects.
    async fn projects_kpis(&self, w: Window) -> Result<Vec<ProjectOverview>, StoreError>;

    /// One elevator's KPIs over a window, on the days `scope` reads (all its
    /// days for [`Scope::All`]; a firm's tenures begun by its today, with the
    /// box's telemetry only while it holds the elevator). `None` when
    /// unknown, or when the firm may not see it.
    async fn elevator_kpis(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        w: Window,
    ) -> Result<Option<KpiReport>, StoreError>;

    /// All rollup rows (with fault counts by code), for reconciliation and tests.
    async fn rollup_rows(&self) -> Result<Vec<(DeviceCode, NaiveDate, DayRollup)>, StoreError>;

    /// A project's figures per day over a range (charts): the rollups of its
    /// elevators on the days they belonged, summed per day.
    async fn project_series(&self, project_id: &str, w: Window) -> Result<Vec<(NaiveDate, DayRollup)>, StoreError>;

    /// Per-elevator totals of a project over a window (shown beside the pooled
    /// KPIs): one pass over the rollups grouped by the integer elevator id,
    /// the codes joined afterwards.
    async fn project_elevator_totals(
        &self,
        project_id: &str,
        w: Window,
    ) -> Result<Vec<(DeviceCode, DayRollup)>, StoreError>;
}

/// What the store knows of the telemetry that did and did not arrive
/// (docs/kpis.md §9): per device, the seq numbers skipped and the last time
/// it was heard (for the rule engine and `/metrics`), and the counter
/// readings behind the `completeness` of the KPI answers (which
/// [`Kpis`] fills in).
#[async_trait]
pub trait Telemetry: Send + Sync {
    /// One device's telemetry; `None` when nothing of it was received (or it
    /// is not registered).
    async fn device_telemetry(&self, device: DeviceCode) -> Result<Option<DeviceTelemetry>, StoreError>;

    /// Elevators currently in a project that were never heard or not since
    /// before `before` (box time), longest silent first, at most `limit`;
    /// the telemetry is `None` for one never heard.
    async fn silent_devices(
        &self,
        before: Timestamp,
        limit: i64,
    ) -> Result<Vec<(DeviceCode, Option<DeviceTelemetry>)>, StoreError>;

    /// Fleet-wide sums for `/metrics`: one small row per device, never raw
    /// events; `silent` counts the elevators [`Telemetry::silent_devices`] lists.
    async fn telemetry_summary(&self, silent_before: Timestamp) -> Result<TelemetrySummary, StoreError>;

    /// The completeness of each elevator of a project over a window (spans
    /// on days it belonged), elevators with a counter pair only.
    async fn project_elevator_completeness(
        &self,
        project_id: &str,
        w: Window,
    ) -> Result<Vec<(DeviceCode, Completeness)>, StoreError>;

    /// All counter readings with their spans, by device and `(ts, seq)`,
    /// for reconciliation and tests.
    async fn counter_readings(&self) -> Result<Vec<(DeviceCode, Reading)>, StoreError>;
}

/// Rejected payloads with their reason, and their replay once the cause is fixed.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// Pending (not replayed) dead letters, oldest first.
    async fn dead_letters(&self, f: &DeadLetterFilter) -> Result<Vec<DeadLetterRecord>, StoreError>;

    /// Replays pending dead letters matching `f` in one transaction: each is
    /// decoded again at `now` and ingested; the originals are marked replayed
    /// (those still invalid get a fresh dead letter with today's reason).
    /// Events already stored stay counted once.
    async fn replay_dead_letters(&self, f: &DeadLetterFilter, now: Timestamp) -> Result<ReplayReport, StoreError>;

    /// Deletes dead letters last seen before `policy.keep_since`, then the
    /// oldest ones until the rest fit in `policy.max_bytes`.
    async fn prune_dead_letters(&self, policy: &DeadLetterPolicy) -> Result<PruneReport, StoreError>;
}

/// What the rule engine found (read side).
#[async_trait]
pub trait Findings: Send + Sync {
    /// Findings, newest first.
    async fn findings(&self, f: &FindingFilter) -> Result<Vec<Finding>, StoreError>;
    /// One finding.
    async fn finding(&self, id: &str) -> Result<Option<Finding>, StoreError>;
    /// The open findings as the core's lifecycle reads them.
    async fn open_findings(&self) -> Result<Vec<OpenFinding>, StoreError>;
    /// Applies an evaluation's changes in ONE transaction with the alert
    /// events they raise (opened, escalated, resolved) and the exits and
    /// disqualifications an opened `exit`/`disqualify` finding records.
    async fn apply_findings(&self, changes: &[Change], now: Timestamp) -> Result<Applied, StoreError>;
    /// A regulator acknowledges a finding; `None` if there is none.
    async fn acknowledge_finding(&self, id: &str, by: &str, now: Timestamp) -> Result<Option<Finding>, StoreError>;
    /// A regulator's note on a finding; `None` if there is no such finding.
    async fn add_finding_note(
        &self,
        id: &str,
        by: &str,
        note: &str,
        now: Timestamp,
    ) -> Result<Option<FindingNote>, StoreError>;
    /// The notes of a finding, oldest first.
    async fn finding_notes(&self, id: &str) -> Result<Vec<FindingNote>, StoreError>;
    /// Exits and disqualifications recorded.
    async fn pilot_history(&self) -> Result<(Vec<PilotExit>, Vec<Disqualification>), StoreError>;
    /// Sets projects' statuses (derived by the engine from findings and orders).
    async fn set_project_statuses(&self, statuses: &[(String, ProjectStatus)]) -> Result<(), StoreError>;
}

/// What the rule engine reads beyond the other ports, in bulk.
#[async_trait]
pub trait RuleInputs: Send + Sync {
    /// Faults still open (stopping service), and faults and entrapments that
    /// began at or after `since`.
    async fn rule_incidents(
        &self,
        since: Timestamp,
    ) -> Result<(Vec<FaultIncident>, Vec<EntrapmentIncident>), StoreError>;
    /// Each elevator's latest visit of each kind.
    async fn latest_visits(&self) -> Result<Vec<Visit>, StoreError>;
    /// Each box's latest on-site maintenance start event.
    async fn latest_box_maintenance(&self) -> Result<Vec<BoxMaintenance>, StoreError>;
    /// Every box's telemetry.
    async fn all_telemetry(&self) -> Result<Vec<(DeviceCode, DeviceTelemetry)>, StoreError>;
}

/// Equipment facts and check results of attachment 2 (docs/inspection.md):
/// the regulator writes both (inspection bodies record results with the
/// regulator's token for now); a firm reads those of the elevators it may
/// see ([`Scope`]: one of its tenures has begun) — all of them, whatever
/// their day: they are facts about the equipment, and the schedule of any
/// year needs the whole history.
#[async_trait]
pub trait Inspections: Send + Sync {
    /// Creates or replaces an elevator's facts; returns them as stored and
    /// whether they are new. `Permanent` when [`EquipmentFacts::validate`]
    /// refuses them, `NotFound` when the elevator is not registered.
    async fn put_equipment(&self, f: &EquipmentFacts, by: &str) -> Result<(EquipmentRecord, bool), StoreError>;

    /// An elevator's facts (`None` when none were put). `NotFound` when it
    /// is not registered or `scope` may not see it.
    async fn equipment(&self, scope: Scope<'_>, device: DeviceCode) -> Result<Option<EquipmentRecord>, StoreError>;

    /// Records a result done by the inspection or test body `body`.
    /// `Permanent` when [`NewCheckResult::validate`] refuses it, `NotFound`
    /// when the elevator is not registered.
    async fn add_check(&self, r: &NewCheckResult, body: &str, by: &str) -> Result<CheckRecord, StoreError>;

    /// An elevator's results, by day done and id. Errors as [`Inspections::equipment`].
    async fn checks(&self, scope: Scope<'_>, device: DeviceCode) -> Result<Vec<CheckRecord>, StoreError>;

    /// The facts and results of the elevators `f` covers (elevators
    /// without facts are left out), for the due list and the rule engine.
    async fn inspection_set(&self, f: &EquipmentFilter) -> Result<InspectionSet, StoreError>;
}

/// Webhook subscriptions and the alert outbox (see [`crate::alerts`] for
/// the delivery guarantees).
#[async_trait]
pub trait Alerts: Send + Sync {
    /// Creates or replaces the webhook `w.id` of `w.owner` (each owner has
    /// its own ids); `Ok(true)` when created.
    async fn put_webhook(&self, w: &WebhookSpec) -> Result<bool, StoreError>;
    /// The webhook `id` of `owner`.
    async fn webhook(&self, owner: &str, id: &str) -> Result<Option<Webhook>, StoreError>;
    /// The webhooks of `owner`, by id.
    async fn webhooks(&self, owner: &str) -> Result<Vec<Webhook>, StoreError>;
    /// Deletes the webhook `id` of `owner` (and its pending deliveries);
    /// whether it existed.
    async fn delete_webhook(&self, owner: &str, id: &str) -> Result<bool, StoreError>;
    /// Enqueues an event for every matching webhook (and MQTT when the event
    /// has a firm), at most once per `msg_id`; whether it was new.
    async fn enqueue_alert(&self, a: &NewAlert, now: Timestamp) -> Result<bool, StoreError>;
    /// Leases up to `limit` due deliveries to `owner` until `lease_until`
    /// (oldest first, each only after the earlier events of its subject).
    async fn claim_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// Records an attempt's outcome; `false` (and nothing changes) when the
    /// lease is no longer `owner`'s.
    async fn complete_delivery(
        &self,
        id: i64,
        owner: &str,
        outcome: &Outcome,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Pending deliveries, for `/metrics`.
    async fn outbox_status(&self, now: Timestamp) -> Result<OutboxStatus, StoreError>;
    /// Deletes events whose every delivery was accepted before `before`; how many.
    async fn prune_alerts(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// Leader election among `serve` processes sharing a store: exactly one
/// evaluates the rules and dispatches alerts.
#[async_trait]
pub trait Leadership: Send + Sync {
    /// Tries to become leader of `role`; `None` when another process is.
    async fn try_lead(&self, role: &str) -> Result<Option<Box<dyn Lease>>, StoreError>;
}

/// Held leadership; dropping it gives it up.
#[async_trait]
pub trait Lease: Send + Sync {
    /// Whether it is still held (e.g. the database session holding the lock
    /// is alive). A leader that loses it must stop acting at once.
    async fn held(&self) -> bool;
}
