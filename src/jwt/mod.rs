//! Tokens: finding one in the request (`extract`) and verifying it (`verify`). Pure functions
//! of their inputs; no I/O, no locks.

mod extract;
mod header;
mod json;
mod verify;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use extract::{extract, Found};
pub use verify::verify;

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

/// The verified claims: a JSON object.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    root: Value,
}

impl Claims {
    /// Wraps a JSON object.
    pub fn new(root: Value) -> Self {
        Self { root }
    }

    /// A top-level claim.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.root.get(name)
    }

    /// A top-level string claim.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// The whole claims object.
    pub fn root(&self) -> &Value {
        &self.root
    }
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
