//! Registry queries (api-v1.md "Registry"). The registry's types — firms,
//! projects, elevators, their validation and the pilot's rules about them —
//! are the core's ([`liftwatch_core::registry`]); what stays here is only
//! about querying the store.

use liftwatch_core::registry::{ProjectMode, ProjectStatus};

/// Filters of the project list.
#[derive(Clone, Debug, Default)]
pub struct ProjectFilter {
    /// Only this firm's.
    pub firm: Option<String>,
    /// Only this status.
    pub status: Option<ProjectStatus>,
    /// Only this mode.
    pub mode: Option<ProjectMode>,
    /// Page size.
    pub limit: i64,
    /// Rows skipped.
    pub offset: i64,
}
