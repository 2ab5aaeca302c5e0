//! Strategies on point-in-time market views: no lookahead, exit priority, Rust and rule strategies.

use barter_core::rule::{IndicatorCache, Params};
use barter_core::strategy::example::Momentum;
use barter_core::strategy::{
    ExitLimits, InstrumentSelection, NumberText, Outcome, Strategy, StrategyConfig, decide_exit,
};
use barter_core::{
    Candle, CandleOrigin, Day, ExitReason, MarketData, Money, Ohlcv, Position, PositionId, Price,
    Quantity, Symbol,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).expect("symbol")
}

fn day(s: &str) -> Day {
    s.parse().expect("day")
}

/// The bundled BTC history (as of 2026-01-05), read with a tiny parser: core has no CSV crate.
fn btc_history(transform_after: Option<(Day, Decimal)>) -> Vec<Candle> {
    let text = include_str!("../../../data/sample/btc-usd-daily.csv");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let d = day(f[0]);
            let n = |i: usize| f[i].parse::<Decimal>().expect("number");
            let mut values = Ohlcv {
                open: n(1),
                high: n(2),
                low: n(3),
                close: n(4),
                volume: n(5),
            };
            if let Some((_, factor)) = transform_after.filter(|(after, _)| d > *after) {
                values = Ohlcv {
                    open: values.open * factor,
                    high: values.high * factor,
                    low: values.low * factor,
                    close: values.close * factor,
                    volume: values.volume,
                };
            }
            Candle::new(
                sym("BTC"),
                d,
                values,
                true,
                CandleOrigin::Sample,
                day("2026-11-23"),
            )
            .expect("valid sample candle")
        })
        .collect()
}

fn market(candles: Vec<Candle>) -> MarketData {
    let mut data = MarketData::new();
    data.insert(sym("BTC"), candles).expect("ascending history");
    data
}

fn cross_strategy() -> barter_core::strategy::RuleStrategy {
    StrategyConfig {
        name: "cross".into(),
        instruments: InstrumentSelection::default(),
        entry: "crosses_above(sma(close, $fast), sma(close, $slow)) and rsi(close, 14) < 80".into(),
        exit: Some("crosses_below(sma(close, $fast), sma(close, $slow))".into()),
        stop_loss: Some(NumberText::Text("8%".into())),
        take_profit: None,
        trailing_stop: None,
        max_holding_days: None,
        size: None,
        max_open_positions: None,
        enabled: true,
        params: Params::from([("fast".into(), 10.0), ("slow".into(), 30.0)]),
        account: None,
    }
    .build(&[sym("BTC")])
    .expect("valid strategy")
}

fn momentum() -> Momentum {
    Momentum {
        name: "momentum".into(),
        lookback: 20,
        threshold: dec!(0.1),
        limits: ExitLimits::default(),
    }
}

fn open_position(entry_day: &str, entry_price: Decimal) -> Position {
    Position {
        id: PositionId(1),
        symbol: sym("BTC"),
        strategy: "cross".into(),
        quantity: Quantity(dec!(1)),
        entry_price: Price(entry_price),
        entry_day: day(entry_day),
        entry_fee: Money(dec!(0)),
        exit: None,
    }
}

#[test]
fn changing_every_candle_after_the_decision_day_changes_no_decision_on_it() {
    let original = market(btc_history(None));
    let strategies: Vec<Box<dyn Strategy>> = vec![Box::new(cross_strategy()), Box::new(momentum())];
    for d in ["2020-03-12", "2021-04-14", "2024-01-10", "2025-06-30"] {
        let decision_day = day(d);
        let altered = market(btc_history(Some((decision_day, dec!(3)))));
        for strategy in &strategies {
            let a = strategy.entry(
                &original.view(decision_day),
                &sym("BTC"),
                &mut IndicatorCache::new(),
            );
            let b = strategy.entry(
                &altered.view(decision_day),
                &sym("BTC"),
                &mut IndicatorCache::new(),
            );
            assert_eq!(a, b, "{} on {d}", strategy.name());
            let position = open_position("2019-06-03", dec!(8000));
            let (x, rx) = decide_exit(
                strategy.as_ref(),
                &original.view(decision_day),
                &position,
                &mut IndicatorCache::new(),
            );
            let (y, ry) = decide_exit(
                strategy.as_ref(),
                &altered.view(decision_day),
                &position,
                &mut IndicatorCache::new(),
            );
            assert_eq!((x, rx), (y, ry), "{} exit on {d}", strategy.name());
        }
        // The altered data really differs after the decision day.
        let next = original
            .next_candle(&sym("BTC"), decision_day)
            .expect("later candle");
        let next_altered = altered
            .next_candle(&sym("BTC"), decision_day)
            .expect("later candle");
        assert_ne!(next.close(), next_altered.close());
    }
}

