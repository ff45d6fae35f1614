// Validates custom resources (Prometheus Operator and Istio kinds) in multi-document YAML files
// with the @kubernetes-models packages, which kubernetes-validate only warns about.
// Usage: node scripts/validate-crds.mjs FILE...   (NODE_PATH must reach the packages)
// Core Kubernetes kinds are skipped (kubernetes-validate checks them); any other kind is an error,
// so nothing passes unvalidated. Exit 1 on the first invalid resource, naming it and the field.
import { readFileSync } from "node:fs";

const root = process.env.NODE_MODULES ?? "node_modules";
const load = async (pkg, path) => (await import(`${root}/@kubernetes-models/${pkg}/${path}.js`));
const { parseAllDocuments } = await import(`${root}/yaml/dist/index.js`);

const models = {
  "monitoring.coreos.com/v1/ServiceMonitor": ["prometheus-operator", "monitoring.coreos.com/v1/ServiceMonitor"],
  "monitoring.coreos.com/v1/PodMonitor": ["prometheus-operator", "monitoring.coreos.com/v1/PodMonitor"],
  "monitoring.coreos.com/v1/PrometheusRule": ["prometheus-operator", "monitoring.coreos.com/v1/PrometheusRule"],
  "security.istio.io/v1/AuthorizationPolicy": ["istio", "security.istio.io/v1/AuthorizationPolicy"],
  "security.istio.io/v1/RequestAuthentication": ["istio", "security.istio.io/v1/RequestAuthentication"],
  "security.istio.io/v1/PeerAuthentication": ["istio", "security.istio.io/v1/PeerAuthentication"],
  "install.istio.io/v1alpha1/IstioOperator": ["istio", "install.istio.io/v1alpha1/IstioOperator"],
};
const core = /^(v1|apps\/v1|batch\/v1|policy\/v1|autoscaling\/v2|networking\.k8s\.io\/v1|rbac\.authorization\.k8s\.io\/v1)$/;

let validated = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) {
      console.error(`${file}: YAML error: ${doc.errors[0].message}`);
      process.exit(1);
    }
    const obj = doc.toJS();
    if (!obj) continue;
    const key = `${obj.apiVersion}/${obj.kind}`;
    const name = `${file}: ${obj.kind}/${obj.metadata?.name}`;
    if (core.test(obj.apiVersion ?? "")) continue;
    const model = models[key];
    if (!model) {
      console.error(`${name}: no validator for ${key}`);
      process.exit(1);
    }
    const mod = await load(model[0], model[1]);
    const Model = Object.values(mod).find((v) => typeof v === "function" && v.prototype?.validate);
    try {
      new Model(obj).validate();
    } catch (e) {
      console.error(`${name}: invalid: ${e.message}`);
      process.exit(1);
    }
    console.log(`ok: ${name}`);
    validated++;
  }
}
console.log(`${validated} custom resources valid`);
