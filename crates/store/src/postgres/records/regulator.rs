//! What regulators record, in PostgreSQL: complaints, inspections and spot
//! checks, accidents, rectification orders and the firms' yearly grades.
//! The records, their validation and the pilot's rules about them are the
//! core's ([`liftwatch_core::records`], [`liftwatch_core::pilot`]); the
//! store runs the validation again and refuses with [`StoreError::Permanent`].

use crate::port::*;
use crate::records::RecordFilter;
use async_trait::async_trait;

use chrono::NaiveDate;
use liftwatch_core::pilot::check_completion;
use liftwatch_core::protocol::DeviceCode;
use liftwatch_core::records::{
    Accident, Complaint, FirmGrade, Inspection, NewAccident, NewComplaint, NewFirmGrade, NewInspection,
    NewRectificationOrder, RectificationOrder,
};
use liftwatch_core::UnknownValue;
use tokio_postgres::GenericClient;

use crate::postgres::ts;
use crate::{PgStore, StoreError};

/// A stored enum value that no longer parses (a row written by hand, or a
/// migration that forgot a value): the data, not the request, is wrong.
fn stored(what: &str) -> impl Fn(UnknownValue) -> StoreError + '_ {
    move |e| StoreError::Permanent(format!("stored {what}: {e}"))
}

/// Checks the project exists and, when given, that the elevator is registered
/// and has belonged to the project; returns the elevator's id.
async fn project_elevator<C: GenericClient>(
    c: &C,
    project_id: &str,
    device: Option<DeviceCode>,
) -> Result<Option<i32>, StoreError> {
    if c.query_opt("SELECT 1 FROM projects WHERE id = $1", &[&project_id]).await?.is_none() {
        return Err(StoreError::NotFound(format!("project_id: project {project_id} does not exist")));
    }
    let Some(d) = device else { return Ok(None) };
    let eid = c
        .query_opt("SELECT id FROM elevators WHERE device_code = $1", &[&d.as_str()])
        .await?
        .map(|r| r.get::<_, i32>(0))
        .ok_or_else(|| StoreError::NotFound(format!("device_code: elevator {d} is not registered")))?;
    if c.query_opt("SELECT 1 FROM memberships WHERE elevator_id = $1 AND project_id = $2", &[&eid, &project_id])
        .await?
        .is_none()
    {
        return Err(StoreError::Permanent(format!(
            "device_code: elevator {d} has never belonged to project {project_id}"
        )));
    }
    Ok(Some(eid))
}

const COMPLAINT_SELECT: &str =
    "SELECT x.id, x.project_id, p.firm_id, e.device_code, x.received_on, x.safety_or_quality, \
     x.verified, x.maintenance_quality_caused, x.summary, x.recorded_by, x.recorded_at \
     FROM complaints x JOIN projects p ON p.id = x.project_id LEFT JOIN elevators e ON e.id = x.elevator_id";

fn complaint_of(r: &tokio_postgres::Row) -> Result<Complaint, StoreError> {
    Ok(Complaint {
        id: r.get(0),
        project_id: r.get(1),
        firm_id: r.get(2),
        device_code: r.get(3),
        received_on: r.get(4),
        safety_or_quality: r.get::<_, &str>(5).parse().map_err(stored("complaint"))?,
        verified: r.get(6),
        maintenance_quality_caused: r.get(7),
        summary: r.get(8),
        recorded_by: r.get(9),
        recorded_at: ts(r.get(10)),
    })
}

/// The `WHERE` of a filtered list: `$1` project, `$2` firm, `$3` limit, `$4` offset.
const FILTER: &str = "WHERE ($1::text IS NULL OR x.project_id = $1) AND ($2::text IS NULL OR p.firm_id = $2)";

/// One regulator record by id (`select … WHERE x.id = $1`), read by `of`.
async fn record_by_id<C: GenericClient, T>(
    c: &C,
    select: &str,
    id: i64,
    of: impl Fn(&tokio_postgres::Row) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    c.query_opt(&format!("{select} WHERE x.id = $1"), &[&id]).await?.as_ref().map(of).transpose()
}

