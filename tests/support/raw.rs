//! A raw HTTP/2 client for Checks held half-sent (in flight) across events.

use bytes::Bytes;
use jwt_authz::testing::check_request;
use prost::Message;

/// Opens a Check stream, sends the first `split` bytes of the framed request, and makes sure
/// the server has read them (a PING round trip) before returning.
pub async fn half_sent_check(
    grpc: &str,
    framed: &[u8],
    split: usize,
) -> (h2::client::ResponseFuture, h2::SendStream<Bytes>) {
    let tcp = tokio::net::TcpStream::connect(grpc).await.unwrap();
    let (client, mut conn) = h2::client::handshake(tcp).await.unwrap();
    let mut ping = conn.ping_pong().unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.unwrap();
    let request = ::http::Request::post(format!(
        "http://{grpc}/envoy.service.auth.v3.Authorization/Check"
    ))
    .header("content-type", "application/grpc")
    .header("te", "trailers")
    .body(())
    .unwrap();
    let (response, mut send) = client.send_request(request, false).unwrap();
    send.send_data(Bytes::copy_from_slice(&framed[..split]), false)
        .unwrap();
    ping.ping(h2::Ping::opaque()).await.unwrap();
    (response, send)
}

pub fn framed_check(token: &str) -> Vec<u8> {
    let auth = format!("Bearer {token}");
    let msg = check_request("GET", "/", "h", &[("authorization", &auth)]).encode_to_vec();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    framed.extend_from_slice(&msg);
    framed
}

/// One complete gRPC call with raw message bytes: (HTTP status, grpc-status, grpc-message).
pub async fn grpc_call(grpc: &str, path: &str, message: &[u8]) -> (u16, String, String) {
    let tcp = tokio::net::TcpStream::connect(grpc).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.unwrap();
    let request = ::http::Request::post(format!("http://{grpc}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (response, mut send) = client.send_request(request, false).unwrap();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(message);
    send.send_data(Bytes::from(framed), true).unwrap();
    let response = response.await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = response.into_body();
    while body.data().await.is_some() {}
    // A trailers-only error puts grpc-status in the headers.
    let trailers = body.trailers().await.unwrap().unwrap_or(headers);
    let get = |k: &str| {
        trailers
            .get(k)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    // grpc-message is percent-encoded on the wire.
    let message = get("grpc-message").replace("%20", " ");
    (status, get("grpc-status"), message)
}
