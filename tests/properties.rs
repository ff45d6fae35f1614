//! Property tests of the decision (library API, no server): foreign keys never pass, any bit
//! flip denies, arbitrary requests never panic, and header order never changes a decision.

use std::path::Path;

use envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use jwt_authz::authz::{build_response, decide, AllowKind, Decision};
use jwt_authz::config::Config;
use jwt_authz::keys::{Algorithm, KeyRing};
use jwt_authz::request::RequestView;
use jwt_authz::testing::{bench_keyring, check_request, raw_check_request, sign_compact};
use proptest::prelude::*;

const NOW: u64 = 1_800_000_000;

fn config() -> Config {
    Config::from_yaml(
        r#"
keys: [{ dir: /k, algorithm: HS256 }]
jwt:
  sources: [{ header: authorization, prefix: "Bearer " }, { cookie: at }]
rules:
  - { name: pub, match: { path_prefix: /pub }, public: true }
  - { name: admin, match: { path_prefix: /admin }, require: { claims: [{ claim: roles, contains: admin }] } }
  - { name: rest, match: {} }
forward:
  claims_to_headers: { x-jwt-sub: sub }
  strip_token: true
"#,
        Path::new("props.yaml"),
    )
    .unwrap()
}

/// "allow:<kind>" or the deny reason.
fn outcome(req: &CheckRequest, cfg: &Config, keys: &KeyRing) -> (String, Vec<String>) {
    let view = RequestView::new(req);
    let decision = decide(&view, cfg, keys, NOW).expect("keys are loaded");
    let label = match &decision {
        Decision::Allow(a) => match a.kind {
            AllowKind::Token => "allow:token".to_string(),
            AllowKind::Public => "allow:public".to_string(),
            AllowKind::Shadow(_) => "allow:shadow".to_string(),
        },
        Decision::Deny(d) => d.reason.to_string(),
    };
    let response = build_response(&decision, &view, cfg);
    let mut shape: Vec<String> = format!("{:?}", response.http_response)
        .split(", ")
        .map(str::to_string)
        .collect();
    shape.sort();
    (label, shape)
}

fn claims_strategy() -> impl Strategy<Value = String> {
    (
        "[a-z]{0,12}",
        prop::collection::vec("[a-z:]{1,8}", 0..4),
        0u64..2_000_000_000,
    )
        .prop_map(|(sub, roles, exp)| {
            serde_json::json!({"sub": sub, "roles": roles, "exp": exp.max(NOW + 60)}).to_string()
        })
}

