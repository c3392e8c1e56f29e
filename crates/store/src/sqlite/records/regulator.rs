//! What regulators record, in SQLite: complaints, inspections and spot
//! checks, accidents, rectification orders and the firms' yearly grades.
//! The records, their validation and the pilot's rules about them are the
//! core's; the store runs the validation again and refuses with
//! [`StoreError::Permanent`].

use async_trait::async_trait;
use chrono::NaiveDate;
use liftwatch_core::pilot::check_completion;
use liftwatch_core::protocol::{DeviceCode, Timestamp};
use liftwatch_core::records::{
    Accident, Complaint, FirmGrade, Inspection, NewAccident, NewComplaint, NewFirmGrade, NewInspection,
    NewRectificationOrder, RectificationOrder,
};
use liftwatch_core::UnknownValue;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::port::RegulatorRecords;
use crate::records::RecordFilter;
use crate::sqlite::incidents::elevator_id;
use crate::sqlite::registry::exists;
use crate::sqlite::NOW;
use crate::{SqliteStore, StoreError};

/// A stored enum value that no longer parses: the data, not the request, is wrong.
fn stored(what: &str) -> impl Fn(UnknownValue) -> StoreError + '_ {
    move |e| StoreError::Permanent(format!("stored {what}: {e}"))
}

/// Checks the project exists and, when given, that the elevator is registered
/// and has belonged to the project; returns the elevator's id.
fn project_elevator(c: &Connection, project_id: &str, device: Option<DeviceCode>) -> Result<Option<i64>, StoreError> {
    if !exists(c, "SELECT 1 FROM projects WHERE id = ?1", [project_id])? {
        return Err(StoreError::NotFound(format!("project_id: project {project_id} does not exist")));
    }
    let Some(d) = device else { return Ok(None) };
    let eid = elevator_id(c, d.as_str())?
        .ok_or_else(|| StoreError::NotFound(format!("device_code: elevator {d} is not registered")))?;
    if !exists(c, "SELECT 1 FROM memberships WHERE elevator_id = ?1 AND project_id = ?2", params![eid, project_id])? {
        return Err(StoreError::Permanent(format!(
            "device_code: elevator {d} has never belonged to project {project_id}"
        )));
    }
    Ok(Some(eid))
}

/// A record kind: how it is selected and read back.
trait Record: Sized + Send + 'static {
    /// `SELECT … FROM <table> x JOIN projects p …` (filtered by `WHERE x.id`, or [`FILTER`]).
    const SELECT: &'static str;
    /// The date column listed newest first.
    const NEWEST_FIRST: &'static str;
    /// The record of a selected row.
    fn of(r: &Row<'_>) -> Result<Self, StoreError>;
}

/// The `WHERE` of a filtered list: `?1` project, `?2` firm, `?3` limit, `?4` offset.
const FILTER: &str = "WHERE (?1 IS NULL OR x.project_id = ?1) AND (?2 IS NULL OR p.firm_id = ?2)";

fn by_id<T: Record>(c: &Connection, id: i64) -> Result<Option<T>, StoreError> {
    let mut st = c.prepare_cached(&format!("{} WHERE x.id = ?1", T::SELECT))?;
    let mut rows = st.query([id])?;
    rows.next()?.map(T::of).transpose()
}

fn page<T: Record>(c: &Connection, f: &RecordFilter) -> Result<Vec<T>, StoreError> {
    let sql = format!("{} {FILTER} ORDER BY {} DESC, x.id DESC LIMIT ?3 OFFSET ?4", T::SELECT, T::NEWEST_FIRST);
    let mut st = c.prepare_cached(&sql)?;
    let mut rows = st.query(params![f.project, f.firm, f.limit, f.offset])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(T::of(r)?);
    }
    Ok(out)
}

