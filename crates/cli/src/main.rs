//! `liftwatch`: supervises elevator on-demand maintenance quality from live
//! telemetry. Subcommands appear here as they work.

mod config;
mod demo;
mod embedded_broker;
mod serve;

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use liftwatch_core::protocol::{decode_message, Timestamp, FAULT_TABLE};
use liftwatch_store::dead_letters::DeadLetterFilter;

/// Supervises elevator "on-demand maintenance" pilot projects from live telemetry:
/// decodes protocol-v1 events from monitoring boxes, keeps the mandated KPIs
/// (equipment faults per 10,000 runs, mean downtime, mean rescue time over 6 months)
/// and flags projects that must be rectified or leave the pilot.
#[derive(Parser, Debug)]
#[command(name = "liftwatch", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the service: subscribe to the broker, store every event exactly once,
    /// keep the KPIs current, serve the HTTP API (/api/v1, OpenAPI at
    /// /api/v1/openapi.json), /metrics, /healthz and /readyz. Applies pending
    /// database migrations at start. Stops cleanly on SIGTERM.
    Serve(config::ServeArgs),
    /// Everything in one process, on nothing but this binary: an embedded MQTT broker, the
    /// embedded store in a fresh folder, the gateway, the rule engine, the HTTP API and a
    /// simulated fleet (six months of history, then live). Prints the URL and tokens.
    /// Never uses the machine's PostgreSQL or broker. Ctrl-C stops it.
    Demo(demo::DemoArgs),
    /// Publish a simulated fleet's telemetry to a broker (the same as the `liftwatch-sim`
    /// binary): a scenario file (simulators/scenarios/), pacing, the project body to register,
    /// and the ground truth (the KPIs the scenario generates, docs/simulator.md).
    Simulate(liftwatch_sim::cli::SimArgs),
    /// Apply pending database migrations and exit.
    Migrate(config::ServeArgs),
    /// List or replay dead letters (rejected payloads kept with their reason).
    #[command(subcommand)]
    DeadLetters(DeadLetterCmd),
    /// Decode and validate one protocol-v1 payload (a file, or stdin) as the gateway
    /// would: prints the accepted events as JSON lines and every rejection with its reason.
    /// Exits 1 when anything was rejected.
    Decode {
        /// The MQTT topic the payload was (or would be) published on,
        /// e.g. lift/v1/31103302002018120001/events.
        #[arg(long)]
        topic: String,
        /// File holding the payload; stdin when absent.
        file: Option<PathBuf>,
    },
    /// Print the protocol-v1 fault-code table (name, GB/T 24476 number, default cause, grade).
    FaultCodes,
}

#[derive(Subcommand, Debug)]
enum DeadLetterCmd {
    /// Print pending dead letters as JSON lines, oldest first.
    List {
        #[command(flatten)]
        serve: config::ServeArgs,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Decode the pending dead letters again and store what is now valid (e.g. after the
    /// device was registered). Events already stored stay counted once.
    Replay {
        #[command(flatten)]
        serve: config::ServeArgs,
        #[command(flatten)]
        filter: FilterArgs,
    },
}

#[derive(clap::Args, Debug)]
struct FilterArgs {
    /// Only this reason code (e.g. unknown_device).
    #[arg(long)]
    reason: Option<String>,
    /// Only this device code.
    #[arg(long)]
    device: Option<String>,
    /// At most this many [default: 100 for list, 1000 for replay].
    #[arg(long)]
    limit: Option<i64>,
}

impl FilterArgs {
    fn filter(self) -> DeadLetterFilter {
        DeadLetterFilter { reason_code: self.reason, device: self.device, limit: self.limit, since: None, until: None }
    }
}

fn resolve(args: config::ServeArgs) -> anyhow::Result<config::Config> {
    args.resolve().map_err(|errs| anyhow::anyhow!("invalid configuration:\n  - {}", errs.join("\n  - ")))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LIFTWATCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let cfg = resolve(args)?;
            runtime()?.block_on(serve::run(cfg))?;
        }
        Command::Demo(args) => {
            runtime()?.block_on(demo::run(args))?;
        }
        Command::Simulate(args) => {
            runtime()?.block_on(liftwatch_sim::cli::run(args))?;
        }
        Command::Migrate(args) => {
            let cfg = resolve(args)?;
            runtime()?.block_on(serve::open_any(&cfg))?;
        }
        Command::DeadLetters(DeadLetterCmd::List { serve, filter }) => {
            let cfg = resolve(serve)?;
            runtime()?.block_on(async {
                let store = serve::open_any(&cfg).await?;
                for d in store.dead_letters(&filter.filter()).await? {
                    println!("{}", serde_json::to_string(&d)?);
                }
                anyhow::Ok(())
            })?;
        }
        Command::DeadLetters(DeadLetterCmd::Replay { serve, filter }) => {
            let cfg = resolve(serve)?;
            runtime()?.block_on(async {
                let store = serve::open_any(&cfg).await?;
                let r = store.replay_dead_letters(&filter.filter(), Timestamp::now()).await?;
                println!(
                    "replayed {} dead letters: {} new events, {} duplicates, {} still rejected",
                    r.replayed,
                    r.ingest.new_events,
                    r.ingest.duplicates,
                    r.ingest.dead_letters.len()
                );
                anyhow::Ok(())
            })?;
        }
        Command::Decode { topic, file } => {
            let mut payload = Vec::new();
            match file {
                Some(p) => payload = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
                None => {
                    std::io::stdin().read_to_end(&mut payload).context("reading stdin")?;
                }
            }
            let d = decode_message(&topic, &payload, Timestamp::now());
            for e in &d.events {
                println!("{}", liftwatch_core::protocol::to_payload(e));
            }
            for r in &d.rejects {
                let at = r.index.map_or_else(|| "payload".to_owned(), |i| format!("event #{i}"));
                eprintln!("rejected {at} [{}]: {}", r.reason.code(), r.reason);
            }
            if !d.rejects.is_empty() {
                std::process::exit(1);
            }
        }
        Command::FaultCodes => {
            println!("{:<28} {:>4}  {:<10} {:>5}  中文", "code", "GB/T", "cause", "grade");
            for f in FAULT_TABLE {
                let n = f.gbt.map_or_else(String::new, |n| format!("{n:02}"));
                println!("{:<28} {:>4}  {:<10} {:>5}  {}", f.name, n, f.default_cause, f.grade, f.zh);
            }
        }
    }
    Ok(())
}
