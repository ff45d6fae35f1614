//! The Helm chart, rendered by real Helm 3.18 and Helm 4 (installed by scripts/test.sh): every
//! mode renders hardened pods that mount the keys as a directory, and a config jwt-authz accepts.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_yaml::Value;

const CRDS: [&str; 3] = [
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PodMonitor",
    "monitoring.coreos.com/v1/PrometheusRule",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn helms() -> Vec<PathBuf> {
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
fn render(helm: &Path, chart: &Path, args: &[&str]) -> Result<Vec<Value>, String> {
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

fn chart() -> PathBuf {
    root().join("charts/jwt-authz")
}

fn values(name: &str) -> String {
    chart().join("ci").join(name).to_str().unwrap().to_string()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn with_crds(mut args: Vec<String>) -> Vec<String> {
    for c in CRDS {
        args.push("--api-versions".into());
        args.push(c.into());
    }
    args
}

/// Checks a pod spec holding the jwt-authz container.
fn assert_hardened(pod: &Value, what: &str) {
    let sec = &pod["securityContext"];
    assert_eq!(sec["runAsNonRoot"], true, "{what}");
    assert_eq!(sec["seccompProfile"]["type"], "RuntimeDefault", "{what}");
    assert_eq!(pod["automountServiceAccountToken"], false, "{what}");
    let c = pod["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "jwt-authz")
        .expect("jwt-authz container");
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
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "jwt-authz-keys")
        .unwrap();
    assert!(
        volume["secret"]["secretName"].is_string(),
        "{what}: keys come from a Secret volume"
    );
}

/// The ConfigMap's config.yaml must be accepted by jwt-authz's own parser.
fn assert_config_valid(docs: &[Value], what: &str) -> jwt_authz::config::Config {
    let cm = kind(docs, "ConfigMap")
        .into_iter()
        .find(|c| c["data"]["config.yaml"].is_string())
        .expect("config ConfigMap");
    let text = cm["data"]["config.yaml"].as_str().unwrap();
    jwt_authz::config::Config::from_yaml(text, Path::new("config.yaml"))
        .unwrap_or_else(|e| panic!("{what}: {e}\n{text}"))
}

#[test]
#[ignore = "needs Helm; scripts/test.sh runs it"]
fn standalone_renders_hardened_with_a_valid_config() {
    for helm in helms() {
        let docs = render(&helm, &chart(), &["-f", &values("standalone-values.yaml")]).unwrap();
        let deployment = kind(&docs, "Deployment")[0];
        let pod = &deployment["spec"]["template"]["spec"];
        assert_hardened(pod, "standalone");
        assert_eq!(
            pod["topologySpreadConstraints"]
                .as_sequence()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
            0
        );
        assert_eq!(
            kind(&docs, "ServiceAccount")[0]["automountServiceAccountToken"],
            false
        );
        assert_eq!(
            kind(&docs, "Service")[0]["spec"]["ports"][0]["appProtocol"],
            "grpc"
        );
        assert!(
            pod["volumes"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|v| v["name"] == "jwt-authz-keys"),
            "standalone mounts its keys"
        );
        let config = assert_config_valid(&docs, "standalone");
        assert_eq!(config.policy.rules.len(), 3);
        assert_eq!(config.listen.grpc.to_string(), "0.0.0.0:9191");
        assert!(
            kind(&docs, "Secret").is_empty(),
            "an existing Secret is referenced, not created"
        );
        let test_pod = kind(&docs, "Pod")[0];
        assert_eq!(test_pod["metadata"]["annotations"]["helm.sh/hook"], "test");
        assert_eq!(
            test_pod["spec"]["containers"][0]["args"][2],
            "rel-jwt-authz.auth.svc:9191"
        );
    }
}

#[test]
#[ignore = "needs Helm; scripts/test.sh runs it"]
fn every_opt_in_renders_and_monitoring_needs_its_crds() {
    for helm in helms() {
        let args = with_crds(vec!["-f".into(), values("all-features-values.yaml")]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let docs = render(&helm, &chart(), &args).unwrap();
        for k in [
            "PodDisruptionBudget",
            "HorizontalPodAutoscaler",
            "NetworkPolicy",
            "ServiceMonitor",
            "PodMonitor",
            "PrometheusRule",
            "Secret",
        ] {
            assert_eq!(kind(&docs, k).len(), 1, "{k}");
        }
        assert_hardened(
            &kind(&docs, "Deployment")[0]["spec"]["template"]["spec"],
            "all features",
        );
        assert!(
            kind(&docs, "Deployment")[0]["spec"]
                .get("replicas")
                .is_none(),
            "the HPA owns replicas"
        );
        assert!(
            kind(&docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap()
                .contains("@sha256:")
        );
        let np = &kind(&docs, "NetworkPolicy")[0]["spec"];
        assert_eq!(
            np["egress"].as_sequence().unwrap().len(),
            0,
            "no egress at all"
        );
        let rules = &kind(&docs, "PrometheusRule")[0]["spec"]["groups"][0]["rules"];
        assert_eq!(rules.as_sequence().unwrap().len(), 10);
        let dashboards: Vec<_> = kind(&docs, "ConfigMap")
            .into_iter()
            .filter(|c| c["data"]["jwt-authz.json"].is_string())
            .collect();
        let json: serde_json::Value =
            serde_json::from_str(dashboards[0]["data"]["jwt-authz.json"].as_str().unwrap())
                .unwrap();
        assert_eq!(json["uid"], "jwt-authz");
        let config = assert_config_valid(&docs, "all features");
        assert!(config.forward.strip_token);
        // The second round's rule fields pass the schema and reach jwt-authz.
        assert!(config.policy.cors_preflight);
        let tenant = config
            .policy
            .rule("tenant-orders")
            .expect("the tenant rule");
        assert!(matches!(
            tenant.matcher.path,
            jwt_authz::policy::PathMatch::Template(_)
        ));
        assert_eq!(
            (
                tenant.matcher.headers.len(),
                tenant.matcher.peers.len(),
                tenant.matcher.source_ips.len()
            ),
            (1, 1, 2)
        );
        assert!(config.policy.rule("legacy").unwrap().deny);
        // config.tests: a helm test pod runs them against the rendered config, as here.
        assert_eq!(config.tests.len(), 2);
        let pod = kind(&docs, "Pod")
            .into_iter()
            .find(|p| p["metadata"]["name"] == "rel-jwt-authz-test-decisions")
            .expect("the decision-test hook");
        assert_eq!(pod["metadata"]["annotations"]["helm.sh/hook"], "test");
        let c = &pod["spec"]["containers"][0];
        assert_eq!(c["args"][0], "test");
        assert_eq!(c["args"][2], "/etc/jwt-authz/config/config.yaml");
        assert_eq!(c["volumeMounts"][0]["mountPath"], "/etc/jwt-authz/config");
        let cm = kind(&docs, "ConfigMap")
            .into_iter()
            .find(|c| c["data"]["config.yaml"].is_string())
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yaml");
        std::fs::write(&file, cm["data"]["config.yaml"].as_str().unwrap()).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_jwt-authz"))
            .args(["test", "--config"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        // Without the CRDs, the monitoring resources are skipped, not rendered into a failure.
        let docs = render(
            &helm,
            &chart(),
            &["-f", &values("all-features-values.yaml")],
        )
        .unwrap();
        for k in ["ServiceMonitor", "PodMonitor", "PrometheusRule"] {
            assert!(kind(&docs, k).is_empty(), "{k} without its CRD");
        }
    }
}

#[test]
#[ignore = "needs Helm; scripts/test.sh runs it"]
fn sidecar_mode_and_a_consumer_chart() {
    for helm in helms() {
        let args = with_crds(vec!["-f".into(), values("sidecar-values.yaml")]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let docs = render(&helm, &chart(), &args).unwrap();
        for k in ["Deployment", "Service", "ServiceAccount", "Pod"] {
            assert!(kind(&docs, k).is_empty(), "sidecar mode renders no {k}");
        }
        assert_eq!(kind(&docs, "PodMonitor").len(), 1);
        let config = assert_config_valid(&docs, "sidecar");
        assert_eq!(
            config.listen.grpc.to_string(),
            "unix:/run/jwt-authz/authz.sock"
        );

        // An application chart that includes the named templates, as the README documents.
        let consumer = root().join("tests/fixtures/sidecar-consumer");
        let build = Command::new(&helm)
            .args(["dependency", "build"])
            .arg(&consumer)
            .output()
            .unwrap();
        assert!(
            build.status.success(),
            "{}",
            String::from_utf8_lossy(&build.stderr)
        );
        let docs = render(&helm, &consumer, &[]).unwrap();
        let pod = &kind(&docs, "Deployment")[0]["spec"]["template"]["spec"];
        assert_hardened(pod, "consumer");
        let socket = pod["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "jwt-authz-socket")
            .unwrap();
        assert_eq!(socket["emptyDir"]["medium"], "Memory");
        let app = &pod["containers"][0];
        assert_eq!(
            app["volumeMounts"][0]["mountPath"], "/run/jwt-authz",
            "the app shares the socket directory"
        );
        assert_config_valid(&docs, "consumer");
    }
}

#[test]
#[ignore = "needs Helm; scripts/test.sh runs it"]
fn misconfigurations_fail_with_a_clear_message() {
    for helm in helms() {
        let cases: [(&[&str], &str); 7] = [
            (&[], "set keys.existingSecret"),
            (
                &["--set", "providers[0].name=Corp,providers[0].issuer=https://i,providers[0].discovery=true"],
                "providers",
            ),
            (
                &["--set", "providers[0].name=corp,providers[0].issuer=https://i"],
                "providers",
            ),
            (
                &["--set", "keys.create=true"],
                "keys.create=true needs keys.values",
            ),
            (
                &[
                    "--set",
                    "keys.existingSecret=k",
                    "--set",
                    "mode=sidecar",
                    "--set",
                    "metrics.serviceMonitor.enabled=true",
                ],
                "metrics.serviceMonitor needs mode: standalone",
            ),
            (
                &[
                    "--set",
                    "keys.existingSecret=k",
                    "--set",
                    "config.listen.grpc=x",
                ],
                "listen",
            ),
            (
                &[
                    "--set",
                    "keys.existingSecret=k",
                    "--set",
                    "keys.algorithm=none",
                ],
                "HS256",
            ),
        ];
        for (args, expected) in cases {
            let err = render(&helm, &chart(), args).expect_err(expected);
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }
}

#[test]
#[ignore = "needs Helm; scripts/test.sh runs it"]
fn the_defaults_admit_only_the_gateway_the_mesh_and_monitoring() {
    for helm in helms() {
        let docs = render(&helm, &chart(), &["--set", "keys.existingSecret=k"]).unwrap();
        let np = kind(&docs, "NetworkPolicy");
        assert_eq!(np.len(), 1, "a NetworkPolicy by default");
        let ingress = np[0]["spec"]["ingress"].as_sequence().unwrap();
        let grpc = &ingress[0];
        assert_eq!(grpc["ports"][0]["port"], "grpc");
        let namespaces: Vec<String> = grpc["from"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|f| serde_yaml::to_string(&f["namespaceSelector"]["matchLabels"]).unwrap())
            .collect();
        assert!(namespaces[0].contains("istio-system"), "{namespaces:?}");
        assert!(
            namespaces[1].contains("istio-injection: enabled"),
            "{namespaces:?}"
        );
        assert!(serde_yaml::to_string(&ingress[1])
            .unwrap()
            .contains("monitoring"));
        assert_eq!(np[0]["spec"]["egress"].as_sequence().unwrap().len(), 0);
        // Two replicas by default: a PodDisruptionBudget; one replica: none.
        assert_eq!(kind(&docs, "PodDisruptionBudget").len(), 1);
        let one = render(
            &helm,
            &chart(),
            &["--set", "keys.existingSecret=k", "--set", "replicaCount=1"],
        )
        .unwrap();
        assert!(kind(&one, "PodDisruptionBudget").is_empty());
        // A policy that would admit nobody is refused with a message saying what to do.
        let err = render(
            &helm,
            &chart(),
            &[
                "--set",
                "keys.existingSecret=k",
                "--set-json",
                "networkPolicy.grpcFrom=[]",
            ],
        )
        .unwrap_err();
        assert!(
            err.contains("networkPolicy.grpcFrom is empty")
                && err.contains("networkPolicy.enabled: false"),
            "{err}"
        );
    }
}

#[test]
#[ignore = "needs Helm; scripts/test.sh runs it"]
fn a_sidecar_keeps_its_admin_listener_on_loopback_unless_scraped() {
    for helm in helms() {
        let base = ["--set", "keys.existingSecret=k", "--set", "mode=sidecar"];
        let docs = render(&helm, &chart(), &base).unwrap();
        let config = assert_config_valid(&docs, "sidecar");
        assert_eq!(config.listen.admin.to_string(), "127.0.0.1:9090");
        let consumer = root().join("tests/fixtures/sidecar-consumer");
        let docs = render(
            &helm,
            &consumer,
            &["--set", "jwt-authz.metrics.podMonitor.enabled=false"],
        )
        .unwrap();
        let pod = &kind(&docs, "Deployment")[0]["spec"]["template"]["spec"];
        let container = pod["containers"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "jwt-authz")
            .unwrap();
        let probe = &container["readinessProbe"]["exec"]["command"];
        assert_eq!(probe[1], "probe", "{container:?}");
        assert_eq!(probe[3], "127.0.0.1:9090/readyz");
        // Scraped by Prometheus: on the pod IP, with HTTP probes.
        let scraped: Vec<&str> = base
            .iter()
            .copied()
            .chain(["--set", "metrics.podMonitor.enabled=true"])
            .collect();
        let docs = render(&helm, &chart(), &scraped).unwrap();
        let config = assert_config_valid(&docs, "scraped sidecar");
        assert_eq!(config.listen.admin.to_string(), "0.0.0.0:9090");
    }
}

#[test]
#[ignore = "needs Helm; scripts/test.sh runs it"]
fn public_keys_from_a_configmap_load_as_the_deploy_examples_show() {
    for (values, configmap, kids) in [
        ("pem-values.yaml", "pem-configmap.yaml", vec!["idp-2026-11"]),
        (
            "jwks-values.yaml",
            "jwks-configmap.yaml",
            vec!["entra-2026-11", "keycloak-es256"],
        ),
    ] {
        let values = root().join("deploy/keys").join(values);
        for helm in helms() {
            let args = ["-f", values.to_str().unwrap()];
            let docs = render(&helm, &chart(), &args).unwrap();
            let pod = &kind(&docs, "Deployment")[0]["spec"]["template"]["spec"];
            let volume = pod["volumes"]
                .as_sequence()
                .unwrap()
                .iter()
                .find(|v| v["name"] == "jwt-authz-keys")
                .unwrap();
            assert!(volume["configMap"]["name"].is_string(), "{volume:?}");
            assert!(kind(&docs, "Secret").is_empty());
            // The rendered config, run against the example ConfigMap's files.
            let cm = kind(&docs, "ConfigMap")
                .into_iter()
                .find(|c| c["data"]["config.yaml"].is_string())
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let keys = dir.path().join("keys");
            std::fs::create_dir(&keys).unwrap();
            let example: Value = serde_yaml::from_str(
                &std::fs::read_to_string(root().join("deploy/keys").join(configmap)).unwrap(),
            )
            .unwrap();
            for (name, text) in example["data"].as_mapping().unwrap() {
                std::fs::write(keys.join(name.as_str().unwrap()), text.as_str().unwrap()).unwrap();
            }
            let config = cm["data"]["config.yaml"]
                .as_str()
                .unwrap()
                .replace("/etc/jwt-authz/keys", keys.to_str().unwrap());
            std::fs::write(dir.path().join("config.yaml"), config).unwrap();
            let out = Command::new(env!("CARGO_BIN_EXE_jwt-authz"))
                .args(["validate", "--config"])
                .arg(dir.path().join("config.yaml"))
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            for kid in &kids {
                assert!(text.contains(kid), "{kid}: {text}");
            }
        }
    }
}

#[test]
#[ignore = "needs Helm; scripts/test.sh runs it"]
fn providers_get_the_ca_bundle_a_cache_and_egress_to_the_idp_only() {
    for helm in helms() {
        let docs = render(&helm, &chart(), &["-f", &values("providers-values.yaml")]).unwrap();
        let pod = &kind(&docs, "Deployment")[0]["spec"]["template"]["spec"];
        assert_hardened(pod, "providers");
        let config = assert_config_valid(&docs, "providers");
        let providers = &config.jwt.providers;
        assert_eq!(
            providers.len(),
            2,
            "no top-level keys: no implicit provider"
        );
        assert!(config.keys.is_empty());
        for p in providers {
            let remote = p.remote.as_ref().unwrap();
            assert_eq!(
                remote.ca_file.as_deref(),
                Some(Path::new("/etc/jwt-authz/provider-ca/ca.crt")),
                "{}",
                p.name
            );
            assert_eq!(
                remote.cache_dir.as_deref(),
                Some(Path::new("/var/cache/jwt-authz"))
            );
        }
        assert_eq!(
            providers[1].remote.as_ref().unwrap().unknown_kid_wait,
            std::time::Duration::from_millis(200),
            "a provider's own remote settings are kept"
        );
        let volumes = pod["volumes"].as_sequence().unwrap();
        let volume = |name: &str| volumes.iter().find(|v| v["name"] == name).cloned();
        assert!(volume("jwt-authz-keys").is_none());
        assert_eq!(
            volume("jwt-authz-provider-ca").unwrap()["configMap"]["name"],
            "idp-ca"
        );
        assert_eq!(
            volume("jwt-authz-jwks-cache").unwrap()["emptyDir"]["sizeLimit"],
            "8Mi"
        );
        let policy = &kind(&docs, "NetworkPolicy")[0]["spec"];
        let egress = policy["egress"].as_sequence().unwrap();
        assert_eq!(egress.len(), 2, "DNS and the providers only");
        assert_eq!(egress[0]["ports"][0]["port"], 53);
        assert_eq!(egress[1]["ports"][0]["port"], 443);
        // Without providers, still no egress at all.
        let plain = render(&helm, &chart(), &["-f", &values("standalone-values.yaml")]).unwrap();
        let policy = &kind(&plain, "NetworkPolicy")[0]["spec"];
        assert!(policy["egress"].as_sequence().unwrap().is_empty());
    }
}
