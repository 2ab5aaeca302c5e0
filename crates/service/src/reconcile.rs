//! Reconciliation: each account the strategies trade through, its cash and holdings at its
//! venue, and the drift between them and the ledger (see [`crate::trading::drift`]). Nothing
//! is ever traded to make drift go away.

use std::collections::BTreeMap;
use std::time::Duration;

use barter_core::order::PAPER;
use barter_core::{Money, Symbol};
use barter_execution::VenueAsset;
use barter_store::Store;
use barter_store::trading::PositionStatus;
use rust_decimal::Decimal;

use crate::trading::drift::venue_report;
pub use crate::trading::drift::{AccountReport, Drift, cash_line};
use crate::trading::{Trading, TradingAccount};

/// Compares every account the strategies trade through with its venue; the paper account is
/// its own venue and never drifts. Each venue takes as long as its adapter's own timeouts and
/// retries allow; see [`reconcile_within`] for a bounded wait.
///
/// # Errors
/// A database failure (a venue failure is the account's `error`).
pub async fn reconcile(store: &Store, trading: &Trading) -> anyhow::Result<Vec<AccountReport>> {
    reconcile_bounded(store, trading.initial_cash, &trading.accounts, None).await
}

/// [`reconcile`], asking every venue at once and waiting at most `wait` for each: a venue that
/// has not answered by then is reported with that as its `error` (what a page or a monitoring
/// check that must answer quickly needs; the overview and `barter status` wait 5 s).
///
/// # Errors
/// A database failure (a venue failure or a venue too slow is the account's `error`).
pub async fn reconcile_within(
    store: &Store,
    trading: &Trading,
    wait: Duration,
) -> anyhow::Result<Vec<AccountReport>> {
    reconcile_bounded(store, trading.initial_cash, &trading.accounts, Some(wait)).await
}

/// The paper account's report alone (its `initial_cash` until it first trades), for when the
/// strategies, and so the venue accounts, cannot be built.
///
/// # Errors
/// A database failure.
pub async fn paper_only(store: &Store, initial_cash: Money) -> anyhow::Result<AccountReport> {
    let mut reports = reconcile_bounded(store, initial_cash, &BTreeMap::new(), None).await?;
    Ok(reports.remove(0))
}

/// The paper account's report, then each of `venues`', each waited for at most `wait`.
async fn reconcile_bounded(
    store: &Store,
    initial_cash: Money,
    venues: &BTreeMap<String, Result<TradingAccount, String>>,
    wait: Option<Duration>,
) -> anyhow::Result<Vec<AccountReport>> {
    let open = store.positions(Some(PositionStatus::Open)).await?;
    let accounts = store.open_position_accounts().await?;
    let account_of = |id| accounts.get(&id).map_or(PAPER, String::as_str);
    // Read, never created here: a report must not write.
    let paper_cash = store
        .account()
        .await?
        .map_or(initial_cash, |account| account.cash);
    let mut reports = vec![AccountReport {
        name: PAPER.to_owned(),
        venue: PAPER.to_owned(),
        live: false,
        can_trade: true,
        cash: vec![VenueAsset {
            asset: "cash".to_owned(),
            free: paper_cash.0,
            locked: Decimal::ZERO,
        }],
        holdings: Vec::new(),
        open_positions: open.iter().filter(|p| account_of(p.id) == PAPER).count(),
        drift: Vec::new(),
        error: None,
    }];
    let venue_reports = venues.iter().map(|(name, account)| {
        let positions: Vec<(Symbol, Decimal)> = open
            .iter()
            .filter(|p| account_of(p.id) == name.as_str())
            .map(|p| (p.symbol.clone(), p.quantity.0))
            .collect();
        async move {
            let unreadable = |error: String| AccountReport {
                name: name.clone(),
                venue: "?".to_owned(),
                live: false,
                can_trade: false,
                cash: Vec::new(),
                holdings: Vec::new(),
                open_positions: positions.len(),
                drift: Vec::new(),
                error: Some(error),
            };
            let account = match account {
                Ok(account) => account,
                Err(error) => return unreadable(error.clone()),
            };
            let read = venue_report(account, &positions);
            let Some(wait) = wait else {
                return read.await;
            };
            match tokio::time::timeout(wait, read).await {
                Ok(report) => report,
                Err(_) => AccountReport {
                    venue: account.venue.name().to_owned(),
                    live: account.venue.is_live(),
                    ..unreadable(format!(
                        "the venue did not answer within {} s; `barter accounts` waits for it",
                        wait.as_secs()
                    ))
                },
            }
        }
    });
    reports.extend(futures_util::future::join_all(venue_reports).await);
    Ok(reports)
}
