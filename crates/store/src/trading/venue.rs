//! The ledger side of trading through a venue (a named account of Binance, Alpaca …): a
//! decision and its planned order committed together before anything is sent, and positions
//! booked from the venue's fills once its order is final.
//!
//! Unlike a paper trade, which is decided, filled and booked in one transaction, a venue trade
//! spans a network call, so it is three commits: (1) the decision with its planned order
//! ([`Store::decide_with_order`]), (2) the order's states as the venue answers (the outbox,
//! [`Store::save_order`]), (3) the booking ([`Store::book_venue_order`]). A crash between (2)
//! and (3) leaves a final order without a position: [`Store::unbooked_orders`] finds it and the
//! next job books it; the order's unique links on `positions` make a second booking a no-op.
//! The venue holds the cash, so no booking moves the paper account's cash.

use barter_core::order::{Order, OrderId, ShadowFill};
use barter_core::{Exit, ExitReason, Fill, Money, PositionId, Price, Quantity, RunId, Side};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::reads::{POSITION_COLUMNS, id_of, position_from_row};
use super::statements::{Event, append, decision_event, insert_decision, insert_fill};
use super::{DecisionKind, EVENT_CLOSE, EVENT_FILL, NewDecision, parse_name};
use crate::codec::{column, parsed, timestamp};
use crate::connect::Store;
use crate::error::{DbResultExt, StoreError};
use crate::orders::{PlannedOrder, plan_order_in};

/// Inside an `on_db!` body: stores the shadow fill of venue order `order` (its paper model
/// fill `shadow` next to the venue's `fill`), once per order.
macro_rules! insert_shadow {
    ($tx:ident, $order_id:expr, $order:expr, $shadow:expr, $fill:expr, $at:expr, $action:expr) => {{
        sqlx::query(
            "INSERT INTO shadow_fills (order_id, account, strategy, symbol, side, shadow_price, \
             shadow_quantity, shadow_fee, venue_price, venue_quantity, venue_fee, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (order_id) DO NOTHING",
        )
        .bind($order_id.0)
        .bind($order.account())
        .bind($order.strategy())
        .bind($order.symbol().as_str())
        .bind(super::name_of(&$order.side()))
        .bind(codec::money($shadow.price.0))
        .bind(codec::money($shadow.quantity.0))
        .bind(codec::money($shadow.fee.0))
        .bind(codec::money($fill.price.0))
        .bind(codec::money($fill.quantity.0))
        .bind(codec::money($fill.fee.0))
        .bind(timestamp($at))
        .execute(&mut *$tx)
        .await
        .with_action($action)?;
    }};
}

/// Inside an `on_db!` body: the stored detail (JSON text) of the `kind` decision that venue
/// order `order` carries out, if it is stored.
macro_rules! decision_detail {
    ($tx:ident, $order:expr, $kind:literal, $action:expr) => {{
        let detail: Option<String> = sqlx::query_scalar(concat!(
            "SELECT detail FROM decisions WHERE strategy = $1 AND symbol = $2 AND day = $3 \
             AND kind = '",
            $kind,
            "'"
        ))
        .bind($order.strategy())
        .bind($order.symbol().as_str())
        .bind($order.decision().day)
        .fetch_optional(&mut *$tx)
        .await
        .with_action($action)?;
        detail
    }};
}

/// A value bound to a shadow-fill query.
enum ShadowArg<'a> {
    Text(&'a str),
    Int(i64),
}

/// What [`Store::decide_with_order`] stored.
#[derive(Debug, Clone, PartialEq)]
pub enum DecidedOrder {
    /// The decision and its planned order are stored: the order is the one to send.
    Planned(Order),
    /// The decision was taken before (by an earlier or concurrent job); its order, if it has
    /// one, is returned as stored, to resolve rather than send.
    AlreadyDecided(Option<Order>),
}

/// What booking a final venue order did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Booked {
    /// A buy opened this position.
    Opened(PositionId),
    /// A sell closed this position; `unsold` is what the position held beyond what the order
    /// sold (it stays at the venue and shows as drift until a person decides).
    Closed {
        /// The closed position.
        position: PositionId,
        /// Proceeds − cost − fees of what was sold.
        realized_pnl: Money,
        /// The part of the position the order did not sell.
        unsold: Quantity,
    },
    /// The order was booked before: nothing written.
    AlreadyBooked(PositionId),
    /// A buy whose strategy already holds an open position in the instrument (bought twice at
    /// the venue, or a position opened by hand): not booked, for a person to look at.
    AlreadyOpen(PositionId),
    /// A sell with no open position of its strategy to close: not booked.
    NothingToClose,
}

