//! The adjusted schedule (A2 §一, §三, §五): for an elevator and a year,
//! what is due — an inspection (检验) or a test (检测) — in which month,
//! within which window, and by which clause. Pure: facts in, items out.
//!
//! # What "year N after the supervisory inspection" means
//!
//! The yearly check falls in the original inspection month
//! ([`EquipmentFacts::inspection_month`], A2 §三.3). The check of calendar
//! month `M` belongs to age year `N`, the number of whole years from the
//! month of the supervisory inspection to `M`, rounded to the nearest (half
//! a year rounds up). So the check of year N is the one due on (or in the
//! month nearest to) the N-th anniversary of the supervisory inspection,
//! the way the ordinary first periodic inspection falls due a year after it
//! (TSG T7001: 下次检验日期). Supervised 2018-05-20 with inspections in May:
//! May 2019 is year 1 (a test), May 2021 year 3 (an inspection), May 2033
//! year 15 (an inspection, and a test 6 months later). A month that drifted
//! (supervised November 2018, inspected each January): January 2022 is 38
//! months on, year 3.
//!
//! A modernisation after the area's start (A2 §一 sentence 2) starts the
//! count again from its supervisory inspection, as does a major repair of an
//! elevator in use 6 years or more, at 6 (sentence 3); both move the month
//! to that supervisory inspection's month (its next check is a year later,
//! as for a new elevator). A major repair of a younger elevator replaces the
//! check due in the calendar year of its supervisory inspection (sentence 4).
//!
//! Each check is judged by the regime in force on the first day of its due
//! month: before the area's start, after an opt-out or a recorded exit, and
//! (before 2022-07-01) at 15 years or more without an application, it is the
//! ordinary yearly inspection. Checks falling due while the elevator is out
//! of service are suspended; on return come the checks A2 §一 sentence 5
//! (a year or more) or TSG 08 (shorter) asks for. docs/inspection.md has
//! worked examples.

use chrono::{Datelike, Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::clause::Clause;
use super::facts::{whole_city_start, EquipmentFacts};
use crate::validation::wire_enum;

wire_enum! {
    /// What is due: a periodic inspection by the inspection body, or a test.
    pub enum CheckKind as "kind" {
        /// 定期检验: the periodic inspection (TSG T7001), by the inspection body.
        Inspection = "inspection",
        /// 检测: the test (TSG 56号文附件3), by the owner, its firm or a test body.
        Test = "test",
    }
}

impl CheckKind {
    /// Whether a check of this kind does what `due` asks: an inspection
    /// covers a test (it examines more), a test does not cover an inspection.
    pub fn covers(self, due: CheckKind) -> bool {
        self == CheckKind::Inspection || due == CheckKind::Test
    }
}

wire_enum! {
    /// Which schedule a check belongs to.
    pub enum Regime as "regime" {
        /// The adjusted schedule of the pilot (A2 §一).
        Pilot = "pilot",
        /// The ordinary yearly periodic inspection (TSG T7001).
        Ordinary = "ordinary",
    }
}

wire_enum! {
    /// From what the age of a check is counted.
    pub enum BasisKind as "basis" {
        /// The installation supervisory inspection.
        Installation = "installation",
        /// A modernisation's supervisory inspection (A2 §一 sentence 2): counted as new.
        Modernisation = "modernisation",
        /// A major repair's supervisory inspection, in use 6 years or more (sentence 3): counted as 6.
        MajorRepair = "major_repair",
    }
}

/// The start of the age count a check's year is taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct AgeBasis {
    /// What started it.
    pub kind: BasisKind,
    /// The day of that supervisory inspection.
    pub on: NaiveDate,
    /// The age it counts as on that day (0, or 6 after a major repair).
    pub counted_as: u32,
}

/// One check due.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct DueItem {
    /// Inspection or test.
    pub kind: CheckKind,
    /// The first day of the month it is due in.
    pub due_month: NaiveDate,
    /// The first day it may be done.
    pub window_from: NaiveDate,
    /// The last day it may be done on time.
    pub window_to: NaiveDate,
    /// Its age year N (`None` for a check on return to service).
    pub age_year: Option<u32>,
    /// The schedule it belongs to.
    pub regime: Regime,
    /// The clause that makes it due.
    pub clause: Clause,
    /// Other clauses it applies (the window, the age basis, a replacement).
    pub also: Vec<Clause>,
    /// What its age is counted from (`None` on return to service).
    pub age_basis: Option<AgeBasis>,
    /// The day of the major repair's supervisory inspection that replaces it
    /// (A2 §一 sentence 4): nothing is left to do.
    pub replaced_by: Option<NaiveDate>,
}

