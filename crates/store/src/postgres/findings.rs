//! Findings: the rule engine's lifecycle changes (with their alert events,
//! in one transaction), regulators' acknowledgements and notes, exits and
//! disqualifications, and the bulk reads of the engine's snapshot.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use liftwatch_core::completeness::DeviceTelemetry;
use liftwatch_core::protocol::{DeviceCode, Timestamp};
use liftwatch_core::records::Visit;
use liftwatch_core::registry::ProjectStatus;
use liftwatch_core::rules::{
    Action, BoxMaintenance, Change, Disqualification, EntrapmentIncident, FaultIncident, FindingDraft, OpenFinding,
    PilotExit,
};
use tokio_postgres::{GenericClient, Row};

use crate::alerts::NewAlert;
use crate::findings::*;
use crate::port::*;
use crate::postgres::alerts::enqueue_in;
use crate::postgres::{dt, entrapment_from_row, fault_from_row, ts};
use crate::{PgStore, StoreError};

const COLUMNS: &str =
    "id, rule, clause, subject, project_id, firm_id, action, severity, state, opened_at, updated_at, \
    resolved_at, acknowledged_at, acknowledged_by, evidence, summary, summary_zh";

fn finding_from_row(r: &Row) -> Finding {
    let t = |i: usize| r.get::<_, Option<DateTime<Utc>>>(i).map(ts);
    Finding {
        id: r.get(0),
        rule: r.get(1),
        clause: r.get(2),
        subject: r.get(3),
        project: r.get(4),
        firm: r.get(5),
        action: r.get(6),
        severity: r.get(7),
        state: r.get(8),
        opened_at: ts(r.get::<_, DateTime<Utc>>(9)),
        updated_at: t(10),
        resolved_at: t(11),
        acknowledged_at: t(12),
        acknowledged_by: r.get(13),
        evidence: r.get(14),
        summary: r.get(15),
        summary_zh: r.get(16),
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(v).map_err(|e| StoreError::Permanent(format!("finding to JSON: {e}")))
}

async fn read(c: &impl GenericClient, id: &str) -> Result<Option<Finding>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM findings WHERE id = $1");
    Ok(c.query_opt(&sql, &[&id]).await?.as_ref().map(finding_from_row))
}

/// Enqueues the alert event of a finding as it now stands.
async fn announce(c: &impl GenericClient, id: &str, kind: &str, tag: &str, now: Timestamp) -> Result<(), StoreError> {
    let f = read(c, id).await?.ok_or_else(|| StoreError::NotFound(format!("finding {id}")))?;
    let body = serde_json::json!({"type": kind, "timestamp": now, "data": &f});
    let a = NewAlert {
        msg_id: format!("msg_{id}_{tag}"),
        kind: kind.to_owned(),
        subject: id.to_owned(),
        firm_id: f.firm.clone(),
        action: f.action.clone(),
        body: body.to_string(),
    };
    enqueue_in(c, &a, now).await?;
    Ok(())
}

/// Writes a draft's content over finding `id`.
async fn write_draft(c: &impl GenericClient, id: &str, d: &FindingDraft, now: Timestamp) -> Result<(), StoreError> {
    c.execute(
        "UPDATE findings SET action = $2, severity = $3, evidence = $4, summary = $5, summary_zh = $6, draft = $7, \
         clearing = NULL, updated_at = $8 WHERE id = $1",
        &[
            &id,
            &d.action.as_str(),
            &d.severity.as_str(),
            &json(&d.evidence)?,
            &d.summary.en,
            &d.summary.zh,
            &json(d)?,
            &dt(now),
        ],
    )
    .await?;
    Ok(())
}

