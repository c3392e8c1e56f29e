//! Registry in SQLite: firms, pilot projects, elevators and their
//! membership history (api-v1.md "Registry"). Validation and the membership
//! rules are the core's ([`liftwatch_core::registry`],
//! [`liftwatch_core::pilot::membership`]); this file stores their outcome.
//! Membership changes are serialised by the one writer thread (PostgreSQL
//! needs an advisory lock for it).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use liftwatch_core::kpi::{Commitment, Membership};
use liftwatch_core::registry::{ElevatorSpec, Firm, FirmRecord, ProjectRecord, ProjectSpec};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::{code, NOW};
use crate::port::Registry;
use crate::registry::{overlap, plan_memberships, MembershipPlan, ProjectFilter};
use crate::{SqliteStore, StoreError};

/// [`Registry::project_commitment`] on the caller's connection.
pub(crate) fn project_commitment_on(
    c: &Connection,
    project_id: &str,
) -> Result<Option<Option<Commitment>>, StoreError> {
    let row: Option<Option<String>> = c
        .prepare_cached("SELECT commitment FROM projects WHERE id = ?1")?
        .query_row([project_id], |r| r.get(0))
        .optional()?;
    Ok(row.map(|v| v.and_then(|v| serde_json::from_str(&v).ok())))
}

/// Whether a row answers `sql` with `p`.
pub(crate) fn exists<P: rusqlite::Params>(c: &Connection, sql: &str, p: P) -> Result<bool, StoreError> {
    Ok(c.prepare_cached(sql)?.exists(p)?)
}

