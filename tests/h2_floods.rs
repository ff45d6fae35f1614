//! HTTP/2 floods that the server stack's defaults (and `limits`) already held when the
//! hostile-load review tried them, kept as tests so that they keep holding: rapid reset
//! (CVE-2023-44487), a CONTINUATION flood (CVE-2024-27316 and kin), a 20 KB header block, and
//! a message one byte over the limit. Each runs against the real binary, on hand-made frames,
//! while legitimate Checks on another connection must all be allowed.

mod support;

use std::time::Duration;

use support::frames::*;
use support::hostile::{legitimate, prefix, rss, stall_streams};
use support::*;
use tokio::io::AsyncWriteExt;

const CHECK: &str = "/envoy.service.auth.v3.Authorization/Check";
/// HTTP/2 error codes.
const ENHANCE_YOUR_CALM: u32 = 0xb;

fn server() -> (Fixture, JwtAuthz) {
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config("");
    let server = JwtAuthz::start(&f.config_path());
    (f, server)
}

#[tokio::test]
async fn rapid_reset_closes_the_attacking_connection() {
    let (_f, server) = server();
    let mut attacker = connect(&server.grpc).await;
    let headers = check_headers();
    // Open a stream and cancel it at once, 20,000 times, without waiting for anything.
    let mut burst = Vec::new();
    let mut sent = 0;
    for i in 0..20_000u32 {
        let id = 2 * i + 1;
        burst.extend(frame(HEADERS, END_HEADERS, id, &headers));
        burst.extend(frame(RST_STREAM, 0, id, &8u32.to_be_bytes())); // CANCEL
        if burst.len() > 64 * 1024 {
            if attacker.write_all(&burst).await.is_err() {
                break;
            }
            sent = i;
            burst.clear();
        }
    }
    let seen = read_frames(&mut attacker, Duration::from_secs(5)).await;
    assert!(
        seen.closed && seen.goaway == Some(ENHANCE_YOUR_CALM),
        "the connection survived {sent} rapid resets: {seen:?}"
    );
    assert_eq!(legitimate(&server, 20).await, 20);
}

/// Sends `count` requests that the server must reset (a connection-specific header is a stream
/// error in HTTP/2: "MadeYouReset", CVE-2025-8671) on one connection, and reads the outcome.
async fn made_you_reset(grpc: &str, count: u32) -> Seen {
    let mut attacker = connect(grpc).await;
    let mut block = check_headers();
    block.extend(literal("connection", b"close"));
    let mut burst = Vec::new();
    for i in 0..count {
        burst.extend(frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1, &block));
    }
    let _ = attacker.write_all(&burst).await;
    read_frames(&mut attacker, Duration::from_secs(2)).await
}

#[tokio::test]
async fn streams_the_server_must_reset_close_the_connection_at_max_reset_streams() {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .basic_config("limits: { max_reset_streams: 50 }\n");
    let server = JwtAuthz::start(&f.config_path());
    // Under the limit: each stream is reset and the connection stays.
    let under = made_you_reset(&server.grpc, 40).await;
    assert!(
        !under.closed && under.goaway.is_none() && under.resets == 40,
        "{under:?}"
    );
    // Over it: the connection is closed.
    let over = made_you_reset(&server.grpc, 200).await;
    assert!(
        over.closed && over.goaway == Some(ENHANCE_YOUR_CALM),
        "{over:?}"
    );
    assert_eq!(legitimate(&server, 10).await, 10);
}

#[tokio::test]
async fn a_continuation_flood_is_cut_off_and_buys_no_memory() {
    let (_f, server) = server();
    let before = rss(server.child.id());
    let mut attacker = connect(&server.grpc).await;
    // A header block that never ends: HEADERS without END_HEADERS, then CONTINUATION frames of
    // fresh literal fields (each would be a new header to keep) for as long as the server reads.
    let mut block = check_headers();
    block.extend(literal("x-first", b"1"));
    attacker
        .write_all(&frame(HEADERS, END_STREAM, 1, &block))
        .await
        .unwrap();
    let mut written = 0usize;
    for i in 0..4_000u32 {
        let mut fields = Vec::new();
        for j in 0..64 {
            fields.extend(literal(&format!("x-{i}-{j}"), &[b'v'; 48]));
        }
        if attacker
            .write_all(&frame(CONTINUATION, 0, 1, &fields))
            .await
            .is_err()
        {
            break;
        }
        written += fields.len();
    }
    let seen = read_frames(&mut attacker, Duration::from_secs(5)).await;
    assert!(
        seen.closed && seen.goaway.is_some(),
        "{written} bytes of CONTINUATION accepted: {seen:?}"
    );
    let grown = rss(server.child.id()).saturating_sub(before);
    assert!(grown < 32 << 20, "the flood bought {grown} bytes");
    assert_eq!(legitimate(&server, 20).await, 20);
}

#[tokio::test]
async fn a_20_kb_header_block_is_refused() {
    let (_f, server) = server();
    let mut attacker = connect(&server.grpc).await;
    let mut block = check_headers();
    block.extend(literal("x-big", &[b'b'; 20 * 1024]));
    // Over the default 16 KiB frame size: HEADERS, then the rest in a CONTINUATION.
    let (head, rest) = block.split_at(16_000);
    let mut frames = frame(HEADERS, END_STREAM, 1, head);
    frames.extend(frame(CONTINUATION, END_HEADERS, 1, rest));
    attacker.write_all(&frames).await.unwrap();
    let seen = read_frames(&mut attacker, Duration::from_secs(1)).await;
    // Answered by HTTP/2 itself (431, not a gRPC answer's 200), or reset.
    let http_refusal = seen
        .responses
        .first()
        .is_some_and(|r| r.first() != Some(&0x88));
    assert!(
        http_refusal || seen.resets > 0 || seen.goaway.is_some(),
        "a 20 KB header block was taken: {seen:?}"
    );
    assert_eq!(legitimate(&server, 10).await, 10);
}

#[tokio::test]
async fn a_message_one_byte_over_the_limit_is_refused_from_its_prefix() {
    let (_f, server) = server();
    for declared in [4 << 20, 262_145] {
        let held = stall_streams(&server.grpc, CHECK, &prefix(declared), 1).await;
        let (response, _send) = held.streams.into_iter().next().expect("a stream");
        let r = tokio::time::timeout(Duration::from_secs(2), response)
            .await
            .expect("refused at once, not read")
            .unwrap();
        assert_eq!(
            r.headers()["grpc-status"],
            "8",
            "{declared}: RESOURCE_EXHAUSTED"
        );
    }
    assert_eq!(legitimate(&server, 10).await, 10);
}

/// Checks the reading of the test's own frames: a well-formed Check on hand-made frames is
/// answered (so a flood test's refusal is the server's, not a broken frame).
#[tokio::test]
async fn the_hand_made_frames_are_a_valid_request() {
    let (_f, server) = server();
    let mut tcp = connect(&server.grpc).await;
    tcp.write_all(&frame(HEADERS, END_HEADERS, 1, &check_headers()))
        .await
        .unwrap();
    tcp.write_all(&frame(0x0, END_STREAM, 1, &prefix(0)))
        .await
        .unwrap();
    let seen = read_frames(&mut tcp, Duration::from_millis(500)).await;
    assert!(
        seen.responses
            .first()
            .is_some_and(|r| r.first() == Some(&0x88))
            && seen.resets == 0
            && seen.goaway.is_none(),
        "a 200 answer: {seen:?}"
    );
}
