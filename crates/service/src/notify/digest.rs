//! The daily digest: after the day's close job, one notification with the paper account's
//! equity and P&L (the day's and in total), its open positions, what the day's runs did, and
//! what needs attention. Keyed by the UTC day, so a second close job the same day adds nothing.

use barter_core::notify::{EventKind, Notification, Severity};
use barter_core::{Day, RunReport, RunStatus};
use barter_store::Store;
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::views::Ledger;

/// The most open positions the digest lists one by one.
const LISTED_POSITIONS: usize = 10;

/// Builds the digest of the day of `now` (UTC) and stores it in the outbox; returns whether it
/// was new. Nothing is built when no channel is configured.
///
/// # Errors
/// A database failure.
pub async fn enqueue(store: &Store, config: &Config, now: DateTime<Utc>) -> anyhow::Result<bool> {
    if config.notify.is_empty() {
        return Ok(false);
    }
    let names: Vec<&str> = config.notify.iter().map(|c| c.name.as_str()).collect();
    let failing: Vec<String> = store
        .channel_health(&names)
        .await?
        .iter()
        .filter(|h| h.failing())
        .map(super::describe)
        .collect();
    let n = build(store, config, now, &failing).await?;
    Ok(store.enqueue_notification(&n).await?.is_some())
}

/// The digest of the day of `now`.
///
/// # Errors
/// A database failure.
pub async fn build(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
    failing: &[String],
) -> anyhow::Result<Notification> {
    let today: Day = now.date_naive();
    let ledger = Ledger::load(store, barter_core::Money(config.account.initial_cash)).await?;
    let account = ledger.account();
    let curve = ledger.equity_curve(store).await?;
    // The day's P&L: the equity's change from the point before the latest one.
    let day_pnl = match curve.as_slice() {
        [.., before, last] => Some((last.equity.0 - before.equity.0, before.day)),
        _ => None,
    };
    let total = account.realized_pnl.0 + account.unrealized_pnl.0;
    let title = format!(
        "Daily digest {today}: equity {}{}, total P&L {}",
        account.equity.0.round_dp(2),
        day_pnl
            .map(|(pnl, _)| format!(" (today {})", signed(pnl.round_dp(2))))
            .unwrap_or_default(),
        signed(total.round_dp(2))
    );
    let mut n = Notification::new(EventKind::Digest, format!("digest:{today}"), title, now)
        .line(format!(
            "paper account: cash {}, holdings {}, equity {}",
            account.cash.0.round_dp(2),
            account.holdings.0.round_dp(2),
            account.equity.0.round_dp(2)
        ))
        .line(format!(
            "P&L: realized {}, unrealized {}{}",
            signed(account.realized_pnl.0.round_dp(2)),
            signed(account.unrealized_pnl.0.round_dp(2)),
            day_pnl
                .map(|(pnl, since)| format!(", since {since}: {}", signed(pnl.round_dp(2))))
                .unwrap_or_default()
        ));
    let open = ledger.open_positions();
    n = n.line(format!("open positions: {}", open.len()));
    for view in open.iter().take(LISTED_POSITIONS) {
        let p = &view.position;
        n = n.line(format!(
            "  {} {} {} @ {} (mark {}, P&L {})",
            p.strategy,
            p.symbol,
            p.quantity.0.normalize(),
            p.entry_price.0.normalize(),
            view.mark
                .map_or_else(|| "none".to_owned(), |m| m.0.normalize().to_string()),
            view.unrealized_pnl
                .map_or_else(String::new, |m| signed(m.0.round_dp(2)))
        ));
    }
    if open.len() > LISTED_POSITIONS {
        n = n.line(format!("  … and {} more", open.len() - LISTED_POSITIONS));
    }
    let mut attention: Vec<String> = Vec::new();
    let runs: Vec<barter_core::Run> = store
        .runs(50)
        .await?
        .into_iter()
        .filter(|run| run.started_at.date_naive() == today)
        .collect();
    let count = |outcome: &str| {
        runs.iter()
            .filter_map(|run| match &run.report {
                Some(RunReport::SyncNewTrades(items) | RunReport::SyncClosePositions(items)) => {
                    Some(items.iter().filter(|i| i.outcome == outcome).count())
                }
                _ => None,
            })
            .sum::<usize>()
    };
    n = n.line(format!(
        "today: {} opened, {} closed",
        count("opened"),
        count("closed")
    ));
    for run in runs.iter().rev() {
        n = n.line(format!(
            "run {} {}: {}",
            run.id.0,
            run.kind.as_str(),
            run.status.as_str()
        ));
        if matches!(run.status, RunStatus::Failed | RunStatus::Partial) {
            attention.push(format!(
                "the {} run {} {}: {}",
                run.kind.as_str(),
                run.id.0,
                run.status.as_str(),
                run.errors
                    .first()
                    .map_or("see `barter history`", String::as_str)
            ));
        }
        if let Some(RunReport::SyncNewTrades(items) | RunReport::SyncClosePositions(items)) =
            &run.report
        {
            for item in items
                .iter()
                .filter(|i| i.explanation.starts_with("stale data"))
            {
                attention.push(item.explanation.clone());
            }
        }
    }
    let halt = store.trading_halt().await?;
    if halt.halted {
        attention.push(format!(
            "new entries are halted{}: `barter resume` to trade again",
            halt.reason.map(|r| format!(" ({r})")).unwrap_or_default()
        ));
    }
    attention.extend(failing.iter().cloned());
    attention.dedup();
    if attention.is_empty() {
        n = n.line("needs attention: nothing");
    } else {
        n.severity = Severity::Warning;
        n = n.line(format!("needs attention ({}):", attention.len()));
        for item in &attention {
            n = n.line(format!("  {item}"));
        }
    }
    n.path = Some("/".to_owned());
    Ok(n)
}

/// `value` with its sign (`+12.5`, `-3`).
fn signed(value: rust_decimal::Decimal) -> String {
    if value.is_sign_negative() {
        value.to_string()
    } else {
        format!("+{value}")
    }
}
