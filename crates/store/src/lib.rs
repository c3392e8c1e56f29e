//! The store port of liftwatch ([`port`]: one trait per capability) and its
//! PostgreSQL / TimescaleDB adapter ([`postgres`]).
//!
//! The ingest port ([`EventStore`]) is what the gateway needs: store one batch of
//! decoded MQTT messages in ONE transaction — new events once by identity,
//! the additive daily rollups and paired incidents they change, dead letters
//! for everything rejected — so that acknowledging the messages after the
//! commit counts every event exactly once. The semantics are those of
//! [`liftwatch_core::ledger::Ledger`]; the conformance tests compare both.

pub mod dead_letters;
mod error;
pub mod findings;
pub mod port;
pub mod postgres;
pub mod records;
pub mod registry;

use liftwatch_core::protocol::{Decoded, Timestamp};

pub use error::StoreError;
pub use port::{
    DeadLetters, EventStore, Findings, FirmRecords, Health, Kpis, PoolStatus, Registry, RegulatorRecords, Store,
};
pub use postgres::{PgOptions, PgStore};

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
    pub new_by_kind: [u64; 9],
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

/// The capability traits, to call store methods on an `Arc<dyn Store>`:
/// `use liftwatch_store::prelude::*;`.
pub mod prelude {
    pub use crate::port::{
        DeadLetters, EventStore, Findings, FirmRecords, Health, Kpis, Registry, RegulatorRecords, Store,
    };
}
