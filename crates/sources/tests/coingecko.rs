//! CoinGecko source against an in-process fake of API v3, answering with the shared fixtures.

mod support;

use barter_core::{Candle, CandleOrigin, Instrument, Ohlcv, SourceKind};
use barter_sources::{CoinGeckoConfig, CoinGeckoPlan, CoinGeckoSource, FetchRequest, SourceError};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use support::{Answer, Fake, Seen, Subject, Tuning, at, day, fixture};

const KEY: &str = "CG-test-key-0123456789";
const DEMO_CHART: &str = "coingecko/market_chart_bitcoin_usd_days365_interval_daily.json";
const PRO_OHLC: &str = "coingecko/ohlc_range_bitcoin_usd_2024-01-01_2024-06-29_interval_daily.json";
const PRO_CHART: &str = "coingecko/market_chart_range_bitcoin_usd_from1704067200_to1735689600.json";
const EMPTY_CHART: &str = r#"{"prices":[],"market_caps":[],"total_volumes":[]}"#;
/// When the Demo fixture was fetched: the morning after its last complete day.
const DEMO_NOW: &str = "2025-01-14T06:00:00Z";

fn bitcoin() -> Instrument {
    support::instrument("BTC", SourceKind::CoinGecko, "bitcoin")
}

fn config(base_url: &str, plan: CoinGeckoPlan, tuning: Tuning) -> CoinGeckoConfig {
    CoinGeckoConfig {
        base_url: base_url.to_owned(),
        plan,
        requests_per_minute: 60_000,
        timeout_secs: tuning.timeout_secs,
        max_retries: tuning.max_retries,
        backoff_base_secs: 0.01,
        max_retry_wait_secs: 5.0,
        api_key: (plan != CoinGeckoPlan::Keyless).then(|| KEY.to_owned()),
    }
}

fn request(from: Option<&str>, now: &str) -> FetchRequest {
    FetchRequest {
        from: from.map(day),
        now: at(now),
    }
}

/// Bitcoin on `plan`, from `from`, as of `now`.
fn coingecko(plan: CoinGeckoPlan, from: Option<&str>, now: &str) -> Subject<CoinGeckoSource> {
    Subject {
        build: Box::new(move |url, tuning| {
            CoinGeckoSource::new(config(url, plan, tuning)).expect("valid config")
        }),
        instrument: bitcoin(),
        request: request(from, now),
    }
}

/// The Demo plan asked for all it reaches, as of [`DEMO_NOW`].
fn demo() -> Subject<CoinGeckoSource> {
    coingecko(CoinGeckoPlan::Demo, None, DEMO_NOW)
}

/// The Pro plan asked for the first half of 2024: one window, which [`pro_fixture_server`] serves.
fn pro_first_half_of_2024() -> Subject<CoinGeckoSource> {
    coingecko(
        CoinGeckoPlan::Pro,
        Some("2024-01-01"),
        "2024-06-29T12:00:00Z",
    )
}

/// The Pro plan asked for the first days of March 2024.
fn pro_early_march() -> Subject<CoinGeckoSource> {
    coingecko(
        CoinGeckoPlan::Pro,
        Some("2024-03-01"),
        "2024-03-04T08:00:00Z",
    )
}

/// The Demo fixture: 366 daily points up to 2025-01-14 00:00.
fn demo_chart() -> Answer {
    Answer::ok(fixture(DEMO_CHART))
}

fn rate_limited() -> Answer {
    Answer::status(429, fixture("coingecko/error_429_rate_limited.json"))
}

/// A Pro fake answering `ohlc` to every `/ohlc/range` request and `chart` to every other one.
async fn pro_fake(ohlc: impl Into<String>, chart: impl Into<String>) -> Fake {
    let (ohlc, chart) = (Answer::ok(ohlc), Answer::ok(chart));
    Fake::start(move |seen, _| {
        if seen.path.ends_with("/ohlc/range") {
            ohlc.clone()
        } else {
            chart.clone()
        }
    })
    .await
}

fn ms(text: &str) -> i64 {
    at(text).timestamp_millis()
}

