//! Alpaca market data: daily bars of US stocks and ETFs (`GET /v2/stocks/{symbol}/bars`), so a
//! stock strategy can take its candles and its orders from the same Alpaca account.
//!
//! | rule | how |
//! |---|---|
//! | request | `{base}/v2/stocks/{ID}/bars?timeframe=1Day&start=YYYY-MM-DD&end=<now, RFC 3339>&limit=10000&feed=…&adjustment=…`; `start` is `from`, or [`EARLIEST_START`] for all history (Alpaca's own default would be today only) |
//! | keys | `APCA-API-KEY-ID` and `APCA-API-SECRET-KEY` on every request, read by the app from `BARTER_ALPACA_KEY_ID` / `BARTER_ALPACA_SECRET_KEY` (the trading adapter's names); never in a file, never in an error |
//! | pagination | `page_token=<next_page_token>` until the answer has none; at most [`MAX_PAGES`] pages, and a token sent twice stops the fetch with an error (a server that loops would otherwise never end) |
//! | bar | `{"t": RFC 3339, "o", "h", "l", "c": JSON numbers, "v": JSON integer, "n", "vw"}`; prices and volume are read from the number's text, exactly (never through `f64`); `n` and `vw` are ignored |
//! | day | the **New York** calendar date of `t`: Alpaca stamps a daily bar at 00:00 New York time, i.e. 04:00 UTC in summer (EDT) and 05:00 UTC in winter (EST); the time-zone database's daylight-saving rule decides (see [`new_york_date`]) |
//! | unfinished day | a bar is complete once New York's date has moved past its day (extended-hours trades can change it until then); any bar for today (UTC) is incomplete too |
//!
//! The source id is the ticker (`SPY`, `BRK.B`), upper-cased. The `iex` feed is the free plan's;
//! `sip` (all US exchanges) needs a paid data plan for the latest 15 minutes, so with `sip` the
//! request ends 15 minutes before the caller's clock.

use std::collections::HashSet;
use std::fmt;

use async_trait::async_trait;
use barter_core::{Candle, CandleOrigin, Day, Instrument, Ohlcv, SourceKind};
use barter_http::{StatusCode, Url};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::csv_file::parse_decimal;
use crate::excerpt::excerpt;
use crate::http::{ConfigError, DayValues, HttpClient, HttpSettings, Reply, parse_base_url};
use crate::{DataSource, FetchRequest, SourceError, ensure_source};

/// Alpaca's market-data API root (the same host for paper and live keys).
pub const DEFAULT_BASE_URL: &str = "https://data.alpaca.markets";
/// The environment variable the app reads the key id from (shared with the trading adapter).
pub const KEY_ID_ENV: &str = "BARTER_ALPACA_KEY_ID";
/// The environment variable the app reads the secret key from (shared with the trading adapter).
pub const SECRET_KEY_ENV: &str = "BARTER_ALPACA_SECRET_KEY";
/// Bars asked for per page (Alpaca's maximum).
pub const BARS_LIMIT: usize = 10_000;
/// Most pages one fetch follows: 1,000 pages of 10,000 daily bars is far more than any history,
/// so reaching it means the server keeps handing out tokens.
pub const MAX_PAGES: usize = 1_000;
/// The `start` sent when the sync wants all history: before any bar Alpaca has.
pub const EARLIEST_START: &str = "2000-01-01";

/// The header carrying the key id.
const KEY_ID_HEADER: &str = "apca-api-key-id";
/// The header carrying the secret key.
const SECRET_KEY_HEADER: &str = "apca-api-secret-key";

/// Which Alpaca data feed bars are built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlpacaFeed {
    /// IEX only: the free plan's feed (about 2–3 % of US volume, so volumes are small).
    #[default]
    Iex,
    /// All US exchanges (the consolidated tape); the latest 15 minutes need a paid plan.
    Sip,
}

