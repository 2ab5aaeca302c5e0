//! The trading commands: trade, close, run (and its replay), strategies, positions, account,
//! history and explain.

use std::collections::HashMap;
use std::process::ExitCode;

use barter_core::{Day, PositionId, Run, RunReport, RunStatus, Symbol};
use barter_store::Store;
use barter_store::trading::{HistoryFilter, PositionStatus};
use chrono::{DateTime, Days, NaiveTime, Utc};

use super::trading_output as output;
use super::{Cli, Command, RunArgs, StrategiesCommand};
use barter_service::config::Config;
use barter_service::jobs::Unobserved;
use barter_service::source_set::SourceSet;
use barter_service::sync::{NoProgress, SyncOptions, sync_data};
use barter_service::trading::{
    MarketCache, Trading, sync_close_positions, sync_close_positions_with, sync_new_trades,
    sync_new_trades_with,
};
use barter_service::views;

/// The longest replay `barter run --replay-from` accepts, in days (about 55 years), after the
/// range is clamped to the stored candles and to yesterday.
pub const MAX_REPLAY_DAYS: u64 = 20_000;

/// `from..=to` clamped to what can be replayed: not before the first stored candle (when there
/// are candles) and not after yesterday, each clamp said on stderr; refused when still longer
/// than [`MAX_REPLAY_DAYS`].
async fn replay_range(store: &Store, from: Day, to: Day) -> anyhow::Result<(Day, Day)> {
    let yesterday = Utc::now().date_naive() - Days::new(1);
    let to = if to > yesterday {
        eprintln!("note: --to {to} is after yesterday; replaying up to {yesterday}");
        yesterday
    } else {
        to
    };
    let mut first_stored: Option<Day> = None;
    for instrument in store.instruments().await? {
        if let Some(coverage) = store.coverage(&instrument.symbol).await? {
            first_stored = Some(first_stored.map_or(coverage.first, |d| d.min(coverage.first)));
        }
    }
    let from = match first_stored {
        Some(first) if from < first && first <= to => {
            eprintln!("note: the first stored candle is from {first}; replaying from there");
            first
        }
        _ => from,
    };
    if to < from {
        anyhow::bail!("nothing to replay: --replay-from {from} is after yesterday ({yesterday})");
    }
    let span = (to - from).num_days().unsigned_abs() + 1;
    if span > MAX_REPLAY_DAYS {
        anyhow::bail!(
            "a replay from {from} to {to} is {span} days; at most {MAX_REPLAY_DAYS} are \
             replayed at once: sync the instruments first (`barter sync`) so the range starts \
             at their first candle, or choose a shorter range"
        );
    }
    Ok((from, to))
}

