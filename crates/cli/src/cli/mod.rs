//! The `barter` command line: arguments (clap), dispatch, and exit status.

/// `println!` that returns the write error instead of panicking, so a closed pipe
/// (`barter history | head -1`) or a full disk reaches [`run`]'s caller as an error; every
/// registered secret is redacted from the line (see `barter_store::secrets`).
macro_rules! outln {
    () => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock())
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($arg)*);
        writeln!(std::io::stdout().lock(), "{}", barter_store::secrets::redact(&line))
    }};
}

mod backtest_command;
mod commands;
mod notify_command;
mod output;
mod serve;
mod status_command;
mod trading_commands;
mod trading_output;

use std::path::PathBuf;
use std::process::ExitCode;

use barter_core::{Calendar, Day, SourceKind, Symbol};
use barter_service::instruments::NewInstrument;
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// How a failed command ends: a closed standard output (the reader of a pipe went away, as with
/// `barter history | head -1`) ends quietly and successfully like other Unix tools; anything
/// else is printed as `error: …` with a failing status.
pub fn exit_on_error(error: &anyhow::Error) -> ExitCode {
    exit_on_error_with(error, ExitCode::FAILURE)
}

/// [`exit_on_error`] with `failure` as the failing status (`barter status` fails with 2).
pub fn exit_on_error_with(error: &anyhow::Error, failure: ExitCode) -> ExitCode {
    let io = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<std::io::Error>());
    match io.map(std::io::Error::kind) {
        Some(std::io::ErrorKind::BrokenPipe) => ExitCode::SUCCESS,
        Some(std::io::ErrorKind::StorageFull) => {
            eprintln!("error: cannot write the output: the disk is full ({error})");
            failure
        }
        _ => {
            let message = format!("{error:#}");
            eprintln!("error: {}", barter_store::secrets::redact(&message));
            failure
        }
    }
}

/// Flushes standard output at the end of a command, so a write error that buffering delayed
/// (a full disk) is still reported.
///
/// # Errors
/// The write error.
pub fn flush_output() -> std::io::Result<()> {
    use std::io::Write as _;
    std::io::stdout().lock().flush()
}

