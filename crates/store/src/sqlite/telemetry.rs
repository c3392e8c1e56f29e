//! Telemetry rows at ingest (step 4 of [`liftwatch_core::ingest`]) and the
//! [`Telemetry`] port, in SQLite. The decisions are the core's
//! ([`ingest::plan_readings`], [`ingest::finish_readings`]); this module
//! only loads, counts and writes: each elevator's seq summary is added to
//! its `device_telemetry` row, the readings around the batch's runs and
//! counters are loaded, the spans the core asks for counted from `events`
//! (on the partial index `events_runs_by_time`), and the changed readings
//! and span sums written. The writer thread is alone, so no row needs a
//! lock to order the transactions touching one elevator.

use async_trait::async_trait;
use chrono_tz::Tz;
use liftwatch_core::completeness::{
    Completeness, DeviceTelemetry, Reading, SeqStats, SpanStart, SpanSums, TelemetrySummary,
};
use liftwatch_core::ingest::{self, Changes};
use liftwatch_core::protocol::{DeviceCode, Timestamp};
use liftwatch_core::window::Window;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::code;
use crate::port::Telemetry;
use crate::{SqliteStore, StoreError};

const READING_COLUMNS: &str =
    "c.elevator_id, c.ts, c.seq, c.runs_total, c.day, c.runs_in_span, c.prev_day, c.odometer_runs";

fn reading(r: &Row<'_>) -> rusqlite::Result<(i64, Reading)> {
    let prev_day: Option<chrono::NaiveDate> = r.get(6)?;
    Ok((
        r.get(0)?,
        Reading {
            ts: Timestamp(r.get(1)?),
            seq: r.get::<_, i64>(2)? as u64,
            runs_total: r.get::<_, i64>(3)? as u64,
            day: r.get(4)?,
            runs_in_span: r.get(5)?,
            prev: match prev_day {
                Some(day) => Some(SpanStart { day, odometer_runs: r.get(7)? }),
                None => None,
            },
        },
    ))
}

