//! CoinGecko API v3: true daily UTC candles on the Pro plan, derived ones on Demo/keyless.
//!
//! | plan | candles from | volume | origin |
//! |---|---|---|---|
//! | `pro` | `/coins/{id}/ohlc/range?vs_currency=…&from=YYYY-MM-DD&to=YYYY-MM-DD&interval=daily`, windows of ≤ 180 days, history from 2018-02-09 | `/coins/{id}/market_chart/range?vs_currency=…&from=<unix s>&to=<unix s>&interval=daily` for the same window, joined by UTC day; **0 when CoinGecko has no point for that day** | `coingecko_ohlc` |
//! | `demo`, `keyless` | `/coins/{id}/market_chart?vs_currency=…&days=N&interval=daily`, N = days from `from` to today + 1, **at most 365** (the plan reaches no further back) | `total_volumes` of the same response, joined by timestamp (CoinGecko's 24 h volume at the close); 0 when missing | `coingecko_market_chart` |
//!
//! | rule | how |
//! |---|---|
//! | timestamp → UTC day | timestamps are CLOSE times: round to the nearest 00:00 UTC, then step back one day (a point at D+1 00:00, D+1 00:05 or D 23:29 is day D) |
//! | unfinished day | Demo: the series' last point when it is not exactly at 00:00 and falls on today (the request-time price) is today's provisional close. Any candle for today is marked incomplete; candles after today are dropped |
//! | derived on Demo | close = CoinGecko's daily price; open = the previous point's close, i.e. the previous day's close, or the latest earlier one after a missing day (the first point only serves as the next day's open and yields no candle); high = max(open, close); low = min(open, close); volume = that point's 24 h volume |
//! | Pro today | windows end at today 00:00, so Pro returns complete days; a row CoinGecko stamps after that would be today's and is kept as incomplete |
//!
//! `vs_currency` is the instrument's quote currency lower-cased; `market_chart` requests also ask for
//! `precision=full`. Days CoinGecko skipped are skipped. Candles before `from` are dropped.
//! The API key is read by the app from `BARTER_COINGECKO_API_KEY` and sent only in the plan's header.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use barter_core::{Candle, CandleOrigin, Day, Instrument, Ohlcv, SourceKind, decimal_from_f64};
use barter_http::{StatusCode, Url};
use chrono::Days;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::excerpt::excerpt;
use crate::http::{
    ConfigError, DAY_MS, DayValues, HttpClient, HttpSettings, Reply, day_of_ms, midnight_ms,
    parse_base_url,
};
use crate::{DataSource, FetchRequest, SourceError, ensure_source};

/// The public (Demo and keyless) API root.
pub const DEFAULT_BASE_URL: &str = "https://api.coingecko.com/api/v3";
/// The paid-plan API root, used when `plan = "pro"` and `base_url` is left at its default.
pub const PRO_BASE_URL: &str = "https://pro-api.coingecko.com/api/v3";
/// The environment variable the app reads the API key from.
pub const API_KEY_ENV: &str = "BARTER_COINGECKO_API_KEY";
/// How far back the Demo and keyless plans reach, in days.
pub const DEMO_MAX_DAYS: u64 = 365;
/// Most days one Pro `/ohlc/range?interval=daily` request may span.
pub const PRO_WINDOW_DAYS: u64 = 180;

/// The first day of CoinGecko's daily OHLC history (`/ohlc/range`).
fn pro_first_day() -> Day {
    Day::from_ymd_opt(2018, 2, 9).unwrap_or_default()
}

/// Which CoinGecko plan the key belongs to; decides endpoints, key header and history depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoinGeckoPlan {
    /// No key: public host, shared IP rate limit, 365 days back, derived candles.
    Keyless,
    /// Free registered key (`x-cg-demo-api-key`): 365 days back, derived candles.
    #[default]
    Demo,
    /// Paid key (`x-cg-pro-api-key`): full daily OHLC history since 2018-02-09.
    Pro,
}

