//! The Alpaca venue against an in-process fake of the Trading API, driven through the
//! exactly-once [`Dispatcher`] with the store's outbox: one order at the fake per decision,
//! whatever the fake does, and the ledger equal to the fake's record.

use std::time::Duration;

use barter_core::execution::Side;
use barter_core::order::{DecisionRef, Order, OrderAmount, OrderState};
use barter_core::{Candle, CandleOrigin, Day, Money, Ohlcv, Price, Quantity, Symbol};
use barter_execution::alpaca::{ALPACA, AlpacaSetupError};
use barter_execution::dispatch::Resolution;
use barter_execution::{
    Alpaca, AlpacaCredentials, AlpacaSettings, Dispatcher, InstrumentAssets, LookupPolicy,
    MarketReference, StoreOutbox, Venue, VenueAccount, VenueError,
};
use barter_fakes::alpaca::{AlpacaFake, KEY_ID, Post, SECRET_KEY};
use barter_http::Settings;
use barter_store::Store;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::Value;

fn http() -> Settings {
    Settings {
        requests_per_minute: 60_000,
        timeout_secs: 0.5,
        max_retries: 1,
        backoff_base_secs: 0.0,
        max_retry_wait_secs: 5.0,
    }
}

fn venue_with(fake: &AlpacaFake, secret: &str) -> Result<Alpaca, AlpacaSetupError> {
    let mut settings = AlpacaSettings::new(&fake.url, http());
    settings.lookup_policy = LookupPolicy {
        attempts: 3,
        interval: Duration::ZERO,
    };
    Alpaca::new(
        settings,
        AlpacaCredentials {
            key_id: KEY_ID.into(),
            secret_key: secret.into(),
        },
    )
}

fn venue(fake: &AlpacaFake) -> Alpaca {
    venue_with(fake, SECRET_KEY).expect("venue")
}

async fn outbox() -> StoreOutbox {
    StoreOutbox::new(Store::connect("sqlite::memory:").await.expect("sqlite"))
}

/// Runs `scenario` with an outbox on SQLite, then on PostgreSQL when
/// `BARTER_TEST_POSTGRES_URL` is set (in a schema of its own, dropped afterwards).
async fn on_every_backend<F, Fut>(scenario: F)
where
    F: Fn(StoreOutbox) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    scenario(outbox().await).await;
    match std::env::var("BARTER_TEST_POSTGRES_URL") {
        Ok(url) => {
            static SCHEMA: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let schema = format!(
                "barter_alpaca_{}_{}",
                std::process::id(),
                SCHEMA.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let store = Store::connect_postgres_in_schema(&url, &schema)
                .await
                .expect("postgres");
            scenario(StoreOutbox::new(store.clone())).await;
            store.drop_schema().await.expect("drop the test schema");
        }
        Err(_) => eprintln!(
            "SKIPPED postgres: BARTER_TEST_POSTGRES_URL is not set; the PostgreSQL variants of \
             the Alpaca scenarios did not run"
        ),
    }
}

fn day(text: &str) -> Day {
    text.parse().expect("day")
}

fn market(symbol: &str, close: Decimal) -> MarketReference {
    let candle = Candle::new(
        Symbol::parse(symbol).expect("symbol"),
        day("2026-12-06"),
        Ohlcv {
            open: close,
            high: close,
            low: close,
            close,
            volume: dec!(1),
        },
        true,
        CandleOrigin::Sample,
        day("2030-01-01"),
    )
    .expect("candle");
    MarketReference {
        decision: candle,
        next: None,
        quote_asset: "USD".into(),
    }
}

fn decision(symbol: &str, amount: OrderAmount) -> Order {
    Order::planned(
        "main",
        DecisionRef {
            strategy: "sma-cross".into(),
            symbol: Symbol::parse(symbol).expect("symbol"),
            day: day("2026-12-06"),
            side: Side::Buy,
        },
        amount,
    )
    .expect("order")
}

fn btc() -> (Order, MarketReference) {
    (
        decision("BTC", OrderAmount::Quantity(Quantity(dec!(0.010549)))),
        market("BTC", dec!(98000)),
    )
}

fn aapl() -> (Order, MarketReference) {
    (
        decision("AAPL", OrderAmount::Quantity(Quantity(dec!(10)))),
        market("AAPL", dec!(230)),
    )
}

