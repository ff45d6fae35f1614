//! `jwt-authz token`: mints a token with a configured key: HMAC keys through the jsonwebtoken
//! crate, public keys with their private half (`--private-key`), signed by aws-lc-rs.

use std::process::ExitCode;

use serde_json::{Map, Value};

use super::{say, CommandError, Output};
use crate::authz::unix_now;
use crate::cli::TokenArgs;
use crate::config::Config;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::keys::{self, LoadedKey, Material, PrivateKey};

/// Prints one token on stdout.
pub fn run(args: &TokenArgs) -> Result<ExitCode, CommandError> {
    let config = Config::load(&args.config.config)?;
    let loaded = keys::load_sources(&config.keys, &config.limits)?;
    let claims = claims(&config, args, unix_now())?;
    let token = match &args.private_key {
        Some(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| CommandError::Other(format!("{}: {e}", path.display())))?;
            let private = PrivateKey::from_pem(&pem)
                .map_err(|e| CommandError::Other(format!("{}: {e}", path.display())))?;
            let thumbprint = private.public().thumbprint();
            let key = loaded
                .iter()
                .filter(|k| args.kid.as_ref().is_none_or(|kid| *kid == k.kid))
                .find(
                    |k| matches!(&k.material, Material::Public(p) if p.thumbprint() == thumbprint),
                )
                .ok_or_else(|| {
                    CommandError::Other(format!(
                        "{}: its public key (thumbprint {thumbprint}) is not a configured key{}",
                        path.display(),
                        args.kid
                            .as_ref()
                            .map_or(String::new(), |k| format!(" with kid {k:?}"))
                    ))
                })?;
            sign_public(&private, key, &claims)?
        }
        None => {
            let key = match &args.kid {
                Some(kid) => loaded
                    .iter()
                    .find(|k| &k.kid == kid)
                    .ok_or_else(|| CommandError::Other(format!("no key with kid {kid:?}")))?,
                None => loaded
                    .iter()
                    .find(|k| matches!(k.material, Material::Secret(_)))
                    .ok_or_else(|| {
                        CommandError::Other(
                            "no HMAC key loaded: pass --private-key for a public key".into(),
                        )
                    })?,
            };
            let Material::Secret(secret) = &key.material else {
                return Err(CommandError::Other(format!(
                    "kid {:?} is a public key: pass its private half with --private-key",
                    key.kid
                )));
            };
            sign_hmac(key, secret, &claims)?
        }
    };
    let mut out = Output::default();
    say!(out, "{token}");
    out.emit()?;
    Ok(ExitCode::SUCCESS)
}

fn claims(config: &Config, args: &TokenArgs, now: u64) -> Result<Value, CommandError> {
    let mut claims = Map::new();
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + args.ttl.as_secs()).into());
    let iss = args
        .iss
        .clone()
        .or_else(|| config.jwt.issuers.first().cloned());
    let aud = args
        .aud
        .clone()
        .or_else(|| config.jwt.audiences.first().cloned());
    for (name, value) in [
        ("iss", iss),
        ("aud", aud),
        ("sub", args.sub.clone()),
        ("scope", args.scope.clone()),
    ] {
        if let Some(v) = value {
            claims.insert(name.into(), Value::String(v));
        }
    }
    for c in &args.claims {
        let (name, raw) = c
            .split_once('=')
            .ok_or_else(|| CommandError::Other(format!("--claim {c:?}: write name=value")))?;
        let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
        claims.insert(name.to_string(), value);
    }
    Ok(Value::Object(claims))
}

fn sign_hmac(key: &LoadedKey, secret: &[u8], claims: &Value) -> Result<String, CommandError> {
    let alg = key
        .alg
        .to_jsonwebtoken()
        .ok_or_else(|| CommandError::Other(format!("{} is not an HMAC", key.alg)))?;
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = Some(key.kid.clone());
    let encoding = jsonwebtoken::EncodingKey::from_secret(secret)
        .map_err(|e| CommandError::Other(format!("key {:?}: {e}", key.kid)))?;
    jsonwebtoken::encode(&header, claims, &encoding)
        .map_err(|e| CommandError::Other(format!("cannot sign: {e}")))
}

fn sign_public(
    private: &PrivateKey,
    key: &LoadedKey,
    claims: &Value,
) -> Result<String, CommandError> {
    let b64 = |v: &[u8]| URL_SAFE_NO_PAD.encode(v);
    let header = serde_json::json!({"alg": key.alg.name(), "typ": "JWT", "kid": key.kid});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = private
        .sign(key.alg, input.as_bytes())
        .map_err(CommandError::Other)?;
    Ok(format!("{input}.{}", b64(&signature)))
}
