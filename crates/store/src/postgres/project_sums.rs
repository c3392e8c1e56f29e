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
    c.execute("DELETE FROM project_days WHERE project_id = $1 AND day >= $2", &[&project_id, &from]).await?;
    c.execute(
        "INSERT INTO project_days \
         SELECT m.project_id, r.day, sum(r.runs), sum(r.faults), sum(r.equipment_faults), \
                sum(r.reported_equipment_faults), sum(r.reclassified_from_equipment), sum(r.stoppages_closed), \
                sum(r.downtime_us), sum(r.stoppages_open), sum(r.entrapments), sum(r.rescues), sum(r.rescue_us), \
                sum(r.awaiting_arrival) \
         FROM memberships m JOIN rollups r ON r.elevator_id = m.elevator_id \
              AND r.day >= m.since AND (m.until IS NULL OR r.day <= m.until) \
         WHERE m.project_id = $1 AND r.day >= $2 GROUP BY m.project_id, r.day",
        &[&project_id, &from],
    )
    .await?;
    c.execute("DELETE FROM project_spans WHERE project_id = $1 AND day >= $2", &[&project_id, &from]).await?;
    c.execute(
        "INSERT INTO project_spans \
         SELECT m.project_id, c.prev_day, c.day, count(*), count(*) FILTER (WHERE c.odometer_runs IS NULL), \
                coalesce(sum(c.runs_in_span) FILTER (WHERE c.odometer_runs IS NOT NULL), 0), \
                coalesce(sum(c.odometer_runs), 0) \
         FROM memberships m JOIN counter_readings c ON c.elevator_id = m.elevator_id \
              AND c.prev_day >= m.since AND (m.until IS NULL OR c.day <= m.until) \
         WHERE m.project_id = $1 AND c.day >= $2 GROUP BY m.project_id, c.prev_day, c.day",
        &[&project_id, &from],
    )
    .await?;
    Ok(())
}
