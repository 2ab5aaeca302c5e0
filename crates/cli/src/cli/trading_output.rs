//! How trading results are shown: decision runs, positions, the account, history, explanations.

use barter_core::strategy::StrategyConfig;
use barter_core::{Day, Money, Position, Run, RunReport};
use barter_store::HistoryEntry;
use barter_store::Store;
use serde::Serialize;

use super::output::{print_json, table};
use barter_service::views::{self, Explanation};

/// Money for people: two decimals (JSON keeps every digit).
fn cash(m: Money) -> String {
    m.0.round_dp(2).to_string()
}

/// Prints a trade or close run: one line per decision, then the counts.
pub fn decision_run(json: bool, run: &Run) -> anyhow::Result<()> {
    if json {
        return print_json(run);
    }
    let items = match &run.report {
        Some(RunReport::SyncNewTrades(items) | RunReport::SyncClosePositions(items)) => {
            items.as_slice()
        }
        _ => &[],
    };
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                i.strategy.clone(),
                i.symbol.to_string(),
                i.day.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
                i.outcome.clone(),
                i.position
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "-".into()),
                i.explanation.clone(),
            ]
        })
        .collect();
    table(
        &[
            "STRATEGY",
            "INSTRUMENT",
            "DAY",
            "OUTCOME",
            "POSITION",
            "WHY",
        ],
        &rows,
    )?;
    run_summary(run, "")?;
    Ok(())
}

/// One line per run with its non-zero counts, then its errors (indented by `indent`).
fn run_summary(run: &Run, indent: &str) -> std::io::Result<()> {
    let counts: Vec<String> = run
        .counts
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    outln!(
        "run {} {} {}: {}",
        run.id,
        run.kind.as_str(),
        run.status,
        counts.join(", ")
    )?;
    for error in &run.errors {
        outln!("{indent}error: {error}")?;
    }
    Ok(())
}

/// Prints the three runs of a daily job.
pub fn daily(json: bool, runs: &[&Run]) -> anyhow::Result<()> {
    if json {
        return print_json(runs);
    }
    for run in runs {
        run_summary(run, "  ")?;
    }
    Ok(())
}

/// One replayed day, summarised.
#[derive(Debug, Serialize)]
pub struct ReplayDay {
    day: Day,
    candles_added: u64,
    opened: u64,
    closed: u64,
    runs: [i64; 3],
    errors: Vec<String>,
}

impl ReplayDay {
    /// The summary of one day's sync, trade and close runs.
    pub fn new(day: Day, sync: &Run, trade: &Run, close: &Run) -> Self {
        let get = |run: &Run, key: &str| run.counts.get(key).copied().unwrap_or(0);
        Self {
            day,
            candles_added: get(sync, "candles_added"),
            opened: get(trade, "opened"),
            closed: get(close, "closed"),
            runs: [sync.id.0, trade.id.0, close.id.0],
            errors: [sync, trade, close]
                .iter()
                .flat_map(|r| r.errors.iter().cloned())
                .collect(),
        }
    }
}

/// Prints a replay: the days on which something traded, and every error.
pub fn replay(json: bool, days: &[ReplayDay]) -> anyhow::Result<()> {
    if json {
        return print_json(days);
    }
    let active: Vec<&ReplayDay> = days
        .iter()
        .filter(|d| d.opened + d.closed > 0 || !d.errors.is_empty())
        .collect();
    let rows: Vec<Vec<String>> = active
        .iter()
        .map(|d| {
            vec![
                d.day.to_string(),
                d.candles_added.to_string(),
                d.opened.to_string(),
                d.closed.to_string(),
                d.errors.join("; "),
            ]
        })
        .collect();
    table(
        &["DAY", "CANDLES ADDED", "OPENED", "CLOSED", "ERRORS"],
        &rows,
    )?;
    let (opened, closed): (u64, u64) = days
        .iter()
        .fold((0, 0), |(o, c), d| (o + d.opened, c + d.closed));
    outln!(
        "replayed {} day(s): {opened} position(s) opened, {closed} closed",
        days.len()
    )?;
    Ok(())
}

/// Lists the configured strategies.
pub fn strategies(json: bool, configs: &[StrategyConfig]) -> anyhow::Result<()> {
    if json {
        return print_json(configs);
    }
    let rows: Vec<Vec<String>> = configs
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                if c.enabled { "yes" } else { "no" }.into(),
                serde_json::to_string(&c.instruments).unwrap_or_default(),
                c.entry.clone(),
                c.exit.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(&["NAME", "ENABLED", "INSTRUMENTS", "ENTRY", "EXIT"], &rows)?;
    Ok(())
}

