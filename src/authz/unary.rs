//! One unary gRPC call on raw bytes: the request message is read as its DATA frames arrive,
//! and the answer is written as one framed message and `grpc-status: 0`.
//!
//! Why not tonic's `Grpc::unary`: its decoder reserves the buffer for the length a message
//! *declares* as soon as the 5-byte prefix arrives, so a stream that declares 4 MiB and
//! stalls holds 4 MiB. Here memory follows the bytes that actually arrived, each stream's
//! buffer is charged to a process-wide budget ([`Budget`], `limits.max_buffered_bytes`), and a
//! declared length over `limits.max_message_bytes` is refused before any of it is read. A
//! stream that has to wait for the rest of its message registers as stalled ([`Stalls`]) and is
//! the first to go when the budget runs out.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame};
use tonic::body::Body;
use tonic::codegen::http;
use tonic::Status;

use super::stalls::{Stall, Stalls};

/// Bytes of request messages buffered by all streams at once.
#[derive(Debug)]
pub struct Budget {
    used: AtomicUsize,
    max: AtomicUsize,
}

impl Budget {
    /// A budget of `max` bytes.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            used: AtomicUsize::new(0),
            max: AtomicUsize::new(max),
        })
    }

    /// Changes the limit (a config reload).
    pub fn set_max(&self, max: usize) {
        self.max.store(max, Ordering::Relaxed);
    }

    /// Bytes buffered now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn charge(&self, n: usize) -> bool {
        let max = self.max.load(Ordering::Relaxed);
        let before = self.used.fetch_add(n, Ordering::AcqRel);
        if before + n > max {
            self.used.fetch_sub(n, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Charges `n` bytes over the limit (a stalled stream was evicted to make room and will
    /// release its bytes shortly).
    fn force(&self, n: usize) {
        self.used.fetch_add(n, Ordering::AcqRel);
    }

    fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// What one stream has charged to the budget, released however the stream ends.
struct Charge<'b> {
    budget: &'b Budget,
    bytes: usize,
}

impl Drop for Charge<'_> {
    fn drop(&mut self) {
        self.budget.release(self.bytes);
    }
}

/// Why a request message could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The budget is spent and no stalled stream could make room: the caller sheds.
    Overloaded,
    /// This stream stalled and was evicted to make room for others.
    Evicted,
    /// The request is not acceptable; answer with this status.
    Refused(Status),
}

/// What the next read gave.
enum Next {
    Frame(Option<Result<Frame<Bytes>, Status>>),
    Evicted,
}

/// Reads the one message of a unary request: at most `max_message` bytes, charged to
/// `budget` as they arrive.
pub async fn read_message(
    mut body: Body,
    max_message: usize,
    budget: &Budget,
    stalls: &Stalls,
) -> Result<Vec<u8>, ReadError> {
    let refused = |s: Status| Err(ReadError::Refused(s));
    let mut buf: Vec<u8> = Vec::new();
    let mut charge = Charge { budget, bytes: 0 };
    let mut declared: Option<usize> = None;
    let mut stall: Option<Arc<Stall>> = None;
    loop {
        let next = std::future::poll_fn(|cx| {
            if let Poll::Ready(frame) = Pin::new(&mut body).poll_frame(cx) {
                return Poll::Ready(Next::Frame(frame));
            }
            // The rest of the message has to be waited for: this stream is stalled.
            let stall = stall.get_or_insert_with(|| stalls.register());
            stall.poll_evicted(cx).map(|()| Next::Evicted)
        })
        .await;
        let frame = match next {
            Next::Evicted => return Err(ReadError::Evicted),
            Next::Frame(None) => break,
            Next::Frame(Some(Ok(f))) => f,
            Next::Frame(Some(Err(status))) => return refused(status),
        };
        let Ok(data) = frame.into_data() else {
            continue; // request trailers carry nothing for us
        };
        let total = buf.len() + data.len();
        if declared.is_some_and(|d| total > d + 5) {
            return refused(Status::invalid_argument(
                "a unary call carries exactly one message",
            ));
        }
        if total > max_message + 5 {
            return refused(too_large(max_message));
        }
        if !budget.charge(data.len()) {
            if !stalls.evict_oldest() {
                return Err(ReadError::Overloaded);
            }
            budget.force(data.len());
        }
        charge.bytes += data.len();
        buf.extend_from_slice(&data);
        if declared.is_none() && buf.len() >= 5 {
            if buf[0] != 0 {
                return refused(Status::unimplemented(
                    "compressed messages are not supported",
                ));
            }
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if len > max_message {
                return refused(too_large(max_message));
            }
            if buf.len() > len + 5 {
                return refused(Status::invalid_argument(
                    "a unary call carries exactly one message",
                ));
            }
            declared = Some(len);
        }
    }
    match declared {
        Some(len) if buf.len() == len + 5 => {
            buf.drain(..5);
            Ok(buf)
        }
        _ => refused(Status::internal(
            "the request ended before its message was complete",
        )),
    }
}

fn too_large(max: usize) -> Status {
    Status::resource_exhausted(format!(
        "the request message is larger than limits.max_message_bytes ({max})"
    ))
}

/// A successful unary answer: one framed message, then `grpc-status: 0`.
pub fn ok_response(message: Vec<u8>) -> http::Response<Body> {
    let mut framed = Vec::with_capacity(message.len() + 5);
    framed.push(0);
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(&message);
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    let mut response = http::Response::new(Body::new(Answer {
        data: Some(Bytes::from(framed)),
        trailers: Some(trailers),
    }));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    response
}

