//! What regulators record about a project's safety: complaints (A1 §III.(三),
//! §IV.(一).3), inspections, spot checks and supervision (A1 §III.(二),
//! §IV.(一).2), accidents (A1 §IV.(二).4). The rule engine reads them.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::protocol::{DeviceCode, Timestamp};
use crate::validation::{check_text, wire_enum, ValidationErrors, MAX_TEXT_CHARS};

wire_enum! {
    /// What a complaint (投诉) is about: A1 §III.(三) counts those about safety
    /// or quality.
    pub enum ComplaintSubject as "safety_or_quality" {
        /// Safety.
        Safety = "safety",
        /// Quality of maintenance or service.
        Quality = "quality",
        /// Anything else (not counted by A1 §III.(三)).
        Other = "other",
    }
}

impl ComplaintSubject {
    /// Whether A1 §III.(三) counts it (about safety or quality).
    pub fn counts_for_rectification(self) -> bool {
        matches!(self, ComplaintSubject::Safety | ComplaintSubject::Quality)
    }
}

wire_enum! {
    /// Kind of inspection.
    pub enum InspectionKind as "kind" {
        /// 定期检验: periodic inspection; failing it and not rectifying in
        /// time takes the project out of the pilot (A1 §IV.(一).2).
        PeriodicInspection = "periodic_inspection",
        /// 抽查: spot check; a hazard found is ground for rectification (A1 §III.(二)).
        SpotCheck = "spot_check",
        /// 监督检查: supervision visit (A1 §III.(二)).
        Supervision = "supervision",
    }
}

/// A complaint to record (投诉).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewComplaint {
    /// The project.
    pub project_id: String,
    /// The elevator, when the complaint is about one.
    pub device_code: Option<DeviceCode>,
    /// Day received.
    pub received_on: NaiveDate,
    /// What it is about.
    pub safety_or_quality: ComplaintSubject,
    /// Whether the regulator verified it.
    pub verified: bool,
    /// Whether it was caused by the quality of maintenance (A1 §IV.(一).3).
    pub maintenance_quality_caused: bool,
    /// What it says.
    pub summary: String,
}

impl NewComplaint {
    /// Every problem: the summary is required.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        check_text("summary", &self.summary, MAX_TEXT_CHARS, true).map_err(Into::into)
    }
}

/// A stored complaint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Complaint {
    /// Id.
    pub id: i64,
    /// The project.
    pub project_id: String,
    /// The project's firm.
    pub firm_id: String,
    /// The elevator, if any.
    pub device_code: Option<String>,
    /// Day received.
    pub received_on: NaiveDate,
    /// What it is about.
    pub safety_or_quality: ComplaintSubject,
    /// Verified.
    pub verified: bool,
    /// Caused by maintenance quality.
    pub maintenance_quality_caused: bool,
    /// What it says.
    pub summary: String,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: Timestamp,
}

/// An inspection, spot check or supervision visit to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewInspection {
    /// The project.
    pub project_id: String,
    /// The elevator, when it concerns one.
    pub device_code: Option<DeviceCode>,
    /// Kind.
    pub kind: InspectionKind,
    /// The day.
    pub on: NaiveDate,
    /// Whether a safety hazard was found (A1 §III.(二)).
    pub hazard_found: bool,
    /// Whether it passed (A1 §IV.(一).2 for periodic inspections).
    pub passed: bool,
    /// Findings in words (may be empty).
    pub summary: String,
}

impl NewInspection {
    /// Every problem: the summary's length and characters.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        check_text("summary", &self.summary, MAX_TEXT_CHARS, false).map_err(Into::into)
    }
}

/// A stored inspection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Inspection {
    /// Id.
    pub id: i64,
    /// The project.
    pub project_id: String,
    /// The project's firm.
    pub firm_id: String,
    /// The elevator, if any.
    pub device_code: Option<String>,
    /// Kind.
    pub kind: InspectionKind,
    /// The day.
    pub on: NaiveDate,
    /// Hazard found.
    pub hazard_found: bool,
    /// Passed.
    pub passed: bool,
    /// Findings in words.
    pub summary: String,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: Timestamp,
}

