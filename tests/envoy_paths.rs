//! What a real Envoy 1.40 forwards for paths that backends read differently, and what
//! jwt-authz decides on them: with the published bootstrap (`normalize_path`, `merge_slashes`,
//! escaped slashes rejected) and with a bootstrap that leaves paths alone. The table this test
//! prints is the one in the README. Ignored by plain `cargo test`; scripts/test.sh runs it.

mod support;

use std::path::Path;

use base64::Engine;
use serde_json::{json, Value};
use support::envoy::{echo_upstream, published_config, Envoy};
use support::*;

/// The published bootstrap, or the same without any path normalization.
fn envoy_config(grpc: &str, upstream: std::net::SocketAddr, normalizing: bool) -> String {
    let published = published_config(grpc, upstream);
    if normalizing {
        return published;
    }
    let mut out = published;
    for line in [
        "normalize_path: true",
        "merge_slashes: true",
        "path_with_escaped_slashes_action: REJECT_REQUEST",
    ] {
        assert_eq!(out.matches(line).count(), 1, "{line}");
        out = out.replace(line, "");
    }
    out
}

/// jwt-authz on the quick-start config plus `extra`, behind an Envoy.
struct Stack {
    envoy: Envoy,
    _authz: JwtAuthz,
    _fixture: Fixture,
}

impl Stack {
    /// `config`: `None` for the quick-start config, else a whole config of its own.
    async fn start(config: Option<&str>, extra: &str, normalizing: bool) -> Self {
        let fixture = Fixture::new();
        let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/local");
        let config = match config {
            Some(c) => c.to_string(),
            None => std::fs::read_to_string(local.join("config.yaml")).unwrap(),
        };
        fixture.write_config(&format!("{config}{extra}"));
        std::fs::copy(
            local.join("keys/demo-2026-11"),
            fixture.keys().join("demo-2026-11"),
        )
        .unwrap();
        let authz = JwtAuthz::start(&fixture.config_path());
        let upstream = echo_upstream().await;
        let envoy = Envoy::start(&envoy_config(&authz.grpc, upstream, normalizing)).await;
        Self {
            envoy,
            _authz: authz,
            _fixture: fixture,
        }
    }

    /// (status, the path the upstream received when allowed, jwt-authz's reason when denied).
    async fn get(&self, path: &str, token: &str) -> (u16, String, String) {
        let r = http::get_with_token(self.envoy.addr, path, token).await;
        let forwarded = if r.status == 200 {
            let seen: Value = serde_json::from_str(&r.body).unwrap();
            seen["_path"].as_str().unwrap().to_string()
        } else {
            String::new()
        };
        let reason = r.header("x-jwt-authz-reason").unwrap_or("").to_string();
        (r.status, forwarded, reason)
    }
}

fn reader_token() -> String {
    let demo = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/local/keys/demo-2026-11"
    ))
    .unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(demo.trim())
        .unwrap();
    let claims = json!({"sub": "alice", "iss": "https://issuer.local", "aud": "demo-api",
        "scope": "orders:read", "iat": now(), "exp": now() + 600});
    mint("demo-2026-11", &key, claims)
}

