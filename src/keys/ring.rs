//! Prepared keys: a [`KeySet`] per source, and the [`KeyRing`] that a Check reads, built from
//! the sets in force. Immutable; a reload builds new ones and reuses the sets that did not
//! change.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{fingerprint, Algorithm, KeyError, LoadedKey, MacKey};

/// A verification key, ready for the hot path.
#[derive(Clone, Debug)]
pub struct Key {
    /// Position in the ring (indexes per-key tables such as metric handles).
    pub index: usize,
    /// Key id.
    pub kid: Arc<str>,
    /// The pinned algorithm: a token naming any other `alg` is rejected.
    pub alg: Algorithm,
    /// Key length in bytes.
    pub len: usize,
    /// First 8 bytes of SHA-256 of the key, hex.
    pub fingerprint: Arc<str>,
    /// The source's label (its directory).
    pub source: Arc<str>,
    mac: MacKey,
}

impl Key {
    /// Constant-time check that `signature` is this key's MAC of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.mac.verify(message, signature)
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
            for part in [
                lk.source.as_bytes(),
                lk.kid.as_bytes(),
                lk.alg.name().as_bytes(),
                &lk.secret,
            ] {
                hasher.update((part.len() as u64).to_be_bytes());
                hasher.update(part);
            }
            keys.push(Key {
                index: 0,
                kid: Arc::from(lk.kid.as_str()),
                alg: lk.alg,
                len: lk.secret.len(),
                fingerprint: Arc::from(fingerprint(&lk.secret).as_str()),
                source: lk.source.clone(),
                mac: MacKey::new(lk.alg, &lk.secret),
            });
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

/// Every key in force. Immutable; a reload builds a new one.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: Vec<Key>,
    sets: Vec<Arc<KeySet>>,
    by_kid: HashMap<Arc<str>, usize>,
    by_alg: [Vec<usize>; Algorithm::ALL.len()],
    digest: [u8; 32],
}

impl KeyRing {
    /// One ring from loaded keys (tests, tools): a single set, kids unique.
    pub fn build(loaded: Vec<LoadedKey>) -> Result<Self, KeyError> {
        let source = loaded
            .first()
            .map_or_else(|| Arc::from(""), |k| k.source.clone());
        Self::from_sets(vec![Arc::new(KeySet::new(source, loaded)?)])
    }

    /// The ring of these sets, in order; a kid in two sets is an error naming both.
    pub fn from_sets(sets: Vec<Arc<KeySet>>) -> Result<Self, KeyError> {
        let mut ring = KeyRing::default();
        let mut hasher = Sha256::new();
        for set in &sets {
            hasher.update(set.digest);
            for key in &set.keys {
                if let Some(&i) = ring.by_kid.get(&key.kid) {
                    return Err(KeyError::DuplicateKid {
                        kid: key.kid.to_string(),
                        first: ring.keys[i].source.to_string(),
                        second: key.source.to_string(),
                    });
                }
                let index = ring.keys.len();
                ring.by_kid.insert(key.kid.clone(), index);
                ring.by_alg[key.alg.index()].push(index);
                ring.keys.push(Key {
                    index,
                    ..key.clone()
                });
            }
        }
        ring.sets = sets;
        ring.digest = hasher.finalize().into();
        Ok(ring)
    }

    /// The key with this kid.
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.by_kid.get(kid).map(|&i| &self.keys[i])
    }

    /// Keys pinned to `alg`, in load order (for tokens without a kid).
    pub fn with_alg(&self, alg: Algorithm) -> impl ExactSizeIterator<Item = &Key> {
        self.by_alg[alg.index()].iter().map(|&i| &self.keys[i])
    }

    /// All keys in load order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The sets the ring was built from.
    pub fn sets(&self) -> &[Arc<KeySet>] {
        &self.sets
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
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
