//! An in-process fake of Binance Spot's REST API, built from the reference notes and serving
//! their fixture bodies: it verifies every signature with the secret, checks timestamps against
//! its own clock and `recvWindow`, fills market orders at once (a client order id is refused as
//! a duplicate only while its order is open), and can be scripted to fail each order post the
//! way the notes say Binance does. Every answer can be delayed by a set latency, carries the
//! request weight used in the last minute (`X-MBX-USED-WEIGHT-1M`, per the notes' weights) and,
//! for an order post, the orders counted in the last 10 s and day (`X-MBX-ORDER-COUNT-10S` /
//! `-1D`); the arrival time of every request is kept so callers can check the documented limits.
//!
//! Order posts and test orders (`POST /api/v3/order/test`, validated the same way, never
//! placed) pass BTCUSDT's `LOT_SIZE` and `NOTIONAL` filters at [`PRICE`]. The account's balances
//! start as the fixture's and move with every fill (balances are not checked: an order that
//! must fail for its balance is scripted with [`OnOrder::InsufficientBalance`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use barter_http::sign_query;
use rust_decimal::{Decimal, RoundingStrategy};
use rust_decimal_macros::dec;
use serde_json::{Value, json};

/// The API key the fake accepts.
pub const KEY: &str = "fake-api-key-0123456789abcdef";
/// The secret the fake verifies signatures with.
pub const SECRET: &str = "fake-secret-fedcba9876543210";
/// The price every market order fills at.
pub const PRICE: Decimal = dec!(50000);

const TIME: &str = include_str!("../fixtures/binance/time.json");
const BTCUSDT: &str = include_str!("../fixtures/binance/exchangeInfo_BTCUSDT.json");
const ETHBTC: &str = include_str!("../fixtures/binance/exchangeInfo_ETHBTC_legacy_filters.json");
const ACCOUNT: &str = include_str!("../fixtures/binance/account.json");
const FULL: &str = include_str!("../fixtures/binance/order_market_buy_full.json");
const QUERY: &str = include_str!("../fixtures/binance/order_query_filled.json");
const TRADES: &str = include_str!("../fixtures/binance/myTrades.json");
const E429: &str = include_str!("../fixtures/binance/error_-1003_too_many_requests_429.json");
const E1007: &str = include_str!("../fixtures/binance/error_-1007_timeout_status_unknown.json");
const E1021_OUTSIDE: &str =
    include_str!("../fixtures/binance/error_-1021_timestamp_outside_recv_window.json");
const E1021_AHEAD: &str = include_str!("../fixtures/binance/error_-1021_timestamp_ahead.json");
const E1022: &str = include_str!("../fixtures/binance/error_-1022_bad_signature.json");
const E2010_BALANCE: &str =
    include_str!("../fixtures/binance/error_-2010_insufficient_balance.json");
const E2010_DUPLICATE: &str = include_str!("../fixtures/binance/error_-2010_duplicate_order.json");
const E2013: &str = include_str!("../fixtures/binance/error_-2013_no_such_order.json");
const E2015: &str = include_str!("../fixtures/binance/error_-2015_rejected_api_key.json");
const E1013_LOT_SIZE: &str = include_str!("../fixtures/binance/error_-1013_lot_size.json");
const E1013_NOTIONAL: &str = include_str!("../fixtures/binance/error_-1013_notional.json");
const TEST_ORDER: &str = include_str!("../fixtures/binance/order_test_empty.json");

/// What the fake does with one order post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnOrder {
    /// Places and fills the order, answers FULL.
    Fill,
    /// Places and fills it, then drops the connection mid-answer.
    PlaceThenDrop,
    /// Places and fills it, answers 503.
    PlaceThen503,
    /// Places and fills it, answers -1007 "execution status unknown".
    PlaceThen1007,
    /// Places and fills it, answers only after the client's timeout.
    PlaceThenHang,
    /// 429 with `Retry-After: 1`, nothing placed.
    RateLimited,
    /// -1021, nothing placed (the clock check comes before the engine).
    ClockError,
    /// -2010 insufficient balance, nothing placed.
    InsufficientBalance,
    /// Places it; the book runs out after 60 %: EXPIRED with INSUFFICIENT_LIQUIDITY.
    ExpirePartly,
}

