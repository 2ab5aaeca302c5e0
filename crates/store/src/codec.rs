//! How values are bound and read on each backend; the only per-backend code besides migrations.
//!
//! Queries are written once (see the `on_db!` macro) and call `codec::…`, which resolves to
//! [`sqlite`] or [`postgres`]. Both modules expose the same names with backend-specific types:
//! money is TEXT on SQLite and NUMERIC on PostgreSQL; everything else binds the same Rust type.

use barter_core::Symbol;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

/// Timestamps are truncated to microseconds, PostgreSQL's precision, so both backends store alike.
pub fn timestamp(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// Reads column `col` of `row`; the error text says why it could not be decoded.
///
/// # Errors
/// The decode error, as text, when the column is missing or holds an unexpected type or value.
pub fn column<'r, R, T>(row: &'r R, col: &str) -> Result<T, String>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    T: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get::<T, _>(col).map_err(|e| match e {
        sqlx::Error::ColumnDecode { source, .. } => source.to_string(),
        other => other.to_string(),
    })
}

/// Runs the backend's `LOCK_INSTRUMENT` in a write transaction: the instrument's candle summary
/// row, `None` when `symbol` is not registered (the row then stays locked until the transaction
/// ends, on PostgreSQL).
///
/// # Errors
/// The sqlx error when the query fails.
pub async fn lock_instrument<DB>(
    conn: &mut DB::Connection,
    lock_sql: &'static str,
    symbol: &Symbol,
) -> Result<Option<DB::Row>, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    sqlx::query(lock_sql)
        .bind(symbol.as_str())
        .fetch_optional(conn)
        .await
}

/// Parses a stored JSON text column into `T`.
///
/// # Errors
/// The decode or JSON error, as text.
pub fn json<'r, R, T>(row: &'r R, col: &str) -> Result<T, String>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    T: serde::de::DeserializeOwned,
{
    let text: &str = column(row, col)?;
    serde_json::from_str(text).map_err(|e| format!("invalid JSON ({e}): {}", preview(text)))
}

/// Reads a nullable JSON text column into `T`.
///
/// # Errors
/// The decode or JSON error, as text.
pub fn json_opt<'r, R, T>(row: &'r R, col: &str) -> Result<Option<T>, String>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    Option<&'r str>: Decode<'r, R::Database> + Type<R::Database>,
    T: serde::de::DeserializeOwned,
{
    let text: Option<&str> = column(row, col)?;
    text.map(|t| serde_json::from_str(t).map_err(|e| format!("invalid JSON ({e}): {}", preview(t))))
        .transpose()
}

/// Parses a stored name (kind, status, origin, …) with its `FromStr`.
///
/// # Errors
/// The decode or parse error, as text.
pub fn parsed<'r, R, T>(row: &'r R, col: &str) -> Result<T, String>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text: &str = column(row, col)?;
    text.parse().map_err(|e: T::Err| e.to_string())
}

/// The first 80 characters of a stored text, for error messages.
fn preview(text: &str) -> String {
    let mut shown: String = text.chars().take(80).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("`{shown}`")
}

/// SQLite: money as exact decimal TEXT, writes serialised with `BEGIN IMMEDIATE`.
pub mod sqlite {
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use sqlx::sqlite::{SqlitePool, SqliteRow};
    use sqlx::{Sqlite, Transaction};

    pub use super::{column, json, json_opt, lock_instrument, parsed, timestamp};

    /// The sqlx database type.
    pub type Backend = Sqlite;

    /// Which migrations folder applies.
    pub const DIALECT: crate::migrate::Dialect = crate::migrate::Dialect::Sqlite;

    /// Most bind parameters SQLite accepts in one statement (`SQLITE_MAX_VARIABLE_NUMBER`).
    pub const MAX_BIND_PARAMS: usize = 32_766;

