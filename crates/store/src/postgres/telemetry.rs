//! Telemetry rows at ingest (step 4 of [`liftwatch_core::ingest`]) and the
//! [`Telemetry`] port. The decisions are the core's
//! ([`ingest::plan_readings`], [`ingest::finish_readings`]); this module
//! only locks, loads, counts and writes:
//! 1. each elevator's seq summary is added to its `device_telemetry` row in
//!    key order — the upsert locks the row until commit, so the transactions
//!    touching one elevator's readings take turns (a span counted from the
//!    events table then sees every run committed before, and a run committed
//!    after finds the new reading);
//! 2. the readings around the batch's runs and counters are loaded, the
//!    spans the core asks for counted from `events` (one elevator, one span,
//!    on the partial index `events_runs_by_time`), and the changed readings
//!    and span sums written.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use liftwatch_core::completeness::{
    Completeness, DeviceTelemetry, Reading, SeqStats, SpanStart, SpanSums, TelemetrySummary,
};
use liftwatch_core::ingest::{self, Changes};
use liftwatch_core::protocol::{DeviceCode, Timestamp};
use liftwatch_core::window::Window;
use tokio_postgres::{GenericClient, Transaction};

use super::{dt, ts};
use crate::port::Telemetry;
use crate::{PgStore, StoreError};

const READING_COLUMNS: &str = "elevator_id, ts, seq, runs_total, day, runs_in_span, prev_day, odometer_runs";

fn reading(r: &tokio_postgres::Row) -> (i32, Reading) {
    let prev_day: Option<NaiveDate> = r.get(6);
    (
        r.get(0),
        Reading {
            ts: ts(r.get::<_, DateTime<Utc>>(1)),
            seq: r.get::<_, i64>(2) as u64,
            runs_total: r.get::<_, i64>(3) as u64,
            day: r.get(4),
            runs_in_span: r.get(5),
            prev: prev_day.map(|day| SpanStart { day, odometer_runs: r.get(7) }),
        },
    )
}

