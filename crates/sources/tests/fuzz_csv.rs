//! Property tests that act as fuzzers for the CSV parser and the exact decimal parser.
//!
//! Random bytes, CSV-like soups (random column names, numbers huge, negative, in exponent
//! notation or with many decimals, dates in every form and none, random separators, quotes and
//! line breaks) and near-valid files go through [`parse_candles`]. Whatever the input: no panic,
//! an error stays under 8 KiB with short quotes and no control characters, and every accepted
//! candle is valid.
//!
//! The normal run is a few thousand cases in all (fast in debug). The long variants are ignored;
//! run them with a case count, e.g.:
//!
//! ```text
//! BARTER_FUZZ_CASES=200000 CARGO_TARGET_DIR=/work/target-sources \
//!     cargo test --release -p barter-sources --test fuzz_csv -- --ignored
//! ```

use std::str::FromStr;

use barter_core::{Candle, CandleOrigin, Day, Symbol};
use barter_sources::csv_file::{parse_candles, parse_decimal};
use barter_sources::excerpt::{EXCERPT_CHARS, excerpt};
use barter_sources::{MAX_BAD_LINE_REASON_BYTES, MAX_BAD_LINES_LISTED, SourceError};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rust_decimal::Decimal;

/// Upper bound on any error's text, in bytes.
const MAX_ERROR_BYTES: usize = 8 * 1024;

fn today() -> Day {
    "2024-06-01".parse().expect("day")
}

/// Cases for the long (ignored) variants: `BARTER_FUZZ_CASES`, else 100 000.
fn long_cases() -> u32 {
    std::env::var("BARTER_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Shrinking a soup is slow and the failing input is printed anyway.
        max_shrink_iters: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Every text between backticks in `message`: the quoted input.
fn quoted(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

/// The properties every parse must have, whatever `text` is.
fn check(text: &str) -> Result<(), TestCaseError> {
    let symbol = Symbol::parse("FUZZ").expect("symbol");
    let result = parse_candles("fuzz.csv", &symbol, text, CandleOrigin::CsvFile, today());
    match result {
        Ok(candles) => {
            let lines = text.split(['\n', '\r']).count();
            prop_assert!(candles.len() <= lines);
            for pair in candles.windows(2) {
                prop_assert!(pair[0].day() < pair[1].day(), "ascending, one per day");
            }
            for candle in &candles {
                // Valid means what the core's constructor accepts, and nothing after today.
                let again = Candle::new(
                    symbol.clone(),
                    candle.day(),
                    candle.values(),
                    candle.is_complete(),
                    CandleOrigin::CsvFile,
                    today(),
                );
                prop_assert!(again.is_ok(), "{again:?}");
                prop_assert!(candle.day() <= today());
                prop_assert_eq!(candle.is_complete(), candle.day() < today());
                let v = candle.values();
                prop_assert!(v.low <= v.open && v.low <= v.close);
                prop_assert!(v.high >= v.open && v.high >= v.close);
                prop_assert!(v.volume >= Decimal::ZERO);
            }
        }
        Err(error) => {
            let message = error.to_string();
            prop_assert!(message.len() < MAX_ERROR_BYTES, "{} bytes", message.len());
            prop_assert!(
                !message.chars().any(|c| c.is_control() && c != '\n'),
                "{message:?}"
            );
            // Backticks in the input would make the pairing of quotes ambiguous.
            let quotes = if text.contains('`') {
                Vec::new()
            } else {
                quoted(&message)
            };
            for quote in quotes {
                prop_assert!(quote.chars().count() <= EXCERPT_CHARS + 1, "{quote:?}");
            }
            match error {
                SourceError::CsvRejected { total, listed, .. } => {
                    prop_assert!(!listed.is_empty());
                    prop_assert!(listed.len() <= MAX_BAD_LINES_LISTED);
                    prop_assert!(total >= listed.len());
                    for bad in &listed {
                        prop_assert!(
                            bad.reason.len() <= MAX_BAD_LINE_REASON_BYTES + '…'.len_utf8()
                        );
                    }
                }
                other => prop_assert!(false, "unexpected error kind: {other:?}"),
            }
        }
    }
    Ok(())
}

/// A number as CSV files (and broken ones) write it.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (1u32..100_000, 0u32..10_000).prop_map(|(a, b)| format!("{a}.{b}")),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<u128>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|f| f.to_string()),
        1 => any::<f64>().prop_map(|f| format!("{f:e}")),
        1 => ("[+-]?[0-9]{0,3}(\\.[0-9]{0,40})?[eE][+-]?[0-9]{1,12}").prop_map(|s| s),
        1 => ("[+-]?[0-9]{0,35}\\.[0-9]{0,35}").prop_map(|s| s),
        1 => Just("NaN".to_owned()),
        1 => Just("-inf".to_owned()),
        1 => Just("".to_owned()),
        1 => "[0-9_.,eE+-]{1,12}",
    ]
}

/// A date in every accepted form, and some that are not.
fn date() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (1990i32..2030, 1u32..13, 1u32..32).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
        1 => (1990i32..2030, 1u32..13, 1u32..29, -14i32..15)
            .prop_map(|(y, m, d, h)| format!("{y}-{m:02}-{d:02}T12:00:00{h:+03}:00")),
        1 => (0i64..2_000_000_000).prop_map(|s| s.to_string()),
        1 => (0i64..2_000_000_000_000).prop_map(|ms| ms.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => "[0-9/ :TZ-]{0,25}",
    ]
}

/// Any field: a number, a date, or text with quotes, separators and line breaks.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => number(),
        2 => date(),
        1 => "[a-zA-Z\" ,;\t\r\n\\\\]{0,12}",
        1 => any::<String>(),
        1 => (any::<char>(), 0usize..200).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
}

