//! The trading ledger's test suite, run on every backend by the harness in `support`: exactly
//! one decision per (strategy, instrument, day, kind), one open position per strategy ×
//! instrument, exact money, all-or-nothing opens and closes, and the append-only history.

#[macro_use]
mod support;

use barter_core::strategy::Outcome;
use barter_core::{
    Exit, ExitReason, Fill, Money, Position, PositionId, Price, PriceBasis, Quantity, RunKind,
    Side, Symbol,
};
use barter_store::trading::{EVENT_CLOSE, EVENT_DECISION, EVENT_FILL, EVENT_REFUSAL};
use barter_store::{
    AccountState, CloseOutcome, DecisionFilter, DecisionKind, DecisionOutcome, HistoryFilter,
    NewDecision, OpenOutcome, PositionStatus, Store, StoreError,
};
use chrono::{DateTime, Datelike, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::json;

use support::*;

on_every_backend!(
    the_account_is_created_once_and_keeps_its_initial_cash_exactly,
    trading_before_the_account_exists_is_an_error_and_writes_nothing,
    opening_stores_the_position_and_its_fill_and_pays_gross_plus_fee_exactly,
    the_same_entry_decided_twice_is_already_decided_and_changes_nothing,
    a_batch_of_decisions_stores_each_key_once_with_its_history,
    a_second_entry_while_a_position_is_open_is_recorded_as_skipped,
    an_entry_the_cash_cannot_pay_for_is_refused_and_recorded,
    closing_realizes_exact_pnl_and_a_second_close_changes_nothing,
    trades_that_do_not_fit_the_ledger_are_errors_and_write_nothing,
    concurrent_runs_of_the_same_entry_open_exactly_one_position,
    concurrent_entries_on_different_days_open_one_position_and_skip_the_rest,
    concurrent_entries_never_spend_the_same_cash_twice,
    concurrent_closes_of_one_position_close_it_exactly_once,
    a_crash_inside_an_open_leaves_no_trace,
    a_crash_inside_a_close_leaves_the_position_open_and_the_cash_untouched,
    decisions_are_filtered_by_symbol_strategy_day_and_position_newest_first,
    history_is_filtered_by_symbol_strategy_and_time_and_pages_by_id,
    history_is_filtered_by_kind_and_until_and_lists_its_kinds,
    history_and_decisions_refuse_updates_and_deletes,
    an_instrument_with_positions_cannot_be_removed,
);

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const TREND: &str = "trend";

/// A fill of `quantity` at `price` with a fee of 0.1 % of the gross.
fn fill(side: Side, symbol: &Symbol, on: u64, quantity: Decimal, price: Decimal) -> Fill {
    let gross = quantity * price;
    Fill {
        symbol: symbol.clone(),
        side,
        day: nth(on),
        price: Price(price),
        basis: PriceBasis::NextOpen,
        quantity: Quantity(quantity),
        gross: Money(gross),
        fee: Money(gross * dec!(0.001)),
    }
}

fn buy(symbol: &Symbol, on: u64, quantity: Decimal, price: Decimal) -> Fill {
    fill(Side::Buy, symbol, on, quantity, price)
}

fn sell(symbol: &Symbol, on: u64, quantity: Decimal, price: Decimal) -> Fill {
    fill(Side::Sell, symbol, on, quantity, price)
}

/// A decision of `strategy` on day `on` with the rule values it was taken on.
fn decision(
    strategy: &str,
    symbol: &Symbol,
    on: u64,
    kind: DecisionKind,
    outcome: DecisionOutcome,
) -> NewDecision {
    NewDecision {
        strategy: strategy.to_owned(),
        symbol: symbol.clone(),
        day: nth(on),
        kind,
        outcome,
        detail: json!({
            "values": [["rsi(close, 14)", 63.2], ["sma(close, 20)", 41000.5]],
            "explanation": format!("{kind} rule of {strategy} on day {on}"),
        }),
    }
}

fn entry(strategy: &str, symbol: &Symbol, on: u64) -> NewDecision {
    let passed = DecisionOutcome::from(Outcome::Passed);
    decision(strategy, symbol, on, DecisionKind::Entry, passed)
}

fn exit(strategy: &str, symbol: &Symbol, on: u64) -> NewDecision {
    decision(
        strategy,
        symbol,
        on,
        DecisionKind::Exit,
        DecisionOutcome::Passed,
    )
}

/// The moment decision day `on` is traded (the job runs the morning after).
fn moment(on: u64) -> DateTime<Utc> {
    nth(on + 1)
        .and_hms_opt(6, 0, 0)
        .expect("valid time")
        .and_utc()
}

/// A store with the paper account holding `cash` and instrument BTC registered.
async fn ledger(store: &Store, cash: Decimal) -> Symbol {
    store.ensure_account(Money(cash)).await.expect("account");
    registered(store, "BTC").await
}

async fn cash(store: &Store) -> Decimal {
    store
        .account()
        .await
        .expect("read account")
        .expect("account exists")
        .cash
        .0
}

async fn open(store: &Store, d: &NewDecision, fill: &Fill) -> OpenOutcome {
    store
        .open_position(None, d, fill, moment(d.day.ordinal().into()))
        .await
        .unwrap_or_else(|e| panic!("open: {}", chain(&e)))
}

async fn opened(store: &Store, d: &NewDecision, fill: &Fill) -> PositionId {
    match open(store, d, fill).await {
        OpenOutcome::Opened(id) => id,
        other => panic!("expected a new position, got {other:?}"),
    }
}

async fn close(store: &Store, d: &NewDecision, id: PositionId, fill: &Fill) -> CloseOutcome {
    let at = moment(d.day.ordinal().into());
    store
        .close_position(None, d, id, fill, ExitReason::Signal, at)
        .await
        .unwrap_or_else(|e| panic!("close: {}", chain(&e)))
}

/// Rows in each ledger table and the history: (decisions, positions, fills, history).
async fn counts(store: &Store) -> (i64, i64, i64, i64) {
    (
        scalar(store, "SELECT COUNT(*) FROM decisions").await,
        scalar(store, "SELECT COUNT(*) FROM positions").await,
        scalar(store, "SELECT COUNT(*) FROM fills").await,
        scalar(store, "SELECT COUNT(*) FROM history").await,
    )
}

fn all_decisions() -> DecisionFilter {
    DecisionFilter {
        limit: 1_000,
        ..DecisionFilter::default()
    }
}

fn all_history() -> HistoryFilter {
    HistoryFilter {
        limit: 1_000,
        ..HistoryFilter::default()
    }
}

/// Runs `n` tasks at once, task `i` calling `job(store, i)`, and returns their results.
async fn at_once<T, F, Fut>(store: &Store, n: u64, job: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Store, u64) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n as usize));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let work = job(store.clone(), i);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                work.await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task"));
    }
    results
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

