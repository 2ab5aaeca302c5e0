//! Notifications in the server: the background task that delivers the outbox (every
//! [`DELIVERY_EVERY`], and at once after each job), `GET /api/notifications` (each channel's
//! state and the recent deliveries) and `POST /api/notifications/test`.
//!
//! Delivery runs beside the jobs, never inside them: a job route answers when its job is done,
//! whatever the channels do.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use barter_service::notify::Notifier;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::params::{Bounded, Text};
use crate::schema as doc;
use crate::state::{AppState, RequestId};

/// How often the background task looks for notifications due.
pub(crate) const DELIVERY_EVERY: Duration = Duration::from_secs(20);
/// How long one background pass may send.
const PASS_BUDGET: Duration = Duration::from_secs(30);
/// The most deliveries one answer lists.
const MAX_LIMIT: u32 = 1_000;

/// The notification routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(list))
        .route("/notifications/test", post(test))
}

/// Starts the delivery task (none without channels): a pass every [`DELIVERY_EVERY`] or when a
/// job finished; after a job, failing channels are also recorded in the history of its run.
pub(crate) fn spawn(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    let notifier: Arc<Notifier> = state.inner.notifier.clone();
    if notifier.is_empty() {
        return None;
    }
    for problem in notifier.unusable() {
        tracing::warn!("{problem}");
    }
    let state = state.clone();
    Some(tokio::spawn(async move {
        loop {
            let woken = tokio::time::timeout(DELIVERY_EVERY, state.inner.job_done.notified())
                .await
                .is_ok();
            let store = state.store();
            if woken {
                let run = store
                    .runs(1)
                    .await
                    .ok()
                    .and_then(|r| r.first().map(|r| r.id));
                let (_, failing) = notifier.after_job(store, run, PASS_BUDGET).await;
                for problem in failing {
                    tracing::warn!("{problem}");
                }
            } else if let Err(error) = notifier.deliver(store, Utc::now(), PASS_BUDGET).await {
                tracing::warn!("notifications could not be delivered: {error:#}");
            }
        }
    }))
}

/// The filters of `GET /api/notifications`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct NotificationsQuery {
    /// Only this channel's deliveries.
    channel: Option<Text<32>>,
    /// How many deliveries, newest first (default 50).
    limit: Option<Bounded<1, { MAX_LIMIT }>>,
}

/// `GET /api/notifications`.
#[derive(Serialize)]
struct Listing {
    channels: Vec<barter_store::notifications::ChannelHealth>,
    unusable: Vec<String>,
    deliveries: Vec<barter_store::notifications::DeliveryRecord>,
}

#[utoipa::path(
    get,
    path = "/api/notifications",
    operation_id = "list_notifications",
    tag = "notifications",
    summary = "Each notification channel's state and the recent deliveries, newest first",
    params(NotificationsQuery),
    responses(
        (status = 200, description = "Channels and deliveries.", body = doc::Notifications),
        (status = 400, description = "A query parameter is not valid.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    query: Result<Query<NotificationsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let limit = query.limit.map_or(50, |l| l.0);
    let internal = |e: anyhow::Error| ApiError::internal(&e, &request);
    let notifier = &state.inner.notifier;
    let channels = notifier.health(state.store()).await.map_err(internal)?;
    let deliveries = state
        .store()
        .deliveries(query.channel.as_ref().map(|c| c.0.as_str()), limit)
        .await
        .map_err(|e| internal(e.into()))?;
    Ok(Json(Listing {
        channels,
        unusable: notifier.unusable().to_vec(),
        deliveries,
    })
    .into_response())
}

/// The body of `POST /api/notifications/test` (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestBody {
    /// Only this channel (default: every channel).
    #[schema(example = "ops")]
    channel: Option<Text<32>>,
}

#[utoipa::path(
    post,
    path = "/api/notifications/test",
    operation_id = "test_notifications",
    tag = "notifications",
    summary = "Send a test message to every channel (or one) and say what each answered",
    request_body(content = TestBody, content_type = "application/json", example = json!({"channel": "ops"})),
    responses(
        (status = 200, description = "What each channel answered.", body = Vec<doc::NotificationTest>),
        (status = 400, description = "The body is not JSON.", body = ErrorBody),
        (status = 404, description = "No usable channel of that name.", body = ErrorBody),
        (status = 413, description = "The body is larger than the server accepts.", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "An unknown field.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
pub(crate) async fn test(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let body: TestBody = crate::error::object_body(body)?;
    let notifier = &state.inner.notifier;
    if let Some(Text(name)) = &body.channel
        && !notifier.channel_names().contains(&name.as_str())
    {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no usable notification channel `{}` (usable: {})",
                name.chars().take(32).collect::<String>().escape_debug(),
                notifier.channel_names().join(", ")
            ),
        ));
    }
    let outcomes = notifier
        .test(
            state.store(),
            body.channel.as_ref().map(|c| c.0.as_str()),
            Utc::now(),
        )
        .await
        .map_err(|e| ApiError::internal(&e, &request))?;
    Ok(Json(outcomes).into_response())
}
