//! Dashboard sessions kept in the server's memory: the HttpOnly SameSite=Strict cookie that names
//! one, the CSRF token each carries, the same-origin check for state-changing requests, and the
//! throttle on wrong tokens (shared by the sign-in page and the API). The sign-in and sign-out
//! pages are in `dashboard::session`.
//!
//! A session is created only by presenting the API token (or, with `--no-auth`, on the first
//! visit). Its id and CSRF token are 256-bit random values from the operating system. Sessions
//! are lost when the server restarts; people sign in again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, Method, header};
use cookie::{Cookie, SameSite};
use subtle::ConstantTimeEq;

/// The name of the session cookie.
pub(crate) const COOKIE: &str = "barter_session";

/// The header the dashboard's scripts send the CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The form field the dashboard's forms send the CSRF token in.
pub(crate) const CSRF_FIELD: &str = "csrf";

/// How long a session lasts after sign-in.
pub(crate) const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// The most sessions kept at once.
pub(crate) const MAX_SESSIONS: usize = 10_000;

/// How many wrong tokens one address may send per [`SIGN_IN_WINDOW`] before its sign-ins are
/// refused until the window has passed: guessing a token becomes hopelessly slow.
pub(crate) const FAILED_SIGN_INS: usize = 5;

/// The window [`FAILED_SIGN_INS`] counts in.
pub(crate) const SIGN_IN_WINDOW: Duration = Duration::from_secs(60);

/// The most addresses whose wrong tokens are remembered: a guesser with many addresses cannot
/// grow the server's memory without bound (the oldest are forgotten first).
pub(crate) const MAX_GUESSERS: usize = 10_000;

/// A signed-in browser session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The id the cookie carries.
    pub id: String,
    /// The token every state-changing request of this session must carry.
    pub csrf: String,
}

impl Session {
    /// Whether `presented` is this session's CSRF token (compared in constant time).
    pub(crate) fn csrf_matches(&self, presented: &str) -> bool {
        bool::from(presented.as_bytes().ct_eq(self.csrf.as_bytes()))
    }
}

/// The live sessions, and the recent wrong tokens by address.
#[derive(Default)]
pub(crate) struct Sessions {
    inner: Mutex<HashMap<String, Live>>,
    failures: Mutex<HashMap<IpAddr, Vec<Instant>>>,
}

struct Live {
    csrf: String,
    expires: Instant,
}

impl Sessions {
    /// Starts a new session (and forgets expired ones).
    pub(crate) fn create(&self) -> Session {
        let session = Session {
            id: random_token(),
            csrf: random_token(),
        };
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.retain(|_, live| live.expires > now);
        // With `--no-auth` every cookie-less visit starts a session: keep memory bounded by
        // ending the oldest one.
        if inner.len() >= MAX_SESSIONS
            && let Some(oldest) = inner
                .iter()
                .min_by_key(|(_, live)| live.expires)
                .map(|(id, _)| id.clone())
        {
            inner.remove(&oldest);
        }
        inner.insert(
            session.id.clone(),
            Live {
                csrf: session.csrf.clone(),
                expires: now + LIFETIME,
            },
        );
        session
    }

    /// The live session the request's cookie names, if any.
    pub(crate) fn of_request(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie_value(headers)?;
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let live = inner.get(&id)?;
        (live.expires > Instant::now()).then(|| Session {
            id,
            csrf: live.csrf.clone(),
        })
    }

    /// Ends session `id`.
    pub(crate) fn remove(&self, id: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.remove(id);
    }

    /// How long `client` must wait before it may try a token again at `now`, if it must.
    pub(crate) fn sign_in_wait(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures.retain(|_, times| {
            times.retain(|t| now.duration_since(*t) < SIGN_IN_WINDOW);
            !times.is_empty()
        });
        let times = failures.get(&client)?;
        let oldest = times.first()?;
        (times.len() >= FAILED_SIGN_INS)
            .then(|| SIGN_IN_WINDOW.saturating_sub(now.duration_since(*oldest)))
    }

    /// Counts a wrong token from `client` at `now`.
    pub(crate) fn sign_in_failed(&self, client: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() >= MAX_GUESSERS
            && !failures.contains_key(&client)
            && let Some(stalest) = failures
                .iter()
                .min_by_key(|(_, times)| times.last().copied())
                .map(|(address, _)| *address)
        {
            failures.remove(&stalest);
        }
        failures.entry(client).or_default().push(now);
    }

    /// A wrong token from `client` at `now` (at sign-in or on the API): how long it must wait
    /// when it already sent [`FAILED_SIGN_INS`] within [`SIGN_IN_WINDOW`], else it is counted.
    /// Tries while locked out are not counted, so the lock ends a window after it began.
    pub(crate) fn wrong_token(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let wait = self.sign_in_wait(client, now);
        if wait.is_none() {
            self.sign_in_failed(client, now);
        }
        wait
    }
}

/// 32 random bytes from the operating system, in hex.
pub(crate) fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    // Without the OS's randomness no session can be safe; failing loudly is the only option.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session cookie's value in `headers`.
pub(crate) fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_owned()))
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
}

/// `Set-Cookie` for `session`: HttpOnly, SameSite=Strict, the whole site, for its lifetime;
/// `Secure` when the browser came over HTTPS (through a trusted proxy), so it is never sent
/// over plain HTTP afterwards. Over plain HTTP it cannot be `Secure`: browsers would drop it.
pub(crate) fn set_cookie(session: &Session, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((COOKIE, session.id.clone()))
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .path("/")
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(LIFETIME.as_secs()).unwrap_or(i64::MAX),
        ))
        .build();
    header_value(&cookie)
}

