//! The job routes (`POST /api/sync_data`, `/api/sync_new_trades`, `/api/sync_close_positions`,
//! `/api/run`) and the registry of jobs this process is running.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use barter_core::{Run, RunId, RunStatus};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;

use super::error::ApiError;
use super::{AppState, RequestId};
use crate::jobs::{Job, JobControl, run_job};

/// The jobs running in this process, by single job ([`Job::Run`] holds all three).
#[derive(Default)]
pub(super) struct Registry {
    running: Mutex<HashMap<Job, Arc<JobControl>>>,
    /// Tells waiters when a job ended.
    idle: watch::Sender<usize>,
}

impl Registry {
    /// Registers `job` unless one of its parts is running; returns the control, or the running
    /// job's first run id (if it has one yet) as the conflict.
    fn claim(&self, job: Job) -> Result<Arc<JobControl>, Option<RunId>> {
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

    fn release(&self, job: Job) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        for part in job.parts() {
            running.remove(part);
        }
        let left = running.len();
        drop(running);
        self.idle.send_replace(left);
    }

    /// Asks every running job to stop after its current instrument.
    pub(super) fn stop_all(&self) {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        for control in running.values() {
            control.stop();
        }
    }

    /// Waits until no job runs.
    pub(super) async fn wait_idle(&self) {
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

/// The job routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sync_data", post(|s, q, r| start(s, q, r, Job::SyncData)))
        .route(
            "/sync_new_trades",
            post(|s, q, r| start(s, q, r, Job::SyncNewTrades)),
        )
        .route(
            "/sync_close_positions",
            post(|s, q, r| start(s, q, r, Job::SyncClosePositions)),
        )
        .route("/run", post(|s, q, r| start(s, q, r, Job::Run)))
}

/// `?wait=false` answers as soon as the job has its run id.
#[derive(Debug, Deserialize)]
struct WaitQuery {
    wait: Option<bool>,
}

/// The overall status of a job's runs: the worst of them.
fn overall(runs: &[Run]) -> RunStatus {
    let has = |status| runs.iter().any(|r| r.status == status);
    if has(RunStatus::Failed) {
        RunStatus::Failed
    } else if has(RunStatus::Interrupted) {
        RunStatus::Interrupted
    } else if has(RunStatus::Partial) {
        RunStatus::Partial
    } else {
        RunStatus::Succeeded
    }
}

async fn start(
    State(state): State<AppState>,
    query: Result<Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
    Extension(RequestId(request)): Extension<RequestId>,
    job: Job,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let control = state.inner.jobs.claim(job).map_err(|running| {
        ApiError::new(
            StatusCode::CONFLICT,
            "job_running",
            format!(
                "{} is already running; try again when it has finished",
                job.as_str()
            ),
        )
        .with(json!({ "run_id": running.map(|r| r.0) }))
    })?;
    let mut started = control.runs();
    let mut task = {
        let state = state.clone();
        let control = control.clone();
        tokio::spawn(async move {
            let (config, store) = (state.config(), state.store());
            let result = run_job(config, store, job, Utc::now(), control.as_ref()).await;
            state.inner.jobs.release(job);
            result
        })
    };
    let wait = if query.wait == Some(false) {
        std::time::Duration::ZERO
    } else {
        state.inner.options.job_wait
    };
    let finished = match tokio::time::timeout(wait, &mut task).await {
        Ok(finished) => finished,
        Err(_) => {
            // Answer 202 once the run is recorded, so the caller can follow it at
            // /api/runs/{id}; unless the job ends (or fails) before it records one.
            tokio::select! {
                seen = started.wait_for(|runs| !runs.is_empty()) => {
                    let runs = seen.map(|runs| runs.clone()).unwrap_or_default();
                    let body = json!({
                        "job": job.as_str(),
                        "status": RunStatus::Running,
                        "run_id": runs.first().map(|r| r.0),
                        "run_ids": runs.iter().map(|r| r.0).collect::<Vec<_>>(),
                    });
                    return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
                }
                finished = &mut task => finished,
            }
        }
    };
    match finished {
        Err(join) => Err(ApiError::internal(&anyhow::Error::new(join), &request)),
        Ok(Err(error)) => Err(ApiError::internal(&error, &request)),
        Ok(Ok(runs)) => {
            let body = json!({ "job": job.as_str(), "status": overall(&runs), "runs": runs });
            Ok(Json(body).into_response())
        }
    }
}
