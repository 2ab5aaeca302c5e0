//! Issue 12 "Hardening": stored messages are bounded, runs of killed processes are marked
//! `interrupted`, on every backend.

#[macro_use]
mod support;

use std::time::Duration;

use barter_core::{InstrumentSync, Run, RunKind, RunReport, RunStatus};
use barter_store::bounds::{MAX_LIST_STRINGS, MAX_MESSAGE_CHARS, MAX_RUN_ERRORS};
use barter_store::{RUN_LEASE, Store};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use support::{scalar, sym};

on_every_backend!(
    a_run_with_a_huge_error_and_thousands_of_errors_is_stored_bounded,
    a_history_detail_is_stored_bounded,
    a_run_without_a_heartbeat_for_the_lease_is_interrupted_by_the_next_start,
    a_fresh_heartbeat_keeps_a_run_running,
    no_stored_record_holds_a_registered_secret,
);

/// The stored length, in characters, of the text columns of run `id`.
async fn stored_run_chars(store: &Store, id: i64) -> i64 {
    let sql = format!(
        "SELECT CAST(length(errors) + length(coalesce(report, '')) AS BIGINT) FROM runs \
         WHERE id = {id}"
    );
    scalar(store, &sql).await
}

async fn a_run_with_a_huge_error_and_thousands_of_errors_is_stored_bounded(store: &Store) {
    let now = Utc::now();
    let id = store
        .start_run(RunKind::SyncData, now)
        .await
        .expect("start");
    let huge = "x".repeat(10 * 1024 * 1024);
    let mut errors = vec![format!("BTC: {huge}")];
    errors.extend((0..10_000).map(|i| format!("I{i}: failed")));
    let failed = InstrumentSync {
        error: Some(huge.clone()),
        conflicts: (0..10_000).map(|i| format!("conflict {i}")).collect(),
        ..InstrumentSync::new(sym("BTC"))
    };
    let run = Run {
        id,
        kind: RunKind::SyncData,
        started_at: now,
        finished_at: Some(now),
        status: RunStatus::Failed,
        counts: Default::default(),
        errors,
        report: Some(RunReport::SyncData(vec![failed])),
    };
    store.finish_run(&run).await.expect("finish");

    let stored = stored_run_chars(store, id.0).await;
    assert!(stored < 500_000, "{stored} characters stored");
    let loaded = store.run(id).await.expect("load").expect("present");
    assert_eq!(loaded.errors.len(), MAX_RUN_ERRORS + 1);
    assert!(
        loaded.errors[0].ends_with(&format!(
            "… ({} more characters)",
            huge.len() + 5 - MAX_MESSAGE_CHARS
        )),
        "{}",
        &loaded.errors[0][MAX_MESSAGE_CHARS - 10..]
    );
    assert_eq!(loaded.errors[MAX_RUN_ERRORS], "… and 9901 more errors");
    let Some(RunReport::SyncData(items)) = loaded.report else {
        panic!("report lost")
    };
    let error = items[0].error.as_deref().expect("error kept");
    assert!(
        error.chars().count() < MAX_MESSAGE_CHARS + 40,
        "{}",
        error.len()
    );
    assert_eq!(items[0].conflicts.len(), MAX_LIST_STRINGS + 1);
    assert_eq!(items[0].conflicts[MAX_LIST_STRINGS], "… and 9900 more");
}

async fn a_history_detail_is_stored_bounded(store: &Store) {
    let detail = json!({
        "error": "y".repeat(10 * 1024 * 1024),
        "lines": (0..10_000).map(|i| format!("line {i}")).collect::<Vec<_>>(),
        "fetched": 3,
    });
    let id = store
        .record_history(None, Utc::now(), "sync_failed", Some(&sym("BTC")), &detail)
        .await
        .expect("record");
    let stored = scalar(
        store,
        &format!("SELECT CAST(length(detail) AS BIGINT) FROM history WHERE id = {id}"),
    )
    .await;
    assert!(stored < 20_000, "{stored} characters stored");
    let entry = store.history(1).await.expect("read").remove(0);
    assert_eq!(entry.detail["fetched"], 3);
    assert!(
        entry.detail["error"]
            .as_str()
            .expect("string")
            .ends_with("more characters)")
    );
}

