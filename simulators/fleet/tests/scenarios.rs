//! Every scenario file the repository ships parses, names valid devices and
//! generates telemetry (the README's walkthrough uses them).
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;

use liftwatch_sim::Scenario;

fn shipped() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_scenario_parses_and_generates() {
    let files = shipped();
    assert!(!files.is_empty(), "no scenario files found");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let s = Scenario::from_toml(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let devices = s.devices().unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(devices.len(), s.elevators as usize, "{}", f.display());
        let plans = s.plans(&Default::default()).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(plans.len(), devices.len(), "{}: the projects add up", f.display());
        let mut seq = 0;
        let mut rng = liftwatch_sim::Rng::new(s.seed);
        let day = s.day_events(devices[0], s.start, &mut seq, &mut rng).unwrap();
        assert!(!day.is_empty(), "{}: the first day has no events", f.display());
    }
}

#[test]
fn start_may_be_a_toml_date_or_a_string() {
    let a = Scenario::from_toml("start = 2026-05-01").unwrap();
    let b = Scenario::from_toml("start = \"2026-05-01\"").unwrap();
    assert_eq!(a.start, b.start);
    let e = Scenario::from_toml("start = 2026-05-01T10:00:00").unwrap_err().to_string();
    assert!(e.contains("without a time"), "{e}");
    let e = Scenario::from_toml("start = \"May 1st\"").unwrap_err().to_string();
    assert!(e.contains("YYYY-MM-DD"), "{e}");
}
