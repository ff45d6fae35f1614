//! A simulator of the kubelet's AtomicWriter (kubernetes `pkg/volume/util/atomic_writer.go`),
//! which updates Secret and ConfigMap volumes:
//!
//! 1. write the payload into a new timestamped directory `..2026_11_28_10_00_00.000000001`;
//! 2. symlink `..data_tmp -> ..<timestamp>`;
//! 3. rename `..data_tmp` over `..data` (the one atomic step);
//! 4. create the visible links `name -> ..data/name` of new names;
//! 5. remove the visible links of names no longer in the payload;
//! 6. delete the old timestamped directory.
//!
//! The legacy order creates the visible links before the swap. A pause hook runs after each step,
//! and fault helpers damage the volume the ways real clusters do.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The steps of one update, reported to the pause hook after each is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    PayloadWritten,
    TmpLinked,
    Swapped,
    LinksCreated,
    LinksRemoved,
    OldDirRemoved,
}

static SEQUENCE: AtomicU64 = AtomicU64::new(1);

/// Writes a kubelet-style volume at `dir`.
pub struct AtomicWriter {
    dir: PathBuf,
    legacy_order: bool,
    mode: u32,
}

impl AtomicWriter {
    /// A writer for `dir` (created if missing).
    pub fn new(dir: &Path) -> Self {
        fs::create_dir_all(dir).unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        Self {
            dir: dir.to_path_buf(),
            legacy_order: false,
            mode: 0o644,
        }
    }

    /// Creates the visible links before the swap, as older kubelets did.
    pub fn legacy_order(mut self) -> Self {
        self.legacy_order = true;
        self
    }

    /// File mode of written files (the volume's `defaultMode`).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Replaces the volume's payload; returns the instant of the `..data` rename, or `None`
    /// when the payload is unchanged (the kubelet then writes nothing).
    pub fn write(&self, payload: &[(&str, &[u8])]) -> Option<Instant> {
        self.write_with(payload, |_| {})
    }

    /// Like `write`, calling `pause` after every step.
    pub fn write_with(
        &self,
        payload: &[(&str, &[u8])],
        mut pause: impl FnMut(Step),
    ) -> Option<Instant> {
        let payload: BTreeMap<&str, &[u8]> = payload.iter().copied().collect();
        let data = self.dir.join("..data");
        let old_ts = fs::read_link(&data).ok();
        if let Some(old) = &old_ts {
            if self.read_dir_payload(&self.dir.join(old))
                == payload
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_vec()))
                    .collect::<BTreeMap<_, _>>()
            {
                return None;
            }
        }
        let ts_name = format!(
            "..2026_11_28_10_00_00.{:09}",
            SEQUENCE.fetch_add(1, Ordering::SeqCst)
        );
        let ts = self.dir.join(&ts_name);
        fs::create_dir(&ts).unwrap();
        fs::set_permissions(&ts, fs::Permissions::from_mode(0o755)).unwrap();
        for (name, bytes) in &payload {
            let p = ts.join(name);
            fs::write(&p, bytes).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(self.mode)).unwrap();
        }
        pause(Step::PayloadWritten);
        if self.legacy_order {
            self.create_links(&payload);
            pause(Step::LinksCreated);
        }
        let tmp = self.dir.join("..data_tmp");
        let _ = fs::remove_file(&tmp);
        symlink(&ts_name, &tmp).unwrap();
        pause(Step::TmpLinked);
        fs::rename(&tmp, &data).unwrap();
        let swapped = Instant::now();
        pause(Step::Swapped);
        if !self.legacy_order {
            self.create_links(&payload);
            pause(Step::LinksCreated);
        }
        for entry in fs::read_dir(&self.dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if !name.starts_with("..") && !payload.contains_key(name.as_str()) {
                fs::remove_file(self.dir.join(&name)).unwrap();
            }
        }
        pause(Step::LinksRemoved);
        if let Some(old) = old_ts {
            fs::remove_dir_all(self.dir.join(old)).unwrap();
        }
        pause(Step::OldDirRemoved);
        Some(swapped)
    }

    fn create_links(&self, payload: &BTreeMap<&str, &[u8]>) {
        for name in payload.keys() {
            let link = self.dir.join(name);
            if fs::symlink_metadata(&link).is_err() {
                symlink(Path::new("..data").join(name), &link).unwrap();
            }
        }
    }

    fn read_dir_payload(&self, dir: &Path) -> BTreeMap<String, Vec<u8>> {
        fs::read_dir(dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap())
                    .map(|e| {
                        (
                            e.file_name().into_string().unwrap(),
                            fs::read(e.path()).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Fault: changes a file's mode inside the live payload (fires no directory event).
    pub fn chmod(&self, name: &str, mode: u32) {
        let target = self.dir.join("..data").join(name);
        fs::set_permissions(target, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// Fault: the volume ends up with an empty payload (a failed update, kubernetes#113242).
    pub fn empty(&self) -> Option<Instant> {
        self.write(&[])
    }

    /// Fault: the whole mount directory is replaced by a new one holding `payload` (the old
    /// directory is moved aside, so a watch on it follows the wrong inode).
    pub fn replace_dir(&self, payload: &[(&str, &[u8])]) {
        let aside = self
            .dir
            .with_extension(format!("old{}", SEQUENCE.fetch_add(1, Ordering::SeqCst)));
        fs::rename(&self.dir, &aside).unwrap();
        let fresh = AtomicWriter {
            dir: self.dir.clone(),
            legacy_order: self.legacy_order,
            mode: self.mode,
        };
        fs::create_dir(&self.dir).unwrap();
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o755)).unwrap();
        fresh.write(payload);
        fs::remove_dir_all(aside).unwrap();
    }
}
