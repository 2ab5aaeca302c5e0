//! Shadow fills: what the paper fill model would have filled for a decision, next to what a
//! venue really filled, so the distance between backtests and reality is a number.
//!
//! Costs are signed so that positive is worse for the trader: a buy filled above its shadow
//! price, or a sell below it, slipped by a positive number of basis points; a venue fee above
//! the model's is a positive fee difference.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::execution::Side;
use crate::money::{Money, Price, Quantity};
use crate::symbol::Symbol;

/// One booked venue order and its shadow (the paper model's fill for the same decision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowFill {
    /// The order's store id.
    pub order_id: i64,
    /// The account it was sent from.
    pub account: String,
    /// The strategy that decided it.
    pub strategy: String,
    /// The instrument.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// The paper model's price (slippage included).
    pub shadow_price: Price,
    /// The paper model's quantity.
    pub shadow_quantity: Quantity,
    /// The paper model's fee for its quantity.
    pub shadow_fee: Money,
    /// The venue's average fill price.
    pub venue_price: Price,
    /// The quantity the venue filled (as booked).
    pub venue_quantity: Quantity,
    /// The venue's fees valued in the quote currency.
    pub venue_fee: Money,
}

impl ShadowFill {
    /// How far the venue's price was from the model's, in basis points of the model's price
    /// (positive: worse for the trader). `None` for a zero shadow price.
    pub fn slippage_bps(&self) -> Option<Decimal> {
        if self.shadow_price.0.is_zero() {
            return None;
        }
        let diff = self.side_sign() * (self.venue_price.0 - self.shadow_price.0);
        diff.checked_mul(Decimal::from(10_000))?
            .checked_div(self.shadow_price.0)
            .map(|bps| bps.round_dp(2))
    }

    /// The venue's fee minus the model's fee for the same quantity (positive: the venue cost
    /// more). `None` when the numbers leave the decimal range or the shadow has no quantity.
    pub fn fee_difference(&self) -> Option<Money> {
        if self.shadow_quantity.0.is_zero() {
            return None;
        }
        let model = self
            .shadow_fee
            .0
            .checked_mul(self.venue_quantity.0)?
            .checked_div(self.shadow_quantity.0)?;
        Some(Money((self.venue_fee.0 - model).round_dp(8)))
    }

    /// What the venue's fill cost beyond the model's for the venue's quantity: the price
    /// difference times the quantity, plus the fee difference (positive: reality was dearer).
    pub fn cost_difference(&self) -> Option<Money> {
        let price = (self.side_sign() * (self.venue_price.0 - self.shadow_price.0))
            .checked_mul(self.venue_quantity.0)?;
        Some(Money((price + self.fee_difference()?.0).round_dp(8)))
    }

    fn side_sign(&self) -> Decimal {
        match self.side {
            Side::Buy => Decimal::ONE,
            Side::Sell => Decimal::NEGATIVE_ONE,
        }
    }
}

/// Shadow fills summed: how many, the mean slippage, and the total cost difference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ShadowSummary {
    /// Orders compared.
    pub orders: u64,
    /// The mean slippage in basis points, when there is one.
    pub mean_slippage_bps: Option<Decimal>,
    /// The total cost beyond the model (positive: reality was dearer).
    pub cost_difference: Money,
}

impl ShadowSummary {
    /// The summary of `fills`.
    pub fn of<'a>(fills: impl IntoIterator<Item = &'a ShadowFill>) -> Self {
        let (mut orders, mut bps_sum, mut bps_count) = (0_u64, Decimal::ZERO, 0_u32);
        let mut cost = Decimal::ZERO;
        for fill in fills {
            orders += 1;
            if let Some(bps) = fill.slippage_bps() {
                bps_sum = bps_sum.saturating_add(bps);
                bps_count += 1;
            }
            if let Some(diff) = fill.cost_difference() {
                cost = cost.saturating_add(diff.0);
            }
        }
        Self {
            orders,
            mean_slippage_bps: (bps_count > 0)
                .then(|| (bps_sum / Decimal::from(bps_count)).round_dp(2)),
            cost_difference: Money(cost),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn fill(side: Side, shadow: Decimal, venue: Decimal) -> ShadowFill {
        ShadowFill {
            order_id: 1,
            account: "testnet".into(),
            strategy: "s".into(),
            symbol: Symbol::parse("BTC").expect("symbol"),
            side,
            shadow_price: Price(shadow),
            shadow_quantity: Quantity(dec!(2)),
            shadow_fee: Money(dec!(0.2)),
            venue_price: Price(venue),
            venue_quantity: Quantity(dec!(1)),
            venue_fee: Money(dec!(0.15)),
        }
    }

    #[test]
    fn paying_more_on_a_buy_or_getting_less_on_a_sell_is_positive_slippage() {
        let buy = fill(Side::Buy, dec!(100), dec!(100.5));
        assert_eq!(buy.slippage_bps(), Some(dec!(50)));
        let sell = fill(Side::Sell, dec!(100), dec!(99));
        assert_eq!(sell.slippage_bps(), Some(dec!(100)));
        let better = fill(Side::Sell, dec!(100), dec!(101));
        assert_eq!(better.slippage_bps(), Some(dec!(-100)));
    }

    #[test]
    fn fees_are_compared_for_the_same_quantity() {
        // The model's 0.2 was for 2 units: 0.1 for the venue's 1 unit, which cost 0.15.
        let buy = fill(Side::Buy, dec!(100), dec!(100.5));
        assert_eq!(buy.fee_difference(), Some(Money(dec!(0.05))));
        assert_eq!(buy.cost_difference(), Some(Money(dec!(0.55))));
        let summary = ShadowSummary::of([&buy, &fill(Side::Sell, dec!(100), dec!(101))]);
        assert_eq!(summary.orders, 2);
        assert_eq!(summary.mean_slippage_bps, Some(dec!(-25)));
        assert_eq!(summary.cost_difference, Money(dec!(-0.40)));
    }
}
