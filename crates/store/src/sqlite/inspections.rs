//! Equipment facts and check results (attachment 2) in SQLite, as the
//! PostgreSQL adapter keeps them: the facts whole as JSON beside the columns
//! a query filters on, results as rows; reads scoped as firm records are.

use async_trait::async_trait;
use liftwatch_core::inspection::{CheckResult, EquipmentFacts, NewCheckResult};
use liftwatch_core::protocol::{DeviceCode, Timestamp};
use liftwatch_core::validation::{check_text, MAX_TECHNICIAN_CHARS};
use rusqlite::{params, Connection, Row};

use super::incidents::elevator_id;
use super::records::{not_registered, OwnedScope, Scoped};
use super::{code, SqliteStore};
use crate::inspections::{CheckRecord, EquipmentFilter, EquipmentRecord, InspectionSet};
use crate::port::Inspections;
use crate::records::Scope;
use crate::StoreError;

/// Longest name of an inspection or test body, in characters.
const MAX_BODY_CHARS: usize = MAX_TECHNICIAN_CHARS * 2;

const FACTS_SELECT: &str = "SELECT f.facts, f.updated_by, f.updated_at FROM equipment_facts f";

fn facts_of(r: &Row<'_>) -> Result<EquipmentRecord, StoreError> {
    let text: String = r.get(0)?;
    let facts: EquipmentFacts = serde_json::from_str(&text)
        .map_err(|e| StoreError::Permanent(format!("stored equipment facts do not read: {e}")))?;
    Ok(EquipmentRecord { facts, updated_by: r.get(1)?, updated_at: Timestamp(r.get(2)?) })
}

const CHECK_SELECT: &str = "SELECT c.id, e.device_code, c.kind, c.done_on, c.passed, c.uploaded_on, c.body, \
     c.recorded_by, c.recorded_at FROM check_results c JOIN elevators e ON e.id = c.elevator_id";

fn check_of(r: &Row<'_>) -> Result<CheckRecord, StoreError> {
    let id: i64 = r.get(0)?;
    let bad = |what: String| StoreError::Permanent(format!("stored check result {id}: {what}"));
    let device: String = r.get(1)?;
    let kind: String = r.get(2)?;
    let result = NewCheckResult {
        device_code: code(&device)?,
        kind: kind.parse().map_err(|e| bad(format!("{e}")))?,
        done_on: r.get(3)?,
        passed: r.get(4)?,
        uploaded_on: r.get(5)?,
    };
    Ok(CheckRecord {
        result: CheckResult { id, result },
        body: r.get(6)?,
        recorded_by: r.get(7)?,
        recorded_at: Timestamp(r.get(8)?),
    })
}

/// The condition of a bulk read: `?1` project, `?2` firm, `?3` day of the
/// membership; `x` is the elevator's id column.
fn covered(x: &str) -> String {
    format!(
        "(?1 IS NULL AND ?2 IS NULL OR EXISTS (SELECT 1 FROM memberships m JOIN projects p \
         ON p.id = m.project_id WHERE m.elevator_id = {x} AND (?1 IS NULL OR m.project_id = ?1) \
         AND (?2 IS NULL OR p.firm_id = ?2) AND m.since <= ?3 AND (m.until IS NULL OR m.until >= ?3)))"
    )
}

fn checks_where(c: &Connection, cond: &str, p: impl rusqlite::Params) -> Result<Vec<CheckRecord>, StoreError> {
    let mut st = c.prepare(&format!("{CHECK_SELECT} WHERE {cond} ORDER BY e.device_code, c.done_on, c.id"))?;
    let mut rows = st.query(p)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(check_of(r)?);
    }
    Ok(out)
}

fn eid_of(c: &Connection, device: DeviceCode) -> Result<i64, StoreError> {
    elevator_id(c, device.as_str())?.ok_or_else(|| not_registered(device))
}

