//! The entry conditions (A1 §I.(一)): checked on admission
//! ([`admission_check`]) and kept after it — a later lapse takes the project
//! out of the pilot (A1 §IV.(一).4). And the 2-year bans that refuse a
//! project after an exit or a disqualification (A1 §IV.(一) ¶last, §IV.(二) ¶last).

use chrono::NaiveDate;
use serde::Serialize;

use super::catalogue::{Action, RuleId, Severity};
use super::config::RulesConfig;
use super::evaluate::Ctx;
use super::finding::{Evidence, Subject, Summary};
use super::snapshot::{Disqualification, FirmFacts, GradeSource, PilotExit, ProjectFacts};
use crate::pilot::{ban_ends, grade_allows_entry, insured_on};
use crate::registry::{ElevatorSpec, Firm, ProjectSpec};
use crate::validation::wire_enum;

wire_enum! {
    /// Why a project is refused admission: a condition of A1 §I.(一), the
    /// commitment of A1 §II.(一), or a ban of A1 §IV.
    pub enum EntryCondition as "condition" {
        /// A1 §I.(一).1: the firm's standard and commitment are published.
        SelfDeclaration = "A1-I-1-1-self-declaration",
        /// A1 §I.(一).2: every elevator is insured.
        Insurance = "A1-I-1-2-insurance",
        /// A1 §I.(一).3: the firm was not graded C or lower the previous year.
        Grade = "A1-I-1-3-grade",
        /// A1 §II.(一): the project carries the firm's commitment (at least the three KPIs).
        Commitment = "A1-II-1-commitment",
        /// A1 §IV.(一) ¶last: the project left the pilot with this firm less than 2 years ago.
        ExitBan = "A1-IV-1-last-exit-ban",
        /// A1 §IV.(二) ¶last: the firm was disqualified less than 2 years ago.
        FirmBan = "A1-IV-2-last-firm-ban",
    }
}

impl EntryCondition {
    /// The clause.
    pub fn clause(self) -> &'static str {
        match self {
            EntryCondition::SelfDeclaration => "A1 §I.(一).1",
            EntryCondition::Insurance => "A1 §I.(一).2",
            EntryCondition::Grade => "A1 §I.(一).3",
            EntryCondition::Commitment => "A1 §II.(一)",
            EntryCondition::ExitBan => "A1 §IV.(一) ¶last",
            EntryCondition::FirmBan => "A1 §IV.(二) ¶last",
        }
    }
}

/// One reason a project is refused admission.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AdmissionRefusal {
    /// The condition not met.
    pub condition: EntryCondition,
    /// Its clause.
    pub clause: &'static str,
    /// The figures used.
    pub evidence: Evidence,
    /// In words.
    pub summary: Summary,
    /// For a ban: the first day the project can be admitted (409 answers carry it).
    pub possible_from: Option<NaiveDate>,
}

/// A problem with an entry condition, as both admission and the lapse rules see it.
struct Problem {
    evidence: Evidence,
    summary: Summary,
}

fn self_declaration(firm: &Firm) -> Option<Problem> {
    (!firm.self_declared()).then(|| Problem {
        evidence: Evidence::new().figure("firm", &firm.id).figure("self_declaration_url", &firm.self_declaration_url),
        summary: Summary::new(
            format!("维保单位{}未在电梯信息公示平台公开维保工作标准和质量承诺（自我声明）", firm.id),
            format!(
                "firm {} has not published its maintenance standard and quality commitment (self-declaration)",
                firm.id
            ),
        ),
    })
}

fn grade(firm: &FirmFacts, day: NaiveDate) -> Option<Problem> {
    let (g, source) = firm.previous_year_grade(day);
    if grade_allows_entry(g) {
        return None;
    }
    let (year, evidence) = match source {
        GradeSource::Year(y) => {
            (y.to_string(), Evidence::new().figure("year", y).record("grade", format!("{}/{y}", firm.firm.id)))
        }
        GradeSource::Current => ("current".to_owned(), Evidence::new().figure("year", "current")),
    };
    Some(Problem {
        evidence: evidence.figure("firm", &firm.firm.id).figure("grade", g.as_str()),
        summary: Summary::new(
            format!("维保单位{}上年度分类结果为{g}类（C类及以下不得试点）", firm.firm.id),
            format!(
                "firm {} is graded {g} for the previous year ({year}); C or lower may not be in the pilot",
                firm.firm.id
            ),
        ),
    })
}

