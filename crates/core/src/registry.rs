//! The registry as the pilot defines it: maintenance firms with their grade,
//! pilot projects with their monitoring mode, commitment, elevators and the
//! pilot list form (附件1-2 电梯按需维保试点清单).
//!
//! These are the domain types the store persists and the API reads and
//! writes; their serde field names and wire strings are those of api-v1.md.
//! Validation here is what can be checked without the database; what needs
//! it (an unknown firm, an elevator in another project) stays in the store.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::kpi::{Commitment, Membership};
use crate::pilot::check_self_declaration;
use crate::protocol::DeviceCode;
use crate::validation::{check_resource_id, check_text, wire_enum, ValidationError, ValidationErrors, MAX_TEXT_CHARS};

wire_enum! {
    /// A maintenance firm's yearly classification (维保单位分级评价), `A` (best)
    /// to `D`. It decides entry to the pilot (A1 §I.(一): not C or lower) and
    /// needs the published self-declaration for A and B (N §III.(三).2).
    ///
    /// Not to be confused with a fault's grade ([`crate::protocol::Grade`]).
    pub enum GradeLetter as "grade" {
        /// A: the best grade.
        A = "A",
        /// B.
        B = "B",
        /// C: excluded from entering the pilot (A1 §I.(一)).
        C = "C",
        /// D: the worst grade.
        D = "D",
    }
}

impl GradeLetter {
    /// A or B: the grades that need a published self-declaration (N §III.(三).2).
    pub fn is_b_or_better(self) -> bool {
        matches!(self, GradeLetter::A | GradeLetter::B)
    }
}

wire_enum! {
    /// How a pilot project is monitored between on-site visits (A1 §I.(二));
    /// the mode sets the longest gap between on-site maintenance visits
    /// ([`crate::pilot::max_onsite_interval_months`]).
    pub enum ProjectMode as "mode" {
        /// 物联网: real-time remote monitoring and online checks.
        Iot = "iot",
        /// Remote photo/video check every 15 days, "elevator pension insurance" model.
        RemotePension = "remote_pension",
        /// Remote check every 15 days, all-inclusive (全包) maintenance.
        RemoteFullService = "remote_full_service",
        /// Remote check every 15 days.
        Remote = "remote",
    }
}

wire_enum! {
    /// Where a project stands in the pilot: admitted, under a rectification
    /// order (A1 §III), or out of the pilot (A1 §IV.(一)).
    pub enum ProjectStatus as "status" {
        /// In the pilot, nothing pending.
        Active = "active",
        /// Under a rectification order (A1 §III).
        Rectifying = "rectifying",
        /// Left the pilot (A1 §IV.(一)).
        Exited = "exited",
    }
}

/// A maintenance firm (维保单位) as a regulator puts it
/// (`PUT /api/v1/firms/{firm_id}`; the id comes from the path).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Firm {
    /// Stable id (`zls`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Previous year's classification.
    pub grade: GradeLetter,
    /// Where the self-declaration (自我声明) is published, if it is.
    pub self_declaration_url: Option<String>,
}

impl Firm {
    /// Whether the self-declaration is published: a URL that is not blank is on file.
    pub fn self_declared(&self) -> bool {
        self.self_declaration_url.as_deref().is_some_and(|u| !u.trim().is_empty())
    }

    /// Every problem: the id, the name, the URL's text, and N §III.(三).2 (a
    /// firm graded A or B needs its published self-declaration).
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut p = ValidationErrors::new();
        p.check(check_resource_id("id", &self.id));
        p.check(check_text("name", &self.name, MAX_TEXT_CHARS, true));
        if let Some(u) = &self.self_declaration_url {
            p.check(check_text("self_declaration_url", u, MAX_TEXT_CHARS, false));
        }
        p.check(check_self_declaration("self_declaration_url", self.grade, None, Some(self.self_declared())));
        p.into_result()
    }
}

/// A firm as stored (without its token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct FirmRecord {
    /// The firm.
    #[serde(flatten)]
    pub firm: Firm,
    /// Whether the self-declaration is published ([`Firm::self_declared`]).
    pub self_declared: bool,
}

impl From<Firm> for FirmRecord {
    fn from(firm: Firm) -> Self {
        FirmRecord { self_declared: firm.self_declared(), firm }
    }
}

