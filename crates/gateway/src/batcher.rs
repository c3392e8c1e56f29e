//! The batcher: takes what the source queued, forms batches within the size
//! bounds — messages, events and bytes — (and the linger time), decodes, and stores each batch in ONE
//! transaction ([`EventStore::ingest`]); after the commit it asks the acker
//! to ack the batch's messages.
//!
//! Retry classes (the store classifies its errors,
//! [`liftwatch_store::StoreError::is_transient`]), see [`retry`]:
//! - transient (database unreachable, deadlock …): the same batch is retried
//!   with backoff; its messages stay unacked in the broker meanwhile; a batch
//!   that keeps failing while the store answers is split;
//! - permanent (the data itself is refused): the batch is split in halves
//!   until the refused message is alone; it is dead-lettered as
//!   [`crate::STORE_REFUSED`] and everything else is committed — unless the
//!   store refuses everything: then ingest halts instead;
//! - during shutdown a failing batch is given up, unacked: the broker
//!   redelivers it next session.
//!
//! Time is read through an injected [`Clock`] (receive time, the decoder's
//! "now") and tokio's timer (linger, backoff, commit duration), so tests run
//! it under `tokio::time::pause` with a fixed clock.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use liftwatch_core::protocol::{decode_message, Timestamp};
use liftwatch_store::{EventStore, Inbound};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;

use crate::acker::AckRequest;
use crate::config::GatewayConfig;
use crate::metrics::Stats;
use crate::source::Received;
use crate::spool::log::{Row, SpoolReader};
use crate::spool::writer::{Command, Committed};
use retry::Storer;

/// Where the batcher reads the wall-clock time (receive time of a message,
/// the decoder's "now" for its future-timestamp check).
pub(crate) type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// First wait after a failed store attempt; doubled up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(100);
/// Longest wait between store attempts.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// The batcher's inputs and collaborators.
pub(crate) struct Batcher<S> {
    /// Batch bounds, linger, transactions in flight, topic prefix.
    pub cfg: GatewayConfig,
    /// Where batches go.
    pub store: S,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Wall clock.
    pub clock: Clock,
    /// Flips to `true` on shutdown (failing batches are then given up).
    pub shutdown: watch::Receiver<bool>,
    /// A message the store took in this run (see [`retry`]).
    pub known_good: KnownGood,
}

impl<S: EventStore> Batcher<S> {
    /// Consumes the queue until it is closed, then waits for the batches in
    /// flight. Every formed batch sends exactly one [`AckRequest`] to `acks`.
    pub(crate) async fn run(self, mut rx: mpsc::Receiver<Received>, acks: mpsc::UnboundedSender<AckRequest>) {
        let cfg = &self.cfg;
        // Up to `max_inflight_batches` store transactions at once, so decoding
        // and the next commit overlap the current one. Results do not depend
        // on the order of commits (identity dedupe, incident merge, additive
        // rollups); the acker restores the arrival order of the acks.
        let permits = Arc::new(Semaphore::new(cfg.max_inflight_batches.max(1)));
        let mut inflight = JoinSet::new();
        let mut number = 0u64;
        while let Some(first) = rx.recv().await {
            let mut pubs: Vec<Received> = Vec::with_capacity(cfg.batch_max_messages.min(1024));
            let mut batch: Vec<Inbound> = Vec::with_capacity(cfg.batch_max_messages.min(1024));
            batch.push(self.decode(&first));
            pubs.push(first);
            let mut events = batch[0].decoded.events.len();
            let mut bytes = size(&pubs[0]);
            while pubs.len() < cfg.batch_max_messages && events < cfg.batch_max_events && bytes < cfg.batch_max_bytes {
                let next = match rx.try_recv() {
                    Ok(p) => p,
                    Err(_) if cfg.linger.is_zero() => break,
                    Err(_) => match tokio::time::timeout(cfg.linger, rx.recv()).await {
                        Ok(Some(p)) => p,
                        _ => break,
                    },
                };
                let m = self.decode(&next);
                events += m.decoded.events.len();
                bytes += size(&next);
                batch.push(m);
                pubs.push(next);
            }
            let ticket = AckTicket { batch: number, acks: Some(acks.clone()) };
            number += 1;
            let after = AfterCommit::Ack { ticket, pubs };
            if !self.launch(&mut inflight, &permits, batch, events, after).await {
                break;
            }
        }
        // Queue closed (shutdown): everything received is committed (or given
        // up) and handed to the acker.
        while let Some(done) = inflight.join_next().await {
            if let Err(e) = done {
                self.stats.fail(format!("a store task failed: {e}"));
            }
        }
    }

