//! The exactly-once protocol against a scripted venue that behaves like Binance Spot: market
//! orders fill at once, a client order id is refused as a duplicate only while its order is
//! open (a filled one can be placed again: a blind resend buys twice), and a new order can be
//! invisible to lookups for a moment (-2013 right after placement). Every failure the venue
//! notes list is played, and the process "dies" at every save; in every case the venue holds
//! exactly one order per decision and the outbox's record equals the venue's.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use barter_core::execution::{FillModel, FillTiming, QuantityRounding, Side};
use barter_core::order::{
    ClientOrderId, DecisionRef, Order, OrderAmount, OrderFill, OrderState, VenueReport,
};
use barter_core::{Candle, CandleOrigin, Day, Money, Ohlcv, Price, Quantity, Symbol};
use barter_execution::dispatch::Resolution;
use barter_execution::{
    Dispatcher, LookupPolicy, MarketReference, Outbox, OutboxError, PaperVenue, StoreOutbox, Venue,
    VenueError,
};
use barter_store::Store;
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// What the scripted venue does with one order request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Submit {
    /// Places and fills the order, answers with the fill.
    Answer,
    /// Places and fills it, then the connection drops before the answer.
    PlaceThenDrop,
    /// Places and fills it, but answers 503.
    Place503,
    /// Places and fills it, answers -1007 "execution status unknown".
    Place1007,
    /// Times out after placing it.
    PlaceThenTimeout,
    /// Answers 503 without placing anything.
    NotPlaced503,
    /// Times out before the request reached the engine.
    NotPlacedTimeout,
    /// 429: turned away before the engine.
    RateLimited,
    /// -2010 insufficient balance.
    Refuse,
}

impl Submit {
    fn places(self) -> bool {
        matches!(
            self,
            Self::Answer
                | Self::PlaceThenDrop
                | Self::Place503
                | Self::Place1007
                | Self::PlaceThenTimeout
        )
    }
}

#[derive(Default)]
struct Book {
    /// Every order the venue placed, by client order id, with how many lookups it stays
    /// invisible for.
    orders: HashMap<ClientOrderId, (VenueReport, u32)>,
    /// How many orders the venue placed per client order id.
    placements: HashMap<ClientOrderId, u32>,
    script: VecDeque<Submit>,
    /// Lookups that fail (true) before answering, in order.
    lookup_failures: VecDeque<bool>,
    trades: u32,
}

/// A venue with Binance Spot's duplicate and visibility semantics, scripted per request.
struct ScriptedVenue {
    book: Mutex<Book>,
    invisible_lookups: u32,
    policy: LookupPolicy,
}

