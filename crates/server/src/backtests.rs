//! `POST /api/backtests`, `GET /api/backtests/{id}` and `DELETE /api/backtests/{id}`: the same
//! backtests as `barter backtest`, always over the database's candles, run on the blocking pool,
//! and the last results kept in memory.
//!
//! Admission control keeps one caller from taking the server down: at most `[server]
//! backtests_running` run at once and `backtests_queued` wait (more: 429); a sweep has at most
//! [`MAX_COMBINATIONS`] combinations (the CLI has no such cap) and a backtest simulates at most
//! [`MAX_WORK`] instrument-days in all (422 `over_limit`, checked before anything runs). All the
//! work (reading candles, building the grid, running) happens in the backtest's task, so
//! `?wait=false` answers 202 at once. A backtest is cancelled with `DELETE` (and all of them on
//! shutdown): a sweep stops between points.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use barter_core::Day;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::openapi::schema::{AllOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::backtest_registry::{Busy, Cancelled, Entry};
use crate::error::{ApiError, ErrorBody};
use crate::params::Bounded;
use crate::schema as doc;
use crate::state::{AppState, RequestId};
use barter_service::backtest::sweep::server_combinations;
use barter_service::backtest::{
    self, BacktestFailure, BacktestRequest, CandleSource, INLINE_ONLY, Plan, Prepared,
    RequestProblem, WalkForwardSpec,
};

/// How many sweep rows are returned without `?top=`.
const DEFAULT_TOP: usize = 10;

/// The most sweep rows `?top=` may ask for.
const MAX_TOP: u32 = 1000;

/// The most combinations one API sweep runs, as on the dashboard's simulator page.
pub use barter_service::backtest::sweep::SERVER_MAX_COMBINATIONS as MAX_COMBINATIONS;

/// The most instrument-days one backtest simulates: combinations × candle days per instrument
/// (× walk-forward windows, each over its training days). A sweep keeps each indicator series
/// it computes (a few per combination, each as long as the history), so memory grows with
/// this; 50 M is at most a few hundred MB, e.g. 10,000 combinations over 5,000 days.
pub const MAX_WORK: u64 = 50_000_000;

/// What a caller refused as busy is told to wait, in seconds.
const BUSY_RETRY_SECS: u64 = 10;

/// The backtest routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/backtests", post(start))
        .route("/backtests/{id}", get(status).delete(cancel))
}

/// `?wait=false` and `?top=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StartQuery {
    /// `false` answers 202 with the id at once; by default the call waits up to the server's
    /// job wait (`[server] job_wait_secs`) for the result.
    wait: Option<bool>,
    /// For a sweep: how many of the best combinations to return (default 10).
    top: Option<Bounded<1, { MAX_TOP }>>,
}

/// The body of `POST /api/backtests` as the document describes it: [`BacktestRequest`]'s
/// fields, with either strategies named from `barter.toml` or an inline `entry` rule, and the
/// inline strategy's own fields ([`INLINE_ONLY`]) only with the latter: the rule the service
/// applies, from the same list.
pub(crate) struct BacktestBody;

impl PartialSchema for BacktestBody {
    fn schema() -> RefOr<Schema> {
        let null = || ObjectBuilder::new().schema_type(Type::Null).build();
        let mut named = ObjectBuilder::new()
            .description(Some("Strategies from barter.toml, by name."))
            .required("strategies")
            .property(
                "strategies",
                ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(Type::String))
                    .min_items(Some(1)),
            )
            .property("entry", null());
        for field in INLINE_ONLY {
            named = if field == "params" {
                named.property(field, ObjectBuilder::new().max_properties(Some(0)))
            } else {
                named.property(field, null())
            };
        }
        let inline = ObjectBuilder::new()
            .description(Some("An inline strategy: its entry rule and settings."))
            .required("entry")
            .property("entry", ObjectBuilder::new().schema_type(Type::String))
            .property(
                "strategies",
                ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(Type::String))
                    .max_items(Some(0)),
            );
        AllOfBuilder::new()
            .item(Ref::from_schema_name("BacktestRequest"))
            .item(OneOfBuilder::new().item(named).item(inline))
            .into()
    }
}

