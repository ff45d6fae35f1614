//! `format: jwks` (and remote JWK Sets): every `*.json` file is a JWK Set (RFC 7517) of `kty`
//! `oct` (HMAC secrets), `RSA`, `EC` (`crv` P-256, P-384, P-521) or `OKP` (`crv` Ed25519) keys.
//!
//! - `alg` pins a key's algorithm and must fit its `kty`/`crv`; without `alg`, RSA and oct keys
//!   take the source's `algorithm`, EC keys the one of their curve, Ed25519 keys EdDSA.
//! - A key without `kid` gets its RFC 7638 thumbprint as kid.
//! - A key for another use (`use` other than `sig`, `key_ops` without `verify`) is skipped and
//!   logged, not an error: identity providers publish encryption keys in the same set.
//! - A private JWK (with `d`) is refused: a private key must never be mounted here.
//!
//! Mounted sets are all-or-nothing per source, like key files; a remote set skips bad keys
//! one by one ([`decode_set`] reports each key on its own).

use std::sync::Arc;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{
    validate_key_len, Algorithm, Curve, DirSnapshot, Family, KeyError, LoadedKey, Material,
    PublicKey,
};

const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What became of one JWK.
#[derive(Debug)]
pub enum Jwk {
    /// A key to verify with.
    Key(LoadedKey),
    /// Not for verification (`use: enc`, `key_ops` without `verify`): why.
    Skipped(String),
}

/// Decodes every `*.json` file of a mounted snapshot: any bad key fails the whole source.
pub fn decode(
    snapshot: &DirSnapshot,
    default_alg: Option<Algorithm>,
    source: &Arc<str>,
) -> Result<Vec<LoadedKey>, KeyError> {
    let mut keys = Vec::new();
    for file in snapshot.files.iter().filter(|f| f.name.ends_with(".json")) {
        let name = file.path.display().to_string();
        for jwk in decode_set(&file.bytes, &name, default_alg, source)? {
            match jwk? {
                Jwk::Key(k) => keys.push(k),
                Jwk::Skipped(why) => tracing::info!(source = %source, key = %why, "JWK skipped"),
            }
        }
    }
    Ok(keys)
}

/// Decodes one JWK Set document (`what` names it in errors): an error for the document, or
/// one result per key.
pub fn decode_set(
    bytes: &[u8],
    what: &str,
    default_alg: Option<Algorithm>,
    source: &Arc<str>,
) -> Result<Vec<Result<Jwk, KeyError>>, KeyError> {
    let set: Value = serde_json::from_slice(bytes).map_err(|e| KeyError::Jwks {
        what: what.to_string(),
        message: format!("not valid JSON: {e}"),
    })?;
    let Some(list) = set.get("keys").and_then(Value::as_array) else {
        return Err(KeyError::Jwks {
            what: what.to_string(),
            message: "not a JWK Set: expected an object with a \"keys\" array".into(),
        });
    };
    Ok(list
        .iter()
        .enumerate()
        .map(|(i, jwk)| decode_jwk(jwk, &format!("{what} keys[{i}]"), default_alg, source))
        .collect())
}

/// A string member; `Err` when present but not a string.
fn member<'v>(jwk: &'v Value, name: &str) -> Result<Option<&'v str>, String> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("\"{name}\" must be a string")),
    }
}

fn bytes_of(jwk: &Value, name: &str) -> Result<Vec<u8>, String> {
    let text = member(jwk, name)?.ok_or_else(|| format!("missing \"{name}\""))?;
    B64URL
        .decode(text)
        .map_err(|e| format!("\"{name}\" is not base64url: {e}"))
}

