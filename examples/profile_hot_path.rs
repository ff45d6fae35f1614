//! Runs one hot-path operation N times, for instruction counts under callgrind (repeatable on a
//! noisy machine, unlike wall time):
//!   valgrind --tool=callgrind target/release/examples/profile_hot_path check 20000
//! Operations: verify (HS256, typical token), decide (50 rules), check (full in-process Check),
//! extract (token from the request). Prints nothing: divide callgrind's total by N, after
//! subtracting a run with N=0 (setup cost).

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use jwt_authz::authz::{decide, AuthzService};
use jwt_authz::config::Config;
use jwt_authz::keys::Algorithm;
use jwt_authz::request::RequestView;
use jwt_authz::state::State;
use jwt_authz::telemetry::Metrics;
use jwt_authz::testing::{bench_keyring, check_request, sign_compact};

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().unwrap_or_else(|| "check".into());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let now = 1_800_000_000;
    let claims = format!(
        r#"{{"iss":"https://issuer.example.com","sub":"3f1c2a9e-7b1d-4c55-9a0e-2d4f6b8c1e7a","aud":"orders-api","exp":{},"iat":{},"scope":"orders:read orders:write profile","realm_access":{{"roles":["user","admin"]}},"tenant":"acme"}}"#,
        now + 600,
        now
    );
    let token = sign_compact(
        Algorithm::HS256,
        &[1u8; 32],
        r#"{"alg":"HS256","typ":"JWT","kid":"k0"}"#,
        &claims,
    );
    let mut yaml = String::from("keys: [{ dir: /k, algorithm: HS256 }]\njwt: { issuers: ['https://issuer.example.com'], audiences: [orders-api] }\nrules:\n");
    for i in 0..49 {
        yaml.push_str(&format!("  - {{ name: r{i}, match: {{ methods: [GET, POST], path_prefix: /svc{i}, hosts: ['api.example.com'] }}, require: {{ scopes: ['svc{i}:read'] }} }}\n"));
    }
    yaml.push_str("  - { name: orders, match: { methods: [GET], path_prefix: /orders, hosts: ['*.example.com'] }, require: { scopes: ['orders:read'], claims: [{ claim: realm_access.roles, contains: admin }] } }\nforward:\n  claims_to_headers: { x-jwt-sub: sub, x-jwt-tenant: tenant }\n");
    let config = Config::from_yaml(&yaml, Path::new("profile.yaml")).unwrap();
    let keys = bench_keyring(5);
    let auth = format!("Bearer {token}");
    let req = check_request(
        "GET",
        "/orders/42?x=1",
        "api.example.com",
        &[
            ("authorization", &auth),
            ("x-request-id", "897793f0-a52e-4562-8619-a5c13c8bf2e7"),
            ("user-agent", "curl/7.88.1"),
            ("accept", "*/*"),
        ],
    );
    let service = AuthzService::new(State::new(Arc::new(config), Arc::new(keys), Metrics::new()));
    let snap = {
        let config = Config::from_yaml(&yaml, Path::new("profile.yaml")).unwrap();
        (config, bench_keyring(5))
    };
    for _ in 0..n {
        match op.as_str() {
            "verify" => {
                black_box(
                    jwt_authz::jwt::verify(
                        black_box(&token),
                        &snap.1,
                        &snap.0.jwt,
                        &snap.0.limits,
                        now,
                    )
                    .is_ok(),
                );
            }
            "extract" => {
                let view = RequestView::new(black_box(&req));
                black_box(jwt_authz::jwt::extract(&view, &snap.0.jwt.sources, 16384).is_ok());
            }
            "decide" => {
                let view = RequestView::new(black_box(&req));
                black_box(decide(&view, &snap.0, &snap.1, now).is_ok());
            }
            _ => {
                black_box(service.answer(black_box(&req)).is_ok());
            }
        }
    }
}
