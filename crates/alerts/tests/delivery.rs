//! Alert delivery against the real PostgreSQL outbox, a real HTTP receiver
//! started by the test, and the real Mosquitto.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use liftwatch_alerts::sign::verify;
use liftwatch_alerts::{alert_topic, Dispatcher, DispatcherConfig, MqttPublisher, Publisher, DEFAULT_HTTP_TIMEOUT};
use liftwatch_core::protocol::Timestamp;
use liftwatch_store::alerts::{NewAlert, WebhookSpec};
use liftwatch_store::prelude::*;
use liftwatch_store::PgStore;
use liftwatch_testkit::db::TestDb;
use liftwatch_testkit::fixtures;
use liftwatch_testkit::wait::wait_until;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the receiver saw: (webhook-id, body, signature valid).
#[derive(Default)]
struct Seen {
    requests: Vec<(String, String, bool)>,
    /// Answer 500 to this many requests first.
    fail_first: usize,
}

async fn receiver(seen: Arc<Mutex<Seen>>) -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                let id = h("webhook-id");
                let ts: i64 = h("webhook-timestamp").parse().unwrap_or(0);
                let ok = verify(SECRET, &id, ts, &body, &h("webhook-signature"));
                let mut s = seen.lock().expect("lock");
                s.requests.push((id, body, ok));
                if s.fail_first > 0 {
                    s.fail_first -= 1;
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}/hook")
}

async fn setup(tag: &str) -> (TestDb, PgStore) {
    let db = TestDb::new(tag).await;
    let store = db.store(false).await;
    fixtures::firm(&store, "f1").await;
    fixtures::firm(&store, "f2").await;
    (db, store)
}

fn alert(n: usize, subject: &str, firm: &str) -> NewAlert {
    NewAlert {
        msg_id: format!("msg_{subject}_{n}"),
        kind: if n == 0 { "finding.opened" } else { "finding.escalated" }.into(),
        subject: subject.into(),
        firm_id: Some(firm.into()),
        action: "rectify".into(),
        body: format!(
            r#"{{"type":"finding.opened","timestamp":"2026-12-05T00:00:00Z","data":{{"id":"{subject}","n":{n}}}}}"#
        ),
    }
}

fn dispatcher(store: &PgStore, owner: &str, mqtt: Option<Arc<dyn Publisher>>) -> Dispatcher {
    Dispatcher::new(
        Arc::new(store.clone()),
        mqtt,
        DispatcherConfig { owner: owner.into(), http_timeout: DEFAULT_HTTP_TIMEOUT, lease: Duration::from_secs(60) },
    )
}

