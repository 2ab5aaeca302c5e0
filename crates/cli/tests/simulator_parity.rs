//! One engine: replaying the live daily job over a period and backtesting the same strategies
//! over the same days give the same fills, to the cent, and the same positions.
//!
//! A replay of days A..=B runs the cron the morning after each day, so its decisions are on
//! A..=B and its next-open fills on the days after them, up to B + 1. The backtest that covers
//! the same candles is A..=B + 1 (its own decisions on B + 1 stay unfilled: no next candle).
//! `docs/SIMULATOR.md` explains this; the history must already be synced, as after
//! `barter quickstart`, so the replay finds each D + 1 candle to fill at.

use std::sync::Arc;

use barter_core::strategy::{InstrumentSelection, NumberText, StrategyConfig};
use barter_core::{Day, ExitReason, Money, Price, Quantity, SourceKind, Symbol};
use barter_service::SourceSet;
use barter_service::backtest::{self, BacktestRequest, CandleSource};
use barter_service::config::Config;
use barter_service::jobs::Unobserved;
use barter_service::sync::{NoProgress, SyncOptions, sync_data};
use barter_service::trading::{
    MarketCache, Trading, sync_close_positions_with, sync_new_trades_with,
};
use barter_sources::{SampleConfig, SampleSource};
use barter_store::Store;
use chrono::{Days, NaiveTime};

fn strategy(name: &str, entry: &str, exit: &str, size: &str) -> StrategyConfig {
    StrategyConfig {
        name: name.into(),
        instruments: InstrumentSelection::default(),
        entry: entry.into(),
        exit: Some(exit.into()),
        stop_loss: Some(NumberText::Text("8%".into())),
        take_profit: None,
        trailing_stop: Some(NumberText::Text("12%".into())),
        max_holding_days: Some(40),
        size: Some(NumberText::Text(size.into())),
        max_open_positions: Some(2),
        enabled: true,
        params: Default::default(),
        account: None,
    }
}

/// A fill-for-fill description of a position: what was bought, when, at what price, and how it
/// ended.
type Described = (
    String,
    Symbol,
    Day,
    Price,
    Quantity,
    Money,
    Option<(Day, Price, Money, ExitReason)>,
);

