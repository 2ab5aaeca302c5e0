//! Health at a glance: the last run of each job, stale or conflicting instruments, open
//! positions, accounts and their drift, the kill switch and the next scheduled run, with a list
//! of what needs attention. `barter status` (whose exit status a cron line or a monitoring
//! check reads), `GET /api/status` and the dashboard overview's status block all show this one
//! [`StatusReport`].
//!
//! Reading it never writes and never waits on a venue longer than
//! [`StatusOptions::venue_wait`]: an unreachable venue is an attention item, not a failure.
//! Only a database that cannot be read fails it.
//!
//! # Adding a kind of attention item
//! Each check is a function that pushes [`AttentionItem`]s (`job_items`, `instrument_items`,
//! `account_items`, ... below). A new concern (say, a failing notification channel) is a new
//! [`AttentionKind`] variant and one more such function called from [`status`]; the report's
//! shape does not change, and clients are told to accept kinds they do not know.

use std::collections::BTreeMap;
use std::time::Duration;

use barter_core::{Day, Instrument, Run, RunId, RunKind, RunReport, RunStatus, Symbol};
use barter_store::trading::PositionStatus;
use barter_store::{Store, TradingHalt};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::control::Job;
use crate::instrument_health::Freshness;
use crate::reconcile::{AccountReport, reconcile_within};
use crate::schedule::Schedule;
use crate::trading::{Trading, expected_day};

/// How long [`status`] waits for each venue by default (as the overview's Accounts card).
pub const VENUE_WAIT: Duration = Duration::from_secs(5);

/// How many of a failed run's errors the report repeats (`barter runs` has them all).
const RUN_ERRORS_SHOWN: usize = 3;

/// How a status is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusOptions {
    /// The longest wait for each venue account's balances.
    pub venue_wait: Duration,
}

impl Default for StatusOptions {
    fn default() -> Self {
        Self {
            venue_wait: VENUE_WAIT,
        }
    }
}

/// Everything `barter status` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    /// The moment the report describes (the caller's clock; `barter status --now` sets it).
    pub checked_at: DateTime<Utc>,
    /// Whether nothing needs attention (`attention` is empty).
    pub healthy: bool,
    /// The last run of each job, in job order (`sync_data`, `sync_new_trades`,
    /// `sync_close_positions`).
    pub jobs: Vec<JobStatus>,
    /// The active instruments and those whose data needs attention.
    pub instruments: InstrumentsStatus,
    /// Open positions, in total and per strategy.
    pub positions: PositionsStatus,
    /// The paper account, then each venue account strategies trade through, with drift (as
    /// `barter accounts` shows them).
    pub accounts: Vec<AccountReport>,
    /// The kill switch.
    pub halt: TradingHalt,
    /// The `[schedule]` and its next run.
    pub schedule: ScheduleStatus,
    /// What needs attention, most severe first; empty when healthy.
    pub attention: Vec<AttentionItem>,
}

/// The last run of one job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobStatus {
    /// The job.
    pub job: RunKind,
    /// Its latest run, `None` when it never ran.
    pub last_run: Option<LastRun>,
}

/// A job's latest run, as the status shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastRun {
    /// The run's id (`barter runs`, `GET /api/runs/{id}`).
    pub id: RunId,
    /// `running`, `succeeded`, `partial`, `failed` or `interrupted`.
    pub status: RunStatus,
    /// When it started (a replayed run: the replayed day's 00:10 UTC).
    pub started_at: DateTime<Utc>,
    /// When it finished, if it did.
    pub finished_at: Option<DateTime<Utc>>,
    /// How long it took, in milliseconds, once finished.
    pub duration_ms: Option<i64>,
    /// How long before `checked_at` it started, in seconds (never negative).
    pub ago_secs: i64,
    /// Its first errors, one line each.
    pub errors: Vec<String>,
    /// How many errors it has in all.
    pub error_count: usize,
}

/// The active instruments, and those whose data needs attention.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstrumentsStatus {
    /// How many instruments are active (synced and traded).
    pub active: usize,
    /// How many of them have the complete candle their calendar expects.
    pub current: usize,
    /// The active instruments that are stale, have no data, or had a conflict in the last
    /// sync, by symbol.
    pub attention: Vec<InstrumentStatus>,
}

