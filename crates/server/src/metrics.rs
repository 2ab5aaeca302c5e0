//! `GET /metrics` in Prometheus text format: runs by kind and status with their durations,
//! candles synced, HTTP requests by route and status (counted as they happen), and open
//! positions and equity (read from the database at each scrape).

use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use barter_core::{Money, Run, RunReport};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use rust_decimal::prelude::ToPrimitive;

use crate::error::ApiError;
use crate::state::{AppState, RequestId};
use barter_service::views;

/// The process's recorder: metrics are process-wide, so every server in the process (tests
/// start several) shares one.
fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 15.0, 60.0, 300.0, 900.0];
            let builder = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .map_err(|e| tracing::warn!("metrics buckets: {e}"))
                .ok()?;
            builder
                .install_recorder()
                .map_err(|e| tracing::warn!("metrics are off: {e}"))
                .ok()
        })
        .as_ref()
}

/// Installs the recorder (once per process), so counting starts before the first scrape.
pub(super) fn install() {
    let _ = handle();
}

/// Counts finished runs, their durations and the candles they synced.
pub fn record_runs(runs: &[Run]) {
    for run in runs {
        let kind = run.kind.as_str();
        let status = run.status.as_str();
        metrics::counter!("barter_runs_total", "kind" => kind, "status" => status).increment(1);
        if let Some(finished) = run.finished_at {
            let seconds = (finished - run.started_at).as_seconds_f64().max(0.0);
            metrics::histogram!("barter_run_duration_seconds", "kind" => kind).record(seconds);
        }
        if let Some(RunReport::SyncData(items)) = &run.report {
            let candles: u64 = items.iter().map(|i| i.added + i.updated).sum();
            metrics::counter!("barter_candles_synced_total").increment(candles);
        }
    }
}

/// Counts every request by route template (not the raw path, which would explode the labels),
/// method and status.
pub(super) async fn count_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        "barter_http_requests_total",
        "route" => route, "method" => method, "status" => status
    )
    .increment(1);
    response
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    summary = "Prometheus metrics (needs the token)",
    description = "Runs by kind and status, run durations, candles synced, HTTP requests by \
        route and status, open positions, cash and equity, in Prometheus text format.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text format.", content_type = "text/plain", body = String),
        (status = 401, description = "No bearer token, or the wrong one.", body = crate::error::ErrorBody),
    ),
)]
pub(super) async fn scrape(
    State(state): State<AppState>,
    axum::Extension(RequestId(request)): axum::Extension<RequestId>,
) -> Result<Response, ApiError> {
    let Some(handle) = handle() else {
        return Err(ApiError::internal(
            &anyhow::anyhow!("the metrics recorder could not be installed"),
            &request,
        ));
    };
    let initial = Money(state.config().account.initial_cash);
    let account = views::account(state.store(), initial)
        .await
        .map_err(|e| ApiError::internal(&e, &request))?;
    metrics::gauge!("barter_open_positions").set(account.open_positions as f64);
    metrics::gauge!("barter_equity").set(account.equity.0.to_f64().unwrap_or(f64::NAN));
    metrics::gauge!("barter_cash").set(account.cash.0.to_f64().unwrap_or(f64::NAN));
    handle.run_upkeep();
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response())
}
