//! The catalogue: every rule with its stable id, the clause it rests on
//! (quoted from the source, with an English rendering), the actions it can
//! take, and where its thresholds are configured. docs/rules.md is this
//! table in prose.

use crate::validation::wire_enum;

wire_enum! {
    /// What a finding asks for, weakest first: the order is the order of
    /// escalation (a finding's action only grows, see
    /// [`super::lifecycle::reconcile`]).
    pub enum Action as "action" {
        /// A warning without sanction (督促): the firm should act before it
        /// becomes a breach. liftwatch's, not a sanction of the source.
        Notice = "notice",
        /// The regulator orders rectification within a deadline (责令限期整改, A1 §III).
        Rectify = "rectify",
        /// An elevator must be stopped (责令停止使用, A2 §VI.(一)): rule
        /// `A2-VI-1-stop`.
        Stop = "stop",
        /// The project leaves the pilot (试点项目退出, A1 §IV.(一)); for a
        /// finding about an elevator with no project (the `A2-IV-1-*` rules),
        /// the elevator leaves the testing pilot (终止检测试点, A2 §IV.(一))
        /// and its maintenance project is untouched.
        Exit = "exit",
        /// The firm loses its pilot status in the city (取消试点资格, A1 §IV.(二)).
        Disqualify = "disqualify",
    }
}

wire_enum! {
    /// How urgent a finding is, least first.
    pub enum Severity as "severity" {
        /// For information (a deadline coming).
        Info = "info",
        /// A breach with no immediate risk.
        Minor = "minor",
        /// A breach of the pilot's conditions.
        Major = "major",
        /// Passengers at risk now, or the project or firm is out.
        Critical = "critical",
    }
}

wire_enum! {
    /// The rules, in catalogue order. The wire form (`rule` in
    /// `GET /api/v1/findings`) is the clause in ASCII (`A1-III-1` is
    /// A1 §III.(一)) and a slug; it never changes once published.
    pub enum RuleId as "rule" {
        /// Entry condition A1 §I.(一).1 lapsed: the firm's self-declaration is not published.
        SelfDeclarationLapsed = "A1-IV-1-4-self-declaration",
        /// Entry condition A1 §I.(一).2 lapsed (or about to): an elevator is not insured.
        InsuranceLapsed = "A1-IV-1-4-insurance",
        /// Entry condition A1 §I.(一).3 lapsed: the previous year's grade is C or lower.
        GradeLapsed = "A1-IV-1-4-grade",
        /// An `iot` project's box is silent or loses runs: no real-time monitoring (A1 §I.(二).1).
        IotMonitoring = "A1-I-2-1-iot-monitoring",
        /// The on-site maintenance gap of the mode is exceeded (or about to be) (A1 §III.(一)).
        OnsiteInterval = "A1-III-1-onsite-interval",
        /// The 15-day remote check of a `remote*` mode is late (or about to be) (A1 §III.(一)).
        RemoteCheckInterval = "A1-III-1-remote-check-interval",
        /// The fault rate is above the commitment over the rolling window (A1 §II.(一)).
        FaultRate = "A1-II-1-fault-rate",
        /// The mean downtime is above the commitment (A1 §II.(一)).
        Downtime = "A1-II-1-downtime",
        /// The mean rescue time is above the commitment (A1 §II.(一)).
        RescueTime = "A1-II-1-rescue-time",
        /// A graded fault is still open past its grade's repair deadline (A1 §V.(一).2).
        RepairDeadline = "A1-V-1-2-repair-deadline",
        /// A rescuer reached trapped passengers later than the limit, or has not yet (TSG T5002).
        RescueArrival = "TSG-T5002-rescue-arrival",
        /// Supervision or a spot check found a safety hazard not yet rectified (A1 §III.(二)).
        Hazard = "A1-III-2-hazard",
        /// Many verified complaints about safety or quality (A1 §III.(三)).
        Complaints = "A1-III-3-complaints",
        /// A rectification order was not completed by its deadline (A1 §IV.(一).1).
        RectificationOverdue = "A1-IV-1-1-rectification-overdue",
        /// A failed periodic inspection, not rectified in time (A1 §IV.(一).2).
        PeriodicInspection = "A1-IV-1-2-periodic-inspection",
        /// Frequent verified complaints caused by maintenance quality (A1 §IV.(一).3).
        FrequentComplaints = "A1-IV-1-3-complaints",
        /// A safety accident caused by poor maintenance (A1 §IV.(二).4).
        MaintenanceAccident = "A1-IV-2-4-accident",
        /// An accident on a pilot elevator, for the regulator to judge (A1 §IV.(二).5).
        Accident = "A1-IV-2-5-accident",
        /// The firm is disqualified: its projects end (A1 §IV.(二) ¶last).
        FirmDisqualified = "A1-IV-2-last-projects-end",
        /// A test of the adjusted schedule was not done within its window (A2 §IV.(一).1).
        TestNotDone = "A2-IV-1-1-test-not-done",
        /// An accident on an elevator in the testing pilot (A2 §IV.(一).3).
        TestingAccident = "A2-IV-1-3-accident",
        /// An elevator out of the testing pilot is past its inspection date (A2 §VI.(一)).
        StopOverdue = "A2-VI-1-stop",
    }
}

