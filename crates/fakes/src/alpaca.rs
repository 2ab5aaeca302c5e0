//! An in-process Alpaca Trading API speaking the documented formats (bodies from the reference
//! fixtures), with switches for every failure the exactly-once tests play.
//!
//! Like Alpaca: both key headers are required on every request (else 401); a client order id is
//! unique for the account's life (a reuse is 422 "client_order_id must be unique", even after
//! the first order ended); crypto market orders fill at once; a stock market order sent while
//! the market is closed stays `accepted` until [`AlpacaFake::open_market`] fills it.
//!
//! The account's cash and positions (`GET /v2/positions`) start as the fixtures' and move with
//! every fill: a stock fill moves shares against cash at its price; a crypto buy adds the coin
//! net of the 0.25% taker fee (position `BTCUSD`), a crypto sell pays the cash net of it. Open
//! buy orders hold back buying power, open sell orders the position's `qty_available`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// The key id the fake accepts.
pub const KEY_ID: &str = "PKFAKE0KEY0ID0001";
/// The secret key the fake accepts.
pub const SECRET_KEY: &str = "fake-secret-7f3c9e21d4b8";

const ACCOUNT: &str = include_str!("../fixtures/alpaca/account.json");
const ASSET_AAPL: &str = include_str!("../fixtures/alpaca/asset_AAPL.json");
const ASSET_BTCUSD: &str = include_str!("../fixtures/alpaca/asset_BTCUSD.json");
const CLOCK_OPEN: &str = include_str!("../fixtures/alpaca/clock_open.json");
const CLOCK_CLOSED: &str = include_str!("../fixtures/alpaca/clock_closed.json");
const UNAUTHORIZED: &str = include_str!("../fixtures/alpaca/error_401_unauthorized.json");
const BUYING_POWER: &str =
    include_str!("../fixtures/alpaca/error_403_insufficient_buying_power.json");
const DUPLICATE: &str = include_str!("../fixtures/alpaca/error_422_client_order_id_duplicate.json");
const STOCK_ACCEPTED: &str = include_str!("../fixtures/alpaca/order_market_buy_accepted.json");
const STOCK_FILLED: &str = include_str!("../fixtures/alpaca/order_filled.json");
const CRYPTO_FILLED: &str = include_str!("../fixtures/alpaca/order_crypto_market_buy_filled.json");
const POSITIONS: &str = include_str!("../fixtures/alpaca/positions.json");

/// The crypto taker fee the fake takes from what a fill delivers (Alpaca's lowest tier).
pub const CRYPTO_FEE_RATE: Decimal = Decimal::from_parts(25, 0, 0, false, 4);

/// The price stock orders fill at when the market opens (order_filled.json).
pub const STOCK_PRICE: &str = "231.87";
/// The price crypto orders fill at (order_crypto_market_buy_filled.json).
pub const CRYPTO_PRICE: &str = "98450.5";

/// What the fake does with one order post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Post {
    /// Places the order and answers 200 with it.
    Answer,
    /// Places it, then the connection breaks in the middle of the answer.
    DropAfterAccept,
    /// Places it, then answers 500.
    ErrorAfterAccept,
    /// Places it, then answers only after the client's timeout.
    TimeoutAfterAccept,
    /// 429 with `Retry-After: 1`, nothing placed.
    RateLimited,
    /// 403 insufficient buying power, nothing placed.
    InsufficientBuyingPower,
    /// 422 whose message quotes the keys it received (as some error pages do), nothing placed.
    RefuseEchoingKeys,
}

impl Post {
    fn places(self) -> bool {
        matches!(
            self,
            Self::Answer
                | Self::DropAfterAccept
                | Self::ErrorAfterAccept
                | Self::TimeoutAfterAccept
        )
    }
}

