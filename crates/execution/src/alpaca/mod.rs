//! The Alpaca venue: US stocks, ETFs and crypto through Alpaca's Trading API (paper or live
//! host), behind the [`Venue`] port.
//!
//! - Keys travel only in the `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY` headers, marked
//!   sensitive and scrubbed from every error; [`AlpacaCredentials`] never prints them.
//! - An order is a market order sent once (`POST /v2/orders`, [`barter_http::Retry::Never`])
//!   with Barter's client order id, Alpaca's idempotency key. Any answer that does not prove
//!   what happened (timeout, dropped connection, 5xx, "client_order_id must be unique") is
//!   [`VenueError::OutcomeUnknown`], and the protocol looks the order up by that id
//!   (`GET /v2/orders:by_client_order_id`) before anything is sent again.
//! - A stock order sent while the market is closed is `accepted` and queued for the next open:
//!   it is reported as accepted, stays open in the ledger, and a later lookup books its fill.
//! - [`VenueAccount`]: `prepare` gates on the account's status and blocks, `holdings` are the
//!   cash (`USD`) and `GET /v2/positions` (crypto under `BTCUSD`), and `dry_run` builds the
//!   order as `submit` does but never posts it (Alpaca has no test endpoint).
//! - Fills and crypto fees are derived from the order (see [`wire`]); the Alpaca daily-bars data
//!   source is not here (it belongs with the data sources).

pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use barter_core::execution::Side;
use barter_core::order::{Order, SymbolRules, VenueReport};
use barter_core::{Price, Quantity, Symbol};
use barter_http::{
    ApiKey, HeaderName, HeaderValue, HttpClient, HttpError, Pacer, Reply, Request, Settings,
    SettingsError, StatusCode, Url, excerpt,
};
use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;

use crate::venue::{
    DryRunOrder, InstrumentAssets, LookupPolicy, MarketReference, Venue, VenueAccount, VenueAsset,
    VenueError, VenueHoldings,
};
use wire::{
    AssetClass, ReportProblem, WireAccount, WireAsset, WireClock, WireError, WireOrder,
    WirePosition, order_report, order_request,
};

pub use wire::{OrderRequest, order_symbol, pair_assets, position_symbol};

/// The venue name Alpaca orders carry.
pub const ALPACA: &str = "alpaca";

/// The paper trading host.
pub const PAPER_URL: &str = "https://paper-api.alpaca.markets";

/// The live trading host: orders move real money.
pub const LIVE_URL: &str = "https://api.alpaca.markets";

/// The host name of [`LIVE_URL`].
const LIVE_HOST: &str = "api.alpaca.markets";

/// The key id header.
const KEY_ID_HEADER: &str = "apca-api-key-id";

/// The secret key header.
const SECRET_HEADER: &str = "apca-api-secret-key";

/// The largest answer read: an order or account object is a few KB.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Longest wait taken from `X-RateLimit-Reset` when a reply says the budget is spent.
const MAX_RESET_WAIT: Duration = Duration::from_secs(60);

/// The taker fee of Alpaca's lowest crypto volume tier (0.25%), the default fee estimate.
pub const DEFAULT_CRYPTO_FEE_RATE: Decimal = Decimal::from_parts(25, 0, 0, false, 4);

/// Where and how fast to talk to Alpaca.
#[derive(Debug, Clone, PartialEq)]
pub struct AlpacaSettings {
    /// The Trading API host: [`PAPER_URL`], [`LIVE_URL`], or a test fake's URL.
    pub trading_base_url: String,
    /// Pacing (Alpaca allows 200 requests a minute per account), timeout and read retries.
    pub http: Settings,
    /// The crypto fee rate booked on each fill until Alpaca's fee activities are read.
    pub crypto_fee_rate: Decimal,
    /// How far "no such order" answers are trusted before an order is sent again.
    pub lookup_policy: LookupPolicy,
}

impl AlpacaSettings {
    /// Settings for `trading_base_url` with the default fee estimate and lookup policy.
    pub fn new(trading_base_url: impl Into<String>, http: Settings) -> Self {
        Self {
            trading_base_url: trading_base_url.into(),
            http,
            crypto_fee_rate: DEFAULT_CRYPTO_FEE_RATE,
            lookup_policy: LookupPolicy::default(),
        }
    }

    /// Settings for the paper host.
    pub fn paper(http: Settings) -> Self {
        Self::new(PAPER_URL, http)
    }

    /// Settings for the live host.
    pub fn live(http: Settings) -> Self {
        Self::new(LIVE_URL, http)
    }
}

