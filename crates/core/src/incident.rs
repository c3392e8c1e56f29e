//! Incidents: a fault with its clearing, an entrapment with the rescuer's
//! arrival and the release, paired whatever order the events arrive in.
//!
//! Each record is a join-semilattice: observing an event (or merging two
//! partial records) takes the earliest start, the earliest clearing, the
//! earliest arrival. So the record does not depend on arrival order or on
//! duplicates, and two gateways that each saw one half of an incident build
//! the same record once the store merges them. A record *contributes* a
//! [`DayRollup`] on the day it began; stores apply `new − old` on change.

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::pilot::correction::{decide_correction, CorrectionOutcome, CorrectionRequest};
use crate::pilot::rescue::{rescue_micros, rescue_minutes};
use crate::protocol::{Body, Cause, DeviceCode, Event, FaultCode, Timestamp};
use crate::rollup::DayRollup;

/// The first `fault` event of an occurrence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultStart {
    /// When the fault was detected.
    pub ts: Timestamp,
    /// The event's seq (tie-break when a box sent two starts).
    pub seq: u64,
    /// Normalised fault code.
    pub code: FaultCode,
    /// Whether it stopped the elevator.
    pub stops_service: bool,
    /// The box's own cause, if sent.
    pub reported_cause: Option<Cause>,
}

/// A change of a fault's cause by a firm or a regulator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct CauseCorrection {
    /// When it was recorded.
    pub at: Timestamp,
    /// Who recorded it (`regulator`, or `firm:{id}`).
    pub by: String,
    /// Cause before.
    pub from: Cause,
    /// Cause after.
    pub to: Cause,
    /// Why (required, shown to regulators).
    pub reason: String,
}

/// Everything known about one fault occurrence `(device, fault_id)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// `None` while only a `fault_cleared` has arrived.
    pub start: Option<FaultStart>,
    /// Earliest `fault_cleared` time.
    pub cleared_at: Option<Timestamp>,
    /// Cause corrections, oldest first; the last one is in force.
    pub corrections: Vec<CauseCorrection>,
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Why a correction or arrival could not be recorded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    /// The fault's `fault` event has not been received.
    #[error("fault {0} has not been reported by the box (only its clearing, or nothing, was received)")]
    UnknownFault(String),
    /// The entrapment's alarm has not been received.
    #[error("entrapment {0} has not been reported by the box")]
    UnknownEntrapment(String),
    /// A correction with an empty reason.
    #[error("a cause correction needs a reason")]
    NoReason,
}

impl FaultRecord {
    /// The cause the box gave first, or the code's default.
    pub fn original_cause(&self) -> Option<Cause> {
        self.start.as_ref().map(|s| s.reported_cause.unwrap_or_else(|| s.code.default_cause()))
    }

    /// The cause in force: the latest correction, else the original cause.
    pub fn cause(&self) -> Option<Cause> {
        self.corrections.last().map(|c| c.to).or_else(|| self.original_cause())
    }

    /// Folds one `fault` or `fault_cleared` event in; other events are ignored.
    pub fn observe(&mut self, e: &Event) {
        match &e.body {
            Body::Fault { code, stops_service, cause, .. } => {
                let s = FaultStart {
                    ts: e.ts,
                    seq: e.seq,
                    code: code.clone(),
                    stops_service: *stops_service,
                    reported_cause: *cause,
                };
                self.start = Some(match self.start.take() {
                    Some(old) if (old.ts, old.seq) <= (s.ts, s.seq) => old,
                    _ => s,
                });
            }
            Body::FaultCleared { .. } => self.cleared_at = min_opt(self.cleared_at, Some(e.ts)),
            _ => {}
        }
    }

    /// Joins another partial record of the same fault into this one.
    pub fn merge(&mut self, o: &FaultRecord) {
        if let Some(s) = &o.start {
            let keep = matches!(&self.start, Some(old) if (old.ts, old.seq) <= (s.ts, s.seq));
            if !keep {
                self.start = Some(s.clone());
            }
        }
        self.cleared_at = min_opt(self.cleared_at, o.cleared_at);
        for c in &o.corrections {
            if !self.corrections.contains(c) {
                self.corrections.push(c.clone());
            }
        }
        self.corrections.sort_by_key(|c| c.at);
    }

