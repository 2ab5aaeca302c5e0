//! CSV source against real files: what it refuses to read, the limits it reads within, and the
//! size of the errors it returns (issue 12: a sync must never echo a file's content at length).

use std::io::Write;
use std::path::Path;
use std::process::Command;

use barter_core::{CandleOrigin, Day, Instrument, SourceKind, Symbol};
use barter_sources::csv_file::{
    MAX_CSV_FILE_BYTES, MAX_CSV_LINE_BYTES, parse_candles, read_csv_file,
};
use barter_sources::excerpt::EXCERPT_CHARS;
use barter_sources::{CsvSource, DataSource, FetchRequest, SourceError};
use chrono::{TimeZone, Utc};
use rust_decimal_macros::dec;

const HEADER: &str = "date,open,high,low,close,volume\n";

fn instrument(path: &str) -> Instrument {
    Instrument::new(
        Symbol::parse("TEST").expect("symbol"),
        "Test",
        "USD",
        SourceKind::Csv,
        path,
        barter_core::Calendar::Continuous,
    )
    .expect("valid instrument")
}

fn request() -> FetchRequest {
    FetchRequest {
        from: None,
        now: Utc
            .with_ymd_and_hms(2024, 6, 1, 12, 0, 0)
            .single()
            .expect("time"),
    }
}

async fn fetch(path: &Path) -> Result<Vec<barter_core::Candle>, SourceError> {
    CsvSource
        .fetch_daily(&instrument(&path.to_string_lossy()), &request())
        .await
}

fn parse(text: &str) -> Result<Vec<barter_core::Candle>, SourceError> {
    parse_candles(
        "test.csv",
        &Symbol::parse("TEST").expect("symbol"),
        text,
        CandleOrigin::CsvFile,
        "2024-06-01".parse::<Day>().expect("day"),
    )
}

fn file_with(text: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text).expect("write");
    file
}

/// The longest run of `needle`'s characters that appears in `haystack`, from `needle`'s start
/// at any offset: how much of a secret leaked.
fn longest_leak(haystack: &str, needle: &str) -> usize {
    let chars: Vec<char> = needle.chars().collect();
    let mut best = 0;
    for start in 0..chars.len() {
        for end in (start + best + 1)..=chars.len() {
            let part: String = chars[start..end].iter().collect();
            if haystack.contains(&part) {
                best = end - start;
            } else {
                break;
            }
        }
    }
    best
}

fn assert_refused(error: &SourceError, words: &str) {
    match error {
        SourceError::FileRefused { reason, .. } => {
            assert!(reason.contains(words), "{error}");
        }
        other => panic!("expected a refused file, got {other:?}"),
    }
}

#[tokio::test]
async fn a_secret_on_the_first_line_is_echoed_only_as_a_short_excerpt() {
    let secret: String = (0..500)
        .map(|i| char::from(b'A' + (i * 7 % 26) as u8))
        .collect();
    let file = file_with(format!("API_TOKEN={secret}\0HOME=/root\nmore\n").as_bytes());
    let error = fetch(file.path()).await.expect_err("not a CSV file");
    let message = error.to_string();
    assert!(message.contains("header lacks column(s)"), "{message}");
    assert!(
        longest_leak(&message, &secret) <= EXCERPT_CHARS,
        "{message}"
    );
    assert!(!message.contains('\0'), "{message:?}");
    assert!(message.len() < 1024, "{} bytes", message.len());
}

#[tokio::test]
async fn a_device_is_refused_as_not_a_regular_file() {
    let error = fetch(Path::new("/dev/zero")).await.expect_err("a device");
    assert_refused(&error, "not a regular file (a character device)");
    assert!(error.to_string().contains("/dev/zero"), "{error}");
}

#[tokio::test]
async fn a_directory_is_refused_as_not_a_regular_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let error = fetch(dir.path()).await.expect_err("a directory");
    assert_refused(&error, "not a regular file (a directory)");
}

#[tokio::test]
async fn a_fifo_is_refused_without_blocking_on_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("prices.csv");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let error = tokio::time::timeout(std::time::Duration::from_secs(5), fetch(&fifo))
        .await
        .expect("does not block")
        .expect_err("a FIFO");
    assert_refused(&error, "not a regular file (a FIFO)");
}

