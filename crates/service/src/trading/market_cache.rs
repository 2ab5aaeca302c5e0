//! What the trading jobs have loaded of the market, and the background reader that loads it
//! a few instruments ahead of the job.

use std::collections::HashMap;

use barter_core::rule::{IndicatorCache, SeriesSet};
use barter_core::strategy::{DataNeeds, Strategy};
use barter_core::{Day, MarketData, SeriesHistory, Symbol};
use barter_store::{Store, StoreError};
use futures_util::StreamExt;

/// Candles and indicator series the trading jobs have loaded.
///
/// A job loads of each instrument only what its strategies read ([`DataNeeds`]): the f64
/// series their rules use over the whole history, and exact candles from the decision day (or
/// the oldest open position's entry day) on. A job on its own ([`MarketCache::per_job`]) keeps
/// only the instrument it is deciding on plus the instruments rules refer to, so memory stays
/// bounded by a few histories. A daily run (trade, then close) and a replay
/// ([`MarketCache::across_jobs`]) keep every loaded history from one job and day to the next —
/// every decision still goes through a view capped at its own day — and drop an instrument
/// whenever a sync changed its candles. Indicator series are dropped after each instrument
/// either way: they are several times larger than the prices they come from.
pub struct MarketCache {
    pub(super) data: MarketData,
    /// What each held history covers: its series and the first exact day (`None`: all).
    loaded: HashMap<Symbol, (SeriesSet, Option<Day>)>,
    pub(super) indicators: IndicatorCache,
    keep_all: bool,
}

impl MarketCache {
    /// A cache for one job run.
    pub fn per_job() -> Self {
        Self {
            data: MarketData::new(),
            loaded: HashMap::new(),
            indicators: IndicatorCache::new(),
            keep_all: false,
        }
    }

    /// A cache kept across jobs: trade then close on one day, or the days of a replay.
    pub fn across_jobs() -> Self {
        Self {
            keep_all: true,
            ..Self::per_job()
        }
    }

    /// Forgets `symbols` (their candles changed) and every indicator series.
    pub fn invalidate<'a>(&mut self, symbols: impl IntoIterator<Item = &'a Symbol>) {
        let mut any = false;
        for symbol in symbols {
            any = true;
            self.data.retain(|s| s != symbol);
            self.loaded.remove(symbol);
        }
        if any {
            self.indicators.clear();
        }
    }

    /// Makes sure `symbol`'s history covers `needs`, with exact candles from `exact_from` on
    /// unless the needs ask for all of them.
    pub(super) async fn load(
        &mut self,
        store: &Store,
        symbol: &Symbol,
        needs: DataNeeds,
        exact_from: Day,
    ) -> anyhow::Result<()> {
        let Some((series, from)) = self.missing(symbol, needs, exact_from) else {
            return Ok(());
        };
        let history = store.series_history(symbol, series, from).await?;
        self.install(symbol, series, from, history)
    }

    /// Before moving to the next instrument: drops the indicator series, and in a per-job
    /// cache every history but `keep`'s.
    pub(super) fn next_instrument(&mut self, keep: &[Symbol]) {
        self.indicators.clear();
        if !self.keep_all {
            self.data.retain(|s| keep.contains(s));
            self.loaded.retain(|s, _| keep.contains(s));
        }
    }

    /// What a load of `symbol` would read: `None` when the cache already covers `needs` with
    /// exact candles from `exact_from`, else the series and the first exact day (`None`: all).
    fn missing(
        &self,
        symbol: &Symbol,
        needs: DataNeeds,
        exact_from: Day,
    ) -> Option<(SeriesSet, Option<Day>)> {
        let from = (!needs.all_candles).then_some(exact_from);
        if let Some((series, held_from)) = self.loaded.get(symbol) {
            let exact_covered = match (held_from, from) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(held), Some(wanted)) => *held <= wanted,
            };
            if series.covers(needs.series) && exact_covered {
                return None;
            }
        }
        Some((needs.series, from))
    }

    /// Starts reading, in a background task and a few instruments ahead, the histories that
    /// `plan` (the job's loads, in order) will need and the cache does not hold: reading the
    /// next instruments overlaps with deciding and recording the current one.
    pub(super) fn prefetch(&self, store: &Store, plan: Vec<(Symbol, DataNeeds, Day)>) -> Prefetch {
        let requests: Vec<(Symbol, SeriesSet, Option<Day>)> = plan
            .into_iter()
            .filter_map(|(symbol, needs, from)| {
                let (series, from) = self.missing(&symbol, needs, from)?;
                Some((symbol, series, from))
            })
            .collect();
        let (sender, receiver) = tokio::sync::mpsc::channel(PREFETCH_AHEAD);
        let store = store.clone();
        let task = tokio::spawn(async move {
            // Each read in its own task, a few at once: the database work of one overlaps
            // with parsing another, on both cores.
            let mut reads = futures_util::stream::iter(requests)
                .map(|(symbol, series, from)| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        let history = store.series_history(&symbol, series, from).await;
                        (symbol, series, from, history)
                    })
                })
                .buffered(PARALLEL_READS);
            while let Some(read) = reads.next().await {
                let Ok(read) = read else {
                    return; // a read panicked: the job reads what is missing itself
                };
                if sender.send(read).await.is_err() {
                    return; // the job stopped early
                }
            }
        });
        Prefetch {
            receiver,
            next: None,
            task,
        }
    }

    /// [`MarketCache::load`], taking the history from `prefetch` when it read this one.
    pub(super) async fn load_prefetched(
        &mut self,
        prefetch: &mut Prefetch,
        store: &Store,
        symbol: &Symbol,
        needs: DataNeeds,
        exact_from: Day,
    ) -> anyhow::Result<()> {
        let Some((series, from)) = self.missing(symbol, needs, exact_from) else {
            return Ok(());
        };
        if prefetch.next.is_none() {
            prefetch.next = prefetch.receiver.recv().await;
        }
        match prefetch.next.take() {
            Some((read, read_series, read_from, history))
                if &read == symbol && read_series == series && read_from == from =>
            {
                self.install(symbol, series, from, history?)
            }
            other => {
                prefetch.next = other;
                self.load(store, symbol, needs, exact_from).await
            }
        }
    }

    fn install(
        &mut self,
        symbol: &Symbol,
        series: SeriesSet,
        from: Option<Day>,
        history: SeriesHistory,
    ) -> anyhow::Result<()> {
        self.data.insert_series(symbol.clone(), history)?;
        let series = if from.is_none() {
            SeriesSet::ALL
        } else {
            series
        };
        self.loaded.insert(symbol.clone(), (series, from));
        Ok(())
    }
}

/// How many histories the background reader keeps ready ahead of the job.
const PREFETCH_AHEAD: usize = 4;
/// How many histories it reads at once.
const PARALLEL_READS: usize = 2;

/// One history read ahead: the symbol, what was read, and the result.
type Prefetched = (
    Symbol,
    SeriesSet,
    Option<Day>,
    Result<SeriesHistory, StoreError>,
);

/// Histories read ahead by [`MarketCache::prefetch`]; dropping it stops the reader.
pub(super) struct Prefetch {
    receiver: tokio::sync::mpsc::Receiver<Prefetched>,
    /// A history received but not asked for yet.
    next: Option<Prefetched>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the strategies read of an instrument together.
pub(super) fn needs_of<'a>(strategies: impl IntoIterator<Item = &'a dyn Strategy>) -> DataNeeds {
    strategies.into_iter().fold(
        DataNeeds {
            series: SeriesSet::NONE,
            all_candles: false,
        },
        |needs, s| needs.union(s.data_needs()),
    )
}
