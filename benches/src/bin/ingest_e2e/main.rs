//! End-to-end ingest benchmark of liftwatch (docs/performance.md, "End-to-end
//! ingest"). In one run, on this machine, with medians of `--runs` runs each:
//!
//! * **(E)** a load generator publishes protocol-v1 arrays of 100 `run`
//!   events with QoS 1 to a private Mosquitto (deploy/mosquitto/liftwatch.conf),
//!   the release `liftwatch serve` stores them in a fresh TimescaleDB
//!   database; timed from the first publish until the last event is committed,
//!   for each gateway setting given;
//! * **(S)** the same through `liftwatch serve` with nothing to install: its
//!   embedded MQTT broker and the embedded SQLite store in a fresh data
//!   folder (phase `s`; the pool size of a setting does not apply);
//! * **(a)** the same publisher and broker with a bare rumqttc subscriber;
//! * **(b)** a bare binary COPY of the same rows, 10,000 per committed
//!   transaction, into a hypertable with (and without) the unique identity index.
//!
//! Only these headline figures: the store's own SQL is not re-enacted here
//! (it would drift from `crates/store`); broker, `serve`, databases and
//! registration come from `liftwatch-testkit`.
//!
//! It also records CPU time per process during (E). Build the server first:
//!
//! ```sh
//! cargo build --release -p liftwatch
//! cargo run --release -p liftwatch-benches --bin ingest_e2e -- [--events N]
//! ```

mod cpu;
mod embedded;
mod phases;
mod procs;
mod roles;
mod workload;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use liftwatch_core::protocol::Timestamp;

use crate::cpu::Breakdown;
use crate::phases::{Ctx, E2eRun, Indexes, SubRun};
use crate::procs::GatewaySetting;
use crate::workload::{Workload, PER_MESSAGE};

/// End-to-end ingest benchmark: publisher → Mosquitto → liftwatch serve → TimescaleDB.
#[derive(Parser, Debug)]
#[command(name = "ingest_e2e", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    role: Option<Role>,
    #[command(flatten)]
    opts: Opts,
}

#[derive(clap::Args, Debug)]
struct Opts {
    /// Events per run (run events, 100 per MQTT message).
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Registered elevators the events are spread over.
    #[arg(long, default_value_t = 1000)]
    devices: u32,
    /// Runs of every figure (medians are reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Gateway settings for (E), EVENTS:MESSAGES:POOL[:nospool]
    /// (`--batch-max-events`, `--batch-max-messages`, `--db-pool-size-ingest`, and
    /// `--no-spool` with `:nospool`), comma-separated; the first one is the
    /// headline figure (the defaults: spool on).
    #[arg(long, value_delimiter = ',', default_value = "50000:1000:8,50000:1000:8:nospool,10000:1000:8,50000:1000:3")]
    settings: Vec<GatewaySetting>,
    /// Phases to run: a (bare subscriber), b (bare COPY), e (end to end),
    /// s (end to end on the embedded broker and store).
    #[arg(long, value_delimiter = ',', default_value = "a,b,e,s", value_parser = parse_phase)]
    phases: Vec<char>,
    /// Rows per COPY transaction in (b).
    #[arg(long, default_value_t = 10_000)]
    copy_batch: usize,
    /// QoS 1 messages the publisher keeps in flight.
    #[arg(long, default_value_t = 100)]
    inflight: u16,
    /// Record `perf record -a` (cpu-clock) during the first E2E run.
    #[arg(long)]
    perf: bool,
    /// The `liftwatch` binary [default: $CARGO_TARGET_DIR or the workspace's target/release/liftwatch].
    #[arg(long)]
    liftwatch: Option<PathBuf>,
    /// Logs, perf data and summary.md go here [default: <target>/ingest-e2e].
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// An E2E run with no visible progress for this many seconds is declared stalled.
    #[arg(long, default_value_t = 10)]
    stall_secs: u64,
}

