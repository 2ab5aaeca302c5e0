//! Trading through a venue account (`[accounts.NAME]`): the exactly-once protocol of
//! `barter_execution` inside the daily jobs.
//!
//! Every job starts each venue account the same way ([`Session::start`]): ready the venue (its
//! clock, its account status), resolve the orders an earlier run left open or unknown (looked
//! up by client order id; planned ones are sent), book the final orders no position was booked
//! from yet, and read the account's holdings. Then, per passing decision:
//! 1. the paper fill model prices the order (its quantity, and the *shadow fill* kept in the
//!    decision so the venue's fill can be compared with it);
//! 2. the account's limits are checked;
//! 3. the decision and its planned order are committed together ([`Store::decide_with_order`]);
//! 4. the order is sent once ([`Dispatcher::send`]); the answer is saved;
//! 5. a final order with fills is booked ([`Store::book_venue_order`]): quantity net of a fee
//!    taken in the bought asset, the average price, fees valued in the quote currency.
//!
//! A venue that cannot be reached makes the account's passing decisions errors *without*
//! recording them, so a later run the same day decides them again; nothing is ever sent twice
//! (the decision's key and the order's client id see to that).

use std::collections::HashMap;
use std::sync::Arc;

use barter_core::order::{AccountLimits, DecisionRef, Order, OrderAmount, OrderState};
use barter_core::{Candle, Fill, Money, Position, PriceBasis, Quantity, Side, Symbol};
use barter_execution::{
    Dispatcher, InstrumentAssets, MarketReference, Resolution, StoreOutbox, Venue, VenueAccount,
    VenueHoldings,
};
use barter_store::Store;
use barter_store::trading::{Booked, DecidedOrder, NewDecision, PositionStatus};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::json;

use super::journal::Journal;

/// A venue account the jobs trade through.
pub struct TradingAccount {
    /// The account's name (`[accounts.NAME]`), also the `account` of its orders and positions.
    pub name: String,
    /// The venue.
    pub venue: Arc<dyn VenueAccount>,
    /// The account's limits on new entries.
    pub limits: AccountLimits,
}

/// One venue account during one job.
pub(super) struct Session<'a> {
    account: &'a TradingAccount,
    /// Why the account cannot trade in this job, when it cannot.
    blocked: Option<String>,
    holdings: VenueHoldings,
    assets: HashMap<Symbol, InstrumentAssets>,
    /// Quote spent by this job's entries, per quote asset (holdings are read once).
    spent: HashMap<String, Decimal>,
    /// What the account's entries opened today cost, for `max_daily_notional`.
    pub(super) spent_today: Money,
    /// The account's open positions, for `max_open_positions`.
    pub(super) open_positions: u32,
    /// The equity entries are sized from, read at the first passing entry.
    equity: Option<Money>,
    /// The orders still open at the venue after resolution (a stock order waiting for the
    /// open), by strategy, instrument and side: no second order goes out beside one.
    open_orders: HashMap<(String, Symbol, Side), String>,
    dry_run: bool,
}

impl<'a> Session<'a> {
    /// Readies `account` for a job: prepares the venue, resolves and books what earlier runs
    /// left, reads the holdings. A failure blocks the account for this job (reported with each
    /// of its decisions), never the job.
    pub(super) async fn start(
        store: &Store,
        account: &'a TradingAccount,
        state: &mut Journal,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Session<'a> {
        let mut session = Session {
            account,
            blocked: None,
            holdings: VenueHoldings {
                can_trade: false,
                assets: Vec::new(),
            },
            assets: HashMap::new(),
            spent: HashMap::new(),
            spent_today: Money(Decimal::ZERO),
            open_positions: 0,
            equity: None,
            open_orders: HashMap::new(),
            dry_run,
        };
        if let Err(error) = session.ready(store, state, now).await {
            session.blocked = Some(format!("account {}: {error:#}", account.name));
        }
        session
    }

