//! `serve` configuration: defaults → TOML file → environment → flags.
//! Every problem is reported at once.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use liftwatch_gateway::{
    redact_url, DEFAULT_BATCH_LINGER_MS, DEFAULT_BATCH_MAX_EVENTS, DEFAULT_BATCH_MAX_MESSAGES, DEFAULT_CLIENT_ID,
    DEFAULT_MAX_INFLIGHT_BATCHES, DEFAULT_SHARE_GROUP, DEFAULT_SPOOL_DIR_NAME, DEFAULT_SPOOL_MAX_BYTES, REDACTED,
};
use liftwatch_gateway::{DEFAULT_BATCH_MAX_BYTES, DEFAULT_QUEUE_MAX_BYTES, DEFAULT_STORE_ATTEMPTS};
use serde::Deserialize;

/// HTTP address when none is configured.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Address of the embedded MQTT broker (used when no broker URL is given).
pub const DEFAULT_EMBEDDED_MQTT_LISTEN: &str = "127.0.0.1:1883";
/// Folder of the embedded store.
pub const DEFAULT_DATA_DIR: &str = "./liftwatch-data";
/// IANA zone of the local days (rollups, KPI windows): the core's default.
pub const DEFAULT_TIMEZONE: &str = liftwatch_core::DEFAULT_TIMEZONE_NAME;
/// Database connections of the HTTP API's pool: the store's default.
pub const DEFAULT_DB_POOL_SIZE_API: usize = liftwatch_store::postgres::DEFAULT_POOL_SIZE;
/// Database connections of the ingest pool: one per batch in flight, and two
/// to spare (a dead letter written while the other batches commit).
pub const DEFAULT_DB_POOL_SIZE_INGEST: usize = DEFAULT_MAX_INFLIGHT_BATCHES + 2;
/// Use TimescaleDB hypertables when the extension is available: the store's default.
pub const DEFAULT_TIMESCALEDB: bool = liftwatch_store::postgres::DEFAULT_TIMESCALEDB;

/// The gateway's spool is on unless turned off.
pub const DEFAULT_SPOOL: bool = true;

// --- rule engine (issue 10) ---
/// Evaluate the pilot rules at least this often (seconds): the engine's default.
pub const DEFAULT_RULES_INTERVAL_SECS: u64 = liftwatch_engine::DEFAULT_INTERVAL.as_secs();
// --- Security (issue 9, items 11–14): database connection ---
/// Seconds to wait for a database connection: the store's default.
pub const DEFAULT_DB_CONNECT_TIMEOUT_SECS: u64 = liftwatch_store::postgres::DEFAULT_CONNECT_TIMEOUT_SECS;
/// Seconds a statement may run (0: no limit): the store's default.
pub const DEFAULT_DB_STATEMENT_TIMEOUT_SECS: u64 = liftwatch_store::postgres::DEFAULT_STATEMENT_TIMEOUT_SECS;
/// The regulator's token must be at least this long (a guessable token is the regulator's password).
pub const MIN_REGULATOR_TOKEN_CHARS: usize = 32;
use liftwatch_api::auth::DEFAULT_TOKEN_CACHE_TTL_SECS;
use liftwatch_api::limits::{
    DEFAULT_HEADER_READ_TIMEOUT_SECS, DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_REQUEST_TIMEOUT_SECS,
    DEFAULT_WRITES_PER_MINUTE, DEFAULT_WRITE_BURST,
};
// --- end security ---

/// A flag's help text ending in its default, e.g. `… [default: 50000]`: the
/// flags are `Option`s (so that the TOML file can fill what no flag set),
/// which is why clap's own `default_value_t` cannot be used.
fn help(text: &str, default: impl fmt::Display) -> String {
    format!("{text} [default: {default}]")
}

