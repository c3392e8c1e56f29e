//! Alerts: webhook subscriptions and the durable outbox of finding events
//! (issue 10, "Alerts"). The rule engine enqueues an event in the same
//! transaction that changes a finding; a dispatcher (`liftwatch-alerts`)
//! claims due deliveries, sends them and records the outcome.
//!
//! Guarantees the store gives the dispatcher:
//! - **at least once**: a delivery stays due until [`crate::port::Alerts::complete_delivery`]
//!   says it was accepted; a dispatcher that dies mid-send leaves its lease
//!   to expire and the delivery is sent again, with the same message id;
//! - **not twice because two processes raced**: a claim leases the delivery
//!   (`FOR UPDATE SKIP LOCKED`, then a lease until a deadline); a second
//!   dispatcher never claims a leased delivery, and a completion by a
//!   dispatcher whose lease was taken over is ignored;
//! - **in order per subject**: a delivery is claimable only when every
//!   earlier event of the same subject (finding) for the same target has
//!   been delivered.

use liftwatch_core::protocol::Timestamp;
use serde::Serialize;

/// A webhook as written by `PUT /api/v1/webhooks/{id}`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSpec {
    /// Id chosen by the caller.
    pub id: String,
    /// `https://…` (or `http://…`) receiver.
    pub url: String,
    /// Signing secret (Standard Webhooks); never read back through the API.
    pub secret: String,
    /// Only findings of this firm; `None`: every finding (regulators only).
    pub firm_id: Option<String>,
    /// Only these actions (`notice`, `rectify`, …); `None`: all.
    pub actions: Option<Vec<String>>,
    /// Who owns it: `regulator` or `firm:{id}`; each owner has its own ids.
    pub owner: String,
}

impl std::fmt::Debug for WebhookSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSpec")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("firm_id", &self.firm_id)
            .field("actions", &self.actions)
            .field("owner", &self.owner)
            .finish()
    }
}

/// A stored webhook (the secret is not part of it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Webhook {
    /// Id.
    pub id: String,
    /// Receiver.
    pub url: String,
    /// Only findings of this firm; absent: every finding.
    pub firm_id: Option<String>,
    /// Only these actions; absent: all.
    pub actions: Option<Vec<String>>,
    /// `regulator` or `firm:{id}`.
    pub owner: String,
    /// Deliveries not yet accepted by the receiver.
    pub pending: i64,
    /// The last error of a pending delivery, if any.
    pub last_error: Option<String>,
}

/// An event to announce: a finding opened, escalated or resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAlert {
    /// Stable message id (`webhook-id`), the same on every retry and target.
    pub msg_id: String,
    /// `finding.opened`, `finding.escalated` or `finding.resolved`.
    pub kind: String,
    /// What the events are about (the finding id): delivered in order.
    pub subject: String,
    /// The finding's firm (selects firm-scoped webhooks and the MQTT topic).
    pub firm_id: Option<String>,
    /// The finding's action (selects webhooks with an action filter).
    pub action: String,
    /// The exact JSON body sent (`{"type", "timestamp", "data"}`).
    pub body: String,
}

/// Where a delivery goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A webhook, with its URL and secret.
    Webhook {
        /// Webhook (`owner/id`).
        id: String,
        /// URL.
        url: String,
        /// Secret.
        secret: String,
    },
    /// The MQTT topic `liftwatch/v1/alerts/{firm_id}`.
    Mqtt,
}

/// A claimed delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Row id.
    pub id: i64,
    /// Target.
    pub target: Target,
    /// Message id (`webhook-id`).
    pub msg_id: String,
    /// Event type.
    pub kind: String,
    /// Subject (finding id).
    pub subject: String,
    /// The finding's firm.
    pub firm_id: Option<String>,
    /// Body.
    pub body: String,
    /// Attempts before this one.
    pub attempts: i32,
    /// When the event was enqueued.
    pub created_at: Timestamp,
}

/// Outcome of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver accepted it (2xx, or PUBACK).
    Delivered,
    /// Failed; try again at `retry_at`.
    Failed {
        /// What went wrong (kept for the operator).
        error: String,
        /// Next attempt.
        retry_at: Timestamp,
    },
}

/// Outbox figures for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxStatus {
    /// Deliveries not yet accepted.
    pub pending: i64,
    /// Age in seconds of the oldest pending delivery (0 when none).
    pub oldest_pending_secs: i64,
}
