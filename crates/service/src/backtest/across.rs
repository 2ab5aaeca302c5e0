//! Sweeps across instruments (`--per-instrument`, the API's `per_instrument`): every point of a
//! sweep's grid backtested on each instrument alone (its own account with the whole starting
//! cash), and the points ranked by an aggregate over the instruments: the median or the worst
//! of the ranking statistic. A robustness view: a point that only works on one instrument ranks
//! low.
//!
//! Each instrument's sweep is an ordinary sweep of a single-instrument [`Prepared`], so it goes
//! through the screening pass whenever a single-instrument sweep would ([`Prepared::screen`]);
//! only the points whose aggregate can rank among the best are then run exactly on every
//! instrument, and the ranking is the one of the exact aggregates.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use barter_core::simulator::{self, Grid, PointStats, Statistics};
use barter_core::{Money, Symbol};
use serde::{Deserialize, Serialize};

use super::{BacktestFailure, Caller, Prepared, PreparedStrategy, SweepPlan, invalid};

/// Which aggregate over the instruments ranks the points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RankAcross {
    /// The median of the ranking statistic over the instruments (the typical instrument).
    #[default]
    Median,
    /// The worst value of the ranking statistic over the instruments (the weakest instrument).
    Worst,
}

impl RankAcross {
    /// The names accepted for it.
    pub const NAMES: [&'static str; 2] = ["median", "worst"];

    /// Its name, as the request spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Median => "median",
            Self::Worst => "worst",
        }
    }

    /// Parses the request's `rank_across` (`median` or `worst`).
    ///
    /// # Errors
    /// Any other text, with the accepted ones.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "median" => Ok(Self::Median),
            "worst" => Ok(Self::Worst),
            other => Err(format!(
                "`{other}`: rank across instruments by {}",
                Self::NAMES.join(" or ")
            )),
        }
    }
}

/// The most single-instrument backtests (points × instruments) one sweep across instruments
/// may have anywhere: the sweep keeps two values per point and instrument until it ranks them,
/// so this bounds its memory (about 160 MB) as [`simulator::MAX_POINTS`] bounds a grid's.
pub const MAX_BACKTESTS: usize = 10_000_000;

/// A sweep across instruments: the grid, its ranking, and the instruments.
pub struct AcrossPlan {
    /// The grid and the statistic ranked by.
    pub sweep: SweepPlan,
    /// The aggregate ranked by.
    pub rank_across: RankAcross,
}

/// Checks the per-instrument part of a request whose sweep is `sweep`, for `instruments`
/// instruments.
///
/// # Errors
/// No sweep, fewer than two instruments, a walk-forward, a bad `rank_across`, or more than
/// [`MAX_BACKTESTS`] backtests.
pub fn across_plan(
    sweep: Option<SweepPlan>,
    instruments: usize,
    walk_forward: bool,
    rank_across: Option<&str>,
    caller: Caller,
) -> Result<AcrossPlan, BacktestFailure> {
    let Some(sweep) = sweep else {
        return Err(invalid(
            "per_instrument",
            format!(
                "ranks a sweep's points across instruments: give swept parameters ({})",
                caller.says("sweep", "--param")
            ),
        ));
    };
    if walk_forward {
        return Err(invalid(
            "per_instrument",
            "a walk-forward optimises one backtest: drop per_instrument or walk_forward",
        ));
    }
    if instruments < 2 {
        return Err(invalid(
            "per_instrument",
            format!(
                "compares a sweep's points across instruments and needs at least two, got \
                 {instruments}: give several ({})",
                caller.says("instruments", "--instrument")
            ),
        ));
    }
    let rank_across = match rank_across {
        Some(text) => RankAcross::parse(text).map_err(|m| invalid("rank_across", m))?,
        None => RankAcross::default(),
    };
    let backtests = sweep.grid.points.len().saturating_mul(instruments);
    if backtests > MAX_BACKTESTS {
        return Err(invalid(
            "per_instrument",
            format!(
                "{} combinations × {instruments} instruments are {backtests} backtests, more \
                 than {MAX_BACKTESTS}: sweep fewer values or fewer instruments",
                sweep.grid.points.len()
            ),
        ));
    }
    Ok(AcrossPlan { sweep, rank_across })
}

