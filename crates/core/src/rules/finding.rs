//! What a rule produces: a finding draft about one subject, with its action,
//! severity, evidence and a summary in Chinese and English.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::catalogue::{Action, RuleId, Severity};
use crate::protocol::DeviceCode;

/// What a finding is about. With the rule it is the finding's identity:
/// one open finding per (rule, subject).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A maintenance firm, by id.
    Firm(String),
    /// A pilot project, by id.
    Project(String),
    /// An elevator.
    Elevator(DeviceCode),
    /// One fault occurrence.
    Fault {
        /// The elevator.
        device: DeviceCode,
        /// The box's fault id.
        fault_id: String,
    },
    /// One entrapment.
    Entrapment {
        /// The elevator.
        device: DeviceCode,
        /// The box's incident id.
        incident_id: String,
    },
    /// An inspection record, by id.
    Inspection(i64),
    /// A rectification order, by id.
    Order(i64),
    /// An accident record, by id.
    Accident(i64),
}

impl fmt::Display for Subject {
    /// A stable text key (`project:haibin`, `fault:3110…/f-17`), for stores
    /// that key findings by (rule, subject) in one column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Firm(id) => write!(f, "firm:{id}"),
            Subject::Project(id) => write!(f, "project:{id}"),
            Subject::Elevator(d) => write!(f, "elevator:{}", d.as_str()),
            Subject::Fault { device, fault_id } => write!(f, "fault:{}/{fault_id}", device.as_str()),
            Subject::Entrapment { device, incident_id } => write!(f, "entrapment:{}/{incident_id}", device.as_str()),
            Subject::Inspection(id) => write!(f, "inspection:{id}"),
            Subject::Order(id) => write!(f, "rectification_order:{id}"),
            Subject::Accident(id) => write!(f, "accident:{id}"),
        }
    }
}

/// A record a finding rests on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordRef {
    /// `visit`, `box_maintenance`, `inspection`, `complaint`,
    /// `rectification_order`, `accident`, `fault`, `entrapment`, `exit`,
    /// `disqualification`, `finding`, `grade`.
    pub kind: String,
    /// Its id.
    pub id: String,
}

/// The figures and records a finding used, so a regulator can check it.
/// Figures are stable facts (dates, instants, counts, values), not ages
/// that grow with the clock, so that evidence changes only when the facts do.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Figures by name (`last_onsite`, `due_by`, `fault_rate_per_10k`, …).
    pub figures: Map<String, Value>,
    /// The records used, in a stable order.
    pub records: Vec<RecordRef>,
}

impl Evidence {
    /// No figure, no record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a figure.
    pub fn figure(mut self, name: &str, v: impl Serialize) -> Self {
        self.figures.insert(name.to_owned(), serde_json::to_value(v).unwrap_or(Value::Null));
        self
    }

    /// Adds a record.
    pub fn record(mut self, kind: &str, id: impl fmt::Display) -> Self {
        self.records.push(RecordRef { kind: kind.to_owned(), id: id.to_string() });
        self
    }
}

/// A finding's summary, in Chinese (the source's language, for regulators)
/// and English.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Chinese.
    pub zh: String,
    /// English.
    pub en: String,
}

impl Summary {
    /// Both texts.
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Summary { zh: zh.into(), en: en.into() }
    }
}

/// What a rule found on one evaluation: the finding as it should stand now.
/// [`super::lifecycle::reconcile`] turns drafts into changes of the stored
/// findings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FindingDraft {
    /// The rule.
    pub rule: RuleId,
    /// What it is about.
    pub subject: Subject,
    /// The project, when it concerns one.
    pub project: Option<String>,
    /// The firm responsible.
    pub firm: Option<String>,
    /// What it asks for.
    pub action: Action,
    /// How urgent.
    pub severity: Severity,
    /// The figures and records used.
    pub evidence: Evidence,
    /// In words.
    pub summary: Summary,
}

impl FindingDraft {
    /// The identity of the finding: one open finding per (rule, subject).
    pub fn key(&self) -> (RuleId, &Subject) {
        (self.rule, &self.subject)
    }

    /// The clause it rests on ([`RuleId::clause`]).
    pub fn clause(&self) -> &'static str {
        self.rule.clause()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_have_stable_keys_and_json() {
        let d = DeviceCode::parse("31103302002018120001").unwrap();
        assert_eq!(Subject::Project("haibin".into()).to_string(), "project:haibin");
        let f = Subject::Fault { device: d, fault_id: "f-17".into() };
        assert_eq!(f.to_string(), "fault:31103302002018120001/f-17");
        let j = serde_json::to_value(&f).unwrap();
        assert_eq!(j, serde_json::json!({"fault": {"device": "31103302002018120001", "fault_id": "f-17"}}));
        assert_eq!(serde_json::from_value::<Subject>(j).unwrap(), f);
        assert_eq!(serde_json::to_value(Subject::Order(3)).unwrap(), serde_json::json!({"order": 3}));
    }

    #[test]
    fn evidence_is_structured_json() {
        let e = Evidence::new().figure("gap_days", 97).figure("due_by", "2026-11-01").record("visit", 7);
        let j = serde_json::to_value(&e).unwrap();
        assert_eq!(j["figures"]["gap_days"], 97);
        assert_eq!(j["records"][0], serde_json::json!({"kind": "visit", "id": "7"}));
    }
}
