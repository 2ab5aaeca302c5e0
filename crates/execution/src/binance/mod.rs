//! The Binance Spot venue: market orders over Binance's signed REST API (live or the Spot Test
//! Network), through the shared [`barter_http`] client.
//!
//! What it owns, and the venue quirks it handles (see the Binance Spot reference notes):
//! - **Signing:** every SIGNED request carries `timestamp` (local clock + the offset measured by
//!   [`BinanceSpot::sync_time`]), `recvWindow` and, last, `signature` = HMAC-SHA256 over the exact
//!   percent-encoded text sent. The API key travels only in the `X-MBX-APIKEY` header; the secret
//!   is never sent and is scrubbed from every error text.
//! - **Clock:** a `-1021` answer (timestamp outside `recvWindow`) is rejected before the matching
//!   engine, so it is the one answer after which an order is resent: once, after a resync.
//! - **Orders:** `POST /api/v3/order` MARKET with `newOrderRespType=FULL` and the order's client
//!   order id, sent once ([`barter_http::Retry::Never`]). A lost answer (timeout, dropped
//!   connection, 5xx, `-1006`/`-1007`/`-1008`) and `-2010 "Duplicate order sent."` are
//!   [`VenueError::OutcomeUnknown`]: the order is looked up, never resent blindly, because a
//!   client order id deduplicates only while the first order is open and a market order fills at
//!   once.
//! - **Lookups:** `GET /api/v3/order?origClientOrderId=` (no fills) completed by
//!   `GET /api/v3/myTrades?orderId=` so that booking has prices and fees; `-2013` is "no such
//!   order", which the [`LookupPolicy`] decides how far to believe.
//! - **Rules and balances:** [`BinanceSpot::symbol_rules`] (exchangeInfo filters as core
//!   [`SymbolRules`], remembered for the orders of the run) and [`BinanceSpot::balances`].
//! - **Account port ([`VenueAccount`]):** `prepare` syncs the clock, `holdings` are the account
//!   balances, `instrument_assets` come from exchangeInfo, and `dry_run` posts the very
//!   parameters of an order to `POST /api/v3/order/test`, which places nothing.
//!
//! The venue and the klines data source of one deployment share one [`Pacer`], passed to
//! [`BinanceSpot::new`] (or taken from [`BinanceSpot::pacer`]), so both stay under one request
//! budget and one 429 pause.

mod wire;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use barter_core::execution::Side;
use barter_core::order::{Order, OrderAmount, SymbolRules, VenueReport, format_quantity};
use barter_core::{Price, Quantity, Symbol};
use barter_http::{
    ApiKey, HttpClient, HttpError, Pacer, Reply, Request, Retry, Settings, Url, sign_query,
};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::venue::{
    DryRunOrder, InstrumentAssets, LookupPolicy, MarketReference, Venue, VenueAccount, VenueAsset,
    VenueError, VenueHoldings,
};
use wire::{ApiError, ExchangeInfo, ServerTime, WireAccount, WireOrder, WireTrade};

/// The live REST root.
pub const LIVE_BASE_URL: &str = "https://api.binance.com";
/// The Spot Test Network's REST root (virtual funds, separate keys).
pub const TESTNET_BASE_URL: &str = "https://testnet.binance.vision";
/// Binance's default `recvWindow`, in milliseconds.
pub const DEFAULT_RECV_WINDOW_MS: u32 = 5_000;
/// The largest `recvWindow` Binance accepts, in milliseconds.
pub const MAX_RECV_WINDOW_MS: u32 = 60_000;

/// The venue's name in messages and records.
const VENUE: &str = "binance";
/// The API key's header.
const KEY_HEADER: &str = "x-mbx-apikey";
/// The order endpoint (place and look up).
const ORDER_PATH: &str = "/api/v3/order";
/// The test-order endpoint: validated like an order, never sent to the matching engine.
const TEST_ORDER_PATH: &str = "/api/v3/order/test";
/// Hosts that trade real money (the notes' live REST roots).
const LIVE_HOSTS: [&str; 6] = [
    "api.binance.com",
    "api-gcp.binance.com",
    "api1.binance.com",
    "api2.binance.com",
    "api3.binance.com",
    "api4.binance.com",
];

/// Where and how to reach Binance Spot.
#[derive(Debug, Clone, PartialEq)]
pub struct BinanceSettings {
    /// REST root: [`LIVE_BASE_URL`], [`TESTNET_BASE_URL`], or a test's fake.
    pub base_url: String,
    /// How long after its timestamp a signed request stays valid, in ms (1 to 60 000).
    pub recv_window_ms: u32,
    /// Pacing, timeout and retries of the HTTP client; keep the timeout above Binance's own
    /// 10 s wait for the matching engine.
    pub http: Settings,
    /// Barter's symbol (`BTC`) to Binance's (`BTCUSDT`) for every instrument traded here.
    pub symbols: HashMap<Symbol, String>,
    /// How far "no such order" (`-2013`) is believed: it can appear right after placement.
    pub lookup: LookupPolicy,
}

impl BinanceSettings {
    /// The Spot Test Network with default pacing and no symbols yet.
    pub fn testnet() -> Self {
        Self::at(TESTNET_BASE_URL)
    }

    /// The live exchange with default pacing and no symbols yet.
    pub fn live() -> Self {
        Self::at(LIVE_BASE_URL)
    }

    /// `base_url` with default pacing and no symbols yet.
    pub fn at(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            recv_window_ms: DEFAULT_RECV_WINDOW_MS,
            http: Settings {
                // 10 % under Binance's 100 orders per 10 s: requests leave their pacer slots a
                // little late by varying amounts, and 600/min exactly was seen to put 101
                // orders in one 10 s window (BENCHMARKS.md, "200 orders").
                requests_per_minute: 540,
                // Binance answers -1007 after 10 s waiting for its engine: wait past that.
                timeout_secs: 15.0,
                max_retries: 3,
                backoff_base_secs: 1.0,
                max_retry_wait_secs: 60.0,
            },
            symbols: HashMap::new(),
            lookup: LookupPolicy::default(),
        }
    }

    /// Adds the Binance symbol (`BTCUSDT`) an instrument (`BTC`) trades as.
    pub fn with_symbol(mut self, symbol: Symbol, venue_symbol: impl Into<String>) -> Self {
        self.symbols.insert(symbol, venue_symbol.into());
        self
    }
}

