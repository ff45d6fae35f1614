//! Listeners and readiness: UNAVAILABLE and not ready without keys (then ready once the Secret
//! arrives), gRPC health agreeing with /readyz, and the unix-socket listener.

mod support;

use std::time::Duration;

use support::check::*;
use support::*;

#[tokio::test]
async fn without_keys_checks_are_unavailable_and_the_server_not_ready() {
    let f = Fixture::new();
    f.basic_config(POLICY);
    let server = JwtAuthz::start(&f.config_path());
    let mut client = server.client().await;
    let token = mint("a", KEY_A, base());
    let err = client
        .check(req("/api", Some(&token)))
        .await
        .expect_err("cannot decide without keys");
    assert_eq!(err.code(), tonic::Code::Unavailable);
    let (status, body) = server.admin_get("/readyz").await;
    assert_eq!(
        (status, body.trim()),
        (503, "not ready: no verification key loaded")
    );
    assert_eq!(server.admin_get("/healthz").await.0, 200);
    assert_eq!(health(&server.grpc, "").await, 2, "NOT_SERVING");
    // Public routes need no key.
    let resp = client
        .check(req("/public", None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.status.unwrap().code, 0);
    assert_eq!(
        server
            .metric(r#"jwt_authz_checks_total{decision="error",reason="unavailable"}"#)
            .await,
        1.0
    );

    // The Secret arrives: the key loads without a restart and the server becomes ready.
    f.write_key("a", KEY_A);
    eventually(
        "ready after the key appears",
        Duration::from_secs(10),
        || async { (server.admin_get("/readyz").await.0 == 200).then_some(()) },
    )
    .await;
    assert_eq!(health(&server.grpc, "").await, 1, "SERVING");
    assert_eq!(
        health(&server.grpc, "envoy.service.auth.v3.Authorization").await,
        1
    );
    let resp = client
        .check(req("/api", Some(&token)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.status.unwrap().code, 0);
}

#[tokio::test]
async fn serves_on_a_unix_socket() {
    use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
    use hyper_util::rt::TokioIo;
    let f = fixture();
    let socket = f.path().join("authz.sock");
    let addr = format!("unix:{}", socket.display());
    let server = JwtAuthz::start_with(&f.config_path(), &["--grpc-addr", &addr], "info");
    assert_eq!(server.grpc, addr);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o666,
        "a proxy running as another user in the pod can connect"
    );
    let path = socket.clone();
    let channel = tonic::transport::Endpoint::try_from("http://localhost")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(path).await?))
            }
        }))
        .await
        .unwrap();
    let mut client = AuthorizationClient::new(channel);
    let token = mint("a", KEY_A, base());
    let resp = client
        .check(req("/api", Some(&token)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.status.unwrap().code, 0);
    server.sigterm();
    let mut server = server;
    let started = std::time::Instant::now();
    assert!(server.wait_exit(Duration::from_secs(10)).await.success());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "an idle connection must not hold the drain for shutdown_grace"
    );
    assert!(!socket.exists(), "socket file removed on shutdown");
}

#[tokio::test]
async fn probe_reports_serving_and_not_serving() {
    let probe = |addr: &str| {
        let out = std::process::Command::new(binary())
            .args(["probe", "--addr", addr, "--timeout", "5s"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    };
    let f = fixture();
    let server = JwtAuthz::start(&f.config_path());
    let (code, text) = tokio::task::spawn_blocking({
        let addr = server.grpc.clone();
        move || probe(&addr)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.ends_with("\"envoy.service.auth.v3.Authorization\": SERVING"),
        "{text}"
    );

    let socket = f.path().join("probe.sock");
    let unix = format!("unix:{}", socket.display());
    let empty = Fixture::new();
    empty.basic_config("");
    let no_keys = JwtAuthz::start_with(&empty.config_path(), &["--grpc-addr", &unix], "info");
    let (code, text) = tokio::task::spawn_blocking(move || probe(&unix))
        .await
        .unwrap();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.ends_with("NOT_SERVING"), "{text}");
    drop(no_keys);

    let (code, _) = tokio::task::spawn_blocking(move || probe("127.0.0.1:1"))
        .await
        .unwrap();
    assert_eq!(code, Some(1), "nothing listening is a failure");
}
