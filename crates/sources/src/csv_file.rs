//! CSV files: one file per instrument, and the parser the bundled sample also uses.
//!
//! Accepted headers (case-insensitive, any column order, extra columns ignored):
//! `date,open,high,low,close,volume` and Yahoo's `Date,Open,High,Low,Close,Adj Close,Volume`
//! (`Adj Close` is ignored: Barter stores traded prices). The date column may also be named
//! `timestamp` or `time`. Dates may be `YYYY-MM-DD`, RFC 3339 (converted to its UTC day), or Unix
//! seconds / milliseconds (numbers above 10^11 are milliseconds). Prices and volumes are plain
//! decimals (exponent notation such as `1.5e6` is accepted) that must be exactly representable:
//! at most 28 decimal places, no NaN or infinity, nothing silently rounded.
//!
//! A file is all or nothing: if any line is bad, the whole file is rejected and the error lists
//! the first [`MAX_BAD_LINES_LISTED`] bad lines with their reasons. A row with more or fewer fields
//! than the header is bad.
//!
//! # Reading safely
//! A file path may come from the API, so [`read_csv_file`] reads only regular files outside
//! [`FORBIDDEN_DIRS`], at most [`MAX_CSV_FILE_BYTES`] bytes, with lines of at most
//! [`MAX_CSV_LINE_BYTES`] bytes; errors quote input only through [`excerpt`](crate::excerpt()).

use std::collections::HashMap;
use std::fs::{File, FileType, Metadata};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use async_trait::async_trait;
use barter_core::{Candle, CandleOrigin, Day, Instrument, Ohlcv, SourceKind, Symbol};
use chrono::{DateTime, NaiveDate};
use rust_decimal::Decimal;

use crate::excerpt::excerpt;
use crate::{
    BadLine, DataSource, FetchRequest, MAX_BAD_LINES_LISTED, SourceError, ensure_source, keep_from,
    shown_path,
};

/// Unix timestamps above this are milliseconds (10^11 s is the year 5138).
const MILLIS_THRESHOLD: i64 = 100_000_000_000;

/// Largest CSV file read, in bytes (256 MiB, decades of daily rows many times over); bigger files
/// are refused before reading.
pub const MAX_CSV_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Longest line of a CSV file, in bytes, line break excluded (64 KiB; a daily row is ~100 bytes).
/// A lone `\r` counts as a line break, as it does for the CSV reader.
pub const MAX_CSV_LINE_BYTES: usize = 64 * 1024;

/// Where CSV files are never read from: kernel and device pseudo-files (`/proc/self/environ`
/// holds the server's secrets, `/dev/zero` never ends). Checked on the canonical path.
pub const FORBIDDEN_DIRS: [&str; 3] = ["/proc", "/sys", "/dev"];

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
        let symbol = instrument.symbol.clone();
        // Blocking reads (checks, open, capped read) run together on the blocking pool.
        let text = {
            let (task_path, task_symbol) = (path.clone(), symbol.clone());
            tokio::task::spawn_blocking(move || read_csv_file(Path::new(&task_path), &task_symbol))
                .await
                .map_err(|e| SourceError::Io {
                    path: shown_path(&path),
                    symbol: symbol.clone(),
                    error: std::io::Error::other(format!("the reading task failed: {e}")),
                })??
        };
        let candles = parse_candles(
            &path,
            &symbol,
            &text,
            CandleOrigin::CsvFile,
            request.today(),
        )?;
        Ok(keep_from(candles, request.from))
    }
}