fn hook(id: &str, url: &str, firm: Option<&str>, owner: &str) -> WebhookSpec {
    WebhookSpec {
        id: id.into(),
        url: url.into(),
        secret: SECRET.into(),
        firm_id: firm.map(Into::into),
        actions: None,
        owner: owner.into(),
    }
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_with_the_same_id_signed_in_order_and_once_accepted_no_more() {
    let (_db, store) = setup("alerts_retry").await;
    let seen = Arc::new(Mutex::new(Seen { fail_first: 2, ..Seen::default() }));
    let url = receiver(seen.clone()).await;
    store.put_webhook(&hook("h1", &url, None, "regulator")).await.expect("webhook");
    let t0 = Timestamp::now();
    // No firm: no MQTT delivery, only the webhook's.
    for n in 0..3 {
        assert!(store.enqueue_alert(&NewAlert { firm_id: None, ..alert(n, "F1", "f1") }, t0).await.expect("enqueue"));
    }
    assert!(!store.enqueue_alert(&alert(0, "F1", "f1"), t0).await.expect("again"), "a msg_id is enqueued once");

    let d = dispatcher(&store, "p1", None);
    // First round: only the first event of the subject is due (in order), and it fails.
    let r = d.run_once(t0).await.expect("round");
    assert_eq!((r.delivered, r.failed), (0, 1));
    // Not due again before its backoff.
    assert_eq!(d.run_once(t0).await.expect("round").failed, 0);
    let later = |s: u64| t0.plus(Duration::from_secs(s));
    assert_eq!(d.run_once(later(3600 * 2)).await.expect("round").failed, 1);
    let r = d.run_once(later(3600 * 4)).await.expect("round");
    assert_eq!(r.delivered, 1, "third attempt accepted; the later events wait for the next round");
    d.run_once(later(3600 * 4)).await.expect("round");
    d.run_once(later(3600 * 4)).await.expect("round");
    assert_eq!(d.run_once(later(3600 * 5)).await.expect("round"), Default::default(), "nothing left");

    {
        let s = seen.lock().expect("lock");
        let ids: Vec<&str> = s.requests.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(ids, ["msg_F1_0", "msg_F1_0", "msg_F1_0", "msg_F1_1", "msg_F1_2"]);
        assert!(s.requests.iter().all(|r| r.2), "every request carries a valid Standard Webhooks signature");
        assert!(s.requests[0].1.contains(r#""n":0"#));
    }
    let status = store.outbox_status(later(3600 * 5)).await.expect("status");
    assert_eq!(status.pending, 0);
}

#[tokio::test]
async fn two_dispatchers_racing_never_send_a_delivery_twice() {
    let (_db, store) = setup("alerts_race").await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let url = receiver(seen.clone()).await;
    store.put_webhook(&hook("h1", &url, None, "regulator")).await.expect("webhook");
    let t0 = Timestamp::now();
    for subject in 0..250 {
        store.enqueue_alert(&alert(0, &format!("S{subject}"), "f1"), t0).await.expect("enqueue");
    }
    let a = dispatcher(&store, "a", None);
    let b = dispatcher(&store, "b", None);
    let (ra, rb) = tokio::join!(
        async {
            let mut n = 0;
            for _ in 0..5 {
                n += a.run_once(t0).await.expect("a").delivered;
            }
            n
        },
        async {
            let mut n = 0;
            for _ in 0..5 {
                n += b.run_once(t0).await.expect("b").delivered;
            }
            n
        }
    );
    assert_eq!(ra + rb, 250);
    let s = seen.lock().expect("lock");
    let mut ids: Vec<&str> = s.requests.iter().map(|r| r.0.as_str()).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!((before, ids.len()), (250, 250), "each event sent exactly once");
}

#[tokio::test]
async fn a_firm_webhook_gets_only_its_firms_findings_and_owners_are_kept_apart() {
    let (_db, store) = setup("alerts_scope").await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let url = receiver(seen.clone()).await;
    assert!(store.put_webhook(&hook("mine", &url, Some("f1"), "firm:f1")).await.expect("put"));
    assert!(!store.put_webhook(&hook("mine", &url, Some("f1"), "firm:f1")).await.expect("replace"));
    // Firm f2's "mine" is another webhook (owners have their own ids), not f1's.
    assert!(store.webhook("firm:f2", "mine").await.expect("get").is_none());
    assert!(!store.delete_webhook("firm:f2", "mine").await.expect("delete"));
    assert_eq!(store.webhooks("firm:f1").await.expect("list").len(), 1);

    let t0 = Timestamp::now();
    store.enqueue_alert(&alert(0, "A", "f1"), t0).await.expect("enqueue");
    store.enqueue_alert(&alert(0, "B", "f2"), t0).await.expect("enqueue");
    dispatcher(&store, "p", None).run_once(t0).await.expect("round");
    let s = seen.lock().expect("lock");
    assert_eq!(s.requests.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["msg_A_0"]);
}

#[tokio::test]
async fn exactly_one_process_leads_and_another_takes_over_when_it_goes() {
    let (db, a) = setup("alerts_leader").await;
    let b = db.store(false).await;
    let lease = a.try_lead("rules").await.expect("try").expect("first leads");
    assert!(lease.held().await);
    assert!(b.try_lead("rules").await.expect("try").is_none(), "a second process does not lead");
    assert!(b.try_lead("other-role").await.expect("try").is_some(), "roles are independent");
    drop(lease);
    wait_until("the lock is released when its holder goes", Duration::from_secs(10), || async {
        b.try_lead("rules").await.expect("try").is_some()
    })
    .await;
}

#[tokio::test]
async fn an_alert_reaches_the_firms_mqtt_topic_on_the_real_broker() {
    let (_db, store) = setup("alerts_mqtt").await;
    let firm = "f1".to_owned();
    let topic = alert_topic(&firm);
    // A subscriber, as a firm's integration would be.
    let mut o = rumqttc::MqttOptions::new(format!("sub-{}", std::process::id()), "127.0.0.1", 1883);
    o.set_clean_session(true);
    let (sub, mut el) = rumqttc::AsyncClient::new(o, 16);
    sub.subscribe(&topic, rumqttc::QoS::AtLeastOnce).await.expect("subscribe");
    let got = Arc::new(Mutex::new(Vec::<String>::new()));
    let (subscribed_tx, subscribed_rx) = tokio::sync::oneshot::channel();
    let g = got.clone();
    tokio::spawn(async move {
        let mut subscribed = Some(subscribed_tx);
        while let Ok(ev) = el.poll().await {
            match ev {
                rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) => {
                    if let Some(t) = subscribed.take() {
                        let _ = t.send(());
                    }
                }
                rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) => {
                    g.lock().expect("lock").push(String::from_utf8_lossy(&p.payload).into_owned());
                }
                _ => {}
            }
        }
    });
    subscribed_rx.await.expect("suback");
    let mut po = rumqttc::MqttOptions::new(format!("pub-{}", std::process::id()), "127.0.0.1", 1883);
    po.set_clean_session(true);
    let publisher: Arc<dyn Publisher> = Arc::new(MqttPublisher::start(po));
    let a = NewAlert { firm_id: Some(firm.clone()), ..alert(0, &format!("M{}", std::process::id()), &firm) };
    let t0 = Timestamp::now();
    store.enqueue_alert(&a, t0).await.expect("enqueue");
    let r = dispatcher(&store, "p", Some(publisher)).run_once(t0).await.expect("round");
    assert_eq!(r.delivered, 1, "delivered once the broker acknowledged it");
    wait_until("the subscriber gets the alert", Duration::from_secs(10), || {
        let got = got.clone();
        async move { got.lock().expect("lock").iter().any(|b| b.contains(r#""n":0"#)) }
    })
    .await;
    assert_eq!(store.outbox_status(t0).await.expect("status").pending, 0);
}

#[tokio::test]
async fn a_lease_keeps_a_delivery_from_others_until_it_expires_and_a_late_completion_is_ignored() {
    use liftwatch_store::alerts::Outcome;
    let (_db, store) = setup("alerts_lease").await;
    store.put_webhook(&hook("h1", "http://127.0.0.1:9/none", None, "regulator")).await.expect("webhook");
    let t0 = Timestamp::now();
    store.enqueue_alert(&NewAlert { firm_id: None, ..alert(0, "L", "f1") }, t0).await.expect("enqueue");
    let lease = Duration::from_secs(60);
    let a = store.claim_deliveries("a", t0, t0.plus(lease), 10).await.expect("claim");
    assert_eq!(a.len(), 1);
    assert!(store.claim_deliveries("b", t0, t0.plus(lease), 10).await.expect("claim").is_empty(), "leased");
    // "a" died: after the lease, "b" takes it over, with the same message id.
    let t1 = t0.plus(lease + Duration::from_secs(1));
    let b = store.claim_deliveries("b", t1, t1.plus(lease), 10).await.expect("claim");
    assert_eq!(b.iter().map(|d| &d.msg_id).collect::<Vec<_>>(), [&a[0].msg_id]);
    assert!(!store.complete_delivery(a[0].id, "a", &Outcome::Delivered, t1).await.expect("late"), "not a's any more");
    assert!(store.complete_delivery(b[0].id, "b", &Outcome::Delivered, t1).await.expect("b completes"));
    assert_eq!(store.outbox_status(t1).await.expect("status").pending, 0);
    assert_eq!(store.prune_alerts(t1.plus(Duration::from_secs(1))).await.expect("prune"), 1);
}
