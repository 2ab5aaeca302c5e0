//! The `sync_data` job: bring every active instrument's daily candles up to date.
//!
//! Per instrument, independently: pick the first day to fetch (explicit `--since`, else the last
//! complete stored day, else the backfill window), fetch from its source, write the batch in one
//! transaction (see [`barter_store::Store::write_candles`]), then check the stored range for gaps.
//! One failing instrument is reported and the others still complete. Only one instrument's
//! candles are held in memory at a time.

use std::collections::BTreeMap;

use barter_core::{
    Calendar, Day, Gaps, Instrument, InstrumentSync, Run, RunId, RunKind, RunReport, RunStatus,
    Symbol,
};
use barter_sources::FetchRequest;
use barter_store::bounds::bound_message;
use barter_store::{CandleWrite, Coverage, HistoryEvent, Store, StoreError};
use chrono::{DateTime, Days, SubsecRound, Utc};

use crate::control::{Heartbeat, JobSignals};
use crate::source_set::SourceSet;

/// What to sync.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Only these instruments (must be registered); empty means every active instrument.
    pub symbols: Vec<Symbol>,
    /// Re-fetch from this day instead of from the last complete stored day.
    pub since: Option<Day>,
    /// Days the first sync of an instrument fetches; `None` fetches all the source gives.
    pub backfill_days: Option<u32>,
}

/// Receives progress as instruments finish (a terminal progress bar, log lines, or nothing),
/// and, as [`JobSignals`], tells the job's caller its run id and asks it to stop.
pub trait SyncProgress: JobSignals {
    /// The job is about to sync `total` instruments.
    fn start(&self, _total: usize) {}
    /// One instrument finished (successfully or not).
    fn instrument_done(&self, _report: &InstrumentSync) {}
    /// The job finished.
    fn finish(&self) {}
}

/// Measures how long a job really took, so a run's `finished_at` is its (possibly replayed)
/// start plus the real duration.
pub(crate) struct WallClock(std::time::Instant);

impl WallClock {
    pub(crate) fn start() -> Self {
        Self(std::time::Instant::now())
    }

    pub(crate) fn elapsed_delta(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::from_std(self.0.elapsed()).unwrap_or(chrono::TimeDelta::MAX)
    }
}

/// Progress that goes nowhere.
pub struct NoProgress;
impl JobSignals for NoProgress {}
impl SyncProgress for NoProgress {}

/// Runs the sync job and returns its finished run record (also stored, with history entries).
///
/// `now` is the caller's clock; it decides today and which candles are complete.
///
/// # Errors
/// Only when the job cannot start or record itself: an unknown `--instrument`, or a database
/// failure writing the run. Per-instrument failures are in the returned run, not errors.
pub async fn sync_data(
    store: &Store,
    sources: &SourceSet,
    options: &SyncOptions,
    now: DateTime<Utc>,
    progress: &dyn SyncProgress,
) -> anyhow::Result<Run> {
    let instruments = select_instruments(store, &options.symbols).await?;
    let wall = WallClock::start();
    let run_id = store.start_run(RunKind::SyncData, now).await?;
    let _heartbeat = Heartbeat::start(store, run_id);
    progress.run_started(run_id);
    progress.start(instruments.len());

    let mut reports = Vec::with_capacity(instruments.len());
    let mut interrupted = false;
    for instrument in &instruments {
        if progress.stop_requested() {
            interrupted = true;
            break;
        }
        let report = sync_instrument(store, sources, instrument, options, now, run_id).await;
        // A successful sync that changed something was recorded with its write (one
        // transaction); a failure is recorded here.
        if report.error.is_some() {
            store
                .record_history(
                    Some(run_id),
                    Utc::now(),
                    "sync_failed",
                    Some(&instrument.symbol),
                    &serde_json::to_value(&report)?,
                )
                .await?;
        }
        progress.instrument_done(&report);
        reports.push(report);
    }
    progress.finish();

    let failed = reports.iter().filter(|r| r.error.is_some()).count();
    let conflicting = reports.iter().any(|r| !r.conflicts.is_empty());
    let mut errors = Vec::new();
    for r in &reports {
        let symbol = &r.symbol;
        if let Some(error) = &r.error {
            errors.push(format!("{symbol}: {error}"));
        }
        if !r.conflicts.is_empty() {
            errors.push(format!(
                "{symbol}: {} complete stored candle(s) differ from the source and were kept as stored: {}",
                r.conflicts.len(),
                r.conflicts.join("; ")
            ));
        }
    }
    let run = Run {
        id: run_id,
        kind: RunKind::SyncData,
        // Stored timestamps have microsecond precision; keep the returned record identical.
        started_at: now.trunc_subsecs(6),
        finished_at: Some((now + wall.elapsed_delta()).trunc_subsecs(6)),
        status: if interrupted {
            RunStatus::Interrupted
        } else {
            status(reports.len(), failed, conflicting)
        },
        counts: counts(&reports, failed),
        errors,
        report: Some(RunReport::SyncData(reports)),
    };
    store.finish_run(&run).await?;
    Ok(run)
}

/// A finished sync's status: as its failed instruments say, but never `succeeded` when some
/// source contradicts a complete stored candle: the run reports those as errors, and a caller
/// (cron, the exit status) must see that not everything is as the source says.
fn status(total: usize, failed: usize, conflicting: bool) -> RunStatus {
    match RunStatus::from_outcomes(total, failed) {
        RunStatus::Succeeded if conflicting => RunStatus::Partial,
        status => status,
    }
}

