//! KPI queries in SQLite: sums of rollup rows, never a scan of raw events
//! (the same queries as the PostgreSQL adapter; spans of days travel as
//! JSON for `json_each`). Each answer is one read transaction: one snapshot.

use async_trait::async_trait;
use chrono::NaiveDate;
use liftwatch_core::completeness::Completeness;
use liftwatch_core::kpi::{KpiReport, Subject};
use liftwatch_core::protocol::{Cause, DeviceCode, Timestamp};
use liftwatch_core::rollup::DayRollup;
use liftwatch_core::window::Window;
use rusqlite::{params, Connection, Row};

use super::code;
use super::records::{in_spans, spans_json, OwnedScope, Scoped, FIRST_DAY, LAST_DAY};
use super::registry::project_commitment_on;
use super::telemetry::{device_telemetry_on, span_sums, SPAN_SUMS};
use crate::overview::{
    grouped_window_rows, grouped_window_spans, split, window_rows, window_spans, Grouped, ProjectOverview,
};
use crate::port::Kpis;
use crate::records::{Reclassification, Scope};
use crate::{SqliteStore, StoreError};

const SUMS: &str = "coalesce(sum(r.runs),0), coalesce(sum(r.faults),0), coalesce(sum(r.equipment_faults),0), \
    coalesce(sum(r.reported_equipment_faults),0), coalesce(sum(r.reclassified_from_equipment),0), \
    coalesce(sum(r.stoppages_closed),0), coalesce(sum(r.downtime_us),0), coalesce(sum(r.stoppages_open),0), \
    coalesce(sum(r.entrapments),0), coalesce(sum(r.rescues),0), coalesce(sum(r.rescue_us),0), \
    coalesce(sum(r.awaiting_arrival),0)";

/// A project's day sums in the window (`?1` project, `?2`..`?3` window):
/// the rollups of its member elevator-days, a row per day (project sums,
/// migration V3).
const PROJECT_DAYS: &str = "FROM project_days r WHERE r.project_id = ?1 AND r.day BETWEEN ?2 AND ?3";

/// That a `project_spans` row's ends lie in different months (the partial
/// index `project_spans_crossing` has the same condition).
const CROSSES: &str = "substr(prev_day, 1, 7) <> substr(day, 1, 7)";

/// Sums of `project_spans` rows, as [`SPAN_SUMS`] of the spans they hold.
const SPAN_TOTALS: &str =
    "coalesce(sum(pairs), 0), coalesce(sum(resets), 0), coalesce(sum(runs_reported), 0), coalesce(sum(runs_by_odometer), 0)";

/// Rollup rows of a project's elevators on the days they belonged (`?1`
/// project, `?2`..`?3` window).
const PROJECT_ROLLUPS: &str = "FROM memberships m JOIN rollups r ON r.elevator_id = m.elevator_id \
    AND r.day >= m.since AND (m.until IS NULL OR r.day <= m.until) WHERE m.project_id = ?1 AND r.day BETWEEN ?2 AND ?3";

fn totals(r: &Row<'_>, at: usize) -> rusqlite::Result<DayRollup> {
    let mut v = [0i64; 12];
    for (i, x) in v.iter_mut().enumerate() {
        *x = r.get(at + i)?;
    }
    Ok(DayRollup::from_scalars(v))
}

fn project_kpis_on(c: &Connection, project_id: &str, w: Window) -> Result<Option<KpiReport>, StoreError> {
    let Some(commitment) = project_commitment_on(c, project_id)? else { return Ok(None) };
    let p = params![project_id, w.from, w.to];
    // The project sums: whole months and edge days (docs/storage.md).
    let (a, b) = split(&w);
    let pm = params![project_id, w.from, w.to, a, b];
    let at = ["?2", "?3", "?4", "?5"];
    let t =
        c.query_row(&format!("SELECT {SUMS} FROM ({}) r", window_rows("project_id = ?1", at)), pm, |r| totals(r, 0))?;
    let n: i64 = c.query_row(
        "SELECT count(DISTINCT elevator_id) FROM memberships WHERE project_id = ?1 \
         AND since <= ?3 AND (until IS NULL OR until >= ?2)",
        p,
        |r| r.get(0),
    )?;
    let spans = c.query_row(
        &format!("SELECT {SPAN_TOTALS} FROM ({}) s", window_spans("project_id = ?1", at, CROSSES)),
        pm,
        |r| span_sums(r, 0),
    )?;
    let mut k = KpiReport::new(Subject::Project(project_id.to_owned()), w, n as usize, &t, commitment);
    k.completeness = Completeness::new(spans);
    fill_open_ages(c, &mut k, Some(project_id), None, &[(FIRST_DAY, LAST_DAY)], w)?;
    Ok(Some(k))
}

