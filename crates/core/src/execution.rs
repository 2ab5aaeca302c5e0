//! The paper fill model: when and at what price a decision becomes a fill, and what it costs.
//!
//! One piece of code for the live paper broker and the simulator:
//! - a decision is taken on the close of day D;
//! - with [`FillTiming::NextOpen`] (the default) it fills at the open of D+1 when that candle is
//!   known, otherwise at the latest known price (D's close); with [`FillTiming::Close`] it fills
//!   at D's close;
//! - slippage moves the price against the trader (buys pay `p × (1 + s)`, sells get `p × (1 − s)`);
//! - the fee is `gross × fee_bps / 10 000`, charged on both legs and never folded into the price;
//! - buy sizes are rounded *down* (8 decimals by default, or whole units), so a fill never costs
//!   more than was asked; an order the cash cannot pay for is a [`Refusal`], which is data, not an
//!   error.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::Day;
use crate::candle::Candle;
use crate::money::{Money, Price, Quantity};
use crate::symbol::Symbol;

/// Basis points in one whole (1 bp = 0.01 %).
const BPS_PER_UNIT: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Open a long position.
    Buy,
    /// Close a long position.
    Sell,
}

/// When a decision taken on the close of day D is filled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FillTiming {
    /// At the open of D+1 (the latest known price while D+1 has no candle yet).
    #[default]
    NextOpen,
    /// At the close of D.
    Close,
}

/// Which price a fill was based on (recorded so every fill can be explained).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceBasis {
    /// The open of the day after the decision.
    NextOpen,
    /// The decision day's close, because the next day had no candle yet.
    LatestClose,
    /// The decision day's close, by configuration ([`FillTiming::Close`]).
    DecisionClose,
    /// The average price a venue filled the order at.
    Venue,
}

impl PriceBasis {
    /// The name used in the database and JSON (its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NextOpen => "next_open",
            Self::LatestClose => "latest_close",
            Self::DecisionClose => "decision_close",
            Self::Venue => "venue",
        }
    }
}

/// How buy quantities are rounded (always down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantityRounding {
    /// Fractional units with this many decimals (crypto).
    Fractional(u32),
    /// Whole units only (shares).
    WholeUnits,
}

impl Default for QuantityRounding {
    fn default() -> Self {
        Self::Fractional(8)
    }
}

/// How much a buy order asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sizing {
    /// Exactly this quantity.
    Quantity(Quantity),
    /// Spend this much quote currency, fee included.
    Amount(Money),
    /// Spend this fraction of equity (0.1 = 10 %), fee included.
    EquityFraction(Decimal),
    /// Spend all available cash, fee included.
    AllCash,
}

impl std::fmt::Display for Sizing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Quantity(q) => write!(f, "{q} units"),
            Self::Amount(a) => write!(f, "{a} per entry, fee included"),
            Self::EquityFraction(x) => match x.checked_mul(Decimal::ONE_HUNDRED) {
                Some(percent) => write!(f, "{}% of equity, fee included", percent.normalize()),
                // Only a hand-built fraction can be this large (configs stop at 100%).
                None => write!(f, "{x} times equity, fee included"),
            },
            Self::AllCash => f.write_str("all available cash, fee included"),
        }
    }
}

/// Why a buy order was not filled; recorded in the history, never an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "refusal")]
pub enum Refusal {
    /// The order costs more than the available cash.
    #[error(
        "insufficient cash: the order needs {needed} (fee included) but {available} is available"
    )]
    InsufficientCash {
        /// Cost including the fee.
        needed: Money,
        /// Cash available.
        available: Money,
    },
    /// The order's amounts do not fit the decimal range (about 7.9e28): a size or price far
    /// beyond anything real, refused rather than computed wrongly or panicking.
    #[error("order too large: {what} is beyond the amounts that can be computed exactly")]
    TooLarge {
        /// What overflowed, e.g. "the cost of 1e25 units at 50000".
        what: String,
    },
    /// After rounding down, the order buys nothing.
    #[error("order too small: {amount} buys less than one unit step at {price}")]
    TooSmall {
        /// The amount the order would spend.
        amount: Money,
        /// The fill price.
        price: Price,
    },
}

