//! What firms record, in SQLite: fault-cause corrections, rescuer arrivals
//! and maintenance visits. Corrections and arrivals change the incident
//! record and its rollup contribution in ONE write transaction (the writer
//! thread orders them with ingest), so the KPIs follow at once. What a
//! correction does is the core's decision
//! ([`liftwatch_core::pilot::decide_correction`]).

use async_trait::async_trait;
use chrono::NaiveDate;
use liftwatch_core::incident::{EntrapmentRecord, FaultRecord, Incident, IncidentError};
use liftwatch_core::protocol::{Cause, DeviceCode, Timestamp};
use liftwatch_core::records::{NewVisit, Visit};
use liftwatch_core::validation::{check_incident_id, check_text, MAX_TEXT_CHARS};
use rusqlite::{params, OptionalExtension, Row};

use super::{day_start, in_spans, spans_json, OwnedScope, Scoped};
use crate::port::FirmRecords;
use crate::records::{EntrapmentView, FaultView, Scope};
use crate::sqlite::incidents::{change_one, entrapment_from_row, fault_from_row};
use crate::{SqliteStore, StoreError};

fn incident_error(e: IncidentError) -> StoreError {
    match e {
        IncidentError::UnknownFault(_) | IncidentError::UnknownEntrapment(_) => StoreError::NotFound(e.to_string()),
        IncidentError::NoReason => StoreError::Permanent(e.to_string()),
        IncidentError::RegulatorCorrectionStands(_) => StoreError::Conflict(e.to_string()),
    }
}