/// Flags of `serve` (each also read from its `LIFTWATCH_*` variable).
/// `Debug` masks the secrets (URL passwords, the regulator token).
#[derive(Args, Default, Clone)]
pub struct ServeArgs {
    /// Optional TOML file with the same keys (snake_case); flags and environment win over it.
    #[arg(long, env = "LIFTWATCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// postgres://… (TimescaleDB or plain PostgreSQL). When unset: the embedded store (SQLite) in
    /// --data-dir.
    #[arg(long, env = "LIFTWATCH_DATABASE_URL", hide_env_values = true)] // secret: not in --help
    pub database_url: Option<String>,
    /// Folder of the embedded store.
    #[arg(long, env = "LIFTWATCH_DATA_DIR", help = help("Folder of the embedded store", DEFAULT_DATA_DIR))]
    pub data_dir: Option<PathBuf>,
    /// mqtt://host:port or mqtts://… of the broker. When unset: an embedded broker (rumqttd) on
    /// --embedded-mqtt-listen.
    #[arg(long, env = "LIFTWATCH_MQTT_URL", hide_env_values = true)] // secret: not in --help
    pub mqtt_url: Option<String>,
    /// Address of the embedded MQTT broker, used when no --mqtt-url is given.
    #[arg(long, env = "LIFTWATCH_EMBEDDED_MQTT_LISTEN", help = help(
        "Address of the embedded MQTT broker, used when no --mqtt-url is given", DEFAULT_EMBEDDED_MQTT_LISTEN))]
    pub embedded_mqtt_listen: Option<String>,
    /// HTTP address.
    #[arg(long, env = "LIFTWATCH_LISTEN", help = help("HTTP address", DEFAULT_LISTEN))]
    pub listen: Option<String>,
    /// The regulator's bearer token.
    #[arg(long, env = "LIFTWATCH_REGULATOR_TOKEN", hide_env_values = true)] // secret: not in --help
    pub regulator_token: Option<String>,
    /// IANA zone of the local days.
    #[arg(long, env = "LIFTWATCH_TIMEZONE", help = help("IANA zone of the local days", DEFAULT_TIMEZONE))]
    pub timezone: Option<String>,
    /// MQTT client id of this gateway; fixed, so the broker keeps its session.
    #[arg(long, env = "LIFTWATCH_MQTT_CLIENT_ID", help = help(
        "MQTT client id of this gateway; fixed, so the broker keeps its session", DEFAULT_CLIENT_ID))]
    pub mqtt_client_id: Option<String>,
    /// Shared-subscription group; gateways in one group split the load.
    #[arg(long, env = "LIFTWATCH_MQTT_SHARE_GROUP", help = help(
        "Shared-subscription group; gateways in one group split the load", DEFAULT_SHARE_GROUP))]
    pub mqtt_share_group: Option<String>,
    /// Prefix before lift/v1/+/events (multi-tenant brokers, tests) [default: none].
    #[arg(long, env = "LIFTWATCH_MQTT_TOPIC_PREFIX")]
    pub mqtt_topic_prefix: Option<String>,
    /// Flush a batch at this many events.
    #[arg(long, env = "LIFTWATCH_BATCH_MAX_EVENTS", help = help(
        "Flush a batch at this many events", DEFAULT_BATCH_MAX_EVENTS))]
    pub batch_max_events: Option<usize>,
    /// Flush a batch at this many MQTT messages.
    #[arg(long, env = "LIFTWATCH_BATCH_MAX_MESSAGES", help = help(
        "Flush a batch at this many MQTT messages", DEFAULT_BATCH_MAX_MESSAGES))]
    pub batch_max_messages: Option<usize>,
    /// Wait this many milliseconds for more messages before flushing a small batch.
    #[arg(long, env = "LIFTWATCH_BATCH_LINGER_MS", help = help(
        "Wait this many milliseconds for more messages before flushing a small batch", DEFAULT_BATCH_LINGER_MS))]
    pub batch_linger_ms: Option<u64>,
    /// Store transactions (batches) in flight at once.
    #[arg(long, env = "LIFTWATCH_MAX_INFLIGHT_BATCHES", help = help(
        "Store transactions (batches) in flight at once", DEFAULT_MAX_INFLIGHT_BATCHES))]
    pub max_inflight_batches: Option<usize>,
    /// Database connections of the ingest pool (the gateway's; at least --max-inflight-batches).
    #[arg(long, env = "LIFTWATCH_DB_POOL_SIZE_INGEST", help = help(
        "Database connections of the ingest pool (the gateway's; at least --max-inflight-batches)",
        DEFAULT_DB_POOL_SIZE_INGEST))]
    pub db_pool_size_ingest: Option<usize>,
    /// Database connections of the HTTP API's pool (separate: requests never take ingest's).
    #[arg(long, env = "LIFTWATCH_DB_POOL_SIZE_API", help = help(
        "Database connections of the HTTP API's pool (separate: requests never take ingest's)",
        DEFAULT_DB_POOL_SIZE_API))]
    pub db_pool_size_api: Option<usize>,
    /// Use TimescaleDB hypertables when the extension is available.
    #[arg(long, env = "LIFTWATCH_TIMESCALEDB", help = help(
        "Use TimescaleDB hypertables when the extension is available", DEFAULT_TIMESCALEDB))]
    pub timescaledb: Option<bool>,
    /// Spool received messages on local disk and ack them once fsynced there; false: acks wait for
    /// the database commit (only for a broker sized for the backlog).
    #[arg(long, env = "LIFTWATCH_SPOOL", help = help(
        "Spool received messages on local disk and ack them once fsynced there; false: acks wait for the \
         database commit (only for a broker sized for the backlog)", DEFAULT_SPOOL))]
    pub spool: Option<bool>,
    /// Same as --spool false (wins over --spool and LIFTWATCH_SPOOL).
    #[arg(long)]
    pub no_spool: bool,
    /// Folder of the gateway's spool (one per gateway process).
    #[arg(long, env = "LIFTWATCH_SPOOL_DIR", help = help(
        "Folder of the gateway's spool (one per gateway process)",
        format!("<data dir>/{DEFAULT_SPOOL_DIR_NAME}")))]
    pub spool_dir: Option<PathBuf>,
    /// Bytes the spool may hold before the gateway stops taking messages.
    #[arg(long, env = "LIFTWATCH_SPOOL_MAX_BYTES", help = help(
        "Bytes the spool may hold before the gateway stops taking messages", DEFAULT_SPOOL_MAX_BYTES))]
    pub spool_max_bytes: Option<u64>,
    // --- rule engine (issue 10) ---
    /// Evaluate the pilot rules at least this often (seconds); also right after events that matter.
    #[arg(long, env = "LIFTWATCH_RULES_INTERVAL_SECS", help = help(
        "Evaluate the pilot rules at least this often (seconds)", DEFAULT_RULES_INTERVAL_SECS))]
    pub rules_interval_secs: Option<u64>,
    /// Ingest robustness and dead-letter limits (issue 9; see [`RobustnessArgs`]).
    #[command(flatten)]
    pub robustness: RobustnessArgs,
    // --- attachment 2 (issue 14) ---
    /// Folder of working-day calendar files (cn-YYYY.toml, docs/inspection.md): each replaces or adds its year
    /// over the shipped ones [default: the shipped files only].
    #[arg(long, env = "LIFTWATCH_CALENDAR_DIR")]
    pub calendar_dir: Option<PathBuf>,
    // --- end attachment 2 ---

    // --- Security (issue 9, items 11–14) ---
    /// PEM file of the root certificates the database's certificate must chain to
    /// (sslmode=verify-ca/verify-full; the URL's sslrootcert wins) [default: the system's roots].
    #[arg(long, env = "LIFTWATCH_DATABASE_CA_FILE")]
    pub database_ca_file: Option<PathBuf>,
    /// Seconds to wait for a database connection.
    #[arg(long, env = "LIFTWATCH_DB_CONNECT_TIMEOUT_SECS", help = help(
        "Seconds to wait for a database connection", DEFAULT_DB_CONNECT_TIMEOUT_SECS))]
    pub db_connect_timeout_secs: Option<u64>,
    /// Seconds a database statement may run before the server cancels it (0: no limit).
    #[arg(long, env = "LIFTWATCH_DB_STATEMENT_TIMEOUT_SECS", help = help(
        "Seconds a database statement may run before the server cancels it (0: no limit)",
        DEFAULT_DB_STATEMENT_TIMEOUT_SECS))]
    pub db_statement_timeout_secs: Option<u64>,
    /// MQTT user name of the gateway (wins over one in --mqtt-url).
    #[arg(long, env = "LIFTWATCH_MQTT_USERNAME")]
    pub mqtt_username: Option<String>,
    /// MQTT password of the gateway (prefer LIFTWATCH_MQTT_PASSWORD_FILE).
    #[arg(long, env = "LIFTWATCH_MQTT_PASSWORD", hide_env_values = true)] // secret: not in --help
    pub mqtt_password: Option<String>,
    /// PEM file of the root certificates the broker's certificate must chain to (mqtts:// only)
    /// [default: the system's roots].
    #[arg(long, env = "LIFTWATCH_MQTT_CA_FILE")]
    pub mqtt_ca_file: Option<PathBuf>,
    /// Seconds an HTTP request may take before it is answered 503.
    #[arg(long, env = "LIFTWATCH_HTTP_REQUEST_TIMEOUT_SECS", help = help(
        "Seconds an HTTP request may take before it is answered 503", DEFAULT_REQUEST_TIMEOUT_SECS))]
    pub http_request_timeout_secs: Option<u64>,
    /// Seconds a client has to send a request's headers before its connection is closed.
    #[arg(long, env = "LIFTWATCH_HTTP_HEADER_READ_TIMEOUT_SECS", help = help(
        "Seconds a client has to send a request's headers before its connection is closed",
        DEFAULT_HEADER_READ_TIMEOUT_SECS))]
    pub http_header_read_timeout_secs: Option<u64>,
    /// HTTP requests in flight at once; more are answered 503.
    #[arg(long, env = "LIFTWATCH_HTTP_MAX_CONCURRENT_REQUESTS", help = help(
        "HTTP requests in flight at once; more are answered 503", DEFAULT_MAX_CONCURRENT_REQUESTS))]
    pub http_max_concurrent_requests: Option<usize>,
    /// Writes per minute and token, sustained; more are answered 429.
    #[arg(long, env = "LIFTWATCH_HTTP_WRITES_PER_MINUTE", help = help(
        "Writes per minute and token, sustained; more are answered 429", DEFAULT_WRITES_PER_MINUTE))]
    pub http_writes_per_minute: Option<u32>,
    /// Writes a token may make at once.
    #[arg(long, env = "LIFTWATCH_HTTP_WRITE_BURST", help = help(
        "Writes a token may make at once", DEFAULT_WRITE_BURST))]
    pub http_write_burst: Option<u32>,
    /// Seconds a token lookup is remembered (a revoked token works at most this long on other instances).
    #[arg(long, env = "LIFTWATCH_TOKEN_CACHE_TTL_SECS", help = help(
        "Seconds a token lookup is remembered (a revoked token works at most this long on other instances)",
        DEFAULT_TOKEN_CACHE_TTL_SECS))]
    pub token_cache_ttl_secs: Option<u64>,
    /// File holding the database URL (instead of --database-url: keeps its password out of `ps`).
    #[arg(long, env = "LIFTWATCH_DATABASE_URL_FILE")]
    pub database_url_file: Option<PathBuf>,
    /// File holding the regulator's token (instead of --regulator-token).
    #[arg(long, env = "LIFTWATCH_REGULATOR_TOKEN_FILE")]
    pub regulator_token_file: Option<PathBuf>,
    /// File holding the gateway's MQTT password (instead of --mqtt-password).
    #[arg(long, env = "LIFTWATCH_MQTT_PASSWORD_FILE")]
    pub mqtt_password_file: Option<PathBuf>,
    // --- end security ---
}

