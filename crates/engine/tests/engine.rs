//! The rule engine against the real store with a fixed clock: findings open,
//! stay single, resolve with hysteresis; alerts reach a real HTTP receiver
//! signed, once, across a leader change.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use liftwatch_alerts::sign::verify;
use liftwatch_alerts::{Dispatcher, DispatcherConfig, DEFAULT_HTTP_TIMEOUT};
use liftwatch_core::protocol::{parse_rfc3339, Body, Event, Mode, Timestamp};
use liftwatch_core::records::{NewVisit, VisitKind};
use liftwatch_core::rules::RulesConfig;
use liftwatch_engine::{run, Engine, RunConfig};
use liftwatch_store::alerts::WebhookSpec;
use liftwatch_store::findings::FindingFilter;
use liftwatch_store::prelude::*;
use liftwatch_store::PgStore;
use liftwatch_testkit::codes::dev;
use liftwatch_testkit::wait::wait_until;
use liftwatch_testkit::{fixtures, TestDb};
use tokio::sync::{watch, Notify};

const SECRET: &str = "engine-test-secret-0123456789";

fn t(s: &str) -> Timestamp {
    parse_rfc3339(s).unwrap().0
}

type Seen = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: HeaderMap, body: String| {
            let s = s.clone();
            async move {
                let g = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                let id = g("webhook-id");
                if !verify(SECRET, &id, g("webhook-timestamp").parse().unwrap_or(0), &body, &g("webhook-signature")) {
                    return StatusCode::UNAUTHORIZED;
                }
                s.lock().unwrap().push((id, serde_json::from_str(&body).unwrap()));
                StatusCode::OK
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, seen)
}

async fn world(tag: &str) -> (TestDb, PgStore, Engine) {
    let db = TestDb::new(tag).await;
    let store = db.store(false).await;
    fixtures::register(&store, 1).await;
    // The box is alive (an iot project whose box is silent leaves the pilot:
    // A1-I-2-1-iot-monitoring), so the project stays in the pilot.
    let beat = |seq, at: &str| Event {
        device: dev(0),
        seq,
        ts: t(at),
        ts_offset: 8 * 3600,
        body: Body::Heartbeat { mode: Mode::Normal },
    };
    let evs = [
        beat(1, "2026-05-10T09:00:00+08:00"),
        beat(2, "2026-05-10T12:00:00+08:00"),
        beat(3, "2026-05-10T13:30:00+08:00"),
    ];
    store.ingest(&[fixtures::inbound(&dev(0), &evs)]).await.unwrap();
    let engine = Engine::new(Arc::new(store.clone()), RulesConfig::default(), chrono_tz::Asia::Shanghai);
    (db, store, engine)
}

fn onsite() -> FindingFilter {
    FindingFilter { action: None, limit: 100, ..FindingFilter::default() }
}

