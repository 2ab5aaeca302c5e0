//! The sync job end to end: real sources (sample, csv) into a real store, with a controlled clock.

use std::path::Path;
use std::sync::Arc;

use barter_core::{
    Calendar, Instrument, InstrumentSync, Run, RunReport, RunStatus, SourceKind, Symbol,
};
use barter_service::sync::{NoProgress, SyncOptions, sync_data};
use barter_service::{Config, SourceSet};
use barter_sources::{SampleConfig, SampleSource};
use barter_store::Store;
use chrono::{DateTime, TimeZone, Utc};
use rust_decimal_macros::dec;

fn at(day: &str) -> DateTime<Utc> {
    let day: chrono::NaiveDate = day.parse().expect("date");
    Utc.from_utc_datetime(&day.and_hms_opt(12, 0, 0).expect("time"))
}

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).expect("symbol")
}

async fn sqlite(dir: &Path) -> Store {
    Store::connect(&format!("sqlite://{}", dir.join("t.db").display()))
        .await
        .expect("sqlite store")
}

fn sources() -> SourceSet {
    SourceSet::from_config(&Config::default().sources)
}

fn csv_instrument(symbol: &str, path: &Path) -> Instrument {
    Instrument::new(
        sym(symbol),
        "",
        "USD",
        SourceKind::Csv,
        path.display().to_string(),
        Calendar::Continuous,
    )
    .expect("instrument")
}

fn sample_instrument(symbol: &str) -> Instrument {
    barter_sources::sample::instruments()
        .into_iter()
        .find(|i| i.symbol.as_str() == symbol)
        .expect("bundled")
}

fn item<'a>(run: &'a Run, symbol: &str) -> &'a InstrumentSync {
    let Some(RunReport::SyncData(items)) = &run.report else {
        panic!("no sync report")
    };
    items
        .iter()
        .find(|i| i.symbol.as_str() == symbol)
        .expect("instrument in report")
}

async fn run(store: &Store, sources: &SourceSet, now: &str) -> Run {
    sync_data(
        store,
        sources,
        &SyncOptions::default(),
        at(now),
        &NoProgress,
    )
    .await
    .expect("sync runs")
}

#[tokio::test]
async fn a_second_sync_with_nothing_new_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sqlite(dir.path()).await;
    store
        .add_instrument(&sample_instrument("BTC"))
        .await
        .expect("add");
    let first = run(&store, &sources(), "2026-11-23").await;
    assert_eq!(first.status, RunStatus::Succeeded);
    assert_eq!(item(&first, "BTC").added, 3064);
    let second = run(&store, &sources(), "2026-11-23").await;
    let btc = item(&second, "BTC");
    assert_eq!(
        (btc.added, btc.updated, btc.unchanged),
        (0, 0, 1),
        "only the last complete day is re-fetched"
    );
    assert_eq!(
        store
            .candles(&sym("BTC"), None, None)
            .await
            .expect("read")
            .len(),
        3064
    );
    let stored = store
        .run(second.id)
        .await
        .expect("read run")
        .expect("run stored");
    assert_eq!(stored, second, "the run record is stored as returned");
}

#[tokio::test]
async fn replaying_the_sample_day_by_day_adds_one_candle_per_day() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sqlite(dir.path()).await;
    store
        .add_instrument(&sample_instrument("ETH"))
        .await
        .expect("add");
    for (as_of, expected_last) in [
        ("2024-01-01", "2024-01-01"),
        ("2024-01-02", "2024-01-02"),
        ("2024-01-03", "2024-01-03"),
    ] {
        let sample = SampleSource::new(SampleConfig {
            as_of: as_of.parse().ok(),
        });
        let set = sources().with_source(SourceKind::Sample, Arc::new(sample));
        let report = run(&store, &set, "2026-11-23").await;
        assert_eq!(
            store.last_complete_day(&sym("ETH")).await.expect("read"),
            expected_last.parse().ok()
        );
        if as_of != "2024-01-01" {
            assert_eq!(item(&report, "ETH").added, 1, "as of {as_of}");
        }
    }
}

