//! `barter.toml` and `BARTER_*` environment overrides, resolved into one validated [`Config`].
//!
//! Precedence: built-in defaults < the file < `BARTER_*` variables < command-line flags. Nested
//! keys use `__` in variable names (`BARTER_SOURCES__COINGECKO__PLAN=pro`). Secrets never live in
//! the file: the CoinGecko key comes only from `BARTER_COINGECKO_API_KEY`.

use std::path::{Path, PathBuf};

use barter_core::Money;
use barter_core::execution::{FillModel, FillTiming, QuantityRounding};
use barter_core::order::AccountLimits;
use barter_core::strategy::StrategyConfig;
use barter_sources::{AlpacaConfig, BinanceConfig, CoinGeckoConfig, SampleConfig};
use figment::Figment;
use figment::providers::{Env, Serialized};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The file used when neither `--config` nor `BARTER_CONFIG` names one.
pub const DEFAULT_CONFIG_FILE: &str = "barter.toml";
/// The database used when the config names none: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://barter.db";
/// The environment variable holding the CoinGecko API key.
pub use barter_sources::coingecko::API_KEY_ENV as COINGECKO_API_KEY_VAR;

/// The environment variable holding the Alpaca key id (market data and trading).
pub use barter_sources::alpaca::KEY_ID_ENV as ALPACA_KEY_ID_VAR;

/// The environment variable holding the Alpaca secret key (market data and trading).
pub use barter_sources::alpaca::SECRET_KEY_ENV as ALPACA_SECRET_KEY_VAR;

/// Everything Barter can be configured with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `sqlite://FILE` (default `sqlite://barter.db`) or `postgres://USER@HOST/DB`.
    pub database_url: String,
    /// Candle sync settings.
    pub sync: SyncConfig,
    /// Per-source settings.
    pub sources: SourcesConfig,
    /// The paper account.
    pub account: AccountConfig,
    /// `[accounts.NAME]`: accounts at venues that strategies trade through (`account = NAME`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub accounts: std::collections::BTreeMap<String, crate::accounts::AccountSettings>,
    /// The paper broker's costs and fill timing.
    pub broker: BrokerConfig,
    /// The strategies (`[[strategies]]`).
    pub strategies: Vec<StrategyConfig>,
    /// `barter serve`.
    pub server: ServerConfig,
    /// The built-in scheduler of `barter serve` (cron expressions in UTC).
    pub schedule: crate::schedule::ScheduleConfig,
    /// `[[notify]]`: where notifications go (webhook, Telegram, Slack, Discord, e-mail, ntfy).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<crate::notify_config::ChannelConfig>,
}

/// `[server]`: `barter serve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Where to listen (`--bind` overrides it); loopback by default.
    pub bind: String,
    /// How long a job route waits for its job before answering 202 with the run id.
    pub job_wait_secs: u64,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long positions and candles answers are reused, in milliseconds (0: never).
    pub read_cache_ms: u64,
    /// How long a client may take to send a request's headers, in seconds, and its body as
    /// long again; an idle keep-alive connection is closed after as long.
    pub header_timeout_secs: u64,
    /// The most connections served at once; further ones wait to be accepted.
    pub max_connections: usize,
    /// Proxies (IP addresses or CIDR blocks) whose `X-Forwarded-For` and `X-Forwarded-Proto`
    /// are believed; empty: none, the peer is the client.
    pub trusted_proxies: Vec<String>,
    /// How many `POST /api/backtests` run at once.
    pub backtests_running: usize,
    /// How many more wait for their turn; beyond that the API answers 429.
    pub backtests_queued: usize,
    /// The address people reach the dashboard at (`https://barter.example.com`), for the links
    /// in notifications; none: notifications carry no links.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".to_owned(),
            job_wait_secs: 600,
            max_body_bytes: 64 * 1024,
            read_cache_ms: 1_000,
            header_timeout_secs: 10,
            max_connections: 512,
            trusted_proxies: Vec::new(),
            backtests_running: 1,
            backtests_queued: 4,
            public_url: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            sync: SyncConfig::default(),
            sources: SourcesConfig::default(),
            account: AccountConfig::default(),
            accounts: std::collections::BTreeMap::new(),
            broker: BrokerConfig::default(),
            strategies: Vec::new(),
            server: ServerConfig::default(),
            schedule: crate::schedule::ScheduleConfig::default(),
            notify: Vec::new(),
        }
    }
}

