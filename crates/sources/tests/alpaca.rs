//! Alpaca daily bars against an in-process fake of `GET /v2/stocks/{symbol}/bars`.

mod support;

use std::str::FromStr;

use barter_core::{CandleOrigin, Instrument, SourceKind};
use barter_sources::alpaca::{KEY_ID_ENV, MAX_PAGES, SECRET_KEY_ENV};
use barter_sources::{
    AlpacaAdjustment, AlpacaBarsSource, AlpacaConfig, AlpacaFeed, DataSource, FetchRequest,
    SourceError,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use support::{Answer, Fake, Seen, Subject, Tuning, at, day};

const PAGE_1: &str = include_str!("fixtures/alpaca/bars_SPY_page1.json");
const PAGE_2: &str = include_str!("fixtures/alpaca/bars_SPY_page2.json");
const PAGE_3: &str = include_str!("fixtures/alpaca/bars_SPY_page3.json");
const EMPTY: &str = include_str!("fixtures/alpaca/bars_SPY_empty.json");
const UNAUTHORIZED: &str = include_str!("fixtures/alpaca/error_401_unauthorized.json");
const INVALID_START: &str = include_str!("fixtures/alpaca/error_422_invalid_start.json");
const INVALID_FEED: &str = include_str!("fixtures/alpaca/error_400_invalid_feed.json");

/// The tokens page 1 and page 2 hand out (see the fixtures).
const TOKEN_2: &str = "U1BZfDIwMjYtMDMtMDVUMDU6MDA6MDBa";
const TOKEN_3: &str = "U1BZfDIwMjYtMDMtMDlUMDQ6MDA6MDBa";

/// Tuesday 2026-03-10, 11:00 in New York (EDT): the 10th is in progress.
const NOW: &str = "2026-03-10T15:00:00Z";
const KEY_ID: &str = "PKTEST1234567890ABCD";
const SECRET: &str = "s3cr3t-alpaca-value-0123456789";

fn spy() -> Instrument {
    support::instrument("SPY", SourceKind::Alpaca, "spy")
}

fn config(base_url: &str, tuning: Tuning) -> AlpacaConfig {
    AlpacaConfig {
        base_url: base_url.to_owned(),
        requests_per_minute: 60_000,
        timeout_secs: tuning.timeout_secs,
        max_retries: tuning.max_retries,
        backoff_base_secs: 0.01,
        max_retry_wait_secs: 5.0,
        key_id: Some(KEY_ID.to_owned()),
        secret_key: Some(SECRET.to_owned()),
        ..AlpacaConfig::default()
    }
}

fn request(from: Option<&str>) -> FetchRequest {
    FetchRequest {
        from: from.map(day),
        now: at(NOW),
    }
}

/// SPY from 2026-03-04, as of [`NOW`].
fn alpaca() -> Subject<AlpacaBarsSource> {
    Subject {
        build: Box::new(|url, tuning| {
            AlpacaBarsSource::new(config(url, tuning)).expect("valid config")
        }),
        instrument: spy(),
        request: request(Some("2026-03-04")),
    }
}

/// Whether a request carries both halves of the test key pair.
fn authorized(seen: &Seen) -> bool {
    seen.header("apca-api-key-id") == Some(KEY_ID)
        && seen.header("apca-api-secret-key") == Some(SECRET)
}

/// The documented three pages, chained by `next_page_token`; 401 without the key pair.
fn three_pages(seen: &Seen, _: usize) -> Answer {
    if !authorized(seen) {
        return Answer::status(401, UNAUTHORIZED);
    }
    if seen.path != "/v2/stocks/SPY/bars" {
        return Answer::status(404, r#"{"message":"Not Found"}"#);
    }
    match seen.param("page_token") {
        "" => Answer::ok(PAGE_1),
        TOKEN_2 => Answer::ok(PAGE_2),
        TOKEN_3 => Answer::ok(PAGE_3),
        _ => Answer::status(400, r#"{"message":"invalid page_token"}"#),
    }
}

/// One page holding `bar` (a JSON object), with no next page.
fn one_bar(bar: &str) -> Answer {
    Answer::ok(format!(
        r#"{{"bars":[{bar}],"symbol":"SPY","next_page_token":null}}"#
    ))
}

#[tokio::test]
async fn three_pages_become_exact_candles_dated_in_new_york_across_the_dst_change() {
    let fake = Fake::start(three_pages).await;
    let candles = alpaca().fetch(&fake).await.expect("candles");
    let days: Vec<String> = candles.iter().map(|c| c.day().to_string()).collect();
    // 05:00 UTC stamps before the 2026-03-08 change and 04:00 UTC after are all New York
    // midnights: the bar's date, never the day before.
    assert_eq!(
        days,
        [
            "2026-03-04",
            "2026-03-05",
            "2026-03-06",
            "2026-03-09",
            "2026-03-10"
        ]
    );
    let first = &candles[0];
    assert_eq!(first.values().open, dec!(585.1234));
    assert_eq!(first.values().low, dec!(583.01));
    // 21 digits: beyond both u64 and f64, kept digit for digit.
    assert_eq!(
        first.values().volume,
        Decimal::from_str("123456789012345678901").expect("decimal")
    );
    assert_eq!(candles[3].values().open, dec!(582));
    assert!(
        candles
            .iter()
            .all(|c| c.origin() == CandleOrigin::AlpacaBars)
    );
    let complete: Vec<bool> = candles.iter().map(|c| c.is_complete()).collect();
    assert_eq!(complete, [true, true, true, true, false]);

    let seen = fake.requests();
    assert_eq!(seen.len(), 3);
    let tokens: Vec<&str> = seen.iter().map(|s| s.param("page_token")).collect();
    assert_eq!(tokens, ["", TOKEN_2, TOKEN_3]);
    for s in &seen {
        assert_eq!(s.path, "/v2/stocks/SPY/bars");
        assert_eq!(s.param("timeframe"), "1Day");
        assert_eq!(s.param("start"), "2026-03-04");
        assert_eq!(s.param("end"), "2026-03-10T15:00:00Z");
        assert_eq!(s.param("limit"), "10000");
        assert_eq!(s.param("feed"), "iex");
        assert_eq!(s.param("adjustment"), "raw");
    }
}

#[tokio::test]
async fn feed_and_adjustment_come_from_the_config_and_all_history_starts_early() {
    let fake = Fake::answering(Answer::ok(EMPTY)).await;
    let source = AlpacaBarsSource::new(AlpacaConfig {
        feed: AlpacaFeed::Sip,
        adjustment: AlpacaAdjustment::Split,
        ..config(&fake.url, Tuning::default())
    })
    .expect("valid config");
    let candles = source
        .fetch_daily(&spy(), &request(None))
        .await
        .expect("no bars is no candles");
    assert!(candles.is_empty());
    let seen = fake.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].param("feed"), "sip");
    assert_eq!(seen[0].param("adjustment"), "split");
    assert_eq!(seen[0].param("start"), "2000-01-01");
    // The free plan refuses SIP data of the latest 15 minutes.
    assert_eq!(seen[0].param("end"), "2026-03-10T14:45:00Z");
}

#[tokio::test]
async fn the_new_york_day_stays_incomplete_just_after_midnight_utc() {
    // 2026-03-11 00:30 UTC is still the 10th in New York (20:30 EDT): extended hours may still
    // change the 10th's bar, so it stays incomplete although the UTC day has moved on.
    let fake = Fake::start(three_pages).await;
    let source = AlpacaBarsSource::new(config(&fake.url, Tuning::default())).expect("valid");
    let late = FetchRequest {
        from: Some(day("2026-03-09")),
        now: at("2026-03-11T00:30:00Z"),
    };
    let candles = source.fetch_daily(&spy(), &late).await.expect("candles");
    let flags: Vec<(String, bool)> = candles
        .iter()
        .map(|c| (c.day().to_string(), c.is_complete()))
        .collect();
    assert_eq!(
        flags,
        [("2026-03-09".into(), true), ("2026-03-10".into(), false)]
    );
}

#[tokio::test]
async fn both_keys_are_sent_and_a_401_names_the_variables_never_the_secret() {
    let fake = Fake::start(three_pages).await;
    let wrong = AlpacaBarsSource::new(AlpacaConfig {
        secret_key: Some("another-secret-9876543210".to_owned()),
        ..config(&fake.url, Tuning::default())
    })
    .expect("valid config");
    let error = wrong
        .fetch_daily(&spy(), &request(Some("2026-03-04")))
        .await
        .expect_err("unauthorized");
    assert!(
        matches!(error, SourceError::Refused { status: 401, .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains(KEY_ID_ENV) && text.contains(SECRET_KEY_ENV),
        "{text}"
    );
    assert!(text.contains("unauthorized"), "{text}");
    assert!(!text.contains("another-secret"), "{text}");
    assert!(!format!("{wrong:?}").contains("another-secret"));
    assert_eq!(fake.requests().len(), 1, "a 401 is not retried");
}

#[tokio::test]
async fn a_body_echoing_the_secret_is_scrubbed_from_the_error() {
    let body = format!(r#"{{"message":"forbidden for key {KEY_ID} / {SECRET}"}}"#);
    let fake = Fake::answering(Answer::status(403, body)).await;
    let error = alpaca().fetch(&fake).await.expect_err("forbidden");
    let text = error.to_string();
    assert!(
        matches!(error, SourceError::Refused { status: 403, .. }),
        "{error:?}"
    );
    assert!(!text.contains(SECRET) && !text.contains(KEY_ID), "{text}");
    assert!(text.contains("feed = \"iex\""), "{text}");
}

#[test]
fn a_missing_key_is_refused_naming_its_variable() {
    let no_id = AlpacaBarsSource::new(AlpacaConfig {
        key_id: None,
        ..config("http://127.0.0.1:9", Tuning::default())
    })
    .expect_err("no key id");
    assert!(no_id.to_string().contains(KEY_ID_ENV), "{no_id}");
    let blank_secret = AlpacaBarsSource::new(AlpacaConfig {
        secret_key: Some("  ".to_owned()),
        ..config("http://127.0.0.1:9", Tuning::default())
    })
    .expect_err("no secret");
    assert!(
        blank_secret.to_string().contains(SECRET_KEY_ENV),
        "{blank_secret}"
    );
    let newline = AlpacaBarsSource::new(AlpacaConfig {
        secret_key: Some("abc\ndef-ghijkl".to_owned()),
        ..config("http://127.0.0.1:9", Tuning::default())
    })
    .expect_err("unsendable secret");
    let text = newline.to_string();
    assert!(
        text.contains(SECRET_KEY_ENV) && !text.contains("ghijkl"),
        "{text}"
    );
    let debug = format!("{:?}", config("http://x", Tuning::default()));
    assert!(
        !debug.contains(SECRET) && !debug.contains(KEY_ID),
        "{debug}"
    );
}

#[tokio::test]
async fn a_rate_limit_with_retry_after_is_waited_out_then_retried() {
    let candles = alpaca()
        .waits_out_a_retry_after(
            Answer::status(429, r#"{"message":"too many requests."}"#),
            Answer::ok(PAGE_3),
        )
        .await;
    assert_eq!(candles.len(), 1);
}

#[tokio::test]
async fn a_rate_limit_asking_for_a_long_wait_fails_at_once() {
    alpaca()
        .fails_at_once_on_a_long_retry_after(Answer::status(429, "{}"), 60)
        .await;
}

#[tokio::test]
async fn unprocessable_and_bad_requests_are_quoted_as_short_excerpts() {
    for (status, body) in [(422, INVALID_START), (400, INVALID_FEED)] {
        let fake = Fake::answering(Answer::status(status, body)).await;
        match alpaca().fetch(&fake).await.expect_err("refused") {
            SourceError::Http {
                status: got, body, ..
            } => {
                assert_eq!(got, status);
                assert!(body.contains("\"message\""), "{body}");
                assert!(!body.contains('\n'), "{body}");
            }
            other => panic!("expected Http {status}, got {other:?}"),
        }
    }
    let huge = format!(r#"{{"code":42210000,"message":"{}"}}"#, "x".repeat(100_000));
    let fake = Fake::answering(Answer::status(422, huge)).await;
    let text = alpaca()
        .fetch(&fake)
        .await
        .expect_err("refused")
        .to_string();
    assert!(text.len() < 1_000, "{} bytes", text.len());
}

#[tokio::test]
async fn a_repeated_next_page_token_stops_the_fetch() {
    let fake = Fake::answering(Answer::ok(PAGE_1)).await;
    let error = alpaca().fetch(&fake).await.expect_err("loops");
    assert!(matches!(error, SourceError::Malformed { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains(TOKEN_2) && text.contains("second time"),
        "{text}"
    );
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn an_endless_run_of_new_tokens_stops_at_the_page_cap() {
    let fake = Fake::start(|_, index| {
        Answer::ok(format!(
            r#"{{"bars":[],"symbol":"SPY","next_page_token":"t{index}"}}"#
        ))
    })
    .await;
    let error = alpaca().fetch(&fake).await.expect_err("endless");
    assert!(
        error
            .to_string()
            .contains(&format!("after {MAX_PAGES} pages")),
        "{error}"
    );
    assert_eq!(fake.requests().len(), MAX_PAGES);
}

#[tokio::test]
async fn a_bar_with_high_below_low_is_refused_naming_the_day() {
    let fake = Fake::answering(one_bar(
        r#"{"t":"2026-03-09T04:00:00Z","o":100,"h":99,"l":101,"c":100,"v":10}"#,
    ))
    .await;
    let error = alpaca().fetch(&fake).await.expect_err("invalid");
    assert!(
        matches!(
            error,
            SourceError::InvalidCandle {
                source_kind: SourceKind::Alpaca,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("2026-03-09"), "{error}");
}

#[tokio::test]
async fn malformed_answers_are_reported_as_malformed() {
    let bar = |field: &str| {
        let fields = [
            r#""t":"2026-03-09T04:00:00Z""#,
            r#""o":1"#,
            r#""h":2"#,
            r#""l":1"#,
            r#""c":2"#,
            r#""v":3"#,
        ];
        let key = field.split(':').next().unwrap_or_default();
        let joined: Vec<&str> = fields
            .iter()
            .map(|f| if f.starts_with(key) { field } else { f })
            .collect();
        format!(
            r#"{{"bars":[{{{}}}],"symbol":"SPY","next_page_token":null}}"#,
            joined.join(",")
        )
    };
    alpaca()
        .rejects_each_as_malformed([
            ("not JSON", "<html>oops</html>".to_owned()),
            ("an array", "[]".to_owned()),
            (
                "bars not a list",
                r#"{"bars":{},"symbol":"SPY"}"#.to_owned(),
            ),
            ("another symbol", PAGE_3.replace("\"SPY\"", "\"QQQ\"")),
            ("bad time", bar(r#""t":"yesterday""#)),
            ("price as words", bar(r#""o":"one""#)),
            ("null close", bar(r#""c":null"#)),
            ("29 decimals", bar(r#""h":1.00000000000000000000000000001"#)),
            ("missing volume", PAGE_3.replace(r#""v": 12345678, "#, "")),
        ])
        .await;
}

#[tokio::test]
async fn a_server_error_is_retried_until_it_succeeds() {
    let candles = alpaca()
        .retries_a_server_error(
            Answer::status(500, r#"{"message":"Internal Server Error"}"#),
            Answer::ok(PAGE_3),
        )
        .await;
    assert_eq!(candles.len(), 1);
}

#[tokio::test]
async fn an_instrument_of_another_source_is_refused() {
    alpaca()
        .refuses_an_instrument_of_another_source(support::instrument(
            "BTC",
            SourceKind::Binance,
            "BTCUSDT",
        ))
        .await;
}

#[tokio::test]
async fn an_unknown_path_is_an_unknown_id() {
    let (_, detail) = alpaca()
        .reports_an_unknown_id(Answer::status(404, r#"{"message":"Not Found"}"#), "SPY")
        .await;
    assert!(detail.contains("ticker"), "{detail}");
}
