//! Store errors, classified by whether a retry can help (as Arroyo's `RetryHint`).

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database is unreachable, restarting, or the transaction lost a
    /// race (deadlock, serialization): retrying the same work can succeed.
    #[error("transient store error (will retry): {0}")]
    Transient(String),
    /// The work itself is refused (constraint, bad value): retrying the same
    /// input fails again.
    #[error("store refused the data: {0}")]
    Permanent(String),
    /// A registry request that conflicts with what is stored (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// Something referenced does not exist, or the caller may not see it
    /// (HTTP 404: another firm's elevator is answered as if it did not exist).
    #[error("{0}")]
    NotFound(String),
    /// The caller sees the thing but may not change it (HTTP 403): a firm
    /// writing a record outside the days it maintains the elevator.
    #[error("{0}")]
    Forbidden(String),
    /// Bad configuration (URL, migrations).
    #[error("store configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// Whether retrying the same operation may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Transient(_))
    }
}

impl From<tokio_postgres::Error> for StoreError {
    /// Only errors caused by the data itself are permanent: SQLSTATE classes
    /// 22 (data exception), 23 (integrity constraint) and 54 (program limit,
    /// e.g. a value too large). Everything else — connection loss, restarts,
    /// "database does not allow connections", deadlocks, even a schema
    /// mismatch during a rolling deploy — is retried: the messages stay
    /// unacknowledged in the broker meanwhile, so nothing is lost, and the
    /// retry counter in the metrics shows it.
    ///
    /// The message of a refusal says what kind of problem it was, never the
    /// SQLSTATE, table, column or constraint: it reaches HTTP clients and
    /// dead letters. The database's own words go to the log.
    fn from(e: tokio_postgres::Error) -> Self {
        if let Some(db) = e.as_db_error() {
            let c = db.code().code();
            let what = match &c[..2] {
                "22" => "a value is malformed or out of range",
                "23" => {
                    "the data breaks an integrity rule (a duplicate, a missing reference or a value outside its set)"
                }
                "54" => "a value is too large",
                _ => {
                    return StoreError::Transient(format!("{c}: {}", db.message()));
                }
            };
            tracing::warn!(
                sqlstate = c,
                detail = db.message(),
                table = db.table(),
                constraint = db.constraint(),
                "the database refused data"
            );
            return StoreError::Permanent(format!("the database refused the data: {what}"));
        }
        // No SQLSTATE: connection closed, I/O error, timeout.
        StoreError::Transient(e.to_string())
    }
}

impl From<liftwatch_core::ValidationErrors> for StoreError {
    /// Data the domain refuses (the core's validation and pilot rules):
    /// retrying the same input fails again.
    fn from(e: liftwatch_core::ValidationErrors) -> Self {
        StoreError::Permanent(e.to_string())
    }
}

impl From<liftwatch_core::ValidationError> for StoreError {
    /// As [`liftwatch_core::ValidationErrors`].
    fn from(e: liftwatch_core::ValidationError) -> Self {
        StoreError::Permanent(e.to_string())
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    /// Failing to get a connection is always worth retrying.
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Transient(format!("no database connection: {e}"))
    }
}

impl From<rusqlite::Error> for StoreError {
    /// As for PostgreSQL: only errors caused by the data are permanent — a
    /// constraint (duplicate, missing reference, value outside its set), a
    /// value too large, a value of the wrong type. A busy or locked database,
    /// I/O errors and a full disk are retried. The message says what kind
    /// of problem it was, never the table or constraint (it reaches HTTP
    /// clients and dead letters); SQLite's own words go to the log.
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        let what = match &e {
            rusqlite::Error::SqliteFailure(f, _) => match f.code {
                ErrorCode::ConstraintViolation => {
                    "the data breaks an integrity rule (a duplicate, a missing reference or a value outside its set)"
                }
                ErrorCode::TooBig => "a value is too large",
                ErrorCode::TypeMismatch => "a value is malformed or out of range",
                _ => return StoreError::Transient(format!("sqlite: {e}")),
            },
            rusqlite::Error::ToSqlConversionFailure(_)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..) => "a value is malformed or out of range",
            _ => return StoreError::Transient(format!("sqlite: {e}")),
        };
        tracing::warn!(detail = %e, "the database refused data");
        StoreError::Permanent(format!("the database refused the data: {what}"))
    }
}
