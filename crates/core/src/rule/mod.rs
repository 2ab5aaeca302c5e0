//! The rule language: entry and exit conditions typed into the config.
//!
//! A rule such as `crosses_above(sma(close, $fast), sma(close, $slow)) and rsi(close, 14) < 70`
//! is parsed and checked once, when the config is loaded ([`Rule::parse`]): every problem is
//! reported then, with line, column and a caret ([`RuleError::render`]), never while it runs.
//! Running it on a decision day ([`Rule::evaluate`]) yields [`Evaluation::Ready`] with the value
//! of each part, or [`Evaluation::NotReady`] when some part has no value yet.
//!
//! # Grammar
//! ```text
//! rule     = expr                                   (must be a condition)
//! expr     = expr "or" expr | expr "and" expr | "not" expr
//!          | sum [ ("<" | "<=" | ">" | ">=" | "==" | "!=") sum ]   (no chaining: a < b < c)
//! sum      = product { ("+" | "-") product }
//! product  = unary { ("*" | "/") unary }
//! unary    = "-" unary | postfix
//! postfix  = primary { "[" arg "]" | "." name }
//! primary  = number [ "%" ] | "$" name | name | name "(" [ expr { "," expr } ] ")"
//!          | "\"" symbol "\"" | "(" expr ")"
//! arg      = number | "-" number | "$" name       (fixed when the rule runs)
//! ```
//! Precedence, loosest first: `or` < `and` < `not` < comparisons < `+ -` < `* /` < unary `-` <
//! `[n]`, `.name` and calls. `#` starts a comment to the end of the line; rules may span lines.
//!
//! # Names
//! - **Series** `open high low close volume`: the decision instrument's prices on the decision
//!   day. Another instrument's series is `BTC.close` (`"BRK-B".close` for symbols that are not
//!   plain names); an ETH rule can compare `close / BTC.close`.
//! - **Numbers**: `14`, `1.5`, and percents as fractions: `5%` is `0.05`.
//! - **Parameters** `$fast`: declared with a default by the strategy ([`Params`], names without
//!   `$`); runs may override them ([`EvalContext::with_params`]) for sweeps.
//! - **Lookback** `x[n]` is `x` `n` candles before the decision day (`close[1]` is the previous
//!   complete day). It applies to any expression that changes from day to day: `close[1]`,
//!   `BTC.close[2]`, `sma(close, 20)[1]`, `(close - open)[1]`, `crosses_above(a, b)[1]`. For
//!   another instrument `n` counts that instrument's own candles. `n` is a whole number or a
//!   parameter.
//! - **Exit-only values** (exit rules only; an entry rule naming one is an error):
//!   `entry_price`; `days_held` (candles since the entry day, 0 on that day); `return_since_entry`
//!   (a fraction: `close / entry_price - 1`, so `return_since_entry > 5%` reads naturally);
//!   `highest_close_since_entry` (entry day and decision day included). They have no history.
//!
//! # Functions
//! | call | value |
//! |---|---|
//! | `sma ema wma rsi highest lowest roc stddev (series, period)` | one number |
//! | `atr(period)`, `atr(BTC, period)` | ATR of the decision (or named) instrument |
//! | `macd(series, fast, slow, signal).line` / `.signal` / `.histogram` | one output |
//! | `bollinger(series, period, deviations).upper` / `.middle` / `.lower` | one output |
//! | `crosses_above(a, b)`, `crosses_below(a, b)` | a condition |
//!
//! The series argument is a price series (`close`, `BTC.volume`); numeric arguments are numbers
//! or parameters, checked when the rule is loaded against what [`crate::indicators`] accepts.
//! Indicator conventions are TA-Lib's (see that module), except that `roc` is a fraction like
//! `return_since_entry` (`roc(close, 10) > 5%`), and `stddev` is one standard deviation.
//! `rsi` is on a 0–100 scale: comparing it with a percent literal (`rsi(close, 14) < 70%`) is
//! refused as a likely mistake.
//!
//! `crosses_above(a, b)` holds when `a > b` on the decision day and `a <= b` the day before;
//! `crosses_below(a, b)` when `a < b` and the day before `a >= b`.
//!
//! # Evaluation
//! A rule is ready only when every part of it has a value: both sides of `and`/`or` are always
//! evaluated, so readiness does not depend on which side happens to decide the result. Indicator
//! warm-up, a lookback beyond the history given, a missing instrument, a missing position or a
//! division by zero make it [`Evaluation::NotReady`] (no trade), never an error or a guess.
//! Indicators are computed through an [`IndicatorCache`], once per (instrument, series, function,
//! parameters), and shared by every rule and strategy that uses the same cache.
//!
//! # Limits
//! A rule is at most [`MAX_RULE_CHARS`] characters and nests at most [`MAX_DEPTH`] levels (every
//! parenthesis, `not`, `-`, operator operand, call argument, `.name` and `[n]` is a level), so a
//! hostile or mistaken rule is refused with an error instead of exhausting a thread's stack.
//! Number literals have no exponent and at most [`MAX_NUMBER_LEN`] digits. Periods are at most
//! [`MAX_PERIOD`] days and lookbacks at most [`MAX_LOOKBACK`] days, checked with the defaults
//! and again for sweep values ([`Rule::check_params`]).
//!
//! # Errors
//! Lexical errors are all reported; a syntax error stops parsing (later ones would mostly be
//! echoes); a rule that parses is then checked completely, every unknown name, arity, type
//! (number versus condition) and parameter problem reported. Argument values (periods the
//! indicators accept, whole lookbacks, `macd` fast below slow) are checked last, with the
//! parameter defaults, and again for sweep values with [`Rule::check_params`]. For example:
//! ```text
//! error: unknown function `emaa`
//!  --> strategy `trend` entry, line 1, column 31
//!   |
//! 1 | crosses_above(sma(close, 20), emaa(close, 50))
//!   |                               ^^^^ did you mean `ema`?
//! ```

