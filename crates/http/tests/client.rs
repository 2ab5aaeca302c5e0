//! The shared client against an in-process axum server (and a raw socket that hangs up):
//! pacing, Retry-After, the shared 429 pause, the per-request retry policy, the body cap and
//! secret scrubbing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request as AxumRequest, State};
use axum::http::HeaderMap;
use axum::response::Response;
use barter_http::{
    ApiKey, HeaderName, HeaderValue, HttpClient, HttpError, Method, Request, Retry, Settings,
    StatusCode, Url, sign_query,
};
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

const KEY: &str = "test-key-0123456789abcdef";
const SECRET: &str = "signing-secret-fedcba9876543210";

/// One request the fake received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: String,
    at: Instant,
}

/// What the fake answers.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
    /// Send the body this many times as a chunked stream, with no Content-Length.
    streamed: Option<usize>,
}

impl Answer {
    fn status(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
            streamed: None,
        }
    }

    fn ok(body: impl Into<String>) -> Self {
        Self::status(200, body)
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    fn streamed(mut self, times: usize) -> Self {
        self.streamed = Some(times);
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
struct Fake {
    url: Url,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    async fn start(handler: impl Fn(&Seen, usize) -> Answer + Send + Sync + 'static) -> Self {
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
            url: Url::parse(&format!("http://{addr}/api")).expect("url"),
            seen,
        }
    }

    async fn answering(answer: Answer) -> Self {
        Self::start(move |_, _| answer.clone()).await
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("fake state lock").clone()
    }
}

async fn handle(State(state): State<AppState>, request: AxumRequest) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .expect("small request body");
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
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
    let mut builder = Response::builder().status(answer.status);
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

/// A server that reads each request and hangs up without answering; counts the requests.
async fn hanging_up() -> (Url, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let addr = listener.local_addr().expect("local address");
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counted = Arc::clone(&counted);
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 8192];
                let mut read = Vec::new();
                while !read.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read.extend_from_slice(&buffer[..n]),
                    }
                }
                counted.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            });
        }
    });
    let url = Url::parse(&format!("http://{addr}/api")).expect("url");
    (url, count)
}

/// Fast settings: no pacing to speak of, 10 ms backoff, 5 s longest wait, two retries.
fn settings() -> Settings {
    Settings {
        requests_per_minute: 60_000,
        timeout_secs: 5.0,
        max_retries: 2,
        backoff_base_secs: 0.01,
        max_retry_wait_secs: 5.0,
    }
}

fn client(settings: Settings) -> HttpClient {
    HttpClient::new(
        settings,
        Some(ApiKey {
            header: "x-mbx-apikey",
            value: KEY,
        }),
    )
    .expect("valid settings")
    .scrub(SECRET)
}

fn post(fake_url: &Url) -> Request {
    Request::post(fake_url.clone()).form([("symbol", "BTCUSDT"), ("side", "BUY")])
}

#[tokio::test]
async fn requests_are_paced_across_concurrent_callers() {
    let fake = Fake::answering(Answer::ok("{}")).await;
    let client = client(Settings {
        requests_per_minute: 120,
        ..settings()
    });
    let started = Instant::now();
    let (a, b, c) = tokio::join!(
        client.get(&fake.url),
        client.get(&fake.url),
        client.get(&fake.url)
    );
    for reply in [a, b, c] {
        assert_eq!(reply.expect("answer").status, StatusCode::OK);
    }
    assert!(started.elapsed() >= Duration::from_millis(950));
    let seen = fake.requests();
    assert_eq!(seen.len(), 3);
    for pair in seen.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(450), "only {gap:?} apart");
    }
}

#[tokio::test]
async fn two_clients_sharing_a_pacer_share_its_budget() {
    let fake = Fake::answering(Answer::ok("{}")).await;
    let slow = Settings {
        requests_per_minute: 120,
        ..settings()
    };
    let data = client(slow);
    let orders = client(settings()).with_pacer(Arc::clone(data.pacer()));
    let (a, b) = tokio::join!(data.get(&fake.url), orders.get(&fake.url));
    a.expect("answer");
    b.expect("answer");
    let seen = fake.requests();
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(450));
}

#[tokio::test]
async fn a_retry_after_in_seconds_is_waited_out_then_retried() {
    let fake = Fake::start(|_, index| match index {
        0 => Answer::status(429, "{}").header("retry-after", "1"),
        _ => Answer::ok("done"),
    })
    .await;
    let reply = client(settings()).get(&fake.url).await.expect("answer");
    assert_eq!((reply.body.as_str(), reply.attempts), ("done", 2));
    let seen = fake.requests();
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(950));
}

