//! Dashboard sessions over the API: `POST /api/sessions/sign_out_everywhere` ends every
//! signed-in browser's session on every server sharing the database (the same as the
//! dashboard's "Sign out everywhere" and `barter sessions sign-out-everywhere`), e.g. after a
//! laptop was lost or the API token was changed.

use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router, extract::State};
use serde_json::json;

use crate::error::{ApiError, ErrorBody};
use crate::schema as doc;
use crate::state::{AppState, RequestId};

/// The session routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/sessions/sign_out_everywhere", post(sign_out_everywhere))
}

#[utoipa::path(
    post,
    path = "/api/sessions/sign_out_everywhere",
    operation_id = "sign_out_everywhere",
    tag = "sessions",
    summary = "End every dashboard session (sign every browser out)",
    responses(
        (status = 200, description = "Every session ended; signed-in browsers land on the sign-in page at their next request.", body = doc::SignedOutEverywhere),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
pub(crate) async fn sign_out_everywhere(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
) -> Result<Response, ApiError> {
    let ended = state.sessions().remove_all().await.map_err(|e| {
        ApiError::internal(
            &anyhow::Error::new(e).context("end every dashboard session"),
            &request,
        )
    })?;
    tracing::warn!("signed out everywhere through the API: {ended} session(s) ended");
    Ok(Json(json!({ "ended": ended })).into_response())
}
