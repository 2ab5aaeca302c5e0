//! `barter serve` from the command line: the bind address, the token and the server options.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use barter_store::Store;

use barter_server::{self as server, ServeOptions};
use barter_service::config::Config;

/// The environment variable holding the API token.
pub const API_TOKEN_VAR: &str = "BARTER_API_TOKEN";

/// Starts the server (and the scheduler when `[schedule]` has entries) until SIGTERM/Ctrl-C.
pub(super) async fn serve(
    config: Config,
    store: Store,
    bind: Option<SocketAddr>,
    no_auth: bool,
) -> anyhow::Result<()> {
    let bind =
        match bind {
            Some(bind) => bind,
            None => config.server.bind.parse().with_context(|| {
                format!("server.bind `{}` is not an address", config.server.bind)
            })?,
        };
    let token = std::env::var(API_TOKEN_VAR).ok();
    let token = match (token, no_auth) {
        (_, true) => None,
        (Some(token), false) => Some(token),
        (None, false) => anyhow::bail!(
            "{API_TOKEN_VAR} is not set: the API needs a token of at least 32 characters \
             (make one with `openssl rand -hex 32`), or start with --no-auth, which only binds a \
             loopback address"
        ),
    };
    // Runs left `running` by a killed server were marked `interrupted` when the store was
    // opened (`open_store`), before the scheduler reads the runs.
    let options = ServeOptions {
        bind,
        token,
        job_wait: Duration::from_secs(config.server.job_wait_secs),
        max_body_bytes: config.server.max_body_bytes,
        read_cache: Duration::from_millis(config.server.read_cache_ms),
    };
    server::serve(config, store, options).await
}
