//! The backtest loop: the days of a period, each decided like a live cron run decides it.
//!
//! For every day D of the period (every day on which some instrument has a complete candle),
//! in the live jobs' order:
//! 1. **entries** — instruments by symbol, strategies in the given order: the entry decision on
//!    D's close through a point-in-time [`MarketView`], then [`engine::act_on_entry`] with the
//!    cash left and the equity at the start of the day; a fill is booked in the in-memory
//!    [`Account`] at once, as the live job books it;
//! 2. **exits** — open positions by symbol then id: [`strategy::exit_reason`] (risk exits, then
//!    the exit signal), and a sell through the same broker;
//! 3. **equity** at D's close. A fill dated after D (a next-open fill) has not happened yet at
//!    D's close, so the curve counts a pending buy as the cash it will cost and a pending sell
//!    as the position it still is, exactly as backtesting.py's broker does; it stays pending
//!    through every close before its own day (a weekday instrument's Friday decision fills on
//!    Monday, after the weekend's closes of the instruments that trade then).
//!
//! A decision whose fill would fall after the period (the last day's, with next-open fills) is
//! reported as [`Unfilled`], like backtesting.py's orders on the last bar.
//!
//! The walk decides exactly what visiting every instrument every day would, but looks only where
//! something can happen: entries and exit signals known over the whole history are computed
//! before it (on every core for a portfolio), so a day visits the instruments whose entry passes
//! and can act, those held and those with a pending fill; a position without risk exits is
//! looked at only on the days its exit signal passes.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rayon::prelude::*;

use rust_decimal::Decimal;

use crate::Day;
use crate::account::{Account, AccountError, ExitReason, PositionId};
use crate::calendar::Calendar;
use crate::candle::Candle;
use crate::engine::{self, EntryAction, EntryBook};
use crate::execution::{Broker, Fill, FillModel, FillTiming, PaperBroker, PriceBasis, Sizing};
use crate::market::{MarketData, MarketView};
use crate::money::Money;
use crate::rule::IndicatorCache;
use crate::strategy::{self, ExitLimits, Outcome, Strategy};
use crate::symbol::Symbol;

use super::result::{BacktestResult, EquityPoint, OpenTrade, Trade, Unfilled};
use super::stats::{self, StatsInput};

/// One strategy of a backtest, with how much each entry buys.
#[derive(Clone, Copy)]
pub struct BacktestStrategy<'a> {
    /// The decision logic, exactly as the live job runs it.
    pub strategy: &'a dyn Strategy,
    /// The size of each entry.
    pub sizing: Sizing,
    /// At most this many open positions for the strategy.
    pub max_open_positions: Option<u32>,
}

/// An instrument of a backtest and its trading calendar (which sets the annualisation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacktestInstrument {
    /// The instrument; its candles must be in the [`MarketData`].
    pub symbol: Symbol,
    /// When it trades.
    pub calendar: Calendar,
}

/// The period, money and execution settings of a backtest.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestSettings {
    /// The first day (default: the first candle).
    pub from: Option<Day>,
    /// The last day (default: the last candle).
    pub to: Option<Day>,
    /// The account's starting cash.
    pub initial_cash: Money,
    /// Timing, fee, slippage and rounding of every fill.
    pub fill_model: FillModel,
    /// Close the positions still open after the last day at its close (otherwise they are
    /// reported open and marked to market).
    pub close_at_end: bool,
    /// Bars per year for the annualised statistics; `None`: 365 when every instrument trades
    /// every day, 252 when some follow a trading calendar.
    pub annual_periods: Option<f64>,
}

/// The default bars per year of a backtest of `instruments`: 365 when every one trades every day
/// (`continuous`), 252 when some follow a trading calendar (`weekdays`, `xnys`).
pub fn annual_periods<'i>(instruments: impl IntoIterator<Item = &'i BacktestInstrument>) -> f64 {
    if instruments
        .into_iter()
        .all(|i| i.calendar == Calendar::Continuous)
    {
        365.0
    } else {
        252.0
    }
}

impl Default for BacktestSettings {
    fn default() -> Self {
        Self {
            from: None,
            to: None,
            initial_cash: Money(Decimal::from(10_000)),
            fill_model: FillModel::default(),
            close_at_end: false,
            annual_periods: None,
        }
    }
}

/// Why a backtest could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BacktestError {
    /// No instrument or no strategy was given.
    #[error("a backtest needs at least one instrument and one strategy")]
    NothingToTest,
    /// An instrument has no candles in the data.
    #[error("no candles of {0}: sync it first or give its data file")]
    NoCandles(Symbol),
    /// The period is empty.
    #[error("no candle between {from} and {to}: choose a period inside the data")]
    EmptyPeriod {
        /// The first day asked for.
        from: Day,
        /// The last day asked for.
        to: Day,
    },
    /// The starting cash is not positive.
    #[error("the starting cash must be positive, got {0}")]
    NoCash(Money),
    /// The in-memory account refused a fill: a bug, never a trading outcome.
    #[error("the backtest's account refused a fill: {0}")]
    Account(#[from] AccountError),
}

/// One instrument's place in the walk over the period.
struct Lane<'a> {
    symbol: &'a Symbol,
    days: &'a [Day],
    closes: &'a [f64],
    /// The exact candles of `days`, one per day, when the data holds them all (it does when
    /// built from candles); empty otherwise, and the view is asked instead.
    candles: &'a [Candle],
    /// Index of the first day after the current one.
    cursor: usize,
    /// Entry outcomes per strategy (index into the strategies), when known over the history.
    entries: Vec<Option<Vec<Outcome>>>,
    /// Where those outcomes are ready and pass in the period, per strategy (empty for one
    /// decided day by day).
    passes: Vec<EntryPasses>,
    /// Exit signal outcomes per strategy, when known over the history.
    exits: Vec<Option<Vec<Outcome>>>,
    /// Whether each strategy trades this instrument.
    traded: Vec<bool>,
    /// Whether it has a candle on the walk's current day.
    today: bool,
    /// Where the period starts in `days`.
    first: usize,
    /// Where the days after the period start in `days` (the view ends at the period's end, so
    /// that is all of them).
    end: usize,
    /// Where the period starts in `days` when the lane has a candle on every day of the period
    /// (instruments on one calendar): its cursor is then the bar's place, found without search.
    on_period: Option<usize>,
}

