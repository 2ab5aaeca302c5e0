//! The paper account: cash, positions and realized P&L, all exact decimals.
//!
//! Invariants (checked by property tests): cash + marked holdings = equity, and for every
//! closed position, realized P&L = proceeds − cost − entry fee − exit fee. An account only
//! changes through [`Account::open`] and [`Account::close`], each applying one [`Fill`].

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::Day;
use crate::execution::{Fill, Side};
use crate::money::{Money, Price, Quantity};
use crate::symbol::Symbol;

/// A position's id, unique within its account (the database id when live).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PositionId(pub i64);

impl fmt::Display for PositionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a position was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// The strategy's exit rule passed.
    Signal,
    /// The price fell to the stop-loss.
    StopLoss,
    /// The price rose to the take-profit.
    TakeProfit,
    /// The price fell back from its high by the trailing-stop distance.
    TrailingStop,
    /// The position was held for the maximum number of days.
    MaxHolding,
    /// A backtest ended with the position open and was asked to close it at the last close.
    EndOfBacktest,
}

/// How a position was closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exit {
    /// The day of the closing fill.
    pub day: Day,
    /// The closing fill's price.
    pub price: Price,
    /// The closing fill's fee.
    pub fee: Money,
    /// Why it was closed.
    pub reason: ExitReason,
}

/// A long position opened by one strategy in one instrument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Id within the account.
    pub id: PositionId,
    /// The instrument.
    pub symbol: Symbol,
    /// The strategy that opened it.
    pub strategy: String,
    /// Units held.
    pub quantity: Quantity,
    /// The opening fill's price.
    pub entry_price: Price,
    /// The opening fill's day.
    pub entry_day: Day,
    /// The opening fill's fee.
    pub entry_fee: Money,
    /// `None` while open.
    pub exit: Option<Exit>,
}

impl Position {
    /// Whether the position is still open.
    pub fn is_open(&self) -> bool {
        self.exit.is_none()
    }

    /// What was paid for the units, fee excluded.
    pub fn cost(&self) -> Money {
        // Saturating (here and below): a value beyond the largest exact decimal cannot be
        // shown exactly anyway, and must not take a job or a page down with a panic.
        Money(self.quantity.0.saturating_mul(self.entry_price.0))
    }

    /// The value of the units at `mark`.
    pub fn market_value(&self, mark: Price) -> Money {
        Money(self.quantity.0.saturating_mul(mark.0))
    }

    /// Proceeds − cost − entry fee − exit fee, once closed.
    pub fn realized_pnl(&self) -> Option<Money> {
        self.exit.as_ref().map(|exit| {
            let proceeds = self.quantity.0.saturating_mul(exit.price.0);
            Money(
                proceeds
                    .saturating_sub(self.cost().0)
                    .saturating_sub(self.entry_fee.0)
                    .saturating_sub(exit.fee.0),
            )
        })
    }

    /// Market value at `mark` − cost − entry fee, while open.
    pub fn unrealized_pnl(&self, mark: Price) -> Money {
        Money(
            self.market_value(mark)
                .0
                .saturating_sub(self.cost().0)
                .saturating_sub(self.entry_fee.0),
        )
    }
}

/// An account operation that would break the ledger; a bug in the caller, never a business outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// `open` was given a sell, or `close` a buy.
    #[error("a {side:?} fill cannot {action} a position")]
    WrongSide {
        /// The fill's side.
        side: Side,
        /// `open` or `close`.
        action: &'static str,
    },
    /// The fill costs more than the cash (the fill model should have refused it).
    #[error("opening {symbol} needs {needed} but the account has {cash}")]
    Overdrawn {
        /// The instrument.
        symbol: Symbol,
        /// Cost including fee.
        needed: Money,
        /// Cash available.
        cash: Money,
    },
    /// No open position has this id.
    #[error("position {0} is not open in this account")]
    NotOpen(PositionId),
    /// The closing fill does not match the position (instrument or quantity).
    #[error("position {id} holds {held} {symbol}, the closing fill sells {sold} {sold_symbol}")]
    Mismatch {
        /// The position.
        id: PositionId,
        /// Its instrument.
        symbol: Symbol,
        /// Units held.
        held: Quantity,
        /// The fill's instrument.
        sold_symbol: Symbol,
        /// Units in the fill.
        sold: Quantity,
    },
    /// An open position's instrument has no price to mark it at.
    #[error("no price to mark open position {id} in {symbol}")]
    NoMark {
        /// The position.
        id: PositionId,
        /// Its instrument.
        symbol: Symbol,
    },
}

/// Cash and positions of one paper account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "AccountState", into = "AccountState")]
pub struct Account {
    initial_cash: Money,
    cash: Money,
    positions: Vec<Position>,
    /// Indexes of the open positions in `positions`: a long backtest closes thousands of
    /// positions, and the daily loop must not walk them all.
    open: Vec<usize>,
}

