//! `liftwatch serve` with no database URL: the embedded store (SQLite in the
//! data directory) behind the same gateway, rule engine and HTTP API.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono_tz::Asia::Shanghai;
use liftwatch_core::ledger::Ledger;
use liftwatch_core::protocol::DeviceCode;
use liftwatch_testkit::procs::http;
use liftwatch_testkit::{dev, fleet_events, free_port, publish, wait_until, Broker, Service};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_liftwatch");
const TOKEN: &str = "embedded-store-test-token-0123456789";

fn kpis(port: u16) -> serde_json::Value {
    let (code, body) = http(port, "GET", "/api/v1/projects/haibin/kpis?at=2026-11-28", Some(TOKEN), None).unwrap();
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_the_embedded_store_counts_every_event_once_and_keeps_it_across_a_restart() {
    let broker = Broker::start().await;
    let port = free_port();
    let args: Vec<String> = [
        "serve",
        "--mqtt-url",
        &broker.url(),
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--mqtt-client-id",
        "gw-embedded",
        "--mqtt-share-group",
        "g-embedded",
        "--regulator-token",
        TOKEN,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut svc = Service::start_raw(BIN, args, port).await;
    assert!(svc.data_dir.join("liftwatch.db").exists(), "the store is the data dir's liftwatch.db");
    let (code, body) = http(
        port,
        "PUT",
        "/api/v1/firms/zls",
        Some(TOKEN),
        Some(r#"{"name":"Zhoushan Lift","grade":"A","self_declaration_url":"https://example.org/decl.pdf"}"#),
    )
    .unwrap();
    assert_eq!(code, 201, "{body}");
    let devs: Vec<DeviceCode> = (0..2).map(dev).collect();
    let project = serde_json::json!({"name": "Haibin Garden", "firm_id": "zls", "owner": "Haibin Property",
        "mode": "iot", "admitted_on": "2026-01-01", "insured_until": "2027-06-30",
        "commitment": {"fault_rate_per_10k": 5.0, "downtime_minutes": 60, "rescue_minutes": 20},
        "elevators": devs.iter().map(|d| serde_json::json!({"device_code": d.as_str()})).collect::<Vec<_>>()});
    let (code, body) = http(port, "PUT", "/api/v1/projects/haibin", Some(TOKEN), Some(&project.to_string())).unwrap();
    assert_eq!(code, 201, "{body}");
    let events = fleet_events(&devs, 1200, 11);
    publish(broker.port, "pub-emb-1", &events, 100).await;
    // Duplicates in other shapes.
    publish(broker.port, "pub-emb-2", &events[..600], 7).await;
    let mut l = Ledger::new(Shanghai);
    for e in &events {
        l.apply(e);
    }
    let w = liftwatch_core::window::Window::rolling("2026-11-28".parse().unwrap()).unwrap();
    let m: Vec<_> = devs
        .iter()
        .map(|d| liftwatch_core::kpi::Membership { device: *d, since: "2026-01-01".parse().unwrap(), until: None })
        .collect();
    let want = liftwatch_core::kpi::aggregate(&w, &m, l.rows()).totals;
    assert!(want.runs > 0 && want.equipment_faults > 0, "the scenario exercises the KPIs");
    wait_until("every run counted", Duration::from_secs(120), || {
        std::future::ready(kpis(port)["runs"].as_u64() == Some(want.runs as u64))
    })
    .await;
    let k = kpis(port);
    assert_eq!(k["equipment_faults"], want.equipment_faults);
    assert_eq!(k["downtime"]["count"], want.stoppages_closed);
    // Restart on the same folder: everything is still there, nothing twice.
    assert!(svc.terminate().success());
    svc.restart().await;
    assert_eq!(kpis(port), k);
    publish(broker.port, "pub-emb-3", &events, 50).await;
    let (code, body) = http(port, "GET", "/metrics", None, None).unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("liftwatch_ingest"), "metrics are served");
    wait_until("the replay is counted as duplicates", Duration::from_secs(60), || {
        let (_, body) = http(port, "GET", "/metrics", None, None).unwrap();
        std::future::ready(
            body.lines().any(|l| l.starts_with("liftwatch_ingest_duplicates_total") && !l.ends_with(" 0")),
        )
    })
    .await;
    assert_eq!(kpis(port), k, "a replay of everything changes nothing");
    assert!(svc.terminate().success());
}
