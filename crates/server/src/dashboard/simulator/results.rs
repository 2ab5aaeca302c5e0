//! A simulator result as the page shows it: the statistics with their raw values, the equity
//! and drawdown chart, the trades, the price charts with entry and exit markers, the breakdowns
//! and the configuration snippet of the strategy tested.

use barter_core::simulator::{self, BacktestResult, Breakdown, Statistics};
use barter_core::strategy::{InstrumentSelection, NumberText, StrategyConfig};
use barter_core::{Day, Symbol};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde::Serialize;
use serde_json::{Value, json};

use super::form::SimForm;
use crate::dashboard::currency::Currencies;
use crate::dashboard::format;
use barter_service::backtest::{BacktestRequest, Prepared};

/// At most this many instruments get a price chart with markers.
pub(crate) const MAX_PRICE_CHARTS: usize = 4;

/// At most this many orders that were not filled are listed.
const MAX_UNFILLED: usize = 10;

/// One statistic: its key, label, value for people and raw value as JSON.
pub(crate) struct StatRow {
    /// The key (`return_pct`, ...; `start`, `end`, `final_cash`, `final_equity`).
    pub key: String,
    /// The label, as the CLI prints it.
    pub label: String,
    /// The value for people.
    pub value: String,
    /// The CSS class of a signed value.
    pub class: &'static str,
    /// The raw value as `serde_json` writes it.
    pub raw: String,
}

/// A closed trade, formatted.
pub(crate) struct TradeRow {
    pub symbol: String,
    pub strategy: String,
    pub entry_day: String,
    pub entry_price: String,
    pub exit_day: String,
    pub exit_price: String,
    pub reason: String,
    pub quantity: String,
    pub pnl: String,
    pub pnl_raw: String,
    pub pnl_class: &'static str,
    pub return_pct: String,
    pub return_raw: String,
}

/// A trade still open at the end, formatted.
pub(crate) struct OpenRow {
    pub symbol: String,
    pub strategy: String,
    pub entry_day: String,
    pub entry_price: String,
    pub quantity: String,
    pub mark: String,
    pub pnl: String,
    pub pnl_class: &'static str,
}

/// An order that passed but was not filled.
pub(crate) struct UnfilledRow {
    pub day: String,
    pub symbol: String,
    pub strategy: String,
    pub reason: String,
}

/// One instrument's candle chart with the trades' markers.
pub(crate) struct PriceChart {
    pub symbol: String,
    /// The chart's JSON (`candles`, `markers`), safe to embed.
    pub json: String,
    /// How many markers it carries.
    pub markers: usize,
}

/// A breakdown table (by instrument, strategy or exit reason).
pub(crate) struct BreakdownTable {
    pub title: &'static str,
    pub rows: Vec<BreakdownRow>,
}

/// A row of a breakdown.
pub(crate) struct BreakdownRow {
    pub group: String,
    pub trades: usize,
    pub win_rate: String,
    pub pnl: String,
    pub pnl_class: &'static str,
    pub fees: String,
    pub avg_return: String,
    pub best: String,
    pub worst: String,
}

/// A single backtest's result, ready for the template.
pub(crate) struct SingleView {
    pub currency: String,
    pub settings: Vec<(String, String)>,
    pub stats: Vec<StatRow>,
    pub equity_json: String,
    pub trades: Vec<TradeRow>,
    pub open: Vec<OpenRow>,
    pub unfilled: Vec<UnfilledRow>,
    pub unfilled_total: usize,
    pub charts: Vec<PriceChart>,
    /// Said when more instruments were tested than get a chart.
    pub charts_note: Option<String>,
    pub breakdowns: Vec<BreakdownTable>,
    /// The `[[strategies]]` TOML of the strategy tested.
    pub snippet: String,
}

/// A statistic's value for people: money with its currency, percentages with their sign,
/// durations in days.
pub(crate) fn stat_text(key: &str, value: Option<f64>, currency: &str) -> String {
    let Some(v) = value else {
        return "n/a".to_owned();
    };
    if let Some(text) = infinity_text(v) {
        return text.to_owned();
    }
    match key {
        "equity_final" | "equity_peak" | "commissions" => match Decimal::from_f64(v) {
            None => "n/a".to_owned(),
            // Cells of a table whose header names the unit carry no currency.
            Some(d) if currency.is_empty() => format::number(d, 2),
            Some(d) => format::money(d, currency),
        },
        "trades" => format!("{v:.0}"),
        k if k.ends_with("_days") => format!("{v:.0} days"),
        k if k.ends_with("_pct") => format::signed_percent(v),
        _ => format!("{v:.2}"),
    }
}

