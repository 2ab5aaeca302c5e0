//! The instruments list: `/instruments` lists every registered instrument with its stored
//! coverage, gaps and staleness, and adds and removes instruments (the same code as the API and
//! the CLI). The coverage checks are shared with one instrument's page, `/instruments/{symbol}`
//! (the `instrument` module).

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use barter_core::{Calendar, Instrument, InstrumentError, SourceKind, Symbol};
use barter_store::StoreError;
use chrono::Utc;
use serde::Deserialize;

use super::format;
use super::page::{Chrome, PageError, render};
use super::session::Session;
use super::urlencode;
use crate::state::AppState;
use barter_service::instrument_health::Freshness;
use barter_service::instruments::{NewInstrument, RegisterError};

/// The instruments routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/instruments", get(list).post(add))
        .route("/instruments/{symbol}/remove", post(remove))
}

/// How many missing days a gap flag names before "and N more".
const GAP_DAYS_SHOWN: usize = 5;

// ---------------------------------------------------------------------------------------------
// Coverage, gaps and staleness
// ---------------------------------------------------------------------------------------------

/// What is stored of an instrument's candles, and whether that is enough: the service's one
/// judgement of coverage, gaps and staleness (also behind `barter status`).
pub(super) use barter_service::instrument_health::InstrumentHealth as Health;

/// How the instruments pages show an instrument's [`Health`].
pub(super) trait HealthView {
    /// The warnings to show: gaps, staleness, or no data at all.
    fn flags(&self) -> Vec<Flag>;
    /// The first stored day, or a dash.
    fn first_day(&self) -> String;
    /// The last stored day, or a dash.
    fn last_day(&self) -> String;
    /// The last complete day, or a dash.
    fn last_complete_day(&self) -> String;
}

impl HealthView for Health {
    fn flags(&self) -> Vec<Flag> {
        let mut flags = Vec::new();
        if !self.gaps.is_empty() {
            let shown: Vec<String> = self
                .gaps
                .examples
                .iter()
                .take(GAP_DAYS_SHOWN)
                .map(|d| format::day(*d))
                .collect();
            let more = self.gaps.missing.saturating_sub(shown.len() as u64);
            let mut detail = format!("missing {}", shown.join(", "));
            if more > 0 {
                detail.push_str(&format!(" and {more} more"));
            }
            flags.push(Flag {
                kind: "gaps",
                badge: format!(
                    "{} missing day{}",
                    self.gaps.missing,
                    plural(self.gaps.missing)
                ),
                detail,
            });
        }
        match self.last_complete {
            Some(day) if self.freshness() == Freshness::Stale => flags.push(Flag {
                kind: "stale",
                badge: "stale".to_owned(),
                detail: format!(
                    "last complete candle {}, expected {}: run Sync data",
                    format::day(day),
                    format::day(self.expected)
                ),
            }),
            Some(_) => {}
            None => flags.push(Flag {
                kind: "no-data",
                badge: if self.count == 0 {
                    "no candles".to_owned()
                } else {
                    "no complete candle".to_owned()
                },
                detail: "run Sync data on the overview to fetch its history".to_owned(),
            }),
        }
        flags
    }

    fn first_day(&self) -> String {
        self.range
            .map_or_else(dash, |(first, _)| format::day(first))
    }

    fn last_day(&self) -> String {
        self.range.map_or_else(dash, |(_, last)| format::day(last))
    }

    fn last_complete_day(&self) -> String {
        self.last_complete.map_or_else(dash, format::day)
    }
}

/// A warning about an instrument's data, shown as a badge with its detail beside it.
pub(super) struct Flag {
    /// `gaps`, `stale` or `no-data` (a `data-flag` attribute, for tests and styling).
    pub kind: &'static str,
    /// The badge text.
    pub badge: String,
    /// What exactly is wrong and what to do.
    pub detail: String,
}

/// What a cell shows when there is no value.
pub(super) fn dash() -> String {
    "—".to_owned()
}

/// The plural ending for `n` things.
fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

// ---------------------------------------------------------------------------------------------
// The list, the add form and removal
// ---------------------------------------------------------------------------------------------

/// An instrument as the list shows it.
struct InstrumentRow {
    symbol: String,
    name: String,
    source: String,
    source_id: String,
    quote: String,
    calendar: String,
    active: bool,
    first: String,
    last: String,
    last_complete: String,
    count: u64,
    flags: Vec<Flag>,
    /// The confirmation the remove button asks for.
    confirm: String,
}

/// The add form's fields as typed (the `csrf` field is checked by the guard and ignored here).
#[derive(Debug, Clone, Deserialize)]
struct AddForm {
    #[serde(default)]
    symbol: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    source_id: String,
    #[serde(default)]
    quote: String,
    #[serde(default)]
    calendar: String,
}

