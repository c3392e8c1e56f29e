//! Prometheus metrics at `GET /metrics` (no token), with the Prometheus
//! project's `prometheus-client`.
//!
//! [`Metrics`] holds the registry. It always has the HTTP metrics (filled by
//! the [`track`] middleware) and `liftwatch_build_info`; `liftwatch serve`
//! adds the store pool ([`Metrics::register_store`]) and the gateway's
//! ingest counters ([`Metrics::register_collector`] with the gateway's
//! `Stats`, which reads its atomics at scrape time).
//!
//! With [`Metrics::register_telemetry`], each scrape also asks the store for
//! the fleet's telemetry summary (one small row per device, never raw
//! events) and exports what did not arrive: runs missing by odometer,
//! devices silent longer than a threshold, seq gaps ([`TelemetryGauges`]).
//!
//! The answer is negotiated: a scraper whose `Accept` names
//! `application/openmetrics-text` (Prometheus does) gets OpenMetrics 1.0.0
//! ([`OPENMETRICS_CONTENT_TYPE`]); anything else (curl, a browser) gets the
//! Prometheus text format 0.0.4 ([`PROMETHEUS_TEXT_CONTENT_TYPE`]). The
//! series are the same; in OpenMetrics `liftwatch_build` is of type `info`,
//! in 0.0.4 `liftwatch_build_info` is a gauge of value 1.

use std::sync::atomic::AtomicI64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use liftwatch_core::completeness::TelemetrySummary;
use liftwatch_core::protocol::Timestamp;
use liftwatch_store::{PoolStatus, Store};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

/// `Content-Type` of the OpenMetrics answer.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `Content-Type` of the Prometheus text (0.0.4) answer.
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// `route` label of requests that matched no route (keeps the label set bounded).
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of the HTTP duration buckets, in seconds.
const HTTP_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Labels of `liftwatch_http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

/// Labels of `liftwatch_http_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_BUCKETS)
}

/// Exposition format of a scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0.0 text (ends with `# EOF`).
    OpenMetrics,
    /// Prometheus text format 0.0.4.
    PrometheusText,
}

impl Format {
    /// The format asked for by an `Accept` header (OpenMetrics when it is
    /// named, else Prometheus text).
    pub fn negotiate(accept: Option<&HeaderValue>) -> Format {
        match accept.and_then(|a| a.to_str().ok()) {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::PrometheusText,
        }
    }

    /// Its `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Format::PrometheusText => PROMETHEUS_TEXT_CONTENT_TYPE,
        }
    }
}

/// The metrics registry of one process, shared (in an `Arc`) by the
/// `/metrics` handler and the HTTP middleware.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram>,
    telemetry: Option<TelemetrySource>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("registry", &self.registry).finish_non_exhaustive()
    }
}

/// Devices silent longer than this count as silent in `/metrics` (boxes
/// send a heartbeat at least every 5 minutes while connected, protocol v1:
/// three missed heartbeats).
pub const DEFAULT_SILENT_AFTER: Duration = Duration::from_secs(15 * 60);

/// Where the telemetry gauges come from at each scrape.
struct TelemetrySource {
    store: Arc<dyn Store>,
    silent_after: Duration,
    clock: crate::Clock,
    gauges: Arc<TelemetryGauges>,
}

/// The fleet's telemetry as of the last scrape (read by the collector).
#[derive(Debug, Default)]
pub struct TelemetryGauges {
    devices: AtomicI64,
    silent: AtomicI64,
    seq_gaps: AtomicI64,
    runs_by_odometer: AtomicI64,
    runs_reported: AtomicI64,
    runs_missing: AtomicI64,
    silent_after_secs: AtomicI64,
    errors: AtomicI64,
}

impl TelemetryGauges {
    fn set(&self, s: &TelemetrySummary) {
        self.devices.store(s.devices, Relaxed);
        self.silent.store(s.silent, Relaxed);
        self.seq_gaps.store(s.seq_gaps, Relaxed);
        self.runs_by_odometer.store(s.runs_by_odometer, Relaxed);
        self.runs_reported.store(s.runs_reported, Relaxed);
        self.runs_missing.store(s.runs_missing, Relaxed);
    }
}

