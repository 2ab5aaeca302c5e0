//! The trade and close jobs through a venue account (`[accounts.NAME]`) against the in-process
//! Binance fake, on SQLite and PostgreSQL: the decision and its planned order are committed
//! before the order leaves, the order is sent once however the venue answers, the position is
//! booked from the venue's fills, and a later job resolves and books what an earlier one left.
//! In every case: exactly one order at the fake per decision, and the ledger equals the fake's
//! record.

use std::collections::BTreeMap;

use barter_core::execution::Side;
use barter_core::order::{ClientOrderId, OrderState};
use barter_core::{Day, Position};
use barter_fakes::binance::{FakeBinance, KEY, OnOrder, SECRET};
use barter_service::accounts::{
    AccountSettings, BINANCE_API_KEY_VAR, BINANCE_API_SECRET_VAR, Environment, VenueKind,
};
use barter_service::trading::{Trading, TradingAccount};
use barter_store::orders::OrderFilter;

use super::*;

const ACCOUNT: &str = "testnet";

/// A Binance fake whose account holds none of what the tests trade (the fixture's BTC and
/// BNB would be reported as drift by every job).
async fn fake_binance() -> FakeBinance {
    let fake = FakeBinance::start().await;
    fake.set_balance("BTC", rust_decimal::Decimal::ZERO);
    fake.set_balance("BNB", rust_decimal::Decimal::ZERO);
    fake
}

fn settings(fake: &FakeBinance) -> AccountSettings {
    AccountSettings {
        venue: VenueKind::Binance,
        environment: Environment::Testnet,
        live: false,
        base_url: Some(fake.url.clone()),
        recv_window_ms: None,
        symbols: BTreeMap::from([("BTC".to_owned(), "BTCUSDT".to_owned())]),
        max_order_notional: None,
        max_daily_notional: None,
        max_open_positions: None,
        min_free_balance: None,
        timeout_secs: Some(2),
    }
}

/// A strategy trading BTC through the fake's account.
fn venue_trading(fake: &FakeBinance, entry: &str, exit: Option<&str>) -> Trading {
    let vars = |name: &str| match name {
        BINANCE_API_KEY_VAR => Some(KEY.to_owned()),
        BINANCE_API_SECRET_VAR => Some(SECRET.to_owned()),
        _ => None,
    };
    account_trading(
        strategy("live", entry, exit),
        "BTC",
        ACCOUNT,
        &settings(fake),
        vars,
    )
}

/// `s` trading `symbol` through account `name` with `settings`, its keys read from `vars`.
fn account_trading(
    mut s: StrategyConfig,
    symbol: &str,
    name: &str,
    settings: &AccountSettings,
    vars: impl Fn(&str) -> Option<String>,
) -> Trading {
    s.instruments = InstrumentSelection::Only(vec![sym(symbol)]);
    s.account = Some(name.to_owned());
    let mut cfg = config(vec![s]);
    cfg.accounts.insert(name.to_owned(), settings.clone());
    let mut trading = Trading::from_config(&cfg, &[sym(symbol)]).expect("valid strategies");
    // The jobs run for days of the sample's history: let the venue trade on them.
    trading.venue_clock_tolerance = chrono::TimeDelta::MAX;
    // The keys come from a map, not the process environment (tests run in parallel).
    let venue = settings.build(name, vars).expect("venue");
    trading.accounts.insert(
        name.to_owned(),
        Ok(TradingAccount {
            name: name.to_owned(),
            venue,
            limits: settings.limits(),
        }),
    );
    trading
}

fn client_id(day: &str, side: Side) -> String {
    let day: Day = day.parse().expect("day");
    ClientOrderId::derive(ACCOUNT, "live", &sym("BTC"), day, side).to_string()
}

async fn account_positions(store: &Store) -> Vec<Position> {
    store.positions(None).await.expect("positions")
}

