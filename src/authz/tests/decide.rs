//! Rule selection, requirements, context_extensions, defaults and deny responses.

use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use serde_json::json;

use super::*;
use crate::authz::{Deny, Unavailable};
use crate::keys::KeyRing;
use crate::reason::DenyReason;
use crate::request::RequestView;
use crate::testing::with_context_extensions;

#[test]
fn rules_select_by_method_host_path_and_requirements() {
    let cfg = config(POLICY);
    let writer = token(json!({"scope": "orders:read orders:write"}));
    let reader = token(json!({"scope": "orders:read"}));
    let cases = [
        (
            "POST",
            "/orders/1",
            "api.example.com",
            Some(&writer),
            "allow:ok",
        ),
        (
            "POST",
            "/orders/1",
            "api.example.com:8443",
            Some(&writer),
            "allow:ok",
        ),
        (
            "POST",
            "/orders",
            "x.y.example.org",
            Some(&writer),
            "allow:ok",
        ),
        (
            "POST",
            "/orders/1",
            "api.example.com",
            Some(&reader),
            "insufficient_scope",
        ),
        (
            "POST",
            "/orders/1",
            "other.example.com",
            Some(&reader),
            "no_matching_rule",
        ),
        (
            "POST",
            "/ordersX",
            "api.example.com",
            Some(&reader),
            "no_matching_rule",
        ),
        (
            "POST",
            "//orders/1",
            "api.example.com",
            Some(&reader),
            "insufficient_scope",
        ),
        (
            "POST",
            "/x/../orders/1",
            "api.example.com",
            Some(&reader),
            "insufficient_scope",
        ),
        (
            "POST",
            "/orders%2Fx",
            "api.example.com",
            Some(&writer),
            "ambiguous_path",
        ),
        (
            "GET",
            "/orders/1",
            "api.example.com",
            Some(&writer),
            "no_matching_rule",
        ),
        ("GET", "/reports/q1?x=1", "h", Some(&reader), "allow:ok"),
        ("GET", "/reports", "h", None, "missing_token"),
        ("GET", "/healthz", "h", None, "allow:public"),
        (
            "GET",
            "/healthz",
            "h",
            Some(&"garbage".to_string()),
            "allow:public",
        ),
        (
            "GET",
            "/admin",
            "h",
            Some(&token(json!({"realm_access": {"roles": ["admin"]}}))),
            "allow:ok",
        ),
        (
            "GET",
            "/admin/x",
            "h",
            Some(&token(json!({"sub": "owner"}))),
            "allow:ok",
        ),
        ("GET", "/admin/x", "h", Some(&reader), "claim_mismatch"),
        (
            "GET",
            "/administrator",
            "h",
            Some(&reader),
            "no_matching_rule",
        ),
    ];
    for (method, path, host, tok, expected) in cases {
        let (label, _) = run(
            &cfg,
            &request(method, path, host, tok.map(String::as_str), &[]),
        );
        assert_eq!(label, expected, "{method} {host}{path}");
    }
}

#[test]
fn missing_scopes_are_named_in_the_challenge() {
    let cfg = config(POLICY);
    let (_, resp) = run(
        &cfg,
        &request(
            "POST",
            "/orders",
            "api.example.com",
            Some(&token(json!({}))),
            &[],
        ),
    );
    let Some(HttpResponse::DeniedResponse(d)) = &resp.http_response else {
        panic!()
    };
    let www = set(&d.headers)
        .into_iter()
        .find(|(k, _)| *k == "www-authenticate")
        .unwrap()
        .1;
    assert_eq!(
        www,
        r#"Bearer realm="jwt-authz", error="insufficient_scope", scope="orders:write orders:read""#
    );
}

#[test]
fn context_extensions_select_a_rule_by_name() {
    let cfg = config(POLICY);
    let reader = token(json!({"scope": "orders:read"}));
    let named = |name: &str| {
        with_context_extensions(
            request("GET", "/anything", "h", Some(&reader), &[]),
            &[("jwt-authz-rule", name)],
        )
    };
    assert_eq!(run(&cfg, &named("reports")).0, "allow:ok");
    assert_eq!(run(&cfg, &named("admin")).0, "claim_mismatch");
    assert_eq!(run(&cfg, &named("health")).0, "allow:public");
    assert_eq!(run(&cfg, &named("nope")).0, "no_matching_rule");
}

#[test]
fn without_rules_any_valid_token_passes_and_default_allow_works() {
    let cfg = config("keys: [{ dir: /k, algorithm: HS256 }]\n");
    assert_eq!(
        run(
            &cfg,
            &request("GET", "/any", "h", Some(&token(json!({}))), &[])
        )
        .0,
        "allow:ok"
    );
    assert_eq!(
        run(&cfg, &request("GET", "/any", "h", None, &[])).0,
        "missing_token"
    );
    let cfg = config("keys: [{ dir: /k, algorithm: HS256 }]\nrules: [{ name: r, match: { path: /only } }]\ndefault: allow\n");
    assert_eq!(
        run(
            &cfg,
            &request("GET", "/other", "h", Some(&token(json!({}))), &[])
        )
        .0,
        "allow:ok"
    );
    assert_eq!(
        run(&cfg, &request("GET", "/other", "h", Some("x.y.z"), &[])).0,
        "malformed"
    );
}

#[test]
fn no_keys_is_unavailable_except_for_public_rules() {
    let cfg = config(POLICY);
    let empty = KeyRing::default();
    let req = request("GET", "/reports", "h", Some(&token(json!({}))), &[]);
    assert!(matches!(
        decide(&RequestView::new(&req), &cfg, &empty, NOW),
        Err(Unavailable)
    ));
    let req = request("GET", "/healthz", "h", None, &[]);
    assert!(matches!(
        decide(&RequestView::new(&req), &cfg, &empty, NOW),
        Ok(Decision::Allow(_))
    ));
}

#[test]
fn every_deny_reason_maps_to_its_response() {
    let cfg = config(POLICY);
    for reason in DenyReason::ALL {
        let deny = Deny {
            reason,
            detail: "d".into(),
            rule: None,
            key: None,
            missing_scopes: vec![],
            refetch: None,
        };
        let req = request("GET", "/", "h", None, &[]);
        let resp = build_response(&Decision::Deny(deny), &RequestView::new(&req), &cfg);
        let class = reason.class();
        assert_eq!(resp.status.as_ref().unwrap().code, class.grpc_code());
        let Some(HttpResponse::DeniedResponse(d)) = &resp.http_response else {
            panic!()
        };
        assert_eq!(
            d.status.as_ref().unwrap().code,
            i32::from(class.http_status())
        );
        assert!(set(&d.headers).contains(&("cache-control", "no-store")));
        assert!(set(&d.headers).contains(&("x-jwt-authz-reason", reason.as_label())));
    }
    let quiet = config(
        "keys: [{ dir: /k, algorithm: HS256 }]\nresponses: { expose_reason: false, realm: api }\n",
    );
    let req = request("GET", "/", "h", None, &[]);
    let (label, resp) = run(&quiet, &req);
    assert_eq!(label, "missing_token");
    let Some(HttpResponse::DeniedResponse(d)) = &resp.http_response else {
        panic!()
    };
    assert_eq!(
        set(&d.headers),
        [
            ("cache-control", "no-store"),
            ("www-authenticate", r#"Bearer realm="api""#)
        ]
    );
    assert!(d.body.is_empty());
}
