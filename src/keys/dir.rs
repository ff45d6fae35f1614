//! Reads a key directory as one consistent snapshot, following the kubelet's atomic-writer
//! layout: `..data` is a symlink to a timestamped directory holding the real files, swapped by
//! one rename. We read the target of `..data`, then check that `..data` still points there,
//! and retry when it moved or a file vanished mid-read. A plain directory (no `..data`) is read
//! as is. Names starting with `.` are skipped (the kubelet's own entries).

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::KeyError;

const ATTEMPTS: usize = 5;

/// One regular file of a snapshot.
pub struct DirFile {
    /// The file name (the kid, for `format: files`).
    pub name: String,
    /// Its path as read.
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for DirFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirFile")
            .field("name", &self.name)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// The files of a directory at one instant.
#[derive(Debug)]
pub struct DirSnapshot {
    /// Regular files, sorted by name.
    pub files: Vec<DirFile>,
    /// Where `..data` pointed, when the directory is a kubelet volume.
    pub data_target: Option<PathBuf>,
}

/// Reads `dir` consistently (see the module docs).
pub fn read_dir_snapshot(dir: &Path, max_file_bytes: usize) -> Result<DirSnapshot, KeyError> {
    let mut last_err = None;
    for _ in 0..ATTEMPTS {
        match try_read(dir, max_file_bytes) {
            Ok(Some(snapshot)) => return Ok(snapshot),
            Ok(None) => {}
            Err(e @ KeyError::Io { .. }) if is_transient(&e) && dir.exists() => last_err = Some(e),
            Err(e) => return Err(e),
        }
        std::thread::yield_now();
    }
    Err(last_err.unwrap_or(KeyError::Unstable {
        dir: dir.to_path_buf(),
        attempts: ATTEMPTS,
    }))
}

fn is_transient(e: &KeyError) -> bool {
    matches!(e, KeyError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
}

/// One attempt: `Ok(None)` when `..data` moved during the read.
fn try_read(dir: &Path, max_file_bytes: usize) -> Result<Option<DirSnapshot>, KeyError> {
    let link = dir.join("..data");
    let target = match fs::read_link(&link) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        // `..data` exists but is not a symlink: not a kubelet layout, read the directory.
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => None,
        Err(source) => return Err(KeyError::Io { path: link, source }),
    };
    let read_from = match &target {
        Some(t) => dir.join(t),
        None => dir.to_path_buf(),
    };
    let files = read_files(&read_from, max_file_bytes)?;
    if let Some(t) = &target {
        match fs::read_link(&link) {
            Ok(now) if &now == t => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(KeyError::Io { path: link, source }),
        }
    }
    Ok(Some(DirSnapshot {
        files,
        data_target: target,
    }))
}

fn read_files(dir: &Path, max_file_bytes: usize) -> Result<Vec<DirFile>, KeyError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KeyError::Io { path, source }
    };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(KeyError::BadName { path });
        };
        if name.starts_with('.') {
            continue;
        }
        // Follow symlinks: the kubelet's visible names are links into `..data`.
        let meta = fs::metadata(&path).map_err(io_err(&path))?;
        if !meta.is_file() {
            continue;
        }
        if meta.len() > max_file_bytes as u64 {
            return Err(KeyError::FileTooLarge {
                path,
                size: meta.len(),
                max: max_file_bytes,
            });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        fs::File::open(&path)
            .and_then(|f| f.take(max_file_bytes as u64 + 1).read_to_end(&mut bytes))
            .map_err(io_err(&path))?;
        if bytes.len() > max_file_bytes {
            return Err(KeyError::FileTooLarge {
                path,
                size: bytes.len() as u64,
                max: max_file_bytes,
            });
        }
        files.push(DirFile { name, path, bytes });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn plain_directory_skips_dot_files_and_subdirectories() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("b"), b"2").unwrap();
        fs::write(dir.path().join("a"), b"1").unwrap();
        fs::write(dir.path().join(".hidden"), b"x").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        let snap = read_dir_snapshot(dir.path(), 1024).unwrap();
        let names: Vec<_> = snap.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(snap.data_target.is_none());
    }

    #[test]
    fn kubelet_layout_reads_the_data_target() {
        let dir = tempfile::tempdir().unwrap();
        let ts = dir.path().join("..2026_11_28_10_00_00.1");
        fs::create_dir(&ts).unwrap();
        fs::write(ts.join("k1"), b"one").unwrap();
        symlink("..2026_11_28_10_00_00.1", dir.path().join("..data")).unwrap();
        symlink("..data/k1", dir.path().join("k1")).unwrap();
        // A stale visible link to a key that is no longer in ..data is not read.
        symlink("..data/gone", dir.path().join("gone")).unwrap();
        let snap = read_dir_snapshot(dir.path(), 1024).unwrap();
        assert_eq!(snap.files.len(), 1);
        assert_eq!(snap.files[0].name, "k1");
        assert_eq!(snap.files[0].bytes, b"one");
        assert_eq!(
            snap.data_target.as_deref(),
            Some(Path::new("..2026_11_28_10_00_00.1"))
        );
    }

    #[test]
    fn oversized_files_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("big"), vec![b'x'; 11]).unwrap();
        let err = read_dir_snapshot(dir.path(), 10).unwrap_err();
        assert!(matches!(
            err,
            KeyError::FileTooLarge {
                size: 11,
                max: 10,
                ..
            }
        ));
    }

    #[test]
    fn non_utf8_names_cannot_be_kids() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(std::ffi::OsStr::from_bytes(b"k\xff")), b"x").unwrap();
        let err = read_dir_snapshot(dir.path(), 10).unwrap_err();
        assert!(matches!(err, KeyError::BadName { .. }), "{err}");
        assert!(err.to_string().contains("not valid UTF-8"));
    }

    #[test]
    fn missing_directory_is_not_found() {
        let err = read_dir_snapshot(Path::new("/nonexistent/jwt-authz-keys"), 10).unwrap_err();
        assert!(err.is_not_found(), "{err}");
    }
}
