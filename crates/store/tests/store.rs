//! The repository test suite, run on every backend by the harness in `support`.

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::Instant;

use barter_core::rule::{SeriesField, SeriesSet};
use barter_core::{
    Calendar, Candle, CandleOrigin, Day, Gaps, InstrumentSync, MarketData, Ohlcv, Run, RunId,
    RunKind, RunReport, RunStatus, SeriesHistory, SourceKind, Symbol, decimal_to_f64,
};
use barter_store::{ConnectOptions, Coverage, Db, Store, StoreError};
use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use support::*;

on_every_backend!(
    migrations_are_applied_on_connect_and_rerunning_them_is_harmless,
    instruments_are_added_listed_changed_and_removed,
    a_duplicate_symbol_is_refused_and_names_the_instrument,
    money_round_trips_exactly,
    the_same_candle_twice_is_unchanged,
    an_incomplete_candle_is_updated_when_it_completes_with_new_values,
    a_complete_candle_with_different_values_is_a_conflict_and_stays_stored,
    adds_updates_and_conflicts_mix_in_one_batch,
    a_failing_batch_leaves_the_instrument_exactly_as_it_was,
    a_batch_larger_than_the_bind_parameter_limits_is_chunked,
    removing_an_instrument_removes_its_candles,
    last_complete_day_ignores_incomplete_candles,
    candles_are_read_back_ascending_within_the_asked_range,
    a_series_history_holds_the_asked_prices_and_exact_candles_from_a_day,
    writes_for_unknown_or_mismatched_instruments_are_refused,
    a_malformed_stored_value_is_reported_as_corrupt_with_its_location,
    runs_round_trip_with_their_report,
    history_is_an_append_only_log_read_newest_first,
    concurrent_writers_count_every_new_day_exactly_once,
    the_candle_summary_always_matches_the_stored_candles,
    coverage_and_last_complete_are_read_together,
);

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn values(close: Decimal) -> Ohlcv {
    Ohlcv {
        open: dec!(100),
        high: close.max(dec!(100)) + dec!(1),
        low: close.min(dec!(100)) - dec!(1),
        close,
        volume: dec!(1000.5),
    }
}

fn candle_with(symbol: &Symbol, on: Day, values: Ohlcv, complete: bool) -> Candle {
    // "Today" is far ahead so any 2024 day may be complete.
    Candle::new(
        symbol.clone(),
        on,
        values,
        complete,
        CandleOrigin::Sample,
        day("2030-01-01"),
    )
    .expect("valid candle")
}

fn candle(symbol: &Symbol, on: Day, close: Decimal, complete: bool) -> Candle {
    candle_with(symbol, on, values(close), complete)
}

async fn write(store: &Store, symbol: &Symbol, candles: &[Candle]) -> barter_store::CandleWrite {
    store
        .write_candles(symbol, candles)
        .await
        .unwrap_or_else(|e| panic!("write candles: {}", chain(&e)))
}

async fn all_candles(store: &Store, symbol: &Symbol) -> Vec<Candle> {
    store
        .candles(symbol, None, None)
        .await
        .expect("read candles")
}

// ---------------------------------------------------------------------------------------------
// Cases run on every backend
// ---------------------------------------------------------------------------------------------

async fn migrations_are_applied_on_connect_and_rerunning_them_is_harmless(store: &Store) {
    assert_eq!(
        store.migrate().await.expect("migrate again"),
        Vec::<String>::new()
    );
    assert_eq!(
        store.migrate().await.expect("migrate a third time"),
        Vec::<String>::new()
    );
    assert_eq!(
        scalar(store, "SELECT COUNT(*) FROM _sqlx_migrations").await,
        barter_store::migrate::known().count() as i64
    );
    assert!(store.instruments().await.expect("tables exist").is_empty());
}

async fn instruments_are_added_listed_changed_and_removed(store: &Store) {
    let mut eth = instrument("ETH");
    eth.source = SourceKind::Binance;
    eth.source_id = "ETHUSDT".into();
    eth.calendar = Calendar::Weekdays;
    store.add_instrument(&eth).await.expect("add ETH");
    store
        .add_instrument(&instrument("BTC"))
        .await
        .expect("add BTC");

    assert_eq!(
        store.instrument(&sym("ETH")).await.expect("get"),
        Some(eth.clone())
    );
    assert_eq!(store.instrument(&sym("XRP")).await.expect("get"), None);
    let listed = store.instruments().await.expect("list");
    assert_eq!(
        listed,
        vec![instrument("BTC"), eth.clone()],
        "sorted by symbol"
    );

    store
        .set_instrument_active(&sym("ETH"), false)
        .await
        .expect("deactivate");
    let stored = store
        .instrument(&sym("ETH"))
        .await
        .expect("get")
        .expect("present");
    assert!(!stored.active);
    store
        .set_instrument_active(&sym("ETH"), true)
        .await
        .expect("reactivate");
    assert!(
        store
            .instrument(&sym("ETH"))
            .await
            .expect("get")
            .expect("present")
            .active
    );
    let unknown = store.set_instrument_active(&sym("XRP"), false).await;
    assert!(matches!(unknown, Err(StoreError::UnknownInstrument(s)) if s == sym("XRP")));

    assert_eq!(
        store.remove_instrument(&sym("ETH")).await.expect("remove"),
        0
    );
    assert_eq!(store.instrument(&sym("ETH")).await.expect("get"), None);
    let again = store.remove_instrument(&sym("ETH")).await;
    let err = again.expect_err("removing twice fails");
    assert_eq!(err.to_string(), "instrument ETH is not registered");
    assert_eq!(
        store.instruments().await.expect("list"),
        vec![instrument("BTC")]
    );
}

