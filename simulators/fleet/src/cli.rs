//! The simulator's command line, shared by the `liftwatch-sim` binary and
//! `liftwatch simulate` (one code base): publishes a simulated fleet's
//! telemetry over MQTT (QoS 1), as the monitoring boxes would, can print the
//! registration of the fleet as a project body for `PUT /api/v1/projects/{id}`,
//! writes the ground truth (the KPIs the scenario generates) and the remote
//! checks its firms record. Three paces: a backfill (paced by `--rate`, or as
//! fast as the broker takes it), accelerated time (`--days-per-minute`), and
//! live time (`--live`: the scenario starts today, each event sent when its
//! time comes).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};

use crate::faults::Message;
use crate::Scenario;
use liftwatch_core::protocol::Timestamp;
use liftwatch_core::registry::ProjectMode;

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
    /// Live time: the scenario starts today (its zone's local day) and each
    /// event is sent when its time comes, one event a message (what happened
    /// earlier today at once); with --ground-truth, the truth of that start.
    #[arg(long, conflicts_with = "days_per_minute")]
    pub live: bool,
    /// Print the fleet as a `PUT /api/v1/projects/{id}` body for this firm and exit.
    #[arg(long, value_name = "FIRM_ID")]
    pub print_project: Option<String>,
    /// Write the scenario's ground truth (the KPIs it generates per project
    /// and window, docs/simulator.md) to this JSON file and exit; the same
    /// scenario publishes exactly these events.
    #[arg(long, value_name = "FILE")]
    pub ground_truth: Option<PathBuf>,
    /// Write the remote checks the projects' firms record (JSON Lines:
    /// `{"device_code": …, "body": …}`, the body for `POST
    /// /api/v1/elevators/{device_code}/visits`) to this file and exit; with
    /// --ground-truth, both.
    #[arg(long, value_name = "FILE")]
    pub visits: Option<PathBuf>,
    /// Also record the remote checks with the service at this address
    /// (`http://host:port`), as the firms do: after the telemetry in a
    /// backfill or accelerated time, each when it ends in live time.
    #[arg(long, value_name = "URL", requires = "token")]
    pub post_visits: Option<String>,
    /// Bearer token for --post-visits (the firm's, or a regulator's).
    #[arg(long, env = "LIFTWATCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Box faults on demand (offline buffering, duplicates, malformed payloads, clock skew, silent boxes).
    #[command(flatten)]
    pub faults: crate::faults::BoxFaults,
}

