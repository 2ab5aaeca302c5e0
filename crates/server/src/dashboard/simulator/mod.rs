//! The simulator page (`/simulator`): a form for a strategy's criteria whose query string is the
//! backtest (so every result has a URL), the result of running it with exactly the backtest code
//! of `barter backtest` and `POST /api/backtests` (statistics, equity and drawdown, trades,
//! price charts with markers; for a sweep, a heatmap and a ranking whose cells open each
//! combination), saving results, and the strategy as a `barter.toml` entry.
//!
//! The form itself is in [`form`], a single result's view in [`results`], a sweep's in
//! [`sweep`]. Validation as you type is `simulator.js` calling `POST /api/strategies/check`.
//!
//! A sweep submitted from the form runs in the background ([`jobs`]): the request answers 303
//! to the sweep's page (`/simulator/sweeps/{id}`), which shows a progress bar (updated from
//! `/simulator/sweeps/{id}/progress` by `simulator.js`, or by a meta refresh without
//! JavaScript), a Cancel button, and once finished the heatmap and ranking.

mod form;
pub(crate) mod jobs;
mod results;
mod sweep;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use askama::Template;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use barter_core::Day;
use barter_core::simulator::Statistics;
use barter_store::StoreError;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::currency::Currencies;
use super::format;
use super::page::{Chrome, PageError, render};
use super::session::Session;
use crate::state::AppState;
use barter_service::backtest::{
    self, BacktestFailure, BacktestRequest, CandleSource, Plan, Prepared, RequestProblem, SweepPlan,
};
use form::{MAX_COMBINATIONS, SimForm, problem, too_many};
use jobs::{Busy, Cancelled, Job, State as JobState};
use results::SingleView;
use sweep::SweepView;

/// How many saved results the page lists.
const SAVED_LIMIT: u32 = 50;

/// How long a page waits for a free backtest slot before saying the server is busy.
const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The simulator routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/simulator", get(simulator))
        .route("/simulator/save", post(save))
        .route("/simulator/saved/{id}/delete", post(delete))
        .route("/simulator/sweeps/{id}", get(sweep_page))
        .route("/simulator/sweeps/{id}/progress", get(sweep_progress))
        .route("/simulator/sweeps/{id}/cancel", post(cancel_sweep))
}

/// What running the form gave: nothing (not asked to run), its problems, or a result.
#[derive(Default)]
struct Evaluation {
    /// The request the form described (when its text was valid).
    request: Option<BacktestRequest>,
    /// Every problem, each against its field.
    problems: Vec<RequestProblem>,
    /// The result.
    outcome: Option<Outcome>,
    /// The first and last day of candles the backtest read (what an open period meant).
    span: Option<(Day, Day)>,
    /// The id of the background sweep it started (its page shows the result).
    started: Option<String>,
}

/// A result and the summary a save keeps of it.
enum Outcome {
    /// One backtest.
    Single(Box<SingleView>, Value),
    /// A parameter sweep.
    Sweep(Box<SweepView>, Value),
}

impl Outcome {
    fn summary(&self) -> &Value {
        match self {
            Self::Single(_, summary) | Self::Sweep(_, summary) => summary,
        }
    }
}

