//! Every project's KPIs at once (the regulator overview, issue 13 item 2):
//! what each adapter reads in a fixed number of queries grouped by project,
//! whatever the number of projects, assembled here into the same
//! [`KpiReport`]s as one `project_kpis` per project would give.

use std::collections::HashMap;

use liftwatch_core::completeness::{Completeness, SpanSums};
use liftwatch_core::kpi::{Commitment, KpiReport, Subject};
use liftwatch_core::protocol::Timestamp;
use liftwatch_core::rollup::DayRollup;
use liftwatch_core::window::Window;

/// One project of the overview.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectOverview {
    /// Its KPIs, as [`crate::port::Kpis::project_kpis`] answers them.
    pub kpis: KpiReport,
    /// Its open findings.
    pub open_findings: i64,
}

/// The figures of every project over a window, grouped by project id (a
/// project absent from a map has none of that kind).
#[derive(Default)]
pub(crate) struct Grouped {
    /// Rollup sums of its elevators on their member days.
    pub totals: HashMap<String, DayRollup>,
    /// Elevators that belonged on a day of the window.
    pub elevators: HashMap<String, i64>,
    /// Counter spans on member days.
    pub spans: HashMap<String, SpanSums>,
    /// Start of the oldest open equipment stoppage begun in the window.
    pub oldest_open: HashMap<String, Timestamp>,
    /// Alarm of the oldest entrapment awaiting arrival begun in the window.
    pub oldest_awaiting: HashMap<String, Timestamp>,
    /// Open findings.
    pub open_findings: HashMap<String, i64>,
}

impl Grouped {
    /// The overview of `projects` (id and commitment), in their order.
    pub(crate) fn reports(mut self, projects: Vec<(String, Option<Commitment>)>, w: Window) -> Vec<ProjectOverview> {
        projects
            .into_iter()
            .map(|(id, commitment)| {
                let n = self.elevators.get(&id).copied().unwrap_or(0);
                let t = self.totals.remove(&id).unwrap_or_default();
                let mut k =
                    KpiReport::new(Subject::Project(id.clone()), w, usize::try_from(n).unwrap_or(0), &t, commitment);
                k.completeness = Completeness::new(self.spans.get(&id).copied().unwrap_or_default());
                // As `project_kpis`: the ages only beside an open count.
                if k.downtime.open > 0 || k.rescue.awaiting_arrival > 0 {
                    k.downtime.oldest_open_since = self.oldest_open.get(&id).copied();
                    k.rescue.oldest_awaiting_since = self.oldest_awaiting.get(&id).copied();
                }
                ProjectOverview { open_findings: self.open_findings.get(&id).copied().unwrap_or(0), kpis: k }
            })
            .collect()
    }
}

/// How a window splits over the month sums (docs/storage.md "Project
/// sums"): whole months `[full_from, full_until)` read from the month rows,
/// the edge days `[from, full_from)` and `[full_until, to]` from the day
/// rows. `None`: no whole month in the window (read the days alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MonthSplit {
    /// First day of the first whole month.
    pub full_from: chrono::NaiveDate,
    /// First day after the last whole month.
    pub full_until: chrono::NaiveDate,
}

impl MonthSplit {
    /// The split of `w`.
    pub(crate) fn of(w: &Window) -> Option<MonthSplit> {
        use chrono::{Datelike, Months};
        let first_of = |d: chrono::NaiveDate| d.with_day(1).unwrap_or(d);
        let full_from = if w.from.day() == 1 { w.from } else { first_of(w.from).checked_add_months(Months::new(1))? };
        let next = w.to.succ_opt()?;
        let full_until = if next.day() == 1 { next } else { first_of(w.to) };
        (full_from < full_until).then_some(MonthSplit { full_from, full_until })
    }
}

const SUM_COLUMNS: &str = "runs, faults, equipment_faults, reported_equipment_faults, reclassified_from_equipment, \
    stoppages_closed, downtime_us, stoppages_open, entrapments, rescues, rescue_us, awaiting_arrival";

/// The rows to sum for a window (docs/storage.md "Project sums"): its
/// whole months from the month sums, its edge days from the day sums; with
/// `p` the placeholders of (from, to, first whole month, first day after
/// the whole months) and `only` a condition on `project_id` (or `true`).
/// Yields `project_id` and the [`SUM_COLUMNS`].
pub(crate) fn window_rows(only: &str, p: [&str; 4]) -> String {
    let [from, to, a, b] = p;
    format!(
        "SELECT project_id, {SUM_COLUMNS} FROM project_months WHERE {only} AND month >= {a} AND month < {b} \
         UNION ALL SELECT project_id, {SUM_COLUMNS} FROM project_days WHERE {only} \
           AND ((day >= {from} AND day < {a}) OR (day >= {b} AND day <= {to}))"
    )
}

/// The spans to sum for a window, as [`window_rows`]: the same-month spans
/// of its whole months from their month sums, the spans of its edge days,
/// and the spans crossing into its whole months or last edge from a day of
/// the window (`crosses`: the condition that a span's ends lie in different
/// months). Yields `project_id, pairs, resets, runs_reported, runs_by_odometer`.
pub(crate) fn window_spans(only: &str, p: [&str; 4], crosses: &str) -> String {
    let [from, to, a, b] = p;
    let cols = "project_id, pairs, resets, runs_reported, runs_by_odometer";
    format!(
        "SELECT {cols} FROM project_span_months WHERE {only} AND month >= {a} AND month < {b} \
         UNION ALL SELECT {cols} FROM project_spans WHERE {only} AND day >= {from} AND day < {a} AND prev_day >= {from} \
         UNION ALL SELECT {cols} FROM project_spans WHERE {only} AND day >= {b} AND day <= {to} AND prev_day >= {b} \
         UNION ALL SELECT {cols} FROM project_spans WHERE {only} AND {crosses} AND day >= {a} AND day <= {to} \
           AND prev_day >= {from}"
    )
}

