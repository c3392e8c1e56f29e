//! Findings in SQLite: the rule engine's lifecycle changes (with their
//! alert events, in one transaction), regulators' acknowledgements and
//! notes, exits and disqualifications, and the bulk reads of the engine's
//! snapshot ([`RuleInputs`]).

use async_trait::async_trait;
use chrono::NaiveDate;
use liftwatch_core::completeness::DeviceTelemetry;
use liftwatch_core::protocol::{DeviceCode, Timestamp};
use liftwatch_core::records::Visit;
use liftwatch_core::registry::ProjectStatus;
use liftwatch_core::rules::{
    Action, BoxMaintenance, Change, Disqualification, EntrapmentIncident, FaultIncident, FindingDraft, OpenFinding,
    PilotExit,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::alerts::enqueue_in;
use super::code;
use super::incidents::{entrapment_from_row, fault_from_row};
use super::records::visit_of;
use super::telemetry::all_telemetry;
use super::NOW;
use crate::alerts::NewAlert;
use crate::findings::*;
use crate::port::{Findings, RuleInputs};
use crate::{SqliteStore, StoreError};

const COLUMNS: &str =
    "id, rule, clause, subject, project_id, firm_id, action, severity, state, opened_at, updated_at, \
    resolved_at, acknowledged_at, acknowledged_by, evidence, summary, summary_zh";

fn finding_from_row(r: &Row<'_>) -> Result<Finding, StoreError> {
    let t = |i: usize| -> rusqlite::Result<Option<Timestamp>> { Ok(r.get::<_, Option<i64>>(i)?.map(Timestamp)) };
    let evidence: String = r.get(14)?;
    Ok(Finding {
        id: r.get(0)?,
        rule: r.get(1)?,
        clause: r.get(2)?,
        subject: r.get(3)?,
        project: r.get(4)?,
        firm: r.get(5)?,
        action: r.get(6)?,
        severity: r.get(7)?,
        state: r.get(8)?,
        opened_at: Timestamp(r.get(9)?),
        updated_at: t(10)?,
        resolved_at: t(11)?,
        acknowledged_at: t(12)?,
        acknowledged_by: r.get(13)?,
        evidence: serde_json::from_str(&evidence)
            .map_err(|e| StoreError::Permanent(format!("stored finding evidence: {e}")))?,
        summary: r.get(15)?,
        summary_zh: r.get(16)?,
    })
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Permanent(format!("finding to JSON: {e}")))
}

fn read(c: &Connection, id: &str) -> Result<Option<Finding>, StoreError> {
    let mut st = c.prepare_cached(&format!("SELECT {COLUMNS} FROM findings WHERE id = ?1"))?;
    let mut rows = st.query([id])?;
    rows.next()?.map(finding_from_row).transpose()
}

/// Enqueues the alert event of a finding as it now stands.
fn announce(c: &Connection, id: &str, kind: &str, tag: &str, now: Timestamp) -> Result<(), StoreError> {
    let f = read(c, id)?.ok_or_else(|| StoreError::NotFound(format!("finding {id}")))?;
    let body = serde_json::json!({"type": kind, "timestamp": now, "data": &f});
    let a = NewAlert {
        msg_id: format!("msg_{id}_{tag}"),
        kind: kind.to_owned(),
        subject: id.to_owned(),
        firm_id: f.firm.clone(),
        action: f.action.clone(),
        body: body.to_string(),
    };
    enqueue_in(c, &a, now)?;
    Ok(())
}

/// Writes a draft's content over finding `id`.
fn write_draft(c: &Connection, id: &str, d: &FindingDraft, now: Timestamp) -> Result<(), StoreError> {
    c.prepare_cached(
        "UPDATE findings SET action = ?2, severity = ?3, evidence = ?4, summary = ?5, summary_zh = ?6, draft = ?7, \
         clearing = NULL, updated_at = ?8 WHERE id = ?1",
    )?
    .execute(params![
        id,
        d.action.as_str(),
        d.severity.as_str(),
        json(&d.evidence)?,
        d.summary.en,
        d.summary.zh,
        json(d)?,
        now.0
    ])?;
    Ok(())
}

