//! What firms record (api-v1.md "What firms record"): fault-cause
//! corrections, rescuer arrivals at entrapments, maintenance visits.
//!
//! Firms record for the elevators of their own projects, a regulator may
//! too. A firm reaches an elevator's records only on the days of its
//! tenures ([`liftwatch_core::tenancy`], docs/api.md "Tenancy"): the store
//! applies the caller's [`crate::auth::Caller::scope`] in each call — for a
//! write, in the write's transaction. An elevator or record the firm may not
//! see answers 404 as if it did not exist; a write of a day it may not write
//! answers 403. The rules are the core's: what a correction does
//! ([`liftwatch_core::pilot::decide_correction`]), when an arrival may be
//! reported ([`check_reported_arrival`]), the rescue minutes
//! ([`liftwatch_core::pilot::rescue_minutes`]).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use liftwatch_core::pilot::check_reported_arrival;
use liftwatch_core::protocol::Cause;
use liftwatch_core::records::{NewCauseCorrection, NewVisit, Visit, VisitKind};
use liftwatch_core::validation::check_incident_id;
use liftwatch_store::records::{EntrapmentView, FaultView};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::{device, past_time, DayRangeQuery};
use crate::auth::Caller;
use crate::error::{write_refused, ApiError, ApiResult, ErrorBody};
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
}

// ---------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------

/// Body of `PUT /api/v1/elevators/{device_code}/faults/{fault_id}/cause`
/// (the fields of [`NewCauseCorrection`]; the cause as text, so that an
/// unknown one is a 400 naming the allowed ones).
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

/// Corrects a fault's cause, with a reason (the elevator's firm, or a regulator). Every correction is
/// kept; the KPIs follow the latest cause at once. Repeating the latest correction is kept in the
/// history and changes no KPI.
#[utoipa::path(put, path = "/api/v1/elevators/{device_code}/faults/{fault_id}/cause", tag = "firm records",
    params(("device_code" = String, Path, description = "device code"), ("fault_id" = String, Path, description = "the box's fault id")),
    request_body = CauseBody,
    responses((status = 200, body = FaultView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
               (status = 404, description = "unknown elevator, or fault not reported by the box", body = ErrorBody)))]
async fn put_fault_cause(
    State(s): State<ApiState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<CauseBody>, JsonRejection>,
) -> ApiResult<Json<FaultView>> {
    let Path((code, fault_id)) = path?;
    let d = device(&code)?;
    check_incident_id("fault_id", &fault_id)?;
    let Json(b) = body?;
    let c = NewCauseCorrection { cause: b.cause.parse::<Cause>()?, reason: b.reason };
    c.validate()?;
    let scope = caller.scope(s.today());
    let f = s
        .store
        .correct_fault_cause(scope, d, &fault_id, c.cause, &caller.audit_name(), &c.reason, (s.clock)())
        .await
        .map_err(write_refused)?;
    Ok(Json(f))
}

/// One fault with its whole cause history (the elevator's firm, or a regulator).
#[utoipa::path(get, path = "/api/v1/elevators/{device_code}/faults/{fault_id}", tag = "firm records",
    params(("device_code" = String, Path, description = "device code"), ("fault_id" = String, Path, description = "the box's fault id")),
    responses((status = 200, body = FaultView), (status = 404, body = ErrorBody)))]
