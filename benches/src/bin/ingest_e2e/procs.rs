//! The processes a run starts: a private Mosquitto, `liftwatch serve`, and
//! this program again as publisher or subscriber. Every child is killed when
//! its guard is dropped, so an aborted run leaves nothing behind.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Polls `cond` every 50 ms until it holds, or fails after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A minimal HTTP GET; the status code, or `None` when nothing answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    http_get(port, path).map(|(c, _)| c)
}

/// A minimal HTTP GET; `(status, body)`, or `None` when nothing answers within 5 s.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, buf.split("\r\n\r\n").nth(1).unwrap_or("").to_owned()))
}

/// Sends SIGTERM (via kill(1): this crate has no unsafe code).
fn sigterm(pid: u32) {
    let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
}

/// Sends SIGINT (perf writes its file on SIGINT).
pub fn sigint(pid: u32) {
    let _ = std::process::Command::new("kill").arg("-INT").arg(pid.to_string()).status();
}

/// A child process killed (SIGKILL) on drop unless it already exited.
pub struct Guarded {
    /// The process.
    pub child: Child,
    /// Its pid.
    pub pid: u32,
}

impl Guarded {
    fn new(child: Child) -> anyhow::Result<Guarded> {
        let pid = child.id().context("child has no pid")?;
        Ok(Guarded { child, pid })
    }

    /// SIGTERM, then waits up to `grace`; SIGKILL after that. Returns the
    /// exit status (None when it had to be killed) and how long it took.
    pub async fn terminate(&mut self, grace: Duration) -> (Option<std::process::ExitStatus>, Duration) {
        let start = Instant::now();
        sigterm(self.pid);
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(s)) => (Some(s), start.elapsed()),
            _ => {
                let _ = self.child.kill().await;
                (None, start.elapsed())
            }
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.start_kill();
        }
    }
}

/// A private Mosquitto configured with deploy/mosquitto/liftwatch.conf plus a
/// `listener <port> 127.0.0.1` line; its log goes to `log`.
pub struct Broker {
    /// Its port.
    pub port: u16,
    /// The process.
    pub proc: Guarded,
    /// Its log file (stderr).
    pub log: PathBuf,
    conf: PathBuf,
}

impl Broker {
    /// Starts it and waits until it listens.
    pub async fn start(root: &Path, dir: &Path, tag: &str) -> anyhow::Result<Broker> {
        let port = free_port()?;
        let conf_src = root.join("deploy/mosquitto/liftwatch.conf");
        let base = std::fs::read_to_string(&conf_src).with_context(|| format!("reading {}", conf_src.display()))?;
        let conf = dir.join(format!("mosquitto-{tag}.conf"));
        let verbose = if std::env::var_os("INGEST_E2E_BROKER_VERBOSE").is_some() { "log_type all\n" } else { "" };
        std::fs::write(&conf, format!("{base}\nlistener {port} 127.0.0.1\n{verbose}"))?;
        let log = dir.join(format!("mosquitto-{tag}.log"));
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true)
            .spawn()
            .context("starting mosquitto (is it installed?)")?;
        let proc = Guarded::new(child)?;
        wait_until("mosquitto to listen", Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", port)).is_ok())
            .await?;
        Ok(Broker { port, proc, log, conf })
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.conf);
    }
}

/// Gateway settings passed to `liftwatch serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatewaySetting {
    /// `--batch-max-events`.
    pub max_events: usize,
    /// `--batch-max-messages`.
    pub max_messages: usize,
    /// `--db-pool-size`.
    pub pool: usize,
}

impl std::fmt::Display for GatewaySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "events={} messages={} pool={}", self.max_events, self.max_messages, self.pool)
    }
}

