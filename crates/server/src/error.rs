//! The API's errors: every failure is `{"error": {"code": ..., "message": ...}}` with its status.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use barter_service::data_files::CsvRefusalKind;
use barter_service::instruments::RegisterError;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// An API error: an HTTP status, a stable code for programs and a message for people.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code, e.g. `not_found`.
    pub code: &'static str,
    /// What went wrong and what to do.
    pub message: String,
    /// Extra fields merged into the error object (e.g. the running run's id).
    pub extra: serde_json::Value,
}

/// The body of every error answer (the shape [`ApiError`] writes), for the OpenAPI description.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The `error` object of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code: `bad_request`, `unauthorized`, `not_found`, `duplicate`,
    /// `in_use`, `job_running`, `too_large`, `unsupported_media_type`, `invalid`, `internal`;
    /// `csrf` (a dashboard session's change without its CSRF token) and `cross_site` (a change
    /// sent by a page of another site), both 403.
    #[schema(example = "not_found")]
    pub code: String,
    /// What went wrong and what to do.
    #[schema(example = "no instrument BTC is registered")]
    pub message: String,
    /// Only with `job_running` (409): the running job's first run id, `null` until it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
    /// Only with `invalid` (422) from `POST /api/backtests`: every problem of the request, rule
    /// errors with their line, column and byte span.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<barter_service::backtest::RequestProblem>>,
    /// Only from `POST /api/backtests` once the backtest has an id: that id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backtest_id: Option<u64>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            extra: json!({}),
        }
    }

    /// 404 for a missing thing.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 422 for a request that parses but names something invalid.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    /// 500 that reveals nothing of `error`: it is logged with `request` so the operator finds it.
    pub fn internal(error: &anyhow::Error, request: &str) -> Self {
        tracing::error!(request_id = request, "internal error: {error:#}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("internal error; the server log has the details under request id {request}"),
        )
    }

    /// The same error with `extra` fields in its error object.
    pub fn with(mut self, extra: serde_json::Value) -> Self {
        self.extra = extra;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let (Some(error), Some(extra)) = (error.as_object_mut(), self.extra.as_object()) {
            error.extend(extra.clone());
        }
        // An error may quote what a file, a source or the database said: never a secret.
        barter_store::secrets::redact_json(&mut error);
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"barter\""),
            );
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid",
            _ => "bad_request",
        };
        // axum's text names the field and the problem, e.g. "missing field `symbol`".
        Self::new(status, code, rejection.body_text())
    }
}

/// Reads a JSON body as `T` only when it is an object (or `null`, for an optional body): serde's
/// derived structs also take an array of their fields in order, which no body the API
/// describes is.
///
/// # Errors
/// 422 `invalid`, naming what is wrong (the field, as axum's own rejection would).
pub fn object_body<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, ApiError> {
    if !(value.is_object() || value.is_null()) {
        return Err(ApiError::invalid("the body must be a JSON object"));
    }
    from_json_value(value).map_err(|e| {
        ApiError::invalid(format!(
            "Failed to deserialize the JSON body into the target type: {e}"
        ))
    })
}

/// `value` as `T`, an error naming the path of the field at fault (`reason: …`, as axum's `Json`
/// does), not only the problem.
///
/// # Errors
/// The field's path and what is wrong with it.
pub fn from_json_value<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, serde_path_to_error::Error<serde_json::Error>> {
    serde_path_to_error::deserialize(value)
}

impl From<RegisterError> for ApiError {
    /// What the request names and is not here (a CSV file, a sample series) is 404, a file it
    /// may not read 403, and anything else about the request 422.
    fn from(error: RegisterError) -> Self {
        let message = error.to_string();
        match &error {
            RegisterError::NoSample(_) => Self::not_found(message),
            RegisterError::Csv(refusal) => match refusal.kind {
                CsvRefusalKind::Unusable => Self::not_found(message),
                CsvRefusalKind::Forbidden => Self::new(StatusCode::FORBIDDEN, "forbidden", message),
                CsvRefusalKind::Malformed => Self::invalid(message),
            },
            RegisterError::Invalid(_) | RegisterError::Instrument(_) => Self::invalid(message),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            rejection.body_text(),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            rejection.body_text(),
        )
    }
}
