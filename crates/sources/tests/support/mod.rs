//! An in-process fake HTTP server for the network-source tests, and small helpers.
#![allow(dead_code)] // each test file uses a different part

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use barter_core::{Calendar, Day, Instrument, SourceKind, Symbol};
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
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
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
    builder
        .body(Body::from(answer.body))
        .expect("valid fake response")
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
