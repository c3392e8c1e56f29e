//! KPI queries: sums of rollup rows, never a scan of raw events; a
//! project's from its project-day sums (`project_sums`), a row per day.

use crate::port::*;
use crate::records::Reclassification;
use async_trait::async_trait;
use chrono::NaiveDate;
use liftwatch_core::kpi::{KpiReport, Subject};
use liftwatch_core::protocol::DeviceCode;
use liftwatch_core::rollup::DayRollup;
use liftwatch_core::window::Window;

use crate::overview::{
    grouped_window_rows, grouped_window_spans, split, window_rows, window_spans, Grouped, ProjectOverview,
};
use crate::postgres::records::{Scoped, FIRST_DAY, LAST_DAY};
use crate::postgres::registry::project_commitment_on;
use crate::postgres::telemetry::device_telemetry_on;
use crate::postgres::telemetry::{span_sums, SPAN_SUMS};
use crate::postgres::ts;
use crate::records::Scope;
use crate::{PgStore, StoreError};
use liftwatch_core::completeness::Completeness;
use tokio_postgres::types::ToSql;
use tokio_postgres::GenericClient;

const SUMS: &str = "coalesce(sum(r.runs),0)::int8, coalesce(sum(r.faults),0)::int8, coalesce(sum(r.equipment_faults),0)::int8, \
    coalesce(sum(r.reported_equipment_faults),0)::int8, coalesce(sum(r.reclassified_from_equipment),0)::int8, \
    coalesce(sum(r.stoppages_closed),0)::int8, coalesce(sum(r.downtime_us),0)::int8, coalesce(sum(r.stoppages_open),0)::int8, \
    coalesce(sum(r.entrapments),0)::int8, coalesce(sum(r.rescues),0)::int8, coalesce(sum(r.rescue_us),0)::int8, \
    coalesce(sum(r.awaiting_arrival),0)::int8";

const SPAN_TOTALS: &str = "coalesce(sum(pairs), 0)::int8, coalesce(sum(resets), 0)::int8, \
    coalesce(sum(runs_reported), 0)::int8, coalesce(sum(runs_by_odometer), 0)::int8";

fn totals(r: &tokio_postgres::Row) -> DayRollup {
    let mut v = [0i64; 12];
    for (i, x) in v.iter_mut().enumerate() {
        *x = r.get(i);
    }
    DayRollup::from_scalars(v)
}

#[async_trait]
impl Kpis for PgStore {
    async fn project_kpis(&self, project_id: &str, w: Window) -> Result<Option<KpiReport>, StoreError> {
        // One pooled connection for the whole answer: a request never holds
        // one while waiting for another (N such requests on a pool of N
        // would wait on each other until the pool's timeout).
        let c = self.pool.get().await?;
        let Some(commitment) = project_commitment_on(&**c, project_id).await? else { return Ok(None) };
        // The project sums (project_sums): whole months and edge days.
        let (a, b) = split(&w);
        let p = ["$2", "$3", "$4", "$5"];
        let sql = format!("SELECT {SUMS} FROM ({}) r", window_rows("project_id = $1", p));
        let t = totals(&c.query_one(sql.as_str(), &[&project_id, &w.from, &w.to, &a, &b]).await?);
        let n: i64 = c
            .query_one(
                "SELECT count(DISTINCT elevator_id) FROM memberships WHERE project_id = $1 \
                 AND since <= $3 AND (until IS NULL OR until >= $2)",
                &[&project_id, &w.from, &w.to],
            )
            .await?
            .get(0);
        let spans = c
            .query_one(
                format!("SELECT {SPAN_TOTALS} FROM ({}) s", window_spans("project_id = $1", p, "crosses")).as_str(),
                &[&project_id, &w.from, &w.to, &a, &b],
            )
            .await?;
        let mut k = KpiReport::new(Subject::Project(project_id.to_owned()), w, n as usize, &t, commitment);
        k.completeness = Completeness::new(span_sums(&spans, 0));
        fill_open_ages(&**c, &mut k, Some(project_id), None, (&[FIRST_DAY], &[LAST_DAY]), w).await?;
        Ok(Some(k))
    }

