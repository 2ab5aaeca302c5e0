//! The web dashboard that `barter serve` shows at `/`: server-rendered pages (askama templates
//! in `crates/server/templates`), a little plain JavaScript and a vendored charting library, all
//! carried inside the binary (`crates/server/assets/web`).
//!
//! Every page needs a signed-in session ([`session`]); every state-changing request needs the
//! session's CSRF token, in the `csrf` form field or the `x-csrf-token` header, and must come
//! from this site. The pages read and change data through the same code as the API.

mod assets;
mod currency;
mod format;
mod history;
mod instrument;
mod instruments;
mod notifications;
mod orders;
mod overview;
mod page;
mod position;
mod positions;
mod query;
pub(crate) mod session;
pub(crate) mod simulator;
mod strategies;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::state::AppState;
use page::PageError;
use session::{CSRF_FIELD, CSRF_HEADER, changes_state, same_origin};

/// The dashboard's routes: sign-in and assets open to all, every page behind a session.
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    let pages = Router::new()
        .merge(overview::routes())
        .merge(instruments::routes())
        .merge(instrument::routes())
        .merge(positions::routes())
        .merge(position::routes())
        .merge(history::routes())
        .merge(orders::routes())
        .merge(notifications::routes())
        .merge(strategies::routes())
        .merge(simulator::routes())
        .route("/logout", post(session::logout))
        .route("/logout/everywhere", post(session::logout_everywhere))
        .route_layer(middleware::from_fn_with_state(state, guard));
    Router::new()
        .route("/login", get(session::login_page).post(session::login))
        .route("/assets/{file}", get(assets::asset))
        .merge(pages)
}

/// The 404 page for a browser path that is not a page.
pub(crate) fn not_found() -> Response {
    PageError::not_found("There is no such page. Use the navigation above.").into_response()
}

/// Lets a page request through only in a signed-in session (with `--no-auth`, a session is
/// started on the first visit), and a state-changing one only with the session's CSRF token
/// from this site. The session is handed to the page as an extension.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let existing = match state.sessions().of_request(request.headers()).await {
        Ok(existing) => existing,
        Err(error) => {
            return PageError::internal(
                &anyhow::Error::new(error).context("read the dashboard session"),
            )
            .into_response();
        }
    };
    let https = state.is_https(request.extensions(), request.headers());
    let (session, new) = match existing {
        Some(session) => (session, false),
        None if state.token().is_none() => match state.sessions().create().await {
            Ok(session) => (session, true),
            Err(error) => {
                return PageError::internal(
                    &anyhow::Error::new(error).context("start a dashboard session"),
                )
                .into_response();
            }
        },
        None if changes_state(request.method()) => {
            return PageError::new(
                StatusCode::UNAUTHORIZED,
                "Your session has ended, so nothing was changed. Sign in again and repeat it.",
            )
            .into_response();
        }
        None => {
            let target = request
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            let location = format!("/login?next={}", urlencode(&target));
            return Redirect::to(&location).into_response();
        }
    };
    let mut request = request;
    if changes_state(request.method()) {
        if !same_origin(request.headers()) {
            return PageError::new(
                StatusCode::FORBIDDEN,
                "This request came from another site, so nothing was changed.",
            )
            .into_response();
        }
        let (presented, rebuilt) = presented_csrf(request).await;
        request = rebuilt;
        if !presented.is_some_and(|token| session.csrf_matches(&token)) {
            return PageError::new(
                StatusCode::FORBIDDEN,
                "This form has expired (its security token is not this session's), so nothing \
                 was changed. Reload the page and try again.",
            )
            .into_response();
        }
    }
    request.extensions_mut().insert(session.clone());
    let mut response = next.run(request).await;
    if new {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, session::set_cookie(&session, https));
    }
    response
}

/// The largest form body read to find its CSRF field.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The CSRF token a request presents: the header, else the `csrf` field of a form body (the
/// body is read and put back for the handler).
async fn presented_csrf(request: Request) -> (Option<String>, Request) {
    if let Some(token) = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        let token = token.to_owned();
        return (Some(token), request);
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return (None, request);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return (None, Request::from_parts(parts, Body::empty()));
    };
    let token = form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == CSRF_FIELD)
        .map(|(_, value)| value.into_owned());
    (token, Request::from_parts(parts, Body::from(bytes)))
}

/// `text` percent-encoded for a query value.
pub(crate) fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
