//! The configured data sources, one per kind, looked up by an instrument's source.

use std::sync::Arc;

use barter_core::SourceKind;
use barter_sources::{
    AlpacaBarsSource, BinanceSource, CoinGeckoSource, CsvSource, DataSource, SampleSource,
};

use crate::config::SourcesConfig;

/// A configured source, or why its settings could not make one (reported per instrument, so a
/// missing CoinGecko key does not stop the sync of sample or Binance instruments).
type Slot = Result<Arc<dyn DataSource>, String>;

/// One data source per [`SourceKind`].
#[derive(Clone)]
pub struct SourceSet {
    sample: Slot,
    coingecko: Slot,
    binance: Slot,
    alpaca: Slot,
    csv: Slot,
}

impl SourceSet {
    /// Builds every source from its settings; a source whose settings are unusable is kept as
    /// the error, returned by [`SourceSet::get`] for the instruments that need it.
    pub fn from_config(config: &SourcesConfig) -> Self {
        Self {
            sample: Ok(Arc::new(SampleSource::new(config.sample.clone()))),
            coingecko: CoinGeckoSource::new(config.coingecko.clone())
                .map(|s| Arc::new(s) as Arc<dyn DataSource>)
                .map_err(|e| e.to_string()),
            binance: BinanceSource::new(config.binance.clone())
                .map(|s| Arc::new(s) as Arc<dyn DataSource>)
                .map_err(|e| e.to_string()),
            alpaca: AlpacaBarsSource::new(config.alpaca.clone())
                .map(|s| Arc::new(s) as Arc<dyn DataSource>)
                .map_err(|e| e.to_string()),
            csv: Ok(Arc::new(CsvSource)),
        }
    }

    /// Replaces the source used for `kind` (tests and benchmarks plug fakes in here).
    pub fn with_source(mut self, kind: SourceKind, source: Arc<dyn DataSource>) -> Self {
        *self.slot(kind) = Ok(source);
        self
    }

    fn slot(&mut self, kind: SourceKind) -> &mut Slot {
        match kind {
            SourceKind::Sample => &mut self.sample,
            SourceKind::CoinGecko => &mut self.coingecko,
            SourceKind::Binance => &mut self.binance,
            SourceKind::Alpaca => &mut self.alpaca,
            SourceKind::Csv => &mut self.csv,
        }
    }

    /// The source serving `kind`.
    ///
    /// # Errors
    /// The configuration problem that kept the source from being built.
    pub fn get(&self, kind: SourceKind) -> anyhow::Result<&dyn DataSource> {
        let slot = match kind {
            SourceKind::Sample => &self.sample,
            SourceKind::CoinGecko => &self.coingecko,
            SourceKind::Binance => &self.binance,
            SourceKind::Alpaca => &self.alpaca,
            SourceKind::Csv => &self.csv,
        };
        slot.as_ref()
            .map(|s| s.as_ref())
            .map_err(|e| anyhow::anyhow!("{e}"))
    }
}