/// An `exit` or `disqualify` finding records the exit (with the project's
/// elevators now, the ban follows them) or the disqualification.
fn record_sanction(c: &Connection, id: &str, d: &FindingDraft, today: NaiveDate) -> Result<(), StoreError> {
    match (d.action, &d.project, &d.firm) {
        (Action::Exit, Some(p), Some(f)) => {
            // Once per admission, as the PostgreSQL adapter.
            let exited: bool = c
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM pilot_exits x JOIN projects p ON p.id = x.project_id \
                     WHERE x.project_id = ?1 AND x.on_day >= p.admitted_on)",
                )?
                .query_row([p], |r| r.get(0))?;
            if exited {
                return Ok(());
            }
            let devices: Vec<String> = c
                .prepare(
                    "SELECT e.device_code FROM memberships m JOIN elevators e ON e.id = m.elevator_id \
                     WHERE m.project_id = ?1 AND m.since <= ?2 AND (m.until IS NULL OR m.until >= ?2) \
                     ORDER BY e.device_code",
                )?
                .query_map(params![p, today], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            c.prepare_cached(
                "INSERT INTO pilot_exits (project_id, firm_id, on_day, devices, reason, finding_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![p, f, today, json(&devices)?, d.rule.as_str(), id])?;
        }
        (Action::Disqualify, _, Some(f)) => {
            c.prepare_cached(
                "INSERT INTO disqualifications (firm_id, on_day, reason, finding_id) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![f, today, d.rule.as_str(), id])?;
        }
        _ => {}
    }
    Ok(())
}

fn apply_in(c: &Connection, changes: &[Change], now: Timestamp, today: NaiveDate) -> Result<Applied, StoreError> {
    let mut a = Applied::default();
    for ch in changes {
        match ch {
            Change::Open(d) => {
                let n: i64 = c
                    .prepare_cached(
                        "UPDATE liftwatch_counters SET value = value + 1 WHERE name = 'findings' RETURNING value",
                    )?
                    .query_row([], |r| r.get(0))?;
                let id = format!("F{n}");
                c.prepare_cached(
                    "INSERT INTO findings (id, rule, clause, subject, project_id, firm_id, action, severity, \
                       summary, summary_zh, evidence, draft, opened_at, updated_at, state) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, 'open')",
                )?
                .execute(params![
                    id,
                    d.rule.as_str(),
                    d.clause(),
                    d.subject.to_string(),
                    d.project,
                    d.firm,
                    d.action.as_str(),
                    d.severity.as_str(),
                    d.summary.en,
                    d.summary.zh,
                    json(&d.evidence)?,
                    json(d)?,
                    now.0,
                ])?;
                record_sanction(c, &id, d, today)?;
                announce(c, &id, "finding.opened", "opened", now)?;
                a.opened += 1;
                a.alerts += 1;
            }
            Change::Escalate { id, draft, .. } => {
                write_draft(c, id, draft, now)?;
                record_sanction(c, id, draft, today)?;
                announce(c, id, "finding.escalated", &format!("escalated_{}", draft.action.as_str()), now)?;
                a.escalated += 1;
                a.alerts += 1;
            }
            Change::Update { id, draft } => {
                write_draft(c, id, draft, now)?;
                a.updated += 1;
            }
            Change::Clearing { id, clearing } => {
                c.prepare_cached("UPDATE findings SET clearing = ?2 WHERE id = ?1")?
                    .execute(params![id, json(clearing)?])?;
                a.updated += 1;
            }
            Change::Resolve { id, at, .. } => {
                c.prepare_cached("UPDATE findings SET state = 'resolved', resolved_at = ?2, updated_at = ?2 WHERE id = ?1 AND state = 'open'")?.execute(
                    params![id, at.0],
                )?;
                announce(c, id, "finding.resolved", "resolved", now)?;
                a.resolved += 1;
                a.alerts += 1;
            }
        }
    }
    Ok(a)
}

fn note_from_row(r: &Row<'_>) -> rusqlite::Result<FindingNote> {
    Ok(FindingNote { id: r.get(0)?, finding_id: r.get(1)?, at: Timestamp(r.get(2)?), by: r.get(3)?, note: r.get(4)? })
}

fn open_finding(r: &Row<'_>) -> Result<OpenFinding, StoreError> {
    let id: String = r.get(0)?;
    let bad = |e: serde_json::Error| StoreError::Permanent(format!("stored finding {id}: {e}"));
    let draft: String = r.get(1)?;
    let clearing: Option<String> = r.get(3)?;
    Ok(OpenFinding {
        draft: serde_json::from_str(&draft).map_err(bad)?,
        opened_at: Timestamp(r.get(2)?),
        clearing: clearing.as_deref().map(serde_json::from_str).transpose().map_err(bad)?,
        id,
    })
}

#[async_trait]
impl Findings for SqliteStore {
    async fn findings(&self, f: &FindingFilter) -> Result<Vec<Finding>, StoreError> {
        let f = f.clone();
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "SELECT {COLUMNS} FROM findings WHERE (?1 IS NULL OR project_id = ?1) AND (?2 IS NULL OR firm_id = ?2) \
                 AND (?3 IS NULL OR state = ?3) AND (?4 IS NULL OR action = ?4) \
                 ORDER BY opened_at DESC, id LIMIT ?5 OFFSET ?6"
            ))?;
            let mut rows = st.query(params![f.project, f.firm, f.state, f.action, f.limit, f.offset])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(finding_from_row(r)?);
            }
            Ok(out)
        })
        .await
    }

    async fn finding(&self, id: &str) -> Result<Option<Finding>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| read(c, &id)).await
    }

    async fn open_findings(&self) -> Result<Vec<OpenFinding>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT id, draft, opened_at, clearing FROM findings WHERE state = 'open' AND draft IS NOT NULL ORDER BY id",
            )?;
            let mut rows = st.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(open_finding(r)?);
            }
            Ok(out)
        })
        .await
    }

    async fn apply_findings(&self, changes: &[Change], now: Timestamp) -> Result<Applied, StoreError> {
        let (changes, today) = (changes.to_vec(), now.local_day(self.tz));
        self.write(move |c| apply_in(c, &changes, now, today)).await
    }

    async fn acknowledge_finding(&self, id: &str, by: &str, now: Timestamp) -> Result<Option<Finding>, StoreError> {
        let (id, by) = (id.to_owned(), by.to_owned());
        self.write(move |c| {
            c.execute(
                "UPDATE findings SET acknowledged_at = coalesce(acknowledged_at, ?2), \
                 acknowledged_by = coalesce(acknowledged_by, ?3) WHERE id = ?1",
                params![id, now.0, by],
            )?;
            read(c, &id)
        })
        .await
    }

    async fn add_finding_note(
        &self,
        id: &str,
        by: &str,
        note: &str,
        now: Timestamp,
    ) -> Result<Option<FindingNote>, StoreError> {
        let (id, by, note) = (id.to_owned(), by.to_owned(), note.to_owned());
        self.write(move |c| {
            Ok(c.query_row(
                "INSERT INTO finding_notes (finding_id, at, by_whom, note) SELECT id, ?2, ?3, ?4 FROM findings \
                 WHERE id = ?1 RETURNING id, finding_id, at, by_whom, note",
                params![id, now.0, by, note],
                note_from_row,
            )
            .optional()?)
        })
        .await
    }

    async fn finding_notes(&self, id: &str) -> Result<Vec<FindingNote>, StoreError> {
        let id = id.to_owned();
        self.read(move |c| {
            let mut st = c.prepare(
                "SELECT id, finding_id, at, by_whom, note FROM finding_notes WHERE finding_id = ?1 ORDER BY id",
            )?;
            let rows = st.query_map([id], note_from_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn pilot_history(&self) -> Result<(Vec<PilotExit>, Vec<Disqualification>), StoreError> {
        self.read(|c| {
            let mut st =
                c.prepare("SELECT project_id, firm_id, on_day, devices, reason FROM pilot_exits ORDER BY id")?;
            let mut rows = st.query([])?;
            let mut exits = Vec::new();
            while let Some(r) = rows.next()? {
                let devices: String = r.get(3)?;
                let devices: Vec<String> = serde_json::from_str(&devices)
                    .map_err(|e| StoreError::Permanent(format!("stored exit devices: {e}")))?;
                exits.push(PilotExit {
                    project_id: r.get(0)?,
                    firm_id: r.get(1)?,
                    on: r.get(2)?,
                    devices: devices.iter().map(|d| code(d)).collect::<Result<_, _>>()?,
                    reason: r.get(4)?,
                });
            }
            let mut st = c.prepare("SELECT firm_id, on_day, reason FROM disqualifications ORDER BY id")?;
            let dq = st
                .query_map([], |r| Ok(Disqualification { firm_id: r.get(0)?, on: r.get(1)?, reason: r.get(2)? }))?
                .collect::<rusqlite::Result<_>>()?;
            Ok((exits, dq))
        })
        .await
    }

    async fn set_project_statuses(&self, statuses: &[(String, ProjectStatus)]) -> Result<(), StoreError> {
        if statuses.is_empty() {
            return Ok(());
        }
        let statuses = statuses.to_vec();
        self.write(move |c| {
            let mut st = c.prepare_cached(&format!(
                "UPDATE projects SET status = ?2, updated_at = {NOW} WHERE id = ?1 AND status <> ?2"
            ))?;
            for (id, s) in &statuses {
                st.execute(params![id, s.as_str()])?;
            }
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl RuleInputs for SqliteStore {
    async fn rule_incidents(
        &self,
        since: Timestamp,
    ) -> Result<(Vec<FaultIncident>, Vec<EntrapmentIncident>), StoreError> {
        self.read(move |c| {
            let mut st = c.prepare(
                "SELECT f.*, e.device_code FROM faults f JOIN elevators e ON e.id = f.elevator_id \
                 WHERE (f.cleared_at IS NULL AND f.stops_service) OR f.start_ts >= ?1",
            )?;
            let mut rows = st.query([since.0])?;
            let mut faults = Vec::new();
            while let Some(r) = rows.next()? {
                faults.push(FaultIncident {
                    device: code(&r.get::<_, String>("device_code")?)?,
                    fault_id: r.get("fault_id")?,
                    record: fault_from_row(r)?,
                });
            }
            let mut st = c.prepare(
                "SELECT t.*, e.device_code FROM entrapments t JOIN elevators e ON e.id = t.elevator_id \
                 WHERE t.alarm_ts >= ?1 OR (t.alarm_ts IS NOT NULL AND t.arrived_at IS NULL)",
            )?;
            let mut rows = st.query([since.0])?;
            let mut entrapments = Vec::new();
            while let Some(r) = rows.next()? {
                entrapments.push(EntrapmentIncident {
                    device: code(&r.get::<_, String>("device_code")?)?,
                    incident_id: r.get("incident_id")?,
                    record: entrapment_from_row(r)?,
                });
            }
            Ok((faults, entrapments))
        })
        .await
    }

    async fn latest_visits(&self) -> Result<Vec<Visit>, StoreError> {
        self.read(|c| {
            // Each elevator's latest visit of each kind (PostgreSQL's DISTINCT ON).
            let mut st = c.prepare(
                "SELECT id, kind, started_at, ended_at, technician, recorded_by, recorded_at, device_code FROM ( \
                   SELECT v.*, e.device_code, row_number() OVER (PARTITION BY v.elevator_id, v.kind \
                     ORDER BY v.started_at DESC, v.id DESC) AS n \
                   FROM visits v JOIN elevators e ON e.id = v.elevator_id) WHERE n = 1 \
                 ORDER BY elevator_id, kind",
            )?;
            let mut rows = st.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(visit_of(&r.get::<_, String>(7)?, r)?);
            }
            Ok(out)
        })
        .await
    }

    async fn latest_box_maintenance(&self) -> Result<Vec<BoxMaintenance>, StoreError> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT device_code, ref, ts FROM (SELECT e.device_code, ev.ref, ev.ts, row_number() OVER \
                   (PARTITION BY ev.elevator_id ORDER BY ev.ts DESC) AS n FROM events ev \
                   JOIN elevators e ON e.id = ev.elevator_id WHERE ev.kind = 6 AND ev.mode = 'start') WHERE n = 1",
            )?;
            let mut rows = st.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(BoxMaintenance {
                    device: code(&r.get::<_, String>(0)?)?,
                    visit_id: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    at: Timestamp(r.get(2)?),
                });
            }
            Ok(out)
        })
        .await
    }

    async fn all_telemetry(&self) -> Result<Vec<(DeviceCode, DeviceTelemetry)>, StoreError> {
        self.read(all_telemetry).await
    }
}
