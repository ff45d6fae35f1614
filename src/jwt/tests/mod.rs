//! Verification tests: one per deny reason and per RFC 8725 rejection. Well-formed tokens are
//! minted by the jsonwebtoken crate (an independent implementation); odd ones by
//! `sign_compact`.

use serde_json::json;

use super::*;
use crate::config::{JwtSettings, Limits, TokenSource};
use crate::keys::{Algorithm, KeyRing, LoadedKey};
use crate::testing::sign_compact;

mod claims;

const NOW: u64 = 1_800_000_000;
const K256: &[u8] = b"0123456789abcdef0123456789abcdef";
const K512: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn ring() -> KeyRing {
    let lk = |kid: &str, alg, secret: &[u8]| LoadedKey::hmac(kid, alg, secret, "test");
    KeyRing::build(vec![
        lk("k256", Algorithm::HS256, K256),
        lk("k512", Algorithm::HS512, K512),
        lk(
            "other256",
            Algorithm::HS256,
            b"ffffffffffffffffffffffffffffffff",
        ),
    ])
    .unwrap()
}

fn settings() -> JwtSettings {
    JwtSettings {
        issuers: vec![],
        audiences: vec![],
        leeway_secs: 60,
        require_exp: true,
        require_kid: false,
        cache_max_entries: 0,
        max_lifetime_secs: None,
        max_token_bytes: 8192,
        sources: vec![TokenSource::Header {
            name: "authorization".into(),
            prefix: Some("Bearer ".into()),
        }],
        providers: Vec::new(),
    }
}

fn mint(kid: Option<&str>, alg: Algorithm, secret: &[u8], claims: serde_json::Value) -> String {
    let mut header = jsonwebtoken::Header::new(alg.to_jsonwebtoken().unwrap());
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret).unwrap(),
    )
    .unwrap()
}

fn good_claims() -> serde_json::Value {
    json!({"sub": "alice", "iat": NOW - 10, "exp": NOW + 600})
}

fn check(token: &str, s: &JwtSettings) -> Result<String, (DenyReason, &'static str)> {
    let ring = ring();
    verify(token, &ring, s, &Limits::default(), NOW)
        .map(|v| v.key.kid.to_string())
        .map_err(|e| (e.reason, e.detail))
}

fn reason(token: &str, s: &JwtSettings) -> DenyReason {
    check(token, s).unwrap_err().0
}

#[test]
fn valid_tokens_verify_with_their_key() {
    let t = mint(Some("k256"), Algorithm::HS256, K256, good_claims());
    assert_eq!(check(&t, &settings()), Ok("k256".into()));
    let t = mint(Some("k512"), Algorithm::HS512, K512, good_claims());
    assert_eq!(check(&t, &settings()), Ok("k512".into()));
    let ring = ring();
    let v = verify(&t, &ring, &settings(), &Limits::default(), NOW).unwrap();
    assert_eq!(v.claims.get_str("sub").as_deref(), Some("alice"));
    assert_eq!(v.payload_b64, t.split('.').nth(1).unwrap());
}

#[test]
fn kidless_tokens_try_the_keys_of_their_algorithm() {
    let t = mint(
        None,
        Algorithm::HS256,
        b"ffffffffffffffffffffffffffffffff",
        good_claims(),
    );
    assert_eq!(check(&t, &settings()), Ok("other256".into()));
    let t = mint(
        None,
        Algorithm::HS256,
        b"not-a-configured-key-0123456789ab",
        good_claims(),
    );
    assert_eq!(reason(&t, &settings()), DenyReason::BadSignature);
    let t = mint(None, Algorithm::HS384, &[1; 48], good_claims());
    assert_eq!(reason(&t, &settings()), DenyReason::UnsupportedAlg);
    let require = JwtSettings {
        require_kid: true,
        ..settings()
    };
    let t = mint(None, Algorithm::HS256, K256, good_claims());
    assert_eq!(reason(&t, &require), DenyReason::UnknownKid);
}

#[test]
fn kidless_tokens_try_at_most_16_keys() {
    let ring_of = |n: usize| {
        KeyRing::build(
            (0..n)
                .map(|i| {
                    LoadedKey::hmac(&format!("k{i}"), Algorithm::HS256, &[i as u8 + 1; 32], "s")
                })
                .collect(),
        )
        .unwrap()
    };
    let limits = Limits::default();
    // Signed by the last key: found among 16, refused among 17 without trying any MAC.
    let t = mint(None, Algorithm::HS256, &[16; 32], good_claims());
    let sixteen = ring_of(16);
    assert_eq!(
        verify(&t, &sixteen, &settings(), &limits, NOW).map(|v| v.key.kid.to_string()),
        Ok("k15".to_string())
    );
    let seventeen = ring_of(17);
    let err = verify(&t, &seventeen, &settings(), &limits, NOW).unwrap_err();
    assert_eq!(
        (err.reason, err.detail),
        (
            DenyReason::UnknownKid,
            "token has no kid and more than 16 keys use its alg"
        )
    );
    // With a kid, the 17th key is found as usual.
    let t = mint(Some("k16"), Algorithm::HS256, &[17; 32], good_claims());
    assert!(verify(&t, &seventeen, &settings(), &limits, NOW).is_ok());
}

