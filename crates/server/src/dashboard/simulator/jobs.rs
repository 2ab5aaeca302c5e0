//! The simulator page's background sweeps: a submitted sweep is admitted here, runs in its own
//! task (in one of the server's backtest slots, shared with `POST /api/backtests`), counts its
//! finished points for the progress bar, and can be cancelled. In the style of the API's
//! [`crate::backtest_registry`]: at most `[server] backtests_running` + `backtests_queued`
//! sweeps are running or queued at once, the last [`KEEP`] finished ones are kept in memory
//! (a restart forgets them), and shutdown cancels and waits for them.
//!
//! The dashboard has one kind of user (whoever holds the API token), so any signed-in session
//! may follow or cancel any sweep; ids are 128 random bits all the same, so a bookmarked page
//! never shows another sweep after a restart.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use barter_core::Day;
use barter_service::backtest::BacktestRequest;
use tokio::sync::watch;

use super::form::SimForm;
use super::sweep::SweepData;

/// How many finished sweeps are kept (running and queued ones are never dropped). Each keeps
/// its ranking and at most one value per combination, well under a megabyte.
pub(crate) const KEEP: usize = 20;

/// Where a sweep is.
#[derive(Clone)]
pub(crate) enum State {
    /// Waiting for a free backtest slot.
    Queued,
    /// Running.
    Running,
    /// Finished.
    Done(Arc<SweepData>),
    /// Failed: what to tell people (the details are in the log).
    Failed(String),
    /// Cancelled before it finished: what it had computed is dropped.
    Cancelled,
}

impl State {
    /// The `status` of the progress JSON.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done(_) => "done",
            Self::Failed(_) => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether it is still waiting or running.
    pub(crate) fn is_active(&self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }
}

/// One background sweep.
pub(crate) struct Job {
    /// The form it runs (its page shows it filled in).
    pub form: SimForm,
    /// The request the form described (what a save keeps).
    pub request: BacktestRequest,
    /// The first and last day of candles it reads.
    pub span: Option<(Day, Day)>,
    /// Combinations in all.
    pub total: usize,
    /// Combinations finished so far.
    pub done: AtomicUsize,
    /// Set to stop it between points.
    pub cancel: Arc<AtomicBool>,
    state: Mutex<State>,
    /// Whether its task has not ended yet. What admission counts: a cancelled queued sweep
    /// reads `cancelled` at once but keeps its candles until its task ends.
    live: AtomicBool,
}

impl Job {
    /// Its state now.
    pub(crate) fn state(&self) -> State {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, state: State) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }

    /// Whether it was asked to stop.
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Why a sweep was not admitted: this many are running or queued already.
pub(crate) struct Busy(pub(crate) usize);

/// What a cancel found.
pub(crate) enum Cancelled {
    /// It was active: a queued one is cancelled now, a running one stops between points.
    Requested,
    /// It had already finished.
    Finished,
}

/// The simulator page's sweeps, by id.
pub(crate) struct SweepJobs {
    inner: Mutex<Entries>,
    /// How many may be running or queued at once.
    capacity: usize,
    /// How many are active, for shutdown to wait on.
    active: watch::Sender<usize>,
}

#[derive(Default)]
struct Entries {
    /// Admission order, for dropping the oldest finished ones.
    next: u64,
    jobs: BTreeMap<String, (u64, Arc<Job>)>,
}

