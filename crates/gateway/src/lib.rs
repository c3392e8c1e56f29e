//! MQTT ingest: box → broker → gateway → store.
//!
//! A pipeline of three tasks, one module each, with bounded hand-overs:
//!
//! ```text
//! source ──bounded queue──► batcher ──one transaction per batch──► store
//!   ▲                          │ committed batches, numbered
//!   └── rumqttc event loop     ▼
//!           ◄──── PUBACK ──── acker (in arrival order, on the arrival connection)
//! ```
//!
//! - the **source** polls the rumqttc event loop and
//!   forwards each QoS 1 publish into the queue (it never awaits an ack or a
//!   publish itself — rumqtt issues #263/#1025: that can deadlock). When the
//!   queue is full it stops polling, the broker stops sending (in-flight
//!   window), and memory stays bounded: a slow database slows consumption;
//! - the **batcher** takes what is queued (up to the batch bounds), decodes
//!   it, stores it in ONE transaction, retrying transient errors and
//!   splitting a refused batch so only the refused message is dead-lettered;
//! - the **acker** acks every message of a batch only after its commit.
//!
//! A crash before the commit loses nothing (the broker redelivers the unacked
//! messages of the persistent session); a crash after the commit but before
//! the acks re-delivers messages whose events are then dropped as duplicates
//! by identity. So every event is counted exactly once.
//!
//! With a [`Spool`] (the default in `liftwatch serve`) the acker acks a
//! message once it is fsynced into the gateway's local write-ahead log
//! instead of after the database commit, and the batcher reads the spool
//! instead of the queue; see [`spool`]. The broker's queue then stays near
//! empty whatever the database does. Without a spool, behaviour is as above.
//!
//! Configuration and its defaults: [`GatewayConfig`] and the `DEFAULT_*`
//! constants; counters: [`Stats`].

mod acker;
mod batcher;
mod budget;
mod config;
mod metrics;
pub mod pruner;
mod source;
pub mod spool;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use liftwatch_core::protocol::{Invalid, Timestamp};
use liftwatch_store::EventStore;
use rumqttc::AsyncClient;
use tokio::sync::{mpsc, watch};

pub use config::{
    redact_url, GatewayConfig, DEFAULT_BATCH_LINGER_MS, DEFAULT_BATCH_MAX_EVENTS, DEFAULT_BATCH_MAX_MESSAGES,
    DEFAULT_CLIENT_ID, DEFAULT_KEEP_ALIVE_SECS, DEFAULT_MAX_INFLIGHT_BATCHES, DEFAULT_MQTT_URL, DEFAULT_QUEUE_MESSAGES,
    DEFAULT_SHARE_GROUP, REDACTED,
};
pub use config::{DEFAULT_BATCH_MAX_BYTES, DEFAULT_QUEUE_MAX_BYTES, DEFAULT_STORE_ATTEMPTS};
pub use metrics::{Label, SpoolStats, Stats};
pub use source::{mqtt_options, GatewayError};
pub use spool::{Spool, SpoolConfig, SpoolError, DEFAULT_SPOOL_DIR_NAME, DEFAULT_SPOOL_MAX_BYTES};

/// Largest MQTT packet the gateway accepts from the broker: 1 MiB, four times
/// the protocol's 256 KiB payload limit. rumqttc drops the connection on a
/// larger packet without delivering it, and with a persistent session the
/// broker would send the same packet first again after every reconnect — a
/// stall. So the client limit is kept well above the protocol's: payloads
/// between 256 KiB and 1 MiB are delivered, decoded and dead-lettered as
/// `payload_too_large`, and the broker must be configured to refuse packets
/// over 1 MiB (`max_packet_size` in deploy/mosquitto/liftwatch.conf).
pub const MAX_PACKET_BYTES: usize = 1024 * 1024;

/// Reason code of a message the store refused (dead-lettered whole).
pub const STORE_REFUSED: &str = "store_refused";

/// Every dead-letter reason code: the decoder's [`Invalid::CODES`] and
/// [`STORE_REFUSED`] (pre-registered so each shows in `/metrics` as 0).
pub fn dead_letter_reasons() -> impl Iterator<Item = &'static str> {
    Invalid::CODES.iter().copied().chain([STORE_REFUSED])
}