/// Reads a CSV file's text for `symbol`, refusing what a CSV source must not read.
///
/// Blocking. Refused: anything but a regular file (directories, devices, FIFOs, sockets), a file
/// whose canonical path is under one of [`FORBIDDEN_DIRS`], and a file larger than
/// [`MAX_CSV_FILE_BYTES`]. Reading stops at the first line longer than [`MAX_CSV_LINE_BYTES`] or
/// past [`MAX_CSV_FILE_BYTES`] (a size that lied), so memory stays bounded whatever the file.
///
/// # Errors
/// [`SourceError::FileRefused`] for a refused file, [`SourceError::Io`] when it cannot be opened
/// or read, [`SourceError::CsvRejected`] for an over-long line or text that is not UTF-8.
pub fn read_csv_file(path: &Path, symbol: &Symbol) -> Result<String, SourceError> {
    let shown = shown_path(&path.to_string_lossy());
    let io = |error: std::io::Error| SourceError::Io {
        path: shown.clone(),
        symbol: symbol.clone(),
        error,
    };
    let refuse = |reason: String| SourceError::FileRefused {
        path: shown.clone(),
        symbol: symbol.clone(),
        reason,
    };
    let not_regular = |kind: FileType| {
        refuse(format!(
            "not a regular file ({}); name a CSV file",
            describe_type(kind)
        ))
    };
    let too_large = |size: u64| {
        refuse(format!(
            "the file is {size} bytes, more than the limit of {MAX_CSV_FILE_BYTES} bytes"
        ))
    };

    // Checked before opening: opening a FIFO would block until someone writes to it.
    let before = std::fs::metadata(path).map_err(io)?;
    if !before.is_file() {
        return Err(not_regular(before.file_type()));
    }
    let canonical = std::fs::canonicalize(path).map_err(io)?;
    if let Some(dir) = FORBIDDEN_DIRS.iter().find(|d| canonical.starts_with(d)) {
        return Err(refuse(format!(
            "it resolves to {}, under {dir}: system files are never read as CSV",
            shown_path(&canonical.to_string_lossy())
        )));
    }
    if before.len() > MAX_CSV_FILE_BYTES {
        return Err(too_large(before.len()));
    }
    let file = File::open(&canonical).map_err(io)?;
    // The opened file's own metadata: the path may have been swapped since it was checked.
    let opened = file.metadata().map_err(io)?;
    if !opened.is_file() {
        return Err(not_regular(opened.file_type()));
    }
    if !same_file(&before, &opened) {
        return Err(refuse(
            "the file changed while it was being opened; try again".to_owned(),
        ));
    }
    if opened.len() > MAX_CSV_FILE_BYTES {
        return Err(too_large(opened.len()));
    }
    let capacity = usize::try_from(opened.len()).unwrap_or(0);
    let bytes = read_capped(file, capacity, &shown).map_err(|e| match e {
        CappedError::Io(error) => io(error),
        CappedError::TooLarge => refuse(format!(
            "the file grew past the limit of {MAX_CSV_FILE_BYTES} bytes while being read"
        )),
        CappedError::Rejected(error) => error,
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = 1 + valid.iter().filter(|b| **b == b'\n').count() as u64;
        reject_one(&shown, line, "not UTF-8 text; save the file as UTF-8")
    })
}

/// Why [`read_capped`] stopped.
enum CappedError {
    /// The read failed.
    Io(std::io::Error),
    /// More than [`MAX_CSV_FILE_BYTES`] bytes.
    TooLarge,
    /// A line longer than [`MAX_CSV_LINE_BYTES`].
    Rejected(SourceError),
}

/// Reads at most [`MAX_CSV_FILE_BYTES`] bytes, stopping at the first over-long line.
fn read_capped(file: File, capacity: usize, shown: &str) -> Result<Vec<u8>, CappedError> {
    // One byte more than the cap tells a file that lied about its size from one that did not.
    let mut reader = BufReader::new(file.take(MAX_CSV_FILE_BYTES + 1));
    let cap = usize::try_from(MAX_CSV_FILE_BYTES).unwrap_or(usize::MAX);
    let mut bytes = Vec::with_capacity(capacity.min(cap));
    // Numbered by `\n` as the CSV reader numbers them; a lone `\r` also ends a record there, so
    // it ends the measured run too (old Mac files are not one giant line).
    let mut line = 1u64;
    let mut run = 0usize;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CappedError::Io(e)),
        };
        if chunk.is_empty() {
            return Ok(bytes);
        }
        for byte in chunk {
            match byte {
                b'\n' => {
                    line += 1;
                    run = 0;
                }
                b'\r' => run = 0,
                _ => {
                    run += 1;
                    if run > MAX_CSV_LINE_BYTES {
                        return Err(CappedError::Rejected(long_line(shown, line)));
                    }
                }
            }
        }
        let read = chunk.len();
        bytes.extend_from_slice(chunk);
        reader.consume(read);
        if bytes.len() > cap {
            return Err(CappedError::TooLarge);
        }
    }
}

