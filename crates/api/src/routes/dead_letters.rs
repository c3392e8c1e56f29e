//! Dead letters (api-v1.md "Dead letters"): list and replay (regulator).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use liftwatch_store::dead_letters::DeadLetterFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::ApiState;

/// The routes.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(replay))
}

/// Filters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DeadLetterQuery {
    /// At most this many (1–1000, default 100).
    pub limit: Option<i64>,
    /// Only this reason code (e.g. `unknown_device`).
    pub reason: Option<String>,
    /// Only this device.
    pub device: Option<String>,
    /// Only received at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Only received before this time (RFC 3339).
    pub until: Option<String>,
}

/// One dead letter.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterOut {
    /// Id.
    pub id: i64,
    /// When it was received (RFC 3339).
    pub received_at: String,
    /// MQTT topic.
    pub topic: String,
    /// Machine code of the reason.
    pub reason_code: String,
    /// Why it was rejected.
    pub reason: String,
    /// Raw payload (lossy UTF-8), truncated when it was over 256 KiB.
    pub payload: String,
    /// Size of the payload as received (larger than `payload` when truncated).
    pub payload_bytes: i64,
    /// Times this same message (topic, reason, payload) was refused.
    pub seen_count: i64,
    /// When it was last received (RFC 3339).
    pub last_seen_at: String,
}

fn filter(q: DeadLetterQuery) -> ApiResult<DeadLetterFilter> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit {limit} must be between 1 and 1000")));
    }
    let time = |field: &str, v: Option<String>| {
        v.map(|s| {
            liftwatch_core::protocol::parse_rfc3339(&s)
                .map(|(t, _)| t)
                .map_err(|e| ApiError::bad_request(format!("{field} {s:?} {e}")))
        })
        .transpose()
    };
    Ok(DeadLetterFilter {
        reason_code: q.reason,
        device: q.device,
        limit: Some(limit),
        since: time("since", q.since)?,
        until: time("until", q.until)?,
    })
}

/// Pending dead letters, oldest first (regulator).
#[utoipa::path(get, path = "/api/v1/dead-letters", tag = "dead letters", params(DeadLetterQuery),
    responses((status = 200, body = [DeadLetterOut]), (status = 403, body = ErrorBody)))]
async fn list(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<DeadLetterQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<DeadLetterOut>>> {
    caller.require_regulator()?;
    let Query(q) = q?;
    let rows = s.store.dead_letters(&filter(q)?).await?;
    Ok(Json(
        rows.into_iter()
            .map(|d| DeadLetterOut {
                id: d.id,
                received_at: d.received_at.to_rfc3339(),
                topic: d.topic,
                reason_code: d.reason_code,
                reason: d.reason,
                payload: d.payload,
                payload_bytes: d.payload_bytes,
                seen_count: d.seen_count,
                last_seen_at: d.last_seen_at.to_rfc3339(),
            })
            .collect(),
    ))
}

/// What a replay did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayOut {
    /// Dead letters taken.
    pub replayed: u64,
    /// Events stored for the first time.
    pub new_events: u64,
    /// Events already stored.
    pub duplicates: u64,
    /// Dead letters still invalid (kept with today's reason).
    pub still_rejected: usize,
}

/// Decodes the matching dead letters again and stores what is now valid (regulator).
#[utoipa::path(post, path = "/api/v1/dead-letters/replay", tag = "dead letters", params(DeadLetterQuery),
    responses((status = 200, body = ReplayOut), (status = 403, body = ErrorBody)))]
async fn replay(
    State(s): State<ApiState>,
    caller: Caller,
    q: Result<Query<DeadLetterQuery>, QueryRejection>,
) -> ApiResult<Json<ReplayOut>> {
    caller.require_regulator()?;
    let Query(q) = q?;
    let r = s.store.replay_dead_letters(&filter(q)?, (s.clock)()).await?;
    Ok(Json(ReplayOut {
        replayed: r.replayed,
        new_events: r.ingest.new_events,
        duplicates: r.ingest.duplicates,
        still_rejected: r.ingest.dead_letters.len(),
    }))
}
