//! The screening pass of a parameter sweep: one strategy on one instrument walked in f64, so a
//! sweep can try every point of a large grid fast and re-run only the points it shows (the
//! best, anything a user opens) through the exact engine ([`super::backtest_with`]).
//!
//! The walk makes exactly the decisions the exact engine makes (see `engine.rs`): the same
//! rule outcomes (the same f64 indicator series and evaluator), entries before exits on each
//! day, next-open or close fills with slippage and fees, quantities rounded down, risk exits in
//! their priority order, pending fills kept out of the equity at the decision day's close. Only
//! the money differs: f64 here, exact decimals there, so the equity curves agree to about 1e-13
//! relative. Where a decision turns on a decimal comparison that f64 cannot settle with
//! certainty (a quantity on a rounding boundary, a close within 1e-12 of a stop level, a trade
//! whose P&L is about zero, amounts beyond 1e15), the walk gives up with [`Unsettled`] and the
//! caller runs that point exactly instead. A property test (`tests/screening.rs`) holds the two
//! paths together on random grids, data and settings.
//!
//! What it computes is what a ranking needs ([`ScreenStats`]): final equity, return, trades and
//! win rate; on request the peak and maximum drawdown (an equity on every day held instead of
//! one per trade) and the statistics of the whole curve ([`CurveStatistics`]); never the trade
//! list or the other statistics.

use crate::Day;
use crate::execution::{FillTiming, QuantityRounding, Sizing};
use crate::market::MarketData;
use crate::rule::{IndicatorCache, Signal};
use crate::strategy::{ExitLimits, Strategy};
use crate::symbol::Symbol;

use super::engine::{BacktestInstrument, BacktestSettings, annual_periods};
use super::result::EquityPoint;
use super::stats::CurveStatistics;

/// A decision the f64 walk cannot settle with certainty: run the point through the exact engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsettled;

/// What the screening pass knows of one sweep point: the statistics a ranking reads, each equal
/// to the exact engine's to about 1e-13 relative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScreenStats {
    /// Equity at the last bar.
    pub equity_final: f64,
    /// Highest equity (when the drawdown was asked for).
    pub equity_peak: Option<f64>,
    /// Total return in percent (from the first bar's equity, as [`super::Statistics`]).
    pub return_pct: f64,
    /// Deepest drawdown in percent, negative or 0 (when asked for).
    pub max_drawdown_pct: Option<f64>,
    /// Closed trades.
    pub trades: usize,
    /// Share of closed trades with positive P&L, in percent (`None` without trades).
    pub win_rate_pct: Option<f64>,
    /// The statistics of the whole curve, when asked for ([`Screen::run`]'s `curve`).
    pub curve: Option<CurveStatistics>,
}

