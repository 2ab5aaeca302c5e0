//! Opening a [`Store`]: URL dispatch, pool options per backend, migrations, schema isolation.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrate;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::{DbResultExt, StoreError, redact_url};
use crate::migrate;

/// How long a SQLite connection waits for another writer's lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Pool size for a SQLite file (one writer at a time anyway; readers run in parallel under WAL).
const SQLITE_MAX_CONNECTIONS: u32 = 8;
/// Rows a SQLite connection's worker thread may queue ahead of the reader (sqlx default: 50);
/// a year of candles then crosses between threads in one hand-off instead of dozens.
const SQLITE_ROW_BUFFER: usize = 4_096;
/// Pool size for PostgreSQL.
const POSTGRES_MAX_CONNECTIONS: u32 = 10;

/// The connection pool of one backend; [`Store::db`] exposes it for maintenance and tests.
#[derive(Debug, Clone)]
pub enum Db {
    /// A SQLite database file (or `:memory:`).
    Sqlite(SqlitePool),
    /// A PostgreSQL database (possibly confined to one schema).
    Postgres(PgPool),
}

/// How [`Store::connect_with`] opens a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// PostgreSQL only: confine the store to this schema. It is created if missing and every
    /// pooled connection gets `search_path = schema`, so tables, migrations and data live in it.
    pub postgres_schema: Option<String>,
    /// Apply pending migrations on connect (the default); when `false`, call [`Store::migrate`].
    pub migrate: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            postgres_schema: None,
            migrate: true,
        }
    }
}

/// Barter's persistent store; cheap to clone (clones share the pool).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) db: Db,
    /// The PostgreSQL schema this store was confined to by [`Store::connect_postgres_in_schema`].
    schema: Option<String>,
}

impl Store {
    /// Opens the database at `url` and applies pending migrations.
    ///
    /// Accepted forms: `sqlite:PATH`, `sqlite://PATH` (the file and its folder are created if
    /// missing; WAL journaling, foreign keys on, 5 s busy timeout), `sqlite::memory:` (a private
    /// in-memory database held by a single connection), and `postgres://…` / `postgresql://…`.
    ///
    /// # Errors
    /// [`StoreError::BadUrl`] for any other form, [`StoreError::Connect`] when the database cannot
    /// be opened, [`StoreError::Migration`] when a migration fails.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Self::connect_with(url, &ConnectOptions::default()).await
    }

    /// Opens a PostgreSQL database confined to `schema` and applies pending migrations there;
    /// see [`ConnectOptions::postgres_schema`]. Used to isolate test runs ([`Store::drop_schema`]).
    ///
    /// # Errors
    /// As [`Store::connect_with`].
    pub async fn connect_postgres_in_schema(url: &str, schema: &str) -> Result<Store, StoreError> {
        let options = ConnectOptions {
            postgres_schema: Some(schema.to_owned()),
            ..ConnectOptions::default()
        };
        Self::connect_with(url, &options).await
    }

    /// Opens the database at `url` (forms as in [`Store::connect`]) with explicit options.
    ///
    /// # Errors
    /// [`StoreError::BadUrl`] for an unsupported URL or a schema with a non-PostgreSQL URL,
    /// [`StoreError::BadSchema`] for a schema name that is not a plain lower-case identifier,
    /// [`StoreError::Connect`], [`StoreError::Database`] or [`StoreError::Migration`] when
    /// opening, creating the schema or migrating fails.
    pub async fn connect_with(url: &str, options: &ConnectOptions) -> Result<Store, StoreError> {
        let url = url.trim();
        let backend = backend_of(url).ok_or_else(|| StoreError::BadUrl {
            url: redact_url(url),
        })?;
        let schema = options.postgres_schema.clone();
        let db = match (backend, &schema) {
            (Backend::Sqlite, None) => Db::Sqlite(open_sqlite(url).await?),
            (Backend::Sqlite, Some(_)) => {
                return Err(StoreError::BadUrl {
                    url: redact_url(url),
                });
            }
            (Backend::Postgres, None) => Db::Postgres(open_postgres(url, pg_options(url)?).await?),
            (Backend::Postgres, Some(schema)) => {
                check_schema_name(schema)?;
                let pool =
                    open_postgres(url, pg_options(url)?.options([("search_path", schema)])).await?;
                sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                    .execute(&pool)
                    .await
                    .with_action(|| format!("create schema {schema}"))?;
                Db::Postgres(pool)
            }
        };
        let store = Store { db, schema };
        if options.migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Drops the schema this store was confined to (with everything in it) and closes the pool.
    /// Returns whether a schema was dropped: `false` for a store not opened in a schema.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the `DROP SCHEMA` fails.
    pub async fn drop_schema(self) -> Result<bool, StoreError> {
        let (Db::Postgres(pool), Some(schema)) = (&self.db, &self.schema) else {
            return Ok(false);
        };
        let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        sqlx::query(&sql)
            .execute(pool)
            .await
            .with_action(|| format!("drop schema {schema}"))?;
        pool.close().await;
        Ok(true)
    }

    /// Applies the embedded migrations that are not applied yet and returns their descriptions
    /// (empty when the schema is up to date, so calling it again is harmless).
    ///
    /// # Errors
    /// [`StoreError::Migration`] when a migration fails or an applied one was changed.
    pub async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        on_db!(&self.db, |pool| {
            let migrator = migrate::migrator(codec::DIALECT);
            let applied = {
                let mut conn = pool
                    .acquire()
                    .await
                    .action("acquire a connection to migrate")?;
                conn.ensure_migrations_table()
                    .await
                    .map_err(StoreError::Migration)?;
                conn.list_applied_migrations()
                    .await
                    .map_err(StoreError::Migration)?
            };
            migrator.run(pool).await.map_err(StoreError::Migration)?;
            let pending = migrator
                .iter()
                .filter(|m| !applied.iter().any(|a| a.version == m.version))
                .map(|m| m.description.to_string())
                .collect::<Vec<_>>();
            for description in &pending {
                tracing::info!(
                    backend = self.backend_name(),
                    migration = %description,
                    "applied migration"
                );
            }
            Ok(pending)
        })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// The underlying pool, for maintenance tasks and tests that need raw SQL.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The PostgreSQL schema this store is confined to, if any.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Closes the pool, waiting for checked-out connections to be returned.
    pub async fn close(&self) {
        on_db!(&self.db, |pool| pool.close().await)
    }
}

