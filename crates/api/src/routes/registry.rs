//! Registry (api-v1.md "Registry"): firms and pilot projects with their
//! elevators. The types, their validation and the pilot's rules about them
//! (the self-declaration a grade A or B needs, the on-site interval of each
//! mode) are the core's ([`liftwatch_core::registry`]); bodies keep enums and
//! device codes as text so that a bad one is a 400 naming it, not a 422.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use liftwatch_core::kpi::Commitment;
use liftwatch_core::registry::{
    ElevatorSpec, Firm, FirmRecord, GradeLetter, PilotForm, ProjectMode, ProjectRecord, ProjectSpec, ProjectStatus,
};
use liftwatch_core::ValidationErrors;
use liftwatch_store::registry::ProjectFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::params::{check_id, device, Page};
use crate::auth::{new_token, token_hash, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(put_firm, get_firm))
        .routes(routes!(list_firms))
        .routes(routes!(rotate_token))
        .routes(routes!(put_project, get_project))
        .routes(routes!(list_projects))
}

/// Body of `PUT /api/v1/firms/{firm_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirmBody {
    /// Name.
    pub name: String,
    /// Previous year's grade: A, B, C or D.
    pub grade: String,
    /// Where the self-declaration (自我声明) is published.
    #[serde(default)]
    pub self_declaration_url: Option<String>,
}

/// A firm as stored, with its token in the answer that created it or rotated it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FirmOut {
    /// The firm and whether its self-declaration is on file.
    #[serde(flatten)]
    pub firm: FirmRecord,
    /// The firm's bearer token: only in the answer that created the firm or rotated its token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl FirmOut {
    fn of(firm: FirmRecord, token: Option<String>) -> FirmOut {
        FirmOut { firm, token }
    }
}

/// Creates or updates a firm (regulator). The answer to the creation carries the firm's token.
#[utoipa::path(put, path = "/api/v1/firms/{firm_id}", tag = "registry",
    params(("firm_id" = String, Path, description = "firm id")),
    request_body = FirmBody,
    responses((status = 201, description = "created, with token", body = FirmOut), (status = 200, body = FirmOut),
               (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn put_firm(
    State(s): State<ApiState>,
    caller: Caller,
    Path(firm_id): Path<String>,
    body: Result<Json<FirmBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<FirmOut>)> {
    caller.require_regulator()?;
    check_id("firm", &firm_id)?;
    let Json(b) = body?;
    let grade = b.grade.parse::<GradeLetter>()?;
    let firm = Firm { id: firm_id.clone(), name: b.name, grade, self_declaration_url: b.self_declaration_url };
    // Every problem at once, with the self-declaration rule (N §III.(三).2).
    firm.validate()?;
    let created = s.store.put_firm(&firm).await?;
    let token = if created {
        let t = new_token()?;
        s.store.set_firm_token_hash(&firm_id, &token_hash(&t)).await?;
        Some(t)
    } else {
        None
    };
    let rec = s.store.firm(&firm_id).await?.ok_or_else(|| ApiError::not_found(format!("firm {firm_id}")))?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(FirmOut::of(rec, token))))
}

/// One firm (regulator, or the firm itself).
#[utoipa::path(get, path = "/api/v1/firms/{firm_id}", tag = "registry",
    params(("firm_id" = String, Path, description = "firm id")),
    responses((status = 200, body = FirmOut), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn get_firm(State(s): State<ApiState>, caller: Caller, Path(firm_id): Path<String>) -> ApiResult<Json<FirmOut>> {
    let not_found = || ApiError::not_found(format!("firm {firm_id} does not exist"));
    if !caller.sees_firm(&firm_id) {
        return Err(not_found());
    }
    let rec = s.store.firm(&firm_id).await?.ok_or_else(not_found)?;
    Ok(Json(FirmOut::of(rec, None)))
}

/// All firms (regulator; a firm sees itself).
#[utoipa::path(get, path = "/api/v1/firms", tag = "registry", params(Page),
    responses((status = 200, body = [FirmOut]), (status = 401, body = ErrorBody)))]
