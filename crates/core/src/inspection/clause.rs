//! The clauses of attachment 2 (A2, 舟山市调整电梯检验检测方式试点工作实施方案)
//! that the schedule, the results and the exit and stop rules rest on, each
//! with a stable id, its citation, the source's words and an English
//! rendering. Every [`super::DueItem`] carries the id of the clause that
//! makes it due. docs/inspection.md is this table in prose.
//!
//! Ids follow the rule catalogue's convention ([`crate::rules::RuleId`]):
//! the clause in ASCII (`A2-III-3` is A2 §三.3, `A2-IV-1-1` is A2
//! §四.(一).1) and a slug. A2 §一 is one paragraph of six sentences, so its
//! ids carry only the slug (`A2-I-inspection-years`).

use crate::validation::wire_enum;

wire_enum! {
    /// A clause behind a due check, a flag or an exit (wire: `clause`).
    pub enum Clause as "clause" {
        /// A2 §一 sentence 1: within 15 years, an inspection in years 3, 6, 8, 10, 12, 14.
        InspectionYears = "A2-I-inspection-years",
        /// A2 §一 sentence 1: within 15 years, a test in every other year.
        TestYears = "A2-I-test-years",
        /// A2 §一 sentence 1: from 15 years, one inspection and one test every year.
        Over15 = "A2-I-over-15",
        /// A2 §一 sentence 2: a modernised elevator counts as new from its supervisory inspection.
        Modernised = "A2-I-modernised",
        /// A2 §一 sentence 3: after a major repair an elevator in use 6 years or more counts as 6.
        MajorRepairOver6 = "A2-I-major-repair-over-6",
        /// A2 §一 sentence 4: a major repair's supervisory inspection replaces that year's check (under 6 years).
        MajorRepairWithin6 = "A2-I-major-repair-within-6",
        /// A2 §一 sentence 5: stopped a year or more: a test on return, an inspection too if its validity ran out.
        StoppedOver1Year = "A2-I-stopped-over-1-year",
        /// A2 §二.(二).4: test results are uploaded within 10 working days.
        Upload10WorkingDays = "A2-II-2-4-upload",
        /// A2 §三.3: a test in the month of the original inspection date, at most 2 months earlier or later.
        Window = "A2-III-3-window",
        /// A2 §三.4: an owner may stay out of the pilot: the ordinary yearly inspection.
        OptOut = "A2-III-4-opt-out",
        /// A2 §三.5 (with MISSION.md): before 2022-07-01 an elevator over 15 years takes part only on application.
        Over15Application = "A2-III-5-over-15-application",
        /// A2 §三.6: an elevator that left the testing pilot returns to periodic inspection.
        Exited = "A2-III-6-exit",
        /// A2 §四.(一).1: a test not done in the time set ends the testing pilot.
        ExitTestNotDone = "A2-IV-1-1-test-not-done",
        /// A2 §四.(一).2: the elevator no longer meets the pilot's conditions.
        ExitConditions = "A2-IV-1-2-conditions",
        /// A2 §四.(一).3: an accident or a serious incident ends the testing pilot.
        ExitAccident = "A2-IV-1-3-accident",
        /// A2 §四.(一).4: the regulator ends the testing pilot for another reason.
        ExitRegulator = "A2-IV-1-4-regulator",
        /// A2 §五.(二)–(四): the areas' start dates; before it, the ordinary yearly inspection.
        AreaStart = "A2-V-area-start",
        /// A2 §六.(一): an elevator out of the pilot and past its inspection date is stopped.
        Stop = "A2-VI-1-stop",
        /// TSG 08 (not in A2): a check missed while stopped is due on return; outside the pilot, the ordinary yearly inspection (TSG T7001).
        Ordinary = "TSG-08-ordinary",
    }
}

/// One clause: its citation, the source's words and their meaning here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClauseInfo {
    /// The clause.
    pub id: Clause,
    /// The citation (`A2 §三.3`).
    pub cite: &'static str,
    /// The source's words (Chinese).
    pub quote_zh: &'static str,
    /// What it means for the schedule, in English.
    pub meaning_en: &'static str,
}

const fn c(id: Clause, cite: &'static str, quote_zh: &'static str, meaning_en: &'static str) -> ClauseInfo {
    ClauseInfo { id, cite, quote_zh, meaning_en }
}

const Q_15: &str =
    "试点范围内安装监督检验合格后15年以内的电梯，第3、6、8、10、12、14年实施定期检验1次，其他年份实施检测1次";

