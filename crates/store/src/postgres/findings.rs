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

use crate::findings::*;
use crate::port::*;
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

/// Changes applied with one statement per kind of write, at most this many
/// at a time (a first evaluation of a large fleet opens one finding per
/// elevator: 10,000 changes are 2 statements of 5,000 rows each, not
/// 40,000 round trips).
const SET_SIZE: usize = 5_000;

/// Applies `changes` in order, in sets with at most one change per finding
/// (a finding changed twice in one call starts a new set, so the later
/// change sees the earlier one, as it would one change after the other).
async fn apply_in(
    c: &impl GenericClient,
    changes: &[Change],
    now: Timestamp,
    today: NaiveDate,
) -> Result<Applied, StoreError> {
    let mut a = Applied::default();
    let mut start = 0;
    while start < changes.len() {
        let mut seen = std::collections::HashSet::new();
        let mut end = start;
        while end < changes.len() && end - start < SET_SIZE {
            if let Some(id) = changed_id(&changes[end]) {
                if !seen.insert(id) {
                    break;
                }
            }
            end += 1;
        }
        apply_set(c, &changes[start..end], now, today, &mut a).await?;
        start = end;
    }
    Ok(a)
}

/// The stored finding a change is about (none for a new one).
fn changed_id(ch: &Change) -> Option<&str> {
    match ch {
        Change::Open(_) => None,
        Change::Escalate { id, .. }
        | Change::Update { id, .. }
        | Change::Clearing { id, .. }
        | Change::Resolve { id, .. } => Some(id),
    }
}

/// Rows of drafts written over findings, as `unnest` arrays.
#[derive(Default)]
struct DraftRows {
    ids: Vec<String>,
    actions: Vec<&'static str>,
    severities: Vec<&'static str>,
    evidence: Vec<serde_json::Value>,
    summaries: Vec<String>,
    summaries_zh: Vec<String>,
    drafts: Vec<serde_json::Value>,
}

impl DraftRows {
    fn push(&mut self, id: String, d: &FindingDraft) -> Result<(), StoreError> {
        self.ids.push(id);
        self.actions.push(d.action.as_str());
        self.severities.push(d.severity.as_str());
        self.evidence.push(json(&d.evidence)?);
        self.summaries.push(d.summary.en.clone());
        self.summaries_zh.push(d.summary.zh.clone());
        self.drafts.push(json(d)?);
        Ok(())
    }
}

