//! Indicators agree with TA-Lib on the sample data, warm-up rows included.
//!
//! The fixtures in `tests/fixtures/talib/` were computed once by TA-Lib itself (the `TA-Lib`
//! package from PyPI) with `tools/talib_fixtures.py`, which also says how to regenerate them.
//! Every row must agree: both "not ready" (`None` here, an empty cell there), or values within
//! 1e-9 relative (1e-12 absolute near zero).

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use barter_core::indicators::{
    Values, atr, bollinger, ema, highest, lowest, macd, roc, rsi, sma, stddev, wma,
};

const RELATIVE: f64 = 1e-9;
const ABSOLUTE: f64 = 1e-12;

/// One fixture file: its name and its columns, each parsed into optional numbers.
struct Fixture {
    name: &'static str,
    columns: HashMap<String, Vec<Option<f64>>>,
}

impl Fixture {
    fn load(name: &'static str) -> Fixture {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/talib")
            .join(format!("{name}.csv"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut lines = text.lines();
        let header: Vec<String> = lines
            .next()
            .expect("a header line")
            .split(',')
            .map(str::to_owned)
            .collect();
        let mut columns: HashMap<String, Vec<Option<f64>>> =
            header.iter().map(|h| (h.clone(), Vec::new())).collect();
        for (row, line) in lines.enumerate() {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), header.len(), "{name}.csv row {row}: {line}");
            for (column, cell) in header.iter().zip(cells) {
                let value = if column == "date" || cell.is_empty() {
                    None
                } else {
                    Some(cell.parse::<f64>().unwrap_or_else(|e| {
                        panic!("{name}.csv row {row} column {column}: {cell:?}: {e}")
                    }))
                };
                columns
                    .get_mut(column)
                    .expect("a header column")
                    .push(value);
            }
        }
        Fixture { name, columns }
    }

    fn column(&self, name: &str) -> &[Option<f64>] {
        self.columns
            .get(name)
            .unwrap_or_else(|| panic!("{}.csv has no column {name}", self.name))
    }

    /// An input price column, which must be complete.
    fn prices(&self, name: &str) -> Vec<f64> {
        self.column(name)
            .iter()
            .map(|v| v.expect("prices have no empty cells"))
            .collect()
    }

    /// Asserts that `actual` agrees with TA-Lib's `column` on every row.
    fn check(&self, column: &str, actual: &Values) {
        let expected = self.column(column);
        assert_eq!(
            actual.len(),
            expected.len(),
            "{}: {column}: length",
            self.name
        );
        let mut failures = Vec::new();
        let mut worst: f64 = 0.0;
        for (row, (a, e)) in actual.iter().zip(expected).enumerate() {
            let ok = match (a, e) {
                (None, None) => true,
                (Some(a), Some(e)) => {
                    let diff = (a - e).abs();
                    if diff > 0.0 {
                        worst = worst.max(diff / e.abs().max(f64::MIN_POSITIVE));
                    }
                    diff <= ABSOLUTE || diff <= RELATIVE * e.abs()
                }
                _ => false,
            };
            if !ok {
                failures.push(format!("row {row}: ours {a:?}, TA-Lib {e:?}"));
            }
        }
        // Visible with `--nocapture`: how close to TA-Lib we really are.
        eprintln!(
            "{}: {column}: max relative difference {worst:.1e}",
            self.name
        );
        assert!(
            failures.is_empty(),
            "{}: {column}: {} rows differ, first ones:\n{}",
            self.name,
            failures.len(),
            failures[..failures.len().min(10)].join("\n")
        );
        assert!(
            expected.iter().any(Option::is_some),
            "{}: {column} has no values",
            self.name
        );
    }
}

fn fixtures() -> &'static [Fixture] {
    static FIXTURES: OnceLock<Vec<Fixture>> = OnceLock::new();
    FIXTURES.get_or_init(|| vec![Fixture::load("btc"), Fixture::load("spy")])
}

#[test]
fn moving_averages_match_ta_lib_on_every_row() {
    for f in fixtures() {
        let close = f.prices("close");
        f.check("sma_20", &sma(&close, 20).expect("valid"));
        f.check("ema_20", &ema(&close, 20).expect("valid"));
        f.check("wma_20", &wma(&close, 20).expect("valid"));
    }
}

#[test]
fn period_one_and_two_averages_match_ta_lib_on_every_row() {
    for f in fixtures() {
        let close = f.prices("close");
        f.check("sma_1", &sma(&close, 1).expect("valid"));
        f.check("sma_2", &sma(&close, 2).expect("valid"));
        f.check("ema_1", &ema(&close, 1).expect("valid"));
        f.check("ema_2", &ema(&close, 2).expect("valid"));
    }
}

#[test]
fn wilder_rsi_matches_ta_lib_on_every_row() {
    for f in fixtures() {
        let close = f.prices("close");
        f.check("rsi_14", &rsi(&close, 14).expect("valid"));
        f.check("rsi_2", &rsi(&close, 2).expect("valid"));
        // TA-Lib rejects RSI period 1 (TA_BAD_PARAM), and so do we.
        assert!(rsi(&close, 1).is_err());
    }
}

#[test]
fn rate_of_change_matches_ta_lib_on_every_row() {
    for f in fixtures() {
        f.check("roc_10", &roc(&f.prices("close"), 10).expect("valid"));
    }
}

#[test]
fn highest_and_lowest_match_ta_lib_max_and_min_on_every_row() {
    for f in fixtures() {
        let close = f.prices("close");
        f.check("max_20", &highest(&close, 20).expect("valid"));
        f.check("min_20", &lowest(&close, 20).expect("valid"));
    }
}

#[test]
fn standard_deviation_matches_ta_lib_on_every_row() {
    for f in fixtures() {
        f.check(
            "stddev_20_1",
            &stddev(&f.prices("close"), 20, 1.0).expect("valid"),
        );
    }
}

#[test]
fn wilder_atr_matches_ta_lib_on_every_row() {
    for f in fixtures() {
        let (high, low, close) = (f.prices("high"), f.prices("low"), f.prices("close"));
        f.check("atr_14", &atr(&high, &low, &close, 14).expect("valid"));
    }
}

#[test]
fn macd_with_ta_lib_seeding_matches_ta_lib_on_every_row() {
    for f in fixtures() {
        let m = macd(&f.prices("close"), 12, 26, 9).expect("valid");
        f.check("macd_12_26_9_line", &m.line);
        f.check("macd_12_26_9_signal", &m.signal);
        f.check("macd_12_26_9_hist", &m.histogram);
    }
}

#[test]
fn bollinger_bands_match_ta_lib_bbands_on_every_row() {
    for f in fixtures() {
        let b = bollinger(&f.prices("close"), 20, 2.0).expect("valid");
        f.check("bbands_20_2_upper", &b.upper);
        f.check("bbands_20_2_middle", &b.middle);
        f.check("bbands_20_2_lower", &b.lower);
    }
}

#[test]
fn the_fixtures_cover_the_whole_samples() {
    let rows: Vec<usize> = fixtures().iter().map(|f| f.column("close").len()).collect();
    assert!(rows.iter().all(|&n| n > 1000), "{rows:?}");
}
