//! Listener plumbing for the gRPC server: accepted connections (TCP with `TCP_NODELAY`, or unix)
//! wrapped so that HTTP/2 writes a whole Check response with one `writev`.
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
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::time::Sleep;
use tokio_stream::Stream;
use tonic::transport::server::{Connected, TcpConnectInfo, UdsConnectInfo};

/// Pause after a failed `accept` (e.g. EMFILE), so the accept loop cannot spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// An accepted connection that does not advertise vectored writes.
#[derive(Debug)]
pub struct Conn<T>(T);

impl<T: AsyncRead + Unpin> AsyncRead for Conn<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Conn<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
    // `is_write_vectored` stays false (the default): see the module docs.
}

impl Connected for Conn<TcpStream> {
    type ConnectInfo = TcpConnectInfo;
    fn connect_info(&self) -> TcpConnectInfo {
        self.0.connect_info()
    }
}

impl Connected for Conn<UnixStream> {
    type ConnectInfo = UdsConnectInfo;
    fn connect_info(&self) -> UdsConnectInfo {
        self.0.connect_info()
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
    backoff: Option<Pin<Box<Sleep>>>,
}

impl<L: Accept> Incoming<L> {
    /// Wraps a bound listener.
    pub fn new(listener: L) -> Self {
        Self {
            listener,
            backoff: None,
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
        match std::task::ready!(this.listener.poll_accept_stream(cx)) {
            Ok(stream) => Poll::Ready(Some(Ok(Conn(stream)))),
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; retrying shortly");
                this.backoff = Some(Box::pin(tokio::time::sleep(ACCEPT_BACKOFF)));
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}
