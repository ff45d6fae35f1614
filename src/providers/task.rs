//! One provider's fetcher: the cached set first (`cache_dir`), then fetches on the schedule
//! (`Cache-Control: max-age`, else `refresh_interval`, clamped to [`min_refresh`,
//! `max_refresh`], ±10% jitter), retries after a failure backing off from 1 s, doubling, up to
//! `min_refresh`, and unknown-kid refetches when a Check asks. The last good keys stay through
//! failures until `max_stale` after the last success; then the provider has none.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::cache_dir::{self, Cached};
use super::fetch::{self, Fetched};
use super::http::HttpClient;
use super::Handle;
use crate::config::{Provider, Remote};
use crate::keys::KeySet;
use crate::reload::unix_seconds;
use crate::state::{KeyUpdate, State};
use crate::telemetry::FetchResult;

/// The fetcher's memory between fetches.
struct Fetcher {
    state: Arc<State>,
    handle: Arc<Handle>,
    provider: Provider,
    remote: Remote,
    set: Option<Arc<KeySet>>,
    etag: Option<String>,
    /// The last 200's `max-age`: a 304 without one keeps it (RFC 9111 §4.3.4).
    max_age: Option<Duration>,
    last_success: Option<f64>,
    failures: u32,
    rng: u64,
}

/// Runs the fetcher of `provider` (which has `remote`) until aborted.
pub async fn run(state: Arc<State>, handle: Arc<Handle>, provider: Provider) {
    let remote = provider.remote.clone().expect("a remote provider");
    let inherited = handle.last_success_ms.load(Ordering::Acquire);
    let set = (inherited > 0)
        .then(|| state.remote_set(&provider.name))
        .flatten();
    let mut f = Fetcher {
        state,
        rng: seed(&provider.name),
        handle,
        provider,
        remote,
        set,
        etag: None,
        max_age: None,
        last_success: (inherited > 0).then(|| inherited as f64 / 1000.0),
        failures: 0,
    };
    let mut client = loop {
        match f.client() {
            Ok(c) => break c,
            Err(e) => {
                tracing::error!(provider = %f.provider.name, error = %e, "cannot build the provider's HTTP client: retrying");
                f.count(FetchResult::Failure);
                tokio::time::sleep(f.remote.min_refresh).await;
            }
        }
    };
    f.read_cache();
    loop {
        // A CA bundle mounted from a ConfigMap rotates like any other file: rebuild the
        // client when its bytes change (read once per fetch; a bad new bundle keeps the old).
        if let Some(ca) = ca_digest(&f.remote) {
            if Some(ca) != client.1 {
                match f.client() {
                    Ok(c) => {
                        tracing::info!(provider = %f.provider.name, "ca_file changed: HTTPS client rebuilt");
                        client = c;
                    }
                    Err(e) => {
                        tracing::warn!(provider = %f.provider.name, error = %e, "ca_file changed but cannot be used: keeping the previous trust anchors");
                        client.1 = Some(ca);
                    }
                }
            }
        }
        f.handle.begin();
        let result = fetch::fetch(&client.0, &f.provider, &f.remote, f.etag.as_deref()).await;
        let delay = match result {
            Ok(fetched) => f.succeeded(fetched),
            Err(e) => f.failed(&e.to_string()),
        };
        f.handle.finish();
        let delay = f.stale_deadline().map_or(delay, |d| delay.min(d));
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = f.handle.wake.notified() => {}
        }
        if f.stale_deadline().is_some_and(|d| d.is_zero()) {
            f.drop_stale();
        }
    }
}

/// SHA-256 of the `ca_file`'s bytes (`None` without one, or when it cannot be read now).
fn ca_digest(remote: &Remote) -> Option<[u8; 32]> {
    use sha2::Digest;
    let path = remote.ca_file.as_ref()?;
    let bytes = crate::fsread::read_regular(path, 1 << 20).ok()?;
    Some(sha2::Sha256::digest(&bytes).into())
}

impl Fetcher {
    /// The HTTP client for the remote's settings, with the digest of the CA bundle it trusts.
    fn client(&self) -> Result<(HttpClient, Option<[u8; 32]>), super::http::HttpError> {
        let digest = ca_digest(&self.remote);
        let client = HttpClient::new(
            self.remote.ca_file.as_deref(),
            self.remote.allow_http,
            self.remote.timeout,
            self.remote.max_bytes,
        )?;
        Ok((client, digest))
    }

    fn name(&self) -> &str {
        &self.provider.name
    }

    fn count(&self, result: FetchResult) {
        self.state
            .metrics
            .providers
            .fetched(self.name(), result, unix_seconds());
    }

    fn mark_success(&mut self, at: f64) {
        self.last_success = Some(at);
        self.failures = 0;
        self.handle
            .last_success_ms
            .store((at * 1000.0) as u64, Ordering::Release);
    }

    /// A success: publishes a new set, and schedules the next refresh.
    fn succeeded(&mut self, fetched: Fetched) -> Duration {
        let now = unix_seconds();
        let max_age = match fetched {
            Fetched::NotModified { max_age } => {
                self.count(FetchResult::NotModified);
                tracing::debug!(provider = %self.name(), "keys not modified (304)");
                max_age.or(self.max_age)
            }
            Fetched::New {
                decoded,
                body,
                jwks_uri,
                etag,
                max_age,
            } => {
                self.count(FetchResult::Success);
                self.state
                    .metrics
                    .providers
                    .invalid_keys(self.name(), decoded.invalid);
                self.install(decoded.set, &jwks_uri, decoded.invalid, "fetched");
                self.etag = etag.clone();
                self.max_age = max_age;
                self.write_cache(Cached {
                    issuer: self.provider.issuer.clone().unwrap_or_default(),
                    jwks_uri,
                    fetched_at: now,
                    etag,
                    jwks: String::from_utf8_lossy(&body).into_owned(),
                });
                max_age
            }
        };
        self.mark_success(now);
        let r = &self.remote;
        let period = max_age
            .unwrap_or(r.refresh_interval)
            .clamp(r.min_refresh, r.max_refresh);
        self.jitter(period)
    }

