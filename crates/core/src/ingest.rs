//! Pure ingest planning: what a batch of MQTT messages changes in a store.
//!
//! A store adapter ingests a batch in ONE transaction in three steps, and
//! only the middle one needs the database's answer:
//! 1. [`sort_batch`]: the batch's dead letters (rejected parts, unknown
//!    devices) and its distinct events of registered devices, in identity
//!    order (the adapter resolves device codes to its own keys `K`);
//! 2. the adapter inserts the events by identity and learns which are new —
//!    duplicates stop here, so a redelivered message changes nothing;
//! 3. [`plan_changes`] groups the new events into runs per elevator-day and
//!    the incidents they touch; the adapter loads (and locks) those incident
//!    rows, [`merge_incidents`] folds the events in through the one incident
//!    change path ([`crate::incident::change_incident`]) and adds the rollup
//!    deltas; the adapter writes the incident rows and adds the rollup rows;
//! 4. telemetry ([`crate::completeness`]): the adapter adds each elevator's
//!    [`SeqStats`] to its telemetry row (which also locks the elevator's
//!    counter readings until commit), loads the readings around the batch's
//!    runs and counters ([`reading_bounds`]), [`plan_readings`] inserts the
//!    new counters and says which spans to count from the events table
//!    (bounded to one elevator and one span), and [`finish_readings`] adds
//!    the new runs to the spans that contain them and gives the rows to write.
//!
//! So the adapter only loads and writes; every decision is made here, once,
//! for every backend, and [`crate::ledger::Ledger`] checks it.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use chrono_tz::Tz;

use crate::completeness::{span_start, Reading, ReadingKey, SeqStats, SpanSums};
use crate::incident::{change_incident, Incident};
use crate::protocol::{parse_topic, Body, Decoded, DeviceCode, Event, Invalid, Kind, Timestamp};
use crate::rollup::DayRollup;

/// One MQTT message as received, decoded but not yet stored.
#[derive(Clone, Debug)]
pub struct Inbound {
    /// The topic, without any deployment prefix (`lift/v1/{code}/events`).
    pub topic: String,
    /// The raw payload (kept for dead letters).
    pub payload: Vec<u8>,
    /// When the gateway received it.
    pub received_at: Timestamp,
    /// What the protocol decoder made of it.
    pub decoded: Decoded,
}

/// What one committed batch did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Events new to the store (counted).
    pub new_events: u64,
    /// Events already stored (identity seen before): changed nothing.
    pub duplicates: u64,
    /// New events by protocol kind, in the order of `Kind::ALL`.
    pub new_by_kind: [u64; Kind::ALL.len()],
    /// Reason codes of the dead letters written.
    pub dead_letters: Vec<&'static str>,
}

impl IngestReport {
    /// Adds another report into this one.
    pub fn merge(&mut self, o: &IngestReport) {
        self.new_events += o.new_events;
        self.duplicates += o.duplicates;
        for (a, b) in self.new_by_kind.iter_mut().zip(o.new_by_kind) {
            *a += b;
        }
        self.dead_letters.extend_from_slice(&o.dead_letters);
    }
}

/// A dead letter to write: the raw part that was refused and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetterRow<'a> {
    /// When the message was received.
    pub received_at: Timestamp,
    /// Its topic.
    pub topic: &'a str,
    /// The device of the topic, when the topic names one.
    pub device: Option<DeviceCode>,
    /// The machine code of the reason ([`Invalid::code`]).
    pub code: &'static str,
    /// The reason, for a person.
    pub reason: String,
    /// The refused bytes: the whole payload, or the one refused array element.
    pub payload: Cow<'a, [u8]>,
}

