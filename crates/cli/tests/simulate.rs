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
