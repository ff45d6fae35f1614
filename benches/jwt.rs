//! Token extraction and verification (the in-process hot path below the gRPC layer).

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use jwt_authz::config::Config;
use jwt_authz::keys::Algorithm;
use jwt_authz::keys::PrivateKey;
use jwt_authz::request::RequestView;
use jwt_authz::testing::{
    bench_keyring, bench_public_keys, bench_token, bench_token_signed, envoy_like_request,
    sign_compact,
};

const NOW: u64 = 1_800_000_000;

/// The claims of `testing::bench_token` (a typical access token) with another signer.
fn token(kid: Option<&str>, alg: Algorithm, secret: &[u8], exp: u64) -> String {
    let typical = bench_token(exp - 600);
    let payload = typical.split('.').nth(1).unwrap();
    let claims =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap();
    let claims = String::from_utf8(claims).unwrap();
    let header = match kid {
        Some(k) => format!(r#"{{"alg":"{}","typ":"JWT","kid":"{k}"}}"#, alg.name()),
        None => format!(r#"{{"alg":"{}","typ":"JWT"}}"#, alg.name()),
    };
    sign_compact(alg, secret, &header, &claims)
}

fn config() -> Config {
    Config::from_yaml(
        "keys: [{ dir: /k, algorithm: HS256 }]\njwt: { issuers: ['https://issuer.example.com'], audiences: [orders-api] }\n",
        Path::new("bench.yaml"),
    )
    .unwrap()
}

fn verification(c: &mut Criterion) {
    let cfg = config();
    let ring = bench_keyring(5);
    let mut g = c.benchmark_group("verify");
    for (name, kid, alg, secret) in [
        ("hs256_kid", "k0", Algorithm::HS256, vec![1u8; 32]),
        ("hs384_kid", "k384", Algorithm::HS384, vec![0x38; 48]),
        ("hs512_kid", "k512", Algorithm::HS512, vec![0x51; 64]),
    ] {
        let t = token(Some(kid), alg, &secret, NOW + 600);
        g.bench_function(name, |b| {
            b.iter(|| {
                jwt_authz::jwt::verify(black_box(&t), &ring, &cfg.jwt, &cfg.limits, NOW).unwrap()
            })
        });
    }
    // Kid-less: signed by the last of five HS256 keys, so all five are tried.
    let t = token(None, Algorithm::HS256, &[5u8; 32], NOW + 600);
    g.bench_function("hs256_kidless_5_keys", |b| {
        b.iter(|| jwt_authz::jwt::verify(black_box(&t), &ring, &cfg.jwt, &cfg.limits, NOW).unwrap())
    });
    let t = token(Some("k0"), Algorithm::HS256, &[9u8; 32], NOW + 600);
    g.bench_function("hs256_bad_signature", |b| {
        b.iter(|| {
            jwt_authz::jwt::verify(black_box(&t), &ring, &cfg.jwt, &cfg.limits, NOW).unwrap_err()
        })
    });
    let t = token(Some("k0"), Algorithm::HS256, &[1u8; 32], NOW - 3600);
    g.bench_function("hs256_expired", |b| {
        b.iter(|| {
            jwt_authz::jwt::verify(black_box(&t), &ring, &cfg.jwt, &cfg.limits, NOW).unwrap_err()
        })
    });
    // The MAC alone over the same signing input (precomputed key state, SHA-NI where present).
    let t = token(Some("k0"), Algorithm::HS256, &[1u8; 32], NOW + 600);
    let (input, sig) = t.rsplit_once('.').unwrap();
    let sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    let key = jwt_authz::keys::MacKey::new(Algorithm::HS256, &[1u8; 32]).unwrap();
    g.bench_function("hs256_mac_only", |b| {
        b.iter(|| key.verify(black_box(input.as_bytes()), &sig))
    });
    // aws-lc-rs's HMAC with its key state precomputed too: the alternative to hmac/sha2.
    let aws = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &[1u8; 32]);
    g.bench_function("hs256_mac_only_aws_lc", |b| {
        b.iter(|| aws_lc_rs::hmac::verify(&aws, black_box(input.as_bytes()), &sig).is_ok())
    });
    // The reference the issue's targets were set against: jsonwebtoken 12 decoding and
    // verifying the same token (HS256, same claims, issuer and audience checks), in this run.
    let t = token(Some("k0"), Algorithm::HS256, &[1u8; 32], NOW + 600);
    let key = jsonwebtoken::DecodingKey::from_secret(&[1u8; 32]).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&["https://issuer.example.com"]);
    validation.set_audience(&["orders-api"]);
    g.bench_function("hs256_jsonwebtoken_reference", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&t), &key, &validation).unwrap()
        })
    });
    g.finish();
}