impl ScreenStats {
    /// The statistics the screening pass computes for every point.
    pub const KEYS: [&'static str; 4] = ["equity_final", "return_pct", "trades", "win_rate_pct"];

    /// The statistics it computes when asked for the drawdown (an equity on every day held).
    pub const DRAWDOWN_KEYS: [&'static str; 2] = ["equity_peak", "max_drawdown_pct"];

    /// The statistics it computes from the whole curve when asked (see [`CurveStatistics`]).
    pub const CURVE_KEYS: [&'static str; 6] = [
        "return_ann_pct",
        "volatility_ann_pct",
        "cagr_pct",
        "sharpe_ratio",
        "sortino_ratio",
        "calmar_ratio",
    ];

    /// Whether a sweep ranked by `key` can be screened.
    pub fn can_rank_by(key: &str) -> bool {
        Self::KEYS.contains(&key)
            || Self::DRAWDOWN_KEYS.contains(&key)
            || Self::CURVE_KEYS.contains(&key)
    }

    /// Whether ranking by `key` needs the drawdown.
    pub fn needs_drawdown(key: &str) -> bool {
        Self::DRAWDOWN_KEYS.contains(&key)
    }

    /// Whether ranking by `key` needs the whole curve.
    pub fn needs_curve(key: &str) -> bool {
        Self::CURVE_KEYS.contains(&key)
    }

    /// The value of `key` as [`super::Statistics::value`] gives it; `None` also for a statistic
    /// that was not computed.
    pub fn value(&self, key: &str) -> Option<f64> {
        let curve = self.curve.as_ref();
        match key {
            "equity_final" => Some(self.equity_final),
            "equity_peak" => self.equity_peak,
            "return_pct" => Some(self.return_pct),
            "max_drawdown_pct" => self.max_drawdown_pct,
            "trades" => Some(self.trades as f64),
            "win_rate_pct" => self.win_rate_pct,
            "return_ann_pct" => curve?.return_ann_pct,
            "volatility_ann_pct" => curve?.volatility_ann_pct,
            "cagr_pct" => curve?.cagr_pct,
            "sharpe_ratio" => curve?.sharpe_ratio,
            "sortino_ratio" => curve?.sortino_ratio,
            "calmar_ratio" => curve?.calmar_ratio,
            _ => None,
        }
    }
}

/// How each entry is sized, in f64.
#[derive(Debug, Clone, Copy)]
enum Size {
    Quantity(f64),
    Amount(f64),
    EquityFraction(f64),
    AllCash,
}

/// The risk exits of one point, in f64 (fractions).
#[derive(Debug, Clone, Copy, Default)]
struct Limits {
    stop_loss: Option<f64>,
    take_profit: Option<f64>,
    trailing_stop: Option<f64>,
    max_holding_days: Option<usize>,
}

impl Limits {
    /// Whether no risk exit is set.
    fn is_empty(&self) -> bool {
        self.stop_loss.is_none()
            && self.take_profit.is_none()
            && self.trailing_stop.is_none()
            && self.max_holding_days.is_none()
    }

    fn of(limits: &ExitLimits) -> Self {
        let f = |d: Option<rust_decimal::Decimal>| d.map(crate::candle::decimal_to_f64);
        Self {
            stop_loss: f(limits.stop_loss),
            take_profit: f(limits.take_profit),
            trailing_stop: f(limits.trailing_stop),
            max_holding_days: limits.max_holding_days.map(|d| d as usize),
        }
    }
}

/// One instrument's period and the fill settings of a sweep, ready to screen its points.
#[derive(Debug, Clone)]
pub struct Screen<'a> {
    data: &'a MarketData,
    /// The period's last day.
    to: Day,
    symbol: &'a Symbol,
    /// The instrument's days up to the period's last day.
    days: &'a [Day],
    opens: &'a [f64],
    closes: &'a [f64],
    /// Lane indexes of the period: `start..end`.
    start: usize,
    end: usize,
    initial_cash: f64,
    fee: f64,
    slippage: f64,
    timing: FillTiming,
    /// `10^decimals` of the quantity rounding.
    unit_scale: f64,
    size: Size,
    /// `Some(0)` blocks every entry; any other maximum never binds on one instrument.
    no_entries: bool,
    close_at_end: bool,
    annual_periods: f64,
}

/// A position the walk holds.
#[derive(Debug, Clone, Copy)]
struct Open {
    quantity: f64,
    /// Lane index of the entry fill.
    entry: usize,
    /// What the entry cost, fee included.
    cost: f64,
    /// Highest close since the entry (for the trailing stop).
    high: f64,
    stop: Option<f64>,
    target: Option<f64>,
}

/// The drawdown bookkeeping of [`super::stats`]' `Drawdowns`, reduced to what the screen needs;
/// without `tracked`, only the first and last equity (what a return needs).
#[derive(Debug, Clone, Copy)]
struct Peaks {
    tracked: bool,
    first: Option<f64>,
    peak: f64,
    trough: f64,
    max: f64,
    last: f64,
}

impl Peaks {
    fn new(tracked: bool) -> Self {
        Self {
            tracked,
            first: None,
            peak: f64::NAN,
            trough: f64::INFINITY,
            max: 0.0,
            last: f64::NAN,
        }
    }

