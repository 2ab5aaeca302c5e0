//! The paced, retrying, size-bounded client and the requests it sends.
//!
//! - **Pacing:** every attempt takes a slot from the client's [`Pacer`]; a 429/418 with
//!   `Retry-After` holds back every following request of that pacer, not only the retry.
//! - **Retries:** by the request's [`Retry`] policy. `Idempotent` retries 408, 418, 429 and 5xx
//!   answers, timeouts and connection errors up to `max_retries` times, waiting the server's
//!   `Retry-After` (seconds or HTTP-date) when sent, else `backoff_base_secs` doubling per attempt
//!   (capped at `max_retry_wait_secs`); a server asking for longer than `max_retry_wait_secs` is
//!   not waited for. `Never` sends once and reports an unclear outcome as
//!   [`HttpError::OutcomeUnknown`].
//! - **Secrets:** the API key travels only in a sensitive header; error texts and logs are
//!   scrubbed of it (and of any other secret registered with [`HttpClient::scrub`]) and carry at
//!   most a short printable [`excerpt`] of a body.
//! - **Size:** a body is read chunk by chunk and refused past the client's limit
//!   ([`MAX_RESPONSE_BYTES`] by default), so a broken or hostile server cannot make the process
//!   hold an unbounded answer in memory.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};

use crate::error::{HttpError, SettingsError};
use crate::excerpt::{excerpt, excerpt_max};
use crate::pacer::Pacer;
use crate::retry_after::retry_after;

/// Largest response body read by default, in bytes (64 MiB; a year of klines is ~100 KB).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// How much of a body's start is scanned for a snippet: enough for any excerpt and a whole key.
const SNIPPET_SCAN_CHARS: usize = 4096;

/// The media type of a form body (Binance).
const FORM: &str = "application/x-www-form-urlencoded";

/// The media type of a JSON body (Alpaca).
const JSON: &str = "application/json";

/// Most characters of a transport error's text an error carries (it may quote a long URL).
const MAX_DETAIL_CHARS: usize = 400;

/// Pacing, timeout and retry settings, as written in a config section.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Maximum request starts per minute.
    pub requests_per_minute: u32,
    /// Per-request timeout, connection to last body byte, in seconds.
    pub timeout_secs: f64,
    /// Retries after the first attempt, for [`Retry::Idempotent`] requests.
    pub max_retries: u32,
    /// First backoff wait in seconds; doubles per retry.
    pub backoff_base_secs: f64,
    /// Longest wait, in seconds, the client accepts before a retry or after a 429/418.
    pub max_retry_wait_secs: f64,
}

/// An API key and the header that carries it.
#[derive(Clone, Copy)]
pub struct ApiKey<'a> {
    /// The header name, lower case (e.g. `x-mbx-apikey`).
    pub header: &'static str,
    /// The key itself.
    pub value: &'a str,
}

impl fmt::Debug for ApiKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("header", &self.header)
            .field("value", &"***")
            .finish()
    }
}

/// The HTTP methods the venues and sources use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Read.
    Get,
    /// Create (an order).
    Post,
    /// Cancel (an order).
    Delete,
}

impl Method {
    /// The `reqwest` method.
    fn as_reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Post => reqwest::Method::POST,
            Self::Delete => reqwest::Method::DELETE,
        }
    }
}

/// Whether a request may be sent again when its outcome is unclear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Sending it twice does no harm (reads): timeouts, dropped connections, 408, 418, 429 and
    /// 5xx are retried with backoff.
    Idempotent,
    /// Sent exactly once (order placement). A timeout, a 5xx, a 408 or a connection dropped after
    /// sending ends in [`HttpError::OutcomeUnknown`]. A blind resend is not safe: Binance rejects
    /// a duplicate client order id only while the first order is still open, and a market order
    /// fills at once, so the resend would be a second order and buy twice. The caller looks the
    /// order up by its client id and only then decides. A refused connection (nothing sent) and a
    /// 429/418 (rejected before processing) are reported as such; they are not resent either.
    Never,
}

/// One request: method, URL (with its query), optional form body, extra headers, retry policy.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: Url,
    body: Option<String>,
    /// The body's media type: form-encoded unless [`Request::json_body`] set JSON.
    content_type: &'static str,
    headers: HeaderMap,
    retry: Retry,
}

impl Request {
    /// A GET of `url`, retried as [`Retry::Idempotent`].
    pub fn get(url: Url) -> Self {
        Self::new(Method::Get, url, Retry::Idempotent)
    }

    /// A POST to `url`, sent once ([`Retry::Never`]) unless [`Request::retry`] says otherwise.
    pub fn post(url: Url) -> Self {
        Self::new(Method::Post, url, Retry::Never)
    }

