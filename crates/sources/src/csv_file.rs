//! CSV files: one file per instrument, and the parser the bundled sample also uses.
//!
//! Accepted headers (case-insensitive, any column order, extra columns ignored):
//! `date,open,high,low,close,volume` and Yahoo's `Date,Open,High,Low,Close,Adj Close,Volume`
//! (`Adj Close` is ignored: Barter stores traded prices). The date column may also be named
//! `timestamp` or `time`. Dates may be `YYYY-MM-DD`, RFC 3339 (converted to its UTC day), or Unix
//! seconds / milliseconds (numbers above 10^11 are milliseconds).
//!
//! A file is all or nothing: if any line is bad, the whole file is rejected and the error lists
//! the first [`MAX_BAD_LINES_LISTED`] bad lines with their reasons.

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use barter_core::{Candle, CandleOrigin, Day, Instrument, Ohlcv, SourceKind, Symbol};
use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;

use crate::{
    BadLine, DataSource, FetchRequest, MAX_BAD_LINES_LISTED, SourceError, ensure_source, keep_from,
};

/// Unix timestamps above this are milliseconds (10^11 s is the year 5138).
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// Reads each instrument's candles from the CSV file named by its source id.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsvSource;

#[async_trait]
impl DataSource for CsvSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Csv
    }

    async fn fetch_daily(
        &self,
        instrument: &Instrument,
        request: &FetchRequest,
    ) -> Result<Vec<Candle>, SourceError> {
        ensure_source(instrument, SourceKind::Csv)?;
        let path = instrument.source_id.clone();
        let text = tokio::fs::read_to_string(&path)
            .await
            .map_err(|error| SourceError::Io {
                path: path.clone(),
                symbol: instrument.symbol.clone(),
                error,
            })?;
        let candles = parse_candles(
            &path,
            &instrument.symbol,
            &text,
            CandleOrigin::CsvFile,
            request.today(),
        )?;
        Ok(keep_from(candles, request.from))
    }
}

/// Column positions found in a header.
struct Columns {
    date: usize,
    open: usize,
    high: usize,
    low: usize,
    close: usize,
    volume: usize,
}

impl Columns {
    fn find(header: &csv::StringRecord) -> Result<Self, String> {
        let names: HashMap<String, usize> = header
            .iter()
            .enumerate()
            .map(|(i, name)| (name.trim().to_ascii_lowercase(), i))
            .collect();
        let pick = |options: &[&str]| options.iter().find_map(|o| names.get(*o).copied());
        let mut missing = Vec::new();
        let mut need = |label: &'static str, options: &[&str]| {
            pick(options).unwrap_or_else(|| {
                missing.push(label);
                0
            })
        };
        let columns = Self {
            date: need("date", &["date", "timestamp", "time", "datetime"]),
            open: need("open", &["open"]),
            high: need("high", &["high"]),
            low: need("low", &["low"]),
            close: need("close", &["close"]),
            volume: need("volume", &["volume"]),
        };
        if missing.is_empty() {
            Ok(columns)
        } else {
            let header: Vec<&str> = header.iter().collect();
            Err(format!(
                "header lacks column(s) {}; expected date,open,high,low,close,volume (found: {})",
                missing.join(", "),
                header.join(",")
            ))
        }
    }
}

/// Parses a day from `YYYY-MM-DD`, RFC 3339, or Unix seconds/milliseconds.
pub fn parse_day(text: &str) -> Result<Day, String> {
    let text = text.trim();
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.naive_utc().date());
    }
    if let Ok(number) = text.parse::<i64>() {
        let at = if number.abs() >= MILLIS_THRESHOLD {
            DateTime::from_timestamp_millis(number)
        } else {
            DateTime::from_timestamp(number, 0)
        };
        return at
            .map(|at| at.date_naive())
            .ok_or_else(|| format!("timestamp {number} is out of range"));
    }
    Err(format!(
        "date `{text}` is not YYYY-MM-DD, RFC 3339 or Unix seconds/milliseconds"
    ))
}

