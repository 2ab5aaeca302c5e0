//! Parameter sweeps: a grid of parameter values, constraints between them, and the parallel run
//! over every valid combination (rayon, one indicator store shared by every thread). Results are
//! handed to the caller one by one as they finish, so memory does not grow with the grid.

use std::fmt;
use std::str::FromStr;

use std::sync::{Mutex, PoisonError};

use rayon::prelude::*;

use crate::rule::{IndicatorCache, SharedIndicators};

use super::result::{BacktestResult, EquityPoint};
use super::screen::{ScreenStats, Unsettled};
use super::stats::Statistics;

/// One swept parameter and its values, from `name=FIRST..LAST[:STEP]` (inclusive) or
/// `name=A,B,C`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRange {
    /// The parameter (a rule's `$name` without `$`, or `stop_loss`, `take_profit`,
    /// `trailing_stop` in percent, `max_holding_days`).
    pub name: String,
    /// Its values, ascending as given.
    pub values: Vec<f64>,
}

/// At most this many values per parameter: a typo such as `1..1000000` is refused, not run.
pub const MAX_VALUES: usize = 100_000;

impl FromStr for ParamRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (name, spec) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}`: write NAME=FIRST..LAST[:STEP] or NAME=A,B,C"))?;
        let name = name.trim().trim_start_matches('$').to_owned();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{text}`: `{name}` is not a parameter name"));
        }
        let number = |s: &str| {
            s.trim()
                .trim_end_matches('%')
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("`{text}`: `{}` is not a number", s.trim()))
        };
        let values = if let Some((first, rest)) = spec.split_once("..") {
            let (last, step) = match rest.split_once(':') {
                Some((last, step)) => (number(last)?, number(step)?),
                None => (number(rest)?, 1.0),
            };
            let first = number(first)?;
            if step <= 0.0 {
                return Err(format!("`{text}`: the step must be positive"));
            }
            if last < first {
                return Err(format!("`{text}`: the range ends before it starts"));
            }
            // Counted in f64 and compared before any cast: `0..1e300` or a step of 1e-300 is
            // refused by size, never cast (saturating) to usize and overflowed by the `+ 1`.
            let steps = ((last - first) / step + 1e-9).floor();
            if !(steps.is_finite() && steps < MAX_VALUES as f64) {
                return Err(format!(
                    "`{text}`: more than {MAX_VALUES} values; use a larger step or a shorter range"
                ));
            }
            let count = steps as usize + 1;
            // Computed from the index, not accumulated, so 0.1 steps do not drift.
            (0..count).map(|i| first + step * i as f64).collect()
        } else {
            let values = spec.split(',').map(number).collect::<Result<Vec<_>, _>>()?;
            if values.len() > MAX_VALUES {
                return Err(format!("`{text}`: more than {MAX_VALUES} values"));
            }
            values
        };
        Ok(Self { name, values })
    }
}

/// A comparison two swept parameters (or one and a number) must satisfy, e.g. `fast<slow`.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    left: String,
    op: Comparison,
    right: Operand,
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comparison {
    Lt,
    Le,
    Gt,
    Ge,
    Ne,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Param(String),
    Number(f64),
}

impl FromStr for Constraint {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let ops = [
            ("<=", Comparison::Le),
            (">=", Comparison::Ge),
            ("!=", Comparison::Ne),
            ("<", Comparison::Lt),
            (">", Comparison::Gt),
        ];
        let (at, symbol, op) = ops
            .iter()
            .filter_map(|(s, op)| text.find(s).map(|at| (at, *s, *op)))
            .min_by_key(|(at, s, _)| (*at, usize::MAX - s.len()))
            .ok_or_else(|| format!("`{text}`: write e.g. fast<slow (<, <=, >, >=, !=)"))?;
        let left = text[..at].trim().trim_start_matches('$').to_owned();
        let right = text[at + symbol.len()..].trim().trim_start_matches('$');
        if left.is_empty() || right.is_empty() {
            return Err(format!("`{text}`: both sides are needed, e.g. fast<slow"));
        }
        let right = match right.parse::<f64>() {
            Ok(v) => Operand::Number(v),
            Err(_) => Operand::Param(right.to_owned()),
        };
        Ok(Self {
            left,
            op,
            right,
            text: text.trim().to_owned(),
        })
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Constraint {
    /// The parameters it names.
    fn names(&self) -> impl Iterator<Item = &str> {
        let right = match &self.right {
            Operand::Param(name) => Some(name.as_str()),
            Operand::Number(_) => None,
        };
        std::iter::once(self.left.as_str()).chain(right)
    }

    fn holds(&self, value: impl Fn(&str) -> f64) -> bool {
        let a = value(&self.left);
        let b = match &self.right {
            Operand::Param(name) => value(name),
            Operand::Number(v) => *v,
        };
        match self.op {
            Comparison::Lt => a < b,
            Comparison::Le => a <= b,
            Comparison::Gt => a > b,
            Comparison::Ge => a >= b,
            Comparison::Ne => a != b,
        }
    }
}

/// The combinations of a sweep: every point of the grid that satisfies the constraints.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// The parameter names, in the order of each point's values.
    pub names: Vec<String>,
    /// The valid points.
    pub points: Vec<Vec<f64>>,
    /// How many grid points the constraints ruled out.
    pub skipped: usize,
}