fn alg_strategy() -> impl Strategy<Value = (Algorithm, usize)> {
    prop_oneof![
        Just((Algorithm::HS256, 32)),
        Just((Algorithm::HS384, 48)),
        Just((Algorithm::HS512, 64))
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A token not signed by a configured key is never allowed, whatever kid it names.
    #[test]
    fn foreign_keys_never_pass(
        claims in claims_strategy(),
        (alg, len) in alg_strategy(),
        secret_byte in 9u8..=255,
        kid in prop_oneof![Just(None), Just(Some("k0".to_string())), Just(Some("k512".to_string())), "[a-z0-9]{1,6}".prop_map(Some)],
        path in prop_oneof![Just("/admin".to_string()), Just("/x".to_string())],
    ) {
        let header = match &kid {
            Some(k) => format!(r#"{{"alg":"{}","kid":"{k}"}}"#, alg.name()),
            None => format!(r#"{{"alg":"{}"}}"#, alg.name()),
        };
        // bench_keyring's secrets are [1..=5; 32], [0x38; 48], [0x51; 64]: skip those bytes.
        prop_assume!(secret_byte != 0x38 && secret_byte != 0x51);
        let token = sign_compact(alg, &vec![secret_byte; len], &header, &claims);
        let auth = format!("Bearer {token}");
        let req = check_request("GET", &path, "h", &[("authorization", &auth)]);
        let (label, _) = outcome(&req, &config(), &bench_keyring(5));
        prop_assert!(!label.starts_with("allow:token"), "{label} for a foreign key");
    }

    /// Flipping any single bit of a valid token denies it.
    #[test]
    fn any_bit_flip_denies(claims in claims_strategy(), bit in 0usize..10_000) {
        let token = sign_compact(Algorithm::HS256, &[1u8; 32], r#"{"alg":"HS256","kid":"k0"}"#, &claims);
        let auth = format!("Bearer {token}");
        let ok = outcome(&check_request("GET", "/x", "h", &[("authorization", &auth)]), &config(), &bench_keyring(5)).0;
        prop_assert_eq!(ok, "allow:token");
        let mut bytes = token.into_bytes();
        let bit = bit % (bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let Ok(flipped) = String::from_utf8(bytes) else { return Ok(()) };
        let auth = format!("Bearer {flipped}");
        let (label, _) = outcome(&check_request("GET", "/x", "h", &[("authorization", &auth)]), &config(), &bench_keyring(5));
        prop_assert!(!label.starts_with("allow"), "bit {} flipped still gave {}", bit, label);
    }

    /// Arbitrary methods, paths, hosts, headers and cookies never panic.
    #[test]
    fn arbitrary_requests_never_panic(
        method in "\\PC{0,10}",
        path in "[/a-zA-Z0-9%.?#&=\\\\_~-]{0,40}",
        host in "\\PC{0,20}",
        headers in prop::collection::vec(
            (prop_oneof![Just("authorization".to_string()), Just("cookie".to_string()), "[a-z-]{1,10}"], "\\PC{0,60}"),
            0..6,
        ),
    ) {
        let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        outcome(&check_request(&method, &path, &host, &refs), &config(), &bench_keyring(2));
        let mut raw = refs.clone();
        raw.push((":path", &path));
        outcome(&raw_check_request(&raw), &config(), &bench_keyring(2));
    }

    /// The order of (distinct) headers never changes the decision or the response.
    #[test]
    fn header_order_does_not_matter(
        extra in prop::collection::btree_map("[a-z]{1,8}", "[ -~]{0,20}", 0..6),
        with_token in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let token = sign_compact(Algorithm::HS256, &[1u8; 32], r#"{"alg":"HS256","kid":"k0"}"#, &format!(r#"{{"sub":"s","exp":{}}}"#, NOW + 60));
        let auth = format!("Bearer {token}");
        let mut headers: Vec<(&str, &str)> = vec![(":method", "GET"), (":path", "/admin/x"), (":authority", "h")];
        headers.extend(extra.iter().filter(|(k, _)| *k != "authorization" && *k != "cookie").map(|(k, v)| (k.as_str(), v.as_str())));
        if with_token {
            headers.push(("authorization", &auth));
        }
        let mut shuffled = headers.clone();
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        let (cfg, keys) = (config(), bench_keyring(2));
        prop_assert_eq!(outcome(&raw_check_request(&headers), &cfg, &keys), outcome(&raw_check_request(&shuffled), &cfg, &keys));
    }
}

mod public_keys {
    use std::sync::OnceLock;

    use jwt_authz::config::Config;
    use jwt_authz::jwt::verify;
    use jwt_authz::keys::{Algorithm, Curve, KeyRing, LoadedKey, PrivateKey};
    use jwt_authz::testing::{ec_key, ed25519_key, rsa_key, sign_compact, sign_with};
    use proptest::prelude::*;

    /// Every algorithm's (alg, kid, private key; `None` for HMAC) and the ring holding them.
    type Keys = (Vec<(Algorithm, String, Option<PrivateKey>)>, KeyRing);

    /// One key per algorithm, generated once.
    fn keys() -> &'static Keys {
        static K: OnceLock<Keys> = OnceLock::new();
        K.get_or_init(|| {
            let mut keys = Vec::new();
            let mut loaded = Vec::new();
            for alg in Algorithm::ALL {
                let kid = format!("k-{alg}");
                let private = match alg {
                    Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => None,
                    Algorithm::ES256 => Some(ec_key(Curve::P256)),
                    Algorithm::ES384 => Some(ec_key(Curve::P384)),
                    Algorithm::ES512 => Some(ec_key(Curve::P521)),
                    Algorithm::EdDSA => Some(ed25519_key()),
                    _ => Some(rsa_key()),
                };
                loaded.push(match &private {
                    None => LoadedKey::hmac(&kid, alg, &[alg.index() as u8 + 1; 64], "p"),
                    Some(k) => LoadedKey::public(&kid, alg, k.public(), "p"),
                });
                keys.push((alg, kid, private));
            }
            (keys, KeyRing::build(loaded).unwrap())
        })
    }

    fn config() -> Config {
        Config::from_yaml(
            "keys: [{ dir: /k, algorithm: HS256 }]\n",
            std::path::Path::new("p.yaml"),
        )
        .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Random claims signed with every algorithm verify, with the same claims; any flipped
        /// signature bit denies.
        #[test]
        fn every_algorithm_verifies_what_it_signed(
            which in 0usize..13,
            sub in "[a-z]{0,12}",
            scopes in prop::collection::vec("[a-z:]{1,8}", 0..4),
            n in any::<i32>(),
            bit in any::<prop::sample::Index>(),
        ) {
            let (keys, ring) = keys();
            let (alg, kid, private) = &keys[which];
            let now = 1_800_000_000u64;
            let claims = serde_json::json!({"sub": sub, "scope": scopes.join(" "), "n": n, "exp": now + 600});
            let header = format!(r#"{{"alg":"{}","kid":"{kid}"}}"#, alg.name());
            let token = match private {
                Some(k) => sign_with(k, *alg, &header, &claims.to_string()),
                None => sign_compact(*alg, &[alg.index() as u8 + 1; 64], &header, &claims.to_string()),
            };
            let cfg = config();
            let v = verify(&token, ring, &cfg.jwt, &cfg.limits, now).map_err(|e| TestCaseError::fail(format!("{alg}: {e:?}")))?;
            prop_assert_eq!(&*v.key.kid, kid.as_str());
            prop_assert_eq!(v.claims.root().to_json().unwrap(), claims);
            let (input, sig) = token.rsplit_once('.').unwrap();
            let mut sig = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
            let i = bit.index(sig.len() * 8);
            sig[i / 8] ^= 1 << (i % 8);
            let flipped = format!("{input}.{}", base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &sig));
            prop_assert!(verify(&flipped, ring, &cfg.jwt, &cfg.limits, now).is_err(), "{} accepted a flipped bit", alg);
        }

        /// Tokens minted by jsonwebtoken (its own JWS encoding) verify too.
        #[test]
        fn tokens_minted_by_jsonwebtoken_verify(which in 3usize..13, sub in "[a-z]{1,12}") {
            let (keys, ring) = keys();
            let (alg, kid, private) = &keys[which];
            let (Some(private), Some(jalg)) = (private, alg.to_jsonwebtoken()) else { return Ok(()) };
            let pem = private.to_pkcs8_pem();
            let encoding = match alg.family() {
                jwt_authz::keys::Family::Rsa => jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()),
                jwt_authz::keys::Family::Ec(_) => jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()),
                _ => jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()),
            }
            .unwrap();
            let mut header = jsonwebtoken::Header::new(jalg);
            header.kid = Some(kid.clone());
            let now = 1_800_000_000u64;
            let token = jsonwebtoken::encode(&header, &serde_json::json!({"sub": sub, "exp": now + 60}), &encoding).unwrap();
            let cfg = config();
            prop_assert!(verify(&token, ring, &cfg.jwt, &cfg.limits, now).is_ok(), "{}", alg);
        }
    }
}
