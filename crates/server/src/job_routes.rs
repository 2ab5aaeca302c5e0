//! The job routes (`POST /api/sync_data`, `/api/sync_new_trades`, `/api/sync_close_positions`,
//! `/api/run`); the jobs they start are held in [`crate::job_registry`].

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use barter_core::{Run, RunStatus};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use crate::error::{ApiError, ErrorBody};
use crate::schema as doc;
use crate::state::{AppState, RequestId};
use barter_service::jobs::{Job, run_job};

/// The job routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/sync_data", post(sync_data))
        .route("/sync_new_trades", post(sync_new_trades))
        .route("/sync_close_positions", post(sync_close_positions))
        .route("/run", post(run_all))
}

/// `?wait=false` answers as soon as the job has its run id.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct WaitQuery {
    /// `false` answers 202 as soon as the job has its run id; by default the call waits up to
    /// the server's job wait for the job to finish.
    wait: Option<bool>,
}

/// The `?wait=` query, or why it did not parse.
type WaitArg = Result<Query<WaitQuery>, QueryRejection>;

/// A job route's handler and its OpenAPI description (the same answers for the four jobs).
macro_rules! job_path {
    ($path:literal, $id:literal, $summary:literal, $handler:ident, $job:expr) => {
        #[utoipa::path(
            post,
            path = $path,
            operation_id = $id,
            tag = "jobs",
            summary = $summary,
            params(WaitQuery),
            responses(
                (status = 200, description = "The job finished while the call waited.", body = doc::JobFinished,
                    links(("GetRun" = (operation_id = "get_run", parameters(("id" = "$response.body#/runs/0/id")),
                        description = "The job's (first) run.")))),
                (status = 202, description = "The job is still running; follow `/api/runs/{id}`.", body = doc::JobAccepted,
                    links(("GetRun" = (operation_id = "get_run", parameters(("id" = "$response.body#/run_id")),
                        description = "The run the job is recording: poll it until it is no longer `running`.")))),
                (status = 400, description = "A bad query parameter.", body = ErrorBody),
                (status = 409, description = "The job (or a part of it) is already running (`job_running`, with `run_id`), or the configured strategies cannot run, e.g. they name an instrument that is not registered (`strategies_invalid`).", body = ErrorBody),
                (status = 500, description = "Internal error.", body = ErrorBody),
            ),
        )]
        async fn $handler(
            state: State<AppState>,
            query: WaitArg,
            request: Extension<RequestId>,
        ) -> Result<Response, ApiError> {
            start(state, query, request, $job).await
        }
    };
}

job_path!(
    "/api/sync_data",
    "sync_data",
    "Sync daily candles of every active instrument",
    sync_data,
    Job::SyncData
);
job_path!(
    "/api/sync_new_trades",
    "sync_new_trades",
    "Decide entries and open new paper positions",
    sync_new_trades,
    Job::SyncNewTrades
);
job_path!(
    "/api/sync_close_positions",
    "sync_close_positions",
    "Decide exits and close paper positions",
    sync_close_positions,
    Job::SyncClosePositions
);
job_path!(
    "/api/run",
    "run",
    "Run the three jobs in order: sync data, new trades, close positions",
    run_all,
    Job::Run
);

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
    query: WaitArg,
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
            state.inner.cache.clear();
            state.job_finished();
            if let Ok(runs) = &result {
                crate::metrics::record_runs(runs);
            }
            result
        })
    };
    let wait = state.inner.options.wait(query.wait);
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
        Ok(Err(error)) => Err(crate::api::failure(error, &request)),
        Ok(Ok(runs)) => {
            // The runs as stored (bounded and redacted by the store), not the job's own copies,
            // whose errors and reports may be as long as what a source sent.
            let mut stored = Vec::with_capacity(runs.len());
            for run in &runs {
                let read = state.store().run(run.id).await.ok().flatten();
                stored.push(read.unwrap_or_else(|| run.clone()));
            }
            let mut body =
                json!({ "job": job.as_str(), "status": overall(&stored), "runs": stored });
            barter_store::secrets::redact_json(&mut body);
            Ok(Json(body).into_response())
        }
    }
}
