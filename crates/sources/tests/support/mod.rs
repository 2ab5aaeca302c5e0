//! An in-process fake HTTP server for the network-source tests, the scenarios every network
//! source shares (retries, rate limits, timeouts, malformed bodies), and small helpers.
#![allow(dead_code)] // each test file uses a different part

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use barter_core::{Calendar, Candle, Day, Instrument, SourceKind, Symbol};
use barter_sources::{DataSource, FetchRequest, SourceError};
use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// URL path.
    pub path: String,
    /// Decoded query parameters.
    pub query: HashMap<String, String>,
    /// Request headers.
    pub headers: HeaderMap,
    /// When it arrived.
    pub at: Instant,
}

impl Seen {
    /// A query parameter, or "" when absent.
    pub fn param(&self, name: &str) -> &str {
        self.query.get(name).map_or("", String::as_str)
    }

    /// A header as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the fake answers.
#[derive(Debug, Clone)]
pub struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
    /// Send the body this many times as a chunked stream, with no Content-Length.
    streamed: Option<usize>,
}

impl Answer {
    /// 200 with a JSON body.
    pub fn ok(body: impl Into<String>) -> Self {
        Self::status(200, body)
    }

    /// Any status with a body.
    pub fn status(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
            streamed: None,
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Sends the body `times` times in a row as a chunked stream without a Content-Length, the
    /// way a server that does not announce the size answers.
    pub fn streamed(mut self, times: usize) -> Self {
        self.streamed = Some(times);
        self
    }

    /// Waits this long before answering.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Handler = dyn Fn(&Seen, usize) -> Answer + Send + Sync;

#[derive(Clone)]
struct AppState {
    handler: Arc<Handler>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A running fake server; the handler gets each request and its 0-based index.
pub struct Fake {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    /// Binds 127.0.0.1:0 and serves `handler` in a spawned task.
    pub async fn start(handler: impl Fn(&Seen, usize) -> Answer + Send + Sync + 'static) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = AppState {
            handler: Arc::new(handler),
            seen: Arc::clone(&seen),
        };
        let app = Router::new().fallback(handle).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake server runs");
        });
        Self {
            url: format!("http://{addr}"),
            seen,
        }
    }

    /// Binds 127.0.0.1:0 and gives every request the same answer.
    pub async fn answering(answer: Answer) -> Self {
        Self::start(move |_, _| answer.clone()).await
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("fake state lock").clone()
    }
}

async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let uri = request.uri().clone();
    let query = Query::<HashMap<String, String>>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let seen = Seen {
        path: uri.path().to_owned(),
        query,
        headers: request.headers().clone(),
        at: Instant::now(),
    };
    let index = {
        let mut all = state.seen.lock().expect("fake state lock");
        all.push(seen.clone());
        all.len() - 1
    };
    let answer = (state.handler)(&seen, index);
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let mut builder = Response::builder()
        .status(answer.status)
        .header("content-type", "application/json");
    for (name, value) in answer.headers {
        builder = builder.header(name, value);
    }
    let body = match answer.streamed {
        Some(times) => {
            let chunk = answer.body;
            Body::from_stream(futures_util::stream::iter(
                (0..times).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
            ))
        }
        None => Body::from(answer.body),
    };
    builder.body(body).expect("valid fake response")
}

/// A fixture file's text, from `tests/fixtures/`.
pub fn fixture(path: &str) -> String {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read fixture {full}: {e}"))
}

/// A day from `YYYY-MM-DD`.
pub fn day(text: &str) -> Day {
    text.parse().expect("valid date")
}

/// A UTC instant from RFC 3339 text.
pub fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("valid RFC 3339 time")
}

/// An instrument of `source` with `source_id`, quoted in USD.
pub fn instrument(symbol: &str, source: SourceKind, source_id: &str) -> Instrument {
    Instrument::new(
        Symbol::parse(symbol).expect("valid symbol"),
        symbol,
        "USD",
        source,
        source_id,
        Calendar::Continuous,
    )
    .expect("valid instrument")
}

/// The retry settings a test builds a network source with; the test file's config sets the rest
/// (a 10 ms backoff, a 5 s longest Retry-After, no pacing to speak of).
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Per-request timeout in seconds.
    pub timeout_secs: f64,
    /// Retries after the first attempt.
    pub max_retries: u32,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            timeout_secs: 5.0,
            max_retries: 2,
        }
    }
}

