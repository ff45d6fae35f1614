//! The key set of every configured source, each kept on its own: a source that fails to load
//! (unreadable, invalid, or empty, as a failed kubelet write can leave it) keeps its own last
//! good keys while the others reload; a source removed from the config takes its keys with it
//! in the same reload. The ring in force is always built from exactly the current sources.

use std::collections::HashMap;
use std::sync::Arc;

use super::{load_source, KeyError, KeyRing, KeySet};
use crate::config::{KeySource, Limits};

/// What happened to one source in a refresh.
#[derive(Debug)]
pub enum SourceOutcome {
    /// Its keys loaded (new or changed).
    Loaded,
    /// Its keys are what they were.
    Unchanged,
    /// It could not be used; `kept` keys of its last good set stay in force (0 when it never
    /// loaded, or when even those clash with another source's kids).
    Failed {
        /// Why.
        error: KeyError,
        /// Keys kept from its last good set.
        kept: usize,
    },
}

/// One source's report.
#[derive(Debug)]
pub struct SourceReport {
    /// The source's label (its directory as written).
    pub label: Arc<str>,
    /// Its field in the config file (`keys[0].dir`).
    pub field: String,
    /// What happened.
    pub outcome: SourceOutcome,
}

/// The last good set of each configured source.
#[derive(Debug, Default, Clone)]
pub struct SourceSets {
    sets: Vec<(KeySource, Arc<KeySet>)>,
}

/// The result of a refresh.
#[derive(Debug)]
pub struct Refreshed {
    /// The sets now in force (what the next refresh starts from).
    pub sets: SourceSets,
    /// The ring of those sets.
    pub ring: KeyRing,
    /// One report per configured source, in order.
    pub reports: Vec<SourceReport>,
}

impl Refreshed {
    /// True when any source failed.
    pub fn any_failed(&self) -> bool {
        self.reports
            .iter()
            .any(|r| matches!(r.outcome, SourceOutcome::Failed { .. }))
    }
}

impl SourceSets {
    /// The sets in force, each with its provider.
    pub fn provider_sets(&self) -> Vec<(usize, Arc<KeySet>)> {
        with_providers(&self.sets)
    }

    /// Loads every source in `sources` and builds the ring. A source that fails keeps the set
    /// it had (as the same source: same directory and format); sources no longer configured
    /// are dropped. A kid that a later source shares with an earlier one fails the later
    /// source (its previous set is kept if that does not clash).
    pub fn refresh(&self, sources: &[KeySource], limits: &Limits) -> Refreshed {
        let mut sets = Vec::with_capacity(sources.len());
        let mut reports = Vec::with_capacity(sources.len());
        let mut kids: Kids = HashMap::new();
        for source in sources {
            let label: Arc<str> = Arc::from(source.label.as_str());
            let previous = self
                .sets
                .iter()
                .find(|(s, _)| s == source)
                .map(|(_, set)| set.clone());
            let loaded = load_source(source, limits).and_then(|keys| {
                if keys.is_empty() {
                    return Err(KeyError::Empty {
                        dir: source.label.clone(),
                    });
                }
                KeySet::new(label.clone(), keys)
            });
            let (set, outcome) = match loaded {
                Ok(set) => match &previous {
                    Some(p) if p.digest() == set.digest() => {
                        (Some(p.clone()), SourceOutcome::Unchanged)
                    }
                    _ => (Some(Arc::new(set)), SourceOutcome::Loaded),
                },
                Err(error) => (previous.clone(), failed(error)),
            };
            let provider = source.provider;
            let (set, outcome) = match set {
                Some(set) if clashes(provider, &set, &kids) => {
                    let clash = clash_error(provider, &set, &kids, &label);
                    match previous.filter(|p| !clashes(provider, p, &kids)) {
                        Some(p) => (Some(p), failed(clash)),
                        None => (None, failed(clash)),
                    }
                }
                other => (other, outcome),
            };
            let outcome = match (outcome, &set) {
                (SourceOutcome::Failed { error, .. }, set) => SourceOutcome::Failed {
                    error,
                    kept: set.as_ref().map_or(0, |s| s.keys().len()),
                },
                (other, _) => other,
            };
            if let Some(set) = set {
                kids.extend(
                    set.keys()
                        .iter()
                        .map(|k| ((provider, k.kid.clone()), label.clone())),
                );
                sets.push((source.clone(), set));
            }
            reports.push(SourceReport {
                label,
                field: source.field.clone(),
                outcome,
            });
        }
        let ring = KeyRing::from_sets(self::with_providers(&sets))
            .expect("kids were checked for clashes across each provider's sets");
        Refreshed {
            sets: SourceSets { sets },
            ring,
            reports,
        }
    }
}

fn failed(error: KeyError) -> SourceOutcome {
    SourceOutcome::Failed { error, kept: 0 }
}

/// Kids in force per provider, with the source that holds each.
type Kids = HashMap<(usize, Arc<str>), Arc<str>>;

fn with_providers(sets: &[(KeySource, Arc<KeySet>)]) -> Vec<(usize, Arc<KeySet>)> {
    sets.iter()
        .map(|(s, set)| (s.provider, set.clone()))
        .collect()
}

