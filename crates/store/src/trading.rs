//! The trading ledger: the paper account, decisions keyed by (strategy, instrument, decision
//! day), positions with their fills, and the trading entries of the append-only history.
//!
//! - **Exactly once per day.** `decisions` has `UNIQUE (strategy, symbol, day, kind)`: a second
//!   decision for the same key writes nothing ([`OpenOutcome::AlreadyDecided`],
//!   [`CloseOutcome::AlreadyDecided`], `record_decision` returning `false`).
//! - **One open position per strategy × instrument**, by a partial unique index on `positions`.
//! - **Crash-safe.** An open or close — position, decision, fill, cash and history entries — is
//!   one transaction. Ledger writes are serialised: SQLite takes its write lock at `BEGIN
//!   IMMEDIATE`, PostgreSQL locks the account row (`codec::LOCK_ACCOUNT`) first, so cash is
//!   never updated from a stale read and the open-position check cannot race.
//! - **Append-only.** Decisions and history rows are never updated or deleted (triggers refuse
//!   it). Every stored decision has a [`EVENT_DECISION`] history entry carrying its rule values;
//!   fills, refusals and closes have [`EVENT_FILL`], [`EVENT_REFUSAL`] and [`EVENT_CLOSE`].

use std::fmt;
use std::str::FromStr;

use barter_core::strategy::Outcome;
use barter_core::{
    Day, Exit, ExitReason, Fill, Money, Position, PositionId, Refusal, RunId, Side, Symbol,
};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::codec::timestamp;
use crate::connect::Store;
use crate::error::{DbResultExt, StoreError};

/// Inside an `on_db!` body: stores notification `$n` in transaction `tx` (see
/// [`crate::notifications`]), so it is committed with the event it reports.
macro_rules! notify {
    ($tx:ident, $n:expr, $action:expr) => {{
        crate::notifications::enqueue_in::<codec::Backend>(&mut $tx, &$n)
            .await
            .with_action($action)?;
    }};
}

mod notices;
mod reads;
mod statements;
mod venue;

pub use venue::{Booked, DecidedOrder};

/// Inside an `on_db!` body: starts the write transaction of a trade, locks the account row
/// (so concurrent trades move cash one after the other) and returns `already` from the enclosing
/// function when the decision `d` was taken before; evaluates to `(tx, account)`.
macro_rules! begin_trade {
    ($pool:ident, $d:expr, $action:expr, $already:expr) => {{
        let mut tx = codec::begin_write($pool).await.with_action($action)?;
        let account = lock_account::<codec::Backend>(&mut tx, codec::LOCK_ACCOUNT)
            .await
            .with_action($action)?
            .ok_or(StoreError::NoAccount)
            .and_then(|row| account_from_row(&row, codec::get_money))?;
        if decided::<codec::Backend>(&mut tx, $d)
            .await
            .with_action($action)?
        {
            return Ok($already);
        }
        (tx, account)
    }};
}

/// Inside an `on_db!` body: stores `fill` of `position`, moves the account's cash by the fill
/// and appends the fill's history entry, all in transaction `tx`.
macro_rules! book_fill {
    ($tx:ident, $run:expr, $d:expr, $position:expr, $fill:expr, $cash_before:expr, $at:expr, $action:expr) => {{
        let cash = Money($cash_before.0 + $fill.cash_delta().0);
        let fill_id = insert_fill::<codec::Backend, _>(&mut $tx, $position, $fill, $at, codec::money)
            .await
            .with_action($action)?;
        set_cash::<codec::Backend, _>(&mut $tx, cash, $at, codec::money)
            .await
            .with_action($action)?;
        let detail = json!({"fill_id": fill_id, "fill": $fill, "cash_after": cash});
        let event = Event::new($run, $at, EVENT_FILL, $d, Some($position), detail);
        append::<codec::Backend>(&mut $tx, event)
            .await
            .with_action($action)?;
    }};
}

