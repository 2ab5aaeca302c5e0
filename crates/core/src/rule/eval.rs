//! The evaluator: runs a checked rule on one decision day, reading indicators through the cache.

use crate::symbol::Symbol;

use super::ast::BinaryOp;
use super::cache::IndicatorCache;
use super::context::{Columns, EvalContext};
use super::functions::{ArgKind, Func, FuncSpec, Input, Inputs, SeriesField, SeriesSet};
use super::node::{Arg, ArgValue, Bindings, Indicator, Node, NodeKind, PositionValue};

/// The outcome of running a rule on one decision day.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// Some part of the rule has no value yet (warm-up, too little history, no position): no
    /// trade, and no guess.
    NotReady {
        /// Which part and why, e.g. "`sma(close, 20)` is warming up: ...".
        reason: String,
    },
    /// Every part had a value.
    Ready {
        /// Whether the condition holds.
        passed: bool,
        /// The value of each number in the rule and each parameter it uses, by source text
        /// (whitespace collapsed), in evaluation order, each text once: e.g.
        /// `("rsi(close, 14)", 63.2)`, `("$fast", 10.0)`, and for crossings also yesterday's
        /// values as `("sma(close, $fast)[1]", ...)`. Plain literals are left out.
        values: Vec<(String, f64)>,
    },
}

impl Evaluation {
    /// Whether the rule is ready and its condition holds.
    pub fn passed(&self) -> bool {
        matches!(self, Self::Ready { passed: true, .. })
    }

    /// Whether some part of the rule has no value yet.
    pub fn is_not_ready(&self) -> bool {
        matches!(self, Self::NotReady { .. })
    }
}

/// Why a part of the rule has no value.
type Step<T> = Result<T, String>;

/// A number or a condition.
#[derive(Debug, Clone, Copy)]
enum Value {
    Num(f64),
    Bool(bool),
}

/// Runs `root` at the decision day (the last day of every column).
pub(crate) fn evaluate(
    root: &Node,
    ctx: &EvalContext<'_>,
    bindings: Bindings<'_>,
    cache: &mut IndicatorCache,
) -> Evaluation {
    let mut evaluator = Evaluator {
        ctx,
        bindings,
        cache,
        values: Vec::new(),
    };
    match evaluator.boolean(root, 0) {
        Ok(passed) => Evaluation::Ready {
            passed,
            values: evaluator.values,
        },
        Err(reason) => Evaluation::NotReady { reason },
    }
}

/// Computes every indicator under `node` into the cache, ignoring anything not ready.
pub(crate) fn precompute(
    node: &Node,
    ctx: &EvalContext<'_>,
    bindings: Bindings<'_>,
    cache: &mut IndicatorCache,
) {
    let mut evaluator = Evaluator {
        ctx,
        bindings,
        cache,
        values: Vec::new(),
    };
    evaluator.precompute(node);
}

struct Evaluator<'r, 'c> {
    ctx: &'r EvalContext<'c>,
    bindings: Bindings<'r>,
    cache: &'r mut IndicatorCache,
    values: Vec<(String, f64)>,
}

