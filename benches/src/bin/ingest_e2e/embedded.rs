//! (S) The same end-to-end path with nothing to install: `liftwatch serve`
//! without a database URL or a broker URL, so on the embedded SQLite store
//! in a fresh data folder and with its embedded MQTT broker (rumqttd) on a
//! free port. The load generator publishes to that broker; the probes read
//! the store's file beside the service (WAL lets a reader see each commit).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use liftwatch_store::sqlite::DB_FILE;
use liftwatch_store::{SqliteOptions, SqliteStore};
use liftwatch_testkit::free_port;
use liftwatch_testkit::procs::Service;

use crate::cpu::{self, Roles};
use crate::phases::{
    checkpoint, elevator_ids, exact_counts, register, stall_report, start_publisher, terminate, Ctx, Db, E2eRun, Probe,
};
use crate::procs::{log_problems, GatewaySetting};

/// A data folder removed on drop.
struct DataDir(PathBuf);

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Registers the workload's fleet in a new embedded store in `dir` (then
/// closes it, so `serve` can take the folder); returns the elevator ids.
async fn registered_store(ctx: &Ctx, dir: &Path) -> anyhow::Result<Vec<i32>> {
    let store = SqliteStore::open(dir, SqliteOptions::default()).context("opening the embedded store")?;
    register(&store, &ctx.w).await?;
    drop(store);
    let c = rusqlite::Connection::open(dir.join(DB_FILE))?;
    let mut st = c.prepare("SELECT device_code, id FROM elevators")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i32>(1)?)))?;
    elevator_ids(&ctx.w, rows.collect::<Result<Vec<_>, _>>()?.into_iter())
}

/// `liftwatch serve` on the embedded store in `dir` and the embedded broker
/// on `mqtt_port`, with gateway setting `g` (the pool size does not apply:
/// the embedded store has one writer).
fn serve_args(dir: &Path, http_port: u16, mqtt_port: u16, g: GatewaySetting) -> Vec<String> {
    let mut args: Vec<String> = [
        "serve",
        "--data-dir",
        &dir.display().to_string(),
        "--listen",
        &format!("127.0.0.1:{http_port}"),
        "--embedded-mqtt-listen",
        &format!("127.0.0.1:{mqtt_port}"),
        "--mqtt-client-id",
        "bench-gateway",
        "--batch-max-events",
        &g.max_events.to_string(),
        "--batch-max-messages",
        &g.max_messages.to_string(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if !g.spool {
        args.push("--no-spool".to_owned());
    }
    args
}

/// rumqttd logs every client's disconnect, even a clean one, at ERROR
/// ("Disconnected!! … connection closed by peer", "… is already gone",
/// "router-drop"):
/// not a problem of the run.
fn rumqttd_disconnect(line: &str) -> bool {
    line.contains("rumqttd")
        && ["Disconnected!!", "is already gone", "router-drop error=Recv(Disconnected)"]
            .iter()
            .any(|m| line.contains(m))
}

/// (S) Publisher → embedded broker → `liftwatch serve` → embedded store.
pub async fn end_to_end_embedded(ctx: &Ctx, g: GatewaySetting, tag: &str) -> anyhow::Result<E2eRun> {
    let w = ctx.w;
    let dir = DataDir(std::env::temp_dir().join(format!("lw-bench-{}-{tag}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0)?;
    let ids = registered_store(ctx, &dir.0).await?;
    let (http_port, mqtt_port) = (free_port(), free_port());
    let log = ctx.out.join(format!("serve-{tag}.log"));
    let _ = std::fs::remove_file(&log);
    let mut serve = Service::try_start(
        &ctx.liftwatch,
        serve_args(&dir.0, http_port, mqtt_port, g),
        http_port,
        Some(log.clone()),
        "info",
    )
    .await
    .with_context(|| format!("starting liftwatch serve (embedded); see {}", log.display()))?;
    let c = Db::lite(&dir.0.join(DB_FILE))?;
    let probe = Probe { db: &c, w, ids: &ids };
    // PostgreSQL is idle during this phase: no dirty buffers of an earlier one.
    checkpoint().await?;
    let mut publisher = start_publisher(ctx, mqtt_port).await?;
    let roles = Roles {
        pids: vec![
            (serve.pid().unwrap_or(0), "liftwatch serve (with the embedded broker and store)"),
            (publisher.proc.pid, "publisher (load generator)"),
            (std::process::id(), "benchmark driver (progress probes)"),
        ],
        database: None,
    };
    let s0 = cpu::snapshot();
    let t0 = Instant::now();
    publisher.say("go").await?;
    let seen = probe.watch(t0, &s0, ctx.stall_secs).await?;
    let (completed, mut secs) = (seen.completed, seen.secs);
    let cpu = cpu::breakdown(&s0, &seen.at_last, &roles, secs, ctx.tck);
    seen.write_csv(ctx, tag)?;
    let mut problems = Vec::new();
    if !completed {
        problems.push(stall_report(ctx, http_port, &seen));
    }
    let stored = c.scalar(crate::phases::COUNT_SQL).await?;
    let publish_secs = exact_counts(&c, &w, &mut publisher, completed, t0, &mut secs, &mut problems).await?;
    let db_bytes = std::fs::metadata(dir.0.join(DB_FILE)).map_or(0, |m| m.len());
    eprintln!(
        "      embedded store: {:.0} MB ({:.0} bytes per event)",
        db_bytes as f64 / 1e6,
        db_bytes as f64 / w.events as f64
    );
    let grace = Duration::from_secs(10);
    let rss = crate::phases::rss_kb(serve.pid().unwrap_or(0));
    let (st, took) = terminate(&mut serve, grace).await;
    match st {
        Some(s) if s.success() => {}
        Some(s) => problems.push(format!("liftwatch serve exited with {s} after SIGTERM")),
        None => problems.push(format!("liftwatch serve did not exit within {grace:?} of SIGTERM (killed)")),
    }
    for p in log_problems(&log).into_iter().filter(|l| !rumqttd_disconnect(l)) {
        problems.push(format!("serve log: {p}"));
    }
    drop(c);
    Ok(E2eRun {
        completed,
        events: if completed { w.events } else { stored as u64 },
        secs,
        publish_secs,
        cpu,
        problems,
        shutdown_secs: took.as_secs_f64(),
        rss_kb: rss,
        restart_secs: None,
    })
}