async fn get_fault(
    State(s): State<ApiState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<FaultView>> {
    let Path((code, fault_id)) = path?;
    let d = device(&code)?;
    let f = s.store.fault(caller.scope(s.today()), d, &fault_id).await?.ok_or_else(|| {
        ApiError::not_found(format!("fault {fault_id} of elevator {code} has not been reported by the box"))
    })?;
    Ok(Json(f))
}

/// An elevator's faults that began on the days `from..=to`, newest first (the elevator's firm, or a regulator).
#[utoipa::path(get, path = "/api/v1/elevators/{device_code}/faults", tag = "firm records",
    params(("device_code" = String, Path, description = "device code"), DayRangeQuery),
    responses((status = 200, body = [FaultView]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_faults(
    State(s): State<ApiState>,
    caller: Caller,
    Path(code): Path<String>,
    q: Result<Query<DayRangeQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<FaultView>>> {
    let Query(q) = q?;
    let (from, to, limit, offset) = q.get()?;
    let d = device(&code)?;
    Ok(Json(s.store.faults(caller.scope(s.today()), d, from, to, limit, offset).await?))
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

/// Reports the rescuer's arrival at an entrapment (the elevator's firm; a regulator may too). The earliest
/// arrival reported counts; it may be reported before the box's alarm arrives.
#[utoipa::path(put, path = "/api/v1/elevators/{device_code}/entrapments/{incident_id}/arrival", tag = "firm records",
    params(("device_code" = String, Path, description = "device code"), ("incident_id" = String, Path, description = "the box's incident id")),
    request_body = ArrivalBody,
    responses((status = 200, body = EntrapmentView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn put_arrival(
    State(s): State<ApiState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<ArrivalBody>, JsonRejection>,
) -> ApiResult<Json<EntrapmentView>> {
    let Path((code, incident_id)) = path?;
    let d = device(&code)?;
    check_incident_id("incident_id", &incident_id)?;
    let Json(b) = body?;
    let at = past_time(&s, "arrived_at", &b.arrived_at)?;
    let scope = caller.scope(s.today());
    let alarm = s.store.entrapment(scope, d, &incident_id).await?.and_then(|e| e.alarm_at);
    check_reported_arrival(alarm, at)?;
    let e = s.store.report_arrival_by(scope, d, &incident_id, at, &caller.audit_name()).await.map_err(write_refused)?;
    Ok(Json(e))
}

/// One entrapment as known (the elevator's firm, or a regulator).
#[utoipa::path(get, path = "/api/v1/elevators/{device_code}/entrapments/{incident_id}", tag = "firm records",
    params(("device_code" = String, Path, description = "device code"), ("incident_id" = String, Path, description = "the box's incident id")),
    responses((status = 200, body = EntrapmentView), (status = 404, body = ErrorBody)))]
async fn get_entrapment(
    State(s): State<ApiState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<EntrapmentView>> {
    let Path((code, incident_id)) = path?;
    let d = device(&code)?;
    let e = s
        .store
        .entrapment(caller.scope(s.today()), d, &incident_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("entrapment {incident_id} of elevator {code} is not known")))?;
    Ok(Json(e))
}

// ---------------------------------------------------------------------------
// Visits
// ---------------------------------------------------------------------------

/// Body of `POST /api/v1/elevators/{device_code}/visits` (the fields of
/// [`NewVisit`], as text so that a bad kind or time is a 400 naming it).
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

/// Records a maintenance visit: on-site or remote check (the elevator's firm; a regulator may too).
#[utoipa::path(post, path = "/api/v1/elevators/{device_code}/visits", tag = "firm records",
    params(("device_code" = String, Path, description = "device code")),
    request_body = VisitBody,
    responses((status = 201, body = Visit), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn post_visit(
    State(s): State<ApiState>,
    caller: Caller,
    Path(code): Path<String>,
    body: Result<Json<VisitBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Visit>)> {
    let d = device(&code)?;
    let Json(b) = body?;
    let v = NewVisit {
        kind: b.kind.parse::<VisitKind>()?,
        started_at: past_time(&s, "started_at", &b.started_at)?,
        ended_at: past_time(&s, "ended_at", &b.ended_at)?,
        technician: b.technician,
    };
    v.validate()?;
    let v = s.store.add_visit(caller.scope(s.today()), d, &v, &caller.audit_name()).await.map_err(write_refused)?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// An elevator's visits that started on the days `from..=to`, oldest first (the elevator's firm, or a regulator).
#[utoipa::path(get, path = "/api/v1/elevators/{device_code}/visits", tag = "firm records",
    params(("device_code" = String, Path, description = "device code"), DayRangeQuery),
    responses((status = 200, body = [Visit]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_visits(
    State(s): State<ApiState>,
    caller: Caller,
    Path(code): Path<String>,
    q: Result<Query<DayRangeQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<Visit>>> {
    let Query(q) = q?;
    let (from, to, limit, offset) = q.get()?;
    let d = device(&code)?;
    Ok(Json(s.store.visits(caller.scope(s.today()), d, from, to, limit, offset).await?))
}
