//! The embedded store: SQLite (rusqlite, compiled in) as a second adapter
//! of the store port, held to the same conformance suite as PostgreSQL.
//! Zero setup — a folder on disk — for a single `serve` or `demo` process;
//! PostgreSQL/TimescaleDB is the choice once one outgrows it
//! (docs/storage.md "The embedded store").
//!
//! - **Files** ([`SqliteStore::open`] on a folder): `liftwatch.db` (with its
//!   `-wal` and `-shm` files) and `liftwatch.lock`, a second SQLite file
//!   held in exclusive locking mode for the life of the store, as the
//!   gateway's spool does: a second process opening the same folder is
//!   refused at once (the OS drops the lock when the holder dies, even on
//!   SIGKILL, so a stale lock never blocks a restart).
//! - **One writer**: a dedicated thread owns the only writing connection;
//!   every write is a closure sent over a bounded channel and run in ONE
//!   `BEGIN IMMEDIATE` transaction, the reply coming back on a oneshot. The
//!   tokio runtime never waits on SQLite. One writer is also what makes the
//!   adapter simple: where PostgreSQL locks rows (`FOR UPDATE`, advisory
//!   locks), here transactions simply take turns.
//! - **Readers in parallel**: WAL mode lets a small pool of read
//!   connections (`query_only`) read a consistent snapshot each, on the
//!   blocking thread pool, while the writer commits.
//! - **Durability**: `synchronous = FULL` — every commit fsyncs the WAL
//!   before it returns, because the gateway acknowledges MQTT messages right
//!   after the commit (with `NORMAL` a power cut could lose commits that the
//!   broker has already forgotten). The cost is one fsync per transaction;
//!   the gateway's batches amortise it.
//! - **Types**: times are INTEGER microseconds (UTC), local days TEXT
//!   `YYYY-MM-DD`, JSON as TEXT; the migrations in `migrations/sqlite` are
//!   applied in order by `migrate`, which records them in
//!   `liftwatch_schema_history`.
//!
//! Every decision is the core's, exactly as in the PostgreSQL adapter; the
//! modules mirror `crate::postgres` (one per port trait).

mod alerts;
mod dead_letters;
mod findings;
mod health;
mod incidents;
mod ingest;
mod inspections;
mod kpis;
mod records;
mod registry;
mod telemetry;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono_tz::Tz;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::StoreError;

/// Name of the database file in the store's folder.
pub const DB_FILE: &str = "liftwatch.db";
/// Name of the lock file in the store's folder.
pub const LOCK_FILE: &str = "liftwatch.lock";
/// Read connections when none is configured.
pub const DEFAULT_READERS: usize = 4;
/// Writes queued for the writer thread before callers wait (backpressure).
const WRITE_QUEUE: usize = 64;
/// How long a connection waits for a lock SQLite itself holds briefly
/// (a checkpoint); the writer is the only writer, so this is never long.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// WAL size kept after a checkpoint (bytes).
const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// The current time in SQL, as stored (microseconds), for `updated_at` columns.
pub(crate) const NOW: &str = "CAST(unixepoch('subsec') * 1000000 AS INTEGER)";

/// The migrations, in order: (version, name, SQL).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../../migrations/sqlite/V1__initial.sql")),
    (2, "equipment_and_checks", include_str!("../../migrations/sqlite/V2__equipment_and_checks.sql")),
    (3, "project_sums", include_str!("../../migrations/sqlite/V3__project_sums.sql")),
    (4, "project_month_sums", include_str!("../../migrations/sqlite/V4__project_month_sums.sql")),
];

/// How to open the embedded store.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// Zone of the local days (recorded at the first start; another zone
    /// is refused afterwards, as with PostgreSQL).
    pub tz: Tz,
    /// Read connections (at least 1).
    pub readers: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions { tz: liftwatch_core::DEFAULT_TIMEZONE, readers: DEFAULT_READERS }
    }
}

/// A write: runs inside the writer's transaction.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

struct Inner {
    writer: mpsc::Sender<Job>,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    opened: Mutex<usize>,
    readers: usize,
    path: PathBuf,
    /// Roles led by a task of this process ([`crate::Leadership`]).
    leaders: Arc<Mutex<std::collections::HashSet<String>>>,
    /// Held for the life of the store: the exclusive lock on [`LOCK_FILE`].
    _lock: Mutex<Connection>,
}

/// The embedded SQLite store. Cheap to clone (one writer thread and one
/// reader pool shared by every clone); the writer stops when the last
/// clone is dropped.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
    pub(crate) tz: Tz,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.path).field("tz", &self.tz).finish_non_exhaustive()
    }
}

