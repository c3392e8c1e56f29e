//! Registry: firms, pilot projects, elevators and their membership history
//! (api-v1.md "Registry"). The HTTP API comes in its own issue; the ingest
//! path needs the elevators now.

use chrono::NaiveDate;
use liftwatch_core::kpi::{Commitment, Membership};
use liftwatch_core::protocol::DeviceCode;
use serde::{Deserialize, Serialize};

/// A maintenance firm (维保单位).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firm {
    /// Stable id (`zls`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Previous year's classification: A, B, C or D.
    pub grade: String,
    /// Where the self-declaration is published, if it is.
    pub self_declaration_url: Option<String>,
}

/// An elevator as listed in a project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElevatorSpec {
    /// Registration code.
    pub device_code: DeviceCode,
    /// `traction`, `hydraulic`, `escalator`, …
    #[serde(default)]
    pub kind: String,
    /// Where it is.
    #[serde(default)]
    pub location: String,
    /// Liability insurance cover end.
    #[serde(default)]
    pub insured_until: Option<NaiveDate>,
    /// Membership start, when given.
    #[serde(default)]
    pub since: Option<NaiveDate>,
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
}

/// Longest gap between on-site maintenance visits for a mode (A1 §I.(二)), months.
pub fn max_onsite_interval_months(mode: &str) -> Option<u32> {
    match mode {
        "iot" | "remote_pension" => Some(3),
        "remote_full_service" => Some(2),
        "remote" => Some(1),
        _ => None,
    }
}

/// A pilot project as put by a regulator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectSpec {
    /// Stable id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The maintenance firm.
    pub firm_id: String,
    /// The owner / property manager.
    #[serde(default)]
    pub owner: String,
    /// `iot`, `remote_pension`, `remote_full_service` or `remote`.
    pub mode: String,
    /// Admission day.
    pub admitted_on: NaiveDate,
    /// Committed KPI targets.
    pub commitment: Option<Commitment>,
    /// Current elevators.
    pub elevators: Vec<ElevatorSpec>,
    /// The other fields of the pilot list form.
    #[serde(default)]
    pub pilot_form: PilotForm,
}

/// Pilot monitoring modes (A1 §I.(二)).
pub const MODES: [&str; 4] = ["iot", "remote_pension", "remote_full_service", "remote"];

/// A firm as stored (without its token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmRecord {
    /// The firm.
    #[serde(flatten)]
    pub firm: Firm,
    /// Whether the self-declaration is published (a URL is on file).
    pub self_declared: bool,
}

/// A project as stored, with its status and current elevators.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectRecord {
    /// As put.
    #[serde(flatten)]
    pub spec: ProjectSpec,
    /// `active`, `rectifying` or `exited`.
    pub status: String,
    /// Findings of the rule engine still open.
    pub open_findings: i64,
    /// The whole membership history.
    pub memberships: Vec<Membership>,
}

/// Filters of the project list.
#[derive(Clone, Debug, Default)]
pub struct ProjectFilter {
    /// Only this firm's.
    pub firm: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only this mode.
    pub mode: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}
