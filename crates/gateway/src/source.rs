//! The MQTT source: polls the rumqttc event loop and forwards each QoS 1
//! publish into the bounded queue towards the batcher.
//!
//! This task never awaits a publish or an ack (rumqtt issues #263/#1025: the
//! request channel is drained only by this very polling, so awaiting it here
//! can deadlock); subscribing uses `try_subscribe`, acks are sent by the
//! acker task. When the queue is full the task stops polling, the broker
//! stops sending (in-flight window), and memory stays bounded.
//!
//! It also keeps the connection's state: numbers each connection and marks
//! it down on an error, removing the acks rumqttc would carry over (see
//! [`crate::link`]); subscribes on each connection and retries a refused or
//! unanswered subscription ([`Subscription`]); and counts session takeovers,
//! reporting a client-id conflict ([`crate::link::Takeovers`]).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet, Publish, QoS, Request, StateError};
use tokio::sync::{mpsc, watch, Notify};

use crate::acker::lock;
use crate::budget::{ByteBudget, Held};
use crate::config::{redact_url, GatewayConfig};
use crate::link::{Ended, Link, TakeoverSign, TAKEOVER_WINDOW};
use crate::metrics::Stats;
use crate::subscription::{Failure, Step, Subscription};
use crate::MAX_PACKET_BYTES;

/// A message as received, with the number of the connection it came on
/// (see [`Link`]): it may be acked only on that connection.
#[derive(Debug)]
pub(crate) struct Received {
    /// The packet (topic, payload, packet id for the ack).
    pub publish: Publish,
    /// The connection it arrived on.
    pub connection: u64,
    /// Its bytes in the pipeline's [`ByteBudget`], given back when dropped.
    pub _held: Held,
}

