//! The accept loop: HTTP/1.1 connections served by hyper with a header timeout and a cap on
//! open connections, each request carrying its peer's address, and a graceful close on
//! shutdown.
//!
//! `axum::serve` has no timeouts, so a client that opens connections and sends nothing (or a
//! byte a minute) could hold them forever; here a client must send a request's headers within
//! `[server] header_timeout_secs`, which also closes a keep-alive connection idle as long
//! (hyper starts that timer whenever it waits for the next request). Beyond `[server]
//! max_connections` new connections wait in the listen queue until one closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use futures_util::StreamExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// The connection limits from `[server]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// How long a client may take to send a request's headers (and a connection may idle).
    pub header_timeout: Duration,
    /// The most connections open at once.
    pub max_connections: usize,
}

/// The connections still open after the listener closed.
pub(super) struct Open {
    permits: Arc<Semaphore>,
    max: u32,
    /// Dropping it (or sending `true`) tells every connection to close.
    _stop: watch::Sender<bool>,
}

impl Open {
    /// Waits until every connection has closed (each gives its permit back).
    pub(super) async fn closed(&self) {
        let _ = self.permits.acquire_many(self.max).await;
    }
}

/// Accepts connections on `listener` for `app` until `shutdown` resolves, then closes the
/// listener and asks every connection to finish its current request and close.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Open {
    let max =
        u32::try_from(limits.max_connections.clamp(1, Semaphore::MAX_PERMITS)).unwrap_or(u32::MAX);
    let permits = Arc::new(Semaphore::new(max as usize));
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A permit first: at the cap, connections wait in the kernel's queue rather than
        // being accepted and starved.
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!("accepting a connection failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        tokio::spawn(connection(
            stream,
            peer,
            app.clone(),
            limits.header_timeout,
            stopped.clone(),
            permit,
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    Open {
        permits,
        max,
        _stop: stop,
    }
}

/// Serves one connection until the client closes it, a timeout closes it, or shutdown asks it
/// to finish its current request; gives its permit back when done.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    header_timeout: Duration,
    mut stopped: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    // The peer's address is what the sign-in throttle counts by (see `client`).
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let has_body = !hyper::body::Body::is_end_stream(request.body());
        let read = Arc::new(AtomicBool::new(false));
        let mut request = request.map(|body| within(body, header_timeout, Arc::clone(&read)));
        request.extensions_mut().insert(ConnectInfo(peer));
        let answer = tower::ServiceExt::oneshot(app.clone(), request);
        async move {
            let mut response = answer.await?;
            // An answer given before the body was read (413, 401, 415 …) ends the connection:
            // hyper will not read the rest. Saying so keeps the client from sending its next
            // request on a connection that is closing, which it would see fail mid-way.
            if has_body && !read.load(Ordering::Acquire) {
                response.headers_mut().insert(
                    axum::http::header::CONNECTION,
                    axum::http::HeaderValue::from_static("close"),
                );
            }
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    // A closed channel (the server is gone) also means stop.
    let stop = async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stop => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        // Timeouts and clients that hang up mid-request end up here; nothing to act on.
        tracing::debug!("connection from {peer} closed: {error}");
    }
}

/// `body` that fails once `limit` has passed since the headers arrived: the header timeout does
/// not cover the body, and a client sending a byte now and then would otherwise hold its
/// connection (and a slot under the cap) as long as it likes. Bodies are small (`[server]
/// max_body_bytes`), so a healthy client sends one well within the limit.
///
/// `read` is set once the body has been read to its end.
fn within(body: Incoming, limit: Duration, read: Arc<AtomicBool>) -> Body {
    let deadline = Box::pin(tokio::time::sleep(limit));
    let frames = Body::new(body).into_data_stream();
    let stream = futures_util::stream::unfold(Some((frames, deadline, read)), |state| async move {
        let (mut frames, mut deadline, read) = state?;
        tokio::select! {
            frame = frames.next() => {
                let Some(frame) = frame else {
                    read.store(true, Ordering::Release);
                    return None;
                };
                Some((frame.map_err(axum::BoxError::from), Some((frames, deadline, read))))
            }
            () = &mut deadline => Some((
                Err(axum::BoxError::from("the request body took too long to arrive")),
                None,
            )),
        }
    });
    Body::from_stream(stream)
}