async fn no_stored_record_holds_a_registered_secret(store: &Store) {
    const SECRET: &str = "store-test-secret-4c1d9e";
    barter_store::secrets::register("BARTER_TEST_SECRET", SECRET);
    let id = store
        .start_run(RunKind::SyncData, Utc::now())
        .await
        .expect("start");
    let run = Run {
        id,
        kind: RunKind::SyncData,
        started_at: Utc::now(),
        finished_at: Some(Utc::now()),
        status: RunStatus::Failed,
        counts: Default::default(),
        errors: vec![format!("header lacks columns, found: KEY={SECRET}")],
        report: None,
    };
    store.finish_run(&run).await.expect("finish");
    let detail = json!({ "error": format!("found: {SECRET}"), "n": 1 });
    store
        .record_history(
            Some(id),
            Utc::now(),
            "sync_failed",
            Some(&sym("BTC")),
            &detail,
        )
        .await
        .expect("record");
    let stored = store.run(id).await.expect("read").expect("the run");
    assert_eq!(
        stored.errors,
        vec!["header lacks columns, found: KEY=[redacted BARTER_TEST_SECRET]".to_owned()]
    );
    let entry = store.history(1).await.expect("read").remove(0);
    assert_eq!(
        entry.detail["error"],
        "found: [redacted BARTER_TEST_SECRET]"
    );
}

/// Sets the heartbeat of run `id` to `at` (as a process that stopped renewing it would leave it).
async fn stale(store: &Store, id: barter_core::RunId, at: DateTime<Utc>) {
    assert!(
        store.renew_run(id, at).await.expect("renew"),
        "still running"
    );
}

async fn a_run_without_a_heartbeat_for_the_lease_is_interrupted_by_the_next_start(store: &Store) {
    let old = store
        .start_run(RunKind::SyncData, Utc::now())
        .await
        .expect("start");
    let last_beat = Utc::now() - TimeDelta::seconds(RUN_LEASE.as_secs() as i64 + 30);
    stale(store, old, last_beat).await;

    let new = store
        .start_run(RunKind::SyncData, Utc::now())
        .await
        .expect("start the next job");

    let marked = store.run(old).await.expect("load").expect("present");
    assert_eq!(marked.status, RunStatus::Interrupted);
    assert!(marked.finished_at.is_some());
    let owner = barter_store::process_owner();
    assert!(
        marked.errors[0].contains(&format!("no heartbeat from {owner} since "))
            && marked.errors[0].ends_with("; the process was probably killed"),
        "{:?}",
        marked.errors
    );
    let running = store.run(new).await.expect("load").expect("present");
    assert_eq!(running.status, RunStatus::Running);
    let lease = store.run_lease(new).await.expect("lease").expect("present");
    assert_eq!(lease.owner.as_deref(), Some(owner));
    assert!(lease.heartbeat_at.is_some());
    // Sweeping again finds nothing more.
    let again = store
        .interrupt_abandoned_runs(Utc::now(), RUN_LEASE)
        .await
        .expect("sweep");
    assert!(again.is_empty(), "{again:?}");
    // The renewal of a run marked interrupted says so.
    assert!(!store.renew_run(old, Utc::now()).await.expect("renew"));
}

