//! Named accounts (`[accounts.NAME]` in `barter.toml`): where a strategy's orders go.
//!
//! A strategy without `account` trades on paper (the `[account]` table, filled by the paper
//! fill model). A named account is an account at a venue, Binance Spot or Alpaca, in its test
//! environment (`testnet`, Alpaca `paper`) or `live`. Real money needs three things on purpose:
//! `environment = "live"`, `live = true` on the same account, and the venue's keys in the
//! environment; a live account prints a banner in the CLI, the log and the dashboard.
//!
//! Keys are read only from the environment (`BARTER_BINANCE_API_KEY` /
//! `BARTER_BINANCE_API_SECRET`, `BARTER_ALPACA_KEY_ID` / `BARTER_ALPACA_SECRET_KEY`), never
//! from the file, and never printed.

use std::collections::BTreeMap;
use std::sync::Arc;

use barter_core::order::{AccountLimits, PAPER};
use barter_core::{Money, Symbol};
use barter_execution::alpaca::{AlpacaCredentials, AlpacaSettings};
use barter_execution::binance::{BinanceCredentials, BinanceSettings};
use barter_execution::{Alpaca, BinanceSpot, VenueAccount};
use barter_http::Settings;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The environment variable holding the Binance API key.
pub const BINANCE_API_KEY_VAR: &str = "BARTER_BINANCE_API_KEY";
/// The environment variable holding the Binance API secret.
pub const BINANCE_API_SECRET_VAR: &str = "BARTER_BINANCE_API_SECRET";
/// The longest account name.
const MAX_NAME_LEN: usize = 32;
/// The largest money limit accepted (10^18, as for the paper account).
const MAX_LIMIT: i64 = 1_000_000_000_000_000_000;

/// The venue a named account trades at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VenueKind {
    /// Binance Spot.
    Binance,
    /// Alpaca (US stocks, ETFs and crypto).
    Alpaca,
}

impl VenueKind {
    /// The name in config and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Binance => "binance",
            Self::Alpaca => "alpaca",
        }
    }
}

/// Which of the venue's environments an account uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// Binance's Spot Test Network (test money).
    Testnet,
    /// Alpaca's paper trading host (test money).
    Paper,
    /// Real money.
    Live,
}

impl Environment {
    /// The name in config and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Testnet => "testnet",
            Self::Paper => "paper",
            Self::Live => "live",
        }
    }
}

/// `[accounts.NAME]`: one account at a venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSettings {
    /// `binance` or `alpaca`.
    pub venue: VenueKind,
    /// `testnet` (Binance) or `paper` (Alpaca), or `live`.
    pub environment: Environment,
    /// Must be `true` for `environment = "live"`, and only then: real money is never a default.
    #[serde(default)]
    pub live: bool,
    /// Overrides the environment's API root (a proxy, or a test's fake venue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Binance: how long a signed request stays valid, in ms (1 to 60 000; default 5 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recv_window_ms: Option<u32>,
    /// Binance: the venue symbol of each instrument traded here (`BTC = "BTCUSDT"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub symbols: BTreeMap<String, String>,
    /// The largest value one entry may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_order_notional: Option<Decimal>,
    /// The largest total value of the entries opened in one UTC day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_daily_notional: Option<Decimal>,
    /// The most positions open at once in this account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_open_positions: Option<u32>,
    /// The quote balance an entry must leave untouched at the venue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_free_balance: Option<Decimal>,
    /// Request timeout in seconds (default: the venue adapter's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u32>,
}

