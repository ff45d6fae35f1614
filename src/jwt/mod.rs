//! Tokens: finding one in the request (`extract`) and verifying it (`verify`). Pure functions
//! of their inputs; no I/O, no locks.

mod b64;
mod claims;
mod extract;
mod header;
mod verify;

#[cfg(test)]
mod tests;

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
}

/// A token that verified: the key that signed it and its claims.
#[derive(Debug)]
pub struct Verified<'r, 't> {
    /// The key whose MAC matched.
    pub key: &'r Key,
    /// The claims.
    pub claims: Claims,
    /// The payload exactly as signed (canonical base64url), for `forward.payload_header`.
    pub payload_b64: &'t str,
}
