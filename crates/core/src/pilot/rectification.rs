//! Rectification orders (责令整改, A1 §III) and their deadlines: a
//! rectification not completed by its deadline takes the project out of the
//! pilot (A1 §IV.(一).1).

use chrono::NaiveDate;

use crate::validation::ValidationError;

/// A1 §IV.(一).1: whether a rectification was (or, still open on `today`,
/// is) late — completed after its deadline, or not completed and `today` is
/// after the deadline. Completing on the deadline day is in time; an open
/// order is overdue from the day after its deadline.
pub fn rectification_overdue(deadline: NaiveDate, completed_on: Option<NaiveDate>, today: NaiveDate) -> bool {
    completed_on.unwrap_or(today) > deadline
}

/// A1 §III: an order's deadline cannot come before the day it was issued.
pub fn check_deadline(issued_on: NaiveDate, deadline: NaiveDate) -> Result<(), ValidationError> {
    if deadline < issued_on {
        return Err(ValidationError::new("deadline", format!("{deadline} is before issued_on {issued_on}")));
    }
    Ok(())
}

/// A rectification cannot be completed before its order was issued (the
/// completion day may be corrected later, but never to before the order).
pub fn check_completion(issued_on: NaiveDate, completed_on: NaiveDate) -> Result<(), ValidationError> {
    if completed_on < issued_on {
        return Err(ValidationError::new(
            "completed_on",
            format!("{completed_on} is before the order was issued on {issued_on}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn open_orders_are_overdue_from_the_day_after_the_deadline() {
        let deadline = d("2026-11-10");
        assert!(!rectification_overdue(deadline, None, d("2026-11-09")));
        assert!(!rectification_overdue(deadline, None, d("2026-11-10")), "on the due date: not yet");
        assert!(rectification_overdue(deadline, None, d("2026-11-11")), "the day after");
    }

    #[test]
    fn completed_orders_are_judged_by_their_completion_day() {
        let deadline = d("2026-11-10");
        assert!(!rectification_overdue(deadline, Some(d("2026-11-10")), d("2027-01-01")), "on the deadline");
        assert!(rectification_overdue(deadline, Some(d("2026-11-11")), d("2026-11-11")), "one day late stays late");
        assert!(rectification_overdue(deadline, Some(d("2026-11-12")), d("2027-06-01")));
        assert!(!rectification_overdue(deadline, Some(d("2026-11-01")), d("2026-11-30")), "early");
    }

    #[test]
    fn deadlines_and_completions_not_before_the_order() {
        assert!(check_deadline(d("2026-11-03"), d("2026-11-03")).is_ok(), "same day");
        let e = check_deadline(d("2026-11-03"), d("2026-11-02")).unwrap_err();
        assert_eq!(e.to_string(), "field `deadline`: 2026-11-02 is before issued_on 2026-11-03");
        assert!(check_completion(d("2026-11-03"), d("2026-11-03")).is_ok());
        assert_eq!(check_completion(d("2026-11-03"), d("2026-11-02")).unwrap_err().field, "completed_on");
    }
}
