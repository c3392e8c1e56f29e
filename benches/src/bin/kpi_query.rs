//! KPI query benchmark: a 6-month project KPI over 10,000 elevators.
//!
//! Builds one project of N elevators (default 10,000) with a rollup row per
//! elevator per day for 7 months (~2.1 M rows), in a throw-away TimescaleDB
//! database (`pg`), in a fresh embedded SQLite store (`sqlite`), or both one
//! after the other (`both`), then times the queries behind
//! `GET /api/v1/projects/{id}/kpis`: the pooled KPIs and the per-elevator
//! figures, at the store; and the pooled KPIs through HTTP, with the release
//! `liftwatch serve` on that database (when the binary is built). Prints
//! medians and the 95th percentile over repeated runs.
//!
//! `cargo run --release -p liftwatch-benches --bin kpi_query -- [elevators] [repeats] [pg|sqlite|both] [day|elevator]`
//!
//! The last argument is the order the rollup rows are written in: `day`
//! (the default: day after day, as live ingest writes them) or `elevator`
//! (each elevator's days together, as the first version of this benchmark
//! did: the per-elevator figures read far fewer pages then).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use liftwatch_benches::service::{day, liftwatch_bin, pct, put_firm, put_project, time_gets, Timed};
use liftwatch_core::window::Window;
use liftwatch_store::prelude::*;
use liftwatch_store::sqlite::DB_FILE;
use liftwatch_store::{SqliteOptions, SqliteStore};
use liftwatch_testkit::TestDb;

/// The regulator's token of the HTTP measurement.
const TOKEN: &str = "kpi-bench-token-0123456789abcdef0123456789";
/// Rollup days: 7 months, the window's 183 days and more.
const FIRST_DAY: &str = "2026-05-01";
const LAST_DAY: &str = "2026-11-30";
/// The rolling window ends here.
const AT: &str = "2026-11-28";

/// The rollups of every elevator and day, in PostgreSQL: mostly runs, a
/// fault every 7th, a stoppage every 11th, an entrapment every 97th day.
const PG_ROLLUPS: &str = "INSERT INTO rollups (elevator_id, day, runs, faults, equipment_faults, \
       reported_equipment_faults, stoppages_closed, downtime_us, entrapments, rescues, rescue_us) \
     SELECT e.id, d::date, 200 + e.id % 300, (e.id + extract(doy FROM d)::int) % 7 / 6, \
       (e.id + extract(doy FROM d)::int) % 7 / 6, (e.id + extract(doy FROM d)::int) % 7 / 6, \
       (e.id + extract(doy FROM d)::int) % 11 / 10, ((e.id + extract(doy FROM d)::int) % 11 / 10) * 2400000000::bigint, \
       (e.id + extract(doy FROM d)::int) % 97 / 96, (e.id + extract(doy FROM d)::int) % 97 / 96, \
       ((e.id + extract(doy FROM d)::int) % 97 / 96) * 900000000::bigint \
     FROM elevators e CROSS JOIN generate_series('{first}'::date, '{last}'::date, interval '1 day') d {order}; \
     ANALYZE rollups; ANALYZE memberships;";

/// The project sums of those rows (docs/storage.md "Project sums"), as
/// the migrations fill them from rollups already stored (rollups written
/// beside the store do not pass through ingest, which keeps them).
const PROJECT_SUMS: &str = "INSERT INTO project_days \
     SELECT m.project_id, r.day, sum(r.runs), sum(r.faults), sum(r.equipment_faults), sum(r.reported_equipment_faults), \
       sum(r.reclassified_from_equipment), sum(r.stoppages_closed), sum(r.downtime_us), sum(r.stoppages_open), \
       sum(r.entrapments), sum(r.rescues), sum(r.rescue_us), sum(r.awaiting_arrival) \
     FROM memberships m JOIN rollups r ON r.elevator_id = m.elevator_id \
       AND r.day >= m.since AND (m.until IS NULL OR r.day <= m.until) \
     GROUP BY m.project_id, r.day;";

/// The same rows in SQLite.
const LITE_ROLLUPS: &str = "WITH RECURSIVE d(day) AS (SELECT '{first}' UNION ALL \
       SELECT date(day, '+1 day') FROM d WHERE day < '{last}'), \
     k(id, day, x) AS (SELECT e.id, d.day, e.id + CAST(strftime('%j', d.day) AS INTEGER) FROM elevators e, d) \
     INSERT INTO rollups (elevator_id, day, runs, faults, equipment_faults, reported_equipment_faults, \
       stoppages_closed, downtime_us, entrapments, rescues, rescue_us) \
     SELECT id, day, 200 + id % 300, x % 7 / 6, x % 7 / 6, x % 7 / 6, x % 11 / 10, (x % 11 / 10) * 2400000000, \
       x % 97 / 96, x % 97 / 96, (x % 97 / 96) * 900000000 FROM k {order}; \
     ANALYZE;";

/// `{order}` of the rollup rows as written: `day` (day after day, every
/// elevator's row of a day together, as live ingest writes them) or
/// `elevator` (each elevator's days together, as a bulk load would).
fn fill(sql: &str, order: &str) -> String {
    let order = if order == "elevator" { "ORDER BY 1, 2" } else { "ORDER BY 2, 1" };
    sql.replace("{first}", FIRST_DAY).replace("{last}", LAST_DAY).replace("{order}", order)
}

