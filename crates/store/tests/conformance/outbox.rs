//! The alert outbox, webhooks and leadership as the store gives them to the
//! dispatcher and the rule engine (`crates/store/src/alerts.rs`): at least
//! once, never claimed twice, in order per subject and target, retries at
//! their time, leases that expire, one leader per role. Conformance cases,
//! generic over a [`Factory`] (the dispatcher's HTTP and MQTT sides are
//! tested in `crates/alerts`).

use std::collections::BTreeSet;
use std::time::Duration;

use liftwatch_store::alerts::{Delivery, NewAlert, Outcome, Target, WebhookSpec};
use liftwatch_store::prelude::*;
use liftwatch_testkit::{firm, now, wait_until};

use crate::Factory;

/// Event `n` of finding `subject` of firm `firm` (no firm: regulators only).
fn alert(n: usize, subject: &str, firm: Option<&str>, action: &str) -> NewAlert {
    NewAlert {
        msg_id: format!("msg_{subject}_{n}"),
        kind: if n == 0 { "finding.opened" } else { "finding.escalated" }.into(),
        subject: subject.into(),
        firm_id: firm.map(Into::into),
        action: action.into(),
        body: format!(r#"{{"type":"finding.opened","data":{{"id":"{subject}","n":{n}}}}}"#),
    }
}

fn hook(id: &str, firm: Option<&str>, actions: Option<&[&str]>, owner: &str) -> WebhookSpec {
    WebhookSpec {
        id: id.into(),
        url: format!("http://127.0.0.1:9/{id}"),
        secret: "whsec_test".into(),
        firm_id: firm.map(Into::into),
        actions: actions.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
        owner: owner.into(),
    }
}

/// (message id, target) of claimed deliveries, sorted.
fn claimed(ds: &[Delivery]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = ds
        .iter()
        .map(|d| {
            let t = match &d.target {
                Target::Webhook { id, .. } => id.clone(),
                Target::Mqtt => "mqtt".into(),
            };
            (d.msg_id.clone(), t)
        })
        .collect();
    v.sort();
    v
}

fn pair(msg: &str, target: &str) -> (String, String) {
    (msg.to_owned(), target.to_owned())
}

const LEASE: Duration = Duration::from_secs(60);

pub async fn webhooks_are_kept_per_owner_and_select_events_by_firm_and_action<F: Factory>(f: &F) {
    let (s, _g) = f.open("hooks").await;
    firm(&s, "f1").await;
    firm(&s, "f2").await;
    assert!(s.put_webhook(&hook("all", None, None, "regulator")).await.unwrap(), "created");
    assert!(s.put_webhook(&hook("mine", Some("f1"), Some(&["rectify"]), "firm:f1")).await.unwrap());
    assert!(
        !s.put_webhook(&hook("mine", Some("f1"), Some(&["rectify", "exit"]), "firm:f1")).await.unwrap(),
        "replaced"
    );
    // Each owner has its own ids.
    assert!(s.webhook("firm:f2", "mine").await.unwrap().is_none());
    assert!(!s.delete_webhook("firm:f2", "mine").await.unwrap());
    let mine = s.webhook("firm:f1", "mine").await.unwrap().unwrap();
    assert_eq!(
        (mine.firm_id.as_deref(), mine.actions.clone(), mine.pending),
        (Some("f1"), Some(vec!["rectify".to_owned(), "exit".to_owned()]), 0)
    );
    assert_eq!(s.webhooks("firm:f1").await.unwrap(), vec![mine]);

    let t0 = now();
    assert!(s.enqueue_alert(&alert(0, "A", Some("f1"), "rectify"), t0).await.unwrap());
    assert!(!s.enqueue_alert(&alert(0, "A", Some("f1"), "rectify"), t0).await.unwrap(), "once per message id");
    s.enqueue_alert(&alert(0, "B", Some("f1"), "notice"), t0).await.unwrap();
    s.enqueue_alert(&alert(0, "C", Some("f2"), "rectify"), t0).await.unwrap();
    s.enqueue_alert(&alert(0, "D", None, "rectify"), t0).await.unwrap();
    let got = s.claim_deliveries("p", t0, t0.plus(LEASE), 100).await.unwrap();
    assert_eq!(
        claimed(&got),
        [
            pair("msg_A_0", "firm:f1/mine"),
            pair("msg_A_0", "mqtt"),
            pair("msg_A_0", "regulator/all"),
            pair("msg_B_0", "mqtt"),
            pair("msg_B_0", "regulator/all"),
            pair("msg_C_0", "mqtt"),
            pair("msg_C_0", "regulator/all"),
            pair("msg_D_0", "regulator/all"),
        ],
        "a firm's webhook gets its firm's events of its actions; MQTT every event with a firm"
    );
    let a = got.iter().find(|d| d.msg_id == "msg_A_0" && d.target != Target::Mqtt).unwrap();
    assert_eq!((a.subject.as_str(), a.firm_id.as_deref(), a.attempts, a.created_at), ("A", Some("f1"), 0, t0));
    assert_eq!(a.body, alert(0, "A", Some("f1"), "rectify").body);
    assert_eq!(s.outbox_status(t0.plus(Duration::from_secs(90))).await.unwrap().oldest_pending_secs, 90);
    // Deleting a webhook drops its pending deliveries.
    assert!(s.delete_webhook("regulator", "all").await.unwrap());
    assert_eq!(s.outbox_status(t0).await.unwrap().pending, 4);
}

pub async fn deliveries_go_in_order_per_subject_and_retry_at_their_time<F: Factory>(f: &F) {
    let (s, _g) = f.open("order").await;
    firm(&s, "f1").await;
    s.put_webhook(&hook("h", None, None, "regulator")).await.unwrap();
    let t0 = now();
    for n in 0..3 {
        s.enqueue_alert(&alert(n, "S", None, "rectify"), t0).await.unwrap();
    }
    s.enqueue_alert(&alert(0, "T", None, "rectify"), t0).await.unwrap();
    // Only the first event of each subject is due; the later ones wait for it.
    let first = s.claim_deliveries("p", t0, t0.plus(LEASE), 100).await.unwrap();
    assert_eq!(claimed(&first), [pair("msg_S_0", "regulator/h"), pair("msg_T_0", "regulator/h")]);
    let s0 = first.iter().find(|d| d.msg_id == "msg_S_0").unwrap();
    let retry_at = t0.plus(Duration::from_secs(30));
    let failed = Outcome::Failed { error: "HTTP 500".into(), retry_at };
    assert!(s.complete_delivery(s0.id, "p", &failed, t0).await.unwrap());
    let h = s.webhook("regulator", "h").await.unwrap().unwrap();
    assert_eq!((h.pending, h.last_error.as_deref()), (4, Some("HTTP 500")));
    // Not before its retry time, and nothing of S behind it.
    let t1 = t0.plus(Duration::from_secs(1));
    assert!(s.claim_deliveries("p", t1, t1.plus(LEASE), 100).await.unwrap().is_empty());
    let again = s.claim_deliveries("p", retry_at, retry_at.plus(LEASE), 100).await.unwrap();
    assert_eq!(claimed(&again), [pair("msg_S_0", "regulator/h")]);
    assert_eq!((again[0].id, again[0].attempts), (s0.id, 1), "the same delivery, one attempt on record");
    assert!(s.complete_delivery(again[0].id, "p", &Outcome::Delivered, retry_at).await.unwrap());
    assert!(!s.complete_delivery(again[0].id, "p", &Outcome::Delivered, retry_at).await.unwrap(), "once");
    let next = s.claim_deliveries("p", retry_at, retry_at.plus(LEASE), 100).await.unwrap();
    assert_eq!(claimed(&next), [pair("msg_S_1", "regulator/h")], "then the next event of S");
    let h = s.webhook("regulator", "h").await.unwrap().unwrap();
    assert_eq!((h.pending, h.last_error), (3, None));
}

pub async fn a_lease_keeps_a_delivery_from_others_until_it_expires_and_a_late_completion_is_ignored<F: Factory>(f: &F) {
    let (s, _g) = f.open("lease").await;
    s.put_webhook(&hook("h1", None, None, "regulator")).await.unwrap();
    let t0 = now();
    s.enqueue_alert(&alert(0, "L", None, "rectify"), t0).await.unwrap();
    let a = s.claim_deliveries("a", t0, t0.plus(LEASE), 10).await.unwrap();
    assert_eq!(a.len(), 1);
    assert!(s.claim_deliveries("b", t0, t0.plus(LEASE), 10).await.unwrap().is_empty(), "leased");
    // "a" died: after the lease, "b" takes it over, with the same message id.
    let t1 = t0.plus(LEASE + Duration::from_secs(1));
    let b = s.claim_deliveries("b", t1, t1.plus(LEASE), 10).await.unwrap();
    assert_eq!(b.iter().map(|d| &d.msg_id).collect::<Vec<_>>(), [&a[0].msg_id]);
    assert!(!s.complete_delivery(a[0].id, "a", &Outcome::Delivered, t1).await.unwrap(), "not a's any more");
    assert!(s.complete_delivery(b[0].id, "b", &Outcome::Delivered, t1).await.unwrap());
    assert_eq!(s.outbox_status(t1).await.unwrap().pending, 0);
    assert_eq!(s.prune_alerts(t0).await.unwrap(), 0, "only events older than the cut");
    assert_eq!(s.prune_alerts(t1.plus(Duration::from_secs(1))).await.unwrap(), 1);
}

pub async fn concurrent_claims_never_hand_out_a_delivery_twice<F: Factory>(f: &F) {
    let (s, _g) = f.open("claims").await;
    s.put_webhook(&hook("h", None, None, "regulator")).await.unwrap();
    let t0 = now();
    for n in 0..120 {
        s.enqueue_alert(&alert(0, &format!("S{n}"), None, "rectify"), t0).await.unwrap();
    }
    let mut tasks = Vec::new();
    for owner in ["a", "b", "c", "d"] {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let ds = s.claim_deliveries(owner, t0, t0.plus(LEASE), 7).await.unwrap();
                if ds.is_empty() {
                    return got;
                }
                for d in ds {
                    assert!(s.complete_delivery(d.id, owner, &Outcome::Delivered, t0).await.unwrap());
                    got.push(d.msg_id);
                }
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!((all.len(), distinct.len()), (120, 120), "each delivery claimed and completed exactly once");
}

pub async fn one_leader_per_role_until_its_lease_is_dropped<F: Factory>(f: &F) {
    let (s, _g) = f.open("leader").await;
    let lease = s.try_lead("rules").await.unwrap().expect("first leads");
    assert!(lease.held().await);
    assert!(s.try_lead("rules").await.unwrap().is_none(), "a second leader of the role is refused");
    let other = s.try_lead("alerts").await.unwrap();
    assert!(other.is_some(), "roles are independent");
    drop(lease);
    wait_until("the role is free again once its lease is dropped", Duration::from_secs(10), || async {
        s.try_lead("rules").await.unwrap().is_some()
    })
    .await;
}
