//! The HTTP client Barter's network parts share: the data sources read through it and the venue
//! adapters send orders through it, so pacing, retries, size bounds and secret handling are
//! written (and tested) once.
//!
//! - [`HttpClient`]: paced under one budget per client (or per shared [`Pacer`]), retrying by a
//!   [`Retry`] policy chosen per [`Request`], reading at most [`MAX_RESPONSE_BYTES`] of a body, the
//!   API key only in a sensitive header and scrubbed from every error.
//! - [`HttpError`]: why a request produced no usable answer, in words a user can act on; an
//!   order that may or may not have reached the venue is [`HttpError::OutcomeUnknown`].
//! - [`sign_query`]: Binance's HMAC-SHA256 request signature.
//! - [`excerpt`](mod@excerpt): the short, printable quotes of untrusted text that errors carry.

mod client;
mod error;
pub mod excerpt;
mod pacer;
mod retry_after;
mod sign;

pub use client::{ApiKey, HttpClient, MAX_RESPONSE_BYTES, Method, Reply, Request, Retry, Settings};
pub use error::{HttpError, SettingsError};
pub use excerpt::excerpt;
pub use pacer::Pacer;
pub use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
pub use reqwest::{StatusCode, Url};
pub use retry_after::parse_retry_after;
pub use sign::sign_query;
