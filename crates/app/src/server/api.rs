//! The read and manage routes: instruments and their candles, runs, positions, history,
//! strategies and the account; and `/healthz`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use barter_core::strategy::{StrategyConfig, build_all};
use barter_core::{Day, Money, PositionId, RunId, Symbol};
use barter_store::StoreError;
use barter_store::trading::{HistoryFilter, PositionStatus};
use chrono::NaiveTime;
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::{AppState, RequestId};
use crate::cli::AddInstrument;
use crate::views;

/// The read and manage routes under `/api`.
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

/// Maps a store or job error: the ones a caller can fix keep their message, the rest are 500s.
fn failure(error: anyhow::Error, request: &str) -> ApiError {
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
        _ => ApiError::internal(&error, request),
    }
}

/// `GET /healthz`: 200 when the database answers.
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

async fn instruments(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
) -> Result<Response, ApiError> {
    let list = state
        .store()
        .instruments()
        .await
        .map_err(|e| failure(e.into(), &request))?;
    Ok(Json(list).into_response())
}

async fn add_instrument(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    body: Result<Json<AddInstrument>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(args) = body?;
    let instrument =
        crate::cli::instrument_from_args(&args).map_err(|e| ApiError::invalid(format!("{e:#}")))?;
    state
        .store()
        .add_instrument(&instrument)
        .await
        .map_err(|e| failure(e.into(), &request))?;
    Ok((StatusCode::CREATED, Json(instrument)).into_response())
}

async fn remove_instrument(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    symbol: Result<Path<Symbol>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    let Path(symbol) = symbol?;
    let candles = state
        .store()
        .remove_instrument(&symbol)
        .await
        .map_err(|e| failure(e.into(), &request))?;
    Ok(Json(json!({ "removed": symbol, "candles_deleted": candles })).into_response())
}

#[derive(Debug, Deserialize)]
struct Range {
    from: Option<Day>,
    to: Option<Day>,
}

async fn candles(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    symbol: Result<Path<Symbol>, axum::extract::rejection::PathRejection>,
    range: Result<Query<Range>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (Path(symbol), Query(range)) = (symbol?, range?);
    let store = state.store();
    if store
        .instrument(&symbol)
        .await
        .map_err(|e| failure(e.into(), &request))?
        .is_none()
    {
        return Err(ApiError::not_found(format!(
            "no instrument {symbol} is registered"
        )));
    }
    let candles = store
        .candles(&symbol, range.from, range.to)
        .await
        .map_err(|e| failure(e.into(), &request))?;
    Ok(Json(candles).into_response())
}

#[derive(Debug, Deserialize)]
struct Limit {
    limit: Option<u32>,
}

async fn runs(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    query: Result<Query<Limit>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let runs = state
        .store()
        .runs(query.limit.unwrap_or(20).min(1_000))
        .await
        .map_err(|e| failure(e.into(), &request))?;
    Ok(Json(runs).into_response())
}

async fn run(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    match state
        .store()
        .run(RunId(id))
        .await
        .map_err(|e| failure(e.into(), &request))?
    {
        Some(run) => Ok(Json(run).into_response()),
        None => Err(ApiError::not_found(format!("no run {id}"))),
    }
}

#[derive(Debug, Deserialize)]
struct StatusQuery {
    status: Option<String>,
}

async fn positions(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    query: Result<Query<StatusQuery>, QueryRejection>,
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
    let positions = store
        .positions(status)
        .await
        .map_err(|e| failure(e.into(), &request))?;
    let views = views::positions(store, positions)
        .await
        .map_err(|e| failure(e, &request))?;
    Ok(Json(views).into_response())
}

async fn position(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    match views::explanation(state.store(), PositionId(id))
        .await
        .map_err(|e| failure(e, &request))?
    {
        Some(explanation) => Ok(Json(explanation).into_response()),
        None => Err(ApiError::not_found(format!("no position {id}"))),
    }
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    instrument: Option<Symbol>,
    strategy: Option<String>,
    since: Option<Day>,
    /// The last id of the previous page.
    before: Option<i64>,
    limit: Option<u32>,
}

async fn history(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1_000).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 1000"));
    }
    let filter = HistoryFilter {
        symbol: query.instrument,
        strategy: query.strategy,
        since: query.since.map(|d| d.and_time(NaiveTime::MIN).and_utc()),
        before_id: query.before,
        limit,
    };
    let entries = state
        .store()
        .history_filtered(&filter)
        .await
        .map_err(|e| failure(e.into(), &request))?;
    // The next page starts before the last entry of this one.
    let next = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(json!({ "entries": entries, "next_before": next })).into_response())
}

async fn strategies(State(state): State<AppState>) -> Response {
    Json(&state.config().strategies).into_response()
}

/// `POST /api/strategies/check`: one strategy or `{"strategies": [...]}`, checked against the
/// registered instruments; answers every problem, rule errors with line, column and caret.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CheckBody {
    Many { strategies: Vec<StrategyConfig> },
    One(Box<StrategyConfig>),
}

async fn check_strategies(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    body: Result<Json<CheckBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let configs = match body {
        CheckBody::Many { strategies } => strategies,
        CheckBody::One(one) => vec![*one],
    };
    let known = crate::trading::known_symbols(state.store())
        .await
        .map_err(|e| failure(e, &request))?;
    let problems: Vec<serde_json::Value> = match build_all(&configs, &known) {
        Ok(_) => Vec::new(),
        Err(problems) => problems
            .iter()
            .map(|p| json!({ "strategy": p.strategy, "field": p.field, "message": p.message }))
            .collect(),
    };
    Ok(Json(json!({ "ok": problems.is_empty(), "problems": problems })).into_response())
}

async fn account(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
) -> Result<Response, ApiError> {
    let initial = Money(state.config().account.initial_cash);
    let view = views::account(state.store(), initial)
        .await
        .map_err(|e| failure(e, &request))?;
    Ok(Json(view).into_response())
}
