//! The harness shared by the store's integration tests: every case runs against SQLite (a
//! temporary file and `:memory:`) always, and against PostgreSQL when `BARTER_TEST_POSTGRES_URL`
//! is set, each PostgreSQL case in a fresh schema that is dropped afterwards. Without the
//! variable the PostgreSQL variants print `SKIPPED postgres: …` straight to stderr (past the test
//! harness's capture).

// Each test binary uses only some of these helpers.
#![allow(dead_code)]

use std::io::Write as _;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use barter_core::{Calendar, Day, Instrument, SourceKind, Symbol};
use barter_store::{ConnectOptions, Db, Store};
use chrono::{DateTime, Utc};

/// The variable naming the PostgreSQL server the PostgreSQL variants run on.
pub const POSTGRES_ENV: &str = "BARTER_TEST_POSTGRES_URL";

/// Runs each listed `async fn case(store: &Store)` on a SQLite file, on SQLite `:memory:` and,
/// when configured, on PostgreSQL in its own schema.
macro_rules! on_every_backend {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn sqlite_file() {
                let (store, _dir) = $crate::support::sqlite_file_store().await;
                super::$case(&store).await;
            }

            #[tokio::test]
            async fn sqlite_memory() {
                let store = $crate::support::connect("sqlite::memory:").await;
                super::$case(&store).await;
            }

            #[tokio::test]
            async fn postgres() {
                let options = barter_store::ConnectOptions::default();
                $crate::support::in_fresh_schema(options, |store| async move {
                    super::$case(&store).await
                })
                .await;
            }
        }
    )*};
}

pub async fn connect(url: &str) -> Store {
    Store::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {}", chain(&e)))
}

pub async fn sqlite_file_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("barter.db").display());
    (connect(&url).await, dir)
}

/// A store in a fresh, uniquely named schema, or `None` (announced on stderr) when PostgreSQL
/// is not configured.
pub async fn postgres_store(options: ConnectOptions) -> Option<Store> {
    let Ok(url) = std::env::var(POSTGRES_ENV) else {
        static ANNOUNCE: Once = Once::new();
        ANNOUNCE.call_once(|| {
            // Written to the real stderr, not through `eprintln!`, so the harness cannot hide it.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED postgres: {POSTGRES_ENV} is not set \
                 (e.g. postgres://postgres@127.0.0.1:5432/test); \
                 the PostgreSQL variants of this suite did not run"
            );
        });
        return None;
    };
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let schema = format!(
        "barter_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos
    );
    let options = ConnectOptions {
        postgres_schema: Some(schema.clone()),
        ..options
    };
    let store = Store::connect_with(&url, &options)
        .await
        .unwrap_or_else(|e| panic!("connect to PostgreSQL schema {schema}: {}", chain(&e)));
    Some(store)
}

/// Runs `case` on a store in a fresh PostgreSQL schema (if configured) and drops the schema
/// afterwards, also when the case panics (it runs in its own task).
pub async fn in_fresh_schema<F, Fut>(options: ConnectOptions, case: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Some(store) = postgres_store(options).await else {
        return;
    };
    let outcome = tokio::spawn(case(store.clone())).await;
    assert!(store.drop_schema().await.expect("drop the test schema"));
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// An error with all its sources, for assertion messages.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Runs test-only SQL (one or more statements) in the dialect of the store's backend.
pub async fn exec(store: &Store, sqlite: &str, postgres: &str) {
    let result = match store.db() {
        Db::Sqlite(pool) => sqlx::raw_sql(sqlite).execute(pool).await.map(|_| ()),
        Db::Postgres(pool) => sqlx::raw_sql(postgres).execute(pool).await.map(|_| ()),
    };
    result.unwrap_or_else(|e| panic!("test SQL failed on {}: {e}", store.backend_name()));
}

/// A single `COUNT(*)`-like integer from the same SQL on either backend.
pub async fn scalar(store: &Store, sql: &str) -> i64 {
    let result = match store.db() {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    };
    result.unwrap_or_else(|e| panic!("`{sql}` failed on {}: {e}", store.backend_name()))
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

pub fn sym(text: &str) -> Symbol {
    Symbol::parse(text).expect("valid symbol")
}

pub fn day(text: &str) -> Day {
    text.parse().expect("valid day")
}

/// The `n`th day of 2024 (1 = 2024-01-01).
pub fn nth(n: u64) -> Day {
    day("2024-01-01") + chrono::Days::new(n - 1)
}

pub fn instrument(symbol: &str) -> Instrument {
    Instrument::new(
        sym(symbol),
        format!("{symbol} coin"),
        "usd",
        SourceKind::CoinGecko,
        symbol.to_lowercase(),
        Calendar::Continuous,
    )
    .expect("valid instrument")
}

pub async fn registered(store: &Store, symbol: &str) -> Symbol {
    store
        .add_instrument(&instrument(symbol))
        .await
        .expect("register instrument");
    sym(symbol)
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("valid timestamp")
        .with_timezone(&Utc)
}