/// An Alpaca key pair (paper and live keys differ); never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AlpacaCredentials {
    /// The key id (`BARTER_ALPACA_KEY_ID`), sent as `APCA-API-KEY-ID`.
    pub key_id: String,
    /// The secret key (`BARTER_ALPACA_SECRET_KEY`), sent as `APCA-API-SECRET-KEY`.
    pub secret_key: String,
}

/// The environment variable holding the key id.
pub const KEY_ID_VAR: &str = "BARTER_ALPACA_KEY_ID";

/// The environment variable holding the secret key.
pub const SECRET_KEY_VAR: &str = "BARTER_ALPACA_SECRET_KEY";

impl AlpacaCredentials {
    /// The keys from [`KEY_ID_VAR`] and [`SECRET_KEY_VAR`] in the process environment.
    ///
    /// # Errors
    /// [`AlpacaSetupError::MissingKey`] naming the variable that is unset or empty.
    pub fn from_env() -> Result<Self, AlpacaSetupError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The keys from `var` (the environment, or a test's map), trimmed of surrounding blanks.
    ///
    /// # Errors
    /// [`AlpacaSetupError::MissingKey`] naming the variable that is unset or empty.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, AlpacaSetupError> {
        let read = |name: &'static str, which: &'static str| {
            var(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
                .ok_or(AlpacaSetupError::MissingKey {
                    which,
                    variable: name,
                })
        };
        Ok(Self {
            key_id: read(KEY_ID_VAR, "key id")?,
            secret_key: read(SECRET_KEY_VAR, "secret key")?,
        })
    }
}

impl std::fmt::Debug for AlpacaCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlpacaCredentials")
            .field("key_id", &"***")
            .field("secret_key", &"***")
            .finish()
    }
}

/// Why an [`Alpaca`] venue could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlpacaSetupError {
    /// The trading URL is not an http(s) URL.
    #[error("the Alpaca trading URL `{url}` is not an http(s) URL: use {PAPER_URL} or {LIVE_URL}")]
    BadUrl {
        /// The start of the URL given.
        url: String,
    },
    /// A key is empty.
    #[error("the Alpaca {which} is empty: set {variable} in the environment")]
    MissingKey {
        /// Which key.
        which: &'static str,
        /// The environment variable that holds it.
        variable: &'static str,
    },
    /// The crypto fee rate is not a fraction.
    #[error(
        "the Alpaca crypto fee rate {rate} is not a fraction from 0 (inclusive) to 1 \
         (exclusive): write 0.0025 for 0.25%"
    )]
    BadFeeRate {
        /// The rate given.
        rate: Decimal,
    },
    /// The HTTP settings or a key cannot be used.
    #[error("the Alpaca HTTP client: {0}")]
    Http(#[from] SettingsError),
}

/// The account's state, from `GET /v2/account`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `ACTIVE` when the account may trade.
    pub status: String,
    /// The crypto trading status (`ACTIVE` when crypto may be traded), when given.
    pub crypto_status: Option<String>,
    /// The account currency (`USD`), when given.
    pub currency: Option<String>,
    /// Cash.
    pub cash: Decimal,
    /// What stock buys may spend (leave a few percent slack: Alpaca collars market orders).
    pub buying_power: Decimal,
    /// What crypto buys may spend (crypto cannot be bought on margin), when given.
    pub non_marginable_buying_power: Option<Decimal>,
    /// Trading blocked by Alpaca.
    pub trading_blocked: bool,
    /// Account blocked by Alpaca.
    pub account_blocked: bool,
    /// Trading suspended by the user.
    pub trade_suspended_by_user: bool,
}

impl Account {
    /// Whether stock orders may be sent: active and blocked in no way.
    pub fn can_trade(&self) -> bool {
        self.status == "ACTIVE"
            && !self.trading_blocked
            && !self.account_blocked
            && !self.trade_suspended_by_user
    }

    /// Whether crypto orders may be sent: as [`Account::can_trade`], and crypto active.
    pub fn can_trade_crypto(&self) -> bool {
        self.can_trade() && self.crypto_status.as_deref() == Some("ACTIVE")
    }
}

/// One asset, from `GET /v2/assets/{symbol}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// The symbol orders use (`AAPL`, `BTC/USD`).
    pub symbol: String,
    /// Stock, crypto or other.
    pub class: AssetClass,
    /// Alpaca trades it now (`tradable` and `status` active).
    pub tradable: bool,
    /// Fractional quantities and notional orders are allowed.
    pub fractionable: bool,
    /// The order rules, under the symbol positions use (`AAPL`, `BTCUSD`).
    pub rules: SymbolRules,
}

