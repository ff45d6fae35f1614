//! Holes a security review found, each shown closed through the real binary (`explain` runs
//! the exact Check logic): path parameters and case that bypassed rules, a second query token
//! hidden behind percent-encoding, IPv6 host patterns that never matched, and `explain` dying
//! on a closed pipe.

mod support;

use std::process::{Command, Output, Stdio};

use support::*;

fn run(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .output()
        .expect("run jwt-authz")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The quick-start config, with `extra` YAML appended, in a fixture next to its demo key.
fn quick_start(extra: &str) -> Fixture {
    let f = Fixture::new();
    let local = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/local");
    let config = std::fs::read_to_string(format!("{local}/config.yaml")).unwrap();
    std::fs::copy(
        format!("{local}/keys/demo-2026-11"),
        f.keys().join("demo-2026-11"),
    )
    .unwrap();
    f.write_config(&format!("{config}{extra}"));
    f
}

fn token(f: &Fixture, args: &[&str]) -> String {
    let config = f.config_path();
    let mut all = vec!["token", "--config", config.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(out.status.success(), "{out:?}");
    stdout(&out).trim().to_string()
}

/// `explain` for `path` (and `host`) with `token`: (exit code, output).
fn explain(f: &Fixture, token: Option<&str>, path: &str, host: &str) -> (i32, String) {
    let config = f.config_path();
    let mut args = vec!["explain", "--config", config.to_str().unwrap()];
    args.extend(["--method", "GET", "--path", path, "--host", host]);
    if let Some(t) = token {
        args.extend(["--token", t]);
    }
    let out = run(&args);
    (out.status.code().unwrap(), stdout(&out))
}

#[test]
fn path_parameters_and_case_no_longer_bypass_rules() {
    let f = quick_start("");
    let reader = token(&f, &["--sub", "alice", "--scope", "orders:read"]);
    // Was: allowed by the public docs rule (Tomcat reads it as /admin), and /admin;x=1 fell
    // through to the catch-all.
    for path in ["/docs/..;/admin", "/admin;x=1", "/docs;x/..;/admin"] {
        let (code, out) = explain(&f, Some(&reader), path, "localhost");
        assert_eq!(code, 3, "{path}: {out}");
        assert!(
            out.contains("reason:   ambiguous_path (path has a ';' parameter")
                && out.contains("http:     400"),
            "{path}: {out}"
        );
    }
    let strip = quick_start("paths: { parameters: strip }\n");
    let reader = token(&strip, &["--sub", "alice", "--scope", "orders:read"]);
    for path in ["/docs/..;/admin", "/admin;x=1"] {
        let (code, out) = explain(&strip, Some(&reader), path, "localhost");
        assert_eq!(code, 3, "{path}: {out}");
        assert!(
            out.contains("rule:     admin") && out.contains("claim_mismatch"),
            "{path} is the admin rule's: {out}"
        );
    }
    // Case: by default /ADMIN is another path (the catch-all's); case_insensitive maps it.
    let (code, out) = explain(&f, Some(&reader), "/ADMIN", "localhost");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("rule:     signed-in"), "{out}");
    let ci = quick_start("paths: { case_insensitive: true }\n");
    let reader = token(&ci, &["--sub", "alice", "--scope", "orders:read"]);
    let (code, out) = explain(&ci, Some(&reader), "/ADMIN", "localhost");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("rule:     admin"), "{out}");
}

#[test]
fn a_second_query_token_behind_percent_encoding_is_refused() {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .basic_config("jwt: { sources: [{ query: at }] }\nforward: { strip_token: true }\n");
    let valid = token(&f, &["--sub", "alice"]);
    let (code, out) = explain(&f, None, &format!("/p?at={valid}&%61t=forged.x.y"), "h");
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("malformed (token query parameter appears more than once)"),
        "{out}"
    );
    // An encoded name alone is the token, and strip_token removes both spellings.
    let (code, out) = explain(&f, None, &format!("/p?x=1&%61t={valid}"), "h");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("query parameters removed: at, %61t"), "{out}");
}

#[test]
fn ipv6_host_patterns_match() {
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config(
        "rules:\n  - { name: loopback6, match: { hosts: ['[::1]', '[FD00::1]'] } }\n  - { name: rest, match: {}, require: { scopes: [never] } }\n",
    );
    let t = token(&f, &["--sub", "alice"]);
    for host in ["[::1]:8080", "[::1]", "[fd00::1]:443"] {
        let (code, out) = explain(&f, Some(&t), "/", host);
        assert_eq!(code, 0, "{host}: {out}");
        assert!(out.contains("rule:     loopback6"), "{host}: {out}");
    }
    // Userinfo in the authority never matches a host pattern.
    let (code, out) = explain(&f, Some(&t), "/", "evil@[::1]");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("rule:     rest"), "{out}");
}

#[test]
fn explain_into_a_closed_pipe_exits_quietly() {
    let f = quick_start("");
    // `| head -1` once head has exited: every write meets a closed pipe (EPIPE).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(binary())
        .args(["explain", "--config", f.config_path().to_str().unwrap()])
        .args(["--path", "/orders/1"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.code(),
        Some(3),
        "the decision's exit status: {stderr}"
    );
}
