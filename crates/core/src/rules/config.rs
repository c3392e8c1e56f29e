//! Every threshold of the rules, with the notice's defaults where it sets
//! one and liftwatch's where it does not (each says which). Deserialised from
//! the `[rules]` table of the configuration file; a missing key takes its
//! default, an unknown key is refused (a typo must not silently keep a default).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::catalogue::Action;
use crate::pilot::{
    DEFAULT_GRADE_1_REPAIR_HOURS, DEFAULT_GRADE_2_REPAIR_HOURS, DEFAULT_GRADE_3_REPAIR_HOURS,
    DEFAULT_RESCUE_LIMIT_MINUTES, PILOT_BAN_YEARS,
};
use crate::protocol::Grade;

/// All thresholds of the rules.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// Entry conditions kept after admission.
    pub entry: EntryConfig,
    /// The maintenance plan (on-site and remote-check intervals).
    pub plan: PlanConfig,
    /// Real-time monitoring of `iot` projects.
    pub iot: IotConfig,
    /// KPIs against the commitment.
    pub kpi: KpiConfig,
    /// Repair deadlines by fault grade.
    pub repair: RepairConfig,
    /// Rescue arrival.
    pub rescue: RescueConfig,
    /// Complaints.
    pub complaints: ComplaintsConfig,
    /// Periodic inspections.
    pub inspections: InspectionsConfig,
    /// Accidents.
    pub accidents: AccidentsConfig,
    /// The 2-year bans.
    pub bans: BansConfig,
    /// When findings resolve.
    pub hysteresis: Hysteresis,
}

/// Entry conditions after admission (A1 §IV.(一).4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EntryConfig {
    /// A notice this many days before an elevator's insurance ends (0: none).
    /// liftwatch's default: 30.
    pub insurance_warn_days: u32,
}

impl Default for EntryConfig {
    fn default() -> Self {
        EntryConfig { insurance_warn_days: 30 }
    }
}

/// The maintenance plan (A1 §I.(二), §III.(一)). The intervals themselves are
/// the notice's and not configurable ([`crate::pilot::max_onsite_interval_months`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanConfig {
    /// A notice this many days before on-site maintenance is due (0: none). liftwatch's default: 7.
    pub onsite_warn_days: u32,
    /// A notice this many days before a remote check is due (0: none). liftwatch's default: 3.
    pub remote_check_warn_days: u32,
}

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig { onsite_warn_days: 7, remote_check_warn_days: 3 }
    }
}

/// Real-time monitoring of `iot` projects (A1 §I.(二).1). The source sets no
/// number: these are liftwatch's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IotConfig {
    /// A box heard of longer ago than this is silent. Default 24 h.
    pub silent_after_hours: u32,
    /// Runs missing by the odometer, as a share of those it counted, above
    /// which monitoring is not in place. Default 0.05.
    pub max_missing_runs_share: f64,
    /// Fewer runs counted by the odometer than this measure nothing. Default 100.
    pub min_odometer_runs: i64,
    /// Rectify when the condition has lasted this long. Default 7 days.
    pub rectify_after_days: u32,
    /// Exit (A1 §IV.(一).4) when it has lasted this long. Default 30 days.
    pub exit_after_days: u32,
}

impl Default for IotConfig {
    fn default() -> Self {
        IotConfig {
            silent_after_hours: 24,
            max_missing_runs_share: 0.05,
            min_odometer_runs: 100,
            rectify_after_days: 7,
            exit_after_days: 30,
        }
    }
}

/// KPIs against the commitment (A1 §II.(一)). The source sets no number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KpiConfig {
    /// A KPI breaches when above `target × (1 + tolerance)`. Default 0.
    pub tolerance: f64,
    /// An open KPI finding holds until the KPI is at or below
    /// `target × (1 − resolve_margin)`: a value hovering at the target does
    /// not flap. Default 0.05.
    pub resolve_margin: f64,
    /// A notice first; rectify when the finding has been open this long. Default 30 days.
    pub rectify_after_days: u32,
    /// The fault rate is judged over at least this many runs. Default 1000.
    pub min_runs: i64,
    /// The fault rate is not judged when the runs received are a smaller
    /// share than this of those the odometers counted (the rate would be
    /// overstated); an unmeasured share does not hold it back. Default 0.9.
    pub min_runs_share: f64,
    /// Downtime is judged over at least this many closed stoppages. Default 1.
    pub min_stoppages: i64,
    /// Rescue time is judged over at least this many rescues. Default 1.
    pub min_rescues: i64,
}

impl Default for KpiConfig {
    fn default() -> Self {
        KpiConfig {
            tolerance: 0.0,
            resolve_margin: 0.05,
            rectify_after_days: 30,
            min_runs: 1000,
            min_runs_share: 0.9,
            min_stoppages: 1,
            min_rescues: 1,
        }
    }
}

