//! Verification keys: loaded from each configured source ([`load_source`]), prepared into a
//! [`KeySet`] per source, and combined into the [`KeyRing`] a Check reads. Each key is pinned
//! to one algorithm. Within a source loading is all-or-nothing (one bad key fails that
//! source); across sources each keeps its own last good set ([`SourceSets`]).

mod dir;
mod error;
mod files;
mod jwks;
mod mac;
mod ring;
mod sources;

use std::fmt;
use std::sync::Arc;

pub use dir::{read_dir_snapshot, DirFile, DirLimits, DirSnapshot};
pub use error::KeyError;
pub use jwks::decode as decode_jwks;
pub use mac::{fingerprint, Algorithm, MacKey};
pub use ring::{Key, KeyRing, KeySet};
pub use sources::{Refreshed, SourceOutcome, SourceReport, SourceSets};

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

impl LoadedKey {
    /// An HMAC key (tests and tools).
    pub fn hmac(kid: &str, alg: Algorithm, secret: &[u8], source: &str) -> Self {
        Self {
            kid: kid.to_string(),
            alg,
            secret: secret.to_vec(),
            source: Arc::from(source),
            warnings: Vec::new(),
        }
    }
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

/// Reads one source's keys (all-or-nothing within the source).
pub fn load_source(source: &KeySource, limits: &Limits) -> Result<Vec<LoadedKey>, KeyError> {
    let dir_limits = DirLimits {
        max_file_bytes: limits.max_key_file_bytes,
        max_files: limits.max_keys_per_source,
        max_total_bytes: limits.max_source_bytes,
    };
    let snapshot = read_dir_snapshot(&source.dir, &dir_limits)?;
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
    Ok(keys)
}

/// Reads every key of every source, failing on the first error (`validate`, `token`).
pub fn load_sources(sources: &[KeySource], limits: &Limits) -> Result<Vec<LoadedKey>, KeyError> {
    let mut all = Vec::new();
    for source in sources {
        all.extend(load_source(source, limits)?);
    }
    Ok(all)
}

/// Loads every source strictly into one ring (`explain`): any error is an error.
pub fn load_ring(sources: &[KeySource], limits: &Limits) -> Result<KeyRing, KeyError> {
    let mut sets = Vec::with_capacity(sources.len());
    for source in sources {
        let label: Arc<str> = Arc::from(source.label.as_str());
        sets.push(Arc::new(KeySet::new(label, load_source(source, limits)?)?));
    }
    KeyRing::from_sets(sets)
}

/// Rejects keys shorter than the algorithm's output (RFC 7518 §3.2 and its strict reading
/// for HS384/HS512).
pub(crate) fn validate_key_len(what: &str, alg: Algorithm, len: usize) -> Result<(), KeyError> {
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
            format!(
                "{}: more than 1 files (limits.max_keys_per_source)",
                dir.path().display()
            ),
            "refused before any file is read"
        );
        assert_eq!(
            load_ring(std::slice::from_ref(&source), &Limits::default())
                .unwrap()
                .len(),
            2
        );
        // One bad key fails the whole set.
        std::fs::write(dir.path().join("c"), b"short").unwrap();
        assert!(load_ring(&[source], &Limits::default()).is_err());
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