fn io_error(dir: &Path, e: std::io::Error) -> StoreError {
    StoreError::Config(format!("data folder {}: {e} (check its path and permissions)", dir.display()))
}

fn sqlite_config(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::Config(format!("{}: {e}", path.display()))
}

/// Takes the store's lock, or says that another process holds it.
fn lock(dir: &Path) -> Result<Connection, StoreError> {
    let path = dir.join(LOCK_FILE);
    let c = Connection::open(&path).map_err(|e| sqlite_config(&path, e))?;
    c.busy_timeout(Duration::ZERO).map_err(|e| sqlite_config(&path, e))?;
    c.pragma_update(None, "locking_mode", "EXCLUSIVE").map_err(|e| sqlite_config(&path, e))?;
    // In exclusive locking mode the first write takes the exclusive lock
    // and keeps it until the connection closes.
    let taken = c.execute_batch(
        "BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL); DELETE FROM holder; COMMIT;",
    );
    match taken {
        Ok(()) => {
            c.execute("INSERT INTO holder (pid) VALUES (?1)", [std::process::id()])
                .map_err(|e| sqlite_config(&path, e))?;
            Ok(c)
        }
        Err(e) if matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)) => {
            Err(StoreError::Config(format!(
                "data folder {} is in use by another liftwatch process (lock file {}): stop it, or give this \
                 one its own data folder (several processes sharing one store need PostgreSQL)",
                dir.display(),
                path.display()
            )))
        }
        Err(e) => Err(sqlite_config(&path, e)),
    }
}

/// The settings every connection runs with.
fn configure(c: &Connection) -> rusqlite::Result<()> {
    c.busy_timeout(BUSY_TIMEOUT)?;
    c.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let c = Connection::open(path).map_err(|e| sqlite_config(path, e))?;
    let set = || -> rusqlite::Result<()> {
        configure(&c)?;
        c.pragma_update(None, "journal_mode", "WAL")?;
        c.pragma_update(None, "synchronous", "FULL")?;
        c.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT)?;
        Ok(())
    };
    set().map_err(|e| sqlite_config(path, e))?;
    Ok(c)
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let c = Connection::open_with_flags(path, flags)?;
    configure(&c)?;
    c.pragma_update(None, "query_only", "ON")?;
    Ok(c)
}

/// Applies the migrations not yet recorded, each in its own transaction;
/// refuses a database written by a newer liftwatch.
fn migrate(c: &mut Connection) -> Result<(), StoreError> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS liftwatch_schema_history (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
         applied_at INTEGER NOT NULL)",
    )?;
    let applied: i64 =
        c.query_row("SELECT coalesce(max(version), 0) FROM liftwatch_schema_history", [], |r| r.get(0))?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if applied > known {
        return Err(StoreError::Config(format!(
            "this database is at schema version {applied}, newer than this liftwatch knows ({known}): \
             run the newer liftwatch, or restore a backup"
        )));
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > applied) {
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql).map_err(|e| StoreError::Config(format!("migration V{version}__{name} failed: {e}")))?;
        tx.execute(
            &format!("INSERT INTO liftwatch_schema_history (version, name, applied_at) VALUES (?1, ?2, {NOW})"),
            rusqlite::params![version, name],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// The zone of local days is part of the data (see `PgStore::migrate`):
/// recorded at the first start, and another zone refused afterwards.
fn check_timezone(c: &Connection, tz: Tz) -> Result<(), StoreError> {
    let tz = tz.name();
    c.execute("INSERT INTO liftwatch_settings (key, value) VALUES ('timezone', ?1) ON CONFLICT DO NOTHING", [tz])?;
    let v: String = c.query_row("SELECT value FROM liftwatch_settings WHERE key = 'timezone'", [], |r| r.get(0))?;
    if v != tz {
        return Err(StoreError::Config(format!(
            "this database keeps its local days in the time zone {v}, but liftwatch is configured with {tz}: \
             another zone would move events to other days than its rollups hold. Start with --timezone {v} \
             (LIFTWATCH_TIMEZONE={v}), or use a new data folder for {tz}"
        )));
    }
    Ok(())
}

/// The writer thread: runs each job (a transaction) in turn until every
/// clone of the store is gone. A job that panics rolls back (its
/// transaction is dropped) and its caller gets an error; the thread goes on.
fn run_writer(mut conn: Connection, mut rx: mpsc::Receiver<Job>) {
    while let Some(job) = rx.blocking_recv() {
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut conn))).is_err() {
            tracing::error!("a store write panicked; it was rolled back");
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Transient("the embedded store's writer has stopped".into())
}