/// Runs `form` when it asks to (`run=1`): builds the request, then prepares, plans and runs it
/// exactly as `POST /api/backtests` does, the run on the blocking pool. With `background`, a
/// sweep is not run here but admitted to the page's background sweeps ([`jobs`]) and its id
/// returned in `started`; without, it runs here as a single backtest does.
async fn evaluate(
    state: &AppState,
    form: &SimForm,
    background: bool,
) -> Result<Evaluation, PageError> {
    if !form.run {
        return Ok(Evaluation::default());
    }
    let request = match form.request() {
        Ok(request) => request,
        Err(problems) => {
            return Ok(Evaluation {
                problems,
                ..Evaluation::default()
            });
        }
    };
    let invalid = |problems| Evaluation {
        request: Some(request.clone()),
        problems,
        ..Evaluation::default()
    };
    let store = state.store();
    let currencies = Currencies::of_store(store).await?;
    let prepared =
        match backtest::prepare(&request, state.config(), CandleSource::Store(store)).await {
            Ok(prepared) => prepared,
            Err(failure) => match failure.with_parameter_help(&request, parameter_help) {
                BacktestFailure::Invalid(problems) => return Ok(invalid(problems)),
                BacktestFailure::Failed(error) => return Err(PageError::internal(&error)),
            },
        };
    let span = candle_span(&prepared);
    // Planning builds the grid (at most the server's limit of points before constraints): on
    // the blocking pool, before a slot is taken, so a sweep can be handed to the background.
    let planned = {
        let request = request.clone();
        tokio::task::spawn_blocking(move || {
            backtest::plan(&request, &prepared).map(|plan| (prepared, plan))
        })
        .await
        .map_err(|e| PageError::internal(&anyhow::Error::new(e)))?
    };
    let (mut prepared, plan) = match planned {
        Ok(planned) => planned,
        Err(BacktestFailure::Invalid(problems)) => return Ok(invalid(problems)),
        Err(BacktestFailure::Failed(error)) => return Err(PageError::internal(&error)),
    };
    match &plan {
        Plan::Sweep(sweep) if sweep.grid.points.len() > MAX_COMBINATIONS => {
            return Ok(invalid(vec![too_many(sweep.grid.points.len())]));
        }
        // Never reached: `SimForm::request` leaves `walk_forward` unset. Refused rather than a
        // panic should that change.
        Plan::WalkForward(..) => {
            return Ok(invalid(vec![problem(
                "walk_forward",
                "the simulator page does not run walk-forward analyses: use \
                 `barter backtest --walk-forward`",
            )]));
        }
        // Never reached either: the page leaves `per_instrument` unset.
        Plan::Across(..) => {
            return Ok(invalid(vec![problem(
                "per_instrument",
                "the simulator page does not run sweeps across instruments: use \
                 `barter backtest --per-instrument` or the API",
            )]));
        }
        _ => {}
    }
    if background && let Plan::Sweep(plan) = plan {
        let jobs = sweep_jobs(state)?;
        let total = plan.grid.points.len();
        let (id, job) =
            jobs.admit(form.clone(), request, span, total)
                .map_err(|Busy(active)| {
                    PageError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        format!(
                            "The server is already running or queueing {active} sweeps, as many \
                         as it takes ({} in all). Wait for one to finish (or cancel one), then \
                         run this again.",
                            jobs.capacity()
                        ),
                    )
                })?;
        prepared.cancel = Arc::clone(&job.cancel);
        tokio::spawn(sweep_task(state.clone(), job, prepared, plan));
        return Ok(Evaluation {
            started: Some(id),
            ..Evaluation::default()
        });
    }
    // A page's backtest takes one of the server's backtest slots, as an API backtest does.
    let slot = tokio::time::timeout(SLOT_WAIT, state.backtest_slots().acquire_owned()).await;
    let Ok(Ok(slot)) = slot else {
        return Err(PageError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "The server is busy with other backtests. Try again in a minute.",
        ));
    };
    let task = {
        let form = form.clone();
        let request = request.clone();
        tokio::task::spawn_blocking(move || -> Result<Outcome, BacktestFailure> {
            let _slot = slot;
            match plan {
                Plan::Sweep(plan) => {
                    let data = sweep::run(&prepared, &plan, &AtomicUsize::new(0));
                    let view = sweep::view(&form, &data);
                    let summary = sweep::summary(&view);
                    Ok(Outcome::Sweep(Box::new(view), summary))
                }
                _ => {
                    let result = prepared.run()?;
                    let view =
                        results::single_view(&form, &request, &prepared, &result, &currencies);
                    let summary = results::single_summary(&result, &view.currency);
                    Ok(Outcome::Single(Box::new(view), summary))
                }
            }
        })
    };
    match task
        .await
        .map_err(|e| PageError::internal(&anyhow::Error::new(e)))?
    {
        Ok(outcome) => Ok(Evaluation {
            request: Some(request),
            outcome: Some(outcome),
            span,
            ..Evaluation::default()
        }),
        Err(BacktestFailure::Invalid(problems)) => Ok(invalid(problems)),
        Err(BacktestFailure::Failed(error)) => Err(PageError::internal(&error)),
    }
}

