//! Views and query filters of what firms and regulators record (api-v1.md
//! "What firms record"; MISSION.md "The pilot rules").
//!
//! The records themselves — visits, complaints, inspections, accidents,
//! rectification orders, grades — with their validation and the pilot's
//! rules are the core's ([`liftwatch_core::records`],
//! [`liftwatch_core::pilot`]). What stays here is what only a store
//! answers: an incident joined with its history ([`FaultView`],
//! [`EntrapmentView`]), the reclassification share computed over the
//! rollups, and the filters of the lists.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use liftwatch_core::incident::{CauseCorrection, EntrapmentRecord};
use liftwatch_core::protocol::{Cause, Timestamp};
use liftwatch_core::window::Window;
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------
// Who reaches which days
// ---------------------------------------------------------------------------

/// Whose view of an elevator's records a store call takes (docs/api.md
/// "Tenancy"). The store applies it inside the call — for a write, in the
/// write's own transaction, with the elevator's membership rows locked — so
/// no registry change can slip between the check and the write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Every day of every elevator (regulators, the platform's own tools).
    All,
    /// A maintenance firm on `today`: the days of
    /// [`liftwatch_core::tenancy::FirmAccess`]. An elevator it may not see
    /// is `NotFound` as if it were not registered; a write outside its days
    /// is `Forbidden`.
    Firm {
        /// The firm.
        firm_id: &'a str,
        /// Today in the zone of local days.
        today: NaiveDate,
    },
}

/// The first instant of a local day in `tz`.
pub(crate) fn day_start(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let midnight = d.and_time(chrono::NaiveTime::MIN);
    match tz.from_local_datetime(&midnight).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // A zone that skips midnight: the day starts an hour later at most.
        None => tz
            .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
            .map_or_else(|| Utc.from_utc_datetime(&midnight), |t| t.with_timezone(&Utc)),
    }
}

/// The first and last day of "every day" in SQL (dates PostgreSQL, SQLite text and chrono all hold).
pub(crate) const FIRST_DAY: NaiveDate = date(1, 1, 1);
/// See [`FIRST_DAY`]; also the end of an open-ended span.
pub(crate) const LAST_DAY: NaiveDate = date(9999, 12, 31);

const fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(d) => d,
        None => panic!("not a date"),
    }
}

// ---------------------------------------------------------------------------
// Faults: cause corrections
// ---------------------------------------------------------------------------

/// A fault with its whole cause history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct FaultView {
    /// The elevator.
    pub device_code: String,
    /// The box's fault id.
    pub fault_id: String,
    /// Normalised fault code.
    pub code: String,
    /// When the fault was detected.
    pub started_at: Timestamp,
    /// When it was cleared, if it was.
    pub cleared_at: Option<Timestamp>,
    /// Whether it stopped the elevator.
    pub stops_service: bool,
    /// The cause in force (the latest correction, else the original).
    pub cause: Cause,
    /// The box's cause, or the code's default.
    pub original_cause: Cause,
    /// Every correction, oldest first.
    pub corrections: Vec<CauseCorrection>,
}

// ---------------------------------------------------------------------------
// Entrapments: rescuer arrival
// ---------------------------------------------------------------------------

/// An entrapment as known: alarm, arrival, release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct EntrapmentView {
    /// The elevator.
    pub device_code: String,
    /// The box's incident id.
    pub incident_id: String,
    /// When the alarm was raised (`None` until the box's alarm arrives).
    pub alarm_at: Option<Timestamp>,
    /// Earliest reported arrival of the rescuer (box or API).
    pub arrived_at: Option<Timestamp>,
    /// When the passengers were released, if known.
    pub released_at: Option<Timestamp>,
    /// The fault that trapped them, if the box knows it.
    pub fault_id: Option<String>,
    /// Alarm to arrival, minutes (when both are known; 0 when the arrival came first).
    pub rescue_minutes: Option<f64>,
    /// Who reported the arrival that counts: `box`, `firm:{id}` or `regulator`.
    pub arrival_reported_by: Option<String>,
}

impl EntrapmentView {
    /// The view of an entrapment record; the rescue minutes are the core's
    /// ([`EntrapmentRecord::rescue_minutes`], A1 §II.(一).3). Who reported
    /// the arrival is a column of the store, set by the caller.
    pub fn of(device: &str, incident_id: &str, rec: &EntrapmentRecord) -> EntrapmentView {
        EntrapmentView {
            device_code: device.to_owned(),
            incident_id: incident_id.to_owned(),
            alarm_at: rec.alarm.as_ref().map(|a| a.ts),
            arrived_at: rec.arrived_at,
            released_at: rec.released_at,
            fault_id: rec.alarm.as_ref().and_then(|a| a.fault_id.as_deref().map(str::to_owned)),
            rescue_minutes: rec.rescue_minutes(),
            arrival_reported_by: None,
        }
    }
}

// ---------------------------------------------------------------------------
// Reclassification share per firm
// ---------------------------------------------------------------------------

/// How many of a firm's faults first attributed to `equipment` were
/// reclassified to another cause (regulators watch it for gaming).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Reclassification {
    /// The firm.
    pub firm: String,
    /// The window (local days, inclusive).
    pub window: Window,
    /// Faults whose first cause (box's, or the code's default) was `equipment`.
    pub faults_first_equipment: i64,
    /// Of those, faults whose cause in force is no longer `equipment`.
    pub reclassified_away: i64,
    /// `reclassified_away / faults_first_equipment`, 4 decimals; `None` over none.
    pub share: Option<f64>,
}

// ---------------------------------------------------------------------------
// What regulators record
// ---------------------------------------------------------------------------

/// Filters of the regulator-record lists.
#[derive(Clone, Debug)]
pub struct RecordFilter {
    /// Only this project's.
    pub project: Option<String>,
    /// Only rows of projects of this firm (what a firm may see).
    pub firm: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

impl Default for RecordFilter {
    fn default() -> Self {
        RecordFilter { project: None, firm: None, limit: 100, offset: 0 }
    }
}