#[derive(Default)]
struct Book {
    market_open: bool,
    script: VecDeque<Post>,
    /// Every order placed, by client order id (Alpaca's Order object).
    orders: HashMap<String, Value>,
    /// Lookups each order stays invisible for after placement.
    invisible: HashMap<String, u32>,
    invisible_after_placement: u32,
    /// Every order post's body, in order.
    posts: Vec<Value>,
    /// Requests refused for missing or wrong keys.
    unauthorized: u32,
    /// Content types of the order posts.
    content_types: Vec<String>,
    next_id: u32,
    /// The account's cash and positions; seeded from the fixtures on first use.
    holdings: Option<Holdings>,
    /// `status` of the account (`ACTIVE` when `None`).
    status: Option<String>,
    /// `trading_blocked` and `account_blocked`.
    blocked: (bool, bool),
}

/// The fake account's cash and positions.
struct Holdings {
    cash: Decimal,
    /// By the symbol positions use (`AAPL`, `BTCUSD`): quantity and average entry price.
    positions: Vec<(String, Decimal, Decimal)>,
}

impl Book {
    /// The account's cash and positions, seeded from the fixtures the first time.
    fn holdings(&mut self) -> &mut Holdings {
        self.holdings.get_or_insert_with(|| {
            let account: Value = serde_json::from_str(ACCOUNT).expect("fixture");
            let positions: Vec<Value> = serde_json::from_str(POSITIONS).expect("fixture");
            Holdings {
                cash: decimal(&account["cash"]),
                positions: positions
                    .iter()
                    .map(|p| {
                        let symbol = p["symbol"].as_str().expect("fixture symbol").to_owned();
                        (symbol, decimal(&p["qty"]), decimal(&p["avg_entry_price"]))
                    })
                    .collect(),
            }
        })
    }

    /// Moves cash and the position by a filled order.
    fn settle(&mut self, order: &Value) {
        let symbol = order["symbol"]
            .as_str()
            .unwrap_or_default()
            .replace('/', "");
        let crypto = order["asset_class"] == "crypto";
        let qty = decimal(&order["filled_qty"]);
        let price = decimal(&order["filled_avg_price"]);
        let fee = if crypto {
            CRYPTO_FEE_RATE
        } else {
            Decimal::ZERO
        };
        let (units, cash) = if order["side"] == "sell" {
            (-qty, qty * price * (Decimal::ONE - fee))
        } else {
            (qty * (Decimal::ONE - fee), -qty * price)
        };
        let holdings = self.holdings();
        holdings.cash += cash;
        match holdings.positions.iter_mut().find(|(s, _, _)| *s == symbol) {
            Some((_, held, entry)) => {
                if units > Decimal::ZERO && *held + units > Decimal::ZERO {
                    *entry = (*entry * *held + price * units) / (*held + units);
                }
                *held += units;
            }
            None => holdings.positions.push((symbol, units, price)),
        }
        holdings.positions.retain(|(_, held, _)| !held.is_zero());
    }

    /// What open (accepted) orders hold back: buy cost in cash, sold units by position.
    fn reserved(&self) -> (Decimal, Vec<(String, Decimal)>) {
        let mut cash = Decimal::ZERO;
        let mut units = Vec::new();
        for order in self.orders.values().filter(|o| o["status"] == "accepted") {
            let qty = decimal(&order["qty"]);
            if order["side"] == "sell" {
                let symbol = order["symbol"]
                    .as_str()
                    .unwrap_or_default()
                    .replace('/', "");
                units.push((symbol, qty));
            } else if order["notional"].is_string() {
                cash += decimal(&order["notional"]);
            } else {
                cash += qty * STOCK_PRICE.parse::<Decimal>().unwrap_or_default();
            }
        }
        (cash, units)
    }
}

/// A decimal JSON string (zero when absent or unreadable).
fn decimal(value: &Value) -> Decimal {
    value
        .as_str()
        .and_then(|t| t.parse::<Decimal>().ok())
        .unwrap_or_default()
}

/// A running fake.
#[derive(Clone)]
pub struct AlpacaFake {
    /// Its base URL (`http://127.0.0.1:<port>`).
    pub url: String,
    book: Arc<Mutex<Book>>,
}