#[tokio::test]
async fn kernel_files_are_refused_even_through_a_symlink() {
    let error = fetch(Path::new("/proc/self/environ"))
        .await
        .expect_err("a kernel file");
    assert_refused(&error, "under /proc");
    let dir = tempfile::tempdir().expect("temp dir");
    let link = dir.path().join("innocent.csv");
    std::os::unix::fs::symlink("/proc/self/environ", &link).expect("symlink");
    let error = fetch(&link).await.expect_err("a kernel file behind a link");
    assert_refused(&error, "under /proc");
}

#[tokio::test]
async fn a_missing_file_is_an_io_error_naming_it() {
    let error = fetch(Path::new("/nonexistent/prices.csv"))
        .await
        .expect_err("missing");
    assert!(matches!(error, SourceError::Io { .. }), "{error:?}");
    assert!(error.to_string().contains("/nonexistent/prices.csv"));
}

#[tokio::test]
async fn a_file_larger_than_the_limit_is_refused_unread() {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    // Sparse: the size is what matters, nothing is written or read.
    file.as_file()
        .set_len(MAX_CSV_FILE_BYTES + 1)
        .expect("set length");
    let error = fetch(file.path()).await.expect_err("too large");
    assert_refused(&error, "more than the limit of 268435456 bytes");
}

#[tokio::test]
async fn a_one_megabyte_line_is_refused_at_its_line_number_with_a_short_error() {
    let mut text = String::from(HEADER);
    text.push_str("2024-01-02,1,1,1,1,1\n");
    text.push_str(&"9".repeat(1 << 20));
    let file = file_with(text.as_bytes());
    let error = read_csv_file(file.path(), &Symbol::parse("TEST").expect("symbol"))
        .expect_err("line too long");
    match &error {
        SourceError::CsvRejected { total, listed, .. } => {
            assert_eq!(*total, 1);
            assert_eq!(listed[0].line, 3);
            assert!(
                listed[0]
                    .reason
                    .contains(&format!("longer than {MAX_CSV_LINE_BYTES} bytes")),
                "{error}"
            );
        }
        other => panic!("expected a rejected file, got {other:?}"),
    }
    assert!(error.to_string().len() < 1024, "{error}");
    // The parser refuses the same line when given the text directly (the sample and backtests).
    let error = parse(&text).expect_err("line too long");
    assert!(error.to_string().contains("line 3: longer than"), "{error}");
    assert!(error.to_string().len() < 1024);
}

#[tokio::test]
async fn a_line_at_the_limit_is_read() {
    let mut text = String::from(HEADER);
    text.push_str("2024-01-02,1,1,1,1,1\r\n");
    let padded = format!(
        "2024-01-03,1,1,1,1,1{}",
        " ".repeat(MAX_CSV_LINE_BYTES - 20)
    );
    assert_eq!(padded.len(), MAX_CSV_LINE_BYTES);
    text.push_str(&padded);
    text.push_str("\r\n");
    let file = file_with(text.as_bytes());
    let candles = fetch(file.path()).await.expect("within the limit");
    assert_eq!(candles.len(), 2);
}

#[tokio::test]
async fn text_that_is_not_utf8_is_rejected_at_its_line() {
    let file = file_with(b"date,open,high,low,close,volume\n2024-01-02,1,1,1,1,1\n\xff\xfe,1\n");
    let error = fetch(file.path()).await.expect_err("binary");
    assert!(error.to_string().contains("line 3: not UTF-8"), "{error}");
}

#[tokio::test]
async fn a_good_file_is_still_read() {
    let file = file_with(
        format!("{HEADER}2024-01-02,1.5,2,1,1.75,10.123456789\n2024-01-03,2,2,2,2,0\n").as_bytes(),
    );
    let candles = fetch(file.path()).await.expect("valid");
    assert_eq!(candles.len(), 2);
    assert_eq!(candles[0].volume().value(), dec!(10.123456789));
}

#[test]
fn extra_and_missing_fields_are_bad_lines() {
    let text = format!("{HEADER}2024-01-02,1,1,1,1,1,7,8,9\n2024-01-03,1,1,1,1\n");
    let message = parse(&text).expect_err("misaligned rows").to_string();
    assert!(
        message.contains("line 2: 3 extra field(s): the header has 6 columns"),
        "{message}"
    );
    assert!(
        message.contains("line 3: 1 field(s) missing: the header has 6 columns"),
        "{message}"
    );
}