/// The same keys, from the TOML file (no `Debug`: it holds secrets).
#[derive(Deserialize, Default)]
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
    db_pool_size_ingest: Option<usize>,
    db_pool_size_api: Option<usize>,
    timescaledb: Option<bool>,
    spool: Option<bool>,
    spool_dir: Option<PathBuf>,
    spool_max_bytes: Option<u64>,
    // --- rule engine (issue 10) ---
    rules_interval_secs: Option<u64>,
    /// The rules' thresholds (`[rules]` table, docs/rules.md).
    rules: Option<liftwatch_core::rules::RulesConfig>,
    // Ingest robustness and dead-letter limits (issue 9, see `RobustnessArgs`).
    store_attempts: Option<u32>,
    queue_max_bytes: Option<u64>,
    batch_max_bytes: Option<u64>,
    dead_letter_retention_days: Option<u32>,
    dead_letter_max_bytes: Option<u64>,
    // --- attachment 2 (issue 14) ---
    calendar_dir: Option<PathBuf>,
    // --- security ---
    database_ca_file: Option<PathBuf>,
    db_connect_timeout_secs: Option<u64>,
    db_statement_timeout_secs: Option<u64>,
    mqtt_username: Option<String>,
    mqtt_password: Option<String>,
    mqtt_ca_file: Option<PathBuf>,
    http_request_timeout_secs: Option<u64>,
    http_header_read_timeout_secs: Option<u64>,
    http_max_concurrent_requests: Option<usize>,
    http_writes_per_minute: Option<u32>,
    http_write_burst: Option<u32>,
    token_cache_ttl_secs: Option<u64>,
    database_url_file: Option<PathBuf>,
    regulator_token_file: Option<PathBuf>,
    mqtt_password_file: Option<PathBuf>,
    // --- end security ---
}

/// The validated configuration of `serve`. `Debug` masks the secrets (URL
/// passwords, the regulator token).
#[derive(Clone)]
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
    /// Connections of the ingest pool (the gateway's).
    pub db_pool_size_ingest: usize,
    /// Connections of the HTTP API's pool (also used by the one-shot commands).
    pub db_pool_size_api: usize,
    /// TimescaleDB wanted.
    pub timescaledb: bool,
    /// The gateway's spool; `None` when turned off.
    pub spool: Option<liftwatch_gateway::SpoolConfig>,
    // --- rule engine (issue 10) ---
    /// Evaluate at least this often.
    pub rules_interval: Duration,
    /// The rules' thresholds.
    pub rules: liftwatch_core::rules::RulesConfig,
    /// How long and how much dead letters are kept.
    pub dead_letters: DeadLetterLimits,
    // --- attachment 2 (issue 14) ---
    /// The working-day calendar: the shipped files and those of `--calendar-dir`.
    pub calendar: liftwatch_core::inspection::WorkCalendar,
    // --- Security (issue 9, items 11–14) ---
    /// Database TLS roots and timeouts (the TLS mode is the URL's `sslmode`).
    pub db_connect: liftwatch_store::postgres::ConnectOptions,
    /// HTTP timeouts, concurrency and write-rate limits.
    pub http: liftwatch_api::limits::HttpLimits,
    /// How long a token lookup is remembered.
    pub token_cache_ttl: Duration,
    // --- end security ---
}

/// Stands in for an address that did not parse (never used: resolve fails).
const UNUSED_ADDR: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// The number of the line holding byte `offset` of `text`, from 1.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|b| **b == b'\n').count() + 1
}

/// `text` with the password of every URL in it masked ([`redact_url`]).
fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // The URL starts after the last separator before "://" …
        let start = rest[..i].rfind(|c: char| c.is_whitespace() || "\"'`=".contains(c)).map_or(0, |j| j + 1);
        // … and ends at the next one.
        let end = rest[i..].find(|c: char| c.is_whitespace() || "\"'`".contains(c)).map_or(rest.len(), |j| i + j);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A secret given directly (`value`) or in a file (`file`, e.g.
/// `LIFTWATCH_REGULATOR_TOKEN_FILE`): the file's content without its
/// trailing line break. Both at once is a mistake; a file that cannot be read
/// is named, its content never.
fn secret_from(name: &str, value: Option<String>, file: Option<PathBuf>, errors: &mut Vec<String>) -> Option<String> {
    let Some(path) = file else { return value };
    if value.is_some() {
        errors.push(format!("{name} is given both directly and in the file {}: give one", path.display()));
    }
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text.trim_end_matches(['\n', '\r']).to_owned()),
        Err(e) => {
            errors.push(format!("{name} file {}: {e}", path.display()));
            None
        }
    }
    .or(value)
}

