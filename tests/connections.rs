//! Connection lifetimes on the gRPC listener, through the real binary on hand-made frames:
//! a peer that stops answering HTTP/2 keepalive pings is disconnected (`keepalive_interval`,
//! `keepalive_timeout`) while one that answers stays, and every connection is aged out
//! gracefully (`max_connection_age`: GOAWAY, then closed after `shutdown_grace`).

mod support;

use std::time::{Duration, Instant};

use support::frames::*;
use support::hostile::prefix;
use support::*;
use tokio::io::AsyncWriteExt;

/// HTTP/2 NO_ERROR: a graceful GOAWAY.
const NO_ERROR: u32 = 0;

/// A connection that has completed one Check (so no handshake timeout applies to it).
async fn used_connection(grpc: &str) -> tokio::net::TcpStream {
    let mut tcp = connect(grpc).await;
    let mut request = frame(HEADERS, END_HEADERS, 1, &check_headers());
    request.extend(frame(0x0, END_STREAM, 1, &prefix(0)));
    tcp.write_all(&request).await.unwrap();
    tcp
}

#[tokio::test]
async fn a_peer_that_stops_answering_keepalive_pings_is_disconnected() {
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config(
        "limits: { keepalive_interval: 1s, keepalive_timeout: 1s, handshake_timeout: 600s }\n",
    );
    let server = JwtAuthz::start(&f.config_path());
    let mut alive = used_connection(&server.grpc).await;
    let mut gone = used_connection(&server.grpc).await;
    let (alive, gone) = tokio::join!(
        read_frames_answering(&mut alive, Duration::from_secs(4), true),
        read_frames_answering(&mut gone, Duration::from_secs(4), false),
    );
    assert!(gone.pings >= 1 && gone.closed, "the silent peer: {gone:?}");
    assert!(
        alive.pings >= 2 && !alive.closed,
        "the answering peer: {alive:?}"
    );
}

#[tokio::test]
async fn connections_are_aged_out_gracefully() {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .basic_config("limits: { max_connection_age: 1s }\nshutdown_grace: 1s\n");
    let server = JwtAuthz::start(&f.config_path());
    let started = Instant::now();
    let mut tcp = used_connection(&server.grpc).await;
    let seen = read_frames_answering(&mut tcp, Duration::from_secs(6), true).await;
    assert_eq!(seen.goaway, Some(NO_ERROR), "{seen:?}");
    assert!(seen.closed, "closed after the grace: {seen:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "aged out after {:?}",
        started.elapsed()
    );
    // Its GOAWAY came before the close, a grace period before the forced end.
    // The server itself carries on: a new connection is served.
    let mut client = server.client().await;
    assert_eq!(
        verdict(&mut client, &mint("a", KEY_A, claims("alice"))).await,
        "ok"
    );
}

#[tokio::test]
async fn a_connection_that_ignores_the_goaway_is_closed_after_the_grace() {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .basic_config("limits: { max_connection_age: 1s }\nshutdown_grace: 1s\n");
    let server = JwtAuthz::start(&f.config_path());
    // A health Watch never ends by itself: the stream keeps the connection open past the
    // GOAWAY, as a client that ignores it would.
    let mut tcp = connect(&server.grpc).await;
    let mut watch = frame(
        HEADERS,
        END_HEADERS,
        1,
        &grpc_headers("/grpc.health.v1.Health/Watch"),
    );
    watch.extend(frame(0x0, END_STREAM, 1, &prefix(0)));
    tcp.write_all(&watch).await.unwrap();
    let started = Instant::now();
    let seen = read_frames_answering(&mut tcp, Duration::from_secs(6), true).await;
    let took = started.elapsed();
    assert_eq!(seen.goaway, Some(NO_ERROR), "{seen:?}");
    assert!(seen.closed, "still open after {took:?}: {seen:?}");
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(5),
        "closed after {took:?}, not at age + grace"
    );
}
