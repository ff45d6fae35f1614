//! The server's state: one immutable [`Snapshot`] behind an `ArcSwap`. A Check does one
//! lock-free `load()`; a reload builds a complete new snapshot and `store()`s it, so in-flight
//! Checks finish on the snapshot they started with.

mod compose;
mod overload;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use compose::{KeyUpdate, Published};

use arc_swap::{ArcSwap, Guard};
use tokio::sync::watch;

use crate::config::Config;
use crate::jwt::TokenCache;
use crate::keys::KeyRing;
use crate::telemetry::{Metrics, SnapshotCounters};

/// Everything a Check reads.
#[derive(Debug)]
pub struct Snapshot {
    /// The config in force.
    pub config: Arc<Config>,
    /// The key ring in force (possibly empty: then Checks that need a token are UNAVAILABLE).
    pub keys: Arc<KeyRing>,
    /// Metric handles for this config's rules and this ring's kids.
    pub counters: SnapshotCounters,
    /// Tokens verified under this snapshot (empty at every publish).
    pub cache: TokenCache,
    /// Increases with every publish.
    pub generation: u64,
}

/// Shared server state.
#[derive(Debug)]
pub struct State {
    current: ArcSwap<Snapshot>,
    generation: AtomicU64,
    shutting_down: AtomicBool,
    overload: overload::Overload,
    ready: watch::Sender<bool>,
    parts: Mutex<compose::Parts>,
    /// The remote providers' fetchers (for unknown-kid refetches).
    pub fetchers: crate::providers::Registry,
    /// Process metrics.
    pub metrics: Arc<Metrics>,
}

impl State {
    /// State with a first config and the key ring of its mounted sources (which may be empty).
    pub fn new(config: Arc<Config>, keys: Arc<KeyRing>, metrics: Arc<Metrics>) -> Arc<Self> {
        let counters = metrics.counters_for(&config, &keys, None);
        let ready = not_ready(&config, &keys).is_none();
        let parts = Mutex::new(compose::Parts::files(keys.sets().to_vec()));
        let cache = TokenCache::new(config.jwt.cache_max_entries, Some(metrics.cache_counters()));
        Arc::new(Self {
            current: ArcSwap::from_pointee(Snapshot {
                config,
                keys,
                counters,
                cache,
                generation: 1,
            }),
            generation: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            overload: overload::Overload::default(),
            ready: watch::Sender::new(ready),
            parts,
            fetchers: Default::default(),
            metrics,
        })
    }

    /// The current snapshot (lock-free).
    pub fn snapshot(&self) -> Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// The current snapshot as an owned `Arc` (for long-lived holders such as the reloader).
    pub fn snapshot_full(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Publishes a new config and key ring as one snapshot (callers that change keys go
    /// through [`State::publish_keys`], which composes the ring).
    fn publish(&self, config: Arc<Config>, keys: Arc<KeyRing>) {
        let old = self.current.load_full();
        let counters = self
            .metrics
            .counters_for(&config, &keys, Some((&old.config, &old.keys)));
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        tracing::debug!(
            generation,
            keys = keys.len(),
            rules = config.policy.rules.len(),
            "snapshot published"
        );
        let cache = TokenCache::new(
            config.jwt.cache_max_entries,
            Some(self.metrics.cache_counters()),
        );
        self.current.store(Arc::new(Snapshot {
            config,
            keys,
            counters,
            cache,
            generation,
        }));
        self.refresh_ready();
    }

    /// The generation of the current snapshot.
    pub fn generation(&self) -> u64 {
        self.current.load().generation
    }

    /// Ready: every provider has keys, not shedding load for seconds on end, not shutting
    /// down.
    pub fn is_ready(&self) -> bool {
        self.not_ready_because().is_none()
    }

    /// Why the server is not ready, or `None` when it is.
    pub fn not_ready_because(&self) -> Option<String> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Some("shutting down".into());
        }
        let snap = self.current.load();
        if let Some(why) = not_ready(&snap.config, &snap.keys) {
            Some(why)
        } else if self.overload.is_overloaded() {
            Some("overloaded (Checks have been shed for seconds on end)".into())
        } else {
            None
        }
    }

    /// Counts a Check shed because of `limit`, warning at most once a second.
    pub fn shed(&self, limit: &'static str) {
        self.metrics
            .error(crate::telemetry::ErrorReason::Overloaded);
        if let Some(count) = self.overload.record(crate::authz::unix_now()) {
            tracing::warn!(
                limit,
                shed = count,
                "overloaded: shedding Checks with UNAVAILABLE (count since the last warning)"
            );
        }
    }

    /// Re-evaluates sustained shedding (called every second); readiness follows.
    pub fn evaluate_overload(&self) {
        if self.overload.evaluate(crate::authz::unix_now()) {
            if self.overload.is_overloaded() {
                tracing::warn!("shedding sustained: reporting not ready until it stops");
            } else {
                tracing::info!("shedding stopped: ready again");
            }
            self.refresh_ready();
        }
    }

    /// True once shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Marks the server as shutting down: readiness turns false.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.refresh_ready();
    }

    /// Watches readiness changes (for the gRPC health service).
    pub fn subscribe_ready(&self) -> watch::Receiver<bool> {
        self.ready.subscribe()
    }

    /// Recomputes readiness inside the watch's lock, so concurrent publishes and the shutdown
    /// are serialized and the last to run reads the latest state: shutdown always wins (a
    /// publish that read "ready" before the shutdown flag was set cannot send it after).
    fn refresh_ready(&self) {
        self.ready.send_if_modified(|r| {
            let ready = self.is_ready();
            std::mem::replace(r, ready) != ready
        });
    }
}

/// Why keys make the server not ready: none at all, or a provider without any.
fn not_ready(config: &Config, keys: &KeyRing) -> Option<String> {
    if keys.is_empty() {
        return Some("no verification key loaded".into());
    }
    let providers = &config.jwt.providers;
    (0..providers.len())
        .find(|&i| keys.provider_len(i) == 0)
        .map(|i| format!("provider {} has no keys", providers[i].name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{bench_config, bench_keyring};

    #[test]
    fn shutdown_wins_every_race_with_a_publish() {
        for _ in 0..2000 {
            let state = State::new(
                Arc::new(bench_config(1)),
                Arc::new(bench_keyring(1)),
                Metrics::new(),
            );
            let rx = state.subscribe_ready();
            let publisher = {
                let state = state.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let snap = state.snapshot_full();
                        state.publish_keys(Some(snap.config.clone()), KeyUpdate::Nothing);
                    }
                })
            };
            state.begin_shutdown();
            publisher.join().unwrap();
            assert!(!*rx.borrow(), "ready after shutdown began");
            assert!(!state.is_ready());
        }
    }
}
