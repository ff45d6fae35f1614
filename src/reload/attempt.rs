//! One reload attempt: read the config file and every key source, validate, and publish a new
//! snapshot when something changed. Keys and config are judged separately: a bad config keeps
//! the running config; each key source is judged on its own (a bad or empty source keeps its
//! last good keys, a removed source's keys go with it), so the ring always follows the
//! sources of the config in force.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::unix_seconds;
use crate::config::{Config, ConfigError, Overrides};
use crate::keys::{KeyRing, Refreshed, SourceOutcome, SourceSets};
use crate::state::{KeyUpdate, State};
use crate::telemetry::{Metrics, ReloadKind, ReloadResult};

/// What an attempt did, per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Config result.
    pub config: ReloadResult,
    /// Keys result.
    pub keys: ReloadResult,
}

/// A directory to watch and which of its entries matter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchedDir {
    /// The directory.
    pub path: PathBuf,
    /// `Some(names)`: only these entries and `..`-prefixed ones; `None`: every entry.
    pub only: Option<Vec<OsString>>,
}

impl WatchedDir {
    /// True when a change to `entry` (a path in this directory) can matter.
    pub fn matters(&self, entry: &Path) -> bool {
        match (&self.only, entry.file_name()) {
            (None, _) | (_, None) => true,
            (Some(only), Some(name)) => {
                only.iter().any(|o| o == name) || name.as_encoded_bytes().starts_with(b"..")
            }
        }
    }
}

/// Reloads the state's config file and key sources.
pub struct Reloader {
    state: Arc<State>,
    overrides: Overrides,
    sets: SourceSets,
}

impl Reloader {
    /// A reloader for the state's current config file, starting from the key sets in force.
    pub fn new(state: Arc<State>, overrides: Overrides, sets: SourceSets) -> Self {
        Self {
            state,
            overrides,
            sets,
        }
    }

    /// Directories to watch: each key source (every entry matters) and the config file's
    /// directory, where only the config file's name (and its symlink target's, when that lies
    /// beside it) and the kubelet's `..`-prefixed entries (`..data`, its timestamped targets)
    /// matter: other files there, a log for instance, must not cause reloads.
    pub fn watched_dirs(&self) -> Vec<WatchedDir> {
        let snap = self.state.snapshot();
        let mut dirs: BTreeMap<PathBuf, Option<Vec<OsString>>> = snap
            .config
            .keys
            .iter()
            .map(|k| (k.dir.clone(), None))
            .collect();
        if let (Some(parent), Some(name)) =
            (snap.config.path.parent(), snap.config.path.file_name())
        {
            let parent = if parent.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                parent.to_path_buf()
            };
            // A config that is a symlink to a file beside it changes through that file.
            let mut names = vec![name.to_owned()];
            if let Ok(target) = std::fs::read_link(&snap.config.path) {
                let beside = target.parent().is_none_or(|p| p.as_os_str().is_empty());
                if let (true, Some(t)) = (beside, target.file_name()) {
                    names.push(t.to_owned());
                }
            }
            dirs.entry(parent).or_insert(Some(names));
        }
        dirs.into_iter()
            .map(|(path, only)| WatchedDir { path, only })
            .collect()
    }

    /// Reads, validates and (when changed) publishes.
    pub fn attempt(&mut self) -> Outcome {
        let now = unix_seconds();
        let current = self.state.snapshot_full();
        let (config, config_result) = match self.reload_config(&current.config) {
            Ok(Some(new)) => {
                self.state.metrics.config_tests(new.tests.len(), 0);
                (Arc::new(new), ReloadResult::Success)
            }
            Ok(None) => (current.config.clone(), ReloadResult::Unchanged),
            Err(e) => {
                if let ConfigError::Tests { failed, total, .. } = &e {
                    self.state
                        .metrics
                        .config_tests(total - failed.len(), failed.len());
                }
                tracing::warn!(error = %e, "config reload rejected: keeping the running config");
                (current.config.clone(), ReloadResult::Failure)
            }
        };
        let refreshed = self.sets.refresh(&config.keys, &config.limits);
        report_sources(&refreshed, &self.state.metrics);
        let any_failed = refreshed.any_failed();
        self.sets = refreshed.sets;
        let new_config = (config_result == ReloadResult::Success).then_some(config);
        let published = self
            .state
            .publish_keys(new_config, KeyUpdate::Files(self.sets.provider_sets()));
        let keys_result = if any_failed {
            ReloadResult::Failure
        } else if published.changed() {
            ReloadResult::Success
        } else {
            ReloadResult::Unchanged
        };
        if published.changed() {
            log_changes(&published.old, &published.new);
        }
        let metrics = &self.state.metrics;
        metrics.reload(ReloadKind::Config, config_result, now);
        metrics.reload(ReloadKind::Keys, keys_result, now);
        Outcome {
            config: config_result,
            keys: keys_result,
        }
    }

    /// `Ok(None)` when the file is byte-for-byte the running config.
    fn reload_config(&self, current: &Config) -> Result<Option<Config>, ConfigError> {
        let path = &current.path;
        let text = crate::config::read_config(path)?;
        if Sha256::digest(text.as_bytes())[..] == current.digest[..] {
            return Ok(None);
        }
        let mut config = Config::from_yaml(&text, path)?;
        self.overrides.apply(&mut config);
        if config.listen.grpc != current.listen.grpc || config.listen.admin != current.listen.admin
        {
            tracing::warn!(
                "listen addresses changed in the config: they apply only after a restart"
            );
            config.listen = current.listen.clone();
        }
        tracing::info!(path = %path.display(), rules = config.policy.rules.len(), "config reloaded");
        Ok(Some(config))
    }
}

