//! The daily jobs as one entry point for callers that run them on someone's behalf (the HTTP
//! server, the scheduler, the CLI): [`run_job`] runs a [`Job`] with the configured sources and
//! strategies, reporting through the [`JobSignals`] of [`crate::control`].
//!
//! A job asked to stop finishes the instrument it is on and records its run as `interrupted`;
//! everything it stored is complete, and the next run of the job decides the rest (decisions are
//! keyed per day, so nothing is taken twice).

use barter_core::{Run, RunId};
use barter_store::Store;
use chrono::{DateTime, Utc};

use crate::config::Config;
pub use crate::control::{Heartbeat, Job, JobControl, JobSignals, Unobserved};
use crate::source_set::SourceSet;
use crate::sync::{SyncOptions, sync_data};
use crate::trading::{MarketCache, Trading, sync_close_positions_with, sync_new_trades_with};

/// Runs `job` as of `now` with the configured sources and strategies; returns its runs (three
/// for [`Job::Run`], which stops early when asked to).
///
/// # Errors
/// When a job cannot start or record itself (bad strategies, database failure).
pub async fn run_job(
    config: &Config,
    store: &Store,
    job: Job,
    now: DateTime<Utc>,
    signals: &dyn JobSignals,
) -> anyhow::Result<Vec<Run>> {
    match run_parts(config, store, job, now, signals).await {
        Ok(runs) => Ok(runs),
        Err(error) => Err(explain_error(store, error).await),
    }
}

/// [`run_job`] without the explanation of its error.
async fn run_parts(
    config: &Config,
    store: &Store,
    job: Job,
    now: DateTime<Utc>,
    signals: &dyn JobSignals,
) -> anyhow::Result<Vec<Run>> {
    let mut runs = Vec::new();
    // Trade and close share what they load, as in `barter run`.
    let mut market = MarketCache::across_jobs();
    for part in job.parts() {
        if !runs.is_empty() && signals.stop_requested() {
            break;
        }
        let run = match part {
            Job::SyncData => {
                let sources = SourceSet::from_config(&config.sources);
                let options = SyncOptions {
                    backfill_days: config.sync.backfill_days,
                    ..SyncOptions::default()
                };
                sync_data(store, &sources, &options, now, &Signalled(signals)).await?
            }
            Job::SyncNewTrades => {
                let trading = Trading::for_store(config, store).await?;
                sync_new_trades_with(store, &trading, now, &mut market, signals).await?
            }
            Job::SyncClosePositions => {
                let trading = Trading::for_store(config, store).await?;
                let run =
                    sync_close_positions_with(store, &trading, now, &mut market, signals).await?;
                crate::notify::after_close(store, config, now).await;
                run
            }
            Job::Run => unreachable!("`parts` lists single jobs"),
        };
        runs.push(run);
    }
    Ok(runs)
}

/// `error` made precise by [`Store::explain`] when it is a store error (the database file a
/// read-only error is about, an unreachable PostgreSQL server instead of "pool timed out");
/// any other error is returned as it is.
pub async fn explain_error(store: &Store, error: anyhow::Error) -> anyhow::Error {
    match error.downcast::<barter_store::StoreError>() {
        Ok(error) => anyhow::Error::new(store.explain(error).await),
        Err(other) => other,
    }
}

/// Sync progress that only passes the signals on.
struct Signalled<'a>(&'a dyn JobSignals);

impl JobSignals for Signalled<'_> {
    fn run_started(&self, run: RunId) {
        self.0.run_started(run);
    }
    fn stop_requested(&self) -> bool {
        self.0.stop_requested()
    }
}

impl crate::sync::SyncProgress for Signalled<'_> {}