impl AlpacaFeed {
    /// The name used in config and in the request.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Iex => "iex",
            Self::Sip => "sip",
        }
    }
}

impl fmt::Display for AlpacaFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which corporate actions Alpaca adjusts past prices for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlpacaAdjustment {
    /// Prices as traded: what fills against the venue compare with.
    #[default]
    Raw,
    /// Adjusted for splits.
    Split,
    /// Adjusted for dividends.
    Dividend,
    /// Adjusted for splits and dividends.
    All,
}

impl AlpacaAdjustment {
    /// The name used in config and in the request.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Split => "split",
            Self::Dividend => "dividend",
            Self::All => "all",
        }
    }
}

impl fmt::Display for AlpacaAdjustment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `[sources.alpaca]` configuration; the keys come from the environment, never the file.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlpacaConfig {
    /// Market-data API root, e.g. `https://data.alpaca.markets`.
    pub base_url: String,
    /// `iex` (free plan) or `sip` (paid).
    pub feed: AlpacaFeed,
    /// `raw`, `split`, `dividend` or `all`.
    pub adjustment: AlpacaAdjustment,
    /// Maximum request starts per minute (the free data plan allows 200).
    pub requests_per_minute: u32,
    /// Per-request timeout in seconds.
    pub timeout_secs: f64,
    /// Retries after a 429, 5xx, timeout or connection error.
    pub max_retries: u32,
    /// First retry wait in seconds, doubled each retry, unless the server sends Retry-After.
    pub backoff_base_secs: f64,
    /// A server asking to wait longer than this fails the fetch instead of sleeping.
    pub max_retry_wait_secs: f64,
    /// The key id, set by the app from [`KEY_ID_ENV`]; never read from or written to a file.
    #[serde(skip)]
    pub key_id: Option<String>,
    /// The secret key, set by the app from [`SECRET_KEY_ENV`]; never read from or written to a
    /// file.
    #[serde(skip)]
    pub secret_key: Option<String>,
}

impl Default for AlpacaConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            feed: AlpacaFeed::default(),
            adjustment: AlpacaAdjustment::default(),
            requests_per_minute: 200,
            timeout_secs: 30.0,
            max_retries: 4,
            backoff_base_secs: 2.0,
            max_retry_wait_secs: 120.0,
            key_id: None,
            secret_key: None,
        }
    }
}

impl fmt::Debug for AlpacaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlpacaConfig")
            .field("base_url", &self.base_url)
            .field("feed", &self.feed)
            .field("adjustment", &self.adjustment)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("timeout_secs", &self.timeout_secs)
            .field("max_retries", &self.max_retries)
            .field("backoff_base_secs", &self.backoff_base_secs)
            .field("max_retry_wait_secs", &self.max_retry_wait_secs)
            .field("key_id", &self.key_id.as_ref().map(|_| "***"))
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Daily candles from Alpaca's stock bars.
pub struct AlpacaBarsSource {
    base: Url,
    feed: AlpacaFeed,
    adjustment: AlpacaAdjustment,
    http: HttpClient,
}

impl fmt::Debug for AlpacaBarsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlpacaBarsSource")
            .field("base", &self.base.as_str())
            .field("feed", &self.feed)
            .field("adjustment", &self.adjustment)
            .finish_non_exhaustive()
    }
}