/// Why an account's settings cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("account `{account}`: {message}")]
pub struct AccountError {
    /// The account's name.
    pub account: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl AccountSettings {
    /// The account's limits on new entries.
    pub fn limits(&self) -> AccountLimits {
        AccountLimits {
            max_order_notional: self.max_order_notional.map(Money),
            max_daily_notional: self.max_daily_notional.map(Money),
            max_open_positions: self.max_open_positions,
            min_free_balance: self.min_free_balance.map(Money),
        }
    }

    /// Whether the account moves real money.
    pub fn is_live(&self) -> bool {
        self.environment == Environment::Live
    }

    /// Checks the settings of account `name`, without the keys.
    ///
    /// # Errors
    /// The first problem, naming the key and what to write instead.
    pub fn validate(&self, name: &str) -> Result<(), AccountError> {
        let fail = |message: String| {
            Err(AccountError {
                account: barter_http::excerpt(name),
                message,
            })
        };
        let valid_name = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !valid_name {
            return fail(format!(
                "an account name is 1 to {MAX_NAME_LEN} lower-case letters, digits, `-` or `_`"
            ));
        }
        if name == PAPER {
            return fail(
                "`paper` is the paper account (`[account]`); name a venue account otherwise"
                    .to_owned(),
            );
        }
        let allowed = match self.venue {
            VenueKind::Binance => [Environment::Testnet, Environment::Live],
            VenueKind::Alpaca => [Environment::Paper, Environment::Live],
        };
        if !allowed.contains(&self.environment) {
            return fail(format!(
                "environment = \"{}\" is not one of {}'s: use \"{}\" (test money) or \"live\"",
                self.environment.as_str(),
                self.venue.as_str(),
                allowed[0].as_str()
            ));
        }
        match (self.is_live(), self.live) {
            (true, false) => {
                return fail(
                    "environment = \"live\" trades real money: add `live = true` to this account \
                     to confirm"
                        .to_owned(),
                );
            }
            (false, true) => {
                return fail(format!(
                    "live = true but environment = \"{}\": set environment = \"live\" too, or \
                     remove `live`",
                    self.environment.as_str()
                ));
            }
            _ => {}
        }
        if let Some(url) = &self.base_url {
            let live_host = is_live_host(self.venue, url);
            if live_host && !self.is_live() {
                return fail(format!(
                    "base_url `{}` is the venue's live host but environment = \"{}\"",
                    barter_http::excerpt(url),
                    self.environment.as_str()
                ));
            }
        }
        if self.venue == VenueKind::Alpaca && !self.symbols.is_empty() {
            return fail(
                "`symbols` is for Binance accounts; Alpaca instruments trade under their own \
                 symbol (a crypto pair such as BTC/USD from the instrument's quote currency)"
                    .to_owned(),
            );
        }
        for symbol in self.symbols.keys() {
            if Symbol::parse(symbol).is_err() {
                return fail(format!(
                    "symbols: `{}` is not an instrument symbol",
                    barter_http::excerpt(symbol)
                ));
            }
        }
        // The same ranges as the paper account's `[account]` limits (SECURITY.md).
        let max = Decimal::from(MAX_LIMIT);
        for (key, value, zero_ok) in [
            ("max_order_notional", self.max_order_notional, false),
            ("max_daily_notional", self.max_daily_notional, false),
            ("min_free_balance", self.min_free_balance, true),
        ] {
            if let Some(value) = value {
                let low_ok = if zero_ok {
                    value >= Decimal::ZERO
                } else {
                    value > Decimal::ZERO
                };
                if !low_ok || value > max {
                    let range = if zero_ok { "0" } else { "more than 0" };
                    return fail(format!(
                        "{key} = {value} must be {range} to {MAX_LIMIT} (leave it out for no limit)"
                    ));
                }
            }
        }
        if let Some(open) = self
            .max_open_positions
            .filter(|n| !(1..=1_000_000).contains(n))
        {
            return fail(format!("max_open_positions = {open} must be 1 to 1000000"));
        }
        if let Some(window) = self.recv_window_ms.filter(|w| !(1..=60_000).contains(w)) {
            return fail(format!("recv_window_ms = {window} must be 1 to 60000"));
        }
        if let Some(t) = self.timeout_secs.filter(|t| !(1..=120).contains(t)) {
            return fail(format!("timeout_secs = {t} must be 1 to 120"));
        }
        Ok(())
    }

    /// Builds the venue of account `name`, with its keys from `var` (the environment, or a
    /// test's map).
    ///
    /// # Errors
    /// A bad setting or a missing key, naming the variable to set.
    pub fn build(
        &self,
        name: &str,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Arc<dyn VenueAccount>, AccountError> {
        self.validate(name)?;
        let fail = |message: String| AccountError {
            account: name.to_owned(),
            message,
        };
        match self.venue {
            VenueKind::Binance => {
                let mut settings = match (&self.base_url, self.is_live()) {
                    (Some(url), _) => BinanceSettings::at(url.clone()),
                    (None, true) => BinanceSettings::live(),
                    (None, false) => BinanceSettings::testnet(),
                };
                if let Some(window) = self.recv_window_ms {
                    settings.recv_window_ms = window;
                }
                if let Some(timeout) = self.timeout_secs {
                    settings.http.timeout_secs = f64::from(timeout);
                }
                for (symbol, venue_symbol) in &self.symbols {
                    let symbol = Symbol::parse(symbol).map_err(|e| fail(e.to_string()))?;
                    settings = settings.with_symbol(symbol, venue_symbol.clone());
                }
                let key = |variable: &str| {
                    var(variable)
                        .map(|v| v.trim().to_owned())
                        .filter(|v| !v.is_empty())
                        .ok_or_else(|| {
                            fail(format!(
                                "{variable} is not set: Binance keys are read only from the \
                                 environment"
                            ))
                        })
                };
                let credentials = BinanceCredentials::new(
                    key(BINANCE_API_KEY_VAR)?,
                    key(BINANCE_API_SECRET_VAR)?,
                );
                let venue = BinanceSpot::new(settings, credentials, None)
                    .map_err(|e| fail(e.to_string()))?;
                Ok(Arc::new(venue))
            }
            VenueKind::Alpaca => {
                let mut http = Settings {
                    requests_per_minute: 180,
                    timeout_secs: 15.0,
                    max_retries: 3,
                    backoff_base_secs: 1.0,
                    max_retry_wait_secs: 60.0,
                };
                if let Some(timeout) = self.timeout_secs {
                    http.timeout_secs = f64::from(timeout);
                }
                let settings = match (&self.base_url, self.is_live()) {
                    (Some(url), _) => AlpacaSettings::new(url.clone(), http),
                    (None, true) => AlpacaSettings::live(http),
                    (None, false) => AlpacaSettings::paper(http),
                };
                let credentials =
                    AlpacaCredentials::from_vars(var).map_err(|e| fail(e.to_string()))?;
                let venue = Alpaca::new(settings, credentials).map_err(|e| fail(e.to_string()))?;
                Ok(Arc::new(venue))
            }
        }
    }
}

/// Whether `url` names `venue`'s live (real money) host.
fn is_live_host(venue: VenueKind, url: &str) -> bool {
    let host = url
        .trim()
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', ':', '?'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match venue {
        VenueKind::Binance => host == "api.binance.com" || host.ends_with(".binance.com"),
        VenueKind::Alpaca => host == "api.alpaca.markets",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binance(environment: Environment, live: bool) -> AccountSettings {
        AccountSettings {
            venue: VenueKind::Binance,
            environment,
            live,
            base_url: None,
            recv_window_ms: None,
            symbols: BTreeMap::from([("BTC".to_owned(), "BTCUSDT".to_owned())]),
            max_order_notional: None,
            max_daily_notional: None,
            max_open_positions: None,
            min_free_balance: None,
            timeout_secs: None,
        }
    }

    #[test]
    fn live_needs_both_switches() {
        assert!(binance(Environment::Testnet, false).validate("t").is_ok());
        assert!(binance(Environment::Live, true).validate("l").is_ok());
        let error = binance(Environment::Live, false)
            .validate("l")
            .expect_err("refused");
        assert!(error.to_string().contains("live = true"), "{error}");
        let error = binance(Environment::Testnet, true)
            .validate("t")
            .expect_err("refused");
        assert!(
            error.to_string().contains("environment = \"live\""),
            "{error}"
        );
        let error = binance(Environment::Paper, false)
            .validate("t")
            .expect_err("refused");
        assert!(error.to_string().contains("testnet"), "{error}");
    }

    #[test]
    fn a_test_account_cannot_point_at_the_live_host() {
        let mut settings = binance(Environment::Testnet, false);
        settings.base_url = Some("https://api.binance.com".to_owned());
        let error = settings.validate("t").expect_err("refused");
        assert!(error.to_string().contains("live host"), "{error}");
        settings.base_url = Some("http://127.0.0.1:9999".to_owned());
        assert!(settings.validate("t").is_ok());
    }

    #[test]
    fn hostile_values_are_refused_with_bounded_messages() {
        let long = "x".repeat(10_000);
        let error = binance(Environment::Testnet, false)
            .validate(&long)
            .expect_err("too long");
        assert!(error.to_string().len() < 400, "{error}");
        let mut settings = binance(Environment::Testnet, false);
        settings.max_order_notional = Some(Decimal::NEGATIVE_ONE);
        assert!(settings.validate("t").is_err());
        let mut settings = binance(Environment::Testnet, false);
        settings.min_free_balance = Some(Decimal::MAX);
        assert!(settings.validate("t").is_err());
        let mut settings = binance(Environment::Testnet, false);
        settings.max_open_positions = Some(0);
        assert!(settings.validate("t").is_err());
        let mut settings = binance(Environment::Testnet, false);
        settings.recv_window_ms = Some(0);
        assert!(settings.validate("t").is_err());
        let mut settings = binance(Environment::Testnet, false);
        settings.timeout_secs = Some(100_000);
        assert!(settings.validate("t").is_err());
        let mut settings = binance(Environment::Testnet, false);
        settings
            .symbols
            .insert(format!("{long}!"), "BTCUSDT".to_owned());
        let error = settings.validate("t").expect_err("bad symbol");
        assert!(error.to_string().len() < 400, "{error}");
    }

    #[test]
    fn names_and_keys_are_checked_without_echoing_secrets() {
        let settings = binance(Environment::Testnet, false);
        assert!(settings.validate("paper").is_err());
        assert!(settings.validate("Main Account").is_err());
        let error = settings.build("main", |_| None).err().expect("no keys");
        assert!(error.to_string().contains(BINANCE_API_KEY_VAR), "{error}");
        let vars = |name: &str| match name {
            BINANCE_API_KEY_VAR => Some("k-123".to_owned()),
            BINANCE_API_SECRET_VAR => Some("s-456-very-secret".to_owned()),
            _ => None,
        };
        let venue = settings.build("main", vars).expect("built");
        assert!(!venue.is_live());
    }
}