/// The task of a background sweep: waits for a backtest slot, runs every combination on the
/// blocking pool counting them, and records how it ended. A sweep cancelled while it ran ends
/// `cancelled` whatever it computed: its ranking would be of the points it reached.
async fn sweep_task(state: AppState, job: Arc<Job>, prepared: Prepared, plan: SweepPlan) {
    let Some(jobs) = jobs::of(&state) else {
        tracing::error!("the dashboard's sweep registry is missing");
        return;
    };
    let end = match state.backtest_slots().acquire_owned().await {
        _ if job.cancelled() => JobState::Cancelled,
        Err(closed) => {
            tracing::error!("a dashboard sweep found no backtest slot: {closed}");
            JobState::Failed(FAILED.to_owned())
        }
        Ok(slot) => {
            jobs.started(&job);
            let counter = Arc::clone(&job);
            let run = tokio::task::spawn_blocking(move || {
                let _slot = slot;
                sweep::run(&prepared, &plan, &counter.done)
            })
            .await;
            match run {
                _ if job.cancelled() => JobState::Cancelled,
                Ok(data) => JobState::Done(Arc::new(data)),
                Err(join) => {
                    tracing::error!("a dashboard sweep failed: {join}");
                    JobState::Failed(FAILED.to_owned())
                }
            }
        }
    };
    jobs.finish(&job, end);
}

/// What a sweep that failed on the server says (the log has the details).
const FAILED: &str = "The sweep failed on the server; its log has the details. Run it again, \
                      and if it keeps failing, check the server log.";

/// The first and last day of the candles `prepared` reads within its period.
fn candle_span(prepared: &Prepared) -> Option<(Day, Day)> {
    let settings = &prepared.settings;
    let view = prepared.data.view(settings.to.unwrap_or(Day::MAX));
    let from = settings.from.unwrap_or(Day::MIN);
    let days = prepared.instruments.iter().map(|i| view.days(&i.symbol));
    let first = days
        .clone()
        .filter_map(|d| d.get(d.partition_point(|day| *day < from)))
        .min();
    let last = days.filter_map(<[Day]>::last).max();
    Some((*first?, *last?))
}

/// A checkbox of a registered instrument.
struct InstrumentOption {
    symbol: String,
    name: String,
    checked: bool,
}

/// A saved result as the page lists it.
struct SavedRow {
    id: i64,
    name: String,
    saved_at: String,
    summary: String,
    open: Option<String>,
}

/// One problem in the list above the form: the field's anchor and label, and the message.
struct ProblemItem {
    anchor: String,
    label: String,
    message: String,
}

#[derive(Template)]
#[template(path = "simulator.html")]
struct SimulatorPage {
    chrome: Chrome,
    form: SimForm,
    /// What empty fields mean (shown as placeholders).
    defaults: SimForm,
    instruments: Vec<InstrumentOption>,
    fills: Vec<(&'static str, &'static str, bool)>,
    rank_options: Vec<(&'static str, &'static str, bool)>,
    strategies: Vec<String>,
    strategies_json: String,
    /// Problems per form field (`entry`, `cash`, ...), ready to show under it.
    errors: BTreeMap<String, String>,
    problem_list: Vec<ProblemItem>,
    notice: Option<String>,
    single: Option<Box<SingleView>>,
    sweep: Option<Box<SweepView>>,
    /// The canonical query of this result, for the save form.
    query: String,
    save_name: String,
    save_error: Option<String>,
    saved: Vec<SavedRow>,
    max_combinations: usize,
    /// The background sweep this page follows.
    job: Option<JobView>,
}

/// A background sweep as its page shows it.
struct JobView {
    /// The sweep's id (its page is `/simulator/sweeps/{id}`).
    id: String,
    /// `queued`, `running`, `done`, `failed` or `cancelled`.
    status: &'static str,
    /// Whether it is still queued or running (the page follows it).
    active: bool,
    /// Combinations finished.
    done: usize,
    /// Combinations in all.
    total: usize,
    /// `done` of `total` in whole percent.
    percent: usize,
    /// Why it failed.
    message: String,
}

