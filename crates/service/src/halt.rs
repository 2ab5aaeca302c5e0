//! The kill switch as the CLI, the API and the dashboard use it: halting stops every new entry
//! of every process sharing the database at once; exits and reconciliation continue. A halted
//! day's passing entries are recorded as skipped (with why) and are not taken later that day:
//! resuming trades from the next decision on, never at prices that moved meanwhile.

use barter_core::Symbol;
use barter_store::{Store, TradingHalt};
use chrono::{DateTime, Utc};

/// The longest halt reason kept, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// A halt reason longer than [`MAX_REASON_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the halt reason has {chars} characters; at most {MAX_REASON_CHARS} are kept")]
pub struct ReasonTooLong {
    /// How many characters it has.
    pub chars: usize,
}

/// Checks a halt reason before anything is written (the CLI, the API and the dashboard all
/// refuse with this one message).
///
/// # Errors
/// [`ReasonTooLong`].
pub fn check_reason(reason: Option<&str>) -> Result<(), ReasonTooLong> {
    match reason.map(|r| r.chars().count()) {
        Some(chars) if chars > MAX_REASON_CHARS => Err(ReasonTooLong { chars }),
        _ => Ok(()),
    }
}

/// Halts new entries for every process sharing `store`, saying why; `by` names the caller
/// (`cli`, `api`, `dashboard`). Halting twice keeps the first reason.
///
/// # Errors
/// [`ReasonTooLong`], or a database failure.
pub async fn halt(
    store: &Store,
    reason: Option<&str>,
    by: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<TradingHalt> {
    check_reason(reason)?;
    // Control characters (a terminal escape, a newline) would garble the CLI's one-line state
    // and the logs: each becomes a space.
    let reason = reason.map(|r| {
        r.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
    });
    let state = store
        .set_trading_halt(true, reason.as_deref(), by, now)
        .await?;
    tracing::warn!(
        "new entries halted by {by}{}",
        state
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    );
    Ok(state)
}

/// Lets new entries through again; resuming when not halted changes nothing.
///
/// # Errors
/// A database failure.
pub async fn resume(store: &Store, by: &str, now: DateTime<Utc>) -> anyhow::Result<TradingHalt> {
    let state = store.set_trading_halt(false, None, by, now).await?;
    tracing::info!("new entries resumed by {by}");
    Ok(state)
}

/// One line saying whether entries are halted, for `barter halt`, `barter resume` and logs.
pub fn describe(state: &TradingHalt) -> String {
    if !state.halted {
        return "trading: new entries allowed".to_owned();
    }
    let since = state
        .changed_at
        .map(|at| format!(" since {}", at.format("%Y-%m-%d %H:%M UTC")))
        .unwrap_or_default();
    let by = state
        .changed_by
        .as_deref()
        .map(|by| format!(" by {by}"))
        .unwrap_or_default();
    let reason = state
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    format!(
        "trading HALTED{since}{by}{reason}; exits continue; `barter resume` to allow new entries"
    )
}

/// The explanation recorded for an entry that passed while halted.
pub fn refusal(strategy: &str, symbol: &Symbol, state: &TradingHalt) -> String {
    let reason = state
        .reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    format!(
        "entry of {strategy} on {symbol} passed but new entries are halted{reason}; \
         `barter resume` (or POST /api/resume) lets the next decision trade"
    )
}
