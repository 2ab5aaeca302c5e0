//! The paced, retrying JSON-over-HTTP client the network sources share, and the step that turns
//! their per-day values into validated candles.
//!
//! - **Pacing:** at most `requests_per_minute` request starts per minute. Each start reserves the
//!   next free slot (one minimum interval after the previous start) under a tokio mutex, then sleeps
//!   outside the lock, so concurrent callers share one budget without serialising their I/O.
//! - **Retries:** 408, 418, 429 and 5xx answers, timeouts and connection errors are retried up to
//!   `max_retries` times. The wait is the server's `Retry-After` (seconds or HTTP-date) when sent,
//!   else `backoff_base_secs` doubling per attempt (capped at `max_retry_wait_secs`). A server asking
//!   for longer than `max_retry_wait_secs` is not waited for: the fetch fails at once.
//! - **Secrets:** the API key travels only in a sensitive default header; error texts and logs are
//!   scrubbed of it and carry at most a short printable [`excerpt`] of a body.
//! - **Size:** a body is read chunk by chunk and refused past [`MAX_RESPONSE_BYTES`], so a broken
//!   or hostile server cannot make a sync hold an unbounded answer in memory.

use std::collections::BTreeMap;
use std::time::Duration;

use barter_core::{Candle, CandleOrigin, Day, Instrument, Ohlcv, SourceKind, Symbol};
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::excerpt::excerpt;
use crate::{FetchRequest, SourceError};

/// Largest response body read from a source, in bytes (64 MiB; a year of klines is ~100 KB).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// How much of a body's start is scanned for a snippet: enough for any excerpt and the whole key.
const SNIPPET_SCAN_CHARS: usize = 4096;

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

/// Pacing, timeout and retry settings, as written in a source's config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpSettings {
    /// Maximum request starts per minute.
    pub requests_per_minute: u32,
    /// Per-request timeout, connection to last body byte.
    pub timeout_secs: f64,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff wait; doubles per retry.
    pub backoff_base_secs: f64,
    /// Longest wait the client accepts before a retry.
    pub max_retry_wait_secs: f64,
}

/// An answer the caller interprets: a success or a status that is not worth retrying.
#[derive(Debug)]
pub(crate) struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// The whole body, as text.
    pub body: String,
    /// Requests made to get it.
    pub attempts: u32,
}

/// Why one attempt produced no answer.
enum AttemptError {
    /// Timeout, refused connection, DNS, broken body: worth retrying.
    Network(String),
    /// The body is larger than [`MAX_RESPONSE_BYTES`]: retrying would not change it.
    TooLarge,
}

/// What went wrong with one attempt that may be retried.
enum Failure {
    /// A retryable HTTP status.
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
        body: String,
    },
    /// Timeout, refused connection, DNS, broken body.
    Network(String),
}

/// The paced, retrying HTTP client of one source instance.
pub(crate) struct HttpClient {
    kind: SourceKind,
    client: reqwest::Client,
    timeout: Duration,
    timeout_secs: f64,
    max_retries: u32,
    backoff_base: Duration,
    max_retry_wait: Duration,
    min_interval: Duration,
    next_start: Mutex<Option<Instant>>,
    secret: Option<String>,
}

