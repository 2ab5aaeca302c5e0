//! The instrument page: `/instruments/{symbol}` draws one instrument's candles with the
//! indicators its strategies use and the positions opened and closed on it, beside its stored
//! coverage, gaps and staleness.
//!
//! The indicator overlays are computed by the core's rule evaluator and indicator cache, never
//! by a second implementation: each indicator call found in a strategy's rule is parsed as a
//! rule of its own and evaluated on every day of the stored history.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use barter_core::rule::{EvalContext, IndicatorCache, OwnedColumns, Rule, RuleKind};
use barter_core::strategy::StrategyConfig;
use barter_core::{Candle, Day, Position, Symbol};
use chrono::Utc;
use serde_json::{Value, json};

use super::format;
use super::instruments::{Flag, Health, HealthView, dash};
use super::page::{Chrome, PageError, render};
use super::session::Session;
use crate::state::AppState;
use barter_service::views;

/// The instrument route.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/instruments/{symbol}", get(detail))
}

/// A position as the instrument page lists it.
struct PositionRow {
    id: i64,
    strategy: String,
    status: &'static str,
    status_class: &'static str,
    opened: String,
    quantity: String,
    entry_price: String,
    closed: String,
    exit_price: String,
    reason: String,
    pnl: String,
    pnl_class: &'static str,
}

#[derive(Template)]
#[template(path = "instrument.html")]
struct DetailPage {
    chrome: Chrome,
    symbol: String,
    currency: String,
    source: String,
    calendar: String,
    active: bool,
    first: String,
    last: String,
    last_complete: String,
    count: u64,
    flags: Vec<Flag>,
    strategies: Vec<String>,
    overlay_names: Vec<String>,
    not_drawn: Vec<String>,
    marker_count: usize,
    chart_json: String,
    positions: Vec<PositionRow>,
}

/// `GET /instruments/{symbol}`: the instrument's candles, its strategies' indicators, its trades.
async fn detail(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(symbol): Path<String>,
) -> Result<Response, PageError> {
    let unknown = || {
        PageError::not_found(format!(
            "No instrument `{symbol}` is registered. The instruments page lists them all."
        ))
    };
    let parsed = Symbol::parse(&symbol).map_err(|_| unknown())?;
    let store = state.store();
    let Some(instrument) = store.instrument(&parsed).await? else {
        return Err(unknown());
    };
    let candles = store.candles(&parsed, None, None).await?;
    let health = Health::from_candles(&instrument, &candles, Utc::now().date_naive());
    let strategies: Vec<&StrategyConfig> = state
        .config()
        .strategies
        .iter()
        .filter(|s| s.enabled && s.instruments.includes(&parsed))
        .collect();
    let studies = overlays(&parsed, &candles, &strategies);
    let positions: Vec<Position> = store
        .positions(None)
        .await?
        .into_iter()
        .filter(|p| p.symbol == parsed)
        .collect();
    let currency = instrument.quote_currency.clone();
    let markers = markers(&positions, &currency);
    let marker_count = markers.len();
    let positions = views::positions(store, positions).await?;

    let chart = json!({
        "candles": candles.iter().map(candle_json).collect::<Vec<_>>(),
        "overlays": studies.overlays.iter().map(Overlay::to_json).collect::<Vec<_>>(),
        "markers": markers,
    });
    let rows = positions
        .iter()
        .map(|view| {
            let p = &view.position;
            let pnl = view.pnl().map(|m| m.0);
            PositionRow {
                id: p.id.0,
                strategy: p.strategy.clone(),
                status: view.status,
                status_class: if p.is_open() { "ok" } else { "" },
                opened: format::day(p.entry_day),
                quantity: format::quantity(p.quantity.0),
                entry_price: format::price(p.entry_price.0),
                closed: p.exit.as_ref().map_or_else(dash, |e| format::day(e.day)),
                exit_price: p
                    .exit
                    .as_ref()
                    .map_or_else(dash, |e| format::price(e.price.0)),
                reason: p
                    .exit
                    .as_ref()
                    .map_or_else(dash, |e| format::exit_reason(e.reason).to_owned()),
                pnl: pnl.map_or_else(
                    || "n/a (no close yet)".to_owned(),
                    |v| format::signed_money(v, &currency),
                ),
                pnl_class: pnl.map_or("flat", format::sign_class),
            }
        })
        .collect();
    let page = DetailPage {
        chrome: Chrome::new(
            &state,
            &session,
            "instruments",
            format!("{} ({})", instrument.name, instrument.symbol),
        ),
        symbol: instrument.symbol.to_string(),
        source: format!("{} · {}", instrument.source, instrument.source_id),
        calendar: instrument.calendar.as_str().to_owned(),
        active: instrument.active,
        first: health.first_day(),
        last: health.last_day(),
        last_complete: health.last_complete_day(),
        count: health.count,
        flags: health.flags(),
        strategies: strategies.iter().map(|s| s.name.clone()).collect(),
        overlay_names: studies.overlays.iter().map(Overlay::name).collect(),
        not_drawn: studies.not_drawn,
        marker_count,
        chart_json: format::script_json(&chart.to_string()),
        positions: rows,
        currency,
    };
    render(StatusCode::OK, &page)
}