/// Serves the Pro fixtures, filtered to each request's from/to the way the live API would.
fn pro_fixture_server(seen: &Seen) -> Answer {
    let midnight = |text: &str| -> i64 {
        format!("{text}T00:00:00Z")
            .parse::<DateTime<Utc>>()
            .map_or(0, |t| t.timestamp_millis())
    };
    let secs = |text: &str| text.parse::<i64>().map_or(0, |s| s * 1000);
    let in_range =
        |row: &Value, from: i64, to: i64| row[0].as_i64().is_some_and(|t| t >= from && t <= to);
    match seen.path.as_str() {
        "/coins/bitcoin/ohlc/range" => {
            let (from, to) = (midnight(seen.param("from")), midnight(seen.param("to")));
            let rows: Vec<Value> =
                serde_json::from_str(&fixture(PRO_OHLC)).expect("fixture is JSON");
            let kept: Vec<&Value> = rows.iter().filter(|r| in_range(r, from, to)).collect();
            Answer::ok(serde_json::to_string(&kept).expect("serialise"))
        }
        "/coins/bitcoin/market_chart/range" => {
            let (from, to) = (secs(seen.param("from")), secs(seen.param("to")));
            let chart: Value = serde_json::from_str(&fixture(PRO_CHART)).expect("fixture is JSON");
            let part = |name: &str| -> Vec<Value> {
                chart[name]
                    .as_array()
                    .expect("array")
                    .iter()
                    .filter(|r| in_range(r, from, to))
                    .cloned()
                    .collect()
            };
            let body = json!({"prices": part("prices"), "market_caps": part("market_caps"), "total_volumes": part("total_volumes")});
            Answer::ok(body.to_string())
        }
        _ => Answer::status(404, fixture("coingecko/error_404_coin_not_found.json")),
    }
}

#[tokio::test]
async fn demo_plan_derives_daily_candles_from_the_market_chart_fixture() {
    let fake = Fake::answering(demo_chart()).await;
    let candles = demo().fetch(&fake).await.expect("candles");

    let seen = fake.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/coins/bitcoin/market_chart");
    assert_eq!(seen[0].param("vs_currency"), "usd");
    assert_eq!(seen[0].param("days"), "365");
    assert_eq!(seen[0].param("interval"), "daily");
    assert_eq!(seen[0].header("x-cg-demo-api-key"), Some(KEY));
    assert_eq!(seen[0].header("x-cg-pro-api-key"), None);

    // 366 points: the first only opens 2024-01-15; the point at 2025-01-14 00:00 closes 2025-01-13.
    assert_eq!(candles.len(), 365);
    let first = &candles[0];
    assert_eq!(first.day(), day("2024-01-15"));
    assert_eq!(
        first.values(),
        Ohlcv {
            open: dec!(41800.93282193406),
            high: dec!(42587.336038354406),
            low: dec!(41800.93282193406),
            close: dec!(42587.336038354406),
            volume: dec!(22634527323.56315),
        }
    );
    let last = candles.last().expect("a last candle");
    assert_eq!(last.day(), day("2025-01-13"));
    assert_eq!(last.values().open, dec!(94454.77089638807));
    assert_eq!(last.values().close, dec!(94456.3493746993));
    assert_eq!(last.values().volume, dec!(76328330233.31137));
    assert!(
        candles
            .iter()
            .all(|c| c.is_complete() && c.origin() == CandleOrigin::CoinGeckoMarketChart)
    );
    assert!(
        candles
            .windows(2)
            .all(|w| w[1].day() == w[0].day().succ_opt().expect("next day"))
    );
}

