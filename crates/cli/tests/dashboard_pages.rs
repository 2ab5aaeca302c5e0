//! The dashboard's positions, position explanation, history and strategies pages over real
//! HTTP: a real server on a seeded SQLite file, signed in with the token as a browser would.
//! Positions are opened through the store's ledger calls and through the real trade job;
//! expected figures are computed here from the numbers seeded.

use std::collections::HashSet;

use barter_core::strategy::{InstrumentSelection, NumberText, StrategyConfig};
use barter_core::{
    Calendar, Candle, CandleOrigin, Day, ExitReason, Fill, Instrument, Money, Ohlcv, PositionId,
    Price, PriceBasis, Quantity, Side, SourceKind, Symbol,
};
use barter_service::config::Config;
use barter_service::trading::{Trading, sync_new_trades};
use barter_store::Store;
use barter_store::trading::{
    CloseOutcome, DecisionKind, DecisionOutcome, HistoryFilter, NewDecision, OpenOutcome,
};
use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal_macros::dec;
use serde_json::json;

mod support;

use support::{Browser, Options, Server};

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).expect("symbol")
}

fn day(s: &str) -> Day {
    s.parse::<NaiveDate>().expect("day")
}

fn at(d: Day) -> DateTime<Utc> {
    d.and_hms_opt(0, 10, 0).expect("time").and_utc()
}

fn strategy(name: &str, entry: &str, exit: Option<&str>) -> StrategyConfig {
    StrategyConfig {
        name: name.into(),
        instruments: InstrumentSelection::default(),
        entry: entry.into(),
        exit: exit.map(Into::into),
        stop_loss: Some(NumberText::Text("10%".into())),
        take_profit: None,
        trailing_stop: None,
        max_holding_days: Some(30),
        size: Some(NumberText::Text("1000".into())),
        max_open_positions: None,
        enabled: true,
        params: Default::default(),
        account: None,
    }
}

fn config(strategies: Vec<StrategyConfig>) -> Config {
    Config {
        strategies,
        ..Config::default()
    }
}

async fn add_instrument(store: &Store, symbol: &str, currency: &str) {
    let instrument = Instrument::new(
        sym(symbol),
        symbol,
        currency,
        SourceKind::Csv,
        format!("/nonexistent/{symbol}.csv"),
        Calendar::Continuous,
    )
    .expect("instrument");
    store.add_instrument(&instrument).await.expect("add");
}

/// Complete daily candles of `symbol` closing at `closes`, the last one on `last`.
async fn write_closes(store: &Store, symbol: &str, last: Day, closes: &[Decimal]) {
    let today = Utc::now().date_naive();
    let count = closes.len() as u64;
    let candles: Vec<Candle> = closes
        .iter()
        .enumerate()
        .map(|(i, close)| {
            let d = last - Days::new(count - 1 - i as u64);
            let values = Ohlcv {
                open: *close,
                high: close + Decimal::ONE,
                low: close - Decimal::ONE,
                close: *close,
                volume: dec!(1000),
            };
            Candle::new(sym(symbol), d, values, true, CandleOrigin::CsvFile, today).expect("candle")
        })
        .collect();
    store
        .write_candles(&sym(symbol), &candles)
        .await
        .expect("write candles");
}