/// The rejection of a file at its first over-long line.
fn long_line(shown: &str, line: u64) -> SourceError {
    reject_one(
        shown,
        line,
        &format!(
            "longer than {MAX_CSV_LINE_BYTES} bytes; the rest of the file was not read (is it a CSV file?)"
        ),
    )
}

/// A rejected file with one bad line.
fn reject_one(shown: &str, line: u64, reason: &str) -> SourceError {
    SourceError::CsvRejected {
        path: shown.to_owned(),
        total: 1,
        listed: vec![BadLine::new(line, reason)],
    }
}

/// What kind of file `kind` is, for an error.
fn describe_type(kind: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "not a file"
    }
}

/// Whether two metadata describe the same file (device and inode on Unix).
#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Whether two metadata describe the same file (not checkable here: assumed).
#[cfg(not(unix))]
fn same_file(_: &Metadata, _: &Metadata) -> bool {
    true
}

/// Column positions found in a header.
struct Columns {
    /// How many columns the header has; a row must have exactly as many fields.
    count: usize,
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
            count: header.len(),
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
            // Only an excerpt: the "header" may be the first line of any file, secrets included.
            let found = header
                .iter()
                .take(crate::excerpt::EXCERPT_CHARS)
                .collect::<Vec<_>>()
                .join(",");
            Err(format!(
                "header lacks column(s) {}; expected date,open,high,low,close,volume (found: {})",
                missing.join(", "),
                excerpt(&found)
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
    // Written as a day but not one of the calendar (30 February): say that, not "not a date".
    let shaped_like_a_day = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if shaped_like_a_day && let Err(problem) = barter_core::calendar::parse_day(text) {
        return Err(format!("date {problem}"));
    }
    Err(format!(
        "date `{}` is not YYYY-MM-DD, RFC 3339 or Unix seconds/milliseconds",
        excerpt(text)
    ))
}

/// Why [`parse_decimal`] refused a text; `Display` reads after the quoted value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalProblem {
    /// Not a decimal number at all.
    NotANumber,
    /// NaN or an infinity.
    NotFinite,
    /// More than 28 digits after the point once trailing zeros are dropped: it would be rounded.
    TooManyDecimals,
    /// Beyond what a decimal holds (about 7.9 × 10^28).
    TooLarge,
}

impl std::fmt::Display for DecimalProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotANumber => "is not a number",
            Self::NotFinite => "is not a finite number",
            Self::TooManyDecimals => {
                "has more than 28 decimal places (it cannot be stored exactly)"
            }
            Self::TooLarge => "is too large to store exactly",
        })
    }
}

