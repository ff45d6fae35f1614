//! Prepared keys: a [`KeySet`] per source, and the [`KeyRing`] that a Check reads, built from
//! the sets in force. Immutable; a reload builds new ones and reuses the sets that did not
//! change.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{Algorithm, KeyError, LoadedKey, MacKey, Material, Verifier};

/// How a key checks a signature. The HMAC state stays inline (the HS256 hot path clones it
/// on every Check; a box would add a pointer chase), so the variants differ in size: keys are
/// few, the bytes do not matter.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
enum Check {
    /// An HMAC, compared in constant time.
    Mac(MacKey),
    /// A public key prepared for aws-lc-rs.
    Signature(Verifier),
}

/// A verification key, ready for the hot path.
#[derive(Clone, Debug)]
pub struct Key {
    /// Position in the ring (indexes per-key tables such as metric handles).
    pub index: usize,
    /// Key id.
    pub kid: Arc<str>,
    /// The pinned algorithm: a token naming any other `alg` is rejected. Its family is the
    /// key's: an RSA or EC key can never be used as an HMAC secret.
    pub alg: Algorithm,
    /// `HMAC 32 bytes`, `RSA 2048`, `EC P-256`, `Ed25519`.
    pub kind: Arc<str>,
    /// HMAC: first 8 bytes of SHA-256 of the secret, hex; public keys: RFC 7638 thumbprint.
    pub fingerprint: Arc<str>,
    /// The source's label (its directory, or the provider's JWK Set URL).
    pub source: Arc<str>,
    /// The provider whose tokens it verifies (an index into `jwt.providers`).
    pub provider: usize,
    check: Check,
    signature_len: usize,
}

impl Key {
    /// True when `signature` is this key's valid signature (or MAC) of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.check {
            Check::Mac(mac) => mac.verify(message, signature),
            Check::Signature(v) => v.verify(message, signature),
        }
    }

    /// The exact length a signature for this key has.
    pub fn signature_len(&self) -> usize {
        self.signature_len
    }

    /// Prepares a loaded key (`what` names it in errors).
    fn prepare(lk: &LoadedKey) -> Result<Self, KeyError> {
        let unfit = |message: String| KeyError::Unfit {
            what: format!("{} (kid {:?})", lk.source, lk.kid),
            message,
        };
        let (check, signature_len) = match &lk.material {
            Material::Secret(secret) => {
                let mac = MacKey::new(lk.alg, secret)
                    .ok_or_else(|| unfit(format!("a secret cannot verify {}", lk.alg)))?;
                (Check::Mac(mac), lk.alg.mac_len().unwrap_or(0))
            }
            Material::Public(key) => {
                let v = key.prepare(lk.alg).map_err(unfit)?;
                let len = v.signature_len();
                (Check::Signature(v), len)
            }
        };
        Ok(Key {
            index: 0,
            kid: Arc::from(lk.kid.as_str()),
            alg: lk.alg,
            kind: Arc::from(lk.material.describe().as_str()),
            fingerprint: Arc::from(lk.material.fingerprint().as_str()),
            source: lk.source.clone(),
            provider: 0,
            check,
            signature_len,
        })
    }
}

/// The keys of one source (a mounted directory), as last loaded successfully.
#[derive(Debug)]
pub struct KeySet {
    /// The source's label.
    pub source: Arc<str>,
    keys: Vec<Key>,
    digest: [u8; 32],
}

impl KeySet {
    /// Prepares loaded keys; kids must be unique within the set.
    pub fn new(source: Arc<str>, loaded: Vec<LoadedKey>) -> Result<Self, KeyError> {
        let mut hasher = Sha256::new();
        let mut keys: Vec<Key> = Vec::with_capacity(loaded.len());
        for lk in loaded {
            if keys.iter().any(|k| *k.kid == *lk.kid) {
                return Err(KeyError::DuplicateKid {
                    kid: lk.kid,
                    first: source.to_string(),
                    second: lk.source.to_string(),
                });
            }
            let material = match &lk.material {
                Material::Secret(s) => s.clone(),
                Material::Public(p) => p.identity(),
            };
            for part in [
                lk.source.as_bytes(),
                lk.kid.as_bytes(),
                lk.alg.name().as_bytes(),
                &material,
            ] {
                hasher.update((part.len() as u64).to_be_bytes());
                hasher.update(part);
            }
            keys.push(Key::prepare(&lk)?);
        }
        Ok(Self {
            source,
            keys,
            digest: hasher.finalize().into(),
        })
    }