async fn a_duplicate_symbol_is_refused_and_names_the_instrument(store: &Store) {
    store
        .add_instrument(&instrument("BTC"))
        .await
        .expect("first add");
    let mut other = instrument("BTC");
    other.name = "Another Bitcoin".into();
    let err = store.add_instrument(&other).await.expect_err("duplicate");
    assert!(
        matches!(&err, StoreError::DuplicateInstrument(s) if *s == sym("BTC")),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "instrument BTC is already registered");
    let kept = store
        .instrument(&sym("BTC"))
        .await
        .expect("get")
        .expect("present");
    assert_eq!(kept.name, "BTC coin", "the first registration is kept");
}

async fn money_round_trips_exactly(store: &Store) {
    let btc = registered(store, "BTC").await;
    let tiny = dec!(0.00000001);
    let long = dec!(12345.678901234567890);
    let exact = Ohlcv {
        open: tiny,
        high: long,
        low: tiny,
        close: long,
        volume: long,
    };
    let written = candle_with(&btc, day("2024-01-02"), exact, true);
    assert_eq!(
        write(store, &btc, std::slice::from_ref(&written))
            .await
            .added,
        1
    );

    let read = all_candles(store, &btc).await;
    assert_eq!(read, vec![written.clone()]);
    let back = read[0].values();
    assert_eq!(back.open, tiny);
    assert_eq!(back.close, long);
    assert_eq!(back.open.to_string(), "0.00000001");
    assert_eq!(back.close.to_string(), "12345.67890123456789");
    assert_eq!(back.volume.to_string(), "12345.67890123456789");

    // Prices never pass through floating point in storage.
    match store.db() {
        Db::Sqlite(pool) => {
            let kinds: (String, String) = sqlx::query_as("SELECT typeof(open), open FROM candles")
                .fetch_one(pool)
                .await
                .expect("raw row");
            assert_eq!(kinds, ("text".to_owned(), "0.00000001".to_owned()));
        }
        Db::Postgres(pool) => {
            let text: String = sqlx::query_scalar("SELECT close::text FROM candles")
                .fetch_one(pool)
                .await
                .expect("raw row");
            assert_eq!(text.parse::<Decimal>().expect("decimal"), long);
        }
    }
    // Writing the same values again is recognised as identical.
    assert_eq!(write(store, &btc, &[written]).await.unchanged, 1);
}

async fn the_same_candle_twice_is_unchanged(store: &Store) {
    let btc = registered(store, "BTC").await;
    let batch = [
        candle(&btc, nth(1), dec!(101), true),
        candle(&btc, nth(2), dec!(102), false),
    ];
    let first = write(store, &btc, &batch).await;
    assert_eq!((first.added, first.updated, first.unchanged), (2, 0, 0));
    let second = write(store, &btc, &batch).await;
    assert_eq!((second.added, second.updated, second.unchanged), (0, 0, 2));
    assert!(second.conflicts.is_empty());
    // Trailing zeros are not a difference.
    let padded = candle_with(
        &btc,
        nth(1),
        Ohlcv {
            close: dec!(101.000),
            ..values(dec!(101))
        },
        true,
    );
    assert_eq!(write(store, &btc, &[padded]).await.unchanged, 1);
    assert_eq!(all_candles(store, &btc).await, batch.to_vec());
}

async fn an_incomplete_candle_is_updated_when_it_completes_with_new_values(store: &Store) {
    let btc = registered(store, "BTC").await;
    write(store, &btc, &[candle(&btc, nth(5), dec!(100), false)]).await;

    let intraday = write(store, &btc, &[candle(&btc, nth(5), dec!(103), false)]).await;
    assert_eq!(
        (intraday.added, intraday.updated, intraday.unchanged),
        (0, 1, 0)
    );

    let closed = candle(&btc, nth(5), dec!(105), true);
    let done = write(store, &btc, std::slice::from_ref(&closed)).await;
    assert_eq!((done.added, done.updated, done.unchanged), (0, 1, 0));
    assert_eq!(all_candles(store, &btc).await, vec![closed]);

    // Same values, now complete: still an update (the day is final now).
    write(store, &btc, &[candle(&btc, nth(6), dec!(100), false)]).await;
    let finalised = write(store, &btc, &[candle(&btc, nth(6), dec!(100), true)]).await;
    assert_eq!(finalised.updated, 1);
    assert_eq!(
        store.last_complete_day(&btc).await.expect("query"),
        Some(nth(6))
    );
}