/// How an optional secret shows in `Debug`: whether it is set, never its value.
fn secret(s: &Option<String>) -> Option<&'static str> {
    s.as_ref().map(|_| REDACTED)
}

/// How an optional URL shows in `Debug`: with its password masked.
fn url(s: &Option<String>) -> Option<std::borrow::Cow<'_, str>> {
    s.as_deref().map(redact_url)
}

impl fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let ServeArgs {
            config,
            database_url,
            data_dir,
            mqtt_url,
            embedded_mqtt_listen,
            listen,
            regulator_token,
            timezone,
            mqtt_client_id,
            mqtt_share_group,
            mqtt_topic_prefix,
            batch_max_events,
            batch_max_messages,
            batch_linger_ms,
            max_inflight_batches,
            db_pool_size_ingest,
            db_pool_size_api,
            timescaledb,
            spool,
            no_spool,
            spool_dir,
            spool_max_bytes,
            rules_interval_secs,
            robustness,
            calendar_dir,
            database_ca_file,
            db_connect_timeout_secs,
            db_statement_timeout_secs,
            mqtt_username,
            mqtt_password,
            mqtt_ca_file,
            http_request_timeout_secs,
            http_header_read_timeout_secs,
            http_max_concurrent_requests,
            http_writes_per_minute,
            http_write_burst,
            token_cache_ttl_secs,
            database_url_file,
            regulator_token_file,
            mqtt_password_file,
        } = self;
        f.debug_struct("ServeArgs")
            .field("config", config)
            .field("database_url", &url(database_url))
            .field("data_dir", data_dir)
            .field("mqtt_url", &url(mqtt_url))
            .field("embedded_mqtt_listen", embedded_mqtt_listen)
            .field("listen", listen)
            .field("regulator_token", &secret(regulator_token))
            .field("timezone", timezone)
            .field("mqtt_client_id", mqtt_client_id)
            .field("mqtt_share_group", mqtt_share_group)
            .field("mqtt_topic_prefix", mqtt_topic_prefix)
            .field("batch_max_events", batch_max_events)
            .field("batch_max_messages", batch_max_messages)
            .field("batch_linger_ms", batch_linger_ms)
            .field("max_inflight_batches", max_inflight_batches)
            .field("db_pool_size_ingest", db_pool_size_ingest)
            .field("db_pool_size_api", db_pool_size_api)
            .field("timescaledb", timescaledb)
            .field("spool", spool)
            .field("no_spool", no_spool)
            .field("spool_dir", spool_dir)
            .field("spool_max_bytes", spool_max_bytes)
            .field("rules_interval_secs", rules_interval_secs)
            .field("robustness", robustness)
            .field("calendar_dir", calendar_dir)
            .field("database_ca_file", database_ca_file)
            .field("db_connect_timeout_secs", db_connect_timeout_secs)
            .field("db_statement_timeout_secs", db_statement_timeout_secs)
            .field("mqtt_username", mqtt_username)
            .field("mqtt_password", &secret(mqtt_password))
            .field("mqtt_ca_file", mqtt_ca_file)
            .field("http_request_timeout_secs", http_request_timeout_secs)
            .field("http_header_read_timeout_secs", http_header_read_timeout_secs)
            .field("http_max_concurrent_requests", http_max_concurrent_requests)
            .field("http_writes_per_minute", http_writes_per_minute)
            .field("http_write_burst", http_write_burst)
            .field("token_cache_ttl_secs", token_cache_ttl_secs)
            .field("database_url_file", database_url_file)
            .field("regulator_token_file", regulator_token_file)
            .field("mqtt_password_file", mqtt_password_file)
            .finish()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Config {
            database_url,
            data_dir,
            mqtt_url,
            listen,
            embedded_mqtt_listen,
            regulator_token,
            timezone,
            gateway,
            db_pool_size_ingest,
            db_pool_size_api,
            timescaledb,
            spool,
            rules_interval,
            rules,
            dead_letters,
            calendar,
            db_connect,
            http,
            token_cache_ttl,
        } = self;
        f.debug_struct("Config")
            .field("database_url", &url(database_url))
            .field("data_dir", data_dir)
            .field("mqtt_url", &url(mqtt_url))
            .field("listen", listen)
            .field("embedded_mqtt_listen", embedded_mqtt_listen)
            .field("regulator_token", &secret(regulator_token))
            .field("timezone", timezone)
            .field("gateway", gateway) // masks its own MQTT password
            .field("db_pool_size_ingest", db_pool_size_ingest)
            .field("db_pool_size_api", db_pool_size_api)
            .field("timescaledb", timescaledb)
            .field("spool", spool)
            .field("rules_interval", rules_interval)
            .field("rules", rules)
            .field("dead_letters", dead_letters)
            .field("calendar_years", &calendar.years().map(|y| y.year).collect::<Vec<_>>())
            .field("db_connect", db_connect)
            .field("http", http)
            .field("token_cache_ttl", token_cache_ttl)
            .finish()
    }
}