impl<'c> Evaluator<'_, 'c> {
    fn record(&mut self, text: &str, value: f64) {
        if !self.values.iter().any(|(t, _)| t == text) {
            self.values.push((text.to_owned(), value));
        }
    }

    fn number(&mut self, node: &Node, offset: usize) -> Step<f64> {
        match self.eval(node, offset)? {
            Value::Num(v) => Ok(v),
            Value::Bool(_) => Err(format!("`{}` is not a number", node.text)),
        }
    }

    fn boolean(&mut self, node: &Node, offset: usize) -> Step<bool> {
        match self.eval(node, offset)? {
            Value::Bool(b) => Ok(b),
            Value::Num(_) => Err(format!("`{}` is not a condition", node.text)),
        }
    }

    /// The value of `node` `offset` days before the decision day.
    ///
    /// A dispatcher with one `?`: every level of the rule stacks this frame and one helper's, so
    /// the work (and its temporaries) lives in the helpers (the parser bounds the depth).
    fn eval(&mut self, node: &Node, offset: usize) -> Step<Value> {
        let value = match &node.kind {
            NodeKind::Const(v) => Ok(Value::Num(*v)),
            NodeKind::Param(name) => Ok(Value::Num(self.bindings.get(name))),
            NodeKind::Series(instrument, field) => {
                self.series(instrument.as_ref(), *field, &node.text, offset)
            }
            NodeKind::Indicator(indicator) => self
                .indicator(indicator, &node.text, offset)
                .map(Value::Num),
            NodeKind::Position(value) => self.position(*value).map(Value::Num),
            NodeKind::Neg(x) => self.number(x, offset).map(|v| Value::Num(-v)),
            NodeKind::Not(x) => self.boolean(x, offset).map(|b| Value::Bool(!b)),
            NodeKind::Binary(op, a, b) => self.binary(*op, a, b, &node.text, offset),
            NodeKind::Cross { above, a, b } => self.cross(*above, a, b, offset),
            NodeKind::Lookback(base, arg) => self.lookback(base, arg, offset),
        }?;
        if let (Value::Num(v), 0, true) = (value, offset, node.record) {
            self.record(&node.text, v);
        }
        Ok(value)
    }

    fn series(
        &self,
        instrument: Option<&Symbol>,
        field: SeriesField,
        text: &str,
        offset: usize,
    ) -> Step<Value> {
        let (symbol, columns) = self.columns(instrument)?;
        let column = columns.field(field);
        let Some(i) = column.len().checked_sub(offset.saturating_add(1)) else {
            return Err(format!(
                "{} needs {} days of {symbol} history, {} available",
                described(text, offset),
                offset.saturating_add(1),
                column.len()
            ));
        };
        Ok(Value::Num(column[i]))
    }

    fn cross(&mut self, above: bool, a: &Node, b: &Node, offset: usize) -> Step<Value> {
        let (a0, b0) = (self.number(a, offset)?, self.number(b, offset)?);
        let day_before = offset.saturating_add(1);
        let (a1, b1) = (self.number(a, day_before)?, self.number(b, day_before)?);
        if offset == 0 {
            for (side, value) in [(a, a1), (b, b1)] {
                if side.record {
                    self.record(&yesterday(side), value);
                }
            }
        }
        Ok(Value::Bool(if above {
            a0 > b0 && a1 <= b1
        } else {
            a0 < b0 && a1 >= b1
        }))
    }

    fn lookback(&mut self, base: &Node, arg: &Arg, offset: usize) -> Step<Value> {
        let days = self.bindings.lookback(arg)?;
        if let (ArgValue::Param(name), 0) = (&arg.value, offset) {
            self.record(&format!("${name}"), days as f64);
        }
        self.eval(base, offset.saturating_add(days))
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        a: &Node,
        b: &Node,
        text: &str,
        offset: usize,
    ) -> Step<Value> {
        // Both sides are always evaluated, so a rule is ready only when all its parts are.
        if matches!(op, BinaryOp::And | BinaryOp::Or) {
            let x = self.boolean(a, offset);
            let y = self.boolean(b, offset);
            return logical(op, x, y);
        }
        let x = self.number(a, offset);
        let y = self.number(b, offset);
        arithmetic(op, x, y, text)
    }

    fn columns(&self, instrument: Option<&Symbol>) -> Step<(Symbol, Columns<'c>)> {
        let wanted = instrument.unwrap_or(self.ctx.symbol());
        self.ctx
            .columns(instrument)
            .map(|(s, c)| (s.clone(), c))
            .ok_or_else(|| format!("no candles of {wanted} were given"))
    }

    /// The resolved arguments of an indicator and its cache key.
    fn key(&self, indicator: &Indicator, symbol: &Symbol) -> Step<(Vec<f64>, String)> {
        let spec = indicator.spec;
        let mut args = Vec::new();
        for (arg, (name, kind)) in indicator.args.iter().zip(spec.args) {
            let value = self.bindings.arg(arg);
            if *kind == ArgKind::Period {
                self.bindings
                    .period(arg)
                    .map_err(|e| format!("the `{name}` of `{}`: {e}", spec.name))?;
            }
            args.push(value);
        }
        let key = cache_key(spec, indicator.field, symbol, &args);
        Ok((args, key))
    }

    fn indicator(&mut self, indicator: &Indicator, text: &str, offset: usize) -> Step<f64> {
        let (symbol, columns) = self.columns(indicator.instrument.as_ref())?;
        let (args, key) = self.key(indicator, &symbol)?;
        if offset == 0 {
            for (arg, value) in indicator.args.iter().zip(&args) {
                if let ArgValue::Param(name) = &arg.value {
                    self.record(&format!("${name}"), *value);
                }
            }
        }
        let spec = indicator.spec;
        let inputs = indicator_inputs(indicator, columns);
        let days = inputs.series.len();
        let needed = spec.warm_up(&args).saturating_add(offset).saturating_add(1);
        let not_ready = |what: &str| {
            format!(
                "{} {what}: needs {needed} days of {symbol} history, {days} available",
                described(text, offset)
            )
        };
        let Some(i) = days.checked_sub(offset.saturating_add(1)) else {
            return Err(not_ready("lacks history"));
        };
        let outputs = self
            .cache
            .get_or_compute(key, inputs.series, || spec.compute(&inputs, &args))
            .map_err(|e| format!("`{text}` cannot be computed: {e}"))?;
        // NaN is "not ready" in the cache's outputs.
        outputs
            .get(indicator.output)
            .and_then(|o| o.get(i).copied())
            .filter(|v| !v.is_nan())
            .ok_or_else(|| not_ready("is warming up"))
    }

    fn position(&mut self, value: PositionValue) -> Step<f64> {
        let position = self
            .ctx
            .position()
            .ok_or_else(|| format!("`{}` needs an open position", value.as_str()))?;
        let v = match value {
            PositionValue::EntryPrice => position.entry_price,
            PositionValue::DaysHeld => f64::from(position.days_held),
            PositionValue::HighestCloseSinceEntry => position.highest_close_since_entry,
            PositionValue::ReturnSinceEntry => {
                let (symbol, columns) = self.columns(None)?;
                let close = columns
                    .field(SeriesField::Close)
                    .last()
                    .copied()
                    .ok_or_else(|| format!("no close of {symbol} for `return_since_entry`"))?;
                close / position.entry_price - 1.0
            }
        };
        if v.is_finite() {
            Ok(v)
        } else {
            Err(format!("`{}` is not a finite number", value.as_str()))
        }
    }

    fn precompute(&mut self, node: &Node) {
        match &node.kind {
            NodeKind::Indicator(indicator) => {
                let _ = self.indicator(indicator, &node.text, 0);
            }
            NodeKind::Const(_)
            | NodeKind::Param(_)
            | NodeKind::Series(..)
            | NodeKind::Position(_) => {}
            NodeKind::Neg(x) | NodeKind::Not(x) | NodeKind::Lookback(x, _) => self.precompute(x),
            NodeKind::Binary(_, a, b) | NodeKind::Cross { a, b, .. } => {
                self.precompute(a);
                self.precompute(b);
            }
        }
    }
}

