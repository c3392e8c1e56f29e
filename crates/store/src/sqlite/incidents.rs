//! Incident rows (faults, entrapments) and rollup rows in SQLite: created,
//! read, written back. The decisions are the core's
//! ([`liftwatch_core::incident::change_incident`]); this module only loads
//! and writes. No row locks: the writer thread runs one transaction at a
//! time. Time sets (clearings, arrivals) are JSON arrays of microseconds.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use liftwatch_core::incident::{
    change_incident, Alarm, CauseCorrection, EntrapmentRecord, FaultRecord, FaultStart, Incident,
};
use liftwatch_core::ingest::add_deltas;
use liftwatch_core::protocol::{Cause, FaultCode, Timestamp};
use liftwatch_core::rollup::DayRollup;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::StoreError;

/// An incident table as the adapter reads and writes it.
pub(crate) trait IncidentRow: Incident + Sized {
    /// Table name.
    const TABLE: &'static str;
    /// The box's id column.
    const ID: &'static str;
    /// The record of a row (selected with `*`).
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError>;
    /// Writes the records back; `by` says who changed them (`box` for ingest).
    fn write(c: &Connection, rows: &[((i64, String), Self)], tz: Tz, by: &str) -> Result<(), StoreError>;
}

/// Incident records by (elevator id, box id).
pub(crate) type Rows<R> = Vec<((i64, String), R)>;

/// Reads the rows of `keys` in key order, creating the missing ones first
/// when `create` (the writer is alone: nothing to lock).
pub(crate) fn load<R: IncidentRow>(c: &Connection, keys: &[(i64, &str)], create: bool) -> Result<Rows<R>, StoreError> {
    let (table, id) = (R::TABLE, R::ID);
    let mut keys = keys.to_vec();
    keys.sort_unstable();
    let mut out = Vec::with_capacity(keys.len());
    if create {
        let mut ins =
            c.prepare_cached(&format!("INSERT OR IGNORE INTO {table} (elevator_id, {id}) VALUES (?1, ?2)"))?;
        for (e, i) in &keys {
            ins.execute(params![e, i])?;
        }
    }
    let mut sel = c.prepare_cached(&format!("SELECT * FROM {table} WHERE elevator_id = ?1 AND {id} = ?2"))?;
    for (e, i) in keys {
        let mut rows = sel.query(params![e, i])?;
        if let Some(r) = rows.next()? {
            out.push(((e, i.to_owned()), R::from_row(r)?));
        }
    }
    Ok(out)
}

/// Changes one incident through the core's one change path, in the caller's
/// transaction: reads the row (creating it when `create`), applies `change`,
/// writes the record back and adds the rollup delta. `Ok(None)` when the
/// row does not exist and `create` is false.
pub(crate) fn change_one<R: IncidentRow, T>(
    c: &Connection,
    tz: Tz,
    key: (i64, &str),
    create: bool,
    by: &str,
    change: impl FnOnce(&mut R) -> T,
) -> Result<Option<(T, R)>, StoreError> {
    let Some((k, mut rec)) = load::<R>(c, &[key], create)?.into_iter().next() else {
        return Ok(None);
    };
    let (out, delta) = change_incident(&mut rec, tz, change);
    let mut rollups = BTreeMap::new();
    add_deltas(&mut rollups, key.0, delta);
    let rows = [(k, rec)];
    R::write(c, &rows, tz, by)?;
    add_rollups(c, &rollups)?;
    let [(_, rec)] = rows;
    Ok(Some((out, rec)))
}

/// A time set as stored (JSON array of microseconds).
fn times_json(set: &[Timestamp]) -> String {
    serde_json::to_string(&set.iter().map(|t| t.0).collect::<Vec<i64>>()).unwrap_or_else(|_| "[]".into())
}

