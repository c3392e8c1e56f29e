//! Device codes (设备代码) and the topic they are published on.

use std::fmt;

/// An elevator's registration code: 17 to 20 ASCII digits or upper-case
/// letters. Stored inline (no allocation) because every event carries one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceCode {
    len: u8,
    bytes: [u8; 20],
}

/// Why a string is not a device code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeviceCodeError {
    /// Wrong number of characters.
    #[error("has {0} characters; a device code has 17 to 20")]
    Length(usize),
    /// A character other than 0-9 or A-Z.
    #[error("contains {0:?}; a device code has only digits and upper-case letters A-Z")]
    Character(char),
}

impl DeviceCode {
    /// Shortest valid code.
    pub const MIN_LEN: usize = 17;
    /// Longest valid code.
    pub const MAX_LEN: usize = 20;

    /// Validates and wraps a device code.
    pub fn parse(s: &str) -> Result<Self, DeviceCodeError> {
        if let Some(c) = s.chars().find(|c| !(c.is_ascii_digit() || c.is_ascii_uppercase())) {
            return Err(DeviceCodeError::Character(c));
        }
        let n = s.len();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&n) {
            return Err(DeviceCodeError::Length(n));
        }
        let mut bytes = [0u8; 20];
        bytes[..n].copy_from_slice(s.as_bytes());
        Ok(DeviceCode { len: n as u8, bytes })
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored (checked in `parse`).
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Display for DeviceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceCode({})", self.as_str())
    }
}

impl std::str::FromStr for DeviceCode {
    type Err = DeviceCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceCode::parse(s)
    }
}

impl serde::Serialize for DeviceCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for DeviceCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        DeviceCode::parse(&s).map_err(|e| serde::de::Error::custom(format!("device code {s:?} {e}")))
    }
}

/// The topic filter the platform subscribes to (without share group or prefix).
pub const TOPIC_FILTER: &str = "lift/v1/+/events";

/// Extracts the device code from a topic `lift/v1/{device_code}/events`.
/// Returns `None` when the topic does not have that shape; the code itself is
/// validated by [`DeviceCode::parse`] so the caller can say what is wrong.
pub fn topic_device(topic: &str) -> Option<&str> {
    topic.strip_prefix("lift/v1/")?.strip_suffix("/events").filter(|c| !c.contains('/'))
}

/// The topic a box with this code publishes on.
pub fn topic_for(device: &DeviceCode) -> String {
    format!("lift/v1/{device}/events")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_17_to_20_digits_and_capitals() {
        assert!(DeviceCode::parse("31103302002018120").is_ok());
        assert_eq!(DeviceCode::parse("3110330200201812000A").unwrap().as_str(), "3110330200201812000A");
    }

    #[test]
    fn rejects_bad_codes_with_reasons() {
        assert_eq!(DeviceCode::parse("3110330200201812"), Err(DeviceCodeError::Length(16)));
        assert_eq!(DeviceCode::parse("311033020020181200011"), Err(DeviceCodeError::Length(21)));
        assert_eq!(DeviceCode::parse("3110330200201812000a"), Err(DeviceCodeError::Character('a')));
        assert_eq!(DeviceCode::parse("31103302002018-12000"), Err(DeviceCodeError::Character('-')));
        assert_eq!(DeviceCode::parse("3110330200201812000é"), Err(DeviceCodeError::Character('é')));
    }

    #[test]
    fn topic_shape() {
        assert_eq!(topic_device("lift/v1/31103302002018120001/events"), Some("31103302002018120001"));
        assert_eq!(topic_device("lift/v2/31103302002018120001/events"), None);
        assert_eq!(topic_device("lift/v1/a/b/events"), None);
        assert_eq!(topic_device("lift/v1/x/status"), None);
        let d = DeviceCode::parse("31103302002018120001").unwrap();
        assert_eq!(topic_device(&topic_for(&d)), Some(d.as_str()));
    }
}
