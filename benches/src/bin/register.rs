//! Registration benchmark: `put_project` of a project with 10,000 elevators
//! (what `PUT /api/v1/projects/{id}` does), then an update that leaves 1,000
//! of them out (their memberships end), on each store backend.
//!
//! Every run starts from an empty store (a throw-away PostgreSQL database,
//! TimescaleDB mode, or an embedded SQLite store in a temporary folder) with
//! one firm. Prints the median and the range over the runs.
//!
//! `cargo run --release -p liftwatch-benches --bin register -- [elevators] [runs] [postgres|sqlite|both]`

use std::time::Instant;

use chrono::NaiveDate;
use liftwatch_core::protocol::DeviceCode;
use liftwatch_core::registry::{ElevatorSpec, Firm, GradeLetter, ProjectMode, ProjectSpec};
use liftwatch_store::prelude::*;
use liftwatch_store::{SqliteOptions, SqliteStore};
use liftwatch_testkit::TestDb;

/// Elevators that the update leaves out.
const LEFT_OUT: usize = 1_000;

/// The project `city` of `n` elevators, admitted on 2026-01-01.
fn project(n: u32) -> anyhow::Result<ProjectSpec> {
    let elevators = (0..n)
        .map(|i| {
            Ok(ElevatorSpec {
                device_code: DeviceCode::parse(&format!("3110330200201{i:07}"))?,
                kind: "traction".into(),
                location: format!("Bldg {i}"),
                insured_until: Some("2027-06-30".parse()?),
                since: None,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ProjectSpec {
        id: "city".into(),
        name: "City".into(),
        firm_id: "zls".into(),
        owner: String::new(),
        mode: ProjectMode::Iot,
        admitted_on: "2026-01-01".parse()?,
        commitment: None,
        elevators,
        pilot_form: Default::default(),
    })
}

/// One run on `store`: the seconds of the first put and of the update.
async fn run<S: Registry>(store: &S, p: &ProjectSpec) -> anyhow::Result<(f64, f64)> {
    store
        .put_firm(&Firm {
            id: "zls".into(),
            name: "Zhoushan Lift".into(),
            grade: GradeLetter::C,
            self_declaration_url: None,
        })
        .await?;
    let day = |s: &str| s.parse::<NaiveDate>();
    let t = Instant::now();
    store.put_project(p, day("2026-01-01")?).await?;
    let fresh = t.elapsed().as_secs_f64();
    let mut update = p.clone();
    update.elevators.truncate(p.elevators.len().saturating_sub(LEFT_OUT));
    let t = Instant::now();
    store.put_project(&update, day("2026-07-01")?).await?;
    let changed = t.elapsed().as_secs_f64();
    let m = store.memberships("city").await?;
    anyhow::ensure!(m.len() == p.elevators.len(), "{} memberships", m.len());
    anyhow::ensure!(m.iter().filter(|m| m.until.is_some()).count() == p.elevators.len() - update.elevators.len());
    Ok((fresh, changed))
}

/// Median, minimum and maximum in milliseconds.
fn summary(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    let ms = |s: f64| s * 1e3;
    format!("median {:.0} ms (min {:.0}, max {:.0})", ms(v[v.len() / 2]), ms(v[0]), ms(v[v.len() - 1]))
}

fn report(backend: &str, n: u32, runs: &[(f64, f64)]) {
    let left = LEFT_OUT.min(n as usize);
    println!("{backend}: put {n} elevators fresh: {}", summary(runs.iter().map(|r| r.0).collect()));
    println!("{backend}: update leaving {left} out:  {}", summary(runs.iter().map(|r| r.1).collect()));
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let which = args.get(3).map_or("both", String::as_str);
    let p = project(n)?;
    if which != "sqlite" {
        let mut times = Vec::new();
        for _ in 0..runs {
            let db = TestDb::new("register").await;
            times.push(run(&db.store(true).await, &p).await?);
        }
        report("postgres (timescaledb)", n, &times);
    }
    if which != "postgres" {
        let mut times = Vec::new();
        for _ in 0..runs {
            let dir = tempfile::tempdir()?;
            let path = dir.path().to_owned();
            let store =
                tokio::task::spawn_blocking(move || SqliteStore::open(&path, SqliteOptions::default())).await??;
            times.push(run(&store, &p).await?);
        }
        report("sqlite", n, &times);
    }
    Ok(())
}
