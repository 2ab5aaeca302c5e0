//! The evaluator over a whole history at once: the outcome of a rule on every day, for the
//! simulator's sweeps. It gives, day by day, exactly what [`super::eval`] gives on that day (a
//! property test holds the two together); it only handles rules that read the decision
//! instrument alone and no open position, and says so by returning `None` for the others.

use std::sync::Arc;

use super::Outcome;
use super::ast::BinaryOp;
use super::cache::IndicatorCache;
use super::context::EvalContext;
use super::functions::{ArgKind, Func, Input, SeriesField};
use super::node::{Arg, Bindings, Indicator, Node, NodeKind};

/// A number on every day, as plain `f64` so that the loops over days vectorize; shared, so an
/// indicator's series is read from the cache without a copy.
///
/// NaN is a day without a value (not ready): an indicator's values and arithmetic results are
/// finite wherever they are present, so there a NaN is never a value. Prices and parameters
/// are taken as they are, NaN included (day by day, a NaN close is a number that compares
/// false); the rare series or parameter holding a NaN says from which day on its values are
/// present instead.
#[derive(Debug, Clone)]
struct Numbers {
    values: Arc<Vec<f64>>,
    /// `None`: NaN means "not ready". `Some(day)`: every value from `day` on is present, NaN
    /// included, and every value before it is NaN and not ready.
    present_from: Option<usize>,
}

impl Numbers {
    /// `values` with NaN meaning "not ready".
    fn nan_encoded(values: Arc<Vec<f64>>) -> Self {
        Self {
            values,
            present_from: None,
        }
    }

    /// `values`, NaN before `from` and every value from `from` on present: NaN-encoded when no
    /// present value is NaN (the usual case).
    fn present(values: Vec<f64>, from: usize) -> Self {
        let from = from.min(values.len());
        let any_nan = values[from..].iter().fold(false, |nan, v| nan | v.is_nan());
        Self {
            values: Arc::new(values),
            present_from: any_nan.then_some(from),
        }
    }

    /// The value on `day`, if it has one.
    #[inline]
    fn at(&self, day: usize) -> Option<f64> {
        let v = *self.values.get(day)?;
        match self.present_from {
            None => (!v.is_nan()).then_some(v),
            Some(from) => (day >= from).then_some(v),
        }
    }

    /// The values when NaN means "not ready" in all of them, what the loops over plain numbers
    /// read; `None` for a series holding a NaN value.
    fn plain(&self) -> Option<&[f64]> {
        self.present_from
            .is_none()
            .then_some(self.values.as_slice())
    }

    /// The same numbers `by` days later: day i gets day i − by's value, the first `by` days
    /// none.
    fn shifted(&self, by: usize) -> Self {
        let n = self.values.len();
        let by = by.min(n);
        let mut values = vec![f64::NAN; by];
        values.extend_from_slice(&self.values[..n - by]);
        Self {
            values: Arc::new(values),
            present_from: self.present_from.map(|from| (from + by).min(n)),
        }
    }
}

/// The outcome of `root` on every day of `ctx`'s columns, or `None` when the rule reads another
/// instrument or a position (decide those day by day).
pub(crate) fn outcomes(
    root: &Node,
    ctx: &EvalContext<'_>,
    bindings: Bindings<'_>,
    cache: &mut IndicatorCache,
) -> Option<Vec<Outcome>> {
    Some(signal(root, ctx, bindings, cache)?.outcomes())
}

/// `root` ready to be decided on any day of `ctx`'s columns (see [`Signal`]), or `None` when
/// the rule reads another instrument or a position.
pub(crate) fn signal(
    root: &Node,
    ctx: &EvalContext<'_>,
    bindings: Bindings<'_>,
    cache: &mut IndicatorCache,
) -> Option<Signal> {
    if !supported(root) {
        return None;
    }
    let days = ctx.columns(None)?.1.close.len();
    let mut evaluator = SeriesEvaluator {
        ctx,
        bindings,
        cache,
        days,
    };
    let condition = evaluator.condition(root);
    Some(Signal { condition, days })
}

