//! The trade and close jobs end to end on a real store: exactly once, stale data, exits,
//! concurrency, resumption.

use std::sync::Arc;

use barter_core::strategy::{InstrumentSelection, NumberText, StrategyConfig};
use barter_core::{DecisionItem, Money, Run, RunReport, SourceKind, Symbol};
use barter_service::SourceSet;
use barter_service::config::Config;
use barter_service::sync::{NoProgress, SyncOptions, sync_data};
use barter_service::trading::{Trading, sync_close_positions, sync_new_trades};
use barter_sources::{SampleConfig, SampleSource};
use barter_store::Store;
use barter_store::trading::PositionStatus;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal_macros::dec;

/// A fresh PostgreSQL schema with the sample's `symbols` registered, or `None` (said on
/// stderr) when `BARTER_TEST_POSTGRES_URL` is not set.
async fn postgres_store(name: &str, symbols: &[&str]) -> Option<Store> {
    let Ok(url) = std::env::var("BARTER_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED postgres ({name}): BARTER_TEST_POSTGRES_URL is not set");
        return None;
    };
    // PostgreSQL names are at most 63 bytes: the test's name is not part of it.
    let schema = format!(
        "barter_trading_{}_{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    );
    let store = Store::connect_postgres_in_schema(&url, &schema)
        .await
        .expect("postgres");
    for instrument in barter_sources::sample::instruments() {
        if symbols.contains(&instrument.symbol.as_str()) {
            store.add_instrument(&instrument).await.expect("add");
        }
    }
    Some(store)
}

/// Runs `scenario` on a fresh SQLite store and, when configured, a fresh PostgreSQL schema,
/// each with the sample instruments the invoking module's `SYMBOLS` names.
macro_rules! on_both_backends {
    ($name:ident, $scenario:expr) => {
        #[tokio::test]
        async fn $name() {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = store_with(dir.path(), SYMBOLS).await;
            $scenario(&store).await;
            if let Some(store) = postgres_store(stringify!($name), SYMBOLS).await {
                $scenario(&store).await;
            }
        }
    };
}

mod notify;
mod venue;

fn at(day: &str) -> DateTime<Utc> {
    let day: NaiveDate = day.parse().expect("date");
    day.and_hms_opt(0, 10, 0).expect("time").and_utc()
}

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).expect("symbol")
}

fn strategy(name: &str, entry: &str, exit: Option<&str>) -> StrategyConfig {
    StrategyConfig {
        name: name.into(),
        instruments: InstrumentSelection::default(),
        entry: entry.into(),
        exit: exit.map(Into::into),
        stop_loss: None,
        take_profit: None,
        trailing_stop: None,
        max_holding_days: None,
        size: Some(NumberText::Text("1000".into())),
        max_open_positions: None,
        enabled: true,
        params: Default::default(),
        account: None,
    }
}

fn config(strategies: Vec<StrategyConfig>) -> Config {
    Config {
        strategies,
        ..Config::default()
    }
}

async fn store_with(dir: &std::path::Path, symbols: &[&str]) -> Store {
    let store = Store::connect(&format!("sqlite://{}", dir.join("t.db").display()))
        .await
        .expect("store");
    for instrument in barter_sources::sample::instruments() {
        if symbols.contains(&instrument.symbol.as_str()) {
            store.add_instrument(&instrument).await.expect("add");
        }
    }
    store
}

/// Syncs the sample as of the day before `now`'s day.
async fn sync_until(store: &Store, now: DateTime<Utc>) {
    let as_of = now.date_naive().pred_opt();
    let sources = SourceSet::from_config(&Config::default().sources).with_source(
        SourceKind::Sample,
        Arc::new(SampleSource::new(SampleConfig { as_of })),
    );
    sync_data(store, &sources, &SyncOptions::default(), now, &NoProgress)
        .await
        .expect("sync");
}

fn trading(store_symbols: &[&str], strategies: Vec<StrategyConfig>) -> Trading {
    let known: Vec<Symbol> = store_symbols.iter().map(|s| sym(s)).collect();
    Trading::from_config(&config(strategies), &known).expect("valid strategies")
}