#[test]
fn a_rule_strategy_is_not_ready_during_warm_up_and_decides_afterwards() {
    let data = market(btc_history(None));
    let strategy = cross_strategy();
    let early = strategy.entry(
        &data.view(day("2017-08-25")),
        &sym("BTC"),
        &mut IndicatorCache::new(),
    );
    assert_eq!(early.outcome, Outcome::NotReady, "{}", early.explanation);
    let mut cache = IndicatorCache::new();
    let mut passed_days = Vec::new();
    for candle in btc_history(None)
        .iter()
        .filter(|c| c.day() >= day("2023-01-01") && c.day() <= day("2023-12-31"))
    {
        let decision = strategy.entry(&data.view(candle.day()), &sym("BTC"), &mut cache);
        assert_ne!(decision.outcome, Outcome::NotReady);
        if decision.passed() {
            assert!(
                decision
                    .values
                    .iter()
                    .any(|(name, _)| name == "sma(close, $fast)"),
                "{:?}",
                decision.values
            );
            passed_days.push(candle.day());
        }
    }
    assert!(!passed_days.is_empty(), "the 10/30 cross happens in 2023");
}

#[test]
fn the_rust_example_strategy_decides_on_exact_decimals() {
    let data = market(btc_history(None));
    let strategy: &dyn Strategy = &momentum();
    let view = data.view(day("2024-03-04"));
    let decision = strategy.entry(&view, &sym("BTC"), &mut IndicatorCache::new());
    let candles = view.candles(&sym("BTC"));
    let n = candles.len();
    let change = candles[n - 1].close().0 / candles[n - 21].close().0 - Decimal::ONE;
    assert_eq!(decision.passed(), change > dec!(0.1));
    assert_eq!(
        decision.values[2].1,
        rust_decimal::prelude::ToPrimitive::to_f64(&change).expect("f64")
    );
}

#[test]
fn a_risk_exit_takes_priority_over_the_exit_signal() {
    let data = market(btc_history(None));
    let strategy = cross_strategy();
    // Bought at 20000 before the 2022 slide: the close is far below the 8 % stop.
    let position = open_position("2022-06-01", dec!(40000));
    let (decision, reason) = decide_exit(
        &strategy,
        &data.view(day("2022-06-20")),
        &position,
        &mut IndicatorCache::new(),
    );
    assert_eq!(reason, Some(ExitReason::StopLoss));
    assert!(
        decision.explanation.starts_with("close "),
        "{}",
        decision.explanation
    );
    let held_today = open_position("2022-06-20", dec!(20000));
    let (_, reason) = decide_exit(
        &strategy,
        &data.view(day("2022-06-19")),
        &held_today,
        &mut IndicatorCache::new(),
    );
    assert_eq!(reason, None, "nothing to decide before the entry day");
}

/// SPY's candles from 2020-04-01 to 2020-04-20 (the NYSE was closed on Good Friday, 04-10).
fn spy_april_2020() -> MarketData {
    let candles = include_str!("../../../data/sample/spy-usd-daily.csv")
        .lines()
        .skip(1)
        .filter(|line| line.starts_with("2020-04"))
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let n = |i: usize| f[i].parse::<Decimal>().expect("number");
            let values = Ohlcv {
                open: n(1),
                high: n(2),
                low: n(3),
                close: n(4),
                volume: n(5),
            };
            Candle::new(
                sym("SPY"),
                day(f[0]),
                values,
                true,
                CandleOrigin::Sample,
                day("2026-11-23"),
            )
            .expect("valid sample candle")
        })
        .collect();
    let mut data = MarketData::new();
    data.insert(sym("SPY"), candles).expect("ascending history");
    data
}

/// `days_held` and `max_holding_days` count the instrument's trading days (its candles since
/// the entry day): entered on Thursday 2020-04-09, SPY has held 1 day on Monday 04-13 (Good
/// Friday and the weekend are no trading days) and 2 on Tuesday 04-14.
#[test]
fn holding_days_count_trading_days_not_holidays() {
    let data = spy_april_2020();
    let strategy = StrategyConfig {
        name: "hold".into(),
        instruments: InstrumentSelection::default(),
        entry: "close > 0".into(),
        exit: Some("days_held >= 1".into()),
        stop_loss: None,
        take_profit: None,
        trailing_stop: None,
        max_holding_days: Some(2),
        size: None,
        max_open_positions: None,
        enabled: true,
        params: Params::new(),
        account: None,
    }
    .build(&[sym("SPY")])
    .expect("valid strategy");
    let mut position = open_position("2020-04-09", dec!(270));
    position.symbol = sym("SPY");
    let decide = |d: &str| {
        decide_exit(
            &strategy,
            &data.view(day(d)),
            &position,
            &mut IndicatorCache::new(),
        )
    };
    let (thursday, reason) = decide("2020-04-09");
    assert_eq!((thursday.outcome, reason), (Outcome::Failed, None));
    let (monday, reason) = decide("2020-04-13");
    assert_eq!(reason, Some(ExitReason::Signal), "{}", monday.explanation);
    assert!(
        monday.values.contains(&("days_held".to_owned(), 1.0)),
        "{:?}",
        monday.values
    );
    let (tuesday, reason) = decide("2020-04-14");
    assert_eq!(reason, Some(ExitReason::MaxHolding));
    assert_eq!(tuesday.explanation, "held 2 day(s), the maximum is 2");
}