fn parse_value(record: &csv::StringRecord, index: usize, field: &str) -> Result<Decimal, String> {
    let text = record.get(index).unwrap_or("").trim();
    if text.is_empty() {
        return Err(format!("{field} is empty"));
    }
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|_| format!("{field} `{text}` is not a number"))
}

/// Parses a whole CSV text into validated candles, ascending by day.
///
/// `label` names the file in errors. A day before `today` is complete; a row for `today` is kept
/// as incomplete.
///
/// # Errors
/// [`SourceError::CsvRejected`] listing every bad line (the first [`MAX_BAD_LINES_LISTED`]) when
/// the header lacks a column or any row is unparsable, invalid, in the future or a duplicate day.
pub fn parse_candles(
    label: &str,
    symbol: &Symbol,
    text: &str,
    origin: CandleOrigin,
    today: Day,
) -> Result<Vec<Candle>, SourceError> {
    let reject = |total: usize, mut listed: Vec<BadLine>| {
        listed.truncate(MAX_BAD_LINES_LISTED);
        SourceError::CsvRejected {
            path: label.to_owned(),
            total,
            listed,
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| {
        reject(
            1,
            vec![BadLine {
                line: 1,
                reason: format!("unreadable header: {e}"),
            }],
        )
    })?;
    let columns =
        Columns::find(header).map_err(|reason| reject(1, vec![BadLine { line: 1, reason }]))?;

    let mut candles: Vec<Candle> = Vec::new();
    let mut first_line_of: HashMap<Day, u64> = HashMap::new();
    let mut bad: Vec<BadLine> = Vec::new();
    let mut bad_total = 0usize;
    for record in reader.records() {
        let (line, outcome) = match record {
            Err(e) => (
                e.position().map_or(0, |p| p.line()),
                Err(format!("unreadable row: {e}")),
            ),
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line());
                (line, parse_row(&record, &columns, symbol, origin, today))
            }
        };
        let outcome = outcome.and_then(|candle| match first_line_of.get(&candle.day()) {
            Some(first) => Err(format!(
                "duplicate day {} (first on line {first})",
                candle.day()
            )),
            None => {
                first_line_of.insert(candle.day(), line);
                Ok(candle)
            }
        });
        match outcome {
            Ok(candle) => candles.push(candle),
            Err(reason) => {
                bad_total += 1;
                if bad.len() < MAX_BAD_LINES_LISTED {
                    bad.push(BadLine { line, reason });
                }
            }
        }
    }
    if bad_total > 0 {
        return Err(reject(bad_total, bad));
    }
    candles.sort_by_key(Candle::day);
    Ok(candles)
}