async fn list_firms(
    State(s): State<ApiState>,
    caller: Caller,
    page: Result<Query<Page>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<FirmOut>>> {
    let Query(page) = page?;
    let (limit, offset) = page.get()?;
    let only = match &caller {
        Caller::Regulator => None,
        Caller::Firm(f) => Some(f.as_str()),
    };
    let firms = s.store.firms(only, limit, offset).await?;
    Ok(Json(firms.into_iter().map(|f| FirmOut::of(f, None)).collect()))
}

/// Issues a new token for a firm; the old one stops working (regulator).
#[utoipa::path(post, path = "/api/v1/firms/{firm_id}/token", tag = "registry",
    params(("firm_id" = String, Path, description = "firm id")),
    responses((status = 200, body = FirmOut), (status = 404, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn rotate_token(
    State(s): State<ApiState>,
    caller: Caller,
    Path(firm_id): Path<String>,
) -> ApiResult<Json<FirmOut>> {
    caller.require_regulator()?;
    let rec =
        s.store.firm(&firm_id).await?.ok_or_else(|| ApiError::not_found(format!("firm {firm_id} does not exist")))?;
    let t = new_token()?;
    s.store.set_firm_token_hash(&firm_id, &token_hash(&t)).await?;
    // The old token stops working here at once (other instances: within the cache's TTL).
    s.tokens.clear();
    Ok(Json(FirmOut::of(rec, Some(t))))
}

/// Committed KPI targets.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitmentBody {
    /// Equipment faults per 10,000 runs, at most.
    pub fault_rate_per_10k: f64,
    /// Mean downtime, minutes, at most.
    pub downtime_minutes: f64,
    /// Mean rescue time, minutes, at most.
    pub rescue_minutes: f64,
}

/// An elevator of a project.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ElevatorBody {
    /// Registration code (设备代码): 17–20 digits or capitals.
    pub device_code: String,
    /// `traction`, `hydraulic`, `escalator`, …
    #[serde(default)]
    pub kind: String,
    /// Where it is.
    #[serde(default)]
    pub location: String,
    /// Liability insurance (电梯责任保险) cover end.
    #[serde(default)]
    pub insured_until: Option<NaiveDate>,
    /// Membership start (default: admission day on first put, else today).
    #[serde(default)]
    pub since: Option<NaiveDate>,
}

/// Body of `PUT /api/v1/projects/{project_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectBody {
    /// Name.
    pub name: String,
    /// The maintenance firm.
    pub firm_id: String,
    /// The owner (使用单位).
    #[serde(default)]
    pub owner: String,
    /// `iot`, `remote_pension`, `remote_full_service` or `remote`.
    pub mode: String,
    /// Admission day.
    pub admitted_on: NaiveDate,
    /// Committed KPI targets.
    #[serde(default)]
    pub commitment: Option<CommitmentBody>,
    /// Current elevators.
    pub elevators: Vec<ElevatorBody>,
    /// 使用管理单位联系人 (pilot list form).
    #[serde(default)]
    pub owner_contact: Option<String>,
    /// 使用管理单位联系电话.
    #[serde(default)]
    pub owner_phone: Option<String>,
    /// 维保单位联系人.
    #[serde(default)]
    pub firm_contact: Option<String>,
    /// 维保单位联系电话.
    #[serde(default)]
    pub firm_phone: Option<String>,
    /// 电梯制造单位.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// 电梯责任保险承保单位.
    #[serde(default)]
    pub insurer: Option<String>,
    /// Liability insurance period: from.
    #[serde(default)]
    pub insured_from: Option<NaiveDate>,
    /// Liability insurance period: until.
    #[serde(default)]
    pub insured_until: Option<NaiveDate>,
    /// Region (county or district) whose rescue limit applies (docs/rules.md §7).
    #[serde(default)]
    pub region: Option<String>,
}

/// One membership interval.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipOut {
    /// The elevator.
    pub device_code: String,
    /// First day.
    pub since: NaiveDate,
    /// Last day, if it left.
    pub until: Option<NaiveDate>,
}

/// A project as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectOut {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Firm.
    pub firm_id: String,
    /// Owner.
    pub owner: String,
    /// Mode.
    pub mode: ProjectMode,
    /// Admission day.
    pub admitted_on: NaiveDate,
    /// Commitment.
    pub commitment: Option<CommitmentBody>,
    /// Current elevators.
    pub elevators: Vec<ElevatorBody>,
    /// `active`, `rectifying` or `exited`.
    pub status: ProjectStatus,
    /// Open findings.
    pub open_findings: i64,
    /// Membership history.
    pub memberships: Vec<MembershipOut>,
    /// Longest gap between on-site maintenance visits the mode allows (A1 §I.(二)), months
    /// (always given; optional in the schema as in earlier answers).
    pub max_onsite_interval_months: Option<u32>,
    /// 使用管理单位联系人 (pilot list form).
    #[serde(default)]
    pub owner_contact: Option<String>,
    /// 使用管理单位联系电话.
    #[serde(default)]
    pub owner_phone: Option<String>,
    /// 维保单位联系人.
    #[serde(default)]
    pub firm_contact: Option<String>,
    /// 维保单位联系电话.
    #[serde(default)]
    pub firm_phone: Option<String>,
    /// 电梯制造单位.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// 电梯责任保险承保单位.
    #[serde(default)]
    pub insurer: Option<String>,
    /// Liability insurance period: from.
    #[serde(default)]
    pub insured_from: Option<NaiveDate>,
    /// Liability insurance period: until.
    #[serde(default)]
    pub insured_until: Option<NaiveDate>,
    /// Region (county or district) whose rescue limit applies (docs/rules.md §7).
    #[serde(default)]
    pub region: Option<String>,
}