/// The ledger equals the fake: one order per client id, the stored order filled with the
/// fake's executed quantity.
async fn assert_ledger_matches(store: &Store, fake: &FakeBinance, ids: &[String]) {
    let filter = OrderFilter {
        account: Some(ACCOUNT.to_owned()),
        ..OrderFilter::default()
    };
    let orders = store.orders(&filter).await.expect("orders");
    assert_eq!(orders.len(), ids.len(), "{orders:?}");
    for id in ids {
        let placed = fake.placements(id);
        assert_eq!(placed.len(), 1, "exactly one order at the venue for {id}");
        let stored = orders
            .iter()
            .find(|o| o.client_order_id().as_str() == id)
            .expect("stored order");
        assert_eq!(stored.state(), OrderState::Filled, "{stored:?}");
        assert_eq!(stored.executed_quantity().0, placed[0].executed_qty);
    }
}

/// Opens through the venue, reruns (nothing more is sent), then closes the next day.
async fn open_rerun_close(store: &Store) {
    let fake = fake_binance().await;
    let now = at("2024-01-02");
    sync_until(store, now).await;
    let trading = venue_trading(&fake, "close > 0", Some("close > 0"));
    let run = sync_new_trades(store, &trading, now).await.expect("trade");
    assert_eq!(outcomes(&run), ["live BTC opened"], "{run:?}");
    let buy = client_id("2024-01-01", Side::Buy);
    assert_ledger_matches(store, &fake, std::slice::from_ref(&buy)).await;
    let positions = account_positions(store).await;
    assert_eq!(positions.len(), 1);
    let placed = &fake.placements(&buy)[0];
    // A fee taken in BTC is not held: the position is the executed quantity net of it.
    let btc_fee: rust_decimal::Decimal = placed
        .fills
        .iter()
        .filter(|f| f.commission_asset == "BTC")
        .map(|f| f.commission)
        .sum();
    assert!(btc_fee > rust_decimal::Decimal::ZERO, "{placed:?}");
    assert_eq!(positions[0].quantity.0, placed.executed_qty - btc_fee);
    assert_eq!(positions[0].entry_price.0, barter_fakes::binance::PRICE);
    // The decision keeps the paper model's shadow fill to compare with the venue's.
    let decisions = store
        .decisions(&barter_store::trading::DecisionFilter::default())
        .await
        .expect("decisions");
    let entry = decisions
        .iter()
        .find(|d| d.symbol == sym("BTC"))
        .expect("entry");
    assert!(entry.detail.get("shadow").is_some(), "{:?}", entry.detail);
    assert_eq!(entry.detail["order"], buy.as_str());

    let again = sync_new_trades(store, &trading, now).await.expect("rerun");
    assert_eq!(outcomes(&again), ["live BTC already_decided"]);
    assert_eq!(fake.order_posts().len(), 1, "a rerun sends nothing");

    let next = at("2024-01-03");
    sync_until(store, next).await;
    let close = sync_close_positions(store, &trading, next)
        .await
        .expect("close");
    assert_eq!(outcomes(&close), ["live BTC closed"], "{close:?}");
    let sell = client_id("2024-01-02", Side::Sell);
    assert_ledger_matches(store, &fake, &[buy, sell]).await;
    let positions = account_positions(store).await;
    assert!(!positions[0].is_open(), "{positions:?}");
    // Each booked order sits next to the paper model's fill for the same decision.
    let shadows = store.shadow_fills(Some(ACCOUNT)).await.expect("shadows");
    assert_eq!(shadows.len(), 2, "{shadows:?}");
    assert_eq!(shadows[0].venue_price.0, barter_fakes::binance::PRICE);
    assert!(shadows.iter().all(|s| s.slippage_bps().is_some()));
    let views = barter_service::views::orders(store, &OrderFilter::default())
        .await
        .expect("views");
    assert!(views.iter().all(|v| v.shadow.is_some()), "{views:?}");
    let (per_strategy, total) = barter_service::views::shadow_summary(store, None)
        .await
        .expect("summary");
    assert_eq!(total.orders, 2);
    assert_eq!(per_strategy["live"].orders, 2);
    // `barter explain` finds the decisions and orders behind the position.
    let explained = barter_service::views::explanation(store, positions[0].id)
        .await
        .expect("explain")
        .expect("position");
    let kinds: Vec<String> = explained
        .decisions
        .iter()
        .map(|d| d.kind.to_string())
        .collect();
    assert_eq!(kinds, ["entry", "exit"]);
    assert_eq!(explained.orders.len(), 2);
    assert!(explained.orders.iter().all(|o| o.shadow.is_some()));
    assert_eq!(explained.fills.len(), 2);
}

