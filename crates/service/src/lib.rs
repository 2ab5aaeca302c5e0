//! Barter's application services: configuration, the daily jobs, the scheduler, the backtest
//! runner and the read models, as plain async functions over a [`barter_store::Store`] and a
//! [`SourceSet`]. The CLI (`crates/cli`) and the HTTP server (`crates/server`) both call exactly
//! this code; neither is imported here. The clock is read by those callers and passed down.
//!
//! # Layout (arrows point to what a module uses)
//! - [`config`]: `barter.toml` + `BARTER_*`, validated into [`Config`] (→ [`schedule`], [`data_files`]).
//! - [`control`]: what a running job and its caller share: [`control::Job`], signals, heartbeat.
//! - [`source_set`]: the configured data sources, one per [`barter_core::SourceKind`] (→ config).
//! - [`data_files`]: which CSV files an instrument may name.
//! - [`halt`]: the kill switch: halt and resume new entries, for every process at once.
//! - [`instruments`]: registering an instrument from the CLI's, API's or dashboard's fields.
//! - [`sync`]: the `sync_data` job (daily candle sync for every active instrument) (→ control).
//! - [`trading`]: the `sync_new_trades` and `sync_close_positions` jobs (→ config, control, sync).
//! - [`jobs`]: [`jobs::run_job`], every job behind one entry point (→ sync, trading).
//! - [`schedule`]: the `[schedule]` cron expressions and the scheduler loop with catch-up (→ control).
//! - [`backtest`]: backtests, sweeps and walk-forward runs as the CLI and the API ask for them.
//! - [`instrument_health`]: coverage, gaps and staleness of an instrument's candles (→ sync, trading).
//! - [`reconcile`]: each account against its venue, with drift (→ trading).
//! - [`status`]: health at a glance for `barter status`, the API and the overview (→ all of the above).
//! - [`views`]: positions, the account and explanations, as the CLI, API and dashboard show them.

pub mod accounts;
pub mod backtest;
pub mod config;
pub mod control;
pub mod data_files;
pub mod halt;
pub mod instrument_health;
pub mod instruments;
pub mod jobs;
pub mod notify;
pub mod notify_config;
pub mod reconcile;
pub mod schedule;
pub mod source_set;
pub mod status;
pub mod sync;
pub mod trading;
pub mod views;

pub use config::Config;
pub use source_set::SourceSet;
pub use sync::{SyncOptions, SyncProgress, sync_data};
