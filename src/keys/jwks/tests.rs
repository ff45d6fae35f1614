//! Tests of the JWK Set reader: every key type, defaults, skipped keys, every defect named.

use super::*;
use crate::keys::DirFile;
use crate::testing::{ec_key, ed25519_key, jwk, rsa_key};
use serde_json::json;
use std::path::PathBuf;

fn k64() -> String {
    URL_SAFE_NO_PAD.encode([9u8; 64])
}

fn run_with(
    files: &[(&str, String)],
    default: Option<Algorithm>,
) -> Result<Vec<LoadedKey>, KeyError> {
    let snapshot = DirSnapshot {
        files: files
            .iter()
            .map(|(name, text)| DirFile {
                name: name.to_string(),
                path: PathBuf::from("/jwks").join(name),
                bytes: text.as_bytes().to_vec(),
            })
            .collect(),
        data_target: None,
    };
    decode(&snapshot, default, &Arc::from("/jwks"))
}

fn run(files: &[(&str, String)]) -> Result<Vec<LoadedKey>, KeyError> {
    run_with(files, None)
}

fn one(jwk: Value) -> Result<Vec<LoadedKey>, KeyError> {
    run(&[("set.json", json!({ "keys": [jwk] }).to_string())])
}

#[test]
fn loads_every_key_type_and_ignores_non_json_files() {
    let (rsa, ec, ed) = (rsa_key(), ec_key(Curve::P384), ed25519_key());
    let keys = run(&[
        (
            "a.json",
            json!({"keys": [
                {"kty": "oct", "kid": "k1", "alg": "HS256", "k": k64(), "use": "sig"},
                {"kty": "oct", "kid": "k2", "alg": "HS512", "k": k64(), "key_ops": ["verify", "sign"]},
                jwk(&rsa, Some("r"), Some(Algorithm::PS384)),
                jwk(&ec, Some("e"), None),
                jwk(&ed, Some("d"), None),
            ]})
            .to_string(),
        ),
        ("README", "not json".into()),
    ])
    .unwrap();
    let got: Vec<(&str, Algorithm)> = keys.iter().map(|k| (k.kid.as_str(), k.alg)).collect();
    assert_eq!(
        got,
        [
            ("k1", Algorithm::HS256),
            ("k2", Algorithm::HS512),
            ("r", Algorithm::PS384),
            ("e", Algorithm::ES384),
            ("d", Algorithm::EdDSA)
        ]
    );
}