/// An HMAC API key pair; both halves are hidden from `Debug`.
#[derive(Clone)]
pub struct BinanceCredentials {
    api_key: String,
    secret: String,
}

impl BinanceCredentials {
    /// A key pair, as read from `BARTER_BINANCE_API_KEY` / `BARTER_BINANCE_API_SECRET`.
    pub fn new(api_key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            secret: secret.into(),
        }
    }
}

impl fmt::Debug for BinanceCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BinanceCredentials")
            .field("api_key", &"***")
            .field("secret", &"***")
            .finish()
    }
}

/// A Binance symbol's trading facts for market orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinanceSymbol {
    /// Binance's symbol (`BTCUSDT`).
    pub venue_symbol: String,
    /// The asset bought (`BTC`).
    pub base_asset: String,
    /// The asset paid (`USDT`).
    pub quote_asset: String,
    /// Decimals Binance accepts in a quote amount (`quoteAssetPrecision`).
    pub quote_precision: u32,
    /// Whether market orders by quote amount (`quoteOrderQty`) are allowed.
    pub quote_order_qty_market_allowed: bool,
    /// The filters as venue-neutral rules (named by Barter's symbol).
    pub rules: SymbolRules,
}

/// One asset's balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetBalance {
    /// The asset (`BTC`, `USDT`, `BNB`).
    pub asset: String,
    /// Available for new orders.
    pub free: Decimal,
    /// Reserved by open orders.
    pub locked: Decimal,
}

/// The account's balances and whether it may trade, for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBalances {
    /// Whether the account may place orders (`canTrade`).
    pub can_trade: bool,
    /// Every asset Binance listed with a non-zero balance.
    pub balances: Vec<AssetBalance>,
}

impl AccountBalances {
    /// The balance of `asset`, if listed.
    pub fn get(&self, asset: &str) -> Option<&AssetBalance> {
        self.balances.iter().find(|b| b.asset == asset)
    }
}

/// Why a Binance request outside the order port failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinanceError {
    /// The settings or credentials cannot work.
    #[error("binance settings: {0}")]
    Settings(String),
    /// An instrument without a Binance symbol in the settings.
    #[error(
        "binance: no Binance symbol is configured for {0}; add it to the account's symbols \
         (e.g. BTC = \"BTCUSDT\")"
    )]
    UnmappedSymbol(Symbol),
    /// The symbol cannot take market orders now (unknown, halted, market orders off).
    #[error("binance: {venue_symbol} cannot take market orders: {problem}")]
    NotTradable {
        /// Binance's symbol.
        venue_symbol: String,
        /// What Binance says about it.
        problem: String,
    },
    /// An answer that does not have the documented shape.
    #[error(
        "binance answered {what} with something unreadable ({detail}); the API may have changed"
    )]
    Unreadable {
        /// The request.
        what: &'static str,
        /// What did not parse.
        detail: String,
    },
    /// The request failed; see the venue error.
    #[error(transparent)]
    Venue(VenueError),
}

impl From<BinanceError> for VenueError {
    /// A failure outside an order post: nothing was placed by it.
    fn from(error: BinanceError) -> Self {
        match error {
            BinanceError::Venue(error) => error,
            other => VenueError::Unavailable {
                venue: VENUE.to_owned(),
                detail: other.to_string(),
                retry_after: None,
            },
        }
    }
}

/// Binance Spot behind the [`Venue`] port.
pub struct BinanceSpot {
    base: Url,
    http: HttpClient,
    secret: String,
    recv_window_ms: u32,
    symbols: HashMap<Symbol, String>,
    lookup: LookupPolicy,
    live: bool,
    /// Server clock minus local clock, in ms, from the last [`BinanceSpot::sync_time`].
    offset_ms: AtomicI64,
    /// Symbols read by [`BinanceSpot::symbol_rules`], by Binance symbol: orders are checked
    /// against them before they are sent.
    known: Mutex<HashMap<String, BinanceSymbol>>,
}

impl fmt::Debug for BinanceSpot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BinanceSpot")
            .field("base", &self.base.as_str())
            .field("live", &self.live)
            .field("recv_window_ms", &self.recv_window_ms)
            .finish_non_exhaustive()
    }
}

