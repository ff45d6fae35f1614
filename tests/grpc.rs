//! The real binary answering Check over gRPC: every deny reason with its gRPC code, HTTP status
//! and headers; allows with claim headers and metadata.

mod support;

use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use jwt_authz::keys::Algorithm;
use jwt_authz::testing::{check_request, sign_compact};
use serde_json::json;
use support::check::*;
use support::*;

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
        (
            "denied_by_rule",
            "/v1/anything",
            Some(signed(base())),
            403,
            7,
            Some(r#"Bearer realm="jwt-authz", error="insufficient_scope""#),
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
    let is_deny = |l: &String| l.contains("\"message\":\"deny\"");
    let logs = eventually(
        "17 deny log lines",
        std::time::Duration::from_secs(5),
        || async {
            let logs = server.logs();
            (logs.iter().filter(|l| is_deny(l)).count() == 17).then_some(logs)
        },
    )
    .await;
    let denies: Vec<_> = logs.iter().filter(|l| is_deny(l)).collect();
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
async fn other_methods_are_unimplemented_and_bad_protobuf_is_invalid_argument() {
    use support::raw::grpc_call;
    let f = fixture();
    let server = JwtAuthz::start(&f.config_path());
    let (http, status, message) = grpc_call(
        &server.grpc,
        "/envoy.service.auth.v3.Authorization/Other",
        b"",
    )
    .await;
    assert_eq!(
        (http, status.as_str()),
        (200, "12"),
        "UNIMPLEMENTED: {message}"
    );
    // A length-delimited field whose length runs past the end of the message.
    let (_, status, message) = grpc_call(
        &server.grpc,
        jwt_authz::authz::CHECK_PATH,
        &[0x0a, 0x05, 0x01],
    )
    .await;
    assert_eq!(status, "3", "INVALID_ARGUMENT: {message}");
    assert!(message.contains("malformed CheckRequest"), "{message}");
    // The same path answers a well-formed Check.
    let good = prost::Message::encode_to_vec(&req("/api", Some(&mint("a", KEY_A, base()))));
    let (_, status, _) = grpc_call(&server.grpc, jwt_authz::authz::CHECK_PATH, &good).await;
    assert_eq!(status, "0");
}
