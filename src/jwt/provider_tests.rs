//! Verification with several providers: the signing key's provider decides the issuer and
//! audiences; a miss is routed by the unverified `iss`.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::config::Config;
use crate::keys::{Algorithm, KeyRing, KeySet, LoadedKey};
use crate::testing::sign_compact;

const NOW: u64 = 1_800_000_000;
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

/// `corp` (remote, audience `orders`), `keyless` (remote, no keys yet), and the top-level
/// keys; `with_implicit: false` leaves the latter out.
fn config(with_implicit: bool) -> Config {
    let top = if with_implicit {
        "keys: [{ dir: /k, algorithm: HS256 }]\n"
    } else {
        ""
    };
    let yaml = format!(
        "{top}providers:\n  - {{ name: corp, issuer: https://corp, audiences: [orders], jwks_uri: https://corp/keys }}\n  - {{ name: keyless, issuer: https://keyless, jwks_uri: https://keyless/keys }}\n"
    );
    Config::from_yaml(&yaml, std::path::Path::new("/c.yaml")).unwrap()
}

/// `c1` for corp (provider 0); `t1` for the top-level keys (provider 2) when present.
fn ring(with_implicit: bool) -> KeyRing {
    let set = |kid: &str| {
        let key = LoadedKey::hmac(kid, Algorithm::HS256, SECRET, kid);
        Arc::new(KeySet::new(Arc::from(kid), vec![key]).unwrap())
    };
    let mut sets = vec![(0, set("c1"))];
    if with_implicit {
        sets.push((2, set("t1")));
    }
    KeyRing::from_sets(sets).unwrap()
}

fn token(kid: &str, claims: serde_json::Value) -> String {
    let header = json!({"alg": "HS256", "kid": kid}).to_string();
    sign_compact(Algorithm::HS256, SECRET, &header, &claims.to_string())
}

fn check(with_implicit: bool, kid: &str, claims: serde_json::Value) -> Result<usize, TokenError> {
    let c = config(with_implicit);
    let r = ring(with_implicit);
    verify(&token(kid, claims), &r, &c.jwt, &c.limits, NOW).map(|v| v.key.provider)
}

fn reason(r: Result<usize, TokenError>) -> (crate::reason::DenyReason, Option<KeyMiss>) {
    let e = r.unwrap_err();
    (e.reason, e.miss)
}

#[test]
fn the_signing_keys_provider_decides_issuer_and_audiences() {
    use crate::reason::DenyReason::*;
    let exp = NOW + 60;
    assert_eq!(
        check(
            true,
            "c1",
            json!({"iss": "https://corp", "aud": "orders", "exp": exp})
        ),
        Ok(0)
    );
    assert_eq!(
        reason(check(
            true,
            "c1",
            json!({"iss": "https://corp", "aud": "other", "exp": exp})
        ))
        .0,
        BadAudience
    );
    assert_eq!(
        reason(check(true, "c1", json!({"aud": "orders", "exp": exp}))).0,
        MissingClaim
    );
    assert_eq!(
        reason(check(
            true,
            "c1",
            json!({"iss": "https://keyless", "aud": "orders", "exp": exp})
        ))
        .0,
        BadIssuer
    );
    // A top-level key never signs for a named provider's issuer; any other issuer is its own.
    assert_eq!(
        check(true, "t1", json!({"iss": "https://elsewhere", "exp": exp})),
        Ok(2)
    );
    assert_eq!(
        reason(check(
            true,
            "t1",
            json!({"iss": "https://corp", "aud": "orders", "exp": exp})
        ))
        .0,
        BadIssuer
    );
}

#[test]
fn a_miss_is_routed_by_the_unverified_iss() {
    use crate::reason::DenyReason::*;
    let exp = NOW + 60;
    // corp has keys, not this kid: a refetch may find it.
    assert_eq!(
        reason(check(
            true,
            "new",
            json!({"iss": "https://corp", "exp": exp})
        )),
        (UnknownKid, Some(KeyMiss::UnknownKid(0)))
    );
    // keyless has none at all: undecidable.
    assert_eq!(
        reason(check(
            true,
            "k",
            json!({"iss": "https://keyless", "exp": exp})
        )),
        (UnknownKid, Some(KeyMiss::NoKeys(1)))
    );
    // corp's kid under keyless's issuer: corp's key does not make it keyless's.
    assert_eq!(
        reason(check(
            true,
            "c1",
            json!({"iss": "https://keyless", "exp": exp})
        ))
        .0,
        BadIssuer
    );
    // Unclaimed issuers go to the top-level keys (a plain unknown kid), or nowhere.
    assert_eq!(
        reason(check(true, "zz", json!({"iss": "https://x", "exp": exp}))),
        (UnknownKid, None)
    );
    assert_eq!(
        reason(check(false, "zz", json!({"iss": "https://x", "exp": exp}))),
        (BadIssuer, None)
    );
}
