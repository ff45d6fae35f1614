//! The README's rules examples and `explain` with the second round's request fields.

mod support;

use jwt_authz::testing::check_request;
use serde_json::json;
use support::*;

use support::rules::POLICY;

/// The README's multi-tenant example, as written, decided in-process.
#[test]
fn the_readmes_multi_tenant_example_decides_as_documented() {
    use jwt_authz::authz::{decide, Decision};
    use jwt_authz::keys::{Algorithm, KeyRing, LoadedKey};
    use jwt_authz::testing::with_source;
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let section = &readme[readme.find("### Rules: tenants, callers, headers").unwrap()..];
    let start = section.find("```yaml\n").unwrap() + "```yaml\n".len();
    let yaml = &section[start..start + section[start..].find("```\n").unwrap()];
    let config = jwt_authz::config::Config::from_yaml(yaml, std::path::Path::new("/r.yaml"))
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let ring = KeyRing::build(vec![LoadedKey::hmac("a", Algorithm::HS256, KEY_A, "k")]).unwrap();
    let bearer = |extra: serde_json::Value| {
        let mut c = json!({"sub": "u", "iss": "https://idp.example.com", "aud": "orders-api",
            "iat": now(), "exp": now() + 600});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        format!("Bearer {}", mint("a", KEY_A, c))
    };
    let verdict = |req: envoy_types::pb::envoy::service::auth::v3::CheckRequest| {
        let view = jwt_authz::request::RequestView::new(&req);
        match decide(&view, &config, &ring, now()).unwrap() {
            Decision::Allow(_) => "ok".to_string(),
            Decision::Deny(d) => d.reason.to_string(),
        }
    };
    let acme = bearer(json!({"tenant_id": "acme"}));
    let with = |m: &str, p: &str, auth: &str, h: &[(&str, &str)]| {
        let mut headers = vec![("authorization", auth)];
        headers.extend_from_slice(h);
        check_request(m, p, "api", &headers)
    };
    assert_eq!(
        verdict(with("GET", "/tenants/acme/orders/1", &acme, &[])),
        "ok"
    );
    assert_eq!(
        verdict(with("GET", "/tenants/globex/orders/1", &acme, &[])),
        "claim_mismatch"
    );
    assert_eq!(
        verdict(with("DELETE", "/tenants/acme/orders/1", &acme, &[])),
        "no_matching_rule"
    );
    assert_eq!(
        verdict(with("GET", "/tenants/acme/admin/users", &acme, &[])),
        "insufficient_scope"
    );
    let admin = bearer(json!({"tenant_id": "acme", "scope": "orders:admin"}));
    assert_eq!(
        verdict(with("GET", "/tenants/acme/admin/users", &admin, &[])),
        "ok"
    );
    let suspended =
        bearer(json!({"tenant_id": "acme", "scope": "orders:admin", "status": "suspended"}));
    assert_eq!(
        verdict(with("GET", "/tenants/acme/admin/users", &suspended, &[])),
        "claim_mismatch"
    );
    assert_eq!(
        verdict(with("GET", "/v1/orders", &admin, &[])),
        "denied_by_rule"
    );
    let job = bearer(json!({}));
    let billing = |principal: &str, ip: &str| {
        with_source(
            with("POST", "/internal/billing/run", &job, &[]),
            principal,
            ip,
        )
    };
    assert_eq!(
        verdict(billing(
            "spiffe://cluster.local/ns/billing/sa/invoicer",
            "10.2.3.4"
        )),
        "ok"
    );
    assert_eq!(
        verdict(billing("spiffe://cluster.local/ns/shop/sa/web", "10.2.3.4")),
        "no_matching_rule"
    );
    assert_eq!(
        verdict(billing(
            "spiffe://cluster.local/ns/billing/sa/invoicer",
            "203.0.113.9"
        )),
        "no_matching_rule"
    );
    let partner = bearer(json!({"azp": "globex", "scope": "partner:api"}));
    assert_eq!(
        verdict(with(
            "GET",
            "/partners/globex/stock",
            &partner,
            &[("x-api-version", "2.1")]
        )),
        "ok"
    );
    assert_eq!(
        verdict(with(
            "GET",
            "/partners/globex/stock",
            &partner,
            &[("x-api-version", "1")]
        )),
        "no_matching_rule"
    );
    assert_eq!(
        verdict(with(
            "GET",
            "/partners/initech/stock",
            &partner,
            &[("x-api-version", "2")]
        )),
        "claim_mismatch"
    );
    let preflight = check_request(
        "OPTIONS",
        "/tenants/acme/orders",
        "api",
        &[
            ("origin", "https://app"),
            ("access-control-request-method", "POST"),
        ],
    );
    assert_eq!(verdict(preflight), "ok");
}

#[test]
fn explain_takes_headers_peer_and_source_ip_and_prints_the_captures() {
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config(POLICY);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(binary())
            .args(["explain", "--config"])
            .arg(f.config_path())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let mut c = claims("alice");
    c["tenant_id"] = json!("acme");
    let t = mint("a", KEY_A, c);
    let (code, out) = run(&["--token", &t, "--path", "/tenants/acme/orders/9"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("rule:     tenant-orders") && out.contains("params:   tenant=acme"),
        "{out}"
    );
    let (code, out) = run(&["--token", &t, "--path", "/tenants/globex/orders"]);
    assert_eq!(code, Some(3));
    assert!(
        out.contains("params:   tenant=globex") && out.contains("tenant_id equals_param tenant"),
        "{out}"
    );
    let internal = ["--token", &t, "--path", "/internal/x"];
    let (code, _) = run(&internal);
    assert_eq!(code, Some(3), "no peer");
    let (code, out) = run(&[
        &internal[..],
        &["--peer", "spiffe://cluster.local/ns/shop/sa/web"],
    ]
    .concat());
    assert_eq!(code, Some(0), "{out}");
    // (path, extra arguments, exit code: 0 allow, 3 deny)
    let cases: [(&str, &[&str], i32); 4] = [
        ("/office/a", &["--source-ip", "10.9.9.9"], 0),
        ("/office/a", &["--source-ip", "192.0.2.1"], 3),
        ("/api/x", &["--header", "X-Api-Version: 2"], 0),
        (
            "/api/x",
            &["--header", "x-api-version:2", "--header", "x-api-version:2"],
            3,
        ),
    ];
    for (path, extra, expected) in cases {
        let (code, out) = run(&[&["--token", &t, "--path", path][..], extra].concat());
        assert_eq!(code, Some(expected), "{path} {extra:?}: {out}");
    }
    let (code, out) = run(&["--path", "/v1/x"]);
    assert_eq!(code, Some(3));
    assert!(out.contains("denied_by_rule"), "{out}");
}