/// Most grid points a sweep may have before constraints.
pub const MAX_POINTS: usize = 10_000_000;

impl Grid {
    /// Builds the grid of `ranges` filtered by `constraints`.
    ///
    /// # Errors
    /// A parameter swept twice, a constraint naming a parameter that is not swept, or a grid
    /// over [`MAX_POINTS`].
    pub fn new(ranges: &[ParamRange], constraints: &[Constraint]) -> Result<Self, String> {
        let names: Vec<String> = ranges.iter().map(|r| r.name.clone()).collect();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(format!("parameter `{name}` is swept twice"));
            }
        }
        for constraint in constraints {
            if let Some(name) = constraint.names().find(|n| !names.iter().any(|m| m == n)) {
                return Err(format!(
                    "constraint `{constraint}` names `{name}`, which is not swept (swept: {})",
                    names.join(", ")
                ));
            }
        }
        let total = ranges
            .iter()
            .try_fold(1usize, |n, r| n.checked_mul(r.values.len()))
            .filter(|n| *n <= MAX_POINTS)
            .ok_or_else(|| format!("the grid has more than {MAX_POINTS} points"))?;
        let mut points = Vec::new();
        let mut skipped = 0;
        for index in 0..total {
            let mut rest = index;
            let mut point = vec![0.0; ranges.len()];
            for (slot, range) in point.iter_mut().zip(ranges).rev() {
                *slot = range.values[rest % range.values.len()];
                rest /= range.values.len();
            }
            let value = |name: &str| {
                names
                    .iter()
                    .position(|n| n == name)
                    .map_or(f64::NAN, |i| point[i])
            };
            if constraints.iter().all(|c| c.holds(value)) {
                points.push(point);
            } else {
                skipped += 1;
            }
        }
        Ok(Self {
            names,
            points,
            skipped,
        })
    }
}

/// Runs `run` on every point of `grid` in parallel on all cores, each thread with its own
/// [`IndicatorCache`] (all sharing one store, so each indicator series is computed once), and
/// hands each result to `on_result` (point index, result) as it finishes.
pub fn run_grid<T: Send>(
    grid: &Grid,
    run: impl Fn(&[f64], &mut IndicatorCache) -> T + Sync,
    on_result: impl Fn(usize, T) + Sync,
) {
    let shared = SharedIndicators::new();
    grid.points.par_iter().enumerate().for_each_init(
        || IndicatorCache::sharing(&shared),
        |cache, (i, point)| {
            on_result(i, run(point, cache));
        },
    );
}

/// What a sweep knows of one point: the screening pass's statistics, or the exact engine's
/// result when the point was run exactly (the screen could not settle it, or could not run).
#[derive(Debug)]
pub enum PointStats<'r> {
    /// From the screening pass, equal to the exact engine's to 1e-9.
    Screened(&'r ScreenStats),
    /// From the exact engine (`None`: the backtest could not run, e.g. an empty period).
    Exact(Option<&'r BacktestResult>),
}

impl PointStats<'_> {
    /// The value of statistic `key`, as [`Statistics::value`] gives it.
    pub fn value(&self, key: &str) -> Option<f64> {
        match self {
            Self::Screened(stats) => stats.value(key),
            Self::Exact(result) => result.and_then(|r| r.stats.value(key)),
        }
    }
}

/// The ranking score of `value` for statistic `key`: higher is better, a missing value last.
pub fn score(key: &str, value: Option<f64>) -> f64 {
    match value {
        Some(v) if v.is_nan() => f64::NEG_INFINITY,
        Some(v) if Statistics::higher_is_better(key) => v,
        Some(v) => -v,
        None => f64::NEG_INFINITY,
    }
}

/// Whether point `a` (score, values) ranks before point `b`: the higher score, then the smaller
/// values (so ties rank the same on every run).
fn before(a: (f64, &[f64]), b: (f64, &[f64])) -> bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
}

/// Scores within this of each other may rank the other way in the exact engine.
fn tolerance(score: f64) -> f64 {
    if score.is_finite() {
        score.abs() * 1e-9 + 1e-10
    } else {
        0.0
    }
}

/// The best points of a grid by one statistic, best first, each with its exact result.
pub type Ranked = Vec<(usize, Option<BacktestResult>)>;

