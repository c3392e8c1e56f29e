//! Findings of the rule engine (A1 §III, §IV), as served by the API. The rule
//! engine (its own issue) writes them; the store reads them here.

use crate::findings::*;
use crate::port::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::postgres::ts;
use crate::{PgStore, StoreError};

#[async_trait]
impl Findings for PgStore {
    async fn findings(&self, f: &FindingFilter) -> Result<Vec<Finding>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT id, rule, project_id, firm_id, action, severity, summary, opened_at, closed_at, state \
                 FROM findings WHERE ($1::text IS NULL OR project_id = $1) AND ($2::text IS NULL OR firm_id = $2) \
                 AND ($3::text IS NULL OR state = $3) ORDER BY opened_at DESC, id LIMIT $4 OFFSET $5",
                &[&f.project, &f.firm, &f.state, &f.limit, &f.offset],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Finding {
                id: r.get(0),
                rule: r.get(1),
                project: r.get(2),
                firm: r.get(3),
                action: r.get(4),
                severity: r.get(5),
                summary: r.get(6),
                opened_at: ts(r.get::<_, DateTime<Utc>>(7)),
                closed_at: r.get::<_, Option<DateTime<Utc>>>(8).map(ts),
                state: r.get(9),
            })
            .collect())
    }
}
