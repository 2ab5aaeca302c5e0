//! Exits that need no rule: stop-loss, trailing stop, take-profit and maximum holding time.
//!
//! All are judged on the close of the decision day D (the system is scheduled daily, so an
//! intraday low is not acted on) and, like every decision, fill at the next open. When several
//! hold on the same day, the first in this order is the reason recorded:
//! **stop-loss, trailing stop, take-profit, max holding**, then the strategy's exit rule (signal).
//! Levels are exact decimals: stop = entry × (1 − stop_loss), trailing = highest close since
//! entry × (1 − trailing_stop), target = entry × (1 + take_profit).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::account::{ExitReason, Position};
use crate::candle::Candle;
use crate::money::Price;

/// A strategy's risk exits; fractions (0.08 = 8 %), `None` when not used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitLimits {
    /// Close when the close falls this far below the entry price.
    pub stop_loss: Option<Decimal>,
    /// Close when the close rises this far above the entry price.
    pub take_profit: Option<Decimal>,
    /// Close when the close falls this far below the highest close since entry.
    pub trailing_stop: Option<Decimal>,
    /// Close after this many days held: the instrument's trading days (candles) since the entry
    /// day, so an exchange holiday is not a day held.
    pub max_holding_days: Option<u32>,
}

/// A risk exit that holds, with the numbers that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitTrigger {
    /// Which exit.
    pub reason: ExitReason,
    /// The decision day's close.
    pub close: Price,
    /// The price level crossed, for price-based exits.
    pub level: Option<Price>,
    /// One sentence a user can read, e.g. `close 91 <= stop 92 (entry 100 - 8%)`.
    pub explanation: String,
}

