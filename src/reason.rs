//! The closed set of deny reasons. One enum serves the response headers, the metrics labels and
//! the logs, so they always agree.

use std::fmt;

/// Why a request was denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DenyReason {
    /// No token in any configured source.
    MissingToken,
    /// The token is not a well-formed compact JWS, or its JSON is invalid.
    Malformed,
    /// The token is longer than `jwt.max_token_bytes`.
    TokenTooLarge,
    /// The token's `alg` is not HS256/384/512, or not the algorithm its key is pinned to.
    UnsupportedAlg,
    /// No key with the token's `kid` (or no key for a kid-less token's algorithm).
    UnknownKid,
    /// The signature does not verify.
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    NotYetValid,
    /// `iss` is not an accepted issuer.
    BadIssuer,
    /// `aud` does not contain an accepted audience.
    BadAudience,
    /// A claim the configuration requires (`exp`, `iss`, `aud`, `iat`) is absent.
    MissingClaim,
    /// `exp - iat` exceeds `jwt.max_lifetime`.
    LifetimeTooLong,
    /// The rule requires scopes the token lacks.
    InsufficientScope,
    /// The rule requires a claim value the token lacks.
    ClaimMismatch,
    /// Rules exist and none matches (or `context_extensions` names an unknown rule).
    NoMatchingRule,
    /// The path contains an encoded `/` or `\`, or is otherwise ambiguous.
    AmbiguousPath,
    /// A `deny: true` rule matched.
    DeniedByRule,
}

/// The HTTP shape of a deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyClass {
    /// 401, no error code (RFC 6750 §3.1: the request lacked credentials).
    Unauthenticated,
    /// 401, `error="invalid_token"`.
    InvalidToken,
    /// 403, `error="insufficient_scope"`.
    Forbidden,
    /// 400, no `WWW-Authenticate`.
    BadRequest,
}

impl DenyReason {
    /// Every reason, for metric pre-registration and tests.
    pub const ALL: [DenyReason; 17] = [
        Self::MissingToken,
        Self::Malformed,
        Self::TokenTooLarge,
        Self::UnsupportedAlg,
        Self::UnknownKid,
        Self::BadSignature,
        Self::Expired,
        Self::NotYetValid,
        Self::BadIssuer,
        Self::BadAudience,
        Self::MissingClaim,
        Self::LifetimeTooLong,
        Self::InsufficientScope,
        Self::ClaimMismatch,
        Self::NoMatchingRule,
        Self::AmbiguousPath,
        Self::DeniedByRule,
    ];

    /// The label used in metrics, logs, the reason header and the JSON body.
    pub fn as_label(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::Malformed => "malformed",
            Self::TokenTooLarge => "token_too_large",
            Self::UnsupportedAlg => "unsupported_alg",
            Self::UnknownKid => "unknown_kid",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::BadIssuer => "bad_issuer",
            Self::BadAudience => "bad_audience",
            Self::MissingClaim => "missing_claim",
            Self::LifetimeTooLong => "lifetime_too_long",
            Self::InsufficientScope => "insufficient_scope",
            Self::ClaimMismatch => "claim_mismatch",
            Self::NoMatchingRule => "no_matching_rule",
            Self::AmbiguousPath => "ambiguous_path",
            Self::DeniedByRule => "denied_by_rule",
        }
    }

    /// Which response this reason produces.
    pub fn class(self) -> DenyClass {
        match self {
            Self::MissingToken => DenyClass::Unauthenticated,
            Self::InsufficientScope
            | Self::ClaimMismatch
            | Self::NoMatchingRule
            | Self::DeniedByRule => DenyClass::Forbidden,
            Self::AmbiguousPath => DenyClass::BadRequest,
            _ => DenyClass::InvalidToken,
        }
    }
}

impl DenyClass {
    /// The HTTP status Envoy sends to the client.
    pub fn http_status(self) -> u16 {
        match self {
            Self::Unauthenticated | Self::InvalidToken => 401,
            Self::Forbidden => 403,
            Self::BadRequest => 400,
        }
    }

    /// The gRPC code in `CheckResponse.status` (16 UNAUTHENTICATED, 7 PERMISSION_DENIED).
    pub fn grpc_code(self) -> i32 {
        match self {
            Self::Unauthenticated | Self::InvalidToken => 16,
            Self::Forbidden | Self::BadRequest => 7,
        }
    }

    /// The RFC 6750 error code, where the class has one.
    pub fn bearer_error(self) -> Option<&'static str> {
        match self {
            Self::Unauthenticated | Self::BadRequest => None,
            Self::InvalidToken => Some("invalid_token"),
            Self::Forbidden => Some("insufficient_scope"),
        }
    }

    /// The `error` member of the JSON body.
    pub fn body_error(self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthorized",
            Self::InvalidToken => "invalid_token",
            Self::Forbidden => "insufficient_scope",
            Self::BadRequest => "bad_request",
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn labels_are_unique_snake_case() {
        let labels: HashSet<_> = DenyReason::ALL.iter().map(|r| r.as_label()).collect();
        assert_eq!(labels.len(), DenyReason::ALL.len());
        for l in labels {
            assert!(
                l.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{l}"
            );
        }
    }

    #[test]
    fn all_is_in_discriminant_order() {
        // Metric counters are indexed by `reason as usize` and registered from `ALL`: the two
        // must agree, or every deny would be counted under another reason's label.
        for (i, r) in DenyReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i, "{r}");
        }
    }

    #[test]
    fn classes_follow_the_contract() {
        use DenyReason::*;
        for r in DenyReason::ALL {
            let c = r.class();
            let expected = match r {
                MissingToken => (401, 16, None),
                InsufficientScope | ClaimMismatch | NoMatchingRule | DeniedByRule => {
                    (403, 7, Some("insufficient_scope"))
                }
                AmbiguousPath => (400, 7, None),
                _ => (401, 16, Some("invalid_token")),
            };
            assert_eq!(
                (c.http_status(), c.grpc_code(), c.bearer_error()),
                expected,
                "{r}"
            );
        }
    }
}