/// The day an elevator's insurance ends: its own cover, else the project's (form A1-2).
fn cover_until(spec: &ProjectSpec, e: &ElevatorSpec) -> Option<NaiveDate> {
    e.insured_until.or(spec.pilot_form.insured_until)
}

fn insurance_evidence(spec: &ProjectSpec, es: &[&ElevatorSpec]) -> Evidence {
    let list: Vec<_> = es
        .iter()
        .map(|e| serde_json::json!({"device_code": e.device_code, "insured_until": cover_until(spec, e)}))
        .collect();
    Evidence::new().figure("elevators", list)
}

fn codes(es: &[&ElevatorSpec]) -> String {
    es.iter().map(|e| e.device_code.as_str()).collect::<Vec<_>>().join(", ")
}

fn uninsured(spec: &ProjectSpec, day: NaiveDate) -> Option<Problem> {
    let bad: Vec<&ElevatorSpec> = spec.elevators.iter().filter(|e| !insured_on(cover_until(spec, e), day)).collect();
    (!bad.is_empty()).then(|| Problem {
        evidence: insurance_evidence(spec, &bad).figure("on", day),
        summary: Summary::new(
            format!("{}台电梯在{day}无有效电梯责任保险：{}", bad.len(), codes(&bad)),
            format!("{} elevator(s) not covered by liability insurance on {day}: {}", bad.len(), codes(&bad)),
        ),
    })
}

/// The first day the project's firm may bring it back after an exit: the
/// latest exit of the same firm from this project — the same project id or
/// any of its elevators — plus the ban's years. `None` when no exit bars it:
/// none, or the exits were with another firm (after a change of firm the
/// project may apply again, A1 §IV.(一) ¶last).
pub fn readmission_possible_from(project: &ProjectSpec, exits: &[PilotExit], years: u32) -> Option<NaiveDate> {
    exits
        .iter()
        .filter(|x| x.firm_id == project.firm_id)
        .filter(|x| x.project_id == project.id || project.elevators.iter().any(|e| x.devices.contains(&e.device_code)))
        .map(|x| ban_ends(x.on, years))
        .max()
}

/// The first day a firm may apply again in the city after its latest
/// disqualification; `None` when it was never disqualified.
pub fn firm_ban_ends(firm_id: &str, disqualifications: &[Disqualification], years: u32) -> Option<NaiveDate> {
    disqualifications.iter().filter(|d| d.firm_id == firm_id).map(|d| ban_ends(d.on, years)).max()
}

fn refusal(condition: EntryCondition, p: Problem, possible_from: Option<NaiveDate>) -> AdmissionRefusal {
    AdmissionRefusal { condition, clause: condition.clause(), evidence: p.evidence, summary: p.summary, possible_from }
}

