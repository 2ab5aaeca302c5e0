//! How results are shown: aligned tables for people, JSON for programs, a progress bar on a terminal.

use std::io::IsTerminal;

use barter_core::{Candle, Instrument, InstrumentSync, Run, RunReport};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use barter_service::sync::SyncProgress;

pub(super) fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

/// Prints rows as a left-aligned table under a header.
pub(super) fn table(header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        outln!("{}", padded.join("  ").trim_end())
    };
    line(header.iter().map(|h| (*h).to_owned()).collect())?;
    for row in rows {
        line(row.clone())?;
    }
    Ok(())
}

/// Prints instruments.
pub fn instruments(json: bool, instruments: &[Instrument]) -> anyhow::Result<()> {
    if json {
        return print_json(instruments);
    }
    if instruments.is_empty() {
        outln!("no instruments registered; try `barter quickstart` or `barter instruments add`")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = instruments
        .iter()
        .map(|i| {
            vec![
                i.symbol.to_string(),
                i.name.clone(),
                i.quote_currency.clone(),
                i.source.to_string(),
                i.source_id.clone(),
                i.calendar.to_string(),
                if i.active { "yes" } else { "no" }.to_owned(),
            ]
        })
        .collect();
    table(
        &[
            "SYMBOL",
            "NAME",
            "QUOTE",
            "SOURCE",
            "SOURCE ID",
            "CALENDAR",
            "ACTIVE",
        ],
        &rows,
    )?;
    Ok(())
}

/// Prints candles.
pub fn candles(json: bool, candles: &[Candle]) -> anyhow::Result<()> {
    if json {
        return print_json(candles);
    }
    let rows: Vec<Vec<String>> = candles
        .iter()
        .map(|c| {
            vec![
                c.day().to_string(),
                c.open().to_string(),
                c.high().to_string(),
                c.low().to_string(),
                c.close().to_string(),
                c.volume().to_string(),
                if c.is_complete() { "yes" } else { "no" }.to_owned(),
                c.origin().to_string(),
            ]
        })
        .collect();
    table(
        &[
            "DAY", "OPEN", "HIGH", "LOW", "CLOSE", "VOLUME", "COMPLETE", "ORIGIN",
        ],
        &rows,
    )?;
    outln!("{} candle(s)", candles.len())?;
    Ok(())
}

/// Prints recent runs.
pub fn runs(json: bool, runs: &[Run]) -> anyhow::Result<()> {
    if json {
        return print_json(runs);
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.kind.as_str().to_owned(),
                r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                r.finished_at
                    .map(|t| format!("{:.1}s", (t - r.started_at).as_seconds_f64()))
                    .unwrap_or_else(|| "-".into()),
                r.status.to_string(),
                r.counts
                    .iter()
                    .filter(|(_, v)| **v > 0)
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        })
        .collect();
    table(
        &["RUN", "KIND", "STARTED (UTC)", "TOOK", "STATUS", "COUNTS"],
        &rows,
    )?;
    Ok(())
}

fn range(range: Option<(barter_core::Day, barter_core::Day)>) -> String {
    range
        .map(|(a, b)| format!("{a}..{b}"))
        .unwrap_or_else(|| "-".into())
}

/// Prints a sync run: one line per instrument, then totals and every error.
pub fn sync_run(json: bool, run: &Run) -> anyhow::Result<()> {
    if json {
        return print_json(run);
    }
    let items: &[InstrumentSync] = match &run.report {
        Some(RunReport::SyncData(items)) => items,
        _ => &[],
    };
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|r| {
            vec![
                r.symbol.to_string(),
                r.added.to_string(),
                r.updated.to_string(),
                r.unchanged.to_string(),
                range(r.fetched_range),
                range(r.stored_range),
                if r.gaps.is_empty() {
                    "0".into()
                } else {
                    r.gaps.missing.to_string()
                },
                if r.error.is_some() {
                    "FAILED"
                } else if r.conflicts.is_empty() {
                    "ok"
                } else {
                    "CONFLICTS"
                }
                .to_owned(),
            ]
        })
        .collect();
    table(
        &[
            "INSTRUMENT",
            "ADDED",
            "UPDATED",
            "UNCHANGED",
            "FETCHED DAYS",
            "STORED DAYS",
            "MISSING DAYS",
            "STATUS",
        ],
        &rows,
    )?;
    let count = |k: &str| run.counts.get(k).copied().unwrap_or(0);
    outln!(
        "run {} {}: {} instrument(s), {} failed; candles added {}, updated {}, unchanged {}",
        run.id,
        run.status,
        count("instruments"),
        count("failed"),
        count("candles_added"),
        count("candles_updated"),
        count("candles_unchanged")
    )?;
    for item in items.iter().filter(|r| !r.gaps.is_empty()) {
        let examples: Vec<String> = item.gaps.examples.iter().map(ToString::to_string).collect();
        outln!(
            "gaps: {} is missing {} trading day(s), e.g. {}",
            item.symbol,
            item.gaps.missing,
            examples.join(", ")
        )?;
    }
    for error in &run.errors {
        outln!("error: {error}")?;
    }
    Ok(())
}

/// A progress bar on an interactive terminal, one log line per instrument otherwise.
pub struct ProgressReporter {
    bar: Option<ProgressBar>,
}

impl ProgressReporter {
    /// Chooses the bar or log lines depending on whether stderr is a terminal.
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} syncing [{bar:30}] {pos}/{len} {msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self { bar }
    }
}

impl barter_service::jobs::JobSignals for ProgressReporter {}

