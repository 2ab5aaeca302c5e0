//! Backtest statistics with backtesting.py's definitions (see `docs/SIMULATOR.md`).
//!
//! [`compute`] reproduces backtesting.py 0.6.6's `compute_stats` with a risk-free rate of 0; its
//! output on backtesting.py's own trades and curves is checked in `tests/stats_reference.rs`.
//! Parameter sweeps call it once per combination, and a million-bar backtest once over a curve
//! of 32 MB, so it makes one pass over the curve (two for equities beyond 1e±100) and one over
//! the trades, and allocates nothing per bar (the bar returns are computed and summed in small
//! blocks on the stack), only one vector of trade intervals.
//!
//! Definitions worth knowing (backtesting.py's, kept on purpose):
//! - Bar returns are bar to bar. backtesting.py takes them between the last points of
//!   consecutive calendar days (`resample('D').last().dropna().pct_change()`), which is the same
//!   for a curve with one point per day, as the simulator's are; a curve with several points on
//!   one day would get different Return (Ann.), Volatility, Sharpe and Sortino here.
//! - The geometric mean bar return `g`, the variance (ddof 1) and the Sortino downside use the
//!   n − 1 returns of n bars.
//! - Return (Ann.) = (1 + g)^N − 1 and Volatility (Ann.) = √((var + (1 + g)²)^N − (1 + g)^(2N)),
//!   N = `annual_periods`; CAGR uses calendar days / 365.25.
//! - A drawdown runs from a bar at its running peak to the next one, or to the last bar. One
//!   that covers only the last bar counts in Max. Drawdown but not in the average drawdown or
//!   the durations (backtesting.py's quirk, kept so the numbers match).
//! - Durations (drawdowns, trades) are calendar days, averages rounded up to whole days.
//! - Alpha and beta use the log returns of every bar of the equity and of the benchmark.
//! - Win rate, Kelly and SQN use P&L; best, worst, average trade, profit factor and expectancy
//!   use returns. The trades still open at the end count in none of them.

use serde::{Deserialize, Serialize};

use crate::Day;

use crate::candle::decimal_to_f64;
use crate::money::Money;

use super::result::{EquityPoint, Trade};

/// What the statistics are computed from.
#[derive(Debug, Clone, Copy)]
pub struct StatsInput<'a> {
    /// The equity curve, one point per bar of the period.
    pub equity: &'a [EquityPoint],
    /// Closed trades (the trades still open at the end are left out, as in backtesting.py).
    pub trades: &'a [Trade],
    /// The buy-and-hold benchmark's value on every bar (for one instrument: its close), aligned
    /// with `equity`.
    pub benchmark: &'a [f64],
    /// The bar whose benchmark value buy-and-hold starts from (backtesting.py: the first bar on
    /// which every indicator has a value).
    pub benchmark_start: usize,
    /// Bars per year: 365 for instruments trading every day, 252 for a trading calendar.
    pub annual_periods: f64,
}

/// backtesting.py's statistics; `None` where backtesting.py gives NaN (e.g. no trades).
/// Percentages are in percent (12.5 = 12.5 %), durations in days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    /// The first day.
    pub start: Day,
    /// The last day.
    pub end: Day,
    /// `end − start` in days.
    pub duration_days: f64,
    /// Share of bars inside some closed trade's entry..=exit bars, in percent.
    pub exposure_time_pct: f64,
    /// Equity at the last bar.
    pub equity_final: f64,
    /// Highest equity.
    pub equity_peak: f64,
    /// Fees of the closed trades.
    pub commissions: f64,
    /// Total return in percent.
    pub return_pct: f64,
    /// Buy-and-hold return of the benchmark in percent (`None` without a usable benchmark).
    pub buy_and_hold_return_pct: Option<f64>,
    /// Annualised geometric mean return in percent (`None` for a single day).
    pub return_ann_pct: Option<f64>,
    /// Annualised volatility in percent (`None` with fewer than two bar returns).
    pub volatility_ann_pct: Option<f64>,
    /// Compound annual growth rate in percent (calendar days / 365.25; `None` over 0 days).
    pub cagr_pct: Option<f64>,
    /// Return (Ann.) / Volatility (Ann.).
    pub sharpe_ratio: Option<f64>,
    /// Annualised return / annualised downside deviation (+∞ without a losing bar, as in
    /// backtesting.py).
    pub sortino_ratio: Option<f64>,
    /// Annualised return / max drawdown.
    pub calmar_ratio: Option<f64>,
    /// Excess return over beta × buy-and-hold, in percent.
    pub alpha_pct: Option<f64>,
    /// Covariance of log returns with the benchmark's over its variance.
    pub beta: Option<f64>,
    /// Deepest drawdown in percent (negative or 0).
    pub max_drawdown_pct: f64,
    /// Mean of the drawdown peaks in percent.
    pub avg_drawdown_pct: Option<f64>,
    /// Longest drawdown in days.
    pub max_drawdown_duration_days: Option<f64>,
    /// Mean drawdown length in days.
    pub avg_drawdown_duration_days: Option<f64>,
    /// Closed trades.
    pub trades: usize,
    /// Share of closed trades with positive P&L, in percent.
    pub win_rate_pct: Option<f64>,
    /// Best trade return in percent.
    pub best_trade_pct: Option<f64>,
    /// Worst trade return in percent.
    pub worst_trade_pct: Option<f64>,
    /// Geometric mean trade return in percent.
    pub avg_trade_pct: Option<f64>,
    /// Longest trade in days.
    pub max_trade_duration_days: Option<f64>,
    /// Mean trade length in days.
    pub avg_trade_duration_days: Option<f64>,
    /// Sum of winning returns / |sum of losing returns|.
    pub profit_factor: Option<f64>,
    /// Arithmetic mean trade return in percent.
    pub expectancy_pct: Option<f64>,
    /// System quality number: √n × mean(P&L) / std(P&L).
    pub sqn: Option<f64>,
    /// Kelly criterion.
    pub kelly_criterion: Option<f64>,
}

/// Computes backtesting.py's statistics (risk-free rate 0) from a backtest's curve and trades.
///
/// Equity values are expected to be positive. An empty curve gives 1970-01-01 dates, zeros and
/// `None`s (the simulator never produces one). A `benchmark` that is not aligned with `equity`
/// (another length) gives no alpha and beta; a `benchmark_start` outside it gives no
/// buy-and-hold return either.
pub fn compute(input: &StatsInput<'_>) -> Statistics {
    let equity = input.equity;
    let trades = TradeSummary::of(input.trades);
    let (Some(first), Some(last)) = (equity.first(), equity.last()) else {
        return trades.statistics();
    };
    let curve = CurveSummary::of(equity, input.benchmark);
    let ratios = CurveStatistics::of(first, last, &curve, input.annual_periods);
    let return_pct = ratios.return_pct;
    let buy_and_hold_return_pct = buy_and_hold_pct(input.benchmark, input.benchmark_start);
    let beta = curve.beta;
    let alpha_pct = match (beta, buy_and_hold_return_pct) {
        (Some(beta), Some(bh)) => finite(return_pct - beta * bh),
        _ => None,
    };

    Statistics {
        start: first.day,
        end: last.day,
        duration_days: (last.day - first.day).num_days() as f64,
        exposure_time_pct: exposure_pct(input.trades, equity.len()),
        equity_final: last.equity,
        equity_peak: curve.equity_peak,
        commissions: decimal_to_f64(trades.fees),
        return_pct,
        buy_and_hold_return_pct,
        return_ann_pct: ratios.return_ann_pct,
        volatility_ann_pct: ratios.volatility_ann_pct,
        cagr_pct: ratios.cagr_pct,
        sharpe_ratio: ratios.sharpe_ratio,
        sortino_ratio: ratios.sortino_ratio,
        calmar_ratio: ratios.calmar_ratio,
        alpha_pct,
        beta,
        max_drawdown_pct: -curve.max_drawdown * 100.0,
        avg_drawdown_pct: curve.mean_drawdown.map(|peak| -peak * 100.0),
        max_drawdown_duration_days: curve.longest_drawdown_days.map(|d| d as f64),
        avg_drawdown_duration_days: curve.mean_drawdown_days.map(|d| d as f64),
        ..trades.statistics()
    }
}

