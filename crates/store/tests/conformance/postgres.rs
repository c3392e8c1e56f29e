//! The PostgreSQL adapter as a conformance backend, and what only it does.

use liftwatch_store::{PgOptions, PgStore};
use liftwatch_testkit::TestDb;

use crate::Factory;

/// PostgreSQL with TimescaleDB (hypertable) or plain tables.
pub struct Pg {
    pub timescaledb: bool,
}

impl Factory for Pg {
    type S = PgStore;
    type Guard = TestDb;

    async fn open(&self, tag: &str) -> (PgStore, TestDb) {
        let mode = if self.timescaledb { "ts" } else { "pg" };
        let db = TestDb::new(&format!("{tag}_{mode}")).await;
        let s = db.store(self.timescaledb).await;
        // The mode asked for is the mode in use (TimescaleDB is detected).
        assert_eq!(s.uses_timescaledb().await.unwrap(), self.timescaledb, "TimescaleDB mode of {tag}");
        (s, db)
    }
}

/// The zone of local days is part of the data: a process configured with
/// another zone than the one the database was created with refuses to start
/// (it would move events between days), and says what to do.
#[tokio::test]
async fn another_time_zone_refuses_to_start() {
    let db = TestDb::new("tz").await;
    let first = db.store(false).await;
    drop(first);
    let other = PgStore::connect(
        &db.url,
        PgOptions { tz: chrono_tz::Europe::Berlin, pool_size: 2, timescaledb: false, ..Default::default() },
    )
    .await
    .unwrap();
    let err = other.migrate().await.unwrap_err().to_string();
    assert!(err.contains("Asia/Shanghai") && err.contains("Europe/Berlin"), "{err}");
    assert!(err.contains("--timezone Asia/Shanghai"), "{err}");
    // The same zone starts again.
    db.store(false).await;
}

/// V7 fills the counter readings and device telemetry of events stored
/// before it exactly as ingest maintains them: the same rows after its
/// backfill statements run again on emptied tables.
#[tokio::test]
async fn v7_backfill_equals_what_ingest_maintains() {
    use liftwatch_core::protocol::{Body, Event, Timestamp};
    use liftwatch_store::prelude::*;

    let db = TestDb::new("v7fill").await;
    let s = db.store(true).await;
    let devs = liftwatch_testkit::register(&s, 2).await;
    let base = liftwatch_testkit::t("2026-10-01T08:00:00+08:00").0;
    let mut events = Vec::new();
    for (i, d) in devs.iter().enumerate() {
        for k in 0..40u64 {
            let ts = Timestamp(base + (k as i64) * 1_800_000_000 + i as i64);
            let body = match k % 8 {
                0 => Body::Counter { runs_total: if k == 24 { 3 } else { 100 + k * 2 } },
                _ => Body::Run { end: Timestamp(ts.0 + 1), from: 1, to: 2, doors: None },
            };
            if k % 5 != 3 {
                events.push(Event { device: *d, seq: k * 2, ts, ts_offset: 8 * 3600, body });
            }
        }
    }
    s.ingest(&liftwatch_testkit::messages(&events, 9)).await.unwrap();
    let readings = s.counter_readings().await.unwrap();
    let tele: Vec<_> = {
        let mut v = Vec::new();
        for d in &devs {
            v.push(s.device_telemetry(*d).await.unwrap());
        }
        v
    };
    assert!(readings.iter().any(|(_, r)| r.prev.is_some_and(|p| p.odometer_runs.is_none())), "a reset");
    let sql = include_str!("../../migrations/postgres/V7__telemetry_completeness.sql");
    let backfill = &sql[sql.find("-- Events stored before this migration").unwrap()..];
    let c = liftwatch_testkit::db::connect(&db.url).await;
    c.batch_execute("DELETE FROM counter_readings; DELETE FROM device_telemetry;").await.unwrap();
    c.batch_execute(backfill).await.unwrap();
    assert_eq!(s.counter_readings().await.unwrap(), readings);
    for (d, t) in devs.iter().zip(tele) {
        assert_eq!(s.device_telemetry(*d).await.unwrap(), t);
    }
}

