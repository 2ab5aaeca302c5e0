//! Property tests that act as fuzzers for the rule language (issue 12, "Hardening"): whatever
//! text reaches [`Rule::parse`] / [`Rule::check`] (a config, a web form), they answer with a
//! rule or with errors that point inside the source, and never panic, overflow the stack or
//! hang; and valid rules evaluate without panicking on any candle history.
//!
//! Each target runs a few thousand cases in the normal suite (a few seconds in debug). Each
//! also has an `#[ignore]`d long variant, with `BARTER_FUZZ_CASES` cases (default 100 000):
//!
//! ```text
//! BARTER_FUZZ_CASES=1000000 cargo test --release -p barter-core --test fuzz_rules -- --ignored
//! ```
//!
//! The agreement of whole-history outcomes with day-by-day evaluation is held, for a fixed set
//! of realistic rules over many histories, by
//! `simulator_properties::whole_history_outcomes_equal_day_by_day_evaluation`; here it is
//! checked on a sample of days for random rules, which that property does not generate.

use std::time::{Duration, Instant};

use barter_core::Symbol;
use barter_core::rule::{
    EvalContext, Evaluation, IndicatorCache, OwnedColumns, Params, Rule, RuleError, RuleKind,
    render_errors,
};
use barter_core::strategy::Outcome;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Cases for the long, ignored variants: `BARTER_FUZZ_CASES`, default 100 000.
fn long_cases() -> u32 {
    std::env::var("BARTER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// Runs `test` on `cases` values of `strategy`, panicking with the minimal failing input.
fn fuzz<S: Strategy>(
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    if let Err(error) = runner.run(&strategy, test) {
        panic!("{error}");
    }
}

fn params() -> Params {
    Params::from([
        ("fast".to_owned(), 5.0),
        ("slow".to_owned(), 20.0),
        ("lag".to_owned(), 1.0),
    ])
}

fn known() -> Vec<Symbol> {
    ["BTC", "ETH"]
        .into_iter()
        .map(|s| Symbol::parse(s).expect("symbol"))
        .collect()
}

/// Every error points inside `source` on character boundaries, and renders.
fn errors_are_well_formed(source: &str, errors: &[RuleError]) -> Result<(), TestCaseError> {
    prop_assert!(!errors.is_empty(), "an error result with no error");
    for e in errors {
        let (start, end) = (e.span.start, e.span.end);
        prop_assert!(start <= end && end <= source.len(), "span {start}..{end}");
        prop_assert!(
            source.is_char_boundary(start),
            "start {start} splits a character"
        );
        prop_assert!(source.is_char_boundary(end), "end {end} splits a character");
        prop_assert!(!e.message.is_empty());
        let _ = e.render(source, "fuzz");
        let _ = e.underline(source);
        let _ = e.line_column(source);
    }
    let _ = render_errors(errors, source, "fuzz");
    Ok(())
}

/// Short candles for accepted rules: every walk over the tree runs.
fn sample_columns() -> OwnedColumns {
    let close: Vec<f64> = (0..30).map(|i| 100.0 + f64::from(i % 7)).collect();
    OwnedColumns {
        open: close.clone(),
        high: close.iter().map(|c| c + 1.0).collect(),
        low: close.iter().map(|c| c - 1.0).collect(),
        volume: vec![10.0; close.len()],
        close,
    }
}

/// Parses and checks `source` as an entry and an exit rule; accepted rules are run once.
fn check_source(source: &str) -> Result<(), TestCaseError> {
    let started = Instant::now();
    for kind in [RuleKind::Entry, RuleKind::Exit] {
        match Rule::check(source, kind, &params(), &known()) {
            Err(errors) => errors_are_well_formed(source, &errors)?,
            Ok(rule) => {
                let data = sample_columns();
                let eth = Symbol::parse("ETH").expect("symbol");
                let ctx = EvalContext::new(eth, data.view());
                let mut cache = IndicatorCache::new();
                let _ = rule.evaluate(&ctx, &mut cache);
                let _ = rule.outcomes(&ctx, &mut cache);
                let _ = rule.history_needed(&params());
                let _ = rule.series_used();
            }
        }
    }
    // Generous for a debug build on a shared machine; a hang or a quadratic blow-up on the
    // longest inputs would take far longer.
    prop_assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    Ok(())
}

// ---- Random bytes and unicode ----

fn bytes() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), 0..300)
        .prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn unicode() -> impl Strategy<Value = String> {
    any::<String>()
}

#[test]
fn random_bytes_never_panic_and_errors_point_inside_the_source() {
    fuzz(1_500, bytes(), |s| check_source(&s));
}