/// One instrument whose data needs attention.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstrumentStatus {
    /// The instrument.
    pub symbol: Symbol,
    /// Its newest complete candle's day, if any.
    pub last_complete: Option<Day>,
    /// The newest complete candle its calendar expects by `checked_at`.
    pub expected: Day,
    /// Whether the newest complete candle is current, stale or missing.
    pub freshness: Freshness,
    /// Complete stored candles the last sync found different at the source (kept as stored).
    pub conflicts: usize,
}

/// Open positions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PositionsStatus {
    /// How many positions are open.
    pub open: usize,
    /// How many are open per strategy.
    pub by_strategy: BTreeMap<String, usize>,
}

/// The `[schedule]` of `barter serve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleStatus {
    /// Whether `[schedule]` names any job (the scheduler runs inside `barter serve` only).
    pub configured: bool,
    /// The next scheduled run after `checked_at`, if any.
    pub next: Option<NextRun>,
}

/// A scheduled run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextRun {
    /// The job.
    pub job: Job,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

/// Something that needs attention: what, how bad, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttentionItem {
    /// What kind of problem (a closed set that grows: clients must accept kinds they do not
    /// know).
    pub kind: AttentionKind,
    /// How bad.
    pub severity: Severity,
    /// What it is about: a job, an instrument, an account, `trading` or `schedule`.
    pub subject: String,
    /// One line naming the subject, what is wrong and what to do.
    pub message: String,
}

/// The kinds of [`AttentionItem`]. A new concern is a new variant (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionKind {
    /// A job's last run failed.
    JobFailed,
    /// A job's last run failed for some items.
    JobPartial,
    /// A job's last run stopped before the end.
    JobInterrupted,
    /// An instrument's newest complete candle is older than its calendar expects.
    InstrumentStale,
    /// An instrument has no complete candle.
    InstrumentNoData,
    /// The last sync found complete stored candles differing from the source.
    DataConflict,
    /// A venue account's balances could not be read.
    AccountUnreachable,
    /// A venue account holds other quantities than the ledger's open positions.
    AccountDrift,
    /// The configured strategies cannot be built.
    StrategiesInvalid,
    /// The `[schedule]` cannot be parsed.
    ScheduleInvalid,
    /// New entries are halted.
    TradingHalted,
    /// A notification channel keeps failing, or cannot work (its secret is missing).
    NotificationChannelFailing,
}

/// How bad an [`AttentionItem`] is; both make `barter status` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Needs a look today (stale data, a halt, a partial run).
    Warning,
    /// Needs action now (a failed run, drift, an unreachable venue).
    Critical,
}

