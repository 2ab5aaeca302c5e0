//! Reading the ledger back: positions, decisions and fills, and rebuilding them from rows.

use barter_core::order::OrderId;
use barter_core::{Day, Exit, Fill, Money, Position, PositionId, Price, Quantity, RunId, Symbol};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::{ColumnIndex, Database, Decode, Encode, QueryBuilder, Row, Type};

use std::collections::{HashMap, HashSet};

use super::{
    AccountState, DecisionFilter, DecisionKind, DecisionRecord, PositionStatus, parse_name,
};
use crate::codec::{column, json, parsed};
use crate::connect::Store;
use crate::error::{DbResultExt, StoreError};

/// The columns a [`Position`] is read from.
pub(super) const POSITION_COLUMNS: &str = "id, strategy, symbol, quantity, entry_price, \
     entry_day, entry_fee, status, exit_price, exit_day, exit_fee, exit_reason";
/// The columns a [`DecisionRecord`] is read from.
const DECISION_COLUMNS: &str =
    "id, run_id, strategy, symbol, day, kind, outcome, position_id, detail, recorded_at";
/// The columns a [`Fill`] is read from.
const FILL_COLUMNS: &str = "symbol, side, day, price, basis, quantity, gross, fee";

impl Store {
    /// Every position with `status` (all when `None`), oldest first (by id).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn positions(
        &self,
        status: Option<PositionStatus>,
    ) -> Result<Vec<Position>, StoreError> {
        let filter = status.map_or("", |s| match s {
            PositionStatus::Open => " WHERE status = 'open'",
            PositionStatus::Closed => " WHERE status = 'closed'",
        });
        let sql = format!("SELECT {POSITION_COLUMNS} FROM positions{filter} ORDER BY id");
        on_db!(&self.db, |pool| {
            let rows = sqlx::query(&sql)
                .fetch_all(pool)
                .await
                .action("list positions")?;
            rows.iter()
                .map(|row| position_from_row(row, codec::get_money, codec::get_money_opt))
                .collect()
        })
    }

    /// Every position of `account` (`paper`, or a venue account's name) with `status` (all
    /// when `None`), oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn account_positions(
        &self,
        account: &str,
        status: Option<PositionStatus>,
    ) -> Result<Vec<Position>, StoreError> {
        let filter = status.map_or("", |s| match s {
            PositionStatus::Open => " AND status = 'open'",
            PositionStatus::Closed => " AND status = 'closed'",
        });
        let sql = format!(
            "SELECT {POSITION_COLUMNS} FROM positions WHERE account = $1{filter} ORDER BY id"
        );
        on_db!(&self.db, |pool| {
            let rows = sqlx::query(&sql)
                .bind(account)
                .fetch_all(pool)
                .await
                .with_action(|| format!("list the positions of account {account}"))?;
            rows.iter()
                .map(|row| position_from_row(row, codec::get_money, codec::get_money_opt))
                .collect()
        })
    }

    /// The total cost (quantity × entry price + entry fee) of the positions opened at or after
    /// `from` and before `to` in `account`, exactly: what the account's `max_daily_notional`
    /// counts.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn entry_cost_opened_between(
        &self,
        account: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Money, StoreError> {
        let sql = format!(
            "SELECT {POSITION_COLUMNS} FROM positions WHERE account = $3 AND opened_at >= $1 \
             AND opened_at < $2"
        );
        let positions: Vec<Position> = on_db!(&self.db, |pool| {
            let rows = sqlx::query(&sql)
                .bind(codec::timestamp(from))
                .bind(codec::timestamp(to))
                .bind(account)
                .fetch_all(pool)
                .await
                .action("sum the entries opened today")?;
            rows.iter()
                .map(|row| position_from_row(row, codec::get_money, codec::get_money_opt))
                .collect::<Result<_, _>>()?
        });
        // Saturating: a sum past the decimal range is past any limit anyway.
        Ok(Money(positions.iter().fold(Decimal::ZERO, |total, p| {
            total
                .saturating_add(p.cost().0)
                .saturating_add(p.entry_fee.0)
        })))
    }

    /// The position with this id, if any.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn position(&self, id: PositionId) -> Result<Option<Position>, StoreError> {
        let sql = format!("SELECT {POSITION_COLUMNS} FROM positions WHERE id = $1");
        on_db!(&self.db, |pool| {
            let row = sqlx::query(&sql)
                .bind(id.0)
                .fetch_optional(pool)
                .await
                .with_action(|| format!("load position {id}"))?;
            row.map(|row| position_from_row(&row, codec::get_money, codec::get_money_opt))
                .transpose()
        })
    }

    /// The open position of `strategy` in `symbol`, if any (there is at most one).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn open_position_of(
        &self,
        strategy: &str,
        symbol: &Symbol,
    ) -> Result<Option<Position>, StoreError> {
        let sql = format!(
            "SELECT {POSITION_COLUMNS} FROM positions \
             WHERE strategy = $1 AND symbol = $2 AND status = 'open'"
        );
        on_db!(&self.db, |pool| {
            let row = sqlx::query(&sql)
                .bind(strategy)
                .bind(symbol.as_str())
                .fetch_optional(pool)
                .await
                .with_action(|| format!("load the open position of {strategy} in {symbol}"))?;
            row.map(|row| position_from_row(&row, codec::get_money, codec::get_money_opt))
                .transpose()
        })
    }

    /// The (strategy, instrument, day) keys of the `kind` decisions taken for days from `from`
    /// to `to`: what a job need not decide again.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn decided_between(
        &self,
        kind: DecisionKind,
        from: Day,
        to: Day,
    ) -> Result<HashSet<(String, Symbol, Day)>, StoreError> {
        on_db!(&self.db, |pool| {
            let rows = sqlx::query(
                "SELECT strategy, symbol, day FROM decisions \
                 WHERE kind = $1 AND day >= $2 AND day <= $3",
            )
            .bind(kind.as_str())
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await
            .with_action(|| format!("list the {kind} decisions from {from} to {to}"))?;
            rows.iter()
                .map(|row| {
                    let corrupt = |e| StoreError::corrupt("decisions row", e);
                    let strategy: String = column(row, "strategy").map_err(corrupt)?;
                    let symbol: String = column(row, "symbol").map_err(corrupt)?;
                    let symbol = Symbol::parse(&symbol).map_err(|e| corrupt(e.to_string()))?;
                    let day: Day = column(row, "day").map_err(corrupt)?;
                    Ok((strategy, symbol, day))
                })
                .collect()
        })
    }

    /// The account of position `id` and the venue orders that opened and closed it (none for
    /// a paper position), or `None` when there is no such position.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn position_orders(
        &self,
        id: PositionId,
    ) -> Result<Option<(String, Option<OrderId>, Option<OrderId>)>, StoreError> {
        on_db!(&self.db, |pool| {
            let row = sqlx::query(
                "SELECT account, entry_order_id, exit_order_id FROM positions WHERE id = $1",
            )
            .bind(id.0)
            .fetch_optional(pool)
            .await
            .with_action(|| format!("load the orders of position {id}"))?;
            row.map(|row| {
                let corrupt = |e| StoreError::corrupt(format!("positions row {id}"), e);
                let account: String = column(&row, "account").map_err(corrupt)?;
                let entry: Option<i64> = column(&row, "entry_order_id").map_err(corrupt)?;
                let exit: Option<i64> = column(&row, "exit_order_id").map_err(corrupt)?;
                Ok((account, entry.map(OrderId), exit.map(OrderId)))
            })
            .transpose()
        })
    }

    /// The account of every open position: `paper` for paper trades, the account's name for
    /// positions booked from a venue's fills.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn open_position_accounts(&self) -> Result<HashMap<PositionId, String>, StoreError> {
        on_db!(&self.db, |pool| {
            let rows = sqlx::query("SELECT id, account FROM positions WHERE status = 'open'")
                .fetch_all(pool)
                .await
                .action("list the accounts of the open positions")?;
            rows.iter()
                .map(|row| {
                    let corrupt = |e| StoreError::corrupt("positions row", e);
                    let id: i64 = column(row, "id").map_err(corrupt)?;
                    let account: String = column(row, "account").map_err(corrupt)?;
                    Ok((PositionId(id), account))
                })
                .collect()
        })
    }

    /// The day of the entry decision that opened each position from `first` on (open or closed
    /// since): a position did not exist in a job deciding an earlier day (a resumed or
    /// concurrent replay sees positions opened on later days already). Closed ones are included
    /// because a concurrent run may close a position between a job's read of the open positions
    /// and this read; the job must still know when it was opened.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn entry_days_from(
        &self,
        first: PositionId,
    ) -> Result<HashMap<PositionId, Day>, StoreError> {
        on_db!(&self.db, |pool| {
            let rows = sqlx::query(
                "SELECT d.position_id, d.day FROM decisions d \
                 WHERE d.kind = 'entry' AND d.position_id >= $1",
            )
            .bind(first.0)
            .fetch_all(pool)
            .await
            .action("list the entry days of the positions")?;
            rows.iter()
                .map(|row| {
                    let corrupt = |e| StoreError::corrupt("decisions row", e);
                    let id: i64 = column(row, "position_id").map_err(corrupt)?;
                    let day: Day = column(row, "day").map_err(corrupt)?;
                    Ok((PositionId(id), day))
                })
                .collect()
        })
    }

    /// The latest decisions matching `filter`, newest first (largest id first).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn decisions(
        &self,
        filter: &DecisionFilter,
    ) -> Result<Vec<DecisionRecord>, StoreError> {
        on_db!(&self.db, |pool| {
            let rows = select_decisions::<codec::Backend>(filter)
                .build()
                .fetch_all(pool)
                .await
                .action("list decisions")?;
            rows.iter().map(decision_from_row).collect()
        })
    }

    /// The decision of `kind` that `strategy` took for `symbol` on `day`, if any (at most one:
    /// decisions are unique per that key).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn decision_on(
        &self,
        strategy: &str,
        symbol: &Symbol,
        day: Day,
        kind: DecisionKind,
    ) -> Result<Option<DecisionRecord>, StoreError> {
        let sql = format!(
            "SELECT {DECISION_COLUMNS} FROM decisions WHERE strategy = $1 AND symbol = $2 \
             AND day = $3 AND kind = $4"
        );
        on_db!(&self.db, |pool| {
            let row = sqlx::query(&sql)
                .bind(strategy)
                .bind(symbol.as_str())
                .bind(day)
                .bind(kind.as_str())
                .fetch_optional(pool)
                .await
                .with_action(|| format!("load the {kind} of {strategy} in {symbol} on {day}"))?;
            row.as_ref().map(decision_from_row).transpose()
        })
    }

    /// The fills of a position in the order they happened (opening, then closing).
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn fills_of(&self, position: PositionId) -> Result<Vec<Fill>, StoreError> {
        let sql = format!("SELECT {FILL_COLUMNS} FROM fills WHERE position_id = $1 ORDER BY id");
        on_db!(&self.db, |pool| {
            let rows = sqlx::query(&sql)
                .bind(position.0)
                .fetch_all(pool)
                .await
                .with_action(|| format!("list the fills of position {position}"))?;
            rows.iter()
                .map(|row| fill_from_row(row, position, codec::get_money))
                .collect()
        })
    }
}

