//! The fetcher against a misbehaving identity provider (`support::jwks_server`): every fault
//! keeps the last good keys and says why; a bad JWK is skipped alone; HTTPS with a private CA
//! through `ca_file` (and refused without it); keys dropped past `max_stale`; `cache_dir`
//! serving a restart while the IdP is down.

mod support;

use std::time::Duration;

use jwt_authz::keys::{Algorithm, PrivateKey};
use jwt_authz::testing::{jwk, rsa_key};
use serde_json::json;
use support::idp::set;
use support::jwks_server::{JwksServer, Mode, TestCa};
use support::*;

fn token(key: &PrivateKey, kid: &str) -> String {
    support::idp::token(key, kid, "https://idp.test")
}

fn config(f: &Fixture, jwks_uri: &str, remote: &str) {
    f.write_config(&format!(
        "providers:\n  - name: corp\n    issuer: https://idp.test\n    jwks_uri: {jwks_uri}\n    remote: {{ {remote} }}\n"
    ));
}

async fn failures(server: &JwtAuthz) -> f64 {
    server
        .metric(r#"jwt_authz_jwks_fetches_total{provider="corp",result="failure"}"#)
        .await
}

async fn ok(server: &JwtAuthz, key: &PrivateKey, kid: &str) -> bool {
    let mut client = server.client().await;
    verdict(&mut client, &token(key, kid)).await == "ok"
}

/// Waits until a token of `kid` verifies: the first fetch is done.
async fn keys_served(server: &JwtAuthz, key: &PrivateKey, kid: &str) {
    eventually("keys", Duration::from_secs(10), || async {
        ok(server, key, kid).await.then_some(())
    })
    .await;
}

#[tokio::test]
async fn every_fault_keeps_the_last_good_keys_and_says_why() {
    let key = rsa_key();
    let idp = JwksServer::start(&set(&[("k1", &key)]), "unused").await;
    let f = Fixture::new();
    // Refreshes every second (min_refresh), each fault retried at once by the backoff (1 s).
    config(
        &f,
        &idp.jwks_uri(),
        "allow_http: true, min_refresh: 1s, refresh_interval: 1s, timeout: 300ms, max_bytes: 4KiB",
    );
    let server = JwtAuthz::start(&f.config_path());
    keys_served(&server, &key, "k1").await;
    let big = format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(8192));
    let faults = [
        (
            Mode::Slow(Duration::from_secs(2)),
            "no response within 300ms",
        ),
        (Mode::Status(500), "HTTP 500"),
        (Mode::Body("{\"keys\": [".into()), "not valid JSON"),
        (Mode::Body("{\"keys\": []}".into()), "the set is empty"),
        (Mode::Body(big), "larger than 4096 bytes"),
        (
            Mode::Redirect("http://127.0.0.1:1/jwks".into()),
            "redirects are not followed",
        ),
    ];
    for (mode, message) in faults {
        let before = failures(&server).await;
        idp.set_mode(mode.clone());
        eventually(message, Duration::from_secs(10), || async {
            (failures(&server).await > before).then_some(())
        })
        .await;
        assert!(
            ok(&server, &key, "k1").await,
            "{mode:?}: the last good key still verifies"
        );
        let logs = server.logs();
        assert!(
            logs.iter()
                .any(|l| l.contains("keeping its last good keys") && l.contains(message)),
            "{mode:?}: no log says {message:?}"
        );
        assert_eq!(server.admin_get("/readyz").await.0, 200, "{mode:?}");
    }
}

