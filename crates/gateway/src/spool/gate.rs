//! The appender: takes received messages from the source's queue, reserves
//! their bytes against the spool's bound and hands them to the writer
//! thread.
//!
//! When the spool is full it stops taking messages: the source's queue
//! fills, the source stops polling, and the messages stay unacked at the
//! broker (broker-side buffering again, as without a spool) until the store
//! has committed — and the writer deleted — enough to make room. It says so
//! once per transition: a log line, the `liftwatch_spool_full` gauge and
//! `/readyz`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch, Notify};

use super::log::entry_bytes;
use super::writer::{Command, Pending};
use crate::batcher::Clock;
use crate::metrics::Stats;
use crate::source::Received;

/// The spool's byte bound: bytes reserved by the appender (held in the
/// spool or on their way into it) against `max_bytes`.
#[derive(Debug)]
pub(crate) struct Gate {
    max_bytes: u64,
    reserved: AtomicU64,
    freed: Notify,
}

impl Gate {
    /// A gate for a spool that already holds `held` bytes.
    pub(crate) fn new(max_bytes: u64, held: u64) -> Gate {
        Gate { max_bytes, reserved: AtomicU64::new(held), freed: Notify::new() }
    }

    /// Reserves `bytes` if they fit. A message larger than the whole bound
    /// still passes into an empty spool (else it could never pass).
    pub(crate) fn try_reserve(&self, bytes: u64) -> bool {
        self.reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                (cur == 0 || cur.saturating_add(bytes) <= self.max_bytes).then(|| cur + bytes)
            })
            .is_ok()
    }

    /// Waits until `bytes` fit, then reserves them.
    pub(crate) async fn reserve(&self, bytes: u64) {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.try_reserve(bytes) {
                return;
            }
            freed.await;
        }
    }

    /// Gives back bytes (deleted from the spool, or never written).
    pub(crate) fn release(&self, bytes: u64) {
        let _ = self.reserved.fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| Some(cur.saturating_sub(bytes)));
        self.freed.notify_waiters();
    }

    /// Bytes reserved now.
    #[cfg(test)]
    pub(crate) fn reserved(&self) -> u64 {
        self.reserved.load(Ordering::Acquire)
    }
}

/// The appender's inputs.
pub(crate) struct Appender {
    /// The byte bound.
    pub gate: Arc<Gate>,
    /// Counters (`spool.full`, `acks_pending`).
    pub stats: Arc<Stats>,
    /// Stamps the receive time.
    pub clock: Clock,
    /// Most messages per append command.
    pub max_batch: usize,
    /// While full, a shutdown gives up waiting.
    pub shutdown: watch::Receiver<bool>,
}

impl Appender {
    /// Runs until the queue is closed (shutdown) or the writer is gone.
    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Received>, tx: mpsc::Sender<Command>) {
        while let Some(first) = rx.recv().await {
            let mut batch = Vec::new();
            let mut next = Some(first);
            while let Some(r) = next.take() {
                let bytes = entry_bytes(&r.publish.topic, &r.publish.payload);
                if !self.gate.try_reserve(bytes) {
                    // What is gathered goes first (and gets acked); then wait.
                    if !batch.is_empty() && tx.send(Command::Append(std::mem::take(&mut batch))).await.is_err() {
                        return;
                    }
                    if !self.wait_for_room(bytes).await {
                        // Shutdown while full: this message and what is still
                        // queued stay unacked; the broker redelivers them.
                        let mut dropped = 1;
                        while rx.try_recv().is_ok() {
                            dropped += 1;
                        }
                        self.stats.acks_pending.fetch_sub(dropped, Ordering::Relaxed);
                        return;
                    }
                }
                batch.push(Pending { received: r, received_at: (self.clock)(), bytes });
                if batch.len() < self.max_batch {
                    next = rx.try_recv().ok();
                }
            }
            if tx.send(Command::Append(batch)).await.is_err() {
                return;
            }
        }
    }

    /// Waits (saying so once) until `bytes` fit; `false` on shutdown.
    async fn wait_for_room(&mut self, bytes: u64) -> bool {
        let full = &self.stats.spool.full;
        full.store(true, Ordering::Relaxed);
        tracing::warn!(
            max_bytes = self.gate.max_bytes,
            "spool: full; new messages are not taken (they stay unacked at the broker) until the store catches up"
        );
        let room = tokio::select! {
            _ = self.gate.reserve(bytes) => true,
            _ = self.shutdown.wait_for(|s| *s) => false,
        };
        full.store(false, Ordering::Relaxed);
        if room {
            tracing::info!("spool: room again; taking new messages");
        }
        room
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound holds: a reservation that would cross it waits until bytes
    /// are released; a message larger than the bound passes an empty spool.
    #[tokio::test]
    async fn the_byte_bound_holds_and_recovers() {
        let gate = Arc::new(Gate::new(100, 0));
        assert!(gate.try_reserve(60));
        assert!(gate.try_reserve(40));
        assert!(!gate.try_reserve(1), "full at exactly the bound");
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move { gate.reserve(30).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        gate.release(20);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "20 freed is not room for 30");
        assert_eq!(gate.reserved(), 80);
        gate.release(60);
        waiter.await.unwrap();
        assert_eq!(gate.reserved(), 50);
        gate.release(50);
        assert!(gate.try_reserve(1_000), "an oversized message passes an empty spool");
        assert!(!gate.try_reserve(1));
    }
}
