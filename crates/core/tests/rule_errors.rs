//! Rule errors as a person reads them: every kind, rendered with line, column and caret.

use barter_core::Symbol;
use barter_core::rule::{Params, Rule, RuleError, RuleKind, render_errors};

const NAME: &str = "strategy `trend` entry";

fn params() -> Params {
    Params::from([("fast".to_owned(), 10.0), ("slow".to_owned(), 50.0)])
}

fn errors_of(source: &str, kind: RuleKind, params: &Params) -> Vec<RuleError> {
    match Rule::parse(source, kind, params) {
        Ok(_) => panic!("`{source}` was accepted"),
        Err(errors) => errors,
    }
}

/// The rendering of every error in an entry rule with the default parameters.
fn rendered(source: &str) -> String {
    render_errors(&errors_of(source, RuleKind::Entry, &params()), source, NAME)
}

#[test]
fn an_unknown_function_is_underlined_with_a_suggestion() {
    assert_eq!(
        rendered("crosses_above(sma(close, 20), emaa(close, 50))"),
        "\
error: unknown function `emaa`
 --> strategy `trend` entry, line 1, column 31
  |
1 | crosses_above(sma(close, 20), emaa(close, 50))
  |                               ^^^^ did you mean `ema`?"
    );
}

#[test]
fn a_multi_line_rule_reports_the_line_and_column_of_the_mistake() {
    let source = "sma(close, 20) > close\n  and rsi(clsoe, 14) < 70";
    assert_eq!(
        rendered(source),
        "\
error: unknown name `clsoe`
 --> strategy `trend` entry, line 2, column 11
  |
2 |   and rsi(clsoe, 14) < 70
  |           ^^^^^ did you mean `close`?"
    );
}

#[test]
fn the_gutter_widens_for_two_digit_line_numbers() {
    let source = format!("{}close > open + $fsat", "close > 0 and\n".repeat(9));
    assert_eq!(
        rendered(&source),
        "\
error: unknown parameter `$fsat`
  --> strategy `trend` entry, line 10, column 16
   |
10 | close > open + $fsat
   |                ^^^^^ did you mean `$fast`?"
    );
}