/// A finite value, or `None` for NaN and infinities.
fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// The statistics the equity curve alone decides, with backtesting.py's definitions: what a
/// sweep's screening pass can rank by without trades or a benchmark (see
/// [`super::screen`]). [`compute`] takes the same numbers from here, so the two cannot drift.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurveStatistics {
    /// Total return in percent.
    pub return_pct: f64,
    /// Annualised geometric mean return in percent.
    pub return_ann_pct: Option<f64>,
    /// Annualised volatility in percent.
    pub volatility_ann_pct: Option<f64>,
    /// Compound annual growth rate in percent.
    pub cagr_pct: Option<f64>,
    /// Return (Ann.) / Volatility (Ann.).
    pub sharpe_ratio: Option<f64>,
    /// Annualised return / annualised downside deviation.
    pub sortino_ratio: Option<f64>,
    /// Annualised return / max drawdown.
    pub calmar_ratio: Option<f64>,
    /// Highest equity.
    pub equity_peak: f64,
    /// Deepest drawdown in percent (negative or 0).
    pub max_drawdown_pct: f64,
}

impl CurveStatistics {
    /// The curve statistics of a non-empty `equity` curve (`None` for an empty one).
    pub fn of_curve(equity: &[EquityPoint], annual_periods: f64) -> Option<Self> {
        let (first, last) = (equity.first()?, equity.last()?);
        let curve = CurveSummary::of(equity, &[]);
        Some(Self::of(first, last, &curve, annual_periods))
    }

    fn of(first: &EquityPoint, last: &EquityPoint, curve: &CurveSummary, periods: f64) -> Self {
        let (start_equity, final_equity) = (first.equity, last.equity);
        let duration_days = (last.day - first.day).num_days();
        let return_pct = (final_equity - start_equity) / start_equity * 100.0;
        let growth = 1.0 + curve.geometric_mean.unwrap_or(f64::NAN);
        // NaN (backtesting.py's) until it becomes `None` in the statistics.
        let annualized = growth.powf(periods) - 1.0;
        let volatility_ann_pct = curve
            .variance
            .map(|variance| {
                ((variance + growth * growth).powf(periods) - growth.powf(2.0 * periods)).sqrt()
                    * 100.0
            })
            .filter(|v| !v.is_nan());
        let cagr_pct = (duration_days != 0).then(|| {
            let years = duration_days as f64 / 365.25;
            ((final_equity / start_equity).powf(1.0 / years) - 1.0) * 100.0
        });
        let sortino_ratio = curve
            .downside_mean_square
            .map(|mean_square| annualized / (mean_square.sqrt() * periods.sqrt()))
            .filter(|v| !v.is_nan());
        let return_ann_pct = finite(annualized * 100.0);
        let max_dd = curve.max_drawdown;
        Self {
            return_pct,
            return_ann_pct,
            volatility_ann_pct,
            cagr_pct,
            sharpe_ratio: match (return_ann_pct, volatility_ann_pct) {
                (Some(r), Some(v)) if v != 0.0 => finite(r / v),
                _ => None,
            },
            sortino_ratio,
            calmar_ratio: return_ann_pct
                .filter(|_| max_dd != 0.0)
                .map(|_| annualized / max_dd),
            equity_peak: curve.equity_peak,
            max_drawdown_pct: -max_dd * 100.0,
        }
    }
}

/// `⌈sum / count⌉` for non-negative day counts: pandas' mean of whole-day timedeltas, rounded up
/// to the day (exact: sums of whole days in nanoseconds are exact in f64 below 6.8 million days).
fn mean_days_ceil(sum: i64, count: usize) -> Option<i64> {
    let count = i64::try_from(count).ok().filter(|c| *c > 0)?;
    Some(sum.div_euclid(count) + i64::from(sum.rem_euclid(count) != 0))
}

/// backtesting.py's `Buy & Hold Return [%]`: `(last − start) / start × 100`.
fn buy_and_hold_pct(benchmark: &[f64], start: usize) -> Option<f64> {
    let base = *benchmark.get(start)?;
    let last = *benchmark.last()?;
    finite((last - base) / base * 100.0)
}

/// Share of bars inside some trade's `entry_bar..=exit_bar`, in percent.
fn exposure_pct(trades: &[Trade], bars: usize) -> f64 {
    if bars == 0 {
        return 0.0;
    }
    let mut spans: Vec<(usize, usize)> = trades
        .iter()
        .filter(|t| t.entry_bar < bars && t.entry_bar <= t.exit_bar)
        .map(|t| (t.entry_bar, t.exit_bar.min(bars - 1)))
        .collect();
    spans.sort_unstable();
    let mut covered = 0;
    // The first bar not yet counted.
    let mut next_free = 0;
    for (entry, exit) in spans {
        let from = entry.max(next_free);
        if exit >= from {
            covered += exit - from + 1;
            next_free = exit + 1;
        }
    }
    covered as f64 / bars as f64 * 100.0
}

/// Everything [`compute`] takes from the equity curve and the benchmark.
struct CurveSummary {
    /// Highest equity.
    equity_peak: f64,
    /// Deepest drawdown as a fraction (0 or positive).
    max_drawdown: f64,
    /// Mean of the drawdown peaks as a fraction.
    mean_drawdown: Option<f64>,
    /// Longest drawdown in days.
    longest_drawdown_days: Option<i64>,
    /// Mean drawdown length in days, rounded up.
    mean_drawdown_days: Option<i64>,
    /// `exp(Σ ln(1 + r) / count) − 1` of the bar returns; 0 when some `1 + r ≤ 0`, as in
    /// backtesting.py; `None` without returns (a single bar).
    geometric_mean: Option<f64>,
    /// Sample variance (ddof 1) of the bar returns; `None` with fewer than two.
    variance: Option<f64>,
    /// Mean of `min(r, 0)²` over the bar returns; `None` without returns.
    downside_mean_square: Option<f64>,
    /// `cov(ln equity returns, ln benchmark returns) / var(ln benchmark returns)`; `None` when
    /// the benchmark is not aligned or has no variance.
    beta: Option<f64>,
}

impl CurveSummary {
    /// Over a non-empty curve and, when it is aligned with it, the benchmark.
    ///
    /// Divisions and logarithms dominate the cost, so:
    /// - the bar returns and log returns are computed by element-wise loops into small blocks
    ///   on the stack, which the compiler vectorizes (two divisions per instruction), the
    ///   logarithms as a short series (see [`ln_ratio_series`]); each block is summed before
    ///   the next is computed, so nothing the size of the curve is allocated;
    /// - a bar is at its running peak (a drawdown of exactly 0, as backtesting.py tests it)
    ///   exactly when its equity equals the peak (for e < peak, e / peak rounds below 1), and a
    ///   drawdown's deepest point is its lowest equity: one division per drawdown;
    /// - Σ ln(1 + r) telescopes to ln(last / first): one logarithm for the geometric mean.
    fn of(equity: &[EquityPoint], benchmark: &[f64]) -> Self {
        let n = equity.len();
        let last = n - 1;
        let bars = last.max(1) as f64;
        let growth_log = (equity[last].equity / equity[0].equity).ln();

        let aligned = benchmark.len() == n && n >= 3;
        // Shifting the one-pass sums by (estimates of) the means keeps them accurate.
        let shift = (growth_log / bars).exp_m1();
        let shift = if shift.is_finite() { shift } else { 0.0 };

        // One pass reads the drawdowns and sums the returns block by block, the returns taken
        // as if every equity were moderate (see `bar_returns`); the rare curve that turns out
        // not to be is summed again the exact way.
        let mut scan = DrawdownScan::new(equity[0].equity);
        let (mut sums, mut beta) = sum_returns(equity, benchmark, aligned, true, shift, &mut scan);
        let drawdowns = scan.finish(equity);
        let moderate = drawdowns.lowest >= 1e-100 && drawdowns.peak <= 1e100;
        if aligned && !moderate {
            let mut again = DrawdownScan::new(equity[0].equity);
            (sums, beta) = sum_returns(equity, benchmark, aligned, false, shift, &mut again);
        }

        let (sum_r, sum_rr, downside) = (
            lanes_sum(sums.sum_r),
            lanes_sum(sums.sum_rr),
            lanes_sum(sums.downside),
        );
        // backtesting.py's `1 + r <= 0` test, on the lowest return.
        let nonpositive = sums.lowest.iter().any(|r| r + 1.0 <= 0.0);
        let count = last as f64;
        let geometric_mean = match last {
            0 => None,
            _ if nonpositive => Some(0.0),
            _ => Some((growth_log / count).exp() - 1.0),
        };

        Self {
            equity_peak: drawdowns.peak,
            max_drawdown: drawdowns.max,
            mean_drawdown: drawdowns.mean,
            longest_drawdown_days: drawdowns.longest_days,
            mean_drawdown_days: drawdowns.mean_days,
            geometric_mean,
            variance: (last >= 2).then(|| (sum_rr - sum_r * sum_r / count) / (count - 1.0)),
            downside_mean_square: (last >= 1).then(|| downside / count),
            beta: beta.and_then(BetaSums::beta),
        }
    }
}

