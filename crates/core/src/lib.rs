//! Barter's pure core: the trading domain with no I/O.
//!
//! Everything here is synchronous and deterministic: it never reads the clock, the network, the
//! file system or randomness. Time ("today") is always an argument, so the live daily job and a
//! replay of history call exactly the same code.
//!
//! # Layout
//! - [`money`]: exact decimal newtypes for prices and volumes.
//! - [`symbol`]: the validated instrument symbol.
//! - [`instrument`]: registered instruments, their data source and trading calendar.
//! - [`candle`]: the validated daily OHLCV candle.
//! - [`engine`]: the decision-day steps shared by the live jobs and the simulator.
//! - [`simulator`]: backtests over history through the same strategies, fills and account.
//! - [`execution`]: the paper fill model (timing, slippage, fees, sizing, refusals).
//! - [`notify`]: notifications of events (trades, refusals, failures, the digest) and their words.
//! - [`order`]: orders sent to a real venue: client ids, lifecycle, fills, venue rules, limits.
//! - [`account`]: the paper account: cash, positions, realized P&L.
//! - [`calendar`]: which days an instrument trades on, and gap detection.
//! - [`run`]: the record every job writes (what ran, when, with what outcome).
//! - [`market`]: point-in-time market data: a view of day D cannot reach a later candle.
//! - [`indicators`]: technical indicators (TA-Lib conventions), f64 only.
//! - [`strategy`]: the `Strategy` trait, config strategies, risk exits and exit priority.
//! - [`rule`]: the rule language for entry and exit conditions.

pub mod account;
pub mod calendar;
pub mod candle;
pub mod engine;
pub mod execution;
pub mod indicators;
pub mod instrument;
pub mod market;
pub mod money;
pub mod notify;
pub mod order;
pub mod rule;
pub mod run;
pub mod simulator;
pub mod strategy;
pub mod symbol;
pub mod whole;

pub use account::{Account, AccountError, Exit, ExitReason, Position, PositionId};
pub use calendar::{Calendar, Gaps};
pub use candle::{Candle, CandleError, CandleOrigin, Ohlcv, decimal_from_f64, decimal_to_f64};
pub use execution::{
    Fill, FillModel, FillTiming, PriceBasis, QuantityRounding, Refusal, Side, Sizing,
};
pub use instrument::{Instrument, InstrumentError, SourceKind};
pub use market::{MarketData, MarketError, MarketView, SeriesHistory};
pub use money::{Money, Price, Quantity, Volume};
pub use order::{
    AccountLimits, ClientOrderId, DecisionRef, LimitRefusal, Order, OrderAmount, OrderError,
    OrderEvent, OrderFill, OrderRefusal, OrderState, SymbolRules, VenueReport,
};
pub use run::{DecisionItem, InstrumentSync, Run, RunId, RunKind, RunReport, RunStatus};
pub use symbol::{Symbol, SymbolError};

/// A trading day: a calendar date, always meant in UTC.
pub type Day = chrono::NaiveDate;
