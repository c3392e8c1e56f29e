//! Dead letters: writing (escaped, truncated, deduplicated), listing,
//! replay after the cause is fixed, and pruning.

use std::collections::HashMap;

use crate::dead_letters::*;
use crate::port::*;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use liftwatch_core::protocol::{decode_message, DeviceCode, Timestamp};
use tokio_postgres::GenericClient;

use crate::postgres::{dt, ts};
use crate::{Inbound, PgStore, StoreError};

#[async_trait]
impl DeadLetters for PgStore {
    async fn dead_letters(&self, f: &DeadLetterFilter) -> Result<Vec<DeadLetterRecord>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT id, received_at, topic, reason_code, reason, payload, payload_bytes, seen_count, last_seen_at \
                 FROM dead_letters \
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
                payload_bytes: r.get(6),
                seen_count: r.get(7),
                last_seen_at: ts(r.get::<_, DateTime<Utc>>(8)),
            })
            .collect())
    }

    async fn replay_dead_letters(&self, f: &DeadLetterFilter, now: Timestamp) -> Result<ReplayReport, StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let rows = tx
            .query(
                "SELECT id, topic, payload FROM dead_letters \
                 WHERE replayed_at IS NULL AND payload_bytes = octet_length(payload) AND ($1::text IS NULL OR reason_code = $1) AND ($2::text IS NULL OR device = $2) \
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
        // Marked first: a message still invalid then gets a new pending row
        // instead of merging into the one being replayed.
        tx.execute(
            "UPDATE dead_letters SET replayed_at = $2, replay_note = 'replayed' WHERE id = ANY($1)",
            &[&ids, &dt(now)],
        )
        .await?;
        let ingest = self.ingest_in(&tx, &batch).await?;
        tx.commit().await?;
        Ok(ReplayReport { replayed: ids.len() as u64, ingest })
    }

    async fn prune_dead_letters(&self, policy: &DeadLetterPolicy) -> Result<PruneReport, StoreError> {
        let c = self.pool.get().await?;
        let expired = c.execute("DELETE FROM dead_letters WHERE last_seen_at < $1", &[&dt(policy.keep_since)]).await?;
        let cap = i64::try_from(policy.max_bytes).unwrap_or(i64::MAX);
        let over_cap = c
            .execute(
                "DELETE FROM dead_letters WHERE id IN (\
                   SELECT id FROM (SELECT id, sum(octet_length(topic) + octet_length(reason) + octet_length(payload)) \
                                     OVER (ORDER BY id DESC) AS newer_bytes FROM dead_letters) s \
                   WHERE newer_bytes > $1)",
                &[&cap],
            )
            .await?;
        Ok(PruneReport { expired, over_cap })
    }
}

/// Writes dead letters so that the write cannot fail because of the message
/// itself: topic and reason escaped and cut ([`storable_text`]), the payload
/// stored as bytes and cut at [`DEAD_LETTER_PAYLOAD_MAX`] (its size kept);
/// the same (topic, reason code, payload) pending again only counts up
/// `seen_count` and `last_seen_at` (deduplicated here within the call, and
/// by the `dead_letters_dedupe` index across calls; the key is a SHA-256 of
/// the whole payload).
pub(crate) async fn write_dead_letters<C: GenericClient>(c: &C, letters: &[Letter<'_>]) -> Result<(), StoreError> {
    if letters.is_empty() {
        return Ok(());
    }
    // ON CONFLICT DO UPDATE may touch a row once per statement: merge first.
    let mut merged: Vec<(&Letter<'_>, Timestamp, i64)> = Vec::new();
    let mut index: HashMap<(&str, &str, &[u8]), usize> = HashMap::new();
    for l in letters {
        match index.get(&(l.topic, l.code, l.payload)) {
            Some(&i) => {
                let m = &mut merged[i];
                m.1 = m.1.max(l.received_at);
                m.2 += 1;
            }
            None => {
                index.insert((l.topic, l.code, l.payload), merged.len());
                merged.push((l, l.received_at, 1));
            }
        }
    }
    let text = |s: &str| storable_text(s, DEAD_LETTER_TEXT_MAX).into_owned();
    let at: Vec<DateTime<Utc>> = merged.iter().map(|m| dt(m.0.received_at)).collect();
    let last: Vec<DateTime<Utc>> = merged.iter().map(|m| dt(m.1)).collect();
    let topic: Vec<String> = merged.iter().map(|m| text(m.0.topic)).collect();
    let device: Vec<Option<&str>> = merged.iter().map(|m| m.0.device.as_ref().map(DeviceCode::as_str)).collect();
    let code: Vec<String> = merged.iter().map(|m| text(m.0.code)).collect();
    let reason: Vec<String> = merged.iter().map(|m| text(m.0.reason)).collect();
    let payload: Vec<&[u8]> = merged.iter().map(|m| m.0.payload).collect();
    let count: Vec<i64> = merged.iter().map(|m| m.2).collect();
    let keep = i32::try_from(DEAD_LETTER_PAYLOAD_MAX).unwrap_or(i32::MAX);
    c.execute(
        "INSERT INTO dead_letters (received_at, last_seen_at, topic, device, reason_code, reason, payload, \
                                   payload_bytes, dedupe_key, seen_count) \
         SELECT at, last, topic, device, code, reason, substring(p FROM 1 FOR $9), octet_length(p), \
                sha256(convert_to(topic, 'UTF8') || '\\x00'::bytea || convert_to(code, 'UTF8') || '\\x00'::bytea || p), n \
         FROM unnest($1::timestamptz[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], \
                     $7::bytea[], $8::bigint[]) AS u(at, last, topic, device, code, reason, p, n) \
         ON CONFLICT (dedupe_key) WHERE replayed_at IS NULL DO UPDATE SET \
             seen_count = dead_letters.seen_count + EXCLUDED.seen_count, \
             last_seen_at = greatest(dead_letters.last_seen_at, EXCLUDED.last_seen_at)",
        &[&at, &last, &topic, &device, &code, &reason, &payload, &count, &keep],
    )
    .await?;
    Ok(())
}