/// The page text with askama's escapes undone.
fn unescape(html: &str) -> String {
    html.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

/// The numbers in `attribute="N"` of every `<tr>`, in page order.
fn row_ids(html: &str, attribute: &str) -> Vec<i64> {
    let marker = format!("<tr {attribute}=\"");
    html.split(&marker)
        .skip(1)
        .map(|rest| {
            rest.split('"')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a numeric id")
        })
        .collect()
}

/// The `<tr>` of position `id`.
fn position_row(html: &str, id: i64) -> String {
    let marker = format!("<tr data-position-id=\"{id}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("row {id} in:\n{html}"));
    let rest = &html[start..];
    rest[..rest.find("</tr>").expect("row end")].to_owned()
}

/// The text of the first element in `html` opening with `opening` (up to the next `<`).
fn text_after(html: &str, opening: &str) -> String {
    let start = html
        .find(opening)
        .unwrap_or_else(|| panic!("`{opening}` in:\n{html}"))
        + opening.len();
    html[start..]
        .split('<')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A profit or loss as the dashboard writes it (the amounts here stay below 1,000).
fn signed(value: Decimal, currency: &str) -> String {
    let sign = if value > Decimal::ZERO { "+" } else { "" };
    format!("{sign}{:.2} {currency}", value.round_dp(2))
}

/// An amount to 2 places with thousands separators: `1,000.00`.
fn grouped(value: Decimal) -> String {
    let text = format!("{:.2}", value.round_dp(2));
    let (whole, fraction) = text.split_once('.').expect("two places");
    let mut out = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    format!("{out}.{fraction}")
}

/// One seeded position: what was bought and, when closed, sold.
struct Seed {
    strategy: &'static str,
    symbol: &'static str,
    quantity: Decimal,
    entry: Decimal,
    entry_fee: Decimal,
    opened: &'static str,
    exit: Option<(Decimal, Decimal, &'static str, ExitReason)>,
}

impl Seed {
    /// Realized P&L when closed, else unrealized at `mark`.
    fn pnl(&self, mark: Decimal) -> Decimal {
        let sold_at = self.exit.map_or(mark, |(price, ..)| price);
        let exit_fee = self.exit.map_or(Decimal::ZERO, |(_, fee, ..)| fee);
        self.quantity * sold_at - self.quantity * self.entry - self.entry_fee - exit_fee
    }
}

fn fill(symbol: &str, side: Side, d: Day, price: Decimal, quantity: Decimal, fee: Decimal) -> Fill {
    Fill {
        symbol: sym(symbol),
        side,
        day: d,
        price: Price(price),
        basis: PriceBasis::NextOpen,
        quantity: Quantity(quantity),
        gross: Money(price * quantity),
        fee: Money(fee),
    }
}

/// Opens (and closes) `seed` through the store's ledger, as the trade jobs do.
async fn open_and_close(store: &Store, seed: &Seed) -> i64 {
    let opened = day(seed.opened);
    let entry = NewDecision {
        strategy: seed.strategy.into(),
        symbol: sym(seed.symbol),
        day: opened - Days::new(1),
        kind: DecisionKind::Entry,
        outcome: DecisionOutcome::Passed,
        detail: json!({
            "explanation": "entry rule passed",
            "values": {"close": 101.25, "sma(close, 3)": 100.5},
        }),
    };
    let buy = fill(
        seed.symbol,
        Side::Buy,
        opened,
        seed.entry,
        seed.quantity,
        seed.entry_fee,
    );
    let id = match store
        .open_position(None, &entry, &buy, at(opened))
        .await
        .expect("open")
    {
        OpenOutcome::Opened(id) => id,
        other => panic!("not opened: {other:?}"),
    };
    if let Some((price, fee, closed, reason)) = seed.exit {
        let closed = day(closed);
        let exit = NewDecision {
            strategy: seed.strategy.into(),
            symbol: sym(seed.symbol),
            day: closed - Days::new(1),
            kind: DecisionKind::Exit,
            outcome: DecisionOutcome::Passed,
            detail: json!({
                "explanation": "exit rule passed",
                "values": {"days_held": 2.0},
                "position": id.0,
                "reason": reason,
            }),
        };
        let sell = fill(seed.symbol, Side::Sell, closed, price, seed.quantity, fee);
        let outcome = store
            .close_position(None, &exit, id, &sell, reason, at(closed))
            .await
            .expect("close");
        assert!(
            matches!(outcome, CloseOutcome::Closed { .. }),
            "{outcome:?}"
        );
    }
    id.0
}

const SEEDS: [Seed; 5] = [
    Seed {
        strategy: "alpha",
        symbol: "BTC",
        quantity: dec!(0.5),
        entry: dec!(40000),
        entry_fee: dec!(10),
        opened: "2024-01-01",
        exit: Some((dec!(42000), dec!(10.5), "2024-01-03", ExitReason::Signal)),
    },
    Seed {
        strategy: "beta",
        symbol: "ETH",
        quantity: dec!(2),
        entry: dec!(2000),
        entry_fee: dec!(2),
        opened: "2024-01-01",
        exit: Some((dec!(1900), dec!(1.9), "2024-01-04", ExitReason::StopLoss)),
    },
    Seed {
        strategy: "alpha",
        symbol: "ETH",
        quantity: dec!(1),
        entry: dec!(2100),
        entry_fee: dec!(2.1),
        opened: "2024-01-02",
        exit: None,
    },
    Seed {
        strategy: "beta",
        symbol: "BTC",
        quantity: dec!(0.1),
        entry: dec!(41000),
        entry_fee: dec!(4.1),
        opened: "2024-01-02",
        exit: None,
    },
    Seed {
        strategy: "beta",
        symbol: "SAP",
        quantity: dec!(10),
        entry: dec!(150),
        entry_fee: dec!(1.5),
        opened: "2024-01-01",
        exit: Some((dec!(155), dec!(1.55), "2024-01-05", ExitReason::TakeProfit)),
    },
];

/// A server whose config has strategy `alpha` only (`beta` was removed from it), with BTC and
/// ETH in USD and SAP in EUR, and the five [`SEEDS`]; returns each seed's position id and P&L
/// (at the last closes: BTC 44,000, ETH 1,950, SAP 155).
async fn positions_server() -> (Server, Vec<(i64, Decimal, &'static str)>) {
    let config = config(vec![strategy(
        "alpha",
        "close > sma(close, 3)",
        Some("close < sma(close, 3)"),
    )]);
    let server = Server::sqlite(config, Options::default()).await;
    let store = &server.store;
    for (symbol, currency) in [("BTC", "USD"), ("ETH", "USD"), ("SAP", "EUR")] {
        add_instrument(store, symbol, currency).await;
    }
    let last = day("2024-01-05");
    write_closes(
        store,
        "BTC",
        last,
        &[
            dec!(40000),
            dec!(41000),
            dec!(42000),
            dec!(43000),
            dec!(44000),
        ],
    )
    .await;
    write_closes(
        store,
        "ETH",
        last,
        &[dec!(2000), dec!(2100), dec!(2050), dec!(1990), dec!(1950)],
    )
    .await;
    write_closes(store, "SAP", last, &[dec!(150), dec!(152), dec!(155)]).await;
    store
        .ensure_account(Money(dec!(1000000)))
        .await
        .expect("account");
    let marks = |symbol: &str| match symbol {
        "BTC" => dec!(44000),
        "ETH" => dec!(1950),
        _ => dec!(155),
    };
    let mut seeded = Vec::new();
    for seed in &SEEDS {
        let id = open_and_close(store, seed).await;
        let currency = if seed.symbol == "SAP" { "EUR" } else { "USD" };
        seeded.push((id, seed.pnl(marks(seed.symbol)), currency));
    }
    (server, seeded)
}

#[tokio::test]
async fn positions_are_listed_with_their_pnl_filtered_and_sorted() {
    let (server, seeded) = positions_server().await;
    let browser = server.sign_in().await;

    let (status, page) = browser.get("/positions").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<table id=\"positions\""), "{page}");
    let mut listed = row_ids(&page, "data-position-id");
    listed.sort_unstable();
    let mut all: Vec<i64> = seeded.iter().map(|(id, ..)| *id).collect();
    all.sort_unstable();
    assert_eq!(listed, all, "every position, open and closed");
    for (id, pnl, currency) in &seeded {
        let row = position_row(&page, *id);
        let class = if *pnl > Decimal::ZERO { "gain" } else { "loss" };
        let cell = format!("<td class=\"num pnl {class}\"");
        assert!(row.contains(&cell), "{class} in {row}");
        assert_eq!(
            text_after(&row, &cell)
                .split('>')
                .nth(1)
                .unwrap_or_default(),
            signed(*pnl, currency),
            "P&L of position {id}: {row}"
        );
        assert!(row.contains(&format!("href=\"/positions/{id}\"")), "{row}");
    }
    // The first seed: 0.5 BTC bought at 40,000 (fee 10), sold at 42,000 (fee 10.5).
    let first = position_row(&page, seeded[0].0);
    assert_eq!(signed(seeded[0].1, "USD"), "+979.50 USD");
    assert!(
        first.contains("<a href=\"/instruments/BTC\">BTC</a>"),
        "{first}"
    );
    assert!(first.contains(">closed</span>"), "{first}");
    assert!(first.contains("exit rule"), "{first}");
    let paid = dec!(0.5) * dec!(40000) + dec!(10);
    let ret = (seeded[0].1 / paid * dec!(100)).to_f64().expect("f64");
    assert!(
        first.contains(&format!("+{ret:.2} %")),
        "return {ret}: {first}"
    );
    // Totals per currency: the four USD positions, and the EUR one apart.
    let usd: Decimal = seeded
        .iter()
        .filter(|(_, _, c)| *c == "USD")
        .map(|(_, p, _)| *p)
        .sum();
    let totals = &page[page.find("id=\"totals\"").expect("totals")..];
    assert!(
        totals.contains("4 positions</strong>") && totals.contains(&signed(usd, "USD")),
        "{usd} in {totals}"
    );
    assert!(totals.contains(&signed(seeded[4].1, "EUR")), "{totals}");

    // Filters: status, instrument, strategy, and both at once.
    let ids_of = |status: Option<bool>, symbol: Option<&str>| -> Vec<i64> {
        let mut ids: Vec<i64> = SEEDS
            .iter()
            .zip(&seeded)
            .filter(|(s, _)| status.is_none_or(|open| s.exit.is_none() == open))
            .filter(|(s, _)| symbol.is_none_or(|sym| s.symbol == sym))
            .map(|(_, (id, ..))| *id)
            .collect();
        ids.sort_unstable();
        ids
    };
    for (query, expected) in [
        ("status=open", ids_of(Some(true), None)),
        ("status=closed", ids_of(Some(false), None)),
        ("instrument=ETH", ids_of(None, Some("ETH"))),
        (
            "instrument=btc&status=open",
            ids_of(Some(true), Some("BTC")),
        ),
    ] {
        let (status, page) = browser.get(&format!("/positions?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        let mut ids = row_ids(&page, "data-position-id");
        ids.sort_unstable();
        assert_eq!(ids, expected, "{query}");
        assert!(!expected.is_empty(), "{query} matches something");
    }
    let (_, page) = browser.get("/positions?strategy=beta").await;
    assert_eq!(row_ids(&page, "data-position-id").len(), 3);
    let (_, page) = browser.get("/positions?instrument=SAP&status=open").await;
    assert!(row_ids(&page, "data-position-id").is_empty());
    assert!(
        page.contains("No positions match these filters")
            && page.contains("<a href=\"/positions\">Clear the filters</a>"),
        "{page}"
    );
    let (status, page) = browser.get("/positions?status=sideways").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Status `sideways` is not one of"), "{page}");

    // Sorting by P&L, both ways; the header then links to the other direction.
    let mut by_pnl: Vec<(Decimal, i64)> = seeded.iter().map(|(id, p, _)| (*p, *id)).collect();
    by_pnl.sort();
    let ascending: Vec<i64> = by_pnl.iter().map(|(_, id)| *id).collect();
    let (_, page) = browser.get("/positions?sort=pnl&dir=asc").await;
    assert_eq!(row_ids(&page, "data-position-id"), ascending);
    assert!(
        page.contains("aria-sort=\"ascending\"")
            && unescape(&page).contains("href=\"/positions?sort=pnl&dir=desc\""),
        "{page}"
    );
    let (_, page) = browser.get("/positions?sort=pnl&dir=desc").await;
    let descending: Vec<i64> = ascending.iter().rev().copied().collect();
    assert_eq!(row_ids(&page, "data-position-id"), descending);
    // Sorted and filtered at once: the header links keep the filter.
    let (_, page) = browser
        .get("/positions?status=closed&sort=pnl&dir=asc")
        .await;
    let closed: Vec<i64> = ascending
        .iter()
        .copied()
        .filter(|id| ids_of(Some(false), None).contains(id))
        .collect();
    assert_eq!(row_ids(&page, "data-position-id"), closed);
    assert!(
        unescape(&page).contains("href=\"/positions?status=closed&sort=instrument&dir=asc\""),
        "{page}"
    );

    // The explanation of a closed position whose strategy is still configured.
    let (status, page) = browser.get(&format!("/positions/{}", seeded[0].0)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for id in ["id=\"explanation\"", "id=\"decisions\"", "id=\"fills\""] {
        assert!(page.contains(id), "{id}");
    }
    assert!(
        unescape(&page)
            .contains("<pre class=\"rule\" id=\"entry-rule\">close > sma(close, 3)</pre>"),
        "{page}"
    );
    assert!(
        page.contains("<code>sma(close, 3)</code></th><td class=\"num\">100.5</td>"),
        "{page}"
    );
    assert!(page.contains(">+979.50 USD</dd>"), "{page}");
    assert!(page.contains("Exit reason: <strong class=\"exit-reason\">exit rule</strong>"));
    assert!(
        page.contains("<td class=\"num\">20,000.00 USD</td>"),
        "gross of the buy"
    );
    assert!(page.contains("-20,010.00 USD"), "cash paid, fee included");
    assert!(
        page.contains("+20,989.50 USD"),
        "cash received, fee deducted"
    );
    // `beta` is no longer configured: the page says so.
    let (_, page) = browser.get(&format!("/positions/{}", seeded[1].0)).await;
    assert!(page.contains("id=\"strategy-gone\""), "{page}");
    assert!(page.contains("stop-loss"), "{page}");
    let (status, page) = browser.get("/positions/99999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("There is no position 99999"), "{page}");
    let (status, _) = browser.get("/positions/abc").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.shutdown().await;
}

#[tokio::test]
async fn the_explanation_shows_the_values_the_trade_job_decided_with() {
    let trend = strategy(
        "trend",
        "close > sma(close, 3)",
        Some("close < sma(close, 3)"),
    );
    let config = config(vec![trend]);
    let server = Server::sqlite(config.clone(), Options::default()).await;
    let store = &server.store;
    add_instrument(store, "BTC", "USD").await;
    // Rising closes up to yesterday, so the data is fresh and the entry passes.
    let yesterday = Utc::now().date_naive() - Days::new(1);
    let closes: Vec<Decimal> = (0..20u32)
        .map(|i| dec!(100) + Decimal::from(i) * dec!(1.37) + Decimal::from(i % 3) * dec!(0.11))
        .collect();
    write_closes(store, "BTC", yesterday, &closes).await;
    let trading = Trading::from_config(&config, &[sym("BTC")]).expect("valid strategy");
    sync_new_trades(store, &trading, Utc::now())
        .await
        .expect("trade");
    let position = store.positions(None).await.expect("positions");
    assert_eq!(position.len(), 1, "the trade job opened one position");
    let id = position[0].id;

    let browser = server.sign_in().await;
    let (status, page) = browser.get(&format!("/positions/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let decisions = &page[page.find("id=\"decisions\"").expect("decisions")..];
    assert!(decisions.contains("data-kind=\"entry\""), "{decisions}");
    assert!(decisions.contains(">passed</span>"), "{decisions}");
    let value = |name: &str| -> f64 {
        let text = text_after(
            decisions,
            &format!("<code>{name}</code></th><td class=\"num\">"),
        );
        text.replace(',', "").parse().expect("a number")
    };
    let last = closes[closes.len() - 1];
    let sma = closes[closes.len() - 3..].iter().sum::<Decimal>() / dec!(3);
    let close = last.to_f64().expect("f64");
    let mean = sma.to_f64().expect("f64");
    assert!((value("close") - close).abs() < 1e-6, "close {close}");
    assert!((value("sma(close, 3)") - mean).abs() < 1e-6, "sma {mean}");
    let fills = &page[page.find("<table id=\"fills\"").expect("fills")..];
    let fills = &fills[..fills.find("</table>").expect("end")];
    assert_eq!(fills.matches("<tr>").count(), 2, "a header and one fill");
    assert!(fills.contains("<td>buy</td>"), "{fills}");
    let booked = store.fills_of(PositionId(id.0)).await.expect("fills");
    let paid = -booked[0].cash_delta().0;
    assert!(
        fills.contains(&format!("-{} USD", grouped(paid))),
        "{paid} in {fills}"
    );
    let (_, list) = browser.get("/positions?status=open").await;
    assert_eq!(row_ids(&list, "data-position-id"), [id.0]);
    server.shutdown().await;
}

/// The recording moment of seeded history entry `i`: every 2 hours from 2024-03-01.
fn recorded(i: i64) -> DateTime<Utc> {
    at(day("2024-03-01")) + Duration::hours(2 * i)
}

/// The ids of every page of `path`, following its Older links to the end.
async fn walk(browser: &Browser, path: &str) -> (Vec<i64>, Vec<usize>) {
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    let mut next = Some(path.to_owned());
    while let Some(path) = next.take() {
        let (status, page) = browser.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        let page_ids = row_ids(&page, "data-history-id");
        sizes.push(page_ids.len());
        ids.extend(page_ids);
        if page.contains("id=\"older\"") {
            let href = text_after(&page, "<a id=\"older\" rel=\"next\" href=\"");
            let href = href.split('"').next().unwrap_or_default();
            next = Some(unescape(href));
            assert!(page.contains("id=\"newest\"") || sizes.len() == 1, "{page}");
        }
        assert!(sizes.len() < 20, "the pages end");
    }
    (ids, sizes)
}

#[tokio::test]
async fn history_is_filtered_by_kind_and_date_and_paginated_without_gaps() {
    let server = Server::sqlite(Config::default(), Options::default()).await;
    let store = &server.store;
    add_instrument(store, "BTC", "USD").await;
    add_instrument(store, "ETH", "USD").await;
    let count = 130i64;
    for i in 0..count {
        let kind = if i % 4 == 0 { "test_fill" } else { "test_sync" };
        let symbol = sym(if i % 2 == 0 { "BTC" } else { "ETH" });
        let detail = json!({"i": i, "fill": {"side": "buy", "price": "100.5"}, "tags": ["x", "y"]});
        store
            .record_history(None, recorded(i), kind, Some(&symbol), &detail)
            .await
            .expect("record");
    }
    let all = HistoryFilter {
        limit: 10_000,
        ..HistoryFilter::default()
    };
    let everything = store.history_filtered(&all).await.expect("history");
    let browser = server.sign_in().await;

    // Every entry once, newest first, 50 a page.
    let (ids, sizes) = walk(&browser, "/history").await;
    let expected: Vec<i64> = everything.iter().map(|e| e.id).collect();
    assert_eq!(ids, expected, "no entry repeated or skipped");
    assert_eq!(sizes[0], 50);
    assert!(sizes.len() >= 3, "{sizes:?}");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());

    // A kind with more than a page: the Older links keep the filter.
    let (ids, sizes) = walk(&browser, "/history?kind=test_sync").await;
    let syncs: Vec<i64> = everything
        .iter()
        .filter(|e| e.kind == "test_sync")
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, syncs);
    assert_eq!(sizes, [50, syncs.len() - 50]);

    // Two whole days, inclusive, with a kind.
    let in_range = |e: &&barter_store::runs::HistoryEntry| {
        let d = e.recorded_at.date_naive();
        d >= day("2024-03-03") && d <= day("2024-03-04")
    };
    let (ids, _) = walk(&browser, "/history?from=2024-03-03&to=2024-03-04").await;
    let dated: Vec<i64> = everything.iter().filter(in_range).map(|e| e.id).collect();
    assert_eq!(dated.len(), 24, "12 entries a day");
    assert_eq!(ids, dated);
    let (ids, _) = walk(
        &browser,
        "/history?kind=test_fill&from=2024-03-03&to=2024-03-04",
    )
    .await;
    let dated_fills: Vec<i64> = everything
        .iter()
        .filter(in_range)
        .filter(|e| e.kind == "test_fill")
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, dated_fills);
    let (ids, _) = walk(&browser, "/history?instrument=eth&to=2024-03-01").await;
    let eth_first_day: Vec<i64> = everything
        .iter()
        .filter(|e| e.recorded_at.date_naive() == day("2024-03-01"))
        .filter(|e| e.symbol.as_ref().is_some_and(|s| s.as_str() == "ETH"))
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, eth_first_day);

    // The detail reads as pairs, never as JSON; the kind select offers the stored kinds.
    let (_, page) = browser.get("/history").await;
    assert!(
        page.contains("<dt>fill</dt><dd>price: 100.5, side: buy</dd>"),
        "{page}"
    );
    assert!(page.contains("<dt>tags</dt><dd>x, y</dd>"), "{page}");
    assert!(!unescape(&page).contains("{\""), "no raw JSON");
    assert!(page.contains("<option value=\"test_fill\">test_fill</option>"));
    assert!(page.contains("UTC"));

    // An unknown kind is just no rows; a malformed or reversed date is a readable 400.
    let (status, page) = browser.get("/history?kind=nothing_like_it").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("No history entries match these filters"),
        "{page}"
    );
    let (status, page) = browser.get("/history?from=2024-02-30").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("id=\"filter-error\"")
            && page.contains("The from date `2024-02-30` is not a date: write it as YYYY-MM-DD"),
        "{page}"
    );
    assert!(
        !page.contains("data-history-id"),
        "no rows with a bad filter"
    );
    let (status, page) = browser.get("/history?from=2024-03-05&to=2024-03-01").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("is after the to date"), "{page}");
    server.shutdown().await;
}

