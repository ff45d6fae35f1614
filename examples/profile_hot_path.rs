//! Runs one hot-path operation N times, for instruction counts under callgrind (repeatable on a
//! noisy machine, unlike wall time):
//!   valgrind --tool=callgrind target/release/examples/profile_hot_path check 20000
//! Operations: verify (HS256, typical token), decide (50 rules), check (full in-process Check
//! on prost messages), bytes (the server's path: protobuf bytes in and out), extract. Prints nothing: divide callgrind's total by N, after
//! subtracting a run with N=0 (setup cost).

use std::hint::black_box;
use std::sync::Arc;

use jwt_authz::authz::{decide, AuthzService};
use jwt_authz::request::RequestView;
use jwt_authz::state::State;
use jwt_authz::telemetry::Metrics;
use jwt_authz::testing::{bench_config, bench_keyring, bench_token, envoy_like_request};

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().unwrap_or_else(|| "check".into());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let now = jwt_authz::authz::unix_now();
    let token = bench_token(now);
    let req = envoy_like_request(Some(&token));
    let service = AuthzService::new(State::new(
        Arc::new(bench_config(50)),
        Arc::new(bench_keyring(5)),
        Metrics::new(),
    ));
    let snap = (bench_config(50), bench_keyring(5));
    assert!(
        service
            .answer(&req)
            .is_ok_and(|r| r.status.is_some_and(|s| s.code == 0)),
        "the profiled Check must be an allow"
    );
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
                black_box(service.answer_bytes(black_box(&bytes), &mut out).is_ok());
            }
            _ => {
                black_box(service.answer(black_box(&req)).is_ok());
            }
        }
    }
}
