//! Incidents: a fault with its clearing, an entrapment with the rescuer's
//! arrival and the release, paired whatever order the events arrive in.
//!
//! Each record is a join-semilattice: observing an event (or merging two
//! partial records) takes the earliest start and keeps a bounded set of the
//! reported clearings / arrivals ([`join_times`]); the clearing or arrival
//! that counts is derived from the start and that set: the earliest one **at
//! or after** the start. One stamped before its start (a box clock, or a firm
//! reporting an arrival before the box's alarm arrived) never counts — it is
//! kept for audit ([`FaultRecord::early_clearing`],
//! [`EntrapmentRecord::early_arrival`]). A fault stops service when any of
//! its reports says so (OR). So the record does not depend on arrival order
//! or on duplicates, and two gateways that each saw one half of an incident
//! build the same record once the store merges them. A record *contributes* a
//! [`DayRollup`] on the day it began; stores apply `new − old` on change.

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::pilot::correction::{decide_correction, is_firm, CorrectionOutcome, CorrectionRequest};
use crate::pilot::rescue::{rescue_micros, rescue_minutes};
use crate::protocol::{Body, Cause, DeviceCode, Event, FaultCode, Timestamp};
use crate::rollup::DayRollup;

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// The first `fault` event of an occurrence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultStart {
    /// When the fault was detected.
    pub ts: Timestamp,
    /// The event's seq (tie-break when a box sent two starts).
    pub seq: u64,
    /// Normalised fault code.
    pub code: FaultCode,
    /// Whether it stopped the elevator: the OR over every `fault` report of
    /// the occurrence (not only the first).
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
    /// The clearing that counts: the earliest `fault_cleared` at or after
    /// the start (while the start is unknown, the earliest received).
    /// Derived from `start` and `clearings`.
    pub cleared_at: Option<Timestamp>,
    /// The `fault_cleared` times received ([`join_times`]: sorted, bounded).
    #[serde(default)]
    pub clearings: Vec<Timestamp>,
    /// Cause corrections, oldest first; the last one is in force.
    pub corrections: Vec<CauseCorrection>,
}

/// How many of the earliest and how many of the latest reported clearing or
/// arrival times a record keeps: at most `2 × TIMES_KEPT_EACH_END` entries.
pub const TIMES_KEPT_EACH_END: usize = 8;

/// Joins `add` into the sorted time set `set`, keeping the
/// [`TIMES_KEPT_EACH_END`] earliest and the as many latest distinct times.
/// The join of "k smallest ∪ k largest" is exact (associative, commutative,
/// idempotent), so records stay order-independent. The bound's only
/// consequence: when more than 8 times precede the start *and* more than 8
/// follow the one that should count, that one can be lost and a later one
/// counts instead (a longer duration — never a shorter one).
pub fn join_times(set: &mut Vec<Timestamp>, add: impl IntoIterator<Item = Timestamp>) {
    set.extend(add);
    set.sort_unstable();
    set.dedup();
    let k = TIMES_KEPT_EACH_END;
    if set.len() > 2 * k {
        set.drain(k..set.len() - k);
    }
}

/// The time that counts against `start`: the earliest of `set` at or after
/// it; with no start yet, the earliest of `set` (a candidate, counting nowhere).
fn counting(set: &[Timestamp], start: Option<Timestamp>) -> Option<Timestamp> {
    match start {
        Some(s) => set.iter().copied().find(|&t| t >= s),
        None => set.first().copied(),
    }
}

/// The earliest of `set` strictly before `start` (rejected, kept for audit).
fn early(set: &[Timestamp], start: Option<Timestamp>) -> Option<Timestamp> {
    let s = start?;
    set.first().copied().filter(|&t| t < s)
}