#[tokio::test]
async fn a_retry_after_http_date_is_understood() {
    let fake = Fake::start(|_, _| {
        let when = chrono::Utc::now() + chrono::Duration::hours(1);
        Answer::status(429, "{}").header(
            "retry-after",
            when.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        )
    })
    .await;
    let started = Instant::now();
    let error = client(settings())
        .get(&fake.url)
        .await
        .expect_err("refused");
    assert!(started.elapsed() < Duration::from_secs(2), "not waited for");
    match error {
        HttpError::RetryAfterTooLong {
            status: 429,
            attempts: 1,
            retry_after_secs,
            ..
        } => assert!(
            (3590..=3601).contains(&retry_after_secs),
            "{retry_after_secs}"
        ),
        other => panic!("expected RetryAfterTooLong, got {other:?}"),
    }
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_429_delays_the_next_request_of_the_same_client() {
    let fake = Fake::start(|_, index| match index {
        0 => Answer::status(429, "{}").header("retry-after", "1"),
        _ => Answer::ok("{}"),
    })
    .await;
    let client = client(Settings {
        max_retries: 0,
        ..settings()
    });
    let error = client.get(&fake.url).await.expect_err("rate limited");
    assert!(
        matches!(
            error,
            HttpError::RateLimited {
                status: 429,
                attempts: 1,
                retry_after_secs: Some(1)
            }
        ),
        "{error:?}"
    );
    // A different request, even one sent exactly once, waits out the pause too.
    client.send(post(&fake.url)).await.expect("answer");
    let seen = fake.requests();
    assert_eq!(seen.len(), 2);
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(950));
}