impl Collector for TelemetryGauges {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let gauges: [(&str, &str, &AtomicI64); 5] = [
            ("liftwatch_telemetry_runs_missing_by_odometer", "Runs the controllers' odometers counted between consecutive counter events that never arrived as run events, summed per device (max(0, counted - reported)); falls when late runs fill a gap.", &self.runs_missing),
            ("liftwatch_telemetry_devices_silent", "Elevators currently in a project never heard, or not heard (any event, heartbeats included, by box time) for longer than liftwatch_telemetry_silent_threshold_seconds.", &self.silent),
            ("liftwatch_telemetry_silent_threshold_seconds", "Silence after which an elevator counts in liftwatch_telemetry_devices_silent.", &self.silent_after_secs),
            ("liftwatch_telemetry_devices", "Devices that sent at least one event.", &self.devices),
            ("liftwatch_telemetry_seq_gaps", "Sequence numbers skipped by the boxes, summed (an indicator: boxes may skip numbers and restart from 0).", &self.seq_gaps),
        ];
        for (name, help, v) in gauges {
            enc.encode_descriptor(name, help, None, MetricType::Gauge)?.encode_gauge(&v.load(Relaxed))?;
        }
        let counters: [(&str, &str, &AtomicI64); 3] = [
            ("liftwatch_telemetry_odometer_runs", "Runs counted by the controllers' odometers over the spans between consecutive counter events (resets excluded).", &self.runs_by_odometer),
            ("liftwatch_telemetry_reported_runs", "Run events received in those spans.", &self.runs_reported),
            ("liftwatch_telemetry_refresh_errors", "Scrapes at which the store could not give the telemetry summary (the values above are then the previous ones).", &self.errors),
        ];
        for (name, help, v) in counters {
            let n = u64::try_from(v.load(Relaxed)).unwrap_or(0);
            enc.encode_descriptor(name, help, None, MetricType::Counter)?
                .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(&n, None)?;
        }
        Ok(())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with the HTTP metrics and `liftwatch_build_info`.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let http_requests = Family::<RequestLabels, Counter>::default();
        let http_duration = Family::<RouteLabels, Histogram>::new_with_constructor(http_histogram as fn() -> Histogram);
        // Names go without `_total` / `_seconds` / `_info`: the encoder appends them.
        registry.register(
            "liftwatch_http_requests",
            "HTTP requests answered, by method, route template and status",
            http_requests.clone(),
        );
        registry.register_with_unit(
            "liftwatch_http_request_duration",
            "Time to answer an HTTP request (until the response head), by method and route template",
            Unit::Seconds,
            http_duration.clone(),
        );
        registry.register(
            "liftwatch_build",
            "Build of this liftwatch (value 1)",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        Metrics { registry, http_requests, http_duration, telemetry: None }
    }

    /// Also exports the store's connection pool
    /// (`liftwatch_store_pool_connections{pool="api",state}`, `liftwatch_store_pool_max{pool="api"}`).
    pub fn register_store(&mut self, store: Arc<dyn Store>) {
        self.register_store_pools(vec![("api", store)]);
    }

    /// Also exports connection pools by name (`liftwatch serve` has two:
    /// `api` and `ingest`), as [`Metrics::register_store`]. Call once.
    pub fn register_store_pools(&mut self, pools: Vec<(&'static str, Arc<dyn Store>)>) {
        self.registry.register_collector(Box::new(PoolCollector(pools)));
    }

    /// Also exports the fleet's telemetry (`liftwatch_telemetry_*`), asked
    /// of the store at each scrape: devices silent for longer than
    /// `silent_after` at `clock`'s time, runs missing by odometer, seq gaps.
    pub fn register_telemetry(&mut self, store: Arc<dyn Store>, silent_after: Duration, clock: crate::Clock) {
        let gauges = Arc::new(TelemetryGauges::default());
        gauges.silent_after_secs.store(i64::try_from(silent_after.as_secs()).unwrap_or(i64::MAX), Relaxed);
        self.registry.register_collector(Box::new(gauges.clone()));
        self.telemetry = Some(TelemetrySource { store, silent_after, clock, gauges });
    }

    /// Reads the telemetry summary from the store (when registered); on an
    /// error the previous values stay and the error is counted and logged.
    pub async fn refresh(&self) {
        let Some(t) = &self.telemetry else { return };
        let now = (t.clock)();
        let before = Timestamp(now.0 - i64::try_from(t.silent_after.as_micros()).unwrap_or(i64::MAX));
        match t.store.telemetry_summary(before).await {
            Ok(s) => {
                if s.silent > 0 {
                    tracing::debug!(
                        silent = s.silent,
                        runs_missing = s.runs_missing,
                        "telemetry loss visible in /metrics"
                    );
                }
                t.gauges.set(&s);
            }
            Err(e) => {
                t.gauges.errors.fetch_add(1, Relaxed);
                tracing::warn!(error = %e, "telemetry summary for /metrics failed; previous values exported");
            }
        }
    }

    /// Also exports what `collector` reports at each scrape (e.g. the
    /// gateway's `Arc<Stats>`).
    pub fn register_collector(&mut self, collector: impl Collector) {
        self.registry.register_collector(Box::new(collector));
    }

    /// The registry, to register more metrics before sharing.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Counts one answered HTTP request. `route` is the matched route
    /// template (`None`: no route matched).
    pub fn observe_http(&self, method: &Method, route: Option<&str>, status: StatusCode, elapsed: Duration) {
        let method = method_label(method);
        let route = route.unwrap_or(UNMATCHED).to_owned();
        self.http_duration.get_or_create(&RouteLabels { method, route: route.clone() }).observe(elapsed.as_secs_f64());
        self.http_requests.get_or_create(&RequestLabels { method, route, status: status.as_u16() }).inc();
    }

    /// The exposition of every metric.
    pub fn encode(&self, format: Format) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        match format {
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &self.registry)?,
            Format::PrometheusText => prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?,
        }
        Ok(out)
    }
}

