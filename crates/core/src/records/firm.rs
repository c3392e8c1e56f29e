//! What firms record (api-v1.md "What firms record"): maintenance visits
//! (A1 §I.(二)) and fault-cause corrections with a reason.

use serde::{Deserialize, Serialize};

use crate::protocol::{Cause, Timestamp};
use crate::validation::{
    check_text, wire_enum, ValidationError, ValidationErrors, MAX_TECHNICIAN_CHARS, MAX_TEXT_CHARS,
};

wire_enum! {
    /// Kind of maintenance visit. On-site visits reset the on-site interval
    /// of A1 §I.(二) ([`crate::pilot::onsite_interval_exceeded`]); remote
    /// checks the 15-day remote-check interval.
    pub enum VisitKind as "kind" {
        /// 现场维保: a technician on site.
        Onsite = "onsite",
        /// 远程检查: remote photo/video check.
        RemoteCheck = "remote_check",
    }
}

/// A maintenance visit to record (`POST /api/v1/elevators/{device_code}/visits`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewVisit {
    /// On site or remote.
    pub kind: VisitKind,
    /// Start.
    pub started_at: Timestamp,
    /// End (not before the start).
    pub ended_at: Timestamp,
    /// Technician (name or staff number).
    pub technician: String,
}

impl NewVisit {
    /// Every problem of the visit. (Times in the future are the API's
    /// concern: it knows the clock.)
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut p = ValidationErrors::new();
        if self.ended_at < self.started_at {
            p.push(ValidationError::new(
                "ended_at",
                format!("{} is before started_at {}", self.ended_at, self.started_at),
            ));
        }
        p.check(check_text("technician", &self.technician, MAX_TECHNICIAN_CHARS, true));
        p.into_result()
    }
}

/// A stored maintenance visit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Visit {
    /// Id.
    pub id: i64,
    /// The elevator.
    pub device_code: String,
    /// On site or remote.
    pub kind: VisitKind,
    /// Start.
    pub started_at: Timestamp,
    /// End.
    pub ended_at: Timestamp,
    /// Technician.
    pub technician: String,
    /// Who recorded it (`regulator` or `firm:{id}`).
    pub recorded_by: String,
    /// When it was recorded.
    pub recorded_at: Timestamp,
}

/// A fault-cause correction to record
/// (`PUT /api/v1/elevators/{device_code}/faults/{fault_id}/cause`); what it
/// does is [`crate::pilot::decide_correction`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCauseCorrection {
    /// The cause asked for.
    pub cause: Cause,
    /// Why (required; shown to regulators).
    pub reason: String,
}

impl NewCauseCorrection {
    /// Every problem: the reason is required, at most 4000 characters.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        check_text("reason", &self.reason, MAX_TEXT_CHARS, true).map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn t(s: &str) -> Timestamp {
        crate::protocol::parse_rfc3339(s).unwrap().0
    }

    fn visit() -> NewVisit {
        NewVisit {
            kind: VisitKind::Onsite,
            started_at: t("2026-11-20T09:00:00+08:00"),
            ended_at: t("2026-11-20T10:00:00+08:00"),
            technician: "T-0042".into(),
        }
    }

    #[test]
    fn visit_kinds_round_trip() {
        for k in VisitKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
            assert_eq!(k.as_str().parse::<VisitKind>().unwrap(), *k);
            assert_eq!(serde_json::from_value::<VisitKind>(json!(k.as_str())).unwrap(), *k);
        }
        assert_eq!(VisitKind::NAMES, ["onsite", "remote_check"]);
        let e = "on_site".parse::<VisitKind>().unwrap_err();
        assert_eq!(e.to_string(), "kind \"on_site\" must be one of onsite, remote_check");
    }

    #[test]
    fn visit_json_is_as_in_the_api_spec() {
        let v = json!({"kind": "remote_check", "started_at": "2026-11-20T01:00:00Z",
                       "ended_at": "2026-11-20T01:00:00Z", "technician": "T-0042"});
        let n: NewVisit = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(n.kind, VisitKind::RemoteCheck);
        assert_eq!(serde_json::from_value::<NewVisit>(serde_json::to_value(&n).unwrap()).unwrap(), n);
        assert!(n.validate().is_ok(), "an instant visit is valid");
    }

    #[test]
    fn visit_problems() {
        assert!(visit().validate().is_ok());
        let mut v = visit();
        v.ended_at = Timestamp(v.started_at.0 - 1);
        v.technician = "x".repeat(MAX_TECHNICIAN_CHARS + 1);
        let fields: Vec<_> = v.validate().unwrap_err().0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["ended_at", "technician"]);
        v = visit();
        v.technician = "x".repeat(MAX_TECHNICIAN_CHARS);
        assert!(v.validate().is_ok(), "exactly the limit");
        v.technician = " ".into();
        assert!(v.validate().is_err());
    }

    #[test]
    fn stored_visit_json() {
        let v = Visit {
            id: 7,
            device_code: "31103302002018120001".into(),
            kind: VisitKind::Onsite,
            started_at: t("2026-11-20T01:00:00Z"),
            ended_at: t("2026-11-20T02:00:00Z"),
            technician: "T-0042".into(),
            recorded_by: "firm:zls".into(),
            recorded_at: t("2026-11-20T03:00:00Z"),
        };
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["kind"], "onsite");
        assert_eq!(serde_json::from_value::<Visit>(j).unwrap(), v);
    }

    #[test]
    fn correction_requests() {
        let c: NewCauseCorrection =
            serde_json::from_value(json!({"cause": "external", "reason": "grid outage, utility notice 2026-11-03"}))
                .unwrap();
        assert_eq!(c.cause, Cause::External);
        assert!(c.validate().is_ok());
        let blank = NewCauseCorrection { reason: "  ".into(), ..c.clone() };
        assert_eq!(blank.validate().unwrap_err().0[0].field, "reason");
        let e = serde_json::from_value::<NewCauseCorrection>(json!({"cause": "weather", "reason": "x"})).unwrap_err();
        assert!(e.to_string().contains("weather"), "{e}");
        let e = "weather".parse::<Cause>().unwrap_err();
        assert_eq!(e.to_string(), "cause \"weather\" must be one of equipment, external, usage, unknown");
    }
}
