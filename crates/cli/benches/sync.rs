//! Sync throughput: 1,000 instruments × 3 years from an in-process fake source into SQLite and
//! (when `BARTER_TEST_POSTGRES_URL` or `BARTER_BENCH_POSTGRES_URL` is set) PostgreSQL, then a
//! second sync with nothing new. Prints medians over several fresh databases.
//!
//! Run: `cargo bench -p barter-cli --bench sync` (optional: `-- --instruments 1000 --days 1095 --repeat 5`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use barter_core::{Calendar, Candle, CandleOrigin, Day, Instrument, Ohlcv, SourceKind, Symbol};
use barter_service::sync::{NoProgress, SyncOptions, sync_data};
use barter_service::{Config, SourceSet};
use barter_sources::{DataSource, FetchRequest, SourceError};
use barter_store::Store;
use chrono::{DateTime, Days, TimeZone, Utc};
use rust_decimal::Decimal;

mod support;

use support::arg;

/// Serves pre-built candles, so the measurement is the job and the store, not candle generation.
struct FakeSource {
    histories: Vec<Vec<Candle>>,
}

#[async_trait]
impl DataSource for FakeSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Binance
    }

    async fn fetch_daily(
        &self,
        instrument: &Instrument,
        request: &FetchRequest,
    ) -> Result<Vec<Candle>, SourceError> {
        let index: usize = instrument.source_id.parse().unwrap_or(0);
        let history = &self.histories[index];
        let start = request
            .from
            .map_or(0, |from| history.partition_point(|c| c.day() < from));
        Ok(history[start..].to_vec())
    }
}

fn history(symbol: &Symbol, first: Day, days: u64, seed: u64, today: Day) -> Vec<Candle> {
    let mut price = Decimal::new(10_000 + (seed as i64 % 500) * 37, 2);
    (0..days)
        .map(|i| {
            let step = Decimal::new(((i * 7919 + seed * 31) % 401) as i64 - 200, 4);
            let open = price;
            let close = (open * (Decimal::ONE + step)).round_dp(6);
            price = close;
            let values = Ohlcv {
                open,
                high: open.max(close) * Decimal::new(1015, 3),
                low: open.min(close) * Decimal::new(985, 3),
                close,
                volume: Decimal::new(123_456 + i as i64, 3),
            };
            let day = first + Days::new(i);
            Candle::new(
                symbol.clone(),
                day,
                values,
                true,
                CandleOrigin::BinanceKlines,
                today,
            )
            .expect("valid fake candle")
        })
        .collect()
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Where a round's fresh database lives.
enum Backend {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite (file, WAL)",
            Self::Postgres(_) => "postgres (local)",
        }
    }

    async fn open(&self, round: usize) -> Store {
        match self {
            Self::Sqlite(dir) => {
                let path = dir.join(format!("bench-{round}.db"));
                Store::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .expect("sqlite")
            }
            Self::Postgres(url) => {
                let schema = format!("barter_bench_{}_{round}", std::process::id());
                Store::connect_postgres_in_schema(url, &schema)
                    .await
                    .expect("postgres")
            }
        }
    }
}

async fn one_round(
    store: &Store,
    sources: &SourceSet,
    instruments: &[Instrument],
    now: DateTime<Utc>,
) -> (Duration, Duration, u64) {
    for instrument in instruments {
        store.add_instrument(instrument).await.expect("register");
    }
    let options = SyncOptions::default();
    let started = Instant::now();
    let run = sync_data(store, sources, &options, now, &NoProgress)
        .await
        .expect("first sync");
    let first = started.elapsed();
    let added = run.counts.get("candles_added").copied().unwrap_or(0);
    assert_eq!(run.counts.get("failed"), Some(&0), "{:?}", run.errors);
    let started = Instant::now();
    let again = sync_data(store, sources, &options, now, &NoProgress)
        .await
        .expect("second sync");
    let second = started.elapsed();
    assert_eq!(again.counts.get("candles_added"), Some(&0));
    (first, second, added)
}

fn main() {
    let n_instruments = arg("--instruments", 1000) as usize;
    let days = arg("--days", 1095);
    let repeat = arg("--repeat", 3).max(1) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let now = Utc
        .with_ymd_and_hms(2026, 1, 10, 12, 0, 0)
        .single()
        .expect("time");
    let first_day: Day = "2023-01-01".parse().expect("date");

    let instruments: Vec<Instrument> = (0..n_instruments)
        .map(|i| {
            let symbol = Symbol::parse(&format!("I{i:05}")).expect("symbol");
            Instrument::new(
                symbol,
                "",
                "USD",
                SourceKind::Binance,
                i.to_string(),
                Calendar::Continuous,
            )
            .expect("instrument")
        })
        .collect();
    let histories = instruments
        .iter()
        .enumerate()
        .map(|(i, inst)| history(&inst.symbol, first_day, days, i as u64, now.date_naive()))
        .collect();
    let sources = SourceSet::from_config(&Config::default().sources)
        .with_source(SourceKind::Binance, Arc::new(FakeSource { histories }));

    let dir = tempfile::tempdir().expect("tempdir");
    let mut backends = vec![Backend::Sqlite(dir.path().to_owned())];
    match std::env::var("BARTER_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("BARTER_TEST_POSTGRES_URL"))
    {
        Ok(url) => backends.push(Backend::Postgres(url)),
        Err(_) => eprintln!(
            "SKIPPED postgres: set BARTER_TEST_POSTGRES_URL or BARTER_BENCH_POSTGRES_URL to include it"
        ),
    }

    println!("sync benchmark: {n_instruments} instruments x {days} days, median of {repeat}");
    println!("| backend | candles | first sync (median) | candles/s | no-op re-sync (median) |");
    println!("|---|---|---|---|---|");
    for backend in &backends {
        let mut firsts = Vec::new();
        let mut seconds = Vec::new();
        let mut added = 0;
        for round in 0..repeat {
            let store = runtime.block_on(backend.open(round));
            let (first, second, n) =
                runtime.block_on(one_round(&store, &sources, &instruments, now));
            firsts.push(first);
            seconds.push(second);
            added = n;
            if store.schema().is_some() {
                runtime
                    .block_on(store.drop_schema())
                    .expect("drop bench schema");
            }
        }
        let first = median(firsts);
        let second = median(seconds);
        println!(
            "| {} | {added} | {:.2} s | {:.0} | {:.3} s |",
            backend.name(),
            first.as_secs_f64(),
            added as f64 / first.as_secs_f64(),
            second.as_secs_f64()
        );
    }
}
