//! The spool's writer thread: the one owner of the SQLite writing
//! connection (rusqlite is synchronous; a dedicated thread keeps disk waits
//! off the tokio runtime, as `tokio-rusqlite` does).
//!
//! It blocks for a command, then takes every other command already queued
//! and applies them all in ONE transaction: one fsync for all the messages
//! that arrived meanwhile (group commit) and all the deletes the batcher
//! sent. Only after the commit does it ask the acker to ack the appended
//! messages; a failed transaction is retried with backoff and nothing of it
//! is acked (during shutdown it is given up: the broker keeps the messages).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use liftwatch_core::protocol::Timestamp;
use tokio::sync::{mpsc, watch};

use super::gate::Gate;
use super::log::{Entry, SpoolLog};
use crate::acker::AckRequest;
use crate::metrics::Stats;
use crate::source::Received;

/// A received message on its way into the spool.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The message (kept to ack it after the commit).
    pub received: Received,
    /// When it was received.
    pub received_at: Timestamp,
    /// Its bytes, reserved in the [`Gate`].
    pub bytes: u64,
}

/// Messages the store has committed: an inclusive id range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Committed {
    /// First id of the range.
    pub first: i64,
    /// Last id of the range.
    pub last: i64,
    /// Messages in it.
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// What the writer thread is asked to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// Append these messages (in arrival order), then ack them.
    Append(Vec<Pending>),
    /// Delete messages the store has committed.
    Delete(Committed),
}

/// Most commands folded into one transaction.
const MAX_COMMANDS_PER_COMMIT: usize = 1024;
/// First wait after a failed spool transaction; doubled up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(100);
/// Longest wait between spool transaction attempts.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Runs until every command sender is gone. `appended` gets the last id
/// committed after every commit that appended something (the batcher reads
/// up to it); `acks` gets one numbered request per commit that appended.
pub(crate) fn run(
    mut log: SpoolLog,
    mut rx: mpsc::Receiver<Command>,
    acks: mpsc::UnboundedSender<AckRequest>,
    appended: watch::Sender<i64>,
    gate: Arc<Gate>,
    stats: Arc<Stats>,
    shutdown: watch::Receiver<bool>,
) {
    let spool = &stats.spool;
    let mut number = 0u64;
    while let Some(first) = rx.blocking_recv() {
        let mut cmds = vec![first];
        while cmds.len() < MAX_COMMANDS_PER_COMMIT {
            match rx.try_recv() {
                Ok(c) => cmds.push(c),
                Err(_) => break,
            }
        }
        let mut pending = Vec::new();
        let mut deletes = Vec::new();
        for c in cmds {
            match c {
                Command::Append(p) => pending.extend(p),
                Command::Delete(d) => deletes.push(d),
            }
        }
        let ranges: Vec<(i64, i64)> = deletes.iter().map(|d| (d.first, d.last)).collect();
        let mut backoff = RETRY_FIRST;
        let ids = loop {
            let entries: Vec<Entry<'_>> = pending
                .iter()
                .map(|p| Entry {
                    topic: &p.received.publish.topic,
                    payload: &p.received.publish.payload,
                    received_at: p.received_at,
                })
                .collect();
            match log.commit(&entries, &ranges) {
                Ok(ids) => break Some(ids),
                Err(e) if *shutdown.borrow() => {
                    tracing::error!(error = %e, path = %log.path().display(), "spool: write failed during shutdown; \
                        the messages stay unacked at the broker");
                    break None;
                }
                Err(e) => {
                    spool.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, path = %log.path().display(), retry_in = ?backoff,
                        "spool: write failed, retrying (messages stay unacked at the broker meanwhile)");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(RETRY_MAX);
                }
            }
        };
        let Some(ids) = ids else {
            let n = pending.len() as u64;
            gate.release(pending.iter().map(|p| p.bytes).sum());
            stats.acks_pending.fetch_sub(n, Ordering::Relaxed);
            continue;
        };
        // Committed (fsynced): account, then let the broker forget the messages.
        let (del_messages, del_bytes) = deletes.iter().fold((0u64, 0u64), |(m, b), d| (m + d.messages, b + d.bytes));
        let add_bytes: u64 = pending.iter().map(|p| p.bytes).sum();
        spool.messages.fetch_add(pending.len() as u64, Ordering::Relaxed);
        spool.messages.fetch_sub(del_messages, Ordering::Relaxed);
        spool.bytes.fetch_add(add_bytes, Ordering::Relaxed);
        spool.bytes.fetch_sub(del_bytes, Ordering::Relaxed);
        if !deletes.is_empty() || spool.oldest_micros.load(Ordering::Relaxed) == 0 {
            match log.oldest() {
                Ok(t) => spool.oldest_micros.store(t.map_or(0, Timestamp::micros), Ordering::Relaxed),
                Err(e) => tracing::warn!(error = %e, "spool: cannot read the oldest message's time"),
            }
        }
        if del_bytes > 0 {
            gate.release(del_bytes);
        }
        if let Some(&last) = ids.last() {
            spool.appends.fetch_add(ids.len() as u64, Ordering::Relaxed);
            spool.commit_messages.observe(ids.len() as f64);
            // Spooled: their bytes go back to the budget now (crate::budget).
            let messages = pending.into_iter().map(|p| p.received.committed()).collect();
            let _ = acks.send(AckRequest { batch: number, messages });
            number += 1;
            appended.send_replace(last);
        }
    }
}
