//! The order outbox's test suite, run on every backend by the harness in `support`: one order
//! per decision however often or concurrently it is planned, fills stored once, final orders
//! never changed, exact decimals, the unresolved orders every job starts with, and corrupt rows
//! reported as errors naming the order.

#[macro_use]
mod support;

use barter_core::order::OrderId;
use barter_core::{
    DecisionRef, Money, Order, OrderAmount, OrderEvent, OrderFill, OrderState, Price, Quantity,
    Side, VenueReport,
};
use barter_store::{Db, OrderFilter, PlannedOrder, SavedOrder, Store, StoreError};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use support::*;

on_every_backend!(
    planning_a_decision_twice_stores_one_order,
    concurrent_plans_of_one_decision_store_one_order,
    fills_saved_twice_are_stored_once_and_a_changed_trade_is_refused,
    a_final_order_cannot_be_changed,
    only_one_process_may_send_a_planned_order_and_stale_answers_cannot_move_it_back,
    exact_decimals_round_trip,
    unresolved_orders_are_the_ones_not_final_oldest_first,
    orders_are_listed_newest_first_by_account_and_openness,
    reasons_are_redacted_and_bounded,
    a_row_edited_into_an_impossible_state_loads_as_an_error_naming_the_order,
    a_rejected_or_unknown_order_is_notified_with_its_state_once,
    a_notification_is_stored_redacted_and_bounded,
);

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const MAIN: &str = "main";

fn planned(account: &str, on: u64, side: Side, amount: OrderAmount) -> Order {
    let decision = DecisionRef {
        strategy: "trend".into(),
        symbol: sym("BTC"),
        day: nth(on),
        side,
    };
    Order::planned(account, decision, amount).expect("a valid order")
}

fn units(quantity: Decimal) -> OrderAmount {
    OrderAmount::Quantity(Quantity(quantity))
}

fn trade(id: &str, price: Decimal, quantity: Decimal, fee: Decimal) -> OrderFill {
    OrderFill {
        trade_id: id.to_owned(),
        price: Price(price),
        quantity: Quantity(quantity),
        fee,
        fee_asset: "BTC".to_owned(),
    }
}

fn report(state: OrderState, executed: Decimal, fills: Vec<OrderFill>) -> OrderEvent {
    OrderEvent::Report(VenueReport {
        state,
        venue_order_id: Some("v-1".to_owned()),
        executed_quantity: Quantity(executed),
        fills,
        reason: None,
    })
}

/// When day `n`'s orders are planned and answered.
fn moment(n: u64) -> DateTime<Utc> {
    nth(n + 1)
        .and_hms_opt(6, 0, 0)
        .expect("valid time")
        .and_utc()
}

async fn plan(store: &Store, order: &Order) -> Order {
    store
        .plan_order(order, moment(1))
        .await
        .expect("plan")
        .into_order()
}

/// Applies `event` to `order` and saves it, returning the order as stored.
async fn step(store: &Store, order: &Order, event: OrderEvent) -> Order {
    let mut next = order.clone();
    next.apply(event).expect("a legal event");
    match store.save_order(&next, moment(2)).await.expect("save") {
        SavedOrder::Saved(stored) => stored,
        other => panic!("expected the save to write, got {other:?}"),
    }
}

