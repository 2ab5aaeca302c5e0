//! The orders sent (or to be sent) to venues: `GET /api/orders` lists them newest first,
//! filtered by account and openness; `GET /api/orders/{id}` shows one with its fills.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use barter_core::order::OrderId;
use barter_service::views::{OrderView, orders};
use barter_store::OrderFilter;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, ErrorBody};
use crate::params::{Bounded, Text};
use crate::schema as doc;
use crate::state::{AppState, RequestId};

/// The most orders one answer lists.
pub(crate) const MAX_LIMIT: u32 = 1_000;

/// The order routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/orders", get(list))
        .route("/orders/{id}", get(one))
}

/// The filters of `GET /api/orders`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct OrdersQuery {
    /// Only this account's orders.
    account: Option<Text<100>>,
    /// Only orders not final yet (planned, submitted, accepted, partially filled, unknown).
    open: Option<bool>,
    /// How many, newest first (default 100).
    limit: Option<Bounded<1, { MAX_LIMIT }>>,
}

#[utoipa::path(
    get,
    path = "/api/orders",
    operation_id = "list_orders",
    tag = "trading",
    summary = "Orders sent (or to be sent) to venues, newest first",
    params(OrdersQuery),
    responses(
        (status = 200, description = "The orders with their fills.", body = Vec<doc::Order>,
            links(("GetOrder" = (operation_id = "get_order", parameters(("id" = "$response.body#/0/id")),
                description = "The newest order.")))),
        (status = 400, description = "A query parameter is not valid.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn list(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    query: Result<Query<OrdersQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let limit = query.limit.map_or(100, |l| l.0);
    let filter = OrderFilter {
        account: query.account.map(|a| a.0),
        open_only: query.open.unwrap_or(false),
        limit,
    };
    let views = orders(state.store(), &filter)
        .await
        .map_err(|e| ApiError::internal(&anyhow::Error::new(e), &request))?;
    Ok(Json(views).into_response())
}

#[utoipa::path(
    get,
    path = "/api/orders/{id}",
    operation_id = "get_order",
    tag = "trading",
    summary = "One order with its fills",
    params(("id" = i64, Path, description = "The order id.")),
    responses(
        (status = 200, description = "The order.", body = doc::Order),
        (status = 400, description = "The id is not an integer.", body = ErrorBody),
        (status = 404, description = "No such order.", body = ErrorBody),
        (status = 500, description = "Internal error.", body = ErrorBody),
    ),
)]
async fn one(
    State(state): State<AppState>,
    Extension(RequestId(request)): Extension<RequestId>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id?;
    let order = state
        .store()
        .order(OrderId(id))
        .await
        .map_err(|e| ApiError::internal(&anyhow::Error::new(e), &request))?
        .ok_or_else(|| ApiError::not_found(format!("no order {id}")))?;
    Ok(Json(OrderView::of(&order)).into_response())
}
