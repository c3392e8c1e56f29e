//! PostgreSQL / TimescaleDB adapter (tokio-postgres + deadpool) of the store
//! port: [`ingest`] (one transaction per batch), [`incidents`] (incident and
//! rollup rows), [`telemetry`] (counter readings and device telemetry, at
//! ingest and for the `Telemetry` port), and one module per port trait
//! ([`inspections`]: equipment facts and check results of attachment 2).
//! Migrations are embedded (refinery); TimescaleDB is used when the server
//! preloads it.

pub(crate) mod alerts;
mod connect;
mod dead_letters;
mod findings;
mod health;
mod incidents;
mod ingest;
mod inspections;
mod kpis;
mod project_sums;
pub(crate) mod records;
mod registry;
pub(crate) mod telemetry;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
pub use connect::{
    ConnectOptions, SslMode, DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_KEEPALIVE_IDLE_SECS, DEFAULT_STATEMENT_TIMEOUT_SECS,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
pub(crate) use incidents::{change_one, entrapment_from_row, fault_from_row};
use liftwatch_core::protocol::{DeviceCode, Timestamp};

use crate::{EventStore, StoreError};

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// Database connections of the pool when none is configured.
pub const DEFAULT_POOL_SIZE: usize = 8;
/// Use TimescaleDB hypertables when the server preloads the extension.
pub const DEFAULT_TIMESCALEDB: bool = true;

/// How to open the store.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// Zone of the local days.
    pub tz: Tz,
    /// Pool size.
    pub pool_size: usize,
    /// Use TimescaleDB when the extension can be created (default true).
    pub timescaledb: bool,
    /// TLS roots and timeouts (the TLS mode is the URL's `sslmode`).
    pub connect: ConnectOptions,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            tz: liftwatch_core::DEFAULT_TIMEZONE,
            pool_size: DEFAULT_POOL_SIZE,
            timescaledb: DEFAULT_TIMESCALEDB,
            connect: ConnectOptions::default(),
        }
    }
}

/// Key of the session-level advisory lock held while migrating ("liftwatc"):
/// two instances starting together migrate one after the other, and the
/// second finds nothing left to do.
pub const MIGRATION_LOCK_KEY: i64 = 0x6c69_6674_7761_7463;

/// How a pooled connection is set up (for the start-up log and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// Whether the connection is encrypted (TLS).
    pub tls: bool,
    /// The session's `statement_timeout`, as PostgreSQL shows it (`0` = none).
    pub statement_timeout: String,
}

/// The PostgreSQL store. Cheap to clone (shared pool and caches).
#[derive(Clone)]
pub struct PgStore {
    pub(crate) pool: Pool,
    pub(crate) tz: Tz,
    opts: PgOptions,
    devices: Arc<RwLock<HashMap<DeviceCode, i32>>>,
}

pub(crate) fn dt(t: Timestamp) -> DateTime<Utc> {
    t.to_utc()
}

pub(crate) fn ts(d: DateTime<Utc>) -> Timestamp {
    Timestamp::from_datetime(&d)
}