/// A rule over a whole history, decided on whichever day is asked: its numbers (indicators,
/// prices, arithmetic) computed over every day, its conditions evaluated only on the days asked
/// for. A sweep's screening pass asks for the entry on the days it holds nothing and for the
/// exit on the days it holds a position, so each day costs one evaluation, and nothing is
/// allocated per day.
#[derive(Debug, Clone)]
pub struct Signal {
    condition: Condition,
    days: usize,
}

impl Signal {
    /// The outcome on day `day` (an index into the history's days), as [`super::Rule::outcomes`]
    /// gives it; not ready past the history.
    #[inline]
    pub fn outcome(&self, day: usize) -> Outcome {
        if day >= self.days {
            return Outcome::NotReady;
        }
        match self.condition.at(day) {
            Some(true) => Outcome::Passed,
            Some(false) => Outcome::Failed,
            None => Outcome::NotReady,
        }
    }

    /// Whether it passes on `day`.
    #[inline]
    pub fn passes(&self, day: usize) -> bool {
        day < self.days && self.condition.at(day) == Some(true)
    }

    /// The first day in `from..to` on which it passes, if any: what a sweep's walk asks while
    /// it waits for an entry or an exit. A crossing or a comparison (most rules' top) is
    /// scanned in one loop over its two series; anything else day by day.
    pub fn next_pass(&self, from: usize, to: usize) -> Option<usize> {
        let to = to.min(self.days);
        if from >= to {
            return None;
        }
        if let Some(PlainCross {
            above,
            x,
            y,
            lag_x,
            lag_y,
        }) = self.condition.plain_cross()
        {
            // A missing value is NaN, and NaN compares false: a day with a missing value never
            // crosses, so every day is tested alike, with no "ready" to look for first.
            let start = from.max(lag_x).max(lag_y);
            let to = to.min(x.len()).min(y.len());
            if start >= to {
                return None;
            }
            return cross_in_plain(above, (x, y), (lag_x, lag_y), start, to);
        }
        self.scan(from, to)
    }

    /// The first day in `from..to` on which it passes, asked day by day.
    fn scan(&self, from: usize, to: usize) -> Option<usize> {
        (from..to).find(|&day| self.condition.at(day) == Some(true))
    }

    /// The outcome on every day at once (what a single long backtest reads day after day): a
    /// crossing or a comparison at the top in one loop over its two series, anything else day
    /// by day.
    pub fn outcomes(&self) -> Vec<Outcome> {
        let of = |c: Option<bool>| match c {
            Some(true) => Outcome::Passed,
            Some(false) => Outcome::Failed,
            None => Outcome::NotReady,
        };
        let days = self.days;
        if let Some(PlainCross {
            above,
            x,
            y,
            lag_x,
            lag_y,
        }) = self.condition.plain_cross()
            && x.len() >= days
            && y.len() >= days
            && lag_x.max(lag_y) <= days
        {
            // Lags longer than the history leave nothing to compare: the day-by-day path
            // says "not ready" for every day without slicing before the start.
            let skip = lag_x.max(lag_y);
            let mut out = Vec::with_capacity(days);
            out.resize(skip, Outcome::NotReady);
            let n = days - skip;
            let today = (&x[skip..days], &y[skip..days]);
            let yesterday = (&x[skip - lag_x..][..n], &y[skip - lag_y..][..n]);
            if above {
                cross_outcomes::<true>(today, yesterday, &mut out);
            } else {
                cross_outcomes::<false>(today, yesterday, &mut out);
            }
            return out;
        }
        (0..days).map(|day| of(self.condition.at(day))).collect()
    }

    /// How many days it covers.
    pub fn days(&self) -> usize {
        self.days
    }
}

/// Whether `x` crossed `y` between yesterday and today: above (today above, yesterday at or
/// below) or below. Branch-free (`&`), so the dense scan's chunks vectorize.
#[inline]
fn crossed(above: bool, (x0, y0): (f64, f64), (x1, y1): (f64, f64)) -> bool {
    if above {
        (x0 > y0) & (x1 <= y1)
    } else {
        (x0 < y0) & (x1 >= y1)
    }
}

