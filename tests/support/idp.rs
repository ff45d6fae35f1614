//! Keys, tokens and config entries for the provider tests (against `jwks_server`).

use std::time::Duration;

use jwt_authz::keys::{Algorithm, PrivateKey};
use jwt_authz::testing::{jwk, sign_with};
use serde_json::json;

use super::jwks_server::JwksServer;
use super::{eventually, now, Fixture, JwtAuthz};

/// A JWK Set of these keys (kid, key), RS256.
pub fn set(keys: &[(&str, &PrivateKey)]) -> String {
    let keys: Vec<_> = keys
        .iter()
        .map(|(kid, k)| jwk(k, Some(kid), Some(Algorithm::RS256)))
        .collect();
    json!({ "keys": keys }).to_string()
}

/// An RS256 token of `iss` signed by `key` under `kid`.
pub fn token(key: &PrivateKey, kid: &str, iss: &str) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid}).to_string();
    let claims = json!({"sub": "alice", "iss": iss, "iat": now(), "exp": now() + 600});
    sign_with(key, Algorithm::RS256, &header, &claims.to_string())
}

/// One provider entry; `remote` is the inside of its `remote: {}` (http allowed).
pub fn provider(name: &str, issuer: &str, jwks_uri: &str, remote: &str) -> String {
    format!(
        "  - name: {name}\n    issuer: {issuer}\n    jwks_uri: {jwks_uri}\n    remote: {{ allow_http: true, {remote} }}\n"
    )
}

/// A config of these provider entries, reloading quickly.
pub fn config(f: &Fixture, providers: &[String]) {
    f.write_config(&format!(
        "providers:\n{}reload: {{ debounce: 50ms, poll_interval: 1s }}\n",
        providers.concat()
    ));
}

/// Waits until `/readyz` is 200.
pub async fn ready(server: &JwtAuthz) {
    eventually("ready", Duration::from_secs(10), || async {
        (server.admin_get("/readyz").await.0 == 200).then_some(())
    })
    .await;
}

/// The usual single-provider stack: an IdP serving `keys`, provider `corp` (issuer
/// `https://idp.test`) with these `remote` settings, and jwt-authz on it, ready.
pub struct Corp {
    /// The identity provider.
    pub idp: JwksServer,
    /// jwt-authz's config directory.
    pub fixture: Fixture,
    /// jwt-authz.
    pub server: JwtAuthz,
}

/// Starts a [`Corp`] stack with a new IdP serving `keys`.
pub async fn corp(keys: &[(&str, &PrivateKey)], remote: &str) -> Corp {
    corp_on(JwksServer::start(&set(keys), "unused").await, remote).await
}

/// Starts a [`Corp`] stack on `idp` (already set up as the test needs).
pub async fn corp_on(idp: JwksServer, remote: &str) -> Corp {
    let fixture = Fixture::new();
    config(&fixture, &[corp_entry(&idp.jwks_uri(), remote)]);
    let server = JwtAuthz::start(&fixture.config_path());
    ready(&server).await;
    Corp {
        idp,
        fixture,
        server,
    }
}

/// The provider entry of `corp` (issuer `https://idp.test`).
pub fn corp_entry(jwks_uri: &str, remote: &str) -> String {
    provider("corp", "https://idp.test", jwks_uri, remote)
}
