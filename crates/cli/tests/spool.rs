//! The gateway's spool end to end: real `liftwatch serve` processes, a
//! private Mosquitto with STOCK queue limits (20 in flight, 1,000 queued per
//! client, the rest dropped — written here, not deploy/'s raised limits),
//! a throw-away PostgreSQL database. The database is held back by a lock
//! (`LOCK TABLE events IN ACCESS EXCLUSIVE MODE` in another connection), so
//! it answers `/readyz`'s check but commits nothing until the lock goes.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::NaiveDate;
use chrono_tz::Asia::Shanghai;
use liftwatch_core::ledger::Ledger;
use liftwatch_core::protocol::{DeviceCode, Event};
use liftwatch_store::dead_letters::DeadLetterFilter;
use liftwatch_store::prelude::*;
use liftwatch_store::PgStore;
use liftwatch_testkit::procs::http_get;
use liftwatch_testkit::{fleet_events, free_port, publish, register, wait_until, Service, StockBroker, TestDb};
use tokio_postgres::Client;

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_liftwatch");

/// How long any one condition may take to hold.
const DEADLINE: Duration = Duration::from_secs(120);

/// A migrated database with `devices` registered elevators.
async fn setup(tag: &str, devices: u32) -> (TestDb, PgStore, Vec<DeviceCode>) {
    let db = TestDb::new(tag).await;
    let store = db.store(true).await;
    let devs = register(&store, devices).await;
    (db, store, devs)
}

/// The stored rollups equal the ledger's over `events` (each counted
/// exactly once), and no valid message became a dead letter.
async fn assert_exact(store: &PgStore, events: &[Event]) {
    let mut l = Ledger::new(Shanghai);
    for e in events {
        l.apply(e);
    }
    let want: Vec<(DeviceCode, NaiveDate, _)> = l.rows().map(|(d, day, r)| (d, day, r.clone())).collect();
    assert_eq!(store.rollup_rows().await.unwrap(), want);
    let refused = DeadLetterFilter { reason_code: Some("store_refused".into()), ..Default::default() };
    assert!(store.dead_letters(&refused).await.unwrap().is_empty(), "no valid message may end as a dead letter");
}

/// Messages [`publish`] sends for `events` at `per_msg` events a message.
fn messages(events: &[Event], per_msg: usize) -> u64 {
    let mut by_dev: BTreeMap<DeviceCode, usize> = BTreeMap::new();
    for e in events {
        *by_dev.entry(e.device).or_default() += 1;
    }
    by_dev.values().map(|n| n.div_ceil(per_msg) as u64).sum()
}

/// Publishes `events` in waves of about `wave` events (at `per_msg` events
/// a message), each wave once the previous one is in the spool; returns
/// the messages sent.
///
/// Why waves: stock Mosquitto lets 20 messages be in flight to the gateway,
/// so the gateway takes at most 20 messages per spool fsync, while one
/// test publisher can publish far faster than that; a single blast would
/// overflow the broker's 1,000-message queue before the gateway could take
/// it, spool or no spool (docs/operations.md: raise `max_inflight_messages`).
/// Boxes publish at a modest rate each; what the spool absorbs is the
/// database's pause, which is what these tests hold.
async fn publish_in_waves(
    svc: &Service,
    port: u16,
    client: &str,
    events: &[Event],
    per_msg: usize,
    wave: usize,
) -> u64 {
    let before = metric(svc, "liftwatch_spool_appends_total").unwrap_or(0.0) as u64;
    let mut sent = 0;
    for (i, w) in events.chunks(wave).enumerate() {
        publish(port, &format!("{client}-{i}"), w, per_msg).await;
        sent += messages(w, per_msg);
        let want = (before + sent) as f64;
        wait_metric(svc, "liftwatch_spool_appends_total", "the wave spooled", |v| v >= want).await;
    }
    sent
}

/// Holds `events` locked (ACCESS EXCLUSIVE) until [`EventsLock::release`]:
/// the gateway's transactions wait, nothing is committed.
struct EventsLock(Client);

impl EventsLock {
    async fn take(db: &TestDb) -> EventsLock {
        let c = db.client().await;
        c.batch_execute("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE;").await.unwrap();
        EventsLock(c)
    }

    async fn release(self) {
        self.0.batch_execute("COMMIT").await.unwrap();
    }
}

