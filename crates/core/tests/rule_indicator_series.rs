//! `Rule::indicator_series`: the indicators a rule reads, labelled with their parameters'
//! values, over a whole history, equal day by day to what the evaluator reads.

use barter_core::Symbol;
use barter_core::rule::{
    EvalContext, Evaluation, IndicatorCache, OwnedColumns, Params, Rule, RuleKind,
};

fn columns(days: usize) -> OwnedColumns {
    let mut c = OwnedColumns::default();
    for i in 0..days {
        let x = i as f64;
        let close = 100.0 + 10.0 * (x / 9.0).sin() + x * 0.05;
        let open = close - (x / 4.0).cos();
        c.open.push(open);
        c.high.push(open.max(close) + 1.0);
        c.low.push(open.min(close) - 1.0);
        c.close.push(close);
        c.volume.push(1_000.0 + x);
    }
    c
}

fn params(pairs: &[(&str, f64)]) -> Params {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[test]
fn a_rules_indicators_come_labelled_with_values_equal_to_day_by_day_evaluation() {
    let source = "crosses_above(sma(close, $fast), sma(close, $slow)) and rsi(close, 14) < 70 \
                  and close > bollinger(close, 20, 2.5).lower and volume > sma(volume, $fast) \
                  and sma(close, $fast) > 0";
    let rule = Rule::parse(
        source,
        RuleKind::Entry,
        &params(&[("fast", 5.0), ("slow", 20.0)]),
    )
    .expect("rule");
    let data = columns(120);
    let symbol = Symbol::parse("ETH").expect("symbol");
    let ctx = EvalContext::new(symbol.clone(), data.view());
    let mut cache = IndicatorCache::new();
    let series = rule.indicator_series(&ctx, &mut cache);
    let labels: Vec<(&str, bool)> = series
        .iter()
        .map(|s| (s.label.as_str(), s.price_units))
        .collect();
    assert_eq!(
        labels,
        [
            ("sma(close, 5)", true),
            ("sma(close, 20)", true),
            ("rsi(close, 14)", false),
            ("bollinger(close, 20, 2.5).lower", true),
            ("sma(volume, 5)", false),
        ],
        "each indicator once, in the order written, parameters replaced"
    );
    for s in &series {
        assert_eq!(s.values.len(), 120, "{}", s.label);
    }
    // The moving average is the plain average of the closes.
    let sma20 = &series[1].values;
    assert_eq!(sma20[18], None, "not ready before 20 days");
    for day in [19, 50, 119] {
        let mean = data.close[day + 1 - 20..=day].iter().sum::<f64>() / 20.0;
        let value = sma20[day].expect("ready");
        assert!((value - mean).abs() < 1e-9, "day {day}: {value} vs {mean}");
    }
    // Every value the day-by-day evaluator reports is the series' value on that day.
    let mut compared = 0;
    for day in 0..120 {
        let on_day = EvalContext::new(symbol.clone(), data.view().until(day + 1));
        let Evaluation::Ready { values, .. } = rule.evaluate(&on_day, &mut IndicatorCache::new())
        else {
            continue;
        };
        for (text, written) in [
            ("rsi(close, 14)", "rsi(close, 14)"),
            (
                "bollinger(close, 20, 2.5).lower",
                "bollinger(close, 20, 2.5).lower",
            ),
            ("sma(close, 20)", "sma(close, $slow)"),
        ] {
            let expected = values
                .iter()
                .find(|(t, _)| t == written)
                .map(|(_, v)| *v)
                .expect("reported");
            let s = series.iter().find(|s| s.label == text).expect("series");
            let got = s.values[day].expect("ready when the evaluator is");
            assert!((got - expected).abs() < 1e-9, "{text} on day {day}");
            compared += 1;
        }
    }
    assert!(compared > 250, "{compared} values compared");

    // Overrides (a sweep point, say) change the labels and the values.
    let overrides = params(&[("fast", 7.0)]);
    let ctx = EvalContext::new(symbol, data.view()).with_params(&overrides);
    let series = rule.indicator_series(&ctx, &mut cache);
    assert_eq!(series[0].label, "sma(close, 7)");
    assert_eq!(series[0].values[5], None);
    assert!(series[0].values[6].is_some());
}

#[test]
fn another_instruments_indicators_are_left_out() {
    let rule = Rule::parse(
        "sma(BTC.close, 3) > sma(close, 3)",
        RuleKind::Entry,
        &Params::new(),
    )
    .expect("rule");
    let data = columns(10);
    let ctx = EvalContext::new(Symbol::parse("ETH").expect("symbol"), data.view());
    let series = rule.indicator_series(&ctx, &mut IndicatorCache::new());
    let labels: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["sma(close, 3)"]);
}
