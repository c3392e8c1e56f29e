//! Registry: firms, pilot projects, elevators and their membership history
//! (api-v1.md "Registry"). The HTTP API comes in its own issue; the ingest
//! path needs the elevators now.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use liftwatch_core::kpi::{Commitment, Membership};
use liftwatch_core::protocol::DeviceCode;
use serde::{Deserialize, Serialize};

use crate::{PgStore, StoreError};

/// A maintenance firm (维保单位).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firm {
    /// Stable id (`zls`).
    pub id: String,
    /// Name.
    pub name: String,
    /// Previous year's classification: A, B, C or D.
    pub grade: String,
    /// Where the self-declaration is published, if it is.
    pub self_declaration_url: Option<String>,
}

/// An elevator as listed in a project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElevatorSpec {
    /// Registration code.
    pub device_code: DeviceCode,
    /// `traction`, `hydraulic`, `escalator`, …
    #[serde(default)]
    pub kind: String,
    /// Where it is.
    #[serde(default)]
    pub location: String,
    /// Liability insurance cover end.
    #[serde(default)]
    pub insured_until: Option<NaiveDate>,
    /// Membership start, when given.
    #[serde(default)]
    pub since: Option<NaiveDate>,
}

/// The other fields of the pilot list form (附件1-2 电梯按需维保试点清单).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PilotForm {
    /// 使用管理单位联系人.
    #[serde(default)]
    pub owner_contact: Option<String>,
    /// 使用管理单位联系电话.
    #[serde(default)]
    pub owner_phone: Option<String>,
    /// 维保单位联系人.
    #[serde(default)]
    pub firm_contact: Option<String>,
    /// 维保单位联系电话.
    #[serde(default)]
    pub firm_phone: Option<String>,
    /// 电梯制造单位.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// 电梯责任保险承保单位.
    #[serde(default)]
    pub insurer: Option<String>,
    /// 电梯责任保险有效期: from.
    #[serde(default)]
    pub insured_from: Option<NaiveDate>,
    /// 电梯责任保险有效期: until.
    #[serde(default)]
    pub insured_until: Option<NaiveDate>,
}

/// Longest gap between on-site maintenance visits for a mode (A1 §I.(二)), months.
pub fn max_onsite_interval_months(mode: &str) -> Option<u32> {
    match mode {
        "iot" | "remote_pension" => Some(3),
        "remote_full_service" => Some(2),
        "remote" => Some(1),
        _ => None,
    }
}

/// A pilot project as put by a regulator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectSpec {
    /// Stable id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The maintenance firm.
    pub firm_id: String,
    /// The owner / property manager.
    #[serde(default)]
    pub owner: String,
    /// `iot`, `remote_pension`, `remote_full_service` or `remote`.
    pub mode: String,
    /// Admission day.
    pub admitted_on: NaiveDate,
    /// Committed KPI targets.
    pub commitment: Option<Commitment>,
    /// Current elevators.
    pub elevators: Vec<ElevatorSpec>,
    /// The other fields of the pilot list form.
    #[serde(default)]
    pub pilot_form: PilotForm,
}

/// Pilot monitoring modes (A1 §I.(二)).
pub const MODES: [&str; 4] = ["iot", "remote_pension", "remote_full_service", "remote"];

impl PgStore {
    /// Creates or updates a firm; returns true when it was created.
    pub async fn put_firm(&self, f: &Firm) -> Result<bool, StoreError> {
        if !["A", "B", "C", "D"].contains(&f.grade.as_str()) {
            return Err(StoreError::Permanent(format!("grade {:?} is not one of A, B, C, D", f.grade)));
        }
        let c = self.pool.get().await?;
        let row = c
            .query_one(
                "INSERT INTO firms (id, name, grade, self_declaration_url) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, grade = excluded.grade, \
                 self_declaration_url = excluded.self_declaration_url, updated_at = now() \
                 RETURNING (xmax = 0) AS created",
                &[&f.id, &f.name, &f.grade, &f.self_declaration_url],
            )
            .await?;
        Ok(row.get(0))
    }

