//! Behaviour models of the generator: building types (how many runs a day
//! and when), lognormal durations, and which faults are not the
//! equipment's. Every one is optional in a scenario; without them the
//! generator keeps its original flat model (same events for the same seed).

use liftwatch_core::protocol::{DeviceCode, MICROS_PER_MINUTE};
use serde::Deserialize;

use crate::Rng;

/// Shares of the building types of the fleet (`buildings = { residential =
/// 0.7, commercial = 0.3 }`); they need not sum to 1 (they are weights).
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Buildings {
    /// Residential: `runs_per_day` runs, morning and evening peaks.
    pub residential: f64,
    /// Commercial: 750–1,500 runs a day (fixed per elevator), peaks at
    /// opening, lunch and closing.
    pub commercial: f64,
}

/// The type of an elevator's building.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Building {
    /// The original model: `runs_per_day` runs uniform over 06:00–23:00.
    Flat,
    /// Homes: morning and evening peaks.
    Residential,
    /// Offices and shops: opening, lunch and closing peaks, many more runs.
    Commercial,
}

/// A peak of traffic: its share of the day's runs, centre and spread (minutes after midnight).
struct Peak {
    share: f64,
    centre: f64,
    sd: f64,
}

/// Residential: leaving for work and school, coming home.
const RESIDENTIAL: [Peak; 2] =
    [Peak { share: 0.3, centre: 7.75 * 60.0, sd: 45.0 }, Peak { share: 0.35, centre: 18.5 * 60.0, sd: 75.0 }];

/// Commercial: opening, lunch, closing.
const COMMERCIAL: [Peak; 3] = [
    Peak { share: 0.3, centre: 8.5 * 60.0, sd: 30.0 },
    Peak { share: 0.15, centre: 12.5 * 60.0, sd: 40.0 },
    Peak { share: 0.25, centre: 17.75 * 60.0, sd: 40.0 },
];

impl Building {
    /// The building of `device` in a fleet of this mix (by a hash of its
    /// code, so the same elevator is the same building in every run).
    pub fn of(mix: Option<&Buildings>, device: &DeviceCode) -> Building {
        let Some(m) = mix else { return Building::Flat };
        let total = m.residential + m.commercial;
        if total <= 0.0 {
            return Building::Flat;
        }
        let x = f64::from(mixed_hash(device) % 10_000) / 10_000.0;
        if x < m.commercial / total {
            Building::Commercial
        } else {
            Building::Residential
        }
    }

    /// Runs a day of `device`: `runs_per_day`, or for a commercial building
    /// a fixed number in 750–1,500 of its own.
    pub fn runs_per_day(self, runs_per_day: u32, device: &DeviceCode) -> u32 {
        match self {
            Building::Commercial => 750 + mixed_hash(device).rotate_left(13) % 751,
            _ => runs_per_day,
        }
    }

    /// Start of a run, microseconds after local midnight.
    pub fn run_time(self, rng: &mut Rng) -> i64 {
        let (peaks, open, close): (&[Peak], f64, f64) = match self {
            Building::Flat => {
                let span = 17 * 60 * MICROS_PER_MINUTE;
                return 6 * 60 * MICROS_PER_MINUTE + (rng.unit() * span as f64) as i64;
            }
            Building::Residential => (&RESIDENTIAL, 5.5 * 60.0, 23.0 * 60.0),
            Building::Commercial => (&COMMERCIAL, 7.0 * 60.0, 22.0 * 60.0),
        };
        let mut pick = rng.unit();
        let mut minute = None;
        for p in peaks {
            if pick < p.share {
                minute = Some(p.centre + p.sd * normal(rng));
                break;
            }
            pick -= p.share;
        }
        let minute = minute.unwrap_or_else(|| open + rng.unit() * (close - open)).clamp(open, close);
        (minute * MICROS_PER_MINUTE as f64) as i64
    }
}

/// A lognormal duration in minutes (`{ median = 12.0, sigma = 0.45 }`):
/// most near the median, a long tail above it.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogNormal {
    /// Median, minutes.
    pub median: f64,
    /// Standard deviation of the logarithm.
    pub sigma: f64,
}

impl LogNormal {
    /// A duration, microseconds, whole seconds, from 1 minute to 1 day.
    pub fn sample_us(&self, rng: &mut Rng) -> i64 {
        let minutes = (self.median * (self.sigma * normal(rng)).exp()).clamp(1.0, 24.0 * 60.0);
        (minutes * 60.0).round() as i64 * 1_000_000
    }
}

/// Standard normal (Box–Muller).
fn normal(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - rng.unit();
    let u2 = rng.unit();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// [`device_hash`] with its bits mixed (murmur3's finaliser): consecutive
/// codes land far apart.
fn mixed_hash(d: &DeviceCode) -> u32 {
    let mut h = device_hash(d);
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// A stable hash of a device code.
pub(crate) fn device_hash(d: &DeviceCode) -> u32 {
    d.as_str().bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
}