impl std::fmt::Display for ExitLimits {
    /// E.g. `stop-loss 8%, trailing stop 12%` (`no risk exits` when none is set).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let percent = |x: Decimal| format!("{}%", (x * Decimal::ONE_HUNDRED).normalize());
        let parts: Vec<String> = [
            self.stop_loss.map(|x| format!("stop-loss {}", percent(x))),
            self.trailing_stop
                .map(|x| format!("trailing stop {}", percent(x))),
            self.take_profit
                .map(|x| format!("take-profit {}", percent(x))),
            self.max_holding_days
                .map(|d| format!("max holding {d} days")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            f.write_str("no risk exits")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

impl ExitLimits {
    /// The first risk exit that holds for `position` at the last candle of `held`, which must be
    /// the position's candles from its entry day through the decision day.
    pub fn check(&self, position: &Position, held: &[Candle]) -> Option<ExitTrigger> {
        let last = held.last()?;
        let close = last.close();
        let entry = position.entry_price.0;
        let percent = |f: Decimal| format!("{}%", (f * Decimal::ONE_HUNDRED).normalize());
        let trigger = |reason, level: Option<Decimal>, explanation: String| ExitTrigger {
            reason,
            close,
            level: level.map(Price),
            explanation,
        };
        if let Some(sl) = self.stop_loss {
            let level = entry * (Decimal::ONE - sl);
            if close.0 <= level {
                let why = format!(
                    "close {close} <= stop {level} (entry {entry} - {})",
                    percent(sl)
                );
                return Some(trigger(ExitReason::StopLoss, Some(level), why));
            }
        }
        if let Some(ts) = self.trailing_stop {
            let high = held.iter().map(|c| c.close().0).max().unwrap_or(close.0);
            let level = high * (Decimal::ONE - ts);
            if close.0 <= level {
                let why = format!(
                    "close {close} <= trailing stop {level} (highest close since entry {high} - {})",
                    percent(ts)
                );
                return Some(trigger(ExitReason::TrailingStop, Some(level), why));
            }
        }
        if let Some(tp) = self.take_profit {
            let level = entry * (Decimal::ONE + tp);
            if close.0 >= level {
                let why = format!(
                    "close {close} >= target {level} (entry {entry} + {})",
                    percent(tp)
                );
                return Some(trigger(ExitReason::TakeProfit, Some(level), why));
            }
        }
        if let Some(max) = self.max_holding_days {
            let days = held.len().saturating_sub(1);
            if days >= max as usize {
                let why = format!("held {days} day(s), the maximum is {max}");
                return Some(trigger(ExitReason::MaxHolding, None, why));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn limits_read_as_text_in_priority_order() {
        let limits = ExitLimits {
            stop_loss: Some(rust_decimal_macros::dec!(0.08)),
            take_profit: None,
            trailing_stop: Some(rust_decimal_macros::dec!(0.125)),
            max_holding_days: Some(30),
        };
        assert_eq!(
            limits.to_string(),
            "stop-loss 8%, trailing stop 12.5%, max holding 30 days"
        );
        assert_eq!(ExitLimits::default().to_string(), "no risk exits");
    }
    use crate::account::PositionId;
    use crate::candle::{CandleOrigin, Ohlcv};
    use crate::money::{Money, Quantity};
    use crate::symbol::Symbol;

    fn held(closes: &[Decimal]) -> Vec<Candle> {
        let first: crate::Day = "2024-01-01".parse().expect("day");
        closes
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let values = Ohlcv {
                    open: c,
                    high: c,
                    low: c,
                    close: c,
                    volume: dec!(1),
                };
                Candle::new(
                    Symbol::parse("BTC").expect("s"),
                    first + chrono::Days::new(i as u64),
                    values,
                    true,
                    CandleOrigin::Sample,
                    "2025-01-01".parse().expect("day"),
                )
                .expect("valid")
            })
            .collect()
    }

    fn position() -> Position {
        Position {
            id: PositionId(1),
            symbol: Symbol::parse("BTC").expect("s"),
            strategy: "t".into(),
            quantity: Quantity(dec!(1)),
            entry_price: Price(dec!(100)),
            entry_day: "2024-01-01".parse().expect("day"),
            entry_fee: Money(dec!(0)),
            exit: None,
        }
    }

    #[test]
    fn each_limit_triggers_at_its_level_and_not_before() {
        let limits = |sl, tp, ts, max| ExitLimits {
            stop_loss: sl,
            take_profit: tp,
            trailing_stop: ts,
            max_holding_days: max,
        };
        let cases: [(&str, ExitLimits, Vec<Decimal>, Option<ExitReason>); 8] = [
            (
                "stop at the level",
                limits(Some(dec!(0.08)), None, None, None),
                vec![dec!(100), dec!(92)],
                Some(ExitReason::StopLoss),
            ),
            (
                "stop just above",
                limits(Some(dec!(0.08)), None, None, None),
                vec![dec!(100), dec!(92.01)],
                None,
            ),
            (
                "target at the level",
                limits(None, Some(dec!(0.1)), None, None),
                vec![dec!(100), dec!(110)],
                Some(ExitReason::TakeProfit),
            ),
            (
                "target just below",
                limits(None, Some(dec!(0.1)), None, None),
                vec![dec!(100), dec!(109.99)],
                None,
            ),
            (
                "trailing from the high",
                limits(None, None, Some(dec!(0.05)), None),
                vec![dec!(100), dec!(120), dec!(114)],
                Some(ExitReason::TrailingStop),
            ),
            (
                "trailing not yet",
                limits(None, None, Some(dec!(0.05)), None),
                vec![dec!(100), dec!(120), dec!(114.01)],
                None,
            ),
            (
                "max holding reached",
                limits(None, None, None, Some(2)),
                vec![dec!(100), dec!(101), dec!(102)],
                Some(ExitReason::MaxHolding),
            ),
            (
                "stop wins over max holding",
                limits(Some(dec!(0.01)), None, None, Some(1)),
                vec![dec!(100), dec!(50)],
                Some(ExitReason::StopLoss),
            ),
        ];
        for (label, limits, closes, expected) in cases {
            let got = limits.check(&position(), &held(&closes)).map(|t| t.reason);
            assert_eq!(got, expected, "{label}");
        }
    }

    #[test]
    fn a_trigger_explains_itself_with_exact_levels() {
        let limits = ExitLimits {
            stop_loss: Some(dec!(0.08)),
            ..ExitLimits::default()
        };
        let t = limits
            .check(&position(), &held(&[dec!(100), dec!(91)]))
            .expect("stop");
        assert_eq!(t.level, Some(Price(dec!(92.00))));
        assert_eq!(t.explanation, "close 91 <= stop 92.00 (entry 100 - 8%)");
    }
}
