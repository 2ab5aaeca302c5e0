//! What the dashboard keeps, on every backend (harness in `support`). Saved backtests: round
//! trip, newest first, missing ids, deletes, and names refused before anything is written.
//! Dashboard sessions: found by id until they expire, stored only as the id's hash, ended one
//! by one or all at once, bounded in number, and shared by every handle on the database.

#[macro_use]
mod support;

use barter_store::sessions::session_id_hash;
use barter_store::{DashboardSession, SavedBacktest, Store, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use support::*;

on_every_backend!(
    a_saved_backtest_round_trips_its_json_exactly,
    saved_backtests_are_listed_newest_first_up_to_the_limit,
    a_missing_id_is_none_and_deleting_removes_exactly_one,
    blank_or_overlong_names_are_refused_and_nothing_is_written,
    a_session_is_found_by_its_id_until_it_expires,
    the_database_keeps_only_the_hash_of_a_session_id,
    ending_one_session_leaves_the_others_and_ending_all_leaves_none,
    creating_a_session_deletes_the_expired_and_ends_the_oldest_beyond_the_bound,
    a_session_that_ends_before_it_starts_is_refused,
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

// ---------------------------------------------------------------------------------------------
// Dashboard sessions
// ---------------------------------------------------------------------------------------------

/// A 64-hex-character id like the server's (256 random bits), distinct per `n`.
fn session_id(n: u32) -> String {
    format!("{n:08x}{}", "5e551011".repeat(7))
}

async fn create_session(store: &Store, id: &str, at: DateTime<Utc>, max: u32) -> u64 {
    store
        .create_dashboard_session(id, at, at + TimeDelta::hours(12), max)
        .await
        .unwrap_or_else(|e| panic!("create session {id}: {}", chain(&e)))
}

async fn found(store: &Store, id: &str, at: DateTime<Utc>) -> Option<DashboardSession> {
    store
        .dashboard_session(id, at)
        .await
        .unwrap_or_else(|e| panic!("read session {id}: {}", chain(&e)))
}

async fn session_rows(store: &Store) -> i64 {
    scalar(store, "SELECT COUNT(*) FROM dashboard_sessions").await
}

async fn a_session_is_found_by_its_id_until_it_expires(store: &Store) {
    let start = support::at("2026-03-01T09:00:00.123456Z");
    let id = session_id(1);
    assert_eq!(create_session(store, &id, start, 100).await, 0);
    let session = found(store, &id, start).await.expect("found at once");
    assert_eq!(
        session,
        DashboardSession {
            created_at: start,
            expires_at: start + TimeDelta::hours(12),
        }
    );
    let last_moment = start + TimeDelta::hours(12) - TimeDelta::microseconds(1);
    assert!(
        found(store, &id, last_moment).await.is_some(),
        "live to the end"
    );
    assert!(
        found(store, &id, start + TimeDelta::hours(12))
            .await
            .is_none(),
        "gone when it expires"
    );
    // Another id, even one differing in a single character or in case, finds nothing.
    assert!(found(store, &session_id(2), start).await.is_none());
    assert!(found(store, &id.to_uppercase(), start).await.is_none());
    assert!(found(store, "", start).await.is_none());
    assert_eq!(
        store.dashboard_session_count(start).await.expect("count"),
        1
    );
    assert_eq!(
        store
            .dashboard_session_count(start + TimeDelta::hours(13))
            .await
            .expect("count"),
        0
    );
}

async fn the_database_keeps_only_the_hash_of_a_session_id(store: &Store) {
    let at = support::at("2026-03-01T09:00:00Z");
    let id = session_id(7);
    create_session(store, &id, at, 100).await;
    let hash = session_id_hash(&id);
    assert_eq!(hash.len(), 64);
    assert_ne!(hash, id);
    let by_hash = format!("SELECT COUNT(*) FROM dashboard_sessions WHERE id_hash = '{hash}'");
    assert_eq!(scalar(store, &by_hash).await, 1, "stored under its hash");
    // No column of any row holds the id, whole or in part.
    let containing = format!(
        "SELECT COUNT(*) FROM dashboard_sessions WHERE id_hash LIKE '%{raw}%' \
         OR CAST(created_at AS TEXT) LIKE '%{raw}%' OR CAST(expires_at AS TEXT) LIKE '%{raw}%'",
        raw = &id[..16]
    );
    assert_eq!(scalar(store, &containing).await, 0, "the raw id is stored");
}

async fn ending_one_session_leaves_the_others_and_ending_all_leaves_none(store: &Store) {
    let at = support::at("2026-03-01T09:00:00Z");
    for n in 1..=3 {
        create_session(store, &session_id(n), at, 100).await;
    }
    assert!(
        store
            .delete_dashboard_session(&session_id(2))
            .await
            .expect("end")
    );
    assert!(
        !store
            .delete_dashboard_session(&session_id(2))
            .await
            .expect("end again"),
        "ending an ended session finds nothing"
    );
    assert!(found(store, &session_id(2), at).await.is_none());
    assert!(found(store, &session_id(1), at).await.is_some());
    assert!(found(store, &session_id(3), at).await.is_some());
    assert_eq!(store.delete_all_dashboard_sessions().await.expect("all"), 2);
    assert_eq!(session_rows(store).await, 0);
    assert!(found(store, &session_id(1), at).await.is_none());
    assert_eq!(
        store.delete_all_dashboard_sessions().await.expect("none"),
        0
    );
}

async fn creating_a_session_deletes_the_expired_and_ends_the_oldest_beyond_the_bound(
    store: &Store,
) {
    let start = support::at("2026-03-01T09:00:00Z");
    let minute = |n: i64| start + TimeDelta::minutes(n);
    // One that expires between the fourth and the fifth minute, then live ones a minute apart.
    store
        .create_dashboard_session(
            &session_id(100),
            start,
            minute(4) + TimeDelta::seconds(30),
            5,
        )
        .await
        .expect("short session");
    for n in 1..=4 {
        assert_eq!(
            create_session(store, &session_id(n), minute(i64::from(n)), 5).await,
            0
        );
    }
    assert_eq!(session_rows(store).await, 5);
    // The fifth live one: the expired one is deleted, so nothing live ends.
    assert_eq!(create_session(store, &session_id(5), minute(5), 5).await, 1);
    assert_eq!(session_rows(store).await, 5);
    // The sixth: the oldest (1) ends, the others stay.
    assert_eq!(create_session(store, &session_id(6), minute(6), 5).await, 1);
    assert_eq!(session_rows(store).await, 5);
    assert!(
        found(store, &session_id(1), minute(6)).await.is_none(),
        "the oldest ended"
    );
    for n in 2..=6 {
        assert!(
            found(store, &session_id(n), minute(6)).await.is_some(),
            "{n}"
        );
    }
    // A smaller bound ends as many as needed at once.
    assert_eq!(create_session(store, &session_id(7), minute(7), 2).await, 4);
    assert_eq!(session_rows(store).await, 2);
    assert!(found(store, &session_id(6), minute(7)).await.is_some());
    assert!(found(store, &session_id(7), minute(7)).await.is_some());
    // A bound of 0 is taken as 1: the new session always fits.
    create_session(store, &session_id(8), minute(8), 0).await;
    assert_eq!(session_rows(store).await, 1);
    assert!(found(store, &session_id(8), minute(8)).await.is_some());
}

async fn a_session_that_ends_before_it_starts_is_refused(store: &Store) {
    let at = support::at("2026-03-01T09:00:00Z");
    for expires_at in [at, at - TimeDelta::seconds(1)] {
        let error = store
            .create_dashboard_session(&session_id(1), at, expires_at, 10)
            .await
            .expect_err("refused");
        assert!(matches!(error, StoreError::InvalidInput(_)), "{error:?}");
    }
    assert_eq!(session_rows(store).await, 0, "nothing written");
}

/// Checks that a session created through `first` is found, ended and counted through `second`,
/// another handle (another server's pool) on the same database.
async fn two_handles_share_the_sessions(first: &Store, second: &Store) {
    let at = Utc::now();
    let id = session_id(42);
    create_session(first, &id, at, 100).await;
    assert!(
        found(second, &id, at).await.is_some(),
        "the second server finds it"
    );
    assert!(second.delete_dashboard_session(&id).await.expect("end"));
    assert!(
        found(first, &id, at).await.is_none(),
        "ended for the first too"
    );
    create_session(second, &session_id(43), at, 100).await;
    create_session(second, &session_id(44), at, 100).await;
    assert_eq!(first.delete_all_dashboard_sessions().await.expect("all"), 2);
    assert!(found(second, &session_id(43), at).await.is_none());
}

#[tokio::test]
async fn two_handles_on_one_sqlite_file_share_the_sessions_and_the_file_holds_no_raw_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("barter.db").display());
    let (first, second) = (connect(&url).await, connect(&url).await);
    two_handles_share_the_sessions(&first, &second).await;
    let id = session_id(99);
    create_session(&first, &id, Utc::now(), 100).await;
    first.close().await;
    second.close().await;
    // Every byte of the database (and of its journal, if left) is searched for the id.
    for entry in std::fs::read_dir(dir.path()).expect("the directory") {
        let path = entry.expect("entry").path();
        // SQLite may still be removing the write-ahead log of the last connection to close:
        // a journal gone between the listing and the read holds nothing.
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.extension().is_some() => {
                continue;
            }
            Err(e) => panic!("read {}: {e}", path.display()),
        };
        assert!(
            !bytes.windows(id.len()).any(|w| w == id.as_bytes()),
            "{} holds the raw session id",
            path.display()
        );
        let hash = session_id_hash(&id);
        if path.extension().is_none() {
            assert!(
                bytes.windows(hash.len()).any(|w| w == hash.as_bytes()),
                "{} holds the session's hash",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn two_handles_on_one_postgres_schema_share_the_sessions() {
    support::in_fresh_schema(Default::default(), |store| async move {
        let schema = store.schema().expect("schema").to_owned();
        let url = std::env::var(support::POSTGRES_ENV).expect("url");
        let second = Store::connect_postgres_in_schema(&url, &schema)
            .await
            .expect("second server");
        two_handles_share_the_sessions(&store, &second).await;
    })
    .await;
}
