//! Graceful shutdown: SIGTERM turns readiness off and lets an in-flight Check finish; a stream
//! that never finishes cannot hold the process beyond `shutdown_grace`.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use envoy_types::pb::envoy::service::auth::v3::CheckResponse;
use prost::Message;
use support::raw::{framed_check, half_sent_check};
use support::*;

#[tokio::test]
async fn sigterm_lets_an_in_flight_check_finish() {
    let f = Fixture::new();
    // The half-sent Check must outlive the drain, not the default 1 s request timeout.
    f.write_key("a", KEY_A)
        .basic_config("limits: { request_timeout: 30s }\n");
    let mut server = JwtAuthz::start(&f.config_path());
    let framed = framed_check(&mint("a", KEY_A, claims("alice")));
    let (response, mut send) = half_sent_check(&server.grpc, &framed, 7).await;

    server.sigterm();
    eventually("readiness to turn off", Duration::from_secs(5), || async {
        let (status, body) = server.admin_get("/readyz").await;
        (status == 503 && body.contains("shutting down")).then_some(())
    })
    .await;
    assert!(server.child.try_wait().unwrap().is_none(), "still draining");

    send.send_data(Bytes::copy_from_slice(&framed[7..]), true)
        .unwrap();
    let response = response.await.expect("the in-flight Check is answered");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut data = Vec::new();
    while let Some(chunk) = body.data().await {
        data.extend_from_slice(&chunk.unwrap());
    }
    let trailers = body.trailers().await.unwrap().expect("grpc trailers");
    assert_eq!(trailers["grpc-status"], "0");
    let check = CheckResponse::decode(&data[5..]).unwrap();
    assert_eq!(
        check.status.unwrap().code,
        0,
        "the token was valid: allowed"
    );

    let status = server.wait_exit(Duration::from_secs(5)).await;
    assert!(status.success(), "{status:?}");
    assert!(server
        .logs()
        .iter()
        .any(|l| l.contains("\"message\":\"stopped\"")));
}

#[tokio::test]
async fn a_stuck_stream_cannot_delay_exit_beyond_shutdown_grace() {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .basic_config("shutdown_grace: 1s\nlimits: { request_timeout: 30s }\n");
    let mut server = JwtAuthz::start(&f.config_path());
    let framed = framed_check(&mint("a", KEY_A, claims("alice")));
    let (_response, _send) = half_sent_check(&server.grpc, &framed, 7).await;
    let start = Instant::now();
    server.sigterm();
    let status = server.wait_exit(Duration::from_secs(10)).await;
    let took = start.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took >= Duration::from_millis(900),
        "waited for the stream: {took:?}"
    );
    assert!(
        took < Duration::from_secs(4),
        "but not beyond the grace: {took:?}"
    );
    assert!(server
        .logs()
        .iter()
        .any(|l| l.contains("shutdown_grace elapsed")));
}

#[tokio::test]
async fn sigterm_right_after_listening_is_a_clean_exit() {
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config("");
    for _ in 0..10 {
        let mut server = JwtAuthz::start(&f.config_path());
        server.sigterm();
        let status = server.wait_exit(Duration::from_secs(5)).await;
        assert_eq!(
            status.code(),
            Some(0),
            "killed by the signal instead of handling it: {status:?}"
        );
    }
}

#[tokio::test]
async fn grpc_health_is_registered_before_listening() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config("");
    for _ in 0..10 {
        let server = JwtAuthz::start(&f.config_path());
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let service = "envoy.service.auth.v3.Authorization".to_string();
        let status = HealthClient::new(channel)
            .check(HealthCheckRequest { service })
            .await;
        assert_eq!(
            status
                .expect("a known service right after listening")
                .into_inner()
                .status,
            1
        );
    }
}

#[tokio::test]
async fn grpc_health_turns_not_serving_on_sigterm() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config("shutdown_grace: 1s\n");
    let mut server = JwtAuthz::start(&f.config_path());
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let service = "envoy.service.auth.v3.Authorization".to_string();
    let mut watch = health
        .watch(HealthCheckRequest { service })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(watch.message().await.unwrap().unwrap().status, 1, "SERVING");
    server.sigterm();
    let next = tokio::time::timeout(Duration::from_secs(5), watch.message()).await;
    assert_eq!(
        next.unwrap().unwrap().unwrap().status,
        2,
        "NOT_SERVING while draining"
    );
    assert!(server.wait_exit(Duration::from_secs(5)).await.success());
}

#[tokio::test]
async fn reloads_during_the_drain_never_turn_health_back_to_serving() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config(
        "shutdown_grace: 3s\nreload: { debounce: 10ms, poll_interval: 1s }\n\
         limits: { request_timeout: 30s }\n",
    );
    let mut server = JwtAuthz::start(&f.config_path());
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let service = "envoy.service.auth.v3.Authorization".to_string();
    let mut watch = HealthClient::new(channel)
        .watch(HealthCheckRequest { service })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(watch.message().await.unwrap().unwrap().status, 1, "SERVING");
    // An in-flight Check holds the drain open while keys keep changing (the first write lands
    // before the signal, so a reload attempt can be running when it arrives).
    let framed = framed_check(&mint("a", KEY_A, claims("alice")));
    let (_response, _send) = half_sent_check(&server.grpc, &framed, 7).await;
    let keys = f.keys();
    std::fs::write(keys.join("first"), [9u8; 32]).unwrap();
    tokio::time::sleep(Duration::from_millis(8)).await;
    server.sigterm();
    let writer = std::thread::spawn(move || {
        for i in 0..60u8 {
            std::fs::write(keys.join(format!("k{i}")), [i + 1; 32]).unwrap();
            std::thread::sleep(Duration::from_millis(25));
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), watch.message()).await {
            Ok(Ok(Some(m))) => seen.push(m.status),
            Ok(_) => break,
            Err(_) => {}
        }
        let (status, _) = server.admin_get("/readyz").await;
        assert_eq!(
            status, 503,
            "ready again during the drain; health so far {seen:?}"
        );
    }
    writer.join().unwrap();
    assert_eq!(seen.first(), Some(&2), "NOT_SERVING first: {seen:?}");
    assert!(
        seen.iter().all(|&s| s == 2),
        "never SERVING again: {seen:?}"
    );
    // The reloader stops at the signal; an attempt already running may still publish, which
    // is the race that readiness, recomputed under the watch's lock, must win.
    assert!(server.wait_exit(Duration::from_secs(10)).await.success());
}
