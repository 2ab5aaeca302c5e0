//! `barter serve` for the HTTP tests: the real server on port 0 over a store, a client that
//! sends the token, and a clean shutdown. Each test crate uses part of it.
#![allow(dead_code)]

use std::time::Duration;

use barter_server::{self as server, AppState, ServeOptions};
use barter_service::config::Config;
use barter_store::Store;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;

/// The bearer token every test server requires.
pub const TOKEN: &str = "test-token-0123456789abcdef0123456789";

/// The server settings a test chooses.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `[server] max_body_bytes`.
    pub max_body_bytes: usize,
    /// `[server] job_wait_secs`.
    pub job_wait: Duration,
    /// `[server] read_cache_ms`.
    pub read_cache: Duration,
    /// Serve without a token (`--no-auth`).
    pub no_auth: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            job_wait: Duration::from_secs(60),
            read_cache: Duration::from_secs(1),
            no_auth: false,
        }
    }
}

/// A running server, its address, and the switch that shuts it down.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A plain client (requests through it carry no token unless added).
    pub client: reqwest::Client,
    /// The server's store.
    pub store: Store,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// A server over a fresh SQLite file.
    pub async fn sqlite(config: Config, options: Options) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("api.db").display()))
            .await
            .expect("store");
        Self::on(store, dir, config, options).await
    }

    /// A server over `store`; `dir` lives as long as the server.
    pub async fn on(
        store: Store,
        dir: tempfile::TempDir,
        config: Config,
        options: Options,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("addr");
        let serve = ServeOptions {
            bind: address,
            token: (!options.no_auth).then(|| TOKEN.to_owned()),
            job_wait: options.job_wait,
            max_body_bytes: options.max_body_bytes,
            read_cache: options.read_cache,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let state = AppState::new(config, store.clone(), serve);
        let done = tokio::spawn(server::run(listener, state, async {
            let _ = stopped.await;
        }));
        Self {
            base: format!("http://{address}"),
            client: reqwest::Client::new(),
            store,
            stop: Some(stop),
            done,
            _dir: dir,
        }
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path` with the token: the status and the JSON body (null when not JSON).
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `POST path` with the token and a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A server over a fresh SQLite file with BTC (bundled sample) registered and its whole
    /// history synced through the API, for backtests over real candles.
    pub async fn sqlite_with_btc(config: Config) -> Self {
        let options = Options {
            job_wait: Duration::from_secs(120),
            read_cache: Duration::ZERO,
            ..Options::default()
        };
        let server = Self::sqlite(config, options).await;
        let (status, body) = server
            .post(
                "/api/instruments",
                serde_json::json!({"symbol": "BTC", "source": "sample"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = server.post("/api/sync_data", serde_json::json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_ne!(body["status"], "failed", "{body}");
        server
    }

    /// Signs in to the dashboard with the token, as a browser would.
    pub async fn sign_in(&self) -> Browser {
        let client = Browser::client();
        let response = client
            .post(self.url("/login"))
            .form(&[("token", TOKEN), ("next", "/")])
            .send()
            .await
            .expect("sign in");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "signed in");
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned();
        let mut browser = Browser {
            base: self.base.clone(),
            client,
            cookie,
            csrf: String::new(),
        };
        let (status, page) = browser.get("/").await;
        assert_eq!(status, StatusCode::OK, "the overview after sign-in: {page}");
        browser.csrf = page
            .split("<meta name=\"csrf-token\" content=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the page carries the CSRF token")
            .to_owned();
        browser
    }

    /// Stops the server and waits until it has.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(60), self.done)
            .await
            .expect("the server stops")
            .expect("task")
            .expect("server");
    }
}

/// A signed-in dashboard session: its cookie and CSRF token; redirects are not followed, so a
/// test sees them.
pub struct Browser {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The client (it does not follow redirects).
    pub client: reqwest::Client,
    /// `barter_session=...`.
    pub cookie: String,
    /// The session's CSRF token.
    pub csrf: String,
}

impl Browser {
    /// A client that leaves redirects to the test.
    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// `GET path` in the session: the status and the body as text.
    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }

    /// `POST path` with a form in the session, the CSRF field added: the response.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &self.csrf));
        self.client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(&form)
            .send()
            .await
            .expect("request")
    }
}

/// Starts `barter serve` as `command` describes (args, environment; stdout is taken here) and
/// returns the child and the address it announced on its first line.
pub fn spawn_serve(mut command: std::process::Command) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("barter serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the server announces its address");
    let base = line
        .trim()
        .strip_prefix("barter serve listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    (child, base)
}
