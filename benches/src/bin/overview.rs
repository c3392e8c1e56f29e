//! Regulator overview benchmark (issue 13 item 2): every project's 6-month
//! KPIs ranked, at P projects of E elevators (default 1,000 × 100 =
//! 100,000 elevators).
//!
//! Registers the firms and projects through the store (so memberships and
//! elevators are what a registration writes), then writes seven months of
//! project sums (`project_days`, `project_spans`: docs/storage.md "Project
//! sums") with plain SQL: what ingest keeps for those elevators, a row per
//! project and day. The overview reads nothing else of the history, so the
//! 21 million rollup rows behind those sums are not written (they would
//! take minutes and gigabytes, and no overview query reads them). Times
//! `projects_kpis` at the store and `GET /api/v1/overview/projects` through
//! a release `liftwatch serve` on that store (when the binary is built).
//!
//! `cargo run --release -p liftwatch-benches --bin overview -- [projects] [elevators per project] [repeats] [pg|sqlite|both]`

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use liftwatch_benches::service::{day, liftwatch_bin, pct, put_firm, put_project, time_gets, Timed};
use liftwatch_core::window::Window;
use liftwatch_store::prelude::*;
use liftwatch_store::sqlite::DB_FILE;
use liftwatch_store::{SqliteOptions, SqliteStore};
use liftwatch_testkit::TestDb;

/// The regulator's token of the HTTP measurement.
const TOKEN: &str = "overview-bench-token-0123456789abcdef0123";
/// The rolling window ends here (183 days from 2026-05-30).
const AT: &str = "2026-11-28";
/// Firms the projects are spread over.
const FIRMS: u32 = 20;

/// Seven months of project sums, 2026-05-01..2026-11-30, for every project:
/// 250 runs per elevator a day, a fault every ~4,000 runs, stoppages and
/// entrapments now and then (differing by project, so the ranking works),
/// and one counter span per elevator a day. Portable SQL (PostgreSQL and
/// SQLite) over `days(day)` and `pe(project_id, n)`.
const SUMS: &str = "INSERT INTO project_days (project_id, day, runs, faults, equipment_faults, \
       reported_equipment_faults, stoppages_closed, downtime_us, entrapments, rescues, rescue_us) \
     SELECT pe.project_id, days.day, pe.n * 250, pe.n * 250 / (3000 + pe.k * 7), pe.n * 250 / (4000 + pe.k * 7), \
       pe.n * 250 / (4000 + pe.k * 7), pe.n / 20, (pe.n / 20) * (1800000000 + pe.k * 1000000), \
       pe.n / 50, pe.n / 50, (pe.n / 50) * (600000000 + pe.k * 1000000) \
     FROM pe, days; \
     INSERT INTO project_spans (project_id, prev_day, day, pairs, resets, runs_reported, runs_by_odometer) \
     SELECT pe.project_id, days.prev_day, days.day, pe.n, 0, pe.n * 250, pe.n * 250 FROM pe, days \
     WHERE days.prev_day IS NOT NULL;";

/// The firms and `projects` projects of `per` elevators each (insured).
async fn register(store: &impl Registry, projects: u32, per: u32) -> anyhow::Result<()> {
    for f in 0..FIRMS {
        put_firm(store, &format!("f{f:02}")).await?;
    }
    for p in 0..projects {
        let firm = format!("f{:02}", p % FIRMS);
        put_project(store, &format!("p{p:05}"), &firm, p * per..(p + 1) * per, Some(day("2027-12-31")?)).await?;
    }
    Ok(())
}

/// Times `GET /api/v1/overview/projects` through `liftwatch serve`.
async fn time_http(label: &str, bin: &Path, store_args: &[String], repeats: usize) -> anyhow::Result<()> {
    let path = format!("/api/v1/overview/projects?at={AT}");
    if let Some(Timed { mut ms, bytes }) = time_gets(label, bin, store_args, TOKEN, &path, repeats).await? {
        println!(
            "{label}: overview (HTTP, {} kB): median {:.1} ms, p95 {:.1} ms over {repeats} runs",
            bytes / 1000,
            pct(&mut ms.clone(), 0.5),
            pct(&mut ms, 0.95)
        );
    }
    Ok(())
}

