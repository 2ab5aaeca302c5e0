//! Properties of the simulator and of the evaluators it relies on, on the bundled sample data
//! and on random series:
//! 1. no lookahead: altering every candle after a day D changes nothing the backtest decided or
//!    booked up to D (and a strategy that peeks one day ahead is caught by the same check);
//! 2. the whole-history rule evaluator ([`Rule::outcomes`]) agrees day by day with
//!    [`Rule::evaluate`] on the history up to that day;
//! 3. the simulator's fast exit path ([`strategy::exit_reason`], with or without precomputed exit
//!    signals) agrees with the explained one ([`strategy::decide_exit`]);
//! 4. portfolio bookkeeping and the options of a backtest (two instruments, two strategies, one
//!    account);
//! 5. the errors of a backtest that cannot run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::OnceLock;

use barter_core::rule::{
    EvalContext, Evaluation, IndicatorCache, OwnedColumns, Params, Rule, RuleKind, render_errors,
};
use barter_core::simulator::{
    BacktestError, BacktestInstrument, BacktestResult, BacktestSettings, BacktestStrategy, Grid,
    Trade, backtest, score, screened_ranking,
};
use barter_core::strategy::config::AllMarker;
use barter_core::strategy::{
    self, Decision, ExitLimits, InstrumentSelection, Outcome, RuleStrategy,
    Strategy as TradingStrategy,
};
use barter_core::{
    Calendar, Candle, CandleOrigin, Day, ExitReason, FillModel, FillTiming, MarketData, MarketView,
    Money, Ohlcv, Position, PositionId, Price, Quantity, QuantityRounding, Sizing, Symbol,
    decimal_to_f64,
};
use proptest::prelude::{ProptestConfig, prop, prop_assert, prop_assert_eq, proptest};
use proptest::strategy::Strategy as _;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

// ---------------------------------------------------------------------------------------------
// Data and strategies
// ---------------------------------------------------------------------------------------------

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).expect("valid symbol")
}

fn day(s: &str) -> Day {
    s.parse().expect("valid day")
}

/// One line of a sample file.
#[derive(Debug, Clone)]
struct Row {
    day: Day,
    values: Ohlcv,
}

fn read_sample(file: &str) -> Vec<Row> {
    let path = format!("{}/../../data/sample/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("the sample file is bundled");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let d = |i: usize| Decimal::from_str(f[i]).expect("a decimal in the sample");
            Row {
                day: day(f[0]),
                values: Ohlcv {
                    open: d(1),
                    high: d(2),
                    low: d(3),
                    close: d(4),
                    volume: d(5),
                },
            }
        })
        .collect()
}

fn btc_rows() -> &'static [Row] {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| read_sample("btc-usd-daily.csv"))
}

fn eth_rows() -> &'static [Row] {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| read_sample("eth-usd-daily.csv"))
}

fn candles(symbol: &Symbol, rows: &[Row]) -> Vec<Candle> {
    rows.iter()
        .map(|r| {
            Candle::new(
                symbol.clone(),
                r.day,
                r.values,
                true,
                CandleOrigin::Sample,
                day("2030-01-01"),
            )
            .expect("a valid candle")
        })
        .collect()
}

fn market(histories: &[(&str, &[Row])]) -> MarketData {
    let mut data = MarketData::new();
    for (symbol, rows) in histories {
        let symbol = sym(symbol);
        data.insert(symbol.clone(), candles(&symbol, rows))
            .expect("an ascending history");
    }
    data
}

fn parse(source: &str, kind: RuleKind, params: &Params) -> Rule {
    Rule::parse(source, kind, params)
        .unwrap_or_else(|errors| panic!("{}", render_errors(&errors, source, "test rule")))
}

fn rule_strategy(
    name: &str,
    instruments: InstrumentSelection,
    entry: &str,
    exit: Option<&str>,
    limits: ExitLimits,
) -> RuleStrategy {
    let params = Params::new();
    RuleStrategy::new(
        name.to_owned(),
        instruments,
        parse(entry, RuleKind::Entry, &params),
        exit.map(|e| parse(e, RuleKind::Exit, &params)),
        limits,
    )
}

fn all() -> InstrumentSelection {
    InstrumentSelection::All(AllMarker::All)
}

fn instrument(symbol: &str) -> BacktestInstrument {
    BacktestInstrument {
        symbol: sym(symbol),
        calendar: Calendar::Continuous,
    }
}

fn fill_model(fee_bps: Decimal, slippage_bps: Decimal, timing: FillTiming) -> FillModel {
    FillModel::new(
        fee_bps,
        slippage_bps,
        timing,
        QuantityRounding::Fractional(8),
    )
    .expect("a valid fill model")
}

/// A deterministic pseudo-random sequence (SplitMix64): the tests need "random-ish" numbers,
/// not a random-number crate.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A factor in `low..=high` thousandths, e.g. `factor(500, 1500)` is in 0.5..=1.5.
    fn factor(&mut self, low: u64, high: u64) -> Decimal {
        let thousandths = low + self.next() % (high - low + 1);
        Decimal::new(i64::try_from(thousandths).expect("small"), 3)
    }
}

/// `rows` with every candle after `after` changed: the level moved by 0.5–1.5×, open and close
/// moved apart by up to ±10 %, high and low widened, volume rescaled; OHLC stays valid.
fn altered_after(rows: &[Row], after: Day, seed: u64) -> Vec<Row> {
    let mut rng = SplitMix(seed);
    rows.iter()
        .map(|r| {
            if r.day <= after {
                return r.clone();
            }
            let v = r.values;
            let level = rng.factor(500, 1500);
            let open = v.open * level * rng.factor(900, 1100);
            let close = v.close * level * rng.factor(900, 1100);
            let high = (v.high * level * rng.factor(1000, 1100))
                .max(open)
                .max(close);
            let low = (v.low * level * rng.factor(900, 1000)).min(open).min(close);
            Row {
                day: r.day,
                values: Ohlcv {
                    open,
                    high,
                    low,
                    close,
                    volume: v.volume * rng.factor(100, 3000),
                },
            }
        })
        .collect()
}

/// The BTC strategy of the lookahead test: two SMAs and an RSI to enter, the SMAs crossing back
/// to leave, with a stop-loss and a trailing stop.
fn lookahead_strategy() -> RuleStrategy {
    rule_strategy(
        "sma-rsi",
        all(),
        "crosses_above(sma(close, 10), sma(close, 30)) and rsi(close, 14) < 70",
        Some(
            "crosses_below(sma(close, 10), sma(close, 30)) \
             or close < bollinger(close, 20, 2.5).lower",
        ),
        ExitLimits {
            stop_loss: Some(dec!(0.08)),
            trailing_stop: Some(dec!(0.15)),
            ..ExitLimits::default()
        },
    )
}

fn lookahead_settings() -> BacktestSettings {
    BacktestSettings {
        initial_cash: Money(dec!(10000)),
        fill_model: fill_model(dec!(10), dec!(5), FillTiming::NextOpen),
        ..BacktestSettings::default()
    }
}

fn run_one(data: &MarketData, strategy: &dyn TradingStrategy, sizing: Sizing) -> BacktestResult {
    let strategies = [BacktestStrategy {
        strategy,
        sizing,
        max_open_positions: None,
    }];
    backtest(
        data,
        &[instrument("BTC")],
        &strategies,
        &lookahead_settings(),
    )
    .expect("the backtest runs")
}

/// Forwards the decisions of a strategy but not its precomputed outcomes, so the simulator
/// takes its day-by-day path. It forwards [`TradingStrategy::precompute`], so the indicators
/// the day-by-day decisions read are computed once over the whole history (not on every day's
/// history, which is quadratic).
struct DayByDay<'a>(&'a RuleStrategy);

impl TradingStrategy for DayByDay<'_> {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn trades(&self, symbol: &Symbol) -> bool {
        self.0.trades(symbol)
    }

    fn entry(
        &self,
        view: &MarketView<'_>,
        symbol: &Symbol,
        cache: &mut IndicatorCache,
    ) -> Decision {
        self.0.entry(view, symbol, cache)
    }

    fn exit_signal(
        &self,
        view: &MarketView<'_>,
        position: &Position,
        cache: &mut IndicatorCache,
    ) -> Option<Decision> {
        self.0.exit_signal(view, position, cache)
    }

    fn precompute(&self, view: &MarketView<'_>, symbol: &Symbol, cache: &mut IndicatorCache) {
        self.0.precompute(view, symbol, cache);
    }

    fn exit_limits(&self) -> ExitLimits {
        self.0.exit_limits()
    }
}

/// A deliberately broken strategy: it decides day D with the market of the next day, i.e. it
/// peeks one day ahead. The lookahead check must catch it.
struct PeekingOneDay<'a> {
    inner: &'a RuleStrategy,
    data: &'a MarketData,
}

impl<'a> PeekingOneDay<'a> {
    fn tomorrow(&self, symbol: &Symbol, today: Day) -> MarketView<'a> {
        let next = self
            .data
            .next_candle(symbol, today)
            .map_or(today, Candle::day);
        self.data.view(next)
    }
}

impl TradingStrategy for PeekingOneDay<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn trades(&self, symbol: &Symbol) -> bool {
        self.inner.trades(symbol)
    }

    fn entry(
        &self,
        view: &MarketView<'_>,
        symbol: &Symbol,
        cache: &mut IndicatorCache,
    ) -> Decision {
        self.inner
            .entry(&self.tomorrow(symbol, view.day()), symbol, cache)
    }

    fn exit_signal(
        &self,
        view: &MarketView<'_>,
        position: &Position,
        cache: &mut IndicatorCache,
    ) -> Option<Decision> {
        let tomorrow = self.tomorrow(&position.symbol, view.day());
        self.inner.exit_signal(&tomorrow, position, cache)
    }

    fn precompute(&self, view: &MarketView<'_>, symbol: &Symbol, cache: &mut IndicatorCache) {
        self.inner.precompute(view, symbol, cache);
    }

    fn exit_limits(&self) -> ExitLimits {
        self.inner.exit_limits()
    }
}

// ---------------------------------------------------------------------------------------------
// 1. No lookahead
// ---------------------------------------------------------------------------------------------

/// What is known of a position once it is entered.
type EntryKey = (PositionId, Symbol, String, Day, usize, Quantity, Price);

fn entries(result: &BacktestResult) -> Vec<EntryKey> {
    let closed = result.trades.iter().map(|t| {
        (
            t.position,
            t.symbol.clone(),
            t.strategy.clone(),
            t.entry_day,
            t.entry_bar,
            t.quantity,
            t.entry_price,
        )
    });
    let open = result.open_trades.iter().map(|t| {
        (
            t.position,
            t.symbol.clone(),
            t.strategy.clone(),
            t.entry_day,
            t.entry_bar,
            t.quantity,
            t.entry_price,
        )
    });
    let mut all: Vec<EntryKey> = closed.chain(open).collect();
    all.sort_by_key(|e| e.0);
    all
}

