//! `liftwatch serve`: store + gateway + HTTP API.

use std::sync::atomic::Ordering;

use anyhow::{bail, Context};
use liftwatch_api::NotReady;
use liftwatch_core::protocol::Timestamp;
use liftwatch_gateway::{Gateway, Spool, Stats};
use liftwatch_store::sqlite::{SqliteOptions, SqliteStore};
use liftwatch_store::{EventStore, PgOptions, PgStore, Store};
use tokio::sync::watch;

use crate::config::Config;

/// Opens the configured store (migrated), with the API's pool size (the
/// one-shot commands use this one).
pub async fn open_store(cfg: &Config) -> anyhow::Result<PgStore> {
    let store = connect(cfg, cfg.db_pool_size_api).await?;
    let ts = store.migrate().await.context("applying migrations")?;
    let session = store.session().await.context("reading the database session")?;
    tracing::info!(timescaledb = ts, tls = session.tls, statement_timeout = %session.statement_timeout,
        "store ready (migrations applied)");
    Ok(store)
}

/// The store of `serve`, twice: one database through two pools, so HTTP
/// requests can never take the connections ingest needs (nor the reverse).
pub struct Stores {
    /// The gateway's (`--db-pool-size-ingest` connections).
    pub ingest: PgStore,
    /// The HTTP API's (`--db-pool-size-api` connections).
    pub api: PgStore,
}

/// Opens both pools of `serve` (migrating once).
pub async fn open_stores(cfg: &Config) -> anyhow::Result<Stores> {
    let api = open_store(cfg).await?;
    let ingest = connect(cfg, cfg.db_pool_size_ingest).await?;
    Ok(Stores { ingest, api })
}

/// The embedded store in `--data-dir` (used when no database URL is set):
/// SQLite, one writer, migrated at open; one process per folder.
pub async fn open_embedded(cfg: &Config) -> anyhow::Result<SqliteStore> {
    let dir = cfg.data_dir.clone();
    let opts = SqliteOptions { tz: cfg.timezone, ..SqliteOptions::default() };
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&dir, opts))
        .await
        .context("opening the embedded store")?
        .with_context(|| format!("opening the embedded store in {}", cfg.data_dir.display()))?;
    tracing::info!(path = %store.path().display(), "embedded store ready (migrations applied)");
    Ok(store)
}

/// The configured store for the one-shot commands: PostgreSQL when a URL is
/// set, else the embedded store.
pub async fn open_any(cfg: &Config) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    Ok(match cfg.database_url {
        Some(_) => std::sync::Arc::new(open_store(cfg).await?),
        None => std::sync::Arc::new(open_embedded(cfg).await?),
    })
}

/// A pool of `pool_size` connections on the configured database.
async fn connect(cfg: &Config, pool_size: usize) -> anyhow::Result<PgStore> {
    let Some(url) = &cfg.database_url else {
        bail!("no database URL (LIFTWATCH_DATABASE_URL / --database-url) is set");
    };
    let opts = PgOptions { tz: cfg.timezone, pool_size, timescaledb: cfg.timescaledb, connect: cfg.db_connect.clone() };
    PgStore::connect(url, opts).await.context("connecting to the database")
}

/// Runs until SIGTERM / SIGINT, then drains: stop taking messages, commit,
/// ack, disconnect, stop HTTP.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    if cfg.database_url.is_some() {
        let stores = open_stores(&cfg).await?;
        run_with(cfg, stores.ingest, stores.api).await
    } else {
        let store = open_embedded(&cfg).await?;
        run_with(cfg, store.clone(), store).await
    }
}