async fn the_account_is_created_once_and_keeps_its_initial_cash_exactly(store: &Store) {
    assert_eq!(store.account().await.expect("read"), None);
    let initial = Money(dec!(12345678901.00000001));
    let created = store.ensure_account(initial).await.expect("create");
    let expected = AccountState {
        initial_cash: initial,
        cash: initial,
    };
    assert_eq!(created, expected);
    assert_eq!(created.cash.0.to_string(), "12345678901.00000001");
    let again = store
        .ensure_account(Money(dec!(5)))
        .await
        .expect("ensure again");
    assert_eq!(again, expected, "the initial cash is fixed at creation");
    let read = store.account().await.expect("read").expect("exists");
    assert_eq!(read, expected);
    assert_eq!(read.cash.0.to_string(), "12345678901.00000001");
    let err = store
        .ensure_account(Money(dec!(-1)))
        .await
        .expect_err("negative cash");
    assert!(matches!(err, StoreError::InvalidTrade(_)), "{err:?}");
}

async fn trading_before_the_account_exists_is_an_error_and_writes_nothing(store: &Store) {
    let btc = registered(store, "BTC").await;
    let err = store
        .open_position(
            None,
            &entry(TREND, &btc, 1),
            &buy(&btc, 2, dec!(1), dec!(100)),
            moment(1),
        )
        .await
        .expect_err("no account");
    assert!(matches!(err, StoreError::NoAccount), "{err:?}");
    assert_eq!(counts(store).await, (0, 0, 0, 0));
    // A decision that trades nothing needs no account.
    let failed = decision(TREND, &btc, 1, DecisionKind::Entry, DecisionOutcome::Failed);
    assert!(
        store
            .record_decision(None, &failed, moment(1))
            .await
            .expect("record")
    );
}

async fn opening_stores_the_position_and_its_fill_and_pays_gross_plus_fee_exactly(store: &Store) {
    let btc = ledger(store, dec!(100000.00000001)).await;
    let run = store
        .start_run(RunKind::SyncNewTrades, moment(1))
        .await
        .expect("run");
    let d = entry(TREND, &btc, 1);
    let f = buy(&btc, 2, dec!(0.12345678), dec!(40000.12));
    // Sub-microsecond digits are dropped, as everywhere in the store.
    let when = at("2024-01-02T06:00:00.123456789Z");
    let id = match store.open_position(Some(run), &d, &f, when).await {
        Ok(OpenOutcome::Opened(id)) => id,
        other => panic!("expected a new position, got {other:?}"),
    };

    let paid = dec!(0.12345678) * dec!(40000.12) * dec!(1.001);
    assert_eq!(cash(store).await, dec!(100000.00000001) - paid);
    let expected = Position {
        id,
        symbol: btc.clone(),
        strategy: TREND.to_owned(),
        quantity: f.quantity,
        entry_price: f.price,
        entry_day: nth(2),
        entry_fee: f.fee,
        exit: None,
    };
    assert_eq!(
        store.position(id).await.expect("load"),
        Some(expected.clone())
    );
    assert_eq!(
        store
            .positions(Some(PositionStatus::Open))
            .await
            .expect("open"),
        std::slice::from_ref(&expected)
    );
    assert_eq!(
        store
            .positions(Some(PositionStatus::Closed))
            .await
            .expect("closed"),
        []
    );
    assert_eq!(
        store.open_position_of(TREND, &btc).await.expect("open of"),
        Some(expected)
    );
    assert_eq!(
        store.fills_of(id).await.expect("fills"),
        std::slice::from_ref(&f)
    );

    let decisions = store.decisions(&all_decisions()).await.expect("decisions");
    assert_eq!(decisions.len(), 1);
    let stored = &decisions[0];
    assert_eq!(
        (stored.run, stored.position, stored.outcome, stored.kind),
        (
            Some(run),
            Some(id),
            DecisionOutcome::Passed,
            DecisionKind::Entry
        )
    );
    assert_eq!(
        (&stored.strategy, &stored.symbol, stored.day),
        (&d.strategy, &btc, nth(1))
    );
    assert_eq!(stored.detail, d.detail);
    assert_eq!(stored.recorded_at, at("2024-01-02T06:00:00.123456Z"));

    let history = store
        .history_filtered(&all_history())
        .await
        .expect("history");
    let kinds: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, [EVENT_FILL, EVENT_DECISION], "newest first");
    for entry in &history {
        assert_eq!(entry.strategy.as_deref(), Some(TREND));
        assert_eq!(entry.symbol.as_ref(), Some(&btc));
        assert_eq!(entry.position, Some(id));
        assert_eq!(entry.run, Some(run));
    }
    assert_eq!(
        history[1].detail["detail"], d.detail,
        "the rule values are kept"
    );
    assert_eq!(history[1].detail["outcome"], "passed");
    assert_eq!(history[1].detail["decision_id"], stored.id);
    let logged: Fill = serde_json::from_value(history[0].detail["fill"].clone()).expect("fill");
    assert_eq!(logged, f);
    let after: Money =
        serde_json::from_value(history[0].detail["cash_after"].clone()).expect("cash");
    assert_eq!(after.0, dec!(100000.00000001) - paid);
}