/// One pass over a non-empty curve: reads every bar after the first into `scan` and sums the
/// bar returns and, when the benchmark is `aligned`, its and the equity's log returns for the
/// beta, computing them in blocks on the stack ([`bar_returns`] with `moderate`).
fn sum_returns<'a>(
    equity: &'a [EquityPoint],
    benchmark: &'a [f64],
    aligned: bool,
    moderate: bool,
    shift: f64,
    scan: &mut DrawdownScan,
) -> (ReturnSums, Option<BetaSums<'a>>) {
    let last = equity.len() - 1;
    let mut sums = ReturnSums::new(shift);
    let mut beta = if aligned {
        BetaSums::new(equity, benchmark)
    } else {
        None
    };
    // [returns | equity log returns | benchmark log returns] of one block of bars after the
    // first; a log return is NaN where its series does not apply, and computed exactly in
    // `BetaSums::add`.
    let (mut returns, mut xs, mut ys) = ([0.0; BLOCK], [0.0; BLOCK], [0.0; BLOCK]);
    let mut start = 0;
    while start < last {
        let len = BLOCK.min(last - start);
        let (returns, xs, ys) = (&mut returns[..len], &mut xs[..len], &mut ys[..len]);
        for i in start + 1..=start + len {
            scan.step(equity, i);
        }
        let window = &equity[start..=start + len];
        if aligned {
            bar_returns(window, moderate, returns, xs);
            for (y, w) in ys.iter_mut().zip(benchmark[start..=start + len].windows(2)) {
                *y = ln_ratio_series(w[1], w[0]);
            }
            if let Some(beta) = &mut beta {
                beta.add(start, xs, ys);
            }
        } else {
            for (r, w) in returns.iter_mut().zip(window.windows(2)) {
                *r = w[1].equity / w[0].equity - 1.0;
            }
        }
        sums.add(returns);
        start += len;
    }
    (sums, beta)
}

/// Independent accumulators per sum in the hot loops.
const LANES: usize = 4;

/// Bar returns computed and summed at a time: three blocks of 4 KiB stay in the L1 cache.
const BLOCK: usize = 512;

// Every block but the last is whole chunks of lanes, so each return lands in the lane it would
// in one pass over the whole curve, and the sums are the same to the bit.
const _: () = assert!(BLOCK.is_multiple_of(LANES));

/// The total of per-lane sums.
fn lanes_sum(lanes: [f64; LANES]) -> f64 {
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
}

/// The sums of the bar returns, return `i` in lane `i % LANES`.
struct ReturnSums {
    /// Subtracted from every return before it is summed (an estimate of their mean).
    shift: f64,
    /// Σ (r − shift).
    sum_r: [f64; LANES],
    /// Σ (r − shift)².
    sum_rr: [f64; LANES],
    /// Σ min(r, 0)².
    downside: [f64; LANES],
    /// Lowest return.
    lowest: [f64; LANES],
}

impl ReturnSums {
    fn new(shift: f64) -> Self {
        Self {
            shift,
            sum_r: [0.0; LANES],
            sum_rr: [0.0; LANES],
            downside: [0.0; LANES],
            lowest: [f64::INFINITY; LANES],
        }
    }

    /// Adds the next returns; every call but the last must add a multiple of [`LANES`].
    fn add(&mut self, returns: &[f64]) {
        let shift = self.shift;
        // Four independent lanes: the additions overlap instead of waiting for each other.
        let (sum_r, sum_rr) = (&mut self.sum_r, &mut self.sum_rr);
        let (downside, lowest) = (&mut self.downside, &mut self.lowest);
        let mut chunks = returns.chunks_exact(LANES);
        for chunk in &mut chunks {
            for k in 0..LANES {
                let r = chunk[k];
                let d = r - shift;
                sum_r[k] += d;
                sum_rr[k] += d * d;
                let down = r.min(0.0);
                downside[k] += down * down;
                lowest[k] = lowest[k].min(r);
            }
        }
        for (k, &r) in chunks.remainder().iter().enumerate() {
            let d = r - shift;
            sum_r[k] += d;
            sum_rr[k] += d * d;
            let down = r.min(0.0);
            downside[k] += down * down;
            lowest[k] = lowest[k].min(r);
        }
    }
}

/// backtesting.py's beta, summed block by block from the provisional log returns of the
/// equity and of the benchmark of every bar after the first: the covariance over the
/// benchmark's variance (ddof cancels).
struct BetaSums<'a> {
    equity: &'a [EquityPoint],
    benchmark: &'a [f64],
    /// Log returns summed (one per bar after the first).
    bars: f64,
    mean_x: f64,
    mean_y: f64,
    sx: [f64; LANES],
    sy: [f64; LANES],
    sxy: [f64; LANES],
    syy: [f64; LANES],
}

impl<'a> BetaSums<'a> {
    /// For a curve and a benchmark of the same length (at least 2); `None` when their log
    /// returns have no finite mean (no beta then).
    fn new(equity: &'a [EquityPoint], benchmark: &'a [f64]) -> Option<Self> {
        let bars = (equity.len() - 1) as f64;
        // The log returns telescope: their means are exact, and shifting by them keeps the
        // one-pass sums accurate.
        let mean_x = (equity[equity.len() - 1].equity / equity[0].equity).ln() / bars;
        let mean_y = (benchmark[benchmark.len() - 1] / benchmark[0]).ln() / bars;
        if !(mean_x.is_finite() && mean_y.is_finite()) {
            return None;
        }
        Some(Self {
            equity,
            benchmark,
            bars,
            mean_x,
            mean_y,
            sx: [0.0; LANES],
            sy: [0.0; LANES],
            sxy: [0.0; LANES],
            syy: [0.0; LANES],
        })
    }

    /// Adds the log returns `xs` (equity) and `ys` (benchmark) of the bars after bar `start`;
    /// `start` is a multiple of [`LANES`], and every call but the last adds a multiple of it.
    fn add(&mut self, start: usize, xs: &mut [f64], ys: &mut [f64]) {
        let (equity, benchmark) = (self.equity, self.benchmark);
        let (mean_x, mean_y) = (self.mean_x, self.mean_y);
        let (sx, sy, sxy, syy) = (&mut self.sx, &mut self.sy, &mut self.sxy, &mut self.syy);
        // Four independent lanes: the additions overlap instead of waiting for each other.
        let mut accumulate = |k: usize, x: f64, y: f64| {
            let (dx, dy) = (x - mean_x, y - mean_y);
            sx[k] += dx;
            sy[k] += dy;
            sxy[k] += dx * dy;
            syy[k] += dy * dy;
        };
        let exact = |k: usize, x: &mut f64, y: &mut f64| {
            if x.is_nan() {
                *x = (equity[k + 1].equity / equity[k].equity).ln();
            }
            if y.is_nan() {
                *y = (benchmark[k + 1] / benchmark[k]).ln();
            }
        };
        let mut offset = 0;
        for (xc, yc) in xs.chunks_exact_mut(LANES).zip(ys.chunks_exact_mut(LANES)) {
            if xc.iter().chain(yc.iter()).any(|v| v.is_nan()) {
                for k in 0..LANES {
                    exact(start + offset + k, &mut xc[k], &mut yc[k]);
                }
            }
            for k in 0..LANES {
                accumulate(k, xc[k], yc[k]);
            }
            offset += LANES;
        }
        for k in offset..xs.len() {
            let (mut x, mut y) = (xs[k], ys[k]);
            exact(start + k, &mut x, &mut y);
            accumulate(k - offset, x, y);
        }
    }