async fn a_fresh_heartbeat_keeps_a_run_running(store: &Store) {
    let id = store
        .start_run(RunKind::SyncNewTrades, Utc::now())
        .await
        .expect("start");
    stale(store, id, Utc::now() - TimeDelta::seconds(5)).await;
    let swept = store
        .interrupt_abandoned_runs(Utc::now(), RUN_LEASE)
        .await
        .expect("sweep");
    assert!(swept.is_empty(), "{swept:?}");
    let run = store.run(id).await.expect("load").expect("present");
    assert_eq!(run.status, RunStatus::Running);
    // Seconds later, with a lease of 1 s, it is presumed dead.
    let later = Utc::now() + TimeDelta::seconds(10);
    let swept = store
        .interrupt_abandoned_runs(later, Duration::from_secs(1))
        .await
        .expect("sweep");
    assert_eq!(swept.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id]);
}

/// Two processes sharing one PostgreSQL database sweep at the same time: every dead run is
/// marked exactly once.
#[tokio::test]
async fn concurrent_sweepers_on_postgres_mark_each_dead_run_once() {
    support::in_fresh_schema(Default::default(), |store| async move {
        let schema = store.schema().expect("schema").to_owned();
        let url = std::env::var(support::POSTGRES_ENV).expect("url");
        let long_ago = Utc::now() - TimeDelta::hours(1);
        let mut dead = Vec::new();
        for _ in 0..40 {
            let id = store
                .start_run(RunKind::SyncData, Utc::now())
                .await
                .expect("start");
            stale(&store, id, long_ago).await;
            dead.push(id);
        }
        let alive = store
            .start_run(RunKind::SyncData, Utc::now())
            .await
            .expect("start");
        // `start_run` swept the first 40 as it started the last one: make them running again.
        support::exec(
            &store,
            "",
            &format!(
                "UPDATE runs SET status = 'running', finished_at = NULL, errors = '[]' \
                 WHERE id <> {}",
                alive.0
            ),
        )
        .await;
        let mut sweepers = Vec::new();
        for _ in 0..4 {
            let other = Store::connect_postgres_in_schema(&url, &schema)
                .await
                .expect("second process");
            sweepers.push(tokio::spawn(async move {
                other
                    .interrupt_abandoned_runs(Utc::now(), RUN_LEASE)
                    .await
                    .expect("sweep")
            }));
        }
        let mut marked = Vec::new();
        for sweeper in sweepers {
            marked.extend(sweeper.await.expect("join").into_iter().map(|r| r.id));
        }
        marked.sort();
        assert_eq!(marked, dead, "each dead run marked exactly once");
        for id in &dead {
            let run = store.run(*id).await.expect("load").expect("present");
            assert_eq!(run.status, RunStatus::Interrupted);
            assert_eq!(run.errors.len(), 1, "{:?}", run.errors);
        }
        let run = store.run(alive).await.expect("load").expect("present");
        assert_eq!(run.status, RunStatus::Running);
    })
    .await;
}