/// An accident to record (安全事故).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccident {
    /// The project.
    pub project_id: String,
    /// The elevator.
    pub device_code: DeviceCode,
    /// The day.
    pub on: NaiveDate,
    /// Whether poor maintenance caused it (A1 §IV.(二).4: disqualifies the firm).
    pub caused_by_maintenance: bool,
    /// What happened.
    pub summary: String,
}

impl NewAccident {
    /// Every problem: the summary is required.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        check_text("summary", &self.summary, MAX_TEXT_CHARS, true).map_err(Into::into)
    }
}

/// A stored accident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Accident {
    /// Id.
    pub id: i64,
    /// The project.
    pub project_id: String,
    /// The project's firm.
    pub firm_id: String,
    /// The elevator.
    pub device_code: String,
    /// The day.
    pub on: NaiveDate,
    /// Caused by poor maintenance.
    pub caused_by_maintenance: bool,
    /// What happened.
    pub summary: String,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn subjects_and_kinds_round_trip() {
        for s in ComplaintSubject::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
            assert_eq!(s.as_str().parse::<ComplaintSubject>().unwrap(), *s);
        }
        for k in InspectionKind::ALL {
            assert_eq!(serde_json::from_value::<InspectionKind>(json!(k.as_str())).unwrap(), *k);
            assert_eq!(k.to_string().parse::<InspectionKind>().unwrap(), *k);
        }
        assert_eq!(ComplaintSubject::NAMES, ["safety", "quality", "other"]);
        assert_eq!(InspectionKind::NAMES, ["periodic_inspection", "spot_check", "supervision"]);
        assert_eq!(
            "noise".parse::<ComplaintSubject>().unwrap_err().to_string(),
            "safety_or_quality \"noise\" must be one of safety, quality, other"
        );
        assert!(ComplaintSubject::Safety.counts_for_rectification());
        assert!(!ComplaintSubject::Other.counts_for_rectification());
    }

    #[test]
    fn complaint_json_and_validation() {
        let v = json!({"project_id": "haibin", "device_code": null, "received_on": "2026-11-03",
                       "safety_or_quality": "safety", "verified": false,
                       "maintenance_quality_caused": false, "summary": "door slams"});
        let c: NewComplaint = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&c).unwrap(), v);
        assert!(c.validate().is_ok());
        let empty = NewComplaint { summary: String::new(), ..c };
        assert_eq!(empty.validate().unwrap_err().to_string(), "field `summary`: must not be empty");
    }

    #[test]
    fn inspection_summary_is_optional_but_bounded() {
        let i = NewInspection {
            project_id: "haibin".into(),
            device_code: None,
            kind: InspectionKind::SpotCheck,
            on: NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
            hazard_found: true,
            passed: false,
            summary: String::new(),
        };
        assert!(i.validate().is_ok());
        assert_eq!(serde_json::to_value(&i).unwrap()["kind"], "spot_check");
        let long = NewInspection { summary: "x".repeat(MAX_TEXT_CHARS + 1), ..i };
        assert!(long.validate().is_err());
    }

    #[test]
    fn accident_summary_is_required() {
        let a = NewAccident {
            project_id: "haibin".into(),
            device_code: DeviceCode::parse("31103302002018120001").unwrap(),
            on: NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
            caused_by_maintenance: true,
            summary: " ".into(),
        };
        assert_eq!(a.validate().unwrap_err().0[0].field, "summary");
        let j = serde_json::to_value(&a).unwrap();
        assert_eq!(j["device_code"], "31103302002018120001");
        assert_eq!(serde_json::from_value::<NewAccident>(j).unwrap(), a);
    }
}