/// Times `projects_kpis` at the store.
async fn time_store(label: &str, store: &impl Kpis, projects: u32, repeats: usize) -> anyhow::Result<()> {
    let w = Window::rolling(day(AT)?)?;
    let mut ms = Vec::new();
    let mut elevators = 0;
    for _ in 0..repeats {
        let t = Instant::now();
        let all = store.projects_kpis(w).await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        if all.len() != projects as usize {
            bail!("{} projects in the overview, expected {projects}", all.len());
        }
        elevators = all.iter().map(|o| o.kpis.elevators).sum::<usize>();
    }
    println!("{label}: window {w}: {projects} projects, {elevators} elevators");
    println!(
        "{label}: overview (store): median {:.1} ms, p95 {:.1} ms over {repeats} runs",
        pct(&mut ms.clone(), 0.5),
        pct(&mut ms, 0.95)
    );
    Ok(())
}

async fn postgres(projects: u32, per: u32, repeats: usize) -> anyhow::Result<()> {
    let db = TestDb::new("overview").await;
    let store = db.store(true).await;
    let t0 = Instant::now();
    register(&store, projects, per).await?;
    let (c, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    c.batch_execute(&format!(
        "CREATE TEMP TABLE days AS SELECT d::date AS day, (d - interval '1 day')::date AS prev_day \
           FROM generate_series('2026-05-01'::date, '2026-11-30'::date, interval '1 day') d; \
         CREATE TEMP TABLE pe AS SELECT project_id, count(*)::int8 AS n, \
           (row_number() OVER (ORDER BY project_id))::int8 % 97 AS k FROM memberships GROUP BY project_id; \
         {SUMS} ANALYZE project_days; ANALYZE project_spans; ANALYZE memberships;"
    ))
    .await?;
    let rows: i64 = c.query_one("SELECT count(*) FROM project_days", &[]).await?.get(0);
    println!("postgres: setup: {projects} projects, {rows} project-day rows in {:.1} s", t0.elapsed().as_secs_f64());
    time_store("postgres", &store, projects, repeats).await?;
    if let Some(bin) = liftwatch_bin() {
        time_http("postgres", &bin, &["--database-url".to_owned(), db.url.clone()], repeats).await?;
    }
    Ok(())
}

async fn sqlite(projects: u32, per: u32, repeats: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("lw-overview-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t0 = Instant::now();
    let result = async {
        let store = SqliteStore::open(&dir, SqliteOptions::default())?;
        register(&store, projects, per).await?;
        let c = rusqlite::Connection::open(dir.join(DB_FILE))?;
        c.busy_timeout(Duration::from_secs(30))?;
        c.execute_batch(&format!(
            "BEGIN IMMEDIATE; \
             CREATE TEMP TABLE days AS WITH RECURSIVE d(day) AS (SELECT '2026-05-01' UNION ALL \
               SELECT date(day, '+1 day') FROM d WHERE day < '2026-11-30') \
               SELECT day, CASE WHEN day > '2026-05-01' THEN date(day, '-1 day') END AS prev_day FROM d; \
             CREATE TEMP TABLE pe AS SELECT project_id, count(*) AS n, \
               (row_number() OVER (ORDER BY project_id)) % 97 AS k FROM memberships GROUP BY project_id; \
             {SUMS} COMMIT; ANALYZE;"
        ))?;
        let rows: i64 = c.query_row("SELECT count(*) FROM project_days", [], |r| r.get(0))?;
        drop(c);
        println!("sqlite: setup: {projects} projects, {rows} project-day rows in {:.1} s", t0.elapsed().as_secs_f64());
        time_store("sqlite", &store, projects, repeats).await?;
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
    let projects: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1_000);
    let per: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
    let repeats: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(15);
    let which = args.get(4).map_or("pg", String::as_str);
    if liftwatch_bin().is_none() {
        eprintln!("note: no release liftwatch beside this program: the HTTP figure is skipped");
    }
    match which {
        "pg" => postgres(projects, per, repeats).await,
        "sqlite" => sqlite(projects, per, repeats).await,
        "both" => {
            postgres(projects, per, repeats).await?;
            sqlite(projects, per, repeats).await
        }
        _ => bail!("{which:?}: expected pg, sqlite or both"),
    }
}
