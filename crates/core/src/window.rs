//! KPI windows: rolling 6 calendar months, calendar half-years, date ranges.
//!
//! All windows are inclusive ranges of local calendar days.

use std::fmt;

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// An inclusive range of local days.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Window {
    /// First day.
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
}

/// Why a window could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// `from` after `to`.
    #[error("the range starts on {from} after it ends on {to}")]
    Reversed {
        /// First day.
        from: NaiveDate,
        /// Last day.
        to: NaiveDate,
    },
    /// A half-year that is not `YYYYH1` or `YYYYH2`.
    #[error("half {0:?} is not of the form YYYYH1 or YYYYH2 (e.g. 2026H1)")]
    BadHalf(String),
    /// A date outside what the calendar arithmetic supports.
    #[error("date {0} is out of the supported range")]
    OutOfRange(String),
}

impl Window {
    /// The KPI months of the pilot (A1 §II.(一)): 6.
    pub const ROLLING_MONTHS: u32 = 6;

    /// An explicit range.
    pub fn range(from: NaiveDate, to: NaiveDate) -> Result<Window, WindowError> {
        if from > to {
            return Err(WindowError::Reversed { from, to });
        }
        Ok(Window { from, to })
    }

    /// The rolling window evaluated on `at`: the 6 calendar months before
    /// `at`, i.e. from `at − 6 months` (clamped to the month's end: at
    /// 2026-08-31 it starts 2026-02-28) to the day before `at`.
    pub fn rolling(at: NaiveDate) -> Result<Window, WindowError> {
        let from = at
            .checked_sub_months(Months::new(Self::ROLLING_MONTHS))
            .ok_or_else(|| WindowError::OutOfRange(at.to_string()))?;
        let to = at.pred_opt().ok_or_else(|| WindowError::OutOfRange(at.to_string()))?;
        Ok(Window { from, to })
    }

    /// A calendar half-year (H1 = Jan–Jun, H2 = Jul–Dec), the disclosure windows of A1 §VI.(一).
    pub fn half(year: i32, second: bool) -> Result<Window, WindowError> {
        let bad = || WindowError::OutOfRange(year.to_string());
        let (from, to) = if second {
            (
                NaiveDate::from_ymd_opt(year, 7, 1).ok_or_else(bad)?,
                NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(bad)?,
            )
        } else {
            (
                NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(bad)?,
                NaiveDate::from_ymd_opt(year, 6, 30).ok_or_else(bad)?,
            )
        };
        Ok(Window { from, to })
    }

    /// Parses `2026H1` / `2026H2` (also lower-case `h`).
    pub fn parse_half(s: &str) -> Result<Window, WindowError> {
        let bad = || WindowError::BadHalf(s.to_owned());
        let (y, h) = s.split_at_checked(4).ok_or_else(bad)?;
        if !y.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        match h {
            "H1" | "h1" => Window::half(year, false),
            "H2" | "h2" => Window::half(year, true),
            _ => Err(bad()),
        }
    }

    /// Whether `day` is in the window.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }

    /// Number of days.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The part of the window inside `[since, until]` (`until` open when `None`).
    pub fn clip(&self, since: NaiveDate, until: Option<NaiveDate>) -> Option<Window> {
        let from = self.from.max(since);
        let to = until.map_or(self.to, |u| self.to.min(u));
        (from <= to).then_some(Window { from, to })
    }

    /// The half-year containing `day`.
    pub fn half_of(day: NaiveDate) -> Window {
        Window::half(day.year(), day.month() > 6).unwrap_or(Window { from: day, to: day })
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.from, self.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn rolling_window_of_mission_example() {
        assert_eq!(Window::rolling(d("2026-11-28")).unwrap(), Window { from: d("2026-05-28"), to: d("2026-11-27") });
    }

    #[test]
    fn rolling_window_clamps_to_month_end() {
        assert_eq!(Window::rolling(d("2026-08-31")).unwrap(), Window { from: d("2026-02-28"), to: d("2026-08-30") });
        assert_eq!(Window::rolling(d("2028-08-31")).unwrap().from, d("2028-02-29"), "leap year");
        assert_eq!(Window::rolling(d("2026-12-31")).unwrap().from, d("2026-06-30"));
        assert_eq!(Window::rolling(d("2026-03-01")).unwrap(), Window { from: d("2025-09-01"), to: d("2026-02-28") });
        assert_eq!(Window::rolling(d("2027-01-01")).unwrap(), Window { from: d("2026-07-01"), to: d("2026-12-31") });
    }

    #[test]
    fn half_years() {
        assert_eq!(Window::parse_half("2026H1").unwrap(), Window { from: d("2026-01-01"), to: d("2026-06-30") });
        assert_eq!(Window::parse_half("2026H2").unwrap(), Window { from: d("2026-07-01"), to: d("2026-12-31") });
        assert_eq!(Window::parse_half("2026H3"), Err(WindowError::BadHalf("2026H3".into())));
        assert!(Window::parse_half("26H1").is_err());
        assert!(Window::parse_half("").is_err());
        assert!(Window::parse_half("２０２６H1").is_err());
        assert_eq!(Window::half_of(d("2026-07-01")), Window::parse_half("2026H2").unwrap());
        assert_eq!(Window::half_of(d("2026-06-30")), Window::parse_half("2026H1").unwrap());
    }

    #[test]
    fn ranges_and_clipping() {
        assert!(Window::range(d("2026-02-01"), d("2026-01-01")).is_err());
        let w = Window::range(d("2026-01-01"), d("2026-01-31")).unwrap();
        assert_eq!(w.days(), 31);
        assert_eq!(w.clip(d("2026-01-10"), None), Some(Window { from: d("2026-01-10"), to: d("2026-01-31") }));
        assert_eq!(
            w.clip(d("2025-01-10"), Some(d("2026-01-05"))),
            Some(Window { from: d("2026-01-01"), to: d("2026-01-05") })
        );
        assert_eq!(w.clip(d("2026-02-01"), None), None);
        assert_eq!(w.clip(d("2025-01-01"), Some(d("2025-12-31"))), None);
    }
}
