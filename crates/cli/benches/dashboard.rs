//! The dashboard's server time: how long `barter serve` takes to render the overview (`GET /`)
//! and the first page of the history (`GET /history`) with 10,000 history events and 1,000
//! positions in a SQLite database.
//!
//! Run: `cargo bench -p barter-cli --bench dashboard` (optional `-- --requests 50 --warmup 10`).
//! The data set is written first through the real store code and is not timed: 20 instruments
//! with two years of daily candles up to yesterday, 5 strategies, 1,000 positions (100 open,
//! 900 closed, each with its decisions and fills) and failed entry decisions up to exactly
//! 10,000 history events. The server is the real `barter` binary in its own process; requests
//! are sent one at a time from a signed-in session and timed end to end on loopback (the
//! target is under 100 ms each). Nothing is asserted about the times.

use std::time::{Duration, Instant};

use barter_core::{
    Calendar, Candle, CandleOrigin, Day, ExitReason, Fill, Instrument, Money, Ohlcv, Price,
    PriceBasis, Quantity, Side, SourceKind, Symbol,
};
use barter_store::{
    CloseOutcome, DecisionKind, DecisionOutcome, NewDecision, OpenOutcome, PositionStatus, Store,
};
use chrono::{DateTime, Days, Utc};
use rust_decimal::Decimal;
use serde_json::json;

mod support;

use support::{Served, arg};

const TOKEN: &str = "bench-dashboard-token-0123456789abcdef";
const INSTRUMENTS: usize = 20;
const STRATEGIES: usize = 5;
/// Positions per (strategy, instrument): all but the last are closed.
const POSITIONS_PER_PAIR: usize = 10;
const HISTORY_EVENTS: usize = 10_000;
const DAYS: u64 = 2 * 365;
/// Days between two entries of one (strategy, instrument), and how long a closed one is held.
const SPACING: u64 = 60;
const HELD: u64 = 25;

/// The server's configuration: the strategies that "took" the seeded positions.
fn config() -> String {
    let mut text = String::from("[account]\ninitial_cash = 10000000\n");
    for s in 0..STRATEGIES {
        text.push_str(&format!(
            "\n[[strategies]]\nname = \"s{s}\"\ninstruments = \"all\"\nentry = \"close > sma(close, {})\"\nexit = \"close < sma(close, {})\"\nsize = \"1000\"\n",
            10 + s * 5,
            10 + s * 5,
        ));
    }
    text
}

/// Day `index` of the data set (0 = the first of the two years, DAYS − 1 = yesterday).
fn day(index: u64) -> Day {
    Utc::now().date_naive() - Days::new(DAYS - index)
}

/// When the daily job "ran" for decision day `index`: 00:10 UTC the next day.
fn moment(index: u64) -> DateTime<Utc> {
    (day(index) + Days::new(1))
        .and_hms_opt(0, 10, 0)
        .expect("a valid time")
        .and_utc()
}

/// Two years of complete daily candles up to yesterday, a deterministic random walk.
fn history(symbol: &Symbol, seed: u64) -> Vec<Candle> {
    let today = Utc::now().date_naive();
    let mut price = Decimal::new(5_000 + (seed as i64 % 37) * 413, 2);
    (0..DAYS)
        .map(|index| {
            let step = Decimal::new(((index * 13 + seed * 7) % 61) as i64 - 30, 4);
            let open = price;
            let close = (open * (Decimal::ONE + step)).round_dp(4);
            price = close;
            let values = Ohlcv {
                open,
                high: open.max(close) * Decimal::new(1005, 3),
                low: open.min(close) * Decimal::new(995, 3),
                close,
                volume: Decimal::new(2_000_000 + index as i64 * 17, 2),
            };
            Candle::new(
                symbol.clone(),
                day(index),
                values,
                true,
                CandleOrigin::CsvFile,
                today,
            )
            .expect("a valid candle")
        })
        .collect()
}

