//! The MQTT source: polls the rumqttc event loop and forwards each QoS 1
//! publish into the bounded queue towards the batcher.
//!
//! This task never awaits a publish or an ack (rumqtt issues #263/#1025: the
//! request channel is drained only by this very polling, so awaiting it here
//! can deadlock); subscribing uses `try_subscribe`, acks are sent by the
//! acker task. When the queue is full the task stops polling, the broker
//! stops sending (in-flight window), and memory stays bounded.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use tokio::sync::{mpsc, watch};

use crate::budget::{ByteBudget, Held};
use crate::config::{redact_url, GatewayConfig};
use crate::metrics::Stats;
use crate::MAX_PACKET_BYTES;

/// A message as received, with the number of the connection it came on
/// (see [`Stats::connection`]): it may be acked only on that connection.
#[derive(Debug)]
pub(crate) struct Received {
    /// The packet (topic, payload, packet id for the ack).
    pub publish: Publish,
    /// The connection it arrived on.
    pub connection: u64,
    /// Its bytes in the pipeline's [`ByteBudget`], given back when dropped.
    pub _held: Held,
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

/// Polls the event loop until the connection is closed (after shutdown, once
/// the acker disconnected) or the queue's receiver is gone.
pub(crate) async fn run(
    cfg: GatewayConfig,
    client: AsyncClient,
    mut eventloop: EventLoop,
    tx: mpsc::Sender<Received>,
    budget: ByteBudget,
    stats: Arc<Stats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let filter = cfg.filter();
    let mut backoff = RECONNECT_FIRST;
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
                    let connection = stats.connection.load(Ordering::Relaxed);
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
                stats.connection.fetch_add(1, Ordering::Relaxed);
                tracing::info!(session_present = ack.session_present, "gateway: connected to broker");
                backoff = RECONNECT_FIRST;
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
                backoff = (backoff * 2).min(RECONNECT_MAX);
            }
        }
    }
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
}