impl SqliteStore {
    /// Opens (creating if needed) the store in folder `dir`: takes its lock
    /// (refused while another process holds it), applies pending migrations,
    /// checks the zone of local days, and starts the writer thread.
    ///
    /// Blocking file I/O (short on an existing store): call it before
    /// starting work, or from `spawn_blocking`.
    pub fn open(dir: &Path, opts: SqliteOptions) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let lock = lock(dir)?;
        let path = dir.join(DB_FILE);
        let mut conn = open_writer(&path)?;
        migrate(&mut conn)?;
        check_timezone(&conn, opts.tz)?;
        let (tx, rx) = mpsc::channel::<Job>(WRITE_QUEUE);
        std::thread::Builder::new()
            .name("liftwatch-sqlite-writer".into())
            .spawn(move || run_writer(conn, rx))
            .map_err(|e| StoreError::Config(format!("cannot start the store's writer thread: {e}")))?;
        let readers = opts.readers.max(1);
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer: tx,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(readers)),
                opened: Mutex::new(0),
                readers,
                path,
                leaders: Arc::default(),
                _lock: Mutex::new(lock),
            }),
            tz: opts.tz,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The zone of local days.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Runs `f` in one write transaction on the writer thread and commits.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.transaction(true, f).await
    }

    /// Runs `f` in one write transaction and commits it only when `commit`
    /// (else rolls back: a probe).
    pub(crate) async fn transaction<T: Send + 'static>(
        &self,
        commit: bool,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn: &mut Connection| {
            let run = || -> Result<T, StoreError> {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&tx)?;
                if commit {
                    tx.commit()?;
                }
                Ok(out)
            };
            let _ = reply.send(run());
        });
        self.inner.writer.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Runs `f` on a pooled read connection, in one read transaction (a
    /// consistent snapshot), on the blocking thread pool.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let permit = self.inner.permits.clone().acquire_owned().await.map_err(|_| stopped())?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let idle = inner.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let conn = match idle {
                Some(c) => c,
                None => {
                    let c = open_reader(&inner.path)?;
                    *inner.opened.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                    c
                }
            };
            let out = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let tx = conn.unchecked_transaction()?;
                let out = f(&tx)?;
                tx.finish()?;
                Ok(out)
            }))
            .unwrap_or_else(|_| Err(StoreError::Transient("a store read panicked".into())));
            // Back to the pool, also after a panic (its transaction was rolled back).
            inner.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
            out
        })
        .await
        .map_err(|e| StoreError::Transient(format!("a store read failed: {e}")))?
    }

    /// Read connections: (open, idle, most).
    pub(crate) fn reader_status(&self) -> (usize, usize, usize) {
        let open = *self.inner.opened.lock().unwrap_or_else(|p| p.into_inner());
        let idle = self.inner.idle.lock().unwrap_or_else(|p| p.into_inner()).len();
        (open, idle, self.inner.readers)
    }
}

/// A stored device code read back.
pub(crate) fn code(s: &str) -> Result<liftwatch_core::protocol::DeviceCode, StoreError> {
    liftwatch_core::protocol::DeviceCode::parse(s).map_err(|e| StoreError::Permanent(format!("stored code {s}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second opener of the same folder is refused, naming the lock file;
    /// once the first is gone the folder opens again.
    #[tokio::test]
    async fn a_second_process_on_the_same_folder_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open");
        let err = SqliteStore::open(dir.path(), SqliteOptions::default()).expect_err("second opener");
        assert!(err.to_string().contains(LOCK_FILE), "{err}");
        drop(first);
        SqliteStore::open(dir.path(), SqliteOptions::default()).expect("reopen after the holder is gone");
    }

    /// The pragmas the durability argument rests on are in force.
    #[test]
    fn wal_and_synchronous_full() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = open_writer(&dir.path().join(DB_FILE)).expect("open");
        let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
        let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).expect("sync");
        assert_eq!((mode.as_str(), sync), ("wal", 2));
    }

    /// Migrations run once; reopening finds nothing to do; another zone is refused.
    #[tokio::test]
    async fn migrations_are_recorded_and_the_zone_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open"));
        let s = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("reopen");
        let versions: i64 = s
            .read(|c| Ok(c.query_row("SELECT count(*) FROM liftwatch_schema_history", [], |r| r.get(0))?))
            .await
            .expect("read");
        assert_eq!(versions as usize, MIGRATIONS.len());
        drop(s);
        let other = SqliteOptions { tz: chrono_tz::Europe::Paris, ..SqliteOptions::default() };
        let err = SqliteStore::open(dir.path(), other).expect_err("another zone");
        assert!(err.to_string().contains("Europe/Paris"), "{err}");
    }
}
