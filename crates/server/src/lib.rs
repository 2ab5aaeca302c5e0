//! `barter serve`: the seed's cron endpoints and a read/manage API over HTTP (axum on hyper).
//!
//! Every `/api/*` route needs `Authorization: Bearer <token>` (the token comes only from
//! `BARTER_API_TOKEN`, at least [`MIN_TOKEN_CHARS`] characters, compared in constant time; the
//! scheme is case-insensitive); `/healthz` does not. Wrong tokens count in the dashboard's
//! sign-in throttle (per client address, see [`client`]): after 5 within a minute further wrong
//! ones get 429, while the right token is always let through. Every error is JSON (see
//! [`error`]). A job route runs the same code as the CLI ([`barter_service::jobs::run_job`]) in a task of
//! its own, answers with the finished runs, or with 202 and the run id when the caller does not
//! wait; a second call of a job that is running answers 409. Connections have a header timeout
//! and a cap (see `connections`). On SIGTERM or Ctrl-C the server stops accepting, asks
//! running jobs to stop after their current instrument (their runs are recorded as
//! `interrupted`), cancels backtests, and waits for all of it at most [`SHUTDOWN_GRACE`].

mod account_routes;
mod api;
mod backtest_registry;
mod backtests;
mod cache;
mod check_body;
pub mod client;
mod connections;
mod dashboard;
pub mod error;
mod halt_routes;
mod instrument_body;
mod job_registry;
mod job_routes;
pub mod metrics;
mod notify_routes;
mod openapi;
mod order_routes;
mod params;
pub mod scheduled;
mod schema;
mod session_routes;
mod sessions;
mod state;
mod status_routes;

use state::RequestId;
pub use state::{AppState, ServeOptions};

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use barter_store::Store;

use barter_service::config::Config;
use error::ApiError;

/// The shortest API token accepted: 32 characters (`openssl rand -hex 32` makes 64), so that
/// guessing it is hopeless even without the throttle.
pub const MIN_TOKEN_CHARS: usize = 32;

/// Checks that a server may start with `options`: a token of at least [`MIN_TOKEN_CHARS`]
/// characters, or `--no-auth` on loopback only.
///
/// # Errors
/// Says what to set.
pub fn check_options(options: &ServeOptions) -> anyhow::Result<()> {
    match &options.token {
        Some(token) if token.trim().is_empty() => {
            anyhow::bail!(
                "BARTER_API_TOKEN is empty; set it to a long random secret, e.g. the output of \
                 `openssl rand -hex 32`"
            )
        }
        Some(token) if token.trim().chars().count() < MIN_TOKEN_CHARS => anyhow::bail!(
            "BARTER_API_TOKEN is {} characters long; it must have at least {MIN_TOKEN_CHARS}: \
             make one with `openssl rand -hex 32`",
            token.trim().chars().count()
        ),
        Some(_) => Ok(()),
        None if options.bind.ip().is_loopback() => Ok(()),
        None => anyhow::bail!(
            "refusing to serve {} without authentication: --no-auth only binds a loopback address \
             (127.0.0.1 or ::1); set BARTER_API_TOKEN instead",
            options.bind
        ),
    }
}

/// The router: `/healthz`, the `/api` routes behind the token check, the dashboard at `/`
/// (see [`crate::dashboard`]); a JSON 404 for unknown paths, the dashboard's 404 page for browsers.
pub fn router(state: AppState) -> Router {
    let limit = state.inner.options.max_body_bytes;
    let api = api::routes()
        .route("/openapi.json", axum::routing::get(openapi::openapi_json))
        .merge(job_routes::routes())
        .merge(halt_routes::routes())
        .merge(order_routes::routes())
        .merge(account_routes::routes())
        .merge(notify_routes::routes())
        .merge(status_routes::routes())
        .merge(session_routes::routes())
        .merge(backtests::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    let scrape = Router::new()
        .route("/metrics", axum::routing::get(metrics::scrape))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    metrics::install();
    Router::new()
        .route("/healthz", axum::routing::get(api::healthz))
        .nest("/api", api)
        .merge(scrape)
        .merge(crate::dashboard::routes(state.clone()))
        .route_layer(middleware::from_fn(metrics::count_requests))
        .fallback(
            |uri: axum::http::Uri, headers: axum::http::HeaderMap| async move {
                ::metrics::counter!(
                    "barter_http_requests_total",
                    "route" => "unmatched", "method" => "any", "status" => "404"
                )
                .increment(1);
                // A browser asking for a page gets the dashboard's 404 page; programs, and every
                // path under /api, get the API's JSON error.
                let wants_page = headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|accept| accept.contains("text/html"));
                if wants_page && !uri.path().starts_with("/api") {
                    crate::dashboard::not_found()
                } else {
                    ApiError::not_found("no such route; the API lives under /api").into_response()
                }
            },
        )
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{method} is not allowed on this route (see /api/openapi.json)"),
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        // Only for clients that ask (browsers do): an instrument page's years of candles shrink
        // about fivefold.
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(middleware::from_fn_with_state(state.clone(), request_id))
        .with_state(state)
}