/// The order post is placed but its answer is lost: the job leaves the order unknown and
/// books nothing; the next job looks it up, books the fill, and the venue holds one order.
async fn lost_answer_is_resolved_by_the_next_job(store: &Store, failure: OnOrder) {
    let fake = fake_binance().await;
    let now = at("2024-01-02");
    sync_until(store, now).await;
    let trading = venue_trading(&fake, "close > 0", None);
    fake.script(&[failure]);
    let run = sync_new_trades(store, &trading, now).await.expect("trade");
    assert_eq!(
        outcomes(&run),
        ["live BTC order_unknown"],
        "{failure:?}: {run:?}"
    );
    assert!(account_positions(store).await.is_empty());
    let buy = client_id("2024-01-01", Side::Buy);
    assert_eq!(fake.placements(&buy).len(), 1);

    let later = sync_new_trades(store, &trading, now).await.expect("resume");
    let report = outcomes(&later);
    assert!(
        report.contains(&"live BTC opened".to_owned()),
        "{failure:?}: {later:?}"
    );
    assert_ledger_matches(store, &fake, std::slice::from_ref(&buy)).await;
    assert_eq!(account_positions(store).await.len(), 1);
    // A third run finds nothing left to do.
    let third = sync_new_trades(store, &trading, now).await.expect("third");
    assert_eq!(outcomes(&third), ["live BTC already_decided"]);
    assert_eq!(fake.placements(&buy).len(), 1);
}

/// A venue that refuses the order (not enough balance): the order is rejected, nothing is
/// booked, and a rerun does not send it again.
async fn refused_order_is_final(store: &Store) {
    let fake = fake_binance().await;
    let now = at("2024-01-02");
    sync_until(store, now).await;
    let trading = venue_trading(&fake, "close > 0", None);
    fake.script(&[OnOrder::InsufficientBalance]);
    let run = sync_new_trades(store, &trading, now).await.expect("trade");
    assert_eq!(outcomes(&run), ["live BTC refused"], "{run:?}");
    let again = sync_new_trades(store, &trading, now).await.expect("rerun");
    assert_eq!(outcomes(&again), ["live BTC already_decided"]);
    assert_eq!(fake.order_posts().len(), 1);
    assert!(account_positions(store).await.is_empty());
}

/// A venue that cannot be reached: the entry is an error and is not recorded, so the next
/// run decides (and sends) it.
async fn unreachable_venue_records_nothing(store: &Store) {
    let fake = fake_binance().await;
    let now = at("2024-01-02");
    sync_until(store, now).await;
    let mut settings = settings(&fake);
    settings.base_url = Some("http://127.0.0.1:9".to_owned());
    let mut trading = venue_trading(&fake, "close > 0", None);
    let vars = |name: &str| match name {
        BINANCE_API_KEY_VAR => Some(KEY.to_owned()),
        BINANCE_API_SECRET_VAR => Some(SECRET.to_owned()),
        _ => None,
    };
    let dead = settings.build(ACCOUNT, vars).expect("venue");
    let working = std::mem::replace(
        trading.accounts.get_mut(ACCOUNT).expect("account"),
        Ok(TradingAccount {
            name: ACCOUNT.to_owned(),
            venue: dead,
            limits: settings.limits(),
        }),
    );
    let run = sync_new_trades(store, &trading, now).await.expect("trade");
    assert_eq!(outcomes(&run), ["live BTC error"], "{run:?}");
    trading.accounts.insert(ACCOUNT.to_owned(), working);
    let run = sync_new_trades(store, &trading, now).await.expect("trade");
    assert_eq!(outcomes(&run), ["live BTC opened"], "{run:?}");
    assert_eq!(fake.order_posts().len(), 1);
}

