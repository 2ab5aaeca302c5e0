//! The evaluator over a whole history at once: the outcome of a rule on every day, for the
//! simulator's sweeps. It gives, day by day, exactly what [`super::eval`] gives on that day (a
//! property test holds the two together); it only handles rules that read the decision
//! instrument alone and no open position, and says so by returning `None` for the others.

use std::sync::Arc;

use super::Outcome;
use super::ast::BinaryOp;
use super::cache::{Dense, DenseCell, IndicatorCache};
use super::context::EvalContext;
use super::functions::{ArgKind, Func, Input, SeriesField};
use super::node::{Arg, Bindings, Indicator, Node, NodeKind};

/// A number on every day; `None` where it has no value (not ready). Shared, so an indicator's
/// series is read from the cache without a copy.
type Numbers = Arc<Vec<Option<f64>>>;

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
        match &self.condition {
            Condition::Cross {
                above,
                x,
                y,
                lag_x,
                lag_y,
                dense,
            } => {
                let lags = (*lag_x, *lag_y);
                let options = |from, to| cross_in_options(*above, (x, y), lags, from, to);
                let Some((dx, dy)) = dense else {
                    return options(from, to);
                };
                let (dx, dy) = (dx.get(), dy.get());
                // Days before both sides are present on today and yesterday: the general loop.
                let ready = (dx.ready + lag_x)
                    .max(dy.ready + lag_y)
                    .max(*lag_x)
                    .max(*lag_y);
                if from < ready.min(to)
                    && let Some(day) = options(from, ready.min(to))
                {
                    return Some(day);
                }
                let start = from.max(ready);
                if start >= to {
                    return None;
                }
                cross_in_dense(*above, (dx, dy), lags, start, to)
            }
            Condition::Compare(..)
            | Condition::Not(_)
            | Condition::Logical { .. }
            | Condition::Earlier(..)
            | Condition::Never => self.scan(from, to),
        }
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
        match &self.condition {
            Condition::Cross {
                above,
                x,
                y,
                lag_x,
                lag_y,
                ..
            } if x.len() >= days && y.len() >= days && (*lag_x).max(*lag_y) <= days => {
                // Lags longer than the history leave nothing to compare: the day-by-day path
                // says "not ready" for every day without slicing before the start.
                let skip = (*lag_x).max(*lag_y);
                let mut out = Vec::with_capacity(days);
                out.resize(skip, Outcome::NotReady);
                let n = days - skip;
                let today = (&x[skip..days], &y[skip..days]);
                let yesterday = (&x[skip - lag_x..][..n], &y[skip - lag_y..][..n]);
                if *above {
                    cross_outcomes::<true>(today, yesterday, &mut out);
                } else {
                    cross_outcomes::<false>(today, yesterday, &mut out);
                }
                out
            }
            _ => (0..days).map(|day| of(self.condition.at(day))).collect(),
        }
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
/// crossing is tested on every day (a missing value as NaN) and discarded where a value is
/// missing: the same outcome as testing only where all four are present.
fn cross_outcomes<const ABOVE: bool>(
    (x0, y0): (&[Option<f64>], &[Option<f64>]),
    (x1, y1): (&[Option<f64>], &[Option<f64>]),
    out: &mut Vec<Outcome>,
) {
    const OUTCOMES: [Outcome; 4] = [
        Outcome::NotReady,
        Outcome::NotReady,
        Outcome::Failed,
        Outcome::Passed,
    ];
    let n = x0.len();
    // Cut to one length, so the compiler drops the bounds checks.
    let (y0, x1, y1) = (&y0[..n], &x1[..n], &y1[..n]);
    let value = |v: Option<f64>| v.unwrap_or(f64::NAN);
    out.extend((0..n).map(|k| {
        let ready = x0[k].is_some() & y0[k].is_some() & x1[k].is_some() & y1[k].is_some();
        let crossed = crossed(
            ABOVE,
            (value(x0[k]), value(y0[k])),
            (value(x1[k]), value(y1[k])),
        );
        OUTCOMES[usize::from(ready) * 2 + usize::from(crossed)]
    }));
}

