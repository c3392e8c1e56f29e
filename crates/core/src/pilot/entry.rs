//! The entry conditions of A1 §I.(一) that concern the elevators: every
//! elevator maintained in the pilot is covered by liability insurance
//! ("所维保的电梯已购买电梯责任保险"). The firm's conditions are in
//! [`super::grade`] (grade) and on [`crate::registry::Firm::self_declared`].

use chrono::NaiveDate;

/// Whether an elevator is insured on `day`: its cover ends on or after
/// `day` (the end day is covered). No recorded cover is not insured: the
/// condition must be shown, not assumed.
pub fn insured_on(insured_until: Option<NaiveDate>, day: NaiveDate) -> bool {
    insured_until.is_some_and(|u| u >= day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_day_is_covered() {
        let u = NaiveDate::from_ymd_opt(2026, 6, 30);
        assert!(insured_on(u, NaiveDate::from_ymd_opt(2026, 6, 30).unwrap()));
        assert!(!insured_on(u, NaiveDate::from_ymd_opt(2026, 7, 1).unwrap()));
        assert!(!insured_on(None, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()), "not recorded");
    }
}