impl Record for Complaint {
    const SELECT: &'static str = "SELECT x.id, x.project_id, p.firm_id, e.device_code, x.received_on, \
        x.safety_or_quality, x.verified, x.maintenance_quality_caused, x.summary, x.recorded_by, x.recorded_at \
        FROM complaints x JOIN projects p ON p.id = x.project_id LEFT JOIN elevators e ON e.id = x.elevator_id";
    const NEWEST_FIRST: &'static str = "x.received_on";
    fn of(r: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Complaint {
            id: r.get(0)?,
            project_id: r.get(1)?,
            firm_id: r.get(2)?,
            device_code: r.get(3)?,
            received_on: r.get(4)?,
            safety_or_quality: r.get::<_, String>(5)?.parse().map_err(stored("complaint"))?,
            verified: r.get(6)?,
            maintenance_quality_caused: r.get(7)?,
            summary: r.get(8)?,
            recorded_by: r.get(9)?,
            recorded_at: Timestamp(r.get(10)?),
        })
    }
}

impl Record for Inspection {
    const SELECT: &'static str = "SELECT x.id, x.project_id, p.firm_id, e.device_code, x.kind, x.on_date, \
        x.hazard_found, x.passed, x.summary, x.recorded_by, x.recorded_at \
        FROM inspections x JOIN projects p ON p.id = x.project_id LEFT JOIN elevators e ON e.id = x.elevator_id";
    const NEWEST_FIRST: &'static str = "x.on_date";
    fn of(r: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Inspection {
            id: r.get(0)?,
            project_id: r.get(1)?,
            firm_id: r.get(2)?,
            device_code: r.get(3)?,
            kind: r.get::<_, String>(4)?.parse().map_err(stored("inspection"))?,
            on: r.get(5)?,
            hazard_found: r.get(6)?,
            passed: r.get(7)?,
            summary: r.get(8)?,
            recorded_by: r.get(9)?,
            recorded_at: Timestamp(r.get(10)?),
        })
    }
}

impl Record for Accident {
    const SELECT: &'static str = "SELECT x.id, x.project_id, p.firm_id, e.device_code, x.on_date, \
        x.caused_by_maintenance, x.summary, x.recorded_by, x.recorded_at \
        FROM accidents x JOIN projects p ON p.id = x.project_id JOIN elevators e ON e.id = x.elevator_id";
    const NEWEST_FIRST: &'static str = "x.on_date";
    fn of(r: &Row<'_>) -> Result<Self, StoreError> {
        Ok(Accident {
            id: r.get(0)?,
            project_id: r.get(1)?,
            firm_id: r.get(2)?,
            device_code: r.get(3)?,
            on: r.get(4)?,
            caused_by_maintenance: r.get(5)?,
            summary: r.get(6)?,
            recorded_by: r.get(7)?,
            recorded_at: Timestamp(r.get(8)?),
        })
    }
}

impl Record for RectificationOrder {
    const SELECT: &'static str = "SELECT x.id, x.project_id, p.firm_id, x.issued_on, x.deadline, x.reason, \
        x.inspection_id, x.finding_id, x.completed_on, x.completed_by, x.recorded_by, x.recorded_at \
        FROM rectification_orders x JOIN projects p ON p.id = x.project_id";
    const NEWEST_FIRST: &'static str = "x.issued_on";
    fn of(r: &Row<'_>) -> Result<Self, StoreError> {
        Ok(RectificationOrder {
            id: r.get(0)?,
            project_id: r.get(1)?,
            firm_id: r.get(2)?,
            issued_on: r.get(3)?,
            deadline: r.get(4)?,
            reason: r.get(5)?,
            inspection_id: r.get(6)?,
            finding_id: r.get(7)?,
            completed_on: r.get(8)?,
            completed_by: r.get(9)?,
            recorded_by: r.get(10)?,
            recorded_at: Timestamp(r.get(11)?),
        })
    }
}

fn grade_of(r: &Row<'_>) -> Result<FirmGrade, StoreError> {
    Ok(FirmGrade {
        firm_id: r.get(0)?,
        year: r.get(1)?,
        grade: r.get::<_, String>(2)?.parse().map_err(stored("grade"))?,
        self_declared: r.get(3)?,
        recorded_by: r.get(4)?,
        recorded_at: Timestamp(r.get(5)?),
    })
}

const GRADE_COLUMNS: &str = "firm_id, year, grade, self_declared, recorded_by, recorded_at";

impl SqliteStore {
    async fn record<T: Record>(&self, id: i64) -> Result<Option<T>, StoreError> {
        self.read(move |c| by_id::<T>(c, id)).await
    }

