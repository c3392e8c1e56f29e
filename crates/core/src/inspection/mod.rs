//! Attachment 2 of the pilot notice (A2): the adjusted inspection and
//! testing schedule. Elevators in the pilot areas swap the yearly periodic
//! inspection (检验) for a mix of inspections and cheaper tests (检测).
//!
//! Data flows through the modules in order: [`facts`] (what the regulator
//! records about an elevator) → [`schedule`] (what is due, when, by which
//! [`clause`]) → [`results`] (what was done, uploads judged by the
//! working-day [`calendar`]) → [`exit`] (leaving the testing pilot, and the
//! stop order). All pure: no clock, no I/O; the calendar files are passed
//! in as text. docs/inspection.md explains the rules with worked examples.

pub mod calendar;
pub mod clause;
pub mod exit;
pub mod facts;
pub mod results;
pub mod schedule;

pub use calendar::{CalendarError, CalendarYear, WorkCalendar};
pub use clause::{Clause, ClauseInfo, CLAUSES};
pub use exit::{exit_grounds, stop_ground, tests_not_done, ExitGround, StopGround};
pub use facts::{whole_city_start, Area, EquipmentFacts, ExitReason, OutOfService, TestingExit};
pub use results::{
    fulfilment, status, upload_deadline, upload_late, CheckResult, ItemStatus, NewCheckResult, UPLOAD_WORKING_DAYS,
};
pub use schedule::{
    in_testing_pilot, items_through, ordinary_because, schedule, AgeBasis, BasisKind, CheckKind, DueItem, Regime,
};
