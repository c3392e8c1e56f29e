//! Issue 10 end to end: a box's MQTT events → `liftwatch serve` (gateway,
//! store, rule engine, alert dispatcher) → an alert on the firm's MQTT topic.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use liftwatch_core::protocol::{decode_message, to_array_payload, topic_for, Body, Event, Mode, Timestamp};
use liftwatch_store::{EventStore, Inbound};
use liftwatch_testkit::{dev, publish, register, wait_until, Broker, Service, TestDb};
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};

const BIN: &str = env!("CARGO_BIN_EXE_liftwatch");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entrapment_without_a_rescuer_becomes_an_alert_on_the_firms_topic() {
    let db = TestDb::new("e2e_alert").await;
    let store = db.store(true).await;
    register(&store, 1).await;
    // The box has been heard (an iot project whose box never reported would
    // leave the pilot at once, A1-I-2-1-iot-monitoring, and no other rule
    // would look at it).
    let beat = Event {
        device: dev(0),
        seq: 0,
        ts: Timestamp(Timestamp::now().0 - 60 * 60 * 1_000_000),
        ts_offset: 8 * 3600,
        body: Body::Heartbeat { mode: Mode::Normal },
    };
    let (topic, payload) = (topic_for(&dev(0)), to_array_payload([&beat]).into_bytes());
    let now = Timestamp::now();
    let decoded = decode_message(&topic, &payload, now);
    store.ingest(&[Inbound { topic, payload, received_at: now, decoded }]).await.unwrap();
    let broker = Broker::start().await;
    // The firm's integration listens to its alerts.
    let mut o = MqttOptions::new("firm-zls-alerts", "127.0.0.1", broker.port);
    o.set_max_packet_size(1 << 20, 1 << 20);
    let (sub, mut el) = AsyncClient::new(o, 16);
    sub.subscribe("liftwatch/v1/alerts/zls", QoS::AtLeastOnce).await.unwrap();
    let got: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let g = got.clone();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        while let Ok(ev) = el.poll().await {
            match ev {
                MqttEvent::Incoming(Packet::SubAck(_)) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                MqttEvent::Incoming(Packet::Publish(p)) => {
                    g.lock().unwrap().push(serde_json::from_slice(&p.payload).unwrap());
                }
                _ => {}
            }
        }
    });
    ready_rx.await.unwrap();
    let mut svc =
        Service::start_with(BIN, &db.url, &broker.url(), "gw-alert", "g-alert", &["--rules-interval-secs", "1"]).await;
    // Passengers trapped 45 minutes ago; no rescuer has arrived (the limit is 30).
    let alarm = Timestamp(Timestamp::now().0 - 45 * 60 * 1_000_000);
    let ev = Event {
        device: dev(0),
        seq: 1,
        ts: alarm,
        ts_offset: 8 * 3600,
        body: Body::Entrapment { incident_id: "e-1".into(), fault_id: None },
    };
    publish(broker.port, "box-0", &[ev], 1).await;
    wait_until("the rescue alert on liftwatch/v1/alerts/zls", Duration::from_secs(60), || {
        let got = got.clone();
        async move {
            got.lock().unwrap().iter().any(|a| {
                a["type"] == "finding.opened"
                    && a["data"]["rule"] == "TSG-T5002-rescue-arrival"
                    && a["data"]["subject"].as_str().is_some_and(|s| s.ends_with("/e-1"))
            })
        }
    })
    .await;
    let a = got.lock().unwrap().iter().find(|a| a["data"]["rule"] == "TSG-T5002-rescue-arrival").cloned().unwrap();
    assert_eq!(a["data"]["firm"], "zls");
    assert_eq!(a["data"]["project"], "haibin");
    assert!(a["data"]["clause"].as_str().unwrap().contains("T5002"), "{a}");
    assert!(svc.terminate().success());
}