/// Loads the keys at startup, by the same per-source rules as a reload. Failure is not fatal:
/// the Secret may arrive later.
pub fn initial_keys(config: &Config, metrics: &Metrics) -> (SourceSets, KeyRing) {
    let refreshed = SourceSets::default().refresh(&config.keys, &config.limits);
    report_sources(&refreshed, metrics);
    let result = if refreshed.any_failed() || refreshed.ring.is_empty() {
        ReloadResult::Failure
    } else {
        ReloadResult::Success
    };
    metrics.reload(ReloadKind::Keys, result, unix_seconds());
    log_ring(&refreshed.ring, config);
    (refreshed.sets, refreshed.ring)
}

/// Logs and counts each source's outcome.
fn report_sources(refreshed: &Refreshed, metrics: &Metrics) {
    for report in &refreshed.reports {
        let ok = !matches!(report.outcome, SourceOutcome::Failed { .. });
        metrics.key_source_loaded(&report.label, ok);
        if let SourceOutcome::Failed { error, kept } = &report.outcome {
            if *kept > 0 {
                tracing::warn!(source = %report.label, field = %report.field, error = %error, kept, "key source failed to load: keeping its last good keys");
            } else {
                tracing::warn!(source = %report.label, field = %report.field, error = %error, "key source failed to load: it has no keys in force");
            }
        }
    }
}

/// Logs every key of a ring (startup).
pub fn log_ring(ring: &KeyRing, config: &Config) {
    let remote = config.jwt.providers.iter().any(|p| p.remote.is_some());
    if ring.is_empty() && remote {
        tracing::info!("no mounted keys: waiting for the providers' first fetch");
    } else if ring.is_empty() {
        tracing::warn!(
            sources = config.keys.len(),
            "no keys found: answering UNAVAILABLE until a key is loaded"
        );
    }
    for key in ring.keys() {
        tracing::info!(kid = %key.kid, alg = key.alg.name(), fingerprint = %key.fingerprint, source = %key.source, "key loaded");
    }
}

/// Logs the keys added, replaced and removed (per provider: two providers may share a kid).
pub fn log_changes(old: &KeyRing, new: &KeyRing) {
    for key in new.keys() {
        match old.get_in(key.provider, &key.kid) {
            None => {
                tracing::info!(kid = %key.kid, alg = key.alg.name(), fingerprint = %key.fingerprint, source = %key.source, "key added")
            }
            Some(prev) if prev.fingerprint != key.fingerprint || prev.alg != key.alg => {
                tracing::info!(
                    kid = %key.kid,
                    alg = key.alg.name(),
                    fingerprint = %key.fingerprint,
                    previous_fingerprint = %prev.fingerprint,
                    "key replaced"
                )
            }
            Some(_) => {}
        }
    }
    for key in old.keys() {
        if new.get_in(key.provider, &key.kid).is_none() {
            tracing::info!(kid = %key.kid, fingerprint = %key.fingerprint, source = %key.source, "key removed");
        }
    }
    tracing::info!(keys = new.len(), "keys reloaded");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_directory_only_cares_about_the_config_and_the_kubelets_entries() {
        let config_dir = WatchedDir {
            path: PathBuf::from("/etc/jwt-authz"),
            only: Some(vec!["config.yaml".into(), "real.yaml".into()]),
        };
        for (entry, matters) in [
            ("/etc/jwt-authz/config.yaml", true),
            ("/etc/jwt-authz/real.yaml", true),
            ("/etc/jwt-authz/..data", true),
            ("/etc/jwt-authz/..data_tmp", true),
            ("/etc/jwt-authz/..2026_11_28_10_00_00.123", true),
            ("/etc/jwt-authz/server.log", false),
            ("/etc/jwt-authz/.config.yaml.swp", false),
            ("/etc/jwt-authz/config.yaml~", false),
        ] {
            assert_eq!(config_dir.matters(Path::new(entry)), matters, "{entry}");
        }
        let key_dir = WatchedDir {
            path: PathBuf::from("/keys"),
            only: None,
        };
        assert!(key_dir.matters(Path::new("/keys/anything")));
    }
}
