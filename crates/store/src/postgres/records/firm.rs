//! What firms record, in PostgreSQL: fault-cause corrections, rescuer
//! arrivals and maintenance visits. Corrections and arrivals change the
//! incident record and its rollup contribution in ONE transaction, with the
//! incident row locked as the ingest path locks it, so the KPIs follow at
//! once and concurrent ingest never loses an update. What a correction does
//! is the core's decision ([`liftwatch_core::pilot::decide_correction`]).

use crate::port::*;
use crate::records::{EntrapmentView, FaultView};
use async_trait::async_trait;

use chrono::NaiveDate;
use liftwatch_core::incident::{EntrapmentRecord, FaultRecord, IncidentError};
use liftwatch_core::protocol::{Cause, DeviceCode, Timestamp};
use liftwatch_core::records::{NewVisit, Visit};
use liftwatch_core::validation::{check_incident_id, check_text, MAX_TEXT_CHARS};

use super::{client, day_start, elevator_id};
use crate::postgres::{change_one, dt, entrapment_from_row, fault_from_row, ts};
use crate::{PgStore, StoreError};

fn incident_error(e: IncidentError) -> StoreError {
    match e {
        IncidentError::UnknownFault(_) | IncidentError::UnknownEntrapment(_) => StoreError::NotFound(e.to_string()),
        IncidentError::NoReason => StoreError::Permanent(e.to_string()),
        IncidentError::RegulatorCorrectionStands(_) => StoreError::Conflict(e.to_string()),
    }
}

const FAULT_COLS: &str =
    "fault_id, start_ts, start_seq, code, stops_service, reported_cause, cleared_at, corrections, clearings";

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
        check_incident_id("fault_id", fault_id)?;
        check_text("reason", reason, MAX_TEXT_CHARS, true)?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let eid = elevator_id(&*tx, device).await?;
        // The core decides (pilot::decide_correction, through
        // FaultRecord::correct): the history always grows (or the request
        // is refused); the rollups follow the contribution. One incident-change path
        // (change_one) with ingest and arrivals.
        let (outcome, _) = change_one::<FaultRecord, _>(&tx, self.tz, (eid, fault_id), false, by, |rec| {
            rec.correct(fault_id, cause, by, reason, at)
        })
        .await?
        .ok_or_else(|| unknown_fault(device, fault_id))?;
        outcome.map_err(incident_error)?;
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
        check_incident_id("incident_id", incident_id)?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let eid = elevator_id(&*tx, device).await?;
        let (before, rec) = change_one::<EntrapmentRecord, _>(&tx, self.tz, (eid, incident_id), true, by, |rec| {
            let before = rec.arrived_at;
            rec.report_arrival(at);
            before
        })
        .await?
        .ok_or_else(|| StoreError::Permanent("entrapment row vanished inside its transaction".into()))?;
        let reported_by: Option<String> = if rec.arrived_at != before {
            Some(by.to_owned())
        } else {
            tx.query_one(
                "SELECT arrival_reported_by FROM entrapments WHERE elevator_id = $1 AND incident_id = $2",
                &[&eid, &incident_id],
            )
            .await?
            .get(0)
        };
        tx.commit().await?;
        let mut view = EntrapmentView::of(device.as_str(), incident_id, &rec);
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
            let mut view = EntrapmentView::of(device.as_str(), incident_id, &entrapment_from_row(&r));
            view.arrival_reported_by = r.get("arrival_reported_by");
            view
        }))
    }

    async fn add_visit(&self, device: DeviceCode, v: &NewVisit, by: &str) -> Result<Visit, StoreError> {
        v.validate()?;
        let c = self.pool.get().await?;
        let eid = elevator_id(client(&c), device).await?;
        let r = c
            .query_one(
                "INSERT INTO visits (elevator_id, kind, started_at, ended_at, technician, recorded_by) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 RETURNING id, kind, started_at, ended_at, technician, recorded_by, recorded_at",
                &[&eid, &v.kind.as_str(), &dt(v.started_at), &dt(v.ended_at), &v.technician, &by],
            )
            .await?;
        visit_of(device.as_str(), &r)
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
        rows.iter().map(|r| visit_of(device.as_str(), r)).collect()
    }
}

const ENTRAPMENT_COLS: &str =
    "incident_id, alarm_ts, alarm_seq, fault_id, arrived_at, released_at, arrival_reported_by, arrivals";

pub(crate) fn visit_of(device: &str, r: &tokio_postgres::Row) -> Result<Visit, StoreError> {
    Ok(Visit {
        id: r.get(0),
        device_code: device.to_owned(),
        kind: r.get::<_, &str>(1).parse().map_err(|e| StoreError::Permanent(format!("stored visit: {e}")))?,
        started_at: ts(r.get(2)),
        ended_at: ts(r.get(3)),
        technician: r.get(4),
        recorded_by: r.get(5),
        recorded_at: ts(r.get(6)),
    })
}
