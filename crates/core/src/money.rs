//! Exact decimal newtypes for market values and money; floating point never touches a price.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A price in the instrument's quote currency (always > 0 in a valid candle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Price(pub Decimal);

/// An amount of the quote currency: cash, fees, cost, proceeds, P&L.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(pub Decimal);

/// How many units of an instrument a position or fill holds (fractional by default).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Quantity(pub Decimal);

/// A traded amount over a period, in the unit the source reports (base asset or shares).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Volume(pub Decimal);

macro_rules! decimal_newtype {
    ($name:ident) => {
        impl $name {
            /// The underlying exact decimal.
            pub fn value(self) -> Decimal {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<Decimal> for $name {
            fn from(value: Decimal) -> Self {
                Self(value)
            }
        }
    };
}

decimal_newtype!(Price);
decimal_newtype!(Volume);
decimal_newtype!(Money);
decimal_newtype!(Quantity);
