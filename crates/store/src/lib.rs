//! Barter's persistence: instruments, daily candles, job runs, the trading ledger and the
//! append-only history, stored in SQLite (the default) or PostgreSQL through sqlx runtime
//! queries, behaving identically on both.
//!
//! Open a [`Store`] with [`Store::connect`] (`sqlite:barter.db`, `sqlite::memory:`,
//! `postgres://…`); pending migrations are applied on connect. Every query is written once and
//! expanded for both backends by the internal `on_db!` macro; the only per-backend code is the
//! value codec (money is TEXT on SQLite and NUMERIC on PostgreSQL) in [`codec`].
//!
//! # Layout
//! - [`connect`]: [`Store`], [`Db`], URL parsing, pool options, schema isolation for tests.
//! - [`migrate`]: the embedded per-backend migrations (`migrations/sqlite`, `migrations/postgres`).
//! - [`codec`]: how values are bound and read on each backend.
//! - [`error`]: [`StoreError`], which says what failed and keeps its source.
//! - [`instruments`]: register, list, (de)activate and remove instruments.
//! - [`candles`]: the transactional candle write with its added/updated/unchanged/conflict diff,
//!   and candle reads ([`Coverage`], stored days, last complete day).
//! - [`bounds`]: the limits on stored messages (run errors, reports, history details), applied
//!   by every write so no caller can store a 200 MB error.
//! - [`halt`]: the kill switch ([`TradingHalt`]): new entries halted for every process sharing
//!   the database, each change in the history.
//! - [`lease`]: run owners and heartbeats; runs of killed processes are marked `interrupted`.
//! - [`runs`]: job run records and the append-only [`HistoryEntry`] log, filtered and paged
//!   with [`HistoryFilter`].
//! - [`orders`]: the order outbox — orders for a real venue planned once per decision
//!   ([`PlannedOrder`]), saved with a compare-and-set on the stored state so one process sends
//!   an order and a final order never changes ([`SavedOrder`]), their fills stored once by
//!   trade id, listed with [`OrderFilter`].
//! - [`saved`]: backtests saved from the dashboard ([`SavedBacktest`]), their request and
//!   summary kept as JSON.
//! - [`sessions`]: the dashboard's signed-in sessions ([`DashboardSession`]), stored by the
//!   SHA-256 of their id so they survive restarts and every server sharing the database knows
//!   them; bounded in number, expired ones deleted.
//! - [`trading`]: the trading ledger — the paper account ([`AccountState`]), decisions keyed by
//!   (strategy, instrument, decision day) so a rerun changes nothing ([`NewDecision`],
//!   [`DecisionRecord`]), positions opened and closed in one transaction with their fills, cash
//!   and history entries ([`OpenOutcome`], [`CloseOutcome`]), one open position per strategy ×
//!   instrument enforced by the database.

/// Expands `$body` once per backend with `$pool` bound to that backend's pool and `codec`
/// naming the backend's value codec, so each query is written once for SQLite and PostgreSQL.
/// Written `on_db!(&self.db, |pool| { … })`: closure-like syntax, so rustfmt formats the body.
macro_rules! on_db {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::connect::Db::Sqlite($pool) => {
                #[allow(unused_imports)]
                use $crate::codec::sqlite as codec;
                $body
            }
            $crate::connect::Db::Postgres($pool) => {
                #[allow(unused_imports)]
                use $crate::codec::postgres as codec;
                $body
            }
        }
    };
}

pub mod bounds;
pub mod candles;
pub mod codec;
pub mod connect;
pub mod error;
pub mod halt;
pub mod instruments;
pub mod lease;
pub mod migrate;
pub mod notifications;
pub mod orders;
pub mod runs;
pub mod saved;
pub mod secrets;
pub mod sessions;
pub mod trading;

pub use candles::{CandleConflict, CandleWrite, Coverage, HistoryEvent};
pub use connect::{ConnectOptions, Db, POSTGRES_ACQUIRE_TIMEOUT, POSTGRES_CONNECT_TIMEOUT, Store};
pub use error::{StorageProblem, StoreError};
pub use halt::TradingHalt;
pub use lease::{AbandonedRun, HEARTBEAT_EVERY, RUN_LEASE, RunLease, process_owner};
pub use orders::{OrderFilter, PlannedOrder, SavedOrder};
pub use runs::{HistoryEntry, HistoryFilter};
pub use saved::SavedBacktest;
pub use sessions::DashboardSession;
pub use trading::{
    AccountState, CloseOutcome, DecisionFilter, DecisionKind, DecisionOutcome, DecisionRecord,
    NewDecision, OpenOutcome, PositionStatus,
};