async fn a_complete_candle_with_different_values_is_a_conflict_and_stays_stored(store: &Store) {
    let btc = registered(store, "BTC").await;
    let original = candle(&btc, nth(3), dec!(100), true);
    write(store, &btc, std::slice::from_ref(&original)).await;

    for incoming_complete in [true, false] {
        let revised = candle(&btc, nth(3), dec!(99), incoming_complete);
        let outcome = write(store, &btc, std::slice::from_ref(&revised)).await;
        assert_eq!(
            (outcome.added, outcome.updated, outcome.unchanged),
            (0, 0, 0)
        );
        assert_eq!(outcome.conflicts.len(), 1);
        let conflict = &outcome.conflicts[0];
        assert_eq!(conflict.day, nth(3));
        assert_eq!(conflict.stored, original.values());
        assert_eq!(conflict.incoming, revised.values());
        assert_eq!(
            all_candles(store, &btc).await,
            vec![original.clone()],
            "stored row unchanged"
        );
    }
    // Told once, committed with the write that found it (the same conflict found again is not).
    let told = store.unrouted_notifications(10).await.expect("read");
    let keys: Vec<&str> = told.iter().map(|(_, n)| n.key.as_str()).collect();
    assert_eq!(keys, [format!("data_conflict:BTC:{}:1", nth(3))]);
    assert_eq!(told[0].1.kind, barter_core::notify::EventKind::DataConflict);
}

async fn adds_updates_and_conflicts_mix_in_one_batch(store: &Store) {
    let btc = registered(store, "BTC").await;
    let seed = [
        candle(&btc, nth(1), dec!(100), true),
        candle(&btc, nth(2), dec!(100), false),
        candle(&btc, nth(3), dec!(100), true),
    ];
    write(store, &btc, &seed).await;

    let batch = [
        candle(&btc, nth(1), dec!(100), true),  // unchanged
        candle(&btc, nth(2), dec!(104), true),  // updated
        candle(&btc, nth(3), dec!(96), true),   // conflict
        candle(&btc, nth(4), dec!(101), true),  // added
        candle(&btc, nth(5), dec!(102), false), // added
    ];
    let outcome = write(store, &btc, &batch).await;
    assert_eq!(
        (outcome.added, outcome.updated, outcome.unchanged),
        (2, 1, 1)
    );
    assert_eq!(
        outcome.conflicts.iter().map(|c| c.day).collect::<Vec<_>>(),
        vec![nth(3)]
    );

    let expected = vec![
        seed[0].clone(),
        batch[1].clone(),
        seed[2].clone(),
        batch[3].clone(),
        batch[4].clone(),
    ];
    assert_eq!(all_candles(store, &btc).await, expected);
}

async fn a_failing_batch_leaves_the_instrument_exactly_as_it_was(store: &Store) {
    let btc = registered(store, "BTC").await;
    write(
        store,
        &btc,
        &[
            candle(&btc, nth(1), dec!(100), true),
            candle(&btc, nth(2), dec!(100), false),
        ],
    )
    .await;
    let before = all_candles(store, &btc).await;
    let coverage_before = store.coverage(&btc).await.expect("coverage");

    exec(
        store,
        "CREATE TRIGGER crash_on_day BEFORE INSERT ON candles WHEN NEW.day = '2024-01-03' \
         BEGIN SELECT RAISE(ABORT, 'injected crash'); END;",
        "CREATE FUNCTION crash_on_day() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
           IF NEW.day = DATE '2024-01-03' THEN RAISE EXCEPTION 'injected crash'; END IF; \
           RETURN NEW; \
         END $$; \
         CREATE TRIGGER crash_on_day BEFORE INSERT ON candles \
         FOR EACH ROW EXECUTE FUNCTION crash_on_day();",
    )
    .await;

    // An update that succeeds, 600 inserts that succeed (a full multi-row chunk), then the
    // chunk holding the poisoned day fails: everything must roll back.
    let mut batch = vec![
        candle(&btc, nth(1), dec!(100), true),
        candle(&btc, nth(2), dec!(107), true),
    ];
    batch.extend((4..604).map(|n| candle(&btc, nth(n), dec!(100), true)));
    batch.push(candle(&btc, nth(3), dec!(100), true));
    let err = store
        .write_candles(&btc, &batch)
        .await
        .expect_err("the trigger aborts the write");
    assert!(matches!(err, StoreError::Database { .. }), "{err:?}");
    assert!(chain(&err).contains("injected crash"), "{}", chain(&err));
    assert!(err.to_string().contains("write candles for BTC"), "{err}");

    assert_eq!(
        all_candles(store, &btc).await,
        before,
        "no candle of the failed batch remains"
    );
    assert_eq!(
        store.coverage(&btc).await.expect("coverage"),
        coverage_before
    );

    exec(
        store,
        "DROP TRIGGER crash_on_day;",
        "DROP TRIGGER crash_on_day ON candles;",
    )
    .await;
    let retried = write(store, &btc, &batch).await;
    assert_eq!(
        (retried.added, retried.updated, retried.unchanged),
        (601, 1, 1)
    );
}

async fn a_batch_larger_than_the_bind_parameter_limits_is_chunked(store: &Store) {
    let btc = registered(store, "BTC").await;
    // 7,000 rows × 10 columns is past both SQLite's 32,766 and PostgreSQL's 65,535 parameters.
    let batch: Vec<Candle> = (0..7_000u64)
        .map(|n| {
            let on = day("2000-01-01") + chrono::Days::new(n);
            candle(&btc, on, Decimal::from(100 + n % 50), true)
        })
        .collect();
    let first = write(store, &btc, &batch).await;
    assert_eq!(first.added, 7_000);
    let coverage = store
        .coverage(&btc)
        .await
        .expect("coverage")
        .expect("stored");
    assert_eq!(coverage.count, 7_000);
    let second = write(store, &btc, &batch).await;
    assert_eq!(second.unchanged, 7_000);
}