/// Standard methods keep their name; anything else is `"other"` (bounded labels).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// Reads the status of each named pool at each scrape.
struct PoolCollector(Vec<(&'static str, Arc<dyn Store>)>);

impl std::fmt::Debug for PoolCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PoolCollector")
    }
}

impl Collector for PoolCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let pools: Vec<(&str, PoolStatus)> =
            self.0.iter().filter_map(|(name, s)| s.pool_status().map(|p| (*name, p))).collect();
        if pools.is_empty() {
            return Ok(());
        }
        let mut m = enc.encode_descriptor(
            "liftwatch_store_pool_connections",
            "Open database connections of the pool, idle or in use.",
            None,
            MetricType::Gauge,
        )?;
        for (pool, PoolStatus { size, available, .. }) in &pools {
            for (state, n) in [("idle", *available), ("in_use", size.saturating_sub(*available))] {
                m.encode_family(&[("pool", *pool), ("state", state)])?.encode_gauge(&n)?;
            }
        }
        let mut m = enc.encode_descriptor(
            "liftwatch_store_pool_max",
            "Most database connections the pool opens.",
            None,
            MetricType::Gauge,
        )?;
        for (pool, p) in &pools {
            m.encode_family(&[("pool", *pool)])?.encode_gauge(&p.max_size)?;
        }
        Ok(())
    }
}

/// The `/metrics` route (no token).
pub fn router<S: Clone + Send + Sync + 'static>(metrics: Arc<Metrics>) -> Router<S> {
    Router::new().route(
        "/metrics",
        get(move |headers: HeaderMap| {
            let metrics = metrics.clone();
            async move {
                metrics.refresh().await;
                scrape(&metrics, &headers)
            }
        }),
    )
}

fn scrape(metrics: &Metrics, headers: &HeaderMap) -> Response {
    let format = Format::negotiate(headers.get(ACCEPT));
    match metrics.encode(format) {
        Ok(body) => ([(CONTENT_TYPE, format.content_type())], body).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "metrics encoding failed").into_response(),
    }
}

