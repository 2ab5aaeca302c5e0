//! Registering an instrument: the fields `barter instruments add`, `POST /api/instruments` and
//! the dashboard's form all give, checked into a [`barter_core::Instrument`] without network.

use std::path::PathBuf;

use anyhow::Context;
use barter_core::{Calendar, Instrument, SourceKind, Symbol};
use barter_sources::SampleSource;

use crate::data_files::CsvAccess;

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

fn usd() -> String {
    "USD".to_owned()
}

impl NewInstrument {
    /// Builds the instrument, checking what can be checked offline.
    ///
    /// # Errors
    /// A sample id the bundle lacks, a CSV source without a path or with a file `csv` does not
    /// allow, or an invalid instrument.
    pub fn build(&self, csv: CsvAccess<'_>) -> anyhow::Result<Instrument> {
        let symbol = self.symbol.clone();
        let sample = match self.source {
            SourceKind::Sample => {
                let id = self.source_id.clone().unwrap_or_else(|| symbol.to_string());
                Some(SampleSource::series(&id).with_context(|| {
                    format!("the bundled sample has no `{id}`; it has BTC, ETH, SOL, XRP, ADA, DOGE, LTC, BNB, SPY")
                })?)
            }
            _ => None,
        };
        let source_id = match (self.source, &self.path, &self.source_id) {
            (SourceKind::Csv, Some(path), _) => path.display().to_string(),
            (SourceKind::Csv, None, Some(id)) => id.clone(),
            (SourceKind::Csv, None, None) => anyhow::bail!("--source csv needs --path FILE"),
            (_, Some(_), _) => anyhow::bail!("--path is only for --source csv"),
            (SourceKind::Sample, None, _) => {
                sample.map(|s| s.symbol.to_owned()).unwrap_or_default()
            }
            (_, None, Some(id)) => id.clone(),
            // A stock's ticker is its Alpaca id, so `instruments add SPY --source alpaca` works.
            (SourceKind::Alpaca, None, None) => symbol.to_string(),
            (kind, None, None) => anyhow::bail!(
                "--source {kind} needs --source-id (e.g. {})",
                if kind == SourceKind::CoinGecko {
                    "`bitcoin`"
                } else {
                    "`BTCUSDT`"
                }
            ),
        };
        let source_id = if self.source == SourceKind::Csv {
            crate::data_files::csv_file(&source_id, csv).map_err(anyhow::Error::msg)?
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
