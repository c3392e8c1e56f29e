//! PostgreSQL / TimescaleDB adapter (tokio-postgres + deadpool).
//!
//! One transaction per batch:
//! 1. resolve device codes to integer elevator ids (cached; unknown devices
//!    make the whole message a dead letter);
//! 2. binary COPY of the batch's distinct events into a session-local staging
//!    table, then `INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING` the
//!    identities that were new — duplicates stop here;
//! 3. for the new events only: run counts per elevator-day, and incident
//!    records locked (`FOR UPDATE`, in key order), merged with the core's
//!    semilattice code, written back; their contribution deltas join the runs;
//! 4. additive upserts of the rollup rows, in key order;
//! 5. dead letters for everything rejected.

mod dead_letters;
mod findings;
mod health;
mod kpis;
mod records;
mod registry;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::pin_mut;
use liftwatch_core::incident::{contribution_delta, Alarm, CauseCorrection, EntrapmentRecord, FaultRecord, FaultStart};
use liftwatch_core::protocol::{parse_topic, Body, Cause, DeviceCode, Event, FaultCode, Invalid, Kind, Timestamp};
use liftwatch_core::rollup::DayRollup;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{GenericClient, NoTls, Transaction};

use crate::{EventStore, Inbound, IngestReport, StoreError};

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// How to open the store.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// Zone of the local days.
    pub tz: Tz,
    /// Pool size.
    pub pool_size: usize,
    /// Use TimescaleDB when the extension can be created (default true).
    pub timescaledb: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions { tz: chrono_tz::Asia::Shanghai, pool_size: 8, timescaledb: true }
    }
}

/// The PostgreSQL store. Cheap to clone (shared pool and caches).
#[derive(Clone)]
pub struct PgStore {
    pub(crate) pool: Pool,
    pub(crate) tz: Tz,
    opts: PgOptions,
    devices: Arc<RwLock<HashMap<DeviceCode, i32>>>,
}

pub(crate) fn dt(t: Timestamp) -> DateTime<Utc> {
    t.to_utc()
}

pub(crate) fn ts(d: DateTime<Utc>) -> Timestamp {
    Timestamp::from_datetime(&d)
}