/// The checks due in calendar `year`, by due month (inspection before test).
pub fn schedule(facts: &EquipmentFacts, year: i32) -> Vec<DueItem> {
    let mut v = items_through(facts, year);
    v.retain(|i| i.due_month.year() == year);
    v
}

/// Every check due from the supervisory inspection to the end of `last_year`,
/// by due month (inspection before test).
pub fn items_through(facts: &EquipmentFacts, last_year: i32) -> Vec<DueItem> {
    if facts.supervised_on.year() > last_year || !(1..=12).contains(&facts.inspection_month) {
        return Vec::new();
    }
    let epochs = epochs(facts);
    let replacements = replacements(facts, &epochs);
    let mut out = Vec::new();
    let mut suspended: Vec<Suspended> = Vec::new();
    for slot in base_slots(&epochs, facts.supervised_on.year(), last_year) {
        regular_items(facts, &slot, &replacements, &mut out, &mut suspended);
    }
    out.extend(return_items(facts, &epochs, &suspended));
    out.retain(|i| i.due_month.year() <= last_year);
    out.sort_by_key(|i| (i.due_month, i.kind, i.clause));
    out
}

/// The regime on `day` for an elevator of age year `age`: `None` in the
/// pilot, else the clause that keeps it out.
pub fn ordinary_because(facts: &EquipmentFacts, day: NaiveDate, age: u32) -> Option<Clause> {
    if day < facts.area.pilot_start() {
        return Some(Clause::AreaStart);
    }
    if facts.testing_exit.as_ref().is_some_and(|x| x.on <= day) {
        return Some(Clause::Exited);
    }
    if facts.opted_out_on.is_some_and(|d| d <= day) {
        return Some(Clause::OptOut);
    }
    let applied = facts.over_15_applied_on.is_some_and(|a| plus_months(a, 1) <= day);
    if age >= 15 && day < whole_city_start() && !applied {
        return Some(Clause::Over15Application);
    }
    None
}

/// Whether the elevator is in the testing pilot on `day` (its age counted
/// in whole years from its basis then).
pub fn in_testing_pilot(facts: &EquipmentFacts, day: NaiveDate) -> bool {
    let epochs = epochs(facts);
    let Some(e) = epochs.iter().rev().find(|e| e.basis.on <= day) else { return false };
    ordinary_because(facts, day, e.basis.counted_as + full_years(e.basis.on, day)).is_none()
}

/// The years an elevator in its inspection years has an inspection (A2 §一).
pub const INSPECTION_YEARS: [u32; 6] = [3, 6, 8, 10, 12, 14];
/// From this age year, one inspection and one test every year (A2 §一).
pub const BOTH_FROM_YEAR: u32 = 15;
/// Months a test may be done before or after its month (A2 §三.3).
pub const WINDOW_MONTHS: i64 = 2;
/// Stopped at least this many months: a test on return (A2 §一 sentence 5).
pub const LONG_STOP_MONTHS: u32 = 12;

/// The months since year 0 of a day.
fn month_index(d: NaiveDate) -> i64 {
    i64::from(d.year()) * 12 + i64::from(d.month0())
}

/// The first day of a month index.
fn first_of(idx: i64) -> NaiveDate {
    let (y, m) = (idx.div_euclid(12), idx.rem_euclid(12));
    i32::try_from(y).ok().and_then(|y| NaiveDate::from_ymd_opt(y, m as u32 + 1, 1)).unwrap_or(NaiveDate::MAX)
}

/// The last day of a month index.
fn last_of(idx: i64) -> NaiveDate {
    first_of(idx + 1).checked_sub_days(Days::new(1)).unwrap_or(NaiveDate::MAX)
}

fn plus_months(d: NaiveDate, n: u32) -> NaiveDate {
    d.checked_add_months(Months::new(n)).unwrap_or(NaiveDate::MAX)
}

/// Whole years from `from` to `to` (0 when `to` is earlier).
fn full_years(from: NaiveDate, to: NaiveDate) -> u32 {
    let mut y = to.year() - from.year();
    if (to.month(), to.day()) < (from.month(), from.day()) {
        y -= 1;
    }
    u32::try_from(y).unwrap_or(0)
}

