//! Membership of elevators in pilot projects (api-v1.md "Registry"): when a
//! put project's elevator starts and stops belonging to it. KPIs count an
//! elevator for a project only on the days it belonged (MISSION
//! "Attribution"), so these days are the project's history.

use chrono::NaiveDate;

/// The first day an elevator newly listed in a project belongs to it: its
/// explicit `since`; else the admission day when the project is first put
/// (`project_created`); else the day of the request (`today`).
pub fn membership_start(
    since: Option<NaiveDate>,
    project_created: bool,
    admitted_on: NaiveDate,
    today: NaiveDate,
) -> NaiveDate {
    since.unwrap_or(if project_created { admitted_on } else { today })
}

/// What becomes of a current membership begun on `since` when a put leaves
/// the elevator out on `today`: it ends the day before the request
/// (`Some(last day)`), or, if it had not begun by then, it is removed (`None`).
pub fn membership_end_on_removal(since: NaiveDate, today: NaiveDate) -> Option<NaiveDate> {
    let until = today.pred_opt().unwrap_or(today);
    (until >= since).then_some(until)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn start_day() {
        let (adm, today) = (d("2026-01-01"), d("2026-11-28"));
        assert_eq!(membership_start(Some(d("2026-03-01")), true, adm, today), d("2026-03-01"));
        assert_eq!(membership_start(None, true, adm, today), adm, "first put: from admission");
        assert_eq!(membership_start(None, false, adm, today), today, "added later: from the request");
    }

    #[test]
    fn removal_ends_the_day_before_or_removes_a_future_membership() {
        let today = d("2026-11-28");
        assert_eq!(membership_end_on_removal(d("2026-01-01"), today), Some(d("2026-11-27")));
        assert_eq!(membership_end_on_removal(d("2026-11-27"), today), Some(d("2026-11-27")), "one day");
        assert_eq!(membership_end_on_removal(d("2026-11-28"), today), None, "begun today: never counted");
        assert_eq!(membership_end_on_removal(d("2026-12-01"), today), None, "not begun");
    }
}
