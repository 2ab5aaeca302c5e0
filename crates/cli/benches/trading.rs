//! Trade + close for many instruments × strategies over years of daily history, from a generated
//! data set in a SQLite database: wall time and peak memory of the daily job.
//!
//! Run: `cargo bench -p barter-cli --bench trading` (optional:
//! `-- --instruments 2000 --days 1825 --repeat 3`). The data set is generated once per run (not
//! timed); each timed round runs in a fresh child process so its peak RSS is the job's own.
//! `--keep PATH` also copies the fresh data set to PATH; one day can then be profiled alone with
//! `BARTER_BENCH_TRADING_DB=PATH BARTER_BENCH_TRADING_DAY=2025-12-27 <bench binary>` (copy the
//! file first: a round changes it).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use barter_core::strategy::{InstrumentSelection, NumberText, StrategyConfig};
use barter_core::{Calendar, Candle, CandleOrigin, Day, Instrument, Ohlcv, SourceKind, Symbol};
use barter_service::config::Config;
use barter_service::jobs::Unobserved;
use barter_service::trading::{
    MarketCache, Trading, sync_close_positions_with, sync_new_trades_with,
};
use barter_store::Store;
use chrono::{Days, NaiveTime};
use rust_decimal::Decimal;

mod support;

use support::arg;

fn strategy(name: &str, entry: &str, exit: &str) -> StrategyConfig {
    StrategyConfig {
        name: name.into(),
        instruments: InstrumentSelection::default(),
        entry: entry.into(),
        exit: Some(exit.into()),
        stop_loss: Some(NumberText::Text("8%".into())),
        take_profit: None,
        trailing_stop: Some(NumberText::Text("15%".into())),
        max_holding_days: Some(60),
        size: Some(NumberText::Text("1000".into())),
        max_open_positions: None,
        enabled: true,
        params: Default::default(),
        account: None,
    }
}

fn config() -> Config {
    let mut config = Config::default();
    config.account.initial_cash = Decimal::from(1_000_000_000);
    config.strategies = vec![
        strategy(
            "sma-cross",
            "crosses_above(sma(close, 20), sma(close, 50))",
            "crosses_below(sma(close, 20), sma(close, 50))",
        ),
        strategy("rsi", "rsi(close, 14) < 35", "rsi(close, 14) > 60"),
        strategy(
            "bollinger",
            "close < bollinger(close, 20, 2).lower",
            "close > bollinger(close, 20, 2).middle",
        ),
        strategy(
            "macd",
            "crosses_above(macd(close, 12, 26, 9).line, macd(close, 12, 26, 9).signal)",
            "crosses_below(macd(close, 12, 26, 9).line, macd(close, 12, 26, 9).signal)",
        ),
        strategy(
            "momentum",
            "roc(close, 20) > 10% and close > ema(close, 100)",
            "roc(close, 20) < 0",
        ),
    ];
    config
}

fn history(symbol: &Symbol, first: Day, days: u64, seed: u64) -> Vec<Candle> {
    let mut price = Decimal::new(5_000 + (seed as i64 % 700) * 13, 2);
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..days)
        .map(|i| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let step = Decimal::new(((state >> 33) % 801) as i64 - 400, 4);
            let open = price;
            let close = (open * (Decimal::ONE + step))
                .round_dp(4)
                .max(Decimal::new(1, 2));
            price = close;
            let values = Ohlcv {
                open,
                high: (open.max(close) * Decimal::new(1012, 3)).round_dp(4),
                low: (open.min(close) * Decimal::new(988, 3)).round_dp(4),
                close,
                volume: Decimal::new(1_000_000 + i as i64, 2),
            };
            Candle::new(
                symbol.clone(),
                first + Days::new(i),
                values,
                true,
                CandleOrigin::BinanceKlines,
                Day::MAX,
            )
            .expect("valid")
        })
        .collect()
}

