//! A venue's rules for one symbol, and fitting a market order's quantity to them.
//!
//! [`SymbolRules`] is venue-neutral; the adapters fill it from Binance's `exchangeInfo` filters
//! (`LOT_SIZE`, `MARKET_LOT_SIZE`, `PRICE_FILTER`, `NOTIONAL` or the older `MIN_NOTIONAL`) or
//! Alpaca's asset (`fractionable`, crypto `min_order_size` / `min_trade_increment`). As in
//! Binance's filters, a zero means "no constraint".
//!
//! Quantities are always rounded **down** to the step, never up: rounding up can ask for more
//! than the free balance (Binance -2010), above all on a sell, whose balance is already net of
//! fees. An order that does not fit is an [`OrderRefusal`] giving the numbers, which is data,
//! not an error: the daily job records it and goes on.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::execution::Side;
use crate::money::{Money, Price, Quantity};
use crate::symbol::Symbol;

/// One symbol's order rules at one venue; zero in any field means "no constraint".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolRules {
    /// The instrument the rules are for (named in refusals).
    pub symbol: Symbol,
    /// Quantity step for every order (Binance `LOT_SIZE.stepSize`, Alpaca crypto
    /// `min_trade_increment`).
    pub step_size: Quantity,
    /// Smallest quantity for every order (Binance `LOT_SIZE.minQty`, Alpaca crypto
    /// `min_order_size`).
    pub min_quantity: Quantity,
    /// Largest quantity for every order (Binance `LOT_SIZE.maxQty`).
    pub max_quantity: Quantity,
    /// Extra quantity step for market orders (Binance `MARKET_LOT_SIZE.stepSize`); zero, as
    /// live BTCUSDT publishes, means "use [`SymbolRules::step_size`]".
    pub market_step_size: Quantity,
    /// Extra minimum for market orders (Binance `MARKET_LOT_SIZE.minQty`).
    pub market_min_quantity: Quantity,
    /// Extra maximum for market orders (Binance `MARKET_LOT_SIZE.maxQty`).
    pub market_max_quantity: Quantity,
    /// Price step for limit and stop prices (Binance `PRICE_FILTER.tickSize`, Alpaca crypto
    /// `price_increment`); market orders carry no price, so it is only kept here.
    pub tick_size: Price,
    /// Smallest order value (Binance `NOTIONAL.minNotional` or `MIN_NOTIONAL.minNotional`,
    /// Alpaca's $1 notional minimum).
    pub min_notional: Money,
    /// Whether the minimum value applies to market orders (`applyMinToMarket`, or
    /// `applyToMarket` in `MIN_NOTIONAL`). The venue values a market order at its own average
    /// price over `avgPriceMins`; here the caller's reference price stands in for it.
    pub min_notional_applies_to_market: bool,
    /// Largest order value (Binance `NOTIONAL.maxNotional`).
    pub max_notional: Money,
    /// Whether the maximum value applies to market orders (`applyMaxToMarket`).
    pub max_notional_applies_to_market: bool,
    /// Whole units only (an Alpaca asset that is not `fractionable`).
    pub whole_units: bool,
}