impl CoinGeckoPlan {
    /// The name used in config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keyless => "keyless",
            Self::Demo => "demo",
            Self::Pro => "pro",
        }
    }

    /// The header that carries this plan's key, if it has one.
    pub fn key_header(self) -> Option<&'static str> {
        match self {
            Self::Keyless => None,
            Self::Demo => Some("x-cg-demo-api-key"),
            Self::Pro => Some("x-cg-pro-api-key"),
        }
    }
}

impl fmt::Display for CoinGeckoPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `[sources.coingecko]` configuration; the key comes from the environment, never the file.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoinGeckoConfig {
    /// API root; with `plan = "pro"` the default public root is replaced by [`PRO_BASE_URL`].
    pub base_url: String,
    /// Which plan the key belongs to.
    pub plan: CoinGeckoPlan,
    /// Maximum request starts per minute (Demo allows about 30).
    pub requests_per_minute: u32,
    /// Per-request timeout in seconds.
    pub timeout_secs: f64,
    /// Retries after a 429, 5xx, timeout or connection error.
    pub max_retries: u32,
    /// First retry wait in seconds, doubled each retry, unless the server sends Retry-After.
    pub backoff_base_secs: f64,
    /// A server asking to wait longer than this fails the fetch instead of sleeping.
    pub max_retry_wait_secs: f64,
    /// The API key, set by the app from [`API_KEY_ENV`]; never read from or written to a file.
    #[serde(skip)]
    pub api_key: Option<String>,
}

impl Default for CoinGeckoConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            plan: CoinGeckoPlan::default(),
            requests_per_minute: 30,
            timeout_secs: 30.0,
            max_retries: 4,
            backoff_base_secs: 2.0,
            max_retry_wait_secs: 120.0,
            api_key: None,
        }
    }
}

impl fmt::Debug for CoinGeckoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoinGeckoConfig")
            .field("base_url", &self.base_url)
            .field("plan", &self.plan)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("timeout_secs", &self.timeout_secs)
            .field("max_retries", &self.max_retries)
            .field("backoff_base_secs", &self.backoff_base_secs)
            .field("max_retry_wait_secs", &self.max_retry_wait_secs)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Daily candles from CoinGecko's API v3.
pub struct CoinGeckoSource {
    plan: CoinGeckoPlan,
    base: Url,
    http: HttpClient,
}