/// The US equity market clock, from `GET /v2/clock` (crypto ignores it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    /// Alpaca's time of the answer (US Eastern offset).
    pub timestamp: DateTime<FixedOffset>,
    /// Whether the regular session is open.
    pub is_open: bool,
    /// The next regular open.
    pub next_open: DateTime<FixedOffset>,
    /// The next regular close.
    pub next_close: DateTime<FixedOffset>,
}

/// Alpaca's Trading API as a [`Venue`].
#[derive(Debug)]
pub struct Alpaca {
    http: HttpClient,
    base: Url,
    secret: HeaderValue,
    live: bool,
    crypto_fee_rate: Decimal,
    lookup_policy: LookupPolicy,
}

impl Alpaca {
    /// An Alpaca venue at `settings.trading_base_url` with `credentials`.
    ///
    /// # Errors
    /// [`AlpacaSetupError`] for a bad URL, an empty key or unusable HTTP settings.
    pub fn new(
        settings: AlpacaSettings,
        credentials: AlpacaCredentials,
    ) -> Result<Self, AlpacaSetupError> {
        let base = Url::parse(settings.trading_base_url.trim())
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
            .ok_or_else(|| AlpacaSetupError::BadUrl {
                url: excerpt(&settings.trading_base_url),
            })?;
        if credentials.key_id.is_empty() {
            return Err(AlpacaSetupError::MissingKey {
                which: "key id",
                variable: KEY_ID_VAR,
            });
        }
        if credentials.secret_key.is_empty() {
            return Err(AlpacaSetupError::MissingKey {
                which: "secret key",
                variable: SECRET_KEY_VAR,
            });
        }
        let rate = settings.crypto_fee_rate;
        if rate < Decimal::ZERO || rate >= Decimal::ONE {
            return Err(AlpacaSetupError::BadFeeRate { rate });
        }
        let mut secret = HeaderValue::from_str(&credentials.secret_key).map_err(|_| {
            SettingsError::new(
                "the Alpaca secret key holds characters an HTTP header cannot carry (check \
                 BARTER_ALPACA_SECRET_KEY for stray quotes or newlines)",
            )
        })?;
        secret.set_sensitive(true);
        let http = HttpClient::new(
            settings.http,
            Some(ApiKey {
                header: KEY_ID_HEADER,
                value: &credentials.key_id,
            }),
        )?
        .named(ALPACA)
        .with_body_limit(MAX_BODY_BYTES)
        .scrub(&credentials.secret_key);
        Ok(Self {
            live: base.host_str() == Some(LIVE_HOST),
            http,
            base,
            secret,
            crypto_fee_rate: settings.crypto_fee_rate,
            lookup_policy: settings.lookup_policy,
        })
    }

