//! The `[schedule]` inside `barter serve`: scheduled jobs go through the same registry as the
//! job routes (one of a kind at a time in this process, stopped on shutdown), clear the read
//! cache and count in the metrics, like a call of the route.

use std::time::Duration;

use async_trait::async_trait;
use barter_core::{RunKind, RunStatus};
use chrono::{DateTime, Utc};

use crate::state::AppState;
use barter_service::jobs::{Job, run_job};
use barter_service::schedule::{JobRunner, Schedule, SystemClock, run_scheduler};

/// Starts the scheduler loop for `schedule` (nothing when it is empty); it ends with the process.
pub fn spawn(state: AppState, schedule: Schedule) {
    if schedule.is_empty() {
        return;
    }
    for (job, expression) in schedule.entries() {
        tracing::info!("scheduled {job}: `{expression}` (UTC)");
    }
    tokio::spawn(async move {
        let runner = Scheduled { state };
        if let Err(error) =
            run_scheduler(&schedule, &SystemClock, &runner, std::future::pending()).await
        {
            tracing::error!("the scheduler stopped: {error:#}");
        }
    });
}

/// Runs scheduled jobs on behalf of the scheduler loop.
pub struct Scheduled {
    state: AppState,
}

impl Scheduled {
    /// A runner over the server's state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[async_trait]
impl JobRunner for Scheduled {
    /// The start of the latest finished (not interrupted) run of the job's last part: a
    /// scheduled run starts at its scheduled moment, so this is the last occurrence done.
    async fn last_done(&self, job: Job) -> anyhow::Result<Option<DateTime<Utc>>> {
        let kind = match job {
            Job::SyncData => RunKind::SyncData,
            Job::SyncNewTrades => RunKind::SyncNewTrades,
            Job::SyncClosePositions | Job::Run => RunKind::SyncClosePositions,
        };
        let runs = self.state.store().runs(200).await?;
        Ok(runs
            .iter()
            // An interrupted run (killed, or stopped by a shutdown) did not finish its
            // occurrence: it counts as missed, so the next start catches it up.
            .filter(|r| {
                r.kind == kind && !matches!(r.status, RunStatus::Running | RunStatus::Interrupted)
            })
            .map(|r| r.started_at)
            .max())
    }

    /// Waits while the same job runs (called by the route), then runs it as of `at`.
    async fn run(&self, job: Job, at: DateTime<Utc>) -> anyhow::Result<()> {
        let jobs = &self.state.inner.jobs;
        let control = loop {
            match jobs.claim(job) {
                Ok(control) => break control,
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        };
        let (config, store) = (self.state.config(), self.state.store());
        let result = run_job(config, store, job, at, control.as_ref()).await;
        jobs.release(job);
        self.state.inner.cache.clear();
        self.state.job_finished();
        let runs = result?;
        crate::metrics::record_runs(&runs);
        for run in &runs {
            tracing::info!("scheduled {job} at {at}: run {} {}", run.id, run.status);
        }
        Ok(())
    }
}
