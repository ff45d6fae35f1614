//! Logs never contain a token or key bytes, at any level (trace included, where the HTTP/2 and
//! gRPC libraries log too), and denies are logged with their reason, rule, request id and kid.
//! Logging never holds up a Check: request values are clipped (a 1 MiB request id writes a
//! bounded line) and a log sink that stops reading costs dropped, counted lines.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use jwt_authz::testing::check_request;
use serde_json::json;
use support::*;

/// Distinctive secrets, so any leak in any encoding is found.
const SECRET_1: &[u8] = b"LEAKCHECK-secret-one-0123456789ab";
const SECRET_2: &[u8] = b"LEAKCHECK-secret-two-0123456789ab";

fn encodings(secret: &[u8]) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    vec![
        String::from_utf8_lossy(secret).into_owned(),
        b64.encode(secret),
        url.encode(secret),
        secret.iter().map(|b| format!("{b:02x}")).collect(),
        format!("{secret:?}"),
    ]
}

#[tokio::test]
async fn no_token_or_key_appears_in_logs_even_at_trace() {
    let f = Fixture::new();
    f.write_key("k1", SECRET_1).basic_config(
        "jwt:\n  sources: [{ header: authorization, prefix: 'Bearer ' }, { cookie: session }]\nrules:\n  - name: api\n    match: { path_prefix: /api }\n    require: { scopes: [api] }\nforward:\n  claims_to_headers: { x-jwt-sub: sub }\n",
    );
    let server = JwtAuthz::start_with(&f.config_path(), &["--grpc-addr", "127.0.0.1:0"], "trace");
    let mut client = server.client().await;
    let tokens = [
        mint(
            "k1",
            SECRET_1,
            json!({"sub": "alice", "scope": "api", "exp": now() + 600}),
        ),
        mint("k1", SECRET_1, json!({"sub": "bob", "exp": now() + 600})),
        mint("k1", SECRET_1, json!({"sub": "carol", "exp": now() - 3600})),
        mint(
            "k1",
            b"forged-forged-forged-forged-0123",
            json!({"sub": "mallory", "exp": now() + 600}),
        ),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJMRUFLQ0hFQ0stbm9uZSJ9.".to_string(),
        "LEAKCHECK-not-a-jwt-at-all".to_string(),
    ];
    for (i, t) in tokens.iter().enumerate() {
        let auth = format!("Bearer {t}");
        let cookie = format!("session={t}");
        let id = format!("leak-{i}");
        for headers in [
            vec![("authorization", auth.as_str())],
            vec![("cookie", cookie.as_str())],
        ] {
            let mut h = headers.clone();
            h.push(("x-request-id", &id));
            client
                .check(check_request("GET", "/api/x", "h", &h))
                .await
                .unwrap();
        }
    }
    // A reload at trace level: key added and replaced.
    f.write_key("k2", SECRET_2);

    let t2 = mint(
        "k2",
        SECRET_2,
        json!({"sub": "dave", "scope": "api", "exp": now() + 600}),
    );
    eventually("k2 loaded", Duration::from_secs(10), || {
        let mut c = client.clone();
        let t2 = t2.clone();
        async move { (verdict(&mut c, &t2).await != "unknown_kid").then_some(()) }
    })
    .await;
    let _ = server.admin_get("/metrics").await;

    let logs = eventually(
        "deny lines for every request id",
        Duration::from_secs(5),
        || async {
            let logs = server.logs();
            (logs
                .iter()
                .filter(|l| l.contains("\"message\":\"deny\""))
                .count()
                >= 10)
                .then_some(logs)
        },
    )
    .await;
    let text = logs.join("\n");
    assert!(
        logs.len() > 100,
        "trace logging is really on: {} lines",
        logs.len()
    );
    for secret in [SECRET_1, SECRET_2] {
        for enc in encodings(secret) {
            assert!(!text.contains(&enc), "key bytes leaked as {enc:?}");
        }
    }
    assert!(
        !text.contains("LEAKCHECK"),
        "a secret or token fragment leaked"
    );
    for t in tokens.iter().chain([&t2]) {
        for part in t.split('.').skip(1).filter(|p| p.len() >= 8) {
            assert!(!text.contains(part), "token part leaked: {part}");
        }
    }
    // Fingerprints identify keys instead.
    assert!(text.contains(&jwt_authz::keys::fingerprint(SECRET_2)));
}

