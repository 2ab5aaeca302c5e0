//! What every dashboard page shares: the chrome around it (title, navigation, CSRF token), how
//! a template becomes a response, and the error page.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::session::Session;
use crate::state::AppState;

/// The navigation: (key, label, path).
pub(crate) const NAV: &[(&str, &str, &str)] = &[
    ("overview", "Overview", "/"),
    ("instruments", "Instruments", "/instruments"),
    ("positions", "Positions", "/positions"),
    ("history", "History", "/history"),
    ("orders", "Orders", "/orders"),
    ("notifications", "Notifications", "/notifications"),
    ("strategies", "Strategies", "/strategies"),
    ("simulator", "Simulator", "/simulator"),
];

/// The frame of a page: its title, which navigation entry is current, and the session's CSRF
/// token for forms and scripts.
#[derive(Debug, Clone)]
pub(crate) struct Chrome {
    /// The page title (also the `<h1>`).
    pub title: String,
    /// The key of the current navigation entry.
    pub current: &'static str,
    /// The session's CSRF token ("" on pages shown without a session).
    pub csrf: String,
    /// Whether to show the sign-out button (not with `--no-auth`, nor without a session).
    pub can_sign_out: bool,
    /// The live (real money) accounts that enabled strategies trade through: a banner on
    /// every page names them.
    pub live_accounts: Vec<String>,
}

impl Chrome {
    /// The frame of page `current` titled `title` in `session`.
    pub(crate) fn new(
        state: &AppState,
        session: &Session,
        current: &'static str,
        title: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            current,
            csrf: session.csrf.clone(),
            can_sign_out: state.token().is_some(),
            live_accounts: live_accounts(state.config()),
        }
    }

    /// The frame of a page shown without a session (errors before sign-in).
    fn bare(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            current: "",
            csrf: String::new(),
            can_sign_out: false,
            live_accounts: Vec::new(),
        }
    }

    /// The navigation entries: (label, path, whether current).
    pub(crate) fn nav(&self) -> Vec<(&'static str, &'static str, bool)> {
        NAV.iter()
            .map(|(key, label, path)| (*label, *path, *key == self.current))
            .collect()
    }
}

/// Renders `template` with `status`, with the dashboard's security headers.
///
/// # Errors
/// A [`PageError`] when the template fails to render.
pub(crate) fn render(status: StatusCode, template: &impl Template) -> Result<Response, PageError> {
    let html = template
        .render()
        .map_err(|e| PageError::internal(&anyhow::Error::new(e)))?;
    Ok(with_security_headers((status, Html(html)).into_response()))
}

/// Adds the headers every dashboard page carries: a content security policy that allows only
/// this site's own scripts, no framing, and no caching of pages that show account data.
pub(crate) fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
             form-action 'self'; base-uri 'none'; object-src 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A page that could not be shown: its status and a message for people.
#[derive(Debug)]
pub(crate) struct PageError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong and what to do.
    pub message: String,
}

impl PageError {
    /// An error page with `status` and `message`.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 404 with `message`.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 500 that reveals nothing of `error` (it is logged for the operator).
    pub(crate) fn internal(error: &anyhow::Error) -> Self {
        tracing::error!("dashboard page failed: {error:#}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on the server; its log has the details. Try again, and if it \
             keeps happening, check the server log.",
        )
    }
}

impl<E: Into<anyhow::Error>> From<E> for PageError {
    fn from(error: E) -> Self {
        Self::internal(&error.into())
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    reason: &'static str,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            chrome: Chrome::bare("Error"),
            status: self.status.as_u16(),
            reason: self.status.canonical_reason().unwrap_or("Error"),
            message: self.message,
        };
        match page.render() {
            Ok(html) => with_security_headers((self.status, Html(html)).into_response()),
            Err(_) => (self.status, page.message).into_response(),
        }
    }
}

/// The live accounts enabled strategies of `config` trade through, from the configuration
/// alone (a page never waits for a venue to draw its banner).
fn live_accounts(config: &barter_service::config::Config) -> Vec<String> {
    let mut names: Vec<String> = config
        .strategies
        .iter()
        .filter(|s| s.enabled)
        .filter_map(|s| s.account.as_ref())
        .filter(|name| config.accounts.get(*name).is_some_and(|a| a.is_live()))
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}