/// `[account]`: the paper account and its limits on new entries (absent: no limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountConfig {
    /// Cash the account starts with (fixed when the account is first created in the database).
    pub initial_cash: Decimal,
    /// The largest value one entry may have (its cost, fee included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_order_notional: Option<Decimal>,
    /// The largest total value of the entries opened in one UTC day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_daily_notional: Option<Decimal>,
    /// The most positions open at once, over all strategies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_open_positions: Option<u32>,
    /// The cash an entry must leave untouched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_free_balance: Option<Decimal>,
}

impl Default for AccountConfig {
    fn default() -> Self {
        Self {
            initial_cash: Decimal::from(10_000),
            max_order_notional: None,
            max_daily_notional: None,
            max_open_positions: None,
            min_free_balance: None,
        }
    }
}

impl AccountConfig {
    /// The limits the trade job checks every entry against.
    pub fn limits(&self) -> AccountLimits {
        AccountLimits {
            max_order_notional: self.max_order_notional.map(Money),
            max_daily_notional: self.max_daily_notional.map(Money),
            max_open_positions: self.max_open_positions,
            min_free_balance: self.min_free_balance.map(Money),
        }
    }
}

/// `[broker]`: the paper broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    /// Fee per fill, in basis points of its value (10 = 0.1 %).
    pub fee_bps: Decimal,
    /// Slippage against the trader, in basis points of the price.
    pub slippage_bps: Decimal,
    /// `next-open` (default) or `close`.
    pub fill: FillTiming,
    /// `{ fractional = 8 }` (default) or `"whole_units"`.
    pub quantity: QuantityRounding,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            fee_bps: Decimal::from(10),
            slippage_bps: Decimal::from(5),
            fill: FillTiming::NextOpen,
            quantity: QuantityRounding::default(),
        }
    }
}

impl BrokerConfig {
    /// The fill model these settings describe.
    ///
    /// # Errors
    /// When a cost is outside 0–10 000 bps.
    pub fn fill_model(&self) -> Result<FillModel, ConfigError> {
        FillModel::new(self.fee_bps, self.slippage_bps, self.fill, self.quantity).map_err(|e| {
            ConfigError::Value {
                key: if e.name == "fee_bps" {
                    "broker.fee_bps"
                } else {
                    "broker.slippage_bps"
                },
                message: e.to_string(),
            }
        })
    }
}

/// `[sync]`: how candle sync behaves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// How many days the first sync of an instrument fetches; absent means all the source gives.
    pub backfill_days: Option<u32>,
}

/// `[sources.*]`: one table per data source kind.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourcesConfig {
    /// `[sources.sample]`.
    pub sample: SampleConfig,
    /// `[sources.coingecko]`.
    pub coingecko: CoinGeckoConfig,
    /// `[sources.binance]`.
    pub binance: BinanceConfig,
    /// `[sources.alpaca]`.
    pub alpaca: AlpacaConfig,
    /// `[sources.csv]`.
    pub csv: CsvConfig,
}

/// `[sources.csv]`: where CSV instruments added through the API or the dashboard may read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsvConfig {
    /// The data folder; default: `data/` next to the SQLite file (or in the working directory
    /// for PostgreSQL). The command line may name a file anywhere.
    pub root: Option<PathBuf>,
}

