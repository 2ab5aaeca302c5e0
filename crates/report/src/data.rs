//! The machine-readable files: `trades.csv`, `equity.csv` and `stats.json`.

use anyhow::Context;
use barter_core::ExitReason;
use barter_core::Money;
use barter_core::simulator::{BacktestResult, Statistics};
use serde::ser::{Serialize, Serializer};

use super::{ReportInput, ReportTable};

/// The header of `trades.csv`.
const TRADE_COLUMNS: [&str; 16] = [
    "status",
    "position",
    "symbol",
    "strategy",
    "entry_day",
    "entry_bar",
    "entry_price",
    "quantity",
    "exit_day",
    "exit_bar",
    "exit_price",
    "mark_price",
    "fees",
    "pnl",
    "return_fraction",
    "reason",
];

/// `trades.csv`: one row per closed trade (`status` = `closed`, in closing order), then one per
/// trade still open after the last day (`status` = `open`).
///
/// Prices, quantities, fees and P&L are the exact decimal text. Open trades leave the `exit_*`
/// columns empty and fill `mark_price` (the last close); their `fees` is the entry fee already
/// paid and their `pnl` the unrealized P&L, fees excluded. `return_fraction` is the closed trade's
/// return as a fraction (0.1 = 10 %), empty for open trades.
///
/// # Errors
/// When the CSV writer fails (it writes to memory, so only on a serialization bug).
pub fn trades_csv(result: &BacktestResult) -> anyhow::Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(TRADE_COLUMNS)?;
    for trade in &result.trades {
        writer.write_record([
            "closed",
            &trade.position.to_string(),
            trade.symbol.as_str(),
            &trade.strategy,
            &trade.entry_day.to_string(),
            &trade.entry_bar.to_string(),
            &trade.entry_price.to_string(),
            &trade.quantity.to_string(),
            &trade.exit_day.to_string(),
            &trade.exit_bar.to_string(),
            &trade.exit_price.to_string(),
            "",
            &trade.fees.to_string(),
            &trade.pnl.to_string(),
            &trade.return_fraction.to_string(),
            &exit_reason_text(trade.reason)?,
        ])?;
    }
    for open in &result.open_trades {
        writer.write_record([
            "open",
            &open.position.to_string(),
            open.symbol.as_str(),
            &open.strategy,
            &open.entry_day.to_string(),
            &open.entry_bar.to_string(),
            &open.entry_price.to_string(),
            &open.quantity.to_string(),
            "",
            "",
            "",
            &open.mark_price.to_string(),
            &open.entry_fee.to_string(),
            &open.unrealized_pnl.to_string(),
            "",
            "",
        ])?;
    }
    into_text(writer)
}

/// `equity.csv`: `day,equity,cash,drawdown`, one row per day of the period; `drawdown` is a
/// fraction (−0.1 = 10 % below the running peak).
///
/// # Errors
/// When the CSV writer fails (it writes to memory, so only on a serialization bug).
pub fn equity_csv(result: &BacktestResult) -> anyhow::Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["day", "equity", "cash", "drawdown"])?;
    for point in &result.equity {
        writer.write_record([
            point.day.to_string(),
            point.equity.to_string(),
            point.cash.to_string(),
            point.drawdown.to_string(),
        ])?;
    }
    into_text(writer)
}

/// `stats.json`, pretty-printed: `title`, `settings` (an object in the input's order), exact
/// `initial_cash`, `final_cash` and `final_equity` (decimal strings), the counts of closed and
/// open trades and unfilled entries, `stats` (the [`Statistics`] fields; `null` where a
/// statistic is undefined) and `tables`.
///
/// # Errors
/// When serialization fails (only on a bug).
pub fn stats_json(input: &ReportInput<'_>) -> anyhow::Result<String> {
    let result = input.result;
    let file = StatsFile {
        title: &input.title,
        settings: Pairs(&input.settings),
        initial_cash: result.initial_cash,
        final_cash: result.final_cash,
        final_equity: result.final_equity,
        closed_trades: result.trades.len(),
        open_trades: result.open_trades.len(),
        unfilled: result.unfilled.len(),
        stats: &result.stats,
        tables: &input.tables,
    };
    let mut text = serde_json::to_string_pretty(&file).context("cannot serialize stats.json")?;
    text.push('\n');
    Ok(text)
}

/// The exit reason as it is spelled in JSON (`stop_loss`), one spelling everywhere.
pub(super) fn exit_reason_text(reason: ExitReason) -> anyhow::Result<String> {
    match serde_json::to_value(reason)? {
        serde_json::Value::String(text) => Ok(text),
        other => anyhow::bail!("exit reason serialized as {other}, not a string"),
    }
}

