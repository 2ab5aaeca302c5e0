//! The daily entry job sending N orders through a Binance account whose venue (the in-process
//! fake of `barter-fakes`) answers every request after a set latency: wall time, the floors the
//! venue's latency and the adapter's pacing set, the job's own overhead per order, and the
//! order rate the venue saw against Binance's documented 100 orders per 10 s.
//!
//! Run: `cargo bench -p barter-cli --bench venue_job` (optional:
//! `-- --orders 200 --latency-ms 50 --repeat 3`). It runs the job at the adapter's default
//! pacing (the rate limit decides the wall time) and unpaced (the job's own overhead shows). Each round is a fresh SQLite database with
//! the sample's BTC synced and `--orders` strategies whose entry passes, each trading BTC
//! through the account: one order per strategy. The job sends one order at a time.
//! Exits non-zero when an order is missing or doubled, or the order rate limit was exceeded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use barter_core::strategy::{InstrumentSelection, NumberText, StrategyConfig};
use barter_core::{RunReport, SourceKind, Symbol};
use barter_fakes::binance::{FakeBinance, KEY, SECRET};
use barter_service::SourceSet;
use barter_service::accounts::{
    AccountSettings, BINANCE_API_KEY_VAR, BINANCE_API_SECRET_VAR, Environment, VenueKind,
};
use barter_service::config::Config;
use barter_service::sync::{NoProgress, SyncOptions, sync_data};
use barter_service::trading::{Trading, TradingAccount, sync_new_trades};
use barter_sources::{SampleConfig, SampleSource};
use barter_store::Store;
use chrono::NaiveDate;
use rust_decimal::Decimal;

mod support;

use support::arg;

/// Binance's documented order limit: 100 orders per 10 s.
const ORDERS_PER_10S: usize = 100;

fn strategy(index: usize) -> StrategyConfig {
    StrategyConfig {
        name: format!("s{index:04}"),
        instruments: InstrumentSelection::Only(vec![btc()]),
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
        account: Some("bench".into()),
    }
}

fn btc() -> Symbol {
    Symbol::parse("BTC").expect("symbol")
}

fn settings(fake: &FakeBinance) -> AccountSettings {
    AccountSettings {
        venue: VenueKind::Binance,
        environment: Environment::Testnet,
        live: false,
        base_url: Some(fake.url.clone()),
        recv_window_ms: None,
        symbols: [("BTC".to_owned(), "BTCUSDT".to_owned())].into(),
        max_order_notional: None,
        max_daily_notional: None,
        max_open_positions: None,
        min_free_balance: None,
        timeout_secs: Some(15),
    }
}

