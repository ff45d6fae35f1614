//! The policy decision with 50 rules, and the full in-process Check: CheckRequest struct →
//! CheckResponse (metrics and response building included), with and without protobuf
//! decoding/encoding.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use jwt_authz::authz::{decide, unix_now, AuthzService};
use jwt_authz::request::RequestView;
use jwt_authz::state::State;
use jwt_authz::telemetry::Metrics;
use jwt_authz::testing::{bench_config, bench_keyring, bench_token, envoy_like_request};
use prost::Message;

fn policy(c: &mut Criterion) {
    let cfg = bench_config(50);
    let keys = bench_keyring(5);
    let req = envoy_like_request(Some(&bench_token(unix_now())));
    c.bench_function("policy/select_50_rules_last_matches", |b| {
        b.iter(|| {
            cfg.policy.select(
                None,
                black_box("GET"),
                black_box("api.example.com"),
                black_box("/orders/42"),
            )
        })
    });
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

fn full_check(c: &mut Criterion) {
    let service = AuthzService::new(State::new(
        Arc::new(bench_config(50)),
        Arc::new(bench_keyring(5)),
        Metrics::new(),
    ));
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

criterion_group!(benches, policy, full_check);
criterion_main!(benches);