impl ToSchema for BacktestBody {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("BacktestBody")
    }
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
            // Naming what is not here (a strategy, an instrument's candles) is a 404; a
            // malformed request a 422.
            let error = if problems.iter().all(|p| p.missing) {
                ApiError::not_found(message)
            } else {
                ApiError::invalid(message)
            };
            error.with(json!({ "problems": problems }))
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
        Plan::Across(plan) => Ok(json!({
            "names": plan.sweep.grid.names,
            "combinations": plan.sweep.grid.points.len(),
            "skipped": plan.sweep.grid.skipped,
            "per_instrument": true,
            "instruments": symbols(prepared),
            "backtests": plan.sweep.grid.points.len() * prepared.instruments.len(),
            "rank_by": plan.sweep.rank_by,
            "rank_across": plan.rank_across.name(),
            "top": prepared.sweep_across(&plan, top, false, |_, _, _| {}, |_| {}),
        })),
    };
    value.map_err(|e| BacktestFailure::Failed(e.into()))
}

/// The symbols of `prepared`'s instruments, in the request's order.
fn symbols(prepared: &Prepared) -> Vec<String> {
    prepared
        .instruments
        .iter()
        .map(|i| i.symbol.to_string())
        .collect()
}

/// How to declare an inline rule's parameter `name` in a request: the API's field names.
fn parameter_help(name: &str) -> String {
    format!(
        "give `${name}` a value in `params` (e.g. {{\"{name}\": 10}}) or sweep it in `sweep` \
         (e.g. \"{name}=5..50\")"
    )
}

/// The problem of a backtest larger than the API runs (422 `over_limit`).
fn over_limit(field: &str, message: String) -> ApiError {
    let problem = RequestProblem {
        field: field.to_owned(),
        message: message.clone(),
        line: None,
        column: None,
        span: None,
        rule_message: None,
        rule_help: None,
        unknown_parameter: None,
        missing: false,
    };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "over_limit", message)
        .with(json!({ "problems": [problem] }))
}

/// How many combinations the request's sweep has (1 without one), refused when more than
/// [`MAX_COMBINATIONS`] (see [`server_combinations`]). A sweep across instruments
/// (`per_instrument`) runs each combination once per instrument, so its combinations ×
/// instruments are held to the same limit.
fn combinations(request: &BacktestRequest) -> Result<usize, ApiError> {
    let combinations = server_combinations(&request.sweep, &request.constraints).map_err(|n| {
        over_limit(
            "sweep",
            format!(
                "{n} combinations are more than the API runs ({MAX_COMBINATIONS}): use larger \
                 steps, fewer values or constraints, or run the sweep with `barter backtest \
                 --param`"
            ),
        )
    })?;
    if request.per_instrument {
        across_limit(combinations, request.instruments.len())?;
    }
    Ok(combinations)
}

/// Refuses a sweep across instruments of more than [`MAX_COMBINATIONS`] backtests
/// (combinations × instruments).
fn across_limit(combinations: usize, instruments: usize) -> Result<(), ApiError> {
    let backtests = combinations.saturating_mul(instruments);
    if backtests > MAX_COMBINATIONS {
        return Err(over_limit(
            "per_instrument",
            format!(
                "{combinations} combinations × {instruments} instruments are {backtests} \
                 backtests, more than the API runs ({MAX_COMBINATIONS}): sweep fewer values or \
                 fewer instruments, or run it with `barter backtest --per-instrument`"
            ),
        ));
    }
    Ok(())
}

/// The instrument-days a backtest simulates: `combinations` × the candle days of each
/// instrument (`days`), or for a walk-forward, each window's training days; refused above
/// [`MAX_WORK`].
fn check_work(
    combinations: usize,
    days: &[u64],
    walk_forward: Option<WalkForwardSpec>,
) -> Result<u64, ApiError> {
    let per_run: u64 = match walk_forward {
        None => days.iter().sum(),
        Some(spec) => {
            let longest = days.iter().copied().max().unwrap_or(0);
            let window = u64::from(spec.train) + u64::from(spec.test);
            let windows = longest.saturating_sub(window) / u64::from(spec.step.max(1)) + 1;
            days.iter()
                .map(|d| windows.saturating_mul((*d).min(u64::from(spec.train))))
                .sum()
        }
    };
    let work = per_run.saturating_mul(combinations as u64);
    if work > MAX_WORK {
        return Err(over_limit(
            "sweep",
            format!(
                "this backtest would simulate {combinations} combination(s) over {per_run} \
                 instrument-days, {work} in all, more than the API runs ({MAX_WORK}): sweep \
                 fewer values, fewer instruments or a shorter period, or run it with `barter \
                 backtest`"
            ),
        ));
    }
    Ok(work)
}