/// A fill model setting that is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} must be between 0 and 10000 basis points, got {value}")]
pub struct CostError {
    /// `fee_bps` or `slippage_bps`.
    pub name: &'static str,
    /// The refused value.
    pub value: Decimal,
}

/// An executed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// The instrument.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// The day the fill happened.
    pub day: Day,
    /// The execution price, slippage included.
    pub price: Price,
    /// What the price was based on.
    pub basis: PriceBasis,
    /// Units traded.
    pub quantity: Quantity,
    /// `price × quantity`.
    pub gross: Money,
    /// The fee charged.
    pub fee: Money,
}

impl Fill {
    /// The change in cash: a buy pays gross + fee, a sell receives gross − fee.
    pub fn cash_delta(&self) -> Money {
        match self.side {
            Side::Buy => Money(-self.gross.0.saturating_add(self.fee.0)),
            Side::Sell => Money(self.gross.0.saturating_sub(self.fee.0)),
        }
    }
}

/// Fees, slippage, timing and rounding: turns decisions into fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "FillSettings", into = "FillSettings")]
pub struct FillModel {
    fee_bps: Decimal,
    slippage_bps: Decimal,
    timing: FillTiming,
    rounding: QuantityRounding,
    /// Derived from the two rates once, not on every fill.
    factors: Factors,
}

/// A [`FillModel`] as stored and sent: its settings, not the factors derived from them.
#[derive(Serialize, Deserialize)]
struct FillSettings {
    fee_bps: Decimal,
    slippage_bps: Decimal,
    timing: FillTiming,
    rounding: QuantityRounding,
}

impl From<FillSettings> for FillModel {
    fn from(s: FillSettings) -> Self {
        Self {
            factors: Factors::of(s.fee_bps, s.slippage_bps),
            fee_bps: s.fee_bps,
            slippage_bps: s.slippage_bps,
            timing: s.timing,
            rounding: s.rounding,
        }
    }
}

impl From<FillModel> for FillSettings {
    fn from(m: FillModel) -> Self {
        Self {
            fee_bps: m.fee_bps,
            slippage_bps: m.slippage_bps,
            timing: m.timing,
            rounding: m.rounding,
        }
    }
}

/// The multipliers every fill applies, each computed by the same decimal operations a fill
/// used to make itself (so the same values at the same scales): a backtest makes thousands of
/// fills, and each decimal division by 10 000 is a visible share of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Factors {
    /// `1 + slippage`: a buy's price over the reference.
    buy_price: Decimal,
    /// `1 − slippage`: a sell's price over the reference.
    sell_price: Decimal,
    /// `1 + fee`: what a buy pays per unit over its price.
    buy_cost: Decimal,
}

impl Factors {
    /// The factors of rates of `fee_bps` and `slippage_bps`.
    fn of(fee_bps: Decimal, slippage_bps: Decimal) -> Self {
        let slip = slippage_bps / BPS_PER_UNIT;
        Self {
            buy_price: Decimal::ONE + slip,
            sell_price: Decimal::ONE - slip,
            buy_cost: Decimal::ONE + fee_bps / BPS_PER_UNIT,
        }
    }
}

impl Default for FillModel {
    fn default() -> Self {
        FillSettings {
            fee_bps: Decimal::ZERO,
            slippage_bps: Decimal::ZERO,
            timing: FillTiming::NextOpen,
            rounding: QuantityRounding::default(),
        }
        .into()
    }
}

impl FillModel {
    /// A fill model; fee and slippage are basis points in `0..=10000`.
    ///
    /// # Errors
    /// [`CostError`] naming the setting that is negative or above 10 000.
    pub fn new(
        fee_bps: Decimal,
        slippage_bps: Decimal,
        timing: FillTiming,
        rounding: QuantityRounding,
    ) -> Result<Self, CostError> {
        for (name, value) in [("fee_bps", fee_bps), ("slippage_bps", slippage_bps)] {
            if value < Decimal::ZERO || value > BPS_PER_UNIT {
                return Err(CostError { name, value });
            }
        }
        Ok(FillSettings {
            fee_bps,
            slippage_bps,
            timing,
            rounding,
        }
        .into())
    }

