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

/// Clock skew and silent boxes (with duplicates beside them) through a real
/// broker into `serve` on the embedded store, the ground truth written by
/// `simulate --ground-truth` with the same flags: the service's KPIs equal
/// the truth's sent figures — a box three hours fast counted on the days of
/// its clock — and its completeness equals the truth's (the odometer after
/// a silence counts the runs never reported, `runs_share` below 1); each
/// box silent in the middle shows exactly its withheld events as
/// `seq_gaps`, and the box silent to the end heads `/api/v1/telemetry/silent`,
/// last heard before its silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skewed_clocks_and_silent_boxes_the_service_equals_the_truth_and_reports_the_silence() {
    use liftwatch_testkit::procs::http;
    use liftwatch_testkit::{free_port, wait_until, Broker, Service};
    use std::time::Duration;
    const TOKEN: &str = "simulate-skew-silent-token-0123456789";
    let faults = [
        "--clock-skew-share",
        "0.5",
        "--clock-skew-seconds",
        "10800",
        "--silent-share",
        "0.5",
        "--silent-days",
        "4",
        "--duplicate-share",
        "0.2",
    ];
    let dir = std::env::temp_dir().join(format!("lw-sim-skew-silent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("s.toml");
    // Seed 8: five of eight clocks three hours fast, three boxes silent for
    // four days, one of them to the scenario's end.
    std::fs::write(
        &scenario,
        "elevators = 8\ndevice_prefix = \"3110330200201\"\nstart = \"2026-05-01\"\ndays = 14\nruns_per_day = 100\n\
         faults_per_10k = 50.0\nheartbeat_minutes = 30\ntimezone = \"Asia/Shanghai\"\nseed = 8\n",
    )
    .unwrap();
    let truth_file = dir.join("truth.json");
    let st = Command::new(BIN)
        .arg("simulate")
        .arg("--scenario")
        .arg(&scenario)
        .arg("--ground-truth")
        .arg(&truth_file)
        .args(faults)
        .status()
        .unwrap();
    assert!(st.success());
    let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&truth_file).unwrap()).unwrap();
    let p = &truth["projects"][0];
    let silent = p["silent_boxes"].as_array().unwrap().clone();
    let (middle, to_end): (Vec<_>, Vec<_>) = silent.iter().partition(|b| b["to"].as_str() < truth["end"].as_str());
    assert!(!middle.is_empty() && to_end.len() == 1, "the seed's draw: {silent:?}");
    assert!(!p["skewed_boxes"].as_array().unwrap().is_empty());
    // What the boxes send: per device, distinct events (the service's `events`).
    let s = liftwatch_sim::Scenario::from_toml(&std::fs::read_to_string(&scenario).unwrap()).unwrap();
    let f = liftwatch_sim::faults::BoxFaults {
        clock_skew_share: 0.5,
        clock_skew_seconds: 10800,
        silent_share: 0.5,
        silent_days: 4,
        ..Default::default()
    };
    let mut sent = std::collections::BTreeMap::<String, i64>::new();
    s.for_each_day_with(&f, |_, evs| evs.iter().for_each(|e| *sent.entry(e.device.to_string()).or_default() += 1))
        .unwrap();

    let broker = Broker::start().await;
    let port = free_port();
    let args: Vec<String> = ["serve", "--mqtt-url", &broker.url(), "--listen", &format!("127.0.0.1:{port}")]
        .iter()
        .chain(&["--mqtt-client-id", "gw-simss", "--mqtt-share-group", "g-simss", "--regulator-token", TOKEN])
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
        .args(faults)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{log}");
    assert!(log.contains("boxes with a clock 10800 s off") && log.contains("boxes silent for 4 days"), "{log}");
    let get = |path: &str| {
        let (c, b) = http(port, "GET", path, Some(TOKEN), None).unwrap();
        assert_eq!(c, 200, "{path}: {b}");
        serde_json::from_str::<serde_json::Value>(&b).unwrap()
    };
    let elevator = |d: &str| get(&format!("/api/v1/elevators/{d}/kpis?half=2026H1"));
    wait_until("every event sent is ingested", Duration::from_secs(120), || {
        std::future::ready(sent.iter().all(|(d, n)| elevator(d)["telemetry"]["events"] == *n))
    })
    .await;
    let windows = p["windows"].as_array().unwrap();
    for (query, from) in [("at=2026-05-15", "2025-11-15"), ("half=2026H1", "2026-01-01")] {
        let w = windows.iter().find(|w| w["from"] == from).unwrap();
        let k = get(&format!("/api/v1/projects/sim/kpis?{query}"));
        assert_eq!(k["runs"], w["runs"], "{query}");
        assert_eq!(k["equipment_faults"], w["equipment_faults"], "{query}");
        assert_eq!(k["fault_rate_per_10k"], w["fault_rate_per_10k"], "{query}");
        assert_eq!(k["downtime"]["count"], w["stoppages_closed"], "{query}");
        assert_eq!(k["downtime"]["mean_minutes"], w["downtime_mean_minutes"], "{query}");
        assert_eq!(k["rescue"]["count"], w["rescues"], "{query}");
        assert_eq!(k["rescue"]["mean_minutes"], w["rescue_mean_minutes"], "{query}");
        for f in ["runs_reported", "runs_by_odometer", "runs_share", "counter_pairs", "counter_resets"] {
            assert_eq!(k["completeness"][f], w["completeness"][f], "{query} completeness.{f}");
        }
        assert!(k["completeness"]["runs_share"].as_f64().unwrap() < 1.0, "{query}: the silence is flagged");
        assert!(w["generated"]["runs"].as_i64().unwrap() > k["runs"].as_i64().unwrap(), "runs were lost");
    }
    // The rolling window ends on 05-14; the fast clocks' last evening is on 05-15, in 2026H1.
    let rolling = windows.iter().find(|w| w["from"] == "2025-11-15").unwrap();
    let h1 = windows.iter().find(|w| w["from"] == "2026-01-01").unwrap();
    assert!(h1["runs"].as_i64() > rolling["runs"].as_i64(), "skewed runs stamped after the scenario's last day");
    for b in &middle {
        let t = elevator(b["device_code"].as_str().unwrap());
        assert_eq!(t["telemetry"]["seq_gaps"], b["events_withheld"], "{b}");
    }
    let listed = get("/api/v1/telemetry/silent?limit=1000");
    let first = &listed[0];
    assert_eq!(first["device_code"], to_end[0]["device_code"], "longest silent first: {listed}");
    let last_seen = first["last_seen"].as_str().unwrap();
    assert!(last_seen[..10] < *to_end[0]["from"].as_str().unwrap(), "last heard {last_seen}, before the silence");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Live time through a real broker into `serve`: the scenario starts