fn items(run: &Run) -> &[DecisionItem] {
    match &run.report {
        Some(RunReport::SyncNewTrades(items) | RunReport::SyncClosePositions(items)) => items,
        other => panic!("not a decision run: {other:?}"),
    }
}

fn outcomes(run: &Run) -> Vec<String> {
    items(run)
        .iter()
        .map(|i| format!("{} {} {}", i.strategy, i.symbol, i.outcome))
        .collect()
}

#[tokio::test]
async fn an_entry_is_traded_exactly_once_however_often_the_job_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), &["BTC", "ETH"]).await;
    let now = at("2024-01-02");
    sync_until(&store, now).await;
    let trading = trading(&["BTC", "ETH"], vec![strategy("always", "close > 0", None)]);
    let first = sync_new_trades(&store, &trading, now).await.expect("trade");
    assert_eq!(outcomes(&first), ["always BTC opened", "always ETH opened"]);
    let cash_after_first = store.account().await.expect("read").expect("account").cash;
    let again = sync_new_trades(&store, &trading, now)
        .await
        .expect("trade again");
    assert_eq!(
        outcomes(&again),
        ["always BTC already_decided", "always ETH already_decided"]
    );
    assert_eq!(
        store.account().await.expect("read").expect("account").cash,
        cash_after_first
    );
    assert_eq!(
        store
            .positions(Some(PositionStatus::Open))
            .await
            .expect("positions")
            .len(),
        2
    );
    // Spent 1000 each, fee included (10 bps fee, 5 bps slippage by default), never more.
    assert!(
        cash_after_first.0 >= dec!(8000) && cash_after_first.0 < dec!(8000.1),
        "{cash_after_first:?}"
    );
    let btc = &store.positions(None).await.expect("positions")[0];
    assert_eq!(
        btc.entry_day.to_string(),
        "2024-01-01",
        "no next-day candle yet: filled at the latest close"
    );
}

#[tokio::test]
async fn stale_data_is_not_traded_and_the_reason_is_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), &["SOL"]).await;
    sync_until(&store, at("2024-01-02")).await;
    let trading = trading(&["SOL"], vec![strategy("always", "close > 0", None)]);
    let run = sync_new_trades(&store, &trading, at("2024-01-05"))
        .await
        .expect("trade");
    let item = &items(&run)[0];
    assert_eq!(item.outcome, "skipped");
    assert!(
        item.explanation.contains(
            "stale data: the latest complete candle of SOL is 2024-01-01, expected 2024-01-04"
        ),
        "{}",
        item.explanation
    );
    assert!(store.positions(None).await.expect("positions").is_empty());
}

/// SPY follows the NYSE calendar (`xnys`): a run on Tuesday 2020-01-21, after Martin Luther King
/// Jr. Day, expects Friday's candle, as does a run on the Monday after Good Friday 2020 the
/// Thursday's; a run on the Wednesday still holding Friday's candle is stale.
#[tokio::test]
async fn a_run_after_an_exchange_holiday_is_not_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), &["SPY"]).await;
    let spy = store.instrument(&sym("SPY")).await.expect("read");
    assert_eq!(spy.map(|i| i.calendar), Some(barter_core::Calendar::Xnys));
    let trading = trading(&["SPY"], vec![strategy("always", "close > 0", None)]);
    sync_until(&store, at("2020-01-21")).await;
    let run = sync_new_trades(&store, &trading, at("2020-01-21"))
        .await
        .expect("trade");
    let item = &items(&run)[0];
    assert_eq!(item.outcome, "opened", "{}", item.explanation);
    assert_eq!(
        item.day.map(|d| d.to_string()).as_deref(),
        Some("2020-01-17")
    );

    // A strategy that has not decided on Friday's candle yet, so the stale decision is new.
    let later = self::trading(&["SPY"], vec![strategy("later", "close > 0", None)]);
    let run = sync_new_trades(&store, &later, at("2020-01-22"))
        .await
        .expect("trade");
    let item = &items(&run)[0];
    assert_eq!(item.outcome, "skipped", "{item:?}");
    assert!(
        item.explanation.contains(
            "stale data: the latest complete candle of SPY is 2020-01-17, expected 2020-01-21"
        ),
        "{}",
        item.explanation
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), &["SPY"]).await;
    sync_until(&store, at("2020-04-13")).await;
    let run = sync_new_trades(&store, &trading, at("2020-04-13"))
        .await
        .expect("trade");
    let item = &items(&run)[0];
    assert_eq!(item.outcome, "opened", "{}", item.explanation);
    assert_eq!(
        item.day.map(|d| d.to_string()).as_deref(),
        Some("2020-04-09")
    );
}

