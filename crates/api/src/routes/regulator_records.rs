//! What regulators record (api-v1.md): complaints, inspections and spot
//! checks, accidents, rectification orders (the firms' yearly grades are in
//! [`super::grades`]).
//!
//! Regulator records are created and changed by regulators only (a firm
//! gets 403) and read by regulators and by the firm of the project (another
//! firm's record answers 404, as if it did not exist). The four record kinds
//! share one shape — create, list with [`RecordQuery`], get by id — so the
//! handlers are generic over [`RegulatorRecord`]; each kind says only how
//! its body becomes the core's `New*` record and which store calls keep it.
//! The documented routes are thin wrappers, one per path.

use std::future::Future;
use std::pin::Pin;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use liftwatch_core::records::{
    Accident, Complaint, ComplaintSubject, Inspection, InspectionKind, NewAccident, NewComplaint, NewInspection,
    NewRectificationOrder, RecordKind, RectificationOrder,
};
use liftwatch_store::records::RecordFilter;
use liftwatch_store::{Store, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::{body_device, opt_device, parse_day, past_day, Page, RecordQuery};
use super::registry::check_project_visible;
use crate::auth::Caller;
use crate::error::{write_refused, ApiError, ApiResult, ErrorBody};
use crate::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
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

// ---------------------------------------------------------------------------
// The generic record kind
// ---------------------------------------------------------------------------

/// What the store's record calls return (the `async_trait` futures of the port).
type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// One kind of regulator record, as the generic handlers need it.
trait RegulatorRecord: Sized + Send + 'static {
    /// Which kind (its noun names it in a 404).
    const KIND: RecordKind;
    /// The request body (text where a bad value must be a 400).
    type Body: DeserializeOwned + Send;
    /// The core's record to store.
    type New: Send + Sync;
    /// The answer.
    type Out: Serialize;
    /// The body as the core's record, validated (400 otherwise).
    fn new(s: &ApiState, b: Self::Body) -> ApiResult<Self::New>;
    /// The firm of the record's project (who may read it).
    fn firm_id(&self) -> &str;
    /// The answer for this record on `today`.
    fn out(self, today: NaiveDate) -> Self::Out;
    /// Stores a new record.
    fn add<'a>(st: &'a dyn Store, n: &'a Self::New, by: &'a str) -> StoreFuture<'a, Self>;
    /// One record.
    fn get(st: &dyn Store, id: i64) -> StoreFuture<'_, Option<Self>>;
    /// Records, newest first.
    fn list<'a>(st: &'a dyn Store, f: &'a RecordFilter) -> StoreFuture<'a, Vec<Self>>;
}

/// `POST`: a regulator records one (201).
async fn create<R: RegulatorRecord>(
    s: &ApiState,
    caller: &Caller,
    body: Result<Json<R::Body>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<R::Out>)> {
    caller.require_regulator()?;
    let Json(b) = body?;
    let n = R::new(s, b)?;
    let r = R::add(&*s.store, &n, &caller.audit_name()).await.map_err(write_refused)?;
    Ok((StatusCode::CREATED, Json(r.out(s.today()))))
}

