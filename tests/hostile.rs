//! Hostile load, through the real binary: one connection must not switch off authorization,
//! and no request may buy unbounded memory, log volume or sockets.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::hostile::{closed_within, legitimate, prefix, rss, stall_streams};
use support::*;

const CHECK: &str = "/envoy.service.auth.v3.Authorization/Check";
const WATCH: &str = "/grpc.health.v1.Health/Watch";

#[tokio::test]
async fn stalled_streams_on_one_connection_leave_legitimate_checks_answered() {
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config("");
    let server = JwtAuthz::start(&f.config_path());
    let before = rss(server.child.id());
    // The reported attack: 1,024 streams each declaring a 4 MiB message, then silence. The
    // declared size is refused from the prefix; at most 128 streams are granted at once.
    // (After limits.max_reset_streams refused streams the server closes that connection.)
    let _big = stall_streams(&server.grpc, CHECK, &prefix(4 << 20), 1024).await;
    // Each such stream is answered RESOURCE_EXHAUSTED at once, not held.
    let few = stall_streams(&server.grpc, CHECK, &prefix(4 << 20), 50).await;
    for (response, _) in few.streams {
        let r = tokio::time::timeout(Duration::from_secs(2), response)
            .await
            .expect("refused at once, not held")
            .unwrap();
        assert_eq!(r.headers()["grpc-status"], "8", "RESOURCE_EXHAUSTED");
    }
    // Streams declaring a message within the limit, stalled: they hold a slot each, no more
    // memory than what arrived, and only until limits.request_timeout.
    let small = stall_streams(&server.grpc, CHECK, &prefix(200 * 1024), 1024).await;
    let _second = stall_streams(&server.grpc, CHECK, &prefix(200 * 1024), 1024).await;
    assert_eq!(
        legitimate(&server, 50).await,
        50,
        "every legitimate Check allowed"
    );
    assert_eq!(server.admin_get("/readyz").await.0, 200);
    let grown = rss(server.child.id()).saturating_sub(before);
    assert!(
        grown < 32 << 20,
        "the attack bought {grown} bytes of memory"
    );
    // The stalled streams end with the request timeout.
    let (response, _send) = small.streams.into_iter().next().unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("a stalled stream is ended by limits.request_timeout");
    let status = match response {
        Ok(r) => r
            .headers()
            .get("grpc-status")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default(),
        Err(_) => "reset".into(),
    };
    assert!(
        status == "4" || status == "1" || status == "reset",
        "{status}"
    );
}

#[tokio::test]
async fn a_flood_of_health_watch_streams_stays_within_a_memory_bound() {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .basic_config("limits: { max_health_watches: 16 }\n");
    let server = JwtAuthz::start(&f.config_path());
    let before = rss(server.child.id());
    // Many connections' worth of Watch streams (a HealthCheckRequest for "").
    let watch = [0u8, 0, 0, 0, 0];
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(stall_streams(&server.grpc, WATCH, &watch, 128).await);
    }
    let mut refused = 0;
    let mut open = 0;
    for h in &mut held {
        for (response, _) in h.streams.drain(..) {
            match tokio::time::timeout(Duration::from_secs(2), response).await {
                Ok(Ok(r)) if r.headers().get("grpc-status").is_some_and(|s| s == "8") => {
                    refused += 1
                }
                Ok(Ok(r)) => {
                    open += 1;
                    std::mem::forget(r);
                }
                _ => {}
            }
        }
    }
    assert!(open <= 16, "{open} Watch streams open");
    assert!(
        refused >= 500,
        "only {refused} refused with RESOURCE_EXHAUSTED"
    );
    let grown = rss(server.child.id()).saturating_sub(before);
    assert!(grown < 32 << 20, "the flood bought {grown} bytes");
    assert_eq!(legitimate(&server, 10).await, 10);
}

#[tokio::test]
async fn connections_that_never_start_a_request_are_closed_and_capped() {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .basic_config("limits: { handshake_timeout: 300ms, max_connections: 8 }\n");
    let server = JwtAuthz::start(&f.config_path());
    // Only the HTTP/2 preface: closed after the handshake timeout.
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    assert!(closed_within(&server.grpc, preface, Duration::from_secs(3)).await);
    // Eight silent connections hold every slot: a legitimate client still gets in, and the
    // oldest silent connection is the one closed to make room.
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(tokio::net::TcpStream::connect(&server.grpc).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(legitimate(&server, 5).await, 5);
    let mut first = idle.remove(0);
    let mut buf = [0u8; 16];
    // (The server's SETTINGS arrive first; then the end of the connection.)
    let closed = tokio::time::timeout(Duration::from_millis(200), async {
        use tokio::io::AsyncReadExt;
        while let Ok(n) = first.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the oldest silent connection was closed");
    assert!(server
        .logs()
        .iter()
        .any(|l| l.contains("limits.max_connections reached")));
    assert_eq!(
        server.metric("jwt_authz_connections_evicted_total").await,
        1.0
    );
}

#[tokio::test]
async fn stalled_admin_connections_are_closed() {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .basic_config("limits: { admin_header_timeout: 300ms, admin_max_connections: 4 }\n");
    let server = JwtAuthz::start(&f.config_path());
    let admin = server.admin.to_string();
    // Half a request, and nothing at all: both closed after the header timeout.
    assert!(
        closed_within(
            &admin,
            b"GET /metrics HTTP/1.1\r\nhost: x\r\n",
            Duration::from_secs(3)
        )
        .await
    );
    assert!(closed_within(&admin, b"", Duration::from_secs(3)).await);
    // An idle keep-alive connection after a whole request: closed too.
    assert!(
        closed_within(
            &admin,
            b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n",
            Duration::from_secs(3)
        )
        .await
    );
    // At the connection cap, another connection is closed at once.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(tokio::net::TcpStream::connect(&admin).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(closed_within(&admin, b"", Duration::from_millis(200)).await);
    drop(idle);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.admin_get("/healthz").await.0, 200);
}

#[tokio::test]
async fn the_soft_open_file_limit_is_raised_to_the_hard_limit() {
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config("");
    let server = JwtAuthz::start(&f.config_path());
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.child.id())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[3], fields[4], "soft = hard: {line}");
}

