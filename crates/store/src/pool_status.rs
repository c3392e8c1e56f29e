//! Connection-pool figures for the metrics endpoint.

use crate::PgStore;

impl PgStore {
    /// The connection pool right now: `(size, available, max_size)` —
    /// connections open, open and idle, and the most the pool will open.
    /// Connections in use are `size - available`.
    pub fn pool_status(&self) -> (usize, usize, usize) {
        let s = self.pool.status();
        (s.size, s.available, s.max_size)
    }
}
