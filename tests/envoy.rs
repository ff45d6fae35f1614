//! End to end through a real Envoy 1.40 running the published deploy/envoy/envoy.yaml, with
//! jwt-authz running the published deploy/local/config.yaml (its DEMO key copied to a temp
//! directory). Ignored by plain `cargo test`; scripts/test.sh runs them and fails without Envoy.

mod support;

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use support::envoy::{echo_upstream, published_config, Envoy};
use support::*;

/// jwt-authz on the published local config, Envoy on the published bootstrap, an echo upstream.
struct Stack {
    authz: JwtAuthz,
    envoy: Envoy,
    key: Vec<u8>,
    _fixture: Fixture,
}

impl Stack {
    async fn start() -> Self {
        let fixture = Fixture::new();
        let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/local");
        std::fs::copy(local.join("config.yaml"), fixture.config_path()).unwrap();
        let demo = std::fs::read_to_string(local.join("keys/demo-2026-11")).unwrap();
        std::fs::write(fixture.keys().join("demo-2026-11"), &demo).unwrap();
        let key = base64::engine::general_purpose::STANDARD
            .decode(demo.trim())
            .unwrap();
        let authz = JwtAuthz::start(&fixture.config_path());
        let upstream = echo_upstream().await;
        let envoy = Envoy::start(&published_config(&authz.grpc, upstream)).await;
        Self {
            authz,
            envoy,
            key,
            _fixture: fixture,
        }
    }

    fn token(&self, extra: Value) -> String {
        let mut c = json!({"sub": "alice", "iss": "https://issuer.local", "aud": "demo-api", "iat": now(), "exp": now() + 600});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        mint("demo-2026-11", &self.key, c)
    }

    async fn get(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        extra: &[(&str, &str)],
    ) -> http::Response {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = extra.to_vec();
        if let Some(a) = &auth {
            headers.push(("authorization", a));
        }
        http::request(self.envoy.addr, method, path, &headers, "")
            .await
            .unwrap()
    }
}

#[tokio::test]
#[ignore = "needs Envoy; scripts/test.sh runs it"]
async fn valid_token_reaches_the_upstream_with_claim_headers_not_spoofed_ones() {
    let s = Stack::start().await;
    let token = s.token(json!({"scope": "orders:read"}));
    let r = s
        .get(
            "GET",
            "/orders/42",
            Some(&token),
            &[("x-jwt-sub", "mallory")],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let seen: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        seen["x-jwt-sub"], "alice",
        "the verified subject, not the spoofed one"
    );
    assert_eq!(seen["x-jwt-scope"], "orders:read");
    assert!(seen["authorization"]
        .as_str()
        .unwrap()
        .starts_with("Bearer "));
}

#[tokio::test]
#[ignore = "needs Envoy; scripts/test.sh runs it"]
async fn spoofed_identity_never_reaches_the_upstream() {
    let s = Stack::start().await;
    let spoof = [("x-jwt-sub", "mallory"), ("x-jwt-scope", "orders:write")];
    // A valid token without `sub` or `scope`: the spoofed headers are removed, not passed.
    let mut claims =
        json!({"iss": "https://issuer.local", "aud": "demo-api", "iat": now(), "exp": now() + 600});
    claims["scope"] = Value::Null;
    let token = mint("demo-2026-11", &s.key, claims);
    let r = s.get("GET", "/profile", Some(&token), &spoof).await;
    assert_eq!(r.status, 200, "{r:?}");
    let seen: Value = serde_json::from_str(&r.body).unwrap();
    assert!(
        seen.get("x-jwt-sub").is_none() && seen.get("x-jwt-scope").is_none(),
        "{seen}"
    );
    // A public jwt-authz rule: no token needed, and spoofed identity is stripped too.
    let r = s.get("GET", "/docs/intro", None, &spoof).await;
    assert_eq!(r.status, 200, "{r:?}");
    let seen: Value = serde_json::from_str(&r.body).unwrap();
    assert!(
        seen.get("x-jwt-sub").is_none() && seen.get("x-jwt-scope").is_none(),
        "{seen}"
    );
    assert_eq!(
        s.get("POST", "/docs/intro", None, &[]).await.status,
        401,
        "public only for GET"
    );
}

#[tokio::test]
#[ignore = "needs Envoy; scripts/test.sh runs it"]
async fn missing_and_expired_tokens_get_401_with_a_challenge() {
    let s = Stack::start().await;
    let r = s.get("GET", "/orders/42", None, &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="jwt-authz""#)
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("x-jwt-authz-reason"), Some("missing_token"));
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"error": "unauthorized", "reason": "missing_token"})
    );

    let expired = s.token(json!({"iat": now() - 7200, "exp": now() - 3600}));
    let r = s.get("GET", "/orders/42", Some(&expired), &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="jwt-authz", error="invalid_token""#)
    );
    assert_eq!(r.header("x-jwt-authz-reason"), Some("expired"));
}

