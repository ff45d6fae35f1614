//! The JWS algorithms jwt-authz verifies (RFC 7518 §3, RFC 8037). Each key is pinned to exactly
//! one of them by configuration; a token's `alg` must name it, never chooses it.

use std::fmt;

/// A JWS signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 (MGF1 SHA-256, salt of the hash's length).
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// ECDSA on P-521 with SHA-512.
    ES512,
    /// Ed25519 (RFC 8037).
    EdDSA,
}

/// The kind of key an algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// A shared secret (HMAC).
    Hmac,
    /// An RSA public key (PKCS#1 v1.5 or PSS).
    Rsa,
    /// An EC public key on this curve.
    Ec(Curve),
    /// An Ed25519 public key.
    Ed25519,
}

/// The NIST curves of ES256/384/512.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    /// secp256r1.
    P256,
    /// secp384r1.
    P384,
    /// secp521r1.
    P521,
}

impl Curve {
    /// The JWK `crv` name.
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    /// Bytes of one coordinate (and of r and s in a JOSE signature).
    pub fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The ES algorithm of this curve.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Curve::P256 => Algorithm::ES256,
            Curve::P384 => Algorithm::ES384,
            Curve::P521 => Algorithm::ES512,
        }
    }
}

impl Algorithm {
    /// All algorithms, in index order.
    pub const ALL: [Algorithm; 13] = [
        Self::HS256,
        Self::HS384,
        Self::HS512,
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::ES512,
        Self::EdDSA,
    ];

    /// Parses the JOSE name exactly (`RS256`); anything else, `none` included, is `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The kind of key it needs.
    pub fn family(self) -> Family {
        match self {
            Self::HS256 | Self::HS384 | Self::HS512 => Family::Hmac,
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                Family::Rsa
            }
            Self::ES256 => Family::Ec(Curve::P256),
            Self::ES384 => Family::Ec(Curve::P384),
            Self::ES512 => Family::Ec(Curve::P521),
            Self::EdDSA => Family::Ed25519,
        }
    }

    /// True for HS256/384/512.
    pub fn is_hmac(self) -> bool {
        self.family() == Family::Hmac
    }

    /// Length of an HMAC's output, which is also the shortest key accepted (RFC 7518 §3.2 and
    /// its strict reading for HS384/HS512); `None` for signature algorithms.
    pub fn mac_len(self) -> Option<usize> {
        match self {
            Self::HS256 => Some(32),
            Self::HS384 => Some(48),
            Self::HS512 => Some(64),
            _ => None,
        }
    }

    /// A dense index (0..13) for per-algorithm tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The matching algorithm of the jsonwebtoken crate (used to mint tokens); `None` for
    /// ES512, which it does not support.
    pub fn to_jsonwebtoken(self) -> Option<jsonwebtoken::Algorithm> {
        use jsonwebtoken::Algorithm as J;
        Some(match self {
            Self::HS256 => J::HS256,
            Self::HS384 => J::HS384,
            Self::HS512 => J::HS512,
            Self::RS256 => J::RS256,
            Self::RS384 => J::RS384,
            Self::RS512 => J::RS512,
            Self::PS256 => J::PS256,
            Self::PS384 => J::PS384,
            Self::PS512 => J::PS512,
            Self::ES256 => J::ES256,
            Self::ES384 => J::ES384,
            Self::ES512 => return None,
            Self::EdDSA => J::EdDSA,
        })
    }

    /// A short list of the names, for messages.
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_exact_and_indexes_dense() {
        for (i, alg) in Algorithm::ALL.into_iter().enumerate() {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
            assert_eq!(alg.index(), i);
        }
        for bad in [
            "none",
            "hs256",
            "HS256 ",
            "ES256K",
            "",
            "EdDSA25519",
            "RSA-OAEP",
            "Ed25519",
        ] {
            assert_eq!(Algorithm::from_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn families_pin_the_key_kind() {
        assert_eq!(Algorithm::HS384.family(), Family::Hmac);
        assert_eq!(Algorithm::PS512.family(), Family::Rsa);
        assert_eq!(Algorithm::ES384.family(), Family::Ec(Curve::P384));
        assert_eq!(Algorithm::EdDSA.family(), Family::Ed25519);
        for c in [Curve::P256, Curve::P384, Curve::P521] {
            assert_eq!(c.algorithm().family(), Family::Ec(c));
        }
        assert_eq!(Algorithm::RS256.mac_len(), None);
        assert_eq!(Algorithm::HS512.mac_len(), Some(64));
    }
}
