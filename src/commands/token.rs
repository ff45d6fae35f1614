//! `jwt-authz token`: mints a token with a configured key, using the jsonwebtoken crate (an
//! implementation independent of our verifier).

use std::process::ExitCode;

use serde_json::{Map, Value};

use super::{say, CommandError, Output};
use crate::authz::unix_now;
use crate::cli::TokenArgs;
use crate::config::Config;
use crate::keys::{self, LoadedKey};

/// Prints one token on stdout.
pub fn run(args: &TokenArgs) -> Result<ExitCode, CommandError> {
    let config = Config::load(&args.config.config)?;
    let loaded = keys::load_sources(&config.keys, &config.limits)?;
    let key: &LoadedKey = match &args.kid {
        Some(kid) => loaded
            .iter()
            .find(|k| &k.kid == kid)
            .ok_or_else(|| CommandError::Other(format!("no key with kid {kid:?}")))?,
        None => loaded
            .first()
            .ok_or_else(|| CommandError::Other("no keys loaded: nothing to sign with".into()))?,
    };
    let mut out = Output::default();
    say!(out, "{}", mint(key, &config, args, unix_now())?);
    out.emit()?;
    Ok(ExitCode::SUCCESS)
}

fn mint(
    key: &LoadedKey,
    config: &Config,
    args: &TokenArgs,
    now: u64,
) -> Result<String, CommandError> {
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
    let mut header = jsonwebtoken::Header::new(key.alg.to_jsonwebtoken());
    header.kid = Some(key.kid.clone());
    let encoding = jsonwebtoken::EncodingKey::from_secret(&key.secret)
        .map_err(|e| CommandError::Other(format!("key {:?}: {e}", key.kid)))?;
    jsonwebtoken::encode(&header, &Value::Object(claims), &encoding)
        .map_err(|e| CommandError::Other(format!("cannot sign: {e}")))
}
