//! Point-in-time market data: what a decision on day D may see, and nothing after it.
//!
//! [`MarketData`] holds each instrument's complete daily candles (and their f64 columns for the
//! indicators). A decision never reads it directly: it gets a [`MarketView`] for its day, whose
//! every accessor returns slices that *end* at that day, so a candle after D cannot be reached
//! through it. Only the fill model looks past D, through [`MarketData::next_candle`], because a
//! decision on D fills at D+1's open.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};

use crate::Day;
use crate::candle::Candle;
use crate::rule::{Columns, OwnedColumns};
use crate::symbol::Symbol;

/// Why candles could not be added to [`MarketData`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketError {
    /// A candle belongs to another instrument.
    #[error("candle for {found} on {day} given as history of {expected}")]
    WrongSymbol {
        /// The instrument the history is for.
        expected: Symbol,
        /// The candle's instrument.
        found: Symbol,
        /// The candle's day.
        day: Day,
    },
    /// The parts of a loaded history do not fit together.
    #[error("history of {symbol} is inconsistent: {problem}")]
    Mismatch {
        /// The instrument.
        symbol: Symbol,
        /// What does not fit.
        problem: String,
    },
    /// Days are not strictly ascending.
    #[error("history of {symbol} is not in strictly ascending day order at {day}")]
    Unordered {
        /// The instrument.
        symbol: Symbol,
        /// The first out-of-order day.
        day: Day,
    },
}

/// One instrument's history as a job loads it: the day and f64 prices of every complete candle
/// (what indicators read), and exact candles from some day on (what decisions, exits and fills
/// read). A daily job needs exact candles only from the decision day, or a position's entry day,
/// on; a series no rule reads may be left empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesHistory {
    /// The days of the complete candles, ascending.
    pub days: Vec<Day>,
    /// The prices of those days; `close` always has one value per day, another series either
    /// one per day or none (not loaded).
    pub columns: OwnedColumns,
    /// Exact candles: every stored candle from some day on, ascending; only the last may be
    /// incomplete.
    pub candles: Vec<Candle>,
}

impl SeriesHistory {
    /// The whole history from exact candles (every series, every candle exact).
    pub fn from_candles(candles: Vec<Candle>) -> Self {
        let complete: Vec<Candle> = candles
            .iter()
            .filter(|c| c.is_complete())
            .cloned()
            .collect();
        Self {
            days: complete.iter().map(Candle::day).collect(),
            columns: OwnedColumns::from_candles(&complete),
            candles,
        }
    }
}

/// Every instrument's daily history, ascending; the source of [`MarketView`]s.
///
/// Instruments with the very same days (one calendar: a portfolio of coins, or of stocks)
/// share one list of them, so [`MarketView::days`] gives them the same slice: a backtest over
/// hundreds of them tells that they share a calendar by the slices' addresses, not by
/// comparing every day.
#[derive(Debug, Clone, Default)]
pub struct MarketData {
    histories: BTreeMap<Symbol, Stored>,
    /// The day lists held, by (count, first day, last day), for sharing with the next
    /// instrument inserted with the same days. Weak, so a list dies with its last instrument.
    calendars: HashMap<CalendarKey, Vec<Weak<[Day]>>>,
}

/// A list of days' count, first day and last day: lists that differ here are not the same.
type CalendarKey = (usize, Option<Day>, Option<Day>);

/// One instrument's [`SeriesHistory`] as held, its days shared (see [`MarketData`]).
#[derive(Debug, Clone)]
struct Stored {
    days: Arc<[Day]>,
    columns: OwnedColumns,
    candles: Vec<Candle>,
}

impl MarketData {
    /// No instruments.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `symbol`'s whole history from exact candles. Incomplete candles are kept out of
    /// decisions: only complete days are visible to views (a fill may still use an incomplete
    /// next day's open).
    ///
    /// # Errors
    /// [`MarketError`] when a candle belongs to another instrument or days are not ascending.
    pub fn insert(&mut self, symbol: Symbol, candles: Vec<Candle>) -> Result<(), MarketError> {
        self.insert_series(symbol, SeriesHistory::from_candles(candles))
    }

