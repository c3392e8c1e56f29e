//! Processes a test or benchmark starts for itself: a private Mosquitto with
//! deploy/mosquitto's configuration, `liftwatch serve`, a private PostgreSQL
//! cluster; every one stopped and cleaned up when its guard is dropped.
//! Ports come from [`free_port`], so tests run in parallel.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::wait::{try_wait_until, wait_until, POLL};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The workspace root (for `deploy/`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Sends SIGTERM through kill(1) (the workspace forbids unsafe code).
pub fn sigterm(pid: u32) {
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
}

/// How to start a [`Broker`].
#[derive(Clone, Debug, Default)]
pub struct BrokerOptions {
    /// Save sessions and queued messages to disk on shutdown and reload
    /// them on start (as production brokers must).
    pub persistent: bool,
    /// Mosquitto's stderr goes to this file (default: discarded).
    pub log: Option<PathBuf>,
    /// Add `log_type all` to the configuration.
    pub verbose: bool,
    /// Authentication as shipped (`allow_anonymous false`, the shipped ACL
    /// `deploy/mosquitto/liftwatch.acl`) with this password file (made with
    /// `mosquitto_passwd`). `None`: anonymous clients allowed, for the tests
    /// that are not about authentication.
    pub password_file: Option<PathBuf>,
    /// Also listen with TLS (on [`Broker::tls_port`]) with this certificate
    /// and key (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Lines appended to the configuration (e.g. [`Dynsec::broker_config`]).
    pub extra: String,
}

/// A private Mosquitto configured with `deploy/mosquitto/liftwatch.conf`
/// plus `listener <port> 127.0.0.1`; killed on drop.
pub struct Broker {
    /// Its port.
    pub port: u16,
    /// Its TLS port, when started with [`BrokerOptions::tls`].
    pub tls_port: Option<u16>,
    child: Child,
    conf: PathBuf,
    opts: BrokerOptions,
    data: Option<PathBuf>,
    files: Vec<PathBuf>,
}

