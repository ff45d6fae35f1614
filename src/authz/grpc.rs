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

/// The Authorization service (Check only) over [`RawCodec`].
#[derive(Clone, Debug)]
pub struct CheckServer {
    service: AuthzService,
}

impl CheckServer {
    /// Serves `service`.
    pub fn new(service: AuthzService) -> Self {
        Self { service }
    }
}

impl NamedService for CheckServer {
    const NAME: &'static str = "envoy.service.auth.v3.Authorization";
}

struct CheckMethod(AuthzService);

impl UnaryService<Bytes> for CheckMethod {
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

impl Service<http::Request<Body>> for CheckServer {
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