/// Holding days count the instrument's trading days: SPY entered on Thursday 2020-04-09 has held
/// 2 days on Tuesday 04-14 (Monday and Tuesday; Good Friday and the weekend do not count), so
/// both the exit rule and the maximum holding close it on the run of Wednesday 04-15.
#[tokio::test]
async fn holding_days_skip_an_exchange_holiday() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), &["SPY"]).await;
    let mut max_holding = strategy("max-2", "close > 0", None);
    max_holding.max_holding_days = Some(2);
    let trading = trading(
        &["SPY"],
        vec![
            strategy("days-held-2", "close > 0", Some("days_held >= 2")),
            max_holding,
        ],
    );
    sync_until(&store, at("2020-04-10")).await;
    let opened = sync_new_trades(&store, &trading, at("2020-04-10"))
        .await
        .expect("trade");
    assert_eq!(
        outcomes(&opened),
        ["days-held-2 SPY opened", "max-2 SPY opened"]
    );
    let mut closed = Vec::new();
    for day in [
        "2020-04-11",
        "2020-04-12",
        "2020-04-13",
        "2020-04-14",
        "2020-04-15",
        "2020-04-16",
    ] {
        sync_until(&store, at(day)).await;
        let close = sync_close_positions(&store, &trading, at(day))
            .await
            .expect("close");
        for item in items(&close).iter().filter(|i| i.outcome == "closed") {
            closed.push(format!("{} {day} {:?}", item.strategy, item.day));
        }
    }
    let decided = Some(barter_core::Day::from_ymd_opt(2020, 4, 14).expect("day"));
    assert_eq!(
        closed,
        [
            format!("days-held-2 2020-04-15 {decided:?}"),
            format!("max-2 2020-04-15 {decided:?}"),
        ]
    );
    let positions = store.positions(None).await.expect("positions");
    assert!(
        positions
            .iter()
            .all(|p| p.entry_day.to_string() == "2020-04-09"),
        "{positions:?}"
    );
}

#[tokio::test]
async fn a_position_is_closed_by_its_exit_rule_on_a_later_day_with_exact_pnl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), &["BTC"]).await;
    let trading = trading(
        &["BTC"],
        vec![strategy("in-out", "close > 0", Some("days_held >= 2"))],
    );
    let mut closed = None;
    for day in ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"] {
        sync_until(&store, at(day)).await;
        sync_new_trades(&store, &trading, at(day))
            .await
            .expect("trade");
        let close = sync_close_positions(&store, &trading, at(day))
            .await
            .expect("close");
        if items(&close).iter().any(|i| i.outcome == "closed") {
            closed = Some(day);
            break;
        }
    }
    assert_eq!(
        closed,
        Some("2024-01-04"),
        "entered on 01-01, held 2 days on 01-03"
    );
    let position = &store
        .positions(Some(PositionStatus::Closed))
        .await
        .expect("positions")[0];
    let account = store.account().await.expect("read").expect("account");
    let pnl = position.realized_pnl().expect("closed");
    assert_eq!(
        account.cash,
        Money(dec!(10000) + pnl.0),
        "cash = initial + realized P&L, exactly"
    );
}

#[tokio::test]
async fn two_concurrent_runs_of_the_same_day_open_each_position_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), &["BTC", "ETH", "LTC", "XRP"]).await;
    let now = at("2024-02-02");
    sync_until(&store, now).await;
    let trading = Arc::new(trading(
        &["BTC", "ETH", "LTC", "XRP"],
        vec![strategy("always", "close > 0", None)],
    ));
    let other = Store::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .expect("second process");
    let (a, b) = tokio::join!(
        {
            let (s, t) = (store.clone(), trading.clone());
            async move { sync_new_trades(&s, &t, now).await }
        },
        {
            let t = trading.clone();
            async move { sync_new_trades(&other, &t, now).await }
        },
    );
    let opened = [a.expect("run a"), b.expect("run b")]
        .iter()
        .flat_map(|r| items(r).to_vec())
        .filter(|i| i.outcome == "opened")
        .count();
    assert_eq!(opened, 4);
    assert_eq!(store.positions(None).await.expect("positions").len(), 4);
}