/// A batch sorted into what to refuse and what to insert (step 1).
#[derive(Debug)]
pub struct Sorted<'a, K> {
    /// Dead letters, in batch order.
    pub dead: Vec<DeadLetterRow<'a>>,
    /// Distinct events of registered devices by identity `(key, seq, ts µs)`.
    pub events: BTreeMap<(K, i64, i64), &'a Event>,
    /// Events of registered devices delivered (duplicates inside the batch
    /// included), so that `delivered - new` are the duplicates.
    pub delivered: u64,
}

/// The device codes a batch names (for the adapter to resolve).
pub fn devices(batch: &[Inbound]) -> BTreeSet<DeviceCode> {
    batch.iter().filter_map(|m| parse_topic(&m.topic).ok()).collect()
}

/// Step 1: sorts a batch. `key` maps a registered device to the adapter's key
/// (`None`: unknown device — its whole message is a dead letter, unless the
/// message was refused whole anyway).
pub fn sort_batch<'a, K: Ord + Copy>(batch: &'a [Inbound], key: impl Fn(DeviceCode) -> Option<K>) -> Sorted<'a, K> {
    let mut out = Sorted { dead: Vec::new(), events: BTreeMap::new(), delivered: 0 };
    for m in batch {
        let device = parse_topic(&m.topic).ok();
        let known = device.and_then(&key);
        if let (Some(d), None) = (device, known) {
            if !m.decoded.events.is_empty() || m.decoded.rejects.iter().all(|r| r.index.is_some()) {
                let why = Invalid::UnknownDevice(d.to_string());
                out.dead.push(DeadLetterRow {
                    received_at: m.received_at,
                    topic: &m.topic,
                    device: Some(d),
                    code: why.code(),
                    reason: why.to_string(),
                    payload: Cow::Borrowed(&m.payload),
                });
                continue;
            }
        }
        for r in &m.decoded.rejects {
            out.dead.push(DeadLetterRow {
                received_at: m.received_at,
                topic: &m.topic,
                device,
                code: r.reason.code(),
                reason: r.reason.to_string(),
                payload: r.raw.as_ref().map_or(Cow::Borrowed(&m.payload[..]), |s| Cow::Borrowed(s.as_bytes())),
            });
        }
        if let Some(k) = known {
            for e in &m.decoded.events {
                out.delivered += 1;
                out.events.entry((k, e.seq as i64, e.ts.0)).or_insert(e);
            }
        }
    }
    out
}

/// What the events new to the store change (step 3).
#[derive(Debug)]
pub struct Changes<'a, K> {
    /// New events by protocol kind, in the order of `Kind::ALL`.
    pub new_by_kind: [u64; Kind::ALL.len()],
    /// Rollup deltas by `(key, local day)`: runs now, incident deltas after
    /// [`merge_incidents`].
    pub rollups: BTreeMap<(K, NaiveDate), DayRollup>,
    /// New events by fault `(key, fault_id)`.
    pub faults: BTreeMap<(K, &'a str), Vec<&'a Event>>,
    /// New events by entrapment `(key, incident_id)`.
    pub entrapments: BTreeMap<(K, &'a str), Vec<&'a Event>>,
    /// Seq numbers and last event time of the new events, per elevator.
    pub seq: BTreeMap<K, SeqStats>,
    /// Start times of the new runs, per elevator.
    pub runs_at: BTreeMap<K, Vec<Timestamp>>,
    /// New counters `(ts, seq, runs_total)`, per elevator.
    pub counters: BTreeMap<K, Vec<(Timestamp, u64, u64)>>,
}

/// Step 3a: groups the events new to the store.
pub fn plan_changes<'a, K: Ord + Copy>(new: &[(K, &'a Event)], tz: Tz) -> Changes<'a, K> {
    let mut c = Changes {
        new_by_kind: [0; Kind::ALL.len()],
        rollups: BTreeMap::new(),
        faults: BTreeMap::new(),
        entrapments: BTreeMap::new(),
        seq: BTreeMap::new(),
        runs_at: BTreeMap::new(),
        counters: BTreeMap::new(),
    };
    for (k, e) in new {
        c.new_by_kind[e.body.kind() as usize] += 1;
        let one = SeqStats::one(e.seq, e.ts);
        c.seq.entry(*k).and_modify(|s| s.merge(&one)).or_insert(one);
        match &e.body {
            Body::Run { .. } => {
                c.rollups.entry((*k, e.ts.local_day(tz))).or_default().runs += 1;
                c.runs_at.entry(*k).or_default().push(e.ts);
            }
            Body::Counter { runs_total } => c.counters.entry(*k).or_default().push((e.ts, e.seq, *runs_total)),
            Body::Fault { fault_id, .. } | Body::FaultCleared { fault_id } => {
                c.faults.entry((*k, &**fault_id)).or_default().push(e)
            }
            Body::Entrapment { incident_id, .. }
            | Body::RescueArrived { incident_id }
            | Body::Released { incident_id } => c.entrapments.entry((*k, &**incident_id)).or_default().push(e),
            _ => {}
        }
    }
    c
}

