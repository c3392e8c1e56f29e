//! The workload: `events` distinct `run` events of `devices` elevators, as
//! protocol-v1 arrays of 100 events, in the order the load generator
//! publishes them (round robin over the fleet: message `m` is the
//! `m / devices`-th array of elevator `m % devices`). Everything derives from
//! `(events, devices, base)`, so the publisher process, the COPY phase and the
//! progress probes see the same rows.

use liftwatch_core::protocol::{Timestamp, MICROS_PER_SEC};

/// Events per MQTT message.
pub const PER_MESSAGE: u64 = 100;
/// The boxes write local time of China (UTC+8).
pub const OFFSET_SECS: i32 = 8 * 3600;
/// The events are spread over this many days before `base + span`.
pub const SPAN_DAYS: i64 = 90;
const DAY_US: i64 = 86_400 * MICROS_PER_SEC;

/// Size and time window of a workload.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// Distinct events.
    pub events: u64,
    /// Elevators (registered before the run).
    pub devices: u32,
    /// Microseconds since the epoch of the earliest possible `ts`.
    pub base_us: i64,
}

/// One `run` event.
#[derive(Clone, Copy, Debug)]
pub struct RunEvent {
    /// Index of the elevator (0-based; its database id is looked up).
    pub device: u32,
    /// The box's sequence number.
    pub seq: i64,
    /// Start, µs since the epoch.
    pub ts: i64,
    /// End, µs since the epoch.
    pub end: i64,
    /// Floor left.
    pub from: i32,
    /// Floor reached.
    pub to: i32,
}

/// The device code of elevator `d`: the test kit's `dev(d)`.
pub fn device_code(d: u32) -> String {
    liftwatch_testkit::codes::dev_code(d)
}

/// The topic elevator `d` publishes on.
pub fn topic(d: u32) -> String {
    format!("lift/v1/{}/events", device_code(d))
}

impl Workload {
    /// A workload whose events lie in the 90 days before yesterday (relative to `now_us`).
    pub fn new(events: u64, devices: u32, now_us: i64) -> Workload {
        let base = (now_us - (SPAN_DAYS + 1) * DAY_US) / MICROS_PER_SEC * MICROS_PER_SEC;
        Workload { events, devices: devices.max(1), base_us: base }
    }

    /// MQTT messages (the last one may hold fewer than 100 events).
    pub fn messages(&self) -> u64 {
        self.events.div_ceil(PER_MESSAGE)
    }

    /// Elevators that actually publish (fewer than `devices` for small runs).
    pub fn active_devices(&self) -> u32 {
        self.messages().min(u64::from(self.devices)) as u32
    }

    fn per_device(&self) -> u64 {
        self.messages().div_ceil(u64::from(self.devices)) * PER_MESSAGE
    }

    /// Time between two runs of one elevator, whole milliseconds.
    fn step_us(&self) -> i64 {
        let per = self.per_device().max(1) as i64;
        ((SPAN_DAYS * DAY_US / per) / 1000 * 1000).max(2 * MICROS_PER_SEC)
    }

    /// The elevator of message `m`.
    pub fn message_device(&self, m: u64) -> u32 {
        (m % u64::from(self.devices)) as u32
    }

    /// Number of events in message `m`.
    pub fn message_len(&self, m: u64) -> u64 {
        (self.events - m * PER_MESSAGE).min(PER_MESSAGE)
    }

    /// The events of message `m`, in order.
    pub fn message_events(&self, m: u64) -> impl Iterator<Item = RunEvent> + '_ {
        let d = self.message_device(m);
        let first = m / u64::from(self.devices) * PER_MESSAGE;
        (first..first + self.message_len(m)).map(move |k| self.run(d, k))
    }

    /// The last event of message `m` (the progress probe).
    pub fn last_event(&self, m: u64) -> RunEvent {
        let d = self.message_device(m);
        let k = m / u64::from(self.devices) * PER_MESSAGE + self.message_len(m) - 1;
        self.run(d, k)
    }

    /// The `k`-th run of elevator `d`: evenly spread over the window, with
    /// a per-elevator offset and varying milliseconds.
    pub fn run(&self, d: u32, k: u64) -> RunEvent {
        let step = self.step_us();
        let jitter = (i64::from(d) * 1_009_000) % (step / 2) / 1000 * 1000;
        let millis = ((i64::from(d) * 31 + k as i64 * 137) % 999 + 1) * 1000;
        let ts = self.base_us + k as i64 * step + jitter + millis;
        let end = ts + (8 + (k as i64 * 7) % 40) * MICROS_PER_SEC + 330_000;
        RunEvent {
            device: d,
            seq: 1000 + k as i64,
            ts,
            end,
            from: 1 + (k % 12) as i32,
            to: 1 + ((k * 5 + 3) % 12) as i32,
        }
    }

    /// Message `m` as the box publishes it: a JSON array of event objects,
    /// keys in the protocol example's order.
    pub fn payload(&self, m: u64) -> String {
        let code = device_code(self.message_device(m));
        let mut out = String::with_capacity(200 * PER_MESSAGE as usize);
        out.push('[');
        for (i, e) in self.message_events(m).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!(
                r#"{{"v":1,"device":"{code}","seq":{},"ts":"{}","type":"run","end":"{}","from":{},"to":{},"doors":1}}"#,
                e.seq,
                Timestamp(e.ts).to_rfc3339_at(OFFSET_SECS),
                Timestamp(e.end).to_rfc3339_at(OFFSET_SECS),
                e.from,
                e.to,
            ));
        }
        out.push(']');
        out
    }
}