/// `x and y` or `x or y`, ready only when both sides are.
fn logical(op: BinaryOp, x: Step<bool>, y: Step<bool>) -> Step<Value> {
    let (x, y) = (x?, y?);
    Ok(Value::Bool(if op == BinaryOp::And {
        x && y
    } else {
        x || y
    }))
}

/// An arithmetic operation or a comparison of two numbers.
fn arithmetic(op: BinaryOp, x: Step<f64>, y: Step<f64>, text: &str) -> Step<Value> {
    let (x, y) = (x?, y?);
    let value = match op {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div => x / y,
        BinaryOp::Lt => return Ok(Value::Bool(x < y)),
        BinaryOp::Le => return Ok(Value::Bool(x <= y)),
        BinaryOp::Gt => return Ok(Value::Bool(x > y)),
        BinaryOp::Ge => return Ok(Value::Bool(x >= y)),
        BinaryOp::Eq => return Ok(Value::Bool(x == y)),
        BinaryOp::Ne => return Ok(Value::Bool(x != y)),
        // Logical operators are handled by `logical`; never a number.
        BinaryOp::And | BinaryOp::Or => f64::NAN,
    };
    if value.is_finite() {
        Ok(Value::Num(value))
    } else {
        Err(format!(
            "`{text}` is not a finite number (division by zero?)"
        ))
    }
}