/// Appends the outcome of a crossing (`ABOVE` or below) on each day of `today` (the two sides'
/// values), `yesterday` holding the values it is compared with (all four of the same length).
///
/// Branch-free, over days by index, with the direction fixed at compile time: a backtest asks
/// this of every instrument's entry and exit, so it is worth the compiler's best loop. The
/// values are NaN-encoded (see [`Numbers`]): the crossing is tested on every day and
/// discarded where a value is missing, the same outcome as testing only where all four are
/// present.
fn cross_outcomes<const ABOVE: bool>(
    (x0, y0): (&[f64], &[f64]),
    (x1, y1): (&[f64], &[f64]),
    out: &mut Vec<Outcome>,
) {
    // Zipped slices, not indices: no bounds check is left in the loop.
    let days = x0.iter().zip(y0).zip(x1.iter().zip(y1));
    out.extend(days.map(|((&a0, &b0), (&a1, &b1))| {
        let missing = a0.is_nan() | b0.is_nan() | a1.is_nan() | b1.is_nan();
        // A crossing has no NaN in it: `Passed` needs no "ready" test.
        if crossed(ABOVE, (a0, b0), (a1, b1)) {
            Outcome::Passed
        } else if missing {
            Outcome::NotReady
        } else {
            Outcome::Failed
        }
    }));
}

/// The first day in `start..to` on which `x` crosses `y` (above or below), both NaN-encoded
/// (see [`Numbers`]; `start` at least both lags). Chunks of days are tested without a branch
/// or a bounds check, so the compiler tests several at once; only a chunk with a crossing is
/// looked into.
fn cross_in_plain(
    above: bool,
    (x, y): (&[f64], &[f64]),
    (lag_x, lag_y): (usize, usize),
    start: usize,
    to: usize,
) -> Option<usize> {
    const CHUNK: usize = 16;
    let (x0, y0) = (&x[start..to], &y[start..to]);
    let (x1, y1) = (&x[start - lag_x..to - lag_x], &y[start - lag_y..to - lag_y]);
    let first_in = |from: usize, len: usize| {
        (from..from + len).find(|&k| crossed(above, (x0[k], y0[k]), (x1[k], y1[k])))
    };
    let chunks = x0
        .chunks_exact(CHUNK)
        .zip(y0.chunks_exact(CHUNK))
        .zip(x1.chunks_exact(CHUNK).zip(y1.chunks_exact(CHUNK)));
    let mut done = 0;
    for ((a0, b0), (a1, b1)) in chunks {
        let (a0, b0): (&[f64; CHUNK], &[f64; CHUNK]) = (a0.try_into().ok()?, b0.try_into().ok()?);
        let (a1, b1): (&[f64; CHUNK], &[f64; CHUNK]) = (a1.try_into().ok()?, b1.try_into().ok()?);
        let mut any = false;
        for k in 0..CHUNK {
            any |= crossed(above, (a0[k], b0[k]), (a1[k], b1[k]));
        }
        if any {
            return first_in(done, CHUNK).map(|k| start + k);
        }
        done += CHUNK;
    }
    first_in(done, x0.len() - done).map(|k| start + k)
}

/// A condition over number series, evaluated day by day; `None` where not ready.
#[derive(Debug, Clone)]
enum Condition {
    /// Not ready on any day (a malformed part the checker refuses).
    Never,
    Compare(BinaryOp, Numbers, Numbers),
    /// `above` or below, with how many days back each side's yesterday is (0 for a constant).
    Cross {
        above: bool,
        x: Numbers,
        y: Numbers,
        lag_x: usize,
        lag_y: usize,
    },
    Not(Box<Condition>),
    Logical {
        and: bool,
        x: Box<Condition>,
        y: Box<Condition>,
    },
    /// The condition `days` days earlier (none before its first day).
    Earlier(Box<Condition>, usize),
}

/// A crossing at a rule's top whose two sides are plain numbers (NaN = not ready): what the
/// loops over whole series read.
struct PlainCross<'a> {
    above: bool,
    x: &'a [f64],
    y: &'a [f64],
    lag_x: usize,
    lag_y: usize,
}

