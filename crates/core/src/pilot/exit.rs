//! After the pilot: the 2-year bans of A1 §IV. A project that left the pilot
//! may not be brought back by the same firm for 2 years (A1 §IV.(一) ¶last:
//! "试点维保单位2年内不得再次申请该项目试点。该项目更换维保单位后，可重新申请试点");
//! a disqualified firm may not apply again in the city for 2 years
//! (A1 §IV.(二) ¶last: "试点维保单位2年内不得再次申请在本地试点").

use chrono::{Months, NaiveDate};

/// The years of both bans (A1 §IV.(一) ¶last, §IV.(二) ¶last): 2.
pub const PILOT_BAN_YEARS: u32 = 2;

/// The first day a ban that began on `on` no longer applies: `on` plus
/// `years` calendar years (29 February + 2 years is 28 February, clamped
/// like every month arithmetic here). "2年内" is read as the two years
/// from the day of the exit or disqualification: the day two years later
/// is the first day allowed. `NaiveDate::MAX` when the arithmetic overflows.
pub fn ban_ends(on: NaiveDate, years: u32) -> NaiveDate {
    on.checked_add_months(Months::new(years.saturating_mul(12))).unwrap_or(NaiveDate::MAX)
}

/// Whether a ban that began on `on` still applies on `day`.
pub fn banned_on(on: NaiveDate, years: u32, day: NaiveDate) -> bool {
    day < ban_ends(on, years)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn two_years_to_the_day() {
        let on = d("2026-03-15");
        assert_eq!(ban_ends(on, PILOT_BAN_YEARS), d("2028-03-15"));
        assert!(banned_on(on, 2, d("2028-03-14")), "the day before");
        assert!(!banned_on(on, 2, d("2028-03-15")), "two years later to the day");
        assert!(banned_on(on, 2, on), "from the day itself");
        assert_eq!(ban_ends(d("2028-02-29"), 2), d("2030-02-28"), "leap day clamps");
        assert_eq!(ban_ends(NaiveDate::MAX, 2), NaiveDate::MAX, "no overflow panic");
    }
}
