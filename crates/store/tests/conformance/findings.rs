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

/// One evaluation of a large fleet: 2,000 findings opened in one
/// `apply_findings` (one per elevator), then a mix of every kind of change
/// in one call, one finding changed twice. Each finding gets its own id, in
/// the order of the changes; each alert event is stored once, with one
/// delivery per target, in the order of the changes, and its body is the
/// finding as it stands after its change; the project's exit is recorded
/// once, by its first exit finding; a finding changed twice ends as the
/// second change left it.
pub async fn many_findings_changed_in_one_call_are_each_applied_and_announced_once_in_order<F: Factory>(f: &F) {
    const N: u32 = 2_000;
    let (s, _g) = f.open("findings_many").await;
    register(&s, 3).await;
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
    let elevator = |i: u32| FindingDraft {
        subject: Subject::Elevator(dev(i)),
        summary: Summary::new(format!("电梯{i}"), format!("elevator {i}")),
        ..draft(if i.is_multiple_of(2) { Action::Rectify } else { Action::Exit })
    };
    let disq = FindingDraft { subject: Subject::Firm("zls".into()), project: None, ..draft(Action::Disqualify) };
    let mut changes = vec![Change::Open(disq)];
    changes.extend((0..N).map(|i| Change::Open(elevator(i))));
    let a = s.apply_findings(&changes, t0).await.unwrap();
    assert_eq!(a, Applied { opened: N as usize + 1, alerts: N as usize + 1, ..Applied::default() });

    // Distinct ids, numbered in the order of the changes.
    let all = s.findings(&FindingFilter { limit: 10 * i64::from(N), ..filter(Some("open")) }).await.unwrap();
    assert_eq!(all.len(), N as usize + 1);
    let id_of = |subject: &Subject| {
        all.iter().find(|f| f.subject.as_deref() == Some(subject.to_string().as_str())).unwrap().id.clone()
    };
    let ids: Vec<String> = std::iter::once(id_of(&Subject::Firm("zls".into())))
        .chain((0..N).map(|i| id_of(&Subject::Elevator(dev(i)))))
        .collect();
    let numbers: Vec<u64> = ids.iter().map(|id| id.trim_start_matches('F').parse().unwrap()).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "ids in the order of the changes");
    let stored = s.finding(&ids[2]).await.unwrap().unwrap();
    assert_eq!(
        (stored.action.as_str(), stored.summary.as_str(), stored.opened_at),
        ("exit", "elevator 1", t0),
        "the second elevator's draft"
    );

    // Sanctions: one exit for the project (by its first exit finding), one
    // disqualification for the disqualify finding.
    let (exits, dq) = s.pilot_history().await.unwrap();
    assert_eq!(exits.len(), 1, "one exit per admission");
    assert_eq!((exits[0].project_id.as_str(), exits[0].devices.clone()), ("haibin", vec![dev(0), dev(1), dev(2)]));
    assert_eq!(dq.len(), 1);

    // Each event once per target (the webhook, the firm's MQTT topic), in
    // the order of the changes, its body the finding as opened.
    let sent = s.claim_deliveries("p", t0, minute(1), 100 * i64::from(N)).await.unwrap();
    assert_eq!(sent.len(), 2 * (N as usize + 1));
    let mut order: Vec<&str> = sent.iter().map(|d| d.subject.as_str()).collect();
    order.dedup();
    assert_eq!(order, ids.iter().map(String::as_str).collect::<Vec<_>>(), "events in the order of the changes");
    for d in &sent {
        assert_eq!((d.msg_id.clone(), d.kind.as_str()), (format!("msg_{}_opened", d.subject), "finding.opened"));
        let body: serde_json::Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(body["data"]["id"].as_str(), Some(d.subject.as_str()));
    }
    let webhook = sent.iter().filter(|d| matches!(d.target, liftwatch_store::alerts::Target::Webhook { .. }));
    assert_eq!(webhook.count(), N as usize + 1, "one webhook delivery per event");
    for d in &sent {
        assert!(s.complete_delivery(d.id, "p", &liftwatch_store::alerts::Outcome::Delivered, minute(1)).await.unwrap());
    }
    assert_eq!(s.outbox_status(minute(2)).await.unwrap().pending, 0);

    // A mix: escalations (0, 2, …, 8), updates (10..20), clearings
    // (20..30), resolutions (30..40), and two findings changed twice.
    let id = |i: u32| ids[i as usize + 1].clone();
    let clearing = Clearing { since: minute(9), evaluations: 1 };
    let minor = |i: u32| FindingDraft { severity: Severity::Minor, ..elevator(i) };
    let mut mix = Vec::new();
    for i in (0..10).step_by(2) {
        mix.push(Change::Escalate { id: id(i), from: Action::Rectify, draft: elevator(i + 1) });
    }
    mix.extend((10..20).map(|i| Change::Update { id: id(i), draft: minor(i) }));
    mix.extend((20..30).map(|i| Change::Clearing { id: id(i), clearing }));
    mix.extend((30..40).map(|i| Change::Resolve { id: id(i), at: minute(10), clear_since: minute(9) }));
    mix.push(Change::Clearing { id: id(40), clearing });
    mix.push(Change::Update { id: id(42), draft: minor(42) });
    mix.push(Change::Update { id: id(40), draft: minor(40) });
    mix.push(Change::Clearing { id: id(42), clearing });
    let a = s.apply_findings(&mix, minute(10)).await.unwrap();
    assert_eq!(a, Applied { escalated: 5, updated: 24, resolved: 10, alerts: 15, ..Applied::default() });

    let open = s.open_findings().await.unwrap();
    let open_of = |i: u32| open.iter().find(|o| o.id == id(i));
    assert_eq!(open_of(2).map(|o| o.draft.action), Some(Action::Exit), "escalated");
    assert_eq!(open_of(12).map(|o| (o.draft.severity, o.clearing)), Some((Severity::Minor, None)), "updated");
    assert_eq!(open_of(22).map(|o| o.clearing), Some(Some(clearing)), "clearing");
    assert!(open_of(32).is_none(), "resolved");
    assert_eq!(s.finding(&id(32)).await.unwrap().unwrap().resolved_at, Some(minute(10)));
    assert_eq!(
        open_of(40).map(|o| (o.draft.severity, o.clearing)),
        Some((Severity::Minor, None)),
        "cleared, then updated"
    );
    assert_eq!(
        open_of(42).map(|o| (o.draft.severity, o.clearing)),
        Some((Severity::Minor, Some(clearing))),
        "updated, then cleared"
    );
    assert_eq!(s.pilot_history().await.unwrap().0.len(), 1, "escalations to exit record no second exit");

    let sent = s.claim_deliveries("p", minute(10), minute(11), 100 * i64::from(N)).await.unwrap();
    assert_eq!(sent.len(), 2 * 15);
    let mut order: Vec<(&str, &str)> = sent.iter().map(|d| (d.subject.as_str(), d.kind.as_str())).collect();
    order.dedup();
    let expected: Vec<(String, &str)> = (0..10)
        .step_by(2)
        .map(|i| (id(i), "finding.escalated"))
        .chain((30..40).map(|i| (id(i), "finding.resolved")))
        .collect();
    assert_eq!(order, expected.iter().map(|(i, k)| (i.as_str(), *k)).collect::<Vec<_>>());
    for d in &sent {
        let body: serde_json::Value = serde_json::from_str(&d.body).unwrap();
        let (action, state) = (body["data"]["action"].as_str(), body["data"]["state"].as_str());
        match d.kind.as_str() {
            "finding.escalated" => {
                assert_eq!(
                    (d.msg_id.clone(), action, state),
                    (format!("msg_{}_escalated_exit", d.subject), Some("exit"), Some("open"))
                )
            }
            _ => assert_eq!((d.msg_id.clone(), state), (format!("msg_{}_resolved", d.subject), Some("resolved"))),
        }
    }
}