#[tokio::test]
async fn denies_are_logged_with_reason_rule_request_id_and_kid() {
    let f = Fixture::new();
    f.write_key("k1", KEY_A)
        .basic_config("rules:\n  - name: api\n    match: {}\n    require: { scopes: [api] }\n");
    let server = JwtAuthz::start(&f.config_path());
    let mut client = server.client().await;
    let auth = format!("Bearer {}", mint("k1", KEY_A, claims("alice")));
    let req = check_request(
        "GET",
        "/x",
        "h",
        &[("authorization", &auth), ("x-request-id", "rid-42")],
    );
    client.check(req).await.unwrap();
    let line = eventually("the deny line", Duration::from_secs(5), || async {
        server
            .logs()
            .into_iter()
            .find(|l| l.contains("\"message\":\"deny\""))
    })
    .await;
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["reason"], "insufficient_scope");
    assert_eq!(v["rule"], "api");
    assert_eq!(v["request_id"], "rid-42");
    assert_eq!(v["kid"], "k1");
    assert_eq!(v["detail"], "missing scope(s): api");
    // Allows are debug-level: absent at info.
    assert!(!server
        .logs()
        .iter()
        .any(|l| l.contains("\"message\":\"allow\"")));
}

/// Text logs carry no colour codes when stderr is not a terminal (a file, a pipe, a log
/// collector); `NO_COLOR` is honoured on terminals too (not testable without a tty here).
#[test]
fn text_logs_written_to_a_pipe_have_no_colour_codes() {
    let f = Fixture::new();
    f.write_config("keys: [{ dir: nowhere, algorithm: HS256 }]\n");
    let out = Command::new(binary())
        .args(["--log-format", "text", "validate", "--config"])
        .arg(f.config_path())
        .output()
        .unwrap();
    let mut child = Command::new(binary())
        .args([
            "--log-format",
            "text",
            "serve",
            "--admin-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(f.config_path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let _ = child.kill();
    let served = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&served.stderr);
    assert!(logs.contains("WARN"), "{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "ANSI escapes in piped logs: {logs:?}"
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains('\u{1b}'));
}

#[tokio::test]
async fn a_huge_request_id_writes_a_bounded_log_line_and_does_not_hold_up_other_checks() {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .basic_config("limits: { max_message_bytes: 2097152 }\n");
    let server = JwtAuthz::start(&f.config_path());
    let id = "r".repeat(1 << 20);
    let req = jwt_authz::testing::check_request("GET", "/", "h", &[("x-request-id", &id)]);
    // Four connections keep sending denied Checks with a 1 MiB request id (each one was a
    // 5 MB log line, written synchronously on a worker)...
    let mut attackers = Vec::new();
    for _ in 0..4 {
        let mut client = server.client().await;
        let req = req.clone();
        attackers.push(tokio::spawn(async move {
            for _ in 0..10 {
                let resp = client.check(req.clone()).await.unwrap().into_inner();
                assert_eq!(resp.status.unwrap().code, 16, "no token: denied");
            }
        }));
    }
    // ...while legitimate Checks each get their answer well within Envoy's own timeout.
    let mut client = server.client().await;
    let token = mint("a", KEY_A, claims("alice"));
    for _ in 0..40 {
        let answer = tokio::time::timeout(Duration::from_secs(1), verdict(&mut client, &token))
            .await
            .expect("a legitimate Check held up behind the huge ones");
        assert_eq!(answer, "ok");
    }
    for a in attackers {
        a.await.unwrap();
    }
    let lines = eventually("the deny lines", Duration::from_secs(5), || async {
        let lines: Vec<String> = server
            .logs()
            .into_iter()
            .filter(|l| l.contains("\"message\":\"deny\""))
            .collect();
        (!lines.is_empty()).then_some(lines)
    })
    .await;
    for line in &lines {
        assert!(line.len() < 2048, "a {}-byte log line", line.len());
        assert!(line.contains("(1048576 bytes)"), "{line}");
    }
}

#[tokio::test]
async fn a_stalled_log_pipe_drops_lines_instead_of_blocking_checks() {
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config("");
    // stderr goes to a pipe nobody reads after the first line: it fills after 64 KiB.
    let mut child = Command::new(binary())
        .args(["--log-format", "json", "serve", "--config"])
        .arg(f.config_path())
        .args(["--grpc-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let (grpc, admin): (String, std::net::SocketAddr) = loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["message"] == "listening" {
            break (
                v["grpc"].as_str().unwrap().to_string(),
                v["admin"].as_str().unwrap().parse().unwrap(),
            );
        }
    };
    // From here on the pipe's read end stays open but is never read.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client =
        envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient::new(
            channel,
        );
    // Every one of these is a deny, logged at info (about 200 bytes each).
    let started = Instant::now();
    for _ in 0..15_000 {
        let req = jwt_authz::testing::check_request("GET", "/", "h", &[]);
        let resp = tokio::time::timeout(Duration::from_secs(2), client.check(req))
            .await
            .expect("a Check blocked behind the log pipe")
            .unwrap();
        assert_eq!(resp.into_inner().status.unwrap().code, 16);
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    let body = http::request(admin, "GET", "/metrics", &[], "")
        .await
        .unwrap()
        .body;
    assert!(
        metric_value(&body, "jwt_authz_log_lines_dropped_total") > 0.0,
        "lines were dropped and counted"
    );
    let _ = child.kill();
    let _ = child.wait();
    drop(reader);
}
