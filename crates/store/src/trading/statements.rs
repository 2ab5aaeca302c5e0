//! The statements the ledger writes share, generic over the backend: history entries,
//! decisions, fills, the cash, and the account lock.

use barter_core::{Day, Fill, Money, PositionId, RunId, Symbol};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::HashMap;

use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, QueryBuilder, Row, Type,
};

use super::{DecisionOutcome, EVENT_DECISION, NewDecision, name_of};
use crate::bounds::bound_json_text;
use crate::codec::timestamp;

/// One history entry written by a ledger operation.
pub(super) struct Event<'a> {
    run: Option<RunId>,
    at: DateTime<Utc>,
    kind: &'static str,
    symbol: &'a Symbol,
    strategy: &'a str,
    position: Option<PositionId>,
    detail: Value,
}

impl<'a> Event<'a> {
    /// An entry about `strategy`'s `symbol` that no decision of this call carries (a venue
    /// order booked by a later run).
    pub(super) fn about(
        run: Option<RunId>,
        at: DateTime<Utc>,
        kind: &'static str,
        strategy: &'a str,
        symbol: &'a Symbol,
        position: Option<PositionId>,
        detail: Value,
    ) -> Self {
        Self {
            run,
            at,
            kind,
            symbol,
            strategy,
            position,
            detail: crate::bounds::bound_json_owned(detail),
        }
    }

    pub(super) fn new(
        run: Option<RunId>,
        at: DateTime<Utc>,
        kind: &'static str,
        d: &'a NewDecision,
        position: Option<PositionId>,
        detail: Value,
    ) -> Self {
        Self {
            run,
            at,
            kind,
            symbol: &d.symbol,
            strategy: &d.strategy,
            position,
            // Bounded here, so no ledger entry can store an unbounded detail.
            detail: crate::bounds::bound_json_owned(detail),
        }
    }
}

/// The [`EVENT_DECISION`] entry of stored decision `id`: the decision as stored.
pub(super) fn decision_event<'a>(
    run: Option<RunId>,
    d: &'a NewDecision,
    id: i64,
    outcome: DecisionOutcome,
    detail: &Value,
    position: Option<PositionId>,
    at: DateTime<Utc>,
) -> Event<'a> {
    let detail = json!({
        "decision_id": id,
        "kind": d.kind,
        "day": d.day,
        "outcome": outcome,
        "detail": detail,
    });
    Event::new(run, at, EVENT_DECISION, d, position, detail)
}

/// The start of every history insert (one row or many).
const INSERT_HISTORY: &str =
    "INSERT INTO history (run_id, recorded_at, kind, symbol, strategy, position_id, detail) ";
/// The start of every decision insert (one row or many).
const INSERT_DECISIONS: &str = "INSERT INTO decisions \
     (run_id, strategy, symbol, day, kind, outcome, position_id, detail, recorded_at) ";
/// The end of every decision insert: a taken (strategy, symbol, day, kind) is left alone.
const DECISION_TAKEN: &str = " ON CONFLICT (strategy, symbol, day, kind) DO NOTHING";

/// Appends `event` to the history.
pub(super) async fn append<DB>(
    conn: &mut DB::Connection,
    event: Event<'_>,
) -> Result<(), sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> DateTime<Utc>: Encode<'e, DB> + Type<DB>,
{
    let sql = format!("{INSERT_HISTORY}VALUES ($1, $2, $3, $4, $5, $6, $7)");
    sqlx::query(&sql)
        .bind(event.run.map(|r| r.0))
        .bind(timestamp(event.at))
        .bind(event.kind)
        .bind(event.symbol.as_str())
        .bind(event.strategy)
        .bind(event.position.map(|p| p.0))
        .bind(event.detail.to_string())
        .execute(conn)
        .await
        .map(|_| ())
}

/// Rows per multi-row ledger statement (9 bind parameters per decision row, 7 per history row:
/// well under both backends' limits).
pub(super) const BATCH_ROWS: usize = 1_000;

/// A multi-row `INSERT` of `events` into the history (at most [`BATCH_ROWS`]).
pub(super) fn history_rows<'a, DB>(events: &'a [Event<'a>]) -> QueryBuilder<'a, DB>
where
    DB: Database,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> DateTime<Utc>: Encode<'e, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(INSERT_HISTORY);
    query.push_values(events, |mut row, event| {
        row.push_bind(event.run.map(|r| r.0))
            .push_bind(timestamp(event.at))
            .push_bind(event.kind)
            .push_bind(event.symbol.as_str())
            .push_bind(event.strategy)
            .push_bind(event.position.map(|p| p.0))
            .push_bind(event.detail.to_string());
    });
    query
}

/// A multi-row `INSERT` of the decisions (at most [`BATCH_ROWS`]) whose (strategy, symbol, day,
/// kind) is not taken yet, returning the stored ones (see [`claim_ids`]).
pub(super) fn decision_rows<'a, DB>(
    run: Option<RunId>,
    decisions: &'a [NewDecision],
    at: DateTime<Utc>,
) -> QueryBuilder<'a, DB>
where
    DB: Database,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> Day: Encode<'e, DB> + Type<DB>,
    for<'e> DateTime<Utc>: Encode<'e, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(INSERT_DECISIONS);
    query.push_values(decisions, |mut row, d| {
        row.push_bind(run.map(|r| r.0))
            .push_bind(d.strategy.as_str())
            .push_bind(d.symbol.as_str())
            .push_bind(d.day)
            .push_bind(d.kind.as_str())
            .push_bind(d.outcome.as_str())
            .push_bind(None::<i64>)
            .push_bind(bound_json_text(&d.detail))
            .push_bind(timestamp(at));
    });
    query.push(DECISION_TAKEN);
    query.push(" RETURNING id, strategy, symbol, day, kind");
    query
}