impl fmt::Debug for CoinGeckoSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoinGeckoSource")
            .field("plan", &self.plan)
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl CoinGeckoSource {
    /// Checks the configuration and builds the source.
    ///
    /// # Errors
    /// [`ConfigError`] for a bad URL or number, a Demo/Pro plan without a key, or a key that
    /// cannot be sent in a header.
    pub fn new(config: CoinGeckoConfig) -> Result<Self, ConfigError> {
        let key = config
            .api_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty());
        let key_header = match (config.plan.key_header(), key) {
            (Some(header), Some(key)) => Some((header, key)),
            (Some(_), None) => {
                return Err(ConfigError::new(
                    SourceKind::CoinGecko,
                    format!(
                        "plan `{}` needs an API key: set {API_KEY_ENV}, or set plan = \"keyless\"",
                        config.plan
                    ),
                ));
            }
            (None, Some(_)) => {
                tracing::warn!(
                    "{API_KEY_ENV} is set but the CoinGecko plan is `keyless`: the key is not sent"
                );
                None
            }
            (None, None) => None,
        };
        let root = if config.plan == CoinGeckoPlan::Pro
            && config.base_url.trim_end_matches('/') == DEFAULT_BASE_URL
        {
            PRO_BASE_URL
        } else {
            config.base_url.as_str()
        };
        let base = parse_base_url(SourceKind::CoinGecko, root, DEFAULT_BASE_URL)?;
        let settings = HttpSettings {
            requests_per_minute: config.requests_per_minute,
            timeout_secs: config.timeout_secs,
            max_retries: config.max_retries,
            backoff_base_secs: config.backoff_base_secs,
            max_retry_wait_secs: config.max_retry_wait_secs,
        };
        let http = HttpClient::new(SourceKind::CoinGecko, settings, key_header)?;
        Ok(Self {
            plan: config.plan,
            base,
            http,
        })
    }

    /// The plan this source was built for.
    pub fn plan(&self) -> CoinGeckoPlan {
        self.plan
    }

    /// `{base}/coins/{id}/{tail…}?{query}`, with the id percent-encoded as one path segment.
    fn url(&self, id: &str, tail: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push("coins").push(id).extend(tail);
        }
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        url
    }

    /// GETs `url` and parses a 200 body as JSON; other statuses become CoinGecko-specific errors.
    async fn get_json(&self, instrument: &Instrument, url: &Url) -> Result<Value, SourceError> {
        let reply = self.http.get(&instrument.symbol, url).await?;
        if reply.status != StatusCode::OK {
            return Err(self.status_error(instrument, reply));
        }
        serde_json::from_str(&reply.body).map_err(|e| {
            malformed(
                instrument,
                format!(
                    "body is not JSON ({}): {}",
                    excerpt(&e.to_string()),
                    self.http.snippet(&reply.body)
                ),
            )
        })
    }

    /// Maps a non-200 answer to the error that tells the user what to do.
    fn status_error(&self, instrument: &Instrument, reply: Reply) -> SourceError {
        let said = self.http.snippet(&reply.body);
        let refused = |detail: String| self.http.refused(&instrument.symbol, &reply, detail);
        match (reply.status.as_u16(), error_code(&reply.body)) {
            (404, _) => SourceError::UnknownId {
                source_kind: SourceKind::CoinGecko,
                symbol: instrument.symbol.clone(),
                id: instrument.source_id.clone(),
                detail: format!(
                    "CoinGecko said {said}; check the CoinGecko id, e.g. `bitcoin` not `BTC`; see /coins/list"
                ),
            },
            (_, Some(10012)) => refused(format!(
                "the `{}` plan reaches only the past {DEMO_MAX_DAYS} days of history; sync from a later day or use a paid key with plan = \"pro\" (CoinGecko said {said})",
                self.plan
            )),
            (_, Some(10010 | 10011)) => refused(format!(
                "the key does not match the host: paid keys need plan = \"pro\" ({PRO_BASE_URL}), Demo keys plan = \"demo\" ({DEFAULT_BASE_URL}); CoinGecko said {said}"
            )),
            (_, Some(10005)) | (401 | 403, _) => refused(format!(
                "check the API key in {API_KEY_ENV} and that plan = \"{}\" matches it (free keys are `demo`, paid keys `pro`; no key is `keyless`); CoinGecko said {said}",
                self.plan
            )),
            _ => self.http.http_error(&instrument.symbol, &reply),
        }
    }

    /// Demo/keyless: derive candles from the daily market chart.
    async fn fetch_market_chart(
        &self,
        instrument: &Instrument,
        request: &FetchRequest,
        vs: &str,
    ) -> Result<Vec<DayValues>, SourceError> {
        let today = request.today();
        let wanted = request.from.map(|from| (today - from).num_days() + 1);
        let days = match wanted {
            Some(n) if n <= 0 => return Ok(Vec::new()),
            Some(n) if n as u64 <= DEMO_MAX_DAYS => n as u64,
            _ => {
                tracing::info!(
                    symbol = %instrument.symbol,
                    plan = %self.plan,
                    from = ?request.from,
                    "CoinGecko {} plan reaches only {DEMO_MAX_DAYS} days back: fetching from {}",
                    self.plan,
                    today - Days::new(DEMO_MAX_DAYS - 1)
                );
                DEMO_MAX_DAYS
            }
        };
        let query = [
            ("vs_currency", vs.to_owned()),
            ("days", days.to_string()),
            ("interval", "daily".to_owned()),
            ("precision", "full".to_owned()),
        ];
        let url = self.url(&instrument.source_id, &["market_chart"], &query);
        let json = self.get_json(instrument, &url).await?;
        let chart = MarketChart::parse(&json).map_err(|d| malformed(instrument, d))?;
        derive_from_chart(&chart, today).map_err(|d| malformed(instrument, d))
    }

    /// Pro: daily OHLC in ≤ 180-day windows, joined with daily volume by UTC day.
    async fn fetch_ohlc_range(
        &self,
        instrument: &Instrument,
        request: &FetchRequest,
        vs: &str,
    ) -> Result<Vec<DayValues>, SourceError> {
        let today = request.today();
        let mut start = request
            .from
            .unwrap_or_else(pro_first_day)
            .max(pro_first_day());
        let mut rows = Vec::new();
        while start < today {
            let end = (start + Days::new(PRO_WINDOW_DAYS)).min(today);
            let ohlc_query = [
                ("vs_currency", vs.to_owned()),
                ("from", start.to_string()),
                ("to", end.to_string()),
                ("interval", "daily".to_owned()),
            ];
            let url = self.url(&instrument.source_id, &["ohlc", "range"], &ohlc_query);
            let ohlc = self.get_json(instrument, &url).await?;
            let chart_query = [
                ("vs_currency", vs.to_owned()),
                ("from", (midnight_ms(start) / 1000).to_string()),
                ("to", (midnight_ms(end) / 1000).to_string()),
                ("interval", "daily".to_owned()),
                ("precision", "full".to_owned()),
            ];
            let url = self.url(
                &instrument.source_id,
                &["market_chart", "range"],
                &chart_query,
            );
            let chart = self.get_json(instrument, &url).await?;
            let chart = MarketChart::parse(&chart).map_err(|d| malformed(instrument, d))?;
            let volumes: HashMap<Day, Decimal> = chart
                .total_volumes
                .iter()
                .map(|p| Ok((close_day(p.ms)?, p.value)))
                .collect::<Result<_, String>>()
                .map_err(|d| malformed(instrument, d))?;
            rows.extend(ohlc_rows(&ohlc, &volumes).map_err(|d| malformed(instrument, d))?);
            start = end;
        }
        Ok(rows)
    }
}