/// The shipped configuration with its authentication lines replaced: the
/// password and ACL files by `auth` (password file, ACL file), or, without
/// `auth`, anonymous clients allowed.
fn broker_conf(base: &str, auth: Option<(&Path, &Path)>) -> String {
    let mut out = String::new();
    for line in base.lines() {
        let key = line.split_whitespace().next().unwrap_or("");
        let line = match (key, auth) {
            ("allow_anonymous" | "password_file" | "acl_file", None) => continue,
            ("password_file", Some((p, _))) => format!("password_file {}", p.display()),
            ("acl_file", Some((_, a))) => format!("acl_file {}", a.display()),
            _ => line.to_owned(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    if auth.is_none() {
        out.push_str("allow_anonymous true\n");
    }
    out
}

impl Broker {
    /// A broker without persistence.
    pub async fn start() -> Broker {
        Self::start_with(false).await
    }

    /// With `persistent`, the broker saves its state on SIGTERM and reloads it.
    pub async fn start_with(persistent: bool) -> Broker {
        Self::try_start(BrokerOptions { persistent, ..Default::default() }).await.unwrap()
    }

    /// Starts one with `opts` and waits until it listens.
    pub async fn try_start(opts: BrokerOptions) -> std::io::Result<Broker> {
        let port = free_port();
        let base = std::fs::read_to_string(workspace_root().join("deploy/mosquitto/liftwatch.conf"))?;
        let stem = format!("lw-mosquitto-{}-{port}", std::process::id());
        let conf = std::env::temp_dir().join(format!("{stem}.conf"));
        // Copies in the temporary folder: Mosquitto started as root reads
        // them as its own user.
        let mut files = Vec::new();
        let mut copy = |from: &Path, ext: &str| -> std::io::Result<PathBuf> {
            let to = std::env::temp_dir().join(format!("{stem}.{ext}"));
            std::fs::copy(from, &to)?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644))?;
            files.push(to.clone());
            Ok(to)
        };
        let auth = match &opts.password_file {
            Some(p) => {
                Some((copy(p, "passwd")?, copy(&workspace_root().join("deploy/mosquitto/liftwatch.acl"), "acl")?))
            }
            None => None,
        };
        let base = broker_conf(&base, auth.as_ref().map(|(p, a)| (p.as_path(), a.as_path())));
        let mut text = format!("{base}\nlistener {port} 127.0.0.1\n");
        let tls_port = match &opts.tls {
            Some((cert, key)) => {
                let tls_port = free_port();
                let (cert, key) = (copy(cert, "crt")?, copy(key, "key")?);
                text.push_str(&format!(
                    "listener {tls_port} 127.0.0.1\ncertfile {}\nkeyfile {}\n",
                    cert.display(),
                    key.display()
                ));
                Some(tls_port)
            }
            None => None,
        };
        if opts.verbose {
            text.push_str("log_type all\n");
        }
        text.push_str(&opts.extra);
        text.push('\n');
        let data = if opts.persistent {
            let d = std::env::temp_dir().join(format!("{stem}.d/"));
            std::fs::create_dir_all(&d)?;
            // Mosquitto started as root drops to its own user: let it write.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777))?;
            text.push_str(&format!("persistence true\npersistence_location {}\n", d.display()));
            Some(d)
        } else {
            None
        };
        std::fs::write(&conf, text)?;
        let child = Self::spawn(&conf, port, opts.log.as_deref()).await?;
        Ok(Broker { port, tls_port, child, conf, opts, data, files })
    }

    async fn spawn(conf: &Path, port: u16, log: Option<&Path>) -> std::io::Result<Child> {
        let stderr = match log {
            Some(l) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(l)?),
            None => Stdio::null(),
        };
        let mut child = Command::new("mosquitto")
            .arg("-c")
            .arg(conf)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("starting mosquitto (is it installed?): {e}")))?;
        let listening = try_wait_until("mosquitto to listen", Duration::from_secs(10), || async move {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .await;
        if let Err(e) = listening {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, e));
        }
        Ok(child)
    }

    /// Stops the broker (SIGTERM: it saves its state when persistent) and
    /// starts it again on the same port.
    pub async fn restart(&mut self) {
        sigterm(self.child.id());
        self.child.wait().unwrap();
        self.child = Self::spawn(&self.conf, self.port, self.opts.log.as_deref()).await.unwrap();
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Its process id (for CPU accounting).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its log file, if it has one.
    pub fn log(&self) -> Option<&Path> {
        self.opts.log.as_deref()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.conf);
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        if let Some(d) = &self.data {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Mosquitto's dynamic-security plugin for a [`Broker`] (through
/// [`BrokerOptions::extra`]): ACLs changed while the broker runs, with
/// `mosquitto_ctrl`. Unlike an `acl_file` (Mosquitto 2.0 grants every
/// SUBSCRIBE and filters deliveries), it refuses a SUBSCRIBE its ACLs do not
/// allow with a SUBACK failure code. Starts with an admin client only:
/// anonymous clients may neither publish nor subscribe. Its file is removed on drop.
pub struct Dynsec {
    file: PathBuf,
}

/// The dynamic-security admin's password (test brokers listen on 127.0.0.1 only).
const DYNSEC_ADMIN_PASSWORD: &str = "liftwatch-test-admin";

impl Dynsec {
    /// Writes a configuration with the admin client (`mosquitto_ctrl dynsec init`).
    pub fn new() -> Dynsec {
        let file = std::env::temp_dir().join(format!("lw-dynsec-{}-{}.json", std::process::id(), free_port()));
        let out = Command::new("mosquitto_ctrl")
            .args(["dynsec", "init"])
            .arg(&file)
            .args(["admin", DYNSEC_ADMIN_PASSWORD])
            .output()
            .expect("mosquitto_ctrl (package mosquitto-clients / mosquitto) is needed");
        assert!(out.status.success(), "mosquitto_ctrl dynsec init: {}", String::from_utf8_lossy(&out.stderr));
        // Mosquitto started as root drops to its own user and rewrites the file.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        Dynsec { file }
    }

    /// The configuration lines loading the plugin with this file.
    pub fn broker_config(&self) -> String {
        let plugin = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib"]
            .iter()
            .map(|d| Path::new(d).join("mosquitto_dynamic_security.so"))
            .find(|p| p.exists())
            .expect("mosquitto_dynamic_security.so (shipped with Mosquitto 2.0) not found");
        format!("plugin {}\nplugin_opt_config_file {}\n", plugin.display(), self.file.display())
    }

    /// `mosquitto_ctrl dynsec <args>` as the admin against the broker on `port`; panics on failure.
    pub fn ctrl(&self, port: u16, args: &[&str]) {
        let out = Command::new("mosquitto_ctrl")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-u", "admin", "-P", DYNSEC_ADMIN_PASSWORD, "dynsec"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "mosquitto_ctrl dynsec {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Default for Dynsec {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Dynsec {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// A `liftwatch` process listening for HTTP, killed (SIGKILL) on drop.
///
/// Each has its own data folder (`LIFTWATCH_DATA_DIR`, so the gateway's
/// spool is `<it>/spool` unless the arguments say otherwise), kept across
/// restarts and removed on drop: services of parallel tests never share a
/// spool (the second would refuse to start).
pub struct Service {
    /// Its HTTP port.
    pub http_port: u16,
    /// The arguments it was started with (and is restarted with).
    pub args: Vec<String>,
    /// Its data folder.
    pub data_dir: PathBuf,
    bin: PathBuf,
    log: Option<PathBuf>,
    level: String,
    /// Started once this path answers 200 (`/readyz`, or `/healthz` for a
    /// service that may not become ready).
    up_path: &'static str,
    child: Option<Child>,
}

/// The arguments of `liftwatch serve` on a database and broker, HTTP on
/// `http_port`, with an MQTT client id and shared-subscription group.
pub fn serve_args(db_url: &str, mqtt_url: &str, http_port: u16, client_id: &str, group: &str) -> Vec<String> {
    [
        "serve",
        "--database-url",
        db_url,
        "--mqtt-url",
        mqtt_url,
        "--listen",
        &format!("127.0.0.1:{http_port}"),
        "--mqtt-client-id",
        client_id,
        "--mqtt-share-group",
        group,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

impl Service {
    /// `bin serve` (tests pass `env!("CARGO_BIN_EXE_liftwatch")`), ready.
    pub async fn start(bin: &str, db_url: &str, mqtt_url: &str, client_id: &str, group: &str) -> Service {
        Self::start_with(bin, db_url, mqtt_url, client_id, group, &[]).await
    }

    /// [`Service::start`] with extra flags.
    pub async fn start_with(
        bin: &str,
        db_url: &str,
        mqtt_url: &str,
        client_id: &str,
        group: &str,
        extra: &[&str],
    ) -> Service {
        let http_port = free_port();
        let mut args = serve_args(db_url, mqtt_url, http_port, client_id, group);
        args.extend(extra.iter().map(|a| a.to_string()));
        Self::start_raw(bin, args, http_port).await
    }

    /// `bin` with exactly these arguments, listening for HTTP on `http_port`;
    /// logs at `warn` to the test's stderr.
    pub async fn start_raw(bin: &str, args: Vec<String>, http_port: u16) -> Service {
        Self::try_start(bin.as_ref(), args, http_port, None, "warn").await.unwrap()
    }

    /// `bin` with `args`, its log (`LIFTWATCH_LOG=level`) appended to `log`
    /// (default: inherited stderr); waits up to 60 s for `/readyz` and fails
    /// early if the process exits first.
    pub async fn try_start(
        bin: &Path,
        args: Vec<String>,
        http_port: u16,
        log: Option<PathBuf>,
        level: &str,
    ) -> std::io::Result<Service> {
        let data_dir = std::env::temp_dir().join(format!("lw-data-{}-{http_port}", std::process::id()));
        let mut s = Service {
            http_port,
            args,
            data_dir,
            bin: bin.to_owned(),
            log,
            level: level.into(),
            up_path: "/readyz",
            child: None,
        };
        s.spawn().await?;
        Ok(s)
    }

    async fn spawn(&mut self) -> std::io::Result<()> {
        let stderr = match &self.log {
            Some(l) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(l)?),
            None => Stdio::inherit(),
        };
        let child = Command::new(&self.bin)
            .args(&self.args)
            .env("LIFTWATCH_LOG", &self.level)
            .env("LIFTWATCH_DATA_DIR", &self.data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("starting {}: {e}", self.bin.display())))?;
        let child = self.child.insert(child);
        let start = Instant::now();
        loop {
            if http_get(self.http_port, self.up_path).is_some_and(|(code, _)| code == 200) {
                return Ok(());
            }
            if let Some(st) = child.try_wait()? {
                self.child = None;
                return Err(std::io::Error::other(format!(
                    "{} exited with {st} before it was ready",
                    self.bin.display()
                )));
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "not ready after 60 s"));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Like [`Service::start_with`], but returns once the process serves
    /// HTTP (`/healthz`), ready or not: for services a test expects to stay
    /// unready.
    pub async fn start_live(
        bin: &str,
        db_url: &str,
        mqtt_url: &str,
        client_id: &str,
        group: &str,
        extra: &[&str],
    ) -> Service {
        let http_port = free_port();
        let mut args = serve_args(db_url, mqtt_url, http_port, client_id, group);
        args.extend(extra.iter().map(|a| a.to_string()));
        let data_dir = std::env::temp_dir().join(format!("lw-data-{}-{http_port}", std::process::id()));
        let mut s = Service {
            http_port,
            args,
            data_dir,
            bin: PathBuf::from(bin),
            log: None,
            level: "warn".into(),
            up_path: "/healthz",
            child: None,
        };
        s.spawn().await.unwrap();
        s
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut c = self.child.take().unwrap();
        sigterm(c.id());
        c.wait().unwrap()
    }

    /// SIGTERM; the exit status if the process exits within `limit`, else
    /// `None` (still running: [`Service::kill9`] or drop it).
    pub async fn terminate_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let c = self.child.as_mut()?;
        sigterm(c.id());
        let mut status = None;
        let _ = try_wait_until("exit after SIGTERM", limit, || {
            status = c.try_wait().ok().flatten();
            std::future::ready(status.is_some())
        })
        .await;
        if status.is_some() {
            self.child = None;
        }
        status
    }

    /// Starts it again with the same arguments (after a kill or terminate).
    pub async fn restart(&mut self) {
        self.spawn().await.unwrap();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A minimal HTTP GET; `(status, body)` or `None` when nothing listens.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http(port, "GET", path, None, None)
}

/// A minimal HTTP/1.1 request to 127.0.0.1 with an optional bearer token and
/// JSON body; `(status, body)`, or `None` when nothing answers within 5 s.
pub fn http(port: u16, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.set_nodelay(true).ok()?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let body = body.unwrap_or("");
    // One write: `write!` on the socket itself sends each formatted piece
    // as its own segment, and the server's delayed ACK then holds the rest
    // (~40 ms a request).
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    Some((code, body))
}

/// A private PostgreSQL 15 cluster (plain, no TimescaleDB preload) that a
/// test may restart without disturbing the shared one. Stopped and removed
/// on drop.
pub struct PrivatePg {
    /// Its port.
    pub port: u16,
    dir: PathBuf,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn as_postgres(args: &[&str]) -> ExitStatus {
    // initdb and the postmaster refuse to run as root.
    let mut c = if is_root() { Command::new("runuser") } else { Command::new(args[0]) };
    if is_root() {
        c.args(["-u", "postgres", "--"]).args(args);
    } else {
        c.args(&args[1..]);
    }
    c.stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap()
}

fn is_root() -> bool {
    std::env::var("USER").map(|u| u == "root").unwrap_or(false)
        || std::fs::read_to_string("/proc/self/status")
            .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
            .unwrap_or(false)
}

impl PrivatePg {
    /// initdb and start a cluster on a free port (trust authentication, no TLS).
    pub async fn start() -> PrivatePg {
        Self::start_with(None).await
    }

    /// [`PrivatePg::start`] with TLS on (`ssl = on`), serving `ca`'s server
    /// certificate; plain connections are still accepted.
    pub async fn start_tls(ca: &crate::TestCa) -> PrivatePg {
        Self::start_with(Some(ca)).await
    }

    async fn start_with(tls: Option<&crate::TestCa>) -> PrivatePg {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("lw-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            Command::new("chown").arg("postgres").arg(&dir).status().unwrap();
        }
        let data = dir.join("data");
        let initdb = format!("{PG_BIN}/initdb");
        assert!(as_postgres(&[&initdb, "-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres"]).success());
        let pg_ctl = format!("{PG_BIN}/pg_ctl");
        let mut opts = format!("-p {port} -k {} -c listen_addresses=127.0.0.1", dir.display());
        if let Some(ca) = tls {
            // The server reads its key as its own user, and only from a private file.
            let (cert, key) = (dir.join("server.pem"), dir.join("server.key"));
            std::fs::copy(ca.cert(), &cert).unwrap();
            std::fs::copy(ca.key(), &key).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
            if is_root() {
                Command::new("chown").arg("postgres").arg(&cert).arg(&key).status().unwrap();
            }
            opts.push_str(&format!(" -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}", cert.display(), key.display()));
        }
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
        wait_until("the private PostgreSQL to listen", Duration::from_secs(30), || async move {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .await;
        PrivatePg { port, dir }
    }

    /// The URL of database `db` on it.
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

/// Mosquitto with its stock per-client limits: `max_inflight_messages 20`
/// and `max_queued_messages 1000` are the defaults, stated here so that a
/// change of defaults shows. Killed on drop.
pub struct StockBroker {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Child,
    conf: PathBuf,
}

impl StockBroker {
    /// Starts one on a free port and waits until it listens.
    pub async fn start() -> StockBroker {
        let port = free_port();
        let conf = std::env::temp_dir().join(format!("lw-stock-mosquitto-{}-{port}.conf", std::process::id()));
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 max_inflight_messages 20\nmax_queued_messages 1000\nmax_packet_size 300000\n"
            ),
        )
        .unwrap();
        let child =
            Command::new("mosquitto").arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        wait_until("mosquitto to listen", Duration::from_secs(10), || async move {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .await;
        StockBroker { port, child, conf }
    }

    /// `mqtt://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for StockBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.conf);
    }
}