#[tokio::test]
async fn one_failing_instrument_does_not_stop_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sqlite(dir.path()).await;
    store
        .add_instrument(&sample_instrument("SOL"))
        .await
        .expect("add");
    store
        .add_instrument(&csv_instrument("GONE", &dir.path().join("missing.csv")))
        .await
        .expect("add");
    let report = run(&store, &sources(), "2026-11-23").await;
    assert_eq!(report.status, RunStatus::Partial);
    assert_eq!(item(&report, "SOL").added, 1974);
    let error = item(&report, "GONE").error.as_deref().expect("GONE failed");
    assert!(
        error.contains("missing.csv") && error.contains("GONE"),
        "{error}"
    );
    assert!(
        report.errors.iter().any(|e| e.starts_with("GONE: ")),
        "{:?}",
        report.errors
    );
}

#[tokio::test]
async fn a_csv_file_with_a_bad_line_stores_nothing_and_lists_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.csv");
    std::fs::write(
        &path,
        "date,open,high,low,close,volume\n2024-01-01,10,12,9,11,1\n2024-01-02,10,9,9,11,1\n",
    )
    .expect("write");
    let store = sqlite(dir.path()).await;
    store
        .add_instrument(&csv_instrument("BAD", &path))
        .await
        .expect("add");
    let report = run(&store, &sources(), "2026-11-23").await;
    assert_eq!(report.status, RunStatus::Failed);
    let error = item(&report, "BAD").error.as_deref().expect("failed");
    assert!(
        error.contains("line 3: high 9 is below max(open 10, close 11)"),
        "{error}"
    );
    assert!(
        store
            .candles(&sym("BAD"), None, None)
            .await
            .expect("read")
            .is_empty()
    );
}

#[tokio::test]
async fn an_incomplete_day_is_updated_once_it_completes_and_a_changed_complete_day_is_a_conflict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.csv");
    let store = sqlite(dir.path()).await;
    store
        .add_instrument(&csv_instrument("X", &path))
        .await
        .expect("add");

    // On 2024-01-02 the file has a provisional row for that same day.
    std::fs::write(&path, "date,open,high,low,close,volume\n2024-01-01,10,12,9,11,1\n2024-01-02,11,11.5,10.5,11.2,0.4\n").expect("write");
    let first = run(&store, &sources(), "2024-01-02").await;
    assert_eq!(item(&first, "X").added, 2);
    assert_eq!(
        store.last_complete_day(&sym("X")).await.expect("read"),
        "2024-01-01".parse().ok()
    );

    // A day later the row is final (different values) and 2024-01-01 was revised by the source.
    std::fs::write(
        &path,
        "date,open,high,low,close,volume\n2024-01-01,10,12,9,11.5,1\n2024-01-02,11,13,10,12.5,2\n",
    )
    .expect("write");
    let second = run(&store, &sources(), "2024-01-03").await;
    let x = item(&second, "X");
    assert_eq!((x.added, x.updated, x.conflicts.len()), (0, 1, 1), "{x:?}");
    assert!(
        x.conflicts[0].starts_with("2024-01-01"),
        "{:?}",
        x.conflicts
    );
    assert!(
        second.errors.iter().any(|e| e.contains("kept as stored")),
        "{:?}",
        second.errors
    );
    assert_eq!(
        second.status,
        RunStatus::Partial,
        "a conflict is not a success"
    );
    let stored = store.candles(&sym("X"), None, None).await.expect("read");
    assert_eq!(
        stored[0].close().value(),
        dec!(11),
        "the complete candle was not overwritten"
    );
    assert_eq!(stored[1].close().value(), dec!(12.5));
    assert!(stored[1].is_complete());
}

#[tokio::test]
async fn missing_days_inside_the_stored_range_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("g.csv");
    std::fs::write(
        &path,
        "date,open,high,low,close,volume\n2024-01-01,1,1,1,1,1\n2024-01-04,1,1,1,1,1\n",
    )
    .expect("write");
    let store = sqlite(dir.path()).await;
    store
        .add_instrument(&csv_instrument("G", &path))
        .await
        .expect("add");
    let report = run(&store, &sources(), "2026-11-23").await;
    let gaps = &item(&report, "G").gaps;
    assert_eq!(gaps.missing, 2);
    assert_eq!(
        gaps.examples,
        vec![
            "2024-01-02".parse().expect("d"),
            "2024-01-03".parse().expect("d")
        ]
    );
    assert_eq!(report.counts.get("missing_days"), Some(&2));
}

