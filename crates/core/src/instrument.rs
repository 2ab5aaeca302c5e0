//! A registered instrument: what it is, where its candles come from, and when it trades.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::symbol::Symbol;

/// What a quote currency may be, as a regular expression: 2 to 10 ASCII letters or digits
/// (case-insensitive, stored upper-case). [`is_quote_currency`] is the same rule in code; a
/// test holds the two together.
pub const QUOTE_PATTERN: &str = "^[A-Za-z0-9]{2,10}$";

/// Whether `quote` is a quote currency exactly as written (see [`QUOTE_PATTERN`]).
pub fn is_quote_currency(quote: &str) -> bool {
    (2..=10).contains(&quote.len()) && quote.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The kinds of market-data source Barter can sync candles from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// The offline history bundled into the binary.
    Sample,
    /// CoinGecko's API v3 (Demo/keyless or Pro plan).
    CoinGecko,
    /// Binance's public spot klines.
    Binance,
    /// Alpaca's daily stock and ETF bars (market data API, key pair from the environment).
    Alpaca,
    /// A CSV file on disk, one per instrument.
    Csv,
}

impl SourceKind {
    /// Every source kind, in the order they are documented.
    pub const ALL: [SourceKind; 5] = [
        Self::Sample,
        Self::CoinGecko,
        Self::Binance,
        Self::Alpaca,
        Self::Csv,
    ];

    /// The name used in config, CLI, database and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sample => "sample",
            Self::CoinGecko => "coingecko",
            Self::Binance => "binance",
            Self::Alpaca => "alpaca",
            Self::Csv => "csv",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceKind {
    type Err = InstrumentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| InstrumentError::UnknownSource(s.to_owned()))
    }
}

/// Why an instrument definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstrumentError {
    /// The source kind is not one Barter knows.
    #[error("unknown data source `{0}`: expected one of sample, coingecko, binance, alpaca, csv")]
    UnknownSource(String),
    /// The calendar name is not one Barter knows.
    #[error(transparent)]
    UnknownCalendar(#[from] crate::calendar::UnknownCalendar),
    /// The source id was empty.
    #[error(
        "instrument {0}: the source id is empty (e.g. `bitcoin` for CoinGecko, `BTCUSDT` for Binance, `SPY` for Alpaca, a file path for csv)"
    )]
    EmptySourceId(Symbol),
    /// The quote currency was not 2–10 letters/digits.
    #[error(
        "instrument {symbol}: quote currency `{quote}` must be 2–10 letters or digits such as USD"
    )]
    BadQuoteCurrency {
        /// The instrument.
        symbol: Symbol,
        /// The refused text.
        quote: String,
    },
}

/// An instrument registered for daily candle sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    /// Unique symbol, e.g. `BTC`.
    pub symbol: Symbol,
    /// Human-readable name, e.g. `Bitcoin`.
    pub name: String,
    /// Currency prices are quoted in, upper-case (e.g. `USD`).
    pub quote_currency: String,
    /// Which source the candles come from.
    pub source: SourceKind,
    /// The source's own id: CoinGecko `bitcoin`, Binance `BTCUSDT`, Alpaca `SPY`, sample `BTC`, csv a
    /// file path.
    pub source_id: String,
    /// Which days the instrument trades on (used for gap detection).
    pub calendar: Calendar,
    /// Inactive instruments are kept with their candles but skipped by sync.
    pub active: bool,
}

impl Instrument {
    /// Builds an instrument, checking the parts a symbol cannot check.
    ///
    /// # Errors
    /// [`InstrumentError`] for an empty source id or a malformed quote currency.
    pub fn new(
        symbol: Symbol,
        name: impl Into<String>,
        quote_currency: &str,
        source: SourceKind,
        source_id: impl Into<String>,
        calendar: Calendar,
    ) -> Result<Self, InstrumentError> {
        let source_id = source_id.into().trim().to_owned();
        if source_id.is_empty() {
            return Err(InstrumentError::EmptySourceId(symbol));
        }
        let quote = quote_currency.trim();
        if !is_quote_currency(quote) {
            return Err(InstrumentError::BadQuoteCurrency {
                symbol,
                quote: quote_currency.to_owned(),
            });
        }
        let name = name.into();
        let name = if name.trim().is_empty() {
            symbol.to_string()
        } else {
            name.trim().to_owned()
        };
        Ok(Self {
            symbol,
            name,
            quote_currency: quote.to_ascii_uppercase(),
            source,
            source_id,
            calendar,
            active: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quote_pattern_is_the_rule_in_code() {
        assert_eq!(QUOTE_PATTERN, "^[A-Za-z0-9]{2,10}$");
        for c in (0u8..128).map(char::from) {
            let alnum = c.is_ascii_alphanumeric();
            assert_eq!(is_quote_currency(&format!("U{c}")), alnum, "{c:?}");
        }
        assert!(!is_quote_currency("U") && is_quote_currency(&"U".repeat(10)));
        assert!(!is_quote_currency(&"U".repeat(11)) && !is_quote_currency("ÜSD"));
    }

    fn btc() -> Symbol {
        Symbol::parse("BTC").expect("valid symbol")
    }

    #[test]
    fn source_kinds_round_trip_through_their_names() {
        for kind in SourceKind::ALL {
            assert_eq!(kind.as_str().parse::<SourceKind>(), Ok(kind));
        }
        // The name is the database's and the API's too: serde must agree with `as_str`.
        assert_eq!(" Alpaca ".parse::<SourceKind>(), Ok(SourceKind::Alpaca));
        assert_eq!(
            serde_json::to_string(&SourceKind::Alpaca).ok().as_deref(),
            Some("\"alpaca\"")
        );
        assert!(matches!(
            "yahoo".parse::<SourceKind>(),
            Err(InstrumentError::UnknownSource(_))
        ));
    }

    #[test]
    fn an_instrument_normalises_quote_and_defaults_its_name_to_the_symbol() {
        let i = Instrument::new(
            btc(),
            " ",
            "usd",
            SourceKind::CoinGecko,
            "bitcoin",
            Calendar::Continuous,
        )
        .expect("valid");
        assert_eq!(i.name, "BTC");
        assert_eq!(i.quote_currency, "USD");
        assert!(i.active);
    }

    #[test]
    fn an_instrument_without_source_id_or_with_a_bad_quote_is_refused() {
        let empty = Instrument::new(
            btc(),
            "",
            "USD",
            SourceKind::Binance,
            "  ",
            Calendar::Continuous,
        );
        assert_eq!(empty, Err(InstrumentError::EmptySourceId(btc())));
        let quote = Instrument::new(
            btc(),
            "",
            "US$",
            SourceKind::Binance,
            "BTCUSDT",
            Calendar::Continuous,
        );
        assert!(matches!(
            quote,
            Err(InstrumentError::BadQuoteCurrency { .. })
        ));
    }
}
