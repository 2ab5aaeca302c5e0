//! Opening a [`Store`]: URL dispatch, pool options per backend, migrations, schema isolation.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection as _;

use sqlx::migrate::Migrate;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::{
    DbResultExt, StorageProblem, StoreError, migration_error, redact_url, storage_problem,
};
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
/// How long the first PostgreSQL connection may take before the server is called unreachable
/// (the pool alone would retry a refused connection for its whole acquire timeout, then say only
/// "pool timed out").
pub const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a PostgreSQL statement waits for a pooled connection (sqlx's default is 30 s): a
/// dropped link then fails a job within seconds, and [`Store::explain`] names the cause.
pub const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// SQLite only: create the database file's missing directories (`barter init` and
    /// `barter quickstart`). Off by default: a mistyped path is an error naming the missing
    /// directory, not a new empty database.
    pub create_directories: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            postgres_schema: None,
            migrate: true,
            create_directories: false,
        }
    }
}

/// Barter's persistent store; cheap to clone (clones share the pool).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) db: Db,
    /// The PostgreSQL schema this store was confined to by [`Store::connect_postgres_in_schema`].
    schema: Option<String>,
    /// The SQLite database file (absolute), for messages about it.
    file: Option<PathBuf>,
}

impl Store {
    /// Opens the database at `url` and applies pending migrations.
    ///
    /// Accepted forms: `sqlite:PATH`, `sqlite://PATH` (the file is created if missing, in an
    /// existing directory; WAL journaling, foreign keys on, 5 s busy timeout),
    /// `sqlite::memory:` (a private in-memory database held by a single connection), and
    /// `postgres://…` / `postgresql://…` (first connection within
    /// [`POSTGRES_CONNECT_TIMEOUT`]).
    ///
    /// # Errors
    /// [`StoreError::BadUrl`] for any other form, [`StoreError::MissingDirectory`] for a SQLite
    /// file in a directory that does not exist, [`StoreError::Unreachable`] for a PostgreSQL
    /// server that refuses or does not answer, [`StoreError::Connect`] when the database cannot
    /// be opened otherwise, [`StoreError::Storage`] for a read-only or full disk,
    /// [`StoreError::Migration`] when a migration fails.
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
        let mut file = None;
        let db = match (backend, &schema) {
            (Backend::Sqlite, None) => {
                let (pool, path) = open_sqlite(url, options.create_directories).await?;
                file = path;
                Db::Sqlite(pool)
            }
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
        let store = Store { db, schema, file };
        if options.migrate
            && let Err(error) = store.migrate().await
        {
            return Err(store.explain(error).await);
        }
        Ok(store)
    }

