//! The dispatch path of a daily run of 200 orders against a Binance Spot venue that answers in
//! 50 ms: the in-process fake (`barter_fakes::binance`) with a set latency, the real
//! [`BinanceSpot`] adapter, and [`Dispatcher::send`] saving every order to a [`StoreOutbox`]
//! (SQLite file in a temp dir; PostgreSQL too when `BARTER_TEST_POSTGRES_URL` is set).
//!
//! ```sh
//! cargo bench -p barter-execution --bench orders
//! #   -- --orders 200 --concurrency 4 --repeat 2 --latency-ms 50 --orders-per-minute 570
//! ```
//!
//! Orders are paced by the production [`Pacer`], shared by every run and waited on just before
//! each order post; the adapter's own HTTP pacer is opened up so that the wait can be told apart
//! from the overhead. The default, 570 orders/min (95 per 10 s), keeps a 5 % margin under
//! Binance's 100 orders per 10 s: [`BinanceSettings`]' default 600 requests/min is exactly the
//! limit, and the fake then sees 101 orders in some 10 s window, because the requests leave a
//! millisecond or two after their slots, by varying amounts (`--orders-per-minute 600` shows
//! it). Each round sends the 200 orders one at a time (as the daily job does) and then with
//! `--concurrency` in flight, each into a fresh database.
//!
//! Per order it times the whole `send`, the pacer wait, the adapter's `submit` (signing, HTTP
//! over loopback, the fake's latency, parsing) and each outbox save; the overhead beyond the
//! venue is `send − pacer wait − latency`. Afterwards it checks exactly one order at the fake
//! and one filled order in the store per decision, and that the fake never saw more orders per
//! 10 s or per day, or more request weight per minute, than the limits in the fixture's
//! `exchangeInfo.rateLimits`. Any miss exits non-zero.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use barter_core::execution::Side;
use barter_core::order::{DecisionRef, Order, OrderAmount, OrderState, VenueReport};
use barter_core::{Candle, CandleOrigin, Day, Money, Ohlcv, Symbol};
use barter_execution::outbox::{Outbox, OutboxError};
use barter_execution::{
    BinanceCredentials, BinanceSettings, BinanceSpot, Dispatcher, LookupPolicy, MarketReference,
    StoreOutbox, Venue, VenueError,
};
use barter_fakes::binance::{FakeBinance, KEY, SECRET};
use barter_http::Pacer;
use barter_store::{OrderFilter, Store};
use futures_util::StreamExt;
use rust_decimal_macros::dec;
use serde_json::Value;

const EXCHANGE_INFO: &str = include_str!("../../fakes/fixtures/binance/exchangeInfo_BTCUSDT.json");
const ACCOUNT: &str = "main";

/// Command-line knobs.
struct Args {
    orders: usize,
    concurrency: usize,
    repeat: usize,
    latency: Duration,
    orders_per_minute: u32,
}

impl Args {
    fn parse() -> Self {
        let mut args = Self {
            orders: 200,
            concurrency: 4,
            repeat: 2,
            latency: Duration::from_millis(50),
            orders_per_minute: 570,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or_else(|| fail(&format!("{flag} needs a number")))
            };
            match flag.as_str() {
                "--orders" => args.orders = value() as usize,
                "--concurrency" => args.concurrency = (value() as usize).max(1),
                "--repeat" => args.repeat = (value() as usize).max(1),
                "--latency-ms" => args.latency = Duration::from_millis(value()),
                "--orders-per-minute" => {
                    args.orders_per_minute = u32::try_from(value().max(1)).unwrap_or(u32::MAX);
                }
                "--bench" => {}
                other => fail(&format!(
                    "unknown argument {other}; use --orders, --concurrency, --repeat, \
                     --latency-ms, --orders-per-minute"
                )),
            }
        }
        args
    }
}

fn fail(message: &str) -> ! {
    eprintln!("FAILED: {message}");
    std::process::exit(1)
}

/// Binance's documented limits, from the fixture's `exchangeInfo.rateLimits`.
struct Limits {
    weight_per_minute: u64,
    orders_per_10s: u64,
    orders_per_day: u64,
}

impl Limits {
    fn from_fixture() -> Self {
        let info: Value = serde_json::from_str(EXCHANGE_INFO).expect("exchangeInfo fixture");
        let find = |kind: &str, interval: &str, num: u64| {
            info["rateLimits"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| {
                    l["rateLimitType"] == kind
                        && l["interval"] == interval
                        && l["intervalNum"].as_u64() == Some(num)
                })
                .and_then(|l| l["limit"].as_u64())
                .unwrap_or_else(|| fail(&format!("no {kind} {num} {interval} limit in fixture")))
        };
        Self {
            weight_per_minute: find("REQUEST_WEIGHT", "MINUTE", 1),
            orders_per_10s: find("ORDERS", "SECOND", 10),
            orders_per_day: find("ORDERS", "DAY", 1),
        }
    }
}