/// A stored order of `account` for day `on`, brought to `state` by the events a job would
/// apply, each saved as it happens.
async fn in_state(store: &Store, account: &str, on: u64, state: OrderState) -> Order {
    let order = plan(store, &planned(account, on, Side::Buy, units(dec!(1)))).await;
    let half = || vec![trade(&format!("t{on}"), dec!(100), dec!(0.5), dec!(0))];
    let full = || vec![trade(&format!("t{on}"), dec!(100), dec!(1), dec!(0))];
    let events = match state {
        OrderState::Planned => vec![],
        OrderState::Submitted => vec![OrderEvent::Sent],
        OrderState::Accepted => vec![
            OrderEvent::Sent,
            OrderEvent::Acknowledged {
                venue_order_id: Some("v-1".to_owned()),
            },
        ],
        OrderState::PartiallyFilled => vec![
            OrderEvent::Sent,
            report(OrderState::PartiallyFilled, dec!(0.5), half()),
        ],
        OrderState::Filled => vec![
            OrderEvent::Sent,
            report(OrderState::Filled, dec!(1), full()),
        ],
        OrderState::Rejected => vec![
            OrderEvent::Sent,
            report(OrderState::Rejected, dec!(0), vec![]),
        ],
        OrderState::Canceled => vec![OrderEvent::Abandoned {
            reason: "the decision is stale".into(),
        }],
        OrderState::Expired => vec![
            OrderEvent::Sent,
            report(OrderState::Expired, dec!(0.5), half()),
        ],
        OrderState::Unknown => vec![OrderEvent::Sent, OrderEvent::OutcomeUnknown],
    };
    let mut order = order;
    for event in events {
        order = step(store, &order, event).await;
    }
    assert_eq!(order.state(), state);
    order
}

async fn count(store: &Store, table: &str) -> i64 {
    scalar(store, &format!("SELECT COUNT(*) FROM {table}")).await
}

/// Runs test-only SQL that may fail, on either backend.
async fn try_sql(store: &Store, sql: &str) -> Result<(), sqlx::Error> {
    match store.db() {
        Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        Db::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
    }
}

