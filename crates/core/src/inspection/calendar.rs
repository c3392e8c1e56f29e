//! China's official working-day calendar, for the 10 working days of A2
//! §二.(二).4: the weekdays, less the public holidays, plus the weekend days
//! worked in their place (调休). The days come from the State Council's
//! yearly notice (国务院办公厅关于部分节假日安排的通知), one data file per
//! year (`crates/core/data/calendar/cn-YYYY.toml`), not from code: the
//! shipped files are compiled in ([`WorkCalendar::shipped`]) and any year
//! can be replaced by a file read at run time ([`WorkCalendar::load`]).
//!
//! File format (TOML): `year`, `source` (the notice), `provisional`
//! (true while the notice is not published), `holidays` (days or inclusive
//! ranges `"first..last"`) and `working_weekends`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Deserialize;

/// The calendar files shipped with liftwatch, by file name.
pub const SHIPPED: &[(&str, &str)] = &[
    ("cn-2021.toml", include_str!("../../data/calendar/cn-2021.toml")),
    ("cn-2022.toml", include_str!("../../data/calendar/cn-2022.toml")),
    ("cn-2023.toml", include_str!("../../data/calendar/cn-2023.toml")),
    ("cn-2024.toml", include_str!("../../data/calendar/cn-2024.toml")),
    ("cn-2025.toml", include_str!("../../data/calendar/cn-2025.toml")),
    ("cn-2026.toml", include_str!("../../data/calendar/cn-2026.toml")),
    ("cn-2027.toml", include_str!("../../data/calendar/cn-2027.toml")),
];

/// Why a calendar file or a question to the calendar was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The file is not the TOML described in the module documentation.
    #[error("calendar file is not valid: {0}")]
    Parse(String),
    /// The file parses but its days are wrong; every problem is listed.
    #[error("calendar file for {year} is wrong: {}", problems.join("; "))]
    Invalid {
        /// Its year.
        year: i32,
        /// Each problem.
        problems: Vec<String>,
    },
    /// No calendar is loaded for the year: add its file.
    #[error("no working-day calendar for {0}: add a cn-{0}.toml calendar file")]
    NotCovered(i32),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    year: i32,
    source: String,
    #[serde(default)]
    provisional: bool,
    holidays: Vec<String>,
    working_weekends: Vec<String>,
}

/// One year of the calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarYear {
    /// The year.
    pub year: i32,
    /// The notice it comes from.
    pub source: String,
    /// True while the State Council's notice is not known.
    pub provisional: bool,
    /// Days off (weekend days in a holiday range included).
    pub holidays: BTreeSet<NaiveDate>,
    /// Weekend days that are working days.
    pub working_weekends: BTreeSet<NaiveDate>,
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn day(s: &str, problems: &mut Vec<String>) -> Option<NaiveDate> {
    s.trim().parse().map_err(|_| problems.push(format!("{s:?} is not a day (YYYY-MM-DD)"))).ok()
}

impl CalendarYear {
    /// Parses and checks one file: every day in its year, ranges in order,
    /// adjusted working days on a Saturday or Sunday and not also a holiday.
    pub fn parse(contents: &str) -> Result<Self, CalendarError> {
        let f: File = toml::from_str(contents).map_err(|e| CalendarError::Parse(e.to_string()))?;
        let mut problems = Vec::new();
        let mut holidays = BTreeSet::new();
        for h in &f.holidays {
            let (a, b) = h.split_once("..").unwrap_or((h, h));
            let (Some(a), Some(b)) = (day(a, &mut problems), day(b, &mut problems)) else { continue };
            if b < a {
                problems.push(format!("holiday range {h:?} ends before it begins"));
            }
            holidays.extend(a.iter_days().take_while(|d| *d <= b));
        }
        let mut working_weekends = BTreeSet::new();
        for w in &f.working_weekends {
            let Some(d) = day(w, &mut problems) else { continue };
            if !is_weekend(d) {
                problems.push(format!("working weekend day {d} is a {}, not a Saturday or Sunday", d.weekday()));
            }
            if holidays.contains(&d) {
                problems.push(format!("{d} is both a holiday and a working day"));
            }
            working_weekends.insert(d);
        }
        for d in holidays.iter().chain(&working_weekends).filter(|d| d.year() != f.year) {
            problems.push(format!("{d} is not in {}", f.year));
        }
        if !problems.is_empty() {
            return Err(CalendarError::Invalid { year: f.year, problems });
        }
        Ok(CalendarYear { year: f.year, source: f.source, provisional: f.provisional, holidays, working_weekends })
    }

    /// Whether `d` (of this year) is a working day.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        self.working_weekends.contains(&d) || (!is_weekend(d) && !self.holidays.contains(&d))
    }
}

/// The working-day calendar: the years loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    years: BTreeMap<i32, CalendarYear>,
}

impl WorkCalendar {
    /// No year: every question is [`CalendarError::NotCovered`].
    pub fn empty() -> Self {
        Self::default()
    }

    /// The shipped files ([`SHIPPED`]; each is tested to parse).
    pub fn shipped() -> Self {
        let mut c = Self::empty();
        for (_, contents) in SHIPPED {
            // A shipped file that does not parse is caught by the tests;
            // leaving its year out makes every question about it an error.
            let _ = c.load(contents);
        }
        c
    }

    /// Loads one file (e.g. read from `--calendar-dir` at start-up),
    /// replacing the year it covers; returns the year.
    pub fn load(&mut self, contents: &str) -> Result<i32, CalendarError> {
        let y = CalendarYear::parse(contents)?;
        let year = y.year;
        self.years.insert(year, y);
        Ok(year)
    }

    /// A loaded year.
    pub fn year(&self, year: i32) -> Option<&CalendarYear> {
        self.years.get(&year)
    }

    /// The years loaded.
    pub fn years(&self) -> impl Iterator<Item = &CalendarYear> {
        self.years.values()
    }

    /// Whether `d` is a working day.
    pub fn is_working_day(&self, d: NaiveDate) -> Result<bool, CalendarError> {
        self.years.get(&d.year()).map(|y| y.is_working_day(d)).ok_or(CalendarError::NotCovered(d.year()))
    }

    /// The `n`-th working day after `from` (`from` itself not counted):
    /// "within 10 working days of the test" ends on `add_working_days(test, 10)`.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut d = from;
        let mut left = n;
        while left > 0 {
            d = d.checked_add_days(Days::new(1)).ok_or(CalendarError::NotCovered(d.year()))?;
            if self.is_working_day(d)? {
                left -= 1;
            }
        }
        Ok(d)
    }

    /// Working days after `from` up to and including `to` (0 when `to` is not later).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> Result<u32, CalendarError> {
        let mut n = 0;
        for d in from.iter_days().skip(1).take_while(|d| *d <= to) {
            n += u32::from(self.is_working_day(d)?);
        }
        Ok(n)
    }
}
