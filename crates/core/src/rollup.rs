//! Per-elevator daily rollups: the additive figures every KPI is computed from.
//!
//! A rollup row is a sum of *contributions*: each new run adds `runs: 1` on the
//! day it started; each incident (fault, entrapment) contributes its current
//! state on the day it began, and when the incident changes (cleared, rescuer
//! arrived, cause corrected) the store adds `new − old`. Because rows only
//! ever receive additions, any partition of the work (several gateways, late
//! batches, replays) sums to the same totals, and a 6-month KPI is a sum over
//! ~183 rows per elevator.

use std::collections::BTreeMap;
use std::ops::{AddAssign, Neg, SubAssign};

use serde::{Deserialize, Serialize};

use crate::protocol::Cause;

/// Faults of one code that day, split by effective cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CauseCounts {
    /// Cause `equipment`.
    pub equipment: i64,
    /// Cause `external`.
    pub external: i64,
    /// Cause `usage`.
    pub usage: i64,
    /// Cause `unknown`.
    pub unknown: i64,
}

impl CauseCounts {
    /// The counter for one cause.
    pub fn get_mut(&mut self, c: Cause) -> &mut i64 {
        match c {
            Cause::Equipment => &mut self.equipment,
            Cause::External => &mut self.external,
            Cause::Usage => &mut self.usage,
            Cause::Unknown => &mut self.unknown,
        }
    }

    fn is_zero(&self) -> bool {
        *self == CauseCounts::default()
    }
}

/// The figures of one elevator on one local day. Every field is a sum, so
/// rollups add (`+=`) associatively and commutatively, and subtract.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRollup {
    /// `run` events that started this day (fault-rate denominator).
    pub runs: i64,
    /// Faults that began this day, any cause.
    pub faults: i64,
    /// Of those, faults whose effective cause is `equipment` (fault-rate numerator).
    pub equipment_faults: i64,
    /// Faults whose first cause (box's, or the code's default) was `equipment`.
    pub reported_equipment_faults: i64,
    /// Of those, faults whose effective cause is no longer `equipment`.
    pub reclassified_from_equipment: i64,
    /// Equipment stoppages begun this day and cleared (by now).
    pub stoppages_closed: i64,
    /// Their total duration, microseconds.
    pub downtime_us: i64,
    /// Equipment stoppages begun this day and not cleared yet.
    pub stoppages_open: i64,
    /// Entrapments alarmed this day, any cause.
    pub entrapments: i64,
    /// Of those, with a known rescuer arrival.
    pub rescues: i64,
    /// Total alarm-to-arrival time of those, microseconds.
    pub rescue_us: i64,
    /// Entrapments alarmed this day with no arrival yet.
    pub awaiting_arrival: i64,
    /// Faults by (normalised) code and effective cause.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_code: BTreeMap<String, CauseCounts>,
}

macro_rules! each_scalar {
    ($m:ident) => {
        $m!(
            runs,
            faults,
            equipment_faults,
            reported_equipment_faults,
            reclassified_from_equipment,
            stoppages_closed,
            downtime_us,
            stoppages_open,
            entrapments,
            rescues,
            rescue_us,
            awaiting_arrival
        )
    };
}

impl DayRollup {
    /// One run.
    pub fn run() -> Self {
        DayRollup { runs: 1, ..Default::default() }
    }

    /// True when every figure is zero (the row can be dropped).
    pub fn is_zero(&self) -> bool {
        macro_rules! z { ($($f:ident),*) => { true $(&& self.$f == 0)* } }
        each_scalar!(z) && self.by_code.values().all(CauseCounts::is_zero)
    }

    /// The scalar figures in a fixed order (for SQL adapters and tests).
    pub fn scalars(&self) -> [i64; 12] {
        macro_rules! a { ($($f:ident),*) => { [$(self.$f),*] } }
        each_scalar!(a)
    }

    /// Names of [`DayRollup::scalars`], matching the SQL column names.
    pub const SCALAR_NAMES: [&'static str; 12] = [
        "runs",
        "faults",
        "equipment_faults",
        "reported_equipment_faults",
        "reclassified_from_equipment",
        "stoppages_closed",
        "downtime_us",
        "stoppages_open",
        "entrapments",
        "rescues",
        "rescue_us",
        "awaiting_arrival",
    ];

    /// Builds a rollup from [`DayRollup::scalars`] order (no `by_code`).
    pub fn from_scalars(v: [i64; 12]) -> Self {
        let [runs, faults, equipment_faults, reported_equipment_faults, reclassified_from_equipment, stoppages_closed, downtime_us, stoppages_open, entrapments, rescues, rescue_us, awaiting_arrival] =
            v;
        DayRollup {
            runs,
            faults,
            equipment_faults,
            reported_equipment_faults,
            reclassified_from_equipment,
            stoppages_closed,
            downtime_us,
            stoppages_open,
            entrapments,
            rescues,
            rescue_us,
            awaiting_arrival,
            by_code: BTreeMap::new(),
        }
    }
}

impl AddAssign<&DayRollup> for DayRollup {
    fn add_assign(&mut self, o: &DayRollup) {
        macro_rules! add { ($($f:ident),*) => { $(self.$f += o.$f;)* } }
        each_scalar!(add);
        for (code, c) in &o.by_code {
            let e = self.by_code.entry(code.clone()).or_default();
            e.equipment += c.equipment;
            e.external += c.external;
            e.usage += c.usage;
            e.unknown += c.unknown;
        }
        self.by_code.retain(|_, c| !c.is_zero());
    }
}

impl Neg for DayRollup {
    type Output = DayRollup;
    fn neg(mut self) -> DayRollup {
        macro_rules! neg { ($($f:ident),*) => { $(self.$f = -self.$f;)* } }
        each_scalar!(neg);
        for c in self.by_code.values_mut() {
            *c = CauseCounts { equipment: -c.equipment, external: -c.external, usage: -c.usage, unknown: -c.unknown };
        }
        self
    }
}

impl SubAssign<&DayRollup> for DayRollup {
    fn sub_assign(&mut self, o: &DayRollup) {
        *self += &-(o.clone());
    }
}

impl<'a> std::iter::Sum<&'a DayRollup> for DayRollup {
    fn sum<I: Iterator<Item = &'a DayRollup>>(iter: I) -> DayRollup {
        let mut acc = DayRollup::default();
        for r in iter {
            acc += r;
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(k: i64) -> DayRollup {
        let mut r = DayRollup::from_scalars([k, 2 * k, k, k, 0, 1, 60 * k, 0, k, k, 30 * k, 0]);
        r.by_code.entry("door_open_fault".into()).or_default().equipment = k;
        r
    }

    #[test]
    fn addition_is_commutative_and_subtraction_undoes_it() {
        let (a, b) = (sample(3), sample(5));
        let mut ab = a.clone();
        ab += &b;
        let mut ba = b.clone();
        ba += &a;
        assert_eq!(ab, ba);
        ab -= &b;
        assert_eq!(ab, a);
        ab -= &a;
        assert!(ab.is_zero());
        assert!(ab.by_code.is_empty(), "zero code counts are pruned");
    }

    #[test]
    fn scalars_round_trip() {
        let a = sample(7);
        let mut b = DayRollup::from_scalars(a.scalars());
        b.by_code = a.by_code.clone();
        assert_eq!(a, b);
    }
}
