//! A real Prometheus (Debian package) scrapes jwt-authz on loopback and evaluates the published
//! alert rules; its query API must show the traffic sent.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jwt_authz::testing::check_request;
use serde_json::Value;
use support::*;

struct Prometheus {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    async fn start(target: SocketAddr) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rules =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/monitoring/alerts.yaml");
        let config = format!(
            "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\nrule_files: [{rules:?}]\nscrape_configs:\n  - job_name: jwt-authz\n    static_configs: [{{ targets: [\"{target}\"] }}]\n"
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let bin = std::env::var("PROMETHEUS_BIN").unwrap_or_else(|_| "prometheus".into());
        let child = Command::new(&bin)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin}: {e} (run scripts/test.sh, which installs it)"));
        let p = Self {
            child,
            addr,
            _dir: dir,
        };
        eventually("Prometheus ready", Duration::from_secs(30), || async {
            http::request(p.addr, "GET", "/-/ready", &[], "")
                .await
                .ok()
                .filter(|r| r.status == 200)
        })
        .await;
        p
    }

    async fn api(&self, path: &str) -> Value {
        let r = http::request(self.addr, "GET", path, &[], "")
            .await
            .unwrap();
        serde_json::from_str(&r.body).unwrap_or(Value::Null)
    }

    /// The single value of an instant query, if there is one.
    async fn query(&self, promql: &str) -> Option<f64> {
        let encoded: String = promql
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let v = self.api(&format!("/api/v1/query?query={encoded}")).await;
        v["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|s| s.parse().ok())
    }
}

#[tokio::test]
#[ignore = "needs the Debian prometheus package; scripts/test.sh runs it"]
async fn prometheus_scrapes_the_traffic_and_loads_the_alerts() {
    let f = Fixture::new();
    f.write_key("k1", KEY_A).basic_config("");
    let server = JwtAuthz::start(&f.config_path());
    let prometheus = Prometheus::start(server.admin).await;
    let mut client = server.client().await;
    let auth = format!("Bearer {}", mint("k1", KEY_A, claims("alice")));
    for _ in 0..7 {
        client
            .check(check_request("GET", "/", "h", &[("authorization", &auth)]))
            .await
            .unwrap();
    }
    for _ in 0..3 {
        client
            .check(check_request("GET", "/", "h", &[]))
            .await
            .unwrap();
    }
    eventually("Prometheus to see the traffic", Duration::from_secs(30), || async {
        let allowed = prometheus.query(r#"sum(jwt_authz_checks_total{job="jwt-authz",decision="allow"})"#).await;
        let denied = prometheus.query(r#"sum(jwt_authz_checks_total{job="jwt-authz",decision="deny",reason="missing_token"})"#).await;
        (allowed == Some(7.0) && denied == Some(3.0)).then_some(())
    })
    .await;
    assert_eq!(prometheus.query(r#"up{job="jwt-authz"}"#).await, Some(1.0));
    assert_eq!(
        prometheus
            .query(r#"sum(jwt_authz_key_verifications_total{kid="k1"})"#)
            .await,
        Some(7.0)
    );
    assert_eq!(prometheus.query("sum(jwt_authz_keys)").await, Some(1.0));

    // The published rules load and evaluate cleanly against real series.
    let rules = eventually("every rule evaluated", Duration::from_secs(30), || async {
        let v = prometheus.api("/api/v1/rules").await;
        let rules = v["data"]["groups"][0]["rules"].as_array()?.clone();
        rules
            .iter()
            .all(|r| r["health"] == "ok" && r["lastEvaluation"] != "0001-01-01T00:00:00Z")
            .then_some(rules)
    })
    .await;
    assert_eq!(rules.len(), 10);
    assert!(
        rules.iter().all(|r| r["state"] == "inactive"),
        "nothing fires on a healthy server: {rules:#?}"
    );
}
