//! Orders sent to a real venue: their life from plan to final state, their fills, and the
//! numbers a position is booked with.
//!
//! An [`Order`] only changes through [`Order::apply`], one [`OrderEvent`] at a time; an event
//! the current [`OrderState`] cannot take is an [`OrderError`] and leaves the order untouched.
//! The rules protect against the costly mistake, buying twice:
//! - an order is marked [`OrderState::Submitted`] (and stored) *before* the request leaves, so a
//!   crash mid-request leaves an order that is looked up, never re-sent blindly;
//! - a send without a usable answer makes it [`OrderState::Unknown`]; only lookups that keep
//!   finding no such order at the venue ([`OrderEvent::LookupNotFound`]) make it
//!   [`OrderState::Planned`] again, to be sent again with the same client order id;
//! - a final state (filled, rejected, canceled, expired) never changes, and a report that
//!   contradicts it is an error to look at by hand, not something to guess about;
//! - fills only grow: each is recorded once by its trade id however often it is reported, and
//!   a report that is older than what is known never moves the order back.
//!
//! The venue-specific parts live in the adapters: they map a venue's status to an
//! [`OrderState`] and its answer to a [`VenueReport`].
//!
//! # Submodules
//! - [`id`]: the client order id derived from the decision.
//! - [`filters`]: a venue's quantity and value rules, and formatting quantities for it.
//! - [`limits`]: the account's own limits on new positions.
//! - [`shadow`]: a venue's fill next to the paper model's for the same decision.

pub mod filters;
pub mod id;
pub mod limits;
pub mod shadow;

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use filters::{OrderRefusal, SymbolRules, format_quantity};
pub use id::{ClientOrderId, ClientOrderIdError, DERIVED_ID_LEN, MAX_CLIENT_ORDER_ID_LEN};
pub use limits::{AccountLimits, LimitRefusal};
pub use shadow::{ShadowFill, ShadowSummary};

use crate::Day;
use crate::execution::Side;
use crate::money::{Money, Price, Quantity};
use crate::symbol::Symbol;

/// The account and venue name of paper trading.
pub const PAPER: &str = "paper";

/// The venue order id and trade id the paper venue gives the order with `client_order_id`:
/// one order, one fill, named after the order.
pub fn paper_venue_id(client_order_id: &ClientOrderId) -> String {
    format!("{PAPER}-{client_order_id}")
}

/// The longest reason (rejection or expiry text) kept with an order, in characters.
pub const MAX_REASON_LEN: usize = 500;

/// The longest venue order id or trade id accepted (Alpaca's UUIDs are 36, Binance's are numbers).
pub const MAX_VENUE_ID_LEN: usize = 128;

/// The longest fee asset name accepted (`BTC`, `USDT`, `BNB`, `USD`).
const MAX_ASSET_LEN: usize = 20;

/// An order's id in the store (the database id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(pub i64);

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Decided and stored, not sent (or sent and proven absent from the venue).
    Planned,
    /// Being sent: the request may or may not have reached the venue yet.
    Submitted,
    /// The venue holds the order; nothing executed yet.
    Accepted,
    /// Part executed, the rest still working.
    PartiallyFilled,
    /// Completely executed (final).
    Filled,
    /// The venue refused the order (final).
    Rejected,
    /// Canceled by the venue, the user, or before it was ever sent (final; may hold fills).
    Canceled,
    /// Ended by the venue's rules, e.g. a market order that ran out of liquidity (final; may
    /// hold fills).
    Expired,
    /// Sent, but the answer was lost: the order may or may not exist at the venue.
    Unknown,
}

impl OrderState {
    /// Every state, in life order.
    pub const ALL: [Self; 9] = [
        Self::Planned,
        Self::Submitted,
        Self::Accepted,
        Self::PartiallyFilled,
        Self::Filled,
        Self::Rejected,
        Self::Canceled,
        Self::Expired,
        Self::Unknown,
    ];

    /// The name used in the database and JSON (its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Submitted => "submitted",
            Self::Accepted => "accepted",
            Self::PartiallyFilled => "partially_filled",
            Self::Filled => "filled",
            Self::Rejected => "rejected",
            Self::Canceled => "canceled",
            Self::Expired => "expired",
            Self::Unknown => "unknown",
        }
    }

    /// Whether the state is final: filled, rejected, canceled or expired.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Filled | Self::Rejected | Self::Canceled | Self::Expired
        )
    }

    /// Whether the order is, or may be, at the venue: it must be looked up before anything
    /// else is sent for the same decision.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Submitted | Self::Accepted | Self::PartiallyFilled | Self::Unknown
        )
    }

    /// How much a state says about the venue's side: a report never moves an order to a
    /// lower rank, so an answer older than what is known cannot undo it.
    fn rank(self) -> u8 {
        match self {
            Self::Planned => 0,
            Self::Submitted | Self::Unknown => 1,
            Self::Accepted => 2,
            Self::PartiallyFilled => 3,
            Self::Filled | Self::Rejected | Self::Canceled | Self::Expired => 4,
        }
    }

    /// The state after `event`, or why the event cannot happen now.
    ///
    /// Repeating what is already known is allowed and changes nothing (an acknowledgement or
    /// the same final report arriving twice); telling something new to a final state is not.
    ///
    /// # Errors
    /// [`OrderError::Final`] for a final state, [`OrderError::IllegalTransition`] for an event
    /// out of order, [`OrderError::NotAReportState`] and [`OrderError::ConflictingReport`] for
    /// reports that cannot be true.
    pub fn after(self, event: &OrderEvent) -> Result<Self, OrderError> {
        use OrderState::{Accepted, PartiallyFilled, Planned, Submitted, Unknown};
        let illegal = |hint: &'static str| OrderError::IllegalTransition {
            from: self,
            event: event.name(),
            hint,
        };
        let fin = || OrderError::Final {
            state: self,
            event: event.name(),
        };
        match event {
            OrderEvent::Sent => match self {
                Planned => Ok(Submitted),
                s if s.is_terminal() => Err(fin()),
                _ => Err(illegal(
                    "it may already be at the venue and sending it again could trade twice; \
                     look it up by its client order id first",
                )),
            },
            OrderEvent::Abandoned { .. } => match self {
                Planned => Ok(Self::Canceled),
                s if s.is_terminal() => Err(fin()),
                _ => Err(illegal(
                    "only an order that was never sent can be abandoned; one that may be at \
                     the venue must be looked up (and canceled there)",
                )),
            },
            OrderEvent::OutcomeUnknown => match self {
                Submitted | Unknown => Ok(Unknown),
                Planned => Err(illegal(
                    "the order was never sent, so no answer can be lost",
                )),
                Accepted | PartiallyFilled => Err(illegal(
                    "the venue already confirmed the order; look it up instead",
                )),
                _ => Err(fin()),
            },
            OrderEvent::LookupNotFound => match self {
                Unknown => Ok(Planned),
                Submitted => Err(illegal(
                    "a lookup can race the request still in flight; mark the outcome unknown \
                     once the request has failed, then look the order up",
                )),
                Planned => Err(illegal(
                    "the order was never sent; there is nothing to look up",
                )),
                Accepted | PartiallyFilled => Err(illegal(
                    "the venue confirmed this order before, so it must not be sent again; \
                     check it at the venue by hand",
                )),
                _ => Err(fin()),
            },
            OrderEvent::Acknowledged { .. } => match self {
                Submitted | Unknown | Accepted => Ok(Accepted),
                Planned => Err(illegal(
                    "the order was never sent; apply `sent` before sending it",
                )),
                // Older news than what is known: nothing changes.
                _ => Ok(self),
            },
            OrderEvent::Report(report) => {
                let reported = report.state;
                if matches!(reported, Planned | Submitted | Unknown) {
                    return Err(OrderError::NotAReportState(reported));
                }
                if self == Planned {
                    return Err(illegal(
                        "the order was never sent; apply `sent` before sending it",
                    ));
                }
                if self.is_terminal() {
                    return if reported == self || !reported.is_terminal() {
                        Ok(self)
                    } else {
                        Err(OrderError::ConflictingReport {
                            current: self,
                            reported,
                        })
                    };
                }
                Ok(if reported.rank() >= self.rank() {
                    reported
                } else {
                    self
                })
            }
        }
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that is not an order state name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an order state: use planned, submitted, accepted, partially_filled, filled, \
     rejected, canceled, expired or unknown"
)]
pub struct OrderStateError(pub String);

