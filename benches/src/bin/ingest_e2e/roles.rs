//! The helper processes: the load generator (`publish`) and the bare
//! subscriber (`subscribe`). Each prints `ready` when set up, and the
//! publisher starts on a `go` line on stdin, so the driver's clock starts at
//! the first publish.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use rumqttc::{AsyncClient, ConnectionError, Event, MqttOptions, Outgoing, Packet, QoS};
use tokio::io::AsyncBufReadExt;

use crate::workload::{topic, Workload};

/// Largest packet either side accepts (payloads are ~19 KB).
const MAX_PACKET: usize = 1 << 20;

/// Publishes the whole workload with QoS 1 on one connection, as fast as the
/// broker acknowledges; prints `acked <seconds>` once every PUBACK is in.
pub async fn publish(port: u16, w: Workload, inflight: u16, client_id: &str) -> anyhow::Result<()> {
    let payloads: Vec<(String, Bytes)> =
        (0..w.messages()).map(|m| (topic(w.message_device(m)), Bytes::from(w.payload(m)))).collect();
    let total = payloads.len();
    let mut o = MqttOptions::new(client_id, "127.0.0.1", port);
    o.set_max_packet_size(MAX_PACKET, MAX_PACKET).set_keep_alive(Duration::from_secs(60)).set_inflight(inflight);
    let (client, mut el) = AsyncClient::new(o, 1000);
    loop {
        match el.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => break,
            Ok(_) => {}
            Err(e) => bail!("publisher cannot connect: {e}"),
        }
    }
    println!("ready {total}");
    let mut line = String::new();
    tokio::io::BufReader::new(tokio::io::stdin()).read_line(&mut line).await?;
    let start = Instant::now();
    let sender = tokio::spawn(async move {
        for (t, p) in payloads {
            if client.publish_bytes(t, QoS::AtLeastOnce, false, p).await.is_err() {
                break;
            }
        }
        client
    });
    let mut acked = 0;
    while acked < total {
        match el.poll().await {
            Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
            Ok(_) => {}
            Err(e) => bail!("publisher connection failed after {acked} acks: {e}"),
        }
    }
    println!("acked {:.6}", start.elapsed().as_secs_f64());
    let client = sender.await.context("publisher task")?;
    client.disconnect().await?;
    loop {
        match el.poll().await {
            Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
            _ => {}
        }
    }
    Ok(())
}

/// A bare subscriber: persistent session, QoS 1 shared subscription (like the
/// gateway's), manual acks sent as soon as a message arrives, no decoding.
/// Prints `ready` on SUBACK and `done <messages> <payload bytes>` when
/// `expected` messages have arrived.
pub async fn subscribe(port: u16, expected: u64, filter: &str, client_id: &str) -> anyhow::Result<()> {
    let mut o = MqttOptions::new(client_id, "127.0.0.1", port);
    o.set_max_packet_size(MAX_PACKET, MAX_PACKET)
        .set_keep_alive(Duration::from_secs(60))
        .set_clean_session(false)
        .set_manual_acks(true);
    // Room for every ack: acking never waits for the event loop.
    let (client, mut el) = AsyncClient::new(o, expected as usize + 100);
    let (mut n, mut bytes) = (0u64, 0u64);
    loop {
        match el.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => client.try_subscribe(filter, QoS::AtLeastOnce)?,
            Ok(Event::Incoming(Packet::SubAck(_))) => println!("ready"),
            Ok(Event::Incoming(Packet::Publish(p))) => {
                n += 1;
                bytes += p.payload.len() as u64;
                client.try_ack(&p)?;
                if n == expected {
                    println!("done {n} {bytes}");
                    break;
                }
            }
            Ok(_) => {}
            Err(ConnectionError::RequestsDone) => break,
            Err(e) => bail!("subscriber connection failed after {n} messages: {e}"),
        }
    }
    // Let the last acks go out, then leave.
    client.disconnect().await?;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match el.poll().await {
                Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                _ => {}
            }
        }
    })
    .await;
    Ok(())
}