impl<'a> Lane<'a> {
    /// The exact candle of the lane's latest day at or before the current one, if any.
    fn latest<'d>(&self, data: &'d MarketData) -> Option<&'d Candle>
    where
        'a: 'd,
    {
        let index = self.cursor.checked_sub(1)?;
        if self.candles.is_empty() {
            return data.view(self.days[index]).latest(self.symbol);
        }
        self.candles.get(index)
    }

    /// The decision candle: the exact candle of `day`, the current day, if the lane has one.
    fn decision_candle<'d>(&self, data: &'d MarketData, day: Day) -> Option<&'d Candle>
    where
        'a: 'd,
    {
        self.latest(data).filter(|c| c.day() == day)
    }

    /// The candle a decision on the current day fills at under next-open timing.
    fn next<'d>(&self, data: &'d MarketData, day: Day) -> Option<&'d Candle>
    where
        'a: 'd,
    {
        match self.candles.get(self.cursor) {
            Some(candle) => Some(candle),
            None => data.next_candle(self.symbol, day),
        }
    }

    /// The latest close at or before the current day, if any.
    fn close(&self) -> Option<f64> {
        self.cursor.checked_sub(1).map(|i| self.closes[i])
    }

    /// Whether the instrument has a complete candle on `day` (the current day).
    fn trades_on(&self, day: Day) -> bool {
        self.cursor > 0 && self.days[self.cursor - 1] == day
    }

    /// What the benchmark reads of the lane.
    fn quotes(&self) -> Quotes<'a> {
        Quotes {
            days: self.days,
            closes: self.closes,
            first: self.first,
            on_period: self.on_period.is_some(),
        }
    }

    /// The bar of the period on which the lane's day `j` (inside the period) falls: its place
    /// on a shared calendar, else a search.
    fn bar_of(&self, j: usize, period: &[Day]) -> usize {
        match self.on_period {
            Some(first) => j - first,
            None => period.partition_point(|d| *d < self.days[j]),
        }
    }

    /// Moves the cursor to `day` (never back) and sets `today`. A lane visited every day moves
    /// one step; one left alone for a while (nothing to decide, nothing held) jumps there by
    /// binary search, so the walk costs what happens, not instruments × days.
    fn advance_to(&mut self, day: Day, bar: usize) {
        if let Some(start) = self.on_period {
            self.cursor = start + bar + 1;
            self.today = true;
            return;
        }
        let rest = &self.days[self.cursor..];
        match rest {
            [first, second, ..] if *first <= day && *second > day => self.cursor += 1,
            [first] if *first <= day => self.cursor += 1,
            [first, ..] if *first <= day => self.cursor += rest.partition_point(|d| *d <= day),
            _ => {}
        }
        self.today = self.trades_on(day);
    }
}

/// A fill made on the current day but dated after it: not yet part of the equity at its close.
struct Pending {
    lane: usize,
    /// The fill's day: until its close the fill has not happened.
    day: Day,
    quantity: f64,
    /// The cash the fill moved (negative for a buy).
    cash_delta: f64,
}