/// A sweep that screens every point and runs only its best exactly (see [`super::screen`]).
/// Ranked by a statistic the screen does not compute ([`ScreenStats::can_rank_by`]), every
/// point runs exactly.
///
/// Every point goes through `screen_point` (on all cores, with a per-thread cache and curve
/// buffer, asked for the drawdown and the curve only when `rank_by` needs them); a point it
/// cannot settle goes through `exact_point` instead. Each point's statistics
/// are handed to `on_point` as they finish. Then the points that can be among the best `top`
/// (every point whose screened score is within 1e-9 of the `top`-th best's or above) are run
/// exactly and ranked by their exact scores, ties by their values: the ranking is the exact
/// engine's.
pub fn screened_ranking(
    grid: &Grid,
    rank_by: &str,
    top: usize,
    screen_point: impl Fn(
        &[f64],
        &mut IndicatorCache,
        bool,
        Option<&mut Vec<EquityPoint>>,
    ) -> Result<ScreenStats, Unsettled>
    + Sync,
    exact_point: impl Fn(&[f64], &mut IndicatorCache) -> Option<BacktestResult> + Sync,
    on_point: impl Fn(usize, PointStats<'_>) + Sync,
) -> Ranked {
    let top = top.max(1);
    let needs_curve = ScreenStats::needs_curve(rank_by);
    let needs_drawdown = ScreenStats::needs_drawdown(rank_by);
    // A statistic the screen does not compute: every point runs exactly.
    let screenable = ScreenStats::can_rank_by(rank_by);
    // Every thread's cache shares one store: each indicator series is computed once.
    let shared = SharedIndicators::new();
    let cache = || IndicatorCache::sharing(&shared);
    let screen_point = |point: &[f64], cache: &mut IndicatorCache, curve: &mut Vec<EquityPoint>| {
        if screenable {
            screen_point(point, cache, needs_drawdown, needs_curve.then_some(curve))
        } else {
            Err(Unsettled)
        }
    };
    // The leaders by screened score, with room beyond `top` for near ties.
    let room = top.saturating_mul(2).saturating_add(16);
    let leaders: Mutex<Vec<(f64, usize, Option<BacktestResult>)>> = Mutex::new(Vec::new());
    let offer = |score: f64, index: usize, exact: Option<BacktestResult>| {
        let mut leaders = leaders.lock().unwrap_or_else(PoisonError::into_inner);
        let at = leaders
            .iter()
            .position(|(s, i, _)| before((score, &grid.points[index]), (*s, &grid.points[*i])))
            .unwrap_or(leaders.len());
        if at < room {
            leaders.insert(at, (score, index, exact));
            leaders.truncate(room);
        }
    };
    // One point through the screen, or exactly when the screen cannot settle it.
    let settle = |point: &[f64], cache: &mut IndicatorCache, curve: &mut Vec<EquityPoint>| {
        match screen_point(point, cache, curve) {
            Ok(stats) => Ok(stats),
            Err(Unsettled) => Err(exact_point(point, cache).map(Box::new)),
        }
    };
    let score_of = |settled: &Result<ScreenStats, Option<Box<BacktestResult>>>| {
        let value = match settled {
            Ok(stats) => stats.value(rank_by),
            Err(result) => result.as_ref().and_then(|r| r.stats.value(rank_by)),
        };
        score(rank_by, value)
    };
    grid.points.par_iter().enumerate().for_each_init(
        || (cache(), Vec::new()),
        |(cache, curve), (index, point)| {
            let settled = settle(point, cache, curve);
            let score = score_of(&settled);
            match settled {
                Ok(stats) => {
                    on_point(index, PointStats::Screened(&stats));
                    offer(score, index, None);
                }
                Err(result) => {
                    on_point(index, PointStats::Exact(result.as_deref()));
                    offer(score, index, result.map(|r| *r));
                }
            }
        },
    );
    let leaders = leaders.into_inner().unwrap_or_else(PoisonError::into_inner);
    let Some(&(cutoff, ..)) = leaders.get(top - 1).or(leaders.last()) else {
        return Vec::new();
    };
    let floor = cutoff - tolerance(cutoff);
    let mut candidates: Vec<(usize, Option<BacktestResult>)> = Vec::new();
    let crowded = leaders.len() == room && leaders.last().is_some_and(|(s, ..)| *s >= floor);
    if crowded && cutoff.is_finite() {
        // More near ties than the room kept: screen again to find them all (cheap), then run
        // each exactly.
        let near: Mutex<Vec<usize>> = Mutex::new(Vec::new());
        grid.points.par_iter().enumerate().for_each_init(
            || (cache(), Vec::new()),
            |(cache, curve), (index, point)| {
                if score_of(&settle(point, cache, curve)) >= floor {
                    near.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(index);
                }
            },
        );
        candidates.extend(
            near.into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .into_iter()
                .map(|i| (i, None)),
        );
    } else {
        candidates.extend(
            leaders
                .into_iter()
                .enumerate()
                .filter(|(rank, (s, ..))| *rank < top || (*s >= floor && cutoff.is_finite()))
                .map(|(_, (_, index, exact))| (index, exact)),
        );
    }
    // The exact engine's word on every candidate, then its ranking.
    let mut ranked: Vec<(f64, usize, Option<BacktestResult>)> = candidates
        .into_par_iter()
        .map_init(cache, |cache, (index, exact)| {
            let result = exact.or_else(|| exact_point(&grid.points[index], cache));
            let value = result.as_ref().and_then(|r| r.stats.value(rank_by));
            (score(rank_by, value), index, result)
        })
        .collect();
    ranked.sort_by(|a, b| {
        if before((a.0, &grid.points[a.1]), (b.0, &grid.points[b.1])) {
            std::cmp::Ordering::Less
        } else if before((b.0, &grid.points[b.1]), (a.0, &grid.points[a.1])) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    ranked.truncate(top);
    ranked.into_iter().map(|(_, i, r)| (i, r)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_inclusive_with_an_optional_step_or_a_list() {
        let r: ParamRange = "fast=5..50".parse().expect("range");
        assert_eq!((r.values.len(), r.values[0], r.values[45]), (46, 5.0, 50.0));
        let r: ParamRange = "slow=20..200:5".parse().expect("range");
        assert_eq!(r.values.len(), 37);
        let r: ParamRange = "stop_loss=2%,5%,8%".parse().expect("list");
        assert_eq!(r.values, vec![2.0, 5.0, 8.0]);
        let r: ParamRange = "x=0.1..0.3:0.1".parse().expect("decimals");
        assert_eq!(r.values.len(), 3);
        for bad in [
            "fast",
            "fast=5..x",
            "fast=9..5",
            "fast=1..5:0",
            "=1..2",
            "a b=1",
        ] {
            assert!(
                bad.parse::<ParamRange>().is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn the_w3_grid_with_fast_below_slow_has_1590_points() {
        let ranges: Vec<ParamRange> = ["fast=5..50", "slow=20..200:5"]
            .iter()
            .map(|s| s.parse().expect("range"))
            .collect();
        let constraint: Constraint = "fast<slow".parse().expect("constraint");
        let grid = Grid::new(&ranges, &[constraint]).expect("grid");
        assert_eq!(grid.points.len(), 1590);
        assert_eq!(grid.points.len() + grid.skipped, 46 * 37);
        assert!(grid.points.iter().all(|p| p[0] < p[1]));
    }

    #[test]
    fn constraints_must_name_swept_parameters_and_parse() {
        let ranges = vec!["fast=1..3".parse::<ParamRange>().expect("range")];
        let c: Constraint = "fast<slow".parse().expect("parses");
        let err = Grid::new(&ranges, &[c]).expect_err("slow is not swept");
        assert!(err.contains("`slow`"), "{err}");
        assert!("fast".parse::<Constraint>().is_err());
        let c: Constraint = "fast <= 2".parse().expect("number");
        let grid = Grid::new(&ranges, &[c]).expect("grid");
        assert_eq!(grid.points, vec![vec![1.0], vec![2.0]]);
    }

    #[test]
    fn every_point_is_run_once_in_parallel() {
        let ranges = vec!["a=1..100".parse::<ParamRange>().expect("range")];
        let grid = Grid::new(&ranges, &[]).expect("grid");
        let sum = std::sync::Mutex::new(0.0);
        run_grid(&grid, |p, _| p[0], |_, v| *sum.lock().expect("lock") += v);
        assert_eq!(*sum.lock().expect("lock"), 5050.0);
    }

    #[test]
    fn enormous_ranges_are_refused_not_overflowed() {
        for text in [
            "x=0..1e300",
            "x=0..1e300:1e-300",
            "x=1..2:1e-300",
            "x=-1e308..1e308",
            "x=0..18446744073709551615",
            "x=0..100000",
        ] {
            let error = text.parse::<ParamRange>().expect_err(text);
            assert!(error.contains("more than 100000 values"), "{text}: {error}");
        }
        let most = "x=1..100000".parse::<ParamRange>().expect("at the limit");
        assert_eq!(most.values.len(), MAX_VALUES);
        // Grid sizes multiply with overflow checks: 100000^4 is refused, not wrapped.
        let ranges = vec![most.clone(); 4];
        let error = Grid::new(
            &ranges
                .iter()
                .enumerate()
                .map(|(i, r)| ParamRange {
                    name: format!("p{i}"),
                    values: r.values.clone(),
                })
                .collect::<Vec<_>>(),
            &[],
        )
        .expect_err("too many points");
        assert_eq!(error, format!("the grid has more than {MAX_POINTS} points"));
    }
}