/// Each public-key algorithm: our `verify` of a typical token (base64url, header, claims,
/// checks, signature) against aws-lc-rs verifying the same signature over the same input with
/// a key it parsed once, in the same run. The issue's bound: ours ≤ 1.15× the bare verify.
fn public_keys(c: &mut Criterion) {
    use aws_lc_rs::signature::{self as sig, KeyPair, ParsedPublicKey, VerificationAlgorithm};
    let cfg = config();
    let bench = bench_public_keys();
    let mut g = c.benchmark_group("public");
    for (alg, key) in &bench.keys {
        let t = bench_token_signed(key, *alg, alg.name(), NOW - 600);
        let name = alg.name().to_ascii_lowercase();
        g.bench_function(format!("{name}_verify"), |b| {
            b.iter(|| {
                jwt_authz::jwt::verify(black_box(&t), &bench.ring, &cfg.jwt, &cfg.limits, NOW)
                    .unwrap()
            })
        });
        let (input, signature) = t.rsplit_once('.').unwrap();
        let signature =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, signature)
                .unwrap();
        let (algorithm, bytes): (&'static dyn VerificationAlgorithm, Vec<u8>) =
            match (alg, key.as_ref()) {
                (Algorithm::RS256, PrivateKey::Rsa(k)) => (
                    &sig::RSA_PKCS1_2048_8192_SHA256,
                    k.public_key().as_ref().to_vec(),
                ),
                (Algorithm::RS384, PrivateKey::Rsa(k)) => (
                    &sig::RSA_PKCS1_2048_8192_SHA384,
                    k.public_key().as_ref().to_vec(),
                ),
                (Algorithm::RS512, PrivateKey::Rsa(k)) => (
                    &sig::RSA_PKCS1_2048_8192_SHA512,
                    k.public_key().as_ref().to_vec(),
                ),
                (Algorithm::PS256, PrivateKey::Rsa(k)) => (
                    &sig::RSA_PSS_2048_8192_SHA256,
                    k.public_key().as_ref().to_vec(),
                ),
                (Algorithm::PS384, PrivateKey::Rsa(k)) => (
                    &sig::RSA_PSS_2048_8192_SHA384,
                    k.public_key().as_ref().to_vec(),
                ),
                (Algorithm::PS512, PrivateKey::Rsa(k)) => (
                    &sig::RSA_PSS_2048_8192_SHA512,
                    k.public_key().as_ref().to_vec(),
                ),
                (Algorithm::ES256, PrivateKey::Ec(_, k)) => (
                    &sig::ECDSA_P256_SHA256_FIXED,
                    k.public_key().as_ref().to_vec(),
                ),
                (Algorithm::ES384, PrivateKey::Ec(_, k)) => (
                    &sig::ECDSA_P384_SHA384_FIXED,
                    k.public_key().as_ref().to_vec(),
                ),
                (Algorithm::ES512, PrivateKey::Ec(_, k)) => (
                    &sig::ECDSA_P521_SHA512_FIXED,
                    k.public_key().as_ref().to_vec(),
                ),
                (Algorithm::EdDSA, PrivateKey::Ed25519(k)) => {
                    (&sig::ED25519, k.public_key().as_ref().to_vec())
                }
                other => unreachable!("bench key for {other:?}"),
            };
        let bare = ParsedPublicKey::new(algorithm, bytes).unwrap();
        g.bench_function(format!("{name}_aws_lc_bare"), |b| {
            b.iter(|| {
                bare.verify_sig(black_box(input.as_bytes()), &signature)
                    .unwrap()
            })
        });
    }
    g.finish();
}

fn extraction(c: &mut Criterion) {
    let cfg = config();
    let req = envoy_like_request(Some(&bench_token(NOW)));
    c.bench_function("extract/bearer_header", |b| {
        b.iter(|| {
            let view = RequestView::new(black_box(&req));
            jwt_authz::jwt::extract(&view, &cfg.jwt.sources, cfg.limits.max_header_bytes).unwrap()
        })
    });
}

criterion_group!(benches, verification, public_keys, extraction);
criterion_main!(benches);