    /// Paces this venue with `pacer`, to share Alpaca's per-account budget with other clients
    /// of the same account.
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.http = self.http.with_pacer(pacer);
        self
    }

    /// The account's status, balances and blocks.
    ///
    /// # Errors
    /// [`VenueError::Unavailable`] when Alpaca cannot answer or the answer is unreadable.
    pub async fn account(&self) -> Result<Account, VenueError> {
        let wire: WireAccount = self
            .read("/v2/account", &[])
            .await?
            .ok_or_else(|| self.unavailable("GET /v2/account answered 404".to_owned(), None))?;
        Ok(Account {
            status: wire.status,
            crypto_status: wire.crypto_status,
            currency: wire.currency,
            cash: wire.cash,
            buying_power: wire.buying_power,
            non_marginable_buying_power: wire.non_marginable_buying_power,
            trading_blocked: wire.trading_blocked,
            account_blocked: wire.account_blocked,
            trade_suspended_by_user: wire.trade_suspended_by_user,
        })
    }

    /// The asset `symbol` (`AAPL`, or a crypto pair in the legacy form `BTCUSD`); `None` when
    /// Alpaca has no such asset.
    ///
    /// # Errors
    /// [`VenueError::Unavailable`] when Alpaca cannot answer or the answer is unreadable.
    pub async fn asset(&self, symbol: &Symbol) -> Result<Option<Asset>, VenueError> {
        // Barter symbols hold only A–Z, 0–9, `-`, `_` and `.`: safe in a path as they are.
        let path = format!("/v2/assets/{}", symbol.as_str());
        let Some(wire) = self.read::<WireAsset>(&path, &[]).await? else {
            return Ok(None);
        };
        let class = AssetClass::parse(&wire.class);
        let order_form = match class {
            AssetClass::Crypto => order_symbol(&wire.symbol),
            _ => wire.symbol.clone(),
        };
        // The rules are named by the symbol positions use, which Barter's symbols can hold.
        let rules_symbol =
            Symbol::parse(&position_symbol(&order_form)).unwrap_or_else(|_| symbol.clone());
        Ok(Some(Asset {
            tradable: wire.tradable && wire.status.as_deref().is_none_or(|s| s == "active"),
            fractionable: wire.fractionable,
            rules: wire::asset_rules(rules_symbol, &wire),
            symbol: order_form,
            class,
        }))
    }

    /// The US equity market clock.
    ///
    /// # Errors
    /// [`VenueError::Unavailable`] when Alpaca cannot answer or the answer is unreadable.
    pub async fn clock(&self) -> Result<Clock, VenueError> {
        let wire: WireClock = self
            .read("/v2/clock", &[])
            .await?
            .ok_or_else(|| self.unavailable("GET /v2/clock answered 404".to_owned(), None))?;
        Ok(Clock {
            timestamp: wire.timestamp,
            is_open: wire.is_open,
            next_open: wire.next_open,
            next_close: wire.next_close,
        })
    }

    /// The asset `order` trades and the market order [`Venue::submit`] posts for it, after
    /// the checks it makes before sending: the asset is tradable and a stock or crypto pair, and
    /// the amount fits its rules (step, minimums, whole shares when not fractionable).
    async fn order_body(
        &self,
        order: &Order,
        market: &MarketReference,
    ) -> Result<(Asset, OrderRequest), VenueError> {
        let asset = self.order_asset(order, market).await?;
        if !asset.tradable {
            return Err(self.refused(
                None,
                format!(
                    "Alpaca does not trade {} now (not tradable or inactive)",
                    asset.symbol
                ),
            ));
        }
        if asset.class == AssetClass::Other {
            return Err(self.refused(
                None,
                format!("{} is neither a US stock nor a crypto pair", asset.symbol),
            ));
        }
        let body = order_request(
            order,
            &asset.symbol,
            asset.class,
            &asset.rules,
            market.decision.close(),
        )
        .map_err(|refusal| self.refused(None, refusal.to_string()))?;
        Ok((asset, body))
    }

    /// The asset an order's instrument trades as: the symbol itself (`AAPL`, `BTCUSD`), else
    /// the crypto pair of the symbol and the market's quote currency (`BTC` + `USD`).
    async fn order_asset(
        &self,
        order: &Order,
        market: &MarketReference,
    ) -> Result<Asset, VenueError> {
        let symbol = order.symbol();
        // The quote comes from configuration: bounded before it is used or quoted.
        let quote = excerpt(market.quote_asset.trim()).to_ascii_uppercase();
        match self.asset_or_pair(symbol, &quote).await? {
            Some(asset) => Ok(asset),
            None => Err(self.refused(
                None,
                format!(
                    "Alpaca has no asset {symbol} (nor the pair {symbol}/{quote}); check the \
                     instrument's symbol"
                ),
            )),
        }
    }

    /// The asset `symbol` (`AAPL`, `BTCUSD`), else the crypto pair of `symbol` quoted in
    /// `quote` (`BTC` + `USD`); `None` when Alpaca has neither.
    async fn asset_or_pair(
        &self,
        symbol: &Symbol,
        quote: &str,
    ) -> Result<Option<Asset>, VenueError> {
        if let Some(asset) = self.asset(symbol).await? {
            return Ok(Some(asset));
        }
        if !quote.is_empty()
            && !symbol.as_str().ends_with(quote)
            && let Ok(pair) = Symbol::parse(&format!("{symbol}{quote}"))
        {
            return self.asset(&pair).await;
        }
        Ok(None)
    }

    /// Refuses (unavailable, with the reason) an account that cannot place orders, and for
    /// `crypto` one whose crypto trading is not active.
    fn check_account(&self, account: &Account, crypto: bool) -> Result<(), VenueError> {
        let mut problems = Vec::new();
        if account.status != "ACTIVE" {
            problems.push(format!(
                "its status is {}, not ACTIVE",
                excerpt(&account.status)
            ));
        }
        if account.trading_blocked {
            problems.push("trading_blocked is true".to_owned());
        }
        if account.account_blocked {
            problems.push("account_blocked is true".to_owned());
        }
        if account.trade_suspended_by_user {
            problems.push("trade_suspended_by_user is true".to_owned());
        }
        if crypto && account.crypto_status.as_deref() != Some("ACTIVE") {
            problems.push(format!(
                "its crypto_status is {}, not ACTIVE",
                excerpt(account.crypto_status.as_deref().unwrap_or("absent"))
            ));
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(self.unavailable(
            format!(
                "the account cannot trade: {}; resolve it in Alpaca's dashboard before running \
                 a job",
                problems.join(", ")
            ),
            None,
        ))
    }

    /// The URL of `path` (which starts with `/`) on the trading host.
    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let prefix = self.base.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}{path}"));
        url.set_query(None);
        url
    }

    /// The request with the secret header.
    fn signed(&self, request: Request) -> Request {
        request.header(HeaderName::from_static(SECRET_HEADER), self.secret.clone())
    }

    /// GETs `path` (retried as a read); `None` on 404.
    async fn read<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Option<T>, VenueError> {
        let request = self.signed(Request::get(self.url(path)).query(query.iter().copied()));
        let reply = self
            .http
            .send(request)
            .await
            .map_err(|error| self.transport_unavailable(&error))?;
        self.note_rate_limit(&reply);
        match reply.status.as_u16() {
            200..=299 => serde_json::from_str(&reply.body)
                .map(Some)
                .map_err(|error| {
                    self.unavailable(
                        format!(
                            "GET {path}: the answer is not the documented JSON ({}): {}",
                            excerpt(&error.to_string()),
                            self.http.snippet(&reply.body)
                        ),
                        None,
                    )
                }),
            404 => Ok(None),
            _ => Err(self.answer_unavailable(&format!("GET {path}"), &reply)),
        }
    }

    /// An error answer to a read, or to an order post that proves nothing was placed.
    fn answer_unavailable(&self, what: &str, reply: &Reply) -> VenueError {
        let error = WireError::parse(&reply.body);
        let message = self.message(&error, reply);
        let detail = match reply.status.as_u16() {
            401 => format!(
                "{what}: HTTP 401 {message}: Alpaca did not accept the keys; check \
                 BARTER_ALPACA_KEY_ID (sent as APCA-API-KEY-ID) and BARTER_ALPACA_SECRET_KEY \
                 (sent as APCA-API-SECRET-KEY), and that they are {} keys (paper and live keys \
                 differ)",
                if self.live { "live" } else { "paper" }
            ),
            403 => format!(
                "{what}: HTTP 403 {message}: the keys may not do this; check that \
                 BARTER_ALPACA_KEY_ID / BARTER_ALPACA_SECRET_KEY belong to this account and \
                 environment"
            ),
            status => format!("{what}: HTTP {status} {message}"),
        };
        self.unavailable(detail, None)
    }

    /// The bounded, scrubbed message (and code) of an error answer.
    fn message(&self, error: &WireError, reply: &Reply) -> String {
        let text = error.message.as_deref().unwrap_or(&reply.body);
        let text = self.http.snippet(text);
        match error.code() {
            Some(code) => format!("{text} (code {code})"),
            None => text,
        }
    }

    /// When a reply says the rate budget is spent, holds requests until Alpaca's reset.
    fn note_rate_limit(&self, reply: &Reply) {
        let header = |name: &str| {
            reply
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        if header("x-ratelimit-remaining") != Some(0) {
            return;
        }
        if let Some(reset) = header("x-ratelimit-reset") {
            let wait = reset.saturating_sub(chrono::Utc::now().timestamp());
            if let Ok(secs) = u64::try_from(wait) {
                self.http
                    .pacer()
                    .hold_for(Duration::from_secs(secs).min(MAX_RESET_WAIT));
            }
        }
    }

    /// The [`VenueError`] for a failed read: nothing at the venue changed.
    fn transport_unavailable(&self, error: &HttpError) -> VenueError {
        let retry_after = match error {
            HttpError::RateLimited {
                retry_after_secs, ..
            } => retry_after_secs.map(Duration::from_secs),
            HttpError::RetryAfterTooLong {
                retry_after_secs, ..
            } => Some(Duration::from_secs(*retry_after_secs)),
            HttpError::HeldBack { wait_secs } => Some(Duration::from_secs(*wait_secs)),
            _ => None,
        };
        self.unavailable(error.to_string(), retry_after)
    }

    /// The [`VenueError`] for an order post that got no usable answer.
    fn post_failure(&self, error: &HttpError) -> VenueError {
        match error {
            // Turned away before Alpaca handled it: nothing was placed (and the dispatcher
            // still looks it up before sending again).
            HttpError::Connect { .. }
            | HttpError::RateLimited { .. }
            | HttpError::HeldBack { .. }
            | HttpError::RetryAfterTooLong { .. } => self.transport_unavailable(error),
            // Timeout, 5xx, dropped connection, an answer too large to read: it may be placed.
            _ => VenueError::OutcomeUnknown {
                venue: ALPACA.to_owned(),
                detail: error.to_string(),
            },
        }
    }

    /// The [`VenueError`] for an order post answered with an error status.
    fn post_error(&self, reply: &Reply) -> VenueError {
        let error = WireError::parse(&reply.body);
        let message = error
            .message
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match reply.status.as_u16() {
            // The id is taken, so an order with it exists (maybe from an earlier attempt whose
            // answer was lost): the lookup books it.
            422 | 400 | 409
                if message.contains("client_order_id") && message.contains("unique") =>
            {
                VenueError::OutcomeUnknown {
                    venue: ALPACA.to_owned(),
                    detail: format!(
                        "HTTP {} {}: an order with this client order id already exists",
                        reply.status.as_u16(),
                        self.message(&error, reply)
                    ),
                }
            }
            401 => self.answer_unavailable("POST /v2/orders", reply),
            // 403 with a code is a trading refusal (40310000 buying power or quantity); 403
            // without one is the keys' permissions.
            403 if error.code().is_none() => self.answer_unavailable("POST /v2/orders", reply),
            400..=499 => self.refused(
                error.code(),
                format!(
                    "HTTP {}: {}",
                    reply.status.as_u16(),
                    self.http
                        .snippet(error.message.as_deref().unwrap_or(&reply.body))
                ),
            ),
            // A non-retryable status outside 2xx/4xx (3xx, 1xx): not a clear answer.
            status => VenueError::OutcomeUnknown {
                venue: ALPACA.to_owned(),
                detail: format!("HTTP {status}: {}", self.http.snippet(&reply.body)),
            },
        }
    }

    /// The report for an order answer or lookup, or why it cannot be booked.
    fn report(&self, order: &Order, body: &str) -> Result<VenueReport, String> {
        let wire: WireOrder = serde_json::from_str(body).map_err(|error| {
            format!(
                "the order answer is not the documented JSON ({}): {}",
                excerpt(&error.to_string()),
                self.http.snippet(body)
            )
        })?;
        order_report(&wire, order, self.crypto_fee_rate).map_err(|problem| match problem {
            ReportProblem::BadId => "the order answer has no usable order id".to_owned(),
            ReportProblem::OtherOrder(other) => format!(
                "the answer is about client order id `{}`, not {}",
                excerpt(&other),
                order.client_order_id()
            ),
            ReportProblem::Negative => "the order answer has a negative fill".to_owned(),
        })
    }

    fn unavailable(&self, detail: String, retry_after: Option<Duration>) -> VenueError {
        VenueError::Unavailable {
            venue: ALPACA.to_owned(),
            detail,
            retry_after,
        }
    }

    fn refused(&self, code: Option<String>, reason: String) -> VenueError {
        VenueError::Refused {
            venue: ALPACA.to_owned(),
            code,
            reason,
        }
    }
}

