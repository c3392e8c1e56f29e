//! The rules of the pilot as findings: the catalogue ([`catalogue`]), what an
//! evaluation reads ([`Snapshot`]) and its thresholds ([`RulesConfig`]), the
//! pure evaluation ([`evaluate`]) and the findings' lifecycle
//! ([`reconcile`], [`project_status`]). Admission is checked by
//! [`admission_check`] with the same conditions.
//!
//! Each rule function reuses the clause's function in [`crate::pilot`] (the
//! interval of a mode, a deadline, the rescue limit, a ban) and adds the
//! finding: its subject, action, severity, evidence and summary. Nothing
//! here reads a clock or does I/O: the engine (in the service) builds the
//! snapshot, calls [`evaluate`] then [`reconcile`], and stores the changes.
//! docs/rules.md is the catalogue for people.

pub mod catalogue;
pub mod config;
pub mod entry;
mod evaluate;
pub mod finding;
mod incidents;
mod kpis;
pub mod lifecycle;
mod oversight;
mod plan;
pub mod snapshot;
mod testing;

pub use catalogue::{Action, RuleId, RuleInfo, Severity, CATALOGUE};
pub use config::{
    AccidentsConfig, BansConfig, ComplaintsConfig, EntryConfig, Hysteresis, InspectionsConfig, IotConfig, KpiConfig,
    PlanConfig, RepairConfig, RescueConfig, RulesConfig,
};
pub use entry::{admission_check, firm_ban_ends, readmission_possible_from, AdmissionRefusal, EntryCondition};
pub use evaluate::evaluate;
pub use finding::{Evidence, FindingDraft, RecordRef, Subject, Summary};
pub use lifecycle::{project_status, reconcile, Change, Clearing, OpenFinding};
pub use snapshot::{
    BoxMaintenance, Disqualification, EntrapmentIncident, FaultIncident, FirmFacts, GradeSource, PilotExit,
    ProjectFacts, Snapshot,
};