impl SyncProgress for ProgressReporter {
    fn start(&self, total: usize) {
        match &self.bar {
            Some(bar) => bar.set_length(total as u64),
            None => tracing::info!("syncing {total} instrument(s)"),
        }
    }

    fn instrument_done(&self, report: &InstrumentSync) {
        let symbol = report.symbol.to_string();
        match &self.bar {
            Some(bar) => {
                bar.set_message(symbol);
                bar.inc(1);
            }
            None => match &report.error {
                None => tracing::info!(
                    "{symbol}: added {}, updated {}, unchanged {}, stored {}",
                    report.added,
                    report.updated,
                    report.unchanged,
                    range(report.stored_range)
                ),
                Some(error) => tracing::warn!("{symbol}: failed: {error}"),
            },
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The kill switch's state after `barter halt` or `barter resume`.
pub fn halt(json: bool, state: &barter_store::TradingHalt) -> anyhow::Result<()> {
    if json {
        return print_json(state);
    }
    outln!("{}", barter_service::halt::describe(state))?;
    Ok(())
}

/// The orders of `barter orders`: one row each, fills summed.
pub fn orders(json: bool, orders: &[barter_service::views::OrderView]) -> anyhow::Result<()> {
    if json {
        return print_json(orders);
    }
    if orders.is_empty() {
        outln!("no orders yet: every trade, paper or at a venue, is listed here once made")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = orders
        .iter()
        .map(|o| {
            let r = &o.record;
            let side = match r.decision.side {
                barter_core::Side::Buy => "buy",
                barter_core::Side::Sell => "sell",
            };
            vec![
                r.id.map(|id| id.to_string()).unwrap_or_default(),
                r.account.clone(),
                r.decision.strategy.clone(),
                r.decision.symbol.to_string(),
                r.decision.day.to_string(),
                side.to_owned(),
                r.amount.to_string(),
                r.state.as_str().to_owned(),
                o.filled_quantity.to_string(),
                o.average_price
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.client_order_id.to_string(),
                r.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &[
            "ORDER",
            "ACCOUNT",
            "STRATEGY",
            "SYMBOL",
            "DAY",
            "SIDE",
            "AMOUNT",
            "STATE",
            "FILLED",
            "AVG PRICE",
            "CLIENT ORDER ID",
            "REASON",
        ],
        &rows,
    )?;
    Ok(())
}

/// `barter accounts`: one line per account.
pub fn accounts(
    json: bool,
    reports: &[barter_service::reconcile::AccountReport],
) -> anyhow::Result<()> {
    if json {
        return print_json(reports);
    }
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.venue.clone(),
                if r.live { "LIVE" } else { "test" }.to_owned(),
                if r.can_trade { "yes" } else { "no" }.to_owned(),
                barter_service::reconcile::cash_line(r),
                r.open_positions.to_string(),
                match (&r.error, r.drift.len()) {
                    (Some(error), _) => format!("cannot read: {error}"),
                    (None, 0) => "reconciled".to_owned(),
                    (None, n) => format!("{n} asset(s) drift: `barter reconcile`"),
                },
            ]
        })
        .collect();
    table(
        &[
            "ACCOUNT",
            "VENUE",
            "MODE",
            "CAN TRADE",
            "CASH",
            "OPEN",
            "DRIFT",
        ],
        &rows,
    )?;
    Ok(())
}

/// `barter reconcile`: every drift of every account, or that all is reconciled.
pub fn reconcile(
    json: bool,
    reports: &[barter_service::reconcile::AccountReport],
) -> anyhow::Result<()> {
    if json {
        return print_json(reports);
    }
    for r in reports {
        match (&r.error, r.drift.is_empty()) {
            (Some(error), _) => outln!("{}: the venue could not be read: {error}", r.name)?,
            (None, true) if r.venue == barter_core::order::PAPER => {
                outln!(
                    "{}: the ledger is the paper venue's book; nothing to compare",
                    r.name
                )?;
            }
            (None, true) => outln!(
                "{}: reconciled ({} open position(s) match the venue)",
                r.name,
                r.open_positions
            )?,
            (None, false) => {
                outln!(
                    "{}: {} asset(s) drift (nothing is traded to fix it):",
                    r.name,
                    r.drift.len()
                )?;
                for d in &r.drift {
                    let symbols: Vec<String> = d.symbols.iter().map(ToString::to_string).collect();
                    outln!(
                        "  {} ledger {} venue {} difference {}{}: {}",
                        d.asset,
                        d.ledger,
                        d.venue,
                        d.difference,
                        if symbols.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", symbols.join(", "))
                        },
                        d.note
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// The shadow-fill lines under `barter orders`: how far the venues' fills were from the paper
/// model's, per strategy and in total (nothing when no venue order was booked).
pub fn shadow_summary(
    (per_strategy, total): &(
        std::collections::BTreeMap<String, barter_core::order::ShadowSummary>,
        barter_core::order::ShadowSummary,
    ),
) -> anyhow::Result<()> {
    if total.orders == 0 {
        return Ok(());
    }
    let line = |s: &barter_core::order::ShadowSummary| {
        format!(
            "{} order(s), mean slippage {} bps, cost beyond the paper model {}",
            s.orders,
            s.mean_slippage_bps
                .map_or_else(|| "-".to_owned(), |b| b.to_string()),
            s.cost_difference
        )
    };
    outln!("\nshadow fills (venue vs the paper fill model; positive: reality was dearer):")?;
    for (strategy, summary) in per_strategy {
        outln!("  {strategy}: {}", line(summary))?;
    }
    outln!("  total: {}", line(total))?;
    Ok(())
}
