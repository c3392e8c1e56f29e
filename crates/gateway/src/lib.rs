//! MQTT ingest: box → broker → gateway → store.
//!
//! Two tasks and a bounded queue between them:
//! - the **source** polls the rumqttc event loop and forwards each QoS 1
//!   publish into the queue (it never awaits an ack or a publish itself —
//!   rumqtt issues #263/#1025: that can deadlock). When the queue is full it
//!   stops polling, the broker stops sending (in-flight window), and memory
//!   stays bounded: a slow database slows consumption;
//! - the **batcher** takes what is queued (up to the batch bounds), decodes
//!   it, stores it in ONE transaction, and only after the commit acks every
//!   message of the batch. A crash before the commit loses nothing (the
//!   broker redelivers the unacked messages of the persistent session); a
//!   crash after the commit but before the acks re-delivers messages whose
//!   events are then dropped as duplicates by identity. So every event is
//!   counted exactly once.

mod config;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use liftwatch_core::protocol::{decode_message, Invalid, Kind, Timestamp};
use liftwatch_store::{EventStore, Inbound, IngestReport};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Unit;
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use tokio::sync::{mpsc, watch};

pub use config::GatewayConfig;

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

/// One label, e.g. `type="run"` or `reason="not_json"`.
pub type Label = [(&'static str, &'static str); 1];

/// A message as received, with the number of the connection it came on.
type Received = (Publish, u64);

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
    /// Broker connections made so far (each CONNACK adds one). A message is
    /// acked only on the connection it arrived on: after a reconnect the
    /// broker resends what was unacked, and an old packet id might by then
    /// name a different message.
    pub connection: AtomicU64,
    /// Broker connection errors seen.
    pub connection_errors: AtomicU64,
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
        Stats {
            messages: AtomicU64::new(0),
            events_new: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            dead_letters: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            store_retries: AtomicU64::new(0),
            acks_pending: AtomicU64::new(0),
            subscribed: AtomicBool::new(false),
            connection: AtomicU64::new(0),
            connection_errors: AtomicU64::new(0),
            events_by_type,
            dead_letters_by_reason,
            // 1, 4, 16, … 262144 (a batch holds at most `batch_max_events`, 50 000 by default).
            batch_events: Histogram::new(exponential_buckets(1.0, 4.0, 10)),
            // 1 ms … ~8 s.
            commit_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
        }
    }
}

impl Stats {
    /// Counts what one stored batch (or part of one) did.
    fn record(&self, r: &IngestReport) {
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
        let errs = ConstCounter::new(get(&self.connection_errors));
        emit(e, "liftwatch_mqtt_connection_errors", "MQTT broker connection errors.", None, &errs)?;
        let sub = ConstGauge::new(i64::from(self.subscribed.load(Ordering::Relaxed)));
        emit(
            e,
            "liftwatch_mqtt_subscribed",
            "1 while the broker has acknowledged the subscription, else 0.",
            None,
            &sub,
        )
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The MQTT URL is not usable.
    #[error("MQTT URL {url:?}: {problem}")]
    Url {
        /// As configured.
        url: String,
        /// What is wrong.
        problem: String,
    },
}

/// Builds the rumqttc options: persistent session, manual acks, 256 KiB packets.
pub fn mqtt_options(cfg: &GatewayConfig) -> Result<MqttOptions, GatewayError> {
    let sep = if cfg.mqtt_url.contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}client_id={}", cfg.mqtt_url, cfg.client_id);
    let mut o = MqttOptions::parse_url(url)
        .map_err(|e| GatewayError::Url { url: cfg.mqtt_url.clone(), problem: e.to_string() })?;
    o.set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(cfg.keep_alive)
        .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
    Ok(o)
}