mod ast;
mod cache;
mod check;
mod context;
mod error;
mod eval;
mod functions;
mod lexer;
mod node;
mod parser;
mod series_eval;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::symbol::Symbol;

pub use cache::{IndicatorCache, SharedIndicators};
pub use context::{Columns, EvalContext, OwnedColumns, PositionView};
pub use error::{RuleError, Span, render_errors};
pub use eval::Evaluation;
pub use functions::{SeriesField, SeriesSet};
pub use lexer::MAX_NUMBER_LEN;
pub use node::{MAX_LOOKBACK, MAX_PERIOD};
pub use parser::{MAX_DEPTH, MAX_RULE_CHARS};
pub use series_eval::{IndicatorSeries, Signal};

use node::{Bindings, Node};

/// How a condition came out on one decision day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The condition holds: act.
    Passed,
    /// The condition does not hold.
    Failed,
    /// Some input has no value yet (warm-up, too little history): no action, no guess.
    NotReady,
}

/// A strategy's parameters and their values, by name without `$` (e.g. `fast = 10`).
pub type Params = BTreeMap<String, f64>;

/// Whether a rule decides entries or exits (only exits may use the position's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleKind {
    /// Decides whether to open a position.
    Entry,
    /// Decides whether to close the open position.
    Exit,
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Entry => "entry",
            Self::Exit => "exit",
        })
    }
}

/// A checked rule, ready to evaluate; only [`Rule::parse`] builds one.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    source: String,
    kind: RuleKind,
    root: Node,
    defaults: Params,
    instruments: Vec<(Symbol, Span)>,
    params_used: BTreeSet<String>,
}

impl Rule {
    /// Parses and checks a rule against the strategy's declared parameters and their defaults.
    ///
    /// # Errors
    /// Every problem found (see the module docs): render them with [`render_errors`].
    pub fn parse(source: &str, kind: RuleKind, params: &Params) -> Result<Rule, Vec<RuleError>> {
        let expr = parser::parse(source)?;
        let checked = check::check(&expr, source, kind, params)?;
        let rule = Rule {
            source: source.to_owned(),
            kind,
            root: checked.root,
            defaults: params.clone(),
            instruments: checked.instruments,
            params_used: checked.params_used,
        };
        rule.check_params(&Params::new())?;
        Ok(rule)
    }

    /// Parses and checks a rule ([`Rule::parse`]), then the instruments it names against `known`
    /// ([`Rule::check_instruments`]): everything a configured rule must pass.
    ///
    /// # Errors
    /// The parse errors, or else the unknown instruments.
    pub fn check(
        source: &str,
        kind: RuleKind,
        params: &Params,
        known: &[Symbol],
    ) -> Result<Rule, Vec<RuleError>> {
        let rule = Rule::parse(source, kind, params)?;
        rule.check_instruments(known)?;
        Ok(rule)
    }

    /// The text the rule was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Entry or exit.
    pub fn kind(&self) -> RuleKind {
        self.kind
    }