impl Store {
    /// The shadow fills of `account`'s booked venue orders (every venue account's when
    /// `None`), oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn shadow_fills(&self, account: Option<&str>) -> Result<Vec<ShadowFill>, StoreError> {
        match account {
            Some(account) => {
                self.load_shadow_fills(" WHERE account = $1", &[ShadowArg::Text(account)])
                    .await
            }
            None => self.load_shadow_fills("", &[]).await,
        }
    }

    /// The shadow fills of the orders `order_ids` (those that have one), oldest first: what a
    /// page of orders shows, read for that page only.
    ///
    /// # Errors
    /// As [`Store::shadow_fills`].
    pub async fn shadow_fills_of(
        &self,
        order_ids: &[OrderId],
    ) -> Result<Vec<ShadowFill>, StoreError> {
        let mut fills = Vec::new();
        // A few hundred binds per statement stay under every backend's limit.
        for chunk in order_ids.chunks(500) {
            let list: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let filter = format!(" WHERE order_id IN ({})", list.join(", "));
            let args: Vec<ShadowArg<'_>> = chunk.iter().map(|id| ShadowArg::Int(id.0)).collect();
            fills.extend(self.load_shadow_fills(&filter, &args).await?);
        }
        fills.sort_by_key(|fill| fill.order_id);
        Ok(fills)
    }

    /// The shadow fills `filter` (a `WHERE` clause over `args`) selects, oldest first.
    async fn load_shadow_fills(
        &self,
        filter: &str,
        args: &[ShadowArg<'_>],
    ) -> Result<Vec<ShadowFill>, StoreError> {
        let sql = format!(
            "SELECT order_id, account, strategy, symbol, side, shadow_price, shadow_quantity, \
             shadow_fee, venue_price, venue_quantity, venue_fee FROM shadow_fills{filter} \
             ORDER BY order_id"
        );
        on_db!(&self.db, |pool| {
            let mut query = sqlx::query(&sql);
            for arg in args {
                query = match arg {
                    ShadowArg::Text(text) => query.bind(*text),
                    ShadowArg::Int(int) => query.bind(*int),
                };
            }
            let rows = query
                .fetch_all(pool)
                .await
                .action("list the shadow fills")?;
            rows.iter()
                .map(|row| {
                    let corrupt = |col: &'static str| {
                        move |e: String| StoreError::corrupt(format!("shadow_fills.{col}"), e)
                    };
                    let money =
                        |col: &'static str| codec::get_money(row, col).map_err(corrupt(col));
                    Ok(ShadowFill {
                        order_id: column(row, "order_id").map_err(corrupt("order_id"))?,
                        account: column(row, "account").map_err(corrupt("account"))?,
                        strategy: column(row, "strategy").map_err(corrupt("strategy"))?,
                        symbol: parsed(row, "symbol").map_err(corrupt("symbol"))?,
                        side: {
                            let side: String = column(row, "side").map_err(corrupt("side"))?;
                            parse_name(&side).map_err(corrupt("side"))?
                        },
                        shadow_price: Price(money("shadow_price")?),
                        shadow_quantity: Quantity(money("shadow_quantity")?),
                        shadow_fee: Money(money("shadow_fee")?),
                        venue_price: Price(money("venue_price")?),
                        venue_quantity: Quantity(money("venue_quantity")?),
                        venue_fee: Money(money("venue_fee")?),
                    })
                })
                .collect()
        })
    }

    /// Records decision `d` (a passed entry or exit of a venue account) and plans `order` for
    /// it in one transaction, before anything is sent: a crash after this commit leaves a
    /// planned order the next job sends (or finds), never an order without its decision. When
    /// `d` was decided before, nothing is written and the decision's stored order is returned.
    ///
    /// # Errors
    /// [`StoreError::InvalidTrade`] when `order` does not carry out `d`, the errors of
    /// [`Store::plan_order`], [`StoreError::UnknownRun`], [`StoreError::Database`]; nothing is
    /// written then.
    pub async fn decide_with_order(
        &self,
        run: Option<RunId>,
        d: &NewDecision,
        order: &Order,
        at: DateTime<Utc>,
    ) -> Result<DecidedOrder, StoreError> {
        let side = match d.kind {
            DecisionKind::Entry => Side::Buy,
            DecisionKind::Exit => Side::Sell,
        };
        let key = order.decision();
        if key.strategy != d.strategy
            || key.symbol != d.symbol
            || key.day != d.day
            || key.side != side
        {
            return Err(StoreError::InvalidTrade(format!(
                "order {} does not carry out the {} decision of {} in {} on {}",
                order.client_order_id(),
                d.kind,
                d.strategy,
                d.symbol,
                d.day
            )));
        }
        let action = || {
            format!(
                "record the {} of {} in {} with order {}",
                d.kind,
                d.strategy,
                d.symbol,
                order.client_order_id()
            )
        };
        let stored = on_db!(&self.db, |pool| {
            let mut tx = codec::begin_write(pool).await.with_action(action)?;
            let decision =
                insert_decision::<codec::Backend>(&mut tx, run, d, d.outcome, &d.detail, None, at)
                    .await
                    .with_action(action)
                    .map_err(|e| match run {
                        Some(run) if e.is_foreign_key_violation() => StoreError::UnknownRun(run),
                        _ => e,
                    })?;
            match decision {
                None => None,
                Some(id) => {
                    let event = decision_event(run, d, id, d.outcome, &d.detail, None, at);
                    append::<codec::Backend>(&mut tx, event)
                        .await
                        .with_action(action)?;
                    let planned = plan_order_in::<codec::Backend, _>(
                        &mut tx,
                        order,
                        at,
                        codec::money,
                        codec::get_money,
                    )
                    .await?;
                    tx.commit().await.with_action(action)?;
                    Some(match planned {
                        PlannedOrder::New(order) | PlannedOrder::Existing(order) => order,
                    })
                }
            }
        });
        match stored {
            Some(order) => Ok(DecidedOrder::Planned(order)),
            None => Ok(DecidedOrder::AlreadyDecided(
                self.order_for_decision(order).await?,
            )),
        }
    }

    /// Books final venue order `order` from `fill` (its executed part, as the caller computed
    /// it from the venue's trades: the quantity net of fees taken in the bought asset, the
    /// average price, the fees valued in the quote currency) in one transaction: a buy opens a
    /// position of `order`'s account, a sell closes its strategy's open position in the
    /// instrument (for what it sold; see [`Booked::Closed`]). Booking an order twice writes
    /// nothing the second time.
    ///
    /// # Errors
    /// [`StoreError::InvalidTrade`] when `order` is not stored, or `fill` is not of its side
    /// and instrument or not positive; [`StoreError::Corrupt`], [`StoreError::Database`];
    /// nothing is written then.
    pub async fn book_venue_order(
        &self,
        run: Option<RunId>,
        order: &Order,
        fill: &Fill,
        at: DateTime<Utc>,
    ) -> Result<Booked, StoreError> {
        let Some(order_id) = order.id() else {
            return Err(StoreError::InvalidTrade(format!(
                "order {} is not stored, so it cannot be booked",
                order.client_order_id()
            )));
        };
        if fill.side != order.side()
            || fill.symbol != *order.symbol()
            || fill.quantity.0 <= Decimal::ZERO
        {
            return Err(StoreError::InvalidTrade(format!(
                "the fill ({:?} {} of {}) does not book order {} ({:?} {})",
                fill.side,
                fill.quantity,
                fill.symbol,
                order.client_order_id(),
                order.side(),
                order.symbol()
            )));
        }
        match order.side() {
            Side::Buy => self.book_entry(run, order, order_id, fill, at).await,
            Side::Sell => self.book_exit(run, order, order_id, fill, at).await,
        }
    }

    async fn book_entry(
        &self,
        run: Option<RunId>,
        order: &Order,
        order_id: OrderId,
        fill: &Fill,
        at: DateTime<Utc>,
    ) -> Result<Booked, StoreError> {
        let (strategy, symbol) = (order.strategy(), order.symbol());
        let action = || format!("book order {} as a position", order.client_order_id());
        on_db!(&self.db, |pool| {
            let mut tx = codec::begin_write(pool).await.with_action(action)?;
            // Either unique index (one open position per strategy × instrument, one position
            // per order) turns the insert into nothing; the reads below say which.
            let inserted = sqlx::query(
                "INSERT INTO positions (strategy, symbol, quantity, entry_price, entry_day, \
                 entry_fee, status, opened_at, account, entry_order_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9) \
                 ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(strategy)
            .bind(symbol.as_str())
            .bind(codec::money(fill.quantity.0))
            .bind(codec::money(fill.price.0))
            .bind(fill.day)
            .bind(codec::money(fill.fee.0))
            .bind(timestamp(at))
            .bind(order.account())
            .bind(order_id.0)
            .fetch_optional(&mut *tx)
            .await
            .with_action(action)?;
            let Some(row) = inserted else {
                let booked: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM positions WHERE entry_order_id = $1")
                        .bind(order_id.0)
                        .fetch_optional(&mut *tx)
                        .await
                        .with_action(action)?;
                if let Some(id) = booked {
                    return Ok(Booked::AlreadyBooked(PositionId(id)));
                }
                let open: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM positions WHERE strategy = $1 AND symbol = $2 \
                     AND status = 'open'",
                )
                .bind(strategy)
                .bind(symbol.as_str())
                .fetch_optional(&mut *tx)
                .await
                .with_action(action)?;
                return match open {
                    Some(id) => Ok(Booked::AlreadyOpen(PositionId(id))),
                    None => Err(StoreError::corrupt(
                        format!("positions for order {}", order.client_order_id()),
                        "the insert conflicted with no position".to_owned(),
                    )),
                };
            };
            let position = PositionId(id_of(&row, "positions.id")?);
            insert_fill::<codec::Backend, _>(&mut tx, position, fill, at, codec::money)
                .await
                .with_action(action)?;
            let stored_detail = decision_detail!(tx, order, "entry", action);
            let detail = &stored_detail;
            if let Some(shadow) = shadow_of(detail.as_deref()) {
                insert_shadow!(tx, order_id, order, &shadow, fill, at, action);
            }
            let detail = order_detail(order, fill);
            let event = Event::about(
                run,
                at,
                EVENT_FILL,
                strategy,
                symbol,
                Some(position),
                detail,
            );
            append::<codec::Backend>(&mut tx, event)
                .await
                .with_action(action)?;
            let decided: Option<Value> = stored_detail
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok());
            let facts = super::notices::trade_facts(
                position,
                strategy,
                symbol,
                order.decision().day,
                fill,
                order.account(),
                decided.as_ref(),
            );
            notify!(
                tx,
                barter_core::notify::Notification::position_opened(&facts, at),
                action
            );
            tx.commit().await.with_action(action)?;
            Ok(Booked::Opened(position))
        })
    }

    async fn book_exit(
        &self,
        run: Option<RunId>,
        order: &Order,
        order_id: OrderId,
        fill: &Fill,
        at: DateTime<Utc>,
    ) -> Result<Booked, StoreError> {
        let (strategy, symbol) = (order.strategy(), order.symbol());
        let action = || format!("book order {} as a close", order.client_order_id());
        let day = order.decision().day;
        on_db!(&self.db, |pool| {
            let mut tx = codec::begin_write(pool).await.with_action(action)?;
            let booked: Option<i64> =
                sqlx::query_scalar("SELECT id FROM positions WHERE exit_order_id = $1")
                    .bind(order_id.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .with_action(action)?;
            if let Some(id) = booked {
                return Ok(Booked::AlreadyBooked(PositionId(id)));
            }
            let sql = format!(
                "SELECT {POSITION_COLUMNS} FROM positions WHERE strategy = $1 AND symbol = $2 \
                 AND account = $3 AND status = 'open'"
            );
            let row = sqlx::query(&sql)
                .bind(strategy)
                .bind(symbol.as_str())
                .bind(order.account())
                .fetch_optional(&mut *tx)
                .await
                .with_action(action)?;
            let Some(row) = row else {
                return Ok(Booked::NothingToClose);
            };
            let mut held = position_from_row(&row, codec::get_money, codec::get_money_opt)?;
            // The exit decision says why: the order itself only knows its side.
            let exit_detail = decision_detail!(tx, order, "exit", action);
            let detail = &exit_detail;
            let reason = exit_reason(detail.as_deref()).map_err(|problem| {
                StoreError::corrupt(
                    format!("the exit decision of {strategy} in {symbol} on {day}"),
                    problem,
                )
            })?;
            // A sell that executed less than the position held closes what it sold; the rest
            // stays at the venue. The entry fee is shared out pro rata so P&L stays exact.
            let sold = fill.quantity.0.min(held.quantity.0);
            let unsold = Quantity(held.quantity.0 - sold);
            if unsold.0 > Decimal::ZERO {
                held.entry_fee = Money(
                    held.entry_fee
                        .0
                        .checked_mul(sold)
                        .and_then(|v| v.checked_div(held.quantity.0))
                        .unwrap_or(held.entry_fee.0),
                );
                held.quantity = Quantity(sold);
            }
            held.exit = Some(Exit {
                day: fill.day,
                price: fill.price,
                fee: fill.fee,
                reason,
            });
            let realized_pnl = held.realized_pnl().unwrap_or_default();
            sqlx::query(
                "UPDATE positions SET status = 'closed', quantity = $2, entry_fee = $3, \
                 exit_price = $4, exit_day = $5, exit_fee = $6, exit_reason = $7, \
                 realized_pnl = $8, closed_at = $9, exit_order_id = $10 \
                 WHERE id = $1 AND status = 'open'",
            )
            .bind(held.id.0)
            .bind(codec::money(held.quantity.0))
            .bind(codec::money(held.entry_fee.0))
            .bind(codec::money(fill.price.0))
            .bind(fill.day)
            .bind(codec::money(fill.fee.0))
            .bind(super::name_of(&reason))
            .bind(codec::money(realized_pnl.0))
            .bind(timestamp(at))
            .bind(order_id.0)
            .execute(&mut *tx)
            .await
            .with_action(action)?;
            let sold_fill = Fill {
                quantity: Quantity(sold),
                ..fill.clone()
            };
            if let Some(shadow) = shadow_of(detail.as_deref()) {
                insert_shadow!(tx, order_id, order, &shadow, fill, at, action);
            }
            insert_fill::<codec::Backend, _>(&mut tx, held.id, &sold_fill, at, codec::money)
                .await
                .with_action(action)?;
            let detail = order_detail(order, fill);
            let event = Event::about(run, at, EVENT_FILL, strategy, symbol, Some(held.id), detail);
            append::<codec::Backend>(&mut tx, event)
                .await
                .with_action(action)?;
            let detail = json!({
                "order": order.client_order_id().as_str(),
                "reason": reason,
                "realized_pnl": realized_pnl,
                "entry_day": held.entry_day,
                "entry_price": held.entry_price,
                "exit_day": fill.day,
                "exit_price": fill.price,
                "quantity": held.quantity,
                "unsold": unsold,
            });
            let event = Event::about(
                run,
                at,
                EVENT_CLOSE,
                strategy,
                symbol,
                Some(held.id),
                detail,
            );
            append::<codec::Backend>(&mut tx, event)
                .await
                .with_action(action)?;
            let decided: Option<Value> = exit_detail
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok());
            let facts = super::notices::trade_facts(
                held.id,
                strategy,
                symbol,
                day,
                &sold_fill,
                order.account(),
                decided.as_ref(),
            );
            let n = barter_core::notify::Notification::position_closed(
                &facts,
                &realized_pnl.0.normalize().to_string(),
                &super::name_of(&reason),
                at,
            );
            notify!(tx, n, action);
            tx.commit().await.with_action(action)?;
            Ok(Booked::Closed {
                position: held.id,
                realized_pnl,
                unsold,
            })
        })
    }
}

/// The history detail of a booked venue fill: the order it came from and what was booked.
fn order_detail(order: &Order, fill: &Fill) -> Value {
    json!({
        "account": order.account(),
        "order": order.client_order_id().as_str(),
        "venue_order_id": order.venue_order_id(),
        "state": order.state(),
        "fill": fill,
    })
}

/// The paper model's fill a decision's detail keeps as its `shadow`, if it has a readable one.
fn shadow_of(detail: Option<&str>) -> Option<Fill> {
    let value: Value = serde_json::from_str(detail?).ok()?;
    serde_json::from_value(value.get("shadow")?.clone()).ok()
}

/// The exit reason an exit decision's detail names.
fn exit_reason(detail: Option<&str>) -> Result<ExitReason, String> {
    let detail = detail.ok_or("no exit decision is stored for the order")?;
    let value: Value = serde_json::from_str(detail).map_err(|e| e.to_string())?;
    let name = value
        .get("reason")
        .and_then(Value::as_str)
        .ok_or("the decision names no exit reason")?;
    parse_name(name)
}
