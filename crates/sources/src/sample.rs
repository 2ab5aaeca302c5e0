//! The bundled sample: real daily history embedded in the binary, so Barter works offline.
//!
//! The files in `data/sample/` (see its `SOURCES.md`: Binance spot klines for the crypto assets,
//! unadjusted SPY) are compiled in with `include_str!`. The source serves each history up to an
//! "as of" day (default: the last day in the files), so a replay can walk through it day by day.
//! Only days before the caller's today are served (all complete), and each file is parsed once
//! per process.

use std::sync::OnceLock;

use async_trait::async_trait;

use barter_core::{Calendar, Candle, CandleOrigin, Day, Instrument, Ohlcv, SourceKind, Symbol};
use serde::{Deserialize, Serialize};

use crate::csv_file::parse_candles;
use crate::{DataSource, FetchRequest, SourceError, ensure_source};

/// Settings of the sample source (`[sources.sample]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SampleConfig {
    /// Serve history up to and including this day; `None` serves everything bundled.
    pub as_of: Option<Day>,
}

/// One bundled history.
#[derive(Debug, Clone, Copy)]
pub struct SampleSeries {
    /// Symbol and sample source id.
    pub symbol: &'static str,
    /// Human-readable name.
    pub name: &'static str,
    /// When the instrument trades.
    pub calendar: Calendar,
    /// The file name under `data/sample/`.
    pub file: &'static str,
    /// The file's contents.
    pub csv: &'static str,
}

macro_rules! series {
    ($symbol:literal, $name:literal, $calendar:expr, $file:literal) => {
        SampleSeries {
            symbol: $symbol,
            name: $name,
            calendar: $calendar,
            file: $file,
            csv: include_str!(concat!("../../../data/sample/", $file)),
        }
    };
}

/// A bundled file parsed into (day, values) rows, or why it did not parse.
type Parsed = Result<Vec<(Day, Ohlcv)>, String>;

impl SampleSeries {
    /// The parsed rows (day, values), ascending; parsed once per process.
    ///
    /// # Errors
    /// Why the bundled file does not parse (the tests make sure it does).
    pub fn rows(&'static self) -> Result<&'static [(Day, Ohlcv)], String> {
        static PARSED: [OnceLock<Parsed>; SERIES.len()] = [const { OnceLock::new() }; SERIES.len()];
        let index = SERIES
            .iter()
            .position(|s| s.symbol == self.symbol)
            .unwrap_or(0);
        PARSED[index]
            .get_or_init(|| {
                let symbol = Symbol::parse(self.symbol).map_err(|e| e.to_string())?;
                let label = format!("bundled sample {}", self.file);
                let candles =
                    parse_candles(&label, &symbol, self.csv, CandleOrigin::Sample, Day::MAX)
                        .map_err(|e| e.to_string())?;
                Ok(candles.iter().map(|c| (c.day(), c.values())).collect())
            })
            .as_deref()
            .map_err(Clone::clone)
    }
}

/// Every bundled history.
pub const SERIES: [SampleSeries; 9] = [
    series!("BTC", "Bitcoin", Calendar::Continuous, "btc-usd-daily.csv"),
    series!("ETH", "Ethereum", Calendar::Continuous, "eth-usd-daily.csv"),
    series!("SOL", "Solana", Calendar::Continuous, "sol-usd-daily.csv"),
    series!("XRP", "XRP", Calendar::Continuous, "xrp-usd-daily.csv"),
    series!("ADA", "Cardano", Calendar::Continuous, "ada-usd-daily.csv"),
    series!(
        "DOGE",
        "Dogecoin",
        Calendar::Continuous,
        "doge-usd-daily.csv"
    ),
    series!("LTC", "Litecoin", Calendar::Continuous, "ltc-usd-daily.csv"),
    series!("BNB", "BNB", Calendar::Continuous, "bnb-usd-daily.csv"),
    series!(
        "SPY",
        "SPDR S&P 500 ETF",
        Calendar::Xnys,
        "spy-usd-daily.csv"
    ),
];

/// The instruments `barter quickstart` registers: one per bundled history, quoted in USD.
pub fn instruments() -> Vec<Instrument> {
    SERIES
        .iter()
        .filter_map(|s| {
            let symbol = Symbol::parse(s.symbol).ok()?;
            Instrument::new(
                symbol,
                s.name,
                "USD",
                SourceKind::Sample,
                s.symbol,
                s.calendar,
            )
            .ok()
        })
        .collect()
}

/// The last day any bundled history has (the default "as of" day).
pub fn last_day() -> Option<Day> {
    SERIES
        .iter()
        .filter_map(|s| {
            s.rows()
                .ok()
                .and_then(|rows| rows.last())
                .map(|(day, _)| *day)
        })
        .max()
}

/// Serves the bundled histories.
#[derive(Debug, Clone, Default)]
pub struct SampleSource {
    config: SampleConfig,
}

impl SampleSource {
    /// A sample source with the given settings.
    pub fn new(config: SampleConfig) -> Self {
        Self { config }
    }

