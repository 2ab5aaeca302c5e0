//! The positions pages: `/positions` lists open and closed positions, filtered and sorted on
//! the server, and `/positions/{id}` explains one: the strategy's rules, the decisions that
//! opened and closed it with the values that decided them, and its fills.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use barter_core::{ExitReason, Fill, PositionId, Side};
use barter_store::trading::{DecisionKind, DecisionOutcome, DecisionRecord};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use super::currency::Currencies;
use super::format;
use super::history::{compact, detail_pairs};
use super::page::{Chrome, PageError, render};
use super::session::Session;
use super::strategies::{RuleSettings, rule_settings};
use crate::server::AppState;
use crate::views::{self, PositionView};

/// The positions routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/positions", get(list))
        .route("/positions/{id}", get(explain))
}

/// `a=1&b=2` from the pairs whose value is not empty (a leading `?` when any).
pub(super) fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        out.append_pair(name, value);
    }
    let query = out.finish();
    if query.is_empty() {
        query
    } else {
        format!("?{query}")
    }
}

/// The query of `/positions`: every field optional, an empty one (a form's "all") ignored.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    status: Option<String>,
    instrument: Option<String>,
    strategy: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
}

/// A column the list can be sorted by: (query name, header label, first direction).
const SORTS: &[(&str, &str, Dir)] = &[
    ("opened", "Opened", Dir::Desc),
    ("instrument", "Instrument", Dir::Asc),
    ("strategy", "Strategy", Dir::Asc),
    ("closed", "Closed", Dir::Desc),
    ("pnl", "P&L", Dir::Desc),
    ("return", "Return", Dir::Desc),
];

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Asc,
    Desc,
}

impl Dir {
    fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }

    fn flip(self) -> Self {
        match self {
            Self::Asc => Self::Desc,
            Self::Desc => Self::Asc,
        }
    }
}

/// The list's filters and order, checked.
struct Selection {
    status: &'static str,
    instrument: String,
    strategy: String,
    sort: &'static str,
    dir: Dir,
}

impl Selection {
    /// The selection `query` asks for; an unknown status, sort or direction is an error for
    /// people.
    fn from_query(query: &ListQuery) -> Result<Self, String> {
        let given = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or_default().to_owned();
        let status = match given(&query.status).as_str() {
            "" | "all" => "all",
            "open" => "open",
            "closed" => "closed",
            other => {
                return Err(format!(
                    "Status `{other}` is not one of open, closed or all. Pick one from the list."
                ));
            }
        };
        let sort = given(&query.sort);
        let (sort, first) = match SORTS.iter().find(|(name, ..)| *name == sort) {
            Some((name, _, first)) => (*name, *first),
            None if sort.is_empty() => ("opened", Dir::Desc),
            None => {
                return Err(format!(
                    "Cannot sort by `{sort}`: sort by opened, closed, instrument, strategy, pnl \
                     or return (or click a column header)."
                ));
            }
        };
        let dir = match given(&query.dir).as_str() {
            "" => first,
            "asc" => Dir::Asc,
            "desc" => Dir::Desc,
            other => {
                return Err(format!(
                    "Direction `{other}` is not asc or desc (or click a column header)."
                ));
            }
        };
        Ok(Self {
            status,
            instrument: given(&query.instrument).to_ascii_uppercase(),
            strategy: given(&query.strategy),
            sort,
            dir,
        })
    }

    /// Whether any filter is set.
    fn filtered(&self) -> bool {
        self.status != "all" || !self.instrument.is_empty() || !self.strategy.is_empty()
    }

    /// The link to this selection sorted by `sort` in `dir`.
    fn href(&self, sort: &str, dir: Dir) -> String {
        let status = if self.status == "all" {
            ""
        } else {
            self.status
        };
        format!(
            "/positions{}",
            query_string(&[
                ("status", status),
                ("instrument", &self.instrument),
                ("strategy", &self.strategy),
                ("sort", sort),
                ("dir", dir.as_str()),
            ])
        )
    }

    /// Whether `view` passes the filters.
    fn keeps(&self, view: &PositionView) -> bool {
        (self.status == "all" || view.status == self.status)
            && (self.instrument.is_empty() || view.position.symbol.as_str() == self.instrument)
            && (self.strategy.is_empty() || view.position.strategy == self.strategy)
    }
}

