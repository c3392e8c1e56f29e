//! The protections of docs/security.md, through real processes: the shipped
//! Mosquitto configuration (authentication, one topic per box), the gateway
//! logging in over TLS, and secrets read from files.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use liftwatch_core::protocol::{topic_for, DeviceCode};
use liftwatch_testkit::mqtt::publish_as;
use liftwatch_testkit::procs::BrokerOptions;
use liftwatch_testkit::{fleet_events, register, Broker, Service, TestCa, TestDb};
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet, QoS};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_liftwatch");

/// The gateway's user in the shipped ACL.
const GATEWAY_USER: &str = "liftwatch-gateway";
const GATEWAY_PASSWORD: &str = "gateway-password-for-tests";

/// A folder of files for one test, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("lw-sec-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A Mosquitto password file (as docs/operations.md says to make one) with
/// the gateway and one box per device, each box's password `pw-<code>`.
fn password_file(dir: &Dir, boxes: &[DeviceCode]) -> PathBuf {
    let p = dir.0.join("liftwatch.passwd");
    let add = |user: &str, pw: &str, create: bool| {
        let mut c = Command::new("mosquitto_passwd");
        if create {
            c.arg("-c");
        }
        assert!(c.arg("-b").arg(&p).arg(user).arg(pw).status().unwrap().success());
    };
    add(GATEWAY_USER, GATEWAY_PASSWORD, true);
    for d in boxes {
        add(d.as_str(), &format!("pw-{d}"), false);
    }
    p
}

