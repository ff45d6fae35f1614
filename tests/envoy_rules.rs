//! The second round of rules through a real Envoy 1.40 on the published bootstrap, with
//! Envoy's own attributes (not hand-built ones): a CORS preflight as a browser sends it, a
//! tenant-bound path, and `source_ips` against the address Envoy reports. Ignored by plain
//! `cargo test`; scripts/test.sh runs it.

mod support;

use serde_json::json;
use support::envoy::{echo_upstream, published_config, Envoy};
use support::*;

const POLICY: &str = r#"
rules:
  - name: tenant-orders
    match: { path_template: "/tenants/{tenant}/orders/**" }
    require:
      claims: [{ claim: tenant_id, equals_param: tenant }]
  - name: from-loopback
    match: { path_prefix: /local, source_ips: ["127.0.0.0/8", "::1"] }
  - name: from-office
    match: { path_prefix: /office, source_ips: ["10.0.0.0/8"] }
default: deny
"#;

async fn stack(extra: &str) -> (Fixture, JwtAuthz, Envoy) {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .basic_config(&format!("{POLICY}{extra}"));
    let authz = JwtAuthz::start(&f.config_path());
    let envoy = Envoy::start(&published_config(&authz.grpc, echo_upstream().await)).await;
    (f, authz, envoy)
}

async fn send(
    envoy: &Envoy,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Option<String>) {
    let r = http::request(envoy.addr, method, path, headers, "")
        .await
        .unwrap();
    (r.status, r.header("x-jwt-authz-reason").map(str::to_string))
}

#[tokio::test]
#[ignore = "needs Envoy; scripts/test.sh runs it"]
async fn a_tenant_bound_path_and_source_ips_through_envoy() {
    let (_f, _authz, envoy) = stack("").await;
    let mut c = claims("alice");
    c["tenant_id"] = json!("acme");
    let auth = format!("Bearer {}", mint("a", KEY_A, c));
    let a = [("authorization", auth.as_str())];
    assert_eq!(
        send(&envoy, "GET", "/tenants/acme/orders/1", &a).await,
        (200, None)
    );
    assert_eq!(
        send(&envoy, "GET", "/tenants/globex/orders/1", &a).await,
        (403, Some("claim_mismatch".into()))
    );
    // Envoy forwards the path as sent; jwt-authz normalizes it before the template.
    assert_eq!(
        send(&envoy, "GET", "/tenants/globex/../acme/orders", &a).await,
        (200, None)
    );
    assert_eq!(
        send(&envoy, "GET", "/tenants/acme/../globex/orders", &a).await,
        (403, Some("claim_mismatch".into()))
    );
    // Envoy reports the downstream peer's address: the test client is on loopback.
    assert_eq!(send(&envoy, "GET", "/local/x", &a).await, (200, None));
    assert_eq!(
        send(&envoy, "GET", "/office/x", &a).await,
        (403, Some("no_matching_rule".into()))
    );
}

#[tokio::test]
#[ignore = "needs Envoy; scripts/test.sh runs it"]
async fn a_cors_preflight_passes_without_a_token_only_with_cors_preflight_allow() {
    let preflight = [
        ("origin", "https://app.example.com"),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "authorization"),
    ];
    let (_f, _authz, strict) = stack("").await;
    assert_eq!(
        send(&strict, "OPTIONS", "/tenants/acme/orders", &preflight).await,
        (401, Some("missing_token".into()))
    );
    let (_f, authz, open) = stack("cors_preflight: allow\n").await;
    assert_eq!(
        send(&open, "OPTIONS", "/tenants/acme/orders", &preflight).await,
        (200, None)
    );
    // Only a preflight: the same request without its headers still needs a token.
    assert_eq!(
        send(
            &open,
            "OPTIONS",
            "/tenants/acme/orders",
            &[("origin", "https://app.example.com")]
        )
        .await,
        (401, Some("missing_token".into()))
    );
    assert_eq!(
        authz
            .metric(r#"jwt_authz_checks_total{decision="allow",reason="public"}"#)
            .await,
        1.0
    );
}
