//! Compact JWS verification, strict by default: canonical base64url, the header's `alg` must be
//! the algorithm its key is pinned to, the signature is checked before the claims are parsed,
//! and time, issuer, audience and lifetime rules apply with the configured leeway.
//!
//! Providers: the key that verifies the signature decides the provider, whose issuer the
//! token's `iss` must then be (a key verifies only its own provider's tokens; two providers
//! may share a kid, so each key with the kid is tried, at most one per provider). Only when no
//! key can be tried is the unverified `iss` read, to route the miss: to a provider without
//! keys (UNAVAILABLE), to a remote provider (an unknown-kid refetch may help), or nowhere
//! (`bad_issuer`).

use super::{b64, header, ClaimValue, Claims, ClaimsError, Times, TokenError, ValueKind, Verified};
use crate::config::{JwtSettings, Limits, Provider};
use crate::keys::{Algorithm, Key, KeyRing};
use crate::reason::DenyReason;

/// Most keys a token without a kid is tried against: beyond this, trying them all would let
/// one forged token cost that many signature checks.
pub const MAX_KIDLESS_CANDIDATES: usize = 16;

/// The longest signature: RSA-8192's 1,024 bytes.
const MAX_SIGNATURE_BYTES: usize = 1024;

/// Largest decoded header accepted (real ones are under 100 bytes).
const MAX_HEADER_BYTES: usize = 1024;

pub(super) fn fail(reason: DenyReason, detail: &'static str) -> TokenError {
    TokenError {
        reason,
        detail,
        miss: None,
    }
}

/// The three parts of a compact JWS; JWE (five parts) and other shapes are refused.
fn split(token: &str) -> Result<(&str, &str, &str), TokenError> {
    let shape = || {
        fail(
            DenyReason::Malformed,
            "not a compact JWS (expected header.payload.signature)",
        )
    };
    let bytes = token.as_bytes();
    let first = memchr::memchr(b'.', bytes).ok_or_else(shape)?;
    let second = first + 1 + memchr::memchr(b'.', &bytes[first + 1..]).ok_or_else(shape)?;
    let signature = &token[second + 1..];
    match memchr::memchr_iter(b'.', signature.as_bytes()).count() {
        0 => Ok((&token[..first], &token[first + 1..second], signature)),
        2 => Err(fail(
            DenyReason::Malformed,
            "encrypted tokens (JWE) are not accepted",
        )),
        _ => Err(shape()),
    }
}