fn id_of(order: &Order) -> OrderId {
    order.id().expect("a stored order has an id")
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

async fn planning_a_decision_twice_stores_one_order(store: &Store) {
    let order = planned(MAIN, 1, Side::Buy, units(dec!(2)));
    let first = store.plan_order(&order, moment(1)).await.expect("plan");
    let PlannedOrder::New(stored) = &first else {
        panic!("the first plan stores the order: {first:?}");
    };
    assert!(stored.id().is_some());
    assert_eq!(stored.client_order_id(), order.client_order_id());
    assert_eq!(stored.state(), OrderState::Planned);

    // A retry, even with another amount, gets the stored order: the plan is the one to send.
    let retry = planned(MAIN, 1, Side::Buy, units(dec!(3)));
    let again = store
        .plan_order(&retry, moment(2))
        .await
        .expect("plan again");
    assert_eq!(again, PlannedOrder::Existing(stored.clone()));
    assert_eq!(again.order().amount(), units(dec!(2)));
    assert_eq!(count(store, "orders").await, 1);

    // Once sent, a retry still finds it, in its new state, rather than planning a second one.
    let sent = step(store, stored, OrderEvent::Sent).await;
    let after_send = store.plan_order(&order, moment(3)).await.expect("plan");
    assert_eq!(after_send, PlannedOrder::Existing(sent));

    // Another side, day or account of the same strategy is another decision.
    for other in [
        planned(MAIN, 1, Side::Sell, units(dec!(2))),
        planned(MAIN, 2, Side::Buy, units(dec!(2))),
        planned("other", 1, Side::Buy, units(dec!(2))),
    ] {
        assert!(
            store
                .plan_order(&other, moment(1))
                .await
                .expect("plan")
                .is_new()
        );
    }
    assert_eq!(count(store, "orders").await, 4);

    // Only a planned order can be planned.
    let mut submitted = planned(MAIN, 9, Side::Buy, units(dec!(1)));
    submitted.apply(OrderEvent::Sent).expect("sent");
    let err = store
        .plan_order(&submitted, moment(9))
        .await
        .expect_err("not planned");
    assert!(matches!(err, StoreError::InvalidInput(_)), "{err}");
    assert_eq!(count(store, "orders").await, 4);
}

async fn concurrent_plans_of_one_decision_store_one_order(store: &Store) {
    let order = planned(MAIN, 1, Side::Buy, units(dec!(0.5)));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let order = order.clone();
            tokio::spawn(async move { store.plan_order(&order, moment(1)).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task").expect("plan"));
    }
    let new = outcomes.iter().filter(|o| o.is_new()).count();
    assert_eq!(new, 1, "{outcomes:?}");
    let ids: Vec<_> = outcomes.iter().map(|o| o.order().id()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(count(store, "orders").await, 1);
}

async fn fills_saved_twice_are_stored_once_and_a_changed_trade_is_refused(store: &Store) {
    let order = plan(store, &planned(MAIN, 1, Side::Buy, units(dec!(1)))).await;
    let sent = step(store, &order, OrderEvent::Sent).await;
    let first = trade("t1", dec!(100), dec!(0.4), dec!(0.0004));
    let partial = step(
        store,
        &sent,
        report(OrderState::PartiallyFilled, dec!(0.4), vec![first.clone()]),
    )
    .await;
    assert_eq!(partial.fills(), std::slice::from_ref(&first));

    // The same answer saved again (a retried job) stores nothing new.
    let again = store.save_order(&partial, moment(3)).await.expect("save");
    assert_eq!(again, SavedOrder::Saved(partial.clone()));
    assert_eq!(count(store, "order_fills").await, 1);

    // A stale copy that reports trade t1 at another price is refused, and nothing changes.
    let mut stale = sent.clone();
    stale
        .apply(report(
            OrderState::PartiallyFilled,
            dec!(0.4),
            vec![trade("t1", dec!(101), dec!(0.4), dec!(0.0004))],
        ))
        .expect("legal on the stale copy");
    let err = store
        .save_order(&stale, moment(3))
        .await
        .expect_err("a changed trade");
    assert!(
        matches!(&err, StoreError::OrderFillConflict { trade_id, .. } if trade_id == "t1"),
        "{err}"
    );
    let id = id_of(&order);
    assert_eq!(store.order(id).await.expect("load"), Some(partial.clone()));

    // The final answer lists t1 again with t2: t2 is added, t1 kept once.
    let second = trade("t2", dec!(100.5), dec!(0.6), dec!(0.0006));
    let filled = step(
        store,
        &partial,
        report(
            OrderState::Filled,
            dec!(1),
            vec![first.clone(), second.clone()],
        ),
    )
    .await;
    assert_eq!(filled.fills(), [first, second]);
    assert_eq!(count(store, "order_fills").await, 2);
    assert_eq!(
        filled.net_quantity("BTC").expect("complete"),
        Quantity(dec!(0.999))
    );
}

async fn a_final_order_cannot_be_changed(store: &Store) {
    let order = plan(store, &planned(MAIN, 1, Side::Buy, units(dec!(1)))).await;
    let sent = step(store, &order, OrderEvent::Sent).await;
    let fill = trade("t1", dec!(100), dec!(1), dec!(0));
    let filled = step(
        store,
        &sent,
        report(OrderState::Filled, dec!(1), vec![fill]),
    )
    .await;

    // Saving the same final state again (another process, or a retry) writes nothing and says
    // so: whoever gets `AlreadyFinal` did not resolve it.
    let again = store.save_order(&filled, moment(3)).await.expect("save");
    assert_eq!(again, SavedOrder::AlreadyFinal(filled.clone()));

    // A process still holding the sent order cannot resolve it another way.
    let mut stale = sent.clone();
    stale
        .apply(report(OrderState::Canceled, dec!(0), vec![]))
        .expect("legal on the stale copy");
    let err = store
        .save_order(&stale, moment(3))
        .await
        .expect_err("final");
    assert!(
        matches!(
            err,
            StoreError::OrderFinal {
                stored: OrderState::Filled,
                attempted: OrderState::Canceled,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("already filled"), "{err}");
    let id = id_of(&order);
    assert_eq!(store.order(id).await.expect("load"), Some(filled.clone()));

    // Nor can a process that bypasses the store, or one that deletes.
    for sql in [
        format!("UPDATE orders SET state = 'canceled' WHERE id = {id}"),
        format!("UPDATE orders SET reason = 'edited' WHERE id = {id}"),
        format!("DELETE FROM order_fills WHERE order_id = {id}"),
        format!("DELETE FROM orders WHERE id = {id}"),
    ] {
        assert!(try_sql(store, &sql).await.is_err(), "`{sql}` was allowed");
    }
    assert_eq!(store.order(id).await.expect("load"), Some(filled));

    // An order the store never had, or one without an id, is an error too.
    let mut unknown = sent.clone();
    unknown.set_id(OrderId(9_999));
    let err = store
        .save_order(&unknown, moment(3))
        .await
        .expect_err("unknown");
    assert!(
        matches!(err, StoreError::UnknownOrder(OrderId(9_999))),
        "{err}"
    );
    let unplanned = planned(MAIN, 5, Side::Buy, units(dec!(1)));
    let err = store
        .save_order(&unplanned, moment(3))
        .await
        .expect_err("no id");
    assert!(matches!(err, StoreError::InvalidInput(_)), "{err}");
}

async fn only_one_process_may_send_a_planned_order_and_stale_answers_cannot_move_it_back(
    store: &Store,
) {
    // Two processes find the same planned order (say, left by a crash) and both mean to send it.
    let order = plan(store, &planned(MAIN, 1, Side::Buy, units(dec!(1)))).await;
    let mut first = order.clone();
    let mut second = order.clone();
    first.apply(OrderEvent::Sent).expect("sent");
    second.apply(OrderEvent::Sent).expect("sent");
    let claimed = store.save_order(&first, moment(2)).await.expect("claim");
    assert_eq!(claimed.order().state(), OrderState::Submitted);
    let err = store
        .save_order(&second, moment(2))
        .await
        .expect_err("claimed already");
    assert!(
        matches!(
            err,
            StoreError::OrderMoved {
                stored: OrderState::Submitted,
                attempted: OrderState::Submitted,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("do not send it again"), "{err}");

    // Answers: a partial fill is saved; an older `accepted` held elsewhere cannot undo it.
    let sent = claimed.order().clone();
    let fill = trade("t1", dec!(100), dec!(0.5), dec!(0));
    let partial = step(
        store,
        &sent,
        report(OrderState::PartiallyFilled, dec!(0.5), vec![fill]),
    )
    .await;
    let mut stale = sent.clone();
    stale
        .apply(OrderEvent::Acknowledged {
            venue_order_id: Some("v-1".into()),
        })
        .expect("legal on the stale copy");
    let err = store
        .save_order(&stale, moment(3))
        .await
        .expect_err("older news");
    assert!(matches!(err, StoreError::OrderMoved { .. }), "{err}");
    assert_eq!(
        store.order(id_of(&order)).await.expect("load"),
        Some(partial)
    );

    // A step that was never saved (answers to an order stored as planned) is refused too: the
    // order must be stored as sent before it is sent.
    let unsent = plan(store, &planned(MAIN, 2, Side::Buy, units(dec!(1)))).await;
    let mut skipped = unsent.clone();
    skipped.apply(OrderEvent::Sent).expect("sent");
    skipped
        .apply(report(OrderState::Rejected, dec!(0), vec![]))
        .expect("rejected");
    let err = store
        .save_order(&skipped, moment(3))
        .await
        .expect_err("not stored as sent");
    assert!(
        matches!(
            err,
            StoreError::OrderMoved {
                stored: OrderState::Planned,
                ..
            }
        ),
        "{err}"
    );
}

async fn exact_decimals_round_trip(store: &Store) {
    let quantity = dec!(0.00012345);
    let order = plan(store, &planned(MAIN, 1, Side::Buy, units(quantity))).await;
    let sent = step(store, &order, OrderEvent::Sent).await;
    let fill = trade(
        "1234567890",
        dec!(43210.12345678),
        quantity,
        dec!(0.00000012),
    );
    let filled = step(
        store,
        &sent,
        report(OrderState::Filled, quantity, vec![fill]),
    )
    .await;

    let loaded = store
        .order(id_of(&order))
        .await
        .expect("load")
        .expect("stored");
    assert_eq!(loaded, filled);
    assert_eq!(loaded.amount(), units(quantity));
    let stored_fill = &loaded.fills()[0];
    assert_eq!(stored_fill.price.0.to_string(), "43210.12345678");
    assert_eq!(stored_fill.quantity.0.to_string(), "0.00012345");
    assert_eq!(stored_fill.fee.to_string(), "0.00000012");
    assert_eq!(loaded.executed_quantity().0.to_string(), "0.00012345");
    assert_eq!(
        loaded.net_quantity("BTC").expect("complete"),
        Quantity(dec!(0.00012333))
    );
    assert_eq!(
        loaded.quote_spent().expect("in range"),
        Money(dec!(43210.12345678) * quantity)
    );

    // A quote amount keeps its kind and value.
    let quote = OrderAmount::Quote(Money(dec!(25.123456789)));
    let sell = plan(store, &planned(MAIN, 2, Side::Sell, quote)).await;
    let loaded = store
        .order(id_of(&sell))
        .await
        .expect("load")
        .expect("stored");
    assert_eq!(loaded.amount(), quote);
    assert_eq!(loaded.side(), Side::Sell);
}

async fn unresolved_orders_are_the_ones_not_final_oldest_first(store: &Store) {
    let mut expected = Vec::new();
    for (on, state) in (1..).zip(OrderState::ALL) {
        let order = in_state(store, MAIN, on, state).await;
        if !state.is_terminal() {
            expected.push(order);
        }
    }
    let other = in_state(store, "other", 1, OrderState::Submitted).await;

    let main = store.unresolved_orders(Some(MAIN)).await.expect("list");
    assert_eq!(main, expected);
    let states: Vec<_> = main.iter().map(Order::state).collect();
    assert_eq!(
        states,
        [
            OrderState::Planned,
            OrderState::Submitted,
            OrderState::Accepted,
            OrderState::PartiallyFilled,
            OrderState::Unknown,
        ]
    );
    let mut all = expected.clone();
    all.push(other);
    assert_eq!(store.unresolved_orders(None).await.expect("list"), all);
    assert!(
        store
            .unresolved_orders(Some("nobody"))
            .await
            .expect("list")
            .is_empty()
    );
}

async fn orders_are_listed_newest_first_by_account_and_openness(store: &Store) {
    let mut main = Vec::new();
    for (on, state) in (1..).zip(OrderState::ALL) {
        main.push(in_state(store, MAIN, on, state).await);
    }
    let other = in_state(store, "other", 1, OrderState::Filled).await;

    let all = store.orders(&OrderFilter::default()).await.expect("list");
    assert_eq!(all.len(), 10);
    assert_eq!(all[0], other);
    assert_eq!(all[1..], main.iter().rev().cloned().collect::<Vec<_>>()[..]);

    let filter = OrderFilter {
        account: Some(MAIN.into()),
        open_only: true,
        limit: 3,
    };
    let open = store.orders(&filter).await.expect("list");
    let states: Vec<_> = open.iter().map(Order::state).collect();
    assert_eq!(
        states,
        [
            OrderState::Unknown,
            OrderState::PartiallyFilled,
            OrderState::Accepted
        ]
    );
    let limited = OrderFilter {
        limit: 2,
        ..OrderFilter::default()
    };
    assert_eq!(store.orders(&limited).await.expect("list").len(), 2);
    assert_eq!(store.order(OrderId(9_999)).await.expect("load"), None);
}

async fn reasons_are_redacted_and_bounded(store: &Store) {
    let secret = "sk-orders-test-0123456789";
    barter_store::secrets::register("BARTER_TEST_ORDER_SECRET", secret);
    let order = plan(store, &planned(MAIN, 1, Side::Buy, units(dec!(1)))).await;
    let reason = format!("signature {secret} refused; {}", "x".repeat(600));
    let canceled = step(store, &order, OrderEvent::Abandoned { reason }).await;
    let stored = canceled.reason().expect("a reason");
    assert!(!stored.contains(secret), "{stored}");
    assert!(
        stored.starts_with("signature [redacted BARTER_TEST_ORDER_SECRET] refused"),
        "{stored}"
    );
    assert_eq!(stored.chars().count(), barter_core::order::MAX_REASON_LEN);
    assert!(stored.ends_with('…'));
    let loaded = store.order(id_of(&order)).await.expect("load");
    assert_eq!(loaded, Some(canceled));
}

async fn a_row_edited_into_an_impossible_state_loads_as_an_error_naming_the_order(store: &Store) {
    let accepted = in_state(store, MAIN, 1, OrderState::Accepted).await;
    let id = id_of(&accepted);

    // The database refuses a state that is not one.
    let bogus = format!("UPDATE orders SET state = 'bogus' WHERE id = {id}");
    assert!(
        try_sql(store, &bogus).await.is_err(),
        "`{bogus}` was allowed"
    );

    // A real state the row's contents contradict: planned, yet the venue knows it.
    let sql = format!("UPDATE orders SET state = 'planned' WHERE id = {id}");
    exec(store, &sql, &sql).await;
    let err = store.order(id).await.expect_err("inconsistent");
    let text = chain(&err);
    assert!(matches!(err, StoreError::Corrupt { .. }), "{text}");
    assert!(
        text.contains(&format!("order {id} ({})", accepted.client_order_id())),
        "{text}"
    );
    assert!(text.contains("holds a venue id"), "{text}");
    let err = store.unresolved_orders(None).await.expect_err("listed");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    let err = store
        .orders(&OrderFilter::default())
        .await
        .expect_err("listed");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");

    // Saving over it still works (the way to repair it): the compare-and-set looks only at the
    // stored state, and `canceled` may follow `planned`.
    let mut repaired = accepted.clone();
    repaired
        .apply(report(OrderState::Canceled, dec!(0), vec![]))
        .expect("legal");
    let saved = store.save_order(&repaired, moment(3)).await.expect("save");
    assert_eq!(saved.order().state(), OrderState::Canceled);
}

/// A rejection and a lost answer are each stored as a notification with the state that reports
/// them (same transaction); other states notify nothing, and saving again adds nothing.
async fn a_rejected_or_unknown_order_is_notified_with_its_state_once(store: &Store) {
    let quiet = [
        OrderState::Filled,
        OrderState::Canceled,
        OrderState::PartiallyFilled,
    ];
    for (day, state) in (40..).zip(quiet) {
        in_state(store, MAIN, day, state).await;
    }
    assert_eq!(count(store, "notifications").await, 0);
    let rejected = in_state(store, MAIN, 1, OrderState::Rejected).await;
    let unknown = in_state(store, MAIN, 2, OrderState::Unknown).await;
    let stored = store.unrouted_notifications(10).await.expect("read");
    let keys: Vec<&str> = stored.iter().map(|(_, n)| n.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            format!("order_rejected:{}", id_of(&rejected).0),
            format!("order_unknown:{}", id_of(&unknown).0)
        ]
    );
    assert_eq!(
        stored[1].1.severity,
        barter_core::notify::Severity::Critical
    );
    // Saving the final state again is a no-op: no second notification.
    let again = store.save_order(&rejected, moment(9)).await.expect("save");
    assert!(matches!(again, SavedOrder::AlreadyFinal(_)));
    assert_eq!(count(store, "notifications").await, 2);
}

/// A notification quoting a registered secret (say, a venue's error echoing a key) is stored
/// with the secret redacted, so no channel can ever send it; its lines stay bounded.
async fn a_notification_is_stored_redacted_and_bounded(store: &Store) {
    let secret = "notify-secret-value-0451";
    barter_store::secrets::register("BARTER_TEST_NOTIFY_SECRET", secret);
    let mut n = barter_core::notify::Notification::new(
        barter_core::notify::EventKind::OrderRejected,
        "order_rejected:secret".into(),
        format!("venue said {secret}"),
        moment(1),
    );
    for _ in 0..100 {
        n = n.line(format!("{secret} {}", "x".repeat(1_000)));
    }
    let id = store.enqueue_notification(&n).await.expect("enqueue");
    assert!(id.is_some());
    assert_eq!(store.enqueue_notification(&n).await.expect("again"), None);
    let stored = store.unrouted_notifications(10).await.expect("read");
    let text = serde_json::to_string(&stored[0].1).expect("json");
    assert!(!text.contains(secret), "{text}");
    assert!(
        text.contains("[redacted BARTER_TEST_NOTIFY_SECRET]"),
        "{text}"
    );
    assert_eq!(stored[0].1.lines.len(), barter_core::notify::MAX_LINES);
}