/// Joins two starts: the earliest `(ts, seq)` wins; `stops_service` is the
/// OR of both (a fault stops service if any of its reports says so).
fn join_start(old: Option<FaultStart>, s: FaultStart) -> FaultStart {
    match old {
        Some(old) if (old.ts, old.seq) <= (s.ts, s.seq) => {
            FaultStart { stops_service: old.stops_service || s.stops_service, ..old }
        }
        Some(old) => FaultStart { stops_service: old.stops_service || s.stops_service, ..s },
        None => s,
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
    /// A firm asked to change a cause a regulator has corrected: the
    /// regulator's correction stands until a regulator changes it
    /// ([`decide_correction`]).
    #[error(
        "the cause of fault {0} was corrected by a regulator; a firm cannot override it (only a regulator can change it)"
    )]
    RegulatorCorrectionStands(String),
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
                self.start = Some(join_start(self.start.take(), s));
            }
            Body::FaultCleared { .. } => join_times(&mut self.clearings, [e.ts]),
            _ => return,
        }
        self.derive();
    }

    /// Recomputes [`Self::cleared_at`] from the start and the clearings.
    fn derive(&mut self) {
        self.cleared_at = counting(&self.clearings, self.start.as_ref().map(|s| s.ts));
    }

    /// The earliest clearing stamped before the start: rejected (it does not
    /// close the stoppage), kept for audit.
    pub fn early_clearing(&self) -> Option<Timestamp> {
        early(&self.clearings, self.start.as_ref().map(|s| s.ts))
    }

    /// Joins another partial record of the same fault into this one.
    pub fn merge(&mut self, o: &FaultRecord) {
        if let Some(s) = &o.start {
            self.start = Some(join_start(self.start.take(), s.clone()));
        }
        join_times(&mut self.clearings, o.clearings.iter().copied());
        self.derive();
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
            // Reclassified away by the firm: only when the correction in
            // force (the last one) is a firm's. A regulator's correction is
            // not the firm's doing (issue 9 item 3).
            let by_firm = self.corrections.last().is_some_and(|c| is_firm(&c.by));
            r.reclassified_from_equipment = i64::from(cause != Cause::Equipment && by_firm);
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
    /// The arrival that counts: the earliest rescuer arrival (box or HTTP
    /// API) at or after the alarm (while the alarm is unknown, the earliest
    /// received). Derived from `alarm` and `arrivals`.
    pub arrived_at: Option<Timestamp>,
    /// The arrival times received ([`join_times`]: sorted, bounded).
    #[serde(default)]
    pub arrivals: Vec<Timestamp>,
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
            Body::RescueArrived { .. } => join_times(&mut self.arrivals, [e.ts]),
            Body::Released { .. } => self.released_at = min_opt(self.released_at, Some(e.ts)),
            _ => return,
        }
        self.derive();
    }

    /// An arrival reported through the API; the earliest report at or after
    /// the alarm counts (one before it is kept, flagged, and never counts).
    pub fn report_arrival(&mut self, at: Timestamp) {
        join_times(&mut self.arrivals, [at]);
        self.derive();
    }

    /// Recomputes [`Self::arrived_at`] from the alarm and the arrivals.
    fn derive(&mut self) {
        self.arrived_at = counting(&self.arrivals, self.alarm.as_ref().map(|a| a.ts));
    }

    /// The local day the entrapment belongs to, for who may see and change
    /// it ([`crate::tenancy`]): its alarm's; before the alarm arrives, its
    /// first reported arrival's, else its release's.
    pub fn local_day(&self, tz: Tz) -> Option<NaiveDate> {
        let first = self.alarm.as_ref().map(|a| a.ts).or(self.arrivals.first().copied()).or(self.released_at);
        first.map(|t| t.local_day(tz))
    }

    /// The earliest arrival stamped before the alarm: rejected (it is not
    /// the rescue), kept for audit.
    pub fn early_arrival(&self) -> Option<Timestamp> {
        early(&self.arrivals, self.alarm.as_ref().map(|a| a.ts))
    }

    /// Joins another partial record of the same entrapment.
    pub fn merge(&mut self, o: &EntrapmentRecord) {
        if let Some(a) = &o.alarm {
            let keep = matches!(&self.alarm, Some(old) if (old.ts, old.seq) <= (a.ts, a.seq));
            if !keep {
                self.alarm = Some(a.clone());
            }
        }
        join_times(&mut self.arrivals, o.arrivals.iter().copied());
        self.released_at = min_opt(self.released_at, o.released_at);
        self.derive();
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::protocol::{parse_rfc3339, MICROS_PER_MINUTE};
    use chrono_tz::Asia::Shanghai;

    fn t(s: &str) -> Timestamp {
        parse_rfc3339(s).unwrap().0
    }
    fn ev(seq: u64, ts: Timestamp, body: Body) -> Event {
        Event { device: DeviceCode::parse("31103302002018100001").unwrap(), seq, ts, ts_offset: 8 * 3600, body }
    }
    fn alarm(ts: Timestamp) -> Event {
        ev(1, ts, Body::Entrapment { incident_id: "e".into(), fault_id: None })
    }
    fn arrived(seq: u64, ts: Timestamp) -> Event {
        ev(seq, ts, Body::RescueArrived { incident_id: "e".into() })
    }
    fn fault(seq: u64, ts: Timestamp, stops: bool) -> Event {
        ev(
            seq,
            ts,
            Body::Fault {
                fault_id: "f".into(),
                code: FaultCode::parse("brake_fault"),
                stops_service: stops,
                cause: None,
            },
        )
    }
    fn cleared(seq: u64, ts: Timestamp) -> Event {
        ev(seq, ts, Body::FaultCleared { fault_id: "f".into() })
    }
    fn rescue(r: &EntrapmentRecord) -> (i64, i64, i64) {
        let (_, d) = r.contribution(Shanghai).unwrap();
        (d.rescues, d.rescue_us, d.awaiting_arrival)
    }
    fn downtime(r: &FaultRecord) -> (i64, i64, i64) {
        let (_, d) = r.contribution(Shanghai).unwrap();
        (d.stoppages_closed, d.downtime_us, d.stoppages_open)
    }
    const A: &str = "2026-11-20T10:00:00+08:00";

    #[test]
    fn an_arrival_at_the_alarm_counts_one_microsecond_before_does_not() {
        let a = t(A);
        let mut r = EntrapmentRecord::default();
        r.observe(&alarm(a));
        r.observe(&arrived(2, a));
        assert_eq!(rescue(&r), (1, 0, 0), "arrival = alarm is a (0 min) rescue");
        let mut r = EntrapmentRecord::default();
        r.observe(&alarm(a));
        r.observe(&arrived(2, Timestamp(a.0 - 1)));
        assert_eq!(rescue(&r), (0, 0, 1), "1 µs before the alarm: still awaiting arrival");
        assert_eq!((r.arrived_at, r.early_arrival()), (None, Some(Timestamp(a.0 - 1))), "kept, flagged");
        assert_eq!(r.rescue_minutes(), None);
    }

    #[test]
    fn an_api_arrival_before_the_box_alarm_never_counts_in_either_order() {
        let a = t(A);
        let early = t("2026-11-20T09:59:00+08:00");
        let real = t("2026-11-20T10:12:00+08:00");
        let orders: [&[u8]; 6] = [&[0, 1, 2], &[0, 2, 1], &[1, 0, 2], &[1, 2, 0], &[2, 0, 1], &[2, 1, 0]];
        let mut results = Vec::new();
        for o in orders {
            let mut r = EntrapmentRecord::default();
            for step in o {
                match step {
                    0 => r.report_arrival(early),
                    1 => r.observe(&alarm(a)),
                    _ => r.observe(&arrived(2, real)),
                }
            }
            assert_eq!(rescue(&r), (1, 12 * MICROS_PER_MINUTE, 0), "order {o:?}");
            assert_eq!((r.arrived_at, r.early_arrival()), (Some(real), Some(early)), "order {o:?}");
            results.push(r);
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]), "the same record in every order");
        // Only the early API arrival and the alarm: awaiting, not a 0-minute rescue.
        let mut r = EntrapmentRecord::default();
        r.report_arrival(early);
        r.observe(&alarm(a));
        assert_eq!(rescue(&r), (0, 0, 1));
        // Merging partial records in either order gives the same record.
        let (mut x, mut y) = (EntrapmentRecord::default(), EntrapmentRecord::default());
        x.report_arrival(early);
        x.observe(&arrived(2, real));
        y.observe(&alarm(a));
        let (mut xy, mut yx) = (x.clone(), y.clone());
        xy.merge(&y);
        yx.merge(&x);
        assert_eq!(xy, yx);
        assert_eq!(xy, results[0]);
    }

    #[test]
    fn a_clearing_before_the_start_is_ignored_and_a_later_real_one_closes_it() {
        let s = t(A);
        let early = Timestamp(s.0 - 1);
        let real = t("2026-11-20T10:45:00+08:00");
        let mut r = FaultRecord::default();
        r.observe(&cleared(1, early));
        r.observe(&fault(2, s, true));
        assert_eq!(downtime(&r), (0, 0, 1), "still open, not closed at 0 min");
        assert_eq!((r.cleared_at, r.early_clearing()), (None, Some(early)));
        r.observe(&cleared(3, real));
        assert_eq!(downtime(&r), (1, 45 * MICROS_PER_MINUTE, 0), "the real clearing closes it");
        let mut o = FaultRecord::default();
        o.observe(&cleared(3, real));
        o.observe(&fault(2, s, true));
        o.observe(&cleared(1, early));
        assert_eq!(o, r, "order-independent");
        let mut at = FaultRecord::default();
        at.observe(&fault(2, s, true));
        at.observe(&cleared(3, s));
        assert_eq!(downtime(&at), (1, 0, 0), "a clearing at the start counts");
    }

    #[test]
    fn stops_service_is_the_or_of_the_reports_in_both_orders() {
        let s = t(A);
        let later = t("2026-11-20T10:01:00+08:00");
        for (first, second) in
            [(fault(1, s, false), fault(2, later, true)), (fault(2, later, true), fault(1, s, false))]
        {
            let mut r = FaultRecord::default();
            r.observe(&first);
            r.observe(&second);
            assert!(r.is_equipment_stoppage());
            assert_eq!(r.start.as_ref().map(|s| (s.ts, s.stops_service)), Some((s, true)));
            assert_eq!(downtime(&r), (0, 0, 1));
            let (mut x, mut y) = (FaultRecord::default(), FaultRecord::default());
            x.observe(&first);
            y.observe(&second);
            x.merge(&y);
            assert_eq!(x, r, "merge gives the same");
        }
    }

    #[test]
    fn join_times_keeps_both_ends_and_is_order_independent() {
        let ts: Vec<Timestamp> = (0..40).map(|i| Timestamp(i * 1000)).collect();
        let mut fwd = Vec::new();
        join_times(&mut fwd, ts.iter().copied());
        let mut rev = Vec::new();
        for x in ts.iter().rev() {
            join_times(&mut rev, [*x]);
        }
        assert_eq!(fwd, rev);
        assert_eq!(fwd.len(), 2 * TIMES_KEPT_EACH_END);
        assert_eq!((fwd[0], fwd[fwd.len() - 1]), (ts[0], ts[39]));
    }
}
