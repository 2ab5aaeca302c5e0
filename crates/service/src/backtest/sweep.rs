//! Parameter sweeps of a prepared backtest: the grid from the request, each point applied to
//! the strategies (rule parameters or risk exits), the parallel run, and the ranking.

use std::str::FromStr;

use barter_core::Money;
use barter_core::simulator::{
    self, BacktestResult, BacktestSettings, BacktestStrategy, Constraint, Grid, ParamRange,
    PointStats, Screen, ScreenStats, Statistics, Unsettled,
};
use barter_core::strategy::RuleStrategy;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{BacktestFailure, BacktestRequest, Prepared, invalid};

/// How a sweep point sets a strategy: rule parameters, or risk exits by name.
fn apply_point(strategy: &RuleStrategy, names: &[String], point: &[f64]) -> RuleStrategy {
    use barter_core::strategy::Strategy as _;
    let mut params = strategy.params().clone();
    let mut limits = strategy.exit_limits();
    let percent = |v: f64| {
        Decimal::from_str(&format!("{v}"))
            .ok()
            .map(|d| d / Decimal::ONE_HUNDRED)
    };
    for (name, value) in names.iter().zip(point) {
        match name.as_str() {
            "stop_loss" => limits.stop_loss = percent(*value),
            "take_profit" => limits.take_profit = percent(*value),
            "trailing_stop" => limits.trailing_stop = percent(*value),
            "max_holding_days" => limits.max_holding_days = Some(*value as u32),
            _ => {
                params.insert(name.clone(), *value);
            }
        }
    }
    strategy.clone().with_params(params).with_limits(limits)
}

/// The most combinations one sweep run by the server (the API or the dashboard's simulator) may
/// have: a larger one would keep the server busy for minutes and belongs to `barter backtest`,
/// which only has the core's limit.
pub const SERVER_MAX_COMBINATIONS: usize = 10_000;

/// The most grid points (before constraints) the server even builds the grid of.
const SERVER_MAX_GRID_POINTS: usize = 10 * SERVER_MAX_COMBINATIONS;

/// How many combinations `sweep` under `constraints` has (1 without a sweep), or `Err(n)` when
/// it has more than [`SERVER_MAX_COMBINATIONS`]. Cheap: no candle is read and the grid is built
/// only when it is small, so it can run before anything is admitted. A sweep that does not
/// parse counts as 1: running it then reports the parser's problems.
///
/// # Errors
/// The number of combinations (or grid points, before constraints) when too many.
pub fn server_combinations(sweep: &[String], constraints: &[String]) -> Result<usize, usize> {
    if sweep.is_empty() {
        return Ok(1);
    }
    let Ok(ranges) = sweep
        .iter()
        .map(|s| s.parse::<ParamRange>())
        .collect::<Result<Vec<_>, _>>()
    else {
        return Ok(1);
    };
    let points = ranges
        .iter()
        .fold(1_usize, |n, r| n.saturating_mul(r.values.len()));
    if points > SERVER_MAX_GRID_POINTS {
        return Err(points);
    }
    let Ok(constraints) = constraints
        .iter()
        .map(|s| s.parse::<Constraint>())
        .collect::<Result<Vec<_>, _>>()
    else {
        return Ok(points.min(SERVER_MAX_COMBINATIONS));
    };
    match Grid::new(&ranges, &constraints) {
        Ok(grid) if grid.points.len() > SERVER_MAX_COMBINATIONS => Err(grid.points.len()),
        Ok(grid) => Ok(grid.points.len().max(1)),
        Err(_) => Ok(1),
    }
}

/// The names a sweep may set besides rule parameters.
pub const LIMIT_PARAMS: [&str; 4] = [
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "max_holding_days",
];

/// The statistics a sweep's ranking shows for each combination (the CLI's and the page's).
pub const SHOWN_STATISTICS: [&str; 5] = [
    "return_pct",
    "sharpe_ratio",
    "max_drawdown_pct",
    "trades",
    "win_rate_pct",
];