/// Step 4 of ingest, inside the batch's transaction.
pub(crate) fn ingest_telemetry(c: &Connection, tz: Tz, ch: &Changes<'_, i64>) -> Result<(), StoreError> {
    if ch.seq.is_empty() {
        return Ok(());
    }
    let mut seq = c.prepare_cached(
        "INSERT INTO device_telemetry (elevator_id, events, min_seq, max_seq, last_seen) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (elevator_id) DO UPDATE SET events = events + excluded.events, \
         min_seq = min(min_seq, excluded.min_seq), max_seq = max(max_seq, excluded.max_seq), \
         last_seen = max(last_seen, excluded.last_seen)",
    )?;
    for (e, s) in &ch.seq {
        seq.execute(params![e, s.events, s.min_seq, s.max_seq, s.last_seen.0])?;
    }
    let bounds = ingest::reading_bounds(ch);
    if bounds.is_empty() {
        return Ok(());
    }
    let mut loaded = Vec::new();
    {
        let mut within = c.prepare_cached(&format!(
            "SELECT {READING_COLUMNS} FROM counter_readings c WHERE c.elevator_id = ?1 AND c.ts BETWEEN ?2 AND ?3"
        ))?;
        let mut before = c.prepare_cached(&format!(
            "SELECT {READING_COLUMNS} FROM counter_readings c WHERE c.elevator_id = ?1 AND c.ts < ?2 \
             ORDER BY c.ts DESC, c.seq DESC LIMIT 1"
        ))?;
        let mut after = c.prepare_cached(&format!(
            "SELECT {READING_COLUMNS} FROM counter_readings c WHERE c.elevator_id = ?1 AND c.ts > ?2 \
             ORDER BY c.ts, c.seq LIMIT 1"
        ))?;
        for (e, lo, hi) in &bounds {
            for r in within.query_map(params![e, lo.0, hi.0], reading)? {
                loaded.push(r?);
            }
            loaded.extend(before.query_row(params![e, lo.0], reading).optional()?);
            loaded.extend(after.query_row(params![e, hi.0], reading).optional()?);
        }
    }
    let plan = ingest::plan_readings(loaded, ch, tz);
    let mut count = c.prepare_cached(
        "SELECT count(*) FROM events r WHERE r.elevator_id = ?1 AND r.kind = 0 AND r.ts > ?2 AND r.ts <= ?3",
    )?;
    let counted: Vec<i64> = plan
        .counts
        .iter()
        .map(|(e, _, a, b)| count.query_row(params![e, a.0, b.0], |r| r.get(0)))
        .collect::<rusqlite::Result<_>>()?;
    let w = ingest::finish_readings(plan, &counted, ch);
    write_readings(c, &w.rows)?;
    for (k, r) in &w.rows {
        let s = SpanSums::of(r);
        let new = ch.counters.get(k).is_some_and(|v| v.iter().any(|(t, q, _)| (*t, *q) == r.key()));
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
    let mut sums = c.prepare_cached(
        "UPDATE device_telemetry SET pairs = pairs + ?2, resets = resets + ?3, runs_reported = runs_reported + ?4, \
         runs_by_odometer = runs_by_odometer + ?5 WHERE elevator_id = ?1",
    )?;
    for (e, d) in &w.deltas {
        sums.execute(params![e, d.pairs, d.resets, d.runs_reported, d.runs_by_odometer])?;
    }
    Ok(())
}

fn write_readings(c: &Connection, rows: &[(i64, Reading)]) -> Result<(), StoreError> {
    let mut up = c.prepare_cached(
        "INSERT INTO counter_readings (elevator_id, ts, seq, runs_total, day, runs_in_span, prev_day, odometer_runs) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (elevator_id, ts, seq) DO UPDATE SET runs_in_span = excluded.runs_in_span, \
         prev_day = excluded.prev_day, odometer_runs = excluded.odometer_runs",
    )?;
    for (e, r) in rows {
        up.execute(params![
            e,
            r.ts.0,
            r.seq as i64,
            r.runs_total as i64,
            r.day,
            r.runs_in_span,
            r.prev.map(|p| p.day),
            r.prev.and_then(|p| p.odometer_runs)
        ])?;
    }
    Ok(())
}

/// Sums of the spans selected (a `WHERE` on `counter_readings c` and its
/// joins): pairs, resets, runs reported, runs by odometer.
pub(crate) const SPAN_SUMS: &str = "count(*), count(*) FILTER (WHERE c.odometer_runs IS NULL), \
    coalesce(sum(c.runs_in_span) FILTER (WHERE c.odometer_runs IS NOT NULL), 0), \
    coalesce(sum(c.odometer_runs), 0)";

/// The [`SpanSums`] of a row selected with [`SPAN_SUMS`] from column `at`.
pub(crate) fn span_sums(r: &Row<'_>, at: usize) -> rusqlite::Result<SpanSums> {
    Ok(SpanSums {
        pairs: r.get(at)?,
        resets: r.get(at + 1)?,
        runs_reported: r.get(at + 2)?,
        runs_by_odometer: r.get(at + 3)?,
    })
}

/// Spans of a project's elevators on days they belonged to it: both ends in
/// the window and in one membership (`?1` project, `?2`..`?3` window).
pub(crate) const PROJECT_SPANS: &str = "FROM memberships m JOIN counter_readings c ON c.elevator_id = m.elevator_id \
    AND c.prev_day >= m.since AND (m.until IS NULL OR c.day <= m.until)";
/// The `WHERE` of [`PROJECT_SPANS`].
pub(crate) const PROJECT_SPANS_WHERE: &str = "WHERE m.project_id = ?1 AND c.prev_day >= ?2 AND c.day <= ?3";

const TELEMETRY_COLUMNS: &str =
    "t.events, t.min_seq, t.max_seq, t.last_seen, t.pairs, t.resets, t.runs_reported, t.runs_by_odometer";

fn telemetry_row(r: &Row<'_>, at: usize) -> rusqlite::Result<DeviceTelemetry> {
    let s = SeqStats {
        events: r.get(at)?,
        min_seq: r.get(at + 1)?,
        max_seq: r.get(at + 2)?,
        last_seen: Timestamp(r.get(at + 3)?),
    };
    Ok(DeviceTelemetry::new(&s, span_sums(r, at + 4)?))
}

/// One device's telemetry, on the caller's connection.
pub(crate) fn device_telemetry_on(c: &Connection, device: DeviceCode) -> Result<Option<DeviceTelemetry>, StoreError> {
    Ok(c.prepare_cached(&format!(
        "SELECT {TELEMETRY_COLUMNS} FROM device_telemetry t JOIN elevators e ON e.id = t.elevator_id \
         WHERE e.device_code = ?1"
    ))?
    .query_row([device.as_str()], |r| telemetry_row(r, 0))
    .optional()?)
}

/// Every box's telemetry (for the rule engine's snapshot).
pub(crate) fn all_telemetry(c: &Connection) -> Result<Vec<(DeviceCode, DeviceTelemetry)>, StoreError> {
    let mut st = c.prepare(&format!(
        "SELECT e.device_code, {TELEMETRY_COLUMNS} FROM device_telemetry t JOIN elevators e ON e.id = t.elevator_id"
    ))?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, telemetry_row(r, 1)?)))?;
    rows.map(|r| {
        let (d, t) = r?;
        Ok((code(&d)?, t))
    })
    .collect()
}

