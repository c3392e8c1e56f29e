//! Which days of an elevator's records a maintenance firm reaches
//! (docs/api.md "Tenancy"). A firm is the supervised party: it reads the
//! faults, entrapments, visits and figures of an elevator only for the days
//! one of its projects had the elevator, and writes only while it holds the
//! elevator, for days of the tenure that holds it today. Regulators reach
//! every day; they are not modelled here.
//!
//! The rules, the strictest that still let a firm do its job:
//! - **read**: the days of its tenures that have begun (a membership starting
//!   in the future grants nothing yet; one that ended keeps its own days
//!   readable — its history — and nothing after);
//! - **write** (a visit, a cause correction, a reported arrival): the firm
//!   must hold the elevator today, and the record's day must fall in the
//!   unbroken run of its tenures that holds it today. A firm that handed the
//!   elevator on writes nothing more, not even about days it maintained it
//!   (its records of those days were due while it held the elevator); a firm
//!   that took it over writes nothing about days before it did.

use chrono::NaiveDate;

/// One membership of an elevator, seen as the tenure of the firm of its
/// project: the days `since..=until` (`until` `None` while it lasts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenure {
    /// The firm of the project.
    pub firm: String,
    /// First day.
    pub since: NaiveDate,
    /// Last day, if it ended (or is set to end).
    pub until: Option<NaiveDate>,
}

/// A span of days `from..=to` (`to` `None`: open-ended).
pub type DaySpan = (NaiveDate, Option<NaiveDate>);

/// What one firm may do with one elevator's records on one day ("today").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirmAccess {
    /// The days whose records it reads: its tenures begun by today, in order.
    pub read: Vec<DaySpan>,
    /// The days whose records it may write: the unbroken run of its tenures
    /// that holds today; `None` when it does not hold the elevator today.
    pub write: Option<DaySpan>,
    /// Today, as the rules were applied.
    pub today: NaiveDate,
}

/// Why a firm may not write a record of an elevator it may see.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WriteRefused {
    /// It does not hold the elevator today (it handed it on).
    #[error("the firm does not maintain this elevator today ({today}): the records of the days it did are read-only")]
    NotHeld {
        /// Today.
        today: NaiveDate,
    },
    /// The record's day is outside the tenure that holds the elevator today.
    #[error(
        "{day} is outside the firm's tenure of this elevator ({from} to {}): a firm records only for the days it \
         maintains the elevator, and only while it does", to.map_or_else(|| "now".to_owned(), |d| d.to_string())
    )]
    OutsideTenure {
        /// The record's day.
        day: NaiveDate,
        /// First day of the tenure that holds the elevator today.
        from: NaiveDate,
        /// Its last day, if set.
        to: Option<NaiveDate>,
    },
}

fn covers((from, to): DaySpan, day: NaiveDate) -> bool {
    from <= day && to.is_none_or(|t| day <= t)
}

impl FirmAccess {
    /// The access of `firm` on `today` from all the tenures of one elevator
    /// (every firm's, in any order; they never overlap).
    pub fn of(tenures: &[Tenure], firm: &str, today: NaiveDate) -> FirmAccess {
        let mut own: Vec<DaySpan> =
            tenures.iter().filter(|t| t.firm == firm && t.since <= today).map(|t| (t.since, t.until)).collect();
        own.sort_unstable();
        // Runs of back-to-back tenures (the elevator moved between two of
        // the firm's projects) count as one.
        let mut runs: Vec<DaySpan> = Vec::with_capacity(own.len());
        for (since, until) in own.iter().copied() {
            match runs.last_mut() {
                Some(last) if last.1.and_then(|end| end.succ_opt()) == Some(since) => last.1 = until,
                _ => runs.push((since, until)),
            }
        }
        let write = runs.iter().copied().find(|r| covers(*r, today));
        FirmAccess { read: own, write, today }
    }

    /// Whether the firm may see the elevator at all (else: as if it did not exist).
    pub fn visible(&self) -> bool {
        !self.read.is_empty()
    }

    /// Whether the firm reads the records of `day`.
    pub fn reads(&self, day: NaiveDate) -> bool {
        self.read.iter().any(|s| covers(*s, day))
    }

