//! Strategies: what to buy and when to sell, decided on a point-in-time [`MarketView`].
//!
//! A [`Strategy`] is a pure function of the market at the close of the decision day (and, for
//! exits, the open position): it never sees a later candle, because [`MarketView`] cannot return
//! one. Strategies from `barter.toml` are [`RuleStrategy`]s built from [`StrategyConfig`];
//! strategies written in Rust implement the same trait (see [`example::Momentum`]).
//!
//! Exits are decided by [`decide_exit`] in a fixed priority: the strategy's [`ExitLimits`]
//! (stop-loss, trailing stop, take-profit, max holding — see [`exits`]), then its exit signal.

pub mod config;
pub mod example;
pub mod exits;

use serde::{Deserialize, Serialize};

use crate::account::{ExitReason, Position};
use crate::candle::Candle;
use crate::market::MarketView;
use std::sync::Arc;

use crate::rule::{
    EvalContext, Evaluation, IndicatorCache, Params, PositionView, Rule, SeriesSet, Signal,
};
use crate::symbol::Symbol;

pub use crate::rule::Outcome;
pub use config::{
    ConfigProblem, InstrumentSelection, MAX_SIZE, NumberText, SizeSpec, StrategyConfig, build_all,
};
pub use exits::{ExitLimits, ExitTrigger};

/// A decision with the values that led to it, so it can be explained afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Passed, failed or not ready.
    pub outcome: Outcome,
    /// Each part of the condition and its value at the decision day, e.g. `("rsi(close, 14)", 63.2)`.
    pub values: Vec<(String, f64)>,
    /// One line for people: why.
    pub explanation: String,
}

impl Decision {
    /// Whether to act.
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Passed
    }

    fn from_evaluation(label: &str, evaluation: Evaluation) -> Self {
        match evaluation {
            Evaluation::NotReady { reason } => Self {
                outcome: Outcome::NotReady,
                values: Vec::new(),
                explanation: reason,
            },
            Evaluation::Ready { passed, values } => Self {
                outcome: if passed {
                    Outcome::Passed
                } else {
                    Outcome::Failed
                },
                explanation: format!("{label} {}", if passed { "passed" } else { "did not pass" }),
                values,
            },
        }
    }

    fn not_ready(explanation: String) -> Self {
        Self {
            outcome: Outcome::NotReady,
            values: Vec::new(),
            explanation,
        }
    }
}

/// What a strategy reads from the market view, so a daily job loads only that: the f64 series
/// its indicators read over the whole history, and whether it reads exact candles before the
/// decision day (if not, the view holds exact candles from the decision day, or an exit's
/// entry day, on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataNeeds {
    /// The series read through [`MarketView::columns`].
    pub series: SeriesSet,
    /// Whether [`MarketView::candles`] must hold the whole history.
    pub all_candles: bool,
}

impl DataNeeds {
    /// Everything: every series and every exact candle.
    pub const ALL: DataNeeds = DataNeeds {
        series: SeriesSet::ALL,
        all_candles: true,
    };

    /// What both need.
    #[must_use]
    pub fn union(self, other: DataNeeds) -> DataNeeds {
        DataNeeds {
            series: self.series.union(other.series),
            all_candles: self.all_candles || other.all_candles,
        }
    }
}

/// A trading strategy, evaluated once per decision day.
pub trait Strategy: Send + Sync {
    /// Unique name, as in the config and the history.
    fn name(&self) -> &str;

    /// Whether the strategy trades `symbol`.
    fn trades(&self, symbol: &Symbol) -> bool;

