//! Market-data sources: where daily candles come from.
//!
//! Every source implements [`DataSource`]: given an instrument and a [`FetchRequest`] (the first
//! day wanted and the caller's clock), it returns that instrument's validated daily UTC candles,
//! ascending and one per day. A source never writes anything; the sync job stores what it returns.
//!
//! # Layout
//! - [`sample`]: the real history bundled into the binary (offline).
//! - [`csv_file`]: a CSV file per instrument, also the parser behind `sample`.
//! - [`coingecko`]: CoinGecko API v3, Demo/keyless and Pro plans.
//! - [`binance`]: Binance public spot klines.
//! - [`alpaca`]: Alpaca daily bars of US stocks and ETFs (the account's key pair).
//! - `http`: the network sources' wrapper of the shared paced, retrying [`barter_http`] client.
//! - [`excerpt`](mod@excerpt): the short, printable quotes of input that errors carry (re-exported from
//!   `barter-http`, which quotes bodies the same way).

pub mod alpaca;
pub mod binance;
pub mod coingecko;
pub mod csv_file;
mod http;
pub mod sample;

use async_trait::async_trait;
use barter_core::{Candle, CandleError, Day, Instrument, SourceKind, Symbol};
use chrono::{DateTime, Utc};

pub use alpaca::{AlpacaAdjustment, AlpacaBarsSource, AlpacaConfig, AlpacaFeed};
pub use barter_http::{MAX_RESPONSE_BYTES, excerpt};
pub use binance::{BinanceConfig, BinanceSource};
pub use coingecko::{CoinGeckoConfig, CoinGeckoPlan, CoinGeckoSource};
pub use csv_file::CsvSource;
pub use http::ConfigError;
pub use sample::{SampleConfig, SampleSource};

/// What a sync asks a source for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchRequest {
    /// First day wanted, inclusive; `None` means all the history the source gives.
    pub from: Option<Day>,
    /// The caller's clock: decides "today" and whether the latest day is complete.
    pub now: DateTime<Utc>,
}

impl FetchRequest {
    /// The current UTC day of the request's clock.
    pub fn today(&self) -> Day {
        self.now.date_naive()
    }
}

/// A source of daily candles.
#[async_trait]
pub trait DataSource: Send + Sync {
    /// Which kind of source this is.
    fn kind(&self) -> SourceKind;

    /// Fetches `instrument`'s daily candles from `request.from` (inclusive) up to today, ascending,
    /// one per day, each validated; the day still in progress (if any) is marked incomplete.
    ///
    /// # Errors
    /// [`SourceError`] when the source cannot be reached, refuses the request, answers in an
    /// unexpected shape, or returns a candle that fails validation. Nothing is partially returned.
    async fn fetch_daily(
        &self,
        instrument: &Instrument,
        request: &FetchRequest,
    ) -> Result<Vec<Candle>, SourceError>;
}

/// One bad line of a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
}

impl BadLine {
    /// A bad line whose reason is cut to [`MAX_BAD_LINE_REASON_BYTES`].
    pub fn new(line: u64, reason: impl Into<String>) -> Self {
        Self {
            line,
            reason: excerpt::truncate_bytes(reason.into(), MAX_BAD_LINE_REASON_BYTES),
        }
    }
}

/// How many bad lines a rejected CSV file lists.
pub const MAX_BAD_LINES_LISTED: usize = 20;

/// Longest reason a listed bad line carries, in bytes: with [`MAX_BAD_LINES_LISTED`] and
/// [`MAX_SHOWN_PATH_CHARS`] this keeps a rejected file's whole message under 8 KiB.
pub const MAX_BAD_LINE_REASON_BYTES: usize = 300;

/// Most characters of a file path an error shows (paths come from users and the API).
pub const MAX_SHOWN_PATH_CHARS: usize = 200;

/// A file path as errors show it: short and printable.
pub(crate) fn shown_path(path: &str) -> String {
    excerpt::excerpt_max(path, MAX_SHOWN_PATH_CHARS)
}

