//! [`StoreError`]: every way a store operation can fail, saying what was attempted.

use barter_core::order::{ClientOrderId, OrderId, OrderState};
use barter_core::{Day, RunId, Symbol};

/// A store operation that failed; each variant says what failed and keeps its source error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL has a scheme the store does not support.
    #[error(
        "unsupported database URL `{url}`: expected `sqlite:PATH`, `sqlite://PATH`, \
         `sqlite::memory:`, `postgres://USER@HOST/DB` or `postgresql://USER@HOST/DB`"
    )]
    BadUrl {
        /// The refused URL, with any password masked.
        url: String,
    },
    /// The URL was recognised but the connection options could not be parsed or opened.
    #[error("could not connect to the {backend} database `{url}`")]
    Connect {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The URL, with any password masked.
        url: String,
        /// What sqlx reported.
        #[source]
        source: sqlx::Error,
    },
    /// The directory of a SQLite database file does not exist: the store creates a database
    /// file, never directories (a typo in a path must not start an empty ledger elsewhere).
    #[error(
        "cannot open the SQLite database {file}: its directory {dir} does not exist \
         (check the path in the database URL; only `barter init` and `barter quickstart` \
         create directories)"
    )]
    MissingDirectory {
        /// The database file, absolute.
        file: String,
        /// Its missing directory.
        dir: String,
    },
    /// The PostgreSQL server could not be reached (refused, no answer, unknown host).
    #[error("cannot reach the PostgreSQL server at {address}{}: {reason}", during(.action.as_deref()))]
    Unreachable {
        /// `host:port` (or the socket path), never the password.
        address: String,
        /// What happened, e.g. `connection refused`.
        reason: String,
        /// What the store was doing when it found out, if it was not connecting.
        action: Option<String>,
    },
    /// The disk or file under a SQLite database refused the operation (read-only, full, I/O).
    #[error("cannot {action}: {}", .problem.describe(.file.as_deref()))]
    Storage {
        /// What the store was doing, e.g. `apply the database migrations`.
        action: String,
        /// What is wrong.
        problem: StorageProblem,
        /// The database file, when known.
        file: Option<String>,
        /// What sqlx reported (SQLite's code and message).
        #[source]
        source: sqlx::Error,
    },
    /// A PostgreSQL schema name that is not a plain lower-case identifier.
    #[error(
        "invalid schema name `{0}`: use at most 63 lower-case letters, digits and `_`, \
         starting with a letter or `_`"
    )]
    BadSchema(String),
    /// Applying or listing the embedded migrations failed.
    #[error("could not apply the database migrations")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// The instrument's symbol is already registered.
    #[error("instrument {0} is already registered")]
    DuplicateInstrument(Symbol),
    /// No instrument with this symbol is registered.
    #[error("instrument {0} is not registered")]
    UnknownInstrument(Symbol),
    /// The instrument still has positions in the trading ledger, which must keep it.
    #[error("instrument {0} has positions in the trading ledger and cannot be removed")]
    InstrumentInUse(Symbol),
    /// No paper account exists yet: create it with `Store::ensure_account`.
    #[error("the paper account does not exist yet (create it with an initial cash first)")]
    NoAccount,
    /// A trading call whose arguments would break the ledger (e.g. a sell fill passed to
    /// `open_position`); a bug in the caller, never a business outcome.
    #[error("invalid trade: {0}")]
    InvalidTrade(String),
    /// An argument the store refuses (e.g. a blank name); the message names the problem.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// No run with this id exists.
    #[error("run {0} does not exist")]
    UnknownRun(RunId),
    /// No order with this id is stored.
    #[error("order {0} does not exist")]
    UnknownOrder(OrderId),
    /// An order's decision or client order id already belongs to a different stored order.
    #[error(
        "cannot plan order {client_order_id}: order {existing} already holds {what}; the \
         stored order is the one to send, check how this order was built"
    )]
    OrderKeyTaken {
        /// The client order id of the order being planned.
        client_order_id: ClientOrderId,
        /// The stored order holding the key.
        existing: OrderId,
        /// Which key: its decision, or its client order id.
        what: &'static str,
    },
    /// The stored order is in a final state and the save would move it to another state.
    #[error(
        "order {order} ({client_order_id}) is already {stored}, a final state: it cannot become \
         {attempted}; another process resolved it first or the venue's answers disagree, check \
         the order at the venue by hand"
    )]
    OrderFinal {
        /// The order.
        order: OrderId,
        /// Its client order id.
        client_order_id: ClientOrderId,
        /// The final state stored.
        stored: OrderState,
        /// The state the save asked for.
        attempted: OrderState,
    },
    /// The stored order is in a state the saved one cannot follow: another process moved it
    /// first (e.g. claimed it to send it), or a step of the order was not saved.
    #[error(
        "order {order} ({client_order_id}) is stored as {stored} and cannot become {attempted} \
         from there: another process moved it first, or a step was not saved; reload the order \
         and do not send it again"
    )]
    OrderMoved {
        /// The order.
        order: OrderId,
        /// Its client order id.
        client_order_id: ClientOrderId,
        /// The state stored.
        stored: OrderState,
        /// The state the save asked for.
        attempted: OrderState,
    },
    /// A trade already stored for an order was saved again with another price, quantity or fee.
    #[error(
        "trade `{trade_id}` of order {order} is stored with another price, quantity or fee: the \
         venue's answers disagree, check the order's trades at the venue by hand"
    )]
    OrderFillConflict {
        /// The order.
        order: OrderId,
        /// The venue's trade id.
        trade_id: String,
    },
    /// A candle passed to `write_candles` belongs to another instrument.
    #[error("candle for {found} on {day} was passed to write_candles for {expected}")]
    WrongSymbol {
        /// The symbol the write was for.
        expected: Symbol,
        /// The candle's own symbol.
        found: Symbol,
        /// The candle's day.
        day: Day,
    },
    /// A stored value could not be read back (edited by hand, or written by a buggy version).
    #[error("corrupt stored value in {what}: {detail}")]
    Corrupt {
        /// Where: table, column and row (e.g. `candles.open for BTC on 2024-01-03`).
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A value could not be encoded as JSON for storage.
    #[error("could not encode {what} as JSON")]
    Encode {
        /// Which value.
        what: String,
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },
    /// A database statement failed.
    #[error("database error while trying to {action}")]
    Database {
        /// What the store was doing, e.g. `write candles for BTC`.
        action: String,
        /// What sqlx reported.
        #[source]
        source: sqlx::Error,
    },
}