/// One daily run as the live job does it: resolve what earlier runs left, then plan today's
/// decision (its key lets one order in) and send what is planned.
async fn run(venue: &Alpaca, outbox: &StoreOutbox, order: &Order, market: &MarketReference) {
    let dispatcher = Dispatcher::new(venue, outbox);
    let resolutions = dispatcher
        .resolve_unresolved("main")
        .await
        .expect("resolve");
    for resolution in resolutions {
        if let Resolution::Planned(planned) | Resolution::NotPlaced(planned) = resolution {
            dispatcher.send(planned, market).await.expect("send");
        }
    }
    let planned = outbox.plan(order).await.expect("plan");
    if planned.state() == OrderState::Planned {
        dispatcher.send(planned, market).await.expect("send");
    }
}

async fn stored(outbox: &StoreOutbox, order: &Order) -> Order {
    outbox
        .find("main", order.client_order_id().as_str())
        .await
        .expect("read")
        .expect("stored")
}

fn decimal(value: &Value) -> Decimal {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
}

/// The ledger equals the fake: one order, same venue id, executed quantity and average price.
async fn assert_agree(fake: &AlpacaFake, outbox: &StoreOutbox, order: &Order) {
    let id = order.client_order_id().as_str();
    assert_eq!(fake.placements(id), 1, "one order at the fake");
    let record = fake.order(id).expect("the fake holds it");
    let stored = stored(outbox, order).await;
    assert_eq!(stored.venue_order_id(), record["id"].as_str());
    assert_eq!(stored.executed_quantity().0, decimal(&record["filled_qty"]));
    let expected_state = match record["status"].as_str() {
        Some("filled") => OrderState::Filled,
        Some("accepted") => OrderState::Accepted,
        other => panic!("unexpected fake status {other:?}"),
    };
    assert_eq!(stored.state(), expected_state);
    if expected_state == OrderState::Filled {
        assert!(stored.fills_complete());
        let average = stored.average_price().expect("average").expect("filled");
        assert_eq!(average.0, decimal(&record["filled_avg_price"]));
    }
}

#[tokio::test]
async fn account_asset_and_clock_are_read_with_both_key_headers() {
    let fake = AlpacaFake::start().await;
    let venue = venue(&fake);
    let account = venue.account().await.expect("account");
    assert!(account.can_trade() && account.can_trade_crypto());
    assert_eq!(account.buying_power, dec!(96647.57));
    assert_eq!(account.cash, dec!(96647.57));
    let aapl = venue
        .asset(&Symbol::parse("AAPL").expect("symbol"))
        .await
        .expect("asset")
        .expect("known");
    assert!(aapl.tradable && aapl.fractionable);
    assert_eq!(aapl.rules.step_size, Quantity(dec!(0.000000001)));
    let btc = venue
        .asset(&Symbol::parse("BTCUSD").expect("symbol"))
        .await
        .expect("asset")
        .expect("known");
    assert_eq!(btc.symbol, "BTC/USD");
    assert_eq!(btc.rules.symbol.as_str(), "BTCUSD");
    assert_eq!(btc.rules.step_size, Quantity(dec!(0.0001)));
    assert_eq!(btc.rules.min_quantity, Quantity(dec!(0.0001)));
    assert_eq!(btc.rules.tick_size, Price(dec!(1)));
    let unknown = venue
        .asset(&Symbol::parse("NOPE").expect("symbol"))
        .await
        .expect("asset");
    assert!(unknown.is_none());
    let clock = venue.clock().await.expect("clock");
    assert!(!clock.is_open);
    assert_eq!(clock.next_open.to_rfc3339(), "2026-12-07T09:30:00-05:00");
    assert_eq!(fake.unauthorized(), 0, "every request carried both keys");
    assert!(!venue.is_live());
    assert_eq!(venue.name(), ALPACA);
}

#[tokio::test]
async fn wrong_keys_are_unavailable_naming_the_headers_and_never_echoed() {
    let fake = AlpacaFake::start().await;
    let wrong = "wrong-secret-0123456789";
    let venue = venue_with(&fake, wrong).expect("venue");
    let error = venue.account().await.expect_err("401");
    let text = error.to_string();
    assert!(matches!(error, VenueError::Unavailable { .. }), "{error:?}");
    assert!(text.contains("APCA-API-SECRET-KEY"), "{text}");
    assert!(text.contains("BARTER_ALPACA_KEY_ID"), "{text}");
    assert!(!text.contains(wrong) && !text.contains(KEY_ID), "{text}");
    // An order post with wrong keys is not placed, and the dispatcher looks it up next time.
    let outbox = outbox().await;
    let (order, market) = btc();
    run(&venue, &outbox, &order, &market).await;
    assert_eq!(fake.order_count(), 0);
    assert_eq!(stored(&outbox, &order).await.state(), OrderState::Unknown);
    let debug = format!("{:?}", stored(&outbox, &order).await);
    assert!(!debug.contains(wrong), "{debug}");
}

