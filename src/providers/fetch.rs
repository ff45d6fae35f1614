//! One fetch of a provider's keys: the discovery document (when `discovery: true`; its
//! `issuer` must be the provider's exactly, its `jwks_uri` an allowed URL), then the JWK Set
//! (with `If-None-Match` when an `ETag` is known). JWKs that cannot be used are skipped one by
//! one; a set with no usable key is refused, so the last good keys stay.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use super::http::{Answer, HttpClient, HttpError};
use crate::config::{check_url, JwksLocation, Provider, Remote};
use crate::keys::{decode_jwk_set, Algorithm, Jwk, KeySet, Material};

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The discovery document could not be fetched or used.
    #[error("discovery {url}: {message}")]
    Discovery {
        /// The document's URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The JWK Set could not be fetched.
    #[error("JWK Set {url}: {source}")]
    Http {
        /// The set's URL.
        url: String,
        /// What went wrong.
        source: HttpError,
    },
    /// The JWK Set could not be used.
    #[error("JWK Set {url}: {message}")]
    Jwks {
        /// The set's URL.
        url: String,
        /// What is wrong.
        message: String,
    },
}

/// A usable JWK Set.
#[derive(Debug)]
pub struct Decoded {
    /// The keys, prepared.
    pub set: Arc<KeySet>,
    /// JWKs skipped because they could not be used (each logged).
    pub invalid: usize,
}

/// What a fetch found.
#[derive(Debug)]
pub enum Fetched {
    /// 304: the set in force is current.
    NotModified {
        /// `Cache-Control: max-age`.
        max_age: Option<Duration>,
    },
    /// A set was read.
    New {
        /// Its keys.
        decoded: Decoded,
        /// The body as served (for `cache_dir`).
        body: Bytes,
        /// Where it came from.
        jwks_uri: String,
        /// Its `ETag`.
        etag: Option<String>,
        /// `Cache-Control: max-age`.
        max_age: Option<Duration>,
    },
}

/// The JWK Set's URL: fixed, or from the discovery document.
pub async fn jwks_uri(
    client: &HttpClient,
    provider: &Provider,
    remote: &Remote,
) -> Result<String, FetchError> {
    let issuer = provider.issuer.as_deref().unwrap_or_default();
    let url = match &remote.location {
        JwksLocation::Uri(u) => return Ok(u.clone()),
        JwksLocation::Discovery => remote.first_url(issuer),
    };
    let fail = |message: String| FetchError::Discovery {
        url: url.clone(),
        message,
    };
    let body = match client
        .get(&url, None)
        .await
        .map_err(|e| fail(e.to_string()))?
    {
        Answer::Body { bytes, .. } => bytes,
        Answer::NotModified { .. } => return Err(fail("unexpected 304".into())),
    };
    let doc: Value =
        serde_json::from_slice(&body).map_err(|e| fail(format!("not valid JSON: {e}")))?;
    match doc.get("issuer").and_then(Value::as_str) {
        Some(i) if i == issuer => {}
        Some(other) => {
            return Err(fail(format!(
                "the document's issuer {other:?} is not the provider's {issuer:?} (OpenID Connect Discovery §4.3)"
            )))
        }
        None => return Err(fail("the document has no issuer".into())),
    }
    let uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("the document has no jwks_uri".into()))?;
    check_url(uri, remote.allow_http).map_err(|m| fail(format!("jwks_uri: {m}")))?;
    Ok(uri.to_string())
}

/// Fetches the provider's keys (`etag`: the last set's, for a conditional GET).
pub async fn fetch(
    client: &HttpClient,
    provider: &Provider,
    remote: &Remote,
    etag: Option<&str>,
) -> Result<Fetched, FetchError> {
    let jwks_uri = jwks_uri(client, provider, remote).await?;
    let answer = client
        .get(&jwks_uri, etag)
        .await
        .map_err(|source| FetchError::Http {
            url: jwks_uri.clone(),
            source,
        })?;
    match answer {
        Answer::NotModified { max_age } => Ok(Fetched::NotModified { max_age }),
        Answer::Body {
            bytes,
            etag,
            max_age,
        } => {
            let decoded =
                decode(&bytes, &jwks_uri, &provider.name).map_err(|message| FetchError::Jwks {
                    url: jwks_uri.clone(),
                    message,
                })?;
            Ok(Fetched::New {
                decoded,
                body: bytes,
                jwks_uri,
                etag,
                max_age,
            })
        }
    }
}

/// Decodes a fetched (or cached) JWK Set: bad JWKs skipped one by one and logged, secrets
/// (`kty: oct`) never used, a repeated kid kept once; no usable key is an error. RSA keys
/// without `alg` verify RS256 (what Entra ID, Google and Auth0 sign with; they omit `alg`).
pub fn decode(bytes: &[u8], jwks_uri: &str, provider: &str) -> Result<Decoded, String> {
    let label: Arc<str> = Arc::from(jwks_uri);
    // Secrets first, by kty, whatever their alg: a published secret is no secret.
    let mut set: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("{jwks_uri}: not valid JSON: {e}"))?;
    let mut invalid = 0;
    if let Some(list) = set.get_mut("keys").and_then(Value::as_array_mut) {
        list.retain(|jwk| {
            let secret = jwk.get("kty").and_then(Value::as_str) == Some("oct");
            if secret {
                invalid += 1;
                let kid = jwk.get("kid").and_then(Value::as_str).unwrap_or("");
                tracing::warn!(
                    provider,
                    kid,
                    "JWK skipped: a secret (kty oct) published in a JWK Set is never used"
                );
            }
            !secret
        });
    }
    let bytes = serde_json::to_vec(&set).map_err(|e| e.to_string())?;
    let jwks = decode_jwk_set(&bytes, jwks_uri, Some(Algorithm::RS256), &label)
        .map_err(|e| e.to_string())?;
    let total = jwks.len() + invalid;
    let mut keys = Vec::with_capacity(total);
    let mut kids = HashSet::new();
    for jwk in jwks {
        match jwk {
            Ok(Jwk::Key(k)) if matches!(k.material, Material::Secret(_)) => {
                invalid += 1;
                tracing::warn!(provider, kid = %k.kid, "JWK skipped: a secret published in a JWK Set is never used");
            }
            Ok(Jwk::Key(k)) if !kids.insert(k.kid.clone()) => {
                invalid += 1;
                tracing::warn!(provider, kid = %k.kid, "JWK skipped: its kid is already in the set");
            }
            Ok(Jwk::Key(k)) => keys.push(k),
            Ok(Jwk::Skipped(why)) => {
                tracing::debug!(provider, key = %why, "JWK not for verification: skipped")
            }
            Err(e) => {
                invalid += 1;
                tracing::warn!(provider, error = %e, "JWK skipped: it cannot be used (the others are)");
            }
        }
    }
    if keys.is_empty() {
        return Err(if total == 0 {
            "the set is empty (keeping the keys in force)".into()
        } else {
            format!("none of its {total} keys can verify tokens (keeping the keys in force)")
        });
    }
    let set = KeySet::new(label, keys).map_err(|e| e.to_string())?;
    Ok(Decoded {
        set: Arc::new(set),
        invalid,
    })
}
