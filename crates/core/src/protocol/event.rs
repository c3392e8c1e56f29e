//! Typed protocol-v1 events.

use serde::{Deserialize, Serialize};

use super::device::DeviceCode;
use super::fault_code::{Cause, FaultCode};
use super::time::Timestamp;

/// The identity of an event: two events with equal device, seq and ts (as an
/// instant) are the same event, however often they arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    /// The elevator.
    pub device: DeviceCode,
    /// The box's sequence number.
    pub seq: u64,
    /// When it happened (microseconds).
    pub ts: Timestamp,
}

/// One decoded, validated event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The elevator's device code (equal to the topic's).
    pub device: DeviceCode,
    /// Sequence number, `0 ≤ seq < 2^63`.
    pub seq: u64,
    /// When it happened by the box's clock.
    pub ts: Timestamp,
    /// The offset `ts` was written with, seconds east of UTC (display only).
    pub ts_offset: i32,
    /// Type-specific fields.
    pub body: Body,
}

impl Event {
    /// The event's identity.
    pub fn id(&self) -> EventId {
        EventId { device: self.device, seq: self.seq, ts: self.ts }
    }

    /// The protocol `type` name.
    pub fn type_name(&self) -> &'static str {
        self.body.kind().as_str()
    }
}

/// The event types of protocol v1, without fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One trip of the car.
    Run,
    /// A fault is detected.
    Fault,
    /// Back to normal operation.
    FaultCleared,
    /// Passengers trapped, alarm received.
    Entrapment,
    /// A rescuer is on site.
    RescueArrived,
    /// Trapped passengers are out.
    Released,
    /// A technician on site.
    Maintenance,
    /// The box is alive.
    Heartbeat,
    /// The controller's odometer.
    Counter,
}

impl Kind {
    /// All kinds, in protocol order.
    pub const ALL: [Kind; 9] = [
        Kind::Run,
        Kind::Fault,
        Kind::FaultCleared,
        Kind::Entrapment,
        Kind::RescueArrived,
        Kind::Released,
        Kind::Maintenance,
        Kind::Heartbeat,
        Kind::Counter,
    ];
    /// Protocol spellings, in the order of [`Kind::ALL`].
    pub const NAMES: &'static [&'static str] = &[
        "run",
        "fault",
        "fault_cleared",
        "entrapment",
        "rescue_arrived",
        "released",
        "maintenance",
        "heartbeat",
        "counter",
    ];

    /// The protocol spelling.
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Parses a protocol spelling.
    pub fn parse(s: &str) -> Option<Kind> {
        Self::NAMES.iter().position(|n| *n == s).map(|i| Self::ALL[i])
    }
}

/// Phase of a maintenance visit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The technician arrived.
    Start,
    /// The technician left.
    End,
}

impl Phase {
    /// Protocol spellings.
    pub const NAMES: &'static [&'static str] = &["start", "end"];
}

/// Operating mode reported by a heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Normal service.
    Normal,
    /// 检修: inspection operation.
    Inspection,
    /// Maintenance.
    Maintenance,
    /// Out of service.
    OutOfService,
    /// Fire operation.
    Fire,
}

impl Mode {
    /// Protocol spellings, in declaration order.
    pub const NAMES: &'static [&'static str] = &["normal", "inspection", "maintenance", "out_of_service", "fire"];
    const ALL: [Mode; 5] = [Mode::Normal, Mode::Inspection, Mode::Maintenance, Mode::OutOfService, Mode::Fire];

    /// Parses a protocol spelling.
    pub fn parse(s: &str) -> Option<Mode> {
        Self::NAMES.iter().position(|n| *n == s).map(|i| Self::ALL[i])
    }
}

/// The type-specific part of an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// One trip; `ts` is departure.
    Run {
        /// When the car stopped.
        end: Timestamp,
        /// Departure floor.
        from: i32,
        /// Arrival floor.
        to: i32,
        /// Door cycles at arrival, if reported.
        doors: Option<u32>,
    },
    /// A fault was detected.
    Fault {
        /// Box-unique id of this occurrence.
        fault_id: Box<str>,
        /// Normalised code.
        code: FaultCode,
        /// Whether the elevator is out of service because of it (停梯).
        stops_service: bool,
        /// The box's first assessment, if it sent one. The effective cause
        /// is this, else the code's default, unless corrected later.
        cause: Option<Cause>,
    },
    /// Back to normal operation.
    FaultCleared {
        /// The fault this clears.
        fault_id: Box<str>,
    },
    /// Passengers trapped; `ts` is the alarm.
    Entrapment {
        /// Box-unique incident id.
        incident_id: Box<str>,
        /// The fault that trapped them, if known.
        fault_id: Option<Box<str>>,
    },
    /// A rescuer is on site.
    RescueArrived {
        /// The entrapment.
        incident_id: Box<str>,
    },
    /// Passengers are out.
    Released {
        /// The entrapment.
        incident_id: Box<str>,
    },
    /// A technician on site.
    Maintenance {
        /// Box-unique visit id.
        visit_id: Box<str>,
        /// Start or end.
        phase: Phase,
    },
    /// The box is alive.
    Heartbeat {
        /// Operating mode.
        mode: Mode,
    },
    /// The controller's odometer.
    Counter {
        /// Cumulative runs read from the controller.
        runs_total: u64,
    },
}

impl Body {
    /// The kind of this body.
    pub fn kind(&self) -> Kind {
        match self {
            Body::Run { .. } => Kind::Run,
            Body::Fault { .. } => Kind::Fault,
            Body::FaultCleared { .. } => Kind::FaultCleared,
            Body::Entrapment { .. } => Kind::Entrapment,
            Body::RescueArrived { .. } => Kind::RescueArrived,
            Body::Released { .. } => Kind::Released,
            Body::Maintenance { .. } => Kind::Maintenance,
            Body::Heartbeat { .. } => Kind::Heartbeat,
            Body::Counter { .. } => Kind::Counter,
        }
    }
}
