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
    // Encoded: a backend that decodes before splitting off parameters reads it as one.
    for path in ["/docs/..%3B/admin", "/admin%3bx=1"] {
        let (code, out) = explain(&f, Some(&reader), path, "localhost");
        assert_eq!(code, 3, "{path}: {out}");
        assert!(
            out.contains("reason:   ambiguous_path (path has an encoded ';'"),
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
    // A framework that splits on ';' too reads a second token here.
    let (code, out) = explain(&f, None, &format!("/p?at={valid}&x=1;at=forged.x.y"), "h");
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("malformed (token query parameter follows a ';')"),
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

#[tokio::test]
async fn an_array_that_would_forward_ambiguously_is_removed_counted_and_logged() {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .basic_config("forward: { claims_to_headers: { x-jwt-roles: roles, x-jwt-sub: sub } }\n");
    let joined = mint("a", KEY_A, {
        let mut c = claims("alice");
        c["roles"] = serde_json::json!(["user,admin"]);
        c
    });
    let split = mint("a", KEY_A, {
        let mut c = claims("alice");
        c["roles"] = serde_json::json!(["user", "admin"]);
        c
    });
    let (code, out) = explain(&f, Some(&joined), "/", "h");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("upstream headers removed: x-jwt-roles")
            && out.contains("not forwarded: x-jwt-roles (ambiguous_list")
            && out.contains("x-jwt-sub: alice"),
        "{out}"
    );
    let (_, out) = explain(&f, Some(&split), "/", "h");
    assert!(out.contains("x-jwt-roles: user,admin"), "{out}");

    let server = JwtAuthz::start(&f.config_path());
    let mut client = server.client().await;
    assert_eq!(verdict(&mut client, &joined).await, "ok");
    assert_eq!(
        server
            .metric(
                r#"jwt_authz_forward_omitted_total{header="x-jwt-roles",reason="ambiguous_list"}"#
            )
            .await,
        1.0
    );
    eventually(
        "the omission is logged",
        std::time::Duration::from_secs(5),
        || async {
            server
                .logs()
                .iter()
                .any(|l| l.contains("claim header not forwarded") && l.contains("x-jwt-roles"))
                .then_some(())
        },
    )
    .await;
}

#[test]
fn a_kid_less_token_is_tried_against_at_most_16_keys() {
    let f = Fixture::new();
    for i in 0..17u8 {
        f.write_key(&format!("k{i:02}"), &[b'a' + i; 32]);
    }
    f.basic_config("");
    let kidless = |secret: &[u8]| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims("alice"),
            &jsonwebtoken::EncodingKey::from_secret(secret).unwrap(),
        )
        .unwrap()
    };
    let (code, out) = explain(&f, Some(&kidless(&[b'a'; 32])), "/", "h");
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("unknown_kid (token has no kid and more than 16 keys use its alg)"),
        "{out}"
    );
    let config = f.config_path();
    let out = run(&["validate", "--config", config.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: 17 keys use HS256") && stderr.contains("jwt.require_kid"),
        "{stderr}"
    );
    // Sixteen keys: found; with jwt.require_kid the kid is required.
    std::fs::remove_file(f.keys().join("k16")).unwrap();
    let (code, out) = explain(&f, Some(&kidless(&[b'a' + 15; 32])), "/", "h");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("kid:      k15"), "{out}");
    f.basic_config("jwt: { require_kid: true }\n");
    let (code, out) = explain(&f, Some(&kidless(&[b'a'; 32])), "/", "h");
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("unknown_kid (token has no kid (jwt.require_kid))"),
        "{out}"
    );
}

#[test]
fn registered_claims_of_the_wrong_type_are_refused_even_when_no_check_uses_them() {
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config("");
    for (claim, value, detail) in [
        ("iss", serde_json::json!(true), "iss is not a string"),
        ("sub", serde_json::json!(123), "sub is not a string"),
        ("jti", serde_json::json!(1), "jti is not a string"),
        (
            "aud",
            serde_json::json!([1, 2]),
            "aud is neither a string nor an array of strings",
        ),
        (
            "aud",
            serde_json::json!(123),
            "aud is neither a string nor an array of strings",
        ),
        ("iat", serde_json::json!(-5), "iat is not a NumericDate"),
        ("nbf", serde_json::json!(-1), "nbf is not a NumericDate"),
        (
            "exp",
            serde_json::json!(9007199254740993u64),
            "exp is not a NumericDate",
        ),
        ("exp", serde_json::json!(2e206), "exp is not a NumericDate"),
    ] {
        let mut c = claims("alice");
        c[claim] = value;
        let (code, out) = explain(&f, Some(&mint("a", KEY_A, c)), "/", "h");
        assert_eq!(code, 3, "{claim}: {out}");
        assert!(
            out.contains(&format!("reason:   malformed ({detail}"))
                && out.contains("http:     401"),
            "{claim}: {out}"
        );
    }
}
