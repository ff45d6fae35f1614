//! Builders of `CheckRequest`s shaped like the ones Envoy 1.40 sends (pseudo-headers in the
//! header map, the query kept in `path`). Used by `explain`, the benches, the fuzzers and the
//! tests, so all of them exercise the same request shape.

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
    let mac = crate::keys::MacKey::new(alg, secret).sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac))
}

/// A key ring of `count` HS256 keys (`k0`, `k1`, ...) plus one HS384 and one HS512 key, for
/// benches and fuzzers. Key `kN` is `[N + 1; 32]`; `k384` is `[0x38; 48]`, `k512` `[0x51; 64]`.
pub fn bench_keyring(count: usize) -> crate::keys::KeyRing {
    use crate::keys::{Algorithm, LoadedKey};
    let key = |kid: String, alg, secret: Vec<u8>| LoadedKey {
        kid,
        alg,
        secret,
        source: std::sync::Arc::from("bench"),
        warnings: Vec::new(),
    };
    let mut keys: Vec<LoadedKey> = (0..count)
        .map(|i| key(format!("k{i}"), Algorithm::HS256, vec![i as u8 + 1; 32]))
        .collect();
    keys.push(key("k384".into(), Algorithm::HS384, vec![0x38; 48]));
    keys.push(key("k512".into(), Algorithm::HS512, vec![0x51; 64]));
    crate::keys::KeyRing::build(keys).expect("distinct kids")
}