    /// A DELETE of `url`, sent once ([`Retry::Never`]) unless [`Request::retry`] says otherwise.
    pub fn delete(url: Url) -> Self {
        Self::new(Method::Delete, url, Retry::Never)
    }

    /// A request of any method with an explicit retry policy.
    pub fn new(method: Method, url: Url, retry: Retry) -> Self {
        Self {
            method,
            url,
            body: None,
            content_type: FORM,
            headers: HeaderMap::new(),
            retry,
        }
    }

    /// Appends `pairs` to the URL's query, percent-encoded.
    pub fn query<'a>(mut self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        self.url.query_pairs_mut().extend_pairs(pairs);
        self
    }

    /// Sends `pairs` as an `application/x-www-form-urlencoded` body.
    pub fn form<'a>(self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.form_body(encoded)
    }

    /// Sends `encoded` (already form-encoded) as the body, byte for byte: what a signature over
    /// the body needs.
    pub fn form_body(mut self, encoded: impl Into<String>) -> Self {
        self.body = Some(encoded.into());
        self.content_type = FORM;
        self
    }

    /// Sends `json` (already serialized) as an `application/json` body, byte for byte: what
    /// Alpaca's order endpoint takes.
    pub fn json_body(mut self, json: impl Into<String>) -> Self {
        self.body = Some(json.into());
        self.content_type = JSON;
        self
    }

    /// Adds a header; mark a secret value with [`HeaderValue::set_sensitive`] and register it
    /// with [`HttpClient::scrub`].
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The URL, query included.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> Retry {
        self.retry
    }
}

/// An answer for the caller to interpret: a success or a status that is not worth retrying.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers (e.g. Binance's `x-mbx-used-weight-1m`).
    pub headers: HeaderMap,
    /// The whole body as text (invalid UTF-8 replaced).
    pub body: String,
    /// Requests made to get it.
    pub attempts: u32,
}

/// Why one attempt produced no answer.
enum AttemptError {
    /// No answer within the timeout.
    Timeout,
    /// No connection: nothing was sent.
    Connect(String),
    /// The connection broke after opening.
    Broken(String),
    /// The body is larger than the limit: retrying would not change it.
    TooLarge(StatusCode),
}

/// What went wrong with one attempt that might be retried.
enum Failure {
    /// A retryable HTTP status.
    Status {
        status: StatusCode,
        retry_after: Option<Duration>,
        body: String,
    },
    /// No answer within the timeout.
    Timeout,
    /// No connection: nothing was sent.
    Connect(String),
    /// The connection broke after opening.
    Broken(String),
}

