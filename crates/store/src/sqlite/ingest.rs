//! Ingest: one transaction per batch, on the writer thread. Every decision
//! is the core's ([`liftwatch_core::ingest`]), as in the PostgreSQL adapter;
//! this module only loads and writes:
//! 1. resolve device codes to integer elevator ids (unknown devices make the
//!    whole message a dead letter);
//! 2. `INSERT OR IGNORE` of the batch's distinct events by identity: a row
//!    inserted is a new event, duplicates stop here;
//! 3. for the new events only: the incident rows they touch are created,
//!    read, merged by the core and written back; the run counts and
//!    incident deltas are added to the rollups; the telemetry rows follow
//!    ([`super::telemetry`]); dead letters are written.

use std::collections::{BTreeMap, HashMap};

use liftwatch_core::incident::{EntrapmentRecord, FaultRecord};
use liftwatch_core::ingest;
use liftwatch_core::protocol::{parse_topic, Body, Cause, DeviceCode, Event, Mode, Phase};
use rusqlite::{params, Connection};

use super::dead_letters::write_dead_letters;
use super::incidents::{add_rollups, elevator_id, load, IncidentRow};
use super::telemetry::ingest_telemetry;
use crate::dead_letters::Letter;
use crate::{EventStore, Inbound, IngestReport, SqliteStore, StoreError};

/// Stores a batch inside an open write transaction (ingest, probe and
/// replay share it).
pub(crate) fn ingest_in(c: &Connection, tz: chrono_tz::Tz, batch: &[Inbound]) -> Result<IngestReport, StoreError> {
    let mut ids: HashMap<DeviceCode, i64> = HashMap::new();
    for d in ingest::devices(batch) {
        if let Some(id) = elevator_id(c, d.as_str())? {
            ids.insert(d, id);
        }
    }
    let sorted = ingest::sort_batch(batch, |d| ids.get(&d).copied());
    let new = insert_events(c, &sorted.events)?;
    let mut report = IngestReport {
        new_events: new.len() as u64,
        duplicates: sorted.delivered - new.len() as u64,
        ..Default::default()
    };
    let mut changes = ingest::plan_changes(&new, tz);
    report.new_by_kind = changes.new_by_kind;
    update_incidents::<FaultRecord>(c, tz, &changes.faults, &mut changes.rollups)?;
    update_incidents::<EntrapmentRecord>(c, tz, &changes.entrapments, &mut changes.rollups)?;
    add_rollups(c, &changes.rollups)?;
    ingest_telemetry(c, tz, &changes)?;
    let letters: Vec<Letter<'_>> = sorted.dead.iter().map(Letter::of_row).collect();
    write_dead_letters(c, &letters)?;
    report.dead_letters = sorted.dead.iter().map(|d| d.code).collect();
    Ok(report)
}

