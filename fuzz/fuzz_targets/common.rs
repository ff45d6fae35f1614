//! Shared by the targets: the secrets of `jwt_authz::testing::bench_keyring`, and the
//! independent MAC oracle.

use jwt_authz::keys::Algorithm;

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

/// jsonwebtoken's verdict on the MAC of `token` for the key `kid`.
pub fn mac_ok(token: &str, kid: &str) -> bool {
    let (alg, secret) = secret_of(kid).expect("a configured kid");
    let (input, sig) = token.rsplit_once('.').expect("three parts");
    let key = jsonwebtoken::DecodingKey::from_secret(&secret).expect("a non-empty secret");
    jsonwebtoken::crypto::verify(sig, input.as_bytes(), &key, alg.to_jsonwebtoken())
        .unwrap_or(false)
}
