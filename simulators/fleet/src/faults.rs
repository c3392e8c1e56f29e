//! Box faults on demand (issue 11): what real monitoring boxes do to the
//! stream, applied to the messages the simulator publishes — without
//! changing what the service must count, so the ground truth still holds:
//!
//! - **offline buffering**: a share of the boxes go offline; each holds its
//!   events for [`OFFLINE_DAYS`] days and replays them late, in arrays of up
//!   to [`REPLAY_ARRAY`] events (protocol v1's largest);
//! - **duplicates**: a share of the messages is published twice (QoS 1
//!   redelivery, a box retrying after a lost PUBACK);
//! - **malformed payloads**: extra messages that are not valid protocol v1
//!   (truncated JSON, an unknown event type, a future timestamp) on the
//!   boxes' own topics: the service must dead-letter each and lose nothing else.
//!
//! Two more change what the service can know, so they are drawn per box
//! ([`draw`]) and applied by the generator, and the ground truth follows them:
//!
//! - **clock skew**: a share of the boxes whose clock is off by a fixed
//!   offset; their events carry the skewed `ts`, and the service (which can
//!   only go by `ts`) attributes them to the days of that clock. The ground
//!   truth counts by the same clock: what the boxes say happened.
//! - **silent boxes**: a share of the boxes that send nothing for a number
//!   of days; what they generated then is lost. The ground truth keeps
//!   what was generated and what was sent apart, and the odometer and
//!   sequence numbers let the service see the gap (docs/kpis.md §9).
//!
//! Deterministic for a seed.

use std::collections::BTreeMap;

use liftwatch_core::protocol::{to_array_payload, topic_for, DeviceCode, Event, Timestamp};

use crate::{BoxPlan, Rng, ScenarioError};

/// Days an offline box holds its events before replaying them.
pub const OFFLINE_DAYS: usize = 3;
/// Events per replayed array (protocol v1 allows up to 1,000).
pub const REPLAY_ARRAY: usize = 1000;

/// Which faults, as shares (0 to 1).
#[derive(Clone, Copy, Debug, PartialEq, clap::Args)]
pub struct BoxFaults {
    /// Share of boxes that buffer offline and replay their events late, in arrays of up to 1,000.
    #[arg(long, default_value_t = 0.0)]
    pub offline_share: f64,
    /// Share of messages published twice.
    #[arg(long, default_value_t = 0.0)]
    pub duplicate_share: f64,
    /// Extra malformed messages, as a share of the real ones (each must become a dead letter).
    #[arg(long, default_value_t = 0.0)]
    pub malformed_share: f64,
    /// Share of boxes whose clock is off by --clock-skew-seconds (their events carry the skewed ts).
    #[arg(long, default_value_t = 0.0)]
    pub clock_skew_share: f64,
    /// How far a skewed box's clock is off, seconds (negative: behind).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub clock_skew_seconds: i64,
    /// Share of boxes that go silent for --silent-days (what they generate then is never sent).
    #[arg(long, default_value_t = 0.0)]
    pub silent_share: f64,
    /// Days a silent box sends nothing (within the scenario, after its first day).
    #[arg(long, default_value_t = 3)]
    pub silent_days: u32,
}

impl Default for BoxFaults {
    fn default() -> Self {
        BoxFaults {
            offline_share: 0.0,
            duplicate_share: 0.0,
            malformed_share: 0.0,
            clock_skew_share: 0.0,
            clock_skew_seconds: 0,
            silent_share: 0.0,
            silent_days: 3,
        }
    }
}

/// The largest clock skew taken: a year (a box whose clock reset is
/// further off than that sends what the service refuses anyway).
pub const MAX_SKEW_SECONDS: i64 = 366 * 24 * 3600;