/// A KPI answer takes one pooled connection at a time. Sixteen concurrent
/// project and elevator KPI requests on a pool of two, with open equipment
/// stoppages (whose age is a further query), all answer. Before, a project's
/// answer held its connection while asking for a second: two requests took
/// the pool and waited for each other until the pool's timeout, and every
/// other user of the pool (ingest among them) waited behind them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_kpi_answers_never_wait_on_their_own_pool() {
    use liftwatch_core::protocol::{Body, Event, FaultCode};
    use liftwatch_core::window::Window;
    use liftwatch_store::prelude::*;
    use liftwatch_testkit::{day, t};

    let db = TestDb::new("kpipool").await;
    let s =
        PgStore::connect(&db.url, PgOptions { pool_size: 2, timescaledb: false, ..Default::default() }).await.unwrap();
    s.migrate().await.unwrap();
    let devs = liftwatch_testkit::register(&s, 2).await;
    let open = |d| Event {
        device: d,
        seq: 1,
        ts: t("2026-11-20T10:00:00+08:00"),
        ts_offset: 8 * 3600,
        body: Body::Fault {
            fault_id: "f1".into(),
            code: FaultCode::parse("brake_fault"),
            stops_service: true,
            cause: None,
        },
    };
    let events: Vec<Event> = devs.iter().map(|d| open(*d)).collect();
    s.ingest(&liftwatch_testkit::messages(&events, 9)).await.unwrap();
    let w = Window::rolling(day("2026-11-28")).unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..16 {
        let (s, d) = (s.clone(), devs[i % 2]);
        calls.spawn(async move {
            let k =
                if i % 2 == 0 { s.project_kpis("haibin", w).await } else { s.elevator_kpis(Scope::All, d, w).await };
            k.map(|k| k.map(|k| (k.downtime.open, k.downtime.oldest_open_since)))
        });
    }
    // The timeout only detects a hang; it is no threshold on speed.
    let answers = tokio::time::timeout(std::time::Duration::from_secs(600), calls.join_all())
        .await
        .expect("KPI answers hang on their own pool");
    for (i, a) in answers.into_iter().enumerate() {
        let (open, since) = a.unwrap_or_else(|e| panic!("request {i}: {e}")).unwrap();
        assert!(open > 0 && since == Some(t("2026-11-20T10:00:00+08:00")), "request {i}: {open} {since:?}");
    }
}

