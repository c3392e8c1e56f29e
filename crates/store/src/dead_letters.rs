//! Dead letters: listing, replay after the cause is fixed, and what makes a
//! dead letter always writable and bounded (issue 9, items 6, 9, 15):
//! - text a store cannot hold is escaped ([`storable_text`]: PostgreSQL text
//!   refuses U+0000), so writing a dead letter never fails because of the
//!   message itself;
//! - a payload over [`DEAD_LETTER_PAYLOAD_MAX`] is kept truncated, with its
//!   original size ([`DeadLetterRecord::payload_bytes`]);
//! - the same (topic, reason code, payload) pending again is kept once, with
//!   a count ([`DeadLetterRecord::seen_count`]);
//! - retention and a total size cap are enforced by pruning, oldest first
//!   ([`DeadLetterPolicy`]).

use std::borrow::Cow;

use liftwatch_core::protocol::{Timestamp, MAX_PAYLOAD_BYTES};
use serde::Serialize;

/// Payload bytes a dead letter keeps: the protocol's payload limit, so every
/// payload that could ever become valid is kept whole (and can be replayed);
/// only an oversize one is cut (its original size is recorded).
pub const DEAD_LETTER_PAYLOAD_MAX: usize = MAX_PAYLOAD_BYTES;

/// Bytes of a dead letter's topic or reason text kept (an MQTT topic can be
/// 64 KiB; a reason quotes input).
pub const DEAD_LETTER_TEXT_MAX: usize = 4096;

/// `s` as text any store can hold: U+0000 written as the six characters
/// `\u0000`, cut to at most `max` bytes on a character boundary (with `…`
/// marking the cut).
pub fn storable_text(s: &str, max: usize) -> Cow<'_, str> {
    let escaped: Cow<'_, str> =
        if s.contains('\0') { Cow::Owned(s.replace('\0', "\\u0000")) } else { Cow::Borrowed(s) };
    if escaped.len() <= max {
        return escaped;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !escaped.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &escaped[..end]))
}

/// The part of a payload a dead letter keeps (see [`DEAD_LETTER_PAYLOAD_MAX`]).
pub fn stored_payload(payload: &[u8]) -> &[u8] {
    &payload[..payload.len().min(DEAD_LETTER_PAYLOAD_MAX)]
}

/// How long and how much dead letters are kept; enforced by
/// [`crate::DeadLetters::prune_dead_letters`], oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeadLetterPolicy {
    /// Rows last seen before this are deleted.
    pub keep_since: Timestamp,
    /// Rows beyond this many bytes (topic + reason + stored payload, newest
    /// kept first) are deleted.
    pub max_bytes: u64,
}

/// What a prune deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Rows deleted for their age.
    pub expired: u64,
    /// Rows deleted to bring the total under the size cap.
    pub over_cap: u64,
}

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
    /// Raw payload (lossy UTF-8 when the payload was not UTF-8), truncated
    /// when it was longer than [`DEAD_LETTER_PAYLOAD_MAX`].
    pub payload: String,
    /// Size of the payload as received (larger than `payload` when truncated).
    pub payload_bytes: i64,
    /// Times this same message (topic, reason code, payload) was refused.
    pub seen_count: i64,
    /// When it was last received.
    pub last_seen_at: Timestamp,
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

/// One dead letter to write (both adapters write it the same way).
pub(crate) struct Letter<'a> {
    /// When the message was received.
    pub received_at: Timestamp,
    /// Its topic, as received.
    pub topic: &'a str,
    /// The device of the topic, when it names one.
    pub device: Option<liftwatch_core::protocol::DeviceCode>,
    /// Reason code.
    pub code: &'a str,
    /// Reason, for a person.
    pub reason: &'a str,
    /// The refused bytes, whole.
    pub payload: &'a [u8],
}

impl<'a> Letter<'a> {
    /// A dead letter the core sorted out of a batch.
    pub(crate) fn of_row(d: &'a liftwatch_core::ingest::DeadLetterRow<'a>) -> Letter<'a> {
        Letter {
            received_at: d.received_at,
            topic: d.topic,
            device: d.device,
            code: d.code,
            reason: &d.reason,
            payload: &d.payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A NUL (refused by PostgreSQL text) is escaped; other text is untouched.
    #[test]
    fn nul_is_escaped() {
        assert_eq!(storable_text("lift/v1/a\0b/events", 100), "lift/v1/a\\u0000b/events");
        assert!(matches!(storable_text("plain", 100), Cow::Borrowed("plain")));
    }

    /// Long text is cut on a character boundary, marked, within the bound.
    #[test]
    fn long_text_is_cut_within_the_bound() {
        let s = "é".repeat(100);
        let cut = storable_text(&s, 11);
        assert!(cut.len() <= 11, "{cut}");
        assert!(cut.ends_with('…'));
        assert_eq!(storable_text("abc", 3), "abc");
    }

    /// Payloads up to the protocol limit are kept whole, larger ones cut.
    #[test]
    fn payloads_over_the_protocol_limit_are_cut() {
        let big = vec![b'x'; DEAD_LETTER_PAYLOAD_MAX + 10];
        assert_eq!(stored_payload(&big).len(), DEAD_LETTER_PAYLOAD_MAX);
        assert_eq!(stored_payload(b"[]"), b"[]");
    }
}
