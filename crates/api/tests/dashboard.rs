//! The dashboard in a real browser (Debian's headless Chromium over
//! WebDriver, testkit's `Browser`), served by the same app as `liftwatch
//! serve` over a real store with six months of a small pilot's events and
//! the rule engine's findings: each view loads with no console error, its
//! KPIs are the API's, a firm sees its own projects only, the language
//! switch works, the regulator acknowledges a finding.
//!
//! `LIFTWATCH_SCREENSHOTS=docs/img cargo test -p liftwatch-api --test dashboard`
//! also writes `dashboard-firm.png` and `dashboard-regulator.png` there
//! (docs/dashboard.md) and prints the page load times.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use liftwatch_api::auth::TokenCache;
use liftwatch_api::limits::HttpLimits;
use liftwatch_api::{app, ApiState};
use liftwatch_core::protocol::{decode_message, to_array_payload, topic_for, Body, DeviceCode, Event, FaultCode, Mode};
use liftwatch_store::{EventStore, Inbound, PgStore};
use liftwatch_testkit::{dev, now, t, Browser, TestDb};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const REG: &str = "regulator-secret-for-the-dashboard-tests";

/// The served app over a store with the pilot below.
struct Dash {
    base: String,
    http: reqwest::Client,
    zls: String,
    haitian: String,
    _db: TestDb,
}

/// A pilot project of the fixture.
struct Proj {
    id: &'static str,
    firm: &'static str,
    name: &'static str,
    /// Its elevators' numbers (testkit's `dev(n)`).
    elevators: std::ops::Range<u32>,
    /// Faults more often, rescues slower (misses its commitment).
    fault_prone: bool,
    insured_until: &'static str,
}

const PROJECTS: [Proj; 3] = [
    Proj {
        id: "haibin",
        firm: "zls",
        name: "海滨花园 Haibin Garden",
        elevators: 0..3,
        fault_prone: false,
        insured_until: "2027-06-30",
    },
    Proj {
        id: "xincheng",
        firm: "zls",
        name: "新城广场 Xincheng Plaza",
        elevators: 3..5,
        fault_prone: true,
        insured_until: "2027-06-30",
    },
    Proj {
        id: "dongcheng",
        firm: "haitian",
        name: "东城小区 Dongcheng Estate",
        elevators: 5..8,
        fault_prone: false,
        insured_until: "2026-09-30",
    },
];

impl Dash {
    async fn start(tag: &str) -> Dash {
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
            limits: HttpLimits::default(),
            tokens: TokenCache::default(),
            calendar: Arc::new(liftwatch_core::inspection::WorkCalendar::shipped()),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let never = std::future::pending::<()>();
        let limits = HttpLimits::default();
        tokio::spawn(liftwatch_api::server::serve(listener, app(state), limits.header_read_timeout, never));
        let mut d = Dash { base, http: reqwest::Client::new(), zls: String::new(), haitian: String::new(), _db: db };
        d.world(&store).await;
        d
    }

    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        (resp.status(), resp.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        let (s, b) = self.call(Method::GET, path, token, None).await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
        b
    }