    /// Sets `symbol`'s history as loaded by a job (see [`SeriesHistory`]).
    ///
    /// # Errors
    /// [`MarketError`] when a candle belongs to another instrument, days are not ascending, an
    /// incomplete candle is not the last, a column has the wrong length, or the exact candles
    /// are not the last days of the history.
    pub fn insert_series(
        &mut self,
        symbol: Symbol,
        history: SeriesHistory,
    ) -> Result<(), MarketError> {
        let candles = &history.candles;
        if let Some(c) = candles.iter().find(|c| c.symbol() != &symbol) {
            return Err(MarketError::WrongSymbol {
                expected: symbol,
                found: c.symbol().clone(),
                day: c.day(),
            });
        }
        let unordered = |day| MarketError::Unordered {
            symbol: symbol.clone(),
            day,
        };
        if let Some(pair) = candles.windows(2).find(|w| w[0].day() >= w[1].day()) {
            return Err(unordered(pair[1].day()));
        }
        if let Some(pair) = history.days.windows(2).find(|w| w[0] >= w[1]) {
            return Err(unordered(pair[1]));
        }
        let mismatch = |problem: String| MarketError::Mismatch {
            symbol: symbol.clone(),
            problem,
        };
        if let Some(c) = candles.iter().rev().skip(1).find(|c| !c.is_complete()) {
            return Err(mismatch(format!(
                "the candle of {} is incomplete but not the last",
                c.day()
            )));
        }
        let days = history.days.len();
        let columns = &history.columns;
        if columns.close.len() != days {
            return Err(mismatch(format!(
                "{} closes for {days} days",
                columns.close.len()
            )));
        }
        for (name, column) in [
            ("open", &columns.open),
            ("high", &columns.high),
            ("low", &columns.low),
            ("volume", &columns.volume),
        ] {
            if !column.is_empty() && column.len() != days {
                return Err(mismatch(format!(
                    "{} {name} values for {days} days",
                    column.len()
                )));
            }
        }
        let exact: Vec<Day> = candles
            .iter()
            .filter(|c| c.is_complete())
            .map(Candle::day)
            .collect();
        if !history.days.ends_with(&exact) {
            return Err(mismatch(
                "the exact candles are not the last days of the history".to_owned(),
            ));
        }
        let days = self.shared_days(history.days);
        let stored = Stored {
            days,
            columns: history.columns,
            candles: history.candles,
        };
        self.histories.insert(symbol, stored);
        Ok(())
    }

    /// `days` as a list shared with every instrument already held with the same days.
    fn shared_days(&mut self, days: Vec<Day>) -> Arc<[Day]> {
        let key = (days.len(), days.first().copied(), days.last().copied());
        let held = self.calendars.entry(key).or_default();
        held.retain(|list| list.strong_count() > 0);
        if let Some(same) = held
            .iter()
            .filter_map(Weak::upgrade)
            .find(|list| list[..] == days[..])
        {
            return same;
        }
        let list: Arc<[Day]> = days.into();
        held.push(Arc::downgrade(&list));
        list
    }

    /// Keeps only the instruments for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&Symbol) -> bool) {
        self.histories.retain(|symbol, _| keep(symbol));
    }

    /// Whether `symbol` has a history here.
    pub fn contains(&self, symbol: &Symbol) -> bool {
        self.histories.contains_key(symbol)
    }

    /// The instruments with a history.
    pub fn symbols(&self) -> impl Iterator<Item = &Symbol> {
        self.histories.keys()
    }

    /// The market as it was at the close of `day`.
    pub fn view(&self, day: Day) -> MarketView<'_> {
        MarketView { data: self, day }
    }

    /// The first candle after `day` (complete or not): where a decision on `day` fills. `None`
    /// also when the exact candles loaded start after `day`.
    pub fn next_candle(&self, symbol: &Symbol, day: Day) -> Option<&Candle> {
        let candles = &self.histories.get(symbol)?.candles;
        if candles.first().is_none_or(|c| c.day() > day) {
            return None;
        }
        let index = candles.partition_point(|c| c.day() <= day);
        candles.get(index)
    }
}

/// The market at the close of one day: every accessor ends at that day.
#[derive(Debug, Clone, Copy)]
pub struct MarketView<'a> {
    data: &'a MarketData,
    day: Day,
}

impl<'a> MarketView<'a> {
    /// The decision day.
    pub fn day(&self) -> Day {
        self.day
    }

