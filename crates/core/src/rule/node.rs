//! The checked rule tree the evaluator runs: names resolved, types known, parameters bound late.

use crate::symbol::Symbol;

use super::Params;
use super::ast::BinaryOp;
use super::error::{RuleError, Span};
use super::functions::{ArgKind, FuncSpec, Inputs, SeriesField};
use crate::indicators::IndicatorError;

/// A checked expression with its source text (for the values an evaluation reports).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// What it computes.
    pub kind: NodeKind,
    /// Where it is in the source.
    pub span: Span,
    /// Its source text with whitespace runs collapsed, e.g. `rsi(close, 14)`.
    pub text: String,
    /// Whether its value is reported by an evaluation (numbers other than plain literals).
    pub record: bool,
}

/// The shapes of checked expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    /// A literal number.
    Const(f64),
    /// A strategy parameter (the name without `$`).
    Param(String),
    /// A price series of the decision instrument (`None`) or another one.
    Series(Option<Symbol>, SeriesField),
    /// One output of an indicator.
    Indicator(Box<Indicator>),
    /// An exit-only value of the open position.
    Position(PositionValue),
    /// `-x`.
    Neg(Box<Node>),
    /// `not x`.
    Not(Box<Node>),
    /// Arithmetic, comparison, `and` or `or`.
    Binary(BinaryOp, Box<Node>, Box<Node>),
    /// `crosses_above(a, b)` (`above`) or `crosses_below(a, b)`.
    Cross {
        above: bool,
        a: Box<Node>,
        b: Box<Node>,
    },
    /// `x[n]`.
    Lookback(Box<Node>, Arg),
}

/// An exit-only value, known only while a position is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PositionValue {
    EntryPrice,
    DaysHeld,
    ReturnSinceEntry,
    HighestCloseSinceEntry,
}

impl PositionValue {
    /// Every exit-only value.
    pub const ALL: [PositionValue; 4] = [
        Self::EntryPrice,
        Self::DaysHeld,
        Self::ReturnSinceEntry,
        Self::HighestCloseSinceEntry,
    ];

    /// The name used in rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EntryPrice => "entry_price",
            Self::DaysHeld => "days_held",
            Self::ReturnSinceEntry => "return_since_entry",
            Self::HighestCloseSinceEntry => "highest_close_since_entry",
        }
    }

    /// The value called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == name)
    }
}

/// A call to an indicator function, with the output it selects.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Indicator {
    /// The function.
    pub spec: &'static FuncSpec,
    /// Whose prices: the decision instrument (`None`) or another one.
    pub instrument: Option<Symbol>,
    /// Which series (ignored by `atr`, which reads high, low and close).
    pub field: SeriesField,
    /// The number arguments after the input.
    pub args: Vec<Arg>,
    /// Which output (0 for single-output functions).
    pub output: usize,
    /// The span of the whole call, for errors that concern several arguments.
    pub call_span: Span,
}

/// A number argument fixed when the rule runs: a literal or a parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Arg {
    /// The literal value, or the parameter's name.
    pub value: ArgValue,
    /// Where it is.
    pub span: Span,
}

/// A literal or a parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ArgValue {
    Const(f64),
    Param(String),
}

/// The longest indicator period accepted, in days (about 270 years of daily candles). Indicators
/// never allocate by their period (a period longer than the history is simply not ready), so
/// the cap is about catching typos and keeping warm-up arithmetic far from overflow.
pub const MAX_PERIOD: usize = 100_000;

/// The longest lookback `x[n]` accepted, in days (as [`MAX_PERIOD`]).
pub const MAX_LOOKBACK: usize = 100_000;

/// Parameter values: overrides first, then the strategy's defaults.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bindings<'a> {
    /// Values chosen for this run (e.g. one point of a sweep).
    pub overrides: &'a Params,
    /// The strategy's declared defaults.
    pub defaults: &'a Params,
}

impl Bindings<'_> {
    /// The value of parameter `name` (NaN if it is not declared, which the checker prevents).
    pub fn get(&self, name: &str) -> f64 {
        self.overrides
            .get(name)
            .or_else(|| self.defaults.get(name))
            .copied()
            .unwrap_or(f64::NAN)
    }

    /// The value of an argument.
    pub fn arg(&self, arg: &Arg) -> f64 {
        match &arg.value {
            ArgValue::Const(v) => *v,
            ArgValue::Param(name) => self.get(name),
        }
    }

    /// The value of a whole-number argument from `min` to `max`, or why it is not one. The
    /// evaluators use this too, so an unchecked override can never reach an indicator.
    pub fn whole(&self, arg: &Arg, min: usize, max: usize) -> Result<usize, String> {
        let v = self.arg(arg);
        if v.is_finite() && v.fract() == 0.0 && v >= min as f64 && v <= max as f64 {
            Ok(v as usize)
        } else {
            let name = match &arg.value {
                ArgValue::Param(name) => format!("parameter `${name}`"),
                ArgValue::Const(_) => "argument".to_owned(),
            };
            Err(format!(
                "{name} is {v}, not a whole number from {min} to {max}"
            ))
        }
    }

    /// The value of a period argument ([`MAX_PERIOD`] at most).
    pub fn period(&self, arg: &Arg) -> Result<usize, String> {
        self.whole(arg, 1, MAX_PERIOD)
    }

    /// The value of a lookback argument ([`MAX_LOOKBACK`] at most).
    pub fn lookback(&self, arg: &Arg) -> Result<usize, String> {
        self.whole(arg, 0, MAX_LOOKBACK)
    }
}

