//! `format: jwks`: every `*.json` file is a JWK Set (RFC 7517). Only symmetric keys
//! (`kty: oct`) are accepted, each with a `kid` and an `alg` that pins its algorithm.

use std::sync::Arc;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde_json::Value;

use super::{validate_key_len, Algorithm, DirSnapshot, KeyError, LoadedKey};

const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes every `*.json` file of the snapshot (public for the fuzzers).
pub fn decode(snapshot: &DirSnapshot, source: &Arc<str>) -> Result<Vec<LoadedKey>, KeyError> {
    let mut keys = Vec::new();
    for file in snapshot.files.iter().filter(|f| f.name.ends_with(".json")) {
        let file_name = file.path.display().to_string();
        let set: Value = serde_json::from_slice(&file.bytes).map_err(|e| KeyError::Jwks {
            what: file_name.clone(),
            message: format!("not valid JSON: {e}"),
        })?;
        let Some(list) = set.get("keys").and_then(Value::as_array) else {
            return Err(KeyError::Jwks {
                what: file_name,
                message: "not a JWK Set: expected an object with a \"keys\" array".into(),
            });
        };
        for (i, jwk) in list.iter().enumerate() {
            let what = format!("{file_name} keys[{i}]");
            keys.push(decode_jwk(jwk, &what, source)?);
        }
    }
    Ok(keys)
}

fn decode_jwk(jwk: &Value, what: &str, source: &Arc<str>) -> Result<LoadedKey, KeyError> {
    let err = |message: String| KeyError::Jwks {
        what: what.to_string(),
        message,
    };
    let field = |name: &str| -> Result<Option<&str>, KeyError> {
        match jwk.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(err(format!("\"{name}\" must be a string"))),
        }
    };
    if !jwk.is_object() {
        return Err(err("a JWK must be a JSON object".into()));
    }
    match field("kty")? {
        Some("oct") => {}
        Some(other) => {
            return Err(err(format!(
                "kty {other:?} is not supported: only symmetric keys (kty \"oct\")"
            )))
        }
        None => return Err(err("missing \"kty\"".into())),
    }
    let kid = match field("kid")? {
        Some(k) if !k.is_empty() => k.to_string(),
        _ => {
            return Err(err(
                "missing \"kid\" (required so tokens can name the key)".into()
            ))
        }
    };
    let what = format!("{what} (kid {kid:?})");
    let err = |message: String| KeyError::Jwks {
        what: what.clone(),
        message,
    };
    let alg = match field("alg")? {
        Some(name) => Algorithm::from_name(name).ok_or_else(|| {
            err(format!(
                "alg {name:?} is not supported: use HS256, HS384 or HS512"
            ))
        })?,
        None => {
            return Err(err(
                "missing \"alg\" (required: it pins the key's algorithm)".into(),
            ))
        }
    };
    if let Some(usage) = field("use")? {
        if usage != "sig" {
            return Err(err(format!(
                "\"use\" is {usage:?}; a verification key needs \"sig\""
            )));
        }
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|a| a.iter().any(|op| op == "verify"));
        if !verifies {
            return Err(err("\"key_ops\" does not include \"verify\"".into()));
        }
    }
    let k = field("k")?.ok_or_else(|| err("missing \"k\" (the key value)".into()))?;
    let secret = B64URL
        .decode(k)
        .map_err(|e| err(format!("\"k\" is not base64url: {e}")))?;
    validate_key_len(&what, alg, secret.len())?;
    Ok(LoadedKey {
        kid,
        alg,
        secret,
        source: source.clone(),
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::DirFile;
    use serde_json::json;
    use std::path::PathBuf;

    fn k64() -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([9u8; 64])
    }

    fn run(files: &[(&str, String)]) -> Result<Vec<LoadedKey>, KeyError> {
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
        decode(&snapshot, &Arc::from("/jwks"))
    }

    fn one(jwk: Value) -> Result<Vec<LoadedKey>, KeyError> {
        run(&[("set.json", json!({ "keys": [jwk] }).to_string())])
    }

    #[test]
    fn loads_oct_keys_and_ignores_non_json_files() {
        let keys = run(&[
            (
                "a.json",
                json!({"keys": [
                    {"kty": "oct", "kid": "k1", "alg": "HS256", "k": k64(), "use": "sig"},
                    {"kty": "oct", "kid": "k2", "alg": "HS512", "k": k64(), "key_ops": ["verify", "sign"]}
                ]})
                .to_string(),
            ),
            ("README", "not json".into()),
        ])
        .unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(
            (keys[0].kid.as_str(), keys[0].alg),
            ("k1", Algorithm::HS256)
        );
        assert_eq!(
            (keys[1].kid.as_str(), keys[1].alg),
            ("k2", Algorithm::HS512)
        );
    }

    #[test]
    fn every_defect_is_named() {
        let k = k64();
        let cases = [
            (
                json!({"kty": "RSA", "kid": "a", "alg": "RS256"}),
                "kty \"RSA\" is not supported",
            ),
            (
                json!({"kid": "a", "alg": "HS256", "k": k}),
                "missing \"kty\"",
            ),
            (
                json!({"kty": "oct", "alg": "HS256", "k": k}),
                "missing \"kid\"",
            ),
            (
                json!({"kty": "oct", "kid": "", "alg": "HS256", "k": k}),
                "missing \"kid\"",
            ),
            (json!({"kty": "oct", "kid": "a", "k": k}), "missing \"alg\""),
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
                json!({"kty": "oct", "kid": "a", "alg": "HS256", "k": k, "use": "enc"}),
                "needs \"sig\"",
            ),
            (
                json!({"kty": "oct", "kid": "a", "alg": "HS256", "k": k, "key_ops": ["sign"]}),
                "key_ops",
            ),
            (
                json!({"kty": "oct", "kid": 5, "alg": "HS256", "k": k}),
                "\"kid\" must be a string",
            ),
            (
                json!({"kty": "oct", "kid": "a", "alg": "HS512", "k": "AAAA"}),
                "too short for HS512",
            ),
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