impl AlpacaFake {
    /// Starts a fake on a free local port, the stock market closed.
    pub async fn start() -> Self {
        let book = Arc::new(Mutex::new(Book::default()));
        let app = Router::new().fallback(handle).with_state(Arc::clone(&book));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake runs");
        });
        Self {
            url: format!("http://{addr}"),
            book,
        }
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the next order posts do, in order (then [`Post::Answer`]).
    pub fn script(&self, posts: &[Post]) {
        self.book().script = posts.iter().copied().collect();
    }

    /// New orders answer "not found" to this many lookups (visibility lag).
    pub fn invisible_for(&self, lookups: u32) {
        self.book().invisible_after_placement = lookups;
    }

    /// The regular session opens: queued stock orders fill at [`STOCK_PRICE`].
    pub fn open_market(&self) {
        let mut book = self.book();
        book.market_open = true;
        let mut filled = Vec::new();
        for order in book.orders.values_mut() {
            if order["status"] == "accepted" {
                fill(order, STOCK_PRICE);
                order["filled_at"] = json!("2026-12-07T14:30:01.218443Z");
                filled.push(order.clone());
            }
        }
        for order in &filled {
            book.settle(order);
        }
    }

    /// Sets the position in `symbol` (`AAPL`, `BTCUSD` or `BTC/USD`) to `qty` (a trade made
    /// elsewhere); zero closes it.
    pub fn set_position(&self, symbol: &str, qty: Decimal) {
        let symbol = symbol.replace('/', "");
        let mut book = self.book();
        let positions = &mut book.holdings().positions;
        match positions.iter_mut().find(|(s, _, _)| *s == symbol) {
            Some((_, held, _)) => *held = qty,
            None => {
                let price = if symbol.ends_with("USD") {
                    CRYPTO_PRICE
                } else {
                    STOCK_PRICE
                };
                positions.push((symbol, qty, price.parse().unwrap_or_default()));
            }
        }
        positions.retain(|(_, held, _)| !held.is_zero());
    }

    /// Sets the account's cash (a deposit or withdrawal).
    pub fn set_cash(&self, cash: Decimal) {
        self.book().holdings().cash = cash;
    }

    /// Sets the account's `status` (`ACTIVE`, `INACTIVE`, `ACCOUNT_CLOSED`, …).
    pub fn set_status(&self, status: &str) {
        self.book().status = Some(status.to_owned());
    }

    /// Sets `trading_blocked` and `account_blocked`.
    pub fn block(&self, trading_blocked: bool, account_blocked: bool) {
        self.book().blocked = (trading_blocked, account_blocked);
    }

    /// The account's cash now.
    pub fn cash(&self) -> Decimal {
        self.book().holdings().cash
    }

    /// The position in `symbol` (`AAPL`, `BTCUSD`) now; zero when there is none.
    pub fn position(&self, symbol: &str) -> Decimal {
        let symbol = symbol.replace('/', "");
        self.book()
            .holdings()
            .positions
            .iter()
            .find(|(s, _, _)| *s == symbol)
            .map_or(Decimal::ZERO, |(_, qty, _)| *qty)
    }

    /// How many orders the fake holds with this client order id (0 or 1: ids are unique).
    pub fn placements(&self, client_order_id: &str) -> usize {
        usize::from(self.book().orders.contains_key(client_order_id))
    }

    /// How many orders the fake holds in all.
    pub fn order_count(&self) -> usize {
        self.book().orders.len()
    }

    /// The fake's Order object for a client order id.
    pub fn order(&self, client_order_id: &str) -> Option<Value> {
        self.book().orders.get(client_order_id).cloned()
    }

    /// Every order post's body, in order.
    pub fn posts(&self) -> Vec<Value> {
        self.book().posts.clone()
    }

    /// The content types order posts were sent with.
    pub fn content_types(&self) -> Vec<String> {
        self.book().content_types.clone()
    }

    /// Requests refused for missing or wrong keys.
    pub fn unauthorized(&self) -> u32 {
        self.book().unauthorized
    }
}

