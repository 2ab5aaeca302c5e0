//! Binance public spot daily klines (`GET /api/v3/klines?interval=1d`), no key needed.
//!
//! | rule | how |
//! |---|---|
//! | request | `/api/v3/klines?symbol=ID&interval=1d&startTime=<ms>&limit=1000`; `startTime` is `from` at 00:00 UTC, or 0 (Binance then starts at the listing day) |
//! | pagination | the next page starts one day after the last kline's open time, until a page is shorter than the limit or reaches today |
//! | row | `[openTime, "open", "high", "low", "close", "volume", closeTime, …]`; prices are decimal strings, parsed exactly; volume is in the base asset |
//! | day | the UTC date of `openTime` |
//! | unfinished day | a kline whose `closeTime` is not before the request's clock (or any kline for today) is incomplete |
//!
//! The source id is the exchange symbol (`BTCUSDT`), upper-cased; the instrument's quote currency
//! is not sent (it is part of the symbol).

use std::fmt;

use async_trait::async_trait;
use barter_core::{Candle, CandleOrigin, Instrument, Ohlcv, SourceKind, decimal_from_f64};
use barter_http::{StatusCode, Url};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::csv_file::parse_decimal;
use crate::excerpt::excerpt;
use crate::http::{
    ConfigError, DAY_MS, DayValues, HttpClient, HttpSettings, Reply, day_of_ms, midnight_ms,
    parse_base_url,
};
use crate::{DataSource, FetchRequest, SourceError, ensure_source};

/// Binance's public API root.
pub const DEFAULT_BASE_URL: &str = "https://api.binance.com";
/// Klines asked for per request (Binance's maximum).
pub const KLINES_LIMIT: usize = 1000;

/// The `[sources.binance]` configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BinanceConfig {
    /// API root, e.g. `https://api.binance.com` or `https://data-api.binance.vision`.
    pub base_url: String,
    /// Maximum request starts per minute (a klines request weighs 2 of Binance's 6000 per minute).
    pub requests_per_minute: u32,
    /// Per-request timeout in seconds.
    pub timeout_secs: f64,
    /// Retries after a 429/418, 5xx, timeout or connection error.
    pub max_retries: u32,
    /// First retry wait in seconds, doubled each retry, unless the server sends Retry-After.
    pub backoff_base_secs: f64,
    /// A server asking to wait longer than this fails the fetch instead of sleeping.
    pub max_retry_wait_secs: f64,
}

impl Default for BinanceConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            requests_per_minute: 600,
            timeout_secs: 30.0,
            max_retries: 4,
            backoff_base_secs: 2.0,
            max_retry_wait_secs: 120.0,
        }
    }
}

/// Daily candles from Binance spot klines.
pub struct BinanceSource {
    base: Url,
    http: HttpClient,
}

impl fmt::Debug for BinanceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BinanceSource")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl BinanceSource {
    /// Checks the configuration and builds the source.
    ///
    /// # Errors
    /// [`ConfigError`] for a bad URL or number.
    pub fn new(config: BinanceConfig) -> Result<Self, ConfigError> {
        let base = parse_base_url(SourceKind::Binance, &config.base_url, DEFAULT_BASE_URL)?;
        let settings = HttpSettings {
            requests_per_minute: config.requests_per_minute,
            timeout_secs: config.timeout_secs,
            max_retries: config.max_retries,
            backoff_base_secs: config.backoff_base_secs,
            max_retry_wait_secs: config.max_retry_wait_secs,
        };
        let http = HttpClient::new(SourceKind::Binance, settings, None)?;
        // One budget per Binance host in this process: the Binance venue of the same host
        // (barter-execution) takes its slots from the same pacer, so klines and orders never
        // add up past Binance's limit, and a 429 pauses both.
        let pacer = barter_http::Pacer::shared(&base, config.requests_per_minute)
            .map_err(|e| ConfigError::new(SourceKind::Binance, e.to_string()))?;
        Ok(Self {
            base,
            http: http.with_pacer(pacer),
        })
    }

    /// Paces this source with `pacer` instead of its host's shared one (see
    /// [`barter_http::Pacer::shared`], which already pairs it with the Binance venue of the
    /// same host).
    pub fn with_pacer(mut self, pacer: std::sync::Arc<barter_http::Pacer>) -> Self {
        self.http = self.http.with_pacer(pacer);
        self
    }

    /// The pacer this source's requests take their slots from, to share with the venue.
    pub fn pacer(&self) -> std::sync::Arc<barter_http::Pacer> {
        std::sync::Arc::clone(self.http.pacer())
    }

    /// The API root this source reads from.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The klines URL for one page.
    fn url(&self, symbol: &str, start_ms: i64) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(["api", "v3", "klines"]);
        }
        url.query_pairs_mut()
            .append_pair("symbol", symbol)
            .append_pair("interval", "1d")
            .append_pair("startTime", &start_ms.to_string())
            .append_pair("limit", &KLINES_LIMIT.to_string());
        url
    }

    /// Maps a non-200 answer to the error that tells the user what to do.
    fn status_error(&self, instrument: &Instrument, symbol: &str, reply: Reply) -> SourceError {
        let said = self.http.snippet(&reply.body);
        let code = serde_json::from_str::<Value>(&reply.body)
            .ok()
            .and_then(|j| j.get("code").and_then(Value::as_i64));
        let refused = |detail: String| self.http.refused(&instrument.symbol, &reply, detail);
        match (reply.status.as_u16(), code) {
            (400, Some(-1121 | -1100)) => SourceError::UnknownId {
                source_kind: SourceKind::Binance,
                symbol: instrument.symbol.clone(),
                id: symbol.to_owned(),
                detail: format!(
                    "Binance said {said}; use the spot pair with its quote asset, e.g. `BTCUSDT` (see /api/v3/exchangeInfo)"
                ),
            },
            (451, _) => refused(format!(
                "Binance does not serve this location; set base_url to an endpoint you may use, e.g. https://data-api.binance.vision (Binance said {said})"
            )),
            (401 | 403, _) => refused(format!(
                "Binance blocked the request (firewall or access rule); wait and retry, or lower requests_per_minute (Binance said {said})"
            )),
            _ => self.http.http_error(&instrument.symbol, &reply),
        }
    }
}