impl PgStore {
    /// Step 4 of ingest, inside the batch's transaction.
    pub(crate) async fn ingest_telemetry(&self, tx: &Transaction<'_>, c: &Changes<'_, i32>) -> Result<(), StoreError> {
        if c.seq.is_empty() {
            return Ok(());
        }
        let ids: Vec<i32> = c.seq.keys().copied().collect();
        let col = |f: fn(&SeqStats) -> i64| c.seq.values().map(f).collect::<Vec<i64>>();
        let (events, min, max) = (col(|s| s.events), col(|s| s.min_seq), col(|s| s.max_seq));
        let last: Vec<DateTime<Utc>> = c.seq.values().map(|s| dt(s.last_seen)).collect();
        tx.execute(
            "INSERT INTO device_telemetry AS t (elevator_id, events, min_seq, max_seq, last_seen) \
             SELECT * FROM unnest($1::int4[], $2::int8[], $3::int8[], $4::int8[], $5::timestamptz[]) ORDER BY 1 \
             ON CONFLICT (elevator_id) DO UPDATE SET events = t.events + EXCLUDED.events, \
             min_seq = least(t.min_seq, EXCLUDED.min_seq), max_seq = greatest(t.max_seq, EXCLUDED.max_seq), \
             last_seen = greatest(t.last_seen, EXCLUDED.last_seen)",
            &[&ids, &events, &min, &max, &last],
        )
        .await?;
        let bounds = ingest::reading_bounds(c);
        if bounds.is_empty() {
            return Ok(());
        }
        let be: Vec<i32> = bounds.iter().map(|b| b.0).collect();
        let blo: Vec<DateTime<Utc>> = bounds.iter().map(|b| dt(b.1)).collect();
        let bhi: Vec<DateTime<Utc>> = bounds.iter().map(|b| dt(b.2)).collect();
        let rows = tx
            .query(
                format!(
                    "WITH b(e, lo, hi) AS (SELECT * FROM unnest($1::int4[], $2::timestamptz[], $3::timestamptz[])) \
                     SELECT {READING_COLUMNS} FROM b JOIN counter_readings c ON c.elevator_id = b.e AND c.ts BETWEEN b.lo AND b.hi \
                     UNION ALL SELECT p.* FROM b CROSS JOIN LATERAL (SELECT {READING_COLUMNS} FROM counter_readings c \
                       WHERE c.elevator_id = b.e AND c.ts < b.lo ORDER BY c.ts DESC, c.seq DESC LIMIT 1) p \
                     UNION ALL SELECT n.* FROM b CROSS JOIN LATERAL (SELECT {READING_COLUMNS} FROM counter_readings c \
                       WHERE c.elevator_id = b.e AND c.ts > b.hi ORDER BY c.ts, c.seq LIMIT 1) n"
                )
                .as_str(),
                &[&be, &blo, &bhi],
            )
            .await?;
        let loaded: Vec<(i32, Reading)> = rows.iter().map(reading).collect();
        let plan = ingest::plan_readings(loaded, c, self.tz);
        let counted: Vec<i64> = if plan.counts.is_empty() {
            Vec::new()
        } else {
            let e: Vec<i32> = plan.counts.iter().map(|x| x.0).collect();
            let a: Vec<DateTime<Utc>> = plan.counts.iter().map(|x| dt(x.2)).collect();
            let b: Vec<DateTime<Utc>> = plan.counts.iter().map(|x| dt(x.3)).collect();
            let rows = tx
                .query(
                    "SELECT (SELECT count(*) FROM events r WHERE r.elevator_id = s.e AND r.kind = 0 \
                       AND r.ts > s.a AND r.ts <= s.b) FROM unnest($1::int4[], $2::timestamptz[], $3::timestamptz[]) \
                       WITH ORDINALITY AS s(e, a, b, i) ORDER BY s.i",
                    &[&e, &a, &b],
                )
                .await?;
            rows.iter().map(|r| r.get::<_, i64>(0)).collect()
        };
        let w = ingest::finish_readings(plan, &counted, c);
        self.write_readings(tx, &w.rows).await?;
        for (k, r) in &w.rows {
            let s = SpanSums::of(r);
            let new = c.counters.get(k).is_some_and(|v| v.iter().any(|(t, q, _)| (*t, *q) == r.key()));
            if new && s.missing() > 0 {
                tracing::warn!(
                    elevator_id = k,
                    counter_ts = %r.ts.to_rfc3339(),
                    runs_by_odometer = s.runs_by_odometer,
                    runs_reported = s.runs_reported,
                    missing = s.missing(),
                    "runs missing by odometer: the controller counted runs that were never reported"
                );
            }
        }
        let (de, dv): (Vec<i32>, Vec<SpanSums>) = w.deltas.into_iter().unzip();
        let f = |g: fn(&SpanSums) -> i64| dv.iter().map(g).collect::<Vec<i64>>();
        tx.execute(
            "UPDATE device_telemetry t SET pairs = t.pairs + d.p, resets = t.resets + d.r, \
             runs_reported = t.runs_reported + d.rep, runs_by_odometer = t.runs_by_odometer + d.odo \
             FROM unnest($1::int4[], $2::int8[], $3::int8[], $4::int8[], $5::int8[]) AS d(e, p, r, rep, odo) \
             WHERE t.elevator_id = d.e",
            &[&de, &f(|s| s.pairs), &f(|s| s.resets), &f(|s| s.runs_reported), &f(|s| s.runs_by_odometer)],
        )
        .await?;
        Ok(())
    }

    async fn write_readings(&self, tx: &Transaction<'_>, rows: &[(i32, Reading)]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let e: Vec<i32> = rows.iter().map(|r| r.0).collect();
        let t: Vec<DateTime<Utc>> = rows.iter().map(|r| dt(r.1.ts)).collect();
        let s: Vec<i64> = rows.iter().map(|r| r.1.seq as i64).collect();
        let n: Vec<i64> = rows.iter().map(|r| r.1.runs_total as i64).collect();
        let d: Vec<NaiveDate> = rows.iter().map(|r| r.1.day).collect();
        let k: Vec<i64> = rows.iter().map(|r| r.1.runs_in_span).collect();
        let pd: Vec<Option<NaiveDate>> = rows.iter().map(|r| r.1.prev.map(|p| p.day)).collect();
        let o: Vec<Option<i64>> = rows.iter().map(|r| r.1.prev.and_then(|p| p.odometer_runs)).collect();
        tx.execute(
            format!(
                "INSERT INTO counter_readings ({READING_COLUMNS}) SELECT * FROM unnest($1::int4[], $2::timestamptz[], \
                 $3::int8[], $4::int8[], $5::date[], $6::int8[], $7::date[], $8::int8[]) ORDER BY 1, 2, 3 \
                 ON CONFLICT (elevator_id, ts, seq) DO UPDATE SET runs_in_span = EXCLUDED.runs_in_span, \
                 prev_day = EXCLUDED.prev_day, odometer_runs = EXCLUDED.odometer_runs"
            )
            .as_str(),
            &[&e, &t, &s, &n, &d, &k, &pd, &o],
        )
        .await?;
        Ok(())
    }
}