async fn the_same_entry_decided_twice_is_already_decided_and_changes_nothing(store: &Store) {
    let btc = ledger(store, dec!(1000)).await;
    let d = entry(TREND, &btc, 1);
    let f = buy(&btc, 2, dec!(1), dec!(100));
    let id = opened(store, &d, &f).await;
    let before = (counts(store).await, cash(store).await);

    // The same job again, even with another fill or another outcome, writes nothing.
    assert_eq!(open(store, &d, &f).await, OpenOutcome::AlreadyDecided);
    let cheaper = buy(&btc, 2, dec!(2), dec!(50));
    assert_eq!(open(store, &d, &cheaper).await, OpenOutcome::AlreadyDecided);
    let failed = NewDecision {
        outcome: DecisionOutcome::Failed,
        ..d.clone()
    };
    assert!(
        !store
            .record_decision(None, &failed, moment(1))
            .await
            .expect("record")
    );
    assert_eq!((counts(store).await, cash(store).await), before);
    assert_eq!(store.fills_of(id).await.expect("fills").len(), 1);

    // record_decision itself is once per key too, and its exit twin is another key.
    let not_ready = decision(
        TREND,
        &btc,
        5,
        DecisionKind::Entry,
        DecisionOutcome::NotReady,
    );
    assert!(
        store
            .record_decision(None, &not_ready, moment(5))
            .await
            .expect("first")
    );
    assert!(
        !store
            .record_decision(None, &not_ready, moment(5))
            .await
            .expect("again")
    );
    let exit_kind = NewDecision {
        kind: DecisionKind::Exit,
        ..not_ready.clone()
    };
    assert!(
        store
            .record_decision(None, &exit_kind, moment(5))
            .await
            .expect("exit")
    );
    let (decisions, _, _, history) = counts(store).await;
    assert_eq!((decisions, history), (before.0.0 + 2, before.0.3 + 2));
}

async fn a_second_entry_while_a_position_is_open_is_recorded_as_skipped(store: &Store) {
    let btc = ledger(store, dec!(1000)).await;
    let id = opened(
        store,
        &entry(TREND, &btc, 1),
        &buy(&btc, 2, dec!(1), dec!(100)),
    )
    .await;
    let before = cash(store).await;

    let again = entry(TREND, &btc, 3);
    assert_eq!(
        open(store, &again, &buy(&btc, 4, dec!(1), dec!(100))).await,
        OpenOutcome::AlreadyOpen
    );
    assert_eq!(cash(store).await, before);
    assert_eq!(store.positions(None).await.expect("positions").len(), 1);
    let skipped = store
        .decisions(&DecisionFilter {
            since: Some(nth(3)),
            ..all_decisions()
        })
        .await
        .expect("decisions");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].outcome, DecisionOutcome::Skipped);
    assert_eq!(skipped[0].position, None);
    assert_eq!(skipped[0].detail["skipped"]["reason"], "already_open");
    assert_eq!(skipped[0].detail["skipped"]["open_position"], id.0);
    assert_eq!(skipped[0].detail["values"], again.detail["values"]);
    let newest = &store.history(1).await.expect("history")[0];
    assert_eq!(newest.kind, EVENT_DECISION);
    assert_eq!(newest.detail["outcome"], "skipped");

    // One open position per strategy × instrument: another strategy may open its own.
    let other = opened(
        store,
        &entry("dip", &btc, 3),
        &buy(&btc, 4, dec!(1), dec!(100)),
    )
    .await;
    assert_ne!(other, id);
    assert_eq!(
        store
            .positions(Some(PositionStatus::Open))
            .await
            .expect("open")
            .len(),
        2
    );
}

async fn an_entry_the_cash_cannot_pay_for_is_refused_and_recorded(store: &Store) {
    let btc = ledger(store, dec!(100.1)).await;
    let before = counts(store).await;
    // 100.00001 + 0.1 % fee = 100.10001001 > 100.1
    let f = buy(&btc, 2, dec!(1), dec!(100.00001));
    assert_eq!(
        open(store, &entry(TREND, &btc, 1), &f).await,
        OpenOutcome::Refused {
            needed: Money(dec!(100.10001001)),
            available: Money(dec!(100.1)),
        }
    );
    assert_eq!(cash(store).await, dec!(100.1));
    let (decisions, positions, fills, history) = counts(store).await;
    assert_eq!(
        (decisions, positions, fills, history),
        (before.0 + 1, 0, 0, before.3 + 2)
    );
    let refused = &store.decisions(&all_decisions()).await.expect("decisions")[0];
    assert_eq!(refused.outcome, DecisionOutcome::Refused);
    assert_eq!(refused.detail["refusal"]["refusal"], "insufficient_cash");
    assert_eq!(refused.detail["refusal"]["needed"], "100.10001001");
    assert_eq!(refused.detail["refusal"]["available"], "100.1");
    let history = store.history(2).await.expect("history");
    assert_eq!(history[0].kind, EVENT_REFUSAL);
    assert_eq!(history[0].detail["decision_id"], refused.id);
    assert_eq!(history[0].strategy.as_deref(), Some(TREND));
    assert_eq!(history[1].detail["outcome"], "refused");

    // A refusal decided before the store (e.g. an order too small to fill) is logged alike.
    let too_small = decision(
        TREND,
        &btc,
        5,
        DecisionKind::Entry,
        DecisionOutcome::Refused,
    );
    assert!(
        store
            .record_decision(None, &too_small, moment(5))
            .await
            .expect("record")
    );
    let history = store.history(2).await.expect("history");
    assert_eq!(
        (history[0].kind.as_str(), history[1].kind.as_str()),
        (EVENT_REFUSAL, EVENT_DECISION)
    );
    assert_eq!(history[0].detail["detail"], too_small.detail);

    // Exactly the cash available is enough, and leaves exactly nothing.
    let exact = buy(&btc, 3, dec!(1), dec!(100));
    opened(store, &entry(TREND, &btc, 2), &exact).await;
    assert_eq!(cash(store).await, Decimal::ZERO);
}