    /// Whether the firm may write a record of `day`.
    pub fn check_write(&self, day: NaiveDate) -> Result<(), WriteRefused> {
        let Some(run) = self.write else { return Err(WriteRefused::NotHeld { today: self.today }) };
        if covers(run, day) {
            Ok(())
        } else {
            Err(WriteRefused::OutsideTenure { day, from: run.0, to: run.1 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn tenure(firm: &str, since: &str, until: Option<&str>) -> Tenure {
        Tenure { firm: firm.into(), since: d(since), until: until.map(d) }
    }

    /// Firm `a` until 2026-06-30, `b` since 2026-07-01.
    fn takeover() -> Vec<Tenure> {
        vec![tenure("a", "2026-01-01", Some("2026-06-30")), tenure("b", "2026-07-01", None)]
    }

    #[test]
    fn the_new_firm_reads_and_writes_only_from_its_takeover() {
        let b = FirmAccess::of(&takeover(), "b", d("2026-11-28"));
        assert!(b.visible());
        assert!(!b.reads(d("2026-06-30")) && b.reads(d("2026-07-01")) && b.reads(d("2026-11-28")));
        assert_eq!(b.check_write(d("2026-11-01")), Ok(()));
        assert_eq!(b.check_write(d("2026-07-01")), Ok(()));
        assert_eq!(
            b.check_write(d("2026-06-30")),
            Err(WriteRefused::OutsideTenure { day: d("2026-06-30"), from: d("2026-07-01"), to: None })
        );
    }

    #[test]
    fn the_previous_firm_reads_its_days_and_writes_nothing() {
        let a = FirmAccess::of(&takeover(), "a", d("2026-11-28"));
        assert!(a.visible());
        assert!(a.reads(d("2026-06-30")) && !a.reads(d("2026-07-01")));
        assert_eq!(a.check_write(d("2026-06-01")), Err(WriteRefused::NotHeld { today: d("2026-11-28") }));
        assert!(a.check_write(d("2026-06-01")).unwrap_err().to_string().contains("read-only"));
    }

    #[test]
    fn a_future_membership_grants_nothing_before_it_starts() {
        let t = vec![tenure("a", "2026-01-01", Some("2026-11-30")), tenure("b", "2026-12-01", None)];
        let b = FirmAccess::of(&t, "b", d("2026-11-28"));
        assert!(!b.visible());
        assert!(!b.reads(d("2026-12-01")));
        assert!(b.check_write(d("2026-11-28")).is_err());
        let b = FirmAccess::of(&t, "b", d("2026-12-01"));
        assert!(b.visible() && b.check_write(d("2026-12-01")).is_ok() && b.check_write(d("2026-11-30")).is_err());
    }

    #[test]
    fn a_firm_that_comes_back_writes_only_in_its_present_tenure() {
        let t = vec![
            tenure("a", "2026-01-01", Some("2026-03-31")),
            tenure("b", "2026-04-01", Some("2026-06-30")),
            tenure("a", "2026-07-01", None),
        ];
        let a = FirmAccess::of(&t, "a", d("2026-11-28"));
        assert!(a.reads(d("2026-02-01")) && !a.reads(d("2026-05-01")) && a.reads(d("2026-08-01")));
        assert!(a.check_write(d("2026-02-01")).is_err(), "an earlier tenure is history");
        assert!(a.check_write(d("2026-08-01")).is_ok());
    }

    #[test]
    fn back_to_back_tenures_of_one_firm_are_one_run() {
        // The elevator moved between two projects of the same firm.
        let t = vec![tenure("a", "2026-01-01", Some("2026-06-30")), tenure("a", "2026-07-01", None)];
        let a = FirmAccess::of(&t, "a", d("2026-11-28"));
        assert_eq!(a.write, Some((d("2026-01-01"), None)));
        assert!(a.check_write(d("2026-02-01")).is_ok());
        // A run set to end keeps its end.
        let t = vec![tenure("a", "2026-01-01", Some("2026-06-30")), tenure("a", "2026-07-01", Some("2026-12-31"))];
        let a = FirmAccess::of(&t, "a", d("2026-11-28"));
        assert_eq!(a.write, Some((d("2026-01-01"), Some(d("2026-12-31")))));
        assert!(a.check_write(d("2027-01-01")).is_err());
    }

    #[test]
    fn another_firm_sees_nothing() {
        let c = FirmAccess::of(&takeover(), "c", d("2026-11-28"));
        assert!(!c.visible() && c.write.is_none() && !c.reads(d("2026-08-01")));
    }
}