/// Step 3b: folds the new events of each incident into its stored record
/// (`loaded`: the rows the adapter read, a default record for a new
/// incident) and adds each change's rollup delta to `rollups`. Returns the
/// records to write back, in `loaded`'s order.
pub fn merge_incidents<K: Ord + Copy, R: Incident>(
    loaded: Vec<((K, String), R)>,
    events: &BTreeMap<(K, &str), Vec<&Event>>,
    tz: Tz,
    rollups: &mut BTreeMap<(K, NaiveDate), DayRollup>,
) -> Vec<((K, String), R)> {
    loaded
        .into_iter()
        .map(|(key, mut rec)| {
            let evs = events.get(&(key.0, key.1.as_str()));
            let ((), delta) = change_incident(&mut rec, tz, |r| evs.into_iter().flatten().for_each(|e| r.observe(e)));
            add_deltas(rollups, key.0, delta);
            (key, rec)
        })
        .collect()
}

/// Adds rollup rows of one elevator into a batch's deltas.
pub fn add_deltas<K: Ord + Copy>(
    rollups: &mut BTreeMap<(K, NaiveDate), DayRollup>,
    key: K,
    rows: Vec<(NaiveDate, DayRollup)>,
) {
    for (day, d) in rows {
        *rollups.entry((key, day)).or_default() += &d;
    }
}

/// Step 4a: the time range of each elevator's new runs and counters. The
/// adapter loads the elevator's readings with `lo ≤ ts ≤ hi`, plus the last
/// one before `lo` and the first one after `hi`: a contiguous stretch of the
/// series that holds every reading the batch can touch.
pub fn reading_bounds<K: Ord + Copy>(c: &Changes<'_, K>) -> Vec<(K, Timestamp, Timestamp)> {
    let mut b: BTreeMap<K, (Timestamp, Timestamp)> = BTreeMap::new();
    let times = c.runs_at.iter().flat_map(|(k, v)| v.iter().map(move |t| (*k, *t)));
    let times = times.chain(c.counters.iter().flat_map(|(k, v)| v.iter().map(move |(t, _, _)| (*k, *t))));
    for (k, t) in times {
        let e = b.entry(k).or_insert((t, t));
        e.0 = e.0.min(t);
        e.1 = e.1.max(t);
    }
    b.into_iter().map(|(k, (lo, hi))| (k, lo, hi)).collect()
}

/// The readings of a batch being planned (step 4b → 4c).
#[derive(Debug)]
pub struct ReadingPlan<K> {
    series: BTreeMap<K, BTreeMap<ReadingKey, Reading>>,
    old: BTreeMap<(K, ReadingKey), SpanSums>,
    firsts: Vec<(K, ReadingKey)>,
    /// Spans to count from the events table, `(key, reading, a, b)`: the
    /// `run` events of that elevator with `a < ts ≤ b`. The adapter answers
    /// with one count per entry, in this order.
    pub counts: Vec<(K, ReadingKey, Timestamp, Timestamp)>,
}