    async fn projects_kpis(&self, w: Window) -> Result<Vec<ProjectOverview>, StoreError> {
        // The selections of `project_kpis`, grouped by project: five
        // queries on one connection whatever the number of projects.
        let c = self.pool.get().await?;
        let (from, to) = (&w.from, &w.to);
        let mut g = Grouped::default();
        let (a, b) = split(&w);
        let values: [&(dyn ToSql + Sync); 4] = [from, to, &a, &b];
        let ph = |n: usize| format!("${n}");
        let bind = |used: &[usize]| used.iter().map(|k| values[*k]).collect::<Vec<_>>();
        for (sql, used) in grouped_window_rows(SUMS, &ph) {
            for r in c.query(sql.as_str(), &bind(&used)).await? {
                *g.totals.entry(r.get(12)).or_default() += &totals(&r);
            }
        }
        for r in c
            .query(
                "SELECT project_id, count(DISTINCT elevator_id) FROM memberships \
                 WHERE since <= $2 AND (until IS NULL OR until >= $1) GROUP BY project_id",
                &[from, to],
            )
            .await?
        {
            g.elevators.insert(r.get(0), r.get(1));
        }
        let span_totals = "coalesce(sum(s.pairs), 0)::int8, coalesce(sum(s.resets), 0)::int8, \
            coalesce(sum(s.runs_reported), 0)::int8, coalesce(sum(s.runs_by_odometer), 0)::int8";
        for (sql, used) in grouped_window_spans(span_totals, "s.crosses", &ph) {
            for r in c.query(sql.as_str(), &bind(&used)).await? {
                *g.spans.entry(r.get(0)).or_default() += span_sums(&r, 1);
            }
        }
        let member = "JOIN memberships m ON m.elevator_id = x.elevator_id AND x.day >= m.since \
             AND (m.until IS NULL OR x.day <= m.until) WHERE x.day BETWEEN $1 AND $2 GROUP BY m.project_id";
        let ages = format!(
            "SELECT 0, m.project_id, min(x.t) FROM (SELECT elevator_id, start_ts AS t, start_day AS day FROM faults \
             WHERE stops_service AND cause = 'equipment' AND cleared_at IS NULL AND start_ts IS NOT NULL) x {member} \
             UNION ALL SELECT 1, m.project_id, min(x.t) FROM (SELECT elevator_id, alarm_ts AS t, alarm_day AS day \
             FROM entrapments WHERE arrived_at IS NULL AND alarm_ts IS NOT NULL) x {member}"
        );
        for r in c.query(ages.as_str(), &[from, to]).await? {
            let map = if r.get::<_, i32>(0) == 0 { &mut g.oldest_open } else { &mut g.oldest_awaiting };
            map.insert(r.get(1), ts(r.get(2)));
        }
        for r in c.query("SELECT project_id, count(*) FROM findings WHERE state = 'open' AND project_id IS NOT NULL GROUP BY project_id", &[]).await? {
            g.open_findings.insert(r.get(0), r.get(1));
        }
        let projects = c.query("SELECT id, commitment FROM projects ORDER BY id", &[]).await?;
        let projects = projects
            .iter()
            .map(|r| {
                let commitment = r.get::<_, Option<serde_json::Value>>(1).and_then(|v| serde_json::from_value(v).ok());
                (r.get(0), commitment)
            })
            .collect();
        Ok(g.reports(projects, w))
    }

