//! What the regulator records about an elevator for the adjusted schedule
//! (A2 §一, §三): its supervisory inspection, area, modernisations, major
//! repairs, stops, the owner's opt-out, the original inspection month, an
//! over-15 application and a recorded exit from the testing pilot. Plain
//! serde types; [`EquipmentFacts::validate`] reports every problem at once.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::clause::Clause;
use crate::protocol::DeviceCode;
use crate::validation::{check_text, wire_enum, ValidationError, ValidationErrors, MAX_TEXT_CHARS};

wire_enum! {
    /// Where the elevator is: the pilot began area by area (A2 §五).
    pub enum Area as "area" {
        /// 定海, from 2021-01-01.
        Dinghai = "dinghai",
        /// 岱山, from 2021-01-01.
        Daishan = "daishan",
        /// 普陀, from 2021-07-01.
        Putuo = "putuo",
        /// 六横, from 2021-07-01.
        Liuheng = "liuheng",
        /// 普陀山, from 2021-07-01.
        Putuoshan = "putuoshan",
        /// The rest of the city, from 2022-07-01.
        Other = "other",
    }
}

/// The day the whole city joined (A2 §五.(四)); before it, an elevator 15
/// years or older took part only on application (A2 §三.5, MISSION.md).
pub fn whole_city_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2022, 7, 1).unwrap_or(NaiveDate::MIN)
}

impl Area {
    /// The first day of the pilot in the area (A2 §五.(二)–(四)).
    pub fn pilot_start(self) -> NaiveDate {
        let (y, m) = match self {
            Area::Dinghai | Area::Daishan => (2021, 1),
            Area::Putuo | Area::Liuheng | Area::Putuoshan => (2021, 7),
            Area::Other => (2022, 7),
        };
        NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(NaiveDate::MIN)
    }
}

/// A period out of service (停用), registered with the regulator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct OutOfService {
    /// First day out of service.
    pub from: NaiveDate,
    /// The day it returned to service (启用); `None`: still out.
    pub until: Option<NaiveDate>,
}

wire_enum! {
    /// Why an elevator left the testing pilot (A2 §四.(一)).
    pub enum ExitReason as "reason" {
        /// §四.(一).1: a test not done in time.
        TestNotDone = "test_not_done",
        /// §四.(一).2: the conditions are no longer met.
        ConditionsNotMet = "conditions_not_met",
        /// §四.(一).3: an accident or a serious incident.
        Accident = "accident",
        /// §四.(一).4: the regulator's decision for another reason.
        Regulator = "regulator",
    }
}

impl ExitReason {
    /// The clause.
    pub fn clause(self) -> Clause {
        match self {
            ExitReason::TestNotDone => Clause::ExitTestNotDone,
            ExitReason::ConditionsNotMet => Clause::ExitConditions,
            ExitReason::Accident => Clause::ExitAccident,
            ExitReason::Regulator => Clause::ExitRegulator,
        }
    }
}

/// A recorded exit from the testing pilot (A2 §三.6, §四.(一)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct TestingExit {
    /// The day it left.
    pub on: NaiveDate,
    /// Why.
    pub reason: ExitReason,
    /// In words (may be empty).
    #[serde(default)]
    pub note: String,
}

/// Everything the schedule of one elevator depends on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct EquipmentFacts {
    /// The elevator.
    #[cfg_attr(feature = "schema", schema(value_type = String))]
    pub device_code: DeviceCode,
    /// The day its installation supervisory inspection passed (安装监督检验合格).
    pub supervised_on: NaiveDate,
    /// Its area (A2 §五).
    pub area: Area,
    /// The month (1–12) of its original periodic-inspection date (原检验日期所在的月份, A2 §三.3).
    pub inspection_month: u32,
    /// The days the supervisory inspections of its modernisations (改造) passed.
    #[serde(default)]
    pub modernisations: Vec<NaiveDate>,
    /// The days the supervisory inspections of its major repairs (重大修理) passed.
    #[serde(default)]
    pub major_repairs: Vec<NaiveDate>,
    /// Registered periods out of service.
    #[serde(default)]
    pub out_of_service: Vec<OutOfService>,
    /// The day the owner's opt-out took effect (A2 §三.4), if any.
    #[serde(default)]
    pub opted_out_on: Option<NaiveDate>,
    /// The day the owner applied to take part, for an elevator 15 years or
    /// older before 2022-07-01 (A2 §三.5), if any.
    #[serde(default)]
    pub over_15_applied_on: Option<NaiveDate>,
    /// A recorded exit from the testing pilot, if any.
    #[serde(default)]
    pub testing_exit: Option<TestingExit>,
}

impl EquipmentFacts {
    /// Facts with nothing but the supervisory inspection, area and month.
    pub fn new(device_code: DeviceCode, supervised_on: NaiveDate, area: Area, inspection_month: u32) -> Self {
        EquipmentFacts {
            device_code,
            supervised_on,
            area,
            inspection_month,
            modernisations: Vec::new(),
            major_repairs: Vec::new(),
            out_of_service: Vec::new(),
            opted_out_on: None,
            over_15_applied_on: None,
            testing_exit: None,
        }
    }

