//! What firms record (api-v1.md "What firms record": fault-cause corrections,
//! rescuer arrivals, maintenance visits), the reclassification share per
//! firm, and what regulators record (complaints, inspections and spot
//! checks, accidents, rectification orders, firms' yearly grades).
//!
//! Roles: firms record for the elevators of their own projects (a regulator
//! may too); regulator records are created and changed by regulators only
//! (a firm gets 403) and read by regulators and by the firm of the project
//! (another firm's record answers 404, as if it did not exist).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{Datelike, NaiveDate};
use liftwatch_core::incident::CauseCorrection;
use liftwatch_core::protocol::{parse_rfc3339, Cause, Timestamp, MICROS_PER_MINUTE};
use liftwatch_store::records::{
    self as rec, check_incident_id, check_text, Accident, Complaint, EntrapmentView, FaultView, FirmGrade, Inspection,
    NewAccident, NewComplaint, NewInspection, NewRectificationOrder, NewVisit, RecordFilter, RectificationOrder, Visit,
    MAX_TEXT_CHARS,
};
use liftwatch_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::kpis::{visible_elevator, WindowOut, WindowQuery};
use super::registry::visible_project;
use super::{device, Page};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(put_fault_cause))
        .routes(routes!(get_fault))
        .routes(routes!(list_faults))
        .routes(routes!(put_arrival))
        .routes(routes!(get_entrapment))
        .routes(routes!(post_visit, list_visits))
        .routes(routes!(firm_reclassification))
        .routes(routes!(post_grade, list_grades))
        .routes(routes!(post_complaint, list_complaints))
        .routes(routes!(get_complaint))
        .routes(routes!(put_complaint_verification))
        .routes(routes!(post_inspection, list_inspections))
        .routes(routes!(get_inspection))
        .routes(routes!(post_accident, list_accidents))
        .routes(routes!(get_accident))
        .routes(routes!(post_rectification_order, list_rectification_orders))
        .routes(routes!(get_rectification_order))
        .routes(routes!(put_rectification_completion))
}

/// How far in the future a reported time may lie (clock skew of field devices).
const MAX_FUTURE_MICROS: i64 = 5 * MICROS_PER_MINUTE;

/// Store errors of write requests: data the store refuses is the client's mistake (400).
/// A firm may read or change an incident only if the elevator belonged to one
/// of its projects on the incident's day (its start, alarm or reported
/// arrival); otherwise 404, as if it did not exist. Regulators pass.
async fn own_incident(s: &ApiState, caller: &Caller, code: &str, what: &str, day: NaiveDate) -> ApiResult<()> {
    let Caller::Firm(f) = caller else { return Ok(()) };
    match s.store.elevator_firm_on(code, day).await? {
        Some(owner) if owner == *f => Ok(()),
        _ => Err(ApiError::not_found(format!("{what} of elevator {code} does not exist"))),
    }
}

/// A registered elevator (404 otherwise); who may see its incidents is
/// decided per incident by [`own_incident`].
async fn registered_elevator(s: &ApiState, code: &str) -> ApiResult<liftwatch_core::protocol::DeviceCode> {
    let d = device(code)?;
    s.store
        .elevator_firm(code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("elevator {code} is not registered")))?;
    Ok(d)
}

fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::Permanent(m) => ApiError::bad_request(m),
        e => e.into(),
    }
}

fn parse_day(field: &str, s: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_request(format!("{field} {s:?} is not a date of the form YYYY-MM-DD")))
}

/// A date that has already come (in the configured zone).
fn past_day(s: &ApiState, field: &str, v: &str) -> ApiResult<NaiveDate> {
    let d = parse_day(field, v)?;
    let today = s.today();
    if d > today {
        return Err(ApiError::bad_request(format!("{field} {d} is in the future (today is {today})")));
    }
    Ok(d)
}

/// An RFC 3339 time at most 5 minutes ahead of now.
fn past_time(s: &ApiState, field: &str, v: &str) -> ApiResult<Timestamp> {
    let (t, _) = parse_rfc3339(v).map_err(|e| ApiError::bad_request(format!("{field} {v:?} {e}")))?;
    let now = (s.clock)();
    if t.0 > now.0 + MAX_FUTURE_MICROS {
        return Err(ApiError::bad_request(format!(
            "{field} {v} is more than 5 minutes in the future (now is {})",
            now.to_rfc3339()
        )));
    }
    Ok(t)
}

fn bad(r: Result<(), String>) -> ApiResult<()> {
    r.map_err(ApiError::bad_request)
}

fn opt_ts(t: Option<Timestamp>) -> Option<String> {
    t.map(Timestamp::to_rfc3339)
}

// ---------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------

/// Body of `PUT /api/v1/elevators/{device_code}/faults/{fault_id}/cause`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CauseBody {
    /// `equipment`, `external`, `usage` or `unknown`.
    #[schema(example = "external")]
    pub cause: String,
    /// Why (required; shown to regulators).
    #[schema(example = "grid outage, utility notice 2026-11-03")]
    pub reason: String,
}

/// One cause correction.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionOut {
    /// When it was recorded (RFC 3339).
    pub at: String,
    /// Who: `regulator` or `firm:{id}`.
    pub by: String,
    /// Cause before.
    pub from: String,
    /// Cause after.
    pub to: String,
    /// Why.
    pub reason: String,
}

