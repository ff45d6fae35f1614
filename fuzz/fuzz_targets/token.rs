//! Tokens: raw strings, and well-signed tokens with arbitrary header and payload bytes, through
//! `jwt::verify`; payloads through the strict claims parser; and claim sets built from the
//! input (exp/nbf/iat around now, iss, aud) under varied settings. The ring holds HMAC keys and
//! one public key per algorithm; header/payload text is signed with HS256, HS512, RS256 or
//! EdDSA as the header asks. Oracles: every accepted token's signature also verifies with
//! jsonwebtoken (for the key that verified it); every accepted payload is valid JSON to
//! serde_json, with the same value; the registered-claim verdict is one jsonwebtoken's
//! `Validation` gives.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use jwt_authz::config::Config;
use jwt_authz::jwt::{verify, Claims};
use jwt_authz::keys::{Algorithm, KeyRing};
use jwt_authz::testing::{jsonwebtoken_reasons, sign_compact, sign_with, ClaimRules};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const NOW: u64 = 1_800_000_000;

fn setup() -> &'static (Config, &'static KeyRing) {
    static S: OnceLock<(Config, &'static KeyRing)> = OnceLock::new();
    S.get_or_init(|| {
        let config = Config::from_yaml(
            "keys: [{ dir: /k, algorithm: HS256 }]\njwt: { issuers: [i], audiences: [a], max_lifetime: 1h, require_exp: false }\n",
            Path::new("fuzz.yaml"),
        )
        .unwrap();
        (config, &common::public_keys().ring)
    })
}

/// Accepted ⇒ jsonwebtoken agrees the signature is right for the key that verified it.
fn check_accepted(token: &str) {
    let (config, ring) = setup();
    let Ok(v) = verify(token, ring, &config.jwt, &config.limits, NOW) else {
        return;
    };
    if let Some((alg, _)) = common::secret_of(&v.key.kid) {
        assert_eq!(alg, v.key.alg);
    } else {
        assert_eq!(v.key.kid.as_ref(), v.key.alg.name(), "a public key under its algorithm's name");
    }
    assert_ne!(
        common::signature_ok(token, &v.key.kid),
        Some(false),
        "accepted a token whose signature does not verify"
    );
}

const ISSUERS: [&[&str]; 3] = [&[], &["a"], &["a", "b"]];
const AUDIENCES: [&[&str]; 3] = [&[], &["x"], &["x", "y"]];

/// The 36 combinations of issuers, audiences, leeway and require_exp, built once.
fn claim_configs() -> &'static Vec<(ClaimRules<'static>, Config)> {
    static S: OnceLock<Vec<(ClaimRules<'static>, Config)>> = OnceLock::new();
    S.get_or_init(|| {
        let mut out = Vec::new();
        for issuers in ISSUERS {
            for audiences in AUDIENCES {
                for leeway in [0u64, 60] {
                    for require_exp in [false, true] {
                        let yaml = format!("keys: [{{ dir: /k, algorithm: HS256 }}]\njwt: {{ issuers: {issuers:?}, audiences: {audiences:?}, leeway: {leeway}s, require_exp: {require_exp} }}\n");
                        let config = Config::from_yaml(&yaml, Path::new("fuzz.yaml")).unwrap();
                        out.push((ClaimRules { issuers, audiences, leeway, require_exp }, config));
                    }
                }
            }
        }
        out
    })
}

/// Registered claims built from the input, judged by jwt-authz and by jsonwebtoken.
fn check_claims_against_jsonwebtoken(data: &[u8]) {
    let [pick, present, e, n, i, iss, aud, ..] = *data else {
        return;
    };
    let (rules, config) = &claim_configs()[usize::from(pick) % 36];
    let now = jwt_authz::authz::unix_now() as i64;
    let offset = |b: u8| (i64::from(b) - 128) * 3;
    let leeway = rules.leeway as i64;
    // Away from the boundaries, where a clock tick or the RFC's "on or after" differ.
    let (exp, nbf, iat) = (offset(e), offset(n), -offset(i).abs());
    if (exp + leeway).abs() <= 2 || (nbf - leeway).abs() <= 2 {
        return;
    }
    let mut claims = serde_json::Map::new();
    for (bit, name, value) in [(1, "exp", exp), (2, "nbf", nbf), (4, "iat", iat)] {
        if present & bit != 0 {
            claims.insert(name.into(), (now + value).into());
        }
    }
    if present & 8 != 0 {
        claims.insert("iss".into(), ["a", "b", "c"][usize::from(iss) % 3].into());
    }
    if present & 16 != 0 {
        let names = ["x", "y", "z"];
        let value = if aud & 1 == 0 {
            serde_json::Value::from(names[usize::from(aud >> 1) % 3])
        } else {
            (0..3)
                .filter(|k| aud >> (k + 1) & 1 == 1)
                .map(|k| names[k])
                .collect::<Vec<_>>()
                .into()
        };
        claims.insert("aud".into(), value);
    }
    let secret = [1u8; 32];
    let token = sign_compact(
        Algorithm::HS256,
        &secret,
        r#"{"alg":"HS256","kid":"k0"}"#,
        &serde_json::Value::Object(claims).to_string(),
    );
    let ring = &setup().1;
    let ours = verify(&token, ring, &config.jwt, &config.limits, now as u64);
    let theirs = jsonwebtoken_reasons(&token, &secret, rules);
    match ours {
        Ok(_) => assert!(theirs.is_empty(), "accepted; jsonwebtoken says {theirs:?}"),
        Err(e) => assert!(
            theirs.contains(&e.reason),
            "{:?} ({}); jsonwebtoken says {theirs:?}",
            e.reason,
            e.detail
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 4 == 3 {
        return check_claims_against_jsonwebtoken(rest);
    }
    match mode % 4 {
        0 => {
            if let Ok(token) = std::str::from_utf8(rest) {
                check_accepted(token);
            }
        }
        1 => {
            // Sign arbitrary header/payload text with a configured key: reaches every check
            // after the MAC.
            let text = String::from_utf8_lossy(rest);
            let (header, payload) = text
                .split_once('\u{0}')
                .unwrap_or((r#"{"alg":"HS256","kid":"k0"}"#, &text));
            let public = |alg: Algorithm| {
                let keys = &common::public_keys().keys;
                let (_, key) = keys.iter().find(|(a, _)| *a == alg).expect("a bench key");
                sign_with(key, alg, header, payload)
            };
            // RSA PKCS#1 v1.5 and Ed25519 signatures are deterministic, so inputs replay.
            let token = if header.contains("RS256") {
                public(Algorithm::RS256)
            } else if header.contains("EdDSA") {
                public(Algorithm::EdDSA)
            } else if header.contains("HS512") {
                sign_compact(Algorithm::HS512, &[0x51; 64], header, payload)
            } else {
                sign_compact(Algorithm::HS256, &[1; 32], header, payload)
            };
            check_accepted(&token);
        }
        _ => {
            if let Ok(claims) = Claims::parse(rest.to_vec(), 16) {
                let theirs: serde_json::Value =
                    serde_json::from_slice(rest).expect("we accepted what serde_json rejects");
                assert_eq!(
                    claims
                        .root()
                        .to_json()
                        .expect("our compact JSON reads back"),
                    theirs
                );
            }
        }
    }
});
