//! A throw-away database per test on the local PostgreSQL
//! (`LIFTWATCH_TEST_PG`, default `postgres://postgres@127.0.0.1:5432/test`),
//! dropped when the guard goes out of scope, so tests run in parallel and
//! leave nothing behind.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use liftwatch_store::{PgOptions, PgStore};
use tokio_postgres::{Client, NoTls};

use crate::wait::wait_until;

/// The admin connection URL tests create their databases from.
pub fn admin_url() -> String {
    std::env::var("LIFTWATCH_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A fresh database, dropped on `Drop`.
pub struct TestDb {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// Creates `lwt_{tag}_{pid}_{n}`.
    pub async fn new(tag: &str) -> TestDb {
        let name = format!("lwt_{tag}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let (c, conn) = tokio_postgres::connect(&admin_url(), NoTls).await.expect("connect to the test PostgreSQL");
        tokio::spawn(conn);
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}")).await.expect("drop old db");
        c.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create test db");
        let base = admin_url();
        let url = match base.rfind('/') {
            Some(i) => format!("{}/{name}", &base[..i]),
            None => base,
        };
        TestDb { name, url }
    }

    /// Opens and migrates a store on it.
    pub async fn store(&self, timescaledb: bool) -> PgStore {
        let s = PgStore::connect(&self.url, PgOptions { timescaledb, pool_size: 4, ..Default::default() })
            .await
            .expect("connect store");
        s.migrate().await.expect("migrate");
        s
    }

    /// A plain client on it (for what a test observes in SQL).
    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }

    /// Rows in `events`: what the store committed, whoever wrote it.
    pub async fn stored_events(&self) -> i64 {
        self.client().await.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0)
    }

    /// Waits (up to 120 s) until exactly `n` events are stored.
    pub async fn wait_for_events(&self, n: usize) {
        wait_until(&format!("{n} events stored in {}", self.name), Duration::from_secs(120), || async {
            self.stored_events().await == n as i64
        })
        .await;
    }
}

/// A client on `url` whose connection runs on its own task.
pub async fn connect(url: &str) -> Client {
    let (c, conn) = tokio_postgres::connect(url, NoTls).await.unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(conn);
    c
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // A separate thread with its own runtime: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok((c, conn)) = tokio_postgres::connect(&admin_url(), NoTls).await {
                        tokio::spawn(conn);
                        let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                    }
                });
            }
        })
        .join();
    }
}
