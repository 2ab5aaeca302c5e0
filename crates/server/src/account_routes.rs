//! The accounts strategies trade through: `GET /api/accounts` shows each one's venue, mode,
//! cash, holdings and drift against the ledger (the same report as `barter reconcile`).
//!
//! Each request reads every venue account's balances from its venue, so answers are at most
//! as fresh as the venues allow; the venue adapters pace their requests.

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router, extract::State};
use barter_service::reconcile::reconcile;
use barter_service::trading::Trading;

use crate::error::{ApiError, ErrorBody};
use crate::schema as doc;
use crate::state::{AppState, RequestId};

/// The account routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/accounts", get(list))
}

#[utoipa::path(
    get,
    path = "/api/accounts",
    operation_id = "list_accounts",
    tag = "trading",
    summary = "Each account: venue, mode, cash, holdings and drift against the ledger",
    responses(
        (status = 200, description = "The paper account, then each venue account strategies trade through.", body = Vec<doc::Account>),
        (status = 409, description = "The configured strategies cannot run, e.g. they name an instrument that is not registered (`strategies_invalid`).", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
) -> Result<Response, ApiError> {
    let internal = |e: anyhow::Error| crate::api::failure(e, &request);
    let trading = Trading::for_store(state.config(), state.store())
        .await
        .map_err(internal)?;
    let reports = reconcile(state.store(), &trading).await.map_err(internal)?;
    Ok(Json(reports).into_response())
}
