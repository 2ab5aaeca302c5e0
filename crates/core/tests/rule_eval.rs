//! Rules evaluated on small hand-computed series: results, reported values, readiness, caching.

use barter_core::Symbol;
use barter_core::indicators;
use barter_core::rule::{
    EvalContext, Evaluation, IndicatorCache, OwnedColumns, Params, PositionView, Rule, RuleKind,
    SeriesField, SeriesSet, render_errors,
};

fn sym(text: &str) -> Symbol {
    Symbol::parse(text).expect("symbol")
}

/// Columns whose open, high and low equal the close (enough for most rules here).
fn flat(close: &[f64]) -> OwnedColumns {
    OwnedColumns {
        open: close.to_vec(),
        high: close.to_vec(),
        low: close.to_vec(),
        close: close.to_vec(),
        volume: vec![1.0; close.len()],
    }
}

fn params(pairs: &[(&str, f64)]) -> Params {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn rule(source: &str, kind: RuleKind, params: &Params) -> Rule {
    Rule::parse(source, kind, params)
        .unwrap_or_else(|errors| panic!("{}", render_errors(&errors, source, "test")))
}

fn entry(source: &str) -> Rule {
    rule(source, RuleKind::Entry, &Params::new())
}

/// Evaluates `rule` on ETH as of each day of `data`, with a fresh cache each day.
fn day_by_day(rule: &Rule, data: &OwnedColumns) -> Vec<Option<bool>> {
    (1..=data.close.len())
        .map(|days| {
            let ctx = EvalContext::new(sym("ETH"), data.view().until(days));
            match rule.evaluate(&ctx, &mut IndicatorCache::new()) {
                Evaluation::Ready { passed, .. } => Some(passed),
                Evaluation::NotReady { .. } => None,
            }
        })
        .collect()
}

fn values(evaluation: &Evaluation) -> Vec<(&str, f64)> {
    match evaluation {
        Evaluation::Ready { values, .. } => values.iter().map(|(t, v)| (t.as_str(), *v)).collect(),
        Evaluation::NotReady { reason } => panic!("not ready: {reason}"),
    }
}

fn reason(evaluation: &Evaluation) -> &str {
    match evaluation {
        Evaluation::NotReady { reason } => reason,
        Evaluation::Ready { .. } => panic!("unexpectedly ready: {evaluation:?}"),
    }
}

fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

// sma2: -, 9.5, 8.5, 7.5, 7.5, 9, 10.5, 11.5
// sma3: -, -, 9, 8, 7.667, 8.333, 9.667, 11
// sma2 - sma3 goes from -0.167 (day 4) to +0.667 (day 5): the only crossing.
const CROSSING: [f64; 8] = [10.0, 9.0, 8.0, 7.0, 8.0, 10.0, 11.0, 12.0];

#[test]
fn an_sma_crossover_passes_exactly_on_the_crossing_day() {
    let defaults = params(&[("fast", 2.0), ("slow", 3.0)]);
    let rule = rule(
        "crosses_above(sma(close, $fast), sma(close, $slow))",
        RuleKind::Entry,
        &defaults,
    );
    assert_eq!(
        day_by_day(&rule, &flat(&CROSSING)),
        vec![
            None,
            None,
            None,
            Some(false),
            Some(false),
            Some(true),
            Some(false),
            Some(false)
        ]
    );
}

#[test]
fn a_ready_evaluation_reports_the_value_of_each_part() {
    let defaults = params(&[("fast", 2.0), ("slow", 3.0)]);
    let rule = rule(
        "crosses_above(sma(close, $fast), sma(close, $slow)) and close > 5%",
        RuleKind::Entry,
        &defaults,
    );
    let data = flat(&CROSSING);
    let ctx = EvalContext::new(sym("ETH"), data.view().until(6));
    let evaluation = rule.evaluate(&ctx, &mut IndicatorCache::new());
    assert!(evaluation.passed());
    let found = values(&evaluation);
    let expected = [
        ("$fast", 2.0),
        ("sma(close, $fast)", 9.0),
        ("$slow", 3.0),
        ("sma(close, $slow)", 25.0 / 3.0),
        ("sma(close, $fast)[1]", 7.5),
        ("sma(close, $slow)[1]", 23.0 / 3.0),
        ("close", 10.0),
    ];
    assert_eq!(found.len(), expected.len(), "{found:?}");
    for ((text, value), (want_text, want)) in found.iter().zip(expected) {
        assert_eq!(*text, want_text);
        assert!(close_to(*value, want), "{text}: {value} vs {want}");
    }
}

#[test]
fn close_one_day_back_is_the_previous_day() {
    let rule = entry("close > close[1]");
    assert_eq!(
        day_by_day(&rule, &flat(&[1.0, 2.0, 1.0])),
        vec![None, Some(true), Some(false)]
    );
    let data = flat(&[1.0, 2.0, 1.0]);
    let ctx = EvalContext::new(sym("ETH"), data.view().until(2));
    assert_eq!(
        values(&rule.evaluate(&ctx, &mut IndicatorCache::new())),
        vec![("close", 2.0), ("close[1]", 1.0)]
    );
}

#[test]
fn a_lookback_beyond_the_history_is_not_ready_and_says_why() {
    let data = flat(&[1.0, 2.0, 3.0]);
    let ctx = EvalContext::new(sym("ETH"), data.view());
    let evaluation = entry("close[5] > 0").evaluate(&ctx, &mut IndicatorCache::new());
    assert_eq!(
        reason(&evaluation),
        "`close` 5 days back needs 6 days of ETH history, 3 available"
    );
}

#[test]
fn an_indicator_warming_up_is_not_ready_and_says_how_much_history_it_needs() {
    let data = flat(&[1.0, 2.0]);
    let ctx = EvalContext::new(sym("ETH"), data.view());
    let evaluation = entry("sma(close, 3) > 0").evaluate(&ctx, &mut IndicatorCache::new());
    assert_eq!(
        reason(&evaluation),
        "`sma(close, 3)` is warming up: needs 3 days of ETH history, 2 available"
    );
}

#[test]
fn a_rule_is_ready_only_when_both_sides_of_or_are() {
    let rule = entry("close > 0 or close[10] > 0");
    assert_eq!(day_by_day(&rule, &flat(&[1.0, 2.0])), vec![None, None]);
}

#[test]
fn another_instruments_series_is_read_from_its_own_columns() {
    let rule = entry("BTC.close > BTC.close[1] and close < 100");
    let eth = flat(&[50.0, 60.0]);
    let btc = flat(&[30_000.0, 29_000.0, 31_000.0]);
    let ctx = EvalContext::new(sym("ETH"), eth.view()).with_instrument(sym("BTC"), btc.view());
    let evaluation = rule.evaluate(&ctx, &mut IndicatorCache::new());
    assert!(evaluation.passed());
    assert_eq!(
        values(&evaluation),
        vec![
            ("BTC.close", 31_000.0),
            ("BTC.close[1]", 29_000.0),
            ("close", 60.0)
        ]
    );
    assert_eq!(rule.instruments_referenced(), vec![sym("BTC")]);

    let without_btc = EvalContext::new(sym("ETH"), eth.view());
    let evaluation = rule.evaluate(&without_btc, &mut IndicatorCache::new());
    assert_eq!(reason(&evaluation), "no candles of BTC were given");
}

#[test]
fn indicators_of_another_instrument_use_its_prices() {
    let rule = entry("sma(BTC.close, 2) > sma(close, 2) and atr(BTC, 1) > atr(1)");
    let eth = flat(&[10.0, 12.0]);
    let btc = OwnedColumns {
        high: vec![105.0, 110.0],
        low: vec![95.0, 100.0],
        ..flat(&[100.0, 104.0])
    };
    let ctx = EvalContext::new(sym("ETH"), eth.view()).with_instrument(sym("BTC"), btc.view());
    let evaluation = rule.evaluate(&ctx, &mut IndicatorCache::new());
    assert!(evaluation.passed());
    // ATR(1) on the second day is that day's true range: BTC max(110-100, |110-100|, |100-100|) = 10;
    // ETH's flat candles range only by the move from 10 to 12.
    assert_eq!(
        values(&evaluation),
        vec![
            ("sma(BTC.close, 2)", 102.0),
            ("sma(close, 2)", 11.0),
            ("atr(BTC, 1)", 10.0),
            ("atr(1)", 2.0),
        ]
    );
}

#[test]
fn percent_literals_are_fractions_compared_with_the_return_since_entry() {
    let rule = rule("return_since_entry >= 5%", RuleKind::Exit, &Params::new());
    let position = |closes: &[f64]| PositionView::from_closes(100.0, 0, closes).expect("entered");
    for (close, expected) in [(105.0, true), (104.9, false)] {
        let closes = [100.0, close];
        let data = flat(&closes);
        let ctx = EvalContext::new(sym("ETH"), data.view()).with_position(position(&closes));
        let evaluation = rule.evaluate(&ctx, &mut IndicatorCache::new());
        assert_eq!(evaluation.passed(), expected, "close {close}");
    }
}

#[test]
fn rate_of_change_is_a_fraction_too() {
    let data = flat(&[100.0, 106.0]);
    let ctx = EvalContext::new(sym("ETH"), data.view());
    let evaluation = entry("roc(close, 1) > 5%").evaluate(&ctx, &mut IndicatorCache::new());
    assert!(evaluation.passed());
    assert!(close_to(values(&evaluation)[0].1, 0.06));
}

#[test]
fn exit_values_describe_the_open_position() {
    let closes = [100.0, 120.0, 110.0, 108.0];
    let data = flat(&closes);
    let position = PositionView::from_closes(100.0, 0, &closes).expect("entered");
    let ctx = EvalContext::new(sym("ETH"), data.view()).with_position(position);
    let rule = rule(
        "days_held >= 3 and close < highest_close_since_entry * (1 - 5%) and entry_price < close",
        RuleKind::Exit,
        &Params::new(),
    );
    let evaluation = rule.evaluate(&ctx, &mut IndicatorCache::new());
    assert!(evaluation.passed());
    let found = values(&evaluation);
    assert_eq!(found[0], ("days_held", 3.0));
    assert_eq!(found[2], ("highest_close_since_entry", 120.0));

    let no_position = EvalContext::new(sym("ETH"), data.view());
    let evaluation = rule.evaluate(&no_position, &mut IndicatorCache::new());
    assert_eq!(reason(&evaluation), "`days_held` needs an open position");
}

#[test]
fn parameter_overrides_replace_the_defaults() {
    let defaults = params(&[("period", 2.0)]);
    let rule = rule("sma(close, $period) > 9", RuleKind::Entry, &defaults);
    let data = flat(&[6.0, 9.0, 12.0]);
    let default_ctx = EvalContext::new(sym("ETH"), data.view());
    let mut cache = IndicatorCache::new();
    assert!(
        rule.evaluate(&default_ctx, &mut cache).passed(),
        "sma2 = 10.5"
    );
    let overrides = params(&[("period", 3.0)]);
    let swept = EvalContext::new(sym("ETH"), data.view()).with_params(&overrides);
    let evaluation = rule.evaluate(&swept, &mut cache);
    assert!(!evaluation.passed(), "sma3 = 9");
    assert_eq!(
        values(&evaluation),
        vec![("$period", 3.0), ("sma(close, $period)", 9.0)]
    );
}

#[test]
fn a_division_by_zero_is_not_ready_rather_than_a_guess() {
    let data = flat(&[5.0]);
    let ctx = EvalContext::new(sym("ETH"), data.view());
    let evaluation = entry("close / (high - low) > 1").evaluate(&ctx, &mut IndicatorCache::new());
    assert_eq!(
        reason(&evaluation),
        "`close / (high - low)` is not a finite number (division by zero?)"
    );
}

#[test]
fn multi_output_functions_pick_the_named_output() {
    let close: Vec<f64> = (0..40)
        .map(|i| 100.0 + f64::from(i % 7) * 2.0 - f64::from(i) * 0.3)
        .collect();
    let data = flat(&close);
    let ctx = EvalContext::new(sym("ETH"), data.view());
    let rule = entry(
        "macd(close, 3, 8, 4).signal < 1000 and bollinger(close, 5, 2).lower < 1000 and bollinger(close, 5, 2).upper > 0",
    );
    let evaluation = rule.evaluate(&ctx, &mut IndicatorCache::new());
    let found = values(&evaluation);
    let macd = indicators::macd(&close, 3, 8, 4).expect("macd");
    let bands = indicators::bollinger(&close, 5, 2.0).expect("bollinger");
    let last = close.len() - 1;
    assert_eq!(
        found[0],
        (
            "macd(close, 3, 8, 4).signal",
            macd.signal[last].expect("ready")
        )
    );
    assert_eq!(
        found[1],
        (
            "bollinger(close, 5, 2).lower",
            bands.lower[last].expect("ready")
        )
    );
    assert_eq!(
        found[2],
        (
            "bollinger(close, 5, 2).upper",
            bands.upper[last].expect("ready")
        )
    );
}

#[test]
fn the_same_indicator_requested_by_two_rules_is_computed_once() {
    let data = flat(&CROSSING);
    let ctx = EvalContext::new(sym("ETH"), data.view());
    let mut cache = IndicatorCache::new();
    let defaults = params(&[("fast", 2.0)]);
    let first = rule("close > sma(close, 2)", RuleKind::Entry, &defaults);
    let second = rule(
        "sma(close, $fast) < sma(close, 3) + 100",
        RuleKind::Entry,
        &defaults,
    );
    first.evaluate(&ctx, &mut cache);
    second.evaluate(&ctx, &mut cache);
    assert_eq!(
        cache.computations(),
        2,
        "sma(ETH.close, 2) once, sma(ETH.close, 3) once"
    );

    // `close` in an ETH rule and `ETH.close` in a BTC rule are the same series.
    let btc = flat(&[1.0; 8]);
    let btc_ctx = EvalContext::new(sym("BTC"), btc.view()).with_instrument(sym("ETH"), data.view());
    entry("sma(ETH.close, 3) > 0").evaluate(&btc_ctx, &mut cache);
    assert_eq!(cache.computations(), 2);
    assert_eq!(cache.len(), 2);
}

#[test]
fn a_cache_warmed_on_the_whole_history_gives_the_same_answers_day_by_day() {
    let defaults = params(&[("fast", 2.0), ("slow", 3.0)]);
    let rule = rule(
        "crosses_above(sma(close, $fast), sma(close, $slow)) or rsi(close, 2) > 90",
        RuleKind::Entry,
        &defaults,
    );
    let data = flat(&CROSSING);
    let mut warm = IndicatorCache::new();
    rule.precompute(&EvalContext::new(sym("ETH"), data.view()), &mut warm);
    assert_eq!(warm.computations(), 3);
    for days in 1..=CROSSING.len() {
        let ctx = EvalContext::new(sym("ETH"), data.view().until(days));
        let cold = rule.evaluate(&ctx, &mut IndicatorCache::new());
        assert_eq!(rule.evaluate(&ctx, &mut warm), cold, "day {days}");
    }
    assert_eq!(
        warm.computations(),
        3,
        "no recomputation while walking forward"
    );
}

#[test]
fn history_needed_is_the_first_day_the_rule_is_ready() {
    let defaults = params(&[("fast", 2.0), ("slow", 3.0)]);
    let cases = [
        "crosses_above(sma(close, $fast), sma(close, $slow))",
        "close[4] > 0",
        "rsi(close, 3)[1] > 0",
        "macd(close, 2, 4, 3).histogram > -1000",
        "ema(close, 3) > 0 and close[1] > 0",
    ];
    let data = flat(&[10.0, 9.0, 8.0, 7.0, 8.0, 10.0, 11.0, 12.0, 11.0, 13.0]);
    for source in cases {
        let rule = rule(source, RuleKind::Entry, &defaults);
        let needed = rule.history_needed(&Params::new());
        let ready = day_by_day(&rule, &data).iter().position(Option::is_some);
        assert_eq!(ready.map(|i| i + 1), Some(needed), "{source}");
    }
}

/// A job loads only the series a rule reads ([`Rule::series_used`]): with every other series
/// left empty, each rule still decides exactly as with all five, day by day.
#[test]
fn series_used_is_everything_a_rule_reads() {
    let n = 60;
    let wave = |phase: f64, scale: f64| -> Vec<f64> {
        (0..n)
            .map(|i| 100.0 + scale * ((i as f64) * 0.37 + phase).sin() + i as f64 * 0.1)
            .collect()
    };
    let close = wave(0.0, 5.0);
    let full = OwnedColumns {
        open: wave(0.5, 4.0),
        high: close.iter().map(|c| c + 3.0).collect(),
        low: close.iter().map(|c| c - 3.0).collect(),
        close: close.clone(),
        volume: wave(1.0, 50.0),
    };
    let sources = [
        "close > open",
        "high[2] - low[1] > 5",
        "volume > sma(volume, 5)",
        "atr(14) > 5.9",
        "atr(ETH, 3) < 6",
        "crosses_above(ema(open, 3), wma(high, 5))",
        "rsi(low, 14) > 50 or roc(volume, 3) > 0",
        "highest(high, 10) - lowest(low, 10) > stddev(open, 5) * 2",
        "macd(open, 3, 6, 2).histogram > 0 and bollinger(volume, 5, 2).upper > volume",
        "not (sma(close, 3) > 100)",
    ];
    for source in sources {
        let rule = entry(source);
        let used = rule.series_used();
        let keep = |field: SeriesField, column: &Vec<f64>| {
            if used.contains(field) {
                column.clone()
            } else {
                Vec::new()
            }
        };
        let partial = OwnedColumns {
            open: keep(SeriesField::Open, &full.open),
            high: keep(SeriesField::High, &full.high),
            low: keep(SeriesField::Low, &full.low),
            close: keep(SeriesField::Close, &full.close),
            volume: keep(SeriesField::Volume, &full.volume),
        };
        assert!(used.contains(SeriesField::Close), "{source}");
        assert_ne!(
            used,
            SeriesSet::ALL,
            "{source} should not need every series"
        );
        let decided = day_by_day(&rule, &full);
        assert!(
            decided.iter().any(Option::is_some),
            "{source} is never ready"
        );
        assert_eq!(day_by_day(&rule, &partial), decided, "{source}");
    }
    let exit = rule(
        "highest_close_since_entry > entry_price and days_held > 2",
        RuleKind::Exit,
        &Params::new(),
    );
    assert_eq!(exit.series_used(), SeriesSet::of(SeriesField::Close));
}

/// A crossing over a history with no day yet (a view before the first candle) has nothing to
/// decide: every path answers "no day", none slices before the start.
#[test]
fn a_crossing_over_an_empty_history_has_no_outcome() {
    let data = flat(&[1.0, 2.0, 3.0]);
    let ctx = EvalContext::new(sym("ETH"), data.view().until(0));
    for source in [
        "crosses_above(close, sma(close, 2))",
        "crosses_below(close, 2)",
    ] {
        let rule = entry(source);
        let mut cache = IndicatorCache::new();
        assert_eq!(
            rule.outcomes(&ctx, &mut cache),
            Some(Vec::new()),
            "{source}"
        );
        let signal = rule.signal(&ctx, &mut cache).expect("a signal");
        assert!(signal.outcomes().is_empty(), "{source}");
    }
}
