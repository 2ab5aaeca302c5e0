//! The backtests this server process runs for `POST /api/backtests`: their admission (running
//! and queued slots), their state by id, cancelling, and waiting for them on shutdown.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::StatusCode;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};

use crate::error::ApiError;

/// How many backtests the registry keeps (running and queued ones are never dropped).
pub(crate) const KEEP: usize = 50;

/// Where a backtest is.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    /// Waiting for a free slot.
    Queued,
    /// Running.
    Running,
    /// Finished: the `result` object.
    Done(Value),
    /// Failed: the error's status, code, message and extra fields.
    Failed {
        status: StatusCode,
        code: &'static str,
        message: String,
        extra: Value,
    },
    /// Cancelled (by `DELETE` or shutdown) before it finished.
    Cancelled,
}

impl Entry {
    pub(crate) fn failed(error: ApiError) -> Self {
        Self::Failed {
            status: error.status,
            code: error.code,
            message: error.message,
            extra: error.extra,
        }
    }

    /// Whether it is still waiting or running.
    pub(crate) fn is_active(&self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }

    /// The `status` field.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done(_) => "done",
            Self::Failed { .. } => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The body of `GET /api/backtests/{id}` (and of a finished `POST`).
    pub(crate) fn body(&self, id: u64) -> Value {
        match self {
            Self::Done(result) => json!({ "id": id, "status": "done", "result": result }),
            Self::Failed {
                code,
                message,
                extra,
                ..
            } => {
                let mut error = json!({ "code": code, "message": message });
                if let (Some(error), Some(extra)) = (error.as_object_mut(), extra.as_object()) {
                    error.extend(extra.clone());
                }
                json!({ "id": id, "status": "failed", "error": error })
            }
            other => json!({ "id": id, "status": other.name() }),
        }
    }
}

/// The backtests of this process, by id (the last [`KEEP`], and every active one), and the
/// slots they run in.
pub(crate) struct BacktestRegistry {
    inner: Mutex<Entries>,
    /// One permit per backtest allowed to run at once.
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) running: usize,
    pub(crate) queued: usize,
    /// How many are active, for shutdown to wait on.
    active: watch::Sender<usize>,
}

#[derive(Default)]
struct Entries {
    last_id: u64,
    entries: BTreeMap<u64, Entry>,
    /// The cancel flag of every active backtest.
    cancels: BTreeMap<u64, Arc<AtomicBool>>,
}

/// Why a backtest was not admitted: this many are active already.
pub(crate) struct Busy(pub(crate) usize);

/// What `DELETE` found.
pub(crate) enum Cancelled {
    /// It was active; it stops at its next check.
    Requested(Entry),
    /// It had already finished.
    Finished(Entry),
}

