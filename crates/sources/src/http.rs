//! The network sources' side of the shared [`barter_http`] client, and the step that turns their
//! per-day values into validated candles.
//!
//! Pacing, retries, the body size bound and secret scrubbing live in `barter-http` (shared with
//! the venue adapters). This module wraps that client per source: it names the source and the
//! instrument in every error and turns [`HttpError`] into the [`SourceError`] users see.

use std::collections::BTreeMap;

use barter_core::{Candle, CandleOrigin, Day, Instrument, Ohlcv, SourceKind, Symbol};
use barter_http::{ApiKey, HeaderName, HeaderValue, HttpError, MAX_RESPONSE_BYTES, Request, Url};
use chrono::{DateTime, Utc};

use crate::{FetchRequest, SourceError};

pub(crate) use barter_http::{Reply, Settings as HttpSettings};

/// Why a network source's configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_kind} configuration: {problem}")]
pub struct ConfigError {
    /// Which source.
    pub source_kind: SourceKind,
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl ConfigError {
    /// A problem with `source_kind`'s configuration.
    pub(crate) fn new(source_kind: SourceKind, problem: impl Into<String>) -> Self {
        Self {
            source_kind,
            problem: problem.into(),
        }
    }
}

/// Parses and checks a configured API root: an http(s) URL that can take a path; `example` is
/// suggested in the error.
pub(crate) fn parse_base_url(
    kind: SourceKind,
    text: &str,
    example: &str,
) -> Result<Url, ConfigError> {
    let url = Url::parse(text.trim())
        .map_err(|e| ConfigError::new(kind, format!("base_url `{text}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(ConfigError::new(
            kind,
            format!("base_url `{text}` must be an http(s) URL such as {example}"),
        ));
    }
    Ok(url)
}

/// The shared paced, retrying client of one source instance, with the source's error wording.
pub(crate) struct HttpClient {
    kind: SourceKind,
    inner: barter_http::HttpClient,
    /// A second secret header (Alpaca's secret key), marked sensitive and scrubbed from errors.
    secret_header: Option<(HeaderName, HeaderValue)>,
}

impl HttpClient {
    /// Builds a client; `key_header` is sent on every request and never appears in errors or logs.
    pub(crate) fn new(
        kind: SourceKind,
        settings: HttpSettings,
        key_header: Option<(&'static str, &str)>,
    ) -> Result<Self, ConfigError> {
        let key = key_header.map(|(header, value)| ApiKey { header, value });
        let inner = barter_http::HttpClient::new(settings, key)
            .map_err(|e| ConfigError::new(kind, e.problem))?
            .named(kind.as_str());
        Ok(Self {
            kind,
            inner,
            secret_header: None,
        })
    }

    /// Also sends `value` in `header` on every request (a key pair's second half); like the key,
    /// it is marked sensitive and removed from every error text.
    ///
    /// # Errors
    /// [`ConfigError`] naming `variable` when the value cannot travel in an HTTP header.
    pub(crate) fn with_secret_header(
        mut self,
        header: &'static str,
        value: &str,
        variable: &str,
    ) -> Result<Self, ConfigError> {
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            ConfigError::new(
                self.kind,
                format!(
                    "the key holds characters an HTTP header cannot carry (check {variable} for stray quotes or newlines)"
                ),
            )
        })?;
        value.set_sensitive(true);
        let name = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
            ConfigError::new(
                self.kind,
                format!("`{header}` is not a valid HTTP header name"),
            )
        })?;
        self.inner = self.inner.scrub(value.to_str().unwrap_or_default());
        self.secret_header = Some((name, value));
        Ok(self)
    }

    /// Paces this client with `pacer`, shared with the other clients of the same venue (its
    /// order adapter), so they keep one request budget and one 429 pause.
    pub(crate) fn with_pacer(mut self, pacer: std::sync::Arc<barter_http::Pacer>) -> Self {
        self.inner = self.inner.with_pacer(pacer);
        self
    }

    /// The pacer this client takes its slots from.
    pub(crate) fn pacer(&self) -> &std::sync::Arc<barter_http::Pacer> {
        self.inner.pacer()
    }

    /// GETs `url` for `symbol`, pacing and retrying; returns 2xx and non-retryable answers.
    ///
    /// # Errors
    /// `RateLimited` after 429/418 retries (or a Retry-After too long to wait), `Http` after
    /// 5xx/408 retries, `Network` after timeouts and connection failures, `Malformed` for a body
    /// over [`MAX_RESPONSE_BYTES`].
    pub(crate) async fn get(&self, symbol: &Symbol, url: &Url) -> Result<Reply, SourceError> {
        let mut request = Request::get(url.clone());
        if let Some((name, value)) = &self.secret_header {
            request = request.header(name.clone(), value.clone());
        }
        self.inner
            .send(request)
            .await
            .map_err(|error| self.source_error(symbol, error))
    }

    /// The body excerpt for an error: key removed, one line, a short printable excerpt.
    pub(crate) fn snippet(&self, body: &str) -> String {
        self.inner.snippet(body)
    }

    /// `Refused` for a non-retryable `reply`, with the source's advice in `detail`.
    pub(crate) fn refused(&self, symbol: &Symbol, reply: &Reply, detail: String) -> SourceError {
        SourceError::Refused {
            source_kind: self.kind,
            symbol: symbol.clone(),
            status: reply.status.as_u16(),
            detail,
        }
    }

    /// `Http` for a non-retryable `reply` the source has no advice for, with the body's start.
    pub(crate) fn http_error(&self, symbol: &Symbol, reply: &Reply) -> SourceError {
        SourceError::Http {
            source_kind: self.kind,
            symbol: symbol.clone(),
            status: reply.status.as_u16(),
            attempts: reply.attempts,
            body: self.snippet(&reply.body),
        }
    }

    /// The source's wording of a shared-client error for `symbol`.
    fn source_error(&self, symbol: &Symbol, error: HttpError) -> SourceError {
        let source_kind = self.kind;
        let symbol = symbol.clone();
        let rate_limited = |attempts, retry_after_secs| SourceError::RateLimited {
            source_kind,
            symbol: symbol.clone(),
            attempts,
            retry_after_secs,
        };
        let network = |attempts, detail| SourceError::Network {
            source_kind,
            symbol: symbol.clone(),
            attempts,
            detail,
        };
        match error {
            HttpError::Timeout {
                attempts,
                timeout_secs,
            } => network(
                attempts,
                format!(
                    "timed out after {timeout_secs}s (raise timeout_secs if the source is slow)"
                ),
            ),
            HttpError::Connect { attempts, detail } => {
                network(attempts, format!("could not connect: {detail}"))
            }
            HttpError::Connection { attempts, detail } => network(attempts, detail),
            HttpError::RateLimited {
                attempts,
                retry_after_secs,
                ..
            } => rate_limited(attempts, retry_after_secs),
            HttpError::RetryAfterTooLong {
                status: 418 | 429,
                attempts,
                retry_after_secs,
                ..
            } => rate_limited(attempts, Some(retry_after_secs)),
            HttpError::RetryAfterTooLong {
                status,
                attempts,
                retry_after_secs,
                body,
            } => SourceError::Http {
                source_kind,
                symbol: symbol.clone(),
                status,
                attempts,
                body: format!(
                    "(asked to retry after {retry_after_secs}s, more than max_retry_wait_secs) {body}"
                ),
            },
            // Not sent at all: an earlier 429/418 still pauses this source for too long.
            HttpError::HeldBack { wait_secs } => rate_limited(0, Some(wait_secs)),
            HttpError::Status {
                status,
                attempts,
                body,
            } => SourceError::Http {
                source_kind,
                symbol: symbol.clone(),
                status,
                attempts,
                body,
            },
            HttpError::BodyTooLarge { .. } => SourceError::Malformed {
                source_kind,
                symbol: symbol.clone(),
                detail: format!(
                    "the answer is larger than the limit of {MAX_RESPONSE_BYTES} bytes; not read"
                ),
            },
            // Only `Retry::Never` requests end here; a source reads, so this is unexpected.
            error @ HttpError::OutcomeUnknown { .. } => network(1, error.to_string()),
        }
    }
}

