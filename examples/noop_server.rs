//! The benchmark baseline: an ext_authz server on the same tonic stack and server settings as
//! jwt-authz (`server::grpc_builder`, `net::Incoming`, the same multi-threaded runtime) that
//! allows every Check without looking at it. `scripts/bench.sh` compares jwt-authz against it.
//!   cargo run --release --example noop_server -- 127.0.0.1:9292

use envoy_types::pb::envoy::service::auth::v3::authorization_server::{
    Authorization, AuthorizationServer,
};
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse, OkHttpResponse};
use envoy_types::pb::google::rpc;
use tonic::{Request, Response, Status};

struct Noop;

#[tonic::async_trait]
impl Authorization for Noop {
    async fn check(
        &self,
        _request: Request<CheckRequest>,
    ) -> Result<Response<CheckResponse>, Status> {
        Ok(Response::new(CheckResponse {
            status: Some(rpc::Status::default()),
            http_response: Some(HttpResponse::OkResponse(OkHttpResponse::default())),
            dynamic_metadata: None,
        }))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: std::net::SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9292".into())
        .parse()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            eprintln!("noop listening on {}", listener.local_addr()?);
            let incoming = jwt_authz::net::Incoming::new(listener);
            jwt_authz::server::grpc_builder()
                .add_service(AuthorizationServer::new(Noop))
                .serve_with_incoming(incoming)
                .await?;
            Ok(())
        })
}