/// One fill the fake booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeFill {
    /// Binance's trade id.
    pub trade_id: i64,
    /// Price.
    pub price: Decimal,
    /// Quantity.
    pub qty: Decimal,
    /// Commission.
    pub commission: Decimal,
    /// Commission asset.
    pub commission_asset: String,
}

/// One order the fake placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeOrder {
    /// Binance's order id.
    pub order_id: i64,
    /// The client order id sent.
    pub client_order_id: String,
    /// `BUY` or `SELL`.
    pub side: String,
    /// The quantity ordered (computed from `quoteOrderQty` when that was sent).
    pub orig_qty: Decimal,
    /// The quantity executed.
    pub executed_qty: Decimal,
    /// `FILLED` or `EXPIRED`.
    pub status: &'static str,
    /// Its trades.
    pub fills: Vec<FakeFill>,
    /// Lookups that still answer -2013.
    invisible: u32,
}

#[derive(Debug, Default)]
struct Book {
    script: VecDeque<OnOrder>,
    orders: Vec<FakeOrder>,
    order_posts: Vec<String>,
    time_requests: u32,
    lookups: u32,
    auth_failures: Vec<String>,
    invisible_lookups: u32,
    skew_ms: i64,
    hang: Duration,
    /// Order lookups wait [`Book::hang`] before answering.
    hang_lookups: bool,
    next_order_id: i64,
    next_trade_id: i64,
    /// Bodies of the test orders received (`POST /api/v3/order/test`).
    test_orders: Vec<String>,
    /// The account's balances (asset, free, locked); seeded from the fixture on first use.
    balances: Option<Vec<(String, Decimal, Decimal)>>,
    latency: Duration,
    /// Arrival time and weight of every request.
    weights: Vec<(Instant, u32)>,
    /// Arrival time of every order post.
    order_times: Vec<Instant>,
}

impl Book {
    /// The balance book, seeded from the account fixture the first time it is used.
    fn balances(&mut self) -> &mut Vec<(String, Decimal, Decimal)> {
        self.balances.get_or_insert_with(|| {
            let account: Value = serde_json::from_str(ACCOUNT).expect("fixture");
            let number = |v: &Value| {
                v.as_str()
                    .and_then(|t| t.parse::<Decimal>().ok())
                    .expect("fixture decimal")
            };
            account["balances"]
                .as_array()
                .expect("fixture balances")
                .iter()
                .map(|b| {
                    let asset = b["asset"].as_str().expect("fixture asset").to_owned();
                    (asset, number(&b["free"]), number(&b["locked"]))
                })
                .collect()
        })
    }

    /// Adds `delta` to the free balance of `asset` (listing it when new).
    fn credit(&mut self, asset: &str, delta: Decimal) {
        let balances = self.balances();
        match balances.iter_mut().find(|(a, _, _)| a == asset) {
            Some((_, free, _)) => *free += delta,
            None => balances.push((asset.to_owned(), delta, Decimal::ZERO)),
        }
    }
}

/// A running fake.
#[derive(Clone)]
pub struct FakeBinance {
    /// Its base URL.
    pub url: String,
    book: Arc<Mutex<Book>>,
}

