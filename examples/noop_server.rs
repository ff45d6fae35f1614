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
use jwt_authz::authz::{AnswerBytes, CheckServer};
use prost::Message;
use tonic::{Request, Response, Status};

struct Noop;

fn allow() -> CheckResponse {
    CheckResponse {
        status: Some(rpc::Status::default()),
        http_response: Some(HttpResponse::OkResponse(OkHttpResponse::default())),
        dynamic_metadata: None,
    }
}

/// Answers every Check with the same pre-encoded OK, through jwt-authz's own raw-bytes server.
#[derive(Clone)]
struct RawNoop(std::sync::Arc<[u8]>);

impl AnswerBytes for RawNoop {
    fn answer_bytes(&self, _request: &[u8], out: &mut Vec<u8>) -> Result<(), Status> {
        out.extend_from_slice(&self.0);
        Ok(())
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
            let limits = jwt_authz::config::Limits::default();
            let mut builder = jwt_authz::server::grpc_builder(&limits);
            if raw {
                let response = RawNoop(allow().encode_to_vec().into());
                builder
                    .add_service(CheckServer::new(
                        response,
                        jwt_authz::authz::Budget::new(limits.max_buffered_bytes),
                        std::sync::Arc::new(jwt_authz::authz::Stalls::default()),
                    ))
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
