//! `GET /api/v1/telemetry/silent` (regulator): the elevators of the pilot
//! whose boxes were never heard or not for longer than the threshold that
//! `/metrics` counts (`liftwatch_telemetry_devices_silent`), by name.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use liftwatch_core::protocol::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::metrics::DEFAULT_SILENT_AFTER;
use crate::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(silent))
}

/// Filters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SilentQuery {
    /// At most this many (1–1000, default 100).
    pub limit: Option<i64>,
}

/// A silent box.
#[derive(Debug, Serialize, ToSchema)]
pub struct SilentOut {
    /// The elevator.
    pub device_code: String,
    /// Latest event time (box clock), RFC 3339; null when never heard.
    pub last_seen: Option<String>,
    /// Seconds since `last_seen`; null when never heard.
    pub silent_seconds: Option<i64>,
    /// Seq numbers skipped (an indicator); 0 when never heard.
    pub seq_gaps: i64,
    /// Distinct events received; 0 when never heard.
    pub events: i64,
}

/// Elevators currently in a project whose box was never heard, or not for
/// more than 900 s (three missed 5-minute heartbeats), longest silent
/// first (regulator).
#[utoipa::path(get, path = "/api/v1/telemetry/silent", tag = "telemetry", params(SilentQuery),
    responses((status = 200, body = [SilentOut]), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn silent(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<SilentQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<SilentOut>>> {
    caller.require_regulator()?;
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit {limit} must be between 1 and 1000")));
    }
    let now = (s.clock)();
    let micros = i64::try_from(DEFAULT_SILENT_AFTER.as_micros()).unwrap_or(i64::MAX);
    let rows = s.store.silent_devices(Timestamp(now.0 - micros), limit).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(d, t)| SilentOut {
                device_code: d.to_string(),
                last_seen: t.as_ref().map(|t| t.last_seen.to_rfc3339()),
                silent_seconds: t.as_ref().map(|t| ((now.0 - t.last_seen.0) / 1_000_000).max(0)),
                seq_gaps: t.as_ref().map_or(0, |t| t.seq_gaps),
                events: t.as_ref().map_or(0, |t| t.events),
            })
            .collect(),
    ))
}
