//! Dead letters: listing and replay after the cause is fixed.

use crate::dead_letters::*;
use crate::port::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use liftwatch_core::protocol::{decode_message, Timestamp};

use crate::postgres::{dt, ts};
use crate::{Inbound, PgStore, StoreError};

#[async_trait]
impl DeadLetters for PgStore {
    async fn dead_letters(&self, f: &DeadLetterFilter) -> Result<Vec<DeadLetterRecord>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT id, received_at, topic, reason_code, reason, payload FROM dead_letters \
                 WHERE replayed_at IS NULL AND ($1::text IS NULL OR reason_code = $1) AND ($2::text IS NULL OR device = $2) \
                 AND ($4::timestamptz IS NULL OR received_at >= $4) AND ($5::timestamptz IS NULL OR received_at < $5) \
                 ORDER BY id LIMIT $3",
                &[&f.reason_code, &f.device, &f.limit.unwrap_or(100), &f.since.map(dt), &f.until.map(dt)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| DeadLetterRecord {
                id: r.get(0),
                received_at: ts(r.get::<_, DateTime<Utc>>(1)),
                topic: r.get(2),
                reason_code: r.get(3),
                reason: r.get(4),
                payload: String::from_utf8_lossy(r.get::<_, &[u8]>(5)).into_owned(),
            })
            .collect())
    }

    async fn replay_dead_letters(&self, f: &DeadLetterFilter, now: Timestamp) -> Result<ReplayReport, StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let rows = tx
            .query(
                "SELECT id, topic, payload FROM dead_letters \
                 WHERE replayed_at IS NULL AND ($1::text IS NULL OR reason_code = $1) AND ($2::text IS NULL OR device = $2) \
                 AND ($4::timestamptz IS NULL OR received_at >= $4) AND ($5::timestamptz IS NULL OR received_at < $5) \
                 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED",
                &[&f.reason_code, &f.device, &f.limit.unwrap_or(1000), &f.since.map(dt), &f.until.map(dt)],
            )
            .await?;
        let mut ids = Vec::with_capacity(rows.len());
        let batch: Vec<Inbound> = rows
            .iter()
            .map(|r| {
                ids.push(r.get::<_, i64>(0));
                let topic: String = r.get(1);
                let payload: Vec<u8> = r.get(2);
                let decoded = decode_message(&topic, &payload, now);
                Inbound { topic, payload, received_at: now, decoded }
            })
            .collect();
        let ingest = self.ingest_in(&tx, &batch).await?;
        tx.execute(
            "UPDATE dead_letters SET replayed_at = $2, replay_note = 'replayed' WHERE id = ANY($1)",
            &[&ids, &dt(now)],
        )
        .await?;
        tx.commit().await?;
        Ok(ReplayReport { replayed: ids.len() as u64, ingest })
    }
}