/// A page of regulator records under `f` (project, firm, limit, offset),
/// newest first by `newest_first` (a date column), read by `of`.
async fn record_page<C: GenericClient, T>(
    c: &C,
    select: &str,
    newest_first: &str,
    f: &RecordFilter,
    of: impl Fn(&tokio_postgres::Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let sql = format!("{select} {FILTER} ORDER BY {newest_first} DESC, x.id DESC LIMIT $3 OFFSET $4");
    c.query(&sql, &[&f.project, &f.firm, &f.limit, &f.offset]).await?.iter().map(of).collect()
}

#[async_trait]
impl RegulatorRecords for PgStore {
    async fn add_complaint(&self, n: &NewComplaint, by: &str) -> Result<Complaint, StoreError> {
        n.validate()?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let eid = project_elevator(&*tx, &n.project_id, n.device_code).await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO complaints (project_id, elevator_id, received_on, safety_or_quality, verified, \
                 maintenance_quality_caused, summary, recorded_by) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id",
                &[
                    &n.project_id,
                    &eid,
                    &n.received_on,
                    &n.safety_or_quality.as_str(),
                    &n.verified,
                    &n.maintenance_quality_caused,
                    &n.summary,
                    &by,
                ],
            )
            .await?
            .get(0);
        let r = tx.query_one(&format!("{COMPLAINT_SELECT} WHERE x.id = $1"), &[&id]).await?;
        tx.commit().await?;
        complaint_of(&r)
    }

    async fn complaint(&self, id: i64) -> Result<Option<Complaint>, StoreError> {
        let c = self.pool.get().await?;
        record_by_id(&**c, COMPLAINT_SELECT, id, complaint_of).await
    }

    async fn complaints(&self, f: &RecordFilter) -> Result<Vec<Complaint>, StoreError> {
        let c = self.pool.get().await?;
        record_page(&**c, COMPLAINT_SELECT, "x.received_on", f, complaint_of).await
    }

    async fn verify_complaint(
        &self,
        id: i64,
        verified: bool,
        maintenance_quality_caused: bool,
    ) -> Result<Option<Complaint>, StoreError> {
        let c = self.pool.get().await?;
        let n = c
            .execute(
                "UPDATE complaints SET verified = $2, maintenance_quality_caused = $3, updated_at = now() WHERE id = $1",
                &[&id, &verified, &maintenance_quality_caused],
            )
            .await?;
        drop(c);
        if n == 0 {
            return Ok(None);
        }
        self.complaint(id).await
    }

    async fn add_inspection(&self, n: &NewInspection, by: &str) -> Result<Inspection, StoreError> {
        n.validate()?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let eid = project_elevator(&*tx, &n.project_id, n.device_code).await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO inspections (project_id, elevator_id, kind, on_date, hazard_found, passed, summary, recorded_by) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id",
                &[&n.project_id, &eid, &n.kind.as_str(), &n.on, &n.hazard_found, &n.passed, &n.summary, &by],
            )
            .await?
            .get(0);
        let r = tx.query_one(&format!("{INSPECTION_SELECT} WHERE x.id = $1"), &[&id]).await?;
        tx.commit().await?;
        inspection_of(&r)
    }

    async fn inspection(&self, id: i64) -> Result<Option<Inspection>, StoreError> {
        let c = self.pool.get().await?;
        record_by_id(&**c, INSPECTION_SELECT, id, inspection_of).await
    }

    async fn inspections(&self, f: &RecordFilter) -> Result<Vec<Inspection>, StoreError> {
        let c = self.pool.get().await?;
        record_page(&**c, INSPECTION_SELECT, "x.on_date", f, inspection_of).await
    }

    async fn add_accident(&self, n: &NewAccident, by: &str) -> Result<Accident, StoreError> {
        n.validate()?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let eid = project_elevator(&*tx, &n.project_id, Some(n.device_code)).await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO accidents (project_id, elevator_id, on_date, caused_by_maintenance, summary, recorded_by) \
                 VALUES ($1,$2,$3,$4,$5,$6) RETURNING id",
                &[&n.project_id, &eid, &n.on, &n.caused_by_maintenance, &n.summary, &by],
            )
            .await?
            .get(0);
        let r = tx.query_one(&format!("{ACCIDENT_SELECT} WHERE x.id = $1"), &[&id]).await?;
        tx.commit().await?;
        Ok(accident_of(&r))
    }

    async fn accident(&self, id: i64) -> Result<Option<Accident>, StoreError> {
        let c = self.pool.get().await?;
        record_by_id(&**c, ACCIDENT_SELECT, id, |r| Ok(accident_of(r))).await
    }

    async fn accidents(&self, f: &RecordFilter) -> Result<Vec<Accident>, StoreError> {
        let c = self.pool.get().await?;
        record_page(&**c, ACCIDENT_SELECT, "x.on_date", f, |r| Ok(accident_of(r))).await
    }

    async fn add_rectification_order(
        &self,
        n: &NewRectificationOrder,
        by: &str,
    ) -> Result<RectificationOrder, StoreError> {
        n.validate()?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        project_elevator(&*tx, &n.project_id, None).await?;
        if let Some(i) = n.inspection_id {
            let p: Option<String> =
                tx.query_opt("SELECT project_id FROM inspections WHERE id = $1", &[&i]).await?.map(|r| r.get(0));
            match p {
                None => return Err(StoreError::Permanent(format!("inspection_id: inspection {i} does not exist"))),
                Some(p) if p != n.project_id => {
                    return Err(StoreError::Permanent(format!(
                        "inspection_id: inspection {i} is of project {p}, not {}",
                        n.project_id
                    )))
                }
                Some(_) => {}
            }
        }
        if let Some(f) = &n.finding_id {
            if tx.query_opt("SELECT 1 FROM findings WHERE id = $1", &[f]).await?.is_none() {
                return Err(StoreError::Permanent(format!("finding_id: finding {f} does not exist")));
            }
        }
        let id: i64 = tx
            .query_one(
                "INSERT INTO rectification_orders (project_id, issued_on, deadline, reason, inspection_id, finding_id, \
                 recorded_by) VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING id",
                &[&n.project_id, &n.issued_on, &n.deadline, &n.reason, &n.inspection_id, &n.finding_id, &by],
            )
            .await?
            .get(0);
        let r = tx.query_one(&format!("{ORDER_SELECT} WHERE x.id = $1"), &[&id]).await?;
        tx.commit().await?;
        Ok(order_of(&r))
    }

    async fn rectification_order(&self, id: i64) -> Result<Option<RectificationOrder>, StoreError> {
        let c = self.pool.get().await?;
        record_by_id(&**c, ORDER_SELECT, id, |r| Ok(order_of(r))).await
    }

    async fn rectification_orders(&self, f: &RecordFilter) -> Result<Vec<RectificationOrder>, StoreError> {
        let c = self.pool.get().await?;
        record_page(&**c, ORDER_SELECT, "x.issued_on", f, |r| Ok(order_of(r))).await
    }

    async fn complete_rectification(
        &self,
        id: i64,
        on: NaiveDate,
        by: &str,
    ) -> Result<Option<RectificationOrder>, StoreError> {
        let c = self.pool.get().await?;
        let Some(r) = c.query_opt("SELECT issued_on FROM rectification_orders WHERE id = $1", &[&id]).await? else {
            return Ok(None);
        };
        check_completion(r.get(0), on)?;
        c.execute(
            "UPDATE rectification_orders SET completed_on = $2, completed_by = $3 WHERE id = $1",
            &[&id, &on, &by],
        )
        .await?;
        drop(c);
        self.rectification_order(id).await
    }

    async fn put_firm_grade(&self, firm_id: &str, g: &NewFirmGrade, by: &str) -> Result<(FirmGrade, bool), StoreError> {
        g.validate()?;
        let grade = g.grade.as_str();
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        if tx.query_opt("SELECT 1 FROM firms WHERE id = $1 FOR UPDATE", &[&firm_id]).await?.is_none() {
            return Err(StoreError::NotFound(format!("firm {firm_id} does not exist")));
        }
        let r = tx
            .query_one(
                "INSERT INTO firm_grades (firm_id, year, grade, self_declared, recorded_by) VALUES ($1,$2,$3,$4,$5) \
                 ON CONFLICT (firm_id, year) DO UPDATE SET grade = excluded.grade, \
                 self_declared = excluded.self_declared, recorded_by = excluded.recorded_by, recorded_at = now() \
                 RETURNING firm_id, year, grade, self_declared, recorded_by, recorded_at, (xmax = 0)",
                &[&firm_id, &g.year, &grade, &g.self_declared, &by],
            )
            .await?;
        let latest: i32 =
            tx.query_one("SELECT max(year) FROM firm_grades WHERE firm_id = $1", &[&firm_id]).await?.get(0);
        if latest == g.year {
            tx.execute("UPDATE firms SET grade = $2, updated_at = now() WHERE id = $1", &[&firm_id, &grade]).await?;
        }
        tx.commit().await?;
        Ok((grade_of(&r)?, r.get(6)))
    }

    async fn firm_grades(&self, firm_id: &str) -> Result<Option<Vec<FirmGrade>>, StoreError> {
        let c = self.pool.get().await?;
        if c.query_opt("SELECT 1 FROM firms WHERE id = $1", &[&firm_id]).await?.is_none() {
            return Ok(None);
        }
        let rows = c
            .query(
                "SELECT firm_id, year, grade, self_declared, recorded_by, recorded_at FROM firm_grades \
                 WHERE firm_id = $1 ORDER BY year",
                &[&firm_id],
            )
            .await?;
        rows.iter().map(grade_of).collect::<Result<_, _>>().map(Some)
    }
}