#[tokio::test]
async fn a_missed_onsite_visit_opens_one_finding_that_resolves_after_the_visit_with_hysteresis() {
    let (_db, store, engine) = world("engine_onsite").await;
    // Admitted 2026-01-01, iot mode (3 months on site), no visit by May.
    let now = t("2026-05-10T10:00:00+08:00");
    let e1 = engine.evaluate_once(now).await.unwrap();
    assert!(e1.applied.opened >= 1, "{e1:?}");
    let all = store.findings(&onsite()).await.unwrap();
    let f = all.iter().find(|f| f.rule == "A1-III-1-onsite-interval").expect("on-site finding");
    assert_eq!((f.action.as_str(), f.state.as_str()), ("rectify", "open"));
    assert!(f.clause.starts_with("A1 §III.(一)"), "{}", f.clause);
    assert_eq!(f.project.as_deref(), Some("haibin"));
    assert_eq!(f.firm.as_deref(), Some("zls"));
    assert!(f.summary.contains("on-site") && !f.summary_zh.is_empty());
    assert_eq!(f.evidence["figures"]["limit_months"], 3);
    let id = f.id.clone();

    // The same facts again: nothing changes, nothing is announced twice.
    let e2 = engine.evaluate_once(now.plus(Duration::from_secs(60))).await.unwrap();
    assert_eq!((e2.applied.opened, e2.applied.escalated, e2.applied.alerts), (0, 0, 0), "{e2:?}");
    assert_eq!(store.findings(&onsite()).await.unwrap().len(), all.len(), "one finding per (rule, subject)");

    // The firm visits: the condition clears, but the finding resolves only
    // after the hysteresis (60 minutes and 2 evaluations by default).
    let visit = NewVisit {
        kind: VisitKind::Onsite,
        started_at: t("2026-05-10T11:00:00+08:00"),
        ended_at: t("2026-05-10T12:00:00+08:00"),
        technician: "T-1".into(),
    };
    store.add_visit(liftwatch_store::records::Scope::All, dev(0), &visit, "firm:zls").await.unwrap();
    let after = t("2026-05-10T12:30:00+08:00");
    engine.evaluate_once(after).await.unwrap();
    assert_eq!(store.finding(&id).await.unwrap().unwrap().state, "open", "clearing, not resolved yet");
    engine.evaluate_once(after.plus(Duration::from_secs(30 * 60))).await.unwrap();
    assert_eq!(store.finding(&id).await.unwrap().unwrap().state, "open", "30 minutes clear: not yet");
    let e = engine.evaluate_once(after.plus(Duration::from_secs(61 * 60))).await.unwrap();
    assert_eq!(e.applied.resolved, 1, "{e:?}");
    let f = store.finding(&id).await.unwrap().unwrap();
    assert_eq!(f.state, "resolved");
    assert!(f.resolved_at.is_some());
    // Once resolved, a new breach is a new finding (a later one), not a reopening.
    assert_eq!(store.open_findings().await.unwrap().iter().filter(|o| o.id == id).count(), 0);
}

#[tokio::test]
async fn alerts_of_the_engine_reach_a_webhook_signed_once_across_a_leader_change() {
    let (db, store, engine_a) = world("engine_leader").await;
    let (url, seen) = receiver().await;
    store
        .put_webhook(&WebhookSpec {
            id: "city".into(),
            url,
            secret: SECRET.into(),
            firm_id: None,
            actions: None,
            owner: "regulator".into(),
        })
        .await
        .unwrap();
    let clock = Arc::new(|| t("2026-05-10T10:00:00+08:00"));
    let start = |store: PgStore, engine: Engine, owner: &str| {
        let (tx, rx) = watch::channel(false);
        let d = Dispatcher::new(
            Arc::new(store),
            None,
            DispatcherConfig {
                owner: owner.into(),
                http_timeout: DEFAULT_HTTP_TIMEOUT,
                lease: Duration::from_secs(60),
            },
        );
        let cfg = RunConfig {
            interval: Duration::from_secs(3600),
            clock: clock.clone(),
            metrics: liftwatch_engine::EngineMetrics::default(),
        };
        let h = tokio::spawn(run(engine, d, Arc::new(Notify::new()), cfg, rx));
        (tx, h)
    };
    let (stop_a, a) = start(store.clone(), engine_a, "a");
    let opened = || {
        let seen = seen.clone();
        async move { seen.lock().unwrap().iter().any(|(_, b)| b["type"] == "finding.opened") }
    };
    wait_until("the leader's findings reach the webhook", Duration::from_secs(30), opened).await;
    wait_until("every webhook delivery is done", Duration::from_secs(30), || {
        let s = store.clone();
        async move { s.webhook("regulator", "city").await.unwrap().unwrap().pending == 0 }
    })
    .await;
    // A second process stands by while the first leads.
    let store_b = db.store(false).await;
    let engine_b = Engine::new(Arc::new(store_b.clone()), RulesConfig::default(), chrono_tz::Asia::Shanghai);
    let n_before = store.findings(&onsite()).await.unwrap().len();
    stop_a.send(true).unwrap();
    a.await.unwrap();
    // A fact changes while nobody leads: the new leader's evaluation shows it
    // (the on-site finding starts clearing), without any new alert.
    let visit = NewVisit {
        kind: VisitKind::Onsite,
        started_at: t("2026-05-10T08:00:00+08:00"),
        ended_at: t("2026-05-10T09:00:00+08:00"),
        technician: "T-1".into(),
    };
    store.add_visit(liftwatch_store::records::Scope::All, dev(0), &visit, "firm:zls").await.unwrap();
    let (stop_b, b) = start(store_b.clone(), engine_b, "b");
    wait_until("the new leader has evaluated", Duration::from_secs(30), || {
        let s = store_b.clone();
        async move {
            s.open_findings()
                .await
                .unwrap()
                .iter()
                .any(|f| f.draft.rule.as_str() == "A1-III-1-onsite-interval" && f.clearing.is_some())
        }
    })
    .await;
    assert!(store.try_lead(liftwatch_engine::ROLE).await.unwrap().is_none(), "B leads");
    stop_b.send(true).unwrap();
    b.await.unwrap();
    assert_eq!(store.findings(&onsite()).await.unwrap().len(), n_before);
    let seen = seen.lock().unwrap();
    let mut ids: Vec<&str> = seen.iter().map(|(id, _)| id.as_str()).collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "no webhook-id twice: {ids:?}");
    assert_eq!(n, n_before, "one finding.opened per finding");
    assert!(seen.iter().all(|(_, b)| b["data"]["rule"].is_string() && b["data"]["clause"].is_string()));
}