/// The account paper orders are recorded under (the only account until named accounts exist).
pub const PAPER_ACCOUNT: &str = barter_core::order::PAPER;

/// Inside an `on_db!` body, after `book_fill!`: records the paper venue's order for the
/// decision `d` in transaction `tx`, already filled by `fill` (planned, submitted and filled in
/// one commit: there is no network between them, so no crash can fall in between). Every paper
/// trade thus has an order and a fill in the outbox like a venue's, for `barter orders`.
macro_rules! record_paper_order {
    ($tx:ident, $d:expr, $side:expr, $fill:expr, $at:expr, $action:expr) => {{
        let decision = barter_core::order::DecisionRef {
            strategy: $d.strategy.clone(),
            symbol: $d.symbol.clone(),
            day: $d.day,
            side: $side,
        };
        let planned = barter_core::order::Order::planned(
            PAPER_ACCOUNT,
            decision,
            barter_core::order::OrderAmount::Quantity($fill.quantity),
        )
        .map_err(|e| StoreError::InvalidInput(e.to_string()))?;
        let quote: Option<String> =
            sqlx::query_scalar("SELECT quote_currency FROM instruments WHERE symbol = $1")
                .bind($d.symbol.as_str())
                .fetch_optional(&mut *$tx)
                .await
                .with_action($action)?;
        let id = barter_core::order::paper_venue_id(planned.client_order_id());
        let report = barter_core::order::VenueReport {
            state: barter_core::order::OrderState::Filled,
            venue_order_id: Some(id.clone()),
            executed_quantity: $fill.quantity,
            fills: vec![barter_core::order::OrderFill {
                trade_id: id,
                price: $fill.price,
                quantity: $fill.quantity,
                fee: $fill.fee.0,
                fee_asset: quote.unwrap_or_default(),
            }],
            reason: None,
        };
        // The order's whole life, checked by the same transitions as a venue's, then stored
        // in its final state at once.
        let mut filled = planned.clone();
        filled
            .apply(barter_core::order::OrderEvent::Sent)
            .and_then(|()| filled.apply(barter_core::order::OrderEvent::Report(report.clone())))
            .map_err(|e| StoreError::InvalidInput(e.to_string()))?;
        let fresh = crate::orders::insert_final_order_in::<codec::Backend, _>(
            &mut $tx,
            &filled,
            $at,
            codec::money,
        )
        .await?;
        if !fresh {
            // Its decision or key is taken: planning says whether by this order (recorded with
            // its trade before: nothing to add) or another one (an error).
            let planned = crate::orders::plan_order_in::<codec::Backend, _>(
                &mut $tx,
                &planned,
                $at,
                codec::money,
                codec::get_money,
            )
            .await?;
            if let crate::orders::PlannedOrder::New(mut order) = planned {
                for event in [
                    barter_core::order::OrderEvent::Sent,
                    barter_core::order::OrderEvent::Report(report),
                ] {
                    order
                        .apply(event)
                        .map_err(|e| StoreError::InvalidInput(e.to_string()))?;
                    crate::orders::save_order_in::<codec::Backend, _>(
                        &mut $tx,
                        &order,
                        $at,
                        codec::money,
                        codec::get_money,
                    )
                    .await?;
                }
            }
        }
    }};
}

/// Also here, beside the ledger: trading entries of the history are found with it.
pub use crate::runs::HistoryFilter;

use reads::{POSITION_COLUMNS, account_from_row, id_of, position_from_row};
use statements::{
    BATCH_ROWS, Event, append, claim_ids, decided, decision_event, decision_rows, history_rows,
    insert_decision, insert_fill, lock_account, open_id, set_cash,
};

/// History kind of a stored decision (every row of `decisions` has one).
pub const EVENT_DECISION: &str = "decision";
/// History kind of a fill (opening or closing a position).
pub const EVENT_FILL: &str = "fill";
/// History kind of an entry the cash could not pay for.
pub const EVENT_REFUSAL: &str = "refusal";
/// History kind of a closed position, with its realized P&L.
pub const EVENT_CLOSE: &str = "close";