impl ServeArgs {
    /// Layers flags/env over the file over defaults and validates everything.
    pub fn resolve(self) -> Result<Config, Vec<String>> {
        let mut errors = Vec::new();
        let file: FileConfig = match &self.config {
            Some(p) => match std::fs::read_to_string(p) {
                Ok(text) => toml::from_str(&text).unwrap_or_else(|e: toml::de::Error| {
                    // Not `{e}`: that quotes the offending line, which may hold a secret.
                    let at = e.span().map(|s| format!(" (line {})", line_of(&text, s.start))).unwrap_or_default();
                    errors.push(format!("config file {}{at}: {}", p.display(), redact_text(e.message())));
                    FileConfig::default()
                }),
                Err(e) => {
                    errors.push(format!("config file {}: {e}", p.display()));
                    FileConfig::default()
                }
            },
            None => FileConfig::default(),
        };
        let database_url = self.database_url.or(file.database_url);
        let database_url =
            secret_from("database_url", database_url, self.database_url_file.or(file.database_url_file), &mut errors);
        let database_url = database_url.filter(|s| !s.is_empty());
        if let Some(u) = &database_url {
            if !(u.starts_with("postgres://") || u.starts_with("postgresql://")) {
                errors.push(format!("database URL {:?} must start with postgres:// or postgresql://", redact_url(u)));
            }
        }
        let mqtt_url = self.mqtt_url.or(file.mqtt_url).filter(|s| !s.is_empty());
        if let Some(u) = &mqtt_url {
            if !(u.starts_with("mqtt://") || u.starts_with("mqtts://") || u.starts_with("tcp://")) {
                errors.push(format!("MQTT URL {:?} must start with mqtt:// or mqtts://", redact_url(u)));
            }
        }
        let listen_s = self.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = listen_s.parse().unwrap_or_else(|e| {
            errors.push(format!("listen address {listen_s:?}: {e} (expected host:port, e.g. {DEFAULT_LISTEN})"));
            UNUSED_ADDR
        });
        let emb_s = self
            .embedded_mqtt_listen
            .or(file.embedded_mqtt_listen)
            .unwrap_or_else(|| DEFAULT_EMBEDDED_MQTT_LISTEN.into());
        let embedded_mqtt_listen = emb_s.parse().unwrap_or_else(|e| {
            errors.push(format!("embedded MQTT listen address {emb_s:?}: {e} (expected host:port)"));
            UNUSED_ADDR
        });
        let tz_s = self.timezone.or(file.timezone).unwrap_or_else(|| DEFAULT_TIMEZONE.into());
        let timezone = tz_s.parse::<chrono_tz::Tz>().unwrap_or_else(|_| {
            errors.push(format!("timezone {tz_s:?} is not an IANA zone name (e.g. {DEFAULT_TIMEZONE})"));
            chrono_tz::UTC // never used: resolve fails
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
        let db_pool_size_ingest =
            self.db_pool_size_ingest.or(file.db_pool_size_ingest).unwrap_or(DEFAULT_DB_POOL_SIZE_INGEST);
        if db_pool_size_ingest < gateway.max_inflight_batches {
            errors.push(format!(
                "db_pool_size_ingest {db_pool_size_ingest} must be at least max_inflight_batches {} (each batch in \
                 flight holds one connection of the ingest pool)",
                gateway.max_inflight_batches
            ));
        }
        let db_pool_size_api = self.db_pool_size_api.or(file.db_pool_size_api).unwrap_or(DEFAULT_DB_POOL_SIZE_API);
        if db_pool_size_api == 0 {
            errors.push("db_pool_size_api must be at least 1".into());
        }
        let robustness_file = RobustnessArgs {
            store_attempts: file.store_attempts,
            queue_max_bytes: file.queue_max_bytes,
            batch_max_bytes: file.batch_max_bytes,
            dead_letter_retention_days: file.dead_letter_retention_days,
            dead_letter_max_bytes: file.dead_letter_max_bytes,
        };
        let dead_letters = self.robustness.resolve(robustness_file, &mut gateway, &mut errors);
        let calendar = calendar_with_dir(self.calendar_dir.or(file.calendar_dir).as_deref(), &mut errors);
        let data_dir = self.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let spool_on = !self.no_spool && self.spool.or(file.spool).unwrap_or(DEFAULT_SPOOL);
        let spool_max_bytes = self.spool_max_bytes.or(file.spool_max_bytes).unwrap_or(DEFAULT_SPOOL_MAX_BYTES);
        if spool_max_bytes == 0 {
            errors.push("spool_max_bytes must be at least 1".into());
        }
        let spool = spool_on.then(|| liftwatch_gateway::SpoolConfig {
            dir: self.spool_dir.or(file.spool_dir).unwrap_or_else(|| data_dir.join(DEFAULT_SPOOL_DIR_NAME)),
            max_bytes: spool_max_bytes,
        });
        let rules_interval_secs =
            self.rules_interval_secs.or(file.rules_interval_secs).unwrap_or(DEFAULT_RULES_INTERVAL_SECS);
        if rules_interval_secs == 0 {
            errors.push("rules_interval_secs must be at least 1".into());
        }
        let db_connect = liftwatch_store::postgres::ConnectOptions {
            connect_timeout: Duration::from_secs(
                self.db_connect_timeout_secs
                    .or(file.db_connect_timeout_secs)
                    .unwrap_or(DEFAULT_DB_CONNECT_TIMEOUT_SECS),
            ),
            statement_timeout: Duration::from_secs(
                self.db_statement_timeout_secs
                    .or(file.db_statement_timeout_secs)
                    .unwrap_or(DEFAULT_DB_STATEMENT_TIMEOUT_SECS),
            ),
            ca_file: self.database_ca_file.or(file.database_ca_file),
            ..Default::default()
        };
        if db_connect.connect_timeout.is_zero() {
            errors.push("db_connect_timeout_secs must be at least 1".into());
        }
        gateway.username = self.mqtt_username.or(file.mqtt_username).filter(|s| !s.is_empty());
        let mqtt_password = self.mqtt_password.or(file.mqtt_password);
        gateway.password = secret_from(
            "mqtt_password",
            mqtt_password,
            self.mqtt_password_file.or(file.mqtt_password_file),
            &mut errors,
        );
        gateway.ca_file = self.mqtt_ca_file.or(file.mqtt_ca_file);
        if gateway.password.is_some() && gateway.username.is_none() {
            errors.push("an MQTT password is set but no MQTT user name (--mqtt-username)".into());
        }
        if let Some(ca) = &gateway.ca_file {
            if !mqtt_url.as_deref().is_some_and(|u| u.starts_with("mqtts://")) {
                errors.push(format!("mqtt_ca_file {} needs an mqtts:// broker URL", ca.display()));
            }
        }
        let secs =
            |flag: Option<u64>, file: Option<u64>, default: u64| Duration::from_secs(flag.or(file).unwrap_or(default));
        let http = liftwatch_api::limits::HttpLimits {
            request_timeout: secs(
                self.http_request_timeout_secs,
                file.http_request_timeout_secs,
                DEFAULT_REQUEST_TIMEOUT_SECS,
            ),
            header_read_timeout: secs(
                self.http_header_read_timeout_secs,
                file.http_header_read_timeout_secs,
                DEFAULT_HEADER_READ_TIMEOUT_SECS,
            ),
            max_concurrent: self
                .http_max_concurrent_requests
                .or(file.http_max_concurrent_requests)
                .unwrap_or(DEFAULT_MAX_CONCURRENT_REQUESTS),
            writes_per_minute: self
                .http_writes_per_minute
                .or(file.http_writes_per_minute)
                .unwrap_or(DEFAULT_WRITES_PER_MINUTE),
            write_burst: self.http_write_burst.or(file.http_write_burst).unwrap_or(DEFAULT_WRITE_BURST),
        };
        for (name, zero) in [
            ("http_request_timeout_secs", http.request_timeout.is_zero()),
            ("http_header_read_timeout_secs", http.header_read_timeout.is_zero()),
            ("http_max_concurrent_requests", http.max_concurrent == 0),
            ("http_write_burst", http.write_burst == 0),
        ] {
            if zero {
                errors.push(format!("{name} must be at least 1"));
            }
        }
        let token_cache_ttl = secs(self.token_cache_ttl_secs, file.token_cache_ttl_secs, DEFAULT_TOKEN_CACHE_TTL_SECS);
        let regulator_token = self.regulator_token.or(file.regulator_token);
        let regulator_token = secret_from(
            "regulator_token",
            regulator_token,
            self.regulator_token_file.or(file.regulator_token_file),
            &mut errors,
        );
        if let Some(t) = &regulator_token {
            let n = t.chars().count();
            if n < MIN_REGULATOR_TOKEN_CHARS {
                errors.push(format!(
                    "the regulator token has {n} characters; it must have at least {MIN_REGULATOR_TOKEN_CHARS} \
                     (generate one with: openssl rand -hex 32)"
                ));
            }
        }
        let cfg = Config {
            rules_interval: Duration::from_secs(rules_interval_secs.max(1)),
            rules: file.rules.unwrap_or_default(),
            database_url,
            data_dir,
            mqtt_url,
            listen,
            embedded_mqtt_listen,
            regulator_token,
            timezone,
            gateway,
            db_pool_size_ingest,
            db_pool_size_api,
            timescaledb: self.timescaledb.or(file.timescaledb).unwrap_or(DEFAULT_TIMESCALEDB),
            spool,
            dead_letters,
            calendar,
            db_connect,
            http,
            token_cache_ttl,
        };
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(errors)
        }
    }
}

// ---------------------------------------------------------------------------
// Ingest robustness and dead-letter limits (issue 9, items 6, 9, 15): a block
// of its own (flags, defaults, resolution) so that it merges apart from the
// other settings.

/// Days a dead letter is kept after it was last seen.
pub const DEFAULT_DEAD_LETTER_RETENTION_DAYS: u32 = 90;
/// Bytes (topic + reason + stored payload) all dead letters may take; the
/// oldest are pruned beyond it, so an unregistered publisher cannot fill the disk.
pub const DEFAULT_DEAD_LETTER_MAX_BYTES: u64 = 1024 * 1024 * 1024;

/// How long and how much dead letters are kept (pruned by `serve`, oldest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeadLetterLimits {
    /// Kept this long after last seen.
    pub retention: Duration,
    /// All dead letters together at most this many bytes.
    pub max_bytes: u64,
}