fn parse_row(
    record: &csv::StringRecord,
    columns: &Columns,
    symbol: &Symbol,
    origin: CandleOrigin,
    today: Day,
) -> Result<Candle, String> {
    let day = parse_day(record.get(columns.date).unwrap_or(""))?;
    let values = Ohlcv {
        open: parse_value(record, columns.open, "open")?,
        high: parse_value(record, columns.high, "high")?,
        low: parse_value(record, columns.low, "low")?,
        close: parse_value(record, columns.close, "close")?,
        volume: parse_value(record, columns.volume, "volume")?,
    };
    Candle::new(symbol.clone(), day, values, day < today, origin, today)
        .map_err(|e| format!("{} {}", e.field, e.problem))
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn day(text: &str) -> Day {
        text.parse().expect("valid date")
    }

    fn parse(text: &str) -> Result<Vec<Candle>, SourceError> {
        let symbol = Symbol::parse("TEST").expect("symbol");
        parse_candles(
            "test.csv",
            &symbol,
            text,
            CandleOrigin::CsvFile,
            day("2024-06-01"),
        )
    }

    fn bad_lines(result: Result<Vec<Candle>, SourceError>) -> (usize, Vec<BadLine>) {
        match result {
            Err(SourceError::CsvRejected { total, listed, .. }) => (total, listed),
            other => panic!("expected a rejected file, got {other:?}"),
        }
    }

    #[test]
    fn the_plain_format_parses_exact_decimals() {
        let candles =
            parse("date,open,high,low,close,volume\n2024-01-02,1.5,2,1,1.75,10.123456789\n")
                .expect("valid file");
        assert_eq!(candles.len(), 1);
        assert_eq!(candles[0].close().value(), dec!(1.75));
        assert_eq!(candles[0].volume().value(), dec!(10.123456789));
        assert!(candles[0].is_complete());
    }

    #[test]
    fn the_yahoo_format_ignores_adj_close() {
        let text = "Date,Open,High,Low,Close,Adj Close,Volume\n\
                    2024-01-03,100,110,95,105,52.5,1000\n\
                    2024-01-02,99,101,98,100,50,900\n";
        let candles = parse(text).expect("valid file");
        assert_eq!(
            candles.iter().map(Candle::day).collect::<Vec<_>>(),
            vec![day("2024-01-02"), day("2024-01-03")]
        );
        assert_eq!(candles[1].close().value(), dec!(105));
    }

    #[test]
    fn dates_are_accepted_in_every_documented_form() {
        let cases = [
            ("2024-01-02", "2024-01-02"),
            ("2024-01-02T00:00:00Z", "2024-01-02"),
            ("2024-01-02T23:00:00-02:00", "2024-01-03"),
            ("1704153600", "2024-01-02"),
            ("1704153600000", "2024-01-02"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_day(text), Ok(day(expected)), "{text}");
        }
        assert!(parse_day("02/01/2024").is_err());
    }

    #[test]
    fn a_file_with_bad_lines_is_rejected_whole_listing_each_line() {
        let text = "date,open,high,low,close,volume\n\
                    2024-01-01,10,12,9,11,5\n\
                    2024-01-02,10,abc,9,11,5\n\
                    2024-01-03,10,10.5,9,11,5\n\
                    2024-01-01,10,12,9,11,5\n\
                    2025-01-01,10,12,9,11,5\n\
                    yesterday,10,12,9,11,5\n";
        let (total, listed) = bad_lines(parse(text));
        assert_eq!(total, 5);
        let lines: Vec<u64> = listed.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7]);
        assert!(
            listed[0].reason.contains("high `abc` is not a number"),
            "{}",
            listed[0].reason
        );
        assert!(
            listed[1].reason.contains("high 10.5 is below"),
            "{}",
            listed[1].reason
        );
        assert!(
            listed[2]
                .reason
                .contains("duplicate day 2024-01-01 (first on line 2)")
        );
        assert!(listed[3].reason.contains("after today"));
        assert!(listed[4].reason.contains("not YYYY-MM-DD"));
    }

    #[test]
    fn only_the_first_twenty_bad_lines_are_listed_but_all_are_counted() {
        let mut text = String::from("date,open,high,low,close,volume\n");
        for i in 0..30 {
            text.push_str(&format!("2024-01-{:02},x,1,1,1,1\n", i % 28 + 1));
        }
        let (total, listed) = bad_lines(parse(&text));
        assert_eq!(total, 30);
        assert_eq!(listed.len(), MAX_BAD_LINES_LISTED);
        let message = SourceError::CsvRejected {
            path: "f.csv".into(),
            total,
            listed,
        }
        .to_string();
        assert!(
            message.starts_with("f.csv: rejected, 30 bad line(s)"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_column_is_named() {
        let (_, listed) = bad_lines(parse("date,open,high,low,close\n2024-01-01,1,1,1,1\n"));
        assert_eq!(listed[0].line, 1);
        assert!(
            listed[0].reason.contains("lacks column(s) volume"),
            "{}",
            listed[0].reason
        );
    }

    #[test]
    fn a_row_for_today_is_incomplete() {
        let candles =
            parse("date,open,high,low,close,volume\n2024-06-01,1,1,1,1,0\n").expect("valid");
        assert!(!candles[0].is_complete());
    }
}
