//! The server loop: accepts connections, serves each with hyper's HTTP/1,
//! and keeps slow or idle clients from starving everyone else.
//!
//! Limits ([`ServerLimits`], each a `tally serve` option):
//! - **header timeout** (`--header-timeout`, 10 s): a request's headers
//!   must arrive within it, or the connection is closed. hyper starts this
//!   clock whenever it waits for a request head, so it also bounds the
//!   wait for the next request on a kept-alive connection;
//! - **body timeout** (`--body-timeout`, 30 s): reading a request body
//!   that stalls this long fails with 408 `timeout`;
//! - **idle timeout** (`--idle-timeout`, 60 s): a connection on which no
//!   byte moves either way for this long is closed (a client that stops
//!   reading its answer, say); a long-polled feed request (at most 30 s)
//!   fits under the default;
//! - **connections** (`--max-connections`, 10,000): past this many open
//!   connections the server stops accepting until one closes; the kernel's
//!   backlog holds the rest. An accept that fails (out of file
//!   descriptors) is retried after a pause, never fatal.
//!
//! Shutdown is graceful: the listener closes, requests in flight finish.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt as _;
use tower_http::timeout::TimeoutBody;

/// How the server treats slow and idle clients.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Time to receive a request's headers.
    pub header_timeout: Duration,
    /// Time a request body may stall.
    pub body_timeout: Duration,
    /// Time a connection may pass with no byte read or written.
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    /// 10 s, 30 s, 60 s, 10,000.
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }
}

/// A running server.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Serves `router` on `listener` with the default [`ServerLimits`]
    /// until `shutdown` resolves, then finishes the requests in flight.
    pub fn spawn(
        listener: TcpListener,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<Server> {
        Server::spawn_with(listener, router, ServerLimits::default(), shutdown)
    }

    /// Like [`Server::spawn`], with `limits`.
    pub fn spawn_with(
        listener: TcpListener,
        router: Router,
        limits: ServerLimits,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<Server> {
        Server::spawn_tls(listener, router, limits, None, shutdown)
    }

    /// Like [`Server::spawn_with`], speaking TLS when `tls` is given (the
    /// handshake must finish within the header timeout).
    pub fn spawn_tls(
        listener: TcpListener,
        router: Router,
        limits: ServerLimits,
        tls: Option<Arc<super::Tls>>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<Server> {
        let addr = listener.local_addr()?;
        let task = tokio::spawn(serve(listener, router, limits, tls, shutdown));
        Ok(Server { addr, task })
    }

    /// Waits for the server to stop.
    pub async fn wait(self) -> std::io::Result<()> {
        self.task.await.map_err(std::io::Error::other)?
    }
}

async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    tls: Option<Arc<super::Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // hyper answers a request over its own limits with a bare 431; set
        // above `error::MAX_HEADERS`, so ours (in JSON) speaks first.
        .max_headers(4 * super::error::MAX_HEADERS);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it
                    // was accepted: pause and go on.
                    tracing::warn!(error = %e, "accept failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(AtomicU64::new(0));
        let tracked = Tracked {
            inner: stream,
            activity: Arc::clone(&activity),
            start: Instant::now(),
        };
        let router = router.clone();
        let body_timeout = limits.body_timeout;
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let request = request.map(|body| Body::new(TimeoutBody::new(body_timeout, body)));
                router.clone().oneshot(request)
            },
        );
        let idle = limits.idle_timeout;
        let handshake = limits.header_timeout;
        let watcher = graceful.watcher();
        let http = http.clone();
        let acceptor = tls.as_ref().map(|t| t.acceptor());
        tokio::spawn(async move {
            let _permit = permit;
            let served = async {
                match acceptor {
                    None => {
                        let connection = http.serve_connection(TokioIo::new(tracked), service);
                        watcher.watch(connection).await
                    }
                    Some(acceptor) => {
                        let stream =
                            match tokio::time::timeout(handshake, acceptor.accept(tracked)).await {
                                Ok(Ok(stream)) => stream,
                                Ok(Err(e)) => {
                                    tracing::debug!(error = %e, %peer, "TLS handshake failed");
                                    return Ok(());
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    return Ok(());
                                }
                            };
                        let connection = http.serve_connection(TokioIo::new(stream), service);
                        watcher.watch(connection).await
                    }
                }
            };
            tokio::select! {
                result = served => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                }
                () = idle_watch(activity, idle) => {
                    tracing::debug!(%peer, "idle connection closed");
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Resolves once no byte has moved for `idle` (the time of the last move
/// is in `activity`, in milliseconds since the connection's start).
async fn idle_watch(activity: Arc<AtomicU64>, idle: Duration) {
    let start = Instant::now();
    loop {
        let last = Duration::from_millis(activity.load(Ordering::Relaxed));
        let quiet_until = start + last + idle;
        if Instant::now() >= quiet_until {
            return;
        }
        tokio::time::sleep_until(quiet_until.into()).await;
    }
}

/// A TCP stream that notes when a byte last moved.
struct Tracked {
    inner: TcpStream,
    activity: Arc<AtomicU64>,
    start: Instant,
}

impl Tracked {
    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.activity.store(ms, Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        poll
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
