//! Saved backtests on every backend (harness in `support`): round trip, newest first, missing
//! ids, deletes, and names refused before anything is written.

#[macro_use]
mod support;

use barter_store::{SavedBacktest, Store, StoreError};
use serde_json::json;

use support::*;

on_every_backend!(
    a_saved_backtest_round_trips_its_json_exactly,
    saved_backtests_are_listed_newest_first_up_to_the_limit,
    a_missing_id_is_none_and_deleting_removes_exactly_one,
    blank_or_overlong_names_are_refused_and_nothing_is_written,
);

async fn save(store: &Store, name: &str, at: &str) -> SavedBacktest {
    store
        .save_backtest(
            name,
            support::at(at),
            &json!({ "name": name }),
            &json!({ "trades": 1 }),
        )
        .await
        .unwrap_or_else(|e| panic!("save {name}: {}", chain(&e)))
}

async fn rows(store: &Store) -> i64 {
    scalar(store, "SELECT COUNT(*) FROM saved_backtests").await
}

async fn a_saved_backtest_round_trips_its_json_exactly(store: &Store) {
    let request = json!({
        "strategy": { "name": "trend", "entry": "close > sma(close, 20)" },
        "symbols": ["BTC", "ETH"],
        "from": "2024-01-01",
        "cash": "10000.00",
        "fee_bps": 10,
        "nested": { "empty": [], "null": null, "flag": true, "unicode": "café ✓ \"quoted\"" },
    });
    let summary = json!({
        "total_return": "0.1234567890123456789",
        "max_drawdown": -0.0825,
        "trades": 42,
        "win_rate": 0.5,
    });
    // Nanoseconds are dropped: both backends keep microseconds.
    let at = support::at("2024-03-05T14:30:15.123456789Z");
    let saved = store
        .save_backtest("Trend on majors ✓", at, &request, &summary)
        .await
        .unwrap_or_else(|e| panic!("save: {}", chain(&e)));
    assert!(saved.id > 0);
    assert_eq!(saved.name, "Trend on majors ✓");
    assert_eq!(saved.saved_at, support::at("2024-03-05T14:30:15.123456Z"));
    assert_eq!(saved.request, request);
    assert_eq!(saved.summary, summary);

    let loaded = store
        .saved_backtest(saved.id)
        .await
        .expect("load")
        .expect("saved backtest exists");
    assert_eq!(loaded, saved);
    assert_eq!(
        store.saved_backtests(10).await.expect("list"),
        vec![saved.clone()]
    );
    // What the dashboard receives.
    let wire = serde_json::to_value(&saved).expect("serialize");
    assert_eq!(wire["name"], "Trend on majors ✓");
    assert_eq!(wire["request"], request);
    assert_eq!(wire["summary"], summary);
}

async fn saved_backtests_are_listed_newest_first_up_to_the_limit(store: &Store) {
    assert!(store.saved_backtests(10).await.expect("empty").is_empty());
    let middle = save(store, "middle", "2024-03-02T00:00:00Z").await;
    let newest = save(store, "newest", "2024-03-03T00:00:00.5Z").await;
    let oldest = save(store, "oldest", "2024-03-01T23:59:59.999999Z").await;
    // Saved at the same moment as `middle`, later: the larger id comes first.
    let tie = save(store, "tie", "2024-03-02T00:00:00Z").await;
    let names = |list: &[SavedBacktest]| list.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    let listed = store.saved_backtests(10).await.expect("list");
    assert_eq!(names(&listed), ["newest", "tie", "middle", "oldest"]);
    assert_eq!(listed, [newest, tie, middle, oldest]);
    assert_eq!(
        names(&store.saved_backtests(2).await.expect("limit")),
        ["newest", "tie"]
    );
    assert!(store.saved_backtests(0).await.expect("zero").is_empty());
}

async fn a_missing_id_is_none_and_deleting_removes_exactly_one(store: &Store) {
    assert_eq!(store.saved_backtest(1).await.expect("load"), None);
    assert!(
        !store
            .delete_saved_backtest(1)
            .await
            .expect("delete missing")
    );
    let keep = save(store, "keep", "2024-03-01T00:00:00Z").await;
    let drop = save(store, "drop", "2024-03-02T00:00:00Z").await;
    assert_eq!(
        store.saved_backtest(drop.id + 1000).await.expect("load"),
        None
    );
    assert_eq!(store.saved_backtest(-1).await.expect("load"), None);

    assert!(store.delete_saved_backtest(drop.id).await.expect("delete"));
    assert_eq!(store.saved_backtest(drop.id).await.expect("load"), None);
    assert!(
        !store.delete_saved_backtest(drop.id).await.expect("again"),
        "a second delete removes nothing"
    );
    assert_eq!(
        store.saved_backtests(10).await.expect("list"),
        vec![keep.clone()]
    );
    // Ids are not reused after a delete.
    let next = save(store, "next", "2024-03-03T00:00:00Z").await;
    assert!(next.id > drop.id);
    assert_eq!(rows(store).await, 2);
}

async fn blank_or_overlong_names_are_refused_and_nothing_is_written(store: &Store) {
    let at = support::at("2024-03-01T00:00:00Z");
    let request = json!({});
    let longest = "é".repeat(200);
    let too_long = "x".repeat(201);
    for (name, problem) in [
        ("", "empty"),
        ("   ", "whitespace"),
        ("\t\n ", "whitespace"),
        (too_long.as_str(), "at most 200 characters"),
    ] {
        let error = store
            .save_backtest(name, at, &request, &request)
            .await
            .expect_err("refused");
        assert!(
            matches!(&error, StoreError::InvalidInput(message) if message.contains(problem)),
            "{name:?}: {error:?}"
        );
        assert!(error.to_string().contains(problem), "{error}");
    }
    assert_eq!(rows(store).await, 0, "nothing written");

    // 200 characters (400 bytes) and surrounding spaces are accepted as given.
    let saved = store
        .save_backtest(&longest, at, &request, &request)
        .await
        .expect("200 characters");
    assert_eq!(saved.name, longest);
    let padded = store
        .save_backtest("  padded  ", at, &request, &request)
        .await
        .expect("padded");
    assert_eq!(padded.name, "  padded  ");
    assert_eq!(rows(store).await, 2);
}
