//! Repair deadlines of graded faults (A1 §V.(一).2: "对于电梯安全运行监测系统所监测的故障应进行分级分类管理，
//! 并针对分级分类的故障项目提出修复和保养的时效要求"). The source requires a deadline
//! per grade but sets none; the defaults are those of the protocol spec
//! (docs/pilot.md §7) and every one is configurable.

use crate::protocol::{Grade, Timestamp, MICROS_PER_MINUTE};

/// Default repair deadline of a grade-1 fault, hours.
pub const DEFAULT_GRADE_1_REPAIR_HOURS: u32 = 4;
/// Default repair deadline of a grade-2 fault, hours.
pub const DEFAULT_GRADE_2_REPAIR_HOURS: u32 = 24;
/// Default repair deadline of a grade-3 fault (and of codes not in the table), hours.
pub const DEFAULT_GRADE_3_REPAIR_HOURS: u32 = 72;

/// The instant by which a fault detected at `start` must be cleared.
pub fn repair_due_at(start: Timestamp, hours: u32) -> Timestamp {
    Timestamp(start.0.saturating_add(i64::from(hours) * 60 * MICROS_PER_MINUTE))
}

/// Whether a fault detected at `start` and still open at `now` is past its
/// deadline (open exactly at the deadline is in time).
pub fn repair_overdue(start: Timestamp, hours: u32, now: Timestamp) -> bool {
    now > repair_due_at(start, hours)
}

/// The grade's default deadline, hours (grades outside 1–2 take grade 3's).
pub fn default_repair_hours(grade: Grade) -> u32 {
    match grade {
        1 => DEFAULT_GRADE_1_REPAIR_HOURS,
        2 => DEFAULT_GRADE_2_REPAIR_HOURS,
        _ => DEFAULT_GRADE_3_REPAIR_HOURS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_inclusive() {
        let s = Timestamp(1_000);
        let due = repair_due_at(s, 4);
        assert_eq!(due.0 - s.0, 4 * 60 * MICROS_PER_MINUTE);
        assert!(!repair_overdue(s, 4, due));
        assert!(repair_overdue(s, 4, Timestamp(due.0 + 1)));
        assert_eq!([1, 2, 3, 9].map(default_repair_hours), [4, 24, 72, 72]);
    }
}