impl Condition {
    /// This condition as a [`PlainCross`], when it is a crossing of two plain series.
    fn plain_cross(&self) -> Option<PlainCross<'_>> {
        let Self::Cross {
            above,
            x,
            y,
            lag_x,
            lag_y,
        } = self
        else {
            return None;
        };
        Some(PlainCross {
            above: *above,
            x: x.plain()?,
            y: y.plain()?,
            lag_x: *lag_x,
            lag_y: *lag_y,
        })
    }

    fn at(&self, i: usize) -> Option<bool> {
        match self {
            Self::Never => None,
            Self::Compare(op, x, y) => {
                let (x, y) = (x.at(i)?, y.at(i)?);
                Some(match op {
                    BinaryOp::Lt => x < y,
                    BinaryOp::Le => x <= y,
                    BinaryOp::Gt => x > y,
                    BinaryOp::Ge => x >= y,
                    BinaryOp::Eq => x == y,
                    _ => x != y,
                })
            }
            Self::Cross {
                above,
                x,
                y,
                lag_x,
                lag_y,
            } => {
                let a1 = x.at(i.checked_sub(*lag_x)?)?;
                let b1 = y.at(i.checked_sub(*lag_y)?)?;
                let (a0, b0) = (x.at(i)?, y.at(i)?);
                Some(crossed(*above, (a0, b0), (a1, b1)))
            }
            Self::Not(x) => x.at(i).map(|c| !c),
            Self::Logical { and, x, y } => {
                // Both sides must be ready, as day by day (no short-circuit).
                let (x, y) = (x.at(i), y.at(i));
                let (x, y) = (x?, y?);
                Some(if *and { x && y } else { x || y })
            }
            Self::Earlier(x, days) => x.at(i.checked_sub(*days)?),
        }
    }
}

/// One indicator a rule reads, with its value on every day: what a chart draws next to the
/// candles the rule decides on.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorSeries {
    /// The call with parameters replaced by their values, e.g. `sma(close, 50)` or
    /// `bollinger(close, 20, 2).upper`.
    pub label: String,
    /// Whether the values are prices of the instrument (moving averages, highest/lowest,
    /// bands), so they belong on its price scale; oscillators, volumes and ranges do not.
    pub price_units: bool,
    /// The value on every day of the context; `None` before the indicator is ready.
    pub values: Vec<Option<f64>>,
}

/// Every indicator of the decision instrument that `root` reads, each once in the order
/// written, over the whole of `ctx` (the values the day-by-day evaluator reads on each day).
pub(crate) fn indicator_series(
    root: &Node,
    ctx: &EvalContext<'_>,
    bindings: Bindings<'_>,
    cache: &mut IndicatorCache,
) -> Vec<IndicatorSeries> {
    let mut found: Vec<&Indicator> = Vec::new();
    collect_indicators(root, &mut found);
    let Some((_, columns)) = ctx.columns(None) else {
        return Vec::new();
    };
    let days = columns.close.len();
    let mut evaluator = SeriesEvaluator {
        ctx,
        bindings,
        cache,
        days,
    };
    let mut series: Vec<IndicatorSeries> = Vec::new();
    for indicator in found {
        let label = label(indicator, bindings);
        if series.iter().any(|s| s.label == label) {
            continue;
        }
        let spec = indicator.spec;
        let price_units = indicator.field != SeriesField::Volume
            && matches!(
                spec.func,
                Func::Sma | Func::Ema | Func::Wma | Func::Highest | Func::Lowest | Func::Bollinger
            );
        series.push(IndicatorSeries {
            label,
            price_units,
            values: {
                let numbers = evaluator.indicator(indicator);
                (0..numbers.values.len()).map(|i| numbers.at(i)).collect()
            },
        });
    }
    series
}

