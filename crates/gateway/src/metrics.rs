//! The gateway's counters, and their Prometheus exposition.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use liftwatch_core::protocol::{Kind, Timestamp, MICROS_PER_SEC};
use liftwatch_store::IngestReport;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Unit;

use crate::dead_letter_reasons;

/// One label, e.g. `type="run"` or `reason="not_json"`.
pub type Label = [(&'static str, &'static str); 1];

/// Counters the gateway keeps. [`Stats`] is a Prometheus
/// [`Collector`]: register it (`Registry::register_collector`) and a scrape
/// reads the `liftwatch_ingest_*` and `liftwatch_mqtt_*` metrics from it.
#[derive(Debug)]
pub struct Stats {
    /// MQTT messages received.
    pub messages: AtomicU64,
    /// Events stored for the first time.
    pub events_new: AtomicU64,
    /// Events already stored.
    pub duplicates: AtomicU64,
    /// Dead letters written.
    pub dead_letters: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Store attempts that failed and were retried.
    pub store_retries: AtomicU64,
    /// Messages received but not yet acknowledged.
    pub acks_pending: AtomicU64,
    /// Whether the subscription is acknowledged by the broker.
    pub subscribed: AtomicBool,
    /// Acks not sent because the connection their message arrived on was
    /// lost (the broker redelivers those messages; see `link`).
    pub acks_dropped: AtomicU64,
    /// Failed subscription attempts, by why (`refused`, `timeout`); each is retried.
    pub subscribe_failures: Family<Label, Counter>,
    /// Session takeovers: the broker closed the session and the gateway got
    /// it back at once (another client with the same client id).
    pub session_takeovers: AtomicU64,
    /// Recent takeovers, for the client-id conflict (see [`Stats::client_id_conflict`]).
    pub(crate) takeovers: std::sync::Mutex<crate::link::Takeovers>,
    /// Broker connection errors seen.
    pub connection_errors: AtomicU64,
    /// Batches split because the store refused them, or kept failing while
    /// it answered (to isolate the message at fault).
    pub store_splits: AtomicU64,
    /// Batches halted now because the store refuses everything (ingest is
    /// halted while this is above 0; see `batcher::retry`).
    pub halted: AtomicU64,
    /// Times a batch halted.
    pub halts: AtomicU64,
    /// Why ingest last halted (for `/readyz` and the logs).
    pub halt_reason: std::sync::Mutex<String>,
    /// The pipeline's byte budget (bytes held between the MQTT loop and the
    /// acks), once the gateway runs.
    pub(crate) pipeline_bytes: std::sync::Mutex<Option<crate::budget::ByteBudget>>,
    /// Why the pipeline died (a task panicked or ended before shutdown);
    /// `None` while it runs. See [`crate::Gateway::failed`].
    pub failure: std::sync::Mutex<Option<String>>,
    /// Dead letters deleted past their retention.
    pub dead_letters_expired: AtomicU64,
    /// Dead letters deleted (oldest first) to hold the size cap.
    pub dead_letters_over_cap: AtomicU64,
    /// New events by protocol type (label `type`, every type pre-registered).
    pub events_by_type: Family<Label, Counter>,
    /// Dead letters by reason code (label `reason`, every code of
    /// [`dead_letter_reasons`] pre-registered).
    pub dead_letters_by_reason: Family<Label, Counter>,
    /// Events (new, duplicate or rejected) per stored batch.
    pub batch_events: Histogram,
    /// Seconds per successful store transaction (one per batch, or per part
    /// of a batch the store refused and that was split).
    pub commit_seconds: Histogram,
    /// The spool's state (all zero when the spool is off).
    pub spool: SpoolStats,
}