#[tokio::test]
async fn the_rescue_limit_of_the_projects_region_applies() {
    use liftwatch_core::registry::ProjectSpec;
    let (_db, store, _) = world("engine_region").await;
    // Passengers trapped at 10:00; at 10:40 no rescuer yet.
    let alarm = Event {
        device: dev(0),
        seq: 10,
        ts: t("2026-05-10T10:00:00+08:00"),
        ts_offset: 8 * 3600,
        body: Body::Entrapment { incident_id: "e-9".into(), fault_id: None },
    };
    store.ingest(&[fixtures::inbound(&dev(0), [&alarm])]).await.unwrap();
    let now = t("2026-05-10T10:40:00+08:00");
    let mut rules = RulesConfig::default();
    rules.rescue.limit_minutes_by_region.insert("daishan".into(), 45);
    let rescue = |store: PgStore| async move {
        store
            .findings(&onsite())
            .await
            .unwrap()
            .into_iter()
            .filter(|f| f.rule == "TSG-T5002-rescue-arrival" && f.state == "open")
            .count()
    };
    // In Daishan (45 minutes) 40 minutes is within the limit …
    let p = store.project("haibin").await.unwrap().unwrap();
    let mut spec: ProjectSpec = p.spec.clone();
    spec.pilot_form.region = Some("daishan".into());
    store.put_project(&spec, p.spec.admitted_on).await.unwrap();
    let engine = Engine::new(Arc::new(store.clone()), rules.clone(), chrono_tz::Asia::Shanghai);
    engine.evaluate_once(now).await.unwrap();
    assert_eq!(rescue(store.clone()).await, 0, "within Daishan's 45 minutes");
    // … elsewhere the default 30 minutes applies.
    spec.pilot_form.region = None;
    store.put_project(&spec, p.spec.admitted_on).await.unwrap();
    engine.evaluate_once(now).await.unwrap();
    assert_eq!(rescue(store.clone()).await, 1, "past the default 30 minutes");
}

/// The snapshot carries the equipment facts and check results of attachment
/// 2 from the store, so the A2 rules see them (before, both were always
/// empty and the rules never fired).
#[tokio::test]
async fn the_snapshot_reads_equipment_facts_and_check_results() {
    use liftwatch_core::inspection::{Area, CheckKind, EquipmentFacts, NewCheckResult};
    let (_db, store, engine) = world("engine_a2").await;
    let day = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    let facts = EquipmentFacts::new(dev(0), day("2019-05-10"), Area::Dinghai, 5);
    store.put_equipment(&facts, "regulator").await.unwrap();
    let done = NewCheckResult {
        device_code: dev(0),
        kind: CheckKind::Test,
        done_on: day("2021-05-20"),
        passed: true,
        uploaded_on: day("2021-05-25"),
    };
    let rec = store.add_check(&done, "ZJ Test Co.", "regulator").await.unwrap();
    let snap = engine.snapshot(t("2026-05-10T10:00:00+08:00")).await.unwrap();
    assert_eq!(snap.equipment, vec![facts]);
    assert_eq!(snap.check_results, vec![rec.result]);
}
