//! The notifications page (`/notifications`): each `[[notify]]` channel's state (failing or
//! not, last success, waiting deliveries, last error), the channels that cannot work (a missing
//! secret), and the recent deliveries with their attempts.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};

use super::page::{Chrome, PageError, render};
use super::session::Session;
use crate::state::AppState;

/// The most deliveries the page lists.
const SHOWN: u32 = 100;

/// The notifications route.
pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/notifications", get(page))
}

/// A channel as the page shows it.
pub(super) struct ChannelRow {
    pub name: String,
    pub failing: bool,
    pub last_sent: String,
    pub waiting: u32,
    pub failing_deliveries: u32,
    pub last_error: String,
}

/// A delivery as the page lists it.
pub(super) struct DeliveryRow {
    pub id: i64,
    pub channel: String,
    pub kind: &'static str,
    pub severity: &'static str,
    pub title: String,
    pub occurred: String,
    pub state: &'static str,
    pub state_class: &'static str,
    pub attempts: u32,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    chrome: Chrome,
    channels: Vec<ChannelRow>,
    unusable: Vec<String>,
    deliveries: Vec<DeliveryRow>,
    shown: u32,
}

/// `GET /notifications`.
async fn page(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Response, PageError> {
    let notifier = &state.inner.notifier;
    let stamp = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
    let channels = notifier
        .health(state.store())
        .await?
        .into_iter()
        .map(|h| ChannelRow {
            failing: h.failing(),
            last_sent: h.last_sent_at.map_or_else(|| "never".to_owned(), stamp),
            waiting: h.waiting,
            failing_deliveries: h.failing_deliveries,
            last_error: h.last_error.unwrap_or_default(),
            name: h.channel,
        })
        .collect();
    let deliveries = state
        .store()
        .deliveries(None, SHOWN)
        .await
        .map_err(anyhow::Error::new)?
        .into_iter()
        .map(|d| DeliveryRow {
            id: d.id,
            kind: d.kind.as_str(),
            severity: d.severity.as_str(),
            occurred: stamp(d.occurred_at),
            state: d.state.as_str(),
            state_class: match d.state {
                barter_store::notifications::DeliveryState::Sent => "ok",
                barter_store::notifications::DeliveryState::Failed => "bad",
                _ => "warn",
            },
            attempts: d.attempts,
            detail: d
                .last_error
                .filter(|_| d.state != barter_store::notifications::DeliveryState::Sent)
                .or(d.answer)
                .unwrap_or_default(),
            channel: d.channel,
            title: d.title,
        })
        .collect();
    let page = NotificationsPage {
        chrome: Chrome::new(&state, &session, "notifications", "Notifications"),
        channels,
        unusable: notifier.unusable().to_vec(),
        deliveries,
        shown: SHOWN,
    };
    render(StatusCode::OK, &page)
}
