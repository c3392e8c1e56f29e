//! What firms and regulators record (api-v1.md "What firms record";
//! MISSION.md "The pilot rules").
//!
//! Firms (or regulators) correct a fault's cause, report a rescuer's arrival
//! and record maintenance visits; corrections and arrivals change the
//! incident record and its rollup contribution in ONE transaction, with the
//! incident row locked as the ingest path locks it, so the KPIs follow at
//! once and concurrent ingest never loses an update. Regulators record
//! complaints, inspections and spot checks, accidents, rectification orders
//! and the firms' yearly grades; the rule engine reads them.
//!
//! Input structs carry a `validate` method shared with the HTTP API (which
//! answers 400 with its message); the store runs it again and refuses with
//! [`StoreError::Permanent`].

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use liftwatch_core::incident::{contribution_delta, CauseCorrection, EntrapmentRecord, FaultRecord, IncidentError};
use liftwatch_core::protocol::{Cause, DeviceCode, Timestamp, MICROS_PER_MINUTE};
use liftwatch_core::rollup::DayRollup;
use liftwatch_core::window::Window;
use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use crate::postgres::{add_rollups, dt, entrapment_from_row, fault_from_row, ts, FaultUpdate};
use crate::{PgStore, StoreError};

/// Longest free text kept (summaries, reasons), in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest technician name or number, in characters.
pub const MAX_TECHNICIAN_CHARS: usize = 100;
/// Kinds of maintenance visit: on-site (现场维保) and remote check (远程检查, photo/video).
pub const VISIT_KINDS: [&str; 2] = ["onsite", "remote_check"];
/// Kinds of inspection: periodic inspection (定期检验), spot check (抽查), supervision (监督检查).
pub const INSPECTION_KINDS: [&str; 3] = ["periodic_inspection", "spot_check", "supervision"];
/// What a complaint is about (A1 §III.3 counts those about safety or quality).
pub const COMPLAINT_SUBJECTS: [&str; 3] = ["safety", "quality", "other"];
/// Firm grades.
pub const GRADES: [&str; 4] = ["A", "B", "C", "D"];
/// First year in which a firm without a published self-declaration cannot be
/// graded B or better (N §III.(三).2).
pub const SELF_DECLARATION_RULE_FROM: i32 = 2021;

/// Checks a free-text field: at most `max` characters, no U+0000, and not
/// blank when `required`.
pub fn check_text(field: &str, s: &str, max: usize, required: bool) -> Result<(), String> {
    if required && s.trim().is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    let n = s.chars().count();
    if n > max {
        return Err(format!("{field} has {n} characters; at most {max} are kept"));
    }
    if s.contains('\0') {
        return Err(format!("{field} contains the character U+0000, which cannot be stored"));
    }
    Ok(())
}

/// Checks an incident id (`fault_id`, `incident_id`) as the protocol does: 1–64 characters, no U+0000.
pub fn check_incident_id(field: &str, s: &str) -> Result<(), String> {
    let n = s.chars().count();
    if n == 0 || n > 64 || s.contains('\0') {
        return Err(format!("{field} {s:?} must be 1 to 64 characters (without U+0000), as in the protocol"));
    }
    Ok(())
}

fn invalid(r: Result<(), String>) -> Result<(), StoreError> {
    r.map_err(StoreError::Permanent)
}

fn incident_error(e: IncidentError) -> StoreError {
    match e {
        IncidentError::UnknownFault(_) | IncidentError::UnknownEntrapment(_) => StoreError::NotFound(e.to_string()),
        IncidentError::NoReason => StoreError::Permanent(e.to_string()),
    }
}

/// The first instant of a local day in `tz`.
pub(crate) fn day_start(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let midnight = d.and_time(chrono::NaiveTime::MIN);
    match tz.from_local_datetime(&midnight).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // A zone that skips midnight: the day starts an hour later at most.
        None => tz
            .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
            .map_or_else(|| Utc.from_utc_datetime(&midnight), |t| t.with_timezone(&Utc)),
    }
}

fn client(c: &deadpool_postgres::Object) -> &tokio_postgres::Client {
    c
}

async fn elevator_id<C: GenericClient>(c: &C, device: DeviceCode) -> Result<i32, StoreError> {
    c.query_opt("SELECT id FROM elevators WHERE device_code = $1", &[&device.as_str()])
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| StoreError::NotFound(format!("elevator {device} is not registered")))
}

// ---------------------------------------------------------------------------
// Faults: cause corrections
// ---------------------------------------------------------------------------

/// A fault with its whole cause history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultView {
    /// The elevator.
    pub device_code: String,
    /// The box's fault id.
    pub fault_id: String,
    /// Normalised fault code.
    pub code: String,
    /// When the fault was detected.
    pub started_at: Timestamp,
    /// When it was cleared, if it was.
    pub cleared_at: Option<Timestamp>,
    /// Whether it stopped the elevator.
    pub stops_service: bool,
    /// The cause in force (the latest correction, else the original).
    pub cause: Cause,
    /// The box's cause, or the code's default.
    pub original_cause: Cause,
    /// Every correction, oldest first.
    pub corrections: Vec<CauseCorrection>,
}

const FAULT_COLS: &str = "fault_id, start_ts, start_seq, code, stops_service, reported_cause, cleared_at, corrections";

fn fault_view(device: &str, r: &tokio_postgres::Row) -> Result<Option<FaultView>, StoreError> {
    let rec = fault_from_row(r)?;
    let (Some(start), Some(cause), Some(original_cause)) = (rec.start.as_ref(), rec.cause(), rec.original_cause())
    else {
        return Ok(None);
    };
    Ok(Some(FaultView {
        device_code: device.to_owned(),
        fault_id: r.get("fault_id"),
        code: start.code.as_str().to_owned(),
        started_at: start.ts,
        cleared_at: rec.cleared_at,
        stops_service: start.stops_service,
        cause,
        original_cause,
        corrections: rec.corrections,
    }))
}