#[tokio::test]
async fn backfill_days_limits_the_first_sync_and_since_refetches_from_a_day() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sqlite(dir.path()).await;
    store
        .add_instrument(&sample_instrument("LTC"))
        .await
        .expect("add");
    let options = SyncOptions {
        backfill_days: Some(9),
        ..SyncOptions::default()
    };
    let report = sync_data(&store, &sources(), &options, at("2026-01-06"), &NoProgress)
        .await
        .expect("sync");
    assert_eq!(
        item(&report, "LTC").fetched_range,
        Some((
            "2025-12-28".parse().expect("d"),
            "2026-01-05".parse().expect("d")
        ))
    );
    let options = SyncOptions {
        since: "2025-12-01".parse().ok(),
        ..SyncOptions::default()
    };
    let report = sync_data(&store, &sources(), &options, at("2026-01-06"), &NoProgress)
        .await
        .expect("sync");
    let ltc = item(&report, "LTC");
    assert_eq!((ltc.added, ltc.unchanged), (27, 9));
}

#[tokio::test]
async fn an_unregistered_instrument_is_refused_before_the_run_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sqlite(dir.path()).await;
    let options = SyncOptions {
        symbols: vec![sym("NOPE")],
        ..SyncOptions::default()
    };
    let err = sync_data(&store, &sources(), &options, at("2026-01-06"), &NoProgress)
        .await
        .expect_err("unknown");
    assert!(
        err.to_string()
            .contains("instrument NOPE is not registered"),
        "{err}"
    );
    assert!(store.runs(10).await.expect("runs").is_empty());
}

#[tokio::test]
async fn a_coingecko_instrument_without_a_key_fails_alone_with_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sqlite(dir.path()).await;
    store
        .add_instrument(&sample_instrument("ADA"))
        .await
        .expect("add");
    let btc = Instrument::new(
        sym("CGBTC"),
        "",
        "USD",
        SourceKind::CoinGecko,
        "bitcoin",
        Calendar::Continuous,
    )
    .expect("i");
    store.add_instrument(&btc).await.expect("add");
    let report = run(&store, &sources(), "2026-11-23").await;
    assert_eq!(report.status, RunStatus::Partial);
    let error = item(&report, "CGBTC").error.as_deref().expect("failed");
    assert!(error.contains("BARTER_COINGECKO_API_KEY"), "{error}");
    assert_eq!(item(&report, "ADA").added, 2821);
}

#[tokio::test]
async fn the_sync_job_behaves_the_same_on_postgres() {
    let Ok(url) = std::env::var("BARTER_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED postgres: BARTER_TEST_POSTGRES_URL is not set");
        return;
    };
    let schema = format!(
        "barter_app_sync_{}_{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or(0)
    );
    let store = Store::connect_postgres_in_schema(&url, &schema)
        .await
        .expect("postgres");
    store
        .add_instrument(&sample_instrument("BNB"))
        .await
        .expect("add");
    let first = run(&store, &sources(), "2026-11-23").await;
    let second = run(&store, &sources(), "2026-11-23").await;
    assert_eq!(item(&first, "BNB").added, 2983);
    assert_eq!(item(&second, "BNB").unchanged, 1);
    let candles = store
        .candles(
            &sym("BNB"),
            "2017-11-06".parse().ok(),
            "2017-11-06".parse().ok(),
        )
        .await
        .expect("read");
    assert_eq!(candles[0].low().value(), dec!(0.5));
    store.drop_schema().await.expect("drop schema");
}

#[tokio::test]
async fn a_run_whose_process_died_is_marked_interrupted_by_the_next_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sqlite(dir.path()).await;
    store
        .add_instrument(&sample_instrument("BTC"))
        .await
        .expect("add");
    // A run left `running` by a killed process: its heartbeat stopped long ago.
    let dead = store
        .start_run(barter_core::RunKind::SyncData, Utc::now())
        .await
        .expect("start");
    let long_ago = Utc::now() - chrono::TimeDelta::minutes(5);
    assert!(store.renew_run(dead, long_ago).await.expect("renew"));
    // One still alive elsewhere: a fresh heartbeat.
    let alive = store
        .start_run(barter_core::RunKind::SyncNewTrades, Utc::now())
        .await
        .expect("start");

    let next = run(&store, &sources(), "2026-01-05").await;
    assert_ne!(next.status, RunStatus::Running);

    let marked = store.run(dead).await.expect("load").expect("present");
    assert_eq!(marked.status, RunStatus::Interrupted);
    assert!(
        marked.errors[0].contains("no heartbeat from")
            && marked.errors[0].contains("the process was probably killed"),
        "{:?}",
        marked.errors
    );
    let untouched = store.run(alive).await.expect("load").expect("present");
    assert_eq!(untouched.status, RunStatus::Running);
}
