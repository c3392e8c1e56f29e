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
//! Deterministic for a seed.

use std::collections::BTreeMap;

use liftwatch_core::protocol::{to_array_payload, topic_for, DeviceCode, Event};

use crate::Rng;

/// Days an offline box holds its events before replaying them.
pub const OFFLINE_DAYS: usize = 3;
/// Events per replayed array (protocol v1 allows up to 1,000).
pub const REPLAY_ARRAY: usize = 1000;

/// Which faults, as shares (0 to 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, clap::Args)]
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
}

impl BoxFaults {
    /// Every share out of 0..=1, named.
    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [
            ("--offline-share", self.offline_share),
            ("--duplicate-share", self.duplicate_share),
            ("--malformed-share", self.malformed_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} {v} must be between 0 and 1"));
            }
        }
        Ok(())
    }
}

/// The messages to publish, in order, and what was injected.
#[derive(Debug, Default)]
pub struct Plan {
    /// `(topic, payload)` in publishing order.
    pub messages: Vec<(String, String)>,
    /// Messages that are copies of earlier ones.
    pub duplicates: usize,
    /// Malformed messages (each one dead letter at the service).
    pub malformed: usize,
    /// Boxes that buffered offline.
    pub offline_boxes: usize,
}

/// Turns the fleet's events, day by day, into messages with `faults` applied.
pub fn plan(
    days: impl IntoIterator<Item = Vec<Event>>,
    per_message: usize,
    prefix: &str,
    faults: &BoxFaults,
    seed: u64,
) -> Plan {
    let mut rng = Rng::new(seed ^ 0x0bad_b0c5);
    let mut out = Plan::default();
    let mut offline: BTreeMap<DeviceCode, bool> = BTreeMap::new();
    let mut held: BTreeMap<DeviceCode, (usize, Vec<Event>)> = BTreeMap::new();
    let topic = |d: &DeviceCode| format!("{prefix}{}", topic_for(d));
    let push = |out: &mut Plan, rng: &mut Rng, t: String, p: String| {
        if rng.unit() < faults.malformed_share {
            out.messages.push((t.clone(), malformed(rng)));
            out.malformed += 1;
        }
        out.messages.push((t.clone(), p.clone()));
        if rng.unit() < faults.duplicate_share {
            out.messages.push((t, p));
            out.duplicates += 1;
        }
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
                    for c in evs.chunks(REPLAY_ARRAY) {
                        push(&mut out, &mut rng, topic(&d), to_array_payload(c));
                    }
                }
                continue;
            }
            for c in evs.chunks(per_message) {
                push(&mut out, &mut rng, topic(&d), to_array_payload(c));
            }
        }
    }
    for (d, (_, evs)) in held {
        for c in evs.chunks(REPLAY_ARRAY) {
            push(&mut out, &mut rng, topic(&d), to_array_payload(c));
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
        let faults = BoxFaults { offline_share: 0.5, duplicate_share: 0.3, malformed_share: 0.3 };
        let p = plan(days.clone(), 50, "", &faults, 9);
        let counts = (p.offline_boxes, p.duplicates, p.malformed, p.messages.len());
        assert!(p.offline_boxes > 0 && p.duplicates > 0 && p.malformed > 0, "{counts:?}");
        let now = liftwatch_core::protocol::Timestamp(1_800_000_000_000_000);
        let (mut valid, mut bad) = (std::collections::BTreeSet::new(), 0);
        for (t, payload) in &p.messages {
            let d = liftwatch_core::protocol::decode_message(t, payload.as_bytes(), now);
            if d.events.is_empty() {
                bad += 1;
            }
            valid.extend(d.events.iter().map(|e| (e.device, e.seq, e.ts)));
        }
        assert_eq!(valid.len(), all, "every event, once by identity");
        assert_eq!(bad, p.malformed, "each malformed message is refused whole");
        assert_eq!(
            p.messages.len() - p.malformed - p.duplicates,
            plan(days, 50, "", &faults, 9).messages.len() - p.malformed - p.duplicates
        );
        let clean = plan(fleet(), 50, "", &BoxFaults::default(), 9);
        assert_eq!((clean.duplicates, clean.malformed, clean.offline_boxes), (0, 0, 0));
    }
}
