//! Liveness and reader-pool figures for `/readyz` and `/metrics`.

use async_trait::async_trait;

use crate::port::{Health, PoolStatus};
use crate::{EventStore, SqliteStore, StoreError};

#[async_trait]
impl Health for SqliteStore {
    async fn check(&self) -> Result<(), StoreError> {
        // A write round trip too: a stopped writer is not healthy.
        self.write(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?)).await?;
        self.ping().await
    }

    /// The read connections (the writer is one more, always open).
    fn pool_status(&self) -> Option<PoolStatus> {
        let (size, available, max_size) = self.reader_status();
        Some(PoolStatus { size, available, max_size })
    }
}
