//! Candles: the transactional write with its added/updated/unchanged/conflict diff, and reads.
//!
//! A write runs in one transaction: lock the instrument (`codec::lock_instrument`), read the
//! stored candles of the incoming day range with one `SELECT`, diff in memory, then write the
//! changed incomplete days and the new days with multi-row `INSERT … ON CONFLICT` statements,
//! and update the instrument row's candle summary (first/last day, count, last complete day).
//! All or nothing. The summary makes [`Store::coverage`] and [`Store::last_complete_day`] one
//! row read instead of a scan of the instrument's candles.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::str::FromStr;

use barter_core::rule::{OwnedColumns, SeriesField, SeriesSet};
use barter_core::{Candle, CandleOrigin, Day, Ohlcv, Price, RunId, SeriesHistory, Symbol};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{ColumnIndex, Database, Decode, Encode, QueryBuilder, Row, Type};

use crate::codec::column;
use crate::connect::Store;
use crate::error::{DbResultExt, StoreError};

/// Bind parameters per written candle row in [`candle_rows`] (symbol and timestamp are bound
/// once per statement, not per row).
const ROW_PARAMS: usize = 8;
/// Rows per multi-row statement: a fixed size (well under both backends' bind limits) so the
/// prepared statement for full chunks is reused from the statement cache.
const CHUNK_ROWS: usize = 500;
/// Ends the statement that adds new days; a day stored meanwhile is left alone.
const INSERT: &str = " ON CONFLICT (symbol, day) DO NOTHING";
/// Ends the statement that replaces stored incomplete days.
const UPSERT: &str = " ON CONFLICT (symbol, day) DO UPDATE SET open = excluded.open, \
     high = excluded.high, low = excluded.low, close = excluded.close, volume = excluded.volume, \
     complete = excluded.complete, origin = excluded.origin, updated_at = excluded.updated_at";

/// What one [`Store::write_candles`] call did; every incoming candle is counted exactly once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandleWrite {
    /// Candles for days that had none.
    pub added: u64,
    /// Stored incomplete candles replaced (new values, or now complete).
    pub updated: u64,
    /// Candles identical to what was stored (nothing written).
    pub unchanged: u64,
    /// Complete stored candles the incoming data contradicts; kept as stored.
    pub conflicts: Vec<CandleConflict>,
}

/// A complete stored candle that an incoming candle contradicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandleConflict {
    /// The day.
    pub day: Day,
    /// The values kept in the store.
    pub stored: Ohlcv,
    /// The values that were refused.
    pub incoming: Ohlcv,
}

/// A history entry written with the change it records (see [`Store::write_candles_recorded`]).
#[derive(Debug, Clone)]
pub struct HistoryEvent {
    /// The run that made the change.
    pub run: Option<RunId>,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened, e.g. `candles_synced`.
    pub kind: String,
    /// Free-form details.
    pub detail: serde_json::Value,
}

/// The stored range of an instrument's candles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// The first stored day.
    pub first: Day,
    /// The last stored day.
    pub last: Day,
    /// How many days are stored (fewer than the span when there are gaps).
    pub count: u64,
}

impl Store {
    /// Stores `candles` of instrument `symbol` in one transaction and reports what changed.
    ///
    /// Per day: a new day is added; the same values again are unchanged; a stored *incomplete*
    /// candle with other values, or now complete, is updated; a stored *complete* candle with
    /// other values is a conflict and is not written. A day repeated within `candles` is
    /// compared with its earlier occurrence.
    ///
    /// # Errors
    /// [`StoreError::WrongSymbol`] when a candle belongs to another instrument,
    /// [`StoreError::UnknownInstrument`] when `symbol` is not registered,
    /// [`StoreError::Corrupt`] when a stored candle in the range cannot be read, and
    /// [`StoreError::Database`] when a statement fails; in every case nothing is written.
    pub async fn write_candles(
        &self,
        symbol: &Symbol,
        candles: &[Candle],
    ) -> Result<CandleWrite, StoreError> {
        self.write_candles_recorded(symbol, candles, None).await
    }