    /// The days of `symbol`'s complete candles up to and including the decision day.
    pub fn days(&self, symbol: &Symbol) -> &'a [Day] {
        self.data.histories.get(symbol).map_or(&[], |h| {
            // A view at or after the last day (a backtest's, a live job's) sees it all.
            if h.days.last().is_none_or(|last| *last <= self.day) {
                return &h.days[..];
            }
            &h.days[..h.days.partition_point(|d| *d <= self.day)]
        })
    }

    /// The day of `symbol`'s latest complete candle at the decision day, if any.
    pub fn latest_day(&self, symbol: &Symbol) -> Option<Day> {
        self.days(symbol).last().copied()
    }

    /// `symbol`'s exact complete candles up to and including the decision day, from the first
    /// exact candle loaded (the whole history unless the job loaded a recent part only; see
    /// [`crate::strategy::DataNeeds`]).
    pub fn candles(&self, symbol: &Symbol) -> &'a [Candle] {
        self.data.histories.get(symbol).map_or(&[], |h| {
            let end = match h.candles.last() {
                Some(last) if last.day() <= self.day => h.candles.len(),
                _ => h.candles.partition_point(|c| c.day() <= self.day),
            };
            // Only complete candles count; an incomplete one can only be the last.
            let end = if end > 0 && !h.candles[end - 1].is_complete() {
                end - 1
            } else {
                end
            };
            &h.candles[..end]
        })
    }

    /// `symbol`'s latest complete candle at the decision day, if any (and loaded exactly).
    pub fn latest(&self, symbol: &Symbol) -> Option<&'a Candle> {
        let latest = self.candles(symbol).last()?;
        (Some(latest.day()) == self.latest_day(symbol)).then_some(latest)
    }

    /// `symbol`'s OHLCV columns up to and including the decision day, for rules and indicators.
    pub fn columns(&self, symbol: &Symbol) -> Option<Columns<'a>> {
        let history = self.data.histories.get(symbol)?;
        Some(history.columns.view().until(self.days(symbol).len()))
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;
    use crate::candle::{CandleOrigin, Ohlcv};

    fn history(symbol: &Symbol, days: u64, last_complete: bool) -> Vec<Candle> {
        let first: Day = "2024-01-01".parse().expect("day");
        (0..days)
            .map(|i| {
                let p = Decimal::from(100 + i);
                let values = Ohlcv {
                    open: p,
                    high: p,
                    low: p,
                    close: p,
                    volume: Decimal::ONE,
                };
                let complete = last_complete || i + 1 < days;
                Candle::new(
                    symbol.clone(),
                    first + chrono::Days::new(i),
                    values,
                    complete,
                    CandleOrigin::Sample,
                    "2024-12-31".parse().expect("day"),
                )
                .expect("valid")
            })
            .collect()
    }

    #[test]
    fn a_view_sees_exactly_the_days_up_to_its_own() {
        let btc = Symbol::parse("BTC").expect("symbol");
        let mut data = MarketData::new();
        data.insert(btc.clone(), history(&btc, 10, true))
            .expect("insert");
        let view = data.view("2024-01-04".parse().expect("day"));
        assert_eq!(view.candles(&btc).len(), 4);
        assert_eq!(
            view.latest(&btc).map(Candle::day),
            "2024-01-04".parse().ok()
        );
        assert_eq!(
            view.columns(&btc).map(|c| c.close.to_vec()),
            Some(vec![100.0, 101.0, 102.0, 103.0])
        );
        assert_eq!(
            data.next_candle(&btc, view.day()).map(Candle::day),
            "2024-01-05".parse().ok()
        );
        assert!(
            data.view("2023-12-31".parse().expect("day"))
                .latest(&btc)
                .is_none()
        );
    }

    #[test]
    fn an_incomplete_last_day_is_not_visible_to_decisions_but_can_be_filled_at() {
        let eth = Symbol::parse("ETH").expect("symbol");
        let mut data = MarketData::new();
        data.insert(eth.clone(), history(&eth, 3, false))
            .expect("insert");
        let view = data.view("2024-01-03".parse().expect("day"));
        assert_eq!(
            view.latest(&eth).map(Candle::day),
            "2024-01-02".parse().ok()
        );
        let next = data
            .next_candle(&eth, "2024-01-02".parse().expect("day"))
            .expect("today's candle");
        assert!(!next.is_complete());
    }

    #[test]
    fn instruments_with_the_same_days_share_one_list_of_them() {
        let [a, b, c, d] = ["A", "B", "C", "D"].map(|s| Symbol::parse(s).expect("symbol"));
        let mut data = MarketData::new();
        data.insert(a.clone(), history(&a, 5, true)).expect("a");
        data.insert(b.clone(), history(&b, 5, true)).expect("b");
        // Same count, first and last day as each other, but a different day missing.
        let mut without_second = history(&c, 5, true);
        without_second.remove(1);
        data.insert(c.clone(), without_second).expect("c");
        let mut without_third = history(&d, 5, true);
        without_third.remove(2);
        data.insert(d.clone(), without_third).expect("d");
        let view = data.view(Day::MAX);
        assert!(std::ptr::eq(view.days(&a), view.days(&b)));
        assert!(!std::ptr::eq(view.days(&a), view.days(&c)));
        assert!(!std::ptr::eq(view.days(&c), view.days(&d)));
        assert_ne!(view.days(&c), view.days(&d));
        // A list outlives the instruments it was made for only while one holds it.
        data.retain(|s| *s == c);
        data.insert(a.clone(), history(&a, 5, true))
            .expect("a again");
        assert_eq!(data.view(Day::MAX).days(&a).len(), 5);
    }

    #[test]
    fn histories_must_be_ascending_and_of_one_instrument() {
        let a = Symbol::parse("A").expect("symbol");
        let b = Symbol::parse("B").expect("symbol");
        let mut data = MarketData::new();
        assert!(matches!(
            data.insert(a.clone(), history(&b, 2, true)),
            Err(MarketError::WrongSymbol { .. })
        ));
        let mut reversed = history(&a, 3, true);
        reversed.reverse();
        assert!(matches!(
            data.insert(a, reversed),
            Err(MarketError::Unordered { .. })
        ));
        assert!(
            data.view("2024-01-01".parse().expect("day"))
                .columns(&b)
                .is_none()
        );
    }
}