impl SweepJobs {
    /// A registry admitting at most `running` + `queued` active sweeps (at least one).
    pub(crate) fn new(running: usize, queued: usize) -> Self {
        Self {
            inner: Mutex::default(),
            capacity: running.saturating_add(queued).max(1),
            active: watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many may be running or queued at once.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    fn active_count(entries: &Entries) -> usize {
        entries
            .jobs
            .values()
            .filter(|(_, job)| job.live.load(Ordering::Relaxed))
            .count()
    }

    /// Admits a sweep of `total` combinations (queued until its task gets a slot) and returns
    /// its id and job; drops the oldest finished ones beyond [`KEEP`].
    pub(crate) fn admit(
        &self,
        form: SimForm,
        request: BacktestRequest,
        span: Option<(Day, Day)>,
        total: usize,
    ) -> Result<(String, Arc<Job>), Busy> {
        let mut inner = self.lock();
        let active = Self::active_count(&inner);
        if active >= self.capacity {
            return Err(Busy(active));
        }
        let job = Arc::new(Job {
            form,
            request,
            span,
            total,
            done: AtomicUsize::new(0),
            cancel: Arc::new(AtomicBool::new(false)),
            state: Mutex::new(State::Queued),
            live: AtomicBool::new(true),
        });
        // 128 random bits: unguessable, and never reused by a later server process.
        let id = crate::sessions::random_token()[..32].to_owned();
        inner.next += 1;
        let order = inner.next;
        inner.jobs.insert(id.clone(), (order, Arc::clone(&job)));
        let mut finished: Vec<(u64, String)> = inner
            .jobs
            .iter()
            .filter(|(_, (_, job))| !job.live.load(Ordering::Relaxed))
            .map(|(id, (order, _))| (*order, id.clone()))
            .collect();
        finished.sort_unstable();
        let excess = inner.jobs.len().saturating_sub(KEEP);
        for (_, old) in finished.into_iter().take(excess) {
            inner.jobs.remove(&old);
        }
        self.active.send_replace(active + 1);
        Ok((id, job))
    }

    /// The sweep `id`.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.lock().jobs.get(id).map(|(_, job)| Arc::clone(job))
    }

    /// Marks `job` as running (it got its slot), unless it was cancelled meanwhile.
    pub(crate) fn started(&self, job: &Job) {
        let _inner = self.lock();
        if matches!(job.state(), State::Queued) {
            job.set(State::Running);
        }
    }

    /// Records how `job` ended (its task is over).
    pub(crate) fn finish(&self, job: &Job, state: State) {
        let inner = self.lock();
        job.set(state);
        job.live.store(false, Ordering::Relaxed);
        self.active.send_replace(Self::active_count(&inner));
    }

    /// Asks sweep `id` to stop; a queued one is cancelled at once (its task ends when it
    /// gets a slot, without running).
    pub(crate) fn cancel(&self, id: &str) -> Option<Cancelled> {
        let inner = self.lock();
        let (_, job) = inner.jobs.get(id)?;
        let state = job.state();
        if !state.is_active() {
            return Some(Cancelled::Finished);
        }
        job.cancel.store(true, Ordering::Relaxed);
        if matches!(state, State::Queued) {
            job.set(State::Cancelled);
        }
        Some(Cancelled::Requested)
    }

    /// Cancels every active sweep (on shutdown).
    pub(crate) fn cancel_all(&self) {
        let ids: Vec<String> = self.lock().jobs.keys().cloned().collect();
        for id in ids {
            self.cancel(&id);
        }
    }

    /// Waits until no sweep is active.
    pub(crate) async fn wait_idle(&self) {
        let mut active = self.active.subscribe();
        let _ = active.wait_for(|n| *n == 0).await;
    }
}

impl crate::state::Background for SweepJobs {
    fn cancel_all(&self) {
        SweepJobs::cancel_all(self);
    }

    fn wait_idle(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(SweepJobs::wait_idle(self))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The server's sweep registry, made on first use with the configured slots (see
/// [`crate::state::Background`]); `None` only if another module claimed the slot first.
pub(crate) fn of(state: &crate::state::AppState) -> Option<&SweepJobs> {
    let server = &state.config().server;
    state
        .inner
        .background
        .get_or_init(|| {
            Arc::new(SweepJobs::new(
                server.backtests_running,
                server.backtests_queued,
            ))
        })
        .as_any()
        .downcast_ref::<SweepJobs>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admit(jobs: &SweepJobs) -> Result<(String, Arc<Job>), Busy> {
        jobs.admit(SimForm::default(), BacktestRequest::default(), None, 10)
    }

    #[test]
    fn admission_is_bounded_and_the_last_finished_are_kept() {
        let jobs = SweepJobs::new(1, 1);
        let (first, first_job) = admit(&jobs).ok().expect("admitted");
        let (second, second_job) = admit(&jobs).ok().expect("queued");
        assert_eq!(first.len(), 32);
        assert_ne!(first, second);
        assert!(admit(&jobs).is_err(), "full");
        // A queued sweep reads cancelled at once; a running one is asked to stop.
        jobs.started(&first_job);
        assert!(matches!(jobs.cancel(&second), Some(Cancelled::Requested)));
        assert!(second_job.cancelled());
        assert!(matches!(second_job.state(), State::Cancelled));
        jobs.started(&second_job);
        assert!(
            matches!(second_job.state(), State::Cancelled),
            "not revived"
        );
        assert!(admit(&jobs).is_err(), "still full until the tasks end");
        jobs.finish(&second_job, State::Cancelled);
        jobs.cancel_all();
        assert!(first_job.cancelled());
        assert!(matches!(first_job.state(), State::Running));
        jobs.finish(&first_job, State::Cancelled);
        assert!(matches!(jobs.cancel(&first), Some(Cancelled::Finished)));
        assert!(jobs.cancel("nope").is_none());
        for _ in 0..KEEP + 5 {
            let (_, job) = admit(&jobs).ok().expect("admitted");
            jobs.finish(&job, State::Failed("x".to_owned()));
        }
        assert_eq!(jobs.lock().jobs.len(), KEEP);
        assert!(jobs.get(&first).is_none(), "the oldest finished is dropped");
        assert_eq!(*jobs.active.borrow(), 0);
    }
}