/// The indicators of the decision instrument in `node`, in the order written.
fn collect_indicators<'n>(node: &'n Node, found: &mut Vec<&'n Indicator>) {
    match &node.kind {
        NodeKind::Indicator(indicator) if indicator.instrument.is_none() => found.push(indicator),
        NodeKind::Neg(x) | NodeKind::Not(x) | NodeKind::Lookback(x, _) => {
            collect_indicators(x, found);
        }
        NodeKind::Binary(_, a, b) | NodeKind::Cross { a, b, .. } => {
            collect_indicators(a, found);
            collect_indicators(b, found);
        }
        _ => {}
    }
}

/// `indicator` written out with its arguments' values: `sma(close, 50)`, `atr(14)`.
fn label(indicator: &Indicator, bindings: Bindings<'_>) -> String {
    let spec = indicator.spec;
    let mut parts: Vec<String> = Vec::new();
    if spec.input == Input::Series {
        parts.push(indicator.field.as_str().to_owned());
    }
    parts.extend(indicator.args.iter().map(|a| bindings.arg(a).to_string()));
    let mut text = format!("{}({})", spec.name, parts.join(", "));
    if let Some(output) = spec.outputs.get(indicator.output) {
        text.push('.');
        text.push_str(output);
    }
    text
}

/// Whether every part of `node` reads only the decision instrument's own series.
fn supported(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Const(_) | NodeKind::Param(_) => true,
        NodeKind::Series(instrument, _) => instrument.is_none(),
        NodeKind::Indicator(indicator) => indicator.instrument.is_none(),
        NodeKind::Position(_) => false,
        NodeKind::Neg(x) | NodeKind::Not(x) | NodeKind::Lookback(x, _) => supported(x),
        NodeKind::Binary(_, a, b) | NodeKind::Cross { a, b, .. } => supported(a) && supported(b),
    }
}

struct SeriesEvaluator<'r, 'c> {
    ctx: &'r EvalContext<'c>,
    bindings: Bindings<'r>,
    cache: &'r mut IndicatorCache,
    days: usize,
}

impl SeriesEvaluator<'_, '_> {
    /// Numbers without a value on any day.
    fn none(&self) -> Numbers {
        Numbers::nan_encoded(Arc::new(vec![f64::NAN; self.days]))
    }

    // `numbers` and `conditions` are dispatchers: every level of the rule stacks one of them and
    // one helper, so the work and its temporaries live in the helpers.

    fn numbers(&mut self, node: &Node) -> Numbers {
        match &node.kind {
            NodeKind::Const(v) => Numbers::present(vec![*v; self.days], 0),
            NodeKind::Param(name) => Numbers::present(vec![self.bindings.get(name); self.days], 0),
            NodeKind::Series(_, field) => self.series(*field),
            NodeKind::Indicator(indicator) => self.indicator(indicator),
            NodeKind::Neg(x) => {
                let x = self.numbers(x);
                negated(&x)
            }
            NodeKind::Binary(op, a, b) if !op.is_comparison() && !is_logical(*op) => {
                let x = self.numbers(a);
                let y = self.numbers(b);
                arithmetic(*op, &x, &y)
            }
            NodeKind::Lookback(base, arg) => self.numbers_back(base, arg),
            // A condition where a number is expected, or a position value: the checker refuses
            // the first and `supported` the second.
            _ => self.none(),
        }
    }

    fn series(&self, field: SeriesField) -> Numbers {
        match self.ctx.columns(None) {
            Some((_, columns)) => Numbers::present(columns.field(field).to_vec(), 0),
            None => self.none(),
        }
    }

    fn numbers_back(&mut self, base: &Node, arg: &Arg) -> Numbers {
        match self.bindings.lookback(arg) {
            Ok(days) => {
                let values = self.numbers(base);
                earlier(base, values, days)
            }
            Err(_) => self.none(),
        }
    }