/// Connects as `credentials`; the event loop once the broker accepted, or
/// the broker's refusal.
async fn connect(port: u16, id: &str, credentials: Option<(&str, &str)>) -> Result<(AsyncClient, EventLoop), String> {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    if let Some((u, p)) = credentials {
        o.set_credentials(u, p);
    }
    let (c, mut el) = AsyncClient::new(o, 10);
    loop {
        match el.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok((c, el)),
            Ok(_) => {}
            Err(ConnectionError::ConnectionRefused(code)) => return Err(format!("{code:?}")),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Polls until `n` publishes arrived; their (topic, payload).
async fn receive(el: &mut EventLoop, n: usize) -> Vec<(String, String)> {
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while got.len() < n {
            if let Event::Incoming(Packet::Publish(p)) = el.poll().await.unwrap() {
                got.push((p.topic.clone(), String::from_utf8_lossy(&p.payload).into_owned()));
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} of {n} messages arrived", got.len()));
    got
}

/// Publishes with QoS 1 and waits until the broker has dealt with it: its
/// PUBACK, or (for a message its ACL denies: Mosquitto 2.0.11 answers with
/// an MQTT 5 reason code that a 3.1.1 client cannot parse) the end of the
/// connection. Whether the broker acknowledged it.
async fn publish_handled(c: &AsyncClient, el: &mut EventLoop, topic: &str, payload: &str) -> bool {
    c.publish(topic, QoS::AtLeastOnce, false, payload.as_bytes().to_vec()).await.unwrap();
    loop {
        match el.poll().await {
            Ok(Event::Incoming(Packet::PubAck(_))) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

/// Protects item 12 of issue 9: with the shipped configuration, anonymous
/// clients and wrong passwords are refused, a box can publish to its own
/// topic but not to another device's (the message reaches nobody), and the
/// gateway's user reads every box's topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_broker_config_requires_login_and_confines_each_box_to_its_topic() {
    let dir = Dir::new("acl");
    let (a, b) = (liftwatch_testkit::dev(1), liftwatch_testkit::dev(2));
    let pw = password_file(&dir, &[a, b]);
    let broker = Broker::try_start(BrokerOptions { password_file: Some(pw), ..Default::default() }).await.unwrap();

    let refused = connect(broker.port, "anon", None).await.err().expect("an anonymous client was accepted");
    assert!(refused.contains("NotAuthorized") || refused.contains("BadUserNamePassword"), "{refused}");
    let wrong = connect(broker.port, "wrong", Some((a.as_str(), "guess"))).await;
    assert!(wrong.is_err(), "a wrong password was accepted");

    let (gw, mut gw_el) = connect(broker.port, "gw", Some((GATEWAY_USER, GATEWAY_PASSWORD))).await.unwrap();
    gw.subscribe("$share/liftwatch/lift/v1/+/events", QoS::AtLeastOnce).await.unwrap();
    loop {
        if let Event::Incoming(Packet::SubAck(s)) = gw_el.poll().await.unwrap() {
            assert!(s.return_codes.iter().all(|c| !matches!(c, rumqttc::SubscribeReasonCode::Failure)));
            break;
        }
    }
    let pw_a = format!("pw-{a}");
    let login_a = (a.as_str(), pw_a.as_str());
    let port = broker.port;
    let driver = async move {
        // Box A first tries B's topic, then (once the broker has dealt with
        // that) its own: had the first been delivered it would arrive first.
        let (box_a, mut el_a) = connect(port, a.as_str(), Some(login_a)).await.unwrap();
        publish_handled(&box_a, &mut el_a, &topic_for(&b), "forged by A").await;
        let (box_a, mut el_a) = connect(port, a.as_str(), Some(login_a)).await.unwrap();
        assert!(publish_handled(&box_a, &mut el_a, &topic_for(&a), "A's own").await);
    };
    let (got, ()) = tokio::join!(receive(&mut gw_el, 1), driver);
    assert_eq!(got, vec![(topic_for(&a), "A's own".to_owned())]);
    // B still publishes to its own topic.
    let pw_b = format!("pw-{b}");
    let (box_b, mut el_b) = connect(broker.port, b.as_str(), Some((b.as_str(), &pw_b))).await.unwrap();
    tokio::spawn(async move { publish_handled(&box_b, &mut el_b, &topic_for(&b), "B's own").await });
    assert_eq!(receive(&mut gw_el, 1).await, vec![(topic_for(&b), "B's own".to_owned())]);
}

/// Protects items 12 and 14: `liftwatch serve` logs in to the authenticated
/// broker over TLS (mqtts://, the CA in a file, its password and the
/// regulator's token read from files) and stores what a logged-in box publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_logs_in_over_tls_and_ingests_what_a_box_publishes() {
    let dir = Dir::new("gwtls");
    let db = TestDb::new("sec_gw").await;
    let store = db.store(false).await;
    let devs = register(&store, 1).await;
    let pw = password_file(&dir, &devs);
    let ca = TestCa::new("mqtt");
    let broker = Broker::try_start(BrokerOptions {
        password_file: Some(pw),
        tls: Some((ca.cert(), ca.key())),
        ..Default::default()
    })
    .await
    .unwrap();
    let url = format!("mqtts://localhost:{}", broker.tls_port.unwrap());
    let ca_file = ca.ca();
    let token = "regulator-token-read-from-a-file-0123456789";
    let token_file = dir.file("regulator.token", &format!("{token}\n"));
    let pw_file = dir.file("gateway.password", &format!("{GATEWAY_PASSWORD}\n"));
    let extra = [
        "--mqtt-username",
        GATEWAY_USER,
        "--mqtt-password-file",
        path(&pw_file),
        "--mqtt-ca-file",
        path(&ca_file),
        "--regulator-token-file",
        path(&token_file),
    ];
    let port = liftwatch_testkit::free_port();
    let mut args = liftwatch_testkit::procs::serve_args(&db.url, &url, port, "gw-sec", "g-sec");
    args.extend(extra.iter().map(|a| a.to_string()));
    let log = dir.0.join("serve.log");
    let _svc = Service::try_start(Path::new(BIN), args, port, Some(log.clone()), "debug").await.unwrap();
    // The token from the file is the regulator's.
    let (status, _) = liftwatch_testkit::procs::http(port, "GET", "/api/v1/firms", Some(token), None).unwrap();
    assert_eq!(status, 200);
    let events = fleet_events(&devs, 50, 3);
    let box_pw = format!("pw-{}", devs[0]);
    publish_as(broker.port, devs[0].as_str(), Some((devs[0].as_str(), &box_pw)), &events, 10).await;
    db.wait_for_events(events.len()).await;
    // Neither secret in the process's log (at debug level).
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("store ready"), "{text}");
    assert!(!text.contains(GATEWAY_PASSWORD) && !text.contains(token), "a secret in the log:\n{text}");
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}
