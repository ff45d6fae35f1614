//! Metrics of the remote providers' fetchers: fetch results, the last success, unknown-kid
//! refetches and skipped JWKs, each labelled by provider name (bounded by the config).

use prometheus::{GaugeVec, IntCounterVec, Opts, Registry};

use super::metrics::counter_vec;

/// The result of one fetch of a provider's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchResult {
    /// A new JWK Set (changed or not) was read and is in force.
    Success,
    /// 304: the set in force is still current.
    NotModified,
    /// The fetch failed; the last good keys stay (up to `max_stale`).
    Failure,
}

impl FetchResult {
    /// The `result` label.
    pub fn as_label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::NotModified => "not_modified",
            Self::Failure => "failure",
        }
    }
}

/// The per-provider fetch metrics.
#[derive(Clone, Debug)]
pub struct ProviderMetrics {
    fetches: IntCounterVec,
    last_success: GaugeVec,
    unknown_kid: IntCounterVec,
    invalid_keys: IntCounterVec,
}

impl ProviderMetrics {
    /// Creates and registers the families.
    pub(super) fn new(registry: &Registry) -> Self {
        let last_success = GaugeVec::new(
            Opts::new(
                "jwt_authz_jwks_last_success_timestamp_seconds",
                "Unix time of the provider's last successful fetch (a 304 counts), or of the cached set read at startup.",
            ),
            &["provider"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(last_success.clone()))
            .expect("unique metric");
        Self {
            fetches: counter_vec(
                registry,
                "jwt_authz_jwks_fetches_total",
                "Fetches of a provider's JWK Set, by result (success, not_modified, failure).",
                &["provider", "result"],
            ),
            last_success,
            unknown_kid: counter_vec(
                registry,
                "jwt_authz_jwks_unknown_kid_refetches_total",
                "Refetches started because a token named a kid the provider's keys lack.",
                &["provider"],
            ),
            invalid_keys: counter_vec(
                registry,
                "jwt_authz_jwks_invalid_keys_total",
                "JWKs of a fetched set that could not be used and were skipped (the others are used).",
                &["provider"],
            ),
        }
    }

    /// Creates the series of a provider (so dashboards see zeros before the first event).
    pub fn register(&self, provider: &str) {
        for r in [
            FetchResult::Success,
            FetchResult::NotModified,
            FetchResult::Failure,
        ] {
            self.fetches.with_label_values(&[provider, r.as_label()]);
        }
        self.unknown_kid.with_label_values(&[provider]);
        self.invalid_keys.with_label_values(&[provider]);
    }

    /// Removes a provider's series (it is no longer configured).
    pub fn forget(&self, provider: &str) {
        for r in ["success", "not_modified", "failure"] {
            let _ = self.fetches.remove_label_values(&[provider, r]);
        }
        let _ = self.last_success.remove_label_values(&[provider]);
        let _ = self.unknown_kid.remove_label_values(&[provider]);
        let _ = self.invalid_keys.remove_label_values(&[provider]);
    }

    /// Counts a fetch; a success (or 304) also sets the last-success time.
    pub fn fetched(&self, provider: &str, result: FetchResult, now_unix: f64) {
        self.fetches
            .with_label_values(&[provider, result.as_label()])
            .inc();
        if result != FetchResult::Failure {
            self.succeeded_at(provider, now_unix);
        }
    }

    /// Sets the last-success time (a fetch, or the cached set's fetch time at startup).
    pub fn succeeded_at(&self, provider: &str, unix: f64) {
        self.last_success.with_label_values(&[provider]).set(unix);
    }

    /// Counts an unknown-kid refetch.
    pub fn unknown_kid_refetch(&self, provider: &str) {
        self.unknown_kid.with_label_values(&[provider]).inc();
    }

    /// Counts skipped JWKs.
    pub fn invalid_keys(&self, provider: &str, count: usize) {
        self.invalid_keys
            .with_label_values(&[provider])
            .inc_by(count as u64);
    }
}
