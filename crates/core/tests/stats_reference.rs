//! The statistics agree with backtesting.py 0.6.6 on its own trades and equity curves.
//!
//! Each fixture in `tests/fixtures/backtesting/` (see its README) holds backtesting.py's trades,
//! equity curve and statistics for one run over the bundled sample data. This test feeds the
//! fixture's own curve and trades to [`barter_core::simulator::stats::compute`], so it checks the
//! statistics alone, independently of the simulator. Every statistic in the fixture must agree to
//! 1e-6 relative (1e-9 absolute near zero).

use std::path::{Path, PathBuf};

use barter_core::simulator::stats::{StatsInput, compute};
use barter_core::simulator::{EquityPoint, Statistics, Trade};
use barter_core::{Day, ExitReason, Money, PositionId, Price, Quantity, Symbol, decimal_from_f64};
use rust_decimal::Decimal;
use serde_json::Value;

const RELATIVE: f64 = 1e-6;
const ABSOLUTE: f64 = 1e-9;

const FIXTURES: [&str; 8] = [
    "btc_sma10_20_c0",
    "btc_sma10_20_c0.002",
    "btc_sma10_20_c0_fractional",
    "btc_sma10_20_c0.002_fractional",
    "spy_sma10_20_c0",
    "spy_sma10_20_c0.002",
    "spy_sma10_20_c0_fractional",
    "spy_sma10_20_c0.002_fractional",
];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn day(value: &Value) -> Day {
    value
        .as_str()
        .expect("day is a string")
        .parse()
        .expect("day is YYYY-MM-DD")
}

fn number(value: &Value) -> f64 {
    value.as_f64().expect("a number")
}

/// An exact decimal from a JSON number (through its shortest round-trip text).
fn decimal(value: &Value) -> Decimal {
    decimal_from_f64(number(value)).expect("a finite number")
}

fn bar(value: &Value) -> usize {
    usize::try_from(value.as_u64().expect("a bar index")).expect("fits usize")
}

/// The closes of a sample CSV (`date,open,high,low,close,volume`), read with plain std.
fn closes(path: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(path).expect("sample CSV is readable");
    text.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            line.split(',')
                .nth(4)
                .expect("a close column")
                .parse()
                .expect("close is a number")
        })
        .collect()
}

fn equity_curve(fixture: &Value) -> Vec<EquityPoint> {
    let mut peak = f64::NEG_INFINITY;
    fixture["equity_curve"]
        .as_array()
        .expect("equity_curve is an array")
        .iter()
        .map(|row| {
            let equity = number(&row[1]);
            peak = peak.max(equity);
            EquityPoint {
                day: day(&row[0]),
                equity,
                cash: 0.0,
                drawdown: equity / peak - 1.0,
            }
        })
        .collect()
}

fn trades(fixture: &Value, symbol: &Symbol) -> Vec<Trade> {
    fixture["trades"]
        .as_array()
        .expect("trades is an array")
        .iter()
        .enumerate()
        .map(|(i, t)| Trade {
            position: PositionId(i64::try_from(i).expect("few trades") + 1),
            symbol: symbol.clone(),
            strategy: "sma_cross".to_owned(),
            entry_day: day(&t["entry_day"]),
            exit_day: day(&t["exit_day"]),
            entry_bar: bar(&t["entry_bar"]),
            exit_bar: bar(&t["exit_bar"]),
            quantity: Quantity(decimal(&t["size"])),
            entry_price: Price(decimal(&t["entry_price"])),
            exit_price: Price(decimal(&t["exit_price"])),
            fees: Money(decimal(&t["commission"])),
            pnl: Money(decimal(&t["pnl"])),
            return_fraction: number(&t["return_fraction"]),
            reason: ExitReason::Signal,
        })
        .collect()
}

