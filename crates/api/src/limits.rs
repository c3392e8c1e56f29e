//! What keeps one client from taking the API down for the others: a global
//! limit on requests in flight (503 past it), a time limit per request (503
//! when it passes), and a per-token rate limit on writes (429 with
//! `Retry-After`, a token bucket per token). The header-read timeout is the
//! server's ([`crate::server`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Seconds a request may take before it is answered 503 `timeout`.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
/// Seconds a client has to send a request's headers before the connection is closed.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// Requests in flight at once, all clients together; more are answered 503 `overloaded`.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 256;
/// Writes (POST, PUT, PATCH, DELETE) per minute and token, sustained.
pub const DEFAULT_WRITES_PER_MINUTE: u32 = 120;
/// Writes a token may make at once before the per-minute rate applies.
pub const DEFAULT_WRITE_BURST: u32 = 60;

/// The limits of the HTTP API.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Time limit of one request (handler and body).
    pub request_timeout: Duration,
    /// Time a client has to send the headers of a request.
    pub header_read_timeout: Duration,
    /// Requests in flight at once.
    pub max_concurrent: usize,
    /// Sustained writes per minute and token.
    pub writes_per_minute: u32,
    /// Burst of writes per token.
    pub write_burst: u32,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            request_timeout: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            max_concurrent: DEFAULT_MAX_CONCURRENT_REQUESTS,
            writes_per_minute: DEFAULT_WRITES_PER_MINUTE,
            write_burst: DEFAULT_WRITE_BURST,
        }
    }
}

/// Token buckets keyed by token hash: `burst` writes at once, refilled at
/// `per_minute`. Pure apart from the lock: the caller passes the time.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    burst: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets kept at most; past it, the full (idle) ones are forgotten.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// A limiter of `burst` writes at once and `per_minute` sustained.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        RateLimiter { per_minute, burst: burst.max(1), buckets: Mutex::default() }
    }

    /// Takes one write for `key` at `now`: `Err(wait)` when its bucket is
    /// empty, with how long until the next write is allowed.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let per_sec = f64::from(self.per_minute) / 60.0;
        let burst = f64::from(self.burst);
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec < burst);
        }
        let b = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: burst, at: now });
        b.tokens = (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_sec).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        if per_sec <= 0.0 {
            return Err(Duration::from_secs(3600));
        }
        Err(Duration::from_secs_f64((1.0 - b.tokens) / per_sec))
    }
}

/// The shared state of [`guard`].
#[derive(Debug)]
pub struct Guard {
    limits: HttpLimits,
    in_flight: Arc<Semaphore>,
    writes: RateLimiter,
}

impl Guard {
    /// The guard of `limits`.
    pub fn new(limits: HttpLimits) -> Arc<Guard> {
        Arc::new(Guard {
            in_flight: Arc::new(Semaphore::new(limits.max_concurrent)),
            writes: RateLimiter::new(limits.writes_per_minute, limits.write_burst),
            limits,
        })
    }
}

/// An error answer with a `Retry-After` header of `after` (whole seconds, at least 1).
fn retry_later(e: ApiError, after: Duration) -> Response {
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    let mut r = e.into_response();
    if let Ok(v) = secs.max(1).to_string().parse() {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// The bearer token of a request, if any.
fn bearer(req: &Request) -> Option<&str> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).map(str::trim).filter(|t| !t.is_empty())
}

/// The middleware: concurrency limit, write rate per token, time limit.
pub async fn guard(State(g): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let Ok(_permit) = g.in_flight.clone().try_acquire_owned() else {
        let e = ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "overloaded",
            message: format!(
                "{} requests are in flight, the most this server takes; retry shortly",
                g.limits.max_concurrent
            ),
        };
        return retry_later(e, Duration::from_secs(1));
    };
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if write {
        if let Some(token) = bearer(&req) {
            if let Err(wait) = g.writes.take(&crate::auth::token_hash(token), Instant::now()) {
                let e = ApiError {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    code: "rate_limited",
                    message: format!(
                        "more than {} writes at once or {} per minute with this token; retry after the time in Retry-After",
                        g.limits.write_burst, g.limits.writes_per_minute
                    ),
                };
                return retry_later(e, wait);
            }
        }
    }
    match tokio::time::timeout(g.limits.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "timeout",
            message: format!("the request took longer than {:?}; retry later", g.limits.request_timeout),
        }
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let l = RateLimiter::new(60, 3); // one a second
        let t0 = Instant::now();
        for _ in 0..3 {
            l.take("a", t0).unwrap();
        }
        assert_eq!(l.take("a", t0), Err(Duration::from_secs(1)));
        // Another token has its own bucket.
        l.take("b", t0).unwrap();
        // Half a second later: half a write short.
        assert_eq!(l.take("a", t0 + Duration::from_millis(500)), Err(Duration::from_millis(500)));
        l.take("a", t0 + Duration::from_secs(1)).unwrap();
        // Never more than the burst, however long idle.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            l.take("a", later).unwrap();
        }
        assert!(l.take("a", later).is_err());
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        let r = retry_later(ApiError::conflict("x"), Duration::from_millis(1500));
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        let r = retry_later(ApiError::conflict("x"), Duration::ZERO);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }

    /// The concurrency limit and the time limit on a router whose handler
    /// waits until the test lets it go.
    #[tokio::test]
    async fn past_the_concurrency_limit_503_and_a_slow_request_times_out() {
        use axum::body::Body;
        use tower::ServiceExt;

        let release = Arc::new(tokio::sync::Notify::new());
        let r = release.clone();
        let limits = HttpLimits { max_concurrent: 1, request_timeout: Duration::from_secs(3600), ..Default::default() };
        let g = Guard::new(limits);
        let app = axum::Router::new()
            .route("/slow", axum::routing::get(move || async move { r.notified().await }))
            .layer(axum::middleware::from_fn_with_state(g.clone(), guard));
        let get = |p: &str| Request::get(p).body(Body::empty()).unwrap();
        let first = tokio::spawn(app.clone().oneshot(get("/slow")));
        while g.in_flight.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let r = app.clone().oneshot(get("/slow")).await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        release.notify_one();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);

        // The time limit, on paused time: no waiting in the test.
        tokio::time::pause();
        let g = Guard::new(HttpLimits { request_timeout: Duration::from_secs(30), ..Default::default() });
        let app = axum::Router::new()
            .route("/never", axum::routing::get(std::future::pending::<()>))
            .layer(axum::middleware::from_fn_with_state(g, guard));
        let r = app.oneshot(get("/never")).await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