    async fn ready(
        &mut self,
        store: &Store,
        state: &mut Journal,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let venue = self.account.venue.as_ref();
        venue.prepare().await?;
        if !self.dry_run {
            let outbox = StoreOutbox::new(store.clone());
            let dispatcher = Dispatcher::new(venue as &dyn Venue, &outbox);
            for resolution in dispatcher.resolve_unresolved(&self.account.name).await? {
                match resolution {
                    Resolution::Planned(order) | Resolution::NotPlaced(order) => {
                        let market = self.market(store, &order).await?;
                        let sent = dispatcher.send(order, &market).await?;
                        let why = match &sent.failure {
                            Some(error) => format!("sent again after a crash; {error}"),
                            None => "sent after an earlier run planned it".to_owned(),
                        };
                        report_order(state, &sent.order, &why);
                    }
                    Resolution::Reported(order) => {
                        report_order(state, &order, "looked up at the venue");
                    }
                    Resolution::Unanswered { order, error } => {
                        let why = format!("still unknown: {error}");
                        report_order(state, &order, &why);
                    }
                }
            }
            for order in store.unbooked_orders(&self.account.name).await? {
                self.book(store, state, &order, now).await?;
            }
            for order in store.unresolved_orders(Some(&self.account.name)).await? {
                let key = (
                    order.strategy().to_owned(),
                    order.symbol().clone(),
                    order.side(),
                );
                self.open_orders.insert(
                    key,
                    format!("{} ({})", order.client_order_id(), order.state()),
                );
            }
        }
        self.holdings = venue.holdings().await?;
        let positions: Vec<(Symbol, Decimal)> = store
            .account_positions(&self.account.name, Some(PositionStatus::Open))
            .await?
            .into_iter()
            .map(|p| (p.symbol, p.quantity.0))
            .collect();
        self.open_positions = u32::try_from(positions.len()).unwrap_or(u32::MAX);
        self.report_drift(state, &positions).await;
        if !self.holdings.can_trade {
            anyhow::bail!(
                "{} says the account cannot trade now (check it at the venue)",
                venue.name()
            );
        }
        if self.account.limits.max_daily_notional.is_some() {
            let start = now
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .map_or(now, |midnight| midnight.and_utc());
            self.spent_today = store
                .entry_cost_opened_between(&self.account.name, start, start + chrono::Days::new(1))
                .await?;
        }
        Ok(())
    }

    /// Reports, as `drift` items of the run, where the venue's holdings and the account's
    /// open positions disagree (nothing is traded about it).
    /// `positions` are the account's open positions (instrument and quantity).
    async fn report_drift(&self, state: &mut Journal, positions: &[(Symbol, Decimal)]) {
        let report = super::drift::compare(self.account, self.holdings.clone(), positions).await;
        for drift in &report.drift {
            let symbol = drift
                .symbols
                .first()
                .cloned()
                .or_else(|| Symbol::parse(&drift.asset).ok());
            let Some(symbol) = symbol else { continue };
            state.push(
                &format!("reconcile:{}", self.account.name),
                &symbol,
                None,
                "drift",
                None,
                format!(
                    "{} {}: ledger {}, venue {}, difference {}: {}",
                    self.account.name,
                    drift.asset,
                    drift.ledger,
                    drift.venue,
                    drift.difference,
                    drift.note
                ),
            );
        }
    }

    /// Why the account cannot trade in this job, if it cannot.
    pub(super) fn blocked(&self) -> Option<&str> {
        self.blocked.as_deref()
    }

    /// The base and quote asset of `symbol` at the venue (read once per job).
    async fn assets(&mut self, symbol: &Symbol) -> anyhow::Result<InstrumentAssets> {
        if let Some(assets) = self.assets.get(symbol) {
            return Ok(assets.clone());
        }
        let assets = self.account.venue.instrument_assets(symbol).await?;
        self.assets.insert(symbol.clone(), assets.clone());
        Ok(assets)
    }

