//! `envoy.service.auth.v3.Authorization/Check` on raw bytes: the request message is read in
//! place ([`crate::wire`]) and the response written directly (`encode_response`), instead of
//! prost building a `CheckRequest` (a `HashMap<String, String>` of headers) and a
//! `CheckResponse` for every Check. Same wire protocol as the generated server.

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes};
use tonic::body::Body;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http;
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};
use tower::Service;

use super::AuthzService;

/// The gRPC path of Check.
pub const CHECK_PATH: &str = "/envoy.service.auth.v3.Authorization/Check";

/// Passes message bytes through unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct RawCodec;

/// Decodes a message as its bytes.
#[derive(Debug)]
pub struct RawDecoder;

/// Encodes bytes as a message.
#[derive(Debug)]
pub struct RawEncoder;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

/// Answers a Check given as protobuf bytes with the encoded response: what [`CheckServer`]
/// serves. jwt-authz's is [`AuthzService`]; the benchmark's raw no-op answers a fixed OK.
pub trait AnswerBytes: Clone + Send + Sync + 'static {
    /// Appends the encoded CheckResponse for `request` to `out`.
    fn answer_bytes(&self, request: &[u8], out: &mut Vec<u8>) -> Result<(), Status>;
}

impl AnswerBytes for AuthzService {
    fn answer_bytes(&self, request: &[u8], out: &mut Vec<u8>) -> Result<(), Status> {
        AuthzService::answer_bytes(self, request, out)
    }
}

/// The Authorization service (Check only) over [`RawCodec`].
#[derive(Clone, Debug)]
pub struct CheckServer<A = AuthzService> {
    service: A,
}

impl<A> CheckServer<A> {
    /// Serves `service`.
    pub fn new(service: A) -> Self {
        Self { service }
    }
}

impl<A> NamedService for CheckServer<A> {
    const NAME: &'static str = "envoy.service.auth.v3.Authorization";
}

struct CheckMethod<A>(A);

impl<A: AnswerBytes> UnaryService<Bytes> for CheckMethod<A> {
    type Response = Vec<u8>;
    type Future = Ready<Result<Response<Vec<u8>>, Status>>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let mut out = Vec::with_capacity(512);
        ready(
            self.0
                .answer_bytes(request.get_ref(), &mut out)
                .map(|()| Response::new(out)),
        )
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

impl<A: AnswerBytes> Service<http::Request<Body>> for CheckServer<A> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> BoxFuture {
        if req.uri().path() != CHECK_PATH {
            let status = Status::unimplemented(format!(
                "{} is not a method of this service",
                req.uri().path()
            ));
            return Box::pin(ready(Ok(status.into_http())));
        }
        let method = CheckMethod(self.service.clone());
        Box::pin(async move { Ok(Grpc::new(RawCodec).unary(method, req).await) })
    }
}
