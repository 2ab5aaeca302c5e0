//! The order outbox: orders for a real venue, stored before they are sent and updated with
//! every answer, and their fills.
//!
//! - **One order per decision.** `orders` has `UNIQUE (account, strategy, symbol, day, side)`
//!   and a unique client order id: [`Store::plan_order`] inserts and lets that key decide, so a
//!   retried or concurrent job gets the stored order back ([`PlannedOrder::Existing`]), never a
//!   second row. `plan_order_in` (crate-internal) does the same inside a caller's transaction,
//!   so a decision and its planned order can be committed together before anything is sent.
//! - **Sent once, resolved once.** [`Store::save_order`] is a compare-and-set on the stored
//!   state: a row moves only from a state the saved one may follow. Marking an order
//!   `submitted` (before sending it) only replaces `planned`, so of two processes holding one
//!   planned order only one may send it ([`StoreError::OrderMoved`] for the other); a final
//!   order never changes, so of two processes resolving one order, one saves it and the other
//!   finds it final ([`SavedOrder::AlreadyFinal`]) or is refused ([`StoreError::OrderFinal`]).
//!   Triggers refuse changing a final order to any other writer.
//! - **Fills are stored once** by `UNIQUE (order_id, trade_id)`, however often they are saved.
//! - **Loads re-check.** Every order read goes through `Order: TryFrom<OrderRecord>`, so a row
//!   edited into an impossible state is a [`StoreError::Corrupt`] naming the order, and a save
//!   that would store one is refused and rolled back.

use barter_core::order::{
    ClientOrderId, DecisionRef, MAX_REASON_LEN, Order, OrderAmount, OrderFill, OrderId,
    OrderRecord, OrderState,
};
use barter_core::{Day, Money, Price, Quantity, Side};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use crate::codec::{column, parsed, timestamp};
use crate::connect::Store;
use crate::error::{DbResultExt, StoreError};

/// What [`Store::plan_order`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedOrder {
    /// The order was stored as planned; it carries its store id.
    New(Order),
    /// The decision was planned before: nothing was written, and this is the stored order (in
    /// whatever state it reached), the one to look up or send, never a second one.
    Existing(Order),
}

impl PlannedOrder {
    /// The stored order, new or existing.
    pub fn order(&self) -> &Order {
        match self {
            Self::New(order) | Self::Existing(order) => order,
        }
    }

    /// The stored order, new or existing, by value.
    pub fn into_order(self) -> Order {
        match self {
            Self::New(order) | Self::Existing(order) => order,
        }
    }

    /// Whether this call stored it.
    pub fn is_new(&self) -> bool {
        matches!(self, Self::New(_))
    }
}

/// What [`Store::save_order`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavedOrder {
    /// The order's state, venue id, executed quantity, reason and new fills were written; this
    /// is the order as stored (the reason redacted and bounded).
    Saved(Order),
    /// The stored order was already final in the same state: nothing was written. Another
    /// process (or an earlier attempt of this one) resolved it, so whatever follows resolving
    /// it (booking) is not this caller's to do again.
    AlreadyFinal(Order),
}

impl SavedOrder {
    /// The order as stored.
    pub fn order(&self) -> &Order {
        match self {
            Self::Saved(order) | Self::AlreadyFinal(order) => order,
        }
    }
}

/// Which orders [`Store::orders`] returns; every set field must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFilter {
    /// Only orders of this account.
    pub account: Option<String>,
    /// Only orders not in a final state (planned, submitted, accepted, partially filled,
    /// unknown).
    pub open_only: bool,
    /// At most this many orders.
    pub limit: u32,
}

impl Default for OrderFilter {
    /// Every account and state, the latest 100 orders.
    fn default() -> Self {
        Self {
            account: None,
            open_only: false,
            limit: 100,
        }
    }
}

impl Store {
    /// Stores `order` as planned unless its decision (account, strategy, symbol, day, side) was
    /// planned before, in which case the stored order is returned and nothing is written. Two
    /// concurrent calls for one decision store one row: the unique key decides, not a read.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when `order` is not in the planned state,
    /// [`StoreError::OrderKeyTaken`] when its decision or client order id belongs to an order
    /// with another key, [`StoreError::Corrupt`] when the stored order is unreadable,
    /// [`StoreError::Database`].
    pub async fn plan_order(
        &self,
        order: &Order,
        at: DateTime<Utc>,
    ) -> Result<PlannedOrder, StoreError> {
        let action = || format!("plan order {}", order.client_order_id());
        on_db!(&self.db, |pool| {
            let mut conn = pool.acquire().await.with_action(action)?;
            plan_order_in::<codec::Backend, _>(&mut conn, order, at, codec::money, codec::get_money)
                .await
        })
    }