impl FakeBinance {
    /// Starts a fake on a free local port.
    pub async fn start() -> Self {
        let book = Arc::new(Mutex::new(Book {
            next_order_id: 52_837_461_923,
            next_trade_id: 5_012_345_678,
            hang: Duration::from_secs(3),
            ..Book::default()
        }));
        let app = Router::new().fallback(handle).with_state(Arc::clone(&book));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("fake binance serves");
        });
        Self {
            url: format!("http://{addr}"),
            book,
        }
    }

    /// Delays every answer by `latency` (the time the venue takes, as seen from the client).
    pub fn set_latency(&self, latency: Duration) {
        self.book().latency = latency;
    }

    /// Arrival time of every order post (placed or not), in order.
    pub fn order_post_times(&self) -> Vec<Instant> {
        self.book().order_times.clone()
    }

    /// Arrival time and request weight (the notes' table) of every request, in order.
    pub fn request_weights(&self) -> Vec<(Instant, u32)> {
        self.book().weights.clone()
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the next order posts do, in order (then: fill).
    pub fn script(&self, script: &[OnOrder]) {
        self.book().script = script.iter().copied().collect();
    }

    /// Every new order stays invisible to this many lookups (-2013 right after placement).
    pub fn invisible_for(&self, lookups: u32) {
        self.book().invisible_lookups = lookups;
    }

    /// How long a hanging answer ([`OnOrder::PlaceThenHang`], a hung lookup) waits (3 s unless set).
    pub fn set_hang(&self, wait: Duration) {
        self.book().hang = wait;
    }

    /// While `true`, every order lookup waits the hang before answering (a venue that stalls).
    pub fn hang_lookups(&self, on: bool) {
        self.book().hang_lookups = on;
    }

    /// The fake's clock runs `ms` ahead of the local one.
    pub fn skew(&self, ms: i64) {
        self.book().skew_ms = ms;
    }

    /// The orders placed with this client order id (a blind resend shows as two).
    pub fn placements(&self, client_order_id: &str) -> Vec<FakeOrder> {
        self.book()
            .orders
            .iter()
            .filter(|o| o.client_order_id == client_order_id)
            .cloned()
            .collect()
    }

    /// Bodies of every order post received (placed or not).
    pub fn order_posts(&self) -> Vec<String> {
        self.book().order_posts.clone()
    }

    /// Requests of the server time.
    pub fn time_requests(&self) -> u32 {
        self.book().time_requests
    }

    /// Order lookups received.
    pub fn lookups(&self) -> u32 {
        self.book().lookups
    }

    /// Test orders received (`POST /api/v3/order/test`), valid or not; none is ever placed.
    pub fn test_orders(&self) -> u32 {
        u32::try_from(self.book().test_orders.len()).unwrap_or(u32::MAX)
    }

    /// Bodies of every test order received, in order.
    pub fn test_order_posts(&self) -> Vec<String> {
        self.book().test_orders.clone()
    }

    /// Sets the free balance of `asset` (a deposit, a withdrawal or a trade made elsewhere),
    /// keeping what is locked.
    pub fn set_balance(&self, asset: &str, free: Decimal) {
        let mut book = self.book();
        let balances = book.balances();
        match balances.iter_mut().find(|(a, _, _)| a == asset) {
            Some((_, held, _)) => *held = free,
            None => balances.push((asset.to_owned(), free, Decimal::ZERO)),
        }
    }

    /// The account's balance of `asset` as (free, locked); zeros when not listed.
    pub fn balance(&self, asset: &str) -> (Decimal, Decimal) {
        self.book()
            .balances()
            .iter()
            .find(|(a, _, _)| a == asset)
            .map_or((Decimal::ZERO, Decimal::ZERO), |(_, free, locked)| {
                (*free, *locked)
            })
    }

    /// Signed requests refused for their key, signature or timestamp.
    pub fn auth_failures(&self) -> Vec<String> {
        self.book().auth_failures.clone()
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn answer(status: u16, body: impl Into<String>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.into()))
        .expect("valid response")
}