impl From<CauseCorrection> for CorrectionOut {
    fn from(c: CauseCorrection) -> Self {
        CorrectionOut {
            at: c.at.to_rfc3339(),
            by: c.by,
            from: c.from.as_str().to_owned(),
            to: c.to.as_str().to_owned(),
            reason: c.reason,
        }
    }
}

/// A fault with its whole cause history.
#[derive(Debug, Serialize, ToSchema)]
pub struct FaultOut {
    /// The elevator.
    pub device_code: String,
    /// The box's fault id.
    pub fault_id: String,
    /// Normalised fault code.
    pub code: String,
    /// When it was detected (RFC 3339).
    pub started_at: String,
    /// When it was cleared (null while open).
    pub cleared_at: Option<String>,
    /// Whether it stopped the elevator.
    pub stops_service: bool,
    /// The cause in force: the KPIs follow it.
    pub cause: String,
    /// The box's cause, or the fault code's default.
    pub original_cause: String,
    /// Every correction, oldest first.
    pub corrections: Vec<CorrectionOut>,
}

impl From<FaultView> for FaultOut {
    fn from(f: FaultView) -> Self {
        FaultOut {
            device_code: f.device_code,
            fault_id: f.fault_id,
            code: f.code,
            started_at: f.started_at.to_rfc3339(),
            cleared_at: opt_ts(f.cleared_at),
            stops_service: f.stops_service,
            cause: f.cause.as_str().to_owned(),
            original_cause: f.original_cause.as_str().to_owned(),
            corrections: f.corrections.into_iter().map(Into::into).collect(),
        }
    }
}

/// Corrects a fault's cause, with a reason (the elevator's firm, or a regulator). Every correction is
/// kept; the KPIs follow the latest cause at once. Repeating the latest correction changes nothing.
#[utoipa::path(put, path = "/api/v1/elevators/{device_code}/faults/{fault_id}/cause", tag = "firm records",
    params(("device_code" = String, Path, description = "device code"), ("fault_id" = String, Path, description = "the box's fault id")),
    request_body = CauseBody,
    responses((status = 200, body = FaultOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
               (status = 404, description = "unknown elevator, or fault not reported by the box", body = ErrorBody)))]
async fn put_fault_cause(
    State(s): State<ApiState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<CauseBody>, JsonRejection>,
) -> ApiResult<Json<FaultOut>> {
    let Path((code, fault_id)) = path?;
    let d = registered_elevator(&s, &code).await?;
    bad(check_incident_id("fault_id", &fault_id))?;
    let Json(b) = body?;
    let cause = Cause::parse(&b.cause).ok_or_else(|| {
        ApiError::bad_request(format!("cause {:?} must be one of {}", b.cause, Cause::NAMES.join(", ")))
    })?;
    bad(check_text("reason", &b.reason, MAX_TEXT_CHARS, true))?;
    let known = s.store.fault(d, &fault_id).await?.ok_or_else(|| {
        ApiError::not_found(format!("fault {fault_id} of elevator {code} has not been reported by the box"))
    })?;
    own_incident(&s, &caller, &code, &format!("fault {fault_id}"), known.started_at.local_day(s.tz)).await?;
    let f = s
        .store
        .correct_fault_cause(d, &fault_id, cause, &caller.audit_name(), &b.reason, (s.clock)())
        .await
        .map_err(store_err)?;
    Ok(Json(f.into()))
}

/// One fault with its whole cause history (the elevator's firm, or a regulator).
#[utoipa::path(get, path = "/api/v1/elevators/{device_code}/faults/{fault_id}", tag = "firm records",
    params(("device_code" = String, Path, description = "device code"), ("fault_id" = String, Path, description = "the box's fault id")),
    responses((status = 200, body = FaultOut), (status = 404, body = ErrorBody)))]
async fn get_fault(
    State(s): State<ApiState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<FaultOut>> {
    let Path((code, fault_id)) = path?;
    let d = registered_elevator(&s, &code).await?;
    let f = s.store.fault(d, &fault_id).await?.ok_or_else(|| {
        ApiError::not_found(format!("fault {fault_id} of elevator {code} has not been reported by the box"))
    })?;
    own_incident(&s, &caller, &code, &format!("fault {fault_id}"), f.started_at.local_day(s.tz)).await?;
    Ok(Json(f.into()))
}

/// A range of local days with pagination.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DayRangeQuery {
    /// First day, `YYYY-MM-DD` (optional).
    pub from: Option<String>,
    /// Last day, inclusive, `YYYY-MM-DD` (optional).
    pub to: Option<String>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<i64>,
    /// Skip this many (default 0).
    pub offset: Option<i64>,
}

impl DayRangeQuery {
    fn get(&self) -> ApiResult<(Option<NaiveDate>, Option<NaiveDate>, i64, i64)> {
        let from = self.from.as_deref().map(|v| parse_day("from", v)).transpose()?;
        let to = self.to.as_deref().map(|v| parse_day("to", v)).transpose()?;
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Err(ApiError::bad_request(format!("from {f} is after to {t}")));
            }
        }
        let (limit, offset) = Page { limit: self.limit, offset: self.offset }.get()?;
        Ok((from, to, limit, offset))
    }
}

