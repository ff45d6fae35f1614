//! Runs one hot-path operation N times, for instruction counts under callgrind (repeatable on a
//! noisy machine, unlike wall time):
//!   valgrind --tool=callgrind target/release/examples/profile_hot_path check 20000
//! Operations: verify (HS256, typical token), verify_rs256 (the same claims, RS256, a fixed
//! 2048-bit key from benches/fixtures), bare_rs256 (aws-lc-rs alone verifying that token's
//! signature with the key parsed once: what verify_rs256 adds is the difference),
//! provider_rs256 (verify_rs256 with the key fetched by a remote provider: the same cost),
//! decide (50 rules), check (full in-process Check on
//! prost messages, verified-token cache off), hit (the same Check with the cache on: a cache
//! hit), bytes (the server's path: protobuf bytes in and out, cache off), extract. Prints
//! nothing: divide callgrind's total by N, after subtracting a run with N=0 (setup cost).

use std::hint::black_box;
use std::sync::Arc;

use jwt_authz::authz::{decide, AuthzService};
use jwt_authz::keys::{parse_pem_key, Algorithm, KeyRing};
use jwt_authz::request::RequestView;
use jwt_authz::state::State;
use jwt_authz::telemetry::Metrics;
use jwt_authz::testing::{
    bench_claims, bench_config, bench_keyring, bench_provider_config, bench_token,
    envoy_like_request,
};

/// An RS256 token over `bench_claims(1_800_000_000)` and its public key (benches/fixtures/make.sh).
const RS256_TOKEN: &str = include_str!("../benches/fixtures/rs256-token.txt");
const RS256_PEM: &[u8] = include_bytes!("../benches/fixtures/rs256-public.pem");
/// Inside the fixed token's lifetime.
const RS256_NOW: u64 = 1_800_000_100;

/// The bench policy's service over the bench keys, with a cache of `cache` entries (0: off).
fn service(cache: usize) -> AuthzService {
    let mut config = bench_config(50);
    config.jwt.cache_max_entries = cache;
    AuthzService::new(State::new(
        Arc::new(config),
        Arc::new(bench_keyring(5)),
        Metrics::new(),
    ))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().unwrap_or_else(|| "check".into());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let now = jwt_authz::authz::unix_now();
    let token = bench_token(now);
    let req = envoy_like_request(Some(&token));
    let uncached = service(0);
    let cached = service(4096);
    let snap = (bench_config(50), bench_keyring(5));
    for service in [&uncached, &cached] {
        assert!(
            service
                .answer(&req)
                .is_ok_and(|r| r.status.is_some_and(|s| s.code == 0)),
            "the profiled Check must be an allow"
        );
    }
    let rs256_token = RS256_TOKEN.trim();
    let rs256_ring = KeyRing::build(vec![parse_pem_key(
        RS256_PEM,
        Algorithm::RS256,
        "RS256.pem",
    )
    .expect("the fixture key")])
    .expect("one key");
    let payload = rs256_token.split('.').nth(1).expect("a compact JWS");
    assert_eq!(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64url"),
        bench_claims(1_800_000_000).as_bytes(),
        "benches/fixtures/rs256-token.txt carries the bench claims"
    );
    let rs256 = || {
        jwt_authz::jwt::verify(
            rs256_token,
            &rs256_ring,
            &snap.0.jwt,
            &snap.0.limits,
            RS256_NOW,
        )
    };
    assert!(rs256().is_ok(), "the RS256 fixture verifies");
    // The same key as provider corp's (index 0) fetched set.
    let provider_config = bench_provider_config(50);
    let provider_key =
        parse_pem_key(RS256_PEM, Algorithm::RS256, "RS256.pem").expect("the fixture key");
    let provider_ring = KeyRing::from_sets(vec![(
        0,
        Arc::new(
            jwt_authz::keys::KeySet::new(Arc::from("jwks"), vec![provider_key]).expect("one key"),
        ),
    )])
    .expect("one key");
    let provider_rs256 = || {
        jwt_authz::jwt::verify(
            rs256_token,
            &provider_ring,
            &provider_config.jwt,
            &provider_config.limits,
            RS256_NOW,
        )
    };
    assert_eq!(
        provider_rs256().map(|v| v.key.provider).ok(),
        Some(0),
        "the RS256 fixture verifies as provider corp's"
    );
    let (_, spki) = pem_rfc7468::decode_vec(RS256_PEM).expect("the fixture is PEM");
    let bare = aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        spki,
    )
    .expect("aws-lc-rs reads the fixture key");
    let (rs256_input, rs256_sig) = rs256_token.rsplit_once('.').expect("a compact JWS");
    let rs256_sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, rs256_sig)
            .expect("base64url");
    assert!(bare.verify_sig(rs256_input.as_bytes(), &rs256_sig).is_ok());
    let bytes = prost::Message::encode_to_vec(&req);
    let mut out = Vec::with_capacity(512);
    for _ in 0..n {
        match op.as_str() {
            "verify" => {
                black_box(
                    jwt_authz::jwt::verify(
                        black_box(&token),
                        &snap.1,
                        &snap.0.jwt,
                        &snap.0.limits,
                        now,
                    )
                    .is_ok(),
                );
            }
            "verify_rs256" => {
                black_box(rs256().is_ok());
            }
            "provider_rs256" => {
                black_box(provider_rs256().is_ok());
            }
            "bare_rs256" => {
                black_box(
                    bare.verify_sig(black_box(rs256_input.as_bytes()), &rs256_sig)
                        .is_ok(),
                );
            }
            "extract" => {
                let view = RequestView::new(black_box(&req));
                black_box(jwt_authz::jwt::extract(&view, &snap.0.jwt.sources, 16384).is_ok());
            }
            "decide" => {
                let view = RequestView::new(black_box(&req));
                black_box(decide(&view, &snap.0, &snap.1, now).is_ok());
            }
            "bytes" => {
                out.clear();
                black_box(uncached.answer_bytes(black_box(&bytes), &mut out).is_ok());
            }
            "hit" => {
                black_box(cached.answer(black_box(&req)).is_ok());
            }
            _ => {
                black_box(uncached.answer(black_box(&req)).is_ok());
            }
        }
    }
}