    /// Whether to open a position in `symbol` at the close of `view.day()`.
    fn entry(&self, view: &MarketView<'_>, symbol: &Symbol, cache: &mut IndicatorCache)
    -> Decision;

    /// Whether the exit signal holds for `position` at the close of `view.day()`; `None` when the
    /// strategy has no exit signal (only its [`ExitLimits`] close positions).
    fn exit_signal(
        &self,
        view: &MarketView<'_>,
        position: &Position,
        cache: &mut IndicatorCache,
    ) -> Option<Decision>;

    /// Whether the strategy has an exit signal at all (a strategy without one is closed only by
    /// its [`ExitLimits`]); `true` unless it says otherwise.
    fn has_exit_signal(&self) -> bool {
        true
    }

    /// Stop-loss, take-profit, trailing stop and max holding time.
    fn exit_limits(&self) -> ExitLimits {
        ExitLimits::default()
    }

    /// Other instruments the strategy reads (their candles must be in the market view).
    fn references(&self) -> Vec<Symbol> {
        Vec::new()
    }

    /// What the strategy reads of the market; everything unless it says otherwise.
    fn data_needs(&self) -> DataNeeds {
        DataNeeds::ALL
    }

    /// The outcome of [`Strategy::entry`] on any complete day of `symbol` up to `view.day()`
    /// (day i of `view.days(symbol)` as [`Signal::outcome`]`(i)`), with the indicators computed
    /// once over the whole history, when the strategy can do that; `None` (the default): the
    /// simulator asks day by day.
    fn entry_outcomes(
        &self,
        _view: &MarketView<'_>,
        _symbol: &Symbol,
        _cache: &mut IndicatorCache,
    ) -> Option<Signal> {
        None
    }

    /// Computes into `cache`, over `symbol`'s whole history up to `view.day()`, the indicators
    /// day-by-day decisions will read, so a backtest does not recompute them on every day
    /// (see [`IndicatorCache`]). The default does nothing.
    fn precompute(&self, _view: &MarketView<'_>, _symbol: &Symbol, _cache: &mut IndicatorCache) {}

    /// Likewise for the exit signal, when it does not depend on the position: the outcome on
    /// day i is what [`Strategy::exit_signal`] decides on `view.days(symbol)[i]` for any position
    /// entered on or before that day.
    fn exit_signal_outcomes(
        &self,
        _view: &MarketView<'_>,
        _symbol: &Symbol,
        _cache: &mut IndicatorCache,
    ) -> Option<Signal> {
        None
    }
}

/// `position`'s complete candles from its entry day through the view's day.
fn held_candles<'a>(view: &MarketView<'a>, position: &Position) -> &'a [Candle] {
    let candles = view.candles(&position.symbol);
    let from = candles.partition_point(|c| c.day() < position.entry_day);
    &candles[from..]
}

/// What [`decide_exit`] decides, without building the explanation: the reason to close, if
/// any. The view's day must be a day with a complete candle of the position's instrument (the
/// simulator only asks on those days). `signal` is the exit signal's outcome on the view's day when already known (see
/// [`Strategy::exit_signal_outcomes`]); the simulator's loop calls this.
pub fn exit_reason(
    strategy: &dyn Strategy,
    view: &MarketView<'_>,
    position: &Position,
    cache: &mut IndicatorCache,
    signal: Option<Outcome>,
) -> Option<ExitReason> {
    // Judged only once a complete candle exists since the entry (`decide_exit`'s "not ready"):
    // the view's day has one, so that is an entry on or before it.
    if position.entry_day > view.day() {
        return None;
    }
    let signal = || match signal {
        Some(outcome) => Some(outcome),
        None => strategy
            .exit_signal(view, position, cache)
            .map(|d| d.outcome),
    };
    match first_exit(strategy, view, position, signal) {
        Ok(trigger) => Some(trigger.reason),
        Err(outcome) => (outcome == Some(Outcome::Passed)).then_some(ExitReason::Signal),
    }
}

/// The exit priority, in one place for [`decide_exit`] and [`exit_reason`]: the first risk exit
/// that holds (see [`ExitLimits::check`]), else whatever `signal` gives (it is asked only then).
fn first_exit<S>(
    strategy: &dyn Strategy,
    view: &MarketView<'_>,
    position: &Position,
    signal: impl FnOnce() -> S,
) -> Result<ExitTrigger, S> {
    let limits = strategy.exit_limits();
    // Without limits the candles since the entry are not even looked up.
    let trigger = (limits != ExitLimits::default())
        .then(|| limits.check(position, held_candles(view, position)))
        .flatten();
    trigger.ok_or_else(signal)
}

