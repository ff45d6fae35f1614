//! HMAC keys with the key schedule computed once at load time, so a verification only clones
//! the prepared state and hashes the signing input. Comparison is constant-time (`verify_slice`).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::Algorithm;

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
    /// Prepares `secret` for `alg`; `None` when `alg` is not an HMAC. HMAC accepts keys of any
    /// length; length policy is the caller's (see `keys::validate_key_len`).
    pub fn new(alg: Algorithm, secret: &[u8]) -> Option<Self> {
        // `new_from_slice` cannot fail for HMAC: any key length is valid.
        let key = match alg {
            Algorithm::HS256 => Self::Hs256(
                Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length"),
            ),
            Algorithm::HS384 => Self::Hs384(
                Hmac::<Sha384>::new_from_slice(secret).expect("HMAC accepts any key length"),
            ),
            Algorithm::HS512 => Self::Hs512(
                Hmac::<Sha512>::new_from_slice(secret).expect("HMAC accepts any key length"),
            ),
            _ => return None,
        };
        Some(key)
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
    fn verify_accepts_own_mac_and_rejects_others() {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let key = MacKey::new(alg, &[7u8; 64]).unwrap();
            let mac = key.sign(b"a.b");
            assert_eq!(Some(mac.len()), alg.mac_len());
            assert!(key.verify(b"a.b", &mac));
            assert!(!key.verify(b"a.c", &mac));
            assert!(!key.verify(b"a.b", &mac[..mac.len() - 1]));
            assert!(!MacKey::new(alg, &[8u8; 64]).unwrap().verify(b"a.b", &mac));
        }
        assert!(MacKey::new(Algorithm::RS256, &[7u8; 64]).is_none());
    }

    #[test]
    fn matches_rfc4231_test_case_2() {
        let key = MacKey::new(Algorithm::HS256, b"Jefe").unwrap();
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
            format!("{:?}", MacKey::new(Algorithm::HS256, b"secret").unwrap()),
            "MacKey(<redacted>)"
        );
    }
}
