//! The real binary answering Check over gRPC: every deny reason with its gRPC code, HTTP status
//! and headers; allows with claim headers and metadata; UNAVAILABLE without keys.

mod support;

use std::time::Duration;

use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};
use envoy_types::pb::google::protobuf::value::Kind;
use jwt_authz::keys::Algorithm;
use jwt_authz::testing::{check_request, sign_compact};
use serde_json::json;
use support::*;

const POLICY: &str = r#"
jwt:
  issuers: ["https://idp"]
  audiences: ["api"]
  max_lifetime: 1h
  max_token_bytes: 2048
rules:
  - name: public
    match: { path_prefix: /public }
    public: true
  - name: admin
    match: { path_prefix: /admin }
    require:
      claims: [{ claim: role, equals: admin }]
  - name: orders
    match: { path_prefix: /orders }
    require: { scopes: ["orders:read"] }
  - name: api
    match: { path_prefix: /api }
default: deny
forward:
  claims_to_headers:
    x-jwt-sub: sub
"#;

fn base() -> serde_json::Value {
    json!({"sub": "alice", "iss": "https://idp", "aud": "api", "iat": now(), "exp": now() + 600})
}

fn with(extra: serde_json::Value) -> serde_json::Value {
    let mut c = base();
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn req(path: &str, token: Option<&str>) -> CheckRequest {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("x-jwt-sub", "spoofed"), ("x-request-id", "req-1")];
    if let Some(a) = &auth {
        headers.push(("authorization", a));
    }
    check_request("GET", path, "api.example.com", &headers)
}

fn headers_of(
    opts: &[envoy_types::pb::envoy::config::core::v3::HeaderValueOption],
) -> Vec<(String, String)> {
    opts.iter()
        .filter_map(|o| o.header.as_ref())
        .map(|h| (h.key.clone(), h.value.clone()))
        .collect()
}

