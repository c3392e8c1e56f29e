//! The spool's storage: one SQLite database in WAL mode, plain synchronous
//! calls (the writer thread and the batcher's blocking reads call them; the
//! tokio runtime never does).
//!
//! - `spool.db`: table `spool (id INTEGER PRIMARY KEY AUTOINCREMENT, topic,
//!   payload, received_at)`. `AUTOINCREMENT`, not a plain rowid, because a
//!   plain rowid restarts below ids already handed out once the table is
//!   empty, and the batcher's read position is an id kept in memory.
//! - `journal_mode=WAL` with `synchronous=FULL`: every commit fsyncs the WAL
//!   before it returns. With `NORMAL` a WAL commit is durable only at the next
//!   checkpoint: it survives a crash of the process but not a power cut or an
//!   OS crash — and the gateway acks a message to the broker right after the
//!   commit, so the broker would forget messages that the spool then loses.
//! - `spool.lock`: a second SQLite file held in exclusive locking mode for the
//!   life of the spool. The OS drops the lock when the process dies (even on
//!   SIGKILL), so a stale lock never blocks a restart, and a second process
//!   (or a second opener in this process) is refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use liftwatch_core::protocol::Timestamp;
use rusqlite::{params, Connection, ErrorCode, OpenFlags};

/// Name of the spool database in the spool folder.
pub const DB_FILE: &str = "spool.db";
/// Name of the lock file in the spool folder.
pub const LOCK_FILE: &str = "spool.lock";

/// WAL size kept after a checkpoint (bytes): the WAL is truncated back to
/// this, so a burst does not leave a large file behind.
const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Why the spool cannot be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Another process (or another opener in this one) holds the spool.
    #[error(
        "spool {dir} is in use by another liftwatch process (lock file {lock}): give each gateway its own \
         --spool-dir / LIFTWATCH_SPOOL_DIR"
    )]
    Locked {
        /// The spool folder.
        dir: PathBuf,
        /// Its lock file.
        lock: PathBuf,
    },
    /// The folder cannot be created.
    #[error("spool folder {dir}: {source} (check --spool-dir / LIFTWATCH_SPOOL_DIR and its permissions)")]
    Dir {
        /// The spool folder.
        dir: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// SQLite refused an operation.
    #[error("spool {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
}

/// A message kept in the spool, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Arrival order (never reused).
    pub id: i64,
    /// The MQTT topic as received (with any deployment prefix).
    pub topic: String,
    /// The raw payload.
    pub payload: Vec<u8>,
    /// When the gateway received it.
    pub received_at: Timestamp,
}

impl Row {
    /// What the message counts against the spool's byte bound.
    pub fn bytes(&self) -> u64 {
        entry_bytes(&self.topic, &self.payload)
    }
}

/// What a message counts against the spool's byte bound: its topic and
/// payload (SQLite's per-row overhead is a few bytes and not counted).
pub fn entry_bytes(topic: &str, payload: &[u8]) -> u64 {
    (topic.len() + payload.len()) as u64
}

/// A message to append.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// The MQTT topic as received.
    pub topic: &'a str,
    /// The raw payload.
    pub payload: &'a [u8],
    /// When the gateway received it.
    pub received_at: Timestamp,
}

/// What the spool holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tail {
    /// Messages not yet deleted (i.e. not known to be committed to the store).
    pub messages: u64,
    /// Their bytes ([`entry_bytes`]).
    pub bytes: u64,
    /// Receive time of the oldest of them.
    pub oldest: Option<Timestamp>,
    /// The largest id ever handed out (0 for a new spool).
    pub last_id: i64,
}

/// The writing side of the spool (one per spool: the writer thread owns it).
pub struct SpoolLog {
    conn: Connection,
    path: PathBuf,
    /// Held open for the life of the log: the exclusive lock on `spool.lock`.
    _lock: Connection,
}

impl std::fmt::Debug for SpoolLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpoolLog").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Takes the spool's lock, or says who holds it.
fn lock(dir: &Path) -> Result<Connection, SpoolError> {
    let path = dir.join(LOCK_FILE);
    let sql = |source| SpoolError::Sqlite { path: path.clone(), source };
    let c = Connection::open(&path).map_err(sql)?;
    // No waiting: a busy lock means another holder.
    c.busy_timeout(Duration::ZERO).map_err(sql)?;
    c.pragma_update(None, "locking_mode", "EXCLUSIVE").map_err(sql)?;
    // In exclusive locking mode the first write takes the exclusive lock and
    // keeps it until the connection closes.
    let taken = c.execute_batch(
        "BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL); DELETE FROM holder; COMMIT;",
    );
    match taken {
        Ok(()) => {
            c.execute("INSERT INTO holder (pid) VALUES (?1)", [std::process::id()]).map_err(sql)?;
            Ok(c)
        }
        Err(e) if matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)) => {
            Err(SpoolError::Locked { dir: dir.to_path_buf(), lock: path })
        }
        Err(e) => Err(sql(e)),
    }
}