impl AlpacaBarsSource {
    /// Checks the configuration and builds the source.
    ///
    /// # Errors
    /// [`ConfigError`] for a bad URL or number, a missing key (naming its variable), or a key
    /// that cannot be sent in a header.
    pub fn new(config: AlpacaConfig) -> Result<Self, ConfigError> {
        let key = |value: &Option<String>, variable: &str| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    ConfigError::new(
                        SourceKind::Alpaca,
                        format!(
                            "{variable} is not set: Alpaca market data needs the account's key pair in {KEY_ID_ENV} and {SECRET_KEY_ENV} (paper or live keys both read data)"
                        ),
                    )
                })
        };
        let key_id = key(&config.key_id, KEY_ID_ENV)?;
        let secret_key = key(&config.secret_key, SECRET_KEY_ENV)?;
        let base = parse_base_url(SourceKind::Alpaca, &config.base_url, DEFAULT_BASE_URL)?;
        let settings = HttpSettings {
            requests_per_minute: config.requests_per_minute,
            timeout_secs: config.timeout_secs,
            max_retries: config.max_retries,
            backoff_base_secs: config.backoff_base_secs,
            max_retry_wait_secs: config.max_retry_wait_secs,
        };
        let http = HttpClient::new(
            SourceKind::Alpaca,
            settings,
            Some((KEY_ID_HEADER, key_id.as_str())),
        )
        .map_err(|e| {
            // Only a key problem points at the variable; a bad number is named by the client.
            if e.problem.contains("API key") {
                ConfigError::new(
                    SourceKind::Alpaca,
                    format!("{} (check {KEY_ID_ENV})", e.problem),
                )
            } else {
                e
            }
        })?
        .with_secret_header(SECRET_KEY_HEADER, &secret_key, SECRET_KEY_ENV)?;
        Ok(Self {
            base,
            feed: config.feed,
            adjustment: config.adjustment,
            http,
        })
    }

    /// Paces this source with `pacer`, to share a request budget with another client of the
    /// same Alpaca data plan.
    pub fn with_pacer(mut self, pacer: std::sync::Arc<barter_http::Pacer>) -> Self {
        self.http = self.http.with_pacer(pacer);
        self
    }

    /// The API root this source reads from.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The bars URL for one page.
    fn url(&self, symbol: &str, request: &FetchRequest, page_token: Option<&str>) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend(["v2", "stocks", symbol, "bars"]);
        }
        let start = request
            .from
            .map_or_else(|| EARLIEST_START.to_owned(), |d| d.to_string());
        // SIP data of the latest 15 minutes is refused on the free plan; a daily bar loses
        // nothing by ending a little earlier (the day in progress is incomplete anyway).
        let end = match self.feed {
            AlpacaFeed::Iex => request.now,
            AlpacaFeed::Sip => request.now - Duration::minutes(15),
        };
        let mut pairs = url.query_pairs_mut();
        pairs
            .append_pair("timeframe", "1Day")
            .append_pair("start", &start)
            .append_pair("end", &end.to_rfc3339_opts(SecondsFormat::Secs, true))
            .append_pair("limit", &BARS_LIMIT.to_string())
            .append_pair("feed", self.feed.as_str())
            .append_pair("adjustment", self.adjustment.as_str());
        if let Some(token) = page_token {
            pairs.append_pair("page_token", token);
        }
        drop(pairs);
        url
    }

    /// Maps a non-200 answer to the error that tells the user what to do.
    fn status_error(&self, instrument: &Instrument, symbol: &str, reply: Reply) -> SourceError {
        let said = self.http.snippet(&reply.body);
        let refused = |detail: String| self.http.refused(&instrument.symbol, &reply, detail);
        match reply.status.as_u16() {
            401 => refused(format!(
                "check the key pair in {KEY_ID_ENV} and {SECRET_KEY_ENV} (both halves of one pair, without quotes); Alpaca said {said}"
            )),
            403 => refused(format!(
                "the data plan does not allow this request; the free plan needs feed = \"iex\" in [sources.alpaca] (now `{}`); Alpaca said {said}",
                self.feed
            )),
            404 => SourceError::UnknownId {
                source_kind: SourceKind::Alpaca,
                symbol: instrument.symbol.clone(),
                id: excerpt(symbol),
                detail: format!("Alpaca said {said}; use the ticker, e.g. `SPY`"),
            },
            _ => self.http.http_error(&instrument.symbol, &reply),
        }
    }

    /// A `Malformed` error for `instrument`.
    fn malformed(&self, instrument: &Instrument, detail: String) -> SourceError {
        SourceError::Malformed {
            source_kind: SourceKind::Alpaca,
            symbol: instrument.symbol.clone(),
            detail,
        }
    }
}

