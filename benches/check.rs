//! The policy decision with 50 rules, and the full in-process Check: CheckRequest struct →
//! CheckResponse (metrics and response building included), with and without protobuf
//! decoding/encoding.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use jwt_authz::authz::{decide, AuthzService};
use jwt_authz::config::Config;
use jwt_authz::keys::Algorithm;
use jwt_authz::request::RequestView;
use jwt_authz::state::State;
use jwt_authz::telemetry::Metrics;
use jwt_authz::testing::{bench_keyring, check_request, sign_compact};
use prost::Message;

fn now() -> u64 {
    jwt_authz::authz::unix_now()
}

fn token() -> String {
    let exp = now() + 3600;
    let claims = format!(
        r#"{{"iss":"https://issuer.example.com","sub":"3f1c2a9e-7b1d-4c55-9a0e-2d4f6b8c1e7a","aud":"orders-api","exp":{exp},"iat":{},"scope":"orders:read orders:write profile","realm_access":{{"roles":["user","admin"]}},"tenant":"acme"}}"#,
        exp - 600
    );
    sign_compact(
        Algorithm::HS256,
        &[1u8; 32],
        r#"{"alg":"HS256","typ":"JWT","kid":"k0"}"#,
        &claims,
    )
}

/// 49 rules that do not match `/orders/42`, then one that does (worst case for first-match).
fn config_with_rules() -> Config {
    let mut yaml = String::from(
        "keys: [{ dir: /k, algorithm: HS256 }]\njwt: { issuers: ['https://issuer.example.com'], audiences: [orders-api] }\nrules:\n",
    );
    for i in 0..49 {
        yaml.push_str(&format!(
            "  - {{ name: r{i}, match: {{ methods: [GET, POST], path_prefix: /svc{i}, hosts: ['api.example.com'] }}, require: {{ scopes: ['svc{i}:read'] }} }}\n"
        ));
    }
    yaml.push_str("  - { name: orders, match: { methods: [GET], path_prefix: /orders, hosts: ['*.example.com'] }, require: { scopes: ['orders:read'], claims: [{ claim: realm_access.roles, contains: admin }] } }\n");
    yaml.push_str("forward:\n  claims_to_headers: { x-jwt-sub: sub, x-jwt-tenant: tenant }\n");
    Config::from_yaml(&yaml, Path::new("bench.yaml")).unwrap()
}

/// A request shaped like Envoy 1.40's (pseudo-headers, x-request-id, a few client headers).
fn request(auth: Option<&str>) -> CheckRequest {
    let mut headers = vec![
        ("x-request-id", "897793f0-a52e-4562-8619-a5c13c8bf2e7"),
        ("user-agent", "curl/7.88.1"),
        ("accept", "*/*"),
        ("x-forwarded-proto", "http"),
    ];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    check_request("GET", "/orders/42?x=1", "api.example.com", &headers)
}

fn policy(c: &mut Criterion) {
    let cfg = config_with_rules();
    let keys = bench_keyring(5);
    let auth = format!("Bearer {}", token());
    let req = request(Some(&auth));
    c.bench_function("policy/select_50_rules_last_matches", |b| {
        b.iter(|| {
            cfg.policy.select(
                None,
                black_box("GET"),
                black_box("api.example.com"),
                black_box("/orders/42"),
            )
        })
    });
    c.bench_function("decide/50_rules_allow", |b| {
        b.iter(|| {
            let view = RequestView::new(black_box(&req));
            matches!(
                decide(&view, &cfg, &keys, now()),
                Ok(jwt_authz::authz::Decision::Allow(_))
            )
        })
    });
}

fn full_check(c: &mut Criterion) {
    let service = AuthzService::new(State::new(
        Arc::new(config_with_rules()),
        Arc::new(bench_keyring(5)),
        Metrics::new(),
    ));
    let auth = format!("Bearer {}", token());
    let allowed = request(Some(&auth));
    let missing = request(None);
    let mut g = c.benchmark_group("check");
    g.bench_function("allow", |b| {
        b.iter(|| service.answer(black_box(&allowed)).unwrap())
    });
    g.bench_function("deny_missing_token", |b| {
        b.iter(|| service.answer(black_box(&missing)).unwrap())
    });
    let bytes = allowed.encode_to_vec();
    g.bench_function("allow_with_protobuf_decode_encode", |b| {
        b.iter(|| {
            let req = CheckRequest::decode(black_box(bytes.as_slice())).unwrap();
            service.answer(&req).unwrap().encode_to_vec()
        })
    });
    g.finish();
}

criterion_group!(benches, policy, full_check);
criterion_main!(benches);