impl Config {
    /// The folder CSV files added over the network must be in (see [`CsvConfig::root`]).
    pub fn csv_root(&self) -> PathBuf {
        self.sources
            .csv
            .root
            .clone()
            .unwrap_or_else(|| crate::data_files::default_root(&self.database_url))
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The named file does not exist or cannot be read.
    #[error("cannot read config file {path}: {error}; run `barter init` to create one")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error; in the message, not a separate cause (`{:#}` would print it twice).
        error: std::io::Error,
    },
    /// The file is not valid TOML or has a wrong key or value.
    #[error("invalid config file {path}, line {line}{}: {message}", key.as_ref().map(|k| format!(", key `{k}`")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// The dotted key at fault, when it can be told.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A `BARTER_*` variable has a wrong value.
    #[error("invalid environment override: {0}")]
    Environment(String),
    /// A named account cannot work.
    #[error("invalid config: {0}")]
    Account(#[from] crate::accounts::AccountError),
    /// A value is out of its allowed range.
    #[error("invalid config value `{key}`: {message}")]
    Value {
        /// The dotted key.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// A loaded configuration and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The resolved settings.
    pub config: Config,
    /// The file read, if one existed.
    pub file: Option<PathBuf>,
}

/// Resolves which config file to read: the flag, else `BARTER_CONFIG`, else `./barter.toml`.
pub fn config_path(flag: Option<&Path>) -> (PathBuf, bool) {
    if let Some(path) = flag {
        return (path.to_owned(), true);
    }
    match std::env::var_os("BARTER_CONFIG") {
        Some(path) if !path.is_empty() => (PathBuf::from(path), true),
        _ => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
    }
}

/// Loads the configuration: defaults, then the file (if present), then `BARTER_*` variables.
///
/// An explicitly named file (`explicit`) must exist; the default `./barter.toml` may be absent.
///
/// # Errors
/// [`ConfigError`] naming the file, line and key for a bad file, or the variable for a bad override.
pub fn load(path: &Path, explicit: bool) -> Result<LoadedConfig, ConfigError> {
    let (from_file, file) = match std::fs::read_to_string(path) {
        Ok(text) => (parse_file(path, &text)?, Some(path.to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            (Config::default(), None)
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                error: source,
            });
        }
    };
    // Only configuration keys: BARTER_CONFIG, BARTER_LOG and secrets are read elsewhere.
    let env = Env::prefixed("BARTER_").split("__").filter(|key| {
        let key = key.as_str().to_ascii_lowercase();
        key == "database_url"
            || [
                "sync.",
                "sources.",
                "account.",
                "broker.",
                "server.",
                "schedule.",
            ]
            .iter()
            .any(|p| key.starts_with(p))
    });
    let mut config: Config = Figment::from(Serialized::defaults(from_file))
        .merge(env)
        .extract()
        .map_err(|e| ConfigError::Environment(e.to_string()))?;
    config.sources.coingecko.api_key = std::env::var(COINGECKO_API_KEY_VAR)
        .ok()
        .filter(|key| !key.trim().is_empty());
    config.sources.alpaca.key_id = std::env::var(ALPACA_KEY_ID_VAR)
        .ok()
        .filter(|key| !key.trim().is_empty());
    config.sources.alpaca.secret_key = std::env::var(ALPACA_SECRET_KEY_VAR)
        .ok()
        .filter(|key| !key.trim().is_empty());
    validate(&config)?;
    Ok(LoadedConfig { config, file })
}

/// Parses the file's text, turning TOML/serde errors into file:line:key messages.
///
/// # Errors
/// [`ConfigError::Invalid`].
pub fn parse_file(path: &Path, text: &str) -> Result<Config, ConfigError> {
    toml::from_str::<Config>(text).map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start);
        let (line, key) = locate(text, offset);
        let mut message = error.message().trim().to_owned();
        if message.contains("api_key") {
            message.push_str(&format!(
                "; secrets are read only from the environment: set {COINGECKO_API_KEY_VAR}"
            ));
        } else if message.contains("key_id") || message.contains("secret_key") {
            message.push_str(&format!(
                "; secrets are read only from the environment: set {ALPACA_KEY_ID_VAR} and {ALPACA_SECRET_KEY_VAR}"
            ));
        }
        ConfigError::Invalid {
            path: path.to_owned(),
            line,
            key,
            message,
        }
    })
}

/// The 1-based line of `offset` and the dotted key defined on that line (table + key).
fn locate(text: &str, offset: usize) -> (usize, Option<String>) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let mut table: Option<String> = None;
    for l in before.lines() {
        let t = l.trim();
        if t.starts_with('[') && t.ends_with(']') {
            table = Some(t.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
        }
    }
    let this_line = text.lines().nth(line - 1).unwrap_or("").trim();
    let key = this_line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_owned())
        .filter(|k| !k.is_empty() && !k.starts_with('#'));
    let dotted = match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k),
        (Some(t), None) if this_line.starts_with('[') => Some(t),
        _ => None,
    };
    (line, dotted)
}

