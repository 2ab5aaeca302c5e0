//! The dashboard's security over real HTTP: nothing is shown without signing in with the API
//! token; the session cookie is HttpOnly and SameSite=Strict; state-changing requests need the
//! session's CSRF token and this site's origin; sign-out ends the session; the API accepts the
//! session in place of the token under the same rules.

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
    // And a wrong bearer token on the API counts in the same throttle.
    let api = client
        .get(server.url("/api/instruments"))
        .bearer_auth("guess")
        .send()
        .await
        .expect("api");
    assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS);
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