    /// The beta; `None` when the benchmark has no variance.
    fn beta(self) -> Option<f64> {
        let bars = self.bars;
        let (sx, sy) = (lanes_sum(self.sx), lanes_sum(self.sy));
        let (sxy, syy) = (lanes_sum(self.sxy), lanes_sum(self.syy));
        let covariance = sxy - sx * sy / bars;
        let variance = syy - sy * sy / bars;
        if variance == 0.0 {
            return None;
        }
        finite(covariance / variance)
    }
}

/// Fills `returns` with the bar returns `e / e₀ − 1` and `logs` with the log returns
/// `ln(e / e₀)` (NaN where [`ln_ratio_series`] does not apply). One division serves both:
/// with `u = 1 / (e₀ (e + e₀))`, `r = (e − e₀)(e + e₀) u` and `z = (e − e₀) e₀ u`, each within a
/// few ulps. Unless every equity is `moderate` (within 1e±100, so that the product stays in the
/// normal range), two plain divisions.
fn bar_returns(equity: &[EquityPoint], moderate: bool, returns: &mut [f64], logs: &mut [f64]) {
    let pairs = returns
        .iter_mut()
        .zip(logs.iter_mut())
        .zip(equity.windows(2));
    if moderate {
        for ((r, x), w) in pairs {
            let (e, e0) = (w[1].equity, w[0].equity);
            let (difference, sum) = (e - e0, e + e0);
            let u = 1.0 / (e0 * sum);
            *r = difference * sum * u;
            *x = ln_series(difference * e0 * u, e, e0);
        }
    } else {
        for ((r, x), w) in pairs {
            let (e, e0) = (w[1].equity, w[0].equity);
            *r = e / e0 - 1.0;
            *x = ln_ratio_series(e, e0);
        }
    }
}

/// `ln(a / b)` as [`ln_series`] of `z = (a − b) / (a + b)`; NaN where the series does not apply.
#[inline]
fn ln_ratio_series(a: f64, b: f64) -> f64 {
    ln_series((a - b) / (a + b), a, b)
}

/// `ln(a / b) = 2 atanh(z)` for `z = (a − b) / (a + b)`, summed as its series up to z¹¹: within
/// a few ulps while |z| < 1/16, i.e. while the ratio lies within about ±13 % of 1 (the first
/// term left out is below 3e-16 relative); NaN otherwise (and for non-positive values).
/// Branch-free so that loops over it vectorize.
#[inline]
fn ln_series(z: f64, a: f64, b: f64) -> f64 {
    let w = z * z;
    // Estrin's scheme: shorter dependency chains than Horner's.
    let w2 = w * w;
    let low = 1.0 + w * (1.0 / 3.0);
    let mid = 1.0 / 5.0 + w * (1.0 / 7.0);
    let high = 1.0 / 9.0 + w * (1.0 / 11.0);
    let series = 2.0 * z * (low + w2 * (mid + w2 * high));
    // Decided on a and b, not on z, so that it does not hinge on z's rounding.
    if (a - b).abs() * 16.0 < a + b {
        series
    } else {
        f64::NAN
    }
}

/// Drawdowns of the curve: `1 − equity / running peak` at every bar.
struct Drawdowns {
    /// Highest equity.
    peak: f64,
    /// Lowest equity.
    lowest: f64,
    /// Deepest drawdown as a fraction (0 or positive).
    max: f64,
    /// Mean of the episodes' deepest drawdowns as a fraction.
    mean: Option<f64>,
    /// Longest episode in days.
    longest_days: Option<i64>,
    /// Mean episode length in days, rounded up.
    mean_days: Option<i64>,
}

/// [`Drawdowns`] read bar by bar. backtesting.py's episodes run from a bar at its peak to the
/// next one (or to the last bar) when at least one bar lies between them.
struct DrawdownScan {
    /// Highest equity so far.
    peak: f64,
    /// Lowest equity since the last bar at its peak (∞ at it).
    trough: f64,
    /// Lowest equity of the finished episodes and the first bar.
    lowest: f64,
    /// The last bar at its running peak.
    last_zero: usize,
    /// Deepest finished episode.
    max: f64,
    /// Σ of the finished episodes' depths.
    depth_sum: f64,
    /// Finished episodes.
    episodes: usize,
    /// Σ of their lengths in days.
    days_sum: i64,
    /// The longest of them in days.
    days_max: i64,
}

impl DrawdownScan {
    /// At the first bar, of equity `first`.
    fn new(first: f64) -> Self {
        Self {
            peak: first,
            trough: f64::INFINITY,
            lowest: first,
            last_zero: 0,
            max: 0.0,
            depth_sum: 0.0,
            episodes: 0,
            days_sum: 0,
            days_max: 0,
        }
    }

    /// Reads bar `i` (after the first) of `equity`; bars are read in order.
    #[inline]
    fn step(&mut self, equity: &[EquityPoint], i: usize) {
        let e = equity[i].equity;
        if e >= self.peak {
            if i > self.last_zero + 1 {
                let depth = 1.0 - self.trough / self.peak;
                self.max = self.max.max(depth);
                self.lowest = self.lowest.min(self.trough);
                self.episode(equity, i, depth);
            }
            self.peak = e;
            self.last_zero = i;
            self.trough = f64::INFINITY;
        } else {
            self.trough = self.trough.min(e);
        }
    }

    /// Counts the episode from the last bar at its peak to bar `to`.
    fn episode(&mut self, equity: &[EquityPoint], to: usize, depth: f64) {
        let days = (equity[to].day - equity[self.last_zero].day).num_days();
        self.depth_sum += depth;
        self.episodes += 1;
        self.days_sum += days;
        self.days_max = self.days_max.max(days);
    }

    /// The drawdowns once every bar of the non-empty `equity` has been read.
    fn finish(mut self, equity: &[EquityPoint]) -> Drawdowns {
        let last = equity.len() - 1;
        let mut trailing = None;
        if self.last_zero < last {
            self.lowest = self.lowest.min(self.trough);
            let depth = 1.0 - self.trough / self.peak;
            self.max = self.max.max(depth);
            if last > self.last_zero + 1 {
                self.episode(equity, last, depth);
            } else {
                trailing = Some(depth);
            }
        }
        if self.episodes == 0 {
            // backtesting.py then averages the non-zero drawdowns, which can only be the last
            // bar's; its "durations" are then that drawdown too, which is no duration: None.
            return Drawdowns {
                peak: self.peak,
                lowest: self.lowest,
                max: self.max,
                mean: trailing,
                longest_days: None,
                mean_days: None,
            };
        }
        Drawdowns {
            peak: self.peak,
            lowest: self.lowest,
            max: self.max,
            mean: Some(self.depth_sum / self.episodes as f64),
            longest_days: Some(self.days_max),
            mean_days: mean_days_ceil(self.days_sum, self.episodes),
        }
    }
}

/// An amount as f64 within 1 ulp of [`decimal_to_f64`] (equal when the mantissa is below 2⁵³),
/// without its text round trip for long mantissas, which fractional sizes give most P&Ls.
fn money_to_f64(money: Money) -> f64 {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let value = money.0;
    match (
        i64::try_from(value.mantissa()),
        POW10.get(value.scale() as usize),
    ) {
        // One rounding converting the mantissa, one dividing by the exact power of ten.
        (Ok(mantissa), Some(power)) => mantissa as f64 / power,
        _ => decimal_to_f64(value),
    }
}