/// Serves (and runs the `[schedule]`) until SIGTERM or Ctrl-C, then stops running jobs after
/// their current instrument and waits for them.
///
/// # Errors
/// When the address cannot be bound or the server fails.
pub async fn serve(config: Config, store: Store, options: ServeOptions) -> anyhow::Result<()> {
    check_options(&options)?;
    client::TrustedProxies::parse(&config.server.trusted_proxies)
        .map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))?;
    let schedule = barter_service::schedule::Schedule::from_config(&config.schedule)?;
    let listener = tokio::net::TcpListener::bind(options.bind).await?;
    let state = AppState::new(config, store, options);
    scheduled::spawn(state.clone(), schedule);
    // On stdout, whatever the log level: scripts (and tests) read the address from it, which
    // matters with `--bind 127.0.0.1:0`.
    println!(
        "barter serve listening on http://{}",
        listener.local_addr()?
    );
    run(listener, state, shutdown_signal()).await
}

/// How long shutdown may take once SIGTERM or Ctrl-C arrives: open requests finish, running
/// jobs stop after their current instrument and backtests are cancelled within it; whatever is
/// still running then is abandoned so the process exits.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `state` on `listener` until `shutdown` resolves, then winds the connections, jobs and
/// backtests down within [`SHUTDOWN_GRACE`].
///
/// # Errors
/// When the server fails.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = router(state.clone());
    let delivery = notify_routes::spawn(&state);
    let limits = connections::Limits {
        header_timeout: Duration::from_secs(state.config().server.header_timeout_secs.max(1)),
        max_connections: state.config().server.max_connections.max(1),
    };
    let connections = connections::serve(listener, app, limits, shutdown).await;
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    tracing::info!(
        "shutting down: stopping running jobs after their current instrument, cancelling \
         backtests (at most {} s)",
        SHUTDOWN_GRACE.as_secs()
    );
    state.inner.jobs.stop_all();
    state.inner.backtests.cancel_all();
    let background = state.inner.background.get().cloned();
    if let Some(background) = &background {
        background.cancel_all();
    }
    let finished = tokio::time::timeout_at(deadline, async {
        connections.closed().await;
        state.inner.jobs.wait_idle().await;
        state.inner.backtests.wait_idle().await;
        if let Some(background) = &background {
            background.wait_idle().await;
        }
    })
    .await;
    if finished.is_err() {
        // Runs still `running` are left for the next start to settle; exiting on time matters
        // more to the supervisor (Fly, systemd, docker stop) than waiting for them.
        tracing::warn!(
            "shutdown: gave up waiting for open requests, jobs or backtests after {} s",
            SHUTDOWN_GRACE.as_secs()
        );
    }
    // What is due is sent by the next start (or the CLI): the outbox keeps it.
    if let Some(delivery) = delivery {
        delivery.abort();
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Numbers each request, logs it with its status, and returns the id in `x-request-id`.
async fn request_id(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let id = format!(
        "r{}",
        state.inner.requests.fetch_add(1, Ordering::Relaxed) + 1
    );
    request.extensions_mut().insert(RequestId(id.clone()));
    let method = request.method().clone();
    let path = original_path(&request).to_owned();
    let mut response = next.run(request).await;
    tracing::info!(
        request_id = %id,
        "{method} {path} -> {}",
        response.status().as_u16()
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Lets a request through only with the configured bearer token (compared in constant time) or
/// a dashboard session (with its CSRF token when it changes something), and never a
/// state-changing request from another site.
async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    use crate::sessions::{CSRF_HEADER, changes_state, same_origin};
    // Browsers send `Origin` with every cross-site POST; no API client needs one to succeed.
    if changes_state(request.method()) && !same_origin(request.headers()) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "refused a state-changing request from another site",
        )
        .into_response();
    }
    // The dashboard's scripts call the API with the session cookie instead of the token; a
    // state-changing call must also carry the session's CSRF token.
    let session = match state.sessions().of_request(request.headers()).await {
        Ok(session) => session,
        Err(error) => {
            let id = request
                .extensions()
                .get::<RequestId>()
                .map_or("-", |RequestId(id)| id.as_str());
            return ApiError::internal(
                &anyhow::Error::new(error).context("read the dashboard session"),
                id,
            )
            .into_response();
        }
    };
    if let Some(session) = session {
        let presented = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok());
        if !changes_state(request.method())
            || presented.is_some_and(|token| session.csrf_matches(token))
        {
            return next.run(request).await;
        }
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "a signed-in browser request without its CSRF token; reload the page and try again",
        )
        .into_response();
    }
    if state.token().is_none() {
        return next.run(request).await;
    }
    let presented = bearer(request.headers());
    // The token is checked first: a right token is always let through, even from an address
    // that is locked out, so that a guesser behind the same proxy cannot lock everyone out.
    if presented.is_some_and(|token| state.accepts_token(token)) {
        return next.run(request).await;
    }
    if presented.is_some() {
        // Wrong tokens count against the sign-in throttle of the client's address, so the API
        // is no way around it. The answer stays 401 (the credentials are what is wrong, and
        // every client and contract tester expects 401 for them); past the limit it says so,
        // with how long the address's sign-in stays locked.
        let client = state.client(request.extensions(), request.headers());
        let sessions = state.sessions();
        if let Some(wait) = sessions.wrong_token(client, std::time::Instant::now()) {
            tracing::warn!(
                "refused {} {} from {client}: too many wrong tokens",
                request.method(),
                original_path(&request)
            );
            let seconds = wait.as_secs().max(1);
            let mut response = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "too_many_attempts",
                format!(
                    "wrong token, and too many from your address within a minute: \
                     its sign-in is locked for {seconds} s"
                ),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            return response;
        }
    }
    // Logged without the token, which may be a real one with a typo.
    tracing::warn!(
        "refused {} {}: {}",
        request.method(),
        original_path(&request),
        if presented.is_some() {
            "wrong token"
        } else {
            "no bearer token"
        }
    );
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "send `Authorization: Bearer <token>` with the server's BARTER_API_TOKEN",
    )
    .into_response()
}

