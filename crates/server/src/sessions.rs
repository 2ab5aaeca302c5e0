//! Dashboard sessions: the HttpOnly SameSite=Strict cookie that names one, the CSRF token each
//! carries, the same-origin check for state-changing requests, and the throttle on wrong tokens
//! (shared by the sign-in page and the API). The sign-in and sign-out pages are in
//! `dashboard::session`.
//!
//! A session is created only by presenting the API token (or, with `--no-auth`, on the first
//! visit). Its id is 256 random bits from the operating system, carried by the cookie. Sessions
//! live in the database (`barter_store::sessions`), which keeps only the SHA-256 of the id, so a
//! signed-in browser stays signed in when the server restarts, every server on the database
//! knows it, and signing out (or signing out everywhere) ends it on all of them at once. Each
//! request looks its session up by that hash (a primary-key read; nothing is cached, so an ended
//! session is refused by the next request on every server).
//!
//! The CSRF token is not stored: it is `HMAC-SHA256(key = session id, "barter dashboard CSRF
//! token")`, recomputed from the cookie on every request. Only the holder of the id can compute
//! it, and the stored hash does not reveal it, so reading the database gives neither.
//!
//! The sign-in throttle stays in this server's memory: it only slows guessing at this server
//! for a minute, so forgetting it on restart (or not sharing it between servers) costs nothing
//! a guesser could use against a 32-character token.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, Method, header};
use barter_store::{Store, StoreError};
use chrono::{DateTime, TimeDelta, Utc};
use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The name of the session cookie.
pub(crate) const COOKIE: &str = "barter_session";

/// The header the dashboard's scripts send the CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The form field the dashboard's forms send the CSRF token in.
pub(crate) const CSRF_FIELD: &str = "csrf";

/// How long a session lasts after sign-in.
pub(crate) const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);

/// The most sessions kept at once (in the database, for all servers sharing it).
pub(crate) const MAX_SESSIONS: u32 = 10_000;

/// How many wrong tokens one address may send per [`SIGN_IN_WINDOW`] before its sign-ins are
/// refused until the window has passed: guessing a token becomes hopelessly slow.
pub(crate) const FAILED_SIGN_INS: usize = 5;

/// The window [`FAILED_SIGN_INS`] counts in.
pub(crate) const SIGN_IN_WINDOW: Duration = Duration::from_secs(60);

/// The most addresses whose wrong tokens are remembered: a guesser with many addresses cannot
/// grow the server's memory without bound (the oldest are forgotten first).
pub(crate) const MAX_GUESSERS: usize = 10_000;

/// The message the CSRF token is the HMAC of, keyed with the session id.
const CSRF_LABEL: &[u8] = b"barter dashboard CSRF token";

/// A signed-in browser session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The id the cookie carries.
    pub id: String,
    /// The token every state-changing request of this session must carry.
    pub csrf: String,
}

impl Session {
    /// The session with id `id`, its CSRF token derived from it.
    fn with_id(id: String) -> Self {
        let csrf = csrf_of(&id);
        Self { id, csrf }
    }

    /// Whether `presented` is this session's CSRF token (compared in constant time).
    pub(crate) fn csrf_matches(&self, presented: &str) -> bool {
        bool::from(presented.as_bytes().ct_eq(self.csrf.as_bytes()))
    }
}

/// The CSRF token of session `id`: HMAC-SHA256 keyed with the id, in hex.
fn csrf_of(id: &str) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(id.as_bytes()) else {
        return random_token();
    };
    mac.update(CSRF_LABEL);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `id` looks like a session id the server makes (64 lowercase hex characters):
/// anything else is refused without asking the database.
fn is_session_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The sessions in the database, and the recent wrong tokens by address (in memory).
pub(crate) struct Sessions {
    store: Store,
    failures: Mutex<HashMap<IpAddr, Vec<Instant>>>,
}

impl Sessions {
    /// The sessions stored in `store`.
    pub(crate) fn new(store: Store) -> Self {
        Self {
            store,
            failures: Mutex::default(),
        }
    }

