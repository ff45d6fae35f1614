//! Oracles shared by the property tests (`tests/oracles.rs`) and the fuzz targets: what an
//! independent implementation says about a token's registered claims, and the invariants every
//! normalized path must satisfy.

use std::collections::BTreeSet;

use crate::policy::{normalize, Parameters, PathOptions};
use crate::reason::DenyReason;

/// The registered-claim settings an oracle run compares under.
#[derive(Clone, Debug)]
pub struct ClaimRules<'a> {
    /// `jwt.issuers`.
    pub issuers: &'a [&'a str],
    /// `jwt.audiences`.
    pub audiences: &'a [&'a str],
    /// `jwt.leeway`, seconds.
    pub leeway: u64,
    /// `jwt.require_exp`.
    pub require_exp: bool,
}

/// jsonwebtoken's verdicts on an HS256 `token` signed with `secret`, one dimension at a time
/// (exp, nbf, iss, aud): its checks run in another order than jwt-authz's, so with several
/// failures the first one reported differs, and each of jwt-authz's must be among these. An
/// empty set means jsonwebtoken accepts. It reads its own clock: callers keep times a few
/// seconds away from the boundaries (where RFC 7519 and jsonwebtoken also differ by one
/// second: expired "on or after" exp versus after).
pub fn jsonwebtoken_reasons(
    token: &str,
    secret: &[u8],
    rules: &ClaimRules<'_>,
) -> BTreeSet<DenyReason> {
    use jsonwebtoken::errors::ErrorKind;
    let base = || {
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.leeway = rules.leeway;
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        v
    };
    let mut exp = base();
    exp.validate_exp = true;
    if rules.require_exp {
        exp.required_spec_claims.insert("exp".into());
    }
    let mut nbf = base();
    nbf.validate_nbf = true;
    let mut dimensions = vec![exp, nbf];
    if !rules.issuers.is_empty() {
        let mut v = base();
        v.set_issuer(rules.issuers);
        v.required_spec_claims.insert("iss".into());
        dimensions.push(v);
    }
    if !rules.audiences.is_empty() {
        let mut v = base();
        v.set_audience(rules.audiences);
        v.validate_aud = true;
        v.required_spec_claims.insert("aud".into());
        dimensions.push(v);
    }
    let key = jsonwebtoken::DecodingKey::from_secret(secret).expect("a non-empty secret");
    dimensions
        .iter()
        .filter_map(|v| {
            let err = jsonwebtoken::decode::<serde_json::Value>(token, &key, v).err()?;
            Some(match err.into_kind() {
                ErrorKind::ExpiredSignature => DenyReason::Expired,
                ErrorKind::ImmatureSignature => DenyReason::NotYetValid,
                ErrorKind::MissingRequiredClaim(_) => DenyReason::MissingClaim,
                ErrorKind::InvalidIssuer => DenyReason::BadIssuer,
                ErrorKind::InvalidAudience => DenyReason::BadAudience,
                _ => DenyReason::Malformed,
            })
        })
        .collect()
}

/// Checks that normalizing `raw` under `options` gives a path that is absolute, a fixed point,
/// and free of everything normalization must remove (`//`, `.` and `..` segments, `;`, encoded
/// dots, slashes and backslashes, the query, upper case when case-insensitive); and that a `;`
/// is only ever accepted when parameters are stripped. `Err` says which invariant broke.
pub fn check_normalization(raw: &str, options: &PathOptions) -> Result<(), String> {
    let Ok(n) = normalize(raw, options) else {
        return Ok(());
    };
    let fail = |what: &str| Err(format!("{what}: {raw:?} normalized to {n:?}"));
    if !n.starts_with('/') {
        return fail("not absolute");
    }
    if normalize(&n, options).as_deref() != Ok(&*n) {
        return fail("not a fixed point");
    }
    if n.contains("//") || n.contains(['?', '#', '\\', ';']) {
        return fail("left //, a query, a backslash or a ';'");
    }
    for segment in n.split('/') {
        let lower = segment.to_ascii_lowercase();
        if segment == "."
            || segment == ".."
            || ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e))
        {
            return fail("left a dot-segment or an encoded dot, slash or backslash");
        }
    }
    if options.case_insensitive && n.bytes().any(|b| b.is_ascii_uppercase()) {
        return fail("left upper case");
    }
    let path = raw.split(['?', '#']).next().unwrap_or("");
    if options.parameters == Parameters::Reject
        && (path.contains(';') || path.to_ascii_lowercase().contains("%3b"))
    {
        return fail("accepted a ';' (or %3B) although parameters are rejected");
    }
    Ok(())
}