/// One retry and a short timeout: what the timeout and connection scenarios use.
const IMPATIENT: Tuning = Tuning {
    timeout_secs: 0.2,
    max_retries: 1,
};

/// Builds a source for a base URL (a fake's) with the given tuning.
pub type Build<S> = Box<dyn Fn(&str, Tuning) -> S>;

/// A network source under test: how to build it for a base URL, and what to ask it for.
pub struct Subject<S> {
    /// Builds the source.
    pub build: Build<S>,
    /// The instrument fetched.
    pub instrument: Instrument,
    /// The request made.
    pub request: FetchRequest,
}

impl<S: DataSource> Subject<S> {
    /// The source, built for `base_url` with `tuning`.
    pub fn source(&self, base_url: &str, tuning: Tuning) -> S {
        (self.build)(base_url, tuning)
    }

    /// Builds the source against `fake` with the default tuning and fetches the instrument.
    pub async fn fetch(&self, fake: &Fake) -> Result<Vec<Candle>, SourceError> {
        self.fetch_from(&self.source(&fake.url, Tuning::default()))
            .await
    }

    /// Fetches the instrument from an already built `source`.
    pub async fn fetch_from(&self, source: &S) -> Result<Vec<Candle>, SourceError> {
        source.fetch_daily(&self.instrument, &self.request).await
    }

    /// Starts a fake answering `first` once and `then` to every later request, and fetches.
    async fn fetch_after(
        &self,
        first: Answer,
        then: Answer,
    ) -> (Fake, Result<Vec<Candle>, SourceError>) {
        let fake = Fake::start(move |_, index| {
            if index == 0 {
                first.clone()
            } else {
                then.clone()
            }
        })
        .await;
        let result = self.fetch(&fake).await;
        (fake, result)
    }

    /// A refusal with `Retry-After: 1`, then `good`: the source waits a second, retries and
    /// returns the candles of `good`.
    pub async fn waits_out_a_retry_after(&self, rate_limited: Answer, good: Answer) -> Vec<Candle> {
        let (fake, result) = self
            .fetch_after(rate_limited.header("retry-after", "1"), good)
            .await;
        let seen = fake.requests();
        assert_eq!(seen.len(), 2);
        let waited = seen[1].at - seen[0].at;
        assert!(
            waited >= Duration::from_millis(950),
            "waited only {waited:?}"
        );
        result.expect("candles")
    }

    /// `server_error`, then `good`: the source retries without being told to wait.
    pub async fn retries_a_server_error(&self, server_error: Answer, good: Answer) -> Vec<Candle> {
        let (fake, result) = self.fetch_after(server_error, good).await;
        assert_eq!(fake.requests().len(), 2);
        result.expect("candles")
    }

