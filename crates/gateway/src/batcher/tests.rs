//! The batcher against an in-memory store: batch bounds, retry classes, and
//! when (and in which order) acks are asked for. Time is tokio's paused
//! clock plus a fixed wall clock; tests wait for conditions, never for time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Mutex;

use liftwatch_core::protocol::{to_array_payload, topic_for, Body, DeviceCode, Event, Mode, MICROS_PER_MINUTE};
use rumqttc::{Publish, QoS};
use tokio::sync::mpsc::error::TryRecvError;

use super::*;
use crate::acker::InOrder;
use crate::STORE_REFUSED;
use liftwatch_store::{IngestReport, StoreError};

/// The platform's "now" in every test: 2026-03-01T00:00:00Z.
const NOW: Timestamp = Timestamp(1_772_323_200_000_000);

/// Messages are named by the `seq` of their first event: 1, 2, 3 …
type Id = u64;

/// What the in-memory store was told to do and what it did.
#[derive(Default)]
struct Script {
    /// Fail this many more `ingest` calls with a transient error.
    transient_failures: u32,
    /// Refuse (permanently) every batch holding this message.
    refuse: Option<Id>,
    /// Refuse (permanently, the same way) every batch and probe.
    refuse_all: bool,
    /// Refuse every batch until the next probe, which finds the store well
    /// again: a store-wide refusal that ends between a batch's attempt and
    /// the probe (e.g. a migration finishing).
    refuse_until_probe: bool,
    /// Fail (transiently, while `ping` answers) every batch holding this message.
    poison: Option<Id>,
    /// Refuse (permanently) this many more dead letters.
    refuse_dead_letters: u32,
    /// Probes run.
    probes: u32,
    /// Dead-letter writes tried.
    dead_letter_calls: u32,
    /// Panic in `ingest` (a bug in a store task).
    panic: bool,
    /// Make every batch holding this message wait for a permit of `gate`.
    hold: Option<Id>,
    /// Committed batches, in commit order.
    committed: Vec<Vec<Id>>,
    /// Dead letters written: message and reason code.
    dead_letters: Vec<(Id, String)>,
}

/// An [`EventStore`] in memory: records each committed batch; scriptable to
/// fail transiently N times, to refuse one message, to hold a batch.
#[derive(Clone)]
struct MemStore {
    script: Arc<Mutex<Script>>,
    /// Number of `ingest` calls so far (tests wait on it).
    attempts: Arc<watch::Sender<u32>>,
    /// Held batches wait here.
    gate: Arc<Semaphore>,
}

impl MemStore {
    fn new(script: Script) -> MemStore {
        MemStore {
            script: Arc::new(Mutex::new(script)),
            attempts: Arc::new(watch::channel(0).0),
            gate: Arc::new(Semaphore::new(0)),
        }
    }

    fn committed(&self) -> Vec<Vec<Id>> {
        self.script.lock().unwrap().committed.clone()
    }

    fn dead_letters(&self) -> Vec<(Id, String)> {
        self.script.lock().unwrap().dead_letters.clone()
    }

    /// Waits until `ingest` has been called at least `n` times.
    async fn attempted(&self, n: u32) {
        let mut rx = self.attempts.subscribe();
        rx.wait_for(|a| *a >= n).await.unwrap();
    }
}

fn id(m: &Inbound) -> Id {
    m.decoded.events[0].seq
}