    async fn elevator_kpis(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        w: Window,
    ) -> Result<Option<KpiReport>, StoreError> {
        let c = self.pool.get().await?;
        let el = match Scoped::load(&**c, scope, device, false).await {
            Ok(el) => el,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        // The days the scope reads (every day for a regulator): its spans
        // never overlap (an elevator belongs to one project on any day).
        let (first, last) = el.read_days();
        let sql = format!(
            "SELECT {SUMS} FROM rollups r JOIN unnest($4::date[], $5::date[]) AS s(first, last) \
             ON r.day BETWEEN s.first AND s.last WHERE r.elevator_id = $1 AND r.day BETWEEN $2 AND $3"
        );
        let t = totals(&c.query_one(sql.as_str(), &[&el.eid, &w.from, &w.to, &first, &last]).await?);
        let spans = c
            .query_one(
                format!(
                    "SELECT {SPAN_SUMS} FROM counter_readings c JOIN unnest($4::date[], $5::date[]) AS s(first, last) \
                     ON c.prev_day >= s.first AND c.day <= s.last \
                     WHERE c.elevator_id = $1 AND c.prev_day >= $2 AND c.day <= $3"
                )
                .as_str(),
                &[&el.eid, &w.from, &w.to, &first, &last],
            )
            .await?;
        let member = first.iter().zip(&last).any(|(f, l)| *f <= w.to && *l >= w.from);
        let mut k = KpiReport::new(Subject::Elevator(device.to_string()), w, usize::from(member), &t, None);
        k.completeness = Completeness::new(span_sums(&spans, 0));
        // What the box says now is the present holder's (and a regulator's).
        if el.holds() {
            k.telemetry = device_telemetry_on(&**c, device).await?;
        }
        fill_open_ages(&**c, &mut k, None, Some(el.eid), (&first, &last), w).await?;
        Ok(Some(k))
    }

    async fn rollup_rows(&self) -> Result<Vec<(DeviceCode, NaiveDate, DayRollup)>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!(
            "SELECT {}, e.device_code, r.day FROM rollups r JOIN elevators e ON e.id = r.elevator_id ORDER BY 13, 14",
            DayRollup::SCALAR_NAMES.map(|n| format!("r.{n}")).join(", ")
        );
        let mut out = Vec::new();
        for r in c.query(sql.as_str(), &[]).await? {
            let mut roll = totals(&r);
            let code: &str = r.get(12);
            let day: NaiveDate = r.get(13);
            let dev = DeviceCode::parse(code).map_err(|e| StoreError::Permanent(e.to_string()))?;
            let fc = c
                .query(
                    "SELECT code, cause, n FROM fault_counts f JOIN elevators e ON e.id = f.elevator_id \
                     WHERE e.device_code = $1 AND f.day = $2 AND n <> 0",
                    &[&code, &day],
                )
                .await?;
            for f in fc {
                let cause = liftwatch_core::protocol::Cause::parse(f.get(1))
                    .unwrap_or(liftwatch_core::protocol::Cause::Unknown);
                *roll.by_code.entry(f.get::<_, String>(0)).or_default().get_mut(cause) += f.get::<_, i64>(2);
            }
            if !roll.is_zero() {
                out.push((dev, day, roll));
            }
        }
        Ok(out)
    }