/// Times `GET /api/v1/projects/city/kpis` through `liftwatch serve`.
async fn time_http(label: &str, bin: &Path, store_args: &[String], repeats: usize) -> anyhow::Result<()> {
    let path = format!("/api/v1/projects/city/kpis?at={AT}");
    if let Some(Timed { mut ms, .. }) = time_gets(label, bin, store_args, TOKEN, &path, repeats).await? {
        println!(
            "{label}: pooled project KPIs (HTTP):    median {:.1} ms, p95 {:.1} ms over {repeats} runs",
            pct(&mut ms.clone(), 0.5),
            pct(&mut ms, 0.95)
        );
    }
    Ok(())
}

/// Times the pooled KPIs and the per-elevator figures at the store.
async fn time_store(label: &str, store: &impl Kpis, n: u32, repeats: usize) -> anyhow::Result<()> {
    let w = Window::rolling(day(AT)?)?;
    let (mut pooled, mut per, mut k) = (Vec::new(), Vec::new(), None);
    for _ in 0..repeats {
        let t = Instant::now();
        k = store.project_kpis("city", w).await?;
        pooled.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let p = store.project_elevator_totals("city", w).await?;
        per.push(t.elapsed().as_secs_f64() * 1e3);
        if p.len() != n as usize {
            bail!("{} per-elevator rows, expected {n}", p.len());
        }
        // The project sums agree with the rollups they sum.
        let (runs, faults) = p.iter().fold((0, 0), |(r, f), (_, t)| (r + t.runs, f + t.equipment_faults));
        let pooled = k.as_ref().context("no project")?;
        if (pooled.runs, pooled.equipment_faults) != (runs, faults) {
            bail!(
                "project sums {:?} differ from the rollups {:?}",
                (pooled.runs, pooled.equipment_faults),
                (runs, faults)
            );
        }
    }
    let k = k.context("no project")?;
    println!(
        "{label}: window {w}: {} elevators, {} runs, {} equipment faults",
        k.elevators, k.runs, k.equipment_faults
    );
    println!(
        "{label}: pooled project KPIs (store):   median {:.1} ms, p95 {:.1} ms over {repeats} runs",
        pct(&mut pooled.clone(), 0.5),
        pct(&mut pooled, 0.95)
    );
    println!(
        "{label}: per-elevator figures (store):  median {:.1} ms, p95 {:.1} ms over {repeats} runs",
        pct(&mut per.clone(), 0.5),
        pct(&mut per, 0.95)
    );
    Ok(())
}

async fn postgres(n: u32, repeats: usize, order: &str) -> anyhow::Result<()> {
    let db = TestDb::new("kpiq").await;
    let store = db.store(true).await;
    let t0 = Instant::now();
    put_firm(&store, "zls").await?;
    put_project(&store, "city", "zls", 0..n, None).await?;
    let (c, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    c.batch_execute(&fill(PG_ROLLUPS, order)).await?;
    c.batch_execute(&format!("{PROJECT_SUMS} ANALYZE project_days;")).await?;
    let rows: i64 = c.query_one("SELECT count(*) FROM rollups", &[]).await?.get(0);
    println!("postgres: setup: {n} elevators, {rows} rollup rows in {:.1} s", t0.elapsed().as_secs_f64());
    time_store("postgres", &store, n, repeats).await?;
    if let Some(bin) = liftwatch_bin() {
        time_http("postgres", &bin, &["--database-url".to_owned(), db.url.clone()], repeats).await?;
    }
    Ok(())
}

async fn sqlite(n: u32, repeats: usize, order: &str) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("lw-kpi-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t0 = Instant::now();
    let result = async {
        let store = SqliteStore::open(&dir, SqliteOptions::default())?;
        put_firm(&store, "zls").await?;
        put_project(&store, "city", "zls", 0..n, None).await?;
        // Beside the store's idle writer: one transaction of plain SQL.
        let c = rusqlite::Connection::open(dir.join(DB_FILE))?;
        c.busy_timeout(Duration::from_secs(30))?;
        c.execute_batch(&format!("BEGIN IMMEDIATE; {} {PROJECT_SUMS} COMMIT; ANALYZE;", fill(LITE_ROLLUPS, order)))?;
        let rows: i64 = c.query_row("SELECT count(*) FROM rollups", [], |r| r.get(0))?;
        drop(c);
        let mb = std::fs::metadata(dir.join(DB_FILE)).map_or(0, |m| m.len()) as f64 / 1e6;
        println!(
            "sqlite: setup: {n} elevators, {rows} rollup rows in {:.1} s ({mb:.0} MB)",
            t0.elapsed().as_secs_f64()
        );
        time_store("sqlite", &store, n, repeats).await?;
        drop(store);
        if let Some(bin) = liftwatch_bin() {
            time_http("sqlite", &bin, &["--data-dir".to_owned(), dir.display().to_string()], repeats).await?;
        }
        anyhow::Ok(())
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let repeats: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(30);
    let which = args.get(3).map_or("pg", String::as_str);
    if liftwatch_bin().is_none() {
        eprintln!("note: no release liftwatch beside this program: the HTTP figure is skipped");
    }
    let order = args.get(4).map_or("day", String::as_str);
    if !matches!(order, "day" | "elevator") {
        bail!("{order:?}: expected day or elevator");
    }
    println!("rollup rows written in {order} order");
    match which {
        "pg" => postgres(n, repeats, order).await,
        "sqlite" => sqlite(n, repeats, order).await,
        "both" => {
            postgres(n, repeats, order).await?;
            sqlite(n, repeats, order).await
        }
        _ => bail!("{which:?}: expected pg, sqlite or both"),
    }
}
