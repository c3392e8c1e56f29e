//! The input of an evaluation: what the store knows at one instant. The
//! engine reads it; the rules never read anything else (no clock, no I/O),
//! so an evaluation is reproducible from its snapshot.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::lifecycle::OpenFinding;
use crate::completeness::{Completeness, DeviceTelemetry};
use crate::incident::{EntrapmentRecord, FaultRecord};
use crate::inspection::{CheckResult, EquipmentFacts};
use crate::kpi::KpiReport;
use crate::protocol::{DeviceCode, Timestamp};
use crate::records::{Accident, Complaint, FirmGrade, Inspection, RectificationOrder, Visit};
use crate::registry::{Firm, GradeLetter, ProjectRecord};

/// A firm with its yearly grades.
#[derive(Clone, Debug, PartialEq)]
pub struct FirmFacts {
    /// As registered (current grade, self-declaration).
    pub firm: Firm,
    /// Its yearly grades, any order.
    pub grades: Vec<FirmGrade>,
}

/// Where a firm's previous-year grade comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradeSource {
    /// The grade recorded for that year.
    Year(i32),
    /// No grade recorded for the year: the firm's current grade, taken as
    /// last year's classification (docs/pilot.md §8).
    Current,
}

impl FirmFacts {
    /// The grade of the year before `today`'s (A1 §I.(一).3 "上年度"): the
    /// recorded one, else the firm's current grade.
    pub fn previous_year_grade(&self, today: NaiveDate) -> (GradeLetter, GradeSource) {
        use chrono::Datelike;
        let year = today.year() - 1;
        self.grades
            .iter()
            .find(|g| g.year == year)
            .map_or((self.firm.grade, GradeSource::Current), |g| (g.grade, GradeSource::Year(year)))
    }
}

/// A project with what the rules need beyond the registry.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectFacts {
    /// As stored: spec (mode, commitment, elevators with insurance,
    /// admission day) and membership history. Its `status` and
    /// `open_findings` are not read: they are outputs.
    pub record: ProjectRecord,
    /// The region whose rescue limit applies ([`super::RescueConfig::limit_for`]), if any.
    pub region: Option<String>,
    /// Its KPIs over the rolling window ending the day before `now`, with
    /// the completeness, when computed.
    pub kpis: Option<KpiReport>,
}

impl ProjectFacts {
    /// Its id.
    pub fn id(&self) -> &str {
        &self.record.spec.id
    }

    /// Its firm's id.
    pub fn firm_id(&self) -> &str {
        &self.record.spec.firm_id
    }
}

/// The box's on-site maintenance event (`maintenance`, phase `start`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoxMaintenance {
    /// The elevator.
    pub device: DeviceCode,
    /// The box's visit id.
    pub visit_id: String,
    /// When the technician arrived.
    pub at: Timestamp,
}

/// A fault occurrence with its box id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultIncident {
    /// The elevator.
    pub device: DeviceCode,
    /// The box's fault id.
    pub fault_id: String,
    /// Everything known about it.
    pub record: FaultRecord,
}

/// An entrapment with its box id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntrapmentIncident {
    /// The elevator.
    pub device: DeviceCode,
    /// The box's incident id.
    pub incident_id: String,
    /// Everything known about it.
    pub record: EntrapmentRecord,
}

/// A project's exit from the pilot, as recorded (A1 §IV.(一)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PilotExit {
    /// The project.
    pub project_id: String,
    /// Its firm then.
    pub firm_id: String,
    /// The day it left.
    pub on: NaiveDate,
    /// Its elevators then: the ban follows the elevators, so that a new
    /// project id for the same elevators and firm does not escape it.
    pub devices: Vec<DeviceCode>,
    /// The rule or reason.
    pub reason: String,
}

/// A firm's disqualification, as recorded (A1 §IV.(二)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disqualification {
    /// The firm.
    pub firm_id: String,
    /// The day.
    pub on: NaiveDate,
    /// The rule or reason.
    pub reason: String,
}

/// Everything one evaluation reads.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The clock of the evaluation.
    pub now: Timestamp,
    /// The zone of local days.
    pub tz: Tz,
    /// The firms.
    pub firms: Vec<FirmFacts>,
    /// The projects (exited ones included: the rules skip them).
    pub projects: Vec<ProjectFacts>,
    /// Each elevator's telemetry (absent: never heard).
    pub telemetry: BTreeMap<DeviceCode, DeviceTelemetry>,
    /// Each elevator's completeness over the rolling window.
    pub completeness: BTreeMap<DeviceCode, Completeness>,
    /// Faults still open, and any others the engine passes.
    pub faults: Vec<FaultIncident>,
    /// Entrapments of the rescue look-back at least.
    pub entrapments: Vec<EntrapmentIncident>,
    /// Maintenance visits recorded by firms (each elevator's latest of each kind at least).
    pub visits: Vec<Visit>,
    /// The boxes' on-site maintenance events (each elevator's latest at least).
    pub box_maintenance: Vec<BoxMaintenance>,
    /// Inspections, spot checks, supervision.
    pub inspections: Vec<Inspection>,
    /// Complaints.
    pub complaints: Vec<Complaint>,
    /// Accidents.
    pub accidents: Vec<Accident>,
    /// Rectification orders.
    pub orders: Vec<RectificationOrder>,
    /// Exits recorded.
    pub exits: Vec<PilotExit>,
    /// Disqualifications recorded.
    pub disqualifications: Vec<Disqualification>,
    /// The findings open now (KPI hysteresis and persistence read them).
    pub findings: Vec<OpenFinding>,
    /// Equipment facts of the elevators under attachment 2 (A2): the
    /// adjusted schedule's input.
    pub equipment: Vec<EquipmentFacts>,
    /// Results of inspections and tests of those elevators.
    pub check_results: Vec<CheckResult>,
}

impl Snapshot {
    /// An empty snapshot at `now`.
    pub fn new(now: Timestamp, tz: Tz) -> Self {
        Snapshot {
            now,
            tz,
            firms: Vec::new(),
            projects: Vec::new(),
            telemetry: BTreeMap::new(),
            completeness: BTreeMap::new(),
            faults: Vec::new(),
            entrapments: Vec::new(),
            visits: Vec::new(),
            box_maintenance: Vec::new(),
            inspections: Vec::new(),
            complaints: Vec::new(),
            accidents: Vec::new(),
            orders: Vec::new(),
            exits: Vec::new(),
            disqualifications: Vec::new(),
            findings: Vec::new(),
            equipment: Vec::new(),
            check_results: Vec::new(),
        }
    }

    /// The local day of `now`.
    pub fn today(&self) -> NaiveDate {
        self.now.local_day(self.tz)
    }

    /// A firm by id.
    pub fn firm(&self, id: &str) -> Option<&FirmFacts> {
        self.firms.iter().find(|f| f.firm.id == id)
    }

    /// Whether a project has left the pilot since its (latest) admission.
    pub fn exited(&self, p: &ProjectFacts) -> Option<&PilotExit> {
        self.exits.iter().find(|e| e.project_id == p.id() && e.on >= p.record.spec.admitted_on)
    }

    /// The project an elevator belonged to on `day`.
    pub fn project_of(&self, device: DeviceCode, day: NaiveDate) -> Option<&ProjectFacts> {
        self.projects.iter().find(|p| p.record.memberships.iter().any(|m| m.device == device && m.covers(day)))
    }
}