/// Flags of `serve` for ingest robustness and dead-letter limits.
#[derive(Args, Default, Clone, Debug)]
pub struct RobustnessArgs {
    /// Transient store failures of a batch (while the database answers) before it is split.
    #[arg(long, env = "LIFTWATCH_STORE_ATTEMPTS", help = help(
        "Transient store failures of a batch (while the database answers) before it is split to isolate the \
         message at fault", DEFAULT_STORE_ATTEMPTS))]
    pub store_attempts: Option<u32>,
    /// Bytes (topic + payload) buffered between the MQTT source and the batcher.
    #[arg(long, env = "LIFTWATCH_QUEUE_MAX_BYTES", help = help(
        "Bytes (topic + payload) buffered between the MQTT source and the batcher", DEFAULT_QUEUE_MAX_BYTES))]
    pub queue_max_bytes: Option<u64>,
    /// Flush a batch at this many bytes (topic + payload).
    #[arg(long, env = "LIFTWATCH_BATCH_MAX_BYTES", help = help(
        "Flush a batch at this many bytes (topic + payload)", DEFAULT_BATCH_MAX_BYTES))]
    pub batch_max_bytes: Option<u64>,
    /// Days a dead letter is kept after it was last seen.
    #[arg(long, env = "LIFTWATCH_DEAD_LETTER_RETENTION_DAYS", help = help(
        "Days a dead letter is kept after it was last seen", DEFAULT_DEAD_LETTER_RETENTION_DAYS))]
    pub dead_letter_retention_days: Option<u32>,
    /// Bytes all dead letters may take; the oldest are pruned beyond it.
    #[arg(long, env = "LIFTWATCH_DEAD_LETTER_MAX_BYTES", help = help(
        "Bytes all dead letters may take; the oldest are pruned beyond it", DEFAULT_DEAD_LETTER_MAX_BYTES))]
    pub dead_letter_max_bytes: Option<u64>,
}

impl RobustnessArgs {
    /// Layers these flags over the file's keys (`file`) over the defaults
    /// into `gateway`; returns the dead-letter limits; problems go to `errors`.
    fn resolve(
        self,
        file: RobustnessArgs,
        gateway: &mut liftwatch_gateway::GatewayConfig,
        errors: &mut Vec<String>,
    ) -> DeadLetterLimits {
        let mut at_least_1 = |name: &str, v: u64| {
            if v == 0 {
                errors.push(format!("{name} must be at least 1"));
            }
            v.max(1)
        };
        let attempts = self.store_attempts.or(file.store_attempts).unwrap_or(DEFAULT_STORE_ATTEMPTS);
        gateway.store_attempts = u32::try_from(at_least_1("store_attempts", attempts.into())).unwrap_or(1);
        let queue = self.queue_max_bytes.or(file.queue_max_bytes).unwrap_or(DEFAULT_QUEUE_MAX_BYTES);
        gateway.queue_max_bytes = at_least_1("queue_max_bytes", queue);
        let batch = self.batch_max_bytes.or(file.batch_max_bytes).unwrap_or(DEFAULT_BATCH_MAX_BYTES);
        gateway.batch_max_bytes = at_least_1("batch_max_bytes", batch);
        let days = self
            .dead_letter_retention_days
            .or(file.dead_letter_retention_days)
            .unwrap_or(DEFAULT_DEAD_LETTER_RETENTION_DAYS);
        let days = at_least_1("dead_letter_retention_days", days.into());
        let max_bytes =
            self.dead_letter_max_bytes.or(file.dead_letter_max_bytes).unwrap_or(DEFAULT_DEAD_LETTER_MAX_BYTES);
        let max_bytes = at_least_1("dead_letter_max_bytes", max_bytes);
        DeadLetterLimits { retention: Duration::from_secs(days * 86_400), max_bytes }
    }
}

// ---------------------------------------------------------------------------
// Attachment 2 (issue 14): the working-day calendar of the upload deadlines,
// a block of its own so that it merges apart from the other settings.