impl Severity {
    /// The name in JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

impl AttentionItem {
    fn new(
        kind: AttentionKind,
        severity: Severity,
        subject: impl Into<String>,
        message: String,
    ) -> Self {
        Self {
            kind,
            severity,
            subject: subject.into(),
            message,
        }
    }
}

/// Reads the status of everything as of `now`, with the strategies and venue accounts of
/// `config`.
///
/// # Errors
/// Only when the database cannot be read; a venue that cannot be read, invalid strategies or an
/// invalid schedule are attention items.
pub async fn status(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
    options: StatusOptions,
) -> anyhow::Result<StatusReport> {
    let known: Vec<Symbol> = store
        .instruments()
        .await?
        .into_iter()
        .map(|i| i.symbol)
        .collect();
    let trading = Trading::from_config(config, &known);
    status_with(config, store, trading.as_ref(), now, options).await
}

/// [`status`] with the strategies and venue accounts already built (`Err`: why they cannot
/// be), for a caller that holds them (a test with its own venue keys).
///
/// # Errors
/// Only when the database cannot be read.
pub async fn status_with(
    config: &Config,
    store: &Store,
    trading: Result<&Trading, &anyhow::Error>,
    now: DateTime<Utc>,
    options: StatusOptions,
) -> anyhow::Result<StatusReport> {
    let mut attention = Vec::new();

    let mut jobs = Vec::new();
    let mut last_sync = None;
    for kind in [
        RunKind::SyncData,
        RunKind::SyncNewTrades,
        RunKind::SyncClosePositions,
    ] {
        let run = store.latest_run(kind).await?;
        attention.extend(run.as_ref().and_then(job_item));
        let last_run = run.as_ref().map(|run| last_run(run, now));
        if kind == RunKind::SyncData {
            last_sync = run;
        }
        jobs.push(JobStatus {
            job: kind,
            last_run,
        });
    }

    let registered = store.instruments().await?;
    let conflicts = conflicts_of(last_sync.as_ref());
    let instruments = instruments_status(store, &registered, &conflicts, now.date_naive()).await?;
    attention.extend(instrument_items(&instruments.attention));

    let open = store.positions(Some(PositionStatus::Open)).await?;
    let mut by_strategy = BTreeMap::new();
    for position in &open {
        *by_strategy.entry(position.strategy.clone()).or_insert(0) += 1;
    }
    let positions = PositionsStatus {
        open: open.len(),
        by_strategy,
    };

    let accounts = match trading {
        Ok(trading) => reconcile_within(store, trading, options.venue_wait).await?,
        Err(error) => {
            attention.push(strategies_item(error));
            let initial_cash = barter_core::Money(config.account.initial_cash);
            vec![crate::reconcile::paper_only(store, initial_cash).await?]
        }
    };
    attention.extend(accounts.iter().flat_map(account_items));

    let halt = store.trading_halt().await?;
    if halt.halted {
        attention.push(AttentionItem::new(
            AttentionKind::TradingHalted,
            Severity::Warning,
            "trading",
            crate::halt::describe(&halt),
        ));
    }

    attention.extend(notification_items(config, store).await?);

    let schedule = match Schedule::from_config(&config.schedule) {
        Ok(schedule) => ScheduleStatus {
            configured: !schedule.is_empty(),
            next: schedule
                .next_after(now)
                .map(|(job, at)| NextRun { job, at }),
        },
        Err(error) => {
            attention.push(AttentionItem::new(
                AttentionKind::ScheduleInvalid,
                Severity::Critical,
                "schedule",
                format!(
                    "[schedule] cannot be used: {error}; fix barter.toml and restart `barter serve`"
                ),
            ));
            ScheduleStatus {
                configured: true,
                next: None,
            }
        }
    };

    // Most severe first; within a severity, in the order the checks found them.
    attention.sort_by_key(|item| std::cmp::Reverse(item.severity));
    Ok(StatusReport {
        checked_at: now,
        healthy: attention.is_empty(),
        jobs,
        instruments,
        positions,
        accounts,
        halt,
        schedule,
        attention,
    })
}

/// The notification channels that cannot work (a missing secret) or keep failing (something
/// sent since their last success was not accepted).
async fn notification_items(config: &Config, store: &Store) -> anyhow::Result<Vec<AttentionItem>> {
    if config.notify.is_empty() {
        return Ok(Vec::new());
    }
    let notifier = crate::notify::Notifier::from_env(config);
    let mut items: Vec<AttentionItem> = notifier
        .unusable()
        .iter()
        .map(|problem| {
            AttentionItem::new(
                AttentionKind::NotificationChannelFailing,
                Severity::Warning,
                "notifications",
                problem.clone(),
            )
        })
        .collect();
    for health in notifier.health(store).await? {
        if health.failing() {
            items.push(AttentionItem::new(
                AttentionKind::NotificationChannelFailing,
                Severity::Warning,
                &health.channel,
                format!(
                    "{}; see `barter notify list`",
                    crate::notify::describe(&health)
                ),
            ));
        }
    }
    Ok(items)
}

/// An age in words, coarsened for people (`just now`, `5 min ago`, `3 h 5 min ago`,
/// `2 d 4 h ago`): the CLI and the overview say how long ago a run started this way.
pub fn ago(secs: i64) -> String {
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => "just now".to_owned(),
        (0, 0, m) => format!("{m} min ago"),
        (0, h, 0) => format!("{h} h ago"),
        (0, h, m) => format!("{h} h {m} min ago"),
        (d, 0, _) => format!("{d} d ago"),
        (d, h, _) => format!("{d} d {h} h ago"),
    }
}

