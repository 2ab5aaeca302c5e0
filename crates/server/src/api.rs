//! The read and manage routes: instruments and their candles, runs, positions, history,
//! strategies and the account; and `/healthz`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use barter_core::strategy::build_all;
use barter_core::{Money, PositionId, RunId, Symbol};
use barter_store::StoreError;
use barter_store::trading::{HistoryFilter, PositionStatus};
use chrono::NaiveTime;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use crate::check_body::{CheckBody, CheckRule};
use crate::error::{ApiError, ErrorBody};
use crate::instrument_body::NewInstrumentBody;
use crate::params::{Bounded, DayParam, SymbolParam, Text};
use crate::schema as doc;
use crate::state::{AppState, RequestId};
use barter_service::trading::StrategyProblems;
use barter_service::views;

/// The read and manage routes under `/api` (the root router adds `/api/openapi.json`).
///
/// Every route here and in [`crate::job_routes::routes`] has a `#[utoipa::path]` listed in
/// [`crate::openapi::ApiDoc`]; `tests/openapi.rs` checks that the two agree.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/instruments", get(instruments).post(add_instrument))
        .route("/instruments/{symbol}", delete(remove_instrument))
        .route("/instruments/{symbol}/candles", get(candles))
        .route("/runs", get(runs))
        .route("/runs/{id}", get(run))
        .route("/positions", get(positions))
        .route("/positions/{id}", get(position))
        .route("/history", get(history))
        .route("/strategies", get(strategies))
        .route("/strategies/check", post(check_strategies))
        .route("/account", get(account))
}

/// Turns a store or job failure into the API's answer (see [`failure`]).
trait OrApi<T> {
    /// The value, or the failure as an [`ApiError`] logged under `request`.
    fn or_api(self, request: &str) -> Result<T, ApiError>;
}

impl<T, E: Into<anyhow::Error>> OrApi<T> for Result<T, E> {
    fn or_api(self, request: &str) -> Result<T, ApiError> {
        self.map_err(|e| failure(e.into(), request))
    }
}

/// Maps a store or job error: the ones a caller can fix keep their message, the rest are 500s.
pub(crate) fn failure(error: anyhow::Error, request: &str) -> ApiError {
    if let Some(StrategyProblems(problems)) = error.downcast_ref::<StrategyProblems>() {
        // Not the server's fault nor the request's: the configured strategies do not fit the
        // registered instruments (one was removed, say), which the operator can fix.
        return ApiError::new(
            StatusCode::CONFLICT,
            "strategies_invalid",
            format!(
                "the configured strategies cannot run: {}; fix barter.toml or register the \
                 instruments they name",
                problems.join("; ")
            ),
        );
    }
    match error.downcast_ref::<StoreError>() {
        Some(StoreError::UnknownInstrument(symbol)) => {
            ApiError::not_found(format!("no instrument {symbol} is registered"))
        }
        Some(StoreError::DuplicateInstrument(symbol)) => ApiError::new(
            StatusCode::CONFLICT,
            "duplicate",
            format!("{symbol} is already registered"),
        ),
        Some(StoreError::InstrumentInUse(symbol)) => ApiError::new(
            StatusCode::CONFLICT,
            "in_use",
            format!("{symbol} has positions; it cannot be removed (deactivate it instead)"),
        ),
        Some(StoreError::InvalidInput(problem)) => ApiError::invalid(problem.clone()),
        _ => ApiError::internal(&error, request),
    }
}

