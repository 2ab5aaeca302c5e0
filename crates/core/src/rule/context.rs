//! What a rule sees when it runs: price columns up to the decision day, parameters, the position.

use std::collections::BTreeMap;

use crate::candle::Candle;
use crate::symbol::Symbol;

use super::Params;
use super::functions::SeriesField;

/// An instrument's daily OHLCV columns, oldest first, all the same length, ending at the decision
/// day: a rule can only see what the slices hold, so nothing after that day is visible.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Columns<'a> {
    /// Opening prices.
    pub open: &'a [f64],
    /// Highest prices.
    pub high: &'a [f64],
    /// Lowest prices.
    pub low: &'a [f64],
    /// Closing prices.
    pub close: &'a [f64],
    /// Volumes.
    pub volume: &'a [f64],
}

impl<'a> Columns<'a> {
    /// The column of one series.
    pub fn field(&self, field: SeriesField) -> &'a [f64] {
        match field {
            SeriesField::Open => self.open,
            SeriesField::High => self.high,
            SeriesField::Low => self.low,
            SeriesField::Close => self.close,
            SeriesField::Volume => self.volume,
        }
    }

    /// How many days (the length of the close column).
    pub fn len(&self) -> usize {
        self.close.len()
    }

    /// Whether there are no days.
    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }

    /// The first `days` days only: the market as it was at the close of day `days - 1`.
    pub fn until(&self, days: usize) -> Columns<'a> {
        let cut = |c: &'a [f64]| &c[..days.min(c.len())];
        Columns {
            open: cut(self.open),
            high: cut(self.high),
            low: cut(self.low),
            close: cut(self.close),
            volume: cut(self.volume),
        }
    }
}

/// Owned OHLCV columns, e.g. converted from stored candles.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OwnedColumns {
    /// Opening prices.
    pub open: Vec<f64>,
    /// Highest prices.
    pub high: Vec<f64>,
    /// Lowest prices.
    pub low: Vec<f64>,
    /// Closing prices.
    pub close: Vec<f64>,
    /// Volumes.
    pub volume: Vec<f64>,
}

impl OwnedColumns {
    /// Columns from candles in day order (decimal prices become the nearest `f64`).
    pub fn from_candles(candles: &[Candle]) -> Self {
        let f = crate::candle::decimal_to_f64;
        Self {
            open: candles.iter().map(|c| f(c.open().0)).collect(),
            high: candles.iter().map(|c| f(c.high().0)).collect(),
            low: candles.iter().map(|c| f(c.low().0)).collect(),
            close: candles.iter().map(|c| f(c.close().0)).collect(),
            volume: candles.iter().map(|c| f(c.volume().0)).collect(),
        }
    }

    /// Borrowed columns over all days.
    pub fn view(&self) -> Columns<'_> {
        Columns {
            open: &self.open,
            high: &self.high,
            low: &self.low,
            close: &self.close,
            volume: &self.volume,
        }
    }
}

/// The open position an exit rule judges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionView {
    /// The price paid per unit (`entry_price`).
    pub entry_price: f64,
    /// Candles since the entry day, 0 on the entry day itself (`days_held`): the instrument's
    /// trading days, so a weekend or exchange holiday without a candle does not count.
    pub days_held: u32,
    /// The highest close from the entry day to the decision day, both included
    /// (`highest_close_since_entry`).
    pub highest_close_since_entry: f64,
}

impl PositionView {
    /// The view of a position entered at `entry_price` on day index `entry_index` of `closes`
    /// (which end at the decision day); `None` if that index is not in `closes`.
    pub fn from_closes(entry_price: f64, entry_index: usize, closes: &[f64]) -> Option<Self> {
        let held = closes.get(entry_index..).filter(|c| !c.is_empty())?;
        Some(Self {
            entry_price,
            days_held: u32::try_from(held.len() - 1).unwrap_or(u32::MAX),
            highest_close_since_entry: held.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }
}

/// The empty override set.
static NO_OVERRIDES: Params = BTreeMap::new();

/// Everything a rule reads when it runs on one decision day.
#[derive(Debug, Clone)]
pub struct EvalContext<'a> {
    symbol: Symbol,
    market: BTreeMap<Symbol, Columns<'a>>,
    overrides: &'a Params,
    position: Option<PositionView>,
}

impl<'a> EvalContext<'a> {
    /// The context for deciding on `symbol`, whose columns end at the decision day; parameters
    /// take their defaults and there is no position.
    pub fn new(symbol: Symbol, columns: Columns<'a>) -> Self {
        let mut market = BTreeMap::new();
        market.insert(symbol.clone(), columns);
        Self {
            symbol,
            market,
            overrides: &NO_OVERRIDES,
            position: None,
        }
    }

    /// Adds another instrument a rule refers to (`BTC.close`); its columns must end at the
    /// decision day too. `[n]` counts that instrument's own candles.
    pub fn with_instrument(mut self, symbol: Symbol, columns: Columns<'a>) -> Self {
        self.market.insert(symbol, columns);
        self
    }

    /// Parameter values that replace the strategy's defaults (names without `$`), e.g. one point
    /// of a sweep; check them once with [`super::Rule::check_params`].
    pub fn with_params(mut self, overrides: &'a Params) -> Self {
        self.overrides = overrides;
        self
    }

    /// The open position, for exit rules.
    pub fn with_position(mut self, position: PositionView) -> Self {
        self.position = Some(position);
        self
    }

    /// The instrument being decided on.
    pub fn symbol(&self) -> &Symbol {
        &self.symbol
    }

    /// The parameter overrides.
    pub(crate) fn overrides(&self) -> &'a Params {
        self.overrides
    }

    /// The open position, if any.
    pub(crate) fn position(&self) -> Option<PositionView> {
        self.position
    }

    /// The symbol and columns of `instrument` (`None`: the decision instrument).
    pub(crate) fn columns(&self, instrument: Option<&Symbol>) -> Option<(&Symbol, Columns<'a>)> {
        let symbol = instrument.unwrap_or(&self.symbol);
        self.market.get_key_value(symbol).map(|(s, c)| (s, *c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_view_counts_days_and_the_highest_close_from_the_entry_day() {
        let closes = [10.0, 12.0, 11.0, 15.0, 14.0];
        let view = PositionView::from_closes(11.5, 1, &closes).expect("entry inside");
        assert_eq!(view.days_held, 3);
        assert_eq!(view.highest_close_since_entry, 15.0);
        let same_day = PositionView::from_closes(14.0, 4, &closes).expect("entry today");
        assert_eq!(
            (same_day.days_held, same_day.highest_close_since_entry),
            (0, 14.0)
        );
        assert_eq!(PositionView::from_closes(1.0, 5, &closes), None);
    }

    #[test]
    fn until_cuts_every_column_to_the_first_days() {
        let x = [1.0, 2.0, 3.0];
        let all = Columns {
            open: &x,
            high: &x,
            low: &x,
            close: &x,
            volume: &x,
        };
        assert_eq!(all.until(2).close, &[1.0, 2.0]);
        assert_eq!(all.until(2).volume, &[1.0, 2.0]);
        assert_eq!(all.until(9).len(), 3);
    }
}