/// Whether to close `position` at the close of `view.day()`: the first risk exit that holds, else
/// the exit signal. Returns the decision and, when it passed, the reason to record.
pub fn decide_exit(
    strategy: &dyn Strategy,
    view: &MarketView<'_>,
    position: &Position,
    cache: &mut IndicatorCache,
) -> (Decision, Option<ExitReason>) {
    if held_candles(view, position).is_empty() {
        let why = format!(
            "no complete candle of {} since the entry on {}",
            position.symbol, position.entry_day
        );
        return (Decision::not_ready(why), None);
    }
    match first_exit(strategy, view, position, || {
        strategy.exit_signal(view, position, cache)
    }) {
        Ok(trigger) => {
            let values = trigger
                .level
                .iter()
                .map(|l| ("level".to_owned(), decimal_f64(l.0)))
                .chain([("close".to_owned(), decimal_f64(trigger.close.0))])
                .collect();
            let decision = Decision {
                outcome: Outcome::Passed,
                values,
                explanation: trigger.explanation,
            };
            (decision, Some(trigger.reason))
        }
        Err(Some(decision)) => {
            let reason = decision.passed().then_some(ExitReason::Signal);
            (decision, reason)
        }
        Err(None) => {
            let why = "no risk exit holds and the strategy has no exit signal".to_owned();
            (
                Decision {
                    outcome: Outcome::Failed,
                    values: Vec::new(),
                    explanation: why,
                },
                None,
            )
        }
    }
}

fn decimal_f64(d: rust_decimal::Decimal) -> f64 {
    crate::candle::decimal_to_f64(d)
}

/// A strategy made of rules from the config.
///
/// The parts that never change between the points of a sweep are shared (`Arc`), so the
/// strategy of one point ([`RuleStrategy::with_params`] on a clone) costs a few pointers, not a
/// copy of every rule's syntax tree.
#[derive(Debug, Clone)]
pub struct RuleStrategy {
    name: Arc<str>,
    instruments: Arc<InstrumentSelection>,
    entry: Arc<Rule>,
    exit: Option<Arc<Rule>>,
    limits: ExitLimits,
    overrides: Params,
}

impl RuleStrategy {
    /// A strategy from checked parts (see [`StrategyConfig::build`]).
    pub fn new(
        name: String,
        instruments: InstrumentSelection,
        entry: Rule,
        exit: Option<Rule>,
        limits: ExitLimits,
    ) -> Self {
        Self {
            name: name.into(),
            instruments: Arc::new(instruments),
            entry: Arc::new(entry),
            exit: exit.map(Arc::new),
            limits,
            overrides: Params::new(),
        }
    }

    /// The same strategy with some parameters set to other values (one point of a sweep).
    pub fn with_params(mut self, overrides: Params) -> Self {
        self.overrides = overrides;
        self
    }

