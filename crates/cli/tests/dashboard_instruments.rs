//! The dashboard's instruments pages over real HTTP, signed in as a browser would be: the list
//! with its gap and staleness flags, adding (and refusing bad input), removing with and without
//! the CSRF field, and an instrument's chart data (candles, indicator overlays, trade markers).

use barter_core::strategy::{InstrumentSelection, StrategyConfig};
use barter_core::{
    Calendar, Candle, CandleOrigin, Day, ExitReason, Fill, Instrument, Money, Ohlcv, Price,
    PriceBasis, Quantity, Side, SourceKind, Symbol,
};
use barter_service::config::Config;
use barter_service::trading::expected_day;
use barter_store::{DecisionKind, DecisionOutcome, NewDecision, OpenOutcome, Store};
use chrono::{Days, Utc};
use reqwest::StatusCode;
use rust_decimal::{Decimal, RoundingStrategy};
use rust_decimal_macros::dec;
use serde_json::{Value, json};

mod support;

use support::{Browser, Options, Server};

/// A configuration with one strategy on every instrument: a crossing of two moving averages
/// (one through a parameter) to enter, an RSI to exit.
fn config() -> Config {
    let cross = StrategyConfig {
        name: "cross".into(),
        instruments: InstrumentSelection::default(),
        entry: "crosses_above(sma(close, $fast), sma(close, 5))".into(),
        exit: Some("rsi(close, 3) > 90 # overbought".into()),
        stop_loss: None,
        take_profit: None,
        trailing_stop: None,
        max_holding_days: None,
        size: None,
        max_open_positions: None,
        enabled: true,
        params: [("fast".to_owned(), 3.0)].into_iter().collect(),
        account: None,
    };
    let disabled = StrategyConfig {
        name: "off".into(),
        entry: "ema(close, 4) > 0".into(),
        exit: None,
        enabled: false,
        params: Default::default(),
        ..cross.clone()
    };
    Config {
        strategies: vec![cross, disabled],
        ..Config::default()
    }
}

fn symbol(text: &str) -> Symbol {
    Symbol::parse(text).expect("symbol")
}

fn today() -> Day {
    Utc::now().date_naive()
}

/// The close on day index `i` of a test history: varied, with cents.
fn close_at(i: usize) -> Decimal {
    Decimal::from(100 + (i * 7) % 13) + Decimal::new(i as i64 % 4 * 25, 2)
}

/// Complete candles of `sym` on `days`, the close of the k-th being `close_at(k)`.
fn candles(sym: &Symbol, days: &[Day]) -> Vec<Candle> {
    days.iter()
        .enumerate()
        .map(|(i, day)| {
            let close = close_at(i);
            let values = Ohlcv {
                open: close - Decimal::ONE,
                high: close + Decimal::TWO,
                low: close - Decimal::TWO,
                close,
                volume: Decimal::from(1000 + i),
            };
            Candle::new(
                sym.clone(),
                *day,
                values,
                true,
                CandleOrigin::CsvFile,
                today(),
            )
            .expect("valid candle")
        })
        .collect()
}

/// The `n` days ending at `last`, oldest first.
fn days_until(last: Day, n: u64) -> Vec<Day> {
    (0..n).rev().map(|back| last - Days::new(back)).collect()
}

/// Registers `sym` (a CSV instrument, never synced here) with candles on `days`.
async fn register(store: &Store, sym: &str, calendar: Calendar, days: &[Day]) -> Symbol {
    let s = symbol(sym);
    let instrument = Instrument::new(
        s.clone(),
        format!("{sym} test"),
        "USD",
        SourceKind::Csv,
        format!("/nonexistent/{sym}.csv"),
        calendar,
    )
    .expect("instrument");
    store.add_instrument(&instrument).await.expect("add");
    if !days.is_empty() {
        store
            .write_candles(&s, &candles(&s, days))
            .await
            .expect("candles");
    }
    s
}

async fn start() -> Server {
    Server::sqlite(config(), Options::default()).await
}

