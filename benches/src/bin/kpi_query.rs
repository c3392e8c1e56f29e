//! KPI query benchmark: a 6-month project KPI over 10,000 elevators.
//!
//! Builds a throw-away TimescaleDB database with one project of N elevators
//! (default 10,000) and a rollup row per elevator per day for 7 months
//! (~2.1 M rows), then times the queries behind
//! `GET /api/v1/projects/{id}/kpis`: the pooled KPIs and the per-elevator
//! figures. Prints medians and the 95th percentile over repeated runs.
//!
//! `cargo run --release -p liftwatch-benches --bin kpi_query -- [elevators] [repeats]`

use std::time::Instant;

use chrono::NaiveDate;
use liftwatch_core::protocol::DeviceCode;
use liftwatch_core::registry::{ElevatorSpec, Firm, GradeLetter, ProjectMode, ProjectSpec};
use liftwatch_core::window::Window;
use liftwatch_store::prelude::*;
use liftwatch_testkit::TestDb;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let repeats: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(30);
    let db = TestDb::new("kpiq").await;
    let store = db.store(true).await;
    store
        .put_firm(&Firm {
            id: "zls".into(),
            name: "Zhoushan Lift".into(),
            grade: GradeLetter::A,
            self_declaration_url: Some("https://example.org/decl.pdf".into()),
        })
        .await?;
    let t0 = Instant::now();
    let elevators = (0..n)
        .map(|i| {
            Ok(ElevatorSpec {
                device_code: DeviceCode::parse(&format!("3110330200201{i:07}"))?,
                kind: "traction".into(),
                location: String::new(),
                insured_until: None,
                since: None,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let day = |s: &str| s.parse::<NaiveDate>();
    store
        .put_project(
            &ProjectSpec {
                id: "city".into(),
                name: "City".into(),
                firm_id: "zls".into(),
                owner: String::new(),
                mode: ProjectMode::Iot,
                admitted_on: day("2026-01-01")?,
                commitment: None,
                elevators,
                pilot_form: Default::default(),
            },
            day("2026-01-01")?,
        )
        .await?;
    let (c, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    c.batch_execute(
        "INSERT INTO rollups (elevator_id, day, runs, faults, equipment_faults, reported_equipment_faults, \
           stoppages_closed, downtime_us, entrapments, rescues, rescue_us) \
         SELECT e.id, d::date, 200 + e.id % 300, (e.id + extract(doy FROM d)::int) % 7 / 6, \
           (e.id + extract(doy FROM d)::int) % 7 / 6, (e.id + extract(doy FROM d)::int) % 7 / 6, \
           (e.id + extract(doy FROM d)::int) % 11 / 10, ((e.id + extract(doy FROM d)::int) % 11 / 10) * 2400000000::bigint, \
           (e.id + extract(doy FROM d)::int) % 97 / 96, (e.id + extract(doy FROM d)::int) % 97 / 96, \
           ((e.id + extract(doy FROM d)::int) % 97 / 96) * 900000000::bigint \
         FROM elevators e CROSS JOIN generate_series('2026-05-01'::date, '2026-11-30'::date, interval '1 day') d; \
         ANALYZE rollups; ANALYZE memberships;",
    )
    .await?;
    let rows: i64 = c.query_one("SELECT count(*) FROM rollups", &[]).await?.get(0);
    println!("setup: {n} elevators, {rows} rollup rows in {:.1} s", t0.elapsed().as_secs_f64());
    let w = Window::rolling(day("2026-11-28")?)?;
    let mut pooled = Vec::new();
    let mut per = Vec::new();
    let mut k = None;
    for _ in 0..repeats {
        let t = Instant::now();
        k = store.project_kpis("city", w).await?;
        pooled.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let p = store.project_elevator_totals("city", w).await?;
        per.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(p.len(), n as usize);
    }
    let k = k.ok_or_else(|| anyhow::anyhow!("no project"))?;
    println!("window {w}: {} elevators, {} runs, {} equipment faults", k.elevators, k.runs, k.equipment_faults);
    println!(
        "pooled project KPIs:     median {:.1} ms, p95 {:.1} ms over {repeats} runs",
        pct(&mut pooled.clone(), 0.5),
        pct(&mut pooled, 0.95)
    );
    println!(
        "per-elevator figures:    median {:.1} ms, p95 {:.1} ms over {repeats} runs",
        pct(&mut per.clone(), 0.5),
        pct(&mut per, 0.95)
    );
    Ok(())
}
