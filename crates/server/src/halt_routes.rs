//! The kill switch over HTTP: `GET /api/halt` says whether new entries are halted, `POST
//! /api/halt` halts them (optionally saying why), `POST /api/resume` allows them again. The
//! state lives in the database, so every server and CLI sharing it obeys at once.

use axum::extract::{FromRequest, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::params::Text;
use crate::schema as doc;
use crate::state::{AppState, RequestId};

/// The kill switch's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/halt", get(state_of_halt).post(halt))
        .route("/resume", post(resume))
}

/// The body of `POST /api/halt` (optional: no body halts without a reason).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HaltBody {
    /// Why, kept with the halt and in the history.
    #[schema(example = "exchange incident")]
    reason: Option<Text<{ barter_service::halt::MAX_REASON_CHARS }>>,
}

#[utoipa::path(
    get,
    path = "/api/halt",
    operation_id = "trading_halt",
    tag = "trading",
    summary = "Whether new entries are halted",
    responses(
        (status = 200, description = "The kill switch's state.", body = doc::TradingHalt),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn state_of_halt(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
) -> Result<Response, ApiError> {
    let halt = state
        .store()
        .trading_halt()
        .await
        .map_err(|e| ApiError::internal(&anyhow::Error::new(e), &request))?;
    Ok(Json(halt).into_response())
}

#[utoipa::path(
    post,
    path = "/api/halt",
    operation_id = "halt",
    tag = "trading",
    summary = "Halt new entries for every process sharing the database (exits continue)",
    request_body(content = Option<HaltBody>, content_type = "application/json", description = "Optional: no body halts without a reason.",
        example = json!({"reason": "exchange incident"})),
    responses(
        (status = 200, description = "Halted (halting twice keeps the first reason).", body = doc::TradingHalt),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 413, description = "The body is larger than the server accepts.", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "An unknown field, or a reason over 500 characters.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn halt(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    http: Request,
) -> Result<Response, ApiError> {
    // No body at all (curl -X POST) halts without a reason; any body must be the JSON object.
    let headers = http.headers();
    let has_body = headers.contains_key(header::CONTENT_TYPE)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0");
    let body = if has_body {
        // `null` is "no body" written out.
        let Json(value) = Json::<serde_json::Value>::from_request(http, &state).await?;
        crate::error::object_body::<Option<HaltBody>>(value)?.unwrap_or_default()
    } else {
        HaltBody::default()
    };
    let reason = body.reason.as_ref().map(|r| r.0.as_str());
    let halt = barter_service::halt::halt(state.store(), reason, "api", Utc::now())
        .await
        .map_err(|e| ApiError::internal(&e, &request))?;
    Ok(Json(halt).into_response())
}

#[utoipa::path(
    post,
    path = "/api/resume",
    operation_id = "resume",
    tag = "trading",
    summary = "Allow new entries again",
    responses(
        (status = 200, description = "New entries allowed (resuming twice changes nothing).", body = doc::TradingHalt),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn resume(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
) -> Result<Response, ApiError> {
    let halt = barter_service::halt::resume(state.store(), "api", Utc::now())
        .await
        .map_err(|e| ApiError::internal(&e, &request))?;
    Ok(Json(halt).into_response())
}
