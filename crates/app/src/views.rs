//! What Barter shows about its trading, built once for the CLI's tables and the API's JSON:
//! positions with their P&L at the latest close, the account, and a position's explanation.

use barter_core::{Fill, Money, Position, PositionId, Price};
use barter_store::Store;
use barter_store::trading::{AccountState, DecisionFilter, DecisionRecord};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::trading::marks;

/// A position with its status and P&L: unrealized at the latest complete close while open.
#[derive(Debug, Clone, Serialize)]
pub struct PositionView {
    /// The position as stored.
    #[serde(flatten)]
    pub position: Position,
    /// `open` or `closed`.
    pub status: &'static str,
    /// The latest complete close of an open position's instrument.
    pub mark: Option<Price>,
    /// P&L at `mark`, for an open position.
    pub unrealized_pnl: Option<Money>,
    /// P&L of a closed position.
    pub realized_pnl: Option<Money>,
}

/// `positions` with their P&L at the latest complete closes.
///
/// # Errors
/// A database failure.
pub async fn positions(
    store: &Store,
    positions: Vec<Position>,
) -> anyhow::Result<Vec<PositionView>> {
    let marks = marks(store, &positions).await?;
    Ok(positions
        .into_iter()
        .map(|p| {
            let mark = p.is_open().then(|| marks.get(&p.symbol).copied()).flatten();
            PositionView {
                status: if p.is_open() { "open" } else { "closed" },
                mark,
                unrealized_pnl: mark.map(|m| p.unrealized_pnl(m)),
                realized_pnl: p.realized_pnl(),
                position: p,
            }
        })
        .collect())
}

/// The paper account: cash, holdings at the latest closes, equity and P&L.
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    /// The cash the account started with.
    pub initial_cash: Money,
    /// Cash now.
    pub cash: Money,
    /// Open positions at their latest complete close (the entry price without one).
    pub holdings: Money,
    /// Cash plus holdings.
    pub equity: Money,
    /// P&L of the closed positions.
    pub realized_pnl: Money,
    /// P&L of the open positions at their marks.
    pub unrealized_pnl: Money,
    /// How many positions are open.
    pub open_positions: usize,
    /// How many positions are closed.
    pub closed_positions: usize,
}

/// The account; before the first trade there is no account row yet, and it is shown as the
/// account that will be created, with `initial_cash`. Reads only.
///
/// # Errors
/// A database failure.
pub async fn account(store: &Store, initial_cash: Money) -> anyhow::Result<AccountView> {
    let state = store.account().await?.unwrap_or(AccountState {
        initial_cash,
        cash: initial_cash,
    });
    let all = store.positions(None).await?;
    let marks = marks(store, &all).await?;
    let open: Vec<&Position> = all.iter().filter(|p| p.is_open()).collect();
    let mark = |p: &Position| marks.get(&p.symbol).copied().unwrap_or(p.entry_price);
    let holdings: Decimal = open.iter().map(|p| p.market_value(mark(p)).0).sum();
    Ok(AccountView {
        initial_cash: state.initial_cash,
        cash: state.cash,
        holdings: Money(holdings),
        equity: Money(state.cash.0 + holdings),
        realized_pnl: Money(
            all.iter()
                .filter_map(Position::realized_pnl)
                .map(|m| m.0)
                .sum(),
        ),
        unrealized_pnl: Money(open.iter().map(|p| p.unrealized_pnl(mark(p)).0).sum()),
        open_positions: open.len(),
        closed_positions: all.len() - open.len(),
    })
}

/// Why a position was opened and closed: its decisions (with the values that decided them,
/// oldest first) and its fills.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The position.
    pub position: Position,
    /// The decisions that opened and closed it.
    pub decisions: Vec<DecisionRecord>,
    /// Its fills, opening first.
    pub fills: Vec<Fill>,
}

/// The explanation of position `id`; `None` when there is no such position.
///
/// # Errors
/// A database failure.
pub async fn explanation(store: &Store, id: PositionId) -> anyhow::Result<Option<Explanation>> {
    let Some(position) = store.position(id).await? else {
        return Ok(None);
    };
    let filter = DecisionFilter {
        position: Some(id),
        ..DecisionFilter::default()
    };
    let mut decisions = store.decisions(&filter).await?;
    decisions.sort_by_key(|d| d.id);
    let fills = store.fills_of(id).await?;
    Ok(Some(Explanation {
        position,
        decisions,
        fills,
    }))
}
