//! Registry queries (api-v1.md "Registry"). The registry's types — firms,
//! projects, elevators, their validation and the pilot's rules about them —
//! are the core's ([`liftwatch_core::registry`]); what stays here is only
//! about querying the store.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use chrono::NaiveDate;
use liftwatch_core::pilot::{membership_end_on_removal, membership_start};
use liftwatch_core::registry::{ElevatorSpec, ProjectMode, ProjectSpec, ProjectStatus};

use crate::StoreError;

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

/// What a put of a project does to its membership history, decided here from
/// the project's current memberships by the core's rules
/// ([`liftwatch_core::pilot::membership`]) and written by each adapter in a
/// few set-based statements (a registration of 10,000 elevators is not
/// 10,000 round trips).
#[derive(Debug)]
pub(crate) struct MembershipPlan<'a, Id> {
    /// Current memberships left out that had begun: `(elevator, since,
    /// last day)`; they end the day before the request.
    pub ended: Vec<(Id, NaiveDate, NaiveDate)>,
    /// Current memberships left out that had not begun: `(elevator, since)`;
    /// they are removed.
    pub removed: Vec<(Id, NaiveDate)>,
    /// New members `(elevator, spec, first day)`, in device code order (the
    /// first overlap found is reported).
    pub joining: Vec<(Id, &'a ElevatorSpec, NaiveDate)>,
}

/// The statements that recompute the project sums (docs/storage.md
/// "Project sums") of project `{1}` from day `{2}` on (spans ending from
/// then on) from the rollups, readings and memberships, for an adapter whose
/// numbered placeholders start with `ph` (`$` or `?`). Both bind (project,
/// day).
pub(crate) fn rebuild_project_sums(ph: char) -> [String; 4] {
    [
        "DELETE FROM project_days WHERE project_id = $1 AND day >= $2",
        "INSERT INTO project_days \
         SELECT m.project_id, r.day, sum(r.runs), sum(r.faults), sum(r.equipment_faults), \
                sum(r.reported_equipment_faults), sum(r.reclassified_from_equipment), sum(r.stoppages_closed), \
                sum(r.downtime_us), sum(r.stoppages_open), sum(r.entrapments), sum(r.rescues), sum(r.rescue_us), \
                sum(r.awaiting_arrival) \
         FROM memberships m JOIN rollups r ON r.elevator_id = m.elevator_id \
              AND r.day >= m.since AND (m.until IS NULL OR r.day <= m.until) \
         WHERE m.project_id = $1 AND r.day >= $2 GROUP BY m.project_id, r.day",
        "DELETE FROM project_spans WHERE project_id = $1 AND day >= $2",
        "INSERT INTO project_spans (project_id, prev_day, day, pairs, resets, runs_reported, runs_by_odometer) \
         SELECT m.project_id, c.prev_day, c.day, count(*), count(*) FILTER (WHERE c.odometer_runs IS NULL), \
                coalesce(sum(c.runs_in_span) FILTER (WHERE c.odometer_runs IS NOT NULL), 0), \
                coalesce(sum(c.odometer_runs), 0) \
         FROM memberships m JOIN counter_readings c ON c.elevator_id = m.elevator_id \
              AND c.prev_day >= m.since AND (m.until IS NULL OR c.day <= m.until) \
         WHERE m.project_id = $1 AND c.day >= $2 GROUP BY m.project_id, c.prev_day, c.day",
    ]
    .map(|sql| sql.replace('$', &ph.to_string()))
}

impl<Id> MembershipPlan<'_, Id> {
    /// The first day whose membership the plan changes (from which the
    /// project's sums are rebuilt), if it changes any.
    pub(crate) fn first_changed_day(&self) -> Option<NaiveDate> {
        let ended = self.ended.iter().filter_map(|(_, _, until)| until.succ_opt());
        let removed = self.removed.iter().map(|(_, since)| *since);
        let joining = self.joining.iter().map(|(_, _, since)| *since);
        ended.chain(removed).chain(joining).min()
    }
}

/// The [`MembershipPlan`] of putting `p` on `today`: `listed` are its
/// elevators with their stored ids, `open` the project's current memberships
/// `(elevator, since)`. A listed current member whose asked `since` differs
/// from the stored one is a conflict (a put does not rewrite history).
pub(crate) fn plan_memberships<'a, Id: Copy + Eq + Hash>(
    p: &ProjectSpec,
    listed: Vec<(Id, &'a ElevatorSpec)>,
    open: impl IntoIterator<Item = (Id, NaiveDate)>,
    created: bool,
    today: NaiveDate,
) -> Result<MembershipPlan<'a, Id>, StoreError> {
    let by_id: HashMap<Id, &ElevatorSpec> = listed.iter().copied().collect();
    let (mut ended, mut removed, mut current) = (Vec::new(), Vec::new(), HashSet::new());
    for (id, since) in open {
        match by_id.get(&id) {
            Some(e) => {
                if let Some(asked) = e.since.filter(|s| *s != since) {
                    return Err(StoreError::Conflict(format!(
                        "elevator {} belongs to project {} since {since}; a put cannot move that to {asked} \
                         (history is kept: leave `since` out for current members)",
                        e.device_code, p.id
                    )));
                }
                current.insert(id);
            }
            None => match membership_end_on_removal(since, today) {
                Some(until) => ended.push((id, since, until)),
                None => removed.push((id, since)),
            },
        }
    }
    let mut joining: Vec<_> = listed
        .into_iter()
        .filter(|(id, _)| !current.contains(id))
        .map(|(id, e)| (id, e, membership_start(e.since, created, p.admitted_on, today)))
        .collect();
    joining.sort_by_key(|(_, e, _)| e.device_code);
    Ok(MembershipPlan { ended, removed, joining })
}

/// The refusal of a new member `device` that belongs to project `other`
/// from `from` on a day it would belong to this one.
pub(crate) fn overlap(device: &str, other: &str, from: NaiveDate) -> StoreError {
    StoreError::Conflict(format!(
        "elevator {device} belongs to project {other} since {from}; it can belong to one project on any day"
    ))
}