impl PgStore {
    /// Opens a pool on `url` (`postgres://…`, TLS as its `sslmode` says)
    /// and checks one connection.
    pub async fn connect(url: &str, opts: PgOptions) -> Result<PgStore, StoreError> {
        let (cfg, sslmode, ca_file) = connect::config(url, &opts.connect)?;
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(connect::tls_config(sslmode, ca_file.as_deref())?);
        let mgr = Manager::from_config(cfg, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(mgr)
            .max_size(opts.pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            // Never wait forever for a connection: a timeout is a transient
            // error the gateway retries and the API answers with 503.
            .wait_timeout(Some(std::time::Duration::from_secs(30)))
            .create_timeout(Some(std::time::Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError::Config(e.to_string()))?;
        let store = PgStore { pool, tz: opts.tz, opts, devices: Arc::default() };
        store.ping().await.map_err(|e| connect::explain(e, sslmode))?;
        Ok(store)
    }

    /// How a pooled connection is set up: encrypted or not, statement timeout.
    pub async fn session(&self) -> Result<SessionInfo, StoreError> {
        let c = self.pool.get().await?;
        let r = c
            .query_one(
                "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false), \
                 current_setting('statement_timeout')",
                &[],
            )
            .await?;
        Ok(SessionInfo { tls: r.get(0), statement_timeout: r.get(1) })
    }

    /// Applies pending migrations; returns whether TimescaleDB is in use.
    ///
    /// Under the advisory lock [`MIGRATION_LOCK_KEY`] and without the
    /// statement timeout (a migration may take long, and so may waiting for
    /// another instance's).
    pub async fn migrate(&self) -> Result<bool, StoreError> {
        let mut obj = self.pool.get().await?;
        let client: &mut tokio_postgres::Client = &mut obj;
        client.batch_execute("SET statement_timeout = 0").await?;
        client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY]).await?;
        let migrated = self.migrate_locked(client).await;
        let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY]).await;
        let reset = client.batch_execute("RESET statement_timeout").await;
        if unlocked.is_err() || reset.is_err() {
            // Never give a connection that may still hold the lock back to the pool.
            drop(deadpool_postgres::Object::take(obj));
        } else {
            drop(obj); // give the connection back before asking the pool again (pool size 1)
        }
        migrated?;
        unlocked?;
        reset?;
        self.uses_timescaledb().await
    }

    /// The migrations and the zone check, with the migration lock held.
    async fn migrate_locked(&self, client: &mut tokio_postgres::Client) -> Result<(), StoreError> {
        if !self.opts.timescaledb {
            client.batch_execute("SET liftwatch.timescaledb = 'off'").await?;
        }
        embedded::migrations::runner()
            .set_migration_table_name("liftwatch_schema_history")
            .run_async(client)
            .await
            .map_err(|e| {
                let cause = std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default();
                StoreError::Config(format!("migration failed: {e}{cause}"))
            })?;
        client.batch_execute("RESET liftwatch.timescaledb").await?;
        self.check_timezone(client).await
    }

    /// The zone of local days is part of the data: the first start records
    /// the configured zone (and fills the local start days of incidents
    /// stored before they were kept); a process configured with another zone
    /// refuses to start, because it would put events on other days than the
    /// rollups already hold.
    async fn check_timezone(&self, c: &tokio_postgres::Client) -> Result<(), StoreError> {
        let tz = self.tz.name();
        let recorded = c
            .query_opt(
                "INSERT INTO liftwatch_settings (key, value) VALUES ('timezone', $1) ON CONFLICT DO NOTHING RETURNING value",
                &[&tz],
            )
            .await?;
        if recorded.is_some() {
            // Only this once does SQL need the zone: rows from before V6.
            c.execute(
                "UPDATE faults SET start_day = (start_ts AT TIME ZONE $1)::date WHERE start_day IS NULL AND start_ts IS NOT NULL",
                &[&tz],
            )
            .await?;
            c.execute(
                "UPDATE entrapments SET alarm_day = (alarm_ts AT TIME ZONE $1)::date WHERE alarm_day IS NULL AND alarm_ts IS NOT NULL",
                &[&tz],
            )
            .await?;
            return Ok(());
        }
        let v: String = c.query_one("SELECT value FROM liftwatch_settings WHERE key = 'timezone'", &[]).await?.get(0);
        if v != tz {
            return Err(StoreError::Config(format!(
                "this database keeps its local days in the time zone {v}, but liftwatch is configured with {tz}: \
                 another zone would move events to other days than its rollups hold. Start with --timezone {v} \
                 (LIFTWATCH_TIMEZONE={v}), or use a new database for {tz}"
            )));
        }
        Ok(())
    }

    /// Whether the events table is a TimescaleDB hypertable.
    pub async fn uses_timescaledb(&self) -> Result<bool, StoreError> {
        let c = self.pool.get().await?;
        let ext = c.query_opt("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'", &[]).await?;
        if ext.is_none() {
            return Ok(false);
        }
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_name = 'events' AND hypertable_schema = current_schema()",
                &[],
            )
            .await?
            .get(0);
        Ok(n > 0)
    }

    /// The zone of local days.
    pub fn tz(&self) -> Tz {
        self.tz
    }
}