/// Why a market order's quantity does not fit the venue's rules; recorded, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "refusal")]
pub enum OrderRefusal {
    /// The quantity asked for is zero or negative.
    #[error("{} {requested} {symbol} is not a positive quantity", a(*side))]
    NotPositive {
        /// Buy or sell.
        side: Side,
        /// The instrument.
        symbol: Symbol,
        /// The quantity asked for.
        requested: Quantity,
    },
    /// Rounded down to the step, nothing is left.
    #[error(
        "{} {requested} {symbol} rounds down to nothing: the venue trades it in steps of {step}",
        a(*side)
    )]
    BelowStep {
        /// Buy or sell.
        side: Side,
        /// The instrument.
        symbol: Symbol,
        /// The quantity asked for.
        requested: Quantity,
        /// The step it was rounded down to.
        step: Quantity,
    },
    /// The rounded quantity is below the venue's minimum.
    #[error(
        "{} {quantity} {symbol} is below the venue's minimum quantity {min} (asked for \
         {requested}, rounded down to the venue's step)",
        a(*side)
    )]
    BelowMinQuantity {
        /// Buy or sell.
        side: Side,
        /// The instrument.
        symbol: Symbol,
        /// The quantity asked for.
        requested: Quantity,
        /// The quantity after rounding down.
        quantity: Quantity,
        /// The venue's minimum.
        min: Quantity,
    },
    /// The rounded quantity is above the venue's maximum for market orders.
    #[error(
        "{} {quantity} {symbol} is above the venue's maximum quantity {max} for market orders: \
         lower the order's size, or split it by hand",
        a(*side)
    )]
    AboveMaxQuantity {
        /// Buy or sell.
        side: Side,
        /// The instrument.
        symbol: Symbol,
        /// The quantity after rounding down.
        quantity: Quantity,
        /// The venue's maximum.
        max: Quantity,
    },
    /// The order's value at the reference price is below the venue's minimum.
    #[error(
        "{} {quantity} {symbol} at about {price} is worth {notional}, below the venue's \
         minimum order value {min}",
        a(*side)
    )]
    BelowMinNotional {
        /// Buy or sell.
        side: Side,
        /// The instrument.
        symbol: Symbol,
        /// The quantity after rounding down.
        quantity: Quantity,
        /// The reference price.
        price: Price,
        /// Quantity × price.
        notional: Money,
        /// The venue's minimum.
        min: Money,
    },
    /// The order's value at the reference price is above the venue's maximum.
    #[error(
        "{} {quantity} {symbol} at about {price} is worth {notional}, above the venue's \
         maximum order value {max}: lower the order's size",
        a(*side)
    )]
    AboveMaxNotional {
        /// Buy or sell.
        side: Side,
        /// The instrument.
        symbol: Symbol,
        /// The quantity after rounding down.
        quantity: Quantity,
        /// The reference price.
        price: Price,
        /// Quantity × price.
        notional: Money,
        /// The venue's maximum.
        max: Money,
    },
    /// The reference price cannot value the order.
    #[error(
        "the reference price {price} for {symbol} is not positive, so the order's value \
         cannot be checked against the venue's limits"
    )]
    BadReferencePrice {
        /// The instrument.
        symbol: Symbol,
        /// The price given.
        price: Price,
    },
    /// A product left the decimal range.
    #[error("order too large: {what} is beyond the amounts that can be computed exactly")]
    TooLarge {
        /// What overflowed.
        what: String,
    },
    /// The rules themselves cannot be applied.
    #[error("the venue's rules for {symbol} are unusable: {problem}; fetch them again")]
    BadRules {
        /// The instrument.
        symbol: Symbol,
        /// What is wrong.
        problem: String,
    },
}

/// "a buy of" / "a sell of", for refusal messages.
fn a(side: Side) -> &'static str {
    match side {
        Side::Buy => "a buy of",
        Side::Sell => "a sell of",
    }
}

impl SymbolRules {
    /// Rules with no constraint at all for `symbol`; set the fields the venue publishes.
    pub fn new(symbol: Symbol) -> Self {
        let zero = Decimal::ZERO;
        Self {
            symbol,
            step_size: Quantity(zero),
            min_quantity: Quantity(zero),
            max_quantity: Quantity(zero),
            market_step_size: Quantity(zero),
            market_min_quantity: Quantity(zero),
            market_max_quantity: Quantity(zero),
            tick_size: Price(zero),
            min_notional: Money(zero),
            // A minimum the adapter sets applies unless the venue says otherwise.
            min_notional_applies_to_market: true,
            max_notional: Money(zero),
            max_notional_applies_to_market: true,
            whole_units: false,
        }
    }

