//! The exactly-once protocol: send an order, and resolve orders whose fate is not known yet.
//!
//! Every state change is saved to the [`Outbox`] before the next request about the order
//! leaves, so wherever a process dies the next run finds a record that says what to do:
//!
//! | the process died … | the stored order is | the next run |
//! |---|---|---|
//! | before the order was saved | absent | decides again; the decision's key lets one plan in |
//! | after saving it planned, before sending | planned | sends it (same client order id) |
//! | after saving it submitted, before or during the request | submitted | looks it up |
//! | after the venue answered, before saving the answer | submitted | looks it up, books it |
//! | during a lookup | submitted or unknown | looks it up again |
//!
//! An order is sent again only after [`LookupPolicy::attempts`] lookups in a row find no such
//! order, and then with the same client order id; a venue that placed the order is never asked
//! to place it twice.

use barter_core::order::{Order, OrderError, OrderEvent, OrderState, VenueReport};
use rust_decimal::Decimal;

use crate::outbox::{Outbox, OutboxError};
use crate::venue::{LookupPolicy, MarketReference, Venue, VenueError};

/// A step of the protocol that could not be completed; the stored order says where it stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// The order was not in a state the step handles (a caller's mistake, nothing was sent).
    #[error("order {client_order_id} is {state}: cannot {step} it")]
    WrongState {
        /// The order's client order id.
        client_order_id: String,
        /// Its state.
        state: OrderState,
        /// The step asked for.
        step: &'static str,
    },
    /// Saving failed; `sent` says whether the request had already left (then the stored order
    /// is submitted and the next run looks it up).
    #[error("order {client_order_id}: {source} ({})", if *sent {
        "the request was sent; the next run looks the order up"
    } else {
        "nothing was sent"
    })]
    Outbox {
        /// The order's client order id.
        client_order_id: String,
        /// Whether the request had left before the failure.
        sent: bool,
        /// The failure.
        source: OutboxError,
    },
    /// The venue's answer contradicts what is recorded (a final order reported in another
    /// state, an order the venue confirmed that it no longer finds): a person must look.
    #[error(
        "order {client_order_id}: the venue's answer contradicts the record ({problem}); \
         compare the venue's order history with `barter orders`"
    )]
    Contradiction {
        /// The order's client order id.
        client_order_id: String,
        /// What does not fit.
        problem: String,
    },
}

/// What sending an order led to.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// The order as saved: answered (filled, accepted, rejected, expired …) or unknown.
    pub order: Order,
    /// Why the venue gave no answer, when it did not.
    pub failure: Option<VenueError>,
}

/// What resolving an order led to.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// The order was planned and never sent: the caller sends it.
    Planned(Order),
    /// The venue reported on the order; it is saved in the state reported (which may still be
    /// open, e.g. a stock order accepted while the market is closed).
    Reported(Order),
    /// Every lookup the policy asks for found no such order: it is planned again, to be sent
    /// with the same client order id.
    NotPlaced(Order),
    /// The venue could not answer; the order is left as it was for the next run.
    Unanswered {
        /// The order, unchanged.
        order: Order,
        /// Why the venue did not answer.
        error: VenueError,
    },
}

/// Sends and resolves orders of one venue through one outbox.
pub struct Dispatcher<'a> {
    venue: &'a dyn Venue,
    outbox: &'a dyn Outbox,
    policy: LookupPolicy,
}

impl<'a> Dispatcher<'a> {
    /// A dispatcher for `venue`, saving to `outbox`, with the venue's lookup policy.
    pub fn new(venue: &'a dyn Venue, outbox: &'a dyn Outbox) -> Self {
        let mut policy = venue.lookup_policy();
        policy.attempts = policy.attempts.max(1);
        Self {
            venue,
            outbox,
            policy,
        }
    }

    /// Sends a planned order into `market`: saves it as submitted, sends it once, saves what
    /// the venue answered (or that the outcome is unknown).
    ///
    /// # Errors
    /// [`DispatchError::WrongState`] unless the order is planned; [`DispatchError::Outbox`]
    /// when a save fails; [`DispatchError::Contradiction`] when the answer cannot be applied
    /// (the order stays submitted and is looked up next time).
    pub async fn send(
        &self,
        mut order: Order,
        market: &MarketReference,
    ) -> Result<Sent, DispatchError> {
        if order.state() != OrderState::Planned {
            return Err(wrong_state(&order, "send"));
        }
        apply(&mut order, OrderEvent::Sent)?;
        self.save(&order, false).await?;
        let answer = self.venue.submit(&order, market).await;
        let failure = match answer {
            Ok(report) => {
                apply(&mut order, OrderEvent::Report(report))?;
                None
            }
            Err(VenueError::Refused { code, reason, .. }) => {
                let reason = match code {
                    Some(code) => format!("{reason} (code {code})"),
                    None => reason,
                };
                apply(&mut order, OrderEvent::Report(rejected(reason)))?;
                None
            }
            Err(error) => {
                apply(&mut order, OrderEvent::OutcomeUnknown)?;
                Some(error)
            }
        };
        self.save(&order, true).await?;
        Ok(Sent { order, failure })
    }

