//! Device codes and fixed times, so that every test names elevator 3 and
//! "the platform's now" the same way.
#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;
use liftwatch_core::protocol::{parse_rfc3339, DeviceCode, Timestamp};

/// The 20-digit code of test elevator `n` (`n` < 100,000): `311033020020181`
/// followed by `n` in five digits. Elevators of a test are `dev(0)`,
/// `dev(1)`, …; an unregistered one is conventionally a high number (`dev(99)`).
pub fn dev_code(n: u32) -> String {
    assert!(n < 100_000, "test device numbers have five digits, got {n}");
    format!("311033020020181{n:05}")
}

/// Test elevator `n` as a [`DeviceCode`] (see [`dev_code`]).
pub fn dev(n: u32) -> DeviceCode {
    DeviceCode::parse(&dev_code(n)).unwrap()
}

/// Elevators `0..n`.
pub fn devs(n: u32) -> Vec<DeviceCode> {
    (0..n).map(dev).collect()
}

/// Parses an RFC 3339 time (panics on a typo in the test).
pub fn t(s: &str) -> Timestamp {
    parse_rfc3339(s).unwrap().0
}

/// Parses a `YYYY-MM-DD` day.
pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The fixed platform clock of the store and API tests,
/// 2026-11-28T12:00:00+08:00: every fixture event lies before it, and the
/// rolling KPI window "at 2026-11-28" ends the day before.
pub fn now() -> Timestamp {
    t("2026-11-28T12:00:00+08:00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_valid_and_distinct() {
        assert_eq!(dev(7).as_str(), "31103302002018100007");
        assert_ne!(dev(1), dev(10));
        assert_eq!(devs(3), vec![dev(0), dev(1), dev(2)]);
    }
}
