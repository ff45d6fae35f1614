//! Limits, each with a clear answer: load shedding past `limits.max_in_flight`, oversized
//! tokens, headers, claims and nesting, too many keys, oversized key, config and regex.

mod support;

use std::time::Duration;

use bytes::Bytes;
use jwt_authz::testing::check_request;
use serde_json::json;
use support::raw::{framed_check, half_sent_check};
use support::*;

#[tokio::test]
async fn at_max_in_flight_the_oldest_stalled_check_makes_room() {
    let f = Fixture::new();
    // A request timeout far beyond the test: only the eviction may end the first stream (with
    // the default 1 s, a slow machine let the timeout cancel it first).
    f.write_key("a", KEY_A)
        .basic_config("limits: { max_in_flight: 2, request_timeout: 60s }\n");
    let server = JwtAuthz::start(&f.config_path());
    let framed = framed_check(&mint("a", KEY_A, claims("alice")));
    // Two Checks held in flight: headers and part of the body sent, the rest withheld.
    // Sent is not yet seen: on a loaded machine the server may take the streams in later, or
    // in another order (the second would then be the oldest). Give each time to be taken in.
    let (first, _first_send) = half_sent_check(&server.grpc, &framed, 7).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (second, mut second_send) = half_sent_check(&server.grpc, &framed, 7).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A third, whole Check is answered at once: the oldest stalled one gives way.
    let mut client = server.client().await;
    let auth = format!("Bearer {}", mint("a", KEY_A, claims("bob")));
    let resp = client
        .check(check_request("GET", "/", "h", &[("authorization", &auth)]))
        .await
        .expect("admitted");
    assert_eq!(resp.into_inner().status.unwrap().code, 0);
    let first = first.await.unwrap();
    assert_eq!(
        first.headers()["grpc-status"],
        "8",
        "the oldest stalled Check was evicted"
    );
    assert_eq!(
        server
            .metric("jwt_authz_stalled_streams_evicted_total")
            .await,
        1.0
    );
    assert_eq!(
        server
            .metric(r#"jwt_authz_checks_total{decision="error",reason="overloaded"}"#)
            .await,
        0.0
    );
    assert_eq!(server.admin_get("/readyz").await.0, 200);

    // The other one completes normally.
    second_send
        .send_data(Bytes::copy_from_slice(&framed[7..]), true)
        .unwrap();
    let mut body = second.await.unwrap().into_body();
    while body.data().await.is_some() {}
    assert_eq!(body.trailers().await.unwrap().unwrap()["grpc-status"], "0");
}

#[tokio::test]
async fn oversized_inputs_get_precise_denies() {
    let f = Fixture::new();
    f.write_key("a", KEY_A).basic_config(
        "jwt: { max_token_bytes: 2048 }\nlimits: { max_header_bytes: 4096, max_claims_bytes: 1024, max_claims_depth: 4 }\n",
    );
    let server = JwtAuthz::start(&f.config_path());
    let client = server.client().await;
    let deny = |auth: String, cookie: Option<String>| {
        let mut c = client.clone();
        async move {
            let mut headers = vec![("authorization", auth.as_str())];
            if let Some(ck) = &cookie {
                headers.push(("cookie", ck.as_str()));
            }
            c.check(check_request("GET", "/", "h", &headers))
                .await
                .unwrap()
                .into_inner()
                .status
                .unwrap()
                .message
        }
    };
    let exp = now() + 600;
    let big = mint("a", KEY_A, json!({"exp": exp, "p": "x".repeat(2100)}));
    assert_eq!(deny(format!("Bearer {big}"), None).await, "token_too_large");
    assert_eq!(
        deny(format!("Bearer {}", "a".repeat(5000)), None).await,
        "token_too_large",
        "header over max_header_bytes"
    );
    let wide = mint("a", KEY_A, json!({"exp": exp, "p": "x".repeat(1100)}));
    assert_eq!(
        deny(format!("Bearer {wide}"), None).await,
        "malformed",
        "claims over max_claims_bytes"
    );
    let deep = mint("a", KEY_A, json!({"exp": exp, "a": [[[[1]]]]}));
    assert_eq!(
        deny(format!("Bearer {deep}"), None).await,
        "malformed",
        "nesting over max_claims_depth"
    );
    let ok = mint("a", KEY_A, claims("alice"));
    assert_eq!(
        deny(format!("Bearer {ok}"), None).await,
        "",
        "a normal token passes the same limits"
    );
    let logs = eventually("the detail lines", Duration::from_secs(5), || async {
        let logs = server.logs().join("\n");
        (logs.contains("claims are larger than limits.max_claims_bytes")
            && logs.contains("nested deeper than limits.max_claims_depth"))
        .then_some(logs)
    })
    .await;
    assert!(logs.contains("credential header is longer than limits.max_header_bytes"));
}

#[test]
fn oversized_key_config_and_regex_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let validate = || {
        let out = std::process::Command::new(binary())
            .args(["validate", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // A key file over limits.max_key_file_bytes.
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::write(dir.path().join("keys/big"), vec![b'k'; 2000]).unwrap();
    std::fs::write(
        &config,
        "keys: [{ dir: keys, algorithm: HS256 }]\nlimits: { max_key_file_bytes: 1024 }\n",
    )
    .unwrap();
    let (code, err) = validate();
    assert_eq!(code, Some(1));
    assert!(
        err.contains("keys/big: file is 2000 bytes, larger than limits.max_key_file_bytes (1024)"),
        "{err}"
    );
    // A config file over 1 MiB is refused before parsing.
    std::fs::write(
        &config,
        format!(
            "keys: [{{ dir: keys, algorithm: HS256 }}]\n#{}\n",
            "x".repeat(1 << 20)
        ),
    )
    .unwrap();
    let (code, err) = validate();
    assert_eq!(code, Some(1));
    assert!(err.contains("larger than the 1048576-byte limit"), "{err}");
    // A path_regex whose compiled program exceeds the size limit.
    std::fs::write(&config, "keys: [{ dir: keys, algorithm: HS256 }]\nrules: [{ name: r, match: { path_regex: '(\\w{100}){100}' } }]\n").unwrap();
    let (code, err) = validate();
    assert_eq!(code, Some(1));
    assert!(
        err.contains("rules[0].match.path_regex: invalid regex") && err.contains("size limit"),
        "{err}"
    );
}
