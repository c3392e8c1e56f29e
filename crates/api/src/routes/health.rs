//! `/healthz` (alive) and `/readyz` (store answers, ingest ready: broker subscription up, spool
//! not full). No token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use crate::ApiState;

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(s): State<ApiState>) -> (StatusCode, Json<serde_json::Value>) {
    if let Err(e) = s.store.check().await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": "store_unavailable", "message": e.to_string()})),
        );
    }
    if let Err(n) = (s.ingest_ready)() {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"error": n.error, "message": n.message})));
    }
    (StatusCode::OK, Json(serde_json::json!({"status": "ready"})))
}
