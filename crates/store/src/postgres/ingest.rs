//! Ingest: one transaction per batch. Every decision is the core's
//! ([`liftwatch_core::ingest`]); this module only loads and writes:
//! 1. resolve device codes to integer elevator ids (cached; unknown devices
//!    make the whole message a dead letter);
//! 2. binary COPY of the batch's distinct events into a session-local staging
//!    table, then `INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING` the
//!    identities that were new — duplicates stop here;
//! 3. for the new events only: the incident rows they touch are created,
//!    locked (`FOR UPDATE`, in key order), merged by the core and written
//!    back; the run counts and incident deltas are added to the rollups in
//!    key order; the telemetry rows (seq summary, counter readings and their
//!    spans) follow, see [`super::telemetry`]; dead letters are written.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::pin_mut;
use liftwatch_core::incident::{EntrapmentRecord, FaultRecord};
use liftwatch_core::ingest;
use liftwatch_core::protocol::{parse_topic, Body, Cause, DeviceCode, Event};
use liftwatch_core::rollup::DayRollup;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{GenericClient, Transaction};

use super::dead_letters::write_dead_letters;
use super::incidents::{add_rollups, lock, IncidentRow};
use super::{dt, ts};
use crate::dead_letters::Letter;
use crate::{EventStore, Inbound, IngestReport, PgStore, StoreError};

impl PgStore {
    /// Resolves device codes to elevator ids (registered devices only).
    async fn resolve<C: GenericClient>(
        &self,
        c: &C,
        codes: impl Iterator<Item = DeviceCode>,
    ) -> Result<HashMap<DeviceCode, i32>, StoreError> {
        let mut out = HashMap::new();
        let mut missing = Vec::new();
        {
            let cache = self.devices.read().unwrap_or_else(|p| p.into_inner());
            for d in codes {
                match cache.get(&d) {
                    Some(id) => {
                        out.insert(d, *id);
                    }
                    None => missing.push(d.as_str().to_owned()),
                }
            }
        }
        if !missing.is_empty() {
            let rows =
                c.query("SELECT device_code, id FROM elevators WHERE device_code = ANY($1)", &[&missing]).await?;
            let mut cache = self.devices.write().unwrap_or_else(|p| p.into_inner());
            for r in rows {
                let code: &str = r.get(0);
                if let Ok(d) = DeviceCode::parse(code) {
                    let id: i32 = r.get(1);
                    cache.insert(d, id);
                    out.insert(d, id);
                }
            }
        }
        Ok(out)
    }

    /// Stores a batch inside an open transaction (ingest and replay share it).
    pub(crate) async fn ingest_in(&self, tx: &Transaction<'_>, batch: &[Inbound]) -> Result<IngestReport, StoreError> {
        // Before any row lock: deltas to the project sums (project_sums).
        super::project_sums::hold_shared(tx).await?;
        let ids = self.resolve(tx, ingest::devices(batch).into_iter()).await?;
        let sorted = ingest::sort_batch(batch, |d| ids.get(&d).copied());
        let new = self.insert_events(tx, &sorted.events).await?;
        let mut report = IngestReport {
            new_events: new.len() as u64,
            duplicates: sorted.delivered - new.len() as u64,
            ..Default::default()
        };
        let mut changes = ingest::plan_changes(&new, self.tz);
        report.new_by_kind = changes.new_by_kind;
        if !changes.faults.is_empty() {
            self.update_incidents::<FaultRecord>(tx, &changes.faults, &mut changes.rollups).await?;
        }
        if !changes.entrapments.is_empty() {
            self.update_incidents::<EntrapmentRecord>(tx, &changes.entrapments, &mut changes.rollups).await?;
        }
        add_rollups(tx, &changes.rollups).await?;
        self.ingest_telemetry(tx, &changes).await?;
        let letters: Vec<Letter<'_>> = sorted.dead.iter().map(Letter::of_row).collect();
        write_dead_letters(tx, &letters).await?;
        report.dead_letters = sorted.dead.iter().map(|d| d.code).collect();
        Ok(report)
    }