/// The first whole month of `w` and the day after its last (both the day
/// after `w` when it has no whole month: every day is then an edge day).
pub(crate) fn split(w: &Window) -> (chrono::NaiveDate, chrono::NaiveDate) {
    match MonthSplit::of(w) {
        Some(s) => (s.full_from, s.full_until),
        None => {
            let after = w.to.succ_opt().unwrap_or(w.to);
            (after, after)
        }
    }
}

/// A query of the overview and the window values it binds, in order
/// (indices into `[from, to, first whole month, day after the whole months]`).
pub(crate) type Part = (String, Vec<usize>);

/// Numbers the placeholders of `sql`, written `{0}`..`{3}` for the window
/// values, in order of first use, with `ph` (`$n` or `?n`).
fn part(sql: &str, ph: &dyn Fn(usize) -> String) -> Part {
    let mut used: Vec<usize> = Vec::new();
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        let k = rest.as_bytes()[at + 1] - b'0';
        let k = usize::from(k);
        let n = used.iter().position(|u| *u == k).unwrap_or_else(|| {
            used.push(k);
            used.len() - 1
        });
        out.push_str(&ph(n + 1));
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    (out, used)
}

/// The overview's sums as [`window_rows`] cut them, one query per part,
/// each grouped by project and read in key order (per project a seek into
/// the day rows, no sort): to be added up per project by the caller. `sums`
/// is the adapter's 12 sums over `r.` columns (no braces). Yields the sums
/// then the project id.
pub(crate) fn grouped_window_rows(sums: &str, ph: &dyn Fn(usize) -> String) -> [Part; 3] {
    [
        part(
            &format!("SELECT {sums}, r.project_id FROM project_months r WHERE r.month >= {{2}} AND r.month < {{3}} GROUP BY r.project_id"),
            ph,
        ),
        part(
            &format!(
                "SELECT {sums}, p.id FROM projects p JOIN project_days r ON r.project_id = p.id \
                 AND r.day >= {{0}} AND r.day < {{2}} GROUP BY p.id"
            ),
            ph,
        ),
        part(
            &format!(
                "SELECT {sums}, p.id FROM projects p JOIN project_days r ON r.project_id = p.id \
                 AND r.day >= {{3}} AND r.day <= {{1}} GROUP BY p.id"
            ),
            ph,
        ),
    ]
}

/// The overview's spans as [`window_spans`] cut them, one query per part as
/// [`grouped_window_rows`]; `totals` is the adapter's four sums over `s.`
/// columns. Yields the project id then the four sums.
pub(crate) fn grouped_window_spans(totals: &str, crosses: &str, ph: &dyn Fn(usize) -> String) -> [Part; 4] {
    [
        part(
            &format!(
                "SELECT s.project_id, {totals} FROM project_span_months s WHERE s.month >= {{2}} AND s.month < {{3}} \
                 GROUP BY s.project_id"
            ),
            ph,
        ),
        part(
            &format!(
                "SELECT p.id, {totals} FROM projects p JOIN project_spans s ON s.project_id = p.id \
                 AND s.prev_day >= {{0}} AND s.prev_day < {{2}} AND s.day < {{2}} GROUP BY p.id"
            ),
            ph,
        ),
        part(
            &format!(
                "SELECT p.id, {totals} FROM projects p JOIN project_spans s ON s.project_id = p.id \
                 AND s.prev_day >= {{3}} AND s.prev_day <= {{1}} AND s.day <= {{1}} GROUP BY p.id"
            ),
            ph,
        ),
        part(
            &format!(
                "SELECT s.project_id, {totals} FROM project_spans s WHERE {crosses} AND s.day >= {{2}} \
                 AND s.day <= {{1}} AND s.prev_day >= {{0}} GROUP BY s.project_id"
            ),
            ph,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn split(from: &str, to: &str) -> Option<(NaiveDate, NaiveDate)> {
        MonthSplit::of(&Window { from: d(from), to: d(to) }).map(|s| (s.full_from, s.full_until))
    }

    #[test]
    fn parts_bind_only_the_window_values_they_use_numbered_in_order() {
        let pg = |n: usize| format!("${n}");
        let (sql, used) = part("a >= {3} AND b < {1} AND c = {3}", &pg);
        assert_eq!((sql.as_str(), used), ("a >= $1 AND b < $2 AND c = $1", vec![3, 1]));
        let [months, first, last] = grouped_window_rows("S", &|n| format!("?{n}"));
        assert_eq!((months.1, first.1, last.1), (vec![2, 3], vec![0, 2], vec![3, 1]));
    }

    #[test]
    fn a_window_splits_into_whole_months_and_edge_days() {
        // The rolling window: edges at both ends.
        assert_eq!(split("2026-05-28", "2026-11-27"), Some((d("2026-06-01"), d("2026-11-01"))));
        // A half-year: whole months only.
        assert_eq!(split("2026-01-01", "2026-06-30"), Some((d("2026-01-01"), d("2026-07-01"))));
        // Starting on a first, ending mid-month; ending on the last of February.
        assert_eq!(split("2026-03-01", "2026-03-15"), None);
        assert_eq!(split("2026-01-15", "2026-02-28"), Some((d("2026-02-01"), d("2026-03-01"))));
        // Within one month, or across two without a whole one.
        assert_eq!(split("2026-03-02", "2026-03-30"), None);
        assert_eq!(split("2026-03-02", "2026-04-29"), None);
        // December to January.
        assert_eq!(split("2025-12-31", "2026-02-01"), Some((d("2026-01-01"), d("2026-02-01"))));
    }
}