#[tokio::test]
async fn a_ban_longer_than_max_retry_wait_stops_later_requests_before_sending() {
    let fake = Fake::start(|_, index| match index {
        0 => {
            Answer::status(418, r#"{"code":-1003,"msg":"IP banned"}"#).header("retry-after", "7200")
        }
        _ => Answer::ok("{}"),
    })
    .await;
    let client = client(settings());
    let error = client.get(&fake.url).await.expect_err("banned");
    assert!(
        matches!(
            error,
            HttpError::RetryAfterTooLong {
                status: 418,
                retry_after_secs: 7200,
                ..
            }
        ),
        "{error:?}"
    );
    let later = client.get(&fake.url).await.expect_err("held back");
    assert!(
        matches!(later, HttpError::HeldBack { wait_secs } if wait_secs > 7000),
        "{later:?}"
    );
    assert!(later.to_string().contains("not sent"), "{later}");
    assert_eq!(fake.requests().len(), 1, "nothing sent during the ban");
}

#[tokio::test]
async fn a_server_error_is_retried_for_reads_but_never_resent_for_an_order() {
    let fake = Fake::answering(Answer::status(503, "Service Unavailable")).await;
    let client = client(settings());
    let read = client.get(&fake.url).await.expect_err("fails");
    assert!(
        matches!(read, HttpError::Status { status: 503, attempts: 3, ref body } if body == "Service Unavailable"),
        "{read:?}"
    );
    assert_eq!(fake.requests().len(), 3);

    let fake = Fake::answering(Answer::status(503, "Service Unavailable")).await;
    let order = client.send(post(&fake.url)).await.expect_err("unknown");
    assert!(order.outcome_unknown(), "{order:?}");
    assert!(
        matches!(
            order,
            HttpError::OutcomeUnknown {
                status: Some(503),
                ..
            }
        ),
        "{order:?}"
    );
    let message = order.to_string();
    assert!(
        message.contains("outcome unknown") && message.contains("not resent"),
        "{message}"
    );
    assert_eq!(fake.requests().len(), 1, "an order is sent once");
}

#[tokio::test]
async fn a_timed_out_order_is_not_resent_and_its_outcome_is_unknown() {
    let fake = Fake::answering(Answer::ok("{}").after(Duration::from_secs(2))).await;
    let client = client(Settings {
        timeout_secs: 0.2,
        ..settings()
    });
    let error = client.send(post(&fake.url)).await.expect_err("timeout");
    assert!(
        matches!(&error, HttpError::OutcomeUnknown { status: None, detail } if detail.contains("0.2s")),
        "{error:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.requests().len(), 1);

    let read = client.get(&fake.url).await.expect_err("timeout");
    assert!(
        matches!(read, HttpError::Timeout { attempts: 3, .. }),
        "{read:?}"
    );
}

#[tokio::test]
async fn a_dropped_connection_is_not_resent_for_an_order_but_retried_for_a_read() {
    let (url, count) = hanging_up().await;
    let client = client(settings());
    let error = client.send(post(&url)).await.expect_err("dropped");
    assert!(error.outcome_unknown(), "{error:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(count.load(Ordering::SeqCst), 1, "an order is sent once");

    let read = client.get(&url).await.expect_err("dropped");
    assert!(
        matches!(read, HttpError::Connection { attempts: 3, .. }),
        "{read:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_refused_connection_says_nothing_was_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url =
        Url::parse(&format!("http://{}/", listener.local_addr().expect("addr"))).expect("url");
    drop(listener);
    let error = client(settings())
        .send(post(&url))
        .await
        .expect_err("refused");
    assert!(
        matches!(error, HttpError::Connect { attempts: 1, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("nothing was sent"), "{error}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_announced_or_streamed_and_not_retried() {
    let kib = "x".repeat(1024);
    for answer in [
        Answer::ok(kib.repeat(3)),
        Answer::ok(kib.clone()).streamed(3),
    ] {
        let fake = Fake::answering(answer).await;
        let error = client(settings())
            .with_body_limit(2048)
            .get(&fake.url)
            .await
            .expect_err("too large");
        assert_eq!(
            error,
            HttpError::BodyTooLarge {
                status: 200,
                limit: 2048
            }
        );
        assert!(
            error
                .to_string()
                .contains("larger than the limit of 2048 bytes")
        );
        assert_eq!(fake.requests().len(), 1);
    }
    let fake = Fake::answering(Answer::ok(kib.repeat(2))).await;
    let reply = client(settings())
        .with_body_limit(2048)
        .get(&fake.url)
        .await
        .expect("exactly at the limit");
    assert_eq!(reply.body.len(), 2048);
}

#[tokio::test]
async fn the_key_and_the_secret_never_appear_in_an_error() {
    // A server that echoes what it got (some do, in error pages).
    let fake = Fake::start(|seen, _| {
        let key = seen
            .headers
            .get("x-mbx-apikey")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Answer::status(500, format!("bad key {key} secret {SECRET}"))
    })
    .await;
    let client = client(settings());
    let read = client.get(&fake.url).await.expect_err("fails");
    let order = client.send(post(&fake.url)).await.expect_err("unknown");
    assert_eq!(
        fake.requests()[0]
            .headers
            .get("x-mbx-apikey")
            .map(|v| v.as_bytes()),
        Some(KEY.as_bytes())
    );
    for error in [read, order] {
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(KEY) && !shown.contains(SECRET), "{shown}");
        assert!(shown.contains("bad key ***"), "{shown}");
    }
    assert!(!format!("{client:?}").contains(KEY));

    let fake = Fake::start(|seen, _| Answer::status(400, format!("{seen:?}"))).await;
    let reply = client.get(&fake.url).await.expect("a 400 is an answer");
    assert!(!client.status_error(&reply).to_string().contains(KEY));
}

#[tokio::test]
async fn a_signed_post_and_delete_carry_their_form_query_and_headers() {
    let fake = Fake::answering(Answer::ok(r#"{"orderId":1}"#)).await;
    let client = client(settings());
    let payload = "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&timestamp=1";
    let signed = format!("{payload}&signature={}", sign_query(SECRET, payload));
    let reply = client
        .send(
            Request::post(fake.url.join("order").expect("url"))
                .form_body(signed.clone())
                .header(
                    HeaderName::from_static("x-request-tag"),
                    HeaderValue::from_static("t1"),
                ),
        )
        .await
        .expect("placed");
    assert_eq!((reply.status, reply.attempts), (StatusCode::OK, 1));
    let cancel = Request::delete(fake.url.clone()).query([("symbol", "BTC USDT")]);
    assert_eq!(
        (cancel.method(), cancel.retry_policy()),
        (Method::Delete, Retry::Never)
    );
    client.send(cancel).await.expect("canceled");

    let seen = fake.requests();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", "/order")
    );
    assert_eq!(seen[0].body, signed);
    assert_eq!(
        seen[0].headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/x-www-form-urlencoded"[..])
    );
    assert_eq!(
        seen[0].headers.get("x-request-tag").map(|v| v.as_bytes()),
        Some(&b"t1"[..])
    );
    assert_eq!(
        (seen[1].method.as_str(), seen[1].query.as_str()),
        ("DELETE", "symbol=BTC+USDT")
    );
    assert!(seen[1].body.is_empty());
}

#[tokio::test]
async fn a_json_post_carries_its_body_as_application_json_once() {
    let fake = Fake::answering(Answer::ok(r#"{"id":"1"}"#)).await;
    let client = client(settings());
    let json = r#"{"symbol":"BTC/USD","qty":"0.01"}"#;
    let request = Request::post(fake.url.clone()).json_body(json);
    assert_eq!(request.retry_policy(), Retry::Never);
    client.send(request).await.expect("placed");
    let seen = fake.requests();
    assert_eq!(seen[0].body, json);
    let types: Vec<_> = seen[0].headers.get_all("content-type").iter().collect();
    assert_eq!(types, [&HeaderValue::from_static("application/json")]);
}

#[test]
fn bad_settings_are_refused_with_the_setting_named() {
    let zero = HttpClient::new(
        Settings {
            requests_per_minute: 0,
            ..settings()
        },
        None,
    );
    assert!(zero.is_err_and(|e| e.to_string().contains("requests_per_minute")));
    let negative = HttpClient::new(
        Settings {
            timeout_secs: -1.0,
            ..settings()
        },
        None,
    );
    assert!(negative.is_err_and(|e| e.to_string().contains("timeout_secs = -1")));
    let newline = HttpClient::new(
        settings(),
        Some(ApiKey {
            header: "x-mbx-apikey",
            value: "abc\n",
        }),
    );
    assert!(newline.is_err_and(|e| !e.to_string().contains("abc")));
}
