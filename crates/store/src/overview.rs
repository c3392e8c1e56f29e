//! Every project's KPIs at once (the regulator overview, issue 13 item 2):
//! what each adapter reads in a fixed number of queries grouped by project,
//! whatever the number of projects, assembled here into the same
//! [`KpiReport`]s as one `project_kpis` per project would give.

use std::collections::HashMap;

use liftwatch_core::completeness::{Completeness, SpanSums};
use liftwatch_core::kpi::{Commitment, KpiReport, Subject};
use liftwatch_core::protocol::Timestamp;
use liftwatch_core::rollup::DayRollup;
use liftwatch_core::window::Window;

/// One project of the overview.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectOverview {
    /// Its KPIs, as [`crate::port::Kpis::project_kpis`] answers them.
    pub kpis: KpiReport,
    /// Its open findings.
    pub open_findings: i64,
}

/// The figures of every project over a window, grouped by project id (a
/// project absent from a map has none of that kind).
#[derive(Default)]
pub(crate) struct Grouped {
    /// Rollup sums of its elevators on their member days.
    pub totals: HashMap<String, DayRollup>,
    /// Elevators that belonged on a day of the window.
    pub elevators: HashMap<String, i64>,
    /// Counter spans on member days.
    pub spans: HashMap<String, SpanSums>,
    /// Start of the oldest open equipment stoppage begun in the window.
    pub oldest_open: HashMap<String, Timestamp>,
    /// Alarm of the oldest entrapment awaiting arrival begun in the window.
    pub oldest_awaiting: HashMap<String, Timestamp>,
    /// Open findings.
    pub open_findings: HashMap<String, i64>,
}

impl Grouped {
    /// The overview of `projects` (id and commitment), in their order.
    pub(crate) fn reports(mut self, projects: Vec<(String, Option<Commitment>)>, w: Window) -> Vec<ProjectOverview> {
        projects
            .into_iter()
            .map(|(id, commitment)| {
                let n = self.elevators.get(&id).copied().unwrap_or(0);
                let t = self.totals.remove(&id).unwrap_or_default();
                let mut k =
                    KpiReport::new(Subject::Project(id.clone()), w, usize::try_from(n).unwrap_or(0), &t, commitment);
                k.completeness = Completeness::new(self.spans.get(&id).copied().unwrap_or_default());
                // As `project_kpis`: the ages only beside an open count.
                if k.downtime.open > 0 || k.rescue.awaiting_arrival > 0 {
                    k.downtime.oldest_open_since = self.oldest_open.get(&id).copied();
                    k.rescue.oldest_awaiting_since = self.oldest_awaiting.get(&id).copied();
                }
                ProjectOverview { open_findings: self.open_findings.get(&id).copied().unwrap_or(0), kpis: k }
            })
            .collect()
    }
}
