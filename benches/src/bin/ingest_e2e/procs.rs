//! This program started again as publisher or subscriber, and the gateway
//! settings; the broker and `liftwatch serve` come from the test kit. Every
//! child is killed when its guard is dropped, so an aborted run leaves
//! nothing behind.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

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
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.start_kill();
        }
    }
}

/// Gateway settings passed to `liftwatch serve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatewaySetting {
    /// `--batch-max-events`.
    pub max_events: usize,
    /// `--batch-max-messages`.
    pub max_messages: usize,
    /// `--db-pool-size-ingest` (the gateway's pool).
    pub pool: usize,
    /// The gateway's durable spool (`--no-spool` when false).
    pub spool: bool,
}

impl std::fmt::Display for GatewaySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let spool = if self.spool { "on" } else { "off" };
        write!(f, "events={} messages={} pool={} spool={spool}", self.max_events, self.max_messages, self.pool)
    }
}

impl std::str::FromStr for GatewaySetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (nums, spool) = match s.strip_suffix(":nospool") {
            Some(rest) => (rest, false),
            None => (s, true),
        };
        let p: Vec<usize> = nums
            .split(':')
            .map(|x| x.parse::<usize>().map_err(|e| format!("{s:?}: {e} (expected EVENTS:MESSAGES:POOL[:nospool])")))
            .collect::<Result<_, _>>()?;
        match p[..] {
            [e, m, pool] if e > 0 && m > 0 && pool > 0 => {
                Ok(GatewaySetting { max_events: e, max_messages: m, pool, spool })
            }
            _ => Err(format!("{s:?}: expected EVENTS:MESSAGES:POOL[:nospool], all positive")),
        }
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