fn put_project_in(c: &Connection, p: &ProjectSpec, today: NaiveDate) -> Result<bool, StoreError> {
    if !exists(c, "SELECT 1 FROM firms WHERE id = ?1", [&p.firm_id])? {
        return Err(StoreError::NotFound(format!("firm {} does not exist", p.firm_id)));
    }
    // A change of firm is a new pilot project (see the PostgreSQL adapter).
    let current: Option<String> =
        c.query_row("SELECT firm_id FROM projects WHERE id = ?1", [&p.id], |r| r.get(0)).optional()?;
    if let Some(current) = &current {
        if *current != p.firm_id {
            return Err(StoreError::Conflict(format!(
                "project {} is maintained by firm {current}; liftwatch keeps a change of maintenance \
                 firm as a new pilot project (A1 §IV.(一) ¶last): put it under a new project id",
                p.id
            )));
        }
    }
    let created = current.is_none();
    let commitment = p.commitment.map(|c| serde_json::to_string(&c).unwrap_or_default());
    let pilot_form = serde_json::to_string(&p.pilot_form).unwrap_or_else(|_| "{}".into());
    c.execute(
        &format!(
            "INSERT INTO projects (id, name, firm_id, owner, mode, admitted_on, commitment, pilot_form) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, firm_id = excluded.firm_id, owner = excluded.owner, \
             pilot_form = excluded.pilot_form, mode = excluded.mode, admitted_on = excluded.admitted_on, \
             commitment = excluded.commitment, updated_at = {NOW}"
        ),
        params![p.id, p.name, p.firm_id, p.owner, p.mode.as_str(), p.admitted_on, commitment, pilot_form],
    )?;
    let listed = upsert_elevators(c, &p.elevators)?;
    let open: Vec<(i64, NaiveDate)> = c
        .prepare_cached("SELECT elevator_id, since FROM memberships WHERE project_id = ?1 AND until IS NULL")?
        .query_map([&p.id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let plan = plan_memberships(p, listed, open, created, today)?;
    write_memberships(c, &p.id, &plan)?;
    if let Some(from) = plan.first_changed_day() {
        rebuild_project_sums(c, &p.id, from)?;
    }
    Ok(created)
}

/// Registers or updates `elevators` in one statement (the rows go in as
/// one JSON array); their ids, in no particular order.
fn upsert_elevators<'a>(
    c: &Connection,
    elevators: &'a [ElevatorSpec],
) -> Result<Vec<(i64, &'a ElevatorSpec)>, StoreError> {
    let rows: Vec<_> =
        elevators.iter().map(|e| json!([e.device_code.as_str(), e.kind, e.location, e.insured_until])).collect();
    let by_code: HashMap<&str, &ElevatorSpec> = elevators.iter().map(|e| (e.device_code.as_str(), e)).collect();
    let mut st = c.prepare_cached(
        "INSERT INTO elevators (device_code, kind, location, insured_until) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?1) WHERE true \
         ON CONFLICT (device_code) DO UPDATE SET kind = excluded.kind, location = excluded.location, \
         insured_until = excluded.insured_until RETURNING id, device_code",
    )?;
    let returned =
        st.query_map([Value::from(rows).to_string()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    returned
        .map(|r| {
            let (id, code) = r?;
            let e =
                by_code.get(code.as_str()).ok_or_else(|| StoreError::Permanent(format!("upsert returned {code}")))?;
            Ok((id, *e))
        })
        .collect()
}

/// Writes `plan` of project `project_id` as the PostgreSQL adapter does
/// (ends and removes the memberships left out, refuses the first new member
/// that belongs elsewhere, adds the others), one statement each over a JSON
/// array of rows.
fn write_memberships(c: &Connection, project_id: &str, plan: &MembershipPlan<'_, i64>) -> Result<(), StoreError> {
    if !plan.removed.is_empty() {
        let rows: Vec<_> = plan.removed.iter().map(|(id, since)| json!([id, since])).collect();
        c.prepare_cached(
            "DELETE FROM memberships WHERE rowid IN (SELECT m.rowid FROM json_each(?1) x \
             JOIN memberships m ON m.elevator_id = x.value ->> 0 AND m.since = x.value ->> 1)",
        )?
        .execute([Value::from(rows).to_string()])?;
    }
    if !plan.ended.is_empty() {
        let rows: Vec<_> = plan.ended.iter().map(|(id, since, until)| json!([id, since, until])).collect();
        c.prepare_cached(
            "UPDATE memberships SET until = x.value ->> 2 FROM json_each(?1) x \
             WHERE memberships.elevator_id = x.value ->> 0 AND memberships.since = x.value ->> 1",
        )?
        .execute([Value::from(rows).to_string()])?;
    }
    if plan.joining.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = plan.joining.iter().map(|(id, e, since)| json!([id, e.device_code.as_str(), since])).collect();
    let rows = Value::from(rows).to_string();
    let clash: Option<(String, String, NaiveDate)> = c
        .prepare_cached(
            "SELECT x.value ->> 1 AS code, m.project_id, m.since FROM json_each(?1) x \
             JOIN memberships m ON m.elevator_id = x.value ->> 0 AND (m.until IS NULL OR m.until >= x.value ->> 2) \
             ORDER BY code, m.since LIMIT 1",
        )?
        .query_row([&rows], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    if let Some((device, other, from)) = clash {
        return Err(overlap(&device, &other, from));
    }
    c.prepare_cached(
        "INSERT INTO memberships (elevator_id, project_id, since) \
         SELECT value ->> 0, ?2, value ->> 2 FROM json_each(?1)",
    )?
    .execute(params![rows, project_id])?;
    Ok(())
}

/// Recomputes the project sums of `project_id` from day `from` on (spans
/// ending from `from` on), as the PostgreSQL adapter's `project_sums::rebuild`.
fn rebuild_project_sums(c: &Connection, project_id: &str, from: NaiveDate) -> Result<(), StoreError> {
    for sql in crate::registry::rebuild_project_sums('?') {
        c.prepare_cached(&sql)?.execute(params![project_id, from])?;
    }
    Ok(())
}

/// The membership history of a project, on the caller's connection.
pub(crate) fn memberships_on(c: &Connection, project_id: &str) -> Result<Vec<Membership>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT e.device_code, m.since, m.until FROM memberships m JOIN elevators e ON e.id = m.elevator_id \
         WHERE m.project_id = ?1 ORDER BY e.device_code, m.since",
    )?;
    let rows = st.query_map([project_id], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))?;
    rows.map(|r| {
        let (d, since, until) = r?;
        Ok(Membership { device: code(&d)?, since, until })
    })
    .collect()
}

fn firms_on(c: &Connection, id: Option<&str>, limit: i64, offset: i64) -> Result<Vec<FirmRecord>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT id, name, grade, self_declaration_url FROM firms WHERE (?1 IS NULL OR id = ?1) \
         ORDER BY id LIMIT ?2 OFFSET ?3",
    )?;
    let rows = st.query_map(params![id, limit, offset], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?))
    })?;
    rows.map(|r| {
        let (id, name, grade, url) = r?;
        let grade = grade.parse().map_err(|e| StoreError::Permanent(format!("stored firm: {e}")))?;
        Ok(FirmRecord::from(Firm { id, name, grade, self_declaration_url: url }))
    })
    .collect()
}

fn project_on(c: &Connection, id: &str) -> Result<Option<ProjectRecord>, StoreError> {
    type Head = (String, String, String, String, String, NaiveDate, Option<String>, String, String, i64);
    let head: Option<Head> = c
        .query_row(
            "SELECT id, name, firm_id, owner, mode, admitted_on, commitment, status, pilot_form, \
             (SELECT count(*) FROM findings f WHERE f.project_id = p.id AND f.state = 'open') \
             FROM projects p WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            },
        )
        .optional()?;
    let Some((pid, name, firm_id, owner, mode, admitted_on, commitment, status, pilot_form, open_findings)) = head
    else {
        return Ok(None);
    };
    let mut st = c.prepare_cached(
        "SELECT e.device_code, e.kind, e.location, e.insured_until, m.since FROM memberships m \
         JOIN elevators e ON e.id = m.elevator_id WHERE m.project_id = ?1 AND m.until IS NULL ORDER BY e.device_code",
    )?;
    let rows = st.query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
    let mut elevators = Vec::new();
    for r in rows {
        let (d, kind, location, insured_until, since) = r?;
        elevators.push(ElevatorSpec { device_code: code(&d)?, kind, location, insured_until, since });
    }
    let stored = |e: liftwatch_core::UnknownValue| StoreError::Permanent(format!("stored project: {e}"));
    Ok(Some(ProjectRecord {
        spec: ProjectSpec {
            id: pid,
            name,
            firm_id,
            owner,
            mode: mode.parse().map_err(stored)?,
            admitted_on,
            commitment: commitment.and_then(|v| serde_json::from_str(&v).ok()),
            elevators,
            pilot_form: serde_json::from_str(&pilot_form).unwrap_or_default(),
        },
        status: status.parse().map_err(stored)?,
        open_findings,
        memberships: memberships_on(c, id)?,
    }))
}