impl ScriptedVenue {
    fn new(script: &[Submit], invisible_lookups: u32) -> Self {
        Self {
            book: Mutex::new(Book {
                script: script.iter().copied().collect(),
                ..Book::default()
            }),
            invisible_lookups,
            policy: LookupPolicy {
                attempts: 3,
                interval: Duration::ZERO,
            },
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn placements(&self, id: &ClientOrderId) -> u32 {
        self.book().placements.get(id).copied().unwrap_or(0)
    }

    fn record(&self, id: &ClientOrderId) -> Option<VenueReport> {
        self.book().orders.get(id).map(|(report, _)| report.clone())
    }

    fn fail_next_lookups(&self, failures: &[bool]) {
        self.book().lookup_failures = failures.iter().copied().collect();
    }

    fn unknown(detail: &str) -> VenueError {
        VenueError::OutcomeUnknown {
            venue: "scripted".into(),
            detail: detail.into(),
        }
    }
}

#[async_trait]
impl Venue for ScriptedVenue {
    fn name(&self) -> &str {
        "scripted"
    }

    fn is_live(&self) -> bool {
        false
    }

    fn lookup_policy(&self) -> LookupPolicy {
        self.policy
    }

    async fn submit(
        &self,
        order: &Order,
        _market: &MarketReference,
    ) -> Result<VenueReport, VenueError> {
        let mut book = self.book();
        let behaviour = book.script.pop_front().unwrap_or(Submit::Answer);
        let id = order.client_order_id().clone();
        if let Some((existing, _)) = book.orders.get(&id)
            && existing.state.is_open()
        {
            // Binance: a client id is unique among *open* orders only.
            return Err(VenueError::Refused {
                venue: "scripted".into(),
                code: Some("-2010".into()),
                reason: "Duplicate order sent.".into(),
            });
        }
        if behaviour == Submit::Refuse {
            return Err(VenueError::Refused {
                venue: "scripted".into(),
                code: Some("-2010".into()),
                reason: "Account has insufficient balance for requested action.".into(),
            });
        }
        if behaviour.places() {
            book.trades += 1;
            let report = VenueReport {
                state: OrderState::Filled,
                venue_order_id: Some(format!("v{}", book.trades)),
                executed_quantity: Quantity(dec!(0.01)),
                fills: vec![OrderFill {
                    trade_id: format!("t{}", book.trades),
                    price: Price(dec!(50000)),
                    quantity: Quantity(dec!(0.01)),
                    fee: dec!(0.00001),
                    fee_asset: "BTC".into(),
                }],
                reason: None,
            };
            // A filled order with the same id is replaced: that is the double buy.
            book.orders
                .insert(id.clone(), (report.clone(), self.invisible_lookups));
            *book.placements.entry(id).or_default() += 1;
            return match behaviour {
                Submit::Answer => Ok(report),
                Submit::PlaceThenDrop => Err(Self::unknown("connection reset")),
                Submit::Place503 => Err(Self::unknown("HTTP 503")),
                Submit::Place1007 => Err(Self::unknown("-1007 execution status unknown")),
                _ => Err(Self::unknown("timed out after 10 s")),
            };
        }
        match behaviour {
            Submit::RateLimited => Err(VenueError::Unavailable {
                venue: "scripted".into(),
                detail: "HTTP 429".into(),
                retry_after: Some(Duration::from_secs(1)),
            }),
            Submit::NotPlaced503 => Err(Self::unknown("HTTP 503")),
            _ => Err(Self::unknown("timed out after 10 s")),
        }
    }

    async fn lookup(&self, order: &Order) -> Result<Option<VenueReport>, VenueError> {
        let mut book = self.book();
        if book.lookup_failures.pop_front() == Some(true) {
            return Err(VenueError::Unavailable {
                venue: "scripted".into(),
                detail: "HTTP 429".into(),
                retry_after: None,
            });
        }
        match book.orders.get_mut(order.client_order_id()) {
            None => Ok(None),
            // -2013 "Order does not exist." right after placement.
            Some((_, invisible)) if *invisible > 0 => {
                *invisible -= 1;
                Ok(None)
            }
            Some((report, _)) => {
                // Binance's order lookup carries no fills, only the executed quantity.
                let mut report = report.clone();
                report.fills.clear();
                Ok(Some(report))
            }
        }
    }
}

/// The database through the real store, which survives a process dying; from the
/// `crash_at`-th save on, saves fail without reaching it (the commit never happened), until
/// the test "restarts" the process.
struct Ledger {
    outbox: StoreOutbox,
    saves: Mutex<u32>,
    crash_at: Mutex<Option<u32>>,
}

impl Ledger {
    fn new(store: Store) -> Self {
        Self {
            outbox: StoreOutbox::new(store),
            saves: Mutex::new(0),
            crash_at: Mutex::new(None),
        }
    }

    fn crash_at_save(&self, n: Option<u32>) {
        *self.crash_at.lock().unwrap_or_else(PoisonError::into_inner) = n;
        *self.saves.lock().unwrap_or_else(PoisonError::into_inner) = 0;
    }

    /// Plans `order` unless its decision already has one (the store's unique key decides).
    async fn plan(&self, order: Order) -> Option<Order> {
        self.outbox.plan(&order).await.ok()
    }

    async fn stored(&self, id: &ClientOrderId) -> Option<Order> {
        self.outbox
            .find("main", id.as_str())
            .await
            .expect("read orders")
    }
}

#[async_trait]
impl Outbox for Ledger {
    async fn save(&self, order: &Order) -> Result<(), OutboxError> {
        {
            let mut saves = self.saves.lock().unwrap_or_else(PoisonError::into_inner);
            *saves += 1;
            if self
                .crash_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some_and(|n| *saves >= n)
            {
                return Err(OutboxError::Store("the process died".into()));
            }
        }
        self.outbox.save(order).await
    }

    async fn unresolved(&self, account: &str) -> Result<Vec<Order>, OutboxError> {
        self.outbox.unresolved(account).await
    }
}

/// The backends every scenario runs on: SQLite always, PostgreSQL when
/// `BARTER_TEST_POSTGRES_URL` is set (in a schema of its own, dropped afterwards).
async fn on_every_backend<F, Fut>(scenario: F)
where
    F: Fn(Ledger) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    scenario(Ledger::new(
        Store::connect("sqlite::memory:").await.expect("sqlite"),
    ))
    .await;
    match std::env::var("BARTER_TEST_POSTGRES_URL") {
        Ok(url) => {
            static SCHEMA: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let schema = format!(
                "barter_execution_{}_{}",
                std::process::id(),
                SCHEMA.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let store = Store::connect_postgres_in_schema(&url, &schema)
                .await
                .expect("postgres");
            scenario(Ledger::new(store.clone())).await;
            store.drop_schema().await.expect("drop the test schema");
        }
        Err(_) => eprintln!(
            "SKIPPED postgres: BARTER_TEST_POSTGRES_URL is not set; the PostgreSQL variants of \
             the exactly-once scenarios did not run"
        ),
    }
}

fn day(text: &str) -> Day {
    text.parse().expect("day")
}

fn candle(on: &str, open: Decimal, close: Decimal) -> Candle {
    Candle::new(
        Symbol::parse("BTC").expect("symbol"),
        day(on),
        Ohlcv {
            open,
            high: open.max(close),
            low: open.min(close),
            close,
            volume: dec!(1),
        },
        true,
        CandleOrigin::Sample,
        day("2030-01-01"),
    )
    .expect("candle")
}

fn market() -> MarketReference {
    MarketReference {
        decision: candle("2026-12-06", dec!(49000), dec!(50000)),
        next: None,
        quote_asset: "USDT".into(),
    }
}

fn decision() -> Order {
    Order::planned(
        "main",
        DecisionRef {
            strategy: "sma-cross".into(),
            symbol: Symbol::parse("BTC").expect("symbol"),
            day: day("2026-12-06"),
            side: Side::Buy,
        },
        OrderAmount::Quote(Money(dec!(500))),
    )
    .expect("order")
}

/// One daily run of a trading job, as the live job does it: resolve what earlier runs left
/// open, then take today's decision (its key lets one order in) and send what is planned. A
/// failed save ends the run, as the process dying would.
async fn run(venue: &ScriptedVenue, outbox: &Ledger) {
    let dispatcher = Dispatcher::new(venue, outbox);
    let Ok(resolutions) = dispatcher.resolve_unresolved("main").await else {
        return;
    };
    for resolution in resolutions {
        if let Resolution::Planned(order) | Resolution::NotPlaced(order) = resolution
            && dispatcher.send(order, &market()).await.is_err()
        {
            return;
        }
    }
    if let Some(order) = outbox.plan(decision()).await
        && order.state() == OrderState::Planned
    {
        let _ = dispatcher.send(order, &market()).await;
    }
}

/// The ledger equals the venue: the venue's order and the stored one agree on state, executed
/// quantity and venue id, and the venue placed at most one order.
async fn assert_agree(venue: &ScriptedVenue, outbox: &Ledger) {
    let id = decision().client_order_id().clone();
    assert!(
        venue.placements(&id) <= 1,
        "placed {} times",
        venue.placements(&id)
    );
    let stored = outbox
        .stored(&id)
        .await
        .expect("the decision's order is stored");
    match venue.record(&id) {
        Some(record) => {
            assert_eq!(stored.state(), record.state, "{stored:?}");
            assert_eq!(stored.executed_quantity(), record.executed_quantity);
            assert_eq!(stored.venue_order_id(), record.venue_order_id.as_deref());
        }
        None => assert!(
            matches!(
                stored.state(),
                OrderState::Rejected | OrderState::Unknown | OrderState::Planned
            ),
            "the venue has no order but the ledger says {}",
            stored.state()
        ),
    }
}

#[tokio::test]
async fn every_lost_answer_is_found_by_lookup_and_never_sent_twice() {
    for behaviour in [
        Submit::PlaceThenDrop,
        Submit::Place503,
        Submit::Place1007,
        Submit::PlaceThenTimeout,
    ] {
        on_every_backend(|outbox| async move {
            let venue = ScriptedVenue::new(&[behaviour], 0);
            run(&venue, &outbox).await;
            let id = decision().client_order_id().clone();
            let state = outbox.stored(&id).await.map(|o| o.state());
            assert_eq!(state, Some(OrderState::Unknown), "{behaviour:?}");
            run(&venue, &outbox).await;
            run(&venue, &outbox).await;
            assert_eq!(venue.placements(&id), 1, "{behaviour:?}");
            let state = outbox.stored(&id).await.map(|o| o.state());
            assert_eq!(state, Some(OrderState::Filled), "{behaviour:?}");
            assert_agree(&venue, &outbox).await;
        })
        .await;
    }
}

#[tokio::test]
async fn an_order_that_never_arrived_is_sent_again_with_the_same_id_once_lookups_agree() {
    for behaviour in [
        Submit::NotPlaced503,
        Submit::NotPlacedTimeout,
        Submit::RateLimited,
    ] {
        on_every_backend(|outbox| async move {
            let venue = ScriptedVenue::new(&[behaviour], 0);
            run(&venue, &outbox).await;
            let id = decision().client_order_id().clone();
            assert_eq!(venue.placements(&id), 0, "{behaviour:?}");
            run(&venue, &outbox).await;
            assert_eq!(venue.placements(&id), 1, "{behaviour:?}");
            let stored = outbox.stored(&id).await.expect("stored");
            assert_eq!(stored.state(), OrderState::Filled);
            assert_eq!(stored.client_order_id(), &id, "the same client order id");
            assert_agree(&venue, &outbox).await;
        })
        .await;
    }
}

#[tokio::test]
async fn an_order_invisible_to_its_first_lookups_is_not_mistaken_for_a_missing_one() {
    // -2013 twice, then found: three lookups in a row must all miss before a resend.
    on_every_backend(|outbox| async move {
        let venue = ScriptedVenue::new(&[Submit::PlaceThenDrop], 2);
        run(&venue, &outbox).await;
        run(&venue, &outbox).await;
        let id = decision().client_order_id().clone();
        assert_eq!(venue.placements(&id), 1);
        let state = outbox.stored(&id).await.map(|o| o.state());
        assert_eq!(state, Some(OrderState::Filled));
        assert_agree(&venue, &outbox).await;
    })
    .await;
}

#[tokio::test]
async fn a_refused_order_is_final_and_never_retried() {
    on_every_backend(|outbox| async move {
        let venue = ScriptedVenue::new(&[Submit::Refuse], 0);
        run(&venue, &outbox).await;
        run(&venue, &outbox).await;
        let id = decision().client_order_id().clone();
        let stored = outbox.stored(&id).await.expect("stored");
        assert_eq!(stored.state(), OrderState::Rejected);
        assert!(
            stored
                .reason()
                .is_some_and(|r| r.contains("insufficient balance") && r.contains("-2010")),
            "{:?}",
            stored.reason()
        );
        assert_eq!(venue.placements(&id), 0);
    })
    .await;
}

#[tokio::test]
async fn dying_at_any_save_leaves_one_order_at_the_venue() {
    // Save 1: the submitted state (before the request); save 2: the answer.
    for crash in [1, 2] {
        on_every_backend(|outbox| async move {
            let venue = ScriptedVenue::new(&[Submit::Answer], 0);
            outbox.crash_at_save(Some(crash));
            run(&venue, &outbox).await;
            let id = decision().client_order_id().clone();
            let expected = if crash == 1 { 0 } else { 1 };
            assert_eq!(venue.placements(&id), expected, "crash at save {crash}");
            outbox.crash_at_save(None);
            run(&venue, &outbox).await;
            assert_eq!(venue.placements(&id), 1, "crash at save {crash}");
            let state = outbox.stored(&id).await.map(|o| o.state());
            assert_eq!(state, Some(OrderState::Filled));
            assert_agree(&venue, &outbox).await;
        })
        .await;
    }
}

#[tokio::test]
async fn a_lookup_that_fails_leaves_the_order_for_the_next_run() {
    on_every_backend(|outbox| async move {
        let venue = ScriptedVenue::new(&[Submit::PlaceThenDrop], 0);
        run(&venue, &outbox).await;
        venue.fail_next_lookups(&[true]);
        run(&venue, &outbox).await;
        let id = decision().client_order_id().clone();
        let state = outbox.stored(&id).await.map(|o| o.state());
        assert_eq!(state, Some(OrderState::Unknown));
        run(&venue, &outbox).await;
        assert_eq!(venue.placements(&id), 1);
        let state = outbox.stored(&id).await.map(|o| o.state());
        assert_eq!(state, Some(OrderState::Filled));
    })
    .await;
}

#[tokio::test]
async fn two_processes_sending_one_planned_order_send_it_once() {
    on_every_backend(|outbox| async move {
        let venue = ScriptedVenue::new(&[], 0);
        let order = outbox.plan(decision()).await.expect("planned");
        let dispatcher = Dispatcher::new(&venue, &outbox);
        let market = market();
        let (first, second) = tokio::join!(
            dispatcher.send(order.clone(), &market),
            dispatcher.send(order.clone(), &market)
        );
        assert!(first.is_ok() != second.is_ok(), "{first:?} / {second:?}");
        let id = decision().client_order_id().clone();
        assert_eq!(venue.placements(&id), 1);
        assert_agree(&venue, &outbox).await;
    })
    .await;
}

#[tokio::test]
async fn the_paper_venue_fills_as_the_fill_model_does_and_answers_lookups() {
    let model = FillModel::new(
        dec!(10),
        dec!(5),
        FillTiming::NextOpen,
        QuantityRounding::Fractional(8),
    )
    .expect("model");
    let venue = PaperVenue::new(model);
    let outbox = Ledger::new(Store::connect("sqlite::memory:").await.expect("sqlite"));
    let mut market = market();
    market.next = Some(candle("2026-12-07", dec!(50500), dec!(51000)));
    let order = outbox.plan(decision()).await.expect("planned");
    let (expected, _) = venue.fill(&order, &market).expect("fills");
    let sent = Dispatcher::new(&venue, &outbox)
        .send(order.clone(), &market)
        .await
        .expect("sent");
    assert_eq!(sent.order.state(), OrderState::Filled);
    let fill = &sent.order.fills()[0];
    assert_eq!(fill.price, expected.price);
    assert_eq!(fill.quantity, expected.quantity);
    assert_eq!(fill.fee, expected.fee.0);
    assert_eq!(fill.fee_asset, "USDT");
    // The fee is in the quote currency, so the whole quantity is received.
    assert_eq!(
        sent.order.net_quantity("BTC").expect("net"),
        expected.quantity
    );
    let cost = expected.gross.0 + expected.fee.0;
    assert!(
        cost <= dec!(500),
        "spends at most the amount, fee included: {cost}"
    );
    assert!(venue.lookup(&order).await.expect("lookup").is_some());
    let stored = outbox
        .stored(order.client_order_id())
        .await
        .expect("stored");
    assert_eq!(
        stored, sent.order,
        "the ledger holds what the venue answered"
    );
}

fn behaviour() -> impl Strategy<Value = Submit> {
    prop_oneof![
        Just(Submit::Answer),
        Just(Submit::PlaceThenDrop),
        Just(Submit::Place503),
        Just(Submit::Place1007),
        Just(Submit::PlaceThenTimeout),
        Just(Submit::NotPlaced503),
        Just(Submit::NotPlacedTimeout),
        Just(Submit::RateLimited),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the venue does, wherever the process dies and however often lookups fail,
    /// the venue never holds two orders for the decision, and once the venue behaves the
    /// ledger and the venue agree on one filled order.
    #[test]
    fn never_two_orders_for_one_decision(
        script in prop::collection::vec(behaviour(), 0..6),
        crashes in prop::collection::vec(prop::option::of(1_u32..4), 0..6),
        lookup_failures in prop::collection::vec(any::<bool>(), 0..6),
        invisible in 0_u32..3,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let venue = ScriptedVenue::new(&script, invisible);
            venue.fail_next_lookups(&lookup_failures);
            let outbox = Ledger::new(Store::connect("sqlite::memory:").await.expect("sqlite"));
            let id = decision().client_order_id().clone();
            for crash in &crashes {
                outbox.crash_at_save(*crash);
                run(&venue, &outbox).await;
                prop_assert!(venue.placements(&id) <= 1, "placed twice");
            }
            // The venue and the process behave from now on: a few runs settle everything.
            outbox.crash_at_save(None);
            venue.fail_next_lookups(&[]);
            for _ in 0..script.len() + 3 {
                run(&venue, &outbox).await;
            }
            prop_assert_eq!(venue.placements(&id), 1);
            prop_assert_eq!(outbox.stored(&id).await.map(|o| o.state()), Some(OrderState::Filled));
            assert_agree(&venue, &outbox).await;
            Ok(())
        })?;
    }
}
