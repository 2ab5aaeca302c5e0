//! Several `barter serve` processes sharing one database: concurrent calls of the trade job on
//! all of them open each position once, because the database decides.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use barter_core::{Calendar, Candle, CandleOrigin, Day, Instrument, Ohlcv, SourceKind, Symbol};
use barter_store::Store;
use barter_store::trading::PositionStatus;
use chrono::{Days, Utc};
use rust_decimal::Decimal;

mod support;

const TOKEN: &str = "process-test-token-0123456789abcdef";
const INSTRUMENTS: usize = 12;

const CONFIG: &str = r#"
[account]
initial_cash = "1000000"

[[strategies]]
name = "always"
entry = "close > 0"
size = "100"

[[strategies]]
name = "rising"
entry = "close >= close[1] or close < close[1]"
size = "50"
"#;

/// A `barter serve` child process and the address it announced.
struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &std::path::Path, database: &str) -> Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_barter"));
    command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("BARTER_CONFIG", dir.join("barter.toml"))
        .env("BARTER_DATABASE_URL", database)
        .env("BARTER_API_TOKEN", TOKEN)
        .stderr(Stdio::inherit());
    let (child, base) = support::spawn_serve(command);
    Served { child, base }
}

/// Recent complete daily candles up to yesterday, so nothing is stale.
fn history(symbol: &Symbol, days: u64) -> Vec<Candle> {
    let today = Utc::now().date_naive();
    (1..=days)
        .rev()
        .map(|back| {
            let day: Day = today - Days::new(back);
            let price = Decimal::from(100 + back);
            let values = Ohlcv {
                open: price,
                high: price + Decimal::ONE,
                low: price - Decimal::ONE,
                close: price,
                volume: Decimal::from(1000),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_trade_calls_on_two_servers_open_each_position_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("barter.toml"), CONFIG).expect("config");
    let database = format!("sqlite://{}", dir.path().join("shared.db").display());
    let store = Store::connect(&database).await.expect("store");
    for i in 0..INSTRUMENTS {
        let symbol = Symbol::parse(&format!("C{i:02}")).expect("symbol");
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
            .write_candles(&symbol, &history(&symbol, 30))
            .await
            .expect("candles");
    }

    let servers = [serve(dir.path(), &database), serve(dir.path(), &database)];
    let client = reqwest::Client::new();
    // Three calls on each server at once.
    let calls = servers.iter().flat_map(|server| {
        let client = client.clone();
        (0..3).map(move |_| {
            let request = client
                .post(format!("{}/api/sync_new_trades", server.base))
                .bearer_auth(TOKEN)
                .timeout(Duration::from_secs(120));
            async move { request.send().await.expect("request").status().as_u16() }
        })
    });
    let statuses = futures_util::future::join_all(calls).await;
    // Each call either ran the job (200) or found it running in its own process (409).
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == 200).count() >= 2,
        "{statuses:?}"
    );

    let positions = store
        .positions(Some(PositionStatus::Open))
        .await
        .expect("positions");
    assert_eq!(
        positions.len(),
        INSTRUMENTS * 2,
        "one per strategy × instrument"
    );
    let mut keys: Vec<(String, Symbol)> = positions
        .iter()
        .map(|p| (p.strategy.clone(), p.symbol.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), INSTRUMENTS * 2, "no position opened twice");
    let account = store.account().await.expect("account").expect("exists");
    let spent: Decimal = positions
        .iter()
        .map(|p| p.quantity.0 * p.entry_price.0 + p.entry_fee.0)
        .sum();
    assert_eq!(
        account.cash.0,
        Decimal::from(1_000_000) - spent,
        "cash paid once per position"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cancels_running_backtests_and_the_process_exits_in_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("barter.toml"), CONFIG).expect("config");
    let database = format!("sqlite://{}", dir.path().join("backtests.db").display());
    let store = Store::connect(&database).await.expect("store");
    let symbol = Symbol::parse("LONG").expect("symbol");
    let instrument = Instrument::new(
        symbol.clone(),
        "",
        "USD",
        SourceKind::Csv,
        "/nonexistent/LONG.csv",
        Calendar::Continuous,
    )
    .expect("instrument");
    store.add_instrument(&instrument).await.expect("add");
    store
        .write_candles(&symbol, &history(&symbol, 3000))
        .await
        .expect("candles");

    let mut served = serve(dir.path(), &database);
    let client = reqwest::Client::new();
    // Three 10,000-combination sweeps: one runs, two wait; each takes many seconds.
    for _ in 0..3 {
        let response = client
            .post(format!("{}/api/backtests?wait=false", served.base))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({
                "entry": "crosses_above(sma(close, $fast), sma(close, $slow))",
                "exit": "crosses_below(sma(close, $fast), sma(close, $slow))",
                "params": {"fast": 10, "slow": 30},
                "instruments": ["LONG"],
                "sweep": ["fast=1..100", "slow=101..200"],
            }))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 202);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first: serde_json::Value = client
        .get(format!("{}/api/backtests/1", served.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(first["status"], "running", "{first}");
    let pid = served.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = served.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "still running {:?} after SIGTERM",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_short_token_is_refused_at_start_with_how_to_make_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("barter.toml"), CONFIG).expect("config");
    let output = Command::new(env!("CARGO_BIN_EXE_barter"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("BARTER_CONFIG", dir.path().join("barter.toml"))
        .env(
            "BARTER_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("short.db").display()),
        )
        .env("BARTER_API_TOKEN", "x")
        .stdin(Stdio::null())
        .output()
        .expect("barter serve runs");
    assert!(!output.status.success(), "a 1-character token is refused");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least 32"), "{stderr}");
    assert!(stderr.contains("openssl rand -hex 32"), "{stderr}");
}