/// A sweep's parsed grid and ranking, checked against the strategies.
pub struct SweepPlan {
    /// The valid combinations.
    pub grid: Grid,
    /// The statistic to rank by.
    pub rank_by: String,
}

/// Parses and checks the sweep part of `request` (`None` when nothing is swept).
///
/// # Errors
/// Bad ranges, constraints, rank statistic, or parameters no strategy uses.
pub fn sweep_plan(
    request: &BacktestRequest,
    prepared: &Prepared,
) -> Result<Option<SweepPlan>, BacktestFailure> {
    if request.sweep.is_empty() {
        if !request.constraints.is_empty() {
            return Err(invalid("constraints", "constraints need swept parameters"));
        }
        return Ok(None);
    }
    let ranges = request
        .sweep
        .iter()
        .map(|s| s.parse::<ParamRange>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| invalid("sweep", m))?;
    for range in &ranges {
        let used = prepared.strategies.iter().any(|p| {
            p.strategy
                .entry_rule()
                .parameters_used()
                .contains(&range.name)
                || p.strategy
                    .exit_rule()
                    .is_some_and(|r| r.parameters_used().contains(&range.name))
        });
        if !used && !LIMIT_PARAMS.contains(&range.name.as_str()) {
            return Err(invalid(
                "sweep",
                format!(
                    "no rule uses `${}`; sweep a rule parameter or one of {}",
                    range.name,
                    LIMIT_PARAMS.join(", ")
                ),
            ));
        }
    }
    let constraints = request
        .constraints
        .iter()
        .map(|s| s.parse::<Constraint>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| invalid("constraints", m))?;
    let grid = Grid::new(&ranges, &constraints).map_err(|m| invalid("sweep", m))?;
    // Values a rule cannot take (a period of 0, 2.5 days) are refused before anything runs.
    for point in &grid.points {
        for p in &prepared.strategies {
            let swept = apply_point(&p.strategy, &grid.names, point);
            for rule in std::iter::once(swept.entry_rule()).chain(swept.exit_rule()) {
                if let Err(errors) = rule.check_params(swept.params()) {
                    let message = errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>();
                    return Err(invalid(
                        "sweep",
                        format!(
                            "at {}: {}",
                            describe_point(&grid.names, point),
                            message.join("; ")
                        ),
                    ));
                }
            }
        }
    }
    let rank_by = request
        .rank_by
        .clone()
        .unwrap_or_else(|| "return_pct".to_owned());
    if !Statistics::KEYS.contains(&rank_by.as_str()) {
        return Err(invalid(
            "rank_by",
            format!(
                "`{rank_by}` is not a statistic; one of {}",
                Statistics::KEYS.join(", ")
            ),
        ));
    }
    Ok(Some(SweepPlan { grid, rank_by }))
}

/// `fast=10, slow=20`.
pub fn describe_point(names: &[String], point: &[f64]) -> String {
    names
        .iter()
        .zip(point)
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One combination's outcome in a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SweepRow {
    /// The parameter values, in the grid's order.
    pub values: Vec<f64>,
    /// The statistics (`None` when the period had no candle).
    #[schema(value_type = Object)]
    pub stats: Option<Statistics>,
    /// Exact final equity.
    #[schema(value_type = Option<String>)]
    pub final_equity: Option<Money>,
}

impl Prepared {
    /// Runs one sweep combination with `cache` (the sweep's per-thread cache).
    pub fn run_point(
        &self,
        names: &[String],
        point: &[f64],
        settings: &BacktestSettings,
        cache: &mut barter_core::rule::IndicatorCache,
    ) -> Option<BacktestResult> {
        let swept: Vec<RuleStrategy> = self
            .strategies
            .iter()
            .map(|p| apply_point(&p.strategy, names, point))
            .collect();
        let strategies: Vec<BacktestStrategy<'_>> = swept
            .iter()
            .zip(&self.strategies)
            .map(|(s, p)| BacktestStrategy {
                strategy: s,
                sizing: p.sizing,
                max_open_positions: p.max_open_positions,
            })
            .collect();
        simulator::backtest_with(&self.data, &self.instruments, &strategies, settings, cache).ok()
    }