/// The candle days of each instrument `request` names within its period, from the candle
/// summaries (no candle is read): an estimate, checked exactly once the candles are loaded.
async fn estimated_days(state: &AppState, request: &BacktestRequest) -> Vec<u64> {
    let mut days = Vec::new();
    for symbol in &request.instruments {
        let Ok(Some(coverage)) = state.store().coverage(symbol).await else {
            continue;
        };
        let first = request
            .from
            .map_or(coverage.first, |d| d.max(coverage.first));
        let last = request.to.map_or(coverage.last, |d| d.min(coverage.last));
        let span = u64::try_from((last - first).num_days() + 1).unwrap_or(0);
        days.push(span.min(coverage.count));
    }
    days
}

/// The candle days of each prepared instrument within the period.
fn prepared_days(prepared: &Prepared) -> Vec<u64> {
    let from = prepared.settings.from.unwrap_or(Day::MIN);
    let view = prepared.data.view(prepared.settings.to.unwrap_or(Day::MAX));
    prepared
        .instruments
        .iter()
        .map(|i| {
            let days = view.days(&i.symbol);
            (days.len() - days.partition_point(|d| *d < from)) as u64
        })
        .collect()
}

/// Reads the candles, plans, checks the size and runs `backtest`: the `result` object.
async fn execute(
    state: &AppState,
    backtest: BacktestRequest,
    top: usize,
    cancel: Arc<AtomicBool>,
    request: &str,
) -> Result<Value, ApiError> {
    let mut prepared = backtest::prepare(
        &backtest,
        state.config(),
        CandleSource::Store(state.store()),
    )
    .await
    .map_err(|e| failure(e.with_parameter_help(&backtest, parameter_help), request))?;
    prepared.cancel = cancel;
    let task = tokio::task::spawn_blocking(move || {
        let plan = backtest::plan(&backtest, &prepared).map_err(Refused::Failure)?;
        let (combinations, spec) = match &plan {
            Plan::Single => (1, None),
            Plan::Sweep(plan) => (plan.grid.points.len(), None),
            Plan::WalkForward(plan, spec) => (plan.grid.points.len(), Some(*spec)),
            Plan::Across(plan) => {
                across_limit(plan.sweep.grid.points.len(), prepared.instruments.len())
                    .map_err(Refused::Limit)?;
                // Each instrument alone over each combination: as many instrument-days as the
                // same sweep over all of them together.
                (plan.sweep.grid.points.len(), None)
            }
        };
        if combinations > MAX_COMBINATIONS {
            return Err(Refused::Limit(over_limit(
                "sweep",
                format!(
                    "{combinations} combinations are more than the API runs ({MAX_COMBINATIONS})"
                ),
            )));
        }
        check_work(combinations, &prepared_days(&prepared), spec).map_err(Refused::Limit)?;
        run(&prepared, plan, top).map_err(Refused::Failure)
    });
    match task.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(Refused::Limit(error))) => Err(error),
        Ok(Err(Refused::Failure(failed))) => Err(failure(failed, request)),
        Err(join) => Err(ApiError::internal(&anyhow::Error::new(join), request)),
    }
}

/// Why a backtest's blocking part did not produce a result.
enum Refused {
    /// The request's problems, or a failure.
    Failure(BacktestFailure),
    /// Larger than the API runs.
    Limit(ApiError),
}

/// The task of backtest `id`: waits for a slot, runs, and records how it ended.
async fn task(
    state: AppState,
    id: u64,
    cancel: Arc<AtomicBool>,
    backtest: BacktestRequest,
    top: usize,
    request: String,
) -> Entry {
    let registry = &state.inner.backtests;
    let slot = Arc::clone(&registry.slots).acquire_owned().await;
    let cancelled = || cancel.load(Ordering::Relaxed);
    let entry = if cancelled() {
        Entry::Cancelled
    } else {
        registry.started(id);
        let outcome = execute(&state, backtest, top, Arc::clone(&cancel), &request).await;
        match outcome {
            // A cancelled sweep's result is incomplete, whatever it says.
            _ if cancelled() => Entry::Cancelled,
            Ok(result) => Entry::Done(result),
            Err(error) => Entry::failed(error),
        }
    };
    drop(slot);
    registry.finish(id, entry.clone());
    entry
}

