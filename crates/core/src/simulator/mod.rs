//! The simulator: backtests that walk the days of a period through the same strategies, exit
//! rules, fill model and account as the live daily job.

pub mod breakdown;
pub mod engine;
pub mod result;
pub mod screen;
pub mod stats;
pub mod sweep;

pub use breakdown::{Breakdown, by_exit_reason, by_instrument, by_strategy};
pub use engine::{
    BacktestError, BacktestInstrument, BacktestSettings, BacktestStrategy, annual_periods,
    backtest, backtest_with,
};
pub use result::{BacktestResult, EquityPoint, OpenTrade, Trade, Unfilled};
pub use screen::{Screen, ScreenStats, Unsettled};
pub use stats::{CurveStatistics, Statistics, StatsInput};
pub use sweep::{
    Constraint, Grid, ParamRange, PointStats, Ranked, run_grid, score, screened_ranking,
};