impl SpoolLog {
    /// Opens (creating if needed) the spool in `dir`, taking its lock, and
    /// says what it holds: the messages left by an earlier run are the tail
    /// to replay.
    pub fn open(dir: &Path) -> Result<(SpoolLog, Tail), SpoolError> {
        std::fs::create_dir_all(dir).map_err(|source| SpoolError::Dir { dir: dir.to_path_buf(), source })?;
        let lock = lock(dir)?;
        let path = dir.join(DB_FILE);
        let sql = |source| SpoolError::Sqlite { path: path.clone(), source };
        let conn = Connection::open(&path).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        conn.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS spool (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                topic TEXT NOT NULL,
                payload BLOB NOT NULL,
                received_at INTEGER NOT NULL -- microseconds since the Unix epoch
            );",
        )
        .map_err(sql)?;
        let log = SpoolLog { conn, path: path.clone(), _lock: lock };
        let tail = log.tail().map_err(sql)?;
        Ok((log, tail))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A connection for reading (WAL: reads run beside the writer).
    pub fn reader(&self) -> Result<SpoolReader, SpoolError> {
        let sql = |source| SpoolError::Sqlite { path: self.path.clone(), source };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
        Ok(SpoolReader { conn })
    }

    /// Appends `entries` and deletes the id ranges `deletes` (inclusive) in
    /// ONE transaction: one fsync for everything (group commit). Returns the
    /// ids given to the entries, in order. On error nothing changed.
    pub fn commit(&mut self, entries: &[Entry<'_>], deletes: &[(i64, i64)]) -> rusqlite::Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(entries.len());
        {
            let mut ins = tx.prepare_cached("INSERT INTO spool (topic, payload, received_at) VALUES (?1, ?2, ?3)")?;
            for e in entries {
                ins.execute(params![e.topic, e.payload, e.received_at.micros()])?;
                ids.push(tx.last_insert_rowid());
            }
            let mut del = tx.prepare_cached("DELETE FROM spool WHERE id BETWEEN ?1 AND ?2")?;
            for (first, last) in deletes {
                del.execute([first, last])?;
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Receive time of the oldest message held.
    pub fn oldest(&self) -> rusqlite::Result<Option<Timestamp>> {
        let mut q = self.conn.prepare_cached("SELECT received_at FROM spool ORDER BY id LIMIT 1")?;
        let mut rows = q.query([])?;
        Ok(match rows.next()? {
            Some(r) => Some(Timestamp(r.get(0)?)),
            None => None,
        })
    }

    /// Counts what the spool holds (a full scan: at start only).
    pub fn tail(&self) -> rusqlite::Result<Tail> {
        let (messages, bytes): (i64, i64) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(octet_length(topic) + length(payload)), 0) FROM spool",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let last_id: i64 = self
            .conn
            .query_row("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'spool'", [], |r| r.get(0))
            .unwrap_or(0);
        Ok(Tail { messages: messages as u64, bytes: bytes as u64, oldest: self.oldest()?, last_id })
    }
}

/// A reading connection (the batcher's).
pub struct SpoolReader {
    conn: Connection,
}

impl std::fmt::Debug for SpoolReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpoolReader").finish_non_exhaustive()
    }
}

impl SpoolReader {
    /// Up to `limit` messages with an id above `after`, in id (= arrival)
    /// order, stopping once they hold `max_bytes` (at least one message).
    pub fn read_after(&self, after: i64, limit: usize, max_bytes: u64) -> rusqlite::Result<Vec<Row>> {
        let mut q = self
            .conn
            .prepare_cached("SELECT id, topic, payload, received_at FROM spool WHERE id > ?1 ORDER BY id LIMIT ?2")?;
        let rows = q.query_map(params![after, limit as i64], |r| {
            Ok(Row { id: r.get(0)?, topic: r.get(1)?, payload: r.get(2)?, received_at: Timestamp(r.get(3)?) })
        })?;
        let (mut out, mut bytes) = (Vec::new(), 0u64);
        for row in rows {
            let row = row?;
            bytes += row.bytes();
            out.push(row);
            if bytes >= max_bytes {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize, payload: &[u8]) -> Entry<'_> {
        Entry { topic: "lift/v1/D1/events", payload, received_at: Timestamp(i as i64) }
    }

    /// Appends get increasing ids, reads come back in arrival order, deletes
    /// remove exactly the committed ranges, and the counts follow.
    #[test]
    fn append_read_delete_in_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, tail) = SpoolLog::open(dir.path()).unwrap();
        assert_eq!(tail, Tail::default());
        let payloads: Vec<Vec<u8>> = (0..10).map(|i| format!("[{i}]").into_bytes()).collect();
        let entries: Vec<Entry<'_>> = payloads.iter().enumerate().map(|(i, p)| entry(i, p)).collect();
        let ids = log.commit(&entries[..4], &[]).unwrap();
        let more = log.commit(&entries[4..], &[]).unwrap();
        let all: Vec<i64> = ids.iter().chain(&more).copied().collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
        let reader = log.reader().unwrap();
        let rows = reader.read_after(0, 100, u64::MAX).unwrap();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), all);
        assert_eq!(rows[3].payload, b"[3]");
        assert_eq!(rows[3].received_at, Timestamp(3));
        assert_eq!(reader.read_after(all[7], 100, u64::MAX).unwrap().len(), 2);
        assert_eq!(reader.read_after(all[0], 3, u64::MAX).unwrap().iter().map(|r| r.id).collect::<Vec<_>>(), all[1..4]);
        // The byte bound: stops once the rows read hold it (at least one row).
        let one = reader.read_after(0, 1, u64::MAX).unwrap()[0].bytes();
        assert_eq!(reader.read_after(0, 100, 2 * one).unwrap().len(), 2);
        assert_eq!(reader.read_after(0, 100, 1).unwrap().len(), 1);

        // Delete a later range first (batches may commit out of order).
        log.commit(&[], &[(all[5], all[9])]).unwrap();
        log.commit(&[], &[(all[0], all[2])]).unwrap();
        let left: Vec<i64> = reader.read_after(0, 100, u64::MAX).unwrap().iter().map(|r| r.id).collect();
        assert_eq!(left, all[3..5]);
        let tail = log.tail().unwrap();
        assert_eq!(tail.messages, 2);
        assert_eq!(tail.bytes, 2 * entry_bytes("lift/v1/D1/events", b"[3]"));
        assert_eq!(tail.oldest, Some(Timestamp(3)));
        assert_eq!(tail.last_id, all[9]);
    }

    /// Ids are never reused, even once the spool was empty: the batcher's
    /// read position is an id.
    #[test]
    fn ids_grow_after_the_spool_empties() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = SpoolLog::open(dir.path()).unwrap();
        let first = log.commit(&[entry(0, b"a"), entry(1, b"b")], &[]).unwrap();
        log.commit(&[], &[(first[0], first[1])]).unwrap();
        assert_eq!(log.tail().unwrap().messages, 0);
        drop(log);
        let (mut log, tail) = SpoolLog::open(dir.path()).unwrap();
        assert_eq!(tail.last_id, first[1]);
        let next = log.commit(&[entry(2, b"c")], &[]).unwrap();
        assert!(next[0] > first[1]);
    }

    /// What was committed and not deleted is there after the log is dropped
    /// (a crash) and reopened, in order: the tail to replay.
    #[test]
    fn reopen_finds_the_uncommitted_tail() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = SpoolLog::open(dir.path()).unwrap();
        let ids = log.commit(&[entry(0, b"a"), entry(1, b"bb"), entry(2, b"ccc")], &[]).unwrap();
        log.commit(&[], &[(ids[0], ids[0])]).unwrap();
        drop(log);
        let (log, tail) = SpoolLog::open(dir.path()).unwrap();
        assert_eq!(tail.messages, 2);
        assert_eq!(tail.bytes, entry_bytes("lift/v1/D1/events", b"bb") + entry_bytes("lift/v1/D1/events", b"ccc"));
        assert_eq!(tail.oldest, Some(Timestamp(1)));
        let rows = log.reader().unwrap().read_after(0, 10, u64::MAX).unwrap();
        assert_eq!(rows.iter().map(|r| r.payload.clone()).collect::<Vec<_>>(), [b"bb".to_vec(), b"ccc".to_vec()]);
    }

    /// A second opener is refused while the first holds the spool, and can
    /// open it once the first is gone.
    #[test]
    fn a_second_opener_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = SpoolLog::open(dir.path()).unwrap();
        let err = SpoolLog::open(dir.path()).unwrap_err();
        assert!(matches!(err, SpoolError::Locked { .. }), "{err:?}");
        assert!(err.to_string().contains("--spool-dir"), "{err}");
        drop(log);
        SpoolLog::open(dir.path()).unwrap();
    }

    /// The pragmas the durability argument rests on are in force.
    #[test]
    fn wal_and_full_sync_are_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let (log, _) = SpoolLog::open(dir.path()).unwrap();
        let mode: String = log.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        let sync: i64 = log.conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(sync, 2, "FULL");
    }
}
