//! The pure domain core of liftwatch: no I/O, no async, no clock reads.
//!
//! Data flows through it in the order of the modules:
//! [`protocol`] decodes what boxes publish; [`incident`] pairs faults with
//! their clearing and entrapments with the rescuer's arrival, whatever the
//! arrival order; [`rollup`] keeps the additive per-elevator daily figures the
//! KPIs are computed from; [`ledger`] is the reference implementation of the
//! store's semantics (identity dedupe + rollups + incidents) that the real
//! stores are tested against; [`window`] and [`kpi`] turn rollups into the
//! mandated KPIs over a project's membership history; [`completeness`] says
//! how much of the telemetry arrived (odometer spans, seq gaps, silence).
//!
//! Beside the telemetry, the regulatory domain: [`registry`] (firms,
//! projects, elevators), [`records`] (what firms and regulators record),
//! [`pilot`] (each rule of the pilot notice, once), [`rules`] (the rules as
//! findings: catalogue, pure evaluation over a snapshot, lifecycle),
//! [`inspection`] (attachment 2: the adjusted inspection and testing
//! schedule, results, exits and stops), [`tenancy`] (which days of an elevator's records a firm reaches) and
//! [`validation`] (typed errors naming the field, the value and the rule).

pub mod validation;

pub mod completeness;
pub mod incident;
pub mod ingest;
pub mod inspection;
pub mod kpi;
pub mod ledger;
pub mod pilot;
pub mod protocol;
pub mod records;
pub mod registry;
pub mod rollup;
pub mod rules;
pub mod tenancy;
pub mod window;

/// The zone of local days when none is configured: the pilot is in Zhoushan.
pub const DEFAULT_TIMEZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;
/// [`DEFAULT_TIMEZONE`]'s IANA name.
pub const DEFAULT_TIMEZONE_NAME: &str = "Asia/Shanghai";

pub use pilot::{CorrectionOutcome, CorrectionRequest};
pub use records::{
    Accident, Complaint, ComplaintSubject, FirmGrade, Inspection, InspectionKind, NewAccident, NewCauseCorrection,
    NewComplaint, NewFirmGrade, NewInspection, NewRectificationOrder, NewVisit, RecordKind, RectificationOrder, Visit,
    VisitKind,
};
pub use registry::{
    ElevatorSpec, Firm, FirmRecord, GradeLetter, PilotForm, ProjectMode, ProjectRecord, ProjectSpec, ProjectStatus,
};
pub use validation::{UnknownValue, ValidationError, ValidationErrors};

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_zone_name_is_the_default_zone() {
        assert_eq!(super::DEFAULT_TIMEZONE.name(), super::DEFAULT_TIMEZONE_NAME);
    }
}