impl PgStore {
    /// Opens a pool on `url` (`postgres://…`) and checks one connection.
    pub async fn connect(url: &str, opts: PgOptions) -> Result<PgStore, StoreError> {
        let cfg: tokio_postgres::Config = url.parse().map_err(|e| StoreError::Config(format!("database URL: {e}")))?;
        let mgr = Manager::from_config(cfg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(mgr)
            .max_size(opts.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            // Never wait forever for a connection: a timeout is a transient
            // error the gateway retries and the API answers with 503.
            .wait_timeout(Some(std::time::Duration::from_secs(30)))
            .create_timeout(Some(std::time::Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError::Config(e.to_string()))?;
        let store = PgStore { pool, tz: opts.tz, opts, devices: Arc::default() };
        store.ping().await?;
        Ok(store)
    }

    /// Applies pending migrations; returns whether TimescaleDB is in use.
    pub async fn migrate(&self) -> Result<bool, StoreError> {
        let mut obj = self.pool.get().await?;
        let client: &mut tokio_postgres::Client = &mut obj;
        if !self.opts.timescaledb {
            client.batch_execute("SET liftwatch.timescaledb = 'off'").await?;
        }
        embedded::migrations::runner()
            .set_migration_table_name("liftwatch_schema_history")
            .run_async(client)
            .await
            .map_err(|e| {
                let cause = std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default();
                StoreError::Config(format!("migration failed: {e}{cause}"))
            })?;
        client.batch_execute("RESET liftwatch.timescaledb").await?;
        drop(obj); // give the connection back before asking the pool again (pool size 1)
        self.uses_timescaledb().await
    }

    /// Whether the events table is a TimescaleDB hypertable.
    pub async fn uses_timescaledb(&self) -> Result<bool, StoreError> {
        let c = self.pool.get().await?;
        let ext = c.query_opt("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'", &[]).await?;
        if ext.is_none() {
            return Ok(false);
        }
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_name = 'events' AND hypertable_schema = current_schema()",
                &[],
            )
            .await?
            .get(0);
        Ok(n > 0)
    }

    /// The zone of local days.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Resolves device codes to elevator ids (registered devices only).
    async fn resolve<C: GenericClient>(
        &self,
        c: &C,
        codes: &HashSet<DeviceCode>,
    ) -> Result<HashMap<DeviceCode, i32>, StoreError> {
        let mut out = HashMap::with_capacity(codes.len());
        let mut missing = Vec::new();
        {
            let cache = self.devices.read().unwrap_or_else(|p| p.into_inner());
            for d in codes {
                match cache.get(d) {
                    Some(id) => {
                        out.insert(*d, *id);
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
        let mut report = IngestReport::default();
        let mut dead: Vec<DeadLetter> = Vec::new();
        let codes: HashSet<DeviceCode> = batch.iter().filter_map(|m| parse_topic(&m.topic).ok()).collect();
        let ids = self.resolve(tx, &codes).await?;

        // Distinct events of registered devices, in identity order.
        let unknown: Vec<Invalid> = batch
            .iter()
            .map(|m| match parse_topic(&m.topic) {
                Ok(d) if !ids.contains_key(&d) => Invalid::UnknownDevice(d.to_string()),
                _ => Invalid::EmptyArray, // placeholder, unused for known devices
            })
            .collect();
        let mut events: BTreeMap<(i32, i64, i64), &Event> = BTreeMap::new();
        let mut delivered = 0u64;
        for (m, unknown) in batch.iter().zip(&unknown) {
            let device = parse_topic(&m.topic).ok();
            let known = device.and_then(|d| ids.get(&d).copied());
            match (device, known) {
                (Some(d), None)
                    if !m.decoded.events.is_empty() || m.decoded.rejects.iter().all(|r| r.index.is_some()) =>
                {
                    dead.push(DeadLetter::whole(m, Some(d.as_str()), unknown));
                    continue;
                }
                _ => {}
            }
            for r in &m.decoded.rejects {
                let payload = r.raw.as_ref().map_or_else(|| m.payload.clone(), |s| s.clone().into_bytes());
                dead.push(DeadLetter {
                    received_at: m.received_at,
                    topic: m.topic.clone(),
                    device: device.map(|d| d.to_string()),
                    reason: &r.reason,
                    payload,
                });
            }
            if let Some(id) = known {
                for e in &m.decoded.events {
                    delivered += 1;
                    events.entry((id, e.seq as i64, e.ts.0)).or_insert(e);
                }
            }
        }

        let mut new: Vec<(i32, &Event)> = Vec::new();
        if !events.is_empty() {
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
            for ((id, _, _), e) in &events {
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
                    new.push((key.0, e));
                }
            }
        }
        report.new_events = new.len() as u64;
        report.duplicates = delivered - report.new_events;

        let mut rollups: BTreeMap<(i32, NaiveDate), DayRollup> = BTreeMap::new();
        let mut faults: BTreeMap<(i32, &str), Vec<&Event>> = BTreeMap::new();
        let mut entrapments: BTreeMap<(i32, &str), Vec<&Event>> = BTreeMap::new();
        for (id, e) in &new {
            report.new_by_kind[e.body.kind() as usize] += 1;
            match &e.body {
                Body::Run { .. } => rollups.entry((*id, e.ts.local_day(self.tz))).or_default().runs += 1,
                Body::Fault { fault_id, .. } | Body::FaultCleared { fault_id } => {
                    faults.entry((*id, fault_id)).or_default().push(e)
                }
                Body::Entrapment { incident_id, .. }
                | Body::RescueArrived { incident_id }
                | Body::Released { incident_id } => entrapments.entry((*id, incident_id)).or_default().push(e),
                _ => {}
            }
        }
        if !faults.is_empty() {
            self.update_incidents::<FaultRecord>(tx, &faults, &mut rollups).await?;
        }
        if !entrapments.is_empty() {
            self.update_incidents::<EntrapmentRecord>(tx, &entrapments, &mut rollups).await?;
        }
        add_rollups(tx, &rollups).await?;
        insert_dead_letters(tx, &dead).await?;
        report.dead_letters = dead.iter().map(|d| d.reason.code()).collect();
        Ok(report)
    }

    /// Creates the incident rows the batch touches, locks them in key order,
    /// folds the new events in with the core's merge, writes them back and
    /// adds their rollup deltas. One code path for faults and entrapments.
    async fn update_incidents<R: IncidentRow>(
        &self,
        tx: &Transaction<'_>,
        groups: &BTreeMap<(i32, &str), Vec<&Event>>,
        rollups: &mut BTreeMap<(i32, NaiveDate), DayRollup>,
    ) -> Result<(), StoreError> {
        let eids: Vec<i32> = groups.keys().map(|k| k.0).collect();
        let ids: Vec<&str> = groups.keys().map(|k| k.1).collect();
        let (table, id, cols) = (R::TABLE, R::ID, R::COLUMNS);
        tx.execute(
            format!("INSERT INTO {table} (elevator_id, {id}) SELECT * FROM unnest($1::int4[], $2::text[]) ON CONFLICT DO NOTHING")
                .as_str(),
            &[&eids, &ids],
        )
        .await?;
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
        let mut upd = R::Update::default();
        for r in rows {
            let key: (i32, String) = (r.get(0), r.get(1));
            let mut rec = R::from_row(&r)?;
            let old = rec.contribution(self.tz);
            for e in groups.get(&(key.0, key.1.as_str())).into_iter().flatten() {
                rec.observe(e);
            }
            for (day, d) in contribution_delta(old, rec.contribution(self.tz)) {
                *rollups.entry((key.0, day)).or_default() += &d;
            }
            R::push(&mut upd, key, &rec);
        }
        R::write(&upd, tx).await
    }
}

/// What [`PgStore::update_incidents`] needs to know of an incident table.
trait IncidentRow: Sized {
    /// The accumulated row updates.
    type Update: Default + Send + Sync;
    /// Table name.
    const TABLE: &'static str;
    /// The box's id column.
    const ID: &'static str;
    /// The state columns read back.
    const COLUMNS: &'static str;
    fn from_row(r: &tokio_postgres::Row) -> Result<Self, StoreError>;
    fn observe(&mut self, e: &Event);
    fn contribution(&self, tz: Tz) -> Option<(NaiveDate, DayRollup)>;
    fn push(u: &mut Self::Update, key: (i32, String), rec: &Self);
    fn write(
        u: &Self::Update,
        tx: &Transaction<'_>,
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;
}

impl IncidentRow for FaultRecord {
    type Update = FaultUpdate;
    const TABLE: &'static str = "faults";
    const ID: &'static str = "fault_id";
    const COLUMNS: &'static str = "start_ts, start_seq, code, stops_service, reported_cause, cleared_at, corrections";
    fn from_row(r: &tokio_postgres::Row) -> Result<Self, StoreError> {
        fault_from_row(r)
    }
    fn observe(&mut self, e: &Event) {
        FaultRecord::observe(self, e)
    }
    fn contribution(&self, tz: Tz) -> Option<(NaiveDate, DayRollup)> {
        FaultRecord::contribution(self, tz)
    }
    fn push(u: &mut FaultUpdate, key: (i32, String), rec: &Self) {
        u.push(key, rec)
    }
    async fn write(u: &FaultUpdate, tx: &Transaction<'_>) -> Result<(), StoreError> {
        u.write(tx).await
    }
}

impl IncidentRow for EntrapmentRecord {
    type Update = EntrapmentUpdate;
    const TABLE: &'static str = "entrapments";
    const ID: &'static str = "incident_id";
    const COLUMNS: &'static str = "alarm_ts, alarm_seq, fault_id, arrived_at, released_at";
    fn from_row(r: &tokio_postgres::Row) -> Result<Self, StoreError> {
        Ok(entrapment_from_row(r))
    }
    fn observe(&mut self, e: &Event) {
        EntrapmentRecord::observe(self, e)
    }
    fn contribution(&self, tz: Tz) -> Option<(NaiveDate, DayRollup)> {
        EntrapmentRecord::contribution(self, tz)
    }
    fn push(u: &mut EntrapmentUpdate, key: (i32, String), rec: &Self) {
        u.push(key, rec)
    }
    async fn write(u: &EntrapmentUpdate, tx: &Transaction<'_>) -> Result<(), StoreError> {
        u.write(tx).await
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

    async fn dead_letter(&self, m: &Inbound, reason_code: &str, reason: &str) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        let device = parse_topic(&m.topic).ok().map(|d| d.to_string());
        c.execute(
            "INSERT INTO dead_letters (received_at, topic, device, reason_code, reason, payload) VALUES ($1,$2,$3,$4,$5,$6)",
            &[&dt(m.received_at), &m.topic, &device, &reason_code, &reason, &m.payload],
        )
        .await?;
        Ok(())
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
    Ok(FaultRecord { start, cleared_at: r.get::<_, Option<DateTime<Utc>>>("cleared_at").map(ts), corrections })
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
        released_at: r.get::<_, Option<DateTime<Utc>>>("released_at").map(ts),
    }
}

#[derive(Default)]
pub(crate) struct FaultUpdate {
    eid: Vec<i32>,
    fid: Vec<String>,
    start_ts: Vec<Option<DateTime<Utc>>>,
    start_seq: Vec<Option<i64>>,
    code: Vec<Option<String>>,
    stops: Vec<Option<bool>>,
    reported: Vec<Option<&'static str>>,
    cleared: Vec<Option<DateTime<Utc>>>,
    cause: Vec<Option<&'static str>>,
    corrections: Vec<serde_json::Value>,
}

impl FaultUpdate {
    pub(crate) fn push(&mut self, key: (i32, String), rec: &FaultRecord) {
        self.eid.push(key.0);
        self.fid.push(key.1);
        let s = rec.start.as_ref();
        self.start_ts.push(s.map(|s| dt(s.ts)));
        self.start_seq.push(s.map(|s| s.seq as i64));
        self.code.push(s.map(|s| s.code.as_str().to_owned()));
        self.stops.push(s.map(|s| s.stops_service));
        self.reported.push(s.and_then(|s| s.reported_cause).map(Cause::as_str));
        self.cleared.push(rec.cleared_at.map(dt));
        self.cause.push(rec.cause().map(Cause::as_str));
        self.corrections.push(serde_json::to_value(&rec.corrections).unwrap_or_else(|_| serde_json::json!([])));
    }

    pub(crate) async fn write<C: GenericClient>(&self, c: &C) -> Result<(), StoreError> {
        if self.eid.is_empty() {
            return Ok(());
        }
        c.execute(
            "UPDATE faults f SET start_ts = u.start_ts, start_seq = u.start_seq, code = u.code, stops_service = u.stops, \
             reported_cause = u.reported, cleared_at = u.cleared, cause = u.cause, corrections = u.corrections \
             FROM unnest($1::int4[], $2::text[], $3::timestamptz[], $4::int8[], $5::text[], $6::bool[], $7::text[], \
                         $8::timestamptz[], $9::text[], $10::jsonb[]) \
                  AS u(eid, fid, start_ts, start_seq, code, stops, reported, cleared, cause, corrections) \
             WHERE f.elevator_id = u.eid AND f.fault_id = u.fid",
            &[
                &self.eid,
                &self.fid,
                &self.start_ts,
                &self.start_seq,
                &self.code,
                &self.stops,
                &self.reported,
                &self.cleared,
                &self.cause,
                &self.corrections,
            ],
        )
        .await?;
        Ok(())
    }
}

#[derive(Default)]
struct EntrapmentUpdate {
    eid: Vec<i32>,
    iid: Vec<String>,
    alarm_ts: Vec<Option<DateTime<Utc>>>,
    alarm_seq: Vec<Option<i64>>,
    fault_id: Vec<Option<String>>,
    arrived: Vec<Option<DateTime<Utc>>>,
    released: Vec<Option<DateTime<Utc>>>,
}

impl EntrapmentUpdate {
    fn push(&mut self, key: (i32, String), rec: &EntrapmentRecord) {
        self.eid.push(key.0);
        self.iid.push(key.1);
        let a = rec.alarm.as_ref();
        self.alarm_ts.push(a.map(|a| dt(a.ts)));
        self.alarm_seq.push(a.map(|a| a.seq as i64));
        self.fault_id.push(a.and_then(|a| a.fault_id.as_deref().map(str::to_owned)));
        self.arrived.push(rec.arrived_at.map(dt));
        self.released.push(rec.released_at.map(dt));
    }

    async fn write<C: GenericClient>(&self, c: &C) -> Result<(), StoreError> {
        if self.eid.is_empty() {
            return Ok(());
        }
        c.execute(
            "UPDATE entrapments e SET alarm_ts = u.alarm_ts, alarm_seq = u.alarm_seq, fault_id = u.fault_id, \
             arrived_at = u.arrived, released_at = u.released, \
             arrival_reported_by = CASE WHEN u.arrived IS DISTINCT FROM e.arrived_at THEN 'box' ELSE e.arrival_reported_by END \
             FROM unnest($1::int4[], $2::text[], $3::timestamptz[], $4::int8[], $5::text[], $6::timestamptz[], $7::timestamptz[]) \
                  AS u(eid, iid, alarm_ts, alarm_seq, fault_id, arrived, released) \
             WHERE e.elevator_id = u.eid AND e.incident_id = u.iid",
            &[&self.eid, &self.iid, &self.alarm_ts, &self.alarm_seq, &self.fault_id, &self.arrived, &self.released],
        )
        .await?;
        Ok(())
    }
}

/// Adds rollup deltas, in key order (no deadlocks between gateways).
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
    let sql = format!(
        "INSERT INTO rollups (elevator_id, day, {cols}) SELECT * FROM unnest($1::int4[], $2::date[], {params}) \
         ON CONFLICT (elevator_id, day) DO UPDATE SET {sets}",
        cols = names.join(", "),
        params = (3..15).map(|i| format!("${i}::int8[]")).collect::<Vec<_>>().join(", "),
        sets = names.iter().map(|n| format!("{n} = rollups.{n} + excluded.{n}")).collect::<Vec<_>>().join(", "),
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

struct DeadLetter<'a> {
    received_at: Timestamp,
    topic: String,
    device: Option<String>,
    reason: &'a Invalid,
    payload: Vec<u8>,
}

impl<'a> DeadLetter<'a> {
    fn whole(m: &Inbound, device: Option<&str>, reason: &'a Invalid) -> DeadLetter<'a> {
        DeadLetter {
            received_at: m.received_at,
            topic: m.topic.clone(),
            device: device.map(str::to_owned),
            reason,
            payload: m.payload.clone(),
        }
    }
}

async fn insert_dead_letters<C: GenericClient>(c: &C, dead: &[DeadLetter<'_>]) -> Result<(), StoreError> {
    if dead.is_empty() {
        return Ok(());
    }
    let at: Vec<DateTime<Utc>> = dead.iter().map(|d| dt(d.received_at)).collect();
    let topic: Vec<&str> = dead.iter().map(|d| d.topic.as_str()).collect();
    let device: Vec<Option<&str>> = dead.iter().map(|d| d.device.as_deref()).collect();
    let code: Vec<&str> = dead.iter().map(|d| d.reason.code()).collect();
    let reason: Vec<String> = dead.iter().map(|d| d.reason.to_string()).collect();
    let payload: Vec<&[u8]> = dead.iter().map(|d| d.payload.as_slice()).collect();
    c.execute(
        "INSERT INTO dead_letters (received_at, topic, device, reason_code, reason, payload) \
         SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[])",
        &[&at, &topic, &device, &code, &reason, &payload],
    )
    .await?;
    Ok(())
}

/// The kind names, by the `kind` column's number.
pub fn kind_name(k: i16) -> &'static str {
    Kind::ALL.get(k as usize).map_or("unknown", |k| k.as_str())
}