impl From<ProjectRecord> for ProjectOut {
    fn from(p: ProjectRecord) -> Self {
        let max_onsite = p.spec.max_onsite_interval_months();
        let f = p.spec.pilot_form;
        ProjectOut {
            max_onsite_interval_months: Some(max_onsite),
            owner_contact: f.owner_contact,
            owner_phone: f.owner_phone,
            firm_contact: f.firm_contact,
            firm_phone: f.firm_phone,
            manufacturer: f.manufacturer,
            insurer: f.insurer,
            insured_from: f.insured_from,
            insured_until: f.insured_until,
            region: f.region,
            id: p.spec.id,
            name: p.spec.name,
            firm_id: p.spec.firm_id,
            owner: p.spec.owner,
            mode: p.spec.mode,
            admitted_on: p.spec.admitted_on,
            commitment: p.spec.commitment.map(|c| CommitmentBody {
                fault_rate_per_10k: c.fault_rate_per_10k,
                downtime_minutes: c.downtime_minutes,
                rescue_minutes: c.rescue_minutes,
            }),
            elevators: p
                .spec
                .elevators
                .into_iter()
                .map(|e| ElevatorBody {
                    device_code: e.device_code.to_string(),
                    kind: e.kind,
                    location: e.location,
                    insured_until: e.insured_until,
                    since: e.since,
                })
                .collect(),
            status: p.status,
            open_findings: p.open_findings,
            memberships: p
                .memberships
                .into_iter()
                .map(|m| MembershipOut { device_code: m.device.to_string(), since: m.since, until: m.until })
                .collect(),
        }
    }
}

/// Creates or updates a pilot project with its elevators, keeping membership history (regulator).
#[utoipa::path(put, path = "/api/v1/projects/{project_id}", tag = "registry",
    params(("project_id" = String, Path, description = "project id")),
    request_body = ProjectBody,
    responses((status = 201, body = ProjectOut), (status = 200, body = ProjectOut), (status = 400, body = ErrorBody),
               (status = 404, description = "unknown firm", body = ErrorBody),
               (status = 409, description = "an elevator belongs to another project on an overlapping day, or a 2-year ban (A1 §IV) bars the project until the date in the message", body = ErrorBody),
               (status = 422, description = "the entry conditions are not met (every reason, with its clause)", body = ErrorBody)))]
async fn put_project(
    State(s): State<ApiState>,
    caller: Caller,
    Path(project_id): Path<String>,
    body: Result<Json<ProjectBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ProjectOut>)> {
    caller.require_regulator()?;
    check_id("project", &project_id)?;
    let Json(b) = body?;
    // Values that do not parse are reported with every other problem at once.
    let mut problems = ValidationErrors::new();
    let mode = b.mode.parse::<ProjectMode>().map_err(|e| problems.push(e.into())).ok();
    let mut elevators = Vec::with_capacity(b.elevators.len());
    for (i, e) in b.elevators.iter().enumerate() {
        match device(&e.device_code) {
            Ok(d) => elevators.push(ElevatorSpec {
                device_code: d,
                kind: e.kind.clone(),
                location: e.location.clone(),
                insured_until: e.insured_until,
                since: e.since,
            }),
            Err(err) => problems.push(liftwatch_core::ValidationError::new(format!("elevators[{i}]"), err.message)),
        }
    }
    let spec = ProjectSpec {
        pilot_form: PilotForm {
            owner_contact: b.owner_contact,
            owner_phone: b.owner_phone,
            firm_contact: b.firm_contact,
            firm_phone: b.firm_phone,
            manufacturer: b.manufacturer,
            insurer: b.insurer,
            insured_from: b.insured_from,
            region: b.region,
            insured_until: b.insured_until,
        },
        id: project_id.clone(),
        name: b.name,
        firm_id: b.firm_id,
        owner: b.owner,
        // Checked above; any mode serves to check the rest.
        mode: mode.unwrap_or(ProjectMode::Iot),
        admitted_on: b.admitted_on,
        commitment: b.commitment.map(|c| Commitment {
            fault_rate_per_10k: c.fault_rate_per_10k,
            downtime_minutes: c.downtime_minutes,
            rescue_minutes: c.rescue_minutes,
        }),
        elevators,
    };
    if let Err(es) = spec.validate() {
        problems.0.extend(es.0);
    }
    problems.into_result()?;
    admission(&s, &spec).await?;
    let created = s.store.put_project(&spec, s.today()).await?;
    let rec =
        s.store.project(&project_id).await?.ok_or_else(|| ApiError::not_found(format!("project {project_id}")))?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(rec.into())))
}