fn decision(
    strategy: &str,
    symbol: &Symbol,
    index: u64,
    kind: DecisionKind,
    outcome: DecisionOutcome,
    close: Decimal,
) -> NewDecision {
    let explanation = match (kind, outcome) {
        (DecisionKind::Entry, DecisionOutcome::Passed) => "entry rule passed",
        (DecisionKind::Exit, DecisionOutcome::Passed) => "exit rule passed",
        _ => "entry rule did not pass",
    };
    NewDecision {
        strategy: strategy.to_owned(),
        symbol: symbol.clone(),
        day: day(index),
        kind,
        outcome,
        detail: json!({
            "explanation": explanation,
            "values": { "close": close.to_string(), "sma(close, 20)": (close * Decimal::new(99, 2)).to_string() },
        }),
    }
}

/// A fill of `quantity` at `price` on day `index`, with a 0.1 % fee.
fn fill(side: Side, symbol: &Symbol, index: u64, quantity: Decimal, price: Decimal) -> Fill {
    let gross = (quantity * price).round_dp(8);
    Fill {
        symbol: symbol.clone(),
        side,
        day: day(index),
        price: Price(price),
        basis: PriceBasis::NextOpen,
        quantity: Quantity(quantity),
        gross: Money(gross),
        fee: Money((gross * Decimal::new(1, 3)).round_dp(8)),
    }
}

/// Seeds the database at `url`; returns (positions, open positions, history events).
async fn seed(url: &str) -> (usize, usize, usize) {
    let store = Store::connect(url).await.expect("store");
    store
        .ensure_account(Money(Decimal::from(10_000_000)))
        .await
        .expect("account");
    let mut symbols = Vec::new();
    let mut candles = Vec::new();
    for i in 0..INSTRUMENTS {
        let symbol = Symbol::parse(&format!("D{i:02}")).expect("symbol");
        let instrument = Instrument::new(
            symbol.clone(),
            format!("Dashboard {i}"),
            "USD",
            SourceKind::Csv,
            format!("/nonexistent/{symbol}.csv"),
            Calendar::Continuous,
        )
        .expect("instrument");
        store.add_instrument(&instrument).await.expect("add");
        let series = history(&symbol, i as u64);
        store
            .write_candles(&symbol, &series)
            .await
            .expect("candles");
        symbols.push(symbol);
        candles.push(series);
    }
    let close = |i: usize, index: u64| candles[i][index as usize].values().close;
    let open_of = |i: usize, index: u64| candles[i][index as usize].values().open;

    // Trades: each (strategy, instrument) enters every SPACING days; all but its last close.
    let mut entry_days = Vec::new();
    for s in 0..STRATEGIES {
        let strategy = format!("s{s}");
        for (i, symbol) in symbols.iter().enumerate() {
            let mut days = Vec::new();
            for k in 0..POSITIONS_PER_PAIR as u64 {
                let entered = 30 + (s as u64 * 3 + i as u64) % 20 + k * SPACING;
                days.push(entered);
                let passed = DecisionOutcome::Passed;
                let d = decision(
                    &strategy,
                    symbol,
                    entered,
                    DecisionKind::Entry,
                    passed,
                    close(i, entered),
                );
                let price = open_of(i, entered + 1);
                let quantity = (Decimal::from(1000) / price).round_dp(8);
                let buy = fill(Side::Buy, symbol, entered + 1, quantity, price);
                let outcome = store
                    .open_position(None, &d, &buy, moment(entered))
                    .await
                    .expect("open");
                let OpenOutcome::Opened(position) = outcome else {
                    panic!("the seed's entry was not opened: {outcome:?}");
                };
                if k + 1 == POSITIONS_PER_PAIR as u64 {
                    continue;
                }
                let exited = entered + HELD;
                let d = decision(
                    &strategy,
                    symbol,
                    exited,
                    DecisionKind::Exit,
                    passed,
                    close(i, exited),
                );
                let sell = fill(
                    Side::Sell,
                    symbol,
                    exited + 1,
                    quantity,
                    open_of(i, exited + 1),
                );
                let outcome = store
                    .close_position(
                        None,
                        &d,
                        position,
                        &sell,
                        ExitReason::Signal,
                        moment(exited),
                    )
                    .await
                    .expect("close");
                assert!(
                    matches!(outcome, CloseOutcome::Closed { .. }),
                    "the seed's exit did not close: {outcome:?}"
                );
            }
            entry_days.push((strategy.clone(), i, days));
        }
    }

    // Failed entry decisions, one history event each, up to exactly HISTORY_EVENTS.
    let events = store.history(u32::MAX).await.expect("history").len();
    let mut missing = HISTORY_EVENTS.checked_sub(events).expect("too many events");
    let mut failed = Vec::new();
    'fill: for index in 25..DAYS - 2 {
        for (strategy, i, days) in &entry_days {
            if missing == 0 {
                break 'fill;
            }
            if days.contains(&index) {
                continue;
            }
            let outcome = DecisionOutcome::Failed;
            let d = decision(
                strategy,
                &symbols[*i],
                index,
                DecisionKind::Entry,
                outcome,
                close(*i, index),
            );
            failed.push((index, d));
            missing -= 1;
        }
    }
    for chunk in failed.chunk_by(|a, b| a.0 == b.0) {
        let decisions: Vec<NewDecision> = chunk.iter().map(|(_, d)| d.clone()).collect();
        let stored = store
            .record_decisions(None, &decisions, moment(chunk[0].0))
            .await
            .expect("decisions");
        assert!(
            stored.iter().all(|s| *s),
            "a padding decision was a duplicate"
        );
    }
    let positions = store.positions(None).await.expect("positions").len();
    let open = store
        .positions(Some(PositionStatus::Open))
        .await
        .expect("open positions")
        .len();
    let events = store.history(u32::MAX).await.expect("history").len();
    store.close().await;
    (positions, open, events)
}

