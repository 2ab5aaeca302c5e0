//! The simulator cross-check: the SMA 10/20 scenario of `fixtures/backtesting/` (backtesting.py
//! 0.6.6 on the bundled BTC and SPY history) replayed through barter-core's simulator must give
//! the same trades, open trade, equity curve and statistics to 1e-6 relative.
//!
//! Deliberate differences (see `docs/SIMULATOR.md`): none in this scenario. backtesting.py's
//! strict `crossover` and barter's `crosses_above` (`a > b` today, `a <= b` yesterday) agree on
//! every bar of both series (the fixture README explains the one SMA tie in SPY).

use std::str::FromStr;

use barter_core::rule::{Params, Rule, RuleKind};
use barter_core::simulator::{
    BacktestInstrument, BacktestResult, BacktestSettings, BacktestStrategy, backtest,
};
use barter_core::strategy::config::AllMarker;
use barter_core::strategy::{ExitLimits, InstrumentSelection, RuleStrategy};
use barter_core::{
    Calendar, Candle, CandleOrigin, Day, FillModel, FillTiming, MarketData, Money, Ohlcv,
    QuantityRounding, Sizing, Symbol,
};
use rust_decimal::Decimal;
use serde_json::Value;

/// Relative tolerance of every comparison, with an absolute floor for values near zero.
const TOLERANCE: f64 = 1e-6;

fn close_enough(what: &str, ours: f64, theirs: f64) {
    let scale = theirs.abs().max(1e-9);
    assert!(
        (ours - theirs).abs() <= TOLERANCE * scale,
        "{what}: barter {ours} vs backtesting.py {theirs}"
    );
}

fn candles(symbol: &Symbol, file: &str) -> Vec<Candle> {
    let path = format!("{}/../../data/sample/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("sample file");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let d = |i: usize| Decimal::from_str(f[i]).expect("decimal");
            Candle::new(
                symbol.clone(),
                f[0].parse().expect("day"),
                Ohlcv {
                    open: d(1),
                    high: d(2),
                    low: d(3),
                    close: d(4),
                    volume: d(5),
                },
                true,
                CandleOrigin::Sample,
                "2030-01-01".parse().expect("day"),
            )
            .expect("valid candle")
        })
        .collect()
}

fn sma_cross() -> RuleStrategy {
    let params = Params::new();
    let entry = Rule::parse(
        "crosses_above(sma(close, 10), sma(close, 20))",
        RuleKind::Entry,
        &params,
    )
    .expect("entry rule");
    let exit = Rule::parse(
        "crosses_below(sma(close, 10), sma(close, 20))",
        RuleKind::Exit,
        &params,
    )
    .expect("exit rule");
    RuleStrategy::new(
        "sma_cross".to_owned(),
        InstrumentSelection::All(AllMarker::All),
        entry,
        Some(exit),
        ExitLimits::default(),
    )
}

fn run(fixture: &Value) -> BacktestResult {
    let scenario = &fixture["scenario"];
    let series = scenario["series"].as_str().expect("series");
    let (symbol, file, calendar) = match series {
        "btc" => ("BTC", "btc-usd-daily.csv", Calendar::Continuous),
        _ => ("SPY", "spy-usd-daily.csv", Calendar::Weekdays),
    };
    let symbol = Symbol::parse(symbol).expect("symbol");
    let mut data = MarketData::new();
    data.insert(symbol.clone(), candles(&symbol, file))
        .expect("market data");
    let commission = scenario["commission"].as_f64().expect("commission");
    let fee_bps = Decimal::from_str(&format!("{}", commission * 10_000.0)).expect("bps");
    let rounding = match scenario["sizing"].as_str() {
        Some("whole_units") => QuantityRounding::WholeUnits,
        _ => QuantityRounding::Fractional(8),
    };
    let settings = BacktestSettings {
        initial_cash: Money(Decimal::from(scenario["cash"].as_i64().expect("cash"))),
        fill_model: FillModel::new(fee_bps, Decimal::ZERO, FillTiming::NextOpen, rounding)
            .expect("fill model"),
        ..BacktestSettings::default()
    };
    let strategy = sma_cross();
    let strategies = [BacktestStrategy {
        strategy: &strategy,
        sizing: Sizing::AllCash,
        max_open_positions: None,
    }];
    let instruments = [BacktestInstrument { symbol, calendar }];
    backtest(&data, &instruments, &strategies, &settings).expect("backtest runs")
}

fn f(value: &Value) -> f64 {
    value.as_f64().expect("number")
}

fn d(value: Decimal) -> f64 {
    barter_core::decimal_to_f64(value)
}

