//! Walk-forward analysis: optimise on each training window, evaluate the winner on the test
//! window after it, and chain the test windows into one out-of-sample result.

use std::str::FromStr;

use barter_core::Day;
use barter_core::simulator::{self, BacktestResult, Statistics};
use serde::{Deserialize, Serialize};

use super::{BacktestFailure, Prepared, SweepPlan, invalid};

/// Walk-forward windows: `train=730d,test=180d[,step=180d]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkForwardSpec {
    /// Days in each training window.
    pub train: u32,
    /// Days in each test window.
    pub test: u32,
    /// Days between window starts (default: `test`).
    pub step: u32,
}

impl FromStr for WalkForwardSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let mut train = None;
        let mut test = None;
        let mut step = None;
        for part in text.split(',') {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: write train=730d,test=180d[,step=180d]"))?;
            let days: u32 = value
                .trim()
                .trim_end_matches('d')
                .parse()
                .ok()
                .filter(|d| *d > 0)
                .ok_or_else(|| format!("`{value}` is not a positive number of days (e.g. 180d)"))?;
            match key.trim() {
                "train" => train = Some(days),
                "test" => test = Some(days),
                "step" => step = Some(days),
                other => {
                    return Err(format!(
                        "unknown walk-forward key `{other}` (train, test, step)"
                    ));
                }
            }
        }
        let (Some(train), Some(test)) = (train, test) else {
            return Err("walk-forward needs train= and test=".to_owned());
        };
        Ok(Self {
            train,
            test,
            step: step.unwrap_or(test),
        })
    }
}

/// One walk-forward window: the best in-sample combination and how it did out of sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WalkForwardWindow {
    /// First training day.
    #[schema(value_type = String, format = Date)]
    pub train_from: Day,
    /// Last training day.
    #[schema(value_type = String, format = Date)]
    pub train_to: Day,
    /// First test day.
    #[schema(value_type = String, format = Date)]
    pub test_from: Day,
    /// Last test day.
    #[schema(value_type = String, format = Date)]
    pub test_to: Day,
    /// The winning parameter values.
    pub best: Vec<f64>,
    /// The winner's in-sample statistics.
    #[schema(value_type = Object)]
    pub in_sample: Statistics,
    /// The winner's statistics on the test window.
    #[schema(value_type = Object)]
    pub out_of_sample: Statistics,
}

/// A whole walk-forward analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WalkForward {
    /// The swept parameter names.
    pub names: Vec<String>,
    /// The ranking statistic.
    pub rank_by: String,
    /// The windows in order.
    pub windows: Vec<WalkForwardWindow>,
    /// The test windows chained (each starts with the previous one's final equity, positions
    /// closed at each window's end).
    #[schema(value_type = Object)]
    pub out_of_sample: BacktestResult,
}

impl Prepared {
    /// Optimises on each training window and evaluates the winner on the following test
    /// window; the test windows are chained into one out-of-sample result.
    ///
    /// # Errors
    /// When the data is too short for one window, or no combination ran.
    pub fn walk_forward(
        &self,
        plan: &SweepPlan,
        spec: WalkForwardSpec,
    ) -> Result<WalkForward, BacktestFailure> {
        let all = self.data.view(self.settings.to.unwrap_or(Day::MAX));
        let mut first = Day::MAX;
        let mut last = Day::MIN;
        for i in &self.instruments {
            let days = all.days(&i.symbol);
            let from = self.settings.from.unwrap_or(Day::MIN);
            if let Some(d) = days.iter().find(|d| **d >= from) {
                first = first.min(*d);
            }
            if let Some(d) = days.last() {
                last = last.max(*d);
            }
        }
        let days = |n: u32| chrono::Days::new(u64::from(n));
        // The stitched result is annualised as each window was.
        let annual = self
            .settings
            .annual_periods
            .unwrap_or_else(|| simulator::annual_periods(&self.instruments));
        let mut windows = Vec::new();
        let mut chained: Option<BacktestResult> = None;
        let mut start = first;
        while start + days(spec.train) + days(spec.test) - days(1) <= last {
            let train_to = start + days(spec.train) - days(1);
            let test_from = train_to + days(1);
            let test_to = test_from + days(spec.test) - days(1);
            let mut train = self.settings.clone();
            train.from = Some(start);
            train.to = Some(train_to);
            let winner = self
                .best(plan, &train, 1)
                .into_iter()
                .next()
                .and_then(|row| row.stats.map(|s| (row.values, s)));
            let Some((values, in_sample)) = winner else {
                start = start + days(spec.step);
                continue;
            };
            let mut test = self.settings.clone();
            test.from = Some(test_from);
            test.to = Some(test_to);
            test.close_at_end = true;
            if let Some(previous) = &chained {
                test.initial_cash = previous.final_equity;
            }
            let mut cache = barter_core::rule::IndicatorCache::new();
            let Some(result) = self.run_point(&plan.grid.names, &values, &test, &mut cache) else {
                start = start + days(spec.step);
                continue;
            };
            windows.push(WalkForwardWindow {
                train_from: start,
                train_to,
                test_from,
                test_to,
                best: values,
                in_sample,
                out_of_sample: result.stats.clone(),
            });
            chained = Some(match chained {
                None => result,
                Some(previous) => chain(previous, result, annual),
            });
            start = start + days(spec.step);
        }
        let Some(out_of_sample) = chained else {
            return Err(invalid(
                "walk_forward",
                format!(
                    "the data ({first} to {last}) is shorter than one training plus test window ({} + {} days)",
                    spec.train, spec.test
                ),
            ));
        };
        Ok(WalkForward {
            names: plan.grid.names.clone(),
            rank_by: plan.rank_by.clone(),
            windows,
            out_of_sample,
        })
    }
}

/// `later` appended to `earlier` (overlapping days, when steps are shorter than tests, keep
/// the earlier window's), statistics recomputed over the whole with `annual` bars per year.
fn chain(mut earlier: BacktestResult, later: BacktestResult, annual: f64) -> BacktestResult {
    let last_day = earlier.equity.last().map(|p| p.day);
    let offset = earlier.equity.len();
    let skip = later
        .equity
        .iter()
        .take_while(|p| Some(p.day) <= last_day)
        .count();
    let mut peak = earlier
        .equity
        .iter()
        .map(|p| p.equity)
        .fold(f64::MIN, f64::max);
    for point in later.equity.iter().skip(skip) {
        peak = peak.max(point.equity);
        let mut p = *point;
        p.drawdown = if peak > 0.0 {
            p.equity / peak - 1.0
        } else {
            0.0
        };
        earlier.equity.push(p);
    }
    for mut trade in later.trades {
        if trade.entry_bar < skip {
            continue;
        }
        trade.entry_bar = trade.entry_bar - skip + offset;
        trade.exit_bar = trade.exit_bar.saturating_sub(skip) + offset;
        earlier.trades.push(trade);
    }
    earlier.unfilled.extend(later.unfilled);
    earlier.open_trades = later.open_trades;
    earlier.final_cash = later.final_cash;
    earlier.final_equity = later.final_equity;
    let benchmark: Vec<f64> = earlier.equity.iter().map(|p| p.equity).collect();
    earlier.stats = simulator::stats::compute(&simulator::StatsInput {
        equity: &earlier.equity,
        trades: &earlier.trades,
        benchmark: &benchmark,
        benchmark_start: 0,
        annual_periods: annual,
    });
    earlier
}