/// The instruments the scenarios of this module trade (see `on_both_backends!`).
const SYMBOLS: &[&str] = &["BTC"];

on_both_backends!(venue_entry_opens_once_and_exit_closes, open_rerun_close);
on_both_backends!(venue_refusal_is_final, refused_order_is_final);
on_both_backends!(
    venue_unreachable_records_nothing,
    unreachable_venue_records_nothing
);
/// The sell's answer is lost: the close job leaves the order unknown and the position open;
/// the next close job looks it up, closes the position once, and the venue holds one sell.
async fn lost_sell_answer_is_resolved_by_the_next_job(store: &Store) {
    let fake = fake_binance().await;
    let now = at("2024-01-02");
    sync_until(store, now).await;
    let trading = venue_trading(&fake, "close > 0", Some("close > 0"));
    let run = sync_new_trades(store, &trading, now).await.expect("trade");
    assert_eq!(outcomes(&run), ["live BTC opened"], "{run:?}");
    let next = at("2024-01-03");
    sync_until(store, next).await;
    fake.script(&[OnOrder::PlaceThenDrop]);
    let close = sync_close_positions(store, &trading, next)
        .await
        .expect("close");
    assert_eq!(outcomes(&close), ["live BTC order_unknown"], "{close:?}");
    assert!(account_positions(store).await[0].is_open());
    let again = sync_close_positions(store, &trading, next)
        .await
        .expect("resume");
    assert!(
        outcomes(&again).contains(&"live BTC closed".to_owned()),
        "{again:?}"
    );
    let sell = client_id("2024-01-02", Side::Sell);
    assert_ledger_matches(store, &fake, &[client_id("2024-01-01", Side::Buy), sell]).await;
    assert!(!account_positions(store).await[0].is_open());
}

async fn dropped(store: &Store) {
    lost_answer_is_resolved_by_the_next_job(store, OnOrder::PlaceThenDrop).await;
}

async fn answered_503(store: &Store) {
    lost_answer_is_resolved_by_the_next_job(store, OnOrder::PlaceThen503).await;
}

async fn answered_1007(store: &Store) {
    lost_answer_is_resolved_by_the_next_job(store, OnOrder::PlaceThen1007).await;
}

async fn timed_out(store: &Store) {
    lost_answer_is_resolved_by_the_next_job(store, OnOrder::PlaceThenHang).await;
}

on_both_backends!(venue_dropped_connection_is_resolved, dropped);
on_both_backends!(
    venue_lost_sell_answer_is_resolved,
    lost_sell_answer_is_resolved_by_the_next_job
);
on_both_backends!(venue_503_is_resolved, answered_503);
on_both_backends!(venue_1007_is_resolved, answered_1007);
on_both_backends!(venue_timeout_is_resolved, timed_out);

/// A dry run sends nothing and records nothing: Binance checks the order with `order/test`,
/// and the next real run decides and sends it.
async fn dry_run_sends_nothing(store: &Store) {
    let fake = fake_binance().await;
    let now = at("2024-01-02");
    sync_until(store, now).await;
    let mut trading = venue_trading(&fake, "close > 0", None);
    trading.dry_run = true;
    let run = sync_new_trades(store, &trading, now)
        .await
        .expect("dry run");
    assert_eq!(outcomes(&run), ["live BTC dry_run"], "{run:?}");
    assert!(items(&run)[0].explanation.contains("would send"), "{run:?}");
    assert_eq!(fake.test_orders(), 1);
    assert!(fake.order_posts().is_empty(), "a dry run places nothing");
    let filter = OrderFilter {
        account: Some(ACCOUNT.to_owned()),
        ..OrderFilter::default()
    };
    assert!(store.orders(&filter).await.expect("orders").is_empty());
    trading.dry_run = false;
    let run = sync_new_trades(store, &trading, now).await.expect("trade");
    assert_eq!(outcomes(&run), ["live BTC opened"], "{run:?}");
    assert_eq!(fake.order_posts().len(), 1);
}