    /// `rate_limited` to every request: the first try and both retries end in `RateLimited`.
    pub async fn gives_up_on_a_rate_limit_that_never_lifts(&self, rate_limited: Answer) {
        let fake = Fake::answering(rate_limited).await;
        let error = self.fetch(&fake).await.expect_err("refused");
        assert!(
            matches!(
                error,
                SourceError::RateLimited {
                    attempts: 3,
                    retry_after_secs: None,
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(fake.requests().len(), 3);
        self.assert_names_the_instrument(&error);
    }

    /// `refused` with a Retry-After of `secs`, longer than the 5 s the tests accept: the fetch
    /// fails at once with `RateLimited`, naming the wait.
    pub async fn fails_at_once_on_a_long_retry_after(&self, refused: Answer, secs: u64) {
        let fake = Fake::answering(refused.header("retry-after", secs.to_string())).await;
        let started = Instant::now();
        let error = self.fetch(&fake).await.expect_err("refused");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(rate_limited_once(&error), secs);
        assert!(error.to_string().contains(&format!("{secs}s")), "{error}");
        assert_eq!(fake.requests().len(), 1);
    }

    /// A 429 whose Retry-After is an HTTP-date an hour ahead is read as about 3600 s.
    pub async fn understands_a_retry_after_http_date(&self) {
        let fake = Fake::start(|_, _| {
            let when = Utc::now() + chrono::Duration::hours(1);
            Answer::status(429, "{}").header(
                "retry-after",
                when.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            )
        })
        .await;
        let error = self.fetch(&fake).await.expect_err("refused");
        let secs = rate_limited_once(&error);
        assert!((3590..=3601).contains(&secs), "{secs}");
    }

    /// `server_error` to every request: after both retries the fetch ends in `Http` with its
    /// status; returns the body excerpt the error carries.
    pub async fn gives_up_on_a_persistent_server_error(&self, server_error: Answer) -> String {
        let status = server_error.status;
        let fake = Fake::answering(server_error).await;
        match self.fetch(&fake).await.expect_err("fails") {
            SourceError::Http {
                status: got,
                attempts: 3,
                body,
                ..
            } if got == status => body,
            other => panic!("expected Http {status} after 3 attempts, got {other:?}"),
        }
    }

    /// An answer slower than a 0.2 s timeout, twice: the fetch ends in `Network`, saying so.
    pub async fn times_out_on_a_slow_answer(&self) {
        let fake = Fake::answering(Answer::ok("[]").after(Duration::from_secs(2))).await;
        let error = self
            .fetch_from(&self.source(&fake.url, IMPATIENT))
            .await
            .expect_err("times out");
        assert!(
            matches!(&error, SourceError::Network { attempts: 2, detail, .. } if detail.contains("timed out after 0.2s")),
            "{error:?}"
        );
        self.assert_names_the_instrument(&error);
    }

    /// Nothing listening at the base URL: after one retry the fetch ends in `Network`.
    pub async fn cannot_connect_to_a_closed_port(&self) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        drop(listener);
        let error = self
            .fetch_from(&self.source(&url, IMPATIENT))
            .await
            .expect_err("unreachable");
        assert!(
            matches!(&error, SourceError::Network { attempts: 2, detail, .. } if detail.starts_with("could not connect")),
            "{error:?}"
        );
    }

    /// Each labelled body, answered with 200, ends the fetch in `Malformed`.
    pub async fn rejects_each_as_malformed(&self, cases: impl IntoIterator<Item = (&str, String)>) {
        for (label, body) in cases {
            let fake = Fake::answering(Answer::ok(body)).await;
            let error = self.fetch(&fake).await.expect_err(label);
            assert!(
                matches!(error, SourceError::Malformed { .. }),
                "{label}: {error:?}"
            );
        }
    }

    /// `not_found` to every request: the fetch ends in `UnknownId` for `id`. Returns the fake
    /// and the error's detail, for the source's own checks.
    pub async fn reports_an_unknown_id(&self, not_found: Answer, id: &str) -> (Fake, String) {
        let fake = Fake::answering(not_found).await;
        match self.fetch(&fake).await.expect_err("unknown") {
            SourceError::UnknownId {
                id: got, detail, ..
            } if got == id => (fake, detail),
            other => panic!("expected UnknownId `{id}`, got {other:?}"),
        }
    }

    /// `instrument` belongs to another source: the fetch is refused without a request.
    pub async fn refuses_an_instrument_of_another_source(&self, instrument: Instrument) {
        let fake = Fake::answering(Answer::ok("[]")).await;
        let error = self
            .source(&fake.url, Tuning::default())
            .fetch_daily(&instrument, &self.request)
            .await
            .expect_err("wrong source");
        assert!(
            matches!(error, SourceError::WrongSource { .. }),
            "{error:?}"
        );
        assert!(fake.requests().is_empty());
    }

    /// The error text names the instrument fetched.
    fn assert_names_the_instrument(&self, error: &SourceError) {
        let symbol = self.instrument.symbol.as_str();
        assert!(error.to_string().contains(symbol), "{error}");
    }
}

/// `error` is an `InvalidCandle` from `source_kind` whose `field` fails on `day`.
pub fn assert_invalid_candle(error: &SourceError, source_kind: SourceKind, field: &str, day: Day) {
    match error {
        SourceError::InvalidCandle {
            source_kind: kind,
            error,
        } => {
            assert_eq!(*kind, source_kind);
            assert_eq!((error.field, error.day), (field, day));
        }
        other => panic!("expected InvalidCandle, got {other:?}"),
    }
}

/// The Retry-After of a `RateLimited` after a single attempt.
fn rate_limited_once(error: &SourceError) -> u64 {
    match error {
        SourceError::RateLimited {
            attempts: 1,
            retry_after_secs: Some(secs),
            ..
        } => *secs,
        other => panic!("expected RateLimited after 1 attempt, got {other:?}"),
    }
}
