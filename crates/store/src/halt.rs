//! The kill switch: whether new entries are halted, kept in the database so every process
//! sharing it obeys, with each change appended to the history in the same transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::bounds::{bound_json_text, bound_message};
use crate::codec::column;
use crate::connect::Store;
use crate::error::{DbResultExt, StoreError};

/// The history kind of a halt.
pub const EVENT_HALTED: &str = "trading_halted";
/// The history kind of a resume.
pub const EVENT_RESUMED: &str = "trading_resumed";

/// Whether new entries are halted, and the last change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TradingHalt {
    /// Whether new entries are halted (exits and reconciliation always continue).
    pub halted: bool,
    /// Why, as given when halting.
    pub reason: Option<String>,
    /// Who changed it last (`cli`, `api`, `dashboard`), `None` when it never changed.
    pub changed_by: Option<String>,
    /// When it changed last.
    pub changed_at: Option<DateTime<Utc>>,
}

impl TradingHalt {
    /// Trading as it starts: nothing halted, never changed.
    pub fn running() -> Self {
        Self {
            halted: false,
            reason: None,
            changed_by: None,
            changed_at: None,
        }
    }
}

impl Store {
    /// The kill switch's state.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn trading_halt(&self) -> Result<TradingHalt, StoreError> {
        on_db!(&self.db, |pool| {
            let row = sqlx::query(
                "SELECT halted, reason, changed_by, changed_at FROM trading_halt WHERE id = 1",
            )
            .fetch_optional(pool)
            .await
            .action("read the trading halt")?;
            match row {
                None => Ok(TradingHalt::running()),
                Some(row) => {
                    let corrupt = |detail: String| StoreError::Corrupt {
                        what: "the trading_halt row".to_owned(),
                        detail,
                    };
                    Ok(TradingHalt {
                        halted: row.try_get("halted").map_err(|e| corrupt(e.to_string()))?,
                        reason: column(&row, "reason").map_err(corrupt)?,
                        changed_by: Some(column(&row, "changed_by").map_err(corrupt)?),
                        changed_at: Some(column(&row, "changed_at").map_err(corrupt)?),
                    })
                }
            }
        })
    }

    /// Halts (`halted`) or resumes new entries, recording who and why in the history in the
    /// same transaction; returns the new state. Setting the state it already has changes
    /// nothing and records nothing, so a repeated call is harmless.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub async fn set_trading_halt(
        &self,
        halted: bool,
        reason: Option<&str>,
        changed_by: &str,
        at: DateTime<Utc>,
    ) -> Result<TradingHalt, StoreError> {
        let current = self.trading_halt().await?;
        if current.halted == halted {
            return Ok(current);
        }
        let reason = reason
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| bound_message(r).into_owned());
        let changed_by = bound_message(changed_by).into_owned();
        let kind = if halted { EVENT_HALTED } else { EVENT_RESUMED };
        let detail = bound_json_text(&json!({ "reason": reason, "by": changed_by }));
        let action = || format!("record `{kind}`");
        on_db!(&self.db, |pool| {
            let mut tx = codec::begin_write(pool).await.with_action(action)?;
            // Only the first of two concurrent changes to the same state writes: the row is
            // updated only when it differs, and the history row follows that update.
            let changed = sqlx::query(
                "INSERT INTO trading_halt (id, halted, reason, changed_by, changed_at) \
                 VALUES (1, $1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET halted = excluded.halted, \
                 reason = excluded.reason, changed_by = excluded.changed_by, \
                 changed_at = excluded.changed_at \
                 WHERE trading_halt.halted <> excluded.halted",
            )
            .bind(halted)
            .bind(reason.as_deref())
            .bind(changed_by.as_str())
            .bind(codec::timestamp(at))
            .execute(&mut *tx)
            .await
            .with_action(action)?
            .rows_affected();
            if changed > 0 {
                sqlx::query(
                    "INSERT INTO history (run_id, recorded_at, kind, symbol, strategy, \
                     position_id, detail) VALUES (NULL, $1, $2, NULL, NULL, NULL, $3)",
                )
                .bind(codec::timestamp(at))
                .bind(kind)
                .bind(detail.as_str())
                .execute(&mut *tx)
                .await
                .with_action(action)?;
            }
            tx.commit().await.with_action(action)?;
        });
        self.trading_halt().await
    }
}