/// Inserts the distinct events by identity; returns those new to the store.
fn insert_events<'e>(
    c: &Connection,
    events: &BTreeMap<(i64, i64, i64), &'e Event>,
) -> Result<Vec<(i64, &'e Event)>, StoreError> {
    let mut ins = c.prepare_cached(
        "INSERT OR IGNORE INTO events (elevator_id, seq, ts, kind, ts_offset, end_ts, floor_from, floor_to, doors, \
         ref, code, stops_service, cause, fault_ref, mode, runs_total) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    let mut new = Vec::new();
    for ((id, _, _), e) in events {
        let r = Row::of(*id, e);
        let n = ins.execute(params![
            r.id,
            r.seq,
            r.ts,
            r.kind,
            r.ts_offset,
            r.end_ts,
            r.from,
            r.to,
            r.doors,
            r.r#ref,
            r.code,
            r.stops,
            r.cause,
            r.fault_ref,
            r.mode,
            r.runs_total
        ])?;
        if n == 1 {
            new.push((*id, *e));
        }
    }
    Ok(new)
}

/// Reads (creating) the incident rows the batch touches, lets the core fold
/// the new events in ([`ingest::merge_incidents`]), writes them back and
/// adds their rollup deltas. One code path for faults and entrapments.
fn update_incidents<R: IncidentRow>(
    c: &Connection,
    tz: chrono_tz::Tz,
    groups: &BTreeMap<(i64, &str), Vec<&Event>>,
    rollups: &mut BTreeMap<(i64, chrono::NaiveDate), liftwatch_core::rollup::DayRollup>,
) -> Result<(), StoreError> {
    if groups.is_empty() {
        return Ok(());
    }
    let keys: Vec<(i64, &str)> = groups.keys().copied().collect();
    let loaded = load::<R>(c, &keys, true)?;
    let merged = ingest::merge_incidents(loaded, groups, tz, rollups);
    R::write(c, &merged, tz, "box")
}

impl EventStore for SqliteStore {
    async fn ingest(&self, batch: &[Inbound]) -> Result<IngestReport, StoreError> {
        let batch = batch.to_vec();
        let tz = self.tz;
        self.write(move |c| ingest_in(c, tz, &batch)).await
    }

    async fn probe(&self, batch: &[Inbound]) -> Result<(), StoreError> {
        let batch = batch.to_vec();
        let tz = self.tz;
        self.transaction(false, move |c| ingest_in(c, tz, &batch).map(|_| ())).await
    }

    async fn dead_letter(&self, m: &Inbound, reason_code: &str, reason: &str) -> Result<(), StoreError> {
        let (m, code, reason) = (m.clone(), reason_code.to_owned(), reason.to_owned());
        self.write(move |c| {
            let letter = Letter {
                received_at: m.received_at,
                topic: &m.topic,
                device: parse_topic(&m.topic).ok(),
                code: &code,
                reason: &reason,
                payload: &m.payload,
            };
            write_dead_letters(c, &[letter])
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }
}

/// One `events` row.
struct Row<'e> {
    id: i64,
    seq: i64,
    ts: i64,
    kind: i64,
    ts_offset: i32,
    end_ts: Option<i64>,
    from: Option<i32>,
    to: Option<i32>,
    doors: Option<i64>,
    r#ref: Option<&'e str>,
    code: Option<&'e str>,
    stops: Option<bool>,
    cause: Option<&'static str>,
    fault_ref: Option<&'e str>,
    mode: Option<&'static str>,
    runs_total: Option<i64>,
}

impl<'e> Row<'e> {
    fn of(id: i64, e: &'e Event) -> Row<'e> {
        let mut r = Row {
            id,
            seq: e.seq as i64,
            ts: e.ts.0,
            kind: e.body.kind() as i64,
            ts_offset: e.ts_offset,
            end_ts: None,
            from: None,
            to: None,
            doors: None,
            r#ref: None,
            code: None,
            stops: None,
            cause: None,
            fault_ref: None,
            mode: None,
            runs_total: None,
        };
        match &e.body {
            Body::Run { end, from, to, doors } => {
                r.end_ts = Some(end.0);
                r.from = Some(*from);
                r.to = Some(*to);
                r.doors = doors.map(i64::from);
            }
            Body::Fault { fault_id, code, stops_service, cause } => {
                r.r#ref = Some(fault_id);
                r.code = Some(code.as_str());
                r.stops = Some(*stops_service);
                r.cause = cause.map(Cause::as_str);
            }
            Body::FaultCleared { fault_id } => r.r#ref = Some(fault_id),
            Body::Entrapment { incident_id, fault_id } => {
                r.r#ref = Some(incident_id);
                r.fault_ref = fault_id.as_deref();
            }
            Body::RescueArrived { incident_id } | Body::Released { incident_id } => r.r#ref = Some(incident_id),
            Body::Maintenance { visit_id, phase } => {
                r.r#ref = Some(visit_id);
                r.mode = Some(match phase {
                    Phase::Start => "start",
                    Phase::End => "end",
                });
            }
            Body::Heartbeat { mode } => r.mode = Some(Mode::NAMES[*mode as usize]),
            Body::Counter { runs_total } => r.runs_total = Some(*runs_total as i64),
        }
        r
    }
}