#[tokio::test]
async fn a_fifo_as_the_config_does_not_block_reloads_or_shutdown() {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .basic_config("reload: { debounce: 50ms, poll_interval: 1s }\n");
    let mut server = JwtAuthz::start(&f.config_path());
    std::fs::remove_file(f.config_path()).unwrap();
    let made = Command::new("mkfifo")
        .arg(f.config_path())
        .status()
        .unwrap();
    assert!(made.success());
    eventually("the FIFO is refused", Duration::from_secs(5), || async {
        server
            .logs()
            .iter()
            .any(|l| l.contains("config reload rejected") && l.contains("not a regular file"))
            .then_some(())
    })
    .await;
    // Key reloads still run: a new key is picked up.
    f.write_key("b", KEY_B);
    let token = mint("b", KEY_B, claims("bob"));
    let client = server.client().await;
    eventually("key b loads", Duration::from_secs(5), || {
        let mut c = client.clone();
        let t = token.clone();
        async move { (verdict(&mut c, &t).await == "ok").then_some(()) }
    })
    .await;
    assert_eq!(legitimate(&server, 3).await, 3);
    let started = Instant::now();
    server.sigterm();
    assert!(server.wait_exit(Duration::from_secs(10)).await.success());
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn a_symlink_out_of_the_key_directory_is_refused() {
    let f = Fixture::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), KEY_B).unwrap();
    f.write_key("a", KEY_A).basic_config("");
    std::os::unix::fs::symlink(outside.path().join("secret"), f.keys().join("b")).unwrap();
    let out = Command::new(binary())
        .args(["validate", "--config"])
        .arg(f.config_path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("outside the key directory"), "{stderr}");
    // The server keeps no key from that source and says why.
    let server = JwtAuthz::start(&f.config_path());
    let token = mint("b", KEY_B, claims("bob"));
    let mut client = server.client().await;
    assert_eq!(verdict(&mut client, &token).await, "error:Unavailable");
    assert!(server.logs().iter().any(
        |l| l.contains("key source failed to load") && l.contains("outside the key directory")
    ));
}

#[tokio::test]
async fn a_relative_config_path_does_not_reload_on_unrelated_writes() {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .basic_config("reload: { debounce: 20ms, poll_interval: 1h }\n");
    let mut cmd = Command::new(binary());
    cmd.current_dir(f.path());
    let server = JwtAuthz::spawn_command(cmd, std::path::Path::new("config.yaml"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let series = r#"jwt_authz_reloads_total{kind="config",result="unchanged"}"#;
    let before = server.metric(series).await;
    for i in 0..20 {
        std::fs::write(f.path().join(format!("unrelated-{i}.log")), b"x").unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.metric(series).await, before, "no reload attempts");
    // The config itself still reloads.
    f.basic_config("reload: { debounce: 20ms, poll_interval: 1h }\nrules: [{ name: x, match: {}, require: { scopes: [nope] } }]\n");
    let token = mint("a", KEY_A, claims("alice"));
    let client = server.client().await;
    eventually("the config reloads", Duration::from_secs(5), || {
        let mut c = client.clone();
        let t = token.clone();
        async move { (verdict(&mut c, &t).await == "insufficient_scope").then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn stalled_streams_are_evicted_before_a_whole_check_is_shed() {
    let f = Fixture::new();
    f.write_key("a", KEY_A)
        .basic_config("limits: { max_in_flight: 32, request_timeout: 30s }\n");
    let server = JwtAuthz::start(&f.config_path());
    // Three connections' worth of stalled streams: far more than the 32 in-flight slots.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(stall_streams(&server.grpc, CHECK, &prefix(1000), 60).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        legitimate(&server, 20).await,
        20,
        "whole Checks are never shed"
    );
    assert!(
        server
            .metric("jwt_authz_stalled_streams_evicted_total")
            .await
            >= 20.0
    );
    assert_eq!(
        server
            .metric(r#"jwt_authz_checks_total{decision="error",reason="overloaded"}"#)
            .await,
        0.0,
        "evictions are not sheds: readiness is not at stake"
    );
    assert_eq!(server.admin_get("/readyz").await.0, 200);
}
