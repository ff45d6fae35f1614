//! `remote.cache_dir`: the last good JWK Set of each provider, kept across restarts so that a
//! restart during an identity-provider outage still serves. One file per provider,
//! `{name}.json`, written atomically (a temp file beside it, fsync, rename) so a crash never
//! leaves half a file; read at startup and used when it is younger than `max_stale`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What is kept: the set as served and where and when it was fetched.
#[derive(Debug, Serialize, Deserialize)]
pub struct Cached {
    /// The provider's issuer (a file of another issuer is ignored).
    pub issuer: String,
    /// The set's URL.
    pub jwks_uri: String,
    /// Unix time of the fetch.
    pub fetched_at: f64,
    /// The set's `ETag`.
    pub etag: Option<String>,
    /// The set's JSON text as served.
    pub jwks: String,
}

/// The cache file of `provider` in `dir`.
pub fn path(dir: &Path, provider: &str) -> PathBuf {
    dir.join(format!("{provider}.json"))
}

/// Writes `cached` atomically.
pub fn write(dir: &Path, provider: &str, cached: &Cached) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let target = path(dir, provider);
    let tmp = dir.join(format!(".{provider}.json.tmp-{}", std::process::id()));
    let text = serde_json::to_vec(cached).map_err(std::io::Error::other)?;
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &target)?;
        // The rename itself is durable once the directory is synced.
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads the cache file of `provider`, if there is a readable one for `issuer`.
pub fn read(
    dir: &Path,
    provider: &str,
    issuer: &str,
    max_bytes: usize,
) -> Result<Option<Cached>, String> {
    let file = path(dir, provider);
    let bytes = match crate::fsread::read_regular(&file, max_bytes as u64 * 2 + 4096) {
        Ok(b) => b,
        Err(crate::fsread::ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None)
        }
        Err(e) => return Err(format!("{}: {e}", file.display())),
    };
    let cached: Cached = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not a jwt-authz cache file: {e}", file.display()))?;
    if cached.issuer != issuer {
        return Err(format!(
            "{}: cached for issuer {:?}, not {issuer:?}: ignored",
            file.display(),
            cached.issuer
        ));
    }
    Ok(Some(cached))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_set_reads_back_and_another_issuers_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let cached = Cached {
            issuer: "https://idp".into(),
            jwks_uri: "https://idp/jwks".into(),
            fetched_at: 1.5e9,
            etag: Some("\"v1\"".into()),
            jwks: r#"{"keys":[]}"#.into(),
        };
        write(dir.path(), "corp", &cached).unwrap();
        let back = read(dir.path(), "corp", "https://idp", 1 << 20)
            .unwrap()
            .unwrap();
        assert_eq!(back.jwks, cached.jwks);
        assert_eq!(back.etag, cached.etag);
        assert!(read(dir.path(), "corp", "https://other", 1 << 20).is_err());
        assert!(read(dir.path(), "none", "https://idp", 1 << 20)
            .unwrap()
            .is_none());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file is left behind");
    }
}
