//! `decide` + `build_response` together. Tokens are minted by jsonwebtoken. Shared helpers
//! here; `decide` tests rule selection and deny mapping, `forward` what an allow sends upstream.

mod decide;
mod forward;
mod wire;

use std::path::Path;

use envoy_types::pb::envoy::config::core::v3::HeaderValueOption;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse, OkHttpResponse};
use serde_json::json;

use super::{build_response, decide, AllowKind, Decision, Deny};
use crate::config::Config;
use crate::keys::{Algorithm, KeyRing, LoadedKey};
use crate::request::RequestView;
use crate::testing::check_request;

pub(super) const NOW: u64 = 1_800_000_000;
pub(super) const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

pub(super) const POLICY: &str = r#"
keys: [{ dir: /k, algorithm: HS256 }]
rules:
  - name: health
    match: { path_prefix: /healthz }
    public: true
  - name: orders-write
    match: { methods: [POST], path_prefix: /orders, hosts: ["api.example.com", "*.example.org"] }
    require:
      scopes: ["orders:write", "orders:read"]
  - name: admin
    match: { path_regex: "/admin(/.*)?" }
    require:
      any_of:
        - claims: [{ claim: realm_access.roles, contains: admin }]
        - claims: [{ claim: sub, equals: owner }]
  - name: beta
    match: { path_prefix: /beta }
    mode: shadow
    require:
      claims: [{ claim: plan, one_of: [gold, platinum] }]
  - name: reports
    match: { path_prefix: /reports }
default: deny
forward:
  claims_to_headers:
    x-jwt-sub: sub
    x-jwt-roles: realm_access.roles
  payload_header: x-jwt-payload
  metadata_claims: [tenant]
"#;

pub(super) fn config(yaml: &str) -> Config {
    Config::from_yaml(yaml, Path::new("/test/config.yaml")).unwrap()
}

pub(super) fn ring() -> KeyRing {
    KeyRing::build(vec![LoadedKey::hmac("k1", Algorithm::HS256, KEY, "/k")]).unwrap()
}

pub(super) fn token(claims: serde_json::Value) -> String {
    let mut c = json!({"sub": "alice", "exp": NOW + 600});
    for (k, v) in claims.as_object().unwrap() {
        c[k] = v.clone();
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(
        &header,
        &c,
        &jsonwebtoken::EncodingKey::from_secret(KEY).unwrap(),
    )
    .unwrap()
}

pub(super) fn request(
    method: &str,
    path: &str,
    host: &str,
    token: Option<&str>,
    extra: &[(&str, &str)],
) -> CheckRequest {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = extra.to_vec();
    if let Some(a) = &auth {
        headers.push(("authorization", a));
    }
    check_request(method, path, host, &headers)
}

/// Runs decide + build_response; returns the reason label (or "allow:<kind>") and the response.
pub(super) fn run(cfg: &Config, req: &CheckRequest) -> (String, CheckResponse) {
    let keys = ring();
    let view = RequestView::new(req);
    let decision = decide(&view, cfg, &keys, NOW).expect("keys are loaded");
    let label = match &decision {
        Decision::Allow(a) => match &a.kind {
            AllowKind::Token => "allow:ok".to_string(),
            AllowKind::Public => "allow:public".to_string(),
            AllowKind::Shadow(d) => format!("allow:shadow:{}", d.reason),
        },
        Decision::Deny(d) => d.reason.to_string(),
    };
    let response = build_response(&decision, &view, cfg);
    (label, response)
}

pub(super) fn ok_of(resp: &CheckResponse) -> &OkHttpResponse {
    match &resp.http_response {
        Some(HttpResponse::OkResponse(ok)) => ok,
        other => panic!("expected an allow, got {other:?}"),
    }
}

pub(super) fn set(headers: &[HeaderValueOption]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .filter_map(|h| h.header.as_ref())
        .map(|h| (h.key.as_str(), h.value.as_str()))
        .collect()
}