/// An elevator's faults that began on the days `from..=to`, newest first (the elevator's firm, or a regulator).
#[utoipa::path(get, path = "/api/v1/elevators/{device_code}/faults", tag = "firm records",
    params(("device_code" = String, Path, description = "device code"), DayRangeQuery),
    responses((status = 200, body = [FaultOut]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_faults(
    State(s): State<ApiState>,
    caller: Caller,
    Path(code): Path<String>,
    q: Result<Query<DayRangeQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<FaultOut>>> {
    let Query(q) = q?;
    let (from, to, limit, offset) = q.get()?;
    let d = visible_elevator(&s, &caller, &code).await?;
    let rows = s.store.faults(d, from, to, limit, offset).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

// ---------------------------------------------------------------------------
// Entrapments
// ---------------------------------------------------------------------------

/// Body of `PUT /api/v1/elevators/{device_code}/entrapments/{incident_id}/arrival`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalBody {
    /// When the rescuer reached the trapped passengers (RFC 3339; at most 5 minutes ahead of now).
    #[schema(example = "2026-11-20T10:14:00+08:00")]
    pub arrived_at: String,
}

/// An entrapment as known.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntrapmentOut {
    /// The elevator.
    pub device_code: String,
    /// The box's incident id.
    pub incident_id: String,
    /// When the alarm was raised (null until the box's alarm arrives).
    pub alarm_at: Option<String>,
    /// The earliest reported arrival (by API or by the box).
    pub arrived_at: Option<String>,
    /// When the passengers were released.
    pub released_at: Option<String>,
    /// Alarm to arrival, minutes (null until both are known).
    pub rescue_minutes: Option<f64>,
    /// The fault that trapped them, if the box knows it.
    pub fault_id: Option<String>,
    /// Who reported the arrival that counts: `box`, `firm:{id}` or `regulator`.
    pub arrival_reported_by: Option<String>,
}

impl From<EntrapmentView> for EntrapmentOut {
    fn from(e: EntrapmentView) -> Self {
        EntrapmentOut {
            device_code: e.device_code,
            incident_id: e.incident_id,
            alarm_at: opt_ts(e.alarm_at),
            arrived_at: opt_ts(e.arrived_at),
            released_at: opt_ts(e.released_at),
            rescue_minutes: e.rescue_minutes,
            fault_id: e.fault_id,
            arrival_reported_by: e.arrival_reported_by,
        }
    }
}

/// Reports the rescuer's arrival at an entrapment (the elevator's firm; a regulator may too). The earliest
/// arrival reported counts; it may be reported before the box's alarm arrives.
#[utoipa::path(put, path = "/api/v1/elevators/{device_code}/entrapments/{incident_id}/arrival", tag = "firm records",
    params(("device_code" = String, Path, description = "device code"), ("incident_id" = String, Path, description = "the box's incident id")),
    request_body = ArrivalBody,
    responses((status = 200, body = EntrapmentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn put_arrival(
    State(s): State<ApiState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<ArrivalBody>, JsonRejection>,
) -> ApiResult<Json<EntrapmentOut>> {
    let Path((code, incident_id)) = path?;
    let d = registered_elevator(&s, &code).await?;
    bad(check_incident_id("incident_id", &incident_id))?;
    let Json(b) = body?;
    let at = past_time(&s, "arrived_at", &b.arrived_at)?;
    let alarm = s.store.entrapment(d, &incident_id).await?.and_then(|e| e.alarm_at);
    if let Some(alarm) = alarm {
        if at < alarm {
            return Err(ApiError::bad_request(format!(
                "arrived_at {} is before the entrapment alarm at {}",
                b.arrived_at,
                alarm.to_rfc3339()
            )));
        }
    }
    let day = alarm.unwrap_or(at).local_day(s.tz);
    own_incident(&s, &caller, &code, &format!("entrapment {incident_id}"), day).await?;
    let e = s.store.report_arrival_by(d, &incident_id, at, &caller.audit_name()).await.map_err(store_err)?;
    Ok(Json(e.into()))
}

/// One entrapment as known (the elevator's firm, or a regulator).
#[utoipa::path(get, path = "/api/v1/elevators/{device_code}/entrapments/{incident_id}", tag = "firm records",
    params(("device_code" = String, Path, description = "device code"), ("incident_id" = String, Path, description = "the box's incident id")),
    responses((status = 200, body = EntrapmentOut), (status = 404, body = ErrorBody)))]
async fn get_entrapment(
    State(s): State<ApiState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<EntrapmentOut>> {
    let Path((code, incident_id)) = path?;
    let d = registered_elevator(&s, &code).await?;
    let e = s
        .store
        .entrapment(d, &incident_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("entrapment {incident_id} of elevator {code} is not known")))?;
    let day = e.alarm_at.or(e.arrived_at).map_or_else(|| s.today(), |t| t.local_day(s.tz));
    own_incident(&s, &caller, &code, &format!("entrapment {incident_id}"), day).await?;
    Ok(Json(e.into()))
}

// ---------------------------------------------------------------------------
// Visits
// ---------------------------------------------------------------------------

/// Body of `POST /api/v1/elevators/{device_code}/visits`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitBody {
    /// `onsite` (现场维保) or `remote_check` (远程检查, photo/video).
    #[schema(example = "onsite")]
    pub kind: String,
    /// Start (RFC 3339).
    pub started_at: String,
    /// End (RFC 3339, not before the start, at most 5 minutes ahead of now).
    pub ended_at: String,
    /// Technician (name or staff number).
    #[schema(example = "T-0042")]
    pub technician: String,
}

/// A maintenance visit.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitOut {
    /// Id.
    pub id: i64,
    /// The elevator.
    pub device_code: String,
    /// `onsite` or `remote_check`.
    pub kind: String,
    /// Start (RFC 3339).
    pub started_at: String,
    /// End (RFC 3339).
    pub ended_at: String,
    /// Technician.
    pub technician: String,
    /// Who recorded it: `regulator` or `firm:{id}`.
    pub recorded_by: String,
    /// When it was recorded.
    pub recorded_at: String,
}