/// What is wrong with the disk or file under a SQLite database, from SQLite's result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageProblem {
    /// The file (or its directory or file system) cannot be written.
    ReadOnly,
    /// The disk is full.
    DiskFull,
    /// Another I/O error: often a file that cannot be written, sometimes a failing disk.
    Io,
}

impl StorageProblem {
    /// The problem SQLite's (extended) result `code` names, if it is a storage problem:
    /// `SQLITE_READONLY` (8) and `SQLITE_PERM` (3), `SQLITE_FULL` (13), `SQLITE_IOERR` (10),
    /// each with its extended codes (e.g. 778, `SQLITE_IOERR_WRITE`).
    pub fn of_sqlite_code(code: i64) -> Option<Self> {
        match code & 0xff {
            3 | 8 => Some(Self::ReadOnly),
            13 => Some(Self::DiskFull),
            10 => Some(Self::Io),
            _ => None,
        }
    }

    /// The problem in words, naming `file` when known.
    pub fn describe(self, file: Option<&str>) -> String {
        let file = file.map_or_else(
            || "the database file".to_owned(),
            |f| format!("the database file {f}"),
        );
        match self {
            Self::ReadOnly => format!(
                "{file} is read-only: check its permissions and owner, whether it is immutable \
                 (`lsattr`), and that its file system is not mounted read-only"
            ),
            Self::DiskFull => format!("the disk holding {file} is full: free some space and retry"),
            Self::Io => format!(
                "disk I/O error on {file}: check that it can be written (permissions, immutable \
                 flag, read-only mount) and that its disk is not full or failing"
            ),
        }
    }
}