/// Elevators in a project today that were never heard or not since `before`.
const SILENT: &str = "FROM elevators e LEFT JOIN device_telemetry t ON t.elevator_id = e.id \
    WHERE (t.last_seen IS NULL OR t.last_seen < ?1) AND EXISTS (SELECT 1 FROM memberships m \
    WHERE m.elevator_id = e.id AND m.since <= ?2 AND (m.until IS NULL OR m.until >= ?2))";

#[async_trait]
impl Telemetry for SqliteStore {
    async fn device_telemetry(&self, device: DeviceCode) -> Result<Option<DeviceTelemetry>, StoreError> {
        self.read(move |c| device_telemetry_on(c, device)).await
    }

    async fn silent_devices(
        &self,
        before: Timestamp,
        limit: i64,
    ) -> Result<Vec<(DeviceCode, Option<DeviceTelemetry>)>, StoreError> {
        let today = before.local_day(self.tz);
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT e.device_code, t.elevator_id IS NOT NULL, {TELEMETRY_COLUMNS} {SILENT} \
                 ORDER BY t.last_seen NULLS FIRST, e.device_code LIMIT ?3"
            ))?;
            let rows = st.query_map(params![before.0, today, limit], |r| {
                let heard: bool = r.get(1)?;
                Ok((r.get::<_, String>(0)?, if heard { Some(telemetry_row(r, 2)?) } else { None }))
            })?;
            rows.map(|r| {
                let (d, t) = r?;
                Ok((code(&d)?, t))
            })
            .collect()
        })
        .await
    }

    async fn telemetry_summary(&self, silent_before: Timestamp) -> Result<TelemetrySummary, StoreError> {
        let today = silent_before.local_day(self.tz);
        self.read(move |c| {
            Ok(c.query_row(
                &format!(
                    "SELECT count(*), coalesce(sum(max(d.max_seq - d.min_seq + 1 - d.events, 0)), 0), \
                       coalesce(sum(d.runs_by_odometer), 0), coalesce(sum(d.runs_reported), 0), \
                       coalesce(sum(max(d.runs_by_odometer - d.runs_reported, 0)), 0), \
                       (SELECT count(*) {SILENT}) FROM device_telemetry d"
                ),
                params![silent_before.0, today],
                |r| {
                    Ok(TelemetrySummary {
                        devices: r.get(0)?,
                        seq_gaps: r.get(1)?,
                        runs_by_odometer: r.get(2)?,
                        runs_reported: r.get(3)?,
                        runs_missing: r.get(4)?,
                        silent: r.get(5)?,
                    })
                },
            )?)
        })
        .await
    }

    async fn project_elevator_completeness(
        &self,
        project_id: &str,
        w: Window,
    ) -> Result<Vec<(DeviceCode, Completeness)>, StoreError> {
        let project_id = project_id.to_owned();
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT e.device_code, {SPAN_SUMS} {PROJECT_SPANS} JOIN elevators e ON e.id = c.elevator_id \
                 {PROJECT_SPANS_WHERE} GROUP BY e.device_code ORDER BY e.device_code"
            ))?;
            let rows = st.query_map(params![project_id, w.from, w.to], |r| {
                Ok((r.get::<_, String>(0)?, Completeness::new(span_sums(r, 1)?)))
            })?;
            rows.map(|r| {
                let (d, x) = r?;
                Ok((code(&d)?, x))
            })
            .collect()
        })
        .await
    }

    async fn counter_readings(&self) -> Result<Vec<(DeviceCode, Reading)>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {READING_COLUMNS}, e.device_code FROM counter_readings c JOIN elevators e \
                 ON e.id = c.elevator_id ORDER BY e.device_code, c.ts, c.seq"
            ))?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(8)?, reading(r)?.1)))?;
            rows.map(|r| {
                let (d, x) = r?;
                Ok((code(&d)?, x))
            })
            .collect()
        })
        .await
    }
}