impl FromStr for OrderState {
    type Err = OrderStateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| OrderStateError(s.chars().take(40).collect()))
    }
}

/// Something that happened to an order; [`Order::apply`] turns it into the next state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderEvent {
    /// The request is about to leave for the venue. Store the order in its new state *before*
    /// sending, so a crash mid-request is looked up, never re-sent.
    Sent,
    /// The venue confirmed it holds the order without saying more: Binance's ACK answer, or a
    /// "duplicate order" rejection, which proves an order with this id exists.
    Acknowledged {
        /// The venue's id for the order, when the answer gives it.
        venue_order_id: Option<String>,
    },
    /// The send got no usable answer: timeout, connection reset, 5xx, Binance -1006/-1007.
    OutcomeUnknown,
    /// Lookups by client order id, repeated over several seconds, keep finding no such order.
    /// Binance can answer "does not exist" right after placing one, so a single answer is not
    /// enough; only then may the order be sent again.
    LookupNotFound,
    /// What a venue answer or a lookup says about the order.
    Report(VenueReport),
    /// The order will not be sent after all (for example the decision is stale).
    Abandoned {
        /// Why, kept as the order's reason.
        reason: String,
    },
}

impl OrderEvent {
    /// The event's name in messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Acknowledged { .. } => "acknowledged",
            Self::OutcomeUnknown => "outcome_unknown",
            Self::LookupNotFound => "lookup_not_found",
            Self::Report(_) => "report",
            Self::Abandoned { .. } => "abandoned",
        }
    }
}

/// What a venue answer or lookup says about an order, in venue-neutral terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueReport {
    /// The venue's status, mapped by the adapter (never planned, submitted or unknown).
    pub state: OrderState,
    /// The venue's id for the order, when the answer gives it.
    pub venue_order_id: Option<String>,
    /// The cumulative executed quantity the venue states (Binance `executedQty`, Alpaca
    /// `filled_qty`), which may be more than the fills listed (Binance's order lookup lists
    /// none).
    pub executed_quantity: Quantity,
    /// Individual trades, when the answer lists them.
    pub fills: Vec<OrderFill>,
    /// Why the order was rejected, canceled or expired, when the venue says.
    pub reason: Option<String>,
}

/// One trade that executed part of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFill {
    /// The venue's trade id: a fill reported twice is recorded once.
    pub trade_id: String,
    /// The trade price.
    pub price: Price,
    /// Units traded (> 0).
    pub quantity: Quantity,
    /// The commission charged (>= 0), in `fee_asset`: the bought asset, the quote currency or
    /// a third one such as BNB, so it is not [`Money`].
    pub fee: Decimal,
    /// The asset the fee was charged in (may be empty when the fee is zero).
    pub fee_asset: String,
}

impl OrderFill {
    /// Checks a fill from a venue, naming the first problem.
    fn check(&self) -> Result<(), OrderError> {
        let problem = if self.trade_id.is_empty() {
            Some("it has no trade id")
        } else if self.trade_id.chars().count() > MAX_VENUE_ID_LEN {
            Some("its trade id is longer than 128 characters")
        } else if self.price.0 <= Decimal::ZERO {
            Some("its price is not positive")
        } else if self.quantity.0 <= Decimal::ZERO {
            Some("its quantity is not positive")
        } else if self.fee < Decimal::ZERO {
            Some("its fee is negative")
        } else if self.fee_asset.is_empty() && !self.fee.is_zero() {
            Some("it has a fee but no fee asset")
        } else if self.fee_asset.chars().count() > MAX_ASSET_LEN {
            Some("its fee asset is longer than 20 characters")
        } else {
            None
        };
        match problem {
            None => Ok(()),
            Some(problem) => Err(OrderError::InvalidFill {
                trade_id: self.trade_id.chars().take(40).collect(),
                problem,
            }),
        }
    }
}

/// How much an order asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderAmount {
    /// Units of the instrument (Binance `quantity`, Alpaca `qty`).
    Quantity(Quantity),
    /// An amount of the quote currency to spend or receive (Binance `quoteOrderQty`, Alpaca
    /// `notional`); the venue chooses the quantity.
    Quote(Money),
}