#[tokio::test]
async fn a_crypto_order_is_sent_as_btc_usd_gtc_rounded_down_and_booked_net_of_the_fee() {
    on_every_backend(
        a_crypto_order_is_sent_as_btc_usd_gtc_rounded_down_and_booked_net_of_the_fee_on,
    )
    .await;
}

async fn a_crypto_order_is_sent_as_btc_usd_gtc_rounded_down_and_booked_net_of_the_fee_on(
    outbox: StoreOutbox,
) {
    let outbox = &outbox;
    let fake = AlpacaFake::start().await;
    let venue = venue(&fake);
    let (order, market) = btc();
    run(&venue, outbox, &order, &market).await;
    let posts = fake.posts();
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post["symbol"], "BTC/USD");
    assert_eq!(post["qty"], "0.0105", "rounded down to min_trade_increment");
    assert_eq!(post["time_in_force"], "gtc");
    assert_eq!(post["type"], "market");
    assert_eq!(post["side"], "buy");
    assert_eq!(post["client_order_id"], order.client_order_id().as_str());
    assert!(post.get("notional").is_none());
    assert_eq!(fake.content_types(), ["application/json"]);
    assert_agree(&fake, outbox, &order).await;
    let stored = stored(outbox, &order).await;
    assert_eq!(stored.fills()[0].fee_asset, "BTC");
    // positions.json: 0.0105 BTC bought, 0.01047375 held after the 0.25% fee.
    assert_eq!(
        stored.net_quantity("BTC").expect("net"),
        Quantity(dec!(0.01047375))
    );
}

#[tokio::test]
async fn a_stock_order_sent_while_closed_is_accepted_then_booked_by_a_later_lookup() {
    on_every_backend(a_stock_order_sent_while_closed_is_accepted_then_booked_by_a_later_lookup_on)
        .await;
}

async fn a_stock_order_sent_while_closed_is_accepted_then_booked_by_a_later_lookup_on(
    outbox: StoreOutbox,
) {
    let outbox = &outbox;
    let fake = AlpacaFake::start().await;
    let venue = venue(&fake);
    let (order, market) = aapl();
    run(&venue, outbox, &order, &market).await;
    assert_eq!(fake.posts()[0]["time_in_force"], "day");
    assert_eq!(fake.posts()[0]["qty"], "10");
    assert_eq!(stored(outbox, &order).await.state(), OrderState::Accepted);
    assert_agree(&fake, outbox, &order).await;
    // A second run before the open only looks it up: still accepted, nothing sent.
    run(&venue, outbox, &order, &market).await;
    assert_eq!(fake.posts().len(), 1);
    assert_eq!(stored(outbox, &order).await.state(), OrderState::Accepted);
    fake.open_market();
    assert!(venue.clock().await.expect("clock").is_open);
    run(&venue, outbox, &order, &market).await;
    assert_eq!(fake.posts().len(), 1, "never re-sent");
    let booked = stored(outbox, &order).await;
    assert_eq!(booked.state(), OrderState::Filled);
    assert_eq!(booked.fills().len(), 1);
    assert_eq!(booked.fills()[0].price, Price(dec!(231.87)));
    assert_eq!(booked.fills()[0].fee, Decimal::ZERO);
    assert_eq!(booked.net_quote("USD").expect("cost"), Money(dec!(2318.7)));
    assert_agree(&fake, outbox, &order).await;
}

#[tokio::test]
async fn a_quote_amount_on_a_fractionable_stock_is_sent_as_notional() {
    on_every_backend(a_quote_amount_on_a_fractionable_stock_is_sent_as_notional_on).await;
}