async fn removing_an_instrument_removes_its_candles(store: &Store) {
    let btc = registered(store, "BTC").await;
    let eth = registered(store, "ETH").await;
    write(
        store,
        &btc,
        &(1..=3)
            .map(|n| candle(&btc, nth(n), dec!(100), true))
            .collect::<Vec<_>>(),
    )
    .await;
    write(
        store,
        &eth,
        &(1..=2)
            .map(|n| candle(&eth, nth(n), dec!(100), true))
            .collect::<Vec<_>>(),
    )
    .await;

    assert_eq!(store.remove_instrument(&btc).await.expect("remove"), 3);
    assert!(all_candles(store, &btc).await.is_empty());
    assert!(store.stored_days(&btc).await.expect("days").is_empty());
    assert_eq!(
        all_candles(store, &eth).await.len(),
        2,
        "other instruments keep theirs"
    );
    registered(store, "BTC").await;
    assert!(
        all_candles(store, &btc).await.is_empty(),
        "a re-registered symbol starts empty"
    );

    // The schema itself cascades (and SQLite enforces foreign keys on every connection).
    exec(
        store,
        "DELETE FROM instruments WHERE symbol = 'ETH'",
        "DELETE FROM instruments WHERE symbol = 'ETH'",
    )
    .await;
    assert_eq!(
        scalar(store, "SELECT COUNT(*) FROM candles WHERE symbol = 'ETH'").await,
        0
    );
}

async fn last_complete_day_ignores_incomplete_candles(store: &Store) {
    let btc = registered(store, "BTC").await;
    assert_eq!(store.last_complete_day(&btc).await.expect("query"), None);
    assert_eq!(store.coverage(&btc).await.expect("query"), None);

    write(store, &btc, &[candle(&btc, nth(9), dec!(100), false)]).await;
    assert_eq!(store.last_complete_day(&btc).await.expect("query"), None);

    write(
        store,
        &btc,
        &[
            candle(&btc, nth(1), dec!(100), true),
            candle(&btc, nth(2), dec!(100), true),
        ],
    )
    .await;
    assert_eq!(
        store.last_complete_day(&btc).await.expect("query"),
        Some(nth(2))
    );
    assert_eq!(
        store.coverage(&btc).await.expect("query"),
        Some(Coverage {
            first: nth(1),
            last: nth(9),
            count: 3
        })
    );
    assert_eq!(
        store.stored_days(&btc).await.expect("days"),
        vec![nth(1), nth(2), nth(9)]
    );
    assert_eq!(
        Calendar::Continuous
            .gaps(&store.stored_days(&btc).await.expect("days"))
            .missing,
        6
    );
    assert_eq!(
        store.last_complete_day(&sym("XRP")).await.expect("query"),
        None
    );
}

async fn candles_are_read_back_ascending_within_the_asked_range(store: &Store) {
    let btc = registered(store, "BTC").await;
    let eth = registered(store, "ETH").await;
    let mut batch: Vec<Candle> = (1..=10)
        .rev()
        .map(|n| candle(&btc, nth(n), Decimal::from(100 + n), true))
        .collect();
    batch.push(candle(&btc, nth(11), dec!(111), false));
    write(store, &btc, &batch).await;
    write(store, &eth, &[candle(&eth, nth(4), dec!(50), true)]).await;

    let days = |candles: Vec<Candle>| candles.iter().map(Candle::day).collect::<Vec<_>>();
    assert_eq!(
        days(all_candles(store, &btc).await),
        (1..=11).map(nth).collect::<Vec<_>>()
    );
    let middle = store
        .candles(&btc, Some(nth(3)), Some(nth(5)))
        .await
        .expect("range");
    assert_eq!(days(middle), vec![nth(3), nth(4), nth(5)]);
    let tail = store
        .candles(&btc, Some(nth(10)), None)
        .await
        .expect("range");
    assert_eq!(days(tail.clone()), vec![nth(10), nth(11)]);
    assert!(
        !tail[1].is_complete(),
        "an incomplete candle reads back incomplete"
    );
    assert_eq!(
        days(
            store
                .candles(&btc, None, Some(nth(2)))
                .await
                .expect("range")
        ),
        vec![nth(1), nth(2)]
    );
    assert!(
        store
            .candles(&btc, Some(nth(6)), Some(nth(5)))
            .await
            .expect("empty")
            .is_empty()
    );
    assert!(
        store
            .candles(&sym("XRP"), None, None)
            .await
            .expect("unknown")
            .is_empty()
    );
}

async fn writes_for_unknown_or_mismatched_instruments_are_refused(store: &Store) {
    let xrp = sym("XRP");
    let err = store
        .write_candles(&xrp, &[candle(&xrp, nth(1), dec!(50), true)])
        .await
        .expect_err("unknown");
    assert!(
        matches!(&err, StoreError::UnknownInstrument(s) if *s == xrp),
        "{err:?}"
    );
    let err = store
        .write_candles(&xrp, &[])
        .await
        .expect_err("unknown, even when empty");
    assert!(matches!(err, StoreError::UnknownInstrument(_)), "{err:?}");

    let btc = registered(store, "BTC").await;
    assert_eq!(
        write(store, &btc, &[]).await,
        barter_store::CandleWrite::default()
    );
    let stray = candle(&sym("ETH"), nth(2), dec!(50), true);
    let err = store
        .write_candles(&btc, &[candle(&btc, nth(1), dec!(50), true), stray])
        .await
        .expect_err("mismatch");
    assert_eq!(
        err.to_string(),
        "candle for ETH on 2024-01-02 was passed to write_candles for BTC"
    );
    assert!(all_candles(store, &btc).await.is_empty());
}

