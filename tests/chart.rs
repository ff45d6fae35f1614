//! The Helm chart, rendered by real Helm 3.18 and Helm 4 (installed by scripts/test.sh): every
//! mode renders hardened pods that mount the keys as a directory, and a config jwt-authz accepts.

mod chart_support;

use std::process::Command;

use chart_support::*;

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
            volume(pod, "jwt-authz-keys").is_some(),
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
        let socket = volume(pod, "jwt-authz-socket").unwrap();
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
