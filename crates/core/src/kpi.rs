//! The mandated KPIs (A1 §II.(一)) from daily rollups: fault rate per 10,000
//! runs, mean downtime, mean rescue time, for one elevator or a project over
//! its membership history.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::protocol::{DeviceCode, MICROS_PER_MINUTE};
use crate::rollup::DayRollup;
use crate::window::Window;

/// An elevator's membership of a project: from `since` to `until`, inclusive
/// (`None` = still a member).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The elevator.
    pub device: DeviceCode,
    /// First day it belonged.
    pub since: NaiveDate,
    /// Last day it belonged, if it left.
    pub until: Option<NaiveDate>,
}

impl Membership {
    /// Whether the elevator belonged on `day`.
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.since <= day && self.until.is_none_or(|u| day <= u)
    }
}

/// The firm's committed targets (at least these three; A1 §II.(一)).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Commitment {
    /// Equipment faults per 10,000 runs, at most.
    pub fault_rate_per_10k: f64,
    /// Mean downtime, minutes, at most.
    pub downtime_minutes: f64,
    /// Mean rescue time, minutes, at most.
    pub rescue_minutes: f64,
}

/// Sums of rollups over a window for a set of elevators.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Aggregate {
    /// Elevators that belonged on at least one day of the window.
    pub elevators: usize,
    /// Pooled figures.
    pub totals: DayRollup,
    /// The same per elevator (those with any figure).
    pub per_elevator: BTreeMap<DeviceCode, DayRollup>,
}

/// Sums the rollup rows that fall in `window` on days their elevator belonged
/// to the project (per `memberships`, which may hold several intervals per
/// elevator). Rows of other elevators or days are ignored, so callers may
/// pass a superset.
pub fn aggregate<'a>(
    window: &Window,
    memberships: &[Membership],
    rows: impl IntoIterator<Item = (DeviceCode, NaiveDate, &'a DayRollup)>,
) -> Aggregate {
    let mut by_dev: BTreeMap<DeviceCode, Vec<&Membership>> = BTreeMap::new();
    for m in memberships {
        by_dev.entry(m.device).or_default().push(m);
    }
    let elevators: BTreeSet<DeviceCode> =
        memberships.iter().filter(|m| window.clip(m.since, m.until).is_some()).map(|m| m.device).collect();
    let mut agg = Aggregate { elevators: elevators.len(), ..Default::default() };
    for (dev, day, r) in rows {
        if !window.contains(day) {
            continue;
        }
        let Some(ms) = by_dev.get(&dev) else { continue };
        if ms.iter().any(|m| m.covers(day)) {
            agg.totals += r;
            *agg.per_elevator.entry(dev).or_default() += r;
        }
    }
    agg
}

/// Sums one elevator's rows over a window (no membership filter).
pub fn aggregate_elevator<'a>(
    window: &Window,
    device: DeviceCode,
    rows: impl IntoIterator<Item = (DeviceCode, NaiveDate, &'a DayRollup)>,
) -> DayRollup {
    rows.into_iter().filter(|(d, day, _)| *d == device && window.contains(*day)).map(|(_, _, r)| r).sum()
}

/// What the KPIs are about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A pilot project, by id.
    Project(String),
    /// One elevator, by device code.
    Elevator(String),
}

/// Downtime figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Downtime {
    /// Equipment stoppages begun in the window and cleared.
    pub count: i64,
    /// Their mean duration, minutes; `null` over none.
    pub mean_minutes: Option<f64>,
    /// Equipment stoppages begun in the window, not cleared yet.
    pub open: i64,
    /// When the oldest of those began (their age), if any; filled by the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_open_since: Option<crate::protocol::Timestamp>,
}

/// Rescue figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rescue {
    /// Entrapments alarmed in the window with a known arrival.
    pub count: i64,
    /// Their mean alarm-to-arrival time, minutes; `null` over none.
    pub mean_minutes: Option<f64>,
    /// Entrapments alarmed in the window with no arrival yet.
    pub awaiting_arrival: i64,
    /// When the oldest of those was alarmed, if any; filled by the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_awaiting_since: Option<crate::protocol::Timestamp>,
}

