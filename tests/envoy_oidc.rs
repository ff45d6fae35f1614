//! Against a real OpenID Provider: npm `oidc-provider` (panva's, OpenID Certified) issues
//! client_credentials access tokens (ES256, then RS256) and rotates its keys by restarting
//! with a new key first; jwt-authz finds its keys by discovery; a real Envoy 1.40 on the
//! published bootstrap sends every request through it. The rotation is absorbed without a
//! failed request or a restart, an IdP outage is survived on the keys in force, and a restart
//! during the outage serves from `cache_dir`. Ignored by plain `cargo test` (needs Envoy and
//! Node.js); scripts/test.sh installs both and runs it.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;
use support::envoy::{echo_upstream, published_config, Envoy};
use support::*;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oidc/provider.mjs")
}

fn modules() -> String {
    std::env::var("OIDC_PROVIDER_DIR")
        .unwrap_or_else(|_| format!("{}/.tools/oidc/node_modules", env!("CARGO_MANIFEST_DIR")))
}

/// A private JWK made by node's crypto.
fn genkey(alg: &str, kid: &str) -> Value {
    let out = Command::new("node")
        .arg(script())
        .args(["genkey", alg, kid])
        .env("OIDC_PROVIDER_DIR", modules())
        .output()
        .expect("node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A running oidc-provider.
struct Oidc(Child);

impl Oidc {
    fn start(port: u16, keys: &[&Value], keys_file: &Path, alg: &str) -> Self {
        std::fs::write(keys_file, serde_json::json!({ "keys": keys }).to_string()).unwrap();
        let mut child = Command::new("node")
            .arg(script())
            .args(["serve", &port.to_string(), &issuer(port)])
            .arg(keys_file)
            .arg(alg)
            .env("OIDC_PROVIDER_DIR", modules())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "listening");
        Self(child)
    }
}

impl Drop for Oidc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn issuer(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A client_credentials access token, and the kid of its header.
async fn access_token(port: u16) -> (String, String) {
    let basic = base64::engine::general_purpose::STANDARD.encode("orders-client:orders-secret");
    let r = http::request(
        format!("127.0.0.1:{port}").parse().unwrap(),
        "POST",
        "/token",
        &[
            ("authorization", &format!("Basic {basic}")),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        "grant_type=client_credentials&scope=orders:read",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let token = serde_json::from_str::<Value>(&r.body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    (token, header["kid"].as_str().unwrap().to_string())
}

async fn get(envoy: &Envoy, token: &str) -> (u16, Option<String>) {
    let r = http::get_with_token(envoy.addr, "/orders/1", token).await;
    (r.status, r.header("x-jwt-authz-reason").map(str::to_string))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Envoy and Node.js; scripts/test.sh runs it"]
async fn oidc_provider_tokens_through_envoy_survive_rotation_outage_and_restart() {
    let f = Fixture::new();
    let port = free_port();
    let keys_file = f.path().join("oidc-keys.json");
    let (ec1, rsa1, rsa2) = (
        genkey("ES256", "ec-1"),
        genkey("RS256", "rsa-1"),
        genkey("RS256", "rsa-2"),
    );
    let idp = Oidc::start(port, &[&ec1, &rsa1], &keys_file, "ES256");
    let cache = f.path().join("jwks-cache");
    f.write_config(&format!(
        "providers:\n  - name: oidc\n    issuer: {}\n    audiences: [orders-api]\n    discovery: true\n    remote: {{ allow_http: true, cache_dir: {}, refresh_interval: 3s, min_refresh: 1s }}\nrules:\n  - name: orders\n    match: {{ path_prefix: /orders }}\n    require: {{ scopes: [orders:read] }}\ndefault: deny\n",
        issuer(port),
        cache.display()
    ));
    let authz = JwtAuthz::start(&f.config_path());
    eventually("ready", Duration::from_secs(15), || async {
        (authz.admin_get("/readyz").await.0 == 200).then_some(())
    })
    .await;
    let envoy = Envoy::start(&published_config(&authz.grpc, echo_upstream().await)).await;

    // An ES256 access token (typ at+jwt) from the IdP reaches the upstream.
    let (es_token, kid) = access_token(port).await;
    assert_eq!(kid, "ec-1");
    assert_eq!(get(&envoy, &es_token).await, (200, None));

    // Rotation: the IdP restarts with a new RS256 key first and signs with it.
    drop(idp);
    let idp = Oidc::start(port, &[&rsa2, &ec1, &rsa1], &keys_file, "RS256");
    let rotated = Instant::now();
    let (rs_token, kid) = access_token(port).await;
    assert_eq!(kid, "rsa-2");
    assert_eq!(
        get(&envoy, &rs_token).await,
        (200, None),
        "the first token of the new key"
    );
    eprintln!(
        "rotation: IdP restarted with a new key -> first token with it accepted through Envoy in {} ms",
        rotated.elapsed().as_millis()
    );
    assert_eq!(
        get(&envoy, &es_token).await,
        (200, None),
        "the old key is still published"
    );
    assert_eq!(
        authz
            .metric(r#"jwt_authz_jwks_unknown_kid_refetches_total{provider="oidc"}"#)
            .await,
        1.0
    );

    // Outage: the IdP is gone; the next refresh (every 3 s here) fails; tokens keep
    // verifying on the keys in force, and an unknown kid is denied at once (cooldown).
    let (fresh, _) = access_token(port).await;
    drop(idp);
    let forged_kid = jwt_authz::testing::sign_with(
        &jwt_authz::testing::rsa_key(),
        jwt_authz::keys::Algorithm::RS256,
        r#"{"alg":"RS256","kid":"not-published"}"#,
        &format!(
            r#"{{"iss":"{}","aud":"orders-api","exp":{}}}"#,
            issuer(port),
            now() + 60
        ),
    );
    assert_eq!(
        get(&envoy, &forged_kid).await,
        (401, Some("unknown_kid".into()))
    );
    eventually("a failed fetch", Duration::from_secs(10), || async {
        (authz
            .metric(r#"jwt_authz_jwks_fetches_total{provider="oidc",result="failure"}"#)
            .await
            >= 1.0)
            .then_some(())
    })
    .await;
    assert_eq!(
        get(&envoy, &fresh).await,
        (200, None),
        "stale keys verify during the outage"
    );
    assert_eq!(authz.admin_get("/readyz").await.0, 200);

    // Restart during the outage: ready at once from cache_dir, on the same port Envoy uses.
    let grpc = authz.grpc.clone();
    drop(authz);
    let restarted = JwtAuthz::start_with(&f.config_path(), &["--grpc-addr", &grpc], "info");
    eventually("ready from the cache", Duration::from_secs(5), || async {
        (restarted.admin_get("/readyz").await.0 == 200).then_some(())
    })
    .await;
    eventually("Envoy reconnected", Duration::from_secs(10), || async {
        (get(&envoy, &fresh).await == (200, None)).then_some(())
    })
    .await;
    assert_eq!(get(&envoy, &es_token).await, (200, None));
}
