//! The spool: a local write-ahead log between the broker and the store.
//!
//! Stock Mosquitto and EMQX queue at most 1,000 QoS 1 messages per client and
//! drop the rest. Acking only after the database commit leaves every burst
//! or database pause longer than that queue to the broker — and the broker
//! loses it, silently. With the spool, a message is acked as soon as it is
//! on the gateway's own disk:
//!
//! ```text
//! source ──queue──► appender ──Append──► writer thread ──COMMIT (fsync)──► acker ──PUBACK
//!  (MQTT)           (byte bound)          (SQLite, WAL,        │
//!                                          group commit)       ▼ last id (watch)
//!                     Delete(ids) ◄────────── batcher ◄── read in id order
//!                     after the store's commit
//! ```
//!
//! - [`gate`]: the appender task takes received messages, reserves their
//!   bytes against `max_bytes` (waiting — and saying so — while the spool is
//!   full) and hands them to the writer;
//! - [`writer`]: ONE thread owns the SQLite connection (rusqlite is
//!   synchronous; the runtime never waits on disk); it takes every command
//!   queued meanwhile — appends of new messages and deletes of committed
//!   ones — into one transaction, so one fsync covers them all (group
//!   commit), then asks the acker to ack the appended messages, in arrival
//!   order, on their arrival connection;
//! - the batcher reads the spool in id order from its own connection
//!   (`spawn_blocking`), stores batches as before, and after each commit
//!   deletes the batch's id range. At start it begins at id 0: the tail an
//!   earlier run left (a crash, a shutdown while the database was away) is
//!   replayed first. Replays are harmless: the store drops duplicates by
//!   event identity.
//!
//! [`log`] is the storage itself, plain synchronous code with its own tests.

pub(crate) mod gate;
pub mod log;
pub(crate) mod writer;

use std::path::PathBuf;

pub use log::{Row, SpoolError, Tail};

/// Default bound of the spool, bytes of topic and payload (1 GiB).
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 1024 * 1024 * 1024;
/// Name of the spool folder inside the data folder (its default location).
pub const DEFAULT_SPOOL_DIR_NAME: &str = "spool";

/// Where the spool lives and how much it may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// Its folder (created if missing); one per gateway process.
    pub dir: PathBuf,
    /// Once the spool holds this many bytes of messages (topic + payload),
    /// the gateway stops taking new messages until the store catches up:
    /// they stay unacked at the broker.
    pub max_bytes: u64,
}

/// An opened spool, ready to hand to [`crate::Gateway::start`].
#[derive(Debug)]
pub struct Spool {
    pub(crate) log: log::SpoolLog,
    pub(crate) reader: log::SpoolReader,
    pub(crate) tail: Tail,
    pub(crate) max_bytes: u64,
}

impl Spool {
    /// Opens (or creates) the spool and takes its lock; refuses when another
    /// process holds it. Blocking file I/O: call it from `spawn_blocking` or
    /// before the runtime starts.
    pub fn open(cfg: &SpoolConfig) -> Result<Spool, SpoolError> {
        let (log, tail) = log::SpoolLog::open(&cfg.dir)?;
        let reader = log.reader()?;
        Ok(Spool { log, reader, tail, max_bytes: cfg.max_bytes })
    }

    /// What the spool held when opened: the tail to replay.
    pub fn tail(&self) -> Tail {
        self.tail
    }
}
