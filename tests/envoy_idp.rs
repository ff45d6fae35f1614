//! The README's "Tokens from Keycloak, Entra ID or another identity provider" walkthrough,
//! followed as a user would: its config block (read from README.md), JWK Sets shaped like
//! Keycloak's and Entra ID's `jwks_uri` documents, tokens shaped like theirs, through a real
//! Envoy 1.40 on the published bootstrap; then the PEM variant with the one-line body the
//! README's `printf` writes. Ignored by plain `cargo test`; scripts/test.sh runs it.

mod support;

use std::path::Path;
use std::time::Duration;

use jwt_authz::keys::{Algorithm, PrivateKey};
use jwt_authz::testing::{jwk, rsa_key, sign_with};
use serde_json::{json, Value};
use support::envoy::{echo_upstream, published_config, Envoy};
use support::*;

const KEYCLOAK_ISSUER: &str = "https://keycloak.example.com/realms/prod";
const ENTRA_ISSUER: &str =
    "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";

/// The walkthrough's `idp.yaml`: the first YAML block after its heading, dedented.
fn readme_config() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme
        .find("## Tokens from Keycloak, Entra ID")
        .expect("the walkthrough")..];
    let start = section.find("   ```yaml\n").expect("its config block") + "   ```yaml\n".len();
    let end = start + section[start..].find("   ```\n").unwrap();
    section[start..end]
        .lines()
        .map(|l| l.strip_prefix("   ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// A JWK as an identity provider publishes it: with `use`, a certificate chain and thumbprints
/// (jwt-authz ignores those members and uses `n`/`e`).
fn published(key: &PrivateKey, kid: &str, alg: Option<&str>, usage: &str) -> Value {
    let mut k = jwk(key, Some(kid), None);
    if let Some(a) = alg {
        k["alg"] = a.into();
    }
    k["use"] = usage.into();
    k["x5c"] = json!(["MIICnTCCAYUCBgGTu7f1vDANBgkqhkiG9w0BAQsFADASMRAwDgYDVQQDDAdwcm9k"]);
    k["x5t"] = "N2lJHqBlPmpjWx6oKuPlGUVtiBY".into();
    k
}

/// Envoy's answer to `GET path` with `token`: (status, x-jwt-authz-reason).
async fn get(envoy: &Envoy, path: &str, token: &str) -> (u16, Option<String>) {
    let r = http::get_with_token(envoy.addr, path, token).await;
    let reason = r.header("x-jwt-authz-reason").map(str::to_string);
    (r.status, reason)
}

/// `token` with one signature character changed.
fn tampered(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let at = bytes.len() - 3;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
#[ignore = "needs Envoy; scripts/test.sh runs it"]
async fn the_readme_idp_walkthrough_allows_and_denies_through_envoy() {
    let fixture = Fixture::new();
    let config = readme_config();
    assert!(config.contains(KEYCLOAK_ISSUER), "{config}");
    let idp = fixture.path().join("idp");
    std::fs::create_dir(&idp).unwrap();
    // Keycloak's certs: the RS256 signing key and the RSA-OAEP encryption key.
    let (signing, encryption) = (rsa_key(), rsa_key());
    let keycloak = json!({"keys": [
        published(&encryption, "kc-enc-7Qw", Some("RSA-OAEP"), "enc"),
        published(&signing, "kc-sig-3Fa", Some("RS256"), "sig"),
    ]});
    std::fs::write(idp.join("keys.json"), keycloak.to_string()).unwrap();
    fixture.write_config(&config);
    let authz = JwtAuthz::start(&fixture.config_path());
    let envoy = Envoy::start(&published_config(&authz.grpc, echo_upstream().await)).await;

    let keycloak_token = |key: &PrivateKey, kid: &str, scope: &str| {
        let claims = json!({"exp": now() + 300, "iat": now(), "jti": "onrtac:5b1c", "iss": KEYCLOAK_ISSUER,
            "aud": ["orders-api", "account"], "sub": "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "typ": "Bearer",
            "azp": "orders-web", "scope": scope, "realm_access": {"roles": ["offline_access", "user"]},
            "preferred_username": "alice"});
        let header = format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{kid}"}}"#);
        sign_with(key, Algorithm::RS256, &header, &claims.to_string())
    };
    let allowed = keycloak_token(&signing, "kc-sig-3Fa", "openid profile orders:read");
    assert_eq!(get(&envoy, "/orders/1", &allowed).await, (200, None));
    let (status, reason) = get(
        &envoy,
        "/orders/1",
        &keycloak_token(&signing, "kc-sig-3Fa", "openid profile"),
    )
    .await;
    assert_eq!(
        (status, reason.as_deref()),
        (403, Some("insufficient_scope"))
    );
    let (status, reason) = get(&envoy, "/orders/1", &tampered(&allowed)).await;
    assert_eq!((status, reason.as_deref()), (401, Some("bad_signature")));
    // The encryption key was skipped: a token naming it finds no key.
    let (status, reason) = get(
        &envoy,
        "/orders/1",
        &keycloak_token(&encryption, "kc-enc-7Qw", "orders:read"),
    )
    .await;
    assert_eq!((status, reason.as_deref()), (401, Some("unknown_kid")));

    // Entra ID: RSA keys without "alg" (the config's `algorithm: RS256` names it), `scp` as a
    // space-separated string, an `x5t` in the token's header.
    let entra_key = rsa_key();
    let entra = json!({"keys": [{
        "kty": "RSA", "use": "sig", "kid": "KQ2tAcrE7lBaVVGBmc5FobgdJo4",
        "x5t": "KQ2tAcrE7lBaVVGBmc5FobgdJo4", "n": jwk(&entra_key, None, None)["n"], "e": "AQAB",
        "x5c": ["MIIC/jCCAeagAwIBAgIJAOCJOVRxNKcNMA0GCSqGSIb3DQEBCwUAMC0xKzApBgNV"],
        "cloud_instance_name": "microsoftonline.com", "issuer": ENTRA_ISSUER}]});
    std::fs::write(idp.join("keys.json"), entra.to_string()).unwrap();
    fixture.write_config(&config.replace(KEYCLOAK_ISSUER, ENTRA_ISSUER));
    let entra_token = |scp: &str| {
        let claims = json!({"aud": "orders-api", "iss": ENTRA_ISSUER, "iat": now(), "nbf": now(),
            "exp": now() + 3600, "azp": "5e3ce6c0-2b1f-4285-8d4b-75ee78787346", "azpacr": "0",
            "name": "Alice", "oid": "00000000-0000-0000-66f3-3332eca7ea81", "scp": scp,
            "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
            "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0"});
        let header = r#"{"typ":"JWT","alg":"RS256","x5t":"KQ2tAcrE7lBaVVGBmc5FobgdJo4","kid":"KQ2tAcrE7lBaVVGBmc5FobgdJo4"}"#;
        sign_with(&entra_key, Algorithm::RS256, header, &claims.to_string())
    };
    let allowed = entra_token("orders:read User.Read");
    eventually(
        "the Entra ID keys and issuer are loaded",
        Duration::from_secs(10),
        || async { (get(&envoy, "/orders/1", &allowed).await == (200, None)).then_some(()) },
    )
    .await;
    let (status, reason) = get(&envoy, "/orders/1", &entra_token("User.Read")).await;
    assert_eq!(
        (status, reason.as_deref()),
        (403, Some("insufficient_scope"))
    );
    // The Keycloak token's key is gone with the document that held it.
    let (status, reason) = get(
        &envoy,
        "/orders/1",
        &keycloak_token(&signing, "kc-sig-3Fa", "orders:read"),
    )
    .await;
    assert_eq!((status, reason.as_deref()), (401, Some("unknown_kid")));
}

#[tokio::test]
#[ignore = "needs Envoy; scripts/test.sh runs it"]
async fn the_readme_pem_variant_reads_a_pasted_one_line_key() {
    let fixture = Fixture::new();
    let key = rsa_key();
    // What the README's printf writes from Keycloak's console: the body on one line.
    let body: String = key
        .to_public_pem()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let dir = fixture.path().join("idp-pem");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("kc-sig-3Fa.pem"),
        format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"),
    )
    .unwrap();
    let config = readme_config();
    let readme_keys = "keys: [{ dir: idp-pem, encoding: pem, algorithm: RS256 }]";
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(
        readme.contains(readme_keys),
        "the README names this keys line"
    );
    let keys_block_end = config.find("jwt:").unwrap();
    fixture.write_config(&format!("{readme_keys}\n{}", &config[keys_block_end..]));
    let authz = JwtAuthz::start(&fixture.config_path());
    let envoy = Envoy::start(&published_config(&authz.grpc, echo_upstream().await)).await;
    let claims = json!({"iss": KEYCLOAK_ISSUER, "aud": "orders-api", "sub": "alice",
        "scope": "orders:read", "iat": now(), "exp": now() + 300});
    let token = sign_with(
        &key,
        Algorithm::RS256,
        r#"{"alg":"RS256","typ":"JWT","kid":"kc-sig-3Fa"}"#,
        &claims.to_string(),
    );
    assert_eq!(get(&envoy, "/orders/1", &token).await, (200, None));
    let (status, reason) = get(&envoy, "/orders/1", &tampered(&token)).await;
    assert_eq!((status, reason.as_deref()), (401, Some("bad_signature")));
}
