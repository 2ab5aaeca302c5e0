//! Why a request produced no usable answer, and why a client's settings were refused.
//!
//! Every text here is bounded and free of the client's secrets: bodies appear only as a scrubbed
//! [`excerpt`](crate::excerpt()), transport details only after the same scrubbing.

/// A client setting that cannot be used; the message names the setting and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct SettingsError {
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl SettingsError {
    /// A settings problem described by `problem`.
    pub fn new(problem: impl Into<String>) -> Self {
        Self {
            problem: problem.into(),
        }
    }
}

/// Why a request produced no usable answer.
///
/// Answers that are not worth retrying (2xx, most 4xx) are not errors: they come back as a
/// [`Reply`](crate::Reply) for the caller to interpret, since only the caller knows what a venue's
/// 400 means.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HttpError {
    /// No complete answer within the timeout, on every attempt.
    #[error(
        "no answer within {timeout_secs}s after {attempts} attempt(s); raise timeout_secs if the server is slow"
    )]
    Timeout {
        /// Requests made.
        attempts: u32,
        /// The per-request timeout, in seconds.
        timeout_secs: f64,
    },
    /// No connection could be opened (refused, DNS, TLS): the request was never sent.
    #[error(
        "could not connect after {attempts} attempt(s), nothing was sent: {detail}; check the URL and the network"
    )]
    Connect {
        /// Requests made.
        attempts: u32,
        /// The transport's words, scrubbed of secrets.
        detail: String,
    },
    /// The connection broke after it was opened (reset, closed mid-answer, unreadable body).
    #[error("the connection failed after {attempts} attempt(s): {detail}")]
    Connection {
        /// Requests made.
        attempts: u32,
        /// The transport's words, scrubbed of secrets.
        detail: String,
    },
    /// The server kept answering 429 (rate limit) or 418 (IP ban).
    #[error(
        "rate limited (HTTP {status}) after {attempts} attempt(s){}; lower the request rate or retry later",
        retry_after_secs.map(|s| format!(", asked to wait {s}s")).unwrap_or_default()
    )]
    RateLimited {
        /// 429 or 418.
        status: u16,
        /// Requests made.
        attempts: u32,
        /// The last `Retry-After`, in whole seconds rounded up.
        retry_after_secs: Option<u64>,
    },
    /// The server asked to wait longer than the client's `max_retry_wait_secs`: not waited for.
    #[error(
        "HTTP {status} after {attempts} attempt(s), asking to retry after {retry_after_secs}s, more than max_retry_wait_secs; retry later: {body}"
    )]
    RetryAfterTooLong {
        /// The answer's status.
        status: u16,
        /// Requests made.
        attempts: u32,
        /// The wait asked for, in whole seconds rounded up.
        retry_after_secs: u64,
        /// A scrubbed excerpt of the answer's body.
        body: String,
    },
    /// Not sent: an earlier 429/418 of this client (or its shared pacer) still holds requests
    /// back for longer than `max_retry_wait_secs`.
    #[error(
        "not sent: the server asked to pause requests for {wait_secs}s more after a 429/418; retry after that"
    )]
    HeldBack {
        /// Seconds left of the pause, rounded up.
        wait_secs: u64,
    },
    /// A retryable status (5xx, 408) that persisted through every retry.
    #[error("HTTP {status} after {attempts} attempt(s): {body}")]
    Status {
        /// The last answer's status.
        status: u16,
        /// Requests made.
        attempts: u32,
        /// A scrubbed excerpt of the last answer's body.
        body: String,
    },
    /// The body is larger than the client's limit; it was not read, and retrying would not help.
    #[error("the answer (HTTP {status}) is larger than the limit of {limit} bytes; not read")]
    BodyTooLarge {
        /// The answer's status.
        status: u16,
        /// The limit, in bytes.
        limit: usize,
    },
    /// A [`Retry::Never`](crate::Retry::Never) request got no clear answer (timeout, 5xx, 408, or
    /// a connection that broke after sending): the server may or may not have acted on it.
    #[error(
        "outcome unknown ({detail}): the request may have been carried out; it was not resent, because a resent order can execute twice. Look it up (e.g. by client order id) before sending it again"
    )]
    OutcomeUnknown {
        /// The answer's status, if one came.
        status: Option<u16>,
        /// What happened, scrubbed of secrets.
        detail: String,
    },
}

impl HttpError {
    /// Whether the request may have been carried out although no clear answer came.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, Self::OutcomeUnknown { .. })
    }
}
