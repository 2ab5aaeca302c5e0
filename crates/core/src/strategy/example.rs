//! An example strategy written in Rust instead of rules: N-day momentum on exact decimals.
//!
//! Enter when the close is more than `threshold` above the close `lookback` days earlier; exit
//! (signal) when it falls back below that earlier close. It reads the market only through the
//! [`MarketView`], like every strategy, so it cannot see past the decision day.

use rust_decimal::Decimal;

use super::{Decision, ExitLimits, Outcome, Strategy};
use crate::account::Position;
use crate::market::MarketView;
use crate::rule::IndicatorCache;
use crate::symbol::Symbol;

/// N-day momentum: buy strength, sell when the gain is gone.
#[derive(Debug, Clone)]
pub struct Momentum {
    /// The strategy's name.
    pub name: String,
    /// How many days back the comparison close is.
    pub lookback: usize,
    /// Minimum gain over `lookback` days to enter (0.1 = 10 %).
    pub threshold: Decimal,
    /// Risk exits.
    pub limits: ExitLimits,
}

impl Momentum {
    /// The change of `symbol`'s close over `lookback` days at the view's day, as a fraction.
    fn change(
        &self,
        view: &MarketView<'_>,
        symbol: &Symbol,
    ) -> Result<(Decimal, Decimal, Decimal), String> {
        let candles = view.candles(symbol);
        let n = candles.len();
        if n <= self.lookback {
            return Err(format!(
                "needs {} days of {symbol} history, {n} available",
                self.lookback + 1
            ));
        }
        let now = candles[n - 1].close().0;
        let then = candles[n - 1 - self.lookback].close().0;
        Ok((now / then - Decimal::ONE, now, then))
    }

    fn decide(
        &self,
        view: &MarketView<'_>,
        symbol: &Symbol,
        passes: impl Fn(Decimal) -> bool,
        what: &str,
    ) -> Decision {
        match self.change(view, symbol) {
            Err(reason) => Decision {
                outcome: Outcome::NotReady,
                values: Vec::new(),
                explanation: reason,
            },
            Ok((change, now, then)) => {
                let passed = passes(change);
                let f = crate::candle::decimal_to_f64;
                Decision {
                    outcome: if passed {
                        Outcome::Passed
                    } else {
                        Outcome::Failed
                    },
                    values: vec![
                        ("close".into(), f(now)),
                        (format!("close[{}]", self.lookback), f(then)),
                        ("change".into(), f(change)),
                    ],
                    explanation: format!(
                        "{what}: {}-day change {change} (close {now} vs {then})",
                        self.lookback
                    ),
                }
            }
        }
    }
}

impl Strategy for Momentum {
    fn name(&self) -> &str {
        &self.name
    }

    fn trades(&self, _symbol: &Symbol) -> bool {
        true
    }

    fn entry(
        &self,
        view: &MarketView<'_>,
        symbol: &Symbol,
        _cache: &mut IndicatorCache,
    ) -> Decision {
        self.decide(
            view,
            symbol,
            |change| change > self.threshold,
            "momentum entry",
        )
    }

    fn exit_signal(
        &self,
        view: &MarketView<'_>,
        position: &Position,
        _cache: &mut IndicatorCache,
    ) -> Option<Decision> {
        Some(self.decide(
            view,
            &position.symbol,
            |change| change < Decimal::ZERO,
            "momentum exit",
        ))
    }

    fn exit_limits(&self) -> ExitLimits {
        self.limits
    }
}