impl From<Visit> for VisitOut {
    fn from(v: Visit) -> Self {
        VisitOut {
            id: v.id,
            device_code: v.device_code,
            kind: v.kind,
            started_at: v.started_at.to_rfc3339(),
            ended_at: v.ended_at.to_rfc3339(),
            technician: v.technician,
            recorded_by: v.recorded_by,
            recorded_at: v.recorded_at.to_rfc3339(),
        }
    }
}

/// Records a maintenance visit: on-site or remote check (the elevator's firm; a regulator may too).
#[utoipa::path(post, path = "/api/v1/elevators/{device_code}/visits", tag = "firm records",
    params(("device_code" = String, Path, description = "device code")),
    request_body = VisitBody,
    responses((status = 201, body = VisitOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn post_visit(
    State(s): State<ApiState>,
    caller: Caller,
    Path(code): Path<String>,
    body: Result<Json<VisitBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<VisitOut>)> {
    let d = visible_elevator(&s, &caller, &code).await?;
    let Json(b) = body?;
    let v = NewVisit {
        kind: b.kind,
        started_at: past_time(&s, "started_at", &b.started_at)?,
        ended_at: past_time(&s, "ended_at", &b.ended_at)?,
        technician: b.technician,
    };
    bad(v.validate())?;
    let v = s.store.add_visit(d, &v, &caller.audit_name()).await.map_err(store_err)?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

/// An elevator's visits that started on the days `from..=to`, oldest first (the elevator's firm, or a regulator).
#[utoipa::path(get, path = "/api/v1/elevators/{device_code}/visits", tag = "firm records",
    params(("device_code" = String, Path, description = "device code"), DayRangeQuery),
    responses((status = 200, body = [VisitOut]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_visits(
    State(s): State<ApiState>,
    caller: Caller,
    Path(code): Path<String>,
    q: Result<Query<DayRangeQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<VisitOut>>> {
    let Query(q) = q?;
    let (from, to, limit, offset) = q.get()?;
    let d = visible_elevator(&s, &caller, &code).await?;
    let rows = s.store.visits(d, from, to, limit, offset).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

// ---------------------------------------------------------------------------
// Reclassification share
// ---------------------------------------------------------------------------

/// The share of a firm's faults reclassified away from `equipment`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReclassificationOut {
    /// The firm.
    pub firm: String,
    /// The window.
    pub window: WindowOut,
    /// Faults (begun in the window, on its projects' member days) whose first cause was `equipment`.
    pub faults_first_equipment: i64,
    /// Of those, faults whose cause in force is no longer `equipment`.
    pub reclassified_away: i64,
    /// `reclassified_away / faults_first_equipment` (4 decimals; null over none).
    pub share: Option<f64>,
}

/// The share of a firm's faults reclassified away from `equipment` over the rolling 6 months (`at=`)
/// or a half-year (`half=`) (a regulator, or the firm itself).
#[utoipa::path(get, path = "/api/v1/firms/{firm_id}/reclassification", tag = "firm records",
    params(("firm_id" = String, Path, description = "firm id"), WindowQuery),
    responses((status = 200, body = ReclassificationOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn firm_reclassification(
    State(s): State<ApiState>,
    caller: Caller,
    Path(firm_id): Path<String>,
    q: Result<Query<WindowQuery>, QueryRejection>,
) -> ApiResult<Json<ReclassificationOut>> {
    let Query(q) = q?;
    let w = q.window(s.today())?;
    let not_found = || ApiError::not_found(format!("firm {firm_id} does not exist"));
    if !caller.sees_firm(&firm_id) {
        return Err(not_found());
    }
    let r = s.store.firm_reclassification(&firm_id, w).await?.ok_or_else(not_found)?;
    Ok(Json(ReclassificationOut {
        firm: r.firm,
        window: WindowOut { from: r.window.from, to: r.window.to },
        faults_first_equipment: r.faults_first_equipment,
        reclassified_away: r.reclassified_away,
        share: r.share,
    }))
}

// ---------------------------------------------------------------------------
// Firm grades
// ---------------------------------------------------------------------------

/// Body of `POST /api/v1/firms/{firm_id}/grades`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeBody {
    /// The year graded.
    #[schema(example = 2025)]
    pub year: i32,
    /// `A`, `B`, `C` or `D`.
    #[schema(example = "A")]
    pub grade: String,
    /// Whether the firm's self-declaration and service commitment were published that year
    /// (from 2021 a firm without one cannot be graded B or better, N §III.(三).2).
    #[serde(default)]
    pub self_declared: Option<bool>,
}

/// A firm's grade for one year.
#[derive(Debug, Serialize, ToSchema)]
pub struct GradeOut {
    /// The firm.
    pub firm_id: String,
    /// The year graded.
    pub year: i32,
    /// `A`, `B`, `C` or `D`.
    pub grade: String,
    /// Whether its self-declaration was published that year (null: not recorded).
    pub self_declared: Option<bool>,
    /// Who recorded it.
    pub recorded_by: String,
    /// When (RFC 3339).
    pub recorded_at: String,
}

impl From<FirmGrade> for GradeOut {
    fn from(g: FirmGrade) -> Self {
        GradeOut {
            firm_id: g.firm_id,
            year: g.year,
            grade: g.grade,
            self_declared: g.self_declared,
            recorded_by: g.recorded_by,
            recorded_at: g.recorded_at.to_rfc3339(),
        }
    }
}

/// Records (or corrects) a firm's grade for a year (regulator). The grade of the latest year on file
/// also becomes the firm's current `grade`.
#[utoipa::path(post, path = "/api/v1/firms/{firm_id}/grades", tag = "regulator records",
    params(("firm_id" = String, Path, description = "firm id")),
    request_body = GradeBody,
    responses((status = 201, description = "recorded", body = GradeOut), (status = 200, description = "that year's grade replaced", body = GradeOut),
               (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn post_grade(
    State(s): State<ApiState>,
    caller: Caller,
    Path(firm_id): Path<String>,
    body: Result<Json<GradeBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<GradeOut>)> {
    caller.require_regulator()?;
    let Json(b) = body?;
    bad(rec::validate_grade(b.year, &b.grade, b.self_declared))?;
    let this_year = s.today().year();
    if b.year > this_year {
        return Err(ApiError::bad_request(format!("year {} is in the future (this year is {this_year})", b.year)));
    }
    let (g, created) = s
        .store
        .put_firm_grade(&firm_id, b.year, &b.grade, b.self_declared, &caller.audit_name())
        .await
        .map_err(store_err)?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(g.into())))
}

/// A firm's grades, oldest year first (a regulator, or the firm itself).
#[utoipa::path(get, path = "/api/v1/firms/{firm_id}/grades", tag = "regulator records",
    params(("firm_id" = String, Path, description = "firm id")),
    responses((status = 200, body = [GradeOut]), (status = 404, body = ErrorBody)))]
async fn list_grades(
    State(s): State<ApiState>,
    caller: Caller,
    Path(firm_id): Path<String>,
) -> ApiResult<Json<Vec<GradeOut>>> {
    let not_found = || ApiError::not_found(format!("firm {firm_id} does not exist"));
    if !caller.sees_firm(&firm_id) {
        return Err(not_found());
    }
    let g = s.store.firm_grades(&firm_id).await?.ok_or_else(not_found)?;
    Ok(Json(g.into_iter().map(Into::into).collect()))
}

// ---------------------------------------------------------------------------
// Regulator records: shared parts
// ---------------------------------------------------------------------------

/// Filters of the regulator-record lists.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RecordQuery {
    /// Only this project's records.
    pub project: Option<String>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<i64>,
    /// Skip this many (default 0).
    pub offset: Option<i64>,
}

/// The store filter of a list request: a firm sees the rows of its own projects only;
/// an unknown project (or another firm's) answers 404.
async fn record_filter(s: &ApiState, caller: &Caller, q: RecordQuery) -> ApiResult<RecordFilter> {
    let (limit, offset) = Page { limit: q.limit, offset: q.offset }.get()?;
    if let Some(p) = &q.project {
        visible_project(s, caller, p).await?;
    }
    let firm = match caller {
        Caller::Regulator => None,
        Caller::Firm(f) => Some(f.clone()),
    };
    Ok(RecordFilter { project: q.project, firm, limit, offset })
}

/// A record the caller may see (its project's firm), else 404.
fn visible<T>(caller: &Caller, kind: &str, id: i64, r: Option<T>, firm: impl Fn(&T) -> &str) -> ApiResult<T> {
    match r {
        Some(r) if caller.sees_firm(firm(&r)) => Ok(r),
        _ => Err(ApiError::not_found(format!("{kind} {id} does not exist"))),
    }
}

fn opt_device(v: Option<&str>) -> ApiResult<Option<liftwatch_core::protocol::DeviceCode>> {
    v.map(|c| device(c).map_err(|e| ApiError::bad_request(format!("device_code: {}", e.message)))).transpose()
}

// ---------------------------------------------------------------------------
// Complaints
// ---------------------------------------------------------------------------

/// Body of `POST /api/v1/complaints`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplaintBody {
    /// The project.
    pub project_id: String,
    /// The elevator, when the complaint is about one (it must have belonged to the project).
    #[serde(default)]
    pub device_code: Option<String>,
    /// Day received, `YYYY-MM-DD` (not in the future).
    #[schema(example = "2026-11-03")]
    pub received_on: String,
    /// What it is about: `safety`, `quality` or `other` (A1 §III.3).
    #[schema(example = "safety")]
    pub safety_or_quality: String,
    /// Whether the regulator verified it (default false).
    #[serde(default)]
    pub verified: bool,
    /// Whether it was caused by the quality of maintenance (A1 §IV.(一).3; default false).
    #[serde(default)]
    pub maintenance_quality_caused: bool,
    /// What it says.
    pub summary: String,
}

/// A complaint.
#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintOut {
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
    /// When (RFC 3339).
    pub recorded_at: String,
}

impl From<Complaint> for ComplaintOut {
    fn from(c: Complaint) -> Self {
        ComplaintOut {
            id: c.id,
            project_id: c.project_id,
            firm_id: c.firm_id,
            device_code: c.device_code,
            received_on: c.received_on,
            safety_or_quality: c.safety_or_quality,
            verified: c.verified,
            maintenance_quality_caused: c.maintenance_quality_caused,
            summary: c.summary,
            recorded_by: c.recorded_by,
            recorded_at: c.recorded_at.to_rfc3339(),
        }
    }
}

/// Records a complaint (regulator).
#[utoipa::path(post, path = "/api/v1/complaints", tag = "regulator records", request_body = ComplaintBody,
    responses((status = 201, body = ComplaintOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, description = "unknown project or elevator", body = ErrorBody)))]