/// `GET` of the list: a firm sees the rows of its own projects only; an
/// unknown project (or another firm's) answers 404.
async fn list<R: RegulatorRecord>(
    s: &ApiState,
    caller: &Caller,
    q: Result<Query<RecordQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<R::Out>>> {
    let Query(q) = q?;
    let (limit, offset) = Page { limit: q.limit, offset: q.offset }.get()?;
    if let Some(p) = &q.project {
        check_project_visible(s, caller, p).await?;
    }
    let firm = match caller {
        Caller::Regulator => None,
        Caller::Firm(f) => Some(f.clone()),
    };
    let f = RecordFilter { project: q.project, firm, limit, offset };
    let today = s.today();
    Ok(Json(R::list(&*s.store, &f).await?.into_iter().map(|r| r.out(today)).collect()))
}

/// `GET` by id: the record if the caller may see it (its project's firm), else 404.
async fn get_one<R: RegulatorRecord>(
    s: &ApiState,
    caller: &Caller,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<Json<R::Out>> {
    let Path(id) = id?;
    Ok(Json(visible(caller, R::KIND, id, R::get(&*s.store, id).await?)?.out(s.today())))
}

/// A record the caller may see (its project's firm), else 404.
fn visible<R: RegulatorRecord>(caller: &Caller, kind: RecordKind, id: i64, r: Option<R>) -> ApiResult<R> {
    match r {
        Some(r) if caller.sees_firm(r.firm_id()) => Ok(r),
        _ => Err(ApiError::not_found(format!("{} {id} does not exist", kind.noun()))),
    }
}

// ---------------------------------------------------------------------------
// Complaints
// ---------------------------------------------------------------------------

/// Body of `POST /api/v1/complaints` (the fields of [`NewComplaint`]).
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
    /// What it is about: `safety`, `quality` or `other` (A1 §III.(三)).
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

impl RegulatorRecord for Complaint {
    const KIND: RecordKind = RecordKind::Complaint;
    type Body = ComplaintBody;
    type New = NewComplaint;
    type Out = Complaint;
    fn new(s: &ApiState, b: ComplaintBody) -> ApiResult<NewComplaint> {
        let n = NewComplaint {
            device_code: opt_device(b.device_code.as_deref())?,
            received_on: past_day(s, "received_on", &b.received_on)?,
            safety_or_quality: b.safety_or_quality.parse::<ComplaintSubject>()?,
            project_id: b.project_id,
            verified: b.verified,
            maintenance_quality_caused: b.maintenance_quality_caused,
            summary: b.summary,
        };
        n.validate()?;
        Ok(n)
    }
    fn firm_id(&self) -> &str {
        &self.firm_id
    }
    fn out(self, _: NaiveDate) -> Complaint {
        self
    }
    fn add<'a>(st: &'a dyn Store, n: &'a NewComplaint, by: &'a str) -> StoreFuture<'a, Self> {
        st.add_complaint(n, by)
    }
    fn get(st: &dyn Store, id: i64) -> StoreFuture<'_, Option<Self>> {
        st.complaint(id)
    }
    fn list<'a>(st: &'a dyn Store, f: &'a RecordFilter) -> StoreFuture<'a, Vec<Self>> {
        st.complaints(f)
    }
}

/// Records a complaint (regulator).
#[utoipa::path(post, path = "/api/v1/complaints", tag = "regulator records", request_body = ComplaintBody,
    responses((status = 201, body = Complaint), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, description = "unknown project or elevator", body = ErrorBody)))]
async fn post_complaint(
    State(s): State<ApiState>,
    caller: Caller,
    body: Result<Json<ComplaintBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Complaint>)> {
    create::<Complaint>(&s, &caller, body).await
}

/// Complaints, newest first (regulator; a firm sees those of its own projects).
#[utoipa::path(get, path = "/api/v1/complaints", tag = "regulator records", params(RecordQuery),
    responses((status = 200, body = [Complaint]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_complaints(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<RecordQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<Complaint>>> {
    list::<Complaint>(&s, &caller, q).await
}

/// One complaint (regulator, or the project's firm).
#[utoipa::path(get, path = "/api/v1/complaints/{id}", tag = "regulator records",
    params(("id" = i64, Path, description = "complaint id")),
    responses((status = 200, body = Complaint), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_complaint(
    State(s): State<ApiState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<Json<Complaint>> {
    get_one::<Complaint>(&s, &caller, id).await
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
    responses((status = 200, body = Complaint), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, body = ErrorBody)))]
async fn put_complaint_verification(
    State(s): State<ApiState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<VerificationBody>, JsonRejection>,
) -> ApiResult<Json<Complaint>> {
    caller.require_regulator()?;
    let Path(id) = id?;
    let Json(b) = body?;
    let c = s
        .store
        .verify_complaint(id, b.verified, b.maintenance_quality_caused)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("complaint {id} does not exist")))?;
    Ok(Json(c))
}

// ---------------------------------------------------------------------------
// Inspections
// ---------------------------------------------------------------------------

/// Body of `POST /api/v1/inspections` (the fields of [`NewInspection`]).
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
    /// Whether a safety hazard was found (A1 §III.(二); default false).
    #[serde(default)]
    pub hazard_found: bool,
    /// Whether it passed.
    pub passed: bool,
    /// Findings in words.
    #[serde(default)]
    pub summary: String,
}