/// An elevator as listed in a project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElevatorSpec {
    /// Registration code (设备代码).
    pub device_code: DeviceCode,
    /// `traction`, `hydraulic`, `escalator`, … — free text: the registry of
    /// the bureau has more kinds than the pilot cares about, and none of the
    /// rules depends on it, so it is not a closed set.
    #[serde(default)]
    pub kind: String,
    /// Where it is.
    #[serde(default)]
    pub location: String,
    /// Liability insurance (电梯责任保险) cover end.
    #[serde(default)]
    pub insured_until: Option<NaiveDate>,
    /// Membership start, when given ([`crate::pilot::membership_start`]).
    #[serde(default)]
    pub since: Option<NaiveDate>,
}

impl ElevatorSpec {
    /// Every problem of the free-text fields.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut p = ValidationErrors::new();
        p.check(check_text("kind", &self.kind, MAX_TEXT_CHARS, false));
        p.check(check_text("location", &self.location, MAX_TEXT_CHARS, false));
        p.into_result()
    }
}

/// The other fields of the pilot list form (附件1-2 电梯按需维保试点清单).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PilotForm {
    /// 使用管理单位联系人.
    #[serde(default)]
    pub owner_contact: Option<String>,
    /// 使用管理单位联系电话.
    #[serde(default)]
    pub owner_phone: Option<String>,
    /// 维保单位联系人.
    #[serde(default)]
    pub firm_contact: Option<String>,
    /// 维保单位联系电话.
    #[serde(default)]
    pub firm_phone: Option<String>,
    /// 电梯制造单位.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// 电梯责任保险承保单位.
    #[serde(default)]
    pub insurer: Option<String>,
    /// 电梯责任保险有效期: from.
    #[serde(default)]
    pub insured_from: Option<NaiveDate>,
    /// 电梯责任保险有效期: until.
    #[serde(default)]
    pub insured_until: Option<NaiveDate>,
    /// The region (county or district, e.g. `daishan`) whose rescue limit
    /// applies (`[rules.rescue.limit_minutes_by_region]`, docs/rules.md §7).
    #[serde(default)]
    pub region: Option<String>,
}

impl PilotForm {
    /// Every problem: texts, and an insurance period that ends before it begins.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut p = ValidationErrors::new();
        for (field, v) in [
            ("owner_contact", &self.owner_contact),
            ("owner_phone", &self.owner_phone),
            ("firm_contact", &self.firm_contact),
            ("firm_phone", &self.firm_phone),
            ("manufacturer", &self.manufacturer),
            ("insurer", &self.insurer),
            ("region", &self.region),
        ] {
            if let Some(v) = v {
                p.check(check_text(field, v, MAX_TEXT_CHARS, false));
            }
        }
        if let (Some(a), Some(z)) = (self.insured_from, self.insured_until) {
            if z < a {
                p.push(ValidationError::new("insured_until", format!("{z} is before insured_from {a}")));
            }
        }
        p.into_result()
    }
}

impl Commitment {
    /// Every target that is not a finite number ≥ 0 (A1 §II.(一): the three
    /// committed KPI targets).
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut p = ValidationErrors::new();
        for (k, v) in [
            ("fault_rate_per_10k", self.fault_rate_per_10k),
            ("downtime_minutes", self.downtime_minutes),
            ("rescue_minutes", self.rescue_minutes),
        ] {
            if !v.is_finite() || v < 0.0 {
                p.push(ValidationError::new(k, format!("{v} must be a number ≥ 0")));
            }
        }
        p.into_result()
    }
}

/// A pilot project as put by a regulator (`PUT /api/v1/projects/{project_id}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectSpec {
    /// Stable id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The maintenance firm.
    pub firm_id: String,
    /// The owner / property manager (使用单位).
    #[serde(default)]
    pub owner: String,
    /// How it is monitored (A1 §I.(二)).
    pub mode: ProjectMode,
    /// Admission day.
    pub admitted_on: NaiveDate,
    /// Committed KPI targets (A1 §II.(一)).
    pub commitment: Option<Commitment>,
    /// Current elevators.
    pub elevators: Vec<ElevatorSpec>,
    /// The other fields of the pilot list form.
    #[serde(default)]
    pub pilot_form: PilotForm,
}