    /// Every problem: the month is 1–12, every later event is on or after
    /// the supervisory inspection, stops end after they begin and do not
    /// overlap, at most one stop is open, the exit note is bounded.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut es = ValidationErrors::new();
        if !(1..=12).contains(&self.inspection_month) {
            es.push(ValidationError::new(
                "inspection_month",
                format!("{} must be a month number from 1 to 12", self.inspection_month),
            ));
        }
        if self.supervised_on.year() < 1950 || self.supervised_on.year() > 9999 {
            es.push(ValidationError::new("supervised_on", format!("{} is not a plausible day", self.supervised_on)));
        }
        let first = self.supervised_on;
        for (i, d) in self.modernisations.iter().enumerate() {
            es.check(after_or(first, &format!("modernisations[{i}]"), *d));
        }
        for (i, d) in self.major_repairs.iter().enumerate() {
            es.check(after_or(first, &format!("major_repairs[{i}]"), *d));
        }
        for (field, d) in [("opted_out_on", self.opted_out_on), ("over_15_applied_on", self.over_15_applied_on)] {
            if let Some(d) = d {
                es.check(after_or(first, field, d));
            }
        }
        if let Some(x) = &self.testing_exit {
            es.check(after_or(first, "testing_exit.on", x.on));
            es.check(check_text("testing_exit.note", &x.note, MAX_TEXT_CHARS, false));
        }
        self.check_stops(&mut es);
        es.into_result()
    }

    fn check_stops(&self, es: &mut ValidationErrors) {
        let mut stops: Vec<(usize, &OutOfService)> = self.out_of_service.iter().enumerate().collect();
        stops.sort_by_key(|(_, s)| s.from);
        for (i, s) in &stops {
            let field = format!("out_of_service[{i}]");
            es.check(after_or(self.supervised_on, &format!("{field}.from"), s.from));
            if let Some(u) = s.until.filter(|u| *u <= s.from) {
                es.push(ValidationError::new(
                    format!("{field}.until"),
                    format!("{u} must be after the first day out of service ({})", s.from),
                ));
            }
        }
        for w in stops.windows(2) {
            let ((_, a), (j, b)) = (w[0], w[1]);
            if a.until.is_none_or(|u| u > b.from) {
                es.push(ValidationError::new(
                    format!("out_of_service[{j}].from"),
                    format!("{} falls in another period out of service (from {})", b.from, a.from),
                ));
            }
        }
    }

    /// The stops sorted by their first day.
    pub(crate) fn stops(&self) -> Vec<&OutOfService> {
        let mut v: Vec<&OutOfService> = self.out_of_service.iter().collect();
        v.sort_by_key(|s| s.from);
        v
    }
}

fn after_or(first: NaiveDate, field: &str, d: NaiveDate) -> Result<(), ValidationError> {
    if d < first {
        return Err(ValidationError::new(field, format!("{d} is before the supervisory inspection ({first})")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn facts() -> EquipmentFacts {
        EquipmentFacts::new(DeviceCode::parse("31103302002018120001").unwrap(), d("2015-05-20"), Area::Dinghai, 5)
    }

    #[test]
    fn a2_v_area_start_dates() {
        assert_eq!(Area::Dinghai.pilot_start(), d("2021-01-01"));
        assert_eq!(Area::Daishan.pilot_start(), d("2021-01-01"));
        for a in [Area::Putuo, Area::Liuheng, Area::Putuoshan] {
            assert_eq!(a.pilot_start(), d("2021-07-01"), "{a}");
        }
        assert_eq!(Area::Other.pilot_start(), whole_city_start());
    }

    #[test]
    fn facts_round_trip_with_defaults() {
        let j = serde_json::json!({
            "device_code": "31103302002018120001", "supervised_on": "2015-05-20",
            "area": "dinghai", "inspection_month": 5
        });
        let f: EquipmentFacts = serde_json::from_value(j).unwrap();
        assert_eq!(f, facts());
        assert!(f.validate().is_ok());
        let bad = serde_json::json!({"device_code": "31103302002018120001", "supervised_on": "2015-05-20", "area": "zhoushan", "inspection_month": 5});
        assert!(serde_json::from_value::<EquipmentFacts>(bad).unwrap_err().to_string().contains("dinghai"));
    }

    #[test]
    fn every_problem_is_reported() {
        let mut f = facts();
        f.inspection_month = 13;
        f.modernisations.push(d("2014-01-01"));
        f.out_of_service.push(OutOfService { from: d("2020-01-01"), until: Some(d("2019-12-01")) });
        f.out_of_service.push(OutOfService { from: d("2021-01-01"), until: None });
        f.out_of_service.push(OutOfService { from: d("2022-01-01"), until: Some(d("2022-03-01")) });
        let e = f.validate().unwrap_err();
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["inspection_month", "modernisations[0]", "out_of_service[0].until", "out_of_service[2].from"],
            "{e}"
        );
    }
}