#[tokio::test]
async fn a_bad_jwk_is_skipped_and_the_good_ones_are_used() {
    let (good, other) = (rsa_key(), rsa_key());
    let mut keys = vec![
        json!({"kty": "RSA", "kid": "short", "n": "AQAB", "e": "AQAB", "alg": "RS256"}),
        jwk(&good, Some("good"), Some(Algorithm::RS256)),
        json!({"kty": "oct", "kid": "secret", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}),
    ];
    // Entra ID publishes RSA keys without alg: they verify RS256.
    let mut no_alg = jwk(&other, Some("no-alg"), None);
    no_alg.as_object_mut().unwrap().remove("alg");
    keys.push(no_alg);
    let idp = JwksServer::start(&json!({ "keys": keys }).to_string(), "unused").await;
    let f = Fixture::new();
    config(&f, &idp.jwks_uri(), "allow_http: true");
    let server = JwtAuthz::start(&f.config_path());
    keys_served(&server, &good, "good").await;
    assert!(ok(&server, &other, "no-alg").await);
    assert_eq!(
        server
            .metric(r#"jwt_authz_jwks_invalid_keys_total{provider="corp"}"#)
            .await,
        2.0,
        "the short RSA key and the published secret"
    );
    assert_eq!(
        server
            .metric(r#"jwt_authz_keys{provider="corp",source=""}"#)
            .await,
        2.0
    );
    assert!(server
        .logs()
        .iter()
        .any(|l| l.contains("JWK skipped") && l.contains("kty oct")));
}

#[tokio::test]
async fn https_with_a_private_ca_needs_its_ca_file() {
    let key = rsa_key();
    let f = Fixture::new();
    let ca = TestCa::new(f.path());
    let idp = JwksServer::start_tls(&set(&[("k1", &key)]), "unused", &ca).await;
    config(&f, &idp.jwks_uri(), "min_refresh: 1s, refresh_interval: 1s");
    let untrusting = JwtAuthz::start(&f.config_path());
    eventually("a failed fetch", Duration::from_secs(10), || async {
        (failures(&untrusting).await >= 1.0).then_some(())
    })
    .await;
    assert!(!ok(&untrusting, &key, "k1").await);
    assert!(
        untrusting
            .logs()
            .iter()
            .any(|l| l.contains("UnknownIssuer") || l.contains("unknown issuer")),
        "{:?}",
        untrusting.logs()
    );
    drop(untrusting);
    config(
        &f,
        &idp.jwks_uri(),
        &format!("ca_file: {}", ca.ca_file.display()),
    );
    let trusting = JwtAuthz::start(&f.config_path());
    eventually("keys over https", Duration::from_secs(10), || async {
        ok(&trusting, &key, "k1").await.then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_rotated_ca_bundle_applies_without_a_restart() {
    let key = rsa_key();
    let f = Fixture::new();
    let ca = TestCa::new(f.path());
    let other = f.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let wrong = TestCa::new(&other);
    let bundle = f.path().join("bundle.pem");
    std::fs::copy(&wrong.ca_file, &bundle).unwrap();
    let idp = JwksServer::start_tls(&set(&[("k1", &key)]), "unused", &ca).await;
    config(
        &f,
        &idp.jwks_uri(),
        &format!(
            "min_refresh: 1s, refresh_interval: 1s, ca_file: {}",
            bundle.display()
        ),
    );
    let server = JwtAuthz::start(&f.config_path());
    eventually("a refused certificate", Duration::from_secs(10), || async {
        (failures(&server).await >= 1.0).then_some(())
    })
    .await;
    assert!(!ok(&server, &key, "k1").await);
    // The bundle is replaced (a ConfigMap update): the next fetch trusts the new CA.
    // Replaced atomically, as the kubelet does: a fetch never reads half a bundle.
    let tmp = f.path().join("bundle.pem.tmp");
    std::fs::copy(&ca.ca_file, &tmp).unwrap();
    std::fs::rename(&tmp, &bundle).unwrap();
    eventually("keys over https", Duration::from_secs(10), || async {
        ok(&server, &key, "k1").await.then_some(())
    })
    .await;
    assert!(server
        .logs()
        .iter()
        .any(|l| l.contains("ca_file changed: HTTPS client rebuilt")));
}

#[tokio::test]
async fn keys_older_than_max_stale_are_dropped() {
    let key = rsa_key();
    let idp = JwksServer::start(&set(&[("k1", &key)]), "unused").await;
    let f = Fixture::new();
    config(
        &f,
        &idp.jwks_uri(),
        "allow_http: true, min_refresh: 1s, refresh_interval: 1s, max_stale: 3s",
    );
    let server = JwtAuthz::start(&f.config_path());
    keys_served(&server, &key, "k1").await;
    idp.set_mode(Mode::Status(503));
    let t = token(&key, "k1");
    eventually("keys dropped", Duration::from_secs(10), || async {
        let mut client = server.client().await;
        (verdict(&mut client, &t).await == "error:Unavailable").then_some(())
    })
    .await;
    assert_eq!(server.admin_get("/readyz").await.0, 503);
    assert!(server
        .logs()
        .iter()
        .any(|l| l.contains("older than remote.max_stale")));
    idp.set_mode(Mode::Serve);
    eventually("keys again", Duration::from_secs(10), || async {
        let mut client = server.client().await;
        (verdict(&mut client, &t).await == "ok").then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_restart_during_an_outage_serves_the_keys_kept_in_cache_dir() {
    let key = rsa_key();
    let idp = JwksServer::start(&set(&[("k1", &key)]), "unused").await;
    let f = Fixture::new();
    let cache = f.path().join("cache");
    config(
        &f,
        &idp.jwks_uri(),
        &format!("allow_http: true, cache_dir: {}", cache.display()),
    );
    let first = JwtAuthz::start(&f.config_path());
    keys_served(&first, &key, "k1").await;
    eventually("the cache file", Duration::from_secs(5), || async {
        cache.join("corp.json").exists().then_some(())
    })
    .await;
    drop(first);
    idp.set_mode(Mode::Status(503));
    let second = JwtAuthz::start(&f.config_path());
    eventually("ready from the cache", Duration::from_secs(5), || async {
        (second.admin_get("/readyz").await.0 == 200).then_some(())
    })
    .await;
    assert!(ok(&second, &key, "k1").await);
    assert!(second
        .logs()
        .iter()
        .any(|l| l.contains("provider keys read from cache_dir")));
    eventually("the failed fetch", Duration::from_secs(5), || async {
        (failures(&second).await >= 1.0).then_some(())
    })
    .await;
    assert!(
        ok(&second, &key, "k1").await,
        "a failed fetch keeps the cached keys"
    );
}