impl ProjectSpec {
    /// Every problem that can be seen without the database: ids, name,
    /// commitment, elevators, pilot form. An elevator listed twice is not
    /// among them: the store answers it as a conflict (see
    /// [`ProjectSpec::duplicate_elevator`]).
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut p = ValidationErrors::new();
        p.check(check_resource_id("id", &self.id));
        p.check(check_text("name", &self.name, MAX_TEXT_CHARS, true));
        p.check(check_resource_id("firm_id", &self.firm_id));
        p.check(check_text("owner", &self.owner, MAX_TEXT_CHARS, false));
        if let Some(c) = &self.commitment {
            p.nested("commitment", c.validate());
        }
        for (i, e) in self.elevators.iter().enumerate() {
            p.nested(&format!("elevators[{i}]"), e.validate());
        }
        // The form's fields are flat in the API body: no prefix.
        if let Err(es) = self.pilot_form.validate() {
            p.0.extend(es.0);
        }
        p.into_result()
    }

    /// The first elevator listed twice, if any (an elevator belongs to at
    /// most one project on any day, and once to this one).
    pub fn duplicate_elevator(&self) -> Option<DeviceCode> {
        let mut seen = std::collections::HashSet::new();
        self.elevators.iter().find(|e| !seen.insert(e.device_code)).map(|e| e.device_code)
    }

    /// The longest gap between on-site visits its mode allows (A1 §I.(二)).
    pub fn max_onsite_interval_months(&self) -> u32 {
        crate::pilot::max_onsite_interval_months(self.mode)
    }
}