#[tokio::test]
async fn a_run_interrupted_part_way_is_completed_by_the_next_run_without_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), &["ADA", "BNB", "DOGE"]).await;
    let now = at("2024-03-02");
    sync_until(&store, now).await;
    let trading = trading(
        &["ADA", "BNB", "DOGE"],
        vec![strategy("always", "close > 0", None)],
    );
    // The "interrupted" run got through ADA only (the others were not reached).
    store
        .set_instrument_active(&sym("BNB"), false)
        .await
        .expect("deactivate");
    store
        .set_instrument_active(&sym("DOGE"), false)
        .await
        .expect("deactivate");
    sync_new_trades(&store, &trading, now)
        .await
        .expect("partial run");
    store
        .set_instrument_active(&sym("BNB"), true)
        .await
        .expect("activate");
    store
        .set_instrument_active(&sym("DOGE"), true)
        .await
        .expect("activate");
    let resumed = sync_new_trades(&store, &trading, now)
        .await
        .expect("resumed run");
    assert_eq!(
        outcomes(&resumed),
        [
            "always ADA already_decided",
            "always BNB opened",
            "always DOGE opened"
        ]
    );
    assert_eq!(store.positions(None).await.expect("positions").len(), 3);
}

#[tokio::test]
async fn an_order_the_account_cannot_pay_for_is_refused_and_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), &["BTC"]).await;
    sync_until(&store, at("2024-01-02")).await;
    let mut big = strategy("big", "close > 0", None);
    big.size = Some(NumberText::Text("20000".into()));
    let trading = trading(&["BTC"], vec![big]);
    let run = sync_new_trades(&store, &trading, at("2024-01-02"))
        .await
        .expect("trade");
    let item = &items(&run)[0];
    assert_eq!(item.outcome, "refused");
    assert!(
        item.explanation.contains("insufficient cash"),
        "{}",
        item.explanation
    );
    assert_eq!(
        store.account().await.expect("read").expect("account").cash,
        Money(dec!(10000))
    );
}

#[tokio::test]
async fn a_strategy_written_in_rust_is_registered_and_trades_like_a_configured_one() {
    use barter_core::strategy::SizeSpec;
    use barter_core::strategy::example::Momentum;

    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), &["BTC", "ETH"]).await;
    let now = at("2024-03-01");
    sync_until(&store, now).await;
    let mut trading = trading(&["BTC", "ETH"], vec![]);
    let momentum = Momentum {
        name: "momentum".into(),
        lookback: 3,
        threshold: dec!(-1),
        limits: Default::default(),
    };
    trading
        .register(
            Box::new(momentum.clone()),
            SizeSpec::Amount(dec!(500)),
            Some(1),
        )
        .expect("registered");
    assert!(
        trading
            .register(Box::new(momentum), SizeSpec::AllCash, None)
            .is_err(),
        "names are unique"
    );
    let run = sync_new_trades(&store, &trading, now).await.expect("trade");
    // A change above -100 % always passes; max_open_positions = 1 lets only the first through.
    assert_eq!(
        outcomes(&run),
        ["momentum BTC opened", "momentum ETH skipped"]
    );
    let history = store
        .history_filtered(&barter_store::HistoryFilter {
            strategy: Some("momentum".into()),
            ..Default::default()
        })
        .await
        .expect("history");
    assert!(
        history
            .iter()
            .any(|e| e.detail.to_string().contains("3-day change")),
        "{history:?}"
    );
}

