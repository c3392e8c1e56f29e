//! Storing one batch: retry, split, dead-letter — or halt (issue 9, items 6
//! and 7). Never loops on a permanent error, never dead-letters the world.
//!
//! - A **transient** failure is retried with backoff. It counts against the
//!   batch only while the store still answers (`ping`): after
//!   `store_attempts` such failures the batch is split in halves, so a
//!   message that keeps failing is isolated. While the store does not
//!   answer (an outage) the batch waits as it is, unsplit.
//! - A **permanent** refusal splits the batch at once.
//! - A message that still fails alone is *refused*. Refused messages are
//!   dead-lettered ([`STORE_REFUSED`]) — unless the store refuses everything
//!   ([`Storer::refuses_everything`]), e.g. a schema mismatch during a
//!   rolling upgrade: then nothing is dead-lettered, ingest **halts** (error
//!   log, `liftwatch_ingest_halted` 1, `/readyz` 503), the batch keeps its
//!   permits so no new batch starts, its messages stay unacked (or in the
//!   spool), and the refused part is tried again after a backoff until the
//!   store takes it.
//! - A dead letter the store refuses permanently halts as well (the dead
//!   letter table itself is broken); its write is not retried as it is.
//!
//! "Refuses everything" is decided by a probe, not by counting: the store
//! is asked (in a transaction rolled back) to take again a message it took
//! before in this run. If it refuses that too, the refusal is not the
//! messages' fault. Before any message was taken in this run there is no
//! such message; then a batch of at least two messages every one of which
//! is refused with the same error counts as everything refused (a single
//! message alone is dead-lettered: one refusal proves nothing).

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use liftwatch_store::{EventStore, Inbound, IngestReport, StoreError};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{RETRY_FIRST, RETRY_MAX};
use crate::metrics::Stats;
use crate::STORE_REFUSED;

/// Longest wait between two tries of a halted batch.
const HALT_RETRY_MAX: Duration = Duration::from_secs(30);

/// A message the store took in this run, to probe with (see module docs).
pub(crate) type KnownGood = Arc<Mutex<Option<Inbound>>>;

/// What a (possibly split) store attempt came to.
#[derive(Default)]
struct Bisected {
    /// What the committed parts did.
    report: IngestReport,
    /// Messages refused alone: index in the part stored, and why.
    refused: Vec<(usize, StoreError)>,
}

/// Stores batches by the rules of this module; one per batch task.
#[derive(Clone)]
pub(crate) struct Storer<S> {
    /// Where batches go.
    pub store: S,
    /// Counters (`store_retries`, `store_splits`, `halted` …).
    pub stats: Arc<Stats>,
    /// Flips to `true` on shutdown: a failing batch is then given up.
    pub shutdown: watch::Receiver<bool>,
    /// Transient failures (while the store answers) before a split.
    pub attempts: u32,
    /// The probe message.
    pub known_good: KnownGood,
}

impl<S: EventStore> Storer<S> {
    /// Stores `batch`; `None` when given up because of shutdown (nothing of
    /// it may then be acked; what was committed is a duplicate next time).
    pub(crate) async fn store(&self, batch: &[Inbound]) -> Option<IngestReport> {
        let mut part = Cow::Borrowed(batch);
        let mut report = IngestReport::default();
        let mut halted = false;
        let mut pause = RETRY_FIRST;
        let result = loop {
            let Some(b) = self.bisect(&part, 0).await else { break None };
            report.merge(&b.report);
            if b.refused.is_empty() {
                self.remember(&part);
                break Some(report);
            }
            let outcome = match self.refuses_everything(&part, &b.refused).await {
                Some(why) => Err((why, b.refused)),
                None => {
                    // The store takes a known-good message now. A store-wide
                    // refusal may have ended between these messages' attempt
                    // and the probe (a migration finishing): try them once
                    // more, and dead-letter only what is refused again.
                    let idx: Vec<usize> = b.refused.iter().map(|(i, _)| *i).collect();
                    let again: Vec<Inbound> = idx.iter().map(|i| part[*i].clone()).collect();
                    let Some(a) = self.bisect(&again, 0).await else { break None };
                    report.merge(&a.report);
                    let refused: Vec<(usize, StoreError)> = a.refused.into_iter().map(|(j, e)| (idx[j], e)).collect();
                    if refused.is_empty() {
                        Ok(IngestReport::default())
                    } else {
                        self.dead_letter_all(&part, refused).await
                    }
                }
            };
            let (why, left) = match outcome {
                Ok(r) => {
                    report.merge(&r);
                    break Some(report);
                }
                Err(_) if *self.shutdown.borrow() => break None,
                Err(e) => e,
            };
            if !halted {
                halted = true;
                self.stats.halted.fetch_add(1, Ordering::Relaxed);
                self.stats.halts.fetch_add(1, Ordering::Relaxed);
                *self.stats.halt_reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = why.clone();
            }
            tracing::error!(reason = %why, messages = left.len(), retry_in = ?pause,
                "gateway: ingest halted: the store refuses everything; nothing is dead-lettered, the messages stay \
                 unacked (or spooled) and are tried again");
            if !self.sleep(pause).await {
                break None;
            }
            pause = (pause * 2).min(HALT_RETRY_MAX);
            part = Cow::Owned(left.iter().map(|(i, _)| part[*i].clone()).collect());
        };
        if halted {
            self.stats.halted.fetch_sub(1, Ordering::Relaxed);
            tracing::info!("gateway: ingest resumed: the store takes the halted messages again");
        }
        result
    }

