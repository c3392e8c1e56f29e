//! Equipment facts and check results as stored (attachment 2, issue 14;
//! docs/inspection.md). The facts, the schedule, the results and their
//! rules are the core's ([`liftwatch_core::inspection`]); what stays here is
//! who recorded what and when, and the filter of the bulk read.

use chrono::NaiveDate;
use liftwatch_core::inspection::{CheckResult, EquipmentFacts};
use liftwatch_core::protocol::Timestamp;
use serde::Serialize;

/// An elevator's equipment facts as the regulator last put them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct EquipmentRecord {
    /// The facts.
    #[serde(flatten)]
    pub facts: EquipmentFacts,
    /// Who put them last (`regulator`).
    pub updated_by: String,
    /// When.
    pub updated_at: Timestamp,
}

/// A check result as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct CheckRecord {
    /// The result with its id.
    #[serde(flatten)]
    pub result: CheckResult,
    /// The inspection or test body that did the check, as given (may be empty).
    pub body: String,
    /// Who recorded it (the caller: `regulator`).
    pub recorded_by: String,
    /// When.
    pub recorded_at: Timestamp,
}

/// Which elevators a bulk read covers: every elevator with equipment facts,
/// or only those a project (or a firm's projects) holds on `on`.
#[derive(Clone, Debug, Default)]
pub struct EquipmentFilter {
    /// Only the elevators of this project on `on`.
    pub project: Option<String>,
    /// Only the elevators of this firm's projects on `on`.
    pub firm: Option<String>,
    /// The day of the membership (required with `project` or `firm`; today).
    pub on: Option<NaiveDate>,
}

/// The facts and results of the elevators a filter covers, for the due list
/// and the rule engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InspectionSet {
    /// Facts, by device code.
    pub equipment: Vec<EquipmentRecord>,
    /// The results of those elevators, by device code, day and id.
    pub checks: Vec<CheckRecord>,
}
