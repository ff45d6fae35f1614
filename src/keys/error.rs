//! Why a key set could not be loaded. Messages name the file and the key, never the key bytes.

use std::io;
use std::path::PathBuf;

use super::Algorithm;

/// A key source that could not be loaded. Any of these rejects the whole key set.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The directory or a file in it could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The directory changed on every attempt to read a consistent snapshot.
    #[error("{}: the directory kept changing while it was read ({attempts} attempts)", dir.display())]
    Unstable {
        /// The directory.
        dir: PathBuf,
        /// How many attempts were made.
        attempts: usize,
    },
    /// A file is larger than `limits.max_key_file_bytes`.
    #[error("{}: file is {size} bytes, larger than limits.max_key_file_bytes ({max})", path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        max: usize,
    },
    /// A symlink in a key directory resolves outside it.
    #[error("{}: resolves to {}, outside the key directory (symlinks must stay inside the mounted volume)", path.display(), target.display())]
    OutsideDir {
        /// The link.
        path: PathBuf,
        /// Where it leads.
        target: PathBuf,
    },
    /// A directory holds more files than its source may have keys.
    #[error("{}: more than {max} files (limits.max_keys_per_source)", dir.display())]
    TooManyFiles {
        /// The directory.
        dir: PathBuf,
        /// The limit.
        max: usize,
    },
    /// A directory's files are larger together than `limits.max_source_bytes`.
    #[error("{}: its files together exceed limits.max_source_bytes ({max})", dir.display())]
    SourceTooLarge {
        /// The directory.
        dir: PathBuf,
        /// The limit.
        max: usize,
    },
    /// A file name is not valid UTF-8 or has a control character, so it cannot be a kid (a
    /// kid is a log field and a metric label).
    #[error("{path:?}: file name is not valid UTF-8 or has a control character, and cannot be used as a kid")]
    BadName {
        /// The file.
        path: PathBuf,
    },
    /// A key's bytes could not be decoded (base64 or JWK `k`).
    #[error("{what}: {message}")]
    Encoding {
        /// Which key (file, or file + JWK index).
        what: String,
        /// What is wrong.
        message: String,
    },
    /// A key is shorter than its algorithm's output.
    #[error("{what}: {len}-byte key is too short for {alg} (at least {min} bytes required)")]
    TooShort {
        /// Which key.
        what: String,
        /// The pinned algorithm.
        alg: Algorithm,
        /// The key's length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// A JWK Set file is not valid, or one of its keys is not usable.
    #[error("{what}: {message}")]
    Jwks {
        /// Which file or key.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// A key cannot verify its configured algorithm (an RSA key pinned to ES256, say).
    #[error("{what}: {message}")]
    Unfit {
        /// Which key.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// A key file or JWK holds a key that is not acceptable (a private key, a weak RSA key, a
    /// point off its curve...).
    #[error("{what}: {message}")]
    BadKey {
        /// Which file or key.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// The same kid appears twice.
    #[error("duplicate kid {kid:?}: in {first} and in {second} (kids must be unique across all key sources)")]
    DuplicateKid {
        /// The kid.
        kid: String,
        /// Where it was first seen.
        first: String,
        /// Where it was seen again.
        second: String,
    },
    /// A source holds no key (a failed Secret update can leave the volume empty).
    #[error("{dir}: no keys found")]
    Empty {
        /// The source.
        dir: String,
    },
    /// A source holds more keys than `limits.max_keys_per_source`.
    #[error("{dir}: {count} keys, more than limits.max_keys_per_source ({max})")]
    TooManyKeys {
        /// The source.
        dir: String,
        /// How many keys it holds.
        count: usize,
        /// The limit.
        max: usize,
    },
}

impl KeyError {
    /// True when the error only means a directory does not exist (yet): the Secret may
    /// arrive later, so the server starts and waits.
    pub fn is_not_found(&self) -> bool {
        matches!(self, KeyError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}
