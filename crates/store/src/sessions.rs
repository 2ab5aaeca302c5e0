//! Dashboard sessions ([`DashboardSession`]), kept in the database so a signed-in browser stays
//! signed in when the server restarts and is known to every server sharing the database.
//!
//! A session is stored under the SHA-256 of its id ([`session_id_hash`]), never the id itself:
//! the browser's cookie carries the id, so someone who reads the table (a backup, a copy of the
//! SQLite file) learns no id that would open a session. The id is 256 random bits, so a plain
//! hash (no salt, no slow hash) is enough: there is nothing to guess. Lookups are by primary key.
//!
//! The table is bounded: creating a session first deletes the expired ones and, when
//! `max_sessions` are left, ends the oldest, so it stays at `max_sessions` rows (a few more
//! only while servers create sessions at the same instant; the next creation trims them).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::codec::column;
use crate::connect::Store;
use crate::error::{DbResultExt, StoreError};

/// A live dashboard session as stored (its id is known only to the browser holding it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardSession {
    /// When it was created (to the microsecond).
    pub created_at: DateTime<Utc>,
    /// When it ends; it is not found from then on.
    pub expires_at: DateTime<Utc>,
}

/// The SHA-256 of session id `id` in lowercase hex: the only form of the id the database keeps.
pub fn session_id_hash(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Store {
    /// Stores a new dashboard session with id `id` (kept only as its hash) lasting from
    /// `created_at` until `expires_at`. First deletes the sessions expired at `created_at` and,
    /// when `max_sessions` (at least 1) are still stored, the oldest, so at most `max_sessions`
    /// remain. Returns how many sessions were deleted (expired or ended).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when `expires_at` is not after `created_at` (nothing is
    /// written), [`StoreError::Database`] when the database cannot be written (a repeated id is
    /// a unique violation; with 256 random bits it never happens by chance).
    pub async fn create_dashboard_session(
        &self,
        id: &str,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        max_sessions: u32,
    ) -> Result<u64, StoreError> {
        if expires_at <= created_at {
            return Err(StoreError::InvalidInput(format!(
                "a dashboard session must end after it starts (it starts at {created_at} and \
                 ends at {expires_at})"
            )));
        }
        let id_hash = session_id_hash(id);
        let keep = i64::from(max_sessions.max(1));
        let action = "create a dashboard session";
        on_db!(&self.db, |pool| {
            let mut tx = codec::begin_write(pool).await.action(action)?;
            let expired = sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= $1")
                .bind(codec::timestamp(created_at))
                .execute(&mut *tx)
                .await
                .action(action)?
                .rows_affected();
            let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dashboard_sessions")
                .fetch_one(&mut *tx)
                .await
                .action(action)?;
            // With `--no-auth` every cookie-less visit starts a session: end the oldest so the
            // new one fits.
            let excess = stored - keep + 1;
            let ended = if excess > 0 {
                sqlx::query(
                    "DELETE FROM dashboard_sessions WHERE id_hash IN (SELECT id_hash FROM \
                     dashboard_sessions ORDER BY created_at, id_hash LIMIT $1)",
                )
                .bind(excess)
                .execute(&mut *tx)
                .await
                .action(action)?
                .rows_affected()
            } else {
                0
            };
            sqlx::query(
                "INSERT INTO dashboard_sessions (id_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(id_hash.as_str())
            .bind(codec::timestamp(created_at))
            .bind(codec::timestamp(expires_at))
            .execute(&mut *tx)
            .await
            .action(action)?;
            tx.commit().await.action(action)?;
            Ok(expired + ended)
        })
    }

    /// The dashboard session with id `id` if it is stored and has not expired at `now`.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn dashboard_session(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DashboardSession>, StoreError> {
        let id_hash = session_id_hash(id);
        on_db!(&self.db, |pool| {
            let row = sqlx::query(
                "SELECT created_at, expires_at FROM dashboard_sessions \
                 WHERE id_hash = $1 AND expires_at > $2",
            )
            .bind(id_hash.as_str())
            .bind(codec::timestamp(now))
            .fetch_optional(pool)
            .await
            .action("read a dashboard session")?;
            let Some(row) = row else {
                return Ok(None);
            };
            let corrupt = |detail: String| StoreError::Corrupt {
                what: "a dashboard_sessions row".to_owned(),
                detail,
            };
            Ok(Some(DashboardSession {
                created_at: column(&row, "created_at").map_err(corrupt)?,
                expires_at: column(&row, "expires_at").map_err(corrupt)?,
            }))
        })
    }

    /// Ends (deletes) the dashboard session with id `id`; `true` when it was stored.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the delete fails.
    pub async fn delete_dashboard_session(&self, id: &str) -> Result<bool, StoreError> {
        let id_hash = session_id_hash(id);
        let deleted = on_db!(&self.db, |pool| {
            sqlx::query("DELETE FROM dashboard_sessions WHERE id_hash = $1")
                .bind(id_hash.as_str())
                .execute(pool)
                .await
                .action("end a dashboard session")?
                .rows_affected()
        });
        Ok(deleted > 0)
    }

    /// Ends every dashboard session ("sign out everywhere"); returns how many were stored
    /// (expired ones included).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the delete fails.
    pub async fn delete_all_dashboard_sessions(&self) -> Result<u64, StoreError> {
        let deleted = on_db!(&self.db, |pool| {
            sqlx::query("DELETE FROM dashboard_sessions")
                .execute(pool)
                .await
                .action("end every dashboard session")?
                .rows_affected()
        });
        Ok(deleted)
    }

    /// How many dashboard sessions are live at `now`.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails.
    pub async fn dashboard_session_count(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let count: i64 = on_db!(&self.db, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM dashboard_sessions WHERE expires_at > $1")
                .bind(codec::timestamp(now))
                .fetch_one(pool)
                .await
                .action("count the dashboard sessions")?
        });
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_sha256_in_lowercase_hex() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            session_id_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
