//! Public-key tokens through the real binary: PEM and JWK Set sources, `token --private-key`,
//! `validate`, the verified-token cache, and the attacks a public-key verifier must refuse.

mod support;

use std::process::{Command, Output};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_authz::keys::{Algorithm, Curve, PrivateKey};
use jwt_authz::testing::{ec_key, ed25519_key, jwk, rsa_key, sign_with};
use serde_json::json;
use support::*;

fn run(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .output()
        .expect("run jwt-authz")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fixture with PEM public keys: `rs` (RS256), `ps` (PS256, same RSA key), `es` (ES256),
/// `ed` (EdDSA); the private keys are kept in memory only.
struct Pems {
    f: Fixture,
    rsa: PrivateKey,
    ec: PrivateKey,
    ed: PrivateKey,
}

fn pems() -> Pems {
    let f = Fixture::new();
    let (rsa, ec, ed) = (rsa_key(), ec_key(Curve::P256), ed25519_key());
    for (dir, name, key) in [
        ("rs", "rs.pem", &rsa),
        ("ps", "ps.pem", &rsa),
        ("es", "es.pem", &ec),
        ("ed", "ed.pem", &ed),
    ] {
        std::fs::create_dir(f.path().join(dir)).unwrap();
        std::fs::write(f.path().join(dir).join(name), key.to_public_pem()).unwrap();
    }
    f.write_config(
        "keys:\n  - { dir: rs, encoding: pem, algorithm: RS256 }\n  - { dir: ps2, encoding: pem, algorithm: PS256 }\n  - { dir: es, encoding: pem, algorithm: ES256 }\n  - { dir: ed, encoding: pem, algorithm: EdDSA }\nreload: { debounce: 50ms, poll_interval: 1s }\n",
    );
    // The PS256 source is the same RSA key under another kid.
    std::fs::rename(f.path().join("ps"), f.path().join("ps2")).unwrap();
    Pems { f, rsa, ec, ed }
}

fn claims_json() -> String {
    json!({"sub": "alice", "iat": now(), "exp": now() + 600}).to_string()
}

fn token(key: &PrivateKey, alg: Algorithm, kid: &str) -> String {
    sign_with(
        key,
        alg,
        &json!({"alg": alg.name(), "kid": kid}).to_string(),
        &claims_json(),
    )
}

/// `explain` with `token`: (exit code, output).
fn explain(f: &Fixture, token: &str) -> (i32, String) {
    let config = f.config_path();
    let out = run(&[
        "explain",
        "--config",
        config.to_str().unwrap(),
        "--token",
        token,
    ]);
    (out.status.code().unwrap(), stdout(&out))
}

#[test]
fn pem_keys_verify_their_algorithm_and_token_mints_with_the_private_half() {
    let p = pems();
    for (key, alg, kid) in [
        (&p.rsa, Algorithm::RS256, "rs"),
        (&p.rsa, Algorithm::PS256, "ps"),
        (&p.ec, Algorithm::ES256, "es"),
        (&p.ed, Algorithm::EdDSA, "ed"),
    ] {
        let (code, out) = explain(&p.f, &token(key, alg, kid));
        assert_eq!(code, 0, "{alg}: {out}");
        assert!(out.contains(&format!("kid:      {kid} ({alg}")), "{out}");
    }
    // `token --private-key`: kid and algorithm from the configured key it matches.
    let private = p.f.path().join("ec-private.pem");
    std::fs::write(&private, p.ec.to_pkcs8_pem()).unwrap();
    let config = p.f.config_path();
    let out = run(&[
        "token",
        "--config",
        config.to_str().unwrap(),
        "--private-key",
        private.to_str().unwrap(),
        "--sub",
        "bob",
    ]);
    assert!(out.status.success(), "{out:?}");
    let minted = stdout(&out).trim().to_string();
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(minted.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (header["alg"].as_str(), header["kid"].as_str()),
        (Some("ES256"), Some("es"))
    );
    assert_eq!(explain(&p.f, &minted).0, 0);
    // A private key that matches no configured key is refused.
    std::fs::write(&private, ec_key(Curve::P256).to_pkcs8_pem()).unwrap();
    let out = run(&[
        "token",
        "--config",
        config.to_str().unwrap(),
        "--private-key",
        private.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a configured key"));
}

#[test]
fn validate_shows_type_size_curve_and_thumbprint() {
    let p = pems();
    let config = p.f.config_path();
    let out = run(&["validate", "--config", config.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.contains("RSA 2048") && text.contains("EC P-256") && text.contains("Ed25519"),
        "{text}"
    );
    for key in [&p.rsa, &p.ec, &p.ed] {
        assert!(text.contains(&key.public().thumbprint()), "{text}");
    }
    assert!(!text.contains("BEGIN"), "no key material");
}

#[test]
fn attacks_are_denied_with_the_right_reason() {
    let p = pems();
    let pem = p.rsa.to_public_pem();
    let claims = claims_json();
    // RS/HS confusion: the RSA key's PEM text used as an HMAC secret under its kid.
    let confused = jwt_authz::testing::sign_compact(
        Algorithm::HS256,
        pem.as_bytes(),
        r#"{"alg":"HS256","kid":"rs"}"#,
        &claims,
    );
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"rs"}"#),
        URL_SAFE_NO_PAD.encode(&claims)
    );
    let es = token(&p.ec, Algorithm::ES256, "es");
    let (input, sig) = es.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let with_sig = |s: &[u8]| format!("{input}.{}", URL_SAFE_NO_PAD.encode(s));
    let n = hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let der = jwt_authz::testing::ecdsa_der(&sig);
    let attacker = ec_key(Curve::P256);
    let embedded = |member: &str, value: serde_json::Value| {
        let mut header = json!({"alg": "ES256", "kid": "es"});
        header[member] = value;
        sign_with(&attacker, Algorithm::ES256, &header.to_string(), &claims)
    };
    let rs = token(&p.rsa, Algorithm::RS256, "rs");
    let short = {
        let (input, s) = rs.rsplit_once('.').unwrap();
        let s = URL_SAFE_NO_PAD.decode(s).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(&s[..s.len() - 1]))
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "RSA PEM as an HS256 secret",
            confused,
            "unsupported_alg (alg differs from the algorithm the key is pinned to)",
        ),
        (
            "alg none",
            unsigned,
            "unsupported_alg (alg none is never accepted)",
        ),
        ("ECDSA r = s = 0", with_sig(&[0; 64]), "bad_signature"),
        (
            "ECDSA r = s = n",
            with_sig(&[n.clone(), n].concat()),
            "bad_signature",
        ),
        (
            "DER-encoded ECDSA",
            with_sig(&der),
            "bad_signature (signature has the wrong length)",
        ),
        (
            "ES384 token, P-256 key",
            sign_with(
                &ec_key(Curve::P384),
                Algorithm::ES384,
                r#"{"alg":"ES384","kid":"es"}"#,
                &claims,
            ),
            "unsupported_alg",
        ),
        (
            "PS256 token, RS256 key",
            token(&p.rsa, Algorithm::PS256, "rs"),
            "unsupported_alg",
        ),
        (
            "RS256 token, PS256 key",
            token(&p.rsa, Algorithm::RS256, "ps"),
            "unsupported_alg",
        ),
        (
            "jwk header",
            embedded("jwk", attacker.public().to_jwk()),
            "malformed (header names its own key",
        ),
        (
            "jku header",
            embedded("jku", json!("https://evil.example/jwks")),
            "malformed (header names its own key",
        ),
        (
            "x5c header",
            embedded("x5c", json!(["MIIB"])),
            "malformed (header names its own key",
        ),
        (
            "signature one byte short",
            short,
            "bad_signature (signature has the wrong length)",
        ),
        (
            "attacker's key under our kid",
            sign_with(
                &attacker,
                Algorithm::ES256,
                r#"{"alg":"ES256","kid":"es"}"#,
                &claims,
            ),
            "bad_signature (signature does not verify)",
        ),
    ];
    for (what, token, expected) in cases {
        let (code, out) = explain(&p.f, &token);
        assert_eq!(code, 3, "{what}: {out}");
        assert!(
            out.contains(&format!("reason:   {expected}")),
            "{what}: {out}"
        );
        assert!(out.contains("http:     401"), "{what}: {out}");
    }
}