#[derive(Subcommand, Debug)]
enum Role {
    /// (internal) The load generator.
    #[command(hide = true)]
    Publish {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        events: u64,
        #[arg(long)]
        devices: u32,
        #[arg(long, allow_hyphen_values = true)]
        base_us: i64,
        #[arg(long)]
        inflight: u16,
    },
    /// (internal) The bare subscriber of (a).
    #[command(hide = true)]
    Subscribe {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        expected: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match cli.role {
        Some(Role::Publish { port, events, devices, base_us, inflight }) => {
            rt.block_on(roles::publish(port, Workload { events, devices, base_us }, inflight, "bench-publisher"))
        }
        Some(Role::Subscribe { port, expected }) => {
            rt.block_on(roles::subscribe(port, expected, "$share/bench/lift/v1/+/events", "bench-subscriber"))
        }
        None => rt.block_on(bench(cli.opts)),
    }
}

/// A phase letter of `--phases`.
fn parse_phase(s: &str) -> Result<char, String> {
    match s {
        "a" | "b" | "e" | "s" => Ok(s.chars().next().unwrap_or('e')),
        _ => Err(format!(
            "{s:?}: the phases are a (bare subscriber), b (bare COPY), e (end to end) and s (end to end, embedded)"
        )),
    }
}

fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(Path::to_path_buf).unwrap_or(here)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Warns when a source file under crates/ is newer than the binary.
fn check_fresh(bin: &Path, root: &Path) {
    let Ok(built) = std::fs::metadata(bin).and_then(|m| m.modified()) else { return };
    let mut stack = vec![root.join("crates")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs" || x == "sql" || x == "toml")
                && e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t > built)
            {
                eprintln!(
                    "warning: {} is newer than {}: run `cargo build --release -p liftwatch` for current code",
                    p.display(),
                    bin.display()
                );
                return;
            }
        }
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn rate(events: u64, secs: f64) -> f64 {
    events as f64 / secs
}

fn fmt_rate(r: f64) -> String {
    if !r.is_finite() {
        "–".into()
    } else if r >= 1e6 {
        format!("{:.2} M", r / 1e6)
    } else {
        format!("{:.1} k", r / 1e3)
    }
}

fn fmt_runs(events: u64, secs: &[f64]) -> String {
    secs.iter().map(|s| fmt_rate(rate(events, *s))).collect::<Vec<_>>().join(", ")
}

/// Results of all runs.
#[derive(Default)]
struct Results {
    sub: Vec<SubRun>,
    copy: Vec<(Indexes, Vec<f64>)>,
    e2e: Vec<(GatewaySetting, Vec<E2eRun>)>,
    embedded: Vec<(GatewaySetting, Vec<E2eRun>)>,
    errors: Vec<String>,
}

async fn bench(o: Opts) -> anyhow::Result<()> {
    let started = Instant::now();
    let root = workspace_root();
    let target = target_dir(&root);
    let liftwatch = o.liftwatch.clone().unwrap_or_else(|| target.join("release/liftwatch"));
    let want = |c: char| o.phases.contains(&c);
    if want('e') || want('s') {
        if !liftwatch.exists() {
            bail!(
                "{} not found: run `cargo build --release -p liftwatch` first (or pass --liftwatch)",
                liftwatch.display()
            );
        }
        check_fresh(&liftwatch, &root);
    }
    if o.events == 0 || o.runs == 0 || o.settings.is_empty() {
        bail!("--events, --runs and --settings must not be empty");
    }
    let out = o.out_dir.clone().unwrap_or_else(|| target.join("ingest-e2e"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let w = Workload::new(o.events, o.devices, Timestamp::now().0);
    eprintln!(
        "workload: {} run events in {} messages of {} from {} elevators; logs in {}",
        w.events,
        w.messages(),
        PER_MESSAGE,
        w.active_devices(),
        out.display()
    );
    let ctx = Ctx {
        out: out.clone(),
        liftwatch,
        w,
        inflight: o.inflight,
        copy_batch: o.copy_batch.max(1),
        stall_secs: o.stall_secs,
        tck: cpu::clk_tck(),
        rows: if want('b') { phases::rows(&w) } else { Vec::new() },
    };
    let mut r = Results {
        e2e: o.settings.iter().map(|s| (*s, Vec::new())).collect(),
        embedded: o.settings.iter().map(|s| (*s, Vec::new())).collect(),
        copy: Indexes::ALL.iter().map(|i| (*i, Vec::new())).collect(),
        ..Default::default()
    };

    // Interleaved: every round runs every figure once, so drift of the noisy
    // machine spreads over all of them.
    for round in 1..=o.runs {
        eprintln!("── round {round}/{} ({:.0} s so far)", o.runs, started.elapsed().as_secs_f64());
        if want('a') {
            match phases::bare_subscriber(&ctx, &format!("sub-{round}")).await {
                Ok(s) => {
                    eprintln!(
                        "  (a) bare subscriber: {} events/s, {:.0} MB/s ({:.2} s; publisher acked in {:.2} s)",
                        fmt_rate(rate(w.events, s.secs)),
                        s.bytes as f64 / s.secs / 1e6,
                        s.secs,
                        s.publish_secs
                    );
                    r.sub.push(s);
                }
                Err(e) => r.errors.push(format!("(a) round {round}: {e:#}")),
            }
        }
        if want('b') {
            for (ix, secs) in r.copy.iter_mut() {
                match phases::bare_copy(&ctx, *ix).await {
                    Ok(s) => {
                        eprintln!("  (b) bare COPY, {}: {} rows/s ({s:.2} s)", ix.label(), fmt_rate(rate(w.events, s)));
                        secs.push(s);
                    }
                    Err(e) => r.errors.push(format!("(b) round {round} {}: {e:#}", ix.label())),
                }
            }
        }
        if want('e') {
            for (i, (g, runs)) in r.e2e.iter_mut().enumerate() {
                let tag = format!("e2e-{}-{}-{}-r{round}", g.max_events, g.max_messages, g.pool);
                match phases::end_to_end(&ctx, *g, &tag, o.perf && round == 1 && i == 0).await {
                    Ok(e) => {
                        print_run(&format!("(E) {g}"), &e);
                        runs.push(e);
                    }
                    Err(e) => r.errors.push(format!("(E) {g} round {round}: {e:#}")),
                }
            }
        }
        if want('s') {
            for (g, runs) in r.embedded.iter_mut() {
                let spool = if g.spool { "" } else { "-nospool" };
                let tag = format!("embedded-{}-{}{spool}-r{round}", g.max_events, g.max_messages);
                match embedded::end_to_end_embedded(&ctx, *g, &tag).await {
                    Ok(e) => {
                        print_run(&format!("(S) embedded, {g}"), &e);
                        runs.push(e);
                    }
                    Err(e) => r.errors.push(format!("(S) {g} round {round}: {e:#}")),
                }
            }
        }
    }
    let md = summary(&w, &r, &o, started.elapsed().as_secs_f64());
    println!("{md}");
    let path = out.join("summary.md");
    std::fs::write(&path, &md)?;
    eprintln!("summary written to {}", path.display());
    if !r.errors.is_empty() {
        bail!("{} run(s) failed", r.errors.len());
    }
    Ok(())
}

/// The median rate of the completed runs (if any), its cell, and the runs' cell.
fn e2e_cells(n: u64, runs: &[E2eRun]) -> (Option<f64>, String, String) {
    let done: Vec<f64> = runs.iter().filter(|e| e.completed).map(|e| e.secs).collect();
    let all: Vec<String> =
        runs.iter().map(|e| if e.completed { fmt_rate(rate(e.events, e.secs)) } else { describe(e) }).collect();
    if done.is_empty() {
        let pre: Vec<f64> = runs.iter().map(|e| rate(e.events, e.secs)).collect();
        (None, format!("stalled ({} before)", fmt_rate(median(&pre))), all.join("; "))
    } else {
        let e = rate(n, median(&done));
        (Some(e), format!("**{}**", fmt_rate(e)), all.join("; "))
    }
}

/// One line per E2E run, and its problems.
fn print_run(label: &str, e: &E2eRun) {
    eprintln!(
        "  {label}: {} ({:.2} s; publisher acked in {:.2} s; SIGTERM→exit {:.1} s; serve RSS peak {} MB, at the end {} MB{})",
        describe(e),
        e.secs,
        e.publish_secs,
        e.shutdown_secs,
        e.rss_kb.0 / 1024,
        e.rss_kb.1 / 1024,
        e.restart_secs.map(|s| format!("; restart on the history to ready {s:.2} s")).unwrap_or_default(),
    );
    for p in &e.problems {
        eprintln!("      ! {p}");
    }
}

/// "123.4 k events/s", or how far a stalled run got.
fn describe(e: &E2eRun) -> String {
    let r = fmt_rate(rate(e.events, e.secs));
    if e.completed {
        format!("{r} events/s")
    } else {
        format!("STALLED after {} events in {:.1} s ({r} events/s until then)", e.events, e.secs)
    }
}

fn cpu_table(runs: &[E2eRun]) -> String {
    let mut total: Vec<(String, f64)> = Vec::new();
    let (mut wall, mut busy, mut idle, mut iowait) = (0.0, 0.0, 0.0, 0.0);
    for e in runs {
        let b: &Breakdown = &e.cpu;
        wall += b.wall;
        busy += b.machine_busy;
        idle += b.machine_idle;
        iowait += b.machine_iowait;
        for (l, s) in &b.rows {
            match total.iter_mut().find(|(k, _)| k == l) {
                Some(t) => t.1 += s,
                None => total.push((l.clone(), *s)),
            }
        }
    }
    total.sort_by(|a, b| b.1.total_cmp(&a.1));
    let cores = busy + idle + iowait;
    let events: f64 = runs.iter().map(|e| e.events as f64).sum();
    let mut s = String::from(
        "| process | CPU s | cores busy | share of machine | µs CPU per event |\n| --- | ---: | ---: | ---: | ---: |\n",
    );
    for (l, c) in &total {
        s += &format!(
            "| {l} | {c:.1} | {:.2} | {:.0} % | {:.1} |\n",
            c / wall,
            100.0 * c / cores.max(1e-9),
            c / events * 1e6
        );
    }
    s += &format!(
        "| *machine busy (all CPUs)* | {busy:.1} | {:.2} | {:.0} % | {:.1} |\n\
         | *idle* / *iowait* | {idle:.1} / {iowait:.1} | | {:.0} % / {:.0} % | |\n",
        busy / wall,
        100.0 * busy / cores.max(1e-9),
        busy / events * 1e6,
        100.0 * idle / cores.max(1e-9),
        100.0 * iowait / cores.max(1e-9),
    );
    s
}

fn summary(w: &Workload, r: &Results, o: &Opts, elapsed: f64) -> String {
    let n = w.events;
    let mut s = format!(
        "## ingest_e2e: {} events ({} messages × {}, {} elevators), {} run(s) each, {:.0} s in all\n\n",
        n,
        w.messages(),
        PER_MESSAGE,
        w.active_devices(),
        o.runs,
        elapsed
    );
    s += "| figure | median | runs (events/s) |\n| --- | ---: | --- |\n";
    let sub_secs: Vec<f64> = r.sub.iter().map(|x| x.secs).collect();
    let pub_secs: Vec<f64> = r.sub.iter().map(|x| x.publish_secs).collect();
    let a = rate(n, median(&sub_secs));
    let b = rate(n, median(&r.copy[0].1));
    if !r.sub.is_empty() {
        s += &format!(
            "| (a) bare subscriber, messages/s | {} | {} |\n",
            fmt_rate(a / PER_MESSAGE as f64),
            sub_secs.iter().map(|x| fmt_rate(w.messages() as f64 / x)).collect::<Vec<_>>().join(", ")
        );
        s += &format!("| (a) bare subscriber, events/s | {} | {} |\n", fmt_rate(a), fmt_runs(n, &sub_secs));
        s += &format!(
            "| (a) publisher alone (all PUBACKs), events/s | {} | {} |\n",
            fmt_rate(rate(n, median(&pub_secs))),
            fmt_runs(n, &pub_secs)
        );
    }
    for (ix, secs) in &r.copy {
        if !secs.is_empty() {
            s += &format!(
                "| (b) bare COPY, {}, rows/s | {} | {} |\n",
                ix.label(),
                fmt_rate(rate(n, median(secs))),
                fmt_runs(n, secs)
            );
        }
    }
    let floor = match (r.sub.is_empty(), r.copy[0].1.is_empty()) {
        (false, false) => a.min(b),
        (false, true) => a,
        (true, false) => b,
        (true, true) => f64::NAN,
    };
    let mut best: Option<(GatewaySetting, f64)> = None;
    for (g, runs) in r.e2e.iter().filter(|(_, v)| !v.is_empty()) {
        let (e, med, all) = e2e_cells(n, runs);
        if let Some(e) = e.filter(|e| best.is_none_or(|(_, x)| *e > x)) {
            best = Some((*g, e));
        }
        s += &format!("| (E) end to end, {g}, events/s | {med} | {all} |\n");
    }
    let mut vs_pg = String::new();
    for ((g, runs), (_, pg)) in r.embedded.iter().zip(&r.e2e).filter(|((_, v), _)| !v.is_empty()) {
        let (e, med, all) = e2e_cells(n, runs);
        s += &format!("| (S) end to end, embedded broker and store, {g}, events/s | {med} | {all} |\n");
        if let (Some(e), (Some(p), _, _)) = (e, e2e_cells(n, pg)) {
            vs_pg += &format!(
                "Embedded / PostgreSQL end to end, {g}: {} / {} = **{:.2}**\n",
                fmt_rate(e),
                fmt_rate(p),
                e / p
            );
        }
    }
    s += "\n";
    s += &vs_pg;
    if let Some((g, e)) = best.filter(|_| floor.is_finite()) {
        s += &format!(
            "Best completed setting: {g}: E2E / min(a, b) = {} / {} = **{:.0} %** \
             (goal: ≥ 50 k events/s and ≥ 60 %)\n",
            fmt_rate(e),
            fmt_rate(floor),
            100.0 * e / floor
        );
    }
    if let Some((g0, runs)) = r.e2e.first().filter(|(_, v)| !v.is_empty()) {
        let e = median(&runs.iter().map(|e| rate(e.events, e.secs)).collect::<Vec<_>>());
        if runs.iter().any(|e| !e.completed) {
            s += &format!(
                "First setting {g0}: {} of {} runs stalled; rate until then {} = {:.0} % of min(a, b)\n",
                runs.iter().filter(|e| !e.completed).count(),
                runs.len(),
                fmt_rate(e),
                100.0 * e / floor
            );
        }
    }
    let mut shown = Vec::new();
    for (g, runs) in r
        .e2e
        .iter()
        .filter(|(g, v)| !v.is_empty() && (Some(*g) == best.map(|b| b.0) || Some(*g) == r.e2e.first().map(|f| f.0)))
    {
        if shown.contains(g) {
            continue;
        }
        shown.push(*g);
        s += &format!(
            "\nCPU during (E) with {g}, summed over {} run(s) (stalled runs: up to their last commit):\n\n{}",
            runs.len(),
            cpu_table(runs)
        );
    }
    if let Some((g, runs)) = r.embedded.first().filter(|(_, v)| !v.is_empty()) {
        s += &format!("\nCPU during (S) with {g}, summed over {} run(s):\n\n{}", runs.len(), cpu_table(runs));
    }
    let mut problems: Vec<String> = Vec::new();
    for (k, (g, runs)) in r.e2e.iter().map(|x| ("(E)", x)).chain(r.embedded.iter().map(|x| ("(S)", x))) {
        for (i, e) in runs.iter().enumerate() {
            for p in &e.problems {
                problems.push(format!("{k} {g} run {}: {p}", i + 1));
            }
        }
    }
    problems.extend(r.errors.iter().cloned());
    if problems.is_empty() {
        s += "\nNo problems: every run stored exactly N events, no dead letters, no warnings in the logs, \
              clean SIGTERM.\n";
    } else {
        s += "\nProblems:\n\n";
        for p in problems {
            s += &format!("* {p}\n");
        }
    }
    s
}