/// The spool's gauges and counters (`liftwatch_spool_*`), kept by the
/// appender, the writer thread and the batcher.
#[derive(Debug)]
pub struct SpoolStats {
    /// Whether the gateway runs with a spool (the `liftwatch_spool_*`
    /// metrics are exported only then).
    pub enabled: AtomicBool,
    /// Bytes of messages held (topic + payload), appended and not deleted.
    pub bytes: AtomicU64,
    /// Messages held.
    pub messages: AtomicU64,
    /// Receive time (µs since the epoch) of the oldest message held; 0 when empty.
    pub oldest_micros: AtomicI64,
    /// Messages appended since start.
    pub appends: AtomicU64,
    /// Messages found in the spool at start (replayed).
    pub replayed: AtomicU64,
    /// Spool transactions that failed (disk errors) and were retried.
    pub errors: AtomicU64,
    /// Whether the spool is full: new messages are not taken (nor acked).
    pub full: AtomicBool,
    /// Messages per spool commit (one fsync each): the group-commit batch size.
    pub commit_messages: Histogram,
}

impl Default for SpoolStats {
    fn default() -> Self {
        SpoolStats {
            enabled: AtomicBool::new(false),
            bytes: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            oldest_micros: AtomicI64::new(0),
            appends: AtomicU64::new(0),
            replayed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            full: AtomicBool::new(false),
            // 1, 4, 16, … 262144 messages per fsync.
            commit_messages: Histogram::new(exponential_buckets(1.0, 4.0, 10)),
        }
    }
}

impl SpoolStats {
    /// Seconds since the oldest message held was received (0 when empty).
    pub fn oldest_age_seconds(&self, now: Timestamp) -> f64 {
        match self.oldest_micros.load(Ordering::Relaxed) {
            0 => 0.0,
            t => (now.micros() - t).max(0) as f64 / MICROS_PER_SEC as f64,
        }
    }

    /// Writes the `liftwatch_spool_*` families.
    fn encode(&self, e: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let get = |a: &AtomicU64| i64::try_from(a.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        let bytes = Some(&Unit::Bytes);
        emit(
            e,
            "liftwatch_spool",
            "Bytes of messages in the spool (topic + payload).",
            bytes,
            &ConstGauge::new(get(&self.bytes)),
        )?;
        emit(
            e,
            "liftwatch_spool_messages",
            "Messages in the spool: acked to the broker, not yet committed to the store.",
            None,
            &ConstGauge::new(get(&self.messages)),
        )?;
        let age = ConstGauge::new(self.oldest_age_seconds(Timestamp::now()));
        emit(
            e,
            "liftwatch_spool_oldest_age",
            "Age of the oldest message in the spool not yet written to the store.",
            Some(&Unit::Seconds),
            &age,
        )?;
        emit(
            e,
            "liftwatch_spool_appends",
            "Messages appended to the spool.",
            None,
            &ConstCounter::new(self.appends.load(Ordering::Relaxed)),
        )?;
        emit(
            e,
            "liftwatch_spool_replayed",
            "Messages found in the spool at start and replayed.",
            None,
            &ConstCounter::new(self.replayed.load(Ordering::Relaxed)),
        )?;
        emit(
            e,
            "liftwatch_spool_errors",
            "Spool transactions that failed (disk) and were retried.",
            None,
            &ConstCounter::new(self.errors.load(Ordering::Relaxed)),
        )?;
        emit(
            e,
            "liftwatch_spool_full",
            "1 while the spool is full and new messages are not taken, else 0.",
            None,
            &ConstGauge::new(i64::from(self.full.load(Ordering::Relaxed))),
        )?;
        emit(
            e,
            "liftwatch_spool_commit_messages",
            "Messages appended per spool commit (one fsync each: the group-commit size).",
            None,
            &self.commit_messages,
        )
    }
}

impl Default for Stats {
    fn default() -> Self {
        let events_by_type = Family::<Label, Counter>::default();
        for t in Kind::NAMES {
            let _ = events_by_type.get_or_create(&[("type", t)]);
        }
        let dead_letters_by_reason = Family::<Label, Counter>::default();
        for r in dead_letter_reasons() {
            let _ = dead_letters_by_reason.get_or_create(&[("reason", r)]);
        }
        let subscribe_failures = Family::<Label, Counter>::default();
        for f in crate::subscription::Failure::ALL {
            let _ = subscribe_failures.get_or_create(&[("why", f.code())]);
        }
        Stats {
            messages: AtomicU64::new(0),
            events_new: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            dead_letters: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            store_retries: AtomicU64::new(0),
            acks_pending: AtomicU64::new(0),
            subscribed: AtomicBool::new(false),
            acks_dropped: AtomicU64::new(0),
            subscribe_failures,
            session_takeovers: AtomicU64::new(0),
            takeovers: Default::default(),
            connection_errors: AtomicU64::new(0),
            store_splits: AtomicU64::new(0),
            halted: AtomicU64::new(0),
            halts: AtomicU64::new(0),
            halt_reason: std::sync::Mutex::new(String::new()),
            pipeline_bytes: std::sync::Mutex::new(None),
            failure: std::sync::Mutex::new(None),
            dead_letters_expired: AtomicU64::new(0),
            dead_letters_over_cap: AtomicU64::new(0),
            events_by_type,
            dead_letters_by_reason,
            // 1, 4, 16, … 262144 (a batch holds about `batch_max_events`, `DEFAULT_BATCH_MAX_EVENTS` by default).
            batch_events: Histogram::new(exponential_buckets(1.0, 4.0, 10)),
            // 1 ms … ~8 s.
            commit_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            spool: SpoolStats::default(),
        }
    }
}

impl Stats {
    /// Records that the pipeline died (the first reason wins), at error level.
    pub(crate) fn fail(&self, why: String) {
        let mut f = self.failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if f.is_none() {
            tracing::error!(reason = %why, "gateway: the ingest pipeline died");
            *f = Some(why);
        }
    }

