//! Listener plumbing for the gRPC server: accepted connections (TCP with `TCP_NODELAY`, or unix),
//! at most `limits.max_connections` of them (more are closed on accept), each closed when it has
//! not started a request within `limits.handshake_timeout` (a connection that sends only the
//! preface costs a file descriptor forever otherwise), and wrapped so that HTTP/2 writes a whole
//! Check response with one `writev`.
//!
//! h2 sends a DATA payload larger than 256 bytes as a separate, chained buffer when the socket
//! supports vectored writes, and must flush it before it can encode the trailers: two syscalls
//! and two TCP segments per response. A typical allow (status, identity headers, dynamic
//! metadata) is 300-600 bytes. Reporting the socket as non-vectored raises h2's threshold to
//! 1024 bytes, so such responses are copied into its write buffer and leave in one write
//! (measured in BENCHMARKS.md). The no-op baseline server uses the same plumbing.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tokio_stream::Stream;
use tonic::codegen::http;
use tonic::transport::server::Connected;
use tower::{Layer, Service};

/// Pause after a failed `accept` (e.g. EMFILE), so the accept loop cannot spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The limits of a listener.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    /// Connections open at once.
    pub max_connections: usize,
    /// A connection that has not started a request this long after accept is closed.
    pub handshake_timeout: Duration,
}

impl Default for Caps {
    fn default() -> Self {
        let limits = crate::config::Limits::default();
        Self {
            max_connections: limits.max_connections,
            handshake_timeout: limits.handshake_timeout,
        }
    }
}

/// What a request knows of its connection (tonic puts it in the request's extensions).
#[derive(Clone, Debug)]
pub struct ConnInfo {
    started: Arc<AtomicBool>,
}

impl ConnInfo {
    /// Marks the connection as having started a request: the handshake timeout no longer
    /// applies.
    pub fn mark_started(&self) {
        self.started.store(true, Ordering::Release);
    }
}

/// An accepted connection: holds its connection slot, closes itself when no request starts
/// within the handshake timeout, and does not advertise vectored writes.
#[derive(Debug)]
pub struct Conn<T> {
    io: T,
    started: Arc<AtomicBool>,
    deadline: Option<Pin<Box<Sleep>>>,
    _slot: OwnedSemaphorePermit,
}

impl<T: AsyncRead + Unpin> AsyncRead for Conn<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(deadline) = this.deadline.as_mut() {
            if this.started.load(Ordering::Acquire) {
                this.deadline = None;
            } else if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no request within limits.handshake_timeout",
                )));
            }
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Conn<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
    // `is_write_vectored` stays false (the default): see the module docs.
}

impl<T> Connected for Conn<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    type ConnectInfo = ConnInfo;
    fn connect_info(&self) -> ConnInfo {
        ConnInfo {
            started: self.started.clone(),
        }
    }
}

/// A layer that marks each request's connection as started ([`ConnInfo::mark_started`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct MarkStarted;

impl<S> Layer<S> for MarkStarted {
    type Service = MarkStartedService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MarkStartedService(inner)
    }
}

/// The service of [`MarkStarted`].
#[derive(Clone, Debug)]
pub struct MarkStartedService<S>(S);

impl<S, B> Service<http::Request<B>> for MarkStartedService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> S::Future {
        if let Some(info) = req.extensions().get::<ConnInfo>() {
            info.mark_started();
        }
        self.0.call(req)
    }
}

/// A listener the incoming stream can accept from.
pub trait Accept: Unpin {
    /// The accepted stream.
    type Stream;
    /// Polls for one connection.
    fn poll_accept_stream(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Self::Stream>>;
}

impl Accept for TcpListener {
    type Stream = TcpStream;
    fn poll_accept_stream(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<TcpStream>> {
        self.poll_accept(cx).map_ok(|(s, _)| {
            // Small request/response messages: never wait for Nagle.
            let _ = s.set_nodelay(true);
            s
        })
    }
}

impl Accept for UnixListener {
    type Stream = UnixStream;
    fn poll_accept_stream(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<UnixStream>> {
        self.poll_accept(cx).map_ok(|(s, _)| s)
    }
}

/// Accepted connections of a listener, as tonic's `serve_with_incoming` takes them.
pub struct Incoming<L> {
    listener: L,
    caps: Caps,
    slots: Arc<Semaphore>,
    backoff: Option<Pin<Box<Sleep>>>,
    last_warning: AtomicU64,
}

impl<L: Accept> Incoming<L> {
    /// Wraps a bound listener with the default [`Caps`].
    pub fn new(listener: L) -> Self {
        Self::with_caps(listener, Caps::default())
    }

    /// Wraps a bound listener.
    pub fn with_caps(listener: L, caps: Caps) -> Self {
        Self {
            listener,
            caps,
            slots: Arc::new(Semaphore::new(caps.max_connections)),
            backoff: None,
            last_warning: AtomicU64::new(0),
        }
    }
}

impl<L: Accept> Stream for Incoming<L> {
    type Item = io::Result<Conn<L::Stream>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(sleep) = this.backoff.as_mut() {
            std::task::ready!(sleep.as_mut().poll(cx));
            this.backoff = None;
        }
        loop {
            match std::task::ready!(this.listener.poll_accept_stream(cx)) {
                Ok(stream) => {
                    let Ok(slot) = this.slots.clone().try_acquire_owned() else {
                        // At the cap: close it at once (the peer sees the connection end).
                        drop(stream);
                        let now = crate::authz::unix_now();
                        if this.last_warning.swap(now, Ordering::AcqRel) != now {
                            tracing::warn!(
                                max = this.caps.max_connections,
                                "connection refused: limits.max_connections reached"
                            );
                        }
                        continue;
                    };
                    return Poll::Ready(Some(Ok(Conn {
                        io: stream,
                        started: Arc::new(AtomicBool::new(false)),
                        deadline: Some(Box::pin(tokio::time::sleep(this.caps.handshake_timeout))),
                        _slot: slot,
                    })));
                }
                Err(e) => return Poll::Ready(this.accept_failed(e)),
            }
        }
    }
}

impl<L> Incoming<L> {
    fn accept_failed<S>(&mut self, e: io::Error) -> Option<io::Result<S>> {
        tracing::warn!(error = %e, "accept failed; retrying shortly");
        self.backoff = Some(Box::pin(tokio::time::sleep(ACCEPT_BACKOFF)));
        Some(Err(e))
    }
}