/// The `barter_session=…` pair from a sign-in answer.
fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';')
                .next()
                .filter(|p| p.starts_with("barter_session="))
        })
        .expect("the sign-in answer sets the session cookie")
        .to_owned()
}

/// (median, p90, max) of `times` in ms.
fn summary(times: &mut [Duration]) -> (f64, f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| ms(times[((times.len() - 1) as f64 * q).round() as usize]);
    (at(0.5), at(0.9), ms(times[times.len() - 1]))
}

fn main() {
    let requests = arg("--requests", 50).max(1);
    let warmup = arg("--warmup", 10);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("dashboard.db");
    let url = format!("sqlite://{}", db.display());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let seeding = Instant::now();
    let (positions, open, events) = runtime.block_on(seed(&url));
    println!(
        "data set: {INSTRUMENTS} instruments × {DAYS} days of candles, {positions} positions \
         ({open} open, {} closed), {events} history events (seeded in {:.1} s)",
        positions - open,
        seeding.elapsed().as_secs_f64()
    );
    assert_eq!(positions, 1_000, "positions seeded");
    assert_eq!(events, HISTORY_EVENTS, "history events seeded");
    std::fs::write(dir.path().join("barter.toml"), config()).expect("config");

    let served = Served::start(dir.path(), &url, TOKEN);
    let base = served.base.clone();

    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let signed_in = client
            .post(format!("{base}/login"))
            .form(&[("token", TOKEN), ("next", "/")])
            .send()
            .await
            .expect("sign in");
        assert!(
            signed_in.status().is_redirection(),
            "sign-in answered {}",
            signed_in.status()
        );
        let cookie = session_cookie(&signed_in);
        for (name, path) in [("overview", "/"), ("history, first page", "/history")] {
            let mut bytes = 0;
            let mut times = Vec::with_capacity(requests);
            for n in 0..warmup + requests {
                let started = Instant::now();
                let response = client
                    .get(format!("{base}{path}"))
                    .header("cookie", &cookie)
                    .send()
                    .await
                    .expect("request");
                let status = response.status();
                let body = response.bytes().await.expect("body");
                let elapsed = started.elapsed();
                assert!(status.is_success(), "GET {path} answered {status}");
                bytes = body.len();
                if n >= warmup {
                    times.push(elapsed);
                }
            }
            let (median, p90, max) = summary(&mut times);
            println!(
                "GET {path:<9} {name:<20} {requests} requests after {warmup} warm-up, {} KB of HTML: \
                 median {median:.1} ms, p90 {p90:.1} ms, max {max:.1} ms",
                bytes / 1024
            );
        }
    });
    drop(served);
}