#[tokio::test]
async fn strategies_show_invalid_rules_with_a_caret_under_the_spot() {
    let bad_entry = "close > 0\n  and close > ZZZ.close";
    let mut bad = strategy("bad", bad_entry, Some("close < 1"));
    bad.size = Some(NumberText::Text("lots".into()));
    let mut good = strategy("good", "close > sma(close, $n)", None);
    good.params.insert("n".into(), 3.0);
    let server = Server::sqlite(config(vec![good, bad]), Options::default()).await;
    add_instrument(&server.store, "BTC", "USD").await;
    let browser = server.sign_in().await;

    let (status, page) = browser.get("/strategies").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("<section class=\"card\" id=\"strategy-good\" data-strategy=\"good\" data-valid=\"true\""),
        "{page}"
    );
    assert!(
        page.contains(
            "<section class=\"card\" id=\"strategy-bad\" data-strategy=\"bad\" data-valid=\"false\""
        ),
        "{page}"
    );
    assert!(
        unescape(&page)
            .contains("<pre class=\"rule\" id=\"good-entry\">close > sma(close, $n)</pre>"),
        "{page}"
    );
    assert!(
        page.contains("<code>$n</code></th><td class=\"num\">3</td>"),
        "{page}"
    );
    // The caret sits right under the second line, under `ZZZ`.
    let opening = "<pre class=\"caret\" id=\"bad-entry-error\" aria-hidden=\"true\">";
    let caret = text_after(&page, opening);
    let second = bad_entry.lines().nth(1).expect("two lines");
    let column = second.find("ZZZ").expect("ZZZ");
    assert_eq!(caret, format!("{}^^^", " ".repeat(column)));
    let before = &page[..page.find(opening).expect("caret")];
    let line = before
        .rsplit("<pre class=\"rule\">")
        .next()
        .and_then(|l| l.split("</pre>").next())
        .expect("the line above the caret");
    assert_eq!(unescape(line), second);
    let after = &page[page.find(opening).expect("caret")..];
    assert!(
        after.contains(&format!(
            "Line 2, column {}: unknown instrument `ZZZ`",
            column + 1
        )),
        "{after}"
    );
    assert!(
        page.contains("register it first, or check the symbol"),
        "{page}"
    );
    assert!(page.contains("size: `lots` is not a size"), "{page}");
    assert!(
        !page.contains("id=\"bad-exit-error\""),
        "the exit rule is fine"
    );
    assert!(page.contains("refuse to run"), "{page}");
    assert!(page.contains("restart <code>barter serve</code>"), "{page}");
    server.shutdown().await;

    // Without strategies: how to add one.
    let server = Server::sqlite(Config::default(), Options::default()).await;
    let browser = server.sign_in().await;
    let (status, page) = browser.get("/strategies").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"no-strategies\"") && page.contains("[[strategies]]"));
    let (_, page) = browser.get("/positions").await;
    assert!(page.contains("id=\"no-positions\""), "{page}");
    let (_, page) = browser.get("/history").await;
    assert!(!page.contains("data-history-id"), "{page}");
    server.shutdown().await;
}