/// An infinite value as people read it (`∞`, `-∞`); `None` for a finite one.
pub(crate) fn infinity_text(value: f64) -> Option<&'static str> {
    value
        .is_infinite()
        .then_some(if value > 0.0 { "∞" } else { "-∞" })
}

/// The CSS class of a statistic: signed ones (returns, P&L-like) are coloured.
fn stat_class(key: &str, value: Option<f64>) -> &'static str {
    let signed = matches!(
        key,
        "return_pct"
            | "buy_and_hold_return_pct"
            | "return_ann_pct"
            | "cagr_pct"
            | "alpha_pct"
            | "avg_trade_pct"
            | "expectancy_pct"
    );
    match value {
        Some(v) if signed && v > 0.0 => "gain",
        Some(v) if signed && v < 0.0 => "loss",
        _ => "",
    }
}

/// The statistics table's rows: every statistic with its raw value as the API returns it.
fn stat_rows(result: &BacktestResult, currency: &str) -> Vec<StatRow> {
    let raw = serde_json::to_value(&result.stats).unwrap_or(Value::Null);
    let mut rows: Vec<StatRow> = ["start", "end"]
        .into_iter()
        .chain(Statistics::KEYS.iter().copied())
        .filter_map(|key| Statistics::label(key).map(|label| (key, label)))
        .map(|(key, label)| {
            let value = result.stats.value(key);
            let text = match key {
                "start" => format::day(result.stats.start),
                "end" => format::day(result.stats.end),
                _ => stat_text(key, value, currency),
            };
            StatRow {
                key: key.to_owned(),
                label: label.to_owned(),
                value: text,
                class: stat_class(key, value),
                raw: raw.get(key).map_or_else(String::new, Value::to_string),
            }
        })
        .collect();
    for (key, label, money) in [
        ("final_cash", "Final cash (exact)", result.final_cash),
        ("final_equity", "Final equity (exact)", result.final_equity),
    ] {
        rows.push(StatRow {
            key: key.to_owned(),
            label: label.to_owned(),
            value: format::money(money.0, currency),
            class: "",
            raw: serde_json::to_string(&money).unwrap_or_default(),
        });
    }
    rows
}