    /// Starts a new session (deleting expired ones, and the oldest beyond [`MAX_SESSIONS`]).
    ///
    /// # Errors
    /// When the database cannot be written.
    pub(crate) async fn create(&self) -> Result<Session, StoreError> {
        self.create_at(Utc::now()).await
    }

    /// Starts a new session at `now`.
    async fn create_at(&self, now: DateTime<Utc>) -> Result<Session, StoreError> {
        let session = Session::with_id(random_token());
        let lifetime = TimeDelta::from_std(LIFETIME).unwrap_or(TimeDelta::hours(12));
        // With `--no-auth` every cookie-less visit starts a session: the store keeps their
        // number bounded by ending the oldest.
        self.store
            .create_dashboard_session(&session.id, now, now + lifetime, MAX_SESSIONS)
            .await?;
        Ok(session)
    }

    /// The live session the request's cookie names, if any.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub(crate) async fn of_request(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<Session>, StoreError> {
        match cookie_value(headers) {
            Some(id) => self.find_at(id, Utc::now()).await,
            None => Ok(None),
        }
    }

    /// Session `id` if it is live at `now`.
    async fn find_at(&self, id: String, now: DateTime<Utc>) -> Result<Option<Session>, StoreError> {
        if !is_session_id(&id) {
            return Ok(None);
        }
        let stored = self.store.dashboard_session(&id, now).await?;
        Ok(stored.map(|_| Session::with_id(id)))
    }

    /// Ends session `id` on every server.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub(crate) async fn remove(&self, id: &str) -> Result<(), StoreError> {
        self.store.delete_dashboard_session(id).await.map(|_| ())
    }

    /// Ends every session on every server ("sign out everywhere"); returns how many there were.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub(crate) async fn remove_all(&self) -> Result<u64, StoreError> {
        self.store.delete_all_dashboard_sessions().await
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

    async fn sessions() -> Sessions {
        Sessions::new(Store::connect("sqlite::memory:").await.expect("store"))
    }

    fn cookie(session: &Session) -> HeaderMap {
        headers(&[("cookie", &format!("other=1; {COOKIE}={}", session.id))])
    }

    #[tokio::test]
    async fn a_session_is_found_by_its_cookie_and_forgotten_on_sign_out() {
        let sessions = sessions().await;
        let session = sessions.create().await.expect("create");
        assert_eq!(session.id.len(), 64);
        assert_eq!(session.csrf.len(), 64);
        assert_ne!(session.id, session.csrf);
        let found = sessions
            .of_request(&cookie(&session))
            .await
            .expect("read")
            .expect("session");
        assert!(found.csrf_matches(&session.csrf));
        assert!(!found.csrf_matches("nope"));
        sessions.remove(&session.id).await.expect("remove");
        assert!(
            sessions
                .of_request(&cookie(&session))
                .await
                .expect("read")
                .is_none()
        );
        for forged in [
            "barter_session=forged".to_owned(),
            format!("barter_session={}", "A".repeat(64)),
            format!("barter_session={}", "a".repeat(65)),
        ] {
            assert!(
                sessions
                    .of_request(&headers(&[("cookie", &forged)]))
                    .await
                    .expect("read")
                    .is_none(),
                "{forged}"
            );
        }
    }

    #[tokio::test]
    async fn the_csrf_token_is_derived_from_the_id_and_stored_nowhere() {
        let sessions = sessions().await;
        let session = sessions.create().await.expect("create");
        // A second server over the same database derives the same token from the cookie.
        let again = Session::with_id(session.id.clone());
        assert_eq!(again.csrf, session.csrf);
        assert_ne!(Session::with_id(random_token()).csrf, session.csrf);
        assert_ne!(
            session.csrf,
            barter_store::sessions::session_id_hash(&session.id),
            "the stored hash is not the token"
        );
        // RFC 4231 test case 2, so the construction is HMAC-SHA256 exactly.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").expect("key");
        mac.update(b"what do ya want for nothing?");
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, expected);
    }

    #[tokio::test]
    async fn a_session_ends_after_its_lifetime() {
        let sessions = sessions().await;
        let start = Utc::now();
        let session = sessions.create_at(start).await.expect("create");
        let lifetime = TimeDelta::from_std(LIFETIME).expect("lifetime");
        let live = sessions
            .find_at(session.id.clone(), start + lifetime - TimeDelta::seconds(1))
            .await
            .expect("read");
        assert!(live.is_some(), "live just before its end");
        let ended = sessions
            .find_at(session.id.clone(), start + lifetime)
            .await
            .expect("read");
        assert!(ended.is_none(), "ended after {LIFETIME:?}");
    }

    #[tokio::test]
    async fn sessions_are_shared_by_servers_on_one_database_and_survive_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("barter.db").display());
        let first = Sessions::new(Store::connect(&url).await.expect("first"));
        let second = Sessions::new(Store::connect(&url).await.expect("second"));
        let a = first.create().await.expect("a");
        let b = second.create().await.expect("b");
        let found = second.of_request(&cookie(&a)).await.expect("read");
        assert!(
            found.is_some_and(|s| s.csrf == a.csrf),
            "the second finds a"
        );
        // Sign-out at one server ends the session at the other.
        second.remove(&a.id).await.expect("remove");
        assert!(first.of_request(&cookie(&a)).await.expect("read").is_none());
        // A restart: the first server's store is closed and a new one opened on the file.
        first.store.close().await;
        drop(first);
        let restarted = Sessions::new(Store::connect(&url).await.expect("restarted"));
        assert!(
            restarted
                .of_request(&cookie(&b))
                .await
                .expect("read")
                .is_some()
        );
        // Sign out everywhere ends b for both.
        assert_eq!(restarted.remove_all().await.expect("all"), 1);
        assert!(
            second
                .of_request(&cookie(&b))
                .await
                .expect("read")
                .is_none()
        );
        assert!(
            restarted
                .of_request(&cookie(&b))
                .await
                .expect("read")
                .is_none()
        );
    }

    #[tokio::test]
    async fn the_oldest_session_ends_when_there_are_too_many() {
        let sessions = sessions().await;
        let start = Utc::now();
        let first = sessions.create_at(start).await.expect("first");
        for n in 1..MAX_SESSIONS {
            sessions
                .create_at(start + TimeDelta::microseconds(i64::from(n)))
                .await
                .expect("create");
        }
        let now = start + TimeDelta::seconds(1);
        assert!(
            sessions
                .find_at(first.id.clone(), now)
                .await
                .expect("read")
                .is_some()
        );
        let newest = sessions.create_at(now).await.expect("newest");
        assert!(
            sessions
                .find_at(first.id.clone(), now)
                .await
                .expect("read")
                .is_none(),
            "the oldest ended"
        );
        assert!(
            sessions
                .find_at(newest.id, now)
                .await
                .expect("read")
                .is_some()
        );
        let count = sessions
            .store
            .dashboard_session_count(now)
            .await
            .expect("count");
        assert_eq!(count, u64::from(MAX_SESSIONS));
    }

    #[test]
    fn the_cookie_is_http_only_and_same_site_strict() {
        let session = Session::with_id(random_token());
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

    #[tokio::test]
    async fn an_address_that_keeps_guessing_waits_out_the_window() {
        let sessions = sessions().await;
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

    #[tokio::test]
    async fn the_addresses_remembered_are_bounded() {
        let sessions = sessions().await;
        let now = Instant::now();
        for i in 0..=MAX_GUESSERS as u32 {
            sessions.sign_in_failed(IpAddr::V4(Ipv4Addr::from(i)), now);
        }
        assert_eq!(sessions.failures.lock().expect("lock").len(), MAX_GUESSERS);
    }

    #[test]
    fn the_cookie_is_secure_only_over_https() {
        let session = Session::with_id(random_token());
        let plain = set_cookie(&session, false);
        assert!(!plain.to_str().expect("ascii").contains("Secure"));
        let secure = set_cookie(&session, true);
        assert!(
            secure.to_str().expect("ascii").contains("Secure"),
            "{secure:?}"
        );
    }
}
