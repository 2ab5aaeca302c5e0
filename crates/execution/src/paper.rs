//! The paper venue: orders filled by the core's [`FillModel`], the same model the simulator
//! uses, so a paper account, a replay and a backtest book the same fills.
//!
//! It keeps the orders it filled in memory to answer lookups. After a restart it has forgotten
//! them and says "no such order"; the order is then filled again from the same candles, which
//! books nothing twice because the first fill was never saved (that is why it was looked up).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use barter_core::execution::{Fill, FillModel, Refusal, Side, Sizing};
use barter_core::order::{
    ClientOrderId, Order, OrderAmount, OrderFill, OrderState, VenueReport, paper_venue_id,
};
use barter_core::{Money, Quantity};
use rust_decimal::Decimal;

use crate::venue::{LookupPolicy, MarketReference, Venue, VenueError};

pub use barter_core::order::PAPER;

/// Simulated fills from a [`FillModel`], no exchange involved.
#[derive(Debug, Default)]
pub struct PaperVenue {
    model: FillModel,
    filled: Mutex<HashMap<ClientOrderId, VenueReport>>,
}

impl PaperVenue {
    /// A paper venue filling with `model`.
    pub fn new(model: FillModel) -> Self {
        Self {
            model,
            filled: Mutex::default(),
        }
    }

    /// The fill model's fill for `order` in `market`, and the report a venue would give.
    ///
    /// A quote-amount buy spends at most that amount, fee included (the fill model's
    /// [`Sizing::Amount`]); a quantity buy is filled whole, since the paper account's cash is
    /// checked where the fill is booked, not here. Sells are never refused.
    ///
    /// # Errors
    /// The fill model's [`Refusal`] (the amount buys nothing, or beyond the decimal range).
    pub fn fill(
        &self,
        order: &Order,
        market: &MarketReference,
    ) -> Result<(Fill, VenueReport), Refusal> {
        let next = market.next.as_ref();
        let fill = match (order.side(), order.amount()) {
            (Side::Buy, OrderAmount::Quote(amount)) => self.model.buy(
                Sizing::Amount(amount),
                amount,
                amount,
                &market.decision,
                next,
            )?,
            (Side::Buy, OrderAmount::Quantity(quantity)) => self.model.buy(
                Sizing::Quantity(quantity),
                Money(Decimal::MAX),
                Money(Decimal::MAX),
                &market.decision,
                next,
            )?,
            (Side::Sell, OrderAmount::Quantity(quantity)) => {
                self.model.sell(quantity, &market.decision, next)
            }
            (Side::Sell, OrderAmount::Quote(amount)) => {
                // Selling for an amount: the units that amount is worth at the fill price.
                let (_, reference, _) = self.model.reference(&market.decision, next);
                let price = self.model.execution_price(Side::Sell, reference);
                let units = amount
                    .0
                    .checked_div(price.0)
                    .map(|u| u.round_dp_with_strategy(8, rust_decimal::RoundingStrategy::ToZero))
                    .ok_or_else(|| Refusal::TooLarge {
                        what: format!("the quantity {amount} sells at {price}"),
                    })?;
                if units <= Decimal::ZERO {
                    return Err(Refusal::TooSmall { amount, price });
                }
                self.model.sell(Quantity(units), &market.decision, next)
            }
        };
        let report = VenueReport {
            state: OrderState::Filled,
            venue_order_id: Some(paper_venue_id(order.client_order_id())),
            executed_quantity: fill.quantity,
            fills: vec![OrderFill {
                trade_id: paper_venue_id(order.client_order_id()),
                price: fill.price,
                quantity: fill.quantity,
                fee: fill.fee.0,
                fee_asset: market.quote_asset.clone(),
            }],
            reason: None,
        };
        Ok((fill, report))
    }
}

impl PaperVenue {
    /// Executes `order` in `market` through the venue port ([`Venue::submit`], as any venue)
    /// and returns the fill to book: the report's price, quantity and fee, dated and based as
    /// the fill model dates them. The paper jobs book that fill in the same transaction as its
    /// decision (no network lies between them), so nothing will look the order up: the report
    /// is not kept, and a replay over years holds no memory per trade.
    ///
    /// # Errors
    /// [`VenueError::Refused`] with the fill model's refusal.
    pub async fn execute(
        &self,
        order: &Order,
        market: &MarketReference,
    ) -> Result<Fill, VenueError> {
        let report = self.submit(order, market).await?;
        self.filled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(order.client_order_id());
        let trade = report.fills.first().ok_or_else(|| VenueError::Refused {
            venue: PAPER.to_owned(),
            code: None,
            reason: "the paper venue reported no fill".to_owned(),
        })?;
        let (day, _, basis) = self.model.reference(&market.decision, market.next.as_ref());
        Ok(Fill {
            symbol: order.symbol().clone(),
            side: order.side(),
            day,
            price: trade.price,
            basis,
            quantity: trade.quantity,
            // As the fill model computes it (saturating, like its sells).
            gross: Money(trade.quantity.0.saturating_mul(trade.price.0)),
            fee: Money(trade.fee),
        })
    }
}

#[async_trait]
impl Venue for PaperVenue {
    fn name(&self) -> &str {
        PAPER
    }

    fn is_live(&self) -> bool {
        false
    }

    /// One lookup, no wait: the paper venue's memory is the whole truth within a process.
    fn lookup_policy(&self) -> LookupPolicy {
        LookupPolicy {
            attempts: 1,
            interval: std::time::Duration::ZERO,
        }
    }

    async fn submit(
        &self,
        order: &Order,
        market: &MarketReference,
    ) -> Result<VenueReport, VenueError> {
        let (_, report) = self
            .fill(order, market)
            .map_err(|refusal| VenueError::Refused {
                venue: PAPER.to_owned(),
                code: None,
                reason: refusal.to_string(),
            })?;
        self.filled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(order.client_order_id().clone(), report.clone());
        Ok(report)
    }

    async fn lookup(&self, order: &Order) -> Result<Option<VenueReport>, VenueError> {
        Ok(self
            .filled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(order.client_order_id())
            .cloned())
    }
}
