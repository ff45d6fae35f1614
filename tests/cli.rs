//! The command line: `validate` prints fingerprints and never keys, every config and key error
//! names its file and field and exits non-zero, `token` and `explain` work together.

mod support;

use std::process::{Command, Output};

use support::*;

fn run(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .output()
        .expect("run jwt-authz")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn validate_prints_fingerprints_never_keys() {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .write_key("b", KEY_B)
        .basic_config("");
    let out = run(&["validate", "--config", f.config_path().to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("a                        HS256  HMAC 32 bytes  "),
        "{stdout}"
    );
    assert!(
        stdout.contains(&jwt_authz::keys::fingerprint(KEY_A)),
        "{stdout}"
    );
    assert!(
        stdout.contains(&jwt_authz::keys::fingerprint(KEY_B)),
        "{stdout}"
    );
    assert!(stdout.contains("OK (2 keys, 0 rules)"), "{stdout}");
    for secret in [KEY_A, KEY_B] {
        let s = std::str::from_utf8(secret).unwrap();
        assert!(!stdout.contains(s) && !stderr.contains(s));
    }
}

#[test]
fn validate_warns_about_a_trailing_newline_in_a_raw_key() {
    let f = Fixture::new();
    f.write_key("a", b"key-a-0123456789abcdef0123456789\n")
        .basic_config("");
    let out = run(&["validate", "--config", f.config_path().to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert!(out.status.success());
    assert!(
        stderr.contains("warning:") && stderr.contains("newline"),
        "{stderr}"
    );
}

#[test]
fn key_errors_exit_1_with_a_precise_message() {
    let f = Fixture::new();
    f.write_key("short", b"too-short").basic_config("");
    let out = run(&["validate", "--config", f.config_path().to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("keys/short (kid \"short\"): 9-byte key is too short for HS256 (at least 32 bytes required)"), "{stderr}");

    let empty = Fixture::new();
    empty.basic_config("");
    let out = run(&[
        "validate",
        "--config",
        empty.config_path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).1.contains("no keys found in"),
        "{:?}",
        text(&out)
    );
}

#[test]
fn every_config_error_names_the_file_and_the_field() {
    let cases: &[(&str, &str)] = &[
        ("keys: []\n", "keys: at least one key source is required (or a provider under providers:)"),
        ("providers: [{ name: Corp, issuer: https://i, discovery: true }]\n", "providers[0].name: \"Corp\": use 1 to 32 of a-z, 0-9 and -"),
        ("providers: [{ name: a, discovery: true }]\n", "providers[0].issuer: required (the exact iss of its tokens)"),
        ("providers: [{ name: a, issuer: https://i, discovery: true }, { name: a, issuer: https://j, discovery: true }]\n", "providers[1].name: \"a\" is used twice"),
        ("providers: [{ name: a, issuer: https://i, discovery: true }, { name: b, issuer: https://i, discovery: true }]\n", "providers[1].issuer: \"https://i\" is already provider \"a\"'s issuer"),
        ("providers: [{ name: a, issuer: https://i, discovery: true, jwks_uri: https://i/k }]\n", "providers[0].jwks_uri: set either discovery: true or jwks_uri, not both"),
        ("providers: [{ name: a, issuer: https://i }]\n", "providers[0].keys: a provider needs keys: discovery: true, a jwks_uri, or mounted keys"),
        ("providers: [{ name: a, issuer: https://i, remote: { timeout: 1s } }]\n", "providers[0].remote: applies only with discovery: true or jwks_uri"),
        ("providers: [{ name: a, issuer: http://i, discovery: true }]\n", "providers[0].issuer: \"http://i\" is http: keys must come over https"),
        ("providers: [{ name: a, issuer: https://i, jwks_uri: ftp://i/k }]\n", "providers[0].jwks_uri: \"ftp://i/k\" must be an https:// URL"),
        ("providers: [{ name: a, issuer: https://i, discovery: true, remote: { min_refresh: 5m, refresh_interval: 1m } }]\n", "providers[0].remote.refresh_interval: must be at least min_refresh"),
        ("providers: [{ name: a, issuer: https://i, discovery: true, remote: { unknown_kid_wait: 1m } }]\n", "providers[0].remote.unknown_kid_wait: must be at most 10s"),
        ("providers: [{ name: a, issuer: https://i, discovery: true, remote: { max_bytes: 1GB } }]\n", "providers[0].remote.max_bytes: invalid size \"1GB\""),
        ("providers: [{ name: a, issuer: https://i, discovery: true, remote: { refresh: 1m } }]\n", "providers[0].remote: unknown field `refresh`"),
        ("providers: [{ name: a, issuer: https://i, keys: [{ dir: k }] }]\n", "providers[0].keys[0].algorithm: required for format: files"),
        ("providers: [{ name: a, issuer: https://i, discovery: true }]\nkeys: [{dir: k, algorithm: HS256}]\njwt: { issuers: [https://i] }\n", "jwt.issuers[0]: \"https://i\" is provider \"a\"'s issuer"),
        ("listen: { grpcc: x }\nkeys: []\n", "listen: unknown field `grpcc`"),
        ("keys:\n  - dir: k\n    algorithm: HS999\n", "keys[0].algorithm: unknown algorithm \"HS999\": use one of HS256, HS384, HS512, RS256"),
        ("keys:\n  - dir: k\n", "keys[0].algorithm: required for format: files"),
        ("keys:\n  - dir: k\n    format: pem\n", "keys[0].format: unknown format \"pem\""),
        ("keys:\n  - dir: k\n    format: jwks\n    algorithm: ES256\n", "keys[0].algorithm: for format: jwks it is the default of RSA and oct keys"),
        ("keys:\n  - dir: k\n    encoding: pem\n    algorithm: HS256\n", "keys[0].algorithm: HS256 needs a secret, and PEM files hold public keys"),
        ("keys:\n  - dir: k\n    algorithm: RS256\n", "keys[0].algorithm: RS256 verifies with a public key: raw and base64 files are HMAC secrets"),
        ("keys:\n  - dir: k\n    encoding: der\n    algorithm: RS256\n", "keys[0].encoding: unknown encoding \"der\": use raw, base64 or pem"),
        ("keys: [{dir: k, algorithm: HS256}]\njwt: { leeway: 60 }\n", "jwt.leeway: invalid duration \"60\""),
        ("keys: [{dir: k, algorithm: HS256}]\njwt: { leeway: 2h }\n", "jwt.leeway: must be at most 1h"),
        ("keys: [{dir: k, algorithm: HS256}]\njwt: { sources: [{ header: x, cookie: y }] }\n", "jwt.sources[0]: set exactly one of header, cookie or query"),
        ("keys: [{dir: k, algorithm: HS256}]\nlisten: { grpc: nowhere }\n", "listen.grpc: \"nowhere\" is not an address"),
        ("keys: [{dir: k, algorithm: HS256}]\nresponses: { realm: 'a\"b' }\n", "responses.realm: must be non-empty printable ASCII"),
        ("keys: [{dir: k, algorithm: HS256}]\nforward: { claims_to_headers: { host: sub } }\n", "forward.claims_to_headers.host: host cannot carry a claim"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a }, { name: a }]\n", "rules[1].name: \"a\" is used twice"),
        ("keys: [{dir: k, algorithm: HS256}]\nforward: { claims_to_headers: { x-a: sub, x-a: iss } }\n", "forward.claims_to_headers: duplicate key `x-a`"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, match: { path_regex: '(' } }]\n", "rules[0].match.path_regex: invalid regex"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, match: { path_prefix: /a/../b } }]\n", "rules[0].match.path_prefix: \"/a/../b\" is not normalized; write \"/b\""),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, require: { claims: [{ claim: x, matches: y }] } }]\n", "rules[0].require.claims[0]: unknown field `matches`"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, require: { claims: [{ claim: x, equals: 1, prefix: y }] } }]\n", "rules[0].require.claims[0]: set exactly one operator"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, public: true, require: { scopes: [x] } }]\n", "rules[0].require: a public rule cannot have requirements"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, mode: audit }]\n", "rules[0].mode: \"audit\": use enforce or shadow"),
        ("keys: [{dir: k, algorithm: HS256}]\ndefault: maybe\n", "default: \"maybe\": use deny or allow"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, match: { hosts: ['api.example.com:443'] } }]\n", "rules[0].match.hosts[0]: \"api.example.com:443\": write hosts without a port"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, match: { path_template: '/a/{x}', path_prefix: /a } }]\n", "rules[0].match: use only one of path, path_prefix, path_regex, path_template"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: t, match: { path_template: '/a/{x}' }, require: { claims: [{ claim: c, equals_param: y }] } }]\n", "rules[0].require.claims[0].equals_param: \"y\" is not captured by rule \"t\" (rules[0])"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: t, match: { path_prefix: /a }, require: { any_of: [{ claims: [{ claim: c, equals_param: x }] }] } }]\n", "rules[0].require.any_of[0].claims[0].equals_param: \"x\" is not captured by rule \"t\""),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, match: { path_template: /a/**/b } }]\n", "rules[0].match.path_template: \"/a/**/b\": ** must be the last segment"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, match: { path_template: '/a/{x}{y}' } }]\n", "rules[0].match.path_template: \"/a/{x}{y}\": \"{x}{y}\": a capture ({name}) or ** must be a whole segment"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, match: { path_template: '/a/../{x}' } }]\n", "rules[0].match.path_template: \"/a/../x\" is not normalized"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, match: { source_ips: [10.0.0.1/8] } }]\n", "rules[0].match.source_ips[0]: \"10.0.0.1/8\" has host bits set: write 10.0.0.0/8"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, match: { peers: ['spiffe://x/*/y'] } }]\n", "rules[0].match.peers[0]: \"spiffe://x/*/y\": a wildcard is only allowed as a last segment"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, match: { headers: [{ name: x, equals: a, prefix: b }] } }]\n", "rules[0].match.headers[0]: set exactly one operator: equals, one_of, prefix or exists"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, match: { headers: [{ name: 'a b', exists: true }] } }]\n", "rules[0].match.headers[0].name: \"a b\" is not a header name"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, deny: true, require: { scopes: [x] } }]\n", "rules[0].deny: a deny rule denies every request it matches"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, require: { claims: [{ claim: c, not: { claim: c, exists: true } }] } }]\n", "rules[0].require.claims[0]: not: holds the whole requirement"),
        ("keys: [{dir: k, algorithm: HS256}]\nrules: [{ name: a, require: { claims: [{ not: { not: { claim: c, exists: true } } }] } }]\n", "rules[0].require.claims[0].not.not: not inside not"),
        ("keys: [{dir: k, algorithm: HS256}]\ncors_preflight: maybe\n", "cors_preflight: \"maybe\": use deny or allow"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (yaml, expected) in cases {
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, yaml).unwrap();
        let config = path.to_str().unwrap();
        for command in ["validate", "serve"] {
            let out = run(
                &[command, "--config", config, "--admin-addr", "127.0.0.1:0"]
                    [..if command == "serve" { 5 } else { 3 }],
            );
            let (_, stderr) = text(&out);
            assert_eq!(out.status.code(), Some(1), "{command} {yaml}: {stderr}");
            assert!(
                stderr.contains(&format!("{config}: {expected}")),
                "{command} {yaml}:\n{stderr}"
            );
        }
    }
}

