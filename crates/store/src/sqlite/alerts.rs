//! Webhooks, the alert outbox and leadership in SQLite.
//!
//! The outbox gives the dispatcher the guarantees of [`crate::alerts`]: a
//! claim and its lease are one write transaction on the writer thread, so
//! two dispatchers never claim the same delivery (PostgreSQL needs
//! `FOR UPDATE SKIP LOCKED` for it). Leadership is trivial: only one
//! process can open the store (its lock file), so that process leads; within
//! it, one task per role.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use liftwatch_core::protocol::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::NOW;
use crate::alerts::*;
use crate::port::{Alerts, Leadership, Lease};
use crate::{SqliteStore, StoreError};

const WEBHOOK_COLUMNS: &str = "w.id, w.url, w.firm_id, w.actions, w.owner, \
    (SELECT count(*) FROM alert_deliveries d WHERE d.webhook_key = w.key AND d.delivered_at IS NULL), \
    (SELECT d.last_error FROM alert_deliveries d WHERE d.webhook_key = w.key AND d.delivered_at IS NULL \
       AND d.last_error IS NOT NULL ORDER BY d.outbox_seq LIMIT 1)";

fn webhook_from_row(r: &Row<'_>) -> Result<Webhook, StoreError> {
    let actions: Option<String> = r.get(3)?;
    Ok(Webhook {
        id: r.get(0)?,
        url: r.get(1)?,
        firm_id: r.get(2)?,
        actions: actions
            .map(|a| serde_json::from_str(&a))
            .transpose()
            .map_err(|e| StoreError::Permanent(format!("stored webhook actions: {e}")))?,
        owner: r.get(4)?,
        pending: r.get(5)?,
        last_error: r.get(6)?,
    })
}

/// Enqueues `a` inside the caller's transaction (the rule engine's finding
/// change and its event commit together).
pub(crate) fn enqueue_in(c: &Connection, a: &NewAlert, now: Timestamp) -> Result<bool, StoreError> {
    let seq: Option<i64> = c
        .prepare_cached(
            "INSERT INTO alert_outbox (msg_id, kind, subject, firm_id, action, body, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (msg_id) DO NOTHING RETURNING seq",
        )?
        .query_row(params![a.msg_id, a.kind, a.subject, a.firm_id, a.action, a.body, now.0], |r| r.get(0))
        .optional()?;
    let Some(seq) = seq else { return Ok(false) };
    c.prepare_cached(
        "INSERT INTO alert_deliveries (outbox_seq, webhook_key, target_key, subject, next_attempt_at) \
         SELECT ?1, w.key, 'webhook:' || w.key, ?2, ?3 FROM webhooks w \
         WHERE (w.firm_id IS NULL OR w.firm_id = ?4) \
           AND (w.actions IS NULL OR EXISTS (SELECT 1 FROM json_each(w.actions) x WHERE x.value = ?5))",
    )?
    .execute(params![seq, a.subject, now.0, a.firm_id, a.action])?;
    if a.firm_id.is_some() {
        c.prepare_cached("INSERT INTO alert_deliveries (outbox_seq, target_key, subject, next_attempt_at) VALUES (?1, 'mqtt', ?2, ?3)")?.execute(
            params![seq, a.subject, now.0],
        )?;
    }
    Ok(true)
}