/// ` (while trying to …)` for an action, or nothing.
fn during(action: Option<&str>) -> String {
    action.map_or_else(String::new, |a| format!(" (while trying to {a})"))
}

/// The storage problem of a sqlx error from SQLite, if it is one.
pub(crate) fn storage_problem(source: &sqlx::Error) -> Option<StorageProblem> {
    let db = source.as_database_error()?;
    let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
    let code: i64 = sqlx::error::DatabaseError::code(sqlite)?.parse().ok()?;
    StorageProblem::of_sqlite_code(code)
}

/// A failed statement as a [`StoreError`]: [`StoreError::Storage`] for SQLite's read-only, full
/// and I/O errors (so the message says what to fix), [`StoreError::Database`] otherwise.
pub(crate) fn database_error(action: String, source: sqlx::Error) -> StoreError {
    match storage_problem(&source) {
        Some(problem) => StoreError::Storage {
            action,
            problem,
            file: None,
            source,
        },
        None => StoreError::Database { action, source },
    }
}

/// A failed migration as a [`StoreError`]: a statement failing for lack of storage is
/// [`StoreError::Storage`], anything else [`StoreError::Migration`].
pub(crate) fn migration_error(error: sqlx::migrate::MigrateError) -> StoreError {
    match error {
        sqlx::migrate::MigrateError::Execute(source) if storage_problem(&source).is_some() => {
            database_error("apply the database migrations".to_owned(), source)
        }
        other => StoreError::Migration(other),
    }
}

impl StoreError {
    /// A [`StoreError::Corrupt`] for the value at `what`.
    pub fn corrupt(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Corrupt {
            what: what.into(),
            detail: detail.into(),
        }
    }

    /// Whether this is a database error caused by a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Self::Database { source, .. } => source
                .as_database_error()
                .is_some_and(|e| e.is_unique_violation()),
            _ => false,
        }
    }

    /// Whether this is a database error caused by a foreign-key violation.
    pub fn is_foreign_key_violation(&self) -> bool {
        match self {
            Self::Database { source, .. } => source
                .as_database_error()
                .is_some_and(|e| e.is_foreign_key_violation()),
            _ => false,
        }
    }
}

/// Attaches "what the store was doing" to sqlx results.
pub(crate) trait DbResultExt<T> {
    /// Wraps an error as [`StoreError::Database`] (or [`StoreError::Storage`]) with a fixed
    /// action.
    fn action(self, action: &str) -> Result<T, StoreError>;
    /// Wraps an error as [`StoreError::Database`] (or [`StoreError::Storage`]) with an action
    /// built only on failure.
    fn with_action(self, action: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> DbResultExt<T> for Result<T, sqlx::Error> {
    fn action(self, action: &str) -> Result<T, StoreError> {
        self.map_err(|source| database_error(action.to_owned(), source))
    }

    fn with_action(self, action: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|source| database_error(action(), source))
    }
}

/// Masks the password of a URL such as `postgres://user:secret@host/db` before it is shown.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_and_other_urls_kept() {
        assert_eq!(
            redact_url("postgres://bob:s3cret@db:5432/x"),
            "postgres://bob:***@db:5432/x"
        );
        assert_eq!(redact_url("postgres://bob@db/x"), "postgres://bob@db/x");
        assert_eq!(redact_url("sqlite:barter.db"), "sqlite:barter.db");
        assert_eq!(redact_url("mysql://a:b@h/d?x=@"), "mysql://a:***@h/d?x=@");
    }
}
