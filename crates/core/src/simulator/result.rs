//! What a backtest produces: closed trades, the trade still open at the end, the daily equity
//! curve and the statistics computed from them.

use serde::{Deserialize, Serialize};

use crate::Day;
use crate::account::{ExitReason, PositionId};
use crate::money::{Money, Price, Quantity};
use crate::symbol::Symbol;

use super::stats::Statistics;

/// A position opened and closed during the backtest, with its exact money.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// The position's id within the backtest's account.
    pub position: PositionId,
    /// The instrument.
    pub symbol: Symbol,
    /// The strategy that opened it.
    pub strategy: String,
    /// The day of the opening fill.
    pub entry_day: Day,
    /// The day of the closing fill.
    pub exit_day: Day,
    /// Index of the entry fill's day in the equity curve.
    pub entry_bar: usize,
    /// Index of the exit fill's day in the equity curve.
    pub exit_bar: usize,
    /// Units held.
    pub quantity: Quantity,
    /// The opening fill's price (slippage included).
    pub entry_price: Price,
    /// The closing fill's price (slippage included).
    pub exit_price: Price,
    /// Fees of both fills.
    pub fees: Money,
    /// Proceeds − cost − both fees.
    pub pnl: Money,
    /// backtesting.py's `ReturnPct` as a fraction: `exit / entry − 1 − fees / (quantity × entry)`.
    pub return_fraction: f64,
    /// Why it was closed.
    pub reason: ExitReason,
}

/// A position still open after the last day, marked at the last close.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenTrade {
    /// The position's id within the backtest's account.
    pub position: PositionId,
    /// The instrument.
    pub symbol: Symbol,
    /// The strategy that opened it.
    pub strategy: String,
    /// The day of the opening fill.
    pub entry_day: Day,
    /// Index of the entry fill's day in the equity curve.
    pub entry_bar: usize,
    /// Units held.
    pub quantity: Quantity,
    /// The opening fill's price.
    pub entry_price: Price,
    /// The opening fill's fee (already paid).
    pub entry_fee: Money,
    /// The last close it is marked at.
    pub mark_price: Price,
    /// `quantity × (mark − entry)`, fees excluded (backtesting.py's convention).
    pub unrealized_pnl: Money,
}

/// One day of the equity curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EquityPoint {
    /// The day (its close).
    pub day: Day,
    /// Cash plus open positions marked at the day's close.
    pub equity: f64,
    /// Cash alone.
    pub cash: f64,
    /// `equity / running peak − 1` (0 or negative).
    pub drawdown: f64,
}

/// Everything a backtest produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestResult {
    /// The cash the account started with.
    pub initial_cash: Money,
    /// Cash after the last day, exact.
    pub final_cash: Money,
    /// Cash plus open positions at the last close, exact.
    pub final_equity: Money,
    /// Closed trades, in the order they were closed.
    pub trades: Vec<Trade>,
    /// Positions still open after the last day.
    pub open_trades: Vec<OpenTrade>,
    /// One point per day of the period.
    pub equity: Vec<EquityPoint>,
    /// The statistics.
    pub stats: Statistics,
    /// Entries that passed but were not filled (refused by the broker, or decided on the last
    /// day with no next candle to fill at).
    pub unfilled: Vec<Unfilled>,
}

/// An entry or exit that passed but produced no fill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unfilled {
    /// The decision day.
    pub day: Day,
    /// The instrument.
    pub symbol: Symbol,
    /// The strategy.
    pub strategy: String,
    /// Why not, for people.
    pub reason: String,
}