#[tokio::test]
async fn the_pages_need_a_session() {
    let server = Server::sqlite(Config::default(), Options::default()).await;
    let client = Browser::client();
    for path in [
        "/positions",
        "/positions/1",
        "/history?kind=fill",
        "/strategies",
        "/notifications",
    ] {
        let response = client.get(server.url(path)).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let next: String = form_urlencoded_encode(path);
        assert_eq!(location, format!("/login?next={next}"), "{path}");
    }
    server.shutdown().await;
}

/// `text` percent-encoded for a query value, as the sign-in redirect writes it.
fn form_urlencoded_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_overview_starts_with_the_status_block() {
    let server = Server::sqlite(Config::default(), Options::default()).await;
    let today = Utc::now().date_naive();
    // BTC's newest complete candle is ten days old: stale; ETH is current; NEW has no candle.
    add_instrument(&server.store, "BTC", "USD").await;
    write_closes(
        &server.store,
        "BTC",
        today - Days::new(10),
        &[dec!(10), dec!(11)],
    )
    .await;
    add_instrument(&server.store, "ETH", "USD").await;
    write_closes(
        &server.store,
        "ETH",
        today - Days::new(1),
        &[dec!(10), dec!(11)],
    )
    .await;
    add_instrument(&server.store, "NEW", "USD").await;
    let browser = server.sign_in().await;
    let (status, page) = browser.get("/").await;
    assert_eq!(status, StatusCode::OK);
    let block = page.find("id=\"status\"").expect("the status block");
    let halt = page.find("id=\"trading-halt\"").expect("the kill switch");
    assert!(block < halt, "the status block comes first");
    let page = unescape(&page);
    assert!(page.contains("data-healthy=\"false\""), "{page}");
    assert!(page.contains("2 item(s) need attention"), "{page}");
    assert!(
        page.contains("3 active, 1 current, 2 need attention"),
        "{page}"
    );
    assert!(
        page.contains("data-kind=\"instrument_stale\"") && page.contains("BTC is stale"),
        "{page}"
    );
    assert!(
        page.contains("data-kind=\"instrument_no_data\"")
            && page.contains("NEW has no complete candle"),
        "{page}"
    );
    for job in ["sync_data", "sync_new_trades", "sync_close_positions"] {
        assert!(
            page.contains(&format!("<li data-job=\"{job}\">")),
            "{job}: {page}"
        );
    }
    assert!(page.contains("never ran"), "{page}");
    server.shutdown().await;
}