    /// The bundled series for a source id (case-insensitive), if any.
    pub fn series(id: &str) -> Option<&'static SampleSeries> {
        SERIES
            .iter()
            .find(|s| s.symbol.eq_ignore_ascii_case(id.trim()))
    }
}

#[async_trait]
impl DataSource for SampleSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Sample
    }

    async fn fetch_daily(
        &self,
        instrument: &Instrument,
        request: &FetchRequest,
    ) -> Result<Vec<Candle>, SourceError> {
        ensure_source(instrument, SourceKind::Sample)?;
        let series = Self::series(&instrument.source_id).ok_or_else(|| SourceError::UnknownId {
            source_kind: SourceKind::Sample,
            symbol: instrument.symbol.clone(),
            id: instrument.source_id.clone(),
            detail: format!(
                "the bundled sample has {}",
                SERIES
                    .iter()
                    .map(|s| s.symbol)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        // Bundled history only: days before today (complete), up to the as-of day.
        let last = request.today().pred_opt().unwrap_or(Day::MIN);
        let last = self.config.as_of.map_or(last, |as_of| as_of.min(last));
        let first = request.from.unwrap_or(Day::MIN);
        let rows = series.rows().map_err(|detail| SourceError::Malformed {
            source_kind: SourceKind::Sample,
            symbol: instrument.symbol.clone(),
            detail,
        })?;
        let start = rows.partition_point(|(day, _)| *day < first);
        let end = rows.partition_point(|(day, _)| *day <= last);
        rows[start..end.max(start)]
            .iter()
            .map(|(day, values)| {
                Candle::new(
                    instrument.symbol.clone(),
                    *day,
                    *values,
                    true,
                    CandleOrigin::Sample,
                    request.today(),
                )
                .map_err(|error| SourceError::InvalidCandle {
                    source_kind: SourceKind::Sample,
                    error,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use rust_decimal_macros::dec;

    use super::*;

    fn request(from: Option<&str>) -> FetchRequest {
        FetchRequest {
            from: from.map(|d| d.parse().expect("date")),
            now: Utc
                .with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
                .single()
                .expect("time"),
        }
    }

    fn btc() -> Instrument {
        instruments()
            .into_iter()
            .find(|i| i.symbol.as_str() == "BTC")
            .expect("BTC bundled")
    }

    #[tokio::test]
    async fn every_bundled_history_parses_completely() {
        for instrument in instruments() {
            let candles = SampleSource::default()
                .fetch_daily(&instrument, &request(None))
                .await
                .expect("bundled data is valid");
            assert!(
                candles.len() > 1900,
                "{} has {}",
                instrument.symbol,
                candles.len()
            );
            assert!(candles.iter().all(Candle::is_complete));
        }
        assert_eq!(instruments().len(), 9);
    }

    #[tokio::test]
    async fn the_first_btc_candle_is_binance_first_price() {
        let candles = SampleSource::default()
            .fetch_daily(&btc(), &request(None))
            .await
            .expect("ok");
        assert_eq!(candles[0].day(), "2017-08-17".parse::<Day>().expect("date"));
        assert_eq!(candles[0].open().value(), dec!(4261.48));
        assert_eq!(candles.last().map(Candle::day), "2026-01-05".parse().ok());
    }

    #[tokio::test]
    async fn history_is_served_up_to_the_as_of_day_and_from_the_requested_day() {
        let source = SampleSource::new(SampleConfig {
            as_of: "2024-01-10".parse().ok(),
        });
        let candles = source
            .fetch_daily(&btc(), &request(Some("2024-01-08")))
            .await
            .expect("ok");
        let days: Vec<String> = candles.iter().map(|c| c.day().to_string()).collect();
        assert_eq!(days, ["2024-01-08", "2024-01-09", "2024-01-10"]);
    }

    #[tokio::test]
    async fn an_unknown_sample_id_lists_what_is_bundled() {
        let mut instrument = btc();
        instrument.source_id = "NOPE".into();
        let err = SampleSource::default()
            .fetch_daily(&instrument, &request(None))
            .await
            .expect_err("unknown");
        assert!(err.to_string().contains("BTC, ETH, SOL"), "{err}");
    }
}