    /// The same model with another fill timing.
    #[must_use]
    pub fn with_timing(mut self, timing: FillTiming) -> Self {
        self.timing = timing;
        self
    }

    /// The fill timing.
    pub fn timing(&self) -> FillTiming {
        self.timing
    }

    /// The fee in basis points of the gross.
    pub fn fee_bps(&self) -> Decimal {
        self.fee_bps
    }

    /// The slippage in basis points of the reference price, against the trader.
    pub fn slippage_bps(&self) -> Decimal {
        self.slippage_bps
    }

    /// How buy quantities are rounded.
    pub fn rounding(&self) -> QuantityRounding {
        self.rounding
    }

    /// The day and raw price a decision on `decision` fills at, and why that price.
    pub fn reference(&self, decision: &Candle, next: Option<&Candle>) -> (Day, Price, PriceBasis) {
        match (self.timing, next) {
            (FillTiming::Close, _) => (decision.day(), decision.close(), PriceBasis::DecisionClose),
            (FillTiming::NextOpen, Some(next)) => (next.day(), next.open(), PriceBasis::NextOpen),
            (FillTiming::NextOpen, None) => {
                (decision.day(), decision.close(), PriceBasis::LatestClose)
            }
        }
    }

    /// The execution price of `side` at `reference`, slippage applied against the trader
    /// (saturating at the decimal range; buys refuse such prices, see [`FillModel::buy`]).
    pub fn execution_price(&self, side: Side, reference: Price) -> Price {
        self.checked_execution_price(side, reference)
            .unwrap_or(Price(Decimal::MAX))
    }

    /// The execution price, or `None` when it is beyond the decimal range.
    fn checked_execution_price(&self, side: Side, reference: Price) -> Option<Price> {
        let factor = match side {
            Side::Buy => self.factors.buy_price,
            Side::Sell => self.factors.sell_price,
        };
        reference.0.checked_mul(factor).map(Price)
    }

    /// The fee on a trade of `gross`.
    pub fn fee(&self, gross: Money) -> Money {
        let gross = gross.0.abs();
        // The fee is at most the gross (fee_bps <= 10000), so dividing first never overflows;
        // the exact product is preferred when it fits.
        Money(
            gross
                .checked_mul(self.fee_bps)
                .map_or_else(|| gross / BPS_PER_UNIT * self.fee_bps, |x| x / BPS_PER_UNIT),
        )
    }