/// When a replayed day's cron "runs": 00:10 UTC the next day, like the example schedule.
const REPLAY_TIME: NaiveTime = match NaiveTime::from_hms_opt(0, 10, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// Says on stderr that new entries are halted, before a job that would take them.
async fn warn_if_halted(store: &Store) -> anyhow::Result<()> {
    let state = store.trading_halt().await?;
    if state.halted {
        eprintln!("note: {}", barter_service::halt::describe(&state));
    }
    Ok(())
}

async fn trading(config: &Config, store: &Store) -> anyhow::Result<Trading> {
    Trading::for_store(config, store).await
}

/// The trading setup of a job that may send orders: `dry_run` as asked, and a banner on stderr
/// for every live (real money) account it trades through.
async fn trading_job(config: &Config, store: &Store, dry_run: bool) -> anyhow::Result<Trading> {
    let mut trading = trading(config, store).await?;
    trading.dry_run = dry_run;
    for name in trading.live_accounts() {
        eprintln!(
            "*** LIVE TRADING: account `{name}` sends real orders with real money{} ***",
            if dry_run {
                " (dry run: nothing is sent)"
            } else {
                ""
            }
        );
    }
    Ok(trading)
}

fn status(runs: &[&Run]) -> ExitCode {
    if runs.iter().all(|r| r.status == RunStatus::Succeeded) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

pub(super) async fn dispatch(
    cli: &Cli,
    config: &Config,
    store: &Store,
) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Trade(args) => {
            warn_if_halted(store).await?;
            let trading = trading_job(config, store, args.dry_run).await?;
            let run = sync_new_trades(store, &trading, Utc::now()).await?;
            output::decision_run(cli.json, &run)?;
            Ok(status(&[&run]))
        }
        Command::Close(args) => {
            let trading = trading_job(config, store, args.dry_run).await?;
            let run = sync_close_positions(store, &trading, Utc::now()).await?;
            output::decision_run(cli.json, &run)?;
            Ok(status(&[&run]))
        }
        Command::Run(args) => {
            warn_if_halted(store).await?;
            run(cli, config, store, args).await
        }
        Command::Strategies(StrategiesCommand::List) => {
            output::strategies(cli.json, &config.strategies)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Strategies(StrategiesCommand::Check) => {
            let known = barter_service::trading::known_symbols(store).await?;
            match barter_core::strategy::build_all(&config.strategies, &known) {
                Ok(built) => {
                    outln!(
                        "{} strateg{} OK",
                        built.len(),
                        if built.len() == 1 { "y" } else { "ies" }
                    )?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(problems) => {
                    for problem in &problems {
                        eprintln!("{problem}\n");
                    }
                    eprintln!("{} problem(s) found", problems.len());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Positions { open, closed } => {
            let status = match (open, closed) {
                (true, _) => Some(PositionStatus::Open),
                (_, true) => Some(PositionStatus::Closed),
                _ => None,
            };
            let positions = store.positions(status).await?;
            output::positions(cli.json, store, positions).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Account => {
            output::account(cli.json, store, trading(config, store).await?.initial_cash).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::History {
            instrument,
            strategy,
            since,
            limit,
        } => {
            let filter = HistoryFilter {
                symbol: instrument.clone(),
                strategy: strategy.clone(),
                since: since
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc()),
                before_id: None,
                limit: *limit,
                ..HistoryFilter::default()
            };
            output::history(cli.json, &store.history_filtered(&filter).await?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain { position } => {
            let Some(explanation) = views::explanation(store, PositionId(*position)).await? else {
                anyhow::bail!("position {position} does not exist; see `barter positions`");
            };
            output::explain(cli.json, &explanation)?;
            Ok(ExitCode::SUCCESS)
        }
        _ => unreachable!("dispatched by the caller"),
    }
}

/// `barter run`: today's sync, trade and close, or a replay over a range of days.
async fn run(
    cli: &Cli,
    config: &Config,
    store: &Store,
    args: &RunArgs,
) -> anyhow::Result<ExitCode> {
    let trading = trading_job(config, store, args.dry_run).await?;
    let Some(from) = args.replay_from else {
        let now = Utc::now();
        let sources = SourceSet::from_config(&config.sources);
        let options = SyncOptions {
            backfill_days: config.sync.backfill_days,
            ..SyncOptions::default()
        };
        let sync = sync_data(store, &sources, &options, now, &NoProgress).await?;
        // One cache for both jobs: the close job reuses the histories the trade job loaded.
        let mut market = MarketCache::across_jobs();
        let trade = sync_new_trades_with(store, &trading, now, &mut market, &Unobserved).await?;
        let close =
            sync_close_positions_with(store, &trading, now, &mut market, &Unobserved).await?;
        output::daily(cli.json, &[&sync, &trade, &close])?;
        return Ok(status(&[&sync, &trade, &close]));
    };
    let yesterday = Utc::now().date_naive() - Days::new(1);
    let to = args.to.unwrap_or(yesterday);
    replay(cli.json, config, store, &trading, from, to).await
}

/// Runs the daily job for each day in `from..=to` as if the cron had run at 00:10 UTC the next
/// day, with the sample source serving its history as of that day.
pub(super) async fn replay(
    json: bool,
    config: &Config,
    store: &Store,
    trading: &Trading,
    from: Day,
    to: Day,
) -> anyhow::Result<ExitCode> {
    if to < from {
        anyhow::bail!("--to {to} is before --replay-from {from}");
    }
    let (from, to) = replay_range(store, from, to).await?;
    let mut ok = true;
    let mut days = Vec::new();
    let mut market = MarketCache::across_jobs();
    let mut stored_last: HashMap<Symbol, Option<Day>> = HashMap::new();
    let mut day = from;
    while day <= to {
        let now: DateTime<Utc> = (day + Days::new(1)).and_time(REPLAY_TIME).and_utc();
        let mut sources_config = config.sources.clone();
        sources_config.sample.as_of = Some(day);
        let sources = SourceSet::from_config(&sources_config);
        let options = SyncOptions {
            backfill_days: config.sync.backfill_days,
            ..SyncOptions::default()
        };
        let sync = sync_data(store, &sources, &options, now, &NoProgress).await?;
        if let Some(RunReport::SyncData(items)) = &sync.report {
            // Forget what changed since the cache read it: what this sync wrote, and what a
            // replay running alongside wrote (this sync then adds nothing, but the stored
            // range moves on).
            let changed = items.iter().filter(|i| {
                let moved = stored_last.get(&i.symbol) != Some(&i.stored_range.map(|r| r.1));
                i.added + i.updated > 0 || moved
            });
            market.invalidate(changed.map(|i| &i.symbol));
            for item in items {
                stored_last.insert(item.symbol.clone(), item.stored_range.map(|r| r.1));
            }
        }
        let trade = sync_new_trades_with(store, trading, now, &mut market, &Unobserved).await?;
        let close =
            sync_close_positions_with(store, trading, now, &mut market, &Unobserved).await?;
        ok &= [&sync, &trade, &close]
            .iter()
            .all(|r| r.status == RunStatus::Succeeded);
        days.push(output::ReplayDay::new(day, &sync, &trade, &close));
        day = day + Days::new(1);
    }
    output::replay(json, &days)?;
    if !json {
        outln!()?;
        output::positions(false, store, store.positions(None).await?).await?;
        outln!()?;
        output::account(false, store, trading.initial_cash).await?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