impl BinanceSpot {
    /// Checks the settings and builds the venue; `pacer`, when given, is shared with the other
    /// clients of this venue (its klines source) so they keep one budget and one 429 pause.
    ///
    /// # Errors
    /// [`BinanceError::Settings`] for a bad URL, `recvWindow`, symbol, HTTP setting or key.
    pub fn new(
        settings: BinanceSettings,
        credentials: BinanceCredentials,
        pacer: Option<Arc<Pacer>>,
    ) -> Result<Self, BinanceError> {
        let bad = |problem: String| BinanceError::Settings(problem);
        let base = Url::parse(settings.base_url.trim())
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && !url.cannot_be_a_base())
            .ok_or_else(|| {
                bad(format!(
                    "base_url `{}` must be an http(s) URL such as {TESTNET_BASE_URL} or \
                     {LIVE_BASE_URL}",
                    barter_http::excerpt(&settings.base_url)
                ))
            })?;
        if !(1..=MAX_RECV_WINDOW_MS).contains(&settings.recv_window_ms) {
            return Err(bad(format!(
                "recv_window_ms = {} must be 1 to {MAX_RECV_WINDOW_MS} (Binance's maximum); \
                 {DEFAULT_RECV_WINDOW_MS} is Binance's default",
                settings.recv_window_ms
            )));
        }
        for (symbol, venue_symbol) in &settings.symbols {
            let ok = !venue_symbol.is_empty()
                && venue_symbol.len() <= 20
                && venue_symbol
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if !ok {
                return Err(bad(format!(
                    "the Binance symbol for {symbol}, `{}`, must be 1 to 20 upper-case letters \
                     and digits, such as BTCUSDT",
                    barter_http::excerpt(venue_symbol)
                )));
            }
        }
        if credentials.api_key.trim().is_empty() || credentials.secret.trim().is_empty() {
            return Err(bad(
                "the API key and secret must both be set (BARTER_BINANCE_API_KEY and \
                 BARTER_BINANCE_API_SECRET)"
                    .to_owned(),
            ));
        }
        let key = ApiKey {
            header: KEY_HEADER,
            value: &credentials.api_key,
        };
        let requests_per_minute = settings.http.requests_per_minute;
        let mut http = HttpClient::new(settings.http, Some(key))
            .map_err(|e| bad(e.to_string()))?
            .named(VENUE)
            .scrub(&credentials.secret);
        // The given pacer, else the one every client of this host shares (the Binance klines
        // source among them): one budget and one 429 pause for the venue.
        let pacer = match pacer {
            Some(pacer) => pacer,
            None => Pacer::shared(&base, requests_per_minute).map_err(|e| bad(e.to_string()))?,
        };
        http = http.with_pacer(pacer);
        let live = base
            .host_str()
            .is_some_and(|host| LIVE_HOSTS.contains(&host));
        Ok(Self {
            base,
            http,
            secret: credentials.secret,
            recv_window_ms: settings.recv_window_ms,
            symbols: settings.symbols,
            lookup: settings.lookup,
            live,
            offset_ms: AtomicI64::new(0),
            known: Mutex::default(),
        })
    }

    /// The pacer this venue's requests take their slots from, for its klines source.
    pub fn pacer(&self) -> Arc<Pacer> {
        Arc::clone(self.http.pacer())
    }

    /// The REST root requests go to, for its klines source.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The clock offset in use (server minus local, ms).
    pub fn clock_offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Measures the server clock's offset from the local one (`GET /api/v3/time`, taking the
    /// midpoint of the round trip) and stamps every later signed request with it; a job calls
    /// this once per run so `-1021` does not happen. Returns the offset in ms.
    ///
    /// # Errors
    /// [`BinanceError`] when the server cannot be reached or answers something else.
    pub async fn sync_time(&self) -> Result<i64, BinanceError> {
        let before = now_ms();
        let reply = self
            .send(Request::get(self.url("/api/v3/time")))
            .await
            .map_err(|e| self.read_failure("the server time", e))?;
        let after = now_ms();
        let time: ServerTime = self.parse_ok("the server time", &reply)?;
        let midpoint = before + (after - before) / 2;
        let offset = time.server_time.saturating_sub(midpoint);
        self.offset_ms.store(offset, Ordering::Relaxed);
        tracing::debug!(venue = VENUE, offset_ms = offset, "clock offset measured");
        Ok(offset)
    }

    /// Reads `symbol`'s trading facts from `GET /api/v3/exchangeInfo?symbol=`, checks it takes
    /// market orders now (status `TRADING`, `MARKET` among its order types, spot trading on),
    /// and remembers them: later orders for it are checked against its rules before sending.
    ///
    /// # Errors
    /// [`BinanceError::UnmappedSymbol`], [`BinanceError::NotTradable`], or the request's failure.
    pub async fn symbol_rules(&self, symbol: &Symbol) -> Result<BinanceSymbol, BinanceError> {
        let venue_symbol = self.venue_symbol(symbol)?;
        let url = self.url_with("/api/v3/exchangeInfo", &[("symbol", &venue_symbol)]);
        let reply = self
            .send(Request::get(url))
            .await
            .map_err(|e| self.read_failure("exchangeInfo", e))?;
        if let Some(api) = api_error(&reply)
            && api.code == -1121
        {
            return Err(BinanceError::NotTradable {
                venue_symbol,
                problem: "Binance does not know this symbol (-1121); check the symbols in the \
                          settings"
                    .to_owned(),
            });
        }
        let info: ExchangeInfo = self.parse_ok("exchangeInfo", &reply)?;
        let wire = info
            .symbols
            .into_iter()
            .find(|s| s.symbol == venue_symbol)
            .ok_or_else(|| BinanceError::NotTradable {
                venue_symbol: venue_symbol.clone(),
                problem: "exchangeInfo does not list it".to_owned(),
            })?;
        let not_tradable = |problem: String| BinanceError::NotTradable {
            venue_symbol: venue_symbol.clone(),
            problem,
        };
        if wire.status != "TRADING" {
            return Err(not_tradable(format!(
                "its status is {}, not TRADING",
                barter_http::excerpt(&wire.status)
            )));
        }
        if !wire.order_types.iter().any(|t| t == "MARKET") {
            return Err(not_tradable(
                "MARKET is not among its order types".to_owned(),
            ));
        }
        if !wire.is_spot_trading_allowed {
            return Err(not_tradable("spot trading is off for it".to_owned()));
        }
        let rules = wire::map_filters(symbol.clone(), &wire.filters).map_err(|detail| {
            BinanceError::Unreadable {
                what: "exchangeInfo filters",
                detail,
            }
        })?;
        let facts = BinanceSymbol {
            venue_symbol: venue_symbol.clone(),
            base_asset: wire.base_asset,
            quote_asset: wire.quote_asset,
            quote_precision: wire.quote_asset_precision.min(28),
            quote_order_qty_market_allowed: wire.quote_order_qty_market_allowed,
            rules,
        };
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(venue_symbol, facts.clone());
        Ok(facts)
    }

    /// `symbol`'s facts as [`BinanceSpot::symbol_rules`] read them earlier in this venue's
    /// life (one job: a `BinanceSpot` is built per job), else read now: a job sending many
    /// orders in one symbol asks for its exchangeInfo once, not once per order.
    ///
    /// # Errors
    /// As [`BinanceSpot::symbol_rules`].
    pub async fn rules_this_run(&self, symbol: &Symbol) -> Result<BinanceSymbol, BinanceError> {
        let venue_symbol = self.venue_symbol(symbol)?;
        let known = self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&venue_symbol)
            .cloned();
        match known {
            Some(facts) => Ok(facts),
            None => self.symbol_rules(symbol).await,
        }
    }

    /// The account's balances and `canTrade` from `GET /api/v3/account` (signed).
    ///
    /// # Errors
    /// The request's failure (a key problem says what to check) or an unreadable answer.
    pub async fn balances(&self) -> Result<AccountBalances, BinanceError> {
        let reply = self
            .read_signed(
                "/api/v3/account",
                &[("omitZeroBalances", "true".to_owned())],
            )
            .await?;
        if !reply.status.is_success() {
            return Err(BinanceError::Venue(
                self.read_refusal("the account", &reply),
            ));
        }
        let account: WireAccount = self.parse_ok("the account", &reply)?;
        Ok(AccountBalances {
            can_trade: account.can_trade,
            balances: account
                .balances
                .into_iter()
                .map(|b| AssetBalance {
                    asset: b.asset,
                    free: b.free,
                    locked: b.locked,
                })
                .collect(),
        })
    }

    /// The Binance symbol of `symbol`.
    fn venue_symbol(&self, symbol: &Symbol) -> Result<String, BinanceError> {
        self.symbols
            .get(symbol)
            .cloned()
            .ok_or_else(|| BinanceError::UnmappedSymbol(symbol.clone()))
    }

    /// `path` under the base URL.
    fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}{path}"));
        url.set_query(None);
        url
    }

    /// `path` under the base URL with an (unsigned) query.
    fn url_with(&self, path: &str, pairs: &[(&str, &str)]) -> Url {
        let mut url = self.url(path);
        url.query_pairs_mut().extend_pairs(pairs);
        url
    }

    /// `params` plus `recvWindow` and a fresh `timestamp`, percent-encoded, with the signature
    /// over exactly that text appended last.
    fn signed_payload(&self, params: &[(&str, String)]) -> String {
        let timestamp = now_ms().saturating_add(self.clock_offset_ms());
        signed_payload(&self.secret, params, self.recv_window_ms, timestamp)
    }

    /// Sends through the shared client, logging the request weight Binance reports.
    async fn send(&self, request: Request) -> Result<Reply, HttpError> {
        let reply = self.http.send(request).await?;
        if let Some(weight) = reply
            .headers
            .get("x-mbx-used-weight-1m")
            .and_then(|v| v.to_str().ok())
        {
            tracing::debug!(
                venue = VENUE,
                used_weight_1m = weight,
                "binance request weight"
            );
        }
        Ok(reply)
    }

    /// A signed GET, re-signed and sent once more after a resync when Binance answers `-1021`.
    /// Returns every answer with a status; transport failures become [`BinanceError::Venue`].
    async fn read_signed(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<Reply, BinanceError> {
        let mut resynced = false;
        loop {
            let mut url = self.url(path);
            url.set_query(Some(&self.signed_payload(params)));
            let reply = self
                .send(Request::get(url))
                .await
                .map_err(|e| self.read_failure(path_name(path), e))?;
            if !resynced && api_error(&reply).is_some_and(|api| api.code == -1021) {
                resynced = true;
                self.sync_time().await?;
                continue;
            }
            return Ok(reply);
        }
    }

    /// A 2xx answer's body parsed as `T`, or the error for any other answer.
    fn parse_ok<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        reply: &Reply,
    ) -> Result<T, BinanceError> {
        if !reply.status.is_success() {
            return Err(BinanceError::Venue(self.read_refusal(what, reply)));
        }
        serde_json::from_str(&reply.body).map_err(|e| BinanceError::Unreadable {
            what,
            detail: self.http.redact(&barter_http::excerpt(&e.to_string())),
        })
    }

    /// A read that got no answer: nothing changed at the venue.
    fn read_failure(&self, what: &str, error: HttpError) -> BinanceError {
        let retry_after = retry_after_of(&error);
        BinanceError::Venue(VenueError::Unavailable {
            venue: VENUE.to_owned(),
            detail: format!("reading {what}: {error}"),
            retry_after,
        })
    }

    /// A read answered with an error status.
    fn read_refusal(&self, what: &str, reply: &Reply) -> VenueError {
        let api = api_error(reply);
        VenueError::Unavailable {
            venue: VENUE.to_owned(),
            detail: format!("reading {what}: {}", self.describe(reply, api.as_ref())),
            retry_after: None,
        }
    }

    /// A short, secret-free description of an error answer with the advice that fits it.
    fn describe(&self, reply: &Reply, api: Option<&ApiError>) -> String {
        let status = reply.status.as_u16();
        let said = match api {
            Some(api) => format!("{} {}", api.code, self.http.snippet(&api.msg)),
            None => self.http.snippet(&reply.body),
        };
        let advice = match (status, api.map(|a| a.code)) {
            (401, _) | (_, Some(-2015 | -2014)) => {
                "; check the API key (BARTER_BINANCE_API_KEY), its IP whitelist and that spot \
                 trading is enabled for it"
            }
            (_, Some(-1022)) => {
                "; the signature was refused: check the secret (BARTER_BINANCE_API_SECRET) belongs \
                 to the key"
            }
            (_, Some(-1021)) => {
                "; the clock is still off after a resync: check the system clock (NTP) or \
                 raise recv_window_ms"
            }
            (403, _) => "; Binance's firewall blocked the request: check the IP and retry later",
            _ => "",
        };
        format!("HTTP {status}: {said}{advice}")
    }

    /// The query of a market order for `order`, checked against the symbol's rules when
    /// [`BinanceSpot::symbol_rules`] read them this run.
    fn order_params(
        &self,
        order: &Order,
        venue_symbol: &str,
        market: &MarketReference,
    ) -> Result<Vec<(&'static str, String)>, VenueError> {
        let facts = self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(venue_symbol)
            .cloned();
        let refuse = |reason: String| VenueError::Refused {
            venue: VENUE.to_owned(),
            code: None,
            reason,
        };
        let side = order.side();
        let mut params = vec![
            ("symbol", venue_symbol.to_owned()),
            ("side", side_text(side).to_owned()),
            ("type", "MARKET".to_owned()),
        ];
        match order.amount() {
            OrderAmount::Quantity(quantity) => {
                let step = match &facts {
                    Some(facts) => {
                        let fitted = facts
                            .rules
                            .prepare_market(side, quantity, market.decision.close())
                            .map_err(|refusal| refuse(refusal.to_string()))?;
                        if fitted.0 != quantity.0 {
                            return Err(refuse(format!(
                                "{quantity} {venue_symbol} is not a multiple of the step; fit \
                                 it with SymbolRules::prepare_market first ({fitted} would be)"
                            )));
                        }
                        facts
                            .rules
                            .market_step()
                            .map_err(|r| refuse(r.to_string()))?
                    }
                    None => barter_core::Quantity(Decimal::ZERO),
                };
                params.push(("quantity", format_quantity(quantity, step)));
            }
            OrderAmount::Quote(amount) => {
                let precision = facts.as_ref().map_or(8, |f| f.quote_precision);
                if let Some(facts) = &facts {
                    if !facts.quote_order_qty_market_allowed {
                        return Err(refuse(format!(
                            "{venue_symbol} does not take market orders by quote amount \
                             (quoteOrderQtyMarketAllowed is false); order a quantity instead"
                        )));
                    }
                    let rules = &facts.rules;
                    if rules.min_notional_applies_to_market
                        && rules.min_notional.0 > Decimal::ZERO
                        && amount.0 < rules.min_notional.0
                    {
                        return Err(refuse(format!(
                            "{amount} is below {venue_symbol}'s minimum order value {}",
                            rules.min_notional
                        )));
                    }
                }
                // Cut toward zero: never spend more than decided.
                let value = amount
                    .0
                    .round_dp_with_strategy(precision, RoundingStrategy::ToZero)
                    .normalize();
                if value <= Decimal::ZERO {
                    return Err(refuse(format!(
                        "{amount} rounds to nothing at {precision} decimals"
                    )));
                }
                params.push(("quoteOrderQty", value.to_string()));
            }
        }
        params.push(("newClientOrderId", order.client_order_id().to_string()));
        params.push(("newOrderRespType", "FULL".to_owned()));
        Ok(params)
    }

    /// What an answered order post means when it is not a 2xx.
    fn order_refusal(&self, reply: &Reply) -> VenueError {
        let api = api_error(reply);
        let status = reply.status.as_u16();
        let detail = self.describe(reply, api.as_ref());
        let unavailable = |detail: String| VenueError::Unavailable {
            venue: VENUE.to_owned(),
            detail,
            retry_after: None,
        };
        match api {
            // Binance's own "execution status unknown": the order may exist.
            Some(ApiError {
                code: -1008..=-1006,
                ..
            }) => VenueError::OutcomeUnknown {
                venue: VENUE.to_owned(),
                detail,
            },
            // The only -2010 that proves an order with this client id exists (and is open).
            Some(ApiError { code: -2010, msg }) if msg.contains("Duplicate order") => {
                VenueError::OutcomeUnknown {
                    venue: VENUE.to_owned(),
                    detail: format!(
                        "{detail}; an order with this client order id is already at Binance"
                    ),
                }
            }
            Some(ApiError {
                code: -2015 | -2014 | -1022 | -1021,
                ..
            }) => unavailable(detail),
            _ if status == 401 || status == 403 => unavailable(detail),
            Some(api) if reply.status.is_client_error() => VenueError::Refused {
                venue: VENUE.to_owned(),
                code: Some(api.code.to_string()),
                reason: self.http.snippet(&api.msg),
            },
            // No Binance error body (a proxy, a wrong base URL): not Binance's refusal.
            _ => unavailable(detail),
        }
    }

    /// What a failed order post means: unknown unless it provably never left or was turned
    /// away before processing.
    fn order_failure(&self, error: HttpError) -> VenueError {
        let retry_after = retry_after_of(&error);
        match error {
            HttpError::RateLimited { .. }
            | HttpError::HeldBack { .. }
            | HttpError::RetryAfterTooLong { .. }
            | HttpError::Connect { .. } => VenueError::Unavailable {
                venue: VENUE.to_owned(),
                detail: format!("the order was not placed: {error}"),
                retry_after,
            },
            other => VenueError::OutcomeUnknown {
                venue: VENUE.to_owned(),
                detail: other.to_string(),
            },
        }
    }

    /// The trades of Binance order `order_id` as fills.
    async fn trades(
        &self,
        venue_symbol: &str,
        order_id: &str,
    ) -> Result<Vec<barter_core::order::OrderFill>, VenueError> {
        let params = [
            ("symbol", venue_symbol.to_owned()),
            ("orderId", order_id.to_owned()),
            ("limit", "1000".to_owned()),
        ];
        let reply = self.read_signed("/api/v3/myTrades", &params).await?;
        let trades: Vec<WireTrade> = self.parse_ok("myTrades", &reply)?;
        Ok(trades
            .iter()
            .filter(|t| t.order_id.to_string() == order_id)
            .map(WireTrade::to_fill)
            .collect())
    }
}