/// A running gateway.
pub struct Gateway {
    /// Its counters.
    pub stats: Arc<Stats>,
    source: tokio::task::JoinHandle<()>,
    batcher: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Connects and starts consuming. `shutdown` flipping to `true` stops
    /// taking new messages; what was received is stored and acked, then the
    /// connection is closed.
    pub fn start<S: EventStore>(
        cfg: GatewayConfig,
        store: S,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Gateway, GatewayError> {
        let opts = mqtt_options(&cfg)?;
        // Request channel: acks of everything that can be in the pipeline fit,
        // so acking never waits on the event loop.
        let cap = cfg.queue_messages + cfg.batch_max_messages + 64;
        let (client, eventloop) = AsyncClient::new(opts, cap);
        let (tx, rx) = mpsc::channel(cfg.queue_messages.max(1));
        let stats = Arc::new(Stats::default());
        let source = tokio::spawn(source(cfg.clone(), client.clone(), eventloop, tx, stats.clone(), shutdown.clone()));
        let batcher = tokio::spawn(batcher(cfg, client, store, rx, stats.clone(), shutdown));
        Ok(Gateway { stats, source, batcher })
    }

    /// Waits until both tasks ended (after shutdown).
    pub async fn join(self) {
        let _ = self.batcher.await;
        let _ = self.source.await;
    }
}

async fn source(
    cfg: GatewayConfig,
    client: AsyncClient,
    mut eventloop: EventLoop,
    tx: mpsc::Sender<Received>,
    stats: Arc<Stats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let filter = cfg.filter();
    let mut backoff = Duration::from_millis(100);
    let mut tx = Some(tx);
    loop {
        let ev = tokio::select! {
            ev = eventloop.poll() => ev,
            _ = shutdown.changed(), if tx.is_some() => {
                // Stop forwarding: dropping the sender lets the batcher finish
                // what it has, ack it, and disconnect.
                tracing::info!("gateway: shutdown requested, draining");
                tx = None;
                continue;
            }
        };
        match ev {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                stats.messages.fetch_add(1, Ordering::Relaxed);
                // During shutdown (no sender) a message is not forwarded and
                // not acked: the broker keeps it for the next session.
                if let Some(sender) = &tx {
                    // A full queue (slow or unavailable database) must not
                    // hide a shutdown request: the message is then dropped
                    // unacked and the broker keeps it for the session.
                    let sent = tokio::select! {
                        r = sender.send((p, stats.connection.load(Ordering::Relaxed))) => Some(r.is_ok()),
                        _ = shutdown.changed() => None,
                    };
                    match sent {
                        Some(true) => {
                            stats.acks_pending.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(false) => return,
                        None => {
                            tracing::info!("gateway: shutdown requested, draining");
                            tx = None;
                        }
                    }
                }
            }
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                stats.connection.fetch_add(1, Ordering::Relaxed);
                tracing::info!(session_present = ack.session_present, "gateway: connected to broker");
                backoff = Duration::from_millis(100);
                if let Err(e) = client.try_subscribe(filter.clone(), QoS::AtLeastOnce) {
                    tracing::error!(error = %e, "gateway: cannot queue subscribe");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(s))) => {
                let ok = s.return_codes.iter().all(|c| !matches!(c, rumqttc::SubscribeReasonCode::Failure));
                stats.subscribed.store(ok, Ordering::Relaxed);
                if ok {
                    tracing::info!(filter = %filter, "gateway: subscribed");
                } else {
                    tracing::error!(filter = %filter, "gateway: broker refused the subscription");
                }
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                tracing::info!("gateway: disconnected");
                return;
            }
            Ok(_) => {}
            Err(ConnectionError::RequestsDone) => return,
            Err(e) => {
                stats.subscribed.store(false, Ordering::Relaxed);
                stats.connection_errors.fetch_add(1, Ordering::Relaxed);
                if tx.is_none() {
                    return;
                }
                tracing::warn!(error = %e, retry_in = ?backoff, "gateway: broker connection failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Strips the deployment prefix from a topic.
fn strip<'t>(topic: &'t str, prefix: &str) -> &'t str {
    topic.strip_prefix(prefix).unwrap_or(topic)
}

async fn batcher<S: EventStore>(
    cfg: GatewayConfig,
    client: AsyncClient,
    store: S,
    mut rx: mpsc::Receiver<Received>,
    stats: Arc<Stats>,
    shutdown: watch::Receiver<bool>,
) {
    let decode = |(p, _): &Received| {
        let now = Timestamp::now();
        let topic = strip(&p.topic, &cfg.topic_prefix).to_owned();
        let decoded = decode_message(&topic, &p.payload, now);
        Inbound { topic, payload: p.payload.to_vec(), received_at: now, decoded }
    };
    // Acks go through their own task: the batcher never waits on rumqttc's
    // request channel, which only the source's event-loop polling drains.
    // (Waiting there while the source waits on a full queue was a deadlock
    // once a broker delivered more unacked messages than both buffers hold —
    // Mosquitto 2.0 does not enforce max_inflight_messages once a client acks.)
    // The ack queue holds at most the messages received and committed but not
    // yet acked, bounded by what the source let in (queue + batches in flight).
    let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<Vec<Received>>();
    let acker = {
        let (client, stats) = (client.clone(), stats.clone());
        tokio::spawn(async move {
            while let Some(pubs) = ack_rx.recv().await {
                for (p, connection) in pubs {
                    if connection != stats.connection.load(Ordering::Relaxed) {
                        // Arrived on an earlier connection: the broker resends
                        // it on this one (a duplicate for the store), and that
                        // copy is acked.
                        tracing::debug!(pkid = p.pkid, "gateway: not acking a message of an earlier connection");
                    } else if let Err(e) = client.ack(&p).await {
                        tracing::warn!(error = %e, "gateway: ack not sent (the broker will redeliver)");
                    }
                    stats.acks_pending.fetch_sub(1, Ordering::Relaxed);
                }
            }
        })
    };
    // Up to `max_inflight_batches` store transactions at once, so decoding
    // and the next commit overlap the current one. Results do not depend on
    // the order of commits (identity dedupe, incident merge, additive rollups).
    let permits = Arc::new(tokio::sync::Semaphore::new(cfg.max_inflight_batches.max(1)));
    let mut inflight = tokio::task::JoinSet::new();
    while let Some(first) = rx.recv().await {
        let mut pubs: Vec<Received> = Vec::with_capacity(cfg.batch_max_messages.min(1024));
        let mut batch: Vec<Inbound> = Vec::with_capacity(cfg.batch_max_messages.min(1024));
        batch.push(decode(&first));
        pubs.push(first);
        let mut events = batch[0].decoded.events.len();
        while pubs.len() < cfg.batch_max_messages && events < cfg.batch_max_events {
            let next = match rx.try_recv() {
                Ok(p) => p,
                Err(_) if cfg.linger.is_zero() => break,
                Err(_) => match tokio::time::timeout(cfg.linger, rx.recv()).await {
                    Ok(Some(p)) => p,
                    _ => break,
                },
            };
            let m = decode(&next);
            events += m.decoded.events.len();
            batch.push(m);
            pubs.push(next);
        }
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        while inflight.try_join_next().is_some() {}
        let (store, stats, ack_tx, shutdown) = (store.clone(), stats.clone(), ack_tx.clone(), shutdown.clone());
        inflight.spawn(async move {
            let Some(report) = store_with_retry(&store, &batch, &stats, &shutdown).await else {
                // Shutting down while the store is unavailable: leave these
                // messages unacked; the broker redelivers them next session.
                stats.acks_pending.fetch_sub(pubs.len() as u64, Ordering::Relaxed);
                return;
            };
            stats.record(&report);
            stats.batch_events.observe(events as f64);
            stats.batches.fetch_add(1, Ordering::Relaxed);
            drop(permit);
            // Committed: now the broker may forget these messages.
            let _ = ack_tx.send(pubs);
        });
    }
    // Queue closed (shutdown): everything received is committed and acked.
    while inflight.join_next().await.is_some() {}
    drop(ack_tx);
    let _ = acker.await;
    let _ = client.disconnect().await;
}

/// Stores a batch; transient failures are retried with backoff (the broker
/// holds the messages meanwhile); a batch the store refuses is split so that
/// only the message it refuses is dead-lettered.
async fn store_with_retry<S: EventStore>(
    store: &S,
    batch: &[Inbound],
    stats: &Stats,
    shutdown: &watch::Receiver<bool>,
) -> Option<IngestReport> {
    let mut backoff = Duration::from_millis(100);
    loop {
        let t0 = Instant::now();
        match store.ingest(batch).await {
            Ok(r) => {
                stats.commit_seconds.observe(t0.elapsed().as_secs_f64());
                return Some(r);
            }
            Err(_) if *shutdown.borrow() => return None,
            Err(e) if e.is_transient() => {
                stats.store_retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, retry_in = ?backoff, "gateway: store unavailable, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(e) if batch.len() > 1 => {
                tracing::warn!(error = %e, messages = batch.len(), "gateway: store refused a batch, splitting");
                let (a, b) = batch.split_at(batch.len() / 2);
                let mut r = Box::pin(store_with_retry(store, a, stats, shutdown)).await?;
                r.merge(&Box::pin(store_with_retry(store, b, stats, shutdown)).await?);
                return Some(r);
            }
            Err(e) => {
                tracing::error!(error = %e, topic = %batch[0].topic, "gateway: store refused a message");
                let reason = e.to_string();
                loop {
                    match store.dead_letter(&batch[0], STORE_REFUSED, &reason).await {
                        Ok(()) => break,
                        Err(_) if *shutdown.borrow() => return None,
                        Err(e2) => {
                            tracing::warn!(error = %e2, "gateway: cannot write dead letter, retrying");
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(5));
                        }
                    }
                }
                return Some(IngestReport { dead_letters: vec![STORE_REFUSED], ..Default::default() });
            }
        }
    }
}