    /// Creates or updates a project with its elevators, keeping membership
    /// history (api-v1.md): a new elevator belongs from its `since`, else from
    /// `admitted_on` when the project is first put, else from `today`; an
    /// elevator left out ends its membership on `today − 1`. An elevator in
    /// another project on an overlapping day is a conflict. Returns true when created.
    pub async fn put_project(&self, p: &ProjectSpec, today: NaiveDate) -> Result<bool, StoreError> {
        if !MODES.contains(&p.mode.as_str()) {
            return Err(StoreError::Permanent(format!("mode {:?} is not one of {}", p.mode, MODES.join(", "))));
        }
        let mut seen = HashSet::new();
        if let Some(dup) = p.elevators.iter().find(|e| !seen.insert(e.device_code)) {
            return Err(StoreError::Conflict(format!("elevator {} is listed twice", dup.device_code)));
        }
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        // Serialise membership changes: one registry writer at a time.
        tx.execute("SELECT pg_advisory_xact_lock(7460001)", &[]).await?;
        if tx.query_opt("SELECT 1 FROM firms WHERE id = $1", &[&p.firm_id]).await?.is_none() {
            return Err(StoreError::NotFound(format!("firm {} does not exist", p.firm_id)));
        }
        // A change of maintenance firm ends the pilot project; the project may
        // apply again with the new firm (A1 §IV.(一)) — as a new project, so
        // that each firm's results and corrections stay its own.
        if let Some(r) = tx.query_opt("SELECT firm_id FROM projects WHERE id = $1", &[&p.id]).await? {
            let current: String = r.get(0);
            if current != p.firm_id {
                return Err(StoreError::Conflict(format!(
                    "project {} is maintained by firm {current}; a change of maintenance firm is a new pilot \
                     project (A1 §IV.(一)): put it under a new project id",
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
                &[&p.id, &p.name, &p.firm_id, &p.owner, &p.mode, &p.admitted_on, &commitment, &pilot_form],
            )
            .await?
            .get(0);
        // Elevators: register or update.
        let mut ids = BTreeMap::new();
        for e in &p.elevators {
            let id: i32 = tx
                .query_one(
                    "INSERT INTO elevators (device_code, kind, location, insured_until) VALUES ($1,$2,$3,$4) \
                     ON CONFLICT (device_code) DO UPDATE SET kind = excluded.kind, location = excluded.location, \
                     insured_until = excluded.insured_until RETURNING id",
                    &[&e.device_code.as_str(), &e.kind, &e.location, &e.insured_until],
                )
                .await?
                .get(0);
            ids.insert(e.device_code, (id, e));
        }
        // Current memberships of this project.
        let open = tx
            .query(
                "SELECT m.elevator_id, e.device_code, m.since FROM memberships m JOIN elevators e ON e.id = m.elevator_id \
                 WHERE m.project_id = $1 AND m.until IS NULL",
                &[&p.id],
            )
            .await?;
        let mut current = HashSet::new();
        for r in &open {
            let code: &str = r.get(1);
            let id: i32 = r.get(0);
            let since: NaiveDate = r.get(2);
            match DeviceCode::parse(code).ok().filter(|d| ids.contains_key(d)) {
                Some(d) => {
                    // A start date that differs from the stored one is not
                    // silently ignored: history is not rewritten by a put.
                    if let Some(asked) = ids.get(&d).and_then(|(_, e)| e.since).filter(|s| *s != since) {
                        return Err(StoreError::Conflict(format!(
                            "elevator {d} belongs to project {} since {since}; a put cannot move that to {asked} \
                             (history is kept: leave `since` out for current members)",
                            p.id
                        )));
                    }
                    current.insert(id);
                }
                None => {
                    // Left out: membership ends the day before the request
                    // (or is removed if it had not begun yet).
                    let until = today.pred_opt().unwrap_or(today);
                    if until < since {
                        tx.execute("DELETE FROM memberships WHERE elevator_id = $1 AND since = $2", &[&id, &since])
                            .await?;
                    } else {
                        tx.execute(
                            "UPDATE memberships SET until = $3 WHERE elevator_id = $1 AND since = $2",
                            &[&id, &since, &until],
                        )
                        .await?;
                    }
                }
            }
        }
        for (code, (id, e)) in &ids {
            if current.contains(id) {
                continue;
            }
            let since = e.since.unwrap_or(if created { p.admitted_on } else { today });
            let clash = tx
                .query_opt(
                    "SELECT project_id, since, until FROM memberships WHERE elevator_id = $1 \
                     AND (until IS NULL OR until >= $2) LIMIT 1",
                    &[id, &since],
                )
                .await?;
            if let Some(r) = clash {
                let other: String = r.get(0);
                let from: NaiveDate = r.get(1);
                return Err(StoreError::Conflict(format!(
                    "elevator {code} belongs to project {other} since {from}; it can belong to one project on any day"
                )));
            }
            tx.execute(
                "INSERT INTO memberships (elevator_id, project_id, since) VALUES ($1, $2, $3)",
                &[id, &p.id, &since],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    /// The membership history of a project.
    pub async fn memberships(&self, project_id: &str) -> Result<Vec<Membership>, StoreError> {
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

    /// The project's commitment, if the project exists.
    pub async fn project_commitment(&self, project_id: &str) -> Result<Option<Option<Commitment>>, StoreError> {
        let c = self.pool.get().await?;
        let row = c.query_opt("SELECT commitment FROM projects WHERE id = $1", &[&project_id]).await?;
        Ok(row.map(|r| r.get::<_, Option<serde_json::Value>>(0).and_then(|v| serde_json::from_value(v).ok())))
    }
}

/// A firm as stored (without its token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmRecord {
    /// The firm.
    #[serde(flatten)]
    pub firm: Firm,
    /// Whether the self-declaration is published (a URL is on file).
    pub self_declared: bool,
}

/// A project as stored, with its status and current elevators.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectRecord {
    /// As put.
    #[serde(flatten)]
    pub spec: ProjectSpec,
    /// `active`, `rectifying` or `exited`.
    pub status: String,
    /// Findings of the rule engine still open.
    pub open_findings: i64,
    /// The whole membership history.
    pub memberships: Vec<Membership>,
}

/// Filters of the project list.
#[derive(Clone, Debug, Default)]
pub struct ProjectFilter {
    /// Only this firm's.
    pub firm: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only this mode.
    pub mode: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

impl PgStore {
    /// Stores the hash of a firm's new bearer token (rotation invalidates the old one).
    pub async fn set_firm_token_hash(&self, firm_id: &str, hash: &str) -> Result<(), StoreError> {
        let c = self.pool.get().await?;
        let n =
            c.execute("UPDATE firms SET token_hash = $2, updated_at = now() WHERE id = $1", &[&firm_id, &hash]).await?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("firm {firm_id} does not exist")));
        }
        Ok(())
    }

    /// The firm whose token has this hash.
    pub async fn firm_by_token_hash(&self, hash: &str) -> Result<Option<String>, StoreError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt("SELECT id FROM firms WHERE token_hash = $1", &[&hash]).await?.map(|r| r.get(0)))
    }

    /// One firm.
    pub async fn firm(&self, id: &str) -> Result<Option<FirmRecord>, StoreError> {
        Ok(self.firms(Some(id), 1, 0).await?.into_iter().next())
    }

    /// Firms, by id (all when `id` is `None`).
    pub async fn firms(&self, id: Option<&str>, limit: i64, offset: i64) -> Result<Vec<FirmRecord>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT id, name, grade, self_declaration_url FROM firms WHERE ($1::text IS NULL OR id = $1) \
                 ORDER BY id LIMIT $2 OFFSET $3",
                &[&id, &limit, &offset],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let url: Option<String> = r.get(3);
                FirmRecord {
                    self_declared: url.as_deref().is_some_and(|u| !u.is_empty()),
                    firm: Firm { id: r.get(0), name: r.get(1), grade: r.get(2), self_declaration_url: url },
                }
            })
            .collect())
    }

    /// The firm of a project, if the project exists.
    pub async fn project_firm(&self, project_id: &str) -> Result<Option<String>, StoreError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt("SELECT firm_id FROM projects WHERE id = $1", &[&project_id]).await?.map(|r| r.get(0)))
    }

    /// The firm currently responsible for an elevator (through its current
    /// project), if the elevator is registered; `Some(None)` when it is in no project.
    pub async fn elevator_firm(&self, device: &str) -> Result<Option<Option<String>>, StoreError> {
        let c = self.pool.get().await?;
        let Some(row) = c.query_opt("SELECT id FROM elevators WHERE device_code = $1", &[&device]).await? else {
            return Ok(None);
        };
        let id: i32 = row.get(0);
        let firm = c
            .query_opt(
                "SELECT p.firm_id FROM memberships m JOIN projects p ON p.id = m.project_id \
                 WHERE m.elevator_id = $1 ORDER BY m.until IS NULL DESC, m.until DESC LIMIT 1",
                &[&id],
            )
            .await?
            .map(|r| r.get(0));
        Ok(Some(firm))
    }

    /// Projects with filters and pagination.
    pub async fn projects(&self, f: &ProjectFilter) -> Result<Vec<ProjectRecord>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT id FROM projects WHERE ($1::text IS NULL OR firm_id = $1) AND ($2::text IS NULL OR status = $2) \
                 AND ($3::text IS NULL OR mode = $3) ORDER BY id LIMIT $4 OFFSET $5",
                &[&f.firm, &f.status, &f.mode, &f.limit, &f.offset],
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

    /// One project as stored.
    pub async fn project(&self, id: &str) -> Result<Option<ProjectRecord>, StoreError> {
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
                mode: r.get(4),
                admitted_on: r.get(5),
                commitment: commitment.and_then(|v| serde_json::from_value(v).ok()),
                elevators,
                pilot_form: serde_json::from_value(r.get::<_, serde_json::Value>(8)).unwrap_or_default(),
            },
            status: r.get(7),
            open_findings: r.get(9),
            memberships: self.memberships(id).await?,
        }))
    }
}

impl PgStore {
    /// The firm responsible for an elevator on a local day: the firm of the
    /// project it belonged to that day, if any. Decides which firm may act on
    /// an incident of that day (a firm that takes an elevator over must not
    /// rewrite the previous firm's history).
    pub async fn elevator_firm_on(&self, device: &str, day: NaiveDate) -> Result<Option<String>, StoreError> {
        let c = self.pool.get().await?;
        let row = c
            .query_opt(
                "SELECT p.firm_id FROM memberships m JOIN projects p ON p.id = m.project_id \
                 JOIN elevators e ON e.id = m.elevator_id \
                 WHERE e.device_code = $1 AND m.since <= $2 AND (m.until IS NULL OR m.until >= $2) LIMIT 1",
                &[&device, &day],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }
}