#[test]
fn a_syntax_error_points_at_the_unexpected_token() {
    assert_eq!(
        rendered("close > > 1"),
        "\
error: expected a value, found `>`
 --> strategy `trend` entry, line 1, column 9
  |
1 | close > > 1
  |         ^"
    );
    assert_eq!(
        rendered("sma(close, 20"),
        "\
error: expected `,` or `)` in the call to `sma`, found the end of the rule
 --> strategy `trend` entry, line 1, column 14
  |
1 | sma(close, 20
  |              ^ close the call to `sma` with `)`"
    );
}

#[test]
fn every_bad_character_is_reported_not_just_the_first() {
    assert_eq!(
        rendered("close = 1 && open > 2"),
        "\
error: unexpected `=`
 --> strategy `trend` entry, line 1, column 7
  |
1 | close = 1 && open > 2
  |       ^ compare with `==`

error: unexpected `&&`
 --> strategy `trend` entry, line 1, column 11
  |
1 | close = 1 && open > 2
  |           ^^ write `and`"
    );
}

#[test]
fn a_wrong_argument_count_underlines_the_whole_call() {
    assert_eq!(
        rendered("rsi(close) < 30"),
        "\
error: `rsi` takes 2 arguments (series, period), but 1 was given
 --> strategy `trend` entry, line 1, column 1
  |
1 | rsi(close) < 30
  | ^^^^^^^^^^ as in `rsi(close, 14)`"
    );
}

#[test]
fn a_number_where_a_condition_is_needed_is_refused() {
    assert_eq!(
        rendered("close > open and volume"),
        "\
error: `and` needs a condition (true or false), but `volume` is a number
 --> strategy `trend` entry, line 1, column 18
  |
1 | close > open and volume
  |                  ^^^^^^ compare it with `>`, `<`, `>=`, `<=`, `==` or `!=`"
    );
}

#[test]
fn a_condition_where_a_number_is_needed_is_refused() {
    assert_eq!(
        rendered("(close > open) * 2 > 1"),
        "\
error: `*` needs a number, but `(close > open)` is a condition (true or false)
 --> strategy `trend` entry, line 1, column 1
  |
1 | (close > open) * 2 > 1
  | ^^^^^^^^^^^^^^"
    );
}

#[test]
fn a_rule_that_is_a_number_is_not_a_condition() {
    let source = "sma(close, 20) - close";
    let errors = errors_of(source, RuleKind::Entry, &params());
    assert_eq!(
        errors[0].message,
        "a rule must be a condition (true or false), but `sma(close, 20) - close` is a number"
    );
    assert_eq!(
        (errors[0].span.start, errors[0].span.end),
        (0, source.len())
    );
}

#[test]
fn a_misspelt_parameter_suggests_the_declared_one() {
    assert_eq!(
        rendered("sma(close, $fsat) > close"),
        "\
error: unknown parameter `$fsat`
 --> strategy `trend` entry, line 1, column 12
  |
1 | sma(close, $fsat) > close
  |            ^^^^^ did you mean `$fast`?"
    );
}

#[test]
fn an_exit_only_value_in_an_entry_rule_is_refused() {
    assert_eq!(
        rendered("close > entry_price * 1.1"),
        "\
error: `entry_price` can only be used in an exit rule
 --> strategy `trend` entry, line 1, column 9
  |
1 | close > entry_price * 1.1
  |         ^^^^^^^^^^^ an entry rule runs before there is a position"
    );
    assert!(Rule::parse("close > entry_price * 1.1", RuleKind::Exit, &params()).is_ok());
}

#[test]
fn all_problems_of_a_rule_are_reported_together() {
    let source = "emaa(close, 5) > 1 and BTC.clsoe > $fsat\n  and days_held > 3";
    let errors = errors_of(source, RuleKind::Entry, &params());
    let found: Vec<(String, (usize, usize))> = errors
        .iter()
        .map(|e| (e.message.clone(), e.line_column(source)))
        .collect();
    assert_eq!(
        found,
        vec![
            ("unknown function `emaa`".to_owned(), (1, 1)),
            ("unknown series `clsoe`".to_owned(), (1, 28)),
            ("unknown parameter `$fsat`".to_owned(), (1, 36)),
            (
                "`days_held` can only be used in an exit rule".to_owned(),
                (2, 7)
            ),
        ]
    );
}

#[test]
fn parameter_defaults_must_suit_the_arguments_they_fill() {
    let bad = Params::from([("fast".to_owned(), 2.5), ("slow".to_owned(), 1.0)]);
    let cases = [
        (
            "sma(close, $fast) > 1",
            "the `period` of `sma` must be a whole number of days from 1 to 100000, but `$fast` is 2.5",
        ),
        (
            "rsi(close, $slow) > 1",
            "the `period` of `rsi` must be at least 2, but `$slow` is 1",
        ),
        (
            "close[$fast] > 1",
            "a lookback must be a whole number of days from 0 to 100000, but `$fast` is 2.5",
        ),
    ];
    for (source, message) in cases {
        let errors = errors_of(source, RuleKind::Entry, &bad);
        assert_eq!(errors.len(), 1, "{source}");
        assert_eq!(errors[0].message, message, "{source}");
    }
}

#[test]
fn literal_arguments_out_of_range_are_refused_at_load() {
    let cases = [
        (
            "sma(close, 0) > 1",
            "the `period` of `sma` must be a whole number of days from 1 to 100000, found 0",
            "0",
        ),
        (
            "rsi(close, 1) > 1",
            "the `period` of `rsi` must be at least 2, found 1",
            "1",
        ),
        (
            "close[-1] > 1",
            "a lookback must be a whole number of days from 0 to 100000, found -1",
            "-1",
        ),
        (
            "bollinger(close, 20, -2).upper > 1",
            "the `deviations` of `bollinger` must be a number of at least 0, found -2",
            "-2",
        ),
        (
            "macd(close, 26, 12, 9).line > 0",
            "the `fast` period of `macd` (26) must be below the `slow` period (12)",
            "macd(close, 26, 12, 9)",
        ),
    ];
    for (source, message, spot) in cases {
        let errors = errors_of(source, RuleKind::Entry, &params());
        assert_eq!(errors.len(), 1, "{source}");
        assert_eq!(errors[0].message, message, "{source}");
        assert_eq!(
            &source[errors[0].span.start..errors[0].span.end],
            spot,
            "{source}"
        );
    }
}

#[test]
fn sweep_values_are_checked_against_the_rule_before_it_runs() {
    let rule = Rule::parse(
        "sma(close, $fast) > sma(close, $slow)",
        RuleKind::Entry,
        &params(),
    )
    .expect("valid rule");
    let fine = Params::from([("fast".to_owned(), 5.0)]);
    assert_eq!(rule.check_params(&fine), Ok(()));
    let zero = Params::from([("fast".to_owned(), 0.0)]);
    let errors = rule.check_params(&zero).expect_err("period 0");
    assert_eq!(
        errors[0].render(rule.source(), NAME),
        "\
error: the `period` of `sma` must be a whole number of days from 1 to 100000, but `$fast` is 0
 --> strategy `trend` entry, line 1, column 12
  |
1 | sma(close, $fast) > sma(close, $slow)
  |            ^^^^^"
    );
}

#[test]
fn unknown_instruments_are_found_against_the_registered_ones() {
    let rule = Rule::parse(
        "BTCC.close > 1 and ETH.close > 1",
        RuleKind::Entry,
        &params(),
    )
    .expect("valid rule");
    let known = [
        Symbol::parse("BTC").expect("symbol"),
        Symbol::parse("ETH").expect("symbol"),
    ];
    let errors = rule.check_instruments(&known).expect_err("BTCC is unknown");
    assert_eq!(
        render_errors(&errors, rule.source(), NAME),
        "\
error: unknown instrument `BTCC`
 --> strategy `trend` entry, line 1, column 1
  |
1 | BTCC.close > 1 and ETH.close > 1
  | ^^^^ did you mean `BTC`?"
    );
}

#[test]
fn an_empty_rule_says_so() {
    let errors = errors_of("  # nothing yet\n", RuleKind::Entry, &params());
    assert_eq!(errors[0].message, "the rule is empty");
}

// ---- Limits (issue 12): length, nesting depth, numbers, periods. ----

use barter_core::rule::{
    EvalContext, IndicatorCache, MAX_DEPTH, MAX_LOOKBACK, MAX_PERIOD, MAX_RULE_CHARS, OwnedColumns,
};

fn depth_message() -> String {
    format!("nested too deeply: at most {MAX_DEPTH} levels")
}

/// Rules of each worst-case shape, `k` levels deep: (shape, source). Each is a valid entry rule.
fn deep_rules(k: usize) -> Vec<(&'static str, String)> {
    vec![
        (
            "parentheses",
            format!("{}close > 1{}", "(".repeat(k), ")".repeat(k)),
        ),
        ("not", format!("{}close > 1", "not ".repeat(k))),
        ("unary minus", format!("close > {}1", "-".repeat(k))),
        (
            "and chain",
            format!("{}close > 1", "close > open and ".repeat(k)),
        ),
        (
            "or chain",
            format!("{}close > 1", "close < open or ".repeat(k)),
        ),
        (
            "sum chain",
            format!("close > {}1", "sma(close, 2) + ".repeat(k)),
        ),
        (
            "nested calls",
            format!(
                "close > {}1{}",
                "(sma(close, 2) - ".repeat(k),
                ")".repeat(k)
            ),
        ),
        ("lookbacks", format!("close{} > 1", "[1]".repeat(k))),
        (
            "crossings",
            format!(
                "{}close > 1",
                "crosses_above(close, sma(close, 3)) and ".repeat(k)
            ),
        ),
    ]
}

/// The largest `k` at which each shape of [`deep_rules`] is accepted, and that the next is
/// refused with the depth error: every shape must get close to the limit (so no shape is
/// cut short by accident) and none past it.
fn deepest_accepted(shape: &str) -> usize {
    let mut k = 0;
    loop {
        let source = &deep_rules(k + 1)
            .into_iter()
            .find(|(s, _)| *s == shape)
            .expect("shape")
            .1;
        match Rule::parse(source, RuleKind::Entry, &params()) {
            Ok(_) => k += 1,
            Err(errors) => {
                assert_eq!(errors.len(), 1, "{shape} at {}", k + 1);
                assert_eq!(errors[0].message, depth_message(), "{shape} at {}", k + 1);
                assert!(errors[0].help.is_some(), "{shape}");
                return k;
            }
        }
    }
}

/// Runs `f` on a thread with a 256 KiB stack: an eighth of a tokio worker's, so passing here
/// shows a wide margin on real threads (debug build, no optimisation).
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic, no overflow");
}