/// Runs `strategies` over `instruments` in `data` with `settings` (see the module docs).
///
/// # Errors
/// [`BacktestError`] when there is nothing to test, an instrument has no candles, or the period
/// holds no candle.
pub fn backtest(
    data: &MarketData,
    instruments: &[BacktestInstrument],
    strategies: &[BacktestStrategy<'_>],
    settings: &BacktestSettings,
) -> Result<BacktestResult, BacktestError> {
    let mut cache = IndicatorCache::new();
    backtest_with(data, instruments, strategies, settings, &mut cache)
}

/// [`backtest`] with a caller-owned indicator cache (a sweep reuses one per thread).
///
/// # Errors
/// As [`backtest`].
pub fn backtest_with(
    data: &MarketData,
    instruments: &[BacktestInstrument],
    strategies: &[BacktestStrategy<'_>],
    settings: &BacktestSettings,
    cache: &mut IndicatorCache,
) -> Result<BacktestResult, BacktestError> {
    if instruments.is_empty() || strategies.is_empty() {
        return Err(BacktestError::NothingToTest);
    }
    if settings.initial_cash.0 <= Decimal::ZERO {
        return Err(BacktestError::NoCash(settings.initial_cash));
    }
    let mut instruments: Vec<&BacktestInstrument> = instruments.iter().collect();
    instruments.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    instruments.dedup_by(|a, b| a.symbol == b.symbol);
    let (first, last) = bounds(data, &instruments)?;
    let from = settings.from.unwrap_or(first);
    let to = settings.to.unwrap_or(last);
    let end_view = data.view(to);
    // Each instrument's decisions over the whole history, computed once before the walk; they
    // depend on that instrument alone, so a portfolio computes them on every core.
    let prepared: Vec<Prepared> = if instruments.len() >= PARALLEL_LANES {
        // Each instrument in a fork of the cache, handed back to it once all are done.
        let forks: Vec<(Prepared, IndicatorCache)> = instruments
            .par_iter()
            .map(|instrument| {
                let mut fork = cache.fork();
                let prepared = prepare(strategies, &end_view, &instrument.symbol, from, &mut fork);
                (prepared, fork)
            })
            .collect();
        forks
            .into_iter()
            .map(|(prepared, fork)| {
                cache.absorb(fork);
                prepared
            })
            .collect()
    } else {
        instruments
            .iter()
            .map(|instrument| prepare(strategies, &end_view, &instrument.symbol, from, cache))
            .collect()
    };
    let mut lanes: Vec<Lane<'_>> = Vec::with_capacity(instruments.len());
    for (instrument, prepared) in instruments.iter().zip(prepared) {
        let symbol = &instrument.symbol;
        let days = end_view.days(symbol);
        let closes = end_view.columns(symbol).map_or(&[][..], |c| c.close);
        let candles = end_view.candles(symbol);
        let aligned = candles.len() == days.len()
            && candles.first().map(Candle::day) == days.first().copied();
        let candles = if aligned { candles } else { &[][..] };
        let first = prepared.first;
        lanes.push(Lane {
            symbol,
            days,
            closes,
            candles,
            cursor: first,
            first,
            entries: prepared.entries,
            passes: prepared.passes,
            exits: prepared.exits,
            traded: prepared.traded,
            today: false,
            end: days.len(),
            on_period: None,
        });
    }
    let period = period_days(&lanes, from, to);
    if period.is_empty() {
        return Err(BacktestError::EmptyPeriod { from, to });
    }
    let mut walk = Walk {
        data,
        strategies,
        broker: PaperBroker {
            model: settings.fill_model,
        },
        to,
        account: Account::new(settings.initial_cash),
        cash: approx(settings.initial_cash.0),
        held: Vec::new(),
        has_limits: strategies
            .iter()
            .map(|s| s.strategy.exit_limits() != ExitLimits::default())
            .collect(),
        trades: Vec::new(),
        unfilled: Vec::new(),
        first_ready: None,
        scratch: Vec::new(),
        holding: vec![None; lanes.len() * strategies.len()],
        open_count: vec![0; strategies.len()],
        due: BinaryHeap::new(),
        watched: 0,
    };
    for lane in &mut lanes {
        // The period is the union of every lane's days in it, so a lane with as many days in
        // it as the period has all of them: no day-by-day comparison needed.
        let in_period = lane.end.saturating_sub(lane.first);
        lane.on_period = (in_period == period.len()).then_some(lane.first);
    }
    let mut agenda = Agenda::new(&lanes, &period);
    walk.first_ready = agenda.first_ready;
    // The benchmark reads only what the walk does not move (days, closes, where the period
    // starts), so a portfolio computes it on another core while the walk runs.
    let quotes: Vec<Quotes<'_>> = lanes.iter().map(Lane::quotes).collect();
    let (walked, benchmark) = if lanes.len() >= PARALLEL_LANES {
        rayon::join(
            || walk.run(&mut lanes, &mut agenda, &period, cache),
            || benchmark(&quotes, &period),
        )
    } else {
        (
            walk.run(&mut lanes, &mut agenda, &period, cache),
            benchmark(&quotes, &period),
        )
    };
    let Curve {
        mut equity,
        peak_before_last,
    } = walked?;
    if settings.close_at_end {
        walk.close_all(&lanes, &period)?;
        if let Some(last) = equity.last_mut() {
            last.equity = walk.cash;
            last.cash = walk.cash;
            last.drawdown = drawdown(last.equity, peak_before_last.max(last.equity));
        }
    }
    let open_trades = walk.open_trades(&lanes);
    let final_cash = walk.account.cash();
    let holdings: Decimal = open_trades
        .iter()
        .map(|t| t.quantity.0 * t.mark_price.0)
        .sum();
    let benchmark_start = walk.first_ready.map_or(0, |bar| bar.saturating_sub(1));
    let annual_periods = settings
        .annual_periods
        .unwrap_or_else(|| annual_periods(instruments.iter().copied()));
    let stats = stats::compute(&StatsInput {
        equity: &equity,
        trades: &walk.trades,
        benchmark: &benchmark,
        benchmark_start,
        annual_periods,
    });
    Ok(BacktestResult {
        initial_cash: settings.initial_cash,
        final_cash,
        final_equity: Money(final_cash.0 + holdings),
        trades: walk.trades,
        open_trades,
        equity,
        stats,
        unfilled: walk.unfilled,
    })
}

/// The equity curve of a walk, and the running peak before its last bar (`close_at_end`
/// changes that bar after the walk).
struct Curve {
    equity: Vec<EquityPoint>,
    peak_before_last: f64,
}

/// What the benchmark reads of a lane: none of it moves during the walk.
struct Quotes<'a> {
    days: &'a [Day],
    closes: &'a [f64],
    /// Where the period starts in `days`.
    first: usize,
    /// Whether the lane has a candle on every day of the period.
    on_period: bool,
}

/// From how many instruments a backtest prepares them in parallel: below it the threads cost
/// more than they save.
const PARALLEL_LANES: usize = 8;

/// One instrument's decisions over the whole history, before the walk.
struct Prepared {
    /// Where the period starts in the instrument's days.
    first: usize,
    /// Whether each strategy trades the instrument.
    traded: Vec<bool>,
    /// Entry outcomes per strategy, when they can be known over the history.
    entries: Vec<Option<Vec<Outcome>>>,
    /// Where each strategy's entry outcomes are ready and pass from `from` on.
    passes: Vec<EntryPasses>,
    /// Exit signal outcomes per strategy, likewise.
    exits: Vec<Option<Vec<Outcome>>>,
}

/// Where an instrument's precomputed entry is ready and passes in the period: found by
/// [`prepare`] while the outcomes are fresh in cache, on every core, so that building the
/// [`Agenda`] does not read every outcome of every instrument again.
#[derive(Debug, Default)]
struct EntryPasses {
    /// The first day (an index into the instrument's days) in the period on which the entry
    /// is decided (passes or fails).
    first_ready: Option<usize>,
    /// The days (likewise) on which it passes, ascending.
    days: Vec<usize>,
}

impl EntryPasses {
    /// Scans `outcomes` (one per day of the instrument) from day index `first` on.
    fn of(outcomes: &[Outcome], first: usize) -> Self {
        let window = outcomes.get(first..).unwrap_or_default();
        Self {
            first_ready: window
                .iter()
                .position(|o| *o != Outcome::NotReady)
                .map(|j| first + j),
            days: (first..outcomes.len())
                .filter(|&j| outcomes[j] == Outcome::Passed)
                .collect(),
        }
    }
}

/// Decides `symbol`'s entries and exit signals on every day of `end_view` where the strategies
/// allow it (see [`Signal::outcomes`](crate::rule::Signal::outcomes)), and puts the indicators of
/// the others in `cache` so each day reads them instead of recomputing them over a longer
/// history.
fn prepare(
    strategies: &[BacktestStrategy<'_>],
    end_view: &MarketView<'_>,
    symbol: &Symbol,
    from: Day,
    cache: &mut IndicatorCache,
) -> Prepared {
    let first = end_view.days(symbol).partition_point(|d| *d < from);
    let traded: Vec<bool> = strategies
        .iter()
        .map(|s| s.strategy.trades(symbol))
        .collect();
    let mut entries = Vec::with_capacity(strategies.len());
    let mut passes = Vec::with_capacity(strategies.len());
    let mut exits = Vec::with_capacity(strategies.len());
    for (s, &traded) in strategies.iter().zip(&traded) {
        if !traded {
            entries.push(None);
            passes.push(EntryPasses::default());
            exits.push(None);
            continue;
        }
        let entry = s
            .strategy
            .entry_outcomes(end_view, symbol, cache)
            .map(|signal| signal.outcomes());
        let exit = s
            .strategy
            .exit_signal_outcomes(end_view, symbol, cache)
            .map(|signal| signal.outcomes());
        if entry.is_none() || exit.is_none() {
            s.strategy.precompute(end_view, symbol, cache);
        }
        passes.push(
            entry
                .as_deref()
                .map_or_else(EntryPasses::default, |o| EntryPasses::of(o, first)),
        );
        entries.push(entry);
        exits.push(exit);
    }
    Prepared {
        first,
        traded,
        entries,
        passes,
        exits,
    }
}

/// `equity / running peak − 1` (0 or negative; 0 while the peak is not positive).
fn drawdown(equity: f64, peak: f64) -> f64 {
    if peak > 0.0 { equity / peak - 1.0 } else { 0.0 }
}

/// The first and last complete day over the instruments.
fn bounds(
    data: &MarketData,
    instruments: &[&BacktestInstrument],
) -> Result<(Day, Day), BacktestError> {
    let all = data.view(Day::MAX);
    let mut range: Option<(Day, Day)> = None;
    for instrument in instruments {
        let days = all.days(&instrument.symbol);
        let (Some(first), Some(last)) = (days.first(), days.last()) else {
            return Err(BacktestError::NoCandles(instrument.symbol.clone()));
        };
        range = Some(match range {
            None => (*first, *last),
            Some((a, b)) => (a.min(*first), b.max(*last)),
        });
    }
    range.ok_or(BacktestError::NothingToTest)
}

/// Every day in `from..=to` on which some instrument has a complete candle, ascending: for one
/// instrument a slice of its own days (no copy), for several their merged days.
fn period_days<'a>(lanes: &[Lane<'a>], from: Day, to: Day) -> Cow<'a, [Day]> {
    fn inside<'a>(l: &Lane<'a>, from: Day, to: Day) -> &'a [Day] {
        let start = l.days.partition_point(|d| *d < from);
        let end = l.days.partition_point(|d| *d <= to);
        &l.days[start..end.max(start)]
    }
    if let [lane] = lanes {
        return Cow::Borrowed(inside(lane, from, to));
    }
    // Instruments on one calendar (a portfolio of crypto, or of stocks) share their days: one
    // comparison per day instead of merging and sorting every instrument's.
    if let Some((first, rest)) = lanes.split_first() {
        let days = inside(first, from, to);
        if rest.iter().all(|l| same_days(inside(l, from, to), days)) {
            return Cow::Borrowed(days);
        }
    }
    let mut days: Vec<Day> = lanes
        .iter()
        .flat_map(|l| inside(l, from, to).iter().copied())
        .collect();
    days.sort_unstable();
    days.dedup();
    Cow::Owned(days)
}