#[async_trait]
impl Venue for Alpaca {
    fn name(&self) -> &str {
        ALPACA
    }

    fn is_live(&self) -> bool {
        self.live
    }

    fn lookup_policy(&self) -> LookupPolicy {
        self.lookup_policy
    }

    async fn submit(
        &self,
        order: &Order,
        market: &MarketReference,
    ) -> Result<VenueReport, VenueError> {
        let (_, body) = self.order_body(order, market).await?;
        let json = serde_json::to_string(&body)
            .map_err(|error| self.refused(None, format!("cannot write the order: {error}")))?;
        // Sent once: a resent order could execute twice (see the module doc).
        let request = self.signed(Request::post(self.url("/v2/orders")).json_body(json));
        let reply = self
            .http
            .send(request)
            .await
            .map_err(|error| self.post_failure(&error))?;
        self.note_rate_limit(&reply);
        if !reply.status.is_success() {
            return Err(self.post_error(&reply));
        }
        // Placed, but unreadable: the lookup finds out what it is.
        self.report(order, &reply.body)
            .map_err(|detail| VenueError::OutcomeUnknown {
                venue: ALPACA.to_owned(),
                detail,
            })
    }

    async fn lookup(&self, order: &Order) -> Result<Option<VenueReport>, VenueError> {
        let url = self.url("/v2/orders:by_client_order_id");
        let request = self.signed(
            Request::get(url).query([("client_order_id", order.client_order_id().as_str())]),
        );
        let reply = self
            .http
            .send(request)
            .await
            .map_err(|error| self.transport_unavailable(&error))?;
        self.note_rate_limit(&reply);
        match reply.status {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => self
                .report(order, &reply.body)
                .map(Some)
                .map_err(|detail| self.unavailable(detail, None)),
            _ => Err(self.answer_unavailable("GET /v2/orders:by_client_order_id", &reply)),
        }
    }
}

