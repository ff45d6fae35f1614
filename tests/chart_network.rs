//! The chart's network exposure, rendered by real Helm 3.18 and Helm 4: a NetworkPolicy by
//! default that admits only the gateway, the mesh and monitoring (and egress to an identity
//! provider only when one is fetched), a sidecar's admin listener on loopback unless scraped,
//! and public keys from a ConfigMap as the deploy examples show.

mod chart_support;

use std::path::Path;
use std::process::Command;

use chart_support::*;
use serde_yaml::Value;

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
        let container = container(pod);
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
            let volume = volume(pod, "jwt-authz-keys").unwrap();
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
        assert!(volume(pod, "jwt-authz-keys").is_none());
        assert_eq!(
            volume(pod, "jwt-authz-provider-ca").unwrap()["configMap"]["name"],
            "idp-ca"
        );
        assert_eq!(
            volume(pod, "jwt-authz-jwks-cache").unwrap()["emptyDir"]["sizeLimit"],
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
