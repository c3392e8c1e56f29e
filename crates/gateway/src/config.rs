//! Gateway configuration.

use std::time::Duration;

/// How the gateway connects and batches.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// `mqtt://host:port` or `mqtts://host:port` (user:password@ allowed).
    pub mqtt_url: String,
    /// Fixed client id: the broker keeps this session's QoS 1 messages while
    /// the gateway is down (persistent session, no clean start).
    pub client_id: String,
    /// Shared-subscription group: gateways in one group split the load.
    pub share_group: String,
    /// Subscribe through the share group (default). Off for the embedded
    /// broker: one in-process gateway, and rumqttd 0.19 panics when a
    /// persistent client with a shared subscription disconnects.
    pub shared: bool,
    /// Prepended to `lift/v1/+/events` (tests and multi-tenant brokers);
    /// stripped from topics before decoding. Usually empty.
    pub topic_prefix: String,
    /// Flush a batch at this many events …
    pub batch_max_events: usize,
    /// … or this many messages …
    pub batch_max_messages: usize,
    /// … or when no message has arrived for this long (0 = flush as soon as
    /// the queue is momentarily empty: natural batching).
    pub linger: Duration,
    /// Messages buffered between the MQTT loop and the batcher (backpressure bound).
    pub queue_messages: usize,
    /// Store transactions in flight at once (each a whole batch).
    pub max_inflight_batches: usize,
    /// MQTT keep-alive.
    pub keep_alive: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            mqtt_url: "mqtt://127.0.0.1:1883".into(),
            client_id: "liftwatch-gateway".into(),
            share_group: "liftwatch".into(),
            shared: true,
            topic_prefix: String::new(),
            batch_max_events: 50_000,
            batch_max_messages: 1_000,
            linger: Duration::from_millis(0),
            queue_messages: 2_000,
            max_inflight_batches: 2,
            keep_alive: Duration::from_secs(30),
        }
    }
}

impl GatewayConfig {
    /// The subscription filter, e.g. `$share/liftwatch/lift/v1/+/events`.
    pub fn filter(&self) -> String {
        let topics = format!("{}{}", self.topic_prefix, liftwatch_core::protocol::TOPIC_FILTER);
        if self.shared {
            format!("$share/{}/{topics}", self.share_group)
        } else {
            topics
        }
    }
}