/// today; what happened earlier today is sent at once, and nothing is ever
/// sent before its time (every box's `last_seen` is in the past and the
/// service never holds more of its events than were due).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_time_sends_what_is_due_at_once_and_nothing_before_its_time() {
    use liftwatch_core::protocol::Timestamp;
    use liftwatch_testkit::procs::http;
    use liftwatch_testkit::{free_port, wait_until, Broker, Service};
    use std::io::BufRead;
    use std::time::Duration;
    const TOKEN: &str = "simulate-live-token-0123456789abcdef";
    let dir = std::env::temp_dir().join(format!("lw-sim-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("s.toml");
    let text = "elevators = 4\ndevice_prefix = \"3110330200209\"\ndays = 1\nruns_per_day = 300\n\
                heartbeat_minutes = 1\ntimezone = \"Asia/Shanghai\"\nseed = 3\n";
    std::fs::write(&scenario, text).unwrap();
    let broker = Broker::start().await;
    let port = free_port();
    let args: Vec<String> = ["serve", "--mqtt-url", &broker.url(), "--listen", &format!("127.0.0.1:{port}")]
        .iter()
        .chain(&["--mqtt-client-id", "gw-siml", "--mqtt-share-group", "g-siml", "--regulator-token", TOKEN])
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
        .args(["--live", "--print-project", "zls"])
        .output()
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&project.stdout).unwrap();
    let today = Timestamp::now().local_day(chrono_tz::Asia::Shanghai);
    let admitted: chrono::NaiveDate = body["admitted_on"].as_str().unwrap().parse().unwrap();
    assert!(admitted == today || admitted.succ_opt() == Some(today), "live: the scenario starts today: {body}");
    let (c, b) = http(port, "PUT", "/api/v1/projects/sim", Some(TOKEN), Some(&body.to_string())).unwrap();
    assert_eq!(c, 201, "{b}");
    /// The live simulator runs for a day: stopped when the test ends, passed or not.
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let started = Timestamp::now();
    let mut sim = Stop(
        Command::new(BIN)
            .arg("simulate")
            .arg("--scenario")
            .arg(&scenario)
            .args(["--port", &broker.port.to_string(), "--live"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // The day it started on, from its own words (the test may straddle midnight).
    let mut lines = std::io::BufReader::new(sim.0.stderr.take().unwrap()).lines();
    let start: chrono::NaiveDate = loop {
        let line = lines.next().expect("simulate ended before publishing").unwrap();
        if let Some((_, rest)) = line.split_once("live time from ") {
            break rest[..10].parse().unwrap();
        }
    };
    let s = liftwatch_sim::Scenario { start, ..liftwatch_sim::Scenario::from_toml(text).unwrap() };
    let mut events = Vec::new();
    s.for_each_day(|_, evs| events.extend(evs)).unwrap();
    let due = |d: &str, by: Timestamp| events.iter().filter(|e| e.device.as_str() == d && e.ts <= by).count() as i64;
    let devices: Vec<String> = s.devices().unwrap().iter().map(|d| d.to_string()).collect();
    let telemetry = |d: &str| {
        let (c, b) = http(port, "GET", &format!("/api/v1/elevators/{d}/kpis"), Some(TOKEN), None).unwrap();
        assert_eq!(c, 200, "{b}");
        serde_json::from_str::<serde_json::Value>(&b).unwrap()["telemetry"].clone()
    };
    let received = |d: &str| telemetry(d)["events"].as_i64().unwrap_or(0);
    assert!(devices.iter().any(|d| due(d, started) > 0), "heartbeats every minute: something is due");
    wait_until("everything due at the start is in", Duration::from_secs(120), || {
        std::future::ready(devices.iter().all(|d| received(d) >= due(d, started)))
    })
    .await;
    for d in &devices {
        let t = telemetry(d);
        let now = Timestamp::now();
        let (last_seen, _) = Timestamp::parse(t["last_seen"].as_str().unwrap()).unwrap();
        assert!(last_seen <= now, "{d}: last seen {last_seen}, now {now}: nothing before its time");
        assert!(t["events"].as_i64().unwrap() <= due(d, now), "{d}: no more events than were due by now");
    }
    drop(sim);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Visits and remote checks per mode: a `remote` project's boxes report
/// on-site visits within a month, and its firm's remote checks (not
/// telemetry) are recorded with the service by `--post-visits`: the
/// service lists exactly the checks `--visits` writes, as remote checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_checks_of_a_remote_project_are_recorded_as_its_firms_visits() {
    use liftwatch_testkit::procs::http;
    use liftwatch_testkit::{free_port, Broker, Service};
    const TOKEN: &str = "simulate-visits-token-0123456789abcdef";
    let dir = std::env::temp_dir().join(format!("lw-sim-visits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        "elevators = 4\ndevice_prefix = \"3110330200208\"\nstart = \"2026-06-01\"\ndays = 45\nruns_per_day = 20\n\
         timezone = \"Asia/Shanghai\"\nseed = 4\nprojects = [{ id = \"east\", elevators = 4, mode = \"remote\" }]\n",
    )
    .unwrap();
    let broker = Broker::start().await;
    let port = free_port();
    let args: Vec<String> = ["serve", "--mqtt-url", &broker.url(), "--listen", &format!("127.0.0.1:{port}")]
        .iter()
        .chain(&["--mqtt-client-id", "gw-simv", "--mqtt-share-group", "g-simv", "--regulator-token", TOKEN])
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
    let body: serde_json::Value = serde_json::from_slice(&project.stdout).unwrap();
    assert_eq!(body["mode"], "remote", "the scenario's project mode");
    let (c, b) = http(port, "PUT", "/api/v1/projects/east", Some(TOKEN), Some(&body.to_string())).unwrap();
    assert_eq!(c, 201, "{b}");
    let file = dir.join("checks.jsonl");
    let st = Command::new(BIN).arg("simulate").arg("--scenario").arg(&scenario).arg("--visits").arg(&file).status();
    assert!(st.unwrap().success());
    let written: Vec<serde_json::Value> =
        std::fs::read_to_string(&file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let out = Command::new(BIN)
        .arg("simulate")
        .arg("--scenario")
        .arg(&scenario)
        .args(["--port", &broker.port.to_string(), "--rate", "0"])
        .args(["--post-visits", &format!("http://127.0.0.1:{port}"), "--token", TOKEN])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{log}");
    assert!(log.contains(&format!("done: {} remote checks recorded", written.len())), "{log}");
    let mut devices: Vec<&str> = written.iter().map(|w| w["device_code"].as_str().unwrap()).collect();
    devices.dedup();
    devices.sort_unstable();
    devices.dedup();
    assert_eq!(devices.len(), 4, "every elevator checked");
    for d in devices {
        let (c, b) = http(port, "GET", &format!("/api/v1/elevators/{d}/visits?limit=1000"), Some(TOKEN), None).unwrap();
        assert_eq!(c, 200, "{b}");
        let listed: Vec<serde_json::Value> = serde_json::from_str(&b).unwrap();
        let mine: Vec<&serde_json::Value> = written.iter().filter(|w| w["device_code"] == d).collect();
        assert_eq!(listed.len(), mine.len(), "{d}: {b}");
        assert!(mine.len() >= 3, "45 days, one every 14: {}", mine.len());
        for (l, w) in listed.iter().zip(&mine) {
            assert_eq!(l["kind"], "remote_check");
            let at = |v: &serde_json::Value| liftwatch_core::protocol::Timestamp::parse(v.as_str().unwrap()).unwrap().0;
            assert_eq!(at(&l["started_at"]), at(&w["body"]["started_at"]), "{d}");
            assert_eq!(l["technician"], w["body"]["technician"]);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