/// Builds the view of a single backtest `result` of `prepared`, asked for by `form`.
pub(crate) fn single_view(
    form: &SimForm,
    request: &BacktestRequest,
    prepared: &Prepared,
    result: &BacktestResult,
    currencies: &Currencies,
) -> SingleView {
    let currency = currencies.common(prepared.instruments.iter().map(|i| &i.symbol));
    let equity_json = json!({
        "equity": result.equity.iter()
            .map(|p| json!({ "time": format::day(p.day), "value": p.equity }))
            .collect::<Vec<_>>(),
        "drawdown": result.equity.iter()
            .map(|p| json!({ "time": format::day(p.day), "value": p.drawdown * 100.0 }))
            .collect::<Vec<_>>(),
    })
    .to_string();
    let trades = result
        .trades
        .iter()
        .map(|t| {
            let cur = currencies.of(&t.symbol);
            let pct = t.return_fraction * 100.0;
            TradeRow {
                symbol: t.symbol.to_string(),
                strategy: t.strategy.clone(),
                entry_day: format::day(t.entry_day),
                entry_price: format::price(t.entry_price.0),
                exit_day: format::day(t.exit_day),
                exit_price: format::price(t.exit_price.0),
                reason: format::exit_reason(t.reason).to_owned(),
                quantity: format::quantity(t.quantity.0),
                pnl: format::signed_money(t.pnl.0, cur),
                pnl_raw: t.pnl.0.to_string(),
                pnl_class: format::sign_class(t.pnl.0),
                return_pct: format::signed_percent(pct),
                return_raw: pct.to_string(),
            }
        })
        .collect();
    let open = result
        .open_trades
        .iter()
        .map(|t| OpenRow {
            symbol: t.symbol.to_string(),
            strategy: t.strategy.clone(),
            entry_day: format::day(t.entry_day),
            entry_price: format::price(t.entry_price.0),
            quantity: format::quantity(t.quantity.0),
            mark: format::price(t.mark_price.0),
            pnl: format::signed_money(t.unrealized_pnl.0, currencies.of(&t.symbol)),
            pnl_class: format::sign_class(t.unrealized_pnl.0),
        })
        .collect();
    let unfilled = result
        .unfilled
        .iter()
        .take(MAX_UNFILLED)
        .map(|u| UnfilledRow {
            day: format::day(u.day),
            symbol: u.symbol.to_string(),
            strategy: u.strategy.clone(),
            reason: u.reason.clone(),
        })
        .collect();
    let (charts, charts_note) = price_charts(prepared, result, currencies);
    let breakdowns = vec![
        breakdown_table(
            "By instrument",
            simulator::by_instrument(&result.trades),
            &currency,
            str::to_owned,
        ),
        breakdown_table(
            "By strategy",
            simulator::by_strategy(&result.trades),
            &currency,
            str::to_owned,
        ),
        breakdown_table(
            "By exit reason",
            simulator::by_exit_reason(&result.trades),
            &currency,
            exit_reason_text,
        ),
    ];
    SingleView {
        stats: stat_rows(result, &currency),
        settings: prepared.describe(),
        equity_json: format::script_json(&equity_json),
        trades,
        open,
        unfilled,
        unfilled_total: result.unfilled.len(),
        charts,
        charts_note,
        breakdowns,
        snippet: config_snippet(form, request),
        currency,
    }
}

/// The candle charts of the tested instruments with their trades' markers: the instruments
/// with the most trades first, at most [`MAX_PRICE_CHARTS`], and a note when some are left out.
fn price_charts(
    prepared: &Prepared,
    result: &BacktestResult,
    currencies: &Currencies,
) -> (Vec<PriceChart>, Option<String>) {
    let trades_of = |symbol: &Symbol| {
        result.trades.iter().filter(|t| &t.symbol == symbol).count()
            + result
                .open_trades
                .iter()
                .filter(|t| &t.symbol == symbol)
                .count()
    };
    let mut symbols: Vec<&Symbol> = prepared.instruments.iter().map(|i| &i.symbol).collect();
    // Stable: instruments with as many trades keep their order.
    symbols.sort_by_cached_key(|s| std::cmp::Reverse(trades_of(s)));
    let note = (symbols.len() > MAX_PRICE_CHARTS).then(|| {
        format!(
            "{} instruments were tested; price charts are shown for the {MAX_PRICE_CHARTS} with \
             the most trades. Test fewer instruments to see the others.",
            symbols.len()
        )
    });
    let from = prepared.settings.from.unwrap_or(Day::MIN);
    let view = prepared.data.view(prepared.settings.to.unwrap_or(Day::MAX));
    let charts = symbols
        .into_iter()
        .take(MAX_PRICE_CHARTS)
        .map(|symbol| {
            let cur = currencies.of(symbol);
            let candles: Vec<Value> = view
                .candles(symbol)
                .iter()
                .filter(|c| c.day() >= from)
                .map(|c| {
                    json!({
                        "time": format::day(c.day()),
                        "open": format::chart_number(c.open().0),
                        "high": format::chart_number(c.high().0),
                        "low": format::chart_number(c.low().0),
                        "close": format::chart_number(c.close().0),
                        "volume": format::chart_number(c.volume().0),
                    })
                })
                .collect();
            let markers = markers(result, symbol, cur);
            let count = markers.len();
            let json = json!({ "candles": candles, "markers": markers }).to_string();
            PriceChart {
                symbol: symbol.to_string(),
                json: format::script_json(&json),
                markers: count,
            }
        })
        .collect();
    (charts, note)
}

