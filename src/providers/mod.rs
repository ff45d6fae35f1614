//! Remote providers: one background task per provider with `discovery` or `jwks_uri` fetches
//! its JWK Set (never on the Check path), publishes it into the key ring, refreshes it on its
//! schedule, and answers unknown-kid refetch requests: at most one per `unknown_kid_cooldown`,
//! single-flight, which Checks may wait for (asynchronously) up to `unknown_kid_wait`.
//!
//! The supervisor keeps one task per remote provider of the config in force: a provider added
//! by a reload starts fetching, a removed one stops (its keys go with the config), a changed
//! one restarts.

mod cache_dir;
pub mod fetch;
pub mod http;
pub mod once;
mod task;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::{watch, Notify};

use crate::config::Provider;
use crate::state::{KeyUpdate, State};
use crate::telemetry::ProviderMetrics;

/// Milliseconds since the first call (a monotonic clock for cooldowns).
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// A running fetcher, as the Check path sees it.
#[derive(Debug)]
pub struct Handle {
    name: Arc<str>,
    wake: Notify,
    in_flight: AtomicBool,
    last_unknown_ms: AtomicU64,
    /// `now_ms` when the last fetch ended (0: none yet).
    finished_ms: AtomicU64,
    cooldown: Duration,
    wait: Duration,
    done: watch::Sender<u64>,
    metrics: ProviderMetrics,
    /// Unix time (ms) of the last successful fetch, 0 for never (a restarted task inherits it).
    last_success_ms: AtomicU64,
}

impl Handle {
    fn new(provider: &Provider, metrics: ProviderMetrics) -> Self {
        let remote = provider.remote.as_ref().expect("a remote provider");
        Self {
            name: provider.name.clone(),
            wake: Notify::new(),
            in_flight: AtomicBool::new(false),
            last_unknown_ms: AtomicU64::new(0),
            finished_ms: AtomicU64::new(0),
            cooldown: remote.unknown_kid_cooldown,
            wait: remote.unknown_kid_wait,
            done: watch::Sender::new(0),
            metrics,
            last_success_ms: AtomicU64::new(0),
        }
    }

    /// A token named a kid this provider lacks: starts a refetch unless one is in flight or
    /// the last unknown-kid refetch is less than `unknown_kid_cooldown` ago (then `None`: the
    /// kid is denied at once). Returns what to wait on, at most `unknown_kid_wait` (`None`
    /// when that is 0).
    pub fn unknown_kid(&self) -> Option<impl Future<Output = ()> + Send + 'static> {
        // Subscribed before looking, so a fetch that ends in between still wakes us.
        let mut done = self.done.subscribe();
        let started = if self.in_flight.load(Ordering::Acquire) {
            false
        } else {
            let now = now_ms();
            let last = self.last_unknown_ms.load(Ordering::Acquire);
            if last != 0 && now.saturating_sub(last) < self.cooldown.as_millis() as u64 {
                // Within the cooldown: wait only for a refetch another Check started that
                // has not ended yet (its fetch may not have begun: the task is waking up).
                if last <= self.finished_ms.load(Ordering::Acquire) {
                    return None;
                }
                false
            } else if self
                .last_unknown_ms
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                true
            } else {
                // Another Check started it just now.
                false
            }
        };
        if started {
            self.metrics.unknown_kid_refetch(&self.name);
            tracing::info!(provider = %self.name, "unknown kid: refetching the provider's keys");
            self.wake.notify_one();
        }
        if self.wait.is_zero() {
            return None;
        }
        let wait = self.wait;
        Some(async move {
            let _ = tokio::time::timeout(wait, done.changed()).await;
        })
    }

    fn begin(&self) {
        self.in_flight.store(true, Ordering::Release);
    }

    fn finish(&self) {
        self.finished_ms.store(now_ms(), Ordering::Release);
        self.in_flight.store(false, Ordering::Release);
        self.done.send_modify(|n| *n += 1);
    }
}

