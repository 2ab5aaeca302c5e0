//! Parameter sweeps: a grid of parameter values, constraints between them, and the parallel run
//! over every valid combination (rayon, one indicator cache per thread). Results are handed to
//! the caller one by one as they finish, so memory does not grow with the grid.

use std::fmt;
use std::str::FromStr;

use rayon::prelude::*;

use crate::rule::IndicatorCache;

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
/// [`IndicatorCache`], and hands each result to `on_result` (point index, result) as it finishes.
pub fn run_grid<T: Send>(
    grid: &Grid,
    run: impl Fn(&[f64], &mut IndicatorCache) -> T + Sync,
    on_result: impl Fn(usize, T) + Sync,
) {
    grid.points
        .par_iter()
        .enumerate()
        .for_each_init(IndicatorCache::new, |cache, (i, point)| {
            on_result(i, run(point, cache));
        });
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
