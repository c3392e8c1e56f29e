//! The ground truth of a scenario: the KPIs it generated per project and
//! window, counted by the generator as it decides what happens (a run, an
//! equipment fault that stops service for 47 minutes, a rescuer arriving
//! after 12) — not by replaying the events through the core's ledger — so a
//! store that miscounts what it ingested disagrees with it.
//!
//! `liftwatch-sim --ground-truth FILE` writes it as JSON (format in
//! docs/simulator.md).

use std::collections::BTreeMap;
use std::ops::AddAssign;

use chrono::{Days, NaiveDate};
use liftwatch_core::kpi::{KpiReport, Subject};
use liftwatch_core::protocol::DeviceCode;
use liftwatch_core::rollup::DayRollup;
use liftwatch_core::window::Window;
use serde::Serialize;

use crate::{Scenario, ScenarioError};

/// What the generator put into one elevator-day (or a sum of them): the
/// additive figures of the KPIs, attributed to the local day each incident
/// began on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Runs.
    pub runs: i64,
    /// Faults the generator caused as equipment faults (its external and
    /// usage faults are not among them).
    pub equipment_faults: i64,
    /// Equipment faults that stopped service and were cleared.
    pub stoppages_closed: i64,
    /// Their total duration, microseconds.
    pub downtime_us: i64,
    /// Equipment faults that stopped service and were left open.
    pub stoppages_open: i64,
    /// Entrapments (any cause).
    pub entrapments: i64,
    /// Entrapments with the rescuer's arrival.
    pub rescues: i64,
    /// Their total alarm-to-arrival time, microseconds.
    pub rescue_us: i64,
    /// Entrapments with no arrival.
    pub awaiting_arrival: i64,
}

impl AddAssign<&Tally> for Tally {
    fn add_assign(&mut self, o: &Tally) {
        self.runs += o.runs;
        self.equipment_faults += o.equipment_faults;
        self.stoppages_closed += o.stoppages_closed;
        self.downtime_us += o.downtime_us;
        self.stoppages_open += o.stoppages_open;
        self.entrapments += o.entrapments;
        self.rescues += o.rescues;
        self.rescue_us += o.rescue_us;
        self.awaiting_arrival += o.awaiting_arrival;
    }
}

/// The KPIs of one project over one window, as the service must answer
/// them (`GET /api/v1/projects/{id}/kpis`): the same rounding (fault rate to
/// 4 decimals, minutes to 2), plus the exact totals behind the means.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WindowTruth {
    /// First day.
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// Elevators of the project (all members for the whole scenario).
    pub elevators: usize,
    /// Runs.
    pub runs: i64,
    /// Equipment faults.
    pub equipment_faults: i64,
    /// `10000 × equipment_faults / runs`, 4 decimals; `null` with no runs.
    pub fault_rate_per_10k: Option<f64>,
    /// Equipment stoppages cleared.
    pub stoppages_closed: i64,
    /// Their total duration, microseconds.
    pub downtime_us: i64,
    /// Mean stoppage, minutes, 2 decimals; `null` with none.
    pub downtime_mean_minutes: Option<f64>,
    /// Equipment stoppages still open at the scenario's end.
    pub stoppages_open: i64,
    /// Entrapments.
    pub entrapments: i64,
    /// Rescues (entrapments with an arrival).
    pub rescues: i64,
    /// Their total alarm-to-arrival time, microseconds.
    pub rescue_us: i64,
    /// Mean alarm-to-arrival, minutes, 2 decimals; `null` with none.
    pub rescue_mean_minutes: Option<f64>,
    /// Entrapments with no arrival.
    pub awaiting_arrival: i64,
}

/// One project's elevators and what they generated, per local day.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectTruth {
    /// Project id (as `--print-project` and the demo register it).
    pub id: String,
    /// Its elevators.
    pub devices: Vec<DeviceCode>,
    /// What they generated, by local day.
    pub days: BTreeMap<NaiveDate, Tally>,
}

