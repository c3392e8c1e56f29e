//! The dispatcher: claims due deliveries, sends each, records the outcome.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use liftwatch_core::protocol::Timestamp;
use liftwatch_store::alerts::{Delivery, Outcome, Target};
use liftwatch_store::{Alerts, StoreError};

use crate::backoff::retry_delay;
use crate::sign::sign;

/// A receiver gets this long to answer before the attempt counts as failed.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// A claimed delivery is leased this long: longer than any attempt can take,
/// so only a dispatcher that died leaves a lease to expire.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// Deliveries claimed per round.
const BATCH: i64 = 100;

/// Publishes an alert on MQTT and returns once the broker acknowledged it.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// QoS 1 publish of `body` on `topic`; `Ok` after the PUBACK.
    async fn publish(&self, topic: &str, body: &str) -> Result<(), String>;
}

/// How the dispatcher behaves.
#[derive(Clone, Debug)]
pub struct DispatcherConfig {
    /// Name of this process in the leases (unique per process).
    pub owner: String,
    /// Per-attempt HTTP timeout.
    pub http_timeout: Duration,
    /// Lease length.
    pub lease: Duration,
}

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Accepted by the receiver.
    pub delivered: usize,
    /// Failed, to be retried.
    pub failed: usize,
}

/// Sends the outbox's due deliveries.
pub struct Dispatcher {
    store: Arc<dyn Alerts>,
    http: reqwest::Client,
    mqtt: Option<Arc<dyn Publisher>>,
    cfg: DispatcherConfig,
}

impl Dispatcher {
    /// A dispatcher over `store`; without `mqtt`, MQTT deliveries are retried
    /// until a dispatcher with a publisher takes them.
    pub fn new(store: Arc<dyn Alerts>, mqtt: Option<Arc<dyn Publisher>>, cfg: DispatcherConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(cfg.http_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("liftwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds with static settings");
        Dispatcher { store, http, mqtt, cfg }
    }

    /// One round at `now`: claims what is due, sends it, records outcomes.
    pub async fn run_once(&self, now: Timestamp) -> Result<DispatchReport, StoreError> {
        let lease_until = now.plus(self.cfg.lease);
        let due = self.store.claim_deliveries(&self.cfg.owner, now, lease_until, BATCH).await?;
        let mut report = DispatchReport::default();
        for d in due {
            let outcome = match self.send(&d).await {
                Ok(()) => {
                    report.delivered += 1;
                    Outcome::Delivered
                }
                Err(error) => {
                    report.failed += 1;
                    let attempts = u32::try_from(d.attempts).unwrap_or(0) + 1;
                    let retry_at = now.plus(retry_delay(attempts, &d.msg_id));
                    tracing::warn!(msg_id = %d.msg_id, target = ?target_name(&d.target), attempts, %error,
                        "alert delivery failed; will retry");
                    Outcome::Failed { error, retry_at }
                }
            };
            if !self.store.complete_delivery(d.id, &self.cfg.owner, &outcome, now).await? {
                tracing::warn!(msg_id = %d.msg_id, "lease of an alert delivery was taken over; outcome dropped");
            }
        }
        Ok(report)
    }

    async fn send(&self, d: &Delivery) -> Result<(), String> {
        match &d.target {
            Target::Webhook { url, secret, .. } => self.post(url, secret, d).await,
            Target::Mqtt => {
                let firm = d.firm_id.as_deref().ok_or("an MQTT alert needs a firm")?;
                let p = self.mqtt.as_ref().ok_or("no MQTT publisher in this process")?;
                p.publish(&alert_topic_of(firm), &d.body).await
            }
        }
    }

    async fn post(&self, url: &str, secret: &str, d: &Delivery) -> Result<(), String> {
        let ts = Timestamp::now().unix_seconds();
        let resp = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &d.msg_id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sign(secret, &d.msg_id, ts, &d.body))
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| format!("POST failed: {}", without_url(&e)))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("receiver answered {status}"))
        }
    }
}

fn alert_topic_of(firm: &str) -> String {
    crate::mqtt::alert_topic(firm)
}

fn target_name(t: &Target) -> String {
    match t {
        Target::Webhook { id, .. } => format!("webhook:{id}"),
        Target::Mqtt => "mqtt".into(),
    }
}

/// A reqwest error's text without the URL (it may carry credentials).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_request() {
        "request error"
    } else {
        "error"
    };
    let mut src = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = src {
        detail = s.to_string();
        src = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}