/// The number texts of a fixture's `[[…],[…]]` array (the object key, or the whole body), split per row.
fn raw_rows(body: &str, key: Option<&str>) -> Vec<Vec<Decimal>> {
    let start = key.map_or(0, |k| {
        body.find(&format!("\"{k}\":")).expect("key present") + k.len() + 3
    });
    let text = &body[start..];
    let end = text.find("]]").expect("array end");
    text[2..end]
        .split("],[")
        .map(|row| {
            row.split(',')
                .map(|n| n.trim().parse::<Decimal>().expect("decimal text"))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn every_demo_close_equals_the_fixture_text_exactly() {
    let body = fixture(DEMO_CHART);
    let fake = Fake::answering(demo_chart()).await;
    let candles = demo().fetch(&fake).await.expect("candles");
    let prices = raw_rows(&body, Some("prices"));
    let volumes = raw_rows(&body, Some("total_volumes"));
    assert_eq!(candles.len() + 1, prices.len());
    for (i, candle) in candles.iter().enumerate() {
        let v = candle.values();
        assert_eq!(
            (v.open, v.close, v.volume),
            (prices[i][1], prices[i + 1][1], volumes[i + 1][1]),
            "{}",
            candle.day()
        );
    }
}

#[tokio::test]
async fn every_pro_value_equals_the_fixture_text_exactly() {
    let ohlc = raw_rows(&fixture(PRO_OHLC), None);
    let fake = Fake::start(|seen, _| pro_fixture_server(seen)).await;
    let candles = pro_first_half_of_2024()
        .fetch(&fake)
        .await
        .expect("candles");
    assert_eq!(candles.len(), ohlc.len());
    for (candle, row) in candles.iter().zip(&ohlc) {
        let v = candle.values();
        assert_eq!(
            [v.open, v.high, v.low, v.close],
            [row[1], row[2], row[3], row[4]],
            "{}",
            candle.day()
        );
    }
}

#[tokio::test]
async fn pro_plan_joins_daily_ohlc_with_daily_volume_from_the_fixtures() {
    let fake = Fake::start(|seen, _| pro_fixture_server(seen)).await;
    let candles = pro_first_half_of_2024()
        .fetch(&fake)
        .await
        .expect("candles");

    let seen = fake.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].path, "/coins/bitcoin/ohlc/range");
    assert_eq!(
        (
            seen[0].param("vs_currency"),
            seen[0].param("from"),
            seen[0].param("to"),
            seen[0].param("interval")
        ),
        ("usd", "2024-01-01", "2024-06-29", "daily")
    );
    assert_eq!(seen[1].path, "/coins/bitcoin/market_chart/range");
    assert_eq!(
        (seen[1].param("from"), seen[1].param("to")),
        ("1704067200", "1719619200")
    );
    assert_eq!(seen[1].param("interval"), "daily");
    for s in &seen {
        assert_eq!(s.header("x-cg-pro-api-key"), Some(KEY));
        assert_eq!(s.header("x-cg-demo-api-key"), None);
    }

    // Rows stamped 2024-01-02 … 2024-06-29 00:00 are the days 2024-01-01 … 2024-06-28.
    assert_eq!(candles.len(), 180);
    assert_eq!(candles[0].day(), day("2024-01-01"));
    assert_eq!(
        candles[0].values(),
        Ohlcv {
            open: dec!(42283.58),
            high: dec!(44184.1),
            low: dec!(42180.77),
            close: dec!(44179.55),
            volume: dec!(16958999497.58364),
        }
    );
    let last = candles.last().expect("a last candle");
    assert_eq!(last.day(), day("2024-06-28"));
    assert_eq!(
        last.values(),
        Ohlcv {
            open: dec!(61706.46),
            high: dec!(62225.31),
            low: dec!(60063),
            close: dec!(60427.84),
            volume: dec!(24399416695.150173),
        }
    );
    assert!(
        candles
            .iter()
            .all(|c| c.is_complete() && c.origin() == CandleOrigin::CoinGeckoOhlc)
    );
}

#[tokio::test]
async fn pro_plan_backfills_from_2018_02_09_in_windows_of_at_most_180_days() {
    let fake = pro_fake("[]", EMPTY_CHART).await;
    let candles = coingecko(CoinGeckoPlan::Pro, None, "2019-01-01T10:00:00Z")
        .fetch(&fake)
        .await
        .expect("no candles");
    assert!(candles.is_empty());

    let windows: Vec<(String, String)> = fake
        .requests()
        .iter()
        .filter(|s| s.path.ends_with("/ohlc/range"))
        .map(|s| (s.param("from").to_owned(), s.param("to").to_owned()))
        .collect();
    let expected = [("2018-02-09", "2018-08-08"), ("2018-08-08", "2019-01-01")];
    assert_eq!(windows, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    for (from, to) in &windows {
        assert!((day(to) - day(from)).num_days() <= 180, "{from}..{to}");
    }
    let volume_windows: Vec<String> = fake
        .requests()
        .iter()
        .filter(|s| s.path.ends_with("/market_chart/range"))
        .map(|s| s.param("from").to_owned())
        .collect();
    assert_eq!(volume_windows, ["1518134400", "1533686400"]);
}

#[tokio::test]
async fn pro_plan_gives_volume_zero_for_a_day_without_a_volume_point() {
    let ohlc = json!([
        [ms("2024-03-02T00:00:00Z"), 10.0, 12.0, 9.0, 11.0],
        [ms("2024-03-03T00:00:00Z"), 11.0, 13.0, 10.5, 12.5]
    ]);
    let chart = json!({"prices": [], "market_caps": [], "total_volumes": [[ms("2024-03-02T00:00:00Z"), 777.25]]});
    let fake = pro_fake(ohlc.to_string(), chart.to_string()).await;
    let candles = pro_early_march().fetch(&fake).await.expect("candles");
    assert_eq!(candles.len(), 2);
    assert_eq!(
        (candles[0].day(), candles[0].values().volume),
        (day("2024-03-01"), dec!(777.25))
    );
    assert_eq!(
        (candles[1].day(), candles[1].values().volume),
        (day("2024-03-02"), dec!(0))
    );
}

#[tokio::test]
async fn keyless_plan_sends_no_api_key_header() {
    let fake = Fake::answering(demo_chart()).await;
    coingecko(CoinGeckoPlan::Keyless, None, DEMO_NOW)
        .fetch(&fake)
        .await
        .expect("candles");
    let seen = fake.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-cg-demo-api-key"), None);
    assert_eq!(seen[0].header("x-cg-pro-api-key"), None);
}

#[tokio::test]
async fn the_trailing_request_time_point_becomes_an_incomplete_candle_for_today() {
    let mut chart: Value = serde_json::from_str(&fixture(DEMO_CHART)).expect("fixture is JSON");
    for (series, value) in [
        ("prices", 95000.5),
        ("market_caps", 1.9e12),
        ("total_volumes", 1234.5),
    ] {
        chart[series]
            .as_array_mut()
            .expect("array")
            .push(json!([ms(DEMO_NOW), value]));
    }
    let fake = Fake::answering(Answer::ok(chart.to_string())).await;
    let candles = demo().fetch(&fake).await.expect("candles");

    assert_eq!(candles.len(), 366);
    let today = candles.last().expect("today");
    assert_eq!(today.day(), day("2025-01-14"));
    assert!(!today.is_complete());
    assert_eq!(
        today.values(),
        Ohlcv {
            open: dec!(94456.3493746993),
            high: dec!(95000.5),
            low: dec!(94456.3493746993),
            close: dec!(95000.5),
            volume: dec!(1234.5),
        }
    );
    let yesterday = &candles[candles.len() - 2];
    assert_eq!(yesterday.day(), day("2025-01-13"));
    assert!(yesterday.is_complete());
}

#[tokio::test]
async fn demo_plan_asks_only_for_the_days_since_from_and_returns_days_from_it_on() {
    let fake = Fake::answering(demo_chart()).await;
    let candles = coingecko(CoinGeckoPlan::Demo, Some("2025-01-04"), DEMO_NOW)
        .fetch(&fake)
        .await
        .expect("candles");
    assert_eq!(fake.requests()[0].param("days"), "11");
    let days: Vec<_> = candles.iter().map(Candle::day).collect();
    assert_eq!(days.first().copied(), Some(day("2025-01-04")));
    assert_eq!(days.last().copied(), Some(day("2025-01-13")));
    assert_eq!(days.len(), 10);
}

#[tokio::test]
async fn demo_plan_tolerates_missing_days_and_points_a_few_minutes_after_midnight() {
    // 03-01 closes at 03-02 00:05 (off midnight); nothing closes 03-02 (no point at 03-03 00:00);
    // market_caps is shorter and total_volumes lacks the last point, so only timestamps can join them.
    let chart = json!({
        "prices": [[ms("2024-03-01T00:00:00Z"), 100.0], [ms("2024-03-02T00:05:18Z"), 110.0], [ms("2024-03-04T00:00:00Z"), 120.0]],
        "market_caps": [[ms("2024-03-04T00:00:00Z"), 5.0]],
        "total_volumes": [[ms("2024-03-01T00:00:00Z"), 1.0], [ms("2024-03-02T00:05:18Z"), 2.5]],
    });
    let fake = Fake::answering(Answer::ok(chart.to_string())).await;
    let candles = coingecko(CoinGeckoPlan::Demo, None, "2024-03-05T12:00:00Z")
        .fetch(&fake)
        .await
        .expect("candles");
    let got: Vec<_> = candles.iter().map(|c| (c.day(), c.values())).collect();
    assert_eq!(
        got,
        vec![
            (
                day("2024-03-01"),
                Ohlcv {
                    open: dec!(100),
                    high: dec!(110),
                    low: dec!(100),
                    close: dec!(110),
                    volume: dec!(2.5)
                }
            ),
            (
                day("2024-03-03"),
                Ohlcv {
                    open: dec!(110),
                    high: dec!(120),
                    low: dec!(110),
                    close: dec!(120),
                    volume: dec!(0)
                }
            ),
        ]
    );
}

#[tokio::test]
async fn a_rate_limit_with_retry_after_is_waited_out_then_retried() {
    let candles = demo()
        .waits_out_a_retry_after(rate_limited(), demo_chart())
        .await;
    assert_eq!(candles.len(), 365);
}

#[tokio::test]
async fn a_rate_limit_that_never_lifts_ends_in_rate_limited() {
    demo()
        .gives_up_on_a_rate_limit_that_never_lifts(rate_limited())
        .await;
}

#[tokio::test]
async fn a_retry_after_longer_than_max_retry_wait_fails_at_once_with_rate_limited() {
    demo()
        .fails_at_once_on_a_long_retry_after(rate_limited(), 3600)
        .await;
}

#[tokio::test]
async fn a_retry_after_given_as_an_http_date_is_understood() {
    demo().understands_a_retry_after_http_date().await;
}

#[tokio::test]
async fn a_server_error_is_retried_until_it_succeeds() {
    let candles = demo()
        .retries_a_server_error(Answer::status(500, "internal error"), demo_chart())
        .await;
    assert_eq!(candles.len(), 365);
}

#[tokio::test]
async fn a_persistent_server_error_ends_in_an_http_error_with_the_start_of_the_body() {
    let busy = Answer::status(503, format!("<html>{}</html>", "busy ".repeat(200)));
    let body = demo().gives_up_on_a_persistent_server_error(busy).await;
    assert!(body.starts_with("<html>busy"), "{body}");
    assert!(
        body.chars().count() <= 201,
        "{} chars",
        body.chars().count()
    );
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_ends_in_a_network_error() {
    demo().times_out_on_a_slow_answer().await;
}

#[tokio::test]
async fn an_unreachable_server_ends_in_a_network_error() {
    demo().cannot_connect_to_a_closed_port().await;
}

#[tokio::test]
async fn a_malformed_body_is_reported_as_malformed() {
    let cases = [
        ("not JSON", "<html>oops</html>".to_owned()),
        (
            "price is a string",
            json!({"prices": [[1705276800000_i64, "abc"]], "total_volumes": []}).to_string(),
        ),
        (
            "price is null",
            json!({"prices": [[1705276800000_i64, null]], "total_volumes": []}).to_string(),
        ),
        (
            "point is not a pair",
            json!({"prices": [[1705276800000_i64]], "total_volumes": []}).to_string(),
        ),
        ("no total_volumes", json!({"prices": []}).to_string()),
        ("an array instead of an object", "[]".to_owned()),
    ];
    demo().rejects_each_as_malformed(cases).await;
}

#[tokio::test]
async fn a_malformed_pro_ohlc_row_is_reported_as_malformed() {
    let fake = pro_fake(r#"[[1709337600000, 1, 2, 1]]"#, EMPTY_CHART).await;
    let error = pro_early_march().fetch(&fake).await.expect_err("malformed");
    assert!(
        matches!(&error, SourceError::Malformed { detail, .. } if detail.contains("ohlc[0]")),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unknown_coin_id_is_reported_with_a_hint() {
    let by_ticker = Subject {
        instrument: support::instrument("BTC", SourceKind::CoinGecko, "BTC"),
        ..demo()
    };
    let not_found = Answer::status(404, fixture("coingecko/error_404_coin_not_found.json"));
    let (fake, detail) = by_ticker.reports_an_unknown_id(not_found, "BTC").await;
    assert!(
        detail.contains("`bitcoin` not `BTC`") && detail.contains("coin not found"),
        "{detail}"
    );
    assert_eq!(fake.requests()[0].path, "/coins/BTC/market_chart");
}

#[tokio::test]
async fn the_demo_time_range_error_10012_is_refused_with_an_explanation() {
    let fake = Fake::answering(Answer::status(
        401,
        fixture("coingecko/error_401_demo_time_range_exceeded_10012.json"),
    ))
    .await;
    let error = demo().fetch(&fake).await.expect_err("refused");
    assert!(
        matches!(&error, SourceError::Refused { status: 401, detail, .. } if detail.contains("365 days")),
        "{error:?}"
    );
    assert_eq!(fake.requests().len(), 1, "a refusal is not retried");
}

#[tokio::test]
async fn a_rejected_key_is_refused_with_advice_and_the_key_never_appears_in_the_error() {
    let fake = Fake::answering(Answer::status(
        401,
        format!(r#"{{"status":{{"error_code":10002,"error_message":"Invalid API key {KEY}"}}}}"#),
    ))
    .await;
    let error = demo().fetch(&fake).await.expect_err("refused");
    let text = error.to_string();
    assert!(
        matches!(error, SourceError::Refused { status: 401, .. }),
        "{error:?}"
    );
    assert!(
        text.contains("BARTER_COINGECKO_API_KEY") && text.contains("plan = \"demo\""),
        "{text}"
    );
    assert!(
        !text.contains(KEY) && !format!("{error:?}").contains(KEY),
        "{text}"
    );
}

#[tokio::test]
async fn a_pro_candle_with_high_below_close_is_rejected_as_invalid() {
    let ohlc = json!([[1709337600000_i64, 100.0, 90.0, 80.0, 95.0]]);
    let fake = pro_fake(ohlc.to_string(), EMPTY_CHART).await;
    let error = pro_early_march().fetch(&fake).await.expect_err("invalid");
    support::assert_invalid_candle(&error, SourceKind::CoinGecko, "high", day("2024-03-01"));
}

#[test]
fn config_has_documented_defaults_refuses_unknown_fields_and_never_writes_the_key() {
    let defaults: CoinGeckoConfig = serde_json::from_str("{}").expect("empty config");
    assert_eq!(defaults.base_url, "https://api.coingecko.com/api/v3");
    assert_eq!(defaults.plan, CoinGeckoPlan::Demo);
    assert_eq!(
        (
            defaults.requests_per_minute,
            defaults.timeout_secs,
            defaults.max_retries
        ),
        (30, 30.0, 4)
    );
    assert_eq!(
        (defaults.backoff_base_secs, defaults.max_retry_wait_secs),
        (2.0, 120.0)
    );
    let pro: CoinGeckoConfig = serde_json::from_str(r#"{"plan":"pro"}"#).expect("pro config");
    assert_eq!(pro.plan, CoinGeckoPlan::Pro);
    assert!(serde_json::from_str::<CoinGeckoConfig>(r#"{"api_key":"x"}"#).is_err());
    assert!(serde_json::from_str::<CoinGeckoConfig>(r#"{"plan":"gold"}"#).is_err());

    let with_key = CoinGeckoConfig {
        api_key: Some(KEY.to_owned()),
        ..defaults
    };
    let written = serde_json::to_string(&with_key).expect("serialise");
    assert!(
        !written.contains(KEY) && !written.contains("api_key"),
        "{written}"
    );
    assert!(!format!("{with_key:?}").contains(KEY));
}

#[test]
fn a_demo_plan_without_a_key_is_refused_at_construction() {
    let error = CoinGeckoSource::new(CoinGeckoConfig::default()).expect_err("refused");
    assert!(
        error.to_string().contains("BARTER_COINGECKO_API_KEY"),
        "{error}"
    );
    let keyless = CoinGeckoConfig {
        plan: CoinGeckoPlan::Keyless,
        ..CoinGeckoConfig::default()
    };
    assert!(CoinGeckoSource::new(keyless).is_ok());
}

#[tokio::test]
async fn an_instrument_of_another_source_is_refused() {
    let btcusdt = support::instrument("BTC", SourceKind::Binance, "BTCUSDT");
    demo()
        .refuses_an_instrument_of_another_source(btcusdt)
        .await;
}