/// The value of a sample in `/metrics` (the line `name value`).
fn metric(svc: &Service, name: &str) -> Option<f64> {
    let (_, body) = http_get(svc.http_port, "/metrics")?;
    body.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Waits until the metric `name` satisfies `ok`.
async fn wait_metric(svc: &Service, name: &str, what: &str, ok: impl Fn(f64) -> bool) {
    wait_until(what, DEADLINE, || {
        let v = metric(svc, name);
        std::future::ready(v.is_some_and(&ok))
    })
    .await;
}

/// A burst of ~5,000 messages — five times the broker's queue — while the
/// database commits nothing: every message is spooled (and acked) anyway,
/// so the broker drops none; once the database is back every event is
/// stored exactly once and the spool drains to empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_beyond_the_broker_queue_survives_a_blocked_database() {
    let (db, store, devs) = setup("spool_burst", 10).await;
    let broker = StockBroker::start().await;
    let svc = Service::start(BIN, &db.url, &broker.url(), "gw-spool-burst", "g-spool-burst").await;
    let events = fleet_events(&devs, 1500, 21);
    let lock = EventsLock::take(&db).await;
    let total = publish_in_waves(&svc, broker.port, "pub-spool-burst", &events, 3, 1500).await;
    assert!(total > 4000, "the burst must dwarf the broker's 1,000-message queue ({total})");
    // Every message is in the spool while the database is still locked
    // (a message redelivered after a reconnect may be there twice).
    let held = metric(&svc, "liftwatch_spool_messages").unwrap();
    assert!(held >= total as f64, "nothing committed while locked: {held} of {total}");
    assert!(metric(&svc, "liftwatch_spool_oldest_age_seconds").is_some());
    lock.release().await;
    db.wait_for_events(events.len()).await;
    assert_exact(&store, &events).await;
    wait_metric(&svc, "liftwatch_spool_messages", "the spool to drain", |v| v == 0.0).await;
    assert_eq!(metric(&svc, "liftwatch_spool_bytes"), Some(0.0));
    assert_eq!(metric(&svc, "liftwatch_spool_oldest_age_seconds"), Some(0.0));
}

/// SIGKILL with messages in the spool (acked to the broker, not committed):
/// the restarted gateway replays them — nothing lost, nothing counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_messages_in_the_spool_replays_them_at_restart() {
    let (db, store, devs) = setup("spool_kill", 4).await;
    let broker = StockBroker::start().await;
    let mut svc = Service::start(BIN, &db.url, &broker.url(), "gw-spool-kill", "g-spool-kill").await;
    let events = fleet_events(&devs, 1000, 22);
    let lock = EventsLock::take(&db).await;
    let total = publish_in_waves(&svc, broker.port, "pub-spool-kill", &events, 2, 1000).await;
    svc.kill9();
    lock.release().await;
    svc.restart().await;
    // Nothing was deleted while locked, so the restart found all of it.
    let replayed = metric(&svc, "liftwatch_spool_replayed_total").unwrap();
    assert!(replayed >= total as f64, "{replayed} of {total} replayed");
    db.wait_for_events(events.len()).await;
    assert_exact(&store, &events).await;
    wait_metric(&svc, "liftwatch_spool_messages", "the spool to drain", |v| v == 0.0).await;
}

/// A tiny spool fills while the database is held: the gateway stops taking
/// (and acking) messages, says so in `/readyz` and `liftwatch_spool_full`;
/// the broker keeps the rest. Once the database is back, everything is
/// stored exactly once and the gateway is ready again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_stops_acks_and_recovers() {
    let (db, store, devs) = setup("spool_full", 2).await;
    let broker = StockBroker::start().await;
    let extra = ["--spool-max-bytes", "2000"];
    let svc = Service::start_with(BIN, &db.url, &broker.url(), "gw-spool-full", "g-spool-full", &extra).await;
    // Well within what the stock broker holds for an unacking client.
    let events = fleet_events(&devs, 200, 23);
    let total = messages(&events, 5);
    assert!(total < 900, "{total}");
    let lock = EventsLock::take(&db).await;
    publish(broker.port, "pub-spool-full", &events, 5).await;
    wait_metric(&svc, "liftwatch_spool_full", "the spool to be full", |v| v == 1.0).await;
    let (code, body) = http_get(svc.http_port, "/readyz").unwrap();
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("\"error\":\"spool_full\""), "{body}");
    let appended = metric(&svc, "liftwatch_spool_appends_total").unwrap();
    assert!(appended < total as f64, "acks stopped: {appended} of {total} spooled");
    assert!(metric(&svc, "liftwatch_spool_bytes").unwrap() <= 2000.0);
    assert!(metric(&svc, "liftwatch_ingest_acks_pending").unwrap() > 0.0, "the rest waits unacked");
    lock.release().await;
    db.wait_for_events(events.len()).await;
    assert_exact(&store, &events).await;
    wait_metric(&svc, "liftwatch_spool_messages", "the spool to drain", |v| v == 0.0).await;
    wait_metric(&svc, "liftwatch_spool_full", "the spool to have room", |v| v == 0.0).await;
    wait_until("ready again", DEADLINE, || {
        std::future::ready(http_get(svc.http_port, "/readyz").is_some_and(|(c, _)| c == 200))
    })
    .await;
}

/// A second gateway pointed at the same spool folder refuses to start and
/// says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_one_spool_is_refused() {
    let (db, _store, _devs) = setup("spool_lock", 1).await;
    let broker = StockBroker::start().await;
    let a = Service::start(BIN, &db.url, &broker.url(), "gw-spool-lock-a", "g-spool-lock").await;
    let spool_dir = a.data_dir.join("spool");
    let out = Command::new(BIN)
        .args(["serve", "--database-url", &db.url, "--mqtt-url", &broker.url(), "--mqtt-client-id", "gw-spool-lock-b"])
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--spool-dir")
        .arg(&spool_dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another liftwatch process"), "{err}");
}