/// The shipped calendar files, then every `*.toml` file of `dir` (by name),
/// each replacing or adding the year it covers. Every file that cannot be
/// read or is wrong, and a year given twice in `dir`, is an error.
pub fn calendar_with_dir(
    dir: Option<&std::path::Path>,
    errors: &mut Vec<String>,
) -> liftwatch_core::inspection::WorkCalendar {
    let mut cal = liftwatch_core::inspection::WorkCalendar::shipped();
    let Some(dir) = dir else { return cal };
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            errors.push(format!("calendar_dir {}: {e}", dir.display()));
            return cal;
        }
    };
    files.sort();
    let mut seen: std::collections::BTreeMap<i32, PathBuf> = Default::default();
    for f in files {
        let loaded = std::fs::read_to_string(&f).map_err(|e| e.to_string()).and_then(|text| {
            liftwatch_core::inspection::CalendarYear::parse(&text).map_err(|e| e.to_string()).map(|y| (y.year, text))
        });
        match loaded {
            Ok((year, _)) if seen.contains_key(&year) => errors.push(format!(
                "calendar file {}: {year} is also in {}: keep one file per year",
                f.display(),
                seen[&year].display()
            )),
            Ok((year, text)) => {
                // Parsed just above: loading it cannot fail.
                let _ = cal.load(&text);
                seen.insert(year, f);
            }
            Err(e) => errors.push(format!("calendar file {}: {e}", f.display())),
        }
    }
    cal
}

#[cfg(test)]
mod calendar_tests {
    use super::*;

    /// A file of the folder replaces its year, another adds one; a wrong
    /// file, a year given twice and a missing folder are errors, all at once.
    #[test]
    fn calendar_dir_replaces_and_adds_years_and_reports_every_bad_file() {
        let dir = std::env::temp_dir().join(format!("lw-cal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let year = |y: i32, extra: &str| {
            format!("year = {y}\nsource = \"test\"\nholidays = [\"{y}-03-04\"]\nworking_weekends = []\n{extra}")
        };
        std::fs::write(dir.join("cn-2024.toml"), year(2024, "")).unwrap();
        std::fs::write(dir.join("cn-2031.toml"), year(2031, "")).unwrap();
        std::fs::write(dir.join("README.md"), "not a calendar").unwrap();
        let c = ServeArgs { calendar_dir: Some(dir.clone()), ..Default::default() }.resolve().unwrap();
        let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
        // 2024-10-01 was National Day in the shipped file; the replacement has only Monday 4 March off.
        assert_eq!(c.calendar.is_working_day(d("2024-10-01")), Ok(true));
        assert_eq!(c.calendar.is_working_day(d("2024-03-04")), Ok(false));
        assert_eq!(c.calendar.is_working_day(d("2031-03-03")), Ok(true), "2031 added");
        assert_eq!(c.calendar.is_working_day(d("2025-10-01")), Ok(false), "other years stay shipped");
        std::fs::write(dir.join("cn-2031b.toml"), year(2031, "")).unwrap();
        std::fs::write(dir.join("cn-2032.toml"), year(2032, "surprise = 1\n")).unwrap();
        let errs = ServeArgs { calendar_dir: Some(dir.clone()), ..Default::default() }.resolve().unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert!(errs[0].contains("cn-2031b.toml") && errs[0].contains("also in"), "{errs:?}");
        assert!(errs[1].contains("cn-2032.toml") && errs[1].contains("surprise"), "{errs:?}");
        std::fs::remove_dir_all(&dir).unwrap();
        let errs = ServeArgs { calendar_dir: Some(dir), ..Default::default() }.resolve().unwrap_err();
        assert!(errs[0].contains("calendar_dir"), "{errs:?}");
        let shipped = ServeArgs::default().resolve().unwrap().calendar;
        assert_eq!(shipped, liftwatch_core::inspection::WorkCalendar::shipped());
    }
}

#[cfg(test)]
mod robustness_tests {
    use super::*;

