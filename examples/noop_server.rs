//! The benchmark baseline: an ext_authz server on the same tonic stack and server settings as
//! jwt-authz (`server::grpc_builder`, `net::Incoming`, the same multi-threaded runtime) that
//! allows every Check without looking at it. `scripts/bench.sh` compares jwt-authz against it.
//!   cargo run --release --example noop_server -- 127.0.0.1:9292          generated server (prost)
//!   cargo run --release --example noop_server -- 127.0.0.1:9292 --raw    jwt-authz's raw-bytes
//!                                               path: the request is not even read
//! The first is the baseline the targets are set against (what a plain tonic ext_authz server
//! costs); the second isolates what jwt-authz's own work costs on its own protocol path.

use envoy_types::pb::envoy::service::auth::v3::authorization_server::{
    Authorization, AuthorizationServer,
};
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse, OkHttpResponse};
use envoy_types::pb::google::rpc;
use std::convert::Infallible;
use std::future::{ready, Ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use jwt_authz::authz::{RawCodec, CHECK_PATH};
use prost::Message;
use tonic::body::Body;
use tonic::codegen::http;
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

struct Noop;

fn allow() -> CheckResponse {
    CheckResponse {
        status: Some(rpc::Status::default()),
        http_response: Some(HttpResponse::OkResponse(OkHttpResponse::default())),
        dynamic_metadata: None,
    }
}

/// Answers every Check with the same pre-encoded OK, on the raw-bytes codec.
#[derive(Clone)]
struct RawNoop(Bytes);

impl NamedService for RawNoop {
    const NAME: &'static str = "envoy.service.auth.v3.Authorization";
}

impl UnaryService<Bytes> for RawNoop {
    type Response = Vec<u8>;
    type Future = Ready<Result<Response<Vec<u8>>, Status>>;

    fn call(&mut self, _request: Request<Bytes>) -> Self::Future {
        ready(Ok(Response::new(self.0.to_vec())))
    }
}

type BoxFuture =
    Pin<Box<dyn std::future::Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

impl tower::Service<http::Request<Body>> for RawNoop {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> BoxFuture {
        assert_eq!(req.uri().path(), CHECK_PATH, "the no-op serves Check only");
        let method = self.clone();
        Box::pin(async move { Ok(Grpc::new(RawCodec).unary(method, req).await) })
    }
}

#[tonic::async_trait]
impl Authorization for Noop {
    async fn check(
        &self,
        _request: Request<CheckRequest>,
    ) -> Result<Response<CheckResponse>, Status> {
        Ok(Response::new(allow()))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: std::net::SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9292".into())
        .parse()?;
    let raw = std::env::args().any(|a| a == "--raw");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            eprintln!("noop listening on {}", listener.local_addr()?);
            let incoming = jwt_authz::net::Incoming::new(listener);
            let mut builder = jwt_authz::server::grpc_builder();
            if raw {
                let response = Bytes::from(allow().encode_to_vec());
                builder
                    .add_service(RawNoop(response))
                    .serve_with_incoming(incoming)
                    .await?;
            } else {
                builder
                    .add_service(AuthorizationServer::new(Noop))
                    .serve_with_incoming(incoming)
                    .await?;
            }
            Ok(())
        })
}
