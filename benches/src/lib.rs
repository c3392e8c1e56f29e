//! Workloads for the liftwatch-core benchmarks (`benches/core.rs`): protocol-v1
//! payloads as boxes publish them, and pre-decoded events for the ledger.
//!
//! Everything here is deterministic (no randomness, no clock), so two runs
//! of the benchmarks measure the same work. Results and the command to rerun
//! are in `docs/performance.md`.

pub mod service;

use liftwatch_core::protocol::{parse_rfc3339, Body, DeviceCode, Event, FaultCode, Mode, Timestamp, MICROS_PER_SEC};

/// The device of the protocol's example; every decode payload is for it.
pub const DEVICE: &str = "31103302002018120001";

/// The topic [`DEVICE`] publishes on.
pub const TOPIC: &str = "lift/v1/31103302002018120001/events";

/// UTC offset the payloads are written with (China Standard Time).
pub const OFFSET_SECS: i32 = 8 * 3600;

/// The platform clock passed to `decode_message`: later than every `ts` of
/// the decode payloads, so no event is rejected as being in the future.
pub fn now() -> Timestamp {
    parse_rfc3339("2026-11-29T00:00:00Z").expect("valid RFC 3339").0
}

/// First `ts` of the decode payloads (2026-11-28T00:00:00+08:00).
pub fn decode_base() -> Timestamp {
    parse_rfc3339("2026-11-28T00:00:00+08:00").expect("valid RFC 3339").0
}

/// First local midnight of the ledger workloads (2026-11-01, Asia/Shanghai).
pub fn ledger_base() -> Timestamp {
    parse_rfc3339("2026-11-01T00:00:00+08:00").expect("valid RFC 3339").0
}

/// `ts` of the `i`-th decode event: about 30 s apart, with milliseconds that
/// vary (so the fraction is never trimmed to nothing), all before [`now`].
pub fn decode_ts(i: u64) -> Timestamp {
    let ms = i as i64 * 30_017 + 1 + (i as i64 * 137) % 999;
    Timestamp(decode_base().0 + ms * 1_000)
}

fn rfc3339(t: Timestamp) -> String {
    t.to_rfc3339_at(OFFSET_SECS)
}

/// One `run` event object like the protocol's example, with `seq` = 1000 + `i`.
pub fn run_json(i: u64) -> String {
    let ts = decode_ts(i);
    let end = Timestamp(ts.0 + (8 + (i as i64 * 7) % 40) * MICROS_PER_SEC + 330_000);
    let from = 1 + (i % 12);
    let to = 1 + ((i * 5 + 3) % 12);
    format!(
        r#"{{"v":1,"device":"{DEVICE}","seq":{},"ts":"{}","type":"run","end":"{}","from":{from},"to":{to},"doors":1}}"#,
        1000 + i,
        rfc3339(ts),
        rfc3339(end),
    )
}

/// The kinds of event in a mixed array, by position (see [`mixed_kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixKind {
    /// A `run`.
    Run,
    /// A `fault` (door fault, stops service).
    Fault,
    /// The `fault_cleared` of the fault before it.
    FaultCleared,
    /// An `entrapment` caused by the fault before it.
    Entrapment,
    /// A `heartbeat`.
    Heartbeat,
}

/// The kind of the `i`-th event of a mixed stream: per 50 events, 42 runs,
/// 2 faults, 2 clearings, 1 entrapment and 3 heartbeats (84 % runs).
pub fn mixed_kind(i: u64) -> MixKind {
    match i % 50 {
        7 | 31 => MixKind::Fault,
        9 | 38 => MixKind::FaultCleared,
        8 => MixKind::Entrapment,
        15 | 30 | 45 => MixKind::Heartbeat,
        _ => MixKind::Run,
    }
}