impl OrderAmount {
    /// The order's value at `reference` (a quote amount is its own value), or `None` when it
    /// is beyond the decimal range.
    pub fn notional(self, reference: Price) -> Option<Money> {
        match self {
            Self::Quantity(q) => q.0.checked_mul(reference.0).map(Money),
            Self::Quote(m) => Some(m),
        }
    }

    fn is_positive(self) -> bool {
        match self {
            Self::Quantity(q) => q.0 > Decimal::ZERO,
            Self::Quote(m) => m.0 > Decimal::ZERO,
        }
    }
}

impl fmt::Display for OrderAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Quantity(q) => write!(f, "{q} units"),
            Self::Quote(m) => write!(f, "{m} of the quote currency"),
        }
    }
}

/// The decision an order carries out: which strategy wanted which side of which instrument on
/// which day (the day whose close the decision was taken on).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DecisionRef {
    /// The strategy's name.
    pub strategy: String,
    /// The instrument.
    pub symbol: Symbol,
    /// The decision day.
    pub day: Day,
    /// Buy or sell.
    pub side: Side,
}

/// An operation on an order that cannot be true; the order is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// The order is in a final state and the event would change it.
    #[error(
        "the order is already {state}, a final state: `{event}` cannot change it; a new \
         decision needs a new order"
    )]
    Final {
        /// The final state.
        state: OrderState,
        /// The refused event.
        event: &'static str,
    },
    /// The event cannot follow the current state.
    #[error("`{event}` cannot follow `{from}`: {hint}")]
    IllegalTransition {
        /// The current state.
        from: OrderState,
        /// The refused event.
        event: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// A report claimed a state only Barter can be in.
    #[error(
        "a venue report cannot say `{0}`: the venue adapter must map the venue's status to \
         accepted, partially_filled, filled, rejected, canceled or expired"
    )]
    NotAReportState(OrderState),
    /// A report names a different final state than the one already known.
    #[error(
        "the order is {current} but the venue now reports {reported}: both are final, so one \
         answer is wrong; check the order at the venue by hand"
    )]
    ConflictingReport {
        /// The known final state.
        current: OrderState,
        /// The reported final state.
        reported: OrderState,
    },
    /// A report or acknowledgement names another venue order id than the known one.
    #[error(
        "the order has venue id `{known}` but the venue's answer names `{reported}`: the \
         answer is about another order; check how the adapter looked it up"
    )]
    VenueOrderIdMismatch {
        /// The known venue id.
        known: String,
        /// The id in the answer.
        reported: String,
    },
    /// A venue order id is empty or too long.
    #[error(
        "the venue order id `{excerpt}` is not usable: it must have 1 to 128 characters; \
         check the venue adapter"
    )]
    InvalidVenueOrderId {
        /// The first characters of the id.
        excerpt: String,
    },
    /// The same trade id was reported with different details.
    #[error(
        "trade `{trade_id}` was reported twice with different price, quantity or fee: check \
         the order's trades at the venue by hand"
    )]
    ConflictingFill {
        /// The trade id.
        trade_id: String,
    },
    /// A fill's values cannot be true.
    #[error("trade `{trade_id}` from the venue is not usable: {problem}; check the venue adapter")]
    InvalidFill {
        /// The trade id (shortened).
        trade_id: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// A report's executed quantity is negative.
    #[error(
        "a venue report states a negative executed quantity {0}: the venue adapter must map \
         what was executed, zero or more"
    )]
    NegativeExecuted(Quantity),
    /// A final order's executed quantity would grow.
    #[error(
        "the order is {state} with {known} executed, but the venue now reports {reported}: a \
         final order's quantity cannot grow; check the order at the venue by hand"
    )]
    ExecutedAfterFinal {
        /// The final state.
        state: OrderState,
        /// The executed quantity known.
        known: Quantity,
        /// The executed quantity reported (or covered by the fills).
        reported: Quantity,
    },
    /// The venue states more executed than the known fills cover: booking would guess.
    #[error(
        "the venue reports {executed} executed but the known fills cover only {known}: fetch \
         the order's trades (Binance myTrades, Alpaca fill activities) before booking it"
    )]
    FillsIncomplete {
        /// The executed quantity the venue states.
        executed: Quantity,
        /// The quantity the known fills cover.
        known: Quantity,
    },
    /// Fees in the bought asset larger than what was bought.
    #[error("the fees taken in {asset} ({fee}) exceed the {quantity} bought: check the fills")]
    FeeExceedsQuantity {
        /// The bought asset.
        asset: String,
        /// The fees in it.
        fee: Decimal,
        /// The quantity bought.
        quantity: Quantity,
    },
    /// A sum or product left the decimal range.
    #[error("{what} is beyond the amounts that can be computed exactly")]
    Overflow {
        /// What overflowed.
        what: String,
    },
    /// The order asks for nothing.
    #[error("the order amount {0} is not positive: an order must buy or sell something")]
    InvalidAmount(OrderAmount),
    /// An account or strategy name is empty.
    #[error("the {0} name is empty: every order belongs to a named account and strategy")]
    EmptyName(&'static str),
    /// A stored order breaks the rules `apply` keeps.
    #[error(
        "a stored order is inconsistent: {0}; the record was changed outside Barter or \
         written by a bug"
    )]
    InvalidRecord(String),
}

/// An order as it is stored: every field, unchecked. [`Order::try_from`] checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// The store id, once stored.
    pub id: Option<OrderId>,
    /// The account the order is sent from.
    pub account: String,
    /// The decision it carries out.
    pub decision: DecisionRef,
    /// How much it asks for.
    pub amount: OrderAmount,
    /// The id Barter sends with it.
    pub client_order_id: ClientOrderId,
    /// The venue's id, once known.
    pub venue_order_id: Option<String>,
    /// Where it is in its life.
    pub state: OrderState,
    /// The trades known, each once.
    pub fills: Vec<OrderFill>,
    /// The largest executed quantity the venue stated (at least the fills' sum).
    pub executed_quantity: Quantity,
    /// Why it was rejected, canceled or expired ([`MAX_REASON_LEN`] characters at most).
    pub reason: Option<String>,
}