    /// The other instruments the rule names (`BTC` in `BTC.close`), sorted, each once.
    pub fn instruments_referenced(&self) -> Vec<Symbol> {
        let set: BTreeSet<Symbol> = self.instruments.iter().map(|(s, _)| s.clone()).collect();
        set.into_iter().collect()
    }

    /// The parameters the rule uses, by name without `$`.
    pub fn parameters_used(&self) -> &BTreeSet<String> {
        &self.params_used
    }

    /// Checks that every instrument the rule names is in `known` (e.g. the registered ones).
    ///
    /// # Errors
    /// One error per unknown instrument mention, with a suggestion when one is close.
    pub fn check_instruments(&self, known: &[Symbol]) -> Result<(), Vec<RuleError>> {
        let errors: Vec<RuleError> = self
            .instruments
            .iter()
            .filter(|(symbol, _)| !known.contains(symbol))
            .map(|(symbol, span)| {
                let names = known.iter().map(Symbol::as_str);
                let help = match error::suggest(symbol.as_str(), names) {
                    Some(found) => format!("did you mean `{found}`?"),
                    None => "register it first, or check the symbol".to_owned(),
                };
                RuleError::new(*span, format!("unknown instrument `{symbol}`")).with_help(help)
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Checks parameter values that would replace the defaults (e.g. every point of a sweep):
    /// periods must stay whole numbers the indicators accept, lookbacks whole and not negative.
    /// Names the rule does not use are ignored.
    ///
    /// # Errors
    /// One error per argument whose value is not acceptable, pointing at its use in the rule.
    pub fn check_params(&self, overrides: &Params) -> Result<(), Vec<RuleError>> {
        let mut errors = Vec::new();
        node::validate(&self.root, &self.bindings(overrides), &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// How many candles each instrument needs before the rule can be ready (the largest over
    /// indicator warm-ups and lookbacks), with these parameter overrides.
    pub fn history_needed(&self, overrides: &Params) -> usize {
        eval::history_needed(&self.root, &self.bindings(overrides), 0)
    }

    /// The price series the rule reads, of the decision instrument and of the instruments it
    /// names together; always includes `close` (days held and the position's values count
    /// closes). Columns of other series may be left empty when evaluating this rule.
    pub fn series_used(&self) -> SeriesSet {
        eval::series_used(&self.root, SeriesSet::of(SeriesField::Close))
    }

    /// Runs the rule on the decision day of `ctx` (the last day of its columns), computing
    /// indicators through `cache`.
    pub fn evaluate(&self, ctx: &EvalContext<'_>, cache: &mut IndicatorCache) -> Evaluation {
        eval::evaluate(&self.root, ctx, self.bindings(ctx.overrides()), cache)
    }

    /// Computes every indicator the rule uses over the whole of `ctx` into `cache`, so a backtest
    /// that then evaluates day by day on shorter histories reuses them (see [`IndicatorCache`]).
    pub fn precompute(&self, ctx: &EvalContext<'_>, cache: &mut IndicatorCache) {
        eval::precompute(&self.root, ctx, self.bindings(ctx.overrides()), cache);
    }

    /// The outcome on every day of `ctx`'s columns at once (day i as [`Rule::evaluate`] on the
    /// first i + 1 days would decide it), or `None` for a rule that reads another instrument or
    /// the open position: decide those day by day.
    pub fn outcomes(
        &self,
        ctx: &EvalContext<'_>,
        cache: &mut IndicatorCache,
    ) -> Option<Vec<Outcome>> {
        series_eval::outcomes(&self.root, ctx, self.bindings(ctx.overrides()), cache)
    }

    /// The rule over the whole of `ctx`'s columns, decided on any day asked (day i as
    /// [`Rule::outcomes`] gives it), or `None` for a rule that reads another instrument or the
    /// open position.
    pub fn signal(&self, ctx: &EvalContext<'_>, cache: &mut IndicatorCache) -> Option<Signal> {
        series_eval::signal(&self.root, ctx, self.bindings(ctx.overrides()), cache)
    }

    /// Every indicator of the decision instrument the rule reads (another instrument's are left
    /// out), each once in the order written, with its value on every day of `ctx`'s columns.
    pub fn indicator_series(
        &self,
        ctx: &EvalContext<'_>,
        cache: &mut IndicatorCache,
    ) -> Vec<IndicatorSeries> {
        series_eval::indicator_series(&self.root, ctx, self.bindings(ctx.overrides()), cache)
    }

    fn bindings<'a>(&'a self, overrides: &'a Params) -> Bindings<'a> {
        Bindings {
            overrides,
            defaults: &self.defaults,
        }
    }
}
