//! A real browser for the dashboard's tests: Debian's headless Chromium
//! driven over W3C WebDriver by Debian's `chromedriver` (packages `chromium`
//! and `chromium-driver`; nothing is downloaded). A few commands only —
//! navigate, run a script, type, click, read the console, take a
//! screenshot — spoken with a plain HTTP client, so no WebDriver crate (and
//! its dependencies) is needed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use crate::procs::{free_port, http};
use crate::wait::{try_wait_until, wait_until};

/// The W3C key of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a page may take to reach a condition a test waits for.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether `chromium` and `chromedriver` are installed (`.ci/run` installs
/// them; a test that needs them fails with the install command otherwise).
pub fn available() -> bool {
    ["chromedriver", "chromium"].iter().all(|b| {
        Command::new(b).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    })
}

fn chromium_binary() -> &'static str {
    // Debian's /usr/bin/chromium is a shell wrapper around this binary.
    if Path::new("/usr/lib/chromium/chromium").exists() {
        "/usr/lib/chromium/chromium"
    } else {
        "chromium"
    }
}

/// A browser session in its own chromedriver; the session and the driver
/// end when it is dropped.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    http: reqwest::Client,
}

/// A console message (`level` is `SEVERE` for errors, `WARNING`, `INFO`…).
#[derive(Clone, Debug)]
pub struct ConsoleEntry {
    /// Chromium's level.
    pub level: String,
    /// The text (with the source URL first).
    pub message: String,
}

impl Browser {
    /// A headless Chromium with a `width`×`height` window and the console
    /// logged; panics with the install command when it is not installed.
    /// Below 500 pixels (headless Chromium's narrowest window) it emulates
    /// a phone of that size.
    pub async fn start(width: u32, height: u32) -> Browser {
        assert!(available(), "headless Chromium is needed: apt-get install -y chromium chromium-driver");
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            // The pilot's zone: the page shows times as a user there sees them.
            .env("TZ", "Asia/Shanghai")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let mut b = Browser { driver, port, session: String::new(), http };
        let status = format!("{}/status", b.base());
        wait_until("chromedriver to answer", Duration::from_secs(20), || {
            let r = b.http.get(&status).send();
            async move { r.await.is_ok() }
        })
        .await;
        let mut chrome = json!({"binary": chromium_binary(), "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--hide-scrollbars", format!("--window-size={},{height}", width.max(500)),
            "--lang=zh-CN", "--force-device-scale-factor=1",
        ]});
        if width < 500 {
            chrome["mobileEmulation"] = json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1, "mobile": true, "touch": true}});
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": chrome,
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let v = b.post("/session", caps).await;
        b.session = v["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {v}")).to_owned();
        b
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn send(&self, r: reqwest::RequestBuilder) -> Value {
        let resp = r.send().await.expect("chromedriver answers");
        let v: Value = resp.json().await.expect("chromedriver answers JSON");
        if v["value"]["error"].is_string() {
            panic!("WebDriver error: {}", v["value"]);
        }
        v.get("value").cloned().unwrap_or(Value::Null)
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.send(self.http.post(format!("{}{path}", self.base())).json(&body)).await
    }

    async fn cmd(&self, path: &str, body: Value) -> Value {
        self.post(&format!("/session/{}{path}", self.session), body).await
    }

    /// Opens `url` (returns when the page has loaded).
    pub async fn goto(&self, url: &str) {
        self.cmd("/url", json!({"url": url})).await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        let v = self.send(self.http.get(format!("{}/session/{}/url", self.base(), self.session))).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) and returns its value.
    pub async fn exec(&self, script: &str, args: Value) -> Value {
        self.cmd("/execute/sync", json!({"script": script, "args": args})).await
    }

    /// Runs an async `script` whose last argument is the callback to call with the result.
    pub async fn exec_async(&self, script: &str, args: Value) -> Value {
        self.cmd("/execute/async", json!({"script": script, "args": args})).await
    }

    /// Waits until the JavaScript expression `expr` is truthy.
    pub async fn wait_for(&self, expr: &str) {
        let script = format!("return !!({expr});");
        if let Err(e) =
            try_wait_until(expr, PAGE_TIMEOUT, || async { self.exec(&script, json!([])).await.as_bool() == Some(true) })
                .await
        {
            let state =
                self.exec("return document.body ? document.body.innerText.slice(0, 2000) : ''", json!([])).await;
            panic!("{e}; the page says: {state}; console: {:?}", self.console().await);
        }
    }

    async fn element(&self, css: &str) -> String {
        let v = self.cmd("/element", json!({"using": "css selector", "value": css})).await;
        v[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {v}")).to_owned()
    }

    /// Types `text` into the element `css`, as a person would.
    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.cmd(&format!("/element/{e}/value"), json!({"text": text})).await;
    }

    /// Clicks the element `css`.
    pub async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.cmd(&format!("/element/{e}/click"), json!({})).await;
    }

    /// The console messages since the last call (Chromium's browser log).
    pub async fn console(&self) -> Vec<ConsoleEntry> {
        let v = self.cmd("/se/log", json!({"type": "browser"})).await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| ConsoleEntry {
                        level: e["level"].as_str().unwrap_or_default().to_owned(),
                        message: e["message"].as_str().unwrap_or_default().to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The console errors since the last call (uncaught exceptions, failed
    /// loads, refusals by the Content-Security-Policy, `console.error`).
    pub async fn console_errors(&self) -> Vec<String> {
        self.console().await.into_iter().filter(|e| e.level == "SEVERE").map(|e| e.message).collect()
    }

    /// Resizes the window to `width` and the page's full height (at most
    /// `max_height`), so that a screenshot shows the whole page.
    pub async fn fit_page(&self, width: u32, max_height: u32) {
        self.cmd("/window/rect", json!({"width": width, "height": 800})).await;
        let h = self.exec("return document.documentElement.scrollHeight", json!([])).await.as_u64().unwrap_or(800);
        let h = u32::try_from(h).unwrap_or(max_height).clamp(400, max_height);
        self.cmd("/window/rect", json!({"width": width, "height": h})).await;
        self.exec("window.scrollTo(0, 0)", json!([])).await;
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        let v = self.send(self.http.get(format!("{}/session/{}/screenshot", self.base(), self.session))).await;
        base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).expect("a base64 PNG")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends the session (Chromium exits), then the driver.
        let _ = http(self.port, "DELETE", &format!("/session/{}", self.session), None, None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