/// [`run`] on a store: `ingest` for the gateway, `api` for everything else
/// (two pools of one PostgreSQL database, or the one embedded store twice).
async fn run_with<S: EventStore + Store + Clone>(cfg: Config, ingest: S, api: S) -> anyhow::Result<()> {
    struct Stores<S> {
        ingest: S,
        api: S,
    }
    let stores = Stores { ingest, api };
    tracing::info!(
        regulator_token_set = cfg.regulator_token.is_some(),
        data_dir = %cfg.data_dir.display(),
        timezone = %cfg.timezone,
        embedded_store = cfg.database_url.is_none(),
        "configuration"
    );
    let mut gateway_cfg = cfg.gateway.clone();
    if cfg.mqtt_url.is_none() {
        gateway_cfg.mqtt_url = crate::embedded_broker::start(cfg.embedded_mqtt_listen)?;
        gateway_cfg.shared = false;
    }
    let listener =
        tokio::net::TcpListener::bind(cfg.listen).await.with_context(|| format!("binding HTTP on {}", cfg.listen))?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let spool = match cfg.spool.clone() {
        Some(sc) => {
            let (dir, max_bytes) = (sc.dir.clone(), sc.max_bytes);
            // Blocking file I/O (lock, pragmas, counting the tail): off the runtime.
            let spool = tokio::task::spawn_blocking(move || Spool::open(&sc)).await.context("opening the spool")??;
            tracing::info!(dir = %dir.display(), max_bytes, replay = spool.tail().messages,
                "spool open: messages are acked once fsynced there");
            Some(spool)
        }
        None => {
            tracing::info!("spool off: messages are acked after the database commit");
            None
        }
    };
    let alerts_mqtt = liftwatch_gateway::mqtt_options(&liftwatch_gateway::GatewayConfig {
        client_id: format!("{}-alerts", gateway_cfg.client_id),
        ..gateway_cfg.clone()
    })?;
    let mut alerts_mqtt = alerts_mqtt;
    alerts_mqtt.set_clean_session(true);
    let gateway = Gateway::start(gateway_cfg, stores.ingest.clone(), spool, shutdown_rx.clone())?;
    let stats = gateway.stats.clone();
    let pruner = tokio::spawn(liftwatch_gateway::pruner::run(
        std::sync::Arc::new(stores.api.clone()),
        cfg.dead_letters.retention,
        cfg.dead_letters.max_bytes,
        stats.clone(),
        shutdown_rx.clone(),
    ));
    let mut metrics = liftwatch_api::metrics::Metrics::new();
    let port: std::sync::Arc<dyn liftwatch_store::Store> = std::sync::Arc::new(stores.api.clone());
    metrics.register_store_pools(vec![("api", port.clone()), ("ingest", std::sync::Arc::new(stores.ingest.clone()))]);
    let clock: liftwatch_api::Clock = std::sync::Arc::new(Timestamp::now);
    metrics.register_telemetry(port.clone(), liftwatch_api::metrics::DEFAULT_SILENT_AFTER, clock.clone());
    metrics.register_collector(gateway.stats.clone());
    let engine_metrics = liftwatch_engine::EngineMetrics::default();
    engine_metrics.register(metrics.registry_mut());
    let kick = std::sync::Arc::new(tokio::sync::Notify::new());
    let years: Vec<String> = cfg
        .calendar
        .years()
        .map(|y| if y.provisional { format!("{} (provisional)", y.year) } else { y.year.to_string() })
        .collect();
    tracing::info!(years = %years.join(", "), "working-day calendar for the upload deadlines of attachment 2");
    let state = liftwatch_api::ApiState {
        rules: std::sync::Arc::new(cfg.rules.clone()),
        kick: kick.clone(),
        store: port,
        regulator_token: cfg.regulator_token.clone(),
        tz: cfg.timezone,
        clock,
        ingest_ready: {
            let client_id = cfg.gateway.client_id.clone();
            std::sync::Arc::new(move || ingest_ready(&stats, &client_id))
        },
        limits: cfg.http.clone(),
        tokens: liftwatch_api::auth::TokenCache::new(cfg.token_cache_ttl),
        calendar: std::sync::Arc::new(cfg.calendar.clone()),
    };
    let app = liftwatch_api::app_with_metrics(state, std::sync::Arc::new(metrics));
    let watcher = tokio::spawn(kick_on_incidents(gateway.stats.clone(), kick.clone(), shutdown_rx.clone()));
    let engine = start_engine(&cfg, &stores.api, alerts_mqtt, kick, engine_metrics, shutdown_rx.clone());
    tracing::info!(listen = %cfg.listen, "HTTP listening");
    let mut http_shutdown = shutdown_rx.clone();
    let header_read_timeout = cfg.http.header_read_timeout;
    let http = tokio::spawn(liftwatch_api::server::serve(listener, app, header_read_timeout, async move {
        let _ = http_shutdown.wait_for(|s| *s).await;
    }));
    let failed = tokio::select! {
        () = wait_for_signal() => None,
        why = gateway.failed() => Some(why),
    };
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    gateway.join().await;
    let _ = engine.await;
    let _ = watcher.await;
    let _ = pruner.await;
    let _ = http.await;
    if let Some(why) = failed {
        // Non-zero, so that systemd / Kubernetes restart the process; the
        // broker (or the spool) still holds what was not stored.
        bail!("the ingest pipeline died: {why}");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The rule engine and alert delivery (issue 10): leads when no other
/// `serve` process does (advisory lock), evaluates every
/// `--rules-interval-secs`, and posts alerts to webhooks and to MQTT
/// (`liftwatch/v1/alerts/{firm}`, with a client of its own).
fn start_engine<S: Store + Clone + 'static>(
    cfg: &Config,
    store: &S,
    mqtt: rumqttc::MqttOptions,
    kick: std::sync::Arc<tokio::sync::Notify>,
    metrics: liftwatch_engine::EngineMetrics,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    use std::sync::Arc;
    let engine = liftwatch_engine::Engine::new(Arc::new(store.clone()), cfg.rules.clone(), cfg.timezone);
    let owner = format!("{}-{}", cfg.gateway.client_id, std::process::id());
    let dispatcher = liftwatch_alerts::Dispatcher::new(
        Arc::new(store.clone()),
        Some(Arc::new(liftwatch_alerts::MqttPublisher::start(mqtt))),
        liftwatch_alerts::DispatcherConfig {
            owner,
            http_timeout: liftwatch_alerts::DEFAULT_HTTP_TIMEOUT,
            lease: liftwatch_alerts::DEFAULT_LEASE,
        },
    );
    let run = liftwatch_engine::RunConfig { interval: cfg.rules_interval, clock: Arc::new(Timestamp::now), metrics };
    tokio::spawn(liftwatch_engine::run(engine, dispatcher, kick, run, shutdown))
}

/// The event types whose arrival can open or close a finding at once
/// (faults, entrapments, rescues, box maintenance).
const INCIDENT_TYPES: [&str; 6] = ["fault", "fault_cleared", "entrapment", "rescue_arrived", "released", "maintenance"];

/// Wakes the rule engine within a second of a committed event that matters
/// (the gateway counts new events by type; the engine itself runs on the
/// leader, which may be another process: there its schedule applies).
async fn kick_on_incidents(
    stats: std::sync::Arc<Stats>,
    kick: std::sync::Arc<tokio::sync::Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let count =
        || -> u64 { INCIDENT_TYPES.iter().map(|t| stats.events_by_type.get_or_create(&[("type", *t)]).get()).sum() };
    let mut seen = count();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let now = count();
        if now != seen {
            seen = now;
            kick.notify_one();
        }
    }
}