    /// [`Store::write_candles`], and when the write added or updated a candle or found a
    /// conflict, the history entry `record` builds from what it did, in the same transaction.
    ///
    /// A sync that changes nothing records nothing, and a sync killed after its write cannot
    /// lose the record of it: a resumed or concurrent sync leaves the history of one clean sync.
    ///
    /// # Errors
    /// As [`Store::write_candles`]; [`StoreError::UnknownRun`] when the entry's run does not
    /// exist. Nothing is written then.
    pub async fn write_candles_recorded(
        &self,
        symbol: &Symbol,
        candles: &[Candle],
        record: Option<&(dyn Fn(&CandleWrite) -> HistoryEvent + Sync)>,
    ) -> Result<CandleWrite, StoreError> {
        if let Some(stray) = candles.iter().find(|c| c.symbol() != symbol) {
            return Err(StoreError::WrongSymbol {
                expected: symbol.clone(),
                found: stray.symbol().clone(),
                day: stray.day(),
            });
        }
        let range = candles
            .iter()
            .map(Candle::day)
            .min()
            .zip(candles.iter().map(Candle::day).max());
        let action = || format!("write candles for {symbol}");
        on_db!(&self.db, |pool| {
            let mut tx = codec::begin_write(pool).await.with_action(action)?;
            let Some(summary_row) =
                codec::lock_instrument::<codec::Backend>(&mut tx, codec::LOCK_INSTRUMENT, symbol)
                    .await
                    .with_action(action)?
            else {
                return Err(StoreError::UnknownInstrument(symbol.clone()));
            };
            let summary = Summary::from_row(&summary_row, symbol)?;
            let Some((first, last)) = range else {
                return Ok(CandleWrite::default());
            };
            let rows = select_candles::<codec::Backend>(symbol, Some(first), Some(last))
                .build()
                .fetch_all(&mut *tx)
                .await
                .with_action(action)?;
            let mut stored = HashMap::with_capacity(rows.len());
            for row in &rows {
                let (day, values, complete) = stored_from_row(row, symbol, codec::get_money)?;
                stored.insert(day, (values, complete));
            }
            let mut plan = plan(stored, candles);
            let updated_at = codec::timestamp(Utc::now());
            let chunk_rows = CHUNK_ROWS.min((codec::MAX_BIND_PARAMS - 2) / ROW_PARAMS);
            for chunk in plan.updates.chunks(chunk_rows) {
                candle_rows::<codec::Backend, _>(symbol, chunk, updated_at, codec::money, UPSERT)
                    .build()
                    .execute(&mut *tx)
                    .await
                    .with_action(action)?;
            }
            let mut inserted = 0;
            for chunk in plan.inserts.chunks(chunk_rows) {
                inserted += candle_rows::<codec::Backend, _>(
                    symbol,
                    chunk,
                    updated_at,
                    codec::money,
                    INSERT,
                )
                .build()
                .execute(&mut *tx)
                .await
                .with_action(action)?
                .rows_affected();
            }
            let after = summary.after(&plan, inserted);
            if after != summary {
                sqlx::query(
                    "UPDATE instruments SET first_day = $2, last_day = $3, \
                     last_complete_day = $4, candle_count = $5 WHERE symbol = $1",
                )
                .bind(symbol.as_str())
                .bind(after.first)
                .bind(after.last)
                .bind(after.last_complete)
                .bind(after.count)
                .execute(&mut *tx)
                .await
                .with_action(action)?;
            }
            plan.settle_inserts(symbol, inserted);
            let write = &plan.write;
            let changed = write.added + write.updated > 0 || !write.conflicts.is_empty();
            if let Some(record) = record.filter(|_| changed) {
                let event = record(write);
                sqlx::query(
                    "INSERT INTO history (run_id, recorded_at, kind, symbol, detail) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(event.run.map(|r| r.0))
                .bind(codec::timestamp(event.at))
                .bind(&event.kind)
                .bind(symbol.as_str())
                .bind(crate::bounds::bound_json_text(&event.detail))
                .execute(&mut *tx)
                .await
                .with_action(|| format!("record the sync of {symbol} in the history"))?;
            }
            // A source contradicting stored complete candles is told, committed with the write
            // that found it (the same conflicts found again by later syncs are told once).
            if !write.conflicts.is_empty() {
                let days: Vec<Day> = write.conflicts.iter().map(|c| c.day).collect();
                let n =
                    barter_core::notify::Notification::conflict(symbol.as_str(), &days, updated_at);
                crate::notifications::enqueue_in::<codec::Backend>(&mut tx, &n)
                    .await
                    .with_action(action)?;
            }
            tx.commit().await.with_action(action)?;
            Ok(plan.write)
        })
    }

    /// The stored candles of `symbol` from `from` to `to` (both inclusive, each optional),
    /// ascending by day. An unregistered symbol has none.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] when a stored row
    /// cannot be read back as a valid candle.
    pub async fn candles(
        &self,
        symbol: &Symbol,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Vec<Candle>, StoreError> {
        // Open ends as 4-digit-year days: SQLite compares days as text.
        let from = from.or(Day::from_ymd_opt(1, 1, 1));
        let to = to.or(Day::from_ymd_opt(9999, 12, 31));
        let packed: Option<String> = on_db!(&self.db, |pool| {
            sqlx::query_scalar(codec::PACKED_CANDLES)
                .bind(symbol.as_str())
                .bind(from)
                .bind(to)
                .fetch_one(pool)
                .await
                .with_action(|| format!("load candles for {symbol}"))
        })?;
        packed.map_or(Ok(Vec::new()), |text| unpack(&text, symbol))
    }

    /// `symbol`'s history as a trading job needs it (see [`SeriesHistory`]): the day and the
    /// `series` prices, as f64, of every complete candle, and exact candles from `exact_from` on
    /// (`None`: every candle, and every series). Both parts are read in one transaction, so
    /// they describe the same stored history.
    ///
    /// # Errors
    /// [`StoreError::Database`] when a query fails, [`StoreError::Corrupt`] for an unreadable
    /// stored value or parts that do not fit together.
    pub async fn series_history(
        &self,
        symbol: &Symbol,
        series: SeriesSet,
        exact_from: Option<Day>,
    ) -> Result<SeriesHistory, StoreError> {
        let Some(from) = exact_from else {
            return Ok(SeriesHistory::from_candles(
                self.candles(symbol, None, None).await?,
            ));
        };
        let fields: Vec<SeriesField> = series.with(SeriesField::Close).fields().collect();
        let names: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
        // First without the days: when the complete days have no gap, the first and last day
        // say them all. One statement per read: the parts come from one snapshot.
        let Some(texts) = self.packed_history(symbol, &names, from, false).await? else {
            return Ok(SeriesHistory::default());
        };
        let (days, columns, tail) = match contiguous(&texts, symbol)? {
            Some(days) => (
                days,
                texts[1..=fields.len()].to_vec(),
                texts[fields.len() + 1].clone(),
            ),
            None => {
                let Some(texts) = self.packed_history(symbol, &names, from, true).await? else {
                    return Ok(SeriesHistory::default());
                };
                let days = texts[0].as_deref().map_or(Ok(Vec::new()), |text| {
                    text.split(',').map(|day| stored_day(day, symbol)).collect()
                })?;
                (
                    days,
                    texts[1..=fields.len()].to_vec(),
                    texts[fields.len() + 1].clone(),
                )
            }
        };
        let columns = unpack_series(&days, &columns, symbol, &fields)?;
        let candles = tail
            .as_deref()
            .map_or(Ok(Vec::new()), |text| unpack(text, symbol))?;
        // `MarketData::insert_series` checks that the parts fit together.
        Ok(SeriesHistory {
            days,
            columns,
            candles,
        })
    }

    /// Every instrument's latest complete close (instruments without one are left out): what
    /// open positions are marked at.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn latest_closes(&self) -> Result<HashMap<Symbol, Price>, StoreError> {
        // One primary-key lookup per instrument (a join lets SQLite scan every candle).
        const SQL: &str = "SELECT symbol, close FROM (SELECT i.symbol, (SELECT c.close \
             FROM candles c WHERE c.symbol = i.symbol AND c.day = i.last_complete_day) AS close \
             FROM instruments i) latest WHERE close IS NOT NULL";
        self.closes(SQL, None, "read the latest closes").await
    }

    /// Each instrument's latest complete close on or before `day` (instruments with none are
    /// left out): what positions are marked at when deciding on `day`, even when later candles
    /// are stored (a replay over synced history).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn closes_on_or_before(
        &self,
        day: Day,
    ) -> Result<HashMap<Symbol, Price>, StoreError> {
        // One backwards primary-key seek per instrument.
        const SQL: &str = "SELECT symbol, close FROM (SELECT i.symbol, (SELECT c.close \
             FROM candles c WHERE c.symbol = i.symbol AND c.day <= $1 AND c.complete \
             ORDER BY c.day DESC LIMIT 1) AS close FROM instruments i) marks \
             WHERE close IS NOT NULL";
        self.closes(SQL, Some(day), "read the closes on or before a day")
            .await
    }

