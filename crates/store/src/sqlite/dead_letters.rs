//! Dead letters in SQLite: writing (escaped, truncated, deduplicated by the
//! SHA-256 of topic, reason code and whole payload, as in PostgreSQL),
//! listing, replay after the cause is fixed, and pruning.

use async_trait::async_trait;
use liftwatch_core::protocol::{decode_message, DeviceCode, Timestamp};
use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};

use super::ingest::ingest_in;
use crate::dead_letters::*;
use crate::port::DeadLetters;
use crate::{Inbound, SqliteStore, StoreError};

/// Writes dead letters so that the write cannot fail because of the message
/// itself (text escaped and cut, payload cut at [`DEAD_LETTER_PAYLOAD_MAX`]
/// with its size kept); the same (topic, reason code, payload) pending again
/// only counts up `seen_count` and `last_seen_at`.
pub(crate) fn write_dead_letters(c: &Connection, letters: &[Letter<'_>]) -> Result<(), StoreError> {
    if letters.is_empty() {
        return Ok(());
    }
    let mut ins = c.prepare_cached(
        "INSERT INTO dead_letters (received_at, last_seen_at, topic, device, reason_code, reason, payload, \
                                   payload_bytes, dedupe_key, seen_count) \
         VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1) \
         ON CONFLICT (dedupe_key) WHERE replayed_at IS NULL DO UPDATE SET seen_count = seen_count + 1, \
             last_seen_at = max(last_seen_at, excluded.last_seen_at)",
    )?;
    let text = |s: &str| storable_text(s, DEAD_LETTER_TEXT_MAX).into_owned();
    for l in letters {
        // The key of the text as stored, as PostgreSQL's (which hashes the stored topic and code).
        let (topic, code) = (text(l.topic), text(l.code));
        let mut h = Sha256::new();
        h.update(topic.as_bytes());
        h.update([0]);
        h.update(code.as_bytes());
        h.update([0]);
        h.update(l.payload);
        let key = h.finalize().to_vec();
        ins.execute(params![
            l.received_at.0,
            topic,
            l.device.as_ref().map(DeviceCode::as_str),
            code,
            text(l.reason),
            stored_payload(l.payload),
            l.payload.len() as i64,
            key,
        ])?;
    }
    Ok(())
}

/// The `WHERE` of a filtered list of pending dead letters (`?1` reason
/// code, `?2` device, `?3` limit, `?4` since, `?5` until).
const PENDING: &str = "WHERE replayed_at IS NULL AND (?1 IS NULL OR reason_code = ?1) AND (?2 IS NULL OR device = ?2) \
     AND (?4 IS NULL OR received_at >= ?4) AND (?5 IS NULL OR received_at < ?5)";

#[async_trait]
impl DeadLetters for SqliteStore {
    async fn dead_letters(&self, f: &DeadLetterFilter) -> Result<Vec<DeadLetterRecord>, StoreError> {
        let f = f.clone();
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT id, received_at, topic, reason_code, reason, payload, payload_bytes, seen_count, last_seen_at \
                 FROM dead_letters {PENDING} ORDER BY id LIMIT ?3"
            ))?;
            let rows = st.query_map(
                params![f.reason_code, f.device, f.limit.unwrap_or(100), f.since.map(|t| t.0), f.until.map(|t| t.0)],
                |r| {
                    Ok(DeadLetterRecord {
                        id: r.get(0)?,
                        received_at: Timestamp(r.get(1)?),
                        topic: r.get(2)?,
                        reason_code: r.get(3)?,
                        reason: r.get(4)?,
                        payload: String::from_utf8_lossy(&r.get::<_, Vec<u8>>(5)?).into_owned(),
                        payload_bytes: r.get(6)?,
                        seen_count: r.get(7)?,
                        last_seen_at: Timestamp(r.get(8)?),
                    })
                },
            )?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn replay_dead_letters(&self, f: &DeadLetterFilter, now: Timestamp) -> Result<ReplayReport, StoreError> {
        let (f, tz) = (f.clone(), self.tz);
        self.write(move |c| {
            let mut ids = Vec::new();
            let batch: Vec<Inbound> = {
                let mut st = c.prepare(&format!(
                    "SELECT id, topic, payload FROM dead_letters {PENDING} AND payload_bytes = length(payload) \
                     ORDER BY id LIMIT ?3"
                ))?;
                let rows = st.query_map(
                    params![
                        f.reason_code,
                        f.device,
                        f.limit.unwrap_or(1000),
                        f.since.map(|t| t.0),
                        f.until.map(|t| t.0)
                    ],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Vec<u8>>(2)?)),
                )?;
                let mut batch = Vec::new();
                for r in rows {
                    let (id, topic, payload) = r?;
                    ids.push(id);
                    let decoded = decode_message(&topic, &payload, now);
                    batch.push(Inbound { topic, payload, received_at: now, decoded });
                }
                batch
            };
            // Marked first: a message still invalid then gets a new pending
            // row instead of merging into the one being replayed.
            let mut mark =
                c.prepare_cached("UPDATE dead_letters SET replayed_at = ?2, replay_note = 'replayed' WHERE id = ?1")?;
            for id in &ids {
                mark.execute(params![id, now.0])?;
            }
            let ingest = ingest_in(c, tz, &batch)?;
            Ok(ReplayReport { replayed: ids.len() as u64, ingest })
        })
        .await
    }

    async fn prune_dead_letters(&self, policy: &DeadLetterPolicy) -> Result<PruneReport, StoreError> {
        let policy = *policy;
        self.write(move |c| {
            let expired = c.execute("DELETE FROM dead_letters WHERE last_seen_at < ?1", [policy.keep_since.0])? as u64;
            let cap = i64::try_from(policy.max_bytes).unwrap_or(i64::MAX);
            let over_cap = c.execute(
                "DELETE FROM dead_letters WHERE id IN (\
                   SELECT id FROM (SELECT id, sum(length(CAST(topic AS BLOB)) + length(CAST(reason AS BLOB)) \
                                     + length(payload)) OVER (ORDER BY id DESC) AS newer_bytes FROM dead_letters) s \
                   WHERE newer_bytes > ?1)",
                [cap],
            )? as u64;
            Ok(PruneReport { expired, over_cap })
        })
        .await
    }
}
