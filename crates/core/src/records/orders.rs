//! What regulators decide: rectification orders (责令整改, A1 §III) and the
//! firms' yearly grades (N §III.(三).2).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::pilot::{check_deadline, check_self_declaration, rectification_overdue};
use crate::protocol::Timestamp;
use crate::registry::GradeLetter;
use crate::validation::{check_text, ValidationError, ValidationErrors, MAX_FINDING_ID_CHARS, MAX_TEXT_CHARS};

/// A rectification order to record (A1 §III).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRectificationOrder {
    /// The project.
    pub project_id: String,
    /// Day issued.
    pub issued_on: NaiveDate,
    /// Day by which it must be completed (not before `issued_on`).
    pub deadline: NaiveDate,
    /// Why.
    pub reason: String,
    /// The inspection it follows from, if any (same project; checked by the store).
    pub inspection_id: Option<i64>,
    /// The rule engine's finding it follows from, if any (checked by the store).
    pub finding_id: Option<String>,
}

impl NewRectificationOrder {
    /// Every problem: the deadline, the reason, the finding id's text.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut p = ValidationErrors::new();
        p.check(check_deadline(self.issued_on, self.deadline));
        p.check(check_text("reason", &self.reason, MAX_TEXT_CHARS, true));
        if let Some(f) = &self.finding_id {
            p.check(check_text("finding_id", f, MAX_FINDING_ID_CHARS, true));
        }
        p.into_result()
    }
}

/// A stored rectification order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct RectificationOrder {
    /// Id.
    pub id: i64,
    /// The project.
    pub project_id: String,
    /// The project's firm.
    pub firm_id: String,
    /// Day issued.
    pub issued_on: NaiveDate,
    /// Deadline.
    pub deadline: NaiveDate,
    /// Why.
    pub reason: String,
    /// The inspection it follows from.
    pub inspection_id: Option<i64>,
    /// The finding it follows from.
    pub finding_id: Option<String>,
    /// Day completed, once it is.
    pub completed_on: Option<NaiveDate>,
    /// Who recorded the completion.
    pub completed_by: Option<String>,
    /// Who recorded the order.
    pub recorded_by: String,
    /// When.
    pub recorded_at: Timestamp,
}

impl RectificationOrder {
    /// Whether it was (or, still open on `today`, is) late
    /// ([`rectification_overdue`], A1 §IV.(一).1).
    pub fn overdue(&self, today: NaiveDate) -> bool {
        rectification_overdue(self.deadline, self.completed_on, today)
    }
}

/// Earliest year a grade may be recorded for.
pub const MIN_GRADE_YEAR: i32 = 2000;
/// Latest year a grade may be recorded for (the API also refuses future years: it knows the clock).
pub const MAX_GRADE_YEAR: i32 = 2200;

/// A firm's grade for one year, to record (`POST /api/v1/firms/{firm_id}/grades`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFirmGrade {
    /// The year graded.
    pub year: i32,
    /// The grade.
    pub grade: GradeLetter,
    /// Whether its self-declaration and service commitment were published
    /// that year (`None`: not recorded).
    #[serde(default)]
    pub self_declared: Option<bool>,
}

impl NewFirmGrade {
    /// Every problem: a plausible year, and N §III.(三).2 — from 2021 a firm
    /// that has not published its self-declaration cannot be graded B or better.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut p = ValidationErrors::new();
        if !(MIN_GRADE_YEAR..=MAX_GRADE_YEAR).contains(&self.year) {
            p.push(ValidationError::new(
                "year",
                format!("{} must be between {MIN_GRADE_YEAR} and {MAX_GRADE_YEAR}", self.year),
            ));
        }
        p.check(check_self_declaration("grade", self.grade, Some(self.year), self.self_declared));
        p.into_result()
    }
}