/// Whether each KPI meets its commitment; `null` when the KPI is undefined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meets {
    /// Fault rate ≤ committed.
    pub fault_rate: Option<bool>,
    /// Mean downtime ≤ committed.
    pub downtime: Option<bool>,
    /// Mean rescue time ≤ committed.
    pub rescue: Option<bool>,
}

/// The KPI answer, in the shape of api-v1.md ("KPIs").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KpiReport {
    /// `{"project": id}` or `{"elevator": code}`, flattened.
    #[serde(flatten)]
    pub subject: Subject,
    /// The window.
    pub window: Window,
    /// Elevators that belonged on at least one day of the window.
    pub elevators: usize,
    /// Runs.
    pub runs: i64,
    /// Equipment-caused faults.
    pub equipment_faults: i64,
    /// `10000 × equipment_faults / runs`, 4 decimals; `null` with no runs.
    pub fault_rate_per_10k: Option<f64>,
    /// Downtime.
    pub downtime: Downtime,
    /// Rescue.
    pub rescue: Rescue,
    /// The commitment, if the subject has one.
    pub commitment: Option<Commitment>,
    /// Achievement against the commitment; `null` without one.
    pub meets_commitment: Option<Meets>,
    /// How complete the runs are by the odometers, over the spans between
    /// counters in the window; filled by the store (docs/kpis.md §9).
    #[serde(default)]
    pub completeness: crate::completeness::Completeness,
    /// The device's telemetry (elevator answers); filled by the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<crate::completeness::DeviceTelemetry>,
}

fn round(x: f64, decimals: i32) -> f64 {
    let p = 10f64.powi(decimals);
    (x * p).round() / p
}

/// Fault rate per 10,000 runs, unrounded; `None` with no runs.
pub fn fault_rate_per_10k(equipment_faults: i64, runs: i64) -> Option<f64> {
    (runs > 0).then(|| 10_000.0 * equipment_faults as f64 / runs as f64)
}

/// Mean of a total over a count, in minutes, unrounded; `None` over none.
pub fn mean_minutes(total_us: i64, count: i64) -> Option<f64> {
    (count > 0).then(|| total_us as f64 / count as f64 / MICROS_PER_MINUTE as f64)
}

impl KpiReport {
    /// Builds the report from pooled totals. Rounding happens here, once:
    /// fault rate to 4 decimals, minutes to 2; comparisons with the
    /// commitment use the unrounded values.
    pub fn new(
        subject: Subject,
        window: Window,
        elevators: usize,
        t: &DayRollup,
        commitment: Option<Commitment>,
    ) -> KpiReport {
        let rate = fault_rate_per_10k(t.equipment_faults, t.runs);
        let down = mean_minutes(t.downtime_us, t.stoppages_closed);
        let resc = mean_minutes(t.rescue_us, t.rescues);
        let meets = commitment.map(|c| Meets {
            fault_rate: rate.map(|r| r <= c.fault_rate_per_10k),
            downtime: down.map(|m| m <= c.downtime_minutes),
            rescue: resc.map(|m| m <= c.rescue_minutes),
        });
        KpiReport {
            subject,
            window,
            elevators,
            runs: t.runs,
            equipment_faults: t.equipment_faults,
            fault_rate_per_10k: rate.map(|r| round(r, 4)),
            downtime: Downtime {
                count: t.stoppages_closed,
                mean_minutes: down.map(|m| round(m, 2)),
                open: t.stoppages_open,
                oldest_open_since: None,
            },
            rescue: Rescue {
                count: t.rescues,
                mean_minutes: resc.map(|m| round(m, 2)),
                awaiting_arrival: t.awaiting_arrival,
                oldest_awaiting_since: None,
            },
            commitment,
            meets_commitment: meets,
            completeness: Default::default(),
            telemetry: None,
        }
    }
}

/// Share of faults first attributed to `equipment` that were reclassified
/// away from it (regulators watch it for gaming); `None` with no such faults.
pub fn reclassified_share(t: &DayRollup) -> Option<f64> {
    (t.reported_equipment_faults > 0).then(|| t.reclassified_from_equipment as f64 / t.reported_equipment_faults as f64)
}