/// An order for one decision, sent (or to be sent) to a venue.
///
/// Two quantities are kept: [`Order::filled_quantity`], the sum of the known fills, and
/// [`Order::executed_quantity`], the most any venue answer stated. They differ when an answer
/// gives a total without the trades (Binance's order lookup). Booking uses the fills, because
/// only they carry prices and fees, and [`Order::net_quantity`] refuses until they cover the
/// executed quantity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "OrderRecord", into = "OrderRecord")]
pub struct Order {
    record: OrderRecord,
}

impl Order {
    /// A new order for `decision`, not yet sent, with its client order id derived.
    ///
    /// # Errors
    /// [`OrderError::EmptyName`] for an empty account or strategy name,
    /// [`OrderError::InvalidAmount`] when the amount is not positive.
    pub fn planned(
        account: &str,
        decision: DecisionRef,
        amount: OrderAmount,
    ) -> Result<Self, OrderError> {
        check_identity(account, &decision, amount)?;
        let client_order_id = ClientOrderId::derive(
            account,
            &decision.strategy,
            &decision.symbol,
            decision.day,
            decision.side,
        );
        Ok(Self {
            record: OrderRecord {
                id: None,
                account: account.to_owned(),
                decision,
                amount,
                client_order_id,
                venue_order_id: None,
                state: OrderState::Planned,
                fills: Vec::new(),
                executed_quantity: Quantity(Decimal::ZERO),
                reason: None,
            },
        })
    }

    /// Applies one event; on error the order is unchanged.
    ///
    /// # Errors
    /// [`OrderError`] when the event cannot happen in the current state or a report
    /// contradicts what is known.
    pub fn apply(&mut self, event: OrderEvent) -> Result<(), OrderError> {
        let state = self.record.state.after(&event)?;
        // Work on a copy: a report can fail halfway through its fills.
        let mut next = self.record.clone();
        match event {
            OrderEvent::Sent | OrderEvent::OutcomeUnknown | OrderEvent::LookupNotFound => {}
            OrderEvent::Acknowledged { venue_order_id } => {
                merge_venue_id(&mut next, venue_order_id)?;
            }
            OrderEvent::Abandoned { reason } => next.reason = bound_reason(&reason),
            OrderEvent::Report(report) => merge_report(&mut next, report)?,
        }
        next.state = state;
        self.record = next;
        Ok(())
    }

    /// The store id, once stored.
    pub fn id(&self) -> Option<OrderId> {
        self.record.id
    }

    /// Sets the store id (after the first insert).
    pub fn set_id(&mut self, id: OrderId) {
        self.record.id = Some(id);
    }

    /// The account the order is sent from.
    pub fn account(&self) -> &str {
        &self.record.account
    }

    /// The decision it carries out.
    pub fn decision(&self) -> &DecisionRef {
        &self.record.decision
    }

    /// The strategy that decided it.
    pub fn strategy(&self) -> &str {
        &self.record.decision.strategy
    }

    /// The instrument.
    pub fn symbol(&self) -> &Symbol {
        &self.record.decision.symbol
    }

    /// Buy or sell.
    pub fn side(&self) -> Side {
        self.record.decision.side
    }

    /// How much it asks for.
    pub fn amount(&self) -> OrderAmount {
        self.record.amount
    }

    /// The id Barter sends with it.
    pub fn client_order_id(&self) -> &ClientOrderId {
        &self.record.client_order_id
    }

    /// The venue's id, once known.
    pub fn venue_order_id(&self) -> Option<&str> {
        self.record.venue_order_id.as_deref()
    }

    /// Where it is in its life.
    pub fn state(&self) -> OrderState {
        self.record.state
    }

    /// The trades known, in the order they were first reported.
    pub fn fills(&self) -> &[OrderFill] {
        &self.record.fills
    }

    /// Why it was rejected, canceled or expired, when known.
    pub fn reason(&self) -> Option<&str> {
        self.record.reason.as_deref()
    }

    /// The stored form.
    pub fn record(&self) -> &OrderRecord {
        &self.record
    }

    /// The sum of the known fills' quantities.
    pub fn filled_quantity(&self) -> Quantity {
        // Cannot saturate: every merge checked the sum and keeps it <= the executed quantity.
        Quantity(
            self.record
                .fills
                .iter()
                .fold(Decimal::ZERO, |sum, f| sum.saturating_add(f.quantity.0)),
        )
    }

    /// The most any venue answer stated as executed (never less than the fills' sum).
    pub fn executed_quantity(&self) -> Quantity {
        self.record.executed_quantity
    }

    /// Whether the known fills cover everything the venue says was executed.
    pub fn fills_complete(&self) -> bool {
        self.filled_quantity() == self.record.executed_quantity
    }

    /// Σ price × quantity over the known fills, fees excluded.
    ///
    /// # Errors
    /// [`OrderError::Overflow`] beyond the decimal range.
    pub fn quote_spent(&self) -> Result<Money, OrderError> {
        let mut sum = Decimal::ZERO;
        for fill in &self.record.fills {
            sum = fill
                .quantity
                .0
                .checked_mul(fill.price.0)
                .and_then(|gross| sum.checked_add(gross))
                .ok_or_else(|| OrderError::Overflow {
                    what: format!("the value of the fills of order {}", self.client_order_id()),
                })?;
        }
        Ok(Money(sum))
    }

    /// The volume-weighted average price of the known fills; `None` before the first.
    ///
    /// # Errors
    /// [`OrderError::Overflow`] beyond the decimal range.
    pub fn average_price(&self) -> Result<Option<Price>, OrderError> {
        let quantity = self.filled_quantity();
        if quantity.0.is_zero() {
            return Ok(None);
        }
        let quote = self.quote_spent()?;
        quote
            .0
            .checked_div(quantity.0)
            .map(|p| Some(Price(p)))
            .ok_or_else(|| OrderError::Overflow {
                what: format!("the average price of order {}", self.client_order_id()),
            })
    }

    /// The fees charged in `asset` (compared ignoring ASCII case) over the known fills.
    ///
    /// # Errors
    /// [`OrderError::Overflow`] beyond the decimal range.
    pub fn fees_in(&self, asset: &str) -> Result<Decimal, OrderError> {
        let mut sum = Decimal::ZERO;
        for fill in &self.record.fills {
            if fill.fee_asset.eq_ignore_ascii_case(asset) {
                sum = sum
                    .checked_add(fill.fee)
                    .ok_or_else(|| OrderError::Overflow {
                        what: format!("the {asset} fees of order {}", self.client_order_id()),
                    })?;
            }
        }
        Ok(sum)
    }