#[test]
fn random_unicode_never_panics_and_errors_point_inside_the_source() {
    fuzz(1_000, unicode(), |s| check_source(&s));
}

#[test]
#[ignore = "long fuzz run: BARTER_FUZZ_CASES cases"]
fn long_random_bytes_and_unicode() {
    fuzz(long_cases(), bytes(), |s| check_source(&s));
    fuzz(long_cases(), unicode(), |s| check_source(&s));
}

// ---- Token soups ----

/// Tokens of the grammar, including names it knows, near misses and edge numbers.
const TOKENS: &[&str] = &[
    "close",
    "open",
    "high",
    "low",
    "volume",
    "BTC",
    "ETH",
    "\"BRK-B\"",
    "entry_price",
    "days_held",
    "return_since_entry",
    "highest_close_since_entry",
    "sma",
    "ema",
    "wma",
    "rsi",
    "highest",
    "lowest",
    "roc",
    "stddev",
    "atr",
    "macd",
    "bollinger",
    "crosses_above",
    "crosses_below",
    "line",
    "signal",
    "histogram",
    "upper",
    "middle",
    "lower",
    "foo",
    "0",
    "1",
    "2",
    "14",
    "1.5",
    "5%",
    "100000",
    "100001",
    "4294967295",
    "1e12",
    "0.000001",
    "$fast",
    "$slow",
    "$lag",
    "$nope",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    "+",
    "-",
    "*",
    "/",
    "<",
    ">",
    "<=",
    ">=",
    "==",
    "!=",
    "and",
    "or",
    "not",
    "AND",
    "#",
    "\n",
    "=",
    "&&",
    "é",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec((0..TOKENS.len(), any::<bool>()), 0..80).prop_map(|picks| {
        let mut source = String::new();
        for (i, spaced) in picks {
            source.push_str(TOKENS[i]);
            if spaced {
                source.push(' ');
            }
        }
        source
    })
}

/// Soups that nest: a prefix repeated many times, then a soup, then closers.
fn deep_soup() -> impl Strategy<Value = String> {
    (0..TOKENS.len(), 1usize..400, soup()).prop_map(|(i, n, tail)| {
        let opener = match TOKENS[i] {
            "sma" | "ema" | "crosses_above" | "foo" => format!("{}(", TOKENS[i]),
            other => format!("{other} "),
        };
        format!("{}{tail}{}", opener.repeat(n), ")".repeat(n / 2))
    })
}

#[test]
fn token_soups_never_panic_and_finish_quickly() {
    fuzz(1_500, soup(), |s| check_source(&s));
}

#[test]
fn deep_token_soups_never_overflow_the_stack() {
    // On a small stack, so that a soup deep enough to overflow a worker thread shows here.
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| fuzz(300, deep_soup(), |s| check_source(&s)))
        .expect("spawn")
        .join()
        .expect("no panic, no overflow");
}

#[test]
#[ignore = "long fuzz run: BARTER_FUZZ_CASES cases"]
fn long_token_soups() {
    fuzz(long_cases(), soup(), |s| check_source(&s));
    let cases = long_cases() / 10;
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || fuzz(cases.max(1), deep_soup(), |s| check_source(&s)))
        .expect("spawn")
        .join()
        .expect("no panic, no overflow");
}

// ---- Valid rules over random histories ----

/// A number that changes from day to day (so it may be looked back on or crossed).
fn series_leaf() -> impl Strategy<Value = String> {
    let period = 1u32..25;
    let long = 2u32..25;
    prop_oneof![
        prop::sample::select(vec!["close", "open", "high", "low", "volume"])
            .prop_map(str::to_owned),
        (prop::sample::select(vec!["close", "high", "low"]), 0u32..5)
            .prop_map(|(s, n)| format!("{s}[{n}]")),
        Just("close[$lag]".to_owned()),
        (
            prop::sample::select(vec!["sma", "ema", "wma", "roc"]),
            period.clone()
        )
            .prop_map(|(f, p)| format!("{f}(close, {p})")),
        (
            prop::sample::select(vec!["rsi", "highest", "lowest", "stddev"]),
            long.clone()
        )
            .prop_map(|(f, p)| format!("{f}(close, {p})")),
        (period.clone(), 0u32..3).prop_map(|(p, n)| format!("atr({p})[{n}]")),
        Just("sma(close, $fast)".to_owned()),
        Just("ema(close, $slow)[1]".to_owned()),
        (2u32..10, 1u32..10, 1u32..8, 0usize..3).prop_map(|(f, d, s, o)| {
            let out = ["line", "signal", "histogram"][o];
            format!("macd(close, {f}, {}, {s}).{out}", f + d)
        }),
        (long, 0u32..4, 0usize..3).prop_map(|(p, d, o)| {
            let out = ["upper", "middle", "lower"][o];
            format!("bollinger(close, {p}, {d}).{out}")
        }),
    ]
}

