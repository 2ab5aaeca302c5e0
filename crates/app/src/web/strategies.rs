//! The strategies pages (being built).

use axum::Router;

use crate::server::AppState;

/// The strategies routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
}
