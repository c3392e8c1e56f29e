//! The acker: acknowledges messages to the broker once their batch is
//! committed (or, with the spool, once they are spooled).
//!
//! It runs as its own task so that neither the batcher nor the source ever
//! waits on rumqttc's request channel, which only the source's event-loop
//! polling drains. (The batcher waiting there while the source waited on a
//! full queue was a deadlock once a broker delivered more unacked messages
//! than both buffers hold — Mosquitto 2.0 does not enforce
//! `max_inflight_messages` once a client acks; test
//! `a_large_backlog_does_not_stall_the_gateway`.) It never awaits the
//! channel either: it offers each ack without waiting, and when the channel
//! is full it waits for the source to report room (after each event the
//! event loop yields).
//!
//! Rules:
//! - a message is acked only after the commit of its batch;
//! - only on the connection it arrived on, while that connection is up
//!   ([`Link::offer`], under the link's lock; see [`crate::link`] for why
//!   and for how no ack survives into the next connection): otherwise the
//!   ack is dropped and the broker redelivers the message, a duplicate the
//!   store (or the spool's replay) drops;
//! - in arrival order: MQTT wants PUBACKs in the order the PUBLISHes came
//!   (MQTT 3.1.1 §4.6), and with several batches in flight a later batch can
//!   commit first, so its acks wait for the earlier batch (see [`InOrder`]).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use rumqttc::AsyncClient;
use tokio::sync::{mpsc, Notify};

use crate::link::{Link, Offer};
use crate::metrics::Stats;
use crate::source::Received;

/// What the batcher asks of the acker for one batch.
#[derive(Debug)]
pub(crate) struct AckRequest {
    /// The batch's number: batches are numbered 0, 1, 2, … in the order they
    /// were formed, i.e. in the arrival order of their messages.
    pub batch: u64,
    /// Its messages in arrival order, to ack; empty when the batch was not
    /// committed (shutdown while the store was unavailable): its messages
    /// stay unacked and the broker redelivers them next session.
    pub messages: Vec<Received>,
}

/// Releases the messages of numbered batches in batch order, whatever the
/// order the batches arrive in. Pure: the ordering rule, testable alone.
#[derive(Debug)]
pub(crate) struct InOrder<T> {
    /// The next batch number to release.
    next: u64,
    /// Batches that came before their turn.
    waiting: BTreeMap<u64, Vec<T>>,
}

impl<T> Default for InOrder<T> {
    fn default() -> Self {
        InOrder { next: 0, waiting: BTreeMap::new() }
    }
}

impl<T> InOrder<T> {
    /// Takes batch `batch`; returns every message now due, in order (nothing
    /// while an earlier batch is missing).
    pub(crate) fn push(&mut self, batch: u64, messages: Vec<T>) -> Vec<T> {
        self.waiting.insert(batch, messages);
        let mut due = Vec::new();
        while let Some(m) = self.waiting.remove(&self.next) {
            due.extend(m);
            self.next += 1;
        }
        due
    }

    /// Messages held back, waiting for an earlier batch.
    pub(crate) fn held(&self) -> usize {
        self.waiting.values().map(Vec::len).sum()
    }
}

/// Acks what the batcher (or the spool writer) sends until every sender is
/// gone. `room` is notified by the source after each event of the event
/// loop (it may have taken a request from rumqttc's channel).
pub(crate) async fn run(
    client: AsyncClient,
    mut rx: mpsc::UnboundedReceiver<AckRequest>,
    link: Arc<Mutex<Link>>,
    room: Arc<Notify>,
    stats: Arc<Stats>,
) {
    let mut order = InOrder::default();
    while let Some(AckRequest { batch, messages }) = rx.recv().await {
        for r in order.push(batch, messages) {
            loop {
                let offer = lock(&link).offer(r.connection, || client.try_ack(&r.publish).is_ok());
                match offer {
                    Offer::Sent => {}
                    Offer::Dropped => {
                        // The broker resends it on the next connection (a
                        // duplicate for the store), and that copy is acked.
                        stats.acks_dropped.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(pkid = r.publish.pkid, "gateway: not acking a message of a lost connection");
                    }
                    Offer::Full => {
                        room.notified().await;
                        continue;
                    }
                }
                break;
            }
            stats.acks_pending.fetch_sub(1, Ordering::Relaxed);
        }
    }
    // Every batch reports (committed or not, see `batcher::AckTicket`), so
    // nothing is held here; should a batch have gone missing, its successors
    // stay unacked and the broker redelivers them (duplicates, not losses).
    let held = order.held();
    if held > 0 {
        tracing::warn!(messages = held, "gateway: messages left unacked behind a missing batch");
        stats.acks_pending.fetch_sub(held as u64, Ordering::Relaxed);
    }
}

/// Locks the link (a panic while holding it cannot leave it inconsistent:
/// its updates are single assignments).
pub(crate) fn lock(link: &Mutex<Link>) -> std::sync::MutexGuard<'_, Link> {
    link.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A later batch that commits first is acked only after the earlier one,
    /// and an abandoned (empty) batch does not hold its successors back.
    #[test]
    fn batches_are_released_in_batch_order() {
        let mut o = InOrder::default();
        assert_eq!(o.push(1, vec!["c", "d"]), Vec::<&str>::new());
        assert_eq!(o.held(), 2);
        assert_eq!(o.push(0, vec!["a", "b"]), ["a", "b", "c", "d"]);
        assert_eq!(o.push(3, vec!["g"]), Vec::<&str>::new());
        assert_eq!(o.push(2, vec![]), ["g"]);
        assert_eq!(o.push(4, vec!["h"]), ["h"]);
        assert_eq!(o.held(), 0);
    }
}