fn decode_jwk(
    jwk: &Value,
    what: &str,
    default_alg: Option<Algorithm>,
    source: &Arc<str>,
) -> Result<Jwk, KeyError> {
    let jwks_err = |message: String| KeyError::Jwks {
        what: what.to_string(),
        message,
    };
    if !jwk.is_object() {
        return Err(jwks_err("a JWK must be a JSON object".into()));
    }
    let kty = member(jwk, "kty")
        .map_err(jwks_err)?
        .ok_or_else(|| jwks_err("missing \"kty\"".into()))?;
    let kid = match member(jwk, "kid").map_err(jwks_err)? {
        Some("") => return Err(jwks_err("\"kid\" is empty".into())),
        other => other.map(str::to_string),
    };
    let named = match &kid {
        Some(k) => format!("{what} (kid {k:?})"),
        None => what.to_string(),
    };
    let err = |message: String| KeyError::Jwks {
        what: named.clone(),
        message,
    };
    if let Some(usage) = member(jwk, "use").map_err(err)? {
        if usage != "sig" {
            return Ok(Jwk::Skipped(format!(
                "{named}: \"use\" is {usage:?}, not \"sig\""
            )));
        }
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|a| a.iter().any(|op| op == "verify"));
        if !verifies {
            return Ok(Jwk::Skipped(format!(
                "{named}: \"key_ops\" does not include \"verify\""
            )));
        }
    }
    if kty != "oct" && jwk.get("d").is_some() {
        return Err(KeyError::BadKey {
            what: named,
            message: "a private JWK (it has \"d\"): publish or mount only public keys".into(),
        });
    }
    let alg = match member(jwk, "alg").map_err(err)? {
        Some(name) => Some(Algorithm::from_name(name).ok_or_else(|| {
            err(format!(
                "alg {name:?} is not supported: use one of {}",
                Algorithm::names()
            ))
        })?),
        None => None,
    };
    let bad = |message: String| KeyError::BadKey {
        what: named.clone(),
        message,
    };
    let (material, family_alg) = match kty {
        "oct" => {
            let secret = bytes_of(jwk, "k").map_err(err)?;
            (
                Material::Secret(secret),
                default_alg.filter(|a| a.is_hmac()),
            )
        }
        "RSA" => {
            let key = PublicKey::rsa(
                &bytes_of(jwk, "n").map_err(err)?,
                &bytes_of(jwk, "e").map_err(err)?,
            )
            .map_err(bad)?;
            (
                Material::Public(key),
                default_alg.filter(|a| a.family() == Family::Rsa),
            )
        }
        "EC" => {
            let curve = match member(jwk, "crv").map_err(err)? {
                Some("P-256") => Curve::P256,
                Some("P-384") => Curve::P384,
                Some("P-521") => Curve::P521,
                Some(other) => {
                    return Err(err(format!(
                        "crv {other:?} is not supported: use P-256, P-384 or P-521"
                    )))
                }
                None => return Err(err("missing \"crv\"".into())),
            };
            let x = bytes_of(jwk, "x").map_err(err)?;
            let y = bytes_of(jwk, "y").map_err(err)?;
            let key = PublicKey::ec(curve, &x, &y).map_err(bad)?;
            (Material::Public(key), Some(curve.algorithm()))
        }
        "OKP" => {
            match member(jwk, "crv").map_err(err)? {
                Some("Ed25519") => {}
                Some(other) => {
                    return Err(err(format!("crv {other:?} is not supported: use Ed25519")))
                }
                None => return Err(err("missing \"crv\"".into())),
            }
            let key = PublicKey::ed25519(&bytes_of(jwk, "x").map_err(err)?).map_err(bad)?;
            (Material::Public(key), Some(Algorithm::EdDSA))
        }
        other => {
            return Err(err(format!(
                "kty {other:?} is not supported: use oct, RSA, EC or OKP"
            )))
        }
    };
    let family = match &material {
        Material::Secret(_) => Family::Hmac,
        Material::Public(p) => p.family(),
    };
    let alg = match alg.or(family_alg) {
        Some(a) if a.family() == family => a,
        Some(a) => {
            return Err(err(format!(
                "alg {a} does not fit a {} key",
                material.describe()
            )))
        }
        None => {
            return Err(err(format!(
                "missing \"alg\": name it in the JWK, or set keys[].algorithm as the default for {} keys",
                if family == Family::Hmac { "oct" } else { "RSA" }
            )))
        }
    };
    if let Material::Secret(secret) = &material {
        validate_key_len(&named, alg, secret.len())?;
    }
    let kid = kid.unwrap_or_else(|| thumbprint(jwk, &material));
    Ok(Jwk::Key(LoadedKey {
        kid,
        alg,
        material,
        source: source.clone(),
        warnings: Vec::new(),
    }))
}

/// The RFC 7638 thumbprint of a JWK (the default kid).
fn thumbprint(jwk: &Value, material: &Material) -> String {
    match material {
        Material::Public(p) => p.thumbprint(),
        Material::Secret(_) => {
            let k = jwk.get("k").and_then(Value::as_str).unwrap_or_default();
            let canonical = format!(r#"{{"k":"{k}","kty":"oct"}}"#);
            URL_SAFE_NO_PAD.encode(Sha256::digest(canonical))
        }
    }
}

#[cfg(test)]
mod tests {
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
    }

    #[test]
    fn file_level_errors() {
        let err = run(&[("x.json", "{".into())]).unwrap_err().to_string();
        assert!(err.contains("/jwks/x.json: not valid JSON"), "{err}");
        let err = run(&[("x.json", "[]".into())]).unwrap_err().to_string();
        assert!(err.contains("not a JWK Set"), "{err}");
    }
}