#[test]
fn key_and_type_errors_name_the_file_and_field_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    let config = path.to_str().unwrap();
    std::fs::write(&path, "keys: [{ dir: nowhere, algorithm: HS256 }]\n").unwrap();
    let (_, stderr) = text(&run(&["validate", "--config", config]));
    assert!(
        stderr.contains(&format!(
            "{config}: keys[0].dir: cannot read {}",
            dir.path().join("nowhere").display()
        )),
        "{stderr}"
    );
    // serve starts without keys (they may arrive later) and its warning names the field too.
    let mut child = std::process::Command::new(binary())
        .args([
            "--log-format",
            "json",
            "serve",
            "--admin-addr",
            "127.0.0.1:0",
        ])
        .args(["--grpc-addr", "127.0.0.1:0", "--config", config])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let _ = child.kill();
    let logs = String::from_utf8_lossy(&child.wait_with_output().unwrap().stderr).into_owned();
    assert!(
        logs.contains(r#""field":"keys[0].dir""#) && logs.contains("key source failed to load"),
        "{logs}"
    );
    std::fs::write(
        &path,
        "providers: [{ name: p, issuer: https://i, keys: [{ dir: gone, algorithm: HS256 }] }]\n",
    )
    .unwrap();
    let (_, stderr) = text(&run(&["validate", "--config", config]));
    assert!(
        stderr.contains(&format!("{config}: providers[0].keys[0].dir: cannot read")),
        "{stderr}"
    );
    std::fs::write(&path, "listen: 5\nkeys: [{ dir: k, algorithm: HS256 }]\n").unwrap();
    let (_, stderr) = text(&run(&["validate", "--config", config]));
    assert!(
        stderr.contains("listen: invalid type: integer `5`, expected a mapping"),
        "{stderr}"
    );
    assert!(!stderr.contains("Raw"), "no internal type names: {stderr}");
}