    /// The step a market order's quantity must be a multiple of: every non-zero step that
    /// applies (lot, market lot, one unit for whole units) at once, so their least common
    /// multiple; zero when none applies.
    ///
    /// # Errors
    /// [`OrderRefusal::BadRules`] when a field is negative or the steps have no common
    /// multiple within the decimal range.
    pub fn market_step(&self) -> Result<Quantity, OrderRefusal> {
        self.check()?;
        let mut step = Decimal::ZERO;
        let whole = if self.whole_units {
            Decimal::ONE
        } else {
            Decimal::ZERO
        };
        for s in [self.step_size.0, self.market_step_size.0, whole] {
            if s.is_zero() {
                continue;
            }
            step = if step.is_zero() {
                s
            } else {
                lcm(step, s).ok_or_else(|| self.bad(format!("the steps {step} and {s} differ")))?
            };
        }
        Ok(Quantity(step.normalize()))
    }

    /// Fits a market order's quantity to the rules: rounded down to the step, then checked
    /// against the minimum and maximum quantity and, at `reference_price` (the latest close
    /// or the venue's average price), the minimum and maximum value.
    ///
    /// A quantity above the maximum is refused, not capped: a capped buy would silently be a
    /// smaller position than decided, and a capped sell would leave a remainder that Barter
    /// believes closed. The refusal says so, for the user to resize.
    ///
    /// The venue values a market order at its own average price, which may be below the
    /// reference: pass a conservative price when an order is close to the minimum value.
    ///
    /// # Errors
    /// [`OrderRefusal`] naming the rule and the numbers.
    pub fn prepare_market(
        &self,
        side: Side,
        quantity: Quantity,
        reference_price: Price,
    ) -> Result<Quantity, OrderRefusal> {
        let symbol = self.symbol.clone();
        let requested = Quantity(quantity.0.normalize());
        if quantity.0 <= Decimal::ZERO {
            return Err(OrderRefusal::NotPositive {
                side,
                symbol,
                requested,
            });
        }
        let step = self.market_step()?;
        let rounded = if step.0.is_zero() {
            quantity.0
        } else {
            // q − (q mod step) is exact, unlike ⌊q / step⌋ × step, whose division may round up.
            quantity
                .0
                .checked_rem(step.0)
                .and_then(|rest| quantity.0.checked_sub(rest))
                .ok_or_else(|| OrderRefusal::TooLarge {
                    what: format!("{requested} {symbol} in steps of {step}"),
                })?
        };
        let rounded = Quantity(rounded.normalize());
        if rounded.0.is_zero() {
            return Err(OrderRefusal::BelowStep {
                side,
                symbol,
                requested,
                step,
            });
        }
        let min = self.min_quantity.0.max(self.market_min_quantity.0);
        if rounded.0 < min {
            return Err(OrderRefusal::BelowMinQuantity {
                side,
                symbol,
                requested,
                quantity: rounded,
                min: Quantity(min.normalize()),
            });
        }
        let max = [self.max_quantity.0, self.market_max_quantity.0]
            .into_iter()
            .filter(|m| !m.is_zero())
            .min();
        if let Some(max) = max
            && rounded.0 > max
        {
            return Err(OrderRefusal::AboveMaxQuantity {
                side,
                symbol,
                quantity: rounded,
                max: Quantity(max.normalize()),
            });
        }
        let min_value = (self.min_notional_applies_to_market && !self.min_notional.0.is_zero())
            .then_some(self.min_notional.0);
        let max_value = (self.max_notional_applies_to_market && !self.max_notional.0.is_zero())
            .then_some(self.max_notional.0);
        if min_value.is_none() && max_value.is_none() {
            return Ok(rounded);
        }
        if reference_price.0 <= Decimal::ZERO {
            return Err(OrderRefusal::BadReferencePrice {
                symbol,
                price: reference_price,
            });
        }
        let price = Price(reference_price.0.normalize());
        let notional = rounded
            .0
            .checked_mul(price.0)
            .map(|n| Money(n.normalize()))
            .ok_or_else(|| OrderRefusal::TooLarge {
                what: format!("the value of {rounded} {symbol} at {price}"),
            })?;
        if let Some(min) = min_value
            && notional.0 < min
        {
            return Err(OrderRefusal::BelowMinNotional {
                side,
                symbol,
                quantity: rounded,
                price,
                notional,
                min: Money(min.normalize()),
            });
        }
        if let Some(max) = max_value
            && notional.0 > max
        {
            return Err(OrderRefusal::AboveMaxNotional {
                side,
                symbol,
                quantity: rounded,
                price,
                notional,
                max: Money(max.normalize()),
            });
        }
        Ok(rounded)
    }