/// Verifies `token` against `ring` and the claim rules. `now` is Unix time in seconds.
pub fn verify<'r, 't>(
    token: &'t str,
    ring: &'r KeyRing,
    settings: &JwtSettings,
    limits: &Limits,
    now: u64,
) -> Result<Verified<'r, 't>, TokenError> {
    use DenyReason::*;
    if token.len() > settings.max_token_bytes {
        return Err(fail(
            TokenTooLarge,
            "token is longer than jwt.max_token_bytes",
        ));
    }
    let (header_b64, payload_b64, signature_b64) = split(token)?;
    let mut header_buf = [0u8; MAX_HEADER_BYTES];
    if header_b64.len() > MAX_HEADER_BYTES / 3 * 4 {
        return Err(fail(Malformed, "header is too large"));
    }
    let n = b64::decode_into(header_b64.as_bytes(), &mut header_buf)
        .ok_or_else(|| fail(Malformed, "header is not canonical base64url"))?;
    let header = header::parse(&header_buf[..n]).map_err(|d| fail(Malformed, d))?;
    if let Some(why) = header.forbidden {
        return Err(fail(Malformed, why));
    }
    let alg = match header.alg.as_deref() {
        None => return Err(fail(Malformed, "header has no alg")),
        Some("none") => return Err(fail(UnsupportedAlg, "alg none is never accepted")),
        Some(name) => Algorithm::from_name(name)
            .ok_or_else(|| fail(UnsupportedAlg, "alg is not a supported JWS algorithm"))?,
    };

    let mut sig_buf = [0u8; MAX_SIGNATURE_BYTES];
    if signature_b64.is_empty() {
        return Err(fail(Malformed, "token is unsigned"));
    }
    if signature_b64.len() > MAX_SIGNATURE_BYTES.div_ceil(3) * 4 {
        return Err(fail(BadSignature, "signature has the wrong length"));
    }
    let sig_len = b64::decode_into(signature_b64.as_bytes(), &mut sig_buf)
        .ok_or_else(|| fail(Malformed, "signature is not canonical base64url"))?;
    let signature = &sig_buf[..sig_len];
    let wrong_length = || fail(BadSignature, "signature has the wrong length");
    let signing_input = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];

    let kid = header.kid.as_deref();
    let miss =
        |e: TokenError| super::route::route_miss(e, kid, payload_b64, ring, settings, limits);
    let key: &Key = match kid {
        Some(kid) => {
            let with_kid = ring.with_kid(kid);
            if with_kid.len() == 0 {
                return Err(miss(fail(UnknownKid, "no key with the token's kid")));
            }
            let mut pinned = with_kid.filter(|k| k.alg == alg).peekable();
            if pinned.peek().is_none() {
                return Err(fail(
                    UnsupportedAlg,
                    "alg differs from the algorithm the key is pinned to",
                ));
            }
            let mut fitting = pinned.filter(|k| k.signature_len() == sig_len).peekable();
            if fitting.peek().is_none() {
                return Err(wrong_length());
            }
            fitting
                .find(|k| k.verify(signing_input, signature))
                .ok_or_else(|| miss(fail(BadSignature, "signature does not verify")))?
        }
        None if settings.require_kid => {
            return Err(fail(UnknownKid, "token has no kid (jwt.require_kid)"))
        }
        None => {
            let candidates = ring.with_alg(alg);
            match candidates.len() {
                0 => {
                    return Err(miss(fail(
                        UnsupportedAlg,
                        "no key is pinned to the token's alg",
                    )))
                }
                n if n > MAX_KIDLESS_CANDIDATES => {
                    return Err(fail(
                        UnknownKid,
                        "token has no kid and more than 16 keys use its alg",
                    ))
                }
                _ => {}
            }
            let mut fitting = candidates
                .filter(|k| k.signature_len() == sig_len)
                .peekable();
            if fitting.peek().is_none() {
                return Err(wrong_length());
            }
            fitting
                .find(|k| k.verify(signing_input, signature))
                .ok_or_else(|| fail(BadSignature, "signature does not verify with any key"))?
        }
    };

    // Only a token signed by one of our keys gets its claims parsed.
    if payload_b64.len() / 4 * 3 > limits.max_claims_bytes {
        return Err(fail(
            Malformed,
            "claims are larger than limits.max_claims_bytes",
        ));
    }
    let payload = b64::decode_vec(payload_b64.as_bytes())
        .ok_or_else(|| fail(Malformed, "payload is not canonical base64url"))?;
    let claims = Claims::parse(payload, limits.max_claims_depth).map_err(|e| match e {
        ClaimsError::Duplicate => fail(Malformed, "duplicate member in claims"),
        ClaimsError::TooDeep => fail(
            Malformed,
            "claims are nested deeper than limits.max_claims_depth",
        ),
        ClaimsError::Invalid => fail(Malformed, "claims are not a JSON object"),
    })?;
    let times = check_claims(&claims, settings, settings.providers.get(key.provider), now)?;
    Ok(Verified {
        key,
        claims: std::sync::Arc::new(claims),
        payload_b64,
        times,
    })
}

/// The registered claims (RFC 7519 §4.1), found in one pass over the top-level members and
/// type-checked whether or not a check uses them: `iss`, `sub`, `jti` are strings, `aud` a
/// string or an array of strings, `exp`, `nbf`, `iat` NumericDates (numbers from 0 to 2^53).
/// Anything else, `null` included, is `malformed`: every reader of the token must agree on
/// what these claims say (google/jwt_verify_lib refuses the same).
#[derive(Default)]
struct Registered<'c> {
    exp: Option<f64>,
    nbf: Option<f64>,
    iat: Option<f64>,
    iss: Option<ClaimValue<'c>>,
    aud: Option<ClaimValue<'c>>,
}

/// The largest NumericDate accepted: 2^53, the last integer an f64 holds exactly.
const MAX_NUMERIC_DATE: f64 = 9_007_199_254_740_992.0;

impl<'c> Registered<'c> {
    fn collect(claims: &'c Claims) -> Result<Self, TokenError> {
        let mut r = Registered::default();
        for (key, value) in claims.root().members() {
            match &*key {
                "exp" => {
                    r.exp = Some(numeric_date(
                        value,
                        "exp is not a NumericDate (a number from 0 to 2^53)",
                    )?)
                }
                "nbf" => {
                    r.nbf = Some(numeric_date(
                        value,
                        "nbf is not a NumericDate (a number from 0 to 2^53)",
                    )?)
                }
                "iat" => {
                    r.iat = Some(numeric_date(
                        value,
                        "iat is not a NumericDate (a number from 0 to 2^53)",
                    )?)
                }
                "iss" => r.iss = Some(string(value, "iss is not a string")?),
                "sub" => drop(string(value, "sub is not a string")?),
                "jti" => drop(string(value, "jti is not a string")?),
                "aud" => {
                    let ok = match value.kind() {
                        ValueKind::String => true,
                        ValueKind::Array => value.elements().all(|a| a.kind() == ValueKind::String),
                        _ => false,
                    };
                    if !ok {
                        return Err(fail(
                            DenyReason::Malformed,
                            "aud is neither a string nor an array of strings",
                        ));
                    }
                    r.aud = Some(value);
                }
                _ => {}
            }
        }
        Ok(r)
    }
}

