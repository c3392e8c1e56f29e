//! What firms and regulators record beside the telemetry: maintenance
//! visits and cause corrections ([`firm`]); complaints, inspections and
//! accidents ([`oversight`]); rectification orders and yearly grades
//! ([`orders`]). The `New*` types are what is sent, with `validate()`; the
//! others are what is stored and answered.

pub mod firm;
pub mod orders;
pub mod oversight;

pub use firm::{NewCauseCorrection, NewVisit, Visit, VisitKind};
pub use orders::{FirmGrade, NewFirmGrade, NewRectificationOrder, RectificationOrder, MAX_GRADE_YEAR, MIN_GRADE_YEAR};
pub use oversight::{
    Accident, Complaint, ComplaintSubject, Inspection, InspectionKind, NewAccident, NewComplaint, NewInspection,
};

use crate::validation::wire_enum;

wire_enum! {
    /// The kinds of regulator record, as named in messages and audit logs
    /// (`complaint 7 does not exist`).
    pub enum RecordKind as "record kind" {
        /// A complaint (投诉).
        Complaint = "complaint",
        /// An inspection, spot check or supervision visit.
        Inspection = "inspection",
        /// An accident (安全事故).
        Accident = "accident",
        /// A rectification order (责令整改).
        RectificationOrder = "rectification_order",
    }
}

impl RecordKind {
    /// The noun used in messages (`rectification order`).
    pub fn noun(self) -> &'static str {
        match self {
            RecordKind::Complaint => "complaint",
            RecordKind::Inspection => "inspection",
            RecordKind::Accident => "accident",
            RecordKind::RectificationOrder => "rectification order",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_kinds_round_trip() {
        for k in RecordKind::ALL {
            assert_eq!(k.as_str().parse::<RecordKind>().unwrap(), *k);
            assert_eq!(serde_json::to_string(k).unwrap(), format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<RecordKind>(&format!("\"{k}\"")).unwrap(), *k);
        }
        assert_eq!(RecordKind::RectificationOrder.noun(), "rectification order");
        assert!("order".parse::<RecordKind>().is_err());
    }
}