impl RegulatorRecord for Inspection {
    const KIND: RecordKind = RecordKind::Inspection;
    type Body = InspectionBody;
    type New = NewInspection;
    type Out = Inspection;
    fn new(s: &ApiState, b: InspectionBody) -> ApiResult<NewInspection> {
        let n = NewInspection {
            device_code: opt_device(b.device_code.as_deref())?,
            on: past_day(s, "on", &b.on)?,
            kind: b.kind.parse::<InspectionKind>()?,
            project_id: b.project_id,
            hazard_found: b.hazard_found,
            passed: b.passed,
            summary: b.summary,
        };
        n.validate()?;
        Ok(n)
    }
    fn firm_id(&self) -> &str {
        &self.firm_id
    }
    fn out(self, _: NaiveDate) -> Inspection {
        self
    }
    fn add<'a>(st: &'a dyn Store, n: &'a NewInspection, by: &'a str) -> StoreFuture<'a, Self> {
        st.add_inspection(n, by)
    }
    fn get(st: &dyn Store, id: i64) -> StoreFuture<'_, Option<Self>> {
        st.inspection(id)
    }
    fn list<'a>(st: &'a dyn Store, f: &'a RecordFilter) -> StoreFuture<'a, Vec<Self>> {
        st.inspections(f)
    }
}

/// Records an inspection, spot check or supervision visit (regulator).
#[utoipa::path(post, path = "/api/v1/inspections", tag = "regulator records", request_body = InspectionBody,
    responses((status = 201, body = Inspection), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, description = "unknown project or elevator", body = ErrorBody)))]
async fn post_inspection(
    State(s): State<ApiState>,
    caller: Caller,
    body: Result<Json<InspectionBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Inspection>)> {
    create::<Inspection>(&s, &caller, body).await
}

/// Inspections, newest first (regulator; a firm sees those of its own projects).
#[utoipa::path(get, path = "/api/v1/inspections", tag = "regulator records", params(RecordQuery),
    responses((status = 200, body = [Inspection]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_inspections(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<RecordQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<Inspection>>> {
    list::<Inspection>(&s, &caller, q).await
}

/// One inspection (regulator, or the project's firm).
#[utoipa::path(get, path = "/api/v1/inspections/{id}", tag = "regulator records",
    params(("id" = i64, Path, description = "inspection id")),
    responses((status = 200, body = Inspection), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_inspection(
    State(s): State<ApiState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<Json<Inspection>> {
    get_one::<Inspection>(&s, &caller, id).await
}

// ---------------------------------------------------------------------------
// Accidents
// ---------------------------------------------------------------------------

/// Body of `POST /api/v1/accidents` (the fields of [`NewAccident`]).
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
    /// Whether poor maintenance caused it (A1 §IV.(二).4).
    pub caused_by_maintenance: bool,
    /// What happened.
    pub summary: String,
}

impl RegulatorRecord for Accident {
    const KIND: RecordKind = RecordKind::Accident;
    type Body = AccidentBody;
    type New = NewAccident;
    type Out = Accident;
    fn new(s: &ApiState, b: AccidentBody) -> ApiResult<NewAccident> {
        let n = NewAccident {
            device_code: body_device(&b.device_code)?,
            on: past_day(s, "on", &b.on)?,
            project_id: b.project_id,
            caused_by_maintenance: b.caused_by_maintenance,
            summary: b.summary,
        };
        n.validate()?;
        Ok(n)
    }
    fn firm_id(&self) -> &str {
        &self.firm_id
    }
    fn out(self, _: NaiveDate) -> Accident {
        self
    }
    fn add<'a>(st: &'a dyn Store, n: &'a NewAccident, by: &'a str) -> StoreFuture<'a, Self> {
        st.add_accident(n, by)
    }
    fn get(st: &dyn Store, id: i64) -> StoreFuture<'_, Option<Self>> {
        st.accident(id)
    }
    fn list<'a>(st: &'a dyn Store, f: &'a RecordFilter) -> StoreFuture<'a, Vec<Self>> {
        st.accidents(f)
    }
}

/// Records an accident (regulator).
#[utoipa::path(post, path = "/api/v1/accidents", tag = "regulator records", request_body = AccidentBody,
    responses((status = 201, body = Accident), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, description = "unknown project or elevator", body = ErrorBody)))]
