//! Whether an instrument's stored candles are enough: its coverage, gaps and freshness (is the
//! newest complete candle the one its calendar expects by now?). The dashboard's instruments
//! pages, `barter status`, `GET /api/status` and the overview's status block all judge
//! staleness here; the trading jobs skip stale instruments by the same rule
//! ([`expected_day`]), so what is called stale is exactly what is not traded.

use barter_core::{Candle, Day, Gaps, Instrument};
use barter_store::{Store, StoreError};
use serde::Serialize;

use crate::trading::expected_day;

/// How current an instrument's newest complete candle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Freshness {
    /// The newest complete candle is the one its calendar expects (or a later one).
    Current,
    /// The newest complete candle is older than the expected day: the trading jobs skip it.
    Stale,
    /// No complete candle is stored yet.
    NoData,
}

impl Freshness {
    /// Judges `last_complete` against `expected` (see [`expected_day`]).
    pub fn of(last_complete: Option<Day>, expected: Day) -> Self {
        match last_complete {
            None => Self::NoData,
            Some(day) if day < expected => Self::Stale,
            Some(_) => Self::Current,
        }
    }

    /// The name in JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Stale => "stale",
            Self::NoData => "no_data",
        }
    }
}

/// What is stored of an instrument's candles, and whether that is enough.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentHealth {
    /// The first and last stored day, if any candle is stored.
    pub range: Option<(Day, Day)>,
    /// How many days are stored.
    pub count: u64,
    /// The last day with a complete candle.
    pub last_complete: Option<Day>,
    /// Trading days missing between the first and the last stored day.
    pub gaps: Gaps,
    /// The newest complete candle its calendar expects by `today`.
    pub expected: Day,
}

impl InstrumentHealth {
    /// The health of `instrument` as of `today` (UTC) from all its stored `candles`
    /// (ascending by day), for a page that has read them anyway.
    pub fn from_candles(instrument: &Instrument, candles: &[Candle], today: Day) -> Self {
        let days: Vec<Day> = candles.iter().map(Candle::day).collect();
        Self {
            range: days.first().copied().zip(days.last().copied()),
            count: days.len() as u64,
            last_complete: candles
                .iter()
                .rev()
                .find(|c| c.is_complete())
                .map(Candle::day),
            gaps: instrument.calendar.gaps(&days),
            expected: expected_day(instrument.calendar, today),
        }
    }

    /// Reads the health of `instrument` as of `today` (UTC) from the store's candle summary,
    /// and its stored days only when some may be missing.
    ///
    /// # Errors
    /// [`StoreError`] when the summary or the stored days cannot be read.
    pub async fn read(
        store: &Store,
        instrument: &Instrument,
        today: Day,
    ) -> Result<Self, StoreError> {
        let symbol = &instrument.symbol;
        let (coverage, last_complete) = store.coverage_and_last_complete(symbol).await?;
        let calendar = instrument.calendar;
        let gaps = match coverage {
            Some(c) => crate::sync::gaps(store, symbol, calendar, c).await?,
            None => Gaps::default(),
        };
        Ok(Self {
            range: coverage.map(|c| (c.first, c.last)),
            count: coverage.map_or(0, |c| c.count),
            last_complete,
            gaps,
            expected: expected_day(calendar, today),
        })
    }

    /// Whether the newest complete candle is current, stale or missing.
    pub fn freshness(&self) -> Freshness {
        Freshness::of(self.last_complete, self.expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Day {
        text.parse().expect("day")
    }

    #[test]
    fn freshness_compares_the_newest_complete_candle_with_the_expected_day() {
        let expected = day("2026-01-05");
        assert_eq!(Freshness::of(None, expected), Freshness::NoData);
        assert_eq!(
            Freshness::of(Some(day("2026-01-04")), expected),
            Freshness::Stale
        );
        assert_eq!(Freshness::of(Some(expected), expected), Freshness::Current);
        // A replay's candles can be newer than the wall clock's expected day.
        assert_eq!(
            Freshness::of(Some(day("2026-01-06")), expected),
            Freshness::Current
        );
    }
}