impl EventStore for MemStore {
    fn ingest(&self, batch: &[Inbound]) -> impl Future<Output = Result<IngestReport, StoreError>> + Send {
        let ids: Vec<Id> = batch.iter().map(id).collect();
        let events: u64 = batch.iter().map(|m| m.decoded.events.len() as u64).sum();
        let this = self.clone();
        async move {
            this.attempts.send_modify(|a| *a += 1);
            let held = this.script.lock().unwrap().hold.is_some_and(|h| ids.contains(&h));
            if held {
                this.gate.acquire().await.unwrap().forget();
            }
            let mut s = this.script.lock().unwrap();
            assert!(!s.panic, "store task bug");
            if s.transient_failures > 0 {
                s.transient_failures -= 1;
                return Err(StoreError::Transient("connection lost".into()));
            }
            if s.refuse_all || s.refuse_until_probe {
                return Err(StoreError::Permanent("23514: check constraint \"upgrade\" violated".into()));
            }
            if s.refuse.is_some_and(|r| ids.contains(&r)) {
                return Err(StoreError::Permanent("23514: check constraint violated".into()));
            }
            if s.poison.is_some_and(|r| ids.contains(&r)) {
                return Err(StoreError::Transient("57014: statement timeout".into()));
            }
            s.committed.push(ids);
            Ok(IngestReport { new_events: events, ..Default::default() })
        }
    }

    fn dead_letter(
        &self,
        m: &Inbound,
        reason_code: &str,
        _reason: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let mut s = self.script.lock().unwrap();
        s.dead_letter_calls += 1;
        if s.refuse_dead_letters > 0 {
            s.refuse_dead_letters -= 1;
            return std::future::ready(Err(StoreError::Permanent("22021: invalid byte sequence".into())));
        }
        s.dead_letters.push((id(m), reason_code.to_owned()));
        std::future::ready(Ok(()))
    }

    async fn probe(&self, _batch: &[Inbound]) -> Result<(), StoreError> {
        let mut s = self.script.lock().unwrap();
        s.probes += 1;
        s.refuse_until_probe = false;
        if s.refuse_all {
            return Err(StoreError::Permanent("23514: check constraint \"upgrade\" violated".into()));
        }
        Ok(())
    }

    /// Down (connection lost) while transient failures are scripted.
    async fn ping(&self) -> Result<(), StoreError> {
        match self.script.lock().unwrap().transient_failures {
            0 => Ok(()),
            _ => Err(StoreError::Transient("connection lost".into())),
        }
    }
}

/// Message `n`: `events` heartbeats with seq `n`, `n + 1000`, … from one
/// device, a minute before [`NOW`]; packet id `n`, connection 1.
fn message(n: u64, events: u64) -> Received {
    let device = DeviceCode::parse("31103302002018120001").unwrap();
    let evs: Vec<Event> = (0..events)
        .map(|k| Event {
            device,
            seq: n + 1000 * k,
            ts: Timestamp(NOW.0 - MICROS_PER_MINUTE),
            ts_offset: 0,
            body: Body::Heartbeat { mode: Mode::Normal },
        })
        .collect();
    let mut publish = Publish::new(topic_for(&device), QoS::AtLeastOnce, to_array_payload(&evs));
    publish.pkid = u16::try_from(n).unwrap();
    Received { publish, connection: 1, _held: crate::budget::Held::nothing() }
}