#[tokio::test]
async fn two_concurrent_runs_on_postgres_open_each_position_once() {
    let Ok(url) = std::env::var("BARTER_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED postgres: BARTER_TEST_POSTGRES_URL is not set");
        return;
    };
    let schema = format!(
        "barter_app_trading_{}_{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    );
    let store = Store::connect_postgres_in_schema(&url, &schema)
        .await
        .expect("postgres");
    let symbols = ["BTC", "ETH", "LTC", "XRP"];
    for instrument in barter_sources::sample::instruments() {
        if symbols.contains(&instrument.symbol.as_str()) {
            store.add_instrument(&instrument).await.expect("add");
        }
    }
    let now = at("2024-02-02");
    sync_until(&store, now).await;
    let other = Store::connect_postgres_in_schema(&url, &schema)
        .await
        .expect("second process");
    let trading = Arc::new(trading(
        &symbols,
        vec![strategy("always", "close > 0", None)],
    ));
    let (a, b) = tokio::join!(
        {
            let (s, t) = (store.clone(), trading.clone());
            async move { sync_new_trades(&s, &t, now).await }
        },
        {
            let t = trading.clone();
            async move { sync_new_trades(&other, &t, now).await }
        },
    );
    let runs = [a.expect("run a"), b.expect("run b")];
    let opened = runs
        .iter()
        .flat_map(|r| items(r).to_vec())
        .filter(|i| i.outcome == "opened")
        .count();
    assert_eq!(opened, 4);
    assert_eq!(store.positions(None).await.expect("positions").len(), 4);
    let cash = store.account().await.expect("read").expect("account").cash;
    assert!(
        cash.0 >= dec!(6000) && cash.0 < dec!(6000.01),
        "debited once per position: {cash:?}"
    );
    store.drop_schema().await.expect("drop schema");
}

#[tokio::test]
async fn a_rule_naming_another_instrument_reads_its_candles_in_both_jobs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), &["BTC", "ETH"]).await;
    let now = at("2024-01-02");
    sync_until(&store, now).await;
    let mut follow = strategy("follow-btc", "BTC.close > 0", Some("BTC.close > 0"));
    follow.instruments = InstrumentSelection::Only(vec![sym("ETH")]);
    let trading = trading(&["BTC", "ETH"], vec![follow]);
    let trade = sync_new_trades(&store, &trading, now).await.expect("trade");
    assert_eq!(outcomes(&trade), ["follow-btc ETH opened"]);
    let later = at("2024-01-04");
    sync_until(&store, later).await;
    let close = sync_close_positions(&store, &trading, later)
        .await
        .expect("close");
    assert_eq!(outcomes(&close), ["follow-btc ETH closed"]);
}

#[tokio::test]
async fn a_halt_stops_new_entries_in_every_process_while_exits_continue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), &["BTC"]).await;
    let first_day = at("2024-01-02");
    sync_until(&store, first_day).await;
    // BTC is bought before the halt; its exit must still happen while halted.
    let btc_only = trading(
        &["BTC"],
        vec![strategy("always", "close > 0", Some("close > 0"))],
    );
    let opened = sync_new_trades(&store, &btc_only, first_day)
        .await
        .expect("trade");
    assert_eq!(outcomes(&opened), ["always BTC opened"]);
    let eth = barter_sources::sample::instruments()
        .into_iter()
        .find(|i| i.symbol.as_str() == "ETH")
        .expect("the sample has ETH");
    store.add_instrument(&eth).await.expect("add ETH");

    // Another process (the CLI, the API) halts through the same database.
    let other = Store::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .await
        .expect("second connection");
    let state = barter_service::halt::halt(&other, Some("exchange incident"), "test", first_day)
        .await
        .expect("halt");
    assert!(state.halted);
    let again = barter_service::halt::halt(&other, Some("another reason"), "test", first_day)
        .await
        .expect("halting twice");
    assert_eq!(
        again.reason.as_deref(),
        Some("exchange incident"),
        "the first reason stays"
    );

    let next_day = at("2024-01-03");
    sync_until(&store, next_day).await;
    let both = trading(
        &["BTC", "ETH"],
        vec![strategy("always", "close > 0", Some("close > 0"))],
    );
    let halted = sync_new_trades(&store, &both, next_day)
        .await
        .expect("trade while halted");
    let eth = items(&halted)
        .iter()
        .find(|i| i.symbol.as_str() == "ETH")
        .expect("an ETH item");
    assert_eq!(eth.outcome, "skipped");
    assert!(
        eth.explanation.contains("halted") && eth.explanation.contains("exchange incident"),
        "{}",
        eth.explanation
    );
    let open = store
        .positions(Some(PositionStatus::Open))
        .await
        .expect("positions");
    assert_eq!(open.len(), 1, "nothing opened while halted: {open:?}");

    let closed = sync_close_positions(&store, &both, next_day)
        .await
        .expect("close while halted");
    assert_eq!(
        outcomes(&closed),
        ["always BTC closed"],
        "exits continue while halted"
    );

    let halt_events = store
        .history_filtered(&barter_store::HistoryFilter {
            kind: Some(barter_store::halt::EVENT_HALTED.into()),
            limit: 10,
            ..barter_store::HistoryFilter::default()
        })
        .await
        .expect("history");
    assert_eq!(halt_events.len(), 1, "halting twice records one change");

    barter_service::halt::resume(&other, "test", next_day)
        .await
        .expect("resume");
    let day_after = at("2024-01-04");
    sync_until(&store, day_after).await;
    let resumed = sync_new_trades(&store, &both, day_after)
        .await
        .expect("trade after resume");
    assert!(
        outcomes(&resumed).contains(&"always ETH opened".to_owned()),
        "{:?}",
        outcomes(&resumed)
    );
}

