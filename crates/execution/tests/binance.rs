//! The Binance Spot venue against an in-process fake of Binance's REST API, driven through the
//! exactly-once [`Dispatcher`] with the store's outbox: every failure the reference notes list
//! for an order post is played, and in every case the fake holds exactly one order per
//! decision and the ledger equals the fake's record (state, order id, executed quantity, fills).

use std::time::Duration;

use barter_core::execution::Side;
use barter_core::order::{DecisionRef, Order, OrderAmount, OrderState};
use barter_core::{Candle, CandleOrigin, Day, Money, Ohlcv, Quantity, Symbol};
use barter_execution::binance::{BinanceCredentials, BinanceSettings, BinanceSpot};
use barter_execution::dispatch::Resolution;
use barter_execution::{
    Dispatcher, InstrumentAssets, LookupPolicy, MarketReference, StoreOutbox, Venue, VenueAccount,
    VenueError,
};
use barter_fakes::binance::{FakeBinance, KEY, OnOrder, SECRET};
use barter_http::{Pacer, Settings};
use barter_store::Store;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn btc() -> Symbol {
    Symbol::parse("BTC").expect("symbol")
}

fn settings(fake: &FakeBinance) -> BinanceSettings {
    let mut settings = BinanceSettings::at(&fake.url).with_symbol(btc(), "BTCUSDT");
    settings.http = Settings {
        requests_per_minute: 60_000,
        timeout_secs: 1.0,
        max_retries: 1,
        backoff_base_secs: 0.01,
        max_retry_wait_secs: 5.0,
    };
    settings.lookup = LookupPolicy {
        attempts: 3,
        interval: Duration::from_millis(10),
    };
    settings
}

fn venue(fake: &FakeBinance) -> BinanceSpot {
    BinanceSpot::new(settings(fake), BinanceCredentials::new(KEY, SECRET), None).expect("venue")
}

async fn outbox() -> StoreOutbox {
    StoreOutbox::new(Store::connect("sqlite::memory:").await.expect("sqlite"))
}

fn day(text: &str) -> Day {
    text.parse().expect("day")
}

