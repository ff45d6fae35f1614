//! Sustained load shedding, through the real binary: while every in-flight slot is held by
//! whole Checks (here: Checks waiting for an unknown-kid refetch from an identity provider that
//! hangs), new Checks are shed with UNAVAILABLE; after three seconds of it `/readyz` and gRPC
//! health say not ready (Kubernetes and Envoy send elsewhere), the shed warning is written at
//! most once a second with its count, and readiness comes back once shedding stops.

mod support;

use std::time::{Duration, Instant};

use jwt_authz::testing::rsa_key;
use support::idp::{provider, ready, set, token};
use support::jwks_server::{JwksServer, Mode};
use support::*;

const AUTHZ: &str = "envoy.service.auth.v3.Authorization";

#[tokio::test]
async fn sustained_shedding_turns_readiness_off_and_back_on() {
    let key = rsa_key();
    let idp = JwksServer::start(&set(&[("k1", &key)]), "unused").await;
    let f = Fixture::new();
    f.write_config(&format!(
        "providers:\n{}limits: {{ max_in_flight: 2, request_timeout: 20s }}\n",
        provider(
            "corp",
            "https://idp.test",
            &idp.jwks_uri(),
            "timeout: 20s, unknown_kid_wait: 8s, unknown_kid_cooldown: 1s",
        )
    ));
    let server = JwtAuthz::start(&f.config_path());
    ready(&server).await;
    let good = token(&key, "k1", "https://idp.test");
    let mut client = server.client().await;
    assert_eq!(verdict(&mut client, &good).await, "ok");

    // The IdP hangs; two Checks with a new kid wait for its refetch and hold both slots.
    idp.set_mode(Mode::Slow(Duration::from_secs(30)));
    let mut waiting = Vec::new();
    for i in 0..2 {
        let mut c = server.client().await;
        let t = token(&key, &format!("rotated-{i}"), "https://idp.test");
        waiting.push(tokio::spawn(async move { verdict(&mut c, &t).await }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Every new Check is shed while they wait; readiness turns off after three seconds of it.
    let started = Instant::now();
    let mut shed = 0;
    let (mut readyz, mut grpc_health) = (200, 1);
    while started.elapsed() < Duration::from_secs(6) {
        for _ in 0..5 {
            if verdict(&mut client, &good).await == "error:Unavailable" {
                shed += 1;
            }
        }
        readyz = server.admin_get("/readyz").await.0;
        grpc_health = health(&server.grpc, AUTHZ).await;
        if readyz == 503 && grpc_health == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    assert_eq!(
        (readyz, grpc_health),
        (503, 2),
        "not ready after {took:?} of shedding ({shed} shed)"
    );
    // (Three consecutive calendar seconds with sheds: more than one second of shedding.)
    assert!(
        took >= Duration::from_secs(1),
        "a blip of shedding is not an overload: not ready after {took:?}"
    );
    assert!(shed >= 20, "{shed} Checks shed");
    assert_eq!(
        health(&server.grpc, "").await,
        2,
        "the server-wide health too"
    );

    // The shed warning: at most one line per second, counting the Checks it stands for.
    let warnings: Vec<String> = server
        .logs()
        .into_iter()
        .filter(|l| l.contains("overloaded: shedding Checks"))
        .collect();
    assert!(
        !warnings.is_empty() && warnings.len() as u64 <= took.as_secs() + 2,
        "{} warnings for {shed} sheds in {took:?}",
        warnings.len()
    );
    assert_eq!(
        server
            .metric(r#"jwt_authz_checks_total{decision="error",reason="overloaded"}"#)
            .await,
        f64::from(shed)
    );

    // The waits end (unknown kid); without sheds the server is ready again.
    for w in waiting {
        assert_eq!(w.await.unwrap(), "unknown_kid");
    }
    idp.set_mode(Mode::Serve);
    eventually("ready again", Duration::from_secs(15), || async {
        (server.admin_get("/readyz").await.0 == 200 && health(&server.grpc, AUTHZ).await == 1)
            .then_some(())
    })
    .await;
    assert_eq!(verdict(&mut client, &good).await, "ok");
}