fn unknown_fault(device: DeviceCode, fault_id: &str) -> StoreError {
    StoreError::NotFound(format!("fault {fault_id} of elevator {device} has not been reported by the box"))
}

impl PgStore {
    /// Corrects a fault's cause (by a firm or a regulator, with a reason), in
    /// one transaction: the fault row is locked, the correction appended, and
    /// the change of its contribution added to the rollups, so the KPIs follow
    /// at once. Correcting to the cause the latest correction already set
    /// records nothing (a repeated PUT changes nothing); confirming the box's
    /// own cause is recorded (it pins the cause). `NotFound` when the elevator is not
    /// registered or the box has not reported the fault.
    pub async fn correct_fault_cause(
        &self,
        device: DeviceCode,
        fault_id: &str,
        cause: Cause,
        by: &str,
        reason: &str,
        at: Timestamp,
    ) -> Result<FaultView, StoreError> {
        invalid(check_incident_id("fault_id", fault_id))?;
        invalid(check_text("reason", reason, MAX_TEXT_CHARS, true))?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let eid = elevator_id(&*tx, device).await?;
        let row = tx
            .query_opt(
                &format!("SELECT {FAULT_COLS} FROM faults WHERE elevator_id = $1 AND fault_id = $2 FOR UPDATE"),
                &[&eid, &fault_id],
            )
            .await?
            .ok_or_else(|| unknown_fault(device, fault_id))?;
        let mut rec: FaultRecord = fault_from_row(&row)?;
        // A repeated PUT (the latest correction already says so) records
        // nothing. A first correction equal to the box's cause is kept: it
        // pins the cause even if an earlier start with another code arrives.
        if rec.corrections.last().map(|c| c.to) != Some(cause) {
            let old = rec.contribution(self.tz);
            rec.correct(fault_id, cause, by, reason, at).map_err(incident_error)?;
            let mut rollups: BTreeMap<(i32, NaiveDate), DayRollup> = BTreeMap::new();
            for (day, d) in contribution_delta(old, rec.contribution(self.tz)) {
                *rollups.entry((eid, day)).or_default() += &d;
            }
            let mut upd = FaultUpdate::default();
            upd.push((eid, fault_id.to_owned()), &rec);
            upd.write(&*tx).await?;
            add_rollups(&*tx, &rollups).await?;
        }
        let row = tx
            .query_one(
                &format!("SELECT {FAULT_COLS} FROM faults WHERE elevator_id = $1 AND fault_id = $2"),
                &[&eid, &fault_id],
            )
            .await?;
        let view = fault_view(device.as_str(), &row)?.ok_or_else(|| unknown_fault(device, fault_id))?;
        tx.commit().await?;
        Ok(view)
    }

    /// One fault with its cause history; `NotFound` when the elevator is not
    /// registered, `None` when the box has not reported the fault.
    pub async fn fault(&self, device: DeviceCode, fault_id: &str) -> Result<Option<FaultView>, StoreError> {
        let c = self.pool.get().await?;
        let eid = elevator_id(client(&c), device).await?;
        let row = c
            .query_opt(
                &format!("SELECT {FAULT_COLS} FROM faults WHERE elevator_id = $1 AND fault_id = $2"),
                &[&eid, &fault_id],
            )
            .await?;
        match row {
            Some(r) => fault_view(device.as_str(), &r),
            None => Ok(None),
        }
    }

