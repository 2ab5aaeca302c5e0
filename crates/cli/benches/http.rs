//! `barter serve` under load: throughput and latency of `GET /api/positions` (1,000 positions)
//! and `GET /api/instruments/{symbol}/candles` (3 years), at 64 concurrent connections with
//! `wrk`, and the server's idle memory.
//!
//! Run: `cargo bench -p barter-cli --bench http` (needs `wrk`: `apt-get install wrk`; optional
//! `-- --seconds 10 --connections 64`). The data set (100 instruments × 3 years of candles,
//! 1,000 open positions opened by the real trade job) is generated first, not timed; the server
//! is the real `barter serve` binary in its own process, so its memory is its own.

use std::process::Command;

use barter_core::strategy::{InstrumentSelection, NumberText, StrategyConfig};
use barter_core::{Calendar, Candle, CandleOrigin, Day, Instrument, Ohlcv, SourceKind, Symbol};
use barter_service::config::Config;
use barter_service::trading::{Trading, sync_new_trades};
use barter_store::Store;
use chrono::{Days, Utc};
use rust_decimal::Decimal;

mod support;

use support::{Served, arg};

const TOKEN: &str = "bench-token-0123456789abcdef0123456789";
const INSTRUMENTS: usize = 100;
const STRATEGIES: usize = 10;
const DAYS: u64 = 3 * 365;

fn strategies() -> Vec<StrategyConfig> {
    (0..STRATEGIES)
        .map(|i| StrategyConfig {
            name: format!("s{i}"),
            instruments: InstrumentSelection::default(),
            entry: "close > 0".into(),
            exit: None,
            stop_loss: None,
            take_profit: None,
            trailing_stop: None,
            max_holding_days: None,
            size: Some(NumberText::Text("100".into())),
            max_open_positions: None,
            enabled: true,
            params: Default::default(),
            account: None,
        })
        .collect()
}

fn history(symbol: &Symbol, seed: u64) -> Vec<Candle> {
    let today = Utc::now().date_naive();
    let mut price = Decimal::new(10_000 + (seed as i64 % 97) * 31, 2);
    (1..=DAYS)
        .rev()
        .map(|back| {
            let day: Day = today - Days::new(back);
            let step = Decimal::new(((back * 7 + seed) % 41) as i64 - 20, 4);
            let open = price;
            let close = (open * (Decimal::ONE + step)).round_dp(4);
            price = close;
            let values = Ohlcv {
                open,
                high: open.max(close) + Decimal::ONE,
                low: (open.min(close) - Decimal::ONE).max(Decimal::new(1, 2)),
                close,
                volume: Decimal::new(1_000_000 + back as i64, 2),
            };
            Candle::new(
                symbol.clone(),
                day,
                values,
                true,
                CandleOrigin::CsvFile,
                today,
            )
            .expect("valid candle")
        })
        .collect()
}

async fn seed(path: &std::path::Path) {
    let store = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("store");
    for i in 0..INSTRUMENTS {
        let symbol = Symbol::parse(&format!("H{i:03}")).expect("symbol");
        let instrument = Instrument::new(
            symbol.clone(),
            "",
            "USD",
            SourceKind::Csv,
            format!("/nonexistent/{symbol}.csv"),
            Calendar::Continuous,
        )
        .expect("instrument");
        store.add_instrument(&instrument).await.expect("add");
        store
            .write_candles(&symbol, &history(&symbol, i as u64))
            .await
            .expect("candles");
    }
    let mut config = Config::default();
    config.account.initial_cash = Decimal::from(10_000_000);
    config.strategies = strategies();
    let known: Vec<Symbol> = store
        .instruments()
        .await
        .expect("instruments")
        .into_iter()
        .map(|i| i.symbol)
        .collect();
    let trading = Trading::from_config(&config, &known).expect("strategies");
    let run = sync_new_trades(&store, &trading, Utc::now())
        .await
        .expect("trade");
    let opened = run.counts.get("opened").copied().unwrap_or(0);
    assert_eq!(
        opened as usize,
        INSTRUMENTS * STRATEGIES,
        "{:?}",
        run.counts
    );
    store.close().await;
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Runs wrk and returns (requests/s, p50, p99, non-2xx) from its `--latency` report.
fn wrk(url: &str, seconds: u64, connections: u64) -> String {
    let out = Command::new("wrk")
        .args([
            "--latency",
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "-H",
            &format!("Authorization: Bearer {TOKEN}"),
            url,
        ])
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let pick = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
            .unwrap_or_else(|| "?".to_owned())
    };
    let non_2xx = text
        .lines()
        .find(|l| l.contains("Non-2xx"))
        .map(|l| l.trim().to_owned())
        .unwrap_or_else(|| "all 2xx".to_owned());
    format!(
        "{} req/s, p50 {}, p99 {}, {non_2xx}",
        pick("Requests/sec:"),
        pick("50%"),
        pick("99%")
    )
}

fn main() {
    let seconds = arg("--seconds", 10);
    let connections = arg("--connections", 64);
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("wrk is not installed: apt-get install wrk");
        std::process::exit(2);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("http.db");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(seed(&db));
    std::fs::write(dir.path().join("barter.toml"), "").expect("config");

    let served = Served::start(dir.path(), &format!("sqlite://{}", db.display()), TOKEN);
    let base = served.base.clone();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let idle = rss_kib(served.id());
    println!("idle RSS: {} MB", idle / 1024);
    for (name, path) in [
        ("positions (1,000)", "/api/positions"),
        ("candles (3 years)", "/api/instruments/H007/candles"),
    ] {
        let url = format!("{base}{path}");
        let bytes = runtime.block_on(async {
            let response = reqwest::Client::new()
                .get(&url)
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("request");
            assert!(response.status().is_success(), "{}", response.status());
            response.bytes().await.expect("body").len()
        });
        let result = wrk(&url, seconds, connections);
        println!(
            "GET {path} — {name} ({} KB of JSON), {connections} connections, {seconds} s: {result}",
            bytes / 1024
        );
    }
    println!("RSS after load: {} MB", rss_kib(served.id()) / 1024);
}