/// Barter: automated, scheduled trading on daily candles.
#[derive(Debug, Parser)]
#[command(
    name = "barter",
    version,
    about = "Barter: automated, scheduled trading on daily candles (offline sample, CoinGecko, Binance, Alpaca, CSV).",
    long_about = None
)]
pub struct Cli {
    /// Config file (default ./barter.toml).
    #[arg(long, global = true, env = "BARTER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL, overriding the config: `sqlite://FILE` or `postgres://USER@HOST/DB`.
    #[arg(long, global = true, value_name = "URL")]
    pub database: Option<String>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output (-v info, -vv debug); `BARTER_LOG` sets a full filter.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter barter.toml.
    Init {
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// In an empty directory: create the config, register the sample instruments, sync them offline.
    Quickstart,
    /// Register, list, (de)activate and remove instruments.
    #[command(subcommand)]
    Instruments(InstrumentsCommand),
    /// Sync daily candles for every active instrument (or the ones named).
    Sync(SyncArgs),
    /// Entry logic (the seed's sync_new_trades): open positions where entry rules pass.
    Trade(DryRun),
    /// Exit logic (the seed's sync_close_positions): close positions whose exits hold.
    Close(DryRun),
    /// The daily job: sync, trade, close (or replay it day by day over history).
    Run(RunArgs),
    /// Backtest strategies over history: one run, a parameter sweep, or walk-forward.
    Backtest(Box<backtest_command::BacktestArgs>),
    /// List the configured strategies or check them for errors.
    #[command(subcommand)]
    Strategies(StrategiesCommand),
    /// Show positions, with unrealized P&L at the latest close for open ones.
    Positions {
        /// Only open positions.
        #[arg(long, conflicts_with = "closed")]
        open: bool,
        /// Only closed positions.
        #[arg(long)]
        closed: bool,
    },
    /// Show the paper account: cash, equity, realized and unrealized P&L.
    Account,
    /// Show the append-only history, newest first.
    History {
        /// Only this instrument.
        #[arg(long)]
        instrument: Option<Symbol>,
        /// Only this strategy.
        #[arg(long)]
        strategy: Option<String>,
        /// Only entries recorded on or after this day.
        #[arg(long, value_parser = barter_core::calendar::parse_day)]
        since: Option<Day>,
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Explain a position: why it was opened and why it was closed, with the deciding values.
    Explain {
        /// The position id (see `barter positions`).
        position: i64,
    },
    /// Show the orders sent (or to be sent) to venues, newest first.
    Orders {
        /// Only orders not final yet (planned, submitted, accepted, partially filled, unknown).
        #[arg(long)]
        open: bool,
        /// Only this account's orders.
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        /// How many (1 to 1000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
    /// Show each account (paper and `[accounts.NAME]`): venue, mode, cash, holdings and drift.
    Accounts,
    /// Compare each venue account's open positions with what the venue holds; report drift
    /// (exit status 1 when there is drift or a venue cannot be read). Nothing is traded.
    Reconcile,
    /// Halt new entries at once, for every process sharing the database (exits continue).
    Halt {
        /// Why, kept with the halt and in the history (at most 500 characters).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Allow new entries again after `barter halt`.
    Resume,
    /// Show an instrument's stored candles.
    Candles {
        /// The instrument symbol.
        symbol: Symbol,
        /// First day (YYYY-MM-DD).
        #[arg(long, value_parser = barter_core::calendar::parse_day)]
        from: Option<Day>,
        /// Last day (YYYY-MM-DD).
        #[arg(long, value_parser = barter_core::calendar::parse_day)]
        to: Option<Day>,
    },
    /// Health at a glance: each job's last run, stale or conflicting instruments, open
    /// positions, accounts and drift, the kill switch, the next scheduled run, and what needs
    /// attention. Exit status: 0 healthy, 1 something needs attention, 2 the status could not
    /// be read (config or database), so `barter status || <alert>` works in a cron line.
    Status {
        /// Judge as of this moment (RFC 3339, e.g. 2026-01-06T12:00:00Z) instead of now.
        #[arg(long, value_name = "TIME")]
        now: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Show recent job runs.
    Runs {
        /// How many runs to show.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Notification channels: send a test message, list recent deliveries and failures.
    #[command(subcommand)]
    Notify(notify_command::NotifyCommand),
    /// The dashboard's signed-in browser sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Database maintenance.
    #[command(subcommand)]
    Db(DbCommand),
    /// Serve the HTTP API (the seed's cron endpoints) and run the `[schedule]`.
    Serve {
        /// Address to listen on (default `[server] bind`, 127.0.0.1:8080).
        #[arg(long, env = "BARTER_SERVER__BIND", value_name = "ADDR")]
        bind: Option<std::net::SocketAddr>,
        /// Serve without a token: only on a loopback address.
        #[arg(long)]
        no_auth: bool,
    },
}

/// `barter instruments ...`.
#[derive(Debug, Subcommand)]
pub enum InstrumentsCommand {
    /// Register an instrument.
    Add(AddInstrument),
    /// List registered instruments.
    List,
    /// Remove an instrument and its stored candles.
    Remove {
        /// The instrument symbol.
        symbol: Symbol,
    },
    /// Include an instrument in syncs again.
    Activate {
        /// The instrument symbol.
        symbol: Symbol,
    },
    /// Skip an instrument in syncs, keeping its candles.
    Deactivate {
        /// The instrument symbol.
        symbol: Symbol,
    },
}

/// `barter instruments add` (the API's body is [`NewInstrument`]).
#[derive(Debug, Args)]
pub struct AddInstrument {
    /// Unique symbol, e.g. BTC.
    pub symbol: Symbol,
    /// Where its candles come from: sample, coingecko, binance, alpaca (US stocks and ETFs) or csv.
    #[arg(long)]
    pub source: SourceKind,
    /// The source's id: CoinGecko `bitcoin`, Binance `BTCUSDT`, Alpaca `SPY`, sample `BTC`
    /// (default for sample and alpaca: the symbol).
    #[arg(long)]
    pub source_id: Option<String>,
    /// The CSV file, for `--source csv`.
    #[arg(long, value_name = "FILE")]
    pub path: Option<PathBuf>,
    /// Human-readable name (default: the symbol, or the sample's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Quote currency.
    #[arg(long, default_value = "USD")]
    pub quote: String,
    /// Trading calendar: continuous (every day), weekdays (Monday to Friday) or xnys (New York
    /// Stock Exchange trading days) (default: the sample's own, xnys for alpaca, otherwise
    /// continuous).
    #[arg(long)]
    pub calendar: Option<Calendar>,
}

impl AddInstrument {
    /// The same request as the API and the dashboard make.
    pub fn to_request(&self) -> NewInstrument {
        NewInstrument {
            symbol: self.symbol.clone(),
            source: self.source,
            source_id: self.source_id.clone(),
            path: self.path.clone(),
            name: self.name.clone(),
            quote: self.quote.clone(),
            calendar: self.calendar,
        }
    }
}

/// `barter sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Only this instrument (repeatable).
    #[arg(long = "instrument", value_name = "SYMBOL")]
    pub instruments: Vec<Symbol>,
    /// Re-fetch from this day (YYYY-MM-DD) instead of the last complete stored day.
    #[arg(long, value_parser = barter_core::calendar::parse_day)]
    pub since: Option<Day>,
}

/// `barter run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Send no order to a venue account: show what would be sent (see `barter trade --dry-run`).
    #[arg(long, conflicts_with = "replay_from")]
    pub dry_run: bool,
    /// Replay the daily job for each day from this one, as if the cron had run then.
    #[arg(long, value_name = "DAY", value_parser = barter_core::calendar::parse_day)]
    pub replay_from: Option<Day>,
    /// Last day of the replay (default: yesterday).
    #[arg(long, value_name = "DAY", requires = "replay_from", value_parser = barter_core::calendar::parse_day)]
    pub to: Option<Day>,
}

/// `--dry-run` of the trading jobs.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct DryRun {
    /// Send no order to a venue account: check each with the venue where it can (Binance
    /// `order/test`), show what would be sent, and record none of those decisions. Paper
    /// strategies trade as usual.
    #[arg(long)]
    pub dry_run: bool,
}

/// `barter strategies ...`.
#[derive(Debug, Subcommand)]
pub enum StrategiesCommand {
    /// List the configured strategies.
    List,
    /// Check every strategy and report every problem (non-zero exit status if any).
    Check,
}

/// `barter sessions ...`.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// End every dashboard session on every server sharing the database: every signed-in
    /// browser lands on the sign-in page at its next request.
    SignOutEverywhere,
}

/// `barter db ...`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations (they are also applied automatically on connect).
    Migrate,
}

/// Sets up logging to stderr: `BARTER_LOG` if set, else by verbosity.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,barter_app=info,barter_sources=info,barter_store=info",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_env("BARTER_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingStderr)
        .with_target(false)
        .try_init();
}

/// Standard error with every registered secret removed (see `barter_store::secrets`): the log
/// formatter writes each event whole, so a secret is never split across two writes.
struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let clean = barter_store::secrets::redact(&text);
        std::io::stderr().lock().write_all(clean.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().lock().flush()
    }
}

/// Runs a parsed command line; the exit status is non-zero when the job did not fully succeed.
///
/// # Errors
/// Any failure, with context saying what was being done.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Before anything can log or print: no secret of the environment ever leaves the process.
    barter_store::secrets::register_from_env();
    commands::dispatch(cli).await
}
