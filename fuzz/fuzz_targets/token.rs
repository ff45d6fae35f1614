//! Tokens: raw strings, and well-signed tokens with arbitrary header and payload bytes, through
//! `jwt::verify`; and payloads through the strict claims parser. Oracles: every accepted token's
//! MAC also verifies with jsonwebtoken; every accepted payload is valid JSON to serde_json, with
//! the same value.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use jwt_authz::config::Config;
use jwt_authz::jwt::{verify, Claims};
use jwt_authz::keys::{Algorithm, KeyRing};
use jwt_authz::testing::{bench_keyring, sign_compact};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const NOW: u64 = 1_800_000_000;

fn setup() -> &'static (Config, KeyRing) {
    static S: OnceLock<(Config, KeyRing)> = OnceLock::new();
    S.get_or_init(|| {
        let config = Config::from_yaml(
            "keys: [{ dir: /k, algorithm: HS256 }]\njwt: { issuers: [i], audiences: [a], max_lifetime: 1h, require_exp: false }\n",
            Path::new("fuzz.yaml"),
        )
        .unwrap();
        (config, bench_keyring(3))
    })
}

/// Accepted ⇒ jsonwebtoken agrees the MAC is right for the key that verified it.
fn check_accepted(token: &str) {
    let (config, ring) = setup();
    let Ok(v) = verify(token, ring, &config.jwt, &config.limits, NOW) else {
        return;
    };
    assert_eq!(common::secret_of(&v.key.kid).map(|s| s.0), Some(v.key.alg));
    assert!(common::mac_ok(token, &v.key.kid), "accepted a token whose MAC does not verify");
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => {
            if let Ok(token) = std::str::from_utf8(rest) {
                check_accepted(token);
            }
        }
        1 => {
            // Sign arbitrary header/payload text with a configured key: reaches every check
            // after the MAC.
            let text = String::from_utf8_lossy(rest);
            let (header, payload) = text.split_once('\u{0}').unwrap_or((r#"{"alg":"HS256","kid":"k0"}"#, &text));
            let (alg, secret) = if header.contains("HS512") { (Algorithm::HS512, vec![0x51; 64]) } else { (Algorithm::HS256, vec![1; 32]) };
            check_accepted(&sign_compact(alg, &secret, header, payload));
        }
        _ => {
            if let Ok(claims) = Claims::parse(rest.to_vec(), 16) {
                let theirs: serde_json::Value = serde_json::from_slice(rest).expect("we accepted what serde_json rejects");
                assert_eq!(claims.root().to_json(), theirs);
            }
        }
    }
});