    /// Runs `sql` (selecting `symbol` and `close`, binding `day` when given) into a map.
    async fn closes(
        &self,
        sql: &str,
        day: Option<Day>,
        action: &str,
    ) -> Result<HashMap<Symbol, Price>, StoreError> {
        on_db!(&self.db, |pool| {
            let mut query = sqlx::query(sql);
            if let Some(day) = day {
                query = query.bind(day);
            }
            let rows = query.fetch_all(pool).await.action(action)?;
            rows.iter()
                .map(|row| {
                    let corrupt = |e: String| StoreError::corrupt("close", e);
                    let symbol: String = column(row, "symbol").map_err(corrupt)?;
                    let symbol = Symbol::parse(&symbol).map_err(|e| corrupt(e.to_string()))?;
                    let close = codec::get_money(row, "close").map_err(corrupt)?;
                    Ok((symbol, Price(close)))
                })
                .collect()
        })
    }

    /// Runs `codec::packed_history`: the days text, one text per column of `names`, and the
    /// exact candles from `from` on; `None` for an unregistered symbol.
    async fn packed_history(
        &self,
        symbol: &Symbol,
        names: &[&str],
        from: Day,
        all_days: bool,
    ) -> Result<Option<Vec<Option<String>>>, StoreError> {
        let sql = on_db!(&self.db, |_pool| codec::packed_history(names, all_days));
        on_db!(&self.db, |pool| {
            let action = || format!("load the price history of {symbol}");
            let row = sqlx::query(&sql)
                .bind(symbol.as_str())
                .bind(from)
                .bind(Day::from_ymd_opt(9999, 12, 31))
                .fetch_optional(pool)
                .await
                .with_action(action)?;
            row.map(|row| {
                (0..names.len() + 2)
                    .map(|i| row.try_get::<Option<String>, _>(i))
                    .collect::<Result<Vec<_>, _>>()
                    .with_action(action)
            })
            .transpose()
        })
    }