fn relatively_equal(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Everything `altered` (a run on data equal to `base`'s up to `d` and different after it) must
/// share with `base`, as differences; `next` is the first day after `d`. Decisions on `d` fill
/// at `next`'s open, so for them only the decision (who enters, who leaves and why) must agree:
/// - closed trades with an exit fill on or before `d` (entry and exit decided before `d`):
///   identical in every field;
/// - positions entered on or before `d`: same id, instrument, strategy, day, bar, quantity and
///   price;
/// - the decisions of `d`: the positions whose entry fill is `next` (same ids, instruments and
///   strategies; their price and size may differ) and the positions whose exit fill is `next`
///   (same ids and reasons);
/// - unfilled decisions before `d` identical; on `d` the same (day, instrument, strategy);
/// - equity points before `d` identical in every field; on `d`, equity, cash and drawdown equal
///   (to 1e-9: a fill decided on `d` happens at `next`'s open, after `d`'s close, so neither
///   the equity nor the cash of `d` may show it; see
///   [`equity_point_cash_on_a_decision_day_excludes_the_next_days_fill`]).
fn lookahead_differences(
    base: &BacktestResult,
    altered: &BacktestResult,
    d: Day,
    next: Day,
) -> Vec<String> {
    let mut problems = Vec::new();
    let closed_by = |r: &BacktestResult| -> Vec<Trade> {
        r.trades
            .iter()
            .filter(|t| t.exit_day <= d)
            .cloned()
            .collect()
    };
    if closed_by(base) != closed_by(altered) {
        problems.push(format!("trades closed by {d} differ"));
    }
    let entered_by = |r: &BacktestResult| -> Vec<EntryKey> {
        entries(r).into_iter().filter(|e| e.3 <= d).collect()
    };
    if entered_by(base) != entered_by(altered) {
        problems.push(format!("positions entered by {d} differ"));
    }
    let entered_next = |r: &BacktestResult| -> Vec<(PositionId, Symbol, String)> {
        entries(r)
            .into_iter()
            .filter(|e| e.3 == next)
            .map(|e| (e.0, e.1, e.2))
            .collect()
    };
    if entered_next(base) != entered_next(altered) {
        problems.push(format!(
            "entries decided on {d} differ: {:?} vs {:?}",
            entered_next(base),
            entered_next(altered)
        ));
    }
    let exited_next = |r: &BacktestResult| -> Vec<(PositionId, ExitReason)> {
        let mut exits: Vec<_> = r
            .trades
            .iter()
            .filter(|t| t.exit_day == next)
            .map(|t| (t.position, t.reason))
            .collect();
        exits.sort_by_key(|e| e.0);
        exits
    };
    if exited_next(base) != exited_next(altered) {
        problems.push(format!(
            "exits decided on {d} differ: {:?} vs {:?}",
            exited_next(base),
            exited_next(altered)
        ));
    }
    let unfilled_before = |r: &BacktestResult| -> Vec<_> {
        r.unfilled.iter().filter(|u| u.day < d).cloned().collect()
    };
    if unfilled_before(base) != unfilled_before(altered) {
        problems.push(format!("unfilled decisions before {d} differ"));
    }
    let unfilled_on = |r: &BacktestResult| -> Vec<_> {
        r.unfilled
            .iter()
            .filter(|u| u.day == d)
            .map(|u| (u.symbol.clone(), u.strategy.clone()))
            .collect()
    };
    if unfilled_on(base) != unfilled_on(altered) {
        problems.push(format!("unfilled decisions on {d} differ"));
    }
    for (a, b) in base.equity.iter().zip(&altered.equity) {
        if a.day != b.day {
            problems.push(format!("equity days differ: {} vs {}", a.day, b.day));
            break;
        }
        if a.day < d && a != b {
            problems.push(format!("equity point of {} differs: {a:?} vs {b:?}", a.day));
        }
        if a.day == d
            && !(relatively_equal(a.equity, b.equity)
                && relatively_equal(a.cash, b.cash)
                && relatively_equal(a.drawdown, b.drawdown))
        {
            problems.push(format!(
                "equity at the close of {d} differs: {a:?} vs {b:?}"
            ));
        }
    }
    problems
}

/// The day after `d` in `rows`.
fn next_day(rows: &[Row], d: Day) -> Day {
    let i = rows.partition_point(|r| r.day <= d);
    rows.get(i).expect("a day after the checkpoint").day
}

/// Checkpoints early, in the middle and late in the history: the decision days (the day before
/// the fill) of entries and exits of trades spread over `result`, plus the fill days themselves.
fn checkpoints(rows: &[Row], result: &BacktestResult) -> Vec<Day> {
    let before = |d: Day| rows[rows.partition_point(|r| r.day < d) - 1].day;
    let n = result.trades.len();
    assert!(n >= 10, "the strategy trades enough to pick checkpoints");
    let mut days = BTreeSet::new();
    for k in [n / 10, n / 2, n - 2] {
        let t = &result.trades[k];
        days.insert(before(t.entry_day));
        days.insert(before(t.exit_day));
        days.insert(t.entry_day);
    }
    days.into_iter().collect()
}

/// **No lookahead.** A backtest of an SMA/RSI strategy with a stop-loss and a trailing stop on
/// the bundled BTC history is rerun, for checkpoints D early, in the middle and late in the
/// history (decision days of entries and exits, and fill days), on a copy of the data where
/// every candle after D is changed (level 0.5–1.5×, open/close ±10 %, wider wicks, other
/// volume). Since every candle up to D is the same, everything decided and booked with what was
/// known at D's close must be the same: see [`lookahead_differences`] for the exact list (in
/// short: every fill on or before D, every decision on D — whose fill at D+1's open may change
/// price and size but not happen or not — and the equity curve through D's close).
///
/// Both simulator paths are checked: the precomputed whole-history outcomes of a
/// [`RuleStrategy`] and the day-by-day decisions of the same rules ([`DayByDay`]), which must
/// also give the same backtest.
///
/// The check has teeth: a strategy that decides D on D+1's market ([`PeekingOneDay`]) is
/// detected at some checkpoint (its decision on D changes when D+1 changes), and this is
/// asserted below, so a simulator that peeked one day ahead (decided on D+1's close, or used
/// outcome i+1 on day i) would fail the same way.
#[test]
fn no_lookahead_altering_the_future_changes_nothing_decided_before_it() {
    let rows = btc_rows();
    let strategy = lookahead_strategy();
    let sizing = Sizing::AllCash;
    let data = market(&[("BTC", rows)]);
    let base = run_one(&data, &strategy, sizing);
    let slow_base = run_one(&data, &DayByDay(&strategy), sizing);
    assert_eq!(
        base, slow_base,
        "precomputed outcomes and day-by-day decisions give the same backtest"
    );
    assert!(
        base.trades.iter().any(|t| t.reason == ExitReason::Signal)
            && base.trades.iter().any(|t| t.reason != ExitReason::Signal),
        "the exits include signals and risk exits"
    );
    let days = checkpoints(rows, &base);
    for (k, &d) in days.iter().enumerate() {
        let next = next_day(rows, d);
        let altered_rows = altered_after(rows, d, 7 + k as u64);
        assert_ne!(
            altered_rows[rows.partition_point(|r| r.day <= d)].values,
            rows[rows.partition_point(|r| r.day <= d)].values,
            "the day after {d} is altered"
        );
        let altered = market(&[("BTC", &altered_rows)]);
        for (path, run) in [
            ("precomputed", run_one(&altered, &strategy, sizing)),
            (
                "day by day",
                run_one(&altered, &DayByDay(&strategy), sizing),
            ),
        ] {
            let problems = lookahead_differences(&base, &run, d, next);
            assert!(
                problems.is_empty(),
                "{path}: altering the candles after {d} changed the past:\n{}",
                problems.join("\n")
            );
            assert_ne!(base.equity, run.equity, "the alteration after {d} matters");
        }
    }

    // The same check catches a strategy that peeks one day ahead.
    let peeking_base = run_one(
        &data,
        &PeekingOneDay {
            inner: &strategy,
            data: &data,
        },
        sizing,
    );
    let mut caught = Vec::new();
    for (k, &d) in checkpoints(rows, &peeking_base).iter().enumerate() {
        let altered = market(&[("BTC", &altered_after(rows, d, 7 + k as u64))]);
        let peeking = PeekingOneDay {
            inner: &strategy,
            data: &altered,
        };
        let run = run_one(&altered, &peeking, sizing);
        if !lookahead_differences(&peeking_base, &run, d, next_day(rows, d)).is_empty() {
            caught.push(d);
        }
    }
    assert!(
        !caught.is_empty(),
        "a strategy peeking one day ahead must be caught at some checkpoint"
    );
}

/// **Cash on a decision day** (regression, `simulator/engine.rs`): the equity point of a day D
/// on which a next-open fill is decided reports in `cash` the cash at D's close, before that
/// fill (which happens at D+1's open), as its `equity` does. So, on the BTC backtest of the
/// lookahead test:
/// - on the decision day of every exit, the position is still held: `equity − cash` is its
///   quantity at D's close (the cash does not hold the sale's proceeds yet);
/// - on the decision day of every entry (nothing held then), `cash` = `equity` (the cash has
///   not paid for the purchase yet);
/// - on those days, altering every candle after D (so D+1's open and the fill's price and
///   size) changes neither `cash` nor `equity` of D, on both simulator paths.
#[test]
fn equity_point_cash_on_a_decision_day_excludes_the_next_days_fill() {
    let rows = btc_rows();
    let strategy = lookahead_strategy();
    let data = market(&[("BTC", rows)]);
    let base = run_one(&data, &strategy, Sizing::AllCash);
    let btc = sym("BTC");
    let point_on = |r: &BacktestResult, d: Day| {
        *r.equity
            .iter()
            .find(|p| p.day == d)
            .expect("an equity point on the decision day")
    };
    let before = |d: Day| rows[rows.partition_point(|r| r.day < d) - 1].day;
    assert!(base.trades.len() >= 10, "the strategy trades");
    let mut previous_exit: Option<Day> = None;
    let mut decision_days = BTreeSet::new();
    for t in &base.trades {
        let entry_decided = before(t.entry_day);
        if previous_exit.is_none_or(|x| x <= entry_decided) {
            let p = point_on(&base, entry_decided);
            assert!(
                relatively_equal(p.cash, p.equity),
                "entry decided on {entry_decided} (filled {}): cash {} but equity {} with \
                 nothing held",
                t.entry_day,
                p.cash,
                p.equity
            );
            decision_days.insert(entry_decided);
        }
        let exit_decided = before(t.exit_day);
        if t.entry_day <= exit_decided {
            let p = point_on(&base, exit_decided);
            let held = decimal_to_f64(t.quantity.0 * values_on(&btc, exit_decided).close);
            assert!(
                relatively_equal(p.equity - p.cash, held),
                "exit decided on {exit_decided} (filled {}): equity {} − cash {} should be the \
                 position at the close, {held}",
                t.exit_day,
                p.equity,
                p.cash
            );
            decision_days.insert(exit_decided);
        }
        previous_exit = Some(t.exit_day);
    }
    let n = decision_days.len();
    assert!(n >= 20, "only {n} decision days");
    let picked: Vec<Day> = decision_days
        .iter()
        .copied()
        .enumerate()
        .filter(|(k, _)| [n / 10, n / 2, n - 3, n - 2].contains(k))
        .map(|(_, d)| d)
        .collect();
    for (k, &d) in picked.iter().enumerate() {
        let altered = market(&[("BTC", &altered_after(rows, d, 31 + k as u64))]);
        let expected = point_on(&base, d);
        for (path, run) in [
            ("precomputed", run_one(&altered, &strategy, Sizing::AllCash)),
            (
                "day by day",
                run_one(&altered, &DayByDay(&strategy), Sizing::AllCash),
            ),
        ] {
            let got = point_on(&run, d);
            assert!(
                relatively_equal(got.cash, expected.cash)
                    && relatively_equal(got.equity, expected.equity),
                "{path}: altering the candles after the decision day {d} changed its point: \
                 {expected:?} vs {got:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Whole-history evaluation = day by day
// ---------------------------------------------------------------------------------------------

/// The parameters declared by the rules below, with their defaults.
fn declared_params() -> Params {
    Params::from([
        ("fast".to_owned(), 5.0),
        ("slow".to_owned(), 20.0),
        ("lag".to_owned(), 2.0),
        ("dev".to_owned(), 2.0),
    ])
}

/// Rules over every function of the language, arithmetic, division by values that can be 0,
/// comparisons, `and`/`or`/`not`, lookbacks (of numbers and of conditions, fixed and by
/// parameter), crossings and parameters.
const RULES: [&str; 16] = [
    "crosses_above(sma(close, $fast), sma(close, $slow)) and rsi(close, 14) < 70",
    "crosses_below(ema(close, $fast), ema(close, $slow)) or rsi(close, $fast) > 65",
    "macd(close, $fast, $slow, 9).histogram > 0 \
     and macd(close, 12, 26, 9).line >= macd(close, 12, 26, 9).signal",
    "close > bollinger(close, $slow, $dev).upper or close < bollinger(close, 10, 1.5).lower",
    "atr(14) / close < 3% and close > wma(close, 10)",
    "(close - open) / (high - low) > 0.5",
    "close / (close - close[1]) > 10 or close / (close - close[1]) < -10",
    "not (close > highest(high, 20)[1]) and low <= lowest(low, $fast)",
    "roc(close, 10) > 5% or stddev(close, $slow) / sma(close, $slow) > 0.04",
    "crosses_above(close, sma(close, $slow))[$lag] and close[$lag] < close",
    "crosses_above(rsi(close, 14), 30) or crosses_below(rsi(close, 14), 70)",
    "-close + 2 * open >= high - low * 1.01 and volume != volume[1]",
    "volume > sma(volume, 10) * 1.5 or volume / (volume - volume[1]) > 2",
    "(ema(close, $fast) - sma(close, $slow))[1] < 0 and ema(close, $fast) - sma(close, $slow) >= 0",
    "(close > open)[3] and not (close > open)[1] or (close == close[1])[$lag]",
    "macd(close, 3, 10, 4).signal[2] / (atr($fast) - atr($fast)[1]) > 0 \
     and bollinger(close, 5, $dev).middle[$lag] != sma(close, 5)[$lag] * 1.000001",
];

fn outcome_of(evaluation: &Evaluation) -> Outcome {
    match evaluation {
        Evaluation::Ready { passed: true, .. } => Outcome::Passed,
        Evaluation::Ready { passed: false, .. } => Outcome::Failed,
        Evaluation::NotReady { .. } => Outcome::NotReady,
    }
}

/// One random day: (kind, gap, return, upper wick, lower wick, volume). Kind 0 is a flat candle
/// (open = high = low = close = the previous close), 1 an unchanged close, 2 no volume.
type DaySpec = (u8, f64, f64, f64, f64, f64);

fn columns_from(start: f64, specs: &[DaySpec]) -> OwnedColumns {
    let mut c = OwnedColumns::default();
    let mut previous = start;
    for &(kind, gap, ret, up, down, volume) in specs {
        let (open, close) = match kind {
            0 => (previous, previous),
            1 => (previous * (1.0 + gap), previous),
            _ => (previous * (1.0 + gap), previous * (1.0 + ret)),
        };
        let (high, low) = if kind == 0 {
            (previous, previous)
        } else {
            (open.max(close) * (1.0 + up), open.min(close) * (1.0 - down))
        };
        c.open.push(open);
        c.high.push(high);
        c.low.push(low);
        c.close.push(close);
        c.volume.push(if kind == 2 { 0.0 } else { volume });
        previous = close;
    }
    c
}

fn random_columns() -> impl proptest::strategy::Strategy<Value = OwnedColumns> {
    let day = (
        0u8..8,
        -0.03f64..0.03,
        -0.09f64..0.09,
        0.0f64..0.04,
        0.0f64..0.04,
        1.0f64..1000.0,
    );
    (0.5f64..5000.0, prop::collection::vec(day, 30..=300))
        .prop_map(|(start, specs)| columns_from(start, &specs))
}

fn random_overrides() -> impl proptest::strategy::Strategy<Value = Params> {
    prop::option::of((2u32..=6, 8u32..=30, 0u32..=4, 0usize..4)).prop_map(|choice| {
        choice.map_or_else(Params::new, |(fast, slow, lag, dev)| {
            Params::from([
                ("fast".to_owned(), f64::from(fast)),
                ("slow".to_owned(), f64::from(slow)),
                ("lag".to_owned(), f64::from(lag)),
                ("dev".to_owned(), [0.0, 0.5, 1.0, 2.5][dev]),
            ])
        })
    })
}

fn parsed_rules() -> &'static [Rule] {
    static PARSED: OnceLock<Vec<Rule>> = OnceLock::new();
    PARSED.get_or_init(|| {
        let params = declared_params();
        RULES
            .iter()
            .map(|source| parse(source, RuleKind::Entry, &params))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// **Whole history = day by day.** For random OHLCV series (positive prices, 30–300 days,
    /// with flat candles, unchanged closes and zero volumes so that divisions by zero happen)
    /// and every rule of [`RULES`], with the parameter defaults or random overrides, the
    /// outcome of [`Rule::outcomes`] on day i equals [`Rule::evaluate`] on the first i + 1 days
    /// (with a fresh cache, so indicators are computed on that history alone).
    #[test]
    fn whole_history_outcomes_equal_day_by_day_evaluation(
        columns in random_columns(),
        overrides in random_overrides(),
    ) {
        let eth = sym("ETH");
        let days = columns.close.len();
        for (rule, source) in parsed_rules().iter().zip(RULES) {
            prop_assert!(rule.check_params(&overrides).is_ok(), "overrides valid for {}", source);
            let whole = EvalContext::new(eth.clone(), columns.view()).with_params(&overrides);
            let outcomes = rule
                .outcomes(&whole, &mut IndicatorCache::new())
                .expect("a rule on the decision instrument alone has whole-history outcomes");
            prop_assert_eq!(outcomes.len(), days, "one outcome per day for {}", source);
            // The per-day signal a sweep's walk reads gives the same outcomes, and its scans
            // find the first passing day of any stretch.
            let signal = rule
                .signal(&whole, &mut IndicatorCache::new())
                .expect("a signal where there are outcomes");
            for (i, outcome) in outcomes.iter().enumerate() {
                prop_assert_eq!(signal.outcome(i), *outcome, "signal of `{}` on day {}", source, i);
            }
            for from in (0..days).step_by(7) {
                for to in [from + 1, from + 13, days, days + 5] {
                    let expected = (from..to.min(days)).find(|&d| outcomes[d] == Outcome::Passed);
                    prop_assert_eq!(
                        signal.next_pass(from, to),
                        expected,
                        "next pass of `{}` in {}..{}",
                        source,
                        from,
                        to
                    );
                }
            }
            for (i, outcome) in outcomes.iter().enumerate() {
                let ctx = EvalContext::new(eth.clone(), columns.view().until(i + 1))
                    .with_params(&overrides);
                let evaluation = rule.evaluate(&ctx, &mut IndicatorCache::new());
                prop_assert_eq!(
                    *outcome,
                    outcome_of(&evaluation),
                    "rule `{}` on day {} of {} with {:?}: {:?}",
                    source,
                    i,
                    days,
                    overrides,
                    evaluation
                );
            }
        }
    }
}

/// The rules cover what they should: every outcome occurs, over a fixed series.
#[test]
fn the_random_rules_pass_fail_and_wait() {
    let specs: Vec<DaySpec> = (0..300)
        .map(|i| {
            let x = f64::from(i);
            let kind = if i % 17 == 0 {
                0
            } else if i % 13 == 0 {
                1
            } else {
                3
            };
            let ret = (x * 0.37).sin() * 0.05 + (x * 0.05).cos() * 0.02;
            (kind, 0.004 * (x * 0.9).cos(), ret, 0.01, 0.012, 100.0 + x)
        })
        .collect();
    let columns = columns_from(100.0, &specs);
    let ctx = EvalContext::new(sym("ETH"), columns.view());
    let mut seen = BTreeMap::new();
    for (rule, source) in parsed_rules().iter().zip(RULES) {
        let outcomes = rule
            .outcomes(&ctx, &mut IndicatorCache::new())
            .expect("whole-history outcomes");
        for o in &outcomes {
            seen.entry(format!("{o:?}"))
                .or_insert_with(BTreeSet::new)
                .insert(source);
        }
    }
    for outcome in ["Passed", "Failed", "NotReady"] {
        let rules = seen.get(outcome).map_or(0, BTreeSet::len);
        assert!(rules >= 8, "only {rules} rules ever give {outcome}");
    }
}

/// [`Rule::outcomes`] declines (returns `None`) rules that read another instrument or the open
/// position; rules on the decision instrument alone, exit rules included, are computed.
#[test]
fn whole_history_outcomes_decline_other_instruments_and_positions() {
    let columns = columns_from(
        100.0,
        &(0..60)
            .map(|i| (3, 0.0, (f64::from(i) * 0.5).sin() * 0.03, 0.01, 0.01, 10.0))
            .collect::<Vec<_>>(),
    );
    let params = Params::new();
    let ctx =
        EvalContext::new(sym("ETH"), columns.view()).with_instrument(sym("BTC"), columns.view());
    let mut cache = IndicatorCache::new();
    for (source, kind) in [
        ("close > BTC.close", RuleKind::Entry),
        ("sma(BTC.close, 5) > close", RuleKind::Entry),
        ("atr(BTC, 14) > atr(14)", RuleKind::Entry),
        ("close / BTC.close[1] > 1", RuleKind::Exit),
        ("return_since_entry > 5%", RuleKind::Exit),
        ("days_held >= 3 and close < sma(close, 5)", RuleKind::Exit),
        ("close < entry_price * 0.9", RuleKind::Exit),
        ("close < highest_close_since_entry * 0.9", RuleKind::Exit),
    ] {
        let rule = parse(source, kind, &params);
        assert_eq!(
            rule.outcomes(&ctx, &mut cache),
            None,
            "`{source}` is declined"
        );
    }
    for (source, kind) in [
        (
            "crosses_below(sma(close, 5), sma(close, 20))",
            RuleKind::Exit,
        ),
        ("close > sma(close, 5)", RuleKind::Entry),
    ] {
        let rule = parse(source, kind, &params);
        let outcomes = rule.outcomes(&ctx, &mut cache).expect("computed");
        assert_eq!(outcomes.len(), 60, "`{source}`: one outcome per day");
    }
}

/// **`and`/`or` are ready only when both sides are** (regression, `rule/series_eval.rs`): when
/// one side decides (false for `and`, true for `or`) while the other is not ready yet, the
/// whole-history outcome is NotReady, as for [`Rule::evaluate`] ("a rule is ready only when
/// every part of it has a value"). Here on the first 5 days, while `rsi(close, 14)` warms up.
#[test]
fn whole_history_and_or_are_not_ready_while_one_side_warms_up() {
    let columns = columns_from(100.0, &[(3, 0.0, 0.01, 0.01, 0.01, 1.0); 5]);
    let params = Params::new();
    for source in [
        "close > 0 or rsi(close, 14) > 50",
        "rsi(close, 14) > 50 or close > 0",
        "close < 0 and rsi(close, 14) > 50",
        "rsi(close, 14) > 50 and close < 0",
    ] {
        let rule = parse(source, RuleKind::Entry, &params);
        let whole = rule.outcomes(
            &EvalContext::new(sym("ETH"), columns.view()),
            &mut IndicatorCache::new(),
        );
        let day_by_day: Vec<Outcome> = (1..=5)
            .map(|n| {
                let ctx = EvalContext::new(sym("ETH"), columns.view().until(n));
                outcome_of(&rule.evaluate(&ctx, &mut IndicatorCache::new()))
            })
            .collect();
        assert_eq!(
            day_by_day,
            vec![Outcome::NotReady; 5],
            "`{source}` day by day"
        );
        assert_eq!(whole, Some(day_by_day), "`{source}`");
    }
}

/// **The simulator does not act on rules that are not ready** (regression, the same seen from
/// the simulator): with the entry rule `rsi(close, 14) < 30 or crosses_above(sma(close, 50),
/// sma(close, 200))`, a backtest on the precomputed outcomes of a [`RuleStrategy`] first
/// enters on the same day as the day-by-day decisions ([`DayByDay`], the live job's way), after
/// the 200-day warm-up, and the whole backtests are equal.
#[test]
fn simulator_does_not_act_on_rules_that_are_not_ready() {
    let strategy = rule_strategy(
        "warm-up",
        all(),
        "rsi(close, 14) < 30 or crosses_above(sma(close, 50), sma(close, 200))",
        Some("rsi(close, 14) > 60"),
        ExitLimits::default(),
    );
    let data = market(&[("BTC", btc_rows())]);
    let fast = run_one(&data, &strategy, Sizing::AllCash);
    let slow = run_one(&data, &DayByDay(&strategy), Sizing::AllCash);
    let first_entry = |r: &BacktestResult| r.trades.first().map(|t| t.entry_day);
    assert_eq!(
        first_entry(&fast),
        first_entry(&slow),
        "first entry: precomputed outcomes vs the live, day-by-day decisions"
    );
    let first = first_entry(&fast).expect("the strategy trades");
    assert!(
        first > btc_rows()[200].day,
        "first entry on {first}, during the 200-day warm-up"
    );
    assert_eq!(fast, slow);
}

/// **Constants have a value on every day** (regression, `rule/series_eval.rs`): a crossing of
/// two expressions that are the same every day (`crosses_above(5, $fast)`, accepted by the
/// checker), and lookbacks of such crossings (`crosses_above(5, $fast)[3]`, the lookbacks of a
/// constant the checker lets through: it refuses `5[3]` and `$fast[2]`), give on every day,
/// the first included, the same whole-history outcome as [`Rule::evaluate`] on the history up
/// to that day.
#[test]
fn whole_history_constants_and_their_crossings_from_the_first_day() {
    let columns = columns_from(100.0, &[(3, 0.0, 0.01, 0.01, 0.01, 1.0); 4]);
    let params = declared_params();
    for source in ["5[3] > 4", "$fast[2] >= 5"] {
        assert!(
            Rule::parse(source, RuleKind::Entry, &params).is_err(),
            "`{source}` is refused"
        );
    }
    for source in [
        "crosses_above(5, $fast)",
        "crosses_below($fast, 5)",
        "crosses_above($fast, 5) and close > 0",
        "crosses_above(5, $fast)[3]",
        "not crosses_below($fast, 5)[$lag]",
        "crosses_above(5, $fast)[1] or close > 0",
        "crosses_above(close, 5) or crosses_above(5, $fast)[2]",
    ] {
        let rule = parse(source, RuleKind::Entry, &params);
        let whole = rule
            .outcomes(
                &EvalContext::new(sym("ETH"), columns.view()),
                &mut IndicatorCache::new(),
            )
            .expect("computed");
        for (i, outcome) in whole.iter().enumerate() {
            let ctx = EvalContext::new(sym("ETH"), columns.view().until(i + 1));
            let evaluation = rule.evaluate(&ctx, &mut IndicatorCache::new());
            assert_eq!(
                *outcome,
                outcome_of(&evaluation),
                "`{source}` on day {i}: {evaluation:?}"
            );
        }
    }
}

/// Whole history = day by day where prices or parameters are NaN or infinite: day by day such a
/// price or parameter is a number (a NaN compares false), not a missing value, while an
/// indicator or a result that is not finite is missing; the whole-history evaluator, which
/// keeps missing values as NaN, tells the two apart.
#[test]
fn whole_history_nan_and_infinite_prices_and_parameters_are_numbers_as_day_by_day() {
    let mut columns = columns_from(100.0, &[(3, 0.0, 0.01, 0.01, 0.01, 1.0); 30]);
    for (day, value) in [
        (5, f64::NAN),
        (9, f64::INFINITY),
        (17, f64::NAN),
        (18, f64::NAN),
    ] {
        columns.close[day] = value;
    }
    columns.open[12] = f64::NAN;
    columns.open[13] = f64::NEG_INFINITY;
    let params = declared_params();
    let sources = [
        "close > open",
        "close != close[1]",
        "close[$lag] != open",
        "crosses_above(close, open) or crosses_below(close, open)",
        "crosses_below(close, sma(close, 3))",
        "crosses_above(close, $fast)",
        "-close < -open",
        "(close - open)[2] > 0",
        "close / open > 1",
        "$fast != 5 and close > 0",
        "not (open == open)",
    ];
    for fast in [5.0, f64::NAN, f64::INFINITY] {
        let overrides = Params::from([("fast".to_owned(), fast)]);
        for source in sources {
            let rule = parse(source, RuleKind::Entry, &params);
            let whole = EvalContext::new(sym("ETH"), columns.view()).with_params(&overrides);
            let outcomes = rule
                .outcomes(&whole, &mut IndicatorCache::new())
                .expect("computed");
            let signal = rule
                .signal(&whole, &mut IndicatorCache::new())
                .expect("computed");
            let days = outcomes.len();
            for (i, outcome) in outcomes.iter().enumerate() {
                let ctx = EvalContext::new(sym("ETH"), columns.view().until(i + 1))
                    .with_params(&overrides);
                let evaluation = rule.evaluate(&ctx, &mut IndicatorCache::new());
                assert_eq!(
                    *outcome,
                    outcome_of(&evaluation),
                    "`{source}` with fast {fast} on day {i}: {evaluation:?}"
                );
                assert_eq!(signal.outcome(i), *outcome, "`{source}` on day {i}");
                let expected = (i..days).find(|&d| outcomes[d] == Outcome::Passed);
                assert_eq!(signal.next_pass(i, days), expected, "`{source}` from {i}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Fast exits = explained exits
// ---------------------------------------------------------------------------------------------

fn position_at(rows: &[Row], symbol: &str, strategy: &str, index: usize) -> Position {
    Position {
        id: PositionId(index as i64),
        symbol: sym(symbol),
        strategy: strategy.to_owned(),
        quantity: Quantity(dec!(0.5)),
        entry_price: Price(rows[index].values.open),
        entry_day: rows[index].day,
        entry_fee: Money(dec!(0.1)),
        exit: None,
    }
}

/// **Fast exits = explained exits.** For positions entered at days spread over the BTC history
/// (including one during the indicators' warm-up), on every day from the entry day on (up to a
/// year later), the simulator's exit decision [`strategy::exit_reason`] without a precomputed
/// signal, with the precomputed `exit_signal_outcomes[i]`, and [`strategy::decide_exit`] give the
/// same reason. Four strategies: an exit rule on the instrument alone with all four risk exits,
/// an exit rule reading the position, an exit rule reading another instrument (both have no
/// precomputed signal), and risk exits alone. Every reason occurs, and so does holding.
#[test]
fn fast_exit_decisions_agree_with_explained_ones() {
    let btc = btc_rows();
    let data = market(&[("BTC", btc), ("ETH", eth_rows())]);
    let limits = ExitLimits {
        stop_loss: Some(dec!(0.12)),
        take_profit: Some(dec!(0.6)),
        trailing_stop: Some(dec!(0.18)),
        max_holding_days: Some(150),
    };
    let entry = "close > sma(close, 20)";
    let strategies = [
        rule_strategy(
            "signal",
            all(),
            entry,
            Some(
                "crosses_below(ema(close, 12), ema(close, 26)) \
                 or rsi(close, 14) > 80 or macd(close, 12, 26, 9).histogram[1] < -200",
            ),
            limits,
        ),
        rule_strategy(
            "position",
            all(),
            entry,
            Some("return_since_entry > 25% and close < sma(close, 5) or days_held > 90"),
            ExitLimits {
                stop_loss: Some(dec!(0.1)),
                ..ExitLimits::default()
            },
        ),
        rule_strategy(
            "other-instrument",
            all(),
            entry,
            Some("close / ETH.close < sma(close, 10) / sma(ETH.close, 10) * 0.97"),
            ExitLimits::default(),
        ),
        rule_strategy("limits-only", all(), entry, None, limits),
    ];
    let symbol = sym("BTC");
    let end = data.view(btc[btc.len() - 1].day);
    let step = btc.len() / 7;
    let mut reasons: HashMap<(String, Option<ExitReason>), usize> = HashMap::new();
    let mut cache = IndicatorCache::new();
    for s in &strategies {
        let precomputed = s.exit_signal_outcomes(&end, &symbol, &mut cache);
        assert_eq!(
            precomputed.is_some(),
            s.name() == "signal",
            "{}: only an exit rule on the instrument alone is precomputed",
            s.name()
        );
        for entry_index in (5..btc.len()).step_by(step).chain([btc.len() - 2]) {
            let position = position_at(btc, "BTC", s.name(), entry_index);
            let end = btc.len().min(entry_index + 365);
            for (i, row) in btc.iter().enumerate().take(end).skip(entry_index) {
                let view = data.view(row.day);
                let slow = strategy::exit_reason(s, &view, &position, &mut cache, None);
                let (decision, explained) = strategy::decide_exit(s, &view, &position, &mut cache);
                assert_eq!(
                    slow,
                    explained,
                    "{}: entry {}, day {}: exit_reason vs decide_exit ({})",
                    s.name(),
                    position.entry_day,
                    row.day,
                    decision.explanation
                );
                assert_eq!(decision.passed(), explained.is_some());
                if let Some(outcomes) = &precomputed {
                    let fast = strategy::exit_reason(
                        s,
                        &view,
                        &position,
                        &mut cache,
                        Some(outcomes.outcome(i)),
                    );
                    assert_eq!(
                        fast,
                        slow,
                        "{}: entry {}, day {}: precomputed signal {:?}",
                        s.name(),
                        position.entry_day,
                        row.day,
                        outcomes.outcome(i)
                    );
                }
                *reasons.entry((s.name().to_owned(), slow)).or_default() += 1;
            }
        }
    }
    let count = |name: &str, reason: Option<ExitReason>| {
        reasons
            .get(&(name.to_owned(), reason))
            .copied()
            .unwrap_or(0)
    };
    for reason in [
        None,
        Some(ExitReason::Signal),
        Some(ExitReason::StopLoss),
        Some(ExitReason::TakeProfit),
        Some(ExitReason::TrailingStop),
        Some(ExitReason::MaxHolding),
    ] {
        assert!(
            count("signal", reason) > 0,
            "`signal` never gives {reason:?}"
        );
    }
    for (name, reason) in [
        ("position", Some(ExitReason::Signal)),
        ("position", Some(ExitReason::StopLoss)),
        ("position", None),
        ("other-instrument", Some(ExitReason::Signal)),
        ("other-instrument", None),
        ("limits-only", Some(ExitReason::MaxHolding)),
        ("limits-only", None),
    ] {
        assert!(count(name, reason) > 0, "`{name}` never gives {reason:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Portfolio and options
// ---------------------------------------------------------------------------------------------

/// Trend following on every instrument (half the equity per entry, one position at a time) and
/// dip buying on every instrument (half the equity, two positions at most; its exit reads the
/// position, so it is decided day by day).
fn portfolio_strategies() -> (RuleStrategy, RuleStrategy) {
    let trend = rule_strategy(
        "trend",
        all(),
        "crosses_above(ema(close, 12), ema(close, 26)) and rsi(close, 14) < 75",
        Some("crosses_below(ema(close, 12), ema(close, 26))"),
        ExitLimits {
            trailing_stop: Some(dec!(0.2)),
            ..ExitLimits::default()
        },
    );
    let dip = rule_strategy(
        "dip",
        all(),
        "rsi(close, 14) < 35 and close < bollinger(close, 20, 2).lower",
        Some("rsi(close, 14) > 55 or return_since_entry > 15%"),
        ExitLimits {
            stop_loss: Some(dec!(0.1)),
            max_holding_days: Some(30),
            ..ExitLimits::default()
        },
    );
    (trend, dip)
}

const FEE_BPS: Decimal = dec!(10);
const SLIPPAGE_BPS: Decimal = dec!(20);

fn run_portfolio(
    data: &MarketData,
    max_trend: Option<u32>,
    timing: FillTiming,
    close_at_end: bool,
) -> BacktestResult {
    let (trend, dip) = portfolio_strategies();
    let strategies = [
        BacktestStrategy {
            strategy: &trend,
            sizing: Sizing::EquityFraction(dec!(0.5)),
            max_open_positions: max_trend,
        },
        BacktestStrategy {
            strategy: &dip,
            sizing: Sizing::EquityFraction(dec!(0.5)),
            max_open_positions: Some(2),
        },
    ];
    let settings = BacktestSettings {
        initial_cash: Money(dec!(25000)),
        fill_model: fill_model(FEE_BPS, SLIPPAGE_BPS, timing),
        close_at_end,
        ..BacktestSettings::default()
    };
    backtest(
        data,
        &[instrument("ETH"), instrument("BTC")],
        &strategies,
        &settings,
    )
    .expect("the portfolio backtest runs")
}

/// The candle values of `symbol` on `d`.
fn values_on(symbol: &Symbol, d: Day) -> Ohlcv {
    let rows = if symbol.as_str() == "BTC" {
        btc_rows()
    } else {
        eth_rows()
    };
    let i = rows.partition_point(|r| r.day < d);
    assert_eq!(rows[i].day, d, "{symbol} has a candle on {d}");
    rows[i].values
}

/// The most positions of each strategy open together, over the days of the curve (a position
/// counts from its entry fill's day to the day before its exit fill).
fn most_open(result: &BacktestResult) -> BTreeMap<String, usize> {
    let mut spans: Vec<(String, Day, Option<Day>)> = result
        .trades
        .iter()
        .map(|t| (t.strategy.clone(), t.entry_day, Some(t.exit_day)))
        .collect();
    spans.extend(
        result
            .open_trades
            .iter()
            .map(|t| (t.strategy.clone(), t.entry_day, None)),
    );
    let mut most = BTreeMap::new();
    for point in &result.equity {
        let mut open: BTreeMap<&str, usize> = BTreeMap::new();
        for (name, entry, exit) in &spans {
            if *entry <= point.day && exit.is_none_or(|x| point.day < x) {
                *open.entry(name.as_str()).or_default() += 1;
            }
        }
        for (name, n) in open {
            let m = most.entry(name.to_owned()).or_insert(0);
            *m = (*m).max(n);
        }
    }
    most
}

fn exact_fee(gross: Decimal) -> Decimal {
    gross * FEE_BPS / dec!(10000)
}

/// **Portfolio.** BTC and ETH, two strategies sharing one account, next-open fills with fees
/// and slippage:
/// - the cash moved by every closed trade (its P&L) and every open trade (−cost − entry fee)
///   sums exactly (decimals) to final cash − initial cash, and final equity is final cash plus
///   the open trades at their mark;
/// - no day's cash is negative;
/// - `max_open_positions` holds (and binds: without it `trend` holds two at once);
/// - each `EquityFraction(0.5)` entry costs (fee included) at most half the equity at the close
///   of its decision day, and no less than half of it minus rounding;
/// - slippage: every buy is at its fill day's open × (1 + 20 bp), above the open; every sell at
///   the open × (1 − 20 bp), below it.
#[test]
fn portfolio_books_every_cent_and_respects_sizes_and_limits() {
    let data = market(&[("BTC", btc_rows()), ("ETH", eth_rows())]);
    let result = run_portfolio(&data, Some(1), FillTiming::NextOpen, false);
    let slip = SLIPPAGE_BPS / dec!(10000);
    for name in ["trend", "dip"] {
        assert!(
            result.trades.iter().filter(|t| t.strategy == name).count() >= 5,
            "`{name}` trades"
        );
    }
    let symbols: BTreeSet<&str> = result.trades.iter().map(|t| t.symbol.as_str()).collect();
    assert_eq!(symbols.len(), 2, "both instruments are traded");

    // Cash accounting, exact.
    let closed: Decimal = result.trades.iter().map(|t| t.pnl.0).sum();
    let open: Decimal = result
        .open_trades
        .iter()
        .map(|t| -(t.quantity.0 * t.entry_price.0 + t.entry_fee.0))
        .sum();
    assert_eq!(
        closed + open,
        result.final_cash.0 - result.initial_cash.0,
        "the trades account for every cash movement"
    );
    for t in &result.trades {
        let entry_fee = exact_fee(t.quantity.0 * t.entry_price.0);
        let exit_fee = exact_fee(t.quantity.0 * t.exit_price.0);
        assert_eq!(t.fees.0, entry_fee + exit_fee, "fees of {:?}", t.position);
        assert_eq!(
            t.pnl.0,
            t.quantity.0 * (t.exit_price.0 - t.entry_price.0) - entry_fee - exit_fee,
            "P&L of {:?}",
            t.position
        );
    }
    let marked: Decimal = result
        .open_trades
        .iter()
        .map(|t| t.quantity.0 * t.mark_price.0)
        .sum();
    assert_eq!(result.final_equity.0, result.final_cash.0 + marked);

    // Cash never negative.
    for point in &result.equity {
        assert!(point.cash >= 0.0, "cash on {} is {}", point.day, point.cash);
    }

    // Position limits.
    let most = most_open(&result);
    assert_eq!(
        most.get("trend"),
        Some(&1),
        "trend holds one position at most"
    );
    assert!(
        most.get("dip").is_some_and(|n| *n <= 2),
        "dip holds two at most"
    );
    let unlimited = run_portfolio(&data, None, FillTiming::NextOpen, false);
    assert_eq!(
        most_open(&unlimited).get("trend"),
        Some(&2),
        "without the limit trend holds both instruments at some point"
    );

    // Sizing and slippage.
    let mut positions: Vec<(&str, &Symbol, Day, usize, Decimal, Decimal)> = result
        .trades
        .iter()
        .map(|t| {
            let reason = t.reason;
            assert_ne!(reason, ExitReason::EndOfBacktest);
            let open = values_on(&t.symbol, t.exit_day).open;
            assert_eq!(
                t.exit_price.0,
                open * (Decimal::ONE - slip),
                "sold at the open"
            );
            assert!(t.exit_price.0 < open, "a sell gets less than the open");
            (
                t.strategy.as_str(),
                &t.symbol,
                t.entry_day,
                t.entry_bar,
                t.quantity.0,
                t.entry_price.0,
            )
        })
        .collect();
    positions.extend(result.open_trades.iter().map(|t| {
        (
            t.strategy.as_str(),
            &t.symbol,
            t.entry_day,
            t.entry_bar,
            t.quantity.0,
            t.entry_price.0,
        )
    }));
    for (name, symbol, entry_day, entry_bar, quantity, price) in positions {
        let open = values_on(symbol, entry_day).open;
        assert_eq!(price, open * (Decimal::ONE + slip), "bought at the open");
        assert!(price > open, "a buy pays more than the open");
        assert_eq!(result.equity[entry_bar].day, entry_day, "entry bar");
        let decided = result.equity[entry_bar - 1];
        let spent = decimal_to_f64(quantity * price + exact_fee(quantity * price));
        let half = decided.equity / 2.0;
        assert!(
            spent <= half * (1.0 + 1e-9),
            "{name} {symbol} on {entry_day}: spent {spent}, half the equity is {half}"
        );
        assert!(
            spent >= half * (1.0 - 1e-6),
            "{name} {symbol} on {entry_day}: spent {spent}, half the equity is {half}"
        );
    }
}

/// **Close at the end.** With `close_at_end`, nothing is left open, final equity equals final
/// cash (and the last equity point, whose drawdown is taken after the sales), the positions
/// still open are sold at the last close (minus slippage) for `EndOfBacktest`, and everything
/// before is the same as without it.
#[test]
fn close_at_end_leaves_nothing_open() {
    let data = market(&[("BTC", btc_rows()), ("ETH", eth_rows())]);
    let kept = run_portfolio(&data, Some(1), FillTiming::NextOpen, false);
    let closed = run_portfolio(&data, Some(1), FillTiming::NextOpen, true);
    assert!(
        !kept.open_trades.is_empty(),
        "some position is open at the end"
    );
    assert!(closed.open_trades.is_empty());
    assert_eq!(closed.final_equity, closed.final_cash);
    let last = closed.equity.last().expect("an equity curve");
    assert!(relatively_equal(
        last.equity,
        decimal_to_f64(closed.final_cash.0)
    ));
    assert!(relatively_equal(last.cash, last.equity));
    // Every drawdown against the running peak, the last one's with the closing sales.
    for result in [&kept, &closed] {
        let mut peak = f64::MIN;
        for p in &result.equity {
            peak = peak.max(p.equity);
            assert_eq!(p.drawdown, p.equity / peak - 1.0, "drawdown on {}", p.day);
        }
    }
    assert_ne!(
        kept.equity.last().map(|p| p.equity),
        Some(last.equity),
        "the closing sales change the last equity"
    );
    assert_eq!(
        &closed.trades[..kept.trades.len()],
        &kept.trades[..],
        "the same trades before the end"
    );
    let at_end = &closed.trades[kept.trades.len()..];
    assert_eq!(at_end.len(), kept.open_trades.len());
    let slip = SLIPPAGE_BPS / dec!(10000);
    for t in at_end {
        assert_eq!(t.reason, ExitReason::EndOfBacktest);
        assert_eq!(t.exit_day, last.day);
        let close = values_on(&t.symbol, t.exit_day).close;
        assert_eq!(t.exit_price.0, close * (Decimal::ONE - slip));
    }
    let pnl: Decimal = closed.trades.iter().map(|t| t.pnl.0).sum();
    assert_eq!(pnl, closed.final_cash.0 - closed.initial_cash.0);
}

/// **Fill at the close.** With [`FillTiming::Close`], every entry fills on a day its entry rule
/// passed, at that day's close plus slippage; every exit fills on a day its exit decision
/// ([`strategy::decide_exit`] for the position) gives the trade's reason, at that day's close
/// minus slippage.
#[test]
fn close_timing_fills_on_the_decision_day_at_its_close() {
    let data = market(&[("BTC", btc_rows()), ("ETH", eth_rows())]);
    let result = run_portfolio(&data, Some(1), FillTiming::Close, false);
    let (trend, dip) = portfolio_strategies();
    let strategy_named =
        |name: &str| -> &RuleStrategy { if name == "trend" { &trend } else { &dip } };
    let slip = SLIPPAGE_BPS / dec!(10000);
    let mut cache = IndicatorCache::new();
    assert!(result.trades.len() >= 10);
    for t in &result.trades {
        let s = strategy_named(&t.strategy);
        let entry_view = data.view(t.entry_day);
        assert!(
            s.entry(&entry_view, &t.symbol, &mut cache).passed(),
            "{} entered {} on {} without its rule passing that day",
            t.strategy,
            t.symbol,
            t.entry_day
        );
        let values = values_on(&t.symbol, t.entry_day);
        assert_eq!(t.entry_price.0, values.close * (Decimal::ONE + slip));
        let exit_values = values_on(&t.symbol, t.exit_day);
        assert_eq!(t.exit_price.0, exit_values.close * (Decimal::ONE - slip));
        let position = Position {
            id: t.position,
            symbol: t.symbol.clone(),
            strategy: t.strategy.clone(),
            quantity: t.quantity,
            entry_price: t.entry_price,
            entry_day: t.entry_day,
            entry_fee: Money(exact_fee(t.quantity.0 * t.entry_price.0)),
            exit: None,
        };
        let (_, reason) = strategy::decide_exit(s, &data.view(t.exit_day), &position, &mut cache);
        assert_eq!(
            reason,
            Some(t.reason),
            "{} {} exited on {}",
            t.strategy,
            t.symbol,
            t.exit_day
        );
        assert!(t.exit_day >= t.entry_day);
    }
}

/// A day on which `strategy`'s entry passes on BTC while it failed on the `quiet` days before.
fn lone_entry_day(data: &MarketData, strategy: &RuleStrategy, quiet: usize) -> usize {
    let rows = btc_rows();
    let end = data.view(rows[rows.len() - 1].day);
    let outcomes = strategy
        .entry_outcomes(&end, &sym("BTC"), &mut IndicatorCache::new())
        .expect("precomputed entries");
    (rows.len() / 2..rows.len())
        .find(|&i| {
            outcomes.outcome(i) == Outcome::Passed
                && (i - quiet..i).all(|day| outcomes.outcome(day) == Outcome::Failed)
        })
        .expect("a lone entry in the second half")
}

fn run_to(
    data: &MarketData,
    strategy: &RuleStrategy,
    from: Day,
    to: Option<Day>,
    timing: FillTiming,
) -> BacktestResult {
    let strategies = [BacktestStrategy {
        strategy,
        sizing: Sizing::AllCash,
        max_open_positions: None,
    }];
    let settings = BacktestSettings {
        from: Some(from),
        to,
        initial_cash: Money(dec!(10000)),
        fill_model: fill_model(FEE_BPS, SLIPPAGE_BPS, timing),
        ..BacktestSettings::default()
    };
    backtest(data, &[instrument("BTC")], &strategies, &settings).expect("the backtest runs")
}

/// **The last day's decision.** With next-open fills, an entry that passes on the last day of
/// the period has no candle in the period to fill at: it is reported in `unfilled` (decision
/// day, instrument, strategy, a reason naming the last day) and opens nothing. With close fills
/// the same decision fills on that day.
#[test]
fn the_last_days_entry_is_unfilled_with_next_open_fills() {
    let data = market(&[("BTC", btc_rows())]);
    let (trend, _) = portfolio_strategies();
    let rows = btc_rows();
    let i = lone_entry_day(&data, &trend, 5);
    let (from, last) = (rows[i - 5].day, rows[i].day);

    let next_open = run_to(&data, &trend, from, Some(last), FillTiming::NextOpen);
    assert!(next_open.trades.is_empty() && next_open.open_trades.is_empty());
    assert_eq!(next_open.unfilled.len(), 1, "{:?}", next_open.unfilled);
    let unfilled = &next_open.unfilled[0];
    assert_eq!(
        (
            unfilled.day,
            unfilled.symbol.as_str(),
            unfilled.strategy.as_str()
        ),
        (last, "BTC", "trend")
    );
    assert!(
        unfilled.reason.contains(&last.to_string()),
        "the reason names the last day: {}",
        unfilled.reason
    );
    assert_eq!(next_open.final_cash, Money(dec!(10000)));

    let at_close = run_to(&data, &trend, from, Some(last), FillTiming::Close);
    assert!(at_close.unfilled.is_empty());
    assert_eq!(at_close.open_trades.len(), 1);
    assert_eq!(at_close.open_trades[0].entry_day, last);
}

/// **Bug check: the last day of the data.** The same as
/// [`the_last_days_entry_is_unfilled_with_next_open_fills`], with the period ending on the last
/// day of the data instead of an explicit `to`: the module docs of the simulator say the last
/// day's decision is reported as unfilled, like backtesting.py's orders on the last bar.
#[test]
fn the_last_days_entry_is_unfilled_when_the_data_ends_there() {
    let full = market(&[("BTC", btc_rows())]);
    let (trend, _) = portfolio_strategies();
    let rows = btc_rows();
    let i = lone_entry_day(&full, &trend, 5);
    let data = market(&[("BTC", &rows[..=i])]);
    let result = run_to(&data, &trend, rows[i - 5].day, None, FillTiming::NextOpen);
    assert!(
        result.open_trades.is_empty(),
        "an entry decided on the last day {} was filled: {:?}",
        rows[i].day,
        result.open_trades
    );
    assert_eq!(result.unfilled.len(), 1, "{:?}", result.unfilled);
}

// ---------------------------------------------------------------------------------------------
// 5. Errors
// ---------------------------------------------------------------------------------------------

/// **Errors.** No instrument or no strategy, an instrument without candles, a period without
/// candles and a starting cash that is not positive each give their [`BacktestError`] variant,
/// with a message naming the problem.
#[test]
fn a_backtest_that_cannot_run_says_why() {
    let data = market(&[("BTC", btc_rows())]);
    let strategy = lookahead_strategy();
    let strategies = [BacktestStrategy {
        strategy: &strategy,
        sizing: Sizing::AllCash,
        max_open_positions: None,
    }];
    let settings = BacktestSettings::default();
    let btc = [instrument("BTC")];

    let none = backtest(&data, &[], &strategies, &settings).expect_err("no instrument");
    assert_eq!(none, BacktestError::NothingToTest);
    assert!(
        none.to_string().contains("at least one instrument"),
        "{none}"
    );
    let none = backtest(&data, &btc, &[], &settings).expect_err("no strategy");
    assert_eq!(none, BacktestError::NothingToTest);
    assert!(none.to_string().contains("one strategy"), "{none}");

    let unknown = backtest(
        &data,
        &[instrument("BTC"), instrument("DOGE")],
        &strategies,
        &settings,
    )
    .expect_err("no DOGE candles");
    assert_eq!(unknown, BacktestError::NoCandles(sym("DOGE")));
    assert!(unknown.to_string().contains("DOGE"), "{unknown}");

    for (from, to) in [
        ("2010-01-01", "2010-12-31"),
        ("2040-01-01", "2040-02-01"),
        ("2020-01-10", "2020-01-01"),
    ] {
        let settings = BacktestSettings {
            from: Some(day(from)),
            to: Some(day(to)),
            ..BacktestSettings::default()
        };
        let empty = backtest(&data, &btc, &strategies, &settings).expect_err("empty period");
        assert_eq!(
            empty,
            BacktestError::EmptyPeriod {
                from: day(from),
                to: day(to)
            }
        );
        let message = empty.to_string();
        assert!(message.contains(from) && message.contains(to), "{message}");
    }

    for cash in [dec!(0), dec!(-5)] {
        let settings = BacktestSettings {
            initial_cash: Money(cash),
            ..BacktestSettings::default()
        };
        let broke = backtest(&data, &btc, &strategies, &settings).expect_err("no cash");
        assert_eq!(broke, BacktestError::NoCash(Money(cash)));
        let message = broke.to_string();
        assert!(
            message.contains("cash") && message.contains(&cash.to_string()),
            "{message}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 6. A sweep's screening pass agrees with the exact engine
// ---------------------------------------------------------------------------------------------

/// A random daily history of `days` candles with prices to 2 decimals (as exchanges quote them),
/// so stop levels, quantities and fees meet the decimal arithmetic of the exact engine.
fn random_history(symbol: &Symbol, seed: u64, days: usize) -> Vec<Candle> {
    let mut random = SplitMix(seed);
    let mut close = Decimal::from(50 + random.next() % 5000);
    let first = day("2020-01-01");
    (0..days)
        .map(|i| {
            let open = (close * random.factor(970, 1030))
                .round_dp(2)
                .max(dec!(0.01));
            close = (open * random.factor(930, 1070))
                .round_dp(2)
                .max(dec!(0.01));
            let values = Ohlcv {
                open,
                high: open.max(close) * dec!(1.01),
                low: open.min(close) * dec!(0.99),
                close,
                volume: dec!(1000),
            };
            Candle::new(
                symbol.clone(),
                first + chrono::Days::new(i as u64),
                values,
                true,
                CandleOrigin::Sample,
                day("2030-01-01"),
            )
            .expect("a valid candle")
        })
        .collect()
}

/// The entry and exit rules the screening test sweeps (`$fast` < `$slow`).
const SCREENED_RULES: [(&str, Option<&str>); 4] = [
    (
        "crosses_above(sma(close, $fast), sma(close, $slow))",
        Some("crosses_below(sma(close, $fast), sma(close, $slow))"),
    ),
    ("close > ema(close, $slow) and rsi(close, $fast) < 60", None),
    (
        "close < lowest(close, $slow)[1]",
        Some("close > highest(close, $fast)[1]"),
    ),
    (
        "crosses_above(ema(close, $fast), sma(close, $slow))",
        Some("rsi(close, $fast) > 70"),
    ),
];

/// One random sweep setting: rules, risk exits, sizing, fill model, period.
#[derive(Debug, Clone)]
struct SweepCase {
    seed: u64,
    days: usize,
    rules: usize,
    limits: (Option<u32>, Option<u32>, Option<u32>, Option<u32>),
    sizing: u8,
    fee_bps: u32,
    slippage_bps: u32,
    next_open: bool,
    decimals: Option<u32>,
    close_at_end: bool,
    skip: usize,
}

fn sweep_cases() -> impl proptest::strategy::Strategy<Value = SweepCase> {
    (
        (any_u64(), 40usize..=260, 0..SCREENED_RULES.len()),
        (
            prop::option::of(1u32..=15),
            prop::option::of(1u32..=25),
            prop::option::of(2u32..=20),
            prop::option::of(1u32..=12),
        ),
        (0u8..5, 0u32..=60, 0u32..=30, proptest::bool::ANY),
        (prop::option::of(0u32..=8), proptest::bool::ANY, 0usize..30),
    )
        .prop_map(
            |(
                (seed, days, rules),
                limits,
                (sizing, fee_bps, slippage_bps, next_open),
                (decimals, close_at_end, skip),
            )| SweepCase {
                seed,
                days,
                rules,
                limits,
                sizing,
                fee_bps,
                slippage_bps,
                next_open,
                decimals,
                close_at_end,
                skip,
            },
        )
}

fn any_u64() -> impl proptest::strategy::Strategy<Value = u64> {
    proptest::num::u64::ANY
}

/// The same value to 1e-9 relative (1e-10 absolute for values about zero, e.g. a return of
/// 0 % computed as 1e-14 by one path).
fn same_statistic(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) || (a - b).abs() <= 1e-10
}

/// Screens every point of a small grid of `case` and compares it with the exact engine; returns
/// how many points were screened (the others were declared unsettled).
fn check_screening(case: &SweepCase) -> Result<usize, String> {
    use barter_core::simulator::{Screen, ScreenStats};
    let symbol = sym("SIM");
    let mut data = MarketData::new();
    data.insert(
        symbol.clone(),
        random_history(&symbol, case.seed, case.days),
    )
    .expect("an ascending history");
    let first = day("2020-01-01");
    let rounding = case
        .decimals
        .map_or(QuantityRounding::WholeUnits, QuantityRounding::Fractional);
    let timing = if case.next_open {
        FillTiming::NextOpen
    } else {
        FillTiming::Close
    };
    let settings = BacktestSettings {
        from: Some(first + chrono::Days::new(case.skip as u64)),
        to: None,
        initial_cash: Money(dec!(10000)),
        fill_model: FillModel::new(
            Decimal::from(case.fee_bps),
            Decimal::from(case.slippage_bps),
            timing,
            rounding,
        )
        .expect("a valid fill model"),
        close_at_end: case.close_at_end,
        annual_periods: None,
    };
    let sizing = match case.sizing {
        0 => Sizing::AllCash,
        1 => Sizing::EquityFraction(dec!(0.37)),
        2 => Sizing::Amount(Money(dec!(2500))),
        3 => Sizing::Quantity(Quantity(dec!(1.5))),
        _ => Sizing::EquityFraction(dec!(1)),
    };
    let percent = |p: Option<u32>| p.map(|p| Decimal::from(p) / Decimal::ONE_HUNDRED);
    let (sl, tp, ts, max) = case.limits;
    let limits = ExitLimits {
        stop_loss: percent(sl),
        take_profit: percent(tp),
        trailing_stop: percent(ts),
        max_holding_days: max,
    };
    let instrument = instrument("SIM");
    let screen = Screen::new(&data, &instrument, sizing, None, &settings)
        .ok_or("the single-instrument case must be screenable")?;
    let (entry, exit) = SCREENED_RULES[case.rules];
    let declared = Params::from([("fast".to_owned(), 3.0), ("slow".to_owned(), 10.0)]);
    let base = RuleStrategy::new(
        "swept".to_owned(),
        all(),
        parse(entry, RuleKind::Entry, &declared),
        exit.map(|e| parse(e, RuleKind::Exit, &declared)),
        limits,
    );
    let mut cache = IndicatorCache::new();
    let mut exact_cache = IndicatorCache::new();
    let mut curve = Vec::new();
    let mut screened = 0;
    let point_strategy = |p: &[f64]| {
        base.clone().with_params(Params::from([
            ("fast".to_owned(), p[0]),
            ("slow".to_owned(), p[1]),
        ]))
    };
    let run_exact = |point: &RuleStrategy, cache: &mut IndicatorCache| {
        barter_core::simulator::backtest_with(
            &data,
            std::slice::from_ref(&instrument),
            &[BacktestStrategy {
                strategy: point,
                sizing,
                max_open_positions: None,
            }],
            &settings,
            cache,
        )
    };
    let mut exact_results = Vec::new();
    for fast in [2.0, 3.0, 5.0] {
        for slow in [6.0, 9.0, 14.0] {
            let point = point_strategy(&[fast, slow]);
            let exact = run_exact(&point, &mut exact_cache).map_err(|e| e.to_string())?;
            exact_results.push(exact.clone());
            let Ok(fast_path) = screen.screen(&point, &mut cache, true, None) else {
                continue;
            };
            screened += 1;
            // With the whole curve's statistics: a nearly flat curve is left to the exact engine.
            let with_curve = screen
                .screen(&point, &mut cache, false, Some(&mut curve))
                .ok();
            // Without the drawdown, the rest is the same.
            let lean = screen
                .screen(&point, &mut cache, false, None)
                .map_err(|_| {
                    format!("fast={fast} slow={slow}: settled with the drawdown, not without")
                })?;
            if lean.equity_final != fast_path.equity_final
                || lean.trades != fast_path.trades
                || lean.max_drawdown_pct.is_some()
            {
                return Err(format!(
                    "fast={fast} slow={slow}: {lean:?} vs {fast_path:?}"
                ));
            }
            let keys = ScreenStats::KEYS
                .iter()
                .chain(&ScreenStats::DRAWDOWN_KEYS)
                .map(|k| (*k, &fast_path));
            let curve_keys = with_curve
                .iter()
                .flat_map(|c| ScreenStats::CURVE_KEYS.iter().map(move |k| (*k, c)));
            for (key, fast_path) in keys.chain(curve_keys) {
                let (a, b) = (fast_path.value(key), exact.stats.value(key));
                let agree = match (a, b) {
                    (Some(a), Some(b)) => same_statistic(a, b),
                    (None, None) => true,
                    _ => false,
                };
                if !agree {
                    return Err(format!(
                        "fast={fast} slow={slow}: {key} screened {a:?}, exact {b:?} \
                         ({} exact trades)",
                        exact.trades.len()
                    ));
                }
            }
            let exact_final = decimal_to_f64(exact.final_equity.0);
            if !same_statistic(fast_path.equity_final, exact_final) {
                return Err(format!(
                    "fast={fast} slow={slow}: final equity {} vs exact {exact_final}",
                    fast_path.equity_final
                ));
            }
        }
    }
    // The sweep's ranking (screen everything, re-run the best exactly) is the exact engine's.
    let grid = Grid::new(
        &[
            "fast=2,3,5".parse().expect("range"),
            "slow=6,9,14".parse().expect("range"),
        ],
        &[],
    )
    .expect("grid");
    let rank_by = RANKED_BY[case.seed as usize % RANKED_BY.len()];
    let top = 1 + case.skip % 5;
    let ranked = screened_ranking(
        &grid,
        rank_by,
        top,
        |p, cache, drawdown, curve| screen.screen(&point_strategy(p), cache, drawdown, curve),
        |p, cache| run_exact(&point_strategy(p), cache).ok(),
        |_, _| {},
    );
    let mut expected: Vec<(f64, usize)> = exact_results
        .iter()
        .enumerate()
        .map(|(i, r)| (score(rank_by, r.stats.value(rank_by)), i))
        .collect();
    expected.sort_by(|a, b| {
        b.0.total_cmp(&a.0).then_with(|| {
            grid.points[a.1]
                .partial_cmp(&grid.points[b.1])
                .expect("numbers")
        })
    });
    let expected: Vec<usize> = expected.iter().take(top).map(|(_, i)| *i).collect();
    let got: Vec<usize> = ranked.iter().map(|(i, _)| *i).collect();
    if got != expected {
        return Err(format!(
            "ranked by {rank_by}, top {top}: {got:?}, exact {expected:?}"
        ));
    }
    for (index, result) in &ranked {
        let result = result
            .as_ref()
            .ok_or("a ranked point without its exact result")?;
        if result.stats != exact_results[*index].stats {
            return Err(format!(
                "point {index}: the ranked result is not the exact engine's"
            ));
        }
    }
    Ok(screened)
}

/// The statistics the ranking check ranks by, one per case.
const RANKED_BY: [&str; 8] = [
    "equity_final",
    "return_pct",
    "sharpe_ratio",
    "max_drawdown_pct",
    "trades",
    "win_rate_pct",
    "calmar_ratio",
    "profit_factor",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every statistic the screening pass gives equals the exact engine's for the same point to
    /// 1e-9, over random data, rules, risk exits, sizes, costs, timings, roundings and periods.
    #[test]
    fn screening_agrees_with_the_exact_engine(case in sweep_cases()) {
        let screened = check_screening(&case).map_err(|e| {
            proptest::test_runner::TestCaseError::fail(format!("{case:?}: {e}"))
        })?;
        // Points of one grid often make the same first fills, so a case may leave several to
        // the exact engine; how rare that is on real data is checked below.
        prop_assert!(screened >= 1, "{case:?}: no point of 9 screened");
    }
}

/// On real data (the BTC sample, a 10 × 10 SMA grid with a stop, a fee and slippage) the
/// screening pass settles nearly every point itself: the exact engine is its exception.
#[test]
fn screening_settles_nearly_every_point_of_a_real_sweep() {
    use barter_core::simulator::Screen;
    let data = market(&[("BTC", btc_rows())]);
    let settings = BacktestSettings {
        fill_model: fill_model(dec!(10), dec!(5), FillTiming::NextOpen),
        ..BacktestSettings::default()
    };
    let btc = instrument("BTC");
    let screen = Screen::new(&data, &btc, Sizing::AllCash, None, &settings).expect("screenable");
    let declared = Params::from([("fast".to_owned(), 3.0), ("slow".to_owned(), 10.0)]);
    let base = RuleStrategy::new(
        "swept".to_owned(),
        all(),
        parse(
            "crosses_above(sma(close, $fast), sma(close, $slow))",
            RuleKind::Entry,
            &declared,
        ),
        Some(parse(
            "crosses_below(sma(close, $fast), sma(close, $slow))",
            RuleKind::Exit,
            &declared,
        )),
        ExitLimits {
            stop_loss: Some(dec!(0.07)),
            ..ExitLimits::default()
        },
    );
    let mut cache = IndicatorCache::new();
    let (mut settled, mut trades) = (0, 0);
    for fast in 2..12 {
        for slow in 20..30 {
            let point = base.clone().with_params(Params::from([
                ("fast".to_owned(), f64::from(fast)),
                ("slow".to_owned(), f64::from(slow * 3)),
            ]));
            if let Ok(stats) = screen.screen(&point, &mut cache, true, None) {
                settled += 1;
                trades += stats.trades;
            }
        }
    }
    assert!(settled >= 98, "only {settled} of 100 points screened");
    assert!(trades > 2_000, "the grid should trade: {trades} trades");
}

/// A ranking crowded with ties (no point of the grid ever trades, so every return is 0): the
/// sweep finds every tied point, runs it exactly and ranks by the values, as the exact engine
/// alone would.
#[test]
fn a_ranking_crowded_with_ties_is_settled_by_the_exact_engine() {
    use barter_core::simulator::Screen;
    let data = market(&[("BTC", btc_rows())]);
    let settings = BacktestSettings::default();
    let btc = instrument("BTC");
    let screen = Screen::new(&data, &btc, Sizing::AllCash, None, &settings).expect("screenable");
    let declared = Params::from([("times".to_owned(), 2.0), ("days".to_owned(), 10.0)]);
    let base = RuleStrategy::new(
        "never".to_owned(),
        all(),
        parse(
            "close > highest(close, $days)[1] * $times",
            RuleKind::Entry,
            &declared,
        ),
        None,
        ExitLimits::default(),
    );
    let grid = Grid::new(
        &[
            "times=2..11".parse().expect("range"),
            "days=20..29".parse().expect("range"),
        ],
        &[],
    )
    .expect("grid");
    let strategy_of = |p: &[f64]| {
        base.clone().with_params(Params::from([
            ("times".to_owned(), p[0]),
            ("days".to_owned(), p[1]),
        ]))
    };
    let exact_runs = std::sync::atomic::AtomicUsize::new(0);
    let ranked = screened_ranking(
        &grid,
        "return_pct",
        3,
        |p, cache, drawdown, curve| screen.screen(&strategy_of(p), cache, drawdown, curve),
        |p, cache| {
            exact_runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let point = strategy_of(p);
            let strategies = [BacktestStrategy {
                strategy: &point,
                sizing: Sizing::AllCash,
                max_open_positions: None,
            }];
            barter_core::simulator::backtest_with(
                &data,
                std::slice::from_ref(&btc),
                &strategies,
                &settings,
                cache,
            )
            .ok()
        },
        |_, _| {},
    );
    let got: Vec<&[f64]> = ranked
        .iter()
        .map(|(i, _)| grid.points[*i].as_slice())
        .collect();
    assert_eq!(got, [[2.0, 20.0], [2.0, 21.0], [2.0, 22.0]]);
    assert!(
        ranked
            .iter()
            .all(|(_, r)| r.as_ref().is_some_and(|r| r.trades.is_empty()))
    );
    // Every one of the 100 tied points was run exactly (more than the 22 the first pass keeps).
    assert_eq!(exact_runs.into_inner(), 100);
}

// ---------------------------------------------------------------------------------------------
// 7. The portfolio walk's shortcuts
// ---------------------------------------------------------------------------------------------

/// The portfolio walk's shortcuts decide what the full walk decides. A position of a strategy
/// without risk exits is looked at only on the days its exit signal passes; a limit that never
/// binds (a maximum holding of a million days) makes the walk look at every open position every
/// day instead. An instrument is visited only on the days its precomputed entries pass (and
/// only for the strategies that pass there); an entry rule that also reads another instrument
/// is decided day by day on every instrument instead. All three must make the same trades to
/// the last digit, with one and two strategies, on ten instruments (so their decisions are
/// prepared on every core) of which some trade on other days than the rest (so the period is
/// not one shared calendar), with and without a cap, for both fill timings.
#[test]
fn the_portfolio_walks_shortcuts_decide_as_the_full_walk() {
    let mut histories: Vec<(String, Vec<Row>)> = Vec::new();
    for n in 0..10u64 {
        let base = if n % 2 == 0 { btc_rows() } else { eth_rows() };
        let start = base[0].day;
        let mut rows = altered_after(base, start, 1 + n);
        // Three instruments start later, and one skips every seventh day.
        if n % 4 == 1 {
            rows.drain(..(40 * n as usize).min(rows.len() / 2));
        }
        if n == 6 {
            rows = rows
                .into_iter()
                .enumerate()
                .filter(|(i, _)| i % 7 != 3)
                .map(|(_, r)| r)
                .collect();
        }
        histories.push((format!("I{n}"), rows));
    }
    let refs: Vec<(&str, &[Row])> = histories
        .iter()
        .map(|(s, r)| (s.as_str(), r.as_slice()))
        .collect();
    let data = market(&refs);
    let instruments: Vec<BacktestInstrument> =
        histories.iter().map(|(s, _)| instrument(s)).collect();
    let entry = "crosses_above(sma(close, 10), sma(close, 30))";
    let exit = Some("crosses_below(sma(close, 10), sma(close, 30))");
    // A second strategy on the same instruments: days on which both pass, or one holds and
    // the other is at its maximum, take the agenda's per-strategy bits.
    let quick = "crosses_above(sma(close, 5), sma(close, 15))";
    let quick_exit = Some("crosses_below(sma(close, 5), sma(close, 15))");
    let never_binding = ExitLimits {
        max_holding_days: Some(1_000_000),
        ..ExitLimits::default()
    };
    let scheduled = [
        rule_strategy("cross", all(), entry, exit, ExitLimits::default()),
        rule_strategy("quick", all(), quick, quick_exit, ExitLimits::default()),
    ];
    let watched = [
        rule_strategy("cross", all(), entry, exit, never_binding),
        rule_strategy("quick", all(), quick, quick_exit, never_binding),
    ];
    // The same entries decided day by day (a rule reading another instrument has no outcomes
    // known in advance), so the walk visits every instrument every day instead of the agenda's.
    let (entry_daily, quick_daily) = (
        format!("{entry} and I0.close > 0"),
        format!("{quick} and I0.close > 0"),
    );
    let daily = [
        rule_strategy("cross", all(), &entry_daily, exit, ExitLimits::default()),
        rule_strategy(
            "quick",
            all(),
            &quick_daily,
            quick_exit,
            ExitLimits::default(),
        ),
    ];
    for (cap, sizing, timing) in [
        (None, Sizing::Amount(Money(dec!(800))), FillTiming::NextOpen),
        (
            Some(3),
            Sizing::Amount(Money(dec!(3000))),
            FillTiming::NextOpen,
        ),
        (
            Some(4),
            Sizing::EquityFraction(dec!(0.2)),
            FillTiming::Close,
        ),
    ] {
        for count in [1, 2] {
            let run = |chosen: &[RuleStrategy]| {
                let strategies: Vec<BacktestStrategy<'_>> = chosen[..count]
                    .iter()
                    .map(|strategy| BacktestStrategy {
                        strategy,
                        sizing,
                        max_open_positions: cap,
                    })
                    .collect();
                let settings = BacktestSettings {
                    initial_cash: Money(dec!(10000)),
                    fill_model: fill_model(FEE_BPS, SLIPPAGE_BPS, timing),
                    ..BacktestSettings::default()
                };
                backtest(&data, &instruments, &strategies, &settings).expect("the backtest runs")
            };
            let (a, b, c) = (run(&scheduled), run(&watched), run(&daily));
            assert_eq!(
                a.trades
                    .iter()
                    .map(|t| t.strategy.as_str())
                    .collect::<BTreeSet<_>>()
                    .len(),
                count,
                "every strategy trades"
            );
            assert!(
                a.trades.len() > 20,
                "too few trades to compare: {}",
                a.trades.len()
            );
            assert_eq!(a.final_equity, b.final_equity, "{cap:?} {timing:?}");
            assert_eq!(a.trades.len(), b.trades.len(), "{cap:?} {timing:?}");
            for (x, y) in a.trades.iter().zip(&b.trades) {
                assert_eq!(
                    (
                        &x.symbol,
                        &x.strategy,
                        x.entry_day,
                        x.exit_day,
                        x.quantity,
                        x.pnl,
                        x.reason
                    ),
                    (
                        &y.symbol,
                        &y.strategy,
                        y.entry_day,
                        y.exit_day,
                        y.quantity,
                        y.pnl,
                        y.reason
                    ),
                );
            }
            assert_eq!(a.open_trades.len(), b.open_trades.len());
            assert_eq!(a.unfilled.len(), b.unfilled.len());
            let curve = |r: &BacktestResult| r.equity.iter().map(|p| p.equity).collect::<Vec<_>>();
            assert_eq!(curve(&a), curve(&b));
            assert_eq!(
                a.trades.len(),
                c.trades.len(),
                "{count} {cap:?} {timing:?}: agenda"
            );
            assert_eq!(curve(&a), curve(&c), "{count} {cap:?} {timing:?}: agenda");
        }
    }
}
