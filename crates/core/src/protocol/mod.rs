//! Protocol v1 of the monitoring boxes: topic, device codes, event types,
//! the fault-code table, decoding with per-rule reasons, and encoding.

mod decode;
mod device;
mod encode;
mod event;
mod fault_code;
mod invalid;
mod scalar;
mod time;

#[cfg(test)]
mod tests;

pub use decode::{
    decode_message, decode_payload, parse_topic, Decoded, Rejected, MAX_EVENTS_PER_PAYLOAD, MAX_FUTURE_MICROS,
    MAX_ID_CHARS, MAX_PAYLOAD_BYTES,
};
pub use device::{topic_device, topic_for, DeviceCode, DeviceCodeError, TOPIC_FILTER};
pub use encode::{to_array_payload, to_payload, to_value};
pub use event::{Body, Event, EventId, Kind, Mode, Phase};
pub use fault_code::{Cause, FaultCode, FaultSpec, Grade, FAULT_TABLE, UNKNOWN_CODE_GRADE};
pub use invalid::{Invalid, KindPrefix};
pub use time::{parse_rfc3339, TimeError, Timestamp, MICROS_PER_MILLI, MICROS_PER_MINUTE, MICROS_PER_SEC};