    /// Probes the instrument row in a write transaction; a plain read on SQLite, where
    /// `BEGIN IMMEDIATE` already serialises writers.
    pub const LOCK_INSTRUMENT: &str = "SELECT first_day, last_day, last_complete_day, candle_count \
         FROM instruments WHERE symbol = $1";

    /// One instrument's history in one row (none for an unregistered symbol): its days, then
    /// each of `columns` for the complete candles, each packed into one comma-separated text
    /// (one aggregate per column: SQLite concatenates far faster than row by row), then
    /// `PACKED_CANDLES` from `$2` to `$3` (see `candles::Store::series_history`). The days are
    /// every complete day (`all_days`), or only the first stored and the last complete day from
    /// the candle summary, enough when the days have no gap.
    ///
    /// The aggregates have no `ORDER BY`: SQLite would sort each through a temporary b-tree, and
    /// an ordered subquery copies every row once more (together 40% of the read). They consume
    /// the rows of one scan of the `(symbol, day)` primary key, so the columns line up and come
    /// in day order; the reader checks that the days ascend, so any other order is an error,
    /// never a wrong history.
    pub fn packed_history(columns: &[&str], all_days: bool) -> String {
        let values: Vec<String> = columns
            .iter()
            .map(|c| format!("group_concat({c}, ',')"))
            .collect();
        let days = if all_days {
            ""
        } else {
            "i.first_day || ',' || i.last_complete_day, "
        };
        format!(
            "SELECT {days}c.*, ({PACKED_CANDLES}) FROM instruments i, \
             (SELECT {} FROM candles WHERE symbol = $1 AND complete = 1) c \
             WHERE i.symbol = $1",
            std::iter::once("group_concat(day, ',') AS days".to_owned())
                .filter(|_| all_days)
                .chain(values)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// One instrument's candles in a day range packed into one text value (see
    /// `candles::unpack`): one row crosses the driver instead of thousands.
    pub const PACKED_CANDLES: &str = "SELECT group_concat(day || char(31) || open || char(31) \
         || high || char(31) || low || char(31) || close || char(31) || volume || char(31) \
         || complete || char(31) || origin, char(30) ORDER BY day) \
         FROM candles WHERE symbol = $1 AND day >= $2 AND day <= $3";

    /// Reads the paper account in a write transaction; a plain read on SQLite, where
    /// `BEGIN IMMEDIATE` already serialises writers.
    pub const LOCK_ACCOUNT: &str = "SELECT initial_cash, cash FROM account WHERE id = 1";

    /// How money is bound: its exact decimal text.
    pub fn money(value: Decimal) -> String {
        value.to_string()
    }

    /// Reads a nullable money column stored as decimal text.
    ///
    /// # Errors
    /// Why the stored text is not a decimal.
    pub fn get_money_opt(row: &SqliteRow, col: &str) -> Result<Option<Decimal>, String> {
        let text: Option<&str> = column(row, col)?;
        match text {
            None => Ok(None),
            Some(_) => get_money(row, col).map(Some),
        }
    }

    /// Reads a money column stored as decimal text.
    ///
    /// # Errors
    /// Why the stored text is not a decimal.
    pub fn get_money(row: &SqliteRow, col: &str) -> Result<Decimal, String> {
        let text: &str = column(row, col)?;
        Decimal::from_str(text)
            .or_else(|_| Decimal::from_scientific(text))
            .map_err(|e| format!("`{text}` is not a decimal number ({e})"))
    }

    /// Starts a write transaction that takes SQLite's write lock at once, so a transaction that
    /// reads before it writes cannot fail with a stale snapshot under concurrent writers.
    ///
    /// # Errors
    /// The sqlx error when no connection is available or the lock cannot be taken in time.
    pub async fn begin_write(
        pool: &SqlitePool,
    ) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }
}

/// PostgreSQL: money as NUMERIC, writers of one instrument serialised by a row lock, ledger
/// writers by the account row lock.
pub mod postgres {
    use rust_decimal::Decimal;
    use sqlx::postgres::{PgPool, PgRow};
    use sqlx::{Postgres, Transaction};