/// One round: (wall time of the job, orders the fake received, the most in any 10 s).
/// `unpaced` lifts the adapter's pacing (60,000 requests a minute) to show the job's own
/// overhead beyond the venue's latency; the default pacing keeps Binance's order limit.
async fn round(orders: usize, latency: Duration, unpaced: bool) -> (Duration, usize, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("b.db").display()))
        .await
        .expect("store");
    for instrument in barter_sources::sample::instruments() {
        if instrument.symbol == btc() {
            store.add_instrument(&instrument).await.expect("add");
        }
    }
    let day: NaiveDate = "2024-01-02".parse().expect("day");
    let now = day.and_hms_opt(0, 10, 0).expect("time").and_utc();
    let sources = SourceSet::from_config(&Config::default().sources).with_source(
        SourceKind::Sample,
        Arc::new(SampleSource::new(SampleConfig {
            as_of: day.pred_opt(),
        })),
    );
    sync_data(&store, &sources, &SyncOptions::default(), now, &NoProgress)
        .await
        .expect("sync");

    let fake = FakeBinance::start().await;
    fake.set_balance("USDT", Decimal::from(1_000_000_000));
    fake.set_latency(latency);
    let config = Config {
        strategies: (0..orders).map(strategy).collect(),
        accounts: [("bench".to_owned(), settings(&fake))].into(),
        ..Config::default()
    };
    let mut trading = Trading::from_config(&config, &[btc()]).expect("strategies");
    trading.venue_clock_tolerance = chrono::TimeDelta::MAX;
    let vars = |name: &str| match name {
        BINANCE_API_KEY_VAR => Some(KEY.to_owned()),
        BINANCE_API_SECRET_VAR => Some(SECRET.to_owned()),
        _ => None,
    };
    let venue: Arc<dyn barter_execution::VenueAccount> = if unpaced {
        let mut binance =
            barter_execution::BinanceSettings::at(fake.url.clone()).with_symbol(btc(), "BTCUSDT");
        binance.http.requests_per_minute = 60_000;
        let pacer = barter_http::Pacer::new(60_000).expect("rate");
        Arc::new(
            barter_execution::BinanceSpot::new(
                binance,
                barter_execution::BinanceCredentials::new(KEY, SECRET),
                Some(Arc::new(pacer)),
            )
            .expect("venue"),
        )
    } else {
        settings(&fake).build("bench", vars).expect("venue")
    };
    trading.accounts.insert(
        "bench".to_owned(),
        Ok(TradingAccount {
            name: "bench".to_owned(),
            venue,
            limits: settings(&fake).limits(),
        }),
    );

    let started = Instant::now();
    let run = sync_new_trades(&store, &trading, now).await.expect("job");
    let wall = started.elapsed();

    let opened = match &run.report {
        Some(RunReport::SyncNewTrades(items)) => {
            items.iter().filter(|i| i.outcome == "opened").count()
        }
        other => panic!("not an entry run: {other:?}"),
    };
    let posts = fake.order_posts().len();
    if opened != orders || posts != orders {
        eprintln!("FAILED: {opened} opened, {posts} order posts, {orders} expected: {run:?}");
        std::process::exit(1);
    }
    let times = fake.order_post_times();
    let mut most = 0;
    for (i, start) in times.iter().enumerate() {
        let within = times[i..]
            .iter()
            .take_while(|t| t.duration_since(*start) < Duration::from_secs(10))
            .count();
        most = most.max(within);
    }
    (wall, posts, most)
}

fn main() {
    let orders: usize = arg("--orders", 200);
    let latency = Duration::from_millis(arg("--latency-ms", 50));
    let repeat: usize = arg("--repeat", 3);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let orders_u32 = u32::try_from(orders.max(1)).unwrap_or(u32::MAX);
    for unpaced in [false, true] {
        let mode = if unpaced {
            "unpaced (60,000/min: the job's overhead)"
        } else {
            "paced (540/min, the default)"
        };
        let mut walls = Vec::new();
        let mut worst = 0;
        for r in 0..repeat {
            let (wall, posts, most) = runtime.block_on(round(orders, latency, unpaced));
            println!(
                "{mode} round {}: {posts} orders in {:.2} s, at most {most} in any 10 s",
                r + 1,
                wall.as_secs_f64()
            );
            walls.push(wall);
            worst = worst.max(most);
        }
        walls.sort();
        let median = walls[walls.len() / 2];
        // One request per order (the order post); exchangeInfo, the clock and the balances
        // are read once per job.
        let latency_floor = latency * orders_u32;
        let pace = if unpaced {
            60.0 / 60_000.0
        } else {
            60.0 / 540.0
        };
        let pace_floor = Duration::from_secs_f64(pace) * orders_u32;
        let floor = latency_floor.max(pace_floor);
        let per_order = median.saturating_sub(floor) / orders_u32;
        println!(
            "{mode}: median {:.2} s for {orders} orders; floors: latency {:.2} s, pacing {:.2} s; \
             beyond the higher floor {:.2} ms per order; most orders in any 10 s: {worst} \
             (Binance allows {ORDERS_PER_10S})",
            median.as_secs_f64(),
            latency_floor.as_secs_f64(),
            pace_floor.as_secs_f64(),
            per_order.as_secs_f64() * 1000.0
        );
        if !unpaced && worst > ORDERS_PER_10S {
            eprintln!("FAILED: {worst} orders in one 10 s window at the default pacing");
            std::process::exit(1);
        }
    }
}
