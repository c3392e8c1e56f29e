//! Request parameters shared by the handlers: pagination, ids and device
//! codes from the path, days and times from bodies and queries, the KPI
//! window, date ranges and the filter of the regulator-record lists. Every
//! refusal here is a 400 naming the parameter and the rule.

use chrono::NaiveDate;
use liftwatch_core::protocol::{parse_rfc3339, DeviceCode, Timestamp, MICROS_PER_MINUTE};
use liftwatch_core::validation::check_resource_id;
use liftwatch_core::window::Window;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, ApiResult};
use crate::ApiState;

/// Pagination of list endpoints.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Page {
    /// At most this many (1–1000, default 100).
    pub limit: Option<i64>,
    /// Skip this many (default 0).
    pub offset: Option<i64>,
}

impl Page {
    /// Validated `(limit, offset)`.
    pub fn get(&self) -> ApiResult<(i64, i64)> {
        let limit = self.limit.unwrap_or(100);
        let offset = self.offset.unwrap_or(0);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::bad_request(format!("limit {limit} must be between 1 and 1000")));
        }
        if offset < 0 {
            return Err(ApiError::bad_request(format!("offset {offset} must not be negative")));
        }
        Ok((limit, offset))
    }
}

/// Validates a resource id from the path (`kind` is `firm`, `project`, …):
/// the core's rule ([`check_resource_id`]).
pub fn check_id(kind: &str, id: &str) -> ApiResult<()> {
    Ok(check_resource_id(&format!("{kind}_id"), id)?)
}

/// Validates a device code from the path.
pub fn device(code: &str) -> ApiResult<DeviceCode> {
    DeviceCode::parse(code).map_err(|e| ApiError::bad_request(format!("device code {code:?} {e}")))
}

/// A device code of a request body (`device_code`), optional.
pub fn opt_device(v: Option<&str>) -> ApiResult<Option<DeviceCode>> {
    v.map(body_device).transpose()
}

/// A device code of a request body (`device_code`).
pub fn body_device(v: &str) -> ApiResult<DeviceCode> {
    device(v).map_err(|e| ApiError::bad_request(format!("device_code: {}", e.message)))
}

/// A day `YYYY-MM-DD`.
pub fn parse_day(field: &str, s: &str) -> ApiResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_request(format!("{field} {s:?} is not a date of the form YYYY-MM-DD")))
}

/// A day that has already come (in the configured zone).
pub fn past_day(s: &ApiState, field: &str, v: &str) -> ApiResult<NaiveDate> {
    let d = parse_day(field, v)?;
    let today = s.today();
    if d > today {
        return Err(ApiError::bad_request(format!("{field} {d} is in the future (today is {today})")));
    }
    Ok(d)
}

/// How far in the future a reported time may lie (clock skew of field devices).
const MAX_FUTURE_MICROS: i64 = 5 * MICROS_PER_MINUTE;

/// An RFC 3339 time at most 5 minutes ahead of now.
pub fn past_time(s: &ApiState, field: &str, v: &str) -> ApiResult<Timestamp> {
    let (t, _) = parse_rfc3339(v).map_err(|e| ApiError::bad_request(format!("{field} {v:?} {e}")))?;
    let now = (s.clock)();
    if t.0 > now.0 + MAX_FUTURE_MICROS {
        return Err(ApiError::bad_request(format!(
            "{field} {v} is more than 5 minutes in the future (now is {})",
            now.to_rfc3339()
        )));
    }
    Ok(t)
}

/// Which window: `at` (rolling 6 months ending the day before; default today) or `half` (`2026H1`).
#[derive(Debug, Deserialize, IntoParams)]
pub struct WindowQuery {
    /// Evaluation day (`YYYY-MM-DD`): the window is the 6 calendar months before it.
    pub at: Option<String>,
    /// A calendar half-year, `YYYYH1` or `YYYYH2`.
    pub half: Option<String>,
    /// Project answers: also list each elevator's figures (`per_elevator`).
    /// Off by default: at 10,000 elevators it triples the query time.
    pub per_elevator: Option<bool>,
}

impl WindowQuery {
    /// The window asked for, `today` being the default evaluation day.
    pub fn window(&self, today: NaiveDate) -> ApiResult<Window> {
        match (&self.at, &self.half) {
            (Some(_), Some(_)) => Err(ApiError::bad_request("give either at= or half=, not both")),
            (None, Some(h)) => Window::parse_half(h).map_err(|e| ApiError::bad_request(e.to_string())),
            (at, None) => {
                let day = at.as_deref().map(|s| parse_day("at", s)).transpose()?.unwrap_or(today);
                Window::rolling(day).map_err(|e| ApiError::bad_request(e.to_string()))
            }
        }
    }
}

/// A date range (both ends required).
#[derive(Debug, Deserialize, IntoParams)]
pub struct RangeQuery {
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day, inclusive (at most 400 days after `from`).
    pub to: String,
}

/// A range of local days (either end optional) with pagination.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DayRangeQuery {
    /// First day, `YYYY-MM-DD` (optional).
    pub from: Option<String>,
    /// Last day, inclusive, `YYYY-MM-DD` (optional).
    pub to: Option<String>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<i64>,
    /// Skip this many (default 0).
    pub offset: Option<i64>,
}

impl DayRangeQuery {
    /// Validated `(from, to, limit, offset)`.
    pub fn get(&self) -> ApiResult<(Option<NaiveDate>, Option<NaiveDate>, i64, i64)> {
        let from = self.from.as_deref().map(|v| parse_day("from", v)).transpose()?;
        let to = self.to.as_deref().map(|v| parse_day("to", v)).transpose()?;
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Err(ApiError::bad_request(format!("from {f} is after to {t}")));
            }
        }
        let (limit, offset) = Page { limit: self.limit, offset: self.offset }.get()?;
        Ok((from, to, limit, offset))
    }
}

/// Filters of the regulator-record lists.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RecordQuery {
    /// Only this project's records.
    pub project: Option<String>,
    /// At most this many (1–1000, default 100).
    pub limit: Option<i64>,
    /// Skip this many (default 0).
    pub offset: Option<i64>,
}