/// Hex to bytes (tests only).
mod hex {
    pub fn decode(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}

#[test]
fn a_small_order_ed25519_key_is_refused_at_load() {
    let f = Fixture::new();
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let set = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "weak", "x": URL_SAFE_NO_PAD.encode(identity)}]});
    std::fs::write(f.keys().join("set.json"), set.to_string()).unwrap();
    f.write_config("keys: [{ dir: keys, format: jwks }]\n");
    let config = f.config_path();
    let out = run(&["validate", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("kid \"weak\"") && stderr.contains("small order"),
        "{stderr}"
    );
}

#[tokio::test]
async fn jwks_sources_with_every_key_type_and_the_cache_through_the_server() {
    let f = Fixture::new();
    let (rsa, ec, ed) = (rsa_key(), ec_key(Curve::P384), ed25519_key());
    // An Entra-ID-shaped RSA key (no alg) takes the source's algorithm.
    let set = json!({"keys": [jwk(&rsa, Some("entra"), None), jwk(&ec, Some("ec"), None), jwk(&ed, Some("ed"), None)]});
    std::fs::write(f.keys().join("idp.json"), set.to_string()).unwrap();
    f.write_config("keys: [{ dir: keys, format: jwks, algorithm: RS256 }]\nreload: { debounce: 50ms, poll_interval: 1s }\n");
    let server = JwtAuthz::start(&f.config_path());
    let mut client = server.client().await;
    let tokens = [
        token(&rsa, Algorithm::RS256, "entra"),
        token(&ec, Algorithm::ES384, "ec"),
        token(&ed, Algorithm::EdDSA, "ed"),
    ];
    for t in &tokens {
        assert_eq!(verdict(&mut client, t).await, "ok");
        assert_eq!(verdict(&mut client, t).await, "ok", "again, from the cache");
    }
    assert_eq!(
        server
            .metric(r#"jwt_authz_token_cache_lookups_total{result="hit"}"#)
            .await,
        3.0
    );
    assert_eq!(
        server
            .metric(r#"jwt_authz_token_cache_lookups_total{result="miss"}"#)
            .await,
        3.0
    );
    // Removing a key revokes it at once, cached or not.
    let set = json!({"keys": [jwk(&ec, Some("ec"), None), jwk(&ed, Some("ed"), None)]});
    std::fs::write(f.keys().join("idp.json"), set.to_string()).unwrap();
    let c = client.clone();
    eventually(
        "the removed key stops verifying",
        Duration::from_secs(5),
        || {
            let mut c = c.clone();
            let t = tokens[0].clone();
            async move { (verdict(&mut c, &t).await == "unknown_kid").then_some(()) }
        },
    )
    .await;
    assert_eq!(verdict(&mut client, &tokens[1]).await, "ok");
}
