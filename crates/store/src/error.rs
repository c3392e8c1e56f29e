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
    /// Something referenced does not exist (HTTP 404).
    #[error("{0}")]
    NotFound(String),
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
    fn from(e: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        if let Some(db) = e.as_db_error() {
            let c = db.code();
            let transient = *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
                || *c == SqlState::TOO_MANY_CONNECTIONS
                || c.code().starts_with("08")
                || c.code().starts_with("53")
                || c.code().starts_with("57P");
            let msg = format!("{}: {}", c.code(), db.message());
            return if transient { StoreError::Transient(msg) } else { StoreError::Permanent(msg) };
        }
        // No SQLSTATE: connection closed, I/O error, timeout.
        StoreError::Transient(e.to_string())
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => StoreError::Transient(other.to_string()),
        }
    }
}
