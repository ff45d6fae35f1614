//! Builders of `CheckRequest`s shaped like the ones Envoy 1.40 sends (pseudo-headers in the
//! header map, the query kept in `path`). Used by `explain`, the benches, the fuzzers and the
//! tests, so all of them exercise the same request shape.

mod keys;
mod oracles;

pub use keys::{
    bench_public_keys, bench_token_signed, ec_key, ecdsa_der, ed25519_key, jwk, rsa_key, sign_with,
    PublicBench,
};

pub use oracles::{check_normalization, jsonwebtoken_reasons, ClaimRules};

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3::{HeaderMap, HeaderValue};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest};

/// A request as a default Envoy ext_authz filter sends it: `headers` map with the
/// pseudo-headers, plus the given headers (names lower-cased, as Envoy does).
pub fn check_request(
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
) -> CheckRequest {
    let mut map: HashMap<String, String> = [
        (":method", method),
        (":path", path),
        (":authority", host),
        (":scheme", "http"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in headers {
        let key = k.to_ascii_lowercase();
        // Envoy joins repeated headers with ",".
        map.entry(key)
            .and_modify(|old| {
                old.push(',');
                old.push_str(v);
            })
            .or_insert_with(|| v.to_string());
    }
    wrap(HttpRequest {
        id: "1".into(),
        method: method.into(),
        path: path.into(),
        host: host.into(),
        scheme: "http".into(),
        protocol: "HTTP/1.1".into(),
        headers: map,
        ..Default::default()
    })
}

/// A request as Envoy sends it with `encode_raw_headers: true`: only `header_map`, values as
/// bytes in `raw_value`, repeated headers as separate entries, method/path/host from the
/// pseudo-headers.
pub fn raw_check_request(headers: &[(&str, &str)]) -> CheckRequest {
    let headers = headers
        .iter()
        .map(|(k, v)| HeaderValue {
            key: k.to_string(),
            raw_value: v.as_bytes().to_vec(),
            ..Default::default()
        })
        .collect();
    wrap(HttpRequest {
        id: "1".into(),
        header_map: Some(HeaderMap { headers }),
        ..Default::default()
    })
}

/// Adds `context_extensions` (per-route settings) to a request.
pub fn with_context_extensions(mut req: CheckRequest, ext: &[(&str, &str)]) -> CheckRequest {
    if let Some(attrs) = req.attributes.as_mut() {
        attrs.context_extensions = ext
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }
    req
}

/// `req` from the mTLS peer `principal` (empty: none) at `address` (`ip:port`), as Envoy
/// reports them in `attributes.source`.
pub fn with_source(mut req: CheckRequest, principal: &str, address: &str) -> CheckRequest {
    use envoy_types::pb::envoy::config::core::v3::{
        address, socket_address, Address, SocketAddress,
    };
    use envoy_types::pb::envoy::service::auth::v3::attribute_context::Peer;
    let (ip, port) = address.rsplit_once(':').unwrap_or((address, "0"));
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    let attributes = req.attributes.get_or_insert_with(Default::default);
    attributes.source = Some(Peer {
        principal: principal.to_string(),
        address: Some(Address {
            address: Some(address::Address::SocketAddress(SocketAddress {
                address: ip.to_string(),
                port_specifier: Some(socket_address::PortSpecifier::PortValue(
                    port.parse().unwrap_or(0),
                )),
                ..Default::default()
            })),
        }),
        ..Default::default()
    });
    req
}

fn wrap(http: HttpRequest) -> CheckRequest {
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                http: Some(http),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

/// Signs arbitrary header and payload JSON (which may be deliberately odd) as a compact JWS,
/// for tests that need tokens no well-behaved library would produce.
pub fn sign_compact(
    alg: crate::keys::Algorithm,
    secret: &[u8],
    header_json: &str,
    payload_json: &str,
) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header_json),
        URL_SAFE_NO_PAD.encode(payload_json)
    );
    let mac = crate::keys::MacKey::new(alg, secret)
        .expect("an HMAC algorithm")
        .sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// A key ring of `count` HS256 keys (`k0`, `k1`, ...) plus one HS384 and one HS512 key, for
/// benches and fuzzers. Key `kN` is `[N + 1; 32]`; `k384` is `[0x38; 48]`, `k512` `[0x51; 64]`.
pub fn bench_keyring(count: usize) -> crate::keys::KeyRing {
    crate::keys::KeyRing::build(bench_hmac_keys(count)).expect("distinct kids")
}

/// The keys of [`bench_keyring`], unbuilt.
pub fn bench_hmac_keys(count: usize) -> Vec<crate::keys::LoadedKey> {
    use crate::keys::{Algorithm, LoadedKey};
    let key = |kid: String, alg, secret: Vec<u8>| LoadedKey::hmac(&kid, alg, &secret, "bench");
    let mut keys: Vec<LoadedKey> = (0..count)
        .map(|i| key(format!("k{i}"), Algorithm::HS256, vec![i as u8 + 1; 32]))
        .collect();
    keys.push(key("k384".into(), Algorithm::HS384, vec![0x38; 48]));
    keys.push(key("k512".into(), Algorithm::HS512, vec![0x51; 64]));
    keys
}

/// A typical access token for benches and profiling: HS256, kid `k0` of [`bench_keyring`],
/// about 230 bytes of claims (issuer, subject, audience, scopes, roles, tenant), valid from
/// `iat` for ten minutes.
pub fn bench_token(iat: u64) -> String {
    sign_compact(
        crate::keys::Algorithm::HS256,
        &[1u8; 32],
        r#"{"alg":"HS256","typ":"JWT","kid":"k0"}"#,
        &bench_claims(iat),
    )
}

/// The claims of [`bench_token`] as JSON.
pub fn bench_claims(iat: u64) -> String {
    format!(
        r#"{{"iss":"https://issuer.example.com","sub":"3f1c2a9e-7b1d-4c55-9a0e-2d4f6b8c1e7a","aud":"orders-api","exp":{},"iat":{iat},"scope":"orders:read orders:write profile","realm_access":{{"roles":["user","admin"]}},"tenant":"acme"}}"#,
        iat + 600
    )
}

/// A config for benches: issuer and audience of [`bench_token`], `rules` rules of which only
/// the last matches `GET api.example.com/orders/..`, and two forwarded claims.
pub fn bench_config(rules: usize) -> crate::config::Config {
    bench_config_with(
        rules,
        "keys: [{ dir: /k, algorithm: HS256 }]\njwt: { issuers: ['https://issuer.example.com'], audiences: [orders-api] }\n",
    )
}

/// [`bench_config`] with the issuer of [`bench_token`] as a remote provider `corp` (index 0,
/// audience `orders-api`) beside the top-level keys (index 1), for
/// [`PublicBench::provider_ring`].
pub fn bench_provider_config(rules: usize) -> crate::config::Config {
    bench_config_with(
        rules,
        "keys: [{ dir: /k, algorithm: HS256 }]\nproviders:\n  - { name: corp, issuer: 'https://issuer.example.com', audiences: [orders-api], jwks_uri: 'https://issuer.example.com/jwks' }\n",
    )
}

/// A policy of `rules` rules with the second round's conditions, for rule-selection benches:
/// each rule but the last has a path template, a method and one of a header condition, a peer
/// or a CIDR; the last is a template that [`envoy_like_request`] matches. `shared_prefix`
/// false: each template starts with its own literal (`/svc7/{id}/**`), as real APIs' do;
/// true: every template is `/{kind}/{id}`, which the request's path matches, so every rule's
/// every condition is evaluated (the worst case).
pub fn bench_rich_config(rules: usize, shared_prefix: bool) -> crate::config::Config {
    let mut yaml = String::from("keys: [{ dir: /k, algorithm: HS256 }]\nrules:\n");
    for i in 0..rules.saturating_sub(1) {
        let (kind, cond) = match i % 3 {
            0 => ("headers", format!("[{{ name: x-svc, equals: 's{i}' }}]")),
            1 => ("source_ips", format!("['10.{i}.0.0/16', 'fd{i:02x}::/16']")),
            _ => ("peers", format!("['spiffe://cluster.local/ns/n{i}/*']")),
        };
        let template = if shared_prefix {
            "/{kind}/{id}".to_string()
        } else {
            format!("/svc{i}/{{id}}/**")
        };
        yaml.push_str(&format!(
            "  - {{ name: r{i}, match: {{ path_template: '{template}', methods: [GET], {kind}: {cond} }} }}\n"
        ));
    }
    yaml.push_str(
        "  - { name: orders, match: { path_template: '/orders/{id}/**', methods: [GET] } }\n",
    );
    crate::config::Config::from_yaml(&yaml, std::path::Path::new("bench.yaml"))
        .expect("the rich bench config is valid")
}

fn bench_config_with(rules: usize, head: &str) -> crate::config::Config {
    let mut yaml = format!("{head}rules:\n");
    for i in 0..rules.saturating_sub(1) {
        yaml.push_str(&format!(
            "  - {{ name: r{i}, match: {{ methods: [GET, POST], path_prefix: /svc{i}, hosts: ['api.example.com'] }}, require: {{ scopes: ['svc{i}:read'] }} }}\n"
        ));
    }
    yaml.push_str("  - { name: orders, match: { methods: [GET], path_prefix: /orders, hosts: ['*.example.com'] }, require: { scopes: ['orders:read'], claims: [{ claim: realm_access.roles, contains: admin }] } }\n");
    yaml.push_str("forward:\n  claims_to_headers: { x-jwt-sub: sub, x-jwt-tenant: tenant }\n");
    crate::config::Config::from_yaml(&yaml, std::path::Path::new("bench.yaml"))
        .expect("the bench config is valid")
}

/// `GET api.example.com/orders/42?x=1` with the headers a default Envoy 1.40 sends, and
/// `Authorization: Bearer <token>` when given.
pub fn envoy_like_request(token: Option<&str>) -> CheckRequest {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("x-request-id", "897793f0-a52e-4562-8619-a5c13c8bf2e7"),
        ("accept", "*/*"),
        ("user-agent", "curl/7.88.1"),
        ("x-forwarded-proto", "http"),
    ];
    if let Some(a) = &auth {
        headers.push(("authorization", a));
    }
    check_request("GET", "/orders/42?x=1", "api.example.com", &headers)
}

