//! What Barter shows about its trading, built once for the CLI's tables, the API's JSON and the
//! dashboard: positions with their P&L at the latest close, the account and its equity over
//! time, and a position's explanation.

use std::collections::{BTreeMap, HashMap};

use barter_core::order::{PAPER, ShadowSummary};
use barter_core::{Day, Fill, Money, Position, PositionId, Price, Symbol};
use barter_store::Store;
use barter_store::trading::{
    AccountState, DecisionFilter, DecisionKind, DecisionOutcome, DecisionRecord,
};
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

impl PositionView {
    /// `position` with its P&L at the latest complete close of its instrument.
    ///
    /// # Errors
    /// A database failure.
    pub async fn of(store: &Store, position: Position) -> anyhow::Result<Self> {
        let marks = marks(store, std::slice::from_ref(&position)).await?;
        Ok(position_view(position, &marks))
    }

    /// The P&L now: realized once closed, unrealized at `mark` while open (`None` unpriced).
    pub fn pnl(&self) -> Option<Money> {
        self.realized_pnl.or(self.unrealized_pnl)
    }
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
        .map(|p| position_view(p, &marks))
        .collect())
}

/// `p` with its P&L at `marks` (the latest complete closes of the open positions' instruments).
fn position_view(p: Position, marks: &HashMap<Symbol, Price>) -> PositionView {
    let mark = p.is_open().then(|| marks.get(&p.symbol).copied()).flatten();
    PositionView {
        status: if p.is_open() { "open" } else { "closed" },
        mark,
        unrealized_pnl: mark.map(|m| p.unrealized_pnl(m)),
        realized_pnl: p.realized_pnl(),
        position: p,
    }
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
    Ok(Ledger::load(store, initial_cash).await?.account())
}

/// The account's state, every position and the latest complete closes of the open ones, read
/// once for a page that shows the account, its positions and its equity curve together.
#[derive(Debug, Clone)]
pub struct Ledger {
    /// Cash now and at the start (as it will be created, before the first trade).
    pub state: AccountState,
    /// Every position of the paper account, oldest first.
    pub positions: Vec<Position>,
    /// The latest complete close of each open position's instrument.
    pub marks: HashMap<Symbol, Price>,
}

impl Ledger {
    /// Reads the ledger; `initial_cash` stands in for the account before its first trade.
    ///
    /// # Errors
    /// A database failure.
    pub async fn load(store: &Store, initial_cash: Money) -> anyhow::Result<Self> {
        let state = store.account().await?.unwrap_or(AccountState {
            initial_cash,
            cash: initial_cash,
        });
        // The paper account's own positions: a venue account's cash is at its venue.
        let positions = store.account_positions(PAPER, None).await?;
        let marks = marks(store, &positions).await?;
        Ok(Self {
            state,
            positions,
            marks,
        })
    }

    /// The account: cash, holdings at the marks (the entry price without one), equity and P&L.
    pub fn account(&self) -> AccountView {
        let (state, all) = (&self.state, &self.positions);
        let open: Vec<&Position> = all.iter().filter(|p| p.is_open()).collect();
        let mark = |p: &Position| self.marks.get(&p.symbol).copied().unwrap_or(p.entry_price);
        let holdings = crate::trading::marked_value(open.iter().copied(), &self.marks);
        AccountView {
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
        }
    }

    /// The open positions with their P&L at the marks.
    pub fn open_positions(&self) -> Vec<PositionView> {
        self.positions
            .iter()
            .filter(|p| p.is_open())
            .map(|p| position_view(p.clone(), &self.marks))
            .collect()
    }