impl HttpClient {
    /// Builds a client; `key_header` is sent on every request and never appears in errors or logs.
    pub(crate) fn new(
        kind: SourceKind,
        settings: HttpSettings,
        key_header: Option<(&'static str, &str)>,
    ) -> Result<Self, ConfigError> {
        let seconds = |name: &str, value: f64, allow_zero: bool| {
            let ok = value.is_finite() && (value > 0.0 || (allow_zero && value == 0.0));
            ok.then(|| Duration::try_from_secs_f64(value).ok())
                .flatten()
                .ok_or_else(|| {
                    let bound = if allow_zero {
                        "0 or more"
                    } else {
                        "more than 0"
                    };
                    ConfigError::new(
                        kind,
                        format!("{name} = {value} must be a number of seconds, {bound}"),
                    )
                })
        };
        if settings.requests_per_minute == 0 {
            return Err(ConfigError::new(
                kind,
                "requests_per_minute must be at least 1",
            ));
        }
        let timeout = seconds("timeout_secs", settings.timeout_secs, false)?;
        let backoff_base = seconds("backoff_base_secs", settings.backoff_base_secs, true)?;
        let max_retry_wait = seconds("max_retry_wait_secs", settings.max_retry_wait_secs, true)?;
        let mut headers = HeaderMap::new();
        let mut secret = None;
        if let Some((name, key)) = key_header {
            let mut value = HeaderValue::from_str(key).map_err(|_| {
                ConfigError::new(kind, "the API key holds characters an HTTP header cannot carry (check the environment variable for stray quotes or newlines)")
            })?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static(name), value);
            secret = Some(key.to_owned());
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("barter/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::new(kind, format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            kind,
            client,
            timeout,
            timeout_secs: settings.timeout_secs,
            max_retries: settings.max_retries,
            backoff_base,
            max_retry_wait,
            min_interval: Duration::from_secs_f64(60.0 / f64::from(settings.requests_per_minute)),
            next_start: Mutex::new(None),
            secret,
        })
    }

