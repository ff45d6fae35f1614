//! Tokens: finding one in the request (`extract`) and verifying it (`verify`). Pure functions
//! of their inputs; no I/O, no locks.

mod b64;
mod cache;
mod claims;
mod extract;
mod header;
mod route;
mod verify;

#[cfg(test)]
mod provider_tests;
#[cfg(test)]
mod tests;

pub use cache::TokenCache;
pub use claims::{Claims, ClaimsError, Value as ClaimValue, ValueKind};
pub use extract::{extract, Found};
pub use verify::{verify, MAX_KIDLESS_CANDIDATES};

use crate::keys::Key;
use crate::reason::DenyReason;

/// Why a token was refused: the closed reason plus a fixed, precise detail for logs and
/// `explain` (never containing token or key material).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenError {
    /// The reason label.
    pub reason: DenyReason,
    /// A fixed sentence saying exactly what failed.
    pub detail: &'static str,
    /// No key could be tried, and the token's provider is known: which, and why.
    pub miss: Option<KeyMiss>,
}

/// A token whose key was not found, routed by its (unverified) `iss` to a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyMiss {
    /// The provider has no keys at all (not fetched yet, or stale past `max_stale`): the
    /// server cannot decide (UNAVAILABLE).
    NoKeys(usize),
    /// The provider fetches its keys and has none with the token's kid: a refetch may find it.
    UnknownKid(usize),
}

/// A token that verified: the key that signed it and its claims.
#[derive(Debug)]
pub struct Verified<'r, 't> {
    /// The key whose signature (or MAC) matched.
    pub key: &'r Key,
    /// The claims (shared with the verified-token cache).
    pub claims: std::sync::Arc<Claims>,
    /// The payload exactly as signed (canonical base64url), for `forward.payload_header`.
    pub payload_b64: &'t str,
    /// `exp` and `nbf`, re-checked against the clock when the cache answers.
    pub(crate) times: Times,
}

/// The time claims a cached token is checked against again.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Times {
    pub(crate) exp: Option<f64>,
    pub(crate) nbf: Option<f64>,
}