#[async_trait]
impl Venue for BinanceSpot {
    fn name(&self) -> &str {
        VENUE
    }

    fn is_live(&self) -> bool {
        self.live
    }

    fn lookup_policy(&self) -> LookupPolicy {
        self.lookup
    }

    async fn submit(
        &self,
        order: &Order,
        market: &MarketReference,
    ) -> Result<VenueReport, VenueError> {
        let venue_symbol = self.venue_symbol(order.symbol())?;
        let params = self.order_params(order, &venue_symbol, market)?;
        let reply = self.post_order(ORDER_PATH, order, &params).await?;
        if reply.status.is_success() {
            return self.order_report(order, &reply);
        }
        Err(self.order_refusal(&reply))
    }

    async fn lookup(&self, order: &Order) -> Result<Option<VenueReport>, VenueError> {
        let venue_symbol = self.venue_symbol(order.symbol())?;
        let params = [
            ("symbol", venue_symbol.clone()),
            ("origClientOrderId", order.client_order_id().to_string()),
        ];
        let reply = self.read_signed(ORDER_PATH, &params).await?;
        if !reply.status.is_success() {
            return match api_error(&reply) {
                Some(api) if api.code == -2013 => Ok(None),
                _ => Err(self.read_refusal("the order", &reply)),
            };
        }
        let wire: WireOrder = self.parse_ok("the order", &reply)?;
        let mut report = wire.to_report().map_err(|status| {
            VenueError::from(BinanceError::Unreadable {
                what: "the order",
                detail: format!("undocumented status `{status}`"),
            })
        })?;
        // The lookup lists no fills: fetch them when some executed quantity has none yet, so
        // booking has prices and fees.
        if report.executed_quantity.0 > order.filled_quantity().0 {
            let order_id = wire.order_id.to_string();
            let fills = self.trades(&venue_symbol, &order_id).await?;
            let covered: Decimal = fills.iter().map(|f| f.quantity.0).sum();
            if covered < report.executed_quantity.0 {
                // Binance's trade history can lag its order book for a moment.
                return Err(VenueError::Unavailable {
                    venue: VENUE.to_owned(),
                    detail: format!(
                        "order {order_id} executed {} but myTrades lists only {covered} yet; \
                         looked up again next run",
                        report.executed_quantity
                    ),
                    retry_after: None,
                });
            }
            report.fills = fills;
        }
        Ok(Some(report))
    }
}