    /// An elevator's faults that began on the local days `from..=to` (either
    /// bound optional), newest first.
    pub async fn faults(
        &self,
        device: DeviceCode,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<FaultView>, StoreError> {
        let c = self.pool.get().await?;
        let eid = elevator_id(client(&c), device).await?;
        let lo = from.map(|d| day_start(self.tz, d));
        let hi = to.and_then(|d| d.succ_opt()).map(|d| day_start(self.tz, d));
        let rows = c
            .query(
                &format!(
                    "SELECT {FAULT_COLS} FROM faults WHERE elevator_id = $1 AND start_ts IS NOT NULL \
                     AND ($2::timestamptz IS NULL OR start_ts >= $2) AND ($3::timestamptz IS NULL OR start_ts < $3) \
                     ORDER BY start_ts DESC, fault_id LIMIT $4 OFFSET $5"
                ),
                &[&eid, &lo, &hi, &limit, &offset],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            if let Some(v) = fault_view(device.as_str(), r)? {
                out.push(v);
            }
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------
// Entrapments: rescuer arrival
// ---------------------------------------------------------------------------

/// An entrapment as known: alarm, arrival, release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntrapmentView {
    /// The elevator.
    pub device_code: String,
    /// The box's incident id.
    pub incident_id: String,
    /// When the alarm was raised (`None` until the box's alarm arrives).
    pub alarm_at: Option<Timestamp>,
    /// Earliest reported arrival of the rescuer (box or API).
    pub arrived_at: Option<Timestamp>,
    /// When the passengers were released, if known.
    pub released_at: Option<Timestamp>,
    /// The fault that trapped them, if the box knows it.
    pub fault_id: Option<String>,
    /// Alarm to arrival, minutes (when both are known; 0 when the arrival came first).
    pub rescue_minutes: Option<f64>,
    /// Who reported the arrival that counts: `box`, `firm:{id}` or `regulator`.
    pub arrival_reported_by: Option<String>,
}

const ENTRAPMENT_COLS: &str =
    "incident_id, alarm_ts, alarm_seq, fault_id, arrived_at, released_at, arrival_reported_by";

fn entrapment_view(device: &str, incident_id: &str, rec: &EntrapmentRecord) -> EntrapmentView {
    let rescue_minutes = match (&rec.alarm, rec.arrived_at) {
        (Some(a), Some(t)) => {
            let m = (t.0 - a.ts.0).max(0) as f64 / MICROS_PER_MINUTE as f64;
            Some((m * 100.0).round() / 100.0)
        }
        _ => None,
    };
    EntrapmentView {
        device_code: device.to_owned(),
        incident_id: incident_id.to_owned(),
        alarm_at: rec.alarm.as_ref().map(|a| a.ts),
        arrived_at: rec.arrived_at,
        released_at: rec.released_at,
        fault_id: rec.alarm.as_ref().and_then(|a| a.fault_id.as_deref().map(str::to_owned)),
        rescue_minutes,
        arrival_reported_by: None,
    }
}

impl PgStore {
    /// Records a rescuer's arrival reported through the API; the earliest
    /// arrival reported (by API or by the box) counts. Allowed before the
    /// box's alarm has arrived: the incident row is created and pairs with
    /// the alarm when it comes. One transaction, the row locked, the rollup
    /// change added. `NotFound` when the elevator is not registered.
    pub async fn report_arrival(
        &self,
        device: DeviceCode,
        incident_id: &str,
        at: Timestamp,
    ) -> Result<EntrapmentView, StoreError> {
        self.report_arrival_by(device, incident_id, at, "api").await
    }

    /// [`PgStore::report_arrival`] recording who reported it (`firm:{id}`,
    /// `regulator`), kept when this report becomes the earliest.
    pub async fn report_arrival_by(
        &self,
        device: DeviceCode,
        incident_id: &str,
        at: Timestamp,
        by: &str,
    ) -> Result<EntrapmentView, StoreError> {
        invalid(check_incident_id("incident_id", incident_id))?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let eid = elevator_id(&*tx, device).await?;
        tx.execute(
            "INSERT INTO entrapments (elevator_id, incident_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&eid, &incident_id],
        )
        .await?;
        let row = tx
            .query_one(
                &format!(
                    "SELECT {ENTRAPMENT_COLS} FROM entrapments WHERE elevator_id = $1 AND incident_id = $2 FOR UPDATE"
                ),
                &[&eid, &incident_id],
            )
            .await?;
        let mut rec = entrapment_from_row(&row);
        let mut reported_by: Option<String> = row.get("arrival_reported_by");
        let before = rec.arrived_at;
        let old = rec.contribution(self.tz);
        rec.report_arrival(at);
        if rec.arrived_at != before {
            let mut rollups: BTreeMap<(i32, NaiveDate), DayRollup> = BTreeMap::new();
            for (day, d) in contribution_delta(old, rec.contribution(self.tz)) {
                *rollups.entry((eid, day)).or_default() += &d;
            }
            reported_by = Some(by.to_owned());
            tx.execute(
                "UPDATE entrapments SET arrived_at = $3, arrival_reported_by = $4 WHERE elevator_id = $1 AND incident_id = $2",
                &[&eid, &incident_id, &rec.arrived_at.map(dt), &by],
            )
            .await?;
            add_rollups(&*tx, &rollups).await?;
        }
        tx.commit().await?;
        let mut view = entrapment_view(device.as_str(), incident_id, &rec);
        view.arrival_reported_by = reported_by;
        Ok(view)
    }

    /// One entrapment as known (`None` when nothing of it was received or reported).
    pub async fn entrapment(
        &self,
        device: DeviceCode,
        incident_id: &str,
    ) -> Result<Option<EntrapmentView>, StoreError> {
        let c = self.pool.get().await?;
        let eid = elevator_id(client(&c), device).await?;
        let row = c
            .query_opt(
                &format!("SELECT {ENTRAPMENT_COLS} FROM entrapments WHERE elevator_id = $1 AND incident_id = $2"),
                &[&eid, &incident_id],
            )
            .await?;
        Ok(row.map(|r| {
            let mut view = entrapment_view(device.as_str(), incident_id, &entrapment_from_row(&r));
            view.arrival_reported_by = r.get("arrival_reported_by");
            view
        }))
    }
}

// ---------------------------------------------------------------------------
// Maintenance visits
// ---------------------------------------------------------------------------

/// A maintenance visit to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewVisit {
    /// `onsite` (现场维保) or `remote_check` (远程检查, photo/video).
    pub kind: String,
    /// Start.
    pub started_at: Timestamp,
    /// End (not before the start).
    pub ended_at: Timestamp,
    /// Technician (name or staff number).
    pub technician: String,
}

impl NewVisit {
    /// Every problem of the visit, joined; `Ok` when it can be stored.
    pub fn validate(&self) -> Result<(), String> {
        let mut p = Vec::new();
        if !VISIT_KINDS.contains(&self.kind.as_str()) {
            p.push(format!("kind {:?} must be one of {}", self.kind, VISIT_KINDS.join(", ")));
        }
        if self.ended_at < self.started_at {
            p.push(format!("ended_at {} is before started_at {}", self.ended_at, self.started_at));
        }
        if let Err(e) = check_text("technician", &self.technician, MAX_TECHNICIAN_CHARS, true) {
            p.push(e);
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(p.join("; "))
        }
    }
}

/// A stored maintenance visit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// Id.
    pub id: i64,
    /// The elevator.
    pub device_code: String,
    /// `onsite` or `remote_check`.
    pub kind: String,
    /// Start.
    pub started_at: Timestamp,
    /// End.
    pub ended_at: Timestamp,
    /// Technician.
    pub technician: String,
    /// Who recorded it (`regulator` or `firm:{id}`).
    pub recorded_by: String,
    /// When it was recorded.
    pub recorded_at: Timestamp,
}

fn visit_of(device: &str, r: &tokio_postgres::Row) -> Visit {
    Visit {
        id: r.get(0),
        device_code: device.to_owned(),
        kind: r.get(1),
        started_at: ts(r.get(2)),
        ended_at: ts(r.get(3)),
        technician: r.get(4),
        recorded_by: r.get(5),
        recorded_at: ts(r.get(6)),
    }
}

impl PgStore {
    /// Records a maintenance visit. `Permanent` when invalid ([`NewVisit::validate`]),
    /// `NotFound` when the elevator is not registered.
    pub async fn add_visit(&self, device: DeviceCode, v: &NewVisit, by: &str) -> Result<Visit, StoreError> {
        invalid(v.validate())?;
        let c = self.pool.get().await?;
        let eid = elevator_id(client(&c), device).await?;
        let r = c
            .query_one(
                "INSERT INTO visits (elevator_id, kind, started_at, ended_at, technician, recorded_by) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 RETURNING id, kind, started_at, ended_at, technician, recorded_by, recorded_at",
                &[&eid, &v.kind, &dt(v.started_at), &dt(v.ended_at), &v.technician, &by],
            )
            .await?;
        Ok(visit_of(device.as_str(), &r))
    }

