//! CheckRequests and response accessors shared by the gRPC tests.

use envoy_types::pb::envoy::service::auth::v3::{CheckRequest, CheckResponse};
use envoy_types::pb::google::protobuf::value::Kind;
use jwt_authz::testing::check_request;
use serde_json::json;

use super::{now, Fixture, KEY_A};

/// Rules and claim checks used by the gRPC tests.
pub const POLICY: &str = r#"
jwt:
  issuers: ["https://idp"]
  audiences: ["api"]
  max_lifetime: 1h
  max_token_bytes: 2048
rules:
  - name: public
    match: { path_prefix: /public }
    public: true
  - name: admin
    match: { path_prefix: /admin }
    require:
      claims: [{ claim: role, equals: admin }]
  - name: orders
    match: { path_prefix: /orders }
    require: { scopes: ["orders:read"] }
  - name: api
    match: { path_prefix: /api }
  - name: legacy
    match: { path_prefix: /v1 }
    deny: true
default: deny
forward:
  claims_to_headers:
    x-jwt-sub: sub
"#;

/// Valid claims for POLICY.
pub fn base() -> serde_json::Value {
    json!({"sub": "alice", "iss": "https://idp", "aud": "api", "iat": now(), "exp": now() + 600})
}

pub fn with(extra: serde_json::Value) -> serde_json::Value {
    let mut c = base();
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

pub fn req(path: &str, token: Option<&str>) -> CheckRequest {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("x-jwt-sub", "spoofed"), ("x-request-id", "req-1")];
    if let Some(a) = &auth {
        headers.push(("authorization", a));
    }
    check_request("GET", path, "api.example.com", &headers)
}

pub fn headers_of(
    opts: &[envoy_types::pb::envoy::config::core::v3::HeaderValueOption],
) -> Vec<(String, String)> {
    opts.iter()
        .filter_map(|o| o.header.as_ref())
        .map(|h| (h.key.clone(), h.value.clone()))
        .collect()
}

pub fn metadata_str(resp: &CheckResponse, key: &str) -> Option<String> {
    match resp
        .dynamic_metadata
        .as_ref()?
        .fields
        .get(key)?
        .kind
        .as_ref()?
    {
        Kind::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

/// A fixture with key `a` = KEY_A and POLICY.
pub fn fixture() -> Fixture {
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config(POLICY);
    f
}