#[tokio::test]
async fn a_replay_and_a_backtest_of_the_same_days_fill_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .expect("store");
    let symbols = ["BTC", "ETH", "SPY"];
    for instrument in barter_sources::sample::instruments() {
        if symbols.contains(&instrument.symbol.as_str()) {
            store.add_instrument(&instrument).await.expect("add");
        }
    }
    let config = Config {
        strategies: vec![
            strategy(
                "trend",
                "crosses_above(sma(close, 10), sma(close, 30))",
                "crosses_below(sma(close, 10), sma(close, 30))",
                "20%",
            ),
            strategy(
                "rebound",
                "crosses_above(rsi(close, 14), 35)",
                "rsi(close, 14) > 65",
                "1500",
            ),
        ],
        ..Config::default()
    };
    // The whole sample is synced first, as `barter quickstart` does.
    let sources = SourceSet::from_config(&config.sources).with_source(
        SourceKind::Sample,
        Arc::new(SampleSource::new(SampleConfig::default())),
    );
    let now = chrono::Utc::now();
    sync_data(&store, &sources, &SyncOptions::default(), now, &NoProgress)
        .await
        .expect("sync");
    let known: Vec<Symbol> = symbols
        .iter()
        .map(|s| Symbol::parse(s).expect("symbol"))
        .collect();
    let trading = Trading::from_config(&config, &known).expect("strategies");

    let (first, last): (Day, Day) = (
        "2020-01-01".parse().expect("day"),
        "2020-07-31".parse().expect("day"),
    );
    let mut market = MarketCache::across_jobs();
    let mut day = first;
    while day <= last {
        let cron = (day + Days::new(1))
            .and_time(NaiveTime::from_hms_opt(0, 10, 0).expect("time"))
            .and_utc();
        sync_new_trades_with(&store, &trading, cron, &mut market, &Unobserved)
            .await
            .expect("trade");
        sync_close_positions_with(&store, &trading, cron, &mut market, &Unobserved)
            .await
            .expect("close");
        day = day + Days::new(1);
    }
    let mut replayed: Vec<Described> = store
        .positions(None)
        .await
        .expect("positions")
        .into_iter()
        .map(|p| {
            let exit = p.exit.as_ref().map(|e| (e.day, e.price, e.fee, e.reason));
            (
                p.strategy,
                p.symbol,
                p.entry_day,
                p.entry_price,
                p.quantity,
                p.entry_fee,
                exit,
            )
        })
        .collect();

    let request = BacktestRequest {
        strategies: vec!["trend".into(), "rebound".into()],
        from: Some(first),
        to: Some(last + Days::new(1)),
        ..BacktestRequest::default()
    };
    let prepared = backtest::prepare(&request, &config, CandleSource::Store(&store))
        .await
        .expect("prepared");
    let result = prepared.run().expect("backtest");
    let mut backtested: Vec<Described> = result
        .trades
        .iter()
        .map(|t| {
            let entry_fee = t.fees.0 - exit_fee(t);
            (
                t.strategy.clone(),
                t.symbol.clone(),
                t.entry_day,
                t.entry_price,
                t.quantity,
                Money(entry_fee),
                Some((t.exit_day, t.exit_price, Money(exit_fee(t)), t.reason)),
            )
        })
        .chain(result.open_trades.iter().map(|t| {
            (
                t.strategy.clone(),
                t.symbol.clone(),
                t.entry_day,
                t.entry_price,
                t.quantity,
                t.entry_fee,
                None,
            )
        }))
        .collect();
    for list in [&mut replayed, &mut backtested] {
        list.sort_by(|a, b| (a.2, &a.1, &a.0).cmp(&(b.2, &b.1, &b.0)));
    }
    assert!(
        replayed.len() >= 10,
        "the period should trade: {} position(s)",
        replayed.len()
    );
    assert!(
        replayed.iter().any(|p| p.6.is_some()) && replayed.iter().any(|p| p.1.as_str() == "SPY"),
        "closed positions and the weekday instrument should be covered"
    );
    assert_eq!(replayed.len(), backtested.len(), "number of positions");
    for (live, sim) in replayed.iter().zip(&backtested) {
        assert_eq!(live, sim, "replayed position vs backtested position");
    }
    // The account: the same cash, to the cent and beyond.
    let account = store.account().await.expect("read").expect("account");
    assert_eq!(account.cash, result.final_cash, "final cash");

    // The dashboard's equity curve of the live account is the backtest's, day by day: cash
    // after the day's fills plus the open positions at the day's close.
    let live = barter_service::views::Ledger::load(&store, account.initial_cash)
        .await
        .expect("ledger")
        .equity_curve(&store)
        .await
        .expect("equity curve");
    let simulated: std::collections::HashMap<Day, f64> =
        result.equity.iter().map(|p| (p.day, p.equity)).collect();
    let compared: Vec<_> = live
        .iter()
        .filter(|p| p.day <= last + Days::new(1))
        .map(|p| {
            use rust_decimal::prelude::ToPrimitive;
            let live = p.equity.0.to_f64().expect("f64");
            let sim = simulated[&p.day];
            assert!(
                (live - sim).abs() <= 1e-9 * sim.abs(),
                "equity on {}: live {live} vs backtest {sim}",
                p.day
            );
        })
        .collect();
    assert!(compared.len() > 150, "{} days compared", compared.len());
}

/// The exit fee of a backtest trade (its `fees` hold both legs): the configured fee on the
/// exit's gross, as the paper broker charges it.
fn exit_fee(trade: &barter_core::simulator::Trade) -> rust_decimal::Decimal {
    let gross = trade.quantity.0 * trade.exit_price.0;
    gross * Config::default().broker.fee_bps / rust_decimal::Decimal::from(10_000)
}
