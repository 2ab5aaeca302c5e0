//! What each command does: load config, open the store, call the job, print the result.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use barter_core::RunStatus;
use barter_store::error::redact_url as redact;
use barter_store::{ConnectOptions, Store};
use chrono::Utc;

use super::output::{self, ProgressReporter};
use super::{Cli, Command, DbCommand, InstrumentsCommand, SessionsCommand, SyncArgs};
use barter_service::config::{self, Config, DEFAULT_CONFIG_FILE, STARTER_FILE};
use barter_service::data_files::CsvAccess;
use barter_service::source_set::SourceSet;
use barter_service::sync::{SyncOptions, sync_data};

/// Loads the config with the CLI's overrides applied.
fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let (path, explicit) = config::config_path(cli.config.as_deref());
    let mut config = config::load(&path, explicit)?.config;
    if let Some(url) = &cli.database {
        config.database_url = url.clone();
    }
    Ok(config)
}

pub(super) async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = connect(config, &ConnectOptions::default()).await?;
    // Every command marks the runs of killed processes first, so `barter runs` or `barter
    // history` never shows a dead job as still running. A failure here only delays the mark.
    match store
        .interrupt_abandoned_runs(Utc::now(), barter_store::RUN_LEASE)
        .await
    {
        Ok(marked) if !marked.is_empty() => {
            tracing::warn!("marked {} abandoned run(s) as interrupted", marked.len());
        }
        Ok(_) => {}
        Err(error) => tracing::warn!("cannot mark abandoned runs: {error}"),
    }
    Ok(store)
}

/// Opens the configured database with `options`.
async fn connect(config: &Config, options: &ConnectOptions) -> anyhow::Result<Store> {
    Store::connect_with(&config.database_url, options)
        .await
        .with_context(|| format!("cannot open the database {}", redact(&config.database_url)))
}

/// `result` with a store error explained ([`Store::explain`]: the file, the unreachable server).
async fn explained<T>(store: &Store, result: anyhow::Result<T>) -> anyhow::Result<T> {
    match result {
        Ok(value) => Ok(value),
        Err(error) => Err(barter_service::jobs::explain_error(store, error).await),
    }
}