#[async_trait]
impl VenueAccount for Alpaca {
    /// The asset's rules (`GET /v2/assets/{symbol}`): whole shares for a stock that is not
    /// fractionable, a crypto pair's minimum and increment.
    async fn fit_quantity(
        &self,
        symbol: &Symbol,
        side: Side,
        quantity: Quantity,
        reference: Price,
    ) -> Result<Quantity, VenueError> {
        let asset = self.asset_or_pair(symbol, "USD").await?.ok_or_else(|| {
            self.unavailable(
                format!(
                    "Alpaca has no asset {symbol} (nor the pair {symbol}/USD); configure the \
                     instrument under its Alpaca symbol (AAPL, BTCUSD)"
                ),
                None,
            )
        })?;
        asset
            .rules
            .prepare_market(side, quantity, reference)
            .map_err(|refusal| self.refused(None, refusal.to_string()))
    }

    /// Reads `GET /v2/account` and refuses (unavailable) an account that is not `ACTIVE`, is
    /// `trading_blocked` or `account_blocked`, or has trading suspended by its user.
    async fn prepare(&self) -> Result<(), VenueError> {
        let account = self.account().await?;
        self.check_account(&account, false)
    }

    /// The account's cash as asset `USD`, and every position of `GET /v2/positions` under
    /// the symbol positions use (`AAPL`, `BTCUSD`: what [`VenueAccount::instrument_assets`]
    /// calls its base).
    ///
    /// - `USD`: `free` is the cash that new orders may spend without margin,
    ///   `non_marginable_buying_power` kept within 0 to `cash` (open buy orders hold it back;
    ///   `cash` itself when Alpaca omits it), and `locked` the rest of `cash`, so the total is
    ///   `cash` (not `buying_power`, which counts margin that is not held). Negative cash (a
    ///   margin debt) is all `free`.
    /// - a position: `free` is `qty_available` (the quantity not reserved by open orders; all
    ///   of it when absent), `locked` is `qty` minus that; a short position is negative.
    async fn holdings(&self) -> Result<VenueHoldings, VenueError> {
        let account = self.account().await?;
        let positions: Vec<WirePosition> = self
            .read("/v2/positions", &[])
            .await?
            .ok_or_else(|| self.unavailable("GET /v2/positions answered 404".to_owned(), None))?;
        let cash = account.cash;
        let free_cash = if cash <= Decimal::ZERO {
            cash
        } else {
            account
                .non_marginable_buying_power
                .unwrap_or(cash)
                .clamp(Decimal::ZERO, cash)
        };
        let mut assets = vec![VenueAsset {
            asset: account.currency.clone().unwrap_or_else(|| "USD".to_owned()),
            free: free_cash,
            locked: cash - free_cash,
        }];
        for position in positions {
            let sign = if position.side.as_deref() == Some("short") && position.qty > Decimal::ZERO
            {
                -Decimal::ONE
            } else {
                Decimal::ONE
            };
            let qty = position.qty * sign;
            let free = position.qty_available.map_or(qty, |q| q * sign);
            assets.push(VenueAsset {
                asset: position_symbol(&position.symbol),
                free,
                locked: qty - free,
            });
        }
        Ok(VenueHoldings {
            can_trade: account.can_trade(),
            assets,
        })
    }