/// The layout of `stats.json`.
#[derive(serde::Serialize)]
struct StatsFile<'a> {
    title: &'a str,
    settings: Pairs<'a>,
    initial_cash: Money,
    final_cash: Money,
    final_equity: Money,
    closed_trades: usize,
    open_trades: usize,
    unfilled: usize,
    stats: &'a Statistics,
    tables: &'a [ReportTable],
}

/// Label/value pairs serialized as a JSON object that keeps their order (serde_json writes map
/// entries in the order they are given; only its `Value` map would sort them).
struct Pairs<'a>(&'a [(String, String)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(key, value)| (key, value)))
    }
}

fn into_text(writer: csv::Writer<Vec<u8>>) -> anyhow::Result<String> {
    let bytes = writer
        .into_inner()
        .map_err(|error| anyhow::anyhow!("cannot finish the CSV: {}", error.error()))?;
    String::from_utf8(bytes).context("the CSV is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{sample_prices, sample_result};
    use super::*;

    fn read(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader
            .headers()
            .expect("header")
            .iter()
            .map(str::to_owned)
            .collect();
        let rows = reader
            .records()
            .map(|r| r.expect("row").iter().map(str::to_owned).collect())
            .collect();
        (header, rows)
    }

    #[test]
    fn trades_csv_lists_closed_then_open_trades_with_exact_decimals() {
        let result = sample_result();

        let (header, rows) = read(&trades_csv(&result).expect("csv"));

        assert_eq!(header, TRADE_COLUMNS);
        assert_eq!(rows.len(), result.trades.len() + result.open_trades.len());
        let column = |name: &str| header.iter().position(|h| h == name).expect("known column");
        let closed = &rows[0];
        assert_eq!(closed[column("status")], "closed");
        assert_eq!(closed[column("symbol")], "BTC");
        assert_eq!(closed[column("entry_price")], "100.50");
        assert_eq!(closed[column("exit_price")], "110.25");
        assert_eq!(closed[column("quantity")], "0.12345678");
        assert_eq!(closed[column("fees")], "0.0123456789");
        assert_eq!(closed[column("pnl")], "1.1913");
        assert_eq!(closed[column("reason")], "take_profit");
        assert_eq!(closed[column("mark_price")], "");
        let open = rows.last().expect("an open trade");
        assert_eq!(open[column("status")], "open");
        assert_eq!(open[column("symbol")], "ETH");
        assert_eq!(open[column("exit_day")], "");
        assert_eq!(open[column("mark_price")], "2010.5");
        assert_eq!(open[column("pnl")], "-1.0000");
        assert_eq!(open[column("strategy")], "dip <buy> & \"hold\"");
    }

    #[test]
    fn trades_csv_of_a_backtest_without_trades_is_only_the_header() {
        let mut result = sample_result();
        result.trades.clear();
        result.open_trades.clear();

        let text = trades_csv(&result).expect("csv");

        assert_eq!(text.lines().count(), 1);
        assert!(text.starts_with("status,position,symbol,"));
    }

    #[test]
    fn equity_csv_has_one_row_per_day() {
        let result = sample_result();

        let (header, rows) = read(&equity_csv(&result).expect("csv"));

        assert_eq!(header, ["day", "equity", "cash", "drawdown"]);
        assert_eq!(rows.len(), result.equity.len());
        assert_eq!(rows[0], ["2024-01-01", "10000", "10000", "0"]);
        assert_eq!(rows[3][3], "-0.025");
    }

    #[test]
    fn stats_json_parses_and_keeps_exact_money_and_setting_order() {
        let result = sample_result();
        let prices = sample_prices();
        let input = ReportInput {
            title: "SMA".to_owned(),
            settings: vec![
                ("strategy".to_owned(), "sma".to_owned()),
                ("fee_bps".to_owned(), "10".to_owned()),
            ],
            result: &result,
            prices: &prices,
            tables: vec![ReportTable {
                title: "Per instrument".to_owned(),
                columns: vec!["symbol".to_owned(), "trades".to_owned()],
                rows: vec![vec!["BTC".to_owned(), "1".to_owned()]],
            }],
        };

        let text = stats_json(&input).expect("json");
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");

        for key in [
            "title",
            "settings",
            "initial_cash",
            "final_cash",
            "final_equity",
            "stats",
            "tables",
        ] {
            assert!(value.get(key).is_some(), "missing {key}");
        }
        assert_eq!(value["final_cash"], "7987.6543210");
        assert_eq!(value["final_equity"], "10246.1234567891");
        assert_eq!(value["stats"]["trades"], 1);
        assert!(value["stats"]["return_pct"].is_number());
        assert_eq!(value["tables"][0]["rows"][0][0], "BTC");
        assert!(
            text.find("\"strategy\"").expect("strategy") < text.find("\"fee_bps\"").expect("fee"),
            "settings keep their order"
        );
    }
}