/// Prints positions; open ones with their unrealized P&L at the latest complete close.
pub async fn positions(json: bool, store: &Store, positions: Vec<Position>) -> anyhow::Result<()> {
    let lines = views::positions(store, positions).await?;
    if json {
        return print_json(&lines);
    }
    if lines.is_empty() {
        outln!("no positions")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            let p = &l.position;
            vec![
                p.id.to_string(),
                p.strategy.clone(),
                p.symbol.to_string(),
                l.status.to_owned(),
                p.quantity.to_string(),
                format!("{} on {}", p.entry_price, p.entry_day),
                p.exit
                    .as_ref()
                    .map(|e| format!("{} on {} ({:?})", e.price, e.day, e.reason))
                    .unwrap_or_else(|| "-".into()),
                l.pnl().map(cash).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "STRATEGY",
            "INSTRUMENT",
            "STATUS",
            "QUANTITY",
            "ENTRY",
            "EXIT",
            "P&L",
        ],
        &rows,
    )?;
    Ok(())
}

/// Prints the account: cash, holdings at the latest closes, equity and P&L.
pub async fn account(json: bool, store: &Store, initial_cash: Money) -> anyhow::Result<()> {
    let view = views::account(store, initial_cash).await?;
    if json {
        return print_json(&view);
    }
    let rows = vec![
        vec!["initial cash".into(), cash(view.initial_cash)],
        vec!["cash".into(), cash(view.cash)],
        vec!["holdings (latest closes)".into(), cash(view.holdings)],
        vec!["equity".into(), cash(view.equity)],
        vec!["realized P&L".into(), cash(view.realized_pnl)],
        vec!["unrealized P&L".into(), cash(view.unrealized_pnl)],
        vec![
            "positions".into(),
            format!(
                "{} open, {} closed",
                view.open_positions, view.closed_positions
            ),
        ],
    ];
    table(&["ACCOUNT", "VALUE"], &rows)?;
    Ok(())
}

/// Prints history entries, newest first.
pub fn history(json: bool, entries: &[HistoryEntry]) -> anyhow::Result<()> {
    if json {
        return print_json(entries);
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            // Decision entries nest the decision's own detail; show its explanation first.
            let explanation = e
                .detail
                .get("explanation")
                .or_else(|| e.detail.get("detail").and_then(|d| d.get("explanation")))
                .and_then(|v| v.as_str());
            let detail = explanation.map_or_else(|| e.detail.to_string(), str::to_owned);
            vec![
                e.id.to_string(),
                e.recorded_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                e.kind.clone(),
                e.symbol
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                e.strategy.clone().unwrap_or_default(),
                detail.chars().take(120).collect(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "RECORDED (UTC)",
            "KIND",
            "INSTRUMENT",
            "STRATEGY",
            "DETAIL",
        ],
        &rows,
    )?;
    Ok(())
}

/// Prints why a position was opened and closed, with the values that decided it.
pub fn explain(json: bool, explanation: &Explanation) -> anyhow::Result<()> {
    if json {
        return print_json(explanation);
    }
    let Explanation {
        position,
        decisions,
        fills,
        orders,
    } = explanation;
    outln!(
        "position {}: {} {} by strategy {}, {}",
        position.id,
        position.quantity,
        position.symbol,
        position.strategy,
        if position.is_open() { "open" } else { "closed" }
    )?;
    for d in decisions {
        outln!(
            "\n{} decision on the close of {} ({:?}):",
            d.kind.as_str(),
            d.day,
            d.outcome
        )?;
        if let Some(why) = d.detail.get("explanation").and_then(|v| v.as_str()) {
            outln!("  {why}")?;
        }
        if let Some(reason) = d.detail.get("reason").and_then(|v| v.as_str()) {
            outln!("  exit reason: {reason}")?;
        }
        if let Some(values) = d.detail.get("values").and_then(|v| v.as_object()) {
            for (name, value) in values {
                outln!("  {name} = {value}")?;
            }
        }
    }
    for f in fills {
        outln!(
            "\nfill: {:?} {} at {} on {} ({:?}), gross {}, fee {}",
            f.side,
            f.quantity,
            f.price,
            f.day,
            f.basis,
            f.gross,
            f.fee
        )?;
    }
    for o in orders {
        let r = &o.record;
        outln!(
            "\norder {} ({}): {:?} {} for account {}, {} fill(s), average price {}, client order id {}",
            r.id.map(|id| id.to_string()).unwrap_or_default(),
            r.state.as_str(),
            r.decision.side,
            o.filled_quantity,
            r.account,
            r.fills.len(),
            o.average_price
                .map_or_else(|| "no price yet".to_owned(), |p| p.to_string()),
            r.client_order_id
        )?;
    }
    if let Some(pnl) = position.realized_pnl() {
        outln!("\nrealized P&L: {pnl}")?;
    }
    Ok(())
}
