//! How often a pilot project must be maintained on site and checked
//! remotely (A1 §I.(二)); exceeding either is the first ground for a
//! rectification order (A1 §III.(一)).

use chrono::{Months, NaiveDate};

use crate::registry::ProjectMode;

/// A1 §I.(二): the longest gap between on-site maintenance visits, in
/// calendar months: `iot` and `remote_pension` 3, `remote_full_service` 2,
/// `remote` 1.
pub fn max_onsite_interval_months(mode: ProjectMode) -> u32 {
    match mode {
        ProjectMode::Iot | ProjectMode::RemotePension => 3,
        ProjectMode::RemoteFullService => 2,
        ProjectMode::Remote => 1,
    }
}

/// A1 §I.(二): the remote photo/video check (远程检查) of the `remote*` modes
/// is due every 15 days; `iot` projects are monitored in real time instead
/// (`None`).
pub fn remote_check_interval_days(mode: ProjectMode) -> Option<u32> {
    match mode {
        ProjectMode::Iot => None,
        ProjectMode::RemotePension | ProjectMode::RemoteFullService | ProjectMode::Remote => Some(15),
    }
}

/// The last local day on which the next on-site visit is in time after one
/// on `last` (A1 §I.(二)): `last` plus the mode's months, clamped to the end
/// of a shorter month (after 2026-11-30, an `iot` project is due by
/// 2027-02-28). `NaiveDate::MAX` when the arithmetic overflows (never due).
///
/// `last` is the day of the latest on-site visit; with none yet, the caller
/// passes the day the obligation started (e.g. the admission day).
pub fn onsite_due_by(mode: ProjectMode, last: NaiveDate) -> NaiveDate {
    last.checked_add_months(Months::new(max_onsite_interval_months(mode))).unwrap_or(NaiveDate::MAX)
}

/// A1 §III.(一): whether the on-site interval is exceeded on `day` (a visit on
/// `day`, or no visit up to `day`): `day` is after [`onsite_due_by`]. A visit
/// exactly N months later is in time; one day more is late.
pub fn onsite_interval_exceeded(mode: ProjectMode, last: NaiveDate, day: NaiveDate) -> bool {
    day > onsite_due_by(mode, last)
}

/// A1 §III.(一): whether the remote-check interval is exceeded on `day` after a
/// check on `last`: more than 15 days later (never for `iot`).
pub fn remote_check_interval_exceeded(mode: ProjectMode, last: NaiveDate, day: NaiveDate) -> bool {
    remote_check_interval_days(mode).is_some_and(|n| (day - last).num_days() > i64::from(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn months_per_mode_are_those_of_the_notice() {
        let m: Vec<_> = ProjectMode::ALL.iter().map(|m| max_onsite_interval_months(*m)).collect();
        assert_eq!(m, [3, 3, 2, 1]);
        assert_eq!(remote_check_interval_days(ProjectMode::Iot), None);
        assert_eq!(remote_check_interval_days(ProjectMode::Remote), Some(15));
    }

    #[test]
    fn exactly_n_months_is_in_time_one_day_more_is_late() {
        let last = d("2026-01-15");
        assert_eq!(onsite_due_by(ProjectMode::Iot, last), d("2026-04-15"));
        assert!(!onsite_interval_exceeded(ProjectMode::Iot, last, d("2026-04-15")));
        assert!(onsite_interval_exceeded(ProjectMode::Iot, last, d("2026-04-16")));
        assert!(!onsite_interval_exceeded(ProjectMode::RemotePension, last, d("2026-04-15")));
        assert!(onsite_interval_exceeded(ProjectMode::RemoteFullService, last, d("2026-03-16")));
        assert!(!onsite_interval_exceeded(ProjectMode::RemoteFullService, last, d("2026-03-15")));
        assert!(onsite_interval_exceeded(ProjectMode::Remote, last, d("2026-02-16")));
        assert!(!onsite_interval_exceeded(ProjectMode::Remote, last, d("2026-02-15")));
    }

    #[test]
    fn month_ends_clamp() {
        // 30 November + 3 months: 30 February does not exist, 28 February is the limit.
        let last = d("2026-11-30");
        assert_eq!(onsite_due_by(ProjectMode::Iot, last), d("2027-02-28"));
        assert!(!onsite_interval_exceeded(ProjectMode::Iot, last, d("2027-02-28")));
        assert!(onsite_interval_exceeded(ProjectMode::Iot, last, d("2027-03-01")));
        // In a leap year, the 29th.
        assert_eq!(onsite_due_by(ProjectMode::Remote, d("2028-01-31")), d("2028-02-29"));
        assert!(onsite_interval_exceeded(ProjectMode::Remote, d("2028-01-31"), d("2028-03-01")));
        // 31 August + 1 month is 30 September.
        assert_eq!(onsite_due_by(ProjectMode::Remote, d("2026-08-31")), d("2026-09-30"));
        assert!(onsite_interval_exceeded(ProjectMode::Remote, d("2026-08-31"), d("2026-10-01")));
        // Across a year end.
        assert_eq!(onsite_due_by(ProjectMode::RemoteFullService, d("2026-12-31")), d("2027-02-28"));
    }

    #[test]
    fn a_visit_on_the_same_or_an_earlier_day_is_never_late() {
        assert!(!onsite_interval_exceeded(ProjectMode::Remote, d("2026-05-01"), d("2026-05-01")));
        assert!(!onsite_interval_exceeded(ProjectMode::Remote, d("2026-05-01"), d("2026-04-01")));
        assert_eq!(onsite_due_by(ProjectMode::Iot, NaiveDate::MAX), NaiveDate::MAX, "no overflow panic");
    }

    #[test]
    fn remote_checks_every_15_days() {
        let last = d("2026-02-20");
        assert!(!remote_check_interval_exceeded(ProjectMode::Remote, last, d("2026-03-07")), "15 days later");
        assert!(remote_check_interval_exceeded(ProjectMode::Remote, last, d("2026-03-08")), "16 days later");
        assert!(remote_check_interval_exceeded(ProjectMode::RemotePension, last, d("2026-03-08")));
        assert!(!remote_check_interval_exceeded(ProjectMode::Iot, last, d("2027-01-01")), "iot: none due");
    }
}