    /// Finds out what became of an order that is not final: a planned one is returned for
    /// sending; any other is looked up by its client order id.
    ///
    /// # Errors
    /// [`DispatchError::Outbox`] when a save fails, [`DispatchError::Contradiction`] when the
    /// venue's report does not fit the record or a confirmed order is no longer found.
    pub async fn resolve(&self, mut order: Order) -> Result<Resolution, DispatchError> {
        match order.state() {
            OrderState::Planned => return Ok(Resolution::Planned(order)),
            state if state.is_terminal() => return Err(wrong_state(&order, "resolve")),
            _ => {}
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.venue.lookup(&order).await {
                Ok(Some(report)) => {
                    apply(&mut order, OrderEvent::Report(report))?;
                    self.save(&order, true).await?;
                    return Ok(Resolution::Reported(order));
                }
                Ok(None) if attempt < self.policy.attempts => {
                    tokio::time::sleep(self.policy.interval).await;
                }
                Ok(None) => break,
                Err(error) => return Ok(Resolution::Unanswered { order, error }),
            }
        }
        // Not found, as often as the policy asks.
        match order.state() {
            OrderState::Submitted | OrderState::Unknown => {
                if order.state() == OrderState::Submitted {
                    // Saved on its own: the store lets an order become planned again only
                    // from unknown, the state that says "sent, outcome not known".
                    apply(&mut order, OrderEvent::OutcomeUnknown)?;
                    self.save(&order, true).await?;
                }
                apply(&mut order, OrderEvent::LookupNotFound)?;
                self.save(&order, true).await?;
                Ok(Resolution::NotPlaced(order))
            }
            state => Err(DispatchError::Contradiction {
                client_order_id: order.client_order_id().to_string(),
                problem: format!(
                    "the venue confirmed it ({state}) but no longer finds it after {} lookups",
                    self.policy.attempts
                ),
            }),
        }
    }

    /// Resolves every order of `account` that is not final, oldest first; orders that come
    /// back planned ([`Resolution::Planned`], [`Resolution::NotPlaced`]) are for the caller to
    /// send with [`Dispatcher::send`].
    ///
    /// # Errors
    /// The first failure to read or save; the orders resolved before it are saved.
    pub async fn resolve_unresolved(
        &self,
        account: &str,
    ) -> Result<Vec<Resolution>, DispatchError> {
        let orders =
            self.outbox
                .unresolved(account)
                .await
                .map_err(|source| DispatchError::Outbox {
                    client_order_id: format!("(account {account})"),
                    sent: false,
                    source,
                })?;
        let mut resolutions = Vec::with_capacity(orders.len());
        for order in orders {
            resolutions.push(self.resolve(order).await?);
        }
        Ok(resolutions)
    }

    async fn save(&self, order: &Order, sent: bool) -> Result<(), DispatchError> {
        self.outbox
            .save(order)
            .await
            .map_err(|source| DispatchError::Outbox {
                client_order_id: order.client_order_id().to_string(),
                sent,
                source,
            })
    }
}

/// A rejection report for a refused order.
fn rejected(reason: String) -> VenueReport {
    VenueReport {
        state: OrderState::Rejected,
        venue_order_id: None,
        executed_quantity: barter_core::Quantity(Decimal::ZERO),
        fills: Vec::new(),
        reason: Some(reason),
    }
}

fn apply(order: &mut Order, event: OrderEvent) -> Result<(), DispatchError> {
    order
        .apply(event)
        .map_err(|error: OrderError| DispatchError::Contradiction {
            client_order_id: order.client_order_id().to_string(),
            problem: error.to_string(),
        })
}

fn wrong_state(order: &Order, step: &'static str) -> DispatchError {
    DispatchError::WrongState {
        client_order_id: order.client_order_id().to_string(),
        state: order.state(),
        step,
    }
}
