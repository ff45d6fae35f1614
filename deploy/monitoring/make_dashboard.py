#!/usr/bin/env python3
"""Writes grafana-dashboard.json (run from this directory). Panels: decisions by reason,
latency percentiles, reload status, per-kid usage, rules, process. Every metric it uses is
checked against a real scrape by tests/monitoring.rs."""
import json

RATE = "$__rate_interval"
SEL = 'job=~"$job", instance=~"$instance"'
DS = {"type": "prometheus", "uid": "${datasource}"}


def target(expr, legend, ref):
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref}


def panel(pid, title, kind, x, y, w, h, targets, unit="short", desc="", extra=None):
    p = {
        "id": pid, "type": kind, "title": title, "description": desc, "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [target(e, l, chr(65 + i)) for i, (e, l) in enumerate(targets)],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right", "calcs": ["mean", "max"]}},
    }
    if extra:
        p.update(extra)
    return p


def row(pid, title, y):
    return {"id": pid, "type": "row", "title": title, "collapsed": False, "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}


panels = [
    row(1, "Decisions", 0),
    panel(2, "Checks by decision and reason", "timeseries", 0, 1, 16, 8,
          [(f'sum by (decision, reason) (rate(jwt_authz_checks_total{{{SEL}}}[{RATE}]))', "{{decision}} {{reason}}")],
          "reqps", "Allows (ok, public, shadow), denies by reason, and errors (unavailable)."),
    panel(3, "Deny ratio", "stat", 16, 1, 4, 4,
          [(f'sum(rate(jwt_authz_checks_total{{{SEL}, decision="deny"}}[{RATE}])) / sum(rate(jwt_authz_checks_total{{{SEL}}}[{RATE}]))', "deny")],
          "percentunit"),
    panel(4, "Errors (UNAVAILABLE)", "stat", 20, 1, 4, 4,
          [(f'sum(rate(jwt_authz_checks_total{{{SEL}, decision="error"}}[{RATE}]))', "errors")], "reqps",
          "Non-zero means no key is loaded: Envoy applies status_on_error."),
    panel(5, "Checks per second", "stat", 16, 5, 8, 4,
          [(f'sum(rate(jwt_authz_checks_total{{{SEL}}}[{RATE}]))', "checks")], "reqps"),
    row(6, "Latency", 9),
    panel(7, "Check time inside jwt-authz", "timeseries", 0, 10, 24, 8,
          [(f'histogram_quantile({q}, sum by (le) (rate(jwt_authz_check_duration_seconds_bucket{{{SEL}}}[{RATE}])))', f"p{int(q * 100)}")
           for q in (0.5, 0.9, 0.99)], "s", "gRPC decoding and encoding excluded."),
    row(8, "Keys and reloads", 18),
    panel(9, "Keys loaded", "timeseries", 0, 19, 8, 8,
          [(f'sum by (instance, source, provider) (jwt_authz_keys{{{SEL}}})', "{{instance}} {{source}}{{provider}}")], "short",
          "Mounted keys by source directory, fetched keys by provider."),
    panel(10, "Last reload successful", "stat", 8, 19, 4, 8,
          [(f'min by (kind) (jwt_authz_last_reload_successful{{{SEL}}})', "{{kind}}")], "bool_yes_no"),
    panel(11, "Reloads by result", "timeseries", 12, 19, 8, 8,
          [(f'sum by (kind, result) (increase(jwt_authz_reloads_total{{{SEL}}}[{RATE}]))', "{{kind}} {{result}}")], "short"),
    panel(12, "Since last successful reload", "stat", 20, 19, 4, 4,
          [(f'time() - max by (kind) (jwt_authz_last_reload_success_timestamp_seconds{{{SEL}}})', "{{kind}}")], "s"),
    panel(13, "File watch active", "stat", 20, 23, 4, 4,
          [(f'min(jwt_authz_reload_watcher_active{{{SEL}}})', "watch")], "bool_yes_no",
          "0: reloads by polling only (inotify limits)."),
    panel(14, "Verifications per kid (is the old key still used?)", "timeseries", 0, 27, 24, 8,
          [(f'sum by (kid) (rate(jwt_authz_key_verifications_total{{{SEL}}}[{RATE}]))', "{{kid}}"),
           (f'sum(rate(jwt_authz_checks_total{{{SEL}, reason="unknown_kid"}}[{RATE}]))', "unknown kid (retired?)")],
          "reqps", "Retire a key once its line stays at zero."),
    row(15, "Rules", 35),
    panel(16, "Decisions per rule", "timeseries", 0, 36, 24, 8,
          [(f'sum by (rule, decision) (rate(jwt_authz_rule_decisions_total{{{SEL}}}[{RATE}]))', "{{rule}} {{decision}}")],
          "reqps", "shadow_deny: a rule in shadow mode would have denied."),
    row(17, "Process", 44),
    panel(18, "CPU", "timeseries", 0, 45, 12, 7,
          [(f'rate(process_cpu_seconds_total{{{SEL}}}[{RATE}])', "{{instance}}")], "percentunit"),
    panel(19, "Resident memory", "timeseries", 12, 45, 12, 7,
          [(f'process_resident_memory_bytes{{{SEL}}}', "{{instance}}")], "bytes"),
    row(20, "Identity providers", 52),
    panel(21, "Key fetches by result", "timeseries", 0, 53, 12, 8,
          [(f'sum by (provider, result) (increase(jwt_authz_jwks_fetches_total{{{SEL}}}[{RATE}]))', "{{provider}} {{result}}")],
          "short", "success: a new JWK Set; not_modified: 304; failure: the last good keys stay."),
    panel(22, "Since last successful fetch", "timeseries", 12, 53, 6, 8,
          [(f'time() - max by (provider) (jwt_authz_jwks_last_success_timestamp_seconds{{{SEL}}})', "{{provider}}")], "s",
          "Keys are dropped remote.max_stale (24h by default) after the last success."),
    panel(23, "Unknown-kid refetches and skipped JWKs", "timeseries", 18, 53, 6, 8,
          [(f'sum by (provider) (increase(jwt_authz_jwks_unknown_kid_refetches_total{{{SEL}}}[{RATE}]))', "{{provider}} refetch"),
           (f'sum by (provider) (increase(jwt_authz_jwks_invalid_keys_total{{{SEL}}}[{RATE}]))', "{{provider}} skipped")],
          "short", "At most one refetch per unknown_kid_cooldown, however many unknown kids arrive."),
]

variables = [
    {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
    {"name": "job", "type": "query", "datasource": DS, "query": "label_values(jwt_authz_build_info, job)",
     "refresh": 2, "includeAll": True, "multi": True, "current": {"text": "All", "value": "$__all"}},
    {"name": "instance", "type": "query", "datasource": DS,
     "query": 'label_values(jwt_authz_build_info{job=~"$job"}, instance)',
     "refresh": 2, "includeAll": True, "multi": True, "current": {"text": "All", "value": "$__all"}},
]

dashboard = {
    "uid": "jwt-authz", "title": "jwt-authz", "tags": ["jwt-authz", "envoy", "ext_authz"],
    "timezone": "browser", "schemaVersion": 39, "version": 1, "editable": True,
    "time": {"from": "now-1h", "to": "now"}, "refresh": "30s",
    "templating": {"list": variables}, "panels": panels, "annotations": {"list": []},
}

with open("grafana-dashboard.json", "w") as f:
    json.dump(dashboard, f, indent=2)
    f.write("\n")
