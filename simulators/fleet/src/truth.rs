//! The ground truth of a scenario: the KPIs it generated per project and
//! window, counted by the generator as it decides what happens (a run, an
//! equipment fault that stops service for 47 minutes, a rescuer arriving
//! after 12) — not by replaying the events through the core's ledger — so a
//! store that miscounts what it ingested disagrees with it.
//!
//! Box faults that change what the service can know are part of it: a
//! skewed box's events count on the days of its clock (the service can only
//! go by `ts`), and a silent box's lost days are kept apart — the figures
//! are what was sent (what the service must answer), `generated` what
//! happened, `completeness` what the odometer readings that were sent let
//! the service see of the difference (docs/kpis.md §9).
//!
//! `liftwatch-sim --ground-truth FILE` writes it as JSON (format in
//! docs/simulator.md).

use std::collections::BTreeMap;
use std::ops::AddAssign;

use chrono::{Days, NaiveDate};
use liftwatch_core::completeness::{Completeness, SpanSums};
use liftwatch_core::kpi::{KpiReport, Subject};
use liftwatch_core::protocol::DeviceCode;
use liftwatch_core::registry::ProjectMode;
use liftwatch_core::rollup::DayRollup;
use liftwatch_core::window::Window;
use serde::Serialize;

use crate::faults::BoxFaults;
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
    /// What the odometer readings that were sent show of the runs
    /// (`completeness` of the KPI answer): a silent box's lost runs are
    /// counted by its odometer but never reported.
    pub completeness: Completeness,
    /// What was generated on the window's days, sent or not (equal to the
    /// figures above when no box was silent).
    pub generated: Tally,
}

/// Two consecutive odometer readings of an elevator that were sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Local day (box clock) of the earlier reading.
    pub from: NaiveDate,
    /// Local day of the later one.
    pub to: NaiveDate,
    /// Runs sent between them.
    pub runs_reported: i64,
    /// Runs the odometer counted between them.
    pub runs_by_odometer: i64,
}

/// A box that went silent: what it generated and never sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SilentBox {
    /// The elevator.
    pub device_code: String,
    /// First silent local day.
    pub from: NaiveDate,
    /// Last silent local day.
    pub to: NaiveDate,
    /// Events generated on those days and never sent (the seq numbers the
    /// service sees missing, when the box is heard again after).
    pub events_withheld: i64,
    /// Runs among them (counted by the odometer, never reported).
    pub runs_withheld: i64,
}

/// One project's elevators and what they generated, per local day.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectTruth {
    /// Project id (as `--print-project` and the demo register it).
    pub id: String,
    /// Its mode.
    pub mode: ProjectMode,
    /// Its elevators.
    pub devices: Vec<DeviceCode>,
    /// First day of membership (the scenario's start): a skewed box's
    /// events stamped before it are not the project's.
    pub since: NaiveDate,
    /// What they sent, by local day of their clocks.
    pub days: BTreeMap<NaiveDate, Tally>,
    /// What they generated, sent or not, by local day of their clocks.
    pub generated: BTreeMap<NaiveDate, Tally>,
    /// Consecutive odometer readings sent, per elevator.
    pub spans: Vec<Span>,
    /// Boxes that went silent.
    pub silent: Vec<SilentBox>,
    /// Boxes whose clock is off, and by how many seconds.
    pub skewed: Vec<(DeviceCode, i64)>,
}

/// Sum of `days` over the window from `since`.
fn sum(days: &BTreeMap<NaiveDate, Tally>, from: NaiveDate, to: NaiveDate) -> Tally {
    let mut t = Tally::default();
    if from <= to {
        for (_, d) in days.range(from..=to) {
            t += d;
        }
    }
    t
}

