//! Leaving the testing pilot (A2 §四.(一)) and the stop order that follows
//! when an elevator out of it is past its inspection date (A2 §六.(一)).
//! The rule engine calls these ([`crate::rules`], rules `A2-IV-1-*` and
//! `A2-VI-1-stop`).

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::clause::Clause;
use super::facts::{EquipmentFacts, ExitReason};
use super::results::{fulfilment, CheckResult};
use super::schedule::{in_testing_pilot, items_through, CheckKind, DueItem, Regime};

/// A reason the elevator leaves (or left) the testing pilot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitGround {
    /// Why.
    pub reason: ExitReason,
    /// The clause.
    pub clause: Clause,
    /// The first day it holds.
    pub since: NaiveDate,
    /// The test not done in time (§四.(一).1).
    pub item: Option<DueItem>,
    /// The accident record (§四.(一).3).
    pub accident: Option<i64>,
}

fn day_after(d: NaiveDate) -> NaiveDate {
    d.checked_add_days(Days::new(1)).unwrap_or(NaiveDate::MAX)
}

/// Whether `item` was done within its window.
fn done_on_time(item: &DueItem, results: &[CheckResult]) -> bool {
    item.replaced_by.is_some() || fulfilment(item, results).is_some_and(|r| r.result.done_on <= item.window_to)
}

/// The tests of the pilot whose window closed before `today` without the
/// test (A2 §四.(一).1 "规定时间内未按要求完成检测"), oldest first. A test
/// done after its window does not undo it.
pub fn tests_not_done(facts: &EquipmentFacts, results: &[CheckResult], today: NaiveDate) -> Vec<DueItem> {
    items_through(facts, chrono::Datelike::year(&today))
        .into_iter()
        .filter(|i| i.regime == Regime::Pilot && i.kind == CheckKind::Test && i.window_to < today)
        .filter(|i| !done_on_time(i, results))
        .collect()
}

/// Every ground on which the elevator leaves the testing pilot by `today`,
/// oldest first: the first test not done in time, each accident (`(id, day)`,
/// this elevator's) on a day it was in the pilot, and a recorded exit
/// (which also covers §四.(一).2 and .4, decided by the regulator).
pub fn exit_grounds(
    facts: &EquipmentFacts,
    results: &[CheckResult],
    accidents: &[(i64, NaiveDate)],
    today: NaiveDate,
) -> Vec<ExitGround> {
    let mut v = Vec::new();
    if let Some(i) = tests_not_done(facts, results, today).into_iter().next() {
        v.push(ExitGround {
            reason: ExitReason::TestNotDone,
            clause: Clause::ExitTestNotDone,
            since: day_after(i.window_to),
            item: Some(i),
            accident: None,
        });
    }
    for (id, on) in accidents.iter().filter(|(_, on)| *on <= today && in_testing_pilot(facts, *on)) {
        v.push(ExitGround {
            reason: ExitReason::Accident,
            clause: Clause::ExitAccident,
            since: *on,
            item: None,
            accident: Some(*id),
        });
    }
    if let Some(x) = facts.testing_exit.as_ref().filter(|x| x.on <= today) {
        v.push(ExitGround { reason: x.reason, clause: x.reason.clause(), since: x.on, item: None, accident: None });
    }
    v.sort_by_key(|g| g.since);
    v
}

/// Why an elevator out of the testing pilot must be stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopGround {
    /// The check whose window closed without a valid check.
    pub item: DueItem,
    /// The first day past its inspection date.
    pub since: NaiveDate,
}

/// A2 §六.(一) "对于退出试点且超期的电梯，应依法责令停止使用": an elevator
/// that left the testing pilot on `exited_on` and is past its inspection
/// date on `today` must be stopped. Past its inspection date: a check of its
/// schedule closed before `today` without being done in its window, and no
/// passed inspection since the window opened (after the exit only an
/// inspection restores validity, A2 §三.6). Not while out of service.
pub fn stop_ground(
    facts: &EquipmentFacts,
    results: &[CheckResult],
    exited_on: NaiveDate,
    today: NaiveDate,
) -> Option<StopGround> {
    let stopped = facts.out_of_service.iter().any(|s| s.from <= today && s.until.is_none_or(|u| today < u));
    if exited_on > today || stopped {
        return None;
    }
    let inspections: Vec<CheckResult> = results
        .iter()
        .filter(|r| r.result.kind == CheckKind::Inspection && r.result.passed && r.result.done_on <= today)
        .cloned()
        .collect();
    items_through(facts, chrono::Datelike::year(&today))
        .into_iter()
        .filter(|i| i.window_to < today && !done_on_time(i, results))
        .find(|i| fulfilment(i, &inspections).is_none())
        .map(|item| StopGround { since: day_after(item.window_to), item })
}
