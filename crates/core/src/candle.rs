//! The daily OHLCV candle, validated when it is built so that no bad price reaches storage.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::Day;
use crate::money::{Price, Volume};
use crate::symbol::Symbol;

/// The largest price a candle may have (10^15 per unit): far above any traded asset, and far
/// enough below the largest exact decimal (about 7.9 × 10^28) that values of positions stay
/// computable.
pub const MAX_PRICE: u64 = 1_000_000_000_000_000;

/// The largest volume a candle may have (10^24 units a day).
pub const MAX_VOLUME: u128 = 1_000_000_000_000_000_000_000_000;

/// Where a candle's values came from (sources may derive some fields; this says how).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandleOrigin {
    /// The bundled sample history.
    Sample,
    /// CoinGecko daily OHLC (Pro plan), with volume from its daily market chart.
    CoinGeckoOhlc,
    /// CoinGecko daily market chart (Demo/keyless plan): close and volume are CoinGecko's,
    /// open is the previous day's close, high/low are the larger/smaller of open and close.
    CoinGeckoMarketChart,
    /// Binance spot daily klines.
    BinanceKlines,
    /// Alpaca daily stock bars (`/v2/stocks/{symbol}/bars?timeframe=1Day`).
    AlpacaBars,
    /// A CSV file.
    CsvFile,
}

impl CandleOrigin {
    /// Every origin.
    pub const ALL: [CandleOrigin; 6] = [
        Self::Sample,
        Self::CoinGeckoOhlc,
        Self::CoinGeckoMarketChart,
        Self::BinanceKlines,
        Self::AlpacaBars,
        Self::CsvFile,
    ];

    /// The name used in the database and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sample => "sample",
            Self::CoinGeckoOhlc => "coingecko_ohlc",
            Self::CoinGeckoMarketChart => "coingecko_market_chart",
            Self::BinanceKlines => "binance_klines",
            Self::AlpacaBars => "alpaca_bars",
            Self::CsvFile => "csv_file",
        }
    }
}

impl fmt::Display for CandleOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CandleOrigin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("unknown candle origin `{s}`"))
    }
}

/// The raw values of a candle, before validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ohlcv {
    /// First price of the day.
    pub open: Decimal,
    /// Highest price of the day.
    pub high: Decimal,
    /// Lowest price of the day.
    pub low: Decimal,
    /// Last price of the day.
    pub close: Decimal,
    /// Volume traded during the day.
    pub volume: Decimal,
}

/// A candle that broke a validation rule; names the instrument, the day and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid candle for {symbol} on {day}: {field} {problem}")]
pub struct CandleError {
    /// The instrument.
    pub symbol: Symbol,
    /// The candle's day.
    pub day: Day,
    /// The field at fault (`open`, `high`, `low`, `close`, `volume` or `day`).
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// One UTC day of an instrument's prices. Only [`Candle::new`] builds one, so every candle is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candle {
    symbol: Symbol,
    day: Day,
    open: Price,
    high: Price,
    low: Price,
    close: Price,
    volume: Volume,
    complete: bool,
    origin: CandleOrigin,
}

