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
//! - the **acker** acks every message of a batch only after its commit, and
//!   only on the connection it arrived on, while that is up (an ack of a
//!   lost connection is dropped and the broker redelivers the message; see
//!   `link.rs` for why and how none survives a reconnect).
//!
//! The source also subscribes on every connection and retries a refused or
//! unanswered subscription with backoff, and reports a client-id conflict
//! (another process taking the session over again and again; see `link.rs`).
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
mod link;
mod metrics;
pub mod pruner;
mod source;
pub mod spool;
mod subscription;

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
pub use link::{TAKEOVER_THRESHOLD, TAKEOVER_WINDOW};
pub use metrics::{Label, SpoolStats, Stats};
pub use source::{mqtt_options, GatewayError};
pub use spool::{Spool, SpoolConfig, SpoolError, DEFAULT_SPOOL_DIR_NAME, DEFAULT_SPOOL_MAX_BYTES};
pub use subscription::{
    Failure as SubscribeFailure, RETRY_FIRST as SUBSCRIBE_RETRY_FIRST, RETRY_MAX as SUBSCRIBE_RETRY_MAX, SUBACK_TIMEOUT,
};

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
    /// Watches the pipeline's tasks (see [`Gateway::failed`]).
    supervisor: tokio::task::JoinHandle<()>,
    /// Flips to `true` when the pipeline died.
    dead: watch::Receiver<bool>,
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
        let stopping = shutdown.clone();
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
        let link = Arc::new(std::sync::Mutex::new(link::Link::default()));
        let room = Arc::new(tokio::sync::Notify::new());
        let shared = source::Shared { link: link.clone(), room: room.clone() };
        let source = tokio::spawn(source::run(
            cfg.clone(),
            (client.clone(), eventloop),
            tx,
            budget,
            stats.clone(),
            shared,
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
        let acker = tokio::spawn(acker::run(client.clone(), ack_rx, link, room, stats.clone()));
        let sink = match spool {
            None => tokio::spawn(async move {
                // Returns once the queue is closed (shutdown) and every batch is
                // committed or given up; dropping its ack sender ends the acker.
                batcher.run(rx, ack_tx).await;
                resume_panic(acker.await);
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
                    resume_panic(appender.await);
                    if let Ok(Err(p)) = tokio::task::spawn_blocking(move || writer.join()).await {
                        std::panic::resume_unwind(p);
                    }
                    resume_panic(acker.await);
                    let _ = client.disconnect().await;
                })
            }
        };
        let (dead_tx, dead) = watch::channel(false);
        let supervisor = tokio::spawn(supervise(source, sink, stopping, stats.clone(), dead_tx));
        Ok(Gateway { stats, supervisor, dead })
    }

    /// Resolves when the pipeline died — a task panicked, or ended before
    /// shutdown — with why ([`Stats::failure`]); never while it runs. The
    /// process should then exit non-zero so that its supervisor restarts it
    /// (the broker, or the spool, still holds what was not stored).
    pub async fn failed(&self) -> String {
        let mut dead = self.dead.clone();
        let _ = dead.wait_for(|d| *d).await;
        self.stats.failure().unwrap_or_else(|| "the ingest pipeline ended".into())
    }

    /// Waits until every task ended (after shutdown).
    pub async fn join(self) {
        let _ = self.supervisor.await;
    }
}

/// Re-raises a task's panic in the task awaiting it (so the supervisor sees it).
fn resume_panic(r: Result<(), tokio::task::JoinError>) {
    if let Err(e) = r {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// Watches the source and the sink (batcher, acker, spool): either one
/// panicking, or ending before shutdown, is a dead pipeline: recorded in
/// [`Stats::failure`] and signalled on `dead`. After shutdown it waits for
/// both to end.
async fn supervise(
    mut source: tokio::task::JoinHandle<()>,
    mut sink: tokio::task::JoinHandle<()>,
    shutdown: watch::Receiver<bool>,
    stats: Arc<Stats>,
    dead: watch::Sender<bool>,
) {
    let (name, ended, other) = tokio::select! {
        r = &mut source => ("source (MQTT loop)", r, sink),
        r = &mut sink => ("sink (batcher, acker, spool)", r, source),
    };
    let why = match ended {
        Err(e) if e.is_panic() => Some(format!("the {name} task panicked: {}", panic_text(e))),
        Err(e) => Some(format!("the {name} task was cancelled: {e}")),
        Ok(()) if !*shutdown.borrow() => {
            Some(stats.failure().unwrap_or_else(|| format!("the {name} task ended before shutdown")))
        }
        Ok(()) => stats.failure(),
    };
    match why {
        Some(why) => {
            stats.fail(why);
            let _ = dead.send(true);
            // The process exits; the other task is not waited for.
            other.abort();
        }
        None => {
            let _ = other.await;
        }
    }
}

/// The message of a panic.
fn panic_text(e: tokio::task::JoinError) -> String {
    let p = e.into_panic();
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Commands queued towards the spool's writer thread (each an append of up
/// to `batch_max_messages` messages or a delete of one committed batch).
const SPOOL_COMMANDS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    /// Protects supervision (issue 9, item 8): a task panicking, or ending
    /// before shutdown, is a dead pipeline; ending after shutdown is not.
    #[tokio::test]
    async fn a_dead_task_is_reported_and_a_clean_shutdown_is_not() {
        let (_stop, running) = watch::channel(false);
        let stats = Arc::new(Stats::default());
        let (dead_tx, mut dead) = watch::channel(false);
        let source = tokio::spawn(std::future::pending::<()>());
        let sink = tokio::spawn(async { panic!("store task bug") });
        supervise(source, sink, running.clone(), stats.clone(), dead_tx).await;
        assert!(*dead.borrow_and_update());
        assert!(stats.failure().unwrap().contains("panicked: store task bug"), "{:?}", stats.failure());

        let stats = Arc::new(Stats::default());
        let (dead_tx, _) = watch::channel(false);
        let (source, sink) = (tokio::spawn(std::future::pending::<()>()), tokio::spawn(async {}));
        supervise(source, sink, running, stats.clone(), dead_tx).await;
        assert!(stats.failure().unwrap().contains("ended before shutdown"));

        let stats = Arc::new(Stats::default());
        let (dead_tx, dead) = watch::channel(false);
        let (stop, stopped) = watch::channel(true);
        let (source, sink) = (tokio::spawn(async {}), tokio::spawn(async {}));
        supervise(source, sink, stopped, stats.clone(), dead_tx).await;
        assert!(!*dead.borrow() && stats.failure().is_none());
        drop(stop);
    }
}