/// The `<tr data-symbol="SYM">` row of the instruments table.
fn row<'a>(page: &'a str, sym: &str) -> &'a str {
    let start = page
        .find(&format!("<tr data-symbol=\"{sym}\">"))
        .unwrap_or_else(|| panic!("a row for {sym} in {page}"));
    let rest = &page[start..];
    &rest[..rest.find("</tr>").expect("row end")]
}

/// The redirect target of a response.
fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a Location header")
        .to_owned()
}

/// A state-changing form post in the session but without the CSRF field.
async fn post_without_csrf(browser: &Browser, path: &str, fields: &[(&str, &str)]) -> StatusCode {
    browser
        .client
        .post(format!("{}{path}", browser.base))
        .header("cookie", &browser.cookie)
        .form(fields)
        .send()
        .await
        .expect("request")
        .status()
}

async fn registered(store: &Store) -> Vec<String> {
    store
        .instruments()
        .await
        .expect("instruments")
        .iter()
        .map(|i| i.symbol.to_string())
        .collect()
}

#[tokio::test]
async fn the_list_flags_gaps_and_stale_instruments_by_their_calendar() {
    let server = start().await;
    let store = &server.store;
    let yesterday = today() - Days::new(1);
    register(
        store,
        "FRESH",
        Calendar::Continuous,
        &days_until(yesterday, 30),
    )
    .await;
    let mut holed = days_until(yesterday, 30);
    let missing: Vec<Day> = holed.drain(10..13).collect();
    register(store, "HOLE", Calendar::Continuous, &holed).await;
    let old_last: Day = "2020-01-31".parse().expect("day");
    register(
        store,
        "OLD",
        Calendar::Continuous,
        &days_until(old_last, 20),
    )
    .await;
    // Weekdays only, up to the last weekday before today: neither gaps nor stale.
    let weekdays: Vec<Day> = days_until(expected_day(Calendar::Weekdays, today()), 40)
        .into_iter()
        .filter(|d| Calendar::Weekdays.trades_on(*d))
        .collect();
    register(store, "WEEK", Calendar::Weekdays, &weekdays).await;
    // NYSE sessions up to the last one before today: on `xnys` the holidays are neither gaps
    // nor make it stale; the same days on `weekdays` miss every holiday.
    let sessions: Vec<Day> = days_until(expected_day(Calendar::Xnys, today()), 400)
        .into_iter()
        .filter(|d| Calendar::Xnys.trades_on(*d))
        .collect();
    register(store, "XN", Calendar::Xnys, &sessions).await;
    register(store, "XNWEEK", Calendar::Weekdays, &sessions).await;
    register(store, "NONE", Calendar::Continuous, &[]).await;

    let browser = server.sign_in().await;
    let (status, page) = browser.get("/instruments").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<table id=\"instruments\""), "{page}");

    let hole = row(&page, "HOLE");
    assert!(hole.contains("data-flag=\"gaps\""), "{hole}");
    assert!(hole.contains("3 missing days"), "{hole}");
    for day in &missing {
        assert!(hole.contains(&day.to_string()), "{day} named in {hole}");
    }
    assert!(!hole.contains("data-flag=\"stale\""), "{hole}");
    assert!(hole.contains("href=\"/instruments/HOLE\""), "{hole}");

    let old = row(&page, "OLD");
    assert!(old.contains("data-flag=\"stale\""), "{old}");
    assert!(
        old.contains("2020-01-31"),
        "the last complete candle: {old}"
    );
    assert!(!old.contains("data-flag=\"gaps\""), "{old}");

    for fine in ["FRESH", "WEEK", "XN"] {
        let r = row(&page, fine);
        assert!(!r.contains("data-flag="), "{fine} has no flag: {r}");
        assert!(r.contains(&yesterday.to_string()) || fine != "FRESH", "{r}");
    }
    let holidays = row(&page, "XNWEEK");
    assert!(holidays.contains("data-flag=\"gaps\""), "{holidays}");
    let none = row(&page, "NONE");
    assert!(none.contains("data-flag=\"no-data\""), "{none}");
    let fresh = row(&page, "FRESH");
    for text in [
        "FRESH test",
        "csv",
        "/nonexistent/FRESH.csv",
        "USD",
        "active",
    ] {
        assert!(fresh.contains(text), "{text} in {fresh}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_bad_quote_currency_is_shown_on_the_form_with_what_was_typed_and_nothing_is_stored() {
    let server = start().await;
    let browser = server.sign_in().await;
    let response = browser
        .post_form(
            "/instruments",
            &[
                ("symbol", "ZZZ"),
                ("name", "Zed coin"),
                ("source", "binance"),
                ("source_id", "ZZZUSDT"),
                ("quote", "US$"),
                ("calendar", "weekdays"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.expect("page");
    let error = page
        .split("id=\"add-error\"")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .expect("the form's error");
    assert!(error.contains("Quote currency"), "{error}");
    assert!(error.contains("US$"), "{error}");
    assert!(
        page.contains("id=\"add-quote\" name=\"quote\" value=\"US$\""),
        "{page}"
    );
    for kept in ["value=\"ZZZ\"", "value=\"Zed coin\"", "value=\"ZZZUSDT\""] {
        assert!(page.contains(kept), "{kept} kept");
    }
    assert!(
        page.contains("<option value=\"binance\" selected>"),
        "{page}"
    );
    assert!(
        page.contains("<option value=\"weekdays\" selected>"),
        "{page}"
    );
    assert!(registered(&server.store).await.is_empty());

    // A source that needs an id, without one: the message names that field.
    let response = browser
        .post_form(
            "/instruments",
            &[("symbol", "ZZZ"), ("source", "coingecko"), ("quote", "USD")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.expect("page");
    assert!(
        page.contains("Source id: coingecko needs a source id"),
        "{page}"
    );
    assert!(registered(&server.store).await.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn instruments_are_added_and_removed_only_with_the_csrf_field() {
    let server = start().await;
    let browser = server.sign_in().await;
    let (status, page) = browser.get("/instruments").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("No instruments yet"), "{page}");
    assert!(
        page.contains("id=\"add-instrument\""),
        "the add form: {page}"
    );

    let btc = [("symbol", "BTC"), ("source", "sample"), ("quote", "USD")];
    assert_eq!(
        post_without_csrf(&browser, "/instruments", &btc).await,
        StatusCode::FORBIDDEN
    );
    assert!(registered(&server.store).await.is_empty());

    let added = browser.post_form("/instruments", &btc).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&added), "/instruments?added=BTC");
    let (_, page) = browser.get("/instruments?added=BTC").await;
    assert!(page.contains("Added BTC"), "{page}");
    let btc_row = row(&page, "BTC");
    assert!(btc_row.contains("Bitcoin"), "the sample's name: {btc_row}");
    assert!(
        btc_row
            .contains("data-confirm=\"Remove BTC and its stored candles? This cannot be undone.\""),
        "{btc_row}"
    );
    assert_eq!(registered(&server.store).await, ["BTC"]);

    let again = browser.post_form("/instruments", &btc).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let page = again.text().await.expect("page");
    assert!(page.contains("Symbol: BTC is already registered"), "{page}");

    assert_eq!(
        post_without_csrf(&browser, "/instruments/BTC/remove", &[]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(registered(&server.store).await, ["BTC"]);

    let removed = browser.post_form("/instruments/BTC/remove", &[]).await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&removed), "/instruments?removed=BTC");
    assert!(registered(&server.store).await.is_empty());
    let (_, page) = browser.get("/instruments?removed=BTC").await;
    assert!(
        page.contains("Removed BTC and its stored candles."),
        "{page}"
    );
    assert!(page.contains("No instruments yet"), "{page}");

    let unknown = browser.post_form("/instruments/BTC/remove", &[]).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    server.shutdown().await;
}

/// A fill of `quantity` at `price` on `day` with a fee of 0.1 % of the gross.
fn fill(side: Side, sym: &Symbol, day: Day, quantity: Decimal, price: Decimal) -> Fill {
    let gross = quantity * price;
    Fill {
        symbol: sym.clone(),
        side,
        day,
        price: Price(price),
        basis: PriceBasis::NextOpen,
        quantity: Quantity(quantity),
        gross: Money(gross),
        fee: Money(gross * dec!(0.001)),
    }
}

fn decision(sym: &Symbol, day: Day, kind: DecisionKind) -> NewDecision {
    NewDecision {
        strategy: "cross".into(),
        symbol: sym.clone(),
        day,
        kind,
        outcome: DecisionOutcome::Passed,
        detail: json!({ "values": [], "explanation": "test" }),
    }
}

/// The JSON embedded in `<script type="application/json" id="candle-data">`.
fn chart_data(page: &str) -> Value {
    let start = "<script type=\"application/json\" id=\"candle-data\">";
    let json = page
        .split(start)
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .expect("the chart's data");
    serde_json::from_str(json).expect("chart JSON")
}

#[tokio::test]
async fn the_instrument_page_has_candles_indicator_overlays_and_trade_markers() {
    let server = start().await;
    let store = &server.store;
    let yesterday = today() - Days::new(1);
    let days = days_until(yesterday, 40);
    let tst = register(store, "TST", Calendar::Continuous, &days).await;
    store
        .ensure_account(Money(dec!(100000)))
        .await
        .expect("account");
    let (entry_day, exit_day) = (days[10], days[20]);
    let (entry_price, exit_price) = (close_at(10), close_at(20));
    let opened = store
        .open_position(
            None,
            &decision(&tst, entry_day, DecisionKind::Entry),
            &fill(Side::Buy, &tst, entry_day, dec!(2), entry_price),
            Utc::now(),
        )
        .await
        .expect("open");
    let OpenOutcome::Opened(position) = opened else {
        panic!("opened: {opened:?}");
    };
    let id = position.0;
    store
        .close_position(
            None,
            &decision(&tst, exit_day, DecisionKind::Exit),
            position,
            &fill(Side::Sell, &tst, exit_day, dec!(2), exit_price),
            ExitReason::StopLoss,
            Utc::now(),
        )
        .await
        .expect("close");
    let pnl = dec!(2) * (exit_price - entry_price)
        - dec!(2) * entry_price * dec!(0.001)
        - dec!(2) * exit_price * dec!(0.001);

    let browser = server.sign_in().await;
    let (status, page) = browser.get("/instruments/TST").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("TST test (TST)"), "heading: {page}");
    assert!(
        page.contains(
            "id=\"candle-chart\" class=\"chart\" data-chart=\"candles\" data-source=\"candle-data\""
        ),
        "{page}"
    );
    assert!(page.contains("data-markers=\"2\""), "{page}");
    let data = chart_data(&page);

    let closes: Vec<f64> = (0..days.len())
        .map(|i| close_at(i).to_string().parse().expect("f64"))
        .collect();
    let candles = data["candles"].as_array().expect("candles");
    assert_eq!(candles.len(), days.len());
    assert_eq!(candles[0]["time"], days[0].to_string());
    assert_eq!(candles[7]["close"].as_f64(), Some(closes[7]));
    assert_eq!(candles[7]["volume"].as_f64(), Some(1007.0));

    let overlays = data["overlays"].as_array().expect("overlays");
    let overlay = |name: &str| {
        overlays
            .iter()
            .find(|o| o["name"] == name)
            .unwrap_or_else(|| panic!("overlay {name} in {overlays:?}"))
    };
    // `$fast` takes the strategy's value; the disabled strategy's `ema` is not drawn.
    let fast = overlay("sma(close, 3) · cross");
    let slow = overlay("sma(close, 5) · cross");
    let rsi = overlay("rsi(close, 3) · cross");
    assert_eq!(
        (fast["pane"].as_u64(), slow["pane"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(rsi["pane"].as_u64(), Some(1));
    assert!(
        !overlays
            .iter()
            .any(|o| o["name"].as_str().is_some_and(|n| n.contains("ema")))
    );
    for (series, period) in [(slow, 5), (fast, 3)] {
        let points = series["points"].as_array().expect("points");
        assert_eq!(
            points.len(),
            days.len() - (period - 1),
            "warm-up of {period}"
        );
        for i in [period - 1, 17, days.len() - 1] {
            let average = closes[i + 1 - period..=i].iter().sum::<f64>() / period as f64;
            let point = points
                .iter()
                .find(|p| p["time"] == days[i].to_string())
                .unwrap_or_else(|| panic!("a value on {}", days[i]));
            let value = point["value"].as_f64().expect("number");
            assert!(
                (value - average).abs() < 1e-9,
                "sma {period} on {}: {value} vs {average}",
                days[i]
            );
        }
    }

    let markers = data["markers"].as_array().expect("markers");
    assert_eq!(markers.len(), 2, "{markers:?}");
    let entry = &markers[0];
    assert_eq!(entry["kind"], "entry");
    assert_eq!(entry["time"], entry_day.to_string());
    let text = entry["text"].as_str().expect("text");
    for part in [
        format!("#{id}"),
        format!("{entry_price:.2} USD"),
        "cross".to_owned(),
        "bought 2".to_owned(),
    ] {
        assert!(text.contains(&part), "{part} in {text}");
    }
    let exit = &markers[1];
    assert_eq!(exit["kind"], "exit");
    assert_eq!(exit["time"], exit_day.to_string());
    let text = exit["text"].as_str().expect("text");
    let sign = if pnl.is_sign_negative() { "-" } else { "+" };
    for part in [
        format!("{exit_price:.2} USD"),
        "stop-loss".to_owned(),
        "sold 2".to_owned(),
        format!(
            "{sign}{:.2} USD",
            pnl.abs()
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
        ),
    ] {
        assert!(text.contains(&part), "{part} in {text}");
    }
    assert!(
        page.contains(&format!("href=\"/positions/{id}\"")),
        "{page}"
    );

    // An instrument with positions is not removed, and the page says why in words.
    let refused = browser.post_form("/instruments/TST/remove", &[]).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let kind = refused.headers().get("content-type").cloned();
    assert!(
        kind.as_ref()
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html")),
        "{kind:?}"
    );
    let page = refused.text().await.expect("page");
    assert!(
        page.contains("TST was not removed: it has positions"),
        "{page}"
    );
    assert_eq!(registered(store).await, ["TST"]);

    let (status, page) = browser.get("/instruments/NOPE").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        page.contains("No instrument `NOPE` is registered"),
        "{page}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn an_alpaca_instrument_is_added_without_a_source_id_on_xnys() {
    let server = start().await;
    let browser = server.sign_in().await;
    let (_, page) = browser.get("/instruments").await;
    assert!(page.contains("<option value=\"alpaca\""), "{page}");
    let spy = [("symbol", "SPY"), ("source", "alpaca"), ("quote", "USD")];
    let added = browser.post_form("/instruments", &spy).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let stored = server.store.instruments().await.expect("instruments");
    let spy = stored
        .iter()
        .find(|i| i.symbol.as_str() == "SPY")
        .expect("SPY");
    assert_eq!(spy.source, SourceKind::Alpaca);
    assert_eq!(spy.source_id, "SPY");
    assert_eq!(spy.calendar, Calendar::Xnys);
    // The calendar can also be chosen on the form.
    assert!(page.contains("<option value=\"xnys\">"), "{page}");
    let qqq = [
        ("symbol", "QQQ"),
        ("source", "alpaca"),
        ("quote", "USD"),
        ("calendar", "xnys"),
    ];
    let added = browser.post_form("/instruments", &qqq).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let qqq = server
        .store
        .instrument(&symbol("QQQ"))
        .await
        .expect("read")
        .expect("QQQ");
    assert_eq!(qqq.calendar, Calendar::Xnys);
    server.shutdown().await;
}
