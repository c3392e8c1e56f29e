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
    let other =
        PgStore::connect(&db.url, PgOptions { tz: chrono_tz::Europe::Berlin, pool_size: 2, timescaledb: false })
            .await
            .unwrap();
    let err = other.migrate().await.unwrap_err().to_string();
    assert!(err.contains("Asia/Shanghai") && err.contains("Europe/Berlin"), "{err}");
    assert!(err.contains("--timezone Asia/Shanghai"), "{err}");
    // The same zone starts again.
    db.store(false).await;
}