impl ProjectTruth {
    /// The KPIs over `w` (days outside the scenario count nothing).
    pub fn window(&self, w: Window) -> WindowTruth {
        let mut t = Tally::default();
        for (_, d) in self.days.range(w.from..=w.to) {
            t += d;
        }
        let r = KpiReport::new(Subject::Project(self.id.clone()), w, self.devices.len(), &rollup_of(&t), None);
        WindowTruth {
            from: w.from,
            to: w.to,
            elevators: self.devices.len(),
            runs: t.runs,
            equipment_faults: t.equipment_faults,
            fault_rate_per_10k: r.fault_rate_per_10k,
            stoppages_closed: t.stoppages_closed,
            downtime_us: t.downtime_us,
            downtime_mean_minutes: r.downtime.mean_minutes,
            stoppages_open: t.stoppages_open,
            entrapments: t.entrapments,
            rescues: t.rescues,
            rescue_us: t.rescue_us,
            rescue_mean_minutes: r.rescue.mean_minutes,
            awaiting_arrival: t.awaiting_arrival,
        }
    }
}

/// The rollup of a tally, for the core's rounding of KPIs.
fn rollup_of(t: &Tally) -> DayRollup {
    DayRollup {
        runs: t.runs,
        equipment_faults: t.equipment_faults,
        stoppages_closed: t.stoppages_closed,
        downtime_us: t.downtime_us,
        stoppages_open: t.stoppages_open,
        entrapments: t.entrapments,
        rescues: t.rescues,
        rescue_us: t.rescue_us,
        awaiting_arrival: t.awaiting_arrival,
        ..DayRollup::default()
    }
}

/// The ground truth of a whole scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct GroundTruth {
    /// First simulated day.
    pub start: NaiveDate,
    /// Last simulated day.
    pub end: NaiveDate,
    /// Per project.
    pub projects: Vec<ProjectTruth>,
}

impl GroundTruth {
    /// The windows the JSON reports: the scenario's days, the rolling
    /// 6 months at the day after its end (what `kpis` answers by default the
    /// next morning), and every calendar half-year it touches.
    pub fn windows(&self) -> Vec<Window> {
        let mut out = vec![Window { from: self.start, to: self.end }];
        if let Some(w) = self.end.succ_opt().and_then(|d| Window::rolling(d).ok()) {
            out.push(w);
        }
        let mut day = self.start;
        while day <= self.end {
            let half = Window::half_of(day);
            out.push(half);
            match half.to.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        let mut seen = Vec::new();
        out.retain(|w| {
            let new = !seen.contains(w);
            seen.push(*w);
            new
        });
        out
    }

    /// The document `--ground-truth` writes.
    pub fn to_json(&self) -> serde_json::Value {
        let windows = self.windows();
        serde_json::json!({
            "start": self.start,
            "end": self.end,
            "projects": self.projects.iter().map(|p| serde_json::json!({
                "id": p.id,
                "elevators": p.devices.iter().map(DeviceCode::as_str).collect::<Vec<_>>(),
                "windows": windows.iter().map(|w| p.window(*w)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

impl Scenario {
    /// Generates the whole scenario, counting what it generates: the ground
    /// truth the service's KPIs must equal once every event is ingested.
    pub fn ground_truth(&self) -> Result<GroundTruth, ScenarioError> {
        let projects = self.projects()?;
        let owner: Vec<usize> =
            projects.iter().enumerate().flat_map(|(p, (_, devs))| devs.iter().map(move |_| p)).collect();
        let mut days: Vec<BTreeMap<NaiveDate, Tally>> = vec![BTreeMap::new(); projects.len()];
        self.generate(|day, fleet| {
            for (device, (_, tally)) in fleet.iter().enumerate() {
                *days[owner[device]].entry(day).or_default() += tally;
            }
        })?;
        let end = self
            .start
            .checked_add_days(Days::new(u64::from(self.days.max(1) - 1)))
            .ok_or_else(|| ScenarioError("date out of range".into()))?;
        Ok(GroundTruth {
            start: self.start,
            end,
            projects: projects
                .into_iter()
                .zip(days)
                .map(|((id, devices), days)| ProjectTruth { id, devices, days })
                .collect(),
        })
    }
}