/// The path as the client sent it, for logs: a router nested under `/api` (and every layer on
/// it, such as [`authorize`]) sees it without the prefix.
fn original_path(request: &Request) -> &str {
    request
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| request.uri().path(), |original| original.0.path())
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive
/// (RFC 9110), so `bearer` and `BEARER` work too.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(bind: &str, token: Option<&str>) -> ServeOptions {
        ServeOptions {
            bind: bind.parse().expect("address"),
            token: token.map(str::to_owned),
            job_wait: Duration::from_secs(1),
            max_body_bytes: 1024,
            read_cache: Duration::ZERO,
        }
    }

    #[test]
    fn without_a_token_the_server_only_starts_on_loopback() {
        let long = "0123456789abcdef0123456789abcdef";
        assert!(check_options(&options("0.0.0.0:8080", Some(long))).is_ok());
        assert!(check_options(&options("127.0.0.1:8080", None)).is_ok());
        assert!(check_options(&options("[::1]:8080", None)).is_ok());
        let refused = check_options(&options("0.0.0.0:8080", None)).expect_err("public");
        assert!(
            refused.to_string().contains("BARTER_API_TOKEN"),
            "{refused}"
        );
        assert!(check_options(&options("127.0.0.1:8080", Some("  "))).is_err());
    }

    #[test]
    fn a_short_token_is_refused_with_how_to_make_one() {
        let short = check_options(&options("127.0.0.1:8080", Some("x"))).expect_err("short");
        let text = short.to_string();
        assert!(text.contains("at least 32"), "{text}");
        assert!(text.contains("openssl rand -hex 32"), "{text}");
        assert!(
            !text.contains(": x"),
            "the token itself is not echoed: {text}"
        );
        let almost = "a".repeat(MIN_TOKEN_CHARS - 1);
        assert!(check_options(&options("127.0.0.1:8080", Some(&almost))).is_err());
        let enough = "a".repeat(MIN_TOKEN_CHARS);
        assert!(check_options(&options("127.0.0.1:8080", Some(&enough))).is_ok());
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(value).expect("value"),
            );
            bearer(&headers).map(str::to_owned)
        };
        for value in ["Bearer abc", "bearer abc", "BEARER abc", "Bearer   abc "] {
            assert_eq!(with(value).as_deref(), Some("abc"), "{value}");
        }
        assert_eq!(with("Basic abc"), None);
        assert_eq!(with("Bearerabc"), None);
        assert_eq!(with("Bearer").as_deref(), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
