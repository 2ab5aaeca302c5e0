//! The position page: `/positions/{id}` explains one position: the strategy's rules, the
//! decisions that opened and closed it with the values that decided them, and its fills.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use barter_core::{ExitReason, Fill, PositionId, Side};
use barter_store::trading::{DecisionKind, DecisionOutcome, DecisionRecord};
use serde_json::Value;

use super::currency::Currencies;
use super::format;
use super::history::{compact, detail_pairs};
use super::page::{Chrome, PageError, render};
use super::positions::{percent, return_of};
use super::session::Session;
use super::strategies::{RuleSettings, rule_settings};
use crate::state::AppState;
use barter_service::views::{self, PositionView};

/// The position route.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/positions/{id}", get(explain))
}

/// A labelled figure of the position.
struct Figure {
    label: &'static str,
    value: String,
    class: &'static str,
    id: &'static str,
}

/// A decision as the explanation shows it.
struct DecisionView {
    id: i64,
    kind: &'static str,
    day: String,
    outcome: String,
    outcome_class: &'static str,
    recorded: String,
    run: Option<i64>,
    reason: String,
    exit_reason: Option<String>,
    /// (part of the rule, its value).
    values: Vec<(String, String)>,
    /// The rest of the detail, readable.
    extra: Vec<(String, String)>,
}

/// A fill as the explanation shows it.
struct FillRow {
    day: String,
    side: &'static str,
    price: String,
    basis: String,
    quantity: String,
    gross: String,
    fee: String,
    cash: String,
    cash_class: &'static str,
}

#[derive(Template)]
#[template(path = "position.html")]
struct PositionPage {
    chrome: Chrome,
    id: i64,
    symbol: String,
    strategy: String,
    status: &'static str,
    status_class: &'static str,
    currency: String,
    figures: Vec<Figure>,
    rules: Option<RuleSettings>,
    decisions: Vec<DecisionView>,
    fills: Vec<FillRow>,
}

fn outcome_label(outcome: DecisionOutcome) -> (String, &'static str) {
    let class = match outcome {
        DecisionOutcome::Passed => "ok",
        DecisionOutcome::Failed | DecisionOutcome::Refused => "bad",
        DecisionOutcome::NotReady | DecisionOutcome::Skipped => "warn",
    };
    (outcome.as_str().replace('_', " "), class)
}

fn decision_view(d: &DecisionRecord) -> DecisionView {
    let (outcome, outcome_class) = outcome_label(d.outcome);
    let detail = &d.detail;
    let reason = detail
        .get("explanation")
        .and_then(Value::as_str)
        .map_or_else(|| "(no explanation was recorded)".to_owned(), str::to_owned);
    let exit_reason = detail.get("reason").map(|r| {
        serde_json::from_value::<ExitReason>(r.clone())
            .map_or_else(|_| compact(r), |r| format::exit_reason(r).to_owned())
    });
    let values = detail
        .get("values")
        .and_then(Value::as_object)
        .map(|values| {
            values
                .iter()
                .map(|(name, value)| {
                    let shown = value
                        .as_f64()
                        .map_or_else(|| compact(value), format::rule_value);
                    // A risk exit records the price level the close crossed as `level`.
                    let name = if d.kind == DecisionKind::Exit && name == "level" {
                        "level (the risk exit's price)".to_owned()
                    } else {
                        name.clone()
                    };
                    (name, shown)
                })
                .collect()
        })
        .unwrap_or_default();
    // What the page shows elsewhere (the position itself) is left out of the rest.
    let extra = detail_pairs(detail, &["explanation", "values", "reason", "position"]);
    DecisionView {
        id: d.id,
        kind: match d.kind {
            DecisionKind::Entry => "Entry",
            DecisionKind::Exit => "Exit",
        },
        day: format::day(d.day),
        outcome,
        outcome_class,
        recorded: format::time(d.recorded_at),
        run: d.run.map(|r| r.0),
        reason,
        exit_reason,
        values,
        extra,
    }
}