/// Implements `as_str`, `Display` and `FromStr` from one list of database names.
macro_rules! named {
    ($type:ident, $what:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $type {
            /// The name used in the database and JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $type {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(Self::$variant),)+
                    other => Err(format!(concat!("unknown ", $what, " `{}`"), other)),
                }
            }
        }
    };
}

/// Whether a decision is about opening or closing a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Whether to open a position.
    Entry,
    /// Whether to close an open position.
    Exit,
}

named!(DecisionKind, "decision kind", { Entry => "entry", Exit => "exit" });

/// How a stored decision came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionOutcome {
    /// The rule passed (and the position was opened or closed).
    Passed,
    /// The rule did not pass.
    Failed,
    /// Some input had no value yet: no action.
    NotReady,
    /// Not evaluated or not acted on, for the reason in the detail (e.g. already open).
    Skipped,
    /// The rule passed but the order was refused (e.g. not enough cash); amounts in the detail.
    Refused,
}

named!(DecisionOutcome, "decision outcome", {
    Passed => "passed",
    Failed => "failed",
    NotReady => "not_ready",
    Skipped => "skipped",
    Refused => "refused",
});

impl From<Outcome> for DecisionOutcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Passed => Self::Passed,
            Outcome::Failed => Self::Failed,
            Outcome::NotReady => Self::NotReady,
        }
    }
}

/// Whether a position is open or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionStatus {
    /// Still held.
    Open,
    /// Sold.
    Closed,
}

named!(PositionStatus, "position status", { Open => "open", Closed => "closed" });

/// A decision to store: one strategy, one instrument, one decision day, entry or exit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDecision {
    /// The strategy's name.
    pub strategy: String,
    /// The instrument.
    pub symbol: Symbol,
    /// The decision day (the close the decision was taken on), not the fill day.
    pub day: Day,
    /// Entry or exit.
    pub kind: DecisionKind,
    /// How it came out.
    pub outcome: DecisionOutcome,
    /// The value of each part of the rule at that moment, the explanation, etc.
    pub detail: Value,
}

/// A stored decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// Database id; later decisions have larger ids.
    pub id: i64,
    /// The run that took it, if any (cleared if that run is deleted).
    pub run: Option<RunId>,
    /// When it was stored.
    pub recorded_at: DateTime<Utc>,
    /// The position it opened or closed, if any.
    pub position: Option<PositionId>,
    /// The strategy's name.
    pub strategy: String,
    /// The instrument.
    pub symbol: Symbol,
    /// The decision day.
    pub day: Day,
    /// Entry or exit.
    pub kind: DecisionKind,
    /// How it came out (as stored: `skipped` or `refused` when the store did not act on it).
    pub outcome: DecisionOutcome,
    /// The stored detail (for skips and refusals, with the reason added).
    pub detail: Value,
}

/// The paper account's cash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    /// The cash it was created with (fixed).
    pub initial_cash: Money,
    /// The cash now.
    pub cash: Money,
}

/// What [`Store::open_position`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenOutcome {
    /// The position was opened, its fill stored and its cost paid.
    Opened(PositionId),
    /// This (strategy, symbol, day) entry was already decided: nothing was written.
    AlreadyDecided,
    /// The strategy already holds an open position in the instrument: the decision was stored
    /// as `skipped`, nothing else changed.
    AlreadyOpen,
    /// The cash cannot pay for the fill: the decision was stored as `refused` with a
    /// [`EVENT_REFUSAL`] history entry; cash unchanged.
    Refused {
        /// Gross plus fee.
        needed: Money,
        /// The cash available.
        available: Money,
    },
}

/// What [`Store::close_position`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseOutcome {
    /// The position was closed and the proceeds less the fee credited.
    Closed {
        /// Proceeds − cost − entry fee − exit fee.
        realized_pnl: Money,
    },
    /// This (strategy, symbol, day) exit was already decided: nothing was written.
    AlreadyDecided,
    /// The position does not exist or is already closed: nothing was written.
    NotOpen,
}