/// A stretch of the elevator's life with one age count and one month.
#[derive(Clone, Copy, Debug)]
struct Epoch {
    basis: AgeBasis,
    month: u32,
}

impl Epoch {
    fn clause(&self) -> Option<Clause> {
        match self.basis.kind {
            BasisKind::Installation => None,
            BasisKind::Modernisation => Some(Clause::Modernised),
            BasisKind::MajorRepair => Some(Clause::MajorRepairOver6),
        }
    }
}

/// The age counts: the installation, then each modernisation after the
/// area's start and each major repair at 6 years or more, in date order.
fn epochs(facts: &EquipmentFacts) -> Vec<Epoch> {
    let start = facts.area.pilot_start();
    let first = AgeBasis { kind: BasisKind::Installation, on: facts.supervised_on, counted_as: 0 };
    let mut v = vec![Epoch { basis: first, month: facts.inspection_month }];
    let mut events: Vec<(NaiveDate, BasisKind)> = facts
        .modernisations
        .iter()
        .filter(|d| **d >= start)
        .map(|d| (*d, BasisKind::Modernisation))
        .chain(facts.major_repairs.iter().map(|d| (*d, BasisKind::MajorRepair)))
        .filter(|(d, _)| *d >= facts.supervised_on)
        .collect();
    events.sort();
    for (on, kind) in events {
        let last = v[v.len() - 1].basis;
        let counted_as = match kind {
            BasisKind::MajorRepair if last.counted_as + full_years(last.on, on) < 6 => continue,
            BasisKind::MajorRepair => 6,
            _ => 0,
        };
        v.push(Epoch { basis: AgeBasis { kind, on, counted_as }, month: on.month() });
    }
    v
}

/// The major repairs of an elevator under 6 years (sentence 4).
fn replacements(facts: &EquipmentFacts, epochs: &[Epoch]) -> Vec<NaiveDate> {
    facts
        .major_repairs
        .iter()
        .copied()
        .filter(|d| {
            let e = epochs.iter().rev().find(|e| e.basis.on <= *d);
            e.is_some_and(|e| e.basis.on != *d && e.basis.counted_as + full_years(e.basis.on, *d) < 6)
        })
        .collect()
}

/// One yearly slot: its month and age year under its epoch.
struct Slot {
    idx: i64,
    /// The month the next epoch starts (nothing of this one is due from it).
    end: i64,
    age: u32,
    epoch: Epoch,
}

/// The yearly slots of calendar years `from..=to`: each epoch's month in
/// each year, from its first anniversary to the next epoch's month.
fn base_slots(epochs: &[Epoch], from: i32, to: i32) -> Vec<Slot> {
    let mut v = Vec::new();
    for (i, e) in epochs.iter().enumerate() {
        let start = month_index(e.basis.on);
        let end = epochs.get(i + 1).map_or(i64::MAX, |n| month_index(n.basis.on));
        for y in from..=to {
            let idx = i64::from(y) * 12 + i64::from(e.month) - 1;
            let n = (idx - start + 6).div_euclid(12);
            if n >= 1 && idx < end {
                let age = e.basis.counted_as + u32::try_from(n).unwrap_or(u32::MAX);
                v.push(Slot { idx, end, age, epoch: *e });
            }
        }
    }
    v
}

/// A check that fell due while out of service.
struct Suspended {
    on: NaiveDate,
    inspection: bool,
}

fn out_of_service_on(facts: &EquipmentFacts, day: NaiveDate) -> bool {
    facts.out_of_service.iter().any(|s| s.from <= day && s.until.is_none_or(|u| day < u))
}

fn item(kind: CheckKind, idx: i64, slot: Option<&Slot>, regime: Regime, clause: Clause) -> DueItem {
    let to =
        if kind == CheckKind::Test && slot.is_some() && regime == Regime::Pilot { idx + WINDOW_MONTHS } else { idx };
    let mut also = Vec::new();
    if kind == CheckKind::Test && slot.is_some() {
        also.push(Clause::Window);
    }
    also.extend(slot.and_then(|s| s.epoch.clause()));
    DueItem {
        kind,
        due_month: first_of(idx),
        window_from: first_of(idx - WINDOW_MONTHS),
        window_to: last_of(to),
        age_year: slot.map(|s| s.age),
        regime,
        clause,
        also,
        age_basis: slot.map(|s| s.epoch.basis),
        replaced_by: None,
    }
}