/// Which backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

fn backend_of(url: &str) -> Option<Backend> {
    if url.starts_with("sqlite:") {
        Some(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some(Backend::Postgres)
    } else {
        None
    }
}

/// Whether a SQLite URL names an in-memory database (`sqlite::memory:`, `?mode=memory`).
fn is_sqlite_memory(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, params) = rest.split_once('?').unwrap_or((rest, ""));
    path == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

async fn open_sqlite(url: &str) -> Result<SqlitePool, StoreError> {
    let connect_error = |source| StoreError::Connect {
        backend: "sqlite",
        url: redact_url(url),
        source,
    };
    let options = SqliteConnectOptions::from_str(url)
        .map_err(connect_error)?
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .row_buffer_size(SQLITE_ROW_BUFFER);
    let pool = if is_sqlite_memory(url) {
        // One connection that never expires: the database lives exactly as long as it does.
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
    } else {
        let file = options.get_filename();
        if file.as_os_str().is_empty() {
            return Err(StoreError::BadUrl {
                url: redact_url(url),
            });
        }
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| connect_error(sqlx::Error::Io(e)))?;
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        SqlitePoolOptions::new()
            .max_connections(SQLITE_MAX_CONNECTIONS)
            .connect_with(options)
            .await
    };
    pool.map_err(connect_error)
}

fn pg_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    PgConnectOptions::from_str(url).map_err(|source| StoreError::Connect {
        backend: "postgres",
        url: redact_url(url),
        source,
    })
}

async fn open_postgres(url: &str, options: PgConnectOptions) -> Result<PgPool, StoreError> {
    PgPoolOptions::new()
        .max_connections(POSTGRES_MAX_CONNECTIONS)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Connect {
            backend: "postgres",
            url: redact_url(url),
            source,
        })
}

/// Schema names are interpolated into SQL, so only plain identifiers are accepted.
fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let mut chars = schema.chars();
    let ok = schema.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadSchema(schema.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_their_backend() {
        assert_eq!(backend_of("sqlite:barter.db"), Some(Backend::Sqlite));
        assert_eq!(backend_of("sqlite://data/barter.db"), Some(Backend::Sqlite));
        assert_eq!(backend_of("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(backend_of("postgres://u@h/d"), Some(Backend::Postgres));
        assert_eq!(backend_of("postgresql://u@h/d"), Some(Backend::Postgres));
        assert_eq!(backend_of("mysql://u@h/d"), None);
        assert_eq!(backend_of("barter.db"), None);
    }

    #[test]
    fn memory_urls_are_recognised() {
        assert!(is_sqlite_memory("sqlite::memory:"));
        assert!(is_sqlite_memory("sqlite://:memory:"));
        assert!(is_sqlite_memory("sqlite://?mode=memory"));
        assert!(!is_sqlite_memory("sqlite:memory.db"));
    }

    #[test]
    fn schema_names_must_be_plain_identifiers() {
        assert!(check_schema_name("barter_test_1").is_ok());
        assert!(check_schema_name("_x").is_ok());
        for bad in ["", "1abc", "Upper", "a\"b", "a;drop", &"a".repeat(64)] {
            assert!(check_schema_name(bad).is_err(), "{bad}");
        }
    }
}