/// The closed trades' sums, from one pass.
struct TradeSummary {
    /// Closed trades.
    count: usize,
    /// Trades with P&L > 0.
    wins: usize,
    /// Trades with P&L < 0.
    losses: usize,
    /// Sum of the positive P&Ls.
    win_pnl: f64,
    /// Sum of the negative P&Ls.
    loss_pnl: f64,
    /// Mean P&L.
    mean_pnl: f64,
    /// Σ (P&L − mean)².
    pnl_deviation_sq: f64,
    /// Sum of the returns.
    return_sum: f64,
    /// Sum of the positive returns.
    positive_returns: f64,
    /// Sum of the negative returns.
    negative_returns: f64,
    /// Highest return.
    best: f64,
    /// Lowest return.
    worst: f64,
    /// Geometric mean return (0 when some `1 + r ≤ 0`).
    geometric_mean: f64,
    /// Sum of the trade lengths in days.
    days_sum: i64,
    /// Longest trade in days.
    days_max: i64,
    /// Sum of the fees, exact.
    fees: rust_decimal::Decimal,
}

impl TradeSummary {
    /// Sums over the trades.
    fn of(trades: &[Trade]) -> Self {
        let mut s = Self {
            count: trades.len(),
            wins: 0,
            losses: 0,
            win_pnl: 0.0,
            loss_pnl: 0.0,
            mean_pnl: 0.0,
            pnl_deviation_sq: 0.0,
            return_sum: 0.0,
            positive_returns: 0.0,
            negative_returns: 0.0,
            best: f64::NEG_INFINITY,
            worst: f64::INFINITY,
            geometric_mean: 0.0,
            days_sum: 0,
            days_max: 0,
            fees: rust_decimal::Decimal::ZERO,
        };
        let mut pnl_sum = 0.0;
        // Shifting the P&L sums by the first P&L keeps the one-pass variance accurate.
        let shift = trades.first().map_or(0.0, |t| money_to_f64(t.pnl));
        let (mut shifted_sum, mut shifted_sq) = (0.0, 0.0);
        let mut growth = 1.0;
        let mut nonpositive = false;
        for trade in trades {
            let pnl = money_to_f64(trade.pnl);
            pnl_sum += pnl;
            shifted_sum += pnl - shift;
            shifted_sq += (pnl - shift) * (pnl - shift);
            if pnl > 0.0 {
                s.wins += 1;
                s.win_pnl += pnl;
            } else if pnl < 0.0 {
                s.losses += 1;
                s.loss_pnl += pnl;
            }
            let r = trade.return_fraction;
            s.return_sum += r;
            if r > 0.0 {
                s.positive_returns += r;
            } else if r < 0.0 {
                s.negative_returns += r;
            }
            s.best = s.best.max(r);
            s.worst = s.worst.min(r);
            nonpositive |= r + 1.0 <= 0.0;
            growth *= 1.0 + r;
            let days = (trade.exit_day - trade.entry_day).num_days();
            s.days_sum += days;
            s.days_max = s.days_max.max(days);
            s.fees += trade.fees.0;
        }
        let n = s.count as f64;
        s.mean_pnl = pnl_sum / n;
        s.pnl_deviation_sq = shifted_sq - shifted_sum * shifted_sum / n;
        if !nonpositive && s.count > 0 {
            // One logarithm of the product, unless it left the normal range.
            let log_sum = if growth.is_normal() {
                growth.ln()
            } else {
                trades.iter().map(|t| (1.0 + t.return_fraction).ln()).sum()
            };
            s.geometric_mean = (log_sum / n).exp() - 1.0;
        }
        s
    }

    /// The trade statistics; the curve's fields are those of an empty curve (zeros, `None`s and
    /// 1970-01-01), which [`compute`] overwrites.
    fn statistics(&self) -> Statistics {
        let n = self.count as f64;
        let any = self.count > 0;
        let win_rate = self.wins as f64 / n;
        let std_pnl = (self.pnl_deviation_sq / (n - 1.0)).sqrt();
        let kelly = if self.wins > 0 && self.losses > 0 {
            let payoff = (self.win_pnl / self.wins as f64) / -(self.loss_pnl / self.losses as f64);
            finite(win_rate - (1.0 - win_rate) / payoff)
        } else {
            None
        };
        Statistics {
            start: Day::default(),
            end: Day::default(),
            duration_days: 0.0,
            exposure_time_pct: 0.0,
            equity_final: 0.0,
            equity_peak: 0.0,
            commissions: decimal_to_f64(self.fees),
            return_pct: 0.0,
            buy_and_hold_return_pct: None,
            return_ann_pct: None,
            volatility_ann_pct: None,
            cagr_pct: None,
            sharpe_ratio: None,
            sortino_ratio: None,
            calmar_ratio: None,
            alpha_pct: None,
            beta: None,
            max_drawdown_pct: 0.0,
            avg_drawdown_pct: None,
            max_drawdown_duration_days: None,
            avg_drawdown_duration_days: None,
            trades: self.count,
            win_rate_pct: any.then_some(win_rate * 100.0),
            best_trade_pct: any.then_some(self.best * 100.0),
            worst_trade_pct: any.then_some(self.worst * 100.0),
            avg_trade_pct: any.then_some(self.geometric_mean * 100.0),
            max_trade_duration_days: any.then_some(self.days_max as f64),
            avg_trade_duration_days: mean_days_ceil(self.days_sum, self.count).map(|d| d as f64),
            profit_factor: (self.negative_returns != 0.0)
                .then(|| self.positive_returns / self.negative_returns.abs()),
            expectancy_pct: any.then(|| self.return_sum / n * 100.0),
            sqn: (self.count >= 2 && std_pnl != 0.0)
                .then(|| n.sqrt() * self.mean_pnl / std_pnl)
                .and_then(finite),
            kelly_criterion: kelly,
        }
    }
}