#[tokio::test]
async fn the_overview_halts_and_resumes_new_entries() {
    let server = Server::sqlite(Config::default(), Options::default()).await;
    let browser = server.sign_in().await;
    let (status, page) = browser.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Halt new entries"), "{page}");
    assert!(page.contains("new entries allowed"), "{page}");
    assert!(
        page.contains("id=\"status\" data-healthy=\"true\""),
        "the status block says all is well: {page}"
    );

    // Without the session's CSRF token nothing changes.
    let forged = Browser::client()
        .post(server.url("/halt"))
        .header("cookie", &browser.cookie)
        .form(&[("reason", "forged")])
        .send()
        .await
        .expect("request");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(!server.store.trading_halt().await.expect("read").halted);

    let long = "x".repeat(501);
    let refused = browser
        .post_form("/halt", &[("reason", long.as_str())])
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!server.store.trading_halt().await.expect("read").halted);

    let halted = browser
        .post_form("/halt", &[("reason", "<b>incident</b>")])
        .await;
    assert_eq!(halted.status(), StatusCode::SEE_OTHER);
    let state = server.store.trading_halt().await.expect("read");
    assert!(state.halted);
    assert_eq!(state.changed_by.as_deref(), Some("dashboard"));
    let (_, page) = browser.get("/").await;
    assert!(page.contains("New entries halted"), "{page}");
    assert!(page.contains("Resume new entries"), "{page}");
    assert!(
        page.contains("incident") && !page.contains("<b>incident</b>"),
        "the reason is escaped: {page}"
    );
    assert!(
        page.contains("data-healthy=\"false\"")
            && page.contains("data-kind=\"trading_halted\" data-severity=\"warning\""),
        "the status block lists the halt: {page}"
    );

    let resumed = browser.post_form("/resume", &[]).await;
    assert_eq!(resumed.status(), StatusCode::SEE_OTHER);
    assert!(!server.store.trading_halt().await.expect("read").halted);
    server.shutdown().await;
}

