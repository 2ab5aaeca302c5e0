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
//!
//! The real venues also implement [`VenueAccount`]: what the account holds, how an instrument
//! names its assets there, and a dry run that checks an order without placing it.

use std::time::Duration;

use async_trait::async_trait;
use barter_core::order::{Order, VenueReport};
use barter_core::{Candle, Price, Quantity, Side, Symbol};
use rust_decimal::Decimal;

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

/// One asset an account holds at a venue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VenueAsset {
    /// The asset as the venue names it in holdings (`BTC`, `USDT`, `USD`, `AAPL`, `BTCUSD`).
    pub asset: String,
    /// Available for new orders.
    pub free: Decimal,
    /// Held back by open orders (or otherwise not available).
    pub locked: Decimal,
}

/// What an account holds at its venue: for sizing, exits and reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VenueHoldings {
    /// Whether the account may place orders now.
    pub can_trade: bool,
    /// Every asset the venue listed for the account.
    pub assets: Vec<VenueAsset>,
}

impl VenueHoldings {
    /// The free amount of `asset` (zero when it is not listed).
    pub fn free(&self, asset: &str) -> Decimal {
        self.assets
            .iter()
            .filter(|a| a.asset == asset)
            .map(|a| a.free)
            .sum()
    }

    /// The whole amount of `asset`, free plus locked (zero when it is not listed).
    pub fn total(&self, asset: &str) -> Decimal {
        self.assets
            .iter()
            .filter(|a| a.asset == asset)
            .map(|a| a.free + a.locked)
            .sum()
    }
}

/// The asset an instrument buys at a venue and the one it pays with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentAssets {
    /// The asset bought, named as [`VenueHoldings`] names it (`BTC`, `AAPL`, `BTCUSD`).
    pub base: String,
    /// The asset paid with, named as [`VenueHoldings`] names it (`USDT`, `USD`).
    pub quote: String,
}

/// What a dry run would have sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DryRunOrder {
    /// The order in one line (`MARKET BUY 0.00123 BTCUSDT (client id …)`).
    pub description: String,
}

/// A real venue's account: what it holds, how instruments name their assets there, and a dry
/// run of an order.
///
/// Every failure is a [`VenueError`]; since none of these places an order, none is
/// [`VenueError::OutcomeUnknown`]. A symbol the venue cannot map (none configured, no such
/// asset) is [`VenueError::Unavailable`] naming the symbol and what to configure.
#[async_trait]
pub trait VenueAccount: Venue {
    /// Readies the venue for a job: Binance measures its server-time offset; Alpaca reads the
    /// account and refuses (unavailable) one that is not `ACTIVE`, or is blocked or suspended.
    ///
    /// # Errors
    /// When the venue cannot be reached, or the account cannot trade.
    async fn prepare(&self) -> Result<(), VenueError>;

    /// Every asset the account holds (see each venue for how cash and positions are named).
    ///
    /// # Errors
    /// When the venue cannot answer, or answers something unreadable.
    async fn holdings(&self) -> Result<VenueHoldings, VenueError>;

    /// The base and quote asset of `symbol` at this venue, named as
    /// [`VenueAccount::holdings`] names them.
    ///
    /// # Errors
    /// [`VenueError::Unavailable`] naming the symbol when the venue cannot map it, or when it
    /// cannot answer.
    async fn instrument_assets(&self, symbol: &Symbol) -> Result<InstrumentAssets, VenueError>;

    /// `quantity` of `symbol` fitted to the venue's rules for a market order on `side`, valued
    /// at `reference`: rounded down to the venue's step, refused below a minimum. An order is
    /// planned with the fitted quantity, so the venue is asked for exactly what is stored.
    ///
    /// # Errors
    /// [`VenueError::Refused`] naming the rule and the numbers when nothing fits,
    /// [`VenueError::Unavailable`] when the venue cannot say its rules now.
    async fn fit_quantity(
        &self,
        symbol: &Symbol,
        side: Side,
        quantity: Quantity,
        reference: Price,
    ) -> Result<Quantity, VenueError>;

    /// Checks `order` as the venue would, with the parameters [`Venue::submit`] would send,
    /// without placing it; answers what would have been sent.
    ///
    /// # Errors
    /// [`VenueError::Refused`] when the order would be refused (below a minimum, a filter),
    /// [`VenueError::Unavailable`] when the venue cannot check it now.
    async fn dry_run(
        &self,
        order: &Order,
        market: &MarketReference,
    ) -> Result<DryRunOrder, VenueError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdings_sum_free_and_locked_and_absent_assets_are_zero() {
        let holdings = VenueHoldings {
            can_trade: true,
            assets: vec![VenueAsset {
                asset: "USDT".into(),
                free: Decimal::new(40, 0),
                locked: Decimal::new(125, 1),
            }],
        };
        assert_eq!(holdings.free("USDT"), Decimal::new(40, 0));
        assert_eq!(holdings.total("USDT"), Decimal::new(525, 1));
        assert_eq!(holdings.free("BTC"), Decimal::ZERO);
        assert_eq!(holdings.total("BTC"), Decimal::ZERO);
    }
}
