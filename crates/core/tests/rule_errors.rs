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
            "the `period` of `sma` must be a whole number of at least 1, but `$fast` is 2.5",
        ),
        (
            "rsi(close, $slow) > 1",
            "the `period` of `rsi` must be at least 2, but `$slow` is 1",
        ),
        (
            "close[$fast] > 1",
            "a lookback must be a whole number of days, at least 0, but `$fast` is 2.5",
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
            "the `period` of `sma` must be a whole number of at least 1, found 0",
            "0",
        ),
        (
            "rsi(close, 1) > 1",
            "the `period` of `rsi` must be at least 2, found 1",
            "1",
        ),
        (
            "close[-1] > 1",
            "a lookback must be a whole number of days, at least 0, found -1",
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
error: the `period` of `sma` must be a whole number of at least 1, but `$fast` is 0
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