    /// The market an order of an earlier run is sent into: its decision candle.
    async fn market(&mut self, store: &Store, order: &Order) -> anyhow::Result<MarketReference> {
        let day = order.decision().day;
        let decision = store
            .candles(order.symbol(), Some(day), Some(day))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "order {}: the decision candle of {} on {day} is no longer stored",
                    order.client_order_id(),
                    order.symbol()
                )
            })?;
        let quote_asset = self.assets(order.symbol()).await?.quote;
        Ok(MarketReference {
            decision,
            next: None,
            quote_asset,
        })
    }

    /// The quote balance free for entries: the venue's, less what this job spent.
    async fn free_quote(&mut self, symbol: &Symbol) -> anyhow::Result<(String, Money)> {
        let quote = self.assets(symbol).await?.quote;
        let spent = self.spent.get(&quote).copied().unwrap_or_default();
        Ok((quote.clone(), Money(self.holdings.free(&quote) - spent)))
    }

    /// The cash and equity an entry in `symbol` is sized from: the free quote balance, and it
    /// plus `open` (this account's open positions, read only the first time) marked at
    /// `marks`; the equity is fixed at the first entry of the job.
    pub(super) async fn book_values<'p>(
        &mut self,
        symbol: &Symbol,
        open: impl IntoIterator<Item = &'p Position>,
        marks: &HashMap<Symbol, barter_core::Price>,
    ) -> anyhow::Result<(Money, Money)> {
        let (_, cash) = self.free_quote(symbol).await?;
        let equity = *self
            .equity
            .get_or_insert_with(|| Money(cash.0 + super::marked_value(open, marks)));
        Ok((cash, equity))
    }

    /// Carries out passed entry `record` as a market buy of `shadow`'s quantity (the paper fill
    /// model's fill for the same decision, kept to compare with the venue's).
    pub(super) async fn enter(
        &mut self,
        store: &Store,
        state: &mut Journal,
        mut record: NewDecision,
        shadow: Fill,
        decided_on: &Candle,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let (name, symbol, day) = (record.strategy.clone(), record.symbol.clone(), record.day);
        if let Some(open) = self
            .open_orders
            .get(&(name.clone(), symbol.clone(), Side::Buy))
        {
            // Not recorded: once the open order is final, a later run decides again.
            let why = format!(
                "entry passed but the earlier buy order {open} of {name} in {symbol} is still \
                 open at {}; nothing more is sent until it is final",
                self.account.venue.name()
            );
            state.push(&name, &symbol, Some(day), "skipped", None, why);
            return Ok(false);
        }
        let (quote, free) = self.free_quote(&symbol).await?;
        let cost = Money(shadow.gross.0.saturating_add(shadow.fee.0));
        if let Err(refusal) = self.account.limits.check_entry(
            &self.account.name,
            cost,
            self.spent_today,
            self.open_positions,
            free,
        ) {
            record.outcome = barter_store::trading::DecisionOutcome::Refused;
            record.detail["refusal"] = json!(refusal);
            record.detail["explanation"] = json!(format!(
                "entry passed; refused by the account's limits: {refusal}"
            ));
            state.record(record, "refused").await?;
            return Ok(false);
        }
        // The venue's step and minimums decide what can be bought: the order is planned with
        // exactly what will be sent.
        let venue = self.account.venue.as_ref();
        let fitted = venue
            .fit_quantity(&symbol, Side::Buy, shadow.quantity, decided_on.close())
            .await;
        let quantity = match fitted {
            Ok(quantity) => quantity,
            Err(barter_execution::VenueError::Refused { reason, .. }) => {
                record.outcome = barter_store::trading::DecisionOutcome::Refused;
                record.detail["refusal"] = json!(reason);
                record.detail["explanation"] = json!(format!(
                    "entry passed; {} would refuse the order, so none was sent: {reason}",
                    venue.name()
                ));
                state.record(record, "refused").await?;
                return Ok(false);
            }
            Err(error) => return Err(error.into()),
        };
        let decision = DecisionRef {
            strategy: name.clone(),
            symbol: symbol.clone(),
            day,
            side: Side::Buy,
        };
        let order = Order::planned(
            &self.account.name,
            decision,
            OrderAmount::Quantity(quantity),
        )?;
        record.detail["account"] = json!(self.account.name);
        record.detail["order"] = json!(order.client_order_id().as_str());
        record.detail["shadow"] = json!(shadow);
        let market = MarketReference {
            decision: decided_on.clone(),
            next: None,
            quote_asset: quote.clone(),
        };
        let sent = self
            .carry_out(store, state, &record, order, &market, now)
            .await?;
        if sent {
            *self.spent.entry(quote).or_default() += cost.0;
            self.spent_today = Money(self.spent_today.0.saturating_add(cost.0));
            self.open_positions = self.open_positions.saturating_add(1);
        }
        Ok(sent)
    }

    /// Carries out passed exit `record` of `position`: a market sell of what is held, never
    /// more than the position nor the venue's free balance of the instrument.
    pub(super) async fn exit(
        &mut self,
        store: &Store,
        state: &mut Journal,
        mut record: NewDecision,
        position: &Position,
        decided_on: &Candle,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let key = (record.strategy.clone(), record.symbol.clone(), Side::Sell);
        if let Some(open) = self.open_orders.get(&key) {
            let why = format!(
                "exit passed but the earlier sell order {open} is still open at {}; nothing \
                 more is sent until it is final",
                self.account.venue.name()
            );
            state.push(
                &record.strategy,
                &record.symbol,
                Some(record.day),
                "skipped",
                Some(position.id.0),
                why,
            );
            return Ok(());
        }
        let assets = self.assets(&position.symbol).await?;
        let held = self.holdings.free(&assets.base);
        let wanted = Quantity(position.quantity.0.min(held));
        // Rounded down to the venue's step: the dust left is reported by reconciliation.
        let quantity = if wanted.0 > Decimal::ZERO {
            match self
                .account
                .venue
                .fit_quantity(&position.symbol, Side::Sell, wanted, decided_on.close())
                .await
            {
                Ok(quantity) => quantity.0,
                Err(barter_execution::VenueError::Refused { reason, .. }) => {
                    state.push(
                        &record.strategy,
                        &record.symbol,
                        Some(record.day),
                        "error",
                        Some(position.id.0),
                        format!(
                            "exit passed but {} would refuse selling {wanted}: {reason}; \
                             nothing was sent",
                            self.account.venue.name()
                        ),
                    );
                    return Ok(());
                }
                Err(error) => return Err(error.into()),
            }
        } else {
            Decimal::ZERO
        };
        if quantity <= Decimal::ZERO {
            state.push(
                &record.strategy,
                &record.symbol,
                Some(record.day),
                "error",
                Some(position.id.0),
                format!(
                    "exit passed but {} holds no free {} to sell (position {} holds {}); \
                     nothing was sent: run `barter reconcile` and check the account",
                    self.account.name, assets.base, position.id, position.quantity
                ),
            );
            return Ok(());
        }
        let decision = DecisionRef {
            strategy: record.strategy.clone(),
            symbol: record.symbol.clone(),
            day: record.day,
            side: Side::Sell,
        };
        let order = Order::planned(
            &self.account.name,
            decision,
            OrderAmount::Quantity(Quantity(quantity)),
        )?;
        record.detail["account"] = json!(self.account.name);
        record.detail["order"] = json!(order.client_order_id().as_str());
        if quantity < position.quantity.0 {
            record.detail["short_of_position"] = json!({
                "position_quantity": position.quantity,
                "venue_free": held,
            });
        }
        let market = MarketReference {
            decision: decided_on.clone(),
            next: None,
            quote_asset: assets.quote,
        };
        self.carry_out(store, state, &record, order, &market, now)
            .await?;
        Ok(())
    }

    /// Steps 3 to 5 of the module's list for one decision; `true` when an order was sent (or
    /// would have been, in a dry run).
    async fn carry_out(
        &mut self,
        store: &Store,
        state: &mut Journal,
        record: &NewDecision,
        order: Order,
        market: &MarketReference,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let venue = self.account.venue.as_ref();
        if self.dry_run {
            let (outcome, why) = match venue.dry_run(&order, market).await {
                Ok(would) => ("dry_run", format!("would send: {}", would.description)),
                Err(error) => ("refused", format!("dry run: {error}")),
            };
            state.push(
                &record.strategy,
                &record.symbol,
                Some(record.day),
                outcome,
                None,
                why,
            );
            return Ok(outcome == "dry_run");
        }
        let order = match store
            .decide_with_order(Some(state.run), record, &order, now)
            .await?
        {
            DecidedOrder::Planned(order) => order,
            DecidedOrder::AlreadyDecided(order) => {
                let why = match &order {
                    Some(order) => format!(
                        "decided by an earlier run; its order {} is {}",
                        order.client_order_id(),
                        order.state()
                    ),
                    None => "decided by an earlier run".to_owned(),
                };
                state.push(
                    &record.strategy,
                    &record.symbol,
                    Some(record.day),
                    "already_decided",
                    None,
                    why,
                );
                return Ok(false);
            }
        };
        if order.state() != OrderState::Planned {
            // Planned by a concurrent job that is sending or sent it: its job reports it.
            report_order(state, &order, "planned by another job");
            return Ok(false);
        }
        let outbox = StoreOutbox::new(store.clone());
        let dispatcher = Dispatcher::new(venue as &dyn Venue, &outbox);
        let sent = dispatcher.send(order, market).await?;
        let why = match &sent.failure {
            Some(error) => error.to_string(),
            None => format!("sent to {}", venue.name()),
        };
        if sent.order.state().is_terminal() && !sent.order.fills().is_empty() {
            self.book(store, state, &sent.order, now).await?;
        } else {
            report_order(state, &sent.order, &why);
        }
        Ok(true)
    }

    /// Books final order `order` from its fills, and reports what it booked.
    async fn book(
        &mut self,
        store: &Store,
        state: &mut Journal,
        order: &Order,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let assets = self.assets(order.symbol()).await?;
        let Some(fill) = fill_of(order, &assets, now)? else {
            report_order(state, order, "nothing executed");
            return Ok(());
        };
        let booked = store
            .book_venue_order(Some(state.run), order, &fill, now)
            .await?;
        let (outcome, position, why) = match booked {
            Booked::Opened(id) => (
                "opened",
                Some(id),
                format!(
                    "bought {} at {} through {} (order {}, {})",
                    fill.quantity,
                    fill.price,
                    self.account.name,
                    order.client_order_id(),
                    order.state()
                ),
            ),
            Booked::Closed {
                position,
                realized_pnl,
                unsold,
            } => (
                "closed",
                Some(position),
                format!(
                    "sold {} at {} through {} (order {}); realized {realized_pnl}{}",
                    fill.quantity,
                    fill.price,
                    self.account.name,
                    order.client_order_id(),
                    if unsold.0 > Decimal::ZERO {
                        format!("; {unsold} was not sold and stays at the venue")
                    } else {
                        String::new()
                    }
                ),
            ),
            Booked::AlreadyBooked(id) => (
                "already_decided",
                Some(id),
                format!("order {} was booked before", order.client_order_id()),
            ),
            Booked::AlreadyOpen(id) => (
                "error",
                Some(id),
                format!(
                    "order {} bought {} but position {id} of the strategy is already open; \
                     not booked: check the venue's order history and `barter reconcile`",
                    order.client_order_id(),
                    fill.quantity
                ),
            ),
            Booked::NothingToClose => (
                "error",
                None,
                format!(
                    "order {} sold {} but the strategy has no open position in {} in account \
                     {}; not booked: check `barter reconcile`",
                    order.client_order_id(),
                    fill.quantity,
                    order.symbol(),
                    self.account.name
                ),
            ),
        };
        state.push(
            order.strategy(),
            order.symbol(),
            Some(order.decision().day),
            outcome,
            position.map(|p| p.0),
            why,
        );
        Ok(())
    }
}