#[tokio::test]
async fn the_orders_page_lists_orders_with_their_fills_and_fees() {
    use barter_core::order::{
        DecisionRef, Order, OrderAmount, OrderEvent, OrderFill, OrderState, VenueReport,
    };
    let server = Server::sqlite(Config::default(), Options::default()).await;
    let browser = server.sign_in().await;
    let (status, page) = browser.get("/orders").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"no-orders\""), "{page}");
    assert!(
        page.contains("href=\"/orders\""),
        "the navigation links the page: {page}"
    );

    let decision = DecisionRef {
        strategy: "trend".into(),
        symbol: Symbol::parse("BTC").expect("symbol"),
        day: "2026-12-06".parse().expect("day"),
        side: Side::Buy,
    };
    let order =
        Order::planned("main", decision, OrderAmount::Quote(Money(dec!(500)))).expect("order");
    let now = Utc::now();
    let mut order = match server.store.plan_order(&order, now).await.expect("plan") {
        barter_store::PlannedOrder::New(order) | barter_store::PlannedOrder::Existing(order) => {
            order
        }
    };
    order.apply(OrderEvent::Sent).expect("sent");
    server.store.save_order(&order, now).await.expect("save");
    order
        .apply(OrderEvent::Report(VenueReport {
            state: OrderState::Filled,
            venue_order_id: Some("28".into()),
            executed_quantity: Quantity(dec!(0.01)),
            fills: vec![OrderFill {
                trade_id: "12".into(),
                price: Price(dec!(50000)),
                quantity: Quantity(dec!(0.01)),
                fee: dec!(0.00001),
                fee_asset: "BTC".into(),
            }],
            reason: None,
        }))
        .expect("filled");
    server.store.save_order(&order, now).await.expect("save");

    let (_, page) = browser.get("/orders").await;
    assert!(page.contains(order.client_order_id().as_str()), "{page}");
    assert!(page.contains("badge ok\">filled"), "{page}");
    assert!(page.contains("0.00001 BTC"), "the fee in its asset: {page}");
    let (_, open) = browser.get("/orders?open=1").await;
    assert!(
        open.contains("id=\"no-orders\""),
        "a filled order is final: {open}"
    );
    server.shutdown().await;
}