#[tokio::test]
async fn a_sqlite_file_is_created_only_in_an_existing_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no/such/dir");
    let url = format!("sqlite://{}/x.db", missing.display());
    let error = Store::connect(&url).await.expect_err("refused");
    assert!(
        matches!(error, barter_store::StoreError::MissingDirectory { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains(&format!(
            "its directory {} does not exist",
            missing.display()
        )),
        "{text}"
    );
    assert!(!dir.path().join("no").exists(), "nothing created");

    // Asked to (init, quickstart), the directories are created.
    let options = barter_store::ConnectOptions {
        create_directories: true,
        ..Default::default()
    };
    let store = Store::connect_with(&url, &options).await.expect("created");
    store.close().await;
    assert!(missing.join("x.db").is_file());
    // A relative path in the current directory needs nothing created.
    assert!(Store::connect("sqlite::memory:").await.is_ok());
}

#[tokio::test]
async fn a_closed_postgres_port_is_refused_quickly_naming_host_and_port_not_the_password() {
    // Port 1 on the loopback: nothing listens there.
    let started = std::time::Instant::now();
    let error = Store::connect("postgres://bob:s3cret@127.0.0.1:1/test")
        .await
        .expect_err("refused");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let text = support::chain(&error);
    assert!(
        text.starts_with("cannot reach the PostgreSQL server at 127.0.0.1:1: connection refused"),
        "{text}"
    );
    assert!(!text.contains("s3cret"), "{text}");
}

/// Sets or clears the immutable flag of `file`; `false` when `chattr` is unavailable here.
fn immutable(file: &std::path::Path, on: bool) -> bool {
    std::process::Command::new("chattr")
        .arg(if on { "+i" } else { "-i" })
        .arg(file)
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn an_immutable_database_file_is_named_as_read_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ro.db");
    let url = format!("sqlite://{}", file.display());
    let store = Store::connect(&url).await.expect("create");
    store.close().await;
    // The write-ahead log, if the last connection has not removed it yet, would take writes
    // while the database file itself is immutable: wait for it to go, else freeze it too.
    let sidecars = [dir.path().join("ro.db-wal"), dir.path().join("ro.db-shm")];
    for _ in 0..50 {
        if !sidecars[0].exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !immutable(&file, true) {
        eprintln!("SKIPPED: chattr +i is not available (needs root on ext4 or similar)");
        return;
    }
    for sidecar in sidecars.iter().filter(|f| f.exists()) {
        immutable(sidecar, true);
    }
    let outcome = async {
        let store = Store::connect(&url).await?;
        match store
            .start_run(barter_core::RunKind::SyncData, Utc::now())
            .await
        {
            Ok(_) => Ok(()),
            // As the jobs do: the store names its file in the error.
            Err(error) => Err(store.explain(error).await),
        }
    }
    .await;
    for path in sidecars.iter().chain([&file]).filter(|f| f.exists()) {
        immutable(path, false);
    }
    let error = outcome.expect_err("a read-only file cannot take a run");
    let text = error.to_string();
    // Found on the first write, or on opening when a frozen write-ahead log was left.
    assert!(
        (text.starts_with("cannot start a sync_data run: ")
            || text.starts_with("cannot open the database: "))
            && text.contains(&format!(
                "the database file {} is read-only",
                file.display()
            )),
        "{}",
        support::chain(&error)
    );
}

/// A PostgreSQL link that drops mid-run fails the next statement within the acquire timeout,
/// and the store names the cause (the server cannot be reached) and what it was doing.
#[tokio::test]
async fn a_postgres_link_dropped_mid_run_fails_within_seconds_naming_the_cause() {
    let Ok(url) = std::env::var(support::POSTGRES_ENV) else {
        eprintln!("SKIPPED postgres: {} is not set", support::POSTGRES_ENV);
        return;
    };
    let Some(store) = support::postgres_store(Default::default()).await else {
        return;
    };
    let schema = store.schema().expect("schema").to_owned();
    // A TCP relay in front of the server, which the test cuts like a dropped link.
    let target = {
        let options: sqlx::postgres::PgConnectOptions = url.parse().expect("url");
        format!("{}:{}", options.get_host(), options.get_port())
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let relay = tokio::spawn(async move {
        let mut links = tokio::task::JoinSet::new();
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                break;
            };
            let target = target.clone();
            links.spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("url");
    let relayed = format!(
        "postgres://{}@127.0.0.1:{port}/{}",
        options.get_username(),
        options.get_database().unwrap_or("postgres")
    );
    let through = Store::connect_postgres_in_schema(&relayed, &schema)
        .await
        .expect("connect through the relay");
    let run = through
        .start_run(RunKind::SyncData, Utc::now())
        .await
        .expect("start");

    // The link drops: the relay and every connection through it are gone.
    relay.abort();
    let _ = relay.await;
    let started = std::time::Instant::now();
    let error = through
        .record_history(Some(run), Utc::now(), "candles_synced", None, &json!({}))
        .await
        .expect_err("the link is down");
    let error = through.explain(error).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot reach the PostgreSQL server at 127.0.0.1:{port} (while trying to record \
             candles_synced in the history): connection refused"
        )),
        "{}",
        support::chain(&error)
    );
    assert!(store.drop_schema().await.expect("drop"));
}