/// A firm's write checks its tenure in its own transaction, holding the
/// elevator's membership rows `FOR SHARE`: a registry change that ends the
/// membership meanwhile waits for the write to commit (and a write after
/// the change is refused). No check-then-write race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firms_write_and_its_tenure_check_are_one_transaction() {
    use liftwatch_core::protocol::{Body, Cause, Event, FaultCode};
    use liftwatch_store::prelude::*;
    use liftwatch_store::StoreError;
    use liftwatch_testkit::{day, t, wait_until};
    use std::time::Duration;

    let db = TestDb::new("tenuretx").await;
    let s = db.store(false).await;
    let d = liftwatch_testkit::register(&s, 1).await[0];
    let fault = Body::Fault {
        fault_id: "f1".into(),
        code: FaultCode::parse("door_open_fault"),
        stops_service: true,
        cause: None,
    };
    let e = Event { device: d, seq: 1, ts: t("2026-11-20T10:00:00+08:00"), ts_offset: 8 * 3600, body: fault };
    s.ingest(&liftwatch_testkit::messages(&[e], 1)).await.unwrap();
    let today = day("2026-11-28");
    let zls = Scope::Firm { firm_id: "zls", today };
    // Hold the fault row: the correction takes its tenure lock, then waits here.
    let mut holder = db.client().await;
    let tx = holder.transaction().await.unwrap();
    tx.execute("SELECT 1 FROM faults WHERE fault_id = 'f1' FOR UPDATE", &[]).await.unwrap();
    let waiting = |n: i64| {
        let db = &db;
        move || async move {
            let c = db.client().await;
            let q =
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
            c.query_one(q, &[]).await.unwrap().get::<_, i64>(0) == n
        }
    };
    let s2 = s.clone();
    let correction = tokio::spawn(async move {
        s2.correct_fault_cause(
            zls,
            d,
            "f1",
            Cause::Usage,
            "firm:zls",
            "passenger held the door",
            t("2026-11-28T10:00:00+08:00"),
        )
        .await
    });
    wait_until("the correction waits for the fault row", Duration::from_secs(60), waiting(1)).await;
    // The registry drops the elevator from zls's project: it waits for the correction.
    let s3 = s.clone();
    let spec = liftwatch_testkit::fixtures::project_spec("haibin", "zls", vec![]);
    let drop = tokio::spawn(async move { s3.put_project(&spec, today).await });
    wait_until("the registry change waits for the correction", Duration::from_secs(60), waiting(2)).await;
    tx.rollback().await.unwrap();
    let v = correction.await.unwrap().unwrap();
    assert_eq!(v.cause, Cause::Usage, "checked and written while zls held the elevator");
    drop.await.unwrap().unwrap();
    // After the change, zls reads its days but writes nothing more.
    let late =
        s.correct_fault_cause(zls, d, "f1", Cause::External, "firm:zls", "grid", t("2026-11-28T11:00:00+08:00")).await;
    assert!(matches!(&late, Err(StoreError::Forbidden(m)) if m.contains("read-only")), "{late:?}");
    assert_eq!(s.fault(zls, d, "f1").await.unwrap().unwrap().cause, Cause::Usage);
}

/// Options with the default zone and a small pool.
fn small_pool() -> PgOptions {
    PgOptions { pool_size: 2, timescaledb: false, ..Default::default() }
}

/// Two instances starting together on a fresh database: both migrations
/// succeed and each migration is applied once (without the advisory lock
/// they raced: two `CREATE TABLE`s of one name, or one recorded twice).
#[tokio::test]
async fn two_instances_migrating_together_both_succeed_and_migrate_once() {
    let db = TestDb::new("migrace").await;
    let a = PgStore::connect(&db.url, small_pool()).await.unwrap();
    let b = PgStore::connect(&db.url, small_pool()).await.unwrap();
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.unwrap();
    rb.unwrap();
    let c = db.client().await;
    let r = c.query_one("SELECT count(*), count(DISTINCT version) FROM liftwatch_schema_history", &[]).await.unwrap();
    let (n, distinct): (i64, i64) = (r.get(0), r.get(1));
    assert_eq!(n, distinct, "a migration was recorded twice");
    assert!(n >= 8, "{n} migrations recorded");
}

