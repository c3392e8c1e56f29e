//! What the store and HTTP benchmarks (`kpi_query`, `overview`, `engine`)
//! share: registering a firm's project of N elevators, percentiles, and
//! timing GET requests on a release `liftwatch serve` once its rule engine
//! has finished its first evaluation.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::NaiveDate;
use liftwatch_core::protocol::DeviceCode;
use liftwatch_core::registry::{ElevatorSpec, Firm, GradeLetter, ProjectMode, ProjectSpec};
use liftwatch_store::prelude::Registry;
use liftwatch_testkit::free_port;
use liftwatch_testkit::procs::{http, Service};

/// The `p` quantile of `v` (sorted in place), nearest rank.
pub fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// A `YYYY-MM-DD` day.
pub fn day(s: &str) -> anyhow::Result<NaiveDate> {
    Ok(s.parse::<NaiveDate>()?)
}

/// Firm `id`, grade A with its self-declaration published.
pub async fn put_firm(store: &impl Registry, id: &str) -> anyhow::Result<()> {
    store
        .put_firm(&Firm {
            id: id.into(),
            name: format!("Firm {id}"),
            grade: GradeLetter::A,
            self_declaration_url: Some(format!("https://example.org/{id}/declaration.pdf")),
        })
        .await?;
    Ok(())
}

/// Project `id` of `firm`, admitted and registered on 2026-01-01, of the
/// elevators numbered `devices` (device codes `3110330200201` + 7 digits),
/// insured until `insured_until`.
pub async fn put_project(
    store: &impl Registry,
    id: &str,
    firm: &str,
    devices: std::ops::Range<u32>,
    insured_until: Option<NaiveDate>,
) -> anyhow::Result<()> {
    let elevators = devices
        .map(|i| {
            Ok(ElevatorSpec {
                device_code: DeviceCode::parse(&format!("3110330200201{i:07}"))?,
                kind: "traction".into(),
                location: String::new(),
                insured_until,
                since: None,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let spec = ProjectSpec {
        id: id.into(),
        name: format!("Project {id}"),
        firm_id: firm.into(),
        owner: String::new(),
        mode: ProjectMode::Iot,
        admitted_on: day("2026-01-01")?,
        commitment: None,
        elevators,
        pilot_form: Default::default(),
    };
    store.put_project(&spec, day("2026-01-01")?).await?;
    Ok(())
}

/// The release `liftwatch` beside the running benchmark, if built.
pub fn liftwatch_bin() -> Option<PathBuf> {
    let bin = std::env::current_exe().ok()?.with_file_name("liftwatch");
    bin.exists().then_some(bin)
}

/// What [`time_gets`] measured.
pub struct Timed {
    /// Milliseconds per request.
    pub ms: Vec<f64>,
    /// Bytes of the last answer's body.
    pub bytes: usize,
}

/// Starts `liftwatch serve` (`bin`) with `store_args` and `token` as the
/// regulator's, waits for the rule engine's first evaluation (it competes
/// for the cores: a request timed during it measures the engine), then
/// times `repeats` GETs of `path`. `None` when the evaluation outlasts 300 s.
pub async fn time_gets(
    label: &str,
    bin: &Path,
    store_args: &[String],
    token: &str,
    path: &str,
    repeats: usize,
) -> anyhow::Result<Option<Timed>> {
    let port = free_port();
    let mut args: Vec<String> = ["serve", "--listen", &format!("127.0.0.1:{port}"), "--regulator-token", token]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    args.extend(["--embedded-mqtt-listen".to_owned(), format!("127.0.0.1:{}", free_port())]);
    args.extend(store_args.iter().cloned());
    let log = std::env::temp_dir().join(format!("lw-bench-serve-{port}.log"));
    let mut svc =
        Service::try_start(bin, args, port, Some(log.clone()), "info").await.context("starting liftwatch serve")?;
    let t = Instant::now();
    let mut evaluated = true;
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("rules evaluated") {
        if t.elapsed() > Duration::from_secs(300) {
            evaluated = false;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut timed = None;
    if evaluated {
        println!(
            "{label}: the rule engine's first evaluation done {:.1} s after serve was ready",
            t.elapsed().as_secs_f64()
        );
        let (mut ms, mut bytes) = (Vec::new(), 0);
        for _ in 0..repeats {
            let t = Instant::now();
            let answer = http(port, "GET", path, Some(token), None).context("no HTTP answer");
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            let (code, body) = answer?;
            if code != 200 {
                bail!("HTTP {code}: {body}");
            }
            bytes = body.len();
        }
        timed = Some(Timed { ms, bytes });
    } else {
        println!("{label}: not timed through HTTP: the rule engine's first evaluation still runs after 300 s");
    }
    let _ = svc.terminate_within(Duration::from_secs(10)).await;
    let _ = std::fs::remove_file(&log);
    Ok(timed)
}
