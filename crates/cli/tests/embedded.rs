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

/// The value of the unlabelled series `name` in a `/metrics` answer.
fn metric(body: &str, name: &str) -> Option<f64> {
    body.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The rule engine's evaluations are visible to an operator: after the
/// evaluation that a registration kicks, `/metrics` counts it, times it
/// (histogram and phases), counts no failure, and shows as open exactly
/// the findings the API lists as open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exports_the_rule_engines_evaluations_and_open_findings_on_metrics() {
    let port = free_port();
    let args: Vec<String> = [
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--embedded-mqtt-listen",
        &format!("127.0.0.1:{}", free_port()),
        "--regulator-token",
        TOKEN,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut svc = Service::start_raw(BIN, args, port).await;
    let (code, body) = http(
        port,
        "PUT",
        "/api/v1/firms/zls",
        Some(TOKEN),
        Some(r#"{"name":"Zhoushan Lift","grade":"A","self_declaration_url":"https://example.org/decl.pdf"}"#),
    )
    .unwrap();
    assert_eq!(code, 201, "{body}");
    // Two elevators whose boxes were never heard: the rules open findings.
    let project = serde_json::json!({"name": "Haibin Garden", "firm_id": "zls", "owner": "Haibin Property",
        "mode": "iot", "admitted_on": "2026-01-01", "insured_until": "2027-06-30",
        "commitment": {"fault_rate_per_10k": 5.0, "downtime_minutes": 60, "rescue_minutes": 20},
        "elevators": [{"device_code": dev(0).as_str()}, {"device_code": dev(1).as_str()}]});
    let (code, body) = http(port, "PUT", "/api/v1/projects/haibin", Some(TOKEN), Some(&project.to_string())).unwrap();
    assert_eq!(code, 201, "{body}");
    let open_in_api = || -> usize {
        let (code, body) = http(port, "GET", "/api/v1/findings?state=open&limit=500", Some(TOKEN), None).unwrap();
        assert_eq!(code, 200, "{body}");
        serde_json::from_str::<Vec<serde_json::Value>>(&body).unwrap().len()
    };
    wait_until("the findings of the registration are open", Duration::from_secs(60), || {
        std::future::ready(open_in_api() > 0)
    })
    .await;
    let open = open_in_api();
    let scrape = || http(port, "GET", "/metrics", None, None).unwrap().1;
    wait_until("the evaluation that opened them is exported", Duration::from_secs(60), || {
        std::future::ready(metric(&scrape(), "liftwatch_rules_findings_open") == Some(open as f64))
    })
    .await;
    let body = scrape();
    let evaluations = metric(&body, "liftwatch_rules_evaluations_total").unwrap();
    assert!(evaluations >= 1.0, "{body}");
    assert_eq!(metric(&body, "liftwatch_rules_evaluation_failures_total"), Some(0.0), "{body}");
    assert!(metric(&body, "liftwatch_rules_evaluation_duration_seconds_count").unwrap() >= 1.0, "{body}");
    assert!(metric(&body, "liftwatch_rules_evaluation_duration_seconds_sum").unwrap() > 0.0, "{body}");
    let opened = body
        .lines()
        .find_map(|l| l.strip_prefix(r#"liftwatch_rules_findings_changed_total{change="opened"} "#))
        .map(|v| v.parse::<f64>().unwrap());
    assert_eq!(opened, Some(open as f64), "every open finding was opened by an evaluation: {body}");
    assert!(
        body.lines().any(|l| l.starts_with(r#"liftwatch_rules_evaluation_phase_seconds{phase="apply"} "#)),
        "{body}"
    );
    assert!(svc.terminate().success());
}