/// A header: the known columns in some order and case, with random names mixed in or missing.
fn header() -> impl Strategy<Value = Vec<String>> {
    let known = [
        "date",
        "Date",
        "timestamp",
        "time",
        "open",
        "High",
        "low",
        "CLOSE",
        "volume",
        "Adj Close",
    ];
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::sample::select(known.to_vec()).prop_map(str::to_owned),
            1 => "[a-zA-Z \"]{0,10}",
        ],
        0..10,
    )
}

/// A CSV-like soup: header and rows joined with random separators and line breaks.
fn soup() -> impl Strategy<Value = String> {
    (
        header(),
        proptest::collection::vec(proptest::collection::vec(field(), 0..10), 0..30),
        proptest::sample::select(vec![",", ";", "\t", ",,", ", "]),
        proptest::sample::select(vec!["\n", "\r\n", "\r", "\n\n"]),
    )
        .prop_map(|(header, rows, separator, newline)| {
            let mut text = header.join(separator);
            for row in rows {
                text.push_str(newline);
                text.push_str(&row.join(separator));
            }
            text
        })
}

/// A file close to valid: the plain header and rows of plausible OHLCV, some days repeated.
fn near_valid() -> impl Strategy<Value = String> {
    let row = (
        2020i32..2025,
        1u32..13,
        1u32..29,
        proptest::collection::vec(number(), 5),
    );
    proptest::collection::vec(row, 0..40).prop_map(|rows| {
        let mut text = String::from("date,open,high,low,close,volume\n");
        for (y, m, d, values) in rows {
            text.push_str(&format!("{y}-{m:02}-{d:02},{}\n", values.join(",")));
        }
        text
    })
}

/// A valid file: ordered OHLC around a close, distinct days.
fn valid() -> impl Strategy<Value = (usize, String)> {
    proptest::collection::btree_map(
        0u32..3000,
        (
            1u64..1_000_000,
            0u64..1000,
            0u64..1000,
            0u64..1_000_000,
            0u32..8,
        ),
        0..30,
    )
    .prop_map(|rows| {
        let base: Day = "2015-01-01".parse().expect("day");
        let mut text = String::from("Date,Open,High,Low,Close,Adj Close,Volume\n");
        for (offset, (close, up, down, volume, scale)) in &rows {
            let day = base + chrono::Days::new(u64::from(*offset));
            let at = |units: u64| Decimal::new(i64::try_from(units).unwrap_or(0), *scale);
            let (low, close, high) = (at(*close), at(close + down), at(close + down + up));
            text.push_str(&format!("{day},{close},{high},{low},{close},0,{volume}\n"));
        }
        (rows.len(), text)
    })
}

fn check_decimal(text: &str) -> Result<(), TestCaseError> {
    if let Ok(value) = parse_decimal(text) {
        // Whatever is accepted is exactly what the text says: no rounding happened.
        if !text.contains(['e', 'E']) {
            let reference =
                Decimal::from_str(text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(value, reference, "{}", excerpt(text));
            let digits = text.trim_start_matches(['+', '-']);
            let (_, fraction) = digits.split_once('.').unwrap_or((digits, ""));
            let significant = fraction.trim_end_matches('0').len();
            prop_assert!(significant <= 28, "{text}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(600))]

    #[test]
    fn random_bytes_never_panic_and_errors_stay_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn csv_like_soups_never_panic_and_errors_stay_bounded(text in soup()) {
        check(&text)?;
    }

    #[test]
    fn near_valid_files_give_valid_candles_or_bounded_errors(text in near_valid()) {
        check(&text)?;
    }

    #[test]
    fn valid_files_are_accepted_whole((rows, text) in valid()) {
        let symbol = Symbol::parse("FUZZ").expect("symbol");
        let candles = parse_candles("fuzz.csv", &symbol, &text, CandleOrigin::CsvFile, today());
        prop_assert_eq!(candles.map(|c| c.len()).map_err(|e| e.to_string()), Ok(rows));
        check(&text)?;
    }

    #[test]
    fn decimals_are_exact_or_refused(text in prop_oneof![number(), "[+-]?[0-9]{0,30}\\.?[0-9]{0,30}"]) {
        check_decimal(&text)?;
    }

    #[test]
    fn decimals_with_at_most_28_places_and_digits_are_accepted(whole in "[0-9]{1,14}", fraction in "[0-9]{0,14}", negative in any::<bool>()) {
        let text = format!("{}{whole}.{fraction}", if negative { "-" } else { "" });
        let value = parse_decimal(&text);
        prop_assert!(value.is_ok(), "{text}");
        check_decimal(&text)?;
    }
}

proptest! {
    #![proptest_config(config(long_cases()))]

    #[test]
    #[ignore = "long fuzz run: set BARTER_FUZZ_CASES and pass --ignored"]
    fn long_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..8192)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    #[ignore = "long fuzz run: set BARTER_FUZZ_CASES and pass --ignored"]
    fn long_csv_like_soups(text in soup()) {
        check(&text)?;
    }

    #[test]
    #[ignore = "long fuzz run: set BARTER_FUZZ_CASES and pass --ignored"]
    fn long_near_valid_files(text in near_valid()) {
        check(&text)?;
    }

    #[test]
    #[ignore = "long fuzz run: set BARTER_FUZZ_CASES and pass --ignored"]
    fn long_decimals(text in prop_oneof![number(), "[+-]?[0-9]{0,30}\\.?[0-9]{0,30}"]) {
        check_decimal(&text)?;
    }
}