#[utoipa::path(
    post,
    path = "/api/backtests",
    operation_id = "start_backtest",
    tag = "backtests",
    summary = "Run a backtest (or a parameter sweep) over the database's candles",
    description = "The same inputs as `barter backtest` (unknown fields are refused). With `sweep` \
        the best combinations are returned instead of one result; with `sweep` and `walk_forward`, \
        the walk-forward. With `sweep` and `per_instrument`, each combination is backtested on \
        each instrument alone and the best are ranked by the `median` (or, with `rank_across`, the \
        `worst`) of `rank_by` across the instruments, each with its aggregate and every \
        instrument's exact statistics (see `AcrossRow`); its combinations × instruments count \
        against the combination limit. A sweep has at most 10,000 combinations and a backtest \
        simulates at most 50,000,000 instrument-days (combinations × candle days per instrument), \
        else 422 `over_limit`. At most `[server] backtests_running` backtests run at once and \
        `backtests_queued` wait; more are refused with 429 `busy` and `Retry-After`. The call \
        answers 200 with the result when it finishes within the server's job wait, the request's \
        problems with 422 (`invalid`, rule errors with line and column), else 202 with the id to \
        follow at `/api/backtests/{id}`; with `?wait=false` it answers 202 at once.",
    params(StartQuery),
    request_body(content = BacktestBody, content_type = "application/json",
        example = json!({"entry": "crosses_above(sma(close, $fast), sma(close, 50))", "exit": "crosses_below(sma(close, 20), sma(close, 50))",
            "instruments": ["BTC"], "sweep": ["fast=5..20:5"], "rank_by": "sharpe"})),
    responses(
        (status = 200, description = "Finished while the call waited (`status` `done`).", body = doc::Backtest,
            links(("GetBacktest" = (operation_id = "get_backtest", parameters(("id" = "$response.body#/id")),
                description = "The backtest again (kept in the server's memory for a while).")))),
        (status = 202, description = "Queued or running (`status` `queued` or `running`); follow `/api/backtests/{id}`.", body = doc::Backtest,
            links(
                ("GetBacktest" = (operation_id = "get_backtest", parameters(("id" = "$response.body#/id")),
                    description = "Poll it until `status` is `done`, `failed` or `cancelled`.")),
                ("CancelBacktest" = (operation_id = "cancel_backtest", parameters(("id" = "$response.body#/id")),
                    description = "Stop it.")),
            )),
        (status = 400, description = "The body is not JSON, or a bad query parameter.", body = ErrorBody),
        (status = 413, description = "The body is larger than the server accepts.", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ErrorBody),
        (status = 404, description = "The request names what is not here: a strategy missing from barter.toml, an instrument without candles (`not_found`, with `problems`).", body = ErrorBody),
        (status = 422, description = "The request is invalid (`invalid`, with `problems`: a rule or range that does not parse carries its line and column), or larger than the API runs (`over_limit`).", body = ErrorBody),
        (status = 429, description = "Too many backtests running and queued (`busy`); retry after `Retry-After` seconds.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn start(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    query: Result<Query<StartQuery>, QueryRejection>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let Json(body) = body?;
    let backtest: BacktestRequest = crate::error::object_body(body)?;
    let top = query.top.map_or(DEFAULT_TOP, Bounded::get);
    // The size is checked before anything is admitted or read; the exact check follows once
    // the candles are loaded.
    let combinations = combinations(&backtest)?;
    let walk_forward = backtest
        .walk_forward
        .as_deref()
        .and_then(|spec| spec.parse::<WalkForwardSpec>().ok());
    check_work(
        combinations,
        &estimated_days(&state, &backtest).await,
        walk_forward,
    )?;
    let registry = &state.inner.backtests;
    let (id, cancel) = match registry.admit() {
        Ok(admitted) => admitted,
        Err(Busy(active)) => {
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "busy",
                format!(
                    "the server has {active} backtests running or queued, as many as it takes \
                     ({} at once, {} waiting); try again later, or run it with `barter backtest`",
                    registry.running, registry.queued
                ),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(BUSY_RETRY_SECS));
            return Ok(response);
        }
    };
    let mut task = tokio::spawn(task(
        state.clone(),
        id,
        cancel,
        backtest,
        top,
        request.clone(),
    ));
    let wait = state.inner.options.wait(query.wait);
    // `?wait=false` answers 202 whatever the timing: a zero timeout would still poll the task
    // once, and a quick backtest may already be done by then.
    if wait.is_zero() {
        let entry = registry.get(id).unwrap_or(Entry::Queued);
        return Ok((StatusCode::ACCEPTED, Json(entry.body(id))).into_response());
    }
    let entry = match tokio::time::timeout(wait, &mut task).await {
        Err(_) => registry.get(id).unwrap_or(Entry::Running),
        Ok(Ok(entry)) => entry,
        Ok(Err(join)) => {
            let error = ApiError::internal(&anyhow::Error::new(join), &request);
            let entry = Entry::Failed {
                status: error.status,
                code: error.code,
                message: error.message.clone(),
                extra: json!({}),
            };
            registry.finish(id, entry);
            return Err(error.with(json!({ "backtest_id": id })));
        }
    };
    match entry {
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
        // Queued, running, or cancelled meanwhile: follow it under its id.
        other => Ok((StatusCode::ACCEPTED, Json(other.body(id))).into_response()),
    }
}