/// `run` as the status shows it, as of `now`.
fn last_run(run: &Run, now: DateTime<Utc>) -> LastRun {
    LastRun {
        id: run.id,
        status: run.status,
        started_at: run.started_at,
        finished_at: run.finished_at,
        duration_ms: run
            .finished_at
            .map(|end| (end - run.started_at).num_milliseconds()),
        ago_secs: (now - run.started_at).num_seconds().max(0),
        errors: run.errors.iter().take(RUN_ERRORS_SHOWN).cloned().collect(),
        error_count: run.errors.len(),
    }
}

/// The attention item of a job's latest run, if it did not succeed (a running job is fine:
/// one whose process died is marked `interrupted` once its heartbeat lapses).
fn job_item(run: &Run) -> Option<AttentionItem> {
    let job = run.kind.as_str();
    let when = run.started_at.format("%Y-%m-%d %H:%M UTC");
    let first = run
        .errors
        .first()
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    let (kind, severity, what) = match run.status {
        RunStatus::Running | RunStatus::Succeeded => return None,
        RunStatus::Failed => (AttentionKind::JobFailed, Severity::Critical, "failed"),
        RunStatus::Partial => (AttentionKind::JobPartial, Severity::Warning, "was partial"),
        RunStatus::Interrupted => (
            AttentionKind::JobInterrupted,
            Severity::Warning,
            "was interrupted",
        ),
    };
    Some(AttentionItem::new(
        kind,
        severity,
        job,
        format!(
            "the last {job} run (#{}, {when}) {what}{first}; see `barter runs`, fix the cause \
             and run the job again",
            run.id
        ),
    ))
}

/// The conflicts per instrument in the report of the last sync (none when it has no report).
fn conflicts_of(run: Option<&Run>) -> BTreeMap<Symbol, usize> {
    let Some(RunReport::SyncData(items)) = run.and_then(|r| r.report.as_ref()) else {
        return BTreeMap::new();
    };
    items
        .iter()
        .filter(|i| !i.conflicts.is_empty())
        .map(|i| (i.symbol.clone(), i.conflicts.len()))
        .collect()
}

/// Judges every active instrument's newest complete candle as of `today` (UTC).
async fn instruments_status(
    store: &Store,
    instruments: &[Instrument],
    conflicts: &BTreeMap<Symbol, usize>,
    today: Day,
) -> anyhow::Result<InstrumentsStatus> {
    let mut status = InstrumentsStatus {
        active: 0,
        current: 0,
        attention: Vec::new(),
    };
    for instrument in instruments.iter().filter(|i| i.active) {
        status.active += 1;
        let last_complete = store.last_complete_day(&instrument.symbol).await?;
        let expected = expected_day(instrument.calendar, today);
        let freshness = Freshness::of(last_complete, expected);
        if freshness == Freshness::Current {
            status.current += 1;
        }
        let conflicts = conflicts.get(&instrument.symbol).copied().unwrap_or(0);
        if freshness != Freshness::Current || conflicts > 0 {
            status.attention.push(InstrumentStatus {
                symbol: instrument.symbol.clone(),
                last_complete,
                expected,
                freshness,
                conflicts,
            });
        }
    }
    Ok(status)
}

/// The attention items of the instruments that need it.
fn instrument_items(instruments: &[InstrumentStatus]) -> Vec<AttentionItem> {
    let mut items = Vec::new();
    for i in instruments {
        let symbol = &i.symbol;
        match (i.freshness, i.last_complete) {
            (Freshness::Stale, Some(day)) => items.push(AttentionItem::new(
                AttentionKind::InstrumentStale,
                Severity::Warning,
                symbol.as_str(),
                format!(
                    "{symbol} is stale: its newest complete candle is {day}, expected {}; it is \
                     not traded until `barter sync` brings it up to date (check its source if \
                     a sync does not)",
                    i.expected
                ),
            )),
            (Freshness::NoData, _) | (Freshness::Stale, None) => items.push(AttentionItem::new(
                AttentionKind::InstrumentNoData,
                Severity::Warning,
                symbol.as_str(),
                format!(
                    "{symbol} has no complete candle: run `barter sync --instrument {symbol}`, \
                     or `barter instruments deactivate {symbol}` if it is no longer wanted"
                ),
            )),
            (Freshness::Current, _) => {}
        }
        if i.conflicts > 0 {
            items.push(AttentionItem::new(
                AttentionKind::DataConflict,
                Severity::Warning,
                symbol.as_str(),
                format!(
                    "{symbol}: the last sync found {} complete stored candle(s) that differ \
                     from the source (kept as stored); compare them (`barter runs --json`) and \
                     re-fetch with `barter sync --instrument {symbol} --since DAY` if the \
                     source is right",
                    i.conflicts
                ),
            ));
        }
    }
    items
}