/// The paced, retrying HTTP client of one API (a data source, a venue).
pub struct HttpClient {
    name: &'static str,
    client: reqwest::Client,
    timeout: Duration,
    timeout_secs: f64,
    max_retries: u32,
    backoff_base: Duration,
    max_retry_wait: Duration,
    max_body_bytes: usize,
    pacer: Arc<Pacer>,
    secrets: Vec<String>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("name", &self.name)
            .field("timeout_secs", &self.timeout_secs)
            .field("max_retries", &self.max_retries)
            .field("pacer", &self.pacer)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds a client with its own pacer; `key` is sent on every request and never appears in
    /// errors or logs.
    ///
    /// # Errors
    /// [`SettingsError`] for a rate of 0, a negative or non-finite number of seconds, or a key
    /// an HTTP header cannot carry.
    pub fn new(settings: Settings, key: Option<ApiKey<'_>>) -> Result<Self, SettingsError> {
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
                    SettingsError::new(format!(
                        "{name} = {value} must be a number of seconds, {bound}"
                    ))
                })
        };
        let pacer = Pacer::new(settings.requests_per_minute)?;
        let timeout = seconds("timeout_secs", settings.timeout_secs, false)?;
        let backoff_base = seconds("backoff_base_secs", settings.backoff_base_secs, true)?;
        let max_retry_wait = seconds("max_retry_wait_secs", settings.max_retry_wait_secs, true)?;
        let mut headers = HeaderMap::new();
        let mut secrets = Vec::new();
        if let Some(key) = key {
            let name = HeaderName::from_bytes(key.header.as_bytes()).map_err(|_| {
                SettingsError::new(format!(
                    "`{}` is not a valid HTTP header name for the API key",
                    excerpt(key.header)
                ))
            })?;
            let mut value = HeaderValue::from_str(key.value).map_err(|_| {
                SettingsError::new("the API key holds characters an HTTP header cannot carry (check the environment variable for stray quotes or newlines)")
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
            if !key.value.is_empty() {
                secrets.push(key.value.to_owned());
            }
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("barter/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SettingsError::new(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            name: "http",
            client,
            timeout,
            timeout_secs: settings.timeout_secs,
            max_retries: settings.max_retries,
            backoff_base,
            max_retry_wait,
            max_body_bytes: MAX_RESPONSE_BYTES,
            pacer: Arc::new(pacer),
            secrets,
        })
    }

    /// Names the API in this client's log lines (e.g. `binance`).
    pub fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// Paces this client with `pacer` instead of its own, so several clients of one venue (its
    /// data source and its broker) share one budget and one 429 pause.
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = pacer;
        self
    }

    /// Refuses bodies larger than `bytes` instead of [`MAX_RESPONSE_BYTES`].
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Also removes `secret` (e.g. a signing secret that is never sent) from every error text.
    pub fn scrub(mut self, secret: &str) -> Self {
        if !secret.is_empty() {
            self.secrets.push(secret.to_owned());
            // Longest first, so a secret containing another is replaced whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
        self
    }

    /// The pacer this client takes its slots from, to share with another client.
    pub fn pacer(&self) -> &Arc<Pacer> {
        &self.pacer
    }

    /// GETs `url`, retried as [`Retry::Idempotent`].
    ///
    /// # Errors
    /// As [`HttpClient::send`].
    pub async fn get(&self, url: &Url) -> Result<Reply, HttpError> {
        self.send(Request::get(url.clone())).await
    }

    /// Sends `request`, pacing and retrying by its policy; returns 2xx and non-retryable answers.
    ///
    /// # Errors
    /// [`HttpError`]: `RateLimited`/`RetryAfterTooLong`/`HeldBack` for 429/418, `Status` after
    /// 5xx/408 retries, `Timeout`/`Connect`/`Connection` for transport failures, `BodyTooLarge`,
    /// and `OutcomeUnknown` for a [`Retry::Never`] request without a clear answer.
    pub async fn send(&self, request: Request) -> Result<Reply, HttpError> {
        let mut attempts = 0u32;
        loop {
            self.pacer
                .wait_turn(self.max_retry_wait)
                .await
                .map_err(|left| HttpError::HeldBack {
                    wait_secs: ceil_secs(left),
                })?;
            attempts += 1;
            let failure = match self.attempt(&request).await {
                Ok((status, headers, body)) if !is_retryable(status) => {
                    return Ok(Reply {
                        status,
                        headers,
                        body,
                        attempts,
                    });
                }
                Ok((status, headers, body)) => Failure::Status {
                    status,
                    retry_after: retry_after(&headers),
                    body,
                },
                Err(AttemptError::TooLarge(status)) => {
                    return Err(HttpError::BodyTooLarge {
                        status: status.as_u16(),
                        limit: self.max_body_bytes,
                    });
                }
                Err(AttemptError::Timeout) => Failure::Timeout,
                Err(AttemptError::Connect(detail)) => Failure::Connect(detail),
                Err(AttemptError::Broken(detail)) => Failure::Broken(detail),
            };
            // A rate limit's Retry-After pauses every request of this pacer, not just this retry:
            // Binance bans an IP whose other requests keep arriving after a 429.
            let held = match &failure {
                Failure::Status {
                    status,
                    retry_after: Some(wait),
                    ..
                } if is_rate_limit(*status) => {
                    self.pacer.hold_for(*wait);
                    true
                }
                _ => false,
            };
            if request.retry == Retry::Never {
                return Err(self.never_resent(failure));
            }
            let asked = match &failure {
                Failure::Status { retry_after, .. } => *retry_after,
                _ => None,
            };
            if attempts > self.max_retries || asked.is_some_and(|wait| wait > self.max_retry_wait) {
                return Err(self.give_up(failure, attempts));
            }
            let wait = asked.unwrap_or_else(|| self.backoff(attempts));
            let reason = match &failure {
                Failure::Status { status, .. } => format!("HTTP {}", status.as_u16()),
                Failure::Timeout => format!("timed out after {}s", self.timeout_secs),
                Failure::Connect(detail) | Failure::Broken(detail) => detail.clone(),
            };
            tracing::warn!(
                client = self.name,
                host = request.url.host_str().unwrap_or(""),
                path = request.url.path(),
                attempt = attempts,
                max_retries = self.max_retries,
                wait_secs = wait.as_secs_f64(),
                reason = %reason,
                "request failed, retrying"
            );
            // A held pacer already makes the next attempt wait (in `wait_turn`).
            if !held {
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// The body excerpt for an error: secrets removed, one line, a short printable [`excerpt`].
    pub fn snippet(&self, body: &str) -> String {
        // Only the start matters, and it is scanned long enough to contain a whole secret that
        // starts within it, so redaction cannot miss a secret the excerpt would show.
        let longest = self.secrets.first().map_or(0, |s| s.chars().count());
        let start = match body.char_indices().nth(SNIPPET_SCAN_CHARS + longest) {
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

    /// The [`HttpError::Status`] for an answer the caller does not accept, quoting its body's
    /// start.
    pub fn status_error(&self, reply: &Reply) -> HttpError {
        HttpError::Status {
            status: reply.status.as_u16(),
            attempts: reply.attempts,
            body: self.snippet(&reply.body),
        }
    }

    /// Replaces every registered secret in `text` with `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }

    /// One request: status, headers and body, or why there is none.
    async fn attempt(
        &self,
        request: &Request,
    ) -> Result<(StatusCode, HeaderMap, String), AttemptError> {
        let transport = |e: reqwest::Error| self.classify(&e);
        let mut builder = self
            .client
            .request(request.method.as_reqwest(), request.url.clone())
            .timeout(self.timeout)
            .headers(request.headers.clone());
        if let Some(body) = &request.body {
            builder = builder
                .header(CONTENT_TYPE, HeaderValue::from_static(request.content_type))
                .body(body.clone());
        }
        let mut response = builder.send().await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        // A declared length over the limit is refused unread; a lying one is caught while reading.
        if response
            .content_length()
            .is_some_and(|n| n > self.max_body_bytes as u64)
        {
            return Err(AttemptError::TooLarge(status));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(AttemptError::TooLarge(status));
            }
            body.extend_from_slice(&chunk);
        }
        // As `Response::text` would for JSON: UTF-8, invalid bytes replaced.
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

    /// The error for a [`Retry::Never`] request whose single attempt gave no usable answer.
    fn never_resent(&self, failure: Failure) -> HttpError {
        match failure {
            // Refused before processing: the outcome is known (nothing happened).
            Failure::Status {
                status,
                retry_after,
                ..
            } if is_rate_limit(status) => HttpError::RateLimited {
                status: status.as_u16(),
                attempts: 1,
                retry_after_secs: retry_after.map(ceil_secs),
            },
            Failure::Connect(detail) => HttpError::Connect {
                attempts: 1,
                detail,
            },
            Failure::Status { status, body, .. } => HttpError::OutcomeUnknown {
                status: Some(status.as_u16()),
                detail: format!("HTTP {}: {}", status.as_u16(), self.snippet(&body)),
            },
            Failure::Timeout => HttpError::OutcomeUnknown {
                status: None,
                detail: format!("no answer within {}s", self.timeout_secs),
            },
            Failure::Broken(detail) => HttpError::OutcomeUnknown {
                status: None,
                detail: format!("the connection failed: {detail}"),
            },
        }
    }

    /// The error for an [`Retry::Idempotent`] request that will not be retried again.
    fn give_up(&self, failure: Failure, attempts: u32) -> HttpError {
        match failure {
            Failure::Status {
                status,
                retry_after: Some(wait),
                body,
            } if wait > self.max_retry_wait => HttpError::RetryAfterTooLong {
                status: status.as_u16(),
                attempts,
                retry_after_secs: ceil_secs(wait),
                body: self.snippet(&body),
            },
            Failure::Status {
                status,
                retry_after,
                ..
            } if is_rate_limit(status) => HttpError::RateLimited {
                status: status.as_u16(),
                attempts,
                retry_after_secs: retry_after.map(ceil_secs),
            },
            Failure::Status { status, body, .. } => HttpError::Status {
                status: status.as_u16(),
                attempts,
                body: self.snippet(&body),
            },
            Failure::Timeout => HttpError::Timeout {
                attempts,
                timeout_secs: self.timeout_secs,
            },
            Failure::Connect(detail) => HttpError::Connect { attempts, detail },
            Failure::Broken(detail) => HttpError::Connection { attempts, detail },
        }
    }

    /// Sorts a transport error into timeout, no connection or broken connection, with a short
    /// one-line description scrubbed of secrets.
    fn classify(&self, error: &reqwest::Error) -> AttemptError {
        if error.is_timeout() {
            return AttemptError::Timeout;
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
        let detail = excerpt_max(&self.redact(&parts.join(": ")), MAX_DETAIL_CHARS);
        if error.is_connect() {
            AttemptError::Connect(detail)
        } else {
            AttemptError::Broken(detail)
        }
    }
}

/// Whether an HTTP status is worth retrying: timeouts, rate limits and server errors.
fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 418 | 429) || status.is_server_error()
}

/// Whether a status says "too many requests": 429, or Binance's 418 IP ban.
fn is_rate_limit(status: StatusCode) -> bool {
    matches!(status.as_u16(), 418 | 429)
}

/// A wait in whole seconds, rounded up.
fn ceil_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}