/// What an indicator reads from `columns`: its series (`atr` reads the close) and high and low.
pub(super) fn indicator_inputs<'c>(indicator: &Indicator, columns: Columns<'c>) -> Inputs<'c> {
    Inputs {
        series: if indicator.spec.func == Func::Atr {
            columns.close
        } else {
            columns.field(indicator.field)
        },
        high: columns.high,
        low: columns.low,
    }
}

/// The [`IndicatorCache`] key of an indicator call with its arguments resolved, e.g.
/// `sma(BTC.close, 20)` or `atr(BTC, 14)`.
pub(super) fn cache_key(
    spec: &FuncSpec,
    field: SeriesField,
    symbol: &Symbol,
    args: &[f64],
) -> String {
    use std::fmt::Write as _;
    let mut key = match spec.func {
        Func::Atr => format!("{}({symbol}", spec.name),
        _ => format!("{}({symbol}.{}", spec.name, field.as_str()),
    };
    for &value in args {
        // Whole numbers (periods, most arguments) as integers: the same text as f64's Display,
        // without its float formatting, which a sweep would pay on every lookup.
        if value.fract() == 0.0 && value.abs() < 1e15 && value != 0.0 {
            let _ = write!(key, ", {}", value as i64);
        } else {
            let _ = write!(key, ", {value}");
        }
    }
    key.push(')');
    key
}

/// `` `close` `` or `` `close` 3 days back ``, for not-ready reasons.
fn described(text: &str, offset: usize) -> String {
    match offset {
        0 => format!("`{text}`"),
        1 => format!("`{text}` 1 day back"),
        n => format!("`{text}` {n} days back"),
    }
}

/// The text of `node` one day back, e.g. `sma(close, 10)[1]` or `(close - open)[1]`.
fn yesterday(node: &Node) -> String {
    match node.kind {
        NodeKind::Binary(..) | NodeKind::Neg(_) => format!("({})[1]", node.text),
        _ => format!("{}[1]", node.text),
    }
}

/// How many candles every instrument needs before `node` can have a value `offset` days back.
/// `used` plus the series `node` reads.
pub(crate) fn series_used(node: &Node, used: SeriesSet) -> SeriesSet {
    match &node.kind {
        NodeKind::Const(_) | NodeKind::Param(_) => used,
        NodeKind::Series(_, field) => used.with(*field),
        NodeKind::Position(_) => used.with(SeriesField::Close),
        NodeKind::Indicator(indicator) => match indicator.spec.input {
            Input::Series => used.with(indicator.field),
            Input::Instrument => used
                .with(SeriesField::High)
                .with(SeriesField::Low)
                .with(SeriesField::Close),
        },
        NodeKind::Neg(x) | NodeKind::Not(x) | NodeKind::Lookback(x, _) => series_used(x, used),
        NodeKind::Binary(_, a, b) | NodeKind::Cross { a, b, .. } => {
            series_used(b, series_used(a, used))
        }
    }
}

///
/// Saturating throughout: unchecked overrides (a sweep value of 1e300) may reach here, and a
/// saturated count only means "more history than there is", never an overflow.
pub(crate) fn history_needed(node: &Node, bindings: &Bindings<'_>, offset: usize) -> usize {
    let today = offset.saturating_add(1);
    match &node.kind {
        NodeKind::Const(_) | NodeKind::Param(_) => 0,
        NodeKind::Series(..) => today,
        NodeKind::Position(PositionValue::ReturnSinceEntry) => 1,
        NodeKind::Position(_) => 0,
        NodeKind::Indicator(indicator) => {
            let args: Vec<f64> = indicator.args.iter().map(|a| bindings.arg(a)).collect();
            indicator.spec.warm_up(&args).saturating_add(today)
        }
        NodeKind::Neg(x) | NodeKind::Not(x) => history_needed(x, bindings, offset),
        NodeKind::Binary(_, a, b) => {
            history_needed(a, bindings, offset).max(history_needed(b, bindings, offset))
        }
        NodeKind::Cross { a, b, .. } => {
            history_needed(a, bindings, today).max(history_needed(b, bindings, today))
        }
        NodeKind::Lookback(base, arg) => {
            // An out-of-range lookback never evaluates (not ready), so it needs no history.
            let days = bindings.lookback(arg).unwrap_or(0);
            history_needed(base, bindings, offset.saturating_add(days))
        }
    }
}
