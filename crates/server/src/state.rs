//! What every handler shares: the [`AppState`] (configuration, store, running jobs and
//! backtests, the read cache, sessions, trusted proxies) and the options the server runs with.
//! Handlers in [`crate::api`], [`crate::job_routes`], [`crate::backtests`] and
//! [`crate::dashboard`] depend on this module; it depends only on the registries and stores it
//! holds, never on a handler.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use axum::http::HeaderMap;
use barter_service::config::Config;
use barter_store::Store;
use subtle::ConstantTimeEq;

/// How the server runs: where it listens, whether it checks tokens, how long callers wait.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on (port 0 picks a free port).
    pub bind: SocketAddr,
    /// The API token; `None` only with `--no-auth` on a loopback address.
    pub token: Option<String>,
    /// How long a job route waits for its job before answering 202 with the run id.
    pub job_wait: Duration,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// How long positions and candles answers are reused (zero: never; see [`cache`]).
    pub read_cache: Duration,
}

impl ServeOptions {
    /// How long a route waits for its work: not at all for `?wait=false`, else `job_wait`.
    pub(crate) fn wait(&self, wait: Option<bool>) -> Duration {
        if wait == Some(false) {
            Duration::ZERO
        } else {
            self.job_wait
        }
    }
}

/// Background work owned by a handler module (the state holds it without knowing its type, so
/// the state never depends on a handler): what shutdown needs of it, and the module's way back
/// to its own type.
pub(crate) trait Background: Send + Sync {
    /// Asks everything running or queued to stop.
    fn cancel_all(&self);
    /// Resolves when nothing is running any more.
    fn wait_idle(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>;
    /// The module's own type, to downcast to.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) store: Store,
    pub(crate) options: ServeOptions,
    pub(crate) jobs: crate::job_registry::JobRegistry,
    pub(crate) backtests: crate::backtest_registry::BacktestRegistry,
    /// Background work a handler module owns (the dashboard's sweeps), made by that module on
    /// first use; shutdown cancels it and waits for it.
    pub(crate) background: std::sync::OnceLock<Arc<dyn Background>>,
    pub(crate) cache: crate::cache::ReadCache,
    pub(crate) sessions: crate::sessions::Sessions,
    pub(crate) proxies: crate::client::TrustedProxies,
    pub(crate) requests: AtomicU64,
    /// The `[[notify]]` channels (secrets from the environment).
    pub(crate) notifier: Arc<barter_service::notify::Notifier>,
    /// Woken when a job finished, so its notifications go out at once.
    pub(crate) job_done: tokio::sync::Notify,
}

impl AppState {
    /// The state of a server over `store` with `config`.
    pub fn new(config: Config, store: Store, options: ServeOptions) -> Self {
        // `serve` refuses a bad list before this; a hand-built config falls back to trusting none.
        let proxies = crate::client::TrustedProxies::parse(&config.server.trusted_proxies)
            .unwrap_or_else(|error| {
                tracing::warn!("server.trusted_proxies ignored: {error}");
                crate::client::TrustedProxies::default()
            });
        let backtests = crate::backtest_registry::BacktestRegistry::new(
            config.server.backtests_running,
            config.server.backtests_queued,
        );
        let notifier = Arc::new(barter_service::notify::Notifier::from_env(&config));
        let sessions = crate::sessions::Sessions::new(store.clone());
        Self {
            inner: Arc::new(Inner {
                notifier,
                job_done: tokio::sync::Notify::new(),
                config,
                store,
                jobs: crate::job_registry::JobRegistry::default(),
                backtests,
                background: std::sync::OnceLock::new(),
                cache: crate::cache::ReadCache::new(options.read_cache),
                sessions,
                proxies,
                requests: AtomicU64::new(0),
                options,
            }),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The slots API backtests run in (`[server] backtests_running`); the simulator page takes
    /// one for each run too, so pages cannot run more at once than the API allows.
    pub(crate) fn backtest_slots(&self) -> std::sync::Arc<tokio::sync::Semaphore> {
        self.inner.backtests.slots()
    }

    /// Tells the notification task that a job finished.
    pub(crate) fn job_finished(&self) {
        self.inner.job_done.notify_one();
    }

    /// The dashboard's signed-in sessions (in the database) and the sign-in throttle.
    pub(crate) fn sessions(&self) -> &crate::sessions::Sessions {
        &self.inner.sessions
    }

    /// Forgets the reused positions and candles answers (after a change to instruments).
    pub(crate) fn clear_read_cache(&self) {
        self.inner.cache.clear();
    }

    /// The address a request counts as for the sign-in throttle: the peer, or behind a trusted
    /// proxy the client it forwarded for.
    pub(crate) fn client(
        &self,
        extensions: &axum::http::Extensions,
        headers: &HeaderMap,
    ) -> IpAddr {
        self.inner
            .proxies
            .client(crate::client::peer(extensions), headers)
    }

    /// Whether the browser reached a trusted proxy over HTTPS (its cookie is then `Secure`).
    pub(crate) fn is_https(
        &self,
        extensions: &axum::http::Extensions,
        headers: &HeaderMap,
    ) -> bool {
        self.inner
            .proxies
            .is_https(crate::client::peer(extensions), headers)
    }

    /// The API token, `None` with `--no-auth`.
    pub(crate) fn token(&self) -> Option<&str> {
        self.inner.options.token.as_deref()
    }

    /// Whether `presented` is the API token (compared in constant time); any is with
    /// `--no-auth`.
    pub(crate) fn accepts_token(&self, presented: &str) -> bool {
        self.token()
            .is_none_or(|expected| bool::from(presented.as_bytes().ct_eq(expected.as_bytes())))
    }
}

/// The request id of the request being handled, for logs and 500 answers.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);