/// Every project's KPIs: the selections of [`project_kpis_on`] grouped by
/// project, six queries whatever the number of projects.
fn projects_kpis_on(c: &Connection, w: Window) -> Result<Vec<ProjectOverview>, StoreError> {
    let p = params![w.from, w.to];
    let mut g = Grouped::default();
    let (a, b) = split(&w);
    let values: [&dyn rusqlite::ToSql; 4] = [&w.from, &w.to, &a, &b];
    let ph = |n: usize| format!("?{n}");
    let bind = |used: &[usize]| used.iter().map(|k| values[*k]).collect::<Vec<_>>();
    for (sql, used) in grouped_window_rows(SUMS, &ph) {
        let mut st = c.prepare(&sql)?;
        for r in st.query_map(bind(&used).as_slice(), |r| Ok((r.get::<_, String>(12)?, totals(r, 0)?)))? {
            let (id, t) = r?;
            *g.totals.entry(id).or_default() += &t;
        }
    }
    let mut st = c.prepare(
        "SELECT project_id, count(DISTINCT elevator_id) FROM memberships \
         WHERE since <= ?2 AND (until IS NULL OR until >= ?1) GROUP BY project_id",
    )?;
    for r in st.query_map(p, |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (id, n) = r?;
        g.elevators.insert(id, n);
    }
    let span_totals = "coalesce(sum(s.pairs), 0), coalesce(sum(s.resets), 0), coalesce(sum(s.runs_reported), 0), \
        coalesce(sum(s.runs_by_odometer), 0)";
    let crosses = "substr(s.prev_day, 1, 7) <> substr(s.day, 1, 7)";
    for (sql, used) in grouped_window_spans(span_totals, crosses, &ph) {
        let mut st = c.prepare(&sql)?;
        for r in st.query_map(bind(&used).as_slice(), |r| Ok((r.get::<_, String>(0)?, span_sums(r, 1)?)))? {
            let (id, s) = r?;
            *g.spans.entry(id).or_default() += s;
        }
    }
    let member = "JOIN memberships m ON m.elevator_id = x.elevator_id AND x.day >= m.since \
         AND (m.until IS NULL OR x.day <= m.until) WHERE x.day BETWEEN ?1 AND ?2 GROUP BY m.project_id";
    let mut st = c.prepare(&format!(
        "SELECT 0, m.project_id, min(x.t) FROM (SELECT elevator_id, start_ts AS t, start_day AS day FROM faults \
         WHERE stops_service AND cause = 'equipment' AND cleared_at IS NULL AND start_ts IS NOT NULL) x {member} \
         UNION ALL SELECT 1, m.project_id, min(x.t) FROM (SELECT elevator_id, alarm_ts AS t, alarm_day AS day \
         FROM entrapments WHERE arrived_at IS NULL AND alarm_ts IS NOT NULL) x {member}"
    ))?;
    for r in st.query_map(p, |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))? {
        let (kind, id, t) = r?;
        let map = if kind == 0 { &mut g.oldest_open } else { &mut g.oldest_awaiting };
        map.insert(id, Timestamp(t));
    }
    let mut st = c.prepare(
        "SELECT project_id, count(*) FROM findings WHERE state = 'open' AND project_id IS NOT NULL GROUP BY project_id",
    )?;
    for r in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (id, n) = r?;
        g.open_findings.insert(id, n);
    }
    let mut st = c.prepare("SELECT id, commitment FROM projects ORDER BY id")?;
    let projects = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)))?
        .map(|r| r.map(|(id, v)| (id, v.and_then(|v| serde_json::from_str(&v).ok()))))
        .collect::<rusqlite::Result<_>>()?;
    Ok(g.reports(projects, w))
}

