//! Hostile clients for the gRPC and admin listeners: stalled streams, floods of Watch streams,
//! connections that never start a request, half-sent admin requests.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An HTTP/2 connection whose streams are held open (dropping it closes everything).
pub struct Held {
    /// The open streams' halves.
    pub streams: Vec<(h2::client::ResponseFuture, h2::SendStream<Bytes>)>,
    /// Streams the server refused or reset at once.
    pub refused: usize,
}

/// Opens up to `count` streams on one connection to `path`, each sending `first` and then
/// nothing more; stops early when the server grants no more concurrent streams.
pub async fn stall_streams(grpc: &str, path: &str, first: &[u8], count: usize) -> Held {
    let tcp = TcpStream::connect(grpc).await.unwrap();
    let (mut client, mut conn) = h2::client::handshake(tcp).await.unwrap();
    let mut ping = conn.ping_pong().unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    // One round trip, so the server's SETTINGS (its stream limit) are known before streams open.
    let _ = ping.ping(h2::Ping::opaque()).await;
    let mut held = Held {
        streams: Vec::new(),
        refused: 0,
    };
    for _ in 0..count {
        let Ok(Ok(ready)) = tokio::time::timeout(Duration::from_millis(200), client.ready()).await
        else {
            break;
        };
        client = ready;
        let request = ::http::Request::post(format!("http://{grpc}{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        let Ok((response, mut send)) = client.send_request(request, false) else {
            break;
        };
        if send
            .send_data(Bytes::copy_from_slice(first), false)
            .is_err()
        {
            held.refused += 1;
            continue;
        }
        held.streams.push((response, send));
    }
    held
}

/// `count` legitimate Checks (HS256 with `KEY_A`) on a fresh connection, each answered within
/// a second: how many were allowed.
pub async fn legitimate(server: &super::JwtAuthz, count: usize) -> usize {
    let mut client = server.client().await;
    let token = super::mint("a", super::KEY_A, super::claims("alice"));
    let mut ok = 0;
    for _ in 0..count {
        let answer =
            tokio::time::timeout(Duration::from_secs(1), super::verdict(&mut client, &token))
                .await
                .expect("a legitimate Check answered within a second");
        ok += usize::from(answer == "ok");
    }
    ok
}

/// A gRPC message prefix declaring `len` bytes.
pub fn prefix(len: u32) -> Vec<u8> {
    let mut p = vec![0u8];
    p.extend_from_slice(&len.to_be_bytes());
    p
}

/// Connects and waits until the peer closes the connection (true) or `within` passes (false),
/// after sending `first`.
pub async fn closed_within(addr: &str, first: &[u8], within: Duration) -> bool {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(first).await.unwrap();
    let mut buf = [0u8; 4096];
    let read_to_end = async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read_to_end).await.is_ok()
}

/// The resident set size of a process, in bytes.
pub fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}
