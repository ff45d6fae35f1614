//! The key ring in force is composed from two kinds of parts, each replaced on its own: the
//! mounted sources' sets (from the reloader) and each remote provider's fetched set (from its
//! fetcher). Both write through [`State::publish_keys`], under one mutex that a Check never
//! touches, so a reload and a fetch that finish together cannot lose each other's keys.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::State;
use crate::config::Config;
use crate::keys::{KeyRing, KeySet};

/// The parts the ring is built from.
#[derive(Debug, Default)]
pub(super) struct Parts {
    /// Mounted sources' sets, each with its provider index.
    files: Vec<(usize, Arc<KeySet>)>,
    /// The last good fetched set of each remote provider, by name.
    remote: HashMap<Arc<str>, Arc<KeySet>>,
}

impl Parts {
    /// Parts holding only mounted sets.
    pub(super) fn files(files: Vec<(usize, Arc<KeySet>)>) -> Self {
        Self {
            files,
            remote: HashMap::new(),
        }
    }
}

/// One change to publish.
#[derive(Debug)]
pub enum KeyUpdate {
    /// The mounted sources' sets now in force (a reload).
    Files(Vec<(usize, Arc<KeySet>)>),
    /// A remote provider's set (`None`: it has none, e.g. past `max_stale`).
    Remote(Arc<str>, Option<Arc<KeySet>>),
    /// Nothing but the config (a config reload with the same keys).
    Nothing,
}

/// What a publish did.
#[derive(Debug)]
pub struct Published {
    /// The ring before.
    pub old: Arc<KeyRing>,
    /// The ring now in force (the same `Arc` when the keys did not change).
    pub new: Arc<KeyRing>,
}

impl Published {
    /// True when the keys changed.
    pub fn changed(&self) -> bool {
        !Arc::ptr_eq(&self.old, &self.new)
    }
}

/// The ring of `parts` under `config`: mounted sets first, then each remote provider's set
/// (a fetched kid that a mounted source of the same provider has is left out, logged).
fn compose(config: &Config, parts: &Parts) -> KeyRing {
    let mut sets = parts.files.clone();
    let mounted: HashSet<(usize, &str)> = parts
        .files
        .iter()
        .flat_map(|(p, set)| set.keys().iter().map(move |k| (*p, &*k.kid)))
        .collect();
    for (index, provider) in config.jwt.providers.iter().enumerate() {
        if provider.remote.is_none() {
            continue;
        }
        let Some(set) = parts.remote.get(&provider.name) else {
            continue;
        };
        match set
            .keys()
            .iter()
            .find(|k| mounted.contains(&(index, &*k.kid)))
        {
            Some(k) => tracing::warn!(
                provider = %provider.name,
                kid = %k.kid,
                "fetched keys left out: a mounted key of the same provider has this kid"
            ),
            None => sets.push((index, set.clone())),
        }
    }
    KeyRing::from_sets(sets).expect("kids are unique per provider")
}

impl State {
    /// Applies `update` (and `config`, when given: a config reload) and publishes a new
    /// snapshot when the config or the keys changed. The verified-token cache is emptied with
    /// every publish.
    pub fn publish_keys(&self, config: Option<Arc<Config>>, update: KeyUpdate) -> Published {
        let mut parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        match update {
            KeyUpdate::Files(files) => parts.files = files,
            KeyUpdate::Remote(name, Some(set)) => {
                parts.remote.insert(name, set);
            }
            KeyUpdate::Remote(name, None) => {
                parts.remote.remove(&name);
            }
            KeyUpdate::Nothing => {}
        }
        let current = self.snapshot_full();
        let config_changed = config.is_some();
        let config = config.unwrap_or_else(|| current.config.clone());
        let ring = compose(&config, &parts);
        let new = if ring.digest() == current.keys.digest() {
            current.keys.clone()
        } else {
            Arc::new(ring)
        };
        let published = Published {
            old: current.keys.clone(),
            new: new.clone(),
        };
        if config_changed || published.changed() {
            self.publish(config, new);
        }
        published
    }

    /// The fetched set of `provider` now in force, if any.
    pub fn remote_set(&self, provider: &str) -> Option<Arc<KeySet>> {
        let parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        parts.remote.get(provider).cloned()
    }

    /// Forgets the fetched sets of providers no longer configured.
    pub fn retain_remote(&self, names: &[Arc<str>]) {
        let mut parts = self.parts.lock().unwrap_or_else(|p| p.into_inner());
        parts.remote.retain(|name, _| names.contains(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Algorithm, LoadedKey};
    use crate::telemetry::Metrics;

    fn set(kids: &[&str], byte: u8, source: &str) -> Arc<KeySet> {
        let keys = kids
            .iter()
            .map(|k| LoadedKey::hmac(k, Algorithm::HS256, &[byte; 32], source))
            .collect();
        Arc::new(KeySet::new(Arc::from(source), keys).unwrap())
    }

    fn kids(state: &State) -> Vec<(String, String)> {
        let snap = state.snapshot();
        snap.keys
            .keys()
            .iter()
            .map(|k| (k.kid.to_string(), k.source.to_string()))
            .collect()
    }

    #[test]
    fn fetched_sets_join_the_mounted_ones_unless_a_kid_clashes() {
        let config = Config::from_yaml(
            "providers: [{ name: corp, issuer: https://corp, jwks_uri: https://corp/k, keys: [{ dir: /m, algorithm: HS256 }] }]\n",
            std::path::Path::new("/c.yaml"),
        )
        .unwrap();
        let mounted = KeyRing::from_sets(vec![(0, set(&["k1"], 1, "/m"))]).unwrap();
        let state = State::new(Arc::new(config), Arc::new(mounted), Metrics::new());
        let fetched =
            |kids: &[&str]| KeyUpdate::Remote(Arc::from("corp"), Some(set(kids, 2, "jwks")));
        assert!(state.publish_keys(None, fetched(&["k2"])).changed());
        assert_eq!(
            kids(&state),
            [("k1".into(), "/m".into()), ("k2".into(), "jwks".into())]
        );
        // A fetched k1 would shadow the mounted one: the fetched set is left out.
        state.publish_keys(None, fetched(&["k1", "k3"]));
        assert_eq!(kids(&state), [("k1".into(), "/m".into())]);
        // Publishing the same parts again changes nothing (and keeps the cache).
        let generation = state.generation();
        assert!(!state.publish_keys(None, fetched(&["k1", "k3"])).changed());
        assert_eq!(state.generation(), generation);
        state.publish_keys(None, fetched(&["k2"]));
        state.publish_keys(None, KeyUpdate::Remote(Arc::from("corp"), None));
        assert_eq!(kids(&state), [("k1".into(), "/m".into())]);
    }
}
