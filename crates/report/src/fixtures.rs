//! A small hand-built backtest shared by the report tests.

use barter_core::simulator::stats::{self, StatsInput};
use barter_core::simulator::{BacktestResult, EquityPoint, OpenTrade, Trade, Unfilled};
use barter_core::{Day, ExitReason, Money, PositionId, Price, Quantity, Symbol};
use rust_decimal_macros::dec;

use super::PriceSeries;

/// A day of January 2024.
pub(super) fn jan(day: u32) -> Day {
    Day::from_ymd_opt(2024, 1, day).expect("a valid January day")
}

/// A symbol known to be valid.
pub(super) fn symbol(text: &str) -> Symbol {
    Symbol::parse(text).expect("a valid symbol")
}

/// Five days, one closed BTC trade, one open ETH trade whose strategy name needs escaping, and one
/// unfilled entry.
pub(super) fn sample_result() -> BacktestResult {
    let equity = [
        (10_000.0, 10_000.0, 0.0),
        (10_000.0, 9_987.6, 0.0),
        (10_100.0, 7_975.1, 0.0),
        (9_847.5, 7_987.654_321, -0.025),
        (10_246.123_456_789_1, 7_987.654_321, 0.0),
    ];
    let equity: Vec<EquityPoint> = equity
        .iter()
        .zip(1..)
        .map(|(&(equity, cash, drawdown), day)| EquityPoint {
            day: jan(day),
            equity,
            cash,
            drawdown,
        })
        .collect();
    let trades = vec![Trade {
        position: PositionId(1),
        symbol: symbol("BTC"),
        strategy: "sma".to_owned(),
        entry_day: jan(2),
        exit_day: jan(4),
        entry_bar: 1,
        exit_bar: 3,
        quantity: Quantity(dec!(0.12345678)),
        entry_price: Price(dec!(100.50)),
        exit_price: Price(dec!(110.25)),
        fees: Money(dec!(0.0123456789)),
        pnl: Money(dec!(1.1913)),
        return_fraction: 0.0958,
        reason: ExitReason::TakeProfit,
    }];
    // Computed rather than written out, so the fixture follows the statistics' fields.
    let stats = stats::compute(&StatsInput {
        equity: &equity,
        trades: &trades,
        benchmark: &[100.0, 101.0, 105.0, 110.0, 108.0],
        benchmark_start: 0,
        annual_periods: 365.0,
    });
    BacktestResult {
        initial_cash: Money(dec!(10000)),
        final_cash: Money(dec!(7987.6543210)),
        final_equity: Money(dec!(10246.1234567891)),
        trades,
        open_trades: vec![OpenTrade {
            position: PositionId(2),
            symbol: symbol("ETH"),
            strategy: "dip <buy> & \"hold\"".to_owned(),
            entry_day: jan(3),
            entry_bar: 2,
            quantity: Quantity(dec!(0.5)),
            entry_price: Price(dec!(2012.5)),
            entry_fee: Money(dec!(1.00)),
            mark_price: Price(dec!(2010.5)),
            unrealized_pnl: Money(dec!(-1.0000)),
        }],
        equity,
        stats,
        unfilled: vec![Unfilled {
            day: jan(5),
            symbol: symbol("BTC"),
            strategy: "sma".to_owned(),
            reason: "decided on the last day: no next candle to fill at".to_owned(),
        }],
    }
}

/// BTC and ETH closes over the five days of [`sample_result`].
pub(super) fn sample_prices() -> Vec<PriceSeries> {
    vec![
        PriceSeries {
            symbol: symbol("BTC"),
            days: (1..=5).map(jan).collect(),
            close: vec![100.0, 101.0, 105.0, 110.0, 108.0],
        },
        PriceSeries {
            symbol: symbol("ETH"),
            days: (1..=5).map(jan).collect(),
            close: vec![2_000.0, 2_012.0, 2_015.0, 2_005.0, 2_010.5],
        },
    ]
}