    /// The account's equity on every day from its first fill to its instruments' latest
    /// complete candle: the cash the fills left plus each open position at its instrument's
    /// latest complete close on or before the day (its entry price before its instrument has
    /// one). Empty before the first trade. Reads the candles of the traded instruments.
    ///
    /// # Errors
    /// A database failure.
    pub async fn equity_curve(&self, store: &Store) -> anyhow::Result<Vec<EquityPoint>> {
        equity_curve(store, self.state.initial_cash, &self.positions).await
    }
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
    /// The orders that opened and closed it (each with its fills), when they were recorded.
    pub orders: Vec<OrderView>,
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
    let fills = store.fills_of(id).await?;
    let mut orders = Vec::new();
    if let Some((account, entry, exit)) = store.position_orders(id).await?
        && account != PAPER
    {
        // A venue position: booked from its orders after they were sent, so its decisions
        // are found through the orders, not by position id.
        let ids: Vec<barter_core::order::OrderId> = entry.into_iter().chain(exit).collect();
        let mut shadows: HashMap<i64, barter_core::order::ShadowFill> = store
            .shadow_fills_of(&ids)
            .await?
            .into_iter()
            .map(|fill| (fill.order_id, fill))
            .collect();
        for (order_id, kind) in [(entry, DecisionKind::Entry), (exit, DecisionKind::Exit)] {
            let Some(order) = (match order_id {
                Some(order_id) => store.order(order_id).await?,
                None => None,
            }) else {
                continue;
            };
            let day = order.decision().day;
            decisions.extend(
                store
                    .decision_on(order.strategy(), order.symbol(), day, kind)
                    .await?,
            );
            let mut view = OrderView::of(&order);
            view.shadow = shadows
                .remove(&order.id().map_or(0, |id| id.0))
                .map(ShadowView::of);
            orders.push(view);
        }
        decisions.sort_by_key(|d| d.id);
        return Ok(Some(Explanation {
            position,
            decisions,
            fills,
            orders,
        }));
    }
    decisions.sort_by_key(|d| d.id);
    for decision in decisions
        .iter()
        .filter(|d| d.outcome == DecisionOutcome::Passed)
    {
        let side = match decision.kind {
            DecisionKind::Entry => barter_core::Side::Buy,
            DecisionKind::Exit => barter_core::Side::Sell,
        };
        let wanted = barter_core::order::Order::planned(
            barter_store::trading::PAPER_ACCOUNT,
            barter_core::order::DecisionRef {
                strategy: decision.strategy.clone(),
                symbol: decision.symbol.clone(),
                day: decision.day,
                side,
            },
            barter_core::order::OrderAmount::Quantity(position.quantity),
        )?;
        if let Some(order) = store.order_for_decision(&wanted).await? {
            orders.push(OrderView::of(&order));
        }
    }
    Ok(Some(Explanation {
        position,
        decisions,
        fills,
        orders,
    }))
}

/// The account's equity at the end of one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EquityPoint {
    /// The day.
    pub day: Day,
    /// Cash after the day's fills plus the open positions at the day's complete close.
    pub equity: Money,
}

/// See [`Ledger::equity_curve`].
async fn equity_curve(
    store: &Store,
    initial_cash: Money,
    positions: &[Position],
) -> anyhow::Result<Vec<EquityPoint>> {
    let Some(first) = positions.iter().map(|p| p.entry_day).min() else {
        return Ok(Vec::new());
    };
    // Per day, what happens: fills change cash and held quantities, closes change marks.
    #[derive(Default)]
    struct DayEvents {
        cash: Decimal,
        held: Vec<(usize, Decimal)>,
        closes: Vec<(usize, Price)>,
    }
    let mut symbols: Vec<Symbol> = positions.iter().map(|p| p.symbol.clone()).collect();
    symbols.sort();
    symbols.dedup();
    let slot: HashMap<&Symbol, usize> = symbols.iter().enumerate().map(|(i, s)| (s, i)).collect();
    let mut days: BTreeMap<Day, DayEvents> = BTreeMap::new();
    for (i, symbol) in symbols.iter().enumerate() {
        for candle in store.candles(symbol, Some(first), None).await? {
            if candle.is_complete() {
                days.entry(candle.day())
                    .or_default()
                    .closes
                    .push((i, candle.close()));
            }
        }
    }
    for position in positions {
        let i = slot[&position.symbol];
        let entry = days.entry(position.entry_day).or_default();
        entry.cash -= position.cost().0 + position.entry_fee.0;
        entry.held.push((i, position.quantity.0));
        if let Some(exit) = &position.exit {
            let exit_day = days.entry(exit.day).or_default();
            exit_day.cash += position.quantity.0 * exit.price.0 - exit.fee.0;
            exit_day.held.push((i, -position.quantity.0));
        }
    }
    let mut cash = initial_cash.0;
    let mut held = vec![Decimal::ZERO; symbols.len()];
    let mut marks: Vec<Option<Price>> = vec![None; symbols.len()];
    // Before an instrument's first close, its positions count at their entry price.
    let mut entry_marks: Vec<Option<Price>> = vec![None; symbols.len()];
    for position in positions {
        let mark = &mut entry_marks[slot[&position.symbol]];
        if mark.is_none() {
            *mark = Some(position.entry_price);
        }
    }
    let mut curve = Vec::with_capacity(days.len());
    for (day, events) in days {
        cash += events.cash;
        for (i, quantity) in events.held {
            held[i] += quantity;
        }
        for (i, close) in events.closes {
            marks[i] = Some(close);
        }
        let holdings: Decimal = held
            .iter()
            .zip(marks.iter().zip(&entry_marks))
            .filter(|(quantity, _)| !quantity.is_zero())
            .map(|(quantity, (mark, entry))| {
                quantity * mark.or(*entry).map_or(Decimal::ZERO, |p| p.0)
            })
            .sum();
        curve.push(EquityPoint {
            day,
            equity: Money(cash + holdings),
        });
    }
    Ok(curve)
}