/// One rule of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    /// The rule.
    pub id: RuleId,
    /// The clause, cited as docs/pilot.md §1 says (`A1 §III.(一)`).
    pub clause: &'static str,
    /// The clause's words in the source (Chinese).
    pub quote_zh: &'static str,
    /// What the rule checks, in English.
    pub condition_en: &'static str,
    /// The actions it can take, weakest first.
    pub actions: &'static [Action],
    /// Its section of [`super::RulesConfig`] (`""`: no threshold).
    pub config: &'static str,
}

use Action::*;

const fn rule(
    id: RuleId,
    clause: &'static str,
    quote_zh: &'static str,
    condition_en: &'static str,
    actions: &'static [Action],
    config: &'static str,
) -> RuleInfo {
    RuleInfo { id, clause, quote_zh, condition_en, actions, config }
}

const Q_IV_1_4: &str = "电梯设备、维保单位、使用单位情况发生变化，无法满足试点申请条件要求的";

/// Every rule, in the order of [`RuleId::ALL`].
pub const CATALOGUE: &[RuleInfo] = &[
    rule(
        RuleId::SelfDeclarationLapsed,
        "A1 §IV.(一).4 (condition A1 §I.(一).1)",
        Q_IV_1_4,
        "the firm's maintenance standard and quality commitment are not published (self_declaration_url)",
        &[Exit],
        "",
    ),
    rule(
        RuleId::InsuranceLapsed,
        "A1 §IV.(一).4 (condition A1 §I.(一).2)",
        Q_IV_1_4,
        "an elevator of the project is not covered by liability insurance today; a notice when a cover ends soon",
        &[Notice, Exit],
        "entry",
    ),
    rule(
        RuleId::GradeLapsed,
        "A1 §IV.(一).4 (condition A1 §I.(一).3)",
        Q_IV_1_4,
        "the firm's grade for the previous year (else its current grade) is C or D",
        &[Exit],
        "",
    ),
    rule(
        RuleId::IotMonitoring,
        "A1 §I.(二).1; A1 §IV.(一).4",
        "试点单位能够通过物联网系统实时监测电梯的运行状况，能够实施在线实时检查维护的",
        "an elevator of an iot project has sent nothing for longer than the threshold, or its odometer counted more runs than were received beyond the threshold",
        &[Notice, Rectify, Exit],
        "iot",
    ),
    rule(
        RuleId::OnsiteInterval,
        "A1 §III.(一); intervals A1 §I.(二)",
        "试点项目未按维保方案实施维保",
        "no on-site maintenance (recorded visit or box maintenance event) within the mode's months (iot 3, remote_pension 3, remote_full_service 2, remote 1); a notice when due soon",
        &[Notice, Rectify],
        "plan",
    ),
    rule(
        RuleId::RemoteCheckInterval,
        "A1 §III.(一); interval A1 §I.(二).2–4",
        "试点单位能够每15天通过现场照片、视频等信息化手段进行远程检查维护",
        "a remote* project's elevator has had no remote check (or on-site visit) for more than 15 days; a notice when due soon",
        &[Notice, Rectify],
        "plan",
    ),
    rule(
        RuleId::FaultRate,
        "A1 §II.(一) ¶2; A1 §III.(一)",
        "故障率是指统计试点项目范围内所有电梯，6个月内平均每台电梯每运行10000次，由于设备本体原因造成的故障次数",
        "the project's fault rate over the rolling 6 months is above the committed one; a notice first, rectify when it persists",
        &[Notice, Rectify],
        "kpi",
    ),
    rule(
        RuleId::Downtime,
        "A1 §II.(一) ¶2; A1 §III.(一)",
        "停梯时间是指统计试点项目范围内所有电梯，6个月内由于设备本体原因造成电梯停梯至恢复正常运行所用时间的平均值",
        "the project's mean downtime over the rolling 6 months is above the committed one; a notice first, rectify when it persists",
        &[Notice, Rectify],
        "kpi",
    ),
    rule(
        RuleId::RescueTime,
        "A1 §II.(一) ¶2; A1 §III.(一)",
        "救援时间是指统计试点项目范围内所有电梯，6个月内电梯困人后接到报警至到达被困现场所用时间的平均值",
        "the project's mean rescue time over the rolling 6 months is above the committed one; a notice first, rectify when it persists",
        &[Notice, Rectify],
        "kpi",
    ),
    rule(
        RuleId::RepairDeadline,
        "A1 §V.(一).2",
        "对于电梯安全运行监测系统所监测的故障应进行分级分类管理，并针对分级分类的故障项目提出修复和保养的时效要求",
        "a fault (cause not external or usage) is still open past its grade's repair deadline",
        &[Rectify],
        "repair",
    ),
    rule(
        RuleId::RescueArrival,
        "TSG T5002 (not in N, A1 or A2)",
        "",
        "an entrapment's rescuer arrived later than the region's limit (rectify), or has not arrived and the limit has passed since the alarm (notice)",
        &[Notice, Rectify],
        "rescue",
    ),
    rule(
        RuleId::Hazard,
        "A1 §III.(二)",
        "监督检查、维保质量抽查过程中发现电梯存在安全隐患的",
        "a supervision or spot check found a hazard and no rectification order citing it has been completed",
        &[Rectify],
        "",
    ),
    rule(
        RuleId::Complaints,
        "A1 §III.(三)",
        "电梯安全质量方面投诉举报较多并经核实的",
        "verified complaints about safety or quality in the window reach the notice or the rectify count",
        &[Notice, Rectify],
        "complaints",
    ),
    rule(
        RuleId::RectificationOverdue,
        "A1 §IV.(一).1",
        "规定时间内未按要求完成整改的",
        "a rectification order was not completed by its deadline (open after it, or completed later)",
        &[Exit],
        "",
    ),
    rule(
        RuleId::PeriodicInspection,
        "A1 §IV.(一).2",
        "试点项目中有电梯定期检验不合格，且未按规定限期完成整改的",
        "a periodic inspection failed: rectify until its deadline (the order's, else the configured days), exit when not rectified by then",
        &[Rectify, Exit],
        "inspections",
    ),
    rule(
        RuleId::FrequentComplaints,
        "A1 §IV.(一).3",
        "频繁受到投诉举报，经查实为维保质量原因造成的",
        "verified complaints caused by maintenance quality in the window reach the exit count",
        &[Exit],
        "complaints",
    ),
    rule(
        RuleId::MaintenanceAccident,
        "A1 §IV.(二).4",
        "试点维保单位发生因维保质量不到位造成的安全责任事故的",
        "an accident on one of the firm's pilot elevators was caused by poor maintenance",
        &[Disqualify],
        "",
    ),
    rule(
        RuleId::Accident,
        "A1 §IV.(二).5",
        "监督检查发现严重问题、试点电梯发生事故或造成恶劣社会影响突发事件的",
        "an accident not attributed to maintenance on a pilot elevator in the look-back: a notice for the regulator to judge",
        &[Notice],
        "accidents",
    ),
    rule(
        RuleId::FirmDisqualified,
        "A1 §IV.(二) ¶last",
        "试点单位按需维保资格取消后，其试点的所有按需维保试点项目维保合同同步终止",
        "the project's firm is disqualified (recorded, or by a disqualify finding): the project leaves the pilot",
        &[Exit],
        "",
    ),
    rule(
        RuleId::TestNotDone,
        "A2 §IV.(一).1",
        "规定时间内未按要求完成检测的",
        "a test of the adjusted schedule (crate::inspection) closed its window (due month ± 2 months) without a test or inspection done in it: the elevator leaves the testing pilot (project untouched)",
        &[Exit],
        "",
    ),
    rule(
        RuleId::TestingAccident,
        "A2 §IV.(一).3",
        "电梯发生事故或造成恶劣社会影响突发事件的",
        "an accident recorded on an elevator on a day it was in the testing pilot: the elevator leaves the testing pilot (project untouched)",
        &[Exit],
        "",
    ),
    rule(
        RuleId::StopOverdue,
        "A2 §VI.(一)",
        "对于退出试点且超期的电梯，应依法责令停止使用",
        "an elevator out of the testing pilot (recorded exit, or an A2-IV-1 finding) has a check whose window closed undone and no passed inspection since: it must be stopped until inspected",
        &[Stop],
        "",
    ),
];

impl RuleId {
    /// Its entry in the [`CATALOGUE`].
    pub fn info(self) -> &'static RuleInfo {
        &CATALOGUE[self as usize]
    }

    /// The clause it rests on.
    pub fn clause(self) -> &'static str {
        self.info().clause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_lists_every_rule_once_in_order() {
        assert_eq!(CATALOGUE.len(), RuleId::ALL.len());
        for (i, r) in RuleId::ALL.iter().enumerate() {
            assert_eq!(CATALOGUE[i].id, *r, "{r}");
            assert!(!r.info().actions.is_empty());
            assert!(r.info().actions.windows(2).all(|w| w[0] < w[1]), "{r}: weakest first");
            assert!(r.as_str().is_ascii() && !r.as_str().contains(' '), "{r}");
        }
    }

    #[test]
    fn actions_escalate_in_order() {
        assert!(Notice < Rectify && Rectify < Stop && Stop < Exit && Exit < Disqualify);
        assert_eq!(Action::NAMES, ["notice", "rectify", "stop", "exit", "disqualify"]);
        assert_eq!("A1-III-1-onsite-interval".parse::<RuleId>().unwrap(), RuleId::OnsiteInterval);
    }
}
