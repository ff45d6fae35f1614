//! `/metrics` on the real binary: exact values for known traffic, a clean `promtool check
//! metrics`, and every metric the published dashboard and alerts use really exists.

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use jwt_authz::testing::check_request;
use serde_json::json;
use support::*;

const POLICY: &str = r#"
rules:
  - name: pub
    match: { path_prefix: /pub }
    public: true
  - name: beta
    match: { path_prefix: /beta }
    mode: shadow
    require: { claims: [{ claim: plan, equals: gold }] }
  - name: api
    match: { path_prefix: /api }
    require: { scopes: [api] }
"#;

/// Starts a server with keys k1, k2 and POLICY, and sends known traffic.
async fn server_with_traffic() -> (Fixture, JwtAuthz) {
    let f = Fixture::new();
    f.write_key("k1", KEY_A)
        .write_key("k2", KEY_B)
        .basic_config(POLICY);
    let server = JwtAuthz::start(&f.config_path());
    let mut client = server.client().await;
    let tok = |kid: &str, key: &[u8], extra: serde_json::Value| {
        let mut c = claims("alice");
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        mint(kid, key, c)
    };
    let scoped1 = tok("k1", KEY_A, json!({"scope": "api"}));
    let scoped2 = tok("k2", KEY_B, json!({"scope": "api"}));
    let unscoped = tok("k1", KEY_A, json!({}));
    let expired = tok("k1", KEY_A, json!({"exp": now() - 3600}));
    let free = tok("k1", KEY_A, json!({"plan": "free"}));
    let traffic: Vec<(&str, Option<&str>)> = vec![
        ("/api/a", Some(&scoped1)),
        ("/api/b", Some(&scoped1)),
        ("/api/c", Some(&scoped1)),
        ("/api/d", Some(&scoped2)),
        ("/pub/x", None),
        ("/pub/y", Some("garbage")),
        ("/beta", Some(&free)),
        ("/api/e", None),
        ("/api/f", None),
        ("/api/g", Some(&expired)),
        ("/api/h", Some(&unscoped)),
    ];
    for (path, token) in traffic {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        client
            .check(check_request("GET", path, "h", &headers))
            .await
            .unwrap();
    }
    (f, server)
}

