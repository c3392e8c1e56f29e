//! The measured phases, the headline figures: (a) bare MQTT subscriber,
//! (b) bare binary COPY, and (E) the whole path through `liftwatch serve`.
//! Brokers, `serve`, databases and registration come from the test kit.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use futures_util::pin_mut;
use liftwatch_core::protocol::{DeviceCode, Timestamp};
use liftwatch_store::prelude::*;
use liftwatch_store::PgStore;
use liftwatch_testkit::fixtures::{elevator_spec, firm_spec, project_spec};
use liftwatch_testkit::procs::{http_get, serve_args, Broker, BrokerOptions, Service};
use liftwatch_testkit::{admin_url, free_port, TestDb};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls};

use crate::cpu::{self, Breakdown, Roles};
use crate::procs::{log_problems, GatewaySetting, Helper};
use crate::workload::{device_code, RunEvent, Workload, OFFSET_SECS};

/// What every phase needs.
pub struct Ctx {
    /// Logs and perf data go here.
    pub out: PathBuf,
    /// The release `liftwatch` binary.
    pub liftwatch: PathBuf,
    /// The workload.
    pub w: Workload,
    /// In-flight window of the publisher.
    pub inflight: u16,
    /// Rows per COPY transaction in (b).
    pub copy_batch: usize,
    /// Seconds without visible progress after which an E2E run is declared stalled.
    pub stall_secs: u64,
    /// `getconf CLK_TCK`.
    pub tck: f64,
    /// The events in publish order (for COPY), built once.
    pub rows: Vec<RunEvent>,
}

fn utc(us: i64) -> DateTime<Utc> {
    Timestamp(us).to_utc()
}

async fn connect(url: &str) -> anyhow::Result<Client> {
    let (c, conn) = tokio_postgres::connect(url, NoTls).await.with_context(|| format!("connecting to {url}"))?;
    tokio::spawn(conn);
    Ok(c)
}

/// `CHECKPOINT`, so that every timed phase starts without dirty buffers of the previous one.
pub async fn checkpoint() -> anyhow::Result<()> {
    connect(&admin_url()).await?.batch_execute("CHECKPOINT").await?;
    Ok(())
}

