//! The simulator's command line, shared by the `liftwatch-sim` binary and
//! `liftwatch simulate` (one code base): publishes a simulated fleet's
//! telemetry over MQTT (QoS 1), as the monitoring boxes would, can print the
//! registration of the fleet as a project body for `PUT /api/v1/projects/{id}`,
//! and writes the ground truth (the KPIs the scenario generates).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};

use crate::Scenario;

/// Messages per second the simulator publishes by default.
pub const DEFAULT_RATE: u32 = 500;

/// Flags of the simulator.
#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Scenario file (TOML, keys of `Scenario`; see simulators/scenarios/).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Broker host.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Broker port.
    #[arg(long, default_value_t = 1883)]
    pub port: u16,
    /// Prefix before lift/v1/… (must match the service's --mqtt-topic-prefix).
    #[arg(long, default_value = "")]
    pub topic_prefix: String,
    /// Events per MQTT message (1–1000).
    #[arg(long, default_value_t = 100)]
    pub per_message: usize,
    /// Messages per second (0: as fast as the broker takes them). Paced by
    /// default: a stock broker (Mosquitto, EMQX) queues at most 1,000 QoS 1
    /// messages per subscriber and drops the rest, so an unpaced burst can
    /// outrun any subscriber that makes its messages durable first.
    #[arg(long, default_value_t = DEFAULT_RATE)]
    pub rate: u32,
    /// Accelerated time: publish this many simulated days a minute (overrides --rate;
    /// 0: off). Without it, a backfill (paced by --rate, or as fast as the broker takes it).
    #[arg(long, default_value_t = 0)]
    pub days_per_minute: u32,
    /// Print the fleet as a `PUT /api/v1/projects/{id}` body for this firm and exit.
    #[arg(long, value_name = "FIRM_ID")]
    pub print_project: Option<String>,
    /// Write the scenario's ground truth (the KPIs it generates per project
    /// and window, docs/simulator.md) to this JSON file and exit; the same
    /// scenario publishes exactly these events.
    #[arg(long, value_name = "FILE")]
    pub ground_truth: Option<PathBuf>,
    /// Box faults on demand (offline buffering, duplicates, malformed payloads).
    #[command(flatten)]
    pub faults: crate::faults::BoxFaults,
}