impl Candle {
    /// Validates and builds a candle.
    ///
    /// `today` is the current UTC day of the caller's clock: a candle may not be dated after it,
    /// and a candle for `today` itself cannot be complete because the day has not ended.
    ///
    /// # Errors
    /// [`CandleError`] when a price is not > 0, high is below max(open, close), low is above
    /// min(open, close), volume is negative, or the day is in the future.
    pub fn new(
        symbol: Symbol,
        day: Day,
        values: Ohlcv,
        complete: bool,
        origin: CandleOrigin,
        today: Day,
    ) -> Result<Self, CandleError> {
        let fail = |field: &'static str, problem: String| CandleError {
            symbol: symbol.clone(),
            day,
            field,
            problem,
        };
        if day > today {
            return Err(fail("day", format!("is after today ({today})")));
        }
        if complete && day == today {
            return Err(fail(
                "day",
                "is today, which has not ended: the candle cannot be complete".into(),
            ));
        }
        let Ohlcv {
            open,
            high,
            low,
            close,
            volume,
        } = values;
        for (field, value) in [
            ("open", open),
            ("high", high),
            ("low", low),
            ("close", close),
        ] {
            if value <= Decimal::ZERO {
                return Err(fail(field, format!("{value} is not greater than 0")));
            }
            if value > Decimal::from(MAX_PRICE) {
                return Err(fail(
                    field,
                    format!("{value} is above the largest price accepted ({MAX_PRICE})"),
                ));
            }
        }
        if high < open.max(close) {
            return Err(fail(
                "high",
                format!("{high} is below max(open {open}, close {close})"),
            ));
        }
        if low > open.min(close) {
            return Err(fail(
                "low",
                format!("{low} is above min(open {open}, close {close})"),
            ));
        }
        if volume < Decimal::ZERO {
            return Err(fail("volume", format!("{volume} is negative")));
        }
        if volume > Decimal::from(MAX_VOLUME) {
            return Err(fail(
                "volume",
                format!("{volume} is above the largest volume accepted ({MAX_VOLUME})"),
            ));
        }
        Ok(Self {
            symbol,
            day,
            open: Price(open.normalize()),
            high: Price(high.normalize()),
            low: Price(low.normalize()),
            close: Price(close.normalize()),
            volume: Volume(volume.normalize()),
            complete,
            origin,
        })
    }

    /// The instrument.
    pub fn symbol(&self) -> &Symbol {
        &self.symbol
    }
    /// The UTC day this candle covers.
    pub fn day(&self) -> Day {
        self.day
    }
    /// First price of the day.
    pub fn open(&self) -> Price {
        self.open
    }
    /// Highest price of the day.
    pub fn high(&self) -> Price {
        self.high
    }
    /// Lowest price of the day.
    pub fn low(&self) -> Price {
        self.low
    }
    /// Last price of the day (the latest price while the day is incomplete).
    pub fn close(&self) -> Price {
        self.close
    }
    /// Volume traded during the day.
    pub fn volume(&self) -> Volume {
        self.volume
    }
    /// Whether the day had ended when the candle was fetched; incomplete candles may change.
    pub fn is_complete(&self) -> bool {
        self.complete
    }
    /// Where the values came from.
    pub fn origin(&self) -> CandleOrigin {
        self.origin
    }
    /// The raw values.
    pub fn values(&self) -> Ohlcv {
        Ohlcv {
            open: self.open.0,
            high: self.high.0,
            low: self.low.0,
            close: self.close.0,
            volume: self.volume.0,
        }
    }

    /// Whether two candles carry the same market values (origin aside).
    pub fn same_values(&self, other: &Candle) -> bool {
        self.values() == other.values()
    }
}

/// The `f64` nearest to `value` (correctly rounded, as parsing its text with `str::parse` gives),
/// so prices converted from candles and prices parsed from stored text are the same bits.
pub fn decimal_to_f64(value: Decimal) -> f64 {
    // Powers of ten that are exact in f64.
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let mantissa = value.mantissa();
    let scale = value.scale() as usize;
    match POW10.get(scale) {
        // Both operands exact: IEEE division rounds the true quotient once, correctly.
        #[allow(clippy::cast_precision_loss)]
        Some(power) if mantissa.unsigned_abs() <= 1 << 53 => mantissa as f64 / power,
        _ => value.to_string().parse().unwrap_or(f64::NAN),
    }
}