    /// One store attempt of `part` (message indices from `base`), split on
    /// refusal as the module docs say. `None`: shutdown.
    async fn bisect(&self, part: &[Inbound], base: usize) -> Option<Bisected> {
        let mut failures = 0u32;
        let mut backoff = RETRY_FIRST;
        let e = loop {
            let t0 = Instant::now();
            let e = match self.store.ingest(part).await {
                Ok(report) => {
                    self.stats.commit_seconds.observe(t0.elapsed().as_secs_f64());
                    return Some(Bisected { report, refused: Vec::new() });
                }
                Err(_) if *self.shutdown.borrow() => return None,
                Err(e) => e,
            };
            if !e.is_transient() {
                break e;
            }
            self.stats.store_retries.fetch_add(1, Ordering::Relaxed);
            // An outage is not the batch's fault: only failures while the store answers count.
            if self.store.ping().await.is_ok() {
                failures += 1;
            }
            if failures >= self.attempts.max(1) {
                break e;
            }
            tracing::warn!(error = %e, retry_in = ?backoff, "gateway: store unavailable, retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(RETRY_MAX);
        };
        if part.len() == 1 {
            return Some(Bisected { refused: vec![(base, e)], ..Default::default() });
        }
        tracing::warn!(error = %e, messages = part.len(), "gateway: store refused a batch, splitting");
        self.stats.store_splits.fetch_add(1, Ordering::Relaxed);
        let mid = part.len() / 2;
        let mut a = Box::pin(self.bisect(&part[..mid], base)).await?;
        let b = Box::pin(self.bisect(&part[mid..], base + mid)).await?;
        a.report.merge(&b.report);
        a.refused.extend(b.refused);
        Some(a)
    }

    /// Why the refusals of `part` are the store's and not the messages'
    /// (see the module docs); `None` when they are the messages'.
    async fn refuses_everything(&self, part: &[Inbound], refused: &[(usize, StoreError)]) -> Option<String> {
        let good = self.known_good.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if let Some(good) = good {
            return match self.store.probe(std::slice::from_ref(&good)).await {
                Ok(()) => None,
                Err(e) => Some(format!("the store refuses a message it took before: {e}")),
            };
        }
        let first = refused[0].1.to_string();
        let same =
            part.len() >= 2 && refused.len() == part.len() && refused.iter().all(|(_, e)| e.to_string() == first);
        same.then(|| format!("the store refused each of the {} messages of a batch the same way: {first}", part.len()))
    }

    /// Dead-letters the refused messages; `Err` with why and what is left
    /// when the store refuses a dead letter permanently.
    async fn dead_letter_all(
        &self,
        part: &[Inbound],
        refused: Vec<(usize, StoreError)>,
    ) -> Result<IngestReport, (String, Vec<(usize, StoreError)>)> {
        let mut report = IngestReport::default();
        let mut left = refused.into_iter();
        while let Some((i, e)) = left.next() {
            let m = &part[i];
            tracing::error!(error = %e, topic = %m.topic, "gateway: store refused a message, dead-lettering it");
            match self.dead_letter(m, &e).await {
                Ok(()) => report.dead_letters.push(STORE_REFUSED),
                Err(why) => {
                    let mut rest = vec![(i, e)];
                    rest.extend(left);
                    return Err((why, rest));
                }
            }
        }
        Ok(report)
    }

    /// Writes one dead letter, retrying transient failures with backoff;
    /// `Err` (why) when the store refuses it permanently, or at shutdown.
    async fn dead_letter(&self, m: &Inbound, e: &StoreError) -> Result<(), String> {
        let reason = e.to_string();
        let mut backoff = RETRY_FIRST;
        loop {
            match self.store.dead_letter(m, STORE_REFUSED, &reason).await {
                Ok(()) => return Ok(()),
                Err(e2) if !e2.is_transient() => return Err(format!("the store refuses dead letters: {e2}")),
                Err(_) if *self.shutdown.borrow() => return Err("shutdown".into()),
                Err(e2) => {
                    tracing::warn!(error = %e2, "gateway: cannot write dead letter, retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// Keeps a message of a fully committed `part` as the probe message
    /// (once: one clone per run).
    fn remember(&self, part: &[Inbound]) {
        let mut good = self.known_good.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if good.is_none() {
            *good = part.iter().find(|m| m.decoded.rejects.is_empty() && !m.decoded.events.is_empty()).cloned();
        }
    }

    /// Waits `d`; `false` when shutdown came first.
    async fn sleep(&self, d: Duration) -> bool {
        let mut shutdown = self.shutdown.clone();
        let slept = tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = shutdown.wait_for(|s| *s) => false,
        };
        slept && !*self.shutdown.borrow()
    }
}
