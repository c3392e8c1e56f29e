//! Results of checks as inspection and test bodies record them, whether a
//! test's upload was late (A2 §二.(二).4: within 10 working days), and the
//! status of a due check against the results.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::calendar::{CalendarError, WorkCalendar};
use super::schedule::{CheckKind, DueItem};
use crate::protocol::DeviceCode;
use crate::validation::{ValidationError, ValidationErrors};

/// Working days a test body has to upload a result (A2 §二.(二).4).
pub const UPLOAD_WORKING_DAYS: u32 = 10;

/// A result to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct NewCheckResult {
    /// The elevator.
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    pub device_code: DeviceCode,
    /// Inspection or test.
    pub kind: CheckKind,
    /// The day it was done (检测时间).
    pub done_on: NaiveDate,
    /// Whether the elevator passed.
    pub passed: bool,
    /// The day the result reached the regulator's platform.
    pub uploaded_on: NaiveDate,
}

impl NewCheckResult {
    /// Every problem: a result is not uploaded before it was done.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut es = ValidationErrors::new();
        if self.uploaded_on < self.done_on {
            es.push(ValidationError::new(
                "uploaded_on",
                format!("{} is before the check was done ({})", self.uploaded_on, self.done_on),
            ));
        }
        es.into_result()
    }
}

/// A stored result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct CheckResult {
    /// Id.
    pub id: i64,
    /// What was recorded.
    #[serde(flatten)]
    pub result: NewCheckResult,
}

/// The upload deadline of a result: 10 working days after a test;
/// `None` for an inspection (A2 §二.(二).4 binds test bodies only).
pub fn upload_deadline(r: &NewCheckResult, cal: &WorkCalendar) -> Result<Option<NaiveDate>, CalendarError> {
    if r.kind != CheckKind::Test {
        return Ok(None);
    }
    cal.add_working_days(r.done_on, UPLOAD_WORKING_DAYS).map(Some)
}

/// Whether a test's result was uploaded later than 10 working days after it
/// was done (`false` for an inspection).
pub fn upload_late(r: &NewCheckResult, cal: &WorkCalendar) -> Result<bool, CalendarError> {
    Ok(upload_deadline(r, cal)?.is_some_and(|d| r.uploaded_on > d))
}

/// Where a due check stands on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ItemStatus {
    /// Replaced by a major repair's supervisory inspection (A2 §一 sentence 4).
    Replaced,
    /// Done: by the result `id` on `on`, within the window or not.
    Done {
        /// The result.
        id: i64,
        /// Its day.
        on: NaiveDate,
        /// Within the window.
        on_time: bool,
    },
    /// Its window has not opened.
    Upcoming,
    /// In its window, not done yet.
    Open,
    /// Its window has closed and it is not done.
    Late,
}

/// The first result (of `results`, this elevator's) that does what `item`
/// asks — of a kind that covers it, on or after its window opens.
pub fn fulfilment<'a>(item: &DueItem, results: &'a [CheckResult]) -> Option<&'a CheckResult> {
    results
        .iter()
        .filter(|r| r.result.kind.covers(item.kind) && r.result.done_on >= item.window_from)
        .min_by_key(|r| (r.result.done_on, r.id))
}

/// Where `item` stands on `today`, given this elevator's results.
pub fn status(item: &DueItem, results: &[CheckResult], today: NaiveDate) -> ItemStatus {
    if item.replaced_by.is_some() {
        return ItemStatus::Replaced;
    }
    match fulfilment(item, results).filter(|r| r.result.done_on <= today) {
        Some(r) => ItemStatus::Done { id: r.id, on: r.result.done_on, on_time: r.result.done_on <= item.window_to },
        None if today < item.window_from => ItemStatus::Upcoming,
        None if today <= item.window_to => ItemStatus::Open,
        None => ItemStatus::Late,
    }
}