    pub use super::{column, json, json_opt, lock_instrument, parsed, timestamp};

    /// The sqlx database type.
    pub type Backend = Postgres;

    /// Which migrations folder applies.
    pub const DIALECT: crate::migrate::Dialect = crate::migrate::Dialect::Postgres;

    /// Most bind parameters PostgreSQL accepts in one statement.
    pub const MAX_BIND_PARAMS: usize = 65_535;

    /// Locks the instrument row for the rest of a write transaction, so writers of one
    /// instrument run one after the other (candle foreign-key checks are not blocked).
    pub const LOCK_INSTRUMENT: &str = "SELECT first_day, last_day, last_complete_day, candle_count \
         FROM instruments WHERE symbol = $1 FOR NO KEY UPDATE";

    /// One instrument's history in one row (none for an unregistered symbol): its days, then
    /// each of `columns` for the complete candles, each packed into one comma-separated text,
    /// then `PACKED_CANDLES` from `$2` to `$3` (see `candles::Store::series_history`). The days
    /// are every complete day (`all_days`), or only the first stored and the last complete day
    /// from the candle summary, enough when the days have no gap.
    pub fn packed_history(columns: &[&str], all_days: bool) -> String {
        let values: Vec<String> = columns
            .iter()
            .map(|c| format!("string_agg({c}::text, ',' ORDER BY day)"))
            .collect();
        let days = if all_days {
            ""
        } else {
            "to_char(i.first_day, 'YYYY-MM-DD') || ',' || \
             to_char(i.last_complete_day, 'YYYY-MM-DD'), "
        };
        format!(
            "SELECT {days}c.*, ({PACKED_CANDLES}) FROM instruments i, \
             (SELECT {} FROM candles WHERE symbol = $1 AND complete) c \
             WHERE i.symbol = $1",
            std::iter::once(
                "string_agg(to_char(day, 'YYYY-MM-DD'), ',' ORDER BY day) AS days".to_owned()
            )
            .filter(|_| all_days)
            .chain(values)
            .collect::<Vec<_>>()
            .join(", ")
        )
    }

    /// One instrument's candles in a day range packed into one text value (see
    /// `candles::unpack`); numbers as their exact NUMERIC text, days as ISO dates whatever the
    /// session's DateStyle.
    pub const PACKED_CANDLES: &str = "SELECT string_agg(to_char(day, 'YYYY-MM-DD') || chr(31) \
         || open::text || chr(31) || high::text || chr(31) || low::text || chr(31) \
         || close::text || chr(31) || volume::text || chr(31) \
         || (CASE WHEN complete THEN '1' ELSE '0' END) || chr(31) || origin, chr(30) \
         ORDER BY day) FROM candles WHERE symbol = $1 AND day >= $2 AND day <= $3";

    /// Locks the paper account row for the rest of a write transaction, so every ledger write
    /// (open, close) runs one after the other and cash is never updated from a stale read.
    pub const LOCK_ACCOUNT: &str = "SELECT initial_cash, cash FROM account WHERE id = 1 FOR UPDATE";

    /// How money is bound: NUMERIC.
    pub fn money(value: Decimal) -> Decimal {
        value
    }

    /// Reads a nullable NUMERIC money column.
    ///
    /// # Errors
    /// Why the stored value is not a decimal Barter can represent (e.g. `NaN`).
    pub fn get_money_opt(row: &PgRow, col: &str) -> Result<Option<Decimal>, String> {
        column(row, col)
    }

    /// Reads a NUMERIC money column.
    ///
    /// # Errors
    /// Why the stored value is not a decimal Barter can represent (e.g. `NaN`).
    pub fn get_money(row: &PgRow, col: &str) -> Result<Decimal, String> {
        column(row, col)
    }

    /// Starts a write transaction.
    ///
    /// # Errors
    /// The sqlx error when no connection is available.
    pub async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        pool.begin().await
    }
}