    /// Spool mode: reads the spool in id (= arrival) order from id 0 — so an
    /// earlier run's tail is replayed first — forms batches within the
    /// bounds, stores them, and after each commit asks the writer to delete
    /// the batch's ids. Ends at shutdown once the batches in flight are done
    /// (what is left in the spool is replayed next start) or when the
    /// writer is gone.
    pub(crate) async fn run_spooled(
        self,
        reader: SpoolReader,
        mut appended: watch::Receiver<i64>,
        spool: mpsc::Sender<Command>,
    ) {
        let cfg = &self.cfg;
        let permits = Arc::new(Semaphore::new(cfg.max_inflight_batches.max(1)));
        let mut inflight = JoinSet::new();
        let reader = Arc::new(std::sync::Mutex::new(reader));
        let mut shutdown = self.shutdown.clone();
        let mut cursor = 0i64;
        let mut backoff = RETRY_FIRST;
        let limit = cfg.batch_max_messages.max(1);
        loop {
            if *shutdown.borrow() {
                break;
            }
            if !cfg.linger.is_zero() && *appended.borrow() - cursor < limit as i64 {
                let want = cursor + limit as i64;
                let _ = tokio::time::timeout(cfg.linger, appended.wait_for(|l| *l >= want)).await;
            }
            // Every id up to `seen` is committed, so visible to this read.
            let seen = *appended.borrow_and_update();
            let r = reader.clone();
            let max_bytes = cfg.batch_max_bytes;
            let read = tokio::task::spawn_blocking(move || {
                r.lock().unwrap_or_else(std::sync::PoisonError::into_inner).read_after(cursor, limit, max_bytes)
            })
            .await;
            let rows = match read {
                Ok(Ok(rows)) => {
                    backoff = RETRY_FIRST;
                    rows
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, retry_in = ?backoff, "spool: read failed, retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(RETRY_MAX);
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "spool: reader task failed");
                    break;
                }
            };
            if rows.is_empty() {
                cursor = cursor.max(seen);
                tokio::select! {
                    r = appended.wait_for(|l| *l > cursor) => if r.is_err() { break },
                    _ = shutdown.wait_for(|s| *s) => break,
                }
                continue;
            }
            let first = rows[0].id;
            let (mut events, mut bytes) = (0usize, 0u64);
            let mut batch: Vec<Inbound> = Vec::with_capacity(rows.len());
            for row in rows {
                if !batch.is_empty() && (events >= cfg.batch_max_events || bytes >= cfg.batch_max_bytes) {
                    break;
                }
                bytes += row.bytes();
                cursor = row.id;
                let m = self.decode_row(row);
                events += m.decoded.events.len();
                batch.push(m);
            }
            let range = Committed { first, last: cursor, messages: batch.len() as u64, bytes };
            let after = AfterCommit::Delete { spool: spool.clone(), range };
            if !self.launch(&mut inflight, &permits, batch, events, after).await {
                break;
            }
        }
        while let Some(done) = inflight.join_next().await {
            if let Err(e) = done {
                self.stats.fail(format!("a store task failed: {e}"));
            }
        }
    }

    /// Starts storing one batch once a transaction slot is free; `false`
    /// when no slot can be had any more.
    async fn launch(
        &self,
        inflight: &mut JoinSet<()>,
        permits: &Arc<Semaphore>,
        batch: Vec<Inbound>,
        events: usize,
        after: AfterCommit,
    ) -> bool {
        let Ok(permit) = permits.clone().acquire_owned().await else { return false };
        while let Some(done) = inflight.try_join_next() {
            if let Err(e) = done {
                self.stats.fail(format!("a store task failed: {e}"));
                return false;
            }
        }
        let storer = Storer {
            store: self.store.clone(),
            stats: self.stats.clone(),
            shutdown: self.shutdown.clone(),
            attempts: self.cfg.store_attempts,
            known_good: self.known_good.clone(),
        };
        let stats = self.stats.clone();
        inflight.spawn(async move {
            let Some(report) = storer.store(&batch).await else {
                // Shutting down while the store is unavailable: not committed.
                after.given_up(&stats);
                return;
            };
            stats.record(&report);
            stats.batch_events.observe(events as f64);
            stats.batches.fetch_add(1, Ordering::Relaxed);
            drop(permit);
            after.committed().await;
        });
        true
    }

    /// Decodes a message read back from the spool, as of its receive time.
    fn decode_row(&self, row: Row) -> Inbound {
        let topic = strip(&row.topic, &self.cfg.topic_prefix).to_owned();
        let decoded = decode_message(&topic, &row.payload, row.received_at);
        Inbound { topic, payload: row.payload, received_at: row.received_at, decoded }
    }

    /// Decodes one message as received now.
    fn decode(&self, r: &Received) -> Inbound {
        let now = (self.clock)();
        let p = &r.publish;
        let topic = strip(&p.topic, &self.cfg.topic_prefix).to_owned();
        let decoded = decode_message(&topic, &p.payload, now);
        Inbound { topic, payload: p.payload.to_vec(), received_at: now, decoded }
    }
}

