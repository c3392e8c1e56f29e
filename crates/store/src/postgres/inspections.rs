//! Equipment facts and check results (attachment 2), in PostgreSQL: the
//! facts are kept whole as `jsonb` (the core's [`EquipmentFacts`], read back
//! with serde), beside the columns a query filters on; results are rows.
//! Reads are scoped as the firm records are ([`Scoped`]): a firm reads an
//! elevator it may see, all of its facts and results.

use async_trait::async_trait;
use liftwatch_core::inspection::{CheckResult, EquipmentFacts, NewCheckResult};
use liftwatch_core::protocol::DeviceCode;
use liftwatch_core::validation::{check_text, MAX_TECHNICIAN_CHARS};
use tokio_postgres::GenericClient;

use super::records::{client, elevator_id, Scoped};
use super::ts;
use crate::inspections::{CheckRecord, EquipmentFilter, EquipmentRecord, InspectionSet};
use crate::port::Inspections;
use crate::records::Scope;
use crate::{PgStore, StoreError};

/// Longest name of an inspection or test body, in characters.
const MAX_BODY_CHARS: usize = MAX_TECHNICIAN_CHARS * 2;

const FACTS_SELECT: &str = "SELECT f.facts, f.updated_by, f.updated_at FROM equipment_facts f";

fn facts_of(r: &tokio_postgres::Row) -> Result<EquipmentRecord, StoreError> {
    let facts: EquipmentFacts = serde_json::from_value(r.get(0))
        .map_err(|e| StoreError::Permanent(format!("stored equipment facts do not read: {e}")))?;
    Ok(EquipmentRecord { facts, updated_by: r.get(1), updated_at: ts(r.get(2)) })
}

const CHECK_SELECT: &str = "SELECT c.id, e.device_code, c.kind, c.done_on, c.passed, c.uploaded_on, c.body, \
     c.recorded_by, c.recorded_at FROM check_results c JOIN elevators e ON e.id = c.elevator_id";

fn check_of(r: &tokio_postgres::Row) -> Result<CheckRecord, StoreError> {
    let device: &str = r.get(1);
    let bad = |what: String| StoreError::Permanent(format!("stored check result {}: {what}", r.get::<_, i64>(0)));
    let result = NewCheckResult {
        device_code: DeviceCode::parse(device).map_err(|e| bad(format!("device code {device:?} {e}")))?,
        kind: r.get::<_, &str>(2).parse().map_err(|e| bad(format!("{e}")))?,
        done_on: r.get(3),
        passed: r.get(4),
        uploaded_on: r.get(5),
    };
    Ok(CheckRecord {
        result: CheckResult { id: r.get(0), result },
        body: r.get(6),
        recorded_by: r.get(7),
        recorded_at: ts(r.get(8)),
    })
}

/// The `WHERE` of a bulk read: `$1` project, `$2` firm, `$3` day of the
/// membership; `x` is the elevator's id column.
fn covered(x: &str) -> String {
    format!(
        "($1::text IS NULL AND $2::text IS NULL OR EXISTS (SELECT 1 FROM memberships m JOIN projects p \
         ON p.id = m.project_id WHERE m.elevator_id = {x} AND ($1::text IS NULL OR m.project_id = $1) \
         AND ($2::text IS NULL OR p.firm_id = $2) AND m.since <= $3 AND (m.until IS NULL OR m.until >= $3)))"
    )
}

async fn checks_where<C: GenericClient>(
    c: &C,
    cond: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<CheckRecord>, StoreError> {
    let sql = format!("{CHECK_SELECT} WHERE {cond} ORDER BY e.device_code, c.done_on, c.id");
    c.query(&sql, params).await?.iter().map(check_of).collect()
}

#[async_trait]
impl Inspections for PgStore {
    async fn put_equipment(&self, f: &EquipmentFacts, by: &str) -> Result<(EquipmentRecord, bool), StoreError> {
        f.validate()?;
        let json = serde_json::to_value(f).map_err(|e| StoreError::Permanent(e.to_string()))?;
        let c = self.pool.get().await?;
        let eid = elevator_id(client(&c), f.device_code).await?;
        let month = i16::try_from(f.inspection_month).unwrap_or(0);
        let r = c
            .query_one(
                "INSERT INTO equipment_facts AS f (elevator_id, facts, supervised_on, area, inspection_month, updated_by) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (elevator_id) DO UPDATE SET facts = excluded.facts, \
                 supervised_on = excluded.supervised_on, area = excluded.area, \
                 inspection_month = excluded.inspection_month, updated_by = excluded.updated_by, updated_at = now() \
                 RETURNING f.facts, f.updated_by, f.updated_at, (xmax = 0)",
                &[&eid, &json, &f.supervised_on, &f.area.as_str(), &month, &by],
            )
            .await?;
        Ok((facts_of(&r)?, r.get(3)))
    }

    async fn equipment(&self, scope: Scope<'_>, device: DeviceCode) -> Result<Option<EquipmentRecord>, StoreError> {
        let c = self.pool.get().await?;
        let el = Scoped::load(client(&c), scope, device, false).await?;
        c.query_opt(&format!("{FACTS_SELECT} WHERE f.elevator_id = $1"), &[&el.eid])
            .await?
            .as_ref()
            .map(facts_of)
            .transpose()
    }

    async fn add_check(&self, r: &NewCheckResult, body: &str, by: &str) -> Result<CheckRecord, StoreError> {
        r.validate()?;
        check_text("body", body, MAX_BODY_CHARS, false)?;
        let c = self.pool.get().await?;
        let eid = elevator_id(client(&c), r.device_code).await?;
        let id: i64 = c
            .query_one(
                "INSERT INTO check_results (elevator_id, kind, done_on, passed, uploaded_on, body, recorded_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &[&eid, &r.kind.as_str(), &r.done_on, &r.passed, &r.uploaded_on, &body, &by],
            )
            .await?
            .get(0);
        let rows = checks_where(client(&c), "c.id = $1", &[&id]).await?;
        rows.into_iter().next().ok_or_else(|| StoreError::Transient(format!("check result {id} vanished")))
    }

    async fn checks(&self, scope: Scope<'_>, device: DeviceCode) -> Result<Vec<CheckRecord>, StoreError> {
        let c = self.pool.get().await?;
        let el = Scoped::load(client(&c), scope, device, false).await?;
        checks_where(client(&c), "c.elevator_id = $1", &[&el.eid]).await
    }

    async fn inspection_set(&self, f: &EquipmentFilter) -> Result<InspectionSet, StoreError> {
        if (f.project.is_some() || f.firm.is_some()) && f.on.is_none() {
            return Err(StoreError::Permanent("a project or firm filter needs the day of the membership".into()));
        }
        let c = self.pool.get().await?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&f.project, &f.firm, &f.on];
        let sql = format!(
            "{FACTS_SELECT} JOIN elevators e ON e.id = f.elevator_id WHERE {} ORDER BY e.device_code",
            covered("f.elevator_id")
        );
        let equipment = c.query(&sql, &params).await?.iter().map(facts_of).collect::<Result<Vec<_>, _>>()?;
        let cond = format!(
            "{} AND EXISTS (SELECT 1 FROM equipment_facts f WHERE f.elevator_id = c.elevator_id)",
            covered("c.elevator_id")
        );
        let checks = checks_where(client(&c), &cond, &params).await?;
        Ok(InspectionSet { equipment, checks })
    }
}
