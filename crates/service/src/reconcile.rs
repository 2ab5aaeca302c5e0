//! Reconciliation: each account the strategies trade through, its cash and holdings at its
//! venue, and the drift between them and the ledger (see [`crate::trading::drift`]). Nothing
//! is ever traded to make drift go away.

use barter_core::Symbol;
use barter_core::order::PAPER;
use barter_execution::VenueAsset;
use barter_store::Store;
use barter_store::trading::PositionStatus;
use rust_decimal::Decimal;

use crate::trading::Trading;
use crate::trading::drift::venue_report;
pub use crate::trading::drift::{AccountReport, Drift, cash_line};

/// Compares every account the strategies trade through with its venue; the paper account is
/// its own venue and never drifts.
///
/// # Errors
/// A database failure (a venue failure is the account's `error`).
pub async fn reconcile(store: &Store, trading: &Trading) -> anyhow::Result<Vec<AccountReport>> {
    let open = store.positions(Some(PositionStatus::Open)).await?;
    let accounts = store.open_position_accounts().await?;
    let account_of = |id| accounts.get(&id).map_or(PAPER, String::as_str);
    // Read, never created here: a report must not write.
    let paper_cash = store
        .account()
        .await?
        .map_or(trading.initial_cash, |account| account.cash);
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
    for (name, account) in &trading.accounts {
        let positions: Vec<(Symbol, Decimal)> = open
            .iter()
            .filter(|p| account_of(p.id) == name.as_str())
            .map(|p| (p.symbol.clone(), p.quantity.0))
            .collect();
        let report = match account {
            Ok(account) => venue_report(account, &positions).await,
            Err(error) => AccountReport {
                name: name.clone(),
                venue: "?".to_owned(),
                live: false,
                can_trade: false,
                cash: Vec::new(),
                holdings: Vec::new(),
                open_positions: positions.len(),
                drift: Vec::new(),
                error: Some(error.clone()),
            },
        };
        reports.push(report);
    }
    Ok(reports)
}
