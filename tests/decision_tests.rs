//! Decision tests in the config, through the real binary: `jwt-authz test` (text and JSON,
//! exit codes), startup refusing a config whose tests fail, and a ConfigMap reload (the
//! kubelet's atomic writer) that breaks a test refused while the old decisions stay in force.

mod support;

use std::process::Command;
use std::time::Duration;

use support::kubelet::AtomicWriter;
use support::*;

const WAIT: Duration = Duration::from_secs(10);

/// Admins only on /admin; `admin_rule` is the rule's requirement.
fn config(admin_rule: &str) -> String {
    format!(
        r#"keys: [{{ dir: ../keys, algorithm: HS256 }}]
reload: {{ debounce: 100ms, poll_interval: 1s }}
rules:
  - name: admin
    match: {{ path_prefix: /admin }}
    require: {admin_rule}
  - name: rest
    match: {{}}
tests:
  - name: a user is kept out of admin
    request: {{ path: /admin/users }}
    claims: {{ sub: alice, roles: [user] }}
    expect: {{ decision: deny, rule: admin, reason: claim_mismatch }}
  - name: an admin gets in
    request: {{ path: /admin/users }}
    claims: {{ sub: root, roles: [admin] }}
    expect: {{ decision: allow, rule: admin }}
"#
    )
}

const GOOD: &str = "{ claims: [{ claim: roles, contains: admin }] }";
/// Also a good policy: the same decisions, written differently.
const GOOD_TOO: &str = "{ claims: [{ claim: roles, one_of: [admin] }] }";
/// Breaks the first test: any role gets in.
const BROKEN: &str = "{ claims: [{ claim: roles, exists: true }] }";

