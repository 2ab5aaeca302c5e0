//! Per-group figures of a backtest's closed trades: by instrument, by strategy, by exit reason.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::account::ExitReason;
use crate::money::Money;

use super::result::Trade;

/// Closed-trade figures for one group of trades (an instrument, an exit reason, a strategy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// The group's name.
    pub group: String,
    /// Closed trades in the group.
    pub trades: usize,
    /// Trades with P&L > 0.
    pub wins: usize,
    /// Share of trades with P&L > 0, in percent.
    pub win_rate_pct: Option<f64>,
    /// Sum of the P&Ls, exact.
    pub pnl: Money,
    /// Sum of the fees, exact.
    pub fees: Money,
    /// Arithmetic mean return in percent.
    pub avg_return_pct: Option<f64>,
    /// Best return in percent.
    pub best_trade_pct: Option<f64>,
    /// Worst return in percent.
    pub worst_trade_pct: Option<f64>,
}

/// One breakdown per instrument, sorted by symbol.
pub fn by_instrument(trades: &[Trade]) -> Vec<Breakdown> {
    breakdown(trades, |t| t.symbol.as_str().to_owned())
}

/// One breakdown per exit reason (`signal`, `stop_loss`, ... as serde writes them), sorted by name.
pub fn by_exit_reason(trades: &[Trade]) -> Vec<Breakdown> {
    breakdown(trades, |t| exit_reason_name(t.reason))
}

/// One breakdown per strategy, sorted by name.
pub fn by_strategy(trades: &[Trade]) -> Vec<Breakdown> {
    breakdown(trades, |t| t.strategy.clone())
}

/// An exit reason's serde name: its variant in snake_case (`StopLoss` → `stop_loss`), as the
/// enum's `#[serde(rename_all = "snake_case")]` writes it, for every present and future variant.
fn exit_reason_name(reason: ExitReason) -> String {
    let variant = format!("{reason:?}");
    let mut name = String::with_capacity(variant.len() + 4);
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                name.push('_');
            }
            name.push(c.to_ascii_lowercase());
        } else {
            name.push(c);
        }
    }
    name
}

/// Groups the trades by `group` and sums each group.
fn breakdown(trades: &[Trade], group: impl Fn(&Trade) -> String) -> Vec<Breakdown> {
    let mut groups: BTreeMap<String, Breakdown> = BTreeMap::new();
    let mut return_sums: BTreeMap<String, f64> = BTreeMap::new();
    for trade in trades {
        let name = group(trade);
        let entry = groups.entry(name.clone()).or_insert_with(|| Breakdown {
            group: name.clone(),
            trades: 0,
            wins: 0,
            win_rate_pct: None,
            pnl: Money::default(),
            fees: Money::default(),
            avg_return_pct: None,
            best_trade_pct: None,
            worst_trade_pct: None,
        });
        let r = trade.return_fraction * 100.0;
        entry.trades += 1;
        entry.wins += usize::from(trade.pnl.0.is_sign_positive() && !trade.pnl.0.is_zero());
        entry.pnl = Money(entry.pnl.0 + trade.pnl.0);
        entry.fees = Money(entry.fees.0 + trade.fees.0);
        entry.best_trade_pct = Some(entry.best_trade_pct.map_or(r, |b| b.max(r)));
        entry.worst_trade_pct = Some(entry.worst_trade_pct.map_or(r, |w| w.min(r)));
        *return_sums.entry(name).or_insert(0.0) += r;
    }
    groups
        .into_values()
        .zip(return_sums.into_values())
        .map(|(mut b, return_sum)| {
            let n = b.trades as f64;
            b.win_rate_pct = Some(b.wins as f64 / n * 100.0);
            b.avg_return_pct = Some(return_sum / n);
            b
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::simulator::stats::tests::{assert_close, trade};
    use crate::symbol::Symbol;

    #[test]
    fn breakdowns_group_and_sort_the_trades() {
        let mut trades = vec![
            trade(0, 1, dec!(10), 0.10),
            trade(2, 3, dec!(-4), -0.04),
            trade(4, 5, dec!(6), 0.06),
        ];
        trades[0].symbol = Symbol::parse("SPY").expect("symbol");
        trades[1].reason = ExitReason::StopLoss;
        trades[2].strategy = "breakout".to_owned();

        let by_symbol = by_instrument(&trades);
        let names: Vec<&str> = by_symbol.iter().map(|b| b.group.as_str()).collect();
        assert_eq!(names, ["BTC", "SPY"]);
        let btc = &by_symbol[0];
        assert_eq!((btc.trades, btc.wins), (2, 1));
        assert_eq!(btc.win_rate_pct, Some(50.0));
        assert_eq!(btc.pnl, Money(dec!(2)));
        assert_eq!(btc.fees, Money(dec!(1.0)));
        assert_close("avg", btc.avg_return_pct, Some(1.0));
        assert_close("best", btc.best_trade_pct, Some(6.0));
        assert_close("worst", btc.worst_trade_pct, Some(-4.0));

        let by_reason = by_exit_reason(&trades);
        let names: Vec<&str> = by_reason.iter().map(|b| b.group.as_str()).collect();
        assert_eq!(names, ["signal", "stop_loss"]);

        let by_name = by_strategy(&trades);
        let names: Vec<&str> = by_name.iter().map(|b| b.group.as_str()).collect();
        assert_eq!(names, ["breakout", "cross"]);
        assert!(by_instrument(&[]).is_empty());
    }

    #[test]
    fn exit_reason_names_are_serdes() {
        for reason in [
            ExitReason::Signal,
            ExitReason::StopLoss,
            ExitReason::TakeProfit,
            ExitReason::TrailingStop,
            ExitReason::MaxHolding,
            ExitReason::EndOfBacktest,
        ] {
            let serde = serde_json::to_value(reason).expect("serializes");
            assert_eq!(serde.as_str(), Some(exit_reason_name(reason).as_str()));
        }
    }
}