impl Received {
    /// What the acker keeps of a committed message: its packet id, QoS and
    /// connection. Its bytes go back to the [`ByteBudget`] and its payload
    /// is freed now, not when the ack goes out (see [`crate::budget`]).
    pub(crate) fn committed(self) -> Received {
        let publish = Publish { topic: String::new(), payload: Default::default(), ..self.publish };
        Received { publish, connection: self.connection, _held: Held::nothing() }
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The MQTT URL is not usable.
    #[error("MQTT URL {url:?}: {problem}")]
    Url {
        /// As configured, with its password masked ([`redact_url`]).
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// The spool's writer thread could not be started.
    #[error("cannot start the spool writer thread: {0}")]
    Thread(std::io::Error),
}

/// Builds the rumqttc options: persistent session, manual acks, packets up
/// to [`MAX_PACKET_BYTES`]; the credentials and, for `mqtts://`, the CA file
/// of the configuration.
pub fn mqtt_options(cfg: &GatewayConfig) -> Result<MqttOptions, GatewayError> {
    let sep = if cfg.mqtt_url.contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}client_id={}", cfg.mqtt_url, cfg.client_id);
    let problem = |problem: String| GatewayError::Url { url: redact_url(&cfg.mqtt_url).into_owned(), problem };
    let mut o = MqttOptions::parse_url(url).map_err(|e| problem(e.to_string()))?;
    if let Some(user) = &cfg.username {
        o.set_credentials(user.clone(), cfg.password.clone().unwrap_or_default());
    } else if cfg.password.is_some() {
        return Err(problem("an MQTT password is set but no user name".into()));
    }
    if let Some(ca) = &cfg.ca_file {
        if !cfg.mqtt_url.starts_with("mqtts://") {
            return Err(problem(format!("a CA file ({}) is set but the URL is not mqtts://", ca.display())));
        }
        let pem = std::fs::read(ca).map_err(|e| problem(format!("CA file {}: {e}", ca.display())))?;
        o.set_transport(rumqttc::Transport::tls(pem, None, None));
    }
    o.set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(cfg.keep_alive)
        .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
    Ok(o)
}

/// First wait after a broker connection error; doubled up to [`RECONNECT_MAX`].
const RECONNECT_FIRST: Duration = Duration::from_millis(100);
/// Longest wait between reconnection attempts.
const RECONNECT_MAX: Duration = Duration::from_secs(10);

/// What the source shares with the acker.
pub(crate) struct Shared {
    /// The connection's number and state (see [`crate::link`]).
    pub link: Arc<Mutex<Link>>,
    /// Notified after each event of the event loop (room in rumqttc's
    /// request channel), and when the source ends.
    pub room: Arc<Notify>,
}

/// Polls the event loop until the connection is closed (after shutdown, once
/// the acker disconnected) or the queue's receiver is gone.
pub(crate) async fn run(
    cfg: GatewayConfig,
    (client, mut eventloop): (AsyncClient, EventLoop),
    tx: mpsc::Sender<Received>,
    budget: ByteBudget,
    stats: Arc<Stats>,
    shared: Shared,
    mut shutdown: watch::Receiver<bool>,
) {
    // However the source ends, no ack is sent any more and a waiting acker wakes.
    let _down = LinkDown(&shared);
    let filter = cfg.filter();
    let mut backoff = RECONNECT_FIRST;
    let mut tx = Some(tx);
    let mut sub = Subscription::default();
    let mut sign = TakeoverSign::default();
    let mut up = false;
    loop {
        let deadline = sub.deadline();
        let ev = tokio::select! {
            ev = eventloop.poll() => ev,
            () = sleep_until(deadline), if deadline.is_some() => {
                let s = sub.tick(Instant::now());
                step(s, &sub, &client, &filter, &stats);
                continue;
            }
            _ = shutdown.changed(), if tx.is_some() => {
                // Stop forwarding: dropping the sender lets the batcher finish
                // what it has, ack it, and disconnect.
                tracing::info!("gateway: shutdown requested, draining");
                tx = None;
                continue;
            }
        };
        shared.room.notify_one();
        match ev {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                stats.messages.fetch_add(1, Ordering::Relaxed);
                // During shutdown (no sender) a message is not forwarded and
                // not acked: the broker keeps it for the next session.
                if let Some(sender) = &tx {
                    // A full queue (slow or unavailable database) must not
                    // hide a shutdown request: the message is then dropped
                    // unacked and the broker keeps it for the session.
                    let connection = lock(&shared.link).generation();
                    let bytes = p.topic.len() + p.payload.len();
                    let sent = tokio::select! {
                        r = async {
                            let held = budget.take(bytes).await;
                            sender.send(Received { publish: p, connection, _held: held }).await
                        } => Some(r.is_ok()),
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
                lock(&shared.link).connected();
                up = true;
                tracing::info!(session_present = ack.session_present, "gateway: connected to broker");
                if sign.connected(ack.session_present) {
                    // Keep the backoff growing: two gateways fighting over one
                    // client id take turns ever more slowly.
                    took_over(&cfg.client_id, &stats);
                } else {
                    backoff = RECONNECT_FIRST;
                }
                let s = sub.connected(Instant::now());
                step(s, &sub, &client, &filter, &stats);
            }
            Ok(Event::Incoming(Packet::SubAck(s))) => {
                let ok = s.return_codes.iter().all(|c| !matches!(c, rumqttc::SubscribeReasonCode::Failure));
                let s = sub.acked(ok, Instant::now());
                step(s, &sub, &client, &filter, &stats);
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                tracing::info!("gateway: disconnected");
                return;
            }
            Ok(_) => {}
            Err(ConnectionError::RequestsDone) => return,
            Err(e) => {
                lock(&shared.link).lost();
                let dropped = forget_acks(&mut eventloop);
                stats.acks_dropped.fetch_add(dropped, Ordering::Relaxed);
                sign.ended(ended(&e), std::mem::take(&mut up));
                sub.disconnected();
                stats.subscribed.store(false, Ordering::Relaxed);
                stats.connection_errors.fetch_add(1, Ordering::Relaxed);
                if tx.is_none() {
                    return;
                }
                tracing::warn!(error = %e, retry_in = ?backoff, "gateway: broker connection failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RECONNECT_MAX);
            }
        }
    }
}

/// Marks the link down and wakes the acker when the source ends.
struct LinkDown<'a>(&'a Shared);

impl Drop for LinkDown<'_> {
    fn drop(&mut self) {
        lock(&self.0.link).lost();
        self.0.room.notify_one();
    }
}

/// Sleeps until `deadline` (forever without one).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// Carries out a step of the subscription's state machine (`sub`, after it).
fn step(step: Step, sub: &Subscription, client: &AsyncClient, filter: &str, stats: &Stats) {
    match step {
        Step::Idle => {}
        Step::Subscribe => {
            // A full request channel is a SUBACK that does not come: the
            // timeout retries it.
            if let Err(e) = client.try_subscribe(filter, QoS::AtLeastOnce) {
                tracing::error!(error = %e, "gateway: cannot queue subscribe");
            }
        }
        Step::Failed { why, retry_in } => {
            stats.subscribe_failures.get_or_create(&[("why", why.code())]).inc();
            let what = match why {
                Failure::Refused => "the broker refused the subscription (check its ACL for the gateway's user)",
                Failure::Timeout => "no answer from the broker to the subscription",
            };
            tracing::error!(filter = %filter, retry_in = ?retry_in, "gateway: {what}; retrying");
        }
        Step::Subscribed => tracing::info!(filter = %filter, "gateway: subscribed"),
    }
    stats.subscribed.store(sub.is_up(), Ordering::Relaxed);
}

/// Counts a session takeover; says so when they amount to a client-id conflict.
fn took_over(client_id: &str, stats: &Stats) {
    stats.session_takeovers.fetch_add(1, Ordering::Relaxed);
    let now = std::time::Instant::now();
    let (starts, recent) = {
        let mut t = stats.takeovers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (t.record(now), t.recent(now))
    };
    if starts {
        tracing::error!(
            client_id,
            takeovers = recent,
            window = ?TAKEOVER_WINDOW,
            "gateway: the broker keeps closing this gateway's session and it gets it back at once: another process \
             uses the same --mqtt-client-id {client_id:?} (or the broker restarts again and again); give every \
             gateway its own client id (same share group)"
        );
    } else {
        tracing::warn!(
            client_id,
            "gateway: the broker closed the connection and the session was back at once (another client with this client id, or a fast broker restart)"
        );
    }
}

/// Classifies a connection error for takeover detection: the broker ended
/// the stream (or reset it) — rumqttc reports both as I/O errors of kind
/// `ConnectionAborted`/`ConnectionReset` — or anything else.
fn ended(e: &ConnectionError) -> Ended {
    let io = match e {
        ConnectionError::Io(io) | ConnectionError::MqttState(StateError::Io(io)) => io,
        _ => return Ended::Other,
    };
    match io.kind() {
        std::io::ErrorKind::ConnectionAborted
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::BrokenPipe => Ended::ClosedByBroker,
        _ => Ended::Other,
    }
}

/// After a connection error: removes from the event loop every ack and
/// subscribe it would send first on the next connection; returns the acks
/// removed.
///
/// rumqttc (0.24) keeps the requests of a broken connection for the next
/// one: `EventLoop::clean`, run on the error, moves the requests still in
/// its channel into `EventLoop::pending`, which is sent first after the
/// reconnection. An ack there names a packet id of the old connection, which
/// on the new one may be another message (sent before it is stored); a
/// subscribe there duplicates the one sent at the CONNACK. Cleaning again
/// here (the network is already gone) also takes any ack the acker queued
/// between rumqttc's clean and [`Link::lost`].
pub(crate) fn forget_acks(eventloop: &mut EventLoop) -> u64 {
    eventloop.clean();
    let before = eventloop.pending.len();
    eventloop.pending.retain(|r| !matches!(r, Request::PubAck(_) | Request::PubRec(_)));
    let acks = before - eventloop.pending.len();
    eventloop.pending.retain(|r| !matches!(r, Request::Subscribe(_)));
    acks as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_of_the_config_win_over_the_url() {
        let cfg = GatewayConfig {
            mqtt_url: "mqtt://url-user:url-pw@h:1883".into(),
            username: Some("liftwatch-gateway".into()),
            password: Some("pw".into()),
            ..Default::default()
        };
        let o = mqtt_options(&cfg).unwrap();
        assert_eq!(o.credentials(), Some(("liftwatch-gateway".into(), "pw".into())));
        let url_only = GatewayConfig { mqtt_url: "mqtt://url-user:url-pw@h:1883".into(), ..Default::default() };
        assert_eq!(mqtt_options(&url_only).unwrap().credentials(), Some(("url-user".into(), "url-pw".into())));
    }

    #[test]
    fn a_password_without_user_or_a_ca_file_without_tls_is_refused() {
        let cfg = GatewayConfig { password: Some("secret-pw".into()), ..Default::default() };
        let e = mqtt_options(&cfg).unwrap_err().to_string();
        assert!(e.contains("no user name") && !e.contains("secret-pw"), "{e}");
        let cfg = GatewayConfig { ca_file: Some("/ca.pem".into()), ..Default::default() };
        let e = mqtt_options(&cfg).unwrap_err().to_string();
        assert!(e.contains("not mqtts://"), "{e}");
        let cfg = GatewayConfig {
            mqtt_url: "mqtts://h:8883".into(),
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        assert!(mqtt_options(&cfg).unwrap_err().to_string().contains("/nonexistent/ca.pem"));
    }

    /// Protects issue 9, item 10: an ack queued in rumqttc when its
    /// connection breaks is not sent on the next connection. rumqttc moves
    /// what is queued into `EventLoop::pending` (replayed first after the
    /// reconnection); [`forget_acks`] takes the acks (and the subscribe,
    /// sent afresh at the CONNACK) out of it, whether they were queued
    /// before rumqttc's clean-up or after it.
    #[tokio::test]
    async fn no_ack_queued_in_rumqttc_survives_a_connection_error() {
        let opts = MqttOptions::new("gw-unit", "127.0.0.1", 1);
        let (client, mut eventloop) = AsyncClient::new(opts, 16);
        let mut p = Publish::new("lift/v1/x/events", QoS::AtLeastOnce, Vec::<u8>::new());
        let mut ack = |client: &AsyncClient, pkid| {
            p.pkid = pkid;
            client.try_ack(&p).unwrap();
        };
        ack(&client, 1);
        client.try_subscribe("lift/v1/+/events", QoS::AtLeastOnce).unwrap();
        // The event loop's own clean-up on the error …
        eventloop.clean();
        // … and an ack the acker queued right after it.
        ack(&client, 2);
        client.try_unsubscribe("other").unwrap();
        assert_eq!(forget_acks(&mut eventloop), 2);
        let left: Vec<_> = eventloop.pending.iter().collect();
        assert!(matches!(left[..], [Request::Unsubscribe(_)]), "only the unrelated request is left: {left:?}");
    }
}