fn test_command(path: &std::path::Path, format: &str) -> (Option<i32>, String) {
    let out = Command::new(binary())
        .args(["test", "--format", format, "--config"])
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_test_command_reports_each_failure_and_a_summary() {
    let f = Fixture::new();
    f.write_config(&config(GOOD));
    let (code, out) = test_command(&f.config_path(), "text");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(": 2 passed, 0 failed ("), "{out}");
    f.write_config(&config(BROKEN));
    let (code, out) = test_command(&f.config_path(), "text");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL a user is kept out of admin: expected deny (rule admin, reason claim_mismatch), got allow (rule admin, reason ok)"),
        "{out}"
    );
    assert!(out.contains(": 1 passed, 1 failed ("), "{out}");
    let (code, out) = test_command(&f.config_path(), "json");
    assert_eq!(code, Some(1));
    let doc: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (doc["passed"].as_u64(), doc["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(doc["results"][0]["passed"], false);
    assert_eq!(doc["results"][0]["actual"], "allow (rule admin, reason ok)");
    // It needs no keys: the configured key directory does not exist.
    let loaded = jwt_authz::config::Config::load_untested(&f.config_path()).unwrap();
    assert!(
        !loaded.keys[0].dir.exists(),
        "{}",
        loaded.keys[0].dir.display()
    );
    // serve and validate refuse the broken config, naming the test.
    for cmd in ["validate", "serve"] {
        let out = Command::new(binary())
            .args([cmd, "--config"])
            .arg(f.config_path())
            .args(if cmd == "serve" {
                &["--admin-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"][..]
            } else {
                &[][..]
            })
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {stderr}");
        assert!(
            stderr.contains("tests: 1 of 2 failed: \"a user is kept out of admin\" expected deny"),
            "{cmd}: {stderr}"
        );
    }
}

#[tokio::test]
async fn a_reload_that_breaks_a_test_is_refused_and_one_that_keeps_them_is_accepted() {
    let f = Fixture::new();
    f.write_key("a", KEY_A);
    let writer = AtomicWriter::new(&f.path().join("config"));
    writer.write(&[("config.yaml", config(GOOD).as_bytes())]);
    let server = JwtAuthz::start(&f.path().join("config/config.yaml"));
    let user = {
        let mut c = claims("alice");
        c["roles"] = serde_json::json!(["user"]);
        mint("a", KEY_A, c)
    };
    let server = &server;
    let admin_check = |token: String| async move {
        let mut client = server.client().await;
        let auth = format!("Bearer {token}");
        let req = jwt_authz::testing::check_request(
            "GET",
            "/admin/users",
            "h",
            &[("authorization", &auth)],
        );
        let status = client
            .check(req)
            .await
            .unwrap()
            .into_inner()
            .status
            .unwrap();
        if status.code == 0 {
            "ok".to_string()
        } else {
            status.message
        }
    };
    assert_eq!(admin_check(user.clone()).await, "claim_mismatch");
    assert_eq!(
        server
            .metric(r#"jwt_authz_config_tests{result="pass"}"#)
            .await,
        2.0
    );

    writer.write(&[("config.yaml", config(BROKEN).as_bytes())]);
    eventually("the refusal", WAIT, || async {
        (server
            .metric(r#"jwt_authz_reloads_total{kind="config",result="failure"}"#)
            .await
            >= 1.0)
            .then_some(())
    })
    .await;
    assert_eq!(
        admin_check(user.clone()).await,
        "claim_mismatch",
        "the old policy stays"
    );
    assert_eq!(
        server
            .metric(r#"jwt_authz_config_tests{result="fail"}"#)
            .await,
        1.0
    );
    assert_eq!(
        server
            .metric(r#"jwt_authz_config_tests{result="pass"}"#)
            .await,
        1.0
    );
    assert!(server
        .logs()
        .iter()
        .any(|l| l.contains("config reload rejected")
            && l.contains("a user is kept out of admin")
            && l.contains("got allow")));

    writer.write(&[("config.yaml", config(GOOD_TOO).as_bytes())]);
    eventually("the new policy", WAIT, || async {
        (server
            .metric(r#"jwt_authz_reloads_total{kind="config",result="success"}"#)
            .await
            >= 1.0)
            .then_some(())
    })
    .await;
    assert_eq!(
        server
            .metric(r#"jwt_authz_config_tests{result="pass"}"#)
            .await,
        2.0
    );
    assert_eq!(
        server
            .metric(r#"jwt_authz_config_tests{result="fail"}"#)
            .await,
        0.0
    );
    assert_eq!(admin_check(user).await, "claim_mismatch");
}

/// 1,000 tests over 50 rules: `jwt-authz test` stays well under a second (printed for
/// BENCHMARKS.md; not a timed assertion).
#[test]
fn a_thousand_tests_over_fifty_rules() {
    let mut yaml = String::from("keys: [{ dir: k, algorithm: HS256 }]\nrules:\n");
    for i in 0..50 {
        yaml.push_str(&format!(
            "  - {{ name: r{i}, match: {{ path_template: '/svc{i}/{{id}}/**', methods: [GET] }}, require: {{ scopes: ['s{i}'] }} }}\n"
        ));
    }
    yaml.push_str("tests:\n");
    for t in 0..1000 {
        let i = t % 50;
        let (scope, decision) = if t % 2 == 0 {
            (format!("s{i}"), "allow")
        } else {
            ("x".into(), "deny")
        };
        yaml.push_str(&format!(
            "  - {{ name: t{t}, request: {{ path: /svc{i}/{t}/x }}, claims: {{ scope: {scope} }}, expect: {{ decision: {decision}, rule: r{i} }} }}\n"
        ));
    }
    let f = Fixture::new();
    f.write_config(&yaml);
    let started = std::time::Instant::now();
    let (code, out) = test_command(&f.config_path(), "text");
    let elapsed = started.elapsed();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("1000 passed, 0 failed"), "{out}");
    eprintln!(
        "jwt-authz test, 1000 tests over 50 rules: {} ms for the whole command ({})",
        elapsed.as_millis(),
        out.trim()
    );
}
