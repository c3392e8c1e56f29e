//! What firms and regulators record (api-v1.md "What firms record";
//! MISSION.md "The pilot rules").
//!
//! Firms (or regulators) correct a fault's cause, report a rescuer's arrival
//! and record maintenance visits; corrections and arrivals change the
//! incident record and its rollup contribution in ONE transaction, with the
//! incident row locked as the ingest path locks it, so the KPIs follow at
//! once and concurrent ingest never loses an update. Regulators record
//! complaints, inspections and spot checks, accidents, rectification orders
//! and the firms' yearly grades; the rule engine reads them.
//!
//! Input structs carry a `validate` method shared with the HTTP API (which
//! answers 400 with its message); the store runs it again and refuses with
//! [`StoreError::Permanent`].

use crate::port::*;
use crate::records::*;
use async_trait::async_trait;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use liftwatch_core::incident::{contribution_delta, EntrapmentRecord, FaultRecord, IncidentError};
use liftwatch_core::protocol::{Cause, DeviceCode, Timestamp, MICROS_PER_MINUTE};
use liftwatch_core::rollup::DayRollup;
use tokio_postgres::GenericClient;

use crate::postgres::{add_rollups, dt, entrapment_from_row, fault_from_row, ts, FaultUpdate};
use crate::{PgStore, StoreError};

fn invalid(r: Result<(), String>) -> Result<(), StoreError> {
    r.map_err(StoreError::Permanent)
}

fn incident_error(e: IncidentError) -> StoreError {
    match e {
        IncidentError::UnknownFault(_) | IncidentError::UnknownEntrapment(_) => StoreError::NotFound(e.to_string()),
        IncidentError::NoReason => StoreError::Permanent(e.to_string()),
    }
}

/// The first instant of a local day in `tz`.
pub(crate) fn day_start(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let midnight = d.and_time(chrono::NaiveTime::MIN);
    match tz.from_local_datetime(&midnight).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // A zone that skips midnight: the day starts an hour later at most.
        None => tz
            .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
            .map_or_else(|| Utc.from_utc_datetime(&midnight), |t| t.with_timezone(&Utc)),
    }
}

fn client(c: &deadpool_postgres::Object) -> &tokio_postgres::Client {
    c
}

async fn elevator_id<C: GenericClient>(c: &C, device: DeviceCode) -> Result<i32, StoreError> {
    c.query_opt("SELECT id FROM elevators WHERE device_code = $1", &[&device.as_str()])
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| StoreError::NotFound(format!("elevator {device} is not registered")))
}

const FAULT_COLS: &str = "fault_id, start_ts, start_seq, code, stops_service, reported_cause, cleared_at, corrections";

fn fault_view(device: &str, r: &tokio_postgres::Row) -> Result<Option<FaultView>, StoreError> {
    let rec = fault_from_row(r)?;
    let (Some(start), Some(cause), Some(original_cause)) = (rec.start.as_ref(), rec.cause(), rec.original_cause())
    else {
        return Ok(None);
    };
    Ok(Some(FaultView {
        device_code: device.to_owned(),
        fault_id: r.get("fault_id"),
        code: start.code.as_str().to_owned(),
        started_at: start.ts,
        cleared_at: rec.cleared_at,
        stops_service: start.stops_service,
        cause,
        original_cause,
        corrections: rec.corrections,
    }))
}

fn unknown_fault(device: DeviceCode, fault_id: &str) -> StoreError {
    StoreError::NotFound(format!("fault {fault_id} of elevator {device} has not been reported by the box"))
}

