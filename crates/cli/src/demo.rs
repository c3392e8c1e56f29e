//! `liftwatch demo`: everything in one process on a fresh machine — an
//! embedded MQTT broker on a free port, the embedded store in a fresh data
//! directory, the gateway, the rule engine, the HTTP API, and a simulated
//! fleet: six months of history published as fast as the broker takes it,
//! the last days replayed in accelerated time, then live. It never uses the
//! machine's PostgreSQL or MQTT broker, whatever the environment says.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{Days, NaiveDate};
use liftwatch_core::protocol::{to_array_payload, topic_for, DeviceCode, Event, Timestamp};
use liftwatch_sim::{Rng, Scenario};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::ServeArgs;

/// Flags of `demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// HTTP address of the API (and dashboard).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Folder of the demo's embedded store [default: a fresh folder under the system's temp dir].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Simulated elevators (split over two projects).
    #[arg(long, default_value_t = 24)]
    pub elevators: u32,
    /// Days of history before today.
    #[arg(long, default_value_t = 183)]
    pub days: u32,
    /// The last this many days are replayed in accelerated time (the rest as fast as possible).
    #[arg(long, default_value_t = 10)]
    pub accelerated_days: u32,
    /// Simulated days per minute in the accelerated part.
    #[arg(long, default_value_t = 6)]
    pub days_per_minute: u32,
}

/// Runs the demo until Ctrl-C / SIGTERM.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let listen: SocketAddr =
        args.listen.parse().with_context(|| format!("--listen {:?} is not host:port", args.listen))?;
    if args.elevators == 0 || args.days == 0 || args.days_per_minute == 0 {
        bail!("--elevators, --days and --days-per-minute must be at least 1");
    }
    // Fail early, with advice, when the HTTP port is taken.
    drop(
        std::net::TcpListener::bind(listen)
            .with_context(|| format!("cannot listen on {listen} (in use?): choose another address with --listen"))?,
    );
    let mqtt_listen = free_local_port().context("finding a free port for the embedded broker")?;
    let data_dir = args.data_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("liftwatch-demo-{}-{}", std::process::id(), Timestamp::now().unix_seconds()))
    });
    let token = liftwatch_api::auth::new_token().map_err(|e| anyhow::anyhow!(e.message))?;
    let serve_args = ServeArgs {
        data_dir: Some(data_dir.clone()),
        listen: Some(listen.to_string()),
        embedded_mqtt_listen: Some(mqtt_listen.to_string()),
        regulator_token: Some(token.clone()),
        mqtt_client_id: Some("liftwatch-demo".into()),
        rules_interval_secs: Some(10),
        ..ServeArgs::default()
    };
    let cfg =
        serve_args.resolve().map_err(|errs| anyhow::anyhow!("demo configuration:\n  - {}", errs.join("\n  - ")))?;
    let serve = tokio::spawn(crate::serve::run(cfg));
    wait_healthy(listen, &serve).await?;

    let today = Timestamp::now().local_day(liftwatch_core::DEFAULT_TIMEZONE);
    let start = today.checked_sub_days(Days::new(u64::from(args.days))).context("--days too large")?;
    let scenario = demo_scenario(args.elevators, start, args.days + 1)?;
    let devices = scenario.devices().map_err(|e| anyhow::anyhow!(e.0))?;
    let firm_token = register(listen, &token, &devices, start).await?;
    println!(
        "\nliftwatch demo\n  \
         open:            http://{listen}/\n  \
         regulator token: {token}\n  \
         firm token:      {firm_token}   (firm demo-firm: projects demo-east, demo-west)\n  \
         try:             curl -s -H 'Authorization: Bearer {token}' http://{listen}/api/v1/projects/demo-east/kpis\n  \
         data:            {}\n  \
         simulating {} elevators: {} days of history, then live. Ctrl-C stops.\n",
        data_dir.display(),
        args.elevators,
        args.days,
    );
    let publisher = tokio::spawn(simulate(scenario, mqtt_listen, today, args.accelerated_days, args.days_per_minute));
    let result = serve.await.context("the service task")?;
    publisher.abort();
    result
}

/// A port on 127.0.0.1 nobody listens on now.
fn free_local_port() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