/// Which decisions [`Store::decisions`] returns; every set field must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionFilter {
    /// Only decisions about this instrument.
    pub symbol: Option<Symbol>,
    /// Only decisions of this strategy.
    pub strategy: Option<String>,
    /// Only decisions for this decision day or later.
    pub since: Option<Day>,
    /// Only decisions that opened or closed this position.
    pub position: Option<PositionId>,
    /// At most this many decisions.
    pub limit: u32,
}

impl Default for DecisionFilter {
    /// No condition, the latest 100 decisions.
    fn default() -> Self {
        Self {
            symbol: None,
            strategy: None,
            since: None,
            position: None,
            limit: 100,
        }
    }
}

/// What an open found, before the decision is stored.
enum Verdict {
    Open(PositionId),
    AlreadyOpen(Option<PositionId>),
    Refuse(Refusal),
}

impl Store {
    /// Creates the paper account with `initial_cash` unless it exists, and returns its state.
    /// The initial cash is fixed at creation: later calls return the existing state unchanged.
    ///
    /// # Errors
    /// [`StoreError::InvalidTrade`] for negative cash, [`StoreError::Database`] when a statement
    /// fails, [`StoreError::Corrupt`] for an unreadable row.
    pub async fn ensure_account(&self, initial_cash: Money) -> Result<AccountState, StoreError> {
        if initial_cash.0 < Decimal::ZERO {
            return Err(invalid(format!("initial cash {initial_cash} is negative")));
        }
        let action = || "create the paper account".to_owned();
        on_db!(&self.db, |pool| {
            let mut tx = codec::begin_write(pool).await.with_action(action)?;
            let now = timestamp(Utc::now());
            sqlx::query(
                "INSERT INTO account (id, initial_cash, cash, created_at, updated_at) \
                 VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
            )
            .bind(codec::money(initial_cash.0))
            .bind(codec::money(initial_cash.0))
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await
            .with_action(action)?;
            let row = sqlx::query(codec::LOCK_ACCOUNT)
                .fetch_one(&mut *tx)
                .await
                .with_action(action)?;
            let state = account_from_row(&row, codec::get_money)?;
            tx.commit().await.with_action(action)?;
            Ok(state)
        })
    }