/// Marks `order` filled at `price` for its whole quantity (or notional).
fn fill(order: &mut Value, price: &str) {
    let qty = match order["qty"].as_str() {
        Some(qty) => qty.to_owned(),
        None => {
            let decimal = |text: &str| text.parse::<Decimal>().unwrap_or_default();
            let notional = decimal(order["notional"].as_str().unwrap_or("0"));
            let units = notional.checked_div(decimal(price)).unwrap_or_default();
            units.round_dp(9).normalize().to_string()
        }
    };
    order["status"] = json!("filled");
    order["filled_qty"] = json!(qty);
    order["filled_avg_price"] = json!(price);
}

fn answer(status: StatusCode, body: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-ratelimit-limit", "200")
        .header("x-ratelimit-remaining", "199")
        .body(Body::from(body.to_owned()))
        .expect("valid response")
}

fn authorized(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("apca-api-key-id") == Some(KEY_ID) && header("apca-api-secret-key") == Some(SECRET_KEY)
}

async fn handle(State(book): State<Arc<Mutex<Book>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let lock = || book.lock().unwrap_or_else(PoisonError::into_inner);
    if !authorized(&parts.headers) {
        lock().unauthorized += 1;
        return answer(StatusCode::UNAUTHORIZED, UNAUTHORIZED);
    }
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    match (parts.method.as_str(), path) {
        ("GET", "/v2/account") => answer(StatusCode::OK, &account(&mut lock())),
        ("GET", "/v2/positions") => answer(StatusCode::OK, &positions(&mut lock())),
        ("GET", "/v2/assets/AAPL") => answer(StatusCode::OK, ASSET_AAPL),
        ("GET", "/v2/assets/BTCUSD" | "/v2/assets/BTC%2FUSD") => {
            answer(StatusCode::OK, ASSET_BTCUSD)
        }
        ("GET", "/v2/clock") => {
            let open = lock().market_open;
            answer(StatusCode::OK, if open { CLOCK_OPEN } else { CLOCK_CLOSED })
        }
        ("GET", "/v2/orders:by_client_order_id") => {
            let id = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("client_order_id="))
                .unwrap_or_default()
                .to_owned();
            let mut book = lock();
            if let Some(left) = book.invisible.get_mut(&id)
                && *left > 0
            {
                *left -= 1;
                return not_found();
            }
            match book.orders.get(&id) {
                Some(order) => answer(StatusCode::OK, &order.to_string()),
                None => not_found(),
            }
        }
        ("POST", "/v2/orders") => {
            let content_type = parts
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let Ok(request) = serde_json::from_slice::<Value>(&body) else {
                return answer(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    r#"{"code":40010000,"message":"request body format is invalid"}"#,
                );
            };
            let (mode, placed) = {
                let mut book = lock();
                book.posts.push(request.clone());
                book.content_types.push(content_type);
                let mode = book.script.pop_front().unwrap_or(Post::Answer);
                let id = request["client_order_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if mode == Post::RateLimited {
                    return Response::builder()
                        .status(StatusCode::TOO_MANY_REQUESTS)
                        .header("retry-after", "1")
                        .header("x-ratelimit-limit", "200")
                        .header("x-ratelimit-remaining", "0")
                        .body(Body::from("too many requests"))
                        .expect("valid response");
                }
                if mode == Post::InsufficientBuyingPower {
                    return answer(StatusCode::FORBIDDEN, BUYING_POWER);
                }
                if mode == Post::RefuseEchoingKeys {
                    let echo = json!({
                        "code": 40010001,
                        "message": format!("invalid order from {KEY_ID} signed {SECRET_KEY}"),
                    });
                    return answer(StatusCode::UNPROCESSABLE_ENTITY, &echo.to_string());
                }
                if book.orders.contains_key(&id) {
                    return answer(StatusCode::UNPROCESSABLE_ENTITY, DUPLICATE);
                }
                book.next_id += 1;
                let order = place(&request, book.next_id, book.market_open);
                if order["status"] == "filled" {
                    book.settle(&order);
                }
                book.orders.insert(id.clone(), order.clone());
                let invisible = book.invisible_after_placement;
                book.invisible.insert(id, invisible);
                (mode, order)
            };
            debug_assert!(mode.places());
            match mode {
                Post::DropAfterAccept => Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .body(Body::from_stream(futures_util::stream::iter([
                        Ok(axum::body::Bytes::from_static(b"{\"id\":")),
                        Err(std::io::Error::other("connection dropped by the fake")),
                    ])))
                    .expect("valid response"),
                Post::ErrorAfterAccept => answer(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    r#"{"message":"Internal Server Error"}"#,
                ),
                Post::TimeoutAfterAccept => {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    answer(StatusCode::OK, &placed.to_string())
                }
                _ => answer(StatusCode::OK, &placed.to_string()),
            }
        }
        _ => not_found(),
    }
}

