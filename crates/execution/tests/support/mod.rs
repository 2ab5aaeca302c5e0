//! Test doubles shared by the integration tests.

pub mod binance_fake;