#[async_trait]
impl DataSource for AlpacaBarsSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Alpaca
    }

    async fn fetch_daily(
        &self,
        instrument: &Instrument,
        request: &FetchRequest,
    ) -> Result<Vec<Candle>, SourceError> {
        ensure_source(instrument, SourceKind::Alpaca)?;
        let symbol = instrument.source_id.trim().to_ascii_uppercase();
        if request.from.is_some_and(|from| from > request.today()) {
            return Ok(Vec::new());
        }
        let new_york_today = new_york_date(request.now);
        let mut rows = Vec::new();
        let mut token: Option<String> = None;
        let mut tokens_sent = HashSet::new();
        for page_number in 1..=MAX_PAGES {
            let url = self.url(&symbol, request, token.as_deref());
            let reply = self.http.get(&instrument.symbol, &url).await?;
            if reply.status != StatusCode::OK {
                return Err(self.status_error(instrument, &symbol, reply));
            }
            let page = parse_page(&reply.body, &symbol, new_york_today).map_err(|detail| {
                self.malformed(
                    instrument,
                    format!(
                        "{detail} (page {page_number}: {})",
                        self.http.snippet(&reply.body)
                    ),
                )
            })?;
            rows.extend(page.rows);
            let Some(next) = page.next_page_token else {
                return crate::http::into_candles(
                    instrument,
                    request,
                    rows,
                    CandleOrigin::AlpacaBars,
                );
            };
            if !tokens_sent.insert(next.clone()) {
                return Err(self.malformed(
                    instrument,
                    format!(
                        "Alpaca sent next_page_token `{}` a second time after page {page_number}; stopped instead of looping (retry later)",
                        excerpt(&next)
                    ),
                ));
            }
            token = Some(next);
        }
        Err(self.malformed(
            instrument,
            format!(
                "Alpaca still had a next page after {MAX_PAGES} pages; stopped (sync from a later day, or retry later)"
            ),
        ))
    }
}

/// One parsed page of bars.
struct Page {
    rows: Vec<DayValues>,
    next_page_token: Option<String>,
}

/// The documented shape of a bars answer; other fields are ignored (Alpaca adds fields).
#[derive(Deserialize)]
struct WirePage {
    /// `null` when there are no bars in the range.
    #[serde(default)]
    bars: Option<Vec<WireBar>>,
    #[serde(default)]
    symbol: Option<String>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// One bar; prices stay as the number's text until they are parsed exactly.
#[derive(Deserialize)]
struct WireBar {
    t: String,
    o: Box<RawValue>,
    h: Box<RawValue>,
    l: Box<RawValue>,
    c: Box<RawValue>,
    v: Box<RawValue>,
}

/// Parses a bars page for `symbol`; `new_york_today` decides which bars are complete.
fn parse_page(body: &str, symbol: &str, new_york_today: Day) -> Result<Page, String> {
    // serde would also accept a JSON array for the struct; only the documented object is.
    if !body.trim_start().starts_with('{') {
        return Err("expected a JSON object {\"bars\": [...], …}".to_owned());
    }
    let page: WirePage = serde_json::from_str(body).map_err(|e| {
        format!(
            "expected {{\"bars\": [...], \"symbol\", \"next_page_token\"}} ({})",
            excerpt(&e.to_string())
        )
    })?;
    if let Some(answered) = &page.symbol
        && !answered.eq_ignore_ascii_case(symbol)
    {
        return Err(format!(
            "bars are for `{}`, not `{}`",
            excerpt(answered),
            excerpt(symbol)
        ));
    }
    let bars = page.bars.unwrap_or_default();
    let mut rows = Vec::with_capacity(bars.len());
    for (i, bar) in bars.iter().enumerate() {
        let stamp = DateTime::parse_from_rfc3339(bar.t.trim())
            .map_err(|_| format!("bar {i}: t `{}` is not an RFC 3339 time", excerpt(&bar.t)))?;
        let day = new_york_date(stamp.with_timezone(&Utc));
        let field = |raw: &RawValue, name: &str| {
            decimal(raw).ok_or_else(|| {
                format!(
                    "bar {i} ({day}): {name} {} is not an exact decimal number",
                    excerpt(raw.get())
                )
            })
        };
        rows.push(DayValues {
            day,
            values: Ohlcv {
                open: field(&bar.o, "o")?,
                high: field(&bar.h, "h")?,
                low: field(&bar.l, "l")?,
                close: field(&bar.c, "c")?,
                volume: field(&bar.v, "v")?,
            },
            complete: day < new_york_today,
        });
    }
    let next_page_token = page.next_page_token.filter(|t| !t.is_empty());
    Ok(Page {
        rows,
        next_page_token,
    })
}

/// An exact decimal from a JSON number's text (or, leniently, a decimal string).
fn decimal(raw: &RawValue) -> Option<Decimal> {
    let text = raw.get().trim();
    let text = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => inner.trim(),
        None => text,
    };
    // Strict: more than 28 decimal places is refused, not silently rounded.
    parse_decimal(text).ok()
}