/// One day's values as a source read them, before validation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DayValues {
    /// The UTC day.
    pub day: Day,
    /// Its prices and volume.
    pub values: Ohlcv,
    /// Whether the source says the day has ended (days from today on are incomplete regardless).
    pub complete: bool,
}

/// Drops days after today and before `request.from`, keeps the last row per day, validates.
///
/// # Errors
/// `InvalidCandle` for the first row that fails [`Candle::new`].
pub(crate) fn into_candles(
    instrument: &Instrument,
    request: &FetchRequest,
    rows: Vec<DayValues>,
    origin: CandleOrigin,
) -> Result<Vec<Candle>, SourceError> {
    let today = request.today();
    let mut by_day = BTreeMap::new();
    let wanted = |day: Day| day <= today && request.from.is_none_or(|from| day >= from);
    for row in rows.into_iter().filter(|r| wanted(r.day)) {
        by_day.insert(row.day, row);
    }
    by_day
        .into_values()
        .map(|row| {
            Candle::new(
                instrument.symbol.clone(),
                row.day,
                row.values,
                row.complete && row.day < today,
                origin,
                today,
            )
            .map_err(|error| SourceError::InvalidCandle {
                source_kind: instrument.source,
                error,
            })
        })
        .collect()
}

/// Milliseconds in a day.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// The UTC day containing the millisecond timestamp `ms`.
pub(crate) fn day_of_ms(ms: i64) -> Option<Day> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.date_naive())
}

/// Milliseconds since the epoch at 00:00 UTC of `day`.
pub(crate) fn midnight_ms(day: Day) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp_millis())
}
