//! Prometheus metrics. Every label value is bounded: the closed deny reasons, the configured
//! rule names and the loaded kids. Handles are resolved ahead of time (at startup, and per
//! snapshot for rules and kids) so a Check only increments atomics.

use std::sync::Arc;

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

pub use super::labels::{AllowReason, ErrorReason, ReloadKind, ReloadResult};
use crate::config::Config;
use crate::keys::KeyRing;
use crate::policy::Omission;
use crate::reason::DenyReason;

/// The process-wide metrics.
pub struct Metrics {
    registry: Registry,
    allow: [IntCounter; 3],
    deny: [IntCounter; 17],
    error: [IntCounter; 2],
    duration: Histogram,
    rule_decisions: IntCounterVec,
    key_verifications: IntCounterVec,
    forward_omitted: IntCounterVec,
    keys: IntGaugeVec,
    key_source_ok: IntGaugeVec,
    reloads: IntCounterVec,
    last_reload_ok: IntGaugeVec,
    last_reload_ts: GaugeVec,
    watcher_active: IntGauge,
    log_dropped: IntCounter,
    streams_evicted: IntCounter,
    connections_evicted: IntCounter,
    cache_lookups: [IntCounter; 2],
    /// The remote providers' fetch metrics.
    pub providers: super::providers::ProviderMetrics,
    config_tests: IntGaugeVec,
}

/// Counters resolved for one snapshot: per rule `[allow, deny, shadow_deny]`, per key index,
/// per forwarded claim header and omission.
#[derive(Debug, Default)]
pub struct SnapshotCounters {
    /// Indexed like `policy.rules`.
    pub rules: Vec<[IntCounter; 3]>,
    /// Indexed like `keyring.keys()`.
    pub kids: Vec<IntCounter>,
    /// Indexed like `forward.claims_to_headers`, then by `Omission as usize`.
    pub omitted: Vec<[IntCounter; 3]>,
}

