//! Public keys: parsed from a SubjectPublicKeyInfo, a PKCS#1 `RSAPublicKey` or JWK components,
//! checked more strictly than the anchors do, and prepared once for aws-lc-rs, which verifies
//! without parsing the key again.
//!
//! Refused at load, because aws-lc-rs alone would accept some of them: RSA moduli under 2048
//! (or over 8192) bits; RSA exponents that are even or outside [3, 2^31); EC coordinates of the
//! wrong length or points not on the curve (aws-lc-rs checks the curve); Ed25519 keys that are
//! not 32 bytes or are of small order (aws-lc-rs accepts a small-order key with which the
//! signature R = identity, S = 0 verifies every message). The small-order test is ours: no
//! crate in the tree offers it, and it is exact (see [`is_small_order`]).

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, VerificationAlgorithm};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use der::{Decode, Encode};
use sha2::{Digest, Sha256};

use super::algorithm::{Algorithm, Curve, Family};

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";
const OID_ED25519: &str = "1.3.101.112";

/// What a public key is.
#[derive(Clone, PartialEq, Eq)]
enum Kind {
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// A point, coordinates of the curve's exact length.
    Ec {
        curve: Curve,
        x: Vec<u8>,
        y: Vec<u8>,
    },
    /// The 32-byte key.
    Ed25519 { x: [u8; 32] },
}

/// A checked public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    kind: Kind,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, {})", self.describe(), self.thumbprint())
    }
}