/// The entry and exit markers of `symbol`'s trades: price, quantity, reason and P&L in the text.
fn markers(result: &BacktestResult, symbol: &Symbol, currency: &str) -> Vec<Value> {
    let mut markers = Vec::new();
    for t in result.trades.iter().filter(|t| &t.symbol == symbol) {
        let quantity = format::quantity(t.quantity.0);
        markers.push(json!({
            "time": format::day(t.entry_day),
            "kind": "entry",
            "label": "Buy",
            "text": format!(
                "Entry {}: bought {quantity} {symbol} at {} ({})",
                format::day(t.entry_day), format::price(t.entry_price.0), t.strategy
            ),
        }));
        markers.push(json!({
            "time": format::day(t.exit_day),
            "kind": "exit",
            "label": "Sell",
            "text": format!(
                "Exit {}: sold {quantity} {symbol} at {}, {}; P&L {} ({})",
                format::day(t.exit_day),
                format::price(t.exit_price.0),
                format::exit_reason(t.reason),
                format::signed_money(t.pnl.0, currency),
                format::signed_percent(t.return_fraction * 100.0),
            ),
        }));
    }
    for t in result.open_trades.iter().filter(|t| &t.symbol == symbol) {
        markers.push(json!({
            "time": format::day(t.entry_day),
            "kind": "entry",
            "label": "Buy",
            "text": format!(
                "Entry {}: bought {} {symbol} at {} ({}), still open: unrealized {}",
                format::day(t.entry_day),
                format::quantity(t.quantity.0),
                format::price(t.entry_price.0),
                t.strategy,
                format::signed_money(t.unrealized_pnl.0, currency),
            ),
        }));
    }
    markers
}

/// An exit reason's breakdown name (its serde name, `stop_loss`) in the trades table's words.
fn exit_reason_text(group: &str) -> String {
    serde_json::from_value::<barter_core::ExitReason>(Value::String(group.to_owned()))
        .map_or_else(|_| group.to_owned(), |r| format::exit_reason(r).to_owned())
}

/// A breakdown as a table, each group's name written by `name`.
fn breakdown_table(
    title: &'static str,
    rows: Vec<Breakdown>,
    currency: &str,
    name: fn(&str) -> String,
) -> BreakdownTable {
    let pct = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), format::signed_percent);
    BreakdownTable {
        title,
        rows: rows
            .into_iter()
            .map(|b| BreakdownRow {
                trades: b.trades,
                win_rate: b
                    .win_rate_pct
                    .map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2} %")),
                pnl: format::signed_money(b.pnl.0, currency),
                pnl_class: format::sign_class(b.pnl.0),
                fees: format::money(b.fees.0, currency),
                avg_return: pct(b.avg_return_pct),
                best: pct(b.best_trade_pct),
                worst: pct(b.worst_trade_pct),
                group: name(&b.group),
            })
            .collect(),
    }
}

/// The `[[strategies]]` entry of `barter.toml`.
#[derive(Serialize)]
struct ConfigFile<'a> {
    strategies: [&'a StrategyConfig; 1],
}

/// The strategy the form tested as a configuration entry.
pub(crate) fn strategy_config(form: &SimForm, request: &BacktestRequest) -> StrategyConfig {
    StrategyConfig {
        name: form.strategy_name().to_owned(),
        instruments: if request.instruments.is_empty() {
            InstrumentSelection::default()
        } else {
            InstrumentSelection::Only(request.instruments.clone())
        },
        entry: request.entry.clone().unwrap_or_default(),
        exit: request.exit.clone(),
        stop_loss: request.stop_loss.clone().map(NumberText::Text),
        take_profit: request.take_profit.clone().map(NumberText::Text),
        trailing_stop: request.trailing_stop.clone().map(NumberText::Text),
        max_holding_days: request.max_holding_days,
        // The simulator buys with all cash unless told otherwise; the configuration's default
        // is 10 % of equity, so the size is always written out.
        size: Some(NumberText::Text(
            request.size.clone().unwrap_or_else(|| "all".to_owned()),
        )),
        max_open_positions: None,
        enabled: true,
        params: request.params.clone(),
        account: None,
    }
}

/// The `[[strategies]]` TOML of the strategy tested, serialized from a [`StrategyConfig`].
pub(crate) fn config_snippet(form: &SimForm, request: &BacktestRequest) -> String {
    let config = strategy_config(form, request);
    toml::to_string(&ConfigFile {
        strategies: [&config],
    })
    .unwrap_or_else(|e| format!("# the strategy could not be written as TOML: {e}"))
}