impl BacktestRegistry {
    /// A registry that runs `running` backtests at once (at least one) and queues `queued`.
    pub(crate) fn new(running: usize, queued: usize) -> Self {
        let running = running.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            inner: Mutex::default(),
            slots: Arc::new(Semaphore::new(running)),
            running,
            queued,
            active: watch::channel(0).0,
        }
    }

    /// The slots backtests run in, for the dashboard's simulator page to take one too.
    pub(crate) fn slots(&self) -> Arc<Semaphore> {
        Arc::clone(&self.slots)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a new backtest (running when a slot is free, else queued) and returns its id and
    /// cancel flag; drops the oldest finished ones.
    pub(crate) fn admit(&self) -> Result<(u64, Arc<AtomicBool>), Busy> {
        let mut inner = self.lock();
        let active = inner.cancels.len();
        if active >= self.running.saturating_add(self.queued) {
            return Err(Busy(active));
        }
        inner.last_id += 1;
        let id = inner.last_id;
        let running = inner
            .entries
            .values()
            .filter(|e| matches!(e, Entry::Running))
            .count();
        let entry = if running < self.running {
            Entry::Running
        } else {
            Entry::Queued
        };
        inner.entries.insert(id, entry);
        let cancel = Arc::new(AtomicBool::new(false));
        inner.cancels.insert(id, Arc::clone(&cancel));
        let excess = inner.entries.len().saturating_sub(KEEP);
        let old: Vec<u64> = inner
            .entries
            .iter()
            .filter(|(_, entry)| !entry.is_active())
            .map(|(id, _)| *id)
            .take(excess)
            .collect();
        for id in old {
            inner.entries.remove(&id);
        }
        self.active.send_replace(inner.cancels.len());
        Ok((id, cancel))
    }

    /// Marks backtest `id` as running (it got its slot), unless it was cancelled meanwhile.
    pub(crate) fn started(&self, id: u64) {
        let mut inner = self.lock();
        if let Some(entry @ Entry::Queued) = inner.entries.get_mut(&id) {
            *entry = Entry::Running;
        }
    }

    /// Records how backtest `id` ended.
    pub(crate) fn finish(&self, id: u64, entry: Entry) {
        let mut inner = self.lock();
        inner.entries.insert(id, entry);
        inner.cancels.remove(&id);
        self.active.send_replace(inner.cancels.len());
    }

    pub(crate) fn get(&self, id: u64) -> Option<Entry> {
        self.lock().entries.get(&id).cloned()
    }

    /// Asks backtest `id` to stop; a queued one is cancelled at once.
    pub(crate) fn cancel(&self, id: u64) -> Option<Cancelled> {
        let mut inner = self.lock();
        let entry = inner.entries.get(&id)?.clone();
        let Some(flag) = inner.cancels.get(&id) else {
            return Some(Cancelled::Finished(entry));
        };
        flag.store(true, Ordering::Relaxed);
        if matches!(entry, Entry::Queued) {
            inner.entries.insert(id, Entry::Cancelled);
            return Some(Cancelled::Requested(Entry::Cancelled));
        }
        Some(Cancelled::Requested(entry))
    }

    /// Cancels every active backtest (on shutdown).
    pub(crate) fn cancel_all(&self) {
        let ids: Vec<u64> = self.lock().cancels.keys().copied().collect();
        for id in ids {
            self.cancel(id);
        }
    }

    /// Waits until no backtest is active.
    pub(crate) async fn wait_idle(&self) {
        let mut active = self.active.subscribe();
        let _ = active.wait_for(|n| *n == 0).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_keeps_the_last_finished_and_every_active_backtest() {
        let registry = BacktestRegistry::new(1, KEEP + 20);
        let (running, _) = registry.admit().ok().expect("admitted");
        let (queued, _) = registry.admit().ok().expect("admitted");
        assert!(matches!(registry.get(running), Some(Entry::Running)));
        assert!(matches!(registry.get(queued), Some(Entry::Queued)));
        for _ in 0..KEEP + 10 {
            let (id, _) = registry.admit().ok().expect("admitted");
            registry.finish(id, Entry::Done(json!({})));
        }
        assert!(matches!(registry.get(running), Some(Entry::Running)));
        assert!(matches!(registry.get(queued), Some(Entry::Queued)));
        assert!(registry.get(3).is_none(), "the oldest finished is dropped");
        let last = registry.lock().last_id;
        assert!(matches!(registry.get(last), Some(Entry::Done(_))));
        assert_eq!(registry.lock().entries.len(), KEEP);
    }

    #[test]
    fn admission_is_bounded_and_cancelling_frees_nothing_until_the_task_ends() {
        let registry = BacktestRegistry::new(1, 1);
        let (first, first_cancel) = registry.admit().ok().expect("runs");
        let (second, second_cancel) = registry.admit().ok().expect("queued");
        assert!(registry.admit().is_err(), "full");
        // A queued backtest is cancelled at once; a running one is asked to stop.
        assert!(matches!(
            registry.cancel(second),
            Some(Cancelled::Requested(Entry::Cancelled))
        ));
        assert!(second_cancel.load(Ordering::Relaxed));
        registry.cancel_all();
        assert!(first_cancel.load(Ordering::Relaxed));
        assert!(registry.admit().is_err(), "still full until the tasks end");
        registry.finish(first, Entry::Cancelled);
        registry.finish(second, Entry::Cancelled);
        assert!(matches!(
            registry.cancel(first),
            Some(Cancelled::Finished(Entry::Cancelled))
        ));
        assert!(registry.cancel(999).is_none());
        assert!(registry.admit().is_ok());
    }
}
