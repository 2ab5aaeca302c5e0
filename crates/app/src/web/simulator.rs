//! The simulator pages (being built).

use axum::Router;

use crate::server::AppState;

/// The simulator routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
}