#[tokio::test]
async fn the_accounts_limits_refuse_entries_with_the_numbers_and_never_exits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), &["BTC", "ETH", "SOL"]).await;
    let now = at("2024-01-02");
    sync_until(&store, now).await;
    let known = ["BTC", "ETH", "SOL"].map(sym).to_vec();
    // Each entry costs about 1000 (size 1000, fee included): the order limit lets them
    // through, the daily limit takes two, and the open-positions limit is not reached.
    let mut config = config(vec![strategy("always", "close > 0", Some("close > 0"))]);
    config.account.max_order_notional = Some(dec!(1000));
    config.account.max_daily_notional = Some(dec!(2000));
    config.account.max_open_positions = Some(5);
    let limited = Trading::from_config(&config, &known).expect("valid");
    let run = sync_new_trades(&store, &limited, now).await.expect("trade");
    assert_eq!(
        outcomes(&run),
        [
            "always BTC opened",
            "always ETH opened",
            "always SOL refused"
        ]
    );
    let sol = &items(&run)[2];
    assert!(
        sol.explanation.contains("max_daily_notional 2000")
            && sol.explanation.contains("barter.toml"),
        "{}",
        sol.explanation
    );
    // A second strategy the same UTC day: the day's budget is spent by the first run.
    config.strategies = vec![strategy("second", "close > 0", None)];
    let second = Trading::from_config(&config, &known).expect("valid");
    let again = sync_new_trades(&store, &second, now)
        .await
        .expect("trade again");
    assert!(
        outcomes(&again).iter().all(|o| o.ends_with("refused")),
        "{:?}",
        outcomes(&again)
    );

    // The open-positions limit counts every strategy; exits are never limited.
    let mut tight = config.clone();
    tight.account.max_daily_notional = None;
    tight.account.max_open_positions = Some(2);
    tight.strategies = vec![strategy("third", "close > 0", None)];
    let third = Trading::from_config(&tight, &known).expect("valid");
    let next_day = at("2024-01-03");
    sync_until(&store, next_day).await;
    let run = sync_new_trades(&store, &third, next_day)
        .await
        .expect("trade");
    let refused = &items(&run)[0];
    assert_eq!(refused.outcome, "refused");
    assert!(
        refused.explanation.contains("2 open positions"),
        "{}",
        refused.explanation
    );
    let mut closing = tight.clone();
    closing.strategies = vec![strategy("always", "close > 0", Some("close > 0"))];
    let closer = Trading::from_config(&closing, &known).expect("valid");
    let closed = sync_close_positions(&store, &closer, next_day)
        .await
        .expect("close");
    assert_eq!(
        outcomes(&closed),
        ["always BTC closed", "always ETH closed"]
    );

    // A limit of 0 or below is refused when the config is loaded, naming the key.
    for text in [
        "[account]\nmax_order_notional = 0\n",
        "[account]\nmax_open_positions = 0\n",
    ] {
        let path = dir.path().join("barter.toml");
        std::fs::write(&path, text).expect("write the config");
        let error = barter_service::config::load(&path, true).expect_err("refused");
        assert!(error.to_string().contains("account.max_"), "{error}");
    }
}