impl Statistics {
    /// backtesting.py's labels in backtesting.py's order, with values formatted for people.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let number = |v: f64| format!("{v:.2}");
        let opt = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), number);
        let days = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.0} days"));
        // In the order of [`Statistics::KEYS`], so each value takes its label from `LABELS`.
        let values: [String; Self::KEYS.len()] = [
            days(Some(self.duration_days)),
            number(self.exposure_time_pct),
            number(self.equity_final),
            number(self.equity_peak),
            number(self.commissions),
            number(self.return_pct),
            opt(self.buy_and_hold_return_pct),
            opt(self.return_ann_pct),
            opt(self.volatility_ann_pct),
            opt(self.cagr_pct),
            opt(self.sharpe_ratio),
            opt(self.sortino_ratio),
            opt(self.calmar_ratio),
            opt(self.alpha_pct),
            opt(self.beta),
            number(self.max_drawdown_pct),
            opt(self.avg_drawdown_pct),
            days(self.max_drawdown_duration_days),
            days(self.avg_drawdown_duration_days),
            self.trades.to_string(),
            opt(self.win_rate_pct),
            opt(self.best_trade_pct),
            opt(self.worst_trade_pct),
            opt(self.avg_trade_pct),
            days(self.max_trade_duration_days),
            days(self.avg_trade_duration_days),
            opt(self.profit_factor),
            opt(self.expectancy_pct),
            opt(self.sqn),
            opt(self.kelly_criterion),
        ];
        let mut rows = vec![
            ("Start", self.start.to_string()),
            ("End", self.end.to_string()),
        ];
        rows.extend(Self::LABELS.iter().copied().zip(values));
        rows
    }

    /// The numeric statistics' field names, in [`Statistics::rows`] order, for ranking.
    pub const KEYS: &'static [&'static str] = &[
        "duration_days",
        "exposure_time_pct",
        "equity_final",
        "equity_peak",
        "commissions",
        "return_pct",
        "buy_and_hold_return_pct",
        "return_ann_pct",
        "volatility_ann_pct",
        "cagr_pct",
        "sharpe_ratio",
        "sortino_ratio",
        "calmar_ratio",
        "alpha_pct",
        "beta",
        "max_drawdown_pct",
        "avg_drawdown_pct",
        "max_drawdown_duration_days",
        "avg_drawdown_duration_days",
        "trades",
        "win_rate_pct",
        "best_trade_pct",
        "worst_trade_pct",
        "avg_trade_pct",
        "max_trade_duration_days",
        "avg_trade_duration_days",
        "profit_factor",
        "expectancy_pct",
        "sqn",
        "kelly_criterion",
    ];

    /// backtesting.py's label of each of [`Statistics::KEYS`], in the same order.
    pub const LABELS: [&'static str; Self::KEYS.len()] = [
        "Duration",
        "Exposure Time [%]",
        "Equity Final [$]",
        "Equity Peak [$]",
        "Commissions [$]",
        "Return [%]",
        "Buy & Hold Return [%]",
        "Return (Ann.) [%]",
        "Volatility (Ann.) [%]",
        "CAGR [%]",
        "Sharpe Ratio",
        "Sortino Ratio",
        "Calmar Ratio",
        "Alpha [%]",
        "Beta",
        "Max. Drawdown [%]",
        "Avg. Drawdown [%]",
        "Max. Drawdown Duration",
        "Avg. Drawdown Duration",
        "# Trades",
        "Win Rate [%]",
        "Best Trade [%]",
        "Worst Trade [%]",
        "Avg. Trade [%]",
        "Max. Trade Duration",
        "Avg. Trade Duration",
        "Profit Factor",
        "Expectancy [%]",
        "SQN",
        "Kelly Criterion",
    ];

    /// The label [`Statistics::rows`] gives statistic `key` (`start`, `end` or one of
    /// [`Statistics::KEYS`]); `None` for another key.
    pub fn label(key: &str) -> Option<&'static str> {
        match key {
            "start" => Some("Start"),
            "end" => Some("End"),
            _ => Self::KEYS
                .iter()
                .position(|k| *k == key)
                .map(|i| Self::LABELS[i]),
        }
    }

    /// The value of one of [`Statistics::KEYS`]; `None` for another key or a missing value.
    pub fn value(&self, key: &str) -> Option<f64> {
        match key {
            "duration_days" => Some(self.duration_days),
            "exposure_time_pct" => Some(self.exposure_time_pct),
            "equity_final" => Some(self.equity_final),
            "equity_peak" => Some(self.equity_peak),
            "commissions" => Some(self.commissions),
            "return_pct" => Some(self.return_pct),
            "buy_and_hold_return_pct" => self.buy_and_hold_return_pct,
            "return_ann_pct" => self.return_ann_pct,
            "volatility_ann_pct" => self.volatility_ann_pct,
            "cagr_pct" => self.cagr_pct,
            "sharpe_ratio" => self.sharpe_ratio,
            "sortino_ratio" => self.sortino_ratio,
            "calmar_ratio" => self.calmar_ratio,
            "alpha_pct" => self.alpha_pct,
            "beta" => self.beta,
            "max_drawdown_pct" => Some(self.max_drawdown_pct),
            "avg_drawdown_pct" => self.avg_drawdown_pct,
            "max_drawdown_duration_days" => self.max_drawdown_duration_days,
            "avg_drawdown_duration_days" => self.avg_drawdown_duration_days,
            "trades" => Some(self.trades as f64),
            "win_rate_pct" => self.win_rate_pct,
            "best_trade_pct" => self.best_trade_pct,
            "worst_trade_pct" => self.worst_trade_pct,
            "avg_trade_pct" => self.avg_trade_pct,
            "max_trade_duration_days" => self.max_trade_duration_days,
            "avg_trade_duration_days" => self.avg_trade_duration_days,
            "profit_factor" => self.profit_factor,
            "expectancy_pct" => self.expectancy_pct,
            "sqn" => self.sqn,
            "kelly_criterion" => self.kelly_criterion,
            _ => None,
        }
        .filter(|v| !v.is_nan())
    }

    /// Whether a larger value of `key` ranks better. False for costs and risks: volatility,
    /// commissions, exposure (time at risk), beta (market dependence), drawdown and trade
    /// durations. Drawdowns are negative percentages, so for them higher (nearer 0) is better.
    /// True for unknown keys.
    pub fn higher_is_better(key: &str) -> bool {
        !matches!(
            key,
            "volatility_ann_pct"
                | "commissions"
                | "exposure_time_pct"
                | "beta"
                | "max_drawdown_duration_days"
                | "avg_drawdown_duration_days"
                | "max_trade_duration_days"
                | "avg_trade_duration_days"
        )
    }
}

#[cfg(test)]
pub(super) mod tests {
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    use super::*;
    use crate::account::{ExitReason, PositionId};
    use crate::money::{Price, Quantity};
    use crate::symbol::Symbol;

    fn day(offset: i64) -> Day {
        Day::from_ymd_opt(2024, 1, 1).expect("valid date") + chrono::Duration::days(offset)
    }

