//! Binance source against an in-process fake of the spot klines endpoint.

mod support;

use std::time::Duration;

use barter_core::{Candle, CandleOrigin, Day, Instrument, Ohlcv, SourceKind};
use barter_sources::{BinanceConfig, BinanceSource, FetchRequest};
use rust_decimal_macros::dec;
use serde_json::json;
use support::{Answer, Fake, Seen, Subject, Tuning, at, day, fixture};
use tokio::time::Instant;

const KLINES: &str = "binance/klines_BTCUSDT_1d_from_2026-01-01.json";
const NOW: &str = "2026-01-05T12:00:00Z";
const DAY_MS: i64 = 86_400_000;

fn btcusdt() -> Instrument {
    support::instrument("BTC", SourceKind::Binance, "BTCUSDT")
}

fn config(base_url: &str, tuning: Tuning) -> BinanceConfig {
    BinanceConfig {
        base_url: base_url.to_owned(),
        requests_per_minute: 60_000,
        timeout_secs: tuning.timeout_secs,
        max_retries: tuning.max_retries,
        backoff_base_secs: 0.01,
        max_retry_wait_secs: 5.0,
    }
}

fn request(from: Option<&str>) -> FetchRequest {
    FetchRequest {
        from: from.map(day),
        now: at(NOW),
    }
}

/// BTCUSDT from 2026-01-01, as of [`NOW`].
fn binance() -> Subject<BinanceSource> {
    Subject {
        build: Box::new(|url, tuning| {
            BinanceSource::new(config(url, tuning)).expect("valid config")
        }),
        instrument: btcusdt(),
        request: request(Some("2026-01-01")),
    }
}

/// The klines fixture: five days from 2026-01-01, the last one still running.
fn klines() -> Answer {
    Answer::ok(fixture(KLINES))
}

fn too_many_requests() -> Answer {
    Answer::status(429, fixture("binance/error_429_too_many_requests.json"))
}

fn midnight_ms(d: Day) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_millis()
}

/// A fake exchange listing a pair from `listed` to today, paging like Binance (`startTime`, `limit`).
fn listed_since(listed: Day) -> impl Fn(&Seen, usize) -> Answer + Send + Sync + 'static {
    let first_ms = midnight_ms(listed);
    let last_ms = midnight_ms(at(NOW).date_naive());
    move |seen, _| {
        let start: i64 = seen
            .param("startTime")
            .parse()
            .expect("startTime is a number");
        let limit: i64 = seen.param("limit").parse().expect("limit is a number");
        let mut open_ms = (start.max(first_ms) + DAY_MS - 1).div_euclid(DAY_MS) * DAY_MS;
        let mut rows = Vec::new();
        while open_ms <= last_ms && (rows.len() as i64) < limit {
            let k = (open_ms - first_ms) / DAY_MS;
            let open = 100 + k;
            rows.push(json!([
                open_ms,
                format!("{open}.00000000"),
                format!("{}.00000000", open + 10),
                format!("{}.00000000", open - 5),
                format!("{}.50000000", open),
                format!("{}.12500000", 10 + k),
                open_ms + DAY_MS - 1,
                "0.00000000",
                100,
                "0.00000000",
                "0.00000000",
                "0"
            ]));
            open_ms += DAY_MS;
        }
        Answer::ok(serde_json::to_string(&rows).expect("serialise"))
    }
}

#[tokio::test]
async fn klines_become_exact_candles_and_the_running_day_is_incomplete() {
    let fake = Fake::answering(klines()).await;
    let candles = binance().fetch(&fake).await.expect("candles");

    let seen = fake.requests();
    assert_eq!(seen.len(), 1, "a short page ends the fetch");
    assert_eq!(seen[0].path, "/api/v3/klines");
    assert_eq!(
        (
            seen[0].param("symbol"),
            seen[0].param("interval"),
            seen[0].param("startTime"),
            seen[0].param("limit")
        ),
        ("BTCUSDT", "1d", "1767225600000", "1000")
    );

    assert_eq!(candles.len(), 5);
    assert_eq!(candles[0].day(), day("2026-01-01"));
    assert_eq!(
        candles[0].values(),
        Ohlcv {
            open: dec!(87648.21),
            high: dec!(88919.45),
            low: dec!(87550.43),
            close: dec!(88839.04),
            volume: dec!(6279.57133),
        }
    );
    assert_eq!(candles[3].values().volume, dec!(10426.5297));
    let today = &candles[4];
    assert_eq!(today.day(), day("2026-01-05"));
    assert!(!today.is_complete());
    assert_eq!(today.values().close, dec!(93859.71));
    assert!(candles[..4].iter().all(Candle::is_complete));
    assert!(
        candles
            .iter()
            .all(|c| c.origin() == CandleOrigin::BinanceKlines)
    );
}

