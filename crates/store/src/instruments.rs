//! Registering, listing, (de)activating and removing instruments.

use barter_core::{Instrument, Symbol};
use chrono::Utc;
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::codec::{column, parsed};
use crate::connect::Store;
use crate::error::{DbResultExt, StoreError};

/// The columns an [`Instrument`] is read from, in `SELECT` order.
const COLUMNS: &str = "symbol, name, quote_currency, source, source_id, calendar, active";

impl Store {
    /// Registers `instrument`.
    ///
    /// # Errors
    /// [`StoreError::DuplicateInstrument`] when its symbol is already registered (detected by
    /// the primary key, so two concurrent adds cannot both succeed); [`StoreError::Database`]
    /// otherwise.
    pub async fn add_instrument(&self, instrument: &Instrument) -> Result<(), StoreError> {
        let result = on_db!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO instruments \
                 (symbol, name, quote_currency, source, source_id, calendar, active, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(instrument.symbol.as_str())
            .bind(&instrument.name)
            .bind(&instrument.quote_currency)
            .bind(instrument.source.as_str())
            .bind(&instrument.source_id)
            .bind(instrument.calendar.as_str())
            .bind(instrument.active)
            .bind(codec::timestamp(Utc::now()))
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
            .with_action(|| format!("register instrument {}", instrument.symbol))
        });
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.is_unique_violation() => {
                Err(StoreError::DuplicateInstrument(instrument.symbol.clone()))
            }
            Err(e) => Err(e),
        }
    }

    /// The instrument registered as `symbol`, if any.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails,
    /// [`StoreError::Corrupt`] for an unreadable row.
    pub async fn instrument(&self, symbol: &Symbol) -> Result<Option<Instrument>, StoreError> {
        on_db!(&self.db, |pool| {
            let sql = format!("SELECT {COLUMNS} FROM instruments WHERE symbol = $1");
            let row = sqlx::query(&sql)
                .bind(symbol.as_str())
                .fetch_optional(pool)
                .await
                .with_action(|| format!("load instrument {symbol}"))?;
            row.map(|row| instrument_from_row(&row)).transpose()
        })
    }

    /// Every registered instrument, sorted by symbol.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails,
    /// [`StoreError::Corrupt`] for an unreadable row.
    pub async fn instruments(&self) -> Result<Vec<Instrument>, StoreError> {
        on_db!(&self.db, |pool| {
            let sql = format!("SELECT {COLUMNS} FROM instruments ORDER BY symbol");
            let rows = sqlx::query(&sql)
                .fetch_all(pool)
                .await
                .action("list instruments")?;
            rows.iter().map(instrument_from_row).collect()
        })
    }

    /// Marks an instrument active (synced) or inactive (kept, but skipped by sync).
    ///
    /// # Errors
    /// [`StoreError::UnknownInstrument`] when `symbol` is not registered; [`StoreError::Database`].
    pub async fn set_instrument_active(
        &self,
        symbol: &Symbol,
        active: bool,
    ) -> Result<(), StoreError> {
        let changed = on_db!(&self.db, |pool| {
            sqlx::query("UPDATE instruments SET active = $2 WHERE symbol = $1")
                .bind(symbol.as_str())
                .bind(active)
                .execute(pool)
                .await
                .with_action(|| format!("set instrument {symbol} active={active}"))?
                .rows_affected()
        });
        if changed == 0 {
            return Err(StoreError::UnknownInstrument(symbol.clone()));
        }
        Ok(())
    }

    /// Removes an instrument together with all its candles; returns how many candles were deleted.
    /// Its history entries are kept.
    ///
    /// # Errors
    /// [`StoreError::UnknownInstrument`] when `symbol` is not registered,
    /// [`StoreError::InstrumentInUse`] when the trading ledger has positions in it (nothing is
    /// removed then); [`StoreError::Database`].
    pub async fn remove_instrument(&self, symbol: &Symbol) -> Result<u64, StoreError> {
        let action = || format!("remove instrument {symbol}");
        on_db!(&self.db, |pool| {
            let mut tx = codec::begin_write(pool).await.with_action(action)?;
            // Locked first, so a concurrent candle write cannot slip rows past the count.
            if codec::lock_instrument::<codec::Backend>(&mut tx, codec::LOCK_INSTRUMENT, symbol)
                .await
                .with_action(action)?
                .is_none()
            {
                return Err(StoreError::UnknownInstrument(symbol.clone()));
            }
            let candles = sqlx::query("DELETE FROM candles WHERE symbol = $1")
                .bind(symbol.as_str())
                .execute(&mut *tx)
                .await
                .with_action(action)?
                .rows_affected();
            sqlx::query("DELETE FROM instruments WHERE symbol = $1")
                .bind(symbol.as_str())
                .execute(&mut *tx)
                .await
                .with_action(action)
                .map_err(|e| {
                    if e.is_foreign_key_violation() {
                        StoreError::InstrumentInUse(symbol.clone())
                    } else {
                        e
                    }
                })?;
            tx.commit().await.with_action(action)?;
            Ok(candles)
        })
    }
}

/// Rebuilds an [`Instrument`] from a row of [`COLUMNS`] (the same code for both backends).
fn instrument_from_row<'r, R>(row: &'r R) -> Result<Instrument, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let symbol: Symbol =
        parsed(row, "symbol").map_err(|e| StoreError::corrupt("instruments.symbol", e))?;
    let corrupt = |col: &str| {
        let what = format!("instruments.{col} for {symbol}");
        move |detail: String| StoreError::corrupt(what, detail)
    };
    Ok(Instrument {
        name: column(row, "name").map_err(corrupt("name"))?,
        quote_currency: column(row, "quote_currency").map_err(corrupt("quote_currency"))?,
        source: parsed(row, "source").map_err(corrupt("source"))?,
        source_id: column(row, "source_id").map_err(corrupt("source_id"))?,
        calendar: parsed(row, "calendar").map_err(corrupt("calendar"))?,
        active: column(row, "active").map_err(corrupt("active"))?,
        symbol,
    })
}