#[async_trait]
impl FirmRecords for PgStore {
    async fn correct_fault_cause(
        &self,
        device: DeviceCode,
        fault_id: &str,
        cause: Cause,
        by: &str,
        reason: &str,
        at: Timestamp,
    ) -> Result<FaultView, StoreError> {
        invalid(check_incident_id("fault_id", fault_id))?;
        invalid(check_text("reason", reason, MAX_TEXT_CHARS, true))?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let eid = elevator_id(&*tx, device).await?;
        let row = tx
            .query_opt(
                &format!("SELECT {FAULT_COLS} FROM faults WHERE elevator_id = $1 AND fault_id = $2 FOR UPDATE"),
                &[&eid, &fault_id],
            )
            .await?
            .ok_or_else(|| unknown_fault(device, fault_id))?;
        let mut rec: FaultRecord = fault_from_row(&row)?;
        // A repeated PUT (the latest correction already says so) records
        // nothing. A first correction equal to the box's cause is kept: it
        // pins the cause even if an earlier start with another code arrives.
        if rec.corrections.last().map(|c| c.to) != Some(cause) {
            let old = rec.contribution(self.tz);
            rec.correct(fault_id, cause, by, reason, at).map_err(incident_error)?;
            let mut rollups: BTreeMap<(i32, NaiveDate), DayRollup> = BTreeMap::new();
            for (day, d) in contribution_delta(old, rec.contribution(self.tz)) {
                *rollups.entry((eid, day)).or_default() += &d;
            }
            let mut upd = FaultUpdate::default();
            upd.push((eid, fault_id.to_owned()), &rec);
            upd.write(&*tx).await?;
            add_rollups(&*tx, &rollups).await?;
        }
        let row = tx
            .query_one(
                &format!("SELECT {FAULT_COLS} FROM faults WHERE elevator_id = $1 AND fault_id = $2"),
                &[&eid, &fault_id],
            )
            .await?;
        let view = fault_view(device.as_str(), &row)?.ok_or_else(|| unknown_fault(device, fault_id))?;
        tx.commit().await?;
        Ok(view)
    }

    async fn fault(&self, device: DeviceCode, fault_id: &str) -> Result<Option<FaultView>, StoreError> {
        let c = self.pool.get().await?;
        let eid = elevator_id(client(&c), device).await?;
        let row = c
            .query_opt(
                &format!("SELECT {FAULT_COLS} FROM faults WHERE elevator_id = $1 AND fault_id = $2"),
                &[&eid, &fault_id],
            )
            .await?;
        match row {
            Some(r) => fault_view(device.as_str(), &r),
            None => Ok(None),
        }
    }