/// Whether `a` and `b` hold the same days: the same slice of one shared list (instruments on
/// one calendar, see [`MarketData`]), else compared a block at a time without a branch per day.
fn same_days(a: &[Day], b: &[Day]) -> bool {
    std::ptr::eq(a, b)
        || a.len() == b.len()
            && a.chunks(64)
                .zip(b.chunks(64))
                .all(|(x, y)| x.iter().zip(y).fold(true, |same, (d, e)| same & (d == e)))
}

/// The buy-and-hold benchmark on every bar of the period: for one instrument its closes, which
/// are the period's days one for one (every statistic of the benchmark is a ratio, so its scale
/// does not matter); for several an equal-weight index (each close relative to its first close
/// in the period, carried forward over days without a candle).
fn benchmark<'a>(lanes: &[Quotes<'a>], period: &[Day]) -> Cow<'a, [f64]> {
    if let [lane] = lanes {
        let start = lane.first;
        if let Some(closes) = lane.closes.get(start..start + period.len()) {
            return Cow::Borrowed(closes);
        }
    }
    let mut index = vec![0.0; period.len()];
    let weight = 1.0 / lanes.len() as f64;
    for lane in lanes {
        let start = lane.first;
        let Some(&base) = lane.closes.get(start) else {
            continue;
        };
        let scale = weight / base;
        // An instrument with a candle on every day of the period (one calendar for all) adds
        // its closes bar for bar, without the search for the latest one.
        if lane.on_period {
            let closes = &lane.closes[start..start + period.len()];
            for (value, close) in index.iter_mut().zip(closes) {
                *value += close * scale;
            }
            continue;
        }
        let mut cursor = start;
        for (bar, day) in period.iter().enumerate() {
            while cursor + 1 < lane.days.len() && lane.days[cursor + 1] <= *day {
                cursor += 1;
            }
            index[bar] += lane.closes[cursor] * scale;
        }
    }
    Cow::Owned(index)
}

