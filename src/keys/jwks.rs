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

/// The longest kid a JWK may have.
pub const MAX_KID_BYTES: usize = 256;

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
        // A kid is a metric label and appears in logs: bounded, and free of control
        // characters (a JWK Set may come from a remote identity provider).
        Some(k) if k.len() > MAX_KID_BYTES => {
            return Err(jwks_err(format!(
                "\"kid\" is longer than {MAX_KID_BYTES} bytes"
            )))
        }
        Some(k) if k.chars().any(char::is_control) => {
            return Err(jwks_err("\"kid\" has a control character".into()))
        }
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
mod tests;
