//! `liftwatch-sim`: the simulated fleet (`liftwatch_sim::cli`; the same as
//! `liftwatch simulate`).

use clap::Parser;

/// Simulated elevator fleet publishing protocol-v1 telemetry.
#[derive(Parser, Debug)]
#[command(name = "liftwatch-sim", version, about)]
struct Cli {
    #[command(flatten)]
    args: liftwatch_sim::cli::SimArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    liftwatch_sim::cli::run(Cli::parse().args).await
}
