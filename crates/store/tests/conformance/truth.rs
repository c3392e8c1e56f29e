//! The store against the simulator's ground truth: six months of a
//! simulated fleet ingested, the project's KPIs equal what the simulator
//! knows it generated (counted as it generated, not by the core's ledger).

use liftwatch_core::window::Window;
use liftwatch_store::prelude::*;
use liftwatch_testkit::fixtures::{elevator_spec, firm, project_spec};
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
    let (s, _g) = f.open("truth").await;
    let scenario = six_months();
    let truth = scenario.ground_truth().unwrap();
    let [p] = &truth.projects[..] else { panic!("one project: {:?}", truth.projects.len()) };
    firm(&s, "sim-firm").await;
    let elevators = p.devices.iter().map(|d| elevator_spec(*d, None)).collect();
    s.put_project(&project_spec(&p.id, "sim-firm", elevators), scenario.start).await.unwrap();

    let mut events = Vec::new();
    scenario.for_each_day(|_, evs| events.extend(evs)).unwrap();
    for batch in messages(&events, 100).chunks(50) {
        s.ingest(batch).await.unwrap();
    }

    let w = Window::rolling(day("2026-11-01")).unwrap();
    assert_eq!((w.from, w.to), (truth.start, truth.end), "the window is the scenario's six months");
    let want = p.window(w);
    assert!(want.stoppages_closed > 0 && want.stoppages_open > 0 && want.rescues > 0, "{want:?}");
    let got = s.project_kpis(&p.id, w).await.unwrap().unwrap();
    assert_eq!(
        (got.elevators, got.runs, got.equipment_faults, got.fault_rate_per_10k),
        (want.elevators, want.runs, want.equipment_faults, want.fault_rate_per_10k),
        "runs and faults"
    );
    assert_eq!(
        (got.downtime.count, got.downtime.mean_minutes, got.downtime.open),
        (want.stoppages_closed, want.downtime_mean_minutes, want.stoppages_open),
        "stoppages"
    );
    assert_eq!(
        (got.rescue.count, got.rescue.mean_minutes, got.rescue.awaiting_arrival),
        (want.rescues, want.rescue_mean_minutes, want.awaiting_arrival),
        "rescues"
    );
}