/// Every reason `project` may not be admitted on `on` by `firm` (its
/// `firm_id`'s facts); empty when it may. In the order of
/// [`EntryCondition::ALL`].
pub fn admission_check(
    project: &ProjectSpec,
    firm: &FirmFacts,
    exits: &[PilotExit],
    disqualifications: &[Disqualification],
    on: NaiveDate,
    cfg: &RulesConfig,
) -> Vec<AdmissionRefusal> {
    let mut out = Vec::new();
    if let Some(p) = self_declaration(&firm.firm) {
        out.push(refusal(EntryCondition::SelfDeclaration, p, None));
    }
    if let Some(p) = uninsured(project, on) {
        out.push(refusal(EntryCondition::Insurance, p, None));
    } else if project.elevators.is_empty() {
        let p = Problem {
            evidence: Evidence::new().figure("elevators", 0),
            summary: Summary::new(
                "项目未列出电梯，无法确认电梯责任保险",
                "the project lists no elevator: insurance cannot be shown",
            ),
        };
        out.push(refusal(EntryCondition::Insurance, p, None));
    }
    if let Some(p) = grade(firm, on) {
        out.push(refusal(EntryCondition::Grade, p, None));
    }
    if project.commitment.is_none() {
        let p = Problem {
            evidence: Evidence::new().figure("commitment", serde_json::Value::Null),
            summary: Summary::new(
                "项目缺少维保质量目标承诺（至少包含故障率、停梯时间、救援时间）",
                "the project has no quality commitment (at least fault rate, downtime and rescue time)",
            ),
        };
        out.push(refusal(EntryCondition::Commitment, p, None));
    }
    if let Some(from) = readmission_possible_from(project, exits, cfg.bans.exit_years).filter(|d| on < *d) {
        let p = Problem {
            evidence: Evidence::new().figure("firm", &project.firm_id).figure("possible_from", from),
            summary: Summary::new(
                format!("该项目由维保单位{}退出试点未满{}年，{from}起方可再次申请；更换维保单位后可重新申请", project.firm_id, cfg.bans.exit_years),
                format!(
                    "the project left the pilot with firm {} less than {} years ago: it may apply again from {from}, or at once with another firm",
                    project.firm_id, cfg.bans.exit_years
                ),
            ),
        };
        out.push(refusal(EntryCondition::ExitBan, p, Some(from)));
    }
    let years = cfg.bans.disqualification_years;
    if let Some(from) = firm_ban_ends(&project.firm_id, disqualifications, years).filter(|d| on < *d) {
        let p = Problem {
            evidence: Evidence::new().figure("firm", &project.firm_id).figure("possible_from", from),
            summary: Summary::new(
                format!("维保单位{}被取消试点资格未满{years}年，{from}起方可再次申请", project.firm_id),
                format!(
                    "firm {} was disqualified less than {years} years ago: it may apply again from {from}",
                    project.firm_id
                ),
            ),
        };
        out.push(refusal(EntryCondition::FirmBan, p, Some(from)));
    }
    out
}

const EXIT: (Action, Severity) = (Action::Exit, Severity::Critical);

/// A1 §IV.(一).4: the entry conditions after admission.
pub(crate) fn lapses(ctx: &mut Ctx<'_>, p: &ProjectFacts) {
    let subject = || Subject::Project(p.id().to_owned());
    let today = ctx.today;
    if let Some(firm) = ctx.snap.firm(p.firm_id()) {
        if let Some(x) = self_declaration(&firm.firm) {
            ctx.project_finding(p, RuleId::SelfDeclarationLapsed, subject(), EXIT, x.evidence, x.summary);
        }
        if let Some(x) = grade(firm, today) {
            ctx.project_finding(p, RuleId::GradeLapsed, subject(), EXIT, x.evidence, x.summary);
        }
    }
    let spec = &p.record.spec;
    if let Some(x) = uninsured(spec, today) {
        ctx.project_finding(p, RuleId::InsuranceLapsed, subject(), EXIT, x.evidence, x.summary);
        return;
    }
    let warn = ctx.cfg.entry.insurance_warn_days;
    if warn == 0 {
        return;
    }
    let horizon = today + chrono::Days::new(u64::from(warn));
    let ending: Vec<&ElevatorSpec> =
        spec.elevators.iter().filter(|e| !insured_on(cover_until(spec, e), horizon)).collect();
    if let Some(first) = ending.iter().filter_map(|e| cover_until(spec, e)).min() {
        let summary = Summary::new(
            format!("{}台电梯的电梯责任保险将于{first}起陆续到期：{}", ending.len(), codes(&ending)),
            format!("liability insurance of {} elevator(s) ends from {first}: {}", ending.len(), codes(&ending)),
        );
        let ev = insurance_evidence(spec, &ending).figure("warn_days", warn);
        ctx.project_finding(p, RuleId::InsuranceLapsed, subject(), (Action::Notice, Severity::Info), ev, summary);
    }
}
