//! MQTT alerts: `liftwatch/v1/alerts/{firm_id}`, QoS 1, the webhook body.
//!
//! One client of its own (so alerts never wait behind ingest), one publish
//! in flight at a time: a delivery counts as done only on its PUBACK.

use std::time::Duration;

use async_trait::async_trait;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::dispatcher::Publisher;

/// Topic of a firm's alerts.
pub fn alert_topic(firm_id: &str) -> String {
    format!("liftwatch/v1/alerts/{firm_id}")
}

/// How long a publish may wait for its PUBACK.
const PUBACK_TIMEOUT: Duration = Duration::from_secs(10);

type Waiter = oneshot::Sender<Result<(), String>>;

/// A QoS 1 publisher that reports the broker's acknowledgement.
pub struct MqttPublisher {
    client: AsyncClient,
    waiting: mpsc::UnboundedSender<Waiter>,
    one_at_a_time: Mutex<()>,
}

impl MqttPublisher {
    /// Connects with `opts` (a client id of its own) and drives the
    /// connection in a background task until the publisher is dropped.
    pub fn start(opts: MqttOptions) -> Self {
        let (client, eventloop) = AsyncClient::new(opts, 16);
        let (waiting, rx) = mpsc::unbounded_channel();
        tokio::spawn(drive(eventloop, rx));
        MqttPublisher { client, waiting, one_at_a_time: Mutex::new(()) }
    }
}

/// Polls the event loop; resolves the waiting publish on its PUBACK (or
/// fails it when the connection drops before).
async fn drive(mut el: EventLoop, mut rx: mpsc::UnboundedReceiver<Waiter>) {
    let mut sent: Option<(u16, Waiter)> = None;
    let mut queued: Option<Waiter> = None;
    loop {
        if queued.is_none() && sent.is_none() {
            match rx.try_recv() {
                Ok(w) => queued = Some(w),
                Err(mpsc::error::TryRecvError::Disconnected) => return,
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
        }
        match el.poll().await {
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                if let Some(w) = queued.take().or_else(|| rx.try_recv().ok()) {
                    sent = Some((pkid, w));
                }
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                if let Some((pkid, w)) = sent.take() {
                    if pkid == ack.pkid {
                        let _ = w.send(Ok(()));
                    } else {
                        sent = Some((pkid, w));
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                if let Some((_, w)) = sent.take() {
                    let _ = w.send(Err(format!("MQTT connection lost before PUBACK: {e}")));
                }
                if let Some(w) = queued.take() {
                    let _ = w.send(Err(format!("MQTT connection lost: {e}")));
                }
                if rx.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

#[async_trait]
impl Publisher for MqttPublisher {
    async fn publish(&self, topic: &str, body: &str) -> Result<(), String> {
        let _one = self.one_at_a_time.lock().await;
        let (tx, rx) = oneshot::channel();
        self.waiting.send(tx).map_err(|_| "MQTT publisher stopped".to_owned())?;
        self.client
            .publish(topic, QoS::AtLeastOnce, false, body.as_bytes().to_vec())
            .await
            .map_err(|e| format!("MQTT publish refused: {e}"))?;
        match tokio::time::timeout(PUBACK_TIMEOUT, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err("MQTT publisher stopped".into()),
            Err(_) => Err("no PUBACK within 10 s".into()),
        }
    }
}