    /// Records a cause correction as [`decide_correction`] decides it: every
    /// request with a reason is appended to the history, also one that
    /// repeats the cause in force; the outcome says whether the cause (and
    /// so the contribution) changed.
    pub fn correct(
        &mut self,
        fault_id: &str,
        to: Cause,
        by: &str,
        reason: &str,
        at: Timestamp,
    ) -> Result<CorrectionOutcome, IncidentError> {
        let req = CorrectionRequest { fault_id, to, by, reason, at };
        let o = decide_correction(self.cause(), &self.corrections, &req)?;
        self.corrections.push(o.entry.clone());
        Ok(o)
    }

    /// Whether this is an equipment-caused stoppage (counts in downtime).
    pub fn is_equipment_stoppage(&self) -> bool {
        matches!(&self.start, Some(s) if s.stops_service) && self.cause() == Some(Cause::Equipment)
    }

    /// What this fault adds to the rollup of the day it began (in `tz`).
    pub fn contribution(&self, tz: Tz) -> Option<(NaiveDate, DayRollup)> {
        let s = self.start.as_ref()?;
        let cause = self.cause()?;
        let mut r = DayRollup { faults: 1, ..Default::default() };
        *r.by_code.entry(rollup_code_key(s.code.as_str())).or_default().get_mut(cause) += 1;
        if self.original_cause() == Some(Cause::Equipment) {
            r.reported_equipment_faults = 1;
            r.reclassified_from_equipment = i64::from(cause != Cause::Equipment);
        }
        if cause == Cause::Equipment {
            r.equipment_faults = 1;
            if s.stops_service {
                match self.cleared_at {
                    Some(c) => {
                        r.stoppages_closed = 1;
                        r.downtime_us = (c.0 - s.ts.0).max(0);
                    }
                    None => r.stoppages_open = 1,
                }
            }
        }
        Some((s.ts.local_day(tz), r))
    }
}

/// Longest code kept as a rollup key (characters). Unknown codes may be of
/// any length; their rollup key is cut here so that it always fits an index
/// entry (PostgreSQL refuses btree entries over ~2.7 kB). The full code stays
/// on the event and the fault record.
pub const ROLLUP_CODE_MAX_CHARS: usize = 128;

/// The key a fault code is counted under in [`DayRollup::by_code`].
pub fn rollup_code_key(code: &str) -> String {
    match code.char_indices().nth(ROLLUP_CODE_MAX_CHARS) {
        Some((i, _)) => code[..i].to_owned(),
        None => code.to_owned(),
    }
}

/// The alarm of an entrapment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarm {
    /// When the alarm was received.
    pub ts: Timestamp,
    /// The event's seq.
    pub seq: u64,
    /// The fault that trapped them, if the box knows it.
    pub fault_id: Option<Box<str>>,
}

/// Everything known about one entrapment `(device, incident_id)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntrapmentRecord {
    /// `None` while only an arrival or release has arrived.
    pub alarm: Option<Alarm>,
    /// Earliest rescuer arrival (box or HTTP API).
    pub arrived_at: Option<Timestamp>,
    /// Earliest release.
    pub released_at: Option<Timestamp>,
}

impl EntrapmentRecord {
    /// Folds one `entrapment`, `rescue_arrived` or `released` event in.
    pub fn observe(&mut self, e: &Event) {
        match &e.body {
            Body::Entrapment { fault_id, .. } => {
                let a = Alarm { ts: e.ts, seq: e.seq, fault_id: fault_id.clone() };
                self.alarm = Some(match self.alarm.take() {
                    Some(old) if (old.ts, old.seq) <= (a.ts, a.seq) => old,
                    _ => a,
                });
            }
            Body::RescueArrived { .. } => self.arrived_at = min_opt(self.arrived_at, Some(e.ts)),
            Body::Released { .. } => self.released_at = min_opt(self.released_at, Some(e.ts)),
            _ => {}
        }
    }

    /// An arrival reported through the API; the earliest report counts.
    pub fn report_arrival(&mut self, at: Timestamp) {
        self.arrived_at = min_opt(self.arrived_at, Some(at));
    }

    /// Joins another partial record of the same entrapment.
    pub fn merge(&mut self, o: &EntrapmentRecord) {
        if let Some(a) = &o.alarm {
            let keep = matches!(&self.alarm, Some(old) if (old.ts, old.seq) <= (a.ts, a.seq));
            if !keep {
                self.alarm = Some(a.clone());
            }
        }
        self.arrived_at = min_opt(self.arrived_at, o.arrived_at);
        self.released_at = min_opt(self.released_at, o.released_at);
    }