/// Every clause, in the order of [`Clause::ALL`].
pub const CLAUSES: &[ClauseInfo] = &[
    c(Clause::InspectionYears, "A2 §一", Q_15, "within 15 years of the supervisory inspection: a periodic inspection (检验) in years 3, 6, 8, 10, 12 and 14"),
    c(Clause::TestYears, "A2 §一", Q_15, "within 15 years of the supervisory inspection: a test (检测) in every other year"),
    c(Clause::Over15, "A2 §一", "15年及以上的电梯，每年实施检验1次、检测1次", "from year 15: one inspection and one test every year"),
    c(Clause::Modernised, "A2 §一", "对于试点方案实施后经改造的电梯，监督检验后视同新梯开展检验和检测", "modernised (改造) after the pilot began: counted as new from the modernisation's supervisory inspection"),
    c(Clause::MajorRepairOver6, "A2 §一", "对于使用6年以上经重大修理的电梯，监督检验合格后视同使用6年的电梯开展检验和检测", "a major repair (重大修理) of an elevator in use 6 years or more: counted as 6 years old from the repair's supervisory inspection"),
    c(Clause::MajorRepairWithin6, "A2 §一", "对于使用6年以内经重大修理的电梯，监督检验合格，可以替代当年的检验或检测", "a major repair of an elevator in use less than 6 years: its supervisory inspection replaces that (calendar) year's inspection or test"),
    c(Clause::StoppedOver1Year, "A2 §一", "对于办理了相关手续且停用1年以上的电梯，重新启用时应当实施1次检测，如超过定期检验有效期的，应当在检测后实施1次定期检验", "registered as stopped for a year or more: a test on return to service, and an inspection after it if an inspection fell due while stopped"),
    c(Clause::Upload10WorkingDays, "A2 §二.(二).4", "在检测工作完成后10个工作日内将检测单位名称、检测时间和下次检测日期等信息上传至特种设备安全监管平台", "a test's result is uploaded within 10 working days of the test (China's official calendar)"),
    c(Clause::Window, "A2 §三.3", "原则上按原检验日期所在的月份实施检测，特殊情况可适当提前或延后检测时间，但提前或延后时间不应超过两个月", "a test is due in the month of the original inspection date, at most 2 months earlier or later"),
    c(Clause::OptOut, "A2 §三.4", "试点区域内使用单位不参加试点的，应在原检验合格有效期届满前一个月向检验机构提出定期检验申请，检验机构应接受申请将有效期恢复到原检验合格有效期", "an owner who stays out of the pilot keeps the ordinary yearly periodic inspection"),
    c(Clause::Over15Application, "A2 §三.5", "试点区域内安装监督检验合格后15年以上的电梯，如使用单位申请参加试点的，可在原检验合格有效期届满1个月前……提出试点申请", "before 2022-07-01 (MISSION.md), an elevator 15 years or older takes part only if its owner applied at least a month before the check"),
    c(Clause::Exited, "A2 §三.6", "试点区域内电梯达到试点退出条件的，应终止检测试点，使用单位应及时向检验机构提出定期检验要求", "an elevator that left the testing pilot returns to the ordinary yearly periodic inspection"),
    c(Clause::ExitTestNotDone, "A2 §四.(一).1", "规定时间内未按要求完成检测的", "a test due in the pilot was not done within its window"),
    c(Clause::ExitConditions, "A2 §四.(一).2", "不再满足试点条件要求的", "the elevator no longer meets the pilot's conditions (recorded by the regulator)"),
    c(Clause::ExitAccident, "A2 §四.(一).3", "电梯发生事故或造成恶劣社会影响突发事件的", "an accident, or an incident with serious public impact, on the elevator while in the pilot"),
    c(Clause::ExitRegulator, "A2 §四.(一).4", "特种设备安全监管部门认为需要终止试点的其他情况", "the regulator ends the testing pilot for another reason (recorded)"),
    c(Clause::AreaStart, "A2 §五.(二)–(四)", "先行在定海和岱山两个区域开展试点工作……增加普陀、六横、普陀山试点区域……全市范围内全面推行", "Dinghai and Daishan from 2021-01-01; Putuo, Liuheng and Putuoshan from 2021-07-01; the whole city from 2022-07-01; before, the ordinary yearly inspection"),
    c(Clause::Stop, "A2 §六.(一)", "对于退出试点且超期的电梯，应依法责令停止使用", "an elevator that left the testing pilot and is past its inspection date must be stopped"),
    c(Clause::Ordinary, "TSG 08 §3.7; TSG T7001 (not in A2)", "", "outside the pilot, a periodic inspection every year in the original inspection month; a check that fell due while stopped is due on return"),
];

impl Clause {
    /// Its entry in [`CLAUSES`].
    pub fn info(self) -> &'static ClauseInfo {
        &CLAUSES[self as usize]
    }

    /// The citation (`A2 §三.3`).
    pub fn cite(self) -> &'static str {
        self.info().cite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clause_is_listed_once_in_order() {
        assert_eq!(CLAUSES.len(), Clause::ALL.len());
        for (i, c) in Clause::ALL.iter().enumerate() {
            assert_eq!(CLAUSES[i].id, *c, "{c}");
            assert!(c.as_str().is_ascii() && !c.as_str().contains(' '), "{c}");
        }
        assert_eq!("A2-III-3-window".parse::<Clause>().unwrap(), Clause::Window);
    }
}