#[async_trait]
impl DataSource for CoinGeckoSource {
    fn kind(&self) -> SourceKind {
        SourceKind::CoinGecko
    }

    async fn fetch_daily(
        &self,
        instrument: &Instrument,
        request: &FetchRequest,
    ) -> Result<Vec<Candle>, SourceError> {
        ensure_source(instrument, SourceKind::CoinGecko)?;
        let vs = instrument.quote_currency.to_ascii_lowercase();
        let (rows, origin) = match self.plan {
            CoinGeckoPlan::Pro => (
                self.fetch_ohlc_range(instrument, request, &vs).await?,
                CandleOrigin::CoinGeckoOhlc,
            ),
            CoinGeckoPlan::Demo | CoinGeckoPlan::Keyless => (
                self.fetch_market_chart(instrument, request, &vs).await?,
                CandleOrigin::CoinGeckoMarketChart,
            ),
        };
        crate::http::into_candles(instrument, request, rows, origin)
    }
}

/// A `Malformed` error for `instrument`.
fn malformed(instrument: &Instrument, detail: String) -> SourceError {
    SourceError::Malformed {
        source_kind: SourceKind::CoinGecko,
        symbol: instrument.symbol.clone(),
        detail,
    }
}

/// CoinGecko's numeric error code, from `{"status":{"error_code":N}}` or `{"error":{"status":{…}}}`.
fn error_code(body: &str) -> Option<i64> {
    let json: Value = serde_json::from_str(body).ok()?;
    json.pointer("/status/error_code")
        .or_else(|| json.pointer("/error/status/error_code"))
        .and_then(Value::as_i64)
}

/// One `[timestamp_ms, value]` point of a market chart.
#[derive(Debug, Clone, Copy)]
struct Point {
    ms: i64,
    value: Decimal,
}

/// The parts of a `/market_chart` answer we use (`market_caps` is ignored: it may be shorter).
#[derive(Debug)]
struct MarketChart {
    prices: Vec<Point>,
    total_volumes: Vec<Point>,
}

