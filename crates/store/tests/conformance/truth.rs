//! The store against the simulator's ground truth: six months of a
//! simulated fleet ingested, the project's KPIs equal what the simulator
//! knows it generated (counted as it generated, not by the core's ledger),
//! completeness included; and again with skewed clocks and silent boxes.

use liftwatch_core::window::Window;
use liftwatch_store::prelude::*;
use liftwatch_testkit::fixtures::{elevator_spec, firm, project_spec};
use liftwatch_testkit::sim::faults::BoxFaults;
use liftwatch_testkit::sim::truth::WindowTruth;
use liftwatch_testkit::sim::{LogNormal, Scenario};

use crate::fixtures::*;
use crate::Factory;

/// 100 elevators from 2026-05-01 to 2026-10-31 (184 days). Runs are
/// lowered to 10 a day (the truth is exact at any volume; 184,000 runs keep
/// the case fast) and faults raised to 200 per 10,000 runs so that the six
/// months hold thousands of faults, stoppages open and closed, entrapments
/// and power failures; a third of the faults external or usage-caused as
/// the box reports them (not counted), stoppages and rescues lognormal.
fn six_months() -> Scenario {
    Scenario {
        elevators: 100,
        start: day("2026-05-01"),
        days: 184,
        runs_per_day: 10,
        faults_per_10k: 200.0,
        non_equipment_share: 0.33,
        stoppage_minutes: Some(LogNormal { median: 40.0, sigma: 1.0 }),
        rescue_minutes: Some(LogNormal { median: 12.0, sigma: 0.45 }),
        seed: 11,
        ..Scenario::default()
    }
}

pub async fn six_months_of_a_simulated_fleet_equal_its_ground_truth<F: Factory>(f: &F) {
    let scenario = six_months();
    let want = check(f, "truth", &scenario, &BoxFaults::default()).await;
    assert_eq!(want.completeness.runs_share, Some(1.0), "every box heard: {:?}", want.completeness);
}

/// The same six months (40 elevators) with a third of the boxes' clocks six hours behind
/// (their early runs stamped on the day before, the first morning's before
/// the project's membership) and a fifth of the boxes silent for ten days:
/// the store's KPIs equal the truth of what was sent, and its completeness
/// the truth's (the runs the odometers counted through the silences).
pub async fn skewed_clocks_and_silent_boxes_equal_their_ground_truth<F: Factory>(f: &F) {
    let faults = BoxFaults {
        clock_skew_share: 0.3,
        clock_skew_seconds: -6 * 3600,
        silent_share: 0.2,
        silent_days: 10,
        ..BoxFaults::default()
    };
    // 40 elevators: the faults' effects at a lighter cost.
    let want = check(f, "truth_faults", &Scenario { elevators: 40, ..six_months() }, &faults).await;
    assert!(want.completeness.runs_share.is_some_and(|x| x < 1.0), "{:?}", want.completeness);
    assert!(want.generated.runs > want.runs, "runs were lost: {want:?}");
}

/// Ingests what `scenario` sends under `faults` and checks the project's
/// KPIs and completeness on every window of the truth; returns the
/// scenario window's truth.
async fn check<F: Factory>(f: &F, schema: &str, scenario: &Scenario, faults: &BoxFaults) -> WindowTruth {
    let (s, _g) = f.open(schema).await;
    let truth = scenario.ground_truth_with(faults).unwrap();
    let [p] = &truth.projects[..] else { panic!("one project: {:?}", truth.projects.len()) };
    firm(&s, "sim-firm").await;
    let elevators = p.devices.iter().map(|d| elevator_spec(*d, None)).collect();
    s.put_project(&project_spec(&p.id, "sim-firm", elevators), scenario.start).await.unwrap();

    let mut events = Vec::new();
    scenario.for_each_day_with(faults, |_, evs| events.extend(evs)).unwrap();
    for batch in messages(&events, 100).chunks(50) {
        s.ingest(batch).await.unwrap();
    }

    let w = Window::rolling(day("2026-11-01")).unwrap();
    assert_eq!((w.from, w.to), (truth.start, truth.end), "the window is the scenario's six months");
    let scenario_window = p.window(w);
    assert!(
        scenario_window.stoppages_closed > 0 && scenario_window.stoppages_open > 0 && scenario_window.rescues > 0,
        "{scenario_window:?}"
    );
    for w in truth.windows() {
        let want = p.window(w);
        let got = s.project_kpis(&p.id, w).await.unwrap().unwrap();
        assert_eq!(
            (got.elevators, got.runs, got.equipment_faults, got.fault_rate_per_10k),
            (want.elevators, want.runs, want.equipment_faults, want.fault_rate_per_10k),
            "runs and faults {w:?}"
        );
        assert_eq!(
            (got.downtime.count, got.downtime.mean_minutes, got.downtime.open),
            (want.stoppages_closed, want.downtime_mean_minutes, want.stoppages_open),
            "stoppages {w:?}"
        );
        assert_eq!(
            (got.rescue.count, got.rescue.mean_minutes, got.rescue.awaiting_arrival),
            (want.rescues, want.rescue_mean_minutes, want.awaiting_arrival),
            "rescues {w:?}"
        );
        assert_eq!(got.completeness, want.completeness, "completeness {w:?}");
    }
    scenario_window
}