/// A migration waits for the advisory lock another instance holds, and
/// touches nothing before it has it.
#[tokio::test]
async fn migrate_waits_for_the_migration_lock() {
    let db = TestDb::new("miglock").await;
    let holder = db.client().await;
    holder.execute("SELECT pg_advisory_lock($1)", &[&liftwatch_store::postgres::MIGRATION_LOCK_KEY]).await.unwrap();
    let s = PgStore::connect(&db.url, small_pool()).await.unwrap();
    let run = tokio::spawn(async move { s.migrate().await });
    let observer = db.client().await;
    liftwatch_testkit::wait_until(
        "migrate to wait for the advisory lock",
        std::time::Duration::from_secs(30),
        || async {
            let n: i64 = observer
                .query_one(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            n == 1
        },
    )
    .await;
    let history: Option<String> =
        observer.query_one("SELECT to_regclass('liftwatch_schema_history')::text", &[]).await.unwrap().get(0);
    assert_eq!(history, None, "migrated before holding the lock");
    holder.execute("SELECT pg_advisory_unlock($1)", &[&liftwatch_store::postgres::MIGRATION_LOCK_KEY]).await.unwrap();
    run.await.unwrap().unwrap();
    // Released afterwards: no advisory lock left behind in the pool (locks
    // of this test's database only: pg_locks is cluster-wide and other tests
    // hold theirs, e.g. the rule engine's leadership).
    let held: i64 = observer
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(held, 0);
}

/// `sslmode=disable` connects in plain TCP; every pooled connection has the
/// configured statement timeout as a session setting.
#[tokio::test]
async fn sslmode_disable_connects_in_plain_tcp_with_the_statement_timeout() {
    let db = TestDb::new("plain").await;
    let mut opts = small_pool();
    opts.connect.statement_timeout = std::time::Duration::from_secs(7);
    let s = PgStore::connect(&format!("{}?sslmode=disable", db.url), opts).await.unwrap();
    let info = s.session().await.unwrap();
    assert!(!info.tls);
    assert_eq!(info.statement_timeout, "7s");
    // Migrations run without it, and leave it in place afterwards.
    s.migrate().await.unwrap();
    assert_eq!(s.session().await.unwrap().statement_timeout, "7s");
}

/// `sslmode=require` against a server without TLS fails at once, and the
/// error says that TLS is why (not a hang, not a bare I/O error).
#[tokio::test]
async fn sslmode_require_without_tls_on_the_server_fails_naming_tls() {
    let pg = liftwatch_testkit::procs::PrivatePg::start().await;
    let url = format!("{}?sslmode=require", pg.url("postgres"));
    let r = tokio::time::timeout(std::time::Duration::from_secs(60), PgStore::connect(&url, small_pool()))
        .await
        .expect("connecting hung");
    let err = r.err().expect("connected without TLS").to_string();
    assert!(err.contains("TLS") && err.contains("sslmode=require"), "{err}");
    // The same server in plain TCP.
    let s = PgStore::connect(&format!("{}?sslmode=disable", pg.url("postgres")), small_pool()).await.unwrap();
    assert!(!s.session().await.unwrap().tls);
}

/// Over TLS: `require` encrypts; `verify-ca` checks the chain against the CA
/// file; `verify-full` also checks the name (the certificate names
/// `localhost`, not `127.0.0.1`); a chain the roots do not know is refused.
#[tokio::test]
async fn tls_modes_encrypt_and_verify_as_libpq_does() {
    let ca = liftwatch_testkit::TestCa::new("pg");
    let pg = liftwatch_testkit::procs::PrivatePg::start_tls(&ca).await;
    let ip = pg.url("postgres");
    let host = ip.replace("127.0.0.1", "localhost");
    let root = format!("sslrootcert={}", ca.ca().display());
    let connect = |url: String| async move { PgStore::connect(&url, small_pool()).await };
    for url in [
        format!("{ip}?sslmode=require"),
        format!("{ip}?sslmode=verify-ca&{root}"),
        format!("{host}?sslmode=verify-full&{root}"),
    ] {
        let s = connect(url.clone()).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(s.session().await.unwrap().tls, "{url}");
    }
    // The CA file may come from the options instead of the URL.
    let mut opts = small_pool();
    opts.connect.ca_file = Some(ca.ca());
    let s = PgStore::connect(&format!("{host}?sslmode=verify-full"), opts).await.unwrap();
    assert!(s.session().await.unwrap().tls);
    // Name mismatch under verify-full.
    let err = connect(format!("{ip}?sslmode=verify-full&{root}")).await.err().expect("name not checked").to_string();
    assert!(err.contains("TLS") && err.contains("verify-full"), "{err}");
    // A root that did not sign the server's certificate.
    let other = liftwatch_testkit::TestCa::new("pg-other");
    let url = format!("{host}?sslmode=verify-ca&sslrootcert={}", other.ca().display());
    let err = connect(url).await.err().expect("unknown chain accepted").to_string();
    assert!(err.contains("TLS") && err.contains("verify-ca"), "{err}");
}