#[async_trait]
impl Registry for SqliteStore {
    async fn put_firm(&self, f: &Firm) -> Result<bool, StoreError> {
        f.validate()?;
        let f = f.clone();
        self.write(move |c| {
            let created = !exists(c, "SELECT 1 FROM firms WHERE id = ?1", [&f.id])?;
            c.execute(
                &format!(
                    "INSERT INTO firms (id, name, grade, self_declaration_url) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, grade = excluded.grade, \
                     self_declaration_url = excluded.self_declaration_url, updated_at = {NOW}"
                ),
                params![f.id, f.name, f.grade.as_str(), f.self_declaration_url],
            )?;
            Ok(created)
        })
        .await
    }

    async fn put_project(&self, p: &ProjectSpec, today: NaiveDate) -> Result<bool, StoreError> {
        p.validate()?;
        if let Some(dup) = p.duplicate_elevator() {
            return Err(StoreError::Conflict(format!("elevator {dup} is listed twice")));
        }
        let p = p.clone();
        self.write(move |c| put_project_in(c, &p, today)).await
    }

    async fn memberships(&self, project_id: &str) -> Result<Vec<Membership>, StoreError> {
        let project_id = project_id.to_owned();
        self.read(move |c| memberships_on(c, &project_id)).await
    }

    async fn project_commitment(&self, project_id: &str) -> Result<Option<Option<Commitment>>, StoreError> {
        let project_id = project_id.to_owned();
        self.read(move |c| project_commitment_on(c, &project_id)).await
    }

    async fn set_firm_token_hash(&self, firm_id: &str, hash: &str) -> Result<(), StoreError> {
        let (firm_id, hash) = (firm_id.to_owned(), hash.to_owned());
        self.write(move |c| {
            let n = c.execute(
                &format!("UPDATE firms SET token_hash = ?2, updated_at = {NOW} WHERE id = ?1"),
                params![firm_id, hash],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("firm {firm_id} does not exist")));
            }
            Ok(())
        })
        .await
    }

    async fn firm_by_token_hash(&self, hash: &str) -> Result<Option<String>, StoreError> {
        let hash = hash.to_owned();
        self.read(move |c| {
            Ok(c.query_row("SELECT id FROM firms WHERE token_hash = ?1", [hash], |r| r.get(0)).optional()?)
        })
        .await
    }

    async fn firm(&self, id: &str) -> Result<Option<FirmRecord>, StoreError> {
        Ok(self.firms(Some(id), 1, 0).await?.into_iter().next())
    }

    async fn firms(&self, id: Option<&str>, limit: i64, offset: i64) -> Result<Vec<FirmRecord>, StoreError> {
        let id = id.map(str::to_owned);
        self.read(move |c| firms_on(c, id.as_deref(), limit, offset)).await
    }

    async fn project_firm(&self, project_id: &str) -> Result<Option<String>, StoreError> {
        let project_id = project_id.to_owned();
        self.read(move |c| {
            Ok(c.query_row("SELECT firm_id FROM projects WHERE id = ?1", [project_id], |r| r.get(0)).optional()?)
        })
        .await
    }

    async fn projects(&self, f: &ProjectFilter) -> Result<Vec<ProjectRecord>, StoreError> {
        let f = f.clone();
        self.read(move |c| {
            let ids: Vec<String> = c
                .prepare(
                    "SELECT id FROM projects WHERE (?1 IS NULL OR firm_id = ?1) AND (?2 IS NULL OR status = ?2) \
                     AND (?3 IS NULL OR mode = ?3) ORDER BY id LIMIT ?4 OFFSET ?5",
                )?
                .query_map(
                    params![f.firm, f.status.map(|s| s.as_str()), f.mode.map(|m| m.as_str()), f.limit, f.offset],
                    |r| r.get(0),
                )?
                .collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                out.extend(project_on(c, &id)?);
            }
            Ok(out)
        })
        .await
    }

    async fn project(&self, id: &str) -> Result<Option<ProjectRecord>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| project_on(c, &id)).await
    }
}
