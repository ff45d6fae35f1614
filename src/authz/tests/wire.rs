//! The bytes `encode_response` writes decode (with prost) to exactly the message
//! `build_response` builds, for allows and denies of every shape.

use envoy_types::pb::envoy::service::auth::v3::CheckResponse;
use prost::Message;
use serde_json::json;

use super::*;
use crate::authz::encode_response;
use crate::reason::DenyReason;
use crate::request::RequestView;

fn both(cfg: &Config, req: &CheckRequest) -> (CheckResponse, CheckResponse) {
    let keys = ring();
    let view = RequestView::new(req);
    let decision = decide(&view, cfg, &keys, NOW).expect("keys are loaded");
    let built = build_response(&decision, &view, cfg);
    let mut bytes = Vec::new();
    encode_response(&decision, &view, cfg, &mut bytes);
    let decoded = CheckResponse::decode(bytes.as_slice()).expect("valid protobuf");
    (decoded, built)
}

#[test]
fn encoded_responses_match_the_prost_builder() {
    let full = config(&format!(
        "{}jwt:\n  sources: [{{ header: authorization, prefix: 'Bearer ' }}, {{ cookie: at }}, {{ query: at }}]\n",
        POLICY.replace(
            "metadata_claims: [tenant]",
            "metadata_claims: [tenant, realm_access, groups, nothing]\n  strip_token: true"
        )
    ));
    let plain = config("keys: [{ dir: /k, algorithm: HS256 }]\n");
    let quiet =
        config("keys: [{ dir: /k, algorithm: HS256 }]\nresponses: { expose_reason: false }\n");
    let rich = token(json!({
        "sub": "alice", "iss": "https://idp", "tenant": "acme",
        "scope": "orders:read orders:write",
        "realm_access": {"roles": ["admin", "ops"], "n": 1.5, "ok": true, "none": null},
        "groups": [{"name": "a"}, {"name": "b", "long": "x".repeat(300)}],
        "plan": "free"
    }));
    let cookie = format!("a=1; at={rich}; b=2");
    let cases: Vec<(&Config, CheckRequest)> = vec![
        (
            &full,
            request(
                "POST",
                "/orders",
                "api.example.com",
                Some(&rich),
                &[("x-jwt-sub", "spoof")],
            ),
        ),
        (&full, request("GET", "/reports", "h", Some(&rich), &[])),
        (
            &full,
            request("GET", "/reports", "h", None, &[("cookie", &cookie)]),
        ),
        (
            &full,
            request("GET", &format!("/reports?at={rich}"), "h", None, &[]),
        ),
        (&full, request("GET", "/healthz", "h", None, &[])),
        (&full, request("GET", "/beta", "h", Some(&rich), &[])),
        (&full, request("GET", "/beta", "h", None, &[])),
        (&full, request("GET", "/admin", "h", Some(&rich), &[])),
        (
            &full,
            request(
                "POST",
                "/orders",
                "api.example.com",
                Some(&token(json!({}))),
                &[],
            ),
        ),
        (&full, request("GET", "/nowhere", "h", Some(&rich), &[])),
        (&full, request("GET", "/orders%2Fx", "h", None, &[])),
        (&plain, request("GET", "/", "h", Some(&rich), &[])),
        (&plain, request("GET", "/", "h", Some("x.y.z"), &[])),
        (&plain, request("GET", "/", "h", None, &[])),
        (&quiet, request("GET", "/", "h", None, &[])),
        (
            &plain,
            request(
                "GET",
                "/",
                "h",
                Some(&token(json!({"sub": "ünïcødé ✓", "exp": NOW - 9999}))),
                &[],
            ),
        ),
    ];
    let mut reasons = std::collections::BTreeSet::new();
    for (i, (cfg, req)) in cases.iter().enumerate() {
        let (decoded, built) = both(cfg, req);
        assert_eq!(decoded, built, "case {i}");
        reasons.insert(built.status.as_ref().unwrap().message.clone());
    }
    assert!(
        reasons.len() >= 6,
        "the cases cover several reasons: {reasons:?}"
    );
}

#[test]
fn every_deny_reason_encodes_like_the_builder() {
    let cfg = config(POLICY);
    let req = request("GET", "/", "h", None, &[]);
    let view = RequestView::new(&req);
    for reason in DenyReason::ALL {
        let scopes = if reason == DenyReason::InsufficientScope {
            vec!["a", "b"]
        } else {
            vec![]
        };
        let decision = Decision::Deny(Deny {
            reason,
            detail: "d".into(),
            rule: cfg.policy.rule("admin"),
            key: None,
            missing_scopes: scopes,
            refetch: None,
        });
        let mut bytes = Vec::new();
        encode_response(&decision, &view, &cfg, &mut bytes);
        assert_eq!(
            CheckResponse::decode(bytes.as_slice()).unwrap(),
            build_response(&decision, &view, &cfg),
            "{reason}"
        );
    }
}