impl Default for AddForm {
    fn default() -> Self {
        Self {
            symbol: String::new(),
            name: String::new(),
            source: SourceKind::Sample.as_str().to_owned(),
            source_id: String::new(),
            quote: "USD".to_owned(),
            calendar: String::new(),
        }
    }
}

/// A refused field of the add form and why.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldError {
    /// The form field's name.
    field: &'static str,
    /// The message, starting with the field's label.
    message: String,
}

impl FieldError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        let label = match field {
            "symbol" => "Symbol",
            "name" => "Name",
            "source" => "Source",
            "source_id" => "Source id",
            "quote" => "Quote currency",
            _ => "Calendar",
        };
        Self {
            field,
            message: format!("{label}: {}", message.into()),
        }
    }
}

/// An option of a `<select>`: value, label, whether selected.
struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "instruments.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<InstrumentRow>,
    notice: Option<String>,
    problem: Option<String>,
    form: AddForm,
    error: Option<FieldError>,
    sources: Vec<Choice>,
    calendars: Vec<Choice>,
}

impl ListPage {
    /// Whether `field` is the refused one.
    fn invalid(&self, field: &str) -> bool {
        self.error.as_ref().is_some_and(|e| e.field == field)
    }

    /// The ids describing input `field`: its hint, and the error when it is the refused one.
    fn described_by(&self, field: &str, hint: &str) -> String {
        if self.invalid(field) {
            format!("{hint} add-error")
        } else {
            hint.to_owned()
        }
    }
}

/// The notices a redirect after adding or removing carries.
#[derive(Debug, Default, Deserialize)]
struct Notices {
    added: Option<String>,
    removed: Option<String>,
}

/// `GET /instruments`: every instrument with its flags, and the add form.
async fn list(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    notices: Result<Query<Notices>, QueryRejection>,
) -> Result<Response, PageError> {
    let notices = notices.map(|Query(n)| n).unwrap_or_default();
    // Only a symbol is echoed back, so a crafted link cannot put other words on the page.
    let symbol = |text: Option<String>| text.and_then(|t| Symbol::parse(&t).ok());
    let notice = match (symbol(notices.added), symbol(notices.removed)) {
        (Some(added), _) => Some(format!(
            "Added {added}. Fetch its candles with Sync data on the overview."
        )),
        (None, Some(removed)) => Some(format!("Removed {removed} and its stored candles.")),
        (None, None) => None,
    };
    let page = ListView {
        notice,
        ..ListView::default()
    };
    list_page(&state, &session, StatusCode::OK, page).await
}

/// What a rendering of the list shows besides the instruments.
#[derive(Default)]
struct ListView {
    notice: Option<String>,
    problem: Option<String>,
    form: AddForm,
    error: Option<FieldError>,
}

async fn list_page(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    view: ListView,
) -> Result<Response, PageError> {
    let store = state.store();
    let today = Utc::now().date_naive();
    let mut rows = Vec::new();
    for instrument in store.instruments().await? {
        let health = Health::read(store, &instrument, today).await?;
        let symbol = instrument.symbol.to_string();
        rows.push(InstrumentRow {
            confirm: format!("Remove {symbol} and its stored candles? This cannot be undone."),
            name: instrument.name,
            source: instrument.source.as_str().to_owned(),
            source_id: instrument.source_id,
            quote: instrument.quote_currency,
            calendar: instrument.calendar.as_str().to_owned(),
            active: instrument.active,
            first: health.first_day(),
            last: health.last_day(),
            last_complete: health.last_complete_day(),
            count: health.count,
            flags: health.flags(),
            symbol,
        });
    }
    let sources = SourceKind::ALL
        .iter()
        .map(|kind| Choice {
            value: kind.as_str(),
            label: match kind {
                SourceKind::Sample => "sample (bundled offline history)",
                SourceKind::CoinGecko => "coingecko",
                SourceKind::Binance => "binance",
                SourceKind::Alpaca => "alpaca (US stocks and ETFs)",
                SourceKind::Csv => "csv (a file on the server)",
            },
            selected: view.form.source.eq_ignore_ascii_case(kind.as_str()),
        })
        .collect();
    let calendars = [
        (
            "",
            "Default (the sample's own, xnys for Alpaca, otherwise every day)",
        ),
        ("continuous", "continuous (every day)"),
        ("weekdays", "weekdays (Monday to Friday)"),
        ("xnys", "xnys (New York Stock Exchange trading days)"),
    ]
    .into_iter()
    .map(|(value, label)| Choice {
        value,
        label,
        selected: view.form.calendar.trim().eq_ignore_ascii_case(value),
    })
    .collect();
    let page = ListPage {
        chrome: Chrome::new(state, session, "instruments", "Instruments"),
        rows,
        notice: view.notice,
        problem: view.problem,
        form: view.form,
        error: view.error,
        sources,
        calendars,
    };
    render(status, &page)
}

