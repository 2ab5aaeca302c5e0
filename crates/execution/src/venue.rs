//! The venue port: what Barter asks of any place that executes orders, paper or real.
//!
//! A venue answers a submitted order with a [`VenueReport`], or fails in one of three ways that
//! the exactly-once protocol ([`crate::dispatch`]) treats differently:
//! - [`VenueError::Refused`]: the venue rejected the order before executing any of it
//!   (insufficient balance, a filter): the order is final, nothing to look up;
//! - [`VenueError::Unavailable`]: the request was turned away before it could be executed
//!   (bad key, rate limit, clock skew): nothing was placed, but the order is still looked up
//!   before it is sent again, because an adapter can be wrong about "before";
//! - [`VenueError::OutcomeUnknown`]: the request may have been executed (timeout, dropped
//!   connection, 5xx, Binance -1006/-1007): the order must be found by its client order id
//!   before anything else happens. A venue adapter never resends an order itself.

use std::time::Duration;

use async_trait::async_trait;
use barter_core::Candle;
use barter_core::order::{Order, VenueReport};

/// The market an order is sent into, as the deciding job knew it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketReference {
    /// The candle of the decision day (its close is the reference price for a venue's minimums).
    pub decision: Candle,
    /// The following day's candle when it is already known (the paper venue fills at its open).
    pub next: Option<Candle>,
    /// The instrument's quote currency (`USD`, `USDT`): the asset paper fees are charged in.
    pub quote_asset: String,
}

/// How a venue failed to answer a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VenueError {
    /// The venue rejected the order before executing any of it; sending it again unchanged
    /// would be rejected again.
    #[error("{venue} refused the order: {reason}")]
    Refused {
        /// The venue's name.
        venue: String,
        /// The venue's own error code, when it gives one (Binance `-2010`, Alpaca `40310000`).
        code: Option<String>,
        /// Why, in the venue's words (bounded by the adapter).
        reason: String,
    },
    /// The request was turned away before it could be executed (bad key, rate limit, clock
    /// skew, maintenance).
    #[error("{venue} is unavailable: {detail}")]
    Unavailable {
        /// The venue's name.
        venue: String,
        /// What happened, without secrets.
        detail: String,
        /// How long the venue asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The request may or may not have been executed.
    #[error(
        "{venue} did not say what became of the request ({detail}); the order is looked up by \
         its client order id before anything is sent again"
    )]
    OutcomeUnknown {
        /// The venue's name.
        venue: String,
        /// What happened, without secrets.
        detail: String,
    },
}

/// How a venue's "no such order" answers are trusted: only after `attempts` lookups in a row,
/// `interval` apart, all say so. Binance can answer "order does not exist" (-2013) right after
/// accepting an order; Hummingbot waits for three answers in a row, and so does Barter by
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupPolicy {
    /// Lookups that must all find nothing (at least 1).
    pub attempts: u32,
    /// The wait between two lookups.
    pub interval: Duration,
}

impl Default for LookupPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            interval: Duration::from_secs(2),
        }
    }
}

/// A place that executes orders: the paper venue or a real exchange or broker.
#[async_trait]
pub trait Venue: Send + Sync {
    /// The venue's name in messages and records (`paper`, `binance`, `alpaca`).
    fn name(&self) -> &str;

    /// Whether its orders move real money (a live account), for banners and guards.
    fn is_live(&self) -> bool;

    /// How far its "no such order" answers are trusted (see [`LookupPolicy`]).
    fn lookup_policy(&self) -> LookupPolicy {
        LookupPolicy::default()
    }

    /// Sends `order`, which is already stored as submitted, into `market`; returns what the
    /// venue answered. Never resends on its own: a failure that may have placed the order is
    /// [`VenueError::OutcomeUnknown`].
    ///
    /// # Errors
    /// See [`VenueError`].
    async fn submit(
        &self,
        order: &Order,
        market: &MarketReference,
    ) -> Result<VenueReport, VenueError>;

    /// Looks `order` up by its client order id: `Ok(None)` when the venue says it has no such
    /// order (which [`LookupPolicy`] decides how far to believe).
    ///
    /// # Errors
    /// When the venue cannot answer; the order stays as it was.
    async fn lookup(&self, order: &Order) -> Result<Option<VenueReport>, VenueError>;
}