/// An account as it is serialized (the open index is rebuilt on reading).
#[derive(Serialize, Deserialize)]
struct AccountState {
    initial_cash: Money,
    cash: Money,
    positions: Vec<Position>,
}

impl From<AccountState> for Account {
    fn from(state: AccountState) -> Self {
        let open = (0..state.positions.len())
            .filter(|&i| state.positions[i].is_open())
            .collect();
        Self {
            initial_cash: state.initial_cash,
            cash: state.cash,
            positions: state.positions,
            open,
        }
    }
}

impl From<Account> for AccountState {
    fn from(account: Account) -> Self {
        Self {
            initial_cash: account.initial_cash,
            cash: account.cash,
            positions: account.positions,
        }
    }
}

impl Account {
    /// An account holding `initial_cash` and no positions.
    pub fn new(initial_cash: Money) -> Self {
        Self {
            initial_cash,
            cash: initial_cash,
            positions: Vec::new(),
            open: Vec::new(),
        }
    }

    /// The cash the account started with.
    pub fn initial_cash(&self) -> Money {
        self.initial_cash
    }

    /// Cash now.
    pub fn cash(&self) -> Money {
        self.cash
    }

    /// Every position, open and closed, in the order they were opened.
    pub fn positions(&self) -> &[Position] {
        &self.positions
    }

    /// The position with this id, open or closed.
    pub fn position(&self, id: PositionId) -> Option<&Position> {
        // Ids are given in opening order from 1, so the id is the index + 1.
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.positions.get(index).filter(|p| p.id == id)
    }

    /// The open positions, in the order they were opened.
    pub fn open_positions(&self) -> impl Iterator<Item = &Position> {
        self.open.iter().map(|&i| &self.positions[i])
    }

    /// Opens a position from a buy fill, paying gross + fee from cash.
    ///
    /// # Errors
    /// [`AccountError::WrongSide`] for a sell, [`AccountError::Overdrawn`] when cash is short.
    pub fn open(&mut self, strategy: &str, fill: &Fill) -> Result<PositionId, AccountError> {
        if fill.side != Side::Buy {
            return Err(AccountError::WrongSide {
                side: fill.side,
                action: "open",
            });
        }
        let needed = Money(-fill.cash_delta().0);
        if needed > self.cash {
            return Err(AccountError::Overdrawn {
                symbol: fill.symbol.clone(),
                needed,
                cash: self.cash,
            });
        }
        let id = PositionId(self.positions.len() as i64 + 1);
        self.cash = Money(self.cash.0 - needed.0);
        self.open.push(self.positions.len());
        self.positions.push(Position {
            id,
            symbol: fill.symbol.clone(),
            strategy: strategy.to_owned(),
            quantity: fill.quantity,
            entry_price: fill.price,
            entry_day: fill.day,
            entry_fee: fill.fee,
            exit: None,
        });
        Ok(id)
    }

    /// Closes open position `id` with a sell fill of its whole quantity; returns the realized P&L.
    ///
    /// # Errors
    /// [`AccountError`] when the fill is a buy, the position is not open, or the fill does not
    /// sell exactly what the position holds.
    pub fn close(
        &mut self,
        id: PositionId,
        fill: &Fill,
        reason: ExitReason,
    ) -> Result<Money, AccountError> {
        if fill.side != Side::Sell {
            return Err(AccountError::WrongSide {
                side: fill.side,
                action: "close",
            });
        }
        let slot = self
            .open
            .iter()
            .position(|&i| self.positions[i].id == id)
            .ok_or(AccountError::NotOpen(id))?;
        let position = &mut self.positions[self.open[slot]];
        if position.symbol != fill.symbol || position.quantity != fill.quantity {
            return Err(AccountError::Mismatch {
                id,
                symbol: position.symbol.clone(),
                held: position.quantity,
                sold_symbol: fill.symbol.clone(),
                sold: fill.quantity,
            });
        }
        position.exit = Some(Exit {
            day: fill.day,
            price: fill.price,
            fee: fill.fee,
            reason,
        });
        let pnl = position.realized_pnl().unwrap_or_default();
        self.open.remove(slot);
        self.cash = Money(self.cash.0 + fill.cash_delta().0);
        Ok(pnl)
    }

    /// Cash plus every open position marked at `mark(symbol)`.
    ///
    /// # Errors
    /// [`AccountError::NoMark`] when an open position's instrument has no price.
    pub fn equity(&self, mark: impl Fn(&Symbol) -> Option<Price>) -> Result<Money, AccountError> {
        let mut equity = self.cash.0;
        for p in self.open_positions() {
            let price = mark(&p.symbol).ok_or_else(|| AccountError::NoMark {
                id: p.id,
                symbol: p.symbol.clone(),
            })?;
            equity += p.market_value(price).0;
        }
        Ok(Money(equity))
    }

