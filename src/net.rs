//! Listener plumbing for the gRPC server: accepted connections (TCP with `TCP_NODELAY`, or unix),
//! each closed when it has not started a request within `limits.handshake_timeout` (a connection
//! that sends only the preface costs a file descriptor forever otherwise), and wrapped so that
//! HTTP/2 writes a whole Check response with one `writev`. At most `limits.max_connections` are
//! open: at the cap, the least recently active connection (one that never started a request
//! first, as it is older than any request) is closed to admit the new one, so idle or silent
//! connections cannot lock Envoy out of a reconnect. The table of connections is touched only
//! on accept; a request only stores its time in its connection's state.
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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use atomic_waker::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::time::{Instant, Sleep};
use tokio_stream::Stream;
use tonic::codegen::http;
use tonic::transport::server::Connected;
use tower::{Layer, Service};

/// Pause after a failed `accept` (e.g. EMFILE), so the accept loop cannot spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The limits of a listener.
#[derive(Clone, Debug)]
pub struct Caps {
    /// Connections open at once.
    pub max_connections: usize,
    /// A connection that has not started a request this long after accept is closed.
    pub handshake_timeout: Duration,
    /// A connection still open this long after accept is closed: `max_connection_age` (when
    /// tonic sends its GOAWAY) plus the grace to finish (`None`: never).
    pub max_lifetime: Option<Duration>,
    /// Counts connections closed to make room.
    pub evicted: Option<prometheus::IntCounter>,
}

impl Default for Caps {
    fn default() -> Self {
        let limits = crate::config::Limits::default();
        Self {
            max_connections: limits.max_connections,
            handshake_timeout: limits.handshake_timeout,
            max_lifetime: None,
            evicted: None,
        }
    }
}

/// Milliseconds since the first call (a monotonic clock for activity stamps).
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// One connection's state, shared by the connection, its requests and the accept loop.
#[derive(Debug)]
struct ConnState {
    started: AtomicBool,
    /// When its last request started (or when it was accepted), in [`now_ms`].
    active: AtomicU64,
    evicted: AtomicBool,
    waker: AtomicWaker,
    open: Arc<AtomicUsize>,
}

impl Drop for ConnState {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a request knows of its connection (tonic puts it in the request's extensions).
#[derive(Clone, Debug)]
pub struct ConnInfo {
    state: Arc<ConnState>,
}

impl ConnInfo {
    /// Marks the connection as active now: the handshake timeout no longer applies, and it is
    /// not the first to be closed at the connection cap.
    pub fn mark_started(&self) {
        self.state.started.store(true, Ordering::Release);
        self.state.active.store(now_ms(), Ordering::Relaxed);
    }
}

/// An accepted connection: closes itself when no request starts within the handshake timeout,
/// when it is chosen to make room, or at the end of its lifetime, and does not advertise
/// vectored writes.
#[derive(Debug)]
pub struct Conn<T> {
    io: T,
    state: Arc<ConnState>,
    deadline: Option<Pin<Box<Sleep>>>,
    expires: Option<Pin<Box<Sleep>>>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Conn<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.state.waker.register(cx.waker());
        if this.state.evicted.load(Ordering::Acquire) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed to make room (limits.max_connections)",
            )));
        }
        if let Some(deadline) = this.deadline.as_mut() {
            if this.state.started.load(Ordering::Acquire) {
                this.deadline = None;
            } else if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no request within limits.handshake_timeout",
                )));
            }
        }
        if let Some(expires) = this.expires.as_mut() {
            if expires.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "open past limits.max_connection_age and shutdown_grace",
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
            state: self.state.clone(),
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
    open: Arc<AtomicUsize>,
    table: Mutex<Vec<Weak<ConnState>>>,
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
            open: Arc::new(AtomicUsize::new(0)),
            table: Mutex::new(Vec::new()),
            backoff: None,
            last_warning: AtomicU64::new(0),
        }
    }

    /// At the cap: closes the least recently active connection not already closing. False when
    /// every connection is already closing.
    fn make_room(&self) -> bool {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        table.retain(|w| w.strong_count() > 0);
        let victim = table
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|c| !c.evicted.load(Ordering::Acquire))
            .min_by_key(|c| c.active.load(Ordering::Relaxed));
        let Some(victim) = victim else {
            return false;
        };
        victim.evicted.store(true, Ordering::Release);
        victim.waker.wake();
        if let Some(c) = &self.caps.evicted {
            c.inc();
        }
        let now = crate::authz::unix_now();
        if self.last_warning.swap(now, Ordering::AcqRel) != now {
            tracing::warn!(
                max = self.caps.max_connections,
                "limits.max_connections reached: closing the least recently active connection"
            );
        }
        true
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
                    if this.open.load(Ordering::Acquire) >= this.caps.max_connections
                        && !this.make_room()
                    {
                        drop(stream);
                        continue;
                    }
                    this.open.fetch_add(1, Ordering::AcqRel);
                    let state = Arc::new(ConnState {
                        started: AtomicBool::new(false),
                        active: AtomicU64::new(now_ms()),
                        evicted: AtomicBool::new(false),
                        waker: AtomicWaker::new(),
                        open: this.open.clone(),
                    });
                    let mut table = this.table.lock().unwrap_or_else(|e| e.into_inner());
                    if table.len() >= this.caps.max_connections.saturating_mul(2) {
                        table.retain(|w| w.strong_count() > 0);
                    }
                    table.push(Arc::downgrade(&state));
                    drop(table);
                    return Poll::Ready(Some(Ok(Conn {
                        io: stream,
                        state,
                        deadline: Some(Box::pin(tokio::time::sleep(this.caps.handshake_timeout))),
                        expires: this
                            .caps
                            .max_lifetime
                            .map(|d| Box::pin(tokio::time::sleep(d))),
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
