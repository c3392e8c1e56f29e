//! The HTTP API of liftwatch (api-v1.md): registry, KPIs, what firms and
//! regulators record, findings, dead letters, the inspection schedule of
//! attachment 2; OpenAPI at `/api/v1/openapi.json`, generated from the
//! handlers so it cannot drift.

pub mod auth;
pub mod dashboard;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod routes;
pub mod server;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use chrono::NaiveDate;
use chrono_tz::Tz;
use liftwatch_core::protocol::Timestamp;
use liftwatch_store::Store;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// A clock (injected so tests can pin "today").
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct ApiState {
    /// The store, whatever the backend (the handlers see only the port).
    pub store: Arc<dyn Store>,
    /// The regulator's bearer token; without one, only firms can call.
    pub regulator_token: Option<String>,
    /// Zone of local days.
    pub tz: Tz,
    /// Now.
    pub clock: Clock,
    /// Whether ingest is up, for `/readyz`: `Err` says why not (e.g. the
    /// broker subscription is not acknowledged yet, or the spool is full).
    pub ingest_ready: Arc<dyn Fn() -> Result<(), NotReady> + Send + Sync>,
    /// The pilot rules' thresholds (admission checks the bans with them).
    pub rules: Arc<liftwatch_core::rules::RulesConfig>,
    /// Wakes the rule engine after a successful write (a record, a
    /// registration, a correction), so its findings follow at once.
    pub kick: Arc<tokio::sync::Notify>,
    /// Timeouts, concurrency and write-rate limits.
    pub limits: limits::HttpLimits,
    /// Recent token lookups (no database round trip per request).
    pub tokens: auth::TokenCache,
    /// China's working-day calendar, for the upload deadlines of attachment
    /// 2 (the shipped files, replaced or extended by `--calendar-dir`).
    pub calendar: Arc<liftwatch_core::inspection::WorkCalendar>,
}

/// Why ingest is not ready: `/readyz` answers 503 with
/// `{"error": error, "message": message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    /// Stable code, e.g. `not_subscribed`, `spool_full`.
    pub error: &'static str,
    /// What it means and what to do, for the operator.
    pub message: String,
}

impl ApiState {
    /// Today in the configured zone.
    pub fn today(&self) -> NaiveDate {
        (self.clock)().local_day(self.tz)
    }
}

/// Largest request body accepted (a project with thousands of elevators fits).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "liftwatch API", version = "1", description = "Elevator on-demand maintenance supervision (api-v1.md)."),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

/// The OpenAPI router (routes + their documentation).
pub fn api_router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::registry::router())
        .merge(routes::kpis::router())
        .merge(routes::dead_letters::router())
        .merge(routes::findings::router())
        .merge(routes::firm_records::router())
        .merge(routes::regulator_records::router())
        .merge(routes::grades::router())
        .merge(routes::webhooks::router())
        .merge(routes::session::router())
        .merge(routes::telemetry::router())
        .merge(routes::inspection::router())
}

/// The whole HTTP app: `/api/v1/…`, `/api/v1/openapi.json`, `/healthz`,
/// `/readyz`, `/metrics` (HTTP, store pool, telemetry and build metrics),
/// and the dashboard at `/` with its `/assets/…` ([`dashboard`]).
pub fn app(state: ApiState) -> Router {
    let mut m = metrics::Metrics::new();
    m.register_store(state.store.clone());
    m.register_telemetry(state.store.clone(), metrics::DEFAULT_SILENT_AFTER, state.clock.clone());
    app_with_metrics(state, Arc::new(m))
}

/// [`app`] exporting the given metrics at `/metrics` (`liftwatch serve`
/// passes one that also has the gateway's ingest metrics).
pub fn app_with_metrics(state: ApiState, metrics: Arc<metrics::Metrics>) -> Router {
    let (router, openapi) = api_router().split_for_parts();
    let doc = Arc::new(openapi);
    router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json((*doc).clone()) }
            }),
        )
        .merge(routes::health::router())
        .merge(dashboard::router())
        .merge(metrics::router(metrics.clone()))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.kick.clone(), kick_after_writes))
        .layer(axum::middleware::from_fn_with_state(limits::Guard::new(state.limits.clone()), limits::guard))
        .layer(axum::middleware::from_fn_with_state(metrics, metrics::track))
        .with_state(state)
}

/// After a successful write, wakes the rule engine.
async fn kick_after_writes(
    axum::extract::State(kick): axum::extract::State<Arc<tokio::sync::Notify>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let write =
        !matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS);
    let resp = next.run(req).await;
    if write && resp.status().is_success() {
        kick.notify_one();
    }
    resp
}

/// The OpenAPI document (for tests and `liftwatch openapi`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().split_for_parts().1
}
