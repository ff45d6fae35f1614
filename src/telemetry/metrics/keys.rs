//! The key gauges: `jwt_authz_keys{source}` per mounted source, `{provider}` per remote
//! provider's fetched keys; series of sources and providers no longer configured are removed.

use crate::config::Config;
use crate::keys::KeyRing;

impl super::Metrics {
    /// Sets the key gauges for `keys` under `config` (`previous`: the config before, whose
    /// gone sources and providers lose their series).
    pub(super) fn key_gauges(&self, config: &Config, keys: &KeyRing, previous: Option<&Config>) {
        if let Some(old_config) = previous {
            for source in &old_config.keys {
                if !config.keys.iter().any(|s| s.label == source.label) {
                    let _ = self.keys.remove_label_values(&[&source.label, ""]);
                    let _ = self.key_source_ok.remove_label_values(&[&source.label]);
                }
            }
            for p in old_config
                .jwt
                .providers
                .iter()
                .filter(|p| p.remote.is_some())
            {
                let kept = config
                    .jwt
                    .providers
                    .iter()
                    .any(|q| q.name == p.name && q.remote.is_some());
                if !kept {
                    let _ = self.keys.remove_label_values(&["", &p.name]);
                    self.providers.forget(&p.name);
                }
            }
        }
        for source in &config.keys {
            let count = keys
                .keys()
                .iter()
                .filter(|k| *k.source == *source.label)
                .count();
            self.keys
                .with_label_values(&[&source.label, ""])
                .set(count as i64);
        }
        for (i, p) in config.jwt.providers.iter().enumerate() {
            if p.remote.is_none() {
                continue;
            }
            let fetched = keys
                .keys()
                .iter()
                .filter(|k| k.provider == i && !config.keys.iter().any(|s| *s.label == *k.source))
                .count();
            self.keys
                .with_label_values(&["", &p.name])
                .set(fetched as i64);
            self.providers.register(&p.name);
        }
    }
}