/// A running gateway.
pub struct Gateway {
    /// Its counters.
    pub stats: Arc<Stats>,
    source: tokio::task::JoinHandle<()>,
    sink: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Connects and starts consuming. `shutdown` flipping to `true` stops
    /// taking new messages; what was received is acked once stored (or, with
    /// a spool, once spooled), then the connection is closed.
    ///
    /// With `spool`, messages are acked once spooled and stored from the
    /// spool; what an earlier run left in it is replayed first.
    pub fn start<S: EventStore>(
        cfg: GatewayConfig,
        store: S,
        spool: Option<Spool>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Gateway, GatewayError> {
        let opts = mqtt_options(&cfg)?;
        // Request channel: acks of everything that can be in the pipeline fit,
        // so acking never waits on the event loop.
        let cap = cfg.queue_messages + cfg.batch_max_messages + 64;
        let (client, eventloop) = AsyncClient::new(opts, cap);
        let (tx, rx) = mpsc::channel(cfg.queue_messages.max(1));
        // The ack queue holds at most the messages received and committed (or
        // spooled) but not yet acked, bounded by what the source let in
        // (queue + batches in flight, or + one spool commit).
        let (ack_tx, ack_rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        let budget = budget::ByteBudget::new(cfg.queue_max_bytes);
        *stats.pipeline_bytes.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(budget.clone());
        let source = tokio::spawn(source::run(
            cfg.clone(),
            client.clone(),
            eventloop,
            tx,
            budget,
            stats.clone(),
            shutdown.clone(),
        ));
        let clock: batcher::Clock = Arc::new(Timestamp::now);
        let max_batch = cfg.batch_max_messages;
        let batcher = batcher::Batcher {
            cfg,
            store,
            stats: stats.clone(),
            clock: clock.clone(),
            shutdown: shutdown.clone(),
            known_good: Default::default(),
        };
        let acker = tokio::spawn(acker::run(client.clone(), ack_rx, stats.clone()));
        let sink = match spool {
            None => tokio::spawn(async move {
                // Returns once the queue is closed (shutdown) and every batch is
                // committed or given up; dropping its ack sender ends the acker.
                batcher.run(rx, ack_tx).await;
                let _ = acker.await;
                let _ = client.disconnect().await;
            }),
            Some(Spool { log, reader, tail, max_bytes }) => {
                let s = &stats.spool;
                s.enabled.store(true, Ordering::Relaxed);
                s.bytes.store(tail.bytes, Ordering::Relaxed);
                s.messages.store(tail.messages, Ordering::Relaxed);
                s.replayed.store(tail.messages, Ordering::Relaxed);
                s.oldest_micros.store(tail.oldest.map_or(0, Timestamp::micros), Ordering::Relaxed);
                if tail.messages > 0 {
                    tracing::info!(
                        messages = tail.messages,
                        bytes = tail.bytes,
                        "spool: replaying what an earlier run left"
                    );
                }
                let gate = Arc::new(spool::gate::Gate::new(max_bytes, tail.bytes));
                let (cmd_tx, cmd_rx) = mpsc::channel(SPOOL_COMMANDS);
                let (appended_tx, appended_rx) = watch::channel(tail.last_id);
                let writer = {
                    let (gate, stats, shutdown) = (gate.clone(), stats.clone(), shutdown.clone());
                    std::thread::Builder::new()
                        .name("liftwatch-spool".into())
                        .spawn(move || spool::writer::run(log, cmd_rx, ack_tx, appended_tx, gate, stats, shutdown))
                        .map_err(GatewayError::Thread)?
                };
                let appender = spool::gate::Appender { gate, stats: stats.clone(), clock, max_batch, shutdown };
                let appender = tokio::spawn(appender.run(rx, cmd_tx.clone()));
                tokio::spawn(async move {
                    // Ends at shutdown with the batches in flight done; the
                    // appender ends once the source closed the queue; then the
                    // writer (last command sender gone) commits what it has,
                    // acks it, and ends — which ends the acker.
                    batcher.run_spooled(reader, appended_rx, cmd_tx).await;
                    let _ = appender.await;
                    let _ = tokio::task::spawn_blocking(move || writer.join()).await;
                    let _ = acker.await;
                    let _ = client.disconnect().await;
                })
            }
        };
        Ok(Gateway { stats, source, sink })
    }

    /// Waits until every task ended (after shutdown).
    pub async fn join(self) {
        let _ = self.sink.await;
        let _ = self.source.await;
    }
}

/// Commands queued towards the spool's writer thread (each an append of up
/// to `batch_max_messages` messages or a delete of one committed batch).
const SPOOL_COMMANDS: usize = 64;
