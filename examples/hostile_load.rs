//! The hostile-load report of BENCHMARKS.md (`scripts/hostile-bench.sh`): starts the release
//! jwt-authz, runs each attack of the hostile-load review against it, and meanwhile measures
//! legitimate Checks on a connection of their own: how many were allowed, latency p50 and p99,
//! and the process's resident memory. A report, not a test: nothing here asserts a time.
//!
//!   hostile_load PATH-TO-jwt-authz

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use jwt_authz::testing::{bench_token, envoy_like_request};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const CHECK: &str = "/envoy.service.auth.v3.Authorization/Check";
const WATCH: &str = "/grpc.health.v1.Health/Watch";
const LEGITIMATE: usize = 2000;

struct Server {
    child: Child,
    grpc: String,
    admin: String,
    _dir: tempfile::TempDir,
    _log_reader: Option<BufReader<std::process::ChildStderr>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// jwt-authz with bench_keyring's key k0 ([1; 32]); `stall_logs` leaves stderr unread.
fn start(binary: &str, extra: &str, stall_logs: bool) -> Result<Server> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("keys"))?;
    std::fs::write(dir.path().join("keys/k0"), [1u8; 32])?;
    let config = format!(
        "keys: [{{ dir: keys, algorithm: HS256 }}]\njwt: {{ issuers: ['https://issuer.example.com'], audiences: [orders-api] }}\n{extra}"
    );
    std::fs::write(dir.path().join("config.yaml"), config)?;
    let mut child = Command::new(binary)
        .args(["--log-format", "json", "serve", "--config"])
        .arg(dir.path().join("config.yaml"))
        .args(["--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut reader = BufReader::new(child.stderr.take().ok_or("no stderr")?);
    let mut line = String::new();
    let (grpc, admin) = loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err("jwt-authz exited".into());
        }
        let v: serde_json::Value = serde_json::from_str(&line)?;
        if v["message"] == "listening" {
            let field = |k: &str| v[k].as_str().map(str::to_string).ok_or("no address");
            break (field("grpc")?, field("admin")?);
        }
    };
    let log_reader = if stall_logs {
        Some(reader)
    } else {
        std::thread::spawn(move || for _ in reader.lines() {});
        None
    };
    Ok(Server {
        child,
        grpc,
        admin,
        _dir: dir,
        _log_reader: log_reader,
    })
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Legitimate Checks, one at a time on their own connection: (allowed, p50 µs, p99 µs).
async fn legitimate(grpc: &str) -> Result<(usize, f64, f64)> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))?
        .timeout(Duration::from_secs(2))
        .connect()
        .await?;
    let mut client = AuthorizationClient::new(channel);
    let token = bench_token(jwt_authz::authz::unix_now());
    let mut times = Vec::with_capacity(LEGITIMATE);
    let mut allowed = 0;
    for _ in 0..LEGITIMATE {
        let started = Instant::now();
        let r = client.check(envoy_like_request(Some(&token))).await;
        times.push(started.elapsed().as_secs_f64() * 1e6);
        if r.is_ok_and(|r| r.into_inner().status.is_some_and(|s| s.code == 0)) {
            allowed += 1;
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((allowed, times[LEGITIMATE / 2], times[LEGITIMATE * 99 / 100]))
}

/// Streams on `connections` connections to `path`, each sending `first` and then nothing.
async fn stall(
    grpc: &str,
    path: &str,
    first: &[u8],
    connections: usize,
    streams: usize,
) -> Vec<Box<dyn std::any::Any + Send>> {
    let mut held: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
    for _ in 0..connections {
        let Ok(tcp) = TcpStream::connect(grpc).await else {
            break;
        };
        let Ok((mut client, conn)) = h2::client::handshake(tcp).await else {
            break;
        };
        tokio::spawn(async move {
            let _ = conn.await;
        });
        for _ in 0..streams {
            let Ok(Ok(ready)) =
                tokio::time::timeout(Duration::from_millis(100), client.clone().ready()).await
            else {
                break;
            };
            client = ready;
            let request = http::Request::post(format!("http://{grpc}{path}"))
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .body(())
                .expect("a valid request");
            let Ok((response, mut send)) = client.send_request(request, false) else {
                break;
            };
            let _ = send.send_data(Bytes::copy_from_slice(first), false);
            held.push(Box::new((response, send)));
        }
        held.push(Box::new(client));
    }
    held
}

fn prefix(len: u32) -> Vec<u8> {
    let mut p = vec![0u8];
    p.extend_from_slice(&len.to_be_bytes());
    p
}

/// Keeps the attack going while the legitimate Checks run; returns the row.
async fn measure(
    name: &str,
    server: &Server,
    attack: impl std::future::Future<Output = Vec<Box<dyn std::any::Any + Send>>>,
) -> Result<String> {
    let held = attack.await;
    let (allowed, p50, p99) = legitimate(&server.grpc).await?;
    let rss = rss_mib(server.child.id());
    drop(held);
    Ok(format!(
        "| {name} | {allowed}/{LEGITIMATE} | {p50:.0} | {p99:.0} | {rss:.1} |"
    ))
}

async fn run(binary: &str) -> Result<()> {
    let mut rows = vec![
        "| attack (while it lasts) | legitimate Checks allowed | p50 µs | p99 µs | RSS MiB |"
            .to_string(),
        "|---|---:|---:|---:|---:|".to_string(),
    ];
    let server = start(binary, "", false)?;
    rows.push(measure("none (baseline)", &server, async { Vec::new() }).await?);
    rows.push(
        measure(
            "1 connection, 1,024 streams declaring 4 MiB, stalled",
            &server,
            stall(&server.grpc, CHECK, &prefix(4 << 20), 1, 1024),
        )
        .await?,
    );
    rows.push(
        measure(
            "1 connection, 1,024 streams declaring 200 KiB, stalled",
            &server,
            stall(&server.grpc, CHECK, &prefix(200 << 10), 1, 1024),
        )
        .await?,
    );
    rows.push(
        measure(
            "8 connections × 128 streams declaring 200 KiB, stalled",
            &server,
            stall(&server.grpc, CHECK, &prefix(200 << 10), 8, 128),
        )
        .await?,
    );
    rows.push(
        measure(
            "16 connections × 128 health Watch streams",
            &server,
            stall(&server.grpc, WATCH, &[0, 0, 0, 0, 0], 16, 128),
        )
        .await?,
    );
    let grpc = server.grpc.clone();
    rows.push(
        measure(
            "3,000 connections sending only the preface",
            &server,
            async move {
                let mut held: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
                for _ in 0..3000 {
                    if let Ok(mut tcp) = TcpStream::connect(&grpc).await {
                        let _ = tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
                        held.push(Box::new(tcp));
                    }
                }
                held
            },
        )
        .await?,
    );
    let admin = server.admin.clone();
    rows.push(
        measure(
            "3,000 admin connections holding half a request",
            &server,
            async move {
                let mut held: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
                for _ in 0..3000 {
                    if let Ok(mut tcp) = TcpStream::connect(&admin).await {
                        let _ = tcp.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n").await;
                        held.push(Box::new(tcp));
                    }
                }
                held
            },
        )
        .await?,
    );
    let grpc = server.grpc.clone();
    rows.push(
        measure(
            "Checks with a 1 MiB x-request-id, in a loop",
            &server,
            async move {
                let id = "r".repeat(1 << 20);
                let task = tokio::spawn(async move {
                    let Ok(channel) =
                        tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
                            .map(|e| e.connect_lazy())
                    else {
                        return;
                    };
                    let mut client = AuthorizationClient::new(channel);
                    loop {
                        let req = jwt_authz::testing::check_request(
                            "GET",
                            "/",
                            "h",
                            &[("x-request-id", &id)],
                        );
                        let _ = client.check(req).await;
                    }
                });
                vec![Box::new(AbortOnDrop(task)) as Box<dyn std::any::Any + Send>]
            },
        )
        .await?,
    );
    drop(server);
    // Every Check denied (and logged) while stderr is never read.
    let stalled = start(binary, "", true)?;
    let grpc = stalled.grpc.clone();
    rows.push(
        measure(
            "a log pipe nobody reads, 4 clients logging denies",
            &stalled,
            async move {
                let mut held: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
                for _ in 0..4 {
                    let grpc = grpc.clone();
                    let task = tokio::spawn(async move {
                        let Ok(channel) =
                            tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
                                .map(|e| e.connect_lazy())
                        else {
                            return;
                        };
                        let mut client = AuthorizationClient::new(channel);
                        loop {
                            let _ = client.check(envoy_like_request(None)).await;
                        }
                    });
                    held.push(Box::new(AbortOnDrop(task)));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                held
            },
        )
        .await?,
    );
    println!("{}", rows.join("\n"));
    Ok(())
}

/// Aborts a background attack when the measurement ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn main() -> Result<()> {
    let binary = std::env::args()
        .nth(1)
        .ok_or("usage: hostile_load PATH-TO-jwt-authz")?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(&binary))
}