    /// The last day of `symbol` with a complete candle (incomplete candles are ignored); `None`
    /// for an unregistered symbol or one without complete candles.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails,
    /// [`StoreError::Corrupt`] for an unreadable day.
    pub async fn last_complete_day(&self, symbol: &Symbol) -> Result<Option<Day>, StoreError> {
        Ok(self.coverage_and_last_complete(symbol).await?.1)
    }

    /// The first and last stored day of `symbol` and how many days are stored; `None` if none.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails,
    /// [`StoreError::Corrupt`] for an unreadable day.
    pub async fn coverage(&self, symbol: &Symbol) -> Result<Option<Coverage>, StoreError> {
        Ok(self.coverage_and_last_complete(symbol).await?.0)
    }

    /// [`Store::coverage`] and [`Store::last_complete_day`] of `symbol` from one row read;
    /// `(None, None)` for an unregistered symbol or one without candles.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails,
    /// [`StoreError::Corrupt`] for an unreadable day.
    pub async fn coverage_and_last_complete(
        &self,
        symbol: &Symbol,
    ) -> Result<(Option<Coverage>, Option<Day>), StoreError> {
        let Some(s) = self.summary(symbol).await? else {
            return Ok((None, None));
        };
        let coverage = s.first.zip(s.last).map(|(first, last)| Coverage {
            first,
            last,
            count: s.count.unsigned_abs(),
        });
        Ok((coverage, s.last_complete))
    }

    /// The candle summary kept on the instrument row; `None` for an unregistered symbol.
    async fn summary(&self, symbol: &Symbol) -> Result<Option<Summary>, StoreError> {
        on_db!(&self.db, |pool| {
            let row = sqlx::query(
                "SELECT first_day, last_day, last_complete_day, candle_count \
                 FROM instruments WHERE symbol = $1",
            )
            .bind(symbol.as_str())
            .fetch_optional(pool)
            .await
            .with_action(|| format!("read the candle summary of {symbol}"))?;
            row.map(|row| Summary::from_row(&row, symbol)).transpose()
        })
    }