async fn post_accident(
    State(s): State<ApiState>,
    caller: Caller,
    body: Result<Json<AccidentBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Accident>)> {
    create::<Accident>(&s, &caller, body).await
}

/// Accidents, newest first (regulator; a firm sees those of its own projects).
#[utoipa::path(get, path = "/api/v1/accidents", tag = "regulator records", params(RecordQuery),
    responses((status = 200, body = [Accident]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_accidents(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<RecordQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<Accident>>> {
    list::<Accident>(&s, &caller, q).await
}

/// One accident (regulator, or the project's firm).
#[utoipa::path(get, path = "/api/v1/accidents/{id}", tag = "regulator records",
    params(("id" = i64, Path, description = "accident id")),
    responses((status = 200, body = Accident), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_accident(
    State(s): State<ApiState>,
    caller: Caller,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<Json<Accident>> {
    get_one::<Accident>(&s, &caller, id).await
}

// ---------------------------------------------------------------------------
// Rectification orders
// ---------------------------------------------------------------------------

/// Body of `POST /api/v1/rectification-orders` (the fields of [`NewRectificationOrder`]).
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

/// A rectification order, with whether it is overdue today.
#[derive(Debug, Serialize, ToSchema)]
pub struct RectificationOut {
    /// The order.
    #[serde(flatten)]
    pub order: RectificationOrder,
    /// Completed after the deadline, or still open past it (A1 §IV.(一).1).
    pub overdue: bool,
}

impl RegulatorRecord for RectificationOrder {
    const KIND: RecordKind = RecordKind::RectificationOrder;
    type Body = RectificationBody;
    type New = NewRectificationOrder;
    type Out = RectificationOut;
    fn new(s: &ApiState, b: RectificationBody) -> ApiResult<NewRectificationOrder> {
        let n = NewRectificationOrder {
            issued_on: past_day(s, "issued_on", &b.issued_on)?,
            deadline: parse_day("deadline", &b.deadline)?,
            project_id: b.project_id,
            reason: b.reason,
            inspection_id: b.inspection_id,
            finding_id: b.finding_id,
        };
        n.validate()?;
        Ok(n)
    }
    fn firm_id(&self) -> &str {
        &self.firm_id
    }
    fn out(self, today: NaiveDate) -> RectificationOut {
        RectificationOut { overdue: self.overdue(today), order: self }
    }
    fn add<'a>(st: &'a dyn Store, n: &'a NewRectificationOrder, by: &'a str) -> StoreFuture<'a, Self> {
        st.add_rectification_order(n, by)
    }
    fn get(st: &dyn Store, id: i64) -> StoreFuture<'_, Option<Self>> {
        st.rectification_order(id)
    }
    fn list<'a>(st: &'a dyn Store, f: &'a RecordFilter) -> StoreFuture<'a, Vec<Self>> {
        st.rectification_orders(f)
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
    create::<RectificationOrder>(&s, &caller, body).await
}

/// Rectification orders, newest first (regulator; a firm sees those of its own projects).
#[utoipa::path(get, path = "/api/v1/rectification-orders", tag = "regulator records", params(RecordQuery),
    responses((status = 200, body = [RectificationOut]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_rectification_orders(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<RecordQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<RectificationOut>>> {
    list::<RectificationOrder>(&s, &caller, q).await
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
    get_one::<RectificationOrder>(&s, &caller, id).await
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
        .map_err(write_refused)?
        .ok_or_else(|| ApiError::not_found(format!("rectification order {id} does not exist")))?;
    Ok(Json(o.out(s.today())))
}