async fn post_complaint(
    State(s): State<ApiState>,
    caller: Caller,
    body: Result<Json<ComplaintBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ComplaintOut>)> {
    caller.require_regulator()?;
    let Json(b) = body?;
    let n = NewComplaint {
        device_code: opt_device(b.device_code.as_deref())?,
        received_on: past_day(&s, "received_on", &b.received_on)?,
        project_id: b.project_id,
        safety_or_quality: b.safety_or_quality,
        verified: b.verified,
        maintenance_quality_caused: b.maintenance_quality_caused,
        summary: b.summary,
    };
    bad(n.validate())?;
    let c = s.store.add_complaint(&n, &caller.audit_name()).await.map_err(store_err)?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

/// Complaints, newest first (regulator; a firm sees those of its own projects).
#[utoipa::path(get, path = "/api/v1/complaints", tag = "regulator records", params(RecordQuery),
    responses((status = 200, body = [ComplaintOut]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_complaints(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<RecordQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<ComplaintOut>>> {
    let Query(q) = q?;
    let f = record_filter(&s, &caller, q).await?;
    Ok(Json(s.store.complaints(&f).await?.into_iter().map(Into::into).collect()))
}

/// One complaint (regulator, or the project's firm).
#[utoipa::path(get, path = "/api/v1/complaints/{id}", tag = "regulator records",
    params(("id" = i64, Path, description = "complaint id")),
    responses((status = 200, body = ComplaintOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_complaint(
    State(s): State<ApiState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<Json<ComplaintOut>> {
    let Path(id) = id?;
    let c = visible(&caller, "complaint", id, s.store.complaint(id).await?, |c| &c.firm_id)?;
    Ok(Json(c.into()))
}

/// Body of `PUT /api/v1/complaints/{id}/verification`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationBody {
    /// Whether the complaint was verified.
    pub verified: bool,
    /// Whether it was caused by the quality of maintenance.
    pub maintenance_quality_caused: bool,
}

/// Records the outcome of a complaint's verification (regulator).
#[utoipa::path(put, path = "/api/v1/complaints/{id}/verification", tag = "regulator records",
    params(("id" = i64, Path, description = "complaint id")), request_body = VerificationBody,
    responses((status = 200, body = ComplaintOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, body = ErrorBody)))]
async fn put_complaint_verification(
    State(s): State<ApiState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<VerificationBody>, JsonRejection>,
) -> ApiResult<Json<ComplaintOut>> {
    caller.require_regulator()?;
    let Path(id) = id?;
    let Json(b) = body?;
    let c = s
        .store
        .verify_complaint(id, b.verified, b.maintenance_quality_caused)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("complaint {id} does not exist")))?;
    Ok(Json(c.into()))
}

// ---------------------------------------------------------------------------
// Inspections
// ---------------------------------------------------------------------------

/// Body of `POST /api/v1/inspections`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectionBody {
    /// The project.
    pub project_id: String,
    /// The elevator, when it concerns one (it must have belonged to the project).
    #[serde(default)]
    pub device_code: Option<String>,
    /// `periodic_inspection` (定期检验), `spot_check` (抽查) or `supervision` (监督检查).
    #[schema(example = "spot_check")]
    pub kind: String,
    /// The day, `YYYY-MM-DD` (not in the future).
    #[schema(example = "2026-11-03")]
    pub on: String,
    /// Whether a safety hazard was found (A1 §III.2; default false).
    #[serde(default)]
    pub hazard_found: bool,
    /// Whether it passed.
    pub passed: bool,
    /// Findings in words.
    #[serde(default)]
    pub summary: String,
}

/// An inspection, spot check or supervision visit.
#[derive(Debug, Serialize, ToSchema)]
pub struct InspectionOut {
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
    /// When (RFC 3339).
    pub recorded_at: String,
}

impl From<Inspection> for InspectionOut {
    fn from(i: Inspection) -> Self {
        InspectionOut {
            id: i.id,
            project_id: i.project_id,
            firm_id: i.firm_id,
            device_code: i.device_code,
            kind: i.kind,
            on: i.on,
            hazard_found: i.hazard_found,
            passed: i.passed,
            summary: i.summary,
            recorded_by: i.recorded_by,
            recorded_at: i.recorded_at.to_rfc3339(),
        }
    }
}

/// Records an inspection, spot check or supervision visit (regulator).
#[utoipa::path(post, path = "/api/v1/inspections", tag = "regulator records", request_body = InspectionBody,
    responses((status = 201, body = InspectionOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, description = "unknown project or elevator", body = ErrorBody)))]