/// Converts a JSON/float number to an exact decimal through its shortest round-trip text, so
/// `42261.0414372869` becomes exactly that decimal. `None` for NaN, infinities or out-of-range.
pub fn decimal_from_f64(value: f64) -> Option<Decimal> {
    if !value.is_finite() {
        return None;
    }
    Decimal::from_str(&value.to_string()).ok()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn day(text: &str) -> Day {
        text.parse().expect("valid date")
    }

    fn build(values: Ohlcv, d: &str, complete: bool) -> Result<Candle, CandleError> {
        Candle::new(
            Symbol::parse("BTC").expect("symbol"),
            day(d),
            values,
            complete,
            CandleOrigin::Sample,
            day("2024-01-10"),
        )
    }

    const GOOD: Ohlcv = Ohlcv {
        open: dec!(10),
        high: dec!(12),
        low: dec!(9),
        close: dec!(11),
        volume: dec!(100),
    };

    #[test]
    fn absurd_prices_and_volumes_are_refused_so_values_stay_computable() {
        let huge = Ohlcv {
            high: dec!(79228162514264337593543950335),
            ..GOOD
        };
        let error = build(huge, "2024-01-09", true).expect_err("huge high");
        assert!(error.to_string().contains("largest price"), "{error}");
        let busy = Ohlcv {
            volume: dec!(10000000000000000000000000),
            ..GOOD
        };
        let error = build(busy, "2024-01-09", true).expect_err("huge volume");
        assert!(error.to_string().contains("largest volume"), "{error}");
        let top = Ohlcv {
            open: Decimal::from(MAX_PRICE),
            high: Decimal::from(MAX_PRICE),
            low: dec!(1),
            close: dec!(1),
            volume: dec!(0),
        };
        assert!(build(top, "2024-01-09", true).is_ok());
    }

    #[test]
    fn a_consistent_candle_is_accepted() {
        let c = build(GOOD, "2024-01-09", true).expect("valid candle");
        assert_eq!(c.close(), Price(dec!(11)));
        assert!(c.is_complete());
    }

    #[test]
    fn each_broken_rule_names_the_field() {
        let cases: [(&str, Ohlcv, &str, bool, &str); 8] = [
            (
                "zero open",
                Ohlcv {
                    open: dec!(0),
                    ..GOOD
                },
                "2024-01-09",
                true,
                "open",
            ),
            (
                "negative close",
                Ohlcv {
                    close: dec!(-1),
                    ..GOOD
                },
                "2024-01-09",
                true,
                "close",
            ),
            (
                "high below close",
                Ohlcv {
                    high: dec!(10.5),
                    ..GOOD
                },
                "2024-01-09",
                true,
                "high",
            ),
            (
                "low above open",
                Ohlcv {
                    low: dec!(10.5),
                    ..GOOD
                },
                "2024-01-09",
                true,
                "low",
            ),
            (
                "negative volume",
                Ohlcv {
                    volume: dec!(-0.1),
                    ..GOOD
                },
                "2024-01-09",
                true,
                "volume",
            ),
            ("future day", GOOD, "2024-01-11", false, "day"),
            ("complete today", GOOD, "2024-01-10", true, "day"),
            (
                "zero low",
                Ohlcv {
                    low: dec!(0),
                    ..GOOD
                },
                "2024-01-09",
                true,
                "low",
            ),
        ];
        for (label, values, d, complete, field) in cases {
            let err = build(values, d, complete).expect_err(label);
            assert_eq!(err.field, field, "{label}");
            assert_eq!(err.day, day(d), "{label}");
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid candle for BTC on {d}: {field}")),
                "{label}: {err}"
            );
        }
    }

    #[test]
    fn an_incomplete_candle_for_today_is_accepted() {
        assert!(build(GOOD, "2024-01-10", false).is_ok());
    }

    #[test]
    fn zero_volume_is_valid() {
        assert!(
            build(
                Ohlcv {
                    volume: dec!(0),
                    ..GOOD
                },
                "2024-01-09",
                true
            )
            .is_ok()
        );
    }

    #[test]
    fn floats_convert_exactly_through_their_shortest_text() {
        assert_eq!(
            decimal_from_f64(42261.0414372869),
            Some(dec!(42261.0414372869))
        );
        assert_eq!(decimal_from_f64(0.1), Some(dec!(0.1)));
        assert_eq!(decimal_from_f64(1e-7), Some(dec!(0.0000001)));
        assert_eq!(decimal_from_f64(f64::NAN), None);
        for text in [
            "0.1",
            "42261.0414372869",
            "-3.3333333333333333333",
            "1e-7",
            "12345678901234567890.5",
            "0",
        ] {
            let decimal = Decimal::from_str(text)
                .or_else(|_| Decimal::from_scientific(text))
                .expect("decimal");
            assert_eq!(
                decimal_to_f64(decimal),
                text.parse::<f64>().expect("float"),
                "{text}"
            );
        }
        assert_eq!(decimal_from_f64(f64::INFINITY), None);
    }

    #[test]
    fn trailing_zeros_do_not_make_candles_differ() {
        let a = build(GOOD, "2024-01-09", true).expect("valid");
        let b = build(
            Ohlcv {
                open: dec!(10.000),
                ..GOOD
            },
            "2024-01-09",
            true,
        )
        .expect("valid");
        assert!(a.same_values(&b));
    }
}
