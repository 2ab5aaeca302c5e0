//! The history pages (being built).

use axum::Router;

use crate::server::AppState;

/// The history routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
}