/// A choice in a filter's `<select>`.
pub(super) struct Choice {
    /// What the form sends ("" for all).
    pub value: String,
    /// What the option reads.
    pub label: String,
    /// Whether it is the current filter.
    pub selected: bool,
}

/// `values` as choices after an "All" choice, the one equal to `current` selected (added when
/// it is not among them, so the form shows what is filtered).
pub(super) fn choices(values: BTreeSet<String>, current: &str, all: &str) -> Vec<Choice> {
    let mut values = values;
    if !current.is_empty() {
        values.insert(current.to_owned());
    }
    std::iter::once(Choice {
        value: String::new(),
        label: all.to_owned(),
        selected: current.is_empty(),
    })
    .chain(values.into_iter().map(|v| Choice {
        selected: v == current,
        label: v.clone(),
        value: v,
    }))
    .collect()
}

/// A column header: sortable ones are links that toggle the order.
struct Header {
    label: &'static str,
    numeric: bool,
    /// The link, for a sortable column.
    href: Option<String>,
    /// `ascending` or `descending` on the column the list is sorted by.
    aria_sort: Option<&'static str>,
    /// ▲ or ▼ on the sorted column.
    arrow: &'static str,
}

/// A position as the list shows it.
struct Row {
    id: i64,
    symbol: String,
    strategy: String,
    status: &'static str,
    status_class: &'static str,
    opened: String,
    entry_price: String,
    quantity: String,
    closed: String,
    exit_price: String,
    exit_reason: String,
    pnl: String,
    pnl_class: &'static str,
    pnl_note: String,
    ret: String,
    ret_class: &'static str,
}

/// The totals of one currency.
struct Total {
    currency: String,
    count: usize,
    open: usize,
    closed: usize,
    total: String,
    total_class: &'static str,
    realized: String,
    unrealized: String,
    unpriced: usize,
}

#[derive(Template)]
#[template(path = "positions.html")]
struct ListPage {
    chrome: Chrome,
    error: Option<String>,
    any: bool,
    /// How many positions there are, filtered or not.
    count: usize,
    filtered: bool,
    statuses: Vec<Choice>,
    instruments: Vec<Choice>,
    strategies: Vec<Choice>,
    sort: &'static str,
    dir: &'static str,
    headers: Vec<Header>,
    rows: Vec<Row>,
    totals: Vec<Total>,
}

/// A position's P&L now: realized once closed, at the latest complete close while open.
fn pnl_of(view: &PositionView) -> Option<Decimal> {
    view.realized_pnl.or(view.unrealized_pnl).map(|m| m.0)
}

/// P&L as a percentage of what the position cost, entry fee included.
fn return_of(view: &PositionView) -> Option<Decimal> {
    let paid = view.position.cost().0 + view.position.entry_fee.0;
    let pnl = pnl_of(view)?;
    (!paid.is_zero()).then(|| pnl / paid * Decimal::ONE_HUNDRED)
}

/// A percentage held as a decimal, with its sign.
fn percent(value: Decimal) -> String {
    format::signed_percent(format::chart_number(value.round_dp(4)))
}

/// Orders two optional keys with the missing ones last in either direction.
fn order_missing_last<T: Ord>(a: Option<T>, b: Option<T>, dir: Dir) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => match dir {
            Dir::Asc => a.cmp(&b),
            Dir::Desc => b.cmp(&a),
        },
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Sorts `views` by the selection's column, ties by id in the same direction.
fn sort_views(views: &mut [PositionView], sort: &str, dir: Dir) {
    views.sort_by(|a, b| {
        let by = match sort {
            "instrument" => order_missing_last(
                Some(a.position.symbol.as_str()),
                Some(b.position.symbol.as_str()),
                dir,
            ),
            "strategy" => order_missing_last(
                Some(a.position.strategy.as_str()),
                Some(b.position.strategy.as_str()),
                dir,
            ),
            "closed" => order_missing_last(
                a.position.exit.as_ref().map(|e| e.day),
                b.position.exit.as_ref().map(|e| e.day),
                dir,
            ),
            "pnl" => order_missing_last(pnl_of(a), pnl_of(b), dir),
            "return" => order_missing_last(return_of(a), return_of(b), dir),
            _ => order_missing_last(Some(a.position.entry_day), Some(b.position.entry_day), dir),
        };
        by.then_with(|| order_missing_last(Some(a.position.id), Some(b.position.id), dir))
    });
}

