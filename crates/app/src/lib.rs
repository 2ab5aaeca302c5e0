//! Barter's application layer: configuration, the jobs, and the `barter` command-line tool.
//!
//! The binary (`src/main.rs`) only parses arguments and hands over to [`cli::run`]; every job is a
//! plain async function over a [`barter_store::Store`] and a [`SourceSet`], so tests, benchmarks
//! and the HTTP server call exactly what the CLI calls. The clock is read here, at the
//! edge, and passed down as an argument.
//!
//! # Layout
//! - [`backtest`]: backtests, sweeps and walk-forward runs as the CLI and the API ask for them.
//! - [`config`]: `barter.toml` + `BARTER_*` environment, validated into [`Config`].
//! - [`schedule`]: the `[schedule]` cron expressions and the scheduler loop with catch-up.
//! - [`source_set`]: the configured data sources, one per [`barter_core::SourceKind`].
//! - [`jobs`]: the daily jobs as one entry point, with their run ids and a polite stop.
//! - [`sync`]: the `sync_data` job (daily candle sync for every active instrument).
//! - [`trading`]: the `sync_new_trades` and `sync_close_positions` jobs.
//! - [`server`]: `barter serve`, the HTTP API with the seed's cron endpoints.
//! - [`report`]: backtest output files: CSV, JSON, SVG charts and the HTML report.
//! - [`views`]: positions, the account and explanations, as the CLI and the API show them.
//! - [`cli`]: the command-line interface and its output.

pub mod backtest;
pub mod cli;
pub mod config;
pub mod data_files;
pub mod jobs;
pub mod report;
pub mod schedule;
pub mod server;
pub mod source_set;
pub mod sync;
pub mod trading;
pub mod views;
mod web;

pub use config::Config;
pub use source_set::SourceSet;
pub use sync::{SyncOptions, SyncProgress, sync_data};
