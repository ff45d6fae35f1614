//! `jwt-authz probe`: a gRPC health check client, and an HTTP GET of the admin listener
//! (`--http`), so the image needs no separate probe binary (the chart's `helm test` hook and,
//! where the admin listener is bound to loopback, its exec probes run it).

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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CommandError::Runtime)?;
    if let Some(target) = &args.http {
        return runtime.block_on(http_probe(target, args.timeout));
    }
    let addr = ListenAddr::parse(&args.addr).map_err(CommandError::Other)?;
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

/// GETs `host:port/path`; exit 0 on 200.
async fn http_probe(target: &str, timeout: std::time::Duration) -> Result<ExitCode, CommandError> {
    let (authority, path) = target.split_at(target.find('/').unwrap_or(target.len()));
    let path = if path.is_empty() { "/" } else { path };
    let get = async {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("{authority}: {e}"))?;
        tokio::spawn(connection);
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, authority)
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(|e| format!("{target}: {e}"))?;
        sender
            .send_request(request)
            .await
            .map(|r| r.status())
            .map_err(|e| format!("{target}: {e}"))
    };
    let status = tokio::time::timeout(timeout, get)
        .await
        .map_err(|_| CommandError::Other(format!("no answer from {target} within {timeout:?}")))?
        .map_err(CommandError::Other)?;
    let mut out = Output::default();
    say!(out, "{target}: {status}");
    out.emit()?;
    Ok(if status == hyper::StatusCode::OK {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
