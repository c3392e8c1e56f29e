//! `serve` configuration: defaults → TOML file → environment → flags.
//! Every problem is reported at once.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

/// Flags of `serve` (each also read from its `LIFTWATCH_*` variable).
#[derive(Args, Debug, Default, Clone)]
pub struct ServeArgs {
    /// Optional TOML file with the same keys (snake_case); flags and environment win over it.
    #[arg(long, env = "LIFTWATCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// postgres://… (TimescaleDB or plain PostgreSQL). Required for now: the embedded store in
    /// --data-dir that the contract names for an unset URL is not built yet.
    #[arg(long, env = "LIFTWATCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Folder of the embedded store [default: ./liftwatch-data].
    #[arg(long, env = "LIFTWATCH_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// mqtt://host:port or mqtts://… of the broker. When unset: an embedded broker (rumqttd) on
    /// --embedded-mqtt-listen.
    #[arg(long, env = "LIFTWATCH_MQTT_URL")]
    pub mqtt_url: Option<String>,
    /// Address of the embedded MQTT broker, used when no --mqtt-url is given [default: 127.0.0.1:1883].
    #[arg(long, env = "LIFTWATCH_EMBEDDED_MQTT_LISTEN")]
    pub embedded_mqtt_listen: Option<String>,
    /// HTTP address [default: 127.0.0.1:8080].
    #[arg(long, env = "LIFTWATCH_LISTEN")]
    pub listen: Option<String>,
    /// The regulator's bearer token.
    #[arg(long, env = "LIFTWATCH_REGULATOR_TOKEN")]
    pub regulator_token: Option<String>,
    /// IANA zone of the local days [default: Asia/Shanghai].
    #[arg(long, env = "LIFTWATCH_TIMEZONE")]
    pub timezone: Option<String>,
    /// MQTT client id of this gateway; fixed, so the broker keeps its session [default: liftwatch-gateway].
    #[arg(long, env = "LIFTWATCH_MQTT_CLIENT_ID")]
    pub mqtt_client_id: Option<String>,
    /// Shared-subscription group; gateways in one group split the load [default: liftwatch].
    #[arg(long, env = "LIFTWATCH_MQTT_SHARE_GROUP")]
    pub mqtt_share_group: Option<String>,
    /// Prefix before lift/v1/+/events (multi-tenant brokers, tests) [default: none].
    #[arg(long, env = "LIFTWATCH_MQTT_TOPIC_PREFIX")]
    pub mqtt_topic_prefix: Option<String>,
    /// Flush a batch at this many events [default: 50000].
    #[arg(long, env = "LIFTWATCH_BATCH_MAX_EVENTS")]
    pub batch_max_events: Option<usize>,
    /// Flush a batch at this many MQTT messages [default: 1000].
    #[arg(long, env = "LIFTWATCH_BATCH_MAX_MESSAGES")]
    pub batch_max_messages: Option<usize>,
    /// Wait this many milliseconds for more messages before flushing a small batch [default: 0].
    #[arg(long, env = "LIFTWATCH_BATCH_LINGER_MS")]
    pub batch_linger_ms: Option<u64>,
    /// Store transactions (batches) in flight at once [default: 2].
    #[arg(long, env = "LIFTWATCH_MAX_INFLIGHT_BATCHES")]
    pub max_inflight_batches: Option<usize>,
    /// Database connections [default: 8].
    #[arg(long, env = "LIFTWATCH_DB_POOL_SIZE")]
    pub db_pool_size: Option<usize>,
    /// Use TimescaleDB hypertables when the extension is available [default: true].
    #[arg(long, env = "LIFTWATCH_TIMESCALEDB")]
    pub timescaledb: Option<bool>,
}

/// The same keys, from the TOML file.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    mqtt_url: Option<String>,
    embedded_mqtt_listen: Option<String>,
    listen: Option<String>,
    regulator_token: Option<String>,
    timezone: Option<String>,
    mqtt_client_id: Option<String>,
    mqtt_share_group: Option<String>,
    mqtt_topic_prefix: Option<String>,
    batch_max_events: Option<usize>,
    batch_max_messages: Option<usize>,
    batch_linger_ms: Option<u64>,
    max_inflight_batches: Option<usize>,
    db_pool_size: Option<usize>,
    timescaledb: Option<bool>,
}

/// The validated configuration of `serve`.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL URL, when set.
    pub database_url: Option<String>,
    /// Embedded store folder.
    pub data_dir: PathBuf,
    /// Broker URL, when set.
    pub mqtt_url: Option<String>,
    /// HTTP address.
    pub listen: std::net::SocketAddr,
    /// Embedded broker address (when `mqtt_url` is unset).
    pub embedded_mqtt_listen: std::net::SocketAddr,
    /// Regulator token.
    pub regulator_token: Option<String>,
    /// Zone of local days.
    pub timezone: chrono_tz::Tz,
    /// Gateway settings.
    pub gateway: liftwatch_gateway::GatewayConfig,
    /// Pool size.
    pub db_pool_size: usize,
    /// TimescaleDB wanted.
    pub timescaledb: bool,
}

