//! Reads a key directory as one consistent snapshot, following the kubelet's atomic-writer
//! layout: `..data` is a symlink to a timestamped directory holding the real files, swapped by
//! one rename. We read the target of `..data`, then check that `..data` still points there,
//! and retry when it moved or a file vanished mid-read. A plain directory (no `..data`) is read
//! as is. Names starting with `.` are skipped (the kubelet's own entries).
//!
//! Nothing in the volume can make the reader misbehave: every symlink (`..data` and the files
//! it reaches) must resolve inside the mounted directory; the number of files and their total
//! size are checked before any file is read; files are opened without blocking and read only
//! when regular (a FIFO cannot stall the reloader).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::KeyError;
use crate::fsread::{self, ReadError};

/// What one source's directory may hold.
#[derive(Clone, Copy, Debug)]
pub struct DirLimits {
    /// Largest single file.
    pub max_file_bytes: usize,
    /// Most files.
    pub max_files: usize,
    /// Most bytes of all files together.
    pub max_total_bytes: usize,
}

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
pub fn read_dir_snapshot(dir: &Path, limits: &DirLimits) -> Result<DirSnapshot, KeyError> {
    let mut last_err = None;
    for _ in 0..ATTEMPTS {
        match try_read(dir, limits) {
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
fn try_read(dir: &Path, limits: &DirLimits) -> Result<Option<DirSnapshot>, KeyError> {
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
    let root = fs::canonicalize(dir).map_err(|source| KeyError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if target.is_some() {
        inside(&root, &read_from)?;
    }
    let files = read_files(&root, &read_from, limits)?;
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

/// Fails unless `path` resolves to a place inside `root` (both canonical once resolved).
fn inside(root: &Path, path: &Path) -> Result<(), KeyError> {
    match fs::canonicalize(path) {
        Ok(resolved) if resolved.starts_with(root) => Ok(()),
        Ok(resolved) => Err(KeyError::OutsideDir {
            path: path.to_path_buf(),
            target: resolved,
        }),
        Err(source) => Err(KeyError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn read_files(root: &Path, dir: &Path, limits: &DirLimits) -> Result<Vec<DirFile>, KeyError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KeyError::Io { path, source }
    };
    // First the names, kinds and sizes, without opening anything.
    let mut candidates = Vec::new();
    let mut total: u64 = 0;
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let Some(name) = entry
            .file_name()
            .to_str()
            .filter(|n| !n.chars().any(char::is_control))
            .map(str::to_owned)
        else {
            return Err(KeyError::BadName { path });
        };
        if name.starts_with('.') {
            continue;
        }
        if fs::symlink_metadata(&path)
            .map_err(io_err(&path))?
            .file_type()
            .is_symlink()
        {
            inside(root, &path)?;
        }
        // Follow symlinks: the kubelet's visible names are links into `..data`.
        let meta = fs::metadata(&path).map_err(io_err(&path))?;
        if !meta.is_file() {
            continue;
        }
        if meta.len() > limits.max_file_bytes as u64 {
            return Err(KeyError::FileTooLarge {
                path,
                size: meta.len(),
                max: limits.max_file_bytes,
            });
        }
        total += meta.len();
        candidates.push((name, path));
        if candidates.len() > limits.max_files {
            return Err(KeyError::TooManyFiles {
                dir: dir.to_path_buf(),
                max: limits.max_files,
            });
        }
        if total > limits.max_total_bytes as u64 {
            return Err(KeyError::SourceTooLarge {
                dir: dir.to_path_buf(),
                max: limits.max_total_bytes,
            });
        }
    }
    let mut files = Vec::with_capacity(candidates.len());
    for (name, path) in candidates {
        let bytes = match fsread::read_regular(&path, limits.max_file_bytes as u64) {
            Ok(bytes) => bytes,
            Err(ReadError::Io(source)) => return Err(KeyError::Io { path, source }),
            Err(ReadError::NotRegular) => continue, // replaced since it was listed
            Err(ReadError::TooLarge { size, .. }) => {
                return Err(KeyError::FileTooLarge {
                    path,
                    size,
                    max: limits.max_file_bytes,
                })
            }
        };
        files.push(DirFile { name, path, bytes });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const LIMITS: DirLimits = DirLimits {
        max_file_bytes: 1024,
        max_files: 100,
        max_total_bytes: 1 << 20,
    };

    #[test]
    fn plain_directory_skips_dot_files_and_subdirectories() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("b"), b"2").unwrap();
        fs::write(dir.path().join("a"), b"1").unwrap();
        fs::write(dir.path().join(".hidden"), b"x").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        let snap = read_dir_snapshot(dir.path(), &LIMITS).unwrap();
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
        let snap = read_dir_snapshot(dir.path(), &LIMITS).unwrap();
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
        let err = read_dir_snapshot(
            dir.path(),
            &DirLimits {
                max_file_bytes: 10,
                ..LIMITS
            },
        )
        .unwrap_err();
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
        let err = read_dir_snapshot(
            dir.path(),
            &DirLimits {
                max_file_bytes: 10,
                ..LIMITS
            },
        )
        .unwrap_err();
        assert!(matches!(err, KeyError::BadName { .. }), "{err}");
        assert!(err.to_string().contains("not valid UTF-8"));
        // A control character would put a line break into every log line naming the kid.
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("k\nkey added"), b"x").unwrap();
        let err = read_dir_snapshot(dir.path(), &LIMITS).unwrap_err();
        assert!(matches!(err, KeyError::BadName { .. }), "{err}");
        assert!(err.to_string().contains("k\\nkey added"), "escaped: {err}");
    }

    #[test]
    fn missing_directory_is_not_found() {
        let err = read_dir_snapshot(Path::new("/nonexistent/jwt-authz-keys"), &LIMITS).unwrap_err();
        assert!(err.is_not_found(), "{err}");
    }
}

#[cfg(test)]
mod containment {
    use super::*;
    use std::os::unix::fs::symlink;

    const LIMITS: DirLimits = DirLimits {
        max_file_bytes: 1024,
        max_files: 3,
        max_total_bytes: 100,
    };

    #[test]
    fn symlinks_must_stay_inside_the_directory() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"not a key of ours").unwrap();
        let dir = tempfile::tempdir().unwrap();
        symlink(outside.path().join("secret"), dir.path().join("k")).unwrap();
        let err = read_dir_snapshot(dir.path(), &LIMITS).unwrap_err();
        assert!(matches!(err, KeyError::OutsideDir { .. }), "{err}");
        assert!(
            err.to_string().contains("outside the key directory"),
            "{err}"
        );
        // `..data` pointing outside is refused too.
        let kubelet = tempfile::tempdir().unwrap();
        symlink(outside.path(), kubelet.path().join("..data")).unwrap();
        let err = read_dir_snapshot(kubelet.path(), &LIMITS).unwrap_err();
        assert!(matches!(err, KeyError::OutsideDir { .. }), "{err}");
    }

    #[test]
    fn counts_and_sizes_are_checked_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..4 {
            std::fs::write(dir.path().join(format!("k{i}")), [b'x'; 10]).unwrap();
        }
        let err = read_dir_snapshot(dir.path(), &LIMITS).unwrap_err();
        assert!(
            matches!(err, KeyError::TooManyFiles { max: 3, .. }),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("k3")).unwrap();
        std::fs::write(dir.path().join("k2"), [b'x'; 90]).unwrap();
        let err = read_dir_snapshot(dir.path(), &LIMITS).unwrap_err();
        assert!(
            matches!(err, KeyError::SourceTooLarge { max: 100, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_fifo_is_skipped_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k1"), b"one").unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join("k2"))
            .status()
            .unwrap();
        assert!(status.success());
        let snap = read_dir_snapshot(dir.path(), &LIMITS).unwrap();
        let names: Vec<_> = snap.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["k1"]);
    }
}