/// Reconciliation reports drift and never trades it away: a position the venue no longer
/// holds is flagged and stays open.
async fn drift_is_reported_not_traded(store: &Store) {
    let fake = fake_binance().await;
    let now = at("2024-01-02");
    sync_until(store, now).await;
    let trading = venue_trading(&fake, "close > 0", None);
    let run = sync_new_trades(store, &trading, now).await.expect("trade");
    assert_eq!(outcomes(&run), ["live BTC opened"], "{run:?}");
    let reports = barter_service::reconcile::reconcile(store, &trading)
        .await
        .expect("reconcile");
    let venue = reports.iter().find(|r| r.name == ACCOUNT).expect("account");
    assert!(venue.error.is_none(), "{venue:?}");
    assert!(venue.drift.is_empty(), "{venue:?}");
    assert_eq!(venue.open_positions, 1);
    // Sold by hand at the venue.
    fake.set_balance("BTC", rust_decimal::Decimal::ZERO);
    let reports = barter_service::reconcile::reconcile(store, &trading)
        .await
        .expect("reconcile");
    let venue = reports.iter().find(|r| r.name == ACCOUNT).expect("account");
    assert_eq!(venue.drift.len(), 1, "{venue:?}");
    assert_eq!(venue.drift[0].asset, "BTC");
    assert!(
        venue.drift[0].note.contains("flagged, not closed"),
        "{venue:?}"
    );
    let orders_before = fake.order_posts().len();
    let next = at("2024-01-03");
    sync_until(store, next).await;
    // An exit passes, but there is nothing to sell: reported, nothing sent, position open.
    let exits = venue_trading(&fake, "close > 0", Some("close > 0"));
    let close = sync_close_positions(store, &exits, next)
        .await
        .expect("close");
    // Every job reports the drift in its run, too.
    assert_eq!(
        outcomes(&close),
        ["live BTC error", "reconcile:testnet BTC drift"],
        "{close:?}"
    );
    // And the drift is told, once per run, committed with the run.
    let told = store.unrouted_notifications(100).await.expect("read");
    let drift: Vec<&str> = told
        .iter()
        .filter(|(_, n)| n.kind == barter_core::notify::EventKind::Drift)
        .map(|(_, n)| n.key.as_str())
        .collect();
    assert!(
        drift.contains(&format!("drift:{}", close.id.0).as_str()),
        "{drift:?}"
    );
    assert_eq!(fake.order_posts().len(), orders_before);
    assert!(account_positions(store).await[0].is_open());
}

/// `barter status` over a venue account: drift is a critical attention item naming the
/// account, and a venue slower than the status's bound is reported as unreachable within the
/// bound instead of holding the report up.
async fn status_reports_drift_and_a_slow_venue_within_its_bound(store: &Store) {
    use barter_service::status::{AttentionKind, StatusOptions, status_with};
    let fake = fake_binance().await;
    let now = at("2024-01-02");
    sync_until(store, now).await;
    let trading = venue_trading(&fake, "close > 0", None);
    let run = sync_new_trades(store, &trading, now).await.expect("trade");
    assert_eq!(outcomes(&run), ["live BTC opened"], "{run:?}");
    let options = StatusOptions {
        venue_wait: std::time::Duration::from_secs(1),
    };
    let cfg = Config::default();
    let report = status_with(&cfg, store, Ok(&trading), now, options)
        .await
        .expect("status");
    let names: Vec<&str> = report.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["paper", ACCOUNT],
        "the paper account always comes first"
    );
    assert_eq!(report.positions.open, 1);
    assert_eq!(report.positions.by_strategy.get("live"), Some(&1));
    assert!(
        report.attention.iter().all(|i| i.subject != ACCOUNT),
        "reconciled: {:?}",
        report.attention
    );

    // Sold by hand at the venue.
    fake.set_balance("BTC", rust_decimal::Decimal::ZERO);
    let report = status_with(&cfg, store, Ok(&trading), now, options)
        .await
        .expect("status");
    let drift = report
        .attention
        .iter()
        .find(|i| i.kind == AttentionKind::AccountDrift)
        .expect("drift needs attention");
    assert_eq!(drift.subject, ACCOUNT);
    assert!(
        drift.message.contains("BTC -") && drift.message.contains("barter reconcile"),
        "{drift:?}"
    );
    assert!(!report.healthy);

    // A venue answering after 3 s: the report is back within about the 1 s bound.
    fake.set_latency(std::time::Duration::from_secs(3));
    let started = std::time::Instant::now();
    let report = status_with(&cfg, store, Ok(&trading), now, options)
        .await
        .expect("status");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2_500),
        "took {:?}",
        started.elapsed()
    );
    let slow = report
        .attention
        .iter()
        .find(|i| i.kind == AttentionKind::AccountUnreachable)
        .expect("an unreachable venue needs attention");
    assert_eq!(slow.subject, ACCOUNT);
    assert!(
        slow.message.contains("did not answer within 1 s"),
        "{slow:?}"
    );
}