/// Checks the `[server]` limits: each at least 1, every trusted proxy an address or a block.
fn validate_server(server: &ServerConfig) -> Result<(), ConfigError> {
    let positive = [
        (
            "server.header_timeout_secs",
            server.header_timeout_secs == 0,
        ),
        ("server.max_connections", server.max_connections == 0),
        ("server.backtests_running", server.backtests_running == 0),
    ];
    if let Some((key, _)) = positive.iter().find(|(_, zero)| *zero) {
        return Err(ConfigError::Value {
            key,
            message: "must be at least 1".into(),
        });
    }
    for entry in &server.trusted_proxies {
        parse_trusted_proxy(entry).map_err(|message| ConfigError::Value {
            key: "server.trusted_proxies",
            message,
        })?;
    }
    if let Some(url) = &server.public_url {
        let parsed = barter_http::Url::parse(url).ok().filter(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some() && url.len() <= 200
        });
        if parsed.is_none() {
            return Err(ConfigError::Value {
                key: "server.public_url",
                message: format!(
                    "`{}` is not an http(s) URL of at most 200 characters (e.g. https://barter.example.com)",
                    barter_http::excerpt(url)
                ),
            });
        }
    }
    Ok(())
}

/// Parses one `[server] trusted_proxies` entry: an address (`10.0.0.1`, `fdaa::1`) or a CIDR
/// block (`10.0.0.0/8`); the server builds its proxy list with this too, so both agree.
///
/// # Errors
/// Names the entry when it is neither.
pub fn parse_trusted_proxy(entry: &str) -> Result<ipnet::IpNet, String> {
    let text = entry.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{entry}` is not an IP address or a CIDR block (e.g. 10.0.0.0/8)"))
}

/// Checks the app's own settings; each source checks its table when it is built (see
/// [`crate::SourceSet::from_config`]), so a bad `[sources.binance]` only affects Binance instruments.
fn validate(config: &Config) -> Result<(), ConfigError> {
    if config.database_url.trim().is_empty() {
        return Err(ConfigError::Value {
            key: "database_url",
            message: "must not be empty".into(),
        });
    }
    config.broker.fill_model()?;
    if let Some(problem) = crate::notify_config::check(&config.notify)
        .into_iter()
        .next()
    {
        return Err(ConfigError::Value {
            key: "notify",
            message: problem,
        });
    }
    for (name, account) in &config.accounts {
        account.validate(name)?;
    }
    for strategy in &config.strategies {
        if let Some(account) = &strategy.account
            && account != barter_core::order::PAPER
            && !config.accounts.contains_key(account)
        {
            return Err(ConfigError::Account(crate::accounts::AccountError {
                account: barter_http::excerpt(account),
                message: format!(
                    "strategy `{}` trades through it, but there is no [accounts.{}] table (or \
                     leave `account` out to trade on paper)",
                    barter_http::excerpt(&strategy.name),
                    barter_http::excerpt(account)
                ),
            }));
        }
    }
    if config.account.initial_cash <= Decimal::ZERO {
        return Err(ConfigError::Value {
            key: "account.initial_cash",
            message: "must be greater than 0".into(),
        });
    }
    if config.server.bind.parse::<std::net::SocketAddr>().is_err() {
        return Err(ConfigError::Value {
            key: "server.bind",
            message: format!(
                "`{}` is not an address with a port, e.g. 127.0.0.1:8080",
                config.server.bind
            ),
        });
    }
    validate_server(&config.server)?;
    if let Err(error) = crate::schedule::Schedule::from_config(&config.schedule) {
        return Err(ConfigError::Value {
            key: "schedule",
            message: error.to_string(),
        });
    }
    if config.sync.backfill_days == Some(0) {
        return Err(ConfigError::Value {
            key: "sync.backfill_days",
            message: "must be at least 1 (leave it out for all history)".into(),
        });
    }
    validate_ranges(config)
}

/// The largest starting cash accepted (10^18): far above any account, far below where sizing
/// arithmetic on exact decimals could overflow.
const MAX_INITIAL_CASH: u64 = 1_000_000_000_000_000_000;

/// A number out of its allowed range, named by its key.
fn out_of_range(key: &'static str, value: impl std::fmt::Display, range: &str) -> ConfigError {
    ConfigError::Value {
        key,
        message: format!("{value} is out of range: allowed {range}"),
    }
}

/// Checks an integer setting against `min..=max`.
fn int_in(key: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(out_of_range(key, value, &format!("{min} to {max}")))
    }
}

/// Checks a seconds setting: a finite number within `min..=max` (`nan` and `inf` are refused).
fn secs_in(key: &'static str, value: f64, min: f64, max: f64) -> Result<(), ConfigError> {
    if value.is_finite() && (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(out_of_range(key, value, &format!("{min} to {max} seconds")))
    }
}

/// Every numeric setting within a range that makes sense, so a typo (`timeout_secs = nan`,
/// `requests_per_minute = 0`, `max_retries = 4000000000`) is refused when the config is loaded
/// rather than hanging or spinning later. The ranges are listed in SECURITY.md.
fn validate_ranges(config: &Config) -> Result<(), ConfigError> {
    let cg = &config.sources.coingecko;
    int_in(
        "sources.coingecko.requests_per_minute",
        cg.requests_per_minute.into(),
        1,
        10_000,
    )?;
    secs_in(
        "sources.coingecko.timeout_secs",
        cg.timeout_secs,
        0.1,
        600.0,
    )?;
    int_in(
        "sources.coingecko.max_retries",
        cg.max_retries.into(),
        0,
        20,
    )?;
    secs_in(
        "sources.coingecko.backoff_base_secs",
        cg.backoff_base_secs,
        0.0,
        600.0,
    )?;
    secs_in(
        "sources.coingecko.max_retry_wait_secs",
        cg.max_retry_wait_secs,
        0.0,
        3_600.0,
    )?;
    let bn = &config.sources.binance;
    int_in(
        "sources.binance.requests_per_minute",
        bn.requests_per_minute.into(),
        1,
        10_000,
    )?;
    secs_in("sources.binance.timeout_secs", bn.timeout_secs, 0.1, 600.0)?;
    int_in("sources.binance.max_retries", bn.max_retries.into(), 0, 20)?;
    secs_in(
        "sources.binance.backoff_base_secs",
        bn.backoff_base_secs,
        0.0,
        600.0,
    )?;
    secs_in(
        "sources.binance.max_retry_wait_secs",
        bn.max_retry_wait_secs,
        0.0,
        3_600.0,
    )?;
    let ap = &config.sources.alpaca;
    // Alpaca's free data plan allows 200 requests a minute; paid plans allow 10,000.
    int_in(
        "sources.alpaca.requests_per_minute",
        ap.requests_per_minute.into(),
        1,
        10_000,
    )?;
    secs_in("sources.alpaca.timeout_secs", ap.timeout_secs, 0.1, 600.0)?;
    int_in("sources.alpaca.max_retries", ap.max_retries.into(), 0, 20)?;
    secs_in(
        "sources.alpaca.backoff_base_secs",
        ap.backoff_base_secs,
        0.0,
        600.0,
    )?;
    secs_in(
        "sources.alpaca.max_retry_wait_secs",
        ap.max_retry_wait_secs,
        0.0,
        3_600.0,
    )?;
    if let Some(days) = config.sync.backfill_days {
        int_in("sync.backfill_days", days.into(), 1, 36_500)?;
    }
    if let Some(days) = config.schedule.catch_up_days {
        int_in("schedule.catch_up_days", days.into(), 0, 366)?;
    }
    let server = &config.server;
    int_in("server.job_wait_secs", server.job_wait_secs, 0, 86_400)?;
    int_in(
        "server.max_body_bytes",
        server.max_body_bytes as u64,
        1_024,
        16 * 1024 * 1024,
    )?;
    int_in("server.read_cache_ms", server.read_cache_ms, 0, 3_600_000)?;
    int_in(
        "server.header_timeout_secs",
        server.header_timeout_secs,
        1,
        3_600,
    )?;
    int_in(
        "server.max_connections",
        server.max_connections as u64,
        1,
        100_000,
    )?;
    int_in(
        "server.backtests_running",
        server.backtests_running as u64,
        1,
        64,
    )?;
    int_in(
        "server.backtests_queued",
        server.backtests_queued as u64,
        0,
        1_000,
    )?;
    if config.account.initial_cash > Decimal::from(MAX_INITIAL_CASH) {
        return Err(out_of_range(
            "account.initial_cash",
            config.account.initial_cash,
            "more than 0, at most 1000000000000000000",
        ));
    }
    let account = &config.account;
    let money_limits = [
        (
            "account.max_order_notional",
            account.max_order_notional,
            false,
        ),
        (
            "account.max_daily_notional",
            account.max_daily_notional,
            false,
        ),
        ("account.min_free_balance", account.min_free_balance, true),
    ];
    for (key, value, zero_ok) in money_limits {
        if let Some(value) = value {
            let low_ok = if zero_ok {
                value >= Decimal::ZERO
            } else {
                value > Decimal::ZERO
            };
            if !low_ok || value > Decimal::from(MAX_INITIAL_CASH) {
                let range = if zero_ok { "0" } else { "more than 0" };
                return Err(out_of_range(
                    key,
                    value,
                    &format!("{range}, at most 1000000000000000000 (leave it out for no limit)"),
                ));
            }
        }
    }
    if let Some(open) = account.max_open_positions {
        int_in("account.max_open_positions", open.into(), 1, 1_000_000)?;
    }
    Ok(())
}

/// The commented starter file `barter init` writes.
pub const STARTER_FILE: &str = r#"# Barter configuration. Every key is optional; the values shown are the defaults.
# Any key can be overridden by an environment variable: BARTER_<KEY>, nested keys joined
# by "__", e.g. BARTER_DATABASE_URL or BARTER_SOURCES__COINGECKO__PLAN=pro.
# Secrets never go in this file: the CoinGecko key is read from BARTER_COINGECKO_API_KEY,
# Alpaca's key pair from BARTER_ALPACA_KEY_ID and BARTER_ALPACA_SECRET_KEY.

# SQLite file in the working directory, or a PostgreSQL URL such as
# "postgres://barter@localhost/barter".
database_url = "sqlite://barter.db"

[sync]
# Days fetched by an instrument's first sync; leave unset to fetch all the source has.
# backfill_days = 1095

[sources.sample]
# The bundled offline history is served up to this day (default: its last day, 2026-01-05).
# as_of = "2024-01-01"

[sources.coingecko]
base_url = "https://api.coingecko.com/api/v3"   # Pro: "https://pro-api.coingecko.com/api/v3"
plan = "demo"                                   # "keyless", "demo" or "pro"
requests_per_minute = 30
timeout_secs = 30.0
max_retries = 4

[sources.binance]
base_url = "https://api.binance.com"
requests_per_minute = 600
timeout_secs = 30.0
max_retries = 4

[sources.alpaca]
# Daily bars of US stocks and ETFs; needs BARTER_ALPACA_KEY_ID and BARTER_ALPACA_SECRET_KEY.
base_url = "https://data.alpaca.markets"
feed = "iex"                    # the free plan's; "sip" (all exchanges) needs a paid data plan
adjustment = "raw"              # "raw", "split", "dividend" or "all"
requests_per_minute = 200       # the free data plan's limit
timeout_secs = 30.0
max_retries = 4

[sources.csv]
# CSV files added through the API or the dashboard must be inside this folder (default: data/
# next to the SQLite file). `barter instruments add --path` may name a file anywhere.
# root = "data"

[account]
initial_cash = 10000            # the paper account's starting cash (quote currency)
# Limits on new entries (exits are never limited); leave a key out for no limit.
# max_order_notional = 1000     # the most one entry may cost, fee included
# max_daily_notional = 5000     # the most all entries opened in one UTC day may cost
# max_open_positions = 10       # over all strategies
# min_free_balance = 500        # cash every entry must leave untouched

# Accounts at venues: a strategy with `account = "NAME"` sends real orders through
# [accounts.NAME]; without `account` it trades on paper. Keys only from the environment:
# BARTER_BINANCE_API_KEY / BARTER_BINANCE_API_SECRET, BARTER_ALPACA_KEY_ID / _SECRET_KEY.
# Start on a test network; real money needs environment = "live" AND live = true.
# [accounts.testnet]
# venue = "binance"             # or "alpaca"
# environment = "testnet"       # binance: testnet | live; alpaca: paper | live
# symbols = { BTC = "BTCUSDT" } # binance: each instrument's Binance symbol
# max_order_notional = 200      # the same limits as [account], per account

[broker]
fee_bps = 10                    # 0.10 % of each fill's value
slippage_bps = 5                # the fill price moves 0.05 % against you
fill = "next-open"              # decide on day D's close, fill at D+1's open; or "close"
quantity = { fractional = 8 }   # or "whole_units"

[server]
# `barter serve`. The API token is read only from BARTER_API_TOKEN, never from this file.
bind = "127.0.0.1:8080"         # in a container: BARTER_SERVER__BIND=0.0.0.0:8080
job_wait_secs = 600             # a job route answers 202 with the run id after this long
max_body_bytes = 65536
read_cache_ms = 1000            # positions and candles answers are reused this long
header_timeout_secs = 10        # a client sends its request headers (and then its body) within this; idle connections close after it
max_connections = 512           # more connections wait to be accepted
trusted_proxies = []            # e.g. ["10.0.0.0/8"]: believe X-Forwarded-For/-Proto from these only
backtests_running = 1           # POST /api/backtests run at once ...
backtests_queued = 4            # ... and wait; more answer 429
# public_url = "https://barter.example.com"  # notifications link to the page explaining a trade

# Notifications (docs/NOTIFICATIONS.md): one [[notify]] per channel, kinds webhook, telegram,
# slack, discord, email, ntfy. A channel's secret comes only from BARTER_NOTIFY_<NAME>_SECRET.
# [[notify]]
# name = "phone"
# kind = "telegram"             # the bot token in BARTER_NOTIFY_PHONE_SECRET
# chat_id = "-1001234567890"
# events = ["position_opened", "position_closed", "run_failed", "digest"]  # default: all
# min_severity = "info"         # info | warning | critical

[schedule]
# Cron expressions in UTC, run inside `barter serve`; runs missed while it was down are caught
# up on start (at most catch_up_days back). Also sync_data, sync_new_trades, sync_close_positions.
# run = "10 0 * * *"            # sync → trade → close every day at 00:10 UTC
# catch_up_days = 7

# Strategies: an entry rule, an optional exit rule, and risk exits. `barter strategies check`
# reports every problem. Rules: sma ema wma rsi macd(..).line/.signal/.histogram
# bollinger(..).upper/.middle/.lower atr stddev highest lowest roc crosses_above crosses_below,
# close[1] (previous day), BTC.close (another instrument), $params, 5% (= 0.05).
[[strategies]]
name = "golden-cross"
instruments = "all"
entry = "crosses_above(sma(close, $fast), sma(close, $slow))"
exit = "crosses_below(sma(close, $fast), sma(close, $slow))"
stop_loss = "10%"
size = "10%"                    # of equity; or "1000" (quote currency), "all", "0.5 units"
params = { fast = 20, slow = 50 }

[[strategies]]
name = "rsi-rebound"
instruments = ["BTC", "ETH", "SOL"]
entry = "rsi(close, 14) < 30 and close > close[1]"
exit = "rsi(close, 14) > 55"
stop_loss = "8%"
take_profit = "15%"
max_holding_days = 30
size = "1000"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        parse_file(Path::new("barter.toml"), text)
    }

    #[test]
    fn the_starter_file_parses_to_the_defaults_plus_two_valid_strategies() {
        let mut config = parse(STARTER_FILE).expect("starter file is valid");
        let known: Vec<barter_core::Symbol> = barter_sources::sample::instruments()
            .into_iter()
            .map(|i| i.symbol)
            .collect();
        let built = barter_core::strategy::build_all(&config.strategies, &known)
            .unwrap_or_else(|p| panic!("starter strategies are valid: {p:?}"));
        assert_eq!(built.len(), 2);
        config.strategies.clear();
        let json = |c: &Config| serde_json::to_value(c).expect("serializable");
        assert_eq!(json(&config), json(&Config::default()));
    }

    #[test]
    fn a_wrong_value_names_file_line_and_key() {
        let text = "database_url = \"sqlite://x.db\"\n\n[sources.coingecko]\nplan = \"gold\"\n";
        let err = parse(text).expect_err("bad plan");
        let message = err.to_string();
        assert!(
            message.starts_with(
                "invalid config file barter.toml, line 4, key `sources.coingecko.plan`"
            ),
            "{message}"
        );
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_line() {
        let err = parse("[sync]\nbackfil_days = 3\n").expect_err("typo");
        let message = err.to_string();
        assert!(
            message.contains("line 2, key `sync.backfil_days`"),
            "{message}"
        );
        assert!(message.contains("unknown field"), "{message}");
    }

    #[test]
    fn an_api_key_in_the_file_points_to_the_environment() {
        let err = parse("[sources.coingecko]\napi_key = \"secret\"\n").expect_err("secret in file");
        assert!(err.to_string().contains(COINGECKO_API_KEY_VAR), "{err}");
        let err =
            parse("[sources.alpaca]\nsecret_key = \"s3cr3t-value\"\n").expect_err("secret in file");
        let message = err.to_string();
        assert!(message.contains(ALPACA_SECRET_KEY_VAR), "{message}");
        assert!(!message.contains("s3cr3t-value"), "{message}");
    }

    #[test]
    fn alpaca_settings_parse_and_refuse_an_unknown_feed() {
        let config =
            parse("[sources.alpaca]\nfeed = \"sip\"\nadjustment = \"all\"\n").expect("valid");
        assert_eq!(config.sources.alpaca.feed, barter_sources::AlpacaFeed::Sip);
        assert_eq!(
            config.sources.alpaca.adjustment,
            barter_sources::AlpacaAdjustment::All
        );
        let err = parse("[sources.alpaca]\nfeed = \"otc\"\n").expect_err("unknown feed");
        assert!(err.to_string().contains("sources.alpaca.feed"), "{err}");
    }

    #[test]
    fn bad_server_and_schedule_settings_name_their_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("barter.toml");
        let load_text = |text: &str| {
            std::fs::write(&path, text).expect("write");
            load(&path, true)
        };
        let err = load_text("[schedule]\nrun = \"10 0 * *\"\n").expect_err("4 fields");
        let message = err.to_string();
        assert!(
            message.contains("schedule.run") && message.contains("10 0 * *"),
            "{message}"
        );
        let err = load_text("[server]\nbind = \"localhost\"\n").expect_err("no port");
        assert!(err.to_string().contains("server.bind"), "{err}");
        let ok = load_text("[schedule]\nrun = \"10 0 * * *\"\ncatch_up_days = 3\n").expect("valid");
        assert_eq!(ok.config.schedule.run.as_deref(), Some("10 0 * * *"));
    }

    #[test]
    fn numbers_out_of_range_are_refused_with_key_and_range() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("barter.toml");
        let cases = [
            (
                "[sources.coingecko]\ntimeout_secs = nan\n",
                "sources.coingecko.timeout_secs",
            ),
            (
                "[sources.coingecko]\ntimeout_secs = inf\n",
                "sources.coingecko.timeout_secs",
            ),
            (
                "[sources.coingecko]\nrequests_per_minute = 0\n",
                "sources.coingecko.requests_per_minute",
            ),
            (
                "[sources.binance]\nmax_retries = 4000000000\n",
                "sources.binance.max_retries",
            ),
            (
                "[sources.alpaca]\nrequests_per_minute = 0\n",
                "sources.alpaca.requests_per_minute",
            ),
            (
                "[sources.alpaca]\nmax_retry_wait_secs = nan\n",
                "sources.alpaca.max_retry_wait_secs",
            ),
            (
                "[sources.binance]\ntimeout_secs = -1.0\n",
                "sources.binance.timeout_secs",
            ),
            (
                "[sources.binance]\nmax_retry_wait_secs = 1e300\n",
                "sources.binance.max_retry_wait_secs",
            ),
            ("[sync]\nbackfill_days = 4000000000\n", "sync.backfill_days"),
            (
                "[schedule]\ncatch_up_days = 100000\n",
                "schedule.catch_up_days",
            ),
            ("[server]\nmax_body_bytes = 0\n", "server.max_body_bytes"),
            (
                "[server]\nbacktests_queued = 1000000\n",
                "server.backtests_queued",
            ),
            (
                "[server]\nmax_connections = 10000000\n",
                "server.max_connections",
            ),
            (
                "[server]\njob_wait_secs = 9999999999\n",
                "server.job_wait_secs",
            ),
            (
                "[account]\ninitial_cash = \"10000000000000000000000000\"\n",
                "account.initial_cash",
            ),
        ];
        for (text, key) in cases {
            std::fs::write(&path, text).expect("write");
            let message = load(&path, true).expect_err(text).to_string();
            assert!(
                message.contains(key) && (message.contains("allowed") || message.contains("range")),
                "{text}: {message}"
            );
        }
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let err = parse("database_url = \n").expect_err("syntax");
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn an_explicit_missing_file_is_an_error_but_the_default_may_be_absent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.toml");
        assert!(matches!(
            load(&missing, true),
            Err(ConfigError::Read { .. })
        ));
        let loaded = load(&missing, false).expect("defaults");
        assert!(loaded.file.is_none());
    }
}
