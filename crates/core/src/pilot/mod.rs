//! The rules of the pilot, each written once as a pure function citing its
//! clause of the notice (`N`) or its attachments (`A1`, `A2`; see
//! `MISSION.md`). The store, the API and the rule engine call these; they
//! do not restate them.

pub mod correction;
pub mod entry;
pub mod exit;
pub mod grade;
pub mod maintenance;
pub mod membership;
pub mod rectification;
pub mod repair;
pub mod rescue;

pub use correction::{decide_correction, is_firm, CorrectionOutcome, CorrectionRequest, REGULATOR};
pub use entry::insured_on;
pub use exit::{ban_ends, banned_on, PILOT_BAN_YEARS};
pub use grade::{check_self_declaration, grade_allows_entry, SELF_DECLARATION_RULE_FROM};
pub use maintenance::{
    max_onsite_interval_months, onsite_due_by, onsite_interval_exceeded, remote_check_interval_days,
    remote_check_interval_exceeded,
};
pub use membership::{membership_end_on_removal, membership_start};
pub use rectification::{check_completion, check_deadline, rectification_overdue};
pub use repair::{
    default_repair_hours, repair_due_at, repair_overdue, DEFAULT_GRADE_1_REPAIR_HOURS, DEFAULT_GRADE_2_REPAIR_HOURS,
    DEFAULT_GRADE_3_REPAIR_HOURS,
};
pub use rescue::{
    check_reported_arrival, rescue_micros, rescue_minutes, rescue_too_slow, DEFAULT_RESCUE_LIMIT_MINUTES,
};