    /// The change in the holding of `base_asset`, as a magnitude: the number a position is
    /// booked with.
    ///
    /// A buy receives the fills' quantity less the fees taken from it (Binance without BNB,
    /// Alpaca crypto); a sell gives up the fills' quantity plus any fee taken in the base
    /// asset. Fees in the quote currency or a third asset (BNB) leave it unchanged.
    ///
    /// # Errors
    /// [`OrderError::FillsIncomplete`] while the venue states more executed than the fills
    /// cover, [`OrderError::FeeExceedsQuantity`] when the base fees exceed what a buy got,
    /// [`OrderError::Overflow`] beyond the decimal range.
    pub fn net_quantity(&self, base_asset: &str) -> Result<Quantity, OrderError> {
        self.require_complete()?;
        let gross = self.filled_quantity();
        let fee = self.fees_in(base_asset)?;
        match self.side() {
            Side::Buy => {
                if fee > gross.0 {
                    return Err(OrderError::FeeExceedsQuantity {
                        asset: base_asset.to_owned(),
                        fee,
                        quantity: gross,
                    });
                }
                Ok(Quantity(gross.0 - fee))
            }
            Side::Sell => {
                gross
                    .0
                    .checked_add(fee)
                    .map(Quantity)
                    .ok_or_else(|| OrderError::Overflow {
                        what: format!("the quantity sold by order {}", self.client_order_id()),
                    })
            }
        }
    }

    /// The change in the quote currency, as a magnitude: what a buy paid (value plus fees in
    /// `quote_asset`) or a sell received (value less them). A fee in a third asset (BNB) is a
    /// separate cost and is not in it.
    ///
    /// # Errors
    /// As [`Order::net_quantity`].
    pub fn net_quote(&self, quote_asset: &str) -> Result<Money, OrderError> {
        self.require_complete()?;
        let value = self.quote_spent()?.0;
        let fee = self.fees_in(quote_asset)?;
        let net = match self.side() {
            Side::Buy => value.checked_add(fee),
            Side::Sell => value.checked_sub(fee),
        };
        net.map(Money).ok_or_else(|| OrderError::Overflow {
            what: format!("the cash of order {}", self.client_order_id()),
        })
    }

    fn require_complete(&self) -> Result<(), OrderError> {
        if self.fills_complete() {
            Ok(())
        } else {
            Err(OrderError::FillsIncomplete {
                executed: self.record.executed_quantity,
                known: self.filled_quantity(),
            })
        }
    }
}

impl TryFrom<OrderRecord> for Order {
    type Error = OrderError;

    /// Checks a stored order keeps the rules [`Order::apply`] keeps.
    fn try_from(record: OrderRecord) -> Result<Self, Self::Error> {
        let invalid = |problem: String| OrderError::InvalidRecord(problem);
        check_identity(&record.account, &record.decision, record.amount)?;
        if let Some(id) = &record.venue_order_id {
            check_venue_id(id)?;
        }
        if let Some(reason) = &record.reason
            && reason.chars().count() > MAX_REASON_LEN
        {
            return Err(invalid(format!(
                "its reason is longer than {MAX_REASON_LEN} characters"
            )));
        }
        let mut sum = Decimal::ZERO;
        for (i, fill) in record.fills.iter().enumerate() {
            fill.check()?;
            if record.fills[..i]
                .iter()
                .any(|f| f.trade_id == fill.trade_id)
            {
                return Err(invalid(format!(
                    "trade `{}` is listed twice",
                    fill.trade_id
                )));
            }
            sum = sum
                .checked_add(fill.quantity.0)
                .ok_or_else(|| invalid("its fills' quantities overflow".to_owned()))?;
        }
        if sum > record.executed_quantity.0 {
            return Err(invalid(format!(
                "its fills add up to {sum}, more than its executed quantity {}",
                record.executed_quantity
            )));
        }
        let unsent = matches!(
            record.state,
            OrderState::Planned | OrderState::Submitted | OrderState::Unknown
        );
        // Nothing from the venue can be known in a state no venue answer has reached.
        if unsent
            && (record.venue_order_id.is_some()
                || !record.fills.is_empty()
                || !record.executed_quantity.0.is_zero())
        {
            return Err(invalid(format!(
                "it is {} but holds a venue id, fills or an executed quantity",
                record.state
            )));
        }
        Ok(Self { record })
    }
}

impl From<Order> for OrderRecord {
    fn from(order: Order) -> Self {
        order.record
    }
}

fn check_identity(
    account: &str,
    decision: &DecisionRef,
    amount: OrderAmount,
) -> Result<(), OrderError> {
    if account.trim().is_empty() {
        return Err(OrderError::EmptyName("account"));
    }
    if decision.strategy.trim().is_empty() {
        return Err(OrderError::EmptyName("strategy"));
    }
    if !amount.is_positive() {
        return Err(OrderError::InvalidAmount(amount));
    }
    Ok(())
}

fn check_venue_id(id: &str) -> Result<(), OrderError> {
    if id.is_empty() || id.chars().count() > MAX_VENUE_ID_LEN {
        return Err(OrderError::InvalidVenueOrderId {
            excerpt: id.chars().take(40).collect(),
        });
    }
    Ok(())
}

fn merge_venue_id(record: &mut OrderRecord, reported: Option<String>) -> Result<(), OrderError> {
    let Some(reported) = reported else {
        return Ok(());
    };
    check_venue_id(&reported)?;
    match &record.venue_order_id {
        Some(known) if *known != reported => Err(OrderError::VenueOrderIdMismatch {
            known: known.clone(),
            reported,
        }),
        Some(_) => Ok(()),
        None => {
            record.venue_order_id = Some(reported);
            Ok(())
        }
    }
}