/// An RSA exponent as a number, when it fits in 64 bits.
fn exponent(e: &[u8]) -> Option<u64> {
    (e.len() <= 8).then(|| e.iter().fold(0u64, |v, &b| v << 8 | u64::from(b)))
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

impl PublicKey {
    /// An RSA key from its modulus and exponent (big-endian; leading zeros are ignored).
    pub fn rsa(n: &[u8], e: &[u8]) -> Result<Self, String> {
        let (n, e) = (strip_zeros(n), strip_zeros(e));
        let bits =
            (n.len() * 8).saturating_sub(n.first().map_or(0, |b| b.leading_zeros() as usize));
        if !(2048..=8192).contains(&bits) {
            return Err(format!(
                "RSA modulus of {bits} bits: jwt-authz accepts 2048 to 8192 bits"
            ));
        }
        match exponent(e) {
            Some(e) if e % 2 == 1 && (3..1 << 31).contains(&e) => {}
            _ => {
                return Err(
                    "RSA exponent must be odd and between 3 and 2^31 (65537 is usual)".into(),
                )
            }
        }
        if n.last().is_some_and(|b| b % 2 == 0) {
            return Err("RSA modulus is even: not a product of two odd primes".into());
        }
        let key = Self {
            kind: Kind::Rsa {
                n: n.to_vec(),
                e: e.to_vec(),
            },
        };
        // Whatever else aws-lc-rs refuses is refused here, at load, with its reason.
        key.prepare(Algorithm::RS256)
            .map_err(|e| format!("aws-lc-rs refuses this RSA key: {e}"))?;
        Ok(key)
    }

    /// An EC key from its coordinates (each exactly the curve's length).
    pub fn ec(curve: Curve, x: &[u8], y: &[u8]) -> Result<Self, String> {
        let len = curve.coordinate_len();
        if x.len() != len || y.len() != len {
            return Err(format!(
                "{} coordinates must be {len} bytes each",
                curve.name()
            ));
        }
        let key = Self {
            kind: Kind::Ec {
                curve,
                x: x.to_vec(),
                y: y.to_vec(),
            },
        };
        // aws-lc-rs refuses points that are not on the curve.
        key.prepare(curve.algorithm())
            .map_err(|_| format!("the point is not on {}", curve.name()))?;
        Ok(key)
    }

    /// An Ed25519 key from its 32 bytes.
    pub fn ed25519(x: &[u8]) -> Result<Self, String> {
        let x: [u8; 32] = x
            .try_into()
            .map_err(|_| format!("an Ed25519 key is 32 bytes, not {}", x.len()))?;
        if is_small_order(&x) {
            return Err("Ed25519 key of small order (it would accept forged signatures)".into());
        }
        let key = Self {
            kind: Kind::Ed25519 { x },
        };
        key.prepare(Algorithm::EdDSA)
            .map_err(|_| "not a valid Ed25519 point".to_string())?;
        Ok(key)
    }

    /// From a DER SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_spki(der: &[u8]) -> Result<Self, String> {
        let spki = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| format!("not a SubjectPublicKeyInfo: {e}"))?;
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or("the public key is not a whole number of bytes")?;
        match spki.algorithm.oid.to_string().as_str() {
            OID_RSA => Self::from_pkcs1(bits),
            OID_RSA_PSS => {
                Err("RSASSA-PSS-restricted key: write it as an rsaEncryption key".into())
            }
            OID_EC => {
                let curve = spki
                    .algorithm
                    .parameters
                    .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
                    .ok_or("EC key without a named curve")?;
                let curve = match curve.to_string().as_str() {
                    OID_P256 => Curve::P256,
                    OID_P384 => Curve::P384,
                    OID_P521 => Curve::P521,
                    other => return Err(format!("EC curve {other} is not P-256, P-384 or P-521")),
                };
                let len = curve.coordinate_len();
                match bits {
                    [4, rest @ ..] if rest.len() == 2 * len => {
                        Self::ec(curve, &rest[..len], &rest[len..])
                    }
                    _ => Err(format!(
                        "the {} point must be uncompressed (04 || x || y)",
                        curve.name()
                    )),
                }
            }
            OID_ED25519 => Self::ed25519(bits),
            other => Err(format!("key algorithm {other} is not RSA, EC or Ed25519")),
        }
    }

    /// From a DER PKCS#1 `RSAPublicKey` (`-----BEGIN RSA PUBLIC KEY-----`).
    pub fn from_pkcs1(der: &[u8]) -> Result<Self, String> {
        let key = pkcs1::RsaPublicKey::<der::asn1::UintRef<'_>>::from_der(der)
            .map_err(|e| format!("not an RSA public key: {e}"))?;
        Self::rsa(key.modulus.as_bytes(), key.public_exponent.as_bytes())
    }

    /// The RSA modulus' size in bits (`None` for other keys).
    pub fn rsa_bits(&self) -> Option<usize> {
        match &self.kind {
            Kind::Rsa { n, .. } => Some(n.len() * 8 - n[0].leading_zeros() as usize),
            _ => None,
        }
    }

    /// The Ed25519 key's 32 bytes (`None` for other keys).
    pub fn ed25519_bytes(&self) -> Option<[u8; 32]> {
        match &self.kind {
            Kind::Ed25519 { x } => Some(*x),
            _ => None,
        }
    }

    /// The key family it can verify.
    pub fn family(&self) -> Family {
        match &self.kind {
            Kind::Rsa { .. } => Family::Rsa,
            Kind::Ec { curve, .. } => Family::Ec(*curve),
            Kind::Ed25519 { .. } => Family::Ed25519,
        }
    }

    /// `RSA 2048`, `EC P-256`, `Ed25519`.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Rsa { .. } => format!("RSA {}", self.rsa_bits().unwrap_or(0)),
            Kind::Ec { curve, .. } => format!("EC {}", curve.name()),
            Kind::Ed25519 { .. } => "Ed25519".into(),
        }
    }

    /// The JWK of the key's public members in RFC 7638 order (what the thumbprint hashes).
    fn canonical_jwk(&self) -> String {
        let b = |v: &[u8]| URL_SAFE_NO_PAD.encode(v);
        match &self.kind {
            Kind::Rsa { n, e } => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, b(e), b(n)),
            Kind::Ec { curve, x, y } => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                curve.name(),
                b(x),
                b(y)
            ),
            Kind::Ed25519 { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b(x)),
        }
    }

    /// The key's public members as a JWK (`kty`, `n`/`e`, `crv`/`x`/`y`).
    pub fn to_jwk(&self) -> serde_json::Value {
        serde_json::from_str(&self.canonical_jwk()).expect("the canonical JWK is JSON")
    }

    /// The RFC 7638 thumbprint (SHA-256, base64url): the key's identity, safe to log.
    pub fn thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.canonical_jwk()))
    }

    /// Bytes that identify the key exactly (for ring digests).
    pub fn identity(&self) -> Vec<u8> {
        self.canonical_jwk().into_bytes()
    }

    /// Length of a valid signature: the modulus length, 2 × the coordinate length, or 64.
    pub fn signature_len(&self) -> usize {
        match &self.kind {
            Kind::Rsa { n, .. } => n.len(),
            Kind::Ec { curve, .. } => 2 * curve.coordinate_len(),
            Kind::Ed25519 { .. } => 64,
        }
    }

    /// Prepares the key for `alg` (which must fit its family).
    pub fn prepare(&self, alg: Algorithm) -> Result<Verifier, String> {
        if alg.family() != self.family() {
            return Err(format!(
                "{} cannot verify {alg} (the algorithm must fit the key)",
                self.describe()
            ));
        }
        let (algorithm, bytes): (&'static dyn VerificationAlgorithm, Vec<u8>) = match &self.kind {
            Kind::Rsa { n, e } => {
                let der = pkcs1::RsaPublicKey {
                    modulus: der::asn1::UintRef::new(n).map_err(|e| e.to_string())?,
                    public_exponent: der::asn1::UintRef::new(e).map_err(|e| e.to_string())?,
                }
                .to_der()
                .map_err(|e| e.to_string())?;
                let algorithm: &'static dyn VerificationAlgorithm = match alg {
                    Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
                    Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
                    _ => &sig::RSA_PSS_2048_8192_SHA512,
                };
                (algorithm, der)
            }
            Kind::Ec { curve, x, y } => {
                let point = [&[4u8][..], x, y].concat();
                let algorithm: &'static dyn VerificationAlgorithm = match curve {
                    Curve::P256 => &sig::ECDSA_P256_SHA256_FIXED,
                    Curve::P384 => &sig::ECDSA_P384_SHA384_FIXED,
                    Curve::P521 => &sig::ECDSA_P521_SHA512_FIXED,
                };
                (algorithm, point)
            }
            Kind::Ed25519 { x } => (&sig::ED25519, x.to_vec()),
        };
        let key = ParsedPublicKey::new(algorithm, bytes).map_err(|e| e.to_string())?;
        Ok(Verifier {
            key: Arc::new(key),
            signature_len: self.signature_len(),
        })
    }
}