    /// Writes `order`'s state, venue order id, executed quantity and reason (redacted and cut
    /// to [`MAX_REASON_LEN`] characters) and stores its fills not stored yet, in one
    /// transaction, if the stored state is one `order`'s state may follow: save every state
    /// before acting on it (`submitted` before sending). Saving `submitted` succeeds only over
    /// `planned`, so it is the claim to send. A row already final is never changed: saving its
    /// own final state again is [`SavedOrder::AlreadyFinal`], any other state an error.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when `order` has no store id or another client order id
    /// than the stored one, [`StoreError::UnknownOrder`], [`StoreError::OrderFinal`],
    /// [`StoreError::OrderMoved`] when another process moved the order first (or a step was
    /// not saved),
    /// [`StoreError::OrderFillConflict`] when a stored trade has other details,
    /// [`StoreError::Corrupt`] when the result would not load back, [`StoreError::Database`];
    /// nothing is written then.
    pub async fn save_order(
        &self,
        order: &Order,
        at: DateTime<Utc>,
    ) -> Result<SavedOrder, StoreError> {
        let action = || format!("save order {}", order.client_order_id());
        on_db!(&self.db, |pool| {
            let mut tx = codec::begin_write(pool).await.with_action(action)?;
            let saved = save_order_in::<codec::Backend, _>(
                &mut tx,
                order,
                at,
                codec::money,
                codec::get_money,
            )
            .await?;
            tx.commit().await.with_action(action)?;
            Ok(saved)
        })
    }

    /// The orders not final yet, oldest first: what every job resolves before it sends
    /// anything (submitted, accepted, partially filled and unknown ones are looked up at the
    /// venue; planned ones may have been left by a crash before sending). Only `account`'s
    /// when given.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// order.
    pub async fn unresolved_orders(&self, account: Option<&str>) -> Result<Vec<Order>, StoreError> {
        self.load(Which::Unresolved(account)).await
    }

    /// The final orders of `account` that executed something (filled, or canceled or expired
    /// with fills) and that no position was booked from yet, oldest first: what a crash between
    /// saving a venue's answer and booking it leaves, booked by the next job.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// order.
    pub async fn unbooked_orders(&self, account: &str) -> Result<Vec<Order>, StoreError> {
        self.load(Which::Unbooked(account)).await
    }

    /// The latest orders matching `filter`, newest first (largest id first), with their fills.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// order.
    pub async fn orders(&self, filter: &OrderFilter) -> Result<Vec<Order>, StoreError> {
        self.load(Which::Filter(filter)).await
    }

    /// The stored order for the same decision as `order` (same account, strategy, symbol, day
    /// and side, hence the same client order id), with its fills, if any: how a position finds
    /// the orders that opened and closed it.
    ///
    /// # Errors
    /// When the database cannot be read, or a stored row is corrupt.
    pub async fn order_for_decision(&self, order: &Order) -> Result<Option<Order>, StoreError> {
        Ok(self
            .load(Which::Key(order.record()))
            .await?
            .into_iter()
            .find(|stored| stored.client_order_id() == order.client_order_id()))
    }

    /// The order with this id and its fills, if any.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// order.
    pub async fn order(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        Ok(self.load(Which::Id(id)).await?.into_iter().next())
    }