    /// Every stored day of `symbol`, ascending (for gap detection).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails,
    /// [`StoreError::Corrupt`] for an unreadable day.
    pub async fn stored_days(&self, symbol: &Symbol) -> Result<Vec<Day>, StoreError> {
        on_db!(&self.db, |pool| {
            let rows = sqlx::query("SELECT day FROM candles WHERE symbol = $1 ORDER BY day")
                .bind(symbol.as_str())
                .fetch_all(pool)
                .await
                .with_action(|| format!("list the stored days of {symbol}"))?;
            rows.iter()
                .map(|row| {
                    column(row, "day")
                        .map_err(|e| StoreError::corrupt(format!("candles.day for {symbol}"), e))
                })
                .collect()
        })
    }
}

/// `SELECT`s the candles of `symbol` in an optional day range, ascending.
fn select_candles<'a, DB>(
    symbol: &'a Symbol,
    from: Option<Day>,
    to: Option<Day>,
) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    Day: for<'e> Encode<'e, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(
        "SELECT day, open, high, low, close, volume, complete, origin FROM candles WHERE symbol = ",
    );
    query.push_bind(symbol.as_str());
    if let Some(from) = from {
        query.push(" AND day >= ").push_bind(from);
    }
    if let Some(to) = to {
        query.push(" AND day <= ").push_bind(to);
    }
    query.push(" ORDER BY day");
    query
}

/// A multi-row `INSERT` of `candles` ending with `conflict` ([`INSERT`] or [`UPSERT`]);
/// `money` is the backend's money encoder (`codec::money`).
fn candle_rows<'a, DB, M>(
    symbol: &'a Symbol,
    candles: &[&Candle],
    updated_at: DateTime<Utc>,
    money: fn(Decimal) -> M,
    conflict: &str,
) -> QueryBuilder<'a, DB>
where
    DB: Database,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    M: for<'e> Encode<'e, DB> + Type<DB> + 'a,
    Day: for<'e> Encode<'e, DB> + Type<DB>,
    bool: for<'e> Encode<'e, DB> + Type<DB>,
    DateTime<Utc>: for<'e> Encode<'e, DB> + Type<DB>,
{
    // The symbol and timestamp are bound once; each row binds only its own eight values.
    // `WHERE true` keeps SQLite from reading `ON CONFLICT` as a join constraint.
    let mut query = QueryBuilder::new(
        "INSERT INTO candles \
         (symbol, day, open, high, low, close, volume, complete, origin, updated_at) SELECT ",
    );
    query
        .push_bind(symbol.as_str())
        .push(", v.*, ")
        .push_bind(updated_at)
        .push(" FROM (");
    query.push_values(candles, |mut row, c| {
        row.push_bind(c.day())
            .push_bind(money(c.open().0))
            .push_bind(money(c.high().0))
            .push_bind(money(c.low().0))
            .push_bind(money(c.close().0))
            .push_bind(money(c.volume().0))
            .push_bind(c.is_complete())
            .push_bind(c.origin().as_str());
    });
    query.push(") AS v WHERE true");
    query.push(conflict);
    query
}

/// A backend's money reader (`codec::get_money`).
type MoneyReader<R> = fn(&R, &str) -> Result<Decimal, String>;

/// Reads the day, values and completeness of a stored candle row.
fn stored_from_row<'r, R>(
    row: &'r R,
    symbol: &Symbol,
    money: MoneyReader<R>,
) -> Result<(Day, Ohlcv, bool), StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    Day: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    let day: Day = column(row, "day")
        .map_err(|e| StoreError::corrupt(format!("candles.day for {symbol}"), e))?;
    let corrupt = |col: &str| {
        let what = format!("candles.{col} for {symbol} on {day}");
        move |detail: String| StoreError::corrupt(what, detail)
    };
    let values = Ohlcv {
        open: money(row, "open").map_err(corrupt("open"))?,
        high: money(row, "high").map_err(corrupt("high"))?,
        low: money(row, "low").map_err(corrupt("low"))?,
        close: money(row, "close").map_err(corrupt("close"))?,
        volume: money(row, "volume").map_err(corrupt("volume"))?,
    };
    let complete = column(row, "complete").map_err(corrupt("complete"))?;
    Ok((day, values, complete))
}