    /// Inserts the distinct events by identity; returns those new to the store.
    async fn insert_events<'e>(
        &self,
        tx: &Transaction<'_>,
        events: &BTreeMap<(i32, i64, i64), &'e Event>,
    ) -> Result<Vec<(i32, &'e Event)>, StoreError> {
        let mut new = Vec::new();
        if events.is_empty() {
            return Ok(new);
        }
        tx.batch_execute(
            "SET LOCAL client_min_messages = warning; \
             CREATE TEMP TABLE IF NOT EXISTS lw_staging (LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
        )
        .await?;
        let sink = tx
            .copy_in(
                "COPY lw_staging (elevator_id, seq, ts, kind, ts_offset, end_ts, floor_from, floor_to, doors, ref, code, \
                 stops_service, cause, fault_ref, mode, runs_total) FROM STDIN BINARY",
            )
            .await?;
        let writer = BinaryCopyInWriter::new(sink, &ROW_TYPES);
        pin_mut!(writer);
        for ((id, _, _), e) in events {
            let row = Row::of(*id, e);
            writer.as_mut().write(&row.params()).await?;
        }
        writer.finish().await?;
        let rows = tx
            .query(
                "INSERT INTO events SELECT * FROM lw_staging ORDER BY elevator_id, seq, ts \
                 ON CONFLICT DO NOTHING RETURNING elevator_id, seq, ts",
                &[],
            )
            .await?;
        for r in rows {
            let key = (r.get::<_, i32>(0), r.get::<_, i64>(1), ts(r.get::<_, DateTime<Utc>>(2)).0);
            if let Some(e) = events.get(&key) {
                new.push((key.0, *e));
            }
        }
        Ok(new)
    }

    /// Creates the incident rows the batch touches, locks them in key order,
    /// lets the core fold the new events in ([`ingest::merge_incidents`]),
    /// writes them back and adds their rollup deltas. One code path for
    /// faults and entrapments.
    async fn update_incidents<R: IncidentRow>(
        &self,
        tx: &Transaction<'_>,
        groups: &BTreeMap<(i32, &str), Vec<&Event>>,
        rollups: &mut BTreeMap<(i32, NaiveDate), DayRollup>,
    ) -> Result<(), StoreError> {
        let (eids, ids): (Vec<i32>, Vec<&str>) = groups.keys().copied().unzip();
        let loaded = lock::<R>(tx, &eids, &ids, true).await?;
        let merged = ingest::merge_incidents(loaded, groups, self.tz, rollups);
        R::write(tx, &merged, self.tz, "box").await
    }
}

impl EventStore for PgStore {
    async fn ingest(&self, batch: &[Inbound]) -> Result<IngestReport, StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let report = self.ingest_in(&tx, batch).await?;
        tx.commit().await?;
        Ok(report)
    }

    async fn probe(&self, batch: &[Inbound]) -> Result<(), StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        self.ingest_in(&tx, batch).await?;
        tx.rollback().await?;
        Ok(())
    }

    async fn dead_letter(&self, m: &Inbound, reason_code: &str, reason: &str) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        let device = parse_topic(&m.topic).ok();
        let letter = Letter {
            received_at: m.received_at,
            topic: &m.topic,
            device,
            code: reason_code,
            reason,
            payload: &m.payload,
        };
        write_dead_letters(&**c, &[letter]).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        c.simple_query("SELECT 1").await?;
        Ok(())
    }
}
const ROW_TYPES: [Type; 16] = [
    Type::INT4,
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::INT2,
    Type::INT4,
    Type::TIMESTAMPTZ,
    Type::INT4,
    Type::INT4,
    Type::INT4,
    Type::TEXT,
    Type::TEXT,
    Type::BOOL,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
];
/// One `events` row.
struct Row<'e> {
    id: i32,
    seq: i64,
    ts: DateTime<Utc>,
    kind: i16,
    ts_offset: i32,
    end_ts: Option<DateTime<Utc>>,
    from: Option<i32>,
    to: Option<i32>,
    doors: Option<i32>,
    r#ref: Option<&'e str>,
    code: Option<&'e str>,
    stops: Option<bool>,
    cause: Option<&'static str>,
    fault_ref: Option<&'e str>,
    mode: Option<&'static str>,
    runs_total: Option<i64>,
}
impl<'e> Row<'e> {
    fn of(id: i32, e: &'e Event) -> Row<'e> {
        let mut r = Row {
            id,
            seq: e.seq as i64,
            ts: dt(e.ts),
            kind: e.body.kind() as i16,
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
                r.end_ts = Some(dt(*end));
                r.from = Some(*from);
                r.to = Some(*to);
                r.doors = doors.map(|d| d.min(i32::MAX as u32) as i32);
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
                    liftwatch_core::protocol::Phase::Start => "start",
                    liftwatch_core::protocol::Phase::End => "end",
                });
            }
            Body::Heartbeat { mode } => {
                r.mode = Some(liftwatch_core::protocol::Mode::NAMES[*mode as usize]);
            }
            Body::Counter { runs_total } => r.runs_total = Some(*runs_total as i64),
        }
        r
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 16] {
        [
            &self.id,
            &self.seq,
            &self.ts,
            &self.kind,
            &self.ts_offset,
            &self.end_ts,
            &self.from,
            &self.to,
            &self.doors,
            &self.r#ref,
            &self.code,
            &self.stops,
            &self.cause,
            &self.fault_ref,
            &self.mode,
            &self.runs_total,
        ]
    }
}