/// The checks of one yearly slot (two from year 15), or their suspension.
fn regular_items(
    facts: &EquipmentFacts,
    slot: &Slot,
    replacements: &[NaiveDate],
    out: &mut Vec<DueItem>,
    suspended: &mut Vec<Suspended>,
) {
    let day = first_of(slot.idx);
    let ordinary = ordinary_because(facts, day, slot.age);
    let pilot_kinds: &[(CheckKind, i64, Clause)] = match slot.age {
        a if a >= BOTH_FROM_YEAR => &[(CheckKind::Inspection, 0, Clause::Over15), (CheckKind::Test, 6, Clause::Over15)],
        a if INSPECTION_YEARS.contains(&a) => &[(CheckKind::Inspection, 0, Clause::InspectionYears)],
        _ => &[(CheckKind::Test, 0, Clause::TestYears)],
    };
    let checks: Vec<(CheckKind, i64, Regime, Clause)> = match ordinary {
        Some(why) => vec![(CheckKind::Inspection, slot.idx, Regime::Ordinary, why)],
        None => pilot_kinds
            .iter()
            .map(|(k, off, c)| (*k, slot.idx + off, Regime::Pilot, *c))
            // The half-year test is not due once the elevator has left the
            // pilot or its count has started again.
            .filter(|(_, idx, _, _)| *idx < slot.end && ordinary_because(facts, first_of(*idx), slot.age).is_none())
            .collect(),
    };
    for (kind, idx, regime, clause) in checks {
        let due = first_of(idx);
        if out_of_service_on(facts, due) {
            suspended.push(Suspended { on: due, inspection: kind == CheckKind::Inspection });
            continue;
        }
        let mut it = item(kind, idx, Some(slot), regime, clause);
        if regime == Regime::Pilot {
            if let Some(r) = replacements.iter().find(|r| r.year() == due.year()) {
                it.replaced_by = Some(*r);
                it.also.push(Clause::MajorRepairWithin6);
            }
        }
        out.push(it);
    }
}

/// The checks due on return to service (A2 §一 sentence 5; TSG 08).
fn return_items(facts: &EquipmentFacts, epochs: &[Epoch], suspended: &[Suspended]) -> Vec<DueItem> {
    let mut out = Vec::new();
    for s in facts.stops() {
        let Some(back) = s.until else { continue };
        let missed: Vec<&Suspended> = suspended.iter().filter(|x| s.from <= x.on && x.on < back).collect();
        let inspection_missed = missed.iter().any(|x| x.inspection);
        let age = epochs
            .iter()
            .rev()
            .find(|e| e.basis.on <= back)
            .map_or(0, |e| e.basis.counted_as + full_years(e.basis.on, back));
        let idx = month_index(back);
        let long = plus_months(s.from, LONG_STOP_MONTHS) <= back;
        let kinds: Vec<(CheckKind, Regime, Clause)> = if long && ordinary_because(facts, back, age).is_none() {
            let mut k = vec![(CheckKind::Test, Regime::Pilot, Clause::StoppedOver1Year)];
            if inspection_missed {
                k.push((CheckKind::Inspection, Regime::Pilot, Clause::StoppedOver1Year));
            }
            k
        } else if missed.is_empty() {
            Vec::new()
        } else {
            let regime = if ordinary_because(facts, back, age).is_some() { Regime::Ordinary } else { Regime::Pilot };
            let kind =
                if inspection_missed || regime == Regime::Ordinary { CheckKind::Inspection } else { CheckKind::Test };
            vec![(kind, regime, Clause::Ordinary)]
        };
        out.extend(kinds.into_iter().map(|(k, r, c)| item(k, idx, None, r, c)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_arithmetic_is_exact() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(first_of(month_index(d("2024-02-29"))), d("2024-02-01"));
        assert_eq!(last_of(month_index(d("2024-02-10"))), d("2024-02-29"));
        assert_eq!(first_of(month_index(d("2024-01-10")) - 2), d("2023-11-01"));
        assert_eq!(full_years(d("2018-05-20"), d("2024-05-19")), 5);
        assert_eq!(full_years(d("2018-05-20"), d("2024-05-20")), 6);
        assert_eq!(full_years(d("2018-05-20"), d("2017-05-20")), 0);
    }
}