    fn round_down(&self, quantity: Decimal) -> Decimal {
        let dp = match self.rounding {
            QuantityRounding::Fractional(dp) => dp,
            QuantityRounding::WholeUnits => 0,
        };
        quantity.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::ToZero)
    }

    /// Fills a buy of `sizing`, decided on `decision`, with `cash` available and `equity` total.
    ///
    /// # Errors
    /// [`Refusal`] when the cash cannot pay for it or it rounds down to nothing.
    pub fn buy(
        &self,
        sizing: Sizing,
        cash: Money,
        equity: Money,
        decision: &Candle,
        next: Option<&Candle>,
    ) -> Result<Fill, Refusal> {
        let (day, reference, basis) = self.reference(decision, next);
        // Every product and sum is checked: a size such as "1e25 units" or a price near the
        // decimal range is refused, never a panic (Decimal's operators panic on overflow).
        let too_large = |what: String| Refusal::TooLarge { what };
        let price = self
            .checked_execution_price(Side::Buy, reference)
            .ok_or_else(|| too_large(format!("the price {reference} with slippage")))?;
        let per_unit = price
            .0
            .checked_mul(self.factors.buy_cost)
            .ok_or_else(|| too_large(format!("the price {price} with the fee")))?;
        let quantity = match sizing {
            Sizing::Quantity(q) => q.0,
            Sizing::Amount(amount) => self.units_for(amount, per_unit, price)?,
            Sizing::EquityFraction(fraction) => {
                let amount = equity
                    .0
                    .checked_mul(fraction)
                    .ok_or_else(|| too_large(format!("{fraction} of the equity {equity}")))?;
                self.units_for(Money(amount), per_unit, price)?
            }
            Sizing::AllCash => self.units_for(cash, per_unit, price)?,
        };
        let gross = quantity
            .checked_mul(price.0)
            .map(Money)
            .ok_or_else(|| too_large(format!("the cost of {quantity} units at {price}")))?;
        if quantity <= Decimal::ZERO {
            return Err(Refusal::TooSmall {
                amount: gross,
                price,
            });
        }
        let fee = self.fee(gross);
        let needed = gross
            .0
            .checked_add(fee.0)
            .map(Money)
            .ok_or_else(|| too_large(format!("the cost {gross} with its fee {fee}")))?;
        if needed > cash {
            return Err(Refusal::InsufficientCash {
                needed,
                available: cash,
            });
        }
        Ok(Fill {
            symbol: decision.symbol().clone(),
            side: Side::Buy,
            day,
            price,
            basis,
            quantity: Quantity(quantity),
            gross,
            fee,
        })
    }

    fn units_for(
        &self,
        amount: Money,
        per_unit: Decimal,
        price: Price,
    ) -> Result<Decimal, Refusal> {
        // A zero price cannot come from a valid candle; refuse rather than divide by zero.
        let units = amount
            .0
            .checked_div(per_unit)
            .map(|units| self.round_down(units))
            .ok_or_else(|| Refusal::TooLarge {
                what: format!("the quantity {amount} buys at {price}"),
            })?;
        if units <= Decimal::ZERO {
            return Err(Refusal::TooSmall { amount, price });
        }
        Ok(units)
    }

    /// Fills a sell of `quantity`, decided on `decision` (selling is never refused).
    pub fn sell(&self, quantity: Quantity, decision: &Candle, next: Option<&Candle>) -> Fill {
        let (day, reference, basis) = self.reference(decision, next);
        let price = self.execution_price(Side::Sell, reference);
        // Selling is never refused: a quantity bought (its cost checked to fit) sold at a price
        // grown past the decimal range saturates instead of panicking.
        let gross = Money(quantity.0.saturating_mul(price.0));
        let fee = self.fee(gross);
        Fill {
            symbol: decision.symbol().clone(),
            side: Side::Sell,
            day,
            price,
            basis,
            quantity,
            gross,
            fee,
        }
    }
}

impl std::fmt::Display for FillModel {
    /// E.g. `next-open fills, fee 10 bps, slippage 5 bps, quantities to 8 decimals`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let timing = match self.timing {
            FillTiming::NextOpen => "next-open",
            FillTiming::Close => "close",
        };
        write!(
            f,
            "{timing} fills, fee {} bps, slippage {} bps, ",
            self.fee_bps.normalize(),
            self.slippage_bps.normalize()
        )?;
        match self.rounding {
            QuantityRounding::Fractional(dp) => write!(f, "quantities to {dp} decimals"),
            QuantityRounding::WholeUnits => f.write_str("whole units"),
        }
    }
}

/// Executes orders: the live daily job and the simulator hand every order to a broker.
pub trait Broker: Send + Sync {
    /// Fills a buy of `sizing` decided on `decision` (with `next`, the following candle, when
    /// known), given the available `cash` and total `equity`.
    ///
    /// # Errors
    /// [`Refusal`] when the order cannot be paid for or rounds down to nothing.
    fn buy(
        &self,
        sizing: Sizing,
        cash: Money,
        equity: Money,
        decision: &Candle,
        next: Option<&Candle>,
    ) -> Result<Fill, Refusal>;

    /// Fills a sell of `quantity` decided on `decision`.
    fn sell(&self, quantity: Quantity, decision: &Candle, next: Option<&Candle>) -> Fill;
}

