//! Findings of the rule engine (A1 §III, §IV), as served by the API. The rule
//! engine (its own issue) writes them; the store reads them here.

use liftwatch_core::protocol::Timestamp;
use serde::Serialize;

/// One finding (api-v1.md "Findings").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Id.
    pub id: String,
    /// Rule, e.g. `A1-III-1-onsite-interval`.
    pub rule: String,
    /// Project, if the finding is about one.
    pub project: Option<String>,
    /// Firm.
    pub firm: Option<String>,
    /// `notice`, `rectify`, `exit` or `disqualify`.
    pub action: String,
    /// Severity.
    pub severity: String,
    /// Human summary.
    pub summary: String,
    /// When it was opened.
    pub opened_at: Timestamp,
    /// When it was closed, if it is.
    pub closed_at: Option<Timestamp>,
    /// `open` or `closed`.
    pub state: String,
}

/// Which findings.
#[derive(Clone, Debug, Default)]
pub struct FindingFilter {
    /// Only this project's.
    pub project: Option<String>,
    /// Only this firm's.
    pub firm: Option<String>,
    /// `open` or `closed`.
    pub state: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}