async fn closing_realizes_exact_pnl_and_a_second_close_changes_nothing(store: &Store) {
    let btc = ledger(store, dec!(100000.00000001)).await;
    let bought = buy(&btc, 2, dec!(0.12345678), dec!(40000.12));
    let id = opened(store, &entry(TREND, &btc, 1), &bought).await;
    let sold = sell(&btc, 11, dec!(0.12345678), dec!(41234.56789));
    let d = exit(TREND, &btc, 10);

    let proceeds = dec!(0.12345678) * dec!(41234.56789);
    let cost = dec!(0.12345678) * dec!(40000.12);
    let pnl = proceeds - cost - cost * dec!(0.001) - proceeds * dec!(0.001);
    assert_eq!(
        close(store, &d, id, &sold).await,
        CloseOutcome::Closed {
            realized_pnl: Money(pnl)
        }
    );
    assert_eq!(cash(store).await, dec!(100000.00000001) + pnl);
    let position = store.position(id).await.expect("load").expect("exists");
    assert_eq!(
        position.exit,
        Some(Exit {
            day: nth(11),
            price: sold.price,
            fee: sold.fee,
            reason: ExitReason::Signal,
        })
    );
    assert_eq!(position.realized_pnl(), Some(Money(pnl)));
    assert_eq!(
        store
            .positions(Some(PositionStatus::Open))
            .await
            .expect("open"),
        []
    );
    assert_eq!(
        store
            .positions(Some(PositionStatus::Closed))
            .await
            .expect("closed"),
        [position]
    );
    assert_eq!(
        store.open_position_of(TREND, &btc).await.expect("open of"),
        None
    );
    assert_eq!(
        store.fills_of(id).await.expect("fills"),
        [bought, sold.clone()]
    );
    let linked = store
        .decisions(&DecisionFilter {
            position: Some(id),
            ..all_decisions()
        })
        .await
        .expect("decisions");
    let kinds: Vec<DecisionKind> = linked.iter().map(|d| d.kind).collect();
    assert_eq!(kinds, [DecisionKind::Exit, DecisionKind::Entry]);
    let history = store.history(3).await.expect("history");
    let events: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(events, [EVENT_CLOSE, EVENT_FILL, EVENT_DECISION]);
    assert!(history.iter().all(|e| e.position == Some(id)));
    assert_eq!(history[0].detail["reason"], "signal");
    let logged: Money =
        serde_json::from_value(history[0].detail["realized_pnl"].clone()).expect("pnl");
    assert_eq!(logged.0, pnl);

    // Rerunning the same exit, or closing again on a later day, changes nothing.
    let before = (counts(store).await, cash(store).await);
    assert_eq!(
        close(store, &d, id, &sold).await,
        CloseOutcome::AlreadyDecided
    );
    let later = exit(TREND, &btc, 12);
    assert_eq!(close(store, &later, id, &sold).await, CloseOutcome::NotOpen);
    assert_eq!(
        close(store, &later, PositionId(9_999), &sold).await,
        CloseOutcome::NotOpen
    );
    assert_eq!((counts(store).await, cash(store).await), before);
    // After the close, the strategy may enter the instrument again.
    opened(
        store,
        &entry(TREND, &btc, 12),
        &buy(&btc, 13, dec!(1), dec!(100)),
    )
    .await;
}

async fn trades_that_do_not_fit_the_ledger_are_errors_and_write_nothing(store: &Store) {
    let btc = ledger(store, dec!(1000)).await;
    let eth = registered(store, "ETH").await;
    let f = buy(&btc, 2, dec!(1), dec!(100));
    let id = opened(store, &entry(TREND, &btc, 1), &f).await;
    let before = (counts(store).await, cash(store).await);
    let invalid = |result: Result<_, StoreError>| match result {
        Err(StoreError::InvalidTrade(why)) => why,
        other => panic!("expected an invalid trade, got {other:?}"),
    };
    let failed = decision(TREND, &btc, 3, DecisionKind::Entry, DecisionOutcome::Failed);
    invalid(
        store
            .open_position(None, &failed, &f, moment(3))
            .await
            .map(|_| ()),
    );
    let sell_to_open = sell(&btc, 4, dec!(1), dec!(100));
    invalid(
        store
            .open_position(None, &entry(TREND, &btc, 3), &sell_to_open, moment(3))
            .await
            .map(|_| ()),
    );
    let other_symbol = buy(&eth, 4, dec!(1), dec!(100));
    invalid(
        store
            .open_position(None, &entry(TREND, &btc, 3), &other_symbol, moment(3))
            .await
            .map(|_| ()),
    );
    let zero = buy(&btc, 4, dec!(0), dec!(100));
    invalid(
        store
            .open_position(None, &entry(TREND, &btc, 3), &zero, moment(3))
            .await
            .map(|_| ()),
    );

    let d = exit(TREND, &btc, 3);
    let closing = |fill: Fill, d: NewDecision| {
        let store = store.clone();
        async move {
            store
                .close_position(None, &d, id, &fill, ExitReason::StopLoss, moment(3))
                .await
                .map(|_| ())
        }
    };
    let why = invalid(closing(sell(&btc, 4, dec!(0.5), dec!(90)), d.clone()).await);
    assert!(why.contains("holds 1 BTC"), "{why}");
    let why = invalid(closing(sell(&btc, 4, dec!(1), dec!(90)), exit("dip", &btc, 3)).await);
    assert!(why.contains("belongs to trend"), "{why}");
    invalid(closing(buy(&btc, 4, dec!(1), dec!(90)), d.clone()).await);
    invalid(closing(sell(&btc, 4, dec!(1), dec!(90)), entry(TREND, &btc, 3)).await);
    assert_eq!((counts(store).await, cash(store).await), before);

    // Unknown instruments and runs are named, and leave nothing behind either.
    let sol = sym("SOL");
    let err = store
        .open_position(
            None,
            &entry(TREND, &sol, 3),
            &buy(&sol, 4, dec!(1), dec!(1)),
            moment(3),
        )
        .await
        .expect_err("unregistered");
    assert!(
        matches!(&err, StoreError::UnknownInstrument(s) if *s == sol),
        "{err:?}"
    );
    let ghost = Some(barter_core::RunId(9_999));
    let err = store
        .open_position(
            ghost,
            &entry(TREND, &eth, 3),
            &buy(&eth, 4, dec!(1), dec!(1)),
            moment(3),
        )
        .await
        .expect_err("unknown run");
    assert!(matches!(err, StoreError::UnknownRun(_)), "{err:?}");
    let err = store
        .record_decision(ghost, &entry(TREND, &eth, 3), moment(3))
        .await
        .expect_err("unknown run");
    assert!(matches!(err, StoreError::UnknownRun(_)), "{err:?}");
    assert_eq!((counts(store).await, cash(store).await), before);
}

