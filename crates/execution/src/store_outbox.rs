//! The live jobs' outbox: orders saved in the database through [`barter_store::Store`], whose
//! compare-and-set on the stored state decides between two processes holding one order.

use async_trait::async_trait;
use barter_core::order::Order;
use barter_store::{OrderFilter, PlannedOrder, SavedOrder, Store, StoreError};
use chrono::Utc;

use crate::outbox::{Outbox, OutboxError};

/// An [`Outbox`] over the store.
#[derive(Debug, Clone)]
pub struct StoreOutbox {
    store: Store,
}

impl StoreOutbox {
    /// The outbox of `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Plans `order` unless its decision already has one, and returns the stored order (new,
    /// or whatever state the earlier one reached): the one to send or look up, never a second.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn plan(&self, order: &Order) -> Result<Order, OutboxError> {
        match self.store.plan_order(order, Utc::now()).await {
            Ok(PlannedOrder::New(order) | PlannedOrder::Existing(order)) => Ok(order),
            Err(error) => Err(OutboxError::Store(error.to_string())),
        }
    }

    /// The stored order with this client order id, if any (for reports and tests).
    ///
    /// # Errors
    /// When the store fails.
    pub async fn find(
        &self,
        account: &str,
        client_order_id: &str,
    ) -> Result<Option<Order>, OutboxError> {
        let filter = OrderFilter {
            account: Some(account.to_owned()),
            ..OrderFilter::default()
        };
        let orders = self
            .store
            .orders(&filter)
            .await
            .map_err(|error| OutboxError::Store(error.to_string()))?;
        Ok(orders
            .into_iter()
            .find(|order| order.client_order_id().as_str() == client_order_id))
    }
}

#[async_trait]
impl Outbox for StoreOutbox {
    async fn save(&self, order: &Order) -> Result<(), OutboxError> {
        match self.store.save_order(order, Utc::now()).await {
            // The same final state saved by another process (or an earlier attempt): done.
            Ok(SavedOrder::Saved(_) | SavedOrder::AlreadyFinal(_)) => Ok(()),
            Err(StoreError::OrderFinal { stored, .. } | StoreError::OrderMoved { stored, .. }) => {
                Err(OutboxError::Conflict {
                    client_order_id: order.client_order_id().to_string(),
                    stored: stored.to_string(),
                })
            }
            Err(error) => Err(OutboxError::Store(error.to_string())),
        }
    }

    async fn unresolved(&self, account: &str) -> Result<Vec<Order>, OutboxError> {
        self.store
            .unresolved_orders(Some(account))
            .await
            .map_err(|error| OutboxError::Store(error.to_string()))
    }
}