async fn a_malformed_stored_value_is_reported_as_corrupt_with_its_location(store: &Store) {
    let btc = registered(store, "BTC").await;
    let good = [
        candle(&btc, nth(1), dec!(100), true),
        candle(&btc, nth(2), dec!(100), true),
    ];
    write(store, &btc, &good).await;
    // SQLite: text that is no number; PostgreSQL NUMERIC: NaN, which no Decimal can hold.
    exec(
        store,
        "UPDATE candles SET open = '12,5x' WHERE day = '2024-01-02'",
        "UPDATE candles SET open = 'NaN' WHERE day = DATE '2024-01-02'",
    )
    .await;

    let err = store
        .candles(&btc, None, None)
        .await
        .expect_err("corrupt row");
    let StoreError::Corrupt { what, .. } = &err else {
        panic!("expected Corrupt, got {err:?}");
    };
    assert_eq!(what, "candles.open for BTC on 2024-01-02");
    // The write path reads the same rows and refuses to diff against garbage.
    let err = store
        .write_candles(&btc, &good)
        .await
        .expect_err("corrupt row in range");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    // Rows outside the damage still read.
    assert_eq!(
        store
            .candles(&btc, None, Some(nth(1)))
            .await
            .expect("clean range"),
        vec![good[0].clone()]
    );

    // A stored row that breaks the candle rules is corrupt too (high below close).
    exec(
        store,
        "UPDATE candles SET high = '1' WHERE day = '2024-01-01'",
        "UPDATE candles SET high = 1 WHERE day = DATE '2024-01-01'",
    )
    .await;
    let err = store
        .candles(&btc, None, Some(nth(1)))
        .await
        .expect_err("invalid candle");
    assert!(
        err.to_string()
            .contains("candles row for BTC on 2024-01-01"),
        "{err}"
    );
}

async fn runs_round_trip_with_their_report(store: &Store) {
    let started = at("2024-03-01T00:10:00.123456Z");
    let id = store
        .start_run(RunKind::SyncData, started)
        .await
        .expect("start");
    let running = store.run(id).await.expect("load").expect("present");
    assert_eq!(
        running,
        Run {
            id,
            kind: RunKind::SyncData,
            started_at: started,
            finished_at: None,
            status: RunStatus::Running,
            counts: BTreeMap::new(),
            errors: vec![],
            report: None,
        }
    );

    let item = InstrumentSync {
        fetched: 3,
        added: 2,
        unchanged: 1,
        conflicts: vec!["2024-02-28: close 1 vs 2".into()],
        fetched_range: Some((day("2024-02-27"), day("2024-02-29"))),
        stored_range: Some((day("2020-01-01"), day("2024-02-29"))),
        gaps: Gaps {
            missing: 1,
            examples: vec![day("2021-05-05")],
        },
        ..InstrumentSync::new(sym("BTC"))
    };
    let failed = InstrumentSync {
        error: Some("CoinGecko answered 429: rate limited".into()),
        ..InstrumentSync::new(sym("ETH"))
    };
    let finished = Run {
        finished_at: Some(at("2024-03-01T00:10:42.5Z")),
        status: RunStatus::Partial,
        counts: BTreeMap::from([
            ("instruments".to_owned(), 2),
            ("failed".to_owned(), 1),
            ("candles_added".to_owned(), 2),
        ]),
        errors: vec!["ETH: CoinGecko answered 429: rate limited".into()],
        report: Some(RunReport::SyncData(vec![item, failed])),
        ..running
    };
    store.finish_run(&finished).await.expect("finish");
    assert_eq!(store.run(id).await.expect("load"), Some(finished.clone()));

    // Nanoseconds are truncated to microseconds on both backends alike.
    let second = store
        .start_run(RunKind::SyncData, at("2024-03-02T00:10:00.123456789Z"))
        .await
        .expect("start");
    let loaded = store.run(second).await.expect("load").expect("present");
    assert_eq!(loaded.started_at, at("2024-03-02T00:10:00.123456Z"));

    let listed = store.runs(10).await.expect("list");
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![second, id],
        "newest first"
    );
    assert_eq!(store.runs(1).await.expect("list").len(), 1);
    // The latest run of each kind: the running second sync, none of the jobs never run.
    let latest = store.latest_run(RunKind::SyncData).await.expect("latest");
    assert_eq!(
        latest.map(|r| (r.id, r.status)),
        Some((second, RunStatus::Running))
    );
    let trade = store
        .start_run(RunKind::SyncNewTrades, at("2024-03-02T00:11:00Z"))
        .await
        .expect("start");
    let latest = store.latest_run(RunKind::SyncData).await.expect("latest");
    assert_eq!(latest.map(|r| r.id), Some(second), "another kind is not it");
    let latest = store
        .latest_run(RunKind::SyncNewTrades)
        .await
        .expect("latest");
    assert_eq!(latest.map(|r| r.id), Some(trade));
    assert_eq!(
        store
            .latest_run(RunKind::SyncClosePositions)
            .await
            .expect("latest"),
        None
    );
    assert_eq!(store.run(RunId(9_999)).await.expect("load"), None);
    let ghost = Run {
        id: RunId(9_999),
        ..finished
    };
    assert!(matches!(
        store.finish_run(&ghost).await,
        Err(StoreError::UnknownRun(RunId(9_999)))
    ));
}