/// A candle as the chart reads it.
fn candle_json(candle: &Candle) -> Value {
    json!({
        "time": format::day(candle.day()),
        "open": format::chart_number(candle.open().0),
        "high": format::chart_number(candle.high().0),
        "low": format::chart_number(candle.low().0),
        "close": format::chart_number(candle.close().0),
        "volume": format::chart_number(candle.volume().0),
    })
}

/// The entry and exit markers of `positions`, with what hovering them shows.
fn markers(positions: &[Position], currency: &str) -> Vec<Value> {
    let mut markers = Vec::new();
    for p in positions {
        let quantity = format::quantity(p.quantity.0);
        markers.push(json!({
            "time": format::day(p.entry_day),
            "kind": "entry",
            "label": format!("#{}", p.id.0),
            "text": format!(
                "Position #{} opened by {}: bought {quantity} at {} {currency}",
                p.id.0,
                p.strategy,
                format::price(p.entry_price.0)
            ),
        }));
        if let (Some(exit), Some(pnl)) = (&p.exit, p.realized_pnl()) {
            markers.push(json!({
                "time": format::day(exit.day),
                "kind": "exit",
                "label": format!("#{}", p.id.0),
                "text": format!(
                    "Position #{} of {} closed ({}): sold {quantity} at {} {currency} · \
                     realized P&L {}",
                    p.id.0,
                    p.strategy,
                    format::exit_reason(exit.reason),
                    format::price(exit.price.0),
                    format::signed_money(pnl.0, currency)
                ),
            }));
        }
    }
    markers
}

// ---------------------------------------------------------------------------------------------
// Indicator overlays
// ---------------------------------------------------------------------------------------------

/// One indicator series to draw.
struct Overlay {
    /// The call with the strategy's parameter values, e.g. `sma(close, 50)`.
    call: String,
    /// The strategies whose rules use it.
    strategies: Vec<String>,
    /// 0: the price pane; 1: the pane below.
    pane: u8,
    /// The value on each day it has one.
    points: Vec<(Day, f64)>,
}

impl Overlay {
    fn name(&self) -> String {
        format!("{} · {}", self.call, self.strategies.join(", "))
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name(),
            "pane": self.pane,
            "points": self
                .points
                .iter()
                .map(|(day, value)| json!({ "time": format::day(*day), "value": value }))
                .collect::<Vec<_>>(),
        })
    }
}

/// The overlays of an instrument page, and the indicators that could not be drawn on it.
struct Studies {
    overlays: Vec<Overlay>,
    not_drawn: Vec<String>,
}