    /// An elevator's visits that started on the local days `from..=to`
    /// (either bound optional), oldest first.
    pub async fn visits(
        &self,
        device: DeviceCode,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Visit>, StoreError> {
        let c = self.pool.get().await?;
        let eid = elevator_id(client(&c), device).await?;
        let lo = from.map(|d| day_start(self.tz, d));
        let hi = to.and_then(|d| d.succ_opt()).map(|d| day_start(self.tz, d));
        let rows = c
            .query(
                "SELECT id, kind, started_at, ended_at, technician, recorded_by, recorded_at FROM visits \
                 WHERE elevator_id = $1 AND ($2::timestamptz IS NULL OR started_at >= $2) \
                 AND ($3::timestamptz IS NULL OR started_at < $3) ORDER BY started_at, id LIMIT $4 OFFSET $5",
                &[&eid, &lo, &hi, &limit, &offset],
            )
            .await?;
        Ok(rows.iter().map(|r| visit_of(device.as_str(), r)).collect())
    }
}

// ---------------------------------------------------------------------------
// Reclassification share per firm
// ---------------------------------------------------------------------------

/// How many of a firm's faults first attributed to `equipment` were
/// reclassified to another cause (regulators watch it for gaming).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reclassification {
    /// The firm.
    pub firm: String,
    /// The window (local days, inclusive).
    pub window: Window,
    /// Faults whose first cause (box's, or the code's default) was `equipment`.
    pub faults_first_equipment: i64,
    /// Of those, faults whose cause in force is no longer `equipment`.
    pub reclassified_away: i64,
    /// `reclassified_away / faults_first_equipment`, 4 decimals; `None` over none.
    pub share: Option<f64>,
}

impl PgStore {
    /// The reclassification share of a firm over a window: the rollups of the
    /// elevators of the firm's projects on the days they belonged. `None`
    /// when the firm does not exist.
    pub async fn firm_reclassification(
        &self,
        firm_id: &str,
        w: Window,
    ) -> Result<Option<Reclassification>, StoreError> {
        let c = self.pool.get().await?;
        if c.query_opt("SELECT 1 FROM firms WHERE id = $1", &[&firm_id]).await?.is_none() {
            return Ok(None);
        }
        let r = c
            .query_one(
                "SELECT coalesce(sum(r.reported_equipment_faults), 0)::int8, \
                        coalesce(sum(r.reclassified_from_equipment), 0)::int8 \
                 FROM projects p JOIN memberships m ON m.project_id = p.id \
                 JOIN rollups r ON r.elevator_id = m.elevator_id \
                      AND r.day >= m.since AND (m.until IS NULL OR r.day <= m.until) \
                 WHERE p.firm_id = $1 AND r.day BETWEEN $2 AND $3",
                &[&firm_id, &w.from, &w.to],
            )
            .await?;
        let (first, away): (i64, i64) = (r.get(0), r.get(1));
        let share = (first > 0).then(|| (away as f64 / first as f64 * 10_000.0).round() / 10_000.0);
        Ok(Some(Reclassification {
            firm: firm_id.to_owned(),
            window: w,
            faults_first_equipment: first,
            reclassified_away: away,
            share,
        }))
    }
}

// ---------------------------------------------------------------------------
// What regulators record
// ---------------------------------------------------------------------------

/// Filters of the regulator-record lists.
#[derive(Clone, Debug)]
pub struct RecordFilter {
    /// Only this project's.
    pub project: Option<String>,
    /// Only rows of projects of this firm (what a firm may see).
    pub firm: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

impl Default for RecordFilter {
    fn default() -> Self {
        RecordFilter { project: None, firm: None, limit: 100, offset: 0 }
    }
}

/// Checks the project exists and, when given, that the elevator is registered
/// and has belonged to the project; returns the elevator's id.
async fn project_elevator<C: GenericClient>(
    c: &C,
    project_id: &str,
    device: Option<DeviceCode>,
) -> Result<Option<i32>, StoreError> {
    if c.query_opt("SELECT 1 FROM projects WHERE id = $1", &[&project_id]).await?.is_none() {
        return Err(StoreError::NotFound(format!("project_id: project {project_id} does not exist")));
    }
    let Some(d) = device else { return Ok(None) };
    let eid = c
        .query_opt("SELECT id FROM elevators WHERE device_code = $1", &[&d.as_str()])
        .await?
        .map(|r| r.get::<_, i32>(0))
        .ok_or_else(|| StoreError::NotFound(format!("device_code: elevator {d} is not registered")))?;
    if c.query_opt("SELECT 1 FROM memberships WHERE elevator_id = $1 AND project_id = $2", &[&eid, &project_id])
        .await?
        .is_none()
    {
        return Err(StoreError::Permanent(format!(
            "device_code: elevator {d} has never belonged to project {project_id}"
        )));
    }
    Ok(Some(eid))
}

fn subject_problem(field: &str, v: &str, allowed: &[&str]) -> Option<String> {
    (!allowed.contains(&v)).then(|| format!("{field} {v:?} must be one of {}", allowed.join(", ")))
}

fn joined(p: Vec<String>) -> Result<(), String> {
    if p.is_empty() {
        Ok(())
    } else {
        Err(p.join("; "))
    }
}

/// A complaint to record (投诉).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewComplaint {
    /// The project.
    pub project_id: String,
    /// The elevator, when the complaint is about one.
    pub device_code: Option<DeviceCode>,
    /// Day received.
    pub received_on: NaiveDate,
    /// `safety`, `quality` or `other`.
    pub safety_or_quality: String,
    /// Whether the regulator verified it.
    pub verified: bool,
    /// Whether it was caused by the quality of maintenance (A1 §IV.(一).3).
    pub maintenance_quality_caused: bool,
    /// What it says.
    pub summary: String,
}

impl NewComplaint {
    /// Every problem, joined; `Ok` when it can be stored.
    pub fn validate(&self) -> Result<(), String> {
        let mut p: Vec<String> =
            subject_problem("safety_or_quality", &self.safety_or_quality, &COMPLAINT_SUBJECTS).into_iter().collect();
        p.extend(check_text("summary", &self.summary, MAX_TEXT_CHARS, true).err());
        joined(p)
    }
}

/// A stored complaint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complaint {
    /// Id.
    pub id: i64,
    /// The project.
    pub project_id: String,
    /// The project's firm.
    pub firm_id: String,
    /// The elevator, if any.
    pub device_code: Option<String>,
    /// Day received.
    pub received_on: NaiveDate,
    /// `safety`, `quality` or `other`.
    pub safety_or_quality: String,
    /// Verified.
    pub verified: bool,
    /// Caused by maintenance quality.
    pub maintenance_quality_caused: bool,
    /// What it says.
    pub summary: String,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: Timestamp,
}

