//! HMAC keys with the key schedule computed once at load time, so a verification only clones
//! the prepared state and hashes the signing input. Comparison is constant-time (`verify_slice`).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// The HMAC algorithms jwt-authz verifies. Each key is pinned to exactly one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// HMAC with SHA-256 (RFC 7518 §3.2).
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
}

impl Algorithm {
    /// All supported algorithms, in index order.
    pub const ALL: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

    /// Parses the JOSE name exactly (`HS256`); anything else, including `none`, is `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "HS256" => Some(Self::HS256),
            "HS384" => Some(Self::HS384),
            "HS512" => Some(Self::HS512),
            _ => None,
        }
    }

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
        }
    }

    /// Length of the MAC in bytes, which is also the minimum key length we accept.
    pub fn output_len(self) -> usize {
        match self {
            Self::HS256 => 32,
            Self::HS384 => 48,
            Self::HS512 => 64,
        }
    }

    /// A dense index (0..3) for per-algorithm tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The matching algorithm of the jsonwebtoken crate (used to mint tokens).
    pub fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::HS256 => jsonwebtoken::Algorithm::HS256,
            Self::HS384 => jsonwebtoken::Algorithm::HS384,
            Self::HS512 => jsonwebtoken::Algorithm::HS512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A prepared HMAC key. Holds key-derived state: its `Debug` never prints it.
#[derive(Clone)]
pub enum MacKey {
    /// HS256 state.
    Hs256(Hmac<Sha256>),
    /// HS384 state.
    Hs384(Hmac<Sha384>),
    /// HS512 state.
    Hs512(Hmac<Sha512>),
}

impl MacKey {
    /// Prepares `secret` for `alg`. HMAC accepts keys of any length; length policy is the
    /// caller's (see `keys::validate_key_len`).
    pub fn new(alg: Algorithm, secret: &[u8]) -> Self {
        // `new_from_slice` cannot fail for HMAC: any key length is valid.
        match alg {
            Algorithm::HS256 => Self::Hs256(
                Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length"),
            ),
            Algorithm::HS384 => Self::Hs384(
                Hmac::<Sha384>::new_from_slice(secret).expect("HMAC accepts any key length"),
            ),
            Algorithm::HS512 => Self::Hs512(
                Hmac::<Sha512>::new_from_slice(secret).expect("HMAC accepts any key length"),
            ),
        }
    }

    /// True when `signature` is the MAC of `message`, compared in constant time.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Hs256(m) => verify_with(m.clone(), message, signature),
            Self::Hs384(m) => verify_with(m.clone(), message, signature),
            Self::Hs512(m) => verify_with(m.clone(), message, signature),
        }
    }

    /// The MAC of `message` (used by tests and the `token` command's self-check).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            Self::Hs256(m) => sign_with(m.clone(), message),
            Self::Hs384(m) => sign_with(m.clone(), message),
            Self::Hs512(m) => sign_with(m.clone(), message),
        }
    }
}

fn verify_with<M: Mac>(mut mac: M, message: &[u8], signature: &[u8]) -> bool {
    mac.update(message);
    mac.verify_slice(signature).is_ok()
}

fn sign_with<M: Mac>(mut mac: M, message: &[u8]) -> Vec<u8> {
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey(<redacted>)")
    }
}

/// The public fingerprint of a key: the first 8 bytes of SHA-256 of the key bytes, in hex.
/// Safe to log; it identifies a key without revealing it.
pub fn fingerprint(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_are_exact() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
        }
        for bad in ["none", "hs256", "HS256 ", "RS256", "", "HS1024"] {
            assert_eq!(Algorithm::from_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn verify_accepts_own_mac_and_rejects_others() {
        for alg in Algorithm::ALL {
            let key = MacKey::new(alg, &[7u8; 64]);
            let mac = key.sign(b"a.b");
            assert_eq!(mac.len(), alg.output_len());
            assert!(key.verify(b"a.b", &mac));
            assert!(!key.verify(b"a.c", &mac));
            assert!(!key.verify(b"a.b", &mac[..mac.len() - 1]));
            assert!(!MacKey::new(alg, &[8u8; 64]).verify(b"a.b", &mac));
        }
    }

    #[test]
    fn matches_rfc4231_test_case_2() {
        let key = MacKey::new(Algorithm::HS256, b"Jefe");
        let mac = key.sign(b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn fingerprint_is_16_hex_chars_and_debug_is_redacted() {
        let fp = fingerprint(b"secret");
        assert_eq!(fp, "2bb80d537b1da3e3");
        assert_eq!(
            format!("{:?}", MacKey::new(Algorithm::HS256, b"secret")),
            "MacKey(<redacted>)"
        );
    }
}