/// Which lanes the walk must visit on which bar, read from the precomputed entry outcomes.
struct Agenda {
    /// The bars with a passing entry (of some strategy), ascending, one per lane that passes:
    /// `lanes[j]` passes on `bars[j]`, and a bar's lanes are in lane order.
    bars: Vec<usize>,
    lanes: Vec<usize>,
    /// Which strategies pass there: bit `k` for strategy `k` (every bit when there are more
    /// strategies than bits, and the outcomes are read instead).
    masks: Vec<u64>,
    /// Where the next bar's lanes start in `bars`.
    next: usize,
    /// Lanes with a strategy decided day by day (no precomputed outcomes): visited every day.
    always: Vec<usize>,
    /// The first bar on which some precomputed entry decision is ready.
    first_ready: Option<usize>,
}

impl Agenda {
    fn new(lanes: &[Lane<'_>], period: &[Day]) -> Self {
        let mut agenda = Self {
            bars: Vec::new(),
            lanes: Vec::new(),
            masks: Vec::new(),
            next: 0,
            always: Vec::new(),
            first_ready: None,
        };
        if period.is_empty() {
            return agenda;
        }
        let mut events: Vec<(usize, usize, u64)> = Vec::new();
        for (i, lane) in lanes.iter().enumerate() {
            let before = events.len();
            for (k, (outcomes, traded)) in lane.entries.iter().zip(&lane.traded).enumerate() {
                if !traded {
                    continue;
                }
                let bit = if k < 64 { 1 << k } else { u64::MAX };
                if outcomes.is_none() {
                    agenda.always.push(i);
                    continue;
                }
                let passes = &lane.passes[k];
                if let Some(j) = passes.first_ready {
                    let bar = lane.bar_of(j, period);
                    agenda.first_ready = Some(agenda.first_ready.map_or(bar, |b| b.min(bar)));
                }
                events.extend(
                    passes
                        .days
                        .iter()
                        .map(|&j| (lane.bar_of(j, period), i, bit)),
                );
            }
            // Two strategies passing on one day list the lane once, with both bits.
            if lane.entries.len() > 1 {
                events[before..].sort_unstable();
                let mut kept = before;
                for e in before..events.len() {
                    let (bar, lane, bit) = events[e];
                    if kept > before && events[kept - 1].0 == bar {
                        events[kept - 1].2 |= bit;
                    } else {
                        events[kept] = (bar, lane, bit);
                        kept += 1;
                    }
                }
                events.truncate(kept);
            }
        }
        agenda.always.dedup();
        if lanes.len() > 1 {
            // A counting sort by bar keeps each bar's lanes in lane order (they were pushed so);
            // one count per bar is temporary, and a single lane's events are already in order.
            let mut starts = vec![0u32; period.len() + 1];
            for &(bar, ..) in &events {
                starts[bar + 1] += 1;
            }
            for b in 0..period.len() {
                starts[b + 1] += starts[b];
            }
            let mut sorted = vec![(0, 0, 0); events.len()];
            for &event in &events {
                sorted[starts[event.0] as usize] = event;
                starts[event.0] += 1;
            }
            events = sorted;
        }
        agenda.bars = events.iter().map(|e| e.0).collect();
        agenda.lanes = events.iter().map(|e| e.1).collect();
        agenda.masks = events.iter().map(|e| e.2).collect();
        agenda
    }

    /// The lanes with a passing entry on `bar`, in lane order, and which strategies pass on each.
    /// Every bar of the period is asked, in order.
    fn entries_on(&mut self, bar: usize) -> (&[usize], &[u64]) {
        let from = self.next;
        let to = from + self.bars[from..].iter().take_while(|b| **b == bar).count();
        self.next = to;
        (&self.lanes[from..to], &self.masks[from..to])
    }
}

/// The current day of the walk and its place in the period.
struct Today<'p> {
    day: Day,
    bar: usize,
    period: &'p [Day],
}

impl Today<'_> {
    /// The bar of `day` in the period (a fill day is always one of its days, or after it).
    fn bar_of(&self, day: Day) -> usize {
        if day == self.day {
            self.bar
        } else {
            self.period.partition_point(|d| *d < day)
        }
    }
}

/// What the walk keeps about one position beside the account.
#[derive(Clone, Copy)]
struct Held {
    lane: usize,
    strategy: usize,
    /// Units as f64, for the equity curve.
    quantity: f64,
    entry_bar: usize,
    /// Checked on every day its instrument trades (risk exits, or an exit signal decided day
    /// by day), rather than only on the days its exit signal passes.
    watched: bool,
}

/// The state of one walk over the period.
struct Walk<'d, 's> {
    data: &'d MarketData,
    strategies: &'s [BacktestStrategy<'s>],
    broker: PaperBroker,
    to: Day,
    account: Account,
    /// The account's cash as f64, for the equity curve.
    cash: f64,
    /// Per position id − 1 (ids count from 1 in opening order); which positions are open is
    /// the account's to say.
    held: Vec<Held>,
    /// Whether each strategy has risk exits (checked on every day a position is held).
    has_limits: Vec<bool>,
    trades: Vec<Trade>,
    unfilled: Vec<Unfilled>,
    /// The first bar on which some entry decision was ready.
    first_ready: Option<usize>,
    /// Reused buffer for the exit order.
    scratch: Vec<(usize, PositionId)>,
    /// The open position of each (lane, strategy), at `lane × strategies + strategy`: one per
    /// strategy and instrument, kept here so an entry does not walk every open position.
    holding: Vec<Option<PositionId>>,
    /// How many positions each strategy has open (its `max_open_positions` is checked on it).
    open_count: Vec<u32>,
    /// The open positions that are not watched, by the bar on which their exit signal next
    /// passes: `(bar, lane, position id)`, earliest first. On other days nothing can close them.
    due: BinaryHeap<Reverse<(usize, usize, i64)>>,
    /// How many open positions are watched (see [`Held::watched`]).
    watched: usize,
}