async fn a_quote_amount_on_a_fractionable_stock_is_sent_as_notional_on(outbox: StoreOutbox) {
    let outbox = &outbox;
    let fake = AlpacaFake::start().await;
    fake.open_market();
    let venue = venue(&fake);
    let order = decision("AAPL", OrderAmount::Quote(Money(dec!(500))));
    run(&venue, outbox, &order, &market("AAPL", dec!(230))).await;
    let post = &fake.posts()[0];
    assert_eq!(post["notional"], "500");
    assert!(post.get("qty").is_none(), "{post}");
    assert_eq!(post["time_in_force"], "day");
    assert_agree(&fake, outbox, &order).await;
}

#[tokio::test]
async fn every_lost_answer_is_looked_up_and_booked_once() {
    for lost in [
        Post::DropAfterAccept,
        Post::ErrorAfterAccept,
        Post::TimeoutAfterAccept,
    ] {
        on_every_backend(|outbox| async move { lost_answer_on(lost, outbox).await }).await;
    }
}

async fn lost_answer_on(lost: Post, outbox: StoreOutbox) {
    {
        let fake = AlpacaFake::start().await;
        fake.script(&[lost]);
        let venue = venue(&fake);
        let (order, market) = btc();
        run(&venue, &outbox, &order, &market).await;
        assert_eq!(
            stored(&outbox, &order).await.state(),
            OrderState::Unknown,
            "{lost:?}"
        );
        run(&venue, &outbox, &order, &market).await;
        run(&venue, &outbox, &order, &market).await;
        assert_eq!(fake.posts().len(), 1, "{lost:?}: never re-sent");
        assert_eq!(
            stored(&outbox, &order).await.state(),
            OrderState::Filled,
            "{lost:?}"
        );
        assert_agree(&fake, &outbox, &order).await;
    }
}

#[tokio::test]
async fn a_rate_limit_is_unavailable_with_the_wait_alpaca_asked_for() {
    let fake = AlpacaFake::start().await;
    fake.script(&[Post::RateLimited]);
    let venue = venue(&fake);
    let (order, market) = btc();
    let mut sent = order.clone();
    sent.apply(barter_core::order::OrderEvent::Sent)
        .expect("sent");
    match venue.submit(&sent, &market).await {
        Err(VenueError::Unavailable { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(1)));
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert_eq!(fake.order_count(), 0);
}

#[tokio::test]
async fn a_rate_limited_order_is_sent_again_with_the_same_id_once_lookups_agree() {
    on_every_backend(rate_limited_on).await;
}

async fn rate_limited_on(outbox: StoreOutbox) {
    let outbox = &outbox;
    let fake = AlpacaFake::start().await;
    fake.script(&[Post::RateLimited]);
    let venue = venue(&fake);
    let (order, market) = btc();
    run(&venue, outbox, &order, &market).await;
    assert_eq!(stored(outbox, &order).await.state(), OrderState::Unknown);
    assert_eq!(fake.order_count(), 0);
    // Next run: three lookups find nothing, so it is sent again with the same id.
    run(&venue, outbox, &order, &market).await;
    let posts = fake.posts();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0]["client_order_id"], posts[1]["client_order_id"]);
    assert_agree(&fake, outbox, &order).await;
}

#[tokio::test]
async fn a_venue_error_quoting_the_keys_is_stored_without_them() {
    let fake = AlpacaFake::start().await;
    fake.script(&[Post::RefuseEchoingKeys]);
    let venue = venue(&fake);
    let outbox = outbox().await;
    let (order, market) = aapl();
    run(&venue, &outbox, &order, &market).await;
    let stored = stored(&outbox, &order).await;
    assert_eq!(stored.state(), OrderState::Rejected);
    let reason = stored.reason().unwrap_or_default();
    assert!(reason.contains("invalid order from ***"), "{reason}");
    assert!(
        !reason.contains(SECRET_KEY) && !reason.contains(KEY_ID),
        "{reason}"
    );
}

#[tokio::test]
async fn insufficient_buying_power_is_a_final_refusal_with_its_code() {
    on_every_backend(insufficient_buying_power_is_a_final_refusal_with_its_code_on).await;
}

async fn insufficient_buying_power_is_a_final_refusal_with_its_code_on(outbox: StoreOutbox) {
    let outbox = &outbox;
    let fake = AlpacaFake::start().await;
    fake.script(&[Post::InsufficientBuyingPower]);
    let venue = venue(&fake);
    let (order, market) = aapl();
    run(&venue, outbox, &order, &market).await;
    run(&venue, outbox, &order, &market).await;
    let stored = stored(outbox, &order).await;
    assert_eq!(stored.state(), OrderState::Rejected);
    let reason = stored.reason().unwrap_or_default();
    assert!(
        reason.contains("insufficient buying power") && reason.contains("40310000"),
        "{reason}"
    );
    assert_eq!(fake.posts().len(), 1, "never retried");
    assert_eq!(fake.order_count(), 0);
}