/// Step 4b: inserts the batch's new counters into the loaded readings
/// (`loaded`: what [`reading_bounds`] asked for, locked). A new counter
/// opens a span from its predecessor and cuts the span of its successor:
/// both are counted again from the events table (which already holds this
/// batch's runs), so the figure does not depend on whether the runs of a
/// span arrived before or after the counters that bound it.
pub fn plan_readings<K: Ord + Copy>(loaded: Vec<(K, Reading)>, c: &Changes<'_, K>, tz: Tz) -> ReadingPlan<K> {
    let mut plan =
        ReadingPlan { series: BTreeMap::new(), old: BTreeMap::new(), firsts: Vec::new(), counts: Vec::new() };
    for (k, r) in loaded {
        plan.old.insert((k, r.key()), SpanSums::of(&r));
        plan.series.entry(k).or_default().insert(r.key(), r);
    }
    for (k, counters) in &c.counters {
        let series = plan.series.entry(*k).or_default();
        let mut recount = Vec::new();
        for (ts, seq, runs_total) in counters {
            let r = Reading {
                ts: *ts,
                seq: *seq,
                runs_total: *runs_total,
                day: ts.local_day(tz),
                runs_in_span: 0,
                prev: None,
            };
            series.insert(r.key(), r);
            recount.push((*ts, *seq));
        }
        for key in recount.clone() {
            if let Some((next, _)) = series.range((std::ops::Bound::Excluded(key), std::ops::Bound::Unbounded)).next() {
                recount.push(*next);
            }
        }
        recount.sort_unstable();
        recount.dedup();
        for key in recount {
            let pred = series.range(..key).next_back().map(|(_, p)| p.clone());
            let Some(r) = series.get_mut(&key) else { continue };
            r.prev = span_start(pred.as_ref(), r.runs_total);
            r.runs_in_span = 0;
            match pred {
                Some(p) => plan.counts.push((*k, key, p.ts, r.ts)),
                None => plan.firsts.push((*k, key)), // the series' first: no span
            }
        }
    }
    plan
}

/// What the readings of a batch change (step 4c).
#[derive(Debug)]
pub struct ReadingWrites<K> {
    /// Readings to insert or update, by elevator.
    pub rows: Vec<(K, Reading)>,
    /// Change of each elevator's span sums (for its telemetry row).
    pub deltas: BTreeMap<K, SpanSums>,
}