async fn select_instruments(store: &Store, symbols: &[Symbol]) -> anyhow::Result<Vec<Instrument>> {
    if symbols.is_empty() {
        return Ok(store
            .instruments()
            .await?
            .into_iter()
            .filter(|i| i.active)
            .collect());
    }
    let mut chosen = Vec::with_capacity(symbols.len());
    for symbol in symbols {
        match store.instrument(symbol).await? {
            Some(instrument) => chosen.push(instrument),
            None => anyhow::bail!(
                "instrument {symbol} is not registered; see `barter instruments list` or add it with `barter instruments add {symbol} --source ...`"
            ),
        }
    }
    Ok(chosen)
}

async fn sync_instrument(
    store: &Store,
    sources: &SourceSet,
    instrument: &Instrument,
    options: &SyncOptions,
    now: DateTime<Utc>,
    run: RunId,
) -> InstrumentSync {
    let mut report = InstrumentSync::new(instrument.symbol.clone());
    let fetched = fetch_and_store(store, sources, instrument, options, now, run, &mut report);
    if let Err(error) = fetched.await {
        // Cut here too (the store bounds what it keeps): the returned run is printed and served.
        report.error = Some(bound_message(&format!("{error:#}")).into_owned());
    }
    report
}

async fn fetch_and_store(
    store: &Store,
    sources: &SourceSet,
    instrument: &Instrument,
    options: &SyncOptions,
    now: DateTime<Utc>,
    run: RunId,
    report: &mut InstrumentSync,
) -> anyhow::Result<()> {
    let symbol = &instrument.symbol;
    let from = match options.since {
        Some(since) => Some(since),
        None => match store.last_complete_day(symbol).await? {
            Some(last) => Some(last),
            None => options.backfill_days.and_then(|days| {
                now.date_naive()
                    .checked_sub_days(Days::new(u64::from(days)))
            }),
        },
    };
    let request = FetchRequest { from, now };
    let candles = sources
        .get(instrument.source)?
        .fetch_daily(instrument, &request)
        .await?;
    report.fetched = candles.len() as u64;
    report.fetched_range = candles
        .first()
        .zip(candles.last())
        .map(|(a, b)| (a.day(), b.day()));

    // The history entry is what this sync changed (the stored range and gaps are in the run's
    // report): written with the candles, so a crash cannot keep one without the other.
    let fetched: &InstrumentSync = report;
    let record = |written: &CandleWrite| {
        let mut synced = fetched.clone();
        apply_write(&mut synced, written);
        HistoryEvent {
            run: Some(run),
            at: Utc::now(),
            kind: "candles_synced".to_owned(),
            detail: serde_json::to_value(&synced).unwrap_or_default(),
        }
    };
    let written = store
        .write_candles_recorded(symbol, &candles, Some(&record))
        .await?;
    drop(candles);
    apply_write(report, &written);

    if let Some(coverage) = store.coverage(symbol).await? {
        report.stored_range = Some((coverage.first, coverage.last));
        let expected = instrument
            .calendar
            .trading_days_between(coverage.first, coverage.last);
        // Sync reads the stored days only when fewer days are stored than the span has trading
        // days, as it always has. `gaps` on its own (as the instruments page calls it) also
        // reads them for a weekdays instrument with a full count, where stored weekend candles
        // can hide missing weekdays; this guard stays so the sync report is unchanged.
        if coverage.count < expected {
            report.gaps = gaps(store, symbol, instrument.calendar, coverage).await?;
        }
    }
    Ok(())
}

/// Copies what a candle write did into a sync report.
fn apply_write(report: &mut InstrumentSync, written: &CandleWrite) {
    report.added = written.added;
    report.updated = written.updated;
    report.unchanged = written.unchanged;
    report.conflicts = written
        .conflicts
        .iter()
        .map(|c| {
            format!(
                "{}: stored o/h/l/c/v {}/{}/{}/{}/{} vs source {}/{}/{}/{}/{}",
                c.day,
                c.stored.open,
                c.stored.high,
                c.stored.low,
                c.stored.close,
                c.stored.volume,
                c.incoming.open,
                c.incoming.high,
                c.incoming.low,
                c.incoming.close,
                c.incoming.volume,
            )
        })
        .collect();
}

/// The trading days missing between `symbol`'s first and last stored day, given its
/// already-read `coverage` (the sync report and the instruments page both use this).
///
/// # Errors
/// [`StoreError`] when the stored days cannot be read.
pub async fn gaps(
    store: &Store,
    symbol: &Symbol,
    calendar: Calendar,
    coverage: Coverage,
) -> Result<Gaps, StoreError> {
    // Every calendar day trades and every day of the span is stored: nothing can be missing,
    // so the list of days need not be read. For a weekdays calendar a full count proves
    // nothing (stored weekend candles count too), so the days are always read.
    if calendar == Calendar::Continuous
        && coverage.count == calendar.trading_days_between(coverage.first, coverage.last)
    {
        return Ok(Gaps::default());
    }
    Ok(calendar.gaps(&store.stored_days(symbol).await?))
}

fn counts(reports: &[InstrumentSync], failed: usize) -> BTreeMap<String, u64> {
    let sum = |f: fn(&InstrumentSync) -> u64| reports.iter().map(f).sum::<u64>();
    BTreeMap::from([
        ("instruments".to_owned(), reports.len() as u64),
        ("failed".to_owned(), failed as u64),
        ("candles_fetched".to_owned(), sum(|r| r.fetched)),
        ("candles_added".to_owned(), sum(|r| r.added)),
        ("candles_updated".to_owned(), sum(|r| r.updated)),
        ("candles_unchanged".to_owned(), sum(|r| r.unchanged)),
        ("conflicts".to_owned(), sum(|r| r.conflicts.len() as u64)),
        ("missing_days".to_owned(), sum(|r| r.gaps.missing)),
    ])
}