on_both_backends!(
    status_reports_drift_and_a_slow_venue,
    status_reports_drift_and_a_slow_venue_within_its_bound
);

/// A market buy that ran out of liquidity (Binance `EXPIRED`, part filled) opens a position of
/// what was filled; the order keeps its state and reason.
async fn expired_part_fill_opens_what_was_filled(store: &Store) {
    let fake = fake_binance().await;
    let now = at("2024-01-02");
    sync_until(store, now).await;
    let trading = venue_trading(&fake, "close > 0", None);
    fake.script(&[OnOrder::ExpirePartly]);
    let run = sync_new_trades(store, &trading, now).await.expect("trade");
    assert_eq!(outcomes(&run), ["live BTC opened"], "{run:?}");
    let buy = client_id("2024-01-01", Side::Buy);
    let placed = &fake.placements(&buy)[0];
    assert!(placed.executed_qty < placed.orig_qty, "{placed:?}");
    let filter = OrderFilter {
        account: Some(ACCOUNT.to_owned()),
        ..OrderFilter::default()
    };
    let orders = store.orders(&filter).await.expect("orders");
    assert_eq!(orders[0].state(), OrderState::Expired);
    let btc_fee: rust_decimal::Decimal = placed
        .fills
        .iter()
        .filter(|f| f.commission_asset == "BTC")
        .map(|f| f.commission)
        .sum();
    let positions = account_positions(store).await;
    assert_eq!(positions[0].quantity.0, placed.executed_qty - btc_fee);
}

on_both_backends!(venue_dry_run_sends_nothing, dry_run_sends_nothing);
on_both_backends!(
    venue_expired_part_fill_opens_what_was_filled,
    expired_part_fill_opens_what_was_filled
);
on_both_backends!(
    venue_drift_is_reported_not_traded,
    drift_is_reported_not_traded
);

mod alpaca {
    //! A stock strategy through an Alpaca paper account: an order sent while the market is
    //! closed stays accepted and is booked by a later run once it fills, never sent twice.

    use barter_core::candle::{CandleOrigin, Ohlcv};
    use barter_core::{Calendar, Candle, Instrument};
    use barter_fakes::alpaca::{AlpacaFake, KEY_ID, SECRET_KEY, STOCK_PRICE};
    use barter_service::config::{
        ALPACA_KEY_ID_VAR as KEY_ID_VAR, ALPACA_SECRET_KEY_VAR as SECRET_KEY_VAR,
    };
    use rust_decimal::Decimal;

    use super::*;

    const PAPER_ACCOUNT: &str = "alpaca-paper";

    fn settings(fake: &AlpacaFake) -> AccountSettings {
        AccountSettings {
            venue: VenueKind::Alpaca,
            environment: Environment::Paper,
            live: false,
            base_url: Some(fake.url.clone()),
            recv_window_ms: None,
            symbols: BTreeMap::new(),
            max_order_notional: None,
            max_daily_notional: None,
            max_open_positions: None,
            min_free_balance: None,
            timeout_secs: Some(2),
        }
    }

