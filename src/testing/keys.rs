//! Key pairs generated for tests (never committed) and tokens signed with them.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::keys::{Algorithm, Curve, KeyRing, LoadedKey, PrivateKey};

/// A fresh RSA key pair of 2048 bits.
pub fn rsa_key() -> PrivateKey {
    PrivateKey::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"))
}

/// A fresh EC key pair on `curve`.
pub fn ec_key(curve: Curve) -> PrivateKey {
    let alg = match curve {
        Curve::P256 => &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        Curve::P384 => &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        Curve::P521 => &aws_lc_rs::signature::ECDSA_P521_SHA512_FIXED_SIGNING,
    };
    PrivateKey::Ec(
        curve,
        EcdsaKeyPair::generate(alg).expect("EC key generation"),
    )
}

/// A fresh Ed25519 key pair.
pub fn ed25519_key() -> PrivateKey {
    PrivateKey::Ed25519(Ed25519KeyPair::generate().expect("Ed25519 key generation"))
}

/// The public JWK of `key` with `kid` and `alg` (either may be left out).
pub fn jwk(key: &PrivateKey, kid: Option<&str>, alg: Option<Algorithm>) -> serde_json::Value {
    let mut jwk = key.public().to_jwk();
    if let Some(k) = kid {
        jwk["kid"] = k.into();
    }
    if let Some(a) = alg {
        jwk["alg"] = a.name().into();
    }
    jwk
}

/// A compact JWS over arbitrary header and payload JSON, signed by `key` with `alg`.
pub fn sign_with(
    key: &PrivateKey,
    alg: Algorithm,
    header_json: &str,
    payload_json: &str,
) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header_json),
        URL_SAFE_NO_PAD.encode(payload_json)
    );
    let signature = key
        .sign(alg, input.as_bytes())
        .expect("the key fits the algorithm");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The claims of [`super::bench_token`] signed by `key` with `alg`, header `kid` = `kid`.
pub fn bench_token_signed(key: &PrivateKey, alg: Algorithm, kid: &str, iat: u64) -> String {
    let header = format!(r#"{{"alg":"{}","typ":"JWT","kid":"{kid}"}}"#, alg.name());
    sign_with(key, alg, &header, &super::bench_claims(iat))
}

/// Keys for the public-key benches: one RSA key (for RS* and PS*), one per EC curve, one
/// Ed25519 key, generated fresh.
pub struct PublicBench {
    /// Each public-key algorithm with the private key that signs for it; in the ring its kid
    /// is the algorithm's name (`RS256`, ..., `EdDSA`).
    pub keys: Vec<(Algorithm, std::sync::Arc<PrivateKey>)>,
    /// These public keys beside [`super::bench_keyring`]`(5)`'s HMAC keys.
    pub ring: KeyRing,
    /// The same keys as fetched by provider `corp` of [`super::bench_provider_config`] (index
    /// 0), the HMAC keys as its top-level keys (index 1).
    pub provider_ring: KeyRing,
}

/// Generates the keys of [`PublicBench`].
pub fn bench_public_keys() -> PublicBench {
    use std::sync::Arc;
    let rsa = Arc::new(rsa_key());
    let p256 = Arc::new(ec_key(Curve::P256));
    let p384 = Arc::new(ec_key(Curve::P384));
    let p521 = Arc::new(ec_key(Curve::P521));
    let ed = Arc::new(ed25519_key());
    let keys: Vec<(Algorithm, Arc<PrivateKey>)> = Algorithm::ALL
        .into_iter()
        .filter_map(|alg| {
            let key = match alg {
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => return None,
                Algorithm::ES256 => &p256,
                Algorithm::ES384 => &p384,
                Algorithm::ES512 => &p521,
                Algorithm::EdDSA => &ed,
                _ => &rsa,
            };
            Some((alg, Arc::clone(key)))
        })
        .collect();
    let public = || -> Vec<LoadedKey> {
        keys.iter()
            .map(|(alg, key)| LoadedKey::public(alg.name(), *alg, key.public(), "bench"))
            .collect()
    };
    let mut loaded: Vec<LoadedKey> = super::bench_hmac_keys(5);
    loaded.extend(public());
    let set = |loaded: Vec<LoadedKey>| {
        Arc::new(crate::keys::KeySet::new(Arc::from("bench"), loaded).expect("distinct kids"))
    };
    let provider_ring = KeyRing::from_sets(vec![
        (1, set(super::bench_hmac_keys(5))),
        (0, set(public())),
    ])
    .expect("distinct kids");
    PublicBench {
        ring: KeyRing::build(loaded).expect("distinct kids"),
        provider_ring,
        keys,
    }
}

impl PrivateKey {
    /// The private key as PKCS#8 PEM (tests write it for `jwt-authz token --private-key`).
    pub fn to_pkcs8_pem(&self) -> String {
        let der: Vec<u8> = match self {
            PrivateKey::Rsa(k) => AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(k)
                .expect("RSA PKCS#8")
                .as_ref()
                .to_vec(),
            PrivateKey::Ec(_, k) => k.to_pkcs8v1().expect("EC PKCS#8").as_ref().to_vec(),
            PrivateKey::Ed25519(k) => k.to_pkcs8v1().expect("Ed25519 PKCS#8").as_ref().to_vec(),
        };
        pem_rfc7468::encode_string("PRIVATE KEY", pem_rfc7468::LineEnding::LF, &der)
            .expect("PEM encoding")
    }

    /// The public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn to_public_pem(&self) -> String {
        let der: Vec<u8> = match self {
            PrivateKey::Rsa(k) => {
                AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(k.public_key())
                    .expect("RSA SPKI")
                    .as_ref()
                    .to_vec()
            }
            PrivateKey::Ec(_, k) => {
                AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(k.public_key())
                    .expect("EC SPKI")
                    .as_ref()
                    .to_vec()
            }
            PrivateKey::Ed25519(k) => {
                AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(k.public_key())
                    .expect("Ed25519 SPKI")
                    .as_ref()
                    .to_vec()
            }
        };
        pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &der)
            .expect("PEM encoding")
    }
}

/// A JOSE ECDSA signature (`r || s`, two halves of equal length) DER-encoded as an ASN.1
/// SEQUENCE of two INTEGERs: the form a JWS must never carry (RFC 7518 §3.4).
pub fn ecdsa_der(jose: &[u8]) -> Vec<u8> {
    let int = |b: &[u8]| {
        let b = &b[b.iter().position(|&x| x != 0).unwrap_or(b.len() - 1)..];
        let pad = b[0] & 0x80 != 0;
        let mut out = vec![2, (b.len() + usize::from(pad)) as u8];
        if pad {
            out.push(0);
        }
        out.extend_from_slice(b);
        out
    };
    let (r, s) = jose.split_at(jose.len() / 2);
    let body = [int(r), int(s)].concat();
    [&[0x30, body.len() as u8][..], &body].concat()
}
