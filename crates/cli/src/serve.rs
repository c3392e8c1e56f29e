//! `liftwatch serve`: store + gateway + HTTP API.

use std::sync::atomic::Ordering;

use anyhow::{bail, Context};
use liftwatch_api::NotReady;
use liftwatch_core::protocol::Timestamp;
use liftwatch_gateway::{Gateway, Spool, Stats};
use liftwatch_store::{PgOptions, PgStore};
use tokio::sync::watch;

use crate::config::Config;

/// Opens the configured store (migrated).
pub async fn open_store(cfg: &Config) -> anyhow::Result<PgStore> {
    let Some(url) = &cfg.database_url else {
        bail!(
            "LIFTWATCH_DATABASE_URL / --database-url is not set, and the embedded store is not available in this \
             build yet: point liftwatch at PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/liftwatch)"
        );
    };
    let opts = PgOptions {
        tz: cfg.timezone,
        pool_size: cfg.db_pool_size,
        timescaledb: cfg.timescaledb,
        connect: cfg.db_connect.clone(),
    };
    let store = PgStore::connect(url, opts).await.context("connecting to the database")?;
    let ts = store.migrate().await.context("applying migrations")?;
    let session = store.session().await.context("reading the database session")?;
    tracing::info!(timescaledb = ts, tls = session.tls, statement_timeout = %session.statement_timeout,
        "store ready (migrations applied)");
    Ok(store)
}

/// Runs until SIGTERM / SIGINT, then drains: stop taking messages, commit,
/// ack, disconnect, stop HTTP.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let store = open_store(&cfg).await?;
    tracing::info!(
        regulator_token_set = cfg.regulator_token.is_some(),
        data_dir = %cfg.data_dir.display(),
        timezone = %cfg.timezone,
        "configuration (the data dir is used only by the embedded store)"
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
    let gateway = Gateway::start(gateway_cfg, store.clone(), spool, shutdown_rx.clone())?;
    let stats = gateway.stats.clone();
    let mut metrics = liftwatch_api::metrics::Metrics::new();
    let port: std::sync::Arc<dyn liftwatch_store::Store> = std::sync::Arc::new(store.clone());
    metrics.register_store(port.clone());
    let clock: liftwatch_api::Clock = std::sync::Arc::new(Timestamp::now);
    metrics.register_telemetry(port.clone(), liftwatch_api::metrics::DEFAULT_SILENT_AFTER, clock.clone());
    metrics.register_collector(gateway.stats.clone());
    let state = liftwatch_api::ApiState {
        store: port,
        regulator_token: cfg.regulator_token.clone(),
        tz: cfg.timezone,
        clock,
        ingest_ready: std::sync::Arc::new(move || ingest_ready(&stats)),
        limits: cfg.http.clone(),
        tokens: liftwatch_api::auth::TokenCache::new(cfg.token_cache_ttl),
    };
    let app = liftwatch_api::app_with_metrics(state, std::sync::Arc::new(metrics));
    tracing::info!(listen = %cfg.listen, "HTTP listening");
    let mut http_shutdown = shutdown_rx.clone();
    let header_read_timeout = cfg.http.header_read_timeout;
    let http = tokio::spawn(liftwatch_api::server::serve(listener, app, header_read_timeout, async move {
        let _ = http_shutdown.wait_for(|s| *s).await;
    }));
    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    gateway.join().await;
    let _ = http.await;
    tracing::info!("stopped");
    Ok(())
}

/// Ingest readiness for `/readyz`: a full spool first (it is why new
/// messages are not taken), then the broker subscription.
fn ingest_ready(stats: &Stats) -> Result<(), NotReady> {
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
    if !stats.subscribed.load(Ordering::Relaxed) {
        return Err(NotReady { error: "not_subscribed", message: "the broker subscription is not up yet".into() });
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