impl std::str::FromStr for GatewaySetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let p: Vec<usize> = s
            .split(':')
            .map(|x| x.parse::<usize>().map_err(|e| format!("{s:?}: {e} (expected EVENTS:MESSAGES:POOL)")))
            .collect::<Result<_, _>>()?;
        match p[..] {
            [e, m, pool] if e > 0 && m > 0 && pool > 0 => Ok(GatewaySetting { max_events: e, max_messages: m, pool }),
            _ => Err(format!("{s:?}: expected EVENTS:MESSAGES:POOL, all positive")),
        }
    }
}

/// Starts `liftwatch serve` (log level info, stderr to `log`) and waits for
/// `/readyz`; returns the process and its HTTP port.
pub async fn start_serve(
    bin: &Path,
    db_url: &str,
    mqtt_url: &str,
    g: GatewaySetting,
    log: &Path,
) -> anyhow::Result<(Guarded, u16)> {
    let http_port = free_port()?;
    let child = Command::new(bin)
        .args(["serve", "--database-url", db_url, "--mqtt-url", mqtt_url])
        .args(["--listen", &format!("127.0.0.1:{http_port}")])
        .args(["--mqtt-client-id", "bench-gateway", "--mqtt-share-group", "bench"])
        .args(["--batch-max-events", &g.max_events.to_string()])
        .args(["--batch-max-messages", &g.max_messages.to_string()])
        .args(["--db-pool-size", &g.pool.to_string()])
        .env("LIFTWATCH_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let mut proc = Guarded::new(child)?;
    let start = Instant::now();
    loop {
        if http_status(http_port, "/readyz") == Some(200) {
            return Ok((proc, http_port));
        }
        if let Ok(Some(s)) = proc.child.try_wait() {
            bail!("liftwatch serve exited with {s} before it was ready; see {}", log.display());
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("liftwatch serve not ready after 60 s; see {}", log.display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// This program started again in a role (`publish`, `subscribe`), talking
/// over stdin/stdout lines.
pub struct Helper {
    /// The process.
    pub proc: Guarded,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Helper {
    /// Spawns `current_exe args…`.
    pub fn spawn(args: &[String]) -> anyhow::Result<Helper> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().context("helper stdin")?;
        let stdout = child.stdout.take().context("helper stdout")?;
        Ok(Helper { proc: Guarded::new(child)?, stdin, lines: BufReader::new(stdout).lines() })
    }

    /// The next line the helper prints (fails if it exits first or after `timeout`).
    pub async fn line(&mut self, timeout: Duration) -> anyhow::Result<String> {
        match tokio::time::timeout(timeout, self.lines.next_line()).await {
            Ok(Ok(Some(l))) => Ok(l),
            Ok(Ok(None)) => bail!("helper {} exited", self.proc.pid),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => bail!("helper {} said nothing for {timeout:?}", self.proc.pid),
        }
    }

    /// Waits for a line starting with `word`; returns the rest of it.
    pub async fn expect(&mut self, word: &str, timeout: Duration) -> anyhow::Result<String> {
        let l = self.line(timeout).await?;
        match l.strip_prefix(word) {
            Some(rest) => Ok(rest.trim().to_owned()),
            None => bail!("helper {} said {l:?}, expected {word}", self.proc.pid),
        }
    }

    /// Sends one line.
    pub async fn say(&mut self, line: &str) -> anyhow::Result<()> {
        self.stdin.write_all(format!("{line}\n").as_bytes()).await?;
        self.stdin.flush().await?;
        Ok(())
    }
}

/// Lines of a log file that look like warnings or errors (tracing's
/// `WARN`/`ERROR` levels; Mosquitto's "Error"/"dropped"/"Warning").
pub fn log_problems(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(strip_ansi)
        .filter(|l| {
            l.contains(" WARN ")
                || l.contains(" ERROR ")
                || l.contains("Error")
                || l.contains("Warning")
                || l.contains("dropped")
                || l.contains("panicked")
        })
        .collect()
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut esc = false;
    for c in s.chars() {
        match (esc, c) {
            (false, '\u{1b}') => esc = true,
            (true, 'm') => esc = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}
