//! The whole Check: arbitrary protobuf CheckRequests, and structured requests with arbitrary
//! methods, paths, hosts, headers and cookies (with or without a valid token), through `decide`
//! and `build_response`. Oracles: the zero-copy reader reads exactly what prost reads (the
//! whole request view: fields, headers, header_map, context extensions, peer); an allow that
//! needed a token carries one whose MAC jsonwebtoken accepts; a public allow never forwards
//! identity headers.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};
use jwt_authz::authz::{build_response, decide, encode_response, AllowKind, Decision};
use jwt_authz::config::Config;
use jwt_authz::keys::{Algorithm, KeyRing};
use jwt_authz::request::RequestView;
use jwt_authz::testing::{
    bench_keyring, check_request, sign_compact, summarize, with_context_extensions,
};
use jwt_authz::wire::WireRequest;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use prost::Message;

const NOW: u64 = 1_800_000_000;

fn setup() -> &'static (Config, KeyRing, String) {
    static S: OnceLock<(Config, KeyRing, String)> = OnceLock::new();
    S.get_or_init(|| {
        let config = Config::from_yaml(
            r#"
keys: [{ dir: /k, algorithm: HS256 }]
jwt:
  sources: [{ header: authorization, prefix: "Bearer " }, { cookie: at }, { query: at }]
rules:
  - { name: pub, match: { path_prefix: /pub }, public: true }
  - { name: admin, match: { path_regex: "/admin(/.*)?", hosts: ["*.example.com"] }, require: { claims: [{ claim: roles, contains: admin }] } }
  - { name: w, match: { methods: [POST], path_prefix: /w }, require: { scopes: [w] } }
  - { name: beta, match: { path_prefix: /beta }, mode: shadow, require: { any_of: [{ scopes: [b] }, { claims: [{ claim: plan, equals: gold }] }] } }
  - { name: rest, match: { path_prefix: /api } }
default: deny
forward:
  claims_to_headers: { x-jwt-sub: sub, x-jwt-roles: roles }
  payload_header: x-jwt-payload
  strip_token: true
  metadata_claims: [tenant, roles]
"#,
            Path::new("fuzz.yaml"),
        )
        .unwrap();
        let claims = format!(r#"{{"sub":"u","exp":{},"scope":"w b","roles":["admin"],"tenant":"t"}}"#, NOW + 600);
        let token = sign_compact(Algorithm::HS256, &[1; 32], r#"{"alg":"HS256","kid":"k0"}"#, &claims);
        (config, bench_keyring(2), token)
    })
}

fn run(req: &CheckRequest) {
    check_view(RequestView::new(req));
}

/// Decides on a view; the directly encoded response must decode to the prost builder's.
fn check_view(view: RequestView<'_>) {
    let (config, keys, _) = setup();
    let Ok(decision) = decide(&view, config, keys, NOW) else {
        return;
    };
    let response = build_response(&decision, &view, config);
    let mut bytes = Vec::new();
    encode_response(&decision, &view, config, &mut bytes);
    let decoded =
        CheckResponse::decode(bytes.as_slice()).expect("encode_response wrote valid protobuf");
    assert_eq!(
        decoded, response,
        "encode_response and build_response disagree"
    );
    if let Decision::Allow(a) = &decision {
        match &a.kind {
            AllowKind::Token => {
                let t = a
                    .token
                    .as_ref()
                    .expect("a token-based allow has a verified token");
                let found = a.found.expect("and knows where it came from");
                assert_eq!(
                    common::signature_ok(found.token, &t.key.kid),
                    Some(true),
                    "allowed a token whose MAC does not verify"
                );
            }
            AllowKind::Public => {
                let Some(HttpResponse::OkResponse(ok)) = &response.http_response else {
                    panic!()
                };
                assert!(ok.headers.iter().all(|h| !h
                    .header
                    .as_ref()
                    .unwrap()
                    .key
                    .starts_with("x-jwt-")));
            }
            AllowKind::Shadow(_) => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        // The server's path: the zero-copy reader, which must accept whatever prost accepts
        // and read the same request from it.
        let wire = WireRequest::decode(rest);
        if let Ok(req) = CheckRequest::decode(rest) {
            let Ok(ours) = WireRequest::decode(rest) else {
                panic!("prost accepted bytes the wire reader rejects");
            };
            assert_eq!(
                summarize(&RequestView::from_wire(ours)),
                summarize(&RequestView::new(&req)),
                "the wire reader and prost read different requests"
            );
            run(&req);
        }
        if let Ok(wire) = wire {
            check_view(RequestView::from_wire(wire));
        }
        return;
    }
    // Structured: fields separated by '\n'; header lines "name: value"; "@T" becomes the valid
    // token, so mutations explore paths, hosts and header shapes around a real credential.
    let (_, _, token) = setup();
    let text = String::from_utf8_lossy(rest).replace("@T", token);
    let mut lines = text.split('\n');
    let method = lines.next().unwrap_or("GET");
    let path = lines.next().unwrap_or("/");
    let host = lines.next().unwrap_or("h");
    let rule = lines.next().unwrap_or("");
    let headers: Vec<(&str, &str)> = lines.filter_map(|l| l.split_once(": ")).collect();
    let mut req = check_request(method, path, host, &headers);
    if !rule.is_empty() {
        req = with_context_extensions(req, &[("jwt-authz-rule", rule)]);
    }
    run(&req);
});
