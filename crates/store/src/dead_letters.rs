//! Dead letters: listing and replay after the cause is fixed.

use liftwatch_core::protocol::Timestamp;
use serde::Serialize;

use crate::IngestReport;

/// One dead letter as listed (api-v1.md "Dead letters").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetterRecord {
    /// Id (for replay).
    pub id: i64,
    /// When the gateway received it.
    pub received_at: Timestamp,
    /// MQTT topic.
    pub topic: String,
    /// Machine code of the reason.
    pub reason_code: String,
    /// Why it was rejected.
    pub reason: String,
    /// Raw payload (lossy UTF-8 when the payload was not UTF-8).
    pub payload: String,
}

/// Which dead letters.
#[derive(Clone, Debug, Default)]
pub struct DeadLetterFilter {
    /// Only this reason code.
    pub reason_code: Option<String>,
    /// Only this device.
    pub device: Option<String>,
    /// At most this many (default 100).
    pub limit: Option<i64>,
    /// Only received at or after this time.
    pub since: Option<Timestamp>,
    /// Only received before this time.
    pub until: Option<Timestamp>,
}

/// What a replay did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Dead letters taken.
    pub replayed: u64,
    /// What ingesting them did (new dead letters for those still invalid).
    pub ingest: IngestReport,
}