/// The `i`-th event of a mixed stream as a JSON object.
pub fn mixed_json(i: u64) -> String {
    let envelope = |ty: &str| {
        format!(r#"{{"v":1,"device":"{DEVICE}","seq":{},"ts":"{}","type":"{ty}""#, 1000 + i, rfc3339(decode_ts(i)))
    };
    // The fault an event refers to: the last one started at or before `i`.
    let fault_no = |i: u64| i / 50 * 2 + u64::from(i % 50 >= 31);
    match mixed_kind(i) {
        MixKind::Run => run_json(i),
        MixKind::Fault => {
            let code = ["door_open_fault", "door_close_fault", "safety_circuit_open"][(i % 3) as usize];
            let cause = if i % 4 == 3 { r#","cause":"usage""# } else { "" };
            format!(
                r#"{},"fault_id":"f-{}","code":"{code}","stops_service":true{cause}}}"#,
                envelope("fault"),
                fault_no(i)
            )
        }
        MixKind::FaultCleared => format!(r#"{},"fault_id":"f-{}"}}"#, envelope("fault_cleared"), fault_no(i)),
        MixKind::Entrapment => {
            format!(r#"{},"incident_id":"e-{}","fault_id":"f-{}"}}"#, envelope("entrapment"), i / 50, fault_no(i))
        }
        MixKind::Heartbeat => format!(r#"{},"mode":"normal"}}"#, envelope("heartbeat")),
    }
}

/// A JSON array of the events `first .. first + n` made by `event`.
pub fn array_json(first: u64, n: u64, event: impl Fn(u64) -> String) -> String {
    let items: Vec<String> = (first..first + n).map(event).collect();
    format!("[{}]", items.join(","))
}

/// The `d`-th of the ledger workloads' devices (`0 ≤ d < 100_000`).
pub fn device(d: u32) -> DeviceCode {
    DeviceCode::parse(&format!("311033020020181{d:05}")).expect("a valid device code")
}

/// Size of the ledger workloads.
#[derive(Clone, Copy, Debug)]
pub struct Fleet {
    /// Elevators.
    pub devices: u32,
    /// Consecutive local days, from [`ledger_base`].
    pub days: u32,
    /// Runs per elevator per day (between 06:00 and 23:00 local time).
    pub runs_per_day: u32,
}

impl Fleet {
    /// The ledger benchmarks' fleet: 100 elevators, 30 days, 40 runs a day
    /// each (120 000 runs).
    pub const BENCH: Fleet = Fleet { devices: 100, days: 30, runs_per_day: 40 };

    fn event(device: u32, seq: &mut [u64], ts: i64, body: Body) -> Event {
        let s = &mut seq[device as usize];
        *s += 1;
        Event { device: self::device(device), seq: *s, ts: Timestamp(ts), ts_offset: OFFSET_SECS, body }
    }

    fn run_at(device: u32, seq: &mut [u64], ts: i64, k: u32) -> Event {
        let end = ts + (8 + i64::from(k % 40)) * MICROS_PER_SEC;
        let body = Body::Run {
            end: Timestamp(end),
            from: (k % 12) as i32 + 1,
            to: ((k * 5 + 3) % 12) as i32 + 1,
            doors: Some(1),
        };
        Self::event(device, seq, ts, body)
    }

    fn slot(&self, day: u32, k: u32, device: u32) -> i64 {
        let day_start = ledger_base().0 + i64::from(day) * 86_400 * MICROS_PER_SEC;
        let spacing = 17 * 3600 * MICROS_PER_SEC / i64::from(self.runs_per_day.max(1));
        day_start + 6 * 3600 * MICROS_PER_SEC + i64::from(k) * spacing + i64::from(device) * 7 * MICROS_PER_SEC
    }

    /// Only `run` events, all distinct, in the order a gateway would see
    /// them (day by day, the fleet interleaved).
    pub fn runs(&self) -> Vec<Event> {
        let mut seq = vec![0u64; self.devices as usize];
        let mut out = Vec::with_capacity((self.devices * self.days * self.runs_per_day) as usize);
        for day in 0..self.days {
            for k in 0..self.runs_per_day {
                for d in 0..self.devices {
                    out.push(Self::run_at(d, &mut seq, self.slot(day, k, d), k));
                }
            }
        }
        out
    }

    /// The runs of [`Fleet::runs`] plus, per elevator and day: one heartbeat
    /// per 10 runs; on every 5th elevator-day a stopping fault cleared 20
    /// minutes later; on every 17th elevator-day an entrapment with the
    /// rescuer's arrival (15 min) and the release (25 min).
    pub fn mixed(&self) -> Vec<Event> {
        let mut seq = vec![0u64; self.devices as usize];
        let mut out = Vec::new();
        let min = 60 * MICROS_PER_SEC;
        for day in 0..self.days {
            for k in 0..self.runs_per_day {
                for d in 0..self.devices {
                    let ts = self.slot(day, k, d);
                    out.push(Self::run_at(d, &mut seq, ts, k));
                    if k % 10 == 5 {
                        out.push(Self::event(d, &mut seq, ts + 1, Body::Heartbeat { mode: Mode::Normal }));
                    }
                    let nth = day * self.devices + d;
                    if k == self.runs_per_day / 2 && nth % 5 == 0 {
                        let fault_id: Box<str> = format!("f-{day}").into();
                        let code = FaultCode::parse(["door_open_fault", "door_close_fault"][(nth % 2) as usize]);
                        let fault = Body::Fault { fault_id: fault_id.clone(), code, stops_service: true, cause: None };
                        out.push(Self::event(d, &mut seq, ts + 2, fault));
                        out.push(Self::event(d, &mut seq, ts + 20 * min, Body::FaultCleared { fault_id }));
                    }
                    if k == self.runs_per_day / 3 && nth % 17 == 0 {
                        let incident_id: Box<str> = format!("e-{day}").into();
                        let alarm = Body::Entrapment { incident_id: incident_id.clone(), fault_id: None };
                        out.push(Self::event(d, &mut seq, ts + 3, alarm));
                        let arrived = Body::RescueArrived { incident_id: incident_id.clone() };
                        out.push(Self::event(d, &mut seq, ts + 15 * min, arrived));
                        out.push(Self::event(d, &mut seq, ts + 25 * min, Body::Released { incident_id }));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use liftwatch_core::ledger::{Applied, Ledger};
    use liftwatch_core::protocol::{decode_message, Kind};

    use super::*;

    #[test]
    fn decode_payloads_are_all_valid() {
        let one = decode_message(TOPIC, run_json(0).as_bytes(), now());
        assert!(one.rejects.is_empty(), "{:?}", one.rejects);
        for first in [0, 100, 1500] {
            for payload in [array_json(first, 100, run_json), array_json(first, 100, mixed_json)] {
                let d = decode_message(TOPIC, payload.as_bytes(), now());
                assert!(d.rejects.is_empty(), "{:?}", d.rejects);
                assert_eq!(d.events.len(), 100);
            }
        }
        let mixed = decode_message(TOPIC, array_json(0, 100, mixed_json).as_bytes(), now());
        let runs = mixed.events.iter().filter(|e| e.body.kind() == Kind::Run).count();
        assert_eq!(runs, 84);
    }

    #[test]
    fn ledger_workloads_are_distinct_and_counted() {
        let fleet = Fleet { devices: 3, days: 2, runs_per_day: 12 };
        let mut ledger = Ledger::new(chrono_tz::Asia::Shanghai);
        for e in fleet.mixed() {
            assert_eq!(ledger.apply(&e), Applied::New);
        }
        let runs: i64 = ledger.rows().map(|(_, _, r)| r.runs).sum();
        assert_eq!(runs, 3 * 2 * 12);
        assert!(ledger.rows().any(|(_, _, r)| r.faults == 1 && r.stoppages_closed == 1));
        assert!(ledger.rows().any(|(_, _, r)| r.entrapments == 1 && r.rescues == 1));
        assert_eq!(fleet.runs().len(), 3 * 2 * 12);
    }
}