const INSPECTION_SELECT: &str = "SELECT x.id, x.project_id, p.firm_id, e.device_code, x.kind, x.on_date, \
     x.hazard_found, x.passed, x.summary, x.recorded_by, x.recorded_at \
     FROM inspections x JOIN projects p ON p.id = x.project_id LEFT JOIN elevators e ON e.id = x.elevator_id";

fn inspection_of(r: &tokio_postgres::Row) -> Result<Inspection, StoreError> {
    Ok(Inspection {
        id: r.get(0),
        project_id: r.get(1),
        firm_id: r.get(2),
        device_code: r.get(3),
        kind: r.get::<_, &str>(4).parse().map_err(stored("inspection"))?,
        on: r.get(5),
        hazard_found: r.get(6),
        passed: r.get(7),
        summary: r.get(8),
        recorded_by: r.get(9),
        recorded_at: ts(r.get(10)),
    })
}

const ACCIDENT_SELECT: &str = "SELECT x.id, x.project_id, p.firm_id, e.device_code, x.on_date, \
     x.caused_by_maintenance, x.summary, x.recorded_by, x.recorded_at \
     FROM accidents x JOIN projects p ON p.id = x.project_id JOIN elevators e ON e.id = x.elevator_id";

fn accident_of(r: &tokio_postgres::Row) -> Accident {
    Accident {
        id: r.get(0),
        project_id: r.get(1),
        firm_id: r.get(2),
        device_code: r.get(3),
        on: r.get(4),
        caused_by_maintenance: r.get(5),
        summary: r.get(6),
        recorded_by: r.get(7),
        recorded_at: ts(r.get(8)),
    }
}

const ORDER_SELECT: &str = "SELECT x.id, x.project_id, p.firm_id, x.issued_on, x.deadline, x.reason, x.inspection_id, \
     x.finding_id, x.completed_on, x.completed_by, x.recorded_by, x.recorded_at \
     FROM rectification_orders x JOIN projects p ON p.id = x.project_id";

fn order_of(r: &tokio_postgres::Row) -> RectificationOrder {
    RectificationOrder {
        id: r.get(0),
        project_id: r.get(1),
        firm_id: r.get(2),
        issued_on: r.get(3),
        deadline: r.get(4),
        reason: r.get(5),
        inspection_id: r.get(6),
        finding_id: r.get(7),
        completed_on: r.get(8),
        completed_by: r.get(9),
        recorded_by: r.get(10),
        recorded_at: ts(r.get(11)),
    }
}

fn grade_of(r: &tokio_postgres::Row) -> Result<FirmGrade, StoreError> {
    Ok(FirmGrade {
        firm_id: r.get(0),
        year: r.get(1),
        grade: r.get::<_, &str>(2).parse().map_err(stored("grade"))?,
        self_declared: r.get(3),
        recorded_by: r.get(4),
        recorded_at: ts(r.get(5)),
    })
}