#[async_trait]
impl VenueAccount for BinanceSpot {
    /// The symbol's LOT_SIZE / MARKET_LOT_SIZE step and minimums and its NOTIONAL or
    /// MIN_NOTIONAL filter ([`SymbolRules::prepare_market`]), read from exchangeInfo.
    async fn fit_quantity(
        &self,
        symbol: &Symbol,
        side: Side,
        quantity: Quantity,
        reference: Price,
    ) -> Result<Quantity, VenueError> {
        let facts = self.rules_this_run(symbol).await?;
        facts
            .rules
            .prepare_market(side, quantity, reference)
            .map_err(|refusal| VenueError::Refused {
                venue: VENUE.to_owned(),
                code: None,
                reason: refusal.to_string(),
            })
    }

    /// Measures the server clock's offset ([`BinanceSpot::sync_time`]).
    async fn prepare(&self) -> Result<(), VenueError> {
        self.sync_time().await?;
        Ok(())
    }

    /// The `GET /api/v3/account` balances (non-zero ones), `free` and `locked` as Binance
    /// gives them, and `canTrade`.
    async fn holdings(&self) -> Result<VenueHoldings, VenueError> {
        let account = self.balances().await?;
        Ok(VenueHoldings {
            can_trade: account.can_trade,
            assets: account
                .balances
                .into_iter()
                .map(|b| VenueAsset {
                    asset: b.asset,
                    free: b.free,
                    locked: b.locked,
                })
                .collect(),
        })
    }