async fn history_is_an_append_only_log_read_newest_first(store: &Store) {
    let run = store
        .start_run(RunKind::SyncData, at("2024-03-01T00:00:00Z"))
        .await
        .expect("start");
    let btc = sym("BTC");
    let details = [
        serde_json::json!({"added": 3, "range": ["2024-02-27", "2024-02-29"]}),
        serde_json::json!({"error": "timeout"}),
        serde_json::json!(null),
    ];
    let mut ids = Vec::new();
    for (i, detail) in details.iter().enumerate() {
        let (run, symbol) = match i {
            0 => (Some(run), Some(&btc)),
            1 => (Some(run), None),
            _ => (None, None),
        };
        let when = Utc
            .with_ymd_and_hms(2024, 3, 1, 0, 0, i as u32)
            .single()
            .expect("valid time");
        ids.push(
            store
                .record_history(run, when, "candles_synced", symbol, detail)
                .await
                .expect("record"),
        );
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");

    let entries = store.history(10).await.expect("history");
    assert_eq!(
        entries.iter().map(|e| e.id).rev().collect::<Vec<_>>(),
        ids,
        "newest first"
    );
    let oldest = &entries[2];
    assert_eq!(oldest.run, Some(run));
    assert_eq!(oldest.symbol, Some(btc.clone()));
    assert_eq!(oldest.kind, "candles_synced");
    assert_eq!(oldest.detail, details[0]);
    assert_eq!(oldest.recorded_at, at("2024-03-01T00:00:00Z"));
    assert_eq!(entries[0].run, None);
    assert_eq!(entries[0].detail, serde_json::Value::Null);
    assert_eq!(
        store
            .history(2)
            .await
            .expect("history")
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        vec![ids[2], ids[1]]
    );

    // Removing the instrument does not rewrite history.
    registered(store, "BTC").await;
    store.remove_instrument(&btc).await.expect("remove");
    assert_eq!(store.history(10).await.expect("history"), entries);

    let err = store
        .record_history(
            Some(RunId(9_999)),
            Utc::now(),
            "x",
            None,
            &serde_json::json!({}),
        )
        .await
        .expect_err("unknown run");
    assert!(
        matches!(err, StoreError::UnknownRun(RunId(9_999))),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Connection behaviour (not per-case)
// ---------------------------------------------------------------------------------------------

/// Connecting without migrating, then migrating, reports what was applied exactly once.
async fn check_explicit_migration(store: Store) {
    let applied = store.migrate().await.expect("migrate");
    let every: Vec<String> = barter_store::migrate::known()
        .map(|(_, description)| description.to_owned())
        .collect();
    assert_eq!(applied, every);
    assert_eq!(
        store.migrate().await.expect("migrate again"),
        Vec::<String>::new()
    );
    store
        .add_instrument(&instrument("BTC"))
        .await
        .expect("schema usable");
}

#[tokio::test]
async fn explicit_migration_reports_what_it_applied_on_sqlite() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite:{}", dir.path().join("barter.db").display());
    let unmigrated = ConnectOptions {
        migrate: false,
        ..ConnectOptions::default()
    };
    check_explicit_migration(
        Store::connect_with(&url, &unmigrated)
            .await
            .expect("connect"),
    )
    .await;
    check_explicit_migration(
        Store::connect_with("sqlite::memory:", &unmigrated)
            .await
            .expect("connect"),
    )
    .await;

    // Reopening the file finds the data and nothing left to migrate.
    let reopened = connect(&url).await;
    assert_eq!(
        reopened.migrate().await.expect("migrate"),
        Vec::<String>::new()
    );
    assert_eq!(reopened.instruments().await.expect("list").len(), 1);
    assert_eq!(reopened.backend_name(), "sqlite");
}

#[tokio::test]
async fn explicit_migration_reports_what_it_applied_on_postgres() {
    let unmigrated = ConnectOptions {
        migrate: false,
        ..ConnectOptions::default()
    };
    in_fresh_schema(unmigrated, |store| async move {
        assert_eq!(store.backend_name(), "postgres");
        assert!(
            store
                .schema()
                .is_some_and(|s| s.starts_with("barter_test_"))
        );
        check_explicit_migration(store).await;
    })
    .await;
}

#[tokio::test]
async fn in_memory_databases_are_private_to_their_store() {
    let a = connect("sqlite::memory:").await;
    let b = connect("sqlite::memory:").await;
    a.add_instrument(&instrument("BTC")).await.expect("add");
    assert_eq!(a.instruments().await.expect("list").len(), 1);
    assert!(b.instruments().await.expect("list").is_empty());
}

#[tokio::test]
async fn unsupported_urls_are_refused_with_the_accepted_forms_and_no_password() {
    for url in ["mysql://bob:hunter2@db/barter", "barter.db", "", "sqlite:"] {
        let err = Store::connect(url).await.expect_err(url);
        let text = err.to_string();
        assert!(matches!(err, StoreError::BadUrl { .. }), "{url}: {err:?}");
        assert!(
            text.contains("sqlite::memory:") && text.contains("postgres://"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }
    let schema_on_sqlite = ConnectOptions {
        postgres_schema: Some("x".into()),
        ..ConnectOptions::default()
    };
    assert!(matches!(
        Store::connect_with("sqlite::memory:", &schema_on_sqlite).await,
        Err(StoreError::BadUrl { .. })
    ));
    let err = Store::connect_postgres_in_schema("postgres://u@127.0.0.1:1/x", "Bad;Name")
        .await
        .expect_err("bad schema");
    assert!(matches!(err, StoreError::BadSchema(_)), "{err:?}");
}

async fn concurrent_writers_count_every_new_day_exactly_once(store: &Store) {
    let symbols: Vec<Symbol> = ["A", "B", "C", "D"].iter().map(|s| sym(s)).collect();
    registered(store, "SHARED").await;
    for s in &symbols {
        store
            .add_instrument(&instrument(s.as_str()))
            .await
            .expect("add");
    }
    // Four tasks write overlapping batches of one shared instrument, plus their own one.
    let mut tasks = Vec::new();
    for (i, own) in symbols.iter().cloned().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let shared = sym("SHARED");
            let mut total = barter_store::CandleWrite::default();
            for round in 0..5u64 {
                let start = 1 + round * 20 + i as u64;
                let batch: Vec<Candle> = (start..start + 40)
                    .map(|n| candle(&shared, nth(n), dec!(100), true))
                    .collect();
                let w = store
                    .write_candles(&shared, &batch)
                    .await
                    .expect("shared write");
                total.added += w.added;
                total.unchanged += w.unchanged;
                let mine: Vec<Candle> = (start..start + 40)
                    .map(|n| candle(&own, nth(n), dec!(100), true))
                    .collect();
                store.write_candles(&own, &mine).await.expect("own write");
            }
            total
        }));
    }
    let (mut added, mut unchanged) = (0, 0);
    for task in tasks {
        let total = task.await.expect("task");
        added += total.added;
        unchanged += total.unchanged;
    }
    assert_eq!(
        added + unchanged,
        4 * 5 * 40,
        "every incoming candle is counted once"
    );
    for own in &symbols {
        assert_eq!(store.stored_days(own).await.expect("days").len(), 120);
    }
    let stored = store
        .coverage(&sym("SHARED"))
        .await
        .expect("coverage")
        .expect("stored")
        .count;
    assert_eq!(
        added, stored,
        "every stored day was counted as added exactly once"
    );
}