    /// Reads the asset `symbol` (else the USD pair of a bare coin: `BTC` → `BTC/USD`, as an
    /// order quoted in USD does): a stock's base is its symbol (`AAPL`) and its quote `USD`;
    /// a crypto pair's base is the pair in the form positions use (`BTCUSD`, since Alpaca
    /// lists no coin balances) and its quote the pair's quote (`USD`). A symbol Alpaca has no
    /// asset for is unavailable, naming it and what to configure.
    async fn instrument_assets(&self, symbol: &Symbol) -> Result<InstrumentAssets, VenueError> {
        let Some(asset) = self.asset_or_pair(symbol, "USD").await? else {
            return Err(self.unavailable(
                format!(
                    "Alpaca has no asset {symbol} (nor the pair {symbol}/USD); configure the \
                     instrument under its Alpaca symbol (a stock such as AAPL, or a crypto \
                     pair such as BTCUSD)"
                ),
                None,
            ));
        };
        match asset.class {
            AssetClass::UsEquity => Ok(InstrumentAssets {
                base: asset.symbol,
                quote: "USD".to_owned(),
            }),
            AssetClass::Crypto => {
                let quote = pair_assets(&asset.symbol).map_or_else(|| "USD".to_owned(), |p| p.1);
                Ok(InstrumentAssets {
                    base: position_symbol(&asset.symbol),
                    quote,
                })
            }
            AssetClass::Other => Err(self.unavailable(
                format!(
                    "{} is neither a US stock nor a crypto pair; Barter trades only those at \
                     Alpaca",
                    asset.symbol
                ),
                None,
            )),
        }
    }

