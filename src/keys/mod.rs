//! The key ring: every verification key from every configured source, each pinned to one
//! algorithm. Loading is all-or-nothing: one bad key fails the whole set, so a broken Secret
//! never replaces a working key ring.

mod dir;
mod error;
mod files;
mod jwks;
mod mac;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use dir::{read_dir_snapshot, DirFile, DirSnapshot};
pub use error::KeyError;
pub use jwks::decode as decode_jwks;
pub use mac::{fingerprint, Algorithm, MacKey};

use crate::config::{KeyFormat, KeySource, Limits};

/// A key as read from disk, before it is prepared for verification. Only the `token` command
/// keeps these; the server turns them into [`Key`]s and drops the bytes.
pub struct LoadedKey {
    /// The key id (file name, or the JWK's `kid`).
    pub kid: String,
    /// The one algorithm this key verifies.
    pub alg: Algorithm,
    /// The secret bytes.
    pub secret: Vec<u8>,
    /// The source's label (its directory).
    pub source: Arc<str>,
    /// Non-fatal findings, e.g. a trailing newline in a raw key file.
    pub warnings: Vec<String>,
}

impl fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("len", &self.secret.len())
            .field("fingerprint", &fingerprint(&self.secret))
            .field("source", &self.source)
            .finish()
    }
}

/// A verification key, ready for the hot path.
#[derive(Debug)]
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
    pub fingerprint: String,
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

/// Every key from every source. Immutable; a reload builds a new one.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: Vec<Key>,
    by_kid: HashMap<Arc<str>, usize>,
    by_alg: [Vec<usize>; 3],
    digest: [u8; 32],
}

impl KeyRing {
    /// Builds the ring, rejecting duplicate kids across sources.
    pub fn build(loaded: Vec<LoadedKey>) -> Result<Self, KeyError> {
        let mut ring = KeyRing::default();
        let mut hasher = Sha256::new();
        for lk in loaded {
            let kid: Arc<str> = Arc::from(lk.kid.as_str());
            if let Some(&i) = ring.by_kid.get(&kid) {
                return Err(KeyError::DuplicateKid {
                    kid: lk.kid,
                    first: ring.keys[i].source.to_string(),
                    second: lk.source.to_string(),
                });
            }
            for part in [
                lk.source.as_bytes(),
                lk.kid.as_bytes(),
                lk.alg.name().as_bytes(),
            ] {
                hasher.update((part.len() as u64).to_be_bytes());
                hasher.update(part);
            }
            hasher.update((lk.secret.len() as u64).to_be_bytes());
            hasher.update(&lk.secret);
            let index = ring.keys.len();
            ring.by_kid.insert(kid.clone(), index);
            ring.by_alg[lk.alg.index()].push(index);
            ring.keys.push(Key {
                index,
                kid,
                alg: lk.alg,
                len: lk.secret.len(),
                fingerprint: fingerprint(&lk.secret),
                source: lk.source,
                mac: MacKey::new(lk.alg, &lk.secret),
            });
        }
        ring.digest = hasher.finalize().into();
        Ok(ring)
    }

    /// Loads every source and builds the ring (the server's path).
    pub fn load(sources: &[KeySource], limits: &Limits) -> Result<Self, KeyError> {
        Self::build(load_sources(sources, limits)?)
    }

    /// The key with this kid.
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.by_kid.get(kid).map(|&i| &self.keys[i])
    }

    /// Keys pinned to `alg`, in load order (for tokens without a kid).
    pub fn with_alg(&self, alg: Algorithm) -> impl Iterator<Item = &Key> {
        self.by_alg[alg.index()].iter().map(|&i| &self.keys[i])
    }

    /// All keys in load order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key is loaded: the server cannot decide and answers UNAVAILABLE.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// A digest over every key's source, kid, algorithm and bytes: equal digests mean an
    /// identical ring, so a spurious reload can be skipped.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }
}

/// Reads every key of every source (all-or-nothing). The bytes are returned: callers other
/// than `token` should use [`KeyRing::load`].
pub fn load_sources(sources: &[KeySource], limits: &Limits) -> Result<Vec<LoadedKey>, KeyError> {
    let mut all = Vec::new();
    for source in sources {
        let snapshot = read_dir_snapshot(&source.dir, limits.max_key_file_bytes)?;
        let label: Arc<str> = Arc::from(source.label.as_str());
        let keys = match &source.format {
            KeyFormat::Files {
                encoding,
                algorithm,
            } => files::decode(&snapshot, *encoding, *algorithm, &label)?,
            KeyFormat::Jwks => jwks::decode(&snapshot, &label)?,
        };
        if keys.len() > limits.max_keys_per_source {
            return Err(KeyError::TooManyKeys {
                dir: source.label.clone(),
                count: keys.len(),
                max: limits.max_keys_per_source,
            });
        }
        all.extend(keys);
    }
    Ok(all)
}

