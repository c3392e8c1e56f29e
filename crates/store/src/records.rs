//! What firms and regulators record (api-v1.md "What firms record";
//! MISSION.md "The pilot rules").
//!
//! Firms (or regulators) correct a fault's cause, report a rescuer's arrival
//! and record maintenance visits; corrections and arrivals change the
//! incident record and its rollup contribution in ONE transaction, with the
//! incident row locked as the ingest path locks it, so the KPIs follow at
//! once and concurrent ingest never loses an update. Regulators record
//! complaints, inspections and spot checks, accidents, rectification orders
//! and the firms' yearly grades; the rule engine reads them.
//!
//! Input structs carry a `validate` method shared with the HTTP API (which
//! answers 400 with its message); the store runs it again and refuses with
//! [`StoreError::Permanent`].

use chrono::NaiveDate;
use liftwatch_core::incident::CauseCorrection;
use liftwatch_core::protocol::{Cause, DeviceCode, Timestamp};
use liftwatch_core::window::Window;
use serde::{Deserialize, Serialize};

/// Longest free text kept (summaries, reasons), in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest technician name or number, in characters.
pub const MAX_TECHNICIAN_CHARS: usize = 100;
/// Kinds of maintenance visit: on-site (现场维保) and remote check (远程检查, photo/video).
pub const VISIT_KINDS: [&str; 2] = ["onsite", "remote_check"];
/// Kinds of inspection: periodic inspection (定期检验), spot check (抽查), supervision (监督检查).
pub const INSPECTION_KINDS: [&str; 3] = ["periodic_inspection", "spot_check", "supervision"];
/// What a complaint is about (A1 §III.3 counts those about safety or quality).
pub const COMPLAINT_SUBJECTS: [&str; 3] = ["safety", "quality", "other"];
/// Firm grades.
pub const GRADES: [&str; 4] = ["A", "B", "C", "D"];
/// First year in which a firm without a published self-declaration cannot be
/// graded B or better (N §III.(三).2).
pub const SELF_DECLARATION_RULE_FROM: i32 = 2021;

/// Checks a free-text field: at most `max` characters, no U+0000, and not
/// blank when `required`.
pub fn check_text(field: &str, s: &str, max: usize, required: bool) -> Result<(), String> {
    if required && s.trim().is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    let n = s.chars().count();
    if n > max {
        return Err(format!("{field} has {n} characters; at most {max} are kept"));
    }
    if s.contains('\0') {
        return Err(format!("{field} contains the character U+0000, which cannot be stored"));
    }
    Ok(())
}

