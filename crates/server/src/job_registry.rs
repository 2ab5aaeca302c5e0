//! The jobs this server process is running, one at a time per single job: a second call of a
//! running job is refused, and shutdown asks them all to stop and waits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use barter_core::RunId;
use barter_service::jobs::{Job, JobControl};
use tokio::sync::watch;

/// The jobs running in this process, by single job ([`Job::Run`] holds all three).
#[derive(Default)]
pub(crate) struct JobRegistry {
    running: Mutex<HashMap<Job, Arc<JobControl>>>,
    /// Tells waiters when a job ended.
    idle: watch::Sender<usize>,
}

impl JobRegistry {
    /// Registers `job` unless one of its parts is running; returns the control, or the running
    /// job's first run id (if it has one yet) as the conflict.
    pub(crate) fn claim(&self, job: Job) -> Result<Arc<JobControl>, Option<RunId>> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(other) = job.parts().iter().find_map(|part| running.get(part)) {
            return Err(other.runs().borrow().first().copied());
        }
        let control = Arc::new(JobControl::default());
        for part in job.parts() {
            running.insert(*part, control.clone());
        }
        Ok(control)
    }

    pub(crate) fn release(&self, job: Job) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        for part in job.parts() {
            running.remove(part);
        }
        let left = running.len();
        drop(running);
        self.idle.send_replace(left);
    }

    /// Asks every running job to stop after its current instrument.
    pub(crate) fn stop_all(&self) {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        for control in running.values() {
            control.stop();
        }
    }

    /// Waits until no job runs.
    pub(crate) async fn wait_idle(&self) {
        let mut idle = self.idle.subscribe();
        loop {
            let empty = self
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty();
            if empty || idle.changed().await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use barter_service::jobs::JobSignals;

    #[test]
    fn a_running_job_blocks_itself_and_run_blocks_its_parts_until_released() {
        let registry = JobRegistry::default();
        let control = registry.claim(Job::SyncNewTrades).expect("free");
        control.run_started(RunId(7));
        assert_eq!(
            registry.claim(Job::SyncNewTrades).err(),
            Some(Some(RunId(7)))
        );
        assert_eq!(
            registry.claim(Job::Run).err(),
            Some(Some(RunId(7))),
            "run includes the trade job"
        );
        let sync = registry.claim(Job::SyncData).expect("another job is free");
        assert_eq!(
            registry.claim(Job::SyncData).err(),
            Some(None),
            "conflicts before its run id exists too"
        );
        registry.stop_all();
        assert!(control.stop_requested() && sync.stop_requested());
        registry.release(Job::SyncNewTrades);
        registry.release(Job::SyncData);
        assert!(registry.claim(Job::Run).is_ok(), "all free again");
    }
}