    /// The sum of realized P&L over closed positions.
    pub fn realized_pnl(&self) -> Money {
        Money(
            self.positions
                .iter()
                .filter_map(Position::realized_pnl)
                .map(|m| m.0)
                .sum::<Decimal>(),
        )
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;
    use crate::execution::PriceBasis;

    fn fill(side: Side, symbol: &str, quantity: Decimal, price: Decimal, fee: Decimal) -> Fill {
        Fill {
            symbol: Symbol::parse(symbol).expect("symbol"),
            side,
            day: "2024-01-02".parse().expect("day"),
            price: Price(price),
            basis: PriceBasis::NextOpen,
            quantity: Quantity(quantity),
            gross: Money(quantity * price),
            fee: Money(fee),
        }
    }

    #[test]
    fn a_round_trip_realizes_proceeds_less_cost_and_both_fees() {
        let mut account = Account::new(Money(dec!(1000)));
        let id = account
            .open(
                "trend",
                &fill(Side::Buy, "BTC", dec!(2), dec!(100), dec!(0.2)),
            )
            .expect("open");
        assert_eq!(account.cash(), Money(dec!(799.8)));
        let pnl = account
            .close(
                id,
                &fill(Side::Sell, "BTC", dec!(2), dec!(110), dec!(0.22)),
                ExitReason::TakeProfit,
            )
            .expect("close");
        assert_eq!(pnl, Money(dec!(220) - dec!(200) - dec!(0.2) - dec!(0.22)));
        assert_eq!(account.cash(), Money(dec!(1000) + pnl.0));
        assert_eq!(account.realized_pnl(), pnl);
    }

    #[test]
    fn ledger_breaking_operations_are_errors() {
        let mut account = Account::new(Money(dec!(100)));
        let overdraw = account.open("s", &fill(Side::Buy, "BTC", dec!(2), dec!(100), dec!(0)));
        assert!(matches!(overdraw, Err(AccountError::Overdrawn { .. })));
        let id = account
            .open("s", &fill(Side::Buy, "BTC", dec!(0.5), dec!(100), dec!(0)))
            .expect("open");
        let wrong = account.close(
            id,
            &fill(Side::Sell, "BTC", dec!(0.4), dec!(100), dec!(0)),
            ExitReason::Signal,
        );
        assert!(matches!(wrong, Err(AccountError::Mismatch { .. })));
        assert!(
            account
                .close(
                    id,
                    &fill(Side::Sell, "BTC", dec!(0.5), dec!(90), dec!(0)),
                    ExitReason::StopLoss
                )
                .is_ok()
        );
        let again = account.close(
            id,
            &fill(Side::Sell, "BTC", dec!(0.5), dec!(90), dec!(0)),
            ExitReason::Signal,
        );
        assert_eq!(again, Err(AccountError::NotOpen(id)));
        assert!(
            matches!(account.equity(|_| None), Ok(Money(_))),
            "no open position needs a mark"
        );
    }

    /// A random sequence of opens and closes at random prices and fees.
    fn steps() -> impl Strategy<Value = Vec<(bool, u32, u32, u32)>> {
        prop::collection::vec(
            (any::<bool>(), 1u32..5_000_000, 1u32..200_000, 0u32..500),
            1..40,
        )
    }

    proptest! {
        #[test]
        fn cash_plus_marked_holdings_is_equity_and_closed_pnl_is_proceeds_less_cost_and_fees(steps in steps()) {
            let mut account = Account::new(Money(dec!(1000000)));
            let mut flows = Decimal::ZERO;
            for (open, price_cents, qty_millis, fee_cents) in steps {
                let price = Decimal::new(i64::from(price_cents), 2);
                let fee = Decimal::new(i64::from(fee_cents), 2);
                if open {
                    let f = fill(Side::Buy, "ETH", Decimal::new(i64::from(qty_millis), 3), price, fee);
                    if account.open("p", &f).is_ok() {
                        flows += f.cash_delta().0;
                    }
                } else if let Some(p) = account.positions().iter().find(|p| p.is_open()).cloned() {
                    let f = fill(Side::Sell, "ETH", p.quantity.0, price, fee);
                    account.close(p.id, &f, ExitReason::Signal).expect("close an open position");
                    flows += f.cash_delta().0;
                    let closed = account.positions().iter().find(|x| x.id == p.id).expect("kept");
                    let proceeds = p.quantity.0 * price;
                    prop_assert_eq!(closed.realized_pnl(), Some(Money(proceeds - p.cost().0 - p.entry_fee.0 - fee)));
                }
                prop_assert!(account.cash().0 >= Decimal::ZERO);
                prop_assert_eq!(account.cash().0, dec!(1000000) + flows);
                let mark = Price(Decimal::new(123_456, 2));
                let holdings: Decimal = account.open_positions().map(|p| p.quantity.0 * mark.0).sum();
                prop_assert_eq!(account.equity(|_| Some(mark)).expect("marked").0, account.cash().0 + holdings);
                let open_cost: Decimal = account.open_positions().map(|p| p.cost().0 + p.entry_fee.0).sum();
                prop_assert_eq!(account.cash().0, dec!(1000000) + account.realized_pnl().0 - open_cost);
            }
        }
    }
}