/// Middleware (`axum::middleware::from_fn_with_state`) counting every
/// request by method, matched route template and status. Add it with
/// `Router::layer` after the routes so that the route is known.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let resp = next.run(req).await;
    metrics.observe_http(&method, route.as_ref().map(MatchedPath::as_str), resp.status(), start.elapsed());
    resp
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::atomic::Ordering;

    use liftwatch_gateway::Stats;

    use super::*;

    #[test]
    fn http_metrics_use_route_templates_and_units() {
        let m = Metrics::new();
        m.observe_http(&Method::GET, Some("/api/v1/firms/{id}"), StatusCode::OK, Duration::from_millis(3));
        m.observe_http(&Method::GET, Some("/api/v1/firms/{id}"), StatusCode::OK, Duration::from_millis(30));
        m.observe_http(&Method::from_bytes(b"BREW").unwrap(), None, StatusCode::NOT_FOUND, Duration::ZERO);
        let text = m.encode(Format::PrometheusText).unwrap();
        for needle in [
            "# TYPE liftwatch_http_requests_total counter\n",
            "liftwatch_http_requests_total{method=\"GET\",route=\"/api/v1/firms/{id}\",status=\"200\"} 2\n",
            "liftwatch_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"} 1\n",
            "# TYPE liftwatch_http_request_duration_seconds histogram\n",
            "liftwatch_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/firms/{id}\",le=\"0.005\"} 1\n",
            "liftwatch_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/firms/{id}\"} 2\n",
            "# TYPE liftwatch_build_info gauge\n",
            &format!("liftwatch_build_info{{version=\"{}\"}} 1\n", env!("CARGO_PKG_VERSION")),
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        let om = m.encode(Format::OpenMetrics).unwrap();
        assert!(om.ends_with("# EOF\n"), "{om}");
        assert!(om.contains("# TYPE liftwatch_build info\n"), "{om}");
        assert!(om.contains("# UNIT liftwatch_http_request_duration_seconds seconds\n"), "{om}");
    }

    #[test]
    fn ingest_metrics_from_gateway_stats() {
        let stats = Arc::new(Stats::default());
        let mut m = Metrics::new();
        m.register_collector(stats.clone());
        stats.messages.fetch_add(3, Ordering::Relaxed);
        stats.duplicates.fetch_add(1, Ordering::Relaxed);
        stats.acks_pending.fetch_add(2, Ordering::Relaxed);
        stats.subscribed.store(true, Ordering::Relaxed);
        stats.events_by_type.get_or_create(&[("type", "run")]).inc_by(5);
        stats.dead_letters_by_reason.get_or_create(&[("reason", "not_json")]).inc();
        stats.batch_events.observe(7.0);
        stats.commit_seconds.observe(0.0125);
        let text = m.encode(Format::PrometheusText).unwrap();
        for needle in [
            "# TYPE liftwatch_ingest_messages_total counter\nliftwatch_ingest_messages_total 3\n",
            "liftwatch_ingest_events_total{type=\"run\"} 5\n",
            // Pre-registered: every type and reason shows, at 0.
            "liftwatch_ingest_events_total{type=\"counter\"} 0\n",
            "liftwatch_ingest_duplicates_total 1\n",
            "liftwatch_ingest_dead_letters_total{reason=\"not_json\"} 1\n",
            "liftwatch_ingest_dead_letters_total{reason=\"store_refused\"} 0\n",
            "liftwatch_ingest_dead_letters_total{reason=\"unknown_device\"} 0\n",
            "# TYPE liftwatch_ingest_batch_events histogram\n",
            "liftwatch_ingest_batch_events_bucket{le=\"16\"} 1\n",
            "liftwatch_ingest_batch_events_count 1\n",
            "# TYPE liftwatch_ingest_commit_duration_seconds histogram\n",
            "liftwatch_ingest_commit_duration_seconds_sum 0.0125\n",
            "# TYPE liftwatch_ingest_acks_pending gauge\nliftwatch_ingest_acks_pending 2\n",
            "liftwatch_ingest_store_retries_total 0\n",
            "liftwatch_mqtt_connection_errors_total 0\n",
            "# TYPE liftwatch_mqtt_subscribed gauge\nliftwatch_mqtt_subscribed 1\n",
            "liftwatch_mqtt_subscribe_failures_total{why=\"refused\"} 0\n",
            "liftwatch_mqtt_subscribe_failures_total{why=\"timeout\"} 0\n",
            "liftwatch_mqtt_acks_dropped_total 0\n",
            "liftwatch_mqtt_session_takeovers_total 0\n",
            "# TYPE liftwatch_mqtt_client_id_conflict gauge\nliftwatch_mqtt_client_id_conflict 0\n",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        let reasons = text.lines().filter(|l| l.starts_with("liftwatch_ingest_dead_letters_total{")).count();
        assert_eq!(reasons, liftwatch_core::protocol::Invalid::CODES.len() + 1);
        let types = text.lines().filter(|l| l.starts_with("liftwatch_ingest_events_total{")).count();
        assert_eq!(types, 9);
    }

    #[tokio::test]
    async fn middleware_labels_by_route_template_and_endpoint_negotiates() {
        let metrics = Arc::new(Metrics::new());
        let app: Router = Router::new()
            .route("/things/{id}", get(|| async { "thing" }))
            .merge(router(metrics.clone()))
            .layer(axum::middleware::from_fn_with_state(metrics.clone(), track));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::new();
        for path in ["/things/1", "/things/2", "/nope/3"] {
            http.get(format!("{base}{path}")).send().await.unwrap();
        }
        let resp = http.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(resp.headers()[CONTENT_TYPE], PROMETHEUS_TEXT_CONTENT_TYPE);
        let text = resp.text().await.unwrap();
        for needle in [
            "liftwatch_http_requests_total{method=\"GET\",route=\"/things/{id}\",status=\"200\"} 2\n",
            "liftwatch_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1\n",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(!text.contains("/things/1"), "raw paths must not become labels:\n{text}");
        let resp = http
            .get(format!("{base}/metrics"))
            .header(ACCEPT, "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()[CONTENT_TYPE], OPENMETRICS_CONTENT_TYPE);
        let text = resp.text().await.unwrap();
        // The previous scrape is counted by its route template.
        assert!(text.contains("liftwatch_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"} 1"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn negotiation() {
        let om = HeaderValue::from_static(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        );
        assert_eq!(Format::negotiate(Some(&om)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some(&HeaderValue::from_static("*/*"))), Format::PrometheusText);
        assert_eq!(Format::negotiate(None), Format::PrometheusText);
    }
}
