//! The store port of liftwatch ([`port`]: one trait per capability) and its
//! two adapters: PostgreSQL / TimescaleDB ([`postgres`]) and the embedded
//! SQLite store ([`sqlite`]), held to the same conformance suite.
//!
//! The ingest port ([`EventStore`]) is what the gateway needs: store one batch of
//! decoded MQTT messages in ONE transaction — new events once by identity,
//! the additive daily rollups and paired incidents they change, dead letters
//! for everything rejected — so that acknowledging the messages after the
//! commit counts every event exactly once. The semantics are those of
//! [`liftwatch_core::ledger::Ledger`]; the conformance tests compare both.

pub mod alerts;
pub mod dead_letters;
mod error;
pub mod findings;
pub mod inspections;
pub mod overview;
pub mod port;
pub mod postgres;
pub mod records;
pub mod registry;
pub mod sqlite;

pub use error::StoreError;
pub use liftwatch_core::ingest::{Inbound, IngestReport};
pub use port::{
    Alerts, DeadLetters, EventStore, Findings, FirmRecords, Health, Inspections, Kpis, Leadership, Lease, PoolStatus,
    Registry, RegulatorRecords, RuleInputs, Store, Telemetry,
};
pub use postgres::{PgOptions, PgStore};
pub use sqlite::{SqliteOptions, SqliteStore};

/// The capability traits, to call store methods on an `Arc<dyn Store>`:
/// `use liftwatch_store::prelude::*;` (and the [`records::Scope`] their calls take).
pub mod prelude {
    pub use crate::port::{
        Alerts, DeadLetters, EventStore, Findings, FirmRecords, Health, Inspections, Kpis, Leadership, Lease, Registry,
        RegulatorRecords, RuleInputs, Store, Telemetry,
    };
    /// Every firm-record and elevator-KPI call takes one.
    pub use crate::records::Scope;
}