pub(super) async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Init { force } => {
            let (path, _) = config::config_path(cli.config.as_deref());
            write_starter(&path, *force)?;
            outln!("wrote {}", path.display())?;
            // `init` sets up an installation: it creates the SQLite database (and its
            // directories), which every other command then only opens.
            let config = load_config(&cli)?;
            if config.database_url.trim_start().starts_with("sqlite:") {
                let options = ConnectOptions {
                    create_directories: true,
                    ..ConnectOptions::default()
                };
                connect(&config, &options).await?.close().await;
                outln!("database ready: {}", redact(&config.database_url))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Quickstart => quickstart(&cli).await,
        Command::Backtest(args) => {
            let config = load_config(&cli)?;
            super::backtest_command::run(cli.json, &config, args).await
        }
        Command::Instruments(command) => {
            let config = load_config(&cli)?;
            let store = open_store(&config).await?;
            explained(&store, instruments(&cli, &store, command).await).await
        }
        Command::Sync(args) => {
            let config = load_config(&cli)?;
            let store = open_store(&config).await?;
            let result = sync(&cli, &config, &store, args).await;
            if result.is_ok() {
                super::notify_command::after_job(&config, &store, false).await;
            }
            explained(&store, result).await
        }
        Command::Notify(command) => {
            let config = load_config(&cli)?;
            let store = open_store(&config).await?;
            let result = super::notify_command::run(cli.json, &config, &store, command).await;
            explained(&store, result).await
        }
        Command::Trade(_)
        | Command::Close(_)
        | Command::Run(_)
        | Command::Strategies(_)
        | Command::Positions { .. }
        | Command::Account
        | Command::History { .. }
        | Command::Explain { .. } => {
            let config = load_config(&cli)?;
            let store = open_store(&config).await?;
            let result = super::trading_commands::dispatch(&cli, &config, &store).await;
            // After the jobs (not a replay of past days): the digest once the close job ran,
            // then the notifications, within a time budget.
            let job = match &cli.command {
                Command::Trade(_) => Some(false),
                Command::Close(_) => Some(true),
                Command::Run(args) => args.replay_from.is_none().then_some(true),
                _ => None,
            };
            if let (Some(close_ran), Ok(_)) = (job, &result) {
                super::notify_command::after_job(&config, &store, close_ran).await;
            }
            explained(&store, result).await
        }
        Command::Candles { symbol, from, to } => {
            if let (Some(from), Some(to)) = (from, to)
                && from > to
            {
                anyhow::bail!("--from {from} is after --to {to}: no day can be in that range");
            }
            let config = load_config(&cli)?;
            let store = open_store(&config).await?;
            if store.instrument(symbol).await?.is_none() {
                anyhow::bail!(
                    "instrument {symbol} is not registered; see `barter instruments list`"
                );
            }
            let candles = store.candles(symbol, *from, *to).await?;
            output::candles(cli.json, &candles)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Orders {
            open,
            account,
            limit,
        } => {
            let config = load_config(&cli)?;
            let store = open_store(&config).await?;
            let filter = barter_store::OrderFilter {
                account: account.clone(),
                open_only: *open,
                limit: *limit,
            };
            let orders = barter_service::views::orders(&store, &filter).await?;
            output::orders(cli.json, &orders)?;
            if !cli.json {
                let shadow =
                    barter_service::views::shadow_summary(&store, account.as_deref()).await?;
                output::shadow_summary(&shadow)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Accounts | Command::Reconcile => {
            let config = load_config(&cli)?;
            let store = open_store(&config).await?;
            let trading = barter_service::trading::Trading::for_store(&config, &store).await?;
            let reports = barter_service::reconcile::reconcile(&store, &trading).await?;
            let reconciled = reports
                .iter()
                .all(|r| r.drift.is_empty() && r.error.is_none());
            if matches!(cli.command, Command::Accounts) {
                output::accounts(cli.json, &reports)?;
                Ok(ExitCode::SUCCESS)
            } else {
                output::reconcile(cli.json, &reports)?;
                Ok(if reconciled {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
        }
        Command::Halt { reason } => {
            let config = load_config(&cli)?;
            let store = open_store(&config).await?;
            let state =
                barter_service::halt::halt(&store, reason.as_deref(), "cli", Utc::now()).await?;
            output::halt(cli.json, &state)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Resume => {
            let config = load_config(&cli)?;
            let store = open_store(&config).await?;
            let state = barter_service::halt::resume(&store, "cli", Utc::now()).await?;
            output::halt(cli.json, &state)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { now } => {
            // Anything that stops the status from being read (the config, the database) is
            // exit status 2, so a monitoring check tells "unhealthy" from "unknown".
            let read = async {
                let config = load_config(&cli)?;
                let store = open_store(&config).await?;
                let now = now.unwrap_or_else(Utc::now);
                let result = super::status_command::run(cli.json, &config, &store, now).await;
                explained(&store, result).await
            };
            Ok(match read.await {
                Ok(code) => code,
                Err(error) => super::exit_on_error_with(
                    &error,
                    ExitCode::from(super::status_command::UNKNOWN),
                ),
            })
        }
        Command::Runs { limit } => {
            let config = load_config(&cli)?;
            let store = open_store(&config).await?;
            let runs = store.runs(*limit).await?;
            output::runs(cli.json, &runs)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { bind, no_auth } => {
            let config = load_config(&cli)?;
            let store = open_store(&config).await?;
            super::serve::serve(config, store, *bind, *no_auth).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sessions(SessionsCommand::SignOutEverywhere) => {
            let config = load_config(&cli)?;
            let store = open_store(&config).await?;
            let ended = store.delete_all_dashboard_sessions().await?;
            if cli.json {
                outln!("{}", serde_json::json!({ "ended": ended }))?;
            } else {
                outln!(
                    "signed out everywhere: {ended} dashboard session(s) ended; browsers sign in \
                     again with the API token"
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Db(DbCommand::Migrate) => {
            let config = load_config(&cli)?;
            let store = open_store(&config).await?;
            let applied = store.migrate().await?;
            outln!(
                "{} database {} is up to date ({} migration(s) applied now)",
                store.backend_name(),
                redact(&config.database_url),
                applied.len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn write_starter(path: &Path, force: bool) -> anyhow::Result<()> {
    if path.exists() && !force {
        anyhow::bail!(
            "{} already exists; use --force to overwrite it",
            path.display()
        );
    }
    std::fs::write(path, STARTER_FILE).with_context(|| format!("cannot write {}", path.display()))
}

async fn instruments(
    cli: &Cli,
    store: &Store,
    command: &InstrumentsCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        InstrumentsCommand::Add(args) => {
            let instrument = args.to_request().build(CsvAccess::AnyRegularFile)?;
            store.add_instrument(&instrument).await?;
            output::instruments(cli.json, std::slice::from_ref(&instrument))?;
        }
        InstrumentsCommand::List => {
            output::instruments(cli.json, &store.instruments().await?)?;
        }
        InstrumentsCommand::Remove { symbol } => {
            let candles = store.remove_instrument(symbol).await?;
            if cli.json {
                outln!(
                    "{}",
                    serde_json::json!({ "removed": symbol, "candles_deleted": candles })
                )?;
            } else {
                outln!("removed {symbol} and its {candles} stored candle(s)")?;
            }
        }
        InstrumentsCommand::Activate { symbol } | InstrumentsCommand::Deactivate { symbol } => {
            let active = matches!(command, InstrumentsCommand::Activate { .. });
            store.set_instrument_active(symbol, active).await?;
            let instrument = store.instrument(symbol).await?;
            output::instruments(cli.json, instrument.as_slice())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn sync(
    cli: &Cli,
    config: &Config,
    store: &Store,
    args: &SyncArgs,
) -> anyhow::Result<ExitCode> {
    let sources = SourceSet::from_config(&config.sources);
    let options = SyncOptions {
        symbols: args.instruments.clone(),
        since: args.since,
        backfill_days: config.sync.backfill_days,
    };
    let progress = ProgressReporter::new();
    let run = sync_data(store, &sources, &options, Utc::now(), &progress).await?;
    output::sync_run(cli.json, &run)?;
    Ok(exit_status(run.status))
}

fn exit_status(status: RunStatus) -> ExitCode {
    if status == RunStatus::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn quickstart(cli: &Cli) -> anyhow::Result<ExitCode> {
    let (path, _) = config::config_path(cli.config.as_deref());
    if path.exists() {
        outln!("using existing {}", path.display())?;
    } else {
        write_starter(&path, false)?;
        outln!("wrote {}", path.display())?;
    }
    let config = load_config(cli)?;
    // The one command (with `init`, which opens no database) that may create the database's
    // directories: it sets up a new installation.
    let options = ConnectOptions {
        create_directories: true,
        ..ConnectOptions::default()
    };
    let store = connect(&config, &options).await?;
    let mut registered = 0;
    for instrument in barter_sources::sample::instruments() {
        if store.instrument(&instrument.symbol).await?.is_none() {
            store.add_instrument(&instrument).await?;
            registered += 1;
        }
    }
    outln!(
        "registered {registered} sample instrument(s) in {} ({DEFAULT_CONFIG_FILE} names the database)",
        redact(&config.database_url)
    )?;
    let sources = SourceSet::from_config(&config.sources);
    let options = SyncOptions {
        backfill_days: config.sync.backfill_days,
        ..SyncOptions::default()
    };
    let progress = ProgressReporter::new();
    let run = sync_data(&store, &sources, &options, Utc::now(), &progress).await?;
    output::sync_run(cli.json, &run)?;
    if run.status != RunStatus::Succeeded {
        return Ok(exit_status(run.status));
    }
    // Replay the last year of the sample with the configured (starter) strategies.
    let last = config
        .sources
        .sample
        .as_of
        .or_else(barter_sources::sample::last_day);
    let Some(last) = last else {
        return Ok(exit_status(run.status));
    };
    let first = last - chrono::Days::new(364);
    if !cli.json {
        outln!(
            "\nreplaying the daily job from {first} to {last} with {} strategies:",
            config.strategies.len()
        )?;
    }
    let trading = barter_service::trading::Trading::for_store(&config, &store).await?;
    let code =
        super::trading_commands::replay(cli.json, &config, &store, &trading, first, last).await?;
    if !cli.json {
        outln!(
            "\nnext: `barter explain ID` tells why a position was opened and closed; `barter history` lists every decision."
        )?;
    }
    backtest_examples(cli.json, &config, &store).await?;
    Ok(code)
}

/// Where `barter quickstart` writes the backtest report of the example strategies.
const QUICKSTART_REPORT_DIR: &str = "barter-report";

/// Backtests the configured (example) strategies together over the whole sample history and
/// writes the report.
async fn backtest_examples(json: bool, config: &Config, store: &Store) -> anyhow::Result<()> {
    use barter_service::backtest::{self, BacktestRequest, CandleSource};
    let request = BacktestRequest {
        strategies: config
            .strategies
            .iter()
            .filter(|s| s.enabled)
            .map(|s| s.name.clone())
            .collect(),
        caller: backtest::Caller::Cli,
        ..BacktestRequest::default()
    };
    if request.strategies.is_empty() {
        return Ok(());
    }
    let prepared = backtest::prepare(&request, config, CandleSource::Store(store))
        .await
        .map_err(|e| anyhow::anyhow!("the example backtest cannot run: {e}"))?;
    let result = prepared
        .run()
        .map_err(|e| anyhow::anyhow!("the example backtest failed: {e}"))?;
    let prices = prepared.prices();
    let input = barter_report::ReportInput {
        title: "Barter quickstart: the example strategies over the whole sample".to_owned(),
        settings: prepared.describe(),
        result: &result,
        prices: &prices,
        tables: super::backtest_command::breakdown_tables(&result),
    };
    let dir = std::path::Path::new(QUICKSTART_REPORT_DIR);
    barter_report::write_backtest(dir, &input)?;
    if !json {
        let s = &result.stats;
        let pct = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.2} %"));
        outln!(
            "\nbacktest of {} over the whole sample ({} to {}): return {:.2} %, max drawdown {:.2} %, {} trades, win rate {}",
            request.strategies.join(" + "),
            s.start,
            s.end,
            s.return_pct,
            s.max_drawdown_pct,
            s.trades,
            pct(s.win_rate_pct)
        )?;
        outln!(
            "report: {} (open it in a browser; `barter backtest --help` for more)",
            dir.join("report.html").display()
        )?;
        outln!(
            "dashboard: `barter serve --no-auth`, then open http://127.0.0.1:8080/ (positions, \
             charts, history and the simulator in the browser)"
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_in_printed_urls() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://barter.db"), "sqlite://barter.db");
    }
}