    fn observe(&mut self, equity: f64) {
        self.last = equity;
        if self.first.is_none() {
            self.first = Some(equity);
            self.peak = equity;
            return;
        }
        if !self.tracked {
            return;
        }
        if equity >= self.peak {
            if self.trough.is_finite() {
                self.max = self.max.max(1.0 - self.trough / self.peak);
            }
            self.peak = equity;
            self.trough = f64::INFINITY;
        } else {
            self.trough = self.trough.min(equity);
        }
    }

    /// [`Peaks::observe`] of `cash + quantity × close` for each of `closes`, with the state in
    /// registers: the loop a sweep spends most of its walk in.
    fn observe_held(&mut self, cash: f64, quantity: f64, closes: &[f64]) {
        let Some((&first, rest)) = closes.split_first() else {
            return;
        };
        self.observe(cash + quantity * first);
        if !self.tracked {
            if let Some(&close) = rest.last() {
                self.last = cash + quantity * close;
            }
            return;
        }
        let (mut peak, mut trough, mut max) = (self.peak, self.trough, self.max);
        for &close in rest {
            let equity = cash + quantity * close;
            if equity >= peak {
                if trough.is_finite() {
                    max = max.max(1.0 - trough / peak);
                }
                peak = equity;
                trough = f64::INFINITY;
            } else {
                trough = trough.min(equity);
            }
        }
        (self.peak, self.trough, self.max) = (peak, trough, max);
        if let Some(&close) = rest.last() {
            self.last = cash + quantity * close;
        }
    }

    /// The highest equity and the deepest drawdown (a fraction), when tracked.
    fn drawdown(&self) -> Option<(f64, f64)> {
        if !self.tracked {
            return None;
        }
        let max = if self.trough.is_finite() {
            self.max.max(1.0 - self.trough / self.peak)
        } else {
            self.max
        };
        Some((self.peak, max))
    }
}

/// Relative margin within which an f64 comparison of amounts the exact engine compares as
/// decimals is not trusted (the walk's amounts are within about 1e-13 of the exact ones).
const MARGIN: f64 = 1e-11;

/// Amounts beyond this are left to the exact engine (its refusals of huge orders, f64 integers).
const LARGEST: f64 = 1e15;

/// `a <= b`, or [`Unsettled`] when the two are too close to tell.
fn at_most(a: f64, b: f64) -> Result<bool, Unsettled> {
    let scale = a.abs().max(b.abs());
    if (a - b).abs() <= scale * MARGIN || !(a.is_finite() && b.is_finite()) {
        return Err(Unsettled);
    }
    Ok(a <= b)
}

impl<'a> Screen<'a> {
    /// The screen of `instrument` in `data` with `settings` and entries of `sizing`, or `None`
    /// when the exact engine must run every point: the instrument has no candles in the period,
    /// its exact candles or opens are not all loaded, or the numbers are out of f64's exact range.
    pub fn new(
        data: &'a MarketData,
        instrument: &'a BacktestInstrument,
        sizing: Sizing,
        max_open_positions: Option<u32>,
        settings: &BacktestSettings,
    ) -> Option<Self> {
        let symbol = &instrument.symbol;
        let all = data.view(Day::MAX);
        let history = all.days(symbol);
        let from = settings.from.unwrap_or(*history.first()?);
        let to = settings.to.unwrap_or(*history.last()?);
        let view = data.view(to);
        let days = view.days(symbol);
        let columns = view.columns(symbol)?;
        // The exact engine fills from exact candles; the screen may use the f64 columns only
        // when they are the same candles, one per day.
        let candles = view.candles(symbol);
        if candles.len() != days.len() || columns.open.len() != days.len() {
            return None;
        }
        let start = days.partition_point(|d| *d < from);
        let end = days.len();
        if start >= end {
            return None;
        }
        let model = settings.fill_model;
        let bps = |d: rust_decimal::Decimal| crate::candle::decimal_to_f64(d) / 10_000.0;
        let unit_scale = match model.rounding() {
            QuantityRounding::Fractional(dp) if dp <= 15 => 10f64.powi(dp as i32),
            QuantityRounding::Fractional(_) => return None,
            QuantityRounding::WholeUnits => 1.0,
        };
        let to_f64 = crate::candle::decimal_to_f64;
        let size = match sizing {
            Sizing::Quantity(q) => Size::Quantity(to_f64(q.0)),
            Sizing::Amount(a) => Size::Amount(to_f64(a.0)),
            Sizing::EquityFraction(f) => Size::EquityFraction(to_f64(f)),
            Sizing::AllCash => Size::AllCash,
        };
        let initial_cash = to_f64(settings.initial_cash.0);
        if !(initial_cash > 0.0 && initial_cash < LARGEST) {
            return None;
        }
        Some(Self {
            data,
            to,
            symbol,
            days,
            opens: columns.open,
            closes: columns.close,
            start,
            end,
            initial_cash,
            fee: bps(model.fee_bps()),
            slippage: bps(model.slippage_bps()),
            timing: model.timing(),
            unit_scale,
            size,
            no_entries: max_open_positions == Some(0),
            close_at_end: settings.close_at_end,
            annual_periods: settings
                .annual_periods
                .unwrap_or_else(|| annual_periods([instrument])),
        })
    }

