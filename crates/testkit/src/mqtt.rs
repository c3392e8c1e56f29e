//! A publisher that behaves like a fleet of boxes.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use liftwatch_core::protocol::{to_array_payload, topic_for, DeviceCode, Event};
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Outgoing, Packet, QoS};

/// Publishes `events` as boxes do — per device, protocol-v1 arrays of up to
/// `per_msg` events with QoS 1 — and returns once the broker acknowledged
/// every message and the connection is closed. Publishing runs on its own
/// task, never on the one polling the event loop (rumqtt #263, #1025).
pub async fn publish(mqtt_port: u16, client_id: &str, events: &[Event], per_msg: usize) {
    publish_as(mqtt_port, client_id, None, events, per_msg).await
}

/// [`publish`] logged in as `credentials` (user name, password), as boxes
/// do on a broker that requires authentication.
pub async fn publish_as(
    mqtt_port: u16,
    client_id: &str,
    credentials: Option<(&str, &str)>,
    events: &[Event],
    per_msg: usize,
) {
    let mut o = MqttOptions::new(client_id, "127.0.0.1", mqtt_port);
    if let Some((user, password)) = credentials {
        o.set_credentials(user, password);
    }
    o.set_max_packet_size(1 << 20, 1 << 20).set_keep_alive(Duration::from_secs(30));
    let (client, mut el) = AsyncClient::new(o, 1000);
    let mut by_dev: BTreeMap<DeviceCode, Vec<&Event>> = BTreeMap::new();
    for e in events {
        by_dev.entry(e.device).or_default().push(e);
    }
    let mut payloads = Vec::new();
    for (d, evs) in by_dev {
        for c in evs.chunks(per_msg) {
            payloads.push((topic_for(&d), to_array_payload(c.iter().copied())));
        }
    }
    let total = payloads.len();
    let sender = tokio::spawn(async move {
        for (t, p) in payloads {
            client.publish(t, QoS::AtLeastOnce, false, p).await.unwrap();
        }
        client
    });
    let mut acked = 0;
    while acked < total {
        match el.poll().await {
            Ok(MqttEvent::Incoming(Packet::PubAck(_))) => acked += 1,
            Ok(_) => {}
            Err(e) => panic!("publisher connection failed: {e}"),
        }
    }
    let client = sender.await.unwrap();
    client.disconnect().await.unwrap();
    loop {
        match el.poll().await {
            Ok(MqttEvent::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
            _ => {}
        }
    }
}