/// A firm's grade for one year, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct FirmGrade {
    /// The firm.
    pub firm_id: String,
    /// The year graded.
    pub year: i32,
    /// The grade.
    pub grade: GradeLetter,
    /// Whether its self-declaration and service commitment were published
    /// that year (`None`: not recorded).
    pub self_declared: Option<bool>,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn order() -> NewRectificationOrder {
        NewRectificationOrder {
            project_id: "haibin".into(),
            issued_on: d("2026-11-03"),
            deadline: d("2026-12-03"),
            reason: "no on-site maintenance for 97 days".into(),
            inspection_id: None,
            finding_id: None,
        }
    }

    #[test]
    fn order_problems_are_all_reported() {
        assert!(order().validate().is_ok());
        let same_day = NewRectificationOrder { deadline: d("2026-11-03"), ..order() };
        assert!(same_day.validate().is_ok());
        let bad = NewRectificationOrder {
            deadline: d("2026-11-02"),
            reason: String::new(),
            finding_id: Some(String::new()),
            ..order()
        };
        let fields: Vec<_> = bad.validate().unwrap_err().0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["deadline", "reason", "finding_id"]);
        let long = NewRectificationOrder { finding_id: Some("f".repeat(MAX_FINDING_ID_CHARS + 1)), ..order() };
        assert!(long.validate().is_err());
    }

    #[test]
    fn stored_order_overdue_at_its_boundaries() {
        let o = RectificationOrder {
            id: 1,
            project_id: "haibin".into(),
            firm_id: "zls".into(),
            issued_on: d("2026-11-01"),
            deadline: d("2026-11-10"),
            reason: "r".into(),
            inspection_id: None,
            finding_id: None,
            completed_on: None,
            completed_by: None,
            recorded_by: "regulator".into(),
            recorded_at: Timestamp(0),
        };
        assert!(!o.overdue(d("2026-11-10")) && o.overdue(d("2026-11-11")));
        let done = RectificationOrder { completed_on: Some(d("2026-11-12")), ..o.clone() };
        assert!(done.overdue(d("2026-12-01")), "completed two days late");
        let on_time = RectificationOrder { completed_on: Some(d("2026-11-10")), ..o.clone() };
        assert!(!on_time.overdue(d("2026-12-01")));
        let j = serde_json::to_value(&o).unwrap();
        assert_eq!(j["deadline"], "2026-11-10");
        assert_eq!(serde_json::from_value::<RectificationOrder>(j).unwrap(), o);
    }

    #[test]
    fn grades_follow_the_self_declaration_rule() {
        let g = |year, grade, self_declared| NewFirmGrade { year, grade, self_declared }.validate();
        assert!(g(2025, GradeLetter::A, Some(true)).is_ok());
        assert!(g(2025, GradeLetter::A, None).is_ok(), "not recorded");
        assert!(g(2020, GradeLetter::B, Some(false)).is_ok(), "before the rule");
        assert!(g(2021, GradeLetter::B, Some(false)).is_err(), "from 2021");
        assert!(g(2025, GradeLetter::C, Some(false)).is_ok());
        assert!(g(MIN_GRADE_YEAR, GradeLetter::C, None).is_ok() && g(MAX_GRADE_YEAR, GradeLetter::C, None).is_ok());
        let fields: Vec<_> =
            g(MAX_GRADE_YEAR + 1, GradeLetter::A, Some(false)).unwrap_err().0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["year", "grade"], "both problems at once");
        assert!(g(MIN_GRADE_YEAR - 1, GradeLetter::D, None).is_err());
    }

    #[test]
    fn grade_json() {
        let n: NewFirmGrade = serde_json::from_value(json!({"year": 2025, "grade": "A"})).unwrap();
        assert_eq!(n, NewFirmGrade { year: 2025, grade: GradeLetter::A, self_declared: None });
        assert!(serde_json::from_value::<NewFirmGrade>(json!({"year": 2025, "grade": "E"})).is_err());
        let f = FirmGrade {
            firm_id: "zls".into(),
            year: 2025,
            grade: GradeLetter::B,
            self_declared: Some(true),
            recorded_by: "regulator".into(),
            recorded_at: Timestamp(0),
        };
        let j = serde_json::to_value(&f).unwrap();
        assert_eq!((j["grade"].as_str(), j["self_declared"].as_bool()), (Some("B"), Some(true)));
        assert_eq!(serde_json::from_value::<FirmGrade>(j).unwrap(), f);
    }
}