#[async_trait]
impl Inspections for SqliteStore {
    async fn put_equipment(&self, f: &EquipmentFacts, by: &str) -> Result<(EquipmentRecord, bool), StoreError> {
        f.validate()?;
        let json = serde_json::to_string(f).map_err(|e| StoreError::Permanent(e.to_string()))?;
        let (f, by) = (f.clone(), by.to_owned());
        self.write(move |c| {
            let eid = eid_of(c, f.device_code)?;
            let existed: bool =
                c.query_row("SELECT EXISTS (SELECT 1 FROM equipment_facts WHERE elevator_id = ?1)", [eid], |r| r.get(0))?;
            c.execute(
                "INSERT INTO equipment_facts (elevator_id, facts, supervised_on, area, inspection_month, updated_by, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (elevator_id) DO UPDATE SET facts = excluded.facts, \
                 supervised_on = excluded.supervised_on, area = excluded.area, \
                 inspection_month = excluded.inspection_month, updated_by = excluded.updated_by, \
                 updated_at = excluded.updated_at",
                params![eid, json, f.supervised_on, f.area.as_str(), f.inspection_month, by, Timestamp::now().0],
            )?;
            let rec = c.query_row(&format!("{FACTS_SELECT} WHERE f.elevator_id = ?1"), [eid], |r| Ok(facts_of(r)))??;
            Ok((rec, !existed))
        })
        .await
    }

    async fn equipment(&self, scope: Scope<'_>, device: DeviceCode) -> Result<Option<EquipmentRecord>, StoreError> {
        let scope = OwnedScope::of(scope);
        self.read(move |c| {
            let el = Scoped::load(c, scope.get(), device)?;
            let mut st = c.prepare(&format!("{FACTS_SELECT} WHERE f.elevator_id = ?1"))?;
            let mut rows = st.query([el.eid])?;
            match rows.next()? {
                Some(r) => Ok(Some(facts_of(r)?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn add_check(&self, r: &NewCheckResult, body: &str, by: &str) -> Result<CheckRecord, StoreError> {
        r.validate()?;
        check_text("body", body, MAX_BODY_CHARS, false)?;
        let (r, body, by) = (r.clone(), body.to_owned(), by.to_owned());
        self.write(move |c| {
            let eid = eid_of(c, r.device_code)?;
            let id: i64 = c.query_row(
                "INSERT INTO check_results (elevator_id, kind, done_on, passed, uploaded_on, body, recorded_by, recorded_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                params![eid, r.kind.as_str(), r.done_on, r.passed, r.uploaded_on, body, by, Timestamp::now().0],
                |row| row.get(0),
            )?;
            checks_where(c, "c.id = ?1", [id])?
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::Transient(format!("check result {id} vanished")))
        })
        .await
    }

    async fn checks(&self, scope: Scope<'_>, device: DeviceCode) -> Result<Vec<CheckRecord>, StoreError> {
        let scope = OwnedScope::of(scope);
        self.read(move |c| {
            let el = Scoped::load(c, scope.get(), device)?;
            checks_where(c, "c.elevator_id = ?1", [el.eid])
        })
        .await
    }

    async fn inspection_set(&self, f: &EquipmentFilter) -> Result<InspectionSet, StoreError> {
        if (f.project.is_some() || f.firm.is_some()) && f.on.is_none() {
            return Err(StoreError::Permanent("a project or firm filter needs the day of the membership".into()));
        }
        let (project, firm, on) = (f.project.clone(), f.firm.clone(), f.on);
        self.read(move |c| {
            let sql = format!(
                "{FACTS_SELECT} JOIN elevators e ON e.id = f.elevator_id WHERE {} ORDER BY e.device_code",
                covered("f.elevator_id")
            );
            let mut st = c.prepare(&sql)?;
            let mut rows = st.query(params![project, firm, on])?;
            let mut equipment = Vec::new();
            while let Some(r) = rows.next()? {
                equipment.push(facts_of(r)?);
            }
            let cond = format!(
                "{} AND EXISTS (SELECT 1 FROM equipment_facts f WHERE f.elevator_id = c.elevator_id)",
                covered("c.elevator_id")
            );
            let checks = checks_where(c, &cond, params![project, firm, on])?;
            Ok(InspectionSet { equipment, checks })
        })
        .await
    }
}