#[tokio::test]
async fn history_longer_than_one_page_is_fetched_page_by_page_from_the_listing_day() {
    let listed = day("2026-01-05") - chrono::Days::new(2499);
    let fake = Fake::start(listed_since(listed)).await;
    let all_history = Subject {
        request: request(None),
        ..binance()
    };
    let candles = all_history.fetch(&fake).await.expect("candles");

    let starts: Vec<i64> = fake
        .requests()
        .iter()
        .map(|s| s.param("startTime").parse().expect("number"))
        .collect();
    let page = |n: u64| midnight_ms(listed + chrono::Days::new(n));
    assert_eq!(starts, vec![0, page(1000), page(2000)]);
    assert_eq!(candles.len(), 2500);
    assert_eq!(candles[0].day(), listed);
    assert_eq!(candles[0].values().close, dec!(100.5));
    assert_eq!(candles[2499].values().volume, dec!(2509.125));
    assert!(
        candles
            .windows(2)
            .all(|w| w[1].day() == w[0].day().succ_opt().expect("next day"))
    );
    assert!(!candles[2499].is_complete() && candles[2498].is_complete());
}

#[tokio::test]
async fn a_full_page_that_reaches_today_ends_the_pagination() {
    let listed = day("2026-01-05") - chrono::Days::new(1999);
    let fake = Fake::start(listed_since(listed)).await;
    let since_2010 = Subject {
        request: request(Some("2010-01-01")),
        ..binance()
    };
    let candles = since_2010.fetch(&fake).await.expect("candles");
    assert_eq!(fake.requests().len(), 2);
    assert_eq!(candles.len(), 2000);
}

#[tokio::test]
async fn a_rate_limit_with_retry_after_is_waited_out_then_retried() {
    let candles = binance()
        .waits_out_a_retry_after(too_many_requests(), klines())
        .await;
    assert_eq!(candles.len(), 5);
}

#[tokio::test]
async fn a_rate_limit_that_never_lifts_ends_in_rate_limited() {
    binance()
        .gives_up_on_a_rate_limit_that_never_lifts(too_many_requests())
        .await;
}

#[tokio::test]
async fn an_ip_ban_418_with_a_long_retry_after_ends_in_rate_limited_without_waiting() {
    let banned = Answer::status(
        418,
        r#"{"code":-1003,"msg":"Way too much request weight used; IP banned until 1767621600000."}"#,
    );
    binance()
        .fails_at_once_on_a_long_retry_after(banned, 7200)
        .await;
}

#[tokio::test]
async fn a_retry_after_given_as_an_http_date_is_understood() {
    binance().understands_a_retry_after_http_date().await;
}

#[tokio::test]
async fn a_server_error_is_retried_until_it_succeeds() {
    let candles = binance()
        .retries_a_server_error(Answer::status(500, ""), klines())
        .await;
    assert_eq!(candles.len(), 5);
}

#[tokio::test]
async fn a_persistent_server_error_ends_in_an_http_error() {
    let body = binance()
        .gives_up_on_a_persistent_server_error(Answer::status(502, "Bad Gateway"))
        .await;
    assert_eq!(body, "Bad Gateway");
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_ends_in_a_network_error() {
    binance().times_out_on_a_slow_answer().await;
}

#[tokio::test]
async fn an_unreachable_server_ends_in_a_network_error() {
    binance().cannot_connect_to_a_closed_port().await;
}

#[tokio::test]
async fn a_malformed_body_is_reported_as_malformed() {
    let row = |open: serde_json::Value| {
        json!([[
            1767225600000_i64,
            open,
            "2",
            "0.5",
            "1.5",
            "10",
            1767311999999_i64
        ]])
    };
    let cases = [
        ("not JSON", "<html>maintenance</html>".to_owned()),
        ("an object", r#"{"code":0}"#.to_owned()),
        (
            "a price that is not a decimal",
            row(json!("abc")).to_string(),
        ),
        ("a null price", row(json!(null)).to_string()),
        (
            "a short row",
            json!([[1767225600000_i64, "1", "2"]]).to_string(),
        ),
        (
            "an openTime that is text",
            json!([["x", "1", "2", "0.5", "1.5", "10", 1]]).to_string(),
        ),
    ];
    binance().rejects_each_as_malformed(cases).await;
}

#[tokio::test]
async fn an_instrument_of_another_source_is_refused() {
    let bitcoin = support::instrument("BTC", SourceKind::CoinGecko, "bitcoin");
    binance()
        .refuses_an_instrument_of_another_source(bitcoin)
        .await;
}

#[tokio::test]
async fn an_unknown_symbol_is_reported_with_a_hint() {
    let lower_case = Subject {
        instrument: support::instrument("BTC", SourceKind::Binance, "btc"),
        request: request(None),
        ..binance()
    };
    let invalid_symbol = Answer::status(400, fixture("binance/error_400_invalid_symbol.json"));
    let (fake, detail) = lower_case
        .reports_an_unknown_id(invalid_symbol, "BTC")
        .await;
    assert!(
        detail.contains("Invalid symbol.") && detail.contains("`BTCUSDT`"),
        "{detail}"
    );
    assert_eq!(fake.requests()[0].param("startTime"), "0");
}

#[tokio::test]
async fn a_kline_with_high_below_close_is_rejected_as_an_invalid_candle() {
    let fake = Fake::answering(Answer::ok(fixture("binance/klines_high_below_close.json"))).await;
    let error = binance().fetch(&fake).await.expect_err("invalid");
    support::assert_invalid_candle(&error, SourceKind::Binance, "high", day("2026-01-01"));
}

#[tokio::test]
async fn requests_are_paced_across_concurrent_fetches() {
    let fake = Fake::answering(klines()).await;
    let binance = binance();
    let source = BinanceSource::new(BinanceConfig {
        requests_per_minute: 120,
        ..config(&fake.url, Tuning::default())
    })
    .expect("valid config");
    let started = Instant::now();
    let (a, b, c) = tokio::join!(
        binance.fetch_from(&source),
        binance.fetch_from(&source),
        binance.fetch_from(&source)
    );
    let elapsed = started.elapsed();
    for result in [a, b, c] {
        assert_eq!(result.expect("candles").len(), 5);
    }
    assert!(
        elapsed >= Duration::from_millis(950),
        "3 requests at 120/min took only {elapsed:?}"
    );
    let seen = fake.requests();
    assert_eq!(seen.len(), 3);
    for pair in seen.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(450),
            "requests only {gap:?} apart"
        );
    }
}