    /// The screen's instrument.
    pub fn symbol(&self) -> &Symbol {
        self.symbol
    }

    /// Screens `strategy` (one point of the sweep): its outcomes through `cache`, then the walk.
    /// `drawdown` asks for the peak and the deepest drawdown (an equity on every day a
    /// position is held), `curve` (a reused buffer) for the [`CurveStatistics`] too.
    ///
    /// # Errors
    /// [`Unsettled`] when the strategy's rules cannot be evaluated over the whole history at
    /// once, or the walk meets a decision f64 cannot settle: run the point exactly.
    pub fn screen(
        &self,
        strategy: &dyn Strategy,
        cache: &mut IndicatorCache,
        drawdown: bool,
        curve: Option<&mut Vec<EquityPoint>>,
    ) -> Result<ScreenStats, Unsettled> {
        // A rule reading another instrument has no whole-history outcomes: `entry_outcomes`
        // below says so.
        if !strategy.trades(self.symbol) {
            return Err(Unsettled);
        }
        let view = self.data.view(self.to);
        let entries = strategy
            .entry_outcomes(&view, self.symbol, cache)
            .ok_or(Unsettled)?;
        let exits = match strategy.exit_signal_outcomes(&view, self.symbol, cache) {
            Some(exits) => Some(exits),
            None if strategy.has_exit_signal() => return Err(Unsettled),
            None => None,
        };
        if entries.days() != self.end || exits.as_ref().is_some_and(|e| e.days() != self.end) {
            return Err(Unsettled);
        }
        let limits = Limits::of(&strategy.exit_limits());
        self.walk(&entries, exits.as_ref(), &limits, drawdown, curve)
    }

    /// The units `amount` buys at `per_unit`, rounded down to the quantity step; `None` for
    /// nothing (the exact engine's "order too small").
    fn units(&self, amount: f64, per_unit: f64) -> Result<Option<f64>, Unsettled> {
        let scaled = amount / per_unit * self.unit_scale;
        if !(scaled.is_finite() && scaled < LARGEST) {
            return Err(Unsettled);
        }
        if scaled <= 0.0 {
            return Ok(None);
        }
        let whole = scaled.floor();
        // The exact division may land on the other side of a step boundary: the amount and the
        // price are within about 1e-13 of the exact ones, so 1e-12 of the quantity is enough.
        let margin = scaled * 1e-12 + 1e-9;
        if scaled - whole < margin || whole + 1.0 - scaled < margin {
            return Err(Unsettled);
        }
        Ok((whole > 0.0).then(|| whole / self.unit_scale))
    }