async fn post_inspection(
    State(s): State<ApiState>,
    caller: Caller,
    body: Result<Json<InspectionBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<InspectionOut>)> {
    caller.require_regulator()?;
    let Json(b) = body?;
    let n = NewInspection {
        device_code: opt_device(b.device_code.as_deref())?,
        on: past_day(&s, "on", &b.on)?,
        project_id: b.project_id,
        kind: b.kind,
        hazard_found: b.hazard_found,
        passed: b.passed,
        summary: b.summary,
    };
    bad(n.validate())?;
    let i = s.store.add_inspection(&n, &caller.audit_name()).await.map_err(store_err)?;
    Ok((StatusCode::CREATED, Json(i.into())))
}

/// Inspections, newest first (regulator; a firm sees those of its own projects).
#[utoipa::path(get, path = "/api/v1/inspections", tag = "regulator records", params(RecordQuery),
    responses((status = 200, body = [InspectionOut]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_inspections(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<RecordQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<InspectionOut>>> {
    let Query(q) = q?;
    let f = record_filter(&s, &caller, q).await?;
    Ok(Json(s.store.inspections(&f).await?.into_iter().map(Into::into).collect()))
}

/// One inspection (regulator, or the project's firm).
#[utoipa::path(get, path = "/api/v1/inspections/{id}", tag = "regulator records",
    params(("id" = i64, Path, description = "inspection id")),
    responses((status = 200, body = InspectionOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_inspection(
    State(s): State<ApiState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<Json<InspectionOut>> {
    let Path(id) = id?;
    let i = visible(&caller, "inspection", id, s.store.inspection(id).await?, |i| &i.firm_id)?;
    Ok(Json(i.into()))
}

// ---------------------------------------------------------------------------
// Accidents
// ---------------------------------------------------------------------------

/// Body of `POST /api/v1/accidents`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccidentBody {
    /// The project.
    pub project_id: String,
    /// The elevator (it must have belonged to the project).
    pub device_code: String,
    /// The day, `YYYY-MM-DD` (not in the future).
    #[schema(example = "2026-11-03")]
    pub on: String,
    /// Whether poor maintenance caused it (A1 §IV.(二)).
    pub caused_by_maintenance: bool,
    /// What happened.
    pub summary: String,
}

/// An accident.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccidentOut {
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
    /// When (RFC 3339).
    pub recorded_at: String,
}

impl From<Accident> for AccidentOut {
    fn from(a: Accident) -> Self {
        AccidentOut {
            id: a.id,
            project_id: a.project_id,
            firm_id: a.firm_id,
            device_code: a.device_code,
            on: a.on,
            caused_by_maintenance: a.caused_by_maintenance,
            summary: a.summary,
            recorded_by: a.recorded_by,
            recorded_at: a.recorded_at.to_rfc3339(),
        }
    }
}

/// Records an accident (regulator).
#[utoipa::path(post, path = "/api/v1/accidents", tag = "regulator records", request_body = AccidentBody,
    responses((status = 201, body = AccidentOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, description = "unknown project or elevator", body = ErrorBody)))]
async fn post_accident(
    State(s): State<ApiState>,
    caller: Caller,
    body: Result<Json<AccidentBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<AccidentOut>)> {
    caller.require_regulator()?;
    let Json(b) = body?;
    let n = NewAccident {
        device_code: device(&b.device_code)
            .map_err(|e| ApiError::bad_request(format!("device_code: {}", e.message)))?,
        on: past_day(&s, "on", &b.on)?,
        project_id: b.project_id,
        caused_by_maintenance: b.caused_by_maintenance,
        summary: b.summary,
    };
    bad(n.validate())?;
    let a = s.store.add_accident(&n, &caller.audit_name()).await.map_err(store_err)?;
    Ok((StatusCode::CREATED, Json(a.into())))
}

/// Accidents, newest first (regulator; a firm sees those of its own projects).
#[utoipa::path(get, path = "/api/v1/accidents", tag = "regulator records", params(RecordQuery),
    responses((status = 200, body = [AccidentOut]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_accidents(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<RecordQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<AccidentOut>>> {
    let Query(q) = q?;
    let f = record_filter(&s, &caller, q).await?;
    Ok(Json(s.store.accidents(&f).await?.into_iter().map(Into::into).collect()))
}

/// One accident (regulator, or the project's firm).
#[utoipa::path(get, path = "/api/v1/accidents/{id}", tag = "regulator records",
    params(("id" = i64, Path, description = "accident id")),
    responses((status = 200, body = AccidentOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_accident(
    State(s): State<ApiState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<Json<AccidentOut>> {
    let Path(id) = id?;
    let a = visible(&caller, "accident", id, s.store.accident(id).await?, |a| &a.firm_id)?;
    Ok(Json(a.into()))
}

// ---------------------------------------------------------------------------
// Rectification orders
// ---------------------------------------------------------------------------

/// Body of `POST /api/v1/rectification-orders`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RectificationBody {
    /// The project.
    pub project_id: String,
    /// Day issued, `YYYY-MM-DD` (not in the future).
    #[schema(example = "2026-11-03")]
    pub issued_on: String,
    /// Day by which it must be completed, `YYYY-MM-DD` (not before `issued_on`).
    #[schema(example = "2026-12-03")]
    pub deadline: String,
    /// Why (A1 §III).
    pub reason: String,
    /// The inspection it follows from, if any (same project).
    #[serde(default)]
    pub inspection_id: Option<i64>,
    /// The rule engine's finding it follows from, if any.
    #[serde(default)]
    pub finding_id: Option<String>,
}

/// A rectification order.
#[derive(Debug, Serialize, ToSchema)]
pub struct RectificationOut {
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
    /// Day completed (null while open).
    pub completed_on: Option<NaiveDate>,
    /// Who recorded the completion.
    pub completed_by: Option<String>,
    /// Completed after the deadline, or still open past it (A1 §IV.(一).1).
    pub overdue: bool,
    /// Who recorded the order.
    pub recorded_by: String,
    /// When (RFC 3339).
    pub recorded_at: String,
}

impl RectificationOut {
    fn of(o: RectificationOrder, today: NaiveDate) -> Self {
        RectificationOut {
            overdue: o.overdue(today),
            id: o.id,
            project_id: o.project_id,
            firm_id: o.firm_id,
            issued_on: o.issued_on,
            deadline: o.deadline,
            reason: o.reason,
            inspection_id: o.inspection_id,
            finding_id: o.finding_id,
            completed_on: o.completed_on,
            completed_by: o.completed_by,
            recorded_by: o.recorded_by,
            recorded_at: o.recorded_at.to_rfc3339(),
        }
    }
}

/// Issues a rectification order with a deadline (regulator).
#[utoipa::path(post, path = "/api/v1/rectification-orders", tag = "regulator records", request_body = RectificationBody,
    responses((status = 201, body = RectificationOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, description = "unknown project", body = ErrorBody)))]
async fn post_rectification_order(
    State(s): State<ApiState>,
    caller: Caller,
    body: Result<Json<RectificationBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<RectificationOut>)> {
    caller.require_regulator()?;
    let Json(b) = body?;
    let n = NewRectificationOrder {
        issued_on: past_day(&s, "issued_on", &b.issued_on)?,
        deadline: parse_day("deadline", &b.deadline)?,
        project_id: b.project_id,
        reason: b.reason,
        inspection_id: b.inspection_id,
        finding_id: b.finding_id,
    };
    bad(n.validate())?;
    let o = s.store.add_rectification_order(&n, &caller.audit_name()).await.map_err(store_err)?;
    Ok((StatusCode::CREATED, Json(RectificationOut::of(o, s.today()))))
}

/// Rectification orders, newest first (regulator; a firm sees those of its own projects).
#[utoipa::path(get, path = "/api/v1/rectification-orders", tag = "regulator records", params(RecordQuery),
    responses((status = 200, body = [RectificationOut]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_rectification_orders(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<RecordQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<RectificationOut>>> {
    let Query(q) = q?;
    let f = record_filter(&s, &caller, q).await?;
    let today = s.today();
    Ok(Json(s.store.rectification_orders(&f).await?.into_iter().map(|o| RectificationOut::of(o, today)).collect()))
}

/// One rectification order (regulator, or the project's firm).
#[utoipa::path(get, path = "/api/v1/rectification-orders/{id}", tag = "regulator records",
    params(("id" = i64, Path, description = "order id")),
    responses((status = 200, body = RectificationOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_rectification_order(
    State(s): State<ApiState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<Json<RectificationOut>> {
    let Path(id) = id?;
    let o = visible(&caller, "rectification order", id, s.store.rectification_order(id).await?, |o| &o.firm_id)?;
    Ok(Json(RectificationOut::of(o, s.today())))
}

/// Body of `PUT /api/v1/rectification-orders/{id}/completion`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompletionBody {
    /// Day the rectification was completed, `YYYY-MM-DD` (not before the order, not in the future).
    #[schema(example = "2026-11-20")]
    pub completed_on: String,
}

/// Records (or corrects) the day a rectification was completed (regulator).
#[utoipa::path(put, path = "/api/v1/rectification-orders/{id}/completion", tag = "regulator records",
    params(("id" = i64, Path, description = "order id")), request_body = CompletionBody,
    responses((status = 200, body = RectificationOut), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, body = ErrorBody)))]
async fn put_rectification_completion(
    State(s): State<ApiState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<CompletionBody>, JsonRejection>,
) -> ApiResult<Json<RectificationOut>> {
    caller.require_regulator()?;
    let Path(id) = id?;
    let Json(b) = body?;
    let on = past_day(&s, "completed_on", &b.completed_on)?;
    let o = s
        .store
        .complete_rectification(id, on, &caller.audit_name())
        .await
        .map_err(store_err)?
        .ok_or_else(|| ApiError::not_found(format!("rectification order {id} does not exist")))?;
    Ok(Json(RectificationOut::of(o, s.today())))
}