/// A time set read back (sorted, as the core keeps it).
fn times_of(r: &Row<'_>, col: &str) -> Result<Vec<Timestamp>, StoreError> {
    let s: String = r.get(col)?;
    let mut v: Vec<Timestamp> = serde_json::from_str::<Vec<i64>>(&s)
        .map_err(|e| StoreError::Permanent(format!("{col} column: {e}")))?
        .into_iter()
        .map(Timestamp)
        .collect();
    v.sort_unstable();
    Ok(v)
}

fn time(r: &Row<'_>, col: &str) -> rusqlite::Result<Option<Timestamp>> {
    Ok(r.get::<_, Option<i64>>(col)?.map(Timestamp))
}

impl IncidentRow for FaultRecord {
    const TABLE: &'static str = "faults";
    const ID: &'static str = "fault_id";
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        fault_from_row(r)
    }
    fn write(c: &Connection, rows: &[((i64, String), Self)], tz: Tz, _by: &str) -> Result<(), StoreError> {
        let mut up = c.prepare_cached(
            "UPDATE faults SET start_ts = ?3, start_day = ?4, start_seq = ?5, code = ?6, stops_service = ?7, \
             reported_cause = ?8, cleared_at = ?9, cause = ?10, corrections = ?11, clearings = ?12, \
             early_cleared_at = ?13 WHERE elevator_id = ?1 AND fault_id = ?2",
        )?;
        for ((e, f), rec) in rows {
            let s = rec.start.as_ref();
            let corrections = serde_json::to_string(&rec.corrections).unwrap_or_else(|_| "[]".into());
            up.execute(params![
                e,
                f,
                s.map(|s| s.ts.0),
                rec.local_start_day(tz),
                s.map(|s| s.seq as i64),
                s.map(|s| s.code.as_str().to_owned()),
                s.map(|s| s.stops_service),
                s.and_then(|s| s.reported_cause).map(Cause::as_str),
                rec.cleared_at.map(|t| t.0),
                rec.cause().map(Cause::as_str),
                corrections,
                times_json(&rec.clearings),
                rec.early_clearing().map(|t| t.0),
            ])?;
        }
        Ok(())
    }
}

impl IncidentRow for EntrapmentRecord {
    const TABLE: &'static str = "entrapments";
    const ID: &'static str = "incident_id";
    fn from_row(r: &Row<'_>) -> Result<Self, StoreError> {
        entrapment_from_row(r)
    }
    fn write(c: &Connection, rows: &[((i64, String), Self)], tz: Tz, by: &str) -> Result<(), StoreError> {
        let mut up = c.prepare_cached(
            "UPDATE entrapments SET alarm_ts = ?3, alarm_day = ?4, alarm_seq = ?5, fault_id = ?6, \
             arrival_reported_by = CASE WHEN ?7 IS NOT arrived_at THEN ?9 ELSE arrival_reported_by END, \
             arrived_at = ?7, released_at = ?8, arrivals = ?10, early_arrival_at = ?11 \
             WHERE elevator_id = ?1 AND incident_id = ?2",
        )?;
        for ((e, i), rec) in rows {
            let a = rec.alarm.as_ref();
            up.execute(params![
                e,
                i,
                a.map(|a| a.ts.0),
                rec.local_start_day(tz),
                a.map(|a| a.seq as i64),
                a.and_then(|a| a.fault_id.as_deref()),
                rec.arrived_at.map(|t| t.0),
                rec.released_at.map(|t| t.0),
                by,
                times_json(&rec.arrivals),
                rec.early_arrival().map(|t| t.0),
            ])?;
        }
        Ok(())
    }
}

/// A fault record from a `faults` row (selected with `*`).
pub(crate) fn fault_from_row(r: &Row<'_>) -> Result<FaultRecord, StoreError> {
    let start = match time(r, "start_ts")? {
        Some(ts) => Some(FaultStart {
            ts,
            seq: r.get::<_, Option<i64>>("start_seq")?.unwrap_or(0) as u64,
            code: FaultCode::parse(r.get::<_, Option<String>>("code")?.as_deref().unwrap_or("other")),
            stops_service: r.get::<_, Option<bool>>("stops_service")?.unwrap_or(false),
            reported_cause: r.get::<_, Option<String>>("reported_cause")?.as_deref().and_then(Cause::parse),
        }),
        None => None,
    };
    let corrections: String = r.get("corrections")?;
    let corrections: Vec<CauseCorrection> =
        serde_json::from_str(&corrections).map_err(|e| StoreError::Permanent(format!("corrections column: {e}")))?;
    Ok(FaultRecord { start, cleared_at: time(r, "cleared_at")?, clearings: times_of(r, "clearings")?, corrections })
}

