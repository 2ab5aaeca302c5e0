//! [`StoreError`]: every way a store operation can fail, saying what was attempted.

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
    /// Wraps an error as [`StoreError::Database`] with a fixed action.
    fn action(self, action: &str) -> Result<T, StoreError>;
    /// Wraps an error as [`StoreError::Database`] with an action built only on failure.
    fn with_action(self, action: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> DbResultExt<T> for Result<T, sqlx::Error> {
    fn action(self, action: &str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Database {
            action: action.to_owned(),
            source,
        })
    }

    fn with_action(self, action: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Database {
            action: action(),
            source,
        })
    }
}

/// Masks the password of a URL such as `postgres://user:secret@host/db` before it is shown.
pub(crate) fn redact_url(url: &str) -> String {
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