fn rising(days: usize) -> OwnedColumns {
    let close: Vec<f64> = (0..days).map(|i| 100.0 + (i as f64 * 0.3).sin()).collect();
    OwnedColumns {
        open: close.iter().map(|c| c - 0.5).collect(),
        high: close.iter().map(|c| c + 1.0).collect(),
        low: close.iter().map(|c| c - 1.0).collect(),
        volume: vec![1.0; days],
        close,
    }
}

/// Every walk over a rule's tree: check, evaluate, series outcomes, indicator series,
/// precompute, history needed, series used, rendering.
fn exercise(rule: &Rule) {
    let data = rising(40);
    let symbol = Symbol::parse("ETH").expect("symbol");
    let ctx = EvalContext::new(symbol, data.view());
    let mut cache = IndicatorCache::new();
    rule.precompute(&ctx, &mut cache);
    let _ = rule.evaluate(&ctx, &mut cache);
    let _ = rule.outcomes(&ctx, &mut cache);
    let _ = rule.indicator_series(&ctx, &mut cache);
    let _ = rule.history_needed(&Params::new());
    let _ = rule.series_used();
    let _ = rule.check_params(&params());
    let _ = format!("{rule:?}");
}

#[test]
fn every_deep_shape_is_accepted_up_to_the_limit_and_refused_past_it() {
    for (shape, _) in deep_rules(0) {
        let k = deepest_accepted(shape);
        assert!(
            (MAX_DEPTH / 2 - 2..=MAX_DEPTH).contains(&k),
            "{shape}: accepted up to {k}"
        );
    }
}

