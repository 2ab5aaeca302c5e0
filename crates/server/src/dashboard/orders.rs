//! The orders page (`/orders`): the orders sent (or to be sent) to venues, newest first, with
//! their state, venue ids, fills, average price and fees; `?open=1` keeps the ones not final.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use barter_core::Side;
use barter_core::order::OrderState;
use barter_service::views::{OrderView, orders};
use barter_store::OrderFilter;
use serde::Deserialize;

use super::format;
use super::page::{Chrome, PageError, render};
use super::session::Session;
use crate::state::AppState;

/// The most orders the page lists.
const SHOWN: u32 = 200;

/// The orders route.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/orders", get(page))
}

/// The page's filter.
#[derive(Debug, Default, Deserialize)]
pub(super) struct OrdersQuery {
    /// `1` (or `true`) for the orders not final yet.
    open: Option<String>,
}

/// An order as the page lists it.
pub(super) struct OrderRow {
    pub id: String,
    pub account: String,
    pub strategy: String,
    pub symbol: String,
    pub day: String,
    pub side: &'static str,
    pub amount: String,
    pub state: &'static str,
    pub state_class: &'static str,
    pub filled: String,
    pub average_price: String,
    pub fees: String,
    pub fills: usize,
    pub client_order_id: String,
    pub venue_order_id: String,
    pub reason: String,
    /// The venue fill against the paper model's for the same decision (`–` for paper orders).
    pub shadow: String,
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    chrome: Chrome,
    open_only: bool,
    rows: Vec<OrderRow>,
    shown: u32,
}

/// `GET /orders`.
async fn page(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    query: Result<Query<OrdersQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    // A malformed query shows every order rather than an error: it only filters.
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let open_only = matches!(query.open.as_deref(), Some("1" | "true" | "on"));
    let filter = OrderFilter {
        account: None,
        open_only,
        limit: SHOWN,
    };
    let rows = orders(state.store(), &filter)
        .await?
        .iter()
        .map(row)
        .collect();
    let page = OrdersPage {
        chrome: Chrome::new(&state, &session, "orders", "Orders"),
        open_only,
        rows,
        shown: SHOWN,
    };
    render(StatusCode::OK, &page)
}

/// One row of the table.
fn row(view: &OrderView) -> OrderRow {
    let r = &view.record;
    // Fees per asset: a buy on Binance pays in the bought coin (or BNB), a sell in the quote.
    let mut fees: BTreeMap<&str, rust_decimal::Decimal> = BTreeMap::new();
    for fill in &r.fills {
        let total = fees.entry(fill.fee_asset.as_str()).or_default();
        *total = total.saturating_add(fill.fee);
    }
    let fees = fees
        .iter()
        .filter(|(_, fee)| !fee.is_zero())
        .map(|(asset, fee)| format!("{} {asset}", format::quantity(*fee)))
        .collect::<Vec<_>>()
        .join(", ");
    OrderRow {
        id: r.id.map(|id| id.to_string()).unwrap_or_default(),
        account: r.account.clone(),
        strategy: r.decision.strategy.clone(),
        symbol: r.decision.symbol.to_string(),
        day: format::day(r.decision.day),
        side: match r.decision.side {
            Side::Buy => "buy",
            Side::Sell => "sell",
        },
        amount: r.amount.to_string(),
        state: r.state.as_str(),
        state_class: state_class(r.state),
        filled: format::quantity(view.filled_quantity.0),
        average_price: view
            .average_price
            .map_or_else(|| "–".to_owned(), |p| format::price(p.0)),
        fees: if fees.is_empty() {
            "–".to_owned()
        } else {
            fees
        },
        fills: r.fills.len(),
        client_order_id: r.client_order_id.to_string(),
        venue_order_id: r.venue_order_id.clone().unwrap_or_else(|| "–".to_owned()),
        reason: r.reason.clone().unwrap_or_default(),
        shadow: view.shadow.as_ref().map_or_else(
            || "–".to_owned(),
            |shadow| {
                format!(
                    "{} bps vs {} (cost {:+})",
                    shadow
                        .slippage_bps
                        .map_or_else(|| "–".to_owned(), |b| format!("{b:+}")),
                    format::price(shadow.fill.shadow_price.0),
                    shadow
                        .cost_difference
                        .map_or(rust_decimal::Decimal::ZERO, |c| c.0)
                )
            },
        ),
    }
}

/// The badge class of an order state: good, needs a look, or bad.
fn state_class(state: OrderState) -> &'static str {
    match state {
        OrderState::Filled => "ok",
        OrderState::Rejected | OrderState::Expired | OrderState::Unknown => "bad",
        _ => "warn",
    }
}