/// The attention items of one account: unreadable, or drifting from the ledger.
fn account_items(report: &AccountReport) -> Vec<AttentionItem> {
    let name = &report.name;
    let mut items = Vec::new();
    if let Some(error) = &report.error {
        items.push(AttentionItem::new(
            AttentionKind::AccountUnreachable,
            Severity::Critical,
            name.as_str(),
            format!(
                "account {name}: cannot read the venue ({}); check the network and its keys, \
                 then `barter accounts`",
                barter_store::bounds::bound_message(error)
            ),
        ));
    }
    if !report.drift.is_empty() {
        let assets: Vec<String> = report
            .drift
            .iter()
            .map(|d| format!("{} {:+}", d.asset, d.difference))
            .collect();
        items.push(AttentionItem::new(
            AttentionKind::AccountDrift,
            Severity::Critical,
            name.as_str(),
            format!(
                "account {name}: the venue and the ledger differ ({}); see `barter reconcile` \
                 (nothing is traded to fix it)",
                assets.join(", ")
            ),
        ));
    }
    items
}

/// The attention item of strategies that cannot be built.
fn strategies_item(error: &anyhow::Error) -> AttentionItem {
    let text = format!("{error:#}");
    let first = text.lines().next().unwrap_or_default();
    AttentionItem::new(
        AttentionKind::StrategiesInvalid,
        Severity::Critical,
        "strategies",
        format!(
            "the strategies cannot be built ({}); no job trades until `barter strategies \
             check` passes",
            barter_store::bounds::bound_message(first)
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use barter_core::InstrumentSync;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("time")
    }

    fn run(kind: RunKind, status: RunStatus, errors: &[&str]) -> Run {
        Run {
            id: RunId(7),
            kind,
            started_at: at("2026-01-06T00:10:00Z"),
            finished_at: Some(at("2026-01-06T00:10:02.5Z")),
            status,
            counts: BTreeMap::new(),
            errors: errors.iter().map(|e| (*e).to_owned()).collect(),
            report: None,
        }
    }

    #[test]
    fn only_runs_that_did_not_succeed_need_attention() {
        assert_eq!(
            job_item(&run(RunKind::SyncData, RunStatus::Succeeded, &[])),
            None
        );
        assert_eq!(
            job_item(&run(RunKind::SyncData, RunStatus::Running, &[])),
            None
        );
        let failed = job_item(&run(
            RunKind::SyncNewTrades,
            RunStatus::Failed,
            &["boom", "b"],
        ))
        .expect("an item");
        assert_eq!(failed.kind, AttentionKind::JobFailed);
        assert_eq!(failed.severity, Severity::Critical);
        assert_eq!(failed.subject, "sync_new_trades");
        assert!(
            failed.message.contains("#7") && failed.message.contains(": boom;"),
            "{}",
            failed.message
        );
        let partial = job_item(&run(RunKind::SyncData, RunStatus::Partial, &[])).expect("item");
        assert_eq!(
            (partial.kind, partial.severity),
            (AttentionKind::JobPartial, Severity::Warning)
        );
        let stopped = job_item(&run(RunKind::SyncData, RunStatus::Interrupted, &[])).expect("it");
        assert_eq!(stopped.kind, AttentionKind::JobInterrupted);
    }

    #[test]
    fn a_last_run_says_how_long_it_took_and_how_long_ago_it_started() {
        let errors: Vec<String> = (0..10).map(|i| format!("e{i}")).collect();
        let mut failed = run(RunKind::SyncData, RunStatus::Failed, &[]);
        failed.errors = errors;
        let shown = last_run(&failed, at("2026-01-06T01:10:00Z"));
        assert_eq!(shown.duration_ms, Some(2_500));
        assert_eq!(shown.ago_secs, 3_600);
        assert_eq!(shown.errors.len(), RUN_ERRORS_SHOWN);
        assert_eq!(shown.error_count, 10);
        // A clock set before the run (a replay's future days) is not "minus one hour ago".
        assert_eq!(last_run(&failed, at("2026-01-05T23:10:00Z")).ago_secs, 0);
    }

    #[test]
    fn ages_are_said_in_words() {
        assert_eq!(ago(0), "just now");
        assert_eq!(ago(59), "just now");
        assert_eq!(ago(300), "5 min ago");
        assert_eq!(ago(3_600), "1 h ago");
        assert_eq!(ago(3 * 3_600 + 5 * 60), "3 h 5 min ago");
        assert_eq!(ago(86_400 + 60), "1 d ago");
        assert_eq!(ago(2 * 86_400 + 4 * 3_600), "2 d 4 h ago");
    }

    #[test]
    fn conflicts_come_from_the_last_sync_report() {
        assert!(conflicts_of(None).is_empty());
        let mut sync = run(RunKind::SyncData, RunStatus::Partial, &[]);
        let symbol = Symbol::parse("BTC").expect("symbol");
        let clean = InstrumentSync::new(Symbol::parse("ETH").expect("symbol"));
        let conflicting = InstrumentSync {
            conflicts: vec!["2026-01-04: ...".to_owned(), "2026-01-05: ...".to_owned()],
            ..InstrumentSync::new(symbol.clone())
        };
        sync.report = Some(RunReport::SyncData(vec![clean, conflicting]));
        assert_eq!(
            conflicts_of(Some(&sync)),
            BTreeMap::from([(symbol.clone(), 2)])
        );
        let item = InstrumentStatus {
            symbol,
            last_complete: Some("2026-01-05".parse().expect("day")),
            expected: "2026-01-05".parse().expect("day"),
            freshness: Freshness::Current,
            conflicts: 2,
        };
        let items = instrument_items(&[item]);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].kind, AttentionKind::DataConflict);
        assert!(items[0].message.starts_with("BTC: the last sync found 2"));
    }

    #[test]
    fn stale_and_missing_instruments_name_themselves_and_what_to_do() {
        let stale = InstrumentStatus {
            symbol: Symbol::parse("SPY").expect("symbol"),
            last_complete: Some("2020-08-28".parse().expect("day")),
            expected: "2026-01-05".parse().expect("day"),
            freshness: Freshness::Stale,
            conflicts: 0,
        };
        let missing = InstrumentStatus {
            symbol: Symbol::parse("NEW").expect("symbol"),
            last_complete: None,
            freshness: Freshness::NoData,
            ..stale.clone()
        };
        let items = instrument_items(&[stale, missing]);
        assert_eq!(items[0].kind, AttentionKind::InstrumentStale);
        assert!(
            items[0].message.contains("SPY is stale")
                && items[0].message.contains("2020-08-28")
                && items[0].message.contains("barter sync"),
            "{}",
            items[0].message
        );
        assert_eq!(items[1].kind, AttentionKind::InstrumentNoData);
        assert!(items[1].message.contains("--instrument NEW"));
    }

    #[test]
    fn an_unreadable_or_drifting_account_is_critical_and_named() {
        let report = AccountReport {
            name: "testnet".to_owned(),
            venue: "binance".to_owned(),
            live: false,
            can_trade: false,
            cash: Vec::new(),
            holdings: Vec::new(),
            open_positions: 1,
            drift: vec![crate::reconcile::Drift {
                asset: "BTC".to_owned(),
                symbols: Vec::new(),
                ledger: rust_decimal::Decimal::ONE,
                venue: rust_decimal::Decimal::ZERO,
                difference: rust_decimal::Decimal::NEGATIVE_ONE,
                note: String::new(),
            }],
            error: Some("x".repeat(10_000)),
        };
        let items = account_items(&report);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].kind, AttentionKind::AccountUnreachable);
        assert!(
            items[0].message.len() < 2_500,
            "a venue's message is bounded"
        );
        assert_eq!(items[1].kind, AttentionKind::AccountDrift);
        assert!(items[1].message.contains("BTC -1"), "{}", items[1].message);
        assert!(items.iter().all(|i| i.severity == Severity::Critical));
    }
}
