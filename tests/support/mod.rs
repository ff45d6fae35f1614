//! Test support: a fixture directory (config + keys), the real `jwt-authz` binary on ephemeral
//! ports, token minting with the jsonwebtoken crate, small HTTP helpers and a deadline-based
//! wait instead of sleeps.
#![allow(dead_code)]

pub mod check;
pub mod envoy;
pub mod frames;
pub mod hostile;
pub mod http;
pub mod idp;
pub mod jwks_server;
pub mod kubelet;
pub mod raw;
pub mod rules;

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use serde_json::Value;
use tonic::transport::Channel;

/// A 32-byte HS256 key.
pub const KEY_A: &[u8] = b"key-a-0123456789abcdef0123456789";
/// Another 32-byte HS256 key.
pub const KEY_B: &[u8] = b"key-b-0123456789abcdef0123456789";

/// Unix time now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Mints an HS256 token with `kid` over `claims` using jsonwebtoken.
pub fn mint(kid: &str, secret: &[u8], claims: Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret).unwrap(),
    )
    .unwrap()
}

/// Claims valid for ten minutes with the given subject.
pub fn claims(sub: &str) -> Value {
    serde_json::json!({"sub": sub, "iat": now(), "exp": now() + 600})
}

/// Waits until `check` returns `Some`, polling every 20 ms, failing after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A temporary directory with `config.yaml` and a `keys/` directory.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    /// An empty fixture with a `keys/` directory.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        Self { dir }
    }

    /// The fixture's root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The key directory.
    pub fn keys(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    /// The config file path.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yaml")
    }

    /// Writes a raw key file.
    pub fn write_key(&self, kid: &str, secret: &[u8]) -> &Self {
        std::fs::write(self.keys().join(kid), secret).unwrap();
        self
    }

    /// Writes the config (key source `keys`, raw HS256, unless the YAML says otherwise).
    pub fn write_config(&self, yaml: &str) -> &Self {
        std::fs::write(self.config_path(), yaml).unwrap();
        self
    }

    /// A config with one raw HS256 key source and the given extra YAML appended.
    pub fn basic_config(&self, extra: &str) -> &Self {
        self.write_config(&format!(
            "keys:\n  - dir: keys\n    format: files\n    encoding: raw\n    algorithm: HS256\n{extra}"
        ))
    }
}

/// The path of the binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_jwt-authz")
}

/// A running `jwt-authz serve`.
pub struct JwtAuthz {
    pub child: Child,
    /// The gRPC address as logged (`127.0.0.1:port` or `unix:/path`).
    pub grpc: String,
    pub admin: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

impl JwtAuthz {
    /// Starts the server on ephemeral ports and waits for its "listening" line.
    pub fn start(config: &Path) -> Self {
        Self::start_with(config, &["--grpc-addr", "127.0.0.1:0"], "info")
    }

    /// Starts with explicit extra arguments and log level.
    pub fn start_with(config: &Path, extra: &[&str], level: &str) -> Self {
        Self::spawn(Command::new(binary()), config, extra, level)
    }

    /// Starts from a prepared command (a working directory, say), with `config` as given.
    pub fn spawn_command(cmd: Command, config: &Path) -> Self {
        Self::spawn(cmd, config, &["--grpc-addr", "127.0.0.1:0"], "info")
    }

    /// Starts as the unprivileged user `nobody` (65534), for faults root cannot observe
    /// (unreadable files, per-user inotify limits). Needs root to switch users.
    pub fn start_as_nobody(config: &Path, extra: &[&str]) -> Self {
        assert!(is_root(), "switching to nobody needs root");
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", binary()]);
        Self::spawn(cmd, config, extra, "info")
    }

    fn spawn(mut cmd: Command, config: &Path, extra: &[&str], level: &str) -> Self {
        let mut child = cmd
            .args([
                "--log-format",
                "json",
                "--log-level",
                level,
                "serve",
                "--config",
            ])
            .arg(config)
            .args(["--admin-addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn jwt-authz");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if v["message"] == "listening" {
                        let _ = tx.send((
                            v["grpc"].as_str().unwrap().to_string(),
                            v["admin"].as_str().unwrap().to_string(),
                        ));
                    }
                }
                sink.lock().unwrap().push(line);
            }
        });
        let (grpc, admin) = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(addrs) => addrs,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "jwt-authz did not start; logs:\n{}",
                    logs.lock().unwrap().join("\n")
                );
            }
        };
        Self {
            child,
            grpc,
            admin: admin.parse().unwrap(),
            logs,
        }
    }

    /// Every stderr line so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// A tonic client over TCP.
    pub async fn client(&self) -> AuthorizationClient<Channel> {
        AuthorizationClient::connect(format!("http://{}", self.grpc))
            .await
            .expect("connect")
    }

    /// GET on the admin listener: (status, body).
    pub async fn admin_get(&self, path: &str) -> (u16, String) {
        let r = http::request(self.admin, "GET", path, &[], "")
            .await
            .expect("admin request");
        (r.status, r.body)
    }

    /// The value of one metric sample (exact series text, e.g. `name{a="b"}`), or 0.
    pub async fn metric(&self, series: &str) -> f64 {
        let (_, body) = self.admin_get("/metrics").await;
        metric_value(&body, series)
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit (without blocking the runtime, so clients held by the
    /// test can still answer the server's HTTP/2 GOAWAY/PING during a graceful drain).
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < timeout,
                "jwt-authz did not exit within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// True when the tests run as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false)
}

/// Makes a fixture readable by other users (for servers started as nobody).
pub fn open_up(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for entry in walk(dir) {
        let mode = if entry.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = std::fs::symlink_metadata(e.path()).unwrap();
        if meta.is_dir() {
            out.extend(walk(&e.path()));
        } else if meta.is_file() {
            out.push(e.path());
        }
    }
    out
}

/// The outcome of one Check: `"ok"`, the deny reason, or `"error:<gRPC code>"`.
pub async fn verdict(client: &mut AuthorizationClient<Channel>, token: &str) -> String {
    let auth = format!("Bearer {token}");
    let req = jwt_authz::testing::check_request("GET", "/", "h", &[("authorization", &auth)]);
    match client.check(req).await {
        Ok(resp) => {
            let status = resp.into_inner().status.unwrap_or_default();
            if status.code == 0 {
                "ok".to_string()
            } else {
                status.message
            }
        }
        Err(e) => format!("error:{:?}", e.code()),
    }
}

/// gRPC health status for a service name (1 SERVING, 2 NOT_SERVING).
pub async fn health(addr: &str, service: &str) -> i32 {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = HealthClient::new(channel);
    c.check(HealthCheckRequest {
        service: service.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .status
}

/// Reads one sample from Prometheus text.
pub fn metric_value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

impl Drop for JwtAuthz {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