/// Parses the packed text of [`codec`]'s `PACKED_CANDLES`: rows separated by the ASCII record
/// separator (30) of `day, open, high, low, close, volume, complete, origin` separated by the
/// unit separator (31), rebuilt into validated candles. A stored value holding a separator
/// changes the field count, so corruption is always an error, never a misread.
fn unpack(text: &str, symbol: &Symbol) -> Result<Vec<Candle>, StoreError> {
    text.split('\u{1e}')
        .map(|line| {
            let fields: Vec<&str> = line.split('\u{1f}').collect();
            let [day, open, high, low, close, volume, complete, origin] = fields[..] else {
                let what = format!("candles row for {symbol}: `{line}`");
                return Err(StoreError::corrupt(
                    what,
                    format!("expected 8 fields, found {}", fields.len()),
                ));
            };
            let day = parse_day(day).ok_or_else(|| {
                StoreError::corrupt(
                    format!("candles.day for {symbol}"),
                    format!("`{day}` is not a YYYY-MM-DD day"),
                )
            })?;
            let corrupt = |column: &str, detail: String| {
                StoreError::corrupt(format!("candles.{column} for {symbol} on {day}"), detail)
            };
            let money = |column: &str, text: &str| {
                Decimal::from_str(text)
                    .or_else(|_| Decimal::from_scientific(text))
                    .map_err(|e| corrupt(column, format!("`{text}` is not a decimal number ({e})")))
            };
            let values = Ohlcv {
                open: money("open", open)?,
                high: money("high", high)?,
                low: money("low", low)?,
                close: money("close", close)?,
                volume: money("volume", volume)?,
            };
            let complete = match complete {
                "1" => true,
                "0" => false,
                other => return Err(corrupt("complete", format!("`{other}` is not 0 or 1"))),
            };
            let origin: CandleOrigin = origin.parse().map_err(|e| corrupt("origin", e))?;
            // A stored candle was valid when written: judge it as of the day after (complete)
            // or the day itself (incomplete), so only the price rules can fail.
            let today = if complete {
                day.succ_opt().unwrap_or(day)
            } else {
                day
            };
            Candle::new(symbol.clone(), day, values, complete, origin, today).map_err(|e| {
                StoreError::corrupt(format!("candles row for {symbol} on {day}"), e.to_string())
            })
        })
        .collect()
}

/// The complete days of a [`codec::sqlite::packed_history`] read without days, when they have
/// no gap: the read gives the first stored and the last complete day, and the values count the
/// complete days. The complete days lie between those two, and are all distinct, so when they
/// are as many as the days from first to last, they are exactly those days. `None` when not.
fn contiguous(texts: &[Option<String>], symbol: &Symbol) -> Result<Option<Vec<Day>>, StoreError> {
    let Some(values) = texts.get(1) else {
        return Ok(None);
    };
    let Some(values) = values else {
        return Ok(Some(Vec::new())); // no complete candle
    };
    let span = texts.first().and_then(Option::as_deref);
    let Some((first, last)) = span.and_then(|span| span.split_once(',')) else {
        return Ok(None);
    };
    let (first, last) = (stored_day(first, symbol)?, stored_day(last, symbol)?);
    let count = values.bytes().filter(|b| *b == b',').count() + 1;
    let span = usize::try_from((last - first).num_days() + 1).unwrap_or(0);
    Ok((count == span).then(|| first.iter_days().take(count).collect()))
}

/// A day read back from the store, or the corruption it is.
fn stored_day(text: &str, symbol: &Symbol) -> Result<Day, StoreError> {
    parse_day(text).ok_or_else(|| {
        StoreError::corrupt(
            format!("candles.day for {symbol}"),
            format!("`{text}` is not a YYYY-MM-DD day"),
        )
    })
}

/// Parses [`codec::sqlite::packed_history`]'s value columns (one per field; the other series
/// are left empty), one value per day of `days`.
fn unpack_series(
    days: &[Day],
    values: &[Option<String>],
    symbol: &Symbol,
    fields: &[SeriesField],
) -> Result<OwnedColumns, StoreError> {
    let mut columns = OwnedColumns::default();
    for (field, text) in fields.iter().zip(values) {
        let what = || format!("candles.{} for {symbol}", field.as_str());
        let column = match text {
            None => Vec::new(),
            Some(text) => text
                .split(',')
                .map(|text| {
                    text.parse::<f64>().map_err(|_| {
                        StoreError::corrupt(what(), format!("`{text}` is not a number"))
                    })
                })
                .collect::<Result<Vec<f64>, _>>()?,
        };
        if column.len() != days.len() {
            let detail = format!("{} values for {} days", column.len(), days.len());
            return Err(StoreError::corrupt(what(), detail));
        }
        *match field {
            SeriesField::Open => &mut columns.open,
            SeriesField::High => &mut columns.high,
            SeriesField::Low => &mut columns.low,
            SeriesField::Close => &mut columns.close,
            SeriesField::Volume => &mut columns.volume,
        } = column;
    }
    Ok(columns)
}