#[test]
fn algorithm_is_pinned_by_the_key_not_the_token() {
    // Signed correctly with k512's bytes but claiming HS256 under kid k512.
    let t = sign_compact(
        Algorithm::HS256,
        K512,
        r#"{"alg":"HS256","kid":"k512"}"#,
        &good_claims().to_string(),
    );
    assert_eq!(
        check(&t, &settings()),
        Err((
            DenyReason::UnsupportedAlg,
            "alg differs from the algorithm the key is pinned to"
        ))
    );
    for alg in ["none", "RS256", "ES256", "hs256", "HS256 "] {
        let header = format!(r#"{{"alg":"{alg}","kid":"k256"}}"#);
        let t = sign_compact(Algorithm::HS256, K256, &header, &good_claims().to_string());
        assert_eq!(reason(&t, &settings()), DenyReason::UnsupportedAlg, "{alg}");
    }
}

#[test]
fn unsigned_and_unknown_kid_tokens_are_refused() {
    let t = mint(Some("k256"), Algorithm::HS256, K256, good_claims());
    let (head, rest) = t.split_once('.').unwrap();
    let payload = rest.split('.').next().unwrap();
    assert_eq!(
        check(&format!("{head}.{payload}."), &settings()),
        Err((DenyReason::Malformed, "token is unsigned"))
    );
    let t = mint(Some("nope"), Algorithm::HS256, K256, good_claims());
    assert_eq!(reason(&t, &settings()), DenyReason::UnknownKid);
}

#[test]
fn any_change_breaks_the_signature() {
    let t = mint(Some("k256"), Algorithm::HS256, K256, good_claims());
    let forged_payload = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        json!({"sub": "admin", "exp": NOW + 600}).to_string(),
    );
    let parts: Vec<&str> = t.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(reason(&forged, &settings()), DenyReason::BadSignature);
    let wrong_key = mint(
        Some("k256"),
        Algorithm::HS256,
        b"ffffffffffffffffffffffffffffffff",
        good_claims(),
    );
    assert_eq!(reason(&wrong_key, &settings()), DenyReason::BadSignature);
    let short_sig = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..20]);
    assert_eq!(
        check(&short_sig, &settings()),
        Err((DenyReason::BadSignature, "signature has the wrong length"))
    );
}

#[test]
fn structure_violations_are_malformed_with_precise_details() {
    let good = mint(Some("k256"), Algorithm::HS256, K256, good_claims());
    let p: Vec<&str> = good.split('.').collect();
    let cases: Vec<(String, &str)> = vec![
        (
            "abc".into(),
            "not a compact JWS (expected header.payload.signature)",
        ),
        (
            "a.b".into(),
            "not a compact JWS (expected header.payload.signature)",
        ),
        (
            "a.b.c.d".into(),
            "not a compact JWS (expected header.payload.signature)",
        ),
        (
            "a.b.c.d.e".into(),
            "encrypted tokens (JWE) are not accepted",
        ),
        (
            format!("{}=.{}.{}", p[0], p[1], p[2]),
            "header is not canonical base64url",
        ),
        (
            format!("{}.{}.{}=", p[0], p[1], p[2]),
            "signature is not canonical base64url",
        ),
        (
            format!("{}.{}.{}", p[0].replace('J', "+"), p[1], p[2]),
            "header is not canonical base64url",
        ),
    ];
    for (token, detail) in cases {
        assert_eq!(
            check(&token, &settings()),
            Err((DenyReason::Malformed, detail)),
            "{token}"
        );
    }
}

#[test]
fn non_canonical_trailing_bits_are_rejected() {
    // A 32-byte MAC is 43 base64url chars; the last char carries 2 padding bits that must be 0.
    let good = mint(Some("k256"), Algorithm::HS256, K256, good_claims());
    let (input, sig) = good.rsplit_once('.').unwrap();
    let last = sig.chars().last().unwrap();
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = ALPHABET.find(last).unwrap();
    let twin = ALPHABET.chars().nth(idx ^ 1).unwrap();
    let tampered = format!("{input}.{}{twin}", &sig[..sig.len() - 1]);
    assert_eq!(reason(&tampered, &settings()), DenyReason::Malformed);
}

#[test]
fn dangerous_headers_are_rejected_even_when_signed() {
    let claims = good_claims().to_string();
    for (header, detail) in [
        (
            r#"{"alg":"HS256","kid":"k256","crit":["exp"]}"#,
            "crit header parameter is not supported",
        ),
        (
            r#"{"alg":"HS256","kid":"k256","jku":"https://x"}"#,
            "header names its own key (jku/x5u/jwk/x5c); keys come only from configuration",
        ),
        (
            r#"{"alg":"HS256","kid":"k256","b64":false,"crit":["b64"]}"#,
            "unencoded payloads (b64) are not supported",
        ),
        (
            r#"{"alg":"HS256","alg":"HS256","kid":"k256"}"#,
            "duplicate member in header",
        ),
        (r#"{"kid":"k256"}"#, "header has no alg"),
    ] {
        let t = sign_compact(Algorithm::HS256, K256, header, &claims);
        assert_eq!(
            check(&t, &settings()),
            Err((DenyReason::Malformed, detail)),
            "{header}"
        );
    }
}

#[test]
fn oversized_tokens_are_refused_before_parsing() {
    let s = JwtSettings {
        max_token_bytes: 100,
        ..settings()
    };
    let t = mint(
        Some("k256"),
        Algorithm::HS256,
        K256,
        json!({"exp": NOW + 60, "pad": "x".repeat(200)}),
    );
    assert_eq!(
        check(&t, &s),
        Err((
            DenyReason::TokenTooLarge,
            "token is longer than jwt.max_token_bytes"
        ))
    );
}