fn clashes(provider: usize, set: &KeySet, kids: &Kids) -> bool {
    set.keys()
        .iter()
        .any(|k| kids.contains_key(&(provider, k.kid.clone())))
}

fn clash_error(provider: usize, set: &KeySet, kids: &Kids, label: &str) -> KeyError {
    let (kid, first) = set
        .keys()
        .iter()
        .find_map(|k| {
            kids.get(&(provider, k.kid.clone()))
                .map(|first| (k.kid.to_string(), first.to_string()))
        })
        .unwrap_or_default();
    KeyError::DuplicateKid {
        kid,
        first,
        second: label.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{KeyEncoding, KeyFormat};
    use crate::keys::Algorithm;

    fn source(dir: &std::path::Path) -> KeySource {
        KeySource {
            dir: dir.to_path_buf(),
            format: KeyFormat::Files {
                encoding: KeyEncoding::Raw,
                algorithm: Algorithm::HS256,
            },
            label: dir.display().to_string(),
            provider: 0,
            field: "keys[0].dir".into(),
        }
    }

    fn kids(ring: &KeyRing) -> Vec<&str> {
        ring.keys().iter().map(|k| &*k.kid).collect()
    }

    #[test]
    fn a_failing_source_keeps_its_own_last_good_keys_and_the_others_reload() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(a.path().join("a1"), [1u8; 32]).unwrap();
        std::fs::write(b.path().join("b1"), [2u8; 32]).unwrap();
        let sources = [source(a.path()), source(b.path())];
        let first = SourceSets::default().refresh(&sources, &Limits::default());
        assert!(!first.any_failed());
        assert_eq!(kids(&first.ring), ["a1", "b1"]);
        // a gets a bad key, b a new one: a keeps a1, b reloads.
        std::fs::write(a.path().join("bad"), b"short").unwrap();
        std::fs::write(b.path().join("b2"), [3u8; 32]).unwrap();
        let second = first.sets.refresh(&sources, &Limits::default());
        assert_eq!(kids(&second.ring), ["a1", "b1", "b2"]);
        assert!(matches!(
            &second.reports[0].outcome,
            SourceOutcome::Failed { kept: 1, .. }
        ));
        assert!(matches!(second.reports[1].outcome, SourceOutcome::Loaded));
        // a emptied (a failed kubelet write): still a1.
        for f in ["a1", "bad"] {
            std::fs::remove_file(a.path().join(f)).unwrap();
        }
        let third = second.sets.refresh(&sources, &Limits::default());
        assert_eq!(kids(&third.ring), ["a1", "b1", "b2"]);
        let SourceOutcome::Failed { error, kept: 1 } = &third.reports[0].outcome else {
            panic!("{:?}", third.reports[0]);
        };
        assert!(error.to_string().ends_with("no keys found"), "{error}");
        assert!(matches!(third.reports[1].outcome, SourceOutcome::Unchanged));
    }

    #[test]
    fn a_removed_source_takes_its_keys_with_it_even_when_another_fails() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(a.path().join("a1"), [1u8; 32]).unwrap();
        std::fs::write(b.path().join("b1"), [2u8; 32]).unwrap();
        let both = [source(a.path()), source(b.path())];
        let first = SourceSets::default().refresh(&both, &Limits::default());
        std::fs::write(a.path().join("bad"), b"short").unwrap();
        let only_a = [source(a.path())];
        let second = first.sets.refresh(&only_a, &Limits::default());
        assert_eq!(kids(&second.ring), ["a1"], "b's keys are revoked with b");
        assert!(second.any_failed());
        // The same directory with another format is another source: no last good set.
        let mut as_base64 = source(a.path());
        as_base64.format = KeyFormat::Files {
            encoding: KeyEncoding::Base64,
            algorithm: Algorithm::HS256,
        };
        let third = second.sets.refresh(&[as_base64], &Limits::default());
        assert!(third.ring.is_empty());
    }

    #[test]
    fn a_kid_clash_fails_the_later_source_which_keeps_its_previous_set() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(a.path().join("k1"), [1u8; 32]).unwrap();
        std::fs::write(b.path().join("k2"), [2u8; 32]).unwrap();
        let sources = [source(a.path()), source(b.path())];
        let first = SourceSets::default().refresh(&sources, &Limits::default());
        std::fs::write(b.path().join("k1"), [3u8; 32]).unwrap();
        let second = first.sets.refresh(&sources, &Limits::default());
        assert_eq!(kids(&second.ring), ["k1", "k2"]);
        let SourceOutcome::Failed { error, kept: 1 } = &second.reports[1].outcome else {
            panic!("{:?}", second.reports[1]);
        };
        let text = error.to_string();
        assert!(
            text.contains("\"k1\"") && text.contains(&sources[0].label),
            "{text}"
        );
        // Never loaded before: a clashing source has no keys in force.
        let fresh = SourceSets::default().refresh(&sources, &Limits::default());
        assert_eq!(kids(&fresh.ring), ["k1"]);
    }
}