/// Checks an incident id (`fault_id`, `incident_id`) as the protocol does: 1–64 characters, no U+0000.
pub fn check_incident_id(field: &str, s: &str) -> Result<(), String> {
    let n = s.chars().count();
    if n == 0 || n > 64 || s.contains('\0') {
        return Err(format!("{field} {s:?} must be 1 to 64 characters (without U+0000), as in the protocol"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Faults: cause corrections
// ---------------------------------------------------------------------------

/// A fault with its whole cause history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

// ---------------------------------------------------------------------------
// Maintenance visits
// ---------------------------------------------------------------------------

/// A maintenance visit to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewVisit {
    /// `onsite` (现场维保) or `remote_check` (远程检查, photo/video).
    pub kind: String,
    /// Start.
    pub started_at: Timestamp,
    /// End (not before the start).
    pub ended_at: Timestamp,
    /// Technician (name or staff number).
    pub technician: String,
}

impl NewVisit {
    /// Every problem of the visit, joined; `Ok` when it can be stored.
    pub fn validate(&self) -> Result<(), String> {
        let mut p = Vec::new();
        if !VISIT_KINDS.contains(&self.kind.as_str()) {
            p.push(format!("kind {:?} must be one of {}", self.kind, VISIT_KINDS.join(", ")));
        }
        if self.ended_at < self.started_at {
            p.push(format!("ended_at {} is before started_at {}", self.ended_at, self.started_at));
        }
        if let Err(e) = check_text("technician", &self.technician, MAX_TECHNICIAN_CHARS, true) {
            p.push(e);
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(p.join("; "))
        }
    }
}

/// A stored maintenance visit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// Id.
    pub id: i64,
    /// The elevator.
    pub device_code: String,
    /// `onsite` or `remote_check`.
    pub kind: String,
    /// Start.
    pub started_at: Timestamp,
    /// End.
    pub ended_at: Timestamp,
    /// Technician.
    pub technician: String,
    /// Who recorded it (`regulator` or `firm:{id}`).
    pub recorded_by: String,
    /// When it was recorded.
    pub recorded_at: Timestamp,
}

// ---------------------------------------------------------------------------
// Reclassification share per firm
// ---------------------------------------------------------------------------

/// How many of a firm's faults first attributed to `equipment` were
/// reclassified to another cause (regulators watch it for gaming).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

fn subject_problem(field: &str, v: &str, allowed: &[&str]) -> Option<String> {
    (!allowed.contains(&v)).then(|| format!("{field} {v:?} must be one of {}", allowed.join(", ")))
}

fn joined(p: Vec<String>) -> Result<(), String> {
    if p.is_empty() {
        Ok(())
    } else {
        Err(p.join("; "))
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
    /// `safety`, `quality` or `other`.
    pub safety_or_quality: String,
    /// Whether the regulator verified it.
    pub verified: bool,
    /// Whether it was caused by the quality of maintenance (A1 §IV.(一).3).
    pub maintenance_quality_caused: bool,
    /// What it says.
    pub summary: String,
}

impl NewComplaint {
    /// Every problem, joined; `Ok` when it can be stored.
    pub fn validate(&self) -> Result<(), String> {
        let mut p: Vec<String> =
            subject_problem("safety_or_quality", &self.safety_or_quality, &COMPLAINT_SUBJECTS).into_iter().collect();
        p.extend(check_text("summary", &self.summary, MAX_TEXT_CHARS, true).err());
        joined(p)
    }
}

/// A stored complaint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// `safety`, `quality` or `other`.
    pub safety_or_quality: String,
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
    /// `periodic_inspection`, `spot_check` or `supervision`.
    pub kind: String,
    /// The day.
    pub on: NaiveDate,
    /// Whether a safety hazard was found (A1 §III.2).
    pub hazard_found: bool,
    /// Whether it passed (A1 §IV.(一).2 for periodic inspections).
    pub passed: bool,
    /// Findings in words.
    pub summary: String,
}

impl NewInspection {
    /// Every problem, joined; `Ok` when it can be stored.
    pub fn validate(&self) -> Result<(), String> {
        let mut p: Vec<String> = subject_problem("kind", &self.kind, &INSPECTION_KINDS).into_iter().collect();
        p.extend(check_text("summary", &self.summary, MAX_TEXT_CHARS, false).err());
        joined(p)
    }
}

/// A stored inspection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    pub kind: String,
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
    /// Whether poor maintenance caused it (A1 §IV.(二)).
    pub caused_by_maintenance: bool,
    /// What happened.
    pub summary: String,
}

impl NewAccident {
    /// Every problem, joined; `Ok` when it can be stored.
    pub fn validate(&self) -> Result<(), String> {
        check_text("summary", &self.summary, MAX_TEXT_CHARS, true)
    }
}

/// A stored accident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// A rectification order to record (责令整改, A1 §III).
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
    /// The inspection it follows from, if any (same project).
    pub inspection_id: Option<i64>,
    /// The rule engine's finding it follows from, if any.
    pub finding_id: Option<String>,
}

impl NewRectificationOrder {
    /// Every problem, joined; `Ok` when it can be stored.
    pub fn validate(&self) -> Result<(), String> {
        let mut p = Vec::new();
        if self.deadline < self.issued_on {
            p.push(format!("deadline {} is before issued_on {}", self.deadline, self.issued_on));
        }
        p.extend(check_text("reason", &self.reason, MAX_TEXT_CHARS, true).err());
        if let Some(f) = &self.finding_id {
            p.extend(check_text("finding_id", f, 200, true).err());
        }
        joined(p)
    }
}

/// A stored rectification order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Whether it was (or, still open on `today`, is) late: completed after
    /// its deadline, or not completed and `today` is past the deadline.
    pub fn overdue(&self, today: NaiveDate) -> bool {
        self.completed_on.unwrap_or(today) > self.deadline
    }
}

/// A firm's grade for one year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmGrade {
    /// The firm.
    pub firm_id: String,
    /// The year graded.
    pub year: i32,
    /// `A`, `B`, `C` or `D`.
    pub grade: String,
    /// Whether its self-declaration and service commitment were published
    /// that year (`None`: not recorded).
    pub self_declared: Option<bool>,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: Timestamp,
}

/// Checks a grade for a year: `A`–`D`, a plausible year, and N §III.(三).2 —
/// from 2021 a firm that has not published its self-declaration cannot be
/// graded B or better.
pub fn validate_grade(year: i32, grade: &str, self_declared: Option<bool>) -> Result<(), String> {
    let mut p = Vec::new();
    if !(2000..=2200).contains(&year) {
        p.push(format!("year {year} must be between 2000 and 2200"));
    }
    p.extend(subject_problem("grade", grade, &GRADES));
    if year >= SELF_DECLARATION_RULE_FROM && self_declared == Some(false) && ["A", "B"].contains(&grade) {
        p.push(format!(
            "grade {grade} for {year} is not allowed: from {SELF_DECLARATION_RULE_FROM} a firm that has not published \
             its self-declaration cannot be graded B or better (N §III.(三).2)"
        ));
    }
    joined(p)
}