/// A point's aggregate over the instruments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Aggregate {
    /// The median of the ranking statistic over the instruments (of the two middle values, their
    /// mean); `None` when a value it needs is missing.
    pub median: Option<f64>,
    /// The worst value of the ranking statistic over the instruments (the lowest, or the highest
    /// for a cost or risk such as volatility, where lower is better); `None` when any is
    /// missing.
    pub worst: Option<f64>,
    /// The share of the instruments, in percent, on which the point's `return_pct` is above 0
    /// (an instrument whose backtest could not run counts as not positive).
    pub consistency_pct: f64,
}

impl Aggregate {
    /// The aggregate of one point: `values` the ranking statistic `rank_by` on each instrument,
    /// `positive` how many instruments ended with a positive return. A missing (or NaN) value
    /// counts as the worst possible, so it drags the median down and is the worst.
    pub fn of(rank_by: &str, values: &[Option<f64>], positive: usize) -> Self {
        let mut scores: Vec<f64> = values
            .iter()
            .map(|v| simulator::score(rank_by, *v))
            .collect();
        scores.sort_by(f64::total_cmp);
        let n = scores.len();
        let median = match n {
            0 => f64::NEG_INFINITY,
            _ if n % 2 == 1 => scores[n / 2],
            _ => (scores[n / 2 - 1] + scores[n / 2]) / 2.0,
        };
        let worst = scores.first().copied().unwrap_or(f64::NEG_INFINITY);
        // Back from scores (higher is better) to the statistic's own sign.
        let value = |score: f64| {
            (score.is_finite() || score == f64::INFINITY).then(|| {
                if Statistics::higher_is_better(rank_by) {
                    score
                } else {
                    -score
                }
            })
        };
        Self {
            median: value(median),
            worst: value(worst),
            consistency_pct: if n == 0 {
                0.0
            } else {
                positive as f64 * 100.0 / n as f64
            },
        }
    }

    /// The ranking score (higher is better) of the aggregate `across` ranks by.
    fn score(&self, rank_by: &str, across: RankAcross) -> f64 {
        let value = match across {
            RankAcross::Median => self.median,
            RankAcross::Worst => self.worst,
        };
        simulator::score(rank_by, value)
    }
}

/// One instrument's exact backtest of a point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InstrumentRow {
    /// The instrument.
    #[schema(value_type = String)]
    pub symbol: Symbol,
    /// The statistics (`None` when the period had no candle).
    #[schema(value_type = Object)]
    pub stats: Option<Statistics>,
    /// Exact final equity.
    #[schema(value_type = Option<String>)]
    pub final_equity: Option<Money>,
}

/// One of the best points of a sweep across instruments, from the exact engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AcrossRow {
    /// The parameter values, in the grid's order.
    pub values: Vec<f64>,
    /// The aggregate over the instruments.
    pub aggregate: Aggregate,
    /// Each instrument's exact backtest, in the request's order.
    pub instruments: Vec<InstrumentRow>,
}

/// A point's aggregate as the screening pass (or the exact engine) gave it, for
/// `sweep_aggregate.csv`.
pub struct PointAggregate<'a> {
    /// The parameter values.
    pub values: &'a [f64],
    /// The ranking statistic on each instrument, in the request's order.
    pub per_instrument: &'a [Option<f64>],
    /// Their aggregate.
    pub aggregate: &'a Aggregate,
}