#[test]
fn config_has_documented_defaults_and_refuses_unknown_fields() {
    let defaults: BinanceConfig = serde_json::from_str("{}").expect("empty config");
    assert_eq!(defaults.base_url, "https://api.binance.com");
    assert_eq!(defaults.requests_per_minute, 600);
    assert!(serde_json::from_str::<BinanceConfig>(r#"{"api_key":"x"}"#).is_err());
    let zero = BinanceConfig {
        requests_per_minute: 0,
        ..BinanceConfig::default()
    };
    assert!(BinanceSource::new(zero).is_err());
    let negative = BinanceConfig {
        timeout_secs: -1.0,
        ..BinanceConfig::default()
    };
    assert!(
        BinanceSource::new(negative)
            .expect_err("refused")
            .to_string()
            .contains("timeout_secs")
    );
}

/// Issue 12: a body past the size limit is refused, whether announced or streamed.
#[tokio::test]
async fn a_body_larger_than_the_limit_is_refused_announced_or_streamed() {
    let mib = "x".repeat(1 << 20);
    let over = barter_sources::MAX_RESPONSE_BYTES / (1 << 20) + 1;
    for answer in [
        Answer::ok(mib.repeat(over)),
        Answer::ok(mib.clone()).streamed(over),
    ] {
        let fake = Fake::answering(answer).await;
        let error = binance().fetch(&fake).await.expect_err("too large");
        let message = error.to_string();
        assert!(
            matches!(error, barter_sources::SourceError::Malformed { .. }),
            "{message}"
        );
        assert!(
            message.contains("larger than the limit of 67108864 bytes"),
            "{message}"
        );
        assert_eq!(fake.requests().len(), 1, "not retried");
    }
}

/// Issue 12: an error quotes a body only as a short printable excerpt.
#[tokio::test]
async fn an_error_body_is_quoted_only_as_a_short_printable_excerpt() {
    let body = format!("\u{1b}[2J{}\0{}", "s".repeat(500), "t".repeat(500));
    let fake = Fake::answering(Answer::status(400, body)).await;
    let error = binance().fetch(&fake).await.expect_err("refused");
    let message = error.to_string();
    assert!(!message.contains('\u{1b}'), "{message:?}");
    assert!(!message.contains("tttt"), "{message}");
    assert!(message.len() < 400, "{message}");

    let garbage = format!("[[1767225600000, \"{}\"]]", "9".repeat(100_000));
    let fake = Fake::answering(Answer::ok(garbage)).await;
    let message = binance()
        .fetch(&fake)
        .await
        .expect_err("malformed")
        .to_string();
    assert!(message.len() < 1024, "{} bytes", message.len());
}

/// A kline price with more than 28 decimal places is refused rather than rounded.
#[tokio::test]
async fn a_kline_price_with_29_decimal_places_is_malformed() {
    let open = 1_767_225_600_000i64;
    let body = json!([[
        open,
        "1.00000000000000000000000000001",
        "2",
        "1",
        "1.5",
        "10",
        open + DAY_MS - 1
    ]]);
    let fake = Fake::answering(Answer::ok(body.to_string())).await;
    let message = binance()
        .fetch(&fake)
        .await
        .expect_err("too precise")
        .to_string();
    assert!(
        message.contains("open \"1.00000000000000000000000000001\" is not an exact decimal number"),
        "{message}"
    );
}