/// A number: series, constants and arithmetic over them.
fn number() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => series_leaf(),
        1 => (0u32..2000).prop_map(|v| format!("{}", f64::from(v) / 10.0)),
        1 => Just("$fast".to_owned()),
    ];
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.prop_map(|a| format!("-({a})")),
        ]
    })
}

/// A condition over numbers.
fn condition() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => (
            number(),
            prop::sample::select(vec!["<", "<=", ">", ">=", "==", "!="]),
            number()
        )
            .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        1 => (
            prop::sample::select(vec!["crosses_above", "crosses_below"]),
            series_leaf(),
            number()
        )
            .prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
    ];
    leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["and", "or"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

/// Random daily candles: 0..300 days of positive prices, some flat, some without volume.
fn history() -> impl Strategy<Value = OwnedColumns> {
    let day = (0u8..6, -0.05f64..0.05, 0.0f64..0.03, 0.0f64..0.03);
    (1.0f64..1000.0, prop::collection::vec(day, 0..300)).prop_map(|(start, days)| {
        let mut c = OwnedColumns::default();
        let mut previous = start;
        for (kind, change, up, down) in days {
            let close = if kind == 1 {
                previous
            } else {
                previous * (1.0 + change)
            };
            let open = previous;
            let flat = kind == 0;
            let (high, low) = if flat {
                (previous, previous)
            } else {
                (open.max(close) * (1.0 + up), open.min(close) * (1.0 - down))
            };
            let close = if flat { previous } else { close };
            c.open.push(open);
            c.high.push(high);
            c.low.push(low);
            c.close.push(close);
            c.volume
                .push(if kind == 2 { 0.0 } else { 100.0 * (1.0 + up) });
            previous = close;
        }
        c
    })
}

fn outcome_of(evaluation: &Evaluation) -> Outcome {
    match evaluation {
        Evaluation::Ready { passed: true, .. } => Outcome::Passed,
        Evaluation::Ready { passed: false, .. } => Outcome::Failed,
        Evaluation::NotReady { .. } => Outcome::NotReady,
    }
}

/// Checks a generated rule: accepted, and on `columns` its whole-history outcomes have one
/// per day and agree with day-by-day evaluation on a sample of days.
fn valid_rule_runs(
    source: &str,
    columns: &OwnedColumns,
    days_to_compare: &[usize],
) -> Result<(), TestCaseError> {
    let rule = Rule::parse(source, RuleKind::Entry, &params())
        .map_err(|errors| TestCaseError::fail(render_errors(&errors, source, "generated rule")))?;
    let eth = Symbol::parse("ETH").expect("symbol");
    let days = columns.close.len();
    let whole = EvalContext::new(eth.clone(), columns.view());
    let mut cache = IndicatorCache::new();
    rule.precompute(&whole, &mut cache);
    let outcomes = rule
        .outcomes(&whole, &mut cache)
        .ok_or_else(|| TestCaseError::fail("no whole-history outcomes"))?;
    prop_assert_eq!(outcomes.len(), days);
    let _ = rule.indicator_series(&whole, &mut cache);
    let _ = rule.evaluate(&whole, &mut cache);
    let _ = rule.history_needed(&Params::new());
    for &day in days_to_compare {
        if day >= days {
            continue;
        }
        let ctx = EvalContext::new(eth.clone(), columns.view().until(day + 1));
        let evaluation = rule.evaluate(&ctx, &mut IndicatorCache::new());
        prop_assert_eq!(
            outcomes[day],
            outcome_of(&evaluation),
            "day {} of {}: {:?}",
            day,
            days,
            evaluation
        );
    }
    Ok(())
}

fn valid_case() -> impl Strategy<Value = (String, OwnedColumns, Vec<usize>)> {
    (
        condition(),
        history(),
        prop::collection::vec(0usize..300, 4),
    )
}

#[test]
fn random_valid_rules_evaluate_on_random_histories() {
    fuzz(250, valid_case(), |(source, columns, mut days)| {
        // The last day is what a live run decides on: always compare it.
        days.push(columns.close.len().saturating_sub(1));
        valid_rule_runs(&source, &columns, &days)
    });
}

#[test]
#[ignore = "long fuzz run: BARTER_FUZZ_CASES cases"]
fn long_random_valid_rules() {
    fuzz(
        long_cases() / 10,
        valid_case(),
        |(source, columns, mut days)| {
            days.push(columns.close.len().saturating_sub(1));
            valid_rule_runs(&source, &columns, &days)
        },
    );
}
