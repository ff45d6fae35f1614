//! The second round of rules through the real binary: tenant-bound paths, deny rules, negated
//! requirements, mTLS peers, source CIDRs, header conditions and CORS preflights.

mod support;

use jwt_authz::testing::{check_request, with_source};
use serde_json::json;
use support::*;

use support::rules::POLICY;

/// The outcome of one Check: "ok", the deny reason, or "error:<code>".
async fn decide(
    server: &JwtAuthz,
    req: envoy_types::pb::envoy::service::auth::v3::CheckRequest,
) -> String {
    let mut client = server.client().await;
    let resp = client.check(req).await.unwrap().into_inner();
    let status = resp.status.unwrap_or_default();
    if status.code == 0 {
        "ok".into()
    } else {
        status.message
    }
}

fn token(extra: serde_json::Value) -> String {
    let mut c = claims("alice");
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    format!("Bearer {}", mint("a", KEY_A, c))
}

fn get(path: &str, auth: &str) -> envoy_types::pb::envoy::service::auth::v3::CheckRequest {
    check_request("GET", path, "h", &[("authorization", auth)])
}

fn start(extra: &str) -> (Fixture, JwtAuthz) {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .basic_config(&format!("{POLICY}{extra}"));
    let server = JwtAuthz::start(&f.config_path());
    (f, server)
}

#[tokio::test]
async fn tenant_bound_paths_deny_rules_and_negation() {
    let (_f, server) = start("");
    let acme = token(json!({"tenant_id": "acme"}));
    let suspended = token(json!({"tenant_id": "acme", "status": "suspended"}));
    let active = token(json!({"tenant_id": "acme", "status": "active"}));
    for (path, auth, expected) in [
        ("/tenants/acme/orders", &acme, "ok"),
        ("/tenants/acme/orders/7/items", &acme, "ok"),
        ("/tenants/globex/orders", &acme, "claim_mismatch"),
        // Compared after normalization: dot-segments cannot smuggle another tenant in.
        ("/tenants/globex/../acme/orders", &acme, "ok"),
        ("/tenants/acme/../globex/orders", &acme, "claim_mismatch"),
        ("/tenants/acme%2Fx/orders", &acme, "ambiguous_path"),
        // not: a suspended tenant is refused, an active one passes.
        ("/tenants/acme/orders", &suspended, "claim_mismatch"),
        ("/tenants/acme/orders", &active, "ok"),
    ] {
        assert_eq!(decide(&server, get(path, auth)).await, expected, "{path}");
    }
    // A deny rule: 403 whatever the token (none at all, too), counted for its rule.
    assert_eq!(
        decide(&server, get("/v1/orders", &acme)).await,
        "denied_by_rule"
    );
    assert_eq!(
        decide(&server, check_request("GET", "/v1", "h", &[])).await,
        "denied_by_rule"
    );
    assert_eq!(
        server
            .metric(r#"jwt_authz_rule_decisions_total{decision="deny",rule="legacy"}"#)
            .await,
        2.0
    );
    assert_eq!(
        server
            .metric(r#"jwt_authz_checks_total{decision="deny",reason="denied_by_rule"}"#)
            .await,
        2.0
    );
}

#[tokio::test]
async fn peers_source_ips_and_headers() {
    let (_f, server) = start("");
    let t = token(json!({}));
    let from = |path: &str, principal: &str, ip: &str| with_source(get(path, &t), principal, ip);
    let web = "spiffe://cluster.local/ns/shop/sa/web";
    let cron = "spiffe://cluster.local/ns/ops/sa/cron";
    let other = "spiffe://cluster.local/ns/shop/sa/other";
    for (path, peer, ip, expected) in [
        ("/internal/x", web, "10.1.1.1:4000", "ok"),
        ("/internal/x", cron, "10.1.1.1:1", "ok"),
        ("/internal/x", other, "10.1.1.1:1", "no_matching_rule"),
        ("/internal/x", "", "10.1.1.1:1", "no_matching_rule"),
        ("/office/a", "", "10.20.30.40:5", "ok"),
        ("/office/a", "", "[fd00::7]:5", "ok"),
        ("/office/a", "", "192.168.1.1:5", "no_matching_rule"),
        ("/office/a", "", "[2001:db8::1]:5", "no_matching_rule"),
    ] {
        assert_eq!(
            decide(&server, from(path, peer, ip)).await,
            expected,
            "{path} from {peer:?} at {ip}"
        );
    }
    let v = |value: &[&str]| {
        let mut headers = vec![("authorization", t.as_str())];
        headers.extend(value.iter().map(|v| ("x-api-version", *v)));
        check_request("GET", "/api/x", "h", &headers)
    };
    assert_eq!(decide(&server, v(&["2"])).await, "ok");
    assert_eq!(decide(&server, v(&["1"])).await, "no_matching_rule");
    assert_eq!(decide(&server, v(&[])).await, "no_matching_rule");
    // Sent twice (Envoy joins them: "2,2"): not an equals match.
    assert_eq!(decide(&server, v(&["2", "2"])).await, "no_matching_rule");
}

#[tokio::test]
async fn cors_preflights_pass_only_when_allowed() {
    let preflight = || {
        check_request(
            "OPTIONS",
            "/cors",
            "h",
            &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "POST"),
                ("x-jwt-sub", "mallory"),
            ],
        )
    };
    let (_f, strict) = start("");
    assert_eq!(decide(&strict, preflight()).await, "missing_token");
    let (_f, open) = start("cors_preflight: allow\n");
    let mut client = open.client().await;
    let resp = client.check(preflight()).await.unwrap().into_inner();
    assert_eq!(resp.status.unwrap().code, 0);
    let Some(envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse::OkResponse(
        ok,
    )) = resp.http_response
    else {
        panic!("an OK response");
    };
    assert!(
        ok.headers_to_remove.iter().any(|h| h == "x-jwt-sub"),
        "identity headers are still removed: {:?}",
        ok.headers_to_remove
    );
    assert_eq!(
        open.metric(r#"jwt_authz_checks_total{decision="allow",reason="public"}"#)
            .await,
        1.0
    );
    // An OPTIONS without the preflight headers is an ordinary request.
    assert_eq!(
        decide(
            &open,
            check_request("OPTIONS", "/cors", "h", &[("origin", "https://a")])
        )
        .await,
        "missing_token"
    );
}