fn check(name: &str) {
    let path = format!(
        "{}/tests/fixtures/backtesting/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let fixture: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    let result = run(&fixture);
    let theirs = fixture["trades"].as_array().expect("trades");
    assert_eq!(result.trades.len(), theirs.len(), "{name}: closed trades");
    for (i, (ours, t)) in result.trades.iter().zip(theirs).enumerate() {
        let what = |field: &str| format!("{name} trade {i} {field}");
        assert_eq!(
            ours.entry_bar as u64,
            t["entry_bar"].as_u64().expect("bar"),
            "{}",
            what("entry_bar")
        );
        assert_eq!(
            ours.exit_bar as u64,
            t["exit_bar"].as_u64().expect("bar"),
            "{}",
            what("exit_bar")
        );
        assert_eq!(
            ours.entry_day.to_string(),
            t["entry_day"].as_str().expect("day")
        );
        assert_eq!(
            ours.exit_day.to_string(),
            t["exit_day"].as_str().expect("day")
        );
        close_enough(&what("size"), d(ours.quantity.0), f(&t["size"]));
        close_enough(
            &what("entry_price"),
            d(ours.entry_price.0),
            f(&t["entry_price"]),
        );
        close_enough(
            &what("exit_price"),
            d(ours.exit_price.0),
            f(&t["exit_price"]),
        );
        close_enough(&what("pnl"), d(ours.pnl.0), f(&t["pnl"]));
        close_enough(&what("commission"), d(ours.fees.0), f(&t["commission"]));
        close_enough(
            &what("return"),
            ours.return_fraction,
            f(&t["return_fraction"]),
        );
    }
    let open = &fixture["open_trade"];
    assert_eq!(
        result.open_trades.len(),
        usize::from(!open.is_null()),
        "{name}: open trades"
    );
    if let Some(ours) = result.open_trades.first() {
        assert_eq!(
            ours.entry_day.to_string(),
            open["entry_day"].as_str().expect("day")
        );
        assert_eq!(
            ours.entry_bar as u64,
            open["entry_bar"].as_u64().expect("bar")
        );
        close_enough("open size", d(ours.quantity.0), f(&open["size"]));
        close_enough("open entry", d(ours.entry_price.0), f(&open["entry_price"]));
        close_enough("open mark", d(ours.mark_price.0), f(&open["mark_price"]));
        close_enough(
            "open pnl",
            d(ours.unrealized_pnl.0),
            f(&open["unrealized_pnl"]),
        );
    }
    let curve = fixture["equity_curve"].as_array().expect("curve");
    assert_eq!(result.equity.len(), curve.len(), "{name}: equity bars");
    for (ours, point) in result.equity.iter().zip(curve) {
        assert_eq!(ours.day.to_string(), point[0].as_str().expect("day"));
        close_enough(
            &format!("{name} equity on {}", ours.day),
            ours.equity,
            f(&point[1]),
        );
    }
    let stats = &fixture["stats"];
    close_enough(
        "Equity Final (exact)",
        d(result.final_equity.0),
        f(&stats["Equity Final [$]"]),
    );
    let s = &result.stats;
    let day = |v: &Value| v.as_str().expect("day").parse::<Day>().expect("day");
    assert_eq!(s.start, day(&stats["Start"]));
    assert_eq!(s.end, day(&stats["End"]));
    let pairs: Vec<(&str, Option<f64>)> = vec![
        ("Duration", Some(s.duration_days)),
        ("Exposure Time [%]", Some(s.exposure_time_pct)),
        ("Equity Final [$]", Some(s.equity_final)),
        ("Equity Peak [$]", Some(s.equity_peak)),
        ("Return [%]", Some(s.return_pct)),
        ("Buy & Hold Return [%]", s.buy_and_hold_return_pct),
        ("Return (Ann.) [%]", s.return_ann_pct),
        ("Volatility (Ann.) [%]", s.volatility_ann_pct),
        ("CAGR [%]", s.cagr_pct),
        ("Sharpe Ratio", s.sharpe_ratio),
        ("Sortino Ratio", s.sortino_ratio),
        ("Calmar Ratio", s.calmar_ratio),
        ("Alpha [%]", s.alpha_pct),
        ("Beta", s.beta),
        ("Max. Drawdown [%]", Some(s.max_drawdown_pct)),
        ("Avg. Drawdown [%]", s.avg_drawdown_pct),
        ("Max. Drawdown Duration", s.max_drawdown_duration_days),
        ("Avg. Drawdown Duration", s.avg_drawdown_duration_days),
        ("# Trades", Some(s.trades as f64)),
        ("Win Rate [%]", s.win_rate_pct),
        ("Best Trade [%]", s.best_trade_pct),
        ("Worst Trade [%]", s.worst_trade_pct),
        ("Avg. Trade [%]", s.avg_trade_pct),
        ("Max. Trade Duration", s.max_trade_duration_days),
        ("Avg. Trade Duration", s.avg_trade_duration_days),
        ("Profit Factor", s.profit_factor),
        ("Expectancy [%]", s.expectancy_pct),
        ("SQN", s.sqn),
        ("Kelly Criterion", s.kelly_criterion),
    ];
    for (key, ours) in pairs {
        let theirs = f(&stats[key]);
        close_enough(&format!("{name} {key}"), ours.expect(key), theirs);
    }
    match stats.get("Commissions [$]") {
        Some(c) => close_enough("Commissions", s.commissions, f(c)),
        // backtesting.py leaves the statistic out without commission; barter reports 0.
        None => assert_eq!(s.commissions, 0.0),
    }
}

#[test]
fn btc_whole_units_without_commission() {
    check("btc_sma10_20_c0");
}

#[test]
fn btc_whole_units_with_commission() {
    check("btc_sma10_20_c0.002");
}

#[test]
fn btc_fractional_without_commission() {
    check("btc_sma10_20_c0_fractional");
}

#[test]
fn btc_fractional_with_commission() {
    check("btc_sma10_20_c0.002_fractional");
}

#[test]
fn spy_whole_units_without_commission() {
    check("spy_sma10_20_c0");
}

#[test]
fn spy_whole_units_with_commission() {
    check("spy_sma10_20_c0.002");
}

#[test]
fn spy_fractional_without_commission() {
    check("spy_sma10_20_c0_fractional");
}

#[test]
fn spy_fractional_with_commission() {
    check("spy_sma10_20_c0.002_fractional");
}