impl ProjectTruth {
    /// The KPIs over `w` (days outside the scenario count nothing).
    pub fn window(&self, w: Window) -> WindowTruth {
        let from = w.from.max(self.since);
        let t = sum(&self.days, from, w.to);
        let mut spans = SpanSums::default();
        for s in self.spans.iter().filter(|s| s.from >= from && s.to <= w.to && s.from <= w.to && s.to >= from) {
            spans +=
                SpanSums { pairs: 1, resets: 0, runs_reported: s.runs_reported, runs_by_odometer: s.runs_by_odometer };
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
            completeness: Completeness::new(spans),
            generated: sum(&self.generated, from, w.to),
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
                "mode": p.mode.as_str(),
                "elevators": p.devices.iter().map(DeviceCode::as_str).collect::<Vec<_>>(),
                "silent_boxes": p.silent,
                "skewed_boxes": p.skewed.iter().map(|(d, s)| serde_json::json!({
                    "device_code": d.as_str(), "seconds": s,
                })).collect::<Vec<_>>(),
                "windows": windows.iter().map(|w| p.window(*w)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}

impl Scenario {
    /// Generates the whole scenario, counting what it generates: the ground
    /// truth the service's KPIs must equal once every event is ingested.
    pub fn ground_truth(&self) -> Result<GroundTruth, ScenarioError> {
        self.ground_truth_with(&BoxFaults::default())
    }

    /// [`Scenario::ground_truth`] with the box faults of `faults` that
    /// change what is sent (clock skew, silent boxes; the others change how
    /// events travel, not which).
    pub fn ground_truth_with(&self, faults: &BoxFaults) -> Result<GroundTruth, ScenarioError> {
        let projects = self.projects()?;
        let plans = self.plans(faults)?;
        let n = projects.len();
        let (mut sent, mut generated) = (vec![BTreeMap::new(); n], vec![BTreeMap::new(); n]);
        let mut spans: Vec<Vec<Span>> = vec![Vec::new(); n];
        // Per box: the day of its last reading sent, runs since, what it withheld.
        let mut last: Vec<Option<NaiveDate>> = vec![None; plans.len()];
        let mut pending = vec![0i64; plans.len()];
        let mut withheld = vec![(0i64, 0i64); plans.len()];
        self.generate(faults, |_, fleet| {
            for (i, b) in fleet.iter().enumerate() {
                let p = plans[i].project;
                for (day, t) in &b.tally {
                    *generated[p].entry(*day).or_default() += t;
                    if !b.silent {
                        *sent[p].entry(*day).or_default() += t;
                    }
                }
                pending[i] += b.runs;
                if b.silent {
                    withheld[i].0 += b.events.len() as i64;
                    withheld[i].1 += b.runs;
                    continue;
                }
                if let Some(from) = last[i] {
                    let s = Span { from, to: b.counter_day, runs_reported: b.runs, runs_by_odometer: pending[i] };
                    spans[p].push(s);
                }
                last[i] = Some(b.counter_day);
                pending[i] = 0;
            }
        })?;
        let end = self
            .start
            .checked_add_days(Days::new(u64::from(self.days.max(1) - 1)))
            .ok_or_else(|| ScenarioError("date out of range".into()))?;
        let mut out: Vec<ProjectTruth> = projects
            .into_iter()
            .zip(sent.into_iter().zip(generated).zip(spans))
            .map(|((id, devices), ((days, generated), spans))| ProjectTruth {
                id,
                mode: ProjectMode::Iot,
                devices,
                since: self.start,
                days,
                generated,
                spans,
                silent: Vec::new(),
                skewed: Vec::new(),
            })
            .collect();
        for (i, plan) in plans.iter().enumerate() {
            let p = &mut out[plan.project];
            p.mode = plan.mode;
            if plan.skew_us != 0 {
                p.skewed.push((plan.device, plan.skew_us / 1_000_000));
            }
            if let Some(r) = &plan.silent {
                let day = |k: u32| self.start.checked_add_days(Days::new(u64::from(k))).unwrap_or(self.start);
                p.silent.push(SilentBox {
                    device_code: plan.device.as_str().to_owned(),
                    from: day(r.start),
                    to: day(r.end - 1),
                    events_withheld: withheld[i].0,
                    runs_withheld: withheld[i].1,
                });
            }
        }
        Ok(GroundTruth { start: self.start, end, projects: out })
    }
}