fn row(view: &PositionView, currency: &str) -> Row {
    let p = &view.position;
    let pnl = pnl_of(view);
    let ret = return_of(view);
    let pnl_note = match (&p.exit, view.mark) {
        (Some(_), _) => "realized".to_owned(),
        (None, Some(mark)) => format!("unrealized at the latest close, {}", format::price(mark.0)),
        (None, None) => "no complete close yet to value it at".to_owned(),
    };
    Row {
        id: p.id.0,
        symbol: p.symbol.to_string(),
        strategy: p.strategy.clone(),
        status: view.status,
        status_class: if p.is_open() { "ok" } else { "warn" },
        opened: format::day(p.entry_day),
        entry_price: format::price(p.entry_price.0),
        quantity: format::quantity(p.quantity.0),
        closed: p
            .exit
            .as_ref()
            .map_or_else(String::new, |e| format::day(e.day)),
        exit_price: p
            .exit
            .as_ref()
            .map_or_else(String::new, |e| format::price(e.price.0)),
        exit_reason: p
            .exit
            .as_ref()
            .map_or_else(String::new, |e| format::exit_reason(e.reason).to_owned()),
        pnl: pnl.map_or_else(|| "n/a".to_owned(), |v| format::signed_money(v, currency)),
        pnl_class: pnl.map_or("flat", format::sign_class),
        pnl_note,
        ret: ret.map_or_else(|| "n/a".to_owned(), percent),
        ret_class: ret.map_or("flat", format::sign_class),
    }
}

fn totals(views: &[PositionView], currencies: &Currencies) -> Vec<Total> {
    #[derive(Default)]
    struct Sum {
        open: usize,
        closed: usize,
        realized: Decimal,
        unrealized: Decimal,
        unpriced: usize,
    }
    let mut sums: BTreeMap<&str, Sum> = BTreeMap::new();
    for view in views {
        let sum = sums
            .entry(currencies.of(&view.position.symbol))
            .or_default();
        if let Some(realized) = view.realized_pnl {
            sum.closed += 1;
            sum.realized += realized.0;
        } else {
            sum.open += 1;
            match view.unrealized_pnl {
                Some(unrealized) => sum.unrealized += unrealized.0,
                None => sum.unpriced += 1,
            }
        }
    }
    sums.into_iter()
        .map(|(currency, sum)| {
            let total = sum.realized + sum.unrealized;
            Total {
                currency: currency.to_owned(),
                count: sum.open + sum.closed,
                open: sum.open,
                closed: sum.closed,
                total: format::signed_money(total, currency),
                total_class: format::sign_class(total),
                realized: format::signed_money(sum.realized, currency),
                unrealized: format::signed_money(sum.unrealized, currency),
                unpriced: sum.unpriced,
            }
        })
        .collect()
}