/// The account fixture with the book's cash, status and blocks; buying power is the cash not
/// held back by open buy orders (a cash account).
fn account(book: &mut Book) -> String {
    let cash = book.holdings().cash;
    let (reserved, _) = book.reserved();
    let power = (cash - reserved).max(Decimal::ZERO);
    let mut view: Value = serde_json::from_str(ACCOUNT).expect("fixture");
    view["cash"] = json!(cash.normalize().to_string());
    for field in [
        "buying_power",
        "regt_buying_power",
        "non_marginable_buying_power",
        "options_buying_power",
    ] {
        view[field] = json!(power.normalize().to_string());
    }
    if let Some(status) = &book.status {
        view["status"] = json!(status);
    }
    view["trading_blocked"] = json!(book.blocked.0);
    view["account_blocked"] = json!(book.blocked.1);
    view.to_string()
}

/// `GET /v2/positions` in the fixture's shape; open sell orders hold back `qty_available`.
fn positions(book: &mut Book) -> String {
    let (_, reserved) = book.reserved();
    let template: Vec<Value> = serde_json::from_str(POSITIONS).expect("fixture");
    let rows: Vec<Value> = book
        .holdings()
        .positions
        .iter()
        .map(|(symbol, qty, entry)| {
            let crypto = symbol.ends_with("USD");
            let mut row = template[usize::from(crypto)].clone();
            let held: Decimal = reserved
                .iter()
                .filter(|(s, _)| s == symbol)
                .map(|(_, q)| *q)
                .sum();
            let available = (qty.abs() - held).max(Decimal::ZERO);
            row["symbol"] = json!(symbol);
            row["qty"] = json!(qty.normalize().to_string());
            row["qty_available"] = json!(
                if qty.is_sign_negative() {
                    -available
                } else {
                    available
                }
                .normalize()
                .to_string()
            );
            row["side"] = json!(if qty.is_sign_negative() {
                "short"
            } else {
                "long"
            });
            row["avg_entry_price"] = json!(entry.normalize().to_string());
            row["cost_basis"] = json!((qty * entry).normalize().to_string());
            row
        })
        .collect();
    Value::Array(rows).to_string()
}

fn not_found() -> Response {
    answer(
        StatusCode::NOT_FOUND,
        r#"{"code":40410000,"message":"resource not found"}"#,
    )
}

/// The Order object Alpaca answers for `request`: crypto fills at once; a stock order fills
/// while the market is open and is queued (`accepted`) while it is closed.
fn place(request: &Value, n: u32, market_open: bool) -> Value {
    let symbol = request["symbol"].as_str().unwrap_or_default();
    let crypto = symbol.contains('/');
    let template = if crypto {
        CRYPTO_FILLED
    } else {
        STOCK_ACCEPTED
    };
    let mut order: Value = serde_json::from_str(template).expect("fixture");
    order["id"] = json!(format!("00000000-0000-4000-8000-{n:012}"));
    for field in ["client_order_id", "symbol", "side", "time_in_force"] {
        order[field] = request[field].clone();
    }
    order["qty"] = request.get("qty").cloned().unwrap_or(Value::Null);
    order["notional"] = request.get("notional").cloned().unwrap_or(Value::Null);
    order["status"] = json!("accepted");
    order["filled_qty"] = json!("0");
    order["filled_avg_price"] = Value::Null;
    if crypto {
        fill(&mut order, CRYPTO_PRICE);
    } else if market_open {
        let filled: Value = serde_json::from_str(STOCK_FILLED).expect("fixture");
        order["filled_at"] = filled["filled_at"].clone();
        fill(&mut order, STOCK_PRICE);
    }
    order
}