/// Why a source could not deliver an instrument's candles.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The source does not know the instrument's id (HTTP 404, unknown symbol, missing sample).
    #[error("{source_kind} does not know `{id}` (instrument {symbol}): {detail}")]
    UnknownId {
        /// Which source.
        source_kind: SourceKind,
        /// The instrument.
        symbol: Symbol,
        /// The source id that was asked for.
        id: String,
        /// The source's words, and what to check.
        detail: String,
    },
    /// The source kept answering 429 after every retry.
    #[error("{source_kind} rate limit for {symbol}: still refused after {attempts} attempts{}; lower requests_per_minute or retry later", retry_after_secs.map(|s| format!(" (asked to wait {s}s)")).unwrap_or_default())]
    RateLimited {
        /// Which source.
        source_kind: SourceKind,
        /// The instrument.
        symbol: Symbol,
        /// Requests made.
        attempts: u32,
        /// The last Retry-After the source sent, in seconds.
        retry_after_secs: Option<u64>,
    },
    /// The plan or key does not allow the request (401/403, CoinGecko 10005/10012).
    #[error("{source_kind} refused {symbol} (HTTP {status}): {detail}")]
    Refused {
        /// Which source.
        source_kind: SourceKind,
        /// The instrument.
        symbol: Symbol,
        /// HTTP status.
        status: u16,
        /// The source's message and what to do.
        detail: String,
    },
    /// Any other unsuccessful HTTP answer (5xx after retries, 4xx).
    #[error("{source_kind} answered HTTP {status} for {symbol} after {attempts} attempts: {body}")]
    Http {
        /// Which source.
        source_kind: SourceKind,
        /// The instrument.
        symbol: Symbol,
        /// HTTP status.
        status: u16,
        /// Requests made.
        attempts: u32,
        /// The start of the response body.
        body: String,
    },
    /// The request could not be completed: timeout, refused connection, DNS.
    #[error("{source_kind} could not be reached for {symbol} after {attempts} attempts: {detail}")]
    Network {
        /// Which source.
        source_kind: SourceKind,
        /// The instrument.
        symbol: Symbol,
        /// Requests made.
        attempts: u32,
        /// What failed (e.g. "timed out after 30s").
        detail: String,
    },
    /// The answer was not in the documented shape.
    #[error("{source_kind} sent a malformed answer for {symbol}: {detail}")]
    Malformed {
        /// Which source.
        source_kind: SourceKind,
        /// The instrument.
        symbol: Symbol,
        /// What was wrong.
        detail: String,
    },
    /// A candle failed validation; nothing from this fetch is used.
    #[error("{source_kind} returned a bad candle, nothing stored for this instrument: {error}")]
    InvalidCandle {
        /// Which source.
        source_kind: SourceKind,
        /// The validation failure (names instrument, day and field); already in the message,
        /// so not a separate cause that `{:#}` would print twice.
        error: CandleError,
    },
    /// A CSV file (or the bundled sample) had bad lines; nothing from it is used.
    #[error("{path}: rejected, {total} bad line(s), nothing stored:\n{}", listed.iter().map(|b| format!("  line {}: {}", b.line, b.reason)).collect::<Vec<_>>().join("\n"))]
    CsvRejected {
        /// The file.
        path: String,
        /// How many lines were bad in all.
        total: usize,
        /// The first [`MAX_BAD_LINES_LISTED`] bad lines.
        listed: Vec<BadLine>,
    },
    /// A file was refused before reading: not a regular file, a system file, or too large.
    #[error("refused to read {path} for {symbol}: {reason}")]
    FileRefused {
        /// The file, as given (shortened).
        path: String,
        /// The instrument.
        symbol: Symbol,
        /// Why, and what to do.
        reason: String,
    },
    /// A file could not be read.
    #[error("cannot read {path} for {symbol}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The instrument.
        symbol: Symbol,
        /// The I/O error; already in the message, so not a separate cause that `{:#}` would
        /// print twice.
        error: std::io::Error,
    },
    /// The instrument is registered with a different source than the one asked.
    #[error("instrument {symbol} uses source {actual}, not {expected}")]
    WrongSource {
        /// The instrument.
        symbol: Symbol,
        /// The source that was asked.
        expected: SourceKind,
        /// The instrument's source.
        actual: SourceKind,
    },
}

/// Checks that `instrument` belongs to `kind`, so a source never serves another's instrument.
pub(crate) fn ensure_source(instrument: &Instrument, kind: SourceKind) -> Result<(), SourceError> {
    if instrument.source == kind {
        Ok(())
    } else {
        Err(SourceError::WrongSource {
            symbol: instrument.symbol.clone(),
            expected: kind,
            actual: instrument.source,
        })
    }
}

/// Keeps the candles on or after `from`.
pub(crate) fn keep_from(candles: Vec<Candle>, from: Option<Day>) -> Vec<Candle> {
    match from {
        Some(from) => candles.into_iter().filter(|c| c.day() >= from).collect(),
        None => candles,
    }
}