fn merge_report(record: &mut OrderRecord, report: VenueReport) -> Result<(), OrderError> {
    if report.executed_quantity.0 < Decimal::ZERO {
        return Err(OrderError::NegativeExecuted(report.executed_quantity));
    }
    merge_venue_id(record, report.venue_order_id)?;
    for fill in report.fills {
        fill.check()?;
        match record.fills.iter().find(|f| f.trade_id == fill.trade_id) {
            Some(known) if *known == fill => {}
            Some(_) => {
                return Err(OrderError::ConflictingFill {
                    trade_id: fill.trade_id,
                });
            }
            None => record.fills.push(fill),
        }
    }
    let mut covered = Decimal::ZERO;
    for fill in &record.fills {
        covered = covered
            .checked_add(fill.quantity.0)
            .ok_or_else(|| OrderError::Overflow {
                what: format!("the fills of order {}", record.client_order_id),
            })?;
    }
    let executed = record
        .executed_quantity
        .0
        .max(report.executed_quantity.0)
        .max(covered);
    if record.state.is_terminal() && executed > record.executed_quantity.0 {
        return Err(OrderError::ExecutedAfterFinal {
            state: record.state,
            known: record.executed_quantity,
            reported: Quantity(executed),
        });
    }
    record.executed_quantity = Quantity(executed);
    if let Some(reason) = report.reason.as_deref().and_then(bound_reason) {
        record.reason = Some(reason);
    }
    Ok(())
}