/// A public key prepared for one algorithm.
#[derive(Clone)]
pub struct Verifier {
    key: Arc<ParsedPublicKey>,
    signature_len: usize,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Verifier")
    }
}

impl Verifier {
    /// The exact length a signature must have.
    pub fn signature_len(&self) -> usize {
        self.signature_len
    }

    /// True when `signature` (exactly [`Self::signature_len`] bytes; ECDSA as r ‖ s, never
    /// DER) is valid for `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        signature.len() == self.signature_len && self.key.verify_sig(message, signature).is_ok()
    }
}

/// True when the 32-byte Ed25519 encoding is a point of order dividing 8. Those points are
/// exactly the ones whose y, reduced mod p = 2^255 - 19, is 0, 1, p - 1, or ±y8 (the y of the
/// order-8 points); the sign bit of x does not matter. Encodings with y ≥ p are non-canonical
/// spellings of y - p, which for these values leaves y = p and y = p + 1. So: clear the sign
/// bit and compare with those seven values (checked against curve arithmetic when written).
pub fn is_small_order(key: &[u8; 32]) -> bool {
    const P: [u8; 32] = le("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed");
    const BLOCKED: [[u8; 32]; 7] = [
        le("0000000000000000000000000000000000000000000000000000000000000000"),
        le("0000000000000000000000000000000000000000000000000000000000000001"),
        le("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffec"),
        le("05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826"),
        le("7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7"),
        P,
        le("7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffee"),
    ];
    let mut y = *key;
    y[31] &= 0x7f;
    BLOCKED.contains(&y)
}

/// A 256-bit number written in big-endian hex, as little-endian bytes.
const fn le(hex: &str) -> [u8; 32] {
    let h = hex.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[31 - i] = digit(h[2 * i]) << 4 | digit(h[2 * i + 1]);
        i += 1;
    }
    out
}

const fn digit(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

#[cfg(test)]
mod tests;