/// `SELECT`s the decisions matching `filter`, newest first.
fn select_decisions<'a, DB>(filter: &'a DecisionFilter) -> QueryBuilder<'a, DB>
where
    DB: Database,
    &'a str: Encode<'a, DB> + Type<DB>,
    i64: for<'e> Encode<'e, DB> + Type<DB>,
    Day: for<'e> Encode<'e, DB> + Type<DB>,
{
    let mut query = QueryBuilder::new(format!(
        "SELECT {DECISION_COLUMNS} FROM decisions WHERE true"
    ));
    if let Some(symbol) = &filter.symbol {
        query.push(" AND symbol = ").push_bind(symbol.as_str());
    }
    if let Some(strategy) = &filter.strategy {
        query.push(" AND strategy = ").push_bind(strategy.as_str());
    }
    if let Some(since) = filter.since {
        query.push(" AND day >= ").push_bind(since);
    }
    if let Some(position) = filter.position {
        query.push(" AND position_id = ").push_bind(position.0);
    }
    query
        .push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(filter.limit));
    query
}

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

/// A backend's money reader (`codec::get_money`).
type MoneyReader<R> = fn(&R, &str) -> Result<Decimal, String>;
/// A backend's nullable money reader (`codec::get_money_opt`).
type OptMoneyReader<R> = fn(&R, &str) -> Result<Option<Decimal>, String>;

