//! `jwt-authz probe`: a gRPC health check client, so the image needs no separate probe binary
//! (the chart's `helm test` hook runs it).

use std::process::ExitCode;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use super::{say, CommandError, Output};
use crate::cli::ProbeArgs;
use crate::config::ListenAddr;

/// Prints the status; exit 0 only when SERVING.
pub fn run(args: &ProbeArgs) -> Result<ExitCode, CommandError> {
    let addr = ListenAddr::parse(&args.addr).map_err(CommandError::Other)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CommandError::Runtime)?;
    let status = runtime.block_on(async {
        tokio::time::timeout(args.timeout, check(&addr, &args.service))
            .await
            .map_err(|_| format!("no answer from {addr} within {:?}", args.timeout))?
    });
    match status {
        Ok(1) => {
            let mut out = Output::default();
            say!(out, "{addr} {:?}: SERVING", args.service);
            out.emit()?;
            Ok(ExitCode::SUCCESS)
        }
        Ok(code) => {
            let name = match code {
                2 => "NOT_SERVING",
                3 => "SERVICE_UNKNOWN",
                _ => "UNKNOWN",
            };
            let mut out = Output::default();
            say!(out, "{addr} {:?}: {name}", args.service);
            out.emit()?;
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(CommandError::Other(e)),
    }
}

async fn check(addr: &ListenAddr, service: &str) -> Result<i32, String> {
    let channel = connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await;
    match response {
        Ok(r) => Ok(r.into_inner().status),
        Err(s) if s.code() == tonic::Code::NotFound => Ok(3),
        Err(s) => Err(format!("health check failed: {}", s.message())),
    }
}

async fn connect(addr: &ListenAddr) -> Result<Channel, tonic::transport::Error> {
    match addr {
        ListenAddr::Tcp(a) => {
            Endpoint::from_shared(format!("http://{a}"))?
                .connect()
                .await
        }
        ListenAddr::Unix(path) => {
            let path = path.clone();
            Endpoint::from_static("http://localhost")
                .connect_with_connector(tower::service_fn(move |_| {
                    let path = path.clone();
                    async move {
                        let stream = tokio::net::UnixStream::connect(path).await?;
                        Ok::<_, std::io::Error>(TokioIo::new(stream))
                    }
                }))
                .await
        }
    }
}
