//! Registering an instrument: the fields `barter instruments add`, `POST /api/instruments` and
//! the dashboard's form all give, checked into a [`barter_core::Instrument`] without network.

use std::path::PathBuf;

use barter_core::{Calendar, Instrument, SourceKind, Symbol};
use barter_sources::SampleSource;

use crate::data_files::{CsvAccess, CsvRefusal};

/// A request to register an instrument (the body of `POST /api/instruments`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInstrument {
    /// Unique symbol, e.g. BTC.
    pub symbol: Symbol,
    /// Where its candles come from: sample, coingecko, binance, alpaca or csv.
    pub source: SourceKind,
    /// The source's id: CoinGecko `bitcoin`, Binance `BTCUSDT`, Alpaca `SPY`, sample `BTC`
    /// (default for sample and alpaca: the symbol).
    pub source_id: Option<String>,
    /// The CSV file, for a `csv` source.
    pub path: Option<PathBuf>,
    /// Human-readable name (default: the symbol, or the sample's name).
    pub name: Option<String>,
    /// Quote currency.
    #[serde(default = "usd")]
    pub quote: String,
    /// Trading calendar: continuous (every day), weekdays (Monday to Friday) or xnys (New York
    /// Stock Exchange trading days) (default: the sample's own, xnys for alpaca, otherwise
    /// continuous).
    pub calendar: Option<Calendar>,
}

/// Why [`NewInstrument::build`] refused an instrument.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// A field is missing, wrong, or not for this source.
    #[error("{0}")]
    Invalid(String),
    /// The bundled sample has no series of that id.
    #[error("{0}")]
    NoSample(String),
    /// The CSV file may not be used.
    #[error(transparent)]
    Csv(#[from] CsvRefusal),
    /// The instrument itself is invalid (an empty source id, a bad quote currency).
    #[error(transparent)]
    Instrument(#[from] barter_core::InstrumentError),
}

/// The ids of the bundled sample's series (matched case-insensitively), in the bundle's order.
pub fn sample_ids() -> impl Iterator<Item = &'static str> {
    barter_sources::sample::SERIES.iter().map(|s| s.symbol)
}

/// The quote currency of an instrument registered without one.
pub const DEFAULT_QUOTE: &str = "USD";

fn usd() -> String {
    DEFAULT_QUOTE.to_owned()
}

impl NewInstrument {
    /// Builds the instrument, checking what can be checked offline.
    ///
    /// # Errors
    /// [`RegisterError`]: a sample id the bundle lacks, a CSV source without a path or with a
    /// file `csv` does not allow, or an invalid instrument.
    pub fn build(&self, csv: CsvAccess<'_>) -> Result<Instrument, RegisterError> {
        let symbol = self.symbol.clone();
        let invalid = |message: String| RegisterError::Invalid(message);
        let sample = match self.source {
            SourceKind::Sample => {
                let id = self.source_id.clone().unwrap_or_else(|| symbol.to_string());
                let ids: Vec<&str> = sample_ids().collect();
                Some(SampleSource::series(&id).ok_or_else(|| {
                    let shown = barter_sources::excerpt::excerpt_max(&id, 40);
                    RegisterError::NoSample(format!(
                        "the bundled sample has no `{shown}`; it has {}",
                        ids.join(", ")
                    ))
                })?)
            }
            _ => None,
        };
        let source_id = match (self.source, &self.path, &self.source_id) {
            (SourceKind::Csv, Some(path), _) => path.display().to_string(),
            (SourceKind::Csv, None, Some(id)) => id.clone(),
            (SourceKind::Csv, None, None) => {
                return Err(invalid("--source csv needs --path FILE".to_owned()));
            }
            (_, Some(_), _) => return Err(invalid("--path is only for --source csv".to_owned())),
            (SourceKind::Sample, None, _) => {
                sample.map(|s| s.symbol.to_owned()).unwrap_or_default()
            }
            (_, None, Some(id)) => id.clone(),
            // A stock's ticker is its Alpaca id, so `instruments add SPY --source alpaca` works.
            (SourceKind::Alpaca, None, None) => symbol.to_string(),
            (kind, None, None) => {
                return Err(invalid(format!(
                    "--source {kind} needs --source-id (e.g. {})",
                    if kind == SourceKind::CoinGecko {
                        "`bitcoin`"
                    } else {
                        "`BTCUSDT`"
                    }
                )));
            }
        };
        let source_id = if self.source == SourceKind::Csv {
            crate::data_files::csv_file(&source_id, csv)?
        } else {
            source_id
        };
        let name = self
            .name
            .clone()
            .or_else(|| sample.map(|s| s.name.to_owned()))
            .unwrap_or_default();
        let calendar = self.calendar.or(sample.map(|s| s.calendar)).unwrap_or(
            if self.source == SourceKind::Alpaca {
                // Alpaca serves US stocks and ETFs, which trade on the NYSE's days.
                Calendar::Xnys
            } else {
                Calendar::Continuous
            },
        );
        Ok(Instrument::new(
            symbol,
            name,
            &self.quote,
            self.source,
            source_id,
            calendar,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alpaca(symbol: &str, source_id: Option<&str>, calendar: Option<Calendar>) -> NewInstrument {
        NewInstrument {
            symbol: Symbol::parse(symbol).expect("valid symbol"),
            source: SourceKind::Alpaca,
            source_id: source_id.map(str::to_owned),
            path: None,
            name: None,
            quote: usd(),
            calendar,
        }
    }

    #[test]
    fn an_alpaca_instrument_defaults_to_its_ticker_and_xnys() {
        let spy = alpaca("SPY", None, None)
            .build(CsvAccess::AnyRegularFile)
            .expect("valid");
        assert_eq!(spy.source, SourceKind::Alpaca);
        assert_eq!(spy.source_id, "SPY");
        assert_eq!(spy.calendar, Calendar::Xnys);
        let brk = alpaca("BRKB", Some("BRK.B"), Some(Calendar::Continuous))
            .build(CsvAccess::AnyRegularFile)
            .expect("valid");
        assert_eq!(brk.source_id, "BRK.B");
        assert_eq!(brk.calendar, Calendar::Continuous);
    }
}