    /// `error` (from this store) made more precise: a SQLite storage error names the database
    /// file and, when the file cannot be opened for writing, says it is read-only; a PostgreSQL
    /// connection that timed out or broke is checked with one direct connection and, when the
    /// server cannot be reached, becomes [`StoreError::Unreachable`] naming why (instead of
    /// "pool timed out" blamed on whatever statement was waiting). Other errors are returned
    /// as they are.
    pub async fn explain(&self, error: StoreError) -> StoreError {
        match (error, &self.db) {
            (
                StoreError::Storage {
                    action,
                    problem,
                    file: None,
                    source,
                },
                _,
            ) => {
                let problem = match (&self.file, problem) {
                    (Some(file), StorageProblem::Io) if !writable(file) => StorageProblem::ReadOnly,
                    (_, problem) => problem,
                };
                StoreError::Storage {
                    action,
                    problem,
                    file: self.file.as_ref().map(|f| f.display().to_string()),
                    source,
                }
            }
            (StoreError::Database { action, source }, Db::Postgres(pool))
                if matches!(source, sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) =>
            {
                match probe_postgres(&pool.connect_options()).await {
                    Err(StoreError::Unreachable {
                        address, reason, ..
                    }) => StoreError::Unreachable {
                        address,
                        reason,
                        action: Some(action),
                    },
                    _ => StoreError::Database { action, source },
                }
            }
            (error, _) => error,
        }
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
                    .map_err(migration_error)?;
                conn.list_applied_migrations()
                    .await
                    .map_err(migration_error)?
            };
            migrator.run(pool).await.map_err(migration_error)?;
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

/// Opens a SQLite database; returns its pool and, for a file, its absolute path.
async fn open_sqlite(
    url: &str,
    create_directories: bool,
) -> Result<(SqlitePool, Option<PathBuf>), StoreError> {
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
    if is_sqlite_memory(url) {
        // One connection that never expires: the database lives exactly as long as it does.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        return Ok((pool, None));
    }
    let file = options.get_filename();
    if file.as_os_str().is_empty() {
        return Err(StoreError::BadUrl {
            url: redact_url(url),
        });
    }
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    if let Some(dir) = file.parent().filter(|d| !d.is_dir()) {
        if !create_directories {
            return Err(StoreError::MissingDirectory {
                file: file.display().to_string(),
                dir: dir.display().to_string(),
            });
        }
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| connect_error(sqlx::Error::Io(e)))?;
    }
    let existed = file.exists();
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    // No ping before handing out a connection: a SQLite connection is a file handle in this
    // process that cannot have been dropped by a server, so the ping (a round trip to the
    // connection's worker thread) checks nothing, and it doubled the cost of every short read
    // (the kill switch read for each passing entry of a trade job).
    let pool = SqlitePoolOptions::new()
        .max_connections(SQLITE_MAX_CONNECTIONS)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(|source| match storage_problem(&source) {
            Some(problem) => StoreError::Storage {
                action: "open the database".to_owned(),
                problem: match problem {
                    StorageProblem::Io if !writable(&file) => StorageProblem::ReadOnly,
                    problem => problem,
                },
                file: Some(file.display().to_string()),
                source,
            },
            None => connect_error(source),
        })?;
    // Which file a command works on, so a mistyped path that creates a new database shows.
    if existed {
        tracing::debug!("database: {}", file.display());
    } else {
        tracing::info!("database: {} (new)", file.display());
    }
    Ok((pool, Some(file)))
}

/// Whether `file` can be opened for writing (`false` when it is read-only, immutable or on a
/// read-only file system; `true` when it does not exist, as SQLite would then create it).
fn writable(file: &Path) -> bool {
    match std::fs::OpenOptions::new().write(true).open(file) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

fn pg_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    PgConnectOptions::from_str(url).map_err(|source| StoreError::Connect {
        backend: "postgres",
        url: redact_url(url),
        source,
    })
}

/// Where a PostgreSQL connection goes: `host:port` or the socket path; never the password.
fn pg_address(options: &PgConnectOptions) -> String {
    match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    }
}

/// One direct connection to PostgreSQL within [`POSTGRES_CONNECT_TIMEOUT`]: `Ok` when the
/// server answers, [`StoreError::Unreachable`] (refused, no answer, unknown host, TLS) or the
/// server's own refusal (password, unknown database) otherwise.
async fn probe_postgres(options: &PgConnectOptions) -> Result<(), StoreError> {
    let unreachable = |reason: String| StoreError::Unreachable {
        address: pg_address(options),
        reason,
        action: None,
    };
    match tokio::time::timeout(
        POSTGRES_CONNECT_TIMEOUT,
        PgConnection::connect_with(options),
    )
    .await
    {
        Ok(Ok(connection)) => {
            // Closing politely is a courtesy; a failure here changes nothing.
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(sqlx::Error::Io(e))) => Err(unreachable(match e.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                "connection refused (is PostgreSQL running and listening on that port?)".to_owned()
            }
            _ => e.to_string(),
        })),
        Ok(Err(sqlx::Error::Tls(e))) => Err(unreachable(format!("TLS failed: {e}"))),
        Ok(Err(source)) => Err(StoreError::Connect {
            backend: "postgres",
            url: pg_address(options),
            source,
        }),
        Err(_) => Err(unreachable(format!(
            "no answer within {} s (wrong host, or a firewall dropping the packets?)",
            POSTGRES_CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

async fn open_postgres(url: &str, options: PgConnectOptions) -> Result<PgPool, StoreError> {
    // One direct connection first: the pool would retry a refused connection until its acquire
    // timeout and then report only "pool timed out".
    probe_postgres(&options)
        .await
        .map_err(|error| match error {
            StoreError::Connect { source, .. } => StoreError::Connect {
                backend: "postgres",
                url: redact_url(url),
                source,
            },
            other => other,
        })?;
    PgPoolOptions::new()
        .max_connections(POSTGRES_MAX_CONNECTIONS)
        .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
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