async fn concurrent_runs_of_the_same_entry_open_exactly_one_position(store: &Store) {
    let btc = ledger(store, dec!(1000)).await;
    let outcomes = at_once(store, 8, |store, _| {
        let btc = btc.clone();
        async move {
            let d = entry(TREND, &btc, 1);
            let f = buy(&btc, 2, dec!(1), dec!(100));
            store
                .open_position(None, &d, &f, moment(1))
                .await
                .expect("open")
        }
    })
    .await;
    let opened = outcomes
        .iter()
        .filter(|o| matches!(o, OpenOutcome::Opened(_)))
        .count();
    let decided = outcomes
        .iter()
        .filter(|o| **o == OpenOutcome::AlreadyDecided)
        .count();
    assert_eq!((opened, decided), (1, 7), "{outcomes:?}");
    assert_eq!(cash(store).await, dec!(1000) - dec!(100.1), "debited once");
    assert_eq!(counts(store).await, (1, 1, 1, 2));
}

async fn concurrent_entries_on_different_days_open_one_position_and_skip_the_rest(store: &Store) {
    let btc = ledger(store, dec!(1000)).await;
    let outcomes = at_once(store, 8, |store, i| {
        let btc = btc.clone();
        async move {
            let d = entry(TREND, &btc, i + 1);
            let f = buy(&btc, i + 2, dec!(1), dec!(100));
            store
                .open_position(None, &d, &f, moment(i + 1))
                .await
                .expect("open")
        }
    })
    .await;
    let opened = outcomes
        .iter()
        .filter(|o| matches!(o, OpenOutcome::Opened(_)))
        .count();
    let skipped = outcomes
        .iter()
        .filter(|o| **o == OpenOutcome::AlreadyOpen)
        .count();
    assert_eq!((opened, skipped), (1, 7), "{outcomes:?}");
    assert_eq!(cash(store).await, dec!(1000) - dec!(100.1));
    let decisions = store.decisions(&all_decisions()).await.expect("decisions");
    let outcomes: Vec<DecisionOutcome> = decisions.iter().map(|d| d.outcome).collect();
    assert_eq!(outcomes.len(), 8);
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == DecisionOutcome::Skipped)
            .count(),
        7
    );
    assert_eq!(counts(store).await, (8, 1, 1, 9));
}

async fn concurrent_entries_never_spend_the_same_cash_twice(store: &Store) {
    store
        .ensure_account(Money(dec!(1000)))
        .await
        .expect("account");
    for i in 0..8 {
        registered(store, &format!("C{i}")).await;
    }
    // Each entry needs 300.3: the cash pays for exactly three of them, whatever the order.
    let outcomes = at_once(store, 8, |store, i| async move {
        let coin = sym(&format!("C{i}"));
        let d = entry(TREND, &coin, 1);
        let f = buy(&coin, 2, dec!(3), dec!(100));
        store
            .open_position(None, &d, &f, moment(1))
            .await
            .expect("open")
    })
    .await;
    let opened = outcomes
        .iter()
        .filter(|o| matches!(o, OpenOutcome::Opened(_)))
        .count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, OpenOutcome::Refused { .. }))
        .count();
    assert_eq!((opened, refused), (3, 5), "{outcomes:?}");
    assert_eq!(cash(store).await, dec!(1000) - dec!(3) * dec!(300.3));
}

async fn concurrent_closes_of_one_position_close_it_exactly_once(store: &Store) {
    let btc = ledger(store, dec!(1000)).await;
    let eth = registered(store, "ETH").await;
    let first = opened(
        store,
        &entry(TREND, &btc, 1),
        &buy(&btc, 2, dec!(1), dec!(100)),
    )
    .await;
    let second = opened(
        store,
        &entry(TREND, &eth, 1),
        &buy(&eth, 2, dec!(2), dec!(10)),
    )
    .await;
    let after_opens = cash(store).await;

    // The same exit eight times at once: one close, seven reruns.
    let same_day = at_once(store, 8, |store, _| {
        let btc = btc.clone();
        async move {
            let d = exit(TREND, &btc, 5);
            let f = sell(&btc, 6, dec!(1), dec!(110));
            store
                .close_position(None, &d, first, &f, ExitReason::TakeProfit, moment(5))
                .await
                .expect("close")
        }
    })
    .await;
    let closed = same_day
        .iter()
        .filter(|o| matches!(o, CloseOutcome::Closed { .. }))
        .count();
    let decided = same_day
        .iter()
        .filter(|o| **o == CloseOutcome::AlreadyDecided)
        .count();
    assert_eq!((closed, decided), (1, 7), "{same_day:?}");

    // Exits for eight different days at once: one close, the others find it closed.
    let days = at_once(store, 8, |store, i| {
        let eth = eth.clone();
        async move {
            let d = exit(TREND, &eth, 5 + i);
            let f = sell(&eth, 6 + i, dec!(2), dec!(9));
            store
                .close_position(None, &d, second, &f, ExitReason::StopLoss, moment(5 + i))
                .await
                .expect("close")
        }
    })
    .await;
    let closed = days
        .iter()
        .filter(|o| matches!(o, CloseOutcome::Closed { .. }))
        .count();
    let not_open = days.iter().filter(|o| **o == CloseOutcome::NotOpen).count();
    assert_eq!((closed, not_open), (1, 7), "{days:?}");

    let credited = (dec!(110) - dec!(0.11)) + (dec!(18) - dec!(0.018));
    assert_eq!(
        cash(store).await,
        after_opens + credited,
        "credited once each"
    );
    assert_eq!(counts(store).await, (4, 2, 4, 4 + 6));
}