/// The running fetchers, by provider name (read lock-free by Checks that miss a kid).
#[derive(Debug, Default)]
pub struct Registry {
    handles: ArcSwap<HashMap<Arc<str>, Arc<Handle>>>,
}

impl Registry {
    /// The fetcher of `provider`, if it has one.
    pub fn get(&self, provider: &str) -> Option<Arc<Handle>> {
        self.handles.load().get(provider).cloned()
    }
}

struct Running {
    provider: Provider,
    handle: Arc<Handle>,
    task: tokio::task::JoinHandle<()>,
}

/// Keeps one fetcher per remote provider of the config in force until `stop` resolves.
pub async fn supervise(state: Arc<State>, stop: impl Future<Output = ()>) {
    let mut running: HashMap<Arc<str>, Running> = HashMap::new();
    let mut seen = None;
    tokio::pin!(stop);
    loop {
        let config = state.snapshot().config.clone();
        if seen.as_ref().is_none_or(|c| !Arc::ptr_eq(c, &config)) {
            reconcile(&state, &config.jwt.providers, &mut running);
            seen = Some(config);
        }
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
    for (_, r) in running {
        r.task.abort();
    }
}

fn reconcile(state: &Arc<State>, providers: &[Provider], running: &mut HashMap<Arc<str>, Running>) {
    let wanted: Vec<&Provider> = providers.iter().filter(|p| p.remote.is_some()).collect();
    let names: Vec<Arc<str>> = wanted.iter().map(|p| p.name.clone()).collect();
    // A restarted fetcher of the same issuer keeps the keys in force and their age.
    let mut inherit: HashMap<Arc<str>, u64> = HashMap::new();
    running.retain(|name, r| {
        let keep = wanted.iter().any(|p| **p == r.provider);
        if !keep {
            r.task.abort();
            let issuer_kept = wanted
                .iter()
                .any(|p| p.name == *name && p.issuer == r.provider.issuer);
            if issuer_kept {
                let at = r.handle.last_success_ms.load(Ordering::Acquire);
                inherit.insert(name.clone(), at);
            } else {
                state.publish_keys(None, KeyUpdate::Remote(name.clone(), None));
            }
            tracing::info!(provider = %name, "provider removed or changed: its fetcher stops");
        }
        keep
    });
    state.retain_remote(&names);
    for provider in wanted {
        if running.contains_key(&provider.name) {
            continue;
        }
        let handle = Arc::new(Handle::new(provider, state.metrics.providers.clone()));
        if let Some(at) = inherit.get(&provider.name) {
            handle.last_success_ms.store(*at, Ordering::Release);
        }
        let task = tokio::spawn(task::run(state.clone(), handle.clone(), provider.clone()));
        running.insert(
            provider.name.clone(),
            Running {
                provider: provider.clone(),
                handle,
                task,
            },
        );
    }
    let handles = running
        .iter()
        .map(|(name, r)| (name.clone(), r.handle.clone()))
        .collect();
    state.fetchers.handles.store(Arc::new(handles));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::telemetry::Metrics;

    fn handle() -> Handle {
        let config = Config::from_yaml_untested(
            "providers:\n  - { name: corp, issuer: https://idp.test, jwks_uri: https://idp.test/jwks, remote: { unknown_kid_cooldown: 30s, unknown_kid_wait: 1s } }\n",
            std::path::Path::new("/c.yaml"),
        )
        .unwrap();
        Handle::new(&config.jwt.providers[0], Metrics::new().providers.clone())
    }

    #[test]
    fn a_check_waits_for_a_refetch_started_but_not_yet_begun() {
        let h = handle();
        assert!(
            h.unknown_kid().is_some(),
            "the first unknown kid starts one"
        );
        // The task has not woken yet (no begin): the second Check must wait for it too.
        assert!(h.unknown_kid().is_some(), "the same refetch, not a deny");
        h.begin();
        assert!(h.unknown_kid().is_some(), "in flight");
        h.finish();
        assert!(
            h.unknown_kid().is_none(),
            "ended, and within the cooldown: denied at once"
        );
    }
}