/// Repair deadlines by fault grade (A1 §V.(一).2; defaults of the protocol spec).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RepairConfig {
    /// Grade 1, hours. Default 4.
    pub grade_1_hours: u32,
    /// Grade 2, hours. Default 24.
    pub grade_2_hours: u32,
    /// Grade 3 and unknown codes, hours. Default 72.
    pub grade_3_hours: u32,
}

impl Default for RepairConfig {
    fn default() -> Self {
        RepairConfig {
            grade_1_hours: DEFAULT_GRADE_1_REPAIR_HOURS,
            grade_2_hours: DEFAULT_GRADE_2_REPAIR_HOURS,
            grade_3_hours: DEFAULT_GRADE_3_REPAIR_HOURS,
        }
    }
}

impl RepairConfig {
    /// The deadline of a grade, hours.
    pub fn hours(&self, grade: Grade) -> u32 {
        match grade {
            1 => self.grade_1_hours,
            2 => self.grade_2_hours,
            _ => self.grade_3_hours,
        }
    }
}

/// Rescue arrival (TSG T5002: 30 minutes in city districts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RescueConfig {
    /// Limit from alarm to arrival, minutes. Default 30.
    pub limit_minutes: u32,
    /// Limits of regions that differ (rural areas, islands), by the
    /// project's region name.
    pub limit_minutes_by_region: BTreeMap<String, u32>,
    /// Entrapments alarmed within this many days are judged. Default 30.
    pub lookback_days: u32,
}

impl Default for RescueConfig {
    fn default() -> Self {
        RescueConfig {
            limit_minutes: DEFAULT_RESCUE_LIMIT_MINUTES,
            limit_minutes_by_region: BTreeMap::new(),
            lookback_days: 30,
        }
    }
}

impl RescueConfig {
    /// The limit in a region (the default when it has none of its own).
    pub fn limit_for(&self, region: Option<&str>) -> u32 {
        region.and_then(|r| self.limit_minutes_by_region.get(r)).copied().unwrap_or(self.limit_minutes)
    }
}

/// Complaints (A1 §III.(三) "较多", §IV.(一).3 "频繁": the source sets no number).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplaintsConfig {
    /// Complaints received within this many days count. Default 180 (the KPI months).
    pub window_days: u32,
    /// Verified safety/quality complaints for a notice. Default 1.
    pub notice_at: u32,
    /// Verified safety/quality complaints for rectification ("较多"). Default 3.
    pub rectify_at: u32,
    /// Verified complaints caused by maintenance quality for exit ("频繁"). Default 5.
    pub exit_at: u32,
}

impl Default for ComplaintsConfig {
    fn default() -> Self {
        ComplaintsConfig { window_days: 180, notice_at: 1, rectify_at: 3, exit_at: 5 }
    }
}

/// Periodic inspections (A1 §IV.(一).2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InspectionsConfig {
    /// Days to rectify a failed periodic inspection when no order sets a
    /// deadline. liftwatch's default: 30.
    pub rectify_days: u32,
}

impl Default for InspectionsConfig {
    fn default() -> Self {
        InspectionsConfig { rectify_days: 30 }
    }
}

/// Accidents (A1 §IV.(二).4–5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccidentsConfig {
    /// An accident not attributed to maintenance is noticed for this many days. Default 180.
    pub notice_days: u32,
}

impl Default for AccidentsConfig {
    fn default() -> Self {
        AccidentsConfig { notice_days: 180 }
    }
}

/// The bans after an exit or a disqualification (A1 §IV.(一) ¶last, §IV.(二) ¶last: 2 years).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BansConfig {
    /// Years before the same firm may bring an exited project back. Default 2.
    pub exit_years: u32,
    /// Years before a disqualified firm may apply again in the city. Default 2.
    pub disqualification_years: u32,
}

impl Default for BansConfig {
    fn default() -> Self {
        BansConfig { exit_years: PILOT_BAN_YEARS, disqualification_years: PILOT_BAN_YEARS }
    }
}

/// When an open finding whose condition is no longer found resolves (like
/// Prometheus' `keep_firing_for`): only after the condition has been absent
/// for `clear_for_minutes` **and** `clear_evaluations` evaluations in a row,
/// so a condition that comes and goes does not open and resolve findings in
/// a storm. Findings whose action is in `sticky` never resolve by
/// themselves (an exit or a disqualification is a decision, not a reading).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hysteresis {
    /// Minutes the condition must stay absent. Default 60.
    pub clear_for_minutes: u32,
    /// Evaluations in a row it must stay absent. Default 2.
    pub clear_evaluations: u32,
    /// Actions whose findings stay open until a person closes them. Default exit, disqualify.
    pub sticky: Vec<Action>,
}

impl Default for Hysteresis {
    fn default() -> Self {
        Hysteresis { clear_for_minutes: 60, clear_evaluations: 2, sticky: vec![Action::Exit, Action::Disqualify] }
    }
}