/// `POST /instruments`: registers the form's instrument, or shows the form again with why not.
async fn add(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    form: Result<Form<AddForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Ok(Form(form)) = form else {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "The form could not be read, so nothing was added. Reload the page and try again.",
        ));
    };
    let refused = |error: FieldError, form: AddForm| ListView {
        form,
        error: Some(error),
        ..ListView::default()
    };
    let instrument = match instrument_from_form(&form, &state.config().csv_root()) {
        Ok(instrument) => instrument,
        Err(error) => {
            let view = refused(error, form);
            return list_page(&state, &session, StatusCode::UNPROCESSABLE_ENTITY, view).await;
        }
    };
    match state.store().add_instrument(&instrument).await {
        Ok(()) => state.clear_read_cache(),
        Err(StoreError::DuplicateInstrument(symbol)) => {
            let error = FieldError::new(
                "symbol",
                format!("{symbol} is already registered; choose another symbol"),
            );
            let view = refused(error, form);
            return list_page(&state, &session, StatusCode::CONFLICT, view).await;
        }
        Err(e) => return Err(e.into()),
    }
    let location = format!(
        "/instruments?added={}",
        urlencode(instrument.symbol.as_str())
    );
    Ok(Redirect::to(&location).into_response())
}

/// The instrument the add form describes, built exactly as `POST /api/instruments` and
/// `barter instruments add` build it; a refusal names the field to correct.
fn instrument_from_form(
    form: &AddForm,
    csv_root: &std::path::Path,
) -> Result<Instrument, FieldError> {
    let symbol =
        Symbol::parse(form.symbol.trim()).map_err(|e| FieldError::new("symbol", e.to_string()))?;
    let source: SourceKind = form
        .source
        .parse()
        .map_err(|e: InstrumentError| FieldError::new("source", e.to_string()))?;
    let calendar = match form.calendar.trim() {
        "" => None,
        text => Some(
            text.parse::<Calendar>()
                .map_err(|e| FieldError::new("calendar", e.to_string()))?,
        ),
    };
    let source_id = Some(form.source_id.trim())
        .filter(|id| !id.is_empty())
        .map(str::to_owned);
    // Sample and Alpaca ids default to the symbol (a bundled series, a ticker).
    if source_id.is_none() && !matches!(source, SourceKind::Sample | SourceKind::Alpaca) {
        let example = match source {
            SourceKind::CoinGecko => "CoinGecko's coin id, e.g. `bitcoin`",
            SourceKind::Binance => "the Binance pair, e.g. `BTCUSDT`",
            _ => "the CSV file's path in the server's data folder",
        };
        return Err(FieldError::new(
            "source_id",
            format!("{source} needs a source id: {example}"),
        ));
    }
    let name = Some(form.name.trim())
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let args = NewInstrument {
        symbol,
        source,
        source_id,
        path: None,
        name,
        quote: form.quote.clone(),
        calendar,
    };
    let csv = barter_service::data_files::CsvAccess::Under(csv_root);
    args.build(csv).map_err(|e| match &e {
        // The core's message names the instrument too; the form already shows it.
        RegisterError::Instrument(InstrumentError::BadQuoteCurrency { quote, .. }) => {
            FieldError::new(
                "quote",
                format!(
                    "`{quote}` is not a currency code: use 2–10 letters or digits, such as USD"
                ),
            )
        }
        // Source and calendar are typed above, so the rest is about the source id: an empty
        // one, a sample the binary does not carry, a CSV file that does not exist.
        _ => FieldError::new("source_id", format!("{e:#}")),
    })
}

/// `POST /instruments/{symbol}/remove`: removes an instrument without positions.
async fn remove(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(symbol): Path<String>,
) -> Result<Response, PageError> {
    let Ok(symbol) = Symbol::parse(&symbol) else {
        return Err(PageError::not_found(format!(
            "`{symbol}` is not an instrument symbol, so nothing was removed."
        )));
    };
    let problem = match state.store().remove_instrument(&symbol).await {
        Ok(_) => {
            state.clear_read_cache();
            let location = format!("/instruments?removed={}", urlencode(symbol.as_str()));
            return Ok(Redirect::to(&location).into_response());
        }
        Err(StoreError::InstrumentInUse(_)) => (
            StatusCode::CONFLICT,
            format!(
                "{symbol} was not removed: it has positions in the trading ledger, which keep \
                 their instrument. To stop syncing it instead, deactivate it with \
                 `barter instruments deactivate {symbol}`."
            ),
        ),
        Err(StoreError::UnknownInstrument(_)) => (
            StatusCode::NOT_FOUND,
            format!("{symbol} is not registered (it may have been removed already)."),
        ),
        Err(e) => return Err(e.into()),
    };
    let view = ListView {
        problem: Some(problem.1),
        ..ListView::default()
    };
    list_page(&state, &session, problem.0, view).await
}