    /// Alarm to the earliest arrival, minutes to 2 decimals, when both are
    /// known ([`rescue_minutes`]).
    pub fn rescue_minutes(&self) -> Option<f64> {
        Some(rescue_minutes(self.alarm.as_ref()?.ts, self.arrived_at?))
    }

    /// What this entrapment adds to the rollup of its alarm day.
    pub fn contribution(&self, tz: Tz) -> Option<(NaiveDate, DayRollup)> {
        let a = self.alarm.as_ref()?;
        let mut r = DayRollup { entrapments: 1, ..Default::default() };
        match self.arrived_at {
            Some(t) => {
                r.rescues = 1;
                r.rescue_us = rescue_micros(a.ts, t);
            }
            None => r.awaiting_arrival = 1,
        }
        Some((a.ts.local_day(tz), r))
    }
}

/// Which incident an event belongs to, if any.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IncidentKey {
    /// `(device, fault_id)`.
    Fault(DeviceCode, Box<str>),
    /// `(device, incident_id)`.
    Entrapment(DeviceCode, Box<str>),
}

impl IncidentKey {
    /// The incident an event updates; `None` for runs, heartbeats, counters, visits.
    pub fn of(e: &Event) -> Option<IncidentKey> {
        match &e.body {
            Body::Fault { fault_id, .. } | Body::FaultCleared { fault_id } => {
                Some(IncidentKey::Fault(e.device, fault_id.clone()))
            }
            Body::Entrapment { incident_id, .. }
            | Body::RescueArrived { incident_id }
            | Body::Released { incident_id } => Some(IncidentKey::Entrapment(e.device, incident_id.clone())),
            _ => None,
        }
    }
}

/// The rollup changes that turn `old`'s contribution into `new`'s: at most
/// two rows (the start day can move when an earlier duplicate start arrives).
pub fn contribution_delta(
    old: Option<(NaiveDate, DayRollup)>,
    new: Option<(NaiveDate, DayRollup)>,
) -> Vec<(NaiveDate, DayRollup)> {
    let mut out: Vec<(NaiveDate, DayRollup)> = Vec::with_capacity(2);
    if let Some((d, r)) = new {
        out.push((d, r));
    }
    if let Some((d, r)) = old {
        match out.iter_mut().find(|(x, _)| *x == d) {
            Some((_, acc)) => *acc -= &r,
            None => out.push((d, -r)),
        }
    }
    out.retain(|(_, r)| !r.is_zero());
    out
}

/// What every incident record (fault, entrapment) offers the one change path
/// ([`change_incident`]): fold an event in, and say what it adds to the
/// rollups.
pub trait Incident: Default {
    /// Folds one event of this incident in (order-independent).
    fn observe(&mut self, e: &Event);
    /// What the record adds to the rollup of the local day it began.
    fn contribution(&self, tz: Tz) -> Option<(NaiveDate, DayRollup)>;
    /// The local day the incident began (fault start, entrapment alarm):
    /// stored beside the record so no backend needs a time-zone function.
    fn local_start_day(&self, tz: Tz) -> Option<NaiveDate>;
}

impl Incident for FaultRecord {
    fn observe(&mut self, e: &Event) {
        FaultRecord::observe(self, e)
    }
    fn contribution(&self, tz: Tz) -> Option<(NaiveDate, DayRollup)> {
        FaultRecord::contribution(self, tz)
    }
    fn local_start_day(&self, tz: Tz) -> Option<NaiveDate> {
        self.start.as_ref().map(|s| s.ts.local_day(tz))
    }
}

impl Incident for EntrapmentRecord {
    fn observe(&mut self, e: &Event) {
        EntrapmentRecord::observe(self, e)
    }
    fn contribution(&self, tz: Tz) -> Option<(NaiveDate, DayRollup)> {
        EntrapmentRecord::contribution(self, tz)
    }
    fn local_start_day(&self, tz: Tz) -> Option<NaiveDate> {
        self.alarm.as_ref().map(|a| a.ts.local_day(tz))
    }
}

/// The one path by which an incident changes — events folded in by ingest,
/// a cause correction, an arrival reported over HTTP — in the reference
/// [`crate::ledger::Ledger`] and in every store adapter alike: applies
/// `change` to the record and returns its result with the rollup rows the
/// change adds (at most two: the start day can move).
pub fn change_incident<R: Incident, T>(
    rec: &mut R,
    tz: Tz,
    change: impl FnOnce(&mut R) -> T,
) -> (T, Vec<(NaiveDate, DayRollup)>) {
    let old = rec.contribution(tz);
    let out = change(rec);
    (out, contribution_delta(old, rec.contribution(tz)))
}
