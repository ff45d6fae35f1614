//! Hand-made HTTP/2 frames, for the floods a well-behaved client library will not send:
//! rapid resets, endless CONTINUATION frames, oversized header blocks.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Frame types.
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const CONTINUATION: u8 = 0x9;
/// Flags.
pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

/// One frame.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = len.to_be_bytes()[1..].to_vec();
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An HPACK literal header field without indexing, new name (no Huffman coding).
pub fn literal(name: &str, value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x00];
    integer(&mut out, 0, 7, name.len());
    out.extend_from_slice(name.as_bytes());
    integer(&mut out, 0, 7, value.len());
    out.extend_from_slice(value);
    out
}

/// An HPACK integer with an `n`-bit prefix (RFC 7541 §5.1).
fn integer(out: &mut Vec<u8>, first: u8, n: u32, mut value: usize) {
    let max = (1usize << n) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128 + 128) as u8);
        value /= 128;
    }
    out.push(value as u8);
}

/// The header block of a Check request (POST, http, the Check path, gRPC content type).
pub fn check_headers() -> Vec<u8> {
    grpc_headers("/envoy.service.auth.v3.Authorization/Check")
}

/// The header block of a gRPC request to `path`.
pub fn grpc_headers(path: &str) -> Vec<u8> {
    let mut block = vec![0x83, 0x86]; // :method POST, :scheme http (static table)
    block.extend(literal(":path", path.as_bytes()));
    block.extend(literal(":authority", b"localhost"));
    block.extend(literal("content-type", b"application/grpc"));
    block.extend(literal("te", b"trailers"));
    block
}

/// A connection that has sent the client preface and an empty SETTINGS frame.
pub async fn connect(grpc: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(grpc).await.unwrap();
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend(frame(SETTINGS, 0, 0, &[]));
    tcp.write_all(&hello).await.unwrap();
    tcp
}

/// What the server sent on a connection until it closed it or `within` passed.
#[derive(Debug, Default)]
pub struct Seen {
    /// The GOAWAY error code, if one came.
    pub goaway: Option<u32>,
    /// Streams the server reset.
    pub resets: usize,
    /// PING frames the server sent (not acknowledgements).
    pub pings: usize,
    /// Response header blocks (HPACK bytes; `0x88` first is `:status: 200`).
    pub responses: Vec<Vec<u8>>,
    /// The connection ended (EOF or a reset).
    pub closed: bool,
    /// Bytes read.
    pub bytes: usize,
}

/// Reads and parses frames until the connection ends or `within` passes.
pub async fn read_frames(tcp: &mut TcpStream, within: Duration) -> Seen {
    read_frames_answering(tcp, within, false).await
}

/// [`read_frames`], acknowledging the server's PINGs when `answer_pings` (as every HTTP/2
/// client does; a peer that has gone away does not).
pub async fn read_frames_answering(
    tcp: &mut TcpStream,
    within: Duration,
    answer_pings: bool,
) -> Seen {
    let mut seen = Seen::default();
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    let mut chunk = [0u8; 16384];
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut chunk)).await {
            Err(_) => break,
            Ok(Ok(0)) | Ok(Err(_)) => {
                seen.closed = true;
                break;
            }
            Ok(Ok(n)) => {
                seen.bytes += n;
                buf.extend_from_slice(&chunk[..n]);
            }
        }
        while buf.len() >= 9 {
            let len = u32::from_be_bytes([0, buf[0], buf[1], buf[2]]) as usize;
            if buf.len() < 9 + len {
                break;
            }
            let payload = &buf[9..9 + len];
            match buf[3] {
                GOAWAY if len >= 8 => {
                    seen.goaway = Some(u32::from_be_bytes(payload[4..8].try_into().unwrap()))
                }
                RST_STREAM => seen.resets += 1,
                HEADERS => seen.responses.push(payload.to_vec()),
                PING if buf[4] & ACK == 0 => {
                    seen.pings += 1;
                    if answer_pings {
                        let ack = frame(PING, ACK, 0, payload);
                        if tcp.write_all(&ack).await.is_err() {
                            seen.closed = true;
                        }
                    }
                }
                _ => {}
            }
            buf.drain(..9 + len);
        }
    }
    seen
}