/// Runs the simulator with `args`.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let scenario: Scenario = match &args.scenario {
        Some(p) => {
            Scenario::from_toml(&std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
                .with_context(|| format!("scenario {}", p.display()))?
        }
        None => Scenario::default(),
    };
    anyhow::ensure!((1..=1000).contains(&args.per_message), "--per-message must be 1 to 1000");
    let devices = scenario.devices()?;
    if let Some(firm) = args.print_project {
        anyhow::ensure!(
            scenario.projects.is_empty(),
            "--print-project registers the whole fleet as one project; this scenario splits it into projects \
             ({}): register those with their elevators from --ground-truth",
            scenario.projects.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
        );
        // Insured from the start for three years: admission needs every
        // elevator insured (A1 §I.(一).2).
        let insured_until = scenario.start.checked_add_months(chrono::Months::new(36)).unwrap_or(scenario.start);
        let body = serde_json::json!({
            "name": "Simulated fleet", "firm_id": firm, "owner": "Simulated owner", "mode": "iot",
            "admitted_on": scenario.start.to_string(),
            "insurer": "Simulated insurer", "insured_from": scenario.start.to_string(),
            "insured_until": insured_until.to_string(),
            "commitment": {"fault_rate_per_10k": 5.0, "downtime_minutes": 60, "rescue_minutes": 20},
            "elevators": devices.iter().map(|d| serde_json::json!({"device_code": d.as_str(), "kind": "traction"})).collect::<Vec<_>>(),
        });
        println!("{body}");
        return Ok(());
    }
    if let Some(file) = args.ground_truth {
        let truth = scenario.ground_truth()?.to_json();
        std::fs::write(&file, serde_json::to_string_pretty(&truth)? + "\n")
            .with_context(|| format!("writing {}", file.display()))?;
        eprintln!("ground truth written to {}", file.display());
        return Ok(());
    }
    let mut o = MqttOptions::new(format!("liftwatch-sim-{}", std::process::id()), &args.host, args.port);
    o.set_keep_alive(Duration::from_secs(30)).set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut el) = AsyncClient::new(o, 1000);
    args.faults.check().map_err(anyhow::Error::msg)?;
    let mut days = Vec::new();
    let mut events = 0usize;
    scenario.for_each_day(|_, evs| {
        events += evs.len();
        days.push(evs);
    })?;
    let plan = crate::faults::plan(days, args.per_message, &args.topic_prefix, &args.faults, scenario.seed);
    if plan.duplicates + plan.malformed + plan.offline_boxes > 0 {
        eprintln!(
            "box faults: {} boxes offline (replayed late in arrays of up to {}), {} duplicate messages, {} malformed messages",
            plan.offline_boxes,
            crate::faults::REPLAY_ARRAY,
            plan.duplicates,
            plan.malformed
        );
    }
    let payloads = plan.messages;
    let total = payloads.len();
    let every = message_interval(total, scenario.days, args.rate, args.days_per_minute);
    let pace = match (every, args.days_per_minute) {
        (None, _) => String::from("as fast as the broker takes them"),
        (Some(_), n) if n > 0 => format!("accelerated: {n} simulated days a minute"),
        (Some(d), _) => format!("{} messages/s, about {} s", args.rate, (d * total as u32).as_secs()),
    };
    eprintln!("publishing {events} events in {total} messages for {} elevators ({pace})", devices.len());
    // Drawn only when stderr is a terminal.
    let bar = indicatif::ProgressBar::new(total as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} messages acknowledged, {per_sec}, ETA {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let sender = tokio::spawn(async move {
        let mut tick = every.map(|d| {
            let mut i = tokio::time::interval(d);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            i
        });
        for (t, p) in payloads {
            if let Some(i) = tick.as_mut() {
                i.tick().await;
            }
            client.publish(t, QoS::AtLeastOnce, false, p).await?;
        }
        anyhow::Ok(client)
    });
    let mut acked = 0;
    while acked < total {
        match el.poll().await {
            Ok(MqttEvent::Incoming(Packet::PubAck(_))) => {
                acked += 1;
                bar.inc(1);
            }
            Ok(_) => {}
            Err(e) => anyhow::bail!("broker connection failed after {acked} of {total} messages: {e}"),
        }
    }
    let client = sender.await??;
    client.disconnect().await?;
    bar.finish_and_clear();
    eprintln!("done: {total} messages acknowledged by the broker");
    Ok(())
}

/// The pause between two messages: accelerated time spreads the messages of
/// `days` simulated days over `days / days_per_minute` minutes; otherwise
/// `rate` messages a second; `None`: as fast as the broker takes them.
pub fn message_interval(total: usize, days: u32, rate: u32, days_per_minute: u32) -> Option<Duration> {
    if days_per_minute > 0 && total > 0 {
        let wall = 60.0 * f64::from(days) / f64::from(days_per_minute);
        return Some(Duration::from_secs_f64(wall / total as f64));
    }
    (rate > 0).then(|| Duration::from_secs_f64(1.0 / f64::from(rate)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accelerated_time_spreads_the_days_over_their_minutes_and_rate_paces_a_backfill() {
        // 180 days at 60 a minute: 3 minutes for 18,000 messages → 10 ms apart.
        assert_eq!(message_interval(18_000, 180, 500, 60), Some(Duration::from_millis(10)));
        assert_eq!(message_interval(1000, 10, 500, 0), Some(Duration::from_millis(2)));
        assert_eq!(message_interval(1000, 10, 0, 0), None, "as fast as the broker takes them");
        assert_eq!(message_interval(0, 10, 0, 6), None);
    }
}