/// Ingest readiness for `/readyz`: a dead pipeline first, then a halted ingest (the store refuses
/// everything), then a full spool (it is why new messages are not taken),
/// then a client-id conflict (it is why the subscription comes and goes), then the broker subscription.
fn ingest_ready(stats: &Stats, client_id: &str) -> Result<(), NotReady> {
    if let Some(why) = stats.failure() {
        return Err(NotReady {
            error: "ingest_dead",
            message: format!("the ingest pipeline died: {why}; the process exits to be restarted"),
        });
    }
    if stats.halted.load(Ordering::Relaxed) > 0 {
        let why = stats.halt_reason.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        return Err(NotReady {
            error: "ingest_halted",
            message: format!(
                "ingest is halted: {why}; nothing is dead-lettered, the messages wait (unacked at the broker, or in \
                 the spool) and are tried again until the store takes them: fix the database schema or permissions"
            ),
        });
    }
    if stats.spool.full.load(Ordering::Relaxed) {
        return Err(NotReady {
            error: "spool_full",
            message: format!(
                "the gateway's spool is full ({} bytes held): new messages stay unacked at the broker until the \
                 database catches up; check the database, or raise --spool-max-bytes",
                stats.spool.bytes.load(Ordering::Relaxed)
            ),
        });
    }
    if let Some(takeovers) = stats.client_id_conflict() {
        return Err(NotReady {
            error: "client_id_conflict",
            message: format!(
                "the broker took this gateway's session over {takeovers} times in the last {} s: another process \
                 uses the same --mqtt-client-id {client_id:?}; give every gateway its own client id (and the same \
                 --mqtt-share-group)",
                liftwatch_gateway::TAKEOVER_WINDOW.as_secs()
            ),
        });
    }
    if !stats.subscribed.load(Ordering::Relaxed) {
        let failures: u64 = liftwatch_gateway::SubscribeFailure::ALL
            .iter()
            .map(|f| stats.subscribe_failures.get_or_create(&[("why", f.code())]).get())
            .sum();
        let message = if failures == 0 {
            "the broker subscription is not up yet".into()
        } else {
            format!(
                "the broker subscription is not up: {failures} attempts refused or unanswered so far, retrying \
                 (check the broker's ACL for the gateway's user and the broker's log)"
            )
        };
        return Err(NotReady { error: "not_subscribed", message });
    }
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = tokio::signal::ctrl_c() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use liftwatch_store::prelude::*;
    use liftwatch_testkit::{fleet_events, messages, project, register, wait_until, TestDb};

    use super::*;
    use crate::config::ServeArgs;

    /// Ingest has its own pool: with every connection of the API's pool
    /// held by a request (one blocked behind a registry lock), a batch still
    /// commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_saturated_api_pool_does_not_block_ingest() {
        let db = TestDb::new("pools").await;
        let args = ServeArgs {
            database_url: Some(db.url.clone()),
            db_pool_size_api: Some(1),
            db_pool_size_ingest: Some(1),
            max_inflight_batches: Some(1),
            timescaledb: Some(false),
            ..Default::default()
        };
        let stores = open_stores(&args.resolve().unwrap()).await.unwrap();
        let devs = register(&stores.api, 1).await;
        // Another registry writer holds the registry lock: the API's request
        // waits for it holding the API pool's only connection.
        let admin = db.client().await;
        admin.execute("SELECT pg_advisory_lock(7460001)", &[]).await.unwrap();
        let api = stores.api.clone();
        let request = tokio::spawn(async move { project(&api, "late", "zls", &[]).await });
        wait_until("the API pool is saturated", Duration::from_secs(60), || async {
            stores.api.pool_status().is_some_and(|p| p.size == 1 && p.available == 0)
        })
        .await;
        let events = fleet_events(&devs, 5, 1);
        let batch = messages(&events, 100);
        // The timeout only detects a hang; it is no threshold on speed.
        let report = tokio::time::timeout(Duration::from_secs(300), stores.ingest.ingest(&batch))
            .await
            .expect("ingest waits for the API's pool")
            .unwrap();
        assert_eq!(report.new_events, events.len() as u64);
        assert!(!request.is_finished(), "the API request was still holding its connection");
        admin.execute("SELECT pg_advisory_unlock(7460001)", &[]).await.unwrap();
        request.await.unwrap();
    }
}