/// `text` trimmed and cut to [`MAX_REASON_LEN`] characters (ending in `…` when cut), or `None`
/// when blank: venue messages are stored and shown, and must not grow without bound.
fn bound_reason(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.chars().count() <= MAX_REASON_LEN {
        return Some(text.to_owned());
    }
    let mut cut: String = text.chars().take(MAX_REASON_LEN - 1).collect();
    cut.push('…');
    Some(cut)
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn decision(side: Side) -> DecisionRef {
        DecisionRef {
            strategy: "trend".into(),
            symbol: Symbol::parse("BTC").expect("symbol"),
            day: "2026-12-07".parse().expect("day"),
            side,
        }
    }

    fn order(side: Side) -> Order {
        Order::planned(
            "main",
            decision(side),
            OrderAmount::Quantity(Quantity(dec!(0.01))),
        )
        .expect("planned")
    }

    fn sent(side: Side) -> Order {
        let mut o = order(side);
        o.apply(OrderEvent::Sent).expect("sent");
        o
    }

    fn fill(id: &str, price: Decimal, qty: Decimal, fee: Decimal, asset: &str) -> OrderFill {
        OrderFill {
            trade_id: id.into(),
            price: Price(price),
            quantity: Quantity(qty),
            fee,
            fee_asset: asset.into(),
        }
    }

    fn report(state: OrderState, executed: Decimal, fills: Vec<OrderFill>) -> VenueReport {
        VenueReport {
            state,
            venue_order_id: Some("52837461923".into()),
            executed_quantity: Quantity(executed),
            fills,
            reason: None,
        }
    }

    #[test]
    fn state_names_round_trip_and_match_serde() {
        for state in OrderState::ALL {
            assert_eq!(state.as_str().parse::<OrderState>(), Ok(state));
            let json = serde_json::to_string(&state).expect("json");
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
        let err = "Filled".parse::<OrderState>().expect_err("case matters");
        assert!(err.to_string().contains("partially_filled"), "{err}");
    }

    #[test]
    fn open_and_terminal_partition_the_sent_states() {
        let open: Vec<_> = OrderState::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .collect();
        let terminal: Vec<_> = OrderState::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            open,
            [
                OrderState::Submitted,
                OrderState::Accepted,
                OrderState::PartiallyFilled,
                OrderState::Unknown
            ]
        );
        assert_eq!(
            terminal,
            [
                OrderState::Filled,
                OrderState::Rejected,
                OrderState::Canceled,
                OrderState::Expired
            ]
        );
        assert!(!OrderState::Planned.is_open() && !OrderState::Planned.is_terminal());
    }

    #[test]
    fn a_lost_answer_is_looked_up_and_only_a_confirmed_absence_allows_a_resend() {
        let mut o = sent(Side::Buy);
        let id = o.client_order_id().clone();
        // Sending twice without knowing the outcome is refused.
        let err = o.apply(OrderEvent::Sent).expect_err("double send");
        assert!(err.to_string().contains("look it up"), "{err}");
        // A lookup racing the request is refused too.
        assert!(o.apply(OrderEvent::LookupNotFound).is_err());
        o.apply(OrderEvent::OutcomeUnknown).expect("unknown");
        assert_eq!(o.state(), OrderState::Unknown);
        assert!(o.state().is_open());
        o.apply(OrderEvent::LookupNotFound).expect("not found");
        assert_eq!(o.state(), OrderState::Planned);
        o.apply(OrderEvent::Sent).expect("sent again");
        assert_eq!(o.client_order_id(), &id, "resent with the same id");
    }

    #[test]
    fn a_lookup_that_finds_the_order_books_it() {
        let mut o = sent(Side::Buy);
        o.apply(OrderEvent::OutcomeUnknown).expect("unknown");
        o.apply(OrderEvent::Report(report(
            OrderState::Filled,
            dec!(0.01),
            vec![],
        )))
        .expect("found filled");
        assert_eq!(o.state(), OrderState::Filled);
        assert_eq!(o.venue_order_id(), Some("52837461923"));
        // A confirmed order can never be "not found" and resent.
        assert!(matches!(
            o.apply(OrderEvent::LookupNotFound),
            Err(OrderError::Final { .. })
        ));
    }

    #[test]
    fn binance_buy_with_the_fee_in_bnb_books_the_whole_quantity() {
        // fixtures/binance/order_market_buy_full.json
        let mut o = sent(Side::Buy);
        o.apply(OrderEvent::Report(report(
            OrderState::Filled,
            dec!(0.01000000),
            vec![
                fill(
                    "5012345678",
                    dec!(98412.35),
                    dec!(0.0064),
                    dec!(0.00077136),
                    "BNB",
                ),
                fill(
                    "5012345679",
                    dec!(98412.36),
                    dec!(0.0036),
                    dec!(0.00043389),
                    "BNB",
                ),
            ],
        )))
        .expect("filled");
        assert_eq!(o.net_quantity("BTC"), Ok(Quantity(dec!(0.01))));
        assert_eq!(o.quote_spent(), Ok(Money(dec!(984.123536))));
        assert_eq!(o.net_quote("USDT"), Ok(Money(dec!(984.123536))));
        assert_eq!(o.fees_in("bnb"), Ok(dec!(0.00120525)));
        assert_eq!(o.fees_in("BTC"), Ok(dec!(0)));
        assert_eq!(o.average_price(), Ok(Some(Price(dec!(98412.3536)))));
    }

    #[test]
    fn binance_buy_with_the_fee_in_base_books_the_quantity_less_the_fee() {
        // fixtures/binance/order_market_buy_full_fee_in_base.json
        let mut o = sent(Side::Buy);
        o.apply(OrderEvent::Report(report(
            OrderState::Filled,
            dec!(0.01),
            vec![
                fill(
                    "5012345690",
                    dec!(98412.35),
                    dec!(0.0064),
                    dec!(0.0000064),
                    "BTC",
                ),
                fill(
                    "5012345691",
                    dec!(98412.36),
                    dec!(0.0036),
                    dec!(0.0000036),
                    "BTC",
                ),
            ],
        )))
        .expect("filled");
        assert_eq!(o.filled_quantity(), Quantity(dec!(0.01)));
        assert_eq!(o.net_quantity("BTC"), Ok(Quantity(dec!(0.00999))));
    }

    #[test]
    fn binance_sell_with_the_fee_in_quote_sells_the_whole_quantity() {
        // fixtures/binance/order_market_sell_full.json
        let mut o = sent(Side::Sell);
        o.apply(OrderEvent::Report(report(
            OrderState::Filled,
            dec!(0.00999),
            vec![
                fill(
                    "5013998001",
                    dec!(98501),
                    dec!(0.005),
                    dec!(0.492505),
                    "USDT",
                ),
                fill(
                    "5013998002",
                    dec!(98500.99),
                    dec!(0.00499),
                    dec!(0.49151994),
                    "USDT",
                ),
            ],
        )))
        .expect("filled");
        assert_eq!(o.net_quantity("BTC"), Ok(Quantity(dec!(0.00999))));
        assert_eq!(o.quote_spent(), Ok(Money(dec!(984.0249401))));
        assert_eq!(o.net_quote("USDT"), Ok(Money(dec!(983.04091516))));
    }

    #[test]
    fn a_lookup_without_trades_blocks_booking_until_the_trades_arrive() {
        // Binance: the POST answer was lost; GET order says FILLED 0.01 but lists no fills.
        let mut o = sent(Side::Buy);
        o.apply(OrderEvent::OutcomeUnknown).expect("unknown");
        o.apply(OrderEvent::Report(report(
            OrderState::Filled,
            dec!(0.01),
            vec![],
        )))
        .expect("filled");
        assert_eq!(o.executed_quantity(), Quantity(dec!(0.01)));
        assert_eq!(o.filled_quantity(), Quantity(dec!(0)));
        let err = o.net_quantity("BTC").expect_err("incomplete");
        assert!(err.to_string().contains("0.01 executed"), "{err}");
        // myTrades then gives the trades; a final order takes them as they add nothing new.
        o.apply(OrderEvent::Report(report(
            OrderState::Filled,
            dec!(0.01),
            vec![
                fill("1", dec!(100), dec!(0.004), dec!(0.000004), "BTC"),
                fill("2", dec!(100), dec!(0.006), dec!(0.000006), "BTC"),
            ],
        )))
        .expect("trades");
        assert_eq!(o.net_quantity("BTC"), Ok(Quantity(dec!(0.00999))));
    }

    #[test]
    fn a_fill_reported_twice_counts_once_and_a_changed_one_is_refused() {
        let mut o = sent(Side::Buy);
        let f = fill("7", dec!(100), dec!(0.004), dec!(0), "");
        o.apply(OrderEvent::Report(report(
            OrderState::PartiallyFilled,
            dec!(0.004),
            vec![f.clone()],
        )))
        .expect("partial");
        o.apply(OrderEvent::Report(report(
            OrderState::PartiallyFilled,
            dec!(0.004),
            vec![f.clone()],
        )))
        .expect("again");
        assert_eq!(o.fills().len(), 1);
        assert_eq!(o.filled_quantity(), Quantity(dec!(0.004)));
        let before = o.clone();
        let changed = fill("7", dec!(101), dec!(0.004), dec!(0), "");
        assert_eq!(
            o.apply(OrderEvent::Report(report(
                OrderState::Filled,
                dec!(0.01),
                vec![fill("8", dec!(100), dec!(0.006), dec!(0), ""), changed],
            ))),
            Err(OrderError::ConflictingFill {
                trade_id: "7".into()
            })
        );
        assert_eq!(
            o, before,
            "a failed report changes nothing, not even its first fill"
        );
    }

    #[test]
    fn an_older_report_never_moves_the_order_back() {
        let mut o = sent(Side::Buy);
        o.apply(OrderEvent::Report(report(
            OrderState::PartiallyFilled,
            dec!(0.004),
            vec![],
        )))
        .expect("partial");
        o.apply(OrderEvent::Report(report(
            OrderState::Accepted,
            dec!(0),
            vec![],
        )))
        .expect("stale");
        assert_eq!(o.state(), OrderState::PartiallyFilled);
        assert_eq!(o.executed_quantity(), Quantity(dec!(0.004)));
        o.apply(OrderEvent::Acknowledged {
            venue_order_id: None,
        })
        .expect("late ack");
        assert_eq!(o.state(), OrderState::PartiallyFilled);
    }

    #[test]
    fn a_final_state_refuses_contradictions_with_what_to_do() {
        let mut o = sent(Side::Buy);
        let mut rejected = report(OrderState::Rejected, dec!(0), vec![]);
        rejected.reason = Some("Account has insufficient balance for requested action.".into());
        o.apply(OrderEvent::Report(rejected)).expect("rejected");
        assert_eq!(
            o.reason(),
            Some("Account has insufficient balance for requested action.")
        );
        let err = o
            .apply(OrderEvent::Report(report(
                OrderState::Filled,
                dec!(0.01),
                vec![],
            )))
            .expect_err("conflict");
        assert!(err.to_string().contains("by hand"), "{err}");
        let err = o.apply(OrderEvent::Sent).expect_err("final");
        assert!(err.to_string().contains("already rejected"), "{err}");
        // The same final answer again is fine.
        o.apply(OrderEvent::Report(report(
            OrderState::Rejected,
            dec!(0),
            vec![],
        )))
        .expect("repeat");
        // A final order's executed quantity cannot grow.
        let mut expired = sent(Side::Buy);
        expired
            .apply(OrderEvent::Report(report(
                OrderState::Expired,
                dec!(0.003),
                vec![],
            )))
            .expect("expired");
        assert!(matches!(
            expired.apply(OrderEvent::Report(report(
                OrderState::Expired,
                dec!(0.004),
                vec![]
            ))),
            Err(OrderError::ExecutedAfterFinal { .. })
        ));
    }

    #[test]
    fn reports_cannot_claim_internal_states_or_another_venue_id() {
        let mut o = sent(Side::Buy);
        for state in [
            OrderState::Planned,
            OrderState::Submitted,
            OrderState::Unknown,
        ] {
            assert_eq!(
                o.apply(OrderEvent::Report(report(state, dec!(0), vec![]))),
                Err(OrderError::NotAReportState(state))
            );
        }
        o.apply(OrderEvent::Acknowledged {
            venue_order_id: Some("A".into()),
        })
        .expect("ack");
        let mut other = report(OrderState::Filled, dec!(0.01), vec![]);
        other.venue_order_id = Some("B".into());
        assert!(matches!(
            o.apply(OrderEvent::Report(other)),
            Err(OrderError::VenueOrderIdMismatch { .. })
        ));
    }

    #[test]
    fn bad_fills_are_refused_with_the_problem() {
        let mut o = sent(Side::Buy);
        for (bad, problem) in [
            (fill("", dec!(1), dec!(1), dec!(0), "X"), "no trade id"),
            (fill("a", dec!(0), dec!(1), dec!(0), "X"), "price"),
            (fill("a", dec!(1), dec!(-1), dec!(0), "X"), "quantity"),
            (fill("a", dec!(1), dec!(1), dec!(-0.1), "X"), "negative"),
            (fill("a", dec!(1), dec!(1), dec!(0.1), ""), "no fee asset"),
        ] {
            let err = o
                .apply(OrderEvent::Report(report(
                    OrderState::Filled,
                    dec!(1),
                    vec![bad],
                )))
                .expect_err("bad fill");
            assert!(err.to_string().contains(problem), "{err}");
        }
        assert_eq!(o.state(), OrderState::Submitted);
    }

    #[test]
    fn only_a_planned_order_can_be_abandoned_and_long_reasons_are_cut() {
        let mut o = order(Side::Sell);
        o.apply(OrderEvent::Abandoned {
            reason: "é".repeat(800),
        })
        .expect("abandoned");
        assert_eq!(o.state(), OrderState::Canceled);
        let reason = o.reason().expect("reason");
        assert_eq!(reason.chars().count(), MAX_REASON_LEN);
        assert!(reason.ends_with('…'));
        let mut s = sent(Side::Sell);
        assert!(matches!(
            s.apply(OrderEvent::Abandoned { reason: "x".into() }),
            Err(OrderError::IllegalTransition { .. })
        ));
    }

    #[test]
    fn a_buy_whose_base_fees_exceed_it_is_refused() {
        let mut o = sent(Side::Buy);
        o.apply(OrderEvent::Report(report(
            OrderState::Filled,
            dec!(0.01),
            vec![fill("1", dec!(100), dec!(0.01), dec!(0.02), "BTC")],
        )))
        .expect("filled");
        assert!(matches!(
            o.net_quantity("BTC"),
            Err(OrderError::FeeExceedsQuantity { .. })
        ));
    }

    #[test]
    fn orders_are_planned_only_with_names_and_a_positive_amount() {
        let zero = OrderAmount::Quote(Money(dec!(0)));
        assert_eq!(
            Order::planned("main", decision(Side::Buy), zero),
            Err(OrderError::InvalidAmount(zero))
        );
        let amount = OrderAmount::Quantity(Quantity(dec!(1)));
        assert_eq!(
            Order::planned(" ", decision(Side::Buy), amount),
            Err(OrderError::EmptyName("account"))
        );
        let mut nameless = decision(Side::Buy);
        nameless.strategy.clear();
        assert_eq!(
            Order::planned("main", nameless, amount),
            Err(OrderError::EmptyName("strategy"))
        );
        let o = order(Side::Buy);
        assert_eq!(
            o.client_order_id(),
            &ClientOrderId::derive(
                "main",
                "trend",
                o.symbol(),
                "2026-12-07".parse().expect("day"),
                Side::Buy
            )
        );
    }

    #[test]
    fn stored_orders_round_trip_and_inconsistent_ones_are_refused() {
        let mut o = sent(Side::Buy);
        o.set_id(OrderId(42));
        o.apply(OrderEvent::Report(report(
            OrderState::Filled,
            dec!(0.01),
            vec![fill("1", dec!(100), dec!(0.01), dec!(0.00001), "BTC")],
        )))
        .expect("filled");
        let json = serde_json::to_string(&o).expect("json");
        let back: Order = serde_json::from_str(&json).expect("back");
        assert_eq!(back, o);

        let mut record = o.record().clone();
        record.executed_quantity = Quantity(dec!(0.001));
        let err = Order::try_from(record).expect_err("fills exceed executed");
        assert!(err.to_string().contains("more than its executed"), "{err}");

        let mut record = o.record().clone();
        record.state = OrderState::Unknown;
        assert!(matches!(
            Order::try_from(record),
            Err(OrderError::InvalidRecord(_))
        ));

        let mut record = o.record().clone();
        record.fills.push(record.fills[0].clone());
        record.executed_quantity = Quantity(dec!(0.02));
        assert!(Order::try_from(record).is_err(), "duplicate trade id");
    }

    #[test]
    fn amounts_have_a_notional_at_a_reference_price() {
        let q = OrderAmount::Quantity(Quantity(dec!(0.5)));
        assert_eq!(q.notional(Price(dec!(100))), Some(Money(dec!(50))));
        let m = OrderAmount::Quote(Money(dec!(500)));
        assert_eq!(m.notional(Price(dec!(3))), Some(Money(dec!(500))));
        let huge = OrderAmount::Quantity(Quantity(Decimal::MAX));
        assert_eq!(huge.notional(Price(dec!(2))), None);
    }
}
