//! Providers through the real binary, against a local identity provider (`support::jwks_server`):
//! keys bound to their issuer, two providers sharing a kid, discovery, readiness and
//! UNAVAILABLE per provider, unknown-kid refetches (a rotation absorbed, a storm of random kids
//! costing one fetch), `Cache-Control` and `ETag`.

mod support;

use std::time::Duration;

use jwt_authz::testing::rsa_key;
use support::idp::{config, corp, corp_on, provider, ready, set, token, Corp};
use support::jwks_server::JwksServer;
use support::*;

#[tokio::test]
async fn a_fetched_key_verifies_its_issuers_tokens_and_no_others() {
    let key = rsa_key();
    let Corp { server, .. } = corp(&[("r1", &key)], "").await;
    let mut client = server.client().await;
    assert_eq!(
        verdict(&mut client, &token(&key, "r1", "https://idp.test")).await,
        "ok"
    );
    // The same key, another issuer: a key verifies only its provider's tokens.
    assert_eq!(
        verdict(&mut client, &token(&key, "r1", "https://other.test")).await,
        "bad_issuer"
    );
    // A kid no provider has, from an issuer no provider claims.
    assert_eq!(
        verdict(&mut client, &token(&key, "zz", "https://other.test")).await,
        "bad_issuer"
    );
    let metrics = server.admin_get("/metrics").await.1;
    assert_eq!(
        metric_value(&metrics, r#"jwt_authz_keys{provider="corp",source=""}"#),
        1.0
    );
    assert!(
        metric_value(
            &metrics,
            r#"jwt_authz_jwks_fetches_total{provider="corp",result="success"}"#
        ) >= 1.0
    );
    let last = metric_value(
        &metrics,
        r#"jwt_authz_jwks_last_success_timestamp_seconds{provider="corp"}"#,
    );
    assert!((last - now() as f64).abs() < 30.0, "{last}");
    assert!(server
        .logs()
        .iter()
        .any(|l| l.contains("provider keys fetched") && l.contains("r1")));
}

#[tokio::test]
async fn two_providers_may_use_the_same_kid_with_different_keys() {
    let (a, b) = (rsa_key(), rsa_key());
    let idp_a = JwksServer::start(&set(&[("k1", &a)]), "unused").await;
    let idp_b = JwksServer::start(&set(&[("k1", &b)]), "unused").await;
    let f = Fixture::new();
    config(
        &f,
        &[
            provider("a", "https://a.test", &idp_a.jwks_uri(), ""),
            provider("b", "https://b.test", &idp_b.jwks_uri(), ""),
        ],
    );
    let server = JwtAuthz::start(&f.config_path());
    ready(&server).await;
    let mut client = server.client().await;
    assert_eq!(
        verdict(&mut client, &token(&a, "k1", "https://a.test")).await,
        "ok"
    );
    assert_eq!(
        verdict(&mut client, &token(&b, "k1", "https://b.test")).await,
        "ok"
    );
    // b's key and a's issuer: b's k1 verifies the signature, and b's issuer is not a's.
    assert_eq!(
        verdict(&mut client, &token(&b, "k1", "https://a.test")).await,
        "bad_issuer"
    );
}

#[tokio::test]
async fn readiness_waits_for_every_provider_and_a_keyless_one_is_unavailable() {
    let (a, b) = (rsa_key(), rsa_key());
    let up = JwksServer::start(&set(&[("a1", &a)]), "unused").await;
    let down = JwksServer::start(&set(&[("b1", &b)]), "unused").await;
    down.set_mode(support::jwks_server::Mode::Status(500));
    let f = Fixture::new();
    config(
        &f,
        &[
            provider("up", "https://up.test", &up.jwks_uri(), ""),
            provider(
                "down",
                "https://down.test",
                &down.jwks_uri(),
                "min_refresh: 1s, refresh_interval: 1s",
            ),
        ],
    );
    let server = JwtAuthz::start(&f.config_path());
    let mut client = server.client().await;
    eventually("up's keys", Duration::from_secs(10), || async {
        let mut client = server.client().await;
        (verdict(&mut client, &token(&a, "a1", "https://up.test")).await == "ok").then_some(())
    })
    .await;
    let (status, body) = server.admin_get("/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("provider down has no keys"), "{body}");
    assert_eq!(
        verdict(&mut client, &token(&b, "b1", "https://down.test")).await,
        "error:Unavailable"
    );
    down.set_mode(support::jwks_server::Mode::Serve);
    ready(&server).await;
    assert_eq!(
        verdict(&mut client, &token(&b, "b1", "https://down.test")).await,
        "ok"
    );
}

#[tokio::test]
async fn discovery_finds_the_jwks_and_a_document_of_another_issuer_is_refused() {
    let (key, other) = (rsa_key(), rsa_key());
    let idp = JwksServer::start(&set(&[("d1", &key)]), "{base}").await;
    let liar = JwksServer::start(&set(&[("d1", &other)]), "https://evil.test").await;
    let f = Fixture::new();
    f.write_config(&format!(
        "providers:\n  - name: good\n    issuer: {}\n    discovery: true\n    remote: {{ allow_http: true }}\n  - name: liar\n    issuer: {}\n    discovery: true\n    remote: {{ allow_http: true, min_refresh: 1s, refresh_interval: 1s }}\n",
        idp.base(),
        liar.base()
    ));
    let server = JwtAuthz::start(&f.config_path());
    let mut client = server.client().await;
    eventually("discovered keys", Duration::from_secs(10), || async {
        let mut client = server.client().await;
        (verdict(&mut client, &token(&key, "d1", &idp.base())).await == "ok").then_some(())
    })
    .await;
    assert_eq!(idp.hits("/.well-known/openid-configuration"), 1);
    // The liar's kid is also good's: good's key does not verify it, and the liar has none.
    assert_eq!(
        verdict(&mut client, &token(&other, "d1", &liar.base())).await,
        "error:Unavailable"
    );
    assert_eq!(
        liar.hits("/jwks"),
        0,
        "the JWK Set of a lying document is never fetched"
    );
    eventually("the refusal logged", Duration::from_secs(5), || async {
        server
            .logs()
            .iter()
            .any(|l| l.contains("evil.test") && l.contains("is not the provider's"))
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_rotation_is_absorbed_by_one_unknown_kid_refetch_without_a_failed_request() {
    let (old, new) = (rsa_key(), rsa_key());
    let Corp { idp, server, .. } = corp(&[("old", &old)], "").await;
    let mut client = server.client().await;
    assert_eq!(
        verdict(&mut client, &token(&old, "old", "https://idp.test")).await,
        "ok"
    );
    // The IdP rotates: the new key comes first; the fetcher would not look for 10 minutes.
    idp.set_jwks(&set(&[("new", &new), ("old", &old)]), None);
    assert_eq!(
        verdict(&mut client, &token(&new, "new", "https://idp.test")).await,
        "ok"
    );
    assert_eq!(
        verdict(&mut client, &token(&old, "old", "https://idp.test")).await,
        "ok"
    );
    assert_eq!(
        server
            .metric(r#"jwt_authz_jwks_unknown_kid_refetches_total{provider="corp"}"#)
            .await,
        1.0
    );
    assert_eq!(idp.hits("/jwks"), 2);
}

#[tokio::test]
async fn a_storm_of_random_kids_costs_one_fetch_per_cooldown() {
    let key = rsa_key();
    let Corp { idp, server, .. } = corp(&[("k1", &key)], "unknown_kid_cooldown: 5m").await;
    let before = idp.hits("/jwks");
    let start = std::time::Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..20 {
        let mut client = server.client().await;
        let tokens: Vec<String> = (0..50)
            .map(|i| token(&key, &format!("random-{worker}-{i}"), "https://idp.test"))
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut verdicts = Vec::new();
            for t in tokens {
                verdicts.push(verdict(&mut client, &t).await);
            }
            verdicts
        }));
    }
    let mut verdicts = Vec::new();
    for t in tasks {
        verdicts.extend(t.await.unwrap());
    }
    assert_eq!(verdicts.len(), 1000);
    assert!(
        verdicts.iter().all(|v| v == "unknown_kid"),
        "{:?}",
        &verdicts[..5]
    );
    assert_eq!(
        idp.hits("/jwks") - before,
        1,
        "1000 unknown kids, one fetch ({:?})",
        start.elapsed()
    );
    assert_eq!(
        server
            .metric(r#"jwt_authz_jwks_unknown_kid_refetches_total{provider="corp"}"#)
            .await,
        1.0
    );
    let mut client = server.client().await;
    assert_eq!(
        verdict(&mut client, &token(&key, "k1", "https://idp.test")).await,
        "ok"
    );
}

#[tokio::test]
async fn cache_control_sets_the_refresh_and_etag_makes_it_conditional() {
    let key = rsa_key();
    let idp = JwksServer::start(&set(&[("k1", &key)]), "unused").await;
    idp.set_jwks(&set(&[("k1", &key)]), Some("\"v1\""));
    // max-age=1 under a 10-minute refresh_interval: refreshes every ~1 s (min_refresh).
    idp.set_cache_control(Some("public, max-age=1"));
    let Corp { idp, server, .. } = corp_on(idp, "min_refresh: 1s").await;
    eventually("a conditional refresh", Duration::from_secs(10), || async {
        (idp.hits("/jwks") >= 3).then_some(())
    })
    .await;
    let sent = idp.if_none_match();
    assert_eq!(sent[0], None);
    assert!(
        sent[1..].iter().all(|e| e.as_deref() == Some("\"v1\"")),
        "{sent:?}"
    );
    let not_modified = server
        .metric(r#"jwt_authz_jwks_fetches_total{provider="corp",result="not_modified"}"#)
        .await;
    assert!(not_modified >= 2.0, "{not_modified}");
    let mut client = server.client().await;
    assert_eq!(
        verdict(&mut client, &token(&key, "k1", "https://idp.test")).await,
        "ok"
    );
}

#[tokio::test]
async fn with_unknown_kid_wait_0_the_kid_is_denied_at_once_and_the_refetch_still_runs() {
    let (old, new) = (rsa_key(), rsa_key());
    let Corp { idp, server, .. } = corp(&[("old", &old)], "unknown_kid_wait: 0s").await;
    idp.set_jwks(&set(&[("new", &new), ("old", &old)]), None);
    let t = token(&new, "new", "https://idp.test");
    let mut client = server.client().await;
    assert_eq!(verdict(&mut client, &t).await, "unknown_kid", "no wait");
    eventually("the refetched key", Duration::from_secs(5), || async {
        let mut client = server.client().await;
        (verdict(&mut client, &t).await == "ok").then_some(())
    })
    .await;
    assert_eq!(idp.hits("/jwks"), 2);
}
