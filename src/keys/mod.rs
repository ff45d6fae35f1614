//! Verification keys: loaded from each configured source ([`load_source`]), prepared into a
//! [`KeySet`] per source, and combined into the [`KeyRing`] a Check reads. Each key is pinned
//! to one algorithm. Within a source loading is all-or-nothing (one bad key fails that
//! source); across sources each keeps its own last good set ([`SourceSets`]).

mod algorithm;
mod dir;
mod error;
mod files;
mod jwks;
mod mac;
mod pem;
mod private;
mod public;
mod ring;
mod sources;

use std::fmt;
use std::sync::Arc;

pub use algorithm::{Algorithm, Curve, Family};
pub use dir::{read_dir_snapshot, DirFile, DirLimits, DirSnapshot};
pub use error::KeyError;
pub use jwks::{decode as decode_jwks, decode_set as decode_jwk_set, Jwk};
pub use mac::{fingerprint, MacKey};
pub use private::PrivateKey;
pub use public::{is_small_order, PublicKey, Verifier};
pub use ring::{Key, KeyRing, KeySet};
pub use sources::{Refreshed, SourceOutcome, SourceReport, SourceSets};

use crate::config::{KeyFormat, KeySource, Limits};

/// What a key is made of.
#[derive(Clone)]
pub enum Material {
    /// An HMAC secret.
    Secret(Vec<u8>),
    /// A public key.
    Public(PublicKey),
}

impl Material {
    /// `HMAC 32 bytes`, `RSA 2048`, `EC P-256`, `Ed25519`.
    pub fn describe(&self) -> String {
        match self {
            Material::Secret(s) => format!("HMAC {} bytes", s.len()),
            Material::Public(p) => p.describe(),
        }
    }

    /// HMAC: the first 8 bytes of SHA-256 of the secret, hex; public keys: the RFC 7638
    /// thumbprint. Safe to log.
    pub fn fingerprint(&self) -> String {
        match self {
            Material::Secret(s) => fingerprint(s),
            Material::Public(p) => p.thumbprint(),
        }
    }
}

/// A key as read from disk, before it is prepared for verification. Only the `token` command
/// keeps these; the server turns them into [`Key`]s and drops the bytes.
pub struct LoadedKey {
    /// The key id (file name, or the JWK's `kid` or thumbprint).
    pub kid: String,
    /// The one algorithm this key verifies.
    pub alg: Algorithm,
    /// The secret or public key.
    pub material: Material,
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
            material: Material::Secret(secret.to_vec()),
            source: Arc::from(source),
            warnings: Vec::new(),
        }
    }

    /// A public key (tests and tools).
    pub fn public(kid: &str, alg: Algorithm, key: PublicKey, source: &str) -> Self {
        Self {
            kid: kid.to_string(),
            alg,
            material: Material::Public(key),
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
            .field("key", &self.material.describe())
            .field("fingerprint", &self.material.fingerprint())
            .field("source", &self.source)
            .finish()
    }
}

/// The key of one PEM file named `path` (the fuzzers' entry to the PEM loader).
pub fn parse_pem_key(bytes: &[u8], alg: Algorithm, path: &str) -> Result<LoadedKey, KeyError> {
    let path = std::path::PathBuf::from(path);
    let file = DirFile {
        name: path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        path,
        bytes: bytes.to_vec(),
    };
    files::decode_pem(&file, alg, &Arc::from("pem"))
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
        KeyFormat::Jwks { default_algorithm } => {
            jwks::decode(&snapshot, *default_algorithm, &label)?
        }
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
        let set = KeySet::new(label, load_source(source, limits)?)?;
        sets.push((source.provider, Arc::new(set)));
    }
    KeyRing::from_sets(sets)
}

/// Rejects keys shorter than the algorithm's output (RFC 7518 §3.2 and its strict reading
/// for HS384/HS512).
pub(crate) fn validate_key_len(what: &str, alg: Algorithm, len: usize) -> Result<(), KeyError> {
    let min = alg.mac_len().unwrap_or(0);
    if len < min {
        return Err(KeyError::TooShort {
            what: what.to_string(),
            alg,
            len,
            min,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lk(kid: &str, alg: Algorithm, byte: u8, source: &str) -> LoadedKey {
        LoadedKey::hmac(kid, alg, &[byte; 64], source)
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
        let key = LoadedKey::hmac("k", Algorithm::HS256, &secret, "s");
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
            provider: 0,
            field: "keys[0].dir".into(),
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