/// Reads an id column.
pub(super) fn id_of<'r, R>(row: &'r R, what: &str) -> Result<i64, StoreError>
where
    R: Row,
    usize: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get(0)
        .map_err(|e| StoreError::corrupt(what, e.to_string()))
}

/// Reads the paper account row.
pub(super) fn account_from_row<R>(
    row: &R,
    money: MoneyReader<R>,
) -> Result<AccountState, StoreError> {
    let corrupt = |col: &'static str| move |e| StoreError::corrupt(format!("account.{col}"), e);
    Ok(AccountState {
        initial_cash: Money(money(row, "initial_cash").map_err(corrupt("initial_cash"))?),
        cash: Money(money(row, "cash").map_err(corrupt("cash"))?),
    })
}

/// Rebuilds a [`Position`] from a row of [`POSITION_COLUMNS`].
pub(super) fn position_from_row<'r, R>(
    row: &'r R,
    money: MoneyReader<R>,
    money_opt: OptMoneyReader<R>,
) -> Result<Position, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    Option<&'r str>: Decode<'r, R::Database> + Type<R::Database>,
    Day: Decode<'r, R::Database> + Type<R::Database>,
    Option<Day>: Decode<'r, R::Database> + Type<R::Database>,
{
    let id = PositionId(column(row, "id").map_err(|e| StoreError::corrupt("positions.id", e))?);
    let corrupt = |col: &str| {
        let what = format!("positions.{col} of position {id}");
        move |detail: String| StoreError::corrupt(what, detail)
    };
    let status: PositionStatus = parsed(row, "status").map_err(corrupt("status"))?;
    let exit_day: Option<Day> = column(row, "exit_day").map_err(corrupt("exit_day"))?;
    let exit_price = money_opt(row, "exit_price").map_err(corrupt("exit_price"))?;
    let exit_fee = money_opt(row, "exit_fee").map_err(corrupt("exit_fee"))?;
    let exit_reason: Option<&str> = column(row, "exit_reason").map_err(corrupt("exit_reason"))?;
    let exit = match (status, exit_day, exit_price, exit_fee, exit_reason) {
        (PositionStatus::Open, None, None, None, None) => None,
        (PositionStatus::Closed, Some(day), Some(price), Some(fee), Some(reason)) => Some(Exit {
            day,
            price: Price(price),
            fee: Money(fee),
            reason: parse_name(reason).map_err(corrupt("exit_reason"))?,
        }),
        _ => {
            let detail = format!("a {status} position must have all exit columns set iff closed");
            return Err(corrupt("exit_*")(detail));
        }
    };
    Ok(Position {
        id,
        symbol: parsed(row, "symbol").map_err(corrupt("symbol"))?,
        strategy: column(row, "strategy").map_err(corrupt("strategy"))?,
        quantity: Quantity(money(row, "quantity").map_err(corrupt("quantity"))?),
        entry_price: Price(money(row, "entry_price").map_err(corrupt("entry_price"))?),
        entry_day: column(row, "entry_day").map_err(corrupt("entry_day"))?,
        entry_fee: Money(money(row, "entry_fee").map_err(corrupt("entry_fee"))?),
        exit,
    })
}

