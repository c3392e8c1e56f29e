//! The findings lifecycle as the store keeps it for the rule engine and the
//! API: an evaluation's changes applied in one transaction with the alert
//! events they raise, the sanctions an exit records, acknowledgements (the
//! first stands), notes, and project statuses. Conformance cases, generic
//! over a [`Factory`] (the engine's evaluation is tested in `crates/engine`).

use std::time::Duration;

use liftwatch_core::registry::ProjectStatus;
use liftwatch_core::rules::{Action, Change, Clearing, Evidence, FindingDraft, RuleId, Severity, Subject, Summary};
use liftwatch_store::alerts::WebhookSpec;
use liftwatch_store::findings::{Applied, FindingFilter};
use liftwatch_store::prelude::*;
use liftwatch_testkit::{dev, now, register};

use crate::Factory;

fn draft(action: Action) -> FindingDraft {
    FindingDraft {
        rule: RuleId::OnsiteInterval,
        subject: Subject::Project("haibin".into()),
        project: Some("haibin".into()),
        firm: Some("zls".into()),
        action,
        severity: Severity::Major,
        evidence: Evidence::new().figure("last_onsite", "2026-10-01"),
        summary: Summary::new("现场维保超期", "on-site maintenance overdue"),
    }
}

fn filter(state: Option<&str>) -> FindingFilter {
    FindingFilter { state: state.map(Into::into), limit: 50, ..FindingFilter::default() }
}