pub(super) fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("unique metric");
    c
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Arc<Self> {
        let registry = Registry::new();
        let checks = counter_vec(
            &registry,
            "jwt_authz_checks_total",
            "Checks answered, by decision and reason.",
            &["decision", "reason"],
        );
        let allow = [AllowReason::Ok, AllowReason::Public, AllowReason::Shadow]
            .map(|r| checks.with_label_values(&["allow", r.as_label()]));
        let deny = DenyReason::ALL.map(|r| checks.with_label_values(&["deny", r.as_label()]));
        let error = ["unavailable", "overloaded"].map(|r| checks.with_label_values(&["error", r]));
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "jwt_authz_check_duration_seconds",
                "Time to answer a Check inside jwt-authz (gRPC decode/encode excluded).",
            )
            .buckets(vec![
                5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2,
                5e-2, 0.1,
            ]),
        )
        .expect("valid histogram");
        registry
            .register(Box::new(duration.clone()))
            .expect("unique metric");
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let keys = gauge_vec(
            "jwt_authz_keys",
            "Keys in force: by source directory for mounted keys, by provider for fetched ones (the other label is empty).",
            &["source", "provider"],
        );
        let key_source_ok = gauge_vec(
            "jwt_authz_key_source_last_load_successful",
            "1 when the last load of this key source succeeded; 0 when it failed (its last good keys stay in force).",
            &["source"],
        );
        let last_reload_ok = gauge_vec(
            "jwt_authz_last_reload_successful",
            "1 when the last reload attempt of this kind succeeded (or found no change).",
            &["kind"],
        );
        let build_info = gauge_vec("jwt_authz_build_info", "Build information.", &["version"]);
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let last_reload_ts = GaugeVec::new(
            Opts::new(
                "jwt_authz_last_reload_success_timestamp_seconds",
                "Unix time of the last successful reload of this kind.",
            ),
            &["kind"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(last_reload_ts.clone()))
            .expect("unique metric");
        let single = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let watcher_active = single(
            "jwt_authz_reload_watcher_active",
            "1 when file-system events drive reloads; 0 when only polling works (e.g. inotify limits).",
        );
        let log_dropped = IntCounter::new(
            "jwt_authz_log_lines_dropped_total",
            "Log lines dropped because the log sink (stderr) was too slow to take them.",
        )
        .expect("valid metric");
        registry
            .register(Box::new(log_dropped.clone()))
            .expect("unique metric");
        let streams_evicted = IntCounter::new(
            "jwt_authz_stalled_streams_evicted_total",
            "Check streams still waiting for their request message, ended to make room for new ones.",
        )
        .expect("valid metric");
        let connections_evicted = IntCounter::new(
            "jwt_authz_connections_evicted_total",
            "gRPC connections closed to make room (limits.max_connections): the least recently active first.",
        )
        .expect("valid metric");
        for c in [&streams_evicted, &connections_evicted] {
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
        }
        let lookups = counter_vec(
            &registry,
            "jwt_authz_token_cache_lookups_total",
            "Verified-token cache lookups, by result (hit: signature and claims parsing skipped).",
            &["result"],
        );
        let cache_lookups = ["hit", "miss"].map(|r| lookups.with_label_values(&[r]));
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("unique metric");
        let metrics = Self {
            rule_decisions: counter_vec(
                &registry,
                "jwt_authz_rule_decisions_total",
                "Decisions per rule (shadow_deny: a shadow rule would have denied).",
                &["rule", "decision"],
            ),
            key_verifications: counter_vec(
                &registry,
                "jwt_authz_key_verifications_total",
                "Tokens verified, by the kid that verified them.",
                &["kid"],
            ),
            forward_omitted: counter_vec(
                &registry,
                "jwt_authz_forward_omitted_total",
                "Claim headers removed instead of forwarded although the claim is present, by header and reason (ambiguous_list, too_long, control_characters).",
                &["header", "reason"],
            ),
            reloads: counter_vec(
                &registry,
                "jwt_authz_reloads_total",
                "Reload attempts, by kind and result.",
                &["kind", "result"],
            ),
            allow,
            deny,
            error,
            duration,
            keys,
            key_source_ok,
            last_reload_ok,
            last_reload_ts,
            watcher_active,
            log_dropped,
            streams_evicted,
            connections_evicted,
            cache_lookups,
            providers: super::providers::ProviderMetrics::new(&registry),
            config_tests: gauge_vec(
                "jwt_authz_config_tests",
                "Decision tests (tests:) of the last config loaded or attempted, by result (pass, fail).",
                &["result"],
            ),
            registry,
        };
        for kind in [ReloadKind::Keys, ReloadKind::Config] {
            for result in ["success", "failure", "unchanged"] {
                metrics
                    .reloads
                    .with_label_values(&[kind.as_label(), result]);
            }
        }
        Arc::new(metrics)
    }

    /// Counts an allow.
    pub fn allow(&self, reason: AllowReason) {
        self.allow[reason as usize].inc();
    }

    /// Counts a deny.
    pub fn deny(&self, reason: DenyReason) {
        self.deny[reason as usize].inc();
    }

    /// Counts a Check that got an RPC error.
    pub fn error(&self, reason: ErrorReason) {
        self.error[reason as usize].inc();
    }

    /// Records a Check's duration.
    pub fn observe_duration(&self, seconds: f64) {
        self.duration.observe(seconds);
    }

    /// Resolves the per-rule and per-kid counters of a new snapshot, and updates the key
    /// gauges. Series of rules and kids that are gone are removed, so cardinality stays bounded
    /// by what is configured.
    pub fn counters_for(
        &self,
        config: &Config,
        keys: &KeyRing,
        previous: Option<(&Config, &KeyRing)>,
    ) -> SnapshotCounters {
        if let Some((old_config, old_keys)) = previous {
            for rule in &old_config.policy.rules {
                if config.policy.rule(&rule.name).is_none() {
                    for d in ["allow", "deny", "shadow_deny"] {
                        let _ = self.rule_decisions.remove_label_values(&[&rule.name, d]);
                    }
                }
            }
            for key in old_keys.keys() {
                if keys.get(&key.kid).is_none() {
                    let _ = self.key_verifications.remove_label_values(&[&key.kid]);
                }
            }
            for (header, _) in &old_config.forward.claims_to_headers {
                if !config
                    .forward
                    .claims_to_headers
                    .iter()
                    .any(|(h, _)| h == header)
                {
                    for why in Omission::ALL {
                        let _ = self
                            .forward_omitted
                            .remove_label_values(&[header, why.as_label()]);
                    }
                }
            }
        }
        self.key_gauges(config, keys, previous.map(|(c, _)| c));
        SnapshotCounters {
            rules: config
                .policy
                .rules
                .iter()
                .map(|r| {
                    ["allow", "deny", "shadow_deny"]
                        .map(|d| self.rule_decisions.with_label_values(&[&r.name, d]))
                })
                .collect(),
            kids: keys
                .keys()
                .iter()
                .map(|k| self.key_verifications.with_label_values(&[&k.kid]))
                .collect(),
            omitted: config
                .forward
                .claims_to_headers
                .iter()
                .map(|(h, _)| {
                    Omission::ALL
                        .map(|why| self.forward_omitted.with_label_values(&[h, why.as_label()]))
                })
                .collect(),
        }
    }

    /// Records the decision tests of the last config loaded or attempted.
    pub fn config_tests(&self, passed: usize, failed: usize) {
        self.config_tests
            .with_label_values(&["pass"])
            .set(passed as i64);
        self.config_tests
            .with_label_values(&["fail"])
            .set(failed as i64);
    }

    /// Records a reload attempt.
    pub fn reload(&self, kind: ReloadKind, result: ReloadResult, now_unix: f64) {
        let label = match result {
            ReloadResult::Success => "success",
            ReloadResult::Failure => "failure",
            ReloadResult::Unchanged => "unchanged",
        };
        self.reloads
            .with_label_values(&[kind.as_label(), label])
            .inc();
        let ok = result != ReloadResult::Failure;
        self.last_reload_ok
            .with_label_values(&[kind.as_label()])
            .set(i64::from(ok));
        if result == ReloadResult::Success {
            self.last_reload_ts
                .with_label_values(&[kind.as_label()])
                .set(now_unix);
        }
    }

    /// The verified-token cache's (hit, miss) counters.
    pub fn cache_counters(&self) -> (IntCounter, IntCounter) {
        let [hit, miss] = self.cache_lookups.clone();
        (hit, miss)
    }

    /// Counts a stalled stream evicted to make room.
    pub fn stream_evicted(&self) {
        self.streams_evicted.inc();
    }

    /// The counter of connections evicted at the connection cap (handed to the listener).
    pub fn connections_evicted(&self) -> IntCounter {
        self.connections_evicted.clone()
    }

    /// Records whether a key source's last load succeeded.
    pub fn key_source_loaded(&self, source: &str, ok: bool) {
        self.key_source_ok
            .with_label_values(&[source])
            .set(i64::from(ok));
    }

    /// Marks whether file events drive reloads.
    pub fn set_watcher_active(&self, active: bool) {
        self.watcher_active.set(i64::from(active));
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let dropped = super::logging::dropped_lines();
        self.log_dropped
            .inc_by(dropped.saturating_sub(self.log_dropped.get()));
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        String::from_utf8(buf).expect("exposition is UTF-8")
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

mod keys;
#[cfg(test)]
mod tests;