/// backtesting.py's key → the value computed here (`None` = backtesting.py's NaN).
fn ours(stats: &Statistics, key: &str) -> Option<f64> {
    let field = match key {
        "Duration" => "duration_days",
        "Exposure Time [%]" => "exposure_time_pct",
        "Equity Final [$]" => "equity_final",
        "Equity Peak [$]" => "equity_peak",
        "Commissions [$]" => "commissions",
        "Return [%]" => "return_pct",
        "Buy & Hold Return [%]" => "buy_and_hold_return_pct",
        "Return (Ann.) [%]" => "return_ann_pct",
        "Volatility (Ann.) [%]" => "volatility_ann_pct",
        "CAGR [%]" => "cagr_pct",
        "Sharpe Ratio" => "sharpe_ratio",
        "Sortino Ratio" => "sortino_ratio",
        "Calmar Ratio" => "calmar_ratio",
        "Alpha [%]" => "alpha_pct",
        "Beta" => "beta",
        "Max. Drawdown [%]" => "max_drawdown_pct",
        "Avg. Drawdown [%]" => "avg_drawdown_pct",
        "Max. Drawdown Duration" => "max_drawdown_duration_days",
        "Avg. Drawdown Duration" => "avg_drawdown_duration_days",
        "# Trades" => "trades",
        "Win Rate [%]" => "win_rate_pct",
        "Best Trade [%]" => "best_trade_pct",
        "Worst Trade [%]" => "worst_trade_pct",
        "Avg. Trade [%]" => "avg_trade_pct",
        "Max. Trade Duration" => "max_trade_duration_days",
        "Avg. Trade Duration" => "avg_trade_duration_days",
        "Profit Factor" => "profit_factor",
        "Expectancy [%]" => "expectancy_pct",
        "SQN" => "sqn",
        "Kelly Criterion" => "kelly_criterion",
        other => panic!("backtesting.py statistic {other:?} has no counterpart"),
    };
    stats.value(field)
}

fn close_enough(expected: f64, actual: f64) -> bool {
    (expected - actual).abs() <= (RELATIVE * expected.abs()).max(ABSOLUTE)
}

/// Compares one fixture's statistics; returns one line per disagreement.
fn mismatches(name: &str) -> Vec<String> {
    let dir = manifest_dir();
    let path = dir.join(format!("tests/fixtures/backtesting/{name}.json"));
    let text = std::fs::read_to_string(&path).expect("fixture is readable");
    let fixture: Value = serde_json::from_str(&text).expect("fixture is JSON");
    let scenario = &fixture["scenario"];
    let data_file = scenario["data_file"].as_str().expect("data_file");
    let symbol = match scenario["series"].as_str().expect("series") {
        "btc" => Symbol::parse("BTC"),
        _ => Symbol::parse("SPY"),
    }
    .expect("valid symbol");

    let equity = equity_curve(&fixture);
    let trades = trades(&fixture, &symbol);
    let benchmark = closes(&dir.join("../..").join(data_file));
    assert_eq!(benchmark.len(), equity.len(), "{name}: one close per bar");
    let stats = compute(&StatsInput {
        equity: &equity,
        trades: &trades,
        benchmark: &benchmark,
        benchmark_start: bar(&scenario["first_indicator_bar"]),
        annual_periods: number(&scenario["annual_periods"]),
    });

    let expected = fixture["stats"].as_object().expect("stats is an object");
    let mut problems = Vec::new();
    for (key, value) in expected {
        match key.as_str() {
            "Start" | "End" => {
                let ours = if key == "Start" {
                    stats.start
                } else {
                    stats.end
                };
                if ours != day(value) {
                    problems.push(format!(
                        "{name}: {key}: backtesting.py {value}, ours {ours}"
                    ));
                }
            }
            _ => {
                let theirs = match value {
                    Value::Null => None,
                    Value::String(s) if s == "Infinity" => Some(f64::INFINITY),
                    Value::String(s) if s == "-Infinity" => Some(f64::NEG_INFINITY),
                    other => Some(number(other)),
                };
                let ours = ours(&stats, key);
                let agree = match (theirs, ours) {
                    (None, None) => true,
                    (Some(t), Some(o)) if t.is_infinite() => t == o,
                    (Some(t), Some(o)) => close_enough(t, o),
                    _ => false,
                };
                if !agree {
                    problems.push(format!(
                        "{name}: {key}: backtesting.py {theirs:?}, ours {ours:?}"
                    ));
                }
            }
        }
    }
    // backtesting.py leaves `Commissions [$]` out when they are 0.
    if !expected.contains_key("Commissions [$]") && stats.commissions != 0.0 {
        problems.push(format!(
            "{name}: Commissions [$]: backtesting.py 0 (omitted), ours {}",
            stats.commissions
        ));
    }
    problems
}

#[test]
fn statistics_match_backtesting_py_on_every_reference_run() {
    let problems: Vec<String> = FIXTURES.iter().flat_map(|name| mismatches(name)).collect();
    assert!(
        problems.is_empty(),
        "{} statistics disagree:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