/// Parses a decimal exactly: `[+-]digits[.digits][e[+-]digits]`, refusing rather than rounding.
///
/// `Decimal::from_str` silently rounds a fraction longer than 28 digits and accepts `_`; a price
/// that changes on the way in is worse than a refused line, so this parser is strict.
///
/// # Errors
/// The [`DecimalProblem`] that keeps `text` from being stored exactly.
pub fn parse_decimal(text: &str) -> Result<Decimal, DecimalProblem> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if ["nan", "inf", "infinity"]
        .iter()
        .any(|word| rest.eq_ignore_ascii_case(word))
    {
        return Err(DecimalProblem::NotFinite);
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return Err(DecimalProblem::NotANumber);
    }
    let exponent: i64 = match exponent {
        None => 0,
        Some(text) => {
            let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
            if digits.is_empty() || !all_digits(digits) {
                return Err(DecimalProblem::NotANumber);
            }
            // Six digits is far past any representable value and keeps the arithmetic small.
            let digits = digits.trim_start_matches('0');
            if digits.len() > 6 {
                return Err(if text.starts_with('-') {
                    DecimalProblem::TooManyDecimals
                } else {
                    DecimalProblem::TooLarge
                });
            }
            let value: i64 = digits.parse().unwrap_or(0);
            if text.starts_with('-') { -value } else { value }
        }
    };
    // value = digits × 10^-scale
    let fraction_len = i64::try_from(fraction.len()).unwrap_or(i64::MAX);
    let mut scale = fraction_len.saturating_sub(exponent);
    let joined = format!("{whole}{fraction}");
    let mut digits = joined.trim_start_matches('0');
    // Trailing zeros after the point are dropped only as far as needed, so `1.50` keeps scale 2.
    while scale > 0 && digits.ends_with('0') && (scale > 28 || digits.len() > 28) {
        digits = &digits[..digits.len() - 1];
        scale -= 1;
    }
    if digits.is_empty() {
        let scale = u32::try_from(scale.clamp(0, 28)).unwrap_or(0);
        return Ok(Decimal::new(0, scale));
    }
    if scale > 28 {
        return Err(DecimalProblem::TooManyDecimals);
    }
    let zeros = usize::try_from(-scale.min(0)).unwrap_or(usize::MAX);
    if digits.len().saturating_add(zeros) > 29 {
        return Err(DecimalProblem::TooLarge);
    }
    let mut units: i128 = digits.parse().map_err(|_| DecimalProblem::NotANumber)?;
    for _ in 0..zeros {
        units = units.checked_mul(10).ok_or(DecimalProblem::TooLarge)?;
    }
    let scale = u32::try_from(scale.max(0)).unwrap_or(0);
    let mut value =
        Decimal::try_from_i128_with_scale(units, scale).map_err(|_| DecimalProblem::TooLarge)?;
    value.set_sign_negative(negative);
    Ok(value)
}

fn parse_value(record: &csv::StringRecord, index: usize, field: &str) -> Result<Decimal, String> {
    let text = record.get(index).unwrap_or("").trim();
    if text.is_empty() {
        return Err(format!("{field} is empty"));
    }
    parse_decimal(text).map_err(|problem| format!("{field} `{}` {problem}", excerpt(text)))
}

/// Bad lines for every line of `text` longer than [`MAX_CSV_LINE_BYTES`], with their count.
fn long_lines(text: &str) -> (usize, Vec<BadLine>) {
    let mut total = 0;
    let mut listed = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        // As in `read_capped`: numbered by `\n`, measured between any line breaks.
        if line.split('\r').any(|run| run.len() > MAX_CSV_LINE_BYTES) {
            total += 1;
            if listed.len() < MAX_BAD_LINES_LISTED {
                listed.push(BadLine::new(
                    index as u64 + 1,
                    format!("longer than {MAX_CSV_LINE_BYTES} bytes (is it a CSV file?)"),
                ));
            }
        }
    }
    (total, listed)
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
            path: shown_path(label),
            total,
            listed,
        }
    };
    // Before the CSV reader sees it: a huge line would become a huge record and a huge error.
    let (long_total, long_listed) = long_lines(text);
    if long_total > 0 {
        return Err(reject(long_total, long_listed));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| reject(1, vec![BadLine::new(1, format!("unreadable header: {e}"))]))?;
    let columns =
        Columns::find(header).map_err(|reason| reject(1, vec![BadLine::new(1, reason)]))?;

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
                    bad.push(BadLine::new(line, reason));
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
    // With `flexible` the CSV reader accepts any width; a row that does not match the header is
    // misaligned, and its values cannot be trusted to be in the right columns.
    let fields = record.len();
    if fields > columns.count {
        return Err(format!(
            "{} extra field(s): the header has {} columns",
            fields - columns.count,
            columns.count
        ));
    }
    if fields < columns.count {
        return Err(format!(
            "{} field(s) missing: the header has {} columns",
            columns.count - fields,
            columns.count
        ));
    }
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

    #[test]
    fn a_day_that_does_not_exist_is_named_as_such() {
        let error = parse_day("2025-02-30").expect_err("30 February");
        assert!(error.contains("2025-02 has 28 days"), "{error}");
        assert!(parse_day("2024-02-29").is_ok());
    }
}