#[test]
fn a_price_with_29_decimal_places_is_refused_not_rounded() {
    let text = format!("{HEADER}2024-01-02,1,1,1,1.00000000000000000000000000001,1\n");
    let message = parse(&text).expect_err("too precise").to_string();
    assert!(
        message.contains("close `1.00000000000000000000000000001` has more than 28 decimal places"),
        "{message}"
    );
    // Trailing zeros past the 28th place change nothing and are accepted.
    let text = format!("{HEADER}2024-01-02,1,1,1,1.000000000000000000000000000000,1\n");
    let candles = parse(&text).expect("exact");
    assert_eq!(candles[0].close().value(), dec!(1));
}

#[test]
fn a_price_with_more_digits_than_a_decimal_holds_is_refused() {
    let text = format!("{HEADER}2024-01-02,1,99999999999999999999999999999.5,1,1,1\n");
    let message = parse(&text).expect_err("too many digits").to_string();
    assert!(
        message.contains("high `99999999999999999999999999999.5`"),
        "{message}"
    );
}

#[test]
fn nan_infinity_and_oddities_are_refused_and_exponents_are_exact() {
    for (value, problem) in [
        ("NaN", "is not a finite number"),
        ("-inf", "is not a finite number"),
        ("Infinity", "is not a finite number"),
        ("1_000", "is not a number"),
        ("0x10", "is not a number"),
        ("1e", "is not a number"),
        ("1e-40", "has more than 28 decimal places"),
        ("1e40", "is too large"),
        ("1e9999999999", "is too large"),
    ] {
        let text = format!("{HEADER}2024-01-02,1,1,1,1,{value}\n");
        let message = parse(&text).expect_err(value).to_string();
        assert!(
            message.contains(&format!("volume `{value}` {problem}")),
            "{value}: {message}"
        );
    }
    let text = format!("{HEADER}2024-01-02,1,1,1,1,1.5e6\n2024-01-03,1,1,1,1,25E-2\n");
    let candles = parse(&text).expect("exponents");
    assert_eq!(candles[0].volume().value(), dec!(1500000));
    assert_eq!(candles[1].volume().value(), dec!(0.25));
}

#[test]
fn a_huge_bad_field_is_quoted_only_as_an_excerpt() {
    let huge = "7".repeat(30_000) + "x";
    let text = format!("{HEADER}2024-01-02,{huge},1,1,1,1\n{huge},1,1,1,1,1\n");
    let message = parse(&text).expect_err("bad values").to_string();
    assert!(message.len() < 1024, "{} bytes", message.len());
    assert!(message.contains("open `7777"), "{message}");
    assert!(message.contains("date `7777"), "{message}");
}

#[test]
fn a_rejected_file_error_is_bounded_however_many_lines_are_bad() {
    let field = "\u{1F4A5}".repeat(10_000);
    let mut text = String::from(HEADER);
    for _ in 0..100 {
        text.push_str(&format!(
            "{field},{field},{field},{field},{field},{field}\n"
        ));
    }
    let long_label = "/data/".to_owned() + &"d/".repeat(5_000) + "prices.csv";
    let error = parse_candles(
        &long_label,
        &Symbol::parse("TEST").expect("symbol"),
        &text,
        CandleOrigin::CsvFile,
        "2024-06-01".parse::<Day>().expect("day"),
    )
    .expect_err("bad lines");
    let message = error.to_string();
    assert!(message.len() < 8 * 1024, "{} bytes", message.len());
    assert!(message.contains("100 bad line(s)"), "{message}");
}

#[tokio::test]
async fn a_large_file_with_old_mac_line_breaks_is_not_one_long_line() {
    let mut text = String::from("date,open,high,low,close,volume\r");
    let start: Day = "2000-01-01".parse().expect("day");
    for offset in 0..4000 {
        let day = start + chrono::Days::new(offset);
        text.push_str(&format!("{day},1,1,1,1,1\r"));
    }
    assert!(text.len() > MAX_CSV_LINE_BYTES);
    let file = file_with(text.as_bytes());
    let candles = fetch(file.path()).await.expect("CR line breaks");
    assert_eq!(candles.len(), 4000);
}
