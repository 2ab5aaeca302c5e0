//! The history page (`/history`): the append-only history, newest first, filtered by
//! instrument, strategy, kind and recording day, 50 entries a page, each entry's detail shown as
//! readable pairs.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use barter_core::{Day, Symbol};
use barter_store::trading::HistoryFilter;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;

use super::format;
use super::page::{Chrome, PageError, render};
use super::query::{Choice, choices, or_default, query_string, trimmed};
use super::session::Session;
use crate::state::AppState;

/// Entries on one page.
const PAGE: u32 = 50;

/// The link to the history without filters.
const CLEAR: &str = "/history";

/// The history route.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/history", get(history))
}

/// `value` for people, on one line: objects as `key: value` pairs, lists comma-separated,
/// nested ones in parentheses; never JSON syntax.
pub(super) fn compact(value: &Value) -> String {
    fn nested(value: &Value) -> String {
        match value {
            Value::Object(map) if !map.is_empty() => format!("({})", compact(value)),
            Value::Array(items) if items.len() > 1 => format!("({})", compact(value)),
            _ => compact(value),
        }
    }
    match value {
        Value::Null => "none".to_owned(),
        Value::Bool(true) => "yes".to_owned(),
        Value::Bool(false) => "no".to_owned(),
        // Whole numbers (ids, counts) as they are; computed ones without float noise.
        Value::Number(n) if n.is_f64() => {
            n.as_f64().map_or_else(|| n.to_string(), format::rule_value)
        }
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "none".to_owned(),
        Value::Array(items) => items.iter().map(nested).collect::<Vec<_>>().join(", "),
        Value::Object(map) if map.is_empty() => "none".to_owned(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{}: {}", label(k), nested(v)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// A detail key for people: `cash_after` reads `cash after`.
fn label(key: &str) -> String {
    key.replace('_', " ")
}

/// A detail as (key, value) pairs: an object's members, those named in `omit` left out,
/// anything else as one `detail` pair. A member `detail` that is itself an object (a decision's
/// rule detail, wrapped by its history entry) is spread into pairs of its own.
pub(super) fn detail_pairs(detail: &Value, omit: &[&str]) -> Vec<(String, String)> {
    match detail {
        Value::Object(map) => {
            let mut pairs = Vec::with_capacity(map.len());
            let mut inner = Vec::new();
            for (key, value) in map.iter().filter(|(k, _)| !omit.contains(&k.as_str())) {
                match value {
                    Value::Object(_) if key == "detail" => inner = detail_pairs(value, &[]),
                    _ => pairs.push((label(key), compact(value))),
                }
            }
            pairs.extend(inner);
            pairs
        }
        Value::Null => Vec::new(),
        other => vec![("detail".to_owned(), compact(other))],
    }
}

/// The query of `/history`: every field optional, an empty one ignored.
#[derive(Debug, Default, Deserialize)]
struct HistoryQuery {
    instrument: Option<String>,
    strategy: Option<String>,
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<String>,
}

/// The filters as given (to show them again) and as understood.
#[derive(Debug, Default)]
struct Filters {
    instrument: String,
    strategy: String,
    kind: String,
    from: String,
    to: String,
    before: Option<i64>,
}

impl Filters {
    /// The filters of `query` as text, trimmed.
    fn given(query: &HistoryQuery) -> Self {
        let text = |v: &Option<String>| trimmed(v.as_deref());
        Self {
            instrument: text(&query.instrument).to_ascii_uppercase(),
            strategy: text(&query.strategy),
            kind: text(&query.kind),
            from: text(&query.from),
            to: text(&query.to),
            before: None,
        }
    }

    /// The store's filter for one page (one entry more than shown, to know whether there is
    /// an older page), or what is wrong with the input, for people.
    fn store_filter(&self, before: &str) -> Result<HistoryFilter, String> {
        let symbol = if self.instrument.is_empty() {
            None
        } else {
            Some(Symbol::parse(&self.instrument).map_err(|e| {
                format!(
                    "Instrument `{}` is not a symbol ({e}). Pick one from the list or clear it.",
                    self.instrument
                )
            })?)
        };
        let day = |text: &str, which: &str| -> Result<Option<Day>, String> {
            if text.is_empty() {
                return Ok(None);
            }
            Day::parse_from_str(text, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| {
                    format!(
                        "The {which} date `{text}` is not a date: write it as YYYY-MM-DD, for \
                     example 2024-03-31, or pick it from the calendar."
                    )
                })
        };
        let from = day(&self.from, "from")?;
        let to = day(&self.to, "to")?;
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(format!(
                "The from date {from} is after the to date {to}: swap them to see that range."
            ));
        }
        let filter = HistoryFilter {
            symbol,
            strategy: (!self.strategy.is_empty()).then(|| self.strategy.clone()),
            kind: (!self.kind.is_empty()).then(|| self.kind.clone()),
            limit: PAGE + 1,
            ..HistoryFilter::default()
        }
        .with_days(from, to)
        .map_err(|to| format!("The to date {to} is too far in the future; pick an earlier day."))?;
        let before_id = if before.is_empty() {
            None
        } else {
            Some(before.parse::<i64>().map_err(|_| {
                format!(
                    "`{before}` is not a history entry id. Use the Older and Newest links to \
                     move between pages."
                )
            })?)
        };
        Ok(HistoryFilter {
            before_id,
            ..filter
        })
    }

    /// Whether any filter is set (paging aside).
    fn filtered(&self) -> bool {
        !(self.instrument.is_empty()
            && self.strategy.is_empty()
            && self.kind.is_empty()
            && self.from.is_empty()
            && self.to.is_empty())
    }

    /// The link to these filters, older than `before` when given.
    fn href(&self, before: Option<i64>) -> String {
        let before = before.map(|id| id.to_string()).unwrap_or_default();
        format!(
            "/history{}",
            query_string(&[
                ("instrument", &self.instrument),
                ("strategy", &self.strategy),
                ("kind", &self.kind),
                ("from", &self.from),
                ("to", &self.to),
                ("before", &before),
            ])
        )
    }
}

/// A history entry as the page shows it.
struct Row {
    id: i64,
    recorded: String,
    recorded_exact: String,
    kind: String,
    symbol: Option<String>,
    strategy: Option<String>,
    position: Option<i64>,
    run: Option<i64>,
    detail: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage {
    chrome: Chrome,
    error: Option<String>,
    filters: Filters,
    filtered: bool,
    kinds: Vec<Choice>,
    instruments: Vec<String>,
    strategies: Vec<String>,
    rows: Vec<Row>,
    older: Option<String>,
    newest: Option<String>,
    clear: &'static str,
}

/// `GET /history`.
async fn history(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let store = state.store();
    let (query, rejected) = or_default(query, "Choose them again.");
    let mut filters = Filters::given(&query);
    let before_text = trimmed(query.before.as_deref());
    let checked = match rejected {
        Some(error) => Err(error),
        None => filters.store_filter(&before_text),
    };
    let (rows, older, error) = match checked {
        Ok(filter) => {
            filters.before = filter.before_id;
            let mut entries = store.history_filtered(&filter).await?;
            let more = entries.len() > PAGE as usize;
            entries.truncate(PAGE as usize);
            let older = more
                .then(|| entries.last().map(|e| filters.href(Some(e.id))))
                .flatten();
            let rows = entries
                .into_iter()
                .map(|e| Row {
                    id: e.id,
                    recorded: format::time(e.recorded_at),
                    recorded_exact: e.recorded_at.to_rfc3339(),
                    kind: e.kind,
                    symbol: e.symbol.map(|s| s.to_string()),
                    strategy: e.strategy,
                    position: e.position.map(|p| p.0),
                    run: e.run.map(|r| r.0),
                    detail: detail_pairs(&e.detail, &[]),
                })
                .collect();
            (rows, older, None)
        }
        Err(error) => (Vec::new(), None, Some(error)),
    };
    let kinds: BTreeSet<String> = store.history_kinds().await?.into_iter().collect();
    let instruments = store
        .instruments()
        .await?
        .into_iter()
        .map(|i| i.symbol.to_string())
        .collect();
    let mut strategies: Vec<String> = state
        .config()
        .strategies
        .iter()
        .map(|s| s.name.clone())
        .collect();
    strategies.sort();
    strategies.dedup();
    let page = HistoryPage {
        chrome: Chrome::new(&state, &session, "history", "History"),
        filtered: filters.filtered(),
        kinds: choices(kinds, &filters.kind, "All kinds"),
        instruments,
        strategies,
        rows,
        older,
        newest: filters.before.map(|_| filters.href(None)),
        clear: CLEAR,
        error: error.clone(),
        filters,
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(status, &page)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn details_read_as_pairs_without_json_syntax() {
        let detail = json!({
            "fill_id": 3,
            "fill": {"side": "buy", "price": "100.5"},
            "values": {"close": 101.0, "sma(close, 3)": 99.5},
            "tags": ["a", "b"],
            "done": true,
            "note": null
        });
        let pairs = detail_pairs(&detail, &[]);
        let text = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(text("fill id"), "3");
        assert_eq!(text("fill"), "price: 100.5, side: buy");
        assert_eq!(text("values"), "close: 101, sma(close, 3): 99.5");
        assert_eq!(text("tags"), "a, b");
        assert_eq!(text("done"), "yes");
        assert_eq!(text("note"), "none");
        assert_eq!(
            compact(&json!({"a": {"b": 1, "c": [1, 2]}})),
            "a: (b: 1, c: (1, 2))"
        );
        assert_eq!(
            detail_pairs(&json!("text"), &[]),
            [("detail".to_owned(), "text".to_owned())]
        );
        let decision = json!({
            "decision_id": 7,
            "detail": {"explanation": "entry rule passed", "values": {"rsi": 63.218_436_021}},
        });
        assert_eq!(
            detail_pairs(&decision, &[]),
            [
                ("decision id".to_owned(), "7".to_owned()),
                ("explanation".to_owned(), "entry rule passed".to_owned()),
                ("values".to_owned(), "rsi: 63.218436".to_owned()),
            ]
        );
    }

    #[test]
    fn bad_filters_are_explained_and_good_ones_cover_whole_days() {
        let given = |from: &str, to: &str| Filters {
            from: from.into(),
            to: to.into(),
            ..Filters::default()
        };
        let error = given("2024-02-30", "")
            .store_filter("")
            .expect_err("no such day");
        assert!(error.contains("`2024-02-30` is not a date"), "{error}");
        assert!(given("2024-03-05", "2024-03-01").store_filter("").is_err());
        assert!(given("", "").store_filter("x").is_err());
        let filter = given("2024-03-01", "2024-03-02")
            .store_filter("77")
            .expect("valid");
        assert_eq!(filter.before_id, Some(77));
        assert_eq!(
            filter.since.map(|t| t.to_rfc3339()),
            Some("2024-03-01T00:00:00+00:00".to_owned())
        );
        assert_eq!(
            filter.until.map(|t| t.to_rfc3339()),
            Some("2024-03-03T00:00:00+00:00".to_owned())
        );
    }
}
