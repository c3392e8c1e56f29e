//! Why a payload or one of its events was refused: every protocol rule has
//! its own variant, machine code and human reason (dead letters keep both).

use std::fmt;

use super::device::DeviceCodeError;
use super::event::Kind;
use super::time::TimeError;

/// Why a payload or an event was rejected. Each variant is one rule of the
/// protocol; [`Invalid::code`] is a stable machine code (metrics label,
/// dead-letter filter) and `Display` the sentence an operator reads.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// The topic is not `lift/v1/{device_code}/events`.
    #[error("topic {0:?} is not lift/v1/{{device_code}}/events")]
    BadTopic(String),
    /// The topic's device code is malformed.
    #[error("device code {code:?} in the topic {problem}")]
    BadTopicDevice {
        /// As found in the topic.
        code: String,
        /// What is wrong with it.
        problem: DeviceCodeError,
    },
    /// Payload over 256 KiB.
    #[error("payload is {0} bytes; at most 262144 (256 KiB) are allowed")]
    TooLarge(usize),
    /// Payload is not UTF-8.
    #[error("payload is not UTF-8 (invalid byte at offset {0})")]
    NotUtf8(usize),
    /// Payload is not JSON.
    #[error("payload is not valid JSON: {0}")]
    NotJson(String),
    /// Payload is JSON but neither an object nor an array.
    #[error("payload is a JSON {0}; expected one event object or an array of 1 to 1000 event objects")]
    NotObjectOrArray(&'static str),
    /// `[]`.
    #[error("payload is an empty array; an array must hold 1 to 1000 events")]
    EmptyArray,
    /// More than 1000 events.
    #[error("payload is an array of {0} events; at most 1000 are allowed")]
    TooManyEvents(usize),
    /// An array element that is not an object.
    #[error("event is a JSON {0}, not an object")]
    NotObject(&'static str),
    /// A required field is absent (or `null`).
    #[error("{kind}field `{field}` is missing")]
    Missing {
        /// Field name.
        field: &'static str,
        /// `"fault event: "` style prefix, or empty for envelope fields.
        kind: KindPrefix,
    },
    /// A field has the wrong JSON type.
    #[error("field `{field}` is {found}; it must be {expected}")]
    WrongType {
        /// Field name.
        field: &'static str,
        /// What the protocol says it is.
        expected: &'static str,
        /// What was found.
        found: &'static str,
    },
    /// The same known field twice in one object.
    #[error("field `{0}` appears more than once")]
    Duplicate(&'static str),
    /// `v` is not 1.
    #[error("protocol version v={0} is not supported; this endpoint speaks v=1")]
    Version(String),
    /// `device` is malformed.
    #[error("device {code:?} {problem}")]
    BadDevice {
        /// As sent.
        code: String,
        /// What is wrong.
        problem: DeviceCodeError,
    },
    /// `device` differs from the topic's code.
    #[error("device {device:?} differs from the topic's device code {topic:?}")]
    DeviceMismatch {
        /// The event's `device`.
        device: String,
        /// The topic's code.
        topic: String,
    },
    /// `seq` outside `0 ≤ seq < 2^63`.
    #[error("seq {0} is out of range; it must be 0 ≤ seq < 2^63")]
    SeqRange(String),
    /// A timestamp field is not RFC 3339 with offset.
    #[error("{field} {value:?} {problem}")]
    BadTime {
        /// `ts` or `end`.
        field: &'static str,
        /// As sent.
        value: String,
        /// What is wrong.
        problem: TimeError,
    },
    /// `ts` more than 5 minutes ahead of the platform clock.
    #[error("ts is {ts}, more than 5 minutes ahead of the platform clock ({now})")]
    Future {
        /// As sent.
        ts: String,
        /// Platform clock, RFC 3339 UTC.
        now: String,
    },
    /// `ts` before the protocol floor (2010-01-01T00:00:00Z): a box clock that reset.
    #[error("ts is {ts}, before {floor}, the earliest time protocol v1 accepts")]
    TooOld {
        /// As sent.
        ts: String,
        /// The floor, RFC 3339 UTC.
        floor: &'static str,
    },
    /// `type` is not one of the protocol's.
    #[error("type {0:?} is not a protocol v1 event type (run, fault, fault_cleared, entrapment, rescue_arrived, released, maintenance, heartbeat, counter)")]
    UnknownType(String),
    /// An enumerated field has a value outside its list.
    #[error("{field} {value:?} is not one of: {}", allowed.join(", "))]
    NotAllowed {
        /// Field name.
        field: &'static str,
        /// As sent.
        value: String,
        /// The protocol's values.
        allowed: &'static [&'static str],
    },
    /// An id outside 1–64 characters, or an empty string field.
    #[error("{field} has {len} characters; it must have {min} to {max}")]
    Length {
        /// Field name.
        field: &'static str,
        /// Characters found.
        len: usize,
        /// Minimum.
        min: usize,
        /// Maximum.
        max: usize,
    },
    /// An empty string where the protocol needs a value.
    #[error("{0} is an empty string")]
    Empty(&'static str),
    /// A string holding U+0000.
    #[error("{0} contains the character U+0000, which cannot be stored")]
    Nul(&'static str),
    /// An integer out of the range the field allows.
    #[error("{field} {value} is out of range ({range})")]
    Range {
        /// Field name.
        field: &'static str,
        /// As sent.
        value: String,
        /// The allowed range, in words.
        range: &'static str,
    },
    /// A run that ends before it starts.
    #[error("run end {end} is before its start ts {ts}")]
    EndBeforeStart {
        /// As sent.
        ts: String,
        /// As sent.
        end: String,
    },
    /// The device is not registered with the platform (checked by the gateway).
    #[error("device {0} is not registered")]
    UnknownDevice(String),
}
/// Prefix naming the event type in "missing field" messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindPrefix(pub Option<Kind>);
impl fmt::Display for KindPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(k) => write!(f, "{} event: ", k.as_str()),
            None => Ok(()),
        }
    }
}
impl Invalid {
    /// Stable machine code of the rule broken (metrics label, API filter).
    pub fn code(&self) -> &'static str {
        match self {
            Invalid::BadTopic(_) | Invalid::BadTopicDevice { .. } => "bad_topic",
            Invalid::TooLarge(_) => "payload_too_large",
            Invalid::NotUtf8(_) => "not_utf8",
            Invalid::NotJson(_) => "not_json",
            Invalid::NotObjectOrArray(_) | Invalid::NotObject(_) => "not_object",
            Invalid::EmptyArray | Invalid::TooManyEvents(_) => "bad_array",
            Invalid::Missing { .. } => "missing_field",
            Invalid::WrongType { .. } => "wrong_type",
            Invalid::Duplicate(_) => "duplicate_field",
            Invalid::Version(_) => "unsupported_version",
            Invalid::BadDevice { .. } => "bad_device",
            Invalid::DeviceMismatch { .. } => "device_mismatch",
            Invalid::SeqRange(_) => "seq_out_of_range",
            Invalid::BadTime { .. } => "bad_timestamp",
            Invalid::Future { .. } => "ts_in_future",
            Invalid::TooOld { .. } => "ts_too_old",
            Invalid::UnknownType(_) => "unknown_type",
            Invalid::NotAllowed { .. } => "bad_value",
            Invalid::Length { .. } | Invalid::Empty(_) => "bad_length",
            Invalid::Nul(_) => "bad_character",
            Invalid::Range { .. } => "out_of_range",
            Invalid::EndBeforeStart { .. } => "end_before_start",
            Invalid::UnknownDevice(_) => "unknown_device",
        }
    }

    /// Every machine code, for pre-registering metric labels.
    pub const CODES: &'static [&'static str] = &[
        "bad_topic",
        "payload_too_large",
        "not_utf8",
        "not_json",
        "not_object",
        "bad_array",
        "missing_field",
        "wrong_type",
        "duplicate_field",
        "unsupported_version",
        "bad_device",
        "device_mismatch",
        "seq_out_of_range",
        "bad_timestamp",
        "ts_in_future",
        "ts_too_old",
        "unknown_type",
        "bad_value",
        "bad_length",
        "bad_character",
        "out_of_range",
        "end_before_start",
        "unknown_device",
    ];
}
