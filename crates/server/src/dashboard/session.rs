//! Dashboard sign-in and sign-out pages (sign out of this browser, or everywhere), over the
//! sessions of [`crate::sessions`].

use std::time::Instant;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::page::{PageError, render};
use crate::sessions::clear_cookie;
pub(crate) use crate::sessions::set_cookie;
pub(crate) use crate::sessions::{CSRF_FIELD, CSRF_HEADER, Session, changes_state, same_origin};
use crate::state::AppState;

/// The longest `next` target kept after sign-in; longer ones go to the overview.
const MAX_TARGET: usize = 2_000;

/// Where to go after signing in: a path on this site, never another site; anything else goes
/// to the overview.
///
/// Browsers resolve `Location` leniently: they drop tabs and newlines and read `\\` as `/`, so
/// `/\t/evil.com` and `/\\evil.com` lead to `//evil.com`, another site. Only a path that starts
/// with a single `/` (not `//`), has printable ASCII without spaces or backslashes, and is at
/// most [`MAX_TARGET`] long is kept. Percent-encoded bytes stay encoded (`/%09/evil.com` is a
/// path on this site), and a kept target is always a valid header value.
fn local_target(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.len() <= MAX_TARGET
                && path.starts_with('/')
                && !path.starts_with("//")
                && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// A `303 See Other` to `location`, a target [`local_target`] kept (the overview should it not
/// be a valid header value; `Redirect::to` would panic).
fn see_other(location: &str) -> Response {
    let location =
        HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    /// Where to go once signed in.
    next: String,
    /// Why the last attempt failed, or that the user signed out.
    message: Option<String>,
    /// Whether `message` is an error.
    is_error: bool,
}

/// The query of the sign-in page.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
    signed_out: Option<String>,
}

/// `GET /login`: the sign-in form (straight to the target when already signed in).
pub(crate) async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let next = local_target(query.next.as_deref());
    let signed_in = state
        .sessions()
        .of_request(&headers)
        .await
        .map_err(|e| PageError::internal(&anyhow::Error::new(e).context("read the session")))?
        .is_some();
    if signed_in || state.token().is_none() {
        return Ok(see_other(&next));
    }
    let message = query.signed_out.as_deref().map(|how| {
        if how == EVERYWHERE {
            "You are signed out, and so is every other browser.".to_owned()
        } else {
            "You are signed out.".to_owned()
        }
    });
    render(
        StatusCode::OK,
        &LoginPage {
            next,
            message,
            is_error: false,
        },
    )
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    token: String,
    next: Option<String>,
}

/// `POST /login`: starts a session when the token is the server's API token. The token is
/// checked first, in constant time, and the right one is always accepted; a wrong one from an
/// address that sent [`FAILED_SIGN_INS`] wrong tokens within [`SIGN_IN_WINDOW`] is answered 429
/// until the window has passed. That says nothing about the token a guess could not already
/// tell: a right guess is let in either way.
pub(crate) async fn login(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let next = local_target(form.next.as_deref());
    if !same_origin(&headers) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "This sign-in did not come from Barter's own page. Open the dashboard's address and \
             sign in there.",
        ));
    }
    if state.accepts_token(form.token.trim()) {
        let session = state.sessions().create().await.map_err(|e| {
            PageError::internal(&anyhow::Error::new(e).context("start a dashboard session"))
        })?;
        let mut response = see_other(&next);
        response.headers_mut().insert(
            header::SET_COOKIE,
            set_cookie(&session, state.is_https(&extensions, &headers)),
        );
        return Ok(response);
    }
    let client = state.client(&extensions, &headers);
    if let Some(wait) = state.sessions().wrong_token(client, Instant::now()) {
        tracing::warn!("refused a dashboard sign-in from {client}: too many wrong tokens");
        let seconds = wait.as_secs().max(1);
        let mut response = render(
            StatusCode::TOO_MANY_REQUESTS,
            &LoginPage {
                next,
                message: Some(format!(
                    "Too many wrong tokens from your address. Try again in {seconds} s."
                )),
                is_error: true,
            },
        )?;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return Ok(response);
    }
    tracing::warn!("refused a dashboard sign-in from {client}: wrong token");
    render(
        StatusCode::UNAUTHORIZED,
        &LoginPage {
            next,
            message: Some(
                "That is not this server's API token. Use the value of BARTER_API_TOKEN that \
                 `barter serve` was started with."
                    .to_owned(),
            ),
            is_error: true,
        },
    )
}

/// The `signed_out` value of the sign-in page after signing out everywhere.
const EVERYWHERE: &str = "everywhere";

/// `POST /logout`: ends the session on every server (the CSRF check ran before this handler,
/// which found the session and handed it over).
pub(crate) async fn logout(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Response, PageError> {
    state
        .sessions()
        .remove(&session.id)
        .await
        .map_err(|e| PageError::internal(&anyhow::Error::new(e).context("sign out")))?;
    Ok(signed_out("/login?signed_out=1"))
}

/// `POST /logout/everywhere`: ends every session, this browser's and all others, on every server
/// sharing the database (the CSRF check ran before this handler).
pub(crate) async fn logout_everywhere(
    State(state): State<AppState>,
) -> Result<Response, PageError> {
    let ended =
        state.sessions().remove_all().await.map_err(|e| {
            PageError::internal(&anyhow::Error::new(e).context("sign out everywhere"))
        })?;
    tracing::warn!("signed out everywhere from the dashboard: {ended} session(s) ended");
    Ok(signed_out(&format!("/login?signed_out={EVERYWHERE}")))
}

/// A redirect to `location` (the sign-in page) that deletes the session cookie.
fn signed_out(location: &str) -> Response {
    let mut response = Redirect::to(location).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_only_returns_to_this_site() {
        assert_eq!(
            local_target(Some("/positions?status=open")),
            "/positions?status=open"
        );
        assert_eq!(local_target(Some("//evil.example")), "/");
        assert_eq!(local_target(Some("https://evil.example")), "/");
        assert_eq!(local_target(Some("/\\evil.example")), "/");
        assert_eq!(local_target(None), "/");
        for evil in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\nSet-Cookie: x=1",
            "/ /evil.example",
            "/\\/evil.example",
            "\\\\evil.example",
            "///evil.example",
            "evil.example",
            "javascript:alert(1)",
            "/\u{7f}x",
            "/\u{e9}",
            "",
        ] {
            assert_eq!(local_target(Some(evil)), "/", "{evil:?}");
        }
        // Percent-encoded bytes stay encoded: a path on this site.
        assert_eq!(local_target(Some("/%09/evil.example")), "/%09/evil.example");
        assert_eq!(local_target(Some("/ok?x=1&y=/a")), "/ok?x=1&y=/a");
        let long = format!("/{}", "a".repeat(MAX_TARGET));
        assert_eq!(local_target(Some(&long)), "/");
        assert_eq!(local_target(Some(&long[..MAX_TARGET])), &long[..MAX_TARGET]);
    }
}