impl JobView {
    fn of(id: &str, job: &Job, state: &JobState) -> Self {
        let total = job.total;
        let done = job.done.load(Ordering::Relaxed).min(total);
        Self {
            id: id.to_owned(),
            status: state.name(),
            active: state.is_active(),
            done,
            total,
            percent: (done * 100).checked_div(total).unwrap_or(100),
            message: match state {
                JobState::Failed(message) => message.clone(),
                _ => String::new(),
            },
        }
    }
}

impl SimulatorPage {
    /// The problems shown under `field` ("" when none).
    fn error(&self, field: &str) -> &str {
        self.errors.get(field).map_or("", String::as_str)
    }

    /// The statistics' headline figures for the result's summary.
    fn headline(&self) -> Vec<(&str, &str, &'static str)> {
        let Some(single) = &self.single else {
            return Vec::new();
        };
        [
            "return_pct",
            "max_drawdown_pct",
            "sharpe_ratio",
            "trades",
            "equity_final",
        ]
        .iter()
        .filter_map(|key| single.stats.iter().find(|s| s.key == *key))
        .map(|s| (s.label.as_str(), s.value.as_str(), s.class))
        .collect()
    }
}

/// Extra things a page shows besides the form's result.
#[derive(Default)]
struct Extras {
    notice: Option<String>,
    save_name: String,
    save_error: Option<String>,
    /// The background sweep the page follows.
    job: Option<JobView>,
}

/// The form fields problems are shown under, with their labels.
const FIELD_LABELS: [(&str, &str); 19] = [
    ("instruments", "Instruments"),
    ("from", "From"),
    ("to", "To"),
    ("period", "Period"),
    ("entry", "Entry rule"),
    ("exit", "Exit rule"),
    ("stop_loss", "Stop-loss"),
    ("take_profit", "Take-profit"),
    ("trailing_stop", "Trailing stop"),
    ("max_holding_days", "Max holding days"),
    ("cash", "Cash"),
    ("size", "Size"),
    ("fee_bps", "Fee"),
    ("slippage_bps", "Slippage"),
    ("fill", "Fill model"),
    ("params", "Rule parameters"),
    ("sweep", "Parameter ranges"),
    ("constraints", "Constraints"),
    ("rank_by", "Rank by"),
];

/// How to declare an inline rule's parameter `name` on the page: its form fields.
fn parameter_help(name: &str) -> String {
    format!(
        "give `${name}` a value under Rule parameters (e.g. {name}=10) or sweep it under \
         Parameter ranges (e.g. {name}=5..50)"
    )
}

/// The form field a problem of `field` is shown under (`period` and `data` under the last
/// day), and the label the problem list gives it (the field itself when it has none).
fn anchor(field: &str) -> (Option<&'static str>, &str) {
    let known = FIELD_LABELS.iter().find(|(name, _)| *name == field);
    let under = match field {
        "period" | "data" => Some("to"),
        _ => known.map(|(name, _)| *name),
    };
    (under, known.map_or(field, |(_, label)| label))
}

/// A rule problem as the page shows it: the offending line of `source`, a caret line under the
/// span (spaces up to the column), then the rule error's message and help. Problems without a
/// position show their message alone.
fn caret_block(source: &str, problem: &RequestProblem) -> String {
    let (Some(line), Some(column), Some(message)) =
        (problem.line, problem.column, &problem.rule_message)
    else {
        return problem.message.clone();
    };
    let text = source
        .split('\n')
        .nth(line.saturating_sub(1))
        .unwrap_or_default()
        .trim_end_matches('\r');
    let pad: String = text
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let width = problem
        .span
        .and_then(|(start, end)| {
            let line_end = source
                .get(start..)
                .and_then(|rest| rest.find('\n'))
                .map_or(source.len(), |i| start + i);
            source
                .get(start..end.min(line_end))
                .map(|s| s.chars().count())
        })
        .unwrap_or(1)
        .max(1);
    let help = problem
        .rule_help
        .as_ref()
        .map_or_else(String::new, |help| format!("\nhelp: {help}"));
    format!("{text}\n{pad}{}\n{message}{help}", "^".repeat(width))
}