/// The largest total of `weight` over arrivals closer than `window` (arrivals sorted).
fn max_in_window(events: &[(Instant, u64)], window: Duration) -> u64 {
    let mut best = 0;
    let mut sum = 0;
    let mut first = 0;
    for (at, weight) in events {
        sum += weight;
        while at.duration_since(events[first].0) >= window {
            sum -= events[first].1;
            first += 1;
        }
        best = best.max(sum);
    }
    best
}

/// The outbox of the run, timing every save.
struct TimedOutbox {
    inner: StoreOutbox,
    saves: Mutex<Vec<Duration>>,
}

#[async_trait]
impl Outbox for TimedOutbox {
    async fn save(&self, order: &Order) -> Result<(), OutboxError> {
        let start = Instant::now();
        let saved = self.inner.save(order).await;
        let took = start.elapsed();
        self.saves
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(took);
        saved
    }

    async fn unresolved(&self, account: &str) -> Result<Vec<Order>, OutboxError> {
        self.inner.unresolved(account).await
    }
}

/// One order's timings inside the venue.
#[derive(Default, Clone, Copy)]
struct VenueTimes {
    pacer_wait: Duration,
    submit: Duration,
}

/// The Binance adapter behind the production pacer, timing the wait and the submit apart.
struct PacedVenue {
    inner: BinanceSpot,
    pacer: Arc<Pacer>,
    times: Mutex<HashMap<String, VenueTimes>>,
}

#[async_trait]
impl Venue for PacedVenue {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn is_live(&self) -> bool {
        self.inner.is_live()
    }

    fn lookup_policy(&self) -> LookupPolicy {
        self.inner.lookup_policy()
    }

    async fn submit(
        &self,
        order: &Order,
        market: &MarketReference,
    ) -> Result<VenueReport, VenueError> {
        let start = Instant::now();
        if self.pacer.wait_turn(Duration::from_secs(60)).await.is_err() {
            fail("the pacer was held (a 429?)");
        }
        let paced = Instant::now();
        let answer = self.inner.submit(order, market).await;
        let times = VenueTimes {
            pacer_wait: paced - start,
            submit: paced.elapsed(),
        };
        self.times
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(order.client_order_id().to_string(), times);
        answer
    }

    async fn lookup(&self, order: &Order) -> Result<Option<VenueReport>, VenueError> {
        if self.pacer.wait_turn(Duration::from_secs(60)).await.is_err() {
            fail("the pacer was held (a 429?)");
        }
        self.inner.lookup(order).await
    }
}

fn btc() -> Symbol {
    Symbol::parse("BTC").expect("symbol")
}

fn market(day: Day) -> MarketReference {
    let candle = Candle::new(
        btc(),
        day,
        Ohlcv {
            open: dec!(49000),
            high: dec!(50000),
            low: dec!(49000),
            close: dec!(50000),
            volume: dec!(1),
        },
        true,
        CandleOrigin::Sample,
        "2030-01-01".parse().expect("day"),
    )
    .expect("candle");
    MarketReference {
        decision: candle,
        next: None,
        quote_asset: "USDT".into(),
    }
}

/// Where a run's orders are stored.
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "SQLite (file, WAL)",
            Self::Postgres(_) => "PostgreSQL (TCP)",
        }
    }

    async fn open(&self, tag: &str) -> Store {
        let opened = match self {
            Self::Sqlite(dir) => {
                let path = dir.path().join(format!("{tag}.db"));
                Store::connect(&format!("sqlite://{}", path.display())).await
            }
            Self::Postgres(url) => {
                let schema = format!("barter_bench_orders_{}_{tag}", std::process::id());
                Store::connect_postgres_in_schema(url, &schema).await
            }
        };
        opened.unwrap_or_else(|e| fail(&format!("{}: {e}", self.name())))
    }

    async fn close(&self, store: Store) {
        if let Self::Postgres(_) = self {
            store.drop_schema().await.expect("drop the bench schema");
        }
    }
}

/// What one run measured.
struct RunResult {
    wall: Duration,
    /// Per order: send − pacer wait − latency.
    overhead: Vec<Duration>,
    /// Per order: submit − latency (signing, HTTP over loopback, parsing).
    http: Vec<Duration>,
    /// Per save.
    saves: Vec<Duration>,
    pacer_wait: Vec<Duration>,
}