/// Rebuilds a [`Fill`] of `position` from a row of [`FILL_COLUMNS`].
fn fill_from_row<'r, R>(
    row: &'r R,
    position: PositionId,
    money: MoneyReader<R>,
) -> Result<Fill, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    Day: Decode<'r, R::Database> + Type<R::Database>,
{
    let corrupt = |col: &str| {
        let what = format!("fills.{col} of position {position}");
        move |detail: String| StoreError::corrupt(what, detail)
    };
    let side: &str = column(row, "side").map_err(corrupt("side"))?;
    let basis: &str = column(row, "basis").map_err(corrupt("basis"))?;
    Ok(Fill {
        symbol: parsed(row, "symbol").map_err(corrupt("symbol"))?,
        side: parse_name(side).map_err(corrupt("side"))?,
        day: column(row, "day").map_err(corrupt("day"))?,
        price: Price(money(row, "price").map_err(corrupt("price"))?),
        basis: parse_name(basis).map_err(corrupt("basis"))?,
        quantity: Quantity(money(row, "quantity").map_err(corrupt("quantity"))?),
        gross: Money(money(row, "gross").map_err(corrupt("gross"))?),
        fee: Money(money(row, "fee").map_err(corrupt("fee"))?),
    })
}

/// Rebuilds a [`DecisionRecord`] from a row of [`DECISION_COLUMNS`].
fn decision_from_row<'r, R>(row: &'r R) -> Result<DecisionRecord, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    Day: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let id: i64 = column(row, "id").map_err(|e| StoreError::corrupt("decisions.id", e))?;
    let corrupt = |col: &str| {
        let what = format!("decisions.{col} of decision {id}");
        move |detail: String| StoreError::corrupt(what, detail)
    };
    let run: Option<i64> = column(row, "run_id").map_err(corrupt("run_id"))?;
    let position: Option<i64> = column(row, "position_id").map_err(corrupt("position_id"))?;
    Ok(DecisionRecord {
        id,
        run: run.map(RunId),
        recorded_at: column(row, "recorded_at").map_err(corrupt("recorded_at"))?,
        position: position.map(PositionId),
        strategy: column(row, "strategy").map_err(corrupt("strategy"))?,
        symbol: parsed(row, "symbol").map_err(corrupt("symbol"))?,
        day: column(row, "day").map_err(corrupt("day"))?,
        kind: parsed(row, "kind").map_err(corrupt("kind"))?,
        outcome: parsed(row, "outcome").map_err(corrupt("outcome"))?,
        detail: json(row, "detail").map_err(corrupt("detail"))?,
    })
}