/// Everything a [`crate::request::RequestView`] exposes, in a canonical owned form: map entries
/// (the `headers` map, `context_extensions`) keyed with the last occurrence winning, as a
/// protobuf map decodes; the `header_map` list in order. Two views that summarize equally
/// decide equally.
#[derive(Debug, PartialEq, Eq)]
pub struct ViewSummary {
    /// method, path, host, request id, principal, source address.
    pub fields: [String; 6],
    /// The `headers` map (empty in list mode).
    pub header_map: std::collections::BTreeMap<String, String>,
    /// The `header_map` list (empty in map mode).
    pub header_list: Vec<(String, String)>,
    /// `context_extensions`.
    pub context: std::collections::BTreeMap<String, String>,
}

/// Summarizes a view (see [`ViewSummary`]).
pub fn summarize(view: &crate::request::RequestView<'_>) -> ViewSummary {
    let owned = |entries: &[(&str, &str)]| -> Vec<(String, String)> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let (header_map, header_list) = if view.is_header_list() {
        (Default::default(), owned(view.header_entries()))
    } else {
        (
            owned(view.header_entries()).into_iter().collect(),
            Vec::new(),
        )
    };
    ViewSummary {
        fields: [
            view.method,
            view.path,
            view.host,
            view.request_id,
            view.principal,
            view.source_address,
        ]
        .map(str::to_string),
        header_map,
        header_list,
        context: owned(view.context_entries()).into_iter().collect(),
    }
}
