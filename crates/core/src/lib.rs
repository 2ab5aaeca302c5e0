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
//! - [`calendar`]: which days an instrument trades on, and gap detection.
//! - [`run`]: the record every job writes (what ran, when, with what outcome).

pub mod calendar;
pub mod candle;
pub mod instrument;
pub mod money;
pub mod run;
pub mod symbol;

pub use calendar::{Calendar, Gaps};
pub use candle::{Candle, CandleError, CandleOrigin, Ohlcv, decimal_from_f64};
pub use instrument::{Instrument, InstrumentError, SourceKind};
pub use money::{Price, Volume};
pub use run::{InstrumentSync, Run, RunId, RunKind, RunReport, RunStatus};
pub use symbol::{Symbol, SymbolError};

/// A trading day: a calendar date, always meant in UTC.
pub type Day = chrono::NaiveDate;
