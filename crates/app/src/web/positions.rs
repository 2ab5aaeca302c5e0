//! The positions pages (being built).

use axum::Router;

use crate::server::AppState;

/// The positions routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
}