fn claim_in(
    c: &Connection,
    owner: &str,
    now: Timestamp,
    lease_until: Timestamp,
    limit: i64,
) -> Result<Vec<Delivery>, StoreError> {
    // Due, not leased, and first of its subject for its target: an earlier
    // event still pending (leased or not) holds the later ones back.
    let ids: Vec<i64> = c
        .prepare_cached(
            "UPDATE alert_deliveries SET lease_until = ?2, lease_owner = ?3 WHERE id IN ( \
               SELECT d.id FROM alert_deliveries d \
               WHERE d.delivered_at IS NULL AND d.next_attempt_at <= ?1 \
                 AND (d.lease_until IS NULL OR d.lease_until <= ?1) \
                 AND NOT EXISTS (SELECT 1 FROM alert_deliveries e WHERE e.target_key = d.target_key \
                   AND e.subject = d.subject AND e.outbox_seq < d.outbox_seq AND e.delivered_at IS NULL) \
               ORDER BY d.outbox_seq, d.id LIMIT ?4) RETURNING id",
        )?
        .query_map(params![now.0, lease_until.0, owner, limit], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut st = c.prepare_cached(
        "SELECT d.id, w.owner || '/' || w.id, w.url, w.secret, o.msg_id, o.kind, o.subject, o.firm_id, o.body, \
                d.attempts, o.created_at \
         FROM alert_deliveries d JOIN alert_outbox o ON o.seq = d.outbox_seq \
         LEFT JOIN webhooks w ON w.key = d.webhook_key \
         WHERE d.id IN (SELECT value FROM json_each(?1)) ORDER BY o.seq, d.id",
    )?;
    let ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
    let rows = st.query_map([ids], |r| {
        Ok(Delivery {
            id: r.get(0)?,
            target: match r.get::<_, Option<String>>(1)? {
                Some(id) => Target::Webhook { id, url: r.get(2)?, secret: r.get(3)? },
                None => Target::Mqtt,
            },
            msg_id: r.get(4)?,
            kind: r.get(5)?,
            subject: r.get(6)?,
            firm_id: r.get(7)?,
            body: r.get(8)?,
            attempts: r.get(9)?,
            created_at: Timestamp(r.get(10)?),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[async_trait]
impl Alerts for SqliteStore {
    async fn put_webhook(&self, w: &WebhookSpec) -> Result<bool, StoreError> {
        let w = w.clone();
        self.write(move |c| {
            let created: bool = !c
                .prepare_cached("SELECT 1 FROM webhooks WHERE owner = ?1 AND id = ?2")?
                .exists(params![w.owner, w.id])?;
            let actions = w
                .actions
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::Permanent(format!("webhook actions: {e}")))?;
            c.execute(
                &format!(
                    "INSERT INTO webhooks (id, url, secret, firm_id, actions, owner) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT (owner, id) DO UPDATE SET url = excluded.url, secret = excluded.secret, \
                       firm_id = excluded.firm_id, actions = excluded.actions, updated_at = {NOW}"
                ),
                params![w.id, w.url, w.secret, w.firm_id, actions, w.owner],
            )?;
            Ok(created)
        })
        .await
    }

    async fn webhook(&self, owner: &str, id: &str) -> Result<Option<Webhook>, StoreError> {
        let (owner, id) = (owner.to_owned(), id.to_owned());
        self.read(move |c| {
            let mut st =
                c.prepare(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.owner = ?1 AND w.id = ?2"))?;
            let mut rows = st.query(params![owner, id])?;
            rows.next()?.map(webhook_from_row).transpose()
        })
        .await
    }

    async fn webhooks(&self, owner: &str) -> Result<Vec<Webhook>, StoreError> {
        let owner = owner.to_owned();
        self.read(move |c| {
            let mut st =
                c.prepare(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.owner = ?1 ORDER BY w.id"))?;
            let mut rows = st.query([owner])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(webhook_from_row(r)?);
            }
            Ok(out)
        })
        .await
    }

    async fn delete_webhook(&self, owner: &str, id: &str) -> Result<bool, StoreError> {
        let (owner, id) = (owner.to_owned(), id.to_owned());
        self.write(move |c| Ok(c.execute("DELETE FROM webhooks WHERE owner = ?1 AND id = ?2", params![owner, id])? > 0))
            .await
    }

    async fn enqueue_alert(&self, a: &NewAlert, now: Timestamp) -> Result<bool, StoreError> {
        let a = a.clone();
        self.write(move |c| enqueue_in(c, &a, now)).await
    }

    async fn claim_deliveries(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let owner = owner.to_owned();
        self.write(move |c| claim_in(c, &owner, now, lease_until, limit)).await
    }

    async fn complete_delivery(
        &self,
        id: i64,
        owner: &str,
        outcome: &Outcome,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let (owner, outcome) = (owner.to_owned(), outcome.clone());
        self.write(move |c| {
            let n = match outcome {
                Outcome::Delivered => c.execute(
                    "UPDATE alert_deliveries SET delivered_at = ?3, attempts = attempts + 1, lease_until = NULL, \
                     last_error = NULL WHERE id = ?1 AND lease_owner = ?2 AND delivered_at IS NULL",
                    params![id, owner, now.0],
                )?,
                Outcome::Failed { error, retry_at } => c.execute(
                    "UPDATE alert_deliveries SET attempts = attempts + 1, lease_until = NULL, last_error = ?3, \
                     next_attempt_at = ?4 WHERE id = ?1 AND lease_owner = ?2 AND delivered_at IS NULL",
                    params![id, owner, error, retry_at.0],
                )?,
            };
            Ok(n == 1)
        })
        .await
    }

    async fn outbox_status(&self, now: Timestamp) -> Result<OutboxStatus, StoreError> {
        self.read(move |c| {
            let (pending, oldest): (i64, Option<i64>) = c.query_row(
                "SELECT count(*), min(o.created_at) FROM alert_deliveries d JOIN alert_outbox o ON o.seq = d.outbox_seq \
                 WHERE d.delivered_at IS NULL",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            // Whole seconds, rounded as PostgreSQL's `EXTRACT(EPOCH …)::bigint` rounds.
            let secs = oldest.map_or(0, |o| ((now.0 - o) as f64 / 1e6).round() as i64);
            Ok(OutboxStatus { pending, oldest_pending_secs: secs.max(0) })
        })
        .await
    }

    async fn prune_alerts(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.write(move |c| {
            Ok(c.execute(
                "DELETE FROM alert_outbox WHERE created_at < ?1 AND NOT EXISTS \
                 (SELECT 1 FROM alert_deliveries d WHERE d.outbox_seq = alert_outbox.seq AND d.delivered_at IS NULL)",
                [before.0],
            )? as u64)
        })
        .await
    }
}

/// Leadership of the one process that holds the store's lock file. Within
/// the process one holder per role at a time, as with PostgreSQL's advisory
/// locks: the role is free again when the lease is dropped.
struct SoleLease {
    roles: Arc<Mutex<HashSet<String>>>,
    role: String,
}

#[async_trait]
impl Lease for SoleLease {
    async fn held(&self) -> bool {
        true
    }
}

impl Drop for SoleLease {
    fn drop(&mut self) {
        self.roles.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.role);
    }
}

#[async_trait]
impl Leadership for SqliteStore {
    /// No other process can open this store (see [`crate::sqlite`]), so this
    /// one leads every role not already led by one of its own tasks.
    async fn try_lead(&self, role: &str) -> Result<Option<Box<dyn Lease>>, StoreError> {
        let roles = self.inner.leaders.clone();
        if !roles.lock().unwrap_or_else(|p| p.into_inner()).insert(role.to_owned()) {
            return Ok(None);
        }
        Ok(Some(Box::new(SoleLease { roles, role: role.to_owned() })))
    }
}