/// The entry conditions (A1 §I.(一), §II.(一)) and the 2-year bans (A1
/// §IV) when a project enters the pilot: a new project, or an exited one
/// admitted again. Unmet conditions: 422 with every reason; a ban: 409 with
/// the first day the project may enter. Updates of a project in the pilot
/// are not admissions: its lapses are the rule engine's findings.
async fn admission(s: &ApiState, spec: &ProjectSpec) -> ApiResult<()> {
    use liftwatch_core::registry::ProjectStatus;
    use liftwatch_core::rules::{admission_check, FirmFacts};
    let existing = s.store.project(&spec.id).await?;
    let admitting =
        existing.as_ref().is_none_or(|p| p.status == ProjectStatus::Exited && spec.admitted_on > p.spec.admitted_on);
    if !admitting {
        return Ok(());
    }
    let firm = s
        .store
        .firm(&spec.firm_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("firm {} does not exist", spec.firm_id)))?;
    let grades = s.store.firm_grades(&spec.firm_id).await?.unwrap_or_default();
    let (exits, dq) = s.store.pilot_history().await?;
    let facts = FirmFacts { firm: firm.firm, grades };
    let refusals = admission_check(spec, &facts, &exits, &dq, spec.admitted_on, &s.rules);
    if refusals.is_empty() {
        return Ok(());
    }
    let reasons: Vec<String> =
        refusals.iter().map(|r| format!("{} ({}): {}", r.condition, r.clause, r.summary.en)).collect();
    let message = format!("project {} may not enter the pilot: {}", spec.id, reasons.join("; "));
    match refusals.iter().filter_map(|r| r.possible_from).max() {
        Some(from) => Err(ApiError::conflict(format!("{message} (possible from {from})"))),
        None => Err(ApiError::unprocessable(message)),
    }
}

/// One project with its status and open findings (regulator, or its firm).
#[utoipa::path(get, path = "/api/v1/projects/{project_id}", tag = "registry",
    params(("project_id" = String, Path, description = "project id")),
    responses((status = 200, body = ProjectOut), (status = 404, body = ErrorBody)))]
async fn get_project(
    State(s): State<ApiState>,
    caller: Caller,
    Path(project_id): Path<String>,
) -> ApiResult<Json<ProjectOut>> {
    let rec = visible_project(&s, &caller, &project_id).await?;
    Ok(Json(rec.into()))
}

/// Whether `caller` may see project `project_id` (404 otherwise, as for a
/// project that does not exist), reading only its firm: a KPI answer of a
/// 10,000-elevator project does not load its 10,000 elevators for that.
pub async fn check_project_visible(s: &ApiState, caller: &Caller, project_id: &str) -> ApiResult<()> {
    match s.store.project_firm(project_id).await? {
        Some(firm) if caller.sees_firm(&firm) => Ok(()),
        _ => Err(ApiError::not_found(format!("project {project_id} does not exist"))),
    }
}

/// The project if the caller may see it, else 404 (as if it did not exist).
pub async fn visible_project(s: &ApiState, caller: &Caller, project_id: &str) -> ApiResult<ProjectRecord> {
    let not_found = || ApiError::not_found(format!("project {project_id} does not exist"));
    let rec = s.store.project(project_id).await?.ok_or_else(not_found)?;
    if !caller.sees_firm(&rec.spec.firm_id) {
        return Err(not_found());
    }
    Ok(rec)
}

/// Filters of the project list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ProjectQuery {
    /// Only this firm's projects.
    pub firm: Option<String>,
    /// `active`, `rectifying` or `exited`.
    pub status: Option<String>,
    /// Monitoring mode: `iot`, `remote_pension`, `remote_full_service` or `remote`.
    pub mode: Option<String>,
    /// Page size (1–1000, default 100).
    pub limit: Option<i64>,
    /// Rows skipped.
    pub offset: Option<i64>,
}

/// Pilot projects, filtered and paginated (a firm sees its own only).
#[utoipa::path(get, path = "/api/v1/projects", tag = "registry", params(ProjectQuery),
    responses((status = 200, body = [ProjectOut]), (status = 400, body = ErrorBody)))]
async fn list_projects(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<ProjectQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<ProjectOut>>> {
    let Query(q) = q?;
    let (limit, offset) = Page { limit: q.limit, offset: q.offset }.get()?;
    let status = q.status.as_deref().map(str::parse::<ProjectStatus>).transpose()?;
    let mode = q.mode.as_deref().map(str::parse::<ProjectMode>).transpose()?;
    let firm = match (&caller, q.firm) {
        (Caller::Regulator, f) => f,
        (Caller::Firm(own), Some(f)) if f != *own => return Ok(Json(Vec::new())),
        (Caller::Firm(own), _) => Some(own.clone()),
    };
    let rows = s.store.projects(&ProjectFilter { firm, status, mode, limit, offset }).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}
