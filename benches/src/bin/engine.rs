//! Rule engine benchmark: one project of 10,000 elevators, none insured.
//!
//! Every elevator is registered without `insured_until` and no box has
//! reported, so the first evaluation opens, in one `apply_findings`
//! transaction, one `A1-IV-1-4-insurance` finding for the project (exit)
//! and two findings per elevator (`A1-I-2-1-iot-monitoring`, exit, and
//! `A1-III-1-onsite-interval`): 20,001 findings, each with its alert event. The program times that first evaluation
//! and the three after it ([`STEPS`]): a minute later the project has left
//! the pilot (its exit is recorded), so its non-sticky findings are no
//! longer found and each records its clearing; an hour later they resolve
//! (with their alerts); a minute after that nothing changes (and nothing
//! is written or sent). On PostgreSQL (a throw-away database, `pg`),
//! on the embedded SQLite store (`sqlite`) or both, each on a fresh store
//! per repeat, and prints medians of the whole evaluation and of its
//! phases (snapshot, rules, apply, statuses; `liftwatch_engine::Phases`).
//!
//! `cargo run --release -p liftwatch-benches --bin engine -- [elevators] [repeats] [pg|sqlite|both]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use liftwatch_benches::service::{put_firm, put_project};
use liftwatch_core::protocol::{parse_rfc3339, Timestamp};
use liftwatch_core::rules::RulesConfig;
use liftwatch_engine::{Engine, Evaluation, Phases};
use liftwatch_store::findings::Applied;
use liftwatch_store::sqlite::DB_FILE;
use liftwatch_store::{SqliteOptions, SqliteStore, Store};
use liftwatch_testkit::TestDb;

/// The evaluation's clock (the project was admitted on 2026-01-01).
const NOW: &str = "2026-11-28T10:00:00+08:00";

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// When the evaluations run, minutes after [`NOW`], and what they are.
const STEPS: [(u64, &str); 4] =
    [(0, "first (opens)"), (1, "second (clearing)"), (61, "third (resolves)"), (62, "fourth (steady)")];

/// Evaluates at each of [`STEPS`] on `store` (registered with `n`
/// elevators) and checks what the evaluations did; `outbox` counts the
/// alert events stored.
async fn run(
    store: Arc<dyn Store>,
    n: u32,
    outbox: impl AsyncFn() -> anyhow::Result<i64>,
) -> anyhow::Result<Vec<Evaluation>> {
    let engine = Engine::new(store.clone(), RulesConfig::default(), chrono_tz::Asia::Shanghai);
    let now: Timestamp = parse_rfc3339(NOW)?.0;
    let mut out = Vec::new();
    let mut events = 0;
    for (minutes, what) in STEPS {
        let e = engine.evaluate_once(now.plus(Duration::from_secs(60 * minutes))).await?;
        // Each alert the evaluation counts is one event stored, once.
        let stored = outbox().await?;
        if stored - events != e.applied.alerts as i64 {
            bail!("{what}: {} alert events stored for {} alerts", stored - events, e.applied.alerts);
        }
        events = stored;
        out.push(e);
    }
    if out[0].applied.opened < n as usize {
        bail!("the first evaluation opened {} findings, expected at least {n}", out[0].applied.opened);
    }
    if out[3].applied != Applied::default() {
        bail!("the fourth evaluation (nothing changed) changed {:?}", out[3].applied);
    }
    let mut rules = std::collections::BTreeMap::<&str, usize>::new();
    for f in &store.open_findings().await? {
        *rules.entry(f.draft.rule.as_str()).or_default() += 1;
    }
    println!("open findings by rule at the end: {rules:?}");
    Ok(out)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Prints the medians of `runs`.
fn report(label: &str, n: u32, runs: &[Vec<Evaluation>]) {
    for (i, (_, what)) in STEPS.iter().enumerate() {
        let Some(e) = runs.first().map(|r| &r[i]) else { return };
        let m =
            |f: fn(&Phases) -> Duration| median(&mut runs.iter().map(|r| secs(f(&r[i].phases))).collect::<Vec<_>>());
        println!(
            "{label}: {n} elevators: {what}: median {:.3} s (snapshot {:.3}, rules {:.3}, apply {:.3}, statuses {:.3}) \
             over {} runs; {} drafts, {:?}, {} open after",
            m(|p| p.total()),
            m(|p| p.snapshot),
            m(|p| p.rules),
            m(|p| p.apply),
            m(|p| p.statuses),
            runs.len(),
            e.drafts,
            e.applied,
            e.open
        );
    }
}

async fn postgres(n: u32, repeats: usize) -> anyhow::Result<()> {
    let mut runs = Vec::new();
    for _ in 0..repeats {
        let db = TestDb::new("enginebench").await;
        let store = db.store(true).await;
        let t = Instant::now();
        put_firm(&store, "zls").await?;
        put_project(&store, "city", "zls", 0..n, None).await?;
        let (c, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        c.batch_execute("ANALYZE").await?;
        println!("postgres: setup: {n} elevators in {:.1} s", t.elapsed().as_secs_f64());
        let outbox =
            async || -> anyhow::Result<i64> { Ok(c.query_one("SELECT count(*) FROM alert_outbox", &[]).await?.get(0)) };
        runs.push(run(Arc::new(store.clone()), n, outbox).await?);
    }
    report("postgres", n, &runs);
    Ok(())
}

async fn sqlite(n: u32, repeats: usize) -> anyhow::Result<()> {
    let mut runs = Vec::new();
    for i in 0..repeats {
        let dir = std::env::temp_dir().join(format!("lw-engine-bench-{}-{i}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let result = async {
            let store = SqliteStore::open(&dir, SqliteOptions::default())?;
            let t = Instant::now();
            put_firm(&store, "zls").await?;
            put_project(&store, "city", "zls", 0..n, None).await?;
            println!("sqlite: setup: {n} elevators in {:.1} s", t.elapsed().as_secs_f64());
            let file = dir.join(DB_FILE);
            let outbox = async || -> anyhow::Result<i64> {
                let c = rusqlite::Connection::open(&file).context("opening the store's file")?;
                Ok(c.query_row("SELECT count(*) FROM alert_outbox", [], |r| r.get(0))?)
            };
            run(Arc::new(store.clone()), n, outbox).await
        }
        .await;
        let _ = std::fs::remove_dir_all(&dir);
        runs.push(result?);
    }
    report("sqlite", n, &runs);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let repeats: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    match args.get(3).map_or("both", String::as_str) {
        "pg" => postgres(n, repeats).await,
        "sqlite" => sqlite(n, repeats).await,
        "both" => {
            postgres(n, repeats).await?;
            sqlite(n, repeats).await
        }
        which => bail!("{which:?}: expected pg, sqlite or both"),
    }
}