    /// The defaults apply, and a flag, the environment or the file set each one.
    #[test]
    fn robustness_defaults_and_flags() {
        let cfg = ServeArgs { database_url: Some("postgres://h/db".into()), ..Default::default() }.resolve().unwrap();
        assert_eq!(cfg.gateway.store_attempts, DEFAULT_STORE_ATTEMPTS);
        assert_eq!(cfg.gateway.queue_max_bytes, DEFAULT_QUEUE_MAX_BYTES);
        assert_eq!(cfg.gateway.batch_max_bytes, DEFAULT_BATCH_MAX_BYTES);
        assert_eq!(cfg.dead_letters.max_bytes, DEFAULT_DEAD_LETTER_MAX_BYTES);
        assert_eq!(cfg.dead_letters.retention, Duration::from_secs(90 * 86_400));
        let robustness = RobustnessArgs {
            store_attempts: Some(5),
            queue_max_bytes: Some(1000),
            batch_max_bytes: Some(100),
            dead_letter_retention_days: Some(7),
            dead_letter_max_bytes: Some(10_000),
        };
        let cfg = ServeArgs { robustness, ..Default::default() }.resolve().unwrap();
        assert_eq!(
            (cfg.gateway.store_attempts, cfg.gateway.queue_max_bytes, cfg.gateway.batch_max_bytes),
            (5, 1000, 100)
        );
        assert_eq!(
            cfg.dead_letters,
            DeadLetterLimits { retention: Duration::from_secs(7 * 86_400), max_bytes: 10_000 }
        );
        let zero = RobustnessArgs { store_attempts: Some(0), dead_letter_max_bytes: Some(0), ..Default::default() };
        let errors = ServeArgs { robustness: zero, ..Default::default() }.resolve().unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_is_on_by_default_in_the_data_dir_and_can_be_turned_off() {
        let c = ServeArgs { data_dir: Some("/srv/lw".into()), ..Default::default() }.resolve().unwrap();
        let s = c.spool.unwrap();
        assert_eq!(s.dir, PathBuf::from("/srv/lw").join(DEFAULT_SPOOL_DIR_NAME));
        assert_eq!(s.max_bytes, DEFAULT_SPOOL_MAX_BYTES);
        let off = ServeArgs { spool: Some(false), ..Default::default() }.resolve().unwrap();
        assert!(off.spool.is_none());
        // --no-spool wins over LIFTWATCH_SPOOL=true.
        let a = ServeArgs { no_spool: true, spool: Some(true), ..Default::default() };
        assert!(a.resolve().unwrap().spool.is_none());
        let a = ServeArgs { spool_max_bytes: Some(0), ..Default::default() };
        assert_eq!(a.resolve().unwrap_err().len(), 1);
    }

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
    fn the_rules_thresholds_come_from_the_files_rules_table_and_unknown_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("lw-rules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("liftwatch.toml");
        std::fs::write(&f, "rules_interval_secs = 5\n[rules.hysteresis]\nclear_for_minutes = 120\n").unwrap();
        let c = ServeArgs { config: Some(f.clone()), ..Default::default() }.resolve().unwrap();
        assert_eq!(c.rules_interval, Duration::from_secs(5));
        assert_eq!(c.rules.hysteresis.clear_for_minutes, 120);
        assert_eq!(c.rules.plan, liftwatch_core::rules::RulesConfig::default().plan, "the rest: the notice's defaults");
        std::fs::write(&f, "[rules.plan]\nonsite_months = 9\n").unwrap();
        let errs = ServeArgs { config: Some(f), ..Default::default() }.resolve().unwrap_err();
        assert!(errs[0].contains("onsite_months"), "{errs:?}");
        let d = ServeArgs::default().resolve().unwrap();
        assert_eq!(d.rules_interval, Duration::from_secs(DEFAULT_RULES_INTERVAL_SECS));
        std::fs::remove_dir_all(dir).unwrap();
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

    const DB: &str = "postgres://u:pw-db-123@h/db";
    const MQTT: &str = "mqtt://u:pw-mqtt-456@h:1883";
    const TOKEN: &str = "tok-regulator-789-of-at-least-32-characters";

    /// Protects item 13 of issue 9: a short regulator token refuses to
    /// start, saying how long it must be (and never what it is).
    #[test]
    fn a_regulator_token_shorter_than_32_characters_is_refused() {
        let short = "change-me-now";
        let errs = ServeArgs { regulator_token: Some(short.into()), ..Default::default() }.resolve().unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert!(errs[0].contains("at least 32") && !errs[0].contains(short), "{errs:#?}");
        let ok = "x".repeat(MIN_REGULATOR_TOKEN_CHARS);
        assert!(ServeArgs { regulator_token: Some(ok), ..Default::default() }.resolve().is_ok());
    }

    fn assert_no_secret(text: &str) {
        for s in ["pw-db-123", "pw-mqtt-456", TOKEN] {
            assert!(!text.contains(s), "{s:?} shown in {text}");
        }
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let a = ServeArgs {
            database_url: Some(DB.into()),
            mqtt_url: Some(MQTT.into()),
            regulator_token: Some(TOKEN.into()),
            ..Default::default()
        };
        let args = format!("{a:?}");
        assert_no_secret(&args);
        let cfg = a.resolve().unwrap();
        let text = format!("{cfg:?}");
        assert_no_secret(&text);
        assert_no_secret(&format!("{cfg:#?}"));
        // Still useful: where it connects, and that a token is set.
        assert!(text.contains("postgres://u:***@h/db"), "{text}");
        assert!(text.contains("mqtt://u:***@h:1883"), "{text}");
        assert!(text.contains("regulator_token: Some(\"***\")"), "{text}");
        assert!(args.contains("regulator_token: Some(\"***\")"), "{args}");
    }

    #[test]
    fn error_messages_show_no_secret() {
        let a = ServeArgs {
            database_url: Some("mysql://u:pw-db-123@h/db".into()),
            mqtt_url: Some("http://u:pw-mqtt-456@h:1883".into()),
            regulator_token: Some(TOKEN.into()),
            ..Default::default()
        };
        let errs = a.resolve().unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert_no_secret(&errs.join("\n"));
        assert!(errs[0].contains("mysql://u:***@h/db"), "{errs:#?}");
        // A broken file: the TOML error would quote the line with the secret.
        let dir = std::env::temp_dir().join(format!("lw-cfg-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("liftwatch.toml");
        std::fs::write(&f, format!("regulator_token = \"{TOKEN}\"\ndatabase_url = {DB}\n")).unwrap();
        let errs = ServeArgs { config: Some(f), ..Default::default() }.resolve().unwrap_err();
        assert_no_secret(&errs.join("\n"));
        assert!(errs[0].contains("(line 2)"), "{errs:#?}");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Protects item 14 of issue 9: each secret can come from a file (its
    /// trailing line break dropped), which keeps it out of the process list;
    /// neither `Debug` nor an error shows what the file holds.
    #[test]
    fn secrets_are_read_from_files_and_never_shown() {
        let dir = std::env::temp_dir().join(format!("lw-cfg-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            Some(p)
        };
        let a = ServeArgs {
            database_url_file: write("db", &format!("{DB}\n")),
            regulator_token_file: write("token", &format!("{TOKEN}\r\n")),
            mqtt_url: Some("mqtt://h:1883".into()),
            mqtt_username: Some("liftwatch-gateway".into()),
            mqtt_password_file: write("mqtt", "pw-mqtt-456\n"),
            ..Default::default()
        };
        assert_no_secret(&format!("{a:?}"));
        let c = a.resolve().unwrap();
        assert_eq!(c.database_url.as_deref(), Some(DB));
        assert_eq!(c.regulator_token.as_deref(), Some(TOKEN));
        assert_eq!(c.gateway.password.as_deref(), Some("pw-mqtt-456"));
        assert_no_secret(&format!("{c:?}"));
        assert_no_secret(&format!("{c:#?}"));
        // Both ways at once, or a missing file: named, never shown.
        let both = ServeArgs {
            regulator_token: Some(TOKEN.into()),
            regulator_token_file: write("token2", TOKEN),
            database_url_file: Some(dir.join("missing")),
            ..Default::default()
        };
        let errs = both.resolve().unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert!(errs.iter().any(|e| e.contains("both directly and in the file")), "{errs:#?}");
        assert!(errs.iter().any(|e| e.contains("missing")), "{errs:#?}");
        assert_no_secret(&errs.join("\n"));
        // A short token from a file is refused as one given directly.
        let short = ServeArgs { regulator_token_file: write("short", "short\n"), ..Default::default() };
        assert!(short.resolve().unwrap_err()[0].contains("at least 32"));
        let _ = std::fs::remove_dir_all(dir);
    }

    /// clap prints an environment variable's value in `--help` unless told not to.
    #[test]
    fn help_does_not_print_secret_environment_values() {
        use clap::Args as _;
        let cmd = ServeArgs::augment_args(clap::Command::new("serve"));
        for id in ["database_url", "mqtt_url", "regulator_token", "mqtt_password"] {
            let arg = cmd.get_arguments().find(|a| a.get_id() == id).unwrap();
            assert!(arg.is_hide_env_values_set(), "{id}");
        }
    }

    #[test]
    fn redact_text_masks_every_url_password() {
        assert_eq!(
            redact_text("a postgres://u:p@h/db and \"mqtt://v:q@h:1\" end"),
            "a postgres://u:***@h/db and \"mqtt://v:***@h:1\" end"
        );
        assert_eq!(redact_text("url=mqtt://v:q@h"), "url=mqtt://v:***@h");
        assert_eq!(redact_text("no url here"), "no url here");
    }
}
