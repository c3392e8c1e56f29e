//! Registry: firms, pilot projects, elevators and their membership history
//! (api-v1.md "Registry"), in PostgreSQL. Validation and the membership
//! rules are the core's ([`liftwatch_core::registry`],
//! [`liftwatch_core::pilot::membership`]); this file stores their outcome.

use super::project_sums;
use crate::port::*;
use crate::registry::{overlap, plan_memberships, MembershipPlan, ProjectFilter};
use async_trait::async_trait;
use std::collections::HashMap;
use tokio_postgres::GenericClient;

use chrono::NaiveDate;
use liftwatch_core::kpi::{Commitment, Membership};
use liftwatch_core::protocol::DeviceCode;
use liftwatch_core::registry::{ElevatorSpec, Firm, FirmRecord, ProjectRecord, ProjectSpec};

use crate::{PgStore, StoreError};

/// [`Registry::project_commitment`] on the caller's connection.
pub(crate) async fn project_commitment_on<C: GenericClient>(
    c: &C,
    project_id: &str,
) -> Result<Option<Option<Commitment>>, StoreError> {
    let row = c.query_opt("SELECT commitment FROM projects WHERE id = $1", &[&project_id]).await?;
    Ok(row.map(|r| r.get::<_, Option<serde_json::Value>>(0).and_then(|v| serde_json::from_value(v).ok())))
}

/// Registers or updates `elevators` in one statement; their ids, in no
/// particular order.
async fn upsert_elevators<'a, C: GenericClient>(
    c: &C,
    elevators: &'a [ElevatorSpec],
) -> Result<Vec<(i32, &'a ElevatorSpec)>, StoreError> {
    let codes: Vec<&str> = elevators.iter().map(|e| e.device_code.as_str()).collect();
    let kinds: Vec<&str> = elevators.iter().map(|e| e.kind.as_str()).collect();
    let locations: Vec<&str> = elevators.iter().map(|e| e.location.as_str()).collect();
    let insured: Vec<Option<NaiveDate>> = elevators.iter().map(|e| e.insured_until).collect();
    let rows = c
        .query(
            "INSERT INTO elevators (device_code, kind, location, insured_until) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[]) \
             ON CONFLICT (device_code) DO UPDATE SET kind = excluded.kind, location = excluded.location, \
             insured_until = excluded.insured_until RETURNING id, device_code",
            &[&codes, &kinds, &locations, &insured],
        )
        .await?;
    let by_code: HashMap<&str, &ElevatorSpec> = elevators.iter().map(|e| (e.device_code.as_str(), e)).collect();
    rows.iter()
        .map(|r| {
            let code: &str = r.get(1);
            let e = by_code.get(code).ok_or_else(|| StoreError::Permanent(format!("upsert returned {code}")))?;
            Ok((r.get(0), *e))
        })
        .collect()
}

