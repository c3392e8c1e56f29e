//! `liftwatch`: supervises elevator on-demand maintenance quality from live
//! telemetry. Subcommands appear here as they work.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use liftwatch_core::protocol::{decode_message, Timestamp, FAULT_TABLE};

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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
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