#[test]
fn the_deepest_accepted_rules_run_on_a_small_stack() {
    on_small_stack(|| {
        for (shape, _) in deep_rules(0) {
            let k = deepest_accepted(shape);
            for (s, source) in deep_rules(k) {
                if s == shape {
                    let rule = Rule::check(&source, RuleKind::Entry, &params(), &[])
                        .unwrap_or_else(|e| {
                            panic!("{shape}: {}", render_errors(&e, &source, NAME))
                        });
                    exercise(&rule);
                }
            }
        }
    });
}

#[test]
fn hostile_rules_are_errors_not_stack_overflows() {
    on_small_stack(|| {
        let near = MAX_RULE_CHARS - 10;
        let sources = [
            "(".repeat(near),
            format!("{}close > 1{}", "(".repeat(4_990), ")".repeat(4_990)),
            format!("{}close > 1", "not ".repeat(2_490)),
            format!("close > {}1", "-".repeat(near)),
            format!("{}close > 1", "a and ".repeat(near / 6 - 2)),
            format!("{}close > 1", "c>o and ".repeat(near / 8 - 2)),
            format!("close > {}1", "1+".repeat(near / 2 - 2)),
            format!("{}close{}", "sma(".repeat(near / 5), ", 2)".repeat(10)),
            format!("close{} > 1", "[1]".repeat(near / 3 - 2)),
            format!("close{} > 1", ".close".repeat(near / 6 - 2)),
            "[".repeat(near),
            // Type errors deep inside: the checker walks the whole tree to report them.
            format!(
                "{}close{}",
                "sma(".repeat(MAX_DEPTH - 1),
                ", 2)".repeat(MAX_DEPTH - 1)
            ),
            format!(
                "{}close{}",
                "sma(close, ".repeat(MAX_DEPTH - 1),
                ")".repeat(MAX_DEPTH - 1)
            ),
            format!(
                "{}close{}",
                "crosses_above(close, ".repeat(MAX_DEPTH - 1),
                ")".repeat(MAX_DEPTH - 1)
            ),
            format!(
                "{}1{}",
                "atr(".repeat(MAX_DEPTH - 1),
                ")".repeat(MAX_DEPTH - 1)
            ),
            format!(
                "{}1{}",
                "foo(".repeat(MAX_DEPTH - 1),
                ")".repeat(MAX_DEPTH - 1)
            ),
            format!("{}1", "not ".repeat(MAX_DEPTH - 1)),
            format!("{}close", "-".repeat(MAX_DEPTH - 1)),
        ];
        for source in &sources {
            if let Err(errors) = Rule::check(source, RuleKind::Entry, &params(), &[]) {
                let _ = render_errors(&errors, source, NAME);
                for e in &errors {
                    let _ = e.underline(source);
                }
            }
        }
    });
}

