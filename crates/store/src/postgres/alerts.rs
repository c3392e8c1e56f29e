//! Webhooks, the alert outbox and leader election (advisory locks).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use liftwatch_core::protocol::Timestamp;
use tokio_postgres::{GenericClient, Row};

use crate::alerts::*;
use crate::port::*;
use crate::postgres::{dt, ts};
use crate::{PgStore, StoreError};

const WEBHOOK_COLUMNS: &str = "w.id, w.url, w.firm_id, w.actions, w.owner, \
    (SELECT count(*) FROM alert_deliveries d WHERE d.webhook_key = w.key AND d.delivered_at IS NULL), \
    (SELECT d.last_error FROM alert_deliveries d WHERE d.webhook_key = w.key AND d.delivered_at IS NULL \
       AND d.last_error IS NOT NULL ORDER BY d.outbox_seq LIMIT 1)";

fn webhook_from_row(r: &Row) -> Webhook {
    Webhook {
        id: r.get(0),
        url: r.get(1),
        firm_id: r.get(2),
        actions: r.get(3),
        owner: r.get(4),
        pending: r.get(5),
        last_error: r.get(6),
    }
}

/// Enqueues `a` inside the caller's transaction (the rule engine's finding
/// change and its event commit together).
pub(crate) async fn enqueue_in(c: &impl GenericClient, a: &NewAlert, now: Timestamp) -> Result<bool, StoreError> {
    let seq = c
        .query_opt(
            "INSERT INTO alert_outbox (msg_id, kind, subject, firm_id, action, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (msg_id) DO NOTHING RETURNING seq",
            &[&a.msg_id, &a.kind, &a.subject, &a.firm_id, &a.action, &a.body, &dt(now)],
        )
        .await?;
    let Some(seq) = seq.map(|r| r.get::<_, i64>(0)) else {
        return Ok(false);
    };
    c.execute(
        "INSERT INTO alert_deliveries (outbox_seq, webhook_key, target_key, subject, next_attempt_at) \
         SELECT $1, w.key, 'webhook:' || w.key, $2, $3 FROM webhooks w \
         WHERE (w.firm_id IS NULL OR w.firm_id = $4) AND (w.actions IS NULL OR $5 = ANY (w.actions))",
        &[&seq, &a.subject, &dt(now), &a.firm_id, &a.action],
    )
    .await?;
    if a.firm_id.is_some() {
        c.execute(
            "INSERT INTO alert_deliveries (outbox_seq, target_key, subject, next_attempt_at) VALUES ($1, 'mqtt', $2, $3)",
            &[&seq, &a.subject, &dt(now)],
        )
        .await?;
    }
    Ok(true)
}

#[async_trait]
impl Alerts for PgStore {
    async fn put_webhook(&self, w: &WebhookSpec) -> Result<bool, StoreError> {
        let c = self.pool.get().await?;
        let r = c
            .query_one(
                "INSERT INTO webhooks (id, url, secret, firm_id, actions, owner) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (owner, id) DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret, \
                   firm_id = EXCLUDED.firm_id, actions = EXCLUDED.actions, updated_at = now() \
                 RETURNING (xmax = 0)",
                &[&w.id, &w.url, &w.secret, &w.firm_id, &w.actions, &w.owner],
            )
            .await?;
        Ok(r.get(0))
    }

