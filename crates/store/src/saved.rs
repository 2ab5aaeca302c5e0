//! Backtests saved from the dashboard ([`SavedBacktest`]): a name, when, and the request and
//! headline summary as JSON the store keeps without interpreting.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::codec::{column, json};
use crate::connect::Store;
use crate::error::{DbResultExt, StoreError};

/// The columns a [`SavedBacktest`] is read from, in `SELECT` order.
const COLUMNS: &str = "id, name, saved_at, request, summary";

/// The longest accepted name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// A simulator result a user saved to reopen later.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SavedBacktest {
    /// Database id; later saves have larger ids.
    pub id: i64,
    /// The name the user gave it.
    pub name: String,
    /// When it was saved (to the microsecond).
    pub saved_at: DateTime<Utc>,
    /// The backtest request, as given.
    pub request: serde_json::Value,
    /// Its headline statistics, as given.
    pub summary: serde_json::Value,
}

impl Store {
    /// Saves a backtest under `name` and returns it as stored.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] (nothing written) when `name` is blank or longer than
    /// [`MAX_NAME_CHARS`] characters, [`StoreError::Database`] when the insert fails.
    pub async fn save_backtest(
        &self,
        name: &str,
        saved_at: DateTime<Utc>,
        request: &serde_json::Value,
        summary: &serde_json::Value,
    ) -> Result<SavedBacktest, StoreError> {
        check_name(name)?;
        on_db!(&self.db, |pool| {
            let sql = format!(
                "INSERT INTO saved_backtests (name, saved_at, request, summary) \
                 VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
            );
            let row = sqlx::query(&sql)
                .bind(name)
                .bind(codec::timestamp(saved_at))
                .bind(request.to_string())
                .bind(summary.to_string())
                .fetch_one(pool)
                .await
                .with_action(|| format!("save backtest `{name}`"))?;
            saved_from_row(&row)
        })
    }

    /// The latest `limit` saved backtests, newest first (by save time, then id).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails,
    /// [`StoreError::Corrupt`] for an unreadable row.
    pub async fn saved_backtests(&self, limit: u32) -> Result<Vec<SavedBacktest>, StoreError> {
        on_db!(&self.db, |pool| {
            let sql = format!(
                "SELECT {COLUMNS} FROM saved_backtests ORDER BY saved_at DESC, id DESC LIMIT $1"
            );
            let rows = sqlx::query(&sql)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .action("list the saved backtests")?;
            rows.iter().map(saved_from_row).collect()
        })
    }

    /// The saved backtest with this id, if any.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails,
    /// [`StoreError::Corrupt`] for an unreadable row.
    pub async fn saved_backtest(&self, id: i64) -> Result<Option<SavedBacktest>, StoreError> {
        on_db!(&self.db, |pool| {
            let sql = format!("SELECT {COLUMNS} FROM saved_backtests WHERE id = $1");
            let row = sqlx::query(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await
                .with_action(|| format!("load saved backtest {id}"))?;
            row.as_ref().map(saved_from_row).transpose()
        })
    }

    /// Deletes the saved backtest with this id; `true` when one was removed.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the delete fails.
    pub async fn delete_saved_backtest(&self, id: i64) -> Result<bool, StoreError> {
        let removed = on_db!(&self.db, |pool| {
            sqlx::query("DELETE FROM saved_backtests WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .with_action(|| format!("delete saved backtest {id}"))?
                .rows_affected()
        });
        Ok(removed > 0)
    }
}

/// Refuses a blank name or one longer than [`MAX_NAME_CHARS`] characters.
fn check_name(name: &str) -> Result<(), StoreError> {
    if name.trim().is_empty() {
        return Err(StoreError::InvalidInput(
            "a saved backtest needs a name that is not empty or only whitespace".to_owned(),
        ));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(StoreError::InvalidInput(format!(
            "a saved backtest name has at most {MAX_NAME_CHARS} characters, this one has {chars}"
        )));
    }
    Ok(())
}

/// Rebuilds a [`SavedBacktest`] from a row of [`COLUMNS`].
fn saved_from_row<'r, R>(row: &'r R) -> Result<SavedBacktest, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: i64 = column(row, "id").map_err(|e| StoreError::corrupt("saved_backtests.id", e))?;
    let corrupt = |col: &str| {
        let what = format!("saved_backtests.{col} of saved backtest {id}");
        move |detail: String| StoreError::corrupt(what, detail)
    };
    Ok(SavedBacktest {
        id,
        name: column(row, "name").map_err(corrupt("name"))?,
        saved_at: column(row, "saved_at").map_err(corrupt("saved_at"))?,
        request: json(row, "request").map_err(corrupt("request"))?,
        summary: json(row, "summary").map_err(corrupt("summary"))?,
    })
}
