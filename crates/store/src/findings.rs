//! Findings of the rule engine (A1 §III, §IV), as served by the API. The rule
//! engine (its own issue) writes them; the store reads them here.

use chrono::{DateTime, Utc};
use liftwatch_core::protocol::Timestamp;
use serde::Serialize;

use crate::postgres::ts;
use crate::{PgStore, StoreError};

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

impl PgStore {
    /// Findings, newest first.
    pub async fn findings(&self, f: &FindingFilter) -> Result<Vec<Finding>, StoreError> {
        let c = self.pool.get().await?;
        let rows = c
            .query(
                "SELECT id, rule, project_id, firm_id, action, severity, summary, opened_at, closed_at, state \
                 FROM findings WHERE ($1::text IS NULL OR project_id = $1) AND ($2::text IS NULL OR firm_id = $2) \
                 AND ($3::text IS NULL OR state = $3) ORDER BY opened_at DESC, id LIMIT $4 OFFSET $5",
                &[&f.project, &f.firm, &f.state, &f.limit, &f.offset],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Finding {
                id: r.get(0),
                rule: r.get(1),
                project: r.get(2),
                firm: r.get(3),
                action: r.get(4),
                severity: r.get(5),
                summary: r.get(6),
                opened_at: ts(r.get::<_, DateTime<Utc>>(7)),
                closed_at: r.get::<_, Option<DateTime<Utc>>>(8).map(ts),
                state: r.get(9),
            })
            .collect())
    }
}