fn fault_view(device: &str, r: &Row<'_>) -> Result<Option<FaultView>, StoreError> {
    let rec = fault_from_row(r)?;
    let (Some(start), Some(cause), Some(original_cause)) = (rec.start.as_ref(), rec.cause(), rec.original_cause())
    else {
        return Ok(None);
    };
    Ok(Some(FaultView {
        device_code: device.to_owned(),
        fault_id: r.get("fault_id")?,
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

const VISIT_COLUMNS: &str = "id, kind, started_at, ended_at, technician, recorded_by, recorded_at";

/// A visit from a row selected with [`VISIT_COLUMNS`].
pub(crate) fn visit_of(device: &str, r: &Row<'_>) -> Result<Visit, StoreError> {
    Ok(Visit {
        id: r.get(0)?,
        device_code: device.to_owned(),
        kind: r.get::<_, String>(1)?.parse().map_err(|e| StoreError::Permanent(format!("stored visit: {e}")))?,
        started_at: Timestamp(r.get(2)?),
        ended_at: Timestamp(r.get(3)?),
        technician: r.get(4)?,
        recorded_by: r.get(5)?,
        recorded_at: Timestamp(r.get(6)?),
    })
}

#[async_trait]
impl FirmRecords for SqliteStore {
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
        let (scope, fault_id, by, reason, tz) =
            (OwnedScope::of(scope), fault_id.to_owned(), by.to_owned(), reason.to_owned(), self.tz);
        self.write(move |c| {
            let el = Scoped::load(c, scope.get(), device)?;
            let eid = el.eid;
            // The core decides; whose the fault is, is decided on the row
            // as read in this transaction (its start day can move).
            let (outcome, _) = change_one::<FaultRecord, _>(c, tz, (eid, &fault_id), false, &by, |rec| {
                match rec.local_start_day(tz) {
                    Some(day) if el.reads(day) => el.check_write(day)?,
                    _ => return Err(unknown_fault(device, &fault_id)),
                }
                rec.correct(&fault_id, cause, &by, &reason, at).map_err(incident_error)
            })?
            .ok_or_else(|| unknown_fault(device, &fault_id))?;
            // Refused: the transaction rolls back (nothing written).
            outcome?;
            let view = c.query_row(
                "SELECT * FROM faults WHERE elevator_id = ?1 AND fault_id = ?2",
                params![eid, fault_id],
                |r| Ok(fault_view(device.as_str(), r)),
            )??;
            view.ok_or_else(|| unknown_fault(device, &fault_id))
        })
        .await
    }

    async fn fault(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        fault_id: &str,
    ) -> Result<Option<FaultView>, StoreError> {
        let (scope, fault_id) = (OwnedScope::of(scope), fault_id.to_owned());
        self.read(move |c| {
            let el = Scoped::load(c, scope.get(), device)?;
            let mut st = c.prepare_cached("SELECT * FROM faults WHERE elevator_id = ?1 AND fault_id = ?2")?;
            let mut rows = st.query(params![el.eid, fault_id])?;
            match rows.next()? {
                Some(r) if r.get::<_, Option<NaiveDate>>("start_day")?.is_some_and(|d| el.reads(d)) => {
                    fault_view(device.as_str(), r)
                }
                _ => Ok(None),
            }
        })
        .await
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
        let (scope, tz) = (OwnedScope::of(scope), self.tz);
        self.read(move |c| {
            let el = Scoped::load(c, scope.get(), device)?;
            let lo = from.map(|d| day_start(tz, d).timestamp_micros());
            let hi = to.and_then(|d| d.succ_opt()).map(|d| day_start(tz, d).timestamp_micros());
            let mut st = c.prepare(&format!(
                "SELECT * FROM faults WHERE elevator_id = ?1 AND start_ts IS NOT NULL \
                 AND (?2 IS NULL OR start_ts >= ?2) AND (?3 IS NULL OR start_ts < ?3) AND {} \
                 ORDER BY start_ts DESC, fault_id LIMIT ?4 OFFSET ?5",
                in_spans("start_day", "?6")
            ))?;
            let mut rows = st.query(params![el.eid, lo, hi, limit, offset, spans_json(&el.read_days())])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.extend(fault_view(device.as_str(), r)?);
            }
            Ok(out)
        })
        .await
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
        let (scope, incident_id, by, tz) = (OwnedScope::of(scope), incident_id.to_owned(), by.to_owned(), self.tz);
        self.write(move |c| {
            let el = Scoped::load(c, scope.get(), device)?;
            // The entrapment's day (if anything of it is known) and the
            // arrival's day must both be the caller's to write.
            let (before, rec) = change_one::<EntrapmentRecord, _>(c, tz, (el.eid, &incident_id), true, &by, |rec| {
                if let Some(day) = rec.local_day(tz) {
                    if !el.reads(day) {
                        return Err(unknown_entrapment(device, &incident_id));
                    }
                    el.check_write(day)?;
                }
                el.check_write(at.local_day(tz))?;
                let before = rec.arrived_at;
                rec.report_arrival(at);
                Ok(before)
            })?
            .ok_or_else(|| StoreError::Permanent("entrapment row vanished inside its transaction".into()))?;
            // Refused: the transaction rolls back (nor is the row created).
            let before = before?;
            let reported_by: Option<String> = if rec.arrived_at != before {
                Some(by)
            } else {
                c.query_row(
                    "SELECT arrival_reported_by FROM entrapments WHERE elevator_id = ?1 AND incident_id = ?2",
                    params![el.eid, incident_id],
                    |r| r.get(0),
                )?
            };
            let mut view = EntrapmentView::of(device.as_str(), &incident_id, &rec);
            view.arrival_reported_by = reported_by;
            Ok(view)
        })
        .await
    }

    async fn entrapment(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        incident_id: &str,
    ) -> Result<Option<EntrapmentView>, StoreError> {
        let (scope, incident_id, tz) = (OwnedScope::of(scope), incident_id.to_owned(), self.tz);
        self.read(move |c| {
            let el = Scoped::load(c, scope.get(), device)?;
            let row = c
                .query_row(
                    "SELECT * FROM entrapments WHERE elevator_id = ?1 AND incident_id = ?2",
                    params![el.eid, incident_id],
                    |r| Ok((entrapment_from_row(r), r.get::<_, Option<String>>("arrival_reported_by")?)),
                )
                .optional()?;
            let Some((rec, by)) = row else { return Ok(None) };
            let rec = rec?;
            if !rec.local_day(tz).is_some_and(|d| el.reads(d)) {
                return Ok(None);
            }
            let mut view = EntrapmentView::of(device.as_str(), &incident_id, &rec);
            view.arrival_reported_by = by;
            Ok(Some(view))
        })
        .await
    }

    async fn add_visit(
        &self,
        scope: Scope<'_>,
        device: DeviceCode,
        v: &NewVisit,
        by: &str,
    ) -> Result<Visit, StoreError> {
        v.validate()?;
        let (scope, v, by, tz) = (OwnedScope::of(scope), v.clone(), by.to_owned(), self.tz);
        self.write(move |c| {
            let el = Scoped::load(c, scope.get(), device)?;
            el.check_write(v.started_at.local_day(tz))?;
            el.check_write(v.ended_at.local_day(tz))?;
            let r = c.query_row(
                &format!(
                    "INSERT INTO visits (elevator_id, kind, started_at, ended_at, technician, recorded_by) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {VISIT_COLUMNS}"
                ),
                params![el.eid, v.kind.as_str(), v.started_at.0, v.ended_at.0, v.technician, by],
                |r| Ok(visit_of(device.as_str(), r)),
            )??;
            Ok(r)
        })
        .await
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
        let (scope, tz) = (OwnedScope::of(scope), self.tz);
        self.read(move |c| {
            let el = Scoped::load(c, scope.get(), device)?;
            let at = |d: NaiveDate| day_start(tz, d).timestamp_micros();
            let lo = from.map(at);
            let hi = to.and_then(|d| d.succ_opt()).map(at);
            // The spans of days read, as instants [first, stop) (visits keep no local day).
            let spans: Vec<(i64, i64)> =
                el.read_days().into_iter().map(|(f, l)| (at(f), at(l.succ_opt().unwrap_or(l)))).collect();
            let mut st = c.prepare(&format!(
                "SELECT {VISIT_COLUMNS} FROM visits WHERE elevator_id = ?1 AND (?2 IS NULL OR started_at >= ?2) \
                 AND (?3 IS NULL OR started_at < ?3) \
                 AND EXISTS (SELECT 1 FROM json_each(?6) s WHERE started_at >= s.value ->> 0 AND started_at < s.value ->> 1) \
                 ORDER BY started_at, id LIMIT ?4 OFFSET ?5"
            ))?;
            let mut rows = st.query(params![el.eid, lo, hi, limit, offset, spans_json(&spans)])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(visit_of(device.as_str(), r)?);
            }
            Ok(out)
        })
        .await
    }
}
