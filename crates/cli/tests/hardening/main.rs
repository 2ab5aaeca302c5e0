//! Hardening: hostile input, crashes and concurrency against the real `barter` binary and the
//! real server (issue 12). One test binary, so the suite links once.

#[path = "../support/mod.rs"]
mod support;

mod crash;
mod fuzz_api;
mod hostile;
mod notify_crash;
mod venue_crash;
