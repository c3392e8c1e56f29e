//! Test helpers that read like the domain: an `Elevator` whose box makes events.
#![allow(dead_code, missing_docs)]
#![allow(clippy::unwrap_used)]

use liftwatch_core::protocol::{parse_rfc3339, Body, Cause, DeviceCode, Event, FaultCode, Timestamp};

/// Parses an RFC 3339 time.
pub fn t(s: &str) -> Timestamp {
    parse_rfc3339(s).unwrap().0
}

/// A device code from a small number.
pub fn dev(n: u32) -> DeviceCode {
    DeviceCode::parse(&format!("311033020020181{n:05}")).unwrap()
}

/// Makes events for one elevator with increasing seq.
pub struct Elevator {
    pub device: DeviceCode,
    pub seq: u64,
}

impl Elevator {
    pub fn new(n: u32) -> Self {
        Elevator { device: dev(n), seq: 0 }
    }
    fn ev(&mut self, ts: &str, body: Body) -> Event {
        self.seq += 1;
        Event { device: self.device, seq: self.seq, ts: t(ts), ts_offset: 8 * 3600, body }
    }
    pub fn run(&mut self, ts: &str) -> Event {
        let end = Timestamp(t(ts).0 + 30_000_000);
        self.ev(ts, Body::Run { end, from: 1, to: 5, doors: Some(1) })
    }
    pub fn runs(&mut self, ts: &str, n: usize) -> Vec<Event> {
        (0..n).map(|_| self.run(ts)).collect()
    }
    pub fn fault(&mut self, ts: &str, id: &str, code: &str, stops: bool) -> Event {
        self.ev(
            ts,
            Body::Fault { fault_id: id.into(), code: FaultCode::parse(code), stops_service: stops, cause: None },
        )
    }
    pub fn fault_with_cause(&mut self, ts: &str, id: &str, code: &str, stops: bool, cause: Cause) -> Event {
        self.ev(
            ts,
            Body::Fault { fault_id: id.into(), code: FaultCode::parse(code), stops_service: stops, cause: Some(cause) },
        )
    }
    pub fn cleared(&mut self, ts: &str, id: &str) -> Event {
        self.ev(ts, Body::FaultCleared { fault_id: id.into() })
    }
    pub fn entrapment(&mut self, ts: &str, id: &str) -> Event {
        self.ev(ts, Body::Entrapment { incident_id: id.into(), fault_id: None })
    }
    pub fn arrived(&mut self, ts: &str, id: &str) -> Event {
        self.ev(ts, Body::RescueArrived { incident_id: id.into() })
    }
    pub fn released(&mut self, ts: &str, id: &str) -> Event {
        self.ev(ts, Body::Released { incident_id: id.into() })
    }
}