    async fn faults(
        &self,
        device: DeviceCode,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<FaultView>, StoreError> {
        let c = self.pool.get().await?;
        let eid = elevator_id(client(&c), device).await?;
        let lo = from.map(|d| day_start(self.tz, d));
        let hi = to.and_then(|d| d.succ_opt()).map(|d| day_start(self.tz, d));
        let rows = c
            .query(
                &format!(
                    "SELECT {FAULT_COLS} FROM faults WHERE elevator_id = $1 AND start_ts IS NOT NULL \
                     AND ($2::timestamptz IS NULL OR start_ts >= $2) AND ($3::timestamptz IS NULL OR start_ts < $3) \
                     ORDER BY start_ts DESC, fault_id LIMIT $4 OFFSET $5"
                ),
                &[&eid, &lo, &hi, &limit, &offset],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            if let Some(v) = fault_view(device.as_str(), r)? {
                out.push(v);
            }
        }
        Ok(out)
    }

    async fn report_arrival(
        &self,
        device: DeviceCode,
        incident_id: &str,
        at: Timestamp,
    ) -> Result<EntrapmentView, StoreError> {
        self.report_arrival_by(device, incident_id, at, "api").await
    }

    async fn report_arrival_by(
        &self,
        device: DeviceCode,
        incident_id: &str,
        at: Timestamp,
        by: &str,
    ) -> Result<EntrapmentView, StoreError> {
        invalid(check_incident_id("incident_id", incident_id))?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let eid = elevator_id(&*tx, device).await?;
        tx.execute(
            "INSERT INTO entrapments (elevator_id, incident_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&eid, &incident_id],
        )
        .await?;
        let row = tx
            .query_one(
                &format!(
                    "SELECT {ENTRAPMENT_COLS} FROM entrapments WHERE elevator_id = $1 AND incident_id = $2 FOR UPDATE"
                ),
                &[&eid, &incident_id],
            )
            .await?;
        let mut rec = entrapment_from_row(&row);
        let mut reported_by: Option<String> = row.get("arrival_reported_by");
        let before = rec.arrived_at;
        let old = rec.contribution(self.tz);
        rec.report_arrival(at);
        if rec.arrived_at != before {
            let mut rollups: BTreeMap<(i32, NaiveDate), DayRollup> = BTreeMap::new();
            for (day, d) in contribution_delta(old, rec.contribution(self.tz)) {
                *rollups.entry((eid, day)).or_default() += &d;
            }
            reported_by = Some(by.to_owned());
            tx.execute(
                "UPDATE entrapments SET arrived_at = $3, arrival_reported_by = $4 WHERE elevator_id = $1 AND incident_id = $2",
                &[&eid, &incident_id, &rec.arrived_at.map(dt), &by],
            )
            .await?;
            add_rollups(&*tx, &rollups).await?;
        }
        tx.commit().await?;
        let mut view = entrapment_view(device.as_str(), incident_id, &rec);
        view.arrival_reported_by = reported_by;
        Ok(view)
    }

    async fn entrapment(&self, device: DeviceCode, incident_id: &str) -> Result<Option<EntrapmentView>, StoreError> {
        let c = self.pool.get().await?;
        let eid = elevator_id(client(&c), device).await?;
        let row = c
            .query_opt(
                &format!("SELECT {ENTRAPMENT_COLS} FROM entrapments WHERE elevator_id = $1 AND incident_id = $2"),
                &[&eid, &incident_id],
            )
            .await?;
        Ok(row.map(|r| {
            let mut view = entrapment_view(device.as_str(), incident_id, &entrapment_from_row(&r));
            view.arrival_reported_by = r.get("arrival_reported_by");
            view
        }))
    }

    async fn add_visit(&self, device: DeviceCode, v: &NewVisit, by: &str) -> Result<Visit, StoreError> {
        invalid(v.validate())?;
        let c = self.pool.get().await?;
        let eid = elevator_id(client(&c), device).await?;
        let r = c
            .query_one(
                "INSERT INTO visits (elevator_id, kind, started_at, ended_at, technician, recorded_by) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 RETURNING id, kind, started_at, ended_at, technician, recorded_by, recorded_at",
                &[&eid, &v.kind, &dt(v.started_at), &dt(v.ended_at), &v.technician, &by],
            )
            .await?;
        Ok(visit_of(device.as_str(), &r))
    }

    async fn visits(
        &self,
        device: DeviceCode,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Visit>, StoreError> {
        let c = self.pool.get().await?;
        let eid = elevator_id(client(&c), device).await?;
        let lo = from.map(|d| day_start(self.tz, d));
        let hi = to.and_then(|d| d.succ_opt()).map(|d| day_start(self.tz, d));
        let rows = c
            .query(
                "SELECT id, kind, started_at, ended_at, technician, recorded_by, recorded_at FROM visits \
                 WHERE elevator_id = $1 AND ($2::timestamptz IS NULL OR started_at >= $2) \
                 AND ($3::timestamptz IS NULL OR started_at < $3) ORDER BY started_at, id LIMIT $4 OFFSET $5",
                &[&eid, &lo, &hi, &limit, &offset],
            )
            .await?;
        Ok(rows.iter().map(|r| visit_of(device.as_str(), r)).collect())
    }
}

const ENTRAPMENT_COLS: &str =
    "incident_id, alarm_ts, alarm_seq, fault_id, arrived_at, released_at, arrival_reported_by";

fn entrapment_view(device: &str, incident_id: &str, rec: &EntrapmentRecord) -> EntrapmentView {
    let rescue_minutes = match (&rec.alarm, rec.arrived_at) {
        (Some(a), Some(t)) => {
            let m = (t.0 - a.ts.0).max(0) as f64 / MICROS_PER_MINUTE as f64;
            Some((m * 100.0).round() / 100.0)
        }
        _ => None,
    };
    EntrapmentView {
        device_code: device.to_owned(),
        incident_id: incident_id.to_owned(),
        alarm_at: rec.alarm.as_ref().map(|a| a.ts),
        arrived_at: rec.arrived_at,
        released_at: rec.released_at,
        fault_id: rec.alarm.as_ref().and_then(|a| a.fault_id.as_deref().map(str::to_owned)),
        rescue_minutes,
        arrival_reported_by: None,
    }
}

fn visit_of(device: &str, r: &tokio_postgres::Row) -> Visit {
    Visit {
        id: r.get(0),
        device_code: device.to_owned(),
        kind: r.get(1),
        started_at: ts(r.get(2)),
        ended_at: ts(r.get(3)),
        technician: r.get(4),
        recorded_by: r.get(5),
        recorded_at: ts(r.get(6)),
    }
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

fn complaint_of(r: &tokio_postgres::Row) -> Complaint {
    Complaint {
        id: r.get(0),
        project_id: r.get(1),
        firm_id: r.get(2),
        device_code: r.get(3),
        received_on: r.get(4),
        safety_or_quality: r.get(5),
        verified: r.get(6),
        maintenance_quality_caused: r.get(7),
        summary: r.get(8),
        recorded_by: r.get(9),
        recorded_at: ts(r.get(10)),
    }
}

/// The `WHERE` of a filtered list: `$1` project, `$2` firm, `$3` limit, `$4` offset.
const FILTER: &str = "WHERE ($1::text IS NULL OR x.project_id = $1) AND ($2::text IS NULL OR p.firm_id = $2)";

#[async_trait]
impl RegulatorRecords for PgStore {
    async fn add_complaint(&self, n: &NewComplaint, by: &str) -> Result<Complaint, StoreError> {
        invalid(n.validate())?;
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
                    &n.safety_or_quality,
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
        Ok(complaint_of(&r))
    }

    async fn complaint(&self, id: i64) -> Result<Option<Complaint>, StoreError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt(&format!("{COMPLAINT_SELECT} WHERE x.id = $1"), &[&id]).await?.as_ref().map(complaint_of))
    }

    async fn complaints(&self, f: &RecordFilter) -> Result<Vec<Complaint>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!("{COMPLAINT_SELECT} {FILTER} ORDER BY x.received_on DESC, x.id DESC LIMIT $3 OFFSET $4");
        let rows = c.query(&sql, &[&f.project, &f.firm, &f.limit, &f.offset]).await?;
        Ok(rows.iter().map(complaint_of).collect())
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
        invalid(n.validate())?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let eid = project_elevator(&*tx, &n.project_id, n.device_code).await?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO inspections (project_id, elevator_id, kind, on_date, hazard_found, passed, summary, recorded_by) \
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id",
                &[&n.project_id, &eid, &n.kind, &n.on, &n.hazard_found, &n.passed, &n.summary, &by],
            )
            .await?
            .get(0);
        let r = tx.query_one(&format!("{INSPECTION_SELECT} WHERE x.id = $1"), &[&id]).await?;
        tx.commit().await?;
        Ok(inspection_of(&r))
    }

    async fn inspection(&self, id: i64) -> Result<Option<Inspection>, StoreError> {
        let c = self.pool.get().await?;
        Ok(c.query_opt(&format!("{INSPECTION_SELECT} WHERE x.id = $1"), &[&id]).await?.as_ref().map(inspection_of))
    }

    async fn inspections(&self, f: &RecordFilter) -> Result<Vec<Inspection>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!("{INSPECTION_SELECT} {FILTER} ORDER BY x.on_date DESC, x.id DESC LIMIT $3 OFFSET $4");
        let rows = c.query(&sql, &[&f.project, &f.firm, &f.limit, &f.offset]).await?;
        Ok(rows.iter().map(inspection_of).collect())
    }

    async fn add_accident(&self, n: &NewAccident, by: &str) -> Result<Accident, StoreError> {
        invalid(n.validate())?;
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
        Ok(c.query_opt(&format!("{ACCIDENT_SELECT} WHERE x.id = $1"), &[&id]).await?.as_ref().map(accident_of))
    }

    async fn accidents(&self, f: &RecordFilter) -> Result<Vec<Accident>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!("{ACCIDENT_SELECT} {FILTER} ORDER BY x.on_date DESC, x.id DESC LIMIT $3 OFFSET $4");
        let rows = c.query(&sql, &[&f.project, &f.firm, &f.limit, &f.offset]).await?;
        Ok(rows.iter().map(accident_of).collect())
    }

    async fn add_rectification_order(
        &self,
        n: &NewRectificationOrder,
        by: &str,
    ) -> Result<RectificationOrder, StoreError> {
        invalid(n.validate())?;
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
        Ok(c.query_opt(&format!("{ORDER_SELECT} WHERE x.id = $1"), &[&id]).await?.as_ref().map(order_of))
    }

    async fn rectification_orders(&self, f: &RecordFilter) -> Result<Vec<RectificationOrder>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!("{ORDER_SELECT} {FILTER} ORDER BY x.issued_on DESC, x.id DESC LIMIT $3 OFFSET $4");
        let rows = c.query(&sql, &[&f.project, &f.firm, &f.limit, &f.offset]).await?;
        Ok(rows.iter().map(order_of).collect())
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
        let issued: NaiveDate = r.get(0);
        if on < issued {
            return Err(StoreError::Permanent(format!("completed_on {on} is before the order was issued on {issued}")));
        }
        c.execute(
            "UPDATE rectification_orders SET completed_on = $2, completed_by = $3 WHERE id = $1",
            &[&id, &on, &by],
        )
        .await?;
        drop(c);
        self.rectification_order(id).await
    }

    async fn put_firm_grade(
        &self,
        firm_id: &str,
        year: i32,
        grade: &str,
        self_declared: Option<bool>,
        by: &str,
    ) -> Result<(FirmGrade, bool), StoreError> {
        invalid(validate_grade(year, grade, self_declared))?;
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
                &[&firm_id, &year, &grade, &self_declared, &by],
            )
            .await?;
        let latest: i32 =
            tx.query_one("SELECT max(year) FROM firm_grades WHERE firm_id = $1", &[&firm_id]).await?.get(0);
        if latest == year {
            tx.execute("UPDATE firms SET grade = $2, updated_at = now() WHERE id = $1", &[&firm_id, &grade]).await?;
        }
        tx.commit().await?;
        Ok((grade_of(&r), r.get(6)))
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
        Ok(Some(rows.iter().map(grade_of).collect()))
    }
}

const INSPECTION_SELECT: &str = "SELECT x.id, x.project_id, p.firm_id, e.device_code, x.kind, x.on_date, \
     x.hazard_found, x.passed, x.summary, x.recorded_by, x.recorded_at \
     FROM inspections x JOIN projects p ON p.id = x.project_id LEFT JOIN elevators e ON e.id = x.elevator_id";

fn inspection_of(r: &tokio_postgres::Row) -> Inspection {
    Inspection {
        id: r.get(0),
        project_id: r.get(1),
        firm_id: r.get(2),
        device_code: r.get(3),
        kind: r.get(4),
        on: r.get(5),
        hazard_found: r.get(6),
        passed: r.get(7),
        summary: r.get(8),
        recorded_by: r.get(9),
        recorded_at: ts(r.get(10)),
    }
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

fn grade_of(r: &tokio_postgres::Row) -> FirmGrade {
    FirmGrade {
        firm_id: r.get(0),
        year: r.get(1),
        grade: r.get(2),
        self_declared: r.get(3),
        recorded_by: r.get(4),
        recorded_at: ts(r.get(5)),
    }
}