/// Sums of the spans selected by `filter` (a `WHERE` on `counter_readings c`
/// and its joins): pairs, resets, runs reported, runs by odometer.
pub(crate) const SPAN_SUMS: &str = "count(*), count(*) FILTER (WHERE c.odometer_runs IS NULL), \
    coalesce(sum(c.runs_in_span) FILTER (WHERE c.odometer_runs IS NOT NULL), 0)::int8, \
    coalesce(sum(c.odometer_runs), 0)::int8";

/// The [`SpanSums`] of a row selected with [`SPAN_SUMS`] from column `at`.
pub(crate) fn span_sums(r: &tokio_postgres::Row, at: usize) -> SpanSums {
    SpanSums { pairs: r.get(at), resets: r.get(at + 1), runs_reported: r.get(at + 2), runs_by_odometer: r.get(at + 3) }
}

/// Spans of a project's elevators on days they belonged to it: both ends in
/// the window and in one membership (`$1` project, `$2`..`$3` window).
pub(crate) const PROJECT_SPANS: &str = "FROM memberships m JOIN counter_readings c ON c.elevator_id = m.elevator_id \
    AND c.prev_day >= m.since AND (m.until IS NULL OR c.day <= m.until)";
/// The `WHERE` of [`PROJECT_SPANS`].
pub(crate) const PROJECT_SPANS_WHERE: &str = "WHERE m.project_id = $1 AND c.prev_day >= $2 AND c.day <= $3";

fn telemetry_row(r: &tokio_postgres::Row, at: usize) -> DeviceTelemetry {
    let s = SeqStats {
        events: r.get(at),
        min_seq: r.get(at + 1),
        max_seq: r.get(at + 2),
        last_seen: ts(r.get::<_, DateTime<Utc>>(at + 3)),
    };
    DeviceTelemetry::new(&s, span_sums_of_totals(r, at + 4))
}

fn span_sums_of_totals(r: &tokio_postgres::Row, at: usize) -> SpanSums {
    SpanSums { pairs: r.get(at), resets: r.get(at + 1), runs_reported: r.get(at + 2), runs_by_odometer: r.get(at + 3) }
}

const TELEMETRY_COLUMNS: &str =
    "t.events, t.min_seq, t.max_seq, t.last_seen, t.pairs, t.resets, t.runs_reported, t.runs_by_odometer";

fn code(s: &str) -> Result<DeviceCode, StoreError> {
    DeviceCode::parse(s).map_err(|e| StoreError::Permanent(e.to_string()))
}

/// One device's telemetry read on the caller's connection (a KPI answer
/// reads it beside its sums without taking a second pooled connection).
pub(crate) async fn device_telemetry_on<C: GenericClient>(
    c: &C,
    device: DeviceCode,
) -> Result<Option<DeviceTelemetry>, StoreError> {
    let r = c
        .query_opt(
            format!(
                "SELECT {TELEMETRY_COLUMNS} FROM device_telemetry t JOIN elevators e ON e.id = t.elevator_id \
                 WHERE e.device_code = $1"
            )
            .as_str(),
            &[&device.as_str()],
        )
        .await?;
    Ok(r.map(|r| telemetry_row(&r, 0)))
}

#[async_trait]
impl Telemetry for PgStore {
    async fn device_telemetry(&self, device: DeviceCode) -> Result<Option<DeviceTelemetry>, StoreError> {
        let c = self.pool.get().await?;
        device_telemetry_on(&**c, device).await
    }

