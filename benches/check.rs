//! The policy decision with 50 rules, and the full in-process Check: CheckRequest struct →
//! CheckResponse (metrics and response building included), with and without protobuf
//! decoding/encoding, with the verified-token cache off (every Check verifies) and on (the
//! same token again: a hit), for HS256 and the public-key algorithms.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use jwt_authz::authz::{decide, unix_now, AuthzService};
use jwt_authz::keys::{Algorithm, KeyRing};
use jwt_authz::request::RequestView;
use jwt_authz::state::State;
use jwt_authz::telemetry::Metrics;
use jwt_authz::testing::{
    bench_config, bench_keyring, bench_provider_config, bench_public_keys, bench_rich_config,
    bench_token, bench_token_signed, envoy_like_request,
};
use prost::Message;

fn policy(c: &mut Criterion) {
    let cfg = bench_config(50);
    let keys = bench_keyring(5);
    let req = envoy_like_request(Some(&bench_token(unix_now())));
    let view = RequestView::new(&req);
    c.bench_function("policy/select_50_rules_last_matches", |b| {
        b.iter(|| {
            cfg.policy
                .select(None, black_box(&view), black_box("/orders/42"))
        })
    });
    // The second round's conditions: 49 rules with templates and header conditions, peers or
    // CIDRs, then a template that matches; with their own literal prefixes (as real APIs
    // have), and all matching the path (every condition of every rule evaluated).
    for (shared, name) in [
        (false, "templates_headers_cidrs"),
        (true, "worst_case_every_template_matches"),
    ] {
        let rich = bench_rich_config(50, shared);
        c.bench_function(&format!("policy/select_50_rules_{name}"), |b| {
            b.iter(|| {
                let (selection, captures) =
                    rich.policy
                        .select(None, black_box(&view), black_box("/orders/42"));
                assert!(
                    matches!(selection, jwt_authz::policy::Selection::Rule(r) if r.name == "orders")
                );
                captures
            })
        });
    }
    c.bench_function("decide/50_rules_allow", |b| {
        b.iter(|| {
            let view = RequestView::new(black_box(&req));
            matches!(
                decide(&view, &cfg, &keys, unix_now()),
                Ok(jwt_authz::authz::Decision::Allow(_))
            )
        })
    });
}

/// The bench policy's Check service over `ring`, with a verified-token cache of `cache`
/// entries (0: off).
fn service(ring: Arc<KeyRing>, cache: usize) -> AuthzService {
    let mut config = bench_config(50);
    config.jwt.cache_max_entries = cache;
    AuthzService::new(State::new(Arc::new(config), ring, Metrics::new()))
}

fn full_check(c: &mut Criterion) {
    let service = service(Arc::new(bench_keyring(5)), 0);
    let allowed = envoy_like_request(Some(&bench_token(unix_now())));
    let missing = envoy_like_request(None);
    let mut g = c.benchmark_group("check");
    g.bench_function("allow", |b| {
        b.iter(|| service.answer(black_box(&allowed)).unwrap())
    });
    g.bench_function("deny_missing_token", |b| {
        b.iter(|| service.answer(black_box(&missing)).unwrap())
    });
    let bytes = allowed.encode_to_vec();
    g.bench_function("allow_with_protobuf_decode_encode", |b| {
        b.iter(|| {
            let req = CheckRequest::decode(black_box(bytes.as_slice())).unwrap();
            service.answer(&req).unwrap().encode_to_vec()
        })
    });
    // What the server does: bytes in, bytes out (zero-copy read, direct encode).
    let mut out = Vec::with_capacity(512);
    g.bench_function("allow_bytes_in_bytes_out", |b| {
        b.iter(|| {
            out.clear();
            service
                .answer_bytes(black_box(bytes.as_slice()), &mut out)
                .unwrap();
        })
    });
    g.finish();
}

/// The same allow with the cache on: every iteration after the first is a hit (the issue's
/// bound: a hit costs ≤ the HS256 full Check + 1 µs), and each public-key algorithm's allow
/// with the cache off (a full verification) and on.
fn cached_check(c: &mut Criterion) {
    let mut g = c.benchmark_group("check");
    let hs = service(Arc::new(bench_keyring(5)), 4096);
    let allowed = envoy_like_request(Some(&bench_token(unix_now())));
    g.bench_function("allow_cache_hit", |b| {
        b.iter(|| hs.answer(black_box(&allowed)).unwrap())
    });
    let bench = bench_public_keys();
    let ring = Arc::new(bench.ring);
    for (alg, key) in &bench.keys {
        if !matches!(alg, Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA) {
            continue;
        }
        let req = envoy_like_request(Some(&bench_token_signed(key, *alg, alg.name(), unix_now())));
        let name = alg.name().to_ascii_lowercase();
        for (cache, label) in [(0, "cache_off"), (4096, "cache_hit")] {
            let svc = service(Arc::clone(&ring), cache);
            assert!(svc
                .answer(&req)
                .unwrap()
                .status
                .is_some_and(|s| s.code == 0));
            g.bench_function(format!("{name}_allow_{label}"), |b| {
                b.iter(|| svc.answer(black_box(&req)).unwrap())
            });
        }
    }
    g.finish();
}

/// A token of a remote provider against the same token verified by mounted keys: same key,
/// same algorithm, same run. The fetcher is off the Check path, so the two must cost the same
/// (BENCHMARKS.md: within 5%).
fn provider_check(c: &mut Criterion) {
    let mut g = c.benchmark_group("check");
    let bench = bench_public_keys();
    let mounted = Arc::new(bench.ring);
    let fetched = Arc::new(bench.provider_ring);
    for (alg, key) in &bench.keys {
        if !matches!(alg, Algorithm::RS256 | Algorithm::ES256) {
            continue;
        }
        let req = envoy_like_request(Some(&bench_token_signed(key, *alg, alg.name(), unix_now())));
        let name = alg.name().to_ascii_lowercase();
        for (cache, label) in [(0, "cache_off"), (4096, "cache_hit")] {
            let mut config = bench_provider_config(50);
            config.jwt.cache_max_entries = cache;
            let remote = AuthzService::new(State::new(
                Arc::new(config),
                Arc::clone(&fetched),
                Metrics::new(),
            ));
            let local = service(Arc::clone(&mounted), cache);
            for (svc, source) in [(&local, "mounted"), (&remote, "provider")] {
                let answer = svc.answer(&req).unwrap();
                assert_eq!(answer.status.map(|s| s.code), Some(0), "{source}");
                g.bench_function(format!("{name}_allow_{source}_{label}"), |b| {
                    b.iter(|| svc.answer(black_box(&req)).unwrap())
                });
            }
        }
    }
    g.finish();
}

criterion_group!(benches, policy, full_check, cached_check, provider_check);
criterion_main!(benches);