/// A NumericDate in range; integers are checked exactly (an f64 would round 2^53 + 1 down).
fn numeric_date(v: ClaimValue<'_>, detail: &'static str) -> Result<f64, TokenError> {
    let in_range = match v.as_i64() {
        Some(i) => (0..=MAX_NUMERIC_DATE as i64).contains(&i),
        None => v
            .as_f64()
            .is_some_and(|t| (0.0..=MAX_NUMERIC_DATE).contains(&t)),
    };
    match v.as_f64() {
        Some(t) if in_range => Ok(t),
        _ => Err(fail(DenyReason::Malformed, detail)),
    }
}

fn string<'c>(v: ClaimValue<'c>, detail: &'static str) -> Result<ClaimValue<'c>, TokenError> {
    if v.kind() == ValueKind::String {
        Ok(v)
    } else {
        Err(fail(DenyReason::Malformed, detail))
    }
}

/// `exp` (expired on or after it, RFC 7519 §4.1.4) and `nbf`, with the leeway: the checks that
/// depend on the clock, run again whenever the verified-token cache answers.
pub(crate) fn check_times(t: Times, leeway: f64, now: f64) -> Result<(), TokenError> {
    if t.exp.is_some_and(|exp| now >= exp + leeway) {
        return Err(fail(DenyReason::Expired, "token has expired"));
    }
    if t.nbf.is_some_and(|nbf| nbf > now + leeway) {
        return Err(fail(
            DenyReason::NotYetValid,
            "token is not valid yet (nbf)",
        ));
    }
    Ok(())
}

fn check_claims(
    claims: &Claims,
    s: &JwtSettings,
    provider: Option<&Provider>,
    now: u64,
) -> Result<Times, TokenError> {
    use DenyReason::*;
    let r = Registered::collect(claims)?;
    let now = now as f64;
    let leeway = s.leeway_secs as f64;
    let (exp, nbf, iat) = (r.exp, r.nbf, r.iat);
    if exp.is_none() && s.require_exp {
        return Err(fail(MissingClaim, "token has no exp"));
    }
    check_times(Times { exp, nbf }, leeway, now)?;
    if iat.is_some_and(|iat| iat > now + leeway) {
        return Err(fail(NotYetValid, "token was issued in the future (iat)"));
    }
    if let Some(max) = s.max_lifetime_secs {
        let (Some(exp), Some(iat)) = (exp, iat) else {
            return Err(fail(MissingClaim, "jwt.max_lifetime needs exp and iat"));
        };
        if exp - iat > max as f64 {
            return Err(fail(LifetimeTooLong, "exp - iat exceeds jwt.max_lifetime"));
        }
    }
    let named = provider.and_then(|p| p.issuer.as_deref());
    if let Some(issuer) = named {
        let Some(iss) = r.iss else {
            return Err(fail(MissingClaim, "token has no iss"));
        };
        if iss.as_str().as_deref() != Some(issuer) {
            return Err(fail(
                BadIssuer,
                "iss is not the issuer of the provider whose key signed the token",
            ));
        }
    } else if r
        .iss
        .and_then(|iss| iss.as_str().and_then(|i| s.provider_of(&i)))
        .is_some()
    {
        return Err(fail(
            BadIssuer,
            "iss is a provider's issuer, but a top-level key signed the token",
        ));
    }
    if named.is_none() && !s.issuers.is_empty() {
        let Some(iss) = r.iss else {
            return Err(fail(MissingClaim, "token has no iss"));
        };
        if !iss
            .as_str()
            .is_some_and(|iss| s.issuers.iter().any(|i| *i == iss))
        {
            return Err(fail(BadIssuer, "iss is not an accepted issuer"));
        }
    }
    let audiences = provider.map_or(&s.audiences, |p| &p.audiences);
    if !audiences.is_empty() {
        let accepted = |a: ClaimValue<'_>| {
            a.as_str()
                .is_some_and(|a| audiences.iter().any(|x| *x == a))
        };
        let ok = match r.aud {
            None => return Err(fail(MissingClaim, "token has no aud")),
            Some(list) if list.kind() == ValueKind::Array => list.elements().any(accepted),
            Some(single) => accepted(single),
        };
        if !ok {
            return Err(fail(BadAudience, "aud has no accepted audience"));
        }
    }
    Ok(Times { exp, nbf })
}
