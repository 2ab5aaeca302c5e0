//! The steps of a decision day that the live jobs and the simulator share, so both turn a passed
//! entry into the same order, refusal or fill.
//!
//! The live jobs (`barter-service`) and [`crate::simulator`] differ only in where candles come from
//! and where fills are booked (the database or an in-memory [`crate::Account`]); what happens
//! between "the entry rule passed" and "this fill" is decided here.

use crate::account::PositionId;
use crate::candle::Candle;
use crate::execution::{Broker, Fill, Refusal, Sizing};
use crate::money::Money;

/// What the account looks like to one entry: the cash and equity its order is sized from, and
/// what the strategy already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryBook {
    /// Cash available now (after the orders already placed on this decision day).
    pub cash: Money,
    /// Cash plus open positions marked at their latest close, at the start of the day.
    pub equity: Money,
    /// The strategy's open position in this instrument, if any.
    pub held: Option<PositionId>,
    /// The strategy's open positions across all instruments.
    pub open_positions: u32,
}

/// What became of an entry that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryAction {
    /// The strategy already holds the instrument: one position per strategy and instrument.
    AlreadyOpen(PositionId),
    /// The strategy already has its maximum number of open positions.
    AtMaximum(u32),
    /// The broker refused the order (not enough cash, or it buys nothing).
    Refused(Refusal),
    /// The order was filled.
    Filled(Fill),
}

/// Turns an entry that passed on `decided_on` into an order for `broker`: skipped when the
/// strategy already holds the instrument or is at `max_open_positions`, else sized by `sizing`
/// and filled at the fill model's price (`next` is the candle after the decision day, if known).
pub fn act_on_entry(
    broker: &dyn Broker,
    sizing: Sizing,
    max_open_positions: Option<u32>,
    book: EntryBook,
    decided_on: &Candle,
    next: Option<&Candle>,
) -> EntryAction {
    if let Some(id) = book.held {
        return EntryAction::AlreadyOpen(id);
    }
    if let Some(max) = max_open_positions.filter(|max| book.open_positions >= *max) {
        return EntryAction::AtMaximum(max);
    }
    match broker.buy(sizing, book.cash, book.equity, decided_on, next) {
        Ok(fill) => EntryAction::Filled(fill),
        Err(refusal) => EntryAction::Refused(refusal),
    }
}