    /// Refuses negative values, which no venue publishes.
    fn check(&self) -> Result<(), OrderRefusal> {
        let fields = [
            ("step_size", self.step_size.0),
            ("min_quantity", self.min_quantity.0),
            ("max_quantity", self.max_quantity.0),
            ("market_step_size", self.market_step_size.0),
            ("market_min_quantity", self.market_min_quantity.0),
            ("market_max_quantity", self.market_max_quantity.0),
            ("tick_size", self.tick_size.0),
            ("min_notional", self.min_notional.0),
            ("max_notional", self.max_notional.0),
        ];
        match fields.into_iter().find(|(_, v)| *v < Decimal::ZERO) {
            Some((name, value)) => Err(self.bad(format!("{name} is negative ({value})"))),
            None => Ok(()),
        }
    }

    fn bad(&self, problem: String) -> OrderRefusal {
        OrderRefusal::BadRules {
            symbol: self.symbol.clone(),
            problem,
        }
    }
}

/// The least common multiple of two positive decimals, or `None` beyond the decimal range.
fn lcm(a: Decimal, b: Decimal) -> Option<Decimal> {
    // Euclid works on decimals as on integers: both are whole multiples of 10^-scale and the
    // remainder is exact, so it ends at their greatest common divisor.
    let (mut x, mut y) = (a, b);
    while !y.is_zero() {
        let r = x.checked_rem(y)?;
        x = y;
        y = r;
    }
    if x.is_zero() {
        return None;
    }
    a.checked_div(x)?.checked_mul(b)
}