impl BoxFaults {
    /// Every problem at once: shares out of 0..=1, a skew past a year.
    pub fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        for (name, v) in [
            ("--offline-share", self.offline_share),
            ("--duplicate-share", self.duplicate_share),
            ("--malformed-share", self.malformed_share),
            ("--clock-skew-share", self.clock_skew_share),
            ("--silent-share", self.silent_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                problems.push(format!("{name} {v} must be between 0 and 1"));
            }
        }
        if self.clock_skew_seconds.abs() > MAX_SKEW_SECONDS {
            problems.push(format!(
                "--clock-skew-seconds {} is more than a year ({MAX_SKEW_SECONDS} s) off",
                self.clock_skew_seconds
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// Draws, per box in device order, whether its clock is skewed and
/// whether (and when) it goes silent: a silent box is heard on the first
/// day, then silent for `silent_days` (at most the scenario's days but
/// one) starting on a day drawn in `1..=days − silent_days` (so the silence
/// may run to the scenario's end). Three draws per box whatever the
/// shares, so one share does not change which boxes the other picks.
pub(crate) fn draw(plans: &mut [BoxPlan], f: &BoxFaults, days: u32, seed: u64) -> Result<(), ScenarioError> {
    f.check().map_err(ScenarioError)?;
    let mut rng = Rng::new(seed ^ 0x5ca1_ab1e_c10c);
    for p in plans {
        let (skew, silent, at) = (rng.unit(), rng.unit(), rng.unit());
        if skew < f.clock_skew_share {
            p.skew_us = f.clock_skew_seconds * 1_000_000;
        }
        if silent < f.silent_share && f.silent_days > 0 && days > 1 {
            let n = f.silent_days.min(days - 1);
            let first = 1 + (at * f64::from(days - n)) as u32;
            p.silent = Some(first..first + n);
        }
    }
    Ok(())
}

/// One MQTT message to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Topic (with the prefix).
    pub topic: String,
    /// Payload.
    pub payload: String,
    /// When it is sent in live time: the true time of its latest event
    /// (a box sends an event when it happens, whatever its clock says; an
    /// offline box when it comes back).
    pub due: Timestamp,
}

/// The messages to publish, in order, and what was injected.
#[derive(Debug, Default)]
pub struct Plan {
    /// In publishing order (a backfill's; live time sends them by `due`).
    pub messages: Vec<Message>,
    /// Messages that are copies of earlier ones.
    pub duplicates: usize,
    /// Malformed messages (each one dead letter at the service).
    pub malformed: usize,
    /// Boxes that buffered offline.
    pub offline_boxes: usize,
}

/// Turns the fleet's events (as sent: skewed, silent days left out), day
/// by day, into messages with the message faults of `faults` applied;
/// `skew` gives each box's clock skew (µs) for the messages' `due`.
pub fn plan(
    days: impl IntoIterator<Item = Vec<Event>>,
    per_message: usize,
    prefix: &str,
    faults: &BoxFaults,
    seed: u64,
    skew: &BTreeMap<DeviceCode, i64>,
) -> Plan {
    let mut rng = Rng::new(seed ^ 0x0bad_b0c5);
    let mut out = Plan::default();
    let mut offline: BTreeMap<DeviceCode, bool> = BTreeMap::new();
    let mut held: BTreeMap<DeviceCode, (usize, Vec<Event>)> = BTreeMap::new();
    let topic = |d: &DeviceCode| format!("{prefix}{}", topic_for(d));
    let due = |d: &DeviceCode, evs: &[Event]| {
        Timestamp(evs.iter().map(|e| e.ts.0).max().unwrap_or(0) - skew.get(d).copied().unwrap_or(0))
    };
    let push = |out: &mut Plan, rng: &mut Rng, topic: String, payload: String, due: Timestamp| {
        if rng.unit() < faults.malformed_share {
            out.messages.push(Message { topic: topic.clone(), payload: malformed(rng), due });
            out.malformed += 1;
        }
        let m = Message { topic, payload, due };
        if rng.unit() < faults.duplicate_share {
            out.messages.push(m.clone());
            out.duplicates += 1;
        }
        out.messages.push(m);
    };
    for evs in days {
        let mut by: BTreeMap<DeviceCode, Vec<Event>> = BTreeMap::new();
        for e in evs {
            by.entry(e.device).or_default().push(e);
        }
        for (d, evs) in by {
            let off = *offline.entry(d).or_insert_with(|| rng.unit() < faults.offline_share);
            if off {
                let h = held.entry(d).or_default();
                h.0 += 1;
                h.1.extend(evs);
                if h.0 >= OFFLINE_DAYS {
                    let (_, evs) = std::mem::take(h);
                    let back = due(&d, &evs);
                    for c in evs.chunks(REPLAY_ARRAY) {
                        push(&mut out, &mut rng, topic(&d), to_array_payload(c), back);
                    }
                }
                continue;
            }
            for c in evs.chunks(per_message) {
                push(&mut out, &mut rng, topic(&d), to_array_payload(c), due(&d, c));
            }
        }
    }
    for (d, (_, evs)) in held {
        let back = due(&d, &evs);
        for c in evs.chunks(REPLAY_ARRAY) {
            push(&mut out, &mut rng, topic(&d), to_array_payload(c), back);
        }
    }
    out.offline_boxes = offline.values().filter(|o| **o).count();
    out
}

/// One malformed payload: not protocol v1 in one of three ways.
fn malformed(rng: &mut Rng) -> String {
    match rng.range(0, 2) {
        0 => r#"[{"v":1,"type":"run","seq":"#.to_owned(),
        1 => r#"{"v":1,"type":"teleport","seq":1,"ts":"2026-01-01T00:00:00+08:00"}"#.to_owned(),
        _ => r#"{"v":1,"type":"heartbeat","seq":1,"ts":"2999-01-01T00:00:00+08:00","mode":"normal"}"#.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scenario;

    fn fleet() -> Vec<Vec<Event>> {
        let s = Scenario::from_toml(
            "elevators = 6\ndevice_prefix = \"3110330200201\"\nstart = \"2026-05-01\"\ndays = 10\nruns_per_day = 30\n\
             faults_per_10k = 100.0\nstopping_share = 0.5\nentrapment_share = 0.3\npower_failures_per_100_days = 1.0\n\
             visit_every_days = 5\ntimezone = \"Asia/Shanghai\"\nseed = 3\n",
        )
        .unwrap();
        let mut days = Vec::new();
        s.for_each_day(|_, evs| days.push(evs)).unwrap();
        days
    }

    /// The faults change how events travel, never which events: every event
    /// is published at least once, and nothing else is valid protocol.
    #[test]
    fn faults_keep_every_event_and_add_only_copies_and_garbage() {
        let days = fleet();
        let all: usize = days.iter().map(Vec::len).sum();
        let faults =
            BoxFaults { offline_share: 0.5, duplicate_share: 0.3, malformed_share: 0.3, ..BoxFaults::default() };
        let none = BTreeMap::new();
        let p = plan(days.clone(), 50, "", &faults, 9, &none);
        let counts = (p.offline_boxes, p.duplicates, p.malformed, p.messages.len());
        assert!(p.offline_boxes > 0 && p.duplicates > 0 && p.malformed > 0, "{counts:?}");
        let now = liftwatch_core::protocol::Timestamp(1_800_000_000_000_000);
        let (mut valid, mut bad) = (std::collections::BTreeSet::new(), 0);
        for m in &p.messages {
            let d = liftwatch_core::protocol::decode_message(&m.topic, m.payload.as_bytes(), now);
            if d.events.is_empty() {
                bad += 1;
            }
            valid.extend(d.events.iter().map(|e| (e.device, e.seq, e.ts)));
        }
        assert_eq!(valid.len(), all, "every event, once by identity");
        assert_eq!(bad, p.malformed, "each malformed message is refused whole");
        assert_eq!(
            p.messages.len() - p.malformed - p.duplicates,
            plan(days, 50, "", &faults, 9, &none).messages.len() - p.malformed - p.duplicates
        );
        let clean = plan(fleet(), 50, "", &BoxFaults::default(), 9, &none);
        assert_eq!((clean.duplicates, clean.malformed, clean.offline_boxes), (0, 0, 0));
    }
}