fn fill_row(fill: &Fill, currency: &str) -> FillRow {
    let cash = fill.cash_delta().0;
    let basis = fill.basis.as_str().replace('_', " ");
    FillRow {
        day: format::day(fill.day),
        side: match fill.side {
            Side::Buy => "buy",
            Side::Sell => "sell",
        },
        price: format::price(fill.price.0),
        basis,
        quantity: format::quantity(fill.quantity.0),
        gross: format::money(fill.gross.0, currency),
        fee: format::money(fill.fee.0, currency),
        cash: format::signed_money(cash, currency),
        cash_class: format::sign_class(cash),
    }
}

/// `GET /positions/{id}`.
async fn explain(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let missing = || {
        PageError::not_found(format!(
            "There is no position {id}. Pick one from the positions list at /positions."
        ))
    };
    let id: i64 = id.trim().parse().map_err(|_| missing())?;
    let store = state.store();
    let Some(explanation) = views::explanation(store, PositionId(id)).await? else {
        return Err(missing());
    };
    let currencies = Currencies::of_store(state.store()).await?;
    let p = &explanation.position;
    let currency = currencies.of(&p.symbol).to_owned();
    let view = PositionView::of(store, p.clone()).await?;
    let pnl = view.pnl().map(|m| m.0);
    let ret = return_of(&view);
    let mut figures = vec![
        Figure {
            label: "Quantity",
            value: format::quantity(p.quantity.0),
            class: "",
            id: "quantity",
        },
        Figure {
            label: "Opened",
            value: format::day(p.entry_day),
            class: "",
            id: "opened",
        },
        Figure {
            label: "Entry price",
            value: format::price(p.entry_price.0),
            class: "",
            id: "entry-price",
        },
        Figure {
            label: "Entry fee",
            value: format::money(p.entry_fee.0, &currency),
            class: "",
            id: "entry-fee",
        },
        Figure {
            label: "Cost",
            value: format::money(p.cost().0, &currency),
            class: "",
            id: "cost",
        },
    ];
    match &p.exit {
        Some(exit) => figures.extend([
            Figure {
                label: "Closed",
                value: format::day(exit.day),
                class: "",
                id: "closed",
            },
            Figure {
                label: "Exit price",
                value: format::price(exit.price.0),
                class: "",
                id: "exit-price",
            },
            Figure {
                label: "Exit fee",
                value: format::money(exit.fee.0, &currency),
                class: "",
                id: "exit-fee",
            },
            Figure {
                label: "Exit reason",
                value: format::exit_reason(exit.reason).to_owned(),
                class: "",
                id: "exit-reason",
            },
        ]),
        None => figures.push(Figure {
            label: "Latest close",
            value: view.mark.map_or_else(
                || "none yet (sync its data)".to_owned(),
                |m| format::price(m.0),
            ),
            class: "",
            id: "mark",
        }),
    }
    figures.extend([
        Figure {
            label: if p.is_open() {
                "Unrealized P&L"
            } else {
                "Realized P&L"
            },
            value: pnl.map_or_else(|| "n/a".to_owned(), |v| format::signed_money(v, &currency)),
            class: pnl.map_or("flat", format::sign_class),
            id: "pnl",
        },
        Figure {
            label: "Return",
            value: ret.map_or_else(|| "n/a".to_owned(), percent),
            class: ret.map_or("flat", format::sign_class),
            id: "return",
        },
    ]);
    let rules = state
        .config()
        .strategies
        .iter()
        .find(|s| s.name == p.strategy)
        .map(rule_settings);
    let page = PositionPage {
        chrome: Chrome::new(
            &state,
            &session,
            "positions",
            format!("Position {id}: {} by {}", p.symbol, p.strategy),
        ),
        id,
        symbol: p.symbol.to_string(),
        strategy: p.strategy.clone(),
        status: view.status,
        status_class: if p.is_open() { "ok" } else { "warn" },
        figures,
        rules,
        decisions: explanation.decisions.iter().map(decision_view).collect(),
        fills: explanation
            .fills
            .iter()
            .map(|f| fill_row(f, &currency))
            .collect(),
        currency,
    };
    render(StatusCode::OK, &page)
}