    fn condition(&mut self, node: &Node) -> Condition {
        match &node.kind {
            NodeKind::Not(x) => Condition::Not(Box::new(self.condition(x))),
            NodeKind::Binary(op, a, b) if is_logical(*op) => Condition::Logical {
                and: *op == BinaryOp::And,
                x: Box::new(self.condition(a)),
                y: Box::new(self.condition(b)),
            },
            NodeKind::Binary(op, a, b) if op.is_comparison() => {
                Condition::Compare(*op, self.numbers(a), self.numbers(b))
            }
            // Yesterday's values, read in place: a constant is its own yesterday.
            NodeKind::Cross { above, a, b } => Condition::Cross {
                above: *above,
                x: self.numbers(a),
                y: self.numbers(b),
                lag_x: lag(a, 1),
                lag_y: lag(b, 1),
            },
            NodeKind::Lookback(base, arg) => match self.bindings.lookback(arg) {
                // A constant condition has its value at every offset.
                Ok(_) if is_constant(base) => self.condition(base),
                Ok(days) => Condition::Earlier(Box::new(self.condition(base)), days),
                Err(_) => Condition::Never,
            },
            _ => Condition::Never,
        }
    }

    /// The indicator on every day, through the same cache key as the day-by-day evaluator.
    fn indicator(&mut self, indicator: &Indicator) -> Numbers {
        let Some((symbol, columns)) = self.ctx.columns(None) else {
            return self.none();
        };
        let spec = indicator.spec;
        let mut args = Vec::new();
        for (arg, (_, kind)) in indicator.args.iter().zip(spec.args) {
            if *kind == ArgKind::Period && self.bindings.period(arg).is_err() {
                return self.none();
            }
            args.push(self.bindings.arg(arg));
        }
        let inputs = super::eval::indicator_inputs(indicator, columns);
        let key = super::eval::cache_key(spec, indicator.field, symbol, &args);
        match self
            .cache
            .get_or_compute(key, inputs.series, || spec.compute(&inputs, &args))
        {
            // The cache may hold a longer history than this evaluation's; cut it to length.
            Ok(outputs) => match outputs.get(indicator.output) {
                Some(values) if values.len() == self.days => {
                    Numbers::nan_encoded(Arc::clone(values))
                }
                Some(values) => {
                    Numbers::nan_encoded(Arc::new(values[..self.days.min(values.len())].to_vec()))
                }
                None => self.none(),
            },
            Err(_) => self.none(),
        }
    }
}

/// `node`'s `values` `days` days earlier. A constant (literals and parameters only) has its
/// value at every offset, as day by day; anything reading the market has none before its
/// first day.
fn earlier(node: &Node, values: Numbers, days: usize) -> Numbers {
    if is_constant(node) {
        values
    } else {
        values.shifted(days)
    }
}

/// How many days back `node`'s value `days` days ago sits in its series: none for a constant.
fn lag(node: &Node, days: usize) -> usize {
    if is_constant(node) { 0 } else { days }
}

/// Whether `node` reads no market data (its value is the same on every day).
fn is_constant(node: &Node) -> bool {
    match &node.kind {
        NodeKind::Const(_) | NodeKind::Param(_) => true,
        NodeKind::Series(..) | NodeKind::Indicator(_) | NodeKind::Position(_) => false,
        NodeKind::Neg(x) | NodeKind::Not(x) | NodeKind::Lookback(x, _) => is_constant(x),
        NodeKind::Binary(_, a, b) | NodeKind::Cross { a, b, .. } => {
            is_constant(a) && is_constant(b)
        }
    }
}

/// `-x`, present where `x` is (NaN stays NaN).
fn negated(x: &Numbers) -> Numbers {
    Numbers {
        values: Arc::new(x.values.iter().map(|v| -v).collect()),
        present_from: x.present_from,
    }
}

/// `x op y` on every day: not ready where either side is (a NaN operand gives NaN, and so
/// does a value missing before a price's `present_from`) or where the result is not finite.
fn arithmetic(op: BinaryOp, x: &Numbers, y: &Numbers) -> Numbers {
    let values = x
        .values
        .iter()
        .zip(y.values.iter())
        .map(|(&x, &y)| {
            let v = match op {
                BinaryOp::Add => x + y,
                BinaryOp::Sub => x - y,
                BinaryOp::Mul => x * y,
                _ => x / y,
            };
            if v.is_finite() { v } else { f64::NAN }
        })
        .collect();
    Numbers::nan_encoded(Arc::new(values))
}

fn is_logical(op: BinaryOp) -> bool {
    matches!(op, BinaryOp::And | BinaryOp::Or)
}