/// Per decision of `decisions`, the id [`decision_rows`] returned for it, or `None` when its
/// key was taken (by an earlier run, or earlier in `decisions`).
pub(super) fn claim_ids<R>(
    decisions: &[NewDecision],
    rows: &[R],
) -> Result<Vec<Option<i64>>, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Day: Decode<'r, R::Database> + Type<R::Database>,
{
    let mut stored: HashMap<(String, String, Day, String), i64> = HashMap::new();
    for row in rows {
        let key = (
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
        );
        stored.insert(key, row.try_get(0)?);
    }
    Ok(decisions
        .iter()
        .map(|d| {
            let key = (
                d.strategy.clone(),
                d.symbol.as_str().to_owned(),
                d.day,
                d.kind.as_str().to_owned(),
            );
            stored.remove(&key)
        })
        .collect())
}

/// Inserts a decision unless its (strategy, symbol, day, kind) is taken; returns its id.
pub(super) async fn insert_decision<DB>(
    conn: &mut DB::Connection,
    run: Option<RunId>,
    d: &NewDecision,
    outcome: DecisionOutcome,
    detail: &Value,
    position: Option<PositionId>,
    at: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<i64>: Encode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> Day: Encode<'e, DB> + Type<DB>,
    for<'e> DateTime<Utc>: Encode<'e, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let sql = format!(
        "{INSERT_DECISIONS}VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9){DECISION_TAKEN} RETURNING id"
    );
    let row = sqlx::query(&sql)
        .bind(run.map(|r| r.0))
        .bind(d.strategy.as_str())
        .bind(d.symbol.as_str())
        .bind(d.day)
        .bind(d.kind.as_str())
        .bind(outcome.as_str())
        .bind(position.map(|p| p.0))
        .bind(bound_json_text(detail))
        .bind(timestamp(at))
        .fetch_optional(conn)
        .await?;
    row.map(|row| row.try_get::<i64, _>(0)).transpose()
}

/// Whether `d`'s (strategy, symbol, day, kind) is already decided.
pub(super) async fn decided<DB>(
    conn: &mut DB::Connection,
    d: &NewDecision,
) -> Result<bool, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Day: Encode<'e, DB> + Type<DB>,
{
    let row = sqlx::query(
        "SELECT 1 FROM decisions WHERE strategy = $1 AND symbol = $2 AND day = $3 AND kind = $4",
    )
    .bind(d.strategy.as_str())
    .bind(d.symbol.as_str())
    .bind(d.day)
    .bind(d.kind.as_str())
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// The id of the open position of `strategy` in `symbol`, if any.
pub(super) async fn open_id<DB>(
    conn: &mut DB::Connection,
    strategy: &str,
    symbol: &Symbol,
) -> Result<Option<PositionId>, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let row = sqlx::query(
        "SELECT id FROM positions WHERE strategy = $1 AND symbol = $2 AND status = 'open'",
    )
    .bind(strategy)
    .bind(symbol.as_str())
    .fetch_optional(conn)
    .await?;
    row.map(|row| row.try_get::<i64, _>(0).map(PositionId))
        .transpose()
}

/// Runs the backend's `LOCK_ACCOUNT`: the account row, locked until the transaction ends on
/// PostgreSQL (SQLite's `BEGIN IMMEDIATE` already holds the write lock).
pub(super) async fn lock_account<DB>(
    conn: &mut DB::Connection,
    lock_sql: &'static str,
) -> Result<Option<DB::Row>, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    sqlx::query(lock_sql).fetch_optional(conn).await
}

/// Inserts `fill` of `position`; returns the fill's id. `money` is the backend's encoder.
pub(super) async fn insert_fill<DB, M>(
    conn: &mut DB::Connection,
    position: PositionId,
    fill: &Fill,
    at: DateTime<Utc>,
    money: fn(Decimal) -> M,
) -> Result<i64, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> String: Encode<'e, DB> + Type<DB>,
    for<'e> Day: Encode<'e, DB> + Type<DB>,
    for<'e> DateTime<Utc>: Encode<'e, DB> + Type<DB>,
    for<'e> M: Encode<'e, DB> + Type<DB> + 'static,
    usize: ColumnIndex<DB::Row>,
{
    let row = sqlx::query(
        "INSERT INTO fills (position_id, side, symbol, day, price, basis, quantity, gross, fee, \
         recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(position.0)
    .bind(name_of(&fill.side))
    .bind(fill.symbol.as_str())
    .bind(fill.day)
    .bind(money(fill.price.0))
    .bind(name_of(&fill.basis))
    .bind(money(fill.quantity.0))
    .bind(money(fill.gross.0))
    .bind(money(fill.fee.0))
    .bind(timestamp(at))
    .fetch_one(conn)
    .await?;
    row.try_get::<i64, _>(0)
}

/// Sets the account's cash. `money` is the backend's encoder.
pub(super) async fn set_cash<DB, M>(
    conn: &mut DB::Connection,
    cash: Money,
    at: DateTime<Utc>,
    money: fn(Decimal) -> M,
) -> Result<(), sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'e> DateTime<Utc>: Encode<'e, DB> + Type<DB>,
    for<'e> M: Encode<'e, DB> + Type<DB> + 'static,
{
    sqlx::query("UPDATE account SET cash = $1, updated_at = $2 WHERE id = 1")
        .bind(money(cash.0))
        .bind(timestamp(at))
        .execute(conn)
        .await
        .map(|_| ())
}
