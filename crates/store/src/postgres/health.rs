//! Liveness and connection-pool figures for `/readyz` and `/metrics`.

use async_trait::async_trait;

use crate::port::{Health, PoolStatus};
use crate::{PgStore, StoreError};

#[async_trait]
impl Health for PgStore {
    async fn check(&self) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        c.simple_query("SELECT 1").await?;
        Ok(())
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        let s = self.pool.status();
        Some(PoolStatus { size: s.size, available: s.available, max_size: s.max_size })
    }
}