    /// AAPL with weekday candles up to 2024-01-03.
    async fn with_aapl(store: &Store) {
        let aapl = Instrument::new(
            sym("AAPL"),
            "Apple",
            "USD",
            SourceKind::Csv,
            "aapl.csv",
            Calendar::Weekdays,
        )
        .expect("instrument");
        store.add_instrument(&aapl).await.expect("add");
        let today: Day = "2024-01-04".parse().expect("day");
        let mut day: Day = "2023-11-01".parse().expect("day");
        let mut candles = Vec::new();
        while day < today {
            if Calendar::Weekdays.trades_on(day) {
                let close = Decimal::from(190);
                let values = Ohlcv {
                    open: close,
                    high: close + Decimal::ONE,
                    low: close - Decimal::ONE,
                    close,
                    volume: Decimal::from(1000),
                };
                candles.push(
                    Candle::new(sym("AAPL"), day, values, true, CandleOrigin::CsvFile, today)
                        .expect("candle"),
                );
            }
            day = day.succ_opt().expect("next day");
        }
        store
            .write_candles(&sym("AAPL"), &candles)
            .await
            .expect("candles");
    }

    fn trading(fake: &AlpacaFake) -> Trading {
        let vars = |name: &str| match name {
            KEY_ID_VAR => Some(KEY_ID.to_owned()),
            SECRET_KEY_VAR => Some(SECRET_KEY.to_owned()),
            _ => None,
        };
        let s = strategy("stocks", "close > 0", None);
        account_trading(s, "AAPL", PAPER_ACCOUNT, &settings(fake), vars)
    }

    async fn pending_stock_order_is_booked_by_a_later_run(store: &Store) {
        let fake = AlpacaFake::start().await;
        // The fixture's positions are not Barter's: without them, no job reports drift.
        fake.set_position("AAPL", Decimal::ZERO);
        fake.set_position("BTCUSD", Decimal::ZERO);
        with_aapl(store).await;
        let trading = trading(&fake);
        let now = at("2024-01-03");
        let run = sync_new_trades(store, &trading, now).await.expect("trade");
        assert_eq!(outcomes(&run), ["stocks AAPL order_pending"], "{run:?}");
        assert!(account_positions(store).await.is_empty());
        let id = ClientOrderId::derive(
            PAPER_ACCOUNT,
            "stocks",
            &sym("AAPL"),
            "2024-01-02".parse().expect("day"),
            Side::Buy,
        )
        .to_string();
        assert_eq!(fake.placements(&id), 1);

        // Still closed: the next run looks it up and leaves it pending, sending nothing.
        let again = sync_new_trades(store, &trading, now).await.expect("again");
        assert!(
            outcomes(&again).contains(&"stocks AAPL order_pending".to_owned()),
            "{again:?}"
        );
        assert_eq!(fake.order_count(), 1);

        // The next trading day, still closed: the new entry passes but no second buy goes
        // out beside the open one.
        let next_day = at("2024-01-04");
        let next = sync_new_trades(store, &trading, next_day)
            .await
            .expect("next day");
        assert_eq!(
            outcomes(&next),
            ["stocks AAPL order_pending", "stocks AAPL skipped"]
        );
        assert!(
            items(&next)[1].explanation.contains("still open"),
            "{next:?}"
        );
        assert_eq!(fake.order_count(), 1);

        fake.open_market();
        let later = sync_new_trades(store, &trading, now).await.expect("later");
        assert!(
            outcomes(&later).contains(&"stocks AAPL opened".to_owned()),
            "{later:?}"
        );
        assert_eq!(fake.placements(&id), 1);
        let positions = account_positions(store).await;
        assert_eq!(positions.len(), 1);
        assert_eq!(positions[0].entry_price.0.to_string(), STOCK_PRICE);
        assert_eq!(positions[0].quantity.0, fake.position("AAPL"));
    }

    on_both_backends!(
        alpaca_pending_stock_order_is_booked_later,
        pending_stock_order_is_booked_by_a_later_run
    );
}