/// Runs the simulator with `args`.
pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let mut scenario: Scenario = match &args.scenario {
        Some(p) => {
            Scenario::from_toml(&std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
                .with_context(|| format!("scenario {}", p.display()))?
        }
        None => Scenario::default(),
    };
    anyhow::ensure!((1..=1000).contains(&args.per_message), "--per-message must be 1 to 1000");
    args.faults.check().map_err(anyhow::Error::msg)?;
    if args.live {
        scenario.start = Timestamp::now().local_day(scenario.tz()?);
    }
    let devices = scenario.devices()?;
    if let Some(firm) = args.print_project {
        anyhow::ensure!(
            scenario.projects.len() <= 1,
            "--print-project registers the whole fleet as one project; this scenario splits it into projects \
             ({}): register those with their elevators from --ground-truth",
            scenario.projects.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ")
        );
        let mode = scenario.projects.first().and_then(|p| p.mode).unwrap_or(ProjectMode::Iot);
        // Insured from the start for three years: admission needs every
        // elevator insured (A1 §I.(一).2).
        let insured_until = scenario.start.checked_add_months(chrono::Months::new(36)).unwrap_or(scenario.start);
        let body = serde_json::json!({
            "name": "Simulated fleet", "firm_id": firm, "owner": "Simulated owner", "mode": mode.as_str(),
            "admitted_on": scenario.start.to_string(),
            "insurer": "Simulated insurer", "insured_from": scenario.start.to_string(),
            "insured_until": insured_until.to_string(),
            "commitment": {"fault_rate_per_10k": 5.0, "downtime_minutes": 60, "rescue_minutes": 20},
            "elevators": devices.iter().map(|d| serde_json::json!({"device_code": d.as_str(), "kind": "traction"})).collect::<Vec<_>>(),
        });
        println!("{body}");
        return Ok(());
    }
    if args.ground_truth.is_some() || args.visits.is_some() {
        if let Some(file) = &args.ground_truth {
            let truth = scenario.ground_truth_with(&args.faults)?.to_json();
            std::fs::write(file, serde_json::to_string_pretty(&truth)? + "\n")
                .with_context(|| format!("writing {}", file.display()))?;
            eprintln!("ground truth written to {}", file.display());
        }
        if let Some(file) = &args.visits {
            let mut lines = String::new();
            let mut n = 0;
            scenario.generate(&args.faults, |_, fleet| {
                for c in fleet.iter().flat_map(|b| &b.remote_checks) {
                    n += 1;
                    let line = serde_json::json!({"device_code": c.device_code, "body": c});
                    lines += &(line.to_string() + "\n");
                }
            })?;
            std::fs::write(file, lines).with_context(|| format!("writing {}", file.display()))?;
            eprintln!("{n} remote checks written to {}", file.display());
        }
        return Ok(());
    }
    let mut o = MqttOptions::new(format!("liftwatch-sim-{}", std::process::id()), &args.host, args.port);
    o.set_keep_alive(Duration::from_secs(30)).set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut el) = AsyncClient::new(o, 1000);
    let plans = scenario.plans(&args.faults)?;
    let skew = plans.iter().map(|p| (p.device, p.skew_us)).collect();
    let mut days = Vec::new();
    let mut events = 0usize;
    let mut checks = Vec::new();
    scenario.generate(&args.faults, |_, fleet| {
        let mut sent = Vec::new();
        for b in fleet {
            checks.extend(b.remote_checks);
            if !b.silent {
                sent.extend(b.events);
            }
        }
        events += sent.len();
        days.push(sent);
    })?;
    // Remote checks to record: in live time alongside the telemetry, else after it.
    let mut poster = match &args.post_visits {
        Some(url) => {
            let addr = visits_address(url)?;
            let token = args.token.clone().unwrap_or_default();
            eprintln!("recording {} remote checks with {url}", checks.len());
            checks.sort_by_key(|c| c.ended_at);
            Some(record_visits(addr, token, checks, args.live))
        }
        None => None,
    };
    let live_poster = if args.live { poster.take().map(tokio::spawn) } else { None };
    let per_message = if args.live { 1 } else { args.per_message };
    let plan = crate::faults::plan(days, per_message, &args.topic_prefix, &args.faults, scenario.seed, &skew);
    let skewed = plans.iter().filter(|p| p.skew_us != 0).count();
    let silent = plans.iter().filter(|p| p.silent.is_some()).count();
    if plan.duplicates + plan.malformed + plan.offline_boxes + skewed + silent > 0 {
        eprintln!(
            "box faults: {} boxes offline (replayed late in arrays of up to {}), {} duplicate messages, {} malformed messages, \
             {skewed} boxes with a clock {} s off, {silent} boxes silent for {} days",
            plan.offline_boxes,
            crate::faults::REPLAY_ARRAY,
            plan.duplicates,
            plan.malformed,
            args.faults.clock_skew_seconds,
            args.faults.silent_days,
        );
    }
    if args.live && skewed > 0 && args.faults.clock_skew_seconds > 300 {
        eprintln!(
            "warning: in live time a box {} s ahead sends events more than 5 minutes in the future: \
             the service refuses them (protocol v1), so the ground truth will not be met",
            args.faults.clock_skew_seconds
        );
    }
    let total = plan.messages.len();
    let (schedule, pace) = if args.live {
        let s = live_schedule(plan.messages, Timestamp::now());
        (s, format!("live time from {}, one event a message", scenario.start))
    } else {
        let every = message_interval(total, scenario.days, args.rate, args.days_per_minute);
        let pace = match (every, args.days_per_minute) {
            (None, _) => String::from("as fast as the broker takes them"),
            (Some(_), n) if n > 0 => format!("accelerated: {n} simulated days a minute"),
            (Some(d), _) => format!("{} messages/s, about {} s", args.rate, (d * total as u32).as_secs()),
        };
        let every = every.unwrap_or_default();
        (plan.messages.into_iter().enumerate().map(|(i, m)| (every * i as u32, m)).collect(), pace)
    };
    eprintln!("publishing {events} events in {total} messages for {} elevators ({pace})", devices.len());
    // Drawn only when stderr is a terminal.
    let bar = indicatif::ProgressBar::new(total as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} messages acknowledged, {per_sec}, ETA {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let sender = tokio::spawn(async move {
        let t0 = tokio::time::Instant::now();
        for (after, m) in schedule {
            if !after.is_zero() {
                tokio::time::sleep_until(t0 + after).await;
            }
            client.publish(m.topic, QoS::AtLeastOnce, false, m.payload).await?;
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
    match (poster, live_poster) {
        (Some(p), _) => p.await?,
        (None, Some(p)) => p.await??,
        (None, None) => {}
    }
    Ok(())
}

/// Records the remote checks with the service (`POST …/visits`), in
/// order; in live time each when it ends (the API refuses times ahead of
/// its clock).
async fn record_visits(addr: String, token: String, checks: Vec<crate::RemoteCheck>, live: bool) -> anyhow::Result<()> {
    let n = checks.len();
    for c in checks {
        if live {
            let wait = u64::try_from(c.ended_at.0 - Timestamp::now().0).unwrap_or(0);
            tokio::time::sleep(Duration::from_micros(wait)).await;
        }
        let path = format!("/api/v1/elevators/{}/visits", c.device_code);
        let (code, body) = post(&addr, &path, &token, &serde_json::to_string(&c)?).await?;
        anyhow::ensure!(code == 201, "POST {path}: {code} {body}");
    }
    eprintln!("done: {n} remote checks recorded");
    Ok(())
}

/// `host:port` of an `http://host:port` address (the service's API; TLS
/// is the job of a proxy in front of it).
fn visits_address(url: &str) -> anyhow::Result<String> {
    let rest =
        url.strip_prefix("http://").with_context(|| format!("--post-visits {url:?} must be http://host:port"))?;
    let host = rest.trim_end_matches('/');
    anyhow::ensure!(!host.is_empty() && !host.contains('/'), "--post-visits {url:?} must be http://host:port");
    Ok(host.to_owned())
}

/// A minimal HTTP/1.1 POST with a bearer token: `(status, body)`.
async fn post(addr: &str, path: &str, token: &str, body: &str) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    let text = String::from_utf8_lossy(&out);
    let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).context("no HTTP status")?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((code, body))
}

/// Live time: each message with how long after `now` it is sent — when its
/// `due` comes, at once if it is past — in the order they are sent (by
/// `due`; messages due together keep their order, so a duplicate follows
/// its original and a malformed message stays beside its real one).
pub fn live_schedule(mut messages: Vec<Message>, now: Timestamp) -> Vec<(Duration, Message)> {
    messages.sort_by_key(|m| m.due);
    messages.into_iter().map(|m| (Duration::from_micros(u64::try_from(m.due.0 - now.0).unwrap_or(0)), m)).collect()
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

    /// Live time: what is due by now goes at once, the rest when its time
    /// comes, in the order of their times (ties keep the plan's order).
    #[test]
    fn live_time_sends_each_message_when_its_time_comes() {
        let m = |payload: &str, due: i64| Message { topic: "t".into(), payload: payload.into(), due: Timestamp(due) };
        let now = Timestamp(1_000_000_000);
        let plan =
            vec![m("later", now.0 + 90_000_000), m("past", now.0 - 5), m("soon", now.0 + 1), m("dup", now.0 + 1)];
        let s: Vec<(Duration, String)> = live_schedule(plan, now).into_iter().map(|(d, m)| (d, m.payload)).collect();
        let want = [(0, "past"), (1, "soon"), (1, "dup"), (90_000_000, "later")];
        assert_eq!(s, want.map(|(us, p)| (Duration::from_micros(us), p.to_owned())));
    }

    /// `--live` starts the scenario today: the ground truth it writes is
    /// the one of today's start, and the skewed and silent boxes are in it.
    #[test]
    fn live_ground_truth_starts_today_with_the_box_faults() {
        let dir = std::env::temp_dir().join(format!("lw-sim-live-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("truth.json");
        let faults = crate::faults::BoxFaults {
            clock_skew_share: 1.0,
            clock_skew_seconds: 90,
            silent_share: 1.0,
            silent_days: 1,
            ..Default::default()
        };
        let args = SimArgs {
            scenario: None,
            host: "127.0.0.1".into(),
            port: 9,
            topic_prefix: String::new(),
            per_message: 100,
            rate: 0,
            days_per_minute: 0,
            live: true,
            print_project: None,
            ground_truth: Some(file.clone()),
            visits: None,
            post_visits: None,
            token: None,
            faults,
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(args)).unwrap();
        let truth: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let s = Scenario::default();
        let today = Timestamp::now().local_day(s.tz().unwrap());
        // Written just now: the day may have turned between the two reads.
        let start: chrono::NaiveDate = truth["start"].as_str().unwrap().parse().unwrap();
        assert!(start == today || start.succ_opt() == Some(today), "{start} {today}");
        let want = Scenario { start, ..s }.ground_truth_with(&faults).unwrap().to_json();
        assert_eq!(truth, want);
        assert_eq!(truth["projects"][0]["skewed_boxes"].as_array().unwrap().len(), 10);
        assert_eq!(truth["projects"][0]["silent_boxes"].as_array().unwrap().len(), 10);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