impl ServeArgs {
    /// Layers flags/env over the file over defaults and validates everything.
    pub fn resolve(self) -> Result<Config, Vec<String>> {
        let mut errors = Vec::new();
        let file: FileConfig = match &self.config {
            Some(p) => match std::fs::read_to_string(p) {
                Ok(text) => toml::from_str(&text).unwrap_or_else(|e| {
                    errors.push(format!("config file {}: {e}", p.display()));
                    FileConfig::default()
                }),
                Err(e) => {
                    errors.push(format!("config file {}: {e}", p.display()));
                    FileConfig::default()
                }
            },
            None => FileConfig::default(),
        };
        let database_url = self.database_url.or(file.database_url).filter(|s| !s.is_empty());
        if let Some(u) = &database_url {
            if !(u.starts_with("postgres://") || u.starts_with("postgresql://")) {
                errors.push(format!("database URL {u:?} must start with postgres:// or postgresql://"));
            }
        }
        let mqtt_url = self.mqtt_url.or(file.mqtt_url).filter(|s| !s.is_empty());
        if let Some(u) = &mqtt_url {
            if !(u.starts_with("mqtt://") || u.starts_with("mqtts://") || u.starts_with("tcp://")) {
                errors.push(format!("MQTT URL {u:?} must start with mqtt:// or mqtts://"));
            }
        }
        let listen_s = self.listen.or(file.listen).unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen_s.parse().unwrap_or_else(|e| {
            errors.push(format!("listen address {listen_s:?}: {e} (expected host:port, e.g. 127.0.0.1:8080)"));
            std::net::SocketAddr::from(([127, 0, 0, 1], 8080))
        });
        let emb_s = self.embedded_mqtt_listen.or(file.embedded_mqtt_listen).unwrap_or_else(|| "127.0.0.1:1883".into());
        let embedded_mqtt_listen = emb_s.parse().unwrap_or_else(|e| {
            errors.push(format!("embedded MQTT listen address {emb_s:?}: {e} (expected host:port)"));
            std::net::SocketAddr::from(([127, 0, 0, 1], 1883))
        });
        let tz_s = self.timezone.or(file.timezone).unwrap_or_else(|| "Asia/Shanghai".into());
        let timezone = tz_s.parse::<chrono_tz::Tz>().unwrap_or_else(|_| {
            errors.push(format!("timezone {tz_s:?} is not an IANA zone name (e.g. Asia/Shanghai)"));
            chrono_tz::Asia::Shanghai
        });
        let mut gateway = liftwatch_gateway::GatewayConfig::default();
        if let Some(u) = &mqtt_url {
            gateway.mqtt_url = u.clone();
        }
        if let Some(v) = self.mqtt_client_id.or(file.mqtt_client_id) {
            gateway.client_id = v;
        }
        if let Some(v) = self.mqtt_share_group.or(file.mqtt_share_group) {
            if v.is_empty() || v.contains(['/', '+', '#']) {
                errors.push(format!("share group {v:?} must be non-empty without / + #"));
            }
            gateway.share_group = v;
        }
        if let Some(v) = self.mqtt_topic_prefix.or(file.mqtt_topic_prefix) {
            if v.contains(['+', '#']) {
                errors.push(format!("topic prefix {v:?} must not contain wildcards"));
            }
            gateway.topic_prefix = v;
        }
        if let Some(v) = self.batch_max_events.or(file.batch_max_events) {
            if v == 0 {
                errors.push("batch_max_events must be at least 1".into());
            }
            gateway.batch_max_events = v.max(1);
        }
        if let Some(v) = self.batch_max_messages.or(file.batch_max_messages) {
            if v == 0 {
                errors.push("batch_max_messages must be at least 1".into());
            }
            gateway.batch_max_messages = v.max(1);
        }
        if let Some(v) = self.batch_linger_ms.or(file.batch_linger_ms) {
            gateway.linger = Duration::from_millis(v);
        }
        if let Some(v) = self.max_inflight_batches.or(file.max_inflight_batches) {
            if v == 0 {
                errors.push("max_inflight_batches must be at least 1".into());
            }
            gateway.max_inflight_batches = v.max(1);
        }
        let db_pool_size = self.db_pool_size.or(file.db_pool_size).unwrap_or(8);
        if db_pool_size < gateway.max_inflight_batches + 1 {
            errors.push(format!(
                "db_pool_size {db_pool_size} must exceed max_inflight_batches {} (the API needs connections too)",
                gateway.max_inflight_batches
            ));
        }
        if db_pool_size == 0 {
            errors.push("db_pool_size must be at least 1".into());
        }
        let cfg = Config {
            database_url,
            data_dir: self.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from("./liftwatch-data")),
            mqtt_url,
            listen,
            embedded_mqtt_listen,
            regulator_token: self.regulator_token.or(file.regulator_token),
            timezone,
            gateway,
            db_pool_size,
            timescaledb: self.timescaledb.or(file.timescaledb).unwrap_or(true),
        };
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_once() {
        let a = ServeArgs {
            database_url: Some("mysql://x".into()),
            mqtt_url: Some("http://x".into()),
            listen: Some("nowhere".into()),
            timezone: Some("Mars/Olympus".into()),
            batch_max_events: Some(0),
            ..Default::default()
        };
        let errs = a.resolve().unwrap_err();
        assert_eq!(errs.len(), 5, "{errs:#?}");
        assert!(errs.iter().any(|e| e.contains("Mars/Olympus")));
    }

    #[test]
    fn flags_and_env_win_over_the_file() {
        let dir = std::env::temp_dir().join(format!("lw-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("liftwatch.toml");
        std::fs::write(&f, "listen = \"127.0.0.1:9999\"\ntimezone = \"UTC\"\nmqtt_share_group = \"fromfile\"\n")
            .unwrap();
        let a = ServeArgs { config: Some(f.clone()), listen: Some("127.0.0.1:7000".into()), ..Default::default() };
        let c = a.resolve().unwrap();
        assert_eq!(c.listen.port(), 7000);
        assert_eq!(c.timezone, chrono_tz::UTC);
        assert_eq!(c.gateway.share_group, "fromfile");
        std::fs::write(&f, "listne = 1\n").unwrap();
        let a = ServeArgs { config: Some(f), ..Default::default() };
        assert!(a.resolve().unwrap_err()[0].contains("listne"), "unknown keys are errors");
        let _ = std::fs::remove_dir_all(dir);
    }
}