/// `Set-Cookie` that deletes the session cookie.
pub(crate) fn clear_cookie() -> HeaderValue {
    let cookie = Cookie::build((COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .max_age(cookie::time::Duration::ZERO)
        .build();
    header_value(&cookie)
}

fn header_value(cookie: &Cookie<'_>) -> HeaderValue {
    // The id is hex and the attributes are fixed ASCII, so this cannot fail.
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether a state-changing request comes from this site: its `Origin` (sent by browsers on
/// every cross-site POST) is absent or names the `Host` it was sent to, and `Sec-Fetch-Site`,
/// when present, is not `cross-site`.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site == "cross-site" || site == "same-site")
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    origin_host.is_some_and(|o| !host.is_empty() && o.eq_ignore_ascii_case(host))
}

/// Whether `method` changes state (everything but GET, HEAD and OPTIONS).
pub(crate) fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn a_session_is_found_by_its_cookie_and_forgotten_on_sign_out() {
        let sessions = Sessions::default();
        let session = sessions.create();
        assert_eq!(session.id.len(), 64);
        assert_ne!(session.id, session.csrf);
        let cookie = format!("other=1; {COOKIE}={}", session.id);
        let found = sessions
            .of_request(&headers(&[("cookie", &cookie)]))
            .expect("session");
        assert!(found.csrf_matches(&session.csrf));
        assert!(!found.csrf_matches("nope"));
        sessions.remove(&session.id);
        assert!(
            sessions
                .of_request(&headers(&[("cookie", &cookie)]))
                .is_none()
        );
        assert!(
            sessions
                .of_request(&headers(&[("cookie", "barter_session=forged")]))
                .is_none()
        );
    }

    #[test]
    fn the_oldest_session_ends_when_there_are_too_many() {
        let sessions = Sessions::default();
        let first = sessions.create();
        for _ in 1..MAX_SESSIONS {
            sessions.create();
        }
        let cookie = |s: &Session| headers(&[("cookie", &format!("{COOKIE}={}", s.id))]);
        assert!(sessions.of_request(&cookie(&first)).is_some());
        let newest = sessions.create();
        assert!(
            sessions.of_request(&cookie(&first)).is_none(),
            "the oldest ended"
        );
        assert!(sessions.of_request(&cookie(&newest)).is_some());
        let count = sessions.inner.lock().expect("lock").len();
        assert_eq!(count, MAX_SESSIONS);
    }

    #[test]
    fn the_cookie_is_http_only_and_same_site_strict() {
        let session = Sessions::default().create();
        let value = set_cookie(&session, false);
        let text = value.to_str().expect("ascii");
        assert!(text.contains("HttpOnly"), "{text}");
        assert!(text.contains("SameSite=Strict"), "{text}");
        assert!(text.contains("Path=/"), "{text}");
    }

    #[test]
    fn cross_site_requests_are_told_apart_from_same_site_ones() {
        let host = ("host", "127.0.0.1:8080");
        assert!(same_origin(&headers(&[host])));
        assert!(same_origin(&headers(&[
            host,
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[host, ("origin", "null")])));
        assert!(!same_origin(&headers(&[
            host,
            ("sec-fetch-site", "cross-site")
        ])));
    }

    #[test]
    fn an_address_that_keeps_guessing_waits_out_the_window() {
        let sessions = Sessions::default();
        let (guesser, other) = (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        );
        let start = Instant::now();
        for i in 0..FAILED_SIGN_INS {
            let at = start + Duration::from_secs(i as u64);
            assert_eq!(sessions.sign_in_wait(guesser, at), None, "attempt {i}");
            sessions.sign_in_failed(guesser, at);
        }
        let later = start + Duration::from_secs(10);
        assert_eq!(
            sessions.sign_in_wait(guesser, later),
            Some(SIGN_IN_WINDOW - Duration::from_secs(10))
        );
        assert_eq!(
            sessions.sign_in_wait(other, later),
            None,
            "others may sign in"
        );
        // Once the oldest wrong token leaves the window, one more try is allowed.
        assert_eq!(sessions.sign_in_wait(guesser, start + SIGN_IN_WINDOW), None);
        // `wrong_token` counts until the limit, then only answers the wait.
        let third = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));
        for i in 0..FAILED_SIGN_INS {
            assert_eq!(sessions.wrong_token(third, start), None, "try {i}");
        }
        assert!(sessions.wrong_token(third, start).is_some());
        let counted = sessions.failures.lock().expect("lock")[&third].len();
        assert_eq!(
            counted, FAILED_SIGN_INS,
            "tries while locked out are not counted"
        );
    }

    #[test]
    fn the_addresses_remembered_are_bounded() {
        let sessions = Sessions::default();
        let now = Instant::now();
        for i in 0..=MAX_GUESSERS as u32 {
            sessions.sign_in_failed(IpAddr::V4(Ipv4Addr::from(i)), now);
        }
        assert_eq!(sessions.failures.lock().expect("lock").len(), MAX_GUESSERS);
    }

    #[test]
    fn the_cookie_is_secure_only_over_https() {
        let session = Sessions::default().create();
        let plain = set_cookie(&session, false);
        assert!(!plain.to_str().expect("ascii").contains("Secure"));
        let secure = set_cookie(&session, true);
        assert!(
            secure.to_str().expect("ascii").contains("Secure"),
            "{secure:?}"
        );
    }
}