    /// The `baseAsset` and `quoteAsset` of the configured Binance symbol, from exchangeInfo
    /// ([`BinanceSpot::symbol_rules`], which also remembers its rules for the run's orders).
    /// A symbol without a Binance symbol in the settings is unavailable, saying what to add.
    async fn instrument_assets(&self, symbol: &Symbol) -> Result<InstrumentAssets, VenueError> {
        let facts = self.rules_this_run(symbol).await?;
        Ok(InstrumentAssets {
            base: facts.base_asset,
            quote: facts.quote_asset,
        })
    }

    /// `POST /api/v3/order/test` with exactly the parameters [`Venue::submit`] sends (the
    /// symbol's rules are read first when this run has not read them, so the same filters and
    /// rounding apply, and an order below a minimum is refused without any order request).
    /// Binance validates it without sending it to the matching engine. A lost answer is
    /// unavailable, not an unknown outcome: nothing can have been placed.
    async fn dry_run(
        &self,
        order: &Order,
        market: &MarketReference,
    ) -> Result<DryRunOrder, VenueError> {
        let venue_symbol = self.venue_symbol(order.symbol())?;
        let facts = self.rules_this_run(order.symbol()).await?;
        let params = self.order_params(order, &venue_symbol, market)?;
        let reply = self
            .post_order(TEST_ORDER_PATH, order, &params)
            .await
            .map_err(nothing_placed)?;
        if !reply.status.is_success() {
            return Err(nothing_placed(self.order_refusal(&reply)));
        }
        Ok(DryRunOrder {
            description: describe_params(&params, &facts.quote_asset),
        })
    }
}

/// A failure of a request that cannot place anything: an unknown outcome is only unavailable.
fn nothing_placed(error: VenueError) -> VenueError {
    match error {
        VenueError::OutcomeUnknown { venue, detail } => VenueError::Unavailable {
            venue,
            detail: format!("the test order got no clear answer ({detail}); nothing was placed"),
            retry_after: None,
        },
        other => other,
    }
}

/// An order's parameters in one line: `MARKET BUY 0.00123 BTCUSDT (client id …)`, or
/// `MARKET BUY 500 USDT of BTCUSDT (…)` for a quote amount in `quote_asset`.
fn describe_params(params: &[(&str, String)], quote_asset: &str) -> String {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let symbol = get("symbol");
    let amount = match params.iter().find(|(k, _)| *k == "quantity") {
        Some((_, quantity)) => format!("{quantity} {symbol}"),
        None => format!("{} {quote_asset} of {symbol}", get("quoteOrderQty")),
    };
    format!(
        "{} {} {amount} (client id {})",
        get("type"),
        get("side"),
        get("newClientOrderId")
    )
}

