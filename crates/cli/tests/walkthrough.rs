//! The README's walkthrough as a newcomer runs it, on a broker with the
//! STOCK limits of Mosquitto (1,000 queued QoS 1 messages per client, the
//! rest dropped): `serve` with its defaults (the spool on), the firm and the
//! project put over HTTP with the body `liftwatch-sim --print-project`
//! prints, then `liftwatch-sim` publishing far more messages than the
//! broker's queue holds. Every event it publishes must be stored exactly
//! once, and the KPIs must count them. The scenario has the shape of the
//! shipped `simulators/scenarios/small-city.toml` (a TOML date and all),
//! smaller so that the test stays quick.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use chrono_tz::Asia::Shanghai;
use liftwatch_core::ledger::Ledger;
use liftwatch_core::protocol::Body;
use liftwatch_testkit::procs::http;
use liftwatch_testkit::sim::Scenario;
use liftwatch_testkit::{wait_until, Service, StockBroker, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_liftwatch");
const TOKEN: &str = "demo-token-change-me-before-production";

/// The simulator's binary, built beside `liftwatch` by `cargo test --workspace`
/// (its own integration tests make cargo build it).
fn sim_bin() -> PathBuf {
    let p = PathBuf::from(BIN).with_file_name("liftwatch-sim");
    assert!(p.exists(), "{} is missing: run `cargo test --workspace` (or `cargo build -p liftwatch-sim`)", p.display());
    p
}

#[tokio::test]
async fn the_readme_walkthrough_stores_every_event_on_a_stock_broker() {
    let broker = StockBroker::start().await;
    let db = TestDb::new("walk").await;
    let svc =
        Service::start_with(BIN, &db.url, &broker.url(), "gw-walk", "g-walk", &["--regulator-token", TOKEN]).await;
    let port = svc.http_port;

    // The scenario file, as shipped but smaller: 12 elevators, 30 days.
    let shipped = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../simulators/scenarios/small-city.toml"),
    )
    .unwrap();
    let text = shipped
        .lines()
        .map(|l| match l.split('=').next().map(str::trim) {
            Some("elevators") => "elevators = 12".to_owned(),
            Some("days") => "days = 30".to_owned(),
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let file = std::env::temp_dir().join(format!("lw-walk-{}.toml", std::process::id()));
    std::fs::write(&file, &text).unwrap();
    let scenario = Scenario::from_toml(&text).unwrap();

    // 1. the firm, 2. the project from --print-project.
    let firm = r#"{"name":"ZLS","grade":"A","self_declaration_url":"https://example.org/decl.pdf"}"#;
    let (status, body) = http(port, "PUT", "/api/v1/firms/zls", Some(TOKEN), Some(firm)).unwrap();
    assert!(status == 201 || status == 200, "{status} {body}");
    let out = Command::new(sim_bin()).arg("--scenario").arg(&file).args(["--print-project", "zls"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let project = String::from_utf8(out.stdout).unwrap();
    let (status, body) = http(port, "PUT", "/api/v1/projects/sim", Some(TOKEN), Some(project.trim())).unwrap();
    assert!(status == 201 || status == 200, "{status} {body}");

    // 3. the simulator publishes (its default pace) to the stock broker.
    let out = Command::new(sim_bin())
        .arg("--scenario")
        .arg(&file)
        .args(["--port", &broker.port.to_string()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{said}");
    let _ = std::fs::remove_file(&file);

    // What it published, computed from the same scenario.
    let mut ledger = Ledger::new(Shanghai);
    let (mut events, mut runs) = (0usize, 0u64);
    scenario
        .for_each_day(|_, evs| {
            for e in evs {
                events += 1;
                runs += u64::from(matches!(e.body, Body::Run { .. }));
                ledger.apply(&e);
            }
        })
        .unwrap();
    let messages: usize = said
        .split_whitespace()
        .skip_while(|w| *w != "in")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the simulator's summary: {said}"));
    assert!(said.contains(&format!("publishing {events} events")), "{said}");
    assert!(messages > 1000, "the walkthrough must publish more than the broker queues: {messages} messages");

    // Every event stored exactly once …
    db.wait_for_events(events).await;
    let store = db.store(true).await;
    use liftwatch_store::prelude::*;
    let want: Vec<_> = ledger.rows().map(|(d, day, r)| (d, day, r.clone())).collect();
    wait_until("the rollups to equal the ledger's", Duration::from_secs(60), || {
        let store = store.clone();
        let want = want.clone();
        async move { store.rollup_rows().await.unwrap() == want }
    })
    .await;
    // … and the project's KPIs count all of its runs.
    let last = scenario.start + chrono::Days::new(u64::from(scenario.days));
    let (status, body) = http(port, "GET", &format!("/api/v1/projects/sim/kpis?at={last}"), Some(TOKEN), None).unwrap();
    assert_eq!(status, 200, "{body}");
    let k: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(k["runs"].as_u64(), Some(runs), "{body}");
    drop(svc);
}