/// A stored `YYYY-MM-DD` day; a hand-written parser because a history holds thousands of days
/// and chrono's general format parser is several times slower.
fn parse_day(text: &str) -> Option<Day> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(number(&b[..4])?).ok()?;
    Day::from_ymd_opt(year, number(&b[5..7])?, number(&b[8..10])?)
}

/// The summary of an instrument's candles kept on its `instruments` row (see the migration):
/// updated by [`Store::write_candles`] in the same transaction as the candles it describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Summary {
    first: Option<Day>,
    last: Option<Day>,
    last_complete: Option<Day>,
    count: i64,
}

impl Summary {
    fn from_row<'r, R>(row: &'r R, symbol: &Symbol) -> Result<Self, StoreError>
    where
        R: Row,
        for<'c> &'c str: ColumnIndex<R>,
        Option<Day>: Decode<'r, R::Database> + Type<R::Database>,
        i64: Decode<'r, R::Database> + Type<R::Database>,
    {
        let corrupt =
            |e| StoreError::corrupt(format!("instruments candle summary for {symbol}"), e);
        Ok(Self {
            first: column(row, "first_day").map_err(corrupt)?,
            last: column(row, "last_day").map_err(corrupt)?,
            last_complete: column(row, "last_complete_day").map_err(corrupt)?,
            count: column(row, "candle_count").map_err(corrupt)?,
        })
    }

    /// The summary once `plan` is written, `inserted` of its new days having been stored.
    fn after(self, plan: &Plan<'_>, inserted: u64) -> Self {
        let new_days = plan.inserts.iter().map(|c| c.day());
        let completed = plan
            .inserts
            .iter()
            .chain(&plan.updates)
            .filter(|c| c.is_complete())
            .map(|c| c.day());
        Self {
            first: self.first.into_iter().chain(new_days.clone()).min(),
            last: self.last.into_iter().chain(new_days).max(),
            last_complete: self.last_complete.into_iter().chain(completed).max(),
            count: self.count + i64::try_from(inserted).unwrap_or(i64::MAX),
        }
    }
}

/// Where a day's latest known version is: already stored, or queued for insert/update.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Stored,
    Insert(usize),
    Update(usize),
}

/// The outcome of diffing incoming candles against the stored ones.
#[derive(Debug, Default)]
struct Plan<'c> {
    /// Candles for new days.
    inserts: Vec<&'c Candle>,
    /// Candles replacing stored incomplete ones.
    updates: Vec<&'c Candle>,
    /// The counts to report.
    write: CandleWrite,
}

impl Plan<'_> {
    /// Accounts for inserts the database skipped because the day appeared meanwhile (a
    /// concurrent writer); they are reported as unchanged. Cannot happen while writers of one
    /// instrument are serialised, which both backends do.
    fn settle_inserts(&mut self, symbol: &Symbol, inserted: u64) {
        let planned = self.inserts.len() as u64;
        if inserted < planned {
            tracing::warn!(
                %symbol,
                planned,
                inserted,
                "some new candle days were stored concurrently"
            );
            let skipped = planned - inserted;
            self.write.added -= skipped.min(self.write.added);
            self.write.unchanged += skipped;
        }
    }
}