/// An `exit` or `disqualify` finding records the exit (with the project's
/// elevators now, the ban follows them) or the disqualification.
/// Records what a finding's action does beyond the finding: a project's
/// exit from the pilot (once per admission: a project that has left does
/// not leave again on its next exit finding, whose evidence stays with that
/// finding; a project with 10,000 uninsured elevators would otherwise
/// record 10,000 exits of 10,000 devices each), or a firm's
/// disqualification.
async fn record_sanction(
    c: &impl GenericClient,
    id: &str,
    d: &FindingDraft,
    today: NaiveDate,
) -> Result<(), StoreError> {
    match (d.action, &d.project, &d.firm) {
        (Action::Exit, Some(p), Some(f)) => {
            c.execute(
                "INSERT INTO pilot_exits (project_id, firm_id, on_day, devices, reason, finding_id) \
                 SELECT $1, $2, $3, COALESCE(array_agg(e.device_code ORDER BY e.device_code) \
                   FILTER (WHERE e.device_code IS NOT NULL), '{}'), $4, $5 \
                 FROM memberships m JOIN elevators e ON e.id = m.elevator_id \
                 WHERE m.project_id = $1 AND m.since <= $3 AND (m.until IS NULL OR m.until >= $3) \
                 HAVING NOT EXISTS (SELECT 1 FROM pilot_exits x JOIN projects p ON p.id = x.project_id \
                   WHERE x.project_id = $1 AND x.on_day >= p.admitted_on)",
                &[p, f, &today, &d.rule.as_str(), &id],
            )
            .await?;
        }
        (Action::Disqualify, _, Some(f)) => {
            c.execute(
                "INSERT INTO disqualifications (firm_id, on_day, reason, finding_id) VALUES ($1, $2, $3, $4)",
                &[f, &today, &d.rule.as_str(), &id],
            )
            .await?;
        }
        _ => {}
    }
    Ok(())
}