    /// The keys, in load order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// A digest over every key's source, kid, algorithm and bytes.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }
}

/// Every key in force. Immutable; a reload or a fetch builds a new one.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: Vec<Key>,
    sets: Vec<(usize, Arc<KeySet>)>,
    by_kid: HashMap<Arc<str>, Vec<usize>>,
    by_alg: [Vec<usize>; Algorithm::ALL.len()],
    per_provider: Vec<usize>,
    digest: [u8; 32],
}

impl KeyRing {
    /// One ring from loaded keys (tests, tools): a single set of provider 0, kids unique.
    pub fn build(loaded: Vec<LoadedKey>) -> Result<Self, KeyError> {
        let source = loaded
            .first()
            .map_or_else(|| Arc::from(""), |k| k.source.clone());
        Self::from_sets(vec![(0, Arc::new(KeySet::new(source, loaded)?))])
    }

    /// The ring of these sets (each with its provider), in order; a kid twice in one
    /// provider is an error naming both sources (two providers may share a kid).
    pub fn from_sets(sets: Vec<(usize, Arc<KeySet>)>) -> Result<Self, KeyError> {
        let mut ring = KeyRing::default();
        let mut hasher = Sha256::new();
        for (provider, set) in &sets {
            hasher.update((*provider as u64).to_be_bytes());
            hasher.update(set.digest);
            for key in &set.keys {
                if let Some(same) = ring.get_in(*provider, &key.kid) {
                    return Err(KeyError::DuplicateKid {
                        kid: key.kid.to_string(),
                        first: same.source.to_string(),
                        second: key.source.to_string(),
                    });
                }
                let index = ring.keys.len();
                ring.by_kid.entry(key.kid.clone()).or_default().push(index);
                ring.by_alg[key.alg.index()].push(index);
                if ring.per_provider.len() <= *provider {
                    ring.per_provider.resize(provider + 1, 0);
                }
                ring.per_provider[*provider] += 1;
                ring.keys.push(Key {
                    index,
                    provider: *provider,
                    ..key.clone()
                });
            }
        }
        ring.sets = sets;
        ring.digest = hasher.finalize().into();
        Ok(ring)
    }

    /// The first key with this kid (of any provider).
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.with_kid(kid).next()
    }

    /// Every key with this kid, one per provider at most, in load order.
    pub fn with_kid(&self, kid: &str) -> impl ExactSizeIterator<Item = &Key> {
        self.by_kid
            .get(kid)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|&i| &self.keys[i])
    }

    /// The key of `provider` with this kid.
    pub fn get_in(&self, provider: usize, kid: &str) -> Option<&Key> {
        self.with_kid(kid).find(|k| k.provider == provider)
    }

    /// Keys pinned to `alg`, in load order (for tokens without a kid).
    pub fn with_alg(&self, alg: Algorithm) -> impl ExactSizeIterator<Item = &Key> {
        self.by_alg[alg.index()].iter().map(|&i| &self.keys[i])
    }

    /// All keys in load order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The sets the ring was built from, with their providers.
    pub fn sets(&self) -> &[(usize, Arc<KeySet>)] {
        &self.sets
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Number of keys of `provider`.
    pub fn provider_len(&self, provider: usize) -> usize {
        self.per_provider.get(provider).copied().unwrap_or(0)
    }

    /// True when no key is loaded: the server cannot decide and answers UNAVAILABLE.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// A digest over the sets: equal digests mean an identical ring.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }
}
