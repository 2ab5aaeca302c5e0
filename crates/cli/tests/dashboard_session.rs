//! The dashboard's security over real HTTP: nothing is shown without signing in with the API
//! token; the session cookie is HttpOnly and SameSite=Strict; state-changing requests need the
//! session's CSRF token and this site's origin; sign-out ends the session; the API accepts the
//! session in place of the token under the same rules. Sessions live in the database: they
//! outlive a restart, every server on the database knows them, only their ids' hashes are
//! stored, and signing out everywhere (page, API or CLI) ends them all.

mod support;

use barter_service::config::Config;
use reqwest::StatusCode;
use serde_json::json;
use support::{Browser, Options, Server, TOKEN};

async fn start() -> Server {
    Server::sqlite(Config::default(), Options::default()).await
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn every_page_needs_a_session_and_sign_in_returns_to_it() {
    let server = start().await;
    let client = Browser::client();
    for path in [
        "/",
        "/instruments",
        "/positions",
        "/history",
        "/strategies",
        "/simulator",
    ] {
        let response = client.get(server.url(path)).send().await.expect("request");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(
            location(&response).starts_with("/login?next="),
            "{path}: {}",
            location(&response)
        );
    }
    // The target survives the round trip through the sign-in page, query included.
    let response = client
        .get(server.url("/positions?status=open"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        location(&response),
        "/login?next=%2Fpositions%3Fstatus%3Dopen"
    );
    let page = client
        .get(server.url(&location(&response)))
        .send()
        .await
        .expect("login page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(
        html.contains(r#"name="next" value="/positions?status=open""#),
        "{html}"
    );
    assert!(html.contains(r#"type="password""#));

    // The stylesheet and scripts hold no data and need no session.
    for asset in ["style.css", "app.js", "charts.js", "lightweight-charts.js"] {
        let response = client
            .get(server.url(&format!("/assets/{asset}")))
            .send()
            .await
            .expect("asset");
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_the_right_one_starts_a_strict_http_only_session() {
    let server = start().await;
    let client = Browser::client();
    let wrong = client
        .post(server.url("/login"))
        .form(&[("token", "not-the-token"), ("next", "/history")])
        .send()
        .await
        .expect("sign in");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("set-cookie").is_none());
    let html = wrong.text().await.expect("html");
    assert!(
        html.contains("not this server&#39;s API token")
            || html.contains("not this server's API token"),
        "{html}"
    );

    let right = client
        .post(server.url("/login"))
        .form(&[("token", TOKEN), ("next", "/history")])
        .send()
        .await
        .expect("sign in");
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&right), "/history");
    let cookie = right
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("cookie")
        .to_owned();
    assert!(cookie.starts_with("barter_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");

    // Never back to another site.
    for next in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let response = client
            .post(server.url("/login"))
            .form(&[("token", TOKEN), ("next", next)])
            .send()
            .await
            .expect("sign in");
        assert_eq!(location(&response), "/", "{next}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_address_that_keeps_sending_wrong_tokens_must_wait() {
    let server = start().await;
    let signed_in = server.sign_in().await;
    let client = Browser::client();
    let attempt = |token: &'static str| {
        client
            .post(server.url("/login"))
            .form(&[("token", token), ("next", "/")])
            .send()
    };
    for _ in 0..5 {
        let wrong = attempt("guess").await.expect("sign in");
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    // Further wrong tokens wait for the window to pass: guessing cannot go faster.
    let refused = attempt("guess").await.expect("sign in");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(refused.headers().get("set-cookie").is_none());
    let html = refused.text().await.expect("html");
    assert!(html.contains("Too many wrong tokens"), "{html}");
    // The right token is never locked out: a guesser behind the same proxy cannot lock
    // everyone else out.
    let accepted = attempt(TOKEN).await.expect("sign in");
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert!(accepted.headers().get("set-cookie").is_some());
    // And a wrong bearer token on the API is in the same throttle: still a 401, saying so.
    let api = client
        .get(server.url("/api/instruments"))
        .bearer_auth("guess")
        .send()
        .await
        .expect("api");
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = api.json().await.expect("json");
    assert_eq!(body["error"]["code"], "too_many_attempts", "{body}");
    // A session signed in before is not affected.
    assert_eq!(signed_in.get("/").await.0, StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn pages_carry_security_headers_and_sign_out_needs_the_csrf_token() {
    let server = start().await;
    let browser = server.sign_in().await;
    let response = browser
        .client
        .get(server.url("/"))
        .header("cookie", &browser.cookie)
        .send()
        .await
        .expect("overview");
    let csp = response
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .expect("a CSP")
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    let html = response.text().await.expect("html");
    assert!(
        html.contains("No instruments yet"),
        "the empty state: {html}"
    );

    // A sign-out without the token (a forged cross-site form) changes nothing.
    let forged = browser
        .client
        .post(server.url("/logout"))
        .header("cookie", &browser.cookie)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .expect("logout");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(browser.get("/").await.0, StatusCode::OK, "still signed in");

    // Another site's form is refused even with the right token.
    let cross = browser
        .client
        .post(server.url("/logout"))
        .header("cookie", &browser.cookie)
        .header("origin", "http://evil.example")
        .form(&[("csrf", browser.csrf.as_str())])
        .send()
        .await
        .expect("logout");
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert_eq!(browser.get("/").await.0, StatusCode::OK, "still signed in");

    let out = browser.post_form("/logout", &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "/login?signed_out=1");
    let cleared = out
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("the cookie is cleared")
        .to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let (status, _) = browser.get("/").await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the old cookie no longer works"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_api_accepts_the_session_but_changes_nothing_without_its_csrf_token() {
    let server = start().await;
    let browser = server.sign_in().await;
    let account = browser
        .client
        .get(server.url("/api/account"))
        .header("cookie", &browser.cookie)
        .send()
        .await
        .expect("account");
    assert_eq!(account.status(), StatusCode::OK);

    let check = json!({ "rule": "close > sma(close, 20)", "kind": "entry" });
    let without = browser
        .client
        .post(server.url("/api/strategies/check"))
        .header("cookie", &browser.cookie)
        .json(&check)
        .send()
        .await
        .expect("check");
    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = without.json().await.expect("json");
    assert_eq!(body["error"]["code"], "csrf");

    let with = browser
        .client
        .post(server.url("/api/strategies/check"))
        .header("cookie", &browser.cookie)
        .header("x-csrf-token", &browser.csrf)
        .json(&check)
        .send()
        .await
        .expect("check");
    assert_eq!(with.status(), StatusCode::OK);

    // A browser on another site cannot use the API even when it holds the token.
    let cross = server
        .client
        .post(server.url("/api/strategies/check"))
        .bearer_auth(TOKEN)
        .header("origin", "http://evil.example")
        .json(&check)
        .send()
        .await
        .expect("check");
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    // Programs send no Origin and are unaffected.
    let (status, _) = server.post("/api/strategies/check", check).await;
    assert_eq!(status, StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn without_a_token_the_dashboard_opens_a_session_by_itself_and_still_checks_csrf() {
    let options = Options {
        no_auth: true,
        ..Options::default()
    };
    let server = Server::sqlite(Config::default(), options).await;
    let client = Browser::client();
    let first = client.get(server.url("/")).send().await.expect("overview");
    assert_eq!(first.status(), StatusCode::OK);
    let cookie = first
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session is started")
        .to_owned();
    let html = first.text().await.expect("html");
    assert!(
        !html.contains("Sign out"),
        "nothing to sign out of with --no-auth"
    );
    let forged = client
        .post(server.url("/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_get_the_page_in_a_browser_and_json_otherwise() {
    let server = start().await;
    let browser = server.sign_in().await;
    let page = browser
        .client
        .get(server.url("/no-such-page"))
        .header("accept", "text/html,application/xhtml+xml")
        .header("cookie", &browser.cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let html = page.text().await.expect("html");
    assert!(html.contains("There is no such page"), "{html}");
    // A program asking for the same path gets the API's JSON error.
    let (status, body) = server.get("/no-such-page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = server.get("/api/no-such-route").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    server.shutdown().await;
}

#[tokio::test]
async fn sign_in_only_ever_returns_to_a_path_on_this_site() {
    let server = start().await;
    let client = Browser::client();
    let cases = [
        ("/positions?status=open", "/positions?status=open"),
        ("/ok?x=1", "/ok?x=1"),
        // Stays percent-encoded: a path on this site, not a tab.
        ("/%09/evil.com", "/%09/evil.com"),
        ("//evil.com", "/"),
        ("/\\evil.com", "/"),
        ("/\t/evil.com", "/"),
        ("/\n/evil.com", "/"),
        ("/\r\nSet-Cookie: x=1", "/"),
        ("/ /evil.com", "/"),
        ("https://evil.com", "/"),
        ("evil.com", "/"),
        ("", "/"),
    ];
    for (next, expected) in cases {
        let response = client
            .post(server.url("/login"))
            .form(&[("token", TOKEN), ("next", next)])
            .send()
            .await
            .expect("sign in");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(location(&response), expected, "{next:?}");
    }
    let long = format!("/{}", "a".repeat(3_000));
    let response = client
        .post(server.url("/login"))
        .form(&[("token", TOKEN), ("next", long.as_str())])
        .send()
        .await
        .expect("sign in");
    assert_eq!(location(&response), "/");
    // The sign-in page of a signed-in browser redirects the same way.
    let browser = server.sign_in().await;
    for (next, expected) in [
        ("%2F%2509%2Fevil.com", "/%09/evil.com"),
        ("%2F%09%2Fevil.com", "/"),
        ("%2F%5Cevil.com", "/"),
        ("%2F%0D%0Ax", "/"),
    ] {
        let response = browser
            .client
            .get(server.url(&format!("/login?next={next}")))
            .header("cookie", &browser.cookie)
            .send()
            .await
            .expect("login page");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(location(&response), expected, "{next}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_cookie_is_secure_when_a_trusted_proxy_says_https() {
    let sign_in = |server: &Server, proto: Option<&'static str>| {
        let mut request = Browser::client()
            .post(server.url("/login"))
            .form(&[("token", TOKEN), ("next", "/")]);
        if let Some(proto) = proto {
            request = request.header("x-forwarded-proto", proto);
        }
        request.send()
    };
    let cookie = |response: &reqwest::Response| {
        response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut config = Config::default();
    config.server.trusted_proxies = vec!["127.0.0.0/8".into()];
    let proxied = Server::sqlite(config, Options::default()).await;
    let https = sign_in(&proxied, Some("https")).await.expect("sign in");
    assert!(cookie(&https).contains("Secure"), "{}", cookie(&https));
    let http = sign_in(&proxied, Some("http")).await.expect("sign in");
    assert!(!cookie(&http).contains("Secure"), "{}", cookie(&http));
    proxied.shutdown().await;
    // From a peer that is not a trusted proxy the header is ignored.
    let direct = start().await;
    let forged = sign_in(&direct, Some("https")).await.expect("sign in");
    assert_eq!(forged.status(), StatusCode::SEE_OTHER);
    assert!(!cookie(&forged).contains("Secure"), "{}", cookie(&forged));
    direct.shutdown().await;
}

/// A SQLite file for servers to share: its URL and the directory that holds it.
fn shared_database() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("shared.db").display());
    (url, dir)
}

/// A server over the SQLite database at `url` (another process's view of the same file).
async fn server_on(url: &str, dir: tempfile::TempDir) -> Server {
    let store = barter_store::Store::connect(url).await.expect("store");
    Server::on(store, dir, Config::default(), Options::default()).await
}

/// `browser`'s session sent to `server` instead (the cookie is host-wide, so a browser sends it
/// to every server on the host).
fn at(browser: &Browser, server: &Server) -> Browser {
    Browser {
        base: server.base.clone(),
        client: Browser::client(),
        cookie: browser.cookie.clone(),
        csrf: browser.csrf.clone(),
    }
}

/// The CSRF token a page carries.
fn page_csrf(html: &str) -> String {
    html.split("<meta name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries the CSRF token")
        .to_owned()
}

#[tokio::test]
async fn a_session_outlives_a_restart_and_is_known_to_every_server_on_the_database() {
    let (url, _dir) = shared_database();
    let first = server_on(&url, tempfile::tempdir().expect("tempdir")).await;
    let browser = first.sign_in().await;
    // A second server on the same database opens pages for it, with the same CSRF token.
    let second = server_on(&url, tempfile::tempdir().expect("tempdir")).await;
    let (status, html) = at(&browser, &second).get("/").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the second server knows the session"
    );
    assert_eq!(page_csrf(&html), browser.csrf);
    // The first server stops and a new one starts on the database: still signed in, and a
    // change with the CSRF token is accepted.
    first.shutdown().await;
    let restarted = server_on(&url, tempfile::tempdir().expect("tempdir")).await;
    let again = at(&browser, &restarted);
    assert_eq!(again.get("/positions").await.0, StatusCode::OK);
    let check = again
        .client
        .post(restarted.url("/api/strategies/check"))
        .header("cookie", &again.cookie)
        .header("x-csrf-token", &again.csrf)
        .json(&json!({"rule": "close > 0", "kind": "entry"}))
        .send()
        .await
        .expect("check");
    assert_eq!(check.status(), StatusCode::OK);
    // Signing out at the restarted server ends the session at the second one too.
    let out = again.post_form("/logout", &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        at(&browser, &second).get("/").await.0,
        StatusCode::SEE_OTHER,
        "signed out on every server"
    );
    second.shutdown().await;
    restarted.shutdown().await;
}

#[tokio::test]
async fn the_database_keeps_only_a_hash_of_each_session_id() {
    let server = start().await;
    let browsers = [server.sign_in().await, server.sign_in().await];
    let barter_store::Db::Sqlite(pool) = server.store.db() else {
        panic!("a SQLite test server");
    };
    let stored: Vec<String> = sqlx::query_scalar("SELECT id_hash FROM dashboard_sessions")
        .fetch_all(pool)
        .await
        .expect("read the sessions");
    assert_eq!(stored.len(), 2);
    for browser in &browsers {
        let id = browser
            .cookie
            .strip_prefix("barter_session=")
            .expect("the cookie's value");
        assert!(
            !stored.iter().any(|s| s.contains(id)),
            "the raw id is stored"
        );
        assert!(
            !stored.iter().any(|s| s.contains(&browser.csrf)),
            "the CSRF token is stored"
        );
        assert!(stored.contains(&barter_store::sessions::session_id_hash(id)));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn sign_out_everywhere_from_the_dashboard_ends_every_session() {
    let (url, dir) = shared_database();
    let first = server_on(&url, dir).await;
    let second = server_on(&url, tempfile::tempdir().expect("tempdir")).await;
    let here = first.sign_in().await;
    let elsewhere = second.sign_in().await;
    let (_, html) = here.get("/").await;
    assert!(
        html.contains(r#"action="/logout/everywhere""#),
        "the button is on every page"
    );

    // Without the CSRF token, or from another site, nothing ends.
    let forged = here
        .client
        .post(first.url("/logout/everywhere"))
        .header("cookie", &here.cookie)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let cross = here
        .client
        .post(first.url("/logout/everywhere"))
        .header("cookie", &here.cookie)
        .header("origin", "http://evil.example")
        .form(&[("csrf", here.csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let anonymous = Browser::client()
        .post(first.url("/logout/everywhere"))
        .send()
        .await
        .expect("post");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(elsewhere.get("/").await.0, StatusCode::OK, "nothing ended");

    let out = here.post_form("/logout/everywhere", &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "/login?signed_out=everywhere");
    let cleared = out
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("the cookie is cleared")
        .to_owned();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(here.get("/").await.0, StatusCode::SEE_OTHER);
    assert_eq!(
        elsewhere.get("/").await.0,
        StatusCode::SEE_OTHER,
        "the browser at the other server is signed out too"
    );
    let login = Browser::client()
        .get(first.url("/login?signed_out=everywhere"))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("html");
    assert!(login.contains("every other browser"), "{login}");
    first.shutdown().await;
    second.shutdown().await;
}

#[tokio::test]
async fn sign_out_everywhere_through_the_api_and_the_cli_ends_every_session() {
    let (url, dir) = shared_database();
    let config = dir.path().join("barter.toml");
    std::fs::write(&config, format!("database_url = \"{url}\"\n")).expect("config");
    let server = server_on(&url, dir).await;
    let browsers = [server.sign_in().await, server.sign_in().await];

    // The API needs the token; a session without its CSRF token cannot call it either.
    let anonymous = server
        .client
        .post(server.url("/api/sessions/sign_out_everywhere"))
        .send()
        .await
        .expect("post");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let without_csrf = server
        .client
        .post(server.url("/api/sessions/sign_out_everywhere"))
        .header("cookie", &browsers[0].cookie)
        .send()
        .await
        .expect("post");
    assert_eq!(without_csrf.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        browsers[1].get("/").await.0,
        StatusCode::OK,
        "nothing ended"
    );

    let (status, body) = server
        .post("/api/sessions/sign_out_everywhere", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"ended": 2}));
    for browser in &browsers {
        assert_eq!(browser.get("/").await.0, StatusCode::SEE_OTHER);
    }

    // `barter sessions sign-out-everywhere` on the same database.
    let again = server.sign_in().await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_barter"))
        .args(["--json", "sessions", "sign-out-everywhere"])
        .env("BARTER_CONFIG", &config)
        .env_remove("BARTER_DATABASE_URL")
        .env("BARTER_LOG", "error")
        .output()
        .expect("barter runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(answer, json!({"ended": 1}));
    assert_eq!(again.get("/").await.0, StatusCode::SEE_OTHER);
    server.shutdown().await;
}