/// The headline statistics a saved single backtest keeps.
pub(crate) fn single_summary(result: &BacktestResult, currency: &str) -> Value {
    let s = &result.stats;
    json!({
        "kind": "backtest",
        "currency": currency,
        "return_pct": s.return_pct,
        "max_drawdown_pct": s.max_drawdown_pct,
        "sharpe_ratio": s.sharpe_ratio,
        "trades": s.trades,
        "win_rate_pct": s.win_rate_pct,
        "final_equity": result.final_equity,
    })
}

/// A saved result's headline for people, from its summary.
pub(crate) fn summary_text(summary: &Value) -> String {
    let number = |key: &str| summary.get(key).and_then(Value::as_f64);
    match summary.get("kind").and_then(Value::as_str) {
        Some("backtest") => {
            let currency = summary
                .get("currency")
                .and_then(Value::as_str)
                .unwrap_or("(quote)");
            let mut parts = vec![
                format!(
                    "Return {}",
                    stat_text("return_pct", number("return_pct"), currency)
                ),
                format!(
                    "max. drawdown {}",
                    stat_text("max_drawdown_pct", number("max_drawdown_pct"), currency)
                ),
                format!("{} trades", number("trades").map_or(0, |n| n as u64)),
            ];
            if let Some(equity) = summary
                .get("final_equity")
                .and_then(Value::as_str)
                .and_then(|t| t.parse::<Decimal>().ok())
            {
                parts.push(format!("final equity {}", format::money(equity, currency)));
            }
            parts.join(", ")
        }
        Some("sweep") => {
            let key = summary.get("rank_by").and_then(Value::as_str).unwrap_or("");
            let best = summary.get("best");
            let point = best
                .and_then(|b| b.get("point"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let value = best.and_then(|b| b.get("value")).and_then(Value::as_f64);
            format!(
                "Sweep of {} combinations; best {} {} at {point}",
                number("combinations").map_or(0, |n| n as u64),
                Statistics::label(key).unwrap_or(key),
                stat_text(key, value, "")
            )
        }
        _ => "no summary".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_reasons_in_the_breakdown_read_as_in_the_trades_table() {
        assert_eq!(exit_reason_text("stop_loss"), "stop-loss");
        assert_eq!(exit_reason_text("signal"), "exit rule");
        assert_eq!(exit_reason_text("not_a_reason"), "not_a_reason");
    }

    #[test]
    fn statistics_are_formatted_with_currency_sign_and_days() {
        assert_eq!(
            stat_text("equity_final", Some(10512.345), "USD"),
            "10,512.35 USD"
        );
        assert_eq!(stat_text("return_pct", Some(5.123), "USD"), "+5.12 %");
        assert_eq!(stat_text("max_drawdown_pct", Some(-3.0), "USD"), "-3.00 %");
        assert_eq!(
            stat_text("max_trade_duration_days", Some(12.0), ""),
            "12 days"
        );
        assert_eq!(stat_text("sortino_ratio", Some(f64::INFINITY), ""), "∞");
        assert_eq!(stat_text("sharpe_ratio", None, ""), "n/a");
        assert_eq!(stat_text("trades", Some(7.0), ""), "7");
        assert_eq!(stat_text("equity_peak", Some(1234.5), ""), "1,234.50");
    }

    #[test]
    fn summaries_read_back_as_headlines() {
        let text = summary_text(&json!({
            "kind": "backtest", "currency": "USD", "return_pct": 12.5,
            "max_drawdown_pct": -4.25, "trades": 3, "final_equity": "11250.5"
        }));
        assert_eq!(
            text,
            "Return +12.50 %, max. drawdown -4.25 %, 3 trades, final equity 11,250.50 USD"
        );
        let text = summary_text(&json!({
            "kind": "sweep", "combinations": 9, "rank_by": "return_pct",
            "best": {"point": "fast=5, slow=20", "value": 7.0}
        }));
        assert_eq!(
            text,
            "Sweep of 9 combinations; best Return [%] +7.00 % at fast=5, slow=20"
        );
        assert_eq!(summary_text(&json!({})), "no summary");
    }
}