    async fn project_series(&self, project_id: &str, w: Window) -> Result<Vec<(NaiveDate, DayRollup)>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!(
            "SELECT {SUMS}, r.day FROM project_days r WHERE r.project_id = $1 AND r.day BETWEEN $2 AND $3 \
             GROUP BY r.day ORDER BY r.day"
        );
        let rows = c.query(sql.as_str(), &[&project_id, &w.from, &w.to]).await?;
        Ok(rows.iter().map(|r| (r.get::<_, NaiveDate>(12), totals(r))).collect())
    }

    async fn project_elevator_totals(
        &self,
        project_id: &str,
        w: Window,
    ) -> Result<Vec<(DeviceCode, DayRollup)>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!(
            "WITH per AS (SELECT r.elevator_id, {SUMS} FROM memberships m JOIN rollups r ON r.elevator_id = m.elevator_id \
             AND r.day >= m.since AND (m.until IS NULL OR r.day <= m.until) \
             WHERE m.project_id = $1 AND r.day BETWEEN $2 AND $3 GROUP BY r.elevator_id) \
             SELECT per.*, e.device_code FROM per JOIN elevators e ON e.id = per.elevator_id ORDER BY e.device_code"
        );
        let rows = c.query(sql.as_str(), &[&project_id, &w.from, &w.to]).await?;
        rows.iter()
            .map(|r| {
                let mut v = [0i64; 12];
                for (i, x) in v.iter_mut().enumerate() {
                    *x = r.get(i + 1);
                }
                let code: &str = r.get(13);
                Ok((
                    DeviceCode::parse(code).map_err(|e| StoreError::Permanent(e.to_string()))?,
                    DayRollup::from_scalars(v),
                ))
            })
            .collect()
    }

    async fn firm_reclassification(&self, firm_id: &str, w: Window) -> Result<Option<Reclassification>, StoreError> {
        let c = self.pool.get().await?;
        if c.query_opt("SELECT 1 FROM firms WHERE id = $1", &[&firm_id]).await?.is_none() {
            return Ok(None);
        }
        let (a, b) = split(&w);
        let rows = window_rows("project_id IN (SELECT id FROM projects WHERE firm_id = $1)", ["$2", "$3", "$4", "$5"]);
        let r = c
            .query_one(
                format!(
                    "SELECT coalesce(sum(r.reported_equipment_faults), 0)::int8, \
                            coalesce(sum(r.reclassified_from_equipment), 0)::int8 FROM ({rows}) r"
                )
                .as_str(),
                &[&firm_id, &w.from, &w.to, &a, &b],
            )
            .await?;
        let (first, away): (i64, i64) = (r.get(0), r.get(1));
        let share = (first > 0).then(|| (away as f64 / first as f64 * 10_000.0).round() / 10_000.0);
        Ok(Some(Reclassification {
            firm: firm_id.to_owned(),
            window: w,
            faults_first_equipment: first,
            reclassified_away: away,
            share,
        }))
    }
}

/// Fills the ages of open stoppages and entrapments awaiting arrival
/// (MISSION.md: reported beside the means "with count and age"): the
/// start of the oldest one begun in the window, on a member day.
async fn fill_open_ages<C: GenericClient>(
    c: &C,
    k: &mut KpiReport,
    project_id: Option<&str>,
    elevator_id: Option<i32>,
    (first, last): (&[NaiveDate], &[NaiveDate]),
    w: Window,
) -> Result<(), StoreError> {
    if k.downtime.open == 0 && k.rescue.awaiting_arrival == 0 {
        return Ok(());
    }
    // Same selection as the rollups: local start day (stored with the
    // incident) in the window and, for a project, on a day the elevator
    // belonged to it.
    let scope = "(($4::text IS NOT NULL AND EXISTS (SELECT 1 FROM memberships m WHERE m.project_id = $4 \
          AND m.elevator_id = x.elevator_id AND x.day >= m.since AND (m.until IS NULL OR x.day <= m.until))) \
         OR ($3::int4 IS NOT NULL AND x.elevator_id = $3)) \
         AND EXISTS (SELECT 1 FROM unnest($5::date[], $6::date[]) AS s(first, last) \
          WHERE x.day BETWEEN s.first AND s.last) \
         AND x.day BETWEEN $1 AND $2";
    let sql = format!(
        "SELECT (SELECT min(x.t) FROM (SELECT elevator_id, start_ts AS t, start_day AS day FROM faults \
             WHERE stops_service AND cause = 'equipment' AND cleared_at IS NULL AND start_ts IS NOT NULL) x WHERE {scope}), \
                (SELECT min(x.t) FROM (SELECT elevator_id, alarm_ts AS t, alarm_day AS day FROM entrapments \
             WHERE arrived_at IS NULL AND alarm_ts IS NOT NULL) x WHERE {scope})"
    );
    let r = c.query_one(sql.as_str(), &[&w.from, &w.to, &elevator_id, &project_id, &first, &last]).await?;
    k.downtime.oldest_open_since = r.get::<_, Option<chrono::DateTime<chrono::Utc>>>(0).map(ts);
    k.rescue.oldest_awaiting_since = r.get::<_, Option<chrono::DateTime<chrono::Utc>>>(1).map(ts);
    Ok(())
}
