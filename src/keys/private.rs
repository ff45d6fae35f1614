//! Private keys, for `jwt-authz token --private-key` only (demos and tests): read from PEM
//! (PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY`), matched to a
//! configured public key by thumbprint, and used to sign with aws-lc-rs. The server never
//! reads a private key: its loaders refuse them.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, RsaKeyPair,
};

use super::{Algorithm, Curve, Family, PublicKey};

/// A private key that can sign.
pub enum PrivateKey {
    /// RSA (RS*, PS*).
    Rsa(RsaKeyPair),
    /// ECDSA on a curve (ES*).
    Ec(Curve, EcdsaKeyPair),
    /// Ed25519 (EdDSA).
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({})", self.public().describe())
    }
}

fn ec_signing(curve: Curve) -> &'static EcdsaSigningAlgorithm {
    match curve {
        Curve::P256 => &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
        Curve::P384 => &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
        Curve::P521 => &sig::ECDSA_P521_SHA512_FIXED_SIGNING,
    }
}

const CURVES: [Curve; 3] = [Curve::P256, Curve::P384, Curve::P521];

impl PrivateKey {
    /// Reads a PEM private key.
    pub fn from_pem(bytes: &[u8]) -> Result<Self, String> {
        let (label, der) =
            pem_rfc7468::decode_vec(bytes).map_err(|e| format!("invalid PEM: {e}"))?;
        let unreadable = || format!("cannot read this {label}");
        match label {
            "PRIVATE KEY" => {
                if let Ok(k) = RsaKeyPair::from_pkcs8(&der) {
                    return Ok(Self::Rsa(k));
                }
                for curve in CURVES {
                    if let Ok(k) = EcdsaKeyPair::from_pkcs8(ec_signing(curve), &der) {
                        return Ok(Self::Ec(curve, k));
                    }
                }
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                    .map(Self::Ed25519)
                    .map_err(|_| unreadable())
            }
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der)
                .map(Self::Rsa)
                .map_err(|_| unreadable()),
            "EC PRIVATE KEY" => CURVES
                .into_iter()
                .find_map(|curve| {
                    EcdsaKeyPair::from_private_key_der(ec_signing(curve), &der)
                        .ok()
                        .map(|k| Self::Ec(curve, k))
                })
                .ok_or_else(unreadable),
            other => Err(format!(
                "PEM block {other:?}: expected PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY"
            )),
        }
    }

    /// Its public key.
    pub fn public(&self) -> PublicKey {
        let checked = match self {
            Self::Rsa(k) => PublicKey::from_pkcs1(k.public_key().as_ref()),
            Self::Ec(curve, k) => {
                let point = k.public_key().as_ref();
                let len = curve.coordinate_len();
                PublicKey::ec(*curve, &point[1..=len], &point[len + 1..])
            }
            Self::Ed25519(k) => PublicKey::ed25519(k.public_key().as_ref()),
        };
        checked.expect("a key pair's own public key is valid")
    }

    /// Signs `message` with `alg`, which must fit the key.
    pub fn sign(&self, alg: Algorithm, message: &[u8]) -> Result<Vec<u8>, String> {
        let unfit = || format!("a {} key cannot sign {alg}", self.public().describe());
        let failed = |_| format!("signing with {alg} failed");
        match (self, alg.family()) {
            (Self::Rsa(k), Family::Rsa) => {
                let padding: &'static dyn sig::RsaEncoding = match alg {
                    Algorithm::RS256 => &sig::RSA_PKCS1_SHA256,
                    Algorithm::RS384 => &sig::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &sig::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &sig::RSA_PSS_SHA256,
                    Algorithm::PS384 => &sig::RSA_PSS_SHA384,
                    _ => &sig::RSA_PSS_SHA512,
                };
                let mut out = vec![0; k.public_modulus_len()];
                k.sign(padding, &SystemRandom::new(), message, &mut out)
                    .map_err(failed)?;
                Ok(out)
            }
            (Self::Ec(curve, k), Family::Ec(c)) if *curve == c => k
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(failed),
            (Self::Ed25519(k), Family::Ed25519) => Ok(k.sign(message).as_ref().to_vec()),
            _ => Err(unfit()),
        }
    }
}