#[test]
fn defaults_kid_from_the_thumbprint_and_alg_from_the_source_or_curve() {
    let rsa = rsa_key();
    // Entra ID publishes RSA keys with kid, use, n, e (and x5c) but no alg.
    let mut entra = jwk(&rsa, Some("entra"), None);
    entra["use"] = "sig".into();
    entra["x5c"] = json!(["MIIB..."]);
    let keys = run_with(
        &[(
            "s.json",
            json!({"keys": [entra, jwk(&rsa, None, Some(Algorithm::RS512))]}).to_string(),
        )],
        Some(Algorithm::RS256),
    )
    .unwrap();
    assert_eq!(
        (keys[0].kid.as_str(), keys[0].alg),
        ("entra", Algorithm::RS256)
    );
    assert_eq!(
        keys[1].kid,
        rsa.public().thumbprint(),
        "RFC 7638 thumbprint as kid"
    );
    assert_eq!(keys[1].alg, Algorithm::RS512);
    // RFC 7638 §3.1's example key and thumbprint.
    let example = json!({"kty": "RSA", "alg": "RS256",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB"});
    let keys = one(example).unwrap();
    assert_eq!(keys[0].kid, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    // oct without kid: the thumbprint over {"k","kty"}.
    let keys = one(json!({"kty": "oct", "alg": "HS256", "k": k64()})).unwrap();
    assert_eq!(keys[0].kid.len(), 43);
    // oct without alg takes an HMAC default only.
    assert!(run_with(
        &[(
            "s.json",
            json!({"keys": [{"kty": "oct", "k": k64()}]}).to_string()
        )],
        Some(Algorithm::HS384)
    )
    .is_ok());
    let err = run_with(
        &[(
            "s.json",
            json!({"keys": [{"kty": "oct", "k": k64()}]}).to_string(),
        )],
        Some(Algorithm::RS256),
    )
    .unwrap_err();
    assert!(err.to_string().contains("missing \"alg\""), "{err}");
}

#[test]
fn keys_for_other_uses_are_skipped_not_errors() {
    let ec = ec_key(Curve::P256);
    let mut enc = jwk(&ec, Some("enc"), None);
    enc["use"] = "enc".into();
    let mut wrap = jwk(&ec, Some("wrap"), None);
    wrap["key_ops"] = json!(["wrapKey"]);
    let keys = one(enc).unwrap();
    assert!(keys.is_empty());
    let sets = decode_set(
        json!({"keys": [wrap, jwk(&ec, Some("sig"), None)]})
            .to_string()
            .as_bytes(),
        "set",
        None,
        &Arc::from("s"),
    )
    .unwrap();
    assert!(matches!(&sets[0], Ok(Jwk::Skipped(why)) if why.contains("key_ops")));
    assert!(matches!(&sets[1], Ok(Jwk::Key(k)) if k.kid == "sig"));
}

#[test]
fn every_defect_is_named() {
    let k = k64();
    let ec = ec_key(Curve::P256);
    let mut private = jwk(&ec, Some("a"), None);
    private["d"] = "AAAA".into();
    let mut off_curve = jwk(&ec, Some("a"), None);
    off_curve["y"] = URL_SAFE_NO_PAD.encode([7u8; 32]).into();
    let mut short_x = jwk(&ed25519_key(), Some("a"), None);
    short_x["x"] = URL_SAFE_NO_PAD.encode([1u8; 31]).into();
    let mut small_order = jwk(&ed25519_key(), Some("a"), None);
    small_order["x"] = URL_SAFE_NO_PAD.encode([0u8; 32]).into();
    let mut weak = jwk(&rsa_key(), Some("a"), Some(Algorithm::RS256));
    weak["n"] = URL_SAFE_NO_PAD.encode([0xff; 128]).into();
    let mut even = jwk(&rsa_key(), Some("a"), Some(Algorithm::RS256));
    even["e"] = "AAE".into();
    let cases = [
        (
            json!({"kid": "a", "alg": "HS256", "k": k}),
            "missing \"kty\"",
        ),
        (
            json!({"kty": "oct", "kid": "", "alg": "HS256", "k": k}),
            "\"kid\" is empty",
        ),
        (
            json!({"kty": "oct", "kid": "k".repeat(257), "alg": "HS256", "k": k}),
            "\"kid\" is longer than 256 bytes",
        ),
        (
            json!({"kty": "oct", "kid": "a\nkey added", "alg": "HS256", "k": k}),
            "\"kid\" has a control character",
        ),
        (
            json!({"kty": "oct", "kid": "a", "alg": "none", "k": k}),
            "alg \"none\" is not supported",
        ),
        (
            json!({"kty": "oct", "kid": "a", "alg": "HS256"}),
            "missing \"k\"",
        ),
        (
            json!({"kty": "oct", "kid": "a", "alg": "HS256", "k": "***"}),
            "not base64url",
        ),
        (
            json!({"kty": "oct", "kid": 5, "alg": "HS256", "k": k}),
            "\"kid\" must be a string",
        ),
        (
            json!({"kty": "oct", "kid": "a", "alg": "HS512", "k": "AAAA"}),
            "too short for HS512",
        ),
        (
            json!({"kty": "oct", "kid": "a", "alg": "RS256", "k": k}),
            "does not fit",
        ),
        (
            json!({"kty": "OKP", "kid": "a", "crv": "X25519", "x": "AAAA"}),
            "crv \"X25519\"",
        ),
        (
            json!({"kty": "EC", "kid": "a", "crv": "secp256k1", "x": "AAAA", "y": "AAAA"}),
            "crv \"secp256k1\"",
        ),
        (
            json!({"kty": "dsa", "kid": "a"}),
            "kty \"dsa\" is not supported",
        ),
        (jwk(&ec, Some("a"), Some(Algorithm::ES384)), "does not fit"),
        (jwk(&rsa_key(), Some("a"), None), "missing \"alg\""),
        (private, "a private JWK"),
        (off_curve, "not on P-256"),
        (short_x, "32 bytes, not 31"),
        (small_order, "small order"),
        (weak, "1024 bits"),
        (even, "RSA exponent"),
        (json!("oct"), "a JWK must be a JSON object"),
    ];
    for (jwk, expected) in cases {
        let err = one(jwk.clone()).unwrap_err().to_string();
        assert!(err.contains(expected), "{jwk}: {err}");
        assert!(err.starts_with("/jwks/set.json keys[0]"), "{err}");
    }
    let longest = json!({"kty": "oct", "kid": "k".repeat(256), "alg": "HS256", "k": k});
    assert_eq!(one(longest).unwrap()[0].kid.len(), 256);
}

#[test]
fn file_level_errors() {
    let err = run(&[("x.json", "{".into())]).unwrap_err().to_string();
    assert!(err.contains("/jwks/x.json: not valid JSON"), "{err}");
    let err = run(&[("x.json", "[]".into())]).unwrap_err().to_string();
    assert!(err.contains("not a JWK Set"), "{err}");
}