/// Renders the simulator page for `form` with its `evaluation`.
async fn page(
    state: &AppState,
    session: &Session,
    form: SimForm,
    evaluation: Evaluation,
    extras: Extras,
) -> Result<Response, PageError> {
    let store = state.store();
    let config = state.config();
    let instruments = store
        .instruments()
        .await?
        .into_iter()
        .map(|i| InstrumentOption {
            checked: form.instruments.iter().any(|s| s == i.symbol.as_str()),
            symbol: i.symbol.to_string(),
            name: i.name,
        })
        .collect();
    let mut errors: BTreeMap<String, String> = BTreeMap::new();
    let mut problem_list = Vec::new();
    for p in &evaluation.problems {
        let (field, label) = anchor(&p.field);
        let text = match p.field.as_str() {
            "entry" => caret_block(&form.entry, p),
            "exit" => caret_block(&form.exit, p),
            _ => p.message.clone(),
        };
        if let Some(field) = field {
            let shown = errors.entry(field.to_owned()).or_default();
            if !shown.is_empty() {
                shown.push_str("\n\n");
            }
            shown.push_str(&text);
        }
        let message = match (p.line, p.column, &p.rule_message) {
            (Some(line), Some(column), Some(rule_message)) => {
                format!("line {line}, column {column}: {rule_message}")
            }
            _ => p.message.clone(),
        };
        problem_list.push(ProblemItem {
            anchor: field.map_or_else(|| "simulator-form".to_owned(), |f| f.replace('_', "-")),
            label: label.to_owned(),
            message,
        });
    }
    let (single, sweep) = match evaluation.outcome {
        Some(Outcome::Single(view, _)) => (Some(view), None),
        Some(Outcome::Sweep(view, _)) => (None, Some(view)),
        None => (None, None),
    };
    let saved = store
        .saved_backtests(SAVED_LIMIT)
        .await?
        .into_iter()
        .map(|s| SavedRow {
            open: s
                .request
                .get("query")
                .and_then(Value::as_str)
                .map(|q| format!("/simulator?{q}")),
            summary: results::summary_text(&s.summary),
            saved_at: format::time(s.saved_at),
            name: s.name,
            id: s.id,
        })
        .collect();
    // Empty fields mean the defaults; the selects show what that is.
    let defaults = SimForm::defaults(config);
    let or_default = |given: &str, default: &str| {
        if given.trim().is_empty() {
            default.to_owned()
        } else {
            given.to_owned()
        }
    };
    let fill = or_default(&form.fill, &defaults.fill);
    let fills = [("next-open", "Next open"), ("close", "Same close")]
        .into_iter()
        .map(|(value, label)| (value, label, fill == value))
        .collect();
    let rank_by = or_default(&form.rank_by, &defaults.rank_by);
    let rank_options = Statistics::KEYS
        .iter()
        .zip(Statistics::LABELS)
        .map(|(key, label)| (*key, label, rank_by == *key))
        .collect();
    let strategies = config.strategies.iter().map(|s| s.name.clone()).collect();
    let strategies_json = serde_json::to_string(&config.strategies)?;
    let status = if evaluation.problems.is_empty() && extras.save_error.is_none() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = SimulatorPage {
        chrome: Chrome::new(state, session, "simulator", "Simulator"),
        // Shown only with a result, and only a form with `run` set has one.
        query: form.query(),
        form,
        defaults,
        instruments,
        fills,
        rank_options,
        strategies,
        strategies_json: format::script_json(&strategies_json),
        errors,
        problem_list,
        notice: extras.notice,
        single,
        sweep,
        save_name: extras.save_name,
        save_error: extras.save_error,
        saved,
        max_combinations: MAX_COMBINATIONS,
        job: extras.job,
    };
    render(status, &page)
}

/// The pairs of a query string.
fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// `GET /simulator`: the form, and the result when the query asks to run (`run=1`).
async fn simulator(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let pairs = pairs(query.as_deref());
    let form = SimForm::from_pairs(&pairs, state.config());
    let mut notice = None;
    for (key, value) in &pairs {
        match key.as_str() {
            "saved" => {
                if let Ok(id) = value.parse::<i64>()
                    && let Some(saved) = state.store().saved_backtest(id).await?
                {
                    notice = Some(format!(
                        "Saved as “{}”: it is listed under Saved results below.",
                        saved.name
                    ));
                }
            }
            "deleted" => notice = Some("Deleted the saved result.".to_owned()),
            _ => {}
        }
    }
    let evaluation = evaluate(&state, &form, true).await?;
    if let Some(id) = &evaluation.started {
        return Ok(Redirect::to(&format!("/simulator/sweeps/{id}#outcome")).into_response());
    }
    page(
        &state,
        &session,
        form,
        evaluation,
        Extras {
            notice,
            ..Extras::default()
        },
    )
    .await
}