fn publisher_args(ctx: &Ctx, w: Workload, port: u16) -> Vec<String> {
    [
        "publish",
        "--port",
        &port.to_string(),
        "--events",
        &w.events.to_string(),
        "--devices",
        &w.devices.to_string(),
        "--base-us",
        &w.base_us.to_string(),
        "--inflight",
        &ctx.inflight.to_string(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// Starts the load generator and waits until it is connected with its payloads built.
pub async fn start_publisher(ctx: &Ctx, port: u16) -> anyhow::Result<Helper> {
    let mut p = Helper::spawn(&publisher_args(ctx, ctx.w, port))?;
    p.expect("ready", Duration::from_secs(120)).await?;
    Ok(p)
}

fn broker_log(ctx: &Ctx, tag: &str) -> PathBuf {
    ctx.out.join(format!("mosquitto-{tag}.log"))
}

/// A private Mosquitto (deploy/mosquitto/liftwatch.conf) logging to
/// `mosquitto-{tag}.log`; `INGEST_E2E_BROKER_VERBOSE=1` adds `log_type all`.
async fn start_broker(ctx: &Ctx, tag: &str) -> anyhow::Result<Broker> {
    let log = broker_log(ctx, tag);
    let _ = std::fs::remove_file(&log);
    let verbose = std::env::var_os("INGEST_E2E_BROKER_VERBOSE").is_some();
    Broker::try_start(BrokerOptions { persistent: false, log: Some(log), verbose, ..Default::default() })
        .await
        .context("starting mosquitto")
}

/// Starts `liftwatch serve` with gateway setting `g` (log level info, stderr
/// to `log`) and waits for `/readyz`; returns it and its HTTP port.
async fn start_serve(
    ctx: &Ctx,
    db_url: &str,
    mqtt_url: &str,
    g: GatewaySetting,
    log: &Path,
) -> anyhow::Result<(Service, u16)> {
    let http_port = free_port();
    let mut args = serve_args(db_url, mqtt_url, http_port, "bench-gateway", "bench");
    for (flag, v) in [
        ("--batch-max-events", g.max_events),
        ("--batch-max-messages", g.max_messages),
        ("--db-pool-size-ingest", g.pool),
    ] {
        args.extend([flag.to_owned(), v.to_string()]);
    }
    if !g.spool {
        args.push("--no-spool".to_owned());
    }
    let _ = std::fs::remove_file(log);
    let serve = Service::try_start(&ctx.liftwatch, args, http_port, Some(log.to_owned()), "info")
        .await
        .with_context(|| format!("starting liftwatch serve; see {}", log.display()))?;
    Ok((serve, http_port))
}

/// SIGTERM, then waits up to `grace` (SIGKILL after that). Returns the exit
/// status (`None` when it had to be killed) and how long it took.
pub async fn terminate(serve: &mut Service, grace: Duration) -> (Option<std::process::ExitStatus>, Duration) {
    let start = Instant::now();
    let status = serve.terminate_within(grace).await;
    if status.is_none() {
        serve.kill9();
    }
    (status, start.elapsed())
}

/// (a) One run of the bare subscriber.
#[derive(Clone, Debug)]
pub struct SubRun {
    /// First publish → last message received.
    pub secs: f64,
    /// First publish → last PUBACK at the publisher.
    pub publish_secs: f64,
    /// Payload bytes received.
    pub bytes: u64,
}

/// (a) Publisher → private broker → bare rumqttc subscriber.
pub async fn bare_subscriber(ctx: &Ctx, tag: &str) -> anyhow::Result<SubRun> {
    let broker = start_broker(ctx, tag).await?;
    let mut sub = Helper::spawn(&[
        "subscribe".into(),
        "--port".into(),
        broker.port.to_string(),
        "--expected".into(),
        ctx.w.messages().to_string(),
    ])?;
    sub.expect("ready", Duration::from_secs(30)).await?;
    let mut publisher = start_publisher(ctx, broker.port).await?;
    let t0 = Instant::now();
    publisher.say("go").await?;
    let done = sub.expect("done", Duration::from_secs(600)).await?;
    let secs = t0.elapsed().as_secs_f64();
    let publish_secs: f64 = publisher.expect("acked", Duration::from_secs(120)).await?.parse()?;
    let bytes = done.split_whitespace().nth(1).and_then(|b| b.parse().ok()).unwrap_or(0);
    let problems = log_problems(&broker_log(ctx, tag));
    if !problems.is_empty() {
        eprintln!("  mosquitto log ({tag}): {problems:?}");
    }
    Ok(SubRun { secs, publish_secs, bytes })
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

/// The events table of the store's schema (V1__initial.sql), as a hypertable
/// with 1-day chunks; `{indexes}` is `true` for TimescaleDB's default `ts DESC`
/// index (the store's events table has it).
const EVENTS_DDL: &str = "CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE events (
    elevator_id integer NOT NULL, seq bigint NOT NULL, ts timestamptz NOT NULL, kind smallint NOT NULL,
    ts_offset integer NOT NULL, end_ts timestamptz, floor_from integer, floor_to integer, doors integer,
    ref text, code text, stops_service boolean, cause text, fault_ref text, mode text, runs_total bigint,
    received_at timestamptz NOT NULL DEFAULT now());
SELECT create_hypertable('events', 'ts', chunk_time_interval => interval '1 day',
                         create_default_indexes => {indexes});";

/// Indexes of the hypertable the bare COPY writes into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Indexes {
    /// The store's: unique `(elevator_id, seq, ts)` plus TimescaleDB's `ts DESC`.
    Identity,
    /// Only TimescaleDB's default `ts DESC` index.
    TsOnly,
    /// None at all.
    Nothing,
}

impl Indexes {
    /// All variants, the store's first.
    pub const ALL: [Indexes; 3] = [Indexes::Identity, Indexes::TsOnly, Indexes::Nothing];

    /// For tables and logs.
    pub fn label(self) -> &'static str {
        match self {
            Indexes::Identity => "unique (elevator_id, seq, ts) + ts index (the store's)",
            Indexes::TsOnly => "no unique index, ts index only",
            Indexes::Nothing => "no index at all",
        }
    }
}

const COLUMNS: &str = "(elevator_id, seq, ts, kind, ts_offset, end_ts, floor_from, floor_to, doors, ref, code, \
                       stops_service, cause, fault_ref, mode, runs_total)";

/// Binary COPY of `rows` through `copy` (a `COPY … FROM STDIN BINARY`), with
/// the store's 16 columns; `id` maps a device index to its elevator id.
async fn copy_rows(
    tx: &tokio_postgres::Transaction<'_>,
    copy: &str,
    rows: &[RunEvent],
    id: impl Fn(u32) -> i32,
) -> anyhow::Result<()> {
    let sink = tx.copy_in(copy).await?;
    let writer = BinaryCopyInWriter::new(sink, &ROW_TYPES);
    pin_mut!(writer);
    let none_s: Option<&str> = None;
    let none_b: Option<bool> = None;
    let none_i: Option<i64> = None;
    for e in rows {
        let id = id(e.device);
        let (ts, end) = (utc(e.ts), Some(utc(e.end)));
        let (kind, off, from, to, doors) = (0i16, OFFSET_SECS, Some(e.from), Some(e.to), Some(1i32));
        let row: [&(dyn ToSql + Sync); 16] = [
            &id, &e.seq, &ts, &kind, &off, &end, &from, &to, &doors, &none_s, &none_s, &none_b, &none_s, &none_s,
            &none_s, &none_i,
        ];
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    Ok(())
}

/// (b) Bare binary COPY of the workload's rows, `ctx.copy_batch` rows per
/// committed transaction, into a fresh hypertable with `indexes`. Returns seconds.
pub async fn bare_copy(ctx: &Ctx, indexes: Indexes) -> anyhow::Result<f64> {
    let db = TestDb::new("bench_copy").await;
    let mut c = connect(&db.url).await?;
    c.batch_execute(&EVENTS_DDL.replace("{indexes}", if indexes == Indexes::Nothing { "false" } else { "true" }))
        .await?;
    if indexes == Indexes::Identity {
        c.batch_execute("CREATE UNIQUE INDEX events_identity ON events (elevator_id, seq, ts)").await?;
    }
    checkpoint().await?;
    let copy = format!("COPY events {COLUMNS} FROM STDIN BINARY");
    let t0 = Instant::now();
    for chunk in ctx.rows.chunks(ctx.copy_batch) {
        let tx = c.transaction().await?;
        copy_rows(&tx, &copy, chunk, |d| d as i32 + 1).await?;
        tx.commit().await?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let n: i64 = c.query_one("SELECT count(*) FROM events", &[]).await?.get(0);
    if n as u64 != ctx.w.events {
        bail!("COPY stored {n} rows, expected {}", ctx.w.events);
    }
    Ok(secs)
}

/// A fresh, migrated database with the workload's elevators registered;
/// returns it, the store, and the elevator id of each device index.
pub async fn registered_db(tag: &str, w: &Workload) -> anyhow::Result<(TestDb, PgStore, Vec<i32>)> {
    let db = TestDb::new(tag).await;
    let store = db.store(true).await;
    if !store.uses_timescaledb().await? {
        bail!("the events table is not a hypertable: is TimescaleDB in shared_preload_libraries?");
    }
    register(&store, w).await?;
    let c = connect(&db.url).await?;
    let rows = c.query("SELECT device_code, id FROM elevators", &[]).await?;
    let ids = elevator_ids(w, rows.iter().map(|r| (r.get::<_, String>(0), r.get(1))))?;
    Ok((db, store, ids))
}

/// The workload's firm, project and elevators, in any store.
pub async fn register(store: &impl Registry, w: &Workload) -> anyhow::Result<()> {
    store.put_firm(&firm_spec("bench", "Bench Lifts")).await?;
    let admitted = (Timestamp(w.base_us).to_utc() - chrono::Duration::days(30)).date_naive();
    let elevators = (0..w.devices)
        .map(|d| Ok(elevator_spec(DeviceCode::parse(&device_code(d))?, None)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let project = liftwatch_core::registry::ProjectSpec {
        name: "Benchmark fleet".into(),
        admitted_on: admitted,
        ..project_spec("bench", "bench", elevators)
    };
    store.put_project(&project, admitted).await?;
    Ok(())
}

/// The elevator id of each device index, from `(device_code, id)` rows.
pub fn elevator_ids(w: &Workload, rows: impl Iterator<Item = (String, i32)>) -> anyhow::Result<Vec<i32>> {
    let mut ids = vec![0i32; w.devices as usize];
    for (code, id) in rows {
        if let Some(d) = code.get(15..).and_then(|s| s.parse::<usize>().ok()) {
            if let Some(slot) = ids.get_mut(d) {
                *slot = id;
            }
        }
    }
    if ids.contains(&0) {
        bail!("not every elevator got an id");
    }
    Ok(ids)
}

/// (E) One end-to-end run.
#[derive(Clone, Debug)]
pub struct E2eRun {
    /// Whether every event was committed (false: the run stalled).
    pub completed: bool,
    /// Events committed (all of them when completed).
    pub events: u64,
    /// First publish → last event committed; for a stalled run, → the last
    /// commit seen before the stall.
    pub secs: f64,
    /// First publish → last PUBACK at the publisher.
    pub publish_secs: f64,
    /// CPU by process over `secs`.
    pub cpu: Breakdown,
    /// Anything that looked wrong: stall, counts, log warnings, exit status.
    pub problems: Vec<String>,
    /// Seconds from SIGTERM to exit (or to the kill after the grace period).
    pub shutdown_secs: f64,
    /// `liftwatch serve`'s peak and final resident memory (kB, VmHWM and
    /// VmRSS of /proc) once every event is stored.
    pub rss_kb: (u64, u64),
    /// Seconds from starting `liftwatch serve` again on the stored history
    /// to its `/readyz` answering 200 (`None`: not measured).
    pub restart_secs: Option<f64>,
}

/// Peak and current resident memory of process `pid` in kB (VmHWM, VmRSS).
pub fn rss_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// What the progress probes and the final counts read: the run's
/// PostgreSQL database, or the embedded store's file (a read connection
/// beside the service's writer; WAL lets it read while `serve` commits).
pub enum Db {
    /// A fresh TimescaleDB database.
    Pg {
        /// The connection.
        c: Client,
        /// `EXISTS` of one event identity.
        exists: tokio_postgres::Statement,
    },
    /// `liftwatch.db` of the embedded store (`query_only`).
    Lite(std::sync::Mutex<rusqlite::Connection>),
}

const EXISTS_SQL: &str = "SELECT EXISTS (SELECT 1 FROM events WHERE elevator_id = $1 AND seq = $2 AND ts = $3)";

impl Db {
    /// Connects to a PostgreSQL database.
    pub async fn pg(url: &str) -> anyhow::Result<Db> {
        let c = connect(url).await?;
        let exists = c.prepare(EXISTS_SQL).await?;
        Ok(Db::Pg { c, exists })
    }

    /// Opens the embedded store's database file for reading.
    pub fn lite(path: &Path) -> anyhow::Result<Db> {
        let c = rusqlite::Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        c.busy_timeout(Duration::from_secs(5))?;
        c.pragma_update(None, "query_only", "ON")?;
        Ok(Db::Lite(std::sync::Mutex::new(c)))
    }

    /// Whether the event `(elevator_id, seq, ts)` is stored.
    async fn exists(&self, id: i32, seq: i64, ts_us: i64) -> anyhow::Result<bool> {
        match self {
            Db::Pg { c, exists } => Ok(c.query_one(exists, &[&id, &seq, &utc(ts_us)]).await?.get(0)),
            Db::Lite(c) => {
                let c = c.lock().map_err(|_| anyhow::anyhow!("probe connection poisoned"))?;
                let mut st = c.prepare_cached(&EXISTS_SQL.replace('$', "?"))?;
                Ok(st.query_row((id, seq, ts_us), |r| r.get(0))?)
            }
        }
    }

    /// The one integer `sql` returns (written for both dialects).
    pub async fn scalar(&self, sql: &str) -> anyhow::Result<i64> {
        match self {
            Db::Pg { c, .. } => Ok(c.query_one(sql, &[]).await?.get(0)),
            Db::Lite(c) => {
                let c = c.lock().map_err(|_| anyhow::anyhow!("probe connection poisoned"))?;
                Ok(c.query_row(sql, [], |r| r.get(0))?)
            }
        }
    }
}

/// Runs in the rollups (both dialects).
pub const RUNS_SQL: &str = "SELECT CAST(coalesce(sum(runs), 0) AS bigint) FROM rollups";
/// Events stored.
pub const COUNT_SQL: &str = "SELECT count(*) FROM events";
/// Dead letters.
pub const DEAD_SQL: &str = "SELECT count(*) FROM dead_letters";

/// Progress of a run, probed by event identity.
pub struct Probe<'a> {
    /// Where to look.
    pub db: &'a Db,
    /// The workload.
    pub w: Workload,
    /// Elevator id of each device index.
    pub ids: &'a [i32],
}

impl Probe<'_> {
    /// Whether message `m` is committed (its last event is stored).
    async fn committed(&self, m: u64) -> anyhow::Result<bool> {
        let e = self.w.last_event(m);
        self.db.exists(self.ids[e.device as usize], e.seq, e.ts).await
    }

    /// Messages committed, assuming they commit in publish order, given that
    /// at least `lo` are: a binary search over the next 2048 (~12 index probes).
    async fn prefix(&self, mut lo: u64) -> anyhow::Result<u64> {
        let mut hi = self.w.messages().min(lo + 2048);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.committed(mid).await? {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Polls every 25 ms until the last message is committed, or nothing
    /// moved for `stall_secs`. `t0`/`s0`: the first publish.
    pub async fn watch(&self, t0: Instant, s0: &cpu::Snapshot, stall_secs: u64) -> anyhow::Result<Watched> {
        let messages = self.w.messages();
        let mut count = 0u64;
        let mut last = (Instant::now(), s0.clone());
        let mut timeline = Vec::new();
        let mut tick = 0u64;
        let completed = loop {
            tokio::time::sleep(Duration::from_millis(25)).await;
            tick += 1;
            if self.committed(messages - 1).await? {
                count = messages;
                last = (Instant::now(), cpu::snapshot());
                break true;
            }
            if tick % 8 == 0 {
                let c2 = self.prefix(count).await?;
                if c2 != count {
                    count = c2;
                    last = (Instant::now(), cpu::snapshot());
                }
                timeline.push((t0.elapsed().as_secs_f64(), count));
                if last.0.elapsed().as_secs() >= stall_secs {
                    break false;
                }
            }
        };
        timeline.push((t0.elapsed().as_secs_f64(), count));
        Ok(Watched { completed, count, secs: (last.0 - t0).as_secs_f64(), at_last: last.1, timeline })
    }
}

/// What [`Probe::watch`] saw.
pub struct Watched {
    /// Every message committed.
    pub completed: bool,
    /// Messages committed.
    pub count: u64,
    /// First publish → last commit seen.
    pub secs: f64,
    /// `/proc` at the last commit seen.
    pub at_last: cpu::Snapshot,
    /// `(seconds, messages committed)`.
    pub timeline: Vec<(f64, u64)>,
}

impl Watched {
    /// Writes the timeline to `progress-{tag}.csv`.
    pub fn write_csv(&self, ctx: &Ctx, tag: &str) -> anyhow::Result<()> {
        let csv: String = self.timeline.iter().map(|(t, m)| format!("{t:.3},{m}\n")).collect();
        std::fs::write(ctx.out.join(format!("progress-{tag}.csv")), format!("seconds,messages_committed\n{csv}"))?;
        Ok(())
    }
}

/// A stall, with what the service says about itself (`/readyz`, `/metrics`).
pub fn stall_report(ctx: &Ctx, http_port: u16, seen: &Watched) -> String {
    let ready =
        http_get(http_port, "/readyz").map_or_else(|| "no answer".to_owned(), |(c, b)| format!("{c} {}", b.trim()));
    let mut stall = format!(
        "STALL: nothing committed for {} s after {} of {} messages ({} events) in {:.1} s; /readyz answered {ready}",
        ctx.stall_secs,
        seen.count,
        ctx.w.messages(),
        events_in(&ctx.w, seen.count),
        seen.secs
    );
    if let Some((200, body)) = http_get(http_port, "/metrics") {
        let interesting: Vec<&str> = body
            .lines()
            .filter(|l| {
                !l.starts_with('#')
                    && (l.contains("acks_pending")
                        || l.starts_with("liftwatch_ingest_messages")
                        || l.contains("mqtt_subscribed")
                        || l.contains("connection_errors"))
            })
            .collect();
        stall += &format!("; /metrics: {}", interesting.join(", "));
    }
    stall
}

/// Events in the first `messages` messages.
fn events_in(w: &Workload, messages: u64) -> u64 {
    (messages * crate::workload::PER_MESSAGE).min(w.events)
}

/// (E) Publisher → private broker → `liftwatch serve` → fresh TimescaleDB database.
pub async fn end_to_end(ctx: &Ctx, g: GatewaySetting, tag: &str, perf: bool) -> anyhow::Result<E2eRun> {
    let w = ctx.w;
    let (db, store, ids) = registered_db("bench_e2e", &w).await?;
    drop(store);
    let broker = start_broker(ctx, tag).await?;
    let serve_log = ctx.out.join(format!("serve-{tag}.log"));
    let (mut serve, http_port) = start_serve(ctx, &db.url, &broker.url(), g, &serve_log).await?;
    let c = Db::pg(&db.url).await?;
    let probe = Probe { db: &c, w, ids: &ids };
    checkpoint().await?;
    let mut publisher = start_publisher(ctx, broker.port).await?;
    let roles = Roles {
        pids: vec![
            (serve.pid().unwrap_or(0), "liftwatch serve"),
            (broker.pid(), "mosquitto"),
            (publisher.proc.pid, "publisher (load generator)"),
            (std::process::id(), "benchmark driver (progress probes)"),
        ],
        database: Some(db.name.clone()),
    };
    let perf_proc = if perf {
        let data = ctx.out.join(format!("perf-{tag}.data"));
        let p = tokio::process::Command::new("perf")
            .args(["record", "-a", "-F", "499", "-e", "cpu-clock", "-o"])
            .arg(&data)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting perf")?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        eprintln!("  perf record -a → {}", data.display());
        Some(p)
    } else {
        None
    };

    let s0 = cpu::snapshot();
    let t0 = Instant::now();
    publisher.say("go").await?;
    let seen = probe.watch(t0, &s0, ctx.stall_secs).await?;
    let (completed, mut secs) = (seen.completed, seen.secs);
    let cpu = cpu::breakdown(&s0, &seen.at_last, &roles, secs, ctx.tck);
    if let Some(mut p) = perf_proc {
        if let Some(pid) = p.id() {
            crate::procs::sigint(pid);
        }
        let _ = tokio::time::timeout(Duration::from_secs(60), p.wait()).await;
    }
    seen.write_csv(ctx, tag)?;
    let mut problems = Vec::new();
    if !completed {
        problems.push(stall_report(ctx, http_port, &seen));
    }

    let grace = Duration::from_secs(10);
    let mut shutdown_secs = 0.0;
    let mut check_exit = |status: Option<std::process::ExitStatus>, took: Duration, problems: &mut Vec<String>| {
        shutdown_secs = took.as_secs_f64();
        match status {
            Some(s) if s.success() => {}
            Some(s) => problems.push(format!("liftwatch serve exited with {s} after SIGTERM")),
            None => problems.push(format!("liftwatch serve did not exit within {grace:?} of SIGTERM (killed)")),
        }
    };
    let stalled_at = c.scalar(COUNT_SQL).await?;
    let mut recovery_log = None;
    if !completed {
        // Does a restart recover (at-least-once: nothing lost, nothing counted twice)?
        let (st, took) = terminate(&mut serve, grace).await;
        check_exit(st, took, &mut problems);
        let log = ctx.out.join(format!("serve-{tag}-restart.log"));
        let t1 = Instant::now();
        let (s2, _) = start_serve(ctx, &db.url, &broker.url(), g, &log).await?;
        serve = s2;
        let mut runs: i64 = 0;
        while t1.elapsed() < Duration::from_secs(60) {
            runs = c.scalar(RUNS_SQL).await?;
            if runs as u64 >= w.events {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        problems.push(format!(
            "after the stall: SIGKILL + restart → {runs} of {} runs in the rollups {:.1} s later \
             (started from {stalled_at})",
            w.events,
            t1.elapsed().as_secs_f64()
        ));
        recovery_log = Some(log);
    }

    let publish_secs = exact_counts(&c, &w, &mut publisher, completed, t0, &mut secs, &mut problems).await?;
    let rss = rss_kb(serve.pid().unwrap_or(0));
    let (st, took) = terminate(&mut serve, grace).await;
    if completed {
        check_exit(st, took, &mut problems);
    } else if !st.is_some_and(|s| s.success()) {
        problems.push("the restarted liftwatch serve did not exit cleanly on SIGTERM".into());
    }
    // Restart on the whole history: start to ready (start_serve returns
    // once /readyz answers 200).
    let mut restart_secs = None;
    if completed {
        let log = ctx.out.join(format!("serve-{tag}-restart-ready.log"));
        let t1 = Instant::now();
        let (mut again, _) = start_serve(ctx, &db.url, &broker.url(), g, &log).await?;
        restart_secs = Some(t1.elapsed().as_secs_f64());
        let _ = terminate(&mut again, grace).await;
    }
    for p in recovery_log.iter().flat_map(|l| log_problems(l)) {
        problems.push(format!("serve log after restart: {p}"));
    }
    for p in log_problems(&serve_log) {
        problems.push(format!("serve log: {p}"));
    }
    for p in log_problems(&broker_log(ctx, tag)) {
        problems.push(format!("mosquitto log: {p}"));
    }
    drop(c);
    drop(broker);
    drop(db);
    Ok(E2eRun {
        completed,
        events: if completed { w.events } else { stalled_at as u64 },
        secs,
        publish_secs,
        cpu,
        problems,
        shutdown_secs,
        rss_kb: rss,
        restart_secs,
    })
}

/// Checks that exactly N events are stored and counted once in the rollups,
/// with no dead letters (waiting up to 30 s for the rollups when the last
/// message committed first, and then timing to that moment); returns the
/// publisher's time to its last PUBACK.
pub async fn exact_counts(
    c: &Db,
    w: &Workload,
    publisher: &mut Helper,
    completed: bool,
    t0: Instant,
    secs: &mut f64,
    problems: &mut Vec<String>,
) -> anyhow::Result<f64> {
    let mut runs = c.scalar(RUNS_SQL).await?;
    if completed && runs as u64 != w.events {
        problems.push(format!("last message committed but rollups hold {runs} of {} runs: out of order?", w.events));
        let wait = Instant::now();
        while runs as u64 != w.events && wait.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            runs = c.scalar(RUNS_SQL).await?;
        }
        *secs = t0.elapsed().as_secs_f64();
    }
    let publish_secs: f64 = match publisher.expect("acked", Duration::from_secs(60)).await {
        Ok(s) => s.parse()?,
        Err(e) => {
            problems.push(format!("publisher: {e}"));
            f64::NAN
        }
    };
    let n = c.scalar(COUNT_SQL).await?;
    let dead = c.scalar(DEAD_SQL).await?;
    if n as u64 != w.events || runs as u64 != w.events {
        problems.push(format!("stored {n} events and {runs} runs in rollups, expected {}", w.events));
    }
    if dead != 0 {
        problems.push(format!("{dead} dead letters"));
    }
    Ok(publish_secs)
}

/// Rows of the workload in publish order.
pub fn rows(w: &Workload) -> Vec<RunEvent> {
    let mut v = Vec::with_capacity(w.events as usize);
    for m in 0..w.messages() {
        v.extend(w.message_events(m));
    }
    debug_assert_eq!(v.len() as u64, w.events);
    v
}