/// The series of every indicator the rules of `strategies` compute on `symbol`, over its
/// complete `candles` (what the trading jobs decide on), with the core's own indicator code.
fn overlays(symbol: &Symbol, candles: &[Candle], strategies: &[&StrategyConfig]) -> Studies {
    let complete: Vec<Candle> = candles
        .iter()
        .filter(|c| c.is_complete())
        .cloned()
        .collect();
    let days: Vec<Day> = complete.iter().map(Candle::day).collect();
    let columns = OwnedColumns::from_candles(&complete);
    let ctx = EvalContext::new(symbol.clone(), columns.view());
    let mut cache = IndicatorCache::new();
    let mut studies = Studies {
        overlays: Vec::new(),
        not_drawn: Vec::new(),
    };
    for strategy in strategies {
        let rules = [
            Some((strategy.entry.as_str(), RuleKind::Entry)),
            strategy.exit.as_deref().map(|exit| (exit, RuleKind::Exit)),
        ];
        for (source, kind) in rules.into_iter().flatten() {
            // A rule that does not load is shown with its error on the strategies page.
            let Ok(rule) = Rule::parse(source, kind, &strategy.params) else {
                continue;
            };
            let others = rule.instruments_referenced();
            if !others.is_empty() {
                let names: Vec<&str> = others.iter().map(Symbol::as_str).collect();
                let note = format!(
                    "{} ({kind} rule) also reads {}, whose indicators are not drawn here",
                    strategy.name,
                    names.join(", ")
                );
                if !studies.not_drawn.contains(&note) {
                    studies.not_drawn.push(note);
                }
            }
            for series in rule.indicator_series(&ctx, &mut cache) {
                if let Some(known) = studies.overlays.iter_mut().find(|o| o.call == series.label) {
                    if !known.strategies.contains(&strategy.name) {
                        known.strategies.push(strategy.name.clone());
                    }
                    continue;
                }
                let points = days
                    .iter()
                    .zip(&series.values)
                    .filter_map(|(day, value)| value.filter(|v| v.is_finite()).map(|v| (*day, v)))
                    .collect();
                studies.overlays.push(Overlay {
                    call: series.label,
                    strategies: vec![strategy.name.clone()],
                    pane: if series.price_units { 0 } else { 1 },
                    points,
                });
            }
        }
    }
    studies
}

#[cfg(test)]
mod tests {
    use super::*;
    use barter_core::rule::Params;

    fn candles(closes: &[f64]) -> Vec<Candle> {
        let symbol = Symbol::parse("TST").expect("symbol");
        let first: Day = "2024-01-01".parse().expect("day");
        closes
            .iter()
            .enumerate()
            .map(|(i, close)| {
                let price = barter_core::decimal_from_f64(*close).expect("price");
                let values = barter_core::Ohlcv {
                    open: price,
                    high: price,
                    low: price,
                    close: price,
                    volume: rust_decimal::Decimal::ONE,
                };
                let day = first + chrono::Days::new(i as u64);
                Candle::new(
                    symbol.clone(),
                    day,
                    values,
                    true,
                    barter_core::CandleOrigin::CsvFile,
                    "2030-01-01".parse().expect("today"),
                )
                .expect("candle")
            })
            .collect()
    }

    fn strategy(name: &str, entry: &str, exit: Option<&str>, params: Params) -> StrategyConfig {
        StrategyConfig {
            name: name.into(),
            instruments: Default::default(),
            entry: entry.into(),
            exit: exit.map(str::to_owned),
            stop_loss: None,
            take_profit: None,
            trailing_stop: None,
            max_holding_days: None,
            size: None,
            max_open_positions: None,
            enabled: true,
            params,
            account: None,
        }
    }

    #[test]
    fn overlays_are_the_core_indicator_values_on_their_panes() {
        let closes: Vec<f64> = (1..=30).map(|i| f64::from(i * i % 17 + 10)).collect();
        let candles = candles(&closes);
        let symbol = Symbol::parse("TST").expect("symbol");
        let cross = strategy(
            "cross",
            "crosses_above(sma(close, $fast), sma(close, 5)) and rsi(close, 3) < 70",
            Some("close < sma(close, 5) or atr(OTHER, 3) > 1"),
            Params::from([("fast".into(), 3.0)]),
        );
        let twin = strategy("twin", "sma(close, 5) > 1", None, Params::new());
        let studies = overlays(&symbol, &candles, &[&cross, &twin]);
        let names: Vec<String> = studies.overlays.iter().map(Overlay::name).collect();
        assert_eq!(
            names,
            [
                "sma(close, 3) · cross",
                "sma(close, 5) · cross, twin",
                "rsi(close, 3) · cross"
            ]
        );
        let panes: Vec<u8> = studies.overlays.iter().map(|o| o.pane).collect();
        assert_eq!(panes, [0, 0, 1]);
        // `atr(OTHER, 3)` reads another instrument: named, not drawn on this one's chart.
        assert_eq!(
            studies.not_drawn,
            ["cross (exit rule) also reads OTHER, whose indicators are not drawn here"]
        );
        let sma5 = &studies.overlays[1].points;
        assert_eq!(sma5.len(), closes.len() - 4);
        for (k, (day, value)) in sma5.iter().enumerate() {
            let window = &closes[k..k + 5];
            let mean = window.iter().sum::<f64>() / 5.0;
            assert!((value - mean).abs() < 1e-9, "{day}: {value} vs {mean}");
            assert_eq!(*day, candles[k + 4].day());
        }
        assert_eq!(studies.overlays[2].points.len(), closes.len() - 3);
    }
}
