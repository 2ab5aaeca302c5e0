//! The overview page (`/`): the status block (the report of `barter status`), the account's
//! equity over time, cash and P&L, the open positions, the last runs and the next scheduled
//! one, and buttons that start the jobs.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use barter_core::Money;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::currency::Currencies;
use super::format;
use super::page::{Chrome, PageError, render};
use super::session::Session;
use crate::state::AppState;
use barter_service::status::{
    self, AttentionKind, Severity, StatusOptions, StatusReport, VENUE_WAIT,
};
use barter_service::views::Ledger;

/// The overview route, and the kill switch's buttons on it.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(overview))
        .route("/halt", post(halt))
        .route("/resume", post(resume))
}

/// The kill switch as the overview shows it.
pub(super) struct HaltView {
    /// Whether new entries are halted.
    pub halted: bool,
    /// One line saying so, with since when, by whom and why.
    pub line: String,
}

/// The halt form's fields (besides the CSRF token the guard checks).
#[derive(Debug, Deserialize)]
pub(super) struct HaltForm {
    #[serde(default)]
    reason: String,
}

/// `POST /halt`: halts new entries, then back to the overview.
async fn halt(
    State(state): State<AppState>,
    Form(form): Form<HaltForm>,
) -> Result<Response, PageError> {
    let reason = Some(form.reason.trim()).filter(|r| !r.is_empty());
    barter_service::halt::check_reason(reason)
        .map_err(|e| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    barter_service::halt::halt(state.store(), reason, "dashboard", Utc::now()).await?;
    Ok(Redirect::to("/").into_response())
}

/// `POST /resume`: lets new entries through again, then back to the overview.
async fn resume(State(state): State<AppState>) -> Result<Response, PageError> {
    barter_service::halt::resume(state.store(), "dashboard", Utc::now()).await?;
    Ok(Redirect::to("/").into_response())
}

/// An open position as the overview lists it.
pub(super) struct OpenRow {
    pub id: i64,
    pub symbol: String,
    pub strategy: String,
    pub opened: String,
    pub quantity: String,
    pub entry_price: String,
    pub mark: String,
    pub pnl: String,
    pub pnl_class: &'static str,
}

/// A run as the overview lists it.
pub(super) struct RunRow {
    pub id: i64,
    pub kind: String,
    pub started: String,
    pub status: String,
    pub status_class: &'static str,
    pub errors: Vec<String>,
}

/// The account's figures, formatted.
pub(super) struct Figures {
    pub cash: String,
    pub equity: String,
    pub holdings: String,
    pub unrealized: String,
    pub unrealized_class: &'static str,
    pub realized: String,
    pub realized_class: &'static str,
    pub open: usize,
    pub closed: usize,
}

/// One account on the overview (paper and the venue accounts).
pub(super) struct AccountRow {
    pub name: String,
    pub venue: String,
    pub mode: &'static str,
    pub cash: String,
    pub open: usize,
    pub drift: String,
    pub drift_class: &'static str,
}

/// The accounts card: empty (no card) when only paper trades; else every account of the
/// status report with its cash and drift, as `barter accounts` shows them (the report waited
/// at most [`VENUE_WAIT`] for each venue).
fn account_rows(state: &AppState, report: &StatusReport) -> Vec<AccountRow> {
    if state.config().accounts.is_empty() {
        return Vec::new();
    }
    if let Some(item) = report
        .attention
        .iter()
        .find(|i| i.kind == AttentionKind::StrategiesInvalid)
    {
        return vec![error_row(item.message.clone())];
    }
    report
        .accounts
        .iter()
        .map(|r| {
            let (drift, drift_class) = match (&r.error, r.drift.len()) {
                (Some(error), _) => (format!("cannot read: {error}"), "loss"),
                (None, 0) => ("reconciled".to_owned(), "gain"),
                (None, n) => (
                    r.drift
                        .iter()
                        .map(|d| format!("{} {:+}", d.asset, d.difference))
                        .collect::<Vec<_>>()
                        .join(", ")
                        + &format!(" ({n} asset(s))"),
                    "loss",
                ),
            };
            AccountRow {
                name: r.name.clone(),
                venue: r.venue.clone(),
                mode: if r.live { "LIVE" } else { "test" },
                cash: barter_service::reconcile::cash_line(r),
                open: r.open_positions,
                drift,
                drift_class,
            }
        })
        .collect()
}

/// One job's last run in the status block.
pub(super) struct JobLine {
    pub job: &'static str,
    pub outcome: String,
    pub class: &'static str,
    pub when: String,
}

/// One attention item in the status block.
pub(super) struct AttentionLine {
    pub kind: String,
    pub severity: &'static str,
    pub class: &'static str,
    pub message: String,
}

/// The status block at the top of the overview: the same report as `barter status`.
pub(super) struct StatusView {
    pub healthy: bool,
    pub headline: String,
    pub class: &'static str,
    pub jobs: Vec<JobLine>,
    pub instruments: String,
    pub positions: String,
    pub items: Vec<AttentionLine>,
}

impl StatusView {
    fn of(report: &StatusReport) -> Self {
        let jobs = report
            .jobs
            .iter()
            .map(|j| match &j.last_run {
                None => JobLine {
                    job: j.job.as_str(),
                    outcome: "never ran".to_owned(),
                    class: "warn",
                    when: String::new(),
                },
                Some(run) => JobLine {
                    job: j.job.as_str(),
                    outcome: run.status.as_str().to_owned(),
                    class: status_class(run.status.as_str()),
                    when: format!(
                        "#{} {} ({})",
                        run.id,
                        format::time(run.started_at),
                        status::ago(run.ago_secs)
                    ),
                },
            })
            .collect();
        let i = &report.instruments;
        let p = &report.positions;
        let per_strategy: Vec<String> = p
            .by_strategy
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        let items = report
            .attention
            .iter()
            .map(|item| AttentionLine {
                kind: serde_json::to_value(item.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                severity: item.severity.as_str(),
                class: match item.severity {
                    Severity::Critical => "bad",
                    Severity::Warning => "warn",
                },
                message: item.message.clone(),
            })
            .collect();
        Self {
            healthy: report.healthy,
            headline: if report.healthy {
                "healthy".to_owned()
            } else {
                format!("{} item(s) need attention", report.attention.len())
            },
            class: if report.healthy { "ok" } else { "bad" },
            jobs,
            instruments: format!(
                "{} active, {} current, {} need attention",
                i.active,
                i.current,
                i.attention.len()
            ),
            positions: if per_strategy.is_empty() {
                p.open.to_string()
            } else {
                format!("{} ({})", p.open, per_strategy.join(", "))
            },
            items,
        }
    }
}

fn error_row(message: String) -> AccountRow {
    AccountRow {
        name: "-".to_owned(),
        venue: "-".to_owned(),
        mode: "-",
        cash: "-".to_owned(),
        open: 0,
        drift: message,
        drift_class: "loss",
    }
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    status: StatusView,
    accounts: Vec<AccountRow>,
    chrome: Chrome,
    currency: String,
    has_instruments: bool,
    figures: Figures,
    positions: Vec<OpenRow>,
    runs: Vec<RunRow>,
    next_run: Option<String>,
    equity_json: String,
    halt: HaltView,
}

/// `GET /`: the overview.
async fn overview(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Response, PageError> {
    let store = state.store();
    let initial = Money(state.config().account.initial_cash);
    let currencies = Currencies::of_store(store).await?;
    let currency = currencies.account();
    let has_instruments = !currencies.is_empty();
    let ledger = Ledger::load(store, initial).await?;
    let account = ledger.account();
    let open = ledger.open_positions();
    let curve = ledger.equity_curve(store).await?;
    let runs = store.runs(10).await?;
    // Waits at most `VENUE_WAIT` for each venue account (the Accounts card reuses it).
    let report = status::status(
        state.config(),
        store,
        Utc::now(),
        StatusOptions {
            venue_wait: VENUE_WAIT,
        },
    )
    .await?;
    let halt = HaltView {
        halted: report.halt.halted,
        line: barter_service::halt::describe(&report.halt),
    };
    let next_run = report
        .schedule
        .next
        .as_ref()
        .map(|next| format!("{} at {}", next.job, format::time(next.at)));

    let figures = Figures {
        cash: format::money(account.cash.0, &currency),
        equity: format::money(account.equity.0, &currency),
        holdings: format::money(account.holdings.0, &currency),
        unrealized: format::signed_money(account.unrealized_pnl.0, &currency),
        unrealized_class: format::sign_class(account.unrealized_pnl.0),
        realized: format::signed_money(account.realized_pnl.0, &currency),
        realized_class: format::sign_class(account.realized_pnl.0),
        open: account.open_positions,
        closed: account.closed_positions,
    };
    let positions = open
        .iter()
        .map(|view| {
            let p = &view.position;
            let pnl = view.unrealized_pnl.map(|m| m.0);
            OpenRow {
                id: p.id.0,
                symbol: p.symbol.to_string(),
                strategy: p.strategy.clone(),
                opened: format::day(p.entry_day),
                quantity: format::quantity(p.quantity.0),
                entry_price: format::price(p.entry_price.0),
                mark: view
                    .mark
                    .map_or_else(|| "no close yet".to_owned(), |m| format::price(m.0)),
                pnl: pnl.map_or_else(|| "n/a".to_owned(), |v| format::signed_money(v, &currency)),
                pnl_class: pnl.map_or("flat", format::sign_class),
            }
        })
        .collect();
    let runs = runs
        .iter()
        .map(|run| RunRow {
            id: run.id.0,
            kind: run.kind.as_str().to_owned(),
            started: format::time(run.started_at),
            status: run.status.as_str().to_owned(),
            status_class: status_class(run.status.as_str()),
            errors: run.errors.clone(),
        })
        .collect();
    let equity_json = json!({
        "equity": curve
            .iter()
            .map(|p| json!({ "time": format::day(p.day), "value": format::chart_number(p.equity.0) }))
            .collect::<Vec<_>>(),
    })
    .to_string();
    let page = OverviewPage {
        status: StatusView::of(&report),
        accounts: account_rows(&state, &report),
        chrome: Chrome::new(&state, &session, "overview", "Overview"),
        currency,
        has_instruments,
        figures,
        positions,
        runs,
        next_run,
        equity_json: format::script_json(&equity_json),
        halt,
    };
    render(StatusCode::OK, &page)
}

/// The badge class of a run status.
pub(super) fn status_class(status: &str) -> &'static str {
    match status {
        "succeeded" => "ok",
        "failed" | "interrupted" => "bad",
        _ => "warn",
    }
}
