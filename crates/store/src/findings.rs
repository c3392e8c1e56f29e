//! Findings of the rule engine (issue 10; api-v1.md "Findings") as stored and
//! served: the core's drafts ([`liftwatch_core::rules`]) with their identity,
//! lifecycle and the regulators' acknowledgements and notes.

use liftwatch_core::protocol::Timestamp;
use serde::Serialize;

/// One finding (api-v1.md "Findings"), also the `data` of an alert.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Finding {
    /// Id (`F` and a number).
    pub id: String,
    /// Rule, e.g. `A1-III-1-onsite-interval` (docs/rules.md).
    pub rule: String,
    /// The clause of the notice it rests on, e.g. `A1 §III.(一)`.
    pub clause: String,
    /// What it is about (`project:haibin`, `fault:3110…/f-17`, …).
    pub subject: Option<String>,
    /// Project, if the finding is about one.
    pub project: Option<String>,
    /// Firm.
    pub firm: Option<String>,
    /// `notice`, `rectify`, `stop`, `exit` or `disqualify`.
    pub action: String,
    /// `info`, `minor`, `major` or `critical`.
    pub severity: String,
    /// `open` or `resolved`.
    pub state: String,
    /// When it was opened.
    pub opened_at: Timestamp,
    /// When its content last changed.
    pub updated_at: Option<Timestamp>,
    /// When it resolved, if it did.
    pub resolved_at: Option<Timestamp>,
    /// When a regulator acknowledged it.
    pub acknowledged_at: Option<Timestamp>,
    /// Who acknowledged it.
    pub acknowledged_by: Option<String>,
    /// The figures and records it used (`{"figures": {…}, "records": [{"kind", "id"}]}`).
    #[cfg_attr(feature = "schema", schema(value_type = Object))]
    pub evidence: serde_json::Value,
    /// What was found, in English.
    pub summary: String,
    /// What was found, in Chinese.
    pub summary_zh: String,
}

/// A regulator's note on a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct FindingNote {
    /// Id.
    pub id: i64,
    /// The finding.
    pub finding_id: String,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub by: String,
    /// The note.
    pub note: String,
}

/// Which findings.
#[derive(Clone, Debug, Default)]
pub struct FindingFilter {
    /// Only this project's.
    pub project: Option<String>,
    /// Only this firm's.
    pub firm: Option<String>,
    /// `open` or `resolved`.
    pub state: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}

/// What applying an evaluation's changes did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Findings opened.
    pub opened: usize,
    /// Findings escalated.
    pub escalated: usize,
    /// Findings updated (content or clearing).
    pub updated: usize,
    /// Findings resolved.
    pub resolved: usize,
    /// Alert events enqueued.
    pub alerts: usize,
}