/// The body of [`ok_response`].
struct Answer {
    data: Option<Bytes>,
    trailers: Option<http::HeaderMap>,
}

impl HttpBody for Answer {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn stalls() -> Stalls {
        Stalls::default()
    }

    fn body(chunks: Vec<Vec<u8>>) -> Body {
        let stream = futures_util_stream(chunks);
        Body::new(http_body_util::StreamBody::new(stream))
    }

    fn futures_util_stream(
        chunks: Vec<Vec<u8>>,
    ) -> impl tokio_stream::Stream<Item = Result<Frame<Bytes>, Status>> {
        tokio_stream::iter(chunks.into_iter().map(|c| Ok(Frame::data(Bytes::from(c)))))
    }

    fn framed(msg: &[u8]) -> Vec<u8> {
        let mut v = vec![0];
        v.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        v.extend_from_slice(msg);
        v
    }

    fn code(r: Result<Vec<u8>, ReadError>) -> tonic::Code {
        match r {
            Err(ReadError::Refused(s)) => s.code(),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn reads_one_message_in_any_chunking_and_releases_its_budget() {
        let budget = Budget::new(1 << 20);
        let msg = framed(b"hello world");
        for split in 0..msg.len() {
            let chunks = vec![msg[..split].to_vec(), msg[split..].to_vec()];
            let got = read_message(body(chunks), 64, &budget, &stalls())
                .await
                .unwrap();
            assert_eq!(got, b"hello world");
            assert_eq!(budget.used(), 0, "released after the read");
        }
    }

    #[tokio::test]
    async fn refuses_what_is_not_one_small_uncompressed_message() {
        let budget = Budget::new(1 << 20);
        // Declared too large: refused from the prefix alone.
        let mut big = vec![0];
        big.extend_from_slice(&(4u32 << 20).to_be_bytes());
        assert_eq!(
            code(read_message(body(vec![big]), 256, &budget, &stalls()).await),
            tonic::Code::ResourceExhausted
        );
        let mut compressed = framed(b"x");
        compressed[0] = 1;
        assert_eq!(
            code(read_message(body(vec![compressed]), 256, &budget, &stalls()).await),
            tonic::Code::Unimplemented
        );
        let two = [framed(b"a"), framed(b"b")].concat();
        assert_eq!(
            code(read_message(body(vec![two]), 256, &budget, &stalls()).await),
            tonic::Code::InvalidArgument
        );
        let cut = framed(b"abcdef")[..7].to_vec();
        assert_eq!(
            code(read_message(body(vec![cut]), 256, &budget, &stalls()).await),
            tonic::Code::Internal
        );
        assert_eq!(
            code(read_message(body(vec![]), 256, &budget, &stalls()).await),
            tonic::Code::Internal
        );
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn a_spent_budget_is_overload_and_memory_follows_arrived_bytes() {
        let budget = Budget::new(10);
        let msg = framed(b"0123456789");
        assert!(matches!(
            read_message(body(vec![msg]), 256, &budget, &stalls()).await,
            Err(ReadError::Overloaded)
        ));
        assert_eq!(budget.used(), 0);
        // A declared 200-byte message of which 5 bytes arrived holds 5 bytes, not 200.
        let budget = Budget::new(1 << 20);
        let mut prefix = vec![0];
        prefix.extend_from_slice(&200u32.to_be_bytes());
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Status>>(1);
        tx.send(Ok(Frame::data(Bytes::from(prefix)))).await.unwrap();
        let stalled = Body::new(http_body_util::StreamBody::new(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ));
        let task = {
            let budget = budget.clone();
            tokio::spawn(
                async move { read_message(stalled, 256, &budget, &stalls()).await.is_ok() },
            )
        };
        while budget.used() == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(budget.used(), 5);
        drop(tx);
        assert!(!task.await.unwrap());
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn a_stalled_stream_is_evicted_to_make_room() {
        let budget = Budget::new(1 << 20);
        let stalls = Arc::new(Stalls::default());
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Status>>(1);
        tx.send(Ok(Frame::data(Bytes::from(prefix_of(100)))))
            .await
            .unwrap();
        let stalled = Body::new(http_body_util::StreamBody::new(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ));
        let task = {
            let (budget, stalls) = (budget.clone(), stalls.clone());
            tokio::spawn(async move { read_message(stalled, 256, &budget, &stalls).await })
        };
        while budget.used() == 0 {
            tokio::task::yield_now().await;
        }
        // A message that arrives whole never registers: the stalled one is the oldest.
        let whole = read_message(body(vec![framed(b"ok")]), 256, &budget, &stalls)
            .await
            .unwrap();
        assert_eq!(whole, b"ok");
        assert!(stalls.evict_oldest());
        assert!(matches!(task.await.unwrap(), Err(ReadError::Evicted)));
        assert!(!stalls.evict_oldest());
        drop(tx);
    }

    fn prefix_of(len: u32) -> Vec<u8> {
        let mut p = vec![0];
        p.extend_from_slice(&len.to_be_bytes());
        p
    }

    #[tokio::test]
    async fn the_answer_is_one_framed_message_and_status_ok() {
        let mut body = ok_response(b"abc".to_vec()).into_body();
        let data = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&data[..], &[0, 0, 0, 0, 3, b'a', b'b', b'c']);
        let trailers = body
            .frame()
            .await
            .unwrap()
            .unwrap()
            .into_trailers()
            .unwrap();
        assert_eq!(trailers["grpc-status"], "0");
        assert!(body.frame().await.is_none());
    }
}
