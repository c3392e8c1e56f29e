//! Harness for end-to-end tests: a private Mosquitto with deploy/mosquitto's
//! configuration, a throw-away database, `liftwatch serve` processes, and a
//! publisher that behaves like a fleet of boxes.
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use liftwatch_core::protocol::{to_array_payload, topic_for, Body, DeviceCode, Event, Timestamp};
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Outgoing, Packet, QoS};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits for `cond` with a deadline (no sleeps as synchronisation: the
/// condition is what we wait for; the pause only paces the polling).
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A private Mosquitto, killed on drop.
pub struct Broker {
    pub port: u16,
    child: Child,
    conf: PathBuf,
    data: Option<PathBuf>,
}

impl Broker {
    pub async fn start() -> Broker {
        Self::start_with(false).await
    }

    /// With `persistent`, the broker saves sessions and queued messages to
    /// disk on shutdown (as production brokers must) and reloads them.
    pub async fn start_with(persistent: bool) -> Broker {
        let port = free_port();
        let base = std::fs::read_to_string(workspace_root().join("deploy/mosquitto/liftwatch.conf")).unwrap();
        let conf = std::env::temp_dir().join(format!("lw-mosquitto-{}-{port}.conf", std::process::id()));
        let mut text = format!("{base}\nlistener {port} 127.0.0.1\n");
        let data = persistent.then(|| {
            let d = std::env::temp_dir().join(format!("lw-mosquitto-{}-{port}.d/", std::process::id()));
            std::fs::create_dir_all(&d).unwrap();
            // Mosquitto started as root drops to its own user: let it write.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
            text.push_str(&format!("persistence true\npersistence_location {}\n", d.display()));
            d
        });
        std::fs::write(&conf, text).unwrap();
        let child = Self::spawn(&conf, port).await;
        Broker { port, child, conf, data }
    }

    async fn spawn(conf: &PathBuf, port: u16) -> Child {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto must be installed (see README)");
        wait_until("mosquitto to listen", Duration::from_secs(10), || async move {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .await;
        child
    }

    /// Stops the broker (SIGTERM: it saves its state when persistent) and
    /// starts it again on the same port.
    pub async fn restart(&mut self) {
        Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        self.child.wait().unwrap();
        self.child = Self::spawn(&self.conf, self.port).await;
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.conf);
        if let Some(d) = &self.data {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// A `liftwatch serve` process, killed on drop.
pub struct Service {
    pub http_port: u16,
    child: Option<Child>,
    pub args: Vec<String>,
}

impl Service {
    pub async fn start(db_url: &str, mqtt_url: &str, client_id: &str, group: &str) -> Service {
        Self::start_with(db_url, mqtt_url, client_id, group, &[]).await
    }

    pub async fn start_with(db_url: &str, mqtt_url: &str, client_id: &str, group: &str, extra: &[&str]) -> Service {
        let http_port = free_port();
        let mut args = vec![
            "serve".to_owned(),
            "--database-url".into(),
            db_url.into(),
            "--mqtt-url".into(),
            mqtt_url.into(),
            "--listen".into(),
            format!("127.0.0.1:{http_port}"),
            "--mqtt-client-id".into(),
            client_id.into(),
            "--mqtt-share-group".into(),
            group.into(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut s = Service { http_port, child: None, args };
        s.spawn().await;
        s
    }

    /// `liftwatch` with exactly these arguments, listening for HTTP on `http_port`.
    pub async fn start_raw(args: Vec<String>, http_port: u16) -> Service {
        let mut s = Service { http_port, child: None, args };
        s.spawn().await;
        s
    }

    async fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_liftwatch"))
            .args(&self.args)
            .env("LIFTWATCH_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let port = self.http_port;
        wait_until("liftwatch /readyz", Duration::from_secs(30), || async move {
            http_get(port, "/readyz").is_some_and(|(code, _)| code == 200)
        })
        .await;
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().unwrap();
        Command::new("kill").arg("-TERM").arg(c.id().to_string()).status().unwrap();
        c.wait().unwrap()
    }

    /// SIGTERM; the exit status if the process exits within `limit`.
    pub async fn terminate_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let c = self.child.as_mut().unwrap();
        Command::new("kill").arg("-TERM").arg(c.id().to_string()).status().unwrap();
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(st) = c.try_wait().unwrap() {
                self.child = None;
                return Some(st);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    pub async fn restart(&mut self) {
        self.spawn().await;
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A minimal HTTP GET; `(status, body)` or `None` when nothing listens.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http(port, "GET", path, None, None)
}

/// A minimal HTTP/1.1 request with an optional bearer token and JSON body.
pub fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    Some((code, body))
}

/// Publishes events as boxes do (QoS 1, arrays of `per_msg`), and returns
/// once the broker acknowledged every message.
pub async fn publish(mqtt_port: u16, client_id: &str, events: &[Event], per_msg: usize) {
    let mut o = MqttOptions::new(client_id, "127.0.0.1", mqtt_port);
    o.set_max_packet_size(1 << 20, 1 << 20).set_keep_alive(Duration::from_secs(30));
    let (client, mut el) = AsyncClient::new(o, 1000);
    let mut by_dev: std::collections::BTreeMap<DeviceCode, Vec<&Event>> = Default::default();
    for e in events {
        by_dev.entry(e.device).or_default().push(e);
    }
    let mut payloads = Vec::new();
    for (d, evs) in by_dev {
        for c in evs.chunks(per_msg) {
            payloads.push((topic_for(&d), to_array_payload(c.iter().copied())));
        }
    }
    let total = payloads.len();
    let sender = tokio::spawn(async move {
        for (t, p) in payloads {
            client.publish(t, QoS::AtLeastOnce, false, p).await.unwrap();
        }
        client
    });
    let mut acked = 0;
    while acked < total {
        match el.poll().await {
            Ok(MqttEvent::Incoming(Packet::PubAck(_))) => acked += 1,
            Ok(_) => {}
            Err(e) => panic!("publisher connection failed: {e}"),
        }
    }
    let client = sender.await.unwrap();
    client.disconnect().await.unwrap();
    loop {
        match el.poll().await {
            Ok(MqttEvent::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
            _ => {}
        }
    }
}

/// `n` runs per elevator over `days` days, plus incidents, deterministic.
pub fn fleet_events(devices: &[DeviceCode], runs_per_device: usize, seed: u64) -> Vec<Event> {
    let base = liftwatch_core::protocol::parse_rfc3339("2026-09-01T06:00:00+08:00").unwrap().0 .0;
    let mut out = Vec::new();
    for (di, d) in devices.iter().enumerate() {
        let mut seq = seed * 1_000_000;
        for i in 0..runs_per_device {
            seq += 1;
            let ts = Timestamp(base + (i as i64) * 97_000_000 + di as i64 * 1_000);
            out.push(Event {
                device: *d,
                seq,
                ts,
                ts_offset: 8 * 3600,
                body: Body::Run { end: Timestamp(ts.0 + 30_000_000), from: 1, to: 9, doors: Some(1) },
            });
            if i % 250 == 17 {
                let fid: Box<str> = format!("f{i}").into();
                seq += 1;
                out.push(Event {
                    device: *d,
                    seq,
                    ts: Timestamp(ts.0 + 1_000_000),
                    ts_offset: 8 * 3600,
                    body: Body::Fault {
                        fault_id: fid.clone(),
                        code: liftwatch_core::protocol::FaultCode::parse("02"),
                        stops_service: true,
                        cause: None,
                    },
                });
                seq += 1;
                out.push(Event {
                    device: *d,
                    seq,
                    ts: Timestamp(ts.0 + 1_800_000_000),
                    ts_offset: 8 * 3600,
                    body: Body::FaultCleared { fault_id: fid },
                });
            }
        }
    }
    out
}

/// A private PostgreSQL 15 cluster (plain, no TimescaleDB preload) that a
/// test may restart without disturbing the shared one. Stopped and removed
/// on drop.
pub struct PrivatePg {
    pub port: u16,
    dir: PathBuf,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn as_postgres(args: &[&str]) -> std::process::ExitStatus {
    // initdb and the postmaster refuse to run as root.
    let mut c = if unsafe_is_root() { Command::new("runuser") } else { Command::new(args[0]) };
    if unsafe_is_root() {
        c.args(["-u", "postgres", "--"]).args(args);
    } else {
        c.args(&args[1..]);
    }
    c.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap()
}

fn unsafe_is_root() -> bool {
    std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || std::fs::read_to_string("/proc/self/status")
            .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
            .unwrap_or(false)
}

impl PrivatePg {
    pub async fn start() -> PrivatePg {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("lw-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        if unsafe_is_root() {
            Command::new("chown").arg("postgres").arg(&dir).status().unwrap();
        }
        let data = dir.join("data");
        let initdb = format!("{PG_BIN}/initdb");
        assert!(as_postgres(&[&initdb, "-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres"]).success());
        let pg_ctl = format!("{PG_BIN}/pg_ctl");
        let opts = format!("-p {port} -k {} -c listen_addresses=127.0.0.1", dir.display());
        let log = dir.join("log");
        assert!(as_postgres(&[
            &pg_ctl,
            "-D",
            data.to_str().unwrap(),
            "-o",
            &opts,
            "-l",
            log.to_str().unwrap(),
            "-w",
            "start"
        ])
        .success());
        PrivatePg { port, dir }
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// `pg_ctl restart -m fast`: every connection is cut, the server is gone
    /// for a moment, then accepts connections again.
    pub fn restart(&self) {
        let pg_ctl = format!("{PG_BIN}/pg_ctl");
        let data = self.dir.join("data");
        assert!(as_postgres(&[&pg_ctl, "-D", data.to_str().unwrap(), "-m", "fast", "-w", "restart"]).success());
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let pg_ctl = format!("{PG_BIN}/pg_ctl");
        let data = self.dir.join("data");
        as_postgres(&[&pg_ctl, "-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