/// An order as the CLI, the API and the dashboard show it: the stored record, with the
/// quantity its fills add up to and their average price.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderView {
    /// The order as stored.
    #[serde(flatten)]
    pub record: barter_core::order::OrderRecord,
    /// The sum of the known fills' quantities.
    pub filled_quantity: barter_core::Quantity,
    /// The fills' average price, when there are fills.
    pub average_price: Option<Price>,
    /// For a booked venue order: the paper model's fill for the same decision, and how far
    /// the venue's was from it.
    pub shadow: Option<ShadowView>,
}

/// A venue fill next to its shadow (the paper model's fill), with the differences (positive:
/// reality was dearer).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowView {
    /// Both fills.
    #[serde(flatten)]
    pub fill: barter_core::order::ShadowFill,
    /// The price difference in basis points of the model's price.
    pub slippage_bps: Option<Decimal>,
    /// The venue's fee minus the model's for the same quantity.
    pub fee_difference: Option<Money>,
    /// The price difference times the quantity, plus the fee difference.
    pub cost_difference: Option<Money>,
}

impl ShadowView {
    /// The view of `fill`.
    pub fn of(fill: barter_core::order::ShadowFill) -> Self {
        Self {
            slippage_bps: fill.slippage_bps(),
            fee_difference: fill.fee_difference(),
            cost_difference: fill.cost_difference(),
            fill,
        }
    }
}

impl OrderView {
    /// The view of `order` (without its shadow: see [`orders`]).
    pub fn of(order: &barter_core::order::Order) -> Self {
        Self {
            record: order.record().clone(),
            filled_quantity: order.filled_quantity(),
            // An average beyond the decimal range cannot be shown exactly: left out.
            average_price: order.average_price().ok().flatten(),
            shadow: None,
        }
    }
}

/// The latest orders matching `filter`, newest first, as views.
///
/// # Errors
/// When the store cannot be read.
pub async fn orders(
    store: &Store,
    filter: &barter_store::OrderFilter,
) -> Result<Vec<OrderView>, barter_store::StoreError> {
    let orders = store.orders(filter).await?;
    let ids: Vec<barter_core::order::OrderId> = orders.iter().filter_map(|o| o.id()).collect();
    let mut shadows: HashMap<i64, barter_core::order::ShadowFill> = store
        .shadow_fills_of(&ids)
        .await?
        .into_iter()
        .map(|fill| (fill.order_id, fill))
        .collect();
    Ok(orders
        .iter()
        .map(|order| {
            let mut view = OrderView::of(order);
            view.shadow = order
                .id()
                .and_then(|id| shadows.remove(&id.0))
                .map(ShadowView::of);
            view
        })
        .collect())
}

/// The shadow fills of every booked venue order (of `account` when given), summed per
/// strategy and in total: how far the venues' fills were from the paper model's.
///
/// # Errors
/// When the store cannot be read.
pub async fn shadow_summary(
    store: &Store,
    account: Option<&str>,
) -> Result<(BTreeMap<String, ShadowSummary>, ShadowSummary), barter_store::StoreError> {
    let fills = store.shadow_fills(account).await?;
    let mut by_strategy: BTreeMap<String, Vec<&barter_core::order::ShadowFill>> = BTreeMap::new();
    for fill in &fills {
        by_strategy
            .entry(fill.strategy.clone())
            .or_default()
            .push(fill);
    }
    let per = by_strategy
        .into_iter()
        .map(|(name, fills)| (name, ShadowSummary::of(fills)))
        .collect();
    Ok((per, ShadowSummary::of(&fills)))
}
