//! The HTTP API through real HTTP against a real store: the access-control
//! matrix for every route of the OpenAPI document, error answers, and the
//! KPI shape of api-v1.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::sync::Arc;

use liftwatch_api::auth::TokenCache;
use liftwatch_api::limits::HttpLimits;
use liftwatch_api::{app, openapi, ApiState};
use liftwatch_core::protocol::{
    decode_message, parse_rfc3339, to_array_payload, topic_for, Body, DeviceCode, Event, FaultCode, Timestamp,
};
use liftwatch_store::{EventStore, Inbound, PgStore};
use liftwatch_testkit::{now, TestDb};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const REG: &str = "regulator-secret";

static NO_COUNTERS: std::sync::LazyLock<Value> = std::sync::LazyLock::new(
    || json!({"runs_reported": 0, "runs_by_odometer": 0, "runs_share": null, "counter_pairs": 0, "counter_resets": 0}),
);
const EA: &str = "31103302002018100001";
const EB: &str = "31103302002018100002";

struct Api {
    base: String,
    http: reqwest::Client,
    store: PgStore,
    _db: TestDb,
}

impl Api {
    async fn start(tag: &str) -> Api {
        Self::start_with(tag, HttpLimits::default(), TokenCache::default()).await
    }

    /// Served as `liftwatch serve` serves it, with these limits and token cache.
    async fn start_with(tag: &str, limits: HttpLimits, tokens: TokenCache) -> Api {
        let db = TestDb::new(tag).await;
        let store = db.store(true).await;
        let state = ApiState {
            store: Arc::new(store.clone()),
            regulator_token: Some(REG.into()),
            tz: chrono_tz::Asia::Shanghai,
            clock: Arc::new(now),
            ingest_ready: Arc::new(|| Ok(())),
            rules: Arc::default(),
            kick: Arc::default(),
            limits: limits.clone(),
            tokens,
            calendar: Arc::new(liftwatch_core::inspection::WorkCalendar::shipped()),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let never = std::future::pending::<()>();
        tokio::spawn(liftwatch_api::server::serve(listener, app(state), limits.header_read_timeout, never));
        Api { base, http: reqwest::Client::new(), store, _db: db }
    }

    async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn raw(&self, method: Method, path: &str, token: &str, body: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Registers firms A and B (tokens returned) with one project and one elevator each.
    async fn world(&self) -> (String, String) {
        let mut tokens = Vec::new();
        for (firm, project, dev) in [("zls", "haibin", EA), ("other", "dongcheng", EB)] {
            let (s, b) = self
                .call(
                    Method::PUT,
                    &format!("/api/v1/firms/{firm}"),
                    Some(REG),
                    Some(json!({"name": firm, "grade": "A", "self_declaration_url": "https://example.org/decl.pdf"})),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            tokens.push(b["token"].as_str().unwrap().to_owned());
            let (s, b) = self
                .call(
                    Method::PUT,
                    &format!("/api/v1/projects/{project}"),
                    Some(REG),
                    Some(json!({"name": project, "firm_id": firm, "owner": "o", "mode": "iot", "admitted_on": "2026-01-01",
                        "commitment": {"fault_rate_per_10k": 5.0, "downtime_minutes": 60, "rescue_minutes": 20},
                        "elevators": [{"device_code": dev, "kind": "traction", "location": "Bldg 3", "insured_until": "2027-06-30"}],
                        "owner_contact": "Ms Li", "owner_phone": "0580-1234567", "firm_contact": "Mr Wang",
                        "firm_phone": "0580-7654321", "manufacturer": "Otis", "insurer": "PICC Zhoushan",
                        "insured_from": "2026-07-01", "insured_until": "2027-06-30"})),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            self.ingest(dev).await;
        }
        (tokens.remove(0), tokens.remove(0))
    }

    /// 1000 runs, a closed and an open equipment stoppage, an entrapment with arrival.
    async fn ingest(&self, dev: &str) {
        let d = DeviceCode::parse(dev).unwrap();
        let t = |s: &str| parse_rfc3339(s).unwrap().0;
        let mut evs = Vec::new();
        let mut seq = 0;
        let mut ev = |ts: Timestamp, body: Body| {
            seq += 1;
            Event { device: d, seq, ts, ts_offset: 8 * 3600, body }
        };
        for i in 0..1000 {
            let ts = Timestamp(t("2026-11-01T08:00:00+08:00").0 + i * 60_000_000);
            evs.push(ev(ts, Body::Run { end: Timestamp(ts.0 + 30_000_000), from: 1, to: 5, doors: None }));
        }
        let fault = |id: &str| Body::Fault {
            fault_id: id.into(),
            code: FaultCode::parse("door_open_fault"),
            stops_service: true,
            cause: None,
        };
        evs.push(ev(t("2026-11-02T10:00:00+08:00"), fault("f1")));
        evs.push(ev(t("2026-11-02T10:30:00+08:00"), Body::FaultCleared { fault_id: "f1".into() }));
        evs.push(ev(t("2026-11-03T10:00:00+08:00"), fault("f2")));
        evs.push(ev(t("2026-11-04T10:00:00+08:00"), Body::Entrapment { incident_id: "e1".into(), fault_id: None }));
        evs.push(ev(t("2026-11-04T10:12:00+08:00"), Body::RescueArrived { incident_id: "e1".into() }));
        self.ingest_events(&evs).await;
    }

    /// Ingests events of one elevator (all new and valid).
    async fn ingest_events(&self, evs: &[Event]) {
        let d = evs[0].device;
        let topic = topic_for(&d);
        let batch: Vec<Inbound> = evs
            .chunks(500)
            .map(|c| {
                let payload = to_array_payload(c).into_bytes();
                let decoded = decode_message(&topic, &payload, now());
                Inbound { topic: topic.clone(), payload, received_at: now(), decoded }
            })
            .collect();
        let r = self.store.ingest(&batch).await.unwrap();
        assert_eq!((r.new_events, r.dead_letters.len()), (evs.len() as u64, 0));
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Access {
    /// Regulators only: a firm gets 403.
    Regulator,
    /// The owning firm and regulators; another firm gets 404.
    Owner,
    /// Any authenticated caller (answers are scoped).
    Anyone,
}

struct Case {
    method: Method,
    template: &'static str,
    /// The path for firm A's resource.
    path: String,
    body: Option<Value>,
    access: Access,
}

fn case(method: Method, template: &'static str, path: &str, body: Option<Value>, access: Access) -> Case {
    Case { method, template, path: path.to_owned(), body, access }
}

fn records() -> [(&'static str, Value); 4] {
    [
        (
            "/api/v1/complaints",
            json!({"project_id": "haibin", "device_code": EA, "received_on": "2026-11-20",
            "safety_or_quality": "safety", "verified": false, "maintenance_quality_caused": false, "summary": "door slams"}),
        ),
        (
            "/api/v1/inspections",
            json!({"project_id": "haibin", "device_code": EA, "kind": "spot_check", "on": "2026-11-21",
            "hazard_found": true, "passed": false, "summary": "brake wear"}),
        ),
        (
            "/api/v1/accidents",
            json!({"project_id": "haibin", "device_code": EA, "on": "2026-11-22",
            "caused_by_maintenance": false, "summary": "passenger fell"}),
        ),
        (
            "/api/v1/rectification-orders",
            json!({"project_id": "haibin", "issued_on": "2026-11-23", "deadline": "2026-12-23",
            "reason": "brake wear found on spot check"}),
        ),
    ]
}

fn webhook_body() -> Value {
    json!({"url": "https://alerts.example.com/liftwatch", "secret": "s3cret-s3cret-s3cret-s3cret"})
}

fn matrix() -> Vec<Case> {
    use Access::*;
    let [(_, complaint), (_, inspection), (_, accident), (_, order)] = records();
    let project = json!({"name": "Haibin", "firm_id": "zls", "mode": "iot", "admitted_on": "2026-01-01",
        "elevators": [{"device_code": EA}]});
    vec![
        case(
            Method::PUT,
            "/api/v1/firms/{firm_id}",
            "/api/v1/firms/zls",
            Some(json!({"name": "zls", "grade": "B", "self_declaration_url": "https://example.org/d.pdf"})),
            Regulator,
        ),
        case(Method::GET, "/api/v1/firms/{firm_id}", "/api/v1/firms/zls", None, Owner),
        case(Method::GET, "/api/v1/firms", "/api/v1/firms", None, Anyone),
        case(Method::POST, "/api/v1/firms/{firm_id}/token", "/api/v1/firms/third/token", None, Regulator),
        case(Method::PUT, "/api/v1/projects/{project_id}", "/api/v1/projects/haibin", Some(project), Regulator),
        case(Method::GET, "/api/v1/projects/{project_id}", "/api/v1/projects/haibin", None, Owner),
        case(Method::GET, "/api/v1/projects", "/api/v1/projects", None, Anyone),
        case(Method::GET, "/api/v1/projects/{project_id}/kpis", "/api/v1/projects/haibin/kpis", None, Owner),
        case(Method::GET, "/api/v1/overview/projects", "/api/v1/overview/projects?sort=downtime", None, Regulator),
        case(
            Method::GET,
            "/api/v1/projects/{project_id}/series",
            "/api/v1/projects/haibin/series?from=2026-11-01&to=2026-11-30",
            None,
            Owner,
        ),
        case(Method::GET, "/api/v1/elevators/{device_code}/kpis", &format!("/api/v1/elevators/{EA}/kpis"), None, Owner),
        case(Method::GET, "/api/v1/dead-letters", "/api/v1/dead-letters", None, Regulator),
        case(Method::GET, "/api/v1/findings", "/api/v1/findings?project=haibin&state=open", None, Owner),
        case(Method::GET, "/api/v1/findings/{id}", "/api/v1/findings/f-a", None, Owner),
        case(Method::POST, "/api/v1/findings/{id}/acknowledge", "/api/v1/findings/f-a/acknowledge", None, Regulator),
        case(
            Method::POST,
            "/api/v1/findings/{id}/notes",
            "/api/v1/findings/f-a/notes",
            Some(json!({"note": "called the firm"})),
            Regulator,
        ),
        case(Method::GET, "/api/v1/findings/{id}/notes", "/api/v1/findings/f-a/notes", None, Regulator),
        // What firms record.
        case(
            Method::PUT,
            "/api/v1/elevators/{device_code}/faults/{fault_id}/cause",
            &format!("/api/v1/elevators/{EA}/faults/f1/cause"),
            Some(json!({"cause": "external", "reason": "grid outage, utility notice 2026-11-03"})),
            Owner,
        ),
        case(
            Method::GET,
            "/api/v1/elevators/{device_code}/faults/{fault_id}",
            &format!("/api/v1/elevators/{EA}/faults/f1"),
            None,
            Owner,
        ),
        case(
            Method::GET,
            "/api/v1/elevators/{device_code}/faults",
            &format!("/api/v1/elevators/{EA}/faults"),
            None,
            Owner,
        ),
        case(
            Method::PUT,
            "/api/v1/elevators/{device_code}/entrapments/{incident_id}/arrival",
            &format!("/api/v1/elevators/{EA}/entrapments/e1/arrival"),
            Some(json!({"arrived_at": "2026-11-04T10:10:00+08:00"})),
            Owner,
        ),
        case(
            Method::GET,
            "/api/v1/elevators/{device_code}/entrapments/{incident_id}",
            &format!("/api/v1/elevators/{EA}/entrapments/e1"),
            None,
            Owner,
        ),
        case(
            Method::POST,
            "/api/v1/elevators/{device_code}/visits",
            &format!("/api/v1/elevators/{EA}/visits"),
            Some(
                json!({"kind": "onsite", "started_at": "2026-11-20T09:00:00+08:00", "ended_at": "2026-11-20T10:00:00+08:00", "technician": "T-0042"}),
            ),
            Owner,
        ),
        case(
            Method::GET,
            "/api/v1/elevators/{device_code}/visits",
            &format!("/api/v1/elevators/{EA}/visits"),
            None,
            Owner,
        ),
        case(
            Method::GET,
            "/api/v1/firms/{firm_id}/reclassification",
            "/api/v1/firms/zls/reclassification",
            None,
            Owner,
        ),
        // What regulators record.
        case(
            Method::POST,
            "/api/v1/firms/{firm_id}/grades",
            "/api/v1/firms/zls/grades",
            Some(json!({"year": 2025, "grade": "A", "self_declared": true})),
            Regulator,
        ),
        case(Method::GET, "/api/v1/firms/{firm_id}/grades", "/api/v1/firms/zls/grades", None, Owner),
        case(Method::POST, "/api/v1/complaints", "/api/v1/complaints", Some(complaint.clone()), Regulator),
        case(Method::GET, "/api/v1/complaints", "/api/v1/complaints", None, Anyone),
        case(Method::GET, "/api/v1/complaints/{id}", "/api/v1/complaints/1", None, Owner),
        case(
            Method::PUT,
            "/api/v1/complaints/{id}/verification",
            "/api/v1/complaints/1/verification",
            Some(json!({"verified": true, "maintenance_quality_caused": false})),
            Regulator,
        ),
        case(Method::POST, "/api/v1/inspections", "/api/v1/inspections", Some(inspection.clone()), Regulator),
        case(Method::GET, "/api/v1/inspections", "/api/v1/inspections", None, Anyone),
        case(Method::GET, "/api/v1/inspections/{id}", "/api/v1/inspections/1", None, Owner),
        case(Method::POST, "/api/v1/accidents", "/api/v1/accidents", Some(accident.clone()), Regulator),
        case(Method::GET, "/api/v1/accidents", "/api/v1/accidents", None, Anyone),
        case(Method::GET, "/api/v1/accidents/{id}", "/api/v1/accidents/1", None, Owner),
        case(
            Method::POST,
            "/api/v1/rectification-orders",
            "/api/v1/rectification-orders",
            Some(order.clone()),
            Regulator,
        ),
        case(Method::GET, "/api/v1/rectification-orders", "/api/v1/rectification-orders", None, Anyone),
        case(Method::GET, "/api/v1/rectification-orders/{id}", "/api/v1/rectification-orders/1", None, Owner),
        case(
            Method::PUT,
            "/api/v1/rectification-orders/{id}/completion",
            "/api/v1/rectification-orders/1/completion",
            Some(json!({"completed_on": "2026-11-25"})),
            Regulator,
        ),
        case(Method::POST, "/api/v1/dead-letters/replay", "/api/v1/dead-letters/replay", None, Regulator),
        // Attachment 2: the regulator writes facts and results (inspection bodies with its token).
        case(
            Method::PUT,
            "/api/v1/elevators/{device_code}/equipment",
            &format!("/api/v1/elevators/{EA}/equipment"),
            Some(json!({"supervised_on": "2019-05-10", "area": "dinghai", "inspection_month": 5})),
            Regulator,
        ),
        case(
            Method::GET,
            "/api/v1/elevators/{device_code}/equipment",
            &format!("/api/v1/elevators/{EA}/equipment"),
            None,
            Owner,
        ),
        case(
            Method::POST,
            "/api/v1/elevators/{device_code}/checks",
            &format!("/api/v1/elevators/{EA}/checks"),
            Some(json!({"kind": "test", "done_on": "2026-05-20", "passed": true, "uploaded_on": "2026-05-27"})),
            Regulator,
        ),
        case(
            Method::GET,
            "/api/v1/elevators/{device_code}/checks",
            &format!("/api/v1/elevators/{EA}/checks"),
            None,
            Owner,
        ),
        case(
            Method::GET,
            "/api/v1/elevators/{device_code}/schedule",
            &format!("/api/v1/elevators/{EA}/schedule?from=2025&to=2026"),
            None,
            Owner,
        ),
        case(Method::GET, "/api/v1/inspections/due", "/api/v1/inspections/due?month=2026-05", None, Anyone),
        // Alerts: each caller has its own webhooks (same id, different webhooks).
        case(Method::PUT, "/api/v1/webhooks/{id}", "/api/v1/webhooks/w1", Some(webhook_body()), Anyone),
        case(Method::GET, "/api/v1/webhooks/{id}", "/api/v1/webhooks/w1", None, Anyone),
        case(Method::GET, "/api/v1/webhooks", "/api/v1/webhooks", None, Anyone),
        case(Method::DELETE, "/api/v1/webhooks/{id}", "/api/v1/webhooks/w1", None, Anyone),
        // The dashboard's: who the token is; the boxes not heard from.
        case(Method::GET, "/api/v1/whoami", "/api/v1/whoami", None, Anyone),
        case(Method::GET, "/api/v1/telemetry/silent", "/api/v1/telemetry/silent", None, Regulator),
    ]
}

#[tokio::test]
async fn access_control_for_every_route() {
    let api = Api::start("api_acl").await;
    let (token_a, token_b) = api.world().await;
    let (s, _) =
        api.call(Method::PUT, "/api/v1/firms/third", Some(REG), Some(json!({"name": "third", "grade": "C"}))).await;
    assert_eq!(s, StatusCode::CREATED);
    // One record of each kind for firm A's project, so that `{id}` = 1 is firm A's.
    for (path, body) in records() {
        let (s, b) = api.call(Method::POST, path, Some(REG), Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{path}: {b}");
        assert_eq!(b["id"], 1, "{path}");
    }
    // Findings (written by the rule engine; inserted here): a firm sees its own; f-a is firm A's.
    let (c, conn) = tokio_postgres::connect(&api._db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    c.batch_execute(
        "INSERT INTO findings (id, rule, project_id, firm_id, action, severity, summary, opened_at) VALUES \
         ('f-a', 'A1-III-1-onsite-interval', 'haibin', 'zls', 'rectify', 'major', 'no on-site maintenance for 97 days', now()), \
         ('f-b', 'A1-III-1-onsite-interval', 'dongcheng', 'other', 'rectify', 'major', 'x', now())",
    )
    .await
    .unwrap();
    let cases = matrix();
    // Every documented route is in the matrix, and nothing else.
    let doc = serde_json::to_value(openapi()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&m.as_str()) {
                documented.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    let tested: BTreeSet<(String, String)> =
        cases.iter().map(|c| (c.method.to_string(), c.template.to_owned())).collect();
    assert_eq!(tested, documented, "the access matrix must cover exactly the documented routes");

    for c in &cases {
        let what = format!("{} {}", c.method, c.path);
        let (s, b) = api.call(c.method.clone(), &c.path, None, c.body.clone()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{what} without a token: {b}");
        assert_eq!(b["error"], "unauthorized", "{what}");
        let (s, _) = api.call(c.method.clone(), &c.path, Some("not-a-token"), c.body.clone()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{what} with a bad token");
        let (s, b) = api.call(c.method.clone(), &c.path, Some(REG), c.body.clone()).await;
        assert!(s.is_success(), "{what} as regulator: {s} {b}");
        let (s_a, b_a) = api.call(c.method.clone(), &c.path, Some(&token_a), c.body.clone()).await;
        let (s_b, b_b) = api.call(c.method.clone(), &c.path, Some(&token_b), c.body.clone()).await;
        match c.access {
            Access::Regulator => {
                assert_eq!(s_a, StatusCode::FORBIDDEN, "{what} as firm: {b_a}");
                assert_eq!(b_a["error"], "forbidden");
                assert_eq!(s_b, StatusCode::FORBIDDEN, "{what} as other firm");
            }
            Access::Owner if c.template.ends_with("/cause") => {
                // The regulator's correction just above stands: the owning
                // firm passes access control and gets the conflict (409),
                // another firm still gets 404 (scoping comes first).
                assert_eq!((s_a, b_a["error"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{what}: {b_a}");
                assert_eq!(s_b, StatusCode::NOT_FOUND, "{what} as another firm: {b_b}");
                assert_eq!(b_b["error"], "not_found");
            }
            Access::Owner => {
                assert!(s_a.is_success(), "{what} as owning firm: {s_a} {b_a}");
                assert_eq!(s_b, StatusCode::NOT_FOUND, "{what} as another firm: {b_b}");
                assert_eq!(b_b["error"], "not_found");
            }
            Access::Anyone => {
                assert!(s_a.is_success(), "{what} as firm: {s_a}");
                assert!(s_b.is_success(), "{what} as other firm: {s_b}");
            }
        }
    }
    let (_, fa) = api.call(Method::GET, "/api/v1/findings?state=open", Some(&token_a), None).await;
    assert_eq!(fa.as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect::<Vec<_>>(), vec!["f-a"]);
    assert_eq!(fa[0]["action"], "rectify");
    let (_, all) = api.call(Method::GET, "/api/v1/findings", Some(REG), None).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (_, p) = api.call(Method::GET, "/api/v1/projects/haibin", Some(REG), None).await;
    assert_eq!(p["open_findings"], 1);
    // Scoped lists: a firm sees only its own.
    let (_, firms) = api.call(Method::GET, "/api/v1/firms", Some(&token_b), None).await;
    assert_eq!(firms.as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect::<Vec<_>>(), vec!["other"]);
    let (_, ps) = api.call(Method::GET, "/api/v1/projects", Some(&token_b), None).await;
    assert_eq!(ps.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect::<Vec<_>>(), vec!["dongcheng"]);
    let (_, ps) = api.call(Method::GET, "/api/v1/projects?firm=zls", Some(&token_b), None).await;
    assert!(ps.as_array().unwrap().is_empty());
    // Who each token is (the dashboard picks its view from it).
    let (_, w) = api.call(Method::GET, "/api/v1/whoami", Some(&token_a), None).await;
    assert_eq!(w, json!({"role": "firm", "firm_id": "zls"}));
    let (_, w) = api.call(Method::GET, "/api/v1/whoami", Some(REG), None).await;
    assert_eq!(w, json!({"role": "regulator"}));
    // Both boxes were last heard on 2026-11-04, weeks before the clock's now.
    let (_, silent) = api.call(Method::GET, "/api/v1/telemetry/silent", Some(REG), None).await;
    let mut codes: Vec<&str> = silent.as_array().unwrap().iter().map(|s| s["device_code"].as_str().unwrap()).collect();
    codes.sort_unstable();
    assert_eq!(codes, [EA, EB], "{silent}");
    assert!(silent[0]["silent_seconds"].as_i64().unwrap() > 20 * 86_400, "{silent}");
    assert!(silent[0]["last_seen"].is_string(), "{silent}");
}

/// The regulator overview answers every project's KPIs as the project's own
/// KPI answer gives them, ranked worst first by the figure asked; firms are
/// refused it.
#[tokio::test]
async fn overview_ranks_every_project_with_its_own_kpi_answer() {
    let api = Api::start("api_overview").await;
    let (token_a, _) = api.world().await;
    let (c, conn) = tokio_postgres::connect(&api._db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    c.batch_execute(
        "INSERT INTO findings (id, rule, project_id, firm_id, action, severity, summary, opened_at) VALUES \
         ('f-b', 'A1-III-1-onsite-interval', 'dongcheng', 'other', 'rectify', 'major', 'x', now())",
    )
    .await
    .unwrap();
    let (s, all) = api.call(Method::GET, "/api/v1/overview/projects?at=2026-11-28", Some(REG), None).await;
    assert_eq!(s, StatusCode::OK, "{all}");
    let rows = all.as_array().unwrap();
    // Same fault rate: ties by project id.
    let order: Vec<_> = rows.iter().map(|r| (r["rank"].as_i64(), r["kpis"]["project"].as_str())).collect();
    assert_eq!(order, [(Some(1), Some("dongcheng")), (Some(2), Some("haibin"))]);
    for r in rows {
        let id = r["kpis"]["project"].as_str().unwrap();
        let (_, k) = api.call(Method::GET, &format!("/api/v1/projects/{id}/kpis?at=2026-11-28"), Some(REG), None).await;
        assert_eq!(r["kpis"], k, "{id}");
    }
    let (_, by_findings) = api.call(Method::GET, "/api/v1/overview/projects?sort=findings", Some(REG), None).await;
    let firsts: Vec<_> = by_findings
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["kpis"]["project"].clone(), r["open_findings"].clone()))
        .collect();
    assert_eq!(firsts, [(json!("dongcheng"), json!(1)), (json!("haibin"), json!(0))]);
    let (s, _) = api.call(Method::GET, "/api/v1/overview/projects", Some(&token_a), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = api.call(Method::GET, "/api/v1/overview/projects?sort=colour", Some(REG), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) = api.call(Method::GET, "/api/v1/overview/projects?at=2026-11-28&half=2026H1", Some(REG), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
}

#[tokio::test]
async fn kpis_have_the_shape_of_api_v1() {
    let api = Api::start("api_kpi").await;
    let (token_a, _) = api.world().await;
    let (s, k) = api.call(Method::GET, "/api/v1/projects/haibin/kpis?at=2026-11-28", Some(&token_a), None).await;
    assert_eq!(s, StatusCode::OK, "{k}");
    assert_eq!(k["project"], "haibin");
    assert_eq!(k["window"], json!({"from": "2026-05-28", "to": "2026-11-27"}));
    assert_eq!(k["elevators"], 1);
    assert_eq!(k["runs"], 1000);
    assert_eq!(k["equipment_faults"], 2);
    assert_eq!(k["fault_rate_per_10k"], 20.0);
    assert_eq!(
        k["downtime"],
        json!({"count": 1, "mean_minutes": 30.0, "open": 1, "oldest_open_since": "2026-11-03T02:00:00.000000Z"})
    );
    assert_eq!(k["rescue"], json!({"count": 1, "mean_minutes": 12.0, "awaiting_arrival": 0}));
    assert_eq!(k["commitment"], json!({"fault_rate_per_10k": 5.0, "downtime_minutes": 60.0, "rescue_minutes": 20.0}));
    assert_eq!(k["meets_commitment"], json!({"fault_rate": false, "downtime": true, "rescue": true}));
    assert!(k.get("per_elevator").is_none(), "per-elevator figures only on request");
    let (_, p) = api.call(Method::GET, "/api/v1/projects/haibin", Some(&token_a), None).await;
    assert_eq!(
        (
            p["manufacturer"].as_str(),
            p["insurer"].as_str(),
            p["insured_from"].as_str(),
            p["max_onsite_interval_months"].as_i64()
        ),
        (Some("Otis"), Some("PICC Zhoushan"), Some("2026-07-01"), Some(3))
    );
    assert_eq!((p["status"].as_str(), p["open_findings"].as_i64()), (Some("active"), Some(0)));
    assert_eq!(p["memberships"], json!([{"device_code": EA, "since": "2026-01-01", "until": null}]));
    let (_, kp) =
        api.call(Method::GET, "/api/v1/projects/haibin/kpis?at=2026-11-28&per_elevator=true", Some(REG), None).await;
    assert_eq!(
        kp["per_elevator"],
        json!([{"device_code": EA, "runs": 1000, "equipment_faults": 2, "fault_rate_per_10k": 20.0,
            "completeness": NO_COUNTERS.clone()}])
    );
    // No counter: completeness is unknown (null), never 1.0.
    assert_eq!(k["completeness"], *NO_COUNTERS);
    // Default `at` is today (the injected clock): same window.
    let (_, k2) = api.call(Method::GET, "/api/v1/projects/haibin/kpis", Some(&token_a), None).await;
    assert_eq!(k2["window"], k["window"]);
    let (_, h) = api.call(Method::GET, "/api/v1/projects/haibin/kpis?half=2026H1", Some(REG), None).await;
    assert_eq!((h["window"]["from"].as_str(), h["runs"].as_i64()), (Some("2026-01-01"), Some(0)));
    assert!(h["fault_rate_per_10k"].is_null());
    let (_, e) = api.call(Method::GET, &format!("/api/v1/elevators/{EA}/kpis?at=2026-11-28"), Some(REG), None).await;
    assert_eq!((e["elevator"].as_str(), e["runs"].as_i64()), (Some(EA), Some(1000)));
    // Its box was last heard at the rescuer's arrival, 2026-11-04 10:12 (+08:00), 24 days and 1 h 48 min before now.
    assert_eq!(
        e["telemetry"],
        json!({"last_seen": "2026-11-04T02:12:00.000000Z", "silent_seconds": 2_080_080, "seq_gaps": 0, "events": 1005})
    );
    assert!(k.get("telemetry").is_none(), "telemetry in elevator answers");
    let (_, series) =
        api.call(Method::GET, "/api/v1/projects/haibin/series?from=2026-11-01&to=2026-11-04", Some(REG), None).await;
    let days: Vec<&str> = series.as_array().unwrap().iter().map(|d| d["day"].as_str().unwrap()).collect();
    assert_eq!(days, vec!["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]);
    assert_eq!(series[1]["downtime_mean_minutes"], 30.0);
}

/// Counters beside the world's 1000 runs of EA (08:00 to 00:39, one a
/// minute): the odometer counted 1250, so 250 runs are missing. The KPI
/// answers say so, and `/metrics` shows it with the silent boxes (both were
/// last heard on 2026-11-04, weeks before the test clock); it passes
/// `promtool check metrics` when promtool is installed.
#[tokio::test]
async fn completeness_in_kpis_and_loss_in_metrics() {
    let api = Api::start("api_complete").await;
    api.world().await;
    let d = DeviceCode::parse(EA).unwrap();
    let counter = |seq: u64, at: &str, runs_total: u64| Event {
        device: d,
        seq,
        ts: parse_rfc3339(at).unwrap().0,
        ts_offset: 8 * 3600,
        body: Body::Counter { runs_total },
    };
    let counters = [counter(2001, "2026-11-01T07:59:00+08:00", 5000), counter(2002, "2026-11-02T01:00:00+08:00", 6250)];
    api.store.ingest(&liftwatch_testkit::messages(&counters, 2)).await.unwrap();
    let want = json!({"runs_reported": 1000, "runs_by_odometer": 1250, "runs_share": 0.8, "counter_pairs": 1,
        "counter_resets": 0});
    let (_, k) =
        api.call(Method::GET, "/api/v1/projects/haibin/kpis?at=2026-11-28&per_elevator=true", Some(REG), None).await;
    assert_eq!(k["completeness"], want);
    assert_eq!(k["per_elevator"][0]["completeness"], want);
    let (_, h) = api.call(Method::GET, "/api/v1/projects/haibin/kpis?half=2026H2", Some(REG), None).await;
    assert_eq!(h["completeness"], want);
    let (_, e) = api.call(Method::GET, &format!("/api/v1/elevators/{EA}/kpis?half=2026H2"), Some(REG), None).await;
    assert_eq!(e["completeness"], want);
    assert_eq!((e["telemetry"]["events"].as_i64(), e["telemetry"]["seq_gaps"].as_i64()), (Some(1007), Some(995)));
    let (_, other) = api.call(Method::GET, "/api/v1/projects/dongcheng/kpis?at=2026-11-28", Some(REG), None).await;
    assert_eq!(other["completeness"], *NO_COUNTERS);
    // The OpenAPI document describes the new fields.
    let (_, doc) = api.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    let schemas = &doc["components"]["schemas"];
    for field in ["runs_reported", "runs_by_odometer", "runs_share", "counter_pairs", "counter_resets"] {
        assert!(schemas["Completeness"]["properties"].get(field).is_some(), "Completeness.{field}");
    }
    assert!(schemas["KpiOut"]["properties"].get("completeness").is_some());
    assert!(schemas["KpiOut"]["properties"].get("telemetry").is_some());
    assert!(schemas["ElevatorFigures"]["properties"].get("completeness").is_some());
    assert!(schemas["TelemetryOut"]["properties"].get("seq_gaps").is_some());
    let m = api.http.get(format!("{}/metrics", api.base)).send().await.unwrap().text().await.unwrap();
    for needle in [
        "# TYPE liftwatch_telemetry_runs_missing_by_odometer gauge\nliftwatch_telemetry_runs_missing_by_odometer 250\n",
        "liftwatch_telemetry_odometer_runs_total 1250\n",
        "liftwatch_telemetry_reported_runs_total 1000\n",
        "# TYPE liftwatch_telemetry_devices_silent gauge\nliftwatch_telemetry_devices_silent 2\n",
        "liftwatch_telemetry_silent_threshold_seconds 900\n",
        "liftwatch_telemetry_devices 2\n",
        "liftwatch_telemetry_seq_gaps 995\n",
        "liftwatch_telemetry_refresh_errors_total 0\n",
    ] {
        assert!(m.contains(needle), "missing {needle:?} in\n{m}");
    }
    match std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(mut child) => {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(m.as_bytes()).unwrap();
            let out = child.wait_with_output().unwrap();
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success(), "promtool: {text}");
        }
        Err(_) => eprintln!("promtool not installed: exposition checked by the assertions above only"),
    }
}

#[tokio::test]
async fn client_mistakes_get_4xx_with_a_message() {
    let api = Api::start("api_err").await;
    api.world().await;
    let conflict = format!(
        r#"{{"name":"p","firm_id":"zls","mode":"iot","admitted_on":"2026-01-01",
            "commitment":{{"fault_rate_per_10k":5.0,"downtime_minutes":60,"rescue_minutes":20}},
            "elevators":[{{"device_code":"{EB}","insured_until":"2027-06-30"}}]}}"#
    );
    let cases: Vec<(Method, &str, Option<&str>, StatusCode)> = vec![
        (Method::PUT, "/api/v1/firms/zls", Some("{not json"), StatusCode::BAD_REQUEST),
        (Method::PUT, "/api/v1/firms/zls", Some(r#"{"name":"x","grade":"Z"}"#), StatusCode::BAD_REQUEST),
        (Method::PUT, "/api/v1/firms/zls", Some(r#"{"name":"x","grade":"A"}"#), StatusCode::BAD_REQUEST),
        (Method::PUT, "/api/v1/firms/zls", Some(r#"{"name":"x"}"#), StatusCode::UNPROCESSABLE_ENTITY),
        (Method::PUT, "/api/v1/firms/bad%20id", Some(r#"{"name":"x","grade":"C"}"#), StatusCode::BAD_REQUEST),
        (
            Method::PUT,
            "/api/v1/projects/p",
            Some(r#"{"name":"p","firm_id":"zls","mode":"teleport","admitted_on":"2026-01-01","elevators":[]}"#),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PUT,
            "/api/v1/projects/p",
            Some(r#"{"name":"p","firm_id":"zls","mode":"iot","admitted_on":"2026-13-01","elevators":[]}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PUT,
            "/api/v1/projects/p",
            Some(
                r#"{"name":"p","firm_id":"zls","mode":"iot","admitted_on":"2026-01-01","elevators":[{"device_code":"abc"}]}"#,
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PUT,
            "/api/v1/projects/p",
            Some(r#"{"name":"p","firm_id":"nope","mode":"iot","admitted_on":"2026-01-01","elevators":[]}"#),
            StatusCode::NOT_FOUND,
        ),
        (Method::PUT, "/api/v1/projects/p", Some(&conflict), StatusCode::CONFLICT),
        (Method::GET, "/api/v1/projects/haibin/kpis?at=2026-02-30", None, StatusCode::BAD_REQUEST),
        (Method::GET, "/api/v1/projects/haibin/kpis?half=2026H3", None, StatusCode::BAD_REQUEST),
        (Method::GET, "/api/v1/projects/haibin/kpis?at=2026-11-01&half=2026H1", None, StatusCode::BAD_REQUEST),
        (Method::GET, "/api/v1/projects/nope/kpis", None, StatusCode::NOT_FOUND),
        (Method::GET, "/api/v1/elevators/abc/kpis", None, StatusCode::BAD_REQUEST),
        (Method::GET, "/api/v1/elevators/31103302002018199999/kpis", None, StatusCode::NOT_FOUND),
        (Method::GET, "/api/v1/projects/haibin/series?from=2026-11-05&to=2026-11-01", None, StatusCode::BAD_REQUEST),
        (Method::GET, "/api/v1/projects/haibin/series?from=2026-11-05", None, StatusCode::BAD_REQUEST),
        (Method::GET, "/api/v1/projects?limit=0", None, StatusCode::BAD_REQUEST),
        (Method::GET, "/api/v1/projects?status=sleeping", None, StatusCode::BAD_REQUEST),
        (Method::GET, "/api/v1/dead-letters?limit=100000", None, StatusCode::BAD_REQUEST),
        (Method::GET, "/api/v1/dead-letters?since=yesterday", None, StatusCode::BAD_REQUEST),
    ];
    for (m, path, body, want) in cases {
        let (s, b) = match body {
            Some(body) => api.raw(m.clone(), path, REG, body).await,
            None => api.call(m.clone(), path, Some(REG), None).await,
        };
        assert_eq!(s, want, "{m} {path}: {b}");
        assert!(b["error"].is_string() && b["message"].as_str().is_some_and(|m| !m.is_empty()), "{m} {path}: {b}");
    }
    // Body size limit.
    let big = format!(r#"{{"name":"{}","grade":"A"}}"#, "x".repeat(5 * 1024 * 1024));
    let (s, b) = api.raw(Method::PUT, "/api/v1/firms/big", REG, &big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
}

#[tokio::test]
async fn firm_tokens_are_issued_once_and_rotate() {
    let api = Api::start("api_tok").await;
    let (token_a, _) = api.world().await;
    let (s, b) = api
        .call(
            Method::PUT,
            "/api/v1/firms/zls",
            Some(REG),
            Some(json!({"name": "Z", "grade": "B", "self_declaration_url": "https://x/d"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.get("token").is_none(), "an update does not reveal a token");
    let (s, rotated) = api.call(Method::POST, "/api/v1/firms/zls/token", Some(REG), None).await;
    assert_eq!(s, StatusCode::OK);
    let new = rotated["token"].as_str().unwrap();
    assert_ne!(new, token_a);
    let (s, _) = api.call(Method::GET, "/api/v1/firms/zls", Some(&token_a), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the old token is revoked");
    let (s, f) = api.call(Method::GET, "/api/v1/firms/zls", Some(new), None).await;
    assert_eq!((s, f["grade"].as_str()), (StatusCode::OK, Some("B")));
}

#[tokio::test]
async fn health_and_openapi_need_no_token() {
    let api = Api::start("api_open").await;
    let (s, _) = api.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = api.call(Method::GET, "/readyz", None, None).await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("ready")));
    let (s, doc) = api.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/v1/projects/{project_id}/kpis"]["get"].is_object());
}

/// A fault of elevator `dev` on 2026-11-28 (today in these tests), after
/// the takeover.
async fn fault_today(api: &Api, dev: &str) {
    let body =
        Body::Fault { fault_id: "f9".into(), code: FaultCode::parse("brake_fault"), stops_service: true, cause: None };
    let ts = parse_rfc3339("2026-11-28T09:00:00+08:00").unwrap().0;
    api.ingest_events(&[Event { device: DeviceCode::parse(dev).unwrap(), seq: 5000, ts, ts_offset: 8 * 3600, body }])
        .await;
}

fn visit(day: &str) -> Value {
    json!({"kind": "onsite", "started_at": format!("{day}T09:00:00+08:00"), "ended_at": format!("{day}T10:00:00+08:00"),
        "technician": "T-1"})
}

/// Ids of the listed faults (or visits' start days).
fn listed(v: &Value, key: &str) -> Vec<String> {
    v.as_array().unwrap().iter().map(|x| x[key].as_str().unwrap().chars().take(10).collect()).collect()
}

/// Tenant isolation (issue 9 item 4), on the takeover of elevator EA by firm
/// B (`other`) from firm A (`zls`) on 2026-11-28, today: each firm reaches
/// the days of its own tenure only. B cannot list or read A's faults (with
/// their correction reasons), entrapments or visits, nor backdate a visit
/// into A's period; A keeps reading its own days and nothing after, and
/// writes nothing more. While A held the elevator it could correct its
/// faults; a regulator's correction stands; arrivals before the alarm are
/// refused.
#[tokio::test]
async fn incidents_belong_to_the_firm_of_their_day() {
    let api = Api::start("api_takeover").await;
    let (token_a, token_b) = api.world().await;
    let el = |rest: &str| format!("/api/v1/elevators/{EA}{rest}");
    // While A holds EA: it corrects a fault, records a visit and an arrival.
    let cause = json!({"cause": "usage", "reason": "passenger held the door"});
    let (s, b) = api.call(Method::PUT, &el("/faults/f1/cause"), Some(&token_a), Some(cause)).await;
    assert_eq!(s, StatusCode::OK, "the firm holding the elevator corrects its fault: {b}");
    // A regulator's correction stands: the firm cannot override it (409).
    let reg_cause = json!({"cause": "equipment", "reason": "the door motor log shows a fault"});
    let (s, b) = api.call(Method::PUT, &el("/faults/f1/cause"), Some(REG), Some(reg_cause)).await;
    assert_eq!((s, b["cause"].as_str()), (StatusCode::OK, Some("equipment")), "{b}");
    let again = json!({"cause": "usage", "reason": "we still think the passenger held the door"});
    let (s, b) = api.call(Method::PUT, &el("/faults/f1/cause"), Some(&token_a), Some(again)).await;
    assert_eq!((s, b["error"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{b}");
    assert!(b["message"].as_str().is_some_and(|m| m.contains("regulator")), "{b}");
    let (s, b) = api.call(Method::POST, &el("/visits"), Some(&token_a), Some(visit("2026-11-10"))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // Arrival before the alarm (2026-11-04T10:00+08:00) is refused.
    let arrival = el("/entrapments/e1/arrival");
    let (s, b) =
        api.call(Method::PUT, &arrival, Some(&token_a), Some(json!({"arrived_at": "2026-11-04T09:00:00+08:00"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) =
        api.call(Method::PUT, &arrival, Some(&token_a), Some(json!({"arrived_at": "2026-11-04T10:05:00+08:00"}))).await;
    assert_eq!((s, b["rescue_minutes"].as_f64()), (StatusCode::OK, Some(5.0)), "{b}");
    assert_eq!(b["arrival_reported_by"], "firm:zls", "the API report is now the earliest: audited");
    let (_, e) = api.call(Method::GET, &format!("/api/v1/elevators/{EB}/entrapments/e1"), Some(REG), None).await;
    assert_eq!(e["arrival_reported_by"], "box");

    // EA moves from haibin (zls) to dongcheng (other) today, 2026-11-28.
    let haibin =
        json!({"name": "haibin", "firm_id": "zls", "mode": "iot", "admitted_on": "2026-01-01", "elevators": []});
    let (s, b) = api.call(Method::PUT, "/api/v1/projects/haibin", Some(REG), Some(haibin)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let dongcheng = json!({"name": "dongcheng", "firm_id": "other", "mode": "iot", "admitted_on": "2026-01-01",
        "elevators": [{"device_code": EB}, {"device_code": EA}]});
    let (s, b) = api.call(Method::PUT, "/api/v1/projects/dongcheng", Some(REG), Some(dongcheng)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    fault_today(&api, EA).await;
    let (s, b) = api.call(Method::POST, &el("/visits"), Some(&token_b), Some(visit("2026-11-28"))).await;
    assert_eq!(s, StatusCode::CREATED, "the new firm records today: {b}");

    // Elevator KPIs: each firm sees its own days only; the box's telemetry
    // only the firm holding the elevator.
    let kpis = el("/kpis?half=2026H2");
    let (_, ka) = api.call(Method::GET, &kpis, Some(&token_a), None).await;
    let (_, kb) = api.call(Method::GET, &kpis, Some(&token_b), None).await;
    let (_, kr) = api.call(Method::GET, &kpis, Some(REG), None).await;
    assert_eq!((ka["runs"].as_i64(), kb["runs"].as_i64(), kr["runs"].as_i64()), (Some(1000), Some(0), Some(1000)));
    assert_eq!((ka["elevators"].as_i64(), kb["elevators"].as_i64()), (Some(1), Some(1)));
    assert_eq!((ka["downtime"]["open"].as_i64(), kb["downtime"]["open"].as_i64()), (Some(1), Some(1)), "{ka} {kb}");
    assert!(ka.get("telemetry").is_none() && kb["telemetry"].is_object(), "{ka} {kb}");

    // B: nothing of A's period — faults (nor their correction reasons),
    // entrapments, visits — and no record back-dated into it.
    let (s, f) = api.call(Method::GET, &el("/faults"), Some(&token_b), None).await;
    assert_eq!((s, listed(&f, "fault_id")), (StatusCode::OK, vec!["f9".to_owned()]), "{f}");
    assert!(!f.to_string().contains("passenger"), "no correction reason of A's: {f}");
    let (s, _) = api.call(Method::GET, &el("/faults/f1"), Some(&token_b), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let cause = json!({"cause": "usage", "reason": "passenger held the door"});
    let (s, _) = api.call(Method::PUT, &el("/faults/f1/cause"), Some(&token_b), Some(cause.clone())).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the new firm cannot touch the old firm's fault");
    let (s, _) = api.call(Method::GET, &el("/entrapments/e1"), Some(&token_b), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = api.call(Method::GET, &el("/visits"), Some(&token_b), None).await;
    assert_eq!((s, listed(&v, "started_at")), (StatusCode::OK, vec!["2026-11-28".to_owned()]), "{v}");
    let (s, b) = api.call(Method::POST, &el("/visits"), Some(&token_b), Some(visit("2026-11-20"))).await;
    assert_eq!((s, b["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "backdated into A's period: {b}");
    assert!(b["message"].as_str().is_some_and(|m| m.contains("2026-11-20") && m.contains("2026-11-28")), "{b}");
    let (s, b) = api
        .call(
            Method::PUT,
            &el("/entrapments/e7/arrival"),
            Some(&token_b),
            Some(json!({"arrived_at": "2026-11-27T10:00:00+08:00"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "an arrival dated in A's period: {b}");

    // A: its own days, read-only; nothing after.
    let (s, f) = api.call(Method::GET, &el("/faults"), Some(&token_a), None).await;
    assert_eq!((s, listed(&f, "fault_id")), (StatusCode::OK, vec!["f2".to_owned(), "f1".to_owned()]), "{f}");
    let (s, f1) = api.call(Method::GET, &el("/faults/f1"), Some(&token_a), None).await;
    assert_eq!((s, f1["corrections"].as_array().map(Vec::len)), (StatusCode::OK, Some(2)), "{f1}");
    let (s, _) = api.call(Method::GET, &el("/faults/f9"), Some(&token_a), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "after its tenure");
    let (s, v) = api.call(Method::GET, &el("/visits"), Some(&token_a), None).await;
    assert_eq!((s, listed(&v, "started_at")), (StatusCode::OK, vec!["2026-11-10".to_owned()]), "{v}");
    let (s, b) = api.call(Method::PUT, &el("/faults/f2/cause"), Some(&token_a), Some(cause)).await;
    assert_eq!((s, b["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{b}");
    assert!(b["message"].as_str().is_some_and(|m| m.contains("read-only")), "{b}");
    let (s, b) = api.call(Method::POST, &el("/visits"), Some(&token_a), Some(visit("2026-11-20"))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a dropped elevator takes no new records: {b}");
    let (s, b) =
        api.call(Method::PUT, &arrival, Some(&token_a), Some(json!({"arrived_at": "2026-11-04T10:03:00+08:00"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    // The regulator sees every day.
    let (_, f) = api.call(Method::GET, &el("/faults"), Some(REG), None).await;
    assert_eq!(listed(&f, "fault_id"), vec!["f9".to_owned(), "f2".to_owned(), "f1".to_owned()]);
}

/// A membership that starts in the future grants nothing before it starts:
/// firm B, whose project takes EA from 2026-12-01 on, sees nothing of it on
/// 2026-11-28 (as if it did not exist) and cannot record for it. (Before,
/// any membership of the firm's, begun or not, opened the elevator's KPIs.)
#[tokio::test]
async fn a_future_membership_grants_nothing_before_it_starts() {
    let api = Api::start("api_future").await;
    let (_, token_b) = api.world().await;
    // EA leaves haibin (its last day 2026-11-27) and joins dongcheng on 2026-12-01.
    let haibin =
        json!({"name": "haibin", "firm_id": "zls", "mode": "iot", "admitted_on": "2026-01-01", "elevators": []});
    let (s, b) = api.call(Method::PUT, "/api/v1/projects/haibin", Some(REG), Some(haibin)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let dongcheng = json!({"name": "dongcheng", "firm_id": "other", "mode": "iot", "admitted_on": "2026-01-01",
        "elevators": [{"device_code": EB}, {"device_code": EA, "since": "2026-12-01"}]});
    let (s, b) = api.call(Method::PUT, "/api/v1/projects/dongcheng", Some(REG), Some(dongcheng)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let el = |rest: &str| format!("/api/v1/elevators/{EA}{rest}");
    for path in [el("/kpis?at=2026-11-28"), el("/faults"), el("/faults/f1"), el("/visits"), el("/entrapments/e1")] {
        let (s, b) = api.call(Method::GET, &path, Some(&token_b), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {b}");
        assert!(b["message"].as_str().is_some_and(|m| !m.contains("2026-12-01")), "reveals nothing: {b}");
    }
    let (s, _) = api.call(Method::POST, &el("/visits"), Some(&token_b), Some(visit("2026-11-28"))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let cause = json!({"cause": "usage", "reason": "passenger held the door"});
    let (s, _) = api.call(Method::PUT, &el("/faults/f1/cause"), Some(&token_b), Some(cause)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn webhooks_are_per_caller_and_a_firm_cannot_widen_its_scope_or_reach_inside() {
    let api = Api::start("api_webhooks").await;
    let (token_a, token_b) = api.world().await;
    let put = |token: String, id: &'static str, body: Value| {
        let api = &api;
        async move { api.call(Method::PUT, &format!("/api/v1/webhooks/{id}"), Some(&token), Some(body)).await }
    };
    let (s, b) = put(token_a.clone(), "w", webhook_body()).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["firm_id"], "zls", "a firm's webhook is scoped to its own findings");
    assert!(b.get("secret").is_none(), "the secret is write-only: {b}");
    let (s, _) = put(token_a.clone(), "w", webhook_body()).await;
    assert_eq!(s, StatusCode::OK, "replaced");
    // Another firm's findings: refused.
    let mut other = webhook_body();
    other["firm_id"] = json!("other");
    let (s, b) = put(token_a.clone(), "x", other).await;
    assert_eq!((s, b["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{b}");
    // Inside the service's network, plain http, short secrets, unknown actions: refused with a message.
    for (url, secret, actions) in [
        ("https://127.0.0.1:5432/", "s3cret-s3cret-s3cret-s3cret", None),
        ("https://169.254.169.254/latest/meta-data", "s3cret-s3cret-s3cret-s3cret", None),
        ("http://alerts.example.com/", "s3cret-s3cret-s3cret-s3cret", None),
        ("https://alerts.example.com/", "short", None),
        ("https://alerts.example.com/", "s3cret-s3cret-s3cret-s3cret", Some(json!(["shout"]))),
    ] {
        let mut body = json!({"url": url, "secret": secret});
        if let Some(a) = actions {
            body["actions"] = a;
        }
        let (s, b) = put(token_a.clone(), "bad", body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{url} {secret}: {b}");
        assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Firm B neither sees nor deletes A's; its own "w" is a different webhook.
    let (s, _) = api.call(Method::GET, "/api/v1/webhooks/w", Some(&token_b), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api.call(Method::DELETE, "/api/v1/webhooks/w", Some(&token_b), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = api.call(Method::GET, "/api/v1/webhooks", Some(&token_b), None).await;
    assert_eq!(list, json!([]));
    let (_, list) = api.call(Method::GET, "/api/v1/webhooks", Some(&token_a), None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    // A regulator may subscribe to one firm (which must exist) or to all, on its own network.
    let (s, b) = put(
        REG.into(),
        "city",
        json!({"url": "http://127.0.0.1:9/hook", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "actions": ["exit", "disqualify"]}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["firm_id"], Value::Null);
    let mut nobody = webhook_body();
    nobody["firm_id"] = json!("nobody");
    let (s, _) = put(REG.into(), "n", nobody).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = api.call(Method::DELETE, "/api/v1/webhooks/w", Some(&token_a), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn findings_filter_acknowledge_and_annotate_and_a_firm_sees_only_its_own() {
    let api = Api::start("api_findings").await;
    let (token_a, token_b) = api.world().await;
    let (c, conn) = tokio_postgres::connect(&api._db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    c.batch_execute(
        "INSERT INTO findings (id, rule, project_id, firm_id, action, severity, summary, opened_at) VALUES \
         ('f-1', 'A1-III-1-onsite-interval', 'haibin', 'zls', 'rectify', 'major', 'x', now()), \
         ('f-2', 'A1-IV-1-1-rectification-overdue', 'haibin', 'zls', 'exit', 'critical', 'y', now()), \
         ('f-3', 'A1-III-1-onsite-interval', 'dongcheng', 'other', 'notice', 'minor', 'z', now())",
    )
    .await
    .unwrap();
    let ids =
        |v: &Value| v.as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let (_, v) = api.call(Method::GET, "/api/v1/findings?action=exit", Some(REG), None).await;
    assert_eq!(ids(&v), ["f-2"]);
    let (_, v) = api.call(Method::GET, "/api/v1/findings?firm=other", Some(REG), None).await;
    assert_eq!(ids(&v), ["f-3"]);
    // A firm asking for another firm's findings gets none; its own filter works.
    let (_, v) = api.call(Method::GET, "/api/v1/findings?firm=other", Some(&token_a), None).await;
    assert_eq!(v, json!([]));
    let (s, _) = api.call(Method::GET, "/api/v1/findings/f-3", Some(&token_a), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = api.call(Method::GET, "/api/v1/findings?action=shout", Some(REG), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, _) = api.call(Method::GET, "/api/v1/findings?state=closed", Some(REG), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Acknowledge: regulators only; the first acknowledgement stands.
    let (s, _) = api.call(Method::POST, "/api/v1/findings/f-1/acknowledge", Some(&token_a), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a firm cannot acknowledge its own finding away");
    let (s, f) = api.call(Method::POST, "/api/v1/findings/f-1/acknowledge", Some(REG), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(f["acknowledged_by"], "regulator");
    let first = f["acknowledged_at"].clone();
    let (_, f) = api.call(Method::POST, "/api/v1/findings/f-1/acknowledge", Some(REG), None).await;
    assert_eq!(f["acknowledged_at"], first);
    let (s, _) = api.call(Method::POST, "/api/v1/findings/nope/acknowledge", Some(REG), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Notes.
    let (s, _) = api.call(Method::POST, "/api/v1/findings/f-1/notes", Some(REG), Some(json!({"note": "  "}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, n) = api
        .call(Method::POST, "/api/v1/findings/f-1/notes", Some(REG), Some(json!({"note": "site visit booked"})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{n}");
    let (_, ns) = api.call(Method::GET, "/api/v1/findings/f-1/notes", Some(REG), None).await;
    assert_eq!(ns[0]["note"], "site visit booked");
    let (s, _) = api.call(Method::GET, "/api/v1/findings/f-1/notes", Some(&token_b), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn admission_is_refused_with_every_reason_and_a_ban_with_the_day_it_ends() {
    let api = Api::start("api_admission").await;
    api.world().await;
    // A new project with neither insurance nor a commitment: every reason at once.
    let bare = json!({"name": "Bare", "firm_id": "zls", "mode": "iot", "admitted_on": "2026-11-01",
        "elevators": [{"device_code": "31103302002018100009"}]});
    let (s, b) = api.call(Method::PUT, "/api/v1/projects/bare", Some(REG), Some(bare.clone())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let m = b["message"].as_str().unwrap();
    assert!(m.contains("insurance") && m.contains("commitment"), "{m}");
    assert!(m.contains("A1 §I.(一)") && m.contains("A1 §II.(一)"), "clauses named: {m}");
    let (s, _) = api.call(Method::GET, "/api/v1/projects/bare", Some(REG), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "nothing was registered");
    let mut ok = bare.clone();
    ok["commitment"] = json!({"fault_rate_per_10k": 5.0, "downtime_minutes": 60, "rescue_minutes": 20});
    ok["elevators"][0]["insured_until"] = json!("2027-10-31");
    let (s, b) = api.call(Method::PUT, "/api/v1/projects/bare", Some(REG), Some(ok)).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    // haibin left the pilot on 2026-06-01 with zls (as the engine records an exit).
    let (c, conn) = tokio_postgres::connect(&api._db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    c.batch_execute(&format!(
        "INSERT INTO pilot_exits (project_id, firm_id, on_day, devices, reason) \
         VALUES ('haibin', 'zls', '2026-06-01', ARRAY['{EA}'], 'A1-IV-1-1-rectification-overdue'); \
         UPDATE projects SET status = 'exited' WHERE id = 'haibin'"
    ))
    .await
    .unwrap();
    let body = |firm: &str| {
        json!({"name": "Haibin", "firm_id": firm, "owner": "o", "mode": "iot", "admitted_on": "2026-12-01",
            "commitment": {"fault_rate_per_10k": 5.0, "downtime_minutes": 60, "rescue_minutes": 20},
            "elevators": [{"device_code": EA, "insured_until": "2027-06-30", "since": "2026-12-01"}]})
    };
    let (s, b) = api.call(Method::PUT, "/api/v1/projects/haibin", Some(REG), Some(body("zls"))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert!(b["message"].as_str().unwrap().contains("possible from 2028-06-01"), "{b}");
    // The same elevators under a new project id with the same firm: still barred.
    let (s, b) = api.call(Method::PUT, "/api/v1/projects/haibin2", Some(REG), Some(body("zls"))).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    // (Another firm may bring it back at once, A1 §IV.(一) ¶last: core test
    // `a1_iv_1_last_exit_ban_two_years`; the registry keeps a change of firm
    // as a new project id.)
}

/// Protects item 13 of issue 9: what the database refuses (a CHECK, a
/// foreign key, a unique index, a NUL byte) is answered without the
/// SQLSTATE or any table or constraint name of the schema. The API's own
/// checks catch these before the database does, so the refusals are
/// provoked in SQL and answered through the mapping every route uses.
#[tokio::test]
async fn error_bodies_never_carry_sqlstate_table_or_constraint_names() {
    use axum::response::IntoResponse;
    use liftwatch_api::error::{write_refused, ApiError};
    use liftwatch_store::StoreError;

    let api = Api::start("errleak").await;
    api.world().await;
    let c = api._db.client().await;
    let mut names: Vec<String> = Vec::new();
    for q in [
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
        "SELECT conname::text FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
         WHERE n.nspname = current_schema()",
    ] {
        names.extend(c.query(q, &[]).await.unwrap().iter().map(|r| r.get::<_, String>(0)));
    }
    assert!(names.iter().any(|n| n == "firm_grades_year_check"), "{names:?}");
    for sql in [
        "INSERT INTO firm_grades (firm_id, year, grade, recorded_by) VALUES ('zls', 1990, 'A', 'x')",
        "INSERT INTO firm_grades (firm_id, year, grade, recorded_by) VALUES ('nobody', 2020, 'A', 'x')",
        "INSERT INTO firms (id, name, grade) SELECT id, name, grade FROM firms WHERE id = 'zls'",
        "UPDATE firms SET name = 'a' || chr(0) WHERE id = 'zls'",
    ] {
        let e = c.execute(sql, &[]).await.expect_err(sql);
        let code = e.as_db_error().map(|d| d.code().code().to_owned()).unwrap_or_default();
        let store = StoreError::from(e);
        assert!(matches!(store, StoreError::Permanent(_)), "{sql}: {store}");
        for answer in [ApiError::from(StoreError::Permanent(store.to_string())), write_refused(store)] {
            let r = answer.into_response();
            let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            let text = String::from_utf8_lossy(&body).into_owned();
            assert!(!code.is_empty() && !text.contains(&code) && !text.contains("SQLSTATE"), "{sql}: {text}");
            for n in &names {
                assert!(!text.contains(&format!("\"{n}\"")) && !text.contains(&format!("{n}_")), "{n} in {text}");
                assert!(!text.split(|ch: char| !ch.is_alphanumeric() && ch != '_').any(|w| w == n), "{n} in {text}");
            }
            assert!(text.contains("refused"), "{text}");
        }
    }
    // A configuration problem is the operator's: its detail stays in the log.
    let r = ApiError::from(StoreError::Config("relation \"firms\" does not exist".into())).into_response();
    let text = String::from_utf8_lossy(&axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap()).into_owned();
    assert!(!text.contains("firms"), "{text}");
}

/// Protects item 13: writes past a token's burst are answered 429 with
/// Retry-After; reads and other tokens are not limited.
#[tokio::test]
async fn writes_past_a_tokens_burst_are_answered_429_with_retry_after() {
    let limits = HttpLimits { write_burst: 2, writes_per_minute: 1, ..Default::default() };
    let api = Api::start_with("ratelimit", limits, TokenCache::default()).await;
    let put = |id: &str| format!("/api/v1/firms/{id}");
    let body = json!({"name": "f", "grade": "A", "self_declaration_url": "https://example.org/d.pdf"});
    for id in ["f1", "f2"] {
        let (s, b) = api.call(Method::PUT, &put(id), Some(REG), Some(body.clone())).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let resp = api.http.put(format!("{}{}", api.base, put("f3"))).bearer_auth(REG).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&after), "{after}");
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["error"], "rate_limited");
    // Reads still pass; so does another token.
    let (s, _) = api.call(Method::GET, "/api/v1/firms", Some(REG), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = api.call(Method::PUT, &put("f4"), Some("some-other-token"), Some(body.clone())).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "another token has its own bucket");
}

/// Protects item 13: a firm's token is looked up once and then remembered
/// (a change behind the API's back is not seen within the TTL: no database
/// round trip); rotating the token through the API forgets at once; with
/// no TTL every request asks the database.
#[tokio::test]
async fn token_lookups_are_cached_for_the_ttl_and_rotation_forgets_them() {
    let hour = TokenCache::new(std::time::Duration::from_secs(3600));
    let api = Api::start_with("tokcache", HttpLimits::default(), hour).await;
    let (a, _) = api.world().await;
    let revoke = "UPDATE firms SET token_hash = 'revoked' WHERE id = 'zls'";
    let (s, _) = api.call(Method::GET, "/api/v1/firms/zls", Some(&a), None).await;
    assert_eq!(s, StatusCode::OK);
    api._db.client().await.execute(revoke, &[]).await.unwrap();
    let (s, _) = api.call(Method::GET, "/api/v1/firms/zls", Some(&a), None).await;
    assert_eq!(s, StatusCode::OK, "served from the cache");
    let (s, b) = api.call(Method::POST, "/api/v1/firms/zls/token", Some(REG), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = api.call(Method::GET, "/api/v1/firms/zls", Some(&a), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the old token stops at once after a rotation");
    let (s, _) = api.call(Method::GET, "/api/v1/firms/zls", Some(b["token"].as_str().unwrap()), None).await;
    assert_eq!(s, StatusCode::OK);

    let api = Api::start_with("tokcache0", HttpLimits::default(), TokenCache::new(std::time::Duration::ZERO)).await;
    let (a, _) = api.world().await;
    api._db.client().await.execute(revoke, &[]).await.unwrap();
    let (s, _) = api.call(Method::GET, "/api/v1/firms/zls", Some(&a), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// Protects item 13: a client that never finishes its headers has its
/// connection closed after the header-read timeout (it would otherwise hold
/// it for ever).
#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = HttpLimits { header_read_timeout: std::time::Duration::from_secs(1), ..Default::default() };
    let api = Api::start_with("slowloris", limits, TokenCache::default()).await;
    let addr = api.base.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(60), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection stayed open");
}

#[tokio::test]
async fn the_dashboard_is_served_with_its_security_headers() {
    let api = Api::start("api_dashboard").await;
    let get = |path: &str| api.http.get(format!("{}{path}", api.base)).send();
    let r = get("/").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let csp = h["content-security-policy"].to_str().unwrap();
    for d in ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(d), "{d} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let page = r.text().await.unwrap();
    assert!(page.contains(r#"name="token""#) && page.contains(r#"method="post""#), "{page}");
    let r = get("/assets/app.js").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(get("/assets/uPlot.LICENSE.txt").await.unwrap().status(), StatusCode::OK);
    assert_eq!(get("/assets/nope.js").await.unwrap().status(), StatusCode::NOT_FOUND);
    // The form's POST is never taken (its script sends the token in a header).
    let r = api.http.post(format!("{}/", api.base)).body("token=x").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}

// ---------------------------------------------------------------------------
// Attachment 2: equipment facts, results, schedule, due list, findings
// ---------------------------------------------------------------------------

/// Facts of EA: supervised 2019-05-10 in Dinghai, inspected each May — tests
/// due in May 2021, 2023, 2024, 2026; inspections in May 2022 and 2025.
fn ea_facts() -> Value {
    json!({"supervised_on": "2019-05-10", "area": "dinghai", "inspection_month": 5})
}

impl Api {
    async fn check(&self, dev: &str, kind: &str, done: &str, uploaded: &str) -> Value {
        let body = json!({"kind": kind, "done_on": done, "passed": true, "uploaded_on": uploaded,
            "inspection_body": "Zhoushan Special Equipment Testing Co."});
        let (s, b) = self.call(Method::POST, &format!("/api/v1/elevators/{dev}/checks"), Some(REG), Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b
    }
}

/// From facts to findings: the regulator puts EA's facts and every result up
/// to 2025; the 2026 test is not done by the end of its window (2026-07-31).
/// On 2026-08-02 the engine has found `A2-IV-1-1-test-not-done` (exit from
/// the testing pilot) and, past the inspection date with no inspection,
/// `A2-VI-1-stop` (stop), both about the elevator with no project, seen by
/// its firm and not by another. A passed inspection lifts the stop order
/// (after the hysteresis); the exit stands.
#[tokio::test]
async fn equipment_facts_to_exit_and_stop_findings() {
    use liftwatch_core::rules::RulesConfig;
    let api = Api::start("api_a2_findings").await;
    let (token_a, token_b) = api.world().await;
    let (s, b) = api.call(Method::PUT, &format!("/api/v1/elevators/{EA}/equipment"), Some(REG), Some(ea_facts())).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    for (kind, done) in [
        ("test", "2021-05-20"),
        ("inspection", "2022-05-12"),
        ("test", "2023-05-22"),
        ("test", "2024-05-20"),
        ("inspection", "2025-05-12"),
    ] {
        api.check(EA, kind, done, done).await;
    }
    let engine =
        liftwatch_engine::Engine::new(Arc::new(api.store.clone()), RulesConfig::default(), chrono_tz::Asia::Shanghai);
    let t = |s: &str| parse_rfc3339(s).unwrap().0;
    let a2 = |f: &Value| f["rule"].as_str().is_some_and(|r| r.starts_with("A2-"));
    let open_a2 = |token: String| {
        let api = &api;
        async move {
            let (s, fs) = api.call(Method::GET, "/api/v1/findings?state=open", Some(&token), None).await;
            assert_eq!(s, StatusCode::OK, "{fs}");
            fs.as_array().unwrap().iter().filter(|f| a2(f)).cloned().collect::<Vec<Value>>()
        }
    };
    // In the window: nothing.
    engine.evaluate_once(t("2026-07-15T10:00:00+08:00")).await.unwrap();
    assert!(open_a2(REG.into()).await.is_empty());
    // The window closed on 2026-07-31 without the test.
    engine.evaluate_once(t("2026-08-02T10:00:00+08:00")).await.unwrap();
    let found = open_a2(REG.into()).await;
    let rules: BTreeSet<&str> = found.iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, BTreeSet::from(["A2-IV-1-1-test-not-done", "A2-VI-1-stop"]), "{found:#?}");
    let exit = found.iter().find(|f| f["rule"] == "A2-IV-1-1-test-not-done").unwrap();
    assert_eq!((exit["action"].as_str(), exit["project"].as_str()), (Some("exit"), None));
    assert_eq!(exit["firm"], "zls");
    assert_eq!(exit["evidence"]["figures"]["since"], "2026-08-01");
    assert_eq!(exit["evidence"]["figures"]["window_to"], "2026-07-31");
    let stop = found.iter().find(|f| f["rule"] == "A2-VI-1-stop").unwrap();
    assert_eq!((stop["action"].as_str(), stop["severity"].as_str()), (Some("stop"), Some("critical")));
    assert_eq!(open_a2(token_a).await.len(), 2, "the elevator's firm sees them");
    assert!(open_a2(token_b).await.is_empty(), "another firm does not");
    // A passed inspection: the stop order clears (and resolves after the hysteresis).
    api.check(EA, "inspection", "2026-08-20", "2026-08-21").await;
    for at in ["2026-09-01T10:00:00+08:00", "2026-09-01T10:30:00+08:00", "2026-09-01T11:01:00+08:00"] {
        engine.evaluate_once(t(at)).await.unwrap();
    }
    let left: Vec<Value> = open_a2(REG.into()).await;
    assert_eq!(left.iter().map(|f| f["rule"].as_str().unwrap()).collect::<Vec<_>>(), ["A2-IV-1-1-test-not-done"]);
}

/// The schedule of an elevator (kind, month, window, clause, status, late
/// upload) and the due list across the city, a project and a firm.
#[tokio::test]
async fn schedule_and_due_list_with_statuses_and_late_uploads() {
    let api = Api::start("api_a2_schedule").await;
    let (token_a, token_b) = api.world().await;
    for dev in [EA, EB] {
        let (s, b) =
            api.call(Method::PUT, &format!("/api/v1/elevators/{dev}/equipment"), Some(REG), Some(ea_facts())).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    // Replaced whole: 200, the device code of the path may also be in the body.
    let again = json!({"device_code": EB, "supervised_on": "2019-05-10", "area": "dinghai", "inspection_month": 6});
    let (s, b) = api.call(Method::PUT, &format!("/api/v1/elevators/{EB}/equipment"), Some(REG), Some(again)).await;
    assert_eq!((s, b["inspection_month"].as_i64()), (StatusCode::OK, Some(6)), "{b}");
    // Done Monday 2024-05-20: due uploaded by 2024-06-03 (10 working days); uploaded 2024-06-20.
    let late = api.check(EA, "test", "2024-05-20", "2024-06-20").await;
    assert_eq!((late["upload_deadline"].as_str(), late["upload_late"].as_bool()), (Some("2024-06-03"), Some(true)));
    assert_eq!(late["inspection_body"], Value::Null, "the body's name is `body` in the answer");
    assert_eq!(late["body"], "Zhoushan Special Equipment Testing Co.");
    let insp = api.check(EA, "inspection", "2025-05-12", "2025-06-30").await;
    assert_eq!((insp["upload_deadline"].clone(), insp["upload_late"].as_bool()), (Value::Null, Some(false)));
    let (s, sch) = api
        .call(Method::GET, &format!("/api/v1/elevators/{EA}/schedule?from=2024&to=2027"), Some(&token_a), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{sch}");
    assert_eq!((sch["today"].as_str(), sch["in_testing_pilot"].as_bool()), (Some("2026-11-28"), Some(true)));
    let items: Vec<(String, String, String, String)> = sch["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap().to_owned();
            (s("due_month"), s("kind"), s("clause"), s("status"))
        })
        .collect();
    let row = |m: &str, k: &str, c: &str, st: &str| (m.to_owned(), k.to_owned(), c.to_owned(), st.to_owned());
    assert_eq!(
        items,
        vec![
            row("2024-05-01", "test", "A2-I-test-years", "done"),
            row("2025-05-01", "inspection", "A2-I-inspection-years", "done"),
            row("2026-05-01", "test", "A2-I-test-years", "late"),
            row("2027-05-01", "inspection", "A2-I-inspection-years", "upcoming"),
        ]
    );
    let first = &sch["items"][0];
    assert_eq!((first["window_from"].as_str(), first["window_to"].as_str()), (Some("2024-03-01"), Some("2024-07-31")));
    assert_eq!((first["upload_late"].as_bool(), first["on_time"].as_bool()), (Some(true), Some(true)));
    assert_eq!(first["result_id"], late["id"]);
    assert_eq!(sch["items"][1]["upload_late"], false);
    assert_eq!(sch["items"][2]["upload_late"], Value::Null);
    // Default: this year only.
    let (_, this) = api.call(Method::GET, &format!("/api/v1/elevators/{EA}/schedule"), Some(REG), None).await;
    assert_eq!(
        (this["from"].as_i64(), this["to"].as_i64(), this["items"].as_array().unwrap().len()),
        (Some(2026), Some(2026), 1)
    );
    // The due list: the city, a project, a firm (a firm sees its own only), a status.
    let due = |q: &str, token: &str| {
        let (api, q, token) = (&api, q.to_owned(), token.to_owned());
        async move {
            let (s, b) = api.call(Method::GET, &format!("/api/v1/inspections/due?{q}"), Some(&token), None).await;
            assert_eq!(s, StatusCode::OK, "{q}: {b}");
            b.as_array()
                .unwrap()
                .iter()
                .map(|r| format!("{} {}", r["device_code"].as_str().unwrap(), r["due_month"].as_str().unwrap()))
                .collect::<Vec<_>>()
        }
    };
    let range = "from=2026-05&to=2026-06";
    assert_eq!(due(range, REG).await, [format!("{EA} 2026-05-01"), format!("{EB} 2026-06-01")]);
    assert_eq!(due(&format!("{range}&project=haibin"), REG).await, [format!("{EA} 2026-05-01")]);
    assert_eq!(due(&format!("{range}&firm=other"), REG).await, [format!("{EB} 2026-06-01")]);
    assert_eq!(due(range, &token_a).await, [format!("{EA} 2026-05-01")]);
    assert_eq!(due(range, &token_b).await, [format!("{EB} 2026-06-01")]);
    assert!(due(&format!("{range}&firm=zls"), &token_b).await.is_empty());
    assert_eq!(due("month=2026-06&status=late", REG).await, [format!("{EB} 2026-06-01")]);
    assert!(due("month=2026-06&status=done", REG).await.is_empty());
    assert_eq!(due(&format!("{range}&limit=1&offset=1"), REG).await, [format!("{EB} 2026-06-01")]);
    let (s, _) =
        api.call(Method::GET, "/api/v1/inspections/due?month=2026-05&project=haibin", Some(&token_b), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another firm's project");
}

/// Bad input is a 400 naming what was wrong; unknown elevators and missing
/// facts are 404s.
#[tokio::test]
async fn attachment_2_bad_input_is_refused_with_the_reason() {
    let api = Api::start("api_a2_bad").await;
    api.world().await;
    let put = |body: Value| {
        let api = &api;
        async move { api.call(Method::PUT, &format!("/api/v1/elevators/{EA}/equipment"), Some(REG), Some(body)).await }
    };
    for (body, says) in [
        (json!({"supervised_on": "2019-05-10", "area": "zhoushan", "inspection_month": 5}), "dinghai"),
        (json!({"supervised_on": "2019-05-10", "area": "dinghai", "inspection_month": 13}), "inspection_month"),
        (
            json!({"supervised_on": "2019-05-10", "area": "dinghai", "inspection_month": 5, "modernisation": ["2024-01-01"]}),
            "modernisation",
        ),
        (
            json!({"supervised_on": "2019-05-10", "area": "dinghai", "inspection_month": 5, "major_repairs": ["2010-01-01"]}),
            "major_repairs[0]",
        ),
        (
            json!({"device_code": EB, "supervised_on": "2019-05-10", "area": "dinghai", "inspection_month": 5}),
            "not the elevator of the path",
        ),
        (json!({"supervised_on": "10 May 2019", "area": "dinghai", "inspection_month": 5}), "supervised_on"),
        (json!([1, 2]), "JSON object"),
    ] {
        let (s, b) = put(body.clone()).await;
        assert_eq!((s, b["error"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")), "{body}: {b}");
        assert!(b["message"].as_str().unwrap().contains(says), "{body}: {b}");
    }
    let (s, _) = api.call(Method::GET, &format!("/api/v1/elevators/{EA}/equipment"), Some(REG), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "nothing was stored");
    let (s, b) = api.call(Method::GET, &format!("/api/v1/elevators/{EA}/schedule"), Some(REG), None).await;
    assert!(s == StatusCode::NOT_FOUND && b["message"].as_str().unwrap().contains("no equipment facts"), "{b}");
    let unknown = "31103302002018109999";
    let (s, _) =
        api.call(Method::PUT, &format!("/api/v1/elevators/{unknown}/equipment"), Some(REG), Some(ea_facts())).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = put(ea_facts()).await;
    assert_eq!(s, StatusCode::CREATED);
    let post = |body: Value| {
        let api = &api;
        async move { api.call(Method::POST, &format!("/api/v1/elevators/{EA}/checks"), Some(REG), Some(body)).await }
    };
    for (body, says) in [
        (
            json!({"kind": "audit", "done_on": "2026-05-20", "passed": true, "uploaded_on": "2026-05-21"}),
            "inspection, test",
        ),
        (json!({"kind": "test", "done_on": "2026-05-20", "passed": true, "uploaded_on": "2026-05-19"}), "uploaded_on"),
        (
            json!({"kind": "test", "done_on": "2026-12-20", "passed": true, "uploaded_on": "2026-12-21"}),
            "in the future",
        ),
        (
            json!({"kind": "test", "done_on": "2026-05-20", "passed": true, "uploaded_on": "2026-05-21", "inspection_body": "x".repeat(300)}),
            "body",
        ),
    ] {
        let (s, b) = post(body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {b}");
        assert!(b["message"].as_str().unwrap().contains(says), "{body}: {b}");
    }
    let (s, _) = post(json!({"kind": "test", "done_on": "2026-05-20"})).await;
    assert!(s.is_client_error(), "missing fields: {s}");
    for q in ["from=20x6", "from=2026&to=2025", "from=2000&to=2030", "to=12345"] {
        let (s, b) = api.call(Method::GET, &format!("/api/v1/elevators/{EA}/schedule?{q}"), Some(REG), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {b}");
    }
    for q in [
        "",
        "month=2026-13",
        "month=2026-5",
        "from=2026-01",
        "month=2026-01&from=2026-01&to=2026-02",
        "from=2026-03&to=2026-01",
        "from=2020-01&to=2023-01",
        "month=2026-01&status=lost",
        "month=2026-01&limit=0",
    ] {
        let (s, b) = api.call(Method::GET, &format!("/api/v1/inspections/due?{q}"), Some(REG), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {b}");
        assert!(!b["message"].as_str().unwrap_or("").is_empty(), "{q}: {b}");
    }
}