/// The notifications page: each channel's state (a channel whose receiver is down shows as
/// failing with its error), the unusable ones, and the deliveries.
#[tokio::test]
async fn the_notifications_page_shows_failing_channels_and_deliveries() {
    let empty = Server::sqlite(Config::default(), Options::default()).await;
    let (status, html) = empty.sign_in().await.get("/notifications").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"no-channels\""), "{html}");
    empty.shutdown().await;

    // A port nothing listens on: every attempt fails to connect.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = dead.local_addr().expect("addr").port();
    drop(dead);
    let config = Config {
        notify: vec![
            toml::from_str(&format!(
                "name = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/webhook\""
            ))
            .expect("channel"),
            toml::from_str("name = \"tg\"\nkind = \"telegram\"\nchat_id = \"1\"").expect("channel"),
        ],
        ..Config::default()
    };
    let server = Server::sqlite(config, Options::default()).await;
    let (status, body) = server
        .post("/api/notifications/test", serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["accepted"], false, "{body}");
    let (status, html) = server.sign_in().await.get("/notifications").await;
    assert_eq!(status, StatusCode::OK);
    let html = unescape(&html);
    assert!(
        html.contains("data-channel=\"hook\" data-failing=\"true\""),
        "{html}"
    );
    assert!(html.contains("could not connect"), "{html}");
    assert!(html.contains("data-unusable=\"true\""), "{html}");
    assert!(html.contains("BARTER_NOTIFY_TG_SECRET"), "{html}");
    assert!(html.contains("Test message from Barter"), "{html}");
    server.shutdown().await;
}