pub async fn findings_lifecycle_with_alerts_sanctions_acknowledgements_and_notes<F: Factory>(f: &F) {
    let (s, _g) = f.open("findings").await;
    register(&s, 2).await;
    let hook = WebhookSpec {
        id: "all".into(),
        url: "http://127.0.0.1:9/all".into(),
        secret: "whsec_test".into(),
        firm_id: None,
        actions: None,
        owner: "regulator".into(),
    };
    s.put_webhook(&hook).await.unwrap();
    let t0 = now();
    let minute = |n: u64| t0.plus(Duration::from_secs(60 * n));

    // Opened: stored as drafted, listed, and announced in the same transaction.
    let d = draft(Action::Rectify);
    let a = s.apply_findings(&[Change::Open(d.clone())], t0).await.unwrap();
    assert_eq!(a, Applied { opened: 1, alerts: 1, ..Applied::default() });
    let listed = s.findings(&filter(None)).await.unwrap();
    assert_eq!(listed.len(), 1);
    let f0 = listed[0].clone();
    assert!(f0.id.starts_with('F'), "{}", f0.id);
    assert_eq!(
        (f0.rule.as_str(), f0.subject.clone(), f0.project.as_deref(), f0.firm.as_deref()),
        (d.rule.as_str(), Some(d.subject.to_string()), Some("haibin"), Some("zls"))
    );
    assert_eq!((f0.action.as_str(), f0.severity.as_str(), f0.state.as_str()), ("rectify", "major", "open"));
    assert_eq!((f0.opened_at, f0.summary.as_str()), (t0, "on-site maintenance overdue"));
    assert_eq!(f0.evidence, serde_json::to_value(&d.evidence).unwrap());
    assert_eq!(s.finding(&f0.id).await.unwrap(), Some(f0.clone()));
    assert_eq!(s.project("haibin").await.unwrap().unwrap().open_findings, 1);
    let open = s.open_findings().await.unwrap();
    assert_eq!((open.len(), &open[0].id, &open[0].draft, open[0].opened_at), (1, &f0.id, &d, t0));
    let sent = s.claim_deliveries("p", t0, minute(1), 10).await.unwrap();
    assert_eq!(sent.len(), 2, "the regulator's webhook and the firm's MQTT topic");
    assert!(sent.iter().all(|x| x.msg_id == format!("msg_{}_opened", f0.id) && x.subject == f0.id));
    let body: serde_json::Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!((body["type"].as_str(), body["data"]["id"].as_str()), (Some("finding.opened"), Some(f0.id.as_str())));

    // Acknowledged once: the first acknowledgement stands.
    let ack = s.acknowledge_finding(&f0.id, "regulator:wang", minute(2)).await.unwrap().unwrap();
    assert_eq!((ack.acknowledged_by.as_deref(), ack.acknowledged_at), (Some("regulator:wang"), Some(minute(2))));
    let again = s.acknowledge_finding(&f0.id, "regulator:li", minute(3)).await.unwrap().unwrap();
    assert_eq!((again.acknowledged_by.as_deref(), again.acknowledged_at), (Some("regulator:wang"), Some(minute(2))));
    assert!(s.acknowledge_finding("F999999", "regulator", t0).await.unwrap().is_none());

    // Notes, oldest first; none on a finding that does not exist.
    let n1 = s.add_finding_note(&f0.id, "regulator:wang", "called the firm", minute(4)).await.unwrap().unwrap();
    let n2 = s.add_finding_note(&f0.id, "regulator:li", "visit booked", minute(5)).await.unwrap().unwrap();
    assert_eq!(
        (n1.finding_id.as_str(), n1.by.as_str(), n1.note.as_str(), n1.at),
        (f0.id.as_str(), "regulator:wang", "called the firm", minute(4))
    );
    assert_eq!(s.finding_notes(&f0.id).await.unwrap(), vec![n1, n2]);
    assert!(s.add_finding_note("F999999", "regulator", "x", t0).await.unwrap().is_none());
    assert!(s.finding_notes("F999999").await.unwrap().is_empty());

    // Clearing is kept; an escalation to exit rewrites the content, resets
    // the clearing, records the exit with the project's elevators, and is announced.
    let clearing = Clearing { since: minute(6), evaluations: 1 };
    s.apply_findings(&[Change::Clearing { id: f0.id.clone(), clearing }], minute(6)).await.unwrap();
    assert_eq!(s.open_findings().await.unwrap()[0].clearing, Some(clearing));
    let exit = draft(Action::Exit);
    let a = s
        .apply_findings(
            &[Change::Escalate { id: f0.id.clone(), from: Action::Rectify, draft: exit.clone() }],
            minute(7),
        )
        .await
        .unwrap();
    assert_eq!(a, Applied { escalated: 1, alerts: 1, ..Applied::default() });
    let open = s.open_findings().await.unwrap();
    assert_eq!((&open[0].draft, &open[0].clearing), (&exit, &None));
    let f1 = s.finding(&f0.id).await.unwrap().unwrap();
    assert_eq!((f1.action.as_str(), f1.updated_at), ("exit", Some(minute(7))));
    let (exits, dq) = s.pilot_history().await.unwrap();
    assert_eq!(exits.len(), 1);
    assert_eq!((exits[0].project_id.as_str(), exits[0].firm_id.as_str()), ("haibin", "zls"));
    assert_eq!(
        (exits[0].on, exits[0].devices.clone()),
        (minute(7).local_day(chrono_tz::Asia::Shanghai), vec![dev(0), dev(1)])
    );
    assert_eq!(exits[0].reason, exit.rule.as_str());
    assert!(dq.is_empty());
    let disq = FindingDraft { subject: Subject::Firm("zls".into()), project: None, ..draft(Action::Disqualify) };
    s.apply_findings(&[Change::Open(disq)], minute(7)).await.unwrap();
    assert_eq!(s.pilot_history().await.unwrap().1.iter().map(|d| d.firm_id.as_str()).collect::<Vec<_>>(), ["zls"]);

    // Resolved: announced, no longer open; the same (rule, subject) found
    // again is a new finding.
    let a = s
        .apply_findings(&[Change::Resolve { id: f0.id.clone(), at: minute(9), clear_since: minute(8) }], minute(9))
        .await
        .unwrap();
    assert_eq!(a, Applied { resolved: 1, alerts: 1, ..Applied::default() });
    let f2 = s.finding(&f0.id).await.unwrap().unwrap();
    assert_eq!((f2.state.as_str(), f2.resolved_at), ("resolved", Some(minute(9))));
    assert_eq!(s.findings(&filter(Some("resolved"))).await.unwrap().len(), 1);
    s.apply_findings(&[Change::Open(d.clone())], minute(10)).await.unwrap();
    let open = s.findings(&FindingFilter { project: Some("haibin".into()), ..filter(Some("open")) }).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_ne!(open[0].id, f0.id, "a new finding");
    // Once the first lease is over, the first event of each finding is due
    // again (each to two targets); the escalation and resolution of the
    // first wait behind its opening.
    let due = s.claim_deliveries("p", minute(20), minute(30), 100).await.unwrap();
    assert_eq!(due.len(), 6, "{due:?}");
    assert!(due.iter().all(|x| x.msg_id.ends_with("_opened")), "{due:?}");
    assert_eq!(s.outbox_status(minute(20)).await.unwrap().pending, 10);

    // Statuses set by the engine.
    s.set_project_statuses(&[("haibin".into(), ProjectStatus::Rectifying)]).await.unwrap();
    assert_eq!(s.project("haibin").await.unwrap().unwrap().status, ProjectStatus::Rectifying);
    // A project leaves once per admission: another exit finding, a day
    // later, records no second exit (nor a second copy of its elevators).
    let another = FindingDraft { rule: RuleId::InsuranceLapsed, ..draft(Action::Exit) };
    s.apply_findings(&[Change::Open(another)], minute(7 + 24 * 60)).await.unwrap();
    assert_eq!(s.pilot_history().await.unwrap().0.len(), 1, "one exit per admission");
}