#[test]
fn a_deep_rule_is_refused_at_the_token_opening_the_extra_level() {
    let source = format!("{}close > 1{}", "(".repeat(200), ")".repeat(200));
    let errors = errors_of(&source, RuleKind::Entry, &params());
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].message, depth_message());
    assert_eq!(errors[0].span.start, MAX_DEPTH);
    assert_eq!(&source[errors[0].span.start..errors[0].span.end], "(");
    // A long chain is refused at the `and` that makes it too deep.
    let chain = format!("{}close > 1", "close > open and ".repeat(5_000 / 17));
    let errors = errors_of(&chain, RuleKind::Entry, &params());
    assert_eq!(errors[0].message, depth_message());
    assert_eq!(&chain[errors[0].span.start..errors[0].span.end], "and");
}

#[test]
fn a_rule_longer_than_the_limit_is_refused() {
    let filler = "close > 1 and ".repeat(MAX_RULE_CHARS / 14 + 1);
    let source = format!("{filler}close > 1");
    let errors = errors_of(&source, RuleKind::Entry, &params());
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].message,
        format!("the rule is too long: at most {MAX_RULE_CHARS} characters")
    );
    assert_eq!(errors[0].span.start, MAX_RULE_CHARS);
    assert!(errors[0].help.is_some());
    let _ = errors[0].render(&source, NAME);
    // Exactly at the limit (a long comment counts) is fine; characters, not bytes, count.
    let rule = "close > 1 # ";
    let at_limit = format!("{rule}{}", "é".repeat(MAX_RULE_CHARS - rule.len()));
    assert!(Rule::parse(&at_limit, RuleKind::Entry, &params()).is_ok());
    let over = format!("{at_limit}é");
    let errors = errors_of(&over, RuleKind::Entry, &params());
    assert!(over.is_char_boundary(errors[0].span.start));
}

#[test]
fn exponents_and_huge_numbers_are_explained() {
    let errors = errors_of("highest(close, 4) > 1e12", RuleKind::Entry, &params());
    assert_eq!(
        errors[0].message,
        "exponents are not supported in numbers: `1e12`"
    );
    assert_eq!(
        errors[0].help.as_deref(),
        Some("write the number out: `1000000000000`")
    );
    let huge = format!("close > {}", "9".repeat(400));
    let errors = errors_of(&huge, RuleKind::Entry, &params());
    assert!(
        errors[0].message.contains("is too long: at most 40 digits"),
        "{}",
        errors[0].message
    );
}

