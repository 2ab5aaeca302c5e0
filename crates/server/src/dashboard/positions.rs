//! The positions list (`/positions`): open and closed positions, filtered and sorted on the
//! server, with their totals per currency. `/positions/{id}`, one position's explanation, is
//! the `position` module.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::currency::Currencies;
use super::format;
use super::page::{Chrome, PageError, render};
use super::query::{Choice, choices, or_default, query_string, trimmed};
use super::session::Session;
use crate::state::AppState;
use barter_service::views::{self, PositionView};

/// The positions route.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/positions", get(list))
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

/// A column the list can be sorted by: (query name, header label, first direction, numeric).
const SORTS: [(&str, &str, Dir, bool); 6] = [
    ("opened", "Opened", Dir::Desc, false),
    ("instrument", "Instrument", Dir::Asc, false),
    ("strategy", "Strategy", Dir::Asc, false),
    ("closed", "Closed", Dir::Desc, false),
    ("pnl", "P&L", Dir::Desc, true),
    ("return", "Return", Dir::Desc, true),
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

impl Default for Selection {
    /// Every position, the latest opened first: what an empty query asks for.
    fn default() -> Self {
        Self {
            status: "all",
            instrument: String::new(),
            strategy: String::new(),
            sort: "opened",
            dir: Dir::Desc,
        }
    }
}

impl Selection {
    /// The selection `query` asks for; an unknown status, sort or direction is an error for
    /// people.
    fn from_query(query: &ListQuery) -> Result<Self, String> {
        let given = |v: &Option<String>| trimmed(v.as_deref());
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
            Some((name, _, first, _)) => (*name, *first),
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

/// P&L as a percentage of what the position cost, entry fee included.
pub(super) fn return_of(view: &PositionView) -> Option<Decimal> {
    let paid = view.position.cost().0 + view.position.entry_fee.0;
    let pnl = view.pnl()?.0;
    (!paid.is_zero()).then(|| pnl / paid * Decimal::ONE_HUNDRED)
}

/// A percentage held as a decimal, with its sign.
pub(super) fn percent(value: Decimal) -> String {
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
            "pnl" => order_missing_last(a.pnl(), b.pnl(), dir),
            "return" => order_missing_last(return_of(a), return_of(b), dir),
            _ => order_missing_last(Some(a.position.entry_day), Some(b.position.entry_day), dir),
        };
        by.then_with(|| order_missing_last(Some(a.position.id), Some(b.position.id), dir))
    });
}

fn row(view: &PositionView, currency: &str) -> Row {
    let p = &view.position;
    let pnl = view.pnl().map(|m| m.0);
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
    let (query, error) = or_default(query, "They were reset; choose them again.");
    let (selection, error) = match (Selection::from_query(&query), error) {
        (Ok(selection), None) => (selection, None),
        (Ok(_), Some(error)) | (Err(error), _) => (Selection::default(), Some(error)),
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
    let sortable = |(name, label, first, numeric): (&str, &'static str, Dir, bool)| {
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
    let [opened, instrument, strategy, closed, pnl, ret] = SORTS.map(sortable);
    vec![
        plain("Position", false),
        instrument,
        strategy,
        plain("Status", false),
        opened,
        plain("Entry price", true),
        plain("Quantity", true),
        closed,
        plain("Exit price", true),
        plain("Exit reason", false),
        pnl,
        ret,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

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