async fn generate(path: &Path, instruments: u64, days: u64, first: Day) {
    let store = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("store");
    for i in 0..instruments {
        let symbol = Symbol::parse(&format!("S{i:05}")).expect("symbol");
        let instrument = Instrument::new(
            symbol.clone(),
            "",
            "USD",
            SourceKind::Binance,
            format!("S{i}USDT"),
            Calendar::Continuous,
        )
        .expect("instrument");
        store.add_instrument(&instrument).await.expect("add");
        store
            .write_candles(&symbol, &history(&symbol, first, days, i))
            .await
            .expect("write");
    }
    // Closed, so the whole data set is in the main file (checkpointed) for `--keep` to copy.
    store.close().await;
}

/// The child process: one daily job (trade, then close) on `day`, printing its timings.
async fn measure(path: &Path, now: chrono::DateTime<chrono::Utc>) {
    let store = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("store");
    let known: Vec<Symbol> = store
        .instruments()
        .await
        .expect("instruments")
        .into_iter()
        .map(|i| i.symbol)
        .collect();
    let trading = Trading::from_config(&config(), &known).expect("strategies");
    // As `barter run` does after its sync: both jobs share one market cache.
    let mut market = MarketCache::across_jobs();
    let started = Instant::now();
    let trade = sync_new_trades_with(&store, &trading, now, &mut market, &Unobserved)
        .await
        .expect("trade");
    let trade_time = started.elapsed();
    let close = sync_close_positions_with(&store, &trading, now, &mut market, &Unobserved)
        .await
        .expect("close");
    let total = started.elapsed();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: ? kB")
        .to_owned();
    println!(
        "RESULT trade_ms={} close_ms={} total_ms={} {} trade_counts={:?} close_counts={:?}",
        trade_time.as_millis(),
        (total - trade_time).as_millis(),
        total.as_millis(),
        hwm.split_whitespace().collect::<Vec<_>>().join(" "),
        trade.counts,
        close.counts
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let at = |day: Day| (day + Days::new(1)).and_time(NaiveTime::MIN).and_utc();
    if let Ok(path) = std::env::var("BARTER_BENCH_TRADING_DB") {
        let day: Day = std::env::var("BARTER_BENCH_TRADING_DAY")
            .expect("day")
            .parse()
            .expect("day");
        runtime.block_on(measure(Path::new(&path), at(day)));
        return;
    }
    let instruments = arg("--instruments", 2000);
    let days = arg("--days", 1825);
    let repeat = arg("--repeat", 3).max(1);
    let first: Day = "2021-01-01".parse().expect("day");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("trading.db");
    let started = Instant::now();
    runtime.block_on(generate(&db, instruments, days, first));
    eprintln!(
        "generated {instruments} x {days} candles in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    // `--keep PATH` copies the generated data set out for profiling single days (see the header).
    if let Some(keep) = std::env::args().skip_while(|a| a != "--keep").nth(1) {
        std::fs::copy(&db, &keep).expect("copy the data set");
    }
    let last = first + Days::new(days - 1);
    let exe = std::env::current_exe().expect("exe");
    let mut totals = Vec::new();
    let mut peaks = Vec::new();
    // Day by day, so that later days also have positions to close; each day in its own process.
    for round in 0..repeat + 1 {
        let day = last - Days::new(repeat - round);
        let out = Command::new(&exe)
            .env("BARTER_BENCH_TRADING_DB", &db)
            .env("BARTER_BENCH_TRADING_DAY", day.to_string())
            .output()
            .expect("child runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text
            .lines()
            .find(|l| l.starts_with("RESULT"))
            .unwrap_or_else(|| panic!("child failed: {}", String::from_utf8_lossy(&out.stderr)))
            .to_owned();
        println!("{day}: {line}");
        if round == 0 {
            continue; // the first day only opens the positions later days close
        }
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        totals.push(Duration::from_millis(field("total_ms=")));
        let hwm = line
            .split("VmHWM: ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        peaks.push(hwm);
    }
    totals.sort();
    peaks.sort_unstable();
    println!(
        "trade + close, {instruments} instruments x 5 strategies x {days} days: median {:.2} s, peak RSS median {} MB (of {} rounds)",
        totals[totals.len() / 2].as_secs_f64(),
        peaks[peaks.len() / 2] / 1024,
        totals.len()
    );
}
