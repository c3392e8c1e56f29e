//! The lifecycle of findings: from this evaluation's drafts and the findings
//! open now, what changes. One open finding per (rule, subject); it opens,
//! updates, escalates, and resolves only after its condition has stayed
//! absent long enough ([`Hysteresis`]). Pure: the store applies the changes
//! (and writes the outbox rows of the alerts) in one transaction.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::catalogue::{Action, RuleId};
use super::config::Hysteresis;
use super::finding::{FindingDraft, Subject};
use super::snapshot::PilotExit;
use crate::protocol::{Timestamp, MICROS_PER_MINUTE};
use crate::records::RectificationOrder;
use crate::registry::ProjectStatus;

/// A condition no longer found, not yet resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clearing {
    /// The first evaluation that did not find it.
    pub since: Timestamp,
    /// Evaluations in a row that did not find it.
    pub evaluations: u32,
}

/// A finding open in the store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenFinding {
    /// The store's id.
    pub id: String,
    /// Its content as last written.
    pub draft: FindingDraft,
    /// When it was opened.
    pub opened_at: Timestamp,
    /// Set while its condition is absent and it has not resolved yet.
    pub clearing: Option<Clearing>,
}

/// What to do to the stored findings.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A new finding (alert `finding.opened`).
    Open(FindingDraft),
    /// New content (evidence, summary, severity) with the same action, or
    /// the condition is back while it was clearing; resets the clearing. No alert.
    Update {
        /// The finding.
        id: String,
        /// Its content now.
        draft: FindingDraft,
    },
    /// The action grew (notice → rectify → exit); alert `finding.escalated`.
    Escalate {
        /// The finding.
        id: String,
        /// The action before.
        from: Action,
        /// Its content now.
        draft: FindingDraft,
    },
    /// The condition is absent but not for long enough: record the clearing. No alert.
    Clearing {
        /// The finding.
        id: String,
        /// Since when and for how many evaluations.
        clearing: Clearing,
    },
    /// The condition has stayed absent long enough (alert `finding.resolved`).
    Resolve {
        /// The finding.
        id: String,
        /// When it resolved (this evaluation).
        at: Timestamp,
        /// The first evaluation that no longer found the condition.
        clear_since: Timestamp,
    },
}

type Key = (RuleId, Subject);

fn key(d: &FindingDraft) -> Key {
    (d.rule, d.subject.clone())
}

/// The changes that bring the stored findings (`open`) in line with this
/// evaluation's `drafts` at `now`. Deterministic: changes for drafts come in
/// (rule, subject) order, then those of findings no longer found, in the
/// same order.
///
/// - a draft with no open finding opens one; two drafts with one key keep
///   the stronger action (a rule emits one per key; this is a guard);
/// - a draft whose action is stronger than the open finding's escalates it;
///   an action never falls while a finding is open (the draft's weaker
///   action is replaced by the open one): a finding that was rectify stays
///   rectify until it resolves;
/// - a draft whose content differs (or whose finding was clearing) updates it;
/// - an open finding not found: if its action is sticky, nothing; else it
///   clears, and resolves once absent for the hysteresis' minutes and
///   evaluations.
pub fn reconcile(open: &[OpenFinding], drafts: &[FindingDraft], now: Timestamp, h: &Hysteresis) -> Vec<Change> {
    let mut wanted: BTreeMap<Key, &FindingDraft> = BTreeMap::new();
    for d in drafts {
        let e = wanted.entry(key(d)).or_insert(d);
        if d.action > e.action {
            *e = d;
        }
    }
    let by_key: BTreeMap<Key, &OpenFinding> = open.iter().map(|o| (key(&o.draft), o)).collect();
    let mut out = Vec::new();
    for (k, d) in &wanted {
        match by_key.get(k) {
            None => out.push(Change::Open((*d).clone())),
            Some(o) if d.action > o.draft.action => {
                out.push(Change::Escalate { id: o.id.clone(), from: o.draft.action, draft: (*d).clone() })
            }
            Some(o) => {
                let draft = FindingDraft { action: o.draft.action, ..(*d).clone() };
                if draft != o.draft || o.clearing.is_some() {
                    out.push(Change::Update { id: o.id.clone(), draft });
                }
            }
        }
    }
    for (k, o) in &by_key {
        if wanted.contains_key(k) || h.sticky.contains(&o.draft.action) {
            continue;
        }
        let c = o.clearing.map_or(Clearing { since: now, evaluations: 1 }, |c| Clearing {
            since: c.since,
            evaluations: c.evaluations.saturating_add(1),
        });
        let long_enough = now.0.saturating_sub(c.since.0) >= i64::from(h.clear_for_minutes) * MICROS_PER_MINUTE;
        if long_enough && c.evaluations >= h.clear_evaluations {
            out.push(Change::Resolve { id: o.id.clone(), at: now, clear_since: c.since });
        } else {
            out.push(Change::Clearing { id: o.id.clone(), clearing: c });
        }
    }
    out
}

/// A project's status from its findings and orders (ProjectStatus):
///
/// - `exited` when an exit was recorded since its admission, or a finding
///   about it asks for exit (or disqualification): the source makes exit a
///   consequence ("有以下情况之一的，试点项目退出"), not a decision to wait for;
/// - `rectifying` when a rectification order issued since its admission is
///   not completed: rectification is ordered by the regulator ("应责令…限期整改"),
///   so a `rectify` finding alone does not change the status;
/// - `active` otherwise.
///
/// `findings` may hold other projects' findings (ignored).
pub fn project_status(
    project_id: &str,
    admitted_on: NaiveDate,
    findings: &[OpenFinding],
    orders: &[RectificationOrder],
    exits: &[PilotExit],
) -> ProjectStatus {
    let exited = exits.iter().any(|e| e.project_id == project_id && e.on >= admitted_on)
        || findings.iter().any(|f| f.draft.project.as_deref() == Some(project_id) && f.draft.action >= Action::Exit);
    if exited {
        return ProjectStatus::Exited;
    }
    let rectifying =
        orders.iter().any(|o| o.project_id == project_id && o.issued_on >= admitted_on && o.completed_on.is_none());
    if rectifying {
        ProjectStatus::Rectifying
    } else {
        ProjectStatus::Active
    }
}
