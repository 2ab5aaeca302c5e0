//! `POST /api/backtests` and `GET /api/backtests/{id}`: the same backtests as `barter backtest`,
//! always over the database's candles, run on the blocking pool, and the last results kept in
//! memory.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use super::error::{ApiError, ErrorBody};
use super::openapi::schema as doc;
use super::{AppState, RequestId};
use crate::backtest::{self, BacktestFailure, BacktestRequest, CandleSource, Plan, Prepared};

/// How many backtests the registry keeps (running ones are never dropped).
const KEEP: usize = 50;

/// How many sweep rows are returned without `?top=`.
const DEFAULT_TOP: usize = 10;

/// The most sweep rows `?top=` may ask for.
const MAX_TOP: usize = 1000;

/// The backtest routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/backtests", post(start))
        .route("/backtests/{id}", get(status))
}

/// Where a backtest is.
#[derive(Debug, Clone)]
enum Entry {
    /// Still running.
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
}

impl Entry {
    fn failed(error: ApiError) -> Self {
        Self::Failed {
            status: error.status,
            code: error.code,
            message: error.message,
            extra: error.extra,
        }
    }

    /// The body of `GET /api/backtests/{id}` (and of a finished `POST`).
    fn body(&self, id: u64) -> Value {
        match self {
            Self::Running => json!({ "id": id, "status": "running" }),
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
        }
    }
}

/// The backtests of this process, by id: the last [`KEEP`] (and every running one).
#[derive(Default)]
pub(super) struct Registry {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    last_id: u64,
    entries: BTreeMap<u64, Entry>,
}

impl Registry {
    /// Registers a new running backtest and returns its id; drops the oldest finished ones.
    fn start(&self) -> u64 {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.last_id += 1;
        let id = inner.last_id;
        inner.entries.insert(id, Entry::Running);
        let excess = inner.entries.len().saturating_sub(KEEP);
        let old: Vec<u64> = inner
            .entries
            .iter()
            .filter(|(_, entry)| !matches!(entry, Entry::Running))
            .map(|(id, _)| *id)
            .take(excess)
            .collect();
        for id in old {
            inner.entries.remove(&id);
        }
        id
    }

    fn finish(&self, id: u64, entry: Entry) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.entries.insert(id, entry);
    }

    fn get(&self, id: u64) -> Option<Entry> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.entries.get(&id).cloned()
    }
}

/// `?wait=false` and `?top=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StartQuery {
    /// `false` answers 202 with the id at once; by default the call waits up to the server's
    /// job wait (`[server] job_wait_secs`) for the result.
    wait: Option<bool>,
    /// For a sweep: how many of the best combinations to return (default 10, at most 1000).
    top: Option<usize>,
}

/// The API error of a backtest failure: 422 listing the problems, or a logged 500.
fn failure(error: BacktestFailure, request: &str) -> ApiError {
    match error {
        BacktestFailure::Invalid(problems) => {
            let message = problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect::<Vec<_>>()
                .join("\n");
            ApiError::invalid(message).with(json!({ "problems": problems }))
        }
        BacktestFailure::Failed(error) => ApiError::internal(&error, request),
    }
}

/// Runs `plan` over `prepared`: the `result` object of the answer (a sweep answers its best
/// `top` points).
fn run(prepared: &Prepared, plan: Plan, top: usize) -> Result<Value, BacktestFailure> {
    let value = match plan {
        Plan::Single => serde_json::to_value(prepared.run()?),
        Plan::WalkForward(plan, spec) => serde_json::to_value(prepared.walk_forward(&plan, spec)?),
        Plan::Sweep(plan) => Ok(json!({
            "names": plan.grid.names,
            "combinations": plan.grid.points.len(),
            "skipped": plan.grid.skipped,
            "rank_by": plan.rank_by,
            "top": prepared.best(&plan, &prepared.settings, top),
        })),
    };
    value.map_err(|e| BacktestFailure::Failed(e.into()))
}