/// Step 4c: takes the counts the adapter made (one per
/// [`ReadingPlan::counts`] entry) and adds each new run to the span that
/// contains it (the first reading at or after its start), unless that span
/// was just counted from the events table or has no start.
pub fn finish_readings<K: Ord + Copy>(
    mut plan: ReadingPlan<K>,
    counted: &[i64],
    c: &Changes<'_, K>,
) -> ReadingWrites<K> {
    let mut changed: BTreeSet<(K, ReadingKey)> = BTreeSet::new();
    let mut recounted: BTreeSet<(K, ReadingKey)> = BTreeSet::new();
    for ((k, key, _, _), n) in plan.counts.iter().zip(counted) {
        if let Some(r) = plan.series.get_mut(k).and_then(|s| s.get_mut(key)) {
            r.runs_in_span = *n;
            changed.insert((*k, *key));
            recounted.insert((*k, *key));
        }
    }
    for f in &plan.firsts {
        changed.insert(*f);
        recounted.insert(*f);
    }
    for (k, runs) in &c.runs_at {
        let Some(series) = plan.series.get_mut(k) else { continue };
        for t in runs {
            let Some((key, r)) = series.range_mut((*t, 0)..).next() else { continue };
            if r.prev.is_some() && !recounted.contains(&(*k, *key)) {
                r.runs_in_span += 1;
                changed.insert((*k, *key));
            }
        }
    }
    let mut out = ReadingWrites { rows: Vec::new(), deltas: BTreeMap::new() };
    for (k, key) in changed {
        let Some(r) = plan.series.get(&k).and_then(|s| s.get(&key)) else { continue };
        let mut d = SpanSums::of(r);
        d -= plan.old.get(&(k, key)).copied().unwrap_or_default();
        *out.deltas.entry(k).or_default() += d;
        out.rows.push((k, r.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::FaultRecord;
    use crate::protocol::decode_message;

    fn msg(code: &str, json: &str) -> Inbound {
        let topic = format!("lift/v1/{code}/events");
        let now = Timestamp::parse("2026-11-20T10:00:00+08:00").expect("ts").0;
        let decoded = decode_message(&topic, json.as_bytes(), now);
        Inbound { topic, payload: json.as_bytes().to_vec(), received_at: now, decoded }
    }

    const A: &str = "31103302002018120001";
    const B: &str = "31103302002018120002";

    fn run(code: &str, seq: u64) -> String {
        format!(
            r#"{{"v":1,"device":"{code}","seq":{seq},"ts":"2026-11-20T09:0{}:00+08:00","type":"run","end":"2026-11-20T09:09:30+08:00","from":1,"to":3,"doors":1}}"#,
            seq % 10
        )
    }

    #[test]
    fn unknown_devices_are_dead_letters_and_duplicates_collapse() {
        let batch = vec![msg(A, &format!("[{},{}]", run(A, 1), run(A, 1))), msg(B, &run(B, 1)), msg(A, r#"{"v":1}"#)];
        let a = DeviceCode::parse(A).expect("code");
        let s = sort_batch(&batch, |d| (d == a).then_some(7));
        assert_eq!(s.delivered, 2);
        assert_eq!(s.events.len(), 1);
        let codes: Vec<_> = s.dead.iter().map(|d| d.code).collect();
        assert_eq!(codes.len(), 2, "{codes:?}");
        assert_eq!(codes[0], "unknown_device");
        assert_eq!(s.dead[0].payload.as_ref(), batch[1].payload.as_slice());
        assert_ne!(codes[1], "unknown_device");
    }

    #[test]
    fn runs_count_per_local_day_and_incidents_merge_once() {
        let batch = vec![msg(
            A,
            &format!(
                "[{},{}]",
                run(A, 1),
                r#"{"v":1,"device":"31103302002018120001","seq":2,"ts":"2026-11-20T09:05:00+08:00","type":"fault","fault_id":"f1","code":"door_open_fault","stops_service":true}"#
            ),
        )];
        let s = sort_batch(&batch, |_| Some(1u8));
        let new: Vec<(u8, &Event)> = s.events.iter().map(|((k, _, _), e)| (*k, *e)).collect();
        let tz = chrono_tz::Asia::Shanghai;
        let mut c = plan_changes(&new, tz);
        assert_eq!(c.faults.len(), 1);
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).expect("day");
        assert_eq!(c.rollups[&(1, day)].runs, 1);
        let loaded = vec![((1u8, "f1".to_owned()), FaultRecord::default())];
        let out = merge_incidents(loaded, &c.faults, tz, &mut c.rollups);
        assert!(out[0].1.start.is_some());
        let r = &c.rollups[&(1, day)];
        assert_eq!((r.runs, r.faults, r.equipment_faults, r.stoppages_open), (1, 1, 1, 1));
        // The same events again change nothing more (the record absorbed them).
        let again = merge_incidents(out, &c.faults, tz, &mut c.rollups);
        assert_eq!(c.rollups[&(1, day)].faults, 1);
        assert_eq!(again.len(), 1);
    }

    /// An in-memory adapter of step 4: keeps events and readings, loads the
    /// whole series (a contiguous stretch), counts spans from its events.
    #[derive(Default)]
    struct Mem {
        runs: Vec<Timestamp>,
        seen: BTreeSet<(u64, Timestamp)>,
        readings: BTreeMap<ReadingKey, Reading>,
    }

    impl Mem {
        fn ingest(&mut self, events: &[Event]) {
            let tz = chrono_tz::Asia::Shanghai;
            let new: Vec<(u8, &Event)> =
                events.iter().filter(|e| self.seen.insert((e.seq, e.ts))).map(|e| (1u8, e)).collect();
            for (_, e) in &new {
                if let Body::Run { .. } = e.body {
                    self.runs.push(e.ts);
                }
            }
            let c = plan_changes(&new, tz);
            let loaded = if reading_bounds(&c).is_empty() {
                Vec::new()
            } else {
                self.readings.values().map(|r| (1u8, r.clone())).collect()
            };
            let plan = plan_readings(loaded, &c, tz);
            let counted: Vec<i64> = plan
                .counts
                .iter()
                .map(|(_, _, a, b)| self.runs.iter().filter(|t| a < *t && *t <= b).count() as i64)
                .collect();
            let w = finish_readings(plan, &counted, &c);
            for (_, r) in w.rows {
                self.readings.insert(r.key(), r);
            }
        }
    }

    fn ev(seq: u64, minute: i64, body: Body) -> Event {
        let base = Timestamp::parse("2026-11-20T00:00:00+08:00").expect("ts").0;
        let device = DeviceCode::parse(A).expect("code");
        Event { device, seq, ts: Timestamp(base.0 + minute * 60_000_000), ts_offset: 8 * 3600, body }
    }

    fn runs_and_counters() -> Vec<Event> {
        let mut v = Vec::new();
        let run = |_: i64| Body::Run { end: Timestamp(0), from: 1, to: 2, doors: None };
        for (i, m) in [5, 10, 10, 30, 61, 62, 90, 125, 200].into_iter().enumerate() {
            v.push(ev(100 + i as u64, m, run(m)));
        }
        for (i, (m, n)) in [(0, 1000), (10, 1003), (60, 1008), (120, 4), (180, 9)].into_iter().enumerate() {
            v.push(ev(i as u64, m, Body::Counter { runs_total: n }));
        }
        v
    }

    #[test]
    fn readings_are_exact_whatever_the_arrival_order() {
        let events = runs_and_counters();
        let tz = chrono_tz::Asia::Shanghai;
        let counters = events.iter().filter_map(|e| match e.body {
            Body::Counter { runs_total } => Some((e.ts, e.seq, runs_total)),
            _ => None,
        });
        let runs: Vec<Timestamp> = events.iter().filter(|e| e.body.kind() == Kind::Run).map(|e| e.ts).collect();
        let want = crate::completeness::readings_from(counters, tz, |a, b| {
            runs.iter().filter(|t| a < **t && **t <= b).count() as i64
        });
        assert_eq!(want[1].runs_in_span, 3, "runs at 5, 10, 10 in (0, 10]");
        assert_eq!(want[3].prev.expect("pair").odometer_runs, None, "1008 → 4 is a reset");
        // Counters first, then the runs late; runs first; one by one in
        // reverse; everything twice (duplicates change nothing).
        let mut rev = events.clone();
        rev.reverse();
        let (counters_first, runs_first): (Vec<Event>, Vec<Event>) =
            events.iter().cloned().partition(|e| e.body.kind() == Kind::Counter);
        let orders: Vec<Vec<Vec<Event>>> = vec![
            vec![counters_first.clone(), runs_first.clone()],
            vec![runs_first.clone(), counters_first.clone()],
            rev.iter().map(|e| vec![e.clone()]).collect(),
            vec![events.clone(), rev.clone()],
            events.chunks(3).map(<[Event]>::to_vec).collect(),
        ];
        for (i, batches) in orders.into_iter().enumerate() {
            let mut m = Mem::default();
            for b in &batches {
                m.ingest(b);
            }
            let got: Vec<Reading> = m.readings.values().cloned().collect();
            assert_eq!(got, want, "order {i}");
        }
    }
}