/// The 404 of an unknown (or forgotten) sweep.
/// The server's sweep registry (see [`jobs::of`]), or an internal error page.
fn sweep_jobs(state: &AppState) -> Result<&jobs::SweepJobs, PageError> {
    jobs::of(state).ok_or_else(|| {
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server's sweep registry is missing; restart it.".to_owned(),
        )
    })
}

fn no_sweep() -> PageError {
    PageError::not_found(format!(
        "There is no such sweep: the server keeps the last {} finished sweeps until it restarts. \
         Run it again from the simulator.",
        jobs::KEEP
    ))
}

/// `GET /simulator/sweeps/{id}`: a background sweep's form, its progress and Cancel button
/// while it runs, and once finished its heatmap and ranking (what it had reached is never
/// shown for a cancelled one).
async fn sweep_page(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let Ok(Path(id)) = id else {
        return Err(no_sweep());
    };
    let job = sweep_jobs(&state)?.get(&id).ok_or_else(no_sweep)?;
    let job_state = job.state();
    let outcome = match &job_state {
        JobState::Done(data) => {
            let view = sweep::view(&job.form, data);
            let summary = sweep::summary(&view);
            Some(Outcome::Sweep(Box::new(view), summary))
        }
        _ => None,
    };
    let evaluation = Evaluation {
        request: Some(job.request.clone()),
        outcome,
        span: job.span,
        ..Evaluation::default()
    };
    page(
        &state,
        &session,
        job.form.clone(),
        evaluation,
        Extras {
            job: Some(JobView::of(&id, &job, &job_state)),
            ..Extras::default()
        },
    )
    .await
}

/// `GET /simulator/sweeps/{id}/progress`: `{"status", "done", "total"}` for the page's
/// progress bar.
async fn sweep_progress(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let job = id
        .ok()
        .and_then(|Path(id)| jobs::of(&state).and_then(|jobs| jobs.get(&id)));
    let Some(job) = job else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": { "code": "not_found", "message": no_sweep().message } })),
        )
            .into_response();
    };
    let job_state = job.state();
    let total = job.total;
    Json(json!({
        "status": job_state.name(),
        "done": job.done.load(Ordering::Relaxed).min(total),
        "total": total,
    }))
    .into_response()
}

/// `POST /simulator/sweeps/{id}/cancel`: stops a queued or running sweep (between points),
/// then back to its page, which says it was cancelled (or how it ended, if it was too late).
async fn cancel_sweep(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let Ok(Path(id)) = id else {
        return Err(no_sweep());
    };
    match sweep_jobs(&state)?.cancel(&id).ok_or_else(no_sweep)? {
        Cancelled::Requested | Cancelled::Finished => {
            Ok(Redirect::to(&format!("/simulator/sweeps/{id}#outcome")).into_response())
        }
    }
}

/// The save form: a name and the result's query string.
#[derive(Debug, Deserialize)]
struct SaveForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    query: String,
    /// The background sweep the result came from, whose result is saved as it is.
    #[serde(default)]
    sweep: String,
}