#[utoipa::path(
    post,
    path = "/api/backtests",
    operation_id = "start_backtest",
    tag = "backtests",
    summary = "Run a backtest (or a parameter sweep) over the database's candles",
    description = "The same inputs as `barter backtest` (unknown fields are refused). With \
        `sweep` the best combinations are returned instead of one result; with `sweep` and \
        `walk_forward`, the walk-forward. The request is checked first (422 listing every \
        problem, rule errors with line and column); then the backtest runs, and the call \
        answers 200 with the result when it finishes within the server's job wait, else 202 \
        with the id to follow at `/api/backtests/{id}`.",
    params(StartQuery),
    request_body(content = BacktestRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Finished while the call waited (`status` `done`).", body = doc::Backtest),
        (status = 202, description = "Still running (`status` `running`); follow `/api/backtests/{id}`.", body = doc::Backtest),
        (status = 400, description = "The body is not JSON, or a bad query parameter.", body = ErrorBody),
        (status = 413, description = "The body is larger than the server accepts.", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "The request is invalid (`invalid`, with `problems`).", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn start(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    query: Result<Query<StartQuery>, QueryRejection>,
    body: Result<Json<BacktestRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let Json(backtest) = body?;
    let top = query.top.unwrap_or(DEFAULT_TOP);
    if !(1..=MAX_TOP).contains(&top) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("top must be between 1 and {MAX_TOP}, got {top}"),
        ));
    }
    let prepared = backtest::prepare(
        &backtest,
        state.config(),
        CandleSource::Store(state.store()),
    )
    .await
    .map_err(|e| failure(e, &request))?;
    let plan = backtest::plan(&backtest, &prepared).map_err(|e| failure(e, &request))?;
    let id = state.inner.backtests.start();
    let mut task = {
        let state = state.clone();
        let request = request.clone();
        tokio::task::spawn_blocking(move || {
            let entry = match run(&prepared, plan, top) {
                Ok(result) => Entry::Done(result),
                Err(error) => Entry::failed(failure(error, &request)),
            };
            state.inner.backtests.finish(id, entry.clone());
            entry
        })
    };
    let wait = state.inner.options.wait(query.wait);
    // `?wait=false` answers 202 whatever the timing: a zero timeout would still poll the task
    // once, and a quick backtest may already be done by then.
    if wait.is_zero() {
        return Ok((StatusCode::ACCEPTED, Json(Entry::Running.body(id))).into_response());
    }
    let entry = match tokio::time::timeout(wait, &mut task).await {
        Err(_) => Entry::Running,
        Ok(Ok(entry)) => entry,
        Ok(Err(join)) => {
            let error = ApiError::internal(&anyhow::Error::new(join), &request);
            let entry = Entry::Failed {
                status: error.status,
                code: error.code,
                message: error.message.clone(),
                extra: json!({}),
            };
            state.inner.backtests.finish(id, entry);
            return Err(error.with(json!({ "backtest_id": id })));
        }
    };
    match entry {
        Entry::Running => Ok((StatusCode::ACCEPTED, Json(entry.body(id))).into_response()),
        Entry::Done(_) => Ok(Json(entry.body(id)).into_response()),
        Entry::Failed {
            status,
            code,
            message,
            extra,
        } => {
            let mut extra = extra;
            if let Some(fields) = extra.as_object_mut() {
                fields.insert("backtest_id".to_owned(), json!(id));
            }
            Err(ApiError::new(status, code, message).with(extra))
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/backtests/{id}",
    operation_id = "get_backtest",
    tag = "backtests",
    summary = "A backtest started by `POST /api/backtests`",
    description = "Its status (`running`, `done` with `result`, `failed` with `error`). Only the \
        last 50 backtests of the running server are kept.",
    params(("id" = u64, Path, description = "The backtest id.")),
    responses(
        (status = 200, description = "The backtest.", body = doc::Backtest),
        (status = 400, description = "The id is not a number.", body = ErrorBody),
        (status = 404, description = "No such backtest (or it was dropped).", body = ErrorBody),
    ),
)]
async fn status(
    State(state): State<AppState>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let entry = state.inner.backtests.get(id).ok_or_else(|| {
        ApiError::not_found(format!(
            "no backtest {id}: unknown, or older than the last {KEEP}"
        ))
    })?;
    Ok(Json(entry.body(id)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_keeps_the_last_finished_and_every_running_backtest() {
        let registry = Registry::default();
        let running = registry.start();
        for _ in 0..KEEP + 10 {
            let id = registry.start();
            registry.finish(id, Entry::Done(json!({})));
        }
        assert!(matches!(registry.get(running), Some(Entry::Running)));
        assert!(registry.get(2).is_none(), "the oldest finished is dropped");
        let last = registry.inner.lock().expect("lock").last_id;
        assert!(matches!(registry.get(last), Some(Entry::Done(_))));
        assert_eq!(registry.inner.lock().expect("lock").entries.len(), KEEP);
    }
}