/// A quantity as venues accept it: plain digits (Binance refuses exponent notation with -1100),
/// cut toward zero to the step's decimals (more decimals are refused with -1111), with no
/// trailing zeros. A zero or negative step cuts nothing.
///
/// This only writes the number; [`SymbolRules::prepare_market`] makes it a multiple of the step.
pub fn format_quantity(quantity: Quantity, step: Quantity) -> String {
    let value = if step.0 > Decimal::ZERO {
        quantity
            .0
            .round_dp_with_strategy(step.0.normalize().scale(), RoundingStrategy::ToZero)
    } else {
        quantity.0
    };
    // `normalize` also turns −0 into 0; `Display` of a decimal never uses an exponent.
    value.normalize().to_string()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    /// fixtures/binance/exchangeInfo_BTCUSDT.json
    fn btcusdt() -> SymbolRules {
        SymbolRules {
            step_size: Quantity(dec!(0.00001000)),
            min_quantity: Quantity(dec!(0.00001000)),
            max_quantity: Quantity(dec!(9000.00000000)),
            market_step_size: Quantity(dec!(0.00000000)),
            market_min_quantity: Quantity(dec!(0.00000000)),
            market_max_quantity: Quantity(dec!(84.31950217)),
            tick_size: Price(dec!(0.01)),
            min_notional: Money(dec!(5.00000000)),
            min_notional_applies_to_market: true,
            max_notional: Money(dec!(9000000.00000000)),
            max_notional_applies_to_market: false,
            ..SymbolRules::new(Symbol::parse("BTC").expect("symbol"))
        }
    }

    /// fixtures/binance/exchangeInfo_ETHBTC_legacy_filters.json
    fn ethbtc() -> SymbolRules {
        SymbolRules {
            step_size: Quantity(dec!(0.0001)),
            min_quantity: Quantity(dec!(0.0001)),
            max_quantity: Quantity(dec!(100000)),
            market_step_size: Quantity(dec!(0.001)),
            market_min_quantity: Quantity(dec!(0.001)),
            market_max_quantity: Quantity(dec!(1500)),
            min_notional: Money(dec!(0.0001)),
            ..SymbolRules::new(Symbol::parse("ETH").expect("symbol"))
        }
    }

    #[test]
    fn a_zero_market_step_uses_the_lot_step_and_quantities_round_down() {
        let rules = btcusdt();
        assert_eq!(rules.market_step(), Ok(Quantity(dec!(0.00001))));
        assert_eq!(
            rules.prepare_market(Side::Buy, Quantity(dec!(0.0123456789)), Price(dec!(98000))),
            Ok(Quantity(dec!(0.01234)))
        );
        // Already on the step: unchanged.
        assert_eq!(
            rules.prepare_market(Side::Sell, Quantity(dec!(0.00999)), Price(dec!(98000))),
            Ok(Quantity(dec!(0.00999)))
        );
    }

    #[test]
    fn a_market_step_applies_with_the_lot_step() {
        let rules = ethbtc();
        assert_eq!(rules.market_step(), Ok(Quantity(dec!(0.001))));
        assert_eq!(
            rules.prepare_market(Side::Buy, Quantity(dec!(1.23456)), Price(dec!(0.035))),
            Ok(Quantity(dec!(1.234)))
        );
        // Steps that do not divide each other: both must hold, so their common multiple.
        let odd = SymbolRules {
            step_size: Quantity(dec!(0.0002)),
            market_step_size: Quantity(dec!(0.0003)),
            ..ethbtc()
        };
        assert_eq!(odd.market_step(), Ok(Quantity(dec!(0.0006))));
        let whole = SymbolRules {
            step_size: Quantity(dec!(0.5)),
            market_step_size: Quantity(dec!(0)),
            whole_units: true,
            ..SymbolRules::new(Symbol::parse("AAPL").expect("symbol"))
        };
        assert_eq!(whole.market_step(), Ok(Quantity(dec!(1))));
        assert_eq!(
            whole.prepare_market(Side::Buy, Quantity(dec!(55.71)), Price(dec!(179))),
            Ok(Quantity(dec!(55)))
        );
    }

    #[test]
    fn refusals_name_the_rule_and_the_numbers() {
        let rules = btcusdt();
        let price = Price(dec!(98000));
        let text = |q: Decimal| {
            rules
                .prepare_market(Side::Buy, Quantity(q), price)
                .expect_err("refused")
                .to_string()
        };
        assert_eq!(
            text(dec!(0.000004)),
            "a buy of 0.000004 BTC rounds down to nothing: the venue trades it in steps of 0.00001"
        );
        assert_eq!(
            text(dec!(0.0000499)),
            "a buy of 0.00004 BTC at about 98000 is worth 3.92, below the venue's minimum \
             order value 5"
        );
        assert_eq!(
            text(dec!(100)),
            "a buy of 100 BTC is above the venue's maximum quantity 84.31950217 for market \
             orders: lower the order's size, or split it by hand"
        );
        assert_eq!(text(dec!(0)), "a buy of 0 BTC is not a positive quantity");
        let sell = ethbtc()
            .prepare_market(Side::Sell, Quantity(dec!(0.00099)), Price(dec!(0.035)))
            .expect_err("below min");
        // The lot step (0.0001) alone would keep 0.0009; the market step makes it 0.
        assert_eq!(
            sell.to_string(),
            "a sell of 0.00099 ETH rounds down to nothing: the venue trades it in steps of 0.001"
        );
        let min = SymbolRules {
            step_size: Quantity(dec!(0.00001)),
            min_quantity: Quantity(dec!(0.0001)),
            ..SymbolRules::new(Symbol::parse("BTC").expect("symbol"))
        }
        .prepare_market(Side::Sell, Quantity(dec!(0.000049)), Price(dec!(1)))
        .expect_err("below min");
        assert_eq!(
            min.to_string(),
            "a sell of 0.00004 BTC is below the venue's minimum quantity 0.0001 (asked for \
             0.000049, rounded down to the venue's step)"
        );
    }

    #[test]
    fn notional_limits_apply_only_to_market_when_flagged() {
        let mut rules = btcusdt();
        rules.min_notional_applies_to_market = false;
        assert_eq!(
            rules.prepare_market(Side::Buy, Quantity(dec!(0.00001)), Price(dec!(98000))),
            Ok(Quantity(dec!(0.00001)))
        );
        // The max value (9,000,000) does not apply to market orders on BTCUSDT.
        let big = SymbolRules {
            market_max_quantity: Quantity(dec!(0)),
            ..btcusdt()
        };
        assert!(
            big.prepare_market(Side::Buy, Quantity(dec!(1000)), Price(dec!(98000)))
                .is_ok()
        );
        let capped = SymbolRules {
            max_notional_applies_to_market: true,
            ..big
        };
        assert!(matches!(
            capped.prepare_market(Side::Buy, Quantity(dec!(1000)), Price(dec!(98000))),
            Err(OrderRefusal::AboveMaxNotional { .. })
        ));
        assert!(matches!(
            btcusdt().prepare_market(Side::Buy, Quantity(dec!(1)), Price(dec!(0))),
            Err(OrderRefusal::BadReferencePrice { .. })
        ));
    }

    #[test]
    fn unusable_rules_and_huge_quantities_are_refusals_not_panics() {
        let negative = SymbolRules {
            step_size: Quantity(dec!(-0.1)),
            ..btcusdt()
        };
        let err = negative
            .prepare_market(Side::Buy, Quantity(dec!(1)), Price(dec!(1)))
            .expect_err("bad");
        assert!(err.to_string().contains("step_size is negative"), "{err}");
        assert!(matches!(
            btcusdt().prepare_market(Side::Buy, Quantity(Decimal::MAX), Price(Decimal::MAX)),
            Err(OrderRefusal::AboveMaxQuantity { .. })
        ));
        let unbounded = SymbolRules {
            max_quantity: Quantity(dec!(0)),
            market_max_quantity: Quantity(dec!(0)),
            ..btcusdt()
        };
        assert!(matches!(
            unbounded.prepare_market(Side::Buy, Quantity(Decimal::MAX), Price(dec!(2))),
            Err(OrderRefusal::TooLarge { .. })
        ));
    }

    #[test]
    fn quantities_are_written_without_exponent_or_extra_decimals() {
        let step = Quantity(dec!(0.00001000));
        assert_eq!(format_quantity(Quantity(dec!(0.01000000)), step), "0.01");
        assert_eq!(format_quantity(Quantity(dec!(0.00001)), step), "0.00001");
        assert_eq!(format_quantity(Quantity(dec!(0.0123456)), step), "0.01234");
        assert_eq!(
            format_quantity(Quantity(dec!(1e-8)), Quantity(dec!(0))),
            "0.00000001"
        );
        assert_eq!(format_quantity(Quantity(dec!(55)), Quantity(dec!(1))), "55");
        assert_eq!(
            format_quantity(Quantity(dec!(1500)), Quantity(dec!(10))),
            "1500"
        );
        assert_eq!(format_quantity(Quantity(dec!(-0.000)), step), "0");
        assert_eq!(
            format_quantity(Quantity(dec!(0.0000001)), Quantity(dec!(0))),
            "0.0000001"
        );
    }

    #[test]
    fn refusals_serialize_with_their_kind() {
        let refusal = btcusdt()
            .prepare_market(Side::Buy, Quantity(dec!(200)), Price(dec!(1)))
            .expect_err("too big");
        let json = serde_json::to_value(&refusal).expect("json");
        assert_eq!(json["refusal"], "above_max_quantity");
        let back: OrderRefusal = serde_json::from_value(json).expect("back");
        assert_eq!(back, refusal);
    }
}
