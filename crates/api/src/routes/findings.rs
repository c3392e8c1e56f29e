//! Findings (api-v1.md "Findings"): what the rule engine flagged.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use liftwatch_store::findings::FindingFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::registry::visible_project;
use super::Page;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// Filters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct FindingQuery {
    /// Only this project's findings.
    pub project: Option<String>,
    /// `open` or `closed`.
    pub state: Option<String>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<i64>,
    /// Skip this many.
    pub offset: Option<i64>,
}

/// One finding.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingOut {
    /// Id.
    pub id: String,
    /// Rule, e.g. `A1-III-1-onsite-interval`.
    pub rule: String,
    /// Project.
    pub project: Option<String>,
    /// Firm.
    pub firm: Option<String>,
    /// `notice`, `rectify`, `exit` or `disqualify`.
    pub action: String,
    /// Severity.
    pub severity: String,
    /// What was found.
    pub summary: String,
    /// When it was opened (RFC 3339).
    pub opened_at: String,
    /// When it was closed (RFC 3339), if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
    /// `open` or `closed`.
    pub state: String,
}

/// Findings, newest first (regulator; a firm sees its own).
#[utoipa::path(get, path = "/api/v1/findings", tag = "findings", params(FindingQuery),
    responses((status = 200, body = [FindingOut]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<FindingQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<FindingOut>>> {
    let Query(q) = q?;
    let (limit, offset) = Page { limit: q.limit, offset: q.offset }.get()?;
    if let Some(st) = &q.state {
        if !["open", "closed"].contains(&st.as_str()) {
            return Err(ApiError::bad_request(format!("state {st:?} must be open or closed")));
        }
    }
    if let Some(p) = &q.project {
        visible_project(&s, &caller, p).await?;
    }
    let firm = match &caller {
        Caller::Regulator => None,
        Caller::Firm(f) => Some(f.clone()),
    };
    let rows = s.store.findings(&FindingFilter { project: q.project, firm, state: q.state, limit, offset }).await?;
    Ok(Json(
        rows.into_iter()
            .map(|f| FindingOut {
                id: f.id,
                rule: f.rule,
                project: f.project,
                firm: f.firm,
                action: f.action,
                severity: f.severity,
                summary: f.summary,
                opened_at: f.opened_at.to_rfc3339(),
                closed_at: f.closed_at.map(|t| t.to_rfc3339()),
                state: f.state,
            })
            .collect(),
    ))
}