/// `POST /simulator/save`: runs the result's query again and saves its request and headline
/// statistics under a name, then goes back to the result with a notice.
async fn save(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Result<Form<SaveForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(body) = body.map_err(|e| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            format!("The save form was not understood ({e}). Reload the simulator and try again."),
        )
    })?;
    let mut form = SimForm::from_pairs(&pairs(Some(&body.query)), state.config());
    form.run = true;
    let evaluation = match finished_sweep(&state, &body.sweep, &form) {
        Some(evaluation) => evaluation,
        // Not (or no longer) a finished background sweep of this form: run it again here.
        None => evaluate(&state, &form, false).await?,
    };
    let asked = form.clone();
    let refuse = |evaluation, message: String| {
        page(
            &state,
            &session,
            asked.clone(),
            evaluation,
            Extras {
                notice: None,
                save_name: body.name.clone(),
                save_error: Some(message),
                job: None,
            },
        )
    };
    let (Some(request), Some(outcome)) = (&evaluation.request, &evaluation.outcome) else {
        return refuse(
            evaluation,
            "This backtest cannot be saved until it runs: fix the problems shown in the form."
                .to_owned(),
        )
        .await;
    };
    // An open period means "every candle there is": saved, it is pinned to the days this run
    // read, so reopening it later (after more syncs) shows the same result.
    let mut request = request.clone();
    if let Some((first, last)) = evaluation.span {
        if form.from.trim().is_empty() {
            form.from = format::day(first);
            request.from = Some(first);
        }
        if form.to.trim().is_empty() {
            form.to = format::day(last);
            request.to = Some(last);
        }
    }
    let stored = json!({ "query": form.query(), "request": request });
    let name = body.name.trim();
    match state
        .store()
        .save_backtest(name, Utc::now(), &stored, outcome.summary())
        .await
    {
        Ok(saved) => {
            let location = format!("/simulator?{}&saved={}", form.query(), saved.id);
            Ok(Redirect::to(&location).into_response())
        }
        Err(StoreError::InvalidInput(message)) => {
            let message = format!("Not saved: {message}. Give it a name and save again.");
            refuse(evaluation, message).await
        }
        Err(error) => Err(error.into()),
    }
}

/// The result of background sweep `id` when it finished and ran `form`.
fn finished_sweep(state: &AppState, id: &str, form: &SimForm) -> Option<Evaluation> {
    let job = jobs::of(state)?.get(id)?;
    let JobState::Done(data) = job.state() else {
        return None;
    };
    if job.form.query() != form.query() {
        return None;
    }
    let view = sweep::view(&job.form, &data);
    let summary = sweep::summary(&view);
    Some(Evaluation {
        request: Some(job.request.clone()),
        outcome: Some(Outcome::Sweep(Box::new(view), summary)),
        span: job.span,
        ..Evaluation::default()
    })
}

/// `POST /simulator/saved/{id}/delete`: deletes a saved result.
async fn delete(
    State(state): State<AppState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Response, PageError> {
    let missing = || {
        PageError::not_found(
            "There is no such saved result: it may have been deleted already. Go back to the \
             simulator to see the saved results.",
        )
    };
    let Ok(Path(id)) = id else {
        return Err(missing());
    };
    if state.store().delete_saved_backtest(id).await? {
        Ok(Redirect::to("/simulator?deleted=1").into_response())
    } else {
        Err(missing())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caret_sits_under_the_span_on_its_line() {
        let source = "close > 0 and\n  smaa(close, 10) > 1";
        let p = RequestProblem {
            field: "entry".to_owned(),
            message: "error: unknown function `smaa`\n --> entry, line 2, column 3\n  |\n2 |   \
                      smaa(close, 10) > 1\n  |   ^^^^ did you mean `sma`?"
                .to_owned(),
            line: Some(2),
            column: Some(3),
            span: Some((16, 20)),
            rule_message: Some("unknown function `smaa`".to_owned()),
            rule_help: Some("did you mean `sma`?".to_owned()),
            unknown_parameter: None,
            missing: false,
        };
        assert_eq!(
            caret_block(source, &p),
            "  smaa(close, 10) > 1\n  ^^^^\nunknown function `smaa`\nhelp: did you mean `sma`?"
        );
        let plain = RequestProblem {
            line: None,
            column: None,
            span: None,
            ..p
        };
        assert_eq!(caret_block(source, &plain), plain.message);
    }

    #[test]
    fn problems_go_under_their_field() {
        assert_eq!(anchor("entry").0, Some("entry"));
        assert_eq!(anchor("period").0, Some("to"));
        assert_eq!(anchor("fee_bps").0, Some("fee_bps"));
        assert_eq!(anchor("strategies").0, None);
        assert_eq!(anchor("period").1, "Period");
        assert_eq!(anchor("strategies").1, "strategies");
    }
}