fn metadata_str(resp: &CheckResponse, key: &str) -> Option<String> {
    match resp
        .dynamic_metadata
        .as_ref()?
        .fields
        .get(key)?
        .kind
        .as_ref()?
    {
        Kind::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn fixture() -> Fixture {
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config(POLICY);
    f
}

#[tokio::test]
async fn every_deny_reason_has_its_code_status_and_headers() {
    let f = fixture();
    let server = JwtAuthz::start(&f.config_path());
    let mut client = server.client().await;
    let signed = |claims: serde_json::Value| mint("a", KEY_A, claims);
    let hs512 = sign_compact(
        Algorithm::HS512,
        KEY_A,
        r#"{"alg":"HS512","kid":"a"}"#,
        &base().to_string(),
    );
    // (reason, path, token, HTTP status, gRPC code, exact WWW-Authenticate where checked)
    type Case<'a> = (&'a str, &'a str, Option<String>, u16, i32, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "missing_token",
            "/api",
            None,
            401,
            16,
            Some(r#"Bearer realm="jwt-authz""#),
        ),
        (
            "malformed",
            "/api",
            Some("abc".into()),
            401,
            16,
            Some(r#"Bearer realm="jwt-authz", error="invalid_token""#),
        ),
        (
            "token_too_large",
            "/api",
            Some(signed(with(json!({"pad": "x".repeat(3000)})))),
            401,
            16,
            None,
        ),
        ("unsupported_alg", "/api", Some(hs512), 401, 16, None),
        (
            "unknown_kid",
            "/api",
            Some(mint("zzz", KEY_A, base())),
            401,
            16,
            None,
        ),
        (
            "bad_signature",
            "/api",
            Some(mint("a", KEY_B, base())),
            401,
            16,
            None,
        ),
        (
            "expired",
            "/api",
            Some(signed(with(
                json!({"iat": now() - 7200, "exp": now() - 3600}),
            ))),
            401,
            16,
            None,
        ),
        (
            "not_yet_valid",
            "/api",
            Some(signed(with(json!({"nbf": now() + 3600})))),
            401,
            16,
            None,
        ),
        (
            "bad_issuer",
            "/api",
            Some(signed(with(json!({"iss": "https://evil"})))),
            401,
            16,
            None,
        ),
        (
            "bad_audience",
            "/api",
            Some(signed(with(json!({"aud": "other"})))),
            401,
            16,
            None,
        ),
        (
            "missing_claim",
            "/api",
            Some(signed(with(json!({"exp": null})))),
            401,
            16,
            None,
        ),
        (
            "lifetime_too_long",
            "/api",
            Some(signed(with(json!({"exp": now() + 7200})))),
            401,
            16,
            None,
        ),
        (
            "insufficient_scope",
            "/orders/1",
            Some(signed(base())),
            403,
            7,
            Some(r#"Bearer realm="jwt-authz", error="insufficient_scope", scope="orders:read""#),
        ),
        (
            "claim_mismatch",
            "/admin",
            Some(signed(with(json!({"role": "user"})))),
            403,
            7,
            Some(r#"Bearer realm="jwt-authz", error="insufficient_scope""#),
        ),
        (
            "no_matching_rule",
            "/elsewhere",
            Some(signed(base())),
            403,
            7,
            Some(r#"Bearer realm="jwt-authz", error="insufficient_scope""#),
        ),
        (
            "ambiguous_path",
            "/api%2Fx",
            Some(signed(base())),
            400,
            7,
            None,
        ),
    ];
    assert_eq!(
        cases.len(),
        jwt_authz::reason::DenyReason::ALL.len(),
        "one case per reason"
    );
    for (reason, path, token, http, grpc, www) in cases {
        let resp = client
            .check(req(path, token.as_deref()))
            .await
            .expect("a deny is a response")
            .into_inner();
        let status = resp.status.as_ref().unwrap();
        assert_eq!(
            (status.code, status.message.as_str()),
            (grpc, reason),
            "{reason}"
        );
        let Some(HttpResponse::DeniedResponse(d)) = &resp.http_response else {
            panic!("{reason}: expected a denied response, got {resp:?}");
        };
        assert_eq!(d.status.as_ref().unwrap().code, i32::from(http), "{reason}");
        let headers = headers_of(&d.headers);
        let get = |k: &str| {
            headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("cache-control"), Some("no-store"), "{reason}");
        assert_eq!(get("x-jwt-authz-reason"), Some(reason), "{reason}");
        let body: serde_json::Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(body["reason"], reason);
        if http == 400 {
            assert_eq!(get("www-authenticate"), None, "{reason}");
        } else if http == 401 && reason != "missing_token" {
            assert_eq!(
                get("www-authenticate"),
                Some(r#"Bearer realm="jwt-authz", error="invalid_token""#),
                "{reason}"
            );
            assert_eq!(body["error"], "invalid_token");
        }
        if let Some(www) = www {
            assert_eq!(get("www-authenticate"), Some(www), "{reason}");
        }
        assert_eq!(metadata_str(&resp, "reason").as_deref(), Some(reason));
        assert_eq!(metadata_str(&resp, "decision").as_deref(), Some("deny"));
    }
    // Every deny was logged with its reason and the request id, and no token text leaked.
    let logs = server.logs();
    let denies: Vec<_> = logs
        .iter()
        .filter(|l| l.contains("\"message\":\"deny\""))
        .collect();
    assert_eq!(denies.len(), 16, "{logs:#?}");
    assert!(denies
        .iter()
        .all(|l| l.contains("\"request_id\":\"req-1\"")));
    let token = mint("a", KEY_A, base());
    assert!(!logs.iter().any(|l| l.contains(&token[..30])));
}

#[tokio::test]
async fn allow_overwrites_identity_headers_and_sets_metadata() {
    let f = fixture();
    let server = JwtAuthz::start(&f.config_path());
    let mut client = server.client().await;
    let token = mint("a", KEY_A, base());
    let resp = client
        .check(req("/api/x", Some(&token)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.status.as_ref().unwrap().code, 0);
    let Some(HttpResponse::OkResponse(ok)) = &resp.http_response else {
        panic!("{resp:?}")
    };
    assert_eq!(
        headers_of(&ok.headers),
        [("x-jwt-sub".to_string(), "alice".to_string())]
    );
    let action = ok.headers[0].append_action;
    assert_eq!(
        action, 2,
        "OVERWRITE_IF_EXISTS_OR_ADD, so a spoofed x-jwt-sub is replaced"
    );
    for (k, v) in [
        ("sub", "alice"),
        ("iss", "https://idp"),
        ("kid", "a"),
        ("rule", "api"),
        ("decision", "allow"),
        ("reason", "ok"),
    ] {
        assert_eq!(metadata_str(&resp, k).as_deref(), Some(v), "{k}");
    }
    // A public route needs no token, and the spoofed identity header is removed.
    let resp = client
        .check(req("/public/x", None))
        .await
        .unwrap()
        .into_inner();
    let Some(HttpResponse::OkResponse(ok)) = &resp.http_response else {
        panic!("{resp:?}")
    };
    assert!(ok.headers.is_empty());
    assert_eq!(ok.headers_to_remove, ["x-jwt-sub"]);
    assert_eq!(metadata_str(&resp, "reason").as_deref(), Some("public"));
}

#[tokio::test]
async fn repeated_authorization_headers_are_malformed() {
    let f = fixture();
    let server = JwtAuthz::start(&f.config_path());
    let mut client = server.client().await;
    let good = format!("Bearer {}", mint("a", KEY_A, base()));
    let request = check_request(
        "GET",
        "/api",
        "h",
        &[("authorization", &good), ("authorization", &good)],
    );
    let resp = client.check(request).await.unwrap().into_inner();
    assert_eq!(resp.status.unwrap().message, "malformed");
}

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

/// gRPC health status for a service name (1 SERVING, 2 NOT_SERVING).
async fn health(addr: &str, service: &str) -> i32 {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = HealthClient::new(channel);
    c.check(HealthCheckRequest {
        service: service.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .status
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
