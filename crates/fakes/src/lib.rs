//! In-process fakes of the venues Barter trades through, built from the reference notes in
//! `../shared/reference/brokers/` and serving their fixture bodies. Tests and benchmarks of
//! every crate use these one copies, so a quirk learned about a venue is taught to one fake.
//!
//! - [`binance`]: Binance Spot's REST API (signatures, clock, filters, scripted order failures).
//! - [`alpaca`]: Alpaca's Trading API (key headers, assets, clock, scripted order failures).
//! - [`notify`]: the notification services (webhook, Telegram, Slack, Discord, ntfy, SMTP).

pub mod alpaca;
pub mod binance;
pub mod notify;
