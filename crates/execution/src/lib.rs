//! Barter's order execution: how a planned [`barter_core::order::Order`] reaches a venue and
//! comes back with what really happened, exactly once across timeouts, retries and crashes.
//!
//! # Layout (arrows point to what a module uses)
//! - [`venue`]: the asynchronous port every venue implements (paper, and the real ones), and the
//!   three ways a request can fail: refused, unavailable, or with an unknown outcome; and the
//!   account port of the real venues (holdings, instrument assets, dry runs).
//! - [`paper`]: the paper venue, filling orders with the core's fill model (→ venue).
//! - [`outbox`]: where orders are stored before and after every request (→ nothing here).
//! - [`dispatch`]: the send-and-resolve protocol over a venue and an outbox (→ venue, outbox).
//! - [`binance`]: the Binance Spot venue over the shared signed HTTP client (→ venue).
//! - [`alpaca`]: the Alpaca Trading API venue (paper and live hosts) (→ venue).
//! - [`store_outbox`]: the outbox of the live jobs, over `barter_store::Store` (→ outbox).
//!
//! The clock is read only to timestamp saved orders; the waits between lookups are the
//! venue's [`LookupPolicy`].

pub mod alpaca;
pub mod binance;
pub mod dispatch;
pub mod outbox;
pub mod paper;
pub mod store_outbox;
pub mod venue;

pub use alpaca::{Alpaca, AlpacaCredentials, AlpacaSettings};
pub use binance::{BinanceCredentials, BinanceSettings, BinanceSpot};
pub use dispatch::{DispatchError, Dispatcher, Resolution, Sent};
pub use outbox::{Outbox, OutboxError};
pub use paper::PaperVenue;
pub use store_outbox::StoreOutbox;
pub use venue::LookupPolicy;
pub use venue::{
    DryRunOrder, InstrumentAssets, MarketReference, Venue, VenueAccount, VenueAsset, VenueError,
    VenueHoldings,
};