    /// The same strategy with other risk exits (one point of a sweep).
    pub fn with_limits(mut self, limits: ExitLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The parameter values that replace the rules' defaults.
    pub fn params(&self) -> &Params {
        &self.overrides
    }

    /// The entry rule.
    pub fn entry_rule(&self) -> &Rule {
        &self.entry
    }

    /// The exit rule, if any.
    pub fn exit_rule(&self) -> Option<&Rule> {
        self.exit.as_deref()
    }

    /// `rule` over every day of `symbol` up to the view's day (see [`Rule::signal`]).
    fn outcomes(
        &self,
        rule: &Rule,
        view: &MarketView<'_>,
        symbol: &Symbol,
        cache: &mut IndicatorCache,
    ) -> Option<Signal> {
        let ctx =
            EvalContext::new(symbol.clone(), view.columns(symbol)?).with_params(&self.overrides);
        rule.signal(&ctx, cache)
    }

    fn evaluate(
        &self,
        rule: &Rule,
        view: &MarketView<'_>,
        symbol: &Symbol,
        position: Option<PositionView>,
        cache: &mut IndicatorCache,
    ) -> Decision {
        let Some(columns) = view.columns(symbol) else {
            return Decision::not_ready(format!("no candles of {symbol} up to {}", view.day()));
        };
        let mut ctx = EvalContext::new(symbol.clone(), columns).with_params(&self.overrides);
        for other in rule.instruments_referenced() {
            match view.columns(&other) {
                Some(columns) => ctx = ctx.with_instrument(other, columns),
                None => {
                    return Decision::not_ready(format!(
                        "no candles of {other} up to {}",
                        view.day()
                    ));
                }
            }
        }
        if let Some(position) = position {
            ctx = ctx.with_position(position);
        }
        let label = match rule.kind() {
            crate::rule::RuleKind::Entry => "entry rule",
            crate::rule::RuleKind::Exit => "exit rule",
        };
        Decision::from_evaluation(label, rule.evaluate(&ctx, cache))
    }
}

impl Strategy for RuleStrategy {
    fn name(&self) -> &str {
        &self.name
    }

    fn trades(&self, symbol: &Symbol) -> bool {
        self.instruments.includes(symbol)
    }

    fn entry(
        &self,
        view: &MarketView<'_>,
        symbol: &Symbol,
        cache: &mut IndicatorCache,
    ) -> Decision {
        self.evaluate(&self.entry, view, symbol, None, cache)
    }

    fn exit_signal(
        &self,
        view: &MarketView<'_>,
        position: &Position,
        cache: &mut IndicatorCache,
    ) -> Option<Decision> {
        let rule = self.exit.as_ref()?;
        let entry_index = view
            .days(&position.symbol)
            .partition_point(|d| *d < position.entry_day);
        let closes = view
            .columns(&position.symbol)
            .map(|c| c.close)
            .unwrap_or_default();
        let Some(held) =
            PositionView::from_closes(decimal_f64(position.entry_price.0), entry_index, closes)
        else {
            return Some(Decision::not_ready(format!(
                "no complete candle of {} since the entry",
                position.symbol
            )));
        };
        Some(self.evaluate(rule, view, &position.symbol, Some(held), cache))
    }

    fn has_exit_signal(&self) -> bool {
        self.exit.is_some()
    }

    fn exit_limits(&self) -> ExitLimits {
        self.limits
    }

    fn references(&self) -> Vec<Symbol> {
        let mut symbols = self.entry.instruments_referenced();
        if let Some(exit) = &self.exit {
            symbols.extend(exit.instruments_referenced());
        }
        symbols.sort();
        symbols.dedup();
        symbols
    }

    fn entry_outcomes(
        &self,
        view: &MarketView<'_>,
        symbol: &Symbol,
        cache: &mut IndicatorCache,
    ) -> Option<Signal> {
        self.outcomes(&self.entry, view, symbol, cache)
    }

    fn precompute(&self, view: &MarketView<'_>, symbol: &Symbol, cache: &mut IndicatorCache) {
        let Some(columns) = view.columns(symbol) else {
            return;
        };
        let mut ctx = EvalContext::new(symbol.clone(), columns).with_params(&self.overrides);
        for other in self.references() {
            if let Some(columns) = view.columns(&other) {
                ctx = ctx.with_instrument(other, columns);
            }
        }
        self.entry.precompute(&ctx, cache);
        if let Some(exit) = &self.exit {
            exit.precompute(&ctx, cache);
        }
    }

    fn exit_signal_outcomes(
        &self,
        view: &MarketView<'_>,
        symbol: &Symbol,
        cache: &mut IndicatorCache,
    ) -> Option<Signal> {
        self.outcomes(self.exit.as_deref()?, view, symbol, cache)
    }

    fn data_needs(&self) -> DataNeeds {
        let exit = self
            .exit
            .as_ref()
            .map_or(SeriesSet::NONE, |rule| rule.series_used());
        DataNeeds {
            series: self.entry.series_used().union(exit),
            all_candles: false,
        }
    }
}
