//! Barter's application layer: configuration, the jobs, and the `barter` command-line tool.
//!
//! The binary (`src/main.rs`) only parses arguments and hands over to [`cli::run`]; every job is a
//! plain async function over a [`barter_store::Store`] and a [`SourceSet`], so tests, benchmarks
//! and (later) the HTTP server call exactly what the CLI calls. The clock is read here, at the
//! edge, and passed down as an argument.
//!
//! # Layout
//! - [`config`]: `barter.toml` + `BARTER_*` environment, validated into [`Config`].
//! - [`source_set`]: the configured data sources, one per [`barter_core::SourceKind`].
//! - [`sync`]: the `sync_data` job (daily candle sync for every active instrument).
//! - [`trading`]: the `sync_new_trades` and `sync_close_positions` jobs.
//! - [`cli`]: the command-line interface and its output.

pub mod cli;
pub mod config;
pub mod source_set;
pub mod sync;
pub mod trading;

pub use config::Config;
pub use source_set::SourceSet;
pub use sync::{SyncOptions, SyncProgress, sync_data};
