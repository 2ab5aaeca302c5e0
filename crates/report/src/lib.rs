//! Backtest output files: CSV, JSON, SVG charts and the self-contained HTML report.
//!
//! [`write_backtest`] writes one backtest's five files into a directory; each file also has its
//! own function returning the text, so the CLI, the HTTP API and tests can use one piece alone:
//!
//! | file | function | content |
//! |---|---|---|
//! | `trades.csv` | [`trades_csv`] | closed trades, then open trades (`status` column) |
//! | `equity.csv` | [`equity_csv`] | `day,equity,cash,drawdown`, one row per day |
//! | `stats.json` | [`stats_json`] | settings, statistics, exact final cash and equity, tables |
//! | `chart.svg` | [`chart_svg`] | price with entry/exit markers, equity, drawdown |
//! | `report.html` | [`report_html`] | all of the above in one page that opens offline |
//!
//! Exact amounts (prices, quantities, cash, fees, P&L) are written as their decimal text and never
//! pass through `f64`; `f64` series (equity curve, statistics) use Rust's shortest round-trip
//! formatting. [`heatmap_svg`] draws a parameter sweep.
//!
//! Charts are drawn with plotters' SVG backend. It measures text with the DejaVu Sans font
//! embedded in the binary (`crates/report/assets/`, licence next to it), so no system font library
//! is needed; the SVG itself names the generic `sans-serif` family.

mod chart;
mod data;
mod heatmap;
mod html;

#[cfg(test)]
mod fixtures;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use barter_core::Day;
use barter_core::Symbol;
use barter_core::simulator::BacktestResult;
use serde::Serialize;

pub use chart::chart_svg;
pub use data::{equity_csv, stats_json, trades_csv};
pub use heatmap::heatmap_svg;
pub use html::report_html;

/// One instrument's daily closes for the price panel of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceSeries {
    /// The instrument; trades of this symbol get their markers on this line.
    pub symbol: Symbol,
    /// The days, ascending, aligned with `close`.
    pub days: Vec<Day>,
    /// The close of each day.
    pub close: Vec<f64>,
}

/// An extra table in the report and in `stats.json` (e.g. a per-instrument breakdown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportTable {
    /// The heading shown above the table.
    pub title: String,
    /// The column headers.
    pub columns: Vec<String>,
    /// The cells, row by row, already formatted.
    pub rows: Vec<Vec<String>>,
}

/// Everything one backtest report shows.
#[derive(Debug, Clone)]
pub struct ReportInput<'a> {
    /// The report's title (e.g. the strategy and period).
    pub title: String,
    /// The backtest's settings as label and value, in display order (labels should be unique:
    /// they are the keys of `stats.json`'s `settings` object).
    pub settings: Vec<(String, String)>,
    /// The backtest's outcome.
    pub result: &'a BacktestResult,
    /// The traded instruments' closes; several are normalised to 100 at their first day.
    pub prices: &'a [PriceSeries],
    /// Extra tables shown after the chart.
    pub tables: Vec<ReportTable>,
}

/// The files [`write_backtest`] writes, in this order.
pub const BACKTEST_FILES: [&str; 5] = [
    "trades.csv",
    "equity.csv",
    "stats.json",
    "chart.svg",
    "report.html",
];

/// A statistic's value in a table (see `Statistics::KEYS`): a count (`trades`) or a whole
/// number of days as an integer (`50`, not `50.00`), any other value, and a mean of counts
/// that is not whole, with two decimals; infinities as `inf` and `-inf`.
pub fn statistic_text(key: &str, value: f64) -> String {
    let counted = key == "trades" || key.ends_with("_days");
    if counted && value.is_finite() && value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// Writes `trades.csv`, `equity.csv`, `stats.json`, `chart.svg` and `report.html` into `dir`
/// (created if missing, existing files replaced) and returns their paths in that order.
///
/// # Errors
/// When a file cannot be rendered or `dir` or a file cannot be written.
pub fn write_backtest(dir: &Path, input: &ReportInput<'_>) -> anyhow::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let chart = chart_svg(input)?;
    let html = html::render(input, &chart)?;
    let contents = [
        trades_csv(input.result)?,
        equity_csv(input.result)?,
        stats_json(input)?,
        chart,
        html,
    ];
    let mut paths = Vec::with_capacity(BACKTEST_FILES.len());
    for (name, text) in BACKTEST_FILES.iter().zip(contents) {
        let path = dir.join(name);
        fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        paths.push(path);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::fixtures::{sample_prices, sample_result};
    use super::*;

    #[test]
    fn counts_and_whole_days_print_as_integers() {
        assert_eq!(statistic_text("trades", 50.0), "50");
        assert_eq!(statistic_text("trades", 12.5), "12.50", "a mean of counts");
        assert_eq!(statistic_text("max_trade_duration_days", 7.0), "7");
        assert_eq!(statistic_text("avg_trade_duration_days", 7.25), "7.25");
        assert_eq!(statistic_text("return_pct", 50.0), "50.00");
        assert_eq!(statistic_text("sharpe_ratio", -0.123), "-0.12");
        assert_eq!(statistic_text("profit_factor", f64::INFINITY), "inf");
    }

    #[test]
    fn write_backtest_creates_the_directory_and_writes_the_five_files() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().join("runs").join("sma");
        let result = sample_result();
        let prices = sample_prices();
        let input = ReportInput {
            title: "SMA cross".to_owned(),
            settings: vec![("fee_bps".to_owned(), "10".to_owned())],
            result: &result,
            prices: &prices,
            tables: Vec::new(),
        };

        let paths = write_backtest(&dir, &input).expect("written");

        let names: Vec<_> = paths
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, BACKTEST_FILES);
        for path in &paths {
            let text = fs::read_to_string(path).expect("readable");
            assert!(!text.is_empty(), "{} is empty", path.display());
        }
        let chart = fs::read_to_string(dir.join("chart.svg")).expect("chart");
        assert!(chart.starts_with("<svg"));
    }
}