impl MarketChart {
    /// Reads `{"prices":[[ms,n],…],"total_volumes":[[ms,n],…]}`, sorted by time.
    fn parse(json: &Value) -> Result<Self, String> {
        let series = |name: &str| -> Result<Vec<Point>, String> {
            let rows = json.get(name).and_then(Value::as_array).ok_or_else(|| {
                format!("expected an object with a `{name}` array of [timestamp, number] pairs")
            })?;
            let mut points = rows
                .iter()
                .enumerate()
                .map(|(i, row)| {
                    let what = format!("{name}[{i}]");
                    let row = row.as_array().filter(|r| r.len() == 2).ok_or_else(|| {
                        format!("{what} is {}, expected [timestamp_ms, number]", short(row))
                    })?;
                    Ok(Point {
                        ms: timestamp(&row[0], &what)?,
                        value: number(&row[1], &what)?,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            points.sort_by_key(|p| p.ms);
            Ok(points)
        };
        Ok(Self {
            prices: series("prices")?,
            total_volumes: series("total_volumes")?,
        })
    }
}

/// Demo derivation: each price point closes a day, opened by the point before it.
fn derive_from_chart(chart: &MarketChart, today: Day) -> Result<Vec<DayValues>, String> {
    let volumes: HashMap<i64, Decimal> = chart
        .total_volumes
        .iter()
        .map(|p| (p.ms, p.value))
        .collect();
    let last = chart.prices.len().saturating_sub(1);
    let mut previous_close: Option<Decimal> = None;
    let mut rows = Vec::with_capacity(chart.prices.len());
    for (i, point) in chart.prices.iter().enumerate() {
        let on_day = day_of_ms(point.ms)
            .ok_or_else(|| format!("prices[{i}] has timestamp {} out of range", point.ms))?;
        let provisional = i == last && point.ms.rem_euclid(DAY_MS) != 0 && on_day >= today;
        let day = if provisional {
            on_day
        } else {
            close_day(point.ms)?
        };
        let close = point.value;
        if let Some(open) = previous_close {
            rows.push(DayValues {
                day,
                values: Ohlcv {
                    open,
                    high: open.max(close),
                    low: open.min(close),
                    close,
                    volume: volumes.get(&point.ms).copied().unwrap_or(Decimal::ZERO),
                },
                complete: !provisional,
            });
        }
        previous_close = Some(close);
    }
    Ok(rows)
}

/// Pro: `[[close_ms, open, high, low, close], …]` rows joined with the day's volume.
fn ohlc_rows(json: &Value, volumes: &HashMap<Day, Decimal>) -> Result<Vec<DayValues>, String> {
    let rows = json.as_array().ok_or_else(|| {
        format!(
            "expected an array of [timestamp, open, high, low, close] rows, got {}",
            short(json)
        )
    })?;
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let what = format!("ohlc[{i}]");
            let row = row.as_array().filter(|r| r.len() == 5).ok_or_else(|| {
                format!(
                    "{what} is {}, expected [timestamp_ms, open, high, low, close]",
                    short(row)
                )
            })?;
            let day = close_day(timestamp(&row[0], &what)?)?;
            Ok(DayValues {
                day,
                values: Ohlcv {
                    open: number(&row[1], &what)?,
                    high: number(&row[2], &what)?,
                    low: number(&row[3], &what)?,
                    close: number(&row[4], &what)?,
                    volume: volumes.get(&day).copied().unwrap_or(Decimal::ZERO),
                },
                complete: true,
            })
        })
        .collect()
}

/// The day a close-time stamp belongs to: nearest 00:00 UTC, minus one day.
fn close_day(ms: i64) -> Result<Day, String> {
    let midnight = (ms + DAY_MS / 2).div_euclid(DAY_MS) * DAY_MS;
    day_of_ms(midnight)
        .and_then(|d| d.pred_opt())
        .ok_or_else(|| format!("timestamp {ms} is out of range"))
}

/// A millisecond timestamp from a JSON number (integer or float).
fn timestamp(value: &Value, what: &str) -> Result<i64, String> {
    value
        .as_i64()
        .or_else(|| {
            value
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1e15)
                .map(|f| f.round() as i64)
        })
        .filter(|ms| *ms > 0)
        .ok_or_else(|| {
            format!(
                "{what}: timestamp {} is not a positive number of milliseconds",
                short(value)
            )
        })
}

/// An exact decimal from a JSON number.
fn number(value: &Value, what: &str) -> Result<Decimal, String> {
    value
        .as_f64()
        .and_then(decimal_from_f64)
        .ok_or_else(|| format!("{what}: {} is not a number", short(value)))
}

/// A JSON value shortened for an error message: a short printable excerpt.
fn short(value: &Value) -> String {
    excerpt(&value.to_string())
}