/// Installs a trigger that aborts inserts into `table` for rows matching `condition` (SQL on
/// `NEW`, the same in both dialects).
async fn crash_when(store: &Store, table: &str, condition: &str) {
    exec(
        store,
        &format!(
            "CREATE TRIGGER injected_crash BEFORE INSERT ON {table} WHEN {condition} \
             BEGIN SELECT RAISE(ABORT, 'injected crash'); END;"
        ),
        &format!(
            "CREATE FUNCTION injected_crash() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN \
               IF {condition} THEN RAISE EXCEPTION 'injected crash'; END IF; \
               RETURN NEW; \
             END $$; \
             CREATE TRIGGER injected_crash BEFORE INSERT ON {table} \
             FOR EACH ROW EXECUTE FUNCTION injected_crash();"
        ),
    )
    .await;
}

async fn stop_crashing(store: &Store, table: &str) {
    exec(
        store,
        "DROP TRIGGER injected_crash;",
        &format!("DROP TRIGGER injected_crash ON {table}; DROP FUNCTION injected_crash();"),
    )
    .await;
}

async fn a_crash_inside_an_open_leaves_no_trace(store: &Store) {
    let btc = ledger(store, dec!(1000)).await;
    let boom = registered(store, "BOOM").await;
    opened(
        store,
        &entry(TREND, &btc, 1),
        &buy(&btc, 2, dec!(1), dec!(100)),
    )
    .await;
    let before = (counts(store).await, cash(store).await);
    // The fill is written after the position and the decision: failing it must undo them.
    crash_when(store, "fills", "NEW.symbol = 'BOOM'").await;

    let d = entry(TREND, &boom, 1);
    let f = buy(&boom, 2, dec!(1), dec!(100));
    let err = store
        .open_position(None, &d, &f, moment(1))
        .await
        .expect_err("the trigger aborts the open");
    assert!(matches!(err, StoreError::Database { .. }), "{err:?}");
    assert!(chain(&err).contains("injected crash"), "{}", chain(&err));
    assert_eq!((counts(store).await, cash(store).await), before);
    assert_eq!(
        store.open_position_of(TREND, &boom).await.expect("load"),
        None
    );

    // The day was not consumed: once the fault is gone the same job opens the position.
    stop_crashing(store, "fills").await;
    let id = opened(store, &d, &f).await;
    assert_eq!(store.fills_of(id).await.expect("fills"), [f]);
}

async fn a_crash_inside_a_close_leaves_the_position_open_and_the_cash_untouched(store: &Store) {
    let btc = ledger(store, dec!(1000)).await;
    let id = opened(
        store,
        &entry(TREND, &btc, 1),
        &buy(&btc, 2, dec!(1), dec!(100)),
    )
    .await;
    let before = (counts(store).await, cash(store).await);
    // The close entry is the very last statement of a close.
    crash_when(store, "history", "NEW.kind = 'close'").await;

    let d = exit(TREND, &btc, 3);
    let f = sell(&btc, 4, dec!(1), dec!(120));
    let err = store
        .close_position(None, &d, id, &f, ExitReason::Signal, moment(3))
        .await
        .expect_err("the trigger aborts the close");
    assert!(chain(&err).contains("injected crash"), "{}", chain(&err));
    assert_eq!((counts(store).await, cash(store).await), before);
    let position = store.position(id).await.expect("load").expect("exists");
    assert!(position.is_open());

    stop_crashing(store, "history").await;
    assert!(matches!(
        close(store, &d, id, &f).await,
        CloseOutcome::Closed { .. }
    ));
    assert_eq!(cash(store).await, before.1 + dec!(120) - dec!(0.12));
}

async fn decisions_are_filtered_by_symbol_strategy_day_and_position_newest_first(store: &Store) {
    let btc = ledger(store, dec!(1000)).await;
    let eth = registered(store, "ETH").await;
    let mut ids = Vec::new();
    for on in 1..=3 {
        for (strategy, symbol) in [(TREND, &btc), (TREND, &eth), ("dip", &btc)] {
            let d = decision(
                strategy,
                symbol,
                on,
                DecisionKind::Entry,
                DecisionOutcome::Failed,
            );
            assert!(
                store
                    .record_decision(None, &d, moment(on))
                    .await
                    .expect("record")
            );
        }
    }
    let id = opened(
        store,
        &entry(TREND, &btc, 4),
        &buy(&btc, 5, dec!(1), dec!(100)),
    )
    .await;
    let all = store.decisions(&all_decisions()).await.expect("all");
    assert_eq!(all.len(), 10);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    ids.extend(all.iter().map(|d| d.id));

    let of = |filter: DecisionFilter| async move {
        store
            .decisions(&filter)
            .await
            .expect("decisions")
            .iter()
            .map(|d| (d.strategy.clone(), d.symbol.to_string(), d.day))
            .collect::<Vec<_>>()
    };
    let trend_btc = of(DecisionFilter {
        symbol: Some(btc.clone()),
        strategy: Some(TREND.into()),
        ..all_decisions()
    })
    .await;
    let expected: Vec<_> = [4, 3, 2, 1]
        .map(|on| (TREND.to_owned(), "BTC".to_owned(), nth(on)))
        .to_vec();
    assert_eq!(trend_btc, expected);
    let recent = of(DecisionFilter {
        since: Some(nth(3)),
        ..all_decisions()
    })
    .await;
    assert_eq!(recent.len(), 4);
    let eth_only = of(DecisionFilter {
        symbol: Some(eth.clone()),
        limit: 2,
        ..all_decisions()
    })
    .await;
    assert_eq!(eth_only.len(), 2);
    assert_eq!(eth_only[0].2, nth(3));
    let of_position = store
        .decisions(&DecisionFilter {
            position: Some(id),
            ..all_decisions()
        })
        .await
        .expect("by position");
    assert_eq!(of_position.len(), 1);
    assert_eq!(of_position[0].id, ids[0]);
    assert_eq!(of_position[0].outcome, DecisionOutcome::Passed);
    assert_eq!(of_position[0].day, nth(4));
}

