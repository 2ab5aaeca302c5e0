//! `GET /api/status`: health at a glance, the same report as `barter status` (see
//! [`barter_service::status`]). Each venue account's balances are waited for at most 5 s, so
//! the answer stays quick for a monitoring check; an unreachable venue is an attention item.
//! `/healthz` stays the bare liveness check.

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router, extract::State};
use barter_service::status::{StatusOptions, status};
use chrono::Utc;

use crate::error::{ApiError, ErrorBody};
use crate::schema as doc;
use crate::state::{AppState, RequestId};

/// The status route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/status", get(report))
}

#[utoipa::path(
    get,
    path = "/api/status",
    operation_id = "status",
    tag = "health",
    summary = "Health at a glance: last runs, stale instruments, positions, accounts, halt, schedule, what needs attention",
    description = "`healthy` is false when `attention` lists anything (what `barter status` \
        exits 1 for). New attention kinds may be added: treat an unknown `kind` by its \
        `severity`.",
    responses(
        (status = 200, description = "The status report.", body = doc::StatusReport),
        (status = 500, description = "The database cannot be read.", body = ErrorBody),
    ),
)]
pub(crate) async fn report(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
) -> Result<Response, ApiError> {
    let report = status(
        state.config(),
        state.store(),
        Utc::now(),
        StatusOptions::default(),
    )
    .await
    .map_err(|e| ApiError::internal(&e, &request))?;
    Ok(Json(report).into_response())
}
