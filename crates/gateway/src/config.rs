//! Gateway configuration: every default stated once, as a constant that the
//! CLI's help texts and the docs refer to.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Broker URL used when none is configured.
pub const DEFAULT_MQTT_URL: &str = "mqtt://127.0.0.1:1883";
/// Fixed MQTT client id: the broker keeps the session's messages under it.
pub const DEFAULT_CLIENT_ID: &str = "liftwatch-gateway";
/// Shared-subscription group of the gateways.
pub const DEFAULT_SHARE_GROUP: &str = "liftwatch";
/// A batch is flushed once it holds this many events (one message more can
/// cross it: a message is never split).
pub const DEFAULT_BATCH_MAX_EVENTS: usize = 50_000;
/// A batch is flushed once it holds this many MQTT messages.
pub const DEFAULT_BATCH_MAX_MESSAGES: usize = 1_000;
/// Milliseconds a small batch waits for more messages; 0 flushes as soon as
/// the queue is momentarily empty (natural batching, no timer latency).
pub const DEFAULT_BATCH_LINGER_MS: u64 = 0;
/// Messages buffered between the MQTT source and the batcher.
pub const DEFAULT_QUEUE_MESSAGES: usize = 2_000;
/// Store transactions (whole batches) in flight at once.
pub const DEFAULT_MAX_INFLIGHT_BATCHES: usize = 2;
/// MQTT keep-alive, seconds.
pub const DEFAULT_KEEP_ALIVE_SECS: u64 = 30;
/// Bytes (topic + payload) buffered between the MQTT source and the batcher:
/// with 1 MiB messages a count bound alone would let gigabytes in.
pub const DEFAULT_QUEUE_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// A batch is flushed once it holds this many bytes (topic + payload; one
/// message more can cross it: a message is never split).
pub const DEFAULT_BATCH_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// Transient store failures of one batch before it is split in halves (when
/// the store still answers): a message that keeps failing is isolated.
pub const DEFAULT_STORE_ATTEMPTS: u32 = 3;

/// How the gateway connects and batches.
///
/// `Debug` masks the password of `mqtt_url` (see [`redact_url`]).
#[derive(Clone)]
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
    /// Bytes (topic + payload) buffered between the MQTT loop and the batcher.
    pub queue_max_bytes: u64,
    /// Flush a batch at this many bytes (topic + payload).
    pub batch_max_bytes: u64,
    /// Transient store failures of a batch before it is split (at least 1).
    pub store_attempts: u32,
    // --- Security (issue 9, item 12) ---
    /// Broker user name (wins over one in `mqtt_url`).
    pub username: Option<String>,
    /// Its password (secret: masked in `Debug`).
    pub password: Option<String>,
    /// PEM roots the broker's certificate must chain to (`mqtts://` only);
    /// without one, the system's roots.
    pub ca_file: Option<PathBuf>,
    // --- end security ---
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            mqtt_url: DEFAULT_MQTT_URL.into(),
            client_id: DEFAULT_CLIENT_ID.into(),
            share_group: DEFAULT_SHARE_GROUP.into(),
            shared: true,
            topic_prefix: String::new(),
            batch_max_events: DEFAULT_BATCH_MAX_EVENTS,
            batch_max_messages: DEFAULT_BATCH_MAX_MESSAGES,
            linger: Duration::from_millis(DEFAULT_BATCH_LINGER_MS),
            queue_messages: DEFAULT_QUEUE_MESSAGES,
            max_inflight_batches: DEFAULT_MAX_INFLIGHT_BATCHES,
            keep_alive: Duration::from_secs(DEFAULT_KEEP_ALIVE_SECS),
            queue_max_bytes: DEFAULT_QUEUE_MAX_BYTES,
            batch_max_bytes: DEFAULT_BATCH_MAX_BYTES,
            store_attempts: DEFAULT_STORE_ATTEMPTS,
            username: None,
            password: None,
            ca_file: None,
        }
    }
}

impl fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let GatewayConfig {
            mqtt_url,
            client_id,
            share_group,
            shared,
            topic_prefix,
            batch_max_events,
            batch_max_messages,
            linger,
            queue_messages,
            max_inflight_batches,
            keep_alive,
            queue_max_bytes,
            batch_max_bytes,
            store_attempts,
            username,
            password,
            ca_file,
        } = self;
        f.debug_struct("GatewayConfig")
            .field("mqtt_url", &redact_url(mqtt_url))
            .field("client_id", client_id)
            .field("share_group", share_group)
            .field("shared", shared)
            .field("topic_prefix", topic_prefix)
            .field("batch_max_events", batch_max_events)
            .field("batch_max_messages", batch_max_messages)
            .field("linger", linger)
            .field("queue_messages", queue_messages)
            .field("max_inflight_batches", max_inflight_batches)
            .field("keep_alive", keep_alive)
            .field("queue_max_bytes", queue_max_bytes)
            .field("batch_max_bytes", batch_max_bytes)
            .field("store_attempts", store_attempts)
            .field("username", username)
            .field("password", &password.as_ref().map(|_| REDACTED))
            .field("ca_file", ca_file)
            .finish()
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

/// Placeholder written instead of a secret.
pub const REDACTED: &str = "***";

/// `url` with the password of its `user:password@` part replaced by `***`,
/// so that a URL can be shown in `Debug` output, logs and error messages
/// (`postgres://u:pw@h/db` → `postgres://u:***@h/db`). A URL without a
/// password is returned as it is. Works on text that does not parse as a
/// URL too: whatever sits between `://` and the last `@` before the host is
/// treated as the credentials.
pub fn redact_url(url: &str) -> Cow<'_, str> {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return Cow::Borrowed(url) };
    let rest = &url[scheme_end..];
    // The authority ends at the first '/', '?' or '#'; a password may contain
    // '@', so the credentials end at the last '@' of the authority.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return Cow::Borrowed(url) };
    let Some(colon) = rest[..at].find(':') else { return Cow::Borrowed(url) };
    Cow::Owned(format!("{}{}{REDACTED}{}", &url[..scheme_end], &rest[..=colon], &rest[at..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_masks_only_the_password() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("mqtt://u:p@ss:w@h:1883?x=1"), "mqtt://u:***@h:1883?x=1");
        assert_eq!(redact_url("mqtts://user@h:8883"), "mqtts://user@h:8883");
        assert_eq!(redact_url("mqtt://h:1883/a@b"), "mqtt://h:1883/a@b");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn debug_does_not_show_the_mqtt_password() {
        let cfg = GatewayConfig {
            mqtt_url: "mqtt://u:pw@h:1883".into(),
            username: Some("gw".into()),
            password: Some("secret-pass".into()),
            ..Default::default()
        };
        let text = format!("{cfg:?}");
        assert!(!text.contains("pw") && !text.contains("secret-pass"), "{text}");
        assert!(text.contains("password: Some(\"***\")"), "{text}");
        assert!(text.contains("mqtt://u:***@h:1883"), "{text}");
        assert!(text.contains("batch_max_events: 50000"), "{text}");
    }
}
