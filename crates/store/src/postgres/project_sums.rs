//! Project-day sums (migration V13, docs/storage.md "Project sums"): the
//! rollups of a project's member elevator-days summed per day, and its
//! counter-reading spans per (previous day, day), so that a project's KPIs
//! read at most a row per day of the window. Exact: ingest adds to them in
//! the transaction that adds to the rollups ([`super::incidents::add_rollups`];
//! spans by the `counter_readings` trigger), and a membership change
//! rebuilds the project's rows from the first day it changes ([`rebuild`]).
//!
//! Ingest and incident writes hold advisory lock [`LOCK`] shared from the
//! start of their transaction ([`hold_shared`]); a membership change holds
//! it exclusive ([`hold_exclusive`]). So a rebuild sees every committed
//! delta, and no delta is added under a membership it does not see.

use chrono::NaiveDate;
use tokio_postgres::GenericClient;

use crate::StoreError;

/// The advisory lock between deltas (shared) and rebuilds (exclusive).
pub(crate) const LOCK: i64 = 7_460_002;

/// Takes [`LOCK`] shared until the transaction ends: first in any
/// transaction that may add rollup or span deltas, before any row lock.
pub(crate) async fn hold_shared<C: GenericClient>(c: &C) -> Result<(), StoreError> {
    c.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&LOCK]).await?;
    Ok(())
}

/// Takes [`LOCK`] exclusive until the transaction ends (membership changes).
pub(crate) async fn hold_exclusive<C: GenericClient>(c: &C) -> Result<(), StoreError> {
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK]).await?;
    Ok(())
}

/// Recomputes the sums of `project_id` on days from `from` on (spans
/// ending from `from` on) from the rollups, readings and memberships.
pub(crate) async fn rebuild<C: GenericClient>(c: &C, project_id: &str, from: NaiveDate) -> Result<(), StoreError> {
    for sql in crate::registry::rebuild_project_sums('$') {
        c.execute(sql.as_str(), &[&project_id, &from]).await?;
    }
    Ok(())
}