#[tokio::test]
#[ignore = "needs Envoy; scripts/test.sh runs it"]
async fn policy_denies_are_403_and_named_rules_apply() {
    let s = Stack::start().await;
    let reader = s.token(json!({"scope": "orders:read"}));
    let r = s.get("POST", "/orders", Some(&reader), &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="jwt-authz", error="insufficient_scope", scope="orders:write""#)
    );
    // /internal/ selects the `admin` rule through context_extensions, though its path would
    // otherwise fall to `signed-in`.
    let r = s.get("GET", "/internal/report", Some(&reader), &[]).await;
    assert_eq!(
        (r.status, r.header("x-jwt-authz-reason")),
        (403, Some("claim_mismatch"))
    );
    let admin = s.token(json!({"roles": ["admin"]}));
    assert_eq!(
        s.get("GET", "/internal/report", Some(&admin), &[])
            .await
            .status,
        200
    );
    // Health skips authorization, and the route strips identity headers itself.
    let r = s
        .get("GET", "/healthz", None, &[("x-jwt-sub", "mallory")])
        .await;
    assert_eq!(r.status, 200);
    let seen: Value = serde_json::from_str(&r.body).unwrap();
    assert!(seen.get("x-jwt-sub").is_none(), "{seen}");
    // Envoy itself rejects encoded slashes before jwt-authz sees them.
    assert_eq!(
        s.get("GET", "/orders%2F42", Some(&reader), &[])
            .await
            .status,
        400
    );
}

#[tokio::test]
#[ignore = "needs Envoy; scripts/test.sh runs it"]
async fn with_jwt_authz_stopped_envoy_answers_status_on_error() {
    let mut s = Stack::start().await;
    let token = s.token(json!({"scope": "orders:read"}));
    assert_eq!(
        s.get("GET", "/orders/1", Some(&token), &[]).await.status,
        200
    );
    s.authz.sigterm();
    assert!(s.authz.wait_exit(Duration::from_secs(10)).await.success());
    let r = s.get("GET", "/orders/1", Some(&token), &[]).await;
    assert_eq!(r.status, 503, "status_on_error, fail closed: {r:?}");
}

#[tokio::test]
#[ignore = "needs Envoy; scripts/test.sh runs it"]
async fn rs256_and_es256_tokens_from_mounted_public_keys_pass_through_envoy() {
    use jwt_authz::keys::{Algorithm, Curve};
    use jwt_authz::testing::{ec_key, rsa_key, sign_with};
    let fixture = Fixture::new();
    let (rsa, ec) = (rsa_key(), ec_key(Curve::P256));
    std::fs::create_dir(fixture.path().join("pem")).unwrap();
    std::fs::write(fixture.path().join("pem/idp-rsa.pem"), rsa.to_public_pem()).unwrap();
    let jwks = json!({"keys": [jwt_authz::testing::jwk(&ec, Some("idp-ec"), None)]});
    std::fs::write(fixture.keys().join("idp.json"), jwks.to_string()).unwrap();
    fixture.write_config(
        "keys:\n  - { dir: pem, encoding: pem, algorithm: RS256 }\n  - { dir: keys, format: jwks }\njwt: { issuers: [https://idp.example] }\nrules:\n  - { name: orders, match: { path_prefix: /orders }, require: { scopes: [orders:read] } }\nforward: { claims_to_headers: { x-jwt-sub: sub } }\n",
    );
    let authz = JwtAuthz::start(&fixture.config_path());
    let upstream = echo_upstream().await;
    let envoy = Envoy::start(&published_config(&authz.grpc, upstream)).await;
    let claims = json!({"sub": "svc-a", "iss": "https://idp.example", "scope": "orders:read", "iat": now(), "exp": now() + 600}).to_string();
    for (token, sub) in [
        (
            sign_with(
                &rsa,
                Algorithm::RS256,
                r#"{"alg":"RS256","kid":"idp-rsa","typ":"at+jwt"}"#,
                &claims,
            ),
            "svc-a",
        ),
        (
            sign_with(
                &ec,
                Algorithm::ES256,
                r#"{"alg":"ES256","kid":"idp-ec"}"#,
                &claims,
            ),
            "svc-a",
        ),
    ] {
        let r = http::get_with_token(envoy.addr, "/orders/1", &token).await;
        assert_eq!(r.status, 200, "{r:?}");
        let seen: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(seen["x-jwt-sub"], sub);
        // The same token with another signature byte is refused.
        let mut bytes = token.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        let r = http::get_with_token(envoy.addr, "/orders/1", &tampered).await;
        assert_eq!(
            (r.status, r.header("x-jwt-authz-reason")),
            (401, Some("bad_signature"))
        );
    }
}