#[utoipa::path(
    get,
    path = "/api/backtests/{id}",
    operation_id = "get_backtest",
    tag = "backtests",
    summary = "A backtest started by `POST /api/backtests`",
    description = "Its status (`queued`, `running`, `done` with `result`, `failed` with \
        `error`, `cancelled`). Only the last 50 backtests of the running server are kept.",
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
    let entry = state.inner.backtests.get(id).ok_or_else(|| unknown(id))?;
    Ok(Json(entry.body(id)).into_response())
}

/// The 404 of an unknown backtest id.
fn unknown(id: u64) -> ApiError {
    ApiError::not_found(format!(
        "no backtest {id}: unknown, or older than the last {}",
        crate::backtest_registry::KEEP
    ))
}

#[utoipa::path(
    delete,
    path = "/api/backtests/{id}",
    operation_id = "cancel_backtest",
    tag = "backtests",
    summary = "Cancel a queued or running backtest",
    description = "A queued backtest is cancelled at once; a running one stops at its next \
        check (a sweep between combinations) and then reads `cancelled`. Answers 202 with the \
        backtest as it is now; follow `/api/backtests/{id}`.",
    params(("id" = u64, Path, description = "The backtest id.")),
    responses(
        (status = 202, description = "Cancelled, or asked to stop.", body = doc::Backtest),
        (status = 400, description = "The id is not a number.", body = ErrorBody),
        (status = 404, description = "No such backtest (or it was dropped).", body = ErrorBody),
        (status = 409, description = "It has already finished (`finished`).", body = ErrorBody),
    ),
)]
async fn cancel(
    State(state): State<AppState>,
    id: Result<Path<u64>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    match state
        .inner
        .backtests
        .cancel(id)
        .ok_or_else(|| unknown(id))?
    {
        Cancelled::Requested(entry) => {
            Ok((StatusCode::ACCEPTED, Json(entry.body(id))).into_response())
        }
        Cancelled::Finished(entry) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "finished",
            format!(
                "backtest {id} has already finished ({}); there is nothing to cancel",
                entry.name()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_and_work_are_bounded_before_anything_runs() {
        let request = |sweep: &[&str], constraints: &[&str]| BacktestRequest {
            sweep: sweep.iter().map(|s| (*s).to_owned()).collect(),
            constraints: constraints.iter().map(|s| (*s).to_owned()).collect(),
            ..BacktestRequest::default()
        };
        assert_eq!(combinations(&request(&[], &[])).ok(), Some(1));
        assert_eq!(
            combinations(&request(&["fast=5..50", "slow=20..200:5"], &["fast<slow"])).ok(),
            Some(1590)
        );
        // 9.99 M points: refused without building the grid.
        let huge = combinations(&request(&["a=1..9990", "b=1..1000"], &[])).expect_err("refused");
        assert_eq!(huge.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(huge.code, "over_limit");
        assert!(
            huge.message.contains("9990000 combinations"),
            "{}",
            huge.message
        );
        // 20,000 before constraints, 10,000 after them: the constraints count.
        assert!(combinations(&request(&["a=1..200", "b=1..100"], &[])).is_err());
        // Unparseable sweeps are left to the backtest's own checks.
        assert_eq!(combinations(&request(&["nonsense"], &[])).ok(), Some(1));

        // Across instruments, combinations × instruments count: 10,000 on one instrument
        // pass, on two they are refused under `per_instrument`.
        let symbol = |s: &str| barter_core::Symbol::parse(s).expect("symbol");
        let mut across = request(&["a=1..100", "b=1..100"], &[]);
        across.per_instrument = true;
        across.instruments = vec![symbol("BTC")];
        assert_eq!(combinations(&across).ok(), Some(10_000));
        across.instruments.push(symbol("ETH"));
        let error = combinations(&across).expect_err("20,000 backtests");
        assert_eq!(error.code, "over_limit");
        assert!(
            error.message.contains("20000 backtests"),
            "{}",
            error.message
        );
        assert!(across_limit(5_000, 2).is_ok());

        assert_eq!(check_work(1000, &[3650], None).ok(), Some(3_650_000));
        let error = check_work(10_000, &[3650, 3650], None).expect_err("too much");
        assert_eq!(error.code, "over_limit");
        let spec: WalkForwardSpec = "train=730d,test=180d".parse().expect("spec");
        // (3650 - 910) / 180 + 1 = 16 windows of 730 training days.
        assert_eq!(check_work(1, &[3650], Some(spec)).ok(), Some(16 * 730));
    }
}