impl BinanceSpot {
    /// Posts an order's `params` to `path` (the order or the test-order endpoint), signed
    /// afresh and sent once ([`Retry::Never`]); after a `-1021` answer, which Binance gives
    /// before its matching engine, resyncs the clock and sends it once more. Returns every
    /// answer with a status; a transport failure is mapped as for a real order.
    async fn post_order(
        &self,
        path: &str,
        order: &Order,
        params: &[(&'static str, String)],
    ) -> Result<Reply, VenueError> {
        let mut resynced = false;
        loop {
            let request = Request::post(self.url(path))
                .retry(Retry::Never)
                .form_body(self.signed_payload(params));
            let reply = self
                .send(request)
                .await
                .map_err(|e| self.order_failure(e))?;
            if !resynced && api_error(&reply).is_some_and(|api| api.code == -1021) {
                resynced = true;
                tracing::warn!(
                    venue = VENUE,
                    client_order_id = %order.client_order_id(),
                    path,
                    "timestamp outside recvWindow (-1021): resyncing the clock and resending once"
                );
                self.sync_time().await?;
                continue;
            }
            return Ok(reply);
        }
    }

    /// The report of a 2xx order answer, checked to be about this order.
    fn order_report(&self, order: &Order, reply: &Reply) -> Result<VenueReport, VenueError> {
        let unknown = |detail: String| VenueError::OutcomeUnknown {
            venue: VENUE.to_owned(),
            detail,
        };
        // The order was accepted, so an answer that cannot be read is an unknown outcome.
        let wire: WireOrder = serde_json::from_str(&reply.body).map_err(|e| {
            unknown(format!(
                "the order answer was unreadable: {}",
                self.http.redact(&barter_http::excerpt(&e.to_string()))
            ))
        })?;
        if !wire.client_order_id.is_empty()
            && wire.client_order_id != order.client_order_id().as_str()
        {
            return Err(unknown(format!(
                "the answer is about client order id `{}`, not this order",
                barter_http::excerpt(&wire.client_order_id)
            )));
        }
        wire.to_report()
            .map_err(|status| unknown(format!("undocumented order status `{status}`")))
    }
}

/// `params` + `recvWindow` + `timestamp`, form-encoded, then `&signature=` over exactly that
/// text: what Binance verifies byte for byte.
fn signed_payload(
    secret: &str,
    params: &[(&str, String)],
    recv_window_ms: u32,
    timestamp_ms: i64,
) -> String {
    let mut pairs = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        pairs.append_pair(name, value);
    }
    pairs.append_pair("recvWindow", &recv_window_ms.to_string());
    pairs.append_pair("timestamp", &timestamp_ms.to_string());
    let payload = pairs.finish();
    let signature = sign_query(secret, &payload);
    format!("{payload}&signature={signature}")
}

/// Binance's error body of `reply`, when it has one.
fn api_error(reply: &Reply) -> Option<ApiError> {
    serde_json::from_str(&reply.body).ok()
}

/// The wait a rate-limit error asked for.
fn retry_after_of(error: &HttpError) -> Option<Duration> {
    match error {
        HttpError::RateLimited {
            retry_after_secs, ..
        } => retry_after_secs.map(Duration::from_secs),
        HttpError::RetryAfterTooLong {
            retry_after_secs, ..
        } => Some(Duration::from_secs(*retry_after_secs)),
        HttpError::HeldBack { wait_secs } => Some(Duration::from_secs(*wait_secs)),
        _ => None,
    }
}

/// A readable name for an endpoint in messages.
fn path_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Binance's side parameter.
fn side_text(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// The local clock, epoch ms.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_exactly_the_text_sent_and_matches_binances_example() {
        // Binance's documented example, built through the same encoder the venue uses.
        let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let params = [
            ("symbol", "LTCBTC".to_owned()),
            ("side", "BUY".to_owned()),
            ("type", "LIMIT".to_owned()),
            ("timeInForce", "GTC".to_owned()),
            ("quantity", "1".to_owned()),
            ("price", "0.1".to_owned()),
        ];
        let payload = signed_payload(secret, &params, 5000, 1_499_827_319_559);
        assert_eq!(
            payload,
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1\
             &recvWindow=5000&timestamp=1499827319559\
             &signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    #[test]
    fn values_are_percent_encoded_before_signing() {
        let params = [("newClientOrderId", "a b&c=ü".to_owned())];
        let payload = signed_payload("s", &params, 5000, 1);
        let (signed, signature) = payload.rsplit_once("&signature=").expect("signed");
        assert_eq!(
            signed,
            "newClientOrderId=a+b%26c%3D%C3%BC&recvWindow=5000&timestamp=1"
        );
        assert_eq!(signature, sign_query("s", signed));
    }

    #[test]
    fn credentials_and_the_venue_never_print_their_secrets() {
        let credentials = BinanceCredentials::new("the-api-key", "the-secret");
        let shown = format!("{credentials:?}");
        assert!(
            !shown.contains("the-api-key") && !shown.contains("the-secret"),
            "{shown}"
        );
        let venue = BinanceSpot::new(BinanceSettings::testnet(), credentials, None).expect("venue");
        let shown = format!("{venue:?}");
        assert!(
            !shown.contains("the-api-key") && !shown.contains("the-secret"),
            "{shown}"
        );
        assert!(!venue.is_live());
    }

    #[test]
    fn only_the_live_host_is_live_and_bad_settings_are_refused() {
        let keys = || BinanceCredentials::new("k", "s");
        let live = BinanceSpot::new(BinanceSettings::live(), keys(), None).expect("live");
        assert!(live.is_live());
        let mut settings = BinanceSettings::testnet();
        settings.recv_window_ms = 60_001;
        let error = BinanceSpot::new(settings, keys(), None).expect_err("too long");
        assert!(error.to_string().contains("60000"), "{error}");
        let error =
            BinanceSpot::new(BinanceSettings::at("ftp://x"), keys(), None).expect_err("not http");
        assert!(error.to_string().contains("base_url"), "{error}");
        let settings = BinanceSettings::testnet()
            .with_symbol(Symbol::parse("BTC").expect("symbol"), "btc/usdt");
        assert!(BinanceSpot::new(settings, keys(), None).is_err());
        let error = BinanceSpot::new(
            BinanceSettings::testnet(),
            BinanceCredentials::new("k", " "),
            None,
        )
        .expect_err("no secret");
        assert!(
            error.to_string().contains("BARTER_BINANCE_API_SECRET"),
            "{error}"
        );
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: barter_http::StatusCode::from_u16(status).expect("status"),
            headers: barter_http::HeaderMap::new(),
            body: body.to_owned(),
            attempts: 1,
        }
    }

    fn testnet() -> BinanceSpot {
        BinanceSpot::new(
            BinanceSettings::testnet(),
            BinanceCredentials::new("the-api-key", "the-secret"),
            None,
        )
        .expect("venue")
    }

    #[test]
    fn order_answers_map_to_refused_unavailable_or_unknown_as_the_notes_say() {
        let venue = testnet();
        let kind = |status: u16, body: &str| match venue.order_refusal(&reply(status, body)) {
            VenueError::Refused { code, reason, .. } => format!("refused {code:?} {reason}"),
            VenueError::Unavailable { detail, .. } => format!("unavailable {detail}"),
            VenueError::OutcomeUnknown { detail, .. } => format!("unknown {detail}"),
        };
        let cases = [
            (
                400,
                r#"{"code":-2010,"msg":"Account has insufficient balance for requested action."}"#,
                "refused Some(\"-2010\") Account has insufficient balance",
            ),
            (
                400,
                r#"{"code":-1013,"msg":"Filter failure: NOTIONAL"}"#,
                "refused Some(\"-1013\") Filter failure: NOTIONAL",
            ),
            (
                400,
                r#"{"code":-1111,"msg":"Parameter 'quantity' has too much precision."}"#,
                "refused Some(\"-1111\")",
            ),
            (
                400,
                r#"{"code":-2010,"msg":"Duplicate order sent."}"#,
                "unknown HTTP 400: -2010 Duplicate order sent.",
            ),
            (
                400,
                r#"{"code":-1007,"msg":"Timeout waiting for response from backend server."}"#,
                "unknown HTTP 400: -1007",
            ),
            (
                400,
                r#"{"code":-1006,"msg":"An unexpected response was received."}"#,
                "unknown",
            ),
            (
                400,
                r#"{"code":-1008,"msg":"Server is currently overloaded."}"#,
                "unknown",
            ),
            (
                401,
                r#"{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}"#,
                "unavailable HTTP 401: -2015",
            ),
            (
                401,
                r#"{"code":-2014,"msg":"API-key format invalid."}"#,
                "unavailable HTTP 401: -2014",
            ),
            (
                400,
                r#"{"code":-1022,"msg":"Signature for this request is not valid."}"#,
                "unavailable HTTP 400: -1022",
            ),
            (
                400,
                r#"{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}"#,
                "unavailable HTTP 400: -1021",
            ),
            (403, "<html>blocked</html>", "unavailable HTTP 403"),
            (404, "<html>not found</html>", "unavailable HTTP 404"),
        ];
        for (status, body, expected) in cases {
            let got = kind(status, body);
            assert!(got.starts_with(expected), "{body}: {got}");
        }
        assert!(kind(401, "{}").contains("IP whitelist"));
        // Binance's text is bounded and scrubbed of the secret before it is kept.
        let long = format!(
            r#"{{"code":-2010,"msg":"the-secret {}"}}"#,
            "x".repeat(5000)
        );
        let got = kind(400, &long);
        assert!(!got.contains("the-secret") && got.len() < 600, "{got}");
    }

    #[test]
    fn failed_order_posts_are_unknown_unless_provably_not_placed() {
        let venue = testnet();
        let unknown = HttpError::OutcomeUnknown {
            status: Some(503),
            detail: "HTTP 503".into(),
        };
        assert!(matches!(
            venue.order_failure(unknown),
            VenueError::OutcomeUnknown { .. }
        ));
        let banned = HttpError::RateLimited {
            status: 418,
            attempts: 1,
            retry_after_secs: Some(120),
        };
        assert!(matches!(
            venue.order_failure(banned),
            VenueError::Unavailable { retry_after: Some(wait), .. } if wait == Duration::from_secs(120)
        ));
        let refused = HttpError::Connect {
            attempts: 1,
            detail: "connection refused".into(),
        };
        assert!(matches!(
            venue.order_failure(refused),
            VenueError::Unavailable { .. }
        ));
        let timeout = HttpError::Timeout {
            attempts: 1,
            timeout_secs: 15.0,
        };
        assert!(matches!(
            venue.order_failure(timeout),
            VenueError::OutcomeUnknown { .. }
        ));
    }

    #[test]
    fn a_dry_run_describes_its_parameters_and_never_reports_an_unknown_outcome() {
        let params = [
            ("symbol", "BTCUSDT".to_owned()),
            ("side", "BUY".to_owned()),
            ("type", "MARKET".to_owned()),
            ("quoteOrderQty", "500".to_owned()),
            ("newClientOrderId", "bt-1".to_owned()),
        ];
        assert_eq!(
            describe_params(&params, "USDT"),
            "MARKET BUY 500 USDT of BTCUSDT (client id bt-1)"
        );
        let unknown = VenueError::OutcomeUnknown {
            venue: VENUE.to_owned(),
            detail: "timed out".to_owned(),
        };
        assert!(matches!(
            nothing_placed(unknown),
            VenueError::Unavailable { detail, .. } if detail.contains("nothing was placed")
        ));
        let refused = VenueError::Refused {
            venue: VENUE.to_owned(),
            code: Some("-1013".to_owned()),
            reason: "Filter failure: NOTIONAL".to_owned(),
        };
        assert_eq!(nothing_placed(refused.clone()), refused);
    }

    #[test]
    fn urls_keep_a_base_path() {
        let venue = BinanceSpot::new(
            BinanceSettings::at("http://127.0.0.1:9/prefix/"),
            BinanceCredentials::new("k", "s"),
            None,
        )
        .expect("venue");
        assert_eq!(
            venue.url(ORDER_PATH).as_str(),
            "http://127.0.0.1:9/prefix/api/v3/order"
        );
    }
}