impl Prepared {
    /// This backtest on instrument `index` alone: the same strategies, settings and cancel
    /// flag, only that instrument's candles.
    pub fn on_instrument(&self, index: usize) -> Option<Prepared> {
        let instrument = self.instruments.get(index)?.clone();
        let mut data = self.data.clone();
        data.retain(|symbol| *symbol == instrument.symbol);
        Some(Prepared {
            data,
            instruments: vec![instrument],
            strategies: self
                .strategies
                .iter()
                .map(|p| PreparedStrategy {
                    strategy: p.strategy.clone(),
                    sizing: p.sizing,
                    max_open_positions: p.max_open_positions,
                })
                .collect(),
            settings: self.settings.clone(),
            cancel: Arc::clone(&self.cancel),
        })
    }

    /// Runs `plan` across this backtest's instruments and returns the best `top` points by the
    /// aggregate, best first, each with its exact backtest on every instrument.
    ///
    /// Each instrument's sweep screens every point unless `exact` (or the screen does not apply,
    /// see [`Prepared::screen`]); `on_point` gets (instrument index, point values, statistics)
    /// for each point of each instrument as it finishes. Then `on_aggregate` gets every point's
    /// aggregate in the grid's order. Finally the points whose aggregate can be among the best
    /// (within the screen's 1e-9 of the `top`-th) run exactly on every instrument and are ranked
    /// by their exact aggregates, ties by their values.
    pub fn sweep_across(
        &self,
        plan: &AcrossPlan,
        top: usize,
        exact: bool,
        on_point: impl Fn(usize, &[f64], PointStats<'_>) + Sync,
        mut on_aggregate: impl FnMut(PointAggregate<'_>),
    ) -> Vec<AcrossRow> {
        let grid = &plan.sweep.grid;
        let rank_by = plan.sweep.rank_by.as_str();
        let top = top.max(1);
        let n = grid.points.len();
        let singles: Vec<Prepared> = (0..self.instruments.len())
            .filter_map(|i| self.on_instrument(i))
            .collect();
        // The ranking statistic of every point on every instrument (instrument-major), as f64
        // bits so the sweep's threads fill them without a lock (NaN: missing, or not run when
        // cancelled), and whether its return is positive.
        let values: Vec<AtomicU64> = (0..n * singles.len())
            .map(|_| AtomicU64::new(f64::NAN.to_bits()))
            .collect();
        let positive: Vec<AtomicBool> = (0..n * singles.len())
            .map(|_| AtomicBool::new(false))
            .collect();
        for (i, single) in singles.iter().enumerate() {
            let screen = single.screen(&single.settings, rank_by, exact);
            // The single-instrument sweep's own best point is not needed: ask for one.
            single.sweep_indexed(
                grid,
                &single.settings,
                screen.as_ref(),
                (rank_by, 1),
                |index, stats| {
                    let slot = i * n + index;
                    let value = stats.value(rank_by).unwrap_or(f64::NAN);
                    values[slot].store(value.to_bits(), Ordering::Relaxed);
                    let up = stats.value("return_pct").is_some_and(|r| r > 0.0);
                    positive[slot].store(up, Ordering::Relaxed);
                    on_point(i, &grid.points[index], stats);
                },
            );
        }
        if self.cancel.load(Ordering::Relaxed) {
            return Vec::new();
        }
        // Every point's aggregate from what the sweeps gave (screened: within 1e-9 of exact).
        let mut bounds: Vec<(f64, f64)> = Vec::with_capacity(n);
        let mut per_instrument = vec![None; singles.len()];
        for (index, point) in grid.points.iter().enumerate() {
            let mut up = 0;
            for (i, value) in per_instrument.iter_mut().enumerate() {
                let v = f64::from_bits(values[i * n + index].load(Ordering::Relaxed));
                *value = (!v.is_nan()).then_some(v);
                up += usize::from(positive[i * n + index].load(Ordering::Relaxed));
            }
            let aggregate = Aggregate::of(rank_by, &per_instrument, up);
            // The aggregate's error is at most 1e-9 of the largest value it is made of.
            let largest = per_instrument
                .iter()
                .flatten()
                .filter(|v| v.is_finite())
                .fold(0.0_f64, |m, v| m.max(v.abs()));
            let score = aggregate.score(rank_by, plan.rank_across);
            let slack = if score.is_finite() {
                largest * 1e-9 + 1e-10
            } else {
                0.0
            };
            bounds.push((score - slack, score + slack));
            on_aggregate(PointAggregate {
                values: point,
                per_instrument: &per_instrument,
                aggregate: &aggregate,
            });
        }
        drop((values, positive));
        // A point can be among the best `top` only if its best possible exact score reaches the
        // `top`-th highest worst possible one: `top` points are at least that good.
        let mut lows: Vec<f64> = bounds.iter().map(|b| b.0).collect();
        let cut = top.min(lows.len());
        let Some(floor) = (cut > 0).then(|| {
            lows.select_nth_unstable_by(cut - 1, |a, b| b.total_cmp(a));
            lows[cut - 1]
        }) else {
            return Vec::new();
        };
        let candidates = Grid {
            names: grid.names.clone(),
            points: grid
                .points
                .iter()
                .zip(&bounds)
                .filter(|(_, (_, high))| *high >= floor)
                .map(|(p, _)| p.clone())
                .collect(),
            skipped: 0,
        };
        let exact_rows = std::sync::Mutex::new(Vec::with_capacity(candidates.points.len()));
        simulator::run_grid(
            &candidates,
            |point, cache| {
                if self.cancel.load(Ordering::Relaxed) {
                    return None;
                }
                let instruments: Vec<InstrumentRow> = singles
                    .iter()
                    .map(|single| {
                        let result = single.run_point(&grid.names, point, &single.settings, cache);
                        InstrumentRow {
                            symbol: single.instruments[0].symbol.clone(),
                            final_equity: result.as_ref().map(|r| r.final_equity),
                            stats: result.map(|r| r.stats),
                        }
                    })
                    .collect();
                Some(exact_row(rank_by, point, instruments))
            },
            |_, row| {
                if let Some(row) = row {
                    exact_rows
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(row);
                }
            },
        );
        if self.cancel.load(Ordering::Relaxed) {
            return Vec::new();
        }
        let mut ranked = exact_rows
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = |row: &AcrossRow| row.aggregate.score(rank_by, plan.rank_across);
        ranked.sort_by(|a, b| {
            key(b).total_cmp(&key(a)).then_with(|| {
                a.values
                    .partial_cmp(&b.values)
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
        });
        ranked.truncate(top);
        ranked
    }
}

/// The row of a point from its exact backtests on each instrument.
fn exact_row(rank_by: &str, point: &[f64], instruments: Vec<InstrumentRow>) -> AcrossRow {
    let values: Vec<Option<f64>> = instruments
        .iter()
        .map(|r| r.stats.as_ref().and_then(|s| s.value(rank_by)))
        .collect();
    let positive = instruments
        .iter()
        .filter(|r| r.stats.as_ref().is_some_and(|s| s.return_pct > 0.0))
        .count();
    AcrossRow {
        values: point.to_vec(),
        aggregate: Aggregate::of(rank_by, &values, positive),
        instruments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::{BacktestRequest, CandleSource, Plan, plan, prepare};
    use crate::config::Config;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two_and_missing_is_worst() {
        let a = Aggregate::of("return_pct", &[Some(4.0), Some(-2.0), Some(10.0)], 2);
        assert_eq!((a.median, a.worst), (Some(4.0), Some(-2.0)));
        assert!((a.consistency_pct - 200.0 / 3.0).abs() < 1e-12);
        let a = Aggregate::of(
            "return_pct",
            &[Some(4.0), Some(-2.0), Some(10.0), Some(6.0)],
            3,
        );
        assert_eq!(
            (a.median, a.worst, a.consistency_pct),
            (Some(5.0), Some(-2.0), 75.0)
        );
        // Lower is better for volatility: the worst is the largest.
        let a = Aggregate::of(
            "volatility_ann_pct",
            &[Some(10.0), Some(30.0), Some(20.0)],
            0,
        );
        assert_eq!((a.median, a.worst), (Some(20.0), Some(30.0)));
        // A missing value is the worst, and the median of [missing, 1, 2] is 1.
        let a = Aggregate::of("sharpe_ratio", &[None, Some(2.0), Some(1.0)], 1);
        assert_eq!((a.median, a.worst), (Some(1.0), None));
        let a = Aggregate::of("sharpe_ratio", &[None, Some(2.0)], 1);
        assert_eq!((a.median, a.worst), (None, None));
    }

    fn sample(file: &str) -> String {
        format!("{}/../../data/sample/{file}", env!("CARGO_MANIFEST_DIR"))
    }

    fn request(instruments: &[&str]) -> BacktestRequest {
        BacktestRequest {
            entry: Some("crosses_above(sma(close, $fast), sma(close, $slow))".to_owned()),
            exit: Some("crosses_below(sma(close, $fast), sma(close, $slow))".to_owned()),
            instruments: instruments
                .iter()
                .map(|s| Symbol::parse(s).expect("symbol"))
                .collect(),
            fee_bps: Some(rust_decimal::Decimal::TEN),
            ..BacktestRequest::default()
        }
    }

    async fn prepared(request: &BacktestRequest, files: &[String]) -> Prepared {
        prepare(request, &Config::default(), CandleSource::Files(files))
            .await
            .expect("prepared")
    }

    /// The aggregates of the best points equal the median and worst of the same points run as
    /// ordinary single-instrument backtests (`Prepared::run`), and the best points are the best
    /// by the aggregate of every point run that way: screening decided nothing by itself.
    #[tokio::test]
    async fn the_aggregate_is_the_median_and_worst_of_single_instrument_backtests() {
        let files = [
            format!("BTC={}", sample("btc-usd-daily.csv")),
            format!("ETH={}", sample("eth-usd-daily.csv")),
            format!("SOL={}", sample("sol-usd-daily.csv")),
        ];
        let symbols = ["BTC", "ETH", "SOL"];
        for (rank_by, across) in [("return_pct", "median"), ("sharpe_ratio", "worst")] {
            let mut swept = request(&symbols);
            swept.sweep = vec!["fast=5..20:5".to_owned(), "slow=20..60:20".to_owned()];
            swept.constraints = vec!["fast<slow".to_owned()];
            swept.per_instrument = true;
            swept.rank_by = Some(rank_by.to_owned());
            swept.rank_across = Some(across.to_owned());
            let all = prepared(&swept, &files).await;
            let Plan::Across(plan) = plan(&swept, &all).expect("plan") else {
                panic!("a sweep across instruments");
            };
            assert!(
                all.on_instrument(0)
                    .is_some_and(|p| p.screen(&p.settings, rank_by, false).is_some()),
                "the screen applies"
            );
            let points = plan.sweep.grid.points.clone();
            let seen = std::sync::Mutex::new(0_usize);
            let mut aggregates = Vec::new();
            let rows = all.sweep_across(
                &plan,
                3,
                false,
                |_, _, _| *seen.lock().expect("lock") += 1,
                |p| aggregates.push(p.aggregate.clone()),
            );
            assert_eq!(*seen.lock().expect("lock"), points.len() * 3);
            assert_eq!(aggregates.len(), points.len());
            assert_eq!(rows.len(), 3);

            // Every point as ordinary single-instrument backtests, one request per instrument.
            let mut exact = Vec::new();
            for point in &points {
                let mut results = Vec::new();
                for symbol in symbols {
                    let mut one = request(&[symbol]);
                    one.params.insert("fast".to_owned(), point[0]);
                    one.params.insert("slow".to_owned(), point[1]);
                    let file =
                        [files[symbols.iter().position(|s| *s == symbol).expect("i")].clone()];
                    results.push(prepared(&one, &file).await.run().expect("runs"));
                }
                let values: Vec<Option<f64>> =
                    results.iter().map(|r| r.stats.value(rank_by)).collect();
                let up = results.iter().filter(|r| r.stats.return_pct > 0.0).count();
                exact.push((point.clone(), Aggregate::of(rank_by, &values, up), results));
            }
            // The screened aggregates of every point agree with the exact ones to 1e-9.
            let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                (a, b) => a == b,
            };
            for (screened, (point, aggregate, _)) in aggregates.iter().zip(&exact) {
                assert!(
                    close(screened.median, aggregate.median),
                    "{point:?}: {screened:?} vs {aggregate:?}"
                );
                assert!(close(screened.worst, aggregate.worst), "{point:?}");
                assert_eq!(
                    screened.consistency_pct, aggregate.consistency_pct,
                    "{point:?}"
                );
            }
            // The best three, ranked by the exact aggregate, ties by values.
            let pick = |a: &Aggregate| match across {
                "median" => simulator::score(rank_by, a.median),
                _ => simulator::score(rank_by, a.worst),
            };
            exact.sort_by(|a, b| {
                pick(&b.1)
                    .total_cmp(&pick(&a.1))
                    .then(a.0.partial_cmp(&b.0).expect("numbers"))
            });
            for (row, (point, aggregate, results)) in rows.iter().zip(&exact) {
                assert_eq!(&row.values, point, "{rank_by} {across}");
                assert_eq!(
                    &row.aggregate, aggregate,
                    "exactly the single backtests' aggregate"
                );
                for (instrument, result) in row.instruments.iter().zip(results) {
                    assert_eq!(instrument.stats.as_ref(), Some(&result.stats));
                    assert_eq!(instrument.final_equity, Some(result.final_equity));
                }
            }
            assert!(rows[0].aggregate.median.is_some());
        }
    }

    #[tokio::test]
    async fn per_instrument_needs_a_sweep_and_two_instruments() {
        let files = [
            format!("BTC={}", sample("btc-usd-daily.csv")),
            format!("ETH={}", sample("eth-usd-daily.csv")),
        ];
        let field = |failure: BacktestFailure| match failure {
            BacktestFailure::Invalid(problems) => {
                (problems[0].field.clone(), problems[0].message.clone())
            }
            BacktestFailure::Failed(e) => panic!("{e}"),
        };
        let mut no_sweep = request(&["BTC", "ETH"]);
        no_sweep.params.insert("fast".to_owned(), 5.0);
        no_sweep.params.insert("slow".to_owned(), 20.0);
        no_sweep.per_instrument = true;
        let (f, m) = field(
            plan(&no_sweep, &prepared(&no_sweep, &files).await)
                .err()
                .expect("refused"),
        );
        assert_eq!(f, "per_instrument");
        assert!(m.contains("swept parameters"), "{m}");

        let mut one = request(&["BTC"]);
        one.sweep = vec!["fast=5..10:5".to_owned(), "slow=20..30:10".to_owned()];
        one.per_instrument = true;
        let (f, m) = field(
            plan(&one, &prepared(&one, &files).await)
                .err()
                .expect("refused"),
        );
        assert_eq!(f, "per_instrument");
        assert!(m.contains("at least two, got 1"), "{m}");

        let mut bad = request(&["BTC", "ETH"]);
        bad.sweep = one.sweep.clone();
        bad.per_instrument = true;
        bad.rank_across = Some("best".to_owned());
        let (f, m) = field(
            plan(&bad, &prepared(&bad, &files).await)
                .err()
                .expect("refused"),
        );
        assert_eq!(
            (f.as_str(), m.contains("median or worst")),
            ("rank_across", true),
            "{m}"
        );

        let mut stray = request(&["BTC", "ETH"]);
        stray.sweep = one.sweep.clone();
        stray.rank_across = Some("worst".to_owned());
        let (f, m) = field(
            plan(&stray, &prepared(&stray, &files).await)
                .err()
                .expect("refused"),
        );
        assert_eq!(f, "rank_across");
        assert!(m.contains("per_instrument"), "{m}");
    }
}