    /// One point per day from 2024-01-01.
    fn curve(values: &[f64]) -> Vec<EquityPoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, &equity)| EquityPoint {
                day: day(i64::try_from(i).expect("small")),
                equity,
                cash: equity,
                drawdown: 0.0,
            })
            .collect()
    }

    /// A trade with the given bars (days = bars), P&L and return.
    pub(in crate::simulator) fn trade(
        entry: usize,
        exit: usize,
        pnl: Decimal,
        return_fraction: f64,
    ) -> Trade {
        let offset = |bar: usize| day(i64::try_from(bar).expect("small"));
        Trade {
            position: PositionId(1),
            symbol: Symbol::parse("BTC").expect("symbol"),
            strategy: "cross".to_owned(),
            entry_day: offset(entry),
            exit_day: offset(exit),
            entry_bar: entry,
            exit_bar: exit,
            quantity: Quantity(dec!(1)),
            entry_price: Price(dec!(100)),
            exit_price: Price(dec!(100) + pnl),
            fees: Money(dec!(0.5)),
            pnl: Money(pnl),
            return_fraction,
            reason: ExitReason::Signal,
        }
    }

    fn stats(equity: &[EquityPoint], trades: &[Trade], benchmark: &[f64]) -> Statistics {
        compute(&StatsInput {
            equity,
            trades,
            benchmark,
            benchmark_start: 0,
            annual_periods: 365.0,
        })
    }

    pub(in crate::simulator) fn assert_close(
        label: &str,
        ours: Option<f64>,
        expected: Option<f64>,
    ) {
        match (ours, expected) {
            (Some(a), Some(b)) if a.is_infinite() || b.is_infinite() => {
                assert_eq!(a, b, "{label}")
            }
            (Some(a), Some(b)) => assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1e-6),
                "{label}: ours {a}, expected {b}"
            ),
            (a, b) => assert_eq!(a, b, "{label}"),
        }
    }

    /// backtesting.py's curve formulas written plainly: two passes, one `ln` per bar.
    fn naive(equity: &[f64], benchmark: &[f64], periods: f64) -> [Option<f64>; 6] {
        let returns: Vec<f64> = equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
        let n = returns.len() as f64;
        let g = (returns.iter().map(|r| (1.0 + r).ln()).sum::<f64>() / n).exp() - 1.0;
        let mean = returns.iter().sum::<f64>() / n;
        let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let annual = (1.0 + g).powf(periods) - 1.0;
        let vol = ((var + (1.0 + g).powi(2)).powf(periods) - (1.0 + g).powf(2.0 * periods)).sqrt();
        let down = (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / n).sqrt();
        let logs = |v: &[f64]| -> Vec<f64> { v.windows(2).map(|w| (w[1] / w[0]).ln()).collect() };
        let (x, y) = (logs(equity), logs(benchmark));
        let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
        let cov: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let var_y: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
        let mut peak = f64::NEG_INFINITY;
        let max_dd = equity
            .iter()
            .map(|&e| {
                peak = peak.max(e);
                1.0 - e / peak
            })
            .fold(0.0, f64::max);
        [
            Some(annual * 100.0),
            Some(vol * 100.0),
            Some(annual * 100.0 / (vol * 100.0)),
            Some(annual / (down * periods.sqrt())),
            Some(cov / var_y),
            Some(-max_dd * 100.0),
        ]
    }

    fn curve_stats(s: &Statistics) -> [Option<f64>; 6] {
        [
            s.return_ann_pct,
            s.volatility_ann_pct,
            s.sharpe_ratio,
            s.sortino_ratio,
            s.beta,
            Some(s.max_drawdown_pct),
        ]
    }

    /// A deterministic wavy series with moves up to ±`swing`.
    fn wave(n: usize, start: f64, swing: f64, seed: u64) -> Vec<f64> {
        let mut state = seed;
        let mut value = start;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                let unit = (state >> 11) as f64 / (1_u64 << 53) as f64;
                value *= 1.0 + swing * (2.0 * unit - 1.0);
                value
            })
            .collect()
    }

    #[test]
    fn curve_statistics_match_the_plain_formulas() {
        let cases = [
            (
                "calm",
                wave(500, 10_000.0, 0.02, 1),
                wave(500, 100.0, 0.03, 2),
            ),
            // Moves beyond the ±13 % where the log series applies.
            (
                "wild",
                wave(500, 10_000.0, 0.3, 3),
                wave(500, 100.0, 0.25, 4),
            ),
            // Equity beyond 1e100, where returns take the plain division.
            ("huge", wave(300, 1e120, 0.05, 5), wave(300, 1e-5, 0.05, 6)),
            // Several blocks of returns and a partial one (`BLOCK`), moves on both sides of the
            // log series' range, so that the exact logarithms are needed across blocks.
            (
                "long wild",
                wave(3 * BLOCK + 4, 10_000.0, 0.15, 7),
                wave(3 * BLOCK + 4, 100.0, 0.15, 8),
            ),
            // So large that the moderate way overflows: the blocks are summed again.
            (
                "long huge",
                wave(3 * BLOCK + 3, 1e200, 0.05, 9),
                wave(3 * BLOCK + 3, 100.0, 0.05, 10),
            ),
        ];
        for (label, equity, benchmark) in cases {
            let ours = stats(&curve(&equity), &[], &benchmark);
            let expected = naive(&equity, &benchmark, 365.0);
            let names = ["ann", "vol", "sharpe", "sortino", "beta", "max dd"];
            for ((name, o), e) in names.iter().zip(curve_stats(&ours)).zip(expected) {
                assert_close(&format!("{label} {name}"), o, e);
            }
        }
    }

    #[test]
    fn log_series_is_accurate_to_a_few_ulps_where_it_applies() {
        // |z| < 1/16 means ratios within (15/17, 17/15) = (0.882…, 1.133…).
        for i in 0..=2000 {
            let ratio = 0.8825 + 0.25 * f64::from(i) / 2000.0;
            let (a, b) = (ratio * 3.7, 3.7);
            // a − b is exact (Sterbenz), so this reference is within about an ulp.
            let (series, exact) = (ln_ratio_series(a, b), ((a - b) / b).ln_1p());
            let tolerance = 4.0 * f64::EPSILON * exact.abs();
            assert!(
                (series - exact).abs() <= tolerance,
                "{ratio}: {series} vs {exact}"
            );
        }
        assert!(ln_ratio_series(1.2, 1.0).is_nan(), "outside ±13 %");
        assert!(ln_ratio_series(-1.0, 1.0).is_nan(), "non-positive");
    }

    #[test]
    fn no_trades_leave_the_trade_statistics_empty() {
        let equity = curve(&[100.0, 101.0, 99.0, 102.0]);
        let s = stats(&equity, &[], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.trades, 0);
        assert_eq!(s.exposure_time_pct, 0.0);
        assert_eq!(s.commissions, 0.0);
        for key in [
            "win_rate_pct",
            "best_trade_pct",
            "worst_trade_pct",
            "avg_trade_pct",
            "max_trade_duration_days",
            "avg_trade_duration_days",
            "profit_factor",
            "expectancy_pct",
            "sqn",
            "kelly_criterion",
        ] {
            assert_eq!(s.value(key), None, "{key}");
        }
        assert!((s.return_pct - 2.0).abs() < 1e-12);
        assert_eq!(s.buy_and_hold_return_pct, Some(300.0));
    }

    #[test]
    fn one_bar_has_no_returns_and_no_durations() {
        let s = stats(&curve(&[100.0]), &[], &[5.0]);
        assert_eq!((s.start, s.end, s.duration_days), (day(0), day(0), 0.0));
        assert_eq!(s.return_pct, 0.0);
        assert_eq!(s.equity_final, 100.0);
        assert_eq!(s.equity_peak, 100.0);
        assert_eq!(s.buy_and_hold_return_pct, Some(0.0));
        assert_eq!(s.max_drawdown_pct, 0.0);
        for key in [
            "return_ann_pct",
            "volatility_ann_pct",
            "cagr_pct",
            "sharpe_ratio",
            "sortino_ratio",
            "calmar_ratio",
            "alpha_pct",
            "beta",
            "avg_drawdown_pct",
            "max_drawdown_duration_days",
            "avg_drawdown_duration_days",
        ] {
            assert_eq!(s.value(key), None, "{key}");
        }
    }

    #[test]
    fn flat_equity_has_zero_return_and_no_ratios() {
        let equity = curve(&[100.0; 30]);
        let benchmark: Vec<f64> = (1..=30).map(f64::from).collect();
        let s = stats(&equity, &[], &benchmark);
        assert_eq!(s.return_pct, 0.0);
        assert_eq!(s.return_ann_pct, Some(0.0));
        assert_eq!(s.volatility_ann_pct, Some(0.0));
        assert_eq!(s.cagr_pct, Some(0.0));
        assert_eq!(s.max_drawdown_pct, 0.0);
        assert_eq!(s.sharpe_ratio, None, "0 / 0 volatility");
        assert_eq!(s.sortino_ratio, None, "0 / 0 downside");
        assert_eq!(s.calmar_ratio, None, "no drawdown");
        assert_eq!(s.avg_drawdown_pct, None);
        assert_eq!(s.max_drawdown_duration_days, None);
        assert_eq!(
            s.beta,
            Some(0.0),
            "flat equity does not move with the benchmark"
        );
        assert_eq!(s.alpha_pct, Some(0.0));
    }

    #[test]
    fn all_losing_trades_have_no_kelly_and_a_zero_profit_factor() {
        let equity = curve(&[100.0, 100.0, 95.0, 95.0, 90.0, 90.0]);
        let trades = [
            trade(1, 2, dec!(-5), -0.05),
            trade(3, 4, dec!(-5.25), -0.0526),
        ];
        let s = stats(&equity, &trades, &[1.0; 6]);
        assert_eq!(s.trades, 2);
        assert_eq!(s.win_rate_pct, Some(0.0));
        assert_eq!(s.profit_factor, Some(0.0));
        assert_eq!(s.kelly_criterion, None, "no winner: mean win is NaN");
        assert_eq!(s.best_trade_pct, Some(-5.0));
        assert_eq!(s.worst_trade_pct, Some(-5.26));
        let geometric = ((0.95_f64 * 0.9474).ln() / 2.0).exp() - 1.0;
        assert_close("avg trade", s.avg_trade_pct, Some(geometric * 100.0));
        assert_close("expectancy", s.expectancy_pct, Some(-5.13));
        // P&L -5 and -5.25: mean -5.125, variance 0.03125 (ddof 1).
        let sqn = 2_f64.sqrt() * -5.125 / 0.03125_f64.sqrt();
        assert_close("sqn", s.sqn, Some(sqn));
        assert_eq!(s.commissions, 1.0);
        assert_eq!(s.max_trade_duration_days, Some(1.0));
        assert_eq!(s.exposure_time_pct, 4.0 / 6.0 * 100.0);
        assert_eq!(s.beta, None, "a constant benchmark has no variance");
    }

    #[test]
    fn trade_statistics_follow_backtesting_py() {
        let equity = curve(&[100.0; 20]);
        let trades = [
            trade(0, 3, dec!(10), 0.10),
            trade(2, 6, dec!(-4), -0.04),
            trade(10, 12, dec!(6), 0.06),
            trade(15, 15, dec!(0), 0.0),
        ];
        let s = stats(&equity, &trades, &[]);
        assert_eq!(s.win_rate_pct, Some(50.0), "a zero P&L is no win");
        assert_close("profit factor", s.profit_factor, Some(0.16 / 0.04));
        assert_close("expectancy", s.expectancy_pct, Some(3.0));
        // Kelly: 0.5 − 0.5 / (mean win 8 / mean loss 4) = 0.25.
        assert_close("kelly", s.kelly_criterion, Some(0.25));
        // Bars 0..=6, 10..=12 and 15: 11 of 20.
        assert_close("exposure", Some(s.exposure_time_pct), Some(55.0));
        assert_eq!(s.max_trade_duration_days, Some(4.0));
        assert_eq!(
            s.avg_trade_duration_days,
            Some(3.0),
            "9 / 4 days, rounded up"
        );
        assert_eq!(
            (s.beta, s.alpha_pct, s.buy_and_hold_return_pct),
            (None, None, None)
        );
    }

    #[test]
    fn a_drawdown_on_the_last_bar_alone_counts_only_in_the_maximum() {
        // Episode 100 → 80 → 100 (bars 0..=2), then a new peak and one last bar down.
        let s = stats(&curve(&[100.0, 80.0, 100.0, 110.0, 99.0]), &[], &[]);
        assert_close("max dd", Some(s.max_drawdown_pct), Some(-20.0));
        assert_close("avg dd", s.avg_drawdown_pct, Some(-20.0));
        assert_eq!(s.max_drawdown_duration_days, Some(2.0));
        assert_eq!(s.avg_drawdown_duration_days, Some(2.0));

        // Only the last bar is down: the average is that bar's drawdown, durations n/a.
        let s = stats(&curve(&[100.0, 100.0, 90.0]), &[], &[]);
        assert_close("max dd", Some(s.max_drawdown_pct), Some(-10.0));
        assert_close("avg dd", s.avg_drawdown_pct, Some(-10.0));
        assert_eq!(s.max_drawdown_duration_days, None);

        // A drawdown still open at the end runs to the last bar.
        let s = stats(
            &curve(&[100.0, 90.0, 95.0, 85.0, 110.0, 100.0, 105.0]),
            &[],
            &[],
        );
        assert_close(
            "avg dd",
            s.avg_drawdown_pct,
            Some(-(15.0 + 100.0 / 11.0) / 2.0),
        );
        assert_eq!(s.max_drawdown_duration_days, Some(4.0));
        assert_eq!(s.avg_drawdown_duration_days, Some(3.0), "(4 + 2) / 2");
    }

    #[test]
    fn sortino_is_infinite_without_a_losing_bar() {
        let s = stats(&curve(&[100.0, 101.0, 102.0, 104.0]), &[], &[]);
        assert_eq!(s.sortino_ratio, Some(f64::INFINITY));
        assert_eq!(s.calmar_ratio, None);
    }

    #[test]
    fn an_equity_at_zero_makes_the_geometric_mean_zero() {
        let s = stats(&curve(&[100.0, 50.0, 0.0, 10.0]), &[], &[]);
        assert_eq!(s.return_ann_pct, Some(0.0));
    }

    #[test]
    fn average_days_round_up_like_pandas() {
        assert_eq!(mean_days_ceil(9, 4), Some(3));
        assert_eq!(mean_days_ceil(8, 4), Some(2));
        assert_eq!(mean_days_ceil(0, 3), Some(0));
        assert_eq!(mean_days_ceil(5, 0), None);
    }

    #[test]
    fn money_converts_within_one_ulp_of_decimal_to_f64() {
        for text in [
            "0",
            "-4",
            "8517.25558450697",
            "-1234.5678901234567",
            "0.1",
            "1e-20",
        ] {
            let value = Decimal::from_scientific(text)
                .or_else(|_| text.parse())
                .expect("number");
            let (ours, reference) = (money_to_f64(Money(value)), decimal_to_f64(value));
            assert!(
                (ours - reference).abs() <= reference.abs() * f64::EPSILON,
                "{text}"
            );
        }
        assert_eq!(
            money_to_f64(Money(dec!(8517.25558450697))),
            8517.25558450697
        );
    }

    #[test]
    fn rows_follow_backtesting_py_labels_and_order() {
        let equity = curve(&[100.0, 110.0, 105.0, 120.0]);
        let s = stats(
            &equity,
            &[trade(1, 2, dec!(-5), -0.05)],
            &[1.0, 1.1, 1.2, 1.3],
        );
        let rows = s.rows();
        let labels: Vec<&str> = rows.iter().map(|(label, _)| *label).collect();
        assert_eq!(labels.len(), 32);
        assert_eq!(
            &labels[..4],
            ["Start", "End", "Duration", "Exposure Time [%]"]
        );
        assert_eq!(labels[31], "Kelly Criterion");
        let row = |label: &str| {
            rows.iter()
                .find(|(l, _)| *l == label)
                .map(|(_, v)| v.as_str())
                .expect("row")
        };
        assert_eq!(row("Start"), "2024-01-01");
        assert_eq!(row("Duration"), "3 days");
        assert_eq!(row("Equity Final [$]"), "120.00");
        assert_eq!(row("Return [%]"), "20.00");
        assert_eq!(row("# Trades"), "1");
        assert_eq!(row("Kelly Criterion"), "n/a");
        assert_eq!(row("Max. Trade Duration"), "1 days");
    }

    #[test]
    fn labels_are_the_rows_labels_by_key() {
        assert_eq!(Statistics::label("start"), Some("Start"));
        assert_eq!(Statistics::label("end"), Some("End"));
        assert_eq!(Statistics::label("duration_days"), Some("Duration"));
        assert_eq!(Statistics::label("return_pct"), Some("Return [%]"));
        assert_eq!(Statistics::label("trades"), Some("# Trades"));
        assert_eq!(
            Statistics::label("kelly_criterion"),
            Some("Kelly Criterion")
        );
        assert_eq!(Statistics::label("nonsense"), None);
    }

    #[test]
    fn every_key_reads_its_field() {
        let equity = curve(&[100.0, 110.0, 105.0, 120.0, 118.0, 125.0]);
        let trades = [trade(1, 2, dec!(-5), -0.05), trade(3, 4, dec!(8), 0.08)];
        let s = stats(&equity, &trades, &[1.0, 1.1, 1.05, 1.3, 1.2, 1.25]);
        for key in Statistics::KEYS {
            assert!(s.value(key).is_some(), "{key}");
        }
        assert_eq!(s.value("trades"), Some(2.0));
        assert_eq!(s.value("max_drawdown_pct"), Some(s.max_drawdown_pct));
        for key in ["start", "end", "nonsense"] {
            assert_eq!(s.value(key), None, "{key}");
        }
        let json = serde_json::to_value(&s).expect("serializes");
        let fields = json.as_object().expect("an object");
        for key in Statistics::KEYS {
            assert!(fields.contains_key(*key), "{key} is a field name");
        }
        assert_eq!(
            fields.len(),
            Statistics::KEYS.len() + 2,
            "all but start and end"
        );
    }

    #[test]
    fn ranking_direction_follows_the_meaning() {
        for key in [
            "return_pct",
            "sharpe_ratio",
            "max_drawdown_pct",
            "worst_trade_pct",
            "sqn",
        ] {
            assert!(Statistics::higher_is_better(key), "{key}");
        }
        for key in [
            "volatility_ann_pct",
            "max_drawdown_duration_days",
            "avg_trade_duration_days",
            "commissions",
        ] {
            assert!(!Statistics::higher_is_better(key), "{key}");
        }
    }
}