    async fn silent_devices(
        &self,
        before: Timestamp,
        limit: i64,
    ) -> Result<Vec<(DeviceCode, Option<DeviceTelemetry>)>, StoreError> {
        let c = self.pool.get().await?;
        let today = before.local_day(self.tz);
        let rows = c
            .query(
                format!(
                    "SELECT e.device_code, t.elevator_id IS NOT NULL, {TELEMETRY_COLUMNS} FROM elevators e \
                     LEFT JOIN device_telemetry t ON t.elevator_id = e.id \
                     WHERE (t.last_seen IS NULL OR t.last_seen < $1) AND EXISTS (SELECT 1 FROM memberships m \
                       WHERE m.elevator_id = e.id AND m.since <= $2 AND (m.until IS NULL OR m.until >= $2)) \
                     ORDER BY t.last_seen NULLS FIRST, e.device_code LIMIT $3"
                )
                .as_str(),
                &[&dt(before), &today, &limit],
            )
            .await?;
        rows.iter().map(|r| Ok((code(r.get(0))?, r.get::<_, bool>(1).then(|| telemetry_row(r, 2))))).collect()
    }

    async fn telemetry_summary(&self, silent_before: Timestamp) -> Result<TelemetrySummary, StoreError> {
        let c = self.pool.get().await?;
        let today = silent_before.local_day(self.tz);
        let r = c
            .query_one(
                "SELECT count(*), coalesce(sum(greatest(t.max_seq - t.min_seq + 1 - t.events, 0)), 0)::int8, \
                   coalesce(sum(t.runs_by_odometer), 0)::int8, coalesce(sum(t.runs_reported), 0)::int8, \
                   coalesce(sum(greatest(t.runs_by_odometer - t.runs_reported, 0)), 0)::int8, \
                   (SELECT count(*) FROM elevators e LEFT JOIN device_telemetry s ON s.elevator_id = e.id \
                     WHERE (s.last_seen IS NULL OR s.last_seen < $1) AND EXISTS (SELECT 1 FROM memberships m \
                     WHERE m.elevator_id = e.id AND m.since <= $2 AND (m.until IS NULL OR m.until >= $2))) \
                 FROM device_telemetry t",
                &[&dt(silent_before), &today],
            )
            .await?;
        Ok(TelemetrySummary {
            devices: r.get(0),
            seq_gaps: r.get(1),
            runs_by_odometer: r.get(2),
            runs_reported: r.get(3),
            runs_missing: r.get(4),
            silent: r.get(5),
        })
    }

    async fn project_elevator_completeness(
        &self,
        project_id: &str,
        w: Window,
    ) -> Result<Vec<(DeviceCode, Completeness)>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                format!(
                    "SELECT e.device_code, {SPAN_SUMS} {PROJECT_SPANS} JOIN elevators e ON e.id = c.elevator_id \
                     {PROJECT_SPANS_WHERE} GROUP BY e.device_code ORDER BY e.device_code"
                )
                .as_str(),
                &[&project_id, &w.from, &w.to],
            )
            .await?;
        rows.iter().map(|r| Ok((code(r.get(0))?, Completeness::new(span_sums(r, 1))))).collect()
    }

    async fn counter_readings(&self) -> Result<Vec<(DeviceCode, Reading)>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                format!(
                    "SELECT {}, e.device_code FROM counter_readings c JOIN elevators e ON e.id = c.elevator_id \
                     ORDER BY e.device_code, c.ts, c.seq",
                    READING_COLUMNS.split(", ").map(|n| format!("c.{n}")).collect::<Vec<_>>().join(", ")
                )
                .as_str(),
                &[],
            )
            .await?;
        rows.iter().map(|r| Ok((code(r.get(8))?, reading(r).1))).collect()
    }
}

/// Every box's telemetry (for the rule engine's snapshot).
pub(crate) async fn all_telemetry(s: &PgStore) -> Result<Vec<(DeviceCode, DeviceTelemetry)>, StoreError> {
    let c = s.pool.get().await?;
    let rows = c
        .query(
            format!("SELECT e.device_code, {TELEMETRY_COLUMNS} FROM device_telemetry t JOIN elevators e ON e.id = t.elevator_id")
                .as_str(),
            &[],
        )
        .await?;
    rows.iter().map(|r| Ok((code(r.get(0))?, telemetry_row(r, 1)))).collect()
}