    /// Publishes `set` and logs the kids added and removed.
    fn install(&mut self, set: Arc<KeySet>, jwks_uri: &str, invalid: usize, how: &str) {
        let kids = |s: Option<&Arc<KeySet>>| -> BTreeSet<String> {
            s.map(|s| s.keys().iter().map(|k| k.kid.to_string()).collect())
                .unwrap_or_default()
        };
        let (old, new) = (kids(self.set.as_ref()), kids(Some(&set)));
        let changed = self.set.as_ref().is_none_or(|s| s.digest() != set.digest());
        let published = self.state.publish_keys(
            None,
            KeyUpdate::Remote(self.provider.name.clone(), Some(set.clone())),
        );
        if changed {
            let added: Vec<&String> = new.difference(&old).collect();
            let removed: Vec<&String> = old.difference(&new).collect();
            tracing::info!(
                provider = %self.name(),
                jwks_uri,
                keys = new.len(),
                added = ?added,
                removed = ?removed,
                skipped = invalid,
                in_force = published.changed(),
                "provider keys {how}"
            );
        }
        self.set = Some(set);
    }

    /// A failure: keeps the keys, retries with backoff.
    fn failed(&mut self, error: &str) -> Duration {
        self.count(FetchResult::Failure);
        self.failures += 1;
        let age = self.last_success.map(|t| (unix_seconds() - t).max(0.0));
        match (&self.set, age) {
            (Some(set), Some(age)) => tracing::warn!(
                provider = %self.name(),
                error,
                kept = set.keys().len(),
                since_last_success_s = age as u64,
                "provider key fetch failed: keeping its last good keys"
            ),
            _ => tracing::warn!(
                provider = %self.name(),
                error,
                "provider key fetch failed: it has no keys yet (its tokens are answered UNAVAILABLE)"
            ),
        }
        let backoff = Duration::from_secs(1)
            .saturating_mul(1 << (self.failures - 1).min(20))
            .min(self.remote.min_refresh);
        self.jitter(backoff)
    }

    /// Time left before the keys in force pass `max_stale` (None: no keys, or no success).
    fn stale_deadline(&self) -> Option<Duration> {
        self.set.as_ref()?;
        let at = self.last_success? + self.remote.max_stale.as_secs_f64();
        Some(Duration::from_secs_f64((at - unix_seconds()).max(0.0)))
    }

    fn drop_stale(&mut self) {
        tracing::error!(
            provider = %self.name(),
            max_stale = ?self.remote.max_stale,
            "provider keys are older than remote.max_stale: dropped (its tokens are answered UNAVAILABLE until a fetch succeeds)"
        );
        self.set = None;
        self.etag = None;
        self.state
            .publish_keys(None, KeyUpdate::Remote(self.provider.name.clone(), None));
    }

    /// Startup: the set kept in `cache_dir`, when it is younger than `max_stale`.
    fn read_cache(&mut self) {
        let Some(dir) = self.remote.cache_dir.clone() else {
            return;
        };
        let issuer = self.provider.issuer.clone().unwrap_or_default();
        let cached = match cache_dir::read(&dir, self.name(), &issuer, self.remote.max_bytes) {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(provider = %self.name(), error = %e, "cached keys not used");
                return;
            }
        };
        let age = unix_seconds() - cached.fetched_at;
        if age > self.remote.max_stale.as_secs_f64() {
            tracing::warn!(provider = %self.name(), age_s = age as u64, "cached keys are older than remote.max_stale: not used");
            return;
        }
        match fetch::decode(cached.jwks.as_bytes(), &cached.jwks_uri, self.name()) {
            Ok(decoded) => {
                self.install(
                    decoded.set,
                    &cached.jwks_uri,
                    decoded.invalid,
                    "read from cache_dir",
                );
                self.etag = cached.etag;
                self.mark_success(cached.fetched_at);
                self.state
                    .metrics
                    .providers
                    .succeeded_at(self.name(), cached.fetched_at);
            }
            Err(e) => {
                tracing::warn!(provider = %self.name(), error = %e, "cached keys not used")
            }
        }
    }

    fn write_cache(&self, cached: Cached) {
        let Some(dir) = self.remote.cache_dir.clone() else {
            return;
        };
        let name = self.provider.name.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = cache_dir::write(&dir, &name, &cached) {
                tracing::warn!(provider = %name, dir = %dir.display(), error = %e, "cannot write the keys to cache_dir");
            }
        });
    }

    /// `d` ± 10%.
    fn jitter(&mut self, d: Duration) -> Duration {
        // xorshift64: spreads the fetches of many replicas; not for secrets.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let unit = (self.rng >> 11) as f64 / (1u64 << 53) as f64;
        d.mul_f64(0.9 + 0.2 * unit)
    }
}

fn seed(name: &str) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ (std::process::id() as u64) << 32 ^ nanos;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h | 1
}