/// `GET /healthz`: 200 when the database answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "health",
    summary = "Health check (no token needed)",
    description = "200 when the database answers, 503 when it does not.",
    responses(
        (status = 200, description = "The server and its database answer.", body = doc::Health),
        (status = 503, description = "The database does not answer.", body = doc::Health),
    ),
)]
pub(super) async fn healthz(State(state): State<AppState>) -> Response {
    match state.store().runs(1).await {
        Ok(_) => Json(json!({ "status": "ok" })).into_response(),
        Err(error) => {
            tracing::error!("health check failed: {error:#}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "error": { "code": "database", "message": "the database does not answer" } })),
            )
                .into_response()
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/instruments",
    operation_id = "list_instruments",
    tag = "instruments",
    summary = "List the registered instruments",
    responses(
        (status = 200, description = "Every registered instrument.", body = [doc::Instrument]),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn instruments(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
) -> Result<Response, ApiError> {
    let list = state.store().instruments().await.or_api(&request)?;
    Ok(Json(list).into_response())
}

#[utoipa::path(
    post,
    path = "/api/instruments",
    operation_id = "add_instrument",
    tag = "instruments",
    summary = "Register an instrument",
    request_body(content = NewInstrumentBody, content_type = "application/json",
        example = json!({"symbol": "ETH", "source": "coingecko", "source_id": "ethereum"})),
    responses(
        (status = 201, description = "Registered.", body = doc::Instrument,
            links(
                ("ListCandles" = (operation_id = "list_candles", parameters(("symbol" = "$response.body#/symbol")),
                    description = "Its candles (none until it is synced).")),
                ("RemoveInstrument" = (operation_id = "remove_instrument", parameters(("symbol" = "$response.body#/symbol")),
                    description = "Remove it again.")),
            )),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 403, description = "The CSV file is outside the server's CSV data folder, or a system file (`forbidden`).", body = ErrorBody),
        (status = 404, description = "The CSV file does not exist or is not a regular file, or the bundled sample has no series of that id (`not_found`).", body = ErrorBody),
        (status = 409, description = "The symbol is already registered (`duplicate`).", body = ErrorBody),
        (status = 413, description = "The body is larger than the server accepts.", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "A field is missing, unknown or invalid.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn add_instrument(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    body: Result<Json<NewInstrumentBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(NewInstrumentBody(args)) = body?;
    let root = state.config().csv_root();
    let csv = barter_service::data_files::CsvAccess::Under(&root);
    let instrument = args.build(csv)?;
    state
        .store()
        .add_instrument(&instrument)
        .await
        .or_api(&request)?;
    state.inner.cache.clear();
    Ok((StatusCode::CREATED, Json(instrument)).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/instruments/{symbol}",
    operation_id = "remove_instrument",
    tag = "instruments",
    summary = "Remove an instrument and its candles",
    params(("symbol" = SymbolParam, Path, description = "The instrument symbol, e.g. `BTC`.")),
    responses(
        (status = 200, description = "Removed.", body = doc::RemovedInstrument),
        (status = 400, description = "The symbol is not a valid symbol.", body = ErrorBody),
        (status = 404, description = "No such instrument.", body = ErrorBody),
        (status = 409, description = "It has positions (`in_use`); deactivate it instead.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn remove_instrument(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    symbol: Result<Path<SymbolParam>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    let Path(SymbolParam(symbol)) = symbol?;
    let candles = state
        .store()
        .remove_instrument(&symbol)
        .await
        .or_api(&request)?;
    state.inner.cache.clear();
    Ok(Json(json!({ "removed": symbol, "candles_deleted": candles })).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Range {
    /// The first day, inclusive.
    from: Option<DayParam>,
    /// The last day, inclusive (before `from`: no candle).
    to: Option<DayParam>,
}

#[utoipa::path(
    get,
    path = "/api/instruments/{symbol}/candles",
    operation_id = "list_candles",
    tag = "instruments",
    summary = "An instrument's daily candles",
    params(("symbol" = SymbolParam, Path, description = "The instrument symbol, e.g. `BTC`."), Range),
    responses(
        (status = 200, description = "The candles in the range, oldest first.", body = [doc::Candle]),
        (status = 400, description = "A bad symbol or day.", body = ErrorBody),
        (status = 404, description = "No such instrument.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn candles(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    symbol: Result<Path<SymbolParam>, axum::extract::rejection::PathRejection>,
    range: Result<Query<Range>, QueryRejection>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let (Path(SymbolParam(symbol)), Query(range)) = (symbol?, range?);
    let (from, to) = (range.from.map(|d| d.0), range.to.map(|d| d.0));
    let store = state.store();
    let compute = || async {
        if store.instrument(&symbol).await.or_api(&request)?.is_none() {
            return Err(ApiError::not_found(format!(
                "no instrument {symbol} is registered"
            )));
        }
        // `to` before `from` is a range with no day in it, like any other without candles.
        let candles = match (from, to) {
            (Some(from), Some(to)) if from > to => Vec::new(),
            _ => store.candles(&symbol, from, to).await.or_api(&request)?,
        };
        serde_json::to_vec(&candles).or_api(&request)
    };
    state
        .inner
        .cache
        .answer(uri.to_string(), &headers, compute)
        .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Limit {
    /// How many runs, newest first (default 20).
    limit: Option<Bounded<1, 1000>>,
}

#[utoipa::path(
    get,
    path = "/api/runs",
    operation_id = "list_runs",
    tag = "runs",
    summary = "The latest job runs",
    params(Limit),
    responses(
        (status = 200, description = "The latest runs, newest first.", body = [doc::Run],
            links(("GetRun" = (operation_id = "get_run", parameters(("id" = "$response.body#/0/id")),
                description = "The newest run.")))),
        (status = 400, description = "A bad query parameter.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn runs(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    query: Result<Query<Limit>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let runs = state
        .store()
        .runs(query.limit.map_or(20, |l| l.0))
        .await
        .or_api(&request)?;
    Ok(Json(runs).into_response())
}

#[utoipa::path(
    get,
    path = "/api/runs/{id}",
    operation_id = "get_run",
    tag = "runs",
    summary = "One run",
    params(("id" = i64, Path, description = "The run id.")),
    responses(
        (status = 200, description = "The run.", body = doc::Run),
        (status = 400, description = "The id is not an integer.", body = ErrorBody),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn run(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    match state.store().run(RunId(id)).await.or_api(&request)? {
        Some(run) => Ok(Json(run).into_response()),
        None => Err(ApiError::not_found(format!("no run {id}"))),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct StatusQuery {
    /// Which positions (default `all`).
    #[param(value_type = Option<doc::PositionFilter>)]
    status: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/positions",
    operation_id = "list_positions",
    tag = "trading",
    summary = "Paper positions with their current value",
    params(StatusQuery),
    responses(
        (status = 200, description = "The positions (position views).", body = [Object],
            links(("GetPosition" = (operation_id = "get_position", parameters(("id" = "$response.body#/0/id")),
                description = "The first position, with why it was opened and closed.")))),
        (status = 400, description = "A bad query parameter.", body = ErrorBody),
        (status = 422, description = "`status` is not open, closed or all.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn positions(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    query: Result<Query<StatusQuery>, QueryRejection>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let status = match query.status.as_deref() {
        None | Some("all") => None,
        Some("open") => Some(PositionStatus::Open),
        Some("closed") => Some(PositionStatus::Closed),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "status `{other}` is not one of open, closed, all"
            )));
        }
    };
    let store = state.store();
    let compute = || async {
        let positions = store.positions(status).await.or_api(&request)?;
        let views = views::positions(store, positions).await.or_api(&request)?;
        serde_json::to_vec(&views).or_api(&request)
    };
    state
        .inner
        .cache
        .answer(uri.to_string(), &headers, compute)
        .await
}

#[utoipa::path(
    get,
    path = "/api/positions/{id}",
    operation_id = "get_position",
    tag = "trading",
    summary = "One position and why it was opened and closed",
    params(("id" = i64, Path, description = "The position id.")),
    responses(
        (status = 200, description = "The position with its explanation.", body = Object),
        (status = 400, description = "The id is not an integer.", body = ErrorBody),
        (status = 404, description = "No such position.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn position(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    match views::explanation(state.store(), PositionId(id))
        .await
        .or_api(&request)?
    {
        Some(explanation) => Ok(Json(explanation).into_response()),
        None => Err(ApiError::not_found(format!("no position {id}"))),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    /// Only entries about this instrument.
    instrument: Option<SymbolParam>,
    /// Only entries about this strategy.
    strategy: Option<Text<100>>,
    /// Only entries recorded on or after this day (UTC).
    since: Option<DayParam>,
    /// The last id of the previous page (`next_before` of the previous answer).
    before: Option<i64>,
    /// Page size (default 100).
    limit: Option<Bounded<1, 1000>>,
}

#[utoipa::path(
    get,
    path = "/api/history",
    operation_id = "history",
    tag = "runs",
    summary = "The append-only history, newest first, a page at a time",
    params(HistoryQuery),
    responses(
        (status = 200, description = "A page of history.", body = doc::HistoryPage),
        (status = 400, description = "A bad query parameter.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn history(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let limit = query.limit.map_or(100, |l| l.0);
    let filter = HistoryFilter {
        symbol: query.instrument.map(|s| s.0),
        strategy: query.strategy.map(|s| s.0),
        since: query.since.map(|d| d.0.and_time(NaiveTime::MIN).and_utc()),
        before_id: query.before,
        limit,
        ..HistoryFilter::default()
    };
    let entries = state
        .store()
        .history_filtered(&filter)
        .await
        .or_api(&request)?;
    // The next page starts before the last entry of this one.
    let next = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(json!({ "entries": entries, "next_before": next })).into_response())
}

#[utoipa::path(
    get,
    path = "/api/strategies",
    operation_id = "list_strategies",
    tag = "strategies",
    summary = "The configured strategies",
    responses(
        (status = 200, description = "The strategy configurations, as in the config file.", body = [Object]),
    ),
)]
async fn strategies(State(state): State<AppState>) -> Response {
    Json(&state.config().strategies).into_response()
}

/// The problems of one rule, each with its position (for an editor to underline).
fn rule_problems(
    source: &str,
    kind: barter_core::rule::RuleKind,
    params: &barter_core::rule::Params,
    known: &[Symbol],
) -> Vec<serde_json::Value> {
    use barter_core::rule::Rule;
    let errors = Rule::check(source, kind, params, known)
        .err()
        .unwrap_or_default();
    errors
        .iter()
        .map(|e| {
            let (line, column) = e.line_column(source);
            json!({
                "strategy": null,
                "field": kind.to_string(),
                "message": e.render(source, "rule"),
                "line": line,
                "column": column,
                "start": e.span.start,
                "end": e.span.end,
                "help": e.help,
            })
        })
        .collect()
}

#[utoipa::path(
    post,
    path = "/api/strategies/check",
    operation_id = "check_strategies",
    tag = "strategies",
    summary = "Check strategies against the registered instruments",
    description = "The body is one strategy configuration, `{\"strategies\": [...]}`, or one \
        rule `{\"rule\": \"...\", \"kind\": \"entry\", \"params\": {...}}`. Answers every \
        problem; rule errors carry line, column and a caret, and for a single rule also their \
        line, column and byte span as fields.",
    request_body(
        content = CheckBody,
        content_type = "application/json",
        description = "One strategy configuration, `{\"strategies\": [...]}`, or one rule.",
        example = json!({"rule": "crosses_above(sma(close, $fast), sma(close, 50))", "kind": "entry", "params": {"fast": 20}}),
    ),
    responses(
        (status = 200, description = "The problems found (none when `ok`).", body = doc::StrategyCheck),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 413, description = "The body is larger than the server accepts.", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "The body is none of the shapes (the error names the field at fault).", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn check_strategies(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    body: Result<Json<CheckBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let known = barter_service::trading::known_symbols(state.store())
        .await
        .or_api(&request)?;
    let configs = match body {
        CheckBody::Many(many) => many.strategies,
        CheckBody::One(one) => vec![*one],
        CheckBody::Rule(CheckRule { rule, kind, params }) => {
            let params = params.unwrap_or_default();
            let kind = kind.unwrap_or_default().into();
            let problems = rule_problems(&rule, kind, &params, &known);
            return Ok(
                Json(json!({ "ok": problems.is_empty(), "problems": problems })).into_response(),
            );
        }
    };
    let problems: Vec<serde_json::Value> = match build_all(&configs, &known) {
        Ok(_) => Vec::new(),
        Err(problems) => problems
            .iter()
            .map(|p| json!({ "strategy": p.strategy, "field": p.field, "message": p.message }))
            .collect(),
    };
    Ok(Json(json!({ "ok": problems.is_empty(), "problems": problems })).into_response())
}

#[utoipa::path(
    get,
    path = "/api/account",
    operation_id = "account",
    tag = "trading",
    summary = "The paper account: cash, equity and profit",
    responses(
        (status = 200, description = "The account view.", body = Object),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn account(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
) -> Result<Response, ApiError> {
    let initial = Money(state.config().account.initial_cash);
    let view = views::account(state.store(), initial)
        .await
        .or_api(&request)?;
    Ok(Json(view).into_response())
}