/// A project as stored, with its status and membership history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectRecord {
    /// As put.
    #[serde(flatten)]
    pub spec: ProjectSpec,
    /// Where it stands in the pilot.
    pub status: ProjectStatus,
    /// Findings of the rule engine still open.
    pub open_findings: i64,
    /// The whole membership history.
    pub memberships: Vec<Membership>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn round_trip<T>(all: &[T])
    where
        T: Copy + std::fmt::Debug + PartialEq + Serialize + for<'de> Deserialize<'de> + std::str::FromStr,
        T: std::fmt::Display,
        <T as std::str::FromStr>::Err: std::fmt::Debug,
    {
        for v in all {
            let wire = v.to_string();
            assert_eq!(serde_json::to_string(v).unwrap(), format!("\"{wire}\""), "serialises as its wire string");
            assert_eq!(serde_json::from_str::<T>(&format!("\"{wire}\"")).unwrap(), *v);
            assert_eq!(wire.parse::<T>().unwrap(), *v);
        }
    }

    #[test]
    fn enums_round_trip_with_their_wire_strings() {
        round_trip(GradeLetter::ALL);
        round_trip(ProjectMode::ALL);
        round_trip(ProjectStatus::ALL);
        assert_eq!(GradeLetter::NAMES, ["A", "B", "C", "D"]);
        assert_eq!(ProjectMode::NAMES, ["iot", "remote_pension", "remote_full_service", "remote"]);
        assert_eq!(ProjectStatus::NAMES, ["active", "rectifying", "exited"]);
        assert_eq!(ProjectMode::RemoteFullService.as_str(), "remote_full_service");
    }

    #[test]
    fn bad_enum_values_say_what_is_allowed() {
        let e = "a".parse::<GradeLetter>().unwrap_err();
        assert_eq!(e.to_string(), "grade \"a\" must be one of A, B, C, D", "case matters");
        let e = serde_json::from_str::<ProjectMode>("\"IoT\"").unwrap_err();
        assert!(e.to_string().contains("mode \"IoT\" must be one of iot, remote_pension"), "{e}");
        assert!("closed".parse::<ProjectStatus>().is_err());
    }

    #[test]
    fn grade_letters_order_best_first() {
        assert!(GradeLetter::A < GradeLetter::D);
        assert!(GradeLetter::B.is_b_or_better() && !GradeLetter::C.is_b_or_better());
    }

    fn firm(grade: GradeLetter, url: Option<&str>) -> Firm {
        Firm { id: "zls".into(), name: "Zhoushan Lift".into(), grade, self_declaration_url: url.map(Into::into) }
    }

    #[test]
    fn firm_json_is_as_before() {
        let f = firm(GradeLetter::A, Some("https://example.org/decl.pdf"));
        let v = serde_json::to_value(FirmRecord::from(f.clone())).unwrap();
        assert_eq!(
            v,
            json!({"id": "zls", "name": "Zhoushan Lift", "grade": "A",
                   "self_declaration_url": "https://example.org/decl.pdf", "self_declared": true})
        );
        assert_eq!(serde_json::from_value::<FirmRecord>(v).unwrap().firm, f);
    }

    #[test]
    fn a_firm_graded_a_or_b_needs_its_self_declaration() {
        assert!(firm(GradeLetter::A, Some("https://x/d")).validate().is_ok());
        assert!(firm(GradeLetter::C, None).validate().is_ok());
        assert!(firm(GradeLetter::D, Some("  ")).validate().is_ok());
        for g in [GradeLetter::A, GradeLetter::B] {
            for url in [None, Some(""), Some("  ")] {
                let e = firm(g, url).validate().unwrap_err();
                assert_eq!(e.0.len(), 1, "{e}");
                assert_eq!(e.0[0].field, "self_declaration_url");
                assert!(e.0[0].problem.contains("N §III.(三).2"), "{e}");
            }
        }
    }

    #[test]
    fn a_firm_reports_every_problem() {
        let f = Firm { id: "a b".into(), name: " ".into(), grade: GradeLetter::B, self_declaration_url: None };
        let fields: Vec<_> = f.validate().unwrap_err().0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["id", "name", "self_declaration_url"]);
    }

    fn code(n: u32) -> DeviceCode {
        DeviceCode::parse(&format!("3110330200201812{n:04}")).unwrap()
    }

    fn project() -> ProjectSpec {
        ProjectSpec {
            id: "haibin".into(),
            name: "Haibin Garden".into(),
            firm_id: "zls".into(),
            owner: "Haibin Property Mgmt".into(),
            mode: ProjectMode::Iot,
            admitted_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            commitment: Some(Commitment { fault_rate_per_10k: 5.0, downtime_minutes: 60.0, rescue_minutes: 20.0 }),
            elevators: vec![ElevatorSpec {
                device_code: code(1),
                kind: "traction".into(),
                location: "Bldg 3 unit 1".into(),
                insured_until: NaiveDate::from_ymd_opt(2027, 6, 30),
                since: None,
            }],
            pilot_form: PilotForm::default(),
        }
    }

    #[test]
    fn project_json_is_as_in_the_api_spec() {
        let p = project();
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["mode"], "iot");
        assert_eq!(v["elevators"][0]["device_code"], "31103302002018120001");
        assert_eq!(v["commitment"]["rescue_minutes"], 20.0);
        assert_eq!(serde_json::from_value::<ProjectSpec>(v).unwrap(), p);
        let rec = ProjectRecord { spec: p, status: ProjectStatus::Rectifying, open_findings: 2, memberships: vec![] };
        let v = serde_json::to_value(&rec).unwrap();
        assert_eq!((v["status"].as_str(), v["id"].as_str()), (Some("rectifying"), Some("haibin")), "flattened");
        assert_eq!(serde_json::from_value::<ProjectRecord>(v).unwrap(), rec);
    }

    #[test]
    fn project_problems_are_all_reported_with_their_paths() {
        let mut p = project();
        assert!(p.validate().is_ok());
        p.name = String::new();
        p.commitment = Some(Commitment { fault_rate_per_10k: -1.0, downtime_minutes: f64::NAN, rescue_minutes: 0.0 });
        p.elevators[0].location = "a\0".into();
        p.pilot_form.insured_from = NaiveDate::from_ymd_opt(2026, 2, 1);
        p.pilot_form.insured_until = NaiveDate::from_ymd_opt(2026, 1, 31);
        let fields: Vec<_> = p.validate().unwrap_err().0.into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "name",
                "commitment.fault_rate_per_10k",
                "commitment.downtime_minutes",
                "elevators[0].location",
                "insured_until"
            ]
        );
        p.pilot_form.insured_until = p.pilot_form.insured_from;
        p.commitment = None;
        p.name = "x".into();
        p.elevators[0].location.clear();
        assert!(p.validate().is_ok(), "insurance from and until on the same day is a valid period");
    }

    #[test]
    fn an_elevator_listed_twice_is_found() {
        let mut p = project();
        assert_eq!(p.duplicate_elevator(), None);
        let mut e = p.elevators[0].clone();
        e.device_code = code(2);
        p.elevators.push(e);
        assert_eq!(p.duplicate_elevator(), None);
        p.elevators.push(p.elevators[0].clone());
        assert_eq!(p.duplicate_elevator(), Some(code(1)));
    }

    #[test]
    fn pilot_form_refuses_unknown_fields() {
        assert!(serde_json::from_value::<PilotForm>(json!({"insurer": "PICC"})).is_ok());
        assert!(serde_json::from_value::<PilotForm>(json!({"insurerr": "PICC"})).is_err());
    }
}