#[test]
fn missing_config_file_is_an_error() {
    let out = run(&["serve", "--config", "/nonexistent/jwt-authz.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out)
        .1
        .contains("/nonexistent/jwt-authz.yaml: cannot read config"));
}

#[test]
fn token_and_explain_round_trip() {
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config(
        "rules:\n  - name: orders\n    match: { path_prefix: /orders }\n    require: { scopes: [orders:read] }\nforward:\n  claims_to_headers: { x-jwt-sub: sub }\n",
    );
    let config = f.config_path();
    let config = config.to_str().unwrap();
    let out = run(&[
        "token",
        "--config",
        config,
        "--sub",
        "alice",
        "--scope",
        "orders:read",
        "--claim",
        "tenant=acme",
        "--claim",
        "n=5",
        "--ttl",
        "5m",
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    let token = text(&out).0.trim().to_string();
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&token)
        .unwrap()
        .claims;
    assert_eq!(
        (
            claims["sub"].as_str(),
            claims["tenant"].as_str(),
            claims["n"].as_u64()
        ),
        (Some("alice"), Some("acme"), Some(5))
    );
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        300
    );

    let out = run(&[
        "explain",
        "--config",
        config,
        "--token",
        &token,
        "--path",
        "/orders/1",
    ]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("decision: allow")
            && stdout.contains("rule:     orders")
            && stdout.contains("x-jwt-sub: alice"),
        "{stdout}"
    );

    let out = run(&["token", "--config", config, "--sub", "bob"]);
    let no_scope = text(&out).0.trim().to_string();
    let out = run(&[
        "explain",
        "--config",
        config,
        "--token",
        &no_scope,
        "--path",
        "/orders/1",
    ]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("reason:   insufficient_scope (missing scope(s): orders:read)")
            && stdout.contains("rule:     orders"),
        "explain names the rule and the failed requirement: {stdout}"
    );

    let out = run(&["explain", "--config", config, "--path", "/orders/1"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("reason:   missing_token") && stdout.contains("http:     401"),
        "{stdout}"
    );

    let out = run(&["token", "--config", config, "--kid", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("no key with kid \"nope\""));
}

#[test]
fn the_quick_start_config_is_valid() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/local/config.yaml");
    let out = run(&["validate", "--config", config]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.contains("demo-2026-11"));
}
