//! Incident rows (faults, entrapments) and rollup rows: created, locked in
//! key order, read, written back. The decisions are the core's
//! ([`liftwatch_core::incident::change_incident`], one path for ingest,
//! cause corrections and arrivals reported over HTTP); this module only
//! loads and writes. Each row carries its local start day (`start_day`,
//! `alarm_day`), computed here in Rust, so that queries need no time-zone
//! function.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use liftwatch_core::incident::{
    change_incident, Alarm, CauseCorrection, EntrapmentRecord, FaultRecord, FaultStart, Incident,
};
use liftwatch_core::ingest::add_deltas;
use liftwatch_core::protocol::{Cause, FaultCode, Timestamp};
use liftwatch_core::rollup::DayRollup;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Transaction};

use super::{dt, ts};
use crate::StoreError;

/// An incident table as the adapter reads and writes it.
pub(crate) trait IncidentRow: Incident + Send + Sync + Sized {
    /// Table name.
    const TABLE: &'static str;
    /// The box's id column.
    const ID: &'static str;
    /// The state columns read back.
    const COLUMNS: &'static str;
    /// The record of a row (selected with [`Self::COLUMNS`]).
    fn from_row(r: &tokio_postgres::Row) -> Result<Self, StoreError>;
    /// Writes the records back; `by` says who changed them (`box` for ingest).
    fn write(
        tx: &Transaction<'_>,
        rows: &[((i32, String), Self)],
        tz: Tz,
        by: &str,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;
}

/// Creates the missing rows of `keys` (when `create`) and locks them all
/// `FOR UPDATE` in key order (no deadlocks between gateways and the API).
pub(crate) async fn lock<R: IncidentRow>(
    tx: &Transaction<'_>,
    eids: &[i32],
    ids: &[&str],
    create: bool,
) -> Result<Vec<((i32, String), R)>, StoreError> {
    let (table, id, cols) = (R::TABLE, R::ID, R::COLUMNS);
    if create {
        tx.execute(
            format!(
                "INSERT INTO {table} (elevator_id, {id}) SELECT * FROM unnest($1::int4[], $2::text[]) \
                 ON CONFLICT DO NOTHING"
            )
            .as_str(),
            &[&eids, &ids],
        )
        .await?;
    }
    let rows = tx
        .query(
            format!(
                "SELECT elevator_id, {id}, {cols} FROM {table} \
                 WHERE (elevator_id, {id}) IN (SELECT * FROM unnest($1::int4[], $2::text[])) \
                 ORDER BY elevator_id, {id} FOR UPDATE"
            )
            .as_str(),
            &[&eids, &ids],
        )
        .await?;
    rows.iter().map(|r| Ok(((r.get(0), r.get(1)), R::from_row(r)?))).collect()
}

/// Changes one incident through the core's one change path, in the caller's
/// transaction: locks the row (creating it when `create`), applies `change`,
/// writes the record back and adds the rollup delta. `Ok(None)` when the
/// row does not exist and `create` is false.
pub(crate) async fn change_one<R: IncidentRow, T: Send>(
    tx: &Transaction<'_>,
    tz: Tz,
    key: (i32, &str),
    create: bool,
    by: &str,
    change: impl FnOnce(&mut R) -> T + Send,
) -> Result<Option<(T, R)>, StoreError> {
    let Some((k, mut rec)) = lock::<R>(tx, &[key.0], &[key.1], create).await?.into_iter().next() else {
        return Ok(None);
    };
    let (out, delta) = change_incident(&mut rec, tz, change);
    let mut rollups = BTreeMap::new();
    add_deltas(&mut rollups, key.0, delta);
    let rows = [(k, rec)];
    R::write(tx, &rows, tz, by).await?;
    add_rollups(tx, &rollups).await?;
    let [(_, rec)] = rows;
    Ok(Some((out, rec)))
}

impl IncidentRow for FaultRecord {
    const TABLE: &'static str = "faults";
    const ID: &'static str = "fault_id";
    const COLUMNS: &'static str =
        "start_ts, start_seq, code, stops_service, reported_cause, cleared_at, corrections, clearings";
    fn from_row(r: &tokio_postgres::Row) -> Result<Self, StoreError> {
        fault_from_row(r)
    }
    async fn write(tx: &Transaction<'_>, rows: &[((i32, String), Self)], tz: Tz, _by: &str) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut eid = Vec::with_capacity(rows.len());
        let mut fid = Vec::with_capacity(rows.len());
        let mut start_ts = Vec::with_capacity(rows.len());
        let mut start_day: Vec<Option<NaiveDate>> = Vec::with_capacity(rows.len());
        let mut start_seq = Vec::with_capacity(rows.len());
        let mut code = Vec::with_capacity(rows.len());
        let mut stops = Vec::with_capacity(rows.len());
        let mut reported = Vec::with_capacity(rows.len());
        let mut cleared = Vec::with_capacity(rows.len());
        let mut cause = Vec::with_capacity(rows.len());
        let mut corrections = Vec::with_capacity(rows.len());
        let mut clearings = Vec::with_capacity(rows.len());
        let mut early = Vec::with_capacity(rows.len());
        for ((e, f), rec) in rows {
            eid.push(*e);
            fid.push(f.as_str());
            let s = rec.start.as_ref();
            start_ts.push(s.map(|s| dt(s.ts)));
            start_day.push(rec.local_start_day(tz));
            start_seq.push(s.map(|s| s.seq as i64));
            code.push(s.map(|s| s.code.as_str().to_owned()));
            stops.push(s.map(|s| s.stops_service));
            reported.push(s.and_then(|s| s.reported_cause).map(Cause::as_str));
            cleared.push(rec.cleared_at.map(dt));
            cause.push(rec.cause().map(Cause::as_str));
            corrections.push(serde_json::to_value(&rec.corrections).unwrap_or_else(|_| serde_json::json!([])));
            clearings.push(times_literal(&rec.clearings));
            early.push(rec.early_clearing().map(dt));
        }
        tx.execute(
            "UPDATE faults f SET start_ts = u.start_ts, start_day = u.start_day, start_seq = u.start_seq, code = u.code, \
             stops_service = u.stops, reported_cause = u.reported, cleared_at = u.cleared, cause = u.cause, \
             corrections = u.corrections, clearings = u.clearings::timestamptz[], early_cleared_at = u.early \
             FROM unnest($1::int4[], $2::text[], $3::timestamptz[], $4::date[], $5::int8[], $6::text[], $7::bool[], \
                         $8::text[], $9::timestamptz[], $10::text[], $11::jsonb[], $12::text[], $13::timestamptz[]) \
                  AS u(eid, fid, start_ts, start_day, start_seq, code, stops, reported, cleared, cause, corrections, \
                       clearings, early) \
             WHERE f.elevator_id = u.eid AND f.fault_id = u.fid",
            &[
                &eid as &(dyn ToSql + Sync),
                &fid,
                &start_ts,
                &start_day,
                &start_seq,
                &code,
                &stops,
                &reported,
                &cleared,
                &cause,
                &corrections,
                &clearings,
                &early,
            ],
        )
        .await?;
        Ok(())
    }
}

impl IncidentRow for EntrapmentRecord {
    const TABLE: &'static str = "entrapments";
    const ID: &'static str = "incident_id";
    const COLUMNS: &'static str =
        "alarm_ts, alarm_seq, fault_id, arrived_at, released_at, arrival_reported_by, arrivals";
    fn from_row(r: &tokio_postgres::Row) -> Result<Self, StoreError> {
        Ok(entrapment_from_row(r))
    }
    async fn write(tx: &Transaction<'_>, rows: &[((i32, String), Self)], tz: Tz, by: &str) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let eid: Vec<i32> = rows.iter().map(|((e, _), _)| *e).collect();
        let iid: Vec<&str> = rows.iter().map(|((_, i), _)| i.as_str()).collect();
        let alarm_ts: Vec<Option<DateTime<Utc>>> =
            rows.iter().map(|(_, r)| r.alarm.as_ref().map(|a| dt(a.ts))).collect();
        let alarm_day: Vec<Option<NaiveDate>> = rows.iter().map(|(_, r)| r.local_start_day(tz)).collect();
        let alarm_seq: Vec<Option<i64>> = rows.iter().map(|(_, r)| r.alarm.as_ref().map(|a| a.seq as i64)).collect();
        let fault_id: Vec<Option<&str>> =
            rows.iter().map(|(_, r)| r.alarm.as_ref().and_then(|a| a.fault_id.as_deref())).collect();
        let arrived: Vec<Option<DateTime<Utc>>> = rows.iter().map(|(_, r)| r.arrived_at.map(dt)).collect();
        let released: Vec<Option<DateTime<Utc>>> = rows.iter().map(|(_, r)| r.released_at.map(dt)).collect();
        let arrivals: Vec<String> = rows.iter().map(|(_, r)| times_literal(&r.arrivals)).collect();
        let early: Vec<Option<DateTime<Utc>>> = rows.iter().map(|(_, r)| r.early_arrival().map(dt)).collect();
        tx.execute(
            "UPDATE entrapments e SET alarm_ts = u.alarm_ts, alarm_day = u.alarm_day, alarm_seq = u.alarm_seq, \
             fault_id = u.fault_id, arrived_at = u.arrived, released_at = u.released, \
             arrivals = u.arrivals::timestamptz[], early_arrival_at = u.early, \
             arrival_reported_by = CASE WHEN u.arrived IS DISTINCT FROM e.arrived_at THEN $9 ELSE e.arrival_reported_by END \
             FROM unnest($1::int4[], $2::text[], $3::timestamptz[], $4::date[], $5::int8[], $6::text[], \
                         $7::timestamptz[], $8::timestamptz[], $10::text[], $11::timestamptz[]) \
                  AS u(eid, iid, alarm_ts, alarm_day, alarm_seq, fault_id, arrived, released, arrivals, early) \
             WHERE e.elevator_id = u.eid AND e.incident_id = u.iid",
            &[&eid, &iid, &alarm_ts, &alarm_day, &alarm_seq, &fault_id, &arrived, &released, &by, &arrivals, &early],
        )
        .await?;
        Ok(())
    }
}

/// A time set as a PostgreSQL array literal (`{"…","…"}`): `unnest` cannot
/// take an array of arrays of uneven lengths, so each set travels as text and
/// is cast to `timestamptz[]` in SQL.
fn times_literal(set: &[Timestamp]) -> String {
    let items: Vec<String> = set.iter().map(|t| format!("\"{}\"", dt(*t).to_rfc3339())).collect();
    format!("{{{}}}", items.join(","))
}

/// A time set read back (sorted, as the core keeps it).
fn times_of(r: &tokio_postgres::Row, col: &str) -> Vec<Timestamp> {
    let mut v: Vec<Timestamp> = r.get::<_, Vec<DateTime<Utc>>>(col).into_iter().map(ts).collect();
    v.sort_unstable();
    v
}

fn parse_cause(s: Option<&str>) -> Option<Cause> {
    s.and_then(Cause::parse)
}
pub(crate) fn fault_from_row(r: &tokio_postgres::Row) -> Result<FaultRecord, StoreError> {
    let start_ts: Option<DateTime<Utc>> = r.get("start_ts");
    let start = start_ts.map(|t| FaultStart {
        ts: ts(t),
        seq: r.get::<_, Option<i64>>("start_seq").unwrap_or(0) as u64,
        code: FaultCode::parse(r.get::<_, Option<&str>>("code").unwrap_or("other")),
        stops_service: r.get::<_, Option<bool>>("stops_service").unwrap_or(false),
        reported_cause: parse_cause(r.get("reported_cause")),
    });
    let corrections: serde_json::Value = r.get("corrections");
    let corrections: Vec<CauseCorrection> =
        serde_json::from_value(corrections).map_err(|e| StoreError::Permanent(format!("corrections column: {e}")))?;
    Ok(FaultRecord {
        start,
        cleared_at: r.get::<_, Option<DateTime<Utc>>>("cleared_at").map(ts),
        clearings: times_of(r, "clearings"),
        corrections,
    })
}
pub(crate) fn entrapment_from_row(r: &tokio_postgres::Row) -> EntrapmentRecord {
    let alarm_ts: Option<DateTime<Utc>> = r.get("alarm_ts");
    EntrapmentRecord {
        alarm: alarm_ts.map(|t| Alarm {
            ts: ts(t),
            seq: r.get::<_, Option<i64>>("alarm_seq").unwrap_or(0) as u64,
            fault_id: r.get::<_, Option<&str>>("fault_id").map(Into::into),
        }),
        arrived_at: r.get::<_, Option<DateTime<Utc>>>("arrived_at").map(ts),
        arrivals: times_of(r, "arrivals"),
        released_at: r.get::<_, Option<DateTime<Utc>>>("released_at").map(ts),
    }
}
/// Adds rollup deltas, in key order (no deadlocks between gateways), and
/// the same deltas to the project-day sums. The caller holds
/// [`super::project_sums::hold_shared`].
pub(crate) async fn add_rollups<C: GenericClient>(
    c: &C,
    rollups: &BTreeMap<(i32, NaiveDate), DayRollup>,
) -> Result<(), StoreError> {
    let rows: Vec<(&(i32, NaiveDate), &DayRollup)> = rollups.iter().filter(|(_, r)| !r.is_zero()).collect();
    if rows.is_empty() {
        return Ok(());
    }
    let eid: Vec<i32> = rows.iter().map(|(k, _)| k.0).collect();
    let day: Vec<NaiveDate> = rows.iter().map(|(k, _)| k.1).collect();
    let cols: Vec<Vec<i64>> = (0..12).map(|i| rows.iter().map(|(_, r)| r.scalars()[i]).collect()).collect();
    let names = DayRollup::SCALAR_NAMES;
    // One statement: the rollups and, for the days an elevator belongs to a
    // project, the same deltas to that project's day (project_sums; in
    // key order, so gateways never deadlock on them).
    let sql = format!(
        "WITH x (elevator_id, day, {cols}) AS (SELECT * FROM unnest($1::int4[], $2::date[], {params})), \
         r AS (INSERT INTO rollups (elevator_id, day, {cols}) SELECT * FROM x \
               ON CONFLICT (elevator_id, day) DO UPDATE SET {sets}) \
         INSERT INTO project_days AS p (project_id, day, {cols}) \
         SELECT m.project_id, x.day, {sums} FROM x JOIN memberships m ON m.elevator_id = x.elevator_id \
              AND x.day >= m.since AND (m.until IS NULL OR x.day <= m.until) \
         GROUP BY m.project_id, x.day ORDER BY 1, 2 \
         ON CONFLICT (project_id, day) DO UPDATE SET {psets}",
        cols = names.join(", "),
        params = (3..15).map(|i| format!("${i}::int8[]")).collect::<Vec<_>>().join(", "),
        sets = names.iter().map(|n| format!("{n} = rollups.{n} + excluded.{n}")).collect::<Vec<_>>().join(", "),
        sums = names.iter().map(|n| format!("sum(x.{n})")).collect::<Vec<_>>().join(", "),
        psets = names.iter().map(|n| format!("{n} = p.{n} + excluded.{n}")).collect::<Vec<_>>().join(", "),
    );
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&eid, &day];
    for c in &cols {
        params.push(c);
    }
    c.execute(sql.as_str(), &params).await?;

    let mut fe = Vec::new();
    let mut fd = Vec::new();
    let mut fc = Vec::new();
    let mut fz = Vec::new();
    let mut fn_ = Vec::new();
    for ((e, d), r) in &rows {
        for (code, counts) in &r.by_code {
            for cause in Cause::ALL {
                let n = *counts.clone().get_mut(cause);
                if n != 0 {
                    fe.push(*e);
                    fd.push(*d);
                    fc.push(code.clone());
                    fz.push(cause.as_str());
                    fn_.push(n);
                }
            }
        }
    }
    if !fe.is_empty() {
        c.execute(
            "INSERT INTO fault_counts (elevator_id, day, code, cause, n) \
             SELECT * FROM unnest($1::int4[], $2::date[], $3::text[], $4::text[], $5::int8[]) \
             ON CONFLICT (elevator_id, day, code, cause) DO UPDATE SET n = fault_counts.n + excluded.n",
            &[&fe, &fd, &fc, &fz, &fn_],
        )
        .await?;
    }
    Ok(())
}
