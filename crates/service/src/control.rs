//! What a running job and its caller share: which job, its run ids as they start, a polite stop,
//! and the heartbeat that keeps its run's lease alive. The jobs themselves ([`crate::sync`],
//! [`crate::trading`]) and their callers ([`crate::jobs`], the scheduler, the server) all depend
//! on this module; it depends on none of them.

use std::sync::atomic::{AtomicBool, Ordering};

use barter_core::RunId;
use barter_store::{HEARTBEAT_EVERY, Store};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Keeps a run's lease alive: renews its heartbeat every [`HEARTBEAT_EVERY`] from a background
/// task, until dropped (the job finished, failed or was cancelled). A process that dies stops
/// renewing, and the next job start or server start marks its run `interrupted` once the
/// heartbeat is older than [`barter_store::RUN_LEASE`].
#[derive(Debug)]
pub struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    /// Starts renewing the heartbeat of `run` (which [`Store::start_run`] just set).
    pub fn start(store: &Store, run: RunId) -> Self {
        let store = store.clone();
        Self(tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
            // The first tick is immediate, and `start_run` has just set the heartbeat.
            tick.tick().await;
            loop {
                tick.tick().await;
                match store.renew_run(run, Utc::now()).await {
                    Ok(true) => {}
                    // Finished meanwhile (or marked interrupted by another process): nothing
                    // left to keep alive.
                    Ok(false) => break,
                    // A passing database failure: the next tick tries again, within the lease.
                    Err(error) => {
                        tracing::warn!("could not renew the heartbeat of run {run}: {error}");
                    }
                }
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a running job tells its caller, and asks it.
pub trait JobSignals: Send + Sync {
    /// The job recorded its run (called once, before any work).
    fn run_started(&self, _run: RunId) {}
    /// Whether to stop after the current instrument.
    fn stop_requested(&self) -> bool {
        false
    }
}

/// Signals nobody listens to.
pub struct Unobserved;
impl JobSignals for Unobserved {}

/// Signals shared between a job and its caller: the run ids as they start, and a stop flag.
#[derive(Debug)]
pub struct JobControl {
    started: watch::Sender<Vec<RunId>>,
    stop: AtomicBool,
}

impl Default for JobControl {
    fn default() -> Self {
        Self {
            started: watch::Sender::new(Vec::new()),
            stop: AtomicBool::new(false),
        }
    }
}

impl JobControl {
    /// The runs started so far, updated as they start.
    pub fn runs(&self) -> watch::Receiver<Vec<RunId>> {
        self.started.subscribe()
    }

    /// Asks the job to stop after the instrument it is on.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl JobSignals for JobControl {
    fn run_started(&self, run: RunId) {
        self.started.send_modify(|runs| runs.push(run));
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// A daily job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    /// Sync candles (the seed's `sync_data`).
    SyncData,
    /// Open positions (the seed's `sync_new_trades`).
    SyncNewTrades,
    /// Close positions (the seed's `sync_close_positions`).
    SyncClosePositions,
    /// All three, in that order.
    Run,
}

impl Job {
    /// Every job, in the order a schedule breaks ties between jobs due at the same moment.
    pub const ALL: [Job; 4] = [
        Self::SyncData,
        Self::SyncNewTrades,
        Self::SyncClosePositions,
        Self::Run,
    ];

    /// The name in routes, `[schedule]` keys and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SyncData => "sync_data",
            Self::SyncNewTrades => "sync_new_trades",
            Self::SyncClosePositions => "sync_close_positions",
            Self::Run => "run",
        }
    }

    /// The single jobs this one runs (itself, or the three for [`Job::Run`]).
    pub fn parts(self) -> &'static [Job] {
        match self {
            Self::SyncData => &[Self::SyncData],
            Self::SyncNewTrades => &[Self::SyncNewTrades],
            Self::SyncClosePositions => &[Self::SyncClosePositions],
            Self::Run => &[
                Self::SyncData,
                Self::SyncNewTrades,
                Self::SyncClosePositions,
            ],
        }
    }
}

impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