/// Reports the state an order reached, as a run item.
fn report_order(state: &mut Journal, order: &Order, why: &str) {
    let outcome = match order.state() {
        OrderState::Rejected => "refused",
        OrderState::Unknown | OrderState::Submitted => "order_unknown",
        OrderState::Accepted | OrderState::PartiallyFilled => "order_pending",
        OrderState::Planned => "order_planned",
        OrderState::Canceled | OrderState::Expired | OrderState::Filled => "order_final",
    };
    let reason = order.reason().map(|r| format!(": {r}")).unwrap_or_default();
    state.push(
        order.strategy(),
        order.symbol(),
        Some(order.decision().day),
        outcome,
        None,
        format!(
            "order {} ({} {} of {}) is {}{reason}; {why}",
            order.client_order_id(),
            match order.side() {
                Side::Buy => "buy",
                Side::Sell => "sell",
            },
            order.amount(),
            order.symbol(),
            order.state()
        ),
    );
}

/// What booking `order` comes to, from its fills: the quantity net of a fee taken in the
/// bought asset, the average price, and the fees in the quote and base assets valued in the
/// quote currency (a fee paid in a third asset, such as BNB, is left out of P&L and shows in
/// reconciliation). `None` when nothing executed.
///
/// # Errors
/// The order's fills are incomplete or their sums leave the decimal range.
pub fn fill_of(
    order: &Order,
    assets: &InstrumentAssets,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Fill>> {
    let Some(price) = order.average_price()? else {
        return Ok(None);
    };
    let quantity = match order.side() {
        Side::Buy => order.net_quantity(&assets.base)?,
        Side::Sell => order.filled_quantity(),
    };
    if quantity.0 <= Decimal::ZERO {
        return Ok(None);
    }
    let base_fee = order.fees_in(&assets.base)?;
    let quote_fee = order.fees_in(&assets.quote)?;
    let fee = base_fee
        .checked_mul(price.0)
        .and_then(|v| v.checked_add(quote_fee))
        .ok_or_else(|| anyhow::anyhow!("order {}: fees too large", order.client_order_id()))?;
    let gross = quantity
        .0
        .checked_mul(price.0)
        .ok_or_else(|| anyhow::anyhow!("order {}: value too large", order.client_order_id()))?;
    Ok(Some(Fill {
        symbol: order.symbol().clone(),
        side: order.side(),
        day: now.date_naive(),
        price,
        basis: PriceBasis::Venue,
        quantity,
        gross: Money(gross),
        fee: Money(fee),
    }))
}