    async fn records<T: Record>(&self, f: &RecordFilter) -> Result<Vec<T>, StoreError> {
        let f = f.clone();
        self.read(move |c| page::<T>(c, &f)).await
    }
}

#[async_trait]
impl RegulatorRecords for SqliteStore {
    async fn add_complaint(&self, n: &NewComplaint, by: &str) -> Result<Complaint, StoreError> {
        n.validate()?;
        let (n, by) = (n.clone(), by.to_owned());
        self.write(move |c| {
            let eid = project_elevator(c, &n.project_id, n.device_code)?;
            let id: i64 = c.query_row(
                "INSERT INTO complaints (project_id, elevator_id, received_on, safety_or_quality, verified, \
                 maintenance_quality_caused, summary, recorded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                params![
                    n.project_id,
                    eid,
                    n.received_on,
                    n.safety_or_quality.as_str(),
                    n.verified,
                    n.maintenance_quality_caused,
                    n.summary,
                    by
                ],
                |r| r.get(0),
            )?;
            by_id::<Complaint>(c, id)?.ok_or_else(|| StoreError::Transient("complaint vanished".into()))
        })
        .await
    }

    async fn complaint(&self, id: i64) -> Result<Option<Complaint>, StoreError> {
        self.record(id).await
    }

    async fn complaints(&self, f: &RecordFilter) -> Result<Vec<Complaint>, StoreError> {
        self.records(f).await
    }

    async fn verify_complaint(
        &self,
        id: i64,
        verified: bool,
        maintenance_quality_caused: bool,
    ) -> Result<Option<Complaint>, StoreError> {
        self.write(move |c| {
            let n = c.execute(
                &format!(
                    "UPDATE complaints SET verified = ?2, maintenance_quality_caused = ?3, updated_at = {NOW} WHERE id = ?1"
                ),
                params![id, verified, maintenance_quality_caused],
            )?;
            if n == 0 {
                return Ok(None);
            }
            by_id(c, id)
        })
        .await
    }

    async fn add_inspection(&self, n: &NewInspection, by: &str) -> Result<Inspection, StoreError> {
        n.validate()?;
        let (n, by) = (n.clone(), by.to_owned());
        self.write(move |c| {
            let eid = project_elevator(c, &n.project_id, n.device_code)?;
            let id: i64 = c.query_row(
                "INSERT INTO inspections (project_id, elevator_id, kind, on_date, hazard_found, passed, summary, \
                 recorded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                params![n.project_id, eid, n.kind.as_str(), n.on, n.hazard_found, n.passed, n.summary, by],
                |r| r.get(0),
            )?;
            by_id::<Inspection>(c, id)?.ok_or_else(|| StoreError::Transient("inspection vanished".into()))
        })
        .await
    }

    async fn inspection(&self, id: i64) -> Result<Option<Inspection>, StoreError> {
        self.record(id).await
    }

    async fn inspections(&self, f: &RecordFilter) -> Result<Vec<Inspection>, StoreError> {
        self.records(f).await
    }

    async fn add_accident(&self, n: &NewAccident, by: &str) -> Result<Accident, StoreError> {
        n.validate()?;
        let (n, by) = (n.clone(), by.to_owned());
        self.write(move |c| {
            let eid = project_elevator(c, &n.project_id, Some(n.device_code))?;
            let id: i64 = c.query_row(
                "INSERT INTO accidents (project_id, elevator_id, on_date, caused_by_maintenance, summary, recorded_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                params![n.project_id, eid, n.on, n.caused_by_maintenance, n.summary, by],
                |r| r.get(0),
            )?;
            by_id::<Accident>(c, id)?.ok_or_else(|| StoreError::Transient("accident vanished".into()))
        })
        .await
    }

    async fn accident(&self, id: i64) -> Result<Option<Accident>, StoreError> {
        self.record(id).await
    }

    async fn accidents(&self, f: &RecordFilter) -> Result<Vec<Accident>, StoreError> {
        self.records(f).await
    }

    async fn add_rectification_order(
        &self,
        n: &NewRectificationOrder,
        by: &str,
    ) -> Result<RectificationOrder, StoreError> {
        n.validate()?;
        let (n, by) = (n.clone(), by.to_owned());
        self.write(move |c| {
            project_elevator(c, &n.project_id, None)?;
            if let Some(i) = n.inspection_id {
                let p: Option<String> =
                    c.query_row("SELECT project_id FROM inspections WHERE id = ?1", [i], |r| r.get(0)).optional()?;
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
                if !exists(c, "SELECT 1 FROM findings WHERE id = ?1", [f])? {
                    return Err(StoreError::Permanent(format!("finding_id: finding {f} does not exist")));
                }
            }
            let id: i64 = c.query_row(
                "INSERT INTO rectification_orders (project_id, issued_on, deadline, reason, inspection_id, finding_id, \
                 recorded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                params![n.project_id, n.issued_on, n.deadline, n.reason, n.inspection_id, n.finding_id, by],
                |r| r.get(0),
            )?;
            by_id::<RectificationOrder>(c, id)?.ok_or_else(|| StoreError::Transient("order vanished".into()))
        })
        .await
    }

    async fn rectification_order(&self, id: i64) -> Result<Option<RectificationOrder>, StoreError> {
        self.record(id).await
    }

    async fn rectification_orders(&self, f: &RecordFilter) -> Result<Vec<RectificationOrder>, StoreError> {
        self.records(f).await
    }

    async fn complete_rectification(
        &self,
        id: i64,
        on: NaiveDate,
        by: &str,
    ) -> Result<Option<RectificationOrder>, StoreError> {
        let by = by.to_owned();
        self.write(move |c| {
            let issued: Option<NaiveDate> = c
                .query_row("SELECT issued_on FROM rectification_orders WHERE id = ?1", [id], |r| r.get(0))
                .optional()?;
            let Some(issued) = issued else { return Ok(None) };
            check_completion(issued, on)?;
            c.execute(
                "UPDATE rectification_orders SET completed_on = ?2, completed_by = ?3 WHERE id = ?1",
                params![id, on, by],
            )?;
            by_id(c, id)
        })
        .await
    }

    async fn put_firm_grade(&self, firm_id: &str, g: &NewFirmGrade, by: &str) -> Result<(FirmGrade, bool), StoreError> {
        g.validate()?;
        let (firm_id, g, by) = (firm_id.to_owned(), *g, by.to_owned());
        self.write(move |c| {
            if !exists(c, "SELECT 1 FROM firms WHERE id = ?1", [&firm_id])? {
                return Err(StoreError::NotFound(format!("firm {firm_id} does not exist")));
            }
            let grade = g.grade.as_str();
            let created =
                !exists(c, "SELECT 1 FROM firm_grades WHERE firm_id = ?1 AND year = ?2", params![firm_id, g.year])?;
            let row = c.query_row(
                &format!(
                    "INSERT INTO firm_grades (firm_id, year, grade, self_declared, recorded_by) VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (firm_id, year) DO UPDATE SET grade = excluded.grade, \
                     self_declared = excluded.self_declared, recorded_by = excluded.recorded_by, recorded_at = {NOW} \
                     RETURNING {GRADE_COLUMNS}"
                ),
                params![firm_id, g.year, grade, g.self_declared, by],
                |r| Ok(grade_of(r)),
            )??;
            let latest: i32 = c.query_row("SELECT max(year) FROM firm_grades WHERE firm_id = ?1", [&firm_id], |r| r.get(0))?;
            if latest == g.year {
                c.execute(&format!("UPDATE firms SET grade = ?2, updated_at = {NOW} WHERE id = ?1"), params![firm_id, grade])?;
            }
            Ok((row, created))
        })
        .await
    }

    async fn firm_grades(&self, firm_id: &str) -> Result<Option<Vec<FirmGrade>>, StoreError> {
        let firm_id = firm_id.to_owned();
        self.read(move |c| {
            if !exists(c, "SELECT 1 FROM firms WHERE id = ?1", [&firm_id])? {
                return Ok(None);
            }
            let mut st =
                c.prepare(&format!("SELECT {GRADE_COLUMNS} FROM firm_grades WHERE firm_id = ?1 ORDER BY year"))?;
            let mut rows = st.query([&firm_id])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(grade_of(r)?);
            }
            Ok(Some(out))
        })
        .await
    }
}