#[tokio::test]
async fn known_traffic_gives_exact_counts() {
    let (_f, server) = server_with_traffic().await;
    let (status, text) = server.admin_get("/metrics").await;
    assert_eq!(status, 200);
    let v = |series: &str| metric_value(&text, series);
    let expected = [
        (
            r#"jwt_authz_checks_total{decision="allow",reason="ok"}"#,
            4.0,
        ),
        (
            r#"jwt_authz_checks_total{decision="allow",reason="public"}"#,
            2.0,
        ),
        (
            r#"jwt_authz_checks_total{decision="allow",reason="shadow"}"#,
            1.0,
        ),
        (
            r#"jwt_authz_checks_total{decision="deny",reason="missing_token"}"#,
            2.0,
        ),
        (
            r#"jwt_authz_checks_total{decision="deny",reason="expired"}"#,
            1.0,
        ),
        (
            r#"jwt_authz_checks_total{decision="deny",reason="insufficient_scope"}"#,
            1.0,
        ),
        (
            r#"jwt_authz_checks_total{decision="deny",reason="bad_signature"}"#,
            0.0,
        ),
        (
            r#"jwt_authz_checks_total{decision="error",reason="unavailable"}"#,
            0.0,
        ),
        ("jwt_authz_check_duration_seconds_count", 11.0),
        (
            r#"jwt_authz_check_duration_seconds_bucket{le="+Inf"}"#,
            11.0,
        ),
        (
            r#"jwt_authz_rule_decisions_total{decision="allow",rule="api"}"#,
            4.0,
        ),
        (
            r#"jwt_authz_rule_decisions_total{decision="deny",rule="api"}"#,
            4.0,
        ),
        (
            r#"jwt_authz_rule_decisions_total{decision="allow",rule="pub"}"#,
            2.0,
        ),
        (
            r#"jwt_authz_rule_decisions_total{decision="shadow_deny",rule="beta"}"#,
            1.0,
        ),
        (
            r#"jwt_authz_rule_decisions_total{decision="allow",rule="beta"}"#,
            0.0,
        ),
        // Every token a key verified, allowed or not: 3 ok + unscoped + shadowed for k1.
        (r#"jwt_authz_key_verifications_total{kid="k1"}"#, 5.0),
        (r#"jwt_authz_key_verifications_total{kid="k2"}"#, 1.0),
        (r#"jwt_authz_keys{provider="",source="keys"}"#, 2.0),
        (r#"jwt_authz_last_reload_successful{kind="keys"}"#, 1.0),
        (r#"jwt_authz_build_info{version="0.1.0"}"#, 1.0),
        ("jwt_authz_reload_watcher_active", 1.0),
    ];
    for (series, value) in expected {
        assert_eq!(v(series), value, "{series}");
    }
    assert!(
        text.contains(&format!(
            "\n{} ",
            r#"jwt_authz_checks_total{decision="deny",reason="bad_signature"}"#
        )),
        "zero series are exported too"
    );
    let sum = v("jwt_authz_check_duration_seconds_sum");
    assert!(sum > 0.0 && sum < 1.0, "{sum}");
    assert!(
        v(r#"jwt_authz_check_duration_seconds_bucket{le="0.000005"}"#)
            <= v(r#"jwt_authz_check_duration_seconds_bucket{le="0.1"}"#)
    );
    assert!(v("process_resident_memory_bytes") > 1e6);
    assert!(text.contains("process_cpu_seconds_total"));
    assert!(v(r#"jwt_authz_reloads_total{kind="keys",result="success"}"#) >= 1.0);
}

#[tokio::test]
async fn errors_are_counted_and_timed() {
    let f = Fixture::new();
    f.basic_config("");
    let server = JwtAuthz::start(&f.config_path());
    let mut client = server.client().await;
    let auth = format!("Bearer {}", mint("k1", KEY_A, claims("a")));
    let err = client
        .check(check_request("GET", "/", "h", &[("authorization", &auth)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert_eq!(
        server
            .metric(r#"jwt_authz_checks_total{decision="error",reason="unavailable"}"#)
            .await,
        1.0
    );
    assert_eq!(
        server
            .metric("jwt_authz_check_duration_seconds_count")
            .await,
        1.0
    );
    assert_eq!(
        server
            .metric(r#"jwt_authz_keys{provider="",source="keys"}"#)
            .await,
        0.0
    );
    assert_eq!(
        server
            .metric(r#"jwt_authz_last_reload_successful{kind="keys"}"#)
            .await,
        0.0
    );
}

#[tokio::test]
#[ignore = "needs promtool (Debian prometheus); scripts/test.sh runs it"]
async fn promtool_accepts_a_real_scrape() {
    let (_f, server) = server_with_traffic().await;
    let (_, text) = server.admin_get("/metrics").await;
    let promtool = std::env::var("PROMTOOL_BIN").unwrap_or_else(|_| "promtool".into());
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{promtool}: {e} (run scripts/test.sh, which installs it)"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics:\n{report}"
    );
}

/// Metric names a PromQL-bearing file uses.
fn used_metrics(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r"\b((?:jwt_authz|process)_[a-z_]+)").unwrap();
    re.captures_iter(text).map(|c| c[1].to_string()).collect()
}

#[tokio::test]
async fn the_dashboard_and_alerts_use_only_exported_metrics() {
    let (_f, server) = server_with_traffic().await;
    let (_, mut scrape) = server.admin_get("/metrics").await;
    // And a server whose keys come from an identity provider (the jwt_authz_jwks_* series).
    let key = jwt_authz::testing::rsa_key();
    let set = json!({"keys": [jwt_authz::testing::jwk(&key, Some("r1"), Some(jwt_authz::keys::Algorithm::RS256))]});
    let idp = support::jwks_server::JwksServer::start(&set.to_string(), "unused").await;
    let f = Fixture::new();
    f.write_config(&format!(
        "providers:\n  - {{ name: corp, issuer: https://idp.test, jwks_uri: {}, remote: {{ allow_http: true }} }}\n",
        idp.jwks_uri()
    ));
    let fetching = JwtAuthz::start(&f.config_path());
    eventually("a fetch", Duration::from_secs(10), || async {
        (fetching.admin_get("/readyz").await.0 == 200).then_some(())
    })
    .await;
    scrape.push_str(&fetching.admin_get("/metrics").await.1);
    let exported: BTreeSet<String> = scrape
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/monitoring");
    for file in ["grafana-dashboard.json", "alerts.yaml"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let used = used_metrics(&text);
        assert!(used.len() >= 5, "{file}: {used:?}");
        for name in used {
            assert!(
                exported.contains(&name),
                "{file} uses {name}, which jwt-authz does not export"
            );
        }
    }
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("grafana-dashboard.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(dashboard["uid"], "jwt-authz");
}