/// The calendar date in New York (US Eastern time, with its daylight-saving rules from the
/// IANA time-zone database) at `instant`.
pub fn new_york_date(instant: DateTime<Utc>) -> Day {
    instant
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().expect("valid time")
    }

    fn date(text: &str) -> Day {
        text.parse().expect("valid date")
    }

    #[test]
    fn new_york_midnight_stamps_map_to_their_new_york_date_across_dst() {
        // 2026: DST from 2026-03-08 07:00 UTC to 2026-11-01 06:00 UTC.
        for (stamp, day) in [
            ("2026-03-06T05:00:00Z", "2026-03-06"), // Friday, EST
            ("2026-03-09T04:00:00Z", "2026-03-09"), // Monday, EDT
            ("2026-10-30T04:00:00Z", "2026-10-30"), // Friday, EDT
            ("2026-11-02T05:00:00Z", "2026-11-02"), // Monday, EST
            ("2026-03-08T06:59:59Z", "2026-03-08"), // 01:59:59 EST
            ("2026-03-08T03:59:59Z", "2026-03-07"), // 22:59:59 EST
            ("2026-11-01T05:59:59Z", "2026-11-01"), // 01:59:59 EDT
            ("2026-11-01T04:30:00Z", "2026-11-01"), // 00:30 EDT
            ("2026-01-15T04:30:00Z", "2026-01-14"), // 23:30 EST
            ("2005-04-03T06:59:00Z", "2005-04-03"), // 01:59 EST, before the 2007 rule
            ("2005-10-30T04:00:00Z", "2005-10-30"), // midnight EDT
        ] {
            assert_eq!(new_york_date(utc(stamp)), date(day), "{stamp}");
        }
    }

    #[test]
    fn decimals_keep_every_digit_of_the_number_text() {
        let raw = |text: &str| RawValue::from_string(text.to_owned()).expect("raw JSON");
        assert_eq!(decimal(&raw("585.1234")), Some(Decimal::new(5_851_234, 4)));
        assert_eq!(
            decimal(&raw("123456789012345678901")),
            "123456789012345678901".parse().ok()
        );
        assert_eq!(
            decimal(&raw("0.12345678901234567890123")),
            "0.12345678901234567890123".parse().ok()
        );
        assert_eq!(decimal(&raw("1.5e2")), Some(Decimal::new(150, 0)));
        assert_eq!(decimal(&raw("\"2.50\"")), Some(Decimal::new(250, 2)));
        assert_eq!(decimal(&raw("null")), None);
        assert_eq!(decimal(&raw("true")), None);
    }
}