    async fn webhook(&self, owner: &str, id: &str) -> Result<Option<Webhook>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.owner = $1 AND w.id = $2");
        Ok(c.query_opt(&sql, &[&owner, &id]).await?.as_ref().map(webhook_from_row))
    }

    async fn webhooks(&self, owner: &str) -> Result<Vec<Webhook>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.owner = $1 ORDER BY w.id");
        Ok(c.query(&sql, &[&owner]).await?.iter().map(webhook_from_row).collect())
    }

    async fn delete_webhook(&self, owner: &str, id: &str) -> Result<bool, StoreError> {
        let c = self.pool.get().await?;
        Ok(c.execute("DELETE FROM webhooks WHERE owner = $1 AND id = $2", &[&owner, &id]).await? > 0)
    }

    async fn enqueue_alert(&self, a: &NewAlert, now: Timestamp) -> Result<bool, StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let new = enqueue_in(&*tx, a, now).await?;
        tx.commit().await?;
        Ok(new)
    }

    async fn claim_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        // Due, not leased, and first of its subject for its target: an earlier
        // event still pending (leased or not) holds the later ones back.
        let rows = tx
            .query(
                "WITH due AS ( \
                   SELECT d.id FROM alert_deliveries d \
                   WHERE d.delivered_at IS NULL AND d.next_attempt_at <= $1 \
                     AND (d.lease_until IS NULL OR d.lease_until <= $1) \
                     AND NOT EXISTS (SELECT 1 FROM alert_deliveries e WHERE e.target_key = d.target_key \
                       AND e.subject = d.subject AND e.outbox_seq < d.outbox_seq AND e.delivered_at IS NULL) \
                   ORDER BY d.outbox_seq, d.id LIMIT $4 FOR UPDATE SKIP LOCKED) \
                 UPDATE alert_deliveries d SET lease_until = $2, lease_owner = $3 FROM due WHERE d.id = due.id \
                 RETURNING d.id",
                &[&dt(now), &dt(lease_until), &owner, &limit],
            )
            .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let rows = tx
            .query(
                "SELECT d.id, w.owner || '/' || w.id, w.url, w.secret, o.msg_id, o.kind, o.subject, o.firm_id, o.body, \
                        d.attempts, o.created_at \
                 FROM alert_deliveries d JOIN alert_outbox o ON o.seq = d.outbox_seq \
                 LEFT JOIN webhooks w ON w.key = d.webhook_key \
                 WHERE d.id = ANY ($1) ORDER BY o.seq, d.id",
                &[&ids],
            )
            .await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|r| Delivery {
                id: r.get(0),
                target: match r.get::<_, Option<String>>(1) {
                    Some(id) => Target::Webhook { id, url: r.get(2), secret: r.get(3) },
                    None => Target::Mqtt,
                },
                msg_id: r.get(4),
                kind: r.get(5),
                subject: r.get(6),
                firm_id: r.get(7),
                body: r.get(8),
                attempts: r.get(9),
                created_at: ts(r.get::<_, DateTime<Utc>>(10)),
            })
            .collect())
    }

    async fn complete_delivery(
        &self,
        id: i64,
        owner: &str,
        outcome: &Outcome,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let c = self.pool.get().await?;
        let n = match outcome {
            Outcome::Delivered => {
                c.execute(
                    "UPDATE alert_deliveries SET delivered_at = $3, attempts = attempts + 1, lease_until = NULL, \
                     last_error = NULL WHERE id = $1 AND lease_owner = $2 AND delivered_at IS NULL",
                    &[&id, &owner, &dt(now)],
                )
                .await?
            }
            Outcome::Failed { error, retry_at } => {
                c.execute(
                    "UPDATE alert_deliveries SET attempts = attempts + 1, lease_until = NULL, last_error = $3, \
                     next_attempt_at = $4 WHERE id = $1 AND lease_owner = $2 AND delivered_at IS NULL",
                    &[&id, &owner, &error, &dt(*retry_at)],
                )
                .await?
            }
        };
        Ok(n == 1)
    }

    async fn outbox_status(&self, now: Timestamp) -> Result<OutboxStatus, StoreError> {
        let c = self.pool.get().await?;
        let r = c
            .query_one(
                "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM ($1 - min(o.created_at)))::bigint, 0) \
                 FROM alert_deliveries d JOIN alert_outbox o ON o.seq = d.outbox_seq WHERE d.delivered_at IS NULL",
                &[&dt(now)],
            )
            .await?;
        Ok(OutboxStatus { pending: r.get(0), oldest_pending_secs: r.get::<_, i64>(1).max(0) })
    }

    async fn prune_alerts(&self, before: Timestamp) -> Result<u64, StoreError> {
        let c = self.pool.get().await?;
        Ok(c.execute(
            "DELETE FROM alert_outbox o WHERE o.created_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM alert_deliveries d WHERE d.outbox_seq = o.seq AND d.delivered_at IS NULL)",
            &[&dt(before)],
        )
        .await?)
    }
}

/// Key of the advisory lock of a role (stable across versions: FNV-1a of the
/// role name in the `liftwatch:` namespace).
pub(crate) fn lock_key(role: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "liftwatch:".bytes().chain(role.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h & 0x7fff_ffff_ffff_ffff) as i64
}

/// Leadership held by a pooled connection's session-level advisory lock:
/// if the process dies or the connection breaks, the server releases it
/// and another process takes over.
struct PgLease {
    conn: Option<deadpool_postgres::Object>,
    key: i64,
}

#[async_trait]
impl Lease for PgLease {
    async fn held(&self) -> bool {
        // The lock is ours while this session is alive and lists it.
        let Some(conn) = &self.conn else { return false };
        matches!(
            conn.query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() \
                     AND granted AND ((classid::bigint << 32) | objid::bigint) = $1)",
                &[&self.key],
            )
            .await
            .map(|r| r.get::<_, bool>(0)),
            Ok(true)
        )
    }
}

impl Drop for PgLease {
    fn drop(&mut self) {
        // A session lock outlives the checkout: never return this connection
        // to the pool holding it (another task would then "hold" leadership).
        if let Some(conn) = self.conn.take() {
            drop(deadpool_postgres::Object::take(conn));
        }
    }
}

#[async_trait]
impl Leadership for PgStore {
    async fn try_lead(&self, role: &str) -> Result<Option<Box<dyn Lease>>, StoreError> {
        let conn = self.pool.get().await?;
        let key = lock_key(role);
        let got: bool = conn.query_one("SELECT pg_try_advisory_lock($1)", &[&key]).await?.get(0);
        if !got {
            return Ok(None);
        }
        Ok(Some(Box::new(PgLease { conn: Some(conn), key })))
    }
}