const COMPLAINT_SELECT: &str =
    "SELECT x.id, x.project_id, p.firm_id, e.device_code, x.received_on, x.safety_or_quality, \
     x.verified, x.maintenance_quality_caused, x.summary, x.recorded_by, x.recorded_at \
     FROM complaints x JOIN projects p ON p.id = x.project_id LEFT JOIN elevators e ON e.id = x.elevator_id";

fn complaint_of(r: &tokio_postgres::Row) -> Complaint {
    Complaint {
        id: r.get(0),
        project_id: r.get(1),
        firm_id: r.get(2),
        device_code: r.get(3),
        received_on: r.get(4),
        safety_or_quality: r.get(5),
        verified: r.get(6),
        maintenance_quality_caused: r.get(7),
        summary: r.get(8),
        recorded_by: r.get(9),
        recorded_at: ts(r.get(10)),
    }
}

/// The `WHERE` of a filtered list: `$1` project, `$2` firm, `$3` limit, `$4` offset.
const FILTER: &str = "WHERE ($1::text IS NULL OR x.project_id = $1) AND ($2::text IS NULL OR p.firm_id = $2)";

impl PgStore {
    /// Records a complaint. `NotFound` for an unknown project or elevator,
    /// `Permanent` when invalid or the elevator never belonged to the project.
    pub async fn add_complaint(&self, n: &NewComplaint, by: &str) -> Result<Complaint, StoreError> {
        invalid(n.validate())?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let eid = project_elevator(&*tx, &n.project_id, n.device_code).await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO complaints (project_id, elevator_id, received_on, safety_or_quality, verified, \
                 maintenance_quality_caused, summary, recorded_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id",
                &[
                    &n.project_id,
                    &eid,
                    &n.received_on,
                    &n.safety_or_quality,
                    &n.verified,
                    &n.maintenance_quality_caused,
                    &n.summary,
                    &by,
                ],
            )
            .await?
            .get(0);
        let r = tx.query_one(&format!("{COMPLAINT_SELECT} WHERE x.id = $1"), &[&id]).await?;
        tx.commit().await?;
        Ok(complaint_of(&r))
    }

    /// One complaint.
    pub async fn complaint(&self, id: i64) -> Result<Option<Complaint>, StoreError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt(&format!("{COMPLAINT_SELECT} WHERE x.id = $1"), &[&id]).await?.as_ref().map(complaint_of))
    }

    /// Complaints, newest first.
    pub async fn complaints(&self, f: &RecordFilter) -> Result<Vec<Complaint>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!("{COMPLAINT_SELECT} {FILTER} ORDER BY x.received_on DESC, x.id DESC LIMIT $3 OFFSET $4");
        let rows = c.query(&sql, &[&f.project, &f.firm, &f.limit, &f.offset]).await?;
        Ok(rows.iter().map(complaint_of).collect())
    }

    /// Records the outcome of a complaint's verification; `None` when it does not exist.
    pub async fn verify_complaint(
        &self,
        id: i64,
        verified: bool,
        maintenance_quality_caused: bool,
    ) -> Result<Option<Complaint>, StoreError> {
        let c = self.pool.get().await?;
        let n = c
            .execute(
                "UPDATE complaints SET verified = $2, maintenance_quality_caused = $3, updated_at = now() WHERE id = $1",
                &[&id, &verified, &maintenance_quality_caused],
            )
            .await?;
        drop(c);
        if n == 0 {
            return Ok(None);
        }
        self.complaint(id).await
    }
}