async fn run(
    fake: &FakeBinance,
    venue: &PacedVenue,
    backend: &Backend,
    args: &Args,
    day: Day,
    concurrency: usize,
) -> RunResult {
    let tag = format!("{}_{concurrency}", day.to_string().replace('-', ""));
    let store = backend.open(&tag).await;
    let outbox = TimedOutbox {
        inner: StoreOutbox::new(store.clone()),
        saves: Mutex::default(),
    };
    // 200 decisions (one per strategy, BTC, this day), planned before the clock starts: the
    // job plans while it decides.
    let mut planned = Vec::with_capacity(args.orders);
    for i in 0..args.orders {
        let order = Order::planned(
            ACCOUNT,
            DecisionRef {
                strategy: format!("bench-{i:04}"),
                symbol: btc(),
                day,
                side: Side::Buy,
            },
            OrderAmount::Quote(Money(dec!(500))),
        )
        .expect("order");
        let stored = outbox.inner.plan(&order).await.expect("plan");
        assert_eq!(stored.state(), OrderState::Planned, "a fresh database");
        planned.push(stored);
    }
    let posts_before = fake.order_post_times().len();
    venue
        .times
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    let market = market(day);

    let start = Instant::now();
    // What a daily run does once before its orders: clock offset and the symbol's rules.
    venue.inner.sync_time().await.expect("time");
    venue.inner.symbol_rules(&btc()).await.expect("rules");
    let dispatcher = Dispatcher::new(venue, &outbox);
    let sent: Vec<_> = futures_util::stream::iter(planned)
        .map(|order| {
            let dispatcher = &dispatcher;
            let market = &market;
            async move {
                let began = Instant::now();
                let id = order.client_order_id().to_string();
                let sent = dispatcher.send(order, market).await;
                (id, sent, began.elapsed())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let wall = start.elapsed();

    // Exactly one filled order per decision, at the fake and in the store.
    let times = venue
        .times
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut overhead = Vec::with_capacity(sent.len());
    let mut http = Vec::with_capacity(sent.len());
    let mut pacer_wait = Vec::with_capacity(sent.len());
    for (id, result, took) in &sent {
        match result {
            Ok(s) if s.failure.is_none() && s.order.state() == OrderState::Filled => {}
            Ok(s) => fail(&format!("{id}: {:?} {:?}", s.order.state(), s.failure)),
            Err(e) => fail(&format!("{id}: {e}")),
        }
        let placed = fake.placements(id).len();
        if placed != 1 {
            fail(&format!("{id}: {placed} orders at the fake"));
        }
        let t = times
            .get(id)
            .copied()
            .unwrap_or_else(|| fail(&format!("{id}: never submitted")));
        overhead.push(took.saturating_sub(t.pacer_wait + args.latency));
        http.push(t.submit.saturating_sub(args.latency));
        pacer_wait.push(t.pacer_wait);
    }
    let posts = fake.order_post_times().len() - posts_before;
    if sent.len() != args.orders || posts != args.orders {
        fail(&format!(
            "{} sends and {posts} order posts for {} decisions",
            sent.len(),
            args.orders
        ));
    }
    let stored = store
        .orders(&OrderFilter {
            account: Some(ACCOUNT.to_owned()),
            open_only: false,
            limit: u32::try_from(args.orders * 2).unwrap_or(u32::MAX),
        })
        .await
        .expect("stored orders");
    let filled = stored
        .iter()
        .filter(|o| o.state() == OrderState::Filled && o.fills_complete())
        .count();
    if stored.len() != args.orders || filled != args.orders {
        fail(&format!(
            "{} stored orders, {filled} filled, for {} decisions",
            stored.len(),
            args.orders
        ));
    }
    let saves = outbox
        .saves
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    backend.close(store).await;
    RunResult {
        wall,
        overhead,
        http,
        saves,
        pacer_wait,
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    match values.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let limits = Limits::from_fixture();
    let fake = FakeBinance::start().await;
    fake.set_latency(args.latency);

    let default_rate = BinanceSettings::at(&fake.url).http.requests_per_minute;
    let pacer = Arc::new(Pacer::new(args.orders_per_minute).expect("pacer"));
    let mut settings = BinanceSettings::at(&fake.url).with_symbol(btc(), "BTCUSDT");
    // The pacing is done around `submit` with the same pacer type and rate (see the module).
    settings.http.requests_per_minute = 6_000_000;
    let venue = PacedVenue {
        inner: BinanceSpot::new(settings, BinanceCredentials::new(KEY, SECRET), None)
            .expect("venue"),
        pacer: Arc::clone(&pacer),
        times: Mutex::default(),
    };

    let mut backends = vec![Backend::Sqlite(tempfile::tempdir().expect("temp dir"))];
    match std::env::var("BARTER_TEST_POSTGRES_URL") {
        Ok(url) => backends.push(Backend::Postgres(url)),
        Err(_) => eprintln!("PostgreSQL skipped: BARTER_TEST_POSTGRES_URL is not set"),
    }
    let modes = if args.concurrency > 1 {
        vec![1, args.concurrency]
    } else {
        vec![1]
    };
    println!(
        "{} orders per run, venue latency {}, pacer {} orders/min ({} between order posts; the \
         adapter's default is {default_rate} requests/min), {} round(s) per mode; limits: {} \
         orders/10 s, {} orders/day, {} weight/min",
        args.orders,
        ms(args.latency),
        args.orders_per_minute,
        ms(pacer.min_interval()),
        args.repeat,
        limits.orders_per_10s,
        limits.orders_per_day,
        limits.weight_per_minute,
    );

    // How late a tokio sleep of the venue's latency wakes (the fake sleeps the same way): part
    // of every "sign + HTTP + parse" figure below.
    let mut overshoot = Vec::new();
    for _ in 0..20 {
        let before = Instant::now();
        tokio::time::sleep(args.latency).await;
        overshoot.push(before.elapsed().saturating_sub(args.latency));
    }
    println!(
        "tokio timer overshoot of a {} sleep (median of 20): {}",
        ms(args.latency),
        ms(median(overshoot))
    );

    let base_day: Day = "2026-12-07".parse().expect("day");
    let mut runs = 0;
    let bench_start = Instant::now();
    for backend in &backends {
        let mut results: Vec<Vec<RunResult>> = modes.iter().map(|_| Vec::new()).collect();
        for _round in 0..args.repeat {
            for (m, &concurrency) in modes.iter().enumerate() {
                // A new day per run: every client order id at the fake is new.
                let day = base_day
                    .checked_sub_days(chrono::Days::new(runs))
                    .unwrap_or_else(|| fail("day underflow"));
                runs += 1;
                let result = run(&fake, &venue, backend, &args, day, concurrency).await;
                println!(
                    "  {} concurrency {concurrency}: {:.3} s",
                    backend.name(),
                    result.wall.as_secs_f64()
                );
                results[m].push(result);
            }
        }
        println!("\n{}", backend.name());
        println!(
            "| in flight | wall (median of {}) | latency floor n×L/c | rate floor (n−1)×interval | \
             wall − max(floors) | overhead per order (median) | 2 outbox saves | \
             sign + HTTP + parse (+ timer overshoot) | pacer wait |",
            args.repeat
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for (m, &concurrency) in modes.iter().enumerate() {
            let rs = &results[m];
            let wall = median(rs.iter().map(|r| r.wall).collect());
            let n = u32::try_from(args.orders).unwrap_or(u32::MAX);
            let latency_floor = args.latency * n / u32::try_from(concurrency).unwrap_or(1);
            let rate_floor = pacer.min_interval() * n.saturating_sub(1);
            let floor = latency_floor.max(rate_floor);
            let beyond = wall.saturating_sub(floor);
            let all = |f: fn(&RunResult) -> &Vec<Duration>| {
                rs.iter()
                    .flat_map(|r| f(r).iter().copied())
                    .collect::<Vec<_>>()
            };
            println!(
                "| {concurrency} | {:.2} s | {:.2} s | {:.2} s | {:.3} s | {} | {} | {} | {} |",
                wall.as_secs_f64(),
                latency_floor.as_secs_f64(),
                rate_floor.as_secs_f64(),
                beyond.as_secs_f64(),
                ms(median(all(|r| &r.overhead))),
                ms(median(all(|r| &r.saves)) * 2),
                ms(median(all(|r| &r.http))),
                ms(median(all(|r| &r.pacer_wait))),
            );
        }
        println!();
    }

    // The documented limits, over every request the fake saw during the whole bench.
    let orders: Vec<(Instant, u64)> = fake
        .order_post_times()
        .into_iter()
        .map(|t| (t, 1))
        .collect();
    let weights: Vec<(Instant, u64)> = fake
        .request_weights()
        .into_iter()
        .map(|(t, w)| (t, u64::from(w)))
        .collect();
    let per_10s = max_in_window(&orders, Duration::from_secs(10));
    let per_day = max_in_window(&orders, Duration::from_secs(86_400));
    let per_minute = max_in_window(&weights, Duration::from_secs(60));
    println!(
        "limits over the whole bench ({} order posts, {:.0} s): max {per_10s} orders in any 10 s \
         (limit {}), {per_day} in a day (limit {}), max request weight {per_minute} in any minute \
         (limit {})",
        orders.len(),
        bench_start.elapsed().as_secs_f64(),
        limits.orders_per_10s,
        limits.orders_per_day,
        limits.weight_per_minute,
    );
    if per_10s > limits.orders_per_10s
        || per_day > limits.orders_per_day
        || per_minute > limits.weight_per_minute
    {
        fail("a documented rate limit was exceeded");
    }
    println!("OK: every decision has exactly one order at the fake and one filled order stored");
}