#[async_trait]
impl DataSource for BinanceSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Binance
    }

    async fn fetch_daily(
        &self,
        instrument: &Instrument,
        request: &FetchRequest,
    ) -> Result<Vec<Candle>, SourceError> {
        ensure_source(instrument, SourceKind::Binance)?;
        let symbol = instrument.source_id.trim().to_ascii_uppercase();
        let today = request.today();
        let now_ms = request.now.timestamp_millis();
        let mut start_ms = request.from.map_or(0, midnight_ms);
        let mut rows = Vec::new();
        while start_ms <= now_ms {
            let url = self.url(&symbol, start_ms);
            let reply = self.http.get(&instrument.symbol, &url).await?;
            if reply.status != StatusCode::OK {
                return Err(self.status_error(instrument, &symbol, reply));
            }
            let page =
                parse_page(&reply.body, now_ms).map_err(|detail| SourceError::Malformed {
                    source_kind: SourceKind::Binance,
                    symbol: instrument.symbol.clone(),
                    detail: format!(
                        "{detail} (page from startTime={start_ms}: {})",
                        self.http.snippet(&reply.body)
                    ),
                })?;
            let full = page.rows.len() >= KLINES_LIMIT;
            rows.extend(page.rows);
            let Some(last_open) = page.last_open_ms else {
                break;
            };
            let reached_today = day_of_ms(last_open).is_none_or(|day| day >= today);
            let next = last_open + DAY_MS;
            if !full || reached_today || next <= start_ms {
                break;
            }
            start_ms = next;
        }
        crate::http::into_candles(instrument, request, rows, CandleOrigin::BinanceKlines)
    }
}

/// One parsed page of klines.
struct Page {
    rows: Vec<DayValues>,
    last_open_ms: Option<i64>,
}

/// Parses a klines page; `now_ms` decides which klines have closed.
fn parse_page(body: &str, now_ms: i64) -> Result<Page, String> {
    let json: Value = serde_json::from_str(body)
        .map_err(|e| format!("body is not JSON ({})", excerpt(&e.to_string())))?;
    let klines = json.as_array().ok_or("expected a JSON array of klines")?;
    let mut rows = Vec::with_capacity(klines.len());
    let mut last_open_ms = None;
    for (i, kline) in klines.iter().enumerate() {
        let fields = kline.as_array().filter(|f| f.len() >= 7).ok_or_else(|| {
            format!(
                "kline {i} is not an array [openTime, open, high, low, close, volume, closeTime, …]"
            )
        })?;
        let open_ms = fields[0].as_i64().ok_or_else(|| {
            format!(
                "kline {i}: openTime {} is not an integer",
                shown(&fields[0])
            )
        })?;
        let close_ms = fields[6].as_i64().ok_or_else(|| {
            format!(
                "kline {i}: closeTime {} is not an integer",
                shown(&fields[6])
            )
        })?;
        let day = day_of_ms(open_ms)
            .ok_or_else(|| format!("kline {i}: openTime {open_ms} is out of range"))?;
        let field = |index: usize, name: &str| {
            decimal(&fields[index]).ok_or_else(|| {
                format!(
                    "kline {i} ({day}): {name} {} is not an exact decimal number",
                    shown(&fields[index])
                )
            })
        };
        rows.push(DayValues {
            day,
            values: Ohlcv {
                open: field(1, "open")?,
                high: field(2, "high")?,
                low: field(3, "low")?,
                close: field(4, "close")?,
                volume: field(5, "volume")?,
            },
            complete: close_ms < now_ms,
        });
        last_open_ms = Some(last_open_ms.map_or(open_ms, |l: i64| l.max(open_ms)));
    }
    Ok(Page { rows, last_open_ms })
}

/// An exact decimal from a Binance string (or, leniently, a JSON number).
fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        // Strict: a string with more than 28 decimal places is refused, not silently rounded.
        Value::String(text) => parse_decimal(text.trim()).ok(),
        Value::Number(n) => n.as_f64().and_then(decimal_from_f64),
        _ => None,
    }
}

/// A JSON value as an error quotes it: a short printable excerpt (a field may be huge).
fn shown(value: &Value) -> String {
    excerpt(&value.to_string())
}
