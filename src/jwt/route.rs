//! A token no key could be tried for (an unknown kid, no key of its alg, or a bad signature
//! under a kid only another provider has), routed to a provider by its unverified `iss`. The
//! `iss` only chooses which provider's miss it is (UNAVAILABLE for a provider without keys, an
//! unknown-kid refetch for a remote one); it never makes anything trusted.

use super::verify::fail;
use super::{b64, Claims, KeyMiss, TokenError};
use crate::config::{JwtSettings, Limits};
use crate::keys::KeyRing;
use crate::reason::DenyReason;

/// No key could be tried: reads the token's `iss` (unverified: it only chooses which provider
/// the miss is reported for, never what is trusted) when there are named providers.
/// A bad signature under a kid that the token's own provider lacks (another provider's key
/// with the same kid was tried) is that provider's unknown kid.
pub(super) fn route_miss(
    e: TokenError,
    kid: Option<&str>,
    payload_b64: &str,
    ring: &KeyRing,
    s: &JwtSettings,
    limits: &Limits,
) -> TokenError {
    if s.providers.iter().all(|p| p.issuer.is_none()) {
        return e;
    }
    let iss = (payload_b64.len() / 4 * 3 <= limits.max_claims_bytes)
        .then(|| b64::decode_vec(payload_b64.as_bytes()))
        .flatten()
        .and_then(|payload| Claims::parse(payload, limits.max_claims_depth).ok());
    let Some(claims) = iss else { return e };
    let iss = claims
        .root()
        .get("iss")
        .and_then(|v| v.as_str().map(|s| s.to_string()));
    let provider = match iss.as_deref().and_then(|i| s.provider_of(i)) {
        Some(p) => p,
        None => match s.implicit() {
            Some(p) => p,
            None if e.reason == DenyReason::BadSignature => return e,
            None => {
                return fail(
                    DenyReason::BadIssuer,
                    "iss is not the issuer of any provider",
                )
            }
        },
    };
    let kid_absent = kid.is_some_and(|k| ring.get_in(provider, k).is_none());
    let e = match e.reason {
        DenyReason::BadSignature if kid_absent => fail(
            DenyReason::UnknownKid,
            "no key of the token's issuer has its kid",
        ),
        DenyReason::BadSignature => return e,
        _ => e,
    };
    let miss = if ring.provider_len(provider) == 0 {
        KeyMiss::NoKeys(provider)
    } else if s.providers[provider].remote.is_some() && e.reason == DenyReason::UnknownKid {
        KeyMiss::UnknownKid(provider)
    } else {
        return e;
    };
    TokenError {
        miss: Some(miss),
        ..e
    }
}