/// What happens to a batch's messages once it is committed.
enum AfterCommit {
    /// No spool: ack them now (in arrival order, see [`AckTicket`]).
    Ack {
        /// The batch's place in the acker's order.
        ticket: AckTicket,
        /// Its messages.
        pubs: Vec<Received>,
    },
    /// Spool: they were acked when spooled; delete them from the spool.
    Delete {
        /// The writer thread's commands.
        spool: mpsc::Sender<Command>,
        /// The batch's ids.
        range: Committed,
    },
}

impl AfterCommit {
    /// The batch is committed.
    async fn committed(self) {
        match self {
            AfterCommit::Ack { ticket, pubs } => ticket.committed(pubs),
            AfterCommit::Delete { spool, range } => {
                // Writer gone (shutdown): the rows are replayed next start,
                // and the store drops them as duplicates.
                let _ = spool.send(Command::Delete(range)).await;
            }
        }
    }

    /// The batch was given up (shutdown while the store was unavailable).
    fn given_up(self, stats: &Stats) {
        match self {
            AfterCommit::Ack { ticket, pubs } => {
                // Left unacked: the broker redelivers them next session. The
                // ticket reports the batch as not committed when dropped.
                stats.acks_pending.fetch_sub(pubs.len() as u64, Ordering::Relaxed);
                drop(ticket);
            }
            // Left in the spool: replayed next start.
            AfterCommit::Delete { .. } => {}
        }
    }
}

/// A batch's place in the acker's order. It reports the batch exactly once:
/// with its messages once committed, or empty when dropped without a commit
/// (given up at shutdown, or the task panicked), so later batches are never
/// held back behind it.
struct AckTicket {
    batch: u64,
    acks: Option<mpsc::UnboundedSender<AckRequest>>,
}

impl AckTicket {
    /// The batch is committed: ack its messages.
    fn committed(mut self, messages: Vec<Received>) {
        if let Some(acks) = self.acks.take() {
            // Their bytes go back to the budget now, not when the acker gets
            // to them (it may be waiting for the source, which may be
            // waiting for bytes: see crate::budget).
            let messages = messages.into_iter().map(Received::committed).collect();
            let _ = acks.send(AckRequest { batch: self.batch, messages });
        }
    }
}

impl Drop for AckTicket {
    fn drop(&mut self) {
        if let Some(acks) = self.acks.take() {
            let _ = acks.send(AckRequest { batch: self.batch, messages: Vec::new() });
        }
    }
}

/// Bytes of a message towards the batch bound (topic + payload).
fn size(r: &Received) -> u64 {
    (r.publish.topic.len() + r.publish.payload.len()) as u64
}

/// Strips the deployment prefix from a topic.
fn strip<'t>(topic: &'t str, prefix: &str) -> &'t str {
    topic.strip_prefix(prefix).unwrap_or(topic)
}

mod retry;
#[cfg(test)]
mod tests;

pub(crate) use retry::KnownGood;
