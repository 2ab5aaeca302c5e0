//! Where orders live between requests: every state an order reaches is saved before the next
//! request about it leaves, so a process that dies at any point leaves a record the next run
//! acts on. The store implements [`Outbox`] for the live jobs.

use async_trait::async_trait;
use barter_core::order::Order;

/// Why an order could not be saved or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboxError {
    /// Another process moved the order on meanwhile (its stored state is not the one this
    /// process read); this process leaves it to that one.
    #[error("order {client_order_id} was changed by another process (now {stored}); left to it")]
    Conflict {
        /// The order's client order id.
        client_order_id: String,
        /// The state the store holds now.
        stored: String,
    },
    /// The store failed (database unreachable, disk full), with its message.
    #[error("could not save or read orders: {0}")]
    Store(String),
}

/// Durable storage of orders for the exactly-once protocol.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Saves `order`'s state, venue id, executed quantity, reason and fills (each fill once),
    /// refusing with [`OutboxError::Conflict`] when the stored order is already final in
    /// another state; returns only once the change is durable.
    ///
    /// # Errors
    /// See [`OutboxError`].
    async fn save(&self, order: &Order) -> Result<(), OutboxError>;

    /// The orders of `account` that are not final (planned, submitted, accepted, partially
    /// filled, unknown), oldest first.
    ///
    /// # Errors
    /// When the store cannot be read.
    async fn unresolved(&self, account: &str) -> Result<Vec<Order>, OutboxError>;
}
