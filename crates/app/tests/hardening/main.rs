//! Hardening: hostile input, crashes and concurrency against the real `barter` binary (issue
//! 12). One test binary, so the suite links once.

mod crash;
mod hostile;