/// `GET /positions`.
async fn list(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let (query, error) = match query {
        Ok(Query(query)) => (query, None),
        Err(rejection) => (
            ListQuery::default(),
            Some(format!(
                "The filters could not be read ({}). They were reset; choose them again.",
                rejection.body_text()
            )),
        ),
    };
    let (selection, error) = match (Selection::from_query(&query), error) {
        (Ok(selection), None) => (selection, None),
        (Ok(_), Some(error)) | (Err(error), _) => (
            Selection::from_query(&ListQuery::default())
                .map_err(|e| PageError::new(StatusCode::BAD_REQUEST, e))?,
            Some(error),
        ),
    };
    let store = state.store();
    let currencies = Currencies::of_store(state.store()).await?;
    let all = views::positions(store, store.positions(None).await?).await?;
    let mut instruments: BTreeSet<String> = currencies.symbols().map(ToString::to_string).collect();
    instruments.extend(all.iter().map(|v| v.position.symbol.to_string()));
    let mut strategies: BTreeSet<String> = state
        .config()
        .strategies
        .iter()
        .map(|s| s.name.clone())
        .collect();
    strategies.extend(all.iter().map(|v| v.position.strategy.clone()));

    let any = !all.is_empty();
    let count = all.len();
    let mut shown: Vec<PositionView> = if error.is_some() {
        Vec::new()
    } else {
        all.into_iter().filter(|v| selection.keeps(v)).collect()
    };
    sort_views(&mut shown, selection.sort, selection.dir);
    let rows = shown
        .iter()
        .map(|v| row(v, currencies.of(&v.position.symbol)))
        .collect();
    let headers = headers(&selection);
    let page = ListPage {
        chrome: Chrome::new(&state, &session, "positions", "Positions"),
        any,
        count,
        filtered: selection.filtered(),
        statuses: [("all", "All"), ("open", "Open"), ("closed", "Closed")]
            .into_iter()
            .map(|(value, label)| Choice {
                value: value.to_owned(),
                label: label.to_owned(),
                selected: value == selection.status,
            })
            .collect(),
        instruments: choices(instruments, &selection.instrument, "All instruments"),
        strategies: choices(strategies, &selection.strategy, "All strategies"),
        sort: selection.sort,
        dir: selection.dir.as_str(),
        headers,
        totals: totals(&shown, &currencies),
        rows,
        error: error.clone(),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(status, &page)
}

/// The table's headers in column order, the sortable ones linking to their order.
fn headers(selection: &Selection) -> Vec<Header> {
    let plain = |label, numeric| Header {
        label,
        numeric,
        href: None,
        aria_sort: None,
        arrow: "",
    };
    let sortable = |key: &str, numeric| {
        let (name, label, first) = SORTS
            .iter()
            .find(|(name, ..)| *name == key)
            .copied()
            .unwrap_or(SORTS[0]);
        let current = selection.sort == name;
        let dir = if current { selection.dir.flip() } else { first };
        Header {
            label,
            numeric,
            href: Some(selection.href(name, dir)),
            aria_sort: current.then_some(match selection.dir {
                Dir::Asc => "ascending",
                Dir::Desc => "descending",
            }),
            arrow: match (current, selection.dir) {
                (false, _) => "",
                (true, Dir::Asc) => " ▲",
                (true, Dir::Desc) => " ▼",
            },
        }
    };
    vec![
        plain("Position", false),
        sortable("instrument", false),
        sortable("strategy", false),
        plain("Status", false),
        sortable("opened", false),
        plain("Entry price", true),
        plain("Quantity", true),
        sortable("closed", false),
        plain("Exit price", true),
        plain("Exit reason", false),
        sortable("pnl", true),
        sortable("return", true),
    ]
}

// ---------------------------------------------------------------------------------------------
// One position's explanation
// ---------------------------------------------------------------------------------------------

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

/// A number a rule computed, readable: at most 6 decimals, trailing zeros dropped.
pub(super) fn rule_value(value: f64) -> String {
    match barter_core::decimal_from_f64(value) {
        Some(d) if value.is_finite() => format::quantity(d.round_dp(6)),
        _ => value.to_string(),
    }
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
                    let shown = value.as_f64().map_or_else(|| compact(value), rule_value);
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
    let extra = match detail {
        Value::Object(map) => {
            let rest: serde_json::Map<String, Value> = map
                .iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "explanation" | "values" | "reason" | "position")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            detail_pairs(&Value::Object(rest))
        }
        other => detail_pairs(other),
    };
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
    let basis = serde_json::to_value(fill.basis)
        .ok()
        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
        .unwrap_or_default();
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
    let view = views::positions(store, vec![p.clone()])
        .await?
        .pop()
        .ok_or_else(missing)?;
    let pnl = pnl_of(&view);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_values_drop_trailing_zeros_and_keep_six_decimals() {
        assert_eq!(rule_value(10.0), "10");
        assert_eq!(rule_value(63.25), "63.25");
        assert_eq!(rule_value(43_210.123_456_789), "43,210.123457");
        assert_eq!(rule_value(-0.5), "-0.5");
    }

    #[test]
    fn missing_keys_sort_last_in_both_directions() {
        let mut keys = [Some(2), None, Some(1), Some(3)];
        keys.sort_by(|a, b| order_missing_last(*a, *b, Dir::Asc));
        assert_eq!(keys, [Some(1), Some(2), Some(3), None]);
        keys.sort_by(|a, b| order_missing_last(*a, *b, Dir::Desc));
        assert_eq!(keys, [Some(3), Some(2), Some(1), None]);
    }

    #[test]
    fn a_selection_rejects_unknown_values_and_links_keep_the_filters() {
        let bad = ListQuery {
            sort: Some("colour".into()),
            ..ListQuery::default()
        };
        assert!(Selection::from_query(&bad).is_err());
        let query = ListQuery {
            status: Some("open".into()),
            instrument: Some("btc".into()),
            ..ListQuery::default()
        };
        let selection = Selection::from_query(&query).expect("valid");
        assert_eq!(
            selection.href("pnl", Dir::Asc),
            "/positions?status=open&instrument=BTC&sort=pnl&dir=asc"
        );
    }
}