/// An inspection, spot check or supervision visit to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewInspection {
    /// The project.
    pub project_id: String,
    /// The elevator, when it concerns one.
    pub device_code: Option<DeviceCode>,
    /// `periodic_inspection`, `spot_check` or `supervision`.
    pub kind: String,
    /// The day.
    pub on: NaiveDate,
    /// Whether a safety hazard was found (A1 §III.2).
    pub hazard_found: bool,
    /// Whether it passed (A1 §IV.(一).2 for periodic inspections).
    pub passed: bool,
    /// Findings in words.
    pub summary: String,
}

impl NewInspection {
    /// Every problem, joined; `Ok` when it can be stored.
    pub fn validate(&self) -> Result<(), String> {
        let mut p: Vec<String> = subject_problem("kind", &self.kind, &INSPECTION_KINDS).into_iter().collect();
        p.extend(check_text("summary", &self.summary, MAX_TEXT_CHARS, false).err());
        joined(p)
    }
}

/// A stored inspection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    /// Id.
    pub id: i64,
    /// The project.
    pub project_id: String,
    /// The project's firm.
    pub firm_id: String,
    /// The elevator, if any.
    pub device_code: Option<String>,
    /// Kind.
    pub kind: String,
    /// The day.
    pub on: NaiveDate,
    /// Hazard found.
    pub hazard_found: bool,
    /// Passed.
    pub passed: bool,
    /// Findings in words.
    pub summary: String,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: Timestamp,
}

const INSPECTION_SELECT: &str = "SELECT x.id, x.project_id, p.firm_id, e.device_code, x.kind, x.on_date, \
     x.hazard_found, x.passed, x.summary, x.recorded_by, x.recorded_at \
     FROM inspections x JOIN projects p ON p.id = x.project_id LEFT JOIN elevators e ON e.id = x.elevator_id";

fn inspection_of(r: &tokio_postgres::Row) -> Inspection {
    Inspection {
        id: r.get(0),
        project_id: r.get(1),
        firm_id: r.get(2),
        device_code: r.get(3),
        kind: r.get(4),
        on: r.get(5),
        hazard_found: r.get(6),
        passed: r.get(7),
        summary: r.get(8),
        recorded_by: r.get(9),
        recorded_at: ts(r.get(10)),
    }
}

impl PgStore {
    /// Records an inspection. Errors as [`PgStore::add_complaint`].
    pub async fn add_inspection(&self, n: &NewInspection, by: &str) -> Result<Inspection, StoreError> {
        invalid(n.validate())?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let eid = project_elevator(&*tx, &n.project_id, n.device_code).await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO inspections (project_id, elevator_id, kind, on_date, hazard_found, passed, summary, recorded_by) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id",
                &[&n.project_id, &eid, &n.kind, &n.on, &n.hazard_found, &n.passed, &n.summary, &by],
            )
            .await?
            .get(0);
        let r = tx.query_one(&format!("{INSPECTION_SELECT} WHERE x.id = $1"), &[&id]).await?;
        tx.commit().await?;
        Ok(inspection_of(&r))
    }

    /// One inspection.
    pub async fn inspection(&self, id: i64) -> Result<Option<Inspection>, StoreError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt(&format!("{INSPECTION_SELECT} WHERE x.id = $1"), &[&id]).await?.as_ref().map(inspection_of))
    }

    /// Inspections, newest first.
    pub async fn inspections(&self, f: &RecordFilter) -> Result<Vec<Inspection>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!("{INSPECTION_SELECT} {FILTER} ORDER BY x.on_date DESC, x.id DESC LIMIT $3 OFFSET $4");
        let rows = c.query(&sql, &[&f.project, &f.firm, &f.limit, &f.offset]).await?;
        Ok(rows.iter().map(inspection_of).collect())
    }
}

/// An accident to record (安全事故).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccident {
    /// The project.
    pub project_id: String,
    /// The elevator.
    pub device_code: DeviceCode,
    /// The day.
    pub on: NaiveDate,
    /// Whether poor maintenance caused it (A1 §IV.(二)).
    pub caused_by_maintenance: bool,
    /// What happened.
    pub summary: String,
}

impl NewAccident {
    /// Every problem, joined; `Ok` when it can be stored.
    pub fn validate(&self) -> Result<(), String> {
        check_text("summary", &self.summary, MAX_TEXT_CHARS, true)
    }
}

/// A stored accident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accident {
    /// Id.
    pub id: i64,
    /// The project.
    pub project_id: String,
    /// The project's firm.
    pub firm_id: String,
    /// The elevator.
    pub device_code: String,
    /// The day.
    pub on: NaiveDate,
    /// Caused by poor maintenance.
    pub caused_by_maintenance: bool,
    /// What happened.
    pub summary: String,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: Timestamp,
}

const ACCIDENT_SELECT: &str = "SELECT x.id, x.project_id, p.firm_id, e.device_code, x.on_date, \
     x.caused_by_maintenance, x.summary, x.recorded_by, x.recorded_at \
     FROM accidents x JOIN projects p ON p.id = x.project_id JOIN elevators e ON e.id = x.elevator_id";

fn accident_of(r: &tokio_postgres::Row) -> Accident {
    Accident {
        id: r.get(0),
        project_id: r.get(1),
        firm_id: r.get(2),
        device_code: r.get(3),
        on: r.get(4),
        caused_by_maintenance: r.get(5),
        summary: r.get(6),
        recorded_by: r.get(7),
        recorded_at: ts(r.get(8)),
    }
}