/// Prints candles/s for 1,100-candle batches (a regression smoke test; measure in release with
/// `cargo test -p barter-store --release --test store -- --ignored --nocapture throughput`).
#[tokio::test]
#[ignore = "timing; run explicitly"]
async fn sqlite_write_throughput() {
    let (store, _dir) = sqlite_file_store().await;
    let batches = 40;
    let mut total = 0;
    let mut elapsed = std::time::Duration::ZERO;
    for b in 0..batches {
        let symbol = registered(&store, &format!("S{b}")).await;
        let batch: Vec<Candle> = (0..1_100u64)
            .map(|n| {
                candle(
                    &symbol,
                    day("2020-01-01") + chrono::Days::new(n),
                    Decimal::new(12_345_678 + n as i64, 4),
                    true,
                )
            })
            .collect();
        let start = Instant::now();
        total += write(&store, &symbol, &batch).await.added;
        elapsed += start.elapsed();
    }
    let rate = total as f64 / elapsed.as_secs_f64();
    let _ = writeln!(
        std::io::stderr(),
        "sqlite write_candles: {total} new candles in {elapsed:?} = {rate:.0} candles/s"
    );

    let symbol = sym("S0");
    let batch = all_candles(&store, &symbol).await;
    let start = Instant::now();
    let rounds = 20;
    for _ in 0..rounds {
        assert_eq!(write(&store, &symbol, &batch).await.unchanged, 1_100);
    }
    let rate = (rounds * 1_100) as f64 / start.elapsed().as_secs_f64();
    let _ = writeln!(
        std::io::stderr(),
        "sqlite write_candles (all unchanged): {rate:.0} candles/s"
    );
}

/// The summary kept on the instrument row (coverage, last complete day) must equal what the
/// candles table says after any mix of adds, updates, conflicts and failed batches.
async fn the_candle_summary_always_matches_the_stored_candles(store: &Store) {
    let symbol = registered(store, "SUM").await;
    let batches: Vec<Vec<Candle>> = vec![
        vec![
            candle(&symbol, nth(10), dec!(101), true),
            candle(&symbol, nth(11), dec!(102), false),
        ],
        vec![
            candle(&symbol, nth(3), dec!(99), true),
            candle(&symbol, nth(11), dec!(103), true),
        ],
        vec![
            candle(&symbol, nth(12), dec!(104), false),
            candle(&symbol, nth(10), dec!(150), true),
        ],
        vec![
            candle(&symbol, nth(1), dec!(98), false),
            candle(&symbol, nth(20), dec!(105), false),
        ],
        vec![],
    ];
    for (i, batch) in batches.iter().enumerate() {
        write(store, &symbol, batch).await;
        let stored = all_candles(store, &symbol).await;
        let coverage = store.coverage(&symbol).await.expect("coverage");
        let expected = stored
            .first()
            .zip(stored.last())
            .map(|(a, b)| (a.day(), b.day(), stored.len() as u64));
        assert_eq!(
            coverage.map(|c| (c.first, c.last, c.count)),
            expected,
            "after batch {i}"
        );
        let last_complete = stored
            .iter()
            .filter(|c| c.is_complete())
            .map(Candle::day)
            .max();
        assert_eq!(
            store.last_complete_day(&symbol).await.expect("read"),
            last_complete,
            "after batch {i}"
        );
    }
    assert_eq!(
        store
            .coverage(&symbol)
            .await
            .expect("coverage")
            .map(|c| c.count),
        Some(6)
    );
    assert_eq!(
        store.last_complete_day(&symbol).await.expect("read"),
        Some(nth(11))
    );
    assert_eq!(store.coverage(&sym("NOPE")).await.expect("coverage"), None);
}

