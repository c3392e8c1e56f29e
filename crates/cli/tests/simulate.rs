//! `liftwatch simulate` is the simulator (`liftwatch-sim`), one code base:
//! the same scenario gives the same ground truth and project body.
#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_liftwatch");

#[test]
fn simulate_writes_the_scenarios_ground_truth_and_project_body() {
    let root = liftwatch_testkit::procs::workspace_root();
    let scenario = root.join("simulators/scenarios/small-city.toml");
    let out = std::env::temp_dir().join(format!("lw-truth-{}.json", std::process::id()));
    let st =
        Command::new(BIN).arg("simulate").arg("--scenario").arg(&scenario).arg("--ground-truth").arg(&out).status();
    assert!(st.unwrap().success());
    let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let text = liftwatch_sim::Scenario::from_toml(&std::fs::read_to_string(&scenario).unwrap()).unwrap();
    let want = text.ground_truth().unwrap().to_json();
    assert_eq!(truth, want, "the same ground truth as the library computes");
    std::fs::remove_file(&out).unwrap();
    let body =
        Command::new(BIN).arg("simulate").arg("--scenario").arg(&scenario).args(["--print-project", "zls"]).output();
    let body: serde_json::Value = serde_json::from_slice(&body.unwrap().stdout).unwrap();
    assert_eq!(body["firm_id"], "zls");
    assert_eq!(body["elevators"].as_array().unwrap().len(), 50);
}

/// Box faults on demand (offline buffering replayed in arrays of 1,000,
/// duplicates, malformed payloads) through a real broker into `serve` on the
/// embedded store: the KPIs still equal the scenario's ground truth, and
/// every malformed message is a dead letter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn box_faults_change_nothing_the_service_counts_and_every_malformed_message_is_dead_lettered() {
    use liftwatch_testkit::procs::http;
    use liftwatch_testkit::{free_port, wait_until, Broker, Service};
    use std::time::Duration;
    const TOKEN: &str = "simulate-box-faults-token-0123456789";
    let dir = std::env::temp_dir().join(format!("lw-sim-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        "elevators = 6\ndevice_prefix = \"3110330200201\"\nstart = \"2026-05-01\"\ndays = 20\nruns_per_day = 100\n\
         faults_per_10k = 50.0\nstopping_share = 0.5\nentrapment_share = 0.3\npower_failures_per_100_days = 1.0\n\
         visit_every_days = 10\ntimezone = \"Asia/Shanghai\"\nseed = 5\n",
    )
    .unwrap();
    let broker = Broker::start().await;
    let port = free_port();
    let args: Vec<String> = ["serve", "--mqtt-url", &broker.url(), "--listen", &format!("127.0.0.1:{port}")]
        .iter()
        .chain(&["--mqtt-client-id", "gw-simf", "--mqtt-share-group", "g-simf", "--regulator-token", TOKEN])
        .map(|s| s.to_string())
        .collect();
    let _svc = Service::start_raw(BIN, args, port).await;
    let (c, b) = http(
        port,
        "PUT",
        "/api/v1/firms/zls",
        Some(TOKEN),
        Some(r#"{"name":"ZLS","grade":"A","self_declaration_url":"https://example.org/d.pdf"}"#),
    )
    .unwrap();
    assert_eq!(c, 201, "{b}");
    let project = Command::new(BIN)
        .arg("simulate")
        .arg("--scenario")
        .arg(&scenario)
        .args(["--print-project", "zls"])
        .output()
        .unwrap();
    let (c, b) =
        http(port, "PUT", "/api/v1/projects/sim", Some(TOKEN), Some(String::from_utf8(project.stdout).unwrap().trim()))
            .unwrap();
    assert_eq!(c, 201, "{b}");
    let out = Command::new(BIN)
        .arg("simulate")
        .arg("--scenario")
        .arg(&scenario)
        .args(["--port", &broker.port.to_string(), "--rate", "0"])
        .args(["--offline-share", "0.5", "--duplicate-share", "0.3", "--malformed-share", "0.2"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{log}");
    let malformed: i64 = log
        .split(" malformed messages")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no malformed count in {log}"));
    assert!(malformed > 0 && log.contains("boxes offline"), "{log}");
    let truth = liftwatch_sim::Scenario::from_toml(&std::fs::read_to_string(&scenario).unwrap())
        .unwrap()
        .ground_truth()
        .unwrap()
        .to_json();
    let w =
        truth["projects"][0]["windows"].as_array().unwrap().iter().find(|w| w["from"] == "2025-11-21").unwrap().clone();
    let kpis = || {
        let (_, b) = http(port, "GET", "/api/v1/projects/sim/kpis?at=2026-05-21", Some(TOKEN), None).unwrap();
        serde_json::from_str::<serde_json::Value>(&b).unwrap()
    };
    wait_until("every run counted", Duration::from_secs(120), || std::future::ready(kpis()["runs"] == w["runs"])).await;
    let k = kpis();
    assert_eq!(k["equipment_faults"], w["equipment_faults"]);
    assert_eq!(k["fault_rate_per_10k"], w["fault_rate_per_10k"]);
    assert_eq!(k["downtime"]["count"], w["stoppages_closed"]);
    assert_eq!(k["downtime"]["mean_minutes"], w["downtime_mean_minutes"]);
    assert_eq!(k["rescue"]["count"], w["rescues"]);
    assert_eq!(k["rescue"]["mean_minutes"], w["rescue_mean_minutes"]);
    wait_until("every malformed message dead-lettered", Duration::from_secs(60), || {
        let (_, b) = http(port, "GET", "/api/v1/dead-letters?limit=1000", Some(TOKEN), None).unwrap();
        let d: serde_json::Value = serde_json::from_str(&b).unwrap();
        let seen: i64 = d.as_array().unwrap().iter().map(|x| x["seen_count"].as_i64().unwrap_or(1)).sum();
        std::future::ready(seen == malformed)
    })
    .await;
    std::fs::remove_dir_all(&dir).unwrap();
}