/// The problem with an argument's value: `what` must be `requirement`.
fn arg_error(arg: &Arg, value: f64, what: &str, requirement: &str) -> RuleError {
    let message = match &arg.value {
        ArgValue::Const(_) => format!("{what} must be {requirement}, found {value}"),
        ArgValue::Param(name) => format!("{what} must be {requirement}, but `${name}` is {value}"),
    };
    RuleError::new(arg.span, message)
}

/// Checks every argument that depends on values (periods, multipliers, lookbacks) with these
/// bindings, so bad parameter values are found before the rule runs.
pub(crate) fn validate(node: &Node, bindings: &Bindings<'_>, errors: &mut Vec<RuleError>) {
    match &node.kind {
        NodeKind::Const(_) | NodeKind::Param(_) | NodeKind::Series(..) | NodeKind::Position(_) => {}
        NodeKind::Indicator(indicator) => validate_indicator(indicator, bindings, errors),
        NodeKind::Neg(x) | NodeKind::Not(x) => validate(x, bindings, errors),
        NodeKind::Binary(_, a, b) | NodeKind::Cross { a, b, .. } => {
            validate(a, bindings, errors);
            validate(b, bindings, errors);
        }
        NodeKind::Lookback(base, arg) => {
            validate(base, bindings, errors);
            if bindings.lookback(arg).is_err() {
                let what = "a lookback";
                let requirement = format!("a whole number of days from 0 to {MAX_LOOKBACK}");
                errors.push(
                    arg_error(arg, bindings.arg(arg), what, &requirement)
                        .with_help("a lookback counts days back, as in `close[1]`"),
                );
            }
        }
    }
}

fn validate_indicator(indicator: &Indicator, bindings: &Bindings<'_>, errors: &mut Vec<RuleError>) {
    let spec = indicator.spec;
    let mut values = Vec::new();
    let mut whole = true;
    for (arg, (name, kind)) in indicator.args.iter().zip(spec.args) {
        let value = bindings.arg(arg);
        values.push(value);
        let what = format!("the `{name}` of `{}`", spec.name);
        match kind {
            ArgKind::Period if bindings.period(arg).is_err() => {
                whole = false;
                let requirement = format!("a whole number of days from 1 to {MAX_PERIOD}");
                let mut error = arg_error(arg, value, &what, &requirement);
                if value > MAX_PERIOD as f64 {
                    error = error.with_help(format!(
                        "periods count days: at most {MAX_PERIOD} (about 270 years of candles)"
                    ));
                }
                errors.push(error);
            }
            ArgKind::Multiplier if !(value.is_finite() && value >= 0.0) => {
                whole = false;
                errors.push(arg_error(arg, value, &what, "a number of at least 0"));
            }
            _ => {}
        }
    }
    if !whole {
        return;
    }
    // The indicator itself knows its limits (e.g. rsi needs a period of at least 2): ask it with
    // no data, so those limits are stated once, in `crate::indicators`.
    let inputs = Inputs {
        series: &[],
        high: &[],
        low: &[],
    };
    let Err(error) = spec.compute(&inputs, &values) else {
        return;
    };
    let fallback = RuleError::new(indicator.call_span, format!("invalid arguments: {error}"));
    let arg_named = |wanted: &str| {
        spec.args
            .iter()
            .position(|(name, _)| *name == wanted)
            .and_then(|i| indicator.args.get(i))
    };
    let error = match error {
        IndicatorError::PeriodTooSmall { name, min, .. } => arg_named(name).map(|arg| {
            let what = format!("the `{name}` of `{}`", spec.name);
            arg_error(arg, bindings.arg(arg), &what, &format!("at least {min}"))
        }),
        IndicatorError::FastNotBelowSlow { fast, slow, .. } => Some(
            RuleError::new(
                indicator.call_span,
                format!(
                    "the `fast` period of `macd` ({fast}) must be below the `slow` period ({slow})"
                ),
            )
            .with_help("as in `macd(close, 12, 26, 9)`"),
        ),
        _ => None,
    };
    errors.push(error.unwrap_or(fallback));
}