fn elevator_kpis_on(
    c: &Connection,
    scope: Scope<'_>,
    device: DeviceCode,
    w: Window,
) -> Result<Option<KpiReport>, StoreError> {
    let el = match Scoped::load(c, scope, device) {
        Ok(el) => el,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    // The days the scope reads (every day for a regulator): its spans
    // never overlap (an elevator belongs to one project on any day).
    let days = el.read_days();
    let json = spans_json(&days);
    let t = c.query_row(
        &format!(
            "SELECT {SUMS} FROM rollups r WHERE r.elevator_id = ?1 AND r.day BETWEEN ?2 AND ?3 AND {}",
            in_spans("r.day", "?4")
        ),
        params![el.eid, w.from, w.to, json],
        |r| totals(r, 0),
    )?;
    let spans = c.query_row(
        &format!(
            "SELECT {SPAN_SUMS} FROM counter_readings c WHERE c.elevator_id = ?1 AND c.prev_day >= ?2 AND c.day <= ?3 \
             AND EXISTS (SELECT 1 FROM json_each(?4) s WHERE c.prev_day >= s.value ->> 0 AND c.day <= s.value ->> 1)"
        ),
        params![el.eid, w.from, w.to, json],
        |r| span_sums(r, 0),
    )?;
    let member = days.iter().any(|(f, l)| *f <= w.to && *l >= w.from);
    let mut k = KpiReport::new(Subject::Elevator(device.to_string()), w, usize::from(member), &t, None);
    k.completeness = Completeness::new(spans);
    // What the box says now is the present holder's (and a regulator's).
    if el.holds() {
        k.telemetry = device_telemetry_on(c, device)?;
    }
    fill_open_ages(c, &mut k, None, Some(el.eid), &days, w)?;
    Ok(Some(k))
}

/// Fills the ages of open stoppages and entrapments awaiting arrival: the
/// start of the oldest one begun in the window, on a member day (the same
/// selection as the rollups).
fn fill_open_ages(
    c: &Connection,
    k: &mut KpiReport,
    project_id: Option<&str>,
    elevator_id: Option<i64>,
    days: &[(NaiveDate, NaiveDate)],
    w: Window,
) -> Result<(), StoreError> {
    if k.downtime.open == 0 && k.rescue.awaiting_arrival == 0 {
        return Ok(());
    }
    let scope = format!(
        "((?4 IS NOT NULL AND EXISTS (SELECT 1 FROM memberships m WHERE m.project_id = ?4 \
           AND m.elevator_id = x.elevator_id AND x.day >= m.since AND (m.until IS NULL OR x.day <= m.until))) \
          OR (?3 IS NOT NULL AND x.elevator_id = ?3)) AND {} AND x.day BETWEEN ?1 AND ?2",
        in_spans("x.day", "?5")
    );
    let sql = format!(
        "SELECT (SELECT min(x.t) FROM (SELECT elevator_id, start_ts AS t, start_day AS day FROM faults \
             WHERE stops_service AND cause = 'equipment' AND cleared_at IS NULL AND start_ts IS NOT NULL) x WHERE {scope}), \
                (SELECT min(x.t) FROM (SELECT elevator_id, alarm_ts AS t, alarm_day AS day FROM entrapments \
             WHERE arrived_at IS NULL AND alarm_ts IS NOT NULL) x WHERE {scope})"
    );
    let (f, e): (Option<i64>, Option<i64>) =
        c.query_row(&sql, params![w.from, w.to, elevator_id, project_id, spans_json(days)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    k.downtime.oldest_open_since = f.map(Timestamp);
    k.rescue.oldest_awaiting_since = e.map(Timestamp);
    Ok(())
}

#[async_trait]
impl Kpis for SqliteStore {
    async fn project_kpis(&self, project_id: &str, w: Window) -> Result<Option<KpiReport>, StoreError> {
        let project_id = project_id.to_owned();
        self.read(move |c| project_kpis_on(c, &project_id, w)).await
    }

    async fn projects_kpis(&self, w: Window) -> Result<Vec<ProjectOverview>, StoreError> {
        self.read(move |c| projects_kpis_on(c, w)).await
    }

    async fn elevator_kpis(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        w: Window,
    ) -> Result<Option<KpiReport>, StoreError> {
        let scope = OwnedScope::of(scope);
        self.read(move |c| elevator_kpis_on(c, scope.get(), device, w)).await
    }

    async fn rollup_rows(&self) -> Result<Vec<(DeviceCode, NaiveDate, DayRollup)>, StoreError> {
        self.read(|c| {
            let mut rows = Vec::new();
            {
                let mut st = c.prepare(&format!(
                    "SELECT {}, e.device_code, r.day, r.elevator_id FROM rollups r JOIN elevators e \
                     ON e.id = r.elevator_id ORDER BY 13, 14",
                    DayRollup::SCALAR_NAMES.map(|n| format!("r.{n}")).join(", ")
                ))?;
                let it = st.query_map([], |r| {
                    Ok((totals(r, 0)?, r.get::<_, String>(12)?, r.get::<_, NaiveDate>(13)?, r.get::<_, i64>(14)?))
                })?;
                for r in it {
                    rows.push(r?);
                }
            }
            let mut fc = c.prepare_cached(
                "SELECT code, cause, n FROM fault_counts WHERE elevator_id = ?1 AND day = ?2 AND n <> 0",
            )?;
            let mut out = Vec::new();
            for (mut roll, device, day, eid) in rows {
                let counts = fc.query_map(params![eid, day], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
                })?;
                for f in counts {
                    let (code_, cause, n) = f?;
                    let cause = Cause::parse(&cause).unwrap_or(Cause::Unknown);
                    *roll.by_code.entry(code_).or_default().get_mut(cause) += n;
                }
                if !roll.is_zero() {
                    out.push((code(&device)?, day, roll));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn project_series(&self, project_id: &str, w: Window) -> Result<Vec<(NaiveDate, DayRollup)>, StoreError> {
        let project_id = project_id.to_owned();
        self.read(move |c| {
            let mut st = c.prepare(&format!("SELECT {SUMS}, r.day {PROJECT_DAYS} GROUP BY r.day ORDER BY r.day"))?;
            let rows = st.query_map(params![project_id, w.from, w.to], |r| Ok((r.get(12)?, totals(r, 0)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn project_elevator_totals(
        &self,
        project_id: &str,
        w: Window,
    ) -> Result<Vec<(DeviceCode, DayRollup)>, StoreError> {
        let project_id = project_id.to_owned();
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "WITH per AS (SELECT r.elevator_id, {SUMS} {PROJECT_ROLLUPS} GROUP BY r.elevator_id) \
                 SELECT per.*, e.device_code FROM per JOIN elevators e ON e.id = per.elevator_id ORDER BY e.device_code"
            ))?;
            let rows =
                st.query_map(params![project_id, w.from, w.to], |r| Ok((r.get::<_, String>(13)?, totals(r, 1)?)))?;
            rows.map(|r| {
                let (d, t) = r?;
                Ok((code(&d)?, t))
            })
            .collect()
        })
        .await
    }

    async fn firm_reclassification(&self, firm_id: &str, w: Window) -> Result<Option<Reclassification>, StoreError> {
        let firm_id = firm_id.to_owned();
        self.read(move |c| {
            if !super::registry::exists(c, "SELECT 1 FROM firms WHERE id = ?1", [&firm_id])? {
                return Ok(None);
            }
            let (a, b) = split(&w);
            let rows =
                window_rows("project_id IN (SELECT id FROM projects WHERE firm_id = ?1)", ["?2", "?3", "?4", "?5"]);
            let (first, away): (i64, i64) = c.query_row(
                &format!(
                    "SELECT coalesce(sum(r.reported_equipment_faults), 0), \
                     coalesce(sum(r.reclassified_from_equipment), 0) FROM ({rows}) r"
                ),
                params![firm_id, w.from, w.to, a, b],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let share = (first > 0).then(|| (away as f64 / first as f64 * 10_000.0).round() / 10_000.0);
            Ok(Some(Reclassification {
                firm: firm_id,
                window: w,
                faults_first_equipment: first,
                reclassified_away: away,
                share,
            }))
        })
        .await
    }
}
