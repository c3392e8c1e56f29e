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
use std::time::Duration;

use liftwatch_core::protocol::{decode_message, Timestamp};
use liftwatch_store::{EventStore, Inbound, IngestReport};
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use tokio::sync::{mpsc, watch};

pub use config::GatewayConfig;

/// Largest MQTT packet accepted: the protocol's 256 KiB payload plus topic and headers.
pub const MAX_PACKET_BYTES: usize = 256 * 1024 + 4096;

/// Counters the gateway keeps (exported by `/metrics`).
#[derive(Debug, Default)]
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
    /// Broker connection errors seen.
    pub connection_errors: AtomicU64,
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
        let batcher = tokio::spawn(batcher(cfg, client, store, rx, stats.clone()));
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
    tx: mpsc::Sender<Publish>,
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
                if let Some(tx) = &tx {
                    stats.acks_pending.fetch_add(1, Ordering::Relaxed);
                    if tx.send(p).await.is_err() {
                        return;
                    }
                }
            }
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
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
    mut rx: mpsc::Receiver<Publish>,
    stats: Arc<Stats>,
) {
    let decode = |p: &Publish| {
        let now = Timestamp::now();
        let topic = strip(&p.topic, &cfg.topic_prefix).to_owned();
        let decoded = decode_message(&topic, &p.payload, now);
        Inbound { topic, payload: p.payload.to_vec(), received_at: now, decoded }
    };
    let mut pubs: Vec<Publish> = Vec::with_capacity(cfg.batch_max_messages);
    let mut batch: Vec<Inbound> = Vec::with_capacity(cfg.batch_max_messages);
    while let Some(first) = rx.recv().await {
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
        let report = store_with_retry(&store, &batch, &stats).await;
        stats.events_new.fetch_add(report.new_events, Ordering::Relaxed);
        stats.duplicates.fetch_add(report.duplicates, Ordering::Relaxed);
        stats.dead_letters.fetch_add(report.dead_letters.len() as u64, Ordering::Relaxed);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        batch.clear();
        for p in pubs.drain(..) {
            if let Err(e) = client.ack(&p).await {
                tracing::warn!(error = %e, "gateway: ack not sent (the broker will redeliver)");
            }
            stats.acks_pending.fetch_sub(1, Ordering::Relaxed);
        }
    }
    // Queue closed (shutdown): everything received is committed and acked.
    let _ = client.disconnect().await;
}

/// Stores a batch; transient failures are retried with backoff (the broker
/// holds the messages meanwhile); a batch the store refuses is split so that
/// only the message it refuses is dead-lettered.
async fn store_with_retry<S: EventStore>(store: &S, batch: &[Inbound], stats: &Stats) -> IngestReport {
    let mut backoff = Duration::from_millis(100);
    loop {
        match store.ingest(batch).await {
            Ok(r) => return r,
            Err(e) if e.is_transient() => {
                stats.store_retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, retry_in = ?backoff, "gateway: store unavailable, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(e) if batch.len() > 1 => {
                tracing::warn!(error = %e, messages = batch.len(), "gateway: store refused a batch, splitting");
                let (a, b) = batch.split_at(batch.len() / 2);
                let mut r = Box::pin(store_with_retry(store, a, stats)).await;
                r.merge(&Box::pin(store_with_retry(store, b, stats)).await);
                return r;
            }
            Err(e) => {
                tracing::error!(error = %e, topic = %batch[0].topic, "gateway: store refused a message");
                let reason = e.to_string();
                loop {
                    match store.dead_letter(&batch[0], "store_refused", &reason).await {
                        Ok(()) => break,
                        Err(e2) => {
                            tracing::warn!(error = %e2, "gateway: cannot write dead letter, retrying");
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_secs(5));
                        }
                    }
                }
                return IngestReport { dead_letters: vec!["store_refused"], ..Default::default() };
            }
        }
    }
}