    /// The screening pass of this backtest's sweeps ranked by `rank_by`, when it applies: one
    /// strategy on one instrument, a statistic the screen computes, and `exact` not asked for.
    pub fn screen(
        &self,
        settings: &BacktestSettings,
        rank_by: &str,
        exact: bool,
    ) -> Option<Screen<'_>> {
        let ([strategy], [instrument]) = (self.strategies.as_slice(), self.instruments.as_slice())
        else {
            return None;
        };
        if exact || !ScreenStats::can_rank_by(rank_by) {
            return None;
        }
        Screen::new(
            &self.data,
            instrument,
            strategy.sizing,
            strategy.max_open_positions,
            settings,
        )
    }

    /// The statistics every point of a sweep ranked by `rank_by` reports (what `on_point` of
    /// [`Prepared::sweep`] can give for each): all of them when every point runs exactly,
    /// the screened ones otherwise (see `docs/SIMULATOR.md`).
    pub fn point_statistics(screened: bool, rank_by: &str) -> Vec<&'static str> {
        if !screened {
            return Statistics::KEYS.to_vec();
        }
        let mut keys = ScreenStats::KEYS.to_vec();
        let extra = ScreenStats::DRAWDOWN_KEYS
            .iter()
            .chain(&ScreenStats::CURVE_KEYS)
            .find(|k| **k == rank_by);
        keys.extend(extra);
        keys
    }

    /// Runs every combination of `grid` (on all cores) and returns the best `top` by `rank_by`,
    /// best first, each from the exact engine. With `screen`, every point goes through the
    /// screening pass and only the points that can rank among the best run exactly; without,
    /// every point runs exactly. Each point's statistics go to `on_point` as it finishes, so
    /// memory does not grow with the grid.
    pub fn sweep(
        &self,
        grid: &Grid,
        settings: &BacktestSettings,
        screen: Option<&Screen<'_>>,
        rank: (&str, usize),
        on_point: impl Fn(&[f64], PointStats<'_>) + Sync,
    ) -> Vec<SweepRow> {
        self.sweep_indexed(grid, settings, screen, rank, |index, stats| {
            on_point(&grid.points[index], stats);
        })
    }

    /// [`Prepared::sweep`] with each point's index in `grid` (not its values) given to
    /// `on_point`, for callers that keep a value per point.
    pub fn sweep_indexed(
        &self,
        grid: &Grid,
        settings: &BacktestSettings,
        screen: Option<&Screen<'_>>,
        (rank_by, top): (&str, usize),
        on_point: impl Fn(usize, PointStats<'_>) + Sync,
    ) -> Vec<SweepRow> {
        let cancelled = || self.cancel.load(std::sync::atomic::Ordering::Relaxed);
        let ranked = simulator::screened_ranking(
            grid,
            rank_by,
            top,
            |point, cache, drawdown, curve| match screen {
                // Checked between points: a cancelled sweep skips the rest at once.
                Some(screen) if !cancelled() => {
                    let [p] = self.strategies.as_slice() else {
                        return Err(Unsettled);
                    };
                    let swept = apply_point(&p.strategy, &grid.names, point);
                    screen.screen(&swept, cache, drawdown, curve)
                }
                _ => Err(Unsettled),
            },
            |point, cache| {
                if cancelled() {
                    return None;
                }
                self.run_point(&grid.names, point, settings, cache)
            },
            on_point,
        );
        ranked
            .into_iter()
            .map(|(index, result)| SweepRow {
                values: grid.points[index].clone(),
                final_equity: result.as_ref().map(|r| r.final_equity),
                stats: result.map(|r| r.stats),
            })
            .collect()
    }

    /// The best `n` points of `plan`'s grid run with `settings`, best first, exact.
    pub fn best(&self, plan: &SweepPlan, settings: &BacktestSettings, n: usize) -> Vec<SweepRow> {
        let screen = self.screen(settings, &plan.rank_by, false);
        self.sweep(
            &plan.grid,
            settings,
            screen.as_ref(),
            (&plan.rank_by, n),
            |_, _| {},
        )
    }
}