/// Writes `plan` of project `project_id`: ends and removes the memberships
/// left out, then refuses a new member that belongs elsewhere on one of its
/// days ([`StoreError::Conflict`], the first in device code order) or else
/// adds them all — one statement each.
async fn write_memberships<C: GenericClient>(
    c: &C,
    project_id: &str,
    plan: &MembershipPlan<'_, i32>,
) -> Result<(), StoreError> {
    if !plan.removed.is_empty() {
        let (ids, since): (Vec<i32>, Vec<NaiveDate>) = plan.removed.iter().copied().unzip();
        c.execute(
            "DELETE FROM memberships m USING unnest($1::int4[], $2::date[]) x(id, since) \
             WHERE m.elevator_id = x.id AND m.since = x.since",
            &[&ids, &since],
        )
        .await?;
    }
    if !plan.ended.is_empty() {
        let ids: Vec<i32> = plan.ended.iter().map(|m| m.0).collect();
        let since: Vec<NaiveDate> = plan.ended.iter().map(|m| m.1).collect();
        let until: Vec<NaiveDate> = plan.ended.iter().map(|m| m.2).collect();
        c.execute(
            "UPDATE memberships m SET until = x.until FROM unnest($1::int4[], $2::date[], $3::date[]) x(id, since, until) \
             WHERE m.elevator_id = x.id AND m.since = x.since",
            &[&ids, &since, &until],
        )
        .await?;
    }
    if plan.joining.is_empty() {
        return Ok(());
    }
    let ids: Vec<i32> = plan.joining.iter().map(|m| m.0).collect();
    let codes: Vec<&str> = plan.joining.iter().map(|m| m.1.device_code.as_str()).collect();
    let since: Vec<NaiveDate> = plan.joining.iter().map(|m| m.2).collect();
    let clash = c
        .query_opt(
            "SELECT x.code, m.project_id, m.since FROM unnest($1::int4[], $2::text[], $3::date[]) x(id, code, since) \
             JOIN memberships m ON m.elevator_id = x.id AND (m.until IS NULL OR m.until >= x.since) \
             ORDER BY x.code, m.since LIMIT 1",
            &[&ids, &codes, &since],
        )
        .await?;
    if let Some(r) = clash {
        return Err(overlap(r.get(0), r.get(1), r.get(2)));
    }
    c.execute(
        "INSERT INTO memberships (elevator_id, project_id, since) \
         SELECT x.id, $3, x.since FROM unnest($1::int4[], $2::date[]) x(id, since)",
        &[&ids, &since, &project_id],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl Registry for PgStore {
    async fn put_firm(&self, f: &Firm) -> Result<bool, StoreError> {
        f.validate()?;
        let c = self.pool.get().await?;
        let row = c
            .query_one(
                "INSERT INTO firms (id, name, grade, self_declaration_url) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, grade = excluded.grade, \
                 self_declaration_url = excluded.self_declaration_url, updated_at = now() \
                 RETURNING (xmax = 0) AS created",
                &[&f.id, &f.name, &f.grade.as_str(), &f.self_declaration_url],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn put_project(&self, p: &ProjectSpec, today: NaiveDate) -> Result<bool, StoreError> {
        p.validate()?;
        if let Some(dup) = p.duplicate_elevator() {
            return Err(StoreError::Conflict(format!("elevator {dup} is listed twice")));
        }
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        // Serialise membership changes: one registry writer at a time.
        tx.execute("SELECT pg_advisory_xact_lock(7460001)", &[]).await?;
        // Memberships decide the project sums: no delta lands meanwhile.
        project_sums::hold_exclusive(&*tx).await?;
        if tx.query_opt("SELECT 1 FROM firms WHERE id = $1", &[&p.firm_id]).await?.is_none() {
            return Err(StoreError::NotFound(format!("firm {} does not exist", p.firm_id)));
        }
        // A1 §IV.(一) ¶last lets a project that left the pilot re-apply after
        // changing its maintenance firm. liftwatch reads a change of firm as
        // a new pilot project: refused here, to be put under a new project
        // id, so that each firm's results and corrections stay its own.
        if let Some(r) = tx.query_opt("SELECT firm_id FROM projects WHERE id = $1", &[&p.id]).await? {
            let current: String = r.get(0);
            if current != p.firm_id {
                return Err(StoreError::Conflict(format!(
                    "project {} is maintained by firm {current}; liftwatch keeps a change of maintenance \
                     firm as a new pilot project (A1 §IV.(一) ¶last): put it under a new project id",
                    p.id
                )));
            }
        }
        let commitment = p.commitment.map(|c| serde_json::to_value(c).unwrap_or_default());
        let pilot_form = serde_json::to_value(&p.pilot_form).unwrap_or_default();
        let created: bool = tx
            .query_one(
                "INSERT INTO projects (id, name, firm_id, owner, mode, admitted_on, commitment, pilot_form) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, firm_id = excluded.firm_id, owner = excluded.owner, \
                 pilot_form = excluded.pilot_form, \
                 mode = excluded.mode, admitted_on = excluded.admitted_on, commitment = excluded.commitment, updated_at = now() \
                 RETURNING (xmax = 0)",
                &[&p.id, &p.name, &p.firm_id, &p.owner, &p.mode.as_str(), &p.admitted_on, &commitment, &pilot_form],
            )
            .await?
            .get(0);
        let listed = upsert_elevators(&*tx, &p.elevators).await?;
        let open = tx
            .query("SELECT elevator_id, since FROM memberships WHERE project_id = $1 AND until IS NULL", &[&p.id])
            .await?;
        let plan = plan_memberships(p, listed, open.iter().map(|r| (r.get(0), r.get(1))), created, today)?;
        write_memberships(&*tx, &p.id, &plan).await?;
        if let Some(from) = plan.first_changed_day() {
            project_sums::rebuild(&*tx, &p.id, from).await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn memberships(&self, project_id: &str) -> Result<Vec<Membership>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT e.device_code, m.since, m.until FROM memberships m JOIN elevators e ON e.id = m.elevator_id \
                 WHERE m.project_id = $1 ORDER BY e.device_code, m.since",
                &[&project_id],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let code: &str = r.get(0);
                Ok(Membership {
                    device: DeviceCode::parse(code)
                        .map_err(|e| StoreError::Permanent(format!("stored code {code}: {e}")))?,
                    since: r.get(1),
                    until: r.get(2),
                })
            })
            .collect()
    }

    async fn project_commitment(&self, project_id: &str) -> Result<Option<Option<Commitment>>, StoreError> {
        let c = self.pool.get().await?;
        project_commitment_on(&**c, project_id).await
    }

    async fn set_firm_token_hash(&self, firm_id: &str, hash: &str) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        let n =
            c.execute("UPDATE firms SET token_hash = $2, updated_at = now() WHERE id = $1", &[&firm_id, &hash]).await?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("firm {firm_id} does not exist")));
        }
        Ok(())
    }

    async fn firm_by_token_hash(&self, hash: &str) -> Result<Option<String>, StoreError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt("SELECT id FROM firms WHERE token_hash = $1", &[&hash]).await?.map(|r| r.get(0)))
    }

    async fn firm(&self, id: &str) -> Result<Option<FirmRecord>, StoreError> {
        Ok(self.firms(Some(id), 1, 0).await?.into_iter().next())
    }

    async fn firms(&self, id: Option<&str>, limit: i64, offset: i64) -> Result<Vec<FirmRecord>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT id, name, grade, self_declaration_url FROM firms WHERE ($1::text IS NULL OR id = $1) \
                 ORDER BY id LIMIT $2 OFFSET $3",
                &[&id, &limit, &offset],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let grade =
                    r.get::<_, &str>(2).parse().map_err(|e| StoreError::Permanent(format!("stored firm: {e}")))?;
                let firm = Firm { id: r.get(0), name: r.get(1), grade, self_declaration_url: r.get(3) };
                Ok(FirmRecord::from(firm))
            })
            .collect()
    }

    async fn project_firm(&self, project_id: &str) -> Result<Option<String>, StoreError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt("SELECT firm_id FROM projects WHERE id = $1", &[&project_id]).await?.map(|r| r.get(0)))
    }

    async fn projects(&self, f: &ProjectFilter) -> Result<Vec<ProjectRecord>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT id FROM projects WHERE ($1::text IS NULL OR firm_id = $1) AND ($2::text IS NULL OR status = $2) \
                 AND ($3::text IS NULL OR mode = $3) ORDER BY id LIMIT $4 OFFSET $5",
                &[&f.firm, &f.status.map(|s| s.as_str()), &f.mode.map(|m| m.as_str()), &f.limit, &f.offset],
            )
            .await?;
        drop(c);
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.get(0);
            if let Some(p) = self.project(&id).await? {
                out.push(p);
            }
        }
        Ok(out)
    }

    async fn project(&self, id: &str) -> Result<Option<ProjectRecord>, StoreError> {
        let c = self.pool.get().await?;
        let Some(r) = c
            .query_opt(
                "SELECT id, name, firm_id, owner, mode, admitted_on, commitment, status, pilot_form, \
                 (SELECT count(*) FROM findings f WHERE f.project_id = p.id AND f.state = 'open') \
                 FROM projects p WHERE id = $1",
                &[&id],
            )
            .await?
        else {
            return Ok(None);
        };
        let commitment: Option<serde_json::Value> = r.get(6);
        let els = c
            .query(
                "SELECT e.device_code, e.kind, e.location, e.insured_until, m.since FROM memberships m \
                 JOIN elevators e ON e.id = m.elevator_id WHERE m.project_id = $1 AND m.until IS NULL ORDER BY e.device_code",
                &[&id],
            )
            .await?;
        let mut elevators = Vec::with_capacity(els.len());
        for e in els {
            let code: &str = e.get(0);
            elevators.push(ElevatorSpec {
                device_code: DeviceCode::parse(code).map_err(|x| StoreError::Permanent(x.to_string()))?,
                kind: e.get(1),
                location: e.get(2),
                insured_until: e.get(3),
                since: e.get(4),
            });
        }
        drop(c);
        Ok(Some(ProjectRecord {
            spec: ProjectSpec {
                id: r.get(0),
                name: r.get(1),
                firm_id: r.get(2),
                owner: r.get(3),
                mode: r.get::<_, &str>(4).parse().map_err(|e| StoreError::Permanent(format!("stored project: {e}")))?,
                admitted_on: r.get(5),
                commitment: commitment.and_then(|v| serde_json::from_value(v).ok()),
                elevators,
                pilot_form: serde_json::from_value(r.get::<_, serde_json::Value>(8)).unwrap_or_default(),
            },
            status: r.get::<_, &str>(7).parse().map_err(|e| StoreError::Permanent(format!("stored project: {e}")))?,
            open_findings: r.get(9),
            memberships: self.memberships(id).await?,
        }))
    }
}