async fn wait_healthy(listen: SocketAddr, serve: &tokio::task::JoinHandle<anyhow::Result<()>>) -> anyhow::Result<()> {
    for _ in 0..600 {
        if serve.is_finished() {
            bail!("the service stopped during start-up (see the log above)");
        }
        if let Ok((200, _)) = request(listen, "GET", "/healthz", None, None).await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the service did not answer on {listen} within a minute")
}

/// The demo fleet: residential elevators, a few faults, visits every 30 days.
fn demo_scenario(elevators: u32, start: NaiveDate, days: u32) -> anyhow::Result<Scenario> {
    let text = format!(
        "elevators = {elevators}\ndevice_prefix = \"3302010020260\"\nstart = \"{start}\"\ndays = {days}\n\
         runs_per_day = 300\nfaults_per_10k = 3.0\nstopping_share = 0.5\nentrapment_share = 0.3\n\
         power_failures_per_100_days = 1.0\nvisit_every_days = 30\ntimezone = \"Asia/Shanghai\"\nseed = 7\n"
    );
    Scenario::from_toml(&text).context("demo scenario")
}

/// Registers the demo firm and its two projects through the HTTP API, as a
/// regulator would; returns the firm's token.
async fn register(listen: SocketAddr, token: &str, devices: &[DeviceCode], start: NaiveDate) -> anyhow::Result<String> {
    let firm = r#"{"name":"Demo Lift Maintenance Co.","grade":"A","self_declaration_url":"https://example.org/declaration.pdf"}"#;
    let (code, body) = request(listen, "PUT", "/api/v1/firms/demo-firm", Some(token), Some(firm)).await?;
    if !(200..300).contains(&code) {
        bail!("registering the demo firm: {code} {body}");
    }
    let firm_token = match serde_json::from_str::<serde_json::Value>(&body)?["token"].as_str() {
        Some(t) => t.to_owned(),
        None => {
            let (_, b) = request(listen, "POST", "/api/v1/firms/demo-firm/token", Some(token), None).await?;
            serde_json::from_str::<serde_json::Value>(&b)?["token"].as_str().unwrap_or_default().to_owned()
        }
    };
    let half = devices.len().div_ceil(2);
    for (id, name, mode, devs) in [
        ("demo-east", "East Garden (residential)", "iot", &devices[..half]),
        ("demo-west", "West Plaza (residential)", "remote", &devices[half..]),
    ] {
        let project = serde_json::json!({
            "name": name, "firm_id": "demo-firm", "owner": "Demo Property Management", "mode": mode,
            "admitted_on": start.to_string(), "region": "dinghai",
            "commitment": {"fault_rate_per_10k": 5.0, "downtime_minutes": 60, "rescue_minutes": 20},
            "insurer": "Demo Insurance", "insured_from": start.to_string(),
            "insured_until": start.checked_add_months(chrono::Months::new(36)).unwrap_or(start).to_string(),
            "elevators": devs.iter().enumerate().map(|(i, d)| serde_json::json!({
                "device_code": d.as_str(), "kind": "traction", "location": format!("Building {}", i + 1)})).collect::<Vec<_>>(),
        });
        let (code, body) =
            request(listen, "PUT", &format!("/api/v1/projects/{id}"), Some(token), Some(&project.to_string())).await?;
        if !(200..300).contains(&code) {
            bail!("registering demo project {id}: {code} {body}");
        }
    }
    Ok(firm_token)
}

/// Publishes the scenario: past days as fast as the broker takes them, the
/// last `accelerated` days at `per_minute` a minute, then today's events as
/// their time comes.
async fn simulate(scenario: Scenario, mqtt: SocketAddr, today: NaiveDate, accelerated: u32, per_minute: u32) {
    let mut o = MqttOptions::new("liftwatch-demo-fleet", mqtt.ip().to_string(), mqtt.port());
    o.set_keep_alive(Duration::from_secs(30)).set_max_packet_size(1 << 20, 1 << 20).set_inflight(100);
    let (client, mut eventloop) = AsyncClient::new(o, 100);
    tokio::spawn(async move {
        loop {
            if eventloop.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    });
    let Ok(devices) = scenario.devices() else { return };
    let mut rngs: Vec<Rng> = (0..devices.len()).map(|i| Rng::new(scenario.seed ^ (i as u64 + 1) << 20)).collect();
    let mut seqs = vec![0u64; devices.len()];
    let fast_until = today.checked_sub_days(Days::new(u64::from(accelerated))).unwrap_or(today);
    let pause = Duration::from_secs(60) / per_minute.max(1);
    let mut day = scenario.start;
    while day <= today {
        let mut pending: Vec<Event> = Vec::new();
        for (i, d) in devices.iter().enumerate() {
            if let Ok(evs) = scenario.day_events(*d, day, &mut seqs[i], &mut rngs[i]) {
                pending.extend(evs);
            }
        }
        if day < today {
            publish(&client, &pending).await;
            if day >= fast_until {
                tokio::time::sleep(pause).await;
            }
        } else {
            // Today: each event once its time has come (the protocol refuses the future).
            pending.sort_by_key(|e| e.ts);
            while !pending.is_empty() {
                let now = Timestamp::now();
                let due = pending.partition_point(|e| e.ts <= now);
                let rest = pending.split_off(due);
                publish(&client, &pending).await;
                pending = rest;
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
        day = day.succ_opt().unwrap_or(day);
        if day == scenario.start {
            break;
        }
    }
}

/// Publishes events as boxes do: per device, arrays of up to 100, QoS 1.
async fn publish(client: &AsyncClient, events: &[Event]) {
    let mut by: std::collections::BTreeMap<DeviceCode, Vec<&Event>> = Default::default();
    for e in events {
        by.entry(e.device).or_default().push(e);
    }
    for (d, evs) in by {
        for c in evs.chunks(100) {
            let payload = to_array_payload(c.iter().copied());
            if client.publish(topic_for(&d), QoS::AtLeastOnce, false, payload).await.is_err() {
                return;
            }
        }
    }
}

/// A minimal HTTP/1.1 request on loopback: `(status, body)`.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> anyhow::Result<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
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
