//! `barter serve`: the HTTP server, plus the `[schedule]` loop running the same jobs.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use barter_core::{RunKind, RunStatus};
use barter_store::Store;
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::jobs::{Job, Unobserved, run_job};
use crate::schedule::{JobRunner, Schedule, ScheduledJob, SystemClock, run_scheduler};
use crate::server::{self, ServeOptions};

/// The environment variable holding the API token.
pub const API_TOKEN_VAR: &str = "BARTER_API_TOKEN";

/// Starts the server (and the scheduler when `[schedule]` has entries) until SIGTERM/Ctrl-C.
pub(super) async fn serve(
    config: Config,
    store: Store,
    bind: Option<SocketAddr>,
    no_auth: bool,
) -> anyhow::Result<()> {
    let bind =
        match bind {
            Some(bind) => bind,
            None => config.server.bind.parse().with_context(|| {
                format!("server.bind `{}` is not an address", config.server.bind)
            })?,
        };
    let token = std::env::var(API_TOKEN_VAR).ok();
    let token = match (token, no_auth) {
        (_, true) => None,
        (Some(token), false) => Some(token),
        (None, false) => anyhow::bail!(
            "{API_TOKEN_VAR} is not set: the API needs a token (or start with --no-auth, which \
             only binds a loopback address)"
        ),
    };
    let options = ServeOptions {
        bind,
        token,
        job_wait: Duration::from_secs(config.server.job_wait_secs),
        max_body_bytes: config.server.max_body_bytes,
        read_cache: Duration::from_millis(config.server.read_cache_ms),
    };
    let schedule = Schedule::from_config(&config.schedule)?;
    if !schedule.is_empty() {
        let runner = Scheduled {
            config: config.clone(),
            store: store.clone(),
        };
        for (job, expression) in schedule.entries() {
            tracing::info!("scheduled {job}: `{expression}` (UTC)");
        }
        tokio::spawn(async move {
            // The scheduler lives as long as the process; the server's shutdown ends both.
            if let Err(error) =
                run_scheduler(&schedule, &SystemClock, &runner, std::future::pending()).await
            {
                tracing::error!("the scheduler stopped: {error:#}");
            }
        });
    }
    server::serve(config, store, options).await
}

/// Runs scheduled jobs with the configured sources and strategies.
struct Scheduled {
    config: Config,
    store: Store,
}

impl Scheduled {
    fn job(job: ScheduledJob) -> Job {
        match job {
            ScheduledJob::SyncData => Job::SyncData,
            ScheduledJob::SyncNewTrades => Job::SyncNewTrades,
            ScheduledJob::SyncClosePositions => Job::SyncClosePositions,
            ScheduledJob::Run => Job::Run,
        }
    }
}

#[async_trait]
impl JobRunner for Scheduled {
    /// The start of the latest finished run of the job's last part: a scheduled run starts at
    /// its scheduled moment, so this is the last occurrence done.
    async fn last_done(&self, job: ScheduledJob) -> anyhow::Result<Option<DateTime<Utc>>> {
        let kind = match job {
            ScheduledJob::SyncData => RunKind::SyncData,
            ScheduledJob::SyncNewTrades => RunKind::SyncNewTrades,
            ScheduledJob::SyncClosePositions | ScheduledJob::Run => RunKind::SyncClosePositions,
        };
        let runs = self.store.runs(200).await?;
        Ok(runs
            .iter()
            .filter(|r| r.kind == kind && r.status != RunStatus::Running)
            .map(|r| r.started_at)
            .max())
    }

    async fn run(&self, job: ScheduledJob, at: DateTime<Utc>) -> anyhow::Result<()> {
        let runs = run_job(&self.config, &self.store, Self::job(job), at, &Unobserved).await?;
        server::metrics::record_runs(&runs);
        for run in &runs {
            tracing::info!("scheduled {job} at {at}: run {} {}", run.id, run.status);
        }
        Ok(())
    }
}