#[tokio::test]
async fn an_order_below_the_crypto_minimum_is_refused_without_sending() {
    on_every_backend(an_order_below_the_crypto_minimum_is_refused_without_sending_on).await;
}

async fn an_order_below_the_crypto_minimum_is_refused_without_sending_on(outbox: StoreOutbox) {
    let outbox = &outbox;
    let fake = AlpacaFake::start().await;
    let venue = venue(&fake);
    let order = decision("BTC", OrderAmount::Quantity(Quantity(dec!(0.00005))));
    run(&venue, outbox, &order, &market("BTC", dec!(98000))).await;
    let stored = stored(outbox, &order).await;
    assert_eq!(stored.state(), OrderState::Rejected);
    assert!(fake.posts().is_empty());
}

#[tokio::test]
async fn a_duplicate_client_order_id_is_looked_up_not_refused() {
    on_every_backend(a_duplicate_client_order_id_is_looked_up_not_refused_on).await;
}

async fn a_duplicate_client_order_id_is_looked_up_not_refused_on(outbox: StoreOutbox) {
    let outbox = &outbox;
    // The first post is placed but its answer lost, and the order stays invisible to the
    // next run's three lookups, so that run sends it again: Alpaca answers 422 "must be
    // unique", which proves the order exists; the run after finds and books it.
    let fake = AlpacaFake::start().await;
    fake.script(&[Post::DropAfterAccept]);
    fake.invisible_for(3);
    let venue = venue(&fake);
    let (order, market) = btc();
    run(&venue, outbox, &order, &market).await;
    run(&venue, outbox, &order, &market).await;
    assert_eq!(fake.posts().len(), 2);
    assert_eq!(stored(outbox, &order).await.state(), OrderState::Unknown);
    run(&venue, outbox, &order, &market).await;
    assert_eq!(fake.posts().len(), 2);
    assert_eq!(stored(outbox, &order).await.state(), OrderState::Filled);
    assert_agree(&fake, outbox, &order).await;
}

#[tokio::test]
async fn an_unknown_client_order_id_is_not_found() {
    let fake = AlpacaFake::start().await;
    let venue = venue(&fake);
    let (order, _) = aapl();
    assert_eq!(venue.lookup(&order).await.expect("lookup"), None);
}

fn symbol(text: &str) -> Symbol {
    Symbol::parse(text).expect("symbol")
}

#[tokio::test]
async fn holdings_are_cash_and_positions_and_follow_the_fills() {
    let fake = AlpacaFake::start().await;
    let venue = venue(&fake);
    venue.prepare().await.expect("prepare");
    let before = venue.holdings().await.expect("holdings");
    assert!(before.can_trade);
    // The fixtures: cash, 10 AAPL and the BTC bought net of its fee.
    assert_eq!(before.total("USD"), dec!(96647.57));
    assert_eq!(before.free("USD"), dec!(96647.57));
    assert_eq!(before.total("AAPL"), dec!(10));
    assert_eq!(before.free("BTCUSD"), dec!(0.01047375));
    let (order, market) = btc();
    run(&venue, &outbox().await, &order, &market).await;
    let after = venue.holdings().await.expect("holdings");
    // 0.0105 BTC at 98450.5, the 0.25 % fee taken in the coin received.
    assert_eq!(
        after.total("BTCUSD") - before.total("BTCUSD"),
        dec!(0.0105) * (Decimal::ONE - dec!(0.0025))
    );
    assert_eq!(
        before.total("USD") - after.total("USD"),
        dec!(0.0105) * dec!(98450.5)
    );
    // A stock order queued while the market is closed holds back cash until it fills.
    let (order, market) = aapl();
    run(&venue, &outbox().await, &order, &market).await;
    let queued = venue.holdings().await.expect("holdings");
    assert_eq!(queued.total("USD"), after.total("USD"));
    assert!(queued.free("USD") < queued.total("USD"));
    assert_eq!(queued.total("AAPL"), dec!(10));
    fake.open_market();
    let filled = venue.holdings().await.expect("holdings");
    assert_eq!(filled.total("AAPL"), dec!(20));
    assert_eq!(filled.free("USD"), filled.total("USD"));
    // Manual trades and deposits show at once.
    fake.set_position("BTC/USD", Decimal::ZERO);
    fake.set_position("MSFT", dec!(3));
    fake.set_cash(dec!(1000));
    let drifted = venue.holdings().await.expect("holdings");
    assert_eq!(drifted.total("BTCUSD"), Decimal::ZERO);
    assert!(drifted.assets.iter().all(|a| a.asset != "BTCUSD"));
    assert_eq!(drifted.free("MSFT"), dec!(3));
    assert_eq!(drifted.total("USD"), dec!(1000));
}

