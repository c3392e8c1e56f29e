//! Alert delivery: findings to webhooks and MQTT, from the store's durable
//! outbox ([`liftwatch_store::alerts`]).
//!
//! ```text
//! rule engine ──(same tx as the finding)──► alert_outbox ─► alert_deliveries
//!                                                             │ lease (SKIP LOCKED)
//!                       Dispatcher (leader only) ◄────────────┘
//!                         ├─ POST url, Standard Webhooks headers ─► 2xx: delivered
//!                         └─ MQTT liftwatch/v1/alerts/{firm}, QoS 1 ─► PUBACK: delivered
//!                       otherwise: retry later (exponential backoff), same webhook-id
//! ```
//!
//! Delivery is at least once, in order per finding; a receiver deduplicates
//! by `webhook-id`. Two dispatchers never send the same delivery at the same
//! time (leases), and normally only the leader dispatches at all.

pub mod backoff;
mod dispatcher;
mod mqtt;
pub mod sign;

pub use dispatcher::{DispatchReport, Dispatcher, DispatcherConfig, Publisher, DEFAULT_HTTP_TIMEOUT, DEFAULT_LEASE};
pub use mqtt::{alert_topic, MqttPublisher};