impl<'d> Walk<'d, '_> {
    /// Walks every day of `period`: enters, exits and marks the equity at each close.
    fn run(
        &mut self,
        lanes: &mut [Lane<'_>],
        agenda: &mut Agenda,
        period: &[Day],
        cache: &mut IndicatorCache,
    ) -> Result<Curve, BacktestError> {
        let mut equity = Vec::with_capacity(period.len());
        let mut today: Vec<(usize, u64)> = Vec::with_capacity(lanes.len());
        let mut pending: Vec<Pending> = Vec::new();
        // The running peak of the curve, and what it was before the last bar (`close_at_end`
        // changes that bar's equity after the loop).
        let (mut peak, mut peak_before_last) = (f64::MIN, f64::MIN);
        for (bar, &day) in period.iter().enumerate() {
            // Only the instruments where something can happen today are visited: a passing entry
            // that can act (on a big portfolio with a cap, most cannot), one decided day by day, an
            // open position or a pending fill (whose close the equity reads); the others' cursors
            // catch up when they are next visited. Entries are decided in lane (symbol) order.
            today.clear();
            let (passing, masks) = agenda.entries_on(bar);
            for (&i, &mask) in passing.iter().zip(masks) {
                if self.blocked(i, mask) {
                    continue;
                }
                let lane = &mut lanes[i];
                lane.advance_to(day, bar);
                if lane.today {
                    today.push((i, mask));
                }
            }
            if !agenda.always.is_empty() {
                for &i in &agenda.always {
                    let lane = &mut lanes[i];
                    lane.advance_to(day, bar);
                    if lane.today && !today.iter().any(|(j, _)| *j == i) {
                        today.push((i, 0));
                    }
                }
                today.sort_unstable_by_key(|(i, _)| *i);
            }
            for i in self.open_lanes().chain(pending.iter().map(|p| p.lane)) {
                lanes[i].advance_to(day, bar);
            }
            // A next-open fill stays pending until its own day, which for a weekday instrument
            // decided on a Friday is the Monday, after the weekend's closes.
            pending.retain(|p| p.day > day);
            let now = Today { day, bar, period };
            // Most days nothing can happen; the outcomes already say so, and the full steps (which
            // would decide the same) are skipped.
            if !self.quiet(lanes, &today, bar) {
                self.entries(lanes, &today, &now, cache, &mut pending)?;
                self.exits(lanes, &now, cache, &mut pending)?;
            }
            let value = self.equity(lanes, &pending);
            // Like the equity, the cash at D's close does not include fills dated after D.
            let cash = self.cash - pending.iter().map(|p| p.cash_delta).sum::<f64>();
            // The drawdown while the point is being written: a pass of its own over a long curve
            // costs more in memory traffic than the division does here.
            peak_before_last = peak;
            peak = peak.max(value);
            equity.push(EquityPoint {
                day,
                equity: value,
                cash,
                drawdown: drawdown(value, peak),
            });
        }
        Ok(Curve {
            equity,
            peak_before_last,
        })
    }

    fn held(&self, id: PositionId) -> Option<&Held> {
        usize::try_from(id.0 - 1)
            .ok()
            .and_then(|i| self.held.get(i))
    }

    /// Puts position `id` (strategy `k` on lane `i`, not watched) on the bar of the first day
    /// from `from` on where its exit signal passes, if the period has one: the first day it can
    /// close, as a position is only judged from its entry day on.
    fn schedule(
        &mut self,
        lane: &Lane<'_>,
        i: usize,
        k: usize,
        id: PositionId,
        from: Day,
        period: &[Day],
    ) {
        let Some(outcomes) = lane.exits[k].as_deref() else {
            return;
        };
        // `from` is the entry's fill day or the day after today: at the lane's current or next
        // day, found without a search through its whole history.
        let near = lane.cursor.saturating_sub(1);
        let start = match lane.days.get(near..) {
            Some([today, ..]) if *today >= from => near,
            Some([_, next, ..]) if *next >= from => near + 1,
            _ => lane.days.partition_point(|d| *d < from),
        };
        let end = lane.end;
        let Some(j) = outcomes
            .get(start..end)
            .and_then(|o| o.iter().position(|o| *o == Outcome::Passed))
        else {
            return;
        };
        self.due
            .push(Reverse((lane.bar_of(start + j, period), i, id.0)));
    }

    /// Whether every strategy of `mask` (see [`Agenda::masks`]) already holds lane `i` or is at
    /// its maximum of open positions: an entry on it would decide nothing.
    fn blocked(&self, i: usize, mask: u64) -> bool {
        if mask == u64::MAX {
            return false;
        }
        let n = self.strategies.len().min(64);
        (0..n)
            .filter(|k| mask & (1 << k) != 0)
            .all(|k| !self.can_enter(i, k))
    }

    /// Whether strategy `k` could open a position on lane `i`: it holds none there and is under
    /// its maximum (otherwise `act_on_entry` would decide nothing).
    fn can_enter(&self, i: usize, k: usize) -> bool {
        self.holding[i * self.strategies.len() + k].is_none()
            && self.strategies[k]
                .max_open_positions
                .is_none_or(|max| self.open_count[k] < max)
    }

    /// Records that some entry decision was ready on `bar` (the earliest such bar is kept).
    fn ready_on(&mut self, bar: usize) {
        self.first_ready = Some(self.first_ready.map_or(bar, |first| first.min(bar)));
    }

    /// The lanes of the open positions.
    fn open_lanes(&self) -> impl Iterator<Item = usize> + '_ {
        self.account
            .open_positions()
            .filter_map(|p| self.held(p.id).map(|h| h.lane))
    }

    /// Whether nothing can happen on the current day, read from precomputed outcomes alone: no
    /// entry passes that can act and no open position has a risk exit to check or an exit
    /// signal that passes.
    fn quiet(&self, lanes: &[Lane<'_>], today: &[(usize, u64)], bar: usize) -> bool {
        // Today's lanes have a passing entry that can act, or a strategy decided day by day.
        if !today.is_empty() {
            return false;
        }
        if self
            .due
            .peek()
            .is_some_and(|Reverse((due, ..))| *due <= bar)
        {
            return false;
        }
        if self.watched == 0 {
            return true;
        }
        self.account.open_positions().all(|p| {
            let Some(held) = self.held(p.id) else {
                return false;
            };
            if !held.watched {
                return true;
            }
            let lane = &lanes[held.lane];
            if !lane.today {
                return true;
            }
            !self.has_limits[held.strategy]
                && lane.exits[held.strategy]
                    .as_ref()
                    .is_some_and(|o| o[lane.cursor - 1] != Outcome::Passed)
        })
    }

    /// Cash plus open positions at their latest close (the entry price before the first), exact:
    /// what an entry's equity-fraction size is computed from, as the live job does.
    fn marked_equity(&self, lanes: &[Lane<'_>]) -> Money {
        let mut equity = self.account.cash().0;
        for position in self.account.open_positions() {
            let Some(held) = self.held(position.id) else {
                continue;
            };
            let mark = lanes[held.lane]
                .latest(self.data)
                .map_or(position.entry_price, Candle::close);
            equity += position.market_value(mark).0;
        }
        Money(equity)
    }

    fn entries(
        &mut self,
        lanes: &[Lane<'_>],
        today: &[(usize, u64)],
        now: &Today<'_>,
        cache: &mut IndicatorCache,
        pending: &mut Vec<Pending>,
    ) -> Result<(), BacktestError> {
        let mut equity: Option<Money> = None;
        let view = self.data.view(now.day);
        let strategies = self.strategies;
        for &(i, mask) in today {
            let lane = &lanes[i];
            let index = lane.cursor - 1;
            for (k, s) in strategies.iter().enumerate() {
                if !lane.traded[k] {
                    continue;
                }
                let outcome = match &lane.entries[k] {
                    // The agenda's bits say which precomputed entries pass today.
                    Some(_) if k < 64 && mask != u64::MAX => {
                        if mask & (1 << k) == 0 {
                            continue;
                        }
                        Outcome::Passed
                    }
                    Some(outcomes) => outcomes[index],
                    None => s.strategy.entry(&view, lane.symbol, cache).outcome,
                };
                if outcome != Outcome::NotReady {
                    self.ready_on(now.bar);
                }
                if outcome != Outcome::Passed {
                    continue;
                }
                // On a big portfolio most passing entries end here, before any candle is read.
                if !self.can_enter(i, k) {
                    continue;
                }
                let held = self.holding[i * strategies.len() + k];
                let open_positions = self.open_count[k];
                // Only an equity-fraction size reads the equity: marking every open position
                // exactly is skipped for the others (it is the same either way).
                let equity = match s.sizing {
                    Sizing::EquityFraction(_) => {
                        *equity.get_or_insert_with(|| self.marked_equity(lanes))
                    }
                    _ => self.account.cash(),
                };
                let Some(decided_on) = lane.decision_candle(self.data, now.day) else {
                    continue;
                };
                let book = EntryBook {
                    cash: self.account.cash(),
                    equity,
                    held,
                    open_positions,
                };
                let next = lane.next(self.data, now.day);
                let action = engine::act_on_entry(
                    &self.broker,
                    s.sizing,
                    s.max_open_positions,
                    book,
                    decided_on,
                    next,
                );
                let name = s.strategy.name();
                match action {
                    EntryAction::AlreadyOpen(_) | EntryAction::AtMaximum(_) => {}
                    EntryAction::Refused(refusal) => {
                        self.unfilled(now.day, lane.symbol, name, refusal.to_string());
                    }
                    EntryAction::Filled(fill) if !self.in_period(&fill) => {
                        self.unfilled(now.day, lane.symbol, name, after_period(self.to));
                    }
                    EntryAction::Filled(fill) => {
                        let id = self.account.open(name, &fill)?;
                        self.holding[i * strategies.len() + k] = Some(id);
                        self.open_count[k] += 1;
                        // `held` is indexed by position id − 1.
                        debug_assert_eq!(usize::try_from(id.0).ok(), Some(self.held.len() + 1));
                        let quantity = approx(fill.quantity.0);
                        let delta = approx(fill.cash_delta().0);
                        self.cash += delta;
                        let watched = self.has_limits[k] || lane.exits[k].is_none();
                        self.held.push(Held {
                            lane: i,
                            strategy: k,
                            quantity,
                            entry_bar: now.bar_of(fill.day),
                            watched,
                        });
                        if watched {
                            self.watched += 1;
                        } else {
                            self.schedule(lane, i, k, id, fill.day, now.period);
                        }
                        if fill.day > now.day {
                            pending.push(Pending {
                                lane: i,
                                day: fill.day,
                                quantity,
                                cash_delta: delta,
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether `fill` happens inside the period. A next-open fill needs the next candle: on the
    /// last day there is none, and the live job's fallback (the latest close) would be a fill
    /// no market gave, so the order stays unfilled, as backtesting.py's last-bar orders do.
    fn in_period(&self, fill: &Fill) -> bool {
        fill.day <= self.to && fill.basis != PriceBasis::LatestClose
    }

    fn unfilled(&mut self, day: Day, symbol: &Symbol, strategy: &str, reason: String) {
        self.unfilled.push(Unfilled {
            day,
            symbol: symbol.clone(),
            strategy: strategy.to_owned(),
            reason,
        });
    }

    fn exits(
        &mut self,
        lanes: &[Lane<'_>],
        now: &Today<'_>,
        cache: &mut IndicatorCache,
        pending: &mut Vec<Pending>,
    ) -> Result<(), BacktestError> {
        if self.account.open_positions().next().is_none() {
            return Ok(());
        }
        // The live close job's order: by instrument (lanes are sorted by symbol), then id.
        let mut order = std::mem::take(&mut self.scratch);
        order.clear();
        while self
            .due
            .peek()
            .is_some_and(|Reverse((due, ..))| *due <= now.bar)
        {
            if let Some(Reverse((_, lane, id))) = self.due.pop() {
                order.push((lane, PositionId(id)));
            }
        }
        if self.watched > 0 {
            order.extend(self.account.open_positions().filter_map(|p| {
                let held = self.held(p.id)?;
                (held.watched && lanes[held.lane].today).then_some((held.lane, p.id))
            }));
        }
        order.sort_unstable();
        let view = self.data.view(now.day);
        for &(i, id) in &order {
            let lane = &lanes[i];
            let (Some(position), Some(held)) = (self.account.position(id), self.held(id).copied())
            else {
                continue;
            };
            if !position.is_open() {
                continue;
            }
            let s = &self.strategies[held.strategy];
            let signal = lane.exits[held.strategy]
                .as_ref()
                .map(|o| o[lane.cursor - 1]);
            let Some(reason) = strategy::exit_reason(s.strategy, &view, position, cache, signal)
            else {
                continue;
            };
            let Some(decided_on) = lane.decision_candle(self.data, now.day) else {
                continue;
            };
            let next = lane.next(self.data, now.day);
            let fill = self.broker.sell(position.quantity, decided_on, next);
            if !self.in_period(&fill) {
                let why = after_period(self.to);
                let name = position.strategy.clone();
                self.unfilled(now.day, lane.symbol, &name, why);
                continue;
            }
            let delta = self.book_exit(id, &fill, reason, now)?;
            if fill.day > now.day {
                pending.push(Pending {
                    lane: i,
                    day: fill.day,
                    quantity: -held.quantity,
                    cash_delta: delta,
                });
            }
        }
        // A scheduled position still open (no candle to decide on, or a fill after the period)
        // waits for its signal's next pass after today.
        for &(i, id) in &order {
            let Some(held) = self.held(id).copied() else {
                continue;
            };
            let open = self.account.position(id).is_some_and(|p| p.is_open());
            if open && !held.watched {
                let after = now.day.succ_opt().unwrap_or(Day::MAX);
                self.schedule(&lanes[i], i, held.strategy, id, after, now.period);
            }
        }
        self.scratch = order;
        Ok(())
    }

    /// Closes position `id` with `fill` and records the trade; returns the cash it moved.
    fn book_exit(
        &mut self,
        id: PositionId,
        fill: &Fill,
        reason: ExitReason,
        now: &Today<'_>,
    ) -> Result<f64, BacktestError> {
        let pnl = self.account.close(id, fill, reason)?;
        let position = self
            .account
            .position(id)
            .ok_or(BacktestError::Account(AccountError::NotOpen(id)))?;
        let held = self
            .held(id)
            .copied()
            .ok_or(BacktestError::Account(AccountError::NotOpen(id)))?;
        self.holding[held.lane * self.strategies.len() + held.strategy] = None;
        self.open_count[held.strategy] = self.open_count[held.strategy].saturating_sub(1);
        if held.watched {
            self.watched -= 1;
        }
        let delta = approx(fill.cash_delta().0);
        let fees = Money(position.entry_fee.0 + fill.fee.0);
        let return_fraction = approx(fill.price.0) / approx(position.entry_price.0)
            - 1.0
            - approx(fees.0) / approx(position.cost().0);
        let trade = Trade {
            position: id,
            symbol: position.symbol.clone(),
            strategy: position.strategy.clone(),
            entry_day: position.entry_day,
            exit_day: fill.day,
            entry_bar: held.entry_bar,
            exit_bar: now.bar_of(fill.day).min(now.period.len().saturating_sub(1)),
            quantity: position.quantity,
            entry_price: position.entry_price,
            exit_price: fill.price,
            fees,
            pnl,
            return_fraction,
            reason,
        };
        self.trades.push(trade);
        self.cash += delta;
        Ok(delta)
    }

    /// Equity at the current day's close: fills dated after it are undone (see module docs).
    fn equity(&self, lanes: &[Lane<'_>], pending: &[Pending]) -> f64 {
        let mut value = self.cash;
        for position in self.account.open_positions() {
            if let Some(held) = self.held(position.id) {
                value += held.quantity * lanes[held.lane].close().unwrap_or(0.0);
            }
        }
        for p in pending {
            // A pending buy is still cash; a pending sell is still the position.
            let close = lanes[p.lane].close().unwrap_or(0.0);
            value -= p.cash_delta + p.quantity * close;
        }
        value
    }

    /// Closes every open position at the last day's close (the `close_at_end` option).
    fn close_all(&mut self, lanes: &[Lane<'_>], period: &[Day]) -> Result<(), BacktestError> {
        let mut order: Vec<(usize, PositionId)> = self
            .account
            .open_positions()
            .filter_map(|p| self.held(p.id).map(|h| (h.lane, p.id)))
            .collect();
        order.sort_unstable();
        let model = self.broker.model.with_timing(FillTiming::Close);
        let Some(&last) = period.last() else {
            return Ok(());
        };
        let now = Today {
            day: last,
            bar: period.len() - 1,
            period,
        };
        for (i, id) in order {
            let (Some(candle), Some(position)) = (
                lanes[i].latest(self.data).cloned(),
                self.account.position(id),
            ) else {
                continue;
            };
            let fill = model.sell(position.quantity, &candle, None);
            self.book_exit(id, &fill, ExitReason::EndOfBacktest, &now)?;
        }
        Ok(())
    }

    fn open_trades(&self, lanes: &[Lane<'_>]) -> Vec<OpenTrade> {
        self.account
            .open_positions()
            .filter_map(|p| {
                let held = self.held(p.id)?;
                let mark = lanes[held.lane]
                    .latest(self.data)
                    .map_or(p.entry_price, Candle::close);
                Some(OpenTrade {
                    position: p.id,
                    symbol: p.symbol.clone(),
                    strategy: p.strategy.clone(),
                    entry_day: p.entry_day,
                    entry_bar: held.entry_bar,
                    quantity: p.quantity,
                    entry_price: p.entry_price,
                    entry_fee: p.entry_fee,
                    mark_price: mark,
                    unrealized_pnl: Money(p.quantity.0 * (mark.0 - p.entry_price.0)),
                })
            })
            .collect()
    }
}

/// A decimal as the nearest-enough f64 for the equity curve and trade returns (statistics only;
/// the money stays exact). Cheaper than the correctly rounded [`crate::decimal_to_f64`] the live
/// indicators need, and within an ulp or two of it.
fn approx(value: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    value.to_f64().unwrap_or(f64::NAN)
}

fn after_period(to: Day) -> String {
    format!("decided on the last day ({to}); there is no candle in the period to fill at")
}
