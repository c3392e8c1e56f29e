//! Findings (api-v1.md "Findings"): what the rule engine flagged, with the
//! clause and evidence behind each (docs/rules.md); regulators acknowledge
//! and annotate them.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use liftwatch_core::rules::Action;
use liftwatch_store::findings::{Finding, FindingFilter, FindingNote};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::registry::check_project_visible;
use super::Page;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::ApiState;

/// Longest note accepted.
pub const MAX_NOTE_CHARS: usize = 4000;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(one))
        .routes(routes!(acknowledge))
        .routes(routes!(add_note, notes))
}

/// Filters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct FindingQuery {
    /// Only this project's findings.
    pub project: Option<String>,
    /// Only this firm's (a firm sees its own only).
    pub firm: Option<String>,
    /// `open` or `resolved`.
    pub state: Option<String>,
    /// `notice`, `rectify`, `stop`, `exit` or `disqualify`.
    pub action: Option<String>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<i64>,
    /// Skip this many.
    pub offset: Option<i64>,
}

/// Findings, newest first (regulator; a firm sees its own).
#[utoipa::path(get, path = "/api/v1/findings", tag = "findings", params(FindingQuery),
    responses((status = 200, body = [Finding]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<FindingQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<Finding>>> {
    let Query(q) = q?;
    let (limit, offset) = Page { limit: q.limit, offset: q.offset }.get()?;
    if let Some(st) = &q.state {
        if !["open", "resolved"].contains(&st.as_str()) {
            return Err(ApiError::bad_request(format!("state {st:?} must be open or resolved")));
        }
    }
    if let Some(a) = &q.action {
        a.parse::<Action>()?;
    }
    if let Some(p) = &q.project {
        check_project_visible(&s, &caller, p).await?;
    }
    let firm = match &caller {
        Caller::Regulator => q.firm,
        Caller::Firm(f) => {
            if q.firm.as_ref().is_some_and(|x| x != f) {
                return Ok(Json(Vec::new()));
            }
            Some(f.clone())
        }
    };
    let filter = FindingFilter { project: q.project, firm, state: q.state, action: q.action, limit, offset };
    Ok(Json(s.store.findings(&filter).await?))
}

async fn visible(s: &ApiState, caller: &Caller, id: &str) -> ApiResult<Finding> {
    let f = s.store.finding(id).await?;
    let seen = |f: &Finding| match caller {
        Caller::Regulator => true,
        Caller::Firm(mine) => f.firm.as_deref() == Some(mine.as_str()),
    };
    f.filter(seen).ok_or_else(|| ApiError::not_found(format!("finding {id} does not exist")))
}

/// One finding (regulator; a firm its own).
#[utoipa::path(get, path = "/api/v1/findings/{id}", tag = "findings",
    params(("id" = String, Path, description = "finding id")),
    responses((status = 200, body = Finding), (status = 404, body = ErrorBody)))]
async fn one(State(s): State<ApiState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Finding>> {
    Ok(Json(visible(&s, &caller, &id).await?))
}

/// A regulator acknowledges a finding (the first acknowledgement stands).
#[utoipa::path(post, path = "/api/v1/findings/{id}/acknowledge", tag = "findings",
    params(("id" = String, Path, description = "finding id")),
    responses((status = 200, body = Finding), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn acknowledge(State(s): State<ApiState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Finding>> {
    caller.require_regulator()?;
    s.store
        .acknowledge_finding(&id, &caller.audit_name(), (s.clock)())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("finding {id} does not exist")))
}

/// Body of a note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// The note (1–4000 characters).
    pub note: String,
}

/// A regulator annotates a finding.
#[utoipa::path(post, path = "/api/v1/findings/{id}/notes", tag = "findings",
    params(("id" = String, Path, description = "finding id")), request_body = NoteBody,
    responses((status = 201, body = FindingNote), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 404, body = ErrorBody)))]
async fn add_note(
    State(s): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Result<Json<NoteBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<FindingNote>)> {
    caller.require_regulator()?;
    let Json(b) = body?;
    let n = b.note.trim();
    if n.is_empty() || n.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::bad_request(format!("note must be 1 to {MAX_NOTE_CHARS} characters")));
    }
    let note = s
        .store
        .add_finding_note(&id, &caller.audit_name(), n, (s.clock)())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("finding {id} does not exist")))?;
    Ok((StatusCode::CREATED, Json(note)))
}

/// A finding's notes, oldest first (regulator).
#[utoipa::path(get, path = "/api/v1/findings/{id}/notes", tag = "findings",
    params(("id" = String, Path, description = "finding id")),
    responses((status = 200, body = [FindingNote]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn notes(State(s): State<ApiState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Vec<FindingNote>>> {
    caller.require_regulator()?;
    visible(&s, &caller, &id).await?;
    Ok(Json(s.store.finding_notes(&id).await?))
}