/// A refused signed request: the HTTP status and the fixture body to answer with.
struct Refusal(u16, &'static str);

impl Refusal {
    fn answer(self) -> Response {
        answer(self.0, self.1)
    }
}

/// The parameters of a signed request after checking key, signature and timestamp.
fn authenticate(
    book: &mut Book,
    headers: &HeaderMap,
    query: &str,
    body: &str,
) -> Result<Vec<(String, String)>, Refusal> {
    let mut fail = |why: &str, status: u16, fixture: &'static str| {
        book.auth_failures.push(why.to_owned());
        Err(Refusal(status, fixture))
    };
    if headers.get("x-mbx-apikey").and_then(|v| v.to_str().ok()) != Some(KEY) {
        return fail("api key", 401, E2015);
    }
    // Binance signs the query string followed by the body, with no separator.
    let payload = format!("{query}{body}");
    let Some((signed, signature)) = payload.rsplit_once("&signature=") else {
        return fail("no signature", 400, E1022);
    };
    if sign_query(SECRET, signed) != signature.to_ascii_lowercase() {
        return fail("signature", 400, E1022);
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .chain(form_urlencoded::parse(body.as_bytes()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let Some(timestamp) = get("timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return fail("no timestamp", 400, E1021_OUTSIDE);
    };
    let window = get("recvWindow")
        .and_then(|w| w.parse::<i64>().ok())
        .unwrap_or(5000);
    let server = now_ms() + book.skew_ms;
    if timestamp >= server + 1000 {
        return fail("timestamp ahead", 400, E1021_AHEAD);
    }
    if server - timestamp > window {
        return fail("timestamp outside recvWindow", 400, E1021_OUTSIDE);
    }
    Ok(params)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn handle(
    State(book): State<Arc<Mutex<Book>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let arrived = Instant::now();
    let query = uri.query().unwrap_or_default().to_owned();
    let (response, hang, latency) = {
        let mut book = book.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut response, hang) = route(&mut book, &method, uri.path(), &headers, &query, &body);
        count(
            &mut book,
            arrived,
            &method,
            uri.path(),
            &query,
            &mut response,
        );
        (response, hang, book.latency)
    };
    tokio::time::sleep(latency + hang.unwrap_or_default()).await;
    response
}

/// Books the request's weight (and, for an order post, its order count) and reports the
/// totals in Binance's headers, over sliding windows ending now.
fn count(
    book: &mut Book,
    arrived: Instant,
    method: &Method,
    path: &str,
    query: &str,
    response: &mut Response,
) {
    let weight = match (method.as_str(), path) {
        ("GET", "/api/v3/exchangeInfo" | "/api/v3/account") => 20,
        ("GET", "/api/v3/order") => 4,
        ("GET", "/api/v3/myTrades") if query.contains("orderId=") => 5,
        ("GET", "/api/v3/myTrades") => 20,
        _ => 1,
    };
    book.weights.push((arrived, weight));
    // Within `window` before this request (everything, when the clock began less than that ago).
    let within =
        |at: Instant, window: Duration| arrived.checked_sub(window).is_none_or(|from| at > from);
    let used: u32 = book
        .weights
        .iter()
        .filter(|(at, _)| within(*at, Duration::from_secs(60)))
        .map(|(_, w)| w)
        .sum();
    let placed = response.status().is_success();
    let headers = response.headers_mut();
    headers.insert("x-mbx-used-weight-1m", used.into());
    if (method.as_str(), path) == ("POST", "/api/v3/order") {
        book.order_times.push(arrived);
        let in_window = |window: Duration| {
            book.order_times
                .iter()
                .filter(|at| within(**at, window))
                .count()
        };
        if placed {
            headers.insert(
                "x-mbx-order-count-10s",
                in_window(Duration::from_secs(10)).into(),
            );
            headers.insert(
                "x-mbx-order-count-1d",
                in_window(Duration::from_secs(86_400)).into(),
            );
        }
    }
}

/// Answers one request; the second value asks the caller to wait before answering.
fn route(
    book: &mut Book,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    query: &str,
    body: &str,
) -> (Response, Option<Duration>) {
    let done = |r| (r, None);
    // The secret signs; it must never travel.
    let in_headers = headers
        .values()
        .any(|v| v.to_str().is_ok_and(|v| v.contains(SECRET)));
    if in_headers || query.contains(SECRET) || body.contains(SECRET) {
        book.auth_failures.push("the secret was sent".to_owned());
    }
    match (method.as_str(), path) {
        ("GET", "/api/v3/time") => {
            book.time_requests += 1;
            let mut time: Value = serde_json::from_str(TIME).expect("fixture");
            time["serverTime"] = json!(now_ms() + book.skew_ms);
            done(answer(200, time.to_string()))
        }
        ("GET", "/api/v3/exchangeInfo") => {
            let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            done(match param(&params, "symbol") {
                Some("BTCUSDT") => answer(200, BTCUSDT),
                Some("ETHBTC") => answer(200, ETHBTC),
                _ => answer(400, r#"{"code":-1121,"msg":"Invalid symbol."}"#),
            })
        }
        ("GET", "/api/v3/account") => done(match authenticate(book, headers, query, body) {
            Ok(params) => account(book, &params),
            Err(refusal) => refusal.answer(),
        }),
        ("POST", "/api/v3/order/test") => {
            book.test_orders.push(body.to_owned());
            done(match authenticate(book, headers, query, body) {
                Ok(params) => match checked_quantity(&params) {
                    Ok(_) => answer(200, TEST_ORDER),
                    Err(refusal) => refusal.answer(),
                },
                Err(refusal) => refusal.answer(),
            })
        }
        ("POST", "/api/v3/order") => {
            book.order_posts.push(body.to_owned());
            match authenticate(book, headers, query, body) {
                Ok(params) => place(book, &params),
                Err(refusal) => done(refusal.answer()),
            }
        }
        ("GET", "/api/v3/order") => {
            book.lookups += 1;
            let response = match authenticate(book, headers, query, body) {
                Ok(params) => lookup(book, &params),
                Err(refusal) => refusal.answer(),
            };
            (response, book.hang_lookups.then_some(book.hang))
        }
        ("GET", "/api/v3/myTrades") => done(match authenticate(book, headers, query, body) {
            Ok(params) => trades(book, &params),
            Err(refusal) => refusal.answer(),
        }),
        _ => done(answer(404, r#"{"code":-1000,"msg":"no such endpoint"}"#)),
    }
}

fn place(book: &mut Book, params: &[(String, String)]) -> (Response, Option<Duration>) {
    let client_order_id = param(params, "newClientOrderId")
        .unwrap_or_default()
        .to_owned();
    // A client order id is unique among open orders only.
    if book
        .orders
        .iter()
        .any(|o| o.client_order_id == client_order_id && o.status == "NEW")
    {
        return (answer(400, E2010_DUPLICATE), None);
    }
    let orig_qty = match checked_quantity(params) {
        Ok(quantity) => quantity,
        Err(refusal) => return (refusal.answer(), None),
    };
    let behaviour = book.script.pop_front().unwrap_or(OnOrder::Fill);
    match behaviour {
        OnOrder::RateLimited => {
            let response = Response::builder()
                .status(429)
                .header("retry-after", "1")
                .body(Body::from(E429))
                .expect("valid response");
            return (response, None);
        }
        OnOrder::ClockError => return (answer(400, E1021_OUTSIDE), None),
        OnOrder::InsufficientBalance => return (answer(400, E2010_BALANCE), None),
        _ => {}
    }
    let step = |d: Decimal| d.round_dp_with_strategy(5, RoundingStrategy::ToZero);
    let side = param(params, "side").unwrap_or_default().to_owned();
    let (status, executed) = if behaviour == OnOrder::ExpirePartly {
        ("EXPIRED", step(orig_qty * dec!(0.6)))
    } else {
        ("FILLED", orig_qty)
    };
    let first = step(executed * dec!(0.6));
    let mut fills = Vec::new();
    for qty in [first, executed - first] {
        if qty <= Decimal::ZERO {
            continue;
        }
        book.next_trade_id += 1;
        // 0.1 % taker fee in what was received: the base asset on a buy, the quote on a sell.
        let (commission, commission_asset) = if side == "BUY" {
            (qty * dec!(0.001), "BTC")
        } else {
            (qty * PRICE * dec!(0.001), "USDT")
        };
        fills.push(FakeFill {
            trade_id: book.next_trade_id,
            price: PRICE,
            qty,
            commission: commission.round_dp(8),
            commission_asset: commission_asset.to_owned(),
        });
    }
    book.next_order_id += 1;
    let order = FakeOrder {
        order_id: book.next_order_id,
        client_order_id,
        side,
        orig_qty,
        executed_qty: executed,
        status,
        fills,
        invisible: book.invisible_lookups,
    };
    let full = full_answer(&order);
    settle(book, param(params, "symbol").unwrap_or_default(), &order);
    book.orders.push(order);
    match behaviour {
        OnOrder::PlaceThenDrop => {
            // Headers go out, then the body fails: the connection is cut mid-answer.
            let broken = futures_util::stream::once(async {
                Err::<String, std::io::Error>(std::io::Error::other("connection dropped"))
            });
            let response = Response::builder()
                .status(200)
                .body(Body::from_stream(broken))
                .expect("valid response");
            (response, None)
        }
        OnOrder::PlaceThen503 => (answer(503, "Service Unavailable"), None),
        OnOrder::PlaceThen1007 => (answer(400, E1007), None),
        OnOrder::PlaceThenHang => (answer(200, full), Some(book.hang)),
        _ => (answer(200, full), None),
    }
}

/// The quantity an order's parameters ask for (computed from `quoteOrderQty` at [`PRICE`],
/// cut to BTCUSDT's step), after BTCUSDT's `LOT_SIZE` and `NOTIONAL` filters; or the refusal
/// Binance answers (a missing amount, a filter failure).
fn checked_quantity(params: &[(String, String)]) -> Result<Decimal, Refusal> {
    const MISSING: &str = r#"{"code":-1102,"msg":"Mandatory parameter missing."}"#;
    const BAD_NUMBER: &str = r#"{"code":-1100,"msg":"Illegal characters found in a parameter."}"#;
    let number = |text: &str| {
        text.parse::<Decimal>()
            .map_err(|_| Refusal(400, BAD_NUMBER))
    };
    let step = dec!(0.00001);
    let (quantity, notional) = match (param(params, "quantity"), param(params, "quoteOrderQty")) {
        (Some(q), None) => {
            let quantity = number(q)?;
            (quantity, quantity * PRICE)
        }
        (None, Some(quote)) => {
            let quote = number(quote)?;
            let quantity = (quote / PRICE).round_dp_with_strategy(5, RoundingStrategy::ToZero);
            (quantity, quote)
        }
        _ => return Err(Refusal(400, MISSING)),
    };
    if param(params, "symbol") == Some("BTCUSDT") {
        if quantity < step || quantity % step != Decimal::ZERO {
            return Err(Refusal(400, E1013_LOT_SIZE));
        }
        if notional < dec!(5) {
            return Err(Refusal(400, E1013_NOTIONAL));
        }
    }
    Ok(quantity)
}

/// Moves the balances by `order`'s fills on `symbol`: a buy adds the base bought and takes
/// its cost in the quote, a sell the reverse; each commission is taken in its asset.
fn settle(book: &mut Book, symbol: &str, order: &FakeOrder) {
    let (base, quote) = match symbol {
        "ETHBTC" => ("ETH", "BTC"),
        _ => ("BTC", "USDT"),
    };
    let sign = if order.side == "SELL" {
        -Decimal::ONE
    } else {
        Decimal::ONE
    };
    for fill in &order.fills {
        book.credit(base, sign * fill.qty);
        book.credit(quote, -sign * fill.qty * fill.price);
        book.credit(&fill.commission_asset, -fill.commission);
    }
}

/// The account fixture with the balance book's balances (without the zero ones when
/// `omitZeroBalances=true` was asked).
fn account(book: &mut Book, params: &[(String, String)]) -> Response {
    let omit_zero = param(params, "omitZeroBalances") == Some("true");
    let mut view: Value = serde_json::from_str(ACCOUNT).expect("fixture");
    view["balances"] = book
        .balances()
        .iter()
        .filter(|(_, free, locked)| !(omit_zero && free.is_zero() && locked.is_zero()))
        .map(|(asset, free, locked)| {
            json!({
                "asset": asset,
                "free": format!("{free:.8}"),
                "locked": format!("{locked:.8}"),
            })
        })
        .collect();
    answer(200, view.to_string())
}

/// The FULL answer for `order`, in the fixture's shape.
fn full_answer(order: &FakeOrder) -> String {
    let mut full: Value = serde_json::from_str(FULL).expect("fixture");
    full["orderId"] = json!(order.order_id);
    full["clientOrderId"] = json!(order.client_order_id);
    full["origQty"] = json!(format!("{:.8}", order.orig_qty));
    full["executedQty"] = json!(format!("{:.8}", order.executed_qty));
    full["cummulativeQuoteQty"] = json!(format!("{:.8}", order.executed_qty * PRICE));
    full["status"] = json!(order.status);
    full["side"] = json!(order.side);
    if order.status == "EXPIRED" {
        full["expiryReason"] = json!("INSUFFICIENT_LIQUIDITY");
    }
    full["fills"] = order
        .fills
        .iter()
        .map(|f| {
            json!({
                "price": format!("{:.8}", f.price),
                "qty": format!("{:.8}", f.qty),
                "commission": format!("{:.8}", f.commission),
                "commissionAsset": f.commission_asset,
                "tradeId": f.trade_id,
            })
        })
        .collect();
    full.to_string()
}

fn lookup(book: &mut Book, params: &[(String, String)]) -> Response {
    let id = param(params, "origClientOrderId").unwrap_or_default();
    let Some(order) = book
        .orders
        .iter_mut()
        .rev()
        .find(|o| o.client_order_id == id)
    else {
        return answer(400, E2013);
    };
    if order.invisible > 0 {
        order.invisible -= 1;
        return answer(400, E2013);
    }
    let mut view: Value = serde_json::from_str(QUERY).expect("fixture");
    view["orderId"] = json!(order.order_id);
    view["clientOrderId"] = json!(order.client_order_id);
    view["origQty"] = json!(format!("{:.8}", order.orig_qty));
    view["executedQty"] = json!(format!("{:.8}", order.executed_qty));
    view["cummulativeQuoteQty"] = json!(format!("{:.8}", order.executed_qty * PRICE));
    view["status"] = json!(order.status);
    view["side"] = json!(order.side);
    answer(200, view.to_string())
}

fn trades(book: &Book, params: &[(String, String)]) -> Response {
    let order_id = param(params, "orderId").and_then(|id| id.parse::<i64>().ok());
    let template: Vec<Value> = serde_json::from_str(TRADES).expect("fixture");
    let rows: Vec<Value> = book
        .orders
        .iter()
        .filter(|o| Some(o.order_id) == order_id)
        .flat_map(|o| {
            o.fills.iter().map(|f| {
                let mut row = template[0].clone();
                row["id"] = json!(f.trade_id);
                row["orderId"] = json!(o.order_id);
                row["price"] = json!(format!("{:.8}", f.price));
                row["qty"] = json!(format!("{:.8}", f.qty));
                row["quoteQty"] = json!(format!("{:.8}", f.qty * f.price));
                row["commission"] = json!(format!("{:.8}", f.commission));
                row["commissionAsset"] = json!(f.commission_asset);
                row["isBuyer"] = json!(o.side == "BUY");
                row
            })
        })
        .collect();
    answer(200, Value::Array(rows).to_string())
}