#[async_trait]
impl Findings for PgStore {
    async fn findings(&self, f: &FindingFilter) -> Result<Vec<Finding>, StoreError> {
        let c = self.pool.get().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM findings WHERE ($1::text IS NULL OR project_id = $1) \
             AND ($2::text IS NULL OR firm_id = $2) AND ($3::text IS NULL OR state = $3) \
             AND ($4::text IS NULL OR action = $4) ORDER BY opened_at DESC, id LIMIT $5 OFFSET $6"
        );
        let rows = c.query(&sql, &[&f.project, &f.firm, &f.state, &f.action, &f.limit, &f.offset]).await?;
        Ok(rows.iter().map(finding_from_row).collect())
    }

    async fn finding(&self, id: &str) -> Result<Option<Finding>, StoreError> {
        let c = self.pool.get().await?;
        read(&**c, id).await
    }

    async fn open_findings(&self) -> Result<Vec<OpenFinding>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT id, draft, opened_at, clearing FROM findings WHERE state = 'open' AND draft IS NOT NULL ORDER BY id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let bad = |e: serde_json::Error| {
                    StoreError::Permanent(format!("stored finding {}: {e}", r.get::<_, &str>(0)))
                };
                Ok(OpenFinding {
                    id: r.get(0),
                    draft: serde_json::from_value(r.get(1)).map_err(bad)?,
                    opened_at: ts(r.get(2)),
                    clearing: r
                        .get::<_, Option<serde_json::Value>>(3)
                        .map(serde_json::from_value)
                        .transpose()
                        .map_err(bad)?,
                })
            })
            .collect()
    }

    async fn apply_findings(&self, changes: &[Change], now: Timestamp) -> Result<Applied, StoreError> {
        let mut c = self.pool.get().await?;
        let txn = c.transaction().await?;
        let tx = &*txn;
        let today = now.local_day(self.tz);
        let mut a = Applied::default();
        for ch in changes {
            match ch {
                Change::Open(d) => {
                    let id: String = tx
                        .query_one(
                            "INSERT INTO findings (id, rule, clause, subject, project_id, firm_id, action, severity, \
                               summary, summary_zh, evidence, draft, opened_at, updated_at, state) \
                             VALUES ('F' || nextval('findings_number'), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, 'open') \
                             RETURNING id",
                            &[
                                &d.rule.as_str(),
                                &d.clause(),
                                &d.subject.to_string(),
                                &d.project,
                                &d.firm,
                                &d.action.as_str(),
                                &d.severity.as_str(),
                                &d.summary.en,
                                &d.summary.zh,
                                &json(&d.evidence)?,
                                &json(d)?,
                                &dt(now),
                            ],
                        )
                        .await?
                        .get(0);
                    record_sanction(tx, &id, d, today).await?;
                    announce(tx, &id, "finding.opened", "opened", now).await?;
                    a.opened += 1;
                    a.alerts += 1;
                }
                Change::Escalate { id, draft, .. } => {
                    write_draft(tx, id, draft, now).await?;
                    record_sanction(tx, id, draft, today).await?;
                    announce(tx, id, "finding.escalated", &format!("escalated_{}", draft.action.as_str()), now).await?;
                    a.escalated += 1;
                    a.alerts += 1;
                }
                Change::Update { id, draft } => {
                    write_draft(tx, id, draft, now).await?;
                    a.updated += 1;
                }
                Change::Clearing { id, clearing } => {
                    tx.execute("UPDATE findings SET clearing = $2 WHERE id = $1", &[id, &json(clearing)?]).await?;
                    a.updated += 1;
                }
                Change::Resolve { id, at, .. } => {
                    tx.execute(
                        "UPDATE findings SET state = 'resolved', resolved_at = $2, updated_at = $2 WHERE id = $1 AND state = 'open'",
                        &[id, &dt(*at)],
                    )
                    .await?;
                    announce(tx, id, "finding.resolved", "resolved", now).await?;
                    a.resolved += 1;
                    a.alerts += 1;
                }
            }
        }
        txn.commit().await?;
        Ok(a)
    }

    async fn acknowledge_finding(&self, id: &str, by: &str, now: Timestamp) -> Result<Option<Finding>, StoreError> {
        let c = self.pool.get().await?;
        c.execute(
            "UPDATE findings SET acknowledged_at = COALESCE(acknowledged_at, $2), \
             acknowledged_by = COALESCE(acknowledged_by, $3) WHERE id = $1",
            &[&id, &dt(now), &by],
        )
        .await?;
        read(&**c, id).await
    }

    async fn add_finding_note(
        &self,
        id: &str,
        by: &str,
        note: &str,
        now: Timestamp,
    ) -> Result<Option<FindingNote>, StoreError> {
        let c = self.pool.get().await?;
        let r = c
            .query_opt(
                "INSERT INTO finding_notes (finding_id, at, by_whom, note) SELECT id, $2, $3, $4 FROM findings \
                 WHERE id = $1 RETURNING id, finding_id, at, by_whom, note",
                &[&id, &dt(now), &by, &note],
            )
            .await?;
        Ok(r.as_ref().map(note_from_row))
    }

    async fn finding_notes(&self, id: &str) -> Result<Vec<FindingNote>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT id, finding_id, at, by_whom, note FROM finding_notes WHERE finding_id = $1 ORDER BY id",
                &[&id],
            )
            .await?;
        Ok(rows.iter().map(note_from_row).collect())
    }

    async fn pilot_history(&self) -> Result<(Vec<PilotExit>, Vec<Disqualification>), StoreError> {
        let c = self.pool.get().await?;
        let exits = c
            .query("SELECT project_id, firm_id, on_day, devices, reason FROM pilot_exits ORDER BY id", &[])
            .await?
            .iter()
            .map(|r| {
                Ok(PilotExit {
                    project_id: r.get(0),
                    firm_id: r.get(1),
                    on: r.get(2),
                    devices: r
                        .get::<_, Vec<String>>(3)
                        .iter()
                        .map(|d| DeviceCode::parse(d).map_err(|e| StoreError::Permanent(e.to_string())))
                        .collect::<Result<_, _>>()?,
                    reason: r.get(4),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let dq = c
            .query("SELECT firm_id, on_day, reason FROM disqualifications ORDER BY id", &[])
            .await?
            .iter()
            .map(|r| Disqualification { firm_id: r.get(0), on: r.get(1), reason: r.get(2) })
            .collect();
        Ok((exits, dq))
    }

    async fn set_project_statuses(&self, statuses: &[(String, ProjectStatus)]) -> Result<(), StoreError> {
        if statuses.is_empty() {
            return Ok(());
        }
        let c = self.pool.get().await?;
        let ids: Vec<&str> = statuses.iter().map(|s| s.0.as_str()).collect();
        let st: Vec<&str> = statuses.iter().map(|s| s.1.as_str()).collect();
        c.execute(
            "UPDATE projects p SET status = s.st, updated_at = now() FROM unnest($1::text[], $2::text[]) AS s(id, st) \
             WHERE p.id = s.id AND p.status <> s.st",
            &[&ids, &st],
        )
        .await?;
        Ok(())
    }
}

fn note_from_row(r: &Row) -> FindingNote {
    FindingNote {
        id: r.get(0),
        finding_id: r.get(1),
        at: ts(r.get::<_, DateTime<Utc>>(2)),
        by: r.get(3),
        note: r.get(4),
    }
}

#[async_trait]
impl RuleInputs for PgStore {
    async fn rule_incidents(
        &self,
        since: Timestamp,
    ) -> Result<(Vec<FaultIncident>, Vec<EntrapmentIncident>), StoreError> {
        let c = self.pool.get().await?;
        let device = |r: &Row| {
            DeviceCode::parse(r.get::<_, &str>("device_code")).map_err(|e| StoreError::Permanent(e.to_string()))
        };
        let faults = c
            .query(
                "SELECT f.*, e.device_code FROM faults f JOIN elevators e ON e.id = f.elevator_id \
                 WHERE (f.cleared_at IS NULL AND f.stops_service) OR f.start_ts >= $1",
                &[&dt(since)],
            )
            .await?
            .iter()
            .map(|r| Ok(FaultIncident { device: device(r)?, fault_id: r.get("fault_id"), record: fault_from_row(r)? }))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let entrapments = c
            .query(
                "SELECT t.*, e.device_code FROM entrapments t JOIN elevators e ON e.id = t.elevator_id \
                 WHERE t.alarm_ts >= $1 OR (t.alarm_ts IS NOT NULL AND t.arrived_at IS NULL)",
                &[&dt(since)],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(EntrapmentIncident {
                    device: device(r)?,
                    incident_id: r.get("incident_id"),
                    record: entrapment_from_row(r),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((faults, entrapments))
    }

    async fn latest_visits(&self) -> Result<Vec<Visit>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT DISTINCT ON (v.elevator_id, v.kind) v.id, v.kind, v.started_at, v.ended_at, v.technician, \
                   v.recorded_by, v.recorded_at, e.device_code \
                 FROM visits v JOIN elevators e ON e.id = v.elevator_id \
                 ORDER BY v.elevator_id, v.kind, v.started_at DESC, v.id DESC",
                &[],
            )
            .await?;
        rows.iter().map(|r| crate::postgres::records::visit_of(r.get(7), r)).collect()
    }

    async fn latest_box_maintenance(&self) -> Result<Vec<BoxMaintenance>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT e.device_code, m.ref, m.ts FROM elevators e CROSS JOIN LATERAL ( \
                   SELECT ev.ref, ev.ts FROM events ev WHERE ev.elevator_id = e.id AND ev.kind = 6 \
                   AND ev.mode = 'start' ORDER BY ev.ts DESC LIMIT 1) m",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(BoxMaintenance {
                    device: DeviceCode::parse(r.get::<_, &str>(0)).map_err(|e| StoreError::Permanent(e.to_string()))?,
                    visit_id: r.get::<_, Option<String>>(1).unwrap_or_default(),
                    at: ts(r.get(2)),
                })
            })
            .collect()
    }

    async fn all_telemetry(&self) -> Result<Vec<(DeviceCode, DeviceTelemetry)>, StoreError> {
        crate::postgres::telemetry::all_telemetry(self).await
    }
}