    /// GETs `url` for `symbol`, pacing and retrying; returns 2xx and non-retryable answers.
    ///
    /// # Errors
    /// `RateLimited` after 429/418 retries (or a Retry-After too long to wait), `Http` after
    /// 5xx/408 retries, `Network` after timeouts and connection failures.
    pub(crate) async fn get(&self, symbol: &Symbol, url: &Url) -> Result<Reply, SourceError> {
        let mut attempts = 0u32;
        loop {
            self.pace().await;
            attempts += 1;
            let failure = match self.attempt(url).await {
                Ok((status, _, body)) if !is_retryable(status) => {
                    return Ok(Reply {
                        status,
                        body,
                        attempts,
                    });
                }
                Ok((status, headers, body)) => Failure::Status {
                    status,
                    retry_after: retry_after(&headers),
                    body,
                },
                Err(AttemptError::Network(detail)) => Failure::Network(detail),
                Err(AttemptError::TooLarge) => {
                    return Err(SourceError::Malformed {
                        source_kind: self.kind,
                        symbol: symbol.clone(),
                        detail: format!(
                            "the answer is larger than the limit of {MAX_RESPONSE_BYTES} bytes; not read"
                        ),
                    });
                }
            };
            let asked = match &failure {
                Failure::Status { retry_after, .. } => *retry_after,
                Failure::Network(_) => None,
            };
            if attempts > self.max_retries || asked.is_some_and(|wait| wait > self.max_retry_wait) {
                return Err(self.give_up(symbol, failure, attempts));
            }
            let wait = asked.unwrap_or_else(|| self.backoff(attempts));
            let reason = match &failure {
                Failure::Status { status, .. } => format!("HTTP {}", status.as_u16()),
                Failure::Network(detail) => detail.clone(),
            };
            tracing::warn!(
                source = %self.kind,
                symbol = %symbol,
                path = url.path(),
                attempt = attempts,
                max_retries = self.max_retries,
                wait_secs = wait.as_secs_f64(),
                reason = %reason,
                "request failed, retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// The body excerpt for an error: key removed, one line, a short printable [`excerpt`].
    pub(crate) fn snippet(&self, body: &str) -> String {
        // Only the start matters, and it is scanned long enough to contain a whole key that
        // starts within it, so redaction cannot miss a key the excerpt would show.
        let scan = SNIPPET_SCAN_CHARS + self.secret.as_ref().map_or(0, |k| k.chars().count());
        let start = match body.char_indices().nth(scan) {
            Some((end, _)) => &body[..end],
            None => body,
        };
        let clean = self
            .redact(start)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let mut shown = excerpt(&clean);
        if start.len() < body.len() && !shown.ends_with('…') {
            shown.push('…');
        }
        shown
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

    /// Waits for this request's start slot.
    async fn pace(&self) {
        let start = {
            let mut next = self.next_start.lock().await;
            let now = Instant::now();
            let start = next.map_or(now, |slot| slot.max(now));
            *next = Some(start + self.min_interval);
            start
        };
        tokio::time::sleep_until(start).await;
    }

    /// One request: status, headers and body, or a network failure description.
    async fn attempt(&self, url: &Url) -> Result<(StatusCode, HeaderMap, String), AttemptError> {
        let network = |e: reqwest::Error| AttemptError::Network(self.describe(&e));
        let mut response = self
            .client
            .get(url.clone())
            .timeout(self.timeout)
            .send()
            .await
            .map_err(network)?;
        let status = response.status();
        let headers = response.headers().clone();
        // A declared length over the limit is refused unread; a lying one is caught while reading.
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(AttemptError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(AttemptError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        // As `Response::text` would for the JSON these sources speak: UTF-8, invalid bytes replaced.
        let body = String::from_utf8(body)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Ok((status, headers, body))
    }

    /// The wait before retry number `attempts` when the server did not say.
    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2f64.powi(
            i32::try_from(attempts.saturating_sub(1))
                .unwrap_or(i32::MAX)
                .min(60),
        );
        let secs =
            (self.backoff_base.as_secs_f64() * factor).min(self.max_retry_wait.as_secs_f64());
        Duration::try_from_secs_f64(secs).unwrap_or(self.max_retry_wait)
    }

    /// The error for a request that will not be retried again.
    fn give_up(&self, symbol: &Symbol, failure: Failure, attempts: u32) -> SourceError {
        match failure {
            Failure::Status {
                status,
                retry_after,
                ..
            } if matches!(status.as_u16(), 418 | 429) => SourceError::RateLimited {
                source_kind: self.kind,
                symbol: symbol.clone(),
                attempts,
                retry_after_secs: retry_after.map(|d| d.as_secs_f64().ceil() as u64),
            },
            Failure::Status {
                status,
                retry_after,
                body,
            } => {
                let mut body = self.snippet(&body);
                if let Some(wait) = retry_after.filter(|w| *w > self.max_retry_wait) {
                    body = format!(
                        "(asked to retry after {}s, more than max_retry_wait_secs) {body}",
                        wait.as_secs_f64().ceil()
                    );
                }
                SourceError::Http {
                    source_kind: self.kind,
                    symbol: symbol.clone(),
                    status: status.as_u16(),
                    attempts,
                    body,
                }
            }
            Failure::Network(detail) => SourceError::Network {
                source_kind: self.kind,
                symbol: symbol.clone(),
                attempts,
                detail,
            },
        }
    }

    /// A one-line description of a transport error, without the key.
    fn describe(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            return format!(
                "timed out after {}s (raise timeout_secs if the source is slow)",
                self.timeout_secs
            );
        }
        let mut parts = vec![error.to_string()];
        let mut source = std::error::Error::source(error);
        while let Some(inner) = source {
            let text = inner.to_string();
            if !parts.iter().any(|p| p.contains(&text)) {
                parts.push(text);
            }
            source = inner.source();
        }
        let prefix = if error.is_connect() {
            "could not connect: "
        } else {
            ""
        };
        format!("{prefix}{}", self.redact(&parts.join(": ")))
    }

    /// Replaces every occurrence of the API key with `***`.
    fn redact(&self, text: &str) -> String {
        match &self.secret {
            Some(key) if !key.is_empty() => text.replace(key.as_str(), "***"),
            _ => text.to_owned(),
        }
    }
}

/// Whether an HTTP status is worth retrying: timeouts, rate limits and server errors.
fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 418 | 429) || status.is_server_error()
}

/// The `Retry-After` header as a wait: delay-seconds or an HTTP-date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::try_from_secs_f64(secs).ok())?;
    }
    let when = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
    Some((when - Utc::now()).to_std().unwrap_or(Duration::ZERO))
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
