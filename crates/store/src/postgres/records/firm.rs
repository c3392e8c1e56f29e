//! What firms record, in PostgreSQL: fault-cause corrections, rescuer
//! arrivals and maintenance visits. Corrections and arrivals change the
//! incident record and its rollup contribution in ONE transaction, with the
//! incident row locked as the ingest path locks it, so the KPIs follow at
//! once and concurrent ingest never loses an update. What a correction does
//! is the core's decision ([`liftwatch_core::pilot::decide_correction`]).
//!
//! Every call is scoped ([`Scoped`]): a firm's reads filter on the days it
//! reads, and its writes check the record's day in the write's transaction,
//! under the `FOR SHARE` lock of the elevator's membership rows.

use crate::port::*;
use crate::records::{EntrapmentView, FaultView, Scope};
use async_trait::async_trait;

use chrono::NaiveDate;
use liftwatch_core::incident::{EntrapmentRecord, FaultRecord, Incident, IncidentError};
use liftwatch_core::protocol::{Cause, DeviceCode, Timestamp};
use liftwatch_core::records::{NewVisit, Visit};
use liftwatch_core::validation::{check_incident_id, check_text, MAX_TEXT_CHARS};

use super::{client, day_start, Scoped};
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

fn unknown_entrapment(device: DeviceCode, incident_id: &str) -> StoreError {
    StoreError::NotFound(format!("entrapment {incident_id} of elevator {device} is not known"))
}