#[test]
fn huge_periods_and_lookbacks_are_refused_naming_the_argument_and_range() {
    let cases = [
        (
            "highest(close, 4294967295) > 1",
            "the `period` of `highest` must be a whole number of days from 1 to 100000, found 4294967295",
            "4294967295",
        ),
        (
            "lowest(close, 100001) > 1",
            "the `period` of `lowest` must be a whole number of days from 1 to 100000, found 100001",
            "100001",
        ),
        (
            "macd(close, 12, 26, 999999999).signal > 1",
            "the `signal` of `macd` must be a whole number of days from 1 to 100000, found 999999999",
            "999999999",
        ),
        (
            "close[100001] > 1",
            "a lookback must be a whole number of days from 0 to 100000, found 100001",
            "100001",
        ),
    ];
    for (source, message, spot) in cases {
        let errors = errors_of(source, RuleKind::Entry, &params());
        assert_eq!(errors.len(), 1, "{source}");
        assert_eq!(errors[0].message, message, "{source}");
        assert_eq!(&source[errors[0].span.start..errors[0].span.end], spot);
        assert!(errors[0].help.is_some(), "{source}");
    }
    assert_eq!(MAX_PERIOD, 100_000);
    assert_eq!(MAX_LOOKBACK, 100_000);
    // At the limit every indicator and lookback is accepted, and merely not ready on short data.
    let at_limit = [
        "sma(close, 100000) > 1",
        "ema(close, 100000) > 1",
        "wma(close, 100000) > 1",
        "rsi(close, 100000) > 1",
        "highest(close, 100000) > 1",
        "lowest(close, 100000) > 1",
        "roc(close, 100000) > 1",
        "stddev(close, 100000) > 1",
        "atr(100000) > 1",
        "macd(close, 99999, 100000, 100000).signal > 1",
        "bollinger(close, 100000, 2).upper > 1",
        "close[100000] > 1",
    ];
    let data = rising(50);
    for source in at_limit {
        let rule = Rule::parse(source, RuleKind::Entry, &params()).expect(source);
        let ctx = EvalContext::new(Symbol::parse("ETH").expect("symbol"), data.view());
        assert!(
            rule.evaluate(&ctx, &mut IndicatorCache::new())
                .is_not_ready(),
            "{source}"
        );
        assert!(rule.history_needed(&Params::new()) >= 100_000, "{source}");
    }
}

#[test]
fn unchecked_huge_overrides_are_not_ready_and_allocate_nothing() {
    // A sweep may evaluate with overrides nobody checked: a period of 4294967295 (or 1e300)
    // must neither allocate by the period nor overflow the history arithmetic.
    let rule = Rule::parse(
        "highest(close, $fast) > 1 and close[$slow] > 1 and macd(close, 2, $slow, $fast).line > 0",
        RuleKind::Entry,
        &params(),
    )
    .expect("valid with the defaults");
    let data = rising(50);
    for huge in [4_294_967_295.0, 1e300, f64::INFINITY, f64::NAN, -1.0] {
        let overrides = Params::from([("fast".to_owned(), huge), ("slow".to_owned(), huge)]);
        assert!(rule.check_params(&overrides).is_err(), "{huge}");
        let _ = rule.history_needed(&overrides);
        let ctx = EvalContext::new(Symbol::parse("ETH").expect("symbol"), data.view())
            .with_params(&overrides);
        let mut cache = IndicatorCache::new();
        assert!(rule.evaluate(&ctx, &mut cache).is_not_ready(), "{huge}");
        let outcomes = rule
            .outcomes(&ctx, &mut cache)
            .expect("decision instrument only");
        assert_eq!(outcomes.len(), 50);
    }
}