async fn history_is_filtered_by_symbol_strategy_and_time_and_pages_by_id(store: &Store) {
    let btc = ledger(store, dec!(1000)).await;
    let eth = registered(store, "ETH").await;
    // A sync entry (no strategy), then trading entries of two strategies on two days.
    let synced = json!({"added": 1});
    store
        .record_history(None, moment(0), "candles_synced", Some(&btc), &synced)
        .await
        .expect("sync entry");
    opened(
        store,
        &entry(TREND, &btc, 1),
        &buy(&btc, 2, dec!(1), dec!(100)),
    )
    .await;
    let failed = decision("dip", &eth, 1, DecisionKind::Entry, DecisionOutcome::Failed);
    store
        .record_decision(None, &failed, moment(1))
        .await
        .expect("record");
    opened(
        store,
        &entry("dip", &eth, 2),
        &buy(&eth, 3, dec!(1), dec!(10)),
    )
    .await;

    let all = store.history_filtered(&all_history()).await.expect("all");
    assert_eq!(all.len(), 6);
    assert_eq!(
        all.last().map(|e| e.strategy.clone()),
        Some(None),
        "the sync entry"
    );
    let kinds = |entries: &[barter_store::HistoryEntry]| {
        entries.iter().map(|e| e.kind.clone()).collect::<Vec<_>>()
    };
    let dip = store
        .history_filtered(&HistoryFilter {
            strategy: Some("dip".into()),
            ..all_history()
        })
        .await
        .expect("dip");
    assert_eq!(kinds(&dip), [EVENT_FILL, EVENT_DECISION, EVENT_DECISION]);
    let btc_entries = store
        .history_filtered(&HistoryFilter {
            symbol: Some(btc.clone()),
            ..all_history()
        })
        .await
        .expect("btc");
    assert_eq!(
        kinds(&btc_entries),
        [EVENT_FILL, EVENT_DECISION, "candles_synced"]
    );
    let since = store
        .history_filtered(&HistoryFilter {
            since: Some(moment(2)),
            ..all_history()
        })
        .await
        .expect("since");
    assert_eq!(since.len(), 2, "the day-2 entry and its fill");
    assert!(since.iter().all(|e| e.recorded_at >= moment(2)));
    let none = store
        .history_filtered(&HistoryFilter {
            strategy: Some(TREND.into()),
            symbol: Some(eth.clone()),
            ..all_history()
        })
        .await
        .expect("none");
    assert!(none.is_empty());

    // Pages of two, each continuing below the last id seen, cover everything exactly once.
    let mut paged = Vec::new();
    let mut before_id = None;
    loop {
        let page = store
            .history_filtered(&HistoryFilter {
                before_id,
                limit: 2,
                ..HistoryFilter::default()
            })
            .await
            .expect("page");
        let Some(last) = page.last() else { break };
        before_id = Some(last.id);
        paged.extend(page);
    }
    assert_eq!(paged, all);
    assert_eq!(
        store.history(6).await.expect("history"),
        all,
        "history() unchanged"
    );
}

async fn history_is_filtered_by_kind_and_until_and_lists_its_kinds(store: &Store) {
    assert_eq!(
        store.history_kinds().await.expect("kinds"),
        Vec::<String>::new(),
        "an empty history has no kinds"
    );
    let btc = ledger(store, dec!(1000)).await;
    let eth = registered(store, "ETH").await;
    // Same entries as the symbol/strategy test: a sync at moment(0); trend's BTC decision and
    // fill and dip's failed ETH decision at moment(1); dip's ETH decision and fill at moment(2).
    store
        .record_history(None, moment(0), "candles_synced", Some(&btc), &json!({}))
        .await
        .expect("sync entry");
    opened(
        store,
        &entry(TREND, &btc, 1),
        &buy(&btc, 2, dec!(1), dec!(100)),
    )
    .await;
    let failed = decision("dip", &eth, 1, DecisionKind::Entry, DecisionOutcome::Failed);
    store
        .record_decision(None, &failed, moment(1))
        .await
        .expect("record");
    opened(
        store,
        &entry("dip", &eth, 2),
        &buy(&eth, 3, dec!(1), dec!(10)),
    )
    .await;
    let all = store.history_filtered(&all_history()).await.expect("all");
    assert_eq!(all.len(), 6);
    let filtered = |filter: HistoryFilter| async move {
        store
            .history_filtered(&filter)
            .await
            .unwrap_or_else(|e| panic!("filter: {}", chain(&e)))
    };
    // What `all` holds that matches `keep`, in the same (newest first) order.
    let expected = |keep: &dyn Fn(&barter_store::HistoryEntry) -> bool| {
        all.iter().filter(|e| keep(e)).cloned().collect::<Vec<_>>()
    };

    // The kinds: distinct and sorted.
    let mut kinds = vec![
        "candles_synced".to_owned(),
        EVENT_DECISION.to_owned(),
        EVENT_FILL.to_owned(),
    ];
    kinds.sort();
    assert_eq!(store.history_kinds().await.expect("kinds"), kinds);

    // Kind: an exact match only.
    let fills = filtered(HistoryFilter {
        kind: Some(EVENT_FILL.into()),
        ..all_history()
    })
    .await;
    assert_eq!(fills.len(), 2);
    assert_eq!(fills, expected(&|e| e.kind == EVENT_FILL));
    for near_miss in ["candles", "FILL", "fill ", "%"] {
        let none = filtered(HistoryFilter {
            kind: Some(near_miss.into()),
            ..all_history()
        })
        .await;
        assert!(none.is_empty(), "kind {near_miss:?} matched {none:?}");
    }

    // Until: strictly before; the entries exactly at `until` are excluded.
    let before_1 = filtered(HistoryFilter {
        until: Some(moment(1)),
        ..all_history()
    })
    .await;
    assert_eq!(before_1, expected(&|e| e.kind == "candles_synced"));
    let through_1 = filtered(HistoryFilter {
        until: Some(moment(1) + chrono::Duration::microseconds(1)),
        ..all_history()
    })
    .await;
    assert_eq!(through_1, expected(&|e| e.recorded_at <= moment(1)));
    assert_eq!(through_1.len(), 4);
    // A day range [moment(1), moment(2)): since is inclusive, until exclusive.
    let day_1 = filtered(HistoryFilter {
        since: Some(moment(1)),
        until: Some(moment(2)),
        ..all_history()
    })
    .await;
    assert_eq!(day_1, expected(&|e| e.recorded_at == moment(1)));
    assert_eq!(day_1.len(), 3);
    assert!(
        filtered(HistoryFilter {
            since: Some(moment(2)),
            until: Some(moment(2)),
            ..all_history()
        })
        .await
        .is_empty(),
        "an empty range"
    );

    // Combined with symbol and strategy: every set field must match.
    let dip_decisions = filtered(HistoryFilter {
        kind: Some(EVENT_DECISION.into()),
        strategy: Some("dip".into()),
        ..all_history()
    })
    .await;
    assert_eq!(
        dip_decisions,
        expected(&|e| e.kind == EVENT_DECISION && e.strategy.as_deref() == Some("dip"))
    );
    assert_eq!(dip_decisions.len(), 2);
    let eth_decisions_before_2 = filtered(HistoryFilter {
        kind: Some(EVENT_DECISION.into()),
        symbol: Some(eth.clone()),
        strategy: Some("dip".into()),
        until: Some(moment(2)),
        ..all_history()
    })
    .await;
    assert_eq!(eth_decisions_before_2.len(), 1);
    assert_eq!(eth_decisions_before_2[0].recorded_at, moment(1));
    assert_eq!(eth_decisions_before_2[0].symbol.as_ref(), Some(&eth));
    let btc_fills = filtered(HistoryFilter {
        kind: Some(EVENT_FILL.into()),
        symbol: Some(btc.clone()),
        strategy: Some(TREND.into()),
        ..all_history()
    })
    .await;
    assert_eq!(btc_fills.len(), 1);
    assert!(
        filtered(HistoryFilter {
            kind: Some("candles_synced".into()),
            strategy: Some(TREND.into()),
            ..all_history()
        })
        .await
        .is_empty(),
        "the sync entry has no strategy"
    );

    // Paging a kind and time filter one entry at a time covers its matches exactly once.
    let page_filter = HistoryFilter {
        kind: Some(EVENT_DECISION.into()),
        until: Some(moment(2) + chrono::Duration::microseconds(1)),
        ..HistoryFilter::default()
    };
    let mut paged = Vec::new();
    let mut before_id = None;
    loop {
        let page = filtered(HistoryFilter {
            before_id,
            limit: 1,
            ..page_filter.clone()
        })
        .await;
        assert!(page.len() <= 1);
        let Some(last) = page.last() else { break };
        before_id = Some(last.id);
        paged.extend(page);
    }
    assert_eq!(paged, expected(&|e| e.kind == EVENT_DECISION));
    assert_eq!(paged.len(), 3);

    // A kind recorded later shows up once, in order.
    store
        .record_history(None, moment(3), "a_manual_note", None, &json!({}))
        .await
        .expect("note");
    kinds.insert(0, "a_manual_note".to_owned());
    assert_eq!(store.history_kinds().await.expect("kinds"), kinds);
}