#[async_trait]
impl FirmRecords for PgStore {
    #[allow(clippy::too_many_arguments)]
    async fn correct_fault_cause(
        &self,
        scope: Scope<'_>,
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
        // Before any row lock: the change adds deltas to the project sums.
        crate::postgres::project_sums::hold_shared(&*tx).await?;
        let el = Scoped::load(&*tx, scope, device, true).await?;
        let eid = el.eid;
        let tz = self.tz;
        // The core decides (pilot::decide_correction, through
        // FaultRecord::correct): the history always grows (or the request
        // is refused); the rollups follow the contribution. One incident-change path
        // (change_one) with ingest and arrivals. Whose the fault is, is
        // decided on the locked row (its start day can move).
        let (outcome, _) = change_one::<FaultRecord, _>(&tx, tz, (eid, fault_id), false, by, |rec| {
            match rec.local_start_day(tz) {
                Some(day) if el.reads(day) => el.check_write(day)?,
                _ => return Err(unknown_fault(device, fault_id)),
            }
            rec.correct(fault_id, cause, by, reason, at).map_err(incident_error)
        })
        .await?
        .ok_or_else(|| unknown_fault(device, fault_id))?;
        // Refused: the transaction rolls back (nothing written).
        outcome?;
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

    async fn fault(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        fault_id: &str,
    ) -> Result<Option<FaultView>, StoreError> {
        let c = self.pool.get().await?;
        let el = Scoped::load(client(&c), scope, device, false).await?;
        let row = c
            .query_opt(
                &format!("SELECT {FAULT_COLS}, start_day FROM faults WHERE elevator_id = $1 AND fault_id = $2"),
                &[&el.eid, &fault_id],
            )
            .await?;
        match row {
            Some(r) if r.get::<_, Option<NaiveDate>>("start_day").is_some_and(|d| el.reads(d)) => {
                fault_view(device.as_str(), &r)
            }
            _ => Ok(None),
        }
    }

    async fn faults(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<FaultView>, StoreError> {
        let c = self.pool.get().await?;
        let el = Scoped::load(client(&c), scope, device, false).await?;
        let lo = from.map(|d| day_start(self.tz, d));
        let hi = to.and_then(|d| d.succ_opt()).map(|d| day_start(self.tz, d));
        let (first, last) = el.read_days();
        let rows = c
            .query(
                &format!(
                    "SELECT {FAULT_COLS} FROM faults WHERE elevator_id = $1 AND start_ts IS NOT NULL \
                     AND ($2::timestamptz IS NULL OR start_ts >= $2) AND ($3::timestamptz IS NULL OR start_ts < $3) \
                     AND EXISTS (SELECT 1 FROM unnest($6::date[], $7::date[]) AS s(first, last) \
                                 WHERE start_day BETWEEN s.first AND s.last) \
                     ORDER BY start_ts DESC, fault_id LIMIT $4 OFFSET $5"
                ),
                &[&el.eid, &lo, &hi, &limit, &offset, &first, &last],
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
        self.report_arrival_by(Scope::All, device, incident_id, at, "api").await
    }

    async fn report_arrival_by(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        incident_id: &str,
        at: Timestamp,
        by: &str,
    ) -> Result<EntrapmentView, StoreError> {
        check_incident_id("incident_id", incident_id)?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        // Before any row lock: the change adds deltas to the project sums.
        crate::postgres::project_sums::hold_shared(&*tx).await?;
        let el = Scoped::load(&*tx, scope, device, true).await?;
        let tz = self.tz;
        // The entrapment's day (if anything of it is known) and the
        // arrival's day must both be the caller's to write.
        let (before, rec) = change_one::<EntrapmentRecord, _>(&tx, tz, (el.eid, incident_id), true, by, |rec| {
            if let Some(day) = rec.local_day(tz) {
                if !el.reads(day) {
                    return Err(unknown_entrapment(device, incident_id));
                }
                el.check_write(day)?;
            }
            el.check_write(at.local_day(tz))?;
            let before = rec.arrived_at;
            rec.report_arrival(at);
            Ok(before)
        })
        .await?
        .ok_or_else(|| StoreError::Permanent("entrapment row vanished inside its transaction".into()))?;
        // Refused: the transaction rolls back (nor is the row created).
        let before = before?;
        let reported_by: Option<String> = if rec.arrived_at != before {
            Some(by.to_owned())
        } else {
            tx.query_one(
                "SELECT arrival_reported_by FROM entrapments WHERE elevator_id = $1 AND incident_id = $2",
                &[&el.eid, &incident_id],
            )
            .await?
            .get(0)
        };
        tx.commit().await?;
        let mut view = EntrapmentView::of(device.as_str(), incident_id, &rec);
        view.arrival_reported_by = reported_by;
        Ok(view)
    }

    async fn entrapment(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        incident_id: &str,
    ) -> Result<Option<EntrapmentView>, StoreError> {
        let c = self.pool.get().await?;
        let el = Scoped::load(client(&c), scope, device, false).await?;
        let row = c
            .query_opt(
                &format!("SELECT {ENTRAPMENT_COLS} FROM entrapments WHERE elevator_id = $1 AND incident_id = $2"),
                &[&el.eid, &incident_id],
            )
            .await?;
        Ok(row.and_then(|r| {
            let rec = entrapment_from_row(&r);
            rec.local_day(self.tz).filter(|d| el.reads(*d))?;
            let mut view = EntrapmentView::of(device.as_str(), incident_id, &rec);
            view.arrival_reported_by = r.get("arrival_reported_by");
            Some(view)
        }))
    }

    async fn add_visit(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        v: &NewVisit,
        by: &str,
    ) -> Result<Visit, StoreError> {
        v.validate()?;
        let mut c = self.pool.get().await?;
        let tx = c.transaction().await?;
        let el = Scoped::load(&*tx, scope, device, true).await?;
        el.check_write(v.started_at.local_day(self.tz))?;
        el.check_write(v.ended_at.local_day(self.tz))?;
        let r = tx
            .query_one(
                "INSERT INTO visits (elevator_id, kind, started_at, ended_at, technician, recorded_by) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 RETURNING id, kind, started_at, ended_at, technician, recorded_by, recorded_at",
                &[&el.eid, &v.kind.as_str(), &dt(v.started_at), &dt(v.ended_at), &v.technician, &by],
            )
            .await?;
        let visit = visit_of(device.as_str(), &r)?;
        tx.commit().await?;
        Ok(visit)
    }

    async fn visits(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Visit>, StoreError> {
        let c = self.pool.get().await?;
        let el = Scoped::load(client(&c), scope, device, false).await?;
        let lo = from.map(|d| day_start(self.tz, d));
        let hi = to.and_then(|d| d.succ_opt()).map(|d| day_start(self.tz, d));
        // The spans of days read, as instants (visits keep no local day).
        let (first, last) = el.read_days();
        let first: Vec<_> = first.into_iter().map(|d| day_start(self.tz, d)).collect();
        let end: Vec<_> = last.into_iter().map(|d| day_start(self.tz, d.succ_opt().unwrap_or(d))).collect();
        let rows = c
            .query(
                "SELECT id, kind, started_at, ended_at, technician, recorded_by, recorded_at FROM visits \
                 WHERE elevator_id = $1 AND ($2::timestamptz IS NULL OR started_at >= $2) \
                 AND ($3::timestamptz IS NULL OR started_at < $3) \
                 AND EXISTS (SELECT 1 FROM unnest($6::timestamptz[], $7::timestamptz[]) AS s(first, stop) \
                             WHERE started_at >= s.first AND started_at < s.stop) \
                 ORDER BY started_at, id LIMIT $4 OFFSET $5",
                &[&el.eid, &lo, &hi, &limit, &offset, &first, &end],
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