fn market() -> MarketReference {
    let candle = Candle::new(
        btc(),
        day("2026-12-06"),
        Ohlcv {
            open: dec!(49000),
            high: dec!(50000),
            low: dec!(49000),
            close: dec!(50000),
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
        quote_asset: "USDT".into(),
    }
}

fn decision(side: Side, amount: OrderAmount) -> Order {
    Order::planned(
        "main",
        DecisionRef {
            strategy: "sma-cross".into(),
            symbol: btc(),
            day: day("2026-12-06"),
            side,
        },
        amount,
    )
    .expect("order")
}

fn buy_500() -> Order {
    decision(Side::Buy, OrderAmount::Quote(Money(dec!(500))))
}

/// One daily run: sync the clock, resolve what earlier runs left open, plan today's decision
/// (its key lets one order in) and send what is planned.
async fn run(venue: &BinanceSpot, outbox: &StoreOutbox, order: &Order) -> Vec<VenueError> {
    let mut failures = Vec::new();
    if let Err(error) = venue.sync_time().await {
        failures.push(error.into());
        return failures;
    }
    let dispatcher = Dispatcher::new(venue, outbox);
    let resolutions = dispatcher
        .resolve_unresolved("main")
        .await
        .expect("resolve");
    for resolution in resolutions {
        match resolution {
            Resolution::Planned(order) | Resolution::NotPlaced(order) => {
                let sent = dispatcher.send(order, &market()).await.expect("send");
                failures.extend(sent.failure);
            }
            Resolution::Unanswered { error, .. } => failures.push(error),
            Resolution::Reported(_) => {}
        }
    }
    let planned = outbox.plan(order).await.expect("plan");
    if planned.state() == OrderState::Planned {
        let sent = dispatcher.send(planned, &market()).await.expect("send");
        failures.extend(sent.failure);
    }
    failures
}

async fn stored(outbox: &StoreOutbox, order: &Order) -> Order {
    outbox
        .find("main", order.client_order_id().as_str())
        .await
        .expect("read")
        .expect("stored")
}

/// Exactly one order at the fake for the decision, and the ledger holds what the fake
/// recorded: state, Binance order id, executed quantity and every fill with its fee.
async fn assert_ledger_equals_fake(fake: &FakeBinance, outbox: &StoreOutbox, order: &Order) {
    let placed = fake.placements(order.client_order_id().as_str());
    assert_eq!(placed.len(), 1, "orders at the fake: {placed:?}");
    let record = &placed[0];
    let ledger = stored(outbox, order).await;
    let expected_state = match record.status {
        "FILLED" => OrderState::Filled,
        _ => OrderState::Expired,
    };
    assert_eq!(ledger.state(), expected_state);
    assert_eq!(
        ledger.venue_order_id(),
        Some(record.order_id.to_string().as_str())
    );
    assert_eq!(ledger.executed_quantity(), Quantity(record.executed_qty));
    let mut fills: Vec<_> = ledger
        .fills()
        .iter()
        .map(|f| {
            (
                f.trade_id.clone(),
                f.price.0,
                f.quantity.0,
                f.fee,
                f.fee_asset.clone(),
            )
        })
        .collect();
    fills.sort();
    let mut expected: Vec<_> = record
        .fills
        .iter()
        .map(|f| {
            (
                f.trade_id.to_string(),
                f.price,
                f.qty,
                f.commission,
                f.commission_asset.clone(),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(fills, expected, "the ledger's fills are the fake's trades");
    assert!(ledger.fills_complete(), "booking has every price and fee");
    assert!(
        fake.auth_failures().is_empty(),
        "every request was signed and stamped right: {:?}",
        fake.auth_failures()
    );
}

#[tokio::test]
async fn a_filled_full_answer_is_booked_with_its_fills_and_fees() {
    let fake = FakeBinance::start().await;
    let venue = venue(&fake);
    let outbox = outbox().await;
    let order = buy_500();
    let failures = run(&venue, &outbox, &order).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_ledger_equals_fake(&fake, &outbox, &order).await;
    // The post asked for what the notes prescribe, with the decision's client order id.
    let posts = fake.order_posts();
    assert_eq!(posts.len(), 1);
    let body = &posts[0];
    for part in [
        "symbol=BTCUSDT",
        "side=BUY",
        "type=MARKET",
        "quoteOrderQty=500&",
        "newOrderRespType=FULL",
        "recvWindow=5000",
    ] {
        assert!(body.contains(part), "{part} in {body}");
    }
    assert!(body.contains(&format!("newClientOrderId={}", order.client_order_id())));
    assert!(
        !body.contains(SECRET) && !body.contains(KEY),
        "no key in the body"
    );
    let ledger = stored(&outbox, &order).await;
    // 0.01 BTC bought, 0.1 % taken in BTC: 0.00999 received.
    assert_eq!(
        ledger.net_quantity("BTC").expect("net"),
        Quantity(dec!(0.00999))
    );
    // A second run finds nothing to do and sends nothing.
    run(&venue, &outbox, &order).await;
    assert_eq!(fake.order_posts().len(), 1);
}

#[tokio::test]
async fn every_lost_answer_is_looked_up_filled_in_from_my_trades_and_never_resent() {
    for behaviour in [
        OnOrder::PlaceThenDrop,
        OnOrder::PlaceThen503,
        OnOrder::PlaceThen1007,
        OnOrder::PlaceThenHang,
    ] {
        let fake = FakeBinance::start().await;
        fake.script(&[behaviour]);
        let venue = venue(&fake);
        let outbox = outbox().await;
        let order = buy_500();
        let failures = run(&venue, &outbox, &order).await;
        let [VenueError::OutcomeUnknown { detail, .. }] = failures.as_slice() else {
            panic!("{behaviour:?}: {failures:?}");
        };
        let cause = match behaviour {
            OnOrder::PlaceThenDrop => "connection",
            OnOrder::PlaceThen503 => "503",
            OnOrder::PlaceThen1007 => "-1007",
            _ => "no answer within",
        };
        assert!(detail.contains(cause), "{behaviour:?}: {detail}");
        assert_eq!(
            stored(&outbox, &order).await.state(),
            OrderState::Unknown,
            "{behaviour:?}"
        );
        let failures = run(&venue, &outbox, &order).await;
        assert!(failures.is_empty(), "{behaviour:?}: {failures:?}");
        assert_eq!(fake.order_posts().len(), 1, "{behaviour:?}: never resent");
        assert_ledger_equals_fake(&fake, &outbox, &order).await;
    }
}

#[tokio::test]
async fn an_order_invisible_to_its_first_lookup_is_found_not_resent() {
    let fake = FakeBinance::start().await;
    fake.script(&[OnOrder::PlaceThenDrop]);
    fake.invisible_for(1);
    let venue = venue(&fake);
    let outbox = outbox().await;
    let order = buy_500();
    run(&venue, &outbox, &order).await;
    let failures = run(&venue, &outbox, &order).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(fake.lookups(), 2, "-2013 once, then found");
    assert_eq!(fake.order_posts().len(), 1);
    assert_ledger_equals_fake(&fake, &outbox, &order).await;
}

#[tokio::test]
async fn a_rate_limit_places_nothing_and_the_order_is_sent_once_lookups_agree() {
    let fake = FakeBinance::start().await;
    fake.script(&[OnOrder::RateLimited]);
    let venue = venue(&fake);
    let outbox = outbox().await;
    let order = buy_500();
    let failures = run(&venue, &outbox, &order).await;
    match failures.as_slice() {
        [VenueError::Unavailable { retry_after, .. }] => {
            assert_eq!(*retry_after, Some(Duration::from_secs(1)));
        }
        other => panic!("expected a rate limit: {other:?}"),
    }
    assert!(fake.placements(order.client_order_id().as_str()).is_empty());
    // Next run: three lookups say -2013, so the order is sent again with the same id.
    let failures = run(&venue, &outbox, &order).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(fake.order_posts().len(), 2);
    assert_ledger_equals_fake(&fake, &outbox, &order).await;
}

#[tokio::test]
async fn a_clock_error_resyncs_and_resends_once_and_a_skewed_clock_is_measured() {
    let fake = FakeBinance::start().await;
    // The fake's clock runs 30 s ahead: without the offset every signed request is -1021.
    fake.skew(30_000);
    fake.script(&[OnOrder::ClockError]);
    let venue = venue(&fake);
    let outbox = outbox().await;
    let order = buy_500();
    let failures = run(&venue, &outbox, &order).await;
    assert!(failures.is_empty(), "{failures:?}");
    let offset = venue.clock_offset_ms();
    assert!((29_000..31_000).contains(&offset), "offset {offset}");
    assert_eq!(fake.order_posts().len(), 2, "sent, -1021, resent once");
    assert_eq!(
        fake.time_requests(),
        2,
        "synced at the start and after -1021"
    );
    assert_ledger_equals_fake(&fake, &outbox, &order).await;
}

#[tokio::test]
async fn a_stale_clock_without_sync_is_caught_by_the_minus_1021_resync() {
    let fake = FakeBinance::start().await;
    fake.skew(-20_000);
    let venue = venue(&fake);
    let outbox = outbox().await;
    let planned = outbox.plan(&buy_500()).await.expect("plan");
    let sent = Dispatcher::new(&venue, &outbox)
        .send(planned, &market())
        .await
        .expect("send");
    assert_eq!(sent.failure, None);
    assert_eq!(sent.order.state(), OrderState::Filled);
    assert_eq!(fake.time_requests(), 1);
}

#[tokio::test]
async fn insufficient_balance_is_a_final_rejection_and_never_retried() {
    let fake = FakeBinance::start().await;
    fake.script(&[OnOrder::InsufficientBalance]);
    let venue = venue(&fake);
    let outbox = outbox().await;
    let order = buy_500();
    let failures = run(&venue, &outbox, &order).await;
    assert!(failures.is_empty(), "{failures:?}");
    run(&venue, &outbox, &order).await;
    let ledger = stored(&outbox, &order).await;
    assert_eq!(ledger.state(), OrderState::Rejected);
    let reason = ledger.reason().unwrap_or_default();
    assert!(
        reason.contains("insufficient balance") && reason.contains("-2010"),
        "{reason}"
    );
    assert_eq!(fake.order_posts().len(), 1);
    assert!(fake.placements(order.client_order_id().as_str()).is_empty());
}

#[tokio::test]
async fn an_order_expired_partly_filled_keeps_what_executed() {
    let fake = FakeBinance::start().await;
    fake.script(&[OnOrder::ExpirePartly]);
    let venue = venue(&fake);
    let outbox = outbox().await;
    let order = decision(Side::Buy, OrderAmount::Quantity(Quantity(dec!(0.01))));
    venue.symbol_rules(&btc()).await.expect("rules");
    let failures = run(&venue, &outbox, &order).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_ledger_equals_fake(&fake, &outbox, &order).await;
    let ledger = stored(&outbox, &order).await;
    assert_eq!(ledger.executed_quantity(), Quantity(dec!(0.006)));
    assert!(
        ledger
            .reason()
            .is_some_and(|r| r.contains("INSUFFICIENT_LIQUIDITY")),
        "{:?}",
        ledger.reason()
    );
    assert!(fake.order_posts()[0].contains("quantity=0.01&"));
}

#[tokio::test]
async fn quantities_are_checked_against_the_rules_and_never_sent_in_exponent_notation() {
    let fake = FakeBinance::start().await;
    let venue = venue(&fake);
    let outbox = outbox().await;
    venue.symbol_rules(&btc()).await.expect("rules");
    // Below LOT_SIZE.minQty: refused here, never sent.
    let tiny = decision(Side::Buy, OrderAmount::Quantity(Quantity(dec!(0.000001))));
    let planned = outbox.plan(&tiny).await.expect("plan");
    let sent = Dispatcher::new(&venue, &outbox)
        .send(planned, &market())
        .await
        .expect("send");
    assert_eq!(sent.order.state(), OrderState::Rejected);
    assert!(fake.order_posts().is_empty());
    // 0.0002 written with eight decimals (as Binance writes it) must go out plainly.
    let fine = decision(
        Side::Sell,
        OrderAmount::Quantity(Quantity(Decimal::new(20_000, 8))),
    );
    let planned = outbox.plan(&fine).await.expect("plan");
    let sent = Dispatcher::new(&venue, &outbox)
        .send(planned, &market())
        .await
        .expect("send");
    assert_eq!(sent.order.state(), OrderState::Filled);
    let body = &fake.order_posts()[0];
    assert!(body.contains("quantity=0.0002&"), "{body}");
    assert!(!body.contains("e-") && !body.contains("E-"), "{body}");
}

#[tokio::test]
async fn symbol_rules_come_from_exchange_info_and_an_unknown_symbol_says_what_to_fix() {
    let fake = FakeBinance::start().await;
    let eth = Symbol::parse("ETH").expect("symbol");
    let doge = Symbol::parse("DOGE").expect("symbol");
    let settings = settings(&fake)
        .with_symbol(eth.clone(), "ETHBTC")
        .with_symbol(doge.clone(), "DOGEXYZ");
    let venue =
        BinanceSpot::new(settings, BinanceCredentials::new(KEY, SECRET), None).expect("venue");
    let btcusdt = venue.symbol_rules(&btc()).await.expect("btc");
    assert_eq!(btcusdt.base_asset, "BTC");
    assert_eq!(btcusdt.quote_asset, "USDT");
    assert!(btcusdt.quote_order_qty_market_allowed);
    assert_eq!(
        btcusdt.rules.market_step().expect("step"),
        Quantity(dec!(0.00001))
    );
    let ethbtc = venue.symbol_rules(&eth).await.expect("eth");
    assert_eq!(ethbtc.quote_asset, "BTC");
    assert_eq!(ethbtc.rules.min_notional, Money(dec!(0.0001)));
    let error = venue.symbol_rules(&doge).await.expect_err("unknown");
    assert!(error.to_string().contains("-1121"), "{error}");
    let error = venue
        .symbol_rules(&Symbol::parse("XRP").expect("symbol"))
        .await
        .expect_err("unmapped");
    assert!(error.to_string().contains("XRP"), "{error}");
}

#[tokio::test]
async fn balances_are_read_exactly_from_the_account() {
    let fake = FakeBinance::start().await;
    let venue = venue(&fake);
    venue.sync_time().await.expect("time");
    let account = venue.balances().await.expect("balances");
    assert!(account.can_trade);
    let btc = account.get("BTC").expect("BTC listed");
    assert_eq!(btc.free, dec!(0.03214870));
    assert_eq!(btc.locked, Decimal::ZERO);
    assert!(fake.auth_failures().is_empty());
}

#[tokio::test]
async fn a_rejected_key_is_unavailable_says_what_to_check_and_never_shows_the_secret() {
    let fake = FakeBinance::start().await;
    let venue = BinanceSpot::new(
        settings(&fake),
        BinanceCredentials::new("wrong-key-value", SECRET),
        None,
    )
    .expect("venue");
    let outbox = outbox().await;
    let order = buy_500();
    let failures = run(&venue, &outbox, &order).await;
    let [VenueError::Unavailable { detail, .. }] = failures.as_slice() else {
        panic!("expected unavailable: {failures:?}");
    };
    assert!(
        detail.contains("-2015") && detail.contains("IP whitelist"),
        "{detail}"
    );
    let text = format!("{failures:?} {}", failures[0]);
    assert!(
        !text.contains(SECRET) && !text.contains("wrong-key-value"),
        "{text}"
    );
    assert!(fake.placements(order.client_order_id().as_str()).is_empty());
    let error = venue.balances().await.expect_err("refused");
    assert!(!error.to_string().contains(SECRET));
}

#[tokio::test]
async fn the_venue_and_its_klines_source_can_share_one_pacer() {
    let fake = FakeBinance::start().await;
    let pacer = std::sync::Arc::new(Pacer::new(60_000).expect("pacer"));
    let venue = BinanceSpot::new(
        settings(&fake),
        BinanceCredentials::new(KEY, SECRET),
        Some(std::sync::Arc::clone(&pacer)),
    )
    .expect("venue");
    assert!(std::sync::Arc::ptr_eq(&venue.pacer(), &pacer));
    // The klines source of the same deployment: same root, same pacer.
    let source = barter_sources::BinanceSource::new(barter_sources::BinanceConfig {
        base_url: venue.base_url().to_string(),
        ..barter_sources::BinanceConfig::default()
    })
    .expect("source")
    .with_pacer(venue.pacer());
    assert!(std::sync::Arc::ptr_eq(&source.pacer(), &pacer));
    assert_eq!(source.base_url(), venue.base_url());
    // A 429 on an order holds the shared pacer, so every client of the venue pauses.
    fake.script(&[OnOrder::RateLimited]);
    let outbox = outbox().await;
    let planned = outbox.plan(&buy_500()).await.expect("plan");
    Dispatcher::new(&venue, &outbox)
        .send(planned, &market())
        .await
        .expect("send");
    assert!(pacer.held_for().is_some());
    assert!(!venue.is_live());
    assert_eq!(venue.name(), "binance");
}

/// A signed body without its `recvWindow`, `timestamp` and `signature`: the order's own
/// parameters.
fn order_params(body: &str) -> Vec<(String, String)> {
    form_urlencoded_pairs(body)
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "recvWindow" | "timestamp" | "signature"))
        .collect()
}

fn form_urlencoded_pairs(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[tokio::test]
async fn holdings_follow_the_fills_and_manual_changes() {
    let fake = FakeBinance::start().await;
    let venue = venue(&fake);
    venue.prepare().await.expect("prepare");
    assert!(fake.time_requests() >= 1);
    let before = venue.holdings().await.expect("holdings");
    assert!(before.can_trade);
    assert_eq!(before.free("USDT"), dec!(4015.876464));
    assert_eq!(before.total("USDT"), dec!(5228.376464));
    assert_eq!(
        before.free("ETH"),
        Decimal::ZERO,
        "zero balances are omitted"
    );
    assert!(before.assets.iter().all(|a| a.asset != "ETH"));
    let outbox = outbox().await;
    let order = buy_500();
    assert!(run(&venue, &outbox, &order).await.is_empty());
    let after = venue.holdings().await.expect("holdings");
    // 0.01 BTC bought for 500 USDT, the 0.1 % commission taken in BTC.
    assert_eq!(
        after.total("BTC") - before.total("BTC"),
        dec!(0.01) - dec!(0.00001)
    );
    assert_eq!(after.free("USDT"), before.free("USDT") - dec!(500));
    let stored = stored(&outbox, &order).await;
    let fee: Decimal = stored.fills().iter().map(|f| f.fee).sum();
    assert_eq!(
        after.total("BTC") - before.total("BTC"),
        stored.executed_quantity().0 - fee
    );
    // A deposit made elsewhere shows at once.
    fake.set_balance("BTC", dec!(1.5));
    fake.set_balance("SOL", dec!(3));
    let drifted = venue.holdings().await.expect("holdings");
    assert_eq!(drifted.free("BTC"), dec!(1.5));
    assert_eq!(drifted.total("SOL"), dec!(3));
    assert!(fake.auth_failures().is_empty());
}

#[tokio::test]
async fn instrument_assets_come_from_exchange_info_and_an_unmapped_symbol_says_what_to_add() {
    let fake = FakeBinance::start().await;
    let venue = venue(&fake);
    let assets = venue.instrument_assets(&btc()).await.expect("BTC");
    assert_eq!(
        assets,
        InstrumentAssets {
            base: "BTC".into(),
            quote: "USDT".into()
        }
    );
    let xrp = Symbol::parse("XRP").expect("symbol");
    let error = venue.instrument_assets(&xrp).await.expect_err("unmapped");
    assert!(matches!(error, VenueError::Unavailable { .. }), "{error}");
    let text = error.to_string();
    assert!(text.contains("XRP") && text.contains("symbols"), "{text}");
}

#[tokio::test]
async fn a_dry_run_posts_the_test_endpoint_with_what_submit_sends_and_places_nothing() {
    let fake = FakeBinance::start().await;
    let venue = venue(&fake);
    venue.prepare().await.expect("prepare");
    let before = venue.holdings().await.expect("holdings");
    let orders = [
        buy_500(),
        decision(Side::Sell, OrderAmount::Quantity(Quantity(dec!(0.0002)))),
    ];
    for (placed, order) in orders.iter().enumerate() {
        let dry = venue.dry_run(order, &market()).await.expect("dry run");
        assert!(
            dry.description.starts_with("MARKET ")
                && dry.description.contains("BTCUSDT")
                && dry.description.contains(order.client_order_id().as_str()),
            "{}",
            dry.description
        );
        assert_eq!(fake.order_posts().len(), placed, "nothing placed");
        assert!(fake.placements(order.client_order_id().as_str()).is_empty());
        venue.submit(order, &market()).await.expect("submit");
    }
    assert_eq!(fake.test_orders(), 2);
    let tests = fake.test_order_posts();
    let posts = fake.order_posts();
    assert_eq!(posts.len(), 2);
    for (test, post) in tests.iter().zip(&posts) {
        assert_eq!(order_params(test), order_params(post));
    }
    assert!(tests[0].contains("quoteOrderQty=500&"), "{}", tests[0]);
    assert!(tests[1].contains("quantity=0.0002&"), "{}", tests[1]);
    // Only the two real orders moved the balances.
    let after = venue.holdings().await.expect("holdings");
    assert_eq!(
        after.total("BTC") - before.total("BTC"),
        dec!(0.00999) - dec!(0.0002)
    );
    assert!(fake.auth_failures().is_empty());
}

#[tokio::test]
async fn a_dry_run_below_a_minimum_is_refused_without_any_order_request() {
    let fake = FakeBinance::start().await;
    let venue = venue(&fake);
    venue.prepare().await.expect("prepare");
    let tiny = decision(Side::Buy, OrderAmount::Quantity(Quantity(dec!(0.000001))));
    let small = decision(Side::Buy, OrderAmount::Quote(Money(dec!(2))));
    for order in [tiny, small] {
        // The rules are read by the dry run itself when this run has not read them yet.
        let error = venue
            .dry_run(&order, &market())
            .await
            .expect_err("below minimum");
        assert!(matches!(error, VenueError::Refused { .. }), "{error}");
    }
    assert_eq!(fake.test_orders(), 0);
    assert!(fake.order_posts().is_empty());
}

#[tokio::test]
async fn the_fake_applies_the_filters_to_test_orders_and_orders_alike() {
    let fake = FakeBinance::start().await;
    // A venue that has not read the rules sends what it is given: the fake refuses it.
    let venue = venue(&fake);
    venue.sync_time().await.expect("time");
    let small = decision(Side::Buy, OrderAmount::Quote(Money(dec!(2))));
    let error = venue.submit(&small, &market()).await.expect_err("notional");
    assert!(
        matches!(&error, VenueError::Refused { code: Some(code), reason, .. }
            if code == "-1013" && reason.contains("NOTIONAL")),
        "{error}"
    );
    assert!(fake.placements(small.client_order_id().as_str()).is_empty());
}

#[tokio::test]
async fn the_klines_source_and_the_venue_of_one_host_share_one_budget() {
    let fake = FakeBinance::start().await;
    let venue = venue(&fake);
    let source = barter_sources::BinanceSource::new(barter_sources::BinanceConfig {
        base_url: fake.url.clone(),
        ..barter_sources::BinanceConfig::default()
    })
    .expect("source");
    assert!(
        std::sync::Arc::ptr_eq(&venue.pacer(), &source.pacer()),
        "klines and orders of one Binance host take their slots from one pacer"
    );
    // A 429 seen by one pauses the other.
    source.pacer().hold_for(Duration::from_secs(30));
    assert!(venue.pacer().held_for().is_some());
}