/// A batcher running on its own task, fed and observed by the test.
struct Harness {
    store: MemStore,
    stats: Arc<Stats>,
    queue: Option<mpsc::Sender<Received>>,
    acks: mpsc::UnboundedReceiver<AckRequest>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Harness {
    fn start(cfg: GatewayConfig, store: MemStore) -> Harness {
        let (queue, rx) = mpsc::channel(64);
        let (ack_tx, acks) = mpsc::unbounded_channel();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let stats = Arc::new(Stats::default());
        let batcher = Batcher {
            cfg,
            store: store.clone(),
            stats: stats.clone(),
            clock: Arc::new(|| NOW),
            shutdown: shutdown_rx,
            known_good: Default::default(),
        };
        let task = tokio::spawn(batcher.run(rx, ack_tx));
        Harness { store, stats, queue: Some(queue), acks, shutdown, task }
    }

    /// Queues messages as the source does (they count as pending acks).
    fn send(&self, ids: impl IntoIterator<Item = u64>, events: u64) {
        for n in ids {
            self.queue.as_ref().unwrap().try_send(message(n, events)).unwrap();
            self.stats.acks_pending.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Closes the queue (as the source does on shutdown) and waits for the
    /// batcher to finish; returns every ack request, in the order sent.
    async fn finish(mut self) -> (Vec<AckRequest>, MemStore, Arc<Stats>) {
        self.queue = None;
        self.task.await.unwrap();
        let mut requests = Vec::new();
        while let Some(r) = self.acks.recv().await {
            requests.push(r);
        }
        (requests, self.store, self.stats)
    }
}

/// Waits (on the paused clock) until `cond` holds.
async fn until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..100_000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn cfg(batch_max_messages: usize, batch_max_events: usize) -> GatewayConfig {
    GatewayConfig { batch_max_messages, batch_max_events, max_inflight_batches: 1, ..Default::default() }
}

/// The messages acked, in the order the acker would ack them.
fn acked(requests: Vec<AckRequest>) -> Vec<Id> {
    let mut order = InOrder::default();
    let mut out = Vec::new();
    for r in requests {
        out.extend(order.push(r.batch, r.messages).into_iter().map(|m| u64::from(m.publish.pkid)));
    }
    assert_eq!(order.held(), 0, "a batch never reported");
    out
}

/// Protects the byte bound (issue 9, item 9): a batch closes once it holds
/// `batch_max_bytes` (topic + payload), whatever its message count.
#[tokio::test(start_paused = true)]
async fn batches_close_at_max_bytes() {
    let one = size(&message(1, 1));
    let h =
        Harness::start(GatewayConfig { batch_max_bytes: 2 * one, ..cfg(1000, 1000) }, MemStore::new(Script::default()));
    h.send(1..=5, 1);
    let (_, store, _) = h.finish().await;
    assert_eq!(store.committed(), [vec![1, 2], vec![3, 4], vec![5]]);
}

/// Protects the message bound: a batch closes at `batch_max_messages`.
#[tokio::test(start_paused = true)]
async fn batches_close_at_max_messages() {
    let h = Harness::start(cfg(3, 1000), MemStore::new(Script::default()));
    h.send(1..=7, 1);
    let (acks, store, stats) = h.finish().await;
    assert_eq!(store.committed(), [vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
    assert_eq!(stats.batches.load(Ordering::Relaxed), 3);
    assert_eq!(stats.events_new.load(Ordering::Relaxed), 7);
    assert_eq!(acked(acks), [1, 2, 3, 4, 5, 6, 7]);
}

/// Protects the event bound: a batch closes once it holds
/// `batch_max_events` (a message is never split, so it may cross it).
#[tokio::test(start_paused = true)]
async fn batches_close_at_max_events() {
    let h = Harness::start(cfg(1000, 5), MemStore::new(Script::default()));
    h.send(1..=7, 2);
    let (acks, store, _) = h.finish().await;
    assert_eq!(store.committed(), [vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
    assert_eq!(acked(acks), [1, 2, 3, 4, 5, 6, 7]);
}

/// Protects linger: a message arriving while a small batch lingers joins
/// it; one arriving after the flush starts the next batch.
#[tokio::test(start_paused = true)]
async fn linger_gathers_messages_that_arrive_within_it() {
    let linger = Duration::from_millis(200);
    let h = Harness::start(GatewayConfig { linger, ..cfg(1000, 1000) }, MemStore::new(Script::default()));
    h.send([1], 1);
    tokio::time::advance(linger / 2).await;
    h.send([2], 1);
    // Nothing else runs: the paused clock jumps to the end of the linger.
    h.store.attempted(1).await;
    h.send([3], 1);
    let (acks, store, _) = h.finish().await;
    assert_eq!(store.committed(), [vec![1, 2], vec![3]]);
    assert_eq!(acked(acks), [1, 2, 3]);
}

/// Protects the transient class: the same batch is retried (with backoff,
/// on the paused clock) and committed exactly once, then acked once.
#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried_and_the_batch_committed_once() {
    let store = MemStore::new(Script { transient_failures: 3, ..Default::default() });
    let h = Harness::start(cfg(1000, 1000), store);
    h.send(1..=3, 1);
    let (acks, store, stats) = h.finish().await;
    assert_eq!(store.committed(), [vec![1, 2, 3]]);
    assert_eq!(*store.attempts.borrow(), 4);
    assert_eq!(stats.store_retries.load(Ordering::Relaxed), 3);
    assert_eq!(stats.batches.load(Ordering::Relaxed), 1);
    assert!(store.dead_letters().is_empty());
    assert_eq!(acks.len(), 1);
    assert_eq!(acked(acks), [1, 2, 3]);
    assert_eq!(stats.acks_pending.load(Ordering::Relaxed), 3, "the acker (not run here) decrements");
}

/// Protects the permanent class: the batch is split until the refused
/// message is alone; only it is dead-lettered, the rest is committed, and
/// every message (the dead-lettered one too) is acked.
#[tokio::test(start_paused = true)]
async fn a_refused_message_is_dead_lettered_alone_and_the_rest_committed() {
    let store = MemStore::new(Script { refuse: Some(3), ..Default::default() });
    let h = Harness::start(cfg(1000, 1000), store);
    h.send(1..=5, 1);
    let (acks, store, stats) = h.finish().await;
    assert_eq!(store.committed(), [vec![1, 2], vec![4, 5]]);
    assert_eq!(store.dead_letters(), [(3, STORE_REFUSED.to_owned())]);
    assert_eq!(stats.dead_letters.load(Ordering::Relaxed), 1);
    assert_eq!(stats.dead_letters_by_reason.get_or_create(&[("reason", STORE_REFUSED)]).get(), 1);
    assert_eq!(stats.events_new.load(Ordering::Relaxed), 4);
    assert_eq!(stats.store_retries.load(Ordering::Relaxed), 0);
    assert_eq!(acked(acks), [1, 2, 3, 4, 5]);
}

/// Protects "ack after commit": while the store transaction is open,
/// nothing is handed to the acker.
#[tokio::test(start_paused = true)]
async fn acks_are_requested_only_after_the_commit() {
    let store = MemStore::new(Script { hold: Some(1), ..Default::default() });
    let mut h = Harness::start(cfg(1000, 1000), store.clone());
    h.send(1..=2, 1);
    store.attempted(1).await;
    assert!(store.committed().is_empty());
    assert_eq!(h.acks.try_recv().unwrap_err(), TryRecvError::Empty);
    store.gate.add_permits(1);
    let r = h.acks.recv().await.unwrap();
    assert_eq!(store.committed(), [vec![1, 2]]);
    assert_eq!((r.batch, r.messages.iter().map(|m| m.publish.pkid).collect::<Vec<_>>()), (0, vec![1, 2]));
}

/// Protects ack order with two transactions in flight: the second batch
/// commits first, yet its acks come after the first batch's.
#[tokio::test(start_paused = true)]
async fn acks_follow_arrival_order_when_a_later_batch_commits_first() {
    let store = MemStore::new(Script { hold: Some(1), ..Default::default() });
    let mut h = Harness::start(GatewayConfig { max_inflight_batches: 2, ..cfg(2, 1000) }, store.clone());
    h.send(1..=4, 1);
    let second = h.acks.recv().await.unwrap();
    assert_eq!(second.batch, 1);
    assert_eq!(store.committed(), [vec![3, 4]]);
    let mut order = InOrder::default();
    assert!(order.push(second.batch, second.messages).is_empty(), "held until batch 0 is acked");
    store.gate.add_permits(1);
    let (rest, store, _) = h.finish().await;
    assert_eq!(store.committed(), [vec![3, 4], vec![1, 2]]);
    let mut all: Vec<Id> = Vec::new();
    for r in rest {
        all.extend(order.push(r.batch, r.messages).into_iter().map(|m| u64::from(m.publish.pkid)));
    }
    assert_eq!(all, [1, 2, 3, 4]);
}

/// Protects "never ack what is not stored": the store keeps failing, the
/// batcher keeps retrying; at shutdown the batch is given up unacked.
#[tokio::test(start_paused = true)]
async fn nothing_is_acked_while_the_store_keeps_failing() {
    let store = MemStore::new(Script { transient_failures: u32::MAX, ..Default::default() });
    let mut h = Harness::start(cfg(1000, 1000), store.clone());
    h.send(1..=3, 1);
    store.attempted(5).await;
    assert_eq!(h.acks.try_recv().unwrap_err(), TryRecvError::Empty);
    h.shutdown.send(true).unwrap();
    let (acks, store, stats) = h.finish().await;
    assert!(store.committed().is_empty());
    assert!(acks.iter().all(|r| r.messages.is_empty()), "{acks:?}");
    assert_eq!(acked(acks), Vec::<Id>::new());
    assert_eq!(stats.batches.load(Ordering::Relaxed), 0);
    assert!(stats.store_retries.load(Ordering::Relaxed) >= 4);
    assert_eq!(stats.acks_pending.load(Ordering::Relaxed), 0, "given up: no longer pending");
}

/// Protects against a poison batch retried forever (issue 9, item 6): a
/// message on which the store keeps failing transiently while it answers
/// is isolated by splitting after `store_attempts` failures and
/// dead-lettered; the rest is committed and everything acked.
#[tokio::test(start_paused = true)]
async fn a_message_failing_transiently_while_the_store_answers_is_isolated() {
    let store = MemStore::new(Script { poison: Some(2), ..Default::default() });
    let h = Harness::start(cfg(1000, 1000), store);
    h.send(1..=4, 1);
    let (acks, store, stats) = h.finish().await;
    assert_eq!(store.committed(), [vec![1], vec![3, 4]]);
    assert_eq!(store.dead_letters(), [(2, STORE_REFUSED.to_owned())]);
    assert_eq!(stats.store_splits.load(Ordering::Relaxed), 2);
    assert_eq!(stats.halts.load(Ordering::Relaxed), 0);
    assert_eq!(acked(acks), [1, 2, 3, 4]);
}

/// Protects "never retry a permanent error" (issue 9, item 6): a dead
/// letter the store refuses is not retried as it is; ingest halts (the
/// messages stay unacked) and, at shutdown, the batch is given up.
#[tokio::test(start_paused = true)]
async fn a_dead_letter_the_store_refuses_halts_instead_of_looping() {
    let store = MemStore::new(Script { refuse: Some(2), refuse_dead_letters: u32::MAX, ..Default::default() });
    let mut h = Harness::start(cfg(1000, 1000), store.clone());
    h.send(1..=3, 1);
    let stats = h.stats.clone();
    until("halted", || stats.halted.load(Ordering::Relaxed) == 1).await;
    assert_eq!(store.script.lock().unwrap().dead_letter_calls, 1, "not retried before halting");
    assert_eq!(store.committed(), [vec![1], vec![3]]);
    assert_eq!(h.acks.try_recv().unwrap_err(), TryRecvError::Empty);
    assert!(stats.halt_reason.lock().unwrap().contains("refuses dead letters"));
    h.shutdown.send(true).unwrap();
    let (acks, _, stats) = h.finish().await;
    assert_eq!(acked(acks), Vec::<Id>::new());
    assert_eq!(stats.halted.load(Ordering::Relaxed), 0);
}

/// Protects "do not dead-letter the world" (issue 9, item 7): every message
/// of a batch refused the same way, before any message was taken, halts
/// ingest — nothing dead-lettered, nothing acked, the gauge up — and once
/// the store takes them again they are committed once and acked.
#[tokio::test(start_paused = true)]
async fn when_the_store_refuses_every_message_ingest_halts_then_resumes() {
    let store = MemStore::new(Script { refuse_all: true, ..Default::default() });
    let mut h = Harness::start(cfg(1000, 1000), store.clone());
    h.send(1..=3, 1);
    let stats = h.stats.clone();
    until("halted", || stats.halted.load(Ordering::Relaxed) == 1).await;
    assert!(store.dead_letters().is_empty());
    assert_eq!(h.acks.try_recv().unwrap_err(), TryRecvError::Empty);
    store.script.lock().unwrap().refuse_all = false;
    let (acks, store, stats) = h.finish().await;
    assert_eq!(store.committed(), [vec![1, 2, 3]]);
    assert!(store.dead_letters().is_empty());
    assert_eq!(acked(acks), [1, 2, 3]);
    assert_eq!((stats.halted.load(Ordering::Relaxed), stats.halts.load(Ordering::Relaxed)), (0, 1));
}

/// Protects the probe (issue 9, item 7): once a message was taken, a lone
/// refused message halts ingest when the store refuses the message it took
/// before as well; when the store takes that one, a lone refusal is the
/// message's own and it is dead-lettered.
#[tokio::test(start_paused = true)]
async fn a_lone_refusal_halts_only_when_the_store_refuses_the_probe_too() {
    let store = MemStore::new(Script::default());
    let h = Harness::start(cfg(1, 1000), store.clone());
    h.send([1], 1);
    until("1 committed", || store.committed().len() == 1).await;
    store.script.lock().unwrap().refuse_all = true;
    h.send([2], 1);
    let stats = h.stats.clone();
    until("halted", || stats.halted.load(Ordering::Relaxed) == 1).await;
    assert!(store.script.lock().unwrap().probes >= 1);
    assert!(store.dead_letters().is_empty());
    {
        let mut s = store.script.lock().unwrap();
        s.refuse_all = false;
        s.refuse = Some(3);
    }
    until("resumed", || stats.halted.load(Ordering::Relaxed) == 0).await;
    h.send([3], 1);
    let (acks, store, _) = h.finish().await;
    assert_eq!(store.committed(), [vec![1], vec![2]]);
    assert_eq!(store.dead_letters(), [(3, STORE_REFUSED.to_owned())]);
    assert_eq!(acked(acks), [1, 2, 3]);
}

/// A store-wide refusal that ends between a batch's attempt and the probe
/// (the probe finds the store well) must not dead-letter the batch: its
/// refused messages are tried once more, and only what is refused again is
/// dead-lettered. (Seen end to end: with the trigger of
/// `a_store_refusing_everything_halts_ingest_until_fixed` dropped while a
/// batch was between its attempt and its probe, valid messages were
/// dead-lettered.)
#[tokio::test(start_paused = true)]
async fn a_refusal_that_ends_before_the_probe_dead_letters_nothing() {
    let store = MemStore::new(Script::default());
    let h = Harness::start(cfg(1, 1000), store.clone());
    h.send([1], 1);
    until("1 committed", || store.committed().len() == 1).await;
    store.script.lock().unwrap().refuse_until_probe = true;
    h.send([2], 1);
    until("2 committed", || store.committed().len() == 2).await;
    let (acks, store, _) = h.finish().await;
    assert_eq!(store.committed(), [vec![1], vec![2]]);
    assert!(store.dead_letters().is_empty(), "{:?}", store.dead_letters());
    assert_eq!(acked(acks), [1, 2]);
}

/// Protects supervision (issue 9, item 8): a panic in a store task is not
/// swallowed: the batcher records the failure and ends, with its queue
/// still open, so the gateway reports a dead pipeline.
#[tokio::test(start_paused = true)]
async fn a_panicking_store_task_ends_the_batcher_with_a_failure() {
    let store = MemStore::new(Script { panic: true, ..Default::default() });
    let h = Harness::start(cfg(1, 1000), store);
    h.send(1..=3, 1);
    let Harness { task, stats, queue, .. } = h;
    task.await.unwrap();
    assert!(queue.is_some(), "ended on its own, not because the queue closed");
    let why = stats.failure().unwrap();
    assert!(why.contains("a store task failed"), "{why}");
}