/// An entrapment record from an `entrapments` row (selected with `*`).
pub(crate) fn entrapment_from_row(r: &Row<'_>) -> Result<EntrapmentRecord, StoreError> {
    let alarm = match time(r, "alarm_ts")? {
        Some(ts) => Some(Alarm {
            ts,
            seq: r.get::<_, Option<i64>>("alarm_seq")?.unwrap_or(0) as u64,
            fault_id: r.get::<_, Option<String>>("fault_id")?.map(Into::into),
        }),
        None => None,
    };
    Ok(EntrapmentRecord {
        alarm,
        arrived_at: time(r, "arrived_at")?,
        arrivals: times_of(r, "arrivals")?,
        released_at: time(r, "released_at")?,
    })
}

/// Adds rollup deltas (and fault counts by code and cause), and the same
/// deltas to the project-day sums.
pub(crate) fn add_rollups(c: &Connection, rollups: &BTreeMap<(i64, NaiveDate), DayRollup>) -> Result<(), StoreError> {
    let names = DayRollup::SCALAR_NAMES;
    let sql = format!(
        "INSERT INTO rollups (elevator_id, day, {cols}) VALUES (?1, ?2, {params}) \
         ON CONFLICT (elevator_id, day) DO UPDATE SET {sets}",
        cols = names.join(", "),
        params = (3..15).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", "),
        sets = names.iter().map(|n| format!("{n} = {n} + excluded.{n}")).collect::<Vec<_>>().join(", "),
    );
    let mut up = c.prepare_cached(&sql)?;
    // The same delta to the project the elevator belongs to that day
    // (project sums, migration V3).
    let project = format!(
        "INSERT INTO project_days (project_id, day, {cols}) SELECT m.project_id, ?2, {params} FROM memberships m \
         WHERE m.elevator_id = ?1 AND ?2 >= m.since AND (m.until IS NULL OR ?2 <= m.until) \
         ON CONFLICT (project_id, day) DO UPDATE SET {sets}",
        cols = names.join(", "),
        params = (3..15).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", "),
        sets = names.iter().map(|n| format!("{n} = {n} + excluded.{n}")).collect::<Vec<_>>().join(", "),
    );
    let mut project = c.prepare_cached(&project)?;
    let mut counts = c.prepare_cached(
        "INSERT INTO fault_counts (elevator_id, day, code, cause, n) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (elevator_id, day, code, cause) DO UPDATE SET n = n + excluded.n",
    )?;
    for ((e, d), r) in rollups.iter().filter(|(_, r)| !r.is_zero()) {
        let mut p: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(*e), Box::new(*d)];
        p.extend(r.scalars().into_iter().map(|v| Box::new(v) as Box<dyn rusqlite::ToSql>));
        up.execute(rusqlite::params_from_iter(p.iter()))?;
        project.execute(rusqlite::params_from_iter(p.iter()))?;
        for (code, by_cause) in &r.by_code {
            for cause in Cause::ALL {
                let n = *by_cause.clone().get_mut(cause);
                if n != 0 {
                    counts.execute(params![e, d, code, cause.as_str(), n])?;
                }
            }
        }
    }
    Ok(())
}

/// The elevator id of a device code, if registered.
pub(crate) fn elevator_id(c: &Connection, device: &str) -> Result<Option<i64>, StoreError> {
    Ok(c.prepare_cached("SELECT id FROM elevators WHERE device_code = ?1")?
        .query_row([device], |r| r.get(0))
        .optional()?)
}