/// Applies a set of changes with at most one change per finding: the
/// findings' writes (new ids from the sequence in bulk, in order), the
/// sanctions, then the alert events of the findings as they now stand, in
/// the order of the changes (one `INSERT … SELECT` for the outbox and the
/// deliveries).
async fn apply_set(
    c: &impl GenericClient,
    changes: &[Change],
    now: Timestamp,
    today: NaiveDate,
    a: &mut Applied,
) -> Result<(), StoreError> {
    let opens: Vec<&FindingDraft> =
        changes.iter().filter_map(|ch| if let Change::Open(d) = ch { Some(d) } else { None }).collect();
    let new_ids: Vec<String> = if opens.is_empty() {
        Vec::new()
    } else {
        c.query(
            "SELECT 'F' || nextval('findings_number') FROM generate_series(1, $1::bigint)",
            &[&(opens.len() as i64)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    let mut new_ids_iter = new_ids.iter();
    let mut opened = DraftRows::default();
    let (mut rules, mut clauses, mut subjects, mut projects, mut firms) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut rewritten = DraftRows::default();
    let (mut clearing_ids, mut clearings) = (Vec::new(), Vec::new());
    let (mut resolved_ids, mut resolved_at) = (Vec::new(), Vec::new());
    // (finding, draft) of the changes whose action records a sanction, in order.
    let mut sanctions: Vec<(&str, &FindingDraft)> = Vec::new();
    // (finding, kind, tag) of the alert events, in order.
    let mut events: Vec<(&str, &str, String)> = Vec::new();
    for ch in changes {
        match ch {
            Change::Open(d) => {
                let id = new_ids_iter
                    .next()
                    .ok_or_else(|| StoreError::Permanent("findings_number gave too few ids".into()))?;
                opened.push(id.clone(), d)?;
                rules.push(d.rule.as_str());
                clauses.push(d.clause());
                subjects.push(d.subject.to_string());
                projects.push(d.project.clone());
                firms.push(d.firm.clone());
                sanctions.push((id, d));
                events.push((id, "finding.opened", "opened".to_owned()));
                a.opened += 1;
                a.alerts += 1;
            }
            Change::Escalate { id, draft, .. } => {
                rewritten.push(id.clone(), draft)?;
                sanctions.push((id, draft));
                events.push((id, "finding.escalated", format!("escalated_{}", draft.action.as_str())));
                a.escalated += 1;
                a.alerts += 1;
            }
            Change::Update { id, draft } => {
                rewritten.push(id.clone(), draft)?;
                a.updated += 1;
            }
            Change::Clearing { id, clearing } => {
                clearing_ids.push(id.as_str());
                clearings.push(json(clearing)?);
                a.updated += 1;
            }
            Change::Resolve { id, at, .. } => {
                resolved_ids.push(id.as_str());
                resolved_at.push(dt(*at));
                events.push((id, "finding.resolved", "resolved".to_owned()));
                a.resolved += 1;
                a.alerts += 1;
            }
        }
    }
    if !opened.ids.is_empty() {
        c.execute(
            "INSERT INTO findings (id, rule, clause, subject, project_id, firm_id, action, severity, \
               summary, summary_zh, evidence, draft, opened_at, updated_at, state) \
             SELECT u.*, $13, $13, 'open' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
               $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::jsonb[]) AS u",
            &[
                &opened.ids,
                &rules,
                &clauses,
                &subjects,
                &projects,
                &firms,
                &opened.actions,
                &opened.severities,
                &opened.summaries,
                &opened.summaries_zh,
                &opened.evidence,
                &opened.drafts,
                &dt(now),
            ],
        )
        .await?;
    }
    if !rewritten.ids.is_empty() {
        let r = &rewritten;
        c.execute(
            "UPDATE findings f SET action = u.action, severity = u.severity, evidence = u.evidence, \
               summary = u.summary, summary_zh = u.summary_zh, draft = u.draft, clearing = NULL, updated_at = $8 \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::text[], $7::jsonb[]) \
               AS u(id, action, severity, evidence, summary, summary_zh, draft) \
             WHERE f.id = u.id",
            &[&r.ids, &r.actions, &r.severities, &r.evidence, &r.summaries, &r.summaries_zh, &r.drafts, &dt(now)],
        )
        .await?;
    }
    if !clearing_ids.is_empty() {
        c.execute(
            "UPDATE findings f SET clearing = u.clearing FROM unnest($1::text[], $2::jsonb[]) AS u(id, clearing) \
             WHERE f.id = u.id",
            &[&clearing_ids, &clearings],
        )
        .await?;
    }
    if !resolved_ids.is_empty() {
        c.execute(
            "UPDATE findings f SET state = 'resolved', resolved_at = u.at, updated_at = u.at \
             FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at) WHERE f.id = u.id AND f.state = 'open'",
            &[&resolved_ids, &resolved_at],
        )
        .await?;
    }
    record_sanctions(c, &sanctions, today).await?;
    announce(c, &events, now).await
}

/// Records what the findings' actions do beyond the findings, in the order
/// of the changes: a project's exit from the pilot (once per admission: a
/// project that has left does not leave again on its next exit finding,
/// whose evidence stays with that finding; a project with 10,000 uninsured
/// elevators would otherwise record 10,000 exits of 10,000 devices each),
/// with the project's elevators now (the ban follows them), by the first
/// exit finding of the set; or a firm's disqualification, one per finding.
async fn record_sanctions(
    c: &impl GenericClient,
    sanctions: &[(&str, &FindingDraft)],
    today: NaiveDate,
) -> Result<(), StoreError> {
    let (mut ex_projects, mut ex_firms, mut ex_reasons, mut ex_findings) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut dq_firms, mut dq_reasons, mut dq_findings) = (Vec::new(), Vec::new(), Vec::new());
    for (id, d) in sanctions {
        match (d.action, &d.project, &d.firm) {
            (Action::Exit, Some(p), Some(f)) => {
                ex_projects.push(p.as_str());
                ex_firms.push(f.as_str());
                ex_reasons.push(d.rule.as_str());
                ex_findings.push(*id);
            }
            (Action::Disqualify, _, Some(f)) => {
                dq_firms.push(f.as_str());
                dq_reasons.push(d.rule.as_str());
                dq_findings.push(*id);
            }
            _ => {}
        }
    }
    if !ex_projects.is_empty() {
        c.execute(
            "INSERT INTO pilot_exits (project_id, firm_id, on_day, devices, reason, finding_id) \
             SELECT s.project_id, s.firm_id, $5, COALESCE((SELECT array_agg(e.device_code ORDER BY e.device_code) \
                 FROM memberships m JOIN elevators e ON e.id = m.elevator_id \
                 WHERE m.project_id = s.project_id AND m.since <= $5 AND (m.until IS NULL OR m.until >= $5) \
                   AND e.device_code IS NOT NULL), '{}'), s.reason, s.finding_id \
             FROM (SELECT DISTINCT ON (u.project_id) u.* \
                   FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY \
                     AS u(project_id, firm_id, reason, finding_id, ord) \
                   ORDER BY u.project_id, u.ord) s \
             WHERE NOT EXISTS (SELECT 1 FROM pilot_exits x JOIN projects p ON p.id = x.project_id \
               WHERE x.project_id = s.project_id AND x.on_day >= p.admitted_on) \
             ORDER BY s.ord",
            &[&ex_projects, &ex_firms, &ex_reasons, &ex_findings, &today],
        )
        .await?;
    }
    if !dq_firms.is_empty() {
        c.execute(
            "INSERT INTO disqualifications (firm_id, on_day, reason, finding_id) \
             SELECT u.firm_id, $4, u.reason, u.finding_id \
             FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(firm_id, reason, finding_id, ord) \
             ORDER BY u.ord",
            &[&dq_firms, &dq_reasons, &dq_findings, &today],
        )
        .await?;
    }
    Ok(())
}

/// Enqueues the alert events `(finding, kind, tag)` of findings as they now
/// stand, in this order (outbox sequence numbers follow it), each with its
/// deliveries (the webhooks that take it, and the firm's MQTT topic); an
/// event already enqueued (same message id) is not enqueued again.
async fn announce(c: &impl GenericClient, events: &[(&str, &str, String)], now: Timestamp) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = events.iter().map(|e| e.0).collect();
    let sql = format!("SELECT {COLUMNS} FROM findings WHERE id = ANY($1)");
    let stored: std::collections::HashMap<String, Finding> =
        c.query(&sql, &[&ids]).await?.iter().map(finding_from_row).map(|f| (f.id.clone(), f)).collect();
    let n = events.len();
    let (mut msg_ids, mut kinds, mut subjects, mut firms, mut actions, mut bodies) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (id, kind, tag) in events {
        let f = stored.get(*id).ok_or_else(|| StoreError::NotFound(format!("finding {id}")))?;
        let body = serde_json::json!({"type": kind, "timestamp": now, "data": f});
        msg_ids.push(format!("msg_{id}_{tag}"));
        kinds.push(*kind);
        subjects.push(*id);
        firms.push(f.firm.as_deref());
        actions.push(f.action.as_str());
        bodies.push(body.to_string());
    }
    c.execute(
        "WITH ins AS ( \
           INSERT INTO alert_outbox (msg_id, kind, subject, firm_id, action, body, created_at) \
           SELECT u.msg_id, u.kind, u.subject, u.firm_id, u.action, u.body, $7 \
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY \
             AS u(msg_id, kind, subject, firm_id, action, body, ord) \
           ORDER BY u.ord \
           ON CONFLICT (msg_id) DO NOTHING RETURNING seq, subject, firm_id, action) \
         INSERT INTO alert_deliveries (outbox_seq, webhook_key, target_key, subject, next_attempt_at) \
         SELECT d.seq, d.key, d.target, d.subject, $7 FROM ( \
           SELECT i.seq, w.key, 'webhook:' || w.key AS target, i.subject, 0 AS last FROM ins i JOIN webhooks w \
             ON (w.firm_id IS NULL OR w.firm_id = i.firm_id) AND (w.actions IS NULL OR i.action = ANY (w.actions)) \
           UNION ALL \
           SELECT i.seq, NULL, 'mqtt', i.subject, 1 FROM ins i WHERE i.firm_id IS NOT NULL) d \
         ORDER BY d.seq, d.last, d.key",
        &[&msg_ids, &kinds, &subjects, &firms, &actions, &bodies, &dt(now)],
    )
    .await?;
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
        let a = apply_in(&*txn, changes, now, now.local_day(self.tz)).await?;
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