    /// Two firms, three projects, eight elevators (one never heard, one
    /// silent since yesterday, one uninsured project), six months of
    /// events, a cause correction, a dead letter, the rule engine's findings.
    async fn world(&mut self, store: &PgStore) {
        for (id, name) in [("zls", "舟山电梯服务 Zhoushan Lift Service"), ("haitian", "海天电梯维保 Haitian Elevator")]
        {
            let (s, b) = self
                .call(
                    Method::PUT,
                    &format!("/api/v1/firms/{id}"),
                    REG,
                    Some(json!({"name": name, "grade": "A", "self_declaration_url": "https://example.org/decl.pdf"})),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            let token = b["token"].as_str().unwrap().to_owned();
            if id == "zls" {
                self.zls = token;
            } else {
                self.haitian = token;
            }
        }
        for Proj { id, firm, name, elevators, insured_until: insured, .. } in PROJECTS {
            let elevators: Vec<Value> = elevators
                .map(|n| json!({"device_code": dev(n).as_str(), "kind": "traction", "location": format!("Bldg {n}"), "insured_until": insured}))
                .collect();
            let (s, b) = self
                .call(
                    Method::PUT,
                    &format!("/api/v1/projects/{id}"),
                    REG,
                    Some(json!({"name": name, "firm_id": firm, "owner": "Property Mgmt", "mode": "iot", "admitted_on": "2026-05-01",
                        "commitment": {"fault_rate_per_10k": 5.0, "downtime_minutes": 60, "rescue_minutes": 20},
                        "elevators": elevators, "insurer": "PICC Zhoushan", "insured_from": "2026-05-01", "insured_until": insured})),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{id}: {b}");
        }
        for Proj { elevators, fault_prone, .. } in PROJECTS {
            for n in elevators.filter(|n| *n != 7) {
                ingest(store, &events(dev(n), fault_prone, n)).await;
            }
        }
        // A firm's cause correction (the first fault of elevator 3).
        let code = dev(3);
        let faults = self.get(&format!("/api/v1/elevators/{}/faults?limit=1000", code.as_str()), &self.zls).await;
        let first = faults.as_array().unwrap().last().unwrap()["fault_id"].as_str().unwrap().to_owned();
        let (s, b) = self
            .call(
                Method::PUT,
                &format!("/api/v1/elevators/{}/faults/{first}/cause", code.as_str()),
                &self.zls,
                // Markup in a firm's words must show as text, never run.
                Some(
                    json!({"cause": "external", "reason": "grid outage, utility notice <img src=x onerror=alert(1)>"}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        // A dead letter: a payload that is not JSON.
        let topic = topic_for(&dev(0));
        let payload = b"{not json".to_vec();
        let decoded = decode_message(&topic, &payload, now());
        store.ingest(&[Inbound { topic, payload, received_at: now(), decoded }]).await.unwrap();
        // The rule engine's findings over this world.
        let engine =
            liftwatch_engine::Engine::new(Arc::new(store.clone()), Default::default(), chrono_tz::Asia::Shanghai);
        engine.evaluate_once(now()).await.unwrap();
    }
}

/// A small deterministic mix for elevator `n` on day `i`.
fn mix(n: u32, i: i64) -> i64 {
    (i64::from(n) * 7919 + i * 104_729) % 1000
}

/// From 2026-06-01 to 2026-11-27: 20–34 runs a day, an odometer reading
/// every morning (elevator 1 loses a run every ten days), equipment
/// stoppages (more on a fault-prone project) and entrapments with rescue;
/// elevator 0 has a stoppage still open, elevator 3 an entrapment awaiting
/// rescue; every box but 6's sent a heartbeat at 11:55 on the 28th.
fn events(d: DeviceCode, fault_prone: bool, n: u32) -> Vec<Event> {
    let mut evs = Vec::new();
    let mut seq = 0;
    let mut push = |evs: &mut Vec<Event>, ts: &str, body: Body| {
        seq += 1;
        evs.push(Event { device: d, seq, ts: t(ts), ts_offset: 8 * 3600, body });
    };
    let fault = |id: String| Body::Fault {
        fault_id: id.into(),
        code: FaultCode::parse("door_open_fault"),
        stops_service: true,
        cause: None,
    };
    let first = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
    let mut odometer = 0u64;
    for i in 0..180 {
        let day = first + Duration::days(i);
        if day > NaiveDate::from_ymd_opt(2026, 11, 27).unwrap() {
            break;
        }
        let at = |h: i64, m: i64| format!("{day}T{:02}:{:02}:00+08:00", h + m / 60, m % 60);
        push(&mut evs, &at(6, 0), Body::Counter { runs_total: odometer });
        let runs = 20 + mix(n, i) % 15;
        for r in 0..runs {
            let start = t(&at(7, r * 25));
            let end = liftwatch_core::protocol::Timestamp(start.0 + 40_000_000);
            push(&mut evs, &at(7, r * 25), Body::Run { end, from: 1, to: 6, doors: None });
        }
        odometer += u64::try_from(runs).unwrap() + u64::from(n == 1 && i % 10 == 0);
        let m = mix(n, i);
        if m % if fault_prone { 9 } else { 37 } == 0 {
            let id = format!("f{day}");
            push(&mut evs, &at(21, 0), fault(id.clone()));
            push(&mut evs, &at(21, 20 + m % 70), Body::FaultCleared { fault_id: id.into() });
        }
        if m % 29 == 0 {
            let id = format!("e{day}");
            push(&mut evs, &at(22, 0), Body::Entrapment { incident_id: id.clone().into(), fault_id: None });
            let wait = if fault_prone { 25 } else { 8 } + m % 12;
            push(&mut evs, &at(22, wait), Body::RescueArrived { incident_id: id.clone().into() });
            push(&mut evs, &at(22, wait + 5), Body::Released { incident_id: id.into() });
        }
    }
    match n {
        0 => push(&mut evs, "2026-11-27T23:10:00+08:00", fault("open-1".into())),
        3 => push(
            &mut evs,
            "2026-11-27T23:20:00+08:00",
            Body::Entrapment { incident_id: "waiting-1".into(), fault_id: None },
        ),
        _ => {}
    }
    if n != 6 {
        push(&mut evs, "2026-11-28T11:55:00+08:00", Body::Heartbeat { mode: Mode::Normal });
    }
    evs
}

/// Ingests one elevator's events as the gateway would (all new and valid).
async fn ingest(store: &PgStore, evs: &[Event]) {
    let topic = topic_for(&evs[0].device);
    let batch: Vec<Inbound> = evs
        .chunks(500)
        .map(|c| {
            let payload = to_array_payload(c).into_bytes();
            let decoded = decode_message(&topic, &payload, now());
            Inbound { topic: topic.clone(), payload, received_at: now(), decoded }
        })
        .collect();
    let r = store.ingest(&batch).await.unwrap();
    assert_eq!((r.new_events, r.dead_letters.len()), (evs.len() as u64, 0));
}

/// Signs in at `/` with `token` through the form and waits for the view.
async fn sign_in(b: &Browser, base: &str, token: &str) {
    b.goto(&format!("{base}/")).await;
    b.wait_for("document.querySelector('#signin') && !document.querySelector('#signin').hidden").await;
    b.type_into("input[name=token]", token).await;
    b.click("#signin button[type=submit]").await;
    b.wait_for("['ready', 'error'].includes(document.querySelector('#view').dataset.state)").await;
    let state = b.exec("return document.querySelector('#view').dataset.state", json!([])).await;
    let text = b.exec("return document.querySelector('#view').textContent", json!([])).await;
    assert_eq!(state, "ready", "the view did not load: {text}");
}

/// The page's KPI values (outside per-elevator rows) of `project`: field → data-value.
async fn page_kpis(b: &Browser, project: &str) -> Vec<(String, String)> {
    let v = b
        .exec(
            "return [...document.querySelectorAll(`[data-kpi][data-project='${arguments[0]}']:not([data-elevator])`)]
                 .map(e => [e.dataset.kpi, e.dataset.value]);",
            json!([project]),
        )
        .await;
    serde_json::from_value(v).unwrap()
}

/// The API's value of a dotted `field`, as the page writes it (`null` or the number).
fn api_value(kpis: &Value, field: &str) -> Option<f64> {
    field.split('.').fold(kpis, |v, k| &v[k]).as_f64()
}

fn assert_kpis_match(page: &[(String, String)], api: &Value, project: &str) {
    let fields = ["fault_rate_per_10k", "downtime.mean_minutes", "rescue.mean_minutes"];
    for f in fields {
        let on_page: Vec<&String> = page.iter().filter(|(k, _)| k == f).map(|(_, v)| v).collect();
        assert!(!on_page.is_empty(), "{project}: no {f} on the page");
        for v in on_page {
            let shown = if v == "null" { None } else { Some(v.parse::<f64>().unwrap()) };
            assert_eq!(shown, api_value(api, f), "{project} {f}: page {v}, API {}", api);
        }
    }
}

async fn no_console_errors(b: &Browser, what: &str) {
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "{what}: console errors {errors:#?}");
}

/// Writes a screenshot of the whole page when `LIFTWATCH_SCREENSHOTS` names a folder.
async fn screenshot(b: &Browser, name: &str) {
    let Ok(dir) = std::env::var("LIFTWATCH_SCREENSHOTS") else { return };
    let ms = b.exec("return document.querySelector('#view').dataset.loadMs", json!([])).await;
    println!("{name}: loaded in {ms} ms (sign-in to the last chart)");
    let width = b.exec("return window.innerWidth", json!([])).await.as_u64().unwrap();
    b.fit_page(u32::try_from(width).unwrap(), 6000).await;
    let dir = liftwatch_testkit::procs::workspace_root().join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), b.screenshot().await).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firm_view_shows_its_projects_with_the_apis_kpis_and_no_console_error() {
    let d = Dash::start("dash_firm").await;
    let b = Browser::start(1280, 1000).await;
    sign_in(&b, &d.base, &d.zls).await;
    no_console_errors(&b, "firm view").await;
    assert_eq!(b.exec("return document.querySelector('#view').dataset.role", json!([])).await, "firm");
    // The token stays in the tab's session storage, never in the URL.
    assert_eq!(b.exec("return sessionStorage.getItem('liftwatch.token')", json!([])).await, d.zls.as_str());
    assert!(!b.url().await.contains(&d.zls), "the token is in the URL");
    for p in ["haibin", "xincheng"] {
        let api = d.get(&format!("/api/v1/projects/{p}/kpis"), &d.zls).await;
        assert_kpis_match(&page_kpis(&b, p).await, &api, p);
    }
    // Met and missed are marked; the open stoppage and the entrapment
    // awaiting rescue are counted; charts, corrections, per-elevator rows.
    let facts = b
        .exec(
            "const q = (s) => document.querySelectorAll(s).length;
             const open = (p, k) => document.querySelector(`article[data-project=${p}] [data-open=${k}]`).textContent;
             return {missed: q('[data-met=false]'), met: q('[data-met=true]'), charts: q('.chart canvas'),
                     stoppages: open('haibin', 'stoppages'), entrapments: open('xincheng', 'entrapments'),
                     corrections: document.querySelector('article[data-project=xincheng] [data-table=corrections]')
                                  .textContent.includes('grid outage, utility notice <img src=x onerror=alert(1)>'),
                     injected: q('[data-table=corrections] img'),
                     elevator_rows: q('table[data-table=elevators-haibin] tbody tr'),
                     findings: q('.finding')};",
            json!([]),
        )
        .await;
    assert!(facts["missed"].as_u64().unwrap() > 0 && facts["met"].as_u64().unwrap() > 0, "{facts}");
    assert_eq!(facts["charts"], 6, "{facts}");
    assert_eq!((facts["stoppages"].as_str(), facts["entrapments"].as_str()), (Some("1"), Some("1")), "{facts}");
    assert_eq!((&facts["corrections"], &facts["injected"]), (&json!(true), &json!(0)), "{facts}");
    assert_eq!(facts["elevator_rows"], 3, "{facts}");
    let findings = d.get("/api/v1/findings?state=open", &d.zls).await;
    assert_eq!(facts["findings"].as_u64().unwrap() as usize, findings.as_array().unwrap().len(), "{facts}");
    // The per-elevator table sorts on a click (worst fault rate first by default).
    let rates = "return [...document.querySelectorAll('table[data-table=elevators-xincheng] tbody [data-kpi]')]
                 .map(e => e.dataset.value === 'null' ? -1 : Number(e.dataset.value));";
    let desc: Vec<f64> = serde_json::from_value(b.exec(rates, json!([])).await).unwrap();
    assert!(desc.windows(2).all(|w| w[0] >= w[1]), "{desc:?}");
    b.click("table[data-table=elevators-xincheng] th[data-col=rate]").await;
    let asc: Vec<f64> = serde_json::from_value(b.exec(rates, json!([])).await).unwrap();
    assert!(asc.windows(2).all(|w| w[0] <= w[1]), "{asc:?}");
    no_console_errors(&b, "firm view after sorting").await;
    screenshot(&b, "dashboard-firm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firm_cannot_see_another_firms_project() {
    let d = Dash::start("dash_tenancy").await;
    let b = Browser::start(1280, 1000).await;
    sign_in(&b, &d.base, &d.haitian).await;
    no_console_errors(&b, "firm view").await;
    let shown: Vec<String> = serde_json::from_value(
        b.exec("return [...document.querySelectorAll('article[data-project]')].map(a => a.dataset.project)", json!([]))
            .await,
    )
    .unwrap();
    assert_eq!(shown, ["dongcheng"]);
    assert_eq!(b.exec("return document.querySelectorAll(\"[data-project=haibin]\").length", json!([])).await, 0);
    // Not even by asking the API from the page with the firm's token.
    let status = b
        .exec_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/v1/projects/haibin/kpis', {headers: {Authorization: 'Bearer ' + sessionStorage.getItem('liftwatch.token')}})
               .then(r => done(r.status));",
            json!([]),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regulator_view_ranks_every_project_and_acknowledges_a_finding() {
    let d = Dash::start("dash_regulator").await;
    let b = Browser::start(1280, 1000).await;
    sign_in(&b, &d.base, REG).await;
    no_console_errors(&b, "regulator view").await;
    assert_eq!(b.exec("return document.querySelector('#view').dataset.role", json!([])).await, "regulator");
    for Proj { id: p, .. } in PROJECTS {
        let api = d.get(&format!("/api/v1/projects/{p}/kpis"), REG).await;
        assert_kpis_match(&page_kpis(&b, p).await, &api, p);
    }
    let facts = b
        .exec(
            "const v = (s) => document.querySelector(s)?.dataset.value;
             return {elevators: v('[data-target=pilot_elevators]'), insured: v('[data-target=insured_share]'),
                     ranked: document.querySelectorAll('table[data-table=projects] tbody tr').length,
                     firms: document.querySelectorAll('table[data-table=firms] tbody tr').length,
                     silent: document.querySelector('[data-table=silent]').textContent,
                     dead: document.querySelector('[data-table=dead-letters]').textContent};",
            json!([]),
        )
        .await;
    // The rule engine took dongcheng out of the pilot (its insurance ended in
    // September): five elevators remain, all insured.
    let dongcheng = d.get("/api/v1/projects/dongcheng", REG).await;
    assert_eq!(dongcheng["status"], "exited");
    assert_eq!((facts["elevators"].as_str(), facts["insured"].as_str()), (Some("5"), Some("1")), "{facts}");
    assert_eq!((facts["ranked"].as_u64(), facts["firms"].as_u64()), (Some(3), Some(2)));
    // Silent boxes (elevator 6 since yesterday, 7 never) and the dead letter.
    let silent = facts["silent"].as_str().unwrap();
    for n in [6, 7] {
        assert!(silent.contains(dev(n).as_str()), "elevator {n} is not listed as silent: {silent}");
    }
    assert!(!silent.contains(dev(0).as_str()), "elevator 0 is heard and must not be listed: {silent}");
    assert!(facts["dead"].as_str().unwrap().contains(&topic_for(&dev(0))), "the dead letter is not shown: {facts}");
    // Findings by action, each with Acknowledge; the button acknowledges it in the API.
    let findings = d.get("/api/v1/findings?state=open", REG).await;
    let first = findings.as_array().unwrap().first().expect("the rule engine found something")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let buttons = b.exec("return document.querySelectorAll('button[data-ack]').length", json!([])).await;
    assert_eq!(buttons.as_u64().unwrap() as usize, findings.as_array().unwrap().len());
    b.click(&format!("button[data-ack='{first}']")).await;
    b.wait_for(&format!("!document.querySelector(\"button[data-ack='{first}']\")")).await;
    let f = d.get(&format!("/api/v1/findings/{first}"), REG).await;
    assert_eq!(f["acknowledged_by"], "regulator", "{f}");
    no_console_errors(&b, "regulator view after acknowledging").await;
    screenshot(&b, "dashboard-regulator").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_switch_turns_the_labels_to_english_and_back() {
    let d = Dash::start("dash_lang").await;
    let b = Browser::start(1280, 1000).await;
    b.goto(&format!("{}/", d.base)).await;
    b.wait_for("document.querySelector('#signin h1').textContent === '登录'").await;
    assert_eq!(b.exec("return document.documentElement.lang", json!([])).await, "zh-CN");
    // Every label exists in both languages.
    let missing = b
        .exec_async(
            "const done = arguments[arguments.length - 1];
             import('/assets/i18n.js').then(({T}) => {
               const zh = Object.keys(T.zh), en = Object.keys(T.en);
               done([...zh.filter(k => !en.includes(k)), ...en.filter(k => !zh.includes(k))]);
             });",
            json!([]),
        )
        .await;
    assert_eq!(missing, json!([]), "labels missing in one language");
    sign_in(&b, &d.base, &d.zls).await;
    let heading = "return document.querySelector('.firm-view h2').textContent";
    assert!(b.exec(heading, json!([])).await.as_str().unwrap().starts_with("维保单位视图"));
    let before = page_kpis(&b, "haibin").await;
    b.click("#lang").await;
    b.wait_for("document.documentElement.lang === 'en'").await;
    assert!(b.exec(heading, json!([])).await.as_str().unwrap().starts_with("Firm view"));
    assert_eq!(b.exec("return document.querySelector('#lang').textContent", json!([])).await, "中文");
    assert_eq!(page_kpis(&b, "haibin").await, before, "the values do not change with the language");
    // The choice is remembered across a reload; the session too.
    b.goto(&format!("{}/", d.base)).await;
    b.wait_for("document.querySelector('#view').dataset.state === 'ready'").await;
    assert!(b.exec(heading, json!([])).await.as_str().unwrap().starts_with("Firm view"));
    b.click("#lang").await;
    b.wait_for("document.documentElement.lang === 'zh-CN'").await;
    assert!(b.exec(heading, json!([])).await.as_str().unwrap().starts_with("维保单位视图"));
    no_console_errors(&b, "after switching languages").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_keeps_the_sign_in_form_with_an_error() {
    let d = Dash::start("dash_badtoken").await;
    let b = Browser::start(1280, 1000).await;
    b.goto(&format!("{}/", d.base)).await;
    b.wait_for("!document.querySelector('#signin').hidden").await;
    b.type_into("input[name=token]", "not-a-token").await;
    b.click("#signin button[type=submit]").await;
    b.wait_for("!document.querySelector('#signin-error').hidden").await;
    assert_eq!(b.exec("return sessionStorage.getItem('liftwatch.token')", json!([])).await, Value::Null);
    assert!(!b.url().await.contains("not-a-token"));
    // The 401 of the API is the only error in the console.
    let errors = b.console_errors().await;
    assert!(errors.iter().all(|e| e.contains("401")), "{errors:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_views_fit_a_phone_screen() {
    let d = Dash::start("dash_phone").await;
    let b = Browser::start(390, 844).await;
    // Nothing wider than the screen but the tables, which scroll in their own box.
    let overflow = "const w = document.documentElement.clientWidth;
        return [...document.querySelectorAll('body *')]
          .filter(e => !e.closest('.table-wrap') && e.getBoundingClientRect().right > w + 1)
          .map(e => e.tagName + '.' + e.className).slice(0, 5);";
    for (token, name) in [(d.zls.as_str(), "dashboard-firm-phone"), (REG, "dashboard-regulator-phone")] {
        sign_in(&b, &d.base, token).await;
        assert_eq!(b.exec(overflow, json!([])).await, json!([]), "{name}: elements wider than the screen");
        let widths = b
            .exec(
                "const e = document.documentElement; return [window.innerWidth, e.clientWidth, e.scrollWidth]",
                json!([]),
            )
            .await;
        assert!(widths[2].as_u64() <= widths[1].as_u64(), "{name}: the page scrolls sideways: {widths}");
        no_console_errors(&b, name).await;
        screenshot(&b, name).await;
        b.click("#signout").await;
    }
}