#[tokio::test]
#[ignore = "needs Envoy; scripts/test.sh runs it"]
async fn tricky_paths_through_a_real_envoy() {
    let token = reader_token();
    // What Envoy forwards: an observer jwt-authz that allows every valid token (no rules,
    // parameters stripped so that nothing is refused) shows the path that reaches the app.
    let observer = Some(
        "keys: [{ dir: keys, encoding: base64, algorithm: HS256 }]\npaths: { parameters: strip }\n",
    );
    // (path, normalizing Envoy forwards, raw Envoy forwards,
    //  default jwt-authz behind normalizing Envoy, behind raw Envoy,
    //  jwt-authz with `parameters: strip, case_insensitive: true` behind normalizing, raw)
    type Row = (&'static str, &'static str, &'static str, [&'static str; 4]);
    let table: [Row; 7] = [
        (
            "/docs/..;/admin",
            "/admin",
            "/docs/..;/admin",
            [
                "403 claim_mismatch",
                "400 ambiguous_path",
                "403 claim_mismatch",
                "403 claim_mismatch",
            ],
        ),
        (
            "/docs/%2e%2e/admin",
            "/admin",
            "/docs/%2e%2e/admin",
            [
                "403 claim_mismatch",
                "403 claim_mismatch",
                "403 claim_mismatch",
                "403 claim_mismatch",
            ],
        ),
        (
            "/admin;x=1",
            "/admin;x=1",
            "/admin;x=1",
            [
                "400 ambiguous_path",
                "400 ambiguous_path",
                "403 claim_mismatch",
                "403 claim_mismatch",
            ],
        ),
        (
            "/docs/..%3B/admin",
            "/docs/..%3B/admin",
            "/docs/..%3B/admin",
            ["400 ambiguous_path", "400 ambiguous_path", "200", "200"],
        ),
        (
            "/ADMIN",
            "/ADMIN",
            "/ADMIN",
            ["200", "200", "403 claim_mismatch", "403 claim_mismatch"],
        ),
        (
            "//admin",
            "/admin",
            "//admin",
            [
                "403 claim_mismatch",
                "403 claim_mismatch",
                "403 claim_mismatch",
                "403 claim_mismatch",
            ],
        ),
        (
            "/docs/../admin",
            "/admin",
            "/docs/../admin",
            [
                "403 claim_mismatch",
                "403 claim_mismatch",
                "403 claim_mismatch",
                "403 claim_mismatch",
            ],
        ),
    ];
    let lenient = "paths: { parameters: strip, case_insensitive: true }\n";
    let stacks = [
        Stack::start(observer, "", true).await,
        Stack::start(observer, "", false).await,
        Stack::start(None, "", true).await,
        Stack::start(None, "", false).await,
        Stack::start(None, lenient, true).await,
        Stack::start(None, lenient, false).await,
    ];
    let mut report = String::from(
        "| request path | normalizing Envoy forwards | raw Envoy forwards | default, normalizing | default, raw | strip + case_insensitive, normalizing | strip + case_insensitive, raw |\n",
    );
    for (path, normalized, raw, decisions) in table {
        let mut got = Vec::new();
        for stack in &stacks {
            got.push(stack.get(path, &token).await);
        }
        assert_eq!(
            (got[0].0, got[0].1.as_str(), got[1].0, got[1].1.as_str()),
            (200, normalized, 200, raw),
            "what Envoy forwards for {path}"
        );
        let seen: Vec<String> = got[2..]
            .iter()
            .map(|(status, _, reason)| format!("{status} {reason}").trim().to_string())
            .collect();
        assert_eq!(seen, decisions, "jwt-authz's decisions for {path}");
        report.push_str(&format!(
            "| `{path}` | `{normalized}` | `{raw}` | {} |\n",
            decisions.join(" | ")
        ));
    }
    println!("{report}");
    std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/target/tmp")).unwrap();
    std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/tmp/envoy-paths.md"),
        report,
    )
    .unwrap();
}

#[tokio::test]
#[ignore = "needs Envoy; scripts/test.sh runs it"]
async fn strip_token_removes_an_encoded_query_parameter_name_through_envoy() {
    let token = reader_token();
    let config = "keys: [{ dir: keys, encoding: base64, algorithm: HS256 }]\njwt: { sources: [{ query: at }] }\nforward: { strip_token: true }\n";
    let stack = Stack::start(Some(config), "", true).await;
    for query in [format!("at={token}&x=1"), format!("x=1&%61t={token}")] {
        let r = http::request(stack.envoy.addr, "GET", &format!("/p?{query}"), &[], "")
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        let seen: Value = serde_json::from_str(&r.body).unwrap();
        let forwarded = seen["_path"].as_str().unwrap();
        assert!(
            !forwarded.contains(&token[..20]) && forwarded.contains("x=1"),
            "the token reached the upstream: {forwarded}"
        );
    }
}