/// Rejects keys shorter than the algorithm's output (RFC 7518 §3.2 and its strict reading
/// for HS384/HS512).
pub fn validate_key_len(what: &str, alg: Algorithm, len: usize) -> Result<(), KeyError> {
    if len < alg.output_len() {
        return Err(KeyError::TooShort {
            what: what.to_string(),
            alg,
            len,
            min: alg.output_len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lk(kid: &str, alg: Algorithm, byte: u8, source: &str) -> LoadedKey {
        LoadedKey {
            kid: kid.into(),
            alg,
            secret: vec![byte; 64],
            source: Arc::from(source),
            warnings: vec![],
        }
    }

    #[test]
    fn ring_indexes_by_kid_and_algorithm() {
        let ring = KeyRing::build(vec![
            lk("a", Algorithm::HS256, 1, "s1"),
            lk("b", Algorithm::HS512, 2, "s1"),
            lk("c", Algorithm::HS256, 3, "s2"),
        ])
        .unwrap();
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.get("b").unwrap().alg, Algorithm::HS512);
        assert!(ring.get("d").is_none());
        let hs256: Vec<_> = ring.with_alg(Algorithm::HS256).map(|k| &*k.kid).collect();
        assert_eq!(hs256, ["a", "c"]);
        assert_eq!(ring.with_alg(Algorithm::HS384).count(), 0);
    }

    #[test]
    fn duplicate_kids_across_sources_are_rejected() {
        let err = KeyRing::build(vec![
            lk("a", Algorithm::HS256, 1, "/s1"),
            lk("a", Algorithm::HS256, 2, "/s2"),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "duplicate kid \"a\": in /s1 and in /s2 (kids must be unique across all key sources)"
        );
    }

    #[test]
    fn digest_changes_with_any_key_byte() {
        let a = KeyRing::build(vec![lk("a", Algorithm::HS256, 1, "s")]).unwrap();
        let same = KeyRing::build(vec![lk("a", Algorithm::HS256, 1, "s")]).unwrap();
        let other = KeyRing::build(vec![lk("a", Algorithm::HS256, 2, "s")]).unwrap();
        assert_eq!(a.digest(), same.digest());
        assert_ne!(a.digest(), other.digest());
    }

    #[test]
    fn debug_never_shows_secret_bytes() {
        let secret = b"super-secret-value-that-must-not-leak!!".to_vec();
        let key = LoadedKey {
            kid: "k".into(),
            alg: Algorithm::HS256,
            secret: secret.clone(),
            source: Arc::from("s"),
            warnings: vec![],
        };
        let loaded_debug = format!("{key:?}");
        let ring = KeyRing::build(vec![key]).unwrap();
        for text in [loaded_debug, format!("{ring:?}")] {
            assert!(!text.contains("super-secret"), "{text}");
            assert!(text.contains(&fingerprint(&secret)), "{text}");
        }
    }

    #[test]
    fn sources_are_limited_in_key_count_and_all_or_nothing() {
        use crate::config::{KeyEncoding, KeyFormat, KeySource, Limits};
        let dir = tempfile::tempdir().unwrap();
        for name in ["a", "b"] {
            std::fs::write(dir.path().join(name), [7u8; 32]).unwrap();
        }
        let source = KeySource {
            dir: dir.path().to_path_buf(),
            format: KeyFormat::Files {
                encoding: KeyEncoding::Raw,
                algorithm: Algorithm::HS256,
            },
            label: "keys".into(),
        };
        let limits = Limits {
            max_keys_per_source: 1,
            ..Limits::default()
        };
        let err = load_sources(std::slice::from_ref(&source), &limits).unwrap_err();
        assert_eq!(
            err.to_string(),
            "keys: 2 keys, more than limits.max_keys_per_source (1)"
        );
        assert_eq!(
            KeyRing::load(std::slice::from_ref(&source), &Limits::default())
                .unwrap()
                .len(),
            2
        );
        // One bad key fails the whole set.
        std::fs::write(dir.path().join("c"), b"short").unwrap();
        assert!(KeyRing::load(&[source], &Limits::default()).is_err());
    }

    #[test]
    fn short_keys_are_rejected_per_algorithm() {
        assert!(validate_key_len("k", Algorithm::HS256, 32).is_ok());
        assert!(validate_key_len("k", Algorithm::HS256, 31).is_err());
        assert!(validate_key_len("k", Algorithm::HS384, 47).is_err());
        assert!(validate_key_len("k", Algorithm::HS512, 63).is_err());
        assert!(validate_key_len("k", Algorithm::HS512, 64).is_ok());
    }
}
