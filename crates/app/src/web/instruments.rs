//! The instruments pages (being built).

use axum::Router;

use crate::server::AppState;

/// The instruments routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
}
