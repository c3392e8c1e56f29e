//! Fleet events for tests, from the simulator (`liftwatch-sim`) rather than
//! a generator of their own: runs, faults (some stopping service, some left
//! open), entrapments with rescue, power failures, visits and odometer
//! readings, deterministic for a seed.
#![allow(clippy::unwrap_used)]

use chrono::{Days, NaiveDate};
use liftwatch_core::protocol::{DeviceCode, Event};
use liftwatch_sim::{Rng, Scenario};

/// Most runs per elevator-day of [`fleet_events`].
pub const RUNS_PER_DAY: usize = 300;

/// The scenario [`fleet_events`] plays: faults at 40 per 10,000 runs (about
/// one per 250 runs, so a few thousand runs always include stoppages),
/// visits weekly, starting 2026-09-01 plus `seed % 30` days (so two seeds
/// make two streams on different days), Asia/Shanghai.
pub fn scenario(runs_per_device: usize, seed: u64) -> Scenario {
    let per_day = runs_per_device.clamp(1, RUNS_PER_DAY);
    let start = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap().checked_add_days(Days::new(seed % 30)).unwrap();
    Scenario {
        elevators: 0,
        start,
        days: runs_per_device.div_ceil(per_day).max(1) as u32,
        runs_per_day: per_day as u32,
        faults_per_10k: 40.0,
        visit_every_days: 7,
        seed,
        ..Scenario::default()
    }
}

/// Every event of `devices` (registered or not: any codes) for at least
/// `runs_per_device` runs each ([`scenario`]), device after device, each in
/// time order. `seq` starts at `seed × 1,000,000`, so streams of different
/// seeds for the same devices are distinct events.
pub fn fleet_events(devices: &[DeviceCode], runs_per_device: usize, seed: u64) -> Vec<Event> {
    let s = scenario(runs_per_device, seed);
    let mut out = Vec::new();
    for (i, d) in devices.iter().enumerate() {
        let mut rng = Rng::new(seed ^ ((i as u64 + 1) << 20));
        let mut seq = seed * 1_000_000;
        for k in 0..s.days {
            let day = s.start.checked_add_days(Days::new(u64::from(k))).unwrap();
            out.extend(s.day_events(*d, day, &mut seq, &mut rng).unwrap());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::devs;
    use liftwatch_core::protocol::Body;

    #[test]
    fn streams_have_the_runs_asked_for_and_faults_and_distinct_seeds_do_not_collide() {
        let d = devs(2);
        let a = fleet_events(&d, 1500, 7);
        let runs = a.iter().filter(|e| matches!(e.body, Body::Run { .. })).count();
        assert_eq!(runs, 2 * 1500);
        assert!(a.iter().any(|e| matches!(e.body, Body::Fault { stops_service: true, .. })));
        assert_eq!(a, fleet_events(&d, 1500, 7), "deterministic");
        let b = fleet_events(&d, 300, 8);
        assert!(a.iter().all(|x| b.iter().all(|y| (x.device, x.seq) != (y.device, y.seq))));
    }
}