async fn history_and_decisions_refuse_updates_and_deletes(store: &Store) {
    let btc = ledger(store, dec!(1000)).await;
    let run = store
        .start_run(RunKind::SyncNewTrades, moment(1))
        .await
        .expect("run");
    let d = entry(TREND, &btc, 1);
    store
        .open_position(Some(run), &d, &buy(&btc, 2, dec!(1), dec!(100)), moment(1))
        .await
        .expect("open");
    for sql in [
        "UPDATE history SET detail = '{}'",
        "DELETE FROM history",
        "UPDATE decisions SET outcome = 'failed'",
        "DELETE FROM decisions",
    ] {
        let result = match store.db() {
            barter_store::Db::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
            barter_store::Db::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        };
        let err = result.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    // Deleting a run only clears the link to it.
    exec(store, "DELETE FROM runs", "DELETE FROM runs").await;
    let history = store.history(10).await.expect("history");
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|e| e.run.is_none()));
    let decisions = store.decisions(&all_decisions()).await.expect("decisions");
    assert_eq!(decisions[0].run, None);
    assert_eq!(decisions[0].detail, d.detail);
}

async fn an_instrument_with_positions_cannot_be_removed(store: &Store) {
    let btc = ledger(store, dec!(1000)).await;
    let eth = registered(store, "ETH").await;
    opened(
        store,
        &entry(TREND, &btc, 1),
        &buy(&btc, 2, dec!(1), dec!(100)),
    )
    .await;
    let err = store.remove_instrument(&btc).await.expect_err("in use");
    assert!(
        matches!(&err, StoreError::InstrumentInUse(s) if *s == btc),
        "{err:?}"
    );
    assert!(store.instrument(&btc).await.expect("load").is_some());
    // An instrument the ledger never traded is removed as before.
    store.remove_instrument(&eth).await.expect("remove");
}

async fn a_batch_of_decisions_stores_each_key_once_with_its_history(store: &Store) {
    let btc = ledger(store, dec!(1000)).await;
    let failed = DecisionOutcome::from(Outcome::Failed);
    let earlier = decision(TREND, &btc, 1, DecisionKind::Entry, failed);
    assert!(
        store
            .record_decision(None, &earlier, moment(1))
            .await
            .expect("first")
    );
    let before = counts(store).await;
    let mut refused = decision(
        TREND,
        &btc,
        3,
        DecisionKind::Entry,
        DecisionOutcome::Refused,
    );
    refused.detail["refusal"] = json!("insufficient cash");
    let batch = vec![
        earlier.clone(),                                       // taken by the earlier call
        decision(TREND, &btc, 2, DecisionKind::Entry, failed), // new
        decision(TREND, &btc, 2, DecisionKind::Entry, failed), // taken earlier in the batch
        decision(TREND, &btc, 2, DecisionKind::Exit, failed),  // another kind: another key
        refused,                                               // new, with a refusal entry
    ];
    let stored = store
        .record_decisions(None, &batch, moment(3))
        .await
        .expect("batch");
    assert_eq!(stored, vec![false, true, false, true, true]);
    let after = counts(store).await;
    assert_eq!(after.0 - before.0, 3, "three new decisions");
    assert_eq!(
        after.3 - before.3,
        4,
        "one history entry each, plus the refusal"
    );
    let again = store
        .record_decisions(None, &batch, moment(4))
        .await
        .expect("again");
    assert_eq!(again, vec![false; 5]);
    assert_eq!(counts(store).await, after, "a rerun changes nothing");
}
