//! Shared by the chart tests: Helm itself, rendering, and the checks every rendered pod must pass.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_yaml::Value;

/// The monitoring CRDs the opt-in resources need.
pub const CRDS: [&str; 3] = [
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PodMonitor",
    "monitoring.coreos.com/v1/PrometheusRule",
];

/// The repository.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Helm 3 and Helm 4, as scripts/test.sh installs them.
pub fn helms() -> Vec<PathBuf> {
    let helms: Vec<PathBuf> = ["helm3", "helm4"]
        .iter()
        .map(|h| root().join(".tools").join(h).join("helm"))
        .collect();
    for h in &helms {
        assert!(
            h.exists(),
            "{} missing: run scripts/test.sh, which installs Helm",
            h.display()
        );
    }
    helms
}

/// `helm template` → (documents, NOTES) or the error text.
pub fn render(helm: &Path, chart: &Path, args: &[&str]) -> Result<Vec<Value>, String> {
    let out = Command::new(helm)
        .args([
            "template",
            "rel",
            chart.to_str().unwrap(),
            "--namespace",
            "auth",
        ])
        .args(args)
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8(out.stdout).unwrap();
    Ok(serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect())
}

/// The chart's directory.
pub fn chart() -> PathBuf {
    root().join("charts/jwt-authz")
}

/// A values file of the chart's `ci/` directory.
pub fn values(name: &str) -> String {
    chart().join("ci").join(name).to_str().unwrap().to_string()
}

/// The documents of one kind.
pub fn kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// `args` plus `--api-versions` for the monitoring CRDs.
pub fn with_crds(mut args: Vec<String>) -> Vec<String> {
    for c in CRDS {
        args.push("--api-versions".into());
        args.push(c.into());
    }
    args
}

/// The jwt-authz container of a pod spec.
pub fn container(pod: &Value) -> &Value {
    pod["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "jwt-authz")
        .expect("jwt-authz container")
}

/// The volume of a pod spec named `name`, if it has one.
pub fn volume<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
}

/// Checks a pod spec holding the jwt-authz container.
pub fn assert_hardened(pod: &Value, what: &str) {
    let sec = &pod["securityContext"];
    assert_eq!(sec["runAsNonRoot"], true, "{what}");
    assert_eq!(sec["seccompProfile"]["type"], "RuntimeDefault", "{what}");
    assert_eq!(pod["automountServiceAccountToken"], false, "{what}");
    let c = container(pod);
    let cs = &c["securityContext"];
    assert_eq!(cs["readOnlyRootFilesystem"], true, "{what}");
    assert_eq!(cs["allowPrivilegeEscalation"], false, "{what}");
    assert_eq!(cs["runAsNonRoot"], true, "{what}");
    assert_eq!(cs["capabilities"]["drop"][0], "ALL", "{what}");
    for r in ["requests", "limits"] {
        assert!(
            c["resources"][r]["cpu"].is_string() && c["resources"][r]["memory"].is_string(),
            "{what}: resources.{r}"
        );
    }
    // HTTP probes on the admin port, or exec probes where it is bound to loopback.
    if c["readinessProbe"]["exec"].is_mapping() {
        assert_eq!(
            c["livenessProbe"]["exec"]["command"][3], "127.0.0.1:9090/healthz",
            "{what}"
        );
        assert_eq!(
            c["readinessProbe"]["exec"]["command"][3], "127.0.0.1:9090/readyz",
            "{what}"
        );
    } else {
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz", "{what}");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz", "{what}");
        assert_eq!(c["readinessProbe"]["httpGet"]["port"], "admin", "{what}");
    }
    let mounts = c["volumeMounts"].as_sequence().unwrap();
    assert!(
        mounts.iter().all(|m| m.get("subPath").is_none()),
        "{what}: subPath never updates"
    );
    // Without mounted keys (providers only) there is no key volume.
    let Some(keys) = mounts.iter().find(|m| m["name"] == "jwt-authz-keys") else {
        return;
    };
    assert_eq!(keys["readOnly"], true);
    let volume = volume(pod, "jwt-authz-keys").unwrap();
    assert!(
        volume["secret"]["secretName"].is_string(),
        "{what}: keys come from a Secret volume"
    );
}

/// The ConfigMap's config.yaml must be accepted by jwt-authz's own parser.
pub fn assert_config_valid(docs: &[Value], what: &str) -> jwt_authz::config::Config {
    let cm = kind(docs, "ConfigMap")
        .into_iter()
        .find(|c| c["data"]["config.yaml"].is_string())
        .expect("config ConfigMap");
    let text = cm["data"]["config.yaml"].as_str().unwrap();
    jwt_authz::config::Config::from_yaml(text, Path::new("config.yaml"))
        .unwrap_or_else(|e| panic!("{what}: {e}\n{text}"))
}