    /// Why the pipeline died, if it did.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// While another client takes this gateway's session over again and
    /// again (a client-id conflict, see `link::Takeovers`): the takeovers
    /// within the last `TAKEOVER_WINDOW`; `None` otherwise.
    pub fn client_id_conflict(&self) -> Option<usize> {
        let now = std::time::Instant::now();
        let t = self.takeovers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        t.conflict(now).then(|| t.recent(now))
    }

    /// Counts what one stored batch (or part of one) did.
    pub(crate) fn record(&self, r: &IngestReport) {
        self.events_new.fetch_add(r.new_events, Ordering::Relaxed);
        self.duplicates.fetch_add(r.duplicates, Ordering::Relaxed);
        self.dead_letters.fetch_add(r.dead_letters.len() as u64, Ordering::Relaxed);
        for (t, n) in Kind::NAMES.iter().zip(r.new_by_kind) {
            if n > 0 {
                self.events_by_type.get_or_create(&[("type", t)]).inc_by(n);
            }
        }
        for reason in &r.dead_letters {
            self.dead_letters_by_reason.get_or_create(&[("reason", reason)]).inc();
        }
    }
}

/// Writes one metric family into a scrape.
fn emit(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    m: &impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    m.encode(enc.encode_descriptor(name, help, unit, m.metric_type())?)
}

impl Collector for Stats {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let e = &mut enc;
        // Counter names go without `_total`: the encoder appends it.
        emit(e, "liftwatch_ingest_messages", "MQTT messages received.", None, &ConstCounter::new(get(&self.messages)))?;
        emit(
            e,
            "liftwatch_ingest_events",
            "Events stored for the first time, by protocol type.",
            None,
            &self.events_by_type,
        )?;
        let dups = ConstCounter::new(get(&self.duplicates));
        emit(
            e,
            "liftwatch_ingest_duplicates",
            "Events received again (already stored): changed nothing.",
            None,
            &dups,
        )?;
        let dl = &self.dead_letters_by_reason;
        emit(e, "liftwatch_ingest_dead_letters", "Dead letters written, by reason code.", None, dl)?;
        emit(e, "liftwatch_ingest_batch_events", "Events per stored batch.", None, &self.batch_events)?;
        let secs = Some(&Unit::Seconds);
        emit(e, "liftwatch_ingest_commit_duration", "Store transaction time per batch.", secs, &self.commit_seconds)?;
        let pending = ConstGauge::new(i64::try_from(get(&self.acks_pending)).unwrap_or(i64::MAX));
        emit(e, "liftwatch_ingest_acks_pending", "Messages received but not yet acknowledged.", None, &pending)?;
        let retries = ConstCounter::new(get(&self.store_retries));
        emit(
            e,
            "liftwatch_ingest_store_retries",
            "Store attempts that failed transiently and were retried.",
            None,
            &retries,
        )?;
        let held = self
            .pipeline_bytes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map_or(0, |b| b.held());
        emit(
            e,
            "liftwatch_ingest_pipeline",
            "Bytes of messages (topic + payload) received and not yet acked, spooled or given up (bound: --queue-max-bytes).",
            Some(&Unit::Bytes),
            &ConstGauge::new(i64::try_from(held).unwrap_or(i64::MAX)),
        )?;
        let splits = ConstCounter::new(get(&self.store_splits));
        emit(
            e,
            "liftwatch_ingest_store_splits",
            "Batches split to isolate a message the store refused or kept failing on.",
            None,
            &splits,
        )?;
        let halted = ConstGauge::new(i64::from(get(&self.halted) > 0));
        emit(
            e,
            "liftwatch_ingest_halted",
            "Whether ingest is halted (1) because the store refuses everything; nothing is dead-lettered meanwhile.",
            None,
            &halted,
        )?;
        let pruned = Family::<Label, Counter>::default();
        pruned.get_or_create(&[("why", "retention")]).inc_by(get(&self.dead_letters_expired));
        pruned.get_or_create(&[("why", "size_cap")]).inc_by(get(&self.dead_letters_over_cap));
        emit(
            e,
            "liftwatch_dead_letters_pruned",
            "Dead letters deleted, by why: retention or size_cap.",
            None,
            &pruned,
        )?;
        let dead = ConstGauge::new(i64::from(self.failure().is_some()));
        emit(
            e,
            "liftwatch_ingest_dead",
            "Whether the ingest pipeline died (1: a task panicked or ended; the process exits).",
            None,
            &dead,
        )?;
        let halts = ConstCounter::new(get(&self.halts));
        emit(e, "liftwatch_ingest_halts", "Times a batch halted ingest.", None, &halts)?;
        let errs = ConstCounter::new(get(&self.connection_errors));
        emit(e, "liftwatch_mqtt_connection_errors", "MQTT broker connection errors.", None, &errs)?;
        let sub = ConstGauge::new(i64::from(self.subscribed.load(Ordering::Relaxed)));
        emit(
            e,
            "liftwatch_mqtt_subscribed",
            "1 while the broker has acknowledged the subscription, else 0.",
            None,
            &sub,
        )?;
        emit(
            e,
            "liftwatch_mqtt_subscribe_failures",
            "Subscription attempts the broker refused or did not answer, by why (refused, timeout); each is retried.",
            None,
            &self.subscribe_failures,
        )?;
        let dropped = ConstCounter::new(get(&self.acks_dropped));
        emit(
            e,
            "liftwatch_mqtt_acks_dropped",
            "Acks not sent because the connection their message came on was lost; the broker redelivers those messages.",
            None,
            &dropped,
        )?;
        let takeovers = ConstCounter::new(get(&self.session_takeovers));
        emit(
            e,
            "liftwatch_mqtt_session_takeovers",
            "Times the broker closed the session and the gateway reconnected at once (another client with the same client id).",
            None,
            &takeovers,
        )?;
        let conflict = ConstGauge::new(i64::from(self.client_id_conflict().is_some()));
        emit(
            e,
            "liftwatch_mqtt_client_id_conflict",
            "1 while session takeovers repeat (another process uses the same --mqtt-client-id), else 0.",
            None,
            &conflict,
        )?;
        if self.spool.enabled.load(Ordering::Relaxed) {
            self.spool.encode(e)?;
        }
        Ok(())
    }
}