/// The default broker: simulated fills from the [`FillModel`], no exchange involved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaperBroker {
    /// Timing, costs and rounding of every fill.
    pub model: FillModel,
}

impl Broker for PaperBroker {
    fn buy(
        &self,
        sizing: Sizing,
        cash: Money,
        equity: Money,
        decision: &Candle,
        next: Option<&Candle>,
    ) -> Result<Fill, Refusal> {
        self.model.buy(sizing, cash, equity, decision, next)
    }

    fn sell(&self, quantity: Quantity, decision: &Candle, next: Option<&Candle>) -> Fill {
        self.model.sell(quantity, decision, next)
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::candle::{CandleOrigin, Ohlcv};

    fn candle(day: &str, open: Decimal, close: Decimal) -> Candle {
        let values = Ohlcv {
            open,
            high: open.max(close),
            low: open.min(close),
            close,
            volume: dec!(1),
        };
        Candle::new(
            Symbol::parse("BTC").expect("symbol"),
            day.parse().expect("day"),
            values,
            true,
            CandleOrigin::Sample,
            "2030-01-01".parse().expect("day"),
        )
        .expect("valid candle")
    }

    fn model(
        fee: Decimal,
        slip: Decimal,
        timing: FillTiming,
        rounding: QuantityRounding,
    ) -> FillModel {
        FillModel::new(fee, slip, timing, rounding).expect("valid model")
    }

    #[test]
    fn fills_keep_the_values_and_scales_of_factors_computed_per_fill() {
        let d = candle("2024-01-01", dec!(100), dec!(100));
        let n = candle("2024-01-02", dec!(123.4567), dec!(125));
        let rates = [
            dec!(0),
            dec!(10),
            dec!(2.5),
            dec!(33.3333),
            dec!(7),
            dec!(10000),
        ];
        for fee in rates {
            for slip in rates {
                let m = model(
                    fee,
                    slip,
                    FillTiming::NextOpen,
                    QuantityRounding::Fractional(8),
                );
                // What a fill computed before its factors were kept in the model.
                let bps = Decimal::from(10_000);
                let buy_price = dec!(123.4567) * (Decimal::ONE + slip / bps);
                let sell_price = dec!(123.4567) * (Decimal::ONE - slip / bps);
                let per_unit = buy_price * (Decimal::ONE + fee / bps);
                let cash = Money(dec!(10000));
                match m.buy(Sizing::AllCash, cash, cash, &d, Some(&n)) {
                    Ok(fill) => {
                        let units = (cash.0 / per_unit)
                            .round_dp_with_strategy(8, rust_decimal::RoundingStrategy::ToZero);
                        assert_eq!(fill.price.0.to_string(), buy_price.to_string());
                        assert_eq!(fill.quantity.0.to_string(), units.to_string());
                    }
                    // Only a 100% slippage with a fee leaves too little to buy with.
                    Err(refusal) => assert!(per_unit * dec!(0.00000001) > cash.0, "{refusal:?}"),
                }
                let sell = m.sell(Quantity(dec!(2)), &d, Some(&n));
                assert_eq!(
                    sell.price.0.to_string(),
                    sell_price.to_string(),
                    "{fee} {slip}"
                );
                // The settings alone are stored and sent; the factors come back with them.
                let json = serde_json::to_value(m).expect("serializes");
                assert_eq!(
                    json.as_object().map(|o| o.len()),
                    Some(4),
                    "fee, slippage, timing, rounding: {json}"
                );
                assert_eq!(serde_json::from_value::<FillModel>(json).ok(), Some(m));
            }
        }
    }

    #[test]
    fn a_decision_fills_at_the_next_open_or_the_latest_close_or_its_own_close() {
        let d = candle("2024-01-01", dec!(100), dec!(110));
        let n = candle("2024-01-02", dec!(111), dec!(120));
        let next_open = FillModel::default();
        assert_eq!(
            next_open.reference(&d, Some(&n)),
            (n.day(), Price(dec!(111)), PriceBasis::NextOpen)
        );
        assert_eq!(
            next_open.reference(&d, None),
            (d.day(), Price(dec!(110)), PriceBasis::LatestClose)
        );
        let close = model(
            dec!(0),
            dec!(0),
            FillTiming::Close,
            QuantityRounding::default(),
        );
        assert_eq!(
            close.reference(&d, Some(&n)),
            (d.day(), Price(dec!(110)), PriceBasis::DecisionClose)
        );
    }

    #[test]
    fn all_cash_buys_as_much_as_cash_pays_for_fee_included_rounded_down() {
        let m = model(
            dec!(20),
            dec!(10),
            FillTiming::NextOpen,
            QuantityRounding::Fractional(8),
        );
        let d = candle("2024-01-01", dec!(100), dec!(100));
        let n = candle("2024-01-02", dec!(200), dec!(210));
        let fill = m
            .buy(
                Sizing::AllCash,
                Money(dec!(10000)),
                Money(dec!(10000)),
                &d,
                Some(&n),
            )
            .expect("filled");
        // 200 × 1.001 = 200.2; per unit with 0.2 % fee = 200.6004; 10000 / 200.6004 = 49.850349...
        assert_eq!(fill.price, Price(dec!(200.2)));
        assert_eq!(fill.quantity, Quantity(dec!(49.85034925)));
        assert_eq!(fill.gross, Money(dec!(49.85034925) * dec!(200.2)));
        assert_eq!(fill.fee, Money(fill.gross.0 * dec!(0.002)));
        assert!(-fill.cash_delta().0 <= dec!(10000));
    }

    #[test]
    fn whole_units_round_down_like_backtesting_py() {
        // backtesting.py's first GOOG trade: 10000 / (179.13 × 1.002) = 55.71 → 55 shares.
        let m = model(
            dec!(20),
            dec!(0),
            FillTiming::NextOpen,
            QuantityRounding::WholeUnits,
        );
        let d = candle("2004-12-03", dec!(170), dec!(175));
        let n = candle("2004-12-06", dec!(179.13), dec!(180));
        let fill = m
            .buy(
                Sizing::AllCash,
                Money(dec!(10000)),
                Money(dec!(10000)),
                &d,
                Some(&n),
            )
            .expect("filled");
        assert_eq!(fill.quantity, Quantity(dec!(55)));
    }

    #[test]
    fn an_order_the_cash_cannot_pay_for_is_refused_with_the_amounts() {
        let m = model(
            dec!(10),
            dec!(0),
            FillTiming::Close,
            QuantityRounding::default(),
        );
        let d = candle("2024-01-01", dec!(100), dec!(100));
        let refusal = m
            .buy(
                Sizing::Quantity(Quantity(dec!(10))),
                Money(dec!(1000)),
                Money(dec!(1000)),
                &d,
                None,
            )
            .expect_err("refused");
        assert_eq!(
            refusal,
            Refusal::InsufficientCash {
                needed: Money(dec!(1001)),
                available: Money(dec!(1000))
            }
        );
        let tiny = m.buy(
            Sizing::Amount(Money(dec!(0.5))),
            Money(dec!(1000)),
            Money(dec!(1000)),
            &d,
            None,
        );
        assert_eq!(
            m.with_whole_units()
                .buy(
                    Sizing::Amount(Money(dec!(50))),
                    Money(dec!(1000)),
                    Money(dec!(1000)),
                    &d,
                    None
                )
                .map(|f| f.quantity),
            Err(Refusal::TooSmall {
                amount: Money(dec!(50)),
                price: Price(dec!(100))
            })
        );
        assert!(tiny.is_ok(), "0.5 buys 0.00499500 units fractionally");
    }

    #[test]
    fn a_sell_gets_the_price_less_slippage_and_pays_the_fee() {
        let m = model(
            dec!(10),
            dec!(50),
            FillTiming::NextOpen,
            QuantityRounding::default(),
        );
        let d = candle("2024-01-01", dec!(100), dec!(100));
        let fill = m.sell(Quantity(dec!(2)), &d, None);
        assert_eq!(fill.price, Price(dec!(99.5)));
        assert_eq!(fill.cash_delta(), Money(dec!(199) - dec!(0.199)));
    }

    #[test]
    fn models_and_sizes_read_as_text() {
        let m = model(
            dec!(10.0),
            dec!(5),
            FillTiming::Close,
            QuantityRounding::WholeUnits,
        );
        assert_eq!(
            m.to_string(),
            "close fills, fee 10 bps, slippage 5 bps, whole units"
        );
        assert_eq!(
            FillModel::default().to_string(),
            "next-open fills, fee 0 bps, slippage 0 bps, quantities to 8 decimals"
        );
        assert_eq!(
            Sizing::EquityFraction(dec!(0.10)).to_string(),
            "10% of equity, fee included"
        );
        assert_eq!(
            Sizing::Quantity(Quantity(dec!(0.5))).to_string(),
            "0.5 units"
        );
    }

    #[test]
    fn costs_outside_zero_to_ten_thousand_bps_are_refused() {
        let err = FillModel::new(
            dec!(-1),
            dec!(0),
            FillTiming::NextOpen,
            QuantityRounding::default(),
        )
        .expect_err("negative");
        assert_eq!(err.name, "fee_bps");
        assert!(
            FillModel::new(
                dec!(0),
                dec!(10001),
                FillTiming::NextOpen,
                QuantityRounding::default()
            )
            .is_err()
        );
    }

    impl FillModel {
        fn with_whole_units(mut self) -> Self {
            self.rounding = QuantityRounding::WholeUnits;
            self
        }
    }

    #[test]
    fn huge_sizes_and_prices_are_refused_never_a_panic() {
        let d = candle("2024-01-01", dec!(50000), dec!(50000));
        let costly = model(
            dec!(10),
            dec!(5),
            FillTiming::Close,
            QuantityRounding::default(),
        );
        let cash = Money(Decimal::MAX);
        let sizes = [
            Sizing::Quantity(Quantity(dec!(10000000000000000000000000))),
            Sizing::Quantity(Quantity(Decimal::MAX)),
            Sizing::Amount(Money(Decimal::MAX)),
            Sizing::Amount(Money(Decimal::MAX - Decimal::ONE)),
            Sizing::EquityFraction(Decimal::MAX),
            Sizing::EquityFraction(dec!(1e20)),
            Sizing::AllCash,
        ];
        for sizing in sizes {
            for model in [FillModel::default(), costly] {
                match model.buy(sizing, cash, cash, &d, None) {
                    Err(Refusal::TooLarge { what }) => assert!(!what.is_empty()),
                    Err(other) => panic!("{sizing:?}: {other}"),
                    Ok(fill) => {
                        // What fits is paid for exactly.
                        assert!(fill.gross.0 + fill.fee.0 <= cash.0, "{sizing:?}");
                    }
                }
            }
            let _ = sizing.to_string();
        }
        let refusal = FillModel::default()
            .buy(
                Sizing::Quantity(Quantity(dec!(10000000000000000000000000))),
                cash,
                cash,
                &d,
                None,
            )
            .expect_err("too large");
        assert_eq!(
            refusal.to_string(),
            "order too large: the cost of 10000000000000000000000000 units at 50000 is beyond \
             the amounts that can be computed exactly"
        );
        // The largest price a candle may have, with a quantity whose value is beyond the
        // decimal range: refused on buys, saturated on sells.
        let top = Decimal::from(crate::candle::MAX_PRICE);
        let huge = candle("2024-01-01", top, top);
        assert!(matches!(
            costly.buy(
                Sizing::Quantity(Quantity(dec!(100000000000000000000))),
                cash,
                cash,
                &huge,
                None
            ),
            Err(Refusal::TooLarge { .. })
        ));
        let sold = costly.sell(Quantity(dec!(100000000000000000000)), &huge, None);
        assert!(sold.cash_delta().0 > Decimal::ZERO);
    }
}