    /// The buy an entry decided at lane index `i` makes with `cash`: `None` when the exact engine
    /// fills nothing (after the period, too small, more than the cash).
    fn buy(&self, i: usize, cash: f64, limits: &Limits) -> Result<Option<Open>, Unsettled> {
        let (fill, reference) = match self.timing {
            FillTiming::Close => (i, self.closes[i]),
            // The last day's decision has no candle in the period to fill at.
            FillTiming::NextOpen if i + 1 < self.end => (i + 1, self.opens[i + 1]),
            FillTiming::NextOpen => return Ok(None),
        };
        let price = reference * (1.0 + self.slippage);
        let per_unit = price * (1.0 + self.fee);
        let quantity = match self.size {
            Size::Quantity(q) => Some(q).filter(|q| *q > 0.0),
            Size::Amount(amount) => self.units(amount, per_unit)?,
            // One instrument: no position is open when an entry buys, so equity is the cash.
            Size::EquityFraction(fraction) => self.units(cash * fraction, per_unit)?,
            Size::AllCash => self.units(cash, per_unit)?,
        };
        let Some(quantity) = quantity else {
            return Ok(None);
        };
        let gross = quantity * price;
        let cost = gross + gross * self.fee;
        // NaN counts as too large.
        if cost.is_nan() || cost >= LARGEST {
            return Err(Unsettled);
        }
        // An order sized from at most the cash (rounded down) is always paid for; only fixed
        // sizes can cost more than the cash.
        let within_cash = match self.size {
            Size::AllCash => true,
            Size::EquityFraction(fraction) => fraction <= 1.0,
            Size::Quantity(_) | Size::Amount(_) => false,
        };
        if !within_cash && !at_most(cost, cash)? {
            return Ok(None);
        }
        Ok(Some(Open {
            quantity,
            entry: fill,
            cost,
            high: f64::NEG_INFINITY,
            stop: limits.stop_loss.map(|sl| price * (1.0 - sl)),
            target: limits.take_profit.map(|tp| price * (1.0 + tp)),
        }))
    }

    /// Whether the position exits on the close of lane index `i` (risk exits first, in their
    /// priority order, then the signal).
    #[inline]
    fn exits(
        &self,
        open: &mut Open,
        i: usize,
        limits: &Limits,
        signal: Option<&Signal>,
    ) -> Result<bool, Unsettled> {
        let close = self.closes[i];
        open.high = open.high.max(close);
        if let Some(stop) = open.stop
            && at_most(close, stop)?
        {
            return Ok(true);
        }
        if let Some(ts) = limits.trailing_stop
            && at_most(close, open.high * (1.0 - ts))?
        {
            return Ok(true);
        }
        if let Some(target) = open.target
            && at_most(target, close)?
        {
            return Ok(true);
        }
        if limits
            .max_holding_days
            .is_some_and(|max| i - open.entry >= max)
        {
            return Ok(true);
        }
        Ok(signal.is_some_and(|s| s.passes(i)))
    }

