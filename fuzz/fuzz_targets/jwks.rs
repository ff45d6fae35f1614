//! JWK Sets and PEM key files: any bytes decode to keys that pass every check, or an error;
//! never a panic. Oracles for every accepted key: its algorithm fits its key, it prepares for
//! aws-lc-rs, an RSA key has at least 2048 bits, an Ed25519 key is not of small order, an HMAC
//! secret is at least its MAC's length, its kid is not empty, and a public key survives a round
//! trip through its own JWK. The same bytes as a fetched set (`providers::fetch::decode`): no
//! secret is ever used, kids are unique, and every key it keeps is one the mounted decoder
//! accepts too.
#![no_main]

use std::sync::Arc;

use jwt_authz::keys::{decode_jwk_set, is_small_order, Jwk, LoadedKey, Material};
use libfuzzer_sys::fuzz_target;

fn check(key: &LoadedKey) {
    assert!(!key.kid.is_empty());
    match &key.material {
        Material::Secret(s) => assert!(s.len() >= key.alg.mac_len().expect("an HMAC algorithm")),
        Material::Public(p) => {
            assert_eq!(p.family(), key.alg.family(), "the algorithm fits the key");
            p.prepare(key.alg).expect("an accepted key prepares");
            if let Some(bits) = p.rsa_bits() {
                assert!(bits >= 2048, "{bits}-bit RSA accepted");
            }
            if let Some(x) = p.ed25519_bytes() {
                assert!(!is_small_order(&x), "small-order Ed25519 accepted");
            }
            let set = serde_json::json!({"keys": [p.to_jwk()]}).to_string();
            let again = decode_jwk_set(set.as_bytes(), "again", Some(key.alg), &Arc::from("f"))
                .expect("its own JWK is a set");
            match &again[0] {
                Ok(Jwk::Key(k)) => match &k.material {
                    Material::Public(q) => assert_eq!(q, p, "round trip through the JWK"),
                    Material::Secret(_) => panic!("became a secret"),
                },
                other => panic!("its own JWK was refused: {other:?}"),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        if let Ok(jwks) = decode_jwk_set(rest, "/fuzz/set.json", None, &Arc::from("/fuzz")) {
            for jwk in jwks.into_iter().flatten() {
                if let Jwk::Key(k) = jwk {
                    check(&k);
                }
            }
        }
        if let Ok(fetched) = jwt_authz::providers::fetch::decode(rest, "https://idp/jwks", "fuzz") {
            let keys = fetched.set.keys();
            assert!(!keys.is_empty(), "an accepted fetched set has a key");
            let mut kids = std::collections::HashSet::new();
            for k in keys {
                assert!(!k.alg.is_hmac(), "a published secret was used");
                assert!(kids.insert(k.kid.clone()), "kid {} twice", k.kid);
            }
        }
    } else {
        for alg in ["RS256", "PS512", "ES256", "ES384", "ES512", "EdDSA"] {
            let alg = jwt_authz::keys::Algorithm::from_name(alg).unwrap();
            if let Ok(key) = jwt_authz::keys::parse_pem_key(rest, alg, "/fuzz/k.pem") {
                check(&key);
            }
        }
    }
});