/// A paper order already stored under a trade's key (its decision not yet recorded: a
/// hand-made row, or a database restored from another copy) is kept as it is: the trade is
/// booked, no second order is written beside it, and the stored one is not changed.
#[tokio::test]
async fn a_paper_order_already_stored_for_the_decision_is_kept_not_doubled() {
    use barter_core::order::{DecisionRef, Order, OrderAmount, OrderState, PAPER};
    let dir = tempfile::tempdir().expect("tempdir");
    let now = at("2024-01-02");
    let trading = trading(&["BTC"], vec![strategy("always", "close > 0", None)]);
    // The day the trade decides on, from a run on another database.
    let other = tempfile::tempdir().expect("tempdir");
    let first = store_with(other.path(), &["BTC"]).await;
    sync_until(&first, now).await;
    sync_new_trades(&first, &trading, now).await.expect("trade");
    let orders = first.orders(&Default::default()).await.expect("orders");
    let decision: DecisionRef = orders[0].decision().clone();

    let store = store_with(dir.path(), &["BTC"]).await;
    sync_until(&store, now).await;
    let amount = OrderAmount::Quantity(barter_core::Quantity(rust_decimal::Decimal::ONE));
    let stored = Order::planned(PAPER, decision, amount).expect("an order");
    store
        .plan_order(&stored, now)
        .await
        .expect("planned beforehand");
    let run = sync_new_trades(&store, &trading, now).await.expect("trade");
    assert_eq!(outcomes(&run), ["always BTC opened"]);
    assert_eq!(store.positions(None).await.expect("positions").len(), 1);
    let orders = store.orders(&Default::default()).await.expect("orders");
    assert_eq!(orders.len(), 1, "no second order beside the stored one");
    assert_eq!(orders[0].state(), OrderState::Planned);
    assert_eq!(orders[0].amount(), amount);
    assert_eq!(orders[0].client_order_id(), stored.client_order_id());
}

#[tokio::test]
async fn every_paper_trade_has_its_filled_order_in_the_outbox() {
    use barter_core::order::OrderState;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with(dir.path(), &["BTC"]).await;
    let now = at("2024-01-02");
    sync_until(&store, now).await;
    let trading = trading(
        &["BTC"],
        vec![strategy("always", "close > 0", Some("close > 0"))],
    );
    sync_new_trades(&store, &trading, now).await.expect("trade");
    let again = sync_new_trades(&store, &trading, now)
        .await
        .expect("trade again");
    assert_eq!(outcomes(&again), ["always BTC already_decided"]);
    let orders = store
        .orders(&barter_store::OrderFilter::default())
        .await
        .expect("orders");
    assert_eq!(
        orders.len(),
        1,
        "one order per decision, however often the job runs"
    );
    let buy = &orders[0];
    let position = &store.positions(None).await.expect("positions")[0];
    assert_eq!(buy.account(), "paper");
    assert_eq!(buy.state(), OrderState::Filled);
    assert_eq!(buy.filled_quantity(), position.quantity);
    assert_eq!(buy.fills()[0].price, position.entry_price);
    assert_eq!(buy.fills()[0].fee, position.entry_fee.0);
    assert_eq!(buy.fills()[0].fee_asset, "USD");
    assert_eq!(
        buy.net_quantity("BTC").expect("net"),
        position.quantity,
        "fees in USD"
    );

    let next_day = at("2024-01-03");
    sync_until(&store, next_day).await;
    sync_close_positions(&store, &trading, next_day)
        .await
        .expect("close");
    let orders = store
        .orders(&barter_store::OrderFilter::default())
        .await
        .expect("orders");
    assert_eq!(orders.len(), 2);
    let sell = &orders[0];
    assert_eq!(sell.side(), barter_core::Side::Sell);
    assert_eq!(sell.state(), OrderState::Filled);
    assert_eq!(sell.filled_quantity(), position.quantity);

    // The explanation of the position shows both orders, opening first.
    let explained = barter_service::views::explanation(&store, position.id)
        .await
        .expect("explain")
        .expect("the position exists");
    let sides: Vec<_> = explained
        .orders
        .iter()
        .map(|o| o.record.decision.side)
        .collect();
    assert_eq!(sides, [barter_core::Side::Buy, barter_core::Side::Sell]);
    assert_eq!(
        explained.orders[0].record.client_order_id,
        *buy.client_order_id()
    );
}