    /// The walk over the period (see the module docs and `engine.rs`' for the order of steps).
    fn walk(
        &self,
        entries: &Signal,
        exits: Option<&Signal>,
        limits: &Limits,
        drawdown: bool,
        mut curve: Option<&mut Vec<EquityPoint>>,
    ) -> Result<ScreenStats, Unsettled> {
        if let Some(curve) = curve.as_deref_mut() {
            curve.clear();
        }
        let mut cash = self.initial_cash;
        let mut open: Option<Open> = None;
        let mut peaks = Peaks::new(drawdown || curve.is_some());
        let (mut trades, mut wins) = (0_usize, 0_usize);
        let last = self.end - 1;
        let mut i = self.start;
        while i < self.end {
            // Flat days before the next passing entry change nothing but the curve: one look at
            // the (unchanged) equity stands for all of them.
            if open.is_none() && curve.is_none() {
                let next = if self.no_entries {
                    self.end
                } else {
                    entries.next_pass(i, self.end).unwrap_or(self.end)
                };
                if next > i {
                    peaks.observe(cash);
                    i = next;
                    continue;
                }
            }
            // Held days before the exit decision (and before the last day, which may close at
            // the end): only the equity moves. The exit day itself goes through the steps below.
            if curve.is_none()
                && let Some(o) = open.as_mut().filter(|o| o.entry <= i)
            {
                if limits.is_empty() {
                    // Only the signal closes: straight to its next pass.
                    let exit =
                        exits.map_or(last, |signal| signal.next_pass(i, last).unwrap_or(last));
                    peaks.observe_held(cash, o.quantity, &self.closes[i..exit]);
                    i = exit;
                } else {
                    while i < last && !self.exits(o, i, limits, exits)? {
                        peaks.observe(cash + o.quantity * self.closes[i]);
                        i += 1;
                    }
                }
            }
            let close = self.closes[i];
            // Fills dated after today are not in today's equity (see `engine.rs`).
            let mut pending = 0.0;
            if open.is_none() && !self.no_entries && entries.passes(i) {
                open = self.buy(i, cash, limits)?;
                if let Some(o) = &open {
                    cash -= o.cost;
                    if o.entry > i {
                        pending += o.cost;
                    }
                }
            }
            if let Some(mut o) = open.filter(|o| o.entry <= i) {
                let sell = self.exits(&mut o, i, limits, exits)?;
                open = Some(o);
                let fill = match self.timing {
                    FillTiming::Close => Some((i, close)),
                    FillTiming::NextOpen if i < last => Some((i + 1, self.opens[i + 1])),
                    FillTiming::NextOpen => None,
                };
                if let (true, Some((day, reference))) = (sell, fill) {
                    let proceeds = self.sell(&o, reference, &mut trades, &mut wins)?;
                    cash += proceeds;
                    open = None;
                    if day > i {
                        // Still the position at today's close.
                        pending += o.quantity * close - proceeds;
                    }
                }
            }
            let mut equity = cash + pending;
            if let Some(o) = open.filter(|o| o.entry <= i) {
                equity += o.quantity * close;
            }
            if i == last && self.close_at_end {
                if let Some(o) = open.take() {
                    cash += self.sell(&o, close, &mut trades, &mut wins)?;
                }
                equity = cash;
            }
            peaks.observe(equity);
            if let Some(curve) = curve.as_deref_mut() {
                curve.push(EquityPoint {
                    day: self.days[i],
                    equity,
                    cash,
                    drawdown: 0.0,
                });
            }
            i += 1;
        }
        let first = peaks.first.ok_or(Unsettled)?;
        let equity_final = peaks.last;
        let curve = match curve {
            Some(curve) => {
                let stats =
                    CurveStatistics::of_curve(curve, self.annual_periods).ok_or(Unsettled)?;
                // A nearly flat curve: the exact engine's drawdown and volatility are then f64
                // noise (about 1e-16), and so are its Calmar and Sharpe ratios; only it can say
                // what it gives.
                let noise = |x: Option<f64>| x.is_some_and(|x| x.abs() < 1e-9);
                if stats.max_drawdown_pct.abs() < 1e-9 || noise(stats.volatility_ann_pct) {
                    return Err(Unsettled);
                }
                Some(stats)
            }
            None => None,
        };
        Ok(ScreenStats {
            equity_final,
            equity_peak: peaks.drawdown().map(|(peak, _)| peak),
            return_pct: (equity_final - first) / first * 100.0,
            max_drawdown_pct: peaks.drawdown().map(|(_, max)| -max * 100.0),
            trades,
            win_rate_pct: (trades > 0).then(|| wins as f64 / trades as f64 * 100.0),
            curve,
        })
    }

    /// Sells `open` at `reference` (slippage and fee applied); counts the trade and whether it
    /// won; returns the cash it brings.
    fn sell(
        &self,
        open: &Open,
        reference: f64,
        trades: &mut usize,
        wins: &mut usize,
    ) -> Result<f64, Unsettled> {
        let price = reference * (1.0 - self.slippage);
        let gross = open.quantity * price;
        let proceeds = gross - gross * self.fee;
        // A P&L of about zero: its sign (a win or not) is the exact engine's to say.
        let won = !at_most(proceeds, open.cost)?;
        *trades += 1;
        *wins += usize::from(won);
        Ok(proceeds)
    }
}