/// Diffs `incoming` against `stored` (day → values, complete); see [`Store::write_candles`].
fn plan(stored: HashMap<Day, (Ohlcv, bool)>, incoming: &[Candle]) -> Plan<'_> {
    let mut state: HashMap<Day, (Ohlcv, bool, Slot)> = stored
        .into_iter()
        .map(|(day, (values, complete))| (day, (values, complete, Slot::Stored)))
        .collect();
    let mut plan = Plan::default();
    for candle in incoming {
        let (values, complete) = (candle.values(), candle.is_complete());
        match state.entry(candle.day()) {
            Entry::Vacant(slot) => {
                slot.insert((values, complete, Slot::Insert(plan.inserts.len())));
                plan.inserts.push(candle);
                plan.write.added += 1;
            }
            Entry::Occupied(mut slot) => {
                let (known, known_complete, at) = slot.get_mut();
                if *known == values && (*known_complete || !complete) {
                    plan.write.unchanged += 1;
                } else if *known_complete {
                    plan.write.conflicts.push(CandleConflict {
                        day: candle.day(),
                        stored: *known,
                        incoming: values,
                    });
                } else {
                    match *at {
                        Slot::Insert(i) => plan.inserts[i] = candle,
                        Slot::Update(i) => plan.updates[i] = candle,
                        Slot::Stored => {
                            *at = Slot::Update(plan.updates.len());
                            plan.updates.push(candle);
                        }
                    }
                    (*known, *known_complete) = (values, complete);
                    plan.write.updated += 1;
                }
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn day(n: u32) -> Day {
        Day::from_ymd_opt(2024, 1, n).expect("valid day")
    }

    #[test]
    fn stored_days_parse_like_chrono_and_nothing_else_passes() {
        for text in ["2024-01-05", "0001-01-01", "9999-12-31", "2024-02-29"] {
            assert_eq!(parse_day(text), text.parse().ok(), "{text}");
        }
        for text in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-05",
            "2024/01/05",
            "20240105xx",
            "+024-01-05",
            "",
        ] {
            assert_eq!(parse_day(text), None, "{text}");
        }
    }

    fn candle(n: u32, close: Decimal, complete: bool) -> Candle {
        let values = Ohlcv {
            open: dec!(10),
            high: dec!(20),
            low: dec!(5),
            close,
            volume: dec!(1),
        };
        let symbol = Symbol::parse("BTC").expect("symbol");
        Candle::new(
            symbol,
            day(n),
            values,
            complete,
            CandleOrigin::Sample,
            day(31),
        )
        .expect("valid candle")
    }

    fn stored(candles: &[Candle]) -> HashMap<Day, (Ohlcv, bool)> {
        candles
            .iter()
            .map(|c| (c.day(), (c.values(), c.is_complete())))
            .collect()
    }

    #[test]
    fn each_incoming_candle_lands_in_exactly_one_bucket() {
        let before = stored(&[
            candle(1, dec!(11), true),
            candle(2, dec!(11), false),
            candle(3, dec!(11), true),
        ]);
        let incoming = [
            candle(1, dec!(11.000), true), // unchanged (trailing zeros do not matter)
            candle(2, dec!(12), true),     // updated
            candle(3, dec!(13), true),     // conflict
            candle(4, dec!(11), false),    // added
        ];
        let plan = plan(before, &incoming);
        assert_eq!(
            (plan.write.added, plan.write.updated, plan.write.unchanged),
            (1, 1, 1)
        );
        assert_eq!(plan.write.conflicts.len(), 1);
        assert_eq!(plan.write.conflicts[0].day, day(3));
        assert_eq!(plan.write.conflicts[0].stored.close, dec!(11));
        assert_eq!(
            plan.inserts.iter().map(|c| c.day()).collect::<Vec<_>>(),
            [day(4)]
        );
        assert_eq!(
            plan.updates.iter().map(|c| c.day()).collect::<Vec<_>>(),
            [day(2)]
        );
    }

    #[test]
    fn an_incomplete_copy_of_a_complete_candle_is_unchanged_and_never_downgrades_it() {
        let incoming = [candle(1, dec!(11), false)];
        let plan = plan(stored(&[candle(1, dec!(11), true)]), &incoming);
        assert_eq!(plan.write.unchanged, 1);
        assert!(plan.updates.is_empty());
    }

    #[test]
    fn a_day_repeated_in_one_batch_is_compared_with_its_earlier_occurrence() {
        let incoming = [
            candle(5, dec!(11), false),
            candle(5, dec!(12), true),
            candle(5, dec!(13), true),
            candle(6, dec!(11), true),
            candle(6, dec!(11), true),
        ];
        let plan = plan(HashMap::new(), &incoming);
        assert_eq!(
            (plan.write.added, plan.write.updated, plan.write.unchanged),
            (2, 1, 1)
        );
        assert_eq!(plan.write.conflicts.len(), 1);
        assert_eq!(plan.inserts.len(), 2);
        assert_eq!(plan.inserts[0].close().0, dec!(12));
    }
}
