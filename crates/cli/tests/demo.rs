//! `liftwatch demo` (the README's first command): everything in one process,
//! KPIs within seconds, the machine's PostgreSQL and broker never used.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use liftwatch_testkit::procs::{http, sigterm};
use liftwatch_testkit::{free_port, wait_until};

const BIN: &str = env!("CARGO_BIN_EXE_liftwatch");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_answers_kpis_within_seconds_without_the_machines_database_or_broker() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("lw-demo-test-{}-{port}", std::process::id()));
    let mut child = Command::new(BIN)
        .args(["demo", "--listen", &format!("127.0.0.1:{port}"), "--elevators", "4", "--days", "20"])
        .args(["--accelerated-days", "1", "--data-dir"])
        .arg(&dir)
        // Whatever the environment says, the demo uses none of it: these point
        // at closed ports, and the demo must still work.
        .env("LIFTWATCH_DATABASE_URL", "postgres://postgres@127.0.0.1:1/unused")
        .env("LIFTWATCH_MQTT_URL", "mqtt://127.0.0.1:1")
        .env("LIFTWATCH_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut token = None;
    while token.is_none() {
        let line = rx.recv_timeout(Duration::from_secs(120)).expect("the demo prints its tokens");
        token = line.trim().strip_prefix("regulator token:").map(|t| t.trim().to_owned());
    }
    let token = token.unwrap();
    assert!(dir.join("liftwatch.db").exists(), "the embedded store is in the data dir");
    wait_until("the demo's KPIs count runs", Duration::from_secs(120), || {
        let r = http(port, "GET", "/api/v1/projects/demo-east/kpis", Some(&token), None);
        let runs =
            r.and_then(|(_, b)| serde_json::from_str::<serde_json::Value>(&b).ok()).and_then(|k| k["runs"].as_u64());
        std::future::ready(runs.is_some_and(|n| n > 0))
    })
    .await;
    // The rule engine runs too: findings appear (e.g. visits due in the remote project).
    wait_until("the demo's findings", Duration::from_secs(120), || {
        let r = http(port, "GET", "/api/v1/findings", Some(&token), None);
        std::future::ready(r.is_some_and(|(c, b)| c == 200 && b.contains("\"rule\"")))
    })
    .await;
    sigterm(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "Ctrl-C / SIGTERM stops it cleanly: {status:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