    /// The orders `which` selects, with their fills.
    async fn load(&self, which: Which<'_>) -> Result<Vec<Order>, StoreError> {
        let action = || format!("load {}", which.describe());
        on_db!(&self.db, |pool| {
            let mut conn = pool.acquire().await.with_action(action)?;
            load_in::<codec::Backend>(&mut conn, which, codec::get_money).await
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Inside a transaction
// ---------------------------------------------------------------------------------------------

/// A backend's money reader (`codec::get_money`).
pub(crate) type MoneyReader<R> = fn(&R, &str) -> Result<Decimal, String>;

/// [`Store::plan_order`] on `conn`, which may be inside the caller's write transaction (as
/// `begin_write` opens it), so a decision and its planned order commit together. `money` and
/// `read_money` are the backend's `codec::money` and `codec::get_money`.
///
/// On PostgreSQL a concurrent transaction planning the same decision makes the insert wait for
/// it; once it commits, the insert does nothing and the stored order is read back.
///
/// # Errors
/// As [`Store::plan_order`].
pub(crate) async fn plan_order_in<DB, M>(
    conn: &mut DB::Connection,
    order: &Order,
    at: DateTime<Utc>,
    money: fn(Decimal) -> M,
    read_money: MoneyReader<DB::Row>,
) -> Result<PlannedOrder, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'e> &'e str: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Day: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> DateTime<Utc>: Encode<'e, DB> + Type<DB>,
    for<'e> M: Encode<'e, DB> + Type<DB> + 'static,
    for<'c> &'c str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    let client_order_id = order.client_order_id();
    if order.state() != OrderState::Planned {
        return Err(StoreError::InvalidInput(format!(
            "order {client_order_id} is {}: only a planned order can be planned",
            order.state()
        )));
    }
    let record = order.record();
    let inserted = insert_row_in::<DB, M>(conn, order, at, money, || {
        format!("plan order {client_order_id}")
    })
    .await?;
    if let Some(id) = inserted {
        let id = OrderId(id);
        return load_in::<DB>(conn, Which::Id(id), read_money)
            .await?
            .pop()
            .map(PlannedOrder::New)
            .ok_or(StoreError::UnknownOrder(id));
    }
    // The key was taken: the stored order is the one to carry on with.
    let stored = load_in::<DB>(conn, Which::Key(record), read_money).await?;
    let same_decision =
        |o: &&Order| o.account() == order.account() && o.decision() == order.decision();
    match (stored.iter().find(same_decision), stored.first()) {
        (Some(existing), _) if existing.client_order_id() == client_order_id => {
            Ok(PlannedOrder::Existing(existing.clone()))
        }
        (Some(existing), _) => Err(key_taken(order, existing, "its decision")),
        (None, Some(existing)) => Err(key_taken(order, existing, "its client order id")),
        (None, None) => Err(StoreError::corrupt(
            format!("orders, planning {client_order_id}"),
            "the insert found its key taken but no order holds it",
        )),
    }
}

/// Inserts `order`'s row as it stands (state, venue order id, executed quantity, reason) and
/// returns its id, or `None`, having written nothing, when its decision or client order id is
/// stored already: the one `INSERT` of an order, for planning and for a final paper order.
async fn insert_row_in<DB, M>(
    conn: &mut DB::Connection,
    order: &Order,
    at: DateTime<Utc>,
    money: fn(Decimal) -> M,
    action: impl FnOnce() -> String,
) -> Result<Option<i64>, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Day: Encode<'e, DB> + Type<DB>,
    for<'e> DateTime<Utc>: Encode<'e, DB> + Type<DB>,
    for<'e> M: Encode<'e, DB> + Type<DB> + 'static,
    usize: ColumnIndex<DB::Row>,
{
    let record = order.record();
    let (amount_kind, amount) = amount_parts(record.amount);
    let inserted = sqlx::query(
        "INSERT INTO orders (account, strategy, symbol, day, side, amount_kind, amount, \
         client_order_id, venue_order_id, state, executed_quantity, reason, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(record.account.as_str())
    .bind(record.decision.strategy.as_str())
    .bind(record.decision.symbol.as_str())
    .bind(record.decision.day)
    .bind(side_name(record.decision.side))
    .bind(amount_kind)
    .bind(money(amount))
    .bind(order.client_order_id().as_str())
    .bind(record.venue_order_id.clone())
    .bind(order.state().as_str())
    .bind(money(record.executed_quantity.0))
    .bind(record.reason.as_deref().and_then(bound_reason))
    .bind(timestamp(at))
    .bind(timestamp(at))
    .fetch_optional(&mut *conn)
    .await
    .with_action(action)?;
    inserted
        .map(|row| {
            row.try_get::<i64, _>(0)
                .map_err(|e| StoreError::corrupt("orders.id", e.to_string()))
        })
        .transpose()
}

/// Stores `order`, already final and never stored before, with its fills, inside the caller's
/// write transaction: the paper venue's order, planned, sent and filled in one commit (no
/// network lies between them), written as the rows [`plan_order_in`] and two
/// [`save_order_in`] would leave, in two statements instead of eight. Returns `false`, having
/// written nothing, when the order's decision or client order id is stored already; the caller
/// then takes that general path, which says whether it is this order or a conflict.
///
/// # Errors
/// [`StoreError::Database`].
pub(crate) async fn insert_final_order_in<DB, M>(
    conn: &mut DB::Connection,
    order: &Order,
    at: DateTime<Utc>,
    money: fn(Decimal) -> M,
) -> Result<bool, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Day: Encode<'e, DB> + Type<DB>,
    for<'e> DateTime<Utc>: Encode<'e, DB> + Type<DB>,
    for<'e> M: Encode<'e, DB> + Type<DB> + 'static,
    usize: ColumnIndex<DB::Row>,
{
    let client_order_id = order.client_order_id();
    let action = || format!("record order {client_order_id} as {}", order.state());
    let Some(id) = insert_row_in::<DB, M>(conn, order, at, money, action).await? else {
        return Ok(false);
    };
    insert_fills_in::<DB, M>(conn, id, order, at, money, action).await?;
    Ok(true)
}

/// Inserts `order`'s known fills under order row `id`; a trade stored before is left alone
/// (whether it matches is the caller's reload to check).
async fn insert_fills_in<DB, M>(
    conn: &mut DB::Connection,
    id: i64,
    order: &Order,
    at: DateTime<Utc>,
    money: fn(Decimal) -> M,
    action: impl Fn() -> String,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Type<DB>,
    for<'e> DateTime<Utc>: Encode<'e, DB> + Type<DB>,
    for<'e> M: Encode<'e, DB> + Type<DB> + 'static,
{
    for fill in order.fills() {
        sqlx::query(
            "INSERT INTO order_fills (order_id, trade_id, price, quantity, fee, fee_asset, \
             recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (order_id, trade_id) DO NOTHING",
        )
        .bind(id)
        .bind(fill.trade_id.as_str())
        .bind(money(fill.price.0))
        .bind(money(fill.quantity.0))
        .bind(money(fill.fee))
        .bind(fill.fee_asset.as_str())
        .bind(timestamp(at))
        .execute(&mut *conn)
        .await
        .with_action(&action)?;
    }
    Ok(())
}

/// [`Store::save_order`] on `conn`, inside the caller's write transaction (so the next step can
/// book a final order's position in the same transaction). Nothing is committed here; on an
/// error the caller must roll back.
///
/// # Errors
/// As [`Store::save_order`].
pub(crate) async fn save_order_in<DB, M>(
    conn: &mut DB::Connection,
    order: &Order,
    at: DateTime<Utc>,
    money: fn(Decimal) -> M,
    read_money: MoneyReader<DB::Row>,
) -> Result<SavedOrder, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'e> &'e str: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Option<&'e str>: Encode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Day: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> DateTime<Utc>: Encode<'e, DB> + Type<DB>,
    for<'e> M: Encode<'e, DB> + Type<DB> + 'static,
    for<'c> &'c str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    let client_order_id = order.client_order_id();
    let Some(id) = order.id() else {
        return Err(StoreError::InvalidInput(format!(
            "order {client_order_id} has no store id: plan it before saving it"
        )));
    };
    let action = || format!("save order {id} ({client_order_id}) as {}", order.state());
    // Compare-and-set: the row moves only from a state the saved one may follow (see
    // `saved_from`); the database decides, so of two processes holding the same order only one
    // sends it, and only one resolves it.
    let sql = format!(
        "UPDATE orders SET state = $1, venue_order_id = $2, executed_quantity = $3, reason = $4, \
         updated_at = $5 WHERE id = $6 AND client_order_id = $7 AND state IN ({}) RETURNING id",
        quoted(saved_from(order.state()))
    );
    let updated = sqlx::query(&sql)
        .bind(order.state().as_str())
        .bind(order.venue_order_id())
        .bind(money(order.executed_quantity().0))
        .bind(order.reason().and_then(bound_reason))
        .bind(timestamp(at))
        .bind(id.0)
        .bind(client_order_id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .with_action(action)?;
    if updated.is_none() {
        // Only to say why: the update already decided.
        let stored = load_in::<DB>(conn, Which::Id(id), read_money)
            .await?
            .pop()
            .ok_or(StoreError::UnknownOrder(id))?;
        if stored.client_order_id() != client_order_id {
            return Err(StoreError::InvalidInput(format!(
                "order {id} is stored as {}, not {client_order_id}",
                stored.client_order_id()
            )));
        }
        let (stored_state, attempted) = (stored.state(), order.state());
        return if stored_state.is_terminal() && stored_state == attempted {
            Ok(SavedOrder::AlreadyFinal(stored))
        } else if stored_state.is_terminal() {
            Err(StoreError::OrderFinal {
                order: id,
                client_order_id: client_order_id.clone(),
                stored: stored_state,
                attempted,
            })
        } else {
            Err(StoreError::OrderMoved {
                order: id,
                client_order_id: client_order_id.clone(),
                stored: stored_state,
                attempted,
            })
        };
    }
    // A trade seen before is left alone; whether it matches is checked on the reload.
    insert_fills_in::<DB, M>(conn, id.0, order, at, money, action).await?;
    // Reloading checks what is about to be committed the way every later load will.
    let stored = load_in::<DB>(conn, Which::Id(id), read_money)
        .await?
        .pop()
        .ok_or(StoreError::UnknownOrder(id))?;
    for fill in order.fills() {
        if stored
            .fills()
            .iter()
            .any(|s| s.trade_id == fill.trade_id && s != fill)
        {
            return Err(StoreError::OrderFillConflict {
                order: id,
                trade_id: fill.trade_id.clone(),
            });
        }
    }
    // A rejection or a lost answer is told, committed with the state that reports it.
    if let Some(n) = barter_core::notify::Notification::order(&stored, at) {
        crate::notifications::enqueue_in::<DB>(conn, &n)
            .await
            .with_action(action)?;
    }
    Ok(SavedOrder::Saved(stored))
}

/// Loads the orders `which` selects, with their fills, on `conn`.
async fn load_in<DB>(
    conn: &mut DB::Connection,
    which: Which<'_>,
    read_money: MoneyReader<DB::Row>,
) -> Result<Vec<Order>, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'e> &'e str: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Option<String>: Decode<'e, DB> + Type<DB>,
    for<'e> String: Decode<'e, DB> + Type<DB>,
    for<'e> i64: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'e> Day: Encode<'e, DB> + Decode<'e, DB> + Type<DB>,
    for<'c> &'c str: ColumnIndex<DB::Row>,
{
    let (sql, args) = select_orders(&which);
    let mut query = sqlx::query(&sql);
    for arg in args {
        query = match arg {
            Arg::Int(value) => query.bind(value),
            Arg::Text(value) => query.bind(value),
            Arg::Day(value) => query.bind(value),
        };
    }
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .with_action(|| format!("load {}", which.describe()))?;
    orders_from_rows(&rows, read_money)
}

// ---------------------------------------------------------------------------------------------
// Statements and rows
// ---------------------------------------------------------------------------------------------

/// What an order query selects.
#[derive(Clone, Copy)]
enum Which<'a> {
    /// One order by id.
    Id(OrderId),
    /// The orders holding the decision key or the client order id of a record (at most two).
    Key(&'a OrderRecord),
    /// The latest orders matching a filter.
    Filter(&'a OrderFilter),
    /// The orders not final yet, of one account or all.
    Unresolved(Option<&'a str>),
    /// The final orders of one account with fills that no position was booked from yet.
    Unbooked(&'a str),
}

impl Which<'_> {
    /// The selection in words, for error messages.
    fn describe(&self) -> String {
        match self {
            Self::Id(id) => format!("order {id}"),
            Self::Key(record) => format!("the order planned as {}", record.client_order_id),
            Self::Filter(_) => "orders".to_owned(),
            Self::Unresolved(_) => "the unresolved orders".to_owned(),
            Self::Unbooked(account) => format!("the unbooked orders of account {account}"),
        }
    }
}

/// The order columns, then its fills' (`NULL` for an order without fills), one row per fill.
const SELECT_ORDERS: &str = "SELECT o.id AS id, o.account AS account, o.strategy AS strategy, \
     o.symbol AS symbol, o.day AS day, o.side AS side, o.amount_kind AS amount_kind, \
     o.amount AS amount, o.client_order_id AS client_order_id, \
     o.venue_order_id AS venue_order_id, o.state AS state, \
     o.executed_quantity AS executed_quantity, o.reason AS reason, \
     f.trade_id AS fill_trade_id, f.price AS fill_price, f.quantity AS fill_quantity, \
     f.fee AS fill_fee, f.fee_asset AS fill_fee_asset \
     FROM (SELECT * FROM orders WHERE ";

/// A value bound to an order query.
enum Arg<'a> {
    Int(i64),
    Text(&'a str),
    Day(Day),
}

/// The `SELECT` of the orders `which` names with their fills, and its bind values in order:
/// one statement, so an order and its fills come from one snapshot (a save between two reads
/// could pair old quantities with new fills). Rows of one order are adjacent, its fills in the
/// order they were stored.
fn select_orders<'a>(which: &Which<'a>) -> (String, Vec<Arg<'a>>) {
    let mut sql = String::from(SELECT_ORDERS);
    let mut args = Vec::new();
    // Appends `$n` for the next bind value.
    let mut bind = |sql: &mut String, arg: Arg<'a>| {
        args.push(arg);
        sql.push_str(&format!("${}", args.len()));
    };
    let mut newest_first = true;
    let mut limit = None;
    match which {
        Which::Id(id) => {
            sql.push_str("id = ");
            bind(&mut sql, Arg::Int(id.0));
        }
        Which::Key(record) => {
            sql.push_str("(account = ");
            bind(&mut sql, Arg::Text(&record.account));
            sql.push_str(" AND strategy = ");
            bind(&mut sql, Arg::Text(&record.decision.strategy));
            sql.push_str(" AND symbol = ");
            bind(&mut sql, Arg::Text(record.decision.symbol.as_str()));
            sql.push_str(" AND day = ");
            bind(&mut sql, Arg::Day(record.decision.day));
            sql.push_str(" AND side = ");
            bind(&mut sql, Arg::Text(side_name(record.decision.side)));
            sql.push_str(") OR client_order_id = ");
            bind(&mut sql, Arg::Text(record.client_order_id.as_str()));
        }
        Which::Filter(filter) => {
            sql.push_str("true");
            if let Some(account) = &filter.account {
                sql.push_str(" AND account = ");
                bind(&mut sql, Arg::Text(account));
            }
            if filter.open_only {
                sql.push_str(&format!(" AND state IN ({})", state_list(false)));
            }
            limit = Some(filter.limit);
        }
        Which::Unresolved(account) => {
            sql.push_str(&format!("state IN ({})", state_list(false)));
            if let Some(account) = account {
                sql.push_str(" AND account = ");
                bind(&mut sql, Arg::Text(account));
            }
            newest_first = false;
        }
        Which::Unbooked(account) => {
            sql.push_str(
                "state IN ('filled', 'canceled', 'expired') \
                 AND EXISTS (SELECT 1 FROM order_fills x WHERE x.order_id = orders.id) \
                 AND NOT EXISTS (SELECT 1 FROM positions p \
                 WHERE p.entry_order_id = orders.id OR p.exit_order_id = orders.id) \
                 AND account = ",
            );
            bind(&mut sql, Arg::Text(account));
            newest_first = false;
        }
    }
    let direction = if newest_first { "DESC" } else { "ASC" };
    sql.push_str(&format!(" ORDER BY id {direction}"));
    if let Some(limit) = limit {
        sql.push_str(" LIMIT ");
        bind(&mut sql, Arg::Int(i64::from(limit)));
    }
    sql.push_str(&format!(
        ") o LEFT JOIN order_fills f ON f.order_id = o.id ORDER BY o.id {direction}, f.id"
    ));
    (sql, args)
}

/// Rebuilds the orders of rows of [`SELECT_ORDERS`], each checked by `Order::try_from`.
fn orders_from_rows<'r, R>(rows: &'r [R], money: MoneyReader<R>) -> Result<Vec<Order>, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    Day: Decode<'r, R::Database> + Type<R::Database>,
{
    let mut records: Vec<OrderRecord> = Vec::new();
    for row in rows {
        let id = OrderId(column(row, "id").map_err(|e| StoreError::corrupt("orders.id", e))?);
        if records.last().and_then(|last| last.id) != Some(id) {
            records.push(record_from_row(row, id, money)?);
        }
        if let (Some(fill), Some(record)) = (fill_from_row(row, id, money)?, records.last_mut()) {
            record.fills.push(fill);
        }
    }
    records
        .into_iter()
        .map(|record| {
            let what = format!(
                "order {} ({})",
                record.id.map_or_else(String::new, |id| id.to_string()),
                record.client_order_id
            );
            Order::try_from(record).map_err(|e| StoreError::corrupt(what, e.to_string()))
        })
        .collect()
}

/// The order columns of a row of [`SELECT_ORDERS`], without fills.
fn record_from_row<'r, R>(
    row: &'r R,
    id: OrderId,
    money: MoneyReader<R>,
) -> Result<OrderRecord, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    Day: Decode<'r, R::Database> + Type<R::Database>,
{
    let corrupt = |col: &str| {
        let what = format!("orders.{col} of order {id}");
        move |detail: String| StoreError::corrupt(what, detail)
    };
    let side: &str = column(row, "side").map_err(corrupt("side"))?;
    let kind: &str = column(row, "amount_kind").map_err(corrupt("amount_kind"))?;
    let amount = money(row, "amount").map_err(corrupt("amount"))?;
    let amount = match kind {
        "quantity" => OrderAmount::Quantity(Quantity(amount)),
        "quote" => OrderAmount::Quote(Money(amount)),
        other => {
            return Err(corrupt("amount_kind")(format!(
                "unknown amount kind `{other}`"
            )));
        }
    };
    let client_order_id: ClientOrderId =
        parsed(row, "client_order_id").map_err(corrupt("client_order_id"))?;
    Ok(OrderRecord {
        id: Some(id),
        account: column(row, "account").map_err(corrupt("account"))?,
        decision: DecisionRef {
            strategy: column(row, "strategy").map_err(corrupt("strategy"))?,
            symbol: parsed(row, "symbol").map_err(corrupt("symbol"))?,
            day: column(row, "day").map_err(corrupt("day"))?,
            side: parse_side(side).map_err(corrupt("side"))?,
        },
        amount,
        client_order_id,
        venue_order_id: column(row, "venue_order_id").map_err(corrupt("venue_order_id"))?,
        state: parsed(row, "state").map_err(corrupt("state"))?,
        fills: Vec::new(),
        executed_quantity: Quantity(
            money(row, "executed_quantity").map_err(corrupt("executed_quantity"))?,
        ),
        reason: column(row, "reason").map_err(corrupt("reason"))?,
    })
}

/// The fill columns of a row of [`SELECT_ORDERS`], `None` for an order without fills.
fn fill_from_row<'r, R>(
    row: &'r R,
    id: OrderId,
    money: MoneyReader<R>,
) -> Result<Option<OrderFill>, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
{
    let corrupt = |col: &str| {
        let what = format!("order_fills.{col} of order {id}");
        move |detail: String| StoreError::corrupt(what, detail)
    };
    let trade_id: Option<String> = column(row, "fill_trade_id").map_err(corrupt("trade_id"))?;
    let Some(trade_id) = trade_id else {
        return Ok(None);
    };
    let corrupt = |col: &str| {
        let what = format!("order_fills.{col} of trade `{trade_id}` of order {id}");
        move |detail: String| StoreError::corrupt(what, detail)
    };
    Ok(Some(OrderFill {
        price: Price(money(row, "fill_price").map_err(corrupt("price"))?),
        quantity: Quantity(money(row, "fill_quantity").map_err(corrupt("quantity"))?),
        fee: money(row, "fill_fee").map_err(corrupt("fee"))?,
        fee_asset: column(row, "fill_fee_asset").map_err(corrupt("fee_asset"))?,
        trade_id,
    }))
}

/// The states a stored order may be in, final (`final_states`) or not, as a quoted SQL list.
/// Built from [`OrderState`] itself, so a new state cannot be forgotten here.
fn state_list(final_states: bool) -> String {
    let states: Vec<OrderState> = OrderState::ALL
        .into_iter()
        .filter(|state| state.is_terminal() == final_states)
        .collect();
    quoted(&states)
}

/// `states` as a quoted SQL list of their names.
fn quoted(states: &[OrderState]) -> String {
    states
        .iter()
        .map(|state| format!("'{}'", state.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The stored states a save of `state` may replace: the states the events leading to `state`
/// start from (`OrderState::after`), given that every state is saved before the next event
/// (the outbox rule: stored before sent). What this refuses is what two processes holding one
/// order would otherwise both do:
/// - `submitted` only replaces `planned`: marking an order sent is a claim, and a second
///   process (or a retry after a crash, which must look the order up instead) loses it;
/// - `planned` only replaces `unknown` (after lookups kept finding nothing) or itself, so an
///   order another process has sent meanwhile is never made sendable again;
/// - venue answers never replace `planned` (the order was not sent) nor a later answer
///   (`accepted` does not replace `partially_filled`), and nothing replaces a final state.
fn saved_from(state: OrderState) -> &'static [OrderState] {
    use OrderState::{
        Accepted, Canceled, Expired, Filled, PartiallyFilled, Planned, Rejected, Submitted, Unknown,
    };
    match state {
        Planned => &[Unknown, Planned],
        Submitted => &[Planned],
        Unknown => &[Submitted, Unknown],
        Accepted => &[Submitted, Unknown, Accepted],
        PartiallyFilled | Filled | Rejected | Expired => {
            &[Submitted, Unknown, Accepted, PartiallyFilled]
        }
        // An order never sent is canceled by abandoning it.
        Canceled => &[Planned, Submitted, Unknown, Accepted, PartiallyFilled],
    }
}

/// The `amount_kind` column and the value of an amount.
fn amount_parts(amount: OrderAmount) -> (&'static str, Decimal) {
    match amount {
        OrderAmount::Quantity(q) => ("quantity", q.0),
        OrderAmount::Quote(m) => ("quote", m.0),
    }
}

/// The stored name of a side.
fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

/// Parses a name written by [`side_name`].
fn parse_side(name: &str) -> Result<Side, String> {
    match name {
        "buy" => Ok(Side::Buy),
        "sell" => Ok(Side::Sell),
        other => Err(format!("unknown side `{other}`")),
    }
}

/// A venue's reason as stored: secrets replaced first (a venue may echo a header), then trimmed
/// and cut to [`MAX_REASON_LEN`] characters ending in `…`, so it always loads back; `None` when
/// blank.
fn bound_reason(text: &str) -> Option<String> {
    let clean = crate::secrets::redact(text);
    let clean = clean.trim();
    if clean.is_empty() {
        return None;
    }
    if clean.chars().count() <= MAX_REASON_LEN {
        return Some(clean.to_owned());
    }
    let mut cut: String = clean.chars().take(MAX_REASON_LEN - 1).collect();
    cut.push('…');
    Some(cut)
}

/// [`StoreError::OrderKeyTaken`] for planning `order` when `existing` holds `what`.
fn key_taken(order: &Order, existing: &Order, what: &'static str) -> StoreError {
    StoreError::OrderKeyTaken {
        client_order_id: order.client_order_id().clone(),
        existing: existing.id().unwrap_or(OrderId(0)),
        what,
    }
}

#[cfg(test)]
mod tests {
    use barter_core::order::OrderEvent;

    use super::*;

    #[test]
    fn final_and_unresolved_states_split_every_state() {
        assert_eq!(
            state_list(true),
            "'filled', 'rejected', 'canceled', 'expired'"
        );
        assert_eq!(
            state_list(false),
            "'planned', 'submitted', 'accepted', 'partially_filled', 'unknown'"
        );
    }

    /// Every legal step of the lifecycle can be saved over the state it starts from (so a job
    /// saving each state as it goes is never refused), except repeating a final state, which
    /// is `AlreadyFinal`.
    #[test]
    fn every_lifecycle_step_may_be_saved_over_the_state_it_starts_from() {
        let report = |state| {
            OrderEvent::Report(barter_core::VenueReport {
                state,
                venue_order_id: None,
                executed_quantity: Quantity(Decimal::ZERO),
                fills: Vec::new(),
                reason: None,
            })
        };
        let mut events = vec![
            OrderEvent::Sent,
            OrderEvent::Acknowledged {
                venue_order_id: None,
            },
            OrderEvent::OutcomeUnknown,
            OrderEvent::LookupNotFound,
            OrderEvent::Abandoned {
                reason: "stale".into(),
            },
        ];
        events.extend(OrderState::ALL.into_iter().map(report));
        let mut steps = 0;
        for from in OrderState::ALL {
            for event in &events {
                let Ok(to) = from.after(event) else { continue };
                if from == to && to.is_terminal() {
                    continue;
                }
                steps += 1;
                assert!(
                    saved_from(to).contains(&from),
                    "{from} --{}--> {to} could not be saved",
                    event.name()
                );
            }
        }
        assert!(steps > 20, "{steps}");
        // Nothing replaces a final state, and only `planned` may be claimed to send.
        for to in OrderState::ALL {
            assert!(
                saved_from(to).iter().all(|from| !from.is_terminal()),
                "{to}"
            );
        }
        assert_eq!(saved_from(OrderState::Submitted), [OrderState::Planned]);
    }

    #[test]
    fn reasons_are_trimmed_cut_and_blank_ones_dropped() {
        assert_eq!(bound_reason("  \n"), None);
        assert_eq!(bound_reason(" no funds "), Some("no funds".to_owned()));
        let long = "é".repeat(MAX_REASON_LEN + 10);
        let cut = bound_reason(&long).expect("kept");
        assert_eq!(cut.chars().count(), MAX_REASON_LEN);
        assert!(cut.ends_with('…'));
    }

    /// The next step plans an order inside the transaction that stores its decision: the
    /// order is committed or rolled back with it.
    #[tokio::test]
    async fn an_order_planned_in_a_transaction_commits_and_rolls_back_with_it() {
        use barter_core::Symbol;
        use rust_decimal_macros::dec;

        let store = Store::connect("sqlite::memory:").await.expect("connect");
        let crate::connect::Db::Sqlite(pool) = &store.db else {
            panic!("a SQLite store");
        };
        let decision = DecisionRef {
            strategy: "trend".into(),
            symbol: Symbol::parse("BTC").expect("symbol"),
            day: "2026-12-07".parse().expect("day"),
            side: Side::Buy,
        };
        let order = Order::planned("main", decision, OrderAmount::Quantity(Quantity(dec!(1))))
            .expect("order");
        let at = Utc::now();
        async fn plan_in(
            conn: &mut sqlx::SqliteConnection,
            order: &Order,
            at: DateTime<Utc>,
        ) -> Result<PlannedOrder, StoreError> {
            plan_order_in::<sqlx::Sqlite, _>(
                conn,
                order,
                at,
                crate::codec::sqlite::money,
                crate::codec::sqlite::get_money,
            )
            .await
        }

        let mut tx = crate::codec::sqlite::begin_write(pool)
            .await
            .expect("begin");
        assert!(plan_in(&mut tx, &order, at).await.expect("plan").is_new());
        tx.rollback().await.expect("rollback");
        assert!(
            store
                .unresolved_orders(None)
                .await
                .expect("list")
                .is_empty()
        );

        let mut tx = crate::codec::sqlite::begin_write(pool)
            .await
            .expect("begin");
        let planned = plan_in(&mut tx, &order, at).await.expect("plan");
        assert!(planned.is_new());
        // Inside the same transaction, planning again finds it.
        assert!(
            !plan_in(&mut tx, &order, at)
                .await
                .expect("plan again")
                .is_new()
        );
        tx.commit().await.expect("commit");
        assert_eq!(
            store.unresolved_orders(None).await.expect("list"),
            [planned.into_order()]
        );
    }

    #[test]
    fn sides_round_trip_and_unknown_names_are_refused() {
        for side in [Side::Buy, Side::Sell] {
            assert_eq!(parse_side(side_name(side)), Ok(side));
        }
        assert!(parse_side("short").is_err());
    }
}
