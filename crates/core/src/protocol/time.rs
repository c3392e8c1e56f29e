//! Timestamps: a fast, allocation-free RFC 3339 parser and the instant type
//! the rest of the core works with.
//!
//! Protocol v1 timestamps are RFC 3339 with an offset. The identity of an
//! event includes `ts`, so two spellings of the same instant
//! (`08:00:01.120+08:00` and `00:00:01.12Z`) must compare equal: we keep the
//! instant as microseconds since the Unix epoch (PostgreSQL's `timestamptz`
//! resolution) and the offset only for display. Digits finer than a
//! microsecond are truncated.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// An instant, in microseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// Microseconds in one millisecond, second, minute.
pub const MICROS_PER_MILLI: i64 = 1_000;
/// Microseconds in one second.
pub const MICROS_PER_SEC: i64 = 1_000_000;
/// Microseconds in one minute.
pub const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SEC;

impl Timestamp {
    /// Microseconds since the epoch.
    pub fn micros(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(MICROS_PER_SEC)
    }

    /// This instant plus `d` (saturating).
    pub fn plus(self, d: std::time::Duration) -> Self {
        Timestamp(self.0.saturating_add(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)))
    }

    /// From a chrono date-time (any zone).
    pub fn from_datetime<Z: TimeZone>(dt: &DateTime<Z>) -> Self {
        Timestamp(dt.timestamp_micros())
    }

    /// The current wall-clock time. Only adapters call this; the core takes
    /// the clock as a parameter so that rules are testable at exact edges.
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_micros())
    }

    /// As a UTC chrono date-time.
    pub fn to_utc(self) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_micros(self.0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The local calendar day of this instant in `tz`: the day an event is
    /// attributed to.
    pub fn local_day(self, tz: Tz) -> NaiveDate {
        self.to_utc().with_timezone(&tz).date_naive()
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-11-28T00:00:01.120000Z`.
    pub fn to_rfc3339(self) -> String {
        self.to_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    }

    /// RFC 3339 at a fixed offset (seconds east of UTC).
    pub fn to_rfc3339_at(self, offset_secs: i32) -> String {
        let off = FixedOffset::east_opt(offset_secs).unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"));
        self.to_utc().with_timezone(&off).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    }

    /// Parses RFC 3339; see [`parse_rfc3339`].
    pub fn parse(s: &str) -> Result<(Timestamp, i32), TimeError> {
        parse_rfc3339(s)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

/// The OpenAPI schema: RFC 3339 (`string`, format `date-time`), as serialised.
#[cfg(feature = "schema")]
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
        utoipa::openapi::RefOr::T(Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                .description(Some("RFC 3339, in UTC with microseconds"))
                .build(),
        ))
    }
}

#[cfg(feature = "schema")]
impl utoipa::ToSchema for Timestamp {}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse_rfc3339(&s).map(|(t, _)| t).map_err(|e| serde::de::Error::custom(format!("{s:?} {e}")))
    }
}

/// Why a timestamp string is not RFC 3339.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The text does not have the shape `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
    #[error("is not RFC 3339 (expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or ±HH:MM)")]
    Shape,
    /// The offset (`Z` or `±HH:MM`) is missing.
    #[error("has no UTC offset (append Z or ±HH:MM)")]
    NoOffset,
    /// A component is out of its range (month 13, day 31 in April, hour 24 …).
    #[error("has {0} out of range")]
    Range(&'static str),
}

#[inline]
fn digits2(b: &[u8], i: usize) -> Option<u32> {
    let (x, y) = (b.get(i)?.wrapping_sub(b'0'), b.get(i + 1)?.wrapping_sub(b'0'));
    (x < 10 && y < 10).then(|| (x * 10 + y) as u32)
}

/// Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian;
/// H. Hinnant's `days_from_civil`).
#[inline]
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses an RFC 3339 date-time with offset into the instant and the offset
/// in seconds east of UTC. Accepts `T`/`t`/space as separator, `Z`/`z`, any
/// number of fraction digits (truncated to microseconds), and a leap second
/// `:60` (counted as the next second). Never panics, never allocates.
pub fn parse_rfc3339(s: &str) -> Result<(Timestamp, i32), TimeError> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return Err(TimeError::Shape);
    }
    let yh = digits2(b, 0).ok_or(TimeError::Shape)?;
    let yl = digits2(b, 2).ok_or(TimeError::Shape)?;
    let year = (yh * 100 + yl) as i64;
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return Err(TimeError::Shape);
    }
    let month = digits2(b, 5).ok_or(TimeError::Shape)?;
    let day = digits2(b, 8).ok_or(TimeError::Shape)?;
    let hour = digits2(b, 11).ok_or(TimeError::Shape)?;
    let minute = digits2(b, 14).ok_or(TimeError::Shape)?;
    let second = digits2(b, 17).ok_or(TimeError::Shape)?;
    if !(1..=12).contains(&month) {
        return Err(TimeError::Range("the month"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(TimeError::Range("the day of the month"));
    }
    if hour > 23 {
        return Err(TimeError::Range("the hour"));
    }
    if minute > 59 {
        return Err(TimeError::Range("the minute"));
    }
    if second > 60 {
        return Err(TimeError::Range("the second"));
    }
    let mut i = 19;
    let mut micros: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            if i - start < 6 {
                micros = micros * 10 + (c - b'0') as i64;
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return Err(TimeError::Shape);
        }
        for _ in n..6 {
            micros *= 10;
        }
    }
    let offset_secs: i32 = match b.get(i) {
        None => return Err(TimeError::NoOffset),
        Some(b'Z' | b'z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits2(b, i + 1).ok_or(TimeError::Shape)?;
            if b.get(i + 3) != Some(&b':') {
                return Err(TimeError::Shape);
            }
            let om = digits2(b, i + 4).ok_or(TimeError::Shape)?;
            if oh > 23 || om > 59 {
                return Err(TimeError::Range("the UTC offset"));
            }
            i += 6;
            let v = (oh * 3600 + om * 60) as i32;
            if sign == b'-' {
                -v
            } else {
                v
            }
        }
        Some(_) => return Err(TimeError::Shape),
    };
    if i != b.len() {
        return Err(TimeError::Shape);
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + (hour * 3600 + minute * 60 + second) as i64 - offset_secs as i64;
    Ok((Timestamp(secs * MICROS_PER_SEC + micros), offset_secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Timestamp {
        parse_rfc3339(s).expect(s).0
    }

    #[test]
    fn same_instant_in_two_spellings_is_equal() {
        assert_eq!(p("2026-11-28T08:00:01.120+08:00"), p("2026-11-28T00:00:01.12Z"));
        assert_eq!(p("2026-11-28T08:00:01.120+08:00"), p("2026-11-28t00:00:01.120000z"));
    }

    #[test]
    fn agrees_with_chrono() {
        for s in [
            "2026-11-28T08:00:01.120+08:00",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999999Z",
            "2000-02-29T12:34:56.789-05:30",
            "2026-11-28T08:03:10+08:00",
            "2100-12-31T23:59:59.5+14:00",
        ] {
            let c = DateTime::parse_from_rfc3339(s).expect(s);
            assert_eq!(p(s).0, c.timestamp_micros(), "{s}");
            assert_eq!(parse_rfc3339(s).unwrap().1, c.offset().local_minus_utc(), "{s}");
        }
    }

    #[test]
    fn fraction_finer_than_micros_is_truncated() {
        assert_eq!(p("2026-01-01T00:00:00.123456789Z").0 % MICROS_PER_SEC, 123_456);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(parse_rfc3339("2026-11-28T08:00:01"), Err(TimeError::NoOffset));
        assert_eq!(parse_rfc3339("2026-11-28"), Err(TimeError::Shape));
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), Err(TimeError::Range("the month")));
        assert_eq!(parse_rfc3339("2026-02-29T00:00:00Z"), Err(TimeError::Range("the day of the month")));
        assert_eq!(parse_rfc3339("2026-04-31T00:00:00Z"), Err(TimeError::Range("the day of the month")));
        assert_eq!(parse_rfc3339("2026-01-01T24:00:00Z"), Err(TimeError::Range("the hour")));
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00.Z"), Err(TimeError::Shape));
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00+0800"), Err(TimeError::Shape));
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00Zjunk"), Err(TimeError::Shape));
        assert_eq!(parse_rfc3339("１２３"), Err(TimeError::Shape));
        assert!(parse_rfc3339("").is_err());
    }

    #[test]
    fn local_day_uses_the_zone() {
        let t = p("2026-11-27T16:30:00Z");
        assert_eq!(t.local_day(chrono_tz::Asia::Shanghai), NaiveDate::from_ymd_opt(2026, 11, 28).unwrap());
        assert_eq!(t.local_day(chrono_tz::UTC), NaiveDate::from_ymd_opt(2026, 11, 27).unwrap());
    }
}