    /// Alpaca has no test endpoint: reads the account (refused as by
    /// [`VenueAccount::prepare`], and for crypto also when crypto trading is not active) and
    /// builds the order exactly as [`Venue::submit`] does (the asset tradable, whole shares
    /// unless fractionable, crypto minimums and increments), without posting it.
    async fn dry_run(
        &self,
        order: &Order,
        market: &MarketReference,
    ) -> Result<DryRunOrder, VenueError> {
        let account = self.account().await?;
        let (asset, body) = self.order_body(order, market).await?;
        self.check_account(&account, asset.class == AssetClass::Crypto)?;
        let amount = match (&body.qty, &body.notional) {
            (Some(qty), _) => format!("{qty} {}", body.symbol),
            (None, Some(notional)) => format!("${notional} notional of {}", body.symbol),
            (None, None) => body.symbol.clone(),
        };
        Ok(DryRunOrder {
            description: format!(
                "{} {} {amount} {} (client id {})",
                body.order_type.to_ascii_uppercase(),
                body.side.to_ascii_uppercase(),
                body.time_in_force,
                body.client_order_id
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> Settings {
        Settings {
            requests_per_minute: 200,
            timeout_secs: 10.0,
            max_retries: 2,
            backoff_base_secs: 1.0,
            max_retry_wait_secs: 30.0,
        }
    }

    fn keys() -> AlpacaCredentials {
        AlpacaCredentials {
            key_id: "PKTESTKEYID".into(),
            secret_key: "s3cr3t-value".into(),
        }
    }

    #[test]
    fn credentials_never_print() {
        let shown = format!("{:?}", keys());
        assert!(
            !shown.contains("PKTESTKEYID") && !shown.contains("s3cr3t"),
            "{shown}"
        );
        let venue = Alpaca::new(AlpacaSettings::paper(http()), keys()).expect("venue");
        let shown = format!("{venue:?}");
        assert!(
            !shown.contains("PKTESTKEYID") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }

    #[test]
    fn only_the_live_host_is_live() {
        let paper = Alpaca::new(AlpacaSettings::paper(http()), keys()).expect("paper");
        let live = Alpaca::new(AlpacaSettings::live(http()), keys()).expect("live");
        assert!(!paper.is_live());
        assert!(live.is_live());
        assert_eq!(
            live.url("/v2/orders:by_client_order_id").as_str(),
            "https://api.alpaca.markets/v2/orders:by_client_order_id"
        );
    }

    #[test]
    fn keys_come_from_the_two_variables() {
        let vars = |name: &str| match name {
            KEY_ID_VAR => Some(" PKID ".to_owned()),
            SECRET_KEY_VAR => Some("sk".to_owned()),
            _ => None,
        };
        let keys = AlpacaCredentials::from_vars(vars).expect("keys");
        assert_eq!(
            (keys.key_id.as_str(), keys.secret_key.as_str()),
            ("PKID", "sk")
        );
        let error =
            AlpacaCredentials::from_vars(|name| (name == KEY_ID_VAR).then(|| "PKID".to_owned()))
                .expect_err("no secret");
        assert!(error.to_string().contains(SECRET_KEY_VAR), "{error}");
    }

    #[test]
    fn setup_names_what_is_missing() {
        let mut settings = AlpacaSettings::paper(http());
        settings.crypto_fee_rate = Decimal::ONE;
        let error = Alpaca::new(settings, keys()).expect_err("rate");
        assert!(
            matches!(error, AlpacaSetupError::BadFeeRate { .. }),
            "{error}"
        );
        let mut empty = keys();
        empty.secret_key.clear();
        let error = Alpaca::new(AlpacaSettings::paper(http()), empty).expect_err("empty");
        assert!(
            error.to_string().contains("BARTER_ALPACA_SECRET_KEY"),
            "{error}"
        );
        let error = Alpaca::new(AlpacaSettings::new("ftp://x", http()), keys()).expect_err("url");
        assert!(matches!(error, AlpacaSetupError::BadUrl { .. }), "{error}");
    }
}