impl PgStore {
    /// Records an accident. Errors as [`PgStore::add_complaint`].
    pub async fn add_accident(&self, n: &NewAccident, by: &str) -> Result<Accident, StoreError> {
        invalid(n.validate())?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let eid = project_elevator(&*tx, &n.project_id, Some(n.device_code)).await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO accidents (project_id, elevator_id, on_date, caused_by_maintenance, summary, recorded_by) \
                 VALUES ($1,$2,$3,$4,$5,$6) RETURNING id",
                &[&n.project_id, &eid, &n.on, &n.caused_by_maintenance, &n.summary, &by],
            )
            .await?
            .get(0);
        let r = tx.query_one(&format!("{ACCIDENT_SELECT} WHERE x.id = $1"), &[&id]).await?;
        tx.commit().await?;
        Ok(accident_of(&r))
    }

    /// One accident.
    pub async fn accident(&self, id: i64) -> Result<Option<Accident>, StoreError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt(&format!("{ACCIDENT_SELECT} WHERE x.id = $1"), &[&id]).await?.as_ref().map(accident_of))
    }

    /// Accidents, newest first.
    pub async fn accidents(&self, f: &RecordFilter) -> Result<Vec<Accident>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!("{ACCIDENT_SELECT} {FILTER} ORDER BY x.on_date DESC, x.id DESC LIMIT $3 OFFSET $4");
        let rows = c.query(&sql, &[&f.project, &f.firm, &f.limit, &f.offset]).await?;
        Ok(rows.iter().map(accident_of).collect())
    }
}

/// A rectification order to record (责令整改, A1 §III).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRectificationOrder {
    /// The project.
    pub project_id: String,
    /// Day issued.
    pub issued_on: NaiveDate,
    /// Day by which it must be completed (not before `issued_on`).
    pub deadline: NaiveDate,
    /// Why.
    pub reason: String,
    /// The inspection it follows from, if any (same project).
    pub inspection_id: Option<i64>,
    /// The rule engine's finding it follows from, if any.
    pub finding_id: Option<String>,
}

impl NewRectificationOrder {
    /// Every problem, joined; `Ok` when it can be stored.
    pub fn validate(&self) -> Result<(), String> {
        let mut p = Vec::new();
        if self.deadline < self.issued_on {
            p.push(format!("deadline {} is before issued_on {}", self.deadline, self.issued_on));
        }
        p.extend(check_text("reason", &self.reason, MAX_TEXT_CHARS, true).err());
        if let Some(f) = &self.finding_id {
            p.extend(check_text("finding_id", f, 200, true).err());
        }
        joined(p)
    }
}

/// A stored rectification order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RectificationOrder {
    /// Id.
    pub id: i64,
    /// The project.
    pub project_id: String,
    /// The project's firm.
    pub firm_id: String,
    /// Day issued.
    pub issued_on: NaiveDate,
    /// Deadline.
    pub deadline: NaiveDate,
    /// Why.
    pub reason: String,
    /// The inspection it follows from.
    pub inspection_id: Option<i64>,
    /// The finding it follows from.
    pub finding_id: Option<String>,
    /// Day completed, once it is.
    pub completed_on: Option<NaiveDate>,
    /// Who recorded the completion.
    pub completed_by: Option<String>,
    /// Who recorded the order.
    pub recorded_by: String,
    /// When.
    pub recorded_at: Timestamp,
}

impl RectificationOrder {
    /// Whether it was (or, still open on `today`, is) late: completed after
    /// its deadline, or not completed and `today` is past the deadline.
    pub fn overdue(&self, today: NaiveDate) -> bool {
        self.completed_on.unwrap_or(today) > self.deadline
    }
}

const ORDER_SELECT: &str = "SELECT x.id, x.project_id, p.firm_id, x.issued_on, x.deadline, x.reason, x.inspection_id, \
     x.finding_id, x.completed_on, x.completed_by, x.recorded_by, x.recorded_at \
     FROM rectification_orders x JOIN projects p ON p.id = x.project_id";

fn order_of(r: &tokio_postgres::Row) -> RectificationOrder {
    RectificationOrder {
        id: r.get(0),
        project_id: r.get(1),
        firm_id: r.get(2),
        issued_on: r.get(3),
        deadline: r.get(4),
        reason: r.get(5),
        inspection_id: r.get(6),
        finding_id: r.get(7),
        completed_on: r.get(8),
        completed_by: r.get(9),
        recorded_by: r.get(10),
        recorded_at: ts(r.get(11)),
    }
}

impl PgStore {
    /// Records a rectification order. `NotFound` for an unknown project,
    /// `Permanent` when invalid or when the inspection or finding it cites is
    /// unknown or of another project.
    pub async fn add_rectification_order(
        &self,
        n: &NewRectificationOrder,
        by: &str,
    ) -> Result<RectificationOrder, StoreError> {
        invalid(n.validate())?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        project_elevator(&*tx, &n.project_id, None).await?;
        if let Some(i) = n.inspection_id {
            let p: Option<String> =
                tx.query_opt("SELECT project_id FROM inspections WHERE id = $1", &[&i]).await?.map(|r| r.get(0));
            match p {
                None => return Err(StoreError::Permanent(format!("inspection_id: inspection {i} does not exist"))),
                Some(p) if p != n.project_id => {
                    return Err(StoreError::Permanent(format!(
                        "inspection_id: inspection {i} is of project {p}, not {}",
                        n.project_id
                    )))
                }
                Some(_) => {}
            }
        }
        if let Some(f) = &n.finding_id {
            if tx.query_opt("SELECT 1 FROM findings WHERE id = $1", &[f]).await?.is_none() {
                return Err(StoreError::Permanent(format!("finding_id: finding {f} does not exist")));
            }
        }
        let id: i64 = tx
            .query_one(
                "INSERT INTO rectification_orders (project_id, issued_on, deadline, reason, inspection_id, finding_id, \
                 recorded_by) VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING id",
                &[&n.project_id, &n.issued_on, &n.deadline, &n.reason, &n.inspection_id, &n.finding_id, &by],
            )
            .await?
            .get(0);
        let r = tx.query_one(&format!("{ORDER_SELECT} WHERE x.id = $1"), &[&id]).await?;
        tx.commit().await?;
        Ok(order_of(&r))
    }