async fn a_series_history_holds_the_asked_prices_and_exact_candles_from_a_day(store: &Store) {
    let btc = registered(store, "BTC").await;
    let mut batch: Vec<Candle> = (1..=10)
        .map(|n| {
            candle(
                &btc,
                nth(n),
                Decimal::new(1_000_001 + n as i64 * 7, 4),
                true,
            )
        })
        .collect();
    batch.push(candle(&btc, nth(11), dec!(111), false));
    write(store, &btc, &batch).await;
    let complete = &batch[..10];

    let close_and_volume = SeriesSet::of(SeriesField::Volume);
    let history = store
        .series_history(&btc, close_and_volume, Some(nth(9)))
        .await
        .expect("load");
    assert_eq!(
        history.days,
        complete.iter().map(Candle::day).collect::<Vec<_>>()
    );
    let f = |d: Decimal| decimal_to_f64(d);
    assert_eq!(
        history.columns.close,
        complete.iter().map(|c| f(c.close().0)).collect::<Vec<_>>()
    );
    assert_eq!(history.columns.volume, vec![1000.5; 10]);
    assert!(history.columns.open.is_empty() && history.columns.high.is_empty());
    assert_eq!(
        history.candles,
        batch[8..].to_vec(),
        "exact from day 9, the incomplete one too"
    );
    MarketData::new()
        .insert_series(btc.clone(), history)
        .expect("the parts fit together");

    let all = store
        .series_history(&btc, SeriesSet::NONE, None)
        .await
        .expect("load");
    assert_eq!(all, SeriesHistory::from_candles(batch.clone()));
    // With a gap the days are read one by one: the first and last day do not say them.
    let spy = registered(store, "SPY").await;
    let gapped: Vec<Candle> = [1, 2, 4, 5]
        .into_iter()
        .map(|n| candle(&spy, nth(n), Decimal::from(200 + n), true))
        .collect();
    write(store, &spy, &gapped).await;
    let history = store
        .series_history(&spy, SeriesSet::NONE, Some(nth(5)))
        .await
        .expect("load");
    assert_eq!(history.days, vec![nth(1), nth(2), nth(4), nth(5)]);
    assert_eq!(history.columns.close, vec![201.0, 202.0, 204.0, 205.0]);
    assert_eq!(history.candles, gapped[3..].to_vec());
    // Positions are marked at the latest complete close; an instrument without one has none.
    let none = registered(store, "ETH").await;
    let closes = store.latest_closes().await.expect("closes");
    assert_eq!(closes.len(), 2, "{closes:?}");
    assert_eq!(closes[&btc], batch[9].close());
    assert_eq!(closes[&spy], gapped[3].close());
    // A decision on a past day marks at the closes on or before it, later candles stored or not;
    // an incomplete candle never counts.
    let then = store.closes_on_or_before(nth(3)).await.expect("closes");
    assert_eq!(then.len(), 2, "{then:?}");
    assert_eq!(then[&btc], batch[2].close());
    assert_eq!(then[&spy], gapped[1].close(), "SPY has no candle on day 3");
    assert_eq!(
        store.closes_on_or_before(nth(11)).await.expect("closes"),
        closes,
        "the incomplete day 11 is not a close"
    );
    let empty = store
        .series_history(&none, SeriesSet::ALL, Some(nth(1)))
        .await
        .expect("load");
    assert_eq!(empty, SeriesHistory::default());
}

/// The one-read summary answers exactly what `coverage` and `last_complete_day` answer apart.
async fn coverage_and_last_complete_are_read_together(store: &Store) {
    let symbol = registered(store, "BOTH").await;
    let together = || async {
        store
            .coverage_and_last_complete(&symbol)
            .await
            .expect("read")
    };
    assert_eq!(together().await, (None, None));
    write(
        store,
        &symbol,
        &[
            candle(&symbol, nth(3), dec!(100), true),
            candle(&symbol, nth(5), dec!(101), true),
            candle(&symbol, nth(6), dec!(102), false),
        ],
    )
    .await;
    let both = together().await;
    assert_eq!(
        both,
        (
            Some(Coverage {
                first: nth(3),
                last: nth(6),
                count: 3
            }),
            Some(nth(5))
        )
    );
    assert_eq!(
        both,
        (
            store.coverage(&symbol).await.expect("coverage"),
            store.last_complete_day(&symbol).await.expect("read"),
        )
    );
    assert_eq!(
        store
            .coverage_and_last_complete(&sym("NOPE"))
            .await
            .expect("read"),
        (None, None)
    );
}
