//! Providers and the rest of the product: a config reload adds and removes providers, a key
//! the IdP drops stops verifying at once (cached tokens too), `validate` and `explain` fetch,
//! and the README's provider config is the real one.

mod support;

use std::time::Duration;

use jwt_authz::testing::rsa_key;
use support::idp::{config, corp_entry, corp_on, provider, set, token, Corp};
use support::jwks_server::JwksServer;
use support::*;

async fn verdict_of(server: &JwtAuthz, t: &str) -> String {
    let mut client = server.client().await;
    verdict(&mut client, t).await
}

#[tokio::test]
async fn a_config_reload_starts_and_stops_fetchers() {
    let (a, b) = (rsa_key(), rsa_key());
    let idp_a = JwksServer::start(&set(&[("a1", &a)]), "unused").await;
    let idp_b = JwksServer::start(&set(&[("b1", &b)]), "unused").await;
    let f = Fixture::new();
    config(
        &f,
        &[provider("a", "https://a.test", &idp_a.jwks_uri(), "")],
    );
    let server = JwtAuthz::start(&f.config_path());
    let ta = token(&a, "a1", "https://a.test");
    let tb = token(&b, "b1", "https://b.test");
    eventually("a's keys", Duration::from_secs(10), || async {
        (verdict_of(&server, &ta).await == "ok").then_some(())
    })
    .await;
    assert_eq!(verdict_of(&server, &tb).await, "bad_issuer");
    // b added by a reload: fetched without a restart.
    config(
        &f,
        &[
            provider("a", "https://a.test", &idp_a.jwks_uri(), ""),
            provider("b", "https://b.test", &idp_b.jwks_uri(), ""),
        ],
    );
    eventually("b's keys", Duration::from_secs(10), || async {
        (verdict_of(&server, &tb).await == "ok").then_some(())
    })
    .await;
    // a removed: its keys go with it, its series too.
    config(
        &f,
        &[provider("b", "https://b.test", &idp_b.jwks_uri(), "")],
    );
    eventually("a's keys revoked", Duration::from_secs(10), || async {
        (verdict_of(&server, &ta).await == "bad_issuer").then_some(())
    })
    .await;
    assert_eq!(verdict_of(&server, &tb).await, "ok");
    let metrics = server.admin_get("/metrics").await.1;
    assert!(!metrics.contains(r#"provider="a""#), "{metrics}");
    let hits = idp_a.hits("/jwks");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(idp_a.hits("/jwks"), hits, "a's fetcher stopped");
}

#[tokio::test]
async fn a_key_the_idp_drops_stops_verifying_at_once_even_when_cached() {
    let (old, new) = (rsa_key(), rsa_key());
    let idp = JwksServer::start(&set(&[("old", &old), ("new", &new)]), "unused").await;
    idp.set_cache_control(Some("max-age=1"));
    let Corp { idp, server, .. } = corp_on(idp, "min_refresh: 1s").await;
    let t = token(&old, "old", "https://idp.test");
    eventually("keys", Duration::from_secs(10), || async {
        (verdict_of(&server, &t).await == "ok").then_some(())
    })
    .await;
    // Verified twice more: the second is a cache hit.
    assert_eq!(verdict_of(&server, &t).await, "ok");
    assert!(
        server
            .metric(r#"jwt_authz_token_cache_lookups_total{result="hit"}"#)
            .await
            >= 1.0
    );
    idp.set_jwks(&set(&[("new", &new)]), None);
    eventually("the old key gone", Duration::from_secs(10), || async {
        (verdict_of(&server, &t).await == "unknown_kid").then_some(())
    })
    .await;
    assert!(server
        .logs()
        .iter()
        .any(|l| l.contains("provider keys fetched")
            && l.contains("removed")
            && l.contains("old")));
}

/// Runs the binary with `args` off the runtime (the IdP is served on it).
async fn run(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(binary())
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_warns_when_the_unknown_kid_wait_outlasts_the_request_timeout() {
    let key = rsa_key();
    let idp = JwksServer::start(&set(&[("v1", &key)]), "unused").await;
    let f = Fixture::new();
    let path = f.config_path().display().to_string();
    for (wait, warned) in [("1s", false), ("8s", true)] {
        let remote = format!("unknown_kid_wait: {wait}");
        config(&f, &[corp_entry(&idp.jwks_uri(), &remote)]);
        let out = run(vec!["validate".into(), "--config".into(), path.clone()]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(
            stderr.contains(
                "warning: provider corp: remote.unknown_kid_wait (8s) is longer than limits.request_timeout (1s): a Check waits at most 950ms"
            ),
            warned,
            "{wait}: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_fetches_each_provider_once_and_explain_decides_with_fetched_keys() {
    let key = rsa_key();
    let idp = JwksServer::start(&set(&[("v1", &key)]), "unused").await;
    let down = JwksServer::start(&set(&[("v2", &key)]), "unused").await;
    down.set_mode(support::jwks_server::Mode::Status(503));
    let f = Fixture::new();
    config(&f, &[corp_entry(&idp.jwks_uri(), "")]);
    let path = f.config_path().display().to_string();
    let out = run(vec!["validate".into(), "--config".into(), path.clone()]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "provider corp: 1 key fetched from {}",
            idp.jwks_uri()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("v1") && stdout.contains("RSA 2048"),
        "{stdout}"
    );
    assert!(
        stdout.contains("OK (1 key, 0 rules, 1 provider)"),
        "{stdout}"
    );
    let good = token(&key, "v1", "https://idp.test");
    let explain = |t: String| {
        vec![
            "explain".into(),
            "--config".into(),
            path.clone(),
            "--token".into(),
            t,
        ]
    };
    let out = run(explain(good)).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = run(explain(token(&key, "v1", "https://other.test"))).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("bad_issuer"));

    config(
        &f,
        &[
            corp_entry(&idp.jwks_uri(), ""),
            provider("down", "https://down.test", &down.jwks_uri(), ""),
        ],
    );
    let out = run(vec!["validate".into(), "--config".into(), path]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("provider down: cannot fetch its keys") && stderr.contains("HTTP 503"),
        "{stderr}"
    );
}

/// The README's "Use your identity provider" config: valid, and the `remote` defaults it
/// documents are the real ones.
#[test]
fn the_readmes_provider_config_is_valid_and_documents_the_defaults() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let section = &readme[readme.find("## Use your identity provider").unwrap()..];
    let start = section.find("```yaml\n").unwrap() + "```yaml\n".len();
    let yaml = &section[start..start + section[start..].find("```\n").unwrap()];
    let config = jwt_authz::config::Config::from_yaml(yaml, std::path::Path::new("/r.yaml"))
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let names: Vec<&str> = config.jwt.providers.iter().map(|p| &*p.name).collect();
    assert_eq!(names, ["keycloak", "auth0", "entra", "google"]);
    let remote = |i: usize| config.jwt.providers[i].remote.clone().unwrap();
    let documented = remote(3);
    let defaults = remote(0);
    assert_eq!(
        jwt_authz::config::Remote {
            location: documented.location.clone(),
            ..defaults
        },
        documented,
        "the README's remote block lists the defaults"
    );
    assert_eq!(
        remote(1).first_url(config.jwt.providers[1].issuer.as_deref().unwrap()),
        "https://example.eu.auth0.com/.well-known/openid-configuration"
    );
}
