//! Shared by the targets: the secrets of `jwt_authz::testing::bench_keyring`, the public keys
//! of `bench_public_keys`, and the independent signature oracle (jsonwebtoken).

use std::sync::OnceLock;

use jwt_authz::keys::Algorithm;
use jwt_authz::testing::{bench_public_keys, PublicBench};

/// The algorithm and secret `bench_keyring` gives `kid`.
pub fn secret_of(kid: &str) -> Option<(Algorithm, Vec<u8>)> {
    match kid {
        "k384" => Some((Algorithm::HS384, vec![0x38; 48])),
        "k512" => Some((Algorithm::HS512, vec![0x51; 64])),
        k => {
            let n: u8 = k.strip_prefix('k')?.parse().ok()?;
            Some((Algorithm::HS256, vec![n + 1; 32]))
        }
    }
}

/// One key per public-key algorithm (kid: the algorithm's name), beside the HMAC bench keys,
/// generated once per process.
pub fn public_keys() -> &'static PublicBench {
    static K: OnceLock<PublicBench> = OnceLock::new();
    K.get_or_init(bench_public_keys)
}

/// jsonwebtoken's verdict on the signature of `token` for the key `kid` (`None`: jsonwebtoken
/// has no such algorithm, ES512).
pub fn signature_ok(token: &str, kid: &str) -> Option<bool> {
    let (input, sig) = token.rsplit_once('.').expect("three parts");
    let (alg, key) = match secret_of(kid) {
        Some((alg, secret)) => (
            alg,
            jsonwebtoken::DecodingKey::from_secret(&secret).expect("a non-empty secret"),
        ),
        None => {
            let (alg, private) = public_keys()
                .keys
                .iter()
                .find(|(a, _)| a.name() == kid)
                .expect("a configured kid");
            let jwk = private.public().to_jwk();
            let s = |m: &str| jwk[m].as_str().expect("a JWK member").to_string();
            let key = match jwk["kty"].as_str() {
                Some("RSA") => jsonwebtoken::DecodingKey::from_rsa_components(&s("n"), &s("e")),
                Some("EC") => jsonwebtoken::DecodingKey::from_ec_components(&s("x"), &s("y")),
                _ => jsonwebtoken::DecodingKey::from_ed_components(&s("x")),
            }
            .expect("jsonwebtoken reads the public key");
            (*alg, key)
        }
    };
    let alg = alg.to_jsonwebtoken()?;
    Some(jsonwebtoken::crypto::verify(sig, input.as_bytes(), &key, alg).unwrap_or(false))
}