    /// One rectification order.
    pub async fn rectification_order(&self, id: i64) -> Result<Option<RectificationOrder>, StoreError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt(&format!("{ORDER_SELECT} WHERE x.id = $1"), &[&id]).await?.as_ref().map(order_of))
    }

    /// Rectification orders, newest first.
    pub async fn rectification_orders(&self, f: &RecordFilter) -> Result<Vec<RectificationOrder>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!("{ORDER_SELECT} {FILTER} ORDER BY x.issued_on DESC, x.id DESC LIMIT $3 OFFSET $4");
        let rows = c.query(&sql, &[&f.project, &f.firm, &f.limit, &f.offset]).await?;
        Ok(rows.iter().map(order_of).collect())
    }

    /// Records (or corrects) the day a rectification was completed. `None`
    /// when the order does not exist; `Permanent` when `on` is before the
    /// day it was issued.
    pub async fn complete_rectification(
        &self,
        id: i64,
        on: NaiveDate,
        by: &str,
    ) -> Result<Option<RectificationOrder>, StoreError> {
        let c = self.pool.get().await?;
        let Some(r) = c.query_opt("SELECT issued_on FROM rectification_orders WHERE id = $1", &[&id]).await? else {
            return Ok(None);
        };
        let issued: NaiveDate = r.get(0);
        if on < issued {
            return Err(StoreError::Permanent(format!("completed_on {on} is before the order was issued on {issued}")));
        }
        c.execute(
            "UPDATE rectification_orders SET completed_on = $2, completed_by = $3 WHERE id = $1",
            &[&id, &on, &by],
        )
        .await?;
        drop(c);
        self.rectification_order(id).await
    }
}

/// A firm's grade for one year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmGrade {
    /// The firm.
    pub firm_id: String,
    /// The year graded.
    pub year: i32,
    /// `A`, `B`, `C` or `D`.
    pub grade: String,
    /// Whether its self-declaration and service commitment were published
    /// that year (`None`: not recorded).
    pub self_declared: Option<bool>,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: Timestamp,
}

/// Checks a grade for a year: `A`–`D`, a plausible year, and N §III.(三).2 —
/// from 2021 a firm that has not published its self-declaration cannot be
/// graded B or better.
pub fn validate_grade(year: i32, grade: &str, self_declared: Option<bool>) -> Result<(), String> {
    let mut p = Vec::new();
    if !(2000..=2200).contains(&year) {
        p.push(format!("year {year} must be between 2000 and 2200"));
    }
    p.extend(subject_problem("grade", grade, &GRADES));
    if year >= SELF_DECLARATION_RULE_FROM && self_declared == Some(false) && ["A", "B"].contains(&grade) {
        p.push(format!(
            "grade {grade} for {year} is not allowed: from {SELF_DECLARATION_RULE_FROM} a firm that has not published \
             its self-declaration cannot be graded B or better (N §III.(三).2)"
        ));
    }
    joined(p)
}

impl PgStore {
    /// Records (or corrects) a firm's grade for a year; returns it and whether
    /// it is new. The grade of the latest year on file also becomes the
    /// firm's current `grade`. `NotFound` when the firm does not exist.
    pub async fn put_firm_grade(
        &self,
        firm_id: &str,
        year: i32,
        grade: &str,
        self_declared: Option<bool>,
        by: &str,
    ) -> Result<(FirmGrade, bool), StoreError> {
        invalid(validate_grade(year, grade, self_declared))?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        if tx.query_opt("SELECT 1 FROM firms WHERE id = $1 FOR UPDATE", &[&firm_id]).await?.is_none() {
            return Err(StoreError::NotFound(format!("firm {firm_id} does not exist")));
        }
        let r = tx
            .query_one(
                "INSERT INTO firm_grades (firm_id, year, grade, self_declared, recorded_by) VALUES ($1,$2,$3,$4,$5) \
                 ON CONFLICT (firm_id, year) DO UPDATE SET grade = excluded.grade, \
                 self_declared = excluded.self_declared, recorded_by = excluded.recorded_by, recorded_at = now() \
                 RETURNING firm_id, year, grade, self_declared, recorded_by, recorded_at, (xmax = 0)",
                &[&firm_id, &year, &grade, &self_declared, &by],
            )
            .await?;
        let latest: i32 =
            tx.query_one("SELECT max(year) FROM firm_grades WHERE firm_id = $1", &[&firm_id]).await?.get(0);
        if latest == year {
            tx.execute("UPDATE firms SET grade = $2, updated_at = now() WHERE id = $1", &[&firm_id, &grade]).await?;
        }
        tx.commit().await?;
        Ok((grade_of(&r), r.get(6)))
    }

    /// A firm's grades, oldest year first; `None` when the firm does not exist.
    pub async fn firm_grades(&self, firm_id: &str) -> Result<Option<Vec<FirmGrade>>, StoreError> {
        let c = self.pool.get().await?;
        if c.query_opt("SELECT 1 FROM firms WHERE id = $1", &[&firm_id]).await?.is_none() {
            return Ok(None);
        }
        let rows = c
            .query(
                "SELECT firm_id, year, grade, self_declared, recorded_by, recorded_at FROM firm_grades \
                 WHERE firm_id = $1 ORDER BY year",
                &[&firm_id],
            )
            .await?;
        Ok(Some(rows.iter().map(grade_of).collect()))
    }
}

fn grade_of(r: &tokio_postgres::Row) -> FirmGrade {
    FirmGrade {
        firm_id: r.get(0),
        year: r.get(1),
        grade: r.get(2),
        self_declared: r.get(3),
        recorded_by: r.get(4),
        recorded_at: ts(r.get(5)),
    }
}
