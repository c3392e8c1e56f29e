//! `GET /api/v1/whoami`: who the token is, so that a client (the dashboard)
//! decides which view to show from the API's own answer, not from a guess.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(whoami))
}

/// The caller's role.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhoAmI {
    /// `regulator` or `firm`.
    #[schema(example = "firm")]
    pub role: &'static str,
    /// The firm (firm tokens only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "zls")]
    pub firm_id: Option<String>,
}

/// The caller's role, and its firm for a firm token (any valid token).
#[utoipa::path(get, path = "/api/v1/whoami", tag = "registry",
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)))]
async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(match caller {
        Caller::Regulator => WhoAmI { role: "regulator", firm_id: None },
        Caller::Firm(f) => WhoAmI { role: "firm", firm_id: Some(f) },
    })
}