    /// The paper account, if it was created.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn account(&self) -> Result<Option<AccountState>, StoreError> {
        on_db!(&self.db, |pool| {
            let row = sqlx::query("SELECT initial_cash, cash FROM account WHERE id = 1")
                .fetch_optional(pool)
                .await
                .action("read the paper account")?;
            row.map(|row| account_from_row(&row, codec::get_money))
                .transpose()
        })
    }

    /// The equity the entries decided for `day` are sized from: the one stored for that day, or
    /// else `computed`, stored now. The first trade job for a day stores it before it opens
    /// anything, so a resumed or concurrent job for the same day sizes from the same equity
    /// instead of one its own (or its twin's) opens have already changed.
    ///
    /// # Errors
    /// [`StoreError::Database`] when a query fails, [`StoreError::Corrupt`] for an unreadable
    /// row.
    pub async fn sizing_equity(&self, day: Day, computed: Money) -> Result<Money, StoreError> {
        let action = || format!("record the sizing equity of {day}");
        on_db!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO sizing_equity (day, equity, recorded_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (day) DO NOTHING",
            )
            .bind(day)
            .bind(codec::money(computed.0))
            .bind(timestamp(Utc::now()))
            .execute(pool)
            .await
            .with_action(action)?;
            let row = sqlx::query("SELECT equity FROM sizing_equity WHERE day = $1")
                .bind(day)
                .fetch_one(pool)
                .await
                .with_action(action)?;
            let equity = codec::get_money(&row, "equity")
                .map_err(|e| StoreError::corrupt("sizing_equity row", e))?;
            Ok(Money(equity))
        })
    }

    /// Stores a decision that opens or closes nothing (failed, not ready, skipped, refused by
    /// the fill model, …) with its [`EVENT_DECISION`] history entry, and for a refused one an
    /// [`EVENT_REFUSAL`] entry too, in one transaction. Returns `false` when this
    /// (strategy, symbol, day, kind) was already decided: nothing is written then.
    ///
    /// # Errors
    /// [`StoreError::UnknownRun`] when `run` names no run, [`StoreError::Database`] otherwise.
    pub async fn record_decision(
        &self,
        run: Option<RunId>,
        d: &NewDecision,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let stored = self
            .record_decisions(run, std::slice::from_ref(d), at)
            .await?;
        Ok(stored.first().copied().unwrap_or(false))
    }

    /// [`Store::record_decision`] for several decisions in one transaction (a job flushes one
    /// instrument's decisions at once); returns, per decision, whether it was stored.
    ///
    /// # Errors
    /// As [`Store::record_decision`]; nothing is written then.
    pub async fn record_decisions(
        &self,
        run: Option<RunId>,
        decisions: &[NewDecision],
        at: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        let Some(first) = decisions.first() else {
            return Ok(Vec::new());
        };
        let action = || {
            format!(
                "record {} decision(s), the first: {} of {} for {}",
                decisions.len(),
                first.kind,
                first.strategy,
                first.symbol
            )
        };
        on_db!(&self.db, |pool| {
            let mut tx = codec::begin_write(pool).await.with_action(action)?;
            let mut stored_flags = Vec::with_capacity(decisions.len());
            for chunk in decisions.chunks(BATCH_ROWS) {
                let rows = decision_rows::<codec::Backend>(run, chunk, at)
                    .build()
                    .fetch_all(&mut *tx)
                    .await
                    .with_action(action)
                    .map_err(unknown_run(run))?;
                let ids = claim_ids(chunk, &rows).with_action(action)?;
                let mut events = Vec::new();
                for (d, id) in chunk.iter().zip(&ids) {
                    let Some(id) = *id else { continue };
                    events.push(decision_event(run, d, id, d.outcome, &d.detail, None, at));
                    if let Some(n) = notices::of_decision(d, id, at) {
                        notify!(tx, n, action);
                    }
                    if d.outcome == DecisionOutcome::Refused {
                        let detail = json!({"decision_id": id, "detail": d.detail});
                        events.push(Event::new(run, at, EVENT_REFUSAL, d, None, detail));
                    }
                }
                for events in events.chunks(BATCH_ROWS) {
                    history_rows::<codec::Backend>(events)
                        .build()
                        .execute(&mut *tx)
                        .await
                        .with_action(action)?;
                }
                stored_flags.extend(ids.iter().map(Option::is_some));
            }
            tx.commit().await.with_action(action)?;
            Ok(stored_flags)
        })
    }

    /// Opens a position for the passed entry decision `d` with the buy `fill`, in one
    /// transaction: the decision, the position, its fill, the cash paid (gross + fee) and the
    /// [`EVENT_DECISION`] and [`EVENT_FILL`] history entries. See [`OpenOutcome`] for what is
    /// stored when the decision was already taken, a position is already open, or the cash is
    /// short.
    ///
    /// # Errors
    /// [`StoreError::InvalidTrade`] when `d` is not a passed entry or `fill` not a buy of `d`'s
    /// instrument, [`StoreError::NoAccount`] before [`Store::ensure_account`],
    /// [`StoreError::UnknownInstrument`], [`StoreError::UnknownRun`], [`StoreError::Database`];
    /// nothing is written then.
    pub async fn open_position(
        &self,
        run: Option<RunId>,
        d: &NewDecision,
        fill: &Fill,
        at: DateTime<Utc>,
    ) -> Result<OpenOutcome, StoreError> {
        check_trade(d, fill, DecisionKind::Entry, Side::Buy)?;
        let needed = Money(-fill.cash_delta().0);
        let action = || format!("open a position in {} for {}", d.symbol, d.strategy);
        on_db!(&self.db, |pool| {
            let (mut tx, account) = begin_trade!(pool, d, action, OpenOutcome::AlreadyDecided);
            let open = open_id::<codec::Backend>(&mut tx, &d.strategy, &d.symbol)
                .await
                .with_action(action)?;
            let verdict = if open.is_some() {
                Verdict::AlreadyOpen(open)
            } else if needed > account.cash {
                Verdict::Refuse(Refusal::InsufficientCash {
                    needed,
                    available: account.cash,
                })
            } else {
                // The partial unique index is the last word; under the account lock no other
                // open can be in flight, so a conflict here means a writer bypassed the store.
                let inserted = sqlx::query(
                    "INSERT INTO positions (strategy, symbol, quantity, entry_price, entry_day, \
                     entry_fee, status, opened_at) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7) \
                     ON CONFLICT (strategy, symbol) WHERE status = 'open' DO NOTHING RETURNING id",
                )
                .bind(d.strategy.as_str())
                .bind(d.symbol.as_str())
                .bind(codec::money(fill.quantity.0))
                .bind(codec::money(fill.price.0))
                .bind(fill.day)
                .bind(codec::money(fill.fee.0))
                .bind(timestamp(at))
                .fetch_optional(&mut *tx)
                .await
                .with_action(action)
                .map_err(|e| {
                    if e.is_foreign_key_violation() {
                        StoreError::UnknownInstrument(d.symbol.clone())
                    } else {
                        e
                    }
                })?;
                match inserted {
                    Some(row) => Verdict::Open(PositionId(id_of(&row, "positions.id")?)),
                    None => Verdict::AlreadyOpen(
                        open_id::<codec::Backend>(&mut tx, &d.strategy, &d.symbol)
                            .await
                            .with_action(action)?,
                    ),
                }
            };
            let (outcome, detail, position) = match &verdict {
                Verdict::Open(id) => (d.outcome, d.detail.clone(), Some(*id)),
                Verdict::AlreadyOpen(open) => {
                    let why = json!({"reason": "already_open", "open_position": open});
                    (
                        DecisionOutcome::Skipped,
                        annotate(&d.detail, "skipped", why),
                        None,
                    )
                }
                Verdict::Refuse(refusal) => {
                    let why = serde_json::to_value(refusal).unwrap_or(Value::Null);
                    (
                        DecisionOutcome::Refused,
                        annotate(&d.detail, "refusal", why),
                        None,
                    )
                }
            };
            let stored =
                insert_decision::<codec::Backend>(&mut tx, run, d, outcome, &detail, position, at)
                    .await
                    .with_action(action)
                    .map_err(unknown_run(run))?;
            let Some(decision) = stored else {
                return Ok(OpenOutcome::AlreadyDecided);
            };
            append::<codec::Backend>(
                &mut tx,
                decision_event(run, d, decision, outcome, &detail, position, at),
            )
            .await
            .with_action(action)?;
            let result = match verdict {
                Verdict::AlreadyOpen(_) => OpenOutcome::AlreadyOpen,
                Verdict::Refuse(refusal) => {
                    let detail = json!({"decision_id": decision, "refusal": refusal, "fill": fill});
                    let event = Event::new(run, at, EVENT_REFUSAL, d, None, detail);
                    append::<codec::Backend>(&mut tx, event)
                        .await
                        .with_action(action)?;
                    let why = format!(
                        "entry passed; refused: the cash ({}) cannot pay {needed}",
                        account.cash.0.normalize()
                    );
                    let n = barter_core::notify::Notification::refusal(
                        decision,
                        &d.strategy,
                        d.symbol.as_str(),
                        d.day,
                        &why,
                        at,
                    );
                    notify!(tx, n, action);
                    OpenOutcome::Refused {
                        needed,
                        available: account.cash,
                    }
                }
                Verdict::Open(id) => {
                    book_fill!(tx, run, d, id, fill, account.cash, at, action);
                    record_paper_order!(tx, d, Side::Buy, fill, at, action);
                    let facts = notices::paper_facts(id, d, fill);
                    notify!(
                        tx,
                        barter_core::notify::Notification::position_opened(&facts, at),
                        action
                    );
                    OpenOutcome::Opened(id)
                }
            };
            tx.commit().await.with_action(action)?;
            Ok(result)
        })
    }

    /// Closes open position `position` for the passed exit decision `d` with the sell `fill` of
    /// its whole quantity, in one transaction: the decision, the position's exit and realized
    /// P&L (proceeds − cost − entry fee − exit fee, exact), the fill, the cash received
    /// (gross − fee) and the [`EVENT_DECISION`], [`EVENT_FILL`] and [`EVENT_CLOSE`] history
    /// entries. Nothing is written when the exit was already decided or the position is not
    /// open (see [`CloseOutcome`]).
    ///
    /// # Errors
    /// [`StoreError::InvalidTrade`] when `d` is not a passed exit, `fill` not a sell of `d`'s
    /// instrument, or the position belongs to another strategy or instrument or holds another
    /// quantity; [`StoreError::NoAccount`], [`StoreError::UnknownRun`], [`StoreError::Corrupt`],
    /// [`StoreError::Database`]; nothing is written then.
    pub async fn close_position(
        &self,
        run: Option<RunId>,
        d: &NewDecision,
        position: PositionId,
        fill: &Fill,
        reason: ExitReason,
        at: DateTime<Utc>,
    ) -> Result<CloseOutcome, StoreError> {
        check_trade(d, fill, DecisionKind::Exit, Side::Sell)?;
        let action = || {
            format!(
                "close position {position} of {} in {}",
                d.strategy, d.symbol
            )
        };
        on_db!(&self.db, |pool| {
            let (mut tx, account) = begin_trade!(pool, d, action, CloseOutcome::AlreadyDecided);
            let sql = format!("SELECT {POSITION_COLUMNS} FROM positions WHERE id = $1");
            let row = sqlx::query(&sql)
                .bind(position.0)
                .fetch_optional(&mut *tx)
                .await
                .with_action(action)?;
            let Some(row) = row else {
                return Ok(CloseOutcome::NotOpen);
            };
            let mut held = position_from_row(&row, codec::get_money, codec::get_money_opt)?;
            if !held.is_open() {
                return Ok(CloseOutcome::NotOpen);
            }
            check_close(&held, d, fill)?;
            held.exit = Some(Exit {
                day: fill.day,
                price: fill.price,
                fee: fill.fee,
                reason,
            });
            let realized_pnl = held.realized_pnl().unwrap_or_default();
            let closed = sqlx::query(
                "UPDATE positions SET status = 'closed', exit_price = $2, exit_day = $3, \
                 exit_fee = $4, exit_reason = $5, realized_pnl = $6, closed_at = $7 \
                 WHERE id = $1 AND status = 'open'",
            )
            .bind(position.0)
            .bind(codec::money(fill.price.0))
            .bind(fill.day)
            .bind(codec::money(fill.fee.0))
            .bind(name_of(&reason))
            .bind(codec::money(realized_pnl.0))
            .bind(timestamp(at))
            .execute(&mut *tx)
            .await
            .with_action(action)?
            .rows_affected();
            if closed == 0 {
                return Ok(CloseOutcome::NotOpen);
            }
            let stored = insert_decision::<codec::Backend>(
                &mut tx,
                run,
                d,
                d.outcome,
                &d.detail,
                Some(position),
                at,
            )
            .await
            .with_action(action)
            .map_err(unknown_run(run))?;
            let Some(decision) = stored else {
                return Ok(CloseOutcome::AlreadyDecided);
            };
            let event = decision_event(run, d, decision, d.outcome, &d.detail, Some(position), at);
            append::<codec::Backend>(&mut tx, event)
                .await
                .with_action(action)?;
            book_fill!(tx, run, d, position, fill, account.cash, at, action);
            record_paper_order!(tx, d, Side::Sell, fill, at, action);
            let detail = json!({
                "decision_id": decision,
                "reason": reason,
                "realized_pnl": realized_pnl,
                "entry_day": held.entry_day,
                "entry_price": held.entry_price,
                "exit_day": fill.day,
                "exit_price": fill.price,
                "quantity": held.quantity,
            });
            let event = Event::new(run, at, EVENT_CLOSE, d, Some(position), detail);
            append::<codec::Backend>(&mut tx, event)
                .await
                .with_action(action)?;
            let facts = notices::paper_facts(position, d, fill);
            let n = barter_core::notify::Notification::position_closed(
                &facts,
                &realized_pnl.0.normalize().to_string(),
                &name_of(&reason),
                at,
            );
            notify!(tx, n, action);
            tx.commit().await.with_action(action)?;
            Ok(CloseOutcome::Closed { realized_pnl })
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

fn invalid(detail: impl Into<String>) -> StoreError {
    StoreError::InvalidTrade(detail.into())
}

/// `d` must be a passed decision of `kind` and `fill` a `side` fill of its instrument.
fn check_trade(
    d: &NewDecision,
    fill: &Fill,
    kind: DecisionKind,
    side: Side,
) -> Result<(), StoreError> {
    if d.kind != kind || d.outcome != DecisionOutcome::Passed {
        return Err(invalid(format!(
            "a {} {} decision cannot {} a position",
            d.outcome,
            d.kind,
            if kind == DecisionKind::Entry {
                "open"
            } else {
                "close"
            }
        )));
    }
    if fill.side != side {
        return Err(invalid(format!(
            "a {} fill cannot {} a position",
            name_of(&fill.side),
            if side == Side::Buy { "open" } else { "close" }
        )));
    }
    if fill.symbol != d.symbol {
        return Err(invalid(format!(
            "the fill is for {} but the decision for {}",
            fill.symbol, d.symbol
        )));
    }
    if fill.quantity.0 <= Decimal::ZERO {
        return Err(invalid(format!(
            "fill quantity {} is not positive",
            fill.quantity
        )));
    }
    Ok(())
}

/// The closing decision and fill must match the position they close.
fn check_close(held: &Position, d: &NewDecision, fill: &Fill) -> Result<(), StoreError> {
    if held.strategy != d.strategy || held.symbol != d.symbol {
        return Err(invalid(format!(
            "position {} belongs to {} in {}, not {} in {}",
            held.id, held.strategy, held.symbol, d.strategy, d.symbol
        )));
    }
    if held.quantity != fill.quantity {
        return Err(invalid(format!(
            "position {} holds {} {}, the closing fill sells {}",
            held.id, held.quantity, held.symbol, fill.quantity
        )));
    }
    Ok(())
}

/// Maps a foreign-key violation of the `run_id` column to [`StoreError::UnknownRun`].
fn unknown_run(run: Option<RunId>) -> impl FnOnce(StoreError) -> StoreError {
    move |e| match run {
        Some(run) if e.is_foreign_key_violation() => StoreError::UnknownRun(run),
        _ => e,
    }
}

/// `detail` with `key: value` added (an object detail), or wrapped as `{"rule": detail, key: value}`.
fn annotate(detail: &Value, key: &str, value: Value) -> Value {
    let mut object = match detail {
        Value::Object(map) => map.clone(),
        other => serde_json::Map::from_iter([("rule".to_owned(), other.clone())]),
    };
    object.insert(key.to_owned(), value);
    Value::Object(object)
}

/// The serde name of a unit enum variant of core (side, price basis, exit reason).
fn name_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => name,
        other => format!("{other:?}"),
    }
}

/// Parses a name written by [`name_of`].
fn parse_name<T: DeserializeOwned>(name: &str) -> Result<T, String> {
    serde_json::from_value(Value::String(name.to_owned())).map_err(|e| format!("`{name}`: {e}"))
}
