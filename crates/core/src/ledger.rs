//! The reference implementation of what a store does with events: drop
//! duplicates by identity, keep incidents, keep daily rollups additively.
//!
//! The SQL adapters do the same thing inside one transaction per batch, and
//! the store conformance tests compare them with this ledger. It is also the
//! in-memory model the property tests check against batch recomputation.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use chrono_tz::Tz;

use crate::completeness::{readings_from, DeviceTelemetry, Reading, SeqStats, SpanSums};
use crate::incident::{change_incident, EntrapmentRecord, FaultRecord, IncidentError, IncidentKey};
use crate::pilot::CorrectionOutcome;
use crate::protocol::{Body, Cause, DeviceCode, Event, EventId, Timestamp};
use crate::rollup::DayRollup;

/// Whether an event was new to the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// First time seen: counted.
    New,
    /// Same identity seen before: changed nothing.
    Duplicate,
}

/// Events, incidents and rollups of a set of elevators, in memory.
#[derive(Clone, Debug)]
pub struct Ledger {
    tz: Tz,
    seen: HashSet<EventId>,
    /// Fault records by `(device, fault_id)`.
    pub faults: BTreeMap<(DeviceCode, Box<str>), FaultRecord>,
    /// Entrapment records by `(device, incident_id)`.
    pub entrapments: BTreeMap<(DeviceCode, Box<str>), EntrapmentRecord>,
    /// Rollups by `(device, local day)`; rows that sum to zero are removed.
    pub rollups: BTreeMap<(DeviceCode, NaiveDate), DayRollup>,
    /// Distinct runs by `(device, start)`: how many started then.
    pub runs_at: BTreeMap<(DeviceCode, Timestamp), i64>,
    /// Counter readings `(device, ts, seq) → runs_total`.
    pub counters: BTreeMap<(DeviceCode, Timestamp, u64), u64>,
    /// Seq numbers and last event time per device.
    pub seq: BTreeMap<DeviceCode, SeqStats>,
}

impl Ledger {
    /// An empty ledger attributing events to local days in `tz`.
    pub fn new(tz: Tz) -> Self {
        Ledger {
            tz,
            seen: HashSet::new(),
            faults: BTreeMap::new(),
            entrapments: BTreeMap::new(),
            rollups: BTreeMap::new(),
            runs_at: BTreeMap::new(),
            counters: BTreeMap::new(),
            seq: BTreeMap::new(),
        }
    }

    /// The zone of the local days.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Number of distinct events stored.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True when no event was stored.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn add(&mut self, device: DeviceCode, rows: Vec<(NaiveDate, DayRollup)>) {
        for (day, r) in rows {
            let e = self.rollups.entry((device, day)).or_default();
            *e += &r;
            if e.is_zero() {
                self.rollups.remove(&(device, day));
            }
        }
    }

    /// Stores one event; a duplicate changes nothing.
    pub fn apply(&mut self, e: &Event) -> Applied {
        if !self.seen.insert(e.id()) {
            return Applied::Duplicate;
        }
        let tz = self.tz;
        let one = SeqStats::one(e.seq, e.ts);
        self.seq.entry(e.device).and_modify(|s| s.merge(&one)).or_insert(one);
        match &e.body {
            Body::Run { .. } => *self.runs_at.entry((e.device, e.ts)).or_default() += 1,
            Body::Counter { runs_total } => {
                self.counters.insert((e.device, e.ts, e.seq), *runs_total);
            }
            _ => {}
        }
        match IncidentKey::of(e) {
            Some(IncidentKey::Fault(d, id)) => {
                let rec = self.faults.entry((d, id)).or_default();
                let ((), delta) = change_incident(rec, tz, |r| r.observe(e));
                self.add(d, delta);
            }
            Some(IncidentKey::Entrapment(d, id)) => {
                let rec = self.entrapments.entry((d, id)).or_default();
                let ((), delta) = change_incident(rec, tz, |r| r.observe(e));
                self.add(d, delta);
            }
            None => {
                if let Body::Run { .. } = e.body {
                    self.add(e.device, vec![(e.ts.local_day(tz), DayRollup::run())]);
                }
            }
        }
        Applied::New
    }

    /// Corrects a fault's cause ([`crate::pilot::decide_correction`]): the
    /// request is kept in the history; the rollups follow at once (they move
    /// when the cause, or whether a firm decided it, changed).
    pub fn correct_cause(
        &mut self,
        device: DeviceCode,
        fault_id: &str,
        to: Cause,
        by: &str,
        reason: &str,
        at: Timestamp,
    ) -> Result<CorrectionOutcome, IncidentError> {
        let tz = self.tz;
        let rec = self
            .faults
            .get_mut(&(device, fault_id.into()))
            .ok_or_else(|| IncidentError::UnknownFault(fault_id.to_owned()))?;
        let (o, delta) = change_incident(rec, tz, |r| r.correct(fault_id, to, by, reason, at));
        let o = o?;
        // The rollups follow the contribution: also when the cause did not
        // change but who decided it did (a regulator confirming a firm's
        // reclassification takes it out of the firm's share).
        self.add(device, delta);
        Ok(o)
    }

    /// Records a rescuer's arrival reported through the API. Allowed before
    /// the alarm arrives (it pairs when the alarm comes).
    pub fn report_arrival(&mut self, device: DeviceCode, incident_id: &str, at: Timestamp) {
        let tz = self.tz;
        let rec = self.entrapments.entry((device, incident_id.into())).or_default();
        let ((), delta) = change_incident(rec, tz, |r| r.report_arrival(at));
        self.add(device, delta);
    }

    /// A device's counter readings with their spans, recomputed in one pass
    /// from the distinct runs and counters ([`readings_from`]).
    pub fn readings(&self, device: DeviceCode) -> Vec<Reading> {
        let counters = self.counters.range((device, Timestamp(i64::MIN), 0)..=(device, Timestamp(i64::MAX), u64::MAX));
        readings_from(counters.map(|((_, t, s), n)| (*t, *s, *n)), self.tz, |a, b| {
            if a >= b {
                return 0;
            }
            let lo = std::ops::Bound::Excluded((device, a));
            let hi = std::ops::Bound::Included((device, b));
            self.runs_at.range((lo, hi)).map(|(_, n)| n).sum()
        })
    }

    /// Every device's readings, as `(device, reading)`, by device.
    pub fn all_readings(&self) -> Vec<(DeviceCode, Reading)> {
        let devices: std::collections::BTreeSet<DeviceCode> = self.counters.keys().map(|(d, _, _)| *d).collect();
        devices.into_iter().flat_map(|d| self.readings(d).into_iter().map(move |r| (d, r))).collect()
    }

    /// A device's telemetry (`None` when nothing of it was received).
    pub fn telemetry(&self, device: DeviceCode) -> Option<DeviceTelemetry> {
        let s = self.seq.get(&device)?;
        let mut spans = SpanSums::default();
        for r in self.readings(device) {
            spans += SpanSums::of(&r);
        }
        Some(DeviceTelemetry::new(s, spans))
    }

    /// The rollup rows as `(device, day, rollup)`.
    pub fn rows(&self) -> impl Iterator<Item = (DeviceCode, NaiveDate, &DayRollup)> {
        self.rollups.iter().map(|((d, day), r)| (*d, *day, r))
    }
}