#[tokio::test]
async fn instrument_assets_name_stocks_and_crypto_as_holdings_do() {
    let fake = AlpacaFake::start().await;
    let venue = venue(&fake);
    let assets = |base: &str| InstrumentAssets {
        base: base.into(),
        quote: "USD".into(),
    };
    let aapl = venue.instrument_assets(&symbol("AAPL")).await;
    assert_eq!(aapl.expect("AAPL"), assets("AAPL"));
    let btc = venue.instrument_assets(&symbol("BTC")).await;
    assert_eq!(btc.expect("BTC"), assets("BTCUSD"));
    let btcusd = venue.instrument_assets(&symbol("BTCUSD")).await;
    assert_eq!(btcusd.expect("BTCUSD"), assets("BTCUSD"));
    let error = venue
        .instrument_assets(&symbol("ZZZZ"))
        .await
        .expect_err("unknown");
    assert!(matches!(error, VenueError::Unavailable { .. }), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("ZZZZ") && text.contains("Alpaca symbol"),
        "{text}"
    );
}

#[tokio::test]
async fn prepare_and_dry_runs_refuse_an_account_that_cannot_trade() {
    let fake = AlpacaFake::start().await;
    let venue = venue(&fake);
    venue.prepare().await.expect("active");
    fake.block(true, false);
    let error = venue.prepare().await.expect_err("blocked");
    assert!(matches!(error, VenueError::Unavailable { .. }), "{error}");
    assert!(error.to_string().contains("trading_blocked"), "{error}");
    let (order, market) = btc();
    let error = venue.dry_run(&order, &market).await.expect_err("blocked");
    assert!(error.to_string().contains("trading_blocked"), "{error}");
    fake.block(false, true);
    let error = venue.prepare().await.expect_err("blocked");
    assert!(error.to_string().contains("account_blocked"), "{error}");
    fake.block(false, false);
    fake.set_status("INACTIVE");
    let error = venue.prepare().await.expect_err("inactive");
    assert!(error.to_string().contains("INACTIVE"), "{error}");
    assert!(fake.posts().is_empty());
}

#[tokio::test]
async fn a_dry_run_builds_what_submit_sends_and_never_posts() {
    let fake = AlpacaFake::start().await;
    let venue = venue(&fake);
    let (order, market) = btc();
    let dry = venue.dry_run(&order, &market).await.expect("dry run");
    assert_eq!(
        dry.description,
        format!(
            "MARKET BUY 0.0105 BTC/USD gtc (client id {})",
            order.client_order_id()
        )
    );
    let notional = decision("AAPL", OrderAmount::Quote(Money(dec!(500))));
    let dry = venue
        .dry_run(&notional, &market_of_aapl())
        .await
        .expect("dry run");
    assert!(
        dry.description
            .starts_with("MARKET BUY $500 notional of AAPL day"),
        "{}",
        dry.description
    );
    assert!(fake.posts().is_empty());
    assert_eq!(fake.order_count(), 0);
    // What submit then sends is what the dry run described.
    venue.submit(&order, &market).await.expect("submit");
    let posts = fake.posts();
    assert_eq!(posts[0]["qty"], "0.0105");
    assert_eq!(posts[0]["symbol"], "BTC/USD");
    // Below the crypto minimum: refused as submit refuses it, nothing posted.
    let tiny = decision("BTC", OrderAmount::Quantity(Quantity(dec!(0.00005))));
    let error = venue.dry_run(&tiny, &market).await.expect_err("too small");
    assert!(matches!(error, VenueError::Refused { .. }), "{error}");
    assert_eq!(fake.posts().len(), 1);
}

fn market_of_aapl() -> MarketReference {
    market("AAPL", dec!(230))
}