/// The first day in `start..to` on which `x` crosses `y` (above or below), with `Option`s: the
/// general loop, for series with missing values.
fn cross_in_options(
    above: bool,
    (x, y): (&[Option<f64>], &[Option<f64>]),
    (lag_x, lag_y): (usize, usize),
    from: usize,
    to: usize,
) -> Option<usize> {
    let start = from.max(lag_x).max(lag_y);
    if start >= to || x.len() < to || y.len() < to {
        return None;
    }
    let (x, y) = (&x[..to], &y[..to]);
    let today = x[start..].iter().zip(&y[start..]);
    let yesterday = x[start - lag_x..].iter().zip(&y[start - lag_y..]);
    let crossed = |((a0, b0), (a1, b1)): (Pair<'_>, Pair<'_>)| match (*a0, *b0, *a1, *b1) {
        (Some(a0), Some(b0), Some(a1), Some(b1)) => crossed(above, (a0, b0), (a1, b1)),
        _ => false,
    };
    today.zip(yesterday).position(crossed).map(|k| start + k)
}

/// The first day in `start..to` on which `x` crosses `y` (above or below), every value on those
/// days and the days before them (`lags`) present. Chunks of days are tested without a branch
/// or a bounds check, so the compiler tests several at once; only a chunk with a crossing is
/// looked into.
fn cross_in_dense(
    above: bool,
    (x, y): (&Dense, &Dense),
    (lag_x, lag_y): (usize, usize),
    start: usize,
    to: usize,
) -> Option<usize> {
    const CHUNK: usize = 16;
    let (x0, y0) = (&x.values[start..to], &y.values[start..to]);
    let (x1, y1) = (
        &x.values[start - lag_x..to - lag_x],
        &y.values[start - lag_y..to - lag_y],
    );
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

/// Two sides' values on one day.
type Pair<'a> = (&'a Option<f64>, &'a Option<f64>);

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
        /// Both sides as plain numbers, when both are indicators (a sweep's scans read these).
        dense: Option<(Arc<DenseCell>, Arc<DenseCell>)>,
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

impl Condition {
    fn at(&self, i: usize) -> Option<bool> {
        match self {
            Self::Never => None,
            Self::Compare(op, x, y) => {
                let (x, y) = ((*x.get(i)?)?, (*y.get(i)?)?);
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
                ..
            } => {
                let a1 = (*x.get(i.checked_sub(*lag_x)?)?)?;
                let b1 = (*y.get(i.checked_sub(*lag_y)?)?)?;
                let (a0, b0) = ((*x.get(i)?)?, (*y.get(i)?)?);
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
            values: evaluator.indicator(indicator).as_ref().clone(),
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

/// `values` moved `by` days later: day i gets day i − by's value, the first `by` days none.
fn shifted<T: Copy>(values: &[Option<T>], by: usize) -> Vec<Option<T>> {
    let n = values.len();
    let by = by.min(n);
    let mut out = vec![None; by];
    out.extend_from_slice(&values[..n - by]);
    out
}

struct SeriesEvaluator<'r, 'c> {
    ctx: &'r EvalContext<'c>,
    bindings: Bindings<'r>,
    cache: &'r mut IndicatorCache,
    days: usize,
}

impl SeriesEvaluator<'_, '_> {
    fn none<T: Clone>(&self) -> Vec<Option<T>> {
        vec![None; self.days]
    }

    // `numbers` and `conditions` are dispatchers: every level of the rule stacks one of them and
    // one helper, so the work and its temporaries live in the helpers.

    fn numbers(&mut self, node: &Node) -> Numbers {
        match &node.kind {
            NodeKind::Const(v) => Arc::new(vec![Some(*v); self.days]),
            NodeKind::Param(name) => Arc::new(vec![Some(self.bindings.get(name)); self.days]),
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
            _ => Arc::new(self.none()),
        }
    }

    fn series(&self, field: SeriesField) -> Numbers {
        match self.ctx.columns(None) {
            Some((_, columns)) => Arc::new(columns.field(field).iter().map(|v| Some(*v)).collect()),
            None => Arc::new(self.none()),
        }
    }

    fn numbers_back(&mut self, base: &Node, arg: &Arg) -> Numbers {
        match self.bindings.lookback(arg) {
            Ok(days) => {
                let values = self.numbers(base);
                Arc::new(self.earlier(base, &values, days))
            }
            Err(_) => Arc::new(self.none()),
        }
    }

    /// `node`'s `values` `days` days earlier. A constant (literals and parameters only) has
    /// its value at every offset, as day by day; anything reading the market has none before
    /// its first day.
    fn earlier<T: Copy>(&self, node: &Node, values: &[Option<T>], days: usize) -> Vec<Option<T>> {
        if is_constant(node) {
            values.to_vec()
        } else {
            shifted(values, days)
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
            NodeKind::Cross { above, a, b } => {
                let ((x, dense_x), (y, dense_y)) = (self.side(a), self.side(b));
                Condition::Cross {
                    above: *above,
                    x,
                    y,
                    lag_x: lag(a, 1),
                    lag_y: lag(b, 1),
                    dense: dense_x.zip(dense_y),
                }
            }
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
        self.indicator_dense(indicator).0
    }

    /// [`Self::indicator`] and the same values as plain numbers (see [`Dense`]), when cached.
    fn indicator_dense(&mut self, indicator: &Indicator) -> (Numbers, Option<Arc<DenseCell>>) {
        let Some((symbol, columns)) = self.ctx.columns(None) else {
            return (Arc::new(self.none()), None);
        };
        let spec = indicator.spec;
        let mut args = Vec::new();
        for (arg, (_, kind)) in indicator.args.iter().zip(spec.args) {
            if *kind == ArgKind::Period && self.bindings.period(arg).is_err() {
                return (Arc::new(self.none()), None);
            }
            args.push(self.bindings.arg(arg));
        }
        let inputs = super::eval::indicator_inputs(indicator, columns);
        let key = super::eval::cache_key(spec, indicator.field, symbol, &args);
        let numbers = match self
            .cache
            .get_or_compute(key.clone(), inputs.series, || spec.compute(&inputs, &args))
        {
            // The cache may hold a longer history than this evaluation's; cut it to length.
            Ok(outputs) => match outputs.get(indicator.output) {
                Some(values) if values.len() == self.days => Arc::clone(values),
                Some(values) => Arc::new(values[..self.days.min(values.len())].to_vec()),
                None => Arc::new(self.none()),
            },
            Err(_) => return (Arc::new(self.none()), None),
        };
        let dense = self
            .cache
            .dense(&key, indicator.output)
            .filter(|d| d.len() >= self.days);
        (numbers, dense)
    }

    /// A crossing's side: its numbers, and its plain numbers when it is an indicator.
    fn side(&mut self, node: &Node) -> (Numbers, Option<Arc<DenseCell>>) {
        match &node.kind {
            NodeKind::Indicator(indicator) => self.indicator_dense(indicator),
            _ => (self.numbers(node), None),
        }
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

fn negated(x: &[Option<f64>]) -> Numbers {
    Arc::new(x.iter().map(|v| v.map(|v| -v)).collect())
}

fn arithmetic(op: BinaryOp, x: &[Option<f64>], y: &[Option<f64>]) -> Numbers {
    let values = x
        .iter()
        .zip(y.iter())
        .map(|(&x, &y)| {
            let v = match op {
                BinaryOp::Add => x? + y?,
                BinaryOp::Sub => x? - y?,
                BinaryOp::Mul => x? * y?,
                _ => x? / y?,
            };
            v.is_finite().then_some(v)
        })
        .collect();
    Arc::new(values)
}

fn is_logical(op: BinaryOp) -> bool {
    matches!(op, BinaryOp::And | BinaryOp::Or)
}
